// Tests for adk::SqliteSessionService: the SessionService contract on an
// SQLite file, persistence across processes, group commit, cancellation
// and bad input.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "adk/adk.hpp"
#include "adk/sqlite_session_service.hpp"
#include "aio/gather.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/subprocess.hpp"
#include "aio/task.hpp"
#include "session_test_support.hpp"
#include "support.hpp"

extern char** environ;

using adk::Event;
using adk::Json;
using adk::Session;
using adk::SqliteSessionService;
using namespace std::chrono_literals;

namespace {

using session_test::kv;
using session_test::state_event;

/// A direct connection to the file, beside the service's (as another
/// process would have). Test code only: it blocks.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
            ADD_FAILURE() << "cannot open " << path;
        sqlite3_busy_timeout(db_, 10000);
    }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;
    ~RawDb() { sqlite3_close_v2(db_); }

    void exec(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << (error ? error : "?");
            sqlite3_free(error);
        }
    }
    /// The first column of the first row, as text ("" if none).
    std::string scalar(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        std::string out;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
            return out;
        }
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        return out;
    }
    /// Column names of `table`, in order, comma-separated.
    std::string columns(const std::string& table) {
        sqlite3_stmt* s = nullptr;
        std::string out;
        std::string sql = "PRAGMA table_info(" + table + ")";
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return out;
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (!out.empty()) out += ",";
            out += reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
        }
        sqlite3_finalize(s);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

/// Appends and stores nothing else: a task body (references stay valid: the
/// test awaits the task before its locals go).
aio::Coro<> append_into(adk::SessionService& service, Session& session, Event event) {
    co_await service.append_event(session, std::move(event));
}

class SqliteSessions : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (std::filesystem::temp_directory_path() / "adk-sqlite-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        path_ = (dir_ / "sessions.db").string();
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::filesystem::path dir_;
    std::string path_;
};

/// What `co_await body` raised: "" if nothing, else the SqliteError's text.
template <class T>
aio::Coro<std::string> sqlite_error_of(aio::Coro<T> body) {
    std::string message;
    try {
        co_await std::move(body);
    } catch (const adk::SqliteError& e) {
        message = e.what();
    }
    co_return message;
}

}  // namespace

// ---- the SessionService contract ---------------------------------------------------

TEST_F(SqliteSessions, CreateGetListDelete) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        co_await service.ready();
        Json initial = Json::parse(R"({"k":"v"})");
        Session a = co_await service.create_session("app", "u1", initial, "s1");
        EXPECT_EQ(a.id, "s1");
        EXPECT_EQ(a.state["k"], "v");
        EXPECT_EQ(a.version, 0u);
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
        CO_ASSERT_TRUE(list.sessions.size() == 2u);
        EXPECT_TRUE(list.sessions[0].events.empty());
        adk::ListSessionsResponse other = co_await service.list_sessions("app", "u2");
        EXPECT_TRUE(other.sessions.empty());
        co_await service.delete_session("app", "u1", "s1");
        std::optional<Session> gone = co_await service.get_session("app", "u1", "s1");
        EXPECT_FALSE(gone.has_value());
        std::optional<Session> kept = co_await service.get_session("app", "u1", b.id);
        EXPECT_TRUE(kept.has_value());
        co_await service.delete_session("app", "u1", "nope");  // no error
        // a deleted id can be created again, empty
        Session again = co_await service.create_session("app", "u1", Json::object(), "s1");
        EXPECT_FALSE(again.state.contains("k"));
    });
}

