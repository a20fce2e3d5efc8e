// adk::SqliteSessionService (adk/sqlite_session_service.hpp).
//
// Layout:
//   Connection   — the sqlite3 handle and its cached statements; used only
//                  by the service's thread.
//   Request      — one queued call: executed on the service's thread, its
//                  outcome handed back to the caller's loop.
//   RequestWait  — the awaiter a coroutine suspends in until its request's
//                  outcome arrives (or until it gives up: see cancel_wait).
//   Impl         — the queue, the thread (group commit), delivery.
#include "adk/sqlite_session_service.hpp"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adk/state.hpp"
#include "aio/detail/completion.hpp"
#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/event_loop.hpp"

namespace adk {

namespace {

/// adk_internal_metadata.schema_version of the files we write. Not ADK's
/// "1": ADK's DatabaseSessionService stores DATETIME text where we store
/// REAL seconds, so it must not take our files for its own (nor we its).
constexpr const char* kSchemaVersion = "aio-sqlite-1";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS adk_internal_metadata (
  key VARCHAR(128) NOT NULL PRIMARY KEY,
  value VARCHAR(256) NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  app_name VARCHAR(128) NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  id VARCHAR(128) NOT NULL,
  state TEXT NOT NULL DEFAULT '{}',
  create_time REAL NOT NULL,
  update_time REAL NOT NULL,
  event_sequence INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app_name, user_id, id));
CREATE TABLE IF NOT EXISTS events (
  id VARCHAR(128) NOT NULL,
  app_name VARCHAR(128) NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  session_id VARCHAR(128) NOT NULL,
  invocation_id VARCHAR(256) NOT NULL,
  timestamp REAL NOT NULL,
  event_data TEXT,
  event_sequence INTEGER NOT NULL,
  PRIMARY KEY (id, app_name, user_id, session_id),
  FOREIGN KEY (app_name, user_id, session_id) REFERENCES sessions (app_name, user_id, id) ON DELETE CASCADE);
CREATE UNIQUE INDEX IF NOT EXISTS idx_events_app_user_session_seq
  ON events (app_name, user_id, session_id, event_sequence);
CREATE TABLE IF NOT EXISTS app_states (
  app_name VARCHAR(128) NOT NULL PRIMARY KEY,
  state TEXT NOT NULL DEFAULT '{}',
  update_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS user_states (
  app_name VARCHAR(128) NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  state TEXT NOT NULL DEFAULT '{}',
  update_time REAL NOT NULL,
  PRIMARY KEY (app_name, user_id));
)sql";

bool is_temp_key(const std::string& key) {
    return std::string_view(key).substr(0, State::kTempPrefix.size()) == State::kTempPrefix;
}

// ---- Connection: the service's thread only -------------------------------------

class Connection {
public:
    Connection(const std::string& path, const SqliteSessionOptions& options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void begin_read() { run(begin_, "BEGIN"); }
    void begin_write() { run(begin_immediate_, "BEGIN IMMEDIATE"); }
    void commit() { run(commit_, "COMMIT"); }
    void savepoint() { run(savepoint_, "SAVEPOINT"); }
    void release() { run(release_, "RELEASE"); }
    /// Undoes the work since savepoint() (the transaction stays open).
    void rollback_to() {
        run(rollback_to_, "ROLLBACK TO");
        run(release_, "RELEASE");
    }
    /// Ends the transaction, if one is open, dropping its work. Never throws.
    void rollback_quietly() noexcept {
        if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    bool in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

    Session create_session(const std::string& app, const std::string& user, const std::string& id, const Json& state,
                           double now);
    std::optional<Session> get_session(const std::string& app, const std::string& user, const std::string& id,
                                       const GetSessionConfig& config);
    ListSessionsResponse list_sessions(const std::string& app, const std::string& user);
    void delete_session(const std::string& app, const std::string& user, const std::string& id);
    /// Returns the session's new version.
    std::uint64_t append_event(const std::string& app, const std::string& user, const std::string& id,
                               std::uint64_t expected_version, const Event& event);

private:
    friend class Use;

    [[noreturn]] void fail(const std::string& what, int rc) const;
    /// A JSON column's text parsed; SqliteError (SQLITE_CORRUPT) naming
    /// `what` if it is not JSON.
    Json parse(const std::string& text, const std::string& what) const;
    Event parse_event(const std::string& text, const std::string& session) const;
    void check(int rc, const char* what) const {
        if (rc != SQLITE_OK) fail(what, rc);
    }
    void exec(const char* sql, const char* what);
    sqlite3_stmt* prepare(const char* sql);
    void run(sqlite3_stmt* s, const char* what);
    /// The JSON object in a state column (an empty object for SQL NULL).
    Json load_state(sqlite3_stmt* select, const std::string& app, const std::string* user);
    void save_scope(sqlite3_stmt* select, sqlite3_stmt* upsert, const std::string& app, const std::string* user,
                    const Json& delta, double now);

    sqlite3* db_ = nullptr;
    std::string path_;
    std::vector<sqlite3_stmt*> statements_;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* begin_immediate_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    sqlite3_stmt* savepoint_ = nullptr;
    sqlite3_stmt* release_ = nullptr;
    sqlite3_stmt* rollback_to_ = nullptr;
    sqlite3_stmt* select_session_ = nullptr;
    sqlite3_stmt* insert_session_ = nullptr;
    sqlite3_stmt* update_session_ = nullptr;
    sqlite3_stmt* list_sessions_ = nullptr;
    sqlite3_stmt* delete_session_ = nullptr;
    sqlite3_stmt* select_events_ = nullptr;
    sqlite3_stmt* insert_event_ = nullptr;
    sqlite3_stmt* delete_events_ = nullptr;
    sqlite3_stmt* select_app_state_ = nullptr;
    sqlite3_stmt* upsert_app_state_ = nullptr;
    sqlite3_stmt* select_user_state_ = nullptr;
    sqlite3_stmt* upsert_user_state_ = nullptr;
};

/// One use of a cached statement: binds, steps, reads columns; resets the
/// statement (and clears its bindings) when it goes out of scope. Bound
/// text is not copied: it must outlive the Use.
class Use {
public:
    Use(Connection& c, sqlite3_stmt* s) noexcept : c_(c), s_(s) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }

    Use& text(int i, const std::string& v) {
        c_.check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC), "bind");
        return *this;
    }
    Use& real(int i, double v) {
        c_.check(sqlite3_bind_double(s_, i, v), "bind");
        return *this;
    }
    Use& int64(int i, std::int64_t v) {
        c_.check(sqlite3_bind_int64(s_, i, v), "bind");
        return *this;
    }
    Use& null(int i) {
        c_.check(sqlite3_bind_null(s_, i), "bind");
        return *this;
    }
    /// True: a row is available; false: done. Throws SqliteError.
    bool step(const char* what) {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        c_.fail(what, rc);
    }
    std::string column_text(int i) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
    }
    bool column_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
    double column_real(int i) const { return sqlite3_column_double(s_, i); }
    std::int64_t column_int64(int i) const { return sqlite3_column_int64(s_, i); }

