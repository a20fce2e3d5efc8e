// Deadlines and shield: aio::timeout / timeout_at / Timeout (ports of
// CPython's test_timeouts.py), aio::wait_for (test_waitfor.py) and
// aio::shield (the shield cases of test_tasks.py).
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>
#include <string_view>
#include <thread>

#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/log.hpp"
#include "aio/gather.hpp"
#include "aio/run.hpp"
#include "aio/shield.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
#include "aio/timeout.hpp"

#include "support.hpp"

using namespace std::chrono_literals;


namespace {

using aio_test::CapturedLog;


aio::Coro<int> value_after(int v, aio::Clock::duration d) {
    co_await aio::sleep(d);
    co_return v;
}

aio::Coro<> sleep_for(aio::Clock::duration d) { co_await aio::sleep(d); }

aio::Clock::time_point now() { return aio::get_running_loop().time(); }

/// Runs `body` as the main coroutine; checks that the calling task ends with
/// no cancellation request left (scopes must withdraw their own).
template <class F>
void run_checked(F body) {
    aio::run([&]() -> aio::Coro<> {
        co_await body();
        EXPECT_EQ(aio::current_task()->cancelling(), 0u);
    });
}

}  // namespace

// --- aio::timeout / timeout_at -----------------------------------------------

TEST(Timeout, Basic) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10ms);
        auto t0 = now();
        bool raised = false;
        try {
            co_await cm.run(sleep_for(10s));
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(cm.expired());
        EXPECT_GE(now() - t0, 10ms);
        EXPECT_LT(now() - t0, 5s);
    });
}

TEST(Timeout, TimeoutAtBasicKeepsDeadline) {
    run_checked([]() -> aio::Coro<> {
        auto deadline = now() + 10ms;
        std::optional<aio::Clock::time_point> seen;
        bool raised = false;
        try {
            co_await aio::timeout_at(deadline, [&](aio::Timeout& cm) -> aio::Coro<> {
                seen = cm.when();
                co_await aio::sleep(10s);
            });
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_EQ(seen, deadline);
    });
}

TEST(Timeout, ReturnsBodyValueWhenInTime) {
    run_checked([]() -> aio::Coro<> {
        int v = co_await aio::timeout(10s, value_after(4, 1ms));
        EXPECT_EQ(v, 4);
        std::string s = co_await aio::timeout(1.5, []() -> aio::Coro<std::string> { co_return "ok"; });
        EXPECT_EQ(s, "ok");
    });
}

TEST(Timeout, CallableIsMovedIntoTheFrame) {
    run_checked([]() -> aio::Coro<> {
        auto owned = std::make_unique<int>(41);
        // Lambda and co_await in separate statements (g++ 12 double-frees a
        // capture-owning closure built in the co_await expression).
        auto body = [p = std::move(owned)]() -> aio::Coro<int> {
            co_await aio::sleep(1ms);  // the closure must still be alive here
            co_return *p + 1;
        };
        aio::Coro<int> scoped = aio::timeout(10s, std::move(body));
        int v = co_await std::move(scoped);
        EXPECT_EQ(v, 42);
    });
}

// CPython: test_nested_timeouts — both expire at once; only the outer raises
// TimeoutError, the inner lets CancelledError through.
TEST(Timeout, NestedSameDeadlineOnlyOuterRaises) {
    run_checked([]() -> aio::Coro<> {
        auto deadline = now() + 10ms;
        aio::Timeout cm1(deadline), cm2(deadline);
        bool inner_cancelled = false;
        bool raised = false;
        try {
            co_await cm1.run([&]() -> aio::Coro<> {
                try {
                    co_await cm2.run(sleep_for(10s));
                } catch (const aio::CancelledError&) {
                    inner_cancelled = true;
                    throw;
                }
            });
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(inner_cancelled);
        EXPECT_TRUE(cm1.expired());
        EXPECT_TRUE(cm2.expired());
    });
}

// Nested timeouts, the inner one firing first: the inner raises TimeoutError,
// the outer does not fire and lets the body continue.
TEST(Timeout, NestedInnerFiresFirst) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout outer(now() + 10s), inner(now() + 10ms);
        co_await outer.run([&]() -> aio::Coro<> {
            bool inner_timed_out = false;
            try {
                co_await inner.run(sleep_for(10s));
            } catch (const aio::TimeoutError&) {
                inner_timed_out = true;
            }
            EXPECT_TRUE(inner_timed_out);
            co_await aio::sleep(1ms);  // the outer scope did not fire: no cancellation pending
        });
        EXPECT_TRUE(inner.expired());
        EXPECT_FALSE(outer.expired());
    });
}

