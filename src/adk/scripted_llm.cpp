// adk::ScriptedLlm (adk/scripted_llm.hpp).
#include "adk/scripted_llm.hpp"

#include <fstream>
#include <set>

#include "aio/sleep.hpp"

namespace adk {

ScriptedReply ScriptedReply::say(std::string text) {
    ScriptedReply r;
    r.text = std::move(text);
    return r;
}
ScriptedReply ScriptedReply::call(std::string name, Json args, std::string id) {
    ScriptedReply r;
    FunctionCall c;
    c.id = std::move(id);
    c.name = std::move(name);
    c.args = std::move(args);
    r.function_calls.push_back(std::move(c));
    return r;
}
ScriptedReply ScriptedReply::calls(std::vector<FunctionCall> calls) {
    ScriptedReply r;
    r.function_calls = std::move(calls);
    return r;
}
ScriptedReply ScriptedReply::stream(std::vector<std::string> chunks, std::chrono::milliseconds chunk_delay) {
    ScriptedReply r;
    r.chunks = std::move(chunks);
    r.chunk_delay = chunk_delay;
    return r;
}
ScriptedReply ScriptedReply::error(std::string code, std::string message) {
    ScriptedReply r;
    r.error_code = std::move(code);
    r.error_message = std::move(message);
    return r;
}
ScriptedReply ScriptedReply::fail(std::string message) {
    ScriptedReply r;
    r.raise = std::move(message);
    return r;
}

ScriptedReply scripted_reply_from_json(const Json& j) {
    if (!j.is_object()) throw std::invalid_argument("ScriptedLlm: a reply must be a JSON object, got " + j.dump());
    ScriptedReply r;
    if (const Json* x = detail::find_key(j, "text", nullptr)) r.text = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "functionCalls", "function_calls"))
        for (const Json& c : *x) r.function_calls.push_back(c.get<FunctionCall>());
    if (const Json* x = detail::find_key(j, "chunks", nullptr)) r.chunks = x->get<std::vector<std::string>>();
    if (const Json* x = detail::find_key(j, "delayMs", "delay_ms")) r.delay = std::chrono::milliseconds(x->get<long>());
    if (const Json* x = detail::find_key(j, "chunkDelayMs", "chunk_delay_ms"))
        r.chunk_delay = std::chrono::milliseconds(x->get<long>());
    if (const Json* x = detail::find_key(j, "errorCode", "error_code")) r.error_code = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "errorMessage", "error_message")) r.error_message = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "raise", nullptr)) r.raise = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "fault", nullptr)) r.fault = *x;
    return r;
}

ScriptedLlm::ScriptedLlm(std::vector<ScriptedReply> replies, std::vector<ScriptedRule> rules, std::string model)
    : BaseLlm(std::move(model)), replies_(std::move(replies)), rules_(std::move(rules)) {}

std::shared_ptr<ScriptedLlm> ScriptedLlm::make(std::vector<ScriptedReply> replies, std::vector<ScriptedRule> rules,
                                               std::string model) {
    return std::make_shared<ScriptedLlm>(std::move(replies), std::move(rules), std::move(model));
}

std::shared_ptr<ScriptedLlm> ScriptedLlm::from_json(const Json& script) {
    try {
        if (!script.is_object()) throw std::invalid_argument("the script must be a JSON object");
        std::vector<ScriptedReply> replies;
        std::vector<ScriptedRule> rules;
        if (const Json* x = detail::find_key(script, "replies", nullptr))
            for (const Json& r : *x) replies.push_back(scripted_reply_from_json(r));
        if (const Json* x = detail::find_key(script, "rules", nullptr))
            for (const Json& r : *x) {
                ScriptedRule rule;
                if (!r.is_object()) throw std::invalid_argument("a rule must be a JSON object");
                static const std::set<std::string> known = {"whenUserSays", "when_user_says", "afterTool",
                                                            "after_tool",   "whenAgent",      "when_agent",
                                                            "reply"};
                for (auto it = r.begin(); it != r.end(); ++it)
                    if (!known.count(it.key()))
                        throw std::invalid_argument("unknown rule key \"" + it.key() +
                                                    "\" (whenAgent, whenUserSays, afterTool, reply)");
                if (const Json* w = detail::find_key(r, "whenUserSays", "when_user_says"))
                    rule.when_user_says = w->get<std::string>();
                if (const Json* w = detail::find_key(r, "afterTool", "after_tool")) rule.after_tool = w->get<std::string>();
                if (const Json* w = detail::find_key(r, "whenAgent", "when_agent")) rule.when_agent = w->get<std::string>();
                const Json* reply = detail::find_key(r, "reply", nullptr);
                if (!reply) throw std::invalid_argument("a rule needs a \"reply\"");
                rule.reply = scripted_reply_from_json(*reply);
                rules.push_back(std::move(rule));
            }
        std::string model = "scripted";
        if (const Json* x = detail::find_key(script, "model", nullptr)) model = x->get<std::string>();
        return make(std::move(replies), std::move(rules), std::move(model));
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("ScriptedLlm: malformed script: ") + e.what());
    }
}

