// Tests for adk::Boxed<T> and adk::FlatMap<K, V> (adk/boxed.hpp), and the
// sizes and JSON of the event types built on them (adk/event.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "adk/boxed.hpp"
#include "adk/event.hpp"
#include "adk/session.hpp"

using adk::Boxed;
using adk::FlatMap;
using adk::Json;

namespace {

/// Counts live instances, to show copies are deep and nothing leaks.
struct Counted {
    static inline int live = 0;
    int v = 0;
    explicit Counted(int x) : v(x) { ++live; }
    Counted(const Counted& o) : v(o.v) { ++live; }
    Counted& operator=(const Counted& o) = default;
    ~Counted() { --live; }
    bool operator==(const Counted& o) const { return v == o.v; }
};

}  // namespace

TEST(AdkBoxed, IsOnePointerWhateverTheValue) {
    static_assert(sizeof(Boxed<std::string>) == sizeof(void*));
    static_assert(sizeof(Boxed<Json>) == sizeof(void*));
    static_assert(sizeof(Boxed<adk::FunctionCall>) == sizeof(void*));
    static_assert(sizeof(FlatMap<std::string, int>) == sizeof(void*));
    static_assert(std::is_nothrow_move_constructible_v<Boxed<std::string>>);
    static_assert(std::is_nothrow_move_assignable_v<Boxed<std::string>>);
    SUCCEED();
}

TEST(AdkBoxed, BehavesAsAnOptional) {
    Boxed<std::string> b;
    EXPECT_FALSE(b);
    EXPECT_FALSE(b.has_value());
    EXPECT_TRUE(b == std::nullopt);
    EXPECT_EQ(b.value_or("none"), "none");
    EXPECT_THROW((void)b.value(), std::bad_optional_access);

    b = "hello";
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, "hello");
    EXPECT_EQ(b->size(), 5u);
    EXPECT_EQ(b.value(), "hello");
    EXPECT_EQ(b.value_or("none"), "hello");
    EXPECT_TRUE(b == "hello");
    EXPECT_TRUE(b != "world");
    EXPECT_TRUE(b == std::optional<std::string>("hello"));
    EXPECT_FALSE(b == std::optional<std::string>());
    EXPECT_FALSE(b == std::nullopt);

    b.emplace(3, 'x');
    EXPECT_EQ(*b, "xxx");
    b.reset();
    EXPECT_FALSE(b);
    b = std::string("again");
    b = std::nullopt;
    EXPECT_FALSE(b);
}

TEST(AdkBoxed, CopiesDeeplyAndMovesThePointer) {
    Counted::live = 0;
    {
        Boxed<Counted> a(Counted(1));
        EXPECT_EQ(Counted::live, 1);
        Boxed<Counted> b = a;  // deep copy
        EXPECT_EQ(Counted::live, 2);
        b->v = 2;
        EXPECT_EQ(a->v, 1);
        EXPECT_FALSE(a == b);

        const Counted* before = &*a;
        Boxed<Counted> c = std::move(a);  // steals: no new instance
        EXPECT_EQ(Counted::live, 2);
        EXPECT_EQ(&*c, before);
        EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty

        c = b;  // copy-assign into an engaged box reuses it
        EXPECT_EQ(Counted::live, 2);
        EXPECT_EQ(c->v, 2);
        const Boxed<Counted>& alias = c;
        c = alias;  // self-assignment keeps the value
        EXPECT_EQ(c->v, 2);
        b = Boxed<Counted>();  // assigning empty frees
        EXPECT_EQ(Counted::live, 1);
        swap(b, c);
        EXPECT_TRUE(b);
        EXPECT_FALSE(c);
    }
    EXPECT_EQ(Counted::live, 0);
}

TEST(AdkBoxed, ConvertsToAndFromStdOptional) {
    std::optional<std::string> none;
    std::optional<std::string> some = "x";
    Boxed<std::string> b = some;
    EXPECT_EQ(*b, "x");
    b = none;
    EXPECT_FALSE(b);
    b = std::optional<std::string>("y");
    std::optional<std::string> back = b;
    EXPECT_EQ(back, "y");
    EXPECT_EQ(b, back);
    Boxed<std::string> empty;
    std::optional<std::string> back_empty = empty;
    EXPECT_FALSE(back_empty);
}

