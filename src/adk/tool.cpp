// adk::BaseTool, adk::FunctionTool, adk::ToolContext (adk/tool.hpp).
#include "adk/tool.hpp"

#include <algorithm>
#include <cctype>

#include "adk/agent.hpp"
#include "adk/long_running_tool.hpp"
#include "adk/session.hpp"

namespace adk {

// ---- BaseTool / FunctionTool ------------------------------------------------

std::optional<Json> BaseTool::declaration() const { return std::nullopt; }

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool has_type(const Json& value, const std::string& type) {
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer") {
        if (value.is_number_integer()) return true;
        if (value.is_number_float()) {
            double d = value.get<double>();
            return d == static_cast<double>(static_cast<long long>(d));
        }
        return false;
    }
    if (type == "boolean") return value.is_boolean();
    if (type == "array") return value.is_array();
    if (type == "object") return value.is_object();
    if (type == "null") return value.is_null();
    return true;  // unknown type names are not checked
}

bool matches_type(const Json& value, const Json& type) {
    if (type.is_string()) return has_type(value, lower(type.get<std::string>()));
    if (type.is_array()) {
        for (const Json& t : type)
            if (t.is_string() && has_type(value, lower(t.get<std::string>()))) return true;
        return type.empty();
    }
    return true;
}

}  // namespace

std::optional<std::string> validate_args(const std::string& tool_name, const Json& schema, const Json& args) {
    if (!args.is_object())
        return "Invoking `" + tool_name + "()` failed: the arguments must be a JSON object, got " + args.dump();
    if (!schema.is_object()) return std::nullopt;
    if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
        std::string missing;
        for (const Json& name : *req)
            if (name.is_string() && !args.contains(name.get<std::string>()))
                missing += (missing.empty() ? "" : ", ") + name.get<std::string>();
        if (!missing.empty())
            return "Invoking `" + tool_name +
                   "()` failed as the following mandatory input parameters are not present:\n" + missing +
                   "\nYou could retry calling this tool, but it is IMPORTANT for you to provide all the mandatory "
                   "parameters.";
    }
    if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
        for (auto it = args.begin(); it != args.end(); ++it) {
            auto p = props->find(it.key());
            if (p == props->end() || !p->is_object()) continue;
            auto t = p->find("type");
            if (t == p->end()) continue;
            if (it.value().is_null() && p->value("nullable", false)) continue;
            if (!matches_type(it.value(), *t))
                return "Invoking `" + tool_name + "()` failed: parameter `" + it.key() + "` must be of type " +
                       t->dump() + ", got " + it.value().dump();
            if (auto e = p->find("enum"); e != p->end() && e->is_array() &&
                                          std::find(e->begin(), e->end(), it.value()) == e->end())
                return "Invoking `" + tool_name + "()` failed: parameter `" + it.key() + "` must be one of " +
                       e->dump() + ", got " + it.value().dump();
        }
    }
    return std::nullopt;
}

FunctionTool::FunctionTool(std::string name, std::string description, Json parameters, Fn fn, bool is_long_running)
    : BaseTool(std::move(name), std::move(description), is_long_running),
      parameters_(parameters.is_null() ? Json{{"type", "object"}, {"properties", Json::object()}}
                                       : std::move(parameters)),
      fn_(std::move(fn)) {}

std::optional<Json> FunctionTool::declaration() const {
    Json d = Json::object();
    d["name"] = name();
    d["description"] = description();
    d["parameters"] = parameters_;
    return d;
}

aio::Coro<Json> FunctionTool::run(Json args, ToolContext& ctx) {
    if (std::optional<std::string> problem = validate_args(name(), parameters_, args)) {
        Json error = {{"error", *problem}};  // a named local: g++ 12 and braced lists in co_return
        co_return error;
    }
    aio::Coro<Json> call = fn_(std::move(args), ctx);
    Json result = co_await std::move(call);
    co_return result;
}

std::optional<Json> LongRunningFunctionTool::declaration() const {
    std::optional<Json> d = FunctionTool::declaration();
    if (!d) return d;
    std::string text = (*d)["description"].is_string() ? (*d)["description"].get<std::string>() : std::string();
    (*d)["description"] = text.empty() ? std::string(kNote) : text + "\n\n" + kNote;
    return d;
}

namespace {
aio::Coro<Json> exit_loop_impl(Json, ToolContext& ctx) {
    ctx.actions().escalate = true;
    ctx.actions().skip_summarization = true;
    co_return Json::object();
}
}  // namespace

std::shared_ptr<BaseTool> exit_loop_tool() {
    return std::make_shared<FunctionTool>(
        "exit_loop", "Exits the loop.\n\nCall this function only when you are instructed to do so.",
        Json{{"type", "object"}, {"properties", Json::object()}}, FunctionTool::Fn(&exit_loop_impl));
}

}  // namespace adk
