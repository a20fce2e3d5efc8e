// Tests for adk::FunctionTool, adk::ToolContext and validate_args.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "adk/session.hpp"
#include "adk/tool.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using adk::Json;
using adk::ToolContext;
using namespace std::chrono_literals;

namespace {

const Json kCitySchema = Json::parse(R"({"type":"object","properties":{"city":{"type":"string"},
    "days":{"type":"integer"},"unit":{"type":"string","enum":["C","F"]}},"required":["city"]})");

aio::Coro<Json> weather(Json args, ToolContext& ctx) {
    co_await aio::sleep(1ms);
    ctx.state().set("last_city", args["city"]);
    co_return Json{{"report", "sunny in " + args["city"].get<std::string>()}};
}

}  // namespace

TEST(AdkFunctionTool, CoroutineToolRecordsStateDeltas) {
    auto tool = adk::FunctionTool::make("get_weather", "Current weather", kCitySchema, weather);
    Json decl = *tool->declaration();
    EXPECT_EQ(decl["name"], "get_weather");
    EXPECT_EQ(decl["description"], "Current weather");
    EXPECT_EQ(decl["parameters"], kCitySchema);
    adk::Session session;
    session.state = Json{{"last_city", "Rome"}};
    adk::InvocationContext ctx;
    ctx.session = &session;
    ToolContext tc(ctx, "adk-1");
    Json result = aio::run([&]() -> aio::Coro<Json> {
        Json args = Json::parse(R"({"city":"Paris"})");
        Json r = co_await tool->run(args, tc);
        co_return r;
    });
    EXPECT_EQ(result["report"], "sunny in Paris");
    EXPECT_EQ(tc.actions().state_delta["last_city"], "Paris");
    EXPECT_EQ(session.state["last_city"], "Rome");  // applied only when the event is appended
    EXPECT_EQ(tc.state().get("last_city"), Json("Paris"));
    EXPECT_EQ(tc.function_call_id(), "adk-1");
}

TEST(AdkFunctionTool, BlockingToolRunsOffTheLoopThread) {
    std::thread::id tool_thread;
    auto tool = adk::FunctionTool::make("slow", "blocks", Json(), [&tool_thread](const Json& args) {
        tool_thread = std::this_thread::get_id();
        std::this_thread::sleep_for(50ms);
        return args.value("n", 0) * 2;
    });
    adk::Session session;
    adk::InvocationContext ctx;
    ctx.session = &session;
    ToolContext tc(ctx, "id");
    int ticks = 0;
    Json result = aio::run([&]() -> aio::Coro<Json> {
        // The loop keeps running other tasks while the tool blocks.
        auto ticker = [&ticks]() -> aio::Coro<> {
            for (int i = 0; i < 5; ++i) {
                co_await aio::sleep(1ms);
                ++ticks;
            }
        };
        aio::Task<> t = aio::create_task(ticker());
        Json args = Json::parse(R"({"n":21})");
        Json r = co_await tool->run(args, tc);
        co_await t;
        co_return r;
    });
    EXPECT_EQ(result, 42);
    EXPECT_NE(tool_thread, std::this_thread::get_id());
    EXPECT_EQ(ticks, 5);
}

TEST(AdkFunctionTool, MalformedArgumentsBecomeErrorResponses) {
    int calls = 0;
    auto tool = adk::FunctionTool::make("get_weather", "", kCitySchema, [&calls](Json) -> aio::Coro<Json> {
        ++calls;
        co_return Json::object();
    });
    adk::Session session;
    adk::InvocationContext ctx;
    ctx.session = &session;
    ToolContext tc(ctx, "id");
    for (const char* bad : {R"([1,2])", R"({"days":2})", R"({"city":5})", R"({"city":"P","days":1.5})",
                            R"({"city":"P","unit":"K"})"}) {
        Json result = aio::run([&]() -> aio::Coro<Json> {
            Json args = Json::parse(bad);
            Json r = co_await tool->run(args, tc);
            co_return r;
        });
        ASSERT_TRUE(result.contains("error")) << bad;
        EXPECT_NE(result["error"].get<std::string>().find("get_weather"), std::string::npos);
    }
    EXPECT_EQ(calls, 0);
    auto missing = adk::validate_args("f", kCitySchema, Json::object());
    ASSERT_TRUE(missing.has_value());
    EXPECT_NE(missing->find("mandatory input parameters are not present"), std::string::npos);
    EXPECT_FALSE(adk::validate_args("f", kCitySchema, Json{{"city", "x"}, {"days", 3}, {"unit", "F"}}));
    EXPECT_FALSE(adk::validate_args("f", kCitySchema, Json{{"city", "x"}, {"days", 3.0}}));
}

TEST(AdkFunctionTool, ExitLoopEscalates) {
    auto tool = adk::exit_loop_tool();
    adk::Session session;
    adk::InvocationContext ctx;
    ctx.session = &session;
    ToolContext tc(ctx, "id");
    aio::run([&]() -> aio::Coro<> {
        Json args = Json::object();
        co_await tool->run(args, tc);
    });
    EXPECT_EQ(tc.actions().escalate, true);
    EXPECT_EQ(tool->name(), "exit_loop");
}
