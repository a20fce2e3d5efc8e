// Tests for adk::FunctionTool (explicit schema and typed callables),
// adk::LongRunningFunctionTool, adk::BaseToolset and validate_args.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "adk/llm_agent.hpp"
#include "adk/long_running_tool.hpp"
#include "adk/runner.hpp"
#include "adk/scripted_llm.hpp"
#include "adk/session.hpp"
#include "adk/tool.hpp"
#include "adk/toolset.hpp"
#include "aio/task.hpp"
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

// ---- typed FunctionTool::from ------------------------------------------------

namespace typed {

enum class Unit { celsius, fahrenheit };
BOOST_DESCRIBE_ENUM(Unit, celsius, fahrenheit)

struct WeatherQuery {
    std::string city;
    std::optional<Unit> unit;
};
BOOST_DESCRIBE_STRUCT(WeatherQuery, (), (city, unit))

struct Report {
    std::string city;
    double temperature = 0;
    Unit unit = Unit::celsius;
};
BOOST_DESCRIBE_STRUCT(Report, (), (city, temperature, unit))

struct Stop {
    std::string city;
    int nights = 0;
};
BOOST_DESCRIBE_STRUCT(Stop, (), (city, nights))
struct Itinerary {
    std::vector<Stop> stops;
};
BOOST_DESCRIBE_STRUCT(Itinerary, (), (stops))

aio::Coro<Report> get_weather(WeatherQuery q, ToolContext& ctx) {
    co_await aio::sleep(1ms);
    ctx.state().set("last_city", q.city);
    Unit unit = q.unit.value_or(Unit::celsius);
    co_return Report{q.city, unit == Unit::celsius ? 21.5 : 70.7, unit};
}

double add(double a, double b) { return a + b; }

}  // namespace typed

template <>
struct adk::field_descriptions<typed::WeatherQuery> {
    static constexpr adk::FieldDescription fields[] = {{"city", "The city, e.g. Paris"}};
};

namespace {

/// A session, an invocation and a tool context for calling tools directly.
struct Harness {
    adk::Session session;
    adk::InvocationContext invocation;
    std::unique_ptr<ToolContext> ctx;
    Harness() {
        session.app_name = "app";
        session.user_id = "u";
        invocation.session = &session;
        ctx = std::make_unique<ToolContext>(invocation, "call-1");
    }
    Json call(adk::BaseTool& tool, Json args) {
        return aio::run([&]() -> aio::Coro<Json> {
            aio::Coro<Json> running = tool.run(std::move(args), *ctx);
            Json r = co_await std::move(running);
            co_return r;
        });
    }
};

}  // namespace

TEST(AdkTypedTool, DescribedStructParametersGiveTheSchemaAndTheResult) {
    auto tool = adk::FunctionTool::from(typed::get_weather, "get_weather", "Current weather of a city");
    Json decl = *tool->declaration();
    EXPECT_EQ(decl["name"], "get_weather");
    EXPECT_EQ(decl["description"], "Current weather of a city");
    EXPECT_EQ(decl["parameters"], Json::parse(R"({"type":"object",
        "properties":{"city":{"type":"string","description":"The city, e.g. Paris"},
                      "unit":{"type":"string","enum":["celsius","fahrenheit"],"nullable":true}},
        "required":["city"]})"));
    Harness h;
    Json r = h.call(*tool, Json::parse(R"({"city":"Paris","unit":"fahrenheit"})"));
    EXPECT_EQ(r, Json::parse(R"({"city":"Paris","temperature":70.7,"unit":"fahrenheit"})"));
    EXPECT_EQ(h.ctx->actions().state_delta["last_city"], "Paris");
    Json r2 = h.call(*tool, Json::parse(R"({"city":"Oslo","unit":null})"));
    EXPECT_EQ(r2["unit"], "celsius");
}

TEST(AdkTypedTool, PlainParametersAreNamedAndRunOnAWorker) {
    std::thread::id worker;
    auto tool = adk::FunctionTool::from(
        [&worker](double a, const std::optional<double>& b) {
            worker = std::this_thread::get_id();
            return a + b.value_or(0);
        },
        "add", "Adds two numbers", {{"a", "The first"}, "b"});
    EXPECT_EQ(tool->parameters(), Json::parse(R"({"type":"object",
        "properties":{"a":{"type":"number","description":"The first"},"b":{"type":"number","nullable":true}},
        "required":["a"]})"));
    Harness h;
    EXPECT_EQ(h.call(*tool, Json::parse(R"({"a":1.5,"b":2})")), 3.5);
    EXPECT_NE(worker, std::this_thread::get_id());
    EXPECT_EQ(h.call(*tool, Json::parse(R"({"a":4})")), 4.0);

    auto plain = adk::FunctionTool::from(typed::add, "add", "Adds", {"a", "b"});
    EXPECT_EQ(plain->parameters()["required"], Json::parse(R"(["a","b"])"));
    EXPECT_EQ(h.call(*plain, Json::parse(R"({"a":1,"b":2})")), 3.0);
}

