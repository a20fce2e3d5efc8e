// adk/runner.hpp — adk::Runner and adk::InMemoryRunner: run an agent for one
// user message and persist what it says.
//
//   adk::InMemoryRunner runner(agent, "demo_app");
//   adk::Session s = co_await runner.session_service().create_session("demo_app", "u1");
//   auto events = runner.run("u1", s.id, adk::Content::user("Paris?"));
//   while (auto ev = co_await events.next()) print(*ev);
//
// run() is lazy: nothing happens before the first next(). Then it
//   1. waits its turn: one invocation runs per session at a time (a second
//      run() on a busy session waits, or raises SessionBusyError with
//      RunConfig::if_session_busy = fail) — ADK interleaves them;
//   2. loads the session (SessionNotFoundError if it does not exist) and
//      appends the user message as an event authored "user" (not yielded);
//   3. picks the agent: the one whose function call the message answers
//      (a long-running tool's result), else the agent that spoke last if it
//      may hand the turn back (an LlmAgent whose ancestors all allow
//      transfer to parent), else the root;
//   4. runs it in a task of its own (so cancel() can reach it) in lock-step
//      with the consumer: for each event, if it is not partial, the event is
//      appended to the session (applying its state delta) *before* it is
//      yielded, and the agent resumes only when the consumer asks for the
//      next event — so what the consumer sees is already persisted, and the
//      agent's next step sees its effects.
//
// Cancellation: cancel(invocation_id) stops the invocation wherever it waits
// (model call, tools, parallel children): the consumer's next() raises
// InvocationCancelledError. Cancelling the consumer's task, aclose(), or
// dropping the stream cancel the invocation too (aclose waits until it has
// stopped; dropping does not wait). An event is persisted whole or not at
// all: the session stays readable and consistent.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "adk/agent.hpp"
#include "adk/context.hpp"
#include "adk/detail/keyed_slots.hpp"
#include "adk/session.hpp"
#include "aio/lock.hpp"
#include "aio/task.hpp"

namespace adk {

/// run() on a session that runs an invocation, with if_session_busy = fail.
class SessionBusyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The invocation was stopped by Runner::cancel() or Runner::close().
class InvocationCancelledError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Runner {
public:
    Runner(std::string app_name, AgentPtr agent, std::shared_ptr<SessionService> session_service,
           std::shared_ptr<ArtifactService> artifact_service = nullptr);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    const std::string& app_name() const noexcept { return app_name_; }
    BaseAgent& agent() const noexcept { return *agent_; }
    SessionService& session_service() const noexcept { return *session_service_; }
    ArtifactService* artifact_service() const noexcept { return artifact_service_.get(); }

    /// The invocation's events as they happen (see the header comment). The
    /// runner must outlive the generator.
    aio::AsyncGenerator<Event> run(std::string user_id, std::string session_id, Content new_message,
                                   RunConfig run_config = {});

    /// Stops a running invocation; false if none has that id. The agent
    /// unwinds in its own task: wait_stopped() waits for that.
    bool cancel(const std::string& invocation_id);
    /// Returns once the invocation's agent has stopped (finished, failed or
    /// cancelled and unwound); at once if no invocation has that id.
    /// Cancelling the waiter leaves the invocation alone; bound the wait with
    /// aio::timeout.
    aio::Coro<> wait_stopped(std::string invocation_id);
    /// Ids of the invocations running now.
    std::vector<std::string> running_invocations() const;
    /// Cancels every running invocation, then closes every toolset of the
    /// agent tree (each bounded by 10 s). Safe to call from any task, twice.
    aio::Coro<> close();

private:
    struct Invocation;
    using SessionTurns = detail::KeyedSlots<aio::Lock>;

    aio::AsyncGenerator<Event> run_invocation(std::shared_ptr<Invocation> inv, std::string user_id,
                                              std::string session_id, Content new_message);
    aio::Coro<> drive(std::shared_ptr<Invocation> inv, BaseAgent* agent);
    BaseAgent& agent_to_run(const Session& session) const;

    std::string app_name_;
    AgentPtr agent_;
    std::shared_ptr<SessionService> session_service_;
    std::shared_ptr<ArtifactService> artifact_service_;
    SessionTurns session_turns_;                                        // busy sessions
    std::map<std::string, std::shared_ptr<Invocation>> invocations_;     // running
};

/// A Runner wired to an InMemorySessionService (and no artifact service
/// unless given).
class InMemoryRunner : public Runner {
public:
    explicit InMemoryRunner(AgentPtr agent, std::string app_name = "InMemoryRunner",
                            std::shared_ptr<ArtifactService> artifact_service = nullptr);
    InMemorySessionService& session_service() const noexcept { return *in_memory_; }

private:
    InMemorySessionService* in_memory_;
};

}  // namespace adk
