// adk::LlmRequest and adk::LlmRegistry (adk/llm.hpp).
#include "adk/llm.hpp"

#include <regex>

#include "adk/tool.hpp"

namespace adk {

void LlmRequest::append_instructions(const std::string& text) {
    if (text.empty()) return;
    if (!system_instruction.empty()) system_instruction += "\n\n";
    system_instruction += text;
}

void LlmRequest::append_tool(std::shared_ptr<BaseTool> tool) {
    if (!tool) return;
    if (std::optional<Json> d = tool->declaration()) function_declarations.push_back(std::move(*d));
    std::string name = tool->name();
    tools_dict[name] = std::move(tool);
}

std::string LlmRequest::last_user_text() const {
    if (contents.empty() || contents.back().role != "user") return {};
    return contents.back().text();
}

void to_json(Json& j, const LlmRequest& v) {
    j = Json::object();
    j["model"] = v.model;
    Json contents = Json::array();
    for (const Content& c : v.contents) contents.push_back(c);
    j["contents"] = std::move(contents);
    Json config = v.config.is_object() ? v.config : Json::object();
    if (!v.system_instruction.empty()) config["systemInstruction"] = v.system_instruction;
    if (!v.function_declarations.empty())
        config["tools"] = Json::array({Json{{"functionDeclarations", v.function_declarations}}});
    j["config"] = std::move(config);
}

LlmRegistry& LlmRegistry::global() {
    static LlmRegistry registry;
    return registry;
}

void LlmRegistry::register_factory(std::string pattern, Factory factory) {
    std::regex check(pattern);  // std::regex_error now rather than at resolve()
    std::lock_guard lock(mutex_);
    factories_.emplace_back(std::move(pattern), std::move(factory));
}

void LlmRegistry::register_model(std::string name, std::shared_ptr<BaseLlm> model) {
    std::lock_guard lock(mutex_);
    instances_[std::move(name)] = std::move(model);
}

std::shared_ptr<BaseLlm> LlmRegistry::resolve(const std::string& name) const {
    Factory factory;
    {
        std::lock_guard lock(mutex_);
        if (auto it = instances_.find(name); it != instances_.end()) return it->second;
        for (auto it = factories_.rbegin(); it != factories_.rend(); ++it)
            if (std::regex_match(name, std::regex(it->first))) {
                factory = it->second;
                break;
            }
    }
    if (!factory) throw std::invalid_argument("Model " + name + " not found (no LlmRegistry entry matches)");
    std::shared_ptr<BaseLlm> model = factory(name);
    if (!model) throw std::invalid_argument("Model " + name + ": the registered factory returned no model");
    return model;
}

}  // namespace adk
