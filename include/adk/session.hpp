// adk/session.hpp — adk::Session, adk::SessionService (ADK's
// BaseSessionService) and adk::InMemorySessionService.
//
// A Session is a value: get_session() hands out a copy, and the copy is what
// an invocation works on. append_event(session, event) persists the event
// and applies its state_delta to the stored session *and* to the caller's
// copy:
//   - `app:k` / `user:k` go to the app-wide / per-user state (shared by all
//     sessions; merged back, prefixed, by get_session),
//   - `temp:k` is applied to the caller's copy only (visible for the rest of
//     the invocation) and stripped from the stored event: never persisted,
//   - other keys go to the session's own state.
// Partial events are returned unchanged and never stored.
//
// Versions (where we deviate from ADK on purpose): every stored session has
// a monotonic `version`, bumped by each append. A copy records the version
// it was read at; appending through a copy whose version is behind the
// store raises StaleSessionError instead of silently interleaving two
// writers' histories (ADK compares wall-clock timestamps, or reloads and
// interleaves).
//
// Cancellation: the in-memory service never suspends; each call completes
// in one step, so a cancellation cannot leave it half-done.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adk/event.hpp"
#include "aio/coro.hpp"

namespace adk {

struct Session {
    std::string id;
    std::string app_name;
    std::string user_id;
    Json state = Json::object();
    std::vector<Event> events;
    double last_update_time = 0;
    /// Monotonic: 0 at creation, +1 per appended event. Not on the wire.
    std::uint64_t version = 0;
};

/// {id, appName, userId, state, events, lastUpdateTime}.
void to_json(Json& j, const Session& v);
void from_json(const Json& j, Session& v);

struct GetSessionConfig {
    /// Keep only the last N events (ADK: 0 also keeps none).
    std::optional<std::size_t> num_recent_events;
    /// Keep only events with timestamp >= this.
    std::optional<double> after_timestamp;
};

struct ListSessionsResponse {
    std::vector<Session> sessions;  // without events
};

/// The session was modified through another copy since this one was read.
class StaleSessionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
/// No session with that (app, user, id).
class SessionNotFoundError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
/// create_session with an id that exists.
class SessionExistsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// ADK's BaseSessionService; every method is a coroutine.
class SessionService {
public:
    virtual ~SessionService() = default;

    /// Creates a session; `session_id` empty: a uuid4 is generated.
    /// SessionExistsError if the id is taken. `state` may hold app:/user:
    /// keys, applied to the shared scopes.
    virtual aio::Coro<Session> create_session(std::string app_name, std::string user_id, Json state = Json::object(),
                                              std::string session_id = {}) = 0;
    /// A copy of the session (app and user state merged in), or nullopt.
    virtual aio::Coro<std::optional<Session>> get_session(std::string app_name, std::string user_id,
                                                          std::string session_id, GetSessionConfig config = {}) = 0;
    virtual aio::Coro<ListSessionsResponse> list_sessions(std::string app_name, std::string user_id) = 0;
    /// Deleting an unknown session does nothing.
    virtual aio::Coro<> delete_session(std::string app_name, std::string user_id, std::string session_id) = 0;
    /// Persists `event` (see the header comment) and appends it to `session`.
    /// Returns the event as appended. StaleSessionError, SessionNotFoundError.
    /// `session` must stay alive until the call completes.
    virtual aio::Coro<Event> append_event(Session& session, Event event) = 0;
};

class InMemorySessionService final : public SessionService {
public:
    aio::Coro<Session> create_session(std::string app_name, std::string user_id, Json state = Json::object(),
                                      std::string session_id = {}) override;
    aio::Coro<std::optional<Session>> get_session(std::string app_name, std::string user_id, std::string session_id,
                                                  GetSessionConfig config = {}) override;
    aio::Coro<ListSessionsResponse> list_sessions(std::string app_name, std::string user_id) override;
    aio::Coro<> delete_session(std::string app_name, std::string user_id, std::string session_id) override;
    aio::Coro<Event> append_event(Session& session, Event event) override;

    // Synchronous forms of the above (the coroutines call these).
    Session create_session_now(const std::string& app_name, const std::string& user_id, Json state,
                               std::string session_id);
    std::optional<Session> get_session_now(const std::string& app_name, const std::string& user_id,
                                           const std::string& session_id, const GetSessionConfig& config) const;
    Event append_event_now(Session& session, Event event);

private:
    Session* find(const std::string& app, const std::string& user, const std::string& id);
    const Session* find(const std::string& app, const std::string& user, const std::string& id) const;
    Session merged_copy(const Session& stored) const;
    /// Applies app:/user:/session keys of `delta` to the stored scopes.
    void apply_delta(Session& stored, const Json& delta);

    // app -> user -> id -> session
    std::map<std::string, std::map<std::string, std::map<std::string, Session>>> sessions_;
    std::map<std::string, Json> app_state_;                           // app -> {k: v}, unprefixed
    std::map<std::string, std::map<std::string, Json>> user_state_;  // app -> user -> {k: v}
};

}  // namespace adk
