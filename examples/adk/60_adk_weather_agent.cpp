// An LlmAgent with a function tool, on ScriptedLlm, through InMemoryRunner:
// the events are printed as they stream (ADK's "weather agent" quickstart).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "adk/adk.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using namespace std::chrono_literals;

namespace {

// The tool: a coroutine, so it runs on the loop (a blocking function would
// be run on aio's thread pool instead).
aio::Coro<adk::Json> get_weather(adk::Json args, adk::ToolContext& ctx) {
    co_await aio::sleep(200ms);  // the weather service
    std::string city = args["city"].get<std::string>();
    ctx.state().set("last_city", city);
    co_return adk::Json{{"city", city}, {"forecast", "sunny"}, {"temperature_c", 24}};
}

void print(const adk::Event& ev, double elapsed) {
    std::printf("[%.1fs] %-8s", elapsed, ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" %s%s", ev.is_partial() ? "(partial) " : "", p.text->c_str());
            if (p.function_call)
                std::printf(" calls %s(%s)", p.function_call->name.c_str(), p.function_call->args.dump().c_str());
            if (p.function_response)
                std::printf(" %s -> %s", p.function_response->name.c_str(),
                            p.function_response->response.dump().c_str());
        }
    if (!ev.actions.state_delta.empty()) std::printf("  state %s", ev.actions.state_delta.dump().c_str());
    if (ev.is_final_response()) std::printf("  [final]");
    std::printf("\n");
}

}  // namespace

int main() {
    // The model: a script. First it asks for the tool, then it answers in
    // three streamed chunks.
    adk::ScriptedReply thinking = adk::ScriptedReply::call("get_weather", {{"city", "Paris"}});
    thinking.delay = 300ms;
    auto model = adk::ScriptedLlm::make(
        {thinking, adk::ScriptedReply::stream({"It is sunny ", "in Paris, ", "24 degrees."}, 100ms)});

    auto weather = adk::LlmAgent::make({
        .name = "weather",
        .description = "Answers questions about the weather",
        .model = model,
        .instruction = "Answer about the weather in {city?}.",
        .tools = {adk::FunctionTool::make("get_weather", "Current weather of a city",
                                          adk::Json::parse(R"({"type": "object",
                                              "properties": {"city": {"type": "string"}},
                                              "required": ["city"]})"),
                                          get_weather)},
        .output_key = "report",
    });
    adk::InMemoryRunner runner(weather, "demo_app");

    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");
        adk::RunConfig config;
        config.streaming_mode = adk::StreamingMode::sse;
        auto events = runner.run("u1", session.id, adk::Content::user("What's the weather in Paris?"), config);
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            print(*ev, std::chrono::duration<double>(loop.time() - start).count());
        }
        std::optional<adk::Session> saved = co_await runner.session_service().get_session("demo_app", "u1", session.id);
        std::cout << "session: " << saved->events.size() << " events, state " << saved->state.dump() << "\n";
    });
}
