// Condition: wait/notify over its lock, wait_for, and cancellation at both
// waits (for the notification, for the lock) — ported from CPython's
// test_locks.ConditionTests, including notify with cancelled waiters.
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/condition.hpp>
#include <chrono>
#include <deque>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::Coro<> yield_n(int n) {
    for (int i = 0; i < n; ++i) co_await aio::sleep(0s);
}

// CPython ConditionTests.test_wait: notified waiters run one at a time, each
// only once it has re-acquired the lock.
TEST(Condition, NotifiedWaitersReacquireTheLockInTurn) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        std::vector<int> result;
        auto waiter = [&](int id) -> aio::Coro<bool> {
            auto guard = co_await cond.acquire();
            co_await cond.wait();
            result.push_back(id);
            guard.detach();  // keep the lock: main releases by hand
            co_return true;
        };
        auto t1 = aio::create_task(waiter(1));
        auto t2 = aio::create_task(waiter(2));
        auto t3 = aio::create_task(waiter(3));
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());
        EXPECT_FALSE(cond.locked());
        EXPECT_EQ(cond.num_waiters(), 3u);

        auto held = co_await cond.acquire();
        held.detach();
        cond.notify();
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());  // t1 woke but waits for the lock
        EXPECT_TRUE(cond.locked());

        cond.release();
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_TRUE(cond.locked());

        cond.notify(2);
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1}));
        EXPECT_TRUE(cond.locked());

        cond.release();
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1, 2}));
        EXPECT_TRUE(cond.locked());

        cond.release();
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(cond.locked());
        bool r1 = co_await t1;
        bool r2 = co_await t2;
        bool r3 = co_await t3;
        EXPECT_TRUE(r1 && r2 && r3);
        cond.release();
    });
}

// CPython ConditionTests.test_wait_cancel: the cancelled waiter leaves the
// queue and still holds the lock when the error comes out.
TEST(Condition, CancelledWaitReacquiresTheLockAndLeavesNoWaiter) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        bool held_on_error = false;
        auto wait = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            try {
                co_await cond.wait();
            } catch (const aio::CancelledError&) {
                held_on_error = cond.locked();
                throw;
            }
        });
        aio::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
        EXPECT_THROW(co_await wait, aio::CancelledError);
        EXPECT_TRUE(held_on_error);
        EXPECT_EQ(cond.num_waiters(), 0u);
        EXPECT_FALSE(cond.locked());  // released by the waiter's guard
    });
}

// CPython ConditionTests.test_wait_cancel_contested: notified, then
// cancelled while the lock is contended: when wait() ends, the lock is held.
TEST(Condition, CancelWhileReacquiringStillReacquires) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        auto first = co_await cond.acquire();
        first.detach();
        bool locked_at_end = false;
        auto wait_task = aio::create_task([&]() -> aio::Coro<> {
            try {
                co_await cond.wait();
            } catch (const aio::CancelledError&) {
            }
            locked_at_end = cond.locked();
            cond.release();
        });
        co_await aio::sleep(0s);
        EXPECT_FALSE(cond.locked());  // wait() released it

        auto contest = co_await cond.acquire();
        contest.detach();
        cond.notify();
        auto& loop = aio::get_running_loop();
        loop.call_soon([wait_task]() mutable { wait_task.cancel(); });
        loop.call_soon([&] { cond.release(); });
        co_await wait_task;
        EXPECT_TRUE(locked_at_end);
        EXPECT_FALSE(cond.locked());
    });
}

// CPython ConditionTests.test_wait_cancel_after_notify (bpo-32841).
TEST(Condition, CancelAfterNotifyWhileWaitingForTheLock) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        bool waited = false;
        auto waiter = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            waited = true;
            co_await cond.wait();
        });
        co_await aio::sleep(0s);  // start waiting

        auto held = co_await cond.acquire();
        cond.notify();
        co_await aio::sleep(0s);  // the waiter now waits for the lock
        waiter.cancel();
        co_await aio::sleep(0s);  // the cancellation is held back
        EXPECT_FALSE(waiter.done());
        held.release();
        co_await aio::sleep(0s);  // lock re-acquired, then the error
        EXPECT_TRUE(waiter.cancelled());
        EXPECT_TRUE(waited);
        EXPECT_FALSE(cond.locked());
    });
}

// CPython ConditionTests.test_wait_unacquired / test_notify_unacquired.
TEST(Condition, WaitAndNotifyRequireTheLock) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        EXPECT_THROW(co_await cond.wait(), aio::RuntimeError);
        EXPECT_THROW(cond.notify(), aio::RuntimeError);
        EXPECT_THROW(cond.notify_all(), aio::RuntimeError);
        // wait_for with a predicate already true needs no lock (asyncio too).
        int value = co_await cond.wait_for([] { return 42; });
        EXPECT_EQ(value, 42);
        EXPECT_THROW(co_await cond.wait_for([] { return false; }), aio::RuntimeError);
    });
}

