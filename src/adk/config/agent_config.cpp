// Agents from YAML (adk/agent_config.hpp).
#include "adk/agent_config.hpp"

#include <yaml-cpp/yaml.h>

#include <set>

#include "adk/agent_tool.hpp"
#include "adk/mcp_toolset.hpp"
#include "adk/tool.hpp"
#include "adk/workflow_agents.hpp"

namespace adk {

namespace fs = std::filesystem;

AgentConfigError::AgentConfigError(std::string file, int line, std::string field, const std::string& message)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
                         (field.empty() ? std::string() : field + ": ") + message),
      file_(std::move(file)),
      line_(line),
      field_(std::move(field)) {}

// ---- ToolRegistry -------------------------------------------------------------

ToolRegistry& ToolRegistry::global() {
    static ToolRegistry registry;
    return registry;
}

void ToolRegistry::add(std::shared_ptr<BaseTool> tool) {
    if (!tool) throw std::invalid_argument("ToolRegistry::add: null tool");
    std::string name = tool->name();
    add(std::move(name), ToolUnion(std::move(tool)));
}

void ToolRegistry::add(std::string name, ToolUnion tool) {
    add_factory(std::move(name), [tool](const Json&) { return tool; });
}

void ToolRegistry::add_factory(std::string name, Factory factory) {
    std::lock_guard lock(mutex_);
    tools_[std::move(name)] = std::move(factory);
}

#define ADK_REGISTRY_CALLBACK(kind, type, member)                               \
    void ToolRegistry::add_##kind(std::string name, type callback) {            \
        std::lock_guard lock(mutex_);                                          \
        member.insert_or_assign(std::move(name), std::move(callback));         \
    }                                                                           \
    std::optional<type> ToolRegistry::kind(const std::string& name) const {     \
        std::lock_guard lock(mutex_);                                          \
        auto it = member.find(name);                                           \
        if (it == member.end()) return std::nullopt;                           \
        return it->second;                                                     \
    }
ADK_REGISTRY_CALLBACK(agent_callback, AgentCallback, agent_callbacks_)
ADK_REGISTRY_CALLBACK(before_model_callback, BeforeModelCallback, before_model_)
ADK_REGISTRY_CALLBACK(after_model_callback, AfterModelCallback, after_model_)
ADK_REGISTRY_CALLBACK(before_tool_callback, BeforeToolCallback, before_tool_)
ADK_REGISTRY_CALLBACK(after_tool_callback, AfterToolCallback, after_tool_)
#undef ADK_REGISTRY_CALLBACK

std::optional<ToolUnion> ToolRegistry::make(const std::string& name, const Json& args) const {
    Factory factory;
    {
        std::lock_guard lock(mutex_);
        auto it = tools_.find(name);
        if (it == tools_.end()) return std::nullopt;
        factory = it->second;
    }
    return factory(args);
}

// ---- the loader ---------------------------------------------------------------

namespace {

/// One file being read: its path and the directory configs must stay in.
class Reader {
public:
    Reader(const fs::path& file, const fs::path& root_dir, const ToolRegistry& registry,
           std::set<fs::path>& open_files)
        : file_(file), root_dir_(root_dir), registry_(registry), open_files_(open_files) {}

    AgentPtr read() {
        YAML::Node doc;
        try {
            doc = YAML::LoadFile(file_.string());
        } catch (const YAML::BadFile&) {
            throw AgentConfigError(file_.string(), 0, "", "cannot open the file");
        } catch (const YAML::ParserException& e) {
            throw AgentConfigError(file_.string(), e.mark.line + 1, "", "not valid YAML: " + e.msg);
        }
        if (!doc.IsMap()) fail(doc, "", "the file must hold a mapping (an agent config)");
        return agent(doc);
    }

private:
    [[noreturn]] void fail(const YAML::Node& at, const std::string& field, const std::string& message) const {
        int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
        throw AgentConfigError(file_.string(), line, field, message);
    }

    std::string string_field(const YAML::Node& node, const std::string& key, bool required = false) const {
        YAML::Node v = node[key];
        if (!v) {
            if (required) fail(node, key, "is required");
            return {};
        }
        if (!v.IsScalar()) fail(v, key, "must be a string");
        return v.as<std::string>();
    }

