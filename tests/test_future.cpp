// Future: set once, many awaiters, callbacks, cancellation. Scenarios follow
// CPython's test_futures.
#include <string>

#include "support.hpp"

using namespace aio_test;

namespace {

TEST(Future, NeedsARunningLoopOrAnExplicitOne) {
    EXPECT_THROW(aio::Future<int>{}, aio::RuntimeError);
    aio::EventLoop loop;
    aio::Future<int> f(loop);
    EXPECT_FALSE(f.done());
    EXPECT_EQ(&f.get_loop(), &loop);
}

TEST(Future, SetResultOnceOnly) {
    aio::EventLoop loop;
    aio::Future<std::string> f = loop.create_future<std::string>();
    EXPECT_THROW(f.result(), aio::InvalidStateError);
    EXPECT_THROW(f.exception(), aio::InvalidStateError);
    f.set_result("one");
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), "one");
    EXPECT_EQ(f.exception(), nullptr);
    EXPECT_THROW(f.set_result("two"), aio::InvalidStateError);
    EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))), aio::InvalidStateError);
    EXPECT_FALSE(f.cancel());
    EXPECT_EQ(f.result(), "one");
}

TEST(Future, SetException) {
    aio::EventLoop loop;
    aio::Future<int> f = loop.create_future<int>();
    EXPECT_THROW(f.set_exception(nullptr), std::invalid_argument);
    f.set_exception(std::make_exception_ptr(std::domain_error("bad")));
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_THROW(f.result(), std::domain_error);
    EXPECT_NE(f.exception(), nullptr);
}

TEST(Future, CancelWithMessage) {
    aio::EventLoop loop;
    aio::Future<> f = loop.create_future();
    EXPECT_TRUE(f.cancel("stop it"));
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancel());
    try {
        f.result();
        ADD_FAILURE();
    } catch (const aio::CancelledError& e) {
        EXPECT_EQ(e.message(), "stop it");
    }
    EXPECT_THROW(f.exception(), aio::CancelledError);
    EXPECT_THROW(f.set_result(), aio::InvalidStateError);
}

TEST(Future, ManyAwaitersAllGetTheResult) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> f;
        std::vector<aio::Task<int>> waiters;
        for (int i = 0; i < 5; ++i)
            waiters.push_back(aio::create_task([f, i]() -> aio::Coro<int> {
                int v = co_await f;
                co_return v + i;
            }));
        co_await aio::sleep(0s);
        f.set_result(10);
        for (int i = 0; i < 5; ++i) {
            int v = co_await waiters[static_cast<std::size_t>(i)];
            EXPECT_EQ(v, 10 + i);
        }
    });
}

TEST(Future, AwaitingDoneFutureDoesNotSuspend) {
    bool other_ran = false;  // outlives the coroutine: the callback runs at shutdown
    aio::run([&other_ran]() -> aio::Coro<> {
        aio::Future<int> f;
        f.set_result(3);
        (void)aio::get_running_loop().call_soon([&] { other_ran = true; });
        int v = co_await f;
        EXPECT_EQ(v, 3);
        EXPECT_FALSE(other_ran);  // as asyncio: no trip through the loop
    });
}

TEST(Future, ExceptionReachesEveryAwaiter) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> f;
        auto a = aio::create_task([f]() -> aio::Coro<int> {
            int v = co_await f;
            co_return v;
        });
        auto b = aio::create_task([f]() -> aio::Coro<int> {
            int v = co_await f;
            co_return v;
        });
        co_await aio::sleep(0s);
        f.set_exception(std::make_exception_ptr(std::runtime_error("shared failure")));
        EXPECT_THROW(co_await a, std::runtime_error);
        EXPECT_THROW(co_await b, std::runtime_error);
    });
}

TEST(Future, CancelWakesAwaitersWithCancelledError) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<int> f;
        auto a = aio::create_task([f]() -> aio::Coro<std::string> {
            try {
                co_await f;
            } catch (const aio::CancelledError& e) {
                co_return e.message();
            }
            co_return "no";
        });
        co_await aio::sleep(0s);
        f.cancel("gone");
        std::string msg = co_await a;
        EXPECT_EQ(msg, "gone");
    });
}

TEST(Future, DoneCallbacksScheduledInOrderWithTheFuture) {
    aio::EventLoop loop;
    aio::Future<int> f = loop.create_future<int>();
    std::vector<int> seen;
    f.add_done_callback([&](aio::Future<int>& done) { seen.push_back(done.result()); });
    f.add_done_callback([&] { seen.push_back(-1); });
    auto id = f.add_done_callback([&] { seen.push_back(-2); });
    EXPECT_EQ(f.remove_done_callback(id), 1u);
    f.set_result(5);
    EXPECT_TRUE(seen.empty());  // through call_soon, not inline
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(seen, (std::vector<int>{5, -1}));
}

TEST(Future, CallbackOnNeverFinishedFutureIsReleased) {
    Counted::reset();
    {
        aio::EventLoop loop;
        aio::Future<int> f = loop.create_future<int>();
        f.add_done_callback([c = Counted()] {});
        EXPECT_EQ(Counted::live, 1);
    }
    EXPECT_EQ(Counted::live, 0);
}

TEST(Future, SetFromAnotherThreadThroughCallSoonThreadsafe) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> f;
        std::thread worker([&loop, f]() mutable {
            loop.call_soon_threadsafe([f]() mutable { f.set_result(99); });
        });
        int v = co_await f;
        worker.join();
        EXPECT_EQ(v, 99);
    });
}

TEST(Future, MoveOnlyValue) {
    aio::run([]() -> aio::Coro<> {
        aio::Future<std::unique_ptr<int>> f;
        f.set_result(std::make_unique<int>(4));
        std::unique_ptr<int> p = co_await f;
        CO_ASSERT_TRUE(p != nullptr);
        EXPECT_EQ(*p, 4);
    });
}

}  // namespace
