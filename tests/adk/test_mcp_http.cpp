// adk::mcp::ClientSession over Streamable HTTP against server-everything in
// its streamableHttp mode (a real Node process on a free loopback port).
#include <gtest/gtest.h>

#include "adk/scripted_llm.hpp"
#include "aio/http/client.hpp"
#include "test_mcp_support.hpp"

namespace {

using namespace mcp_test;
using adk::mcp::ClientSession;
using adk::mcp::StreamableHttpTransport;
using aio_test::run_bounded;

aio::Coro<std::shared_ptr<ClientSession>> connect_http(std::shared_ptr<adk::mcp::Transport> transport,
                                                       adk::mcp::ClientSessionOptions options) {
    auto connecting = ClientSession::connect(std::move(transport), std::move(options));
    std::shared_ptr<ClientSession> s = co_await std::move(connecting);
    co_return s;
}

// No default argument: g++ 12 destroys an aggregate built in a co_await
// expression twice.
aio::Coro<std::shared_ptr<ClientSession>> connect_http(std::shared_ptr<adk::mcp::Transport> transport) {
    return connect_http(std::move(transport), adk::mcp::ClientSessionOptions{});
}

std::shared_ptr<StreamableHttpTransport> http_transport(const std::string& url) {
    adk::mcp::StreamableHttpParams p;
    p.url = url;
    p.timeout = 10s;
    return StreamableHttpTransport::make(std::move(p));
}

TEST(McpHttp, SessionIdVersionToolsAndCalls) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        auto transport = http_transport(server->url());
        std::shared_ptr<ClientSession> s = co_await connect_http(transport);
        EXPECT_FALSE(transport->session_id().empty());
        EXPECT_EQ(s->protocol_version(), "2025-11-25");
        Json tools = co_await s->list_tools();
        EXPECT_TRUE(has_tool(tools, "echo"));
        Json args{{"message", "over http"}};
        Json echo = co_await s->call_tool("echo", std::move(args));
        EXPECT_EQ(text_of(echo), "Echo: over http");
        // Concurrent calls, each on its own POST.
        std::vector<aio::Task<Json>> calls;
        for (int i = 0; i < 8; ++i) {
            Json a{{"a", i}, {"b", 100}};
            calls.push_back(aio::create_task(s->call_tool("get-sum", std::move(a))));
        }
        for (int i = 0; i < 8; ++i) {
            Json r = co_await calls[static_cast<std::size_t>(i)];
            EXPECT_NE(text_of(r).find(std::to_string(100 + i)), std::string::npos) << r.dump();
        }
        co_await s->close();
        co_await server->stop();
    });
}

TEST(McpHttp, ProgressArrivesLiveOnThePostStream) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        std::shared_ptr<ClientSession> s = co_await connect_http(http_transport(server->url()));
        std::vector<double> seen;
        adk::mcp::RequestOptions ro;
        ro.on_progress = [&](const adk::mcp::Progress& p) { seen.push_back(p.progress); };
        Json args{{"duration", 0.4}, {"steps", 4}};
        Json r = co_await s->call_tool("trigger-long-running-operation", std::move(args), std::move(ro));
        EXPECT_NE(text_of(r).find("completed"), std::string::npos) << r.dump();
        EXPECT_EQ(seen, (std::vector<double>{1, 2, 3, 4}));
        co_await s->close();
        co_await server->stop();
    });
}

TEST(McpHttp, CancellationClosesTheStreamAndTheSessionGoesOn) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        auto recording = std::make_shared<RecordingTransport>(http_transport(server->url()));
        std::shared_ptr<ClientSession> s = co_await connect_http(recording);
        aio::Event first;
        int progress = 0;
        adk::mcp::RequestOptions ro;
        ro.on_progress = [&](const adk::mcp::Progress&) {
            ++progress;
            first.set();
        };
        Json args{{"duration", 3}, {"steps", 10}};
        aio::Task<Json> call =
            aio::create_task(s->call_tool("trigger-long-running-operation", std::move(args), std::move(ro)));
        co_await first.wait();
        call.cancel();
        bool cancelled = false;
        try {
            co_await call;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(recording->with_method("notifications/cancelled").size(), 1u);
        int at_cancel = progress;
        co_await aio::sleep(700ms);
        EXPECT_EQ(progress, at_cancel);  // the stream was closed on our side
        co_await s->ping();
        co_await s->close();
        co_await server->stop();
    });
}

TEST(McpHttp, SamplingAndElicitationAreAnsweredByPost) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        adk::mcp::ClientSessionOptions options;
        options.sampling_llm = adk::ScriptedLlm::make({adk::ScriptedReply::say("sampled over http")});
        options.elicitation_handler = [](Json) -> aio::Coro<Json> {
            Json reply{{"action", "decline"}};
            co_return reply;
        };
        std::shared_ptr<ClientSession> s = co_await connect_http(http_transport(server->url()), std::move(options));
        bool listed = co_await wait_for_tool(*s, "trigger-sampling-request");
        CO_ASSERT_TRUE(listed);
        Json args{{"prompt", "hello"}, {"maxTokens", 20}};
        Json r = co_await s->call_tool("trigger-sampling-request", std::move(args));
        EXPECT_NE(text_of(r).find("sampled over http"), std::string::npos) << r.dump();
        Json e = co_await s->call_tool("trigger-elicitation-request");
        EXPECT_NE(text_of(e).find("declined"), std::string::npos) << e.dump();
        co_await s->close();
        co_await server->stop();
    });
}

TEST(McpHttp, CloseDeletesTheSession) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        auto transport = http_transport(server->url());
        std::shared_ptr<ClientSession> s = co_await connect_http(transport);
        std::string sid = transport->session_id();
        CO_ASSERT_TRUE(!sid.empty());
        co_await s->close();
        // The server forgot the session: a request naming it is refused.
        aio::http::Client client;
        aio::http::Request req;
        req.method = "POST";
        req.url = server->url();
        req.headers.set("Content-Type", "application/json");
        req.headers.set("Accept", "application/json, text/event-stream");
        req.headers.set("Mcp-Session-Id", sid);
        req.body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
        aio::http::Response resp = co_await client.request(std::move(req));
        EXPECT_TRUE(resp.status == 400 || resp.status == 404) << resp.status << " " << resp.body;
        client.close();
        co_await server->stop();
    });
}

TEST(McpHttp, AStoppedServerIsAConnectionErrorNotACancellation) {
    run_bounded([]() -> aio::Coro<> {
        std::unique_ptr<EverythingHttpServer> server = co_await EverythingHttpServer::start();
        std::shared_ptr<ClientSession> s = co_await connect_http(http_transport(server->url()));
        co_await server->stop();
        bool connection_error = false;
        try {
            Json args{{"message", "anyone?"}};
            Json r = co_await s->call_tool("echo", std::move(args));
            ADD_FAILURE() << r.dump();
        } catch (const adk::mcp::McpConnectionError&) {
            connection_error = true;
        }
        EXPECT_TRUE(connection_error);
        co_await s->close();
    });
}

TEST(McpHttp, NothingListensIsAConnectionErrorAtConnect) {
    run_bounded([]() -> aio::Coro<> {
        std::string url = "http://127.0.0.1:" + std::to_string(free_port()) + "/mcp";
        bool connection_error = false;
        try {
            std::shared_ptr<ClientSession> s = co_await connect_http(http_transport(url));
        } catch (const adk::mcp::McpConnectionError&) {
            connection_error = true;
        }
        EXPECT_TRUE(connection_error);
    });
}

}  // namespace
