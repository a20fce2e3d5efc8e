// Tests for aio::AsyncGenerator (aio/async_generator.hpp) and the async
// comprehension helpers (aio/async_comprehension.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "aio/async_comprehension.hpp"
#include "aio/async_generator.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using namespace std::chrono_literals;
using Log = std::vector<std::string>;

namespace {

/// Counts live instances: every construction must have its destruction.
struct Counted {
    static inline int live = 0;
    Counted() { ++live; }
    Counted(const Counted&) { ++live; }
    ~Counted() { --live; }
};

aio::AsyncGenerator<int> count_up(int n, Log* log) {
    log->push_back("start");
    for (int i = 0; i < n; ++i) {
        co_await aio::sleep(0s);
        co_yield i;
    }
    log->push_back("end");
}

/// A generator with async cleanup written the documented way: capture the
/// exception, leave the catch block, co_await the cleanup, rethrow.
aio::AsyncGenerator<int> with_cleanup(Log* log, std::chrono::milliseconds cleanup_time = 1ms) {
    Counted guard;
    std::exception_ptr failure;
    try {
        for (int i = 0;; ++i) {
            co_yield i;
        }
    } catch (const aio::GeneratorExit&) {
        log->push_back("GeneratorExit");
        failure = std::current_exception();
    } catch (...) {
        log->push_back("other exception");
        failure = std::current_exception();
    }
    log->push_back("cleanup start");
    co_await aio::sleep(cleanup_time);
    log->push_back("cleanup done");
    if (failure) std::rethrow_exception(failure);
}

template <class F>
void run(F fn) {
    aio::run(std::move(fn));
}

}  // namespace

// ---------------------------------------------------------------------------
// Basics

TEST(AsyncGenerator, YieldsItemsInOrderThenNullopt) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = count_up(3, &log);
        std::vector<int> got;
        while (auto v = co_await gen.next()) got.push_back(*v);
        EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
        auto again = co_await gen.next();
        EXPECT_FALSE(again.has_value());
        EXPECT_TRUE(gen.done());
    });
    EXPECT_EQ(log, (Log{"start", "end"}));
}

TEST(AsyncGenerator, BodyStartsOnFirstNext) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = count_up(1, &log);
        co_await aio::sleep(0s);
        EXPECT_TRUE(log.empty());
        EXPECT_FALSE(gen.started());
        auto v = co_await gen.next();
        EXPECT_EQ(v, 0);
        EXPECT_EQ(log, (Log{"start"}));
        EXPECT_TRUE(gen.started());
        auto end = co_await gen.next();
        EXPECT_FALSE(end);
    });
}

namespace {
aio::AsyncGenerator<int> fails_after(int n) {
    for (int i = 0; i < n; ++i) co_yield i;
    throw std::runtime_error("boom");
}
}  // namespace

TEST(AsyncGenerator, BodyExceptionReachesConsumerThenEnds) {
    run([&]() -> aio::Coro<> {
        auto gen = fails_after(2);
        auto a = co_await gen.next();
        auto b = co_await gen.next();
        EXPECT_EQ(*a + *b, 1);
        bool thrown = false;
        try {
            auto c = co_await gen.next();
            (void)c;
        } catch (const std::runtime_error& e) {
            thrown = std::string(e.what()) == "boom";
        }
        EXPECT_TRUE(thrown);
        auto after = co_await gen.next();
        EXPECT_FALSE(after);
    });
}

TEST(AsyncGenerator, MoveOnlyConvertibleAndCopiedItems) {
    auto make_ptrs = []() -> aio::AsyncGenerator<std::unique_ptr<int>> {
        co_yield std::make_unique<int>(7);
        auto p = std::make_unique<int>(8);
        co_yield std::move(p);
    };
    auto make_strings = []() -> aio::AsyncGenerator<std::string> {
        co_yield "literal";  // converted
        std::string kept = "kept";
        co_yield kept;  // copied: the local stays intact
        EXPECT_EQ(kept, "kept");
    };
    run([&]() -> aio::Coro<> {
        auto ptrs = make_ptrs();
        auto a = co_await ptrs.next();
        auto b = co_await ptrs.next();
        EXPECT_EQ(**a + **b, 15);
        auto strings = make_strings();
        auto s1 = co_await strings.next();
        auto s2 = co_await strings.next();
        auto s3 = co_await strings.next();
        EXPECT_EQ(*s1, "literal");
        EXPECT_EQ(*s2, "kept");
        EXPECT_FALSE(s3);
    });
}

