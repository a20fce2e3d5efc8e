// Tests for adk::Runner's control of invocations: one invocation per
// session, cancel(), close(), dropped streams and cancelled consumers, and a
// loop that keeps serving while a blocking tool runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "adk/adk.hpp"
#include "support.hpp"
#include "aio/event.hpp"
#include "aio/gather.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
#include "aio/timeout.hpp"

using adk::Content;
using adk::Event;
using adk::Json;
using adk::LlmAgent;
using adk::ScriptedLlm;
using adk::ScriptedReply;
using namespace std::chrono_literals;

namespace {

/// A tool that signals when it starts and then waits for `release`.
struct Gate {
    aio::Event started;
    aio::Event release;
    int finished = 0;
};

std::shared_ptr<adk::FunctionTool> gated_tool(Gate* gate) {
    return adk::FunctionTool::make("work", "Works until released", Json::parse(R"({"type":"object"})"),
                                   [gate](Json) -> aio::Coro<Json> {
                                       gate->started.set();
                                       co_await gate->release.wait();
                                       ++gate->finished;
                                       co_return Json("done");
                                   });
}

aio::Coro<std::vector<Event>> drain(aio::AsyncGenerator<Event> events) {
    std::vector<Event> out;
    while (true) {
        std::optional<Event> ev = co_await events.next();
        if (!ev) break;
        out.push_back(std::move(*ev));
    }
    co_return out;
}

std::size_t live_tasks_besides(const aio::AnyTask& self) {
    std::size_t n = 0;
    for (const aio::AnyTask& t : aio::all_tasks())
        if (!t.done() && t.get_name() != self.get_name()) ++n;
    return n;
}

}  // namespace

TEST(AdkRunnerControl, CancelStopsTheToolAndLeavesAConsistentSession) {
    Gate gate;
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object()), ScriptedReply::say("never")});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {gated_tool(&gate)}});
    adk::InMemoryRunner runner(agent, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", Content::user("go"));
        std::optional<Event> call = co_await events.next();
        EXPECT_EQ(call->function_calls().size(), 1u);
        aio::Task<std::optional<Event>> next = aio::create_task([&]() -> aio::Coro<std::optional<Event>> {
            std::optional<Event> e = co_await events.next();
            co_return e;
        });
        co_await gate.started.wait();
        std::vector<std::string> running = runner.running_invocations();
        EXPECT_EQ(running.size(), 1u);
        EXPECT_TRUE(runner.cancel(running.at(0)));
        EXPECT_FALSE(runner.cancel("e-unknown"));
        bool cancelled = false;
        try {
            co_await next;
        } catch (const adk::InvocationCancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(gate.finished, 0);
        EXPECT_TRUE(runner.running_invocations().empty());
        EXPECT_EQ(live_tasks_besides(*aio::current_task()), 0u);  // no orphan
        std::optional<adk::Session> s = co_await runner.session_service().get_session("app", "u", "s");
        CO_ASSERT_TRUE(s->events.size() == 2u);  // the message and the call; no half-written response
        EXPECT_EQ(s->events[1].function_calls().size(), 1u);
    });
}

