// Tests for agents from YAML (adk/agent_config.hpp).
#include <gtest/gtest.h>

#include <fstream>

#include "adk/adk.hpp"
#include "adk/agent_config.hpp"
#include "adk/mcp_toolset.hpp"

using adk::AgentConfigError;
using adk::Json;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system temp dir, removed at the end.
class TempDir {
public:
    TempDir() {
        path_ = fs::temp_directory_path() / ("adk_config_" + adk::new_uuid4());
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }
    fs::path write(const std::string& rel, const std::string& text) const {
        fs::path p = path_ / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p;
    }

private:
    fs::path path_;
};

std::string error_of(const fs::path& file, const adk::ToolRegistry& registry = adk::ToolRegistry::global()) {
    try {
        adk::load_agent_config(file, registry);
    } catch (const AgentConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(AdkAgentConfig, LoadsAWorkflowTreeWithToolsAndSubAgentFiles) {
    TempDir dir;
    adk::ToolRegistry registry;
    registry.add(adk::FunctionTool::make("get_weather", "Weather", Json::parse(R"({"type":"object"})"),
                                         [](Json) -> aio::Coro<Json> { co_return Json("sunny"); }));
    dir.write("app/researcher.yaml", R"(
name: researcher
model: scripted
instruction: Find facts about {topic?}.
output_key: facts
include_contents: none
generate_content_config: {temperature: 0.2}
tools:
  - name: get_weather
  - name: exit_loop
)");
    dir.write("app/writer.yaml", "name: writer\ninstruction: Write from {facts}.\ndisallow_transfer_to_parent: true\n");
    fs::path root = dir.write("app/root_agent.yaml", R"(
agent_class: SequentialAgent
name: pipeline
description: Research, then write.
sub_agents:
  - config_path: researcher.yaml
  - config_path: writer.yaml
)");
    adk::AgentPtr agent = adk::load_agent_config(root, registry);
    EXPECT_EQ(agent->name(), "pipeline");
    EXPECT_EQ(agent->description(), "Research, then write.");
    ASSERT_NE(dynamic_cast<adk::SequentialAgent*>(agent.get()), nullptr);
    ASSERT_EQ(agent->sub_agents().size(), 2u);
    auto* researcher = dynamic_cast<adk::LlmAgent*>(agent->find_agent("researcher"));
    ASSERT_NE(researcher, nullptr);
    EXPECT_EQ(researcher->options().model.name, "scripted");
    EXPECT_EQ(researcher->options().output_key, "facts");
    EXPECT_EQ(researcher->options().include_contents, adk::IncludeContents::none);
    EXPECT_EQ(researcher->options().generate_content_config, Json::parse(R"({"temperature":0.2})"));
    ASSERT_EQ(researcher->options().tools.size(), 2u);
    EXPECT_EQ(researcher->options().tools[0].tool->name(), "get_weather");
    EXPECT_EQ(researcher->options().tools[1].tool->name(), "exit_loop");
    auto* writer = dynamic_cast<adk::LlmAgent*>(agent->find_agent("writer"));
    EXPECT_TRUE(writer->options().disallow_transfer_to_parent);
    EXPECT_EQ(writer->parent_agent(), agent.get());
}

TEST(AdkAgentConfig, LoopAndParallelAgentsAndAnMcpToolset) {
    TempDir dir;
    fs::path root = dir.write("root_agent.yaml", R"(
agent_class: LoopAgent
name: review
max_iterations: 3
sub_agents:
  - config_path: fan.yaml
)");
    dir.write("fan.yaml", R"(
agent_class: ParallelAgent
name: fan
sub_agents:
  - config_path: files.yaml
)");
    dir.write("files.yaml", R"(
name: files
instruction: Read files.
tools:
  - name: McpToolset
    args:
      stdio_server_params:
        command: npx
        args: ["-y", "server-filesystem", "/tmp"]
      tool_filter: [read_text_file]
)");
    adk::AgentPtr agent = adk::load_agent_config(root);
    auto* loop = dynamic_cast<adk::LoopAgent*>(agent.get());
    ASSERT_NE(loop, nullptr);
    EXPECT_EQ(loop->max_iterations(), 3u);
    auto* files = dynamic_cast<adk::LlmAgent*>(agent->find_agent("files"));
    ASSERT_NE(files, nullptr);
    ASSERT_EQ(files->toolsets().size(), 1u);
    EXPECT_NE(std::dynamic_pointer_cast<adk::McpToolset>(files->toolsets()[0]), nullptr);
}

TEST(AdkAgentConfig, ErrorsNameTheFileTheLineAndTheField) {
    TempDir dir;
    fs::path unknown_key = dir.write("a/root_agent.yaml", "name: a\ninstruction: hi\nmodle: gpt\n");
    EXPECT_EQ(error_of(unknown_key), unknown_key.string() + ":3: modle: unknown field");

    fs::path missing = dir.write("b/root_agent.yaml", "name: b\n");
    EXPECT_NE(error_of(missing).find(":1: instruction: is required"), std::string::npos) << error_of(missing);

    fs::path bad_tool = dir.write("c/root_agent.yaml", "name: c\ninstruction: hi\ntools:\n  - name: nope\n");
    std::string e = error_of(bad_tool);
    EXPECT_NE(e.find(":4: tools[0].name: unknown tool 'nope'"), std::string::npos) << e;

    fs::path bad_class = dir.write("d/root_agent.yaml", "agent_class: RobotAgent\nname: d\n");
    EXPECT_NE(error_of(bad_class).find(":1: agent_class: unknown agent class 'RobotAgent'"), std::string::npos);

    fs::path escape = dir.write("e/root_agent.yaml", "agent_class: SequentialAgent\nname: e\nsub_agents:\n"
                                                     "  - config_path: ../a/root_agent.yaml\n");
    EXPECT_NE(error_of(escape).find("sub_agents[0].config_path: '../a/root_agent.yaml' leaves the agent's directory"),
              std::string::npos)
        << error_of(escape);

    fs::path loop = dir.write("f/root_agent.yaml", "agent_class: SequentialAgent\nname: f\nsub_agents:\n"
                                                   "  - config_path: root_agent.yaml\n");
    EXPECT_NE(error_of(loop).find("refers back to itself"), std::string::npos);

    fs::path yaml = dir.write("g/root_agent.yaml", "name: [unclosed\n");
    EXPECT_NE(error_of(yaml).find("not valid YAML"), std::string::npos);

    fs::path dup = dir.write("h/root_agent.yaml", "agent_class: SequentialAgent\nname: h\nsub_agents:\n"
                                                  "  - config_path: x.yaml\n  - config_path: x.yaml\n");
    dir.write("h/x.yaml", "name: x\ninstruction: hi\n");
    EXPECT_NE(error_of(dup).find("used twice"), std::string::npos) << error_of(dup);

    EXPECT_NE(error_of(dir.path() / "absent.yaml").find("cannot open the file"), std::string::npos);
}

TEST(AdkAgentConfig, AgentsDirServesEverySubDirectoryWithARootAgent) {
    TempDir dir;
    dir.write("alpha/root_agent.yaml", "name: alpha\ninstruction: hi\n");
    dir.write("beta/root_agent.yaml", "name: beta\ninstruction: hi\n");
    dir.write("not_an_app/readme.txt", "nothing here\n");
    std::map<std::string, adk::AgentPtr> apps = adk::load_agents_dir(dir.path());
    ASSERT_EQ(apps.size(), 2u);
    EXPECT_EQ(apps.at("alpha")->name(), "alpha");
    EXPECT_EQ(apps.at("beta")->name(), "beta");
    EXPECT_THROW(adk::load_agents_dir(dir.path() / "missing"), AgentConfigError);
}

TEST(AdkAgentConfig, RegisteredCallbacksAndAgentTools) {
    TempDir dir;
    adk::ToolRegistry registry;
    registry.add_agent_callback("greet", [](adk::CallbackContext&) -> std::optional<adk::Content> {
        return adk::Content::model("hello from a callback");
    });
    dir.write("helper.yaml", "name: helper\ninstruction: help\n");
    fs::path root = dir.write("root_agent.yaml", R"(
name: main
instruction: hi
before_agent_callbacks:
  - name: greet
tools:
  - name: AgentTool
    args:
      agent: {config_path: helper.yaml}
      skip_summarization: true
)");
    adk::AgentPtr agent = adk::load_agent_config(root, registry);
    EXPECT_EQ(agent->before_agent_callback().size(), 1u);
    auto* main = dynamic_cast<adk::LlmAgent*>(agent.get());
    auto tool = std::dynamic_pointer_cast<adk::AgentTool>(main->options().tools.at(0).tool);
    ASSERT_NE(tool, nullptr);
    EXPECT_EQ(tool->agent()->name(), "helper");
    EXPECT_TRUE(tool->skip_summarization());

    fs::path unknown_cb = dir.write("cb/root_agent.yaml",
                                    "name: cb\ninstruction: hi\nafter_model_callbacks:\n  - name: nowhere\n");
    EXPECT_NE(error_of(unknown_cb, registry).find("after_model_callbacks[0].name: no callback 'nowhere'"),
              std::string::npos);
}
