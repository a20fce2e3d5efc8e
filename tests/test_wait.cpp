// aio::wait and aio::as_completed: ports of the wait / as_completed cases of
// CPython's test_tasks.py (test_wait, test_wait_first_completed,
// test_wait_first_exception*, test_wait_with_timeout, test_as_completed*).
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/log.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
#include "aio/wait.hpp"

#include "support.hpp"

using namespace std::chrono_literals;


namespace {

using aio_test::CapturedLog;


aio::Coro<int> value_after(int v, aio::Clock::duration d) {
    co_await aio::sleep(d);
    co_return v;
}

aio::Coro<int> fail_after(aio::Clock::duration d) {
    co_await aio::sleep(d);
    throw std::runtime_error("fail");
}

aio::Clock::time_point now() { return aio::get_running_loop().time(); }

}  // namespace

// --- wait --------------------------------------------------------------------------

TEST(Wait, AllCompleted) {
    aio::run([]() -> aio::Coro<> {
        auto t0 = now();
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 20ms)), aio::create_task(value_after(2, 10ms))};
        auto [done, pending] = co_await aio::wait(tasks);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_TRUE(pending.empty());
        EXPECT_GE(now() - t0, 20ms);
        // Input order.
        CO_ASSERT_TRUE(done.size() == 2u);
        EXPECT_EQ(done[0].result(), 1);
        EXPECT_EQ(done[1].result(), 2);
        // Waiting again on done tasks returns at once.
        auto again = co_await aio::wait(tasks, aio::ALL_COMPLETED);
        EXPECT_EQ(again.done.size(), 2u);
    });
}

TEST(Wait, FirstCompleted) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 10s)), aio::create_task(value_after(2, 10ms)),
                                          aio::create_task(value_after(3, 10s))};
        auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_COMPLETED);
        CO_ASSERT_TRUE(done.size() == 1u);
        EXPECT_EQ(done[0].result(), 2);
        EXPECT_EQ(pending.size(), 2u);
        // wait never cancels: the pending ones still run.
        for (auto& t : pending) EXPECT_FALSE(t.done());
        for (auto& t : pending) t.cancel();
    });
}

TEST(Wait, FirstCompletedSeveralInOneIteration) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> a = loop.create_future<int>(), b = loop.create_future<int>(), c = loop.create_future<int>();
        loop.call_soon([a, b]() mutable {
            a.set_result(1);
            b.set_result(2);
        });
        std::vector<aio::Future<int>> futs{a, b, c};
        auto [done, pending] = co_await aio::wait(futs, aio::FIRST_COMPLETED);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_EQ(pending.size(), 1u);
    });
}

TEST(Wait, FirstException) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 10s)), aio::create_task(fail_after(10ms)),
                                          aio::create_task(value_after(3, 1ms))};
        auto t0 = now();
        auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_EXCEPTION);
        EXPECT_LT(now() - t0, 5s);
        EXPECT_EQ(done.size(), 2u);  // the quick success and the failure
        EXPECT_EQ(pending.size(), 1u);
        EXPECT_TRUE(tasks[1].exception() != nullptr);
        for (auto& t : pending) t.cancel();
    });
}

// CPython: test_wait_first_exception_in_wait — an already failed task.
TEST(Wait, FirstExceptionAlreadyFailed) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> failed = aio::create_task(fail_after(0s));
        co_await aio::sleep(1ms);
        CO_ASSERT_TRUE(failed.done());
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 10s)), failed};
        auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_EXCEPTION);
        EXPECT_EQ(done.size(), 1u);
        EXPECT_EQ(pending.size(), 1u);
        EXPECT_TRUE(failed.exception() != nullptr);
        for (auto& t : pending) t.cancel();
    });
}