TEST(AdkRunnerControl, WaitStoppedReturnsOnceTheCancelledAgentHasUnwound) {
    // A tool whose cancellation cleanup itself waits (for `may_finish`).
    aio::Event started, never, may_finish;
    bool cleaning = false, cleaned = false;
    auto slow_cleanup = adk::FunctionTool::make(
        "work", "Works until cancelled", Json::parse(R"({"type":"object"})"), [&](Json) -> aio::Coro<Json> {
            started.set();
            std::exception_ptr cancelled;
            try {
                co_await never.wait();
            } catch (const aio::CancelledError&) {
                cancelled = std::current_exception();
                cleaning = true;
            }
            if (cancelled) {
                co_await may_finish.wait();
                cleaned = true;
                std::rethrow_exception(cancelled);
            }
            co_return Json("done");
        });
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object()), ScriptedReply::say("never")});
    adk::InMemoryRunner runner(LlmAgent::make({.name = "a", .model = llm, .tools = {slow_cleanup}}), "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", Content::user("go"));
        std::optional<Event> call = co_await events.next();
        aio::Task<std::optional<Event>> consumer = aio::create_task([&]() -> aio::Coro<std::optional<Event>> {
            std::optional<Event> e = co_await events.next();
            co_return e;
        });
        co_await started.wait();
        const std::string id = runner.running_invocations().at(0);

        // Cancelling a waiter leaves the invocation running.
        aio::Task<void> impatient = aio::create_task(runner.wait_stopped(id));
        co_await aio::sleep(0s);
        EXPECT_FALSE(impatient.done());
        impatient.cancel();
        std::exception_ptr waiter_failure = co_await aio_test::failure_of(std::move(impatient));
        EXPECT_TRUE(aio_test::holds<aio::CancelledError>(waiter_failure)) << aio_test::describe(waiter_failure);
        EXPECT_FALSE(cleaning);
        EXPECT_EQ(runner.running_invocations().size(), 1u);

        // After cancel() the agent is still unwinding: the wait lasts until it has.
        EXPECT_TRUE(runner.cancel(id));
        aio::Task<void> waiter = aio::create_task(runner.wait_stopped(id));
        while (!cleaning) co_await aio::sleep(0s);
        EXPECT_FALSE(waiter.done());
        EXPECT_FALSE(cleaned);
        may_finish.set();
        co_await aio::wait_for(waiter, 10s);
        EXPECT_TRUE(cleaned);
        std::exception_ptr consumer_failure = co_await aio_test::failure_of(std::move(consumer));
        EXPECT_TRUE(aio_test::holds<adk::InvocationCancelledError>(consumer_failure))
            << aio_test::describe(consumer_failure);

        // No such invocation (any more): at once.
        co_await aio::timeout(10s, runner.wait_stopped(id));
        co_await aio::timeout(10s, runner.wait_stopped("e-unknown"));
        EXPECT_EQ(live_tasks_besides(*aio::current_task()), 0u);
    });
}

TEST(AdkRunnerControl, ACancelledConsumerCancelsTheWholeInvocation) {
    Gate gate;
    // A parallel agent whose two children both block in tools.
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object())});
    auto c1 = LlmAgent::make({.name = "c1", .model = llm, .tools = {gated_tool(&gate)}});
    auto c2 = LlmAgent::make({.name = "c2", .model = ScriptedLlm::make({ScriptedReply::call("work", Json::object())}),
                              .tools = {gated_tool(&gate)}});
    auto parallel = adk::ParallelAgent::make("both", {c1, c2});
    adk::InMemoryRunner runner(parallel, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        bool timed_out = false;
        try {
            aio::Coro<std::vector<Event>> all = drain(runner.run("u", "s", Content::user("go")));
            co_await aio::timeout(50ms, std::move(all));
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(gate.finished, 0);
        EXPECT_TRUE(runner.running_invocations().empty());
        EXPECT_EQ(live_tasks_besides(*aio::current_task()), 0u);
        std::optional<adk::Session> s = co_await runner.session_service().get_session("app", "u", "s");
        EXPECT_EQ(s->events.size(), 3u);  // the message and both calls
    });
}

TEST(AdkRunnerControl, OneInvocationPerSessionTheSecondWaitsItsTurn) {
    Gate gate;
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object()), ScriptedReply::say("first done"),
                                  ScriptedReply::say("second done")});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {gated_tool(&gate)}});
    adk::InMemoryRunner runner(agent, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::Task<std::vector<Event>> first = aio::create_task(drain(runner.run("u", "s", Content::user("one"))));
        co_await gate.started.wait();
        aio::Task<std::vector<Event>> second = aio::create_task(drain(runner.run("u", "s", Content::user("two"))));
        co_await aio::sleep(10ms);
        EXPECT_FALSE(second.done());  // waiting for the first
        // Failing fast instead of waiting:
        adk::RunConfig impatient;
        impatient.if_session_busy = adk::BusySessionPolicy::fail;
        bool busy = false;
        try {
            co_await drain(runner.run("u", "s", Content::user("three"), impatient));
        } catch (const adk::SessionBusyError&) {
            busy = true;
        }
        EXPECT_TRUE(busy);
        gate.release.set();
        std::vector<Event> a = co_await first;
        std::vector<Event> b = co_await second;
        EXPECT_EQ(a.back().content->text(), "first done");
        EXPECT_EQ(b.back().content->text(), "second done");
        std::optional<adk::Session> s = co_await runner.session_service().get_session("app", "u", "s");
        // Not interleaved: one, call, response, first done, two, second done.
        CO_ASSERT_TRUE(s->events.size() == 6u);
        EXPECT_EQ(s->events[3].content->text(), "first done");
        EXPECT_EQ(s->events[4].content->text(), "two");
    });
}

