// A refinement loop: a LoopAgent runs a writer and a reviewer again and
// again. The writer's draft goes to state (output_key "draft"), the reviewer
// reads it through {draft} and either asks for another round or calls the
// built-in exit_loop tool, whose event carries actions.escalate: the loop
// stops there, before max_iterations (ADK's LoopAgent + exit_loop pattern).
#include <chrono>
#include <cstdio>
#include <string>

#include "adk/adk.hpp"
#include "aio/run.hpp"

using namespace std::chrono_literals;

namespace {

adk::ScriptedReply after(std::chrono::milliseconds delay, adk::ScriptedReply reply) {
    reply.delay = delay;
    return reply;
}

void print(const adk::Event& ev, double elapsed) {
    std::printf("[%.1fs] %-8s", elapsed, ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" %s", p.text->c_str());
            if (p.function_call) std::printf(" calls %s()", p.function_call->name.c_str());
            if (p.function_response) std::printf(" %s done", p.function_response->name.c_str());
        }
    if (ev.actions.escalate.value_or(false)) std::printf("   [escalate: leave the loop]");
    std::printf("\n");
}

}  // namespace

int main() {
    auto writer = adk::LlmAgent::make({
        .name = "writer",
        .description = "Drafts and redrafts",
        .model = adk::ScriptedLlm::make({
            after(150ms, adk::ScriptedReply::say("Draft 1: Coroutines are nice.")),
            after(150ms, adk::ScriptedReply::say("Draft 2: Coroutines let one thread wait on many things.")),
            after(150ms, adk::ScriptedReply::say(
                             "Draft 3: One thread, 10,000 waiting coroutines, 1 allocation each.")),
        }),
        .instruction = "Write the draft; improve it after a review.",
        .output_key = "draft",
    });
    auto reviewer = adk::LlmAgent::make({
        .name = "reviewer",
        .description = "Reviews drafts",
        .model = adk::ScriptedLlm::make({
            after(100ms, adk::ScriptedReply::say("Too vague: say what they do.")),
            after(100ms, adk::ScriptedReply::say("Better. Now give numbers.")),
            after(100ms, adk::ScriptedReply::call("exit_loop", adk::Json::object())),
        }),
        .instruction = "Review this draft: {draft}\nIf it is good, call exit_loop.",
        .tools = {adk::exit_loop_tool()},
    });
    const std::size_t max_iterations = 5;
    auto loop_agent = adk::LoopAgent::make("refine", {writer, reviewer}, max_iterations);
    adk::InMemoryRunner runner(loop_agent, "demo_app");

    bool ok = false;
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("A sentence on why coroutines matter."));
        int drafts = 0;
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            if (ev->author == "writer") ++drafts;
            print(*ev, std::chrono::duration<double>(loop.time() - start).count());
        }
        std::optional<adk::Session> saved =
            co_await runner.session_service().get_session("demo_app", "u1", session.id);
        ok = drafts == 3;  // escalate stopped it before max_iterations
        std::printf("\nthe loop ran %d of at most %zu iterations; the final draft (state[\"draft\"]):\n  %s\n",
                    drafts, max_iterations, saved->state.value("draft", std::string()).c_str());
    });
    return ok ? 0 : 1;
}
