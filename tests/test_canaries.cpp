// The canary tests of COROUTINE-PITFALLS.md: compiler and lifetime traps that
// must show up as failing tests, not as users' crashes. They run in every
// build configuration (g++-12 and clang-16, optimised and sanitized).
#include <string>
#include <tuple>

#include "support.hpp"

using namespace aio_test;

namespace {

aio::Coro<int> immediate(int i) { co_return i; }

// 1. A million awaits of a Coro that completes without suspending: the stack
// must not grow (the driver loop resumes frames; no reliance on tail calls).
TEST(Canary, MillionSynchronousAwaits) {
    long long sum = aio::run([]() -> aio::Coro<long long> {
        long long total = 0;
        for (int i = 0; i < 1'000'000; ++i) {
            int v = co_await immediate(i);
            total += v;
        }
        co_return total;
    });
    EXPECT_EQ(sum, 999'999LL * 1'000'000LL / 2);
}

aio::Coro<int> recurse(int depth) {
    if (depth == 0) co_return 0;
    int below = co_await recurse(depth - 1);
    co_return below + 1;
}

// 2. A 10,000-deep recursive chain completing synchronously.
TEST(Canary, DeepRecursiveChain) {
    EXPECT_EQ(aio::run(recurse(10'000)), 10'000);
}

// ... and one million deep, completing after a real suspension at the bottom.
aio::Coro<int> recurse_then_sleep(int depth) {
    if (depth == 0) {
        co_await aio::sleep(0s);
        co_return 0;
    }
    int below = co_await recurse_then_sleep(depth - 1);
    co_return below + 1;
}
TEST(Canary, MillionDeepChainWithSuspension) {
    EXPECT_EQ(aio::run(recurse_then_sleep(1'000'000)), 1'000'000);
}

// 3. A coroutine with no locals that only awaits and returns.
aio::Coro<> no_locals() { co_await aio::sleep(0s); }
TEST(Canary, NoLocals) {
    aio::run([]() -> aio::Coro<> {
        co_await no_locals();
        co_await no_locals();
    });
    SUCCEED();
}

// 4. A capturing lambda passed to create_task, awaited after sleep(0s): the
// captures must live in the task's frame, not in the dead closure.
TEST(Canary, CapturingLambdaTask) {
    std::string result = aio::run([]() -> aio::Coro<std::string> {
        aio::Task<std::string> t;
        {
            std::string captured = "captured-value";
            t = aio::create_task([captured]() -> aio::Coro<std::string> {
                co_await aio::sleep(0s);
                co_return captured + "!";
            });
        }  // the closure object passed in is gone; the frame keeps its copy
        std::string r = co_await t;
        co_return r;
    });
    EXPECT_EQ(result, "captured-value!");
}

// 5. Cancelling a task suspended in the middle of an expression: every
// constructed object is destroyed.
aio::Coro<int> value_after_sleep() {
    co_await aio::sleep(10s);
    co_return 1;
}
aio::Coro<int> mid_expression() {
    Counted a;
    std::string s = "x";
    int v = (Counted(), co_await value_after_sleep());
    co_return v + static_cast<int>(s.size());
}
TEST(Canary, CancelMidExpressionDestroysEverything) {
    Counted::reset();
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(mid_expression());
        co_await aio::sleep(0s);
        EXPECT_EQ(Counted::live, 2);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_TRUE(t.cancelled());
    });
    EXPECT_EQ(Counted::live, 0);
    EXPECT_EQ(Counted::constructed, 2);
}

// 6. A 100-deep chain that throws, and one that is cancelled.
aio::Coro<int> throw_at_bottom(int depth) {
    Counted guard;
    if (depth == 0) throw std::runtime_error("bottom");
    int v = co_await throw_at_bottom(depth - 1);
    co_return v;
}
TEST(Canary, DeepChainThrows) {
    Counted::reset();
    EXPECT_THROW(aio::run(throw_at_bottom(100)), std::runtime_error);
    EXPECT_EQ(Counted::live, 0);
    EXPECT_EQ(Counted::constructed, 101);
}

aio::Coro<int> sleep_at_bottom(int depth) {
    Counted guard;
    if (depth == 0) {
        co_await aio::sleep(10s);
        co_return 0;
    }
    int v = co_await sleep_at_bottom(depth - 1);
    co_return v;
}
TEST(Canary, DeepChainCancelled) {
    Counted::reset();
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task(sleep_at_bottom(100));
        co_await aio::sleep(0s);
        EXPECT_EQ(Counted::live, 101);
        t.cancel("stop");
        try {
            co_await t;
            ADD_FAILURE() << "expected CancelledError";
        } catch (const aio::CancelledError& e) {
            EXPECT_EQ(e.message(), "stop");
        }
    });
    EXPECT_EQ(Counted::live, 0);
}

// 7. co_await results bound with structured bindings.
aio::Coro<std::tuple<int, std::string>> pair_result() {
    co_await aio::sleep(0s);
    co_return std::tuple<int, std::string>{7, "seven"};
}
TEST(Canary, StructuredBindings) {
    aio::run([]() -> aio::Coro<> {
        auto [n, s] = co_await pair_result();
        EXPECT_EQ(n, 7);
        EXPECT_EQ(s, "seven");
    });
}

}  // namespace

// 8. (found here) g++ 12 destroys an aggregate temporary with non-trivial
// members twice when it is built inside a co_await / co_yield statement.
// The documented workaround — build it in a named local, then move it — must
// keep working on every compiler; counted objects prove single destruction.
namespace {
struct Payload {
    std::string text;
    Counted counted;
};
aio::Coro<std::size_t> consume(Payload p) {
    co_await aio::sleep(0s);
    co_return p.text.size();
}
aio::AsyncGenerator<Payload> produce() {
    for (int i = 0; i < 3; ++i) {
        Payload p{std::string(40, 'x'), {}};  // long enough to live on the heap
        co_yield std::move(p);
    }
}
}  // namespace

TEST(Canary, AggregateThroughNamedLocalIsDestroyedOnce) {
    Counted::reset();
    std::size_t total = aio::run([]() -> aio::Coro<std::size_t> {
        std::size_t sum = 0;
        Payload p{std::string(40, 'y'), {}};
        std::size_t n = co_await consume(std::move(p));
        sum += n;
        auto gen = produce();
        while (auto item = co_await gen.next()) sum += item->text.size();
        co_return sum;
    });
    EXPECT_EQ(total, 160u);
    EXPECT_EQ(Counted::live, 0);
}

// 9. (found here) g++ 12 also destroys an aggregate DEFAULT ARGUMENT of a
// coroutine twice when the call sits inside a co_await
// (`Coro<int> f(Options o = {}); co_await f();`). The rule: no aggregate
// default arguments on coroutines; an overload without the parameter that
// builds the default in a named local does the job on every compiler.
namespace {
aio::Coro<std::size_t> measure(Payload options) {
    co_await aio::sleep(0s);
    co_return options.text.size() + 1;
}
aio::Coro<std::size_t> measure() {
    Payload defaults{std::string(40, 'd'), {}};
    return measure(std::move(defaults));
}
}  // namespace

TEST(Canary, AggregateDefaultThroughOverloadIsDestroyedOnce) {
    Counted::reset();
    std::size_t total = aio::run([]() -> aio::Coro<std::size_t> {
        std::size_t a = co_await measure();
        Payload p{std::string(10, 'z'), {}};
        std::size_t b = co_await measure(std::move(p));
        co_return a + b;
    });
    EXPECT_EQ(total, 41u + 11u);
    EXPECT_EQ(Counted::live, 0);
}