TEST(AdkRunnerControl, ADroppedStreamCancelsTheAgent) {
    Gate gate;
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object()), ScriptedReply::say("hello")});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {gated_tool(&gate)}});
    adk::InMemoryRunner runner(agent, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        {
            aio::AsyncGenerator<Event> events = runner.run("u", "s", Content::user("go"));
            co_await events.next();  // the call; the tool starts once we ask again
        }
        EXPECT_TRUE(runner.running_invocations().empty());
        // The agent's task was cancelled; it unwinds on the loop's next steps.
        auto deadline = aio::get_running_loop().time() + 10s;
        while (live_tasks_besides(*aio::current_task()) != 0 && aio::get_running_loop().time() < deadline)
            co_await aio::sleep(0ms);
        EXPECT_EQ(live_tasks_besides(*aio::current_task()), 0u);
        EXPECT_EQ(gate.finished, 0);
        // The session is free again.
        adk::RunConfig impatient;
        impatient.if_session_busy = adk::BusySessionPolicy::fail;
        std::vector<Event> again = co_await drain(runner.run("u", "s", Content::user("again"), impatient));
        EXPECT_EQ(again.back().content->text(), "hello");
    });
}

namespace {
class CountingToolset : public adk::BaseToolset {
public:
    explicit CountingToolset(int* closed) : closed_(closed) {}
    aio::Coro<std::vector<std::shared_ptr<adk::BaseTool>>> get_tools(const adk::ReadonlyContext*) override {
        co_return std::vector<std::shared_ptr<adk::BaseTool>>{};
    }
    aio::Coro<> close() override {
        ++*closed_;
        co_return;
    }

private:
    int* closed_;
};
}  // namespace

TEST(AdkRunnerControl, CloseCancelsRunningInvocationsAndClosesEveryToolsetOnce) {
    Gate gate;
    int closed = 0;
    auto toolset = std::make_shared<CountingToolset>(&closed);
    auto llm = ScriptedLlm::make({ScriptedReply::call("work", Json::object())});
    auto child = LlmAgent::make({.name = "child", .model = llm, .tools = {toolset}});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {gated_tool(&gate), toolset}, .sub_agents = {child}});
    adk::InMemoryRunner runner(agent, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::Task<std::vector<Event>> running = aio::create_task(drain(runner.run("u", "s", Content::user("go"))));
        co_await gate.started.wait();
        co_await runner.close();
        bool cancelled = false;
        try {
            co_await running;
        } catch (const adk::InvocationCancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(closed, 1);
        co_await runner.close();  // twice is fine
        EXPECT_EQ(closed, 2);
    });
}

TEST(AdkRunnerControl, ABlockingToolDoesNotStallOtherInvocations) {
    std::atomic<bool> blocking_done{false};
    auto blocking = adk::FunctionTool::make("block", "Blocks its thread", Json::parse(R"({"type":"object"})"),
                                            [&blocking_done](const Json&) -> Json {
                                                std::this_thread::sleep_for(500ms);
                                                blocking_done = true;
                                                return Json("done");
                                            });
    auto slow_llm = ScriptedLlm::make({ScriptedReply::call("block", Json::object()), ScriptedReply::say("slow")});
    auto slow = LlmAgent::make({.name = "slow", .model = slow_llm, .tools = {blocking}});
    auto fast = LlmAgent::make({.name = "fast", .model = ScriptedLlm::make({ScriptedReply::say("fast")})});
    adk::InMemoryRunner slow_runner(slow, "app");
    adk::InMemoryRunner fast_runner(fast, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await slow_runner.session_service().create_session("app", "u", Json::object(), "s");
        co_await fast_runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::Task<std::vector<Event>> slow_run = aio::create_task(drain(slow_runner.run("u", "s", Content::user("x"))));
        co_await aio::sleep(20ms);  // the blocking tool is running on a worker by now (or soon)
        std::vector<Event> fast_events = co_await drain(fast_runner.run("u", "s", Content::user("y")));
        EXPECT_EQ(fast_events.back().content->text(), "fast");
        EXPECT_FALSE(blocking_done.load());  // served while the tool still blocked its thread
        std::vector<Event> slow_events = co_await slow_run;
        EXPECT_EQ(slow_events.back().content->text(), "slow");
    });
}

