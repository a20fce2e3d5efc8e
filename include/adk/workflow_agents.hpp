// adk/workflow_agents.hpp — adk::SequentialAgent, adk::LoopAgent,
// adk::ParallelAgent: agents that run their sub-agents, no model of their own.
//
// SequentialAgent: each sub-agent in order, on the same branch (siblings see
// each other's events; data passes through state, e.g. output_key).
// LoopAgent: the sub-agents in order, again and again, until max_iterations
// (0: forever) or an event with actions.escalate (e.g. the exit_loop tool).
// ParallelAgent: every sub-agent concurrently (aio::merge: each in its own
// task), each on branch "<branch>.<parallel>.<child>" so it does not see its
// siblings' history; events are streamed as they arrive; the first child to
// fail cancels the others and its error reaches the caller. ADK's
// back-pressure contract holds: a child that yielded an event is paused
// until the consumer asks for the next event (the runner has persisted it
// by then), so its next step sees its own history and state.
//
// Cancellation: the consumer's cancellation reaches the running sub-agent(s)
// (for ParallelAgent, every child task is cancelled and awaited).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "adk/agent.hpp"

namespace adk {

class SequentialAgent : public BaseAgent {
public:
    SequentialAgent(std::string name, std::vector<AgentPtr> sub_agents, std::string description = {});
    static std::shared_ptr<SequentialAgent> make(std::string name, std::vector<AgentPtr> sub_agents,
                                                 std::string description = {});

protected:
    aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) override;
};

class LoopAgent : public BaseAgent {
public:
    LoopAgent(std::string name, std::vector<AgentPtr> sub_agents, std::size_t max_iterations = 0,
              std::string description = {});
    static std::shared_ptr<LoopAgent> make(std::string name, std::vector<AgentPtr> sub_agents,
                                           std::size_t max_iterations = 0, std::string description = {});
    std::size_t max_iterations() const noexcept { return max_iterations_; }

protected:
    aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) override;

private:
    std::size_t max_iterations_;
};

class ParallelAgent : public BaseAgent {
public:
    ParallelAgent(std::string name, std::vector<AgentPtr> sub_agents, std::string description = {});
    static std::shared_ptr<ParallelAgent> make(std::string name, std::vector<AgentPtr> sub_agents,
                                               std::string description = {});

protected:
    aio::AsyncGenerator<Event> run_impl(InvocationContext ctx) override;
};

}  // namespace adk
