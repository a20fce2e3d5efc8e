// adk/state.hpp — adk::State: a session's state seen through a pending
// delta, and the key scopes.
//
// Keys without a prefix belong to the session. `app:k` is shared by every
// session of the app, `user:k` by every session of the (app, user) pair,
// `temp:k` lives only for the current invocation and is never persisted.
//
// A State writes to its delta only (the EventActions of the event being
// built); reads look at the delta first, then at the session's state. The
// session's own state changes only when SessionService::append_event applies
// the event's delta — so a cancelled invocation leaves no half-applied
// state behind (ADK also writes into the session object directly).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "adk/content.hpp"

namespace adk {

class State {
public:
    static constexpr std::string_view kAppPrefix = "app:";
    static constexpr std::string_view kUserPrefix = "user:";
    static constexpr std::string_view kTempPrefix = "temp:";

    /// `value` is the session's state (read-only here); writes go to `delta`.
    State(const Json& value, Json& delta) noexcept : value_(&value), delta_(&delta) {}

    /// The value of `key` (delta first), or nullopt.
    std::optional<Json> get(const std::string& key) const;
    /// The value of `key`, or `fallback`.
    Json get(const std::string& key, Json fallback) const;
    bool contains(const std::string& key) const;
    /// Records `key = value` in the delta.
    void set(const std::string& key, Json value);
    bool has_delta() const { return delta_->is_object() && !delta_->empty(); }
    /// The session's state with the delta applied on top.
    Json to_dict() const;

    const Json& delta() const noexcept { return *delta_; }

private:
    const Json* value_;
    Json* delta_;
};

}  // namespace adk