TEST_F(SqliteSessions, AppendAppliesStateByScopeAndDropsTemp) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s1 = co_await service.create_session("app", "u1", Json::object(), "s1");
        co_await service.create_session("app", "u1", Json::object(), "s2");
        co_await service.create_session("app", "u2", Json::object(), "s3");
        Event e = state_event(Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann","temp:scratch":42})"));
        Event appended = co_await service.append_event(s1, e);
        EXPECT_EQ(appended.id, e.id);
        EXPECT_EQ(appended.actions.state_delta["temp:scratch"], 42);  // the caller's event keeps it
        EXPECT_EQ(s1.state["temp:scratch"], 42);                      // and so does the copy
        EXPECT_EQ(s1.state["app:theme"], "dark");
        EXPECT_EQ(s1.events.size(), 1u);
        EXPECT_EQ(s1.version, 1u);
        std::optional<Session> reread = co_await service.get_session("app", "u1", "s1");
        EXPECT_EQ(reread->state, Json::parse(R"({"k":1,"app:theme":"dark","user:name":"Ann"})"));
        EXPECT_EQ(reread->version, 1u);
        CO_ASSERT_TRUE(reread->events.size() == 1u);
        EXPECT_EQ(reread->events[0].id, e.id);
        EXPECT_EQ(reread->events[0].author, "agent");
        EXPECT_FALSE(reread->events[0].actions.state_delta.contains("temp:scratch"));  // never persisted
        std::optional<Session> sibling = co_await service.get_session("app", "u1", "s2");
        EXPECT_EQ(sibling->state, Json::parse(R"({"app:theme":"dark","user:name":"Ann"})"));
        std::optional<Session> stranger = co_await service.get_session("app", "u2", "s3");
        EXPECT_EQ(stranger->state, Json::parse(R"({"app:theme":"dark"})"));
        // create_session's state is split the same way
        Json initial = Json::parse(R"({"own":1,"app:theme":"light","user:lang":"fr","temp:gone":1})");
        Session s4 = co_await service.create_session("app", "u1", initial, "s4");
        EXPECT_EQ(s4.state, Json::parse(R"({"own":1,"app:theme":"light","user:name":"Ann","user:lang":"fr"})"));
        std::optional<Session> s2 = co_await service.get_session("app", "u1", "s2");
        EXPECT_EQ(s2->state, Json::parse(R"({"app:theme":"light","user:name":"Ann","user:lang":"fr"})"));
    });
    // On disk: no temp: key anywhere.
    RawDb raw(path_);
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM events WHERE event_data LIKE '%temp:%'"), "0");
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM sessions WHERE state LIKE '%temp:%'"), "0");
    EXPECT_EQ(raw.scalar("SELECT state FROM app_states WHERE app_name='app'"), R"({"theme":"light"})");
    EXPECT_EQ(raw.scalar("SELECT state FROM user_states WHERE app_name='app' AND user_id='u1'"),
              R"({"lang":"fr","name":"Ann"})");
}

TEST_F(SqliteSessions, TheFileHasAdksTablesAndJsonEvents) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        Event e = kv("x", 1, 1750460000.5);
        e.content = adk::Content::model("hello");
        co_await service.append_event(s, e);
    });
    RawDb raw(path_);
    EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.columns("sessions"), "app_name,user_id,id,state,create_time,update_time,event_sequence");
    EXPECT_EQ(raw.columns("events"),
              "id,app_name,user_id,session_id,invocation_id,timestamp,event_data,event_sequence");
    EXPECT_EQ(raw.columns("app_states"), "app_name,state,update_time");
    EXPECT_EQ(raw.columns("user_states"), "app_name,user_id,state,update_time");
    EXPECT_EQ(raw.scalar("SELECT event_sequence FROM sessions WHERE id='s'"), "1");
    EXPECT_EQ(raw.scalar("SELECT invocation_id FROM events"), "e-1");
    EXPECT_EQ(raw.scalar("SELECT timestamp FROM events"), "1750460000.5");
    // event_data is ADK's camelCase JSON
    Json data = Json::parse(raw.scalar("SELECT event_data FROM events"));
    EXPECT_EQ(data["invocationId"], "e-1");
    EXPECT_EQ(data["content"]["parts"][0]["text"], "hello");
    EXPECT_EQ(data["actions"]["stateDelta"]["x"], 1);
    EXPECT_EQ(raw.scalar("SELECT value FROM adk_internal_metadata WHERE key='schema_version'"), "aio-sqlite-1");
}

TEST_F(SqliteSessions, StaleCopyIsRejected) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
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
        EXPECT_EQ(writer_b->version, 0u);  // the refused copy is unchanged
        EXPECT_TRUE(writer_b->events.empty());
        std::optional<Session> now = co_await service.get_session("app", "u", "s");
        EXPECT_EQ(now->state["x"], 1);
        EXPECT_EQ(now->events.size(), 1u);
        co_await service.append_event(*now, kv("x", 3));  // a fresh copy can append again
        EXPECT_EQ(now->version, 2u);
    });
}

TEST_F(SqliteSessions, TwoServicesOnOneFileSeeEachOthersVersions) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService first(path_);
        SqliteSessionService second(path_);  // as another process would
        Session a = co_await first.create_session("app", "u", Json::object(), "s");
        std::optional<Session> b = co_await second.get_session("app", "u", "s");
        CO_ASSERT_TRUE(b.has_value());
        co_await second.append_event(*b, kv("from", 2));
        bool stale = false;
        try {
            co_await first.append_event(a, kv("from", 1));
        } catch (const adk::StaleSessionError&) {
            stale = true;
        }
        EXPECT_TRUE(stale);
        std::optional<Session> seen = co_await first.get_session("app", "u", "s");
        EXPECT_EQ(seen->state["from"], 2);
        EXPECT_EQ(seen->version, 1u);
    });
}

