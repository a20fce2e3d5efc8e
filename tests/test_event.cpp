// Event: set/clear/wait (ported from CPython's test_locks.EventTests),
// cancellation, and the thread rules.
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/event.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// CPython EventTests.test_wait: set() wakes every waiter, in order; a task
// that calls wait() after set() returns without suspending.
TEST(Event, SetWakesAllWaitersInOrder) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        EXPECT_FALSE(ev.is_set());
        std::vector<int> result;
        auto waiter = [&](int id) -> aio::Coro<> {
            co_await ev.wait();
            result.push_back(id);
        };
        auto t1 = aio::create_task(waiter(1));
        auto t2 = aio::create_task(waiter(2));
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());
        EXPECT_EQ(ev.num_waiters(), 2u);

        auto t3 = aio::create_task(waiter(3));
        ev.set();
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{3, 1, 2}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        EXPECT_EQ(ev.num_waiters(), 0u);
    });
}

TEST(Event, WaitOnASetEventDoesNotSuspend) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        ev.set();
        std::vector<std::string> log;
        auto other = aio::create_task([&]() -> aio::Coro<> {
            log.push_back("other");
            co_return;
        });
        co_await ev.wait();  // no suspension: `other` has not run yet
        log.push_back("main");
        co_await other;
        EXPECT_EQ(log, (std::vector<std::string>{"main", "other"}));
    });
}

// CPython EventTests.test_wait_cancel.
TEST(Event, CancelledWaitLeavesNoWaiter) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        auto wait = aio::create_task([&]() -> aio::Coro<> { co_await ev.wait(); });
        aio::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
        EXPECT_THROW(co_await wait, aio::CancelledError);
        EXPECT_EQ(ev.num_waiters(), 0u);
        EXPECT_FALSE(ev.is_set());
    });
}

TEST(Event, ClearLowersTheFlag) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        ev.set();
        EXPECT_TRUE(ev.is_set());
        ev.clear();
        EXPECT_FALSE(ev.is_set());
        co_return;
    });
}

// CPython EventTests.test_clear_with_waiters: a waiter woken by set() still
// returns when clear() follows before it runs.
TEST(Event, WokenWaiterReturnsEvenIfClearedBeforeItRuns) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        std::vector<int> result;
        auto t = aio::create_task([&]() -> aio::Coro<> {
            co_await ev.wait();
            result.push_back(1);
        });
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());

        ev.set();
        ev.clear();
        EXPECT_FALSE(ev.is_set());
        ev.set();
        ev.set();
        EXPECT_EQ(ev.num_waiters(), 0u);  // already woken by the first set()

        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_TRUE(t.done());
    });
}

TEST(Event, WaitAfterClearSuspendsUntilTheNextSet) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        ev.set();
        ev.clear();
        bool returned = false;
        auto t = aio::create_task([&]() -> aio::Coro<> {
            co_await ev.wait();
            returned = true;
        });
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        EXPECT_FALSE(returned);
        ev.set();
        co_await t;
        EXPECT_TRUE(returned);
    });
}

// Cancelled after set() woke it but before it ran: it raises, and the flag
// (the only state) is untouched for everyone else.
TEST(Event, CancelledAfterWakeUpRaisesAndKeepsTheFlag) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        auto a = aio::create_task([&]() -> aio::Coro<> { co_await ev.wait(); });
        auto b = aio::create_task([&]() -> aio::Coro<> { co_await ev.wait(); });
        co_await aio::sleep(0s);
        ev.set();
        a.cancel();
        EXPECT_THROW(co_await a, aio::CancelledError);
        co_await b;
        EXPECT_TRUE(ev.is_set());
    });
}

TEST(Event, ManyWaitersAndRepeatedCycles) {
    aio::run([]() -> aio::Coro<> {
        aio::Event go;
        aio::Event done;
        int woke = 0;
        std::vector<aio::Task<>> tasks;
        for (int i = 0; i < 100; ++i)
            tasks.push_back(aio::create_task([&]() -> aio::Coro<> {
                for (int round = 0; round < 3; ++round) {
                    co_await go.wait();
                    ++woke;
                    co_await done.wait();
                }
            }));
        for (int round = 0; round < 3; ++round) {
            co_await aio::sleep(0s);
            done.clear();
            go.set();
            co_await aio::sleep(0s);
            EXPECT_EQ(woke, 100 * (round + 1));
            go.clear();
            done.set();
        }
        for (auto& t : tasks) co_await t;
    });
}

TEST(Event, SetThroughCallSoonThreadsafeWakesTheWaiter) {
    aio::run([]() -> aio::Coro<> {
        aio::Event ev;
        auto& loop = aio::get_running_loop();
        std::thread other([&] { loop.call_soon_threadsafe([&] { ev.set(); }); });
        co_await ev.wait();
        other.join();
        EXPECT_TRUE(ev.is_set());
    });
}

TEST(Event, DebugModeRejectsSetFromAnotherThread) {
    aio::run(
        []() -> aio::Coro<> {
            aio::Event ev;
            ev.clear();  // first use inside the loop binds the event
            std::string error;
            std::thread other([&] {
                try {
                    ev.set();
                } catch (const aio::RuntimeError& e) {
                    error = e.what();
                }
            });
            other.join();
            EXPECT_NE(error.find("not thread-safe"), std::string::npos) << error;
            EXPECT_FALSE(ev.is_set());
            co_return;
        },
        aio::RunOptions{.debug = true});
}

TEST(Event, UseOutsideAnyLoopOnTheSameThreadIsFine) {
    aio::Event ev;
    ev.set();  // before any loop: not bound
    aio::run([&]() -> aio::Coro<> { co_await ev.wait(); });
    ev.clear();  // after the loop, same thread
    EXPECT_FALSE(ev.is_set());
}

}  // namespace