// CPython ConditionTests.test_wait_for.
TEST(Condition, WaitForLoopsUntilThePredicateHolds) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        bool presult = false;
        int calls = 0;
        std::vector<int> result;
        auto t = aio::create_task([&]() -> aio::Coro<bool> {
            auto guard = co_await cond.acquire();
            bool ok = co_await cond.wait_for([&] {
                ++calls;
                return presult;
            });
            result.push_back(1);
            co_return ok;
        });
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());
        {
            auto g = co_await cond.acquire();
            cond.notify();
        }
        co_await aio::sleep(0s);
        EXPECT_TRUE(result.empty());  // predicate still false: waits again

        presult = true;
        {
            auto g = co_await cond.acquire();
            cond.notify();
        }
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1}));
        bool ok = co_await t;
        EXPECT_TRUE(ok);
        EXPECT_EQ(calls, 3);
    });
}

// CPython ConditionTests.test_notify and test_notify_all.
TEST(Condition, NotifyWakesAtMostNAndNotifyAllWakesEveryone) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        std::vector<int> result;
        auto waiter = [&](int id) -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            co_await cond.wait();
            result.push_back(id);
        };
        auto t1 = aio::create_task(waiter(1));
        auto t2 = aio::create_task(waiter(2));
        auto t3 = aio::create_task(waiter(3));
        co_await aio::sleep(0s);
        {
            auto g = co_await cond.acquire();
            cond.notify(1);
        }
        co_await aio::sleep(0s);
        EXPECT_EQ(result, (std::vector<int>{1}));
        {
            auto g = co_await cond.acquire();
            cond.notify(1);
            cond.notify(2048);
        }
        co_await yield_n(3);
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));

        auto t4 = aio::create_task(waiter(4));
        auto t5 = aio::create_task(waiter(5));
        co_await aio::sleep(0s);
        {
            auto g = co_await cond.acquire();
            cond.notify_all();
            EXPECT_EQ(cond.num_waiters(), 0u);
        }
        co_await t4;
        co_await t5;
        EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4, 5}));
        co_await t1;
        co_await t2;
        co_await t3;
    });
}

// CPython ConditionTests.test_explicit_lock: conditions over a shared lock.
TEST(Condition, SharesAnExplicitLock) {
    aio::run([]() -> aio::Coro<> {
        aio::Lock lock;
        aio::Condition a(lock);
        aio::Condition b(lock);
        EXPECT_EQ(&a.lock(), &lock);
        {
            auto g = co_await a.acquire();
            EXPECT_TRUE(lock.locked());
            EXPECT_TRUE(b.locked());
        }
        EXPECT_FALSE(a.locked());
        {
            auto g = co_await lock.acquire();
            EXPECT_TRUE(a.locked() && b.locked());
        }
        EXPECT_FALSE(b.locked());

        // b's waiter is not woken by a.notify_all().
        bool b_woke = false;
        auto t = aio::create_task([&]() -> aio::Coro<> {
            auto g = co_await b.acquire();
            co_await b.wait();
            b_woke = true;
        });
        co_await aio::sleep(0s);
        {
            auto g = co_await a.acquire();
            a.notify_all();
        }
        co_await yield_n(2);
        EXPECT_FALSE(b_woke);
        {
            auto g = co_await b.acquire();
            b.notify();
        }
        co_await t;
        EXPECT_TRUE(b_woke);
    });
}

// CPython ConditionTests.test_cancelled_error_wakeup: the CancelledError
// from the notification wait comes out unchanged (its message kept).
TEST(Condition, CancellationWhileWaitingKeepsItsMessage) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        bool wake = false;
        auto task = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            co_await cond.wait_for([&] { return wake; });
        });
        co_await aio::sleep(0s);
        task.cancel("foo");
        try {
            co_await task;
            ADD_FAILURE() << "not cancelled";
        } catch (const aio::CancelledError& e) {
            EXPECT_EQ(e.message(), "foo");
        }
        EXPECT_FALSE(cond.locked());
    });
}

// CPython ConditionTests.test_cancelled_error_re_aquire.
TEST(Condition, CancellationWhileReacquiringKeepsItsMessage) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        bool wake = false;
        auto task = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            co_await cond.wait_for([&] { return wake; });
        });
        co_await aio::sleep(0s);
        auto held = co_await cond.acquire();
        wake = true;
        cond.notify();
        co_await aio::sleep(0s);  // now waiting for the lock
        task.cancel("foo");
        held.release();
        try {
            co_await task;
            ADD_FAILURE() << "not cancelled";
        } catch (const aio::CancelledError& e) {
            EXPECT_EQ(e.message(), "foo");
        }
        EXPECT_FALSE(cond.locked());
    });
}

