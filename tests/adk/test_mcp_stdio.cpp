// adk::mcp::ClientSession over stdio against the MCP reference servers
// (@modelcontextprotocol/server-everything and server-filesystem, real
// processes started from tests/peers).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "adk/scripted_llm.hpp"
#include "test_mcp_support.hpp"

namespace {

using namespace mcp_test;
using adk::mcp::ClientSession;
using adk::mcp::ClientSessionOptions;
using adk::mcp::StdioTransport;
using aio_test::run_bounded;

aio::Coro<std::shared_ptr<ClientSession>> connect_everything(ClientSessionOptions options) {
    auto transport = StdioTransport::make(everything_stdio());
    auto connecting = ClientSession::connect(transport, std::move(options));
    std::shared_ptr<ClientSession> s = co_await std::move(connecting);
    co_return s;
}

// No default argument: an aggregate built in the caller's co_await
// expression is destroyed twice by g++ 12.
aio::Coro<std::shared_ptr<ClientSession>> connect_everything() { return connect_everything(ClientSessionOptions{}); }

TEST(McpStdio, ConnectNegotiatesTheLatestVersionAndListsTools) {
    run_bounded([]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect_everything();
        EXPECT_EQ(s->protocol_version(), "2025-11-25");
        EXPECT_EQ(s->server_info().value("name", ""), "mcp-servers/everything");
        EXPECT_TRUE(s->server_capabilities().contains("tools"));
        Json tools = co_await s->list_tools();
        EXPECT_TRUE(has_tool(tools, "echo"));
        EXPECT_TRUE(has_tool(tools, "get-sum"));
        EXPECT_TRUE(has_tool(tools, "trigger-long-running-operation"));
        // Not declared: sampling and elicitation tools are not offered.
        EXPECT_FALSE(has_tool(tools, "trigger-sampling-request"));
        co_await s->close();
        EXPECT_TRUE(s->is_closed());
    });
}

TEST(McpStdio, EveryOlderSupportedVersionIsNegotiated) {
    run_bounded([]() -> aio::Coro<> {
        for (std::string_view v : adk::mcp::SUPPORTED_PROTOCOL_VERSIONS) {
            ClientSessionOptions options;
            options.protocol_version = std::string(v);
            std::shared_ptr<ClientSession> s = co_await connect_everything(std::move(options));
            EXPECT_EQ(s->protocol_version(), v);
            co_await s->ping();
            co_await s->close();
        }
    });
}

TEST(McpStdio, EchoAndSum) {
    run_bounded([]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect_everything();
        Json args1 = Json{{"message", "hello"}};
        Json echo = co_await s->call_tool("echo", std::move(args1));
        EXPECT_EQ(text_of(echo), "Echo: hello");
        Json args2 = Json{{"a", 2}, {"b", 40}};
        Json sum = co_await s->call_tool("get-sum", std::move(args2));
        EXPECT_NE(text_of(sum).find("42"), std::string::npos) << sum.dump();
        co_await s->close();
    });
}

TEST(McpStdio, ConcurrentRequestsAreMatchedById) {
    run_bounded([]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect_everything();
        std::vector<aio::Task<Json>> calls;
        for (int i = 0; i < 20; ++i) {
            Json args{{"message", "m" + std::to_string(i)}};
            calls.push_back(aio::create_task(s->call_tool("echo", std::move(args))));
        }
        for (int i = 0; i < 20; ++i) {
            Json r = co_await calls[static_cast<std::size_t>(i)];
            EXPECT_EQ(text_of(r), "Echo: m" + std::to_string(i));
        }
        EXPECT_EQ(s->pending_requests(), 0u);
        co_await s->close();
    });
}

