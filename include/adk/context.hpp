// adk/context.hpp — adk::InvocationContext, adk::ReadonlyContext,
// adk::CallbackContext, adk::RunConfig and adk::StreamingMode.
//
// An invocation is one Runner::run call: a user message in, events out until
// the final response. Every agent that runs gets its own InvocationContext
// copy (agent and branch differ); the session, the services and the
// invocation-wide counters are shared by pointer.
//
// What user code sees of it, as in ADK:
//   - ReadonlyContext: instruction providers and toolsets (ids, state, the
//     user's message; nothing can be changed);
//   - CallbackContext: agent and model callbacks; state writes are recorded
//     as a delta in the context's EventActions and reach the session only
//     with the event that carries them;
//   - ToolContext (adk/tool.hpp): a CallbackContext for one function call.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "adk/content.hpp"
#include "adk/event.hpp"
#include "adk/state.hpp"
#include "aio/coro.hpp"

namespace adk {

class BaseAgent;
struct Session;
class SessionService;
class ArtifactService;

enum class StreamingMode { none, sse };

/// What Runner::run does when the session already runs an invocation.
enum class BusySessionPolicy {
    wait,  ///< wait for the running invocation to end (the default)
    fail,  ///< raise SessionBusyError at once
};

struct RunConfig {
    /// sse: models stream text as partial events, then one aggregated event.
    StreamingMode streaming_mode = StreamingMode::none;
    /// Model calls allowed in one invocation; <= 0 means unbounded.
    int max_llm_calls = 500;
    /// Bound on one model call (request to last chunk): LlmTimeoutError.
    std::optional<std::chrono::milliseconds> llm_call_timeout{};
    /// Bound on one tool call (the tool's own timeout, if shorter, wins):
    /// the model gets {"error": "... timed out ..."}.
    std::optional<std::chrono::milliseconds> tool_timeout{};
    BusySessionPolicy if_session_busy = BusySessionPolicy::wait;
    /// State changes that come with the user's message: stored in the
    /// actions of the user's event (ADK's run_async(state_delta=...)), so the
    /// agents see them. Must be a JSON object.
    std::optional<Json> state_delta{};
};

/// More model calls than RunConfig::max_llm_calls in one invocation.
class LlmCallsLimitExceededError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Invocation-wide mutable state, shared by every context copy.
struct InvocationShared {
    int llm_calls = 0;
    /// Set by callbacks or tools: stop the invocation after the current step.
    bool end_invocation = false;
};

struct InvocationContext {
    std::string invocation_id;
    /// Dotted agent path; parallel children get "<parent>.<parallel>.<child>".
    std::optional<std::string> branch;
    /// The agent this context was made for.
    BaseAgent* agent = nullptr;
    /// The user message that started the invocation.
    std::optional<Content> user_content;
    /// The invocation's copy of the session (owned by the runner).
    Session* session = nullptr;
    SessionService* session_service = nullptr;
    /// May be null: artifacts are then unavailable (ValueError-like
    /// std::logic_error from save_artifact / load_artifact).
    ArtifactService* artifact_service = nullptr;
    RunConfig run_config;
    std::shared_ptr<InvocationShared> shared = std::make_shared<InvocationShared>();

    const std::string& app_name() const;
    const std::string& user_id() const;
    /// Counts one model call; LlmCallsLimitExceededError past the limit.
    void increment_llm_call_count();
    bool end_invocation() const noexcept { return shared->end_invocation; }
    void set_end_invocation() noexcept { shared->end_invocation = true; }
};

/// A read-only view of the invocation (ADK's ReadonlyContext).
class ReadonlyContext {
public:
    explicit ReadonlyContext(const InvocationContext& invocation) noexcept : invocation_(&invocation) {}

    const std::string& invocation_id() const noexcept { return invocation_->invocation_id; }
    /// The name of the agent running.
    const std::string& agent_name() const;
    /// The session's state (app:/user: keys merged in, as get_session gives it).
    const Json& state() const;
    const std::optional<Content>& user_content() const noexcept { return invocation_->user_content; }
    const std::string& app_name() const { return invocation_->app_name(); }
    const std::string& user_id() const { return invocation_->user_id(); }
    const InvocationContext& invocation_context() const noexcept { return *invocation_; }

protected:
    const InvocationContext* invocation_;
};

/// What agent and model callbacks get (ADK's CallbackContext): state writes
/// and artifact saves are recorded in actions(), which the flow attaches to
/// the event it yields next for this agent.
class CallbackContext : public ReadonlyContext {
public:
    explicit CallbackContext(InvocationContext& invocation) noexcept : ReadonlyContext(invocation) {}
    CallbackContext(const CallbackContext&) = delete;
    CallbackContext& operator=(const CallbackContext&) = delete;

    /// The state seen through this context's delta; writes go to the delta.
    State state() { return State(ReadonlyContext::state(), actions_.state_delta); }
    const Json& state() const { return ReadonlyContext::state(); }
    EventActions& actions() noexcept { return actions_; }
    InvocationContext& invocation_context() noexcept { return const_cast<InvocationContext&>(*invocation_); }

    /// Saves a new version of `filename` for this session (a "user:" name:
    /// for the user) and records it in actions().artifact_delta.
    aio::Coro<int> save_artifact(std::string filename, Part artifact);
    /// The latest (or the given) version of `filename`, or nullopt.
    aio::Coro<std::optional<Part>> load_artifact(std::string filename, std::optional<int> version = {});

private:
    EventActions actions_;
};

}  // namespace adk
