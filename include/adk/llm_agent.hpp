// adk/llm_agent.hpp — adk::LlmAgent and its flow: the step loop of model
// calls and tool calls.
//
// One step: build an LlmRequest from the session (system instruction with
// {state} templating, the agent's identity, tool declarations, the
// conversation rebuilt from the session's events on this branch), call the
// model, yield its event(s); if the model asked for function calls, run them
// concurrently (an aio TaskGroup) and yield ONE function-response event
// whose actions are the calls' actions merged key by key. Steps repeat until
// an event is a final response (Event::is_final_response()).
//
// Errors the model can read, never crashes: an unknown tool name, arguments
// that do not fit the tool's schema, and a tool throwing a std::exception
// become {"error": "..."} function responses. A cancellation
// (aio::CancelledError) is never turned into a response: it cancels the
// sibling calls and propagates.
//
// Transfer (ADK's AutoFlow): when the agent has sub-agents, or may transfer
// to its parent or peers (LlmAgent parents only, unless disallowed), the
// request lists those agents and declares the `transfer_to_agent` tool. A
// function-response event whose actions name an agent runs that agent next,
// nested in this one's stream; the runner gives the next user turn to the
// agent that spoke last (Runner's agent selection).
//
// Timeouts (RunConfig): llm_call_timeout bounds one model call, from request
// to last chunk (LlmTimeoutError); tool_timeout (or the tool's own, if
// shorter) bounds one tool call, reported to the model as an error result.
//
// Long-running tools: a call whose tool is long-running is listed in the
// event's long_running_tool_ids; if the tool returns null there is no
// response for it yet: the event is final and the invocation ends. The
// client later sends a function_response with the same id as the user
// message, and the runner resumes with this agent.
//
// Cancellation: at the model call (the model's stream ends), or while tools
// run (every running tool is cancelled and awaited before the
// CancelledError leaves; no function-response event is yielded).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "adk/agent.hpp"
#include "adk/callbacks.hpp"
#include "adk/event_list.hpp"
#include "adk/llm.hpp"
#include "adk/tool.hpp"

namespace adk {

/// A model given by name (resolved through LlmRegistry::global()) or as an
/// object. Empty: inherit the nearest LlmAgent ancestor's model.
struct ModelRef {
    ModelRef() = default;
    ModelRef(const char* model_name) : name(model_name) {}
    ModelRef(std::string model_name) : name(std::move(model_name)) {}
    template <class L>
        requires std::is_base_of_v<BaseLlm, L>
    ModelRef(std::shared_ptr<L> model) : llm(std::move(model)) {}

    bool empty() const noexcept { return name.empty() && !llm; }

    std::string name;
    std::shared_ptr<BaseLlm> llm;
};

class BaseToolset;

/// An entry of LlmAgent::Options::tools: a tool or a toolset (whose tools
/// are listed again for every model call, ADK's ToolUnion).
struct ToolUnion {
    template <class T>
        requires std::is_base_of_v<BaseTool, T>
    ToolUnion(std::shared_ptr<T> t) : tool(std::move(t)) {}  // NOLINT: implicit on purpose
    template <class T>
        requires std::is_base_of_v<BaseToolset, T>
    ToolUnion(std::shared_ptr<T> t) : toolset(std::move(t)) {}  // NOLINT: implicit on purpose

    std::shared_ptr<BaseTool> tool;
    std::shared_ptr<BaseToolset> toolset;
};

/// Which history the model sees: all of it on the agent's branch
/// (`default_`), or only the current turn (`none`, ADK's include_contents='none').
enum class IncludeContents { default_, none };

/// A model call took longer than RunConfig::llm_call_timeout.
class LlmTimeoutError : public ModelError {
public:
    using ModelError::ModelError;
};

class LlmAgent : public BaseAgent {
public:
    /// Computes the instruction (not templated); may be a coroutine.
    using InstructionProvider = Callback<std::string, const ReadonlyContext&>;