private:
    Connection& c_;
    sqlite3_stmt* s_;
};

void Connection::fail(const std::string& what, int rc) const {
    int code = db_ ? sqlite3_extended_errcode(db_) : rc;
    const char* message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (code == SQLITE_OK) code = rc;
    throw SqliteError("SqliteSessionService('" + path_ + "'): " + what + ": " + message + " (SQLite code " +
                          std::to_string(code) + ")",
                      code);
}

Json Connection::parse(const std::string& text, const std::string& what) const {
    try {
        return Json::parse(text);
    } catch (const Json::exception& e) {
        throw SqliteError("SqliteSessionService('" + path_ + "'): " + what + " is not valid JSON: " + e.what(),
                          SQLITE_CORRUPT);
    }
}

Event Connection::parse_event(const std::string& text, const std::string& session) const {
    Json j = parse(text, "an event of " + session);
    try {
        return j.get<Event>();
    } catch (const Json::exception& e) {
        throw SqliteError("SqliteSessionService('" + path_ + "'): an event of " + session +
                              " is not an ADK event: " + e.what(),
                          SQLITE_CORRUPT);
    }
}

void Connection::exec(const char* sql, const char* what) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return;
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    int code = sqlite3_extended_errcode(db_);
    throw SqliteError("SqliteSessionService('" + path_ + "'): " + what + ": " + message + " (SQLite code " +
                          std::to_string(code) + ")",
                      code);
}

sqlite3_stmt* Connection::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) fail(std::string("preparing \"") + sql + "\"", rc);
    statements_.push_back(s);
    return s;
}

void Connection::run(sqlite3_stmt* s, const char* what) {
    Use use(*this, s);
    use.step(what);
}

