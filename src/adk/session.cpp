// adk::Session JSON and adk::InMemorySessionService (adk/session.hpp).
#include "adk/session.hpp"

#include <algorithm>

#include "adk/state.hpp"

namespace adk {

namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
    return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

std::string describe(const std::string& app, const std::string& user, const std::string& id) {
    return describe_session(app, user, id);
}

}  // namespace

// ---- shared rules -------------------------------------------------------------

StateDeltaScopes split_state_delta(const Json& delta) {
    StateDeltaScopes out;
    if (!delta.is_object()) return out;
    for (auto it = delta.begin(); it != delta.end(); ++it) {
        const std::string& key = it.key();
        if (starts_with(key, State::kTempPrefix)) continue;
        if (starts_with(key, State::kAppPrefix))
            out.app[key.substr(State::kAppPrefix.size())] = it.value();
        else if (starts_with(key, State::kUserPrefix))
            out.user[key.substr(State::kUserPrefix.size())] = it.value();
        else
            out.session[key] = it.value();
    }
    return out;
}

void update_state(Json& state, const Json& delta) {
    if (!state.is_object()) state = Json::object();
    if (!delta.is_object()) return;
    for (auto it = delta.begin(); it != delta.end(); ++it) state[it.key()] = it.value();
}

Json merge_state(Json session_state, const Json& app_state, const Json& user_state) {
    if (!session_state.is_object()) session_state = Json::object();
    if (app_state.is_object())
        for (auto it = app_state.begin(); it != app_state.end(); ++it)
            session_state[std::string(State::kAppPrefix) + it.key()] = it.value();
    if (user_state.is_object())
        for (auto it = user_state.begin(); it != user_state.end(); ++it)
            session_state[std::string(State::kUserPrefix) + it.key()] = it.value();
    return session_state;
}

namespace {
/// strip_temp_state would change `event`: temp: keys, or an empty delta
/// object (stored as null).
bool needs_stripping(const Event& event) {
    const Json& delta = event.actions.state_delta;
    if (!delta.is_object()) return false;
    if (delta.empty()) return true;
    for (auto it = delta.begin(); it != delta.end(); ++it)
        if (starts_with(it.key(), State::kTempPrefix)) return true;
    return false;
}
}  // namespace

void strip_temp_state(Event& event) {
    Json& delta = event.actions.state_delta;
    if (!delta.is_object()) return;
    for (auto it = delta.begin(); it != delta.end();) {
        if (starts_with(it.key(), State::kTempPrefix))
            it = delta.erase(it);
        else
            ++it;
    }
    if (delta.empty()) delta = Json();  // stored events keep no empty object (written as {} all the same)
}

std::string describe_session(const std::string& app_name, const std::string& user_id, const std::string& session_id) {
    return "session '" + session_id + "' (app '" + app_name + "', user '" + user_id + "')";
}

void check_session_version(const Session& copy, std::uint64_t stored_version) {
    if (copy.version == stored_version) return;
    throw StaleSessionError("append_event: stale " + describe_session(copy.app_name, copy.user_id, copy.id) +
                            ": this copy is at version " + std::to_string(copy.version) +
                            " but the stored session is at version " + std::to_string(stored_version) +
                            " (another writer appended events since it was read; get_session() again)");
}

void apply_appended_event(Session& copy, std::shared_ptr<const Event> event, std::uint64_t new_version) {
    // The caller's copy sees every key, temp: included, for the rest of the invocation.
    const double timestamp = event->timestamp;
    update_state(copy.state, event->actions.state_delta);
    copy.events.push_back(std::move(event));  // first: if it throws, the copy stays at its old version
    copy.last_update_time = timestamp;
    copy.version = new_version;
}

void apply_appended_event(Session& copy, const Event& event, std::uint64_t new_version) {
    apply_appended_event(copy, std::make_shared<const Event>(event), new_version);
}

void filter_events(EventList& events, const GetSessionConfig& config) {
    if (config.after_timestamp) {
        const double t = *config.after_timestamp;
        // Timestamps normally grow along the history: then the events kept
        // are a suffix and stay where they are.
        std::size_t first = events.size();
        while (first > 0 && events[first - 1].timestamp >= t) --first;
        bool suffix = true;
        for (std::size_t i = 0; i < first && suffix; ++i) suffix = events[i].timestamp < t;
        if (suffix) {
            events.keep_range(first, events.size());
        } else {
            EventList kept;
            for (std::size_t i = 0; i < events.size(); ++i)
                if (events[i].timestamp >= t) kept.push_back(events.shared(i));
            events = std::move(kept);
        }
    }
    if (config.num_recent_events && events.size() > *config.num_recent_events)
        events.keep_range(events.size() - *config.num_recent_events, events.size());
}

void to_json(Json& j, const Session& v) {
    j = Json::object();
    j["id"] = v.id;
    j["appName"] = v.app_name;
    j["userId"] = v.user_id;
    j["state"] = v.state.is_object() ? v.state : Json::object();
    Json events = Json::array();
    for (const Event& e : v.events) events.push_back(e);
    j["events"] = std::move(events);
    j["lastUpdateTime"] = v.last_update_time;
}

void from_json(const Json& j, Session& v) {
    v = Session{};
    if (const Json* x = detail::find_key(j, "id", nullptr)) v.id = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "appName", "app_name")) v.app_name = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "userId", "user_id")) v.user_id = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "state", nullptr)) v.state = *x;
    if (const Json* x = detail::find_key(j, "events", nullptr))
        for (const Json& e : *x) v.events.push_back(e.get<Event>());
    if (const Json* x = detail::find_key(j, "lastUpdateTime", "last_update_time")) v.last_update_time = x->get<double>();
}

