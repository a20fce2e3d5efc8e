// adk/agent_tool.hpp — adk::AgentTool (ADK's agent_tool.py): an agent used
// as a tool by another agent.
//
//   auto summarizer = adk::LlmAgent::make({.name = "summarizer",
//                                          .description = "Summarizes a text", .model = ...});
//   auto writer = adk::LlmAgent::make({.name = "writer", .model = ...,
//                                      .tools = {adk::AgentTool::make(summarizer)}});
//
// The declaration is {name: agent name, description: agent description,
// parameters: {request: string, required}} — or the input schema given in
// the options, in which case the arguments object itself, as JSON text, is
// the agent's message.
//
// run(args, ctx), once per call:
//   1. a fresh InMemoryRunner over the agent (app name: the agent's name),
//      with a new session for the parent's user whose state is a copy of
//      the parent's state as this call sees it (ctx.state(): session state,
//      app: and user: keys, this call's own writes; temp: keys are not
//      copied, as in ADK);
//   2. the request is sent as the user message and the agent runs to its
//      end (RunConfig: the parent's, without streaming);
//   3. each state delta of the child's events is written into the parent's
//      ctx.state(), so it reaches the parent's session with the function
//      response event (and several AgentTool calls of one turn merge key by
//      key);
//   4. artifacts the child saves or loads go through the parent's context
//      (ADK's ForwardingArtifactService): they land in the parent's session
//      and in this call's artifact_delta. No artifact service in the
//      parent: none in the child either;
//   5. the result is {"result": text}, the text of the child's last event
//      with content (its text parts joined with "\n"; "" if none), or the
//      error the model can read, {"error": ...}, for arguments that do not
//      fit the declaration.
// With skip_summarization, the call's actions say so: the function
// response ends the parent's turn without another model call.
//
// Errors of the child (its model failing, a missing model...) propagate as
// exceptions: the parent's flow turns them into an error result.
//
// Cancellation: cancelling the parent's call (its task, a tool timeout, the
// parent's invocation) cancels the child's invocation wherever it waits, and
// run() returns only once the child has stopped. Nothing of the child is
// kept: its session lived in the child runner, and deltas already
// forwarded sit in the parent call's actions, which are dropped with the
// cancelled call.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "adk/agent.hpp"
#include "adk/tool.hpp"

namespace adk {

struct AgentToolOptions {
    /// Mark the call's actions skip_summarization: the parent's turn ends
    /// with the function response.
    bool skip_summarization = false;
    /// The JSON Schema of the arguments (ADK: the agent's input_schema, e.g.
    /// adk::json_schema<MyInput>()); null: {"request": string}.
    Json input_schema = nullptr;
};

class AgentTool : public BaseTool {
public:
    using Options = AgentToolOptions;

    explicit AgentTool(AgentPtr agent, Options options = Options());
    static std::shared_ptr<AgentTool> make(AgentPtr agent, Options options = Options());

    const AgentPtr& agent() const noexcept { return agent_; }
    bool skip_summarization() const noexcept { return options_.skip_summarization; }
    /// The JSON Schema of the arguments.
    const Json& parameters() const noexcept { return parameters_; }

    std::optional<Json> declaration() const override;
    aio::Coro<Json> run(Json args, ToolContext& ctx) override;

private:
    AgentPtr agent_;
    Options options_;
    Json parameters_;
};

}  // namespace adk