Connection::Connection(const std::string& path, const SqliteSessionOptions& options) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    try {
        if (rc != SQLITE_OK) {
            if (!db_) throw SqliteError("SqliteSessionService('" + path_ + "'): cannot open: out of memory", rc);
            fail("cannot open the database file", rc);
        }
        sqlite3_extended_result_codes(db_, 1);
        if (sqlite3_db_readonly(db_, "main") == 1)
            throw SqliteError("SqliteSessionService('" + path_ + "'): the file is read-only", SQLITE_READONLY);
        sqlite3_busy_timeout(db_, static_cast<int>(std::min<std::chrono::milliseconds::rep>(
                                      options.busy_timeout.count(), std::numeric_limits<int>::max())));
        // The first statement reads the header: a file that is not a
        // database fails here (SQLITE_NOTADB).
        {
            // Switching to WAL needs the file to itself: another connection
            // opening it at the same moment makes SQLite answer BUSY without
            // calling the busy handler, so retry (this runs on the service's
            // own thread) within the busy timeout.
            const auto give_up = std::chrono::steady_clock::now() + options.busy_timeout;
            int src = SQLITE_BUSY;
            std::string mode;
            while (true) {
                sqlite3_stmt* wal = nullptr;
                int prc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &wal, nullptr);
                if (prc != SQLITE_OK && (prc & 0xff) != SQLITE_BUSY) fail("cannot use the file", prc);
                src = prc == SQLITE_OK ? sqlite3_step(wal) : prc;
                if (src == SQLITE_ROW) {
                    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(wal, 0));
                    mode = p ? p : "";
                }
                sqlite3_finalize(wal);
                if ((src & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= give_up) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (src != SQLITE_ROW && src != SQLITE_DONE) fail("cannot use the file", src);
            if (mode != "wal" && mode != "memory")
                throw SqliteError("SqliteSessionService('" + path_ + "'): cannot switch the file to WAL mode (mode '" +
                                      mode + "')",
                                  SQLITE_ERROR);
        }
        exec(options.synchronous == SqliteSessionOptions::Synchronous::full ? "PRAGMA synchronous=FULL"
                                                                           : "PRAGMA synchronous=NORMAL",
             "setting synchronous");
        exec("PRAGMA foreign_keys=ON", "enabling foreign keys");

        // The schema: ours, created if the file is empty, refused if the file
        // holds someone else's tables.
        exec("BEGIN IMMEDIATE", "creating the tables");
        try {
            auto scalar = [this](const char* sql) -> std::optional<std::string> {
                sqlite3_stmt* s = nullptr;
                int prc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
                if (prc != SQLITE_OK) fail("reading the schema", prc);
                int src = sqlite3_step(s);
                std::optional<std::string> out;
                if (src == SQLITE_ROW) {
                    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
                    out = p ? p : "";
                }
                sqlite3_finalize(s);
                if (src != SQLITE_ROW && src != SQLITE_DONE) fail("reading the schema", src);
                return out;
            };
            std::optional<std::string> has_metadata =
                scalar("SELECT name FROM sqlite_master WHERE type='table' AND name='adk_internal_metadata'");
            if (has_metadata) {
                std::optional<std::string> version =
                    scalar("SELECT value FROM adk_internal_metadata WHERE key='schema_version'");
                if (!version || *version != kSchemaVersion)
                    throw SqliteError("SqliteSessionService('" + path_ + "'): the file's schema_version is '" +
                                          version.value_or("") + "', not '" + kSchemaVersion +
                                          "': it was written by another program (ADK's DatabaseSessionService?)",
                                      SQLITE_ERROR);
            } else {
                std::optional<std::string> other = scalar(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name IN "
                    "('sessions','events','app_states','user_states') LIMIT 1");
                if (other)
                    throw SqliteError("SqliteSessionService('" + path_ + "'): the file has a table '" + *other +
                                          "' but no adk_internal_metadata: it was not written by "
                                          "SqliteSessionService",
                                      SQLITE_ERROR);
            }
            exec(kSchema, "creating the tables");
            if (!has_metadata) {
                std::string insert = std::string("INSERT INTO adk_internal_metadata (key, value) VALUES "
                                                 "('schema_version', '") +
                                     kSchemaVersion + "')";
                exec(insert.c_str(), "creating the tables");
            }
            exec("COMMIT", "creating the tables");
        } catch (...) {
            rollback_quietly();
            throw;
        }

        begin_ = prepare("BEGIN");
        begin_immediate_ = prepare("BEGIN IMMEDIATE");
        commit_ = prepare("COMMIT");
        savepoint_ = prepare("SAVEPOINT request");
        release_ = prepare("RELEASE request");
        rollback_to_ = prepare("ROLLBACK TO request");
        select_session_ = prepare(
            "SELECT event_sequence, state, update_time FROM sessions WHERE app_name=?1 AND user_id=?2 AND id=?3");
        insert_session_ = prepare(
            "INSERT INTO sessions (app_name, user_id, id, state, create_time, update_time, event_sequence) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)");
        update_session_ = prepare(
            "UPDATE sessions SET event_sequence=?4, update_time=?5, state=coalesce(?6, state) "
            "WHERE app_name=?1 AND user_id=?2 AND id=?3");
        list_sessions_ = prepare(
            "SELECT id, update_time, event_sequence FROM sessions WHERE app_name=?1 AND user_id=?2 ORDER BY id");
        delete_session_ = prepare("DELETE FROM sessions WHERE app_name=?1 AND user_id=?2 AND id=?3");
        select_events_ = prepare(
            "SELECT event_data FROM events WHERE app_name=?1 AND user_id=?2 AND session_id=?3 "
            "AND (?4 IS NULL OR timestamp >= ?4) ORDER BY event_sequence DESC LIMIT ?5");
        insert_event_ = prepare(
            "INSERT INTO events (id, app_name, user_id, session_id, invocation_id, timestamp, event_data, "
            "event_sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        delete_events_ = prepare("DELETE FROM events WHERE app_name=?1 AND user_id=?2 AND session_id=?3");
        select_app_state_ = prepare("SELECT state FROM app_states WHERE app_name=?1");
        upsert_app_state_ = prepare(
            "INSERT INTO app_states (app_name, state, update_time) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (app_name) DO UPDATE SET state=excluded.state, update_time=excluded.update_time");
        select_user_state_ = prepare("SELECT state FROM user_states WHERE app_name=?1 AND user_id=?2");
        upsert_user_state_ = prepare(
            "INSERT INTO user_states (app_name, user_id, state, update_time) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (app_name, user_id) DO UPDATE SET state=excluded.state, update_time=excluded.update_time");
    } catch (...) {
        for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw;
    }
}

Connection::~Connection() {
    rollback_quietly();
    for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);  // the last connection checkpoints the WAL here
}

Json Connection::load_state(sqlite3_stmt* select, const std::string& app, const std::string* user) {
    Use q(*this, select);
    q.text(1, app);
    if (user) q.text(2, *user);
    if (!q.step("reading state") || q.column_null(0)) return Json::object();
    Json state = parse(q.column_text(0), user ? "the user state of '" + *user + "'" : "the app state of '" + app + "'");
    return state.is_object() ? state : Json::object();
}

void Connection::save_scope(sqlite3_stmt* select, sqlite3_stmt* upsert, const std::string& app,
                            const std::string* user, const Json& delta, double now) {
    Json state = load_state(select, app, user);
    update_state(state, delta);
    std::string text = state.dump();
    Use w(*this, upsert);
    w.text(1, app);
    int i = 2;
    if (user) w.text(i++, *user);
    w.text(i, text);
    w.real(i + 1, now);
    w.step("writing state");
}

Session Connection::create_session(const std::string& app, const std::string& user, const std::string& id,
                                   const Json& state, double now) {
    StateDeltaScopes scopes = split_state_delta(state);
    std::string session_state = scopes.session.dump();
    {
        Use w(*this, insert_session_);
        w.text(1, app).text(2, user).text(3, id).text(4, session_state).real(5, now);
        int rc = sqlite3_step(insert_session_);
        if (rc != SQLITE_DONE) {
            if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY)
                throw SessionExistsError(describe_session(app, user, id) + " already exists");
            fail("creating a session", rc);
        }
    }
    if (!scopes.app.empty()) save_scope(select_app_state_, upsert_app_state_, app, nullptr, scopes.app, now);
    if (!scopes.user.empty()) save_scope(select_user_state_, upsert_user_state_, app, &user, scopes.user, now);
    Session s;
    s.id = id;
    s.app_name = app;
    s.user_id = user;
    Json app_state = load_state(select_app_state_, app, nullptr);
    Json user_state = load_state(select_user_state_, app, &user);
    s.state = merge_state(std::move(scopes.session), app_state, user_state);
    s.last_update_time = now;
    s.version = 0;
    return s;
}

