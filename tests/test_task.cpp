// Task: scheduling, results, names, callbacks, lifetime and cancellation.
// Scenarios follow CPython's test_tasks.
#include <string>

#include "support.hpp"

using namespace aio_test;

namespace {

aio::Coro<std::string> slow_operation(std::string name, std::chrono::milliseconds d) {
    co_await aio::sleep(d);
    co_return name + " result";
}

TEST(Task, ConcurrentTasksOverlap) {
    aio::run([]() -> aio::Coro<> {
        auto start = aio::get_running_loop().time();
        auto a = aio::create_task(slow_operation("A", 200ms), "llm-call-1");
        auto b = aio::create_task(slow_operation("B", 100ms));
        std::string ra = co_await a;
        std::string rb = co_await b;
        EXPECT_EQ(ra, "A result");
        EXPECT_EQ(rb, "B result");
        double took = since(start);
        EXPECT_GE(took, 0.2);
        EXPECT_LT(took, 0.29 + 2.0);  // sequential would be >= 0.3 s; allow a loaded machine
        EXPECT_EQ(a.get_name(), "llm-call-1");
    });
}

TEST(Task, SequentialAwaitsAddUp) {
    aio::run([]() -> aio::Coro<> {
        auto start = aio::get_running_loop().time();
        co_await slow_operation("A", 50ms);
        co_await slow_operation("B", 50ms);
        EXPECT_GE(since(start), 0.1);
    });
}

TEST(Task, DefaultNamesAndSetName) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(slow_operation("x", 0ms));
        std::string name = t.get_name();
        EXPECT_EQ(name.rfind("Task-", 0), 0u);
        auto u = aio::create_task(slow_operation("y", 0ms));
        EXPECT_EQ(std::stoi(u.get_name().substr(5)), std::stoi(name.substr(5)) + 1);
        t.set_name("renamed");
        EXPECT_EQ(t.get_name(), "renamed");
        co_await t;
        co_await u;
    });
}

TEST(Task, CreateTaskWithoutLoopIsAnError) {
    EXPECT_THROW(aio::create_task(slow_operation("x", 0ms)), aio::RuntimeError);
}

TEST(Task, ResultAndExceptionStates) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(slow_operation("x", 1ms));
        EXPECT_FALSE(t.done());
        EXPECT_THROW(t.result(), aio::InvalidStateError);
        EXPECT_THROW(t.exception(), aio::InvalidStateError);
        co_await t;
        EXPECT_TRUE(t.done());
        EXPECT_EQ(t.result(), "x result");
        EXPECT_EQ(t.exception(), nullptr);

        auto f = aio::create_task([]() -> aio::Coro<int> {
            co_await aio::sleep(0s);
            throw std::invalid_argument("nope");
        });
        EXPECT_THROW(co_await f, std::invalid_argument);
        EXPECT_TRUE(f.done());
        EXPECT_FALSE(f.cancelled());
        EXPECT_NE(f.exception(), nullptr);
        EXPECT_THROW(f.result(), std::invalid_argument);
        EXPECT_THROW(co_await f, std::invalid_argument);  // awaiting again rethrows again
    });
}

TEST(Task, VoidAndReferenceResults) {
    static int global = 3;
    aio::run([]() -> aio::Coro<> {
        auto v = aio::create_task([]() -> aio::Coro<> { co_await aio::sleep(0s); });
        co_await v;
        EXPECT_TRUE(v.done());
        auto r = aio::create_task([]() -> aio::Coro<int&> {
            co_await aio::sleep(0s);
            co_return global;
        });
        int& ref = co_await r;
        EXPECT_EQ(&ref, &global);
    });
}

TEST(Task, MoveOnlyResult) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task([]() -> aio::Coro<std::unique_ptr<int>> {
            co_await aio::sleep(0s);
            co_return std::make_unique<int>(9);
        });
        std::unique_ptr<int> p = co_await std::move(t);
        CO_ASSERT_TRUE(p);
        EXPECT_EQ(*p, 9);
    });
}

TEST(Task, DoneCallbacksRunThroughCallSoonInOrder) {
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> log;
        auto t = aio::create_task(slow_operation("A", 1ms));
        t.add_done_callback([&](aio::Task<std::string>& done) { log.push_back("cb1:" + done.result()); });
        t.add_done_callback([&] { log.push_back("cb2"); });
        auto removed = t.add_done_callback([&] { log.push_back("removed"); });
        EXPECT_EQ(t.remove_done_callback(removed), 1u);
        EXPECT_EQ(t.remove_done_callback(removed), 0u);
        co_await t;
        // Callbacks are scheduled, not called, when the task finishes.
        co_await aio::sleep(0s);
        EXPECT_EQ(log, (std::vector<std::string>{"cb1:A result", "cb2"}));
        // Adding a callback to a done task schedules it.
        t.add_done_callback([&] { log.push_back("late"); });
        EXPECT_EQ(log.size(), 2u);
        co_await aio::sleep(0s);
        EXPECT_EQ(log.back(), "late");
    });
}

