// Entering a loop from other threads: call_soon_threadsafe,
// run_coroutine_threadsafe and the "loop in a background thread" pattern
// (issue 6).
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/executor.hpp>
#include <atomic>
#include <ctime>
#include <string>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::Coro<> yield_once() { co_await aio::sleep(0s); }

/// The pattern docs/threads-and-processes.md describes: a loop running
/// forever on its own thread, fed from other threads, stopped from outside.
class BackgroundLoop {
public:
    BackgroundLoop() {
        std::promise<aio::EventLoop*> ready;
        auto started = ready.get_future();
        thread_ = std::thread([&ready] {
            aio::EventLoop loop;  // created, run and closed on this thread
            ready.set_value(&loop);
            loop.run_forever();
            // Let cancelled work unwind before closing, as aio::run does.
            for (int i = 0; i < 3; ++i) loop.run_until_complete(yield_once());
            loop.close();
        });
        loop_ = started.get();
    }
    ~BackgroundLoop() { stop(); }

    aio::EventLoop& loop() { return *loop_; }
    std::thread::id thread_id() const { return thread_.get_id(); }

    void stop() {
        if (!thread_.joinable()) return;
        loop_->call_soon_threadsafe([l = loop_] { l->stop(); });
        thread_.join();
    }

private:
    aio::EventLoop* loop_ = nullptr;
    std::thread thread_;
};

}  // namespace

TEST(CallSoonThreadsafe, FromManyThreadsEveryCallbackRunsOnTheLoopThread) {
    BackgroundLoop bg;
    std::atomic<int> count{0};
    std::atomic<int> wrong_thread{0};
    const auto loop_thread = bg.thread_id();
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                bg.loop().call_soon_threadsafe([&] {
                    if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
                    ++count;
                });
        });
    for (auto& t : threads) t.join();
    // A last callback runs after all the others (FIFO from one queue).
    auto done = aio::run_coroutine_threadsafe([]() -> aio::Coro<int> { co_return 1; }, bg.loop());
    done.result(10s);
    EXPECT_EQ(count.load(), 8000);
    EXPECT_EQ(wrong_thread.load(), 0);
}

TEST(RunCoroutineThreadsafe, ResultFromAPlainThread) {
    BackgroundLoop bg;
    const auto loop_thread = bg.thread_id();
    auto f = aio::run_coroutine_threadsafe(
        [loop_thread]() -> aio::Coro<int> {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            co_await aio::sleep(5ms);
            co_return 42;
        },
        bg.loop());
    EXPECT_EQ(f.result(10s), 42);
    EXPECT_TRUE(f.done());
}

TEST(RunCoroutineThreadsafe, FromEightThreadsAtOnce) {
    BackgroundLoop bg;
    std::atomic<long> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            std::vector<aio::ConcurrentFuture<long>> fs;
            for (long i = 0; i < 250; ++i)
                fs.push_back(aio::run_coroutine_threadsafe(
                    [i, t]() -> aio::Coro<long> {
                        co_await aio::sleep(0s);
                        co_return i * 8 + t;
                    },
                    bg.loop()));
            for (auto& f : fs) total += f.result(30s);
        });
    for (auto& t : threads) t.join();
    const long n = 8 * 250;
    EXPECT_EQ(total.load(), n * (n - 1) / 2);
}

TEST(RunCoroutineThreadsafe, ExceptionReachesTheThread) {
    BackgroundLoop bg;
    auto f = aio::run_coroutine_threadsafe(
        []() -> aio::Coro<int> {
            co_await aio::sleep(0s);
            throw std::out_of_range("from the loop");
        },
        bg.loop());
    EXPECT_THROW(f.result(10s), std::out_of_range);
    ASSERT_NE(f.exception(), nullptr);
}

TEST(RunCoroutineThreadsafe, CancellingTheFutureCancelsTheTask) {
    BackgroundLoop bg;
    std::atomic<bool> started{false}, saw_cancel{false}, cleaned_up{false};
    auto f = aio::run_coroutine_threadsafe(
        [&]() -> aio::Coro<> {
            started = true;
            try {
                co_await aio::sleep(60s);
            } catch (const aio::CancelledError&) {
                saw_cancel = true;
                throw;
            }
        },
        bg.loop());
    while (!started) std::this_thread::sleep_for(1ms);
    EXPECT_THROW(f.result(10ms), aio::TimeoutError);
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.result(), aio::CancelledError);
    // The task's cancellation is posted to the loop: wait until it ran.
    auto probe = aio::run_coroutine_threadsafe(
        [&]() -> aio::Coro<> {
            while (!saw_cancel) co_await aio::sleep(1ms);
            cleaned_up = true;
        },
        bg.loop());
    probe.result(10s);
    EXPECT_TRUE(saw_cancel.load());
    EXPECT_TRUE(cleaned_up.load());
    EXPECT_TRUE(f.cancel());  // already cancelled: true, as concurrent.futures
}

