// A deadline around an invocation: the agent calls a tool that takes 10 s;
// aio::timeout(0.8s, ...) around the consumer cancels it. The cancellation
// reaches the runner's agent task and the tool where they wait; the stream
// ends only once they have unwound, and the session holds only whole events:
// it stays readable, and the next invocation on it runs normally.
// (aio::wait_for(coro, 800ms) does the same for a single awaitable;
// RunConfig::tool_timeout / llm_call_timeout bound one tool or model call
// from inside the invocation instead.)
#include <chrono>
#include <cstdio>
#include <string>

#include "adk/adk.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/timeout.hpp"

using namespace std::chrono_literals;

namespace {

aio::Clock::time_point start;

double now() { return std::chrono::duration<double>(aio::get_running_loop().time() - start).count(); }

// A report generator that takes 10 s: far too slow for our deadline.
aio::Coro<adk::Json> build_report(adk::Json, adk::ToolContext&) {
    std::printf("[%.1fs]   build_report starts (needs 10s)\n", now());
    bool finished = false;
    try {
        co_await aio::sleep(10s);
        finished = true;
    } catch (const aio::CancelledError&) {
        std::printf("[%.1fs]   build_report cancelled while waiting\n", now());
        throw;
    }
    adk::Json r = {{"finished", finished}};
    co_return r;
}

void print(const adk::Event& ev, bool stamp = true) {
    if (stamp) std::printf("[%.1fs] ", now());
    std::printf("%-7s", ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts) {
            if (p.text) std::printf(" %s", p.text->c_str());
            if (p.function_call) std::printf(" calls %s()", p.function_call->name.c_str());
            if (p.function_response) std::printf(" %s -> %s", p.function_response->name.c_str(),
                                                 p.function_response->response.dump().c_str());
        }
    std::printf("\n");
}

// Prints the invocation's events as they come.
aio::Coro<> consume(adk::Runner& runner, std::string session_id, std::string text) {
    auto events = runner.run("u1", std::move(session_id), adk::Content::user(std::move(text)));
    while (true) {
        std::optional<adk::Event> ev = co_await events.next();
        if (!ev) break;
        print(*ev);
    }
}

}  // namespace

int main() {
    adk::ScriptedReply call = adk::ScriptedReply::call("build_report", adk::Json::object());
    call.delay = 200ms;
    adk::ScriptedReply cached = adk::ScriptedReply::say("From yesterday's cache: revenue up 4%.");
    cached.delay = 100ms;
    adk::ScriptedRule summary_rule;
    summary_rule.when_user_says = "summary";
    summary_rule.reply = cached;
    auto agent = adk::LlmAgent::make({
        .name = "analyst",
        .description = "Answers with reports",
        // "summary" in the user's message -> the cached answer; otherwise the slow tool.
        .model = adk::ScriptedLlm::make({call}, {summary_rule}),
        .instruction = "Build the report the user asks for.",
        .tools = {adk::FunctionTool::make("build_report", "Builds the quarterly report",
                                          adk::Json{{"type", "object"}, {"properties", adk::Json::object()}},
                                          build_report)},
    });
    adk::InMemoryRunner runner(agent, "demo_app");

    bool ok = false;
    aio::run([&]() -> aio::Coro<> {
        start = aio::get_running_loop().time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");

        bool timed_out = false;
        try {
            aio::Coro<> first = consume(runner, session.id, "Build the quarterly report.");
            co_await aio::timeout(800ms, std::move(first));
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        std::printf("[%.1fs] %s\n", now(), timed_out ? "TimeoutError: gave up after 0.8s" : "finished in time?!");

        // The session is consistent: the user's message and the function
        // call are stored, nothing half-written for the cancelled tool.
        std::optional<adk::Session> saved =
            co_await runner.session_service().get_session("demo_app", "u1", session.id);
        std::printf("\nsession after the timeout: %zu events\n", saved->events.size());
        for (const adk::Event& e : saved->events) {
            std::printf("  ");
            print(e, false);
        }

        // ... and usable: the next invocation runs (no stuck lock, no orphan task).
        std::printf("\nasking again, for the summary only:\n");
        aio::Coro<> second = consume(runner, session.id, "Then just the summary, please.");
        co_await std::move(second);
        std::optional<adk::Session> after =
            co_await runner.session_service().get_session("demo_app", "u1", session.id);
        ok = timed_out && saved->events.size() == 2 && after->events.size() == 4 &&
             runner.running_invocations().empty();
        std::printf("[%.1fs] done; the runner has %zu invocation(s) running\n", now(),
                    runner.running_invocations().size());
    });
    return ok ? 0 : 1;
}
