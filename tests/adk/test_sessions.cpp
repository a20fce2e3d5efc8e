// Tests for adk::State, adk::Session and adk::InMemorySessionService.
#include <gtest/gtest.h>

#include "adk/session.hpp"
#include "session_test_support.hpp"
#include "adk/state.hpp"
#include "aio/run.hpp"

using adk::Event;
using adk::Json;
using adk::Session;

namespace {

using session_test::kv;
using session_test::state_event;

}  // namespace

// ASSERT_* returns from the function: in a coroutine, co_return instead.
#define CO_ASSERT_EQ(a, b)                       \
    if ((a) != (b)) {                            \
        ADD_FAILURE() << #a " != " #b;           \
        co_return;                               \
    }

TEST(AdkState, ReadsThroughDeltaAndRecordsWrites) {
    Json value = {{"a", 1}, {"b", 2}};
    Json delta = Json::object();
    adk::State state(value, delta);
    EXPECT_EQ(state.get("a"), Json(1));
    EXPECT_FALSE(state.get("zz").has_value());
    state.set("a", 10);
    state.set("user:name", "Ann");
    EXPECT_EQ(state.get("a"), Json(10));
    EXPECT_EQ(value["a"], 1);  // the session's state is untouched
    EXPECT_EQ(delta, (Json{{"a", 10}, {"user:name", "Ann"}}));
    EXPECT_EQ(state.to_dict(), (Json{{"a", 10}, {"b", 2}, {"user:name", "Ann"}}));
    EXPECT_EQ(state.get("missing", "dflt"), "dflt");
}

TEST(AdkSessions, CreateGetListDelete) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Json initial = Json::parse(R"({"k":"v"})");
        Session a = co_await service.create_session("app", "u1", initial, "s1");
        EXPECT_EQ(a.id, "s1");
        EXPECT_EQ(a.state["k"], "v");
        Session b = co_await service.create_session("app", "u1");
        EXPECT_EQ(b.id.size(), 36u);  // a uuid4
        bool exists = false;
        try {
            co_await service.create_session("app", "u1", Json::object(), "s1");
        } catch (const adk::SessionExistsError&) {
            exists = true;
        }
        EXPECT_TRUE(exists);
        adk::ListSessionsResponse list = co_await service.list_sessions("app", "u1");
        EXPECT_EQ(list.sessions.size(), 2u);
        adk::ListSessionsResponse other = co_await service.list_sessions("app", "u2");
        EXPECT_TRUE(other.sessions.empty());
        co_await service.delete_session("app", "u1", "s1");
        std::optional<Session> gone = co_await service.get_session("app", "u1", "s1");
        EXPECT_FALSE(gone.has_value());
        std::optional<Session> kept = co_await service.get_session("app", "u1", b.id);
        EXPECT_TRUE(kept.has_value());
        co_await service.delete_session("app", "u1", "nope");  // no error
    });
}

TEST(AdkSessions, AppendAppliesStateByScopeAndDropsTemp) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session s1 = co_await service.create_session("app", "u1", Json::object(), "s1");
        Session s2 = co_await service.create_session("app", "u1", Json::object(), "s2");
        Session other_user = co_await service.create_session("app", "u2", Json::object(), "s3");
        // Json::parse, not a braced list: g++ 12 rejects string-literal
        // initializer lists inside coroutines ("array used as initializer").
        Event e = state_event(Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann","temp:scratch":42})"));
        Event appended = co_await service.append_event(s1, e);
        EXPECT_EQ(appended.id, e.id);
        // the caller's copy sees everything, temp: included
        EXPECT_EQ(s1.state["temp:scratch"], 42);
        EXPECT_EQ(s1.state["app:theme"], "dark");
        EXPECT_EQ(s1.events.size(), 1u);
        EXPECT_EQ(s1.version, 1u);
        std::optional<Session> reread = co_await service.get_session("app", "u1", "s1");
        EXPECT_EQ(reread->state, Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann"})"));
        CO_ASSERT_EQ(reread->events.size(), 1u)
        EXPECT_FALSE(reread->events[0].actions.state_delta.contains("temp:scratch"));  // never persisted
        std::optional<Session> sibling = co_await service.get_session("app", "u1", "s2");
        EXPECT_EQ(sibling->state, Json::parse(R"({"app:theme":"dark","user:name":"Ann"})"));
        std::optional<Session> stranger = co_await service.get_session("app", "u2", "s3");
        EXPECT_EQ(stranger->state, Json::parse(R"({"app:theme":"dark"})"));
        (void)s2;
        (void)other_user;
    });
}

