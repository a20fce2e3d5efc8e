// adk::LlmAgent and its flow (adk/llm_agent.hpp).
#include "adk/llm_agent.hpp"

#include <regex>
#include <stdexcept>

#include "adk/session.hpp"
#include "aio/task_group.hpp"

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

std::string inject_session_state(const std::string& tmpl, const Json& state) {
    static const std::regex pattern("\\{+[^{}]*\\}+");
    std::string out;
    auto begin = std::sregex_iterator(tmpl.begin(), tmpl.end(), pattern);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        const std::smatch& m = *it;
        out.append(tmpl, last, static_cast<std::size_t>(m.position()) - last);
        last = static_cast<std::size_t>(m.position() + m.length());
        std::string whole = m.str();
        std::string name = whole;
        name.erase(0, name.find_first_not_of('{'));
        name.erase(name.find_last_not_of('}') + 1);
        name = trim(name);
        bool optional = !name.empty() && name.back() == '?';
        if (optional) name.pop_back();
        if (!is_valid_state_name(name)) {
            out += whole;  // not a state reference: left as written
            continue;
        }
        auto found = state.is_object() ? state.find(name) : state.end();
        if (!state.is_object() || found == state.end()) {
            if (optional) continue;
            throw std::out_of_range("Context variable not found: `" + name + "`.");
        }
        out += found->is_string() ? found->get<std::string>() : found->dump();
    }
    out.append(tmpl, last, std::string::npos);
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

std::vector<Content> build_contents(const std::optional<std::string>& branch, const std::vector<Event>& events,
                                    const std::string& agent_name) {
    std::vector<Content> out;
    for (const Event& e : events) {
        if (!e.content || e.content->role.empty() || e.content->parts.empty()) continue;
        if (e.content->parts.size() == 1 && e.content->parts[0].text && e.content->parts[0].text->empty()) continue;
        if (!belongs_to_branch(branch, e)) continue;
        if (e.is_partial()) continue;
        Content c = is_other_agent_reply(agent_name, e) ? convert_foreign_event(e) : *e.content;
        strip_client_ids(c);
        out.push_back(std::move(c));
    }
    return out;
}

// ---- LlmAgent ---------------------------------------------------------------