TEST(AdkTypedTool, MalformedArgumentsBecomeErrorsTheModelCanRead) {
    std::atomic<int> calls = 0;
    auto tool = adk::FunctionTool::from(
        [&calls](typed::Itinerary it) {
            ++calls;
            return static_cast<int>(it.stops.size());
        },
        "plan", "Plans a trip");
    Harness h;
    Json wrong_type = h.call(*tool, Json::parse(R"({"stops":[{"city":"Paris","nights":2},{"city":5,"nights":1}]})"));
    EXPECT_EQ(wrong_type, Json::parse(R"({"error":"Invoking `plan()` failed: `stops[1].city` must be a string, got 5"})"));
    Json nested_missing = h.call(*tool, Json::parse(R"({"stops":[{"city":"Paris"}]})"));
    EXPECT_EQ(nested_missing["error"], "Invoking `plan()` failed: `stops[0].nights` is required but missing");
    Json missing = h.call(*tool, Json::object());
    EXPECT_NE(missing["error"].get<std::string>().find("mandatory input parameters are not present:\nstops"),
              std::string::npos);
    Json not_object = h.call(*tool, Json::parse("[1]"));
    EXPECT_TRUE(not_object.contains("error"));
    Json fraction = h.call(*tool, Json::parse(R"({"stops":[{"city":"Paris","nights":1.5}]})"));
    EXPECT_EQ(fraction["error"], "Invoking `plan()` failed: `stops[0].nights` must be an integer, got 1.5");
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(h.call(*tool, Json::parse(R"({"stops":[{"city":"Paris","nights":2.0}]})")), 1);
    EXPECT_EQ(calls, 1);

    auto named = adk::FunctionTool::from(typed::add, "add", "Adds", {"a", "b"});
    EXPECT_EQ(h.call(*named, Json::parse(R"({"a":1,"b":"two"})"))["error"],
              "Invoking `add()` failed: parameter `b` must be of type \"number\", got \"two\"");
}

TEST(AdkTypedTool, OnLoopCallablesRunInlineWithTheContext) {
    std::thread::id ran_on;
    auto tool = adk::FunctionTool::from(adk::on_loop([&ran_on](ToolContext& ctx, const std::string& reason) {
                                            ran_on = std::this_thread::get_id();
                                            ctx.actions().escalate = true;
                                            ctx.state().set("reason", reason);
                                        }),
                                        "stop", "Stops the loop", {"reason"});
    Harness h;
    Json r = h.call(*tool, Json{{"reason", "done"}});
    EXPECT_TRUE(r.is_null());  // void: the flow sends {"result": null}
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_EQ(h.ctx->actions().escalate, true);
    EXPECT_EQ(h.ctx->actions().state_delta["reason"], "done");
}

TEST(AdkTypedTool, CoroutineResultsOfEveryShape) {
    auto none = adk::FunctionTool::from([]() -> aio::Coro<> { co_return; }, "none", "No parameters, no result");
    EXPECT_EQ(none->parameters(), Json::parse(R"({"type":"object","properties":{}})"));
    auto list = adk::FunctionTool::from(
        [](int n, ToolContext& ctx) -> aio::Coro<std::vector<typed::Unit>> {
            co_await aio::sleep(0ms);
            std::vector<typed::Unit> out(static_cast<std::size_t>(n), typed::Unit::fahrenheit);
            ctx.actions().skip_summarization = true;
            co_return out;
        },
        "list", "Units", {"n"});
    auto blocking_void = adk::FunctionTool::from([] {}, "nothing", "Does nothing on a worker");
    Harness h;
    EXPECT_TRUE(h.call(*none, Json::object()).is_null());
    EXPECT_EQ(h.call(*list, Json{{"n", 2}}), Json::parse(R"(["fahrenheit","fahrenheit"])"));
    EXPECT_EQ(h.ctx->actions().skip_summarization, true);
    EXPECT_TRUE(h.call(*blocking_void, Json::object()).is_null());
}