std::optional<Session> Connection::get_session(const std::string& app, const std::string& user,
                                               const std::string& id, const GetSessionConfig& config) {
    Session s;
    {
        Use q(*this, select_session_);
        q.text(1, app).text(2, user).text(3, id);
        if (!q.step("reading a session")) return std::nullopt;
        s.version = static_cast<std::uint64_t>(q.column_int64(0));
        s.state = q.column_null(1) ? Json::object()
                                   : parse(q.column_text(1), "the state of " + describe_session(app, user, id));
        s.last_update_time = q.column_real(2);
    }
    s.id = id;
    s.app_name = app;
    s.user_id = user;
    Json app_state = load_state(select_app_state_, app, nullptr);
    Json user_state = load_state(select_user_state_, app, &user);
    s.state = merge_state(std::move(s.state), app_state, user_state);
    {
        Use q(*this, select_events_);
        q.text(1, app).text(2, user).text(3, id);
        if (config.after_timestamp)
            q.real(4, *config.after_timestamp);
        else
            q.null(4);
        q.int64(5, config.num_recent_events ? static_cast<std::int64_t>(*config.num_recent_events) : -1);
        const std::string session = describe_session(app, user, id);
        std::vector<Event> newest_first;
        while (q.step("reading events")) newest_first.push_back(parse_event(q.column_text(0), session));
        std::reverse(newest_first.begin(), newest_first.end());
        s.events = EventList(std::move(newest_first));
    }
    return s;
}

ListSessionsResponse Connection::list_sessions(const std::string& app, const std::string& user) {
    ListSessionsResponse out;
    Use q(*this, list_sessions_);
    q.text(1, app).text(2, user);
    while (q.step("listing sessions")) {
        Session s;
        s.id = q.column_text(0);
        s.app_name = app;
        s.user_id = user;
        s.last_update_time = q.column_real(1);
        s.version = static_cast<std::uint64_t>(q.column_int64(2));
        out.sessions.push_back(std::move(s));
    }
    return out;
}

void Connection::delete_session(const std::string& app, const std::string& user, const std::string& id) {
    {
        Use w(*this, delete_events_);  // also without the foreign key's cascade
        w.text(1, app).text(2, user).text(3, id);
        w.step("deleting events");
    }
    Use w(*this, delete_session_);
    w.text(1, app).text(2, user).text(3, id);
    w.step("deleting a session");
}

std::uint64_t Connection::append_event(const std::string& app, const std::string& user, const std::string& id,
                                       std::uint64_t expected_version, const Event& event) {
    StateDeltaScopes scopes = split_state_delta(event.actions.state_delta);
    std::uint64_t stored_version = 0;
    std::optional<std::string> new_state;
    {
        Use q(*this, select_session_);
        q.text(1, app).text(2, user).text(3, id);
        if (!q.step("reading a session")) throw SessionNotFoundError(describe_session(app, user, id) + " not found");
        stored_version = static_cast<std::uint64_t>(q.column_int64(0));
        if (stored_version != expected_version) {
            Session copy;
            copy.app_name = app;
            copy.user_id = user;
            copy.id = id;
            copy.version = expected_version;
            check_session_version(copy, stored_version);
        }
        if (!scopes.session.empty()) {
            Json state = q.column_null(1)
                             ? Json::object()
                             : parse(q.column_text(1), "the state of " + describe_session(app, user, id));
            update_state(state, scopes.session);
            new_state = state.dump();
        }
    }
    std::uint64_t new_version = stored_version + 1;

    // The event as ADK's JSON, temp: keys left out.
    Json data = event;
    if (auto a = data.find("actions"); a != data.end())
        if (auto d = a->find("stateDelta"); d != a->end() && d->is_object())
            for (auto it = d->begin(); it != d->end();) {
                if (is_temp_key(it.key()))
                    it = d->erase(it);
                else
                    ++it;
            }
    std::string event_data = data.dump();
    {
        Use w(*this, insert_event_);
        w.text(1, event.id).text(2, app).text(3, user).text(4, id).text(5, event.invocation_id);
        w.real(6, event.timestamp).text(7, event_data).int64(8, static_cast<std::int64_t>(new_version));
        int rc = sqlite3_step(insert_event_);
        if (rc != SQLITE_DONE) {
            if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY)
                throw SqliteError("SqliteSessionService('" + path_ + "'): append_event: an event with id '" +
                                      event.id + "' is already stored in " + describe_session(app, user, id),
                                  SQLITE_CONSTRAINT_PRIMARYKEY);
            fail("storing an event", rc);
        }
    }
    {
        Use w(*this, update_session_);
        w.text(1, app).text(2, user).text(3, id).int64(4, static_cast<std::int64_t>(new_version));
        w.real(5, event.timestamp);
        if (new_state)
            w.text(6, *new_state);
        else
            w.null(6);
        w.step("updating a session");
    }
    if (!scopes.app.empty())
        save_scope(select_app_state_, upsert_app_state_, app, nullptr, scopes.app, event.timestamp);
    if (!scopes.user.empty())
        save_scope(select_user_state_, upsert_user_state_, app, &user, scopes.user, event.timestamp);
    return new_version;
}

// ---- Requests ------------------------------------------------------------------

enum class Phase : std::uint8_t { queued, taken, withdrawn };

class RequestWait;

struct Request {
    explicit Request(bool is_write) noexcept : write(is_write) {}
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;
    virtual ~Request() = default;
    /// On the service's thread; stores the result or throws.
    virtual void execute(Connection& c) = 0;

    const bool write;          // runs in the write transaction
    bool stop_after = false;   // aclose(): the thread stops after this batch
    std::atomic<Phase> phase{Phase::queued};
    aio::EventLoop* loop = nullptr;  // set before queuing
    std::exception_ptr error;        // written by the thread before delivery
    bool abandoned = false;          // guarded by Impl::deliver_mutex_
    // The loop's thread only:
    bool delivered = false;
    RequestWait* waiter = nullptr;
};