TEST_F(SqliteSessions, PartialEventsAreNotPersisted) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        Event partial = kv("x", 1);
        partial.partial = true;
        Event back = co_await service.append_event(s, partial);
        EXPECT_EQ(back.id, partial.id);
        EXPECT_TRUE(s.events.empty());
        EXPECT_EQ(s.version, 0u);
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        EXPECT_TRUE(reread->events.empty());
        EXPECT_FALSE(reread->state.contains("x"));
    });
}

TEST_F(SqliteSessions, AppendToUnknownSessionFails) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session ghost;
        ghost.id = "ghost";
        ghost.app_name = "app";
        ghost.user_id = "u";
        std::string message;
        try {
            co_await service.append_event(ghost, kv("x", 1));
        } catch (const adk::SessionNotFoundError& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("'ghost'"), std::string::npos) << message;
        EXPECT_TRUE(ghost.events.empty());
    });
}

TEST_F(SqliteSessions, GetSessionConfigFiltersEvents) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        for (int i = 1; i <= 5; ++i) co_await service.append_event(s, kv("i", i, 100.0 + i));
        adk::GetSessionConfig recent;
        recent.num_recent_events = 2;
        std::optional<Session> last_two = co_await service.get_session("app", "u", "s", recent);
        CO_ASSERT_TRUE(last_two->events.size() == 2u);
        EXPECT_EQ(last_two->events[0].actions.state_delta["i"], 4);
        EXPECT_EQ(last_two->events[1].actions.state_delta["i"], 5);
        adk::GetSessionConfig after;
        after.after_timestamp = 103.0;
        std::optional<Session> late = co_await service.get_session("app", "u", "s", after);
        CO_ASSERT_TRUE(late->events.size() == 3u);
        EXPECT_EQ(late->events[0].actions.state_delta["i"], 3);
        EXPECT_DOUBLE_EQ(late->last_update_time, 105.0);
        adk::GetSessionConfig none;
        none.num_recent_events = 0;
        std::optional<Session> empty = co_await service.get_session("app", "u", "s", none);
        EXPECT_TRUE(empty->events.empty());
        adk::GetSessionConfig both;
        both.after_timestamp = 102.0;
        both.num_recent_events = 10;
        std::optional<Session> four = co_await service.get_session("app", "u", "s", both);
        EXPECT_EQ(four->events.size(), 4u);
    });
}

TEST_F(SqliteSessions, EventsComeBackInAppendOrderNotTimestampOrder) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        // Parallel branches can persist an older event after a newer one.
        co_await service.append_event(s, kv("i", 1, 200.0));
        co_await service.append_event(s, kv("i", 2, 100.0));
        co_await service.append_event(s, kv("i", 3, 150.0));
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        CO_ASSERT_TRUE(reread->events.size() == 3u);
        for (std::size_t i = 0; i < 3; ++i)
            EXPECT_EQ(reread->events[i].actions.state_delta["i"], static_cast<int>(i) + 1);
    });
}

TEST_F(SqliteSessions, DuplicateEventIdIsRefusedAndLeavesNoTrace) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        Event e = kv("x", 1);
        co_await service.append_event(s, e);
        e.actions.state_delta["x"] = 2;
        std::string message = co_await sqlite_error_of(service.append_event(s, e));
        EXPECT_NE(message.find("already stored"), std::string::npos) << message;
        EXPECT_EQ(s.version, 1u);
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        EXPECT_EQ(reread->version, 1u);
        EXPECT_EQ(reread->state["x"], 1);  // the refused event's delta was not applied
        EXPECT_EQ(reread->events.size(), 1u);
        co_await service.append_event(s, kv("x", 3));  // the session is still usable
        EXPECT_EQ(s.version, 2u);
    });
}

// ---- persistence -----------------------------------------------------------------