TEST(AdkTypedTool, AThrowingToolPropagatesToTheFlow) {
    auto blocking = adk::FunctionTool::from([](int) -> int { throw std::runtime_error("disk full"); }, "f", "", {"x"});
    auto coro = adk::FunctionTool::from(
        [](int) -> aio::Coro<int> {
            co_await aio::sleep(0ms);
            throw std::runtime_error("remote down");
        },
        "g", "", {"x"});
    Harness h;
    EXPECT_THROW(h.call(*blocking, Json{{"x", 1}}), std::runtime_error);
    EXPECT_THROW(h.call(*coro, Json{{"x", 1}}), std::runtime_error);
}

TEST(AdkTypedTool, BadParameterNamesAreRejectedAtConstruction) {
    // (a wrong number of names does not compile)
    EXPECT_THROW(adk::FunctionTool::from(typed::add, "add", "", {"a", "a"}), std::invalid_argument);
    EXPECT_THROW(adk::FunctionTool::from(typed::add, "add", "", {"a", ""}), std::invalid_argument);
}

TEST(AdkTypedTool, CancellingABlockingToolReturnsAtOnceTheWorkerFinishesAlone) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> started = false;
    std::atomic<bool> finished = false;
    auto tool = adk::FunctionTool::from(
        [released, &started, &finished](int x) {
            started = true;
            released.wait();
            finished = true;
            return x;
        },
        "wait", "Blocks until released", {"x"});
    Harness h;
    bool cancelled = false;
    aio::run([&]() -> aio::Coro<> {
        auto body = [&]() -> aio::Coro<> {
            Json args = Json{{"x", 1}};
            aio::Coro<Json> running = tool->run(std::move(args), *h.ctx);
            co_await std::move(running);
        };
        aio::Task<> task = aio::create_task(body());
        while (!started) co_await aio::sleep(1ms);  // running on its worker now
        task.cancel();
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_FALSE(finished.load());  // the await ended, the worker still blocks
        release.set_value();
    });
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(finished.load());  // aio::run waited for the worker before returning
}

TEST(AdkTypedTool, TimeoutIsAPropertyOfTheTool) {
    auto tool = adk::FunctionTool::from(typed::add, "add", "", {"a", "b"});
    EXPECT_EQ(tool->timeout(), std::nullopt);
    tool->set_timeout(250ms);
    EXPECT_EQ(tool->timeout(), std::chrono::milliseconds(250));
    tool->set_timeout(std::nullopt);
    EXPECT_EQ(tool->timeout(), std::nullopt);
}

// ---- LongRunningFunctionTool -------------------------------------------------

namespace typed {
struct Reimburse {
    double amount = 0;
    std::string purpose;
};
BOOST_DESCRIBE_STRUCT(Reimburse, (), (amount, purpose))
}  // namespace typed

TEST(AdkLongRunningTool, IsLongRunningAndTellsTheModelNotToCallAgain) {
    auto tool = adk::LongRunningFunctionTool::from(
        [](typed::Reimburse r) { return Json{{"status", "pending"}, {"amount", r.amount}}; }, "ask_for_approval",
        "Asks a manager to approve a reimbursement");
    EXPECT_TRUE(tool->is_long_running());
    Json decl = *tool->declaration();
    EXPECT_EQ(decl["description"], std::string("Asks a manager to approve a reimbursement\n\n") +
                                       adk::LongRunningFunctionTool::kNote);
    EXPECT_EQ(decl["parameters"]["required"], Json::parse(R"(["amount","purpose"])"));
    Harness h;
    EXPECT_EQ(h.call(*tool, Json::parse(R"({"amount":12.5,"purpose":"taxi"})")),
              Json::parse(R"({"status":"pending","amount":12.5})"));
    EXPECT_TRUE(h.call(*tool, Json::parse(R"({"amount":"x","purpose":"taxi"})")).contains("error"));
}

TEST(AdkLongRunningTool, NullMeansNoResponseYet) {
    auto later = adk::LongRunningFunctionTool::from(
        [](const std::string& id) -> aio::Coro<std::optional<Json>> {
            co_await aio::sleep(0ms);
            if (id == "known") co_return Json{{"status", "done"}};
            co_return std::nullopt;
        },
        "check", "", {"id"});
    auto raw = adk::LongRunningFunctionTool::make("raw", "", Json(), [](Json) -> aio::Coro<Json> { co_return Json(); });
    EXPECT_TRUE(raw->is_long_running());
    EXPECT_EQ((*raw->declaration())["description"], adk::LongRunningFunctionTool::kNote);
    Harness h;
    EXPECT_TRUE(h.call(*later, Json{{"id", "new"}}).is_null());
    EXPECT_EQ(h.call(*later, Json{{"id", "known"}}), Json::parse(R"({"status":"done"})"));
    EXPECT_TRUE(h.call(*raw, Json::object()).is_null());
}