TEST(AsyncGenerator, ConcurrentNextIsRuntimeError) {
    auto slow = []() -> aio::AsyncGenerator<int> {
        co_await aio::sleep(20ms);
        co_yield 1;
    };
    run([&]() -> aio::Coro<> {
        auto gen = slow();
        aio::Task<std::optional<int>> first = aio::create_task([&]() -> aio::Coro<std::optional<int>> {
            auto v = co_await gen.next();
            co_return v;
        });
        co_await aio::sleep(0s);
        EXPECT_TRUE(gen.running());
        bool next_rejected = false, close_rejected = false;
        try {
            auto v = co_await gen.next();
            (void)v;
        } catch (const aio::RuntimeError&) {
            next_rejected = true;
        }
        try {
            co_await gen.aclose();
        } catch (const aio::RuntimeError&) {
            close_rejected = true;
        }
        EXPECT_TRUE(next_rejected);
        EXPECT_TRUE(close_rejected);
        auto got = co_await first;
        EXPECT_EQ(got, 1);
        co_await gen.aclose();
    });
}

TEST(AsyncGenerator, BodyAwaitsCorosAndOtherGenerators) {
    auto twice = [](int x) -> aio::Coro<int> {
        co_await aio::sleep(0s);
        co_return 2 * x;
    };
    auto doubled = [&](aio::AsyncGenerator<int> src) -> aio::AsyncGenerator<int> {
        while (true) {
            auto v = co_await src.next();
            if (!v) break;
            int d = co_await twice(*v);
            co_yield d;
        }
    };
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = doubled(count_up(3, &log));
        auto all = co_await aio::collect(std::move(gen));
        EXPECT_EQ(all, (std::vector<int>{0, 2, 4}));
    });
}

// ---------------------------------------------------------------------------
// Cancellation

TEST(AsyncGenerator, CancellingTheConsumerPropagatesIntoTheBody) {
    Log log;
    auto sleeper = [&]() -> aio::AsyncGenerator<int> {
        co_yield 1;
        try {
            co_await aio::sleep(10s);
        } catch (const aio::CancelledError&) {
            log.push_back("body cancelled");
            throw;
        }
        co_yield 2;
    };
    run([&]() -> aio::Coro<> {
        auto gen = sleeper();
        auto consumer = aio::create_task([&]() -> aio::Coro<> {
            auto a = co_await gen.next();
            EXPECT_EQ(a, 1);
            try {
                auto b = co_await gen.next();
                (void)b;
                log.push_back("not cancelled");
            } catch (const aio::CancelledError&) {
                log.push_back("consumer saw CancelledError");
                throw;
            }
        });
        co_await aio::sleep(10ms);
        auto t0 = aio::get_running_loop().time();
        consumer.cancel();
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_LT(aio::get_running_loop().time() - t0, 5s);
        EXPECT_TRUE(consumer.cancelled());
        EXPECT_TRUE(gen.done());
    });
    EXPECT_EQ(log, (Log{"body cancelled", "consumer saw CancelledError"}));
}

// ---------------------------------------------------------------------------
// aclose at every state

TEST(AsyncGeneratorClose, NeverStartedBodyNeverRuns) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = count_up(3, &log);
        co_await gen.aclose();
        EXPECT_TRUE(gen.done());
        auto v = co_await gen.next();
        EXPECT_FALSE(v);
    });
    EXPECT_TRUE(log.empty());
}

TEST(AsyncGeneratorClose, SuspendedRunsAsyncCleanup) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = with_cleanup(&log, 5ms);
        auto a = co_await gen.next();
        auto b = co_await gen.next();
        EXPECT_EQ(*a + *b, 1);
        auto t0 = aio::get_running_loop().time();
        co_await gen.aclose();
        EXPECT_GE(aio::get_running_loop().time() - t0, 5ms);  // the cleanup really awaited
        EXPECT_TRUE(gen.done());
        EXPECT_EQ(Counted::live, 0);
        auto v = co_await gen.next();
        EXPECT_FALSE(v);
        co_await gen.aclose();  // twice: nothing
    });
    EXPECT_EQ(log, (Log{"GeneratorExit", "cleanup start", "cleanup done"}));
}