    struct Options {
        std::string name{};
        std::string description{};
        ModelRef model{};
        /// Templated from state: {key}, {key?} (optional: "" if missing),
        /// {app:key}, {user:key}, {temp:key}. A missing non-optional key is
        /// an error (std::out_of_range); names that are not identifiers are
        /// left as written.
        std::string instruction{};
        /// Replaces `instruction` when set; its text is not templated.
        std::optional<InstructionProvider> instruction_provider{};
        /// Used only on the root agent, before every agent's instruction.
        std::string global_instruction{};
        /// Tools and toolsets.
        std::vector<ToolUnion> tools{};
        std::vector<AgentPtr> sub_agents{};
        /// The final response's text is stored in state under this key.
        std::string output_key{};
        /// Generation settings passed to the model (temperature...).
        Json generate_content_config = Json::object();
        IncludeContents include_contents = IncludeContents::default_;
        /// Transfer settings (ADK's AutoFlow / SingleFlow).
        bool disallow_transfer_to_parent = false;
        bool disallow_transfer_to_peers = false;

        std::vector<AgentCallback> before_agent_callback{};
        std::vector<AgentCallback> after_agent_callback{};
        std::vector<BeforeModelCallback> before_model_callback{};
        std::vector<AfterModelCallback> after_model_callback{};
        std::vector<BeforeToolCallback> before_tool_callback{};
        std::vector<AfterToolCallback> after_tool_callback{};
    };

    // Every member has a default initializer, so designated initializers
    // may name any subset without -Wmissing-field-initializers.
    explicit LlmAgent(Options options);
    static std::shared_ptr<LlmAgent> make(Options options);

    const Options& options() const noexcept { return options_; }
    /// The model this agent calls (its own, or inherited); std::invalid_argument if none.
    std::shared_ptr<BaseLlm> canonical_model() const;

    /// The request the next step would send (exposed for tests and tools).
    aio::Coro<LlmRequest> build_request(const InvocationContext& ctx) const;
    /// The agents this one may transfer to (sub-agents, parent, peers).
    std::vector<BaseAgent*> transfer_targets() const;
    /// Every toolset among the tools (Runner::close closes them).
    std::vector<std::shared_ptr<BaseToolset>> toolsets() const;

protected:
    aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) override;

private:
    /// One function call, start to end (callbacks, timeout, errors); the
    /// response part, or nullopt (a long-running tool with no result yet).
    aio::Coro<std::optional<Part>> run_function_call(InvocationContext& ctx, FunctionCall call,
                                                     std::shared_ptr<BaseTool> tool,
                                                     const std::map<std::string, std::shared_ptr<BaseTool>>* tools,
                                                     EventActions* out_actions) const;
    aio::Coro<std::optional<Event>> handle_function_calls(
        InvocationContext& ctx, const Event& call_event, std::map<std::string, std::shared_ptr<BaseTool>> tools) const;
    aio::AsyncGenerator<LlmResponse> call_model(InvocationContext& ctx, LlmRequest request, CallbackContext& cb) const;
    void maybe_save_output(Event& event) const;

    Options options_;
    mutable std::shared_ptr<BaseLlm> resolved_;
};

/// Replaces {key} / {key?} / {app:key} / {user:key} / {temp:key} in
/// `tmpl` with values from `state` (strings as is, other JSON dumped).
std::string inject_session_state(const std::string& tmpl, const Json& state);

/// The conversation an agent named `agent_name` on `branch` sees: the
/// events' contents in order, events of other branches dropped, other
/// agents' turns rewritten as user context ("For context:", "[agent] said:
/// ..."), client-generated (adk-) function-call ids removed. When the last
/// event answers a function call made earlier (a long-running tool's final
/// response), the events in between are dropped so the response follows
/// its call. `current_turn_only`: from the latest user or other agent's
/// event on (include_contents = none).
std::vector<Content> build_contents(const std::optional<std::string>& branch, const EventList& events,
                                    const std::string& agent_name, bool current_turn_only = false);

/// ADK's transfer_to_agent tool: sets actions.transfer_to_agent (an unknown
/// agent name is an error result the model can read).
std::shared_ptr<BaseTool> transfer_to_agent_tool();

}  // namespace adk
