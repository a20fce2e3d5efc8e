// adk::LlmAgent and its flow (adk/llm_agent.hpp).
#include "adk/llm_agent.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "adk/session.hpp"
#include "adk/toolset.hpp"
#include "aio/task_group.hpp"
#include "aio/timeout.hpp"

namespace adk {

// ---- instruction templating -------------------------------------------------

namespace {

bool is_identifier(const std::string& s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

// ADK's _is_valid_state_name: an identifier, optionally after app:, user: or temp:.
bool is_valid_state_name(const std::string& name) {
    auto colon = name.find(':');
    if (colon == std::string::npos) return is_identifier(name);
    if (name.find(':', colon + 1) != std::string::npos) return false;
    std::string prefix = name.substr(0, colon + 1);
    if (prefix != State::kAppPrefix && prefix != State::kUserPrefix && prefix != State::kTempPrefix) return false;
    return is_identifier(name.substr(colon + 1));
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n\r");
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(" \t\n\r");
    return s.substr(b, e - b + 1);
}

}  // namespace

namespace {

/// Replaces one `{...}` reference (braces included in `whole`) or keeps it.
void substitute(const std::string& whole, const Json& state, std::string& out) {
    std::string name = whole;
    name.erase(0, name.find_first_not_of('{'));
    name.erase(name.find_last_not_of('}') + 1);
    name = trim(name);
    bool optional = !name.empty() && name.back() == '?';
    if (optional) name.pop_back();
    if (!is_valid_state_name(name)) {
        out += whole;  // not a state reference: left as written
        return;
    }
    auto found = state.is_object() ? state.find(name) : state.end();
    if (!state.is_object() || found == state.end()) {
        if (optional) return;
        throw std::out_of_range("Context variable not found: `" + name + "`.");
    }
    out += found->is_string() ? found->get<std::string>() : found->dump();
}

}  // namespace

std::string inject_session_state(const std::string& tmpl, const Json& state) {
    // ADK matches the regex \{+[^{}]*\}+ ; this scanner finds the same
    // matches without std::regex (run on every model call).
    if (tmpl.find('{') == std::string::npos) return tmpl;
    std::string out;
    out.reserve(tmpl.size());
    const std::size_t n = tmpl.size();
    std::size_t pos = 0;
    while (pos < n) {
        std::size_t open = tmpl.find('{', pos);
        if (open == std::string::npos) break;
        std::size_t body = open;
        while (body < n && tmpl[body] == '{') ++body;
        std::size_t close = body;
        while (close < n && tmpl[close] != '{' && tmpl[close] != '}') ++close;
        if (close == n) break;  // no closing brace: the rest is text
        if (tmpl[close] == '{') {  // a new opening run: no match starts before it
            out.append(tmpl, pos, close - pos);
            pos = close;
            continue;
        }
        std::size_t end = close;
        while (end < n && tmpl[end] == '}') ++end;
        out.append(tmpl, pos, open - pos);
        substitute(tmpl.substr(open, end - open), state, out);
        pos = end;
    }
    out.append(tmpl, pos, std::string::npos);
    return out;
}

// ---- contents ---------------------------------------------------------------

namespace {

bool belongs_to_branch(const std::optional<std::string>& branch, const Event& e) {
    if (!branch || !e.branch) return true;
    return branch->compare(0, e.branch->size(), *e.branch) == 0;
}

bool is_other_agent_reply(const std::string& agent_name, const Event& e) {
    return !agent_name.empty() && e.author != agent_name && e.author != "user";
}

Content convert_foreign_event(const Event& e) {
    Content c;
    c.role = "user";
    c.parts.push_back(Part::from_text("For context:"));
    for (const Part& p : e.content->parts) {
        if (p.thought.value_or(false)) continue;
        if (p.text && !p.text->empty()) {
            c.parts.push_back(Part::from_text("[" + e.author + "] said: " + *p.text));
        } else if (p.function_call) {
            c.parts.push_back(Part::from_text("[" + e.author + "] called tool `" + p.function_call->name +
                                              "` with parameters: " + p.function_call->args.dump()));
        } else if (p.function_response) {
            c.parts.push_back(Part::from_text("[" + e.author + "] `" + p.function_response->name +
                                              "` tool returned result: " + p.function_response->response.dump()));
        } else if (!p.text) {
            c.parts.push_back(p);
        }
    }
    return c;
}

void strip_client_ids(Content& c) {
    auto is_client = [](const std::string& id) { return id.rfind(kFunctionCallIdPrefix, 0) == 0; };
    for (Part& p : c.parts) {
        if (p.function_call && is_client(p.function_call->id)) p.function_call->id.clear();
        if (p.function_response && is_client(p.function_response->id)) p.function_response->id.clear();
    }
}

}  // namespace

namespace {

bool is_content_event(const std::optional<std::string>& branch, const Event& e) {
    if (!e.content || e.content->role.empty() || e.content->parts.empty()) return false;
    if (e.content->parts.size() == 1 && e.content->parts[0].text && e.content->parts[0].text->empty()) return false;
    return belongs_to_branch(branch, e) && !e.is_partial();
}

/// ADK's _rearrange_events_for_latest_function_response: when the last
/// event answers calls made by an earlier event, drop what lies between
/// and merge every response to those calls (the latest per id) into one
/// event right after the call.
std::vector<const Event*> rearrange_for_latest_response(std::vector<const Event*> events) {
    if (events.size() < 2) return events;
    // The ids answered by the last event (read in place: no copies of the
    // calls' args or the responses).
    std::vector<const std::string*> ids;
    if (const Event& last = *events.back(); last.content)
        for (const Part& p : last.content->parts)
            if (p.function_response && !p.function_response->id.empty()) ids.push_back(&p.function_response->id);
    if (ids.empty()) return events;
    auto calls_one = [&ids](const Event& e) {
        if (!e.content) return false;
        for (const Part& p : e.content->parts)
            if (p.function_call)
                for (const std::string* id : ids)
                    if (p.function_call->id == *id) return true;
        return false;
    };
    // The immediately preceding event already holds the calls: nothing to do.
    if (calls_one(*events[events.size() - 2])) return events;
    std::size_t call_index = events.size();
    for (std::size_t i = events.size() - 1; i-- > 0;)
        if (calls_one(*events[i])) {
            call_index = i;
            break;
        }
    if (call_index == events.size()) return events;  // the call is not in this history
    // Responses to the same calls issued in between (e.g. a long-running
    // tool's first status) are superseded by the latest one.
    std::vector<const Event*> out(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(call_index) + 1);
    out.push_back(events.back());
    return out;
}

bool has_function_calls(const Event& e) {
    if (e.content)
        for (const Part& p : e.content->parts)
            if (p.function_call) return true;
    return false;
}

}  // namespace

std::vector<Content> build_contents(const std::optional<std::string>& branch, const EventList& events,
                                    const std::string& agent_name, bool current_turn_only) {
    std::vector<const Event*> kept;
    for (const Event& e : events)
        if (is_content_event(branch, e)) kept.push_back(&e);
    if (current_turn_only) {
        std::size_t start = kept.size();
        for (std::size_t i = kept.size(); i-- > 0;)
            if (kept[i]->author == "user" || is_other_agent_reply(agent_name, *kept[i])) {
                start = i;
                break;
            }
        kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(start));
    }
    kept = rearrange_for_latest_response(std::move(kept));
    std::vector<Content> out;
    out.reserve(kept.size());
    for (const Event* e : kept) {
        Content c = is_other_agent_reply(agent_name, *e) ? convert_foreign_event(*e) : *e->content;
        strip_client_ids(c);
        out.push_back(std::move(c));
    }
    return out;
}

// ---- built-in tools -----------------------------------------------------------

namespace {

/// transfer_to_agent(agent_name): records the transfer in the call's actions.
class TransferToAgentTool final : public BaseTool {
public:
    TransferToAgentTool()
        : BaseTool("transfer_to_agent",
                   "Transfer the question to another agent. This tool hands off control to another agent when "
                   "it's more suitable to answer the user's question according to the agent's description.") {}