std::shared_ptr<ScriptedLlm> ScriptedLlm::from_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("ScriptedLlm: cannot open " + path);
    Json script;
    try {
        script = Json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument("ScriptedLlm: " + path + ": " + e.what());
    }
    return from_json(script);
}

const ScriptedReply& ScriptedLlm::pick(const LlmRequest& request) {
    std::string user_text = request.last_user_text();
    for (const ScriptedRule& rule : rules_) {
        // The flow's identity line names the agent asking.
        if (rule.when_agent && request.system_instruction.find("Your internal name is \"" + *rule.when_agent + "\"") ==
                                   std::string::npos)
            continue;
        if (rule.when_user_says && (user_text.empty() || user_text.find(*rule.when_user_says) == std::string::npos))
            continue;
        if (rule.after_tool) {
            bool found = false;
            if (!request.contents.empty())
                for (const Part& p : request.contents.back().parts)
                    if (p.function_response && p.function_response->name == *rule.after_tool) found = true;
            if (!found) continue;
        }
        return rule.reply;
    }
    if (next_ >= replies_.size())
        throw ModelError("ScriptedLlm '" + model() + "': script exhausted after " + std::to_string(replies_.size()) +
                         " replies (request " + std::to_string(requests_.size()) + ")");
    return replies_[next_++];
}

ScriptedReply ScriptedLlm::next_reply(const LlmRequest& request) {
    requests_.push_back(request);
    return pick(request);  // a copy: the script may be long-lived, the reply is ours
}

aio::AsyncGenerator<LlmResponse> ScriptedLlm::generate_content(LlmRequest request, bool stream) {
    ScriptedReply reply = next_reply(request);
    aio::AsyncGenerator<LlmResponse> playing = play(std::move(reply), std::move(request), stream);
    // yield_from closes `playing` when this stream is closed early.
    co_yield aio::yield_from(std::move(playing));
}

aio::AsyncGenerator<LlmResponse> ScriptedLlm::play(ScriptedReply reply, LlmRequest request, bool stream) {
    if (reply.delay.count() > 0) co_await aio::sleep(reply.delay);
    if (reply.raise) throw ModelError(*reply.raise);
    if (reply.compute) {
        LlmResponse computed = reply.compute(request);
        co_yield std::move(computed);
        co_return;
    }
    if (reply.error_code || reply.error_message) {
        LlmResponse failed;
        failed.error_code = reply.error_code;
        failed.error_message = reply.error_message;
        failed.turn_complete = true;
        co_yield std::move(failed);
        co_return;
    }
    std::string text = reply.text;
    if (!reply.chunks.empty() && text.empty())
        for (const std::string& c : reply.chunks) text += c;
    if (stream && !reply.chunks.empty()) {
        for (std::size_t i = 0; i < reply.chunks.size(); ++i) {
            if (i > 0 && reply.chunk_delay.count() > 0) co_await aio::sleep(reply.chunk_delay);
            LlmResponse chunk;
            chunk.content = Content::model(reply.chunks[i]);
            chunk.partial = true;
            co_yield std::move(chunk);
        }
    }
    LlmResponse final_response;
    Content content;
    content.role = "model";
    if (!text.empty()) content.parts.push_back(Part::from_text(text));
    for (const FunctionCall& c : reply.function_calls) content.parts.push_back(Part::from_function_call(c));
    final_response.content = std::move(content);
    final_response.turn_complete = true;
    co_yield std::move(final_response);
}

}  // namespace adk