TEST_F(SqliteSessions, ReopenedFileHasEverything) {
    std::string id;
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Json initial = Json::parse(R"({"own":1,"app:a":1,"user:u":1})");
        Session s = co_await service.create_session("app", "u", initial);
        id = s.id;
        co_await service.append_event(s, kv("own", 2));
        co_await service.append_event(s, kv("user:u", 2));
        co_await service.aclose();
        bool closed = false;
        try {
            co_await service.get_session("app", "u", id);
        } catch (const adk::SqliteError& e) {
            closed = e.code() == SQLITE_MISUSE;
        }
        EXPECT_TRUE(closed);
    });
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        std::optional<Session> s = co_await service.get_session("app", "u", id);
        CO_ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->state, Json::parse(R"({"own":2,"app:a":1,"user:u":2})"));
        EXPECT_EQ(s->version, 2u);
        EXPECT_EQ(s->events.size(), 2u);
        co_await service.append_event(*s, kv("own", 3));  // the version goes on
        EXPECT_EQ(s->version, 3u);
    });
}

// The child half of SurvivesTheWritingProcessDying: runs only when the
// parent test starts this binary with ADK_SQLITE_CHILD_DB set. It writes,
// then leaves with _exit() while the service is still open: no close, no
// checkpoint, no destructor. What it was told is committed must be there.
// The child process of SqliteSessions.SurvivesTheWritingProcessDying (the
// test binary re-run); disabled so it never runs on its own.
TEST(AdkSqliteChild, DISABLED_WritesThenDiesWithoutClosing) {
    const char* path = std::getenv("ADK_SQLITE_CHILD_DB");
    ASSERT_NE(path, nullptr) << "run by SqliteSessions.SurvivesTheWritingProcessDying";
    int code = aio::run([&]() -> aio::Coro<int> {
        auto* service = new SqliteSessionService(path);  // never destroyed, on purpose
        Json initial = Json::parse(R"({"own":"child","app:shared":1,"user:pref":"dark","temp:t":1})");
        Session s = co_await service->create_session("app", "u", initial, "child-session");
        Event first = kv("step", 1, 1000.0);
        first.content = adk::Content::model("first");
        co_await service->append_event(s, first);
        co_await service->append_event(s, kv("user:pref", 7, 1001.0));
        Json last_delta = Json::parse(R"({"step":3,"temp:scratch":true,"app:shared":2})");
        co_await service->append_event(s, state_event(last_delta, 1002.0));
        co_return s.version == 3 ? 0 : 3;
    });
    std::fflush(nullptr);
    _exit(code);
}

TEST_F(SqliteSessions, SurvivesTheWritingProcessDying) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            if (std::string_view(*e).substr(0, 20) != "ADK_SQLITE_CHILD_DB=") env.emplace_back(*e);
        env.push_back("ADK_SQLITE_CHILD_DB=" + path_);
        std::vector<std::string> args{"--gtest_filter=AdkSqliteChild.DISABLED_WritesThenDiesWithoutClosing",
                                      "--gtest_also_run_disabled_tests"};
        aio::SubprocessOptions options;
        options.env = std::span<const std::string>(env);
        options.stdout = aio::DEVNULL;
        aio::Process child = co_await aio::create_subprocess_exec("/proc/self/exe", args, options);
        int rc = co_await child.wait();
        CO_ASSERT_TRUE(rc == 0);

        SqliteSessionService service(path_);
        std::optional<Session> s = co_await service.get_session("app", "u", "child-session");
        CO_ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->version, 3u);
        EXPECT_EQ(s->state, Json::parse(R"({"own":"child","step":3,"app:shared":2,"user:pref":7})"));
        CO_ASSERT_TRUE(s->events.size() == 3u);
        EXPECT_EQ(s->events[0].content->text(), "first");
        EXPECT_DOUBLE_EQ(s->events[2].timestamp, 1002.0);
        EXPECT_FALSE(s->events[2].actions.state_delta.contains("temp:scratch"));
        EXPECT_DOUBLE_EQ(s->last_update_time, 1002.0);
        adk::ListSessionsResponse list = co_await service.list_sessions("app", "u");
        EXPECT_EQ(list.sessions.size(), 1u);
        co_await service.append_event(*s, kv("step", 4));  // and the parent goes on from there
        EXPECT_EQ(s->version, 4u);
    });
}

// ---- group commit and durability -------------------------------------------------------

TEST_F(SqliteSessions, AnAcknowledgedAppendIsCommitted) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        RawDb other(path_);  // another connection sees only committed data
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        for (int i = 1; i <= 5; ++i) {
            co_await service.append_event(s, kv("i", i));
            EXPECT_EQ(other.scalar("SELECT count(*) FROM events WHERE session_id='s'"), std::to_string(i));
            EXPECT_EQ(other.scalar("SELECT event_sequence FROM sessions WHERE id='s'"), std::to_string(i));
        }
    });
}