    bool bool_field(const YAML::Node& node, const std::string& key) const {
        YAML::Node v = node[key];
        if (!v) return false;
        try {
            return v.as<bool>();
        } catch (const YAML::Exception&) {
            fail(v, key, "must be true or false");
        }
    }

    static Json to_json(const YAML::Node& node) {
        switch (node.Type()) {
            case YAML::NodeType::Map: {
                Json out = Json::object();
                for (const auto& kv : node) out[kv.first.as<std::string>()] = to_json(kv.second);
                return out;
            }
            case YAML::NodeType::Sequence: {
                Json out = Json::array();
                for (const auto& item : node) out.push_back(to_json(item));
                return out;
            }
            case YAML::NodeType::Scalar: {
                const std::string& text = node.Scalar();
                if (node.Tag() == "!") return text;  // quoted: a string
                if (text == "true" || text == "false") return text == "true";
                if (text == "null" || text == "~") return nullptr;
                try {
                    std::size_t used = 0;
                    long long i = std::stoll(text, &used);
                    if (used == text.size()) return i;
                    double d = std::stod(text, &used);
                    if (used == text.size()) return d;
                } catch (const std::exception&) {
                }
                return text;
            }
            default:
                return nullptr;
        }
    }

    void check_keys(const YAML::Node& node, const std::set<std::string>& allowed, const std::string& where) const {
        for (const auto& kv : node) {
            std::string key = kv.first.as<std::string>();
            if (!allowed.count(key))
                fail(kv.first, where.empty() ? key : where + "." + key, "unknown field");
        }
    }

    AgentPtr agent(const YAML::Node& node) {
        std::string cls = node["agent_class"] ? string_field(node, "agent_class") : "LlmAgent";
        static const std::set<std::string> base = {"agent_class", "name", "description", "sub_agents",
                                                   "before_agent_callbacks", "after_agent_callbacks"};
        std::set<std::string> allowed = base;
        if (cls == "LlmAgent" || cls == "Agent") {
            allowed.insert({"model", "instruction", "static_instruction", "global_instruction",
                            "disallow_transfer_to_parent", "disallow_transfer_to_peers", "output_key",
                            "include_contents", "tools", "generate_content_config", "before_model_callbacks",
                            "after_model_callbacks", "before_tool_callbacks", "after_tool_callbacks"});
        } else if (cls == "LoopAgent") {
            allowed.insert("max_iterations");
        } else if (cls != "SequentialAgent" && cls != "ParallelAgent") {
            fail(node["agent_class"], "agent_class",
                 "unknown agent class '" + cls + "' (LlmAgent, SequentialAgent, ParallelAgent, LoopAgent)");
        }
        check_keys(node, allowed, "");
        std::string name = string_field(node, "name", true);
        if (!is_valid_agent_name(name)) fail(node["name"], "name", "'" + name + "' is not a valid agent name");
        std::string description = string_field(node, "description");
        std::vector<AgentPtr> subs = sub_agents(node);

        AgentPtr made;
        try {
            if (cls == "LlmAgent" || cls == "Agent") {
                made = llm_agent(node, name, description, std::move(subs));
            } else if (cls == "SequentialAgent") {
                made = SequentialAgent::make(name, std::move(subs), description);
            } else if (cls == "ParallelAgent") {
                made = ParallelAgent::make(name, std::move(subs), description);
            } else {
                std::size_t max_iterations = 0;
                if (YAML::Node m = node["max_iterations"]) {
                    try {
                        long long v = m.as<long long>();
                        if (v < 0) fail(m, "max_iterations", "must not be negative");
                        max_iterations = static_cast<std::size_t>(v);
                    } catch (const YAML::Exception&) {
                        fail(m, "max_iterations", "must be an integer");
                    }
                }
                made = LoopAgent::make(name, std::move(subs), max_iterations, description);
            }
        } catch (const std::invalid_argument& e) {  // tree rules: duplicate names, two parents
            fail(node, "name", e.what());
        }
        add_callbacks(node, "before_agent_callbacks", made->before_agent_callback());
        add_callbacks(node, "after_agent_callbacks", made->after_agent_callback());
        return made;
    }