// ---- toolsets ------------------------------------------------------------------

namespace {

std::vector<std::shared_ptr<adk::BaseTool>> arithmetic() {
    return {adk::FunctionTool::from(typed::add, "add", "", {"a", "b"}),
            adk::FunctionTool::from([](double a, double b) { return a - b; }, "sub", "", {"a", "b"}),
            adk::FunctionTool::from([](double a, double b) { return a * b; }, "mul", "", {"a", "b"})};
}

std::vector<std::string> names_of(const std::vector<std::shared_ptr<adk::BaseTool>>& tools) {
    std::vector<std::string> out;
    for (const auto& t : tools) out.push_back(t->name());
    return out;
}

std::vector<std::string> list(adk::BaseToolset& toolset, const adk::ReadonlyContext* ctx) {
    return aio::run([&]() -> aio::Coro<std::vector<std::string>> {
        aio::Coro<std::vector<std::shared_ptr<adk::BaseTool>>> listing = toolset.get_filtered_tools(ctx);
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await std::move(listing);
        co_return names_of(tools);
    });
}

/// A toolset that lists different tools over time and counts close().
class CountingToolset : public adk::BaseToolset {
public:
    using BaseToolset::BaseToolset;
    int listed = 0;
    int closed = 0;
    aio::Coro<std::vector<std::shared_ptr<adk::BaseTool>>> get_tools(const adk::ReadonlyContext*) override {
        co_await aio::sleep(0ms);
        ++listed;
        std::vector<std::shared_ptr<adk::BaseTool>> all = arithmetic();
        all.resize(static_cast<std::size_t>(std::min(listed, 3)));
        all.push_back(nullptr);  // null entries are dropped
        co_return all;
    }
    aio::Coro<> close() override {
        co_await aio::sleep(0ms);
        ++closed;
    }
};

}  // namespace

TEST(AdkToolset, NoFilterListsEveryTool) {
    adk::StaticToolset toolset(arithmetic());
    EXPECT_TRUE(toolset.tool_filter().selects_all());
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add", "sub", "mul"}));
    aio::run([&]() -> aio::Coro<> { co_await toolset.close(); });  // the default close does nothing
    EXPECT_EQ(toolset.tools().size(), 3u);
}

TEST(AdkToolset, FilterByName) {
    adk::StaticToolset toolset(arithmetic(), adk::ToolFilter({"mul", "add", "unknown"}));
    EXPECT_TRUE(toolset.tool_filter().by_name());
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add", "mul"}));
    adk::StaticToolset none(arithmetic(), std::vector<std::string>{});
    EXPECT_TRUE(list(none, nullptr).empty());  // an empty list selects nothing (ADK: everything)
}

TEST(AdkToolset, FilterByPredicateSeesTheReadonlyContext) {
    adk::StaticToolset toolset(arithmetic(), [](const adk::BaseTool& t, const adk::ReadonlyContext* ctx) {
        if (t.name() == "add") return true;
        return ctx && ctx->state().value("power_user", false);
    });
    EXPECT_FALSE(toolset.tool_filter().selects_all());
    adk::Session session;
    session.state = Json{{"power_user", true}};
    adk::InvocationContext invocation;
    invocation.session = &session;
    adk::ReadonlyContext ro(invocation);
    EXPECT_EQ(list(toolset, &ro), (std::vector<std::string>{"add", "sub", "mul"}));
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add"}));
    session.state = Json{{"power_user", false}};
    EXPECT_EQ(list(toolset, &ro), (std::vector<std::string>{"add"}));
}

TEST(AdkToolset, GetToolsRunsEveryTimeAndCloseIsTheImplementations) {
    CountingToolset toolset(adk::ToolFilter({"add", "mul"}));
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add"}));
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add"}));
    EXPECT_EQ(list(toolset, nullptr), (std::vector<std::string>{"add", "mul"}));
    EXPECT_EQ(toolset.listed, 3);
    aio::run([&]() -> aio::Coro<> { co_await toolset.close(); });
    EXPECT_EQ(toolset.closed, 1);
}