TEST_F(SqliteSessions, ConcurrentAppendsShareTransactions) {
    constexpr int kSessions = 100, kEvents = 10;
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        std::vector<Session> sessions;
        for (int i = 0; i < kSessions; ++i) {
            Session s = co_await service.create_session("app", "u", Json::object(), "s" + std::to_string(i));
            sessions.push_back(std::move(s));
        }
        SqliteSessionService::Stats before = service.stats();
        std::vector<aio::Task<>> tasks;
        for (int i = 0; i < kSessions; ++i) {
            Session* s = &sessions[static_cast<std::size_t>(i)];
            auto body = [&service, s]() -> aio::Coro<> {
                for (int k = 1; k <= kEvents; ++k) co_await service.append_event(*s, kv("k", k));
            };
            tasks.push_back(aio::create_task(std::move(body)));
        }
        for (aio::Task<>& t : tasks) co_await t;
        SqliteSessionService::Stats after = service.stats();
        std::uint64_t writes = after.writes - before.writes;
        std::uint64_t transactions = after.transactions - before.transactions;
        EXPECT_EQ(writes, static_cast<std::uint64_t>(kSessions * kEvents));
        EXPECT_LE(transactions * 2, writes) << transactions << " transactions for " << writes << " appends";
        for (const Session& s : sessions) EXPECT_EQ(s.version, static_cast<std::uint64_t>(kEvents));
        std::optional<Session> some = co_await service.get_session("app", "u", "s42");
        CO_ASSERT_TRUE(some.has_value());
        EXPECT_EQ(some->events.size(), static_cast<std::size_t>(kEvents));
        EXPECT_EQ(some->state["k"], kEvents);
    });
}

TEST_F(SqliteSessions, OverlappingAppendsThroughOneCopyAreApplied) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        std::vector<aio::Task<>> tasks;
        for (int k = 1; k <= 10; ++k) tasks.push_back(aio::create_task(append_into(service, s, kv("k", k))));
        for (aio::Task<>& t : tasks) co_await t;
        EXPECT_EQ(s.version, 10u);
        CO_ASSERT_TRUE(s.events.size() == 10u);
        for (int k = 1; k <= 10; ++k)  // in the order they were started
            EXPECT_EQ(s.events[static_cast<std::size_t>(k - 1)].actions.state_delta["k"], k);
        std::optional<Session> reread = co_await service.get_session("app", "u", "s");
        EXPECT_EQ(reread->version, 10u);
        EXPECT_EQ(reread->state["k"], 10);
    });
}

TEST_F(SqliteSessions, LoopsOnSeveralThreadsShareOneService) {
    SqliteSessionService service(path_);
    auto work = [&](std::string user) {
        aio::run([&]() -> aio::Coro<> {
            Session s = co_await service.create_session("app", user, Json::object(), "s");
            for (int k = 1; k <= 50; ++k) co_await service.append_event(s, kv("k", k));
        });
    };
    std::thread a(work, "ua"), b(work, "ub");
    a.join();
    b.join();
    aio_test::run_bounded([&]() -> aio::Coro<> {
        std::optional<Session> sa = co_await service.get_session("app", "ua", "s");
        std::optional<Session> sb = co_await service.get_session("app", "ub", "s");
        CO_ASSERT_TRUE(sa && sb);
        EXPECT_EQ(sa->version, 50u);
        EXPECT_EQ(sb->events.size(), 50u);
    });
}

TEST_F(SqliteSessions, ThroughputWithManyConcurrentSessions) {
    constexpr int kSessions = 200, kEvents = 50;
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        std::vector<Session> sessions;
        for (int i = 0; i < kSessions; ++i) {
            Session s = co_await service.create_session("app", "u", Json::object(), "s" + std::to_string(i));
            sessions.push_back(std::move(s));
        }
        SqliteSessionService::Stats before = service.stats();
        aio::Clock::time_point start = aio::get_running_loop().time();
        std::vector<aio::Task<>> tasks;
        for (Session& session : sessions) {
            Session* s = &session;
            auto body = [&service, s]() -> aio::Coro<> {
                for (int k = 1; k <= kEvents; ++k) {
                    Event e = Event::make("e-bench", "agent");
                    e.content = adk::Content::model("reply number " + std::to_string(k));
                    e.actions.state_delta["turn"] = k;
                    co_await service.append_event(*s, std::move(e));
                }
            };
            tasks.push_back(aio::create_task(std::move(body)));
        }
        for (aio::Task<>& t : tasks) co_await t;
        double seconds = aio_test::since(start);
        SqliteSessionService::Stats after = service.stats();
        double per_second = kSessions * kEvents / seconds;
        std::printf("  %d events persisted in %.3f s: %.0f events/s, %llu transactions\n", kSessions * kEvents,
                    seconds, per_second,
                    static_cast<unsigned long long>(after.transactions - before.transactions));
        RecordProperty("events_per_second", static_cast<int>(per_second));
        std::optional<Session> last = co_await service.get_session("app", "u", "s199");
        EXPECT_EQ(last->events.size(), static_cast<std::size_t>(kEvents));
    });
}

