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

class LlmAgent : public BaseAgent {
public:
    using InstructionProvider = std::function<std::string(const InvocationContext&)>;

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
        InstructionProvider instruction_provider{};
        /// Used only on the root agent, before every agent's instruction.
        std::string global_instruction{};
        std::vector<std::shared_ptr<BaseTool>> tools{};
        std::vector<AgentPtr> sub_agents{};
        /// The final response's text is stored in state under this key.
        std::string output_key{};
        /// Generation settings passed to the model (temperature...).
        Json generate_content_config = Json::object();
    };

    // Every member has a default initializer, so designated initializers
    // may name any subset without -Wmissing-field-initializers.
    explicit LlmAgent(Options options);
    static std::shared_ptr<LlmAgent> make(Options options);

    const Options& options() const noexcept { return options_; }
    /// The model this agent calls (its own, or inherited); std::invalid_argument if none.
    std::shared_ptr<BaseLlm> canonical_model() const;

    /// The request the next step would send (exposed for tests and tools).
    LlmRequest build_request(const InvocationContext& ctx) const;

protected:
    aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) override;

private:
    aio::Coro<Event> handle_function_calls(InvocationContext& ctx, const Event& call_event,
                                           std::map<std::string, std::shared_ptr<BaseTool>> tools);
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
/// ..."), client-generated (adk-) function-call ids removed.
std::vector<Content> build_contents(const std::optional<std::string>& branch, const std::vector<Event>& events,
                                    const std::string& agent_name);

}  // namespace adk