// A cancelled task is not an exception for FIRST_EXCEPTION (asyncio).
TEST(Wait, FirstExceptionIgnoresCancellation) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> a = aio::create_task(value_after(1, 10s));
        aio::Task<int> b = aio::create_task(value_after(2, 30ms));
        aio::get_running_loop().call_later(5ms, [a]() mutable { a.cancel(); });
        std::vector<aio::Task<int>> tasks{a, b};
        auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_EXCEPTION);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_TRUE(pending.empty());
    });
}

TEST(Wait, TimeoutReturnsWithoutCancelling) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 1ms)), aio::create_task(value_after(2, 10s))};
        auto t0 = now();
        auto [done, pending] = co_await aio::wait(tasks, aio::ALL_COMPLETED, 30ms);
        EXPECT_GE(now() - t0, 30ms);
        EXPECT_LT(now() - t0, 5s);
        EXPECT_EQ(done.size(), 1u);
        CO_ASSERT_TRUE(pending.size() == 1u);
        EXPECT_FALSE(pending[0].done());
        EXPECT_FALSE(pending[0].cancelled());
        pending[0].cancel();
        auto r2 = co_await aio::wait(pending, 0.5);  // ALL_COMPLETED with a double timeout
        EXPECT_EQ(r2.done.size(), 1u);
    });
}

TEST(Wait, ZeroTimeoutPolls) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 10s))};
        auto [done, pending] = co_await aio::wait(tasks, aio::FIRST_COMPLETED, 0s);
        EXPECT_TRUE(done.empty());
        EXPECT_EQ(pending.size(), 1u);
        tasks[0].cancel();
    });
}

TEST(Wait, EmptyIsAnError) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> none;
        EXPECT_THROW((void)aio::wait(none), std::invalid_argument);
        co_return;
    });
}

TEST(Wait, MixedTasksAsAnyTask) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> a = aio::create_task(value_after(1, 1ms));
        aio::Task<std::string> b = aio::create_task([]() -> aio::Coro<std::string> {
            co_await aio::sleep(2ms);
            co_return "b";
        });
        std::vector<aio::AnyTask> all{a, b};
        auto [done, pending] = co_await aio::wait(all);
        EXPECT_EQ(done.size(), 2u);
        EXPECT_EQ(b.result(), "b");
    });
}

// Cancelling the waiter leaves the tasks alone.
TEST(Wait, CancelledWaitLeavesTasksRunning) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 30ms))};
        auto waiter = [&]() -> aio::Coro<> { co_await aio::wait(tasks); };
        aio::Task<> w = aio::create_task(waiter());
        co_await aio::sleep(1ms);
        w.cancel();
        bool cancelled = false;
        try {
            co_await w;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(tasks[0].done());
        int v = co_await tasks[0];
        EXPECT_EQ(v, 1);
    });
}

// --- as_completed ------------------------------------------------------------

TEST(AsCompleted, CompletionOrder) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Coro<int>> coros;
        coros.push_back(value_after(3, 60ms));
        coros.push_back(value_after(1, 10ms));
        coros.push_back(value_after(2, 30ms));
        auto it = aio::as_completed(std::move(coros));
        std::vector<int> got;
        while (auto t = co_await it.next()) {
            int v = co_await *t;
            got.push_back(v);
        }
        EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
        EXPECT_EQ(it.remaining(), 0u);
        auto after = co_await it.next();
        EXPECT_FALSE(after.has_value());
    });
}

TEST(AsCompleted, TasksAndFailuresAreHandedOut) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(fail_after(5ms)), aio::create_task(value_after(1, 20ms))};
        auto it = aio::as_completed(tasks);
        auto first = co_await it.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_TRUE(*first == tasks[0]);
        EXPECT_THROW(first->result(), std::runtime_error);
        auto second = co_await it.next();
        CO_ASSERT_TRUE(second.has_value());
        EXPECT_EQ(second->result(), 1);
    });
}