// ---- with the Runner -----------------------------------------------------------------

namespace {

aio::Coro<Json> get_weather(Json args, adk::ToolContext& ctx) {
    ctx.state().set("last_city", args["city"]);
    ctx.state().set("user:visits", 1);
    co_return Json("sunny in " + args["city"].get<std::string>());
}

std::shared_ptr<adk::BaseAgent> weather_agent(std::shared_ptr<adk::ScriptedLlm> llm) {
    auto tool = adk::FunctionTool::make(
        "get_weather", "Current weather of a city",
        Json::parse(R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"), get_weather);
    return adk::LlmAgent::make({.name = "weather", .model = std::move(llm), .tools = {tool}});
}

/// Runs one message; the events it yielded.
aio::Coro<std::vector<Event>> run_turn(adk::Runner& runner, std::string text) {
    std::vector<Event> out;
    aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user(std::move(text)));
    while (true) {
        std::optional<Event> ev = co_await events.next();
        if (!ev) break;
        out.push_back(std::move(*ev));
    }
    co_return out;
}

}  // namespace

TEST_F(SqliteSessions, ARunnerPersistsEachEventAndTheNextProcessGoesOn) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        auto sessions = std::make_shared<SqliteSessionService>(path_);
        auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::call("get_weather", {{"city", "Paris"}}),
                                           adk::ScriptedReply::say("It is sunny in Paris.")});
        adk::Runner runner("app", weather_agent(llm), sessions);
        co_await sessions->create_session("app", "u", Json::object(), "s");
        std::vector<Event> yielded = co_await run_turn(runner, "Weather in Paris?");
        EXPECT_EQ(yielded.size(), 3u);
        co_await runner.close();
    });
    // Another service on the file (as the next process would open it).
    aio_test::run_bounded([&]() -> aio::Coro<> {
        auto sessions = std::make_shared<SqliteSessionService>(path_);
        std::optional<Session> s = co_await sessions->get_session("app", "u", "s");
        CO_ASSERT_TRUE(s.has_value());
        CO_ASSERT_TRUE(s->events.size() == 4u);  // the user message and the three events
        EXPECT_EQ(s->events[0].author, "user");
        EXPECT_EQ(s->events[1].function_calls().at(0).name, "get_weather");
        EXPECT_EQ(s->events[3].content->text(), "It is sunny in Paris.");
        EXPECT_EQ(s->state["last_city"], "Paris");
        EXPECT_EQ(s->state["user:visits"], 1);
        EXPECT_EQ(s->version, 4u);
        // The next turn runs on the stored history.
        auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::say("Still sunny.")});
        adk::Runner runner("app", weather_agent(llm), sessions);
        std::vector<Event> yielded = co_await run_turn(runner, "And now?");
        EXPECT_EQ(yielded.size(), 1u);
        co_await runner.close();
        CO_ASSERT_TRUE(llm->requests().size() == 1u);
        EXPECT_EQ(llm->requests()[0].contents.size(), 5u);  // 4 stored turns + the new message
        std::optional<Session> after = co_await sessions->get_session("app", "u", "s");
        EXPECT_EQ(after->events.size(), 6u);
    });
}

TEST_F(SqliteSessions, ACancelledInvocationLeavesAReadableSession) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        auto sessions = std::make_shared<SqliteSessionService>(path_);
        auto slow = [](Json, adk::ToolContext&) -> aio::Coro<Json> {
            co_await aio::sleep(60s);
            co_return Json("never");
        };
        auto tool = adk::FunctionTool::make("slow", "Takes a minute", Json::parse(R"({"type":"object"})"), slow);
        auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::call("slow", Json::object())});
        adk::Runner runner("app", adk::LlmAgent::make({.name = "agent", .model = llm, .tools = {tool}}), sessions);
        co_await sessions->create_session("app", "u", Json::object(), "s");
        aio::Event called;
        auto consume = [&]() -> aio::Coro<> {
            aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user("go"));
            while (true) {
                std::optional<Event> ev = co_await events.next();
                if (!ev) break;
                if (!ev->function_calls().empty()) called.set();  // persisted before we see it
            }
        };
        aio::Task<> consumer = aio::create_task(std::move(consume));
        co_await called.wait();
        consumer.cancel();
        bool cancelled = false;
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        std::optional<Session> s = co_await sessions->get_session("app", "u", "s");
        CO_ASSERT_TRUE(s.has_value());
        EXPECT_EQ(s->events.size(), 2u);  // the user message and the function call; no half event
        EXPECT_EQ(s->version, s->events.size());
        co_await sessions->append_event(*s, kv("after", 1));  // and it is not stale
        EXPECT_EQ(s->version, 3u);
        co_await runner.close();
    });
}

