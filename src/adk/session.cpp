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
    return "session '" + id + "' (app '" + app + "', user '" + user + "')";
}

}  // namespace

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

Session InMemorySessionService::merged_copy(const Session& stored) const {
    Session copy = stored;
    if (auto a = app_state_.find(stored.app_name); a != app_state_.end())
        for (auto it = a->second.begin(); it != a->second.end(); ++it)
            copy.state[std::string(State::kAppPrefix) + it.key()] = it.value();
    if (auto a = user_state_.find(stored.app_name); a != user_state_.end())
        if (auto u = a->second.find(stored.user_id); u != a->second.end())
            for (auto it = u->second.begin(); it != u->second.end(); ++it)
                copy.state[std::string(State::kUserPrefix) + it.key()] = it.value();
    return copy;
}

void InMemorySessionService::apply_delta(Session& stored, const Json& delta) {
    if (!delta.is_object()) return;
    for (auto it = delta.begin(); it != delta.end(); ++it) {
        const std::string& key = it.key();
        if (starts_with(key, State::kTempPrefix)) continue;
        if (starts_with(key, State::kAppPrefix)) {
            Json& app = app_state_[stored.app_name];
            if (!app.is_object()) app = Json::object();
            app[key.substr(State::kAppPrefix.size())] = it.value();
        } else if (starts_with(key, State::kUserPrefix)) {
            Json& user = user_state_[stored.app_name][stored.user_id];
            if (!user.is_object()) user = Json::object();
            user[key.substr(State::kUserPrefix.size())] = it.value();
        } else {
            stored.state[key] = it.value();
        }
    }
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
    s.state = Json::object();
    s.last_update_time = now_seconds();
    apply_delta(s, state);
    Session& stored = sessions_[app_name][user_id][session_id] = std::move(s);
    return merged_copy(stored);
}

std::optional<Session> InMemorySessionService::get_session_now(const std::string& app_name, const std::string& user_id,
                                                               const std::string& session_id,
                                                               const GetSessionConfig& config) const {
    const Session* stored = find(app_name, user_id, session_id);
    if (!stored) return std::nullopt;
    Session copy = merged_copy(*stored);
    if (config.after_timestamp) {
        double t = *config.after_timestamp;
        std::erase_if(copy.events, [t](const Event& e) { return e.timestamp < t; });
    }
    if (config.num_recent_events && copy.events.size() > *config.num_recent_events)
        copy.events.erase(copy.events.begin(),
                          copy.events.end() - static_cast<std::ptrdiff_t>(*config.num_recent_events));
    return copy;
}

Event InMemorySessionService::append_event_now(Session& session, Event event) {
    if (event.is_partial()) return event;
    Session* stored = find(session.app_name, session.user_id, session.id);
    if (!stored) throw SessionNotFoundError(describe(session.app_name, session.user_id, session.id) + " not found");
    if (session.version != stored->version)
        throw StaleSessionError("append_event: stale " + describe(session.app_name, session.user_id, session.id) +
                                ": this copy is at version " + std::to_string(session.version) +
                                " but the stored session is at version " + std::to_string(stored->version) +
                                " (another writer appended events since it was read; get_session() again)");
    // The caller's copy sees every key, temp: included, for the rest of the invocation.
    if (event.actions.state_delta.is_object())
        for (auto it = event.actions.state_delta.begin(); it != event.actions.state_delta.end(); ++it)
            session.state[it.key()] = it.value();
    apply_delta(*stored, event.actions.state_delta);
    Event persisted = event;
    if (persisted.actions.state_delta.is_object())
        for (auto it = persisted.actions.state_delta.begin(); it != persisted.actions.state_delta.end();) {
            if (starts_with(it.key(), State::kTempPrefix)) it = persisted.actions.state_delta.erase(it);
            else ++it;
        }
    stored->events.push_back(std::move(persisted));
    stored->last_update_time = event.timestamp;
    ++stored->version;
    session.events.push_back(event);
    session.last_update_time = event.timestamp;
    session.version = stored->version;
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