TEST(McpStdio, ServerErrorsAreTypedAndToolErrorsAreResults) {
    run_bounded([]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect_everything();
        int code = 0;
        try {
            Json r = co_await s->request("no/such/method");
            ADD_FAILURE() << "answered " << r.dump();
        } catch (const adk::mcp::McpError& e) {
            code = e.code();
        }
        EXPECT_EQ(code, adk::mcp::error_code::METHOD_NOT_FOUND);
        Json unknown = co_await s->call_tool("no-such-tool");
        EXPECT_TRUE(unknown.value("isError", false));
        EXPECT_NE(text_of(unknown).find("not found"), std::string::npos) << unknown.dump();
        // The session is still fine.
        co_await s->ping();
        co_await s->close();
    });
}

TEST(McpStdio, ProgressNotificationsReachTheCaller) {
    run_bounded([]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect_everything();
        std::vector<adk::mcp::Progress> seen;
        adk::mcp::RequestOptions ro;
        ro.on_progress = [&](const adk::mcp::Progress& p) { seen.push_back(p); };
        Json args{{"duration", 0.4}, {"steps", 4}};
        Json r = co_await s->call_tool("trigger-long-running-operation", std::move(args), std::move(ro));
        EXPECT_NE(text_of(r).find("completed"), std::string::npos) << r.dump();
        CO_ASSERT_TRUE(seen.size() == 4u);
        for (std::size_t i = 0; i < 4; ++i) {
            EXPECT_EQ(seen[i].progress, double(i + 1));
            EXPECT_EQ(seen[i].total.value_or(0), 4.0);
        }
        co_await s->close();
    });
}

TEST(McpStdio, CancellingTheCallerSendsCancelledAndIgnoresLateTraffic) {
    run_bounded([]() -> aio::Coro<> {
        auto recording = std::make_shared<RecordingTransport>(StdioTransport::make(everything_stdio()));
        auto connecting = ClientSession::connect(recording);
        std::shared_ptr<ClientSession> s = co_await std::move(connecting);
        int progress = 0;
        aio::Event first;
        adk::mcp::RequestOptions ro;
        ro.on_progress = [&](const adk::mcp::Progress&) {
            ++progress;
            first.set();
        };
        Json args{{"duration", 2}, {"steps", 8}};
        aio::Task<Json> call = aio::create_task(s->call_tool("trigger-long-running-operation", std::move(args), std::move(ro)));
        (void)0;
        co_await first.wait();
        call.cancel();
        bool cancelled = false;
        try {
            co_await call;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(s->pending_requests(), 0u);
        std::vector<Json> notes = recording->with_method("notifications/cancelled");
        CO_ASSERT_TRUE(notes.size() == 1u);
        std::vector<Json> calls = recording->with_method("tools/call");
        CO_ASSERT_TRUE(calls.size() == 1u);
        EXPECT_EQ(notes[0]["params"]["requestId"], calls[0]["id"]);
        EXPECT_TRUE(notes[0]["params"].contains("reason"));
        int at_cancel = progress;
        // The server keeps sending progress for the cancelled call: ignored.
        co_await aio::sleep(700ms);
        EXPECT_EQ(progress, at_cancel);
        co_await s->ping();  // still usable at once
        Json args3 = Json{{"message", "after"}};
        Json echo = co_await s->call_tool("echo", std::move(args3));
        EXPECT_EQ(text_of(echo), "Echo: after");
        co_await s->close();
    });
}

TEST(McpStdio, TimeoutFailsTheCallAndCancelsItOnTheServer) {
    run_bounded([]() -> aio::Coro<> {
        auto recording = std::make_shared<RecordingTransport>(StdioTransport::make(everything_stdio()));
        auto connecting = ClientSession::connect(recording);
        std::shared_ptr<ClientSession> s = co_await std::move(connecting);
        adk::mcp::RequestOptions ro;
        ro.timeout = 300ms;
        auto start = aio::get_running_loop().time();
        bool timed_out = false;
        try {
            Json args4 = Json{{"duration", 3}, {"steps", 3}};
            Json r = co_await s->call_tool("trigger-long-running-operation", std::move(args4), ro);
            ADD_FAILURE() << r.dump();
        } catch (const adk::mcp::McpTimeoutError& e) {
            timed_out = true;
            EXPECT_EQ(e.code(), adk::mcp::error_code::REQUEST_TIMEOUT);
        }
        EXPECT_TRUE(timed_out);
        EXPECT_LT(aio_test::since(start), 2.5);
        EXPECT_EQ(recording->with_method("notifications/cancelled").size(), 1u);
        co_await s->ping();
        co_await s->close();
    });
}

TEST(McpStdio, SamplingIsAnsweredThroughAnLlm) {
    run_bounded([]() -> aio::Coro<> {
        auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::say("canned sample")});
        ClientSessionOptions options;
        options.sampling_llm = llm;
        std::shared_ptr<ClientSession> s = co_await connect_everything(std::move(options));
        bool listed = co_await wait_for_tool(*s, "trigger-sampling-request");
        CO_ASSERT_TRUE(listed);
        Json args5 = Json{{"prompt", "say hi"}, {"maxTokens", 50}};
        Json r = co_await s->call_tool("trigger-sampling-request", std::move(args5));
        EXPECT_NE(text_of(r).find("canned sample"), std::string::npos) << r.dump();
        CO_ASSERT_TRUE(llm->calls() == 1u);
        const adk::LlmRequest& req = llm->requests()[0];
        EXPECT_NE(req.last_user_text().find("say hi"), std::string::npos);
        EXPECT_EQ(req.system_instruction, "You are a helpful test server.");
        EXPECT_EQ(req.config.value("maxOutputTokens", 0), 50);
        co_await s->close();
    });
}

