// Barrier: filling, draining, reset and abort, cancellation of a waiter —
// ported from CPython's test_locks.BarrierTests.
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/barrier.hpp>
#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int N = 5;

/// Runs `n` tasks of `body` and awaits them all (in creation order).
template <class T>
aio::Coro<std::vector<T>> gather_n(int n, std::function<aio::Coro<T>()> body) {
    std::vector<aio::Task<T>> tasks;
    for (int i = 0; i < n; ++i) tasks.push_back(aio::create_task(body()));
    std::vector<T> results;
    for (auto& t : tasks) {
        T r = co_await t;
        results.push_back(r);
    }
    co_return results;
}

/// asyncio's create_task(barrier.wait()): the awaiter wrapped in a coroutine.
aio::Coro<std::size_t> wait_at(aio::Barrier& barrier) {
    std::size_t index = co_await barrier.wait();
    co_return index;
}

aio::Coro<> gather_void(int n, std::function<aio::Coro<>()> body) {
    std::vector<aio::Task<>> tasks;
    for (int i = 0; i < n; ++i) tasks.push_back(aio::create_task(body()));
    for (auto& t : tasks) co_await t;
}

TEST(Barrier, PartiesMustBePositive) {
    EXPECT_THROW(aio::Barrier(0), std::invalid_argument);
    EXPECT_THROW(aio::Barrier(-4), std::invalid_argument);
    aio::Barrier b(N);
    EXPECT_EQ(b.parties(), static_cast<std::size_t>(N));
    EXPECT_EQ(b.state(), aio::BarrierState::filling);
}

// CPython BarrierTests.test_context_manager / test_filling_tasks_check_return_value.
TEST(Barrier, EachTaskGetsADistinctArrivalIndex) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(3);
        std::function<aio::Coro<std::size_t>()> body = [&]() -> aio::Coro<std::size_t> {
            std::size_t i = co_await barrier.wait();
            co_return i;
        };
        auto results = co_await gather_n<std::size_t>(3, body);
        std::sort(results.begin(), results.end());
        EXPECT_EQ(results, (std::vector<std::size_t>{0, 1, 2}));
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    });
}

// CPython BarrierTests.test_filling_one_task and test_filling_one_task_twice.
TEST(Barrier, OnePartyNeverSuspends) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(1);
        std::size_t a = co_await barrier.wait();
        std::size_t b = co_await barrier.wait();
        EXPECT_EQ(a, 0u);
        EXPECT_EQ(b, 0u);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    });
}

// CPython BarrierTests.test_filling_task_by_task.
TEST(Barrier, CountsArrivalsWhileFilling) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(3);
        auto t1 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 1u);
        auto t2 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 2u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
        auto t3 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.state(), aio::BarrierState::draining);
        co_await t1;
        co_await t2;
        co_await t3;
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
    });
}

// CPython BarrierTests.test_filling_tasks_wait_twice.
TEST(Barrier, IsReusableCycleAfterCycle) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        int first = 0;
        int second = 0;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            co_await barrier.wait();
            ++first;
            co_await barrier.wait();
            EXPECT_EQ(first, N);  // nobody passes the second barrier early
            ++second;
        };
        co_await gather_void(N, body);
        EXPECT_EQ(second, N);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    });
}

// CPython BarrierTests.test_draining_state: every task but the last sees
// the barrier draining; the last one out returns it to filling.
TEST(Barrier, DrainingUntilTheLastTaskLeaves) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        std::vector<bool> draining;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            co_await barrier.wait();
            draining.push_back(barrier.state() == aio::BarrierState::draining);
        };
        co_await gather_void(N, body);
        EXPECT_EQ(draining.size(), static_cast<std::size_t>(N));
        if (draining.size() != static_cast<std::size_t>(N)) co_return;
        // The tripping task returns first and sees draining (others inside);
        // the last one to leave sees filling.
        EXPECT_FALSE(draining.back());
        EXPECT_TRUE(std::all_of(draining.begin(), draining.end() - 1, [](bool d) { return d; }));
    });
}

// CPython BarrierTests.test_blocking_tasks_while_draining: tasks that
// re-enter while the barrier drains wait for the next cycle.
TEST(Barrier, ArrivalsWhileDrainingWaitForTheNextCycle) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        aio::Barrier nowaiting(N - 2);
        int rewait = 2;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            co_await barrier.wait();
            if (rewait > 0) {
                --rewait;
                co_await barrier.wait();  // blocked until draining ends
            } else {
                co_await nowaiting.wait();
                co_await barrier.wait();
            }
        };
        co_await gather_void(N, body);
        EXPECT_EQ(barrier.n_waiting(), 0u);
    });
}