TEST(AsyncGeneratorClose, FinishedIsNoop) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = count_up(1, &log);
        while (auto v = co_await gen.next()) {
        }
        co_await gen.aclose();
        EXPECT_TRUE(gen.done());
    });
    EXPECT_EQ(log, (Log{"start", "end"}));
}

TEST(AsyncGeneratorClose, EmptyGeneratorIsNoop) {
    run([&]() -> aio::Coro<> {
        aio::AsyncGenerator<int> empty;
        co_await empty.aclose();
        bool thrown = false;
        try {
            auto v = co_await empty.next();
            (void)v;
        } catch (const aio::InvalidStateError&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
    });
}

TEST(AsyncGeneratorClose, ExceptionInCleanupReachesTheCloser) {
    auto bad_cleanup = []() -> aio::AsyncGenerator<int> {
        std::exception_ptr failure;
        try {
            co_yield 1;
        } catch (...) {
            failure = std::current_exception();
        }
        co_await aio::sleep(0s);
        throw std::logic_error("cleanup failed");
    };
    run([&]() -> aio::Coro<> {
        auto gen = bad_cleanup();
        auto v = co_await gen.next();
        EXPECT_EQ(v, 1);
        bool thrown = false;
        try {
            co_await gen.aclose();
        } catch (const std::logic_error& e) {
            thrown = std::string(e.what()) == "cleanup failed";
        }
        EXPECT_TRUE(thrown);
        EXPECT_TRUE(gen.done());
    });
}

TEST(AsyncGeneratorClose, YieldingDuringCloseIsRuntimeError) {
    auto stubborn = []() -> aio::AsyncGenerator<int> {
        try {
            co_yield 1;
        } catch (const aio::GeneratorExit&) {
        }
        co_yield 2;  // ignores the close
    };
    run([&]() -> aio::Coro<> {
        auto gen = stubborn();
        auto v = co_await gen.next();
        EXPECT_EQ(v, 1);
        bool thrown = false;
        try {
            co_await gen.aclose();
        } catch (const aio::RuntimeError& e) {
            thrown = std::string(e.what()).find("ignored GeneratorExit") != std::string::npos;
        }
        EXPECT_TRUE(thrown);
    });
}

TEST(AsyncGeneratorClose, CatchStdExceptionDoesNotSwallowClose) {
    Log log;
    auto gen_fn = [&]() -> aio::AsyncGenerator<int> {
        try {
            co_yield 1;
        } catch (const std::exception&) {
            log.push_back("swallowed");
        }
        log.push_back("after");
    };
    run([&]() -> aio::Coro<> {
        auto gen = gen_fn();
        auto v = co_await gen.next();
        EXPECT_EQ(v, 1);
        co_await gen.aclose();
    });
    EXPECT_TRUE(log.empty());
}

TEST(AsyncGeneratorClose, CancellationDuringCleanup) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = with_cleanup(&log, 10s);
        auto closer = aio::create_task([&]() -> aio::Coro<> {
            auto v = co_await gen.next();
            EXPECT_EQ(v, 0);
            try {
                co_await gen.aclose();
            } catch (const aio::CancelledError&) {
                log.push_back("aclose cancelled");
                throw;
            }
        });
        co_await aio::sleep(10ms);
        EXPECT_EQ(log, (Log{"GeneratorExit", "cleanup start"}));
        closer.cancel();
        try {
            co_await closer;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(closer.cancelled());
        EXPECT_TRUE(gen.done());
        EXPECT_EQ(Counted::live, 0);  // the body's destructors ran
    });
    EXPECT_EQ(log, (Log{"GeneratorExit", "cleanup start", "aclose cancelled"}));
}

// ---------------------------------------------------------------------------
// athrow

