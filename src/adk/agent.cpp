// adk::BaseAgent (adk/agent.hpp).
#include "adk/agent.hpp"

#include <cctype>
#include <set>
#include <stdexcept>

namespace adk {

bool is_valid_agent_name(const std::string& name) {
    if (name.empty() || name == "user") return false;
    if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

namespace {
void collect_names(const BaseAgent& agent, std::set<std::string>& seen) {
    if (!seen.insert(agent.name()).second)
        throw std::invalid_argument("agent name '" + agent.name() + "' is used twice in the agent tree");
    for (const AgentPtr& sub : agent.sub_agents()) collect_names(*sub, seen);
}
}  // namespace

BaseAgent::BaseAgent(std::string name, std::string description, std::vector<AgentPtr> sub_agents)
    : name_(std::move(name)), description_(std::move(description)), sub_agents_(std::move(sub_agents)) {
    if (!is_valid_agent_name(name_))
        throw std::invalid_argument("invalid agent name '" + name_ +
                                    "': it must be an identifier (letters, digits, _) and not 'user'");
    for (const AgentPtr& sub : sub_agents_) {
        if (!sub) throw std::invalid_argument("agent '" + name_ + "': null sub-agent");
        if (sub->parent_)
            throw std::invalid_argument("agent '" + sub->name() + "' already has parent agent '" +
                                        sub->parent_->name() + "', cannot add it to '" + name_ + "'");
    }
    std::set<std::string> seen;
    collect_names(*this, seen);
    for (const AgentPtr& sub : sub_agents_) sub->parent_ = this;
}

BaseAgent& BaseAgent::root_agent() noexcept {
    BaseAgent* a = this;
    while (a->parent_) a = a->parent_;
    return *a;
}

BaseAgent* BaseAgent::find_agent(const std::string& name) noexcept {
    if (name_ == name) return this;
    return find_sub_agent(name);
}

BaseAgent* BaseAgent::find_sub_agent(const std::string& name) noexcept {
    for (const AgentPtr& sub : sub_agents_)
        if (BaseAgent* found = sub->find_agent(name)) return found;
    return nullptr;
}

aio::AsyncGenerator<Event> BaseAgent::run(InvocationContext parent_context) {
    parent_context.agent = this;
    if (before_agent_.empty() && after_agent_.empty()) return run_impl(std::move(parent_context));
    return run_with_callbacks(std::move(parent_context));
}

namespace {

/// The event an agent callback produced: its content, or its state writes
/// alone; nullopt if it did neither.
std::optional<Event> callback_event(const InvocationContext& ctx, CallbackContext& cb, std::optional<Content> content) {
    const bool has_state = cb.actions().state_delta.is_object() && !cb.actions().state_delta.empty();
    if (!content && !has_state && cb.actions().artifact_delta.empty()) return std::nullopt;
    Event event = Event::make(ctx.invocation_id, ctx.agent->name());
    event.branch = ctx.branch;
    if (content) {
        if (content->role.empty()) content->role = "model";
        event.content = std::move(*content);
    }
    event.actions = std::move(cb.actions());
    return event;
}

}  // namespace

aio::AsyncGenerator<Event> BaseAgent::run_with_callbacks(InvocationContext ctx) {
    {
        CallbackContext cb(ctx);
        aio::Coro<std::optional<Content>> before = run_callbacks(before_agent_, cb);
        std::optional<Content> content = co_await std::move(before);
        const bool skip = content.has_value();
        if (std::optional<Event> event = callback_event(ctx, cb, std::move(content))) co_yield std::move(*event);
        if (skip) co_return;
    }
    co_yield aio::yield_from(run_impl(ctx));
    if (ctx.end_invocation()) co_return;
    CallbackContext cb(ctx);
    aio::Coro<std::optional<Content>> after = run_callbacks(after_agent_, cb);
    std::optional<Content> content = co_await std::move(after);
    if (std::optional<Event> event = callback_event(ctx, cb, std::move(content))) co_yield std::move(*event);
}

}  // namespace adk