// CPython BarrierTests.test_filling_tasks_cancel_one.
TEST(Barrier, CancelledWaiterLeavesTheBarrier) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(3);
        int passed = 0;
        auto body = [&]() -> aio::Coro<> {
            co_await barrier.wait();
            ++passed;
        };
        auto t1 = aio::create_task(body());
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 1u);
        auto t2 = aio::create_task(body());
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 2u);

        t1.cancel();
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 1u);
        EXPECT_THROW(co_await t1, aio::CancelledError);

        auto t3 = aio::create_task(body());
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 2u);
        auto t4 = aio::create_task(body());
        co_await t2;
        co_await t3;
        co_await t4;
        EXPECT_EQ(passed, 3);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
    });
}

// An arrival blocked while the barrier drains, then cancelled, leaves no
// trace: the next cycle needs a full set of fresh arrivals.
TEST(Barrier, CancelledArrivalBlockedWhileDrainingLeavesNoTrace) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(2);
        auto t1 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        auto t2 = aio::create_task(wait_at(barrier));
        auto t3 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);  // t2 tripped it; t1 woken but not out; t3 blocked
        EXPECT_EQ(barrier.state(), aio::BarrierState::draining);
        t3.cancel();
        EXPECT_THROW(co_await t3, aio::CancelledError);
        std::size_t i1 = co_await t1;
        std::size_t i2 = co_await t2;
        EXPECT_EQ(i1 + i2, 1u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        auto t4 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        EXPECT_EQ(barrier.n_waiting(), 1u);  // t3 did not count
        auto t5 = aio::create_task(wait_at(barrier));
        std::size_t i4 = co_await t4;
        std::size_t i5 = co_await t5;
        EXPECT_EQ(i4, 0u);
        EXPECT_EQ(i5, 1u);
    });
}

// Arrivals blocked while draining are admitted in order once the last task
// of the previous cycle leaves, and one of them may trip the next cycle.
TEST(Barrier, BlockedArrivalsFormTheNextCycleInOrder) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(2);
        auto a = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        auto b = aio::create_task(wait_at(barrier));  // trips
        auto c = aio::create_task(wait_at(barrier));  // blocked
        auto d = aio::create_task(wait_at(barrier));  // blocked
        std::size_t ia = co_await a;
        std::size_t ib = co_await b;
        std::size_t ic = co_await c;
        std::size_t id = co_await d;
        EXPECT_EQ(ia, 0u);
        EXPECT_EQ(ib, 1u);
        EXPECT_EQ(ic, 0u);
        EXPECT_EQ(id, 1u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
    });
}

TEST(Barrier, AbortReachesArrivalsBlockedWhileDraining) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(2);
        auto t1 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);
        auto t2 = aio::create_task(wait_at(barrier));
        auto t3 = aio::create_task(wait_at(barrier));
        co_await aio::sleep(0s);  // t2 tripped and left, t1 not out yet, t3 blocked
        barrier.abort();
        EXPECT_THROW(co_await t3, aio::BrokenBarrierError);
        EXPECT_THROW(co_await t1, aio::BrokenBarrierError);  // read when it runs, as asyncio
        std::size_t i2 = co_await t2;
        EXPECT_EQ(i2, 1u);
        EXPECT_TRUE(barrier.broken());
        barrier.reset();
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
    });
}

// CPython BarrierTests.test_reset_barrier.
TEST(Barrier, ResetOfAnIdleBarrierKeepsItFilling) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(1);
        co_await barrier.reset();  // asyncio spelling
        barrier.reset();           // and the plain call
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_FALSE(barrier.broken());
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
    });
}

// CPython BarrierTests.test_reset_barrier_while_tasks_waiting.
TEST(Barrier, ResetBreaksTheWaitersThenRefills) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        int broken = 0;
        std::vector<aio::Task<>> tasks;
        for (int i = 0; i < N - 1; ++i)
            tasks.push_back(aio::create_task([&]() -> aio::Coro<> {
                try {
                    co_await barrier.wait();
                } catch (const aio::BrokenBarrierError&) {
                    ++broken;
                }
            }));
        co_await aio::sleep(0s);
        barrier.reset();
        EXPECT_EQ(barrier.state(), aio::BarrierState::resetting);
        for (auto& t : tasks) co_await t;
        EXPECT_EQ(broken, N - 1);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
        EXPECT_FALSE(barrier.broken());
    });
}