aio::Coro<> log_event(int& logged) {
    co_await aio::sleep(10ms);
    ++logged;
}

TEST(Task, DroppedHandleStillCompletes) {
    // The seed's fire-and-forget pitfall cannot happen: the loop keeps tasks.
    int logged = 0;
    aio::run([&]() -> aio::Coro<> {
        for (int i = 0; i < 3; ++i) (void)aio::create_task(log_event(logged));
        co_await aio::sleep(100ms);
        EXPECT_EQ(logged, 3);
    });
    EXPECT_EQ(logged, 3);
}

TEST(Task, CurrentTaskAndAllTasks) {
    aio::run([]() -> aio::Coro<> {
        auto me = aio::current_task();
        CO_ASSERT_TRUE(me.has_value());
        auto other = aio::create_task(slow_operation("x", 10ms), "other");
        auto tasks = aio::all_tasks();
        EXPECT_EQ(tasks.size(), 2u);
        bool found_other = false, found_me = false;
        for (auto& t : tasks) {
            found_other |= t.get_name() == "other";
            found_me |= t == *me;
        }
        EXPECT_TRUE(found_other);
        EXPECT_TRUE(found_me);
        co_await other;
        EXPECT_EQ(aio::all_tasks().size(), 1u);
    });
    EXPECT_FALSE(aio::current_task().has_value());
}

// --- cancellation -------------------------------------------------------------

TEST(TaskCancel, CancelBeforeFirstStepNeverRunsBody) {
    aio::run([]() -> aio::Coro<> {
        bool ran = false;
        auto t = aio::create_task([&ran]() -> aio::Coro<> {
            ran = true;
            co_return;
        });
        EXPECT_TRUE(t.cancel("early"));
        try {
            co_await t;
            ADD_FAILURE();
        } catch (const aio::CancelledError& e) {
            EXPECT_EQ(e.message(), "early");
        }
        EXPECT_FALSE(ran);
        EXPECT_TRUE(t.cancelled());
        EXPECT_THROW(t.result(), aio::CancelledError);
        EXPECT_THROW(t.exception(), aio::CancelledError);
    });
}

TEST(TaskCancel, CancelDoneTaskReturnsFalse) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(slow_operation("x", 0ms));
        co_await t;
        EXPECT_FALSE(t.cancel());
        EXPECT_FALSE(t.cancelled());
        EXPECT_EQ(t.cancelling(), 0u);
    });
}

TEST(TaskCancel, CancelDuringSleepRaisesAtSuspensionPoint) {
    aio::run([]() -> aio::Coro<> {
        auto start = aio::get_running_loop().time();
        auto t = aio::create_task(slow_operation("x", 10s));
        co_await aio::sleep(1ms);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_LT(since(start), 5.0);  // did not wait for the 10 s timer
    });
}

TEST(TaskCancel, CatchCleanUpWithAwaitAndFinishNormally) {
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> log;
        auto t = aio::create_task([&log]() -> aio::Coro<int> {
            bool cancelled = false;
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                log.push_back("cleanup-start");
                co_await aio::sleep(1ms);  // async cleanup after the catch block
                log.push_back("cleanup-end");
            }
            co_return 42;
        });
        co_await aio::sleep(0s);
        t.cancel();
        int v = co_await t;
        EXPECT_EQ(v, 42);
        EXPECT_FALSE(t.cancelled());
        EXPECT_EQ(t.cancelling(), 1u);
        EXPECT_EQ(log, (std::vector<std::string>{"cleanup-start", "cleanup-end"}));
    });
}

TEST(TaskCancel, CancellingAndUncancelCount) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(slow_operation("x", 10s));
        co_await aio::sleep(0s);
        EXPECT_EQ(t.cancelling(), 0u);
        t.cancel();
        t.cancel();
        EXPECT_EQ(t.cancelling(), 2u);
        EXPECT_EQ(t.uncancel(), 1u);
        EXPECT_EQ(t.uncancel(), 0u);
        EXPECT_EQ(t.uncancel(), 0u);  // never below zero
        // The first cancel() already interrupted the sleep.
        EXPECT_THROW(co_await t, aio::CancelledError);
    });
}

TEST(TaskCancel, UncancelToZeroClearsPendingCancellation) {
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task([]() -> aio::Coro<int> {
            auto* me = aio::current_task()->core();
            aio::AnyTask self(me);
            self.cancel();  // requested while running: delivered at the next suspension
            self.uncancel();
            co_await aio::sleep(1ms);  // not cancelled
            co_return 1;
        });
        int v = co_await t;
        EXPECT_EQ(v, 1);
    });
}