// Nested timeouts, the outer one firing first: the inner scope sees a
// cancellation that is not its own and lets it through; the outer converts.
TEST(Timeout, NestedOuterFiresFirst) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout outer(now() + 10ms), inner(now() + 10s);
        bool inner_saw_cancel = false;
        bool raised = false;
        try {
            co_await outer.run([&]() -> aio::Coro<> {
                try {
                    co_await inner.run(sleep_for(10s));
                } catch (const aio::CancelledError&) {
                    inner_saw_cancel = true;
                    throw;
                }
            });
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(inner_saw_cancel);
        EXPECT_FALSE(inner.expired());
        EXPECT_TRUE(outer.expired());
    });
}

// CPython: test_nested_timeouts_loop_busy — the loop is blocked past the
// inner deadline; the inner raises, the outer then interrupts the next await.
// (When both deadlines pass during the block, only the outer converts: see
// NestedSameDeadlineOnlyOuterRaises.)
TEST(Timeout, NestedLoopBusy) {
    run_checked([]() -> aio::Coro<> {
        auto t0 = now();
        bool outer_raised = false;
        try {
            co_await aio::timeout(1500ms, [&]() -> aio::Coro<> {
                bool inner_raised = false;
                try {
                    co_await aio::timeout(10ms, [&]() -> aio::Coro<> {
                        std::this_thread::sleep_for(50ms);  // the loop is busy
                        co_await aio::sleep(1s);
                    });
                } catch (const aio::TimeoutError&) {
                    inner_raised = true;
                }
                EXPECT_TRUE(inner_raised);
                co_await aio::sleep(10s);  // interrupted by the outer deadline
            });
        } catch (const aio::TimeoutError&) {
            outer_raised = true;
        }
        EXPECT_TRUE(outer_raised);
        EXPECT_LT(now() - t0, 5s);
    });
}

TEST(Timeout, WaiterCancelled) {
    run_checked([]() -> aio::Coro<> {
        bool cancelled = false;
        bool raised = false;
        try {
            co_await aio::timeout(10ms, [&]() -> aio::Coro<> {
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    cancelled = true;
                    throw;
                }
            });
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(raised);
    });
}

TEST(Timeout, NotCalled) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10s);
        auto t0 = now();
        co_await cm.run(sleep_for(10ms));
        auto t1 = now();
        EXPECT_FALSE(cm.expired());
        EXPECT_LT(t1 - t0, 2s);
        CO_ASSERT_TRUE(cm.when().has_value());
        EXPECT_GT(*cm.when(), t1);
    });
}

TEST(Timeout, Disabled) {
    run_checked([]() -> aio::Coro<> {
        co_await aio::timeout(std::nullopt, [](aio::Timeout& cm) -> aio::Coro<> {
            EXPECT_FALSE(cm.when().has_value());
            co_await aio::sleep(10ms);
            EXPECT_FALSE(cm.expired());
        });
        aio::Timeout at(std::nullopt);
        co_await at.run(sleep_for(1ms));
        EXPECT_FALSE(at.expired());
        EXPECT_FALSE(at.when().has_value());
    });
}