// CPython BarrierTests.test_reset_barrier_when_tasks_half_draining: tasks
// released by the trip that have not run when reset() comes raise
// BrokenBarrierError (asyncio and threading.Barrier alike).
TEST(Barrier, ResetWhileHalfDrainedBreaksTheTasksNotYetOut) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        int broken = 0;
        int out = 0;
        const int rest = N / 2;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            try {
                co_await barrier.wait();
            } catch (const aio::BrokenBarrierError&) {
                ++broken;
                co_return;
            }
            ++out;
            // The tripping task leaves first, then the woken waiters in order.
            if (N - out == rest) co_await barrier.reset();
        };
        co_await gather_void(N, body);
        EXPECT_EQ(broken, rest);
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_EQ(barrier.state(), aio::BarrierState::filling);
    });
}

// CPython BarrierTests.test_reset_barrier_while_tasks_waiting_and_waiting_again.
TEST(Barrier, WaitersBrokenByResetCanWaitAgain) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        int broken = 0;
        int passed = 0;
        std::vector<aio::Task<>> tasks;
        for (int i = 0; i < N - 1; ++i)
            tasks.push_back(aio::create_task([&]() -> aio::Coro<> {
                try {
                    co_await barrier.wait();
                } catch (const aio::BrokenBarrierError&) {
                    ++broken;
                }
                co_await barrier.wait();
                ++passed;
            }));
        co_await aio::sleep(0s);
        barrier.reset();
        co_await aio::sleep(0s);
        auto last = aio::create_task([&]() -> aio::Coro<> {
            co_await barrier.wait();
            ++passed;
        });
        for (auto& t : tasks) co_await t;
        co_await last;
        EXPECT_EQ(broken, N - 1);
        EXPECT_EQ(passed, N);
        EXPECT_FALSE(barrier.broken());
        EXPECT_EQ(barrier.n_waiting(), 0u);
    });
}

// CPython BarrierTests.test_abort_barrier.
TEST(Barrier, AbortBreaksIt) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(1);
        co_await barrier.abort();
        EXPECT_EQ(barrier.n_waiting(), 0u);
        EXPECT_TRUE(barrier.broken());
        EXPECT_THROW(co_await barrier.wait(), aio::BrokenBarrierError);
    });
}

// CPython BarrierTests.test_abort_barrier_when_exception: one task fails and
// aborts; the others, waiting or arriving later, get BrokenBarrierError.
TEST(Barrier, AbortReleasesEveryWaiterWithBrokenBarrierError) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier(N);
        int passed_second = 0;
        int broken = 0;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            bool failed = false;
            try {
                std::size_t i = co_await barrier.wait();
                if (i == static_cast<std::size_t>(N / 2)) throw std::runtime_error("task failed");
                co_await barrier.wait();
                ++passed_second;
            } catch (const aio::BrokenBarrierError&) {
                ++broken;
            } catch (const std::runtime_error&) {
                failed = true;
            }
            if (failed) barrier.abort();
        };
        co_await gather_void(N, body);
        EXPECT_TRUE(barrier.broken());
        EXPECT_EQ(passed_second, 0);
        EXPECT_EQ(broken, N - 1);
        EXPECT_EQ(barrier.n_waiting(), 0u);
    });
}

// CPython BarrierTests.test_abort_barrier_when_exception_then_resetting.
TEST(Barrier, ResetAfterAbortMakesItUsableAgain) {
    aio::run([]() -> aio::Coro<> {
        aio::Barrier barrier1(N);
        aio::Barrier barrier2(N);
        int broken = 0;
        int passed_third = 0;
        std::function<aio::Coro<>()> body = [&]() -> aio::Coro<> {
            bool failed = false;
            try {
                std::size_t i = co_await barrier1.wait();
                if (i == static_cast<std::size_t>(N / 2)) throw std::runtime_error("task failed");
                co_await barrier1.wait();
            } catch (const aio::BrokenBarrierError&) {
                ++broken;
            } catch (const std::runtime_error&) {
                failed = true;
            }
            if (failed) barrier1.abort();
            // Everyone out of barrier1 before the reset, nobody back in before it.
            std::size_t j = co_await barrier2.wait();
            if (j == static_cast<std::size_t>(N / 2)) barrier1.reset();
            co_await barrier2.wait();
            co_await barrier1.wait();
            ++passed_third;
        };
        co_await gather_void(N, body);
        EXPECT_FALSE(barrier1.broken());
        EXPECT_EQ(broken, N - 1);
        EXPECT_EQ(passed_third, N);
        EXPECT_EQ(barrier1.n_waiting(), 0u);
    });
}

}  // namespace
