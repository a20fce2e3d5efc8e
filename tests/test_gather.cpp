// aio::gather: argument order, structured failure (siblings cancelled and
// awaited before the error leaves), return_exceptions, cancellation from
// outside, ranges, tasks and futures as children. Ports of the gather cases
// of CPython's test_tasks.py (GatherTestsBase / CoroutineGatherTests).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/log.hpp"
#include "aio/gather.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"

#include "support.hpp"

using namespace std::chrono_literals;


namespace {

using aio_test::CapturedLog;


aio::Coro<int> identity(int v) { co_return v; }

aio::Coro<int> value_after(int v, std::chrono::milliseconds d) {
    co_await aio::sleep(d);
    co_return v;
}

aio::Coro<std::string> text_after(std::string s, std::chrono::milliseconds d) {
    co_await aio::sleep(d);
    co_return s;
}

aio::Coro<> nothing_after(std::chrono::milliseconds d, int* done) {
    co_await aio::sleep(d);
    ++*done;
}

aio::Coro<int> fail_after(std::chrono::milliseconds d, std::string what) {
    co_await aio::sleep(d);
    throw std::runtime_error(what);
}

/// Records whether it was cancelled and when it finished unwinding.
struct Probe {
    bool started = false;
    bool cancelled = false;
    bool finished = false;
};

aio::Coro<int> long_child(Probe* p, std::chrono::milliseconds d = 10s) {
    p->started = true;
    try {
        co_await aio::sleep(d);
    } catch (const aio::CancelledError&) {
        p->cancelled = true;
        p->finished = true;
        throw;
    }
    p->finished = true;
    co_return 7;
}

/// A child that needs one more loop round trip to clean up after a cancel.
aio::Coro<int> slow_cleanup_child(Probe* p) {
    p->started = true;
    bool cancelled = false;
    try {
        co_await aio::sleep(10s);
    } catch (const aio::CancelledError&) {
        cancelled = true;
    }
    if (cancelled) {
        p->cancelled = true;
        co_await aio::sleep(1ms);  // cleanup that awaits
        p->finished = true;
        throw aio::CancelledError();
    }
    p->finished = true;
    co_return 0;
}

}  // namespace

TEST(Gather, ResultsKeepArgumentOrderAndTypes) {
    auto [a, b, c] = aio::run([]() -> aio::Coro<std::tuple<int, std::string, std::monostate>> {
        int done = 0;
        auto r = co_await aio::gather(value_after(1, 30ms), text_after("two", 10ms), nothing_after(20ms, &done));
        EXPECT_EQ(done, 1);
        co_return r;
    });
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
    (void)c;
}

TEST(Gather, RunsConcurrently) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        int started = 0, overlapped = 0;
        auto child = [&](int v) -> aio::Coro<int> {
            ++started;
            co_await aio::sleep(100ms);
            if (started == 3) ++overlapped;  // all three were running at once
            co_return v;
        };
        auto t0 = loop.time();
        auto r = co_await aio::gather(child(1), child(2), child(3));
        EXPECT_EQ(r, std::make_tuple(1, 2, 3));
        EXPECT_EQ(overlapped, 3);
        EXPECT_GE(loop.time() - t0, 100ms);
    });
}

TEST(Gather, EmptyVariadicAndRange) {
    aio::run([]() -> aio::Coro<> {
        auto t = co_await aio::gather();
        static_assert(std::tuple_size_v<decltype(t)> == 0);
        std::vector<aio::Coro<int>> none;
        auto v = co_await aio::gather(std::move(none));
        EXPECT_TRUE(v.empty());
    });
}

TEST(Gather, RangeOfCorosKeepsOrder) {
    aio::run([]() -> aio::Coro<> {
        std::vector<aio::Coro<int>> coros;
        for (int i = 0; i < 50; ++i) coros.push_back(value_after(i, std::chrono::milliseconds((50 - i) % 7)));
        std::vector<int> out = co_await aio::gather(std::move(coros));
        CO_ASSERT_TRUE(out.size() == 50u);
        for (int i = 0; i < 50; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], i);
    });
}

TEST(Gather, TasksAndFuturesAsChildren) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Task<int> t = aio::create_task(value_after(5, 5ms));
        aio::Future<std::string> f = loop.create_future<std::string>();
        loop.call_later(10ms, [f]() mutable { f.set_result("fut"); });
        auto [x, y, z] = co_await aio::gather(t, f, value_after(6, 1ms));
        EXPECT_EQ(x, 5);
        EXPECT_EQ(y, "fut");
        EXPECT_EQ(z, 6);
        EXPECT_EQ(t.result(), 5);  // an lvalue task keeps its result
    });
}

TEST(Gather, AlreadyDoneChildrenReturnWithoutSuspending) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> f = loop.create_future<int>();
        f.set_result(3);
        std::vector<aio::Future<int>> futs{f, f};
        auto v = co_await aio::gather(futs);
        EXPECT_EQ(v, (std::vector<int>{3, 3}));
    });
}

