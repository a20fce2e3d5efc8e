// adk::load_agents_dir (adk/api_server.hpp): the hook through which
// `adk-server AGENTS_DIR` registers the apps of a directory, as
// `adk api_server AGENTS_DIR` does: every sub-directory holding a
// root_agent.yaml is an app named after the directory.
//
// Built with the Agent Config loader (adk::config, adk/agent_config.hpp)
// when that component is part of the build (ADK_SERVER_WITH_CONFIG, set by
// src/adk/CMakeLists.txt); without it the hook raises "not implemented".
#include <stdexcept>
#include <string>

#include "adk/api_server.hpp"

#ifdef ADK_SERVER_WITH_CONFIG
#include <filesystem>
#include <map>

#include "adk/agent_config.hpp"
#endif

namespace adk {

#ifdef ADK_SERVER_WITH_CONFIG

void load_agents_dir(ApiServer& server, const std::string& agents_dir) {
    // Tools and callbacks named in the files come from ToolRegistry::global();
    // models from LlmRegistry::global().
    std::map<std::string, AgentPtr> apps = load_agents_dir(std::filesystem::path(agents_dir));
    for (auto& [name, root] : apps) server.add_app(name, std::move(root));
}

#else

void load_agents_dir(ApiServer& server, const std::string& agents_dir) {
    (void)server;
    throw std::runtime_error("load_agents_dir(\"" + agents_dir +
                             "\"): not implemented (this build has no Agent Config loader, adk::config)");
}

#endif

}  // namespace adk