TEST(AsyncGeneratorThrow, DeliveredAtTheYield) {
    auto resilient = []() -> aio::AsyncGenerator<std::string> {
        std::string msg;
        for (;;) {
            try {
                co_yield "item";
            } catch (const std::runtime_error& e) {
                msg = std::string("handled ") + e.what();  // no co_yield in a handler
            }
            if (!msg.empty()) break;
        }
        co_yield msg;
    };
    run([&]() -> aio::Coro<> {
        auto gen = resilient();
        auto a = co_await gen.next();
        EXPECT_EQ(*a, "item");
        auto b = co_await gen.athrow(std::make_exception_ptr(std::runtime_error("x")));
        EXPECT_EQ(*b, "handled x");
        auto c = co_await gen.next();
        EXPECT_FALSE(c);
    });
}

TEST(AsyncGeneratorThrow, UnhandledPropagatesAndNeverStartedRethrows) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = count_up(5, &log);
        auto a = co_await gen.next();
        EXPECT_EQ(a, 0);
        bool thrown = false;
        try {
            auto b = co_await gen.athrow(std::make_exception_ptr(std::out_of_range("oops")));
            (void)b;
        } catch (const std::out_of_range&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
        EXPECT_TRUE(gen.done());

        auto fresh = count_up(5, &log);
        bool fresh_thrown = false;
        try {
            auto b = co_await fresh.athrow(std::make_exception_ptr(std::out_of_range("early")));
            (void)b;
        } catch (const std::out_of_range&) {
            fresh_thrown = true;
        }
        EXPECT_TRUE(fresh_thrown);
        EXPECT_TRUE(fresh.done());
    });
    EXPECT_EQ(log, (Log{"start"}));  // the fresh generator never ran
}

// ---------------------------------------------------------------------------
// Destroying an unclosed generator

TEST(AsyncGeneratorDestroy, RunsDestructorsAndReportsInDebugMode) {
    Log log;
    std::vector<std::string> reports;
    {
        aio::Runner runner(aio::RunOptions{.debug = true});
        runner.get_loop().set_exception_handler(
            [&](aio::EventLoop&, const aio::ExceptionContext& ctx) { reports.push_back(ctx.message); });
        runner.run([&]() -> aio::Coro<> {
            {
                auto gen = with_cleanup(&log);
                auto v = co_await gen.next();
                EXPECT_EQ(v, 0);
                EXPECT_EQ(Counted::live, 1);
            }  // destroyed suspended at its co_yield
            EXPECT_EQ(Counted::live, 0);
            {
                auto never = with_cleanup(&log);  // never started: nothing skipped
            }
            {
                auto done = with_cleanup(&log);
                auto v = co_await done.next();
                (void)v;
                co_await done.aclose();
            }
        });
    }
    EXPECT_EQ(log, (Log{"GeneratorExit", "cleanup start", "cleanup done"}));  // only the closed one
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("AsyncGenerator was destroyed before its async cleanup ran"), std::string::npos);
}

TEST(AsyncGeneratorDestroy, NoReportOutsideDebugMode) {
    Log log;
    std::vector<std::string> reports;
    aio::Runner runner(aio::RunOptions{.debug = false});
    runner.get_loop().set_exception_handler(
        [&](aio::EventLoop&, const aio::ExceptionContext& ctx) { reports.push_back(ctx.message); });
    runner.run([&]() -> aio::Coro<> {
        auto gen = with_cleanup(&log);
        auto v = co_await gen.next();
        (void)v;
    });
    EXPECT_TRUE(reports.empty());
    EXPECT_EQ(Counted::live, 0);
}

// ---------------------------------------------------------------------------
// Delegation: co_yield aio::yield_from(sub)

namespace {
aio::AsyncGenerator<int> range(int from, int to, Log* log) {
    std::exception_ptr failure;
    try {
        for (int i = from; i < to; ++i) co_yield i;
    } catch (...) {
        failure = std::current_exception();
    }
    co_await aio::sleep(0s);
    log->push_back("range " + std::to_string(from) + " cleanup");
    if (failure) std::rethrow_exception(failure);
}

aio::AsyncGenerator<int> chained(Log* log) {
    std::exception_ptr failure;
    try {
        co_yield -1;
        co_yield aio::yield_from(range(0, 3, log));
        co_yield 100;
        co_yield aio::yield_from(range(10, 12, log));
    } catch (...) {
        failure = std::current_exception();
    }
    co_await aio::sleep(0s);
    log->push_back("outer cleanup");
    if (failure) std::rethrow_exception(failure);
}
}  // namespace