TEST(RunCoroutineThreadsafe, CancelledBeforeItStartsNeverRuns) {
    BackgroundLoop bg;
    std::atomic<bool> ran{false};
    std::promise<void> release;
    auto blocked = release.get_future();
    // Keep the loop busy so the next submission cannot start yet.
    bg.loop().call_soon_threadsafe([&] { blocked.wait(); });
    auto f = aio::run_coroutine_threadsafe(
        [&]() -> aio::Coro<> {
            ran = true;
            co_return;
        },
        bg.loop());
    EXPECT_TRUE(f.cancel());
    release.set_value();
    auto probe = aio::run_coroutine_threadsafe([]() -> aio::Coro<> { co_return; }, bg.loop());
    probe.result(10s);
    EXPECT_FALSE(ran.load());
}

TEST(RunCoroutineThreadsafe, TheLoopClosingCancelsThePendingFuture) {
    auto bg = std::make_unique<BackgroundLoop>();
    std::atomic<bool> started{false};
    auto f = aio::run_coroutine_threadsafe(
        [&]() -> aio::Coro<> {
            started = true;
            co_await aio::sleep(60s);
        },
        bg->loop());
    while (!started) std::this_thread::sleep_for(1ms);
    bg->stop();  // the loop closes with the task still pending
    EXPECT_TRUE(f.done());
    EXPECT_THROW(f.result(), aio::CancelledError);
    bg.reset();
}

TEST(RunCoroutineThreadsafe, OnAClosedLoopRaises) {
    aio::EventLoop loop;
    loop.close();
    EXPECT_THROW(aio::run_coroutine_threadsafe([]() -> aio::Coro<> { co_return; }, loop), aio::RuntimeError);
}

TEST(RunCoroutineThreadsafe, WaitingOnTheLoopsOwnThreadRaisesInsteadOfDeadlocking) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto f = aio::run_coroutine_threadsafe([]() -> aio::Coro<int> { co_return 1; }, loop);
        EXPECT_THROW(f.result(), aio::RuntimeError);
        // It still completes once the loop gets control back.
        while (!f.done()) co_await aio::sleep(1ms);
        EXPECT_EQ(f.result(), 1);
    });
}

TEST(RunCoroutineThreadsafe, WorkersAskTheLoopWhileItAwaitsThem) {
    // The classic round trip: the loop offloads to a thread, which needs
    // something from the loop before it can finish.
    int v = aio::run([]() -> aio::Coro<int> {
        aio::EventLoop* loop = &aio::get_running_loop();
        int r = co_await aio::to_thread([loop] {
            auto f = aio::run_coroutine_threadsafe(
                []() -> aio::Coro<int> {
                    co_await aio::sleep(1ms);
                    co_return 20;
                },
                *loop);
            return f.result() + 1;
        });
        co_return r * 2;
    });
    EXPECT_EQ(v, 42);
}

TEST(BackgroundLoopPattern, StartSubmitStop) {
    for (int round = 0; round < 3; ++round) {
        BackgroundLoop bg;
        std::vector<aio::ConcurrentFuture<int>> fs;
        for (int i = 0; i < 10; ++i)
            fs.push_back(aio::run_coroutine_threadsafe(
                [i]() -> aio::Coro<int> {
                    co_await aio::sleep(std::chrono::milliseconds(i));
                    co_return i;
                },
                bg.loop()));
        int sum = 0;
        for (auto& f : fs) sum += f.result(10s);
        EXPECT_EQ(sum, 45);
        bg.stop();
    }
}

TEST(RunInExecutor, FromAnotherThreadIsRefused) {
    BackgroundLoop bg;
    aio::run_coroutine_threadsafe([]() -> aio::Coro<> { co_return; }, bg.loop()).result(10s);  // it runs now
    EXPECT_THROW(bg.loop().run_in_executor(nullptr, [] {}), aio::RuntimeError);
}

// Found in review: close() released queued callbacks under the loop's lock,
// so a done callback posting to the loop deadlocked.
TEST(Threadsafe, CloseWithAQueuedStartAndAPostingDoneCallback) {
    aio::EventLoop loop;  // never run: the start callback stays queued
    auto cf = aio::run_coroutine_threadsafe([]() -> aio::Coro<int> { co_return 1; }(), loop);
    std::string seen;
    cf.add_done_callback([&] {
        try {
            loop.call_soon_threadsafe([] {});
        } catch (const aio::RuntimeError& e) {
            seen = e.what();
        }
    });
    loop.close();  // must return
    EXPECT_TRUE(cf.cancelled());
    EXPECT_NE(seen.find("closed"), std::string::npos);
}

// Found in review: a wake-up written after the loop drained its queue left the
// eventfd readable forever, and the idle loop spun at full CPU.
TEST(Threadsafe, IdleLoopDoesNotSpinAfterThreadsafeCalls) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        std::atomic<int> ran{0};
        std::thread poster([&] {
            for (int i = 0; i < 20000; ++i) loop.call_soon_threadsafe([&] { ++ran; });
        });
        while (ran.load() < 20000) co_await aio::sleep(1ms);
        poster.join();
        timespec cpu0{}, cpu1{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
        co_await aio::sleep(300ms);  // idle: blocked in epoll
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
        double cpu = double(cpu1.tv_sec - cpu0.tv_sec) + double(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
        EXPECT_LT(cpu, 0.15) << "the idle loop burned " << cpu << " s of CPU in 0.3 s";
    });
}
