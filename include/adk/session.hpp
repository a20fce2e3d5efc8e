// adk/session.hpp — adk::Session, adk::SessionService (ADK's
// BaseSessionService) and adk::InMemorySessionService.
//
// A Session is a value: get_session() hands out a copy, and the copy is what
// an invocation works on. Copies are cheap: the events are an adk::EventList,
// shared by the store and every copy, never copied (adk/event_list.hpp).
// append_event(session, event) persists the event and applies its
// state_delta to the stored session *and* to the caller's copy:
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
// Appends through one copy are applied in the order they were started,
// also when they overlap (a backend that suspends, such as
// SqliteSessionService, makes a second append through the same copy wait
// for the first).
//
// Cancellation: the in-memory service never suspends; each call completes
// in one step, so a cancellation cannot leave it half-done. A backend that
// suspends guarantees: a cancelled append_event either stored the event
// and updated the caller's copy, or did neither (docs/sessions.md).
//
// Backends: InMemorySessionService (here), SqliteSessionService
// (adk/sqlite_session_service.hpp, target adk::sqlite). docs/sessions.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adk/event.hpp"
#include "adk/event_list.hpp"
#include "aio/coro.hpp"

namespace adk {

struct Session {
    std::string id;
    std::string app_name;
    std::string user_id;
    Json state = Json::object();
    EventList events;
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

// ---- The rules every SessionService applies (shared by the in-memory and
// the SQLite services; use them to write another backend) -----------------

/// A state delta split by scope (ADK's _extract_state_delta): `app:` and
/// `user:` keys with their prefix stripped, session keys as they are; `temp:`
/// keys are dropped (never persisted).
struct StateDeltaScopes {
    Json app = Json::object();
    Json user = Json::object();
    Json session = Json::object();
};
/// Splits `delta` (a JSON object; anything else counts as empty).
StateDeltaScopes split_state_delta(const Json& delta);

/// Sets each key of `delta` in `state` (one level: a value replaces the old
/// one, objects are not merged), as ADK's `state[key] = value`.
void update_state(Json& state, const Json& delta);

/// The state get_session hands out: the session's own keys plus the app
/// and user keys with their prefixes put back (ADK's _merge_state).
Json merge_state(Json session_state, const Json& app_state, const Json& user_state);

/// `event` as it is stored: its `temp:` state keys removed.
void strip_temp_state(Event& event);

/// "session 's1' (app 'a', user 'u')", for error messages.
std::string describe_session(const std::string& app_name, const std::string& user_id, const std::string& session_id);

/// Raises StaleSessionError unless `copy.version == stored_version`.
void check_session_version(const Session& copy, std::uint64_t stored_version);

/// What a successful append does to the caller's copy: every key of the
/// event's delta (temp: included) set in its state, the event appended,
/// last_update_time = the event's timestamp, version = `new_version`.
void apply_appended_event(Session& copy, const Event& event, std::uint64_t new_version);
/// The same, sharing `event` (the node the store holds, when it is the same).
void apply_appended_event(Session& copy, std::shared_ptr<const Event> event, std::uint64_t new_version);

/// Applies GetSessionConfig to events in order: after_timestamp first (keep
/// timestamp >= it), then num_recent_events (keep the last N). The events
/// kept stay shared.
void filter_events(EventList& events, const GetSessionConfig& config);

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
    /// The session as get_session hands it out: state merged, the events
    /// `config` keeps shared with the store.
    Session merged_copy(const Session& stored, const GetSessionConfig& config) const;
    /// Applies app:/user:/session keys of `delta` to the stored scopes.
    void apply_delta(Session& stored, const Json& delta);

    // app -> user -> id -> session
    std::map<std::string, std::map<std::string, std::map<std::string, Session>>> sessions_;
    std::map<std::string, Json> app_state_;                           // app -> {k: v}, unprefixed
    std::map<std::string, std::map<std::string, Json>> user_state_;  // app -> user -> {k: v}
};

}  // namespace adk