// CPython ConditionTests.test_cancelled_wakeup: a waiter cancelled right
// after notify(1) picked it must pass the notification on.
TEST(Condition, NotifyIsNotLostToAWaiterCancelledBeforeItRuns) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        int state = 0;
        auto consumer = [&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            for (;;) {
                co_await cond.wait_for([&] { return state != 0; });
                if (state < 0) co_return;
                state -= 1;
            }
        };
        auto c0 = aio::create_task(consumer());
        auto c1 = aio::create_task(consumer());
        co_await aio::sleep(0s);
        {
            auto guard = co_await cond.acquire();
            state += 1;
            cond.notify(1);  // picks c0...
            c0.cancel();     // ...which is cancelled before it runs
        }
        co_await yield_n(5);
        EXPECT_EQ(state, 0);  // c1 got the passed-on notification
        EXPECT_TRUE(c0.cancelled());
        {
            auto guard = co_await cond.acquire();
            state = -1;
            cond.notify_all();
        }
        co_await c1;
        EXPECT_THROW(co_await c0, aio::CancelledError);
    });
}

// CPython ConditionTests.test_cancelled_wakeup_relock: same, with the
// cancellation landing while the notified waiter waits for the lock.
TEST(Condition, NotifyIsNotLostToAWaiterCancelledWhileRelocking) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        int state = 0;
        auto consumer = [&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            for (;;) {
                co_await cond.wait_for([&] { return state != 0; });
                if (state < 0) co_return;
                state -= 1;
            }
        };
        auto c0 = aio::create_task(consumer());
        auto c1 = aio::create_task(consumer());
        co_await aio::sleep(0s);
        {
            auto guard = co_await cond.acquire();
            state += 1;
            cond.notify(1);
            co_await aio::sleep(0s);  // c0 wakes and waits for the lock
            c0.cancel();
        }
        co_await yield_n(5);
        EXPECT_EQ(state, 0);
        EXPECT_TRUE(c0.cancelled());
        {
            auto guard = co_await cond.acquire();
            state = -1;
            cond.notify_all();
        }
        co_await c1;
        EXPECT_EQ(cond.num_waiters(), 0u);
    });
}

// A waiter cancelled before any notify does not consume one: notify(1)
// goes to the next live waiter.
TEST(Condition, NotifySkipsWaitersCancelledBeforeIt) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        std::vector<int> woke;
        auto waiter = [&](int id) -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            co_await cond.wait();
            woke.push_back(id);
        };
        auto t1 = aio::create_task(waiter(1));
        auto t2 = aio::create_task(waiter(2));
        co_await aio::sleep(0s);
        t1.cancel();
        {
            auto guard = co_await cond.acquire();
            cond.notify(1);
        }
        EXPECT_THROW(co_await t1, aio::CancelledError);
        co_await t2;
        EXPECT_EQ(woke, (std::vector<int>{2}));
    });
}

// Wait morphing: notify() queues the waiter on the lock at once, so it gets
// the lock before tasks that ask for it later (asyncio would queue the
// waiter only when it runs).
TEST(Condition, NotifiedWaiterIsQueuedOnTheLockAtNotifyTime) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        std::vector<std::string> order;
        auto waiter = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            co_await cond.wait();
            order.push_back("waiter");
        });
        co_await aio::sleep(0s);
        auto held = co_await cond.acquire();
        cond.notify();
        EXPECT_EQ(cond.num_waiters(), 0u);
        EXPECT_EQ(cond.lock().num_waiters(), 1u);  // moved to the lock's queue
        auto later = aio::create_task([&]() -> aio::Coro<> {
            auto guard = co_await cond.acquire();
            order.push_back("later");
        });
        co_await aio::sleep(0s);
        held.release();
        co_await waiter;
        co_await later;
        EXPECT_EQ(order, (std::vector<std::string>{"waiter", "later"}));
    });
}

// The classic producer/consumer over a condition.
TEST(Condition, ProducerConsumer) {
    aio::run([]() -> aio::Coro<> {
        aio::Condition cond;
        std::deque<int> items;
        long sum = 0;
        bool done = false;
        std::vector<aio::Task<>> consumers;
        for (int c = 0; c < 4; ++c)
            consumers.push_back(aio::create_task([&]() -> aio::Coro<> {
                auto guard = co_await cond.acquire();
                for (;;) {
                    co_await cond.wait_for([&] { return !items.empty() || done; });
                    if (items.empty()) co_return;
                    sum += items.front();
                    items.pop_front();
                }
            }));
        for (int i = 1; i <= 1000; ++i) {
            auto guard = co_await cond.acquire();
            items.push_back(i);
            cond.notify();
            if (i % 7 == 0) {
                guard.release();
                co_await aio::sleep(0s);
            }
        }
        {
            auto guard = co_await cond.acquire();
            done = true;
            cond.notify_all();
        }
        for (auto& t : consumers) co_await t;
        EXPECT_EQ(sum, 1000L * 1001 / 2);
    });
}

}  // namespace
