// adk/sqlite_session_service.hpp — adk::SqliteSessionService: sessions in
// an SQLite file (ADK's DatabaseSessionService), never blocking the loop.
// Target adk::sqlite (links Debian's libsqlite3).
//
//   adk::SqliteSessionService sessions("/var/lib/app/sessions.db");
//   adk::Session s = co_await sessions.create_session("app", "u1");
//   co_await sessions.append_event(s, event);   // returns once committed
//
// Semantics are InMemorySessionService's (adk/session.hpp): state scopes
// (app:, user:, temp: never stored), partial events not stored, a
// monotonic version per session (StaleSessionError for a stale copy),
// SessionNotFoundError, SessionExistsError. Everything survives a process
// restart.
//
// Storage: ADK's tables and columns (sessions, events, app_states,
// user_states, adk_internal_metadata), with an event stored whole as ADK's
// camelCase JSON text in events.event_data (ADK's v1 schema; its v0 used
// pickle) beside its indexed columns; the version is sessions.
// event_sequence. Timestamps are REAL seconds since the epoch. The file is
// in WAL mode. docs/sessions.md has the schema.
//
// Threads: one thread per service owns the connection and runs every SQLite
// call; the coroutines queue a request and suspend until the thread hands
// the outcome back to their loop (call_soon_threadsafe). Any number of loops
// may share one service. A loop's requests reach the thread once per loop
// iteration, and requests that queue up while a transaction runs are
// executed together in the next one (group commit); an append completes
// only after the transaction holding it committed (durable against a crash
// of the process; with Synchronous::full also against a power failure).
//
// Cancellation (one line each):
//   - append_event: if the request has not been picked up yet it is
//     withdrawn (nothing stored, the copy unchanged); if its transaction is
//     already running, the cancellation waits for the outcome (one
//     transaction at most): a committed event is applied to the copy, then
//     CancelledError is raised. Either way the copy matches the store.
//   - create_session / delete_session: same rule (withdrawn, or done and then
//     CancelledError: a created session then exists though nobody got it).
//   - append_event waiting for an earlier append through the same copy:
//     nothing started, nothing stored.
//   - get_session / list_sessions / ready: stop waiting at once; the read
//     runs or not, its result is dropped.
//   - aclose: the service is closed to new calls anyway; close() or the
//     destructor joins the thread.
//
// Failures: SqliteError (a std::runtime_error naming the file and SQLite's
// message) for a path that cannot be opened or written, a file that is not
// an SQLite database or not one of ours, and any later SQLite failure. The
// constructor never blocks: the file is opened on the service's thread and
// an open failure is raised by ready() and by every call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "adk/session.hpp"

namespace adk {

/// An SQLite failure: what was attempted, the file and SQLite's message.
class SqliteError : public std::runtime_error {
public:
    SqliteError(const std::string& message, int code) : std::runtime_error(message), code_(code) {}
    /// SQLite's (extended) result code, e.g. 14 (SQLITE_CANTOPEN), 26
    /// (SQLITE_NOTADB); 21 (SQLITE_MISUSE) for a call after close().
    int code() const noexcept { return code_; }

private:
    int code_;
};

struct SqliteSessionOptions {
    /// PRAGMA synchronous. normal (WAL's usual setting): a committed event
    /// survives a crash of the process; the last commits may be lost on a
    /// power failure. full: also survives a power failure (one fsync per
    /// transaction; group commit amortizes it).
    enum class Synchronous { normal, full };
    Synchronous synchronous = Synchronous::normal;
    /// Most requests executed in one transaction.
    std::size_t max_batch = 512;
    /// How long a transaction waits for another process holding the write
    /// lock before failing with SqliteError (SQLITE_BUSY).
    std::chrono::milliseconds busy_timeout{5000};
};

class SqliteSessionService final : public SessionService {
public:
    using Options = SqliteSessionOptions;

    /// Starts the service's thread, which opens (or creates) `path` and its
    /// tables. Does not block; see ready(). ":memory:" gives a private
    /// in-memory database (no WAL; for tests).
    explicit SqliteSessionService(std::string path);
    SqliteSessionService(std::string path, Options options);
    SqliteSessionService(const SqliteSessionService&) = delete;
    SqliteSessionService& operator=(const SqliteSessionService&) = delete;
    /// close().
    ~SqliteSessionService() override;

    const std::string& path() const noexcept;

    /// Completes once the database is open and its tables exist; raises the
    /// open failure (SqliteError) if there was one.
    aio::Coro<> ready();

    aio::Coro<Session> create_session(std::string app_name, std::string user_id, Json state = Json::object(),
                                      std::string session_id = {}) override;
    aio::Coro<std::optional<Session>> get_session(std::string app_name, std::string user_id, std::string session_id,
                                                  GetSessionConfig config = {}) override;
    /// Sessions without events or state (as InMemorySessionService), by id.
    aio::Coro<ListSessionsResponse> list_sessions(std::string app_name, std::string user_id) override;
    /// Deletes the session and its events (app and user state stay).
    aio::Coro<> delete_session(std::string app_name, std::string user_id, std::string session_id) override;
    /// Returns once the transaction holding the event committed. An event id
    /// already stored in that session is refused (SqliteError; ADK's
    /// primary key), unlike the in-memory service.
    aio::Coro<Event> append_event(Session& session, Event event) override;

    /// Executes what is queued, then closes the database and joins the
    /// thread. Blocks the calling thread for at most the transactions still
    /// queued. Later calls raise SqliteError (SQLITE_MISUSE). Idempotent.
    void close();
    /// As close(), but waits for the queued work without blocking the loop.
    aio::Coro<> aclose();

    /// Counters, for tests and benchmarks (any thread).
    struct Stats {
        std::uint64_t transactions = 0;  ///< write transactions committed
        std::uint64_t writes = 0;        ///< write requests executed (committed or failed)
        std::uint64_t reads = 0;         ///< read requests executed
        std::uint64_t taken = 0;         ///< requests picked up by the thread
    };
    Stats stats() const;

    class Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace adk
