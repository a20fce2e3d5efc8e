// ThreadPoolExecutor, loop.run_in_executor and aio::to_thread (issue 6).
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/executor.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// A gate a worker blocks on until the test opens it (a plain-thread latch
/// that can be opened from the loop).
class Gate {
public:
    void open() {
        {
            std::lock_guard lock(m_);
            open_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

/// Counts live instances across threads.
struct Tracked {
    static inline std::atomic<int> live{0};
    int value;
    explicit Tracked(int v) : value(v) { ++live; }
    Tracked(const Tracked& o) : value(o.value) { ++live; }
    Tracked(Tracked&& o) noexcept : value(o.value) { ++live; }
    ~Tracked() { --live; }
};

double seconds_since(aio::Clock::time_point t0) {
    return std::chrono::duration<double>(aio::Clock::now() - t0).count();
}

}  // namespace

TEST(ToThread, ReturnsTheValueAndResumesOnTheLoopThread) {
    const auto loop_thread = std::this_thread::get_id();
    std::thread::id worker_thread;
    std::thread::id resumed_on;
    int result = aio::run([&]() -> aio::Coro<int> {
        int r = co_await aio::to_thread(
            [&](int a, int b) {
                worker_thread = std::this_thread::get_id();
                return a * b;
            },
            6, 7);
        resumed_on = std::this_thread::get_id();
        co_return r;
    });
    EXPECT_EQ(result, 42);
    EXPECT_NE(worker_thread, loop_thread);
    EXPECT_EQ(resumed_on, loop_thread);
}

TEST(ToThread, VoidFunctionAndMovedArguments) {
    std::string seen;
    aio::run([&]() -> aio::Coro<> {
        std::string arg(1000, 'x');
        co_await aio::to_thread([&seen](std::string s) { seen = std::move(s); }, std::move(arg));
    });
    EXPECT_EQ(seen, std::string(1000, 'x'));
}

TEST(ToThread, MoveOnlyResult) {
    int v = aio::run([]() -> aio::Coro<int> {
        std::unique_ptr<int> p = co_await aio::to_thread([] { return std::make_unique<int>(5); });
        co_return *p;
    });
    EXPECT_EQ(v, 5);
}

TEST(ToThread, IsLazyLikeACoroutine) {
    std::atomic<bool> ran{false};
    aio::run([&]() -> aio::Coro<> {
        auto pending = aio::to_thread([&] { ran = true; });
        co_await aio::sleep(20ms);
        EXPECT_FALSE(ran.load());  // nothing queued until awaited
        co_await std::move(pending);
        EXPECT_TRUE(ran.load());
    });
}

TEST(ToThread, ExceptionReachesTheAwaiter) {
    std::string message;
    aio::run([&]() -> aio::Coro<> {
        try {
            co_await aio::to_thread([]() -> int { throw std::runtime_error("boom in worker"); });
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
    });
    EXPECT_EQ(message, "boom in worker");
}

TEST(ToThread, CancellingTheAwaiterAbandonsTheRunningCallAndLeaksNothing) {
    Tracked::live = 0;
    Gate gate;
    std::atomic<bool> finished{false};
    bool got_cancelled = false;
    double cancel_latency = 1e9;
    aio::run([&]() -> aio::Coro<> {
        auto task = aio::create_task([&]() -> aio::Coro<> {
            try {
                // A named callable: g++ 12 destroys a lambda with non-trivial
                // captures twice when it is written inside a co_await
                // statement (docs/threads-and-processes.md).
                auto work = [&, big = std::make_shared<Tracked>(1)] {
                    gate.wait();
                    finished = true;
                    return Tracked(big->value + 1);
                };
                Tracked t = co_await aio::to_thread(std::move(work));
                ADD_FAILURE() << "the await should have been cancelled, got " << t.value;
            } catch (const aio::CancelledError&) {
                got_cancelled = true;
                throw;
            }
        });
        co_await aio::sleep(20ms);  // the call is running on a worker now
        auto t0 = aio::get_running_loop().time();
        task.cancel();
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
        }
        cancel_latency = seconds_since(t0);
        EXPECT_FALSE(finished.load());  // the call cannot be interrupted: still blocked
        gate.open();
        // The worker finishes; its result is destroyed, not delivered.
        for (int i = 0; i < 500 && !finished.load(); ++i) co_await aio::sleep(2ms);
    });
    // aio::run waited for the default executor's workers before returning.
    EXPECT_TRUE(finished.load());
    EXPECT_TRUE(got_cancelled);
    EXPECT_LT(cancel_latency, 1.0);
    EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(ToThread, ACallStillQueuedWhenCancelledNeverRuns) {
    Gate gate;
    std::atomic<bool> second_ran{false};
    aio::ThreadPoolExecutor one(1);
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<> first = loop.run_in_executor(&one, [&] { gate.wait(); });
        aio::Future<> second = loop.run_in_executor(&one, [&] { second_ran = true; });
        auto waiter = aio::create_task([second]() -> aio::Coro<> { co_await second; });
        co_await aio::sleep(10ms);
        waiter.cancel();
        try {
            co_await waiter;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(second.cancelled());  // awaiting a Future and being cancelled cancels it
        gate.open();
        co_await first;
    });
    one.shutdown(true);
    EXPECT_FALSE(second_ran.load());
}

TEST(RunInExecutor, NullMeansTheDefaultExecutorCreatedOnDemand) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> f = loop.run_in_executor(nullptr, [](int x) { return x + 1; }, 41);
        int v = co_await f;
        EXPECT_EQ(v, 42);
        EXPECT_GE(loop.default_executor().max_workers(), 5u);
        EXPECT_GE(loop.default_executor().thread_count(), 1u);
    });
}

