// adk::mcp against broken servers (tests/adk/mcp_fakes/fake_server.py): a
// server that prints garbage, exits in the middle of a call, never answers,
// sends a 10 MB line or an unsupported protocol version. Each must end in a
// clear typed error (never aio::CancelledError), with no hang and nothing
// left running.
#include <gtest/gtest.h>

#include "test_mcp_support.hpp"

namespace {

using namespace mcp_test;
using adk::mcp::ClientSession;
using adk::mcp::StdioTransport;
using aio_test::run_bounded;

aio::Coro<std::shared_ptr<ClientSession>> connect_fake(std::shared_ptr<StdioTransport> transport,
                                                       std::chrono::milliseconds timeout) {
    adk::mcp::ClientSessionOptions options;
    options.request_timeout = timeout;
    auto connecting = ClientSession::connect(std::move(transport), std::move(options));
    std::shared_ptr<ClientSession> s = co_await std::move(connecting);
    co_return s;
}

/// Runs one call and returns what it raised, as text ("" if it returned);
/// a CancelledError is a failure of the test.
aio::Coro<std::string> failure_of(std::shared_ptr<ClientSession> s, std::string* type,
                                  std::chrono::milliseconds timeout = 20s) {
    std::string what;
    try {
        Json args{{"message", "hi"}};
        adk::mcp::RequestOptions ro;
        ro.timeout = timeout;
        Json r = co_await s->call_tool("echo", std::move(args), std::move(ro));
        ADD_FAILURE() << "the call returned " << r.dump().substr(0, 200);
    } catch (const adk::mcp::McpProtocolError& e) {
        *type = "protocol";
        what = e.what();
    } catch (const adk::mcp::McpConnectionError& e) {
        *type = "connection";
        what = e.what();
    } catch (const adk::mcp::McpTimeoutError& e) {
        *type = "timeout";
        what = e.what();
    } catch (const aio::CancelledError&) {
        ADD_FAILURE() << "a dead server surfaced as CancelledError";
        throw;
    }
    co_return what;
}

/// Nothing of the session is left running once it is closed.
void expect_no_leftover_tasks() {
    // The test's own two tasks (aio::run's and run_bounded's) remain.
    EXPECT_LE(aio::all_tasks().size(), 2u);
}

TEST(McpFaults, GarbageOnStdoutFailsThePendingCallAtOnce) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"garbage"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        auto start = aio::get_running_loop().time();
        std::string type;
        std::string what = co_await failure_of(s, &type);
        EXPECT_EQ(type, "protocol");
        EXPECT_NE(what.find("not a JSON-RPC message"), std::string::npos) << what;
        EXPECT_NE(what.find("this is not JSON"), std::string::npos) << what;
        EXPECT_LT(aio_test::since(start), 5.0);  // not the 20 s timeout
        EXPECT_TRUE(s->is_closed());
        // Later calls fail at once with the same story.
        std::string again = co_await failure_of(s, &type);
        EXPECT_EQ(again, what);
        co_await s->close();
        EXPECT_FALSE(transport->pid().has_value());
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, ServerExitingMidCallFailsItWithTheExitCodeAndStderr) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"exit_mid_call"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        Json tools = co_await s->list_tools();
        EXPECT_TRUE(has_tool(tools, "echo"));
        auto start = aio::get_running_loop().time();
        std::string type;
        std::string what = co_await failure_of(s, &type);
        EXPECT_EQ(type, "connection");
        EXPECT_NE(what.find("exited with code 3"), std::string::npos) << what;
        EXPECT_NE(what.find("dying in the middle of a call"), std::string::npos) << what;
        EXPECT_LT(aio_test::since(start), 5.0);
        EXPECT_EQ(s->pending_requests(), 0u);
        co_await s->close();
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, ConcurrentCallsAllFailWhenTheServerDies) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"exit_mid_call"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        std::vector<aio::Task<std::string>> calls;
        std::vector<std::string> types(5);
        for (std::size_t i = 0; i < 5; ++i) calls.push_back(aio::create_task(failure_of(s, &types[i])));
        for (auto& c : calls) {
            std::string what = co_await c;
            EXPECT_NE(what.find("exited with code 3"), std::string::npos) << what;
        }
        for (const std::string& t : types) EXPECT_EQ(t, "connection");
        co_await s->close();
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, SilentServerTimesOutAndStaysBounded) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"silent"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        auto start = aio::get_running_loop().time();
        std::string type;
        std::string what = co_await failure_of(s, &type, 400ms);
        EXPECT_EQ(type, "timeout");
        EXPECT_NE(what.find("no answer within 400 ms"), std::string::npos) << what;
        double took = aio_test::since(start);
        EXPECT_GE(took, 0.35);
        EXPECT_LT(took, 3.0);
        EXPECT_FALSE(s->is_closed());  // slow is not dead
        co_await s->close();
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, ServerThatNeverAnswersInitializeFailsConnect) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"silent_init"}));
        bool timed_out = false;
        try {
            std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 400ms);
        } catch (const adk::mcp::McpTimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_FALSE(transport->pid().has_value());  // connect() cleaned up
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, TenMegabyteLineIsAnErrorNotAnAllocation) {
    run_bounded([]() -> aio::Coro<> {
        adk::mcp::StdioServerParams p = fake_server("fake_server.py", {"huge_line"});
        p.max_line_bytes = 1024 * 1024;
        auto transport = StdioTransport::make(std::move(p));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        std::string type;
        std::string what = co_await failure_of(s, &type);
        EXPECT_EQ(type, "protocol");
        EXPECT_NE(what.find("longer than the limit of 1048576 bytes"), std::string::npos) << what;
        co_await s->close();
        EXPECT_FALSE(transport->pid().has_value());
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, TenMegabyteLineIsRefusedByTheDefaultLimitToo) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"huge_line"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 20s);
        std::string type;
        std::string what = co_await failure_of(s, &type);
        EXPECT_EQ(type, "protocol");
        EXPECT_NE(what.find("longer than the limit"), std::string::npos) << what;
        co_await s->close();
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, UnsupportedProtocolVersionIsRefused) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"bad_version"}));
        std::string what;
        try {
            std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 5s);
        } catch (const adk::mcp::McpProtocolError& e) {
            what = e.what();
        }
        EXPECT_NE(what.find("1999-01-01"), std::string::npos) << what;
        EXPECT_NE(what.find("2025-11-25"), std::string::npos) << what;  // says what is supported
        EXPECT_FALSE(transport->pid().has_value());
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, ServerRequestsWithStringIdsAreAnswered) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"string_ids"}));
        std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 5s);
        Json args{{"message", "x"}};
        Json r = co_await s->call_tool("echo", std::move(args));
        EXPECT_EQ(text_of(r), "client answered srv-1: True");
        co_await s->close();
    });
}

TEST(McpFaults, MissingProgramIsAConnectionError) {
    run_bounded([]() -> aio::Coro<> {
        adk::mcp::StdioServerParams p;
        p.command = "/nonexistent/mcp-server";
        std::string what;
        try {
            std::shared_ptr<ClientSession> s = co_await connect_fake(StdioTransport::make(std::move(p)), 5s);
        } catch (const adk::mcp::McpConnectionError& e) {
            what = e.what();
        }
        EXPECT_NE(what.find("cannot start MCP server"), std::string::npos) << what;
        expect_no_leftover_tasks();
    });
}

TEST(McpFaults, DroppingASessionWithoutCloseKillsTheServer) {
    run_bounded([]() -> aio::Coro<> {
        auto transport = StdioTransport::make(fake_server("fake_server.py", {"echo"}));
        {
            std::shared_ptr<ClientSession> s = co_await connect_fake(transport, 5s);
            EXPECT_TRUE(transport->pid().has_value());
        }
        // Killed at once; the reader tasks unwind on the next iterations.
        for (int i = 0; i < 100 && aio::all_tasks().size() > 2; ++i) co_await aio::sleep(10ms);
        expect_no_leftover_tasks();
    });
}

}  // namespace
