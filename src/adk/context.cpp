// adk::InvocationContext, adk::ReadonlyContext, adk::CallbackContext (adk/context.hpp).
#include "adk/context.hpp"

#include "adk/agent.hpp"
#include "adk/artifacts.hpp"
#include "adk/session.hpp"

namespace adk {

const std::string& InvocationContext::app_name() const { return session->app_name; }
const std::string& InvocationContext::user_id() const { return session->user_id; }

void InvocationContext::increment_llm_call_count() {
    ++shared->llm_calls;
    if (run_config.max_llm_calls > 0 && shared->llm_calls > run_config.max_llm_calls)
        throw LlmCallsLimitExceededError("Max number of llm calls limit of " +
                                         std::to_string(run_config.max_llm_calls) + " exceeded");
}

const std::string& ReadonlyContext::agent_name() const {
    static const std::string none;
    return invocation_->agent ? invocation_->agent->name() : none;
}

const Json& ReadonlyContext::state() const { return invocation_->session->state; }

namespace {
ArtifactService& artifacts_of(const InvocationContext& ctx) {
    if (!ctx.artifact_service)
        throw std::logic_error("Artifact service is not initialized: give the Runner an ArtifactService");
    return *ctx.artifact_service;
}
}  // namespace

aio::Coro<int> CallbackContext::save_artifact(std::string filename, Part artifact) {
    ArtifactService& service = artifacts_of(*invocation_);
    const InvocationContext& ctx = *invocation_;
    aio::Coro<int> saving = service.save_artifact(ctx.app_name(), ctx.user_id(), ctx.session->id, filename,
                                                  std::move(artifact));
    int version = co_await std::move(saving);
    actions_.artifact_delta[filename] = version;
    co_return version;
}

aio::Coro<std::optional<Part>> CallbackContext::load_artifact(std::string filename, std::optional<int> version) {
    ArtifactService& service = artifacts_of(*invocation_);
    const InvocationContext& ctx = *invocation_;
    aio::Coro<std::optional<Part>> loading =
        service.load_artifact(ctx.app_name(), ctx.user_id(), ctx.session->id, std::move(filename), version);
    std::optional<Part> part = co_await std::move(loading);
    co_return part;
}

}  // namespace adk