TEST(TaskCancel, SelfCancelRaisesAtNextSuspension) {
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> log;
        auto t = aio::create_task([&log]() -> aio::Coro<> {
            aio::current_task()->cancel("self");
            log.push_back("still running");
            try {
                co_await aio::sleep(0s);
                log.push_back("not reached");
            } catch (const aio::CancelledError& e) {
                log.push_back(std::string("cancelled:") + e.what());
                throw;
            }
        });
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_EQ(log, (std::vector<std::string>{"still running", "cancelled:self"}));
    });
}

TEST(TaskCancel, CancellingOuterCancelsAwaitedInnerTask) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<std::string> inner;
        auto outer = aio::create_task([&inner]() -> aio::Coro<std::string> {
            inner = aio::create_task(slow_operation("inner", 10s));
            std::string r = co_await inner;
            co_return r;
        });
        co_await aio::sleep(1ms);
        outer.cancel("outer msg");
        EXPECT_THROW(co_await outer, aio::CancelledError);
        EXPECT_TRUE(inner.cancelled());
        EXPECT_TRUE(outer.cancelled());
    });
}

TEST(TaskCancel, InnerThatSwallowsCancellationLetsOuterContinue) {
    // asyncio: cancel() on a task awaiting another task cancels the inner
    // one; if the inner catches it and returns, the outer gets the value.
    aio::run([]() -> aio::Coro<> {
        auto outer = aio::create_task([]() -> aio::Coro<int> {
            auto inner = aio::create_task([]() -> aio::Coro<int> {
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                }
                co_return 7;
            });
            int v = co_await inner;
            co_return v;
        });
        co_await aio::sleep(1ms);
        outer.cancel();
        int v = co_await outer;
        EXPECT_EQ(v, 7);
        EXPECT_EQ(outer.cancelling(), 1u);
    });
}

TEST(TaskCancel, CancellingTaskAwaitingFutureCancelsTheFuture) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> fut;
        auto t = aio::create_task([fut]() -> aio::Coro<int> {
            int v = co_await fut;
            co_return v;
        });
        co_await aio::sleep(0s);
        t.cancel("why");
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_TRUE(fut.cancelled());
    });
}

TEST(TaskCancel, CancelAfterWakeupDiscardsResultAsAsyncio) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> fut;
        auto t = aio::create_task([fut]() -> aio::Coro<int> {
            int v = co_await fut;
            co_return v;
        });
        co_await aio::sleep(0s);
        fut.set_result(1);  // t is scheduled to resume...
        t.cancel();         // ...but is cancelled first: CancelledError wins
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_FALSE(fut.cancelled());
    });
}

TEST(TaskCancel, CancelDuringYieldRaisesOnResume) {
    aio::run([]() -> aio::Coro<> {
        int steps = 0;
        auto t = aio::create_task([&steps]() -> aio::Coro<> {
            for (;;) {
                ++steps;
                co_await aio::sleep(0s);
            }
        });
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_GE(steps, 2);
    });
}

TEST(TaskCancel, CancelledErrorIsNotAStdException) {
    aio::run([]() -> aio::Coro<> {
        bool swallowed = false;
        auto t = aio::create_task([&swallowed]() -> aio::Coro<> {
            try {
                co_await aio::sleep(10s);
            } catch (const std::exception&) {
                swallowed = true;  // must not happen
            }
        });
        co_await aio::sleep(0s);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_FALSE(swallowed);
    });
}

TEST(TaskCancel, CancelledAwaiterIsItselfCancelledNotInner) {
    // Cancelling a task raises inside it; a task awaiting it sees
    // CancelledError from the await.
    aio::run([]() -> aio::Coro<> {
        auto sleeper = aio::create_task(slow_operation("s", 10s));
        auto waiter = aio::create_task([sleeper]() -> aio::Coro<bool> {
            try {
                co_await sleeper;
            } catch (const aio::CancelledError&) {
                co_return true;
            }
            co_return false;
        });
        co_await aio::sleep(0s);
        sleeper.cancel();
        bool saw = co_await waiter;
        EXPECT_TRUE(saw);
        EXPECT_FALSE(waiter.cancelled());
        EXPECT_TRUE(sleeper.cancelled());
    });
}

TEST(TaskCancel, ExceptionsPropagateThroughNestedAwaits) {
    aio::run([]() -> aio::Coro<> {
        auto leaf = []() -> aio::Coro<int> {
            co_await aio::sleep(0s);
            throw std::length_error("deep");
        };
        auto mid = [leaf]() -> aio::Coro<int> {
            int v = co_await leaf();
            co_return v;
        };
        auto t = aio::create_task(mid);
        try {
            co_await t;
            ADD_FAILURE();
        } catch (const std::length_error& e) {
            EXPECT_STREQ(e.what(), "deep");
        }
    });
}

}  // namespace