TEST(Gather, AnyAwaitableBecomesAChild) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto t0 = loop.time();
        auto [s, v] = co_await aio::gather(aio::sleep(50ms), value_after(1, 50ms));
        (void)s;
        EXPECT_EQ(v, 1);
        EXPECT_GE(loop.time() - t0, 50ms);
        EXPECT_LT(loop.time() - t0, 5s);
    });
}

// CPython: test_one_exception / "structured" variant: the failure leaves only
// after every sibling finished, and the siblings were cancelled.
TEST(Gather, FirstFailureCancelsSiblingsAndWaitsForThem) {
    Probe p1, p2;
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto t0 = loop.time();
        bool caught = false;
        try {
            co_await aio::gather(long_child(&p1), fail_after(10ms, "boom"), slow_cleanup_child(&p2));
        } catch (const std::runtime_error& e) {
            caught = true;
            EXPECT_STREQ(e.what(), "boom");
            // Both siblings are done by the time the error reaches us.
            EXPECT_TRUE(p1.finished);
            EXPECT_TRUE(p2.finished);
        }
        EXPECT_TRUE(caught);
        EXPECT_LT(loop.time() - t0, 5s);
    });
    EXPECT_TRUE(p1.cancelled);
    EXPECT_TRUE(p2.cancelled);
}

TEST(Gather, FirstOfSeveralFailuresWins) {
    aio::run([]() -> aio::Coro<> {
        try {
            co_await aio::gather(fail_after(30ms, "second"), fail_after(10ms, "first"));
            ADD_FAILURE() << "gather did not throw";
        } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "first");
        }
    });
}

TEST(Gather, SiblingFailuresAfterTheFirstAreNotReportedAsUnretrieved) {
    CapturedLog log;
    aio::run([]() -> aio::Coro<> {
        auto fails_on_cancel = []() -> aio::Coro<int> {
            try {
                co_await aio::sleep(10s);
            } catch (...) {
            }
            throw std::logic_error("cleanup failed");
        };
        bool caught = false;
        try {
            co_await aio::gather(fail_after(1ms, "first"), fails_on_cancel(), fails_on_cancel());
        } catch (const std::runtime_error& e) {
            caught = true;
            EXPECT_STREQ(e.what(), "first");
        }
        EXPECT_TRUE(caught);
    });
    EXPECT_EQ(log.count("never retrieved"), 0u);
}

TEST(Gather, FailureCancelsPassedTasksToo) {
    aio::run([]() -> aio::Coro<> {
        Probe p;
        aio::Task<int> t = aio::create_task(long_child(&p));
        bool caught = false;
        try {
            co_await aio::gather(t, fail_after(5ms, "x"));
        } catch (const std::runtime_error&) {
            caught = true;
        }
        EXPECT_TRUE(caught);
        EXPECT_TRUE(t.done());
        EXPECT_TRUE(t.cancelled());
    });
}

TEST(Gather, ChildCancelledIsAFailure) {
    aio::run([]() -> aio::Coro<> {
        Probe p1, p2;
        aio::Task<int> victim = aio::create_task(long_child(&p1));
        aio::get_running_loop().call_later(5ms, [victim]() mutable { victim.cancel("stop"); });
        bool caught = false;
        try {
            co_await aio::gather(victim, long_child(&p2));
        } catch (const aio::CancelledError& e) {
            caught = true;
            EXPECT_EQ(e.message(), "stop");
        }
        EXPECT_TRUE(caught);
        EXPECT_TRUE(p2.cancelled);
        // The gather's caller itself was not cancelled.
        EXPECT_EQ(aio::current_task()->cancelling(), 0u);
    });
}

TEST(Gather, ReturnExceptionsCollectsAndNeverCancels) {
    aio::run([]() -> aio::Coro<> {
        Probe p;
        auto [a, b, c] =
            co_await aio::gather(aio::return_exceptions, value_after(1, 20ms), fail_after(1ms, "bad"), long_child(&p, 30ms));
        EXPECT_TRUE(a.has_value());
        EXPECT_EQ(a.value(), 1);
        EXPECT_FALSE(b.has_value());
        EXPECT_THROW(b.value(), std::runtime_error);
        EXPECT_TRUE(c.has_value());
        EXPECT_EQ(*c, 7);
        EXPECT_FALSE(p.cancelled);
    });
}

TEST(Gather, ReturnExceptionsCancelledChildHoldsCancelledError) {
    aio::run([]() -> aio::Coro<> {
        Probe p;
        aio::Task<int> t = aio::create_task(long_child(&p));
        aio::get_running_loop().call_later(5ms, [t]() mutable { t.cancel(); });
        std::vector<aio::Task<int>> v{t};
        auto rs = co_await aio::gather(aio::return_exceptions, v);
        CO_ASSERT_TRUE(rs.size() == 1u);
        EXPECT_FALSE(rs[0].has_value());
        EXPECT_TRUE(rs[0].cancelled());
        EXPECT_THROW(rs[0].value(), aio::CancelledError);
    });
}