// CPython: test_as_completed_with_timeout.
TEST(AsCompleted, OverallTimeout) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Coro<int>> coros;
        coros.push_back(value_after(1, 10ms));
        coros.push_back(value_after(2, 10s));
        auto t0 = now();
        auto it = aio::as_completed(std::move(coros), 50ms);
        auto first = co_await it.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(first->result(), 1);
        bool timed_out = false;
        try {
            co_await it.next();
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_GE(now() - t0, 50ms);
        EXPECT_LT(now() - t0, 5s);
        // Further calls keep raising.
        bool again = false;
        try {
            co_await it.next();
        } catch (const aio::TimeoutError&) {
            again = true;
        }
        EXPECT_TRUE(again);
    });
}

// Finished before the deadline but not yet taken: handed out first.
TEST(AsCompleted, FinishedBeforeDeadlineHandedOutAfterIt) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Coro<int>> coros;
        coros.push_back(value_after(1, 1ms));
        coros.push_back(value_after(2, 10s));
        auto it = aio::as_completed(std::move(coros), 20ms);
        co_await aio::sleep(40ms);  // past the deadline
        auto first = co_await it.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(first->result(), 1);
        bool timed_out = false;
        try {
            co_await it.next();
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
    });
}

// The tasks as_completed made from coroutines and never handed out are
// cancelled when it goes away; tasks passed in are not.
TEST(AsCompleted, OwnedTasksCancelledOnDestruction) {
    aio::run([]() -> aio::Coro<> {
        bool cancelled = false;
        auto slow = [&]() -> aio::Coro<int> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
                cancelled = true;
                throw;
            }
            co_return 0;
        };
        aio::Task<int> mine = aio::create_task(value_after(5, 30ms));
        {
            std::vector<aio::Coro<int>> coros;
            coros.push_back(slow());
            auto it = aio::as_completed(std::move(coros));
            std::vector<aio::Task<int>> passed{mine};
            auto it2 = aio::as_completed(passed);
            co_await aio::sleep(1ms);
        }
        co_await aio::sleep(1ms);
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(mine.done());
        int v = co_await mine;
        EXPECT_EQ(v, 5);
    });
}

TEST(AsCompleted, CancelledNextLosesNothing) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 20ms))};
        auto it = aio::as_completed(tasks);
        auto waiter = [&]() -> aio::Coro<> { co_await it.next(); };
        aio::Task<> w = aio::create_task(waiter());
        co_await aio::sleep(1ms);
        w.cancel();
        bool cancelled = false;
        try {
            co_await w;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        auto t = co_await it.next();
        CO_ASSERT_TRUE(t.has_value());
        EXPECT_EQ(t->result(), 1);
    });
}

TEST(AsCompleted, Futures) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> a = loop.create_future<int>(), b = loop.create_future<int>();
        b.set_result(2);
        loop.call_later(5ms, [a]() mutable { a.set_result(1); });
        std::vector<aio::Future<int>> futs{a, b};
        auto it = aio::as_completed(futs);
        std::vector<int> got;
        while (auto f = co_await it.next()) got.push_back(f->result());
        EXPECT_EQ(got, (std::vector<int>{2, 1}));
    });
}

// The loop closes while wait / as_completed wait: frames destroyed unresumed,
// nodes and timers unlinked (checked under ASan).
TEST(Wait, LoopClosedWhileWaiting) {
    CapturedLog log;
    aio::EventLoop loop;
    loop.run_until_complete([]() -> aio::Coro<> {
        auto waiter = []() -> aio::Coro<> {
            std::vector<aio::Task<int>> tasks{aio::create_task(value_after(1, 10s))};
            co_await aio::wait(tasks, aio::ALL_COMPLETED, 5s);
        };
        auto iterating = []() -> aio::Coro<> {
            std::vector<aio::Coro<int>> coros;
            coros.push_back(value_after(1, 10s));
            auto it = aio::as_completed(std::move(coros), 5s);
            co_await it.next();
        };
        aio::create_task(waiter());
        aio::create_task(iterating());
        co_await aio::sleep(1ms);
    }());
    loop.close();
    EXPECT_GT(log.count("destroyed but it is pending"), 0u);
}