LlmAgent::LlmAgent(Options options)
    : BaseAgent(options.name, options.description, options.sub_agents), options_(std::move(options)) {
    options_.sub_agents.clear();  // owned by BaseAgent
    for (const auto& t : options_.tools)
        if (!t) throw std::invalid_argument("agent '" + name() + "': null tool");
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

LlmRequest LlmAgent::build_request(const InvocationContext& ctx) const {
    LlmRequest request;
    request.model = canonical_model()->model();
    request.config = options_.generate_content_config.is_object() ? options_.generate_content_config : Json::object();
    const Json& state = ctx.session->state;
    // instructions: the root's global instruction, then ours, then identity
    if (auto* root = dynamic_cast<const LlmAgent*>(&const_cast<LlmAgent*>(this)->root_agent());
        root && !root->options_.global_instruction.empty())
        request.append_instructions(inject_session_state(root->options_.global_instruction, state));
    if (options_.instruction_provider) request.append_instructions(options_.instruction_provider(ctx));
    else if (!options_.instruction.empty()) request.append_instructions(inject_session_state(options_.instruction, state));
    std::string identity = "You are an agent. Your internal name is \"" + name() + "\".";
    if (!description().empty()) identity += " The description about you is \"" + description() + "\"";
    request.append_instructions(identity);
    for (const auto& tool : options_.tools) request.append_tool(tool);
    request.contents = build_contents(ctx.branch, ctx.session->events, name());
    return request;
}

void LlmAgent::maybe_save_output(Event& event) const {
    if (options_.output_key.empty() || event.author != name() || !event.is_final_response()) return;
    if (!event.content || event.content->parts.empty()) return;
    event.actions.state_delta[options_.output_key] = event.content->text();
}

namespace {

/// Runs one function call; never throws but CancelledError.
aio::Coro<> run_one_call(InvocationContext& ctx, FunctionCall call, std::shared_ptr<BaseTool> tool,
                         const std::map<std::string, std::shared_ptr<BaseTool>>* tools, Part* out,
                         EventActions* out_actions) {
    ToolContext tool_ctx(ctx, call.id);
    Json result;
    if (!tool) {
        std::string available;
        for (const auto& [n, t] : *tools) available += (available.empty() ? "" : ", ") + n;
        result = Json{{"error", "Function " + call.name + " is not found in the tools_dict. Available tools: " +
                                    (available.empty() ? "(none)" : available) + "."}};
    } else {
        std::string failure;
        bool failed = false;
        try {
            aio::Coro<Json> running = tool->run(std::move(call.args), tool_ctx);
            Json value = co_await std::move(running);
            result = std::move(value);
        } catch (const std::exception& e) {  // CancelledError is not a std::exception: it propagates
            failed = true;
            failure = e.what();
        }
        if (failed) result = Json{{"error", "Tool `" + call.name + "` failed: " + failure}};
    }
    if (!result.is_object()) result = Json{{"result", std::move(result)}};
    FunctionResponse response;
    response.id = call.id;
    response.name = call.name;
    response.response = std::move(result);
    *out = Part::from_function_response(std::move(response));
    *out_actions = std::move(tool_ctx.actions());
}

}  // namespace

aio::Coro<Event> LlmAgent::handle_function_calls(InvocationContext& ctx, const Event& call_event,
                                                 std::map<std::string, std::shared_ptr<BaseTool>> tools) {
    std::vector<FunctionCall> calls = call_event.function_calls();
    std::vector<Part> parts(calls.size());
    std::vector<EventActions> actions(calls.size());
    auto tool_for = [&tools](const std::string& n) -> std::shared_ptr<BaseTool> {
        auto it = tools.find(n);
        return it == tools.end() ? nullptr : it->second;
    };
    if (calls.size() == 1) {
        std::shared_ptr<BaseTool> tool = tool_for(calls[0].name);
        aio::Coro<> one = run_one_call(ctx, calls[0], std::move(tool), &tools, &parts[0], &actions[0]);
        co_await std::move(one);
    } else {
        // Several calls from one model turn run concurrently. The body is
        // built in its own statement (g++ 12: no capturing lambda in a
        // co_await statement).
        auto body = [&](aio::TaskGroup& tg) -> aio::Coro<> {
            for (std::size_t i = 0; i < calls.size(); ++i)
                tg.create_task(run_one_call(ctx, calls[i], tool_for(calls[i].name), &tools, &parts[i], &actions[i]));
            co_return;
        };
        aio::Coro<> group = aio::task_group(std::move(body));
        co_await std::move(group);
    }
    Event response = Event::make(ctx.invocation_id, name());
    response.branch = ctx.branch;
    Content content;
    content.role = "user";
    content.parts = std::move(parts);
    response.content = std::move(content);
    for (const EventActions& a : actions) response.actions.merge(a);  // key by key, in call order
    co_return response;
}

aio::AsyncGenerator<Event> LlmAgent::run_impl(InvocationContext ctx) {
    std::shared_ptr<BaseLlm> llm = canonical_model();
    const bool stream = ctx.run_config.streaming_mode == StreamingMode::sse;
    while (true) {
        if (ctx.end_invocation()) co_return;
        LlmRequest request = build_request(ctx);
        std::map<std::string, std::shared_ptr<BaseTool>> tools = request.tools_dict;
        ctx.increment_llm_call_count();
        aio::AsyncGenerator<LlmResponse> responses = llm->generate_content(std::move(request), stream);
        std::optional<Event> last;
        while (true) {
            std::optional<LlmResponse> response = co_await responses.next();
            if (!response) break;
            Event event = Event::from_response(std::move(*response), ctx.invocation_id, name());
            event.branch = ctx.branch;
            if (!event.is_partial() && event.content) {
                bool has_calls = false;
                for (Part& p : event.content->parts)
                    if (p.function_call) {
                        has_calls = true;
                        if (p.function_call->id.empty()) p.function_call->id = new_function_call_id();
                    }
                if (has_calls) {
                    std::vector<std::string> long_running;
                    for (const Part& p : event.content->parts)
                        if (p.function_call)
                            if (auto t = tools.find(p.function_call->name);
                                t != tools.end() && t->second->is_long_running())
                                long_running.push_back(p.function_call->id);
                    event.long_running_tool_ids = std::move(long_running);
                }
            }
            maybe_save_output(event);
            last = event;
            co_yield std::move(event);
        }
        if (!last) co_return;  // the model said nothing
        if (last->is_partial())
            throw ModelError("Last event shouldn't be partial. LLM max output limit may be reached.");
        bool model_final = last->is_final_response();
        if (!last->function_calls().empty()) {
            aio::Coro<Event> handling = handle_function_calls(ctx, *last, std::move(tools));
            Event responses_event = co_await std::move(handling);
            last = responses_event;
            co_yield std::move(responses_event);
        }
        if (model_final || last->is_final_response()) co_return;
    }
}

}  // namespace adk
