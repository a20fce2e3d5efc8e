// adk::AgentTool (adk/agent_tool.hpp).
#include "adk/agent_tool.hpp"

#include <stdexcept>
#include <utility>
#include <vector>

#include "adk/artifacts.hpp"
#include "adk/runner.hpp"
#include "adk/session.hpp"

namespace adk {

namespace {

/// The child's artifact service (ADK's ForwardingArtifactService): every
/// call goes to the parent's artifact service under the parent's session
/// (the ids the child passes are ignored), and saves are recorded in the
/// parent call's artifact_delta.
class ForwardingArtifactService final : public ArtifactService {
public:
    explicit ForwardingArtifactService(ToolContext& ctx) : ctx_(&ctx) {}

    aio::Coro<int> save_artifact(std::string, std::string, std::string, std::string filename,
                                 Part artifact) override {
        // As CallbackContext::save_artifact: saved under the parent's
        // session, recorded in the parent call's artifact_delta.
        const InvocationContext& inv = parent();
        aio::Coro<int> saving = inv.artifact_service->save_artifact(inv.app_name(), inv.user_id(), inv.session->id,
                                                                    filename, std::move(artifact));
        int version = co_await std::move(saving);
        ctx_->actions().artifact_delta[filename] = version;
        co_return version;
    }
    aio::Coro<std::optional<Part>> load_artifact(std::string, std::string, std::string, std::string filename,
                                                 std::optional<int> version) override {
        const InvocationContext& inv = parent();
        aio::Coro<std::optional<Part>> loading = inv.artifact_service->load_artifact(
            inv.app_name(), inv.user_id(), inv.session->id, std::move(filename), version);
        std::optional<Part> part = co_await std::move(loading);
        co_return part;
    }
    aio::Coro<std::vector<std::string>> list_artifact_keys(std::string, std::string, std::string) override {
        const InvocationContext& inv = parent();
        aio::Coro<std::vector<std::string>> listing =
            inv.artifact_service->list_artifact_keys(inv.app_name(), inv.user_id(), inv.session->id);
        std::vector<std::string> keys = co_await std::move(listing);
        co_return keys;
    }
    aio::Coro<> delete_artifact(std::string, std::string, std::string, std::string filename) override {
        const InvocationContext& inv = parent();
        aio::Coro<> deleting =
            inv.artifact_service->delete_artifact(inv.app_name(), inv.user_id(), inv.session->id, std::move(filename));
        co_await std::move(deleting);
    }
    aio::Coro<std::vector<int>> list_versions(std::string, std::string, std::string, std::string filename) override {
        const InvocationContext& inv = parent();
        aio::Coro<std::vector<int>> listing =
            inv.artifact_service->list_versions(inv.app_name(), inv.user_id(), inv.session->id, std::move(filename));
        std::vector<int> versions = co_await std::move(listing);
        co_return versions;
    }

private:
    const InvocationContext& parent() const { return ctx_->invocation_context(); }

    ToolContext* ctx_;
};

/// The text parts of `content` (thoughts excluded), joined with "\n" (ADK).
std::string joined_text(const Content& content) {
    std::string out;
    bool first = true;
    for (const Part& p : content.parts) {
        if (!p.text || p.thought.value_or(false)) continue;
        if (!first) out += '\n';
        out += *p.text;
        first = false;
    }
    return out;
}

Json request_schema() {
    return Json{{"type", "object"},
                {"properties", Json{{"request", Json{{"type", "string"}}}}},
                {"required", Json::array({"request"})}};
}

}  // namespace

AgentTool::AgentTool(AgentPtr agent, Options options)
    : BaseTool(agent ? agent->name() : std::string(), agent ? agent->description() : std::string()),
      agent_(std::move(agent)),
      options_(std::move(options)) {
    if (!agent_) throw std::invalid_argument("AgentTool: null agent");
    if (!options_.input_schema.is_null() && !options_.input_schema.is_object())
        throw std::invalid_argument("AgentTool `" + name() + "`: the input schema must be a JSON object");
    parameters_ = options_.input_schema.is_null() ? request_schema() : options_.input_schema;
}

std::shared_ptr<AgentTool> AgentTool::make(AgentPtr agent, Options options) {
    return std::make_shared<AgentTool>(std::move(agent), std::move(options));
}

std::optional<Json> AgentTool::declaration() const {
    Json d = Json::object();
    d["name"] = name();
    d["description"] = description();
    d["parameters"] = parameters_;
    return d;
}

aio::Coro<Json> AgentTool::run(Json args, ToolContext& ctx) {
    if (std::optional<std::string> problem = validate_args(name(), parameters_, args)) {
        Json error = {{"error", *problem}};
        co_return error;
    }
    if (options_.skip_summarization) ctx.actions().skip_summarization = true;
    Content message = options_.input_schema.is_null() ? Content::user(args.at("request").get<std::string>())
                                                      : Content::user(args.dump());

    const InvocationContext& parent = ctx.invocation_context();
    std::shared_ptr<ArtifactService> artifacts;
    if (parent.artifact_service) artifacts = std::make_shared<ForwardingArtifactService>(ctx);
    // The runner outlives the event stream (declared first, destroyed last).
    InMemoryRunner runner(agent_, agent_->name(), std::move(artifacts));

    Json parent_state = ctx.state().to_dict();
    Json state = Json::object();
    for (const auto& [key, value] : parent_state.items())
        if (key.rfind(State::kTempPrefix, 0) != 0 && key.rfind("_adk", 0) != 0) state[key] = value;
    aio::Coro<Session> creating =
        runner.session_service().create_session(agent_->name(), parent.user_id(), std::move(state));
    Session session = co_await std::move(creating);

    RunConfig config = parent.run_config;
    config.streaming_mode = StreamingMode::none;
    aio::AsyncGenerator<Event> events = runner.run(session.user_id, session.id, std::move(message), config);
    std::optional<Content> last_content;
    while (true) {
        // A cancellation here cancels the child's invocation; the runner's
        // stream rethrows it only once the child has unwound.
        std::optional<Event> event = co_await events.next();
        if (!event) break;
        if (event->actions.state_delta.is_object())
            for (const auto& [key, value] : event->actions.state_delta.items()) ctx.state().set(key, value);
        if (event->content && !event->is_partial()) last_content = std::move(event->content);
    }
    Json result = {{"result", last_content ? joined_text(*last_content) : std::string()}};
    co_return result;
}

}  // namespace adk