TEST(AsyncGeneratorDelegation, ItemsPassThroughInOrder) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto all = co_await aio::collect(chained(&log));
        EXPECT_EQ(all, (std::vector<int>{-1, 0, 1, 2, 100, 10, 11}));
    });
    EXPECT_EQ(log, (Log{"range 0 cleanup", "range 10 cleanup", "outer cleanup"}));
}

TEST(AsyncGeneratorDelegation, AcloseRunsInnermostCleanupFirst) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto gen = chained(&log);
        auto a = co_await gen.next();
        auto b = co_await gen.next();  // inside range(0, 3)
        EXPECT_EQ(*a + *b, -1);
        co_await gen.aclose();
        EXPECT_TRUE(gen.done());
    });
    EXPECT_EQ(log, (Log{"range 0 cleanup", "outer cleanup"}));
}

TEST(AsyncGeneratorDelegation, SubGeneratorErrorsReachTheDelegator) {
    Log log;
    auto outer = [&]() -> aio::AsyncGenerator<int> {
        try {
            co_yield aio::yield_from(fails_after(2));
        } catch (const std::runtime_error& e) {
            log.push_back(std::string("caught ") + e.what());
        }
        co_yield 42;
    };
    run([&]() -> aio::Coro<> {
        auto all = co_await aio::collect(outer());
        EXPECT_EQ(all, (std::vector<int>{0, 1, 42}));
    });
    EXPECT_EQ(log, (Log{"caught boom"}));
}

TEST(AsyncGeneratorDelegation, AthrowGoesToTheInnermostGenerator) {
    Log log;
    auto inner = [&]() -> aio::AsyncGenerator<int> {
        try {
            co_yield 1;
        } catch (const std::runtime_error&) {
            log.push_back("inner caught");
        }
        co_yield 2;
    };
    auto outer = [&]() -> aio::AsyncGenerator<int> {
        co_yield aio::yield_from(inner());
        co_yield 3;
    };
    run([&]() -> aio::Coro<> {
        auto gen = outer();
        auto a = co_await gen.next();
        auto b = co_await gen.athrow(std::make_exception_ptr(std::runtime_error("x")));
        auto c = co_await gen.next();
        auto d = co_await gen.next();
        EXPECT_EQ(a, 1);
        EXPECT_EQ(b, 2);
        EXPECT_EQ(c, 3);
        EXPECT_FALSE(d);
    });
    EXPECT_EQ(log, (Log{"inner caught"}));
}

TEST(AsyncGeneratorDelegation, ToAStartedGeneratorContinuesWhereItWas) {
    Log log;
    auto outer = [&](aio::AsyncGenerator<int>& sub) -> aio::AsyncGenerator<int> {
        co_yield aio::yield_from(sub);  // borrowed: sub stays owned by the caller
        co_yield 99;
    };
    run([&]() -> aio::Coro<> {
        auto sub = range(0, 4, &log);
        auto first = co_await sub.next();
        EXPECT_EQ(first, 0);
        auto gen = outer(sub);
        auto rest = co_await aio::collect(std::move(gen));
        EXPECT_EQ(rest, (std::vector<int>{1, 2, 3, 99}));
        EXPECT_TRUE(sub.done());
    });
}

TEST(AsyncGeneratorDelegation, CancellationReachesTheInnermostBody) {
    Log log;
    auto inner = [&]() -> aio::AsyncGenerator<int> {
        co_yield 1;
        try {
            co_await aio::sleep(10s);
        } catch (const aio::CancelledError&) {
            log.push_back("inner cancelled");
            throw;
        }
    };
    auto outer = [&]() -> aio::AsyncGenerator<int> {
        try {
            co_yield aio::yield_from(inner());
        } catch (const aio::CancelledError&) {
            log.push_back("outer cancelled");
            throw;
        }
    };
    run([&]() -> aio::Coro<> {
        auto consumer = aio::create_task([&]() -> aio::Coro<> {
            auto gen = outer();
            while (auto v = co_await gen.next()) {
            }
        });
        co_await aio::sleep(5ms);
        consumer.cancel();
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(consumer.cancelled());
    });
    EXPECT_EQ(log, (Log{"inner cancelled", "outer cancelled"}));
}

