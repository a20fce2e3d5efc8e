// Parallel research: three researchers run at once under a ParallelAgent.
// Each one thinks, calls its search tool, then answers; their events are
// streamed as they arrive, interleaved, each on its own branch (a researcher
// does not see its siblings' history). The whole run takes as long as the
// slowest researcher, not the sum (the seed's point: the consumer sees each
// event when it happens, not after everybody has finished).
#include <chrono>
#include <cstdio>
#include <string>

#include "adk/adk.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using namespace std::chrono_literals;

namespace {

// The search backend: a coroutine tool (runs on the loop) whose latency is
// part of the request, so each researcher waits a different time.
aio::Coro<adk::Json> search(adk::Json args, adk::ToolContext&) {
    co_await aio::sleep(std::chrono::milliseconds(args.at("latency_ms").get<int>()));
    adk::Json hits = {{"hits", 3}, {"source", args.at("source")}};
    co_return hits;
}

std::shared_ptr<adk::BaseTool> search_tool() {
    return adk::FunctionTool::make("search", "Searches one source",
                                   adk::Json::parse(R"({"type": "object",
                                       "properties": {"source": {"type": "string"},
                                                      "latency_ms": {"type": "integer"}},
                                       "required": ["source", "latency_ms"]})"),
                                   search);
}

struct Plan {
    const char* name;
    std::chrono::milliseconds think, search, write;
    const char* finding;
};

adk::AgentPtr researcher(const Plan& p) {
    adk::ScriptedReply call = adk::ScriptedReply::call(
        "search", {{"source", p.name}, {"latency_ms", std::chrono::milliseconds(p.search).count()}});
    call.delay = p.think;
    adk::ScriptedReply answer = adk::ScriptedReply::say(p.finding);
    answer.delay = p.write;
    return adk::LlmAgent::make({
        .name = p.name,
        .description = std::string("Researches ") + p.name,
        .model = adk::ScriptedLlm::make({call, answer}),
        .instruction = "Search your source, then summarize.",
        .tools = {search_tool()},
    });
}

void print(const adk::Event& ev, double elapsed) {
    std::printf("[%.1fs] %-7s", elapsed, ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" says: %s", p.text->c_str());
            if (p.function_call) std::printf(" calls search(%s)", p.function_call->args.dump().c_str());
            if (p.function_response) std::printf(" search -> %s", p.function_response->response.dump().c_str());
        }
    std::printf("   (branch %s)\n", ev.branch.value_or("-").c_str());
}

}  // namespace

int main() {
    const Plan plans[] = {
        {"web", 100ms, 300ms, 100ms, "Blogs agree: coroutines made async C++ readable."},
        {"papers", 200ms, 500ms, 100ms, "P0057 introduced co_await; frames are heap-allocated."},
        {"news", 150ms, 200ms, 150ms, "GCC 12 and Clang 16 both ship C++20 coroutines."},
    };
    double sum = 0;
    for (const Plan& p : plans) sum += std::chrono::duration<double>(p.think + p.search + p.write).count();

    auto research = adk::ParallelAgent::make("research", {researcher(plans[0]), researcher(plans[1]), researcher(plans[2])});
    adk::InMemoryRunner runner(research, "demo_app");

    bool ok = false;
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("What is new in C++ coroutines?"));
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            print(*ev, std::chrono::duration<double>(loop.time() - start).count());
        }
        double elapsed = std::chrono::duration<double>(loop.time() - start).count();
        ok = elapsed < sum;  // they overlapped (a loaded machine only stretches both)
        std::printf("\n3 researchers: %.1fs of work one after another, %.1fs together (the slowest is 0.8s)\n",
                    sum, elapsed);
    });
    return ok ? 0 : 1;
}
