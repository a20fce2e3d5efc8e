// adk::McpToolset: MCP tools as agent tools (declarations, results), the
// cached tool list and its refresh on list_changed, reconnection after a
// dead server, the bounded session pool, close() from any task, and an
// LlmAgent answering a question end to end through server-filesystem.
#include <gtest/gtest.h>

#include <fstream>

#include "adk/llm_agent.hpp"
#include "adk/mcp_toolset.hpp"
#include "adk/runner.hpp"
#include "adk/scripted_llm.hpp"
#include "test_mcp_support.hpp"

namespace {

using namespace mcp_test;
using adk::McpToolset;
using aio_test::run_bounded;

adk::StdioConnectionParams fake_params(std::string mode, std::vector<std::string> extra = {}) {
    adk::StdioConnectionParams p;
    p.command = "python3";
    p.args = {fakes_dir() + "/fake_server.py", std::move(mode)};
    for (auto& a : extra) p.args.push_back(std::move(a));
    return p;
}

adk::StdioConnectionParams everything_params() {
    adk::StdioConnectionParams p;
    p.command = node();
    p.args = {everything_js(), "stdio"};
    p.timeout = 20s;
    return p;
}

std::shared_ptr<adk::BaseTool> find(const std::vector<std::shared_ptr<adk::BaseTool>>& tools, const std::string& n) {
    for (const auto& t : tools)
        if (t->name() == n) return t;
    return nullptr;
}

/// Runs a tool outside an invocation.
aio::Coro<Json> run_tool(adk::BaseTool& tool, Json args) {
    // A ToolContext needs an InvocationContext; the tool only reads it for
    // headers, which these toolsets do not use.
    adk::InvocationContext ctx;
    adk::ToolContext tctx(ctx, "call-1");
    Json r = co_await tool.run(std::move(args), tctx);
    co_return r;
}

TEST(McpToolset, ResultMapping) {
    Json text{{"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}};
    EXPECT_EQ(adk::mcp_result_to_function_response(text), (Json{{"result", "a\nb"}}));
    Json error{{"content", {{{"type", "text"}, {"text", "boom"}}}}, {"isError", true}};
    EXPECT_EQ(adk::mcp_result_to_function_response(error), (Json{{"error", "boom"}}));
    Json structured{{"content", {{{"type", "text"}, {"text", "{}"}}}}, {"structuredContent", {{"t", 36}}}};
    EXPECT_EQ(adk::mcp_result_to_function_response(structured), (Json{{"t", 36}}));
    Json image{{"content", {{{"type", "image"}, {"data", "iVBOR"}, {"mimeType", "image/png"}}}}};
    Json mapped = adk::mcp_result_to_function_response(image);
    EXPECT_EQ(mapped["content"][0]["mimeType"], "image/png");
    EXPECT_FALSE(mapped.contains("result"));
}

TEST(McpToolset, ToolsDeclareTheInputSchemaAndReturnFunctionResponses) {
    run_bounded([]() -> aio::Coro<> {
        auto toolset = McpToolset::make(everything_params());
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await toolset->get_tools(nullptr);
        auto sum = find(tools, "get-sum");
        CO_ASSERT_TRUE(sum != nullptr);
        std::optional<Json> decl = sum->declaration();
        CO_ASSERT_TRUE(decl.has_value());
        EXPECT_EQ((*decl)["name"], "get-sum");
        EXPECT_EQ((*decl)["parameters"]["type"], "object");
        EXPECT_TRUE((*decl)["parameters"]["properties"].contains("a"));
        EXPECT_EQ((*decl)["parameters"], static_cast<adk::McpTool&>(*sum).mcp_tool()["inputSchema"]);

        Json args{{"a", 2}, {"b", 40}};
        Json r = co_await run_tool(*sum, std::move(args));
        EXPECT_NE(r.value("result", "").find("42"), std::string::npos) << r.dump();

        auto weather = find(tools, "get-structured-content");
        CO_ASSERT_TRUE(weather != nullptr);
        Json where{{"location", "Chicago"}};
        Json w = co_await run_tool(*weather, std::move(where));
        EXPECT_TRUE(w.contains("temperature")) << w.dump();

        auto image = find(tools, "get-tiny-image");
        CO_ASSERT_TRUE(image != nullptr);
        Json img = co_await run_tool(*image, Json::object());
        bool has_image = false;
        for (const Json& b : img.value("content", Json::array())) has_image |= b.value("type", "") == "image";
        EXPECT_TRUE(has_image) << img.dump().substr(0, 300);

        auto echo = find(tools, "echo");
        Json bad{{"wrong", 1}};
        Json invalid = co_await run_tool(*echo, std::move(bad));
        EXPECT_TRUE(invalid.contains("error")) << invalid.dump();
        co_await toolset->close();
    });
}

TEST(McpToolset, TheToolListIsCachedAndRefreshedOnListChanged) {
    run_bounded([]() -> aio::Coro<> {
        auto toolset = McpToolset::make(fake_params("echo"));
        std::vector<std::shared_ptr<adk::BaseTool>> first = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(first.size(), 2u);
        for (int i = 0; i < 5; ++i) {
            std::vector<std::shared_ptr<adk::BaseTool>> again = co_await toolset->get_filtered_tools(nullptr);
            EXPECT_EQ(again.size(), 2u);
        }
        EXPECT_EQ(toolset->tool_list_fetches(), 1u);  // no tools/list per model call
        Json r = co_await run_tool(*find(first, "add_tool"), Json::object());
        EXPECT_EQ(r["result"], "added");
        std::vector<std::shared_ptr<adk::BaseTool>> after = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(after.size(), 3u);
        EXPECT_TRUE(find(after, "extra") != nullptr);
        EXPECT_EQ(toolset->tool_list_fetches(), 2u);
        EXPECT_EQ(toolset->connects(), 1u);
        co_await toolset->close();
    });
}

TEST(McpToolset, TheFilterSelectsByName) {
    run_bounded([]() -> aio::Coro<> {
        auto toolset = McpToolset::make(fake_params("echo"), adk::ToolFilter({"echo"}));
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await toolset->get_filtered_tools(nullptr);
        CO_ASSERT_TRUE(tools.size() == 1u);
        EXPECT_EQ(tools[0]->name(), "echo");
        co_await toolset->close();
    });
}

TEST(McpToolset, ADeadServerFailsTheCallAndTheNextCallReconnects) {
    run_bounded([]() -> aio::Coro<> {
        std::string marker = (fs::temp_directory_path() / ("adk-mcp-once-" + std::to_string(::getpid()))).string();
        fs::remove(marker);
        auto toolset = McpToolset::make(fake_params("exit_once", {marker}));
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await toolset->get_tools(nullptr);
        auto echo = find(tools, "echo");
        CO_ASSERT_TRUE(echo != nullptr);
        std::string what;
        try {
            Json args{{"message", "one"}};
            Json r = co_await run_tool(*echo, std::move(args));
            ADD_FAILURE() << r.dump();
        } catch (const adk::mcp::McpConnectionError& e) {
            what = e.what();
        }
        EXPECT_NE(what.find("exited with code 3"), std::string::npos) << what;
        Json args{{"message", "two"}};
        Json r = co_await run_tool(*echo, std::move(args));
        EXPECT_EQ(r["result"], "Echo: two");
        EXPECT_EQ(toolset->connects(), 2u);
        EXPECT_EQ(toolset->pooled_sessions(), 1u);
        co_await toolset->close();
        fs::remove(marker);
    });
}

TEST(McpToolset, CloseFromAnotherTaskFailsTheCallInFlightCleanly) {
    run_bounded([]() -> aio::Coro<> {
        auto toolset = McpToolset::make(fake_params("silent"));
        std::shared_ptr<adk::mcp::ClientSession> session = co_await toolset->session();
        Json args{{"message", "never answered"}};
        aio::Task<Json> call = aio::create_task(session->call_tool("echo", std::move(args)));
        session.reset();
        aio::Task<> closer = aio::create_task(toolset->close());
        std::string type;
        try {
            Json r = co_await call;
            ADD_FAILURE() << r.dump();
        } catch (const adk::mcp::McpConnectionError&) {
            type = "connection";
        } catch (const aio::CancelledError&) {
            type = "cancelled";
        }
        EXPECT_EQ(type, "connection");
        co_await closer;
        co_await toolset->close();  // again: a no-op
        bool refused = false;
        try {
            std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await toolset->get_tools(nullptr);
        } catch (const adk::mcp::McpConnectionError&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
        EXPECT_EQ(toolset->pooled_sessions(), 0u);
    });
}

TEST(McpToolset, SessionsPerHeadersInABoundedPoolWithIdleEviction) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        std::string user = "alice";
        adk::StreamableHttpConnectionParams params;
        params.url = server->url();
        params.timeout = 10s;
        adk::McpToolsetOptions options;
        options.max_sessions = 2;
        options.idle_timeout = 2s;  // generous: connects on a loaded machine must not count as idle
        options.header_provider = [&](const adk::ReadonlyContext*) {
            return std::map<std::string, std::string>{{"Authorization", "Bearer " + user}};
        };
        auto toolset = McpToolset::make(params, {}, options);
        std::vector<std::shared_ptr<adk::BaseTool>> a = co_await toolset->get_tools(nullptr);
        EXPECT_FALSE(a.empty());
        std::vector<std::shared_ptr<adk::BaseTool>> a2 = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(toolset->connects(), 1u);  // same headers, same session
        user = "bob";
        std::vector<std::shared_ptr<adk::BaseTool>> b = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(toolset->connects(), 2u);
        EXPECT_EQ(toolset->pooled_sessions(), 2u);
        user = "carol";  // a third user: the least recently used (alice) goes
        std::vector<std::shared_ptr<adk::BaseTool>> c = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(toolset->connects(), 3u);
        EXPECT_EQ(toolset->pooled_sessions(), 2u);
        user = "bob";
        std::vector<std::shared_ptr<adk::BaseTool>> b2 = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(toolset->connects(), 3u);  // bob's session was kept
        co_await aio::sleep(2600ms);         // both idle past idle_timeout
        user = "dave";
        std::vector<std::shared_ptr<adk::BaseTool>> d = co_await toolset->get_tools(nullptr);
        EXPECT_EQ(toolset->pooled_sessions(), 1u);  // only dave's
        co_await toolset->close();
        co_await server->stop();
    });
}

// ---- an agent with an McpToolset, end to end ------------------------------

TEST(McpToolset, AnLlmAgentAnswersThroughServerFilesystem) {
    fs::path root = fs::temp_directory_path() / ("adk-mcp-agent-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    std::ofstream(root / "shopping.txt") << "milk\neggs\nflour\n";
    root = fs::canonical(root);
    run_bounded([&]() -> aio::Coro<> {
        adk::StdioConnectionParams fsp;
        fsp.command = node();
        fsp.args = {filesystem_js(), root.string()};
        fsp.timeout = 20s;
        auto files = McpToolset::make(fsp, adk::ToolFilter({"read_text_file", "list_directory"}));
        // The model reads the file, then answers from the tool's result.
        adk::ScriptedReply answer;
        answer.compute = [](const adk::LlmRequest& req) {
            std::string got;
            for (const adk::Part& p : req.contents.back().parts)
                if (p.function_response) {
                    // server-filesystem answers with structuredContent {"content": text}.
                    const Json& resp = p.function_response->response;
                    got = resp.contains("content") ? resp["content"].get<std::string>() : resp.value("result", "");
                }
            adk::LlmResponse r;
            r.content = adk::Content::model("The list says: " + got);
            return r;
        };
        auto model = adk::ScriptedLlm::make(
            {adk::ScriptedReply::call("read_text_file", Json{{"path", (root / "shopping.txt").string()}}), answer});
        auto agent = adk::LlmAgent::make({.name = "clerk", .model = model, .tools = {files}});
        adk::InMemoryRunner runner(agent, "mcp_app");
        adk::Session session = co_await runner.session_service().create_session("mcp_app", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("What is on my shopping list?"));
        std::vector<adk::Event> seen;
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            seen.push_back(std::move(*ev));
        }
        CO_ASSERT_TRUE(seen.size() == 3u);
        std::vector<adk::FunctionResponse> responses = seen[1].function_responses();
        CO_ASSERT_TRUE(responses.size() == 1u);
        EXPECT_EQ(responses[0].response, (Json{{"content", "milk\neggs\nflour\n"}})) << responses[0].response.dump();
        EXPECT_TRUE(seen[2].is_final_response());
        EXPECT_NE(seen[2].content->text().find("milk\neggs\nflour"), std::string::npos) << seen[2].content->text();
        // The model was offered exactly the filtered MCP tools, with their schemas.
        const adk::LlmRequest& first = model->requests()[0];
        CO_ASSERT_TRUE(first.function_declarations.size() == 2u);
        EXPECT_EQ(files->connects(), 1u);
        co_await runner.close();
        EXPECT_EQ(files->pooled_sessions(), 0u);
    });
    fs::remove_all(root);
}

}  // namespace