TEST(AdkBoxed, ComparesAsStdOptional) {
    Boxed<Json> a = Json{{"k", 1}};
    Boxed<Json> b = Json{{"k", 1}};
    Boxed<Json> none;
    EXPECT_EQ(a, b);
    EXPECT_NE(a, none);
    EXPECT_EQ(none, Boxed<Json>());
    b->at("k") = 2;
    EXPECT_NE(a, b);
}

TEST(AdkFlatMap, KeepsKeysSortedAndAllocatesOnlyWhenSet) {
    FlatMap<std::string, int> m;
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(m.begin(), m.end());
    EXPECT_EQ(m.size(), 0u);
    EXPECT_FALSE(m.contains("a"));
    EXPECT_THROW((void)m.at("a"), std::out_of_range);

    m["b"] = 2;
    m["a"] = 1;
    m["c"] = 3;
    m["b"] = 20;  // replaces
    ASSERT_EQ(m.size(), 3u);
    std::vector<std::pair<std::string, int>> seen(m.begin(), m.end());
    EXPECT_EQ(seen, (std::vector<std::pair<std::string, int>>{{"a", 1}, {"b", 20}, {"c", 3}}));
    EXPECT_EQ(m.at("b"), 20);
    EXPECT_EQ(m.count("c"), 1u);
    EXPECT_EQ(m.count("z"), 0u);
    EXPECT_EQ(m.find("z"), m.end());

    FlatMap<std::string, int> copy = m;
    EXPECT_EQ(copy, m);
    copy["a"] = 0;
    EXPECT_EQ(m.at("a"), 1);
    EXPECT_NE(copy, m);

    EXPECT_EQ(m.erase("b"), 1u);
    EXPECT_EQ(m.erase("b"), 0u);
    m.clear();
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(m, (FlatMap<std::string, int>()));
}

// ---- the event types built on them -------------------------------------------

TEST(AdkCompactEvents, TypesStaySmall) {
    // Budgets, not exact figures: a regression that inlines a rare member
    // again (an optional<FunctionCall> is 88 bytes) fails here.
    EXPECT_LE(sizeof(adk::Part), 104u);
    EXPECT_LE(sizeof(adk::EventActions), 64u);
    EXPECT_LE(sizeof(adk::LlmResponse), 120u);
    EXPECT_LE(sizeof(adk::Event), 304u);
}

TEST(AdkCompactEvents, PartMembersKeepOptionalSyntax) {
    adk::Part p;
    EXPECT_FALSE(p.function_call);
    p.function_call = adk::FunctionCall{"id-1", "add", Json{{"a", 2}}};
    ASSERT_TRUE(p.function_call);
    EXPECT_EQ(p.function_call->name, "add");
    EXPECT_FALSE(p.function_call == std::nullopt);
    adk::Part copy = p;
    copy.function_call->name = "sub";
    EXPECT_EQ(p.function_call->name, "add");  // deep copy
    EXPECT_EQ(Json(p), Json::parse(R"({"functionCall":{"id":"id-1","name":"add","args":{"a":2}}})"));
    adk::Part back = Json(p).get<adk::Part>();
    EXPECT_EQ(back.function_call->args, (Json{{"a", 2}}));
    EXPECT_FALSE(back.text);
    EXPECT_FALSE(back.function_response);
}

TEST(AdkCompactEvents, EmptyDeltasAreNullButWrittenAsObjects) {
    adk::Event e = adk::Event::make("e-1", "agent");
    EXPECT_TRUE(e.actions.state_delta.is_null());
    EXPECT_TRUE(e.actions.state_delta.empty());
    EXPECT_FALSE(e.actions.state_delta.contains("k"));
    EXPECT_TRUE(e.actions.requested_auth_configs.is_null());
    Json j = e;
    EXPECT_EQ(j["actions"], Json::parse(R"({"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{},"requestedToolConfirmations":{}})"));

    // Written to, the delta is an object.
    e.actions.state_delta["k"] = 1;
    EXPECT_TRUE(e.actions.state_delta.is_object());
    EXPECT_EQ(Json(e)["actions"]["stateDelta"], (Json{{"k", 1}}));

    // Read back, {} stays null (no allocation per stored event).
    adk::Event back = j.get<adk::Event>();
    EXPECT_TRUE(back.actions.state_delta.is_null());
    EXPECT_TRUE(back.actions.requested_auth_configs.is_null());
    EXPECT_EQ(Json(back), j);
}