TEST(RunInExecutor, CustomExecutorBoundsTheWorkers) {
    aio::ThreadPoolExecutor pool(2, "bounded");
    std::atomic<int> running{0}, peak{0};
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        std::vector<aio::Future<int>> futures;
        for (int i = 0; i < 12; ++i) {
            futures.push_back(loop.run_in_executor(&pool, [&, i] {
                int now = ++running;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                std::this_thread::sleep_for(5ms);
                --running;
                return i;
            }));
        }
        int sum = 0;
        for (auto& f : futures) {
            int v = co_await f;
            sum += v;
        }
        EXPECT_EQ(sum, 66);
    });
    EXPECT_LE(peak.load(), 2);
    EXPECT_EQ(pool.max_workers(), 2u);
    EXPECT_LE(pool.thread_count(), 2u);
}

TEST(RunInExecutor, ShutDownExecutorRaisesAtOnce) {
    aio::ThreadPoolExecutor pool(1);
    pool.shutdown();
    aio::run([&]() -> aio::Coro<> {
        EXPECT_THROW(aio::get_running_loop().run_in_executor(&pool, [] {}), aio::RuntimeError);
        co_return;
    });
}

TEST(RunInExecutor, DefaultExecutorAfterShutdownRaises) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        co_await loop.shutdown_default_executor();
        EXPECT_THROW(loop.run_in_executor(nullptr, [] {}), aio::RuntimeError);
    });
}

TEST(RunInExecutor, ManyConcurrentCalls) {
    long total = aio::run([]() -> aio::Coro<long> {
        auto& loop = aio::get_running_loop();
        std::vector<aio::Future<long>> fs;
        for (long i = 0; i < 2000; ++i) fs.push_back(loop.run_in_executor(nullptr, [i] { return i; }));
        long sum = 0;
        for (auto& f : fs) {
            long v = co_await f;
            sum += v;
        }
        co_return sum;
    });
    EXPECT_EQ(total, 1999L * 2000 / 2);
}

TEST(RunShutdown, WaitsForTheDefaultExecutorsWorkers) {
    std::atomic<bool> finished{false};
    aio::run([&]() -> aio::Coro<> {
        // Fire and forget: the main task returns while the call still runs.
        aio::Future<> f = aio::get_running_loop().run_in_executor(nullptr, [&] {
            std::this_thread::sleep_for(100ms);
            finished = true;
        });
        (void)f;
        co_return;
    });
    EXPECT_TRUE(finished.load());
}

TEST(RunShutdown, AWorkerMayStillTalkToTheLoopWhileItShutsDown) {
    // The default executor is joined while the loop runs, so a worker that
    // needs the loop (run_coroutine_threadsafe) does not deadlock shutdown.
    std::atomic<int> from_loop{0};
    aio::run([&]() -> aio::Coro<> {
        aio::EventLoop* loop = &aio::get_running_loop();
        aio::Future<> f = loop->run_in_executor(nullptr, [&, loop] {
            std::this_thread::sleep_for(30ms);
            from_loop = aio::run_coroutine_threadsafe([]() -> aio::Coro<int> { co_return 7; }, *loop).result();
        });
        (void)f;
        co_return;
    });
    EXPECT_EQ(from_loop.load(), 7);
}

TEST(RunInExecutor, AnExceptionNobodyCanReceiveIsLogged) {
    std::vector<std::string> logged;
    auto previous = aio::set_log_handler([&](aio::LogLevel, std::string_view m) { logged.emplace_back(m); });
    std::atomic<bool> thrown{false};
    aio::run([&]() -> aio::Coro<> {
        {
            aio::Future<> dropped = aio::get_running_loop().run_in_executor(nullptr, [&] {
                std::this_thread::sleep_for(10ms);
                thrown = true;
                throw std::runtime_error("lost in a thread");
            });
        }
        while (!thrown) co_await aio::sleep(1ms);
        co_await aio::sleep(20ms);  // the outcome comes back to the loop
    });
    aio::set_log_handler(previous);
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_NE(logged[0].find("lost in a thread"), std::string::npos) << logged[0];
}