// ---- cancellation -----------------------------------------------------------------

TEST_F(SqliteSessions, CancellingAnAppendLeavesTheCopyConsistent) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        adk::SqliteSessionOptions options;
        options.busy_timeout = 60s;
        SqliteSessionService service(path_, options);
        Session a = co_await service.create_session("app", "u", Json::object(), "a");
        Session b = co_await service.create_session("app", "u", Json::object(), "b");
        // Another connection holds the write lock: the service's next
        // transaction waits for it.
        RawDb blocker(path_);
        blocker.exec("BEGIN IMMEDIATE");
        std::uint64_t taken = service.stats().taken;
        aio::Task<> append_a = aio::create_task(append_into(service, a, kv("x", 1)));
        while (service.stats().taken == taken) co_await aio::sleep(1ms);
        // a's transaction is running (waiting for the lock); b queues behind it.
        aio::Task<> append_b = aio::create_task(append_into(service, b, kv("y", 2)));
        co_await aio::sleep(0s);
        append_b.cancel();
        bool b_cancelled = false;
        try {
            co_await append_b;
        } catch (const aio::CancelledError&) {
            b_cancelled = true;
        }
        EXPECT_TRUE(b_cancelled);  // at once: withdrawn from the queue
        EXPECT_EQ(b.version, 0u);
        EXPECT_TRUE(b.events.empty());

        append_a.cancel();
        co_await aio::sleep(20ms);
        EXPECT_FALSE(append_a.done());  // a cannot be recalled: the cancellation waits for its outcome
        blocker.exec("COMMIT");
        bool a_cancelled = false;
        try {
            co_await append_a;
        } catch (const aio::CancelledError&) {
            a_cancelled = true;
        }
        EXPECT_TRUE(a_cancelled);
        EXPECT_EQ(a.version, 1u);  // committed, and the copy says so
        CO_ASSERT_TRUE(a.events.size() == 1u);
        EXPECT_EQ(a.state["x"], 1);

        std::optional<Session> stored_a = co_await service.get_session("app", "u", "a");
        std::optional<Session> stored_b = co_await service.get_session("app", "u", "b");
        EXPECT_EQ(stored_a->version, 1u);
        EXPECT_EQ(stored_b->version, 0u);
        EXPECT_TRUE(stored_b->events.empty());
        // both copies go on without StaleSessionError
        co_await service.append_event(a, kv("x", 2));
        co_await service.append_event(b, kv("y", 3));
        EXPECT_EQ(a.version, 2u);
        EXPECT_EQ(b.version, 1u);
    });
}

TEST_F(SqliteSessions, CancelledReadReturnsAtOnce) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        adk::SqliteSessionOptions options;
        options.busy_timeout = 60s;
        SqliteSessionService service(path_, options);
        Session a = co_await service.create_session("app", "u", Json::object(), "a");
        RawDb blocker(path_);
        blocker.exec("BEGIN IMMEDIATE");
        std::uint64_t taken = service.stats().taken;
        aio::Task<> append_a = aio::create_task(append_into(service, a, kv("x", 1)));
        while (service.stats().taken == taken) co_await aio::sleep(1ms);
        auto read = [&service]() -> aio::Coro<> { co_await service.get_session("app", "u", "a"); };
        aio::Task<> reading = aio::create_task(std::move(read));
        co_await aio::sleep(0s);
        reading.cancel();
        bool cancelled = false;
        try {
            co_await reading;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(append_a.done());
        blocker.exec("COMMIT");
        co_await append_a;
        EXPECT_EQ(a.version, 1u);
    });
}

