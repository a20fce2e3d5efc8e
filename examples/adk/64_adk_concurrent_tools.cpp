// Concurrent tool calls: one model turn asks for three tools at once. The
// flow runs them concurrently (a TaskGroup), so the turn waits as long as the
// slowest tool, not the sum, and gives one event holding all three responses
// (their state writes merged key by key).
#include <chrono>
#include <cstdio>
#include <string>

#include "adk/adk.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using namespace std::chrono_literals;

namespace {

aio::Clock::time_point start;

double now() { return std::chrono::duration<double>(aio::get_running_loop().time() - start).count(); }

// Three coroutine tools, each a backend with its own latency. Each records
// something in state: the three deltas arrive merged in one event.
aio::Coro<adk::Json> timed(const char* name, std::chrono::milliseconds latency, adk::Json result,
                           adk::ToolContext& ctx) {
    std::printf("[%.1fs]   %s starts\n", now(), name);
    co_await aio::sleep(latency);
    std::printf("[%.1fs]   %s done (%.1fs)\n", now(), name, std::chrono::duration<double>(latency).count());
    ctx.state().set(std::string("checked_") + name, true);
    co_return result;
}

aio::Coro<adk::Json> get_weather(adk::Json, adk::ToolContext& ctx) {
    adk::Json r = {{"forecast", "sunny"}, {"temperature_c", 24}};
    adk::Json out = co_await timed("get_weather", 300ms, std::move(r), ctx);
    co_return out;
}
aio::Coro<adk::Json> get_news(adk::Json, adk::ToolContext& ctx) {
    adk::Json r = {{"headline", "Seine swimmable again"}};
    adk::Json out = co_await timed("get_news", 500ms, std::move(r), ctx);
    co_return out;
}
aio::Coro<adk::Json> get_flights(adk::Json, adk::ToolContext& ctx) {
    adk::Json r = {{"cheapest_eur", 89}};
    adk::Json out = co_await timed("get_flights", 400ms, std::move(r), ctx);
    co_return out;
}

const adk::Json kCitySchema = adk::Json::parse(
    R"({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})");

void print(const adk::Event& ev) {
    std::printf("[%.1fs] %s", now(), ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" says: %s", p.text->c_str());
            if (p.function_call) std::printf("\n         calls %s(%s)", p.function_call->name.c_str(),
                                             p.function_call->args.dump().c_str());
            if (p.function_response) std::printf("\n         %s -> %s", p.function_response->name.c_str(),
                                                 p.function_response->response.dump().c_str());
        }
    if (!ev.actions.state_delta.empty()) std::printf("\n         state %s", ev.actions.state_delta.dump().c_str());
    std::printf("\n");
}

}  // namespace

int main() {
    adk::Json paris = {{"city", "Paris"}};
    adk::ScriptedReply three_calls = adk::ScriptedReply::calls({
        adk::FunctionCall{"", "get_weather", paris},
        adk::FunctionCall{"", "get_news", paris},
        adk::FunctionCall{"", "get_flights", paris},
    });
    three_calls.delay = 100ms;
    adk::ScriptedReply answer = adk::ScriptedReply::say("Paris: sunny, 24 C; the Seine is swimmable; flights from 89 EUR.");
    answer.delay = 100ms;

    auto agent = adk::LlmAgent::make({
        .name = "planner",
        .description = "Plans a trip",
        .model = adk::ScriptedLlm::make({three_calls, answer}),
        .instruction = "Check weather, news and flights, then answer.",
        .tools = {adk::FunctionTool::make("get_weather", "Weather of a city", kCitySchema, get_weather),
                  adk::FunctionTool::make("get_news", "News of a city", kCitySchema, get_news),
                  adk::FunctionTool::make("get_flights", "Flights to a city", kCitySchema, get_flights)},
    });
    adk::InMemoryRunner runner(agent, "demo_app");

    bool ok = false;
    aio::run([&]() -> aio::Coro<> {
        start = aio::get_running_loop().time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("Should I go to Paris this weekend?"));
        double calls_at = 0, responses_at = 0;
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            print(*ev);
            if (!ev->function_calls().empty()) calls_at = now();
            if (!ev->function_responses().empty()) responses_at = now();
        }
        ok = responses_at - calls_at < 1.2;  // concurrent: less than the sum
        std::printf("\nthe three tools took %.1fs together; one after another: 0.3 + 0.5 + 0.4 = 1.2s\n",
                    responses_at - calls_at);
    });
    return ok ? 0 : 1;
}