// CPython: test_timeout_zero, test_timeout_zero_sleep_zero,
// test_timeout_in_the_past_sleep_zero.
TEST(Timeout, ZeroAndPastDeadlinesFireAtTheFirstSuspension) {
    run_checked([]() -> aio::Coro<> {
        for (auto delay : {aio::Clock::duration(0), aio::Clock::duration(-11s)}) {
            for (auto body_sleep : {aio::Clock::duration(10s), aio::Clock::duration(0)}) {
                auto t0 = now();
                aio::Timeout cm(t0 + delay);
                bool raised = false;
                try {
                    co_await cm.run(sleep_for(body_sleep));
                } catch (const aio::TimeoutError&) {
                    raised = true;
                }
                EXPECT_TRUE(raised);
                EXPECT_TRUE(cm.expired());
                EXPECT_LT(now() - t0, 2s);
            }
        }
    });
}

TEST(Timeout, ZeroDeadlineWithoutSuspensionDoesNotFire) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now());
        int v = co_await cm.run([]() -> aio::Coro<int> { co_return 5; });
        EXPECT_EQ(v, 5);
        EXPECT_FALSE(cm.expired());
    });
}

TEST(Timeout, ForeignExceptionPassed) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10ms);
        bool raised = false;
        try {
            co_await cm.run([]() -> aio::Coro<> { throw std::out_of_range("key"); co_return; });
        } catch (const std::out_of_range&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_FALSE(cm.expired());
    });
}

// CPython: test_foreign_exception_on_timeout — cleanup throwing during the
// timeout's cancellation: that exception wins.
TEST(Timeout, ForeignExceptionOnTimeout) {
    run_checked([]() -> aio::Coro<> {
        bool raised = false;
        try {
            co_await aio::timeout(10ms, []() -> aio::Coro<> {
                bool cancelled = false;
                try {
                    co_await aio::sleep(1s);
                } catch (const aio::CancelledError&) {
                    cancelled = true;
                }
                if (cancelled) throw std::domain_error("1/0");
            });
        } catch (const std::domain_error&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

// CPython: test_foreign_cancel_doesnt_timeout_if_not_expired.
TEST(Timeout, ForeignCancelIsNotConvertedIfNotExpired) {
    aio::run([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10s);
        bool cancelled = false;
        try {
            co_await cm.run([]() -> aio::Coro<> {
                aio::current_task()->cancel();
                co_await aio::sleep(10s);
            });
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(cm.expired());
        aio::current_task()->uncancel();
    });
}

// A foreign cancellation arriving after our deadline fired (both pending):
// CancelledError, never TimeoutError.
TEST(Timeout, ForeignCancelAfterExpiryPropagates) {
    aio::run([]() -> aio::Coro<> {
        auto body = [&]() -> aio::Coro<> {
            co_await aio::timeout(10ms, []() -> aio::Coro<> {
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                }
                // Our deadline fired; now someone else cancels us too.
                aio::current_task()->cancel("foreign");
                co_await aio::sleep(10s);
            });
        };
        aio::Task<> t = aio::create_task(body());
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError& e) {
            cancelled = true;
            EXPECT_EQ(e.message(), "foreign");
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(t.cancelled());
    });
}

// CPython: test_outer_task_is_not_cancelled.
TEST(Timeout, OuterTaskIsNotCancelled) {
    aio::run([]() -> aio::Coro<> {
        auto outer = []() -> aio::Coro<> {
            bool raised = false;
            try {
                co_await aio::timeout(1ms, sleep_for(10s));
            } catch (const aio::TimeoutError&) {
                raised = true;
            }
            EXPECT_TRUE(raised);
        };
        aio::Task<> task = aio::create_task(outer());
        co_await task;
        EXPECT_FALSE(task.cancelled());
        EXPECT_TRUE(task.done());
        EXPECT_EQ(task.cancelling(), 0u);
    });
}

// CPython: test_reschedule — when() and reschedule() from another task.
TEST(Timeout, RescheduleFromOutside) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<aio::Timeout*> fut = loop.create_future<aio::Timeout*>();
        auto deadline1 = now() + 10s;
        auto deadline2 = deadline1 + 20s;
        auto f = [&]() -> aio::Coro<> {
            co_await aio::timeout_at(deadline1, [&](aio::Timeout& cm) -> aio::Coro<> {
                fut.set_result(&cm);
                co_await aio::sleep(50s);
            });
        };
        aio::Task<> task = aio::create_task(f());
        aio::Timeout* cm = co_await fut;
        EXPECT_EQ(cm->when(), deadline1);
        cm->reschedule(deadline2);
        EXPECT_EQ(cm->when(), deadline2);
        cm->reschedule(std::nullopt);
        EXPECT_FALSE(cm->when().has_value());
        EXPECT_FALSE(cm->expired());
        task.cancel();
        bool cancelled = false;
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
    });
}