TEST(Gather, VoidResultsWithReturnExceptions) {
    aio::run([]() -> aio::Coro<> {
        int done = 0;
        auto [a] = co_await aio::gather(aio::return_exceptions, nothing_after(1ms, &done));
        EXPECT_TRUE(a.has_value());
        EXPECT_EQ(done, 1);
    });
}

// CPython: test_cancel_gather_1 / test_cancel_gather_2 (gather cancelled from
// outside cancels every child; structured: it waits for them).
TEST(Gather, CancelledFromOutsideCancelsAndAwaitsEveryChild) {
    Probe p1, p2;
    aio::run([&]() -> aio::Coro<> {
        aio::Task<std::tuple<int, int>> g =
            aio::create_task(aio::gather(long_child(&p1), slow_cleanup_child(&p2)));
        co_await aio::sleep(5ms);
        EXPECT_TRUE(p1.started && p2.started);
        g.cancel("outside");
        bool caught = false;
        try {
            co_await g;
        } catch (const aio::CancelledError& e) {
            caught = true;
            EXPECT_EQ(e.message(), "outside");
        }
        EXPECT_TRUE(caught);
        EXPECT_TRUE(g.cancelled());
        EXPECT_TRUE(p1.finished);
        EXPECT_TRUE(p2.finished);  // needed a loop round trip: gather waited for it
    });
    EXPECT_TRUE(p1.cancelled);
    EXPECT_TRUE(p2.cancelled);
}

TEST(Gather, CancelledWhileChildIgnoresCancellationStillRaises) {
    aio::run([]() -> aio::Coro<> {
        bool child_returned = false;
        auto stubborn = [&]() -> aio::Coro<int> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
            }
            co_await aio::sleep(5ms);
            child_returned = true;
            co_return 1;
        };
        auto g = aio::create_task(aio::gather(stubborn()));
        co_await aio::sleep(1ms);
        g.cancel();
        bool caught = false;
        try {
            co_await g;
        } catch (const aio::CancelledError&) {
            caught = true;
        }
        EXPECT_TRUE(caught);
        EXPECT_TRUE(child_returned);
    });
}

TEST(Gather, CancelledBeforeItStartsCancelsChildrenBeforeTheyRun) {
    aio::run([]() -> aio::Coro<> {
        Probe p;
        auto outer = [&]() -> aio::Coro<> {
            aio::current_task()->cancel();  // pending: the first suspension raises
            co_await aio::gather(long_child(&p));
        };
        aio::Task<> t = aio::create_task(outer());
        bool caught = false;
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
            caught = true;
        }
        EXPECT_TRUE(caught);
        EXPECT_FALSE(p.started);  // cancelled before its first step
    });
}

TEST(Gather, NestedGathers) {
    aio::run([]() -> aio::Coro<> {
        auto [inner, x] = co_await aio::gather(aio::gather(value_after(1, 2ms), value_after(2, 1ms)), value_after(3, 1ms));
        EXPECT_EQ(inner, std::make_tuple(1, 2));
        EXPECT_EQ(x, 3);
    });
}

TEST(Gather, ManyChildren) {
    aio::run([]() -> aio::Coro<> {
        for (int round = 0; round < 20; ++round) {
            std::vector<aio::Coro<int>> coros;
            coros.reserve(1000);
            for (int i = 0; i < 1000; ++i) coros.push_back(identity(i));
            std::vector<int> out = co_await aio::gather(std::move(coros));
            long sum = 0;
            for (int v : out) sum += v;
            EXPECT_EQ(sum, 999L * 1000 / 2);
        }
    });
}

TEST(Gather, MoveOnlyResults) {
    aio::run([]() -> aio::Coro<> {
        auto make = [](int v) -> aio::Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(v); };
        auto [a, b] = co_await aio::gather(make(1), make(2));
        EXPECT_EQ(*a, 1);
        EXPECT_EQ(*b, 2);
    });
}

// The loop closes while gather waits: the frames are destroyed unresumed and
// every wait node must unlink itself (checked under ASan).
TEST(Gather, LoopClosedWhileWaiting) {
    CapturedLog log;
    aio::EventLoop loop;
    loop.run_until_complete([]() -> aio::Coro<> {
        aio::create_task(aio::gather(value_after(1, 10s), value_after(2, 10s)));
        aio::create_task(aio::gather(aio::return_exceptions, value_after(1, 10s)));
        co_await aio::sleep(1ms);
    }());
    loop.close();
    EXPECT_GT(log.count("destroyed but it is pending"), 0u);
}
