// Async call graphs: frames of nested coroutines, tasks awaiting tasks, the
// formatted dump. Lines are asserted exactly: the graph must point at the
// co_await where each frame waits.
#include <csignal>
#include <string>

#include <unistd.h>

#include "support.hpp"

using namespace aio_test;

// Outside the anonymous namespace so the names read plainly.
constexpr std::uint32_t line_here(std::source_location l = std::source_location::current()) { return l.line(); }

std::uint32_t leaf_line = 0, middle_line = 0, outer_line = 0;
std::uint32_t waiter_line = 0;

aio::Coro<int> leaf(aio::Future<int> gate) {
    leaf_line = line_here() + 1;
    int v = co_await gate;
    co_return v;
}

aio::Coro<int> middle(aio::Future<int> gate) {
    middle_line = line_here() + 1;
    int v = co_await leaf(gate);
    co_return v + 1;
}

aio::Coro<int> outer(aio::Future<int> gate) {
    outer_line = line_here() + 1;
    int v = co_await middle(gate);
    co_return v + 1;
}

aio::Coro<int> waits_for(aio::Task<int> t) {
    waiter_line = line_here() + 1;
    int v = co_await t;
    co_return v;
}

namespace {

TEST(CallGraph, NestedCoroutinesInnermostFirst) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> gate;
        auto t = aio::create_task(outer(gate), "worker");
        co_await aio::sleep(0s);
        auto g = aio::capture_call_graph(t);
        CO_ASSERT_TRUE(g.has_value());
        CO_ASSERT_TRUE(g->call_stack.size() == 3u);
        EXPECT_EQ(g->call_stack[0].function, "leaf");
        EXPECT_EQ(g->call_stack[0].line, leaf_line);
        EXPECT_EQ(g->call_stack[1].function, "middle");
        EXPECT_EQ(g->call_stack[1].line, middle_line);
        EXPECT_EQ(g->call_stack[2].function, "outer");
        EXPECT_EQ(g->call_stack[2].line, outer_line);
        EXPECT_NE(g->call_stack[0].file.find("test_call_graph.cpp"), std::string::npos);
        EXPECT_TRUE(g->awaited_by.empty());
        gate.set_result(1);
        int v = co_await t;
        EXPECT_EQ(v, 3);
        EXPECT_FALSE(aio::capture_call_graph(t).has_value());  // done
    });
}

TEST(CallGraph, TaskAwaitedByTask) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> gate;
        auto inner = aio::create_task(outer(gate), "inner");
        auto waiter = aio::create_task(waits_for(inner), "waiter");
        co_await aio::sleep(0s);
        auto g = aio::capture_call_graph(inner);
        CO_ASSERT_TRUE(g.has_value());
        CO_ASSERT_TRUE(g->awaited_by.size() == 1u);
        const aio::CallGraph& w = g->awaited_by[0];
        EXPECT_EQ(w.task.get_name(), "waiter");
        CO_ASSERT_TRUE(w.call_stack.size() == 1u);
        EXPECT_EQ(w.call_stack[0].function, "waits_for");
        EXPECT_EQ(w.call_stack[0].line, waiter_line);

        std::string text = aio::format_call_graph(*g);
        EXPECT_NE(text.find("* Task(name='inner', id=0x"), std::string::npos) << text;
        EXPECT_NE(text.find("  + Call stack:\n  |   File '"), std::string::npos) << text;
        EXPECT_NE(text.find("line " + std::to_string(leaf_line) + ", in leaf\n"), std::string::npos) << text;
        EXPECT_NE(text.find("  + Awaited by:\n     * Task(name='waiter'"), std::string::npos) << text;
        EXPECT_NE(text.find("in waits_for\n"), std::string::npos) << text;

        std::string all = aio::format_all_call_graphs(aio::get_running_loop());
        EXPECT_NE(all.find("pending task(s)"), std::string::npos);
        EXPECT_NE(all.find("name='inner'"), std::string::npos);
        EXPECT_NE(all.find("name='waiter'"), std::string::npos);
        gate.set_result(1);
        co_await waiter;
    });
}

aio::Coro<std::optional<aio::CallGraph>> graph_of_current_task() {
    co_return aio::capture_call_graph();
}

TEST(CallGraph, CurrentTaskAndLambdas) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(
            []() -> aio::Coro<> {
                const std::uint32_t line = line_here() + 1;
                auto g = co_await graph_of_current_task();
                CO_ASSERT_TRUE(g.has_value());
                EXPECT_EQ(g->task.get_name(), "lambda-task");
                // The running frame has no suspension point yet; the lambda
                // awaiting it is listed at its co_await. aio's own wrapper
                // frame (the callable run in the task) is left out.
                CO_ASSERT_TRUE(g->call_stack.size() == 1u);
                EXPECT_EQ(g->call_stack[0].line, line);
                EXPECT_NE(g->call_stack[0].function.find("<lambda>"), std::string::npos) << g->call_stack[0].function;
            },
            "lambda-task");
        co_await t;
    });
    EXPECT_FALSE(aio::capture_call_graph().has_value());  // no task
}

