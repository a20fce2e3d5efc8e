// adk::Runner, adk::InMemoryRunner (adk/runner.hpp).
#include "adk/runner.hpp"

#include <stdexcept>

namespace adk {

Runner::Runner(std::string app_name, AgentPtr agent, std::shared_ptr<SessionService> session_service)
    : app_name_(std::move(app_name)), agent_(std::move(agent)), session_service_(std::move(session_service)) {
    if (!agent_) throw std::invalid_argument("Runner: null agent");
    if (!session_service_) throw std::invalid_argument("Runner: null session service");
}

aio::AsyncGenerator<Event> Runner::run(std::string user_id, std::string session_id, Content new_message,
                                       RunConfig run_config) {
    aio::Coro<std::optional<Session>> loading = session_service_->get_session(app_name_, user_id, session_id);
    std::optional<Session> loaded = co_await std::move(loading);
    if (!loaded)
        throw SessionNotFoundError("Session not found: '" + session_id + "' (app '" + app_name_ + "', user '" +
                                   user_id + "')");
    Session session = std::move(*loaded);

    InvocationContext ctx;
    ctx.invocation_id = new_invocation_id();
    ctx.session = &session;
    ctx.session_service = session_service_.get();
    ctx.run_config = run_config;
    if (new_message.role.empty()) new_message.role = "user";
    ctx.user_content = new_message;

    Event user_event = Event::make(ctx.invocation_id, "user");
    user_event.content = std::move(new_message);
    aio::Coro<Event> appending = session_service_->append_event(session, std::move(user_event));
    co_await std::move(appending);

    aio::AsyncGenerator<Event> events = agent_->run(ctx);
    while (true) {
        std::optional<Event> event = co_await events.next();
        if (!event) break;
        if (!event->is_partial()) {
            aio::Coro<Event> persisting = session_service_->append_event(session, std::move(*event));
            Event persisted = co_await std::move(persisting);
            co_yield std::move(persisted);
        } else {
            co_yield std::move(*event);
        }
    }
}

InMemoryRunner::InMemoryRunner(AgentPtr agent, std::string app_name)
    : Runner(std::move(app_name), std::move(agent), std::make_shared<InMemorySessionService>()) {
    in_memory_ = static_cast<InMemorySessionService*>(&Runner::session_service());
}

}  // namespace adk