TEST(AdkSessions, StaleCopyIsRejected) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session writer_a = co_await service.create_session("app", "u", Json::object(), "s");
        std::optional<Session> writer_b = co_await service.get_session("app", "u", "s");
        co_await service.append_event(writer_a, kv("x", 1));
        std::string message;
        try {
            co_await service.append_event(*writer_b, kv("x", 2));
        } catch (const adk::StaleSessionError& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("stale"), std::string::npos) << message;
        EXPECT_NE(message.find("version 0"), std::string::npos) << message;
        std::optional<Session> now = co_await service.get_session("app", "u", "s");
        EXPECT_EQ(now->state["x"], 1);
        EXPECT_EQ(now->events.size(), 1u);
        // a fresh copy can append again
        co_await service.append_event(*now, kv("x", 3));
        EXPECT_EQ(now->version, 2u);
    });
}

TEST(AdkSessions, PartialEventsAreNotPersisted) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        Event partial = kv("x", 1);
        partial.partial = true;
        co_await service.append_event(s, partial);
        EXPECT_TRUE(s.events.empty());
        EXPECT_EQ(s.version, 0u);
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        EXPECT_TRUE(reread->events.empty());
        EXPECT_FALSE(reread->state.contains("x"));
    });
}

TEST(AdkSessions, AppendToUnknownSessionFails) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session ghost;
        ghost.id = "ghost";
        ghost.app_name = "app";
        ghost.user_id = "u";
        bool not_found = false;
        try {
            co_await service.append_event(ghost, kv("x", 1));
        } catch (const adk::SessionNotFoundError&) {
            not_found = true;
        }
        EXPECT_TRUE(not_found);
    });
}

TEST(AdkSessions, GetSessionConfigFiltersEvents) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        for (int i = 1; i <= 5; ++i) co_await service.append_event(s, kv("i", i, 100.0 + i));
        adk::GetSessionConfig recent;
        recent.num_recent_events = 2;
        std::optional<Session> last_two = co_await service.get_session("app", "u", "s", recent);
        CO_ASSERT_EQ(last_two->events.size(), 2u)
        EXPECT_EQ(last_two->events[0].actions.state_delta["i"], 4);
        adk::GetSessionConfig after;
        after.after_timestamp = 103.0;
        std::optional<Session> late = co_await service.get_session("app", "u", "s", after);
        CO_ASSERT_EQ(late->events.size(), 3u)
        EXPECT_EQ(late->events[0].actions.state_delta["i"], 3);
        EXPECT_DOUBLE_EQ(late->last_update_time, 105.0);
    });
}

TEST(AdkSessions, SessionJsonIsAdks) {
    Session s;
    s.id = "s1";
    s.app_name = "app";
    s.user_id = "u";
    s.state = {{"k", 1}};
    s.last_update_time = 12.5;
    s.events.push_back(Event::make("e-1", "user"));
    Json j = s;
    EXPECT_EQ(j["appName"], "app");
    EXPECT_EQ(j["userId"], "u");
    EXPECT_EQ(j["lastUpdateTime"], 12.5);
    EXPECT_EQ(j["events"].size(), 1u);
    Session back = Json::parse(R"({"id":"s1","app_name":"app","user_id":"u","state":{"k":1},"events":[],"last_update_time":1.0})")
                       .get<Session>();
    EXPECT_EQ(back.app_name, "app");
    EXPECT_EQ(back.user_id, "u");
    EXPECT_EQ(back.state["k"], 1);
}

// ---- the shared rules (adk/session.hpp), used by every backend --------------------

TEST(AdkSessionRules, SplitStateDeltaByScope) {
    adk::StateDeltaScopes scopes =
        adk::split_state_delta(Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann","temp:t":2,"apple":3})"));
    EXPECT_EQ(scopes.app, Json::parse(R"({"theme":"dark"})"));
    EXPECT_EQ(scopes.user, Json::parse(R"({"name":"Ann"})"));
    EXPECT_EQ(scopes.session, Json::parse(R"({"k":1,"apple":3})"));  // "apple" is not "app:"
    adk::StateDeltaScopes none = adk::split_state_delta(Json());     // null: nothing
    EXPECT_TRUE(none.app.empty() && none.user.empty() && none.session.empty());
}

