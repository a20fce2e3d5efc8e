// Helpers of the session-service tests (test_sessions.cpp,
// test_sqlite_sessions.cpp): events that carry only a state delta.
#pragma once

#include <string>
#include <utility>

#include "adk/event.hpp"

namespace session_test {

/// An event whose only effect is `delta`; `ts` (if not 0) its timestamp.
inline adk::Event state_event(adk::Json delta, double ts = 0) {
    adk::Event e = adk::Event::make("e-1", "agent");
    e.actions.state_delta = std::move(delta);
    if (ts != 0) e.timestamp = ts;
    return e;
}

/// One key: a plain function, so no braced Json list appears in a co_await
/// statement (g++ 12: "array used as initializer").
inline adk::Event kv(const std::string& key, int value, double ts = 0) {
    adk::Json delta = adk::Json::object();
    delta[key] = value;
    return state_event(std::move(delta), ts);
}

}  // namespace session_test