    template <class CB, class Lookup>
    std::vector<CB> callbacks(const YAML::Node& node, const std::string& key, Lookup lookup) const {
        std::vector<CB> out;
        YAML::Node list = node[key];
        if (!list) return out;
        if (!list.IsSequence()) fail(list, key, "must be a list of {name: ...}");
        for (std::size_t i = 0; i < list.size(); ++i) {
            std::string field = key + "[" + std::to_string(i) + "]";
            std::string cb_name = list[i].IsMap() ? string_field(list[i], "name", true) : std::string();
            if (cb_name.empty()) fail(list[i], field, "must be {name: <registered callback>}");
            std::optional<CB> cb = lookup(cb_name);
            if (!cb)
                fail(list[i], field + ".name",
                     "no callback '" + cb_name + "' is registered (adk::ToolRegistry; Python code references "
                     "are not supported by the C++ runtime)");
            out.push_back(std::move(*cb));
        }
        return out;
    }

    void add_callbacks(const YAML::Node& node, const std::string& key, std::vector<AgentCallback>& into) const {
        for (auto& cb : callbacks<AgentCallback>(node, key, [&](const std::string& n) {
                 return registry_.agent_callback(n);
             }))
            into.push_back(std::move(cb));
    }

    std::vector<AgentPtr> sub_agents(const YAML::Node& node) {
        std::vector<AgentPtr> out;
        YAML::Node list = node["sub_agents"];
        if (!list) return out;
        if (!list.IsSequence()) fail(list, "sub_agents", "must be a list of {config_path: ...}");
        for (std::size_t i = 0; i < list.size(); ++i) {
            std::string field = "sub_agents[" + std::to_string(i) + "]";
            const YAML::Node& ref = list[i];
            if (!ref.IsMap()) fail(ref, field, "must be {config_path: FILE}");
            if (ref["code"]) fail(ref, field + ".code", "code references are not supported by the C++ runtime");
            check_keys(ref, {"config_path"}, field);
            out.push_back(referenced_agent(ref["config_path"], field + ".config_path"));
        }
        return out;
    }

    AgentPtr referenced_agent(const YAML::Node& path_node, const std::string& field) {
        if (!path_node || !path_node.IsScalar()) fail(path_node, field, "a file path is required");
        fs::path rel = path_node.as<std::string>();
        if (rel.is_absolute()) fail(path_node, field, "must be relative to the referencing file");
        fs::path target = fs::weakly_canonical(file_.parent_path() / rel);
        fs::path root = fs::weakly_canonical(root_dir_);
        auto [end, _] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
        if (end != root.end()) fail(path_node, field, "'" + rel.string() + "' leaves the agent's directory");
        if (open_files_.count(target)) fail(path_node, field, "'" + rel.string() + "' refers back to itself");
        open_files_.insert(target);
        Reader nested(target, root_dir_, registry_, open_files_);
        AgentPtr a = nested.read();
        open_files_.erase(target);
        return a;
    }

    AgentPtr llm_agent(const YAML::Node& node, const std::string& name, const std::string& description,
                       std::vector<AgentPtr> subs) {
        LlmAgent::Options o;
        o.name = name;
        o.description = description;
        o.model = string_field(node, "model");
        o.instruction = string_field(node, "instruction", true);
        if (std::string fixed = string_field(node, "static_instruction"); !fixed.empty())
            o.instruction = fixed + (o.instruction.empty() ? "" : "\n\n" + o.instruction);
        o.global_instruction = string_field(node, "global_instruction");
        o.output_key = string_field(node, "output_key");
        o.disallow_transfer_to_parent = bool_field(node, "disallow_transfer_to_parent");
        o.disallow_transfer_to_peers = bool_field(node, "disallow_transfer_to_peers");
        if (std::string ic = string_field(node, "include_contents"); !ic.empty()) {
            if (ic == "none") o.include_contents = IncludeContents::none;
            else if (ic != "default") fail(node["include_contents"], "include_contents", "must be 'default' or 'none'");
        }
        if (YAML::Node g = node["generate_content_config"]) {
            if (!g.IsMap()) fail(g, "generate_content_config", "must be a mapping");
            o.generate_content_config = to_json(g);
        }
        o.tools = tools(node);
        o.sub_agents = std::move(subs);
        o.before_agent_callback = {};
        o.before_model_callback = callbacks<BeforeModelCallback>(
            node, "before_model_callbacks", [&](const std::string& n) { return registry_.before_model_callback(n); });
        o.after_model_callback = callbacks<AfterModelCallback>(
            node, "after_model_callbacks", [&](const std::string& n) { return registry_.after_model_callback(n); });
        o.before_tool_callback = callbacks<BeforeToolCallback>(
            node, "before_tool_callbacks", [&](const std::string& n) { return registry_.before_tool_callback(n); });
        o.after_tool_callback = callbacks<AfterToolCallback>(
            node, "after_tool_callbacks", [&](const std::string& n) { return registry_.after_tool_callback(n); });
        return LlmAgent::make(std::move(o));
    }