template <class R, class F>
struct CallRequest final : Request {
    CallRequest(bool is_write, F f) : Request(is_write), fn(std::move(f)) {}
    void execute(Connection& c) override { result.emplace(fn(c)); }
    F fn;
    std::optional<R> result;
};

template <class R, class F>
std::shared_ptr<CallRequest<R, F>> make_call(bool is_write, F fn) {
    return std::make_shared<CallRequest<R, F>>(is_write, std::move(fn));
}

struct AppendRequest final : Request {
    AppendRequest() : Request(true) {}
    void execute(Connection& c) override { new_version = c.append_event(app, user, id, expected_version, event); }
    std::string app, user, id;
    std::uint64_t expected_version = 0;
    Event event;  // moved back to the caller after delivery
    std::uint64_t new_version = 0;
};

/// The awaiter a coroutine suspends in until its request's outcome arrives.
///
/// Cancellation (cancel_wait): a request still queued is withdrawn (the
/// thread skips it) and the task resumes with CancelledError at once. A read
/// already picked up is abandoned the same way (its result is dropped). A
/// write already picked up cannot be recalled: cancel_wait returns false,
/// so the cancellation stays pending on the task (must_cancel) and is raised
/// by resume_here() when the outcome arrives; await_resume catches it and
/// hands it back beside the outcome, so the caller can first apply what was
/// committed. The wait lasts at most the transaction that holds the write.
class RequestWait final : public aio::detail::Suspension {
public:
    RequestWait(std::mutex& deliver_mutex, std::shared_ptr<Request> request) noexcept
        : deliver_mutex_(&deliver_mutex), request_(std::move(request)) {}
    RequestWait(const RequestWait&) = delete;
    RequestWait& operator=(const RequestWait&) = delete;
    ~RequestWait() {
        if (request_->waiter == this) give_up();  // the frame dies while waiting (its loop closes)
    }

    bool await_ready() const noexcept { return request_->delivered; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        request_->waiter = this;
        suspend_here(h, at);  // may call cancel_wait() at once
    }
    /// The outcome is in the request. Returns a cancellation that arrived
    /// while it was being executed (null if none); raises CancelledError if
    /// the wait was given up before the outcome.
    std::exception_ptr await_resume() {
        std::exception_ptr cancel;
        if (task_) {
            try {
                resume_here();
            } catch (const aio::CancelledError&) {
                cancel = std::current_exception();
            }
        }
        if (gave_up_) throw aio::CancelledError(task_->cancel_message());
        return cancel;
    }

    /// The outcome arrived (the loop's thread).
    void wake() {
        request_->waiter = nullptr;
        aio::detail::schedule_on(task_->loop(), task_);
    }

private:
    bool cancel_wait() override {
        if (request_->waiter != this) return false;  // delivered: the task is already scheduled
        Phase expected = Phase::queued;
        bool withdrawn = request_->phase.compare_exchange_strong(expected, Phase::withdrawn, std::memory_order_acq_rel);
        if (!withdrawn && request_->write) return false;  // in flight: see the class comment
        give_up();
        gave_up_ = true;
        aio::detail::schedule_on(task_->loop(), task_);
        return true;
    }
    void give_up() {
        request_->waiter = nullptr;
        Phase expected = Phase::queued;
        request_->phase.compare_exchange_strong(expected, Phase::withdrawn, std::memory_order_acq_rel);
        std::lock_guard lock(*deliver_mutex_);
        request_->abandoned = true;
    }

    std::mutex* deliver_mutex_;
    std::shared_ptr<Request> request_;
    bool gave_up_ = false;
};

/// A copy of an SqliteError that no other request shares. Each request
/// gets its own exception object: one shared by requests on several threads
/// would be freed by whichever drops it last, synchronized only by the
/// exception's reference count inside libstdc++ (which ThreadSanitizer
/// cannot see).
std::exception_ptr own_copy(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const SqliteError& s) {
        return std::make_exception_ptr(SqliteError(s.what(), s.code()));
    } catch (...) {
        return e;
    }
}

/// Raises what a finished request must raise: a cancellation that arrived
/// meanwhile first, then the request's own error.
void rethrow_outcome(const Request& r, const std::exception_ptr& cancel) {
    if (cancel) std::rethrow_exception(cancel);
    if (r.error) std::rethrow_exception(r.error);
}

}  // namespace

// ---- Impl: the queue and the thread ----------------------------------------------