// ---- InMemorySessionService -------------------------------------------------

Session* InMemorySessionService::find(const std::string& app, const std::string& user, const std::string& id) {
    auto a = sessions_.find(app);
    if (a == sessions_.end()) return nullptr;
    auto u = a->second.find(user);
    if (u == a->second.end()) return nullptr;
    auto s = u->second.find(id);
    return s == u->second.end() ? nullptr : &s->second;
}

const Session* InMemorySessionService::find(const std::string& app, const std::string& user,
                                            const std::string& id) const {
    return const_cast<InMemorySessionService*>(this)->find(app, user, id);
}

Session InMemorySessionService::merged_copy(const Session& stored, const GetSessionConfig& config) const {
    static const Json empty = Json::object();
    const Json* app = &empty;
    const Json* user = &empty;
    if (auto a = app_state_.find(stored.app_name); a != app_state_.end()) app = &a->second;
    if (auto a = user_state_.find(stored.app_name); a != user_state_.end())
        if (auto u = a->second.find(stored.user_id); u != a->second.end()) user = &u->second;
    Session copy;
    copy.id = stored.id;
    copy.app_name = stored.app_name;
    copy.user_id = stored.user_id;
    copy.state = merge_state(stored.state, *app, *user);
    copy.last_update_time = stored.last_update_time;
    copy.version = stored.version;
    copy.events = stored.events;  // shared, not copied
    filter_events(copy.events, config);
    return copy;
}

void InMemorySessionService::apply_delta(Session& stored, const Json& delta) {
    StateDeltaScopes scopes = split_state_delta(delta);
    if (!scopes.app.empty()) update_state(app_state_[stored.app_name], scopes.app);
    if (!scopes.user.empty()) update_state(user_state_[stored.app_name][stored.user_id], scopes.user);
    // The stored state stays null (no allocation) until a key is set.
    if (!scopes.session.empty()) update_state(stored.state, scopes.session);
}

Session InMemorySessionService::create_session_now(const std::string& app_name, const std::string& user_id, Json state,
                                                   std::string session_id) {
    if (session_id.empty()) session_id = new_uuid4();
    if (find(app_name, user_id, session_id))
        throw SessionExistsError(describe(app_name, user_id, session_id) + " already exists");
    Session s;
    s.id = session_id;
    s.app_name = app_name;
    s.user_id = user_id;
    s.state = Json();  // null until a key is set: merged_copy hands out {}
    s.last_update_time = now_seconds();
    apply_delta(s, state);
    Session& stored = sessions_[app_name][user_id][session_id] = std::move(s);
    return merged_copy(stored, GetSessionConfig{});
}

std::optional<Session> InMemorySessionService::get_session_now(const std::string& app_name, const std::string& user_id,
                                                               const std::string& session_id,
                                                               const GetSessionConfig& config) const {
    const Session* stored = find(app_name, user_id, session_id);
    if (!stored) return std::nullopt;
    return merged_copy(*stored, config);
}

Event InMemorySessionService::append_event_now(Session& session, Event event) {
    if (event.is_partial()) return event;
    Session* stored = find(session.app_name, session.user_id, session.id);
    if (!stored) throw SessionNotFoundError(describe(session.app_name, session.user_id, session.id) + " not found");
    check_session_version(session, stored->version);
    apply_delta(*stored, event.actions.state_delta);
    // One node for the store and the caller's copy, unless temp: keys
    // must be stripped from the stored one; the event itself is handed back.
    auto node = std::make_shared<const Event>(event);
    std::shared_ptr<const Event> stored_node = node;
    if (needs_stripping(event)) {
        Event stripped = event;
        strip_temp_state(stripped);
        stored_node = std::make_shared<const Event>(std::move(stripped));
    }
    stored->events.push_back(std::move(stored_node));
    stored->last_update_time = event.timestamp;
    ++stored->version;
    apply_appended_event(session, std::move(node), stored->version);
    return event;
}

aio::Coro<Session> InMemorySessionService::create_session(std::string app_name, std::string user_id, Json state,
                                                          std::string session_id) {
    co_return create_session_now(app_name, user_id, std::move(state), std::move(session_id));
}

aio::Coro<std::optional<Session>> InMemorySessionService::get_session(std::string app_name, std::string user_id,
                                                                      std::string session_id, GetSessionConfig config) {
    co_return get_session_now(app_name, user_id, session_id, config);
}

aio::Coro<ListSessionsResponse> InMemorySessionService::list_sessions(std::string app_name, std::string user_id) {
    ListSessionsResponse out;
    if (auto a = sessions_.find(app_name); a != sessions_.end())
        if (auto u = a->second.find(user_id); u != a->second.end())
            for (const auto& [id, s] : u->second) {
                Session copy;
                copy.id = s.id;
                copy.app_name = s.app_name;
                copy.user_id = s.user_id;
                copy.last_update_time = s.last_update_time;
                copy.version = s.version;
                out.sessions.push_back(std::move(copy));
            }
    co_return out;
}

aio::Coro<> InMemorySessionService::delete_session(std::string app_name, std::string user_id, std::string session_id) {
    if (auto a = sessions_.find(app_name); a != sessions_.end())
        if (auto u = a->second.find(user_id); u != a->second.end()) u->second.erase(session_id);
    co_return;
}

aio::Coro<Event> InMemorySessionService::append_event(Session& session, Event event) {
    co_return append_event_now(session, std::move(event));
}

}  // namespace adk