TEST(AdkSessionRules, UpdateReplacesTopLevelValuesOnly) {
    Json state = Json::parse(R"({"a":{"x":1,"y":2},"b":1})");
    adk::update_state(state, Json::parse(R"({"a":{"x":5},"c":null})"));
    EXPECT_EQ(state, Json::parse(R"({"a":{"x":5},"b":1,"c":null})"));  // ADK's state[key] = value
}

TEST(AdkSessionRules, MergeStatePutsThePrefixesBack) {
    Json merged = adk::merge_state(Json::parse(R"({"k":1})"), Json::parse(R"({"theme":"dark"})"),
                                   Json::parse(R"({"name":"Ann"})"));
    EXPECT_EQ(merged, Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann"})"));
}

TEST(AdkSessionRules, StripTempStateKeepsTheRest) {
    Event e = state_event(Json::parse(R"({"temp:a":1,"b":2,"temp:c":3})"));
    adk::strip_temp_state(e);
    EXPECT_EQ(e.actions.state_delta, Json::parse(R"({"b":2})"));
}

TEST(AdkSessionRules, VersionCheckNamesBothVersions) {
    Session copy;
    copy.id = "s";
    copy.app_name = "app";
    copy.user_id = "u";
    copy.version = 3;
    EXPECT_NO_THROW(adk::check_session_version(copy, 3));
    try {
        adk::check_session_version(copy, 5);
        ADD_FAILURE() << "no StaleSessionError";
    } catch (const adk::StaleSessionError& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("version 3"), std::string::npos) << m;
        EXPECT_NE(m.find("version 5"), std::string::npos) << m;
        EXPECT_NE(m.find("'s'"), std::string::npos) << m;
    }
}

TEST(AdkSessionRules, ApplyAppendedEventUpdatesTheCopy) {
    Session copy;
    copy.state = Json::parse(R"({"a":1})");
    Event e = state_event(Json::parse(R"({"a":2,"temp:t":1})"), 42.0);
    adk::apply_appended_event(copy, e, 7);
    EXPECT_EQ(copy.state, Json::parse(R"({"a":2,"temp:t":1})"));
    EXPECT_EQ(copy.events.size(), 1u);
    EXPECT_EQ(copy.version, 7u);
    EXPECT_DOUBLE_EQ(copy.last_update_time, 42.0);
}

TEST(AdkSessionRules, FilterEventsTimestampThenCount) {
    adk::EventList events;
    for (int i = 1; i <= 5; ++i) events.push_back(kv("i", i, 100.0 + i));
    adk::GetSessionConfig config;
    config.after_timestamp = 102.0;
    config.num_recent_events = 3;
    adk::filter_events(events, config);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].actions.state_delta["i"], 3);
    adk::GetSessionConfig none;
    none.num_recent_events = 0;
    adk::filter_events(events, none);
    EXPECT_TRUE(events.empty());
}

TEST(AdkSessions, CreateSessionSplitsTheInitialStateByScope) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Json initial = Json::parse(R"({"own":1,"app:theme":"light","user:lang":"fr","temp:gone":1})");
        Session s = co_await service.create_session("app", "u", initial, "s");
        EXPECT_EQ(s.state, Json::parse(R"({"own":1,"app:theme":"light","user:lang":"fr"})"));
        Session other = co_await service.create_session("app", "u", Json::object(), "t");
        EXPECT_EQ(other.state, Json::parse(R"({"app:theme":"light","user:lang":"fr"})"));
    });
}

TEST(AdkSessions, AppendsThroughOneCopyFollowEachOther) {
    aio::run([]() -> aio::Coro<> {
        adk::InMemorySessionService service;
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        for (int k = 1; k <= 3; ++k) co_await service.append_event(s, kv("k", k));
        EXPECT_EQ(s.version, 3u);
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        EXPECT_EQ(reread->version, 3u);
        EXPECT_EQ(reread->state["k"], 3);
        EXPECT_DOUBLE_EQ(reread->last_update_time, s.last_update_time);
    });
}