    std::vector<ToolUnion> tools(const YAML::Node& node) {
        std::vector<ToolUnion> out;
        YAML::Node list = node["tools"];
        if (!list) return out;
        if (!list.IsSequence()) fail(list, "tools", "must be a list of {name, args}");
        for (std::size_t i = 0; i < list.size(); ++i) {
            std::string field = "tools[" + std::to_string(i) + "]";
            const YAML::Node& entry = list[i];
            if (!entry.IsMap()) fail(entry, field, "must be {name: ..., args: ...}");
            check_keys(entry, {"name", "args"}, field);
            std::string tool_name = string_field(entry, "name", true);
            YAML::Node args = entry["args"];
            out.push_back(tool(tool_name, args, entry, field));
        }
        return out;
    }

    ToolUnion tool(const std::string& tool_name, const YAML::Node& args, const YAML::Node& entry,
                   const std::string& field) {
        if (tool_name == "exit_loop") return exit_loop_tool();
        if (tool_name == "AgentTool") return agent_tool(args, field + ".args");
        if (tool_name == "McpToolset" || tool_name == "MCPToolset") return mcp_toolset(args, field + ".args");
        Json json_args = args ? to_json(args) : Json(nullptr);
        std::optional<ToolUnion> made;
        try {
            made = registry_.make(tool_name, json_args);
            if (!made && tool_name.find('.') != std::string::npos)
                made = registry_.make(tool_name.substr(tool_name.rfind('.') + 1), json_args);
        } catch (const std::exception& e) {
            fail(entry, field, "tool '" + tool_name + "' could not be made: " + e.what());
        }
        if (!made)
            fail(entry["name"], field + ".name",
                 "unknown tool '" + tool_name + "' (built-ins: exit_loop, AgentTool, McpToolset; C++ tools must be "
                 "registered in adk::ToolRegistry)");
        return *made;
    }

    ToolUnion agent_tool(const YAML::Node& args, const std::string& field) {
        if (!args || !args.IsMap()) fail(args, field, "AgentTool needs args {agent: {config_path: FILE}}");
        check_keys(args, {"agent", "skip_summarization"}, field);
        YAML::Node ref = args["agent"];
        if (!ref || !ref.IsMap()) fail(args, field + ".agent", "must be {config_path: FILE}");
        AgentPtr a = referenced_agent(ref["config_path"], field + ".agent.config_path");
        AgentToolOptions options;
        options.skip_summarization = bool_field(args, "skip_summarization");
        return AgentTool::make(std::move(a), options);
    }

    StdioConnectionParams stdio_params(const YAML::Node& p, const std::string& field) const {
        if (!p.IsMap()) fail(p, field, "must be a mapping {command, args, env, cwd}");
        check_keys(p, {"command", "args", "env", "cwd"}, field);
        StdioConnectionParams out;
        out.command = string_field(p, "command", true);
        if (YAML::Node a = p["args"]) {
            if (!a.IsSequence()) fail(a, field + ".args", "must be a list of strings");
            for (const auto& item : a) out.args.push_back(item.as<std::string>());
        }
        if (YAML::Node e = p["env"]) {
            if (!e.IsMap()) fail(e, field + ".env", "must be a mapping");
            for (const auto& kv : e) out.env[kv.first.as<std::string>()] = kv.second.as<std::string>();
        }
        out.cwd = string_field(p, "cwd");
        return out;
    }