TEST(RunInExecutor, ALoopClosedWhileACallRunsDropsItsResultSafely) {
    Tracked::live = 0;
    Gate gate;
    std::atomic<bool> finished{false};
    {
        aio::EventLoop loop;
        aio::Future<Tracked> f = loop.run_in_executor(nullptr, [&] {
            gate.wait();
            finished = true;
            return Tracked(1);
        });
        loop.close();  // no shutdown_default_executor: the call still runs
        gate.open();
        EXPECT_FALSE(f.done());
    }  // the loop's destructor joins the default executor's workers
    EXPECT_TRUE(finished.load());
    EXPECT_EQ(Tracked::live.load(), 0);
}

// --- ThreadPoolExecutor without a loop ----------------------------------------------

TEST(ThreadPoolExecutor, SubmitGivesAConcurrentFuture) {
    aio::ThreadPoolExecutor pool(3);
    auto f = pool.submit([](int a) { return a * 2; }, 21);
    EXPECT_EQ(f.result(), 42);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.exception(), nullptr);
    auto g = pool.submit([]() -> int { throw std::logic_error("nope"); });
    EXPECT_THROW(g.result(), std::logic_error);
    EXPECT_NE(g.exception(), nullptr);
    auto v = pool.submit([] {});
    v.result();
    EXPECT_TRUE(v.done());
}

TEST(ThreadPoolExecutor, ResultTimeoutAndCancellingQueuedWork) {
    aio::ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = pool.submit([&] { gate.wait(); });
    auto queued = pool.submit([] { return 1; });
    EXPECT_THROW(queued.result(20ms), aio::TimeoutError);
    EXPECT_FALSE(blocker.cancel());  // running: too late
    EXPECT_TRUE(queued.cancel());
    EXPECT_TRUE(queued.cancelled());
    EXPECT_THROW(queued.result(), aio::CancelledError);
    gate.open();
    blocker.result();
    EXPECT_TRUE(blocker.done());
}

TEST(ThreadPoolExecutor, DoneCallbacksRunOnceDone) {
    aio::ThreadPoolExecutor pool(1);
    Gate gate;
    std::atomic<int> calls{0};
    auto f = pool.submit([&] {
        gate.wait();
        return 3;
    });
    f.add_done_callback([&](aio::ConcurrentFuture<int>& fut) { calls += fut.result(); });
    gate.open();
    f.result();
    pool.shutdown();
    EXPECT_EQ(calls.load(), 3);
    f.add_done_callback([&] { calls += 10; });  // already done: runs at once
    EXPECT_EQ(calls.load(), 13);
}

TEST(ThreadPoolExecutor, ShutdownWaitsAndCanCancelQueuedWork) {
    std::atomic<int> ran{0};
    aio::ThreadPoolExecutor pool(1);
    Gate gate;
    auto first = pool.submit([&] {
        gate.wait();
        ++ran;
    });
    std::vector<aio::ConcurrentFuture<void>> rest;
    for (int i = 0; i < 5; ++i) rest.push_back(pool.submit([&] { ++ran; }));
    std::this_thread::sleep_for(10ms);
    std::thread opener([&] {
        std::this_thread::sleep_for(20ms);
        gate.open();
    });
    pool.shutdown(true, /*cancel_futures=*/true);
    opener.join();
    EXPECT_EQ(ran.load(), 1);  // the running one finished; the queued ones were cancelled
    for (auto& f : rest) EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(pool.submit([] {}), aio::RuntimeError);
    EXPECT_TRUE(pool.is_shutdown());
}

TEST(ThreadPoolExecutor, ShutdownWithoutCancelRunsTheQueue) {
    std::atomic<int> ran{0};
    {
        aio::ThreadPoolExecutor pool(2);
        for (int i = 0; i < 50; ++i) pool.submit([&] { ++ran; });
        pool.shutdown(false);
    }  // the destructor joins
    EXPECT_EQ(ran.load(), 50);
}

TEST(ThreadPoolExecutor, ManyThreadsSubmitAtOnce) {
    aio::ThreadPoolExecutor pool(4);
    std::atomic<long> sum{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            std::vector<aio::ConcurrentFuture<int>> fs;
            for (int i = 0; i < 500; ++i) fs.push_back(pool.submit([i, t] { return i + t; }));
            for (auto& f : fs) sum += f.result();
        });
    for (auto& t : threads) t.join();
    long expected = 0;
    for (int t = 0; t < 8; ++t) expected += 499L * 500 / 2 + 500L * t;
    EXPECT_EQ(sum.load(), expected);
}

TEST(ThreadPoolExecutor, GetMovesTheValueOut) {
    aio::ThreadPoolExecutor pool(1);
    auto f = pool.submit([] { return std::make_unique<int>(9); });
    std::unique_ptr<int> p = f.get();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 9);
}
