// adk::Runner, adk::InMemoryRunner (adk/runner.hpp).
#include "adk/runner.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "adk/llm_agent.hpp"
#include "adk/toolset.hpp"
#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/log.hpp"
#include "aio/timeout.hpp"

namespace adk {

/// One running invocation: its context and the one-event hand-over between
/// the agent's task (producer) and the consumer of run().
struct Runner::Invocation {
    Session session;
    InvocationContext ctx;
    aio::Task<void> task;
    std::optional<Event> item;    // the event being handed over
    aio::Event ready;             // producer -> consumer: item is set, or done
    aio::Event taken;             // consumer -> producer: ask for the next event
    aio::Event stopped;           // the task has finished (wait_stopped())
    bool done = false;
    bool cancelled_by_runner = false;
    std::exception_ptr error;
};

namespace {

/// Registers an invocation as running for as long as it lives; a dropped
/// stream cancels the agent's task (it cannot be awaited from here).
template <class Map, class Inv>
class Registration {
public:
    Registration(Map& map, std::shared_ptr<Inv> inv) : map_(&map), inv_(std::move(inv)) {
        (*map_)[inv_->ctx.invocation_id] = inv_;
    }
    ~Registration() {
        map_->erase(inv_->ctx.invocation_id);
        if (inv_->task && !inv_->task.done()) inv_->task.cancel();
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

private:
    Map* map_;
    std::shared_ptr<Inv> inv_;
};

/// ADK's _is_transferable_across_agent_tree: every agent up to the root is
/// an LlmAgent that allows transfer to its parent.
bool may_keep_the_turn(BaseAgent* agent) {
    for (BaseAgent* a = agent; a; a = a->parent_agent()) {
        auto* llm = dynamic_cast<LlmAgent*>(a);
        if (!llm || llm->options().disallow_transfer_to_parent) return false;
    }
    return true;
}

void collect_toolsets(BaseAgent& agent, std::vector<std::shared_ptr<BaseToolset>>& out) {
    if (auto* llm = dynamic_cast<LlmAgent*>(&agent))
        for (auto& t : llm->toolsets())
            if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    for (const AgentPtr& sub : agent.sub_agents()) collect_toolsets(*sub, out);
}

}  // namespace

Runner::Runner(std::string app_name, AgentPtr agent, std::shared_ptr<SessionService> session_service,
               std::shared_ptr<ArtifactService> artifact_service)
    : app_name_(std::move(app_name)),
      agent_(std::move(agent)),
      session_service_(std::move(session_service)),
      artifact_service_(std::move(artifact_service)) {
    if (!agent_) throw std::invalid_argument("Runner: null agent");
    if (!session_service_) throw std::invalid_argument("Runner: null session service");
}

Runner::~Runner() {
    for (auto& [id, inv] : invocations_)
        if (inv->task && !inv->task.done()) inv->task.cancel();
}

BaseAgent& Runner::agent_to_run(const Session& session) const {
    BaseAgent& root = *agent_;
    const EventList& events = session.events;
    // A function response answers the agent that made the call.
    if (!events.empty())
        for (const FunctionResponse& response : events.back().function_responses())
            for (auto it = events.rbegin() + 1; it != events.rend(); ++it)
                for (const FunctionCall& call : it->function_calls())
                    if (!response.id.empty() && call.id == response.id)
                        if (BaseAgent* caller = root.find_agent(it->author)) return *caller;
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
        if (it->author == "user") continue;
        if (it->author == root.name()) return root;
        BaseAgent* speaker = root.find_sub_agent(it->author);
        if (speaker && may_keep_the_turn(speaker)) return *speaker;
    }
    return root;
}

aio::AsyncGenerator<Event> Runner::run(std::string user_id, std::string session_id, Content new_message,
                                       RunConfig run_config) {
    if (run_config.state_delta && !run_config.state_delta->is_object())
        throw std::invalid_argument("Runner::run: RunConfig::state_delta must be a JSON object");
    auto inv = std::make_shared<Invocation>();
    inv->ctx.invocation_id = new_invocation_id();
    inv->ctx.run_config = std::move(run_config);
    return run_invocation(std::move(inv), std::move(user_id), std::move(session_id), std::move(new_message));
}

aio::AsyncGenerator<Event> Runner::run_invocation(std::shared_ptr<Invocation> inv, std::string user_id,
                                                  std::string session_id, Content new_message) {
    // 1. One invocation per session at a time.
    SessionTurns::Lease lease(session_turns_, app_name_ + '\x1f' + user_id + '\x1f' + session_id);
    if (lease.slot().locked() && inv->ctx.run_config.if_session_busy == BusySessionPolicy::fail)
        throw SessionBusyError("Session '" + session_id + "' is running another invocation");
    aio::LockGuard turn = co_await lease.slot().acquire();

    // 2. The session, and the user's message in it.
    aio::Coro<std::optional<Session>> loading = session_service_->get_session(app_name_, user_id, session_id);
    std::optional<Session> loaded = co_await std::move(loading);
    if (!loaded)
        throw SessionNotFoundError("Session not found: '" + session_id + "' (app '" + app_name_ + "', user '" +
                                   user_id + "')");
    inv->session = std::move(*loaded);
    InvocationContext& ctx = inv->ctx;
    ctx.session = &inv->session;
    ctx.session_service = session_service_.get();
    ctx.artifact_service = artifact_service_.get();
    if (new_message.role.empty()) new_message.role = "user";
    ctx.user_content = new_message;
    Event user_event = Event::make(ctx.invocation_id, "user");
    user_event.content = std::move(new_message);
    if (ctx.run_config.state_delta) {  // ADK: on the user's event, applied by append_event
        user_event.actions.state_delta = std::move(*ctx.run_config.state_delta);
        ctx.run_config.state_delta.reset();
    }
    aio::Coro<Event> appending = session_service_->append_event(inv->session, std::move(user_event));
    co_await std::move(appending);

    // 3. The agent, in its own task, in lock-step with us.
    BaseAgent* agent = &agent_to_run(inv->session);
    Registration registration(invocations_, inv);
    inv->task = aio::create_task(drive(inv, agent));
    std::weak_ptr<Invocation> weak = inv;
    inv->task.add_done_callback([weak] {
        if (auto i = weak.lock()) {  // also when cancelled before it started
            i->done = true;
            i->ready.set();
            i->stopped.set();
        }
    });

    std::exception_ptr failure;
    try {
        while (true) {
            co_await inv->ready.wait();
            inv->ready.clear();
            if (inv->done) break;
            Event event = std::move(*inv->item);
            inv->item.reset();
            co_yield std::move(event);
            inv->taken.set();
        }
    } catch (...) {  // our task was cancelled, aclose(), or the consumer threw in
        failure = std::current_exception();
    }
    if (failure) {
        // Stop the agent and wait until it has unwound: nothing of this
        // invocation keeps running once the stream has ended.
        if (!inv->task.done()) inv->task.cancel();
        try {
            co_await inv->task;
        } catch (...) {
        }
        std::rethrow_exception(failure);
    }
    if (inv->cancelled_by_runner)
        throw InvocationCancelledError("Invocation " + ctx.invocation_id + " was cancelled");
    if (inv->error) std::rethrow_exception(inv->error);
}

aio::Coro<> Runner::drive(std::shared_ptr<Invocation> inv, BaseAgent* agent) {
    aio::AsyncGenerator<Event> events = agent->run(inv->ctx);
    std::exception_ptr failure;
    try {
        while (true) {
            std::optional<Event> event = co_await events.next();
            if (!event) break;
            if (!event->is_partial()) {
                aio::Coro<Event> persisting = session_service_->append_event(inv->session, std::move(*event));
                Event persisted = co_await std::move(persisting);
                inv->item = std::move(persisted);
            } else {
                inv->item = std::move(*event);
            }
            inv->ready.set();
            co_await inv->taken.wait();
            inv->taken.clear();
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // The agent may be suspended at a co_yield (cancelled while the
        // consumer held its event): let its cleanup run.
        try {
            co_await events.aclose();
        } catch (...) {
        }
        if (!aio::detail::is_cancellation_ptr(failure) || !inv->cancelled_by_runner) inv->error = failure;
    }
    inv->done = true;
    inv->ready.set();
}

bool Runner::cancel(const std::string& invocation_id) {
    auto it = invocations_.find(invocation_id);
    if (it == invocations_.end() || !it->second->task || it->second->task.done()) return false;
    it->second->cancelled_by_runner = true;
    it->second->task.cancel();
    return true;
}

aio::Coro<> Runner::wait_stopped(std::string invocation_id) {
    auto it = invocations_.find(invocation_id);
    if (it == invocations_.end() || !it->second->task) co_return;
    std::shared_ptr<Invocation> inv = it->second;  // the invocation may end (and unregister) meanwhile
    if (inv->task.done()) co_return;
    co_await inv->stopped.wait();
}

std::vector<std::string> Runner::running_invocations() const {
    std::vector<std::string> ids;
    for (const auto& [id, inv] : invocations_) ids.push_back(id);
    return ids;
}

aio::Coro<> Runner::close() {
    std::vector<std::shared_ptr<Invocation>> running;
    for (auto& [id, inv] : invocations_) running.push_back(inv);
    for (auto& inv : running)
        if (inv->task && !inv->task.done()) {
            inv->cancelled_by_runner = true;
            inv->task.cancel();
        }
    for (auto& inv : running) {
        if (!inv->task) continue;
        try {
            co_await inv->task;
        } catch (...) {
        }
    }
    std::vector<std::shared_ptr<BaseToolset>> toolsets;
    collect_toolsets(*agent_, toolsets);
    for (auto& toolset : toolsets) {
        std::string failure;
        try {
            aio::Coro<> closing = aio::timeout(std::chrono::seconds(10), toolset->close());
            co_await std::move(closing);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!failure.empty()) aio::log(aio::LogLevel::warning, "Runner::close: a toolset failed to close: " + failure);
    }
}

InMemoryRunner::InMemoryRunner(AgentPtr agent, std::string app_name, std::shared_ptr<ArtifactService> artifact_service)
    : Runner(std::move(app_name), std::move(agent), std::make_shared<InMemorySessionService>(),
             std::move(artifact_service)) {
    in_memory_ = static_cast<InMemorySessionService*>(&Runner::session_service());
}

}  // namespace adk