TEST_F(SqliteSessions, AnAppendWaitingForItsCopyCanBeCancelled) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        adk::SqliteSessionOptions options;
        options.busy_timeout = 60s;
        SqliteSessionService service(path_, options);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        RawDb blocker(path_);
        blocker.exec("BEGIN IMMEDIATE");
        aio::Task<> first = aio::create_task(append_into(service, s, kv("k", 1)));
        aio::Task<> second = aio::create_task(append_into(service, s, kv("k", 2)));
        co_await aio::sleep(0s);
        second.cancel();  // it waits for `first` to finish with the copy
        bool cancelled = false;
        try {
            co_await second;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        blocker.exec("COMMIT");
        co_await first;
        EXPECT_EQ(s.version, 1u);
        EXPECT_EQ(s.state["k"], 1);
        co_await service.append_event(s, kv("k", 3));
        EXPECT_EQ(s.version, 2u);
    });
}

// ---- bad input -----------------------------------------------------------------------

TEST_F(SqliteSessions, UnusablePathsAreClearErrors) {
    std::string garbage = (dir_ / "garbage.db").string();
    {
        std::ofstream out(garbage);
        for (int i = 0; i < 200; ++i) out << "this is not an SQLite database\n";
    }
    std::string foreign = (dir_ / "foreign.db").string();
    {
        RawDb raw(foreign);
        raw.exec("CREATE TABLE sessions (x INTEGER)");
    }
    std::string other_version = (dir_ / "adk.db").string();
    {
        RawDb raw(other_version);
        raw.exec("CREATE TABLE adk_internal_metadata (key VARCHAR(128) PRIMARY KEY, value VARCHAR(256))");
        raw.exec("INSERT INTO adk_internal_metadata VALUES ('schema_version', '1')");
    }
    struct Case {
        std::string path;
        std::string expect;  // in the message
    };
    std::vector<Case> cases{
        {(dir_ / "missing" / "x.db").string(), "cannot open"},
        {dir_.string(), "cannot open"},  // a directory
        {garbage, "not a database"},
        {foreign, "not written by SqliteSessionService"},
        {other_version, "schema_version is '1'"},
    };
    for (const Case& c : cases) {
        aio_test::run_bounded([&]() -> aio::Coro<> {
            SqliteSessionService service(c.path);
            std::string ready = co_await sqlite_error_of(service.ready());
            EXPECT_NE(ready.find(c.expect), std::string::npos) << c.path << ": " << ready;
            EXPECT_NE(ready.find(c.path), std::string::npos) << ready;  // names the file
            std::string create = co_await sqlite_error_of(service.create_session("app", "u"));
            EXPECT_EQ(create, ready);  // every call raises the open failure
            Session s;
            s.app_name = "app";
            s.user_id = "u";
            s.id = "s";
            std::string append = co_await sqlite_error_of(service.append_event(s, kv("x", 1)));
            EXPECT_EQ(append, ready);
        });
    }
    // The files we refused are untouched.
    RawDb raw(foreign);
    EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name='events'"), "0");
}

TEST_F(SqliteSessions, CorruptRowsAreClearErrors) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        co_await service.append_event(s, kv("x", 1));
        Session t = co_await service.create_session("app", "u", Json::object(), "t");
        {
            RawDb raw(path_);
            raw.exec("UPDATE events SET event_data='{not json' WHERE session_id='s'");
            raw.exec("UPDATE sessions SET state='[1,' WHERE id='t'");
        }
        std::string bad_event = co_await sqlite_error_of(service.get_session("app", "u", "s"));
        EXPECT_NE(bad_event.find("an event of session 's'"), std::string::npos) << bad_event;
        EXPECT_NE(bad_event.find("not valid JSON"), std::string::npos) << bad_event;
        std::string bad_state = co_await sqlite_error_of(service.append_event(t, kv("k", 1)));
        EXPECT_NE(bad_state.find("the state of session 't'"), std::string::npos) << bad_state;
        EXPECT_EQ(t.version, 0u);
        // the service keeps working for the rest
        Session u = co_await service.create_session("app", "u", Json::object(), "u");
        co_await service.append_event(u, kv("k", 1));
        EXPECT_EQ(u.version, 1u);
    });
}

TEST_F(SqliteSessions, CallsAfterCloseFail) {
    aio_test::run_bounded([&]() -> aio::Coro<> {
        SqliteSessionService service(path_);
        Session s = co_await service.create_session("app", "u", Json::object(), "s");
        service.close();
        service.close();  // idempotent
        std::string message = co_await sqlite_error_of(service.append_event(s, kv("x", 1)));
        EXPECT_NE(message.find("closed"), std::string::npos) << message;
        std::string listing = co_await sqlite_error_of(service.list_sessions("app", "u"));
        EXPECT_NE(listing.find("closed"), std::string::npos) << listing;
        co_await service.aclose();  // also fine once closed
    });
}