TEST(Timeout, RescheduleEarlierFiresEarlier) {
    run_checked([]() -> aio::Coro<> {
        auto t0 = now();
        bool raised = false;
        try {
            co_await aio::timeout(10s, [&](aio::Timeout& cm) -> aio::Coro<> {
                cm.reschedule(now() + 10ms);
                co_await aio::sleep(10s);
            });
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_LT(now() - t0, 5s);
    });
}

TEST(Timeout, RescheduleOutsideTheScopeIsAnError) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10s);
        EXPECT_THROW(cm.reschedule(now()), aio::RuntimeError);  // not entered
        co_await cm.run(sleep_for(0s));
        EXPECT_THROW(cm.reschedule(now()), aio::RuntimeError);  // finished
    });
}

TEST(Timeout, EnteredTwiceRaises) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 10s);
        co_await cm.run(sleep_for(0s));
        bool raised = false;
        try {
            co_await cm.run(sleep_for(0s));
        } catch (const aio::RuntimeError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

// CPython: test_nested_timeout_in_finally.
TEST(Timeout, NestedTimeoutInCleanup) {
    run_checked([]() -> aio::Coro<> {
        bool outer_raised = false;
        try {
            co_await aio::timeout(10ms, []() -> aio::Coro<> {
                std::exception_ptr e;
                try {
                    co_await aio::sleep(1s);
                } catch (...) {
                    e = std::current_exception();
                }
                bool inner_raised = false;
                try {
                    co_await aio::timeout(10ms, sleep_for(10s));
                } catch (const aio::TimeoutError&) {
                    inner_raised = true;
                }
                EXPECT_TRUE(inner_raised);
                if (e) std::rethrow_exception(e);
            });
        } catch (const aio::TimeoutError&) {
            outer_raised = true;
        }
        EXPECT_TRUE(outer_raised);
    });
}

// CPython: test_timeout_after_cancellation / test_cancel_in_timeout_after_cancellation.
TEST(Timeout, TimeoutAfterCancellationStillWorks) {
    aio::run([]() -> aio::Coro<> {
        try {
            aio::current_task()->cancel();
            co_await aio::sleep(1s);
        } catch (const aio::CancelledError&) {
        }
        // The task still has one cancellation request pending (not uncancelled).
        EXPECT_EQ(aio::current_task()->cancelling(), 1u);
        bool raised = false;
        try {
            co_await aio::timeout(0s, sleep_for(1s));
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        bool cancelled = false;
        try {
            co_await aio::timeout(1s, []() -> aio::Coro<> {
                aio::current_task()->cancel();
                co_await aio::sleep(2s);
            });
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        aio::current_task()->uncancel();
        aio::current_task()->uncancel();
    });
}

TEST(Timeout, BodySwallowingOurCancellationReturnsItsValue) {
    run_checked([]() -> aio::Coro<> {
        aio::Timeout cm(now() + 5ms);
        int v = co_await cm.run([]() -> aio::Coro<int> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
            }
            co_return 9;
        });
        EXPECT_EQ(v, 9);
        EXPECT_TRUE(cm.expired());
    });
}

TEST(Timeout, CancelledScopeAwaitedFromOutsideLeavesNothingBehind) {
    aio::run([]() -> aio::Coro<> {
        bool cleaned = false;
        auto body = [&]() -> aio::Coro<> {
            co_await aio::timeout(10s, [&]() -> aio::Coro<> {
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    cleaned = true;
                    throw;
                }
            });
        };
        aio::Task<> t = aio::create_task(body());
        co_await aio::sleep(1ms);
        t.cancel();
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(cleaned);
    });
}