TEST(McpStdio, ElicitationGoesToTheCallback) {
    run_bounded([]() -> aio::Coro<> {
        Json asked;
        int calls = 0;
        ClientSessionOptions options;
        options.elicitation_handler = [&](Json params) -> aio::Coro<Json> {
            asked = params;
            Json reply = calls++ == 0
                             ? Json{{"action", "accept"}, {"content", {{"name", "Ada Lovelace"}, {"check", true}}}}
                             : Json{{"action", "decline"}};
            co_return reply;
        };
        std::shared_ptr<ClientSession> s = co_await connect_everything(std::move(options));
        bool listed = co_await wait_for_tool(*s, "trigger-elicitation-request");
        CO_ASSERT_TRUE(listed);
        Json accepted = co_await s->call_tool("trigger-elicitation-request");
        EXPECT_NE(text_of(accepted).find("Ada Lovelace"), std::string::npos) << accepted.dump();
        EXPECT_TRUE(asked["requestedSchema"]["properties"].contains("name"));
        Json declined = co_await s->call_tool("trigger-elicitation-request");
        EXPECT_NE(text_of(declined).find("declined"), std::string::npos) << declined.dump();
        co_await s->close();
    });
}

TEST(McpStdio, RootsAreListedToTheServer) {
    run_bounded([]() -> aio::Coro<> {
        ClientSessionOptions options;
        options.roots = std::vector<adk::mcp::Root>{{"file:///srv/project", "project"}};
        std::shared_ptr<ClientSession> s = co_await connect_everything(std::move(options));
        bool listed = co_await wait_for_tool(*s, "get-roots-list");
        CO_ASSERT_TRUE(listed);
        Json r = co_await s->call_tool("get-roots-list");
        EXPECT_NE(text_of(r).find("file:///srv/project"), std::string::npos) << r.dump();
        // Changed roots reach the server through roots/list_changed.
        s->set_roots({{"file:///srv/other", "other"}});
        bool updated = false;
        for (int i = 0; i < 60 && !updated; ++i) {
            Json again = co_await s->call_tool("get-roots-list");
            updated = text_of(again).find("file:///srv/other") != std::string::npos;
            if (!updated) co_await aio::sleep(50ms);
        }
        EXPECT_TRUE(updated);
        co_await s->close();
    });
}