    std::optional<Json> declaration() const override {
        return Json{{"name", name()},
                    {"description", description()},
                    {"parameters",
                     {{"type", "OBJECT"},
                      {"properties", {{"agent_name", {{"type", "STRING"}, {"description", "the agent name to transfer to"}}}}},
                      {"required", Json::array({"agent_name"})}}}};
    }

    aio::Coro<Json> run(Json args, ToolContext& ctx) override {
        const Json* name = args.is_object() && args.contains("agent_name") ? &args["agent_name"] : nullptr;
        if (!name || !name->is_string()) co_return Json{{"error", "transfer_to_agent needs a string agent_name"}};
        std::string target = name->get<std::string>();
        BaseAgent* self = ctx.invocation_context().agent;
        if (auto* llm = dynamic_cast<LlmAgent*>(self)) {
            bool allowed = false;
            std::string names;
            for (BaseAgent* a : llm->transfer_targets()) {
                allowed = allowed || a->name() == target;
                names += (names.empty() ? "" : ", ") + a->name();
            }
            if (!allowed)
                co_return Json{{"error", "Agent `" + target + "` is not a transfer target. Valid targets: " +
                                             (names.empty() ? "(none)" : names) + "."}};
        }
        ctx.actions().transfer_to_agent = target;
        co_return Json{{"result", "Transfer queued"}};  // ADK-TS's answer (ADK-python: {"result": null})
    }
};

}  // namespace

std::shared_ptr<BaseTool> transfer_to_agent_tool() {
    static const std::shared_ptr<BaseTool> tool = std::make_shared<TransferToAgentTool>();
    return tool;
}

// ---- LlmAgent ---------------------------------------------------------------

LlmAgent::LlmAgent(Options options)
    : BaseAgent(options.name, options.description, options.sub_agents), options_(std::move(options)) {
    options_.sub_agents.clear();  // owned by BaseAgent
    for (const auto& t : options_.tools)
        if (!t.tool && !t.toolset) throw std::invalid_argument("agent '" + name() + "': null tool");
    before_agent_callback() = std::move(options_.before_agent_callback);
    after_agent_callback() = std::move(options_.after_agent_callback);
}

std::shared_ptr<LlmAgent> LlmAgent::make(Options options) { return std::make_shared<LlmAgent>(std::move(options)); }

std::shared_ptr<BaseLlm> LlmAgent::canonical_model() const {
    if (options_.model.llm) return options_.model.llm;
    if (!options_.model.name.empty()) {
        if (!resolved_) resolved_ = LlmRegistry::global().resolve(options_.model.name);
        return resolved_;
    }
    for (BaseAgent* a = parent_agent(); a; a = a->parent_agent())
        if (auto* llm_agent = dynamic_cast<LlmAgent*>(a); llm_agent && !llm_agent->options_.model.empty())
            return llm_agent->canonical_model();
    throw std::invalid_argument("No model found for agent '" + name() + "'");
}

std::vector<BaseAgent*> LlmAgent::transfer_targets() const {
    std::vector<BaseAgent*> targets;
    for (const AgentPtr& sub : sub_agents()) targets.push_back(sub.get());
    auto* parent = dynamic_cast<LlmAgent*>(parent_agent());
    if (!parent) return targets;
    if (!options_.disallow_transfer_to_parent) targets.push_back(parent);
    if (!options_.disallow_transfer_to_peers)
        for (const AgentPtr& peer : parent->sub_agents())
            if (peer.get() != this) targets.push_back(peer.get());
    return targets;
}

std::vector<std::shared_ptr<BaseToolset>> LlmAgent::toolsets() const {
    std::vector<std::shared_ptr<BaseToolset>> out;
    for (const ToolUnion& t : options_.tools)
        if (t.toolset) out.push_back(t.toolset);
    return out;
}

namespace {

std::string transfer_instructions(const LlmAgent& agent, const std::vector<BaseAgent*>& targets) {
    std::string text = "\nYou have a list of other agents to transfer to:\n";
    for (BaseAgent* target : targets)
        text += "\nAgent name: " + target->name() + "\nAgent description: " + target->description() + "\n";
    text +=
        "\nIf you are the best to answer the question according to your description, you can answer it.\n"
        "\nIf another agent is better for answering the question according to its description, call "
        "`transfer_to_agent` function to transfer the question to that agent. When transferring, do not generate "
        "any text other than the function call.\n";
    if (BaseAgent* parent = agent.parent_agent();
        parent && std::find(targets.begin(), targets.end(), parent) != targets.end())
        text += "\nYour parent agent is " + parent->name() +
                ". If neither the other agents nor you are best for answering the question according to the "
                "descriptions, transfer to your parent agent.\n";
    return text;
}

}  // namespace

aio::Coro<LlmRequest> LlmAgent::build_request(const InvocationContext& ctx) const {
    LlmRequest request;
    request.model = canonical_model()->model();
    request.config = options_.generate_content_config.is_object() ? options_.generate_content_config : Json::object();
    const Json& state = ctx.session->state;
    ReadonlyContext readonly(ctx);
    // instructions: the root's global instruction, then ours, then identity
    if (auto* root = dynamic_cast<const LlmAgent*>(&const_cast<LlmAgent*>(this)->root_agent());
        root && !root->options_.global_instruction.empty())
        request.append_instructions(inject_session_state(root->options_.global_instruction, state));
    if (options_.instruction_provider) {
        aio::Coro<std::string> providing = (*options_.instruction_provider)(readonly);
        std::string text = co_await std::move(providing);
        request.append_instructions(text);
    } else if (!options_.instruction.empty()) {
        request.append_instructions(inject_session_state(options_.instruction, state));
    }
    std::string identity = "You are an agent. Your internal name is \"" + name() + "\".";
    if (!description().empty()) identity += " The description about you is \"" + description() + "\"";
    request.append_instructions(identity);
    for (const ToolUnion& t : options_.tools) {
        if (t.tool) {
            request.append_tool(t.tool);
            continue;
        }
        aio::Coro<std::vector<std::shared_ptr<BaseTool>>> listing = t.toolset->get_filtered_tools(&readonly);
        std::vector<std::shared_ptr<BaseTool>> listed = co_await std::move(listing);
        for (auto& tool : listed) request.append_tool(std::move(tool));
    }
    if (std::vector<BaseAgent*> targets = transfer_targets(); !targets.empty()) {
        request.append_instructions(transfer_instructions(*this, targets));
        request.append_tool(transfer_to_agent_tool());
    }
    request.contents = build_contents(ctx.branch, ctx.session->events, name(),
                                      options_.include_contents == IncludeContents::none);
    co_return request;
}

void LlmAgent::maybe_save_output(Event& event) const {
    if (options_.output_key.empty() || event.author != name() || !event.is_final_response()) return;
    if (!event.content || event.content->parts.empty()) return;
    event.actions.state_delta[options_.output_key] = event.content->text();
}

namespace {

std::optional<std::chrono::milliseconds> shortest(std::optional<std::chrono::milliseconds> a,
                                                  std::optional<std::chrono::milliseconds> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

aio::Coro<> store_into(std::optional<Part>& out, aio::Coro<std::optional<Part>> call) {
    out = co_await std::move(call);
}

/// Runs the tool itself, bounded by `limit`; errors become error results.
aio::Coro<Json> invoke_tool(BaseTool& tool, Json args, ToolContext& tool_ctx,
                            std::optional<std::chrono::milliseconds> limit) {
    std::string failure;
    try {
        aio::Coro<Json> running = tool.run(std::move(args), tool_ctx);
        if (!limit) {
            Json value = co_await std::move(running);
            co_return value;
        }
        aio::Coro<Json> bounded = aio::timeout(*limit, std::move(running));
        Json value = co_await std::move(bounded);
        co_return value;
    } catch (const aio::TimeoutError&) {
        failure = "timed out after " + std::to_string(limit ? limit->count() : 0) + " ms";
    } catch (const std::exception& e) {  // CancelledError is not a std::exception: it propagates
        failure = std::string("failed: ") + e.what();
    }
    co_return Json{{"error", "Tool `" + tool.name() + "` " + failure}};
}

}  // namespace

aio::Coro<std::optional<Part>> LlmAgent::run_function_call(
    InvocationContext& ctx, FunctionCall call, std::shared_ptr<BaseTool> tool,
    const std::map<std::string, std::shared_ptr<BaseTool>>* tools, EventActions* out_actions) const {
    ToolContext tool_ctx(ctx, call.id);
    Json result;
    if (!tool) {
        std::string available;
        for (const auto& [n, t] : *tools) available += (available.empty() ? "" : ", ") + n;
        result = Json{{"error", "Function " + call.name + " is not found in the tools_dict. Available tools: " +
                                    (available.empty() ? "(none)" : available) + "."}};
    } else {
        Json args = call.args.is_null() ? Json::object() : call.args;
        aio::Coro<std::optional<Json>> before = run_callbacks(options_.before_tool_callback, *tool, args, tool_ctx);
        std::optional<Json> replaced = co_await std::move(before);
        if (replaced) {
            result = std::move(*replaced);
        } else {
            auto limit = shortest(tool->timeout(), ctx.run_config.tool_timeout);
            aio::Coro<Json> invoking = invoke_tool(*tool, args, tool_ctx, limit);
            result = co_await std::move(invoking);
        }
        aio::Coro<std::optional<Json>> after =
            run_callbacks(options_.after_tool_callback, *tool, args, tool_ctx, result);
        std::optional<Json> altered = co_await std::move(after);
        if (altered) result = std::move(*altered);
        // A long-running tool with nothing to say yet: no response for now.
        if (tool->is_long_running() && result.is_null()) {
            *out_actions = std::move(tool_ctx.actions());
            co_return std::nullopt;
        }
    }
    if (!result.is_object()) result = Json{{"result", std::move(result)}};
    FunctionResponse response;
    response.id = call.id;
    response.name = call.name;
    response.response = std::move(result);
    *out_actions = std::move(tool_ctx.actions());
    co_return Part::from_function_response(std::move(response));
}

aio::Coro<std::optional<Event>> LlmAgent::handle_function_calls(
    InvocationContext& ctx, const Event& call_event, std::map<std::string, std::shared_ptr<BaseTool>> tools) const {
    std::vector<FunctionCall> calls = call_event.function_calls();
    std::vector<std::optional<Part>> parts(calls.size());
    std::vector<EventActions> actions(calls.size());
    auto tool_for = [&tools](const std::string& n) -> std::shared_ptr<BaseTool> {
        auto it = tools.find(n);
        return it == tools.end() ? nullptr : it->second;
    };
    if (calls.size() == 1) {
        std::shared_ptr<BaseTool> tool = tool_for(calls[0].name);
        aio::Coro<std::optional<Part>> one = run_function_call(ctx, calls[0], std::move(tool), &tools, &actions[0]);
        parts[0] = co_await std::move(one);
    } else {
        // Several calls from one model turn run concurrently. The body is
        // built in its own statement (g++ 12: no capturing lambda in a
        // co_await statement).
        auto body = [&](aio::TaskGroup& tg) -> aio::Coro<> {
            for (std::size_t i = 0; i < calls.size(); ++i)
                tg.create_task(store_into(parts[i], run_function_call(ctx, calls[i], tool_for(calls[i].name),
                                                                      &tools, &actions[i])));
            co_return;
        };
        aio::Coro<> group = aio::task_group(std::move(body));
        co_await std::move(group);
    }
    Event response = Event::make(ctx.invocation_id, name());
    response.branch = ctx.branch;
    Content content;
    content.role = "user";
    for (std::optional<Part>& p : parts)
        if (p) content.parts.push_back(std::move(*p));
    for (const EventActions& a : actions) response.actions.merge(a);  // key by key, in call order
    if (content.parts.empty()) {
        // Only long-running calls without results: nothing to answer yet,
        // but what the tools recorded must still reach the session.
        const bool has_actions = !response.actions.state_delta.empty() || !response.actions.artifact_delta.empty() ||
                                 response.actions.transfer_to_agent || response.actions.escalate;
        if (!has_actions) co_return std::nullopt;
    } else {
        response.content = std::move(content);
    }
    co_return response;
}

namespace {

aio::Coro<std::optional<LlmResponse>> next_response(aio::AsyncGenerator<LlmResponse>& responses) {
    std::optional<LlmResponse> r = co_await responses.next();
    co_return r;
}

}  // namespace

aio::AsyncGenerator<LlmResponse> LlmAgent::call_model(InvocationContext& ctx, LlmRequest request,
                                                      CallbackContext& cb) const {
    aio::Coro<std::optional<LlmResponse>> before = run_callbacks(options_.before_model_callback, cb, request);
    std::optional<LlmResponse> short_circuit = co_await std::move(before);
    if (short_circuit) {
        co_yield std::move(*short_circuit);
        co_return;
    }
    ctx.increment_llm_call_count();
    std::shared_ptr<BaseLlm> llm = canonical_model();
    const bool stream = ctx.run_config.streaming_mode == StreamingMode::sse;
    const auto limit = ctx.run_config.llm_call_timeout;
    aio::AsyncGenerator<LlmResponse> responses = llm->generate_content(std::move(request), stream);
    std::optional<aio::Clock::time_point> deadline;
    if (limit) deadline = aio::get_running_loop().time() + *limit;
    std::exception_ptr interrupted;
    try {
        while (true) {
            std::optional<LlmResponse> response;
            if (!deadline) {
                response = co_await responses.next();
            } else {
                bool timed_out = false;
                try {
                    aio::Coro<std::optional<LlmResponse>> bounded =
                        aio::timeout_at(*deadline, next_response(responses));
                    response = co_await std::move(bounded);
                } catch (const aio::TimeoutError&) {
                    timed_out = true;
                }
                if (timed_out)
                    throw LlmTimeoutError("Model call of agent '" + name() + "' timed out after " +
                                          std::to_string(limit->count()) + " ms");
            }
            if (!response) co_return;
            if (!options_.after_model_callback.empty()) {
                aio::Coro<std::optional<LlmResponse>> after =
                    run_callbacks(options_.after_model_callback, cb, *response);
                std::optional<LlmResponse> altered = co_await std::move(after);
                if (altered) response = std::move(altered);
            }
            co_yield std::move(*response);
        }
    } catch (...) {  // failed, cancelled, or closed at our co_yield
        interrupted = std::current_exception();
    }
    // The model's stream may be suspended at its own co_yield: close it so
    // its cleanup runs (no-op once it has finished).
    co_await responses.aclose();
    std::rethrow_exception(interrupted);
}

aio::AsyncGenerator<Event> LlmAgent::run_impl(InvocationContext ctx) {
    while (true) {
        if (ctx.end_invocation()) co_return;
        aio::Coro<LlmRequest> building = build_request(ctx);
        LlmRequest request = co_await std::move(building);
        std::map<std::string, std::shared_ptr<BaseTool>> tools = request.tools_dict;
        CallbackContext cb(ctx);
        aio::AsyncGenerator<LlmResponse> responses = call_model(ctx, std::move(request), cb);
        // The step's last event: only whether it was partial matters then,
        // so partial chunks are not copied; the last complete one is.
        std::optional<Event> last;
        bool any_event = false;
        bool last_partial = false;
        std::exception_ptr interrupted;
        try {
            while (true) {
                std::optional<LlmResponse> response = co_await responses.next();
                if (!response) break;
                Event event = Event::from_response(std::move(*response), ctx.invocation_id, name());
                event.branch = ctx.branch;
                if (!event.is_partial()) {
                    // What the model callbacks recorded rides on the step's
                    // first complete event.
                    event.actions.merge(cb.actions());
                    cb.actions() = EventActions{};
                }
                if (!event.is_partial() && event.content) {
                    std::vector<std::string> long_running;
                    for (Part& p : event.content->parts) {
                        if (!p.function_call) continue;
                        if (p.function_call->id.empty()) p.function_call->id = new_function_call_id();
                        if (auto t = tools.find(p.function_call->name);
                            t != tools.end() && t->second->is_long_running())
                            long_running.push_back(p.function_call->id);
                    }
                    if (!long_running.empty()) event.long_running_tool_ids = std::move(long_running);
                }
                maybe_save_output(event);
                any_event = true;
                last_partial = event.is_partial();
                if (!last_partial) last = event;
                co_yield std::move(event);
            }
        } catch (...) {  // failed, cancelled, or closed at our co_yield
            interrupted = std::current_exception();
        }
        if (interrupted) {
            co_await responses.aclose();  // let the model's stream clean up
            std::rethrow_exception(interrupted);
        }
        if (!any_event) co_return;  // the model said nothing
        if (last_partial)
            throw ModelError("Last event shouldn't be partial. LLM max output limit may be reached.");
        const bool model_final = last->is_final_response();
        // No response event: `last` (the model's) decides, as model_final.
        bool responses_final = false;
        if (has_function_calls(*last)) {
            aio::Coro<std::optional<Event>> handling = handle_function_calls(ctx, *last, std::move(tools));
            std::optional<Event> responses_event = co_await std::move(handling);
            if (responses_event) {
                std::optional<std::string> transfer = responses_event->actions.transfer_to_agent;
                responses_final = responses_event->is_final_response();
                co_yield std::move(*responses_event);
                if (transfer) {
                    BaseAgent* target = root_agent().find_agent(*transfer);
                    if (!target) throw std::invalid_argument("Agent " + *transfer + " not found in the agent tree.");
                    co_yield aio::yield_from(target->run(ctx));
                    co_return;
                }
            }
        }
        if (model_final || responses_final) co_return;
    }
}

}  // namespace adk
