// adk::SequentialAgent, adk::LoopAgent, adk::ParallelAgent (adk/workflow_agents.hpp).
#include "adk/workflow_agents.hpp"

#include "aio/event.hpp"
#include "aio/merge.hpp"

namespace adk {

SequentialAgent::SequentialAgent(std::string name, std::vector<AgentPtr> sub_agents, std::string description)
    : BaseAgent(std::move(name), std::move(description), std::move(sub_agents)) {}

std::shared_ptr<SequentialAgent> SequentialAgent::make(std::string name, std::vector<AgentPtr> sub_agents,
                                                       std::string description) {
    return std::make_shared<SequentialAgent>(std::move(name), std::move(sub_agents), std::move(description));
}

aio::AsyncGenerator<Event> SequentialAgent::run_impl(InvocationContext ctx) {
    for (const AgentPtr& sub : sub_agents()) {
        if (ctx.end_invocation()) co_return;
        co_yield aio::yield_from(sub->run(ctx));
    }
}

LoopAgent::LoopAgent(std::string name, std::vector<AgentPtr> sub_agents, std::size_t max_iterations,
                     std::string description)
    : BaseAgent(std::move(name), std::move(description), std::move(sub_agents)), max_iterations_(max_iterations) {}

std::shared_ptr<LoopAgent> LoopAgent::make(std::string name, std::vector<AgentPtr> sub_agents,
                                           std::size_t max_iterations, std::string description) {
    return std::make_shared<LoopAgent>(std::move(name), std::move(sub_agents), max_iterations, std::move(description));
}

aio::AsyncGenerator<Event> LoopAgent::run_impl(InvocationContext ctx) {
    if (sub_agents().empty()) co_return;
    for (std::size_t i = 0; max_iterations_ == 0 || i < max_iterations_; ++i) {
        for (const AgentPtr& sub : sub_agents()) {
            if (ctx.end_invocation()) co_return;
            aio::AsyncGenerator<Event> events = sub->run(ctx);
            bool escalated = false;
            std::exception_ptr failure;
            try {
                while (true) {
                    std::optional<Event> event = co_await events.next();
                    if (!event) break;
                    escalated = event->actions.escalate.value_or(false);
                    co_yield std::move(*event);
                    if (escalated) break;  // ADK returns here: the child's cleanup still runs
                }
            } catch (...) {  // failed, cancelled, or closed at our co_yield
                failure = std::current_exception();
            }
            // The child may be suspended at its co_yield: close it so that its
            // async cleanup runs (destroying it would skip that).
            co_await events.aclose();
            if (failure) std::rethrow_exception(failure);
            if (escalated) co_return;
        }
    }
}

ParallelAgent::ParallelAgent(std::string name, std::vector<AgentPtr> sub_agents, std::string description)
    : BaseAgent(std::move(name), std::move(description), std::move(sub_agents)) {}

std::shared_ptr<ParallelAgent> ParallelAgent::make(std::string name, std::vector<AgentPtr> sub_agents,
                                                   std::string description) {
    return std::make_shared<ParallelAgent>(std::move(name), std::move(sub_agents), std::move(description));
}

namespace {

/// An event and the index of the child that yielded it.
struct ChildEvent {
    ChildEvent(std::size_t i, Event e) : index(i), event(std::move(e)) {}
    std::size_t index;
    Event event;
};

/// Runs one child; after each event it yields, waits until the parallel
/// agent acknowledges it (ADK's back-pressure contract: the child resumes
/// only once the consumer, i.e. the runner, has persisted the event).
aio::AsyncGenerator<ChildEvent> acked_child(std::size_t index, aio::AsyncGenerator<Event> run,
                                            std::shared_ptr<aio::Event> ack) {
    std::exception_ptr failure;
    try {
        while (true) {
            std::optional<Event> event = co_await run.next();
            if (!event) break;
            ack->clear();
            ChildEvent item(index, std::move(*event));
            co_yield std::move(item);
            co_await ack->wait();
        }
    } catch (...) {  // cancelled by the merge, or closed at our co_yield
        failure = std::current_exception();
    }
    // The child may be suspended at its co_yield: close it so that its async
    // cleanup runs (destroying it would skip that).
    co_await run.aclose();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

aio::AsyncGenerator<Event> ParallelAgent::run_impl(InvocationContext ctx) {
    std::vector<aio::AsyncGenerator<ChildEvent>> runs;
    std::vector<std::shared_ptr<aio::Event>> acks;
    runs.reserve(sub_agents().size());
    for (const AgentPtr& sub : sub_agents()) {
        InvocationContext child = ctx;
        child.branch = (ctx.branch ? *ctx.branch + "." : std::string()) + name() + "." + sub->name();
        acks.push_back(std::make_shared<aio::Event>());
        runs.push_back(acked_child(runs.size(), sub->run(std::move(child)), acks.back()));
    }
    aio::AsyncGenerator<ChildEvent> merged = aio::merge(std::move(runs));
    std::exception_ptr failure;
    try {
        while (true) {
            std::optional<ChildEvent> item = co_await merged.next();
            if (!item) break;
            std::size_t index = item->index;
            co_yield std::move(item->event);
            // The consumer asked for the next event: the previous one is handled.
            acks[index]->set();
        }
    } catch (...) {  // a child failed, we were cancelled, or closed at our co_yield
        failure = std::current_exception();
    }
    // Stops the children still running and waits for their cleanup.
    co_await merged.aclose();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace adk
