// adk/agent_config.hpp — agents from YAML files, ADK's Agent Config format
// (`root_agent.yaml`), read with yaml-cpp. Target adk::config.
//
//   # weather/root_agent.yaml
//   agent_class: LlmAgent            # the default; or SequentialAgent,
//   name: weather                    #   ParallelAgent, LoopAgent
//   model: openai/gpt-4o-mini        # resolved through adk::LlmRegistry
//   instruction: Answer about the weather in {city?}.
//   output_key: report
//   tools:
//     - name: get_weather            # a C++ tool registered by name
//     - name: exit_loop              # a built-in
//     - name: McpToolset
//       args:
//         stdio_server_params: {command: npx, args: [server-filesystem, /tmp]}
//         tool_filter: [read_text_file]
//   sub_agents:
//     - config_path: writer.yaml     # relative to this file
//
//   adk::ToolRegistry::global().add(adk::FunctionTool::from(get_weather, "get_weather", "..."));
//   adk::AgentPtr root = adk::load_agent_config("weather/root_agent.yaml");
//   std::map<std::string, adk::AgentPtr> apps = adk::load_agents_dir("agents/");
//
// Fields (as ADK's AgentConfig; unknown keys are errors):
//   every agent   agent_class, name (required), description, sub_agents
//                 ([{config_path}]), before/after_agent_callbacks ([{name}]:
//                 callbacks registered by name in the ToolRegistry)
//   LlmAgent      model, instruction (required), static_instruction,
//                 global_instruction, disallow_transfer_to_parent,
//                 disallow_transfer_to_peers, output_key, include_contents
//                 (default | none), tools ([{name, args}]),
//                 generate_content_config (a map, passed to the model),
//                 before/after_model_callbacks, before/after_tool_callbacks
//   LoopAgent     max_iterations
// Tools: exit_loop, AgentTool (args: {agent: {config_path}, skip_summarization}),
// McpToolset (args: exactly one of stdio_server_params {command, args, env,
// cwd}, stdio_connection_params {server_params, timeout},
// streamable_http_connection_params {url, headers, timeout,
// sse_read_timeout, terminate_on_close}; tool_filter [names]), or a name
// registered in the ToolRegistry (a dotted Python path is looked up whole,
// then by its last component).
//
// Errors: AgentConfigError, whose message names the file, the line and the
// field ("agents/w/root_agent.yaml:4: tools[1].name: unknown tool 'x'").
// Paths in config_path must stay inside the directory of the root file.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "adk/agent.hpp"
#include "adk/callbacks.hpp"
#include "adk/llm_agent.hpp"

namespace adk {

/// A config file that cannot be loaded; what() names file, line and field.
class AgentConfigError : public std::runtime_error {
public:
    AgentConfigError(std::string file, int line, std::string field, const std::string& message);
    const std::string& file() const noexcept { return file_; }
    /// 1-based; 0 if unknown.
    int line() const noexcept { return line_; }
    const std::string& field() const noexcept { return field_; }

private:
    std::string file_;
    int line_;
    std::string field_;
};

/// Tools, toolset factories and callbacks that configs refer to by name.
class ToolRegistry {
public:
    /// Makes a tool (or toolset) from the entry's `args` (JSON; null if absent).
    using Factory = std::function<ToolUnion(const Json& args)>;

    /// The process-wide registry (thread-safe).
    static ToolRegistry& global();

    /// `tool` under its own name.
    void add(std::shared_ptr<BaseTool> tool);
    void add(std::string name, ToolUnion tool);
    void add_factory(std::string name, Factory factory);
    void add_agent_callback(std::string name, AgentCallback callback);
    void add_before_model_callback(std::string name, BeforeModelCallback callback);
    void add_after_model_callback(std::string name, AfterModelCallback callback);
    void add_before_tool_callback(std::string name, BeforeToolCallback callback);
    void add_after_tool_callback(std::string name, AfterToolCallback callback);

    std::optional<ToolUnion> make(const std::string& name, const Json& args) const;
    std::optional<AgentCallback> agent_callback(const std::string& name) const;
    std::optional<BeforeModelCallback> before_model_callback(const std::string& name) const;
    std::optional<AfterModelCallback> after_model_callback(const std::string& name) const;
    std::optional<BeforeToolCallback> before_tool_callback(const std::string& name) const;
    std::optional<AfterToolCallback> after_tool_callback(const std::string& name) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, Factory> tools_;
    std::map<std::string, AgentCallback> agent_callbacks_;
    std::map<std::string, BeforeModelCallback> before_model_;
    std::map<std::string, AfterModelCallback> after_model_;
    std::map<std::string, BeforeToolCallback> before_tool_;
    std::map<std::string, AfterToolCallback> after_tool_;
};

/// The agent tree described by `file` (and the files it references).
AgentPtr load_agent_config(const std::filesystem::path& file, const ToolRegistry& registry = ToolRegistry::global());

/// Every sub-directory of `dir` holding a root_agent.yaml, as app name ->
/// root agent (sorted by name). AgentConfigError names the failing file.
std::map<std::string, AgentPtr> load_agents_dir(const std::filesystem::path& dir,
                                                const ToolRegistry& registry = ToolRegistry::global());

}  // namespace adk
