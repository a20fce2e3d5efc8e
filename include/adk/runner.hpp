// adk/runner.hpp — adk::Runner and adk::InMemoryRunner: run an agent for one
// user message and persist what it says.
//
//   adk::InMemoryRunner runner(agent, "demo_app");
//   adk::Session s = co_await runner.session_service().create_session("demo_app", "u1");
//   auto events = runner.run("u1", s.id, adk::Content::user("Paris?"));
//   while (auto ev = co_await events.next()) print(*ev);
//
// run() (lazy: nothing happens before the first next()) loads the session
// (SessionNotFoundError if it does not exist), appends the user message as
// an event authored "user" (not yielded), runs the root agent, and for each
// event: if it is not partial, appends it to the session (applying its
// state delta) *before* yielding it — so when the consumer sees an event it
// is already persisted, and the agent's next step sees its effects.
//
// Cancellation: at any next(); the agent is cancelled where it waits. An
// event is persisted whole or not at all: cancelling never leaves half an
// event in the session. Dropping the stream destroys the agent's frames
// without their async cleanup (prefer aclose()).
#pragma once

#include <memory>
#include <string>

#include "adk/agent.hpp"
#include "adk/context.hpp"
#include "adk/session.hpp"

namespace adk {

class Runner {
public:
    Runner(std::string app_name, AgentPtr agent, std::shared_ptr<SessionService> session_service);

    const std::string& app_name() const noexcept { return app_name_; }
    BaseAgent& agent() const noexcept { return *agent_; }
    SessionService& session_service() const noexcept { return *session_service_; }

    /// The invocation's events as they happen (see the header comment). The
    /// runner must outlive the generator.
    aio::AsyncGenerator<Event> run(std::string user_id, std::string session_id, Content new_message,
                                   RunConfig run_config = {});

private:
    std::string app_name_;
    AgentPtr agent_;
    std::shared_ptr<SessionService> session_service_;
};

/// A Runner wired to an InMemorySessionService.
class InMemoryRunner : public Runner {
public:
    explicit InMemoryRunner(AgentPtr agent, std::string app_name = "InMemoryRunner");
    InMemorySessionService& session_service() const noexcept { return *in_memory_; }

private:
    InMemorySessionService* in_memory_;
};

}  // namespace adk