TEST(AdkRunnerControl, ParallelChildrenWaitUntilTheirEventIsPersistedAndConsumed) {
    // Each child: a tool writes state, then the next model call must see it.
    auto set_tool = adk::FunctionTool::make("set", "Sets a key", Json::parse(R"({"type":"object"})"),
                                            [](Json args, adk::ToolContext& ctx) -> aio::Coro<Json> {
                                                ctx.state().set(args["key"].get<std::string>(), true);
                                                co_return Json::object();
                                            });
    std::vector<std::string> saw;
    auto check = [&saw](adk::CallbackContext& c, adk::LlmRequest&) -> std::optional<adk::LlmResponse> {
        std::string key = c.agent_name() + "_done";
        saw.push_back(key + (c.state().contains(key) ? "=seen" : "=missing"));
        return std::nullopt;
    };
    auto child = [&](std::string name) {
        auto llm = ScriptedLlm::make({ScriptedReply::call("set", {{"key", name + "_done"}}), ScriptedReply::say("ok")});
        return LlmAgent::make({.name = name, .model = llm, .tools = {set_tool}, .before_model_callback = {check}});
    };
    auto parallel = adk::ParallelAgent::make("fan", {child("a"), child("b"), child("c")});
    adk::InMemoryRunner runner(parallel, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", Content::user("go"));
        std::size_t received = 0;
        while (true) {
            std::optional<Event> ev = co_await events.next();
            if (!ev) break;
            ++received;
            // A slow consumer: the children may not run ahead meanwhile.
            co_await aio::sleep(2ms);
            std::size_t stored = runner.session_service().get_session_now("app", "u", "s", {})->events.size();
            EXPECT_EQ(stored, 1 + received);  // the message + exactly what we were given
        }
        EXPECT_EQ(received, 9u);
    });
    // 3 children x 2 model calls; the second call of each saw its own write.
    ASSERT_EQ(saw.size(), 6u);
    int seen = 0;
    for (const std::string& s : saw) seen += s.find("=seen") != std::string::npos;
    EXPECT_EQ(seen, 3);
}

TEST(AdkRunnerControl, StateDeltaRidesOnTheUsersEvent) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("noted")});
    auto agent = LlmAgent::make({.name = "a", .model = llm});
    adk::InMemoryRunner runner(agent, "app");
    aio::run([&]() -> aio::Coro<> {
        Json initial = Json::object();
        initial["kept"] = 1;
        co_await runner.session_service().create_session("app", "u", std::move(initial), "s");
        adk::RunConfig config;
        Json delta = Json::object();
        delta["mood"] = "good";
        config.state_delta = std::move(delta);
        std::vector<Event> events = co_await drain(runner.run("u", "s", Content::user("hi"), config));
        EXPECT_EQ(events.back().content->text(), "noted");
        std::optional<adk::Session> s = co_await runner.session_service().get_session("app", "u", "s");
        CO_ASSERT_TRUE(s && s->events.size() == 2u);
        EXPECT_EQ(s->events[0].author, "user");
        EXPECT_EQ(s->events[0].content->text(), "hi");
        EXPECT_EQ(s->events[0].actions.state_delta["mood"], "good");
        EXPECT_EQ(s->state["mood"], "good");
        EXPECT_EQ(s->state["kept"], 1);
    });
    adk::RunConfig bad;
    bad.state_delta = Json::array();
    EXPECT_THROW((void)runner.run("u", "s", Content::user("hi"), bad), std::invalid_argument);
}