    std::chrono::milliseconds seconds_field(const YAML::Node& p, const std::string& key, const std::string& field,
                                            std::chrono::milliseconds fallback) const {
        YAML::Node v = p[key];
        if (!v) return fallback;
        try {
            return std::chrono::milliseconds(static_cast<long long>(v.as<double>() * 1000));
        } catch (const YAML::Exception&) {
            fail(v, field + "." + key, "must be a number of seconds");
        }
    }

    ToolUnion mcp_toolset(const YAML::Node& args, const std::string& field) const {
        if (!args || !args.IsMap()) fail(args, field, "McpToolset needs connection params");
        check_keys(args, {"stdio_server_params", "stdio_connection_params", "streamable_http_connection_params",
                          "tool_filter", "tool_name_prefix"},
                   field);
        int given = 0;
        for (const char* k : {"stdio_server_params", "stdio_connection_params", "streamable_http_connection_params"})
            given += args[k] ? 1 : 0;
        if (given != 1)
            fail(args, field,
                 "exactly one of stdio_server_params, stdio_connection_params, streamable_http_connection_params");
        McpConnectionParams params;
        if (YAML::Node p = args["stdio_server_params"]) {
            params = stdio_params(p, field + ".stdio_server_params");
        } else if (YAML::Node c = args["stdio_connection_params"]) {
            std::string f = field + ".stdio_connection_params";
            if (!c.IsMap()) fail(c, f, "must be a mapping {server_params, timeout}");
            check_keys(c, {"server_params", "timeout"}, f);
            if (!c["server_params"]) fail(c, f + ".server_params", "is required");
            StdioConnectionParams s = stdio_params(c["server_params"], f + ".server_params");
            s.timeout = seconds_field(c, "timeout", f, s.timeout);
            params = std::move(s);
        } else {
            YAML::Node h = args["streamable_http_connection_params"];
            std::string f = field + ".streamable_http_connection_params";
            if (!h.IsMap()) fail(h, f, "must be a mapping {url, headers, ...}");
            check_keys(h, {"url", "headers", "timeout", "sse_read_timeout", "terminate_on_close"}, f);
            StreamableHttpConnectionParams s;
            s.url = string_field(h, "url", true);
            if (YAML::Node hs = h["headers"]) {
                if (!hs.IsMap()) fail(hs, f + ".headers", "must be a mapping");
                for (const auto& kv : hs) s.headers[kv.first.as<std::string>()] = kv.second.as<std::string>();
            }
            s.timeout = seconds_field(h, "timeout", f, s.timeout);
            s.sse_read_timeout = seconds_field(h, "sse_read_timeout", f, s.sse_read_timeout);
            if (h["terminate_on_close"]) s.terminate_on_close = bool_field(h, "terminate_on_close");
            params = std::move(s);
        }
        ToolFilter filter;
        if (YAML::Node tf = args["tool_filter"]) {
            if (!tf.IsSequence()) fail(tf, field + ".tool_filter", "must be a list of tool names");
            std::vector<std::string> names;
            for (const auto& item : tf) names.push_back(item.as<std::string>());
            filter = ToolFilter(std::move(names));
        }
        if (args["tool_name_prefix"]) fail(args["tool_name_prefix"], field + ".tool_name_prefix", "is not supported yet");
        return McpToolset::make(std::move(params), std::move(filter));
    }

    fs::path file_;
    fs::path root_dir_;
    const ToolRegistry& registry_;
    std::set<fs::path>& open_files_;
};

}  // namespace

AgentPtr load_agent_config(const fs::path& file, const ToolRegistry& registry) {
    std::set<fs::path> open_files;
    fs::path canonical = fs::weakly_canonical(file);
    open_files.insert(canonical);
    Reader reader(canonical, canonical.parent_path(), registry, open_files);
    return reader.read();
}

std::map<std::string, AgentPtr> load_agents_dir(const fs::path& dir, const ToolRegistry& registry) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw AgentConfigError(dir.string(), 0, "", "not a directory");
    std::map<std::string, AgentPtr> apps;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
        if (!entry.is_directory()) continue;
        fs::path config = entry.path() / "root_agent.yaml";
        if (!fs::exists(config)) continue;
        apps.emplace(entry.path().filename().string(), load_agent_config(config, registry));
    }
    return apps;
}

}  // namespace adk
