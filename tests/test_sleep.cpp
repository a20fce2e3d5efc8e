// sleep: durations through the loop clock and sleep(0)'s exact yield.
#include <string>

#include "support.hpp"

using namespace aio_test;

namespace {

TEST(Sleep, WaitsAtLeastTheDelay) {
    aio::run([]() -> aio::Coro<> {
        auto start = aio::get_running_loop().time();
        co_await aio::sleep(30ms);
        EXPECT_GE(since(start), 0.030);
        auto again = aio::get_running_loop().time();
        co_await aio::sleep(0.02);
        EXPECT_GE(since(again), 0.020);
        co_await aio::sleep(-5s);  // negative counts as zero
    });
}

TEST(Sleep, ZeroYieldsExactlyOnceBehindReadyWork) {
    // Ordering as asyncio: sleep(0) puts the task at the back of the ready
    // queue, after callbacks already scheduled, before those scheduled later.
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> log;
        auto& loop = aio::get_running_loop();
        loop.call_soon([&] { log.push_back("soon-1"); });
        auto other = aio::create_task([&log]() -> aio::Coro<> {
            log.push_back("task-step-1");
            co_await aio::sleep(0s);
            log.push_back("task-step-2");
        });
        loop.call_soon([&] { log.push_back("soon-2"); });
        log.push_back("before-yield");
        co_await aio::sleep(0s);
        log.push_back("after-yield-1");
        co_await aio::sleep(0s);
        log.push_back("after-yield-2");
        co_await other;
        EXPECT_EQ(log, (std::vector<std::string>{"before-yield", "soon-1", "task-step-1", "soon-2", "after-yield-1",
                                                 "task-step-2", "after-yield-2"}));
    });
}

TEST(Sleep, ShorterSleepWakesFirst) {
    aio::run([]() -> aio::Coro<> {
        std::vector<int> order;
        auto sleeper = [&order](int id, std::chrono::milliseconds d) -> aio::Coro<> {
            co_await aio::sleep(d);
            order.push_back(id);
        };
        auto a = aio::create_task(sleeper(3, 30ms));
        auto b = aio::create_task(sleeper(1, 10ms));
        auto c = aio::create_task(sleeper(2, 20ms));
        co_await a;
        co_await b;
        co_await c;
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    });
}

TEST(Sleep, CancelledSleepLeavesNoTimer) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<>> tasks;
        for (int i = 0; i < 100; ++i)
            tasks.push_back(aio::create_task([]() -> aio::Coro<> { co_await aio::sleep(1h); }));
        co_await aio::sleep(0s);
        for (auto& t : tasks) t.cancel();
        for (auto& t : tasks) EXPECT_THROW(co_await t, aio::CancelledError);
        // With the timers gone the loop would block in epoll; a 1 ms sleep
        // returning promptly shows nothing stale is left in front of it.
        auto start = aio::get_running_loop().time();
        co_await aio::sleep(1ms);
        EXPECT_LT(since(start), 5.0);
    });
}

}  // namespace