TEST(AdkToolset, ToolsOfAToolsetRunLikeAnyTool) {
    adk::StaticToolset toolset(arithmetic(), adk::ToolFilter({"mul"}));
    Harness h;
    Json r = aio::run([&]() -> aio::Coro<Json> {
        aio::Coro<std::vector<std::shared_ptr<adk::BaseTool>>> listing = toolset.get_filtered_tools(nullptr);
        std::vector<std::shared_ptr<adk::BaseTool>> tools = co_await std::move(listing);
        Json args = Json{{"a", 6}, {"b", 7}};
        aio::Coro<Json> running = tools.at(0)->run(std::move(args), *h.ctx);
        Json out = co_await std::move(running);
        co_return out;
    });
    EXPECT_EQ(r, 42.0);
}

// ---- through the flow ----------------------------------------------------------

TEST(AdkTypedTool, TheModelReadsItsMistakeAndRetries) {
    auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::call("get_weather", {{"city", 5}}),
                                       adk::ScriptedReply::call("get_weather", {{"city", "Paris"}, {"unit", "kelvin"}}),
                                       adk::ScriptedReply::call("get_weather", {{"city", "Paris"}}),
                                       adk::ScriptedReply::say("21.5 degrees in Paris.")});
    auto agent = adk::LlmAgent::make(
        {.name = "weather", .model = llm,
         .tools = {adk::FunctionTool::from(typed::get_weather, "get_weather", "Current weather of a city")}});
    adk::InMemoryRunner runner(agent, "app");
    std::vector<adk::Event> events;
    aio::run([&]() -> aio::Coro<> {
        aio::Coro<adk::Session> creating = runner.session_service().create_session("app", "u", Json::object(), "s");
        co_await std::move(creating);
        aio::AsyncGenerator<adk::Event> stream = runner.run("u", "s", adk::Content::user("Weather in Paris?"));
        while (true) {
            std::optional<adk::Event> ev = co_await stream.next();
            if (!ev) break;
            events.push_back(std::move(*ev));
        }
    });
    ASSERT_EQ(events.size(), 7u);
    EXPECT_EQ(events[1].function_responses().at(0).response["error"],
              "Invoking `get_weather()` failed: parameter `city` must be of type \"string\", got 5");
    EXPECT_EQ(events[3].function_responses().at(0).response["error"],
              "Invoking `get_weather()` failed: parameter `unit` must be one of [\"celsius\",\"fahrenheit\"], got "
              "\"kelvin\"");
    EXPECT_EQ(events[5].function_responses().at(0).response,
              Json::parse(R"({"city":"Paris","temperature":21.5,"unit":"celsius"})"));
    EXPECT_EQ(events[5].actions.state_delta["last_city"], "Paris");
    EXPECT_TRUE(events[6].is_final_response());
    // the model saw its own error before retrying
    ASSERT_EQ(llm->calls(), 4u);
    const adk::Content& last = llm->requests()[1].contents.back();
    ASSERT_TRUE(last.parts.at(0).function_response.has_value());
    EXPECT_TRUE(last.parts[0].function_response->response.contains("error"));
}

TEST(AdkToolset, TheFlowDeclaresTheFilteredToolsOfEveryStep) {
    auto counting = std::make_shared<CountingToolset>(adk::ToolFilter({"add", "sub"}));
    auto llm = adk::ScriptedLlm::make({adk::ScriptedReply::call("add", {{"a", 2}, {"b", 3}}),
                                       adk::ScriptedReply::say("5")});
    auto agent = adk::LlmAgent::make({.name = "calc", .model = llm, .tools = {counting}});
    adk::InMemoryRunner runner(agent, "app");
    std::size_t events = 0;
    aio::run([&]() -> aio::Coro<> {
        aio::Coro<adk::Session> creating = runner.session_service().create_session("app", "u", Json::object(), "s");
        co_await std::move(creating);
        aio::AsyncGenerator<adk::Event> stream = runner.run("u", "s", adk::Content::user("2+3?"));
        while (true) {
            std::optional<adk::Event> ev = co_await stream.next();
            if (!ev) break;
            ++events;
        }
        co_await runner.close();
    });
    EXPECT_EQ(events, 3u);
    ASSERT_EQ(llm->calls(), 2u);
    auto declared = [&](std::size_t i) {
        std::vector<std::string> names;
        for (const Json& d : llm->requests()[i].function_declarations) names.push_back(d["name"]);
        return names;
    };
    EXPECT_EQ(declared(0), (std::vector<std::string>{"add"}));         // first listing: one tool
    EXPECT_EQ(declared(1), (std::vector<std::string>{"add", "sub"}));  // listed again for the second step
    EXPECT_EQ(counting->closed, 1);                                    // Runner::close closed it
}