TEST(AdkCompactEvents, MergeKeepsEmptyDeltasNull) {
    adk::EventActions a;
    adk::EventActions b;
    a.merge(b);
    EXPECT_TRUE(a.state_delta.is_null());
    b.state_delta["x"] = 1;
    b.artifact_delta["f"] = 2;
    b.transfer_to_agent = "other";
    a.merge(b);
    EXPECT_EQ(a.state_delta, (Json{{"x", 1}}));
    EXPECT_EQ(a.artifact_delta.at("f"), 2);
    EXPECT_EQ(a.transfer_to_agent, "other");
    EXPECT_TRUE(a.requested_auth_configs.is_null());
}

TEST(AdkCompactEvents, StoredEventDropsItsEmptiedDelta) {
    adk::Event e = adk::Event::make("e-1", "agent");
    e.actions.state_delta["temp:scratch"] = 1;
    adk::strip_temp_state(e);
    EXPECT_TRUE(e.actions.state_delta.is_null());
    EXPECT_EQ(Json(e)["actions"]["stateDelta"], Json::object());
}

// ---- the in-memory store's copies ----------------------------------------------

namespace {

adk::Event timed(int i, double ts) {
    adk::Event e = adk::Event::make("e-1", "agent");
    e.actions.state_delta["i"] = i;
    e.timestamp = ts;
    return e;
}

template <class Events>  // std::vector<Event> or EventList
std::vector<int> indexes(const Events& events) {
    std::vector<int> out;
    for (const adk::Event& e : events) out.push_back(e.actions.state_delta.at("i").get<int>());
    return out;
}

}  // namespace

// get_session keeps the events its config keeps (after_timestamp first,
// then the last N of those), also when timestamps are not monotonic.
TEST(AdkCompactSessions, GetSessionCopiesWhatFilterEventsKeeps) {
    adk::InMemorySessionService service;
    adk::Session s = service.create_session_now("app", "u", Json::object(), "s");
    const double stamps[] = {100, 105, 101, 106, 102, 107, 103};
    std::vector<adk::Event> all;
    for (int i = 0; i < 7; ++i) {
        adk::Event appended = service.append_event_now(s, timed(i, stamps[i]));
        all.push_back(appended);
    }
    for (std::optional<double> after : {std::optional<double>(), std::optional<double>(103.5),
                                        std::optional<double>(200.0)})
        for (std::optional<std::size_t> recent : {std::optional<std::size_t>(), std::optional<std::size_t>(0),
                                                  std::optional<std::size_t>(2), std::optional<std::size_t>(10)}) {
            adk::GetSessionConfig config;
            config.after_timestamp = after;
            config.num_recent_events = recent;
            // GetSessionConfig's rules, spelled out: after_timestamp first, then the last N
            std::vector<adk::Event> expected = all;
            if (after) std::erase_if(expected, [&](const adk::Event& e) { return e.timestamp < *after; });
            if (recent && expected.size() > *recent)
                expected.erase(expected.begin(), expected.end() - static_cast<std::ptrdiff_t>(*recent));
            std::optional<adk::Session> got = service.get_session_now("app", "u", "s", config);
            ASSERT_TRUE(got);
            EXPECT_EQ(indexes(got->events), indexes(expected))
                << "after " << after.value_or(-1) << " recent " << (recent ? long(*recent) : -1L);
        }
}

TEST(AdkCompactSessions, AppendKeepsTheCallersDeltaAndStoresItWithoutTempKeys) {
    adk::InMemorySessionService service;
    adk::Session s = service.create_session_now("app", "u", Json::object(), "s");
    adk::Event e = adk::Event::make("e-1", "agent");
    e.actions.state_delta["temp:t"] = 1;
    adk::Event appended = service.append_event_now(s, std::move(e));
    EXPECT_EQ(appended.actions.state_delta, (Json{{"temp:t", 1}}));
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].actions.state_delta, (Json{{"temp:t", 1}}));
    EXPECT_EQ(s.state, (Json{{"temp:t", 1}}));
    std::optional<adk::Session> stored = service.get_session_now("app", "u", "s", {});
    ASSERT_TRUE(stored);
    ASSERT_EQ(stored->events.size(), 1u);
    EXPECT_TRUE(stored->events[0].actions.state_delta.is_null());
    EXPECT_EQ(stored->state, Json::object());  // never-set state is handed out as {}
    EXPECT_EQ(Json(*stored)["events"][0]["actions"]["stateDelta"], Json::object());
}
