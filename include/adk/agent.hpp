// adk/agent.hpp — adk::BaseAgent: a named node of the agent tree whose run
// is an async generator of Events (ADK's run_async).
//
//   auto events = agent->run(ctx);
//   while (auto ev = co_await events.next()) ...
//
// Names are identifiers other than "user", unique in the tree; an agent has
// at most one parent (std::invalid_argument otherwise, at construction).
// The tree is built bottom-up: sub-agents are given to the parent's
// constructor as shared_ptrs, the parent link is a plain pointer (the
// parent owns its children).
//
// run() copies the context it is given and sets `agent`; the agent object
// must outlive the returned generator. Around run_impl it runs the agent
// callbacks (adk/callbacks.hpp): a before_agent callback returning content
// skips the agent (that content is its only event); after_agent content is
// one more event; state written by callbacks without content is yielded as
// a state-only event. Cancellation is the consumer's: the
// agent is cancelled at whatever it awaits (model, tool, child agent).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "adk/callbacks.hpp"
#include "adk/context.hpp"
#include "adk/event.hpp"
#include "aio/async_generator.hpp"

namespace adk {

using AgentPtr = std::shared_ptr<class BaseAgent>;

class BaseAgent {
public:
    BaseAgent(std::string name, std::string description, std::vector<AgentPtr> sub_agents = {});
    virtual ~BaseAgent() = default;
    BaseAgent(const BaseAgent&) = delete;
    BaseAgent& operator=(const BaseAgent&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& description() const noexcept { return description_; }
    const std::vector<AgentPtr>& sub_agents() const noexcept { return sub_agents_; }
    BaseAgent* parent_agent() const noexcept { return parent_; }
    BaseAgent& root_agent() noexcept;
    /// This agent or a descendant named `name` (depth first), or null.
    BaseAgent* find_agent(const std::string& name) noexcept;
    /// A descendant named `name`, or null.
    BaseAgent* find_sub_agent(const std::string& name) noexcept;

    /// Runs the agent: its events, as they happen.
    aio::AsyncGenerator<Event> run(InvocationContext parent_context);

    /// ADK's before_agent_callback / after_agent_callback (run in order).
    std::vector<AgentCallback>& before_agent_callback() noexcept { return before_agent_; }
    std::vector<AgentCallback>& after_agent_callback() noexcept { return after_agent_; }

protected:
    /// The agent's behaviour; `ctx.agent == this`.
    virtual aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) = 0;

private:
    std::string name_;
    std::string description_;
    std::vector<AgentPtr> sub_agents_;
    BaseAgent* parent_ = nullptr;
    std::vector<AgentCallback> before_agent_;
    std::vector<AgentCallback> after_agent_;

    aio::AsyncGenerator<Event> run_with_callbacks(InvocationContext ctx);
};

/// True if `name` is a valid agent name (an identifier, not "user").
bool is_valid_agent_name(const std::string& name);

}  // namespace adk