TEST(CallGraph, CoroutineNames) {
    EXPECT_EQ(aio::coroutine_name("aio::Coro<int> ns::fetch(std::string)"), "ns::fetch");
    EXPECT_EQ(aio::coroutine_name("aio::Coro<std::map<int, int> > fetch(int)"), "fetch");
    EXPECT_EQ(aio::coroutine_name("void leaf(leaf(aio::Future<int>)::_Z4leafN3aio6FutureIiEE.Frame*)"), "leaf");
    EXPECT_EQ(aio::coroutine_name("ns::f(int)::<lambda()>"), "ns::f::<lambda>");
    EXPECT_EQ(aio::coroutine_name("auto T::TestBody()::(anonymous class)::operator()() const"), "T::TestBody::<lambda>");
    EXPECT_EQ(aio::coroutine_name(""), "");
}

}  // namespace

namespace {

TEST(CallGraph, SigusrDumpsEveryPendingTask) {
    std::string dumped;
    auto previous = aio::set_log_handler([&](aio::LogLevel, std::string_view msg) { dumped += msg; });
    aio::run([&dumped]() -> aio::Coro<> {
        aio::Future<int> gate;
        auto stuck = aio::create_task(outer(gate), "stuck-worker");
        co_await aio::sleep(0s);
        ::kill(::getpid(), SIGUSR1);  // as `kill -USR1 <pid>` would from outside
        // The signal arrives through the loop's signalfd within a few
        // iterations; wait on the loop clock with a generous bound.
        auto start = aio::get_running_loop().time();
        while (aio::get_running_loop().time() - start < 10s) {
            co_await aio::sleep(5ms);
            if (!dumped.empty()) break;
        }
        stuck.cancel();
    });
    aio::set_log_handler(std::move(previous));
    EXPECT_NE(dumped.find("pending task(s)"), std::string::npos) << dumped;
    EXPECT_NE(dumped.find("* Task(name='stuck-worker'"), std::string::npos) << dumped;
    EXPECT_NE(dumped.find("in leaf\n"), std::string::npos) << dumped;
}

TEST(CallGraph, SignalDumpCanBeTurnedOff) {
    aio::run(
        []() -> aio::Coro<> {
            // With the dump off the signal keeps its default action; ignore
            // it here so the test process survives.
            std::signal(SIGUSR1, SIG_IGN);
            ::kill(::getpid(), SIGUSR1);
            co_await aio::sleep(1ms);
            std::signal(SIGUSR1, SIG_DFL);
        },
        aio::RunOptions{.call_graph_signal = 0});
    SUCCEED();
}

}  // namespace

namespace {

TEST(CallGraph, TaskGroupChildIsAwaitedByTheTaskRunningTheGroup) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> gate;
        std::uint32_t group_line = 0;
        auto parent = aio::create_task(
            [&gate, &group_line]() -> aio::Coro<> {
                group_line = line_here() + 1;
                co_await aio::task_group([&gate](aio::TaskGroup& tg) -> aio::Coro<> {
                    tg.create_task(outer(gate), "child");
                    co_return;
                });
            },
            "parent");
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        std::optional<aio::AnyTask> child;
        for (auto& t : aio::all_tasks())
            if (t.get_name() == "child") child = t;
        CO_ASSERT_TRUE(child.has_value());
        auto g = aio::capture_call_graph(*child);
        CO_ASSERT_TRUE(g.has_value());
        CO_ASSERT_TRUE(g->call_stack.size() == 3u);
        EXPECT_EQ(g->call_stack[0].line, leaf_line);
        EXPECT_EQ(g->call_stack[2].function, "outer");
        CO_ASSERT_TRUE(g->awaited_by.size() == 1u);
        const aio::CallGraph& p = g->awaited_by[0];
        EXPECT_EQ(p.task.get_name(), "parent");
        // A co_await spanning lines is reported at its first (clang) or last
        // (g++) line.
        bool at_group_line = false;
        for (const auto& f : p.call_stack) at_group_line = at_group_line || (f.line >= group_line && f.line <= group_line + 3);
        EXPECT_TRUE(at_group_line) << aio::format_call_graph(*g);
        gate.set_result(1);
        co_await parent;
    });
}

}  // namespace