namespace {
std::uintptr_t innermost_stack = 0;

[[gnu::noinline]] std::uintptr_t stack_position() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

aio::AsyncGenerator<int> nested(int depth) {
    if (depth == 0) {
        innermost_stack = stack_position();
        co_yield 1;
        co_yield 2;
        co_return;
    }
    co_yield aio::yield_from(nested(depth - 1));
}

aio::AsyncGenerator<int> nested_failing(int depth) {
    if (depth == 0) throw std::runtime_error("deep");
    co_yield aio::yield_from(nested_failing(depth - 1));
}

std::uintptr_t distance(std::uintptr_t a, std::uintptr_t b) { return a > b ? a - b : b - a; }
}  // namespace

TEST(AsyncGeneratorDelegation, TenThousandDeepWithoutStackGrowth) {
    constexpr int kDepth = 10'000;
    run([&]() -> aio::Coro<> {
        std::uintptr_t consumer_stack = stack_position();
        auto gen = nested(kDepth);
        int sum = 0;
        while (auto v = co_await gen.next()) sum += *v;
        EXPECT_EQ(sum, 3);
        // Innermost body and consumer are both resumed by the task's driver:
        // the stack did not grow with the depth (10,000 frames of recursion
        // would be megabytes).
        EXPECT_LT(distance(consumer_stack, innermost_stack), 16u * 1024u);
    });
}

TEST(AsyncGeneratorDelegation, TenThousandDeepCloseAndDestroy) {
    constexpr int kDepth = 10'000;
    run([&]() -> aio::Coro<> {
        auto closed = nested(kDepth);
        auto a = co_await closed.next();
        EXPECT_EQ(a, 1);
        co_await closed.aclose();  // GeneratorExit unwinds 10,000 frames, one at a time
        EXPECT_TRUE(closed.done());
        {
            auto dropped = nested(kDepth);
            auto b = co_await dropped.next();
            EXPECT_EQ(b, 1);
        }  // destroyed innermost first, in a loop
        bool thrown = false;
        try {
            auto all = co_await aio::collect(nested_failing(kDepth));
            (void)all;
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
    });
}

// ---------------------------------------------------------------------------
// Async comprehensions

TEST(AsyncComprehension, CollectFilterTransform) {
    Log log;
    auto is_odd = [](const int& x) { return x % 2 == 1; };
    auto slow_even = [](const int& x) -> aio::Coro<bool> {
        co_await aio::sleep(0s);
        co_return x % 2 == 0;
    };
    auto label = [](int x) { return "#" + std::to_string(x); };
    auto square_async = [](int x) -> aio::Coro<int> {
        co_await aio::sleep(0s);
        co_return x* x;
    };
    run([&]() -> aio::Coro<> {
        auto odds = co_await aio::collect(count_up(6, &log), is_odd);
        EXPECT_EQ(odds, (std::vector<int>{1, 3, 5}));
        auto evens = co_await aio::collect(aio::filter(count_up(6, &log), slow_even));
        EXPECT_EQ(evens, (std::vector<int>{0, 2, 4}));
        auto labels = co_await aio::collect(aio::transform(count_up(3, &log), label));
        EXPECT_EQ(labels, (std::vector<std::string>{"#0", "#1", "#2"}));
        auto squares = co_await aio::collect(aio::transform(aio::filter(count_up(5, &log), is_odd), square_async));
        EXPECT_EQ(squares, (std::vector<int>{1, 9}));
    });
}

TEST(AsyncComprehension, HelpersAreLazyAndCloseTheirSource) {
    Log log;
    run([&]() -> aio::Coro<> {
        auto odd = aio::filter(with_cleanup(&log), [](const int& x) { return x % 2 == 1; });
        co_await aio::sleep(0s);
        EXPECT_TRUE(log.empty());
        auto a = co_await odd.next();
        auto b = co_await odd.next();
        EXPECT_EQ(a, 1);
        EXPECT_EQ(b, 3);
        co_await odd.aclose();  // closes the source: its async cleanup runs
        EXPECT_EQ(Counted::live, 0);
    });
    EXPECT_EQ(log, (Log{"GeneratorExit", "cleanup start", "cleanup done"}));
}