class SqliteSessionService::Impl : public std::enable_shared_from_this<Impl> {
public:
    Impl(std::string path, Options options) : path_(std::move(path)), options_(options) {
        if (options_.max_batch == 0) options_.max_batch = 1;
        // The thread starts with asynchronous signals blocked (as aio's
        // executor threads): signals reach the loops' threads.
        sigset_t block, old;
        sigfillset(&block);
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&block, sig);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        try {
            thread_ = std::thread([this] { thread_main(); });
        } catch (...) {
            pthread_sigmask(SIG_SETMASK, &old, nullptr);
            throw;
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    ~Impl() { close(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    const std::string& path() const noexcept { return path_; }
    std::mutex& deliver_mutex() noexcept { return deliver_mutex_; }

    /// Accepts `r` from the running loop's task. SqliteError after close().
    ///
    /// Requests are not handed to the thread one by one: they wait in the
    /// loop's buffer until a callback queued with call_soon runs, i.e. until
    /// every task that was ready with the submitter has had its turn. A
    /// batch delivered to a loop wakes its tasks together; their next
    /// requests then reach the thread together, as one batch again, instead
    /// of trickling in while the thread is already committing the first.
    void submit(const std::shared_ptr<Request>& r) {
        aio::EventLoop& loop = aio::detail::running_loop_for("SqliteSessionService");
        r->loop = &loop;
        bool kick = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) throw closed_error();
            LoopBuffer& buffer = buffer_for(&loop);
            buffer.requests.push_back(r);
            kick = !std::exchange(buffer.kick_scheduled, true);
        }
        if (!kick) return;
        try {
            loop.call_soon(Kick(shared_from_this(), &loop));
        } catch (...) {
            flush(&loop);
        }
    }

    /// Hands the stop request to the thread (aclose): everything accepted
    /// before it runs first, nothing is accepted after it.
    void submit_last(const std::shared_ptr<Request>& r) {
        r->loop = &aio::detail::running_loop_for("SqliteSessionService");
        {
            std::lock_guard lock(mutex_);
            if (closed_) throw closed_error();
            closed_ = true;
            move_buffers_locked();
            queue_.push_back(r);
            queued_.store(queue_.size(), std::memory_order_relaxed);
        }
        cv_.notify_one();
    }

    SqliteError closed_error() const {
        return SqliteError("SqliteSessionService('" + path_ + "'): the service is closed", SQLITE_MISUSE);
    }

    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            stopping_ = true;
            move_buffers_locked();
        }
        cv_.notify_one();
        join();
    }

    void join() {
        std::lock_guard lock(join_mutex_);
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    }

    bool is_closed() {
        std::lock_guard lock(mutex_);
        return closed_;
    }

    Stats stats() const {
        Stats s;
        s.transactions = transactions_.load(std::memory_order_relaxed);
        s.writes = writes_.load(std::memory_order_relaxed);
        s.reads = reads_.load(std::memory_order_relaxed);
        s.taken = taken_.load(std::memory_order_relaxed);
        return s;
    }

    // Appends through one Session copy run one at a time (see append_event).
    /// Claims `copy`: null if claimed, else an event to wait for.
    std::shared_ptr<aio::Event> claim_copy(const Session* copy) {
        std::lock_guard lock(copies_mutex_);
        auto [it, inserted] = copies_.try_emplace(copy);
        if (inserted) return nullptr;
        if (!it->second) it->second = std::make_shared<aio::Event>();
        return it->second;
    }
    void release_copy(const Session* copy) {
        std::shared_ptr<aio::Event> waiting;
        {
            std::lock_guard lock(copies_mutex_);
            auto it = copies_.find(copy);
            if (it == copies_.end()) return;
            waiting = std::move(it->second);
            copies_.erase(it);
        }
        if (waiting) waiting->set();
    }

private:
    /// The callback that flushes a loop's buffer. If the loop closes before
    /// running it, its destructor flushes instead (the requests of frames
    /// that died meanwhile were withdrawn by their awaiters and are skipped).
    class Kick {
    public:
        Kick(std::shared_ptr<Impl> impl, aio::EventLoop* loop) noexcept : impl_(std::move(impl)), loop_(loop) {}
        Kick(Kick&& o) noexcept : impl_(std::move(o.impl_)), loop_(o.loop_) {}
        Kick& operator=(Kick&&) = delete;
        ~Kick() {
            if (impl_) impl_->flush(loop_);
        }
        void operator()() {
            std::shared_ptr<Impl> impl = std::move(impl_);
            impl->flush(loop_);
        }

    private:
        std::shared_ptr<Impl> impl_;
        aio::EventLoop* loop_;
    };

    /// Requests a loop's tasks submitted during the current loop iteration.
    struct LoopBuffer {
        aio::EventLoop* loop = nullptr;
        std::vector<std::shared_ptr<Request>> requests;
        bool kick_scheduled = false;
    };
    LoopBuffer& buffer_for(aio::EventLoop* loop) {
        for (LoopBuffer& b : buffers_)
            if (b.loop == loop) return b;
        buffers_.push_back(LoopBuffer{loop, {}, false});
        return buffers_.back();
    }
    /// The loop's buffered requests go to the thread (the loop's thread).
    void flush(aio::EventLoop* loop) noexcept {
        {
            std::lock_guard lock(mutex_);
            auto it = std::find_if(buffers_.begin(), buffers_.end(),
                                   [loop](const LoopBuffer& b) { return b.loop == loop; });
            if (it == buffers_.end()) return;
            // The entry goes: an idle loop keeps none (a later loop may
            // reuse the address).
            std::vector<std::shared_ptr<Request>> requests = std::move(it->requests);
            buffers_.erase(it);
            if (requests.empty()) return;  // close() took them
            for (std::shared_ptr<Request>& r : requests) queue_.push_back(std::move(r));
            queued_.store(queue_.size(), std::memory_order_relaxed);
            if (!thread_waiting_) return;
        }
        cv_.notify_one();
    }
    void move_buffers_locked() {
        for (LoopBuffer& b : buffers_) {
            for (std::shared_ptr<Request>& r : b.requests) queue_.push_back(std::move(r));
            b.requests.clear();
        }
        queued_.store(queue_.size(), std::memory_order_relaxed);
    }

    void thread_main();
    /// Executes the batch; true if the thread must stop after it.
    bool process(std::vector<std::shared_ptr<Request>>& batch);
    void run_reads(const std::vector<Request*>& reads);
    void run_writes(const std::vector<Request*>& writes);
    void deliver(std::vector<std::shared_ptr<Request>>& batch);

    std::string path_;
    Options options_;

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<LoopBuffer> buffers_;                // guarded by mutex_
    std::deque<std::shared_ptr<Request>> queue_;     // guarded by mutex_
    std::atomic<std::size_t> queued_{0};             // queue_.size(), read without the lock
    bool thread_waiting_ = false;
    bool closed_ = false;    // no new requests
    bool stopping_ = false;  // the thread stops once the queue is empty

    std::mutex deliver_mutex_;
    std::mutex join_mutex_;
    std::thread thread_;

    std::mutex copies_mutex_;
    std::unordered_map<const Session*, std::shared_ptr<aio::Event>> copies_;

    std::atomic<std::uint64_t> transactions_{0}, writes_{0}, reads_{0}, taken_{0};

    // The service's thread only:
    std::unique_ptr<Connection> connection_;
    std::exception_ptr open_error_;
};

