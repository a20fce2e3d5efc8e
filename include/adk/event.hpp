// adk/event.hpp — adk::Event and adk::EventActions: what agents yield and
// sessions store, with ADK's JSON and ids.
//
//   {"id":"aB12cD34","invocationId":"e-…","author":"weather","branch":"…",
//    "content":{…},"partial":true,"longRunningToolIds":[…],"timestamp":1750460000.123,
//    "actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{},
//               "requestedToolConfirmations":{}, …}}
//
// Nulls are omitted; `actions` with its four maps and `longRunningToolIds`
// are always written, empty when unset, as ADK-TS writes them (ADK's web UI
// reads actions.stateDelta). Readers accept camelCase and snake_case.
//
// Memory: sessions keep every event, so the types are kept small — rarely
// set members are adk::Boxed (optional-like, 8 bytes when empty), and an
// empty state_delta / requested_auth_configs is a null Json (no allocation)
// that behaves as an empty object when read and becomes one when written
// (`actions.state_delta["k"] = v`); both are written as {} all the same.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adk/boxed.hpp"
#include "adk/content.hpp"
#include "adk/llm_response.hpp"

namespace adk {

/// The side effects an event carries. Applied by SessionService::append_event
/// (state_delta) or acted on by the flow (transfer_to_agent, escalate).
struct EventActions {
    /// On a function-response event: do not call the model again.
    std::optional<bool> skip_summarization;
    /// Leave the enclosing LoopAgent.
    std::optional<bool> escalate;
    /// key -> new value; keys prefixed app:, user:, temp: (see adk/state.hpp).
    /// Null when nothing was set (reads as empty: empty(), contains() and
    /// iteration work; operator[] on a non-const one makes it an object).
    Json state_delta;
    /// filename -> new artifact version (a small sorted map: adk/boxed.hpp).
    FlatMap<std::string, int> artifact_delta;
    Boxed<std::string> transfer_to_agent;
    /// function_call_id -> AuthConfig (passed through as JSON); null when
    /// empty, as state_delta.
    Json requested_auth_configs;
    /// function_call_id -> ToolConfirmation (newer ADK); written only if set.
    Boxed<Json> requested_tool_confirmations;

    /// Merges `other` into this one: state_delta and the maps key by key
    /// (other's value wins for the same key), booleans or-ed, transfer taken
    /// from `other` when it has one.
    void merge(const EventActions& other);
};

class Event : public LlmResponse {
public:
    Event() = default;  // not an aggregate: see docs/async-generators.md (g++ 12)

    /// A new event: fresh 8-character id, timestamp now.
    static Event make(std::string invocation_id, std::string author);
    /// A new event carrying a model response.
    static Event from_response(LlmResponse response, std::string invocation_id, std::string author);

    std::string id;
    std::string invocation_id;
    /// "user" or the name of the agent that produced it.
    std::string author;
    /// Dotted path of agent names (parallel children get their own).
    Boxed<std::string> branch;
    EventActions actions;
    /// Ids of long-running function calls in this event (written when set).
    Boxed<std::vector<std::string>> long_running_tool_ids;
    /// Seconds since the epoch.
    double timestamp = 0;

    std::vector<FunctionCall> function_calls() const;
    std::vector<FunctionResponse> function_responses() const;
    bool has_trailing_code_execution_result() const;
    /// ADK's rule: true if skip_summarization or long-running tool ids are
    /// set; otherwise true iff no function calls, no function responses,
    /// not partial and no trailing code-execution result.
    bool is_final_response() const;
};

void to_json(Json& j, const EventActions& v);
void from_json(const Json& j, EventActions& v);
void to_json(Json& j, const Event& v);
void from_json(const Json& j, Event& v);

/// 8 random characters [A-Za-z0-9] (ADK's Event.new_id()).
std::string new_event_id();
/// "e-" + uuid4 (ADK's new_invocation_context_id()).
std::string new_invocation_id();
/// "adk-" + uuid4: the id ADK gives a function call the model left without one.
std::string new_function_call_id();
/// A random uuid4 in its canonical text form.
std::string new_uuid4();
/// The current time in seconds since the epoch.
double now_seconds();

/// The prefix of client-generated function-call ids.
inline constexpr const char* kFunctionCallIdPrefix = "adk-";

}  // namespace adk