TEST(McpStdio, CloseEscalatesToSigtermWhenTheServerIgnoresStdinEof) {
    run_bounded([]() -> aio::Coro<> {
        adk::mcp::StdioServerParams p = everything_stdio();
        p.shutdown_timeout = 300ms;
        auto transport = StdioTransport::make(std::move(p));
        auto connecting = ClientSession::connect(transport);
        std::shared_ptr<ClientSession> s = co_await std::move(connecting);
        // A running timer keeps server-everything alive after stdin EOF (P1.3).
        Json r = co_await s->call_tool("toggle-simulated-logging");
        (void)r;
        auto start = aio::get_running_loop().time();
        co_await s->close();
        double took = aio_test::since(start);
        EXPECT_LT(took, 4.0);
        EXPECT_TRUE(transport->returncode().has_value());
        EXPECT_FALSE(transport->pid().has_value());
    });
}

// ---- server-filesystem --------------------------------------------------

class McpFilesystem : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("adk-mcp-fs-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_ / "notes");
        std::ofstream(root_ / "notes" / "todo.txt") << "buy milk\nwrite tests\n";
        root_ = fs::canonical(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    aio::Coro<std::shared_ptr<ClientSession>> connect() {
        adk::mcp::StdioServerParams p;
        p.command = node();
        p.args = {filesystem_js(), root_.string()};
        p.on_stderr = [](std::string_view) {};
        auto connecting = ClientSession::connect(StdioTransport::make(std::move(p)));
        std::shared_ptr<ClientSession> s = co_await std::move(connecting);
        co_return s;
    }

    fs::path root_;
};

TEST_F(McpFilesystem, ReadsListsAndWritesInsideTheAllowedDirectory) {
    run_bounded([&]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect();
        Json tools = co_await s->list_tools();
        EXPECT_TRUE(has_tool(tools, "read_text_file"));
        EXPECT_TRUE(has_tool(tools, "write_file"));
        std::string todo = (root_ / "notes" / "todo.txt").string();
        Json args8 = Json{{"path", todo}};
        Json read = co_await s->call_tool("read_text_file", std::move(args8));
        EXPECT_FALSE(read.value("isError", false)) << read.dump();
        EXPECT_NE(text_of(read).find("write tests"), std::string::npos) << read.dump();

        std::string out = (root_ / "notes" / "done.txt").string();
        Json args9 = Json{{"path", out}, {"content", "shipped\n"}};
        Json wrote = co_await s->call_tool("write_file", std::move(args9));
        EXPECT_FALSE(wrote.value("isError", false)) << wrote.dump();
        std::ifstream in(out);
        std::stringstream content;
        content << in.rdbuf();
        EXPECT_EQ(content.str(), "shipped\n");

        Json args10 = Json{{"path", (root_ / "notes").string()}};
        Json listing = co_await s->call_tool("list_directory", std::move(args10));
        EXPECT_NE(text_of(listing).find("todo.txt"), std::string::npos) << listing.dump();
        EXPECT_NE(text_of(listing).find("done.txt"), std::string::npos) << listing.dump();
        co_await s->close();
    });
}

TEST_F(McpFilesystem, AccessOutsideTheAllowedDirectoryIsDenied) {
    run_bounded([&]() -> aio::Coro<> {
        std::shared_ptr<ClientSession> s = co_await connect();
        Json args11 = Json{{"path", "/etc/passwd"}};
        Json passwd = co_await s->call_tool("read_text_file", std::move(args11));
        EXPECT_TRUE(passwd.value("isError", false)) << passwd.dump();
        EXPECT_NE(text_of(passwd).find("Access denied"), std::string::npos) << passwd.dump();
        std::string escape = (root_ / ".." / ".." / "etc" / "passwd").string();
        Json args12 = Json{{"path", escape}};
        Json traversal = co_await s->call_tool("read_text_file", std::move(args12));
        EXPECT_TRUE(traversal.value("isError", false)) << traversal.dump();
        std::string outside = (root_.parent_path() / "adk-mcp-should-not-exist.txt").string();
        Json args13 = Json{{"path", outside}, {"content", "x"}};
        Json write = co_await s->call_tool("write_file", std::move(args13));
        EXPECT_TRUE(write.value("isError", false)) << write.dump();
        EXPECT_FALSE(fs::exists(outside));
        co_await s->close();
    });
}

}  // namespace