void SqliteSessionService::Impl::thread_main() {
    pthread_setname_np(pthread_self(), "adk-sqlite");
    try {
        connection_ = std::make_unique<Connection>(path_, options_);
    } catch (...) {
        open_error_ = std::current_exception();
    }
    std::vector<std::shared_ptr<Request>> batch;
    while (true) {
        // A loop that got a batch back usually answers within microseconds
        // (its tasks append their next event): look for that briefly,
        // yielding the CPU, before sleeping on the condition variable — a
        // futex wake-up per batch costs more on a busy machine (the same
        // measurement as aio's executor workers).
        auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
        while (queued_.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < spin_until)
            std::this_thread::yield();
        {
            std::unique_lock lock(mutex_);
            thread_waiting_ = true;
            cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
            thread_waiting_ = false;
            if (queue_.empty()) break;  // stopping, and everything queued was done
            std::size_t n = std::min(queue_.size(), options_.max_batch);
            batch.assign(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
            queued_.store(queue_.size(), std::memory_order_relaxed);
        }
        bool stop = process(batch);
        // Close before the last delivery: aclose() joins the thread once it
        // is told, and the close (a WAL checkpoint) must not block its loop.
        if (stop) connection_.reset();
        deliver(batch);
        batch.clear();
        if (stop) break;
    }
    connection_.reset();
}

bool SqliteSessionService::Impl::process(std::vector<std::shared_ptr<Request>>& batch) {
    bool stop = false;
    std::vector<Request*> reads, writes;
    for (const std::shared_ptr<Request>& r : batch) {
        Phase expected = Phase::queued;
        if (!r->phase.compare_exchange_strong(expected, Phase::taken, std::memory_order_acq_rel)) continue;
        (r->write ? writes : reads).push_back(r.get());
        stop = stop || r->stop_after;
    }
    taken_.fetch_add(reads.size() + writes.size(), std::memory_order_relaxed);
    if (!connection_) {
        std::exception_ptr e = open_error_;
        if (!e) e = std::make_exception_ptr(closed_error());
        for (Request* r : reads) r->error = own_copy(e);
        for (Request* r : writes) r->error = own_copy(e);
        return stop;
    }
    // The requests of one batch were all waiting at the same time, so any
    // order is a valid one: reads first, on their own snapshot, so that no
    // read sees a write its transaction might still roll back.
    if (!reads.empty()) run_reads(reads);
    if (!writes.empty()) run_writes(writes);
    return stop;
}

void SqliteSessionService::Impl::run_reads(const std::vector<Request*>& reads) {
    Connection& c = *connection_;
    try {
        c.begin_read();
    } catch (...) {
        std::exception_ptr e = std::current_exception();
        for (Request* r : reads) r->error = own_copy(e);
        return;
    }
    for (Request* r : reads) {
        try {
            r->execute(c);
        } catch (...) {
            r->error = std::current_exception();
        }
    }
    try {
        c.commit();
    } catch (...) {
        c.rollback_quietly();  // the reads are done; their results stand
    }
    reads_.fetch_add(reads.size(), std::memory_order_relaxed);
}

void SqliteSessionService::Impl::run_writes(const std::vector<Request*>& writes) {
    Connection& c = *connection_;
    writes_.fetch_add(writes.size(), std::memory_order_relaxed);
    try {
        c.begin_write();
    } catch (...) {
        std::exception_ptr e = std::current_exception();
        for (Request* r : writes) r->error = own_copy(e);
        return;
    }
    // Each request in its own savepoint: a request that fails leaves no
    // trace and does not fail its neighbours.
    std::exception_ptr lost;  // the transaction itself failed
    for (Request* r : writes) {
        if (lost) {
            r->error = own_copy(lost);
            continue;
        }
        try {
            c.savepoint();
            r->execute(c);
            c.release();
            continue;
        } catch (...) {
            r->error = std::current_exception();
        }
        if (c.in_transaction()) {
            try {
                c.rollback_to();
                continue;
            } catch (...) {
            }
        }
        // SQLite rolled the whole transaction back (I/O error, disk full...)
        // or the savepoint could not be undone: nothing of the batch is stored.
        lost = r->error;
    }
    if (!lost) {
        try {
            c.commit();
            transactions_.fetch_add(1, std::memory_order_relaxed);
            return;
        } catch (...) {
            lost = std::current_exception();
        }
    }
    c.rollback_quietly();
    for (Request* r : writes)
        if (!r->error) r->error = own_copy(lost);
}

void SqliteSessionService::Impl::deliver(std::vector<std::shared_ptr<Request>>& batch) {
    // Under deliver_mutex_: a waiter that gives up (cancelled read, frame
    // destroyed when its loop closes) marks its request abandoned under the
    // same lock, so no outcome is ever posted to a loop that may be gone.
    std::lock_guard lock(deliver_mutex_);
    std::vector<std::pair<aio::EventLoop*, std::vector<std::shared_ptr<Request>>>> by_loop;
    for (std::shared_ptr<Request>& r : batch) {
        if (r->phase.load(std::memory_order_acquire) != Phase::taken || r->abandoned) continue;
        auto it = std::find_if(by_loop.begin(), by_loop.end(), [&](const auto& p) { return p.first == r->loop; });
        if (it == by_loop.end()) {
            by_loop.emplace_back(r->loop, std::vector<std::shared_ptr<Request>>{});
            it = by_loop.end() - 1;
        }
        it->second.push_back(std::move(r));
    }
    for (auto& [loop, requests] : by_loop) {
        try {
            loop->call_soon_threadsafe([requests = std::move(requests)]() mutable {
                // Moved out: the requests (their results, their exceptions)
                // are released on the loop's thread, which used them, not
                // wherever the callback object happens to die.
                std::vector<std::shared_ptr<Request>> delivered = std::move(requests);
                for (std::shared_ptr<Request>& r : delivered) {
                    r->delivered = true;
                    if (RequestWait* w = r->waiter) w->wake();
                }
            });
        } catch (...) {
            // The loop is closed: nobody there waits any more.
        }
    }
}

// ---- the service -------------------------------------------------------------------

SqliteSessionService::SqliteSessionService(std::string path) : SqliteSessionService(std::move(path), Options{}) {}

SqliteSessionService::SqliteSessionService(std::string path, Options options)
    : impl_(std::make_shared<Impl>(std::move(path), options)) {}

SqliteSessionService::~SqliteSessionService() { impl_->close(); }

const std::string& SqliteSessionService::path() const noexcept { return impl_->path(); }

void SqliteSessionService::close() { impl_->close(); }

SqliteSessionService::Stats SqliteSessionService::stats() const { return impl_->stats(); }

// Every coroutine below keeps the Impl alive in its frame and touches only
// the Impl, the request and its arguments after it suspends: the service
// object itself may be gone by then.

aio::Coro<> SqliteSessionService::ready() {
    std::shared_ptr<Impl> impl = impl_;
    auto call = [](Connection&) { return true; };
    auto request = make_call<bool>(false, std::move(call));
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    rethrow_outcome(*request, cancel);
}

aio::Coro<Session> SqliteSessionService::create_session(std::string app_name, std::string user_id, Json state,
                                                        std::string session_id) {
    std::shared_ptr<Impl> impl = impl_;
    if (session_id.empty()) session_id = new_uuid4();
    double now = now_seconds();
    auto call = [app = std::move(app_name), user = std::move(user_id), id = std::move(session_id),
                 state = std::move(state), now](Connection& c) { return c.create_session(app, user, id, state, now); };
    auto request = make_call<Session>(true, std::move(call));
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    rethrow_outcome(*request, cancel);
    co_return std::move(*request->result);
}

aio::Coro<std::optional<Session>> SqliteSessionService::get_session(std::string app_name, std::string user_id,
                                                                    std::string session_id, GetSessionConfig config) {
    std::shared_ptr<Impl> impl = impl_;
    auto call = [app = std::move(app_name), user = std::move(user_id), id = std::move(session_id),
                 config](Connection& c) { return c.get_session(app, user, id, config); };
    auto request = make_call<std::optional<Session>>(false, std::move(call));
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    rethrow_outcome(*request, cancel);
    co_return std::move(*request->result);
}

aio::Coro<ListSessionsResponse> SqliteSessionService::list_sessions(std::string app_name, std::string user_id) {
    std::shared_ptr<Impl> impl = impl_;
    auto call = [app = std::move(app_name), user = std::move(user_id)](Connection& c) {
        return c.list_sessions(app, user);
    };
    auto request = make_call<ListSessionsResponse>(false, std::move(call));
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    rethrow_outcome(*request, cancel);
    co_return std::move(*request->result);
}

aio::Coro<> SqliteSessionService::delete_session(std::string app_name, std::string user_id, std::string session_id) {
    std::shared_ptr<Impl> impl = impl_;
    auto call = [app = std::move(app_name), user = std::move(user_id), id = std::move(session_id)](Connection& c) {
        c.delete_session(app, user, id);
        return true;
    };
    auto request = make_call<bool>(true, std::move(call));
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    rethrow_outcome(*request, cancel);
}

namespace {

/// Holds the right to append through one Session copy; gives it back (and
/// wakes the next appender) when destroyed.
class CopyClaim {
public:
    CopyClaim(SqliteSessionService::Impl& impl, const Session* copy) noexcept : impl_(&impl), copy_(copy) {}
    CopyClaim(const CopyClaim&) = delete;
    CopyClaim& operator=(const CopyClaim&) = delete;
    ~CopyClaim();

private:
    SqliteSessionService::Impl* impl_;
    const Session* copy_;
};

CopyClaim::~CopyClaim() { impl_->release_copy(copy_); }

}  // namespace

aio::Coro<Event> SqliteSessionService::append_event(Session& session, Event event) {
    if (event.is_partial()) co_return event;
    std::shared_ptr<Impl> impl = impl_;
    // Appends through one copy wait for each other: each must start from the
    // version the previous one left in the copy.
    while (true) {
        std::shared_ptr<aio::Event> busy = impl->claim_copy(&session);
        if (!busy) break;
        co_await busy->wait();
    }
    CopyClaim claim(*impl, &session);

    auto request = std::make_shared<AppendRequest>();
    request->app = session.app_name;
    request->user = session.user_id;
    request->id = session.id;
    request->expected_version = session.version;
    request->event = std::move(event);
    impl->submit(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    // The request is done (the thread no longer touches it): take the event back.
    Event appended = std::move(request->event);
    if (request->error) {
        if (cancel) std::rethrow_exception(cancel);
        std::rethrow_exception(request->error);
    }
    apply_appended_event(session, appended, request->new_version);
    if (cancel) std::rethrow_exception(cancel);  // committed, and the copy says so
    co_return appended;
}

aio::Coro<> SqliteSessionService::aclose() {
    std::shared_ptr<Impl> impl = impl_;
    if (impl->is_closed()) {
        impl->close();  // already closing: join (quick once it was told)
        co_return;
    }
    auto call = [](Connection&) { return true; };
    auto request = make_call<bool>(true, std::move(call));
    request->stop_after = true;
    impl->submit_last(request);
    RequestWait wait(impl->deliver_mutex(), request);
    std::exception_ptr cancel = co_await wait;
    impl->join();  // the thread stops right after delivering this
    if (cancel) std::rethrow_exception(cancel);
}

}  // namespace adk