// --- aio::wait_for -------------------------------------------------------------

namespace {

/// CPython's SlowTask: runs for `duration` (loop clock), ignoring cancellation.
struct SlowTask {
    bool exited = false;
    aio::Coro<> run(aio::Clock::duration duration) {
        auto exit_at = now() + duration;
        for (;;) {
            auto left = exit_at - now();
            if (left <= aio::Clock::duration::zero()) break;
            try {
                co_await aio::sleep(left);
            } catch (const aio::CancelledError&) {
            }
        }
        exited = true;
    }
};

}  // namespace

TEST(WaitFor, ReturnsInTime) {
    run_checked([]() -> aio::Coro<> {
        int v = co_await aio::wait_for(value_after(3, 1ms), 10s);
        EXPECT_EQ(v, 3);
        int w = co_await aio::wait_for(value_after(4, 0ms), std::nullopt);  // test_wait_for_blocking
        EXPECT_EQ(w, 4);
    });
}

// CPython: test_wait_for — a task is cancelled on timeout and awaited.
TEST(WaitFor, TimeoutCancelsTheTask) {
    run_checked([]() -> aio::Coro<> {
        bool running = false;
        auto foo = [&]() -> aio::Coro<std::string> {
            running = true;
            try {
                co_await aio::sleep(10s);
            } catch (...) {
                running = false;
                throw;
            }
            co_return "done";
        };
        aio::Task<std::string> fut = aio::create_task(foo());
        auto t0 = now();
        bool raised = false;
        try {
            co_await aio::wait_for(fut, 100ms);
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(fut.done());
        EXPECT_TRUE(fut.cancelled());
        EXPECT_FALSE(running);
        EXPECT_GE(now() - t0, 100ms);
        EXPECT_LT(now() - t0, 5s);
    });
}

// CPython: test_asyncio_wait_for_timeout — work that swallows the timeout's
// cancellation runs to its end, then TimeoutError is NOT raised (it returned).
TEST(WaitFor, WorkThatSwallowsCancellationFinishes) {
    run_checked([]() -> aio::Coro<> {
        SlowTask t;
        auto t0 = now();
        co_await aio::wait_for(t.run(100ms), 50ms);
        EXPECT_TRUE(t.exited);
        EXPECT_GE(now() - t0, 100ms);
    });
}

// CPython: test_wait_for_cancellation_race_condition.
TEST(WaitFor, SwallowedTimeoutReturnsValue) {
    run_checked([]() -> aio::Coro<> {
        auto inner = []() -> aio::Coro<int> {
            bool cancelled = false;
            try {
                co_await aio::sleep(1s);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            EXPECT_TRUE(cancelled);
            co_return 1;
        };
        int r = co_await aio::wait_for(inner(), 10ms);
        EXPECT_EQ(r, 1);
    });
}

// CPython: test_asyncio_wait_for_cancelled — cancelling the caller waits for
// the (stubborn) work to end.
TEST(WaitFor, CancelledCallerWaitsForStubbornWork) {
    aio::run([]() -> aio::Coro<> {
        SlowTask t;
        auto wf = [&]() -> aio::Coro<> { co_await aio::wait_for(t.run(100ms), 200ms); };
        aio::Task<> task = aio::create_task(wf());
        co_await aio::sleep(0s);
        task.cancel();
        bool cancelled = false;
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(t.exited);
    });
}

TEST(WaitFor, TimeoutZeroOnDoneFutureReturnsResult) {
    run_checked([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<std::string> fut = loop.create_future<std::string>();
        fut.set_result("done");
        auto t0 = now();
        std::string r = co_await aio::wait_for(fut, 0s);
        EXPECT_EQ(r, "done");
        EXPECT_LT(now() - t0, 1s);
    });
}

TEST(WaitFor, TimeoutZeroCoroutineIsNeverStarted) {
    run_checked([]() -> aio::Coro<> {
        bool started = false;
        auto foo = [&]() -> aio::Coro<> {
            started = true;
            co_return;
        };
        for (auto timeout : {aio::Clock::duration(0), aio::Clock::duration(-1s)}) {
            bool raised = false;
            try {
                co_await aio::wait_for(foo(), timeout);
            } catch (const aio::TimeoutError&) {
                raised = true;
            }
            EXPECT_TRUE(raised);
        }
        EXPECT_FALSE(started);
    });
}

TEST(WaitFor, TimeoutZeroOnRunningTaskCancelsIt) {
    run_checked([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        for (auto timeout : {aio::Clock::duration(0), aio::Clock::duration(-1s)}) {
            bool running = false;
            aio::Future<> started = loop.create_future<void>();
            auto foo = [&]() -> aio::Coro<std::string> {
                running = true;
                started.set_result();
                try {
                    co_await aio::sleep(10s);
                } catch (...) {
                    running = false;
                    throw;
                }
                co_return "done";
            };
            aio::Task<std::string> fut = aio::create_task(foo());
            co_await started;
            auto t0 = now();
            bool raised = false;
            try {
                co_await aio::wait_for(fut, timeout);
            } catch (const aio::TimeoutError&) {
                raised = true;
            }
            EXPECT_TRUE(raised);
            EXPECT_TRUE(fut.cancelled());
            EXPECT_FALSE(running);
            EXPECT_LT(now() - t0, 1s);
        }
    });
}

// CPython: test_wait_for_race_condition.
TEST(WaitFor, FutureSetBeforeDeadline) {
    run_checked([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<std::string> fut = loop.create_future<std::string>();
        loop.call_later(10ms, [fut]() mutable { fut.set_result("ok"); });
        std::string r = co_await aio::wait_for(fut, 200ms);
        EXPECT_EQ(r, "ok");
    });
}

// The work completes in the same loop iteration as the deadline fires: its
// result wins over TimeoutError.
TEST(WaitFor, CompletionRacingTheDeadlineReturnsTheResult) {
    run_checked([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> fut = loop.create_future<int>();
        // Next iteration: the future is set (we are queued), then the loop is
        // blocked past the deadline. The iteration after: the deadline fires
        // and finds us already queued with the result.
        loop.call_soon([fut]() mutable { fut.set_result(11); });
        loop.call_soon([] { std::this_thread::sleep_for(300ms); });
        int r = co_await aio::wait_for(fut, 200ms);
        EXPECT_EQ(r, 11);
    });
}

// CPython: test_wait_for_waits_for_task_cancellation.
TEST(WaitFor, WaitsForTaskCancellationToFinish) {
    run_checked([]() -> aio::Coro<> {
        bool task_done = false;
        auto inner = [&]() -> aio::Coro<> {
            bool cancelled = false;
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await aio::sleep(1ms);
                task_done = true;
                throw aio::CancelledError();
            }
            task_done = true;
        };
        aio::Task<> inner_task = aio::create_task(inner());
        bool raised = false;
        try {
            co_await aio::wait_for(inner_task, 1ms);
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(task_done);
    });
}

// CPython: test_wait_for_reraises_exception_during_cancellation.
TEST(WaitFor, ReraisesExceptionDuringCancellation) {
    run_checked([]() -> aio::Coro<> {
        auto inner = []() -> aio::Coro<> {
            bool cancelled = false;
            try {
                co_await aio::sleep(200ms);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            (void)cancelled;
            throw std::logic_error("FooException");
        };
        aio::Task<> inner_task = aio::create_task(inner());
        bool raised = false;
        try {
            co_await aio::wait_for(inner_task, 1ms);
        } catch (const std::logic_error&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

// CPython: test_wait_for_self_cancellation — wait_for stays cancellable while
// the inner task holds up the cancellations; the task keeps its value.
TEST(WaitFor, SelfCancellationWhileInnerIgnoresIt) {
    aio::run([]() -> aio::Coro<> {
        auto inner = []() -> aio::Coro<int> {
            try {
                co_await aio::sleep(300ms);
            } catch (const aio::CancelledError&) {
            }
            try {
                co_await aio::sleep(300ms);
            } catch (const aio::CancelledError&) {
            }
            co_return 42;
        };
        aio::Task<int> inner_task = aio::create_task(inner());
        auto wf = [&]() -> aio::Coro<int> { co_return co_await aio::wait_for(inner_task, 100ms); };
        aio::Task<int> task = aio::create_task(wf());
        co_await aio::sleep(200ms);
        task.cancel();
        bool cancelled = false;
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        int v = co_await inner_task;
        EXPECT_EQ(v, 42);
    });
}

// CPython: test_cancel_blocking_wait_for / test_cancel_wait_for (#23219):
// cancelling the wait cancels the task.
TEST(WaitFor, CancellingTheWaitCancelsTheTask) {
    for (bool with_timeout : {false, true}) {
        aio::run([&]() -> aio::Coro<> {
            auto& loop = aio::get_running_loop();
            auto blocking = [&]() -> aio::Coro<> {
                aio::Future<> fut = loop.create_future<void>();
                co_await fut;  // never set
            };
            aio::Task<> task = aio::create_task(blocking());
            auto wf = [&]() -> aio::Coro<> {
                if (with_timeout)
                    co_await aio::wait_for(task, 60s);
                else
                    co_await aio::wait_for(task, std::nullopt);
            };
            aio::Task<> wait = aio::create_task(wf());
            loop.call_soon([wait]() mutable { wait.cancel(); });
            bool cancelled = false;
            try {
                co_await wait;
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            EXPECT_TRUE(cancelled);
            EXPECT_TRUE(task.cancelled());
        });
    }
}

TEST(WaitFor, ExternalCancelWithInlineWorkThatReturnsStillRaises) {
    aio::run([]() -> aio::Coro<> {
        bool work_returned = false;
        auto work = [&]() -> aio::Coro<int> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
            }
            work_returned = true;
            co_return 1;
        };
        auto wf = [&]() -> aio::Coro<int> { co_return co_await aio::wait_for(work(), 10s); };
        aio::Task<int> t = aio::create_task(wf());
        co_await aio::sleep(1ms);
        t.cancel();
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(work_returned);
    });
}

TEST(WaitFor, NestedWaitForsFireForTheirOwnScope) {
    run_checked([]() -> aio::Coro<> {
        auto inner = []() -> aio::Coro<int> {
            bool timed_out = false;
            try {
                co_await aio::wait_for(sleep_for(10s), 5ms);
            } catch (const aio::TimeoutError&) {
                timed_out = true;
            }
            EXPECT_TRUE(timed_out);
            co_return 2;
        };
        int v = co_await aio::wait_for(inner(), 10s);
        EXPECT_EQ(v, 2);
    });
}

TEST(WaitFor, GatherUnderADeadline) {
    run_checked([]() -> aio::Coro<> {
        bool raised = false;
        try {
            co_await aio::wait_for(aio::gather(value_after(1, 1ms), value_after(2, 10s)), 20ms);
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

TEST(WaitFor, HugeAndOddTimeoutsAreClamped) {
    run_checked([]() -> aio::Coro<> {
        int a = co_await aio::wait_for(value_after(1, 0s), std::chrono::hours::max());
        int b = co_await aio::wait_for(value_after(2, 0s), 1e300);
        int c = co_await aio::wait_for(value_after(3, 0s), std::numeric_limits<double>::quiet_NaN());
        int d = co_await aio::timeout(std::chrono::years(100000), value_after(4, 0s));
        EXPECT_EQ(a + b + c + d, 10);
        bool raised = false;
        try {
            co_await aio::timeout(std::chrono::hours::min(), sleep_for(1s));
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

TEST(WaitFor, ManyCallsDoNotLeakCancellations) {
    run_checked([]() -> aio::Coro<> {
        long sum = 0;
        for (int i = 0; i < 100000; ++i) {
            int v = co_await aio::wait_for(value_after(1, 0s), 1s);
            sum += v;
        }
        EXPECT_EQ(sum, 100000);
    });
}

// --- aio::shield ---------------------------------------------------------------

// CPython: test_shield_result / test_shield_exception.
TEST(Shield, ResultAndException) {
    run_checked([]() -> aio::Coro<> {
        int v = co_await aio::shield(value_after(5, 1ms));
        EXPECT_EQ(v, 5);
        aio::Task<int> failing = aio::create_task([]() -> aio::Coro<int> {
            co_await aio::sleep(1ms);
            throw std::runtime_error("bad");
        });
        bool raised = false;
        try {
            co_await aio::shield(failing);
        } catch (const std::runtime_error&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

// CPython: test_shield_effect — the outer is cancelled, the inner goes on.
TEST(Shield, OuterCancellationDoesNotReachInner) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> inner = loop.create_future<int>();
        auto outer = [&]() -> aio::Coro<int> { co_return co_await aio::shield(inner); };
        aio::Task<int> t = aio::create_task(outer());
        co_await aio::sleep(0s);
        t.cancel();
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(inner.cancelled());
        inner.set_result(3);
        int v = co_await inner;  // the result is not lost
        EXPECT_EQ(v, 3);
    });
}

TEST(Shield, InnerTaskKeepsRunningAndKeepsItsResult) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> inner = aio::create_task(value_after(8, 20ms));
        bool raised = false;
        try {
            co_await aio::wait_for(aio::shield(inner), 1ms);
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_FALSE(inner.done());
        int v = co_await inner;
        EXPECT_EQ(v, 8);
    });
}

// CPython: test_shield_gather — cancelling the inner itself still cancels.
TEST(Shield, CancellingTheInnerCancelsTheAwaiter) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> inner = aio::create_task(value_after(8, 10s));
        auto outer = [&]() -> aio::Coro<int> { co_return co_await aio::shield(inner); };
        aio::Task<int> t = aio::create_task(outer());
        co_await aio::sleep(0s);
        inner.cancel();
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(inner.cancelled());
    });
}

TEST(Shield, LateFailureOfShieldedCoroIsReported) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        int reports = 0;
        std::string message;
        loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& ctx) {
            ++reports;
            message = aio::describe_exception(ctx.exception);
        });
        auto work = []() -> aio::Coro<int> {
            co_await aio::sleep(10ms);
            throw std::runtime_error("late");
        };
        auto outer = [&]() -> aio::Coro<int> { co_return co_await aio::shield(work()); };
        aio::Task<int> t = aio::create_task(outer());
        co_await aio::sleep(1ms);
        t.cancel();
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(reports, 0);
        co_await aio::sleep(50ms);
        EXPECT_EQ(reports, 1);
        EXPECT_NE(message.find("late"), std::string::npos);
        loop.set_exception_handler({});
    });
}

TEST(Shield, AlreadyCancelledCallerRaisesAtOnce) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> inner = aio::create_task(value_after(1, 10ms));
        auto outer = [&]() -> aio::Coro<int> {
            aio::current_task()->cancel();
            co_return co_await aio::shield(inner);
        };
        aio::Task<int> t = aio::create_task(outer());
        bool cancelled = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(inner.done());
        int v = co_await inner;
        EXPECT_EQ(v, 1);
    });
}

// The loop closes while scopes and shields wait: frames destroyed unresumed,
// timers disarmed, nodes unlinked (checked under ASan).
TEST(Timeout, LoopClosedWhileWaiting) {
    CapturedLog log;
    aio::EventLoop loop;
    loop.run_until_complete([]() -> aio::Coro<> {
        aio::create_task(aio::timeout(5s, sleep_for(10s)));
        aio::create_task(aio::wait_for(sleep_for(10s), 5s));
        aio::Task<int> inner = aio::create_task(value_after(1, 10s));
        aio::create_task(aio::wait_for(inner, 5s));
        aio::create_task([inner]() -> aio::Coro<int> { co_return co_await aio::shield(inner); });
        co_await aio::sleep(1ms);
    }());
    loop.close();
    EXPECT_GT(log.count("destroyed but it is pending"), 0u);
}
