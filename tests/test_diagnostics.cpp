// What aio reports instead of failing silently: unretrieved exceptions,
// tasks destroyed while pending, misuse of handles, the log hook.
#include <mutex>
#include <thread>
#include <string>

#include "support.hpp"

using namespace aio_test;

// Exported (not in the anonymous namespace) so the report can name it.
aio::Coro<int> forgotten_coroutine() { co_return 1; }

namespace {

using LogCapture = aio_test::CapturedLog;

TEST(Diagnostics, UnretrievedTaskExceptionIsReported) {
    LogCapture capture;
    aio::run([]() -> aio::Coro<> {
        (void)aio::create_task(
            []() -> aio::Coro<> {
                co_await aio::sleep(0s);
                throw std::runtime_error("lost failure");
            },
            "forgotten");
        co_await aio::sleep(10ms);
    });
    std::string log = capture.all();
    EXPECT_NE(log.find("ERROR Task exception was never retrieved"), std::string::npos) << log;
    EXPECT_NE(log.find("forgotten"), std::string::npos) << log;
    EXPECT_NE(log.find("lost failure"), std::string::npos) << log;
}

TEST(Diagnostics, RetrievedExceptionIsNotReported) {
    LogCapture capture;
    aio::run([]() -> aio::Coro<> {
        auto t = aio::create_task([]() -> aio::Coro<> {
            co_await aio::sleep(0s);
            throw std::runtime_error("seen");
        });
        try {
            co_await t;
        } catch (const std::runtime_error&) {
        }
    });
    EXPECT_EQ(capture.all().find("never retrieved"), std::string::npos);
}

TEST(Diagnostics, UnretrievedFutureExceptionIsReported) {
    LogCapture capture;
    {
        aio::EventLoop loop;
        auto f = loop.create_future<int>();
        f.set_exception(std::make_exception_ptr(std::logic_error("future failure")));
    }
    std::string log = capture.all();
    EXPECT_NE(log.find("Future exception was never retrieved"), std::string::npos) << log;
    EXPECT_NE(log.find("future failure"), std::string::npos) << log;
}

TEST(Diagnostics, PendingTaskAtCloseIsReportedAndLeftCancelled) {
    LogCapture capture;
    aio::Task<> t;
    {
        aio::EventLoop loop;
        t = loop.create_task([]() -> aio::Coro<> { co_await aio::sleep(1h); }, "stuck");
        loop.call_soon([&] { loop.stop(); });
        loop.run_forever();
        loop.close();
    }
    std::string log = capture.all();
    EXPECT_NE(log.find("Task was destroyed but it is pending!"), std::string::npos) << log;
    EXPECT_NE(log.find("stuck"), std::string::npos) << log;
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_FALSE(t.cancel());  // safe after the loop is gone
}

TEST(Diagnostics, TaskAwaitingItselfIsAnError) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<> self;
        auto body = [&self]() -> aio::Coro<> {
            co_await aio::sleep(0s);
            co_await self;
        };
        self = aio::create_task(body);
        EXPECT_THROW(co_await self, aio::RuntimeError);
    });
}

TEST(Diagnostics, EmptyTaskHandleRaises) {
    aio::Task<int> empty;
    EXPECT_FALSE(empty);
    EXPECT_THROW(empty.done(), aio::InvalidStateError);
    EXPECT_THROW(empty.cancel(), aio::InvalidStateError);
    EXPECT_THROW(empty.result(), aio::InvalidStateError);
    aio::run([&]() -> aio::Coro<> { EXPECT_THROW(co_await empty, aio::InvalidStateError); co_return; });
}

TEST(Diagnostics, AwaitingACoroTwiceRaises) {
    aio::run([]() -> aio::Coro<> {
        auto c = []() -> aio::Coro<int> { co_return 1; }();
        int v = co_await c;
        EXPECT_EQ(v, 1);
        EXPECT_THROW(co_await c, aio::InvalidStateError);
        aio::Coro<int> moved_from = std::move(c);
        EXPECT_THROW(co_await c, aio::InvalidStateError);
    });
}

TEST(Diagnostics, DefaultLogHandlerWritesOneLinePerEventToStderr) {
    testing::internal::CaptureStderr();
    aio::log(aio::LogLevel::warning, "something to see");
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "aio WARNING: something to see\n");
}

TEST(Diagnostics, ExceptionHandlerDefaultGoesThroughTheLogHook) {
    LogCapture capture;
    aio::EventLoop loop;
    loop.call_soon([] { throw std::runtime_error("callback broke"); });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    std::string log = capture.all();
    EXPECT_NE(log.find("ERROR Exception in callback"), std::string::npos) << log;
    EXPECT_NE(log.find("callback broke"), std::string::npos) << log;
}

TEST(Diagnostics, SlowCallbackReportedInDebugMode) {
    LogCapture capture;
    aio::EventLoop loop;
    loop.set_debug(true);
    loop.slow_callback_duration = std::chrono::milliseconds(5);
    loop.call_soon([] {
        auto until = std::chrono::steady_clock::now() + 20ms;
        while (std::chrono::steady_clock::now() < until) {
        }
    });
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    EXPECT_NE(capture.all().find("took"), std::string::npos) << capture.all();
}

TEST(Diagnostics, NeverAwaitedCoroReportedInDebugMode) {
    LogCapture capture;
    aio::run(
        []() -> aio::Coro<> {
            { auto dropped = forgotten_coroutine(); }
            co_return;
        },
        aio::RunOptions{.debug = true});
    std::string log = capture.all();
    EXPECT_NE(log.find("WARNING coroutine 'forgotten_coroutine' was never awaited"), std::string::npos) << log;
    EXPECT_NE(log.find("dropped in task"), std::string::npos) << log;
}

TEST(Diagnostics, NeverAwaitedCoroSilentWithoutDebug) {
    LogCapture capture;
    aio::run(
        []() -> aio::Coro<> {
            { auto dropped = forgotten_coroutine(); }
            co_return;
        },
        aio::RunOptions{.debug = false});
    EXPECT_EQ(capture.all().find("never awaited"), std::string::npos);
}

TEST(Diagnostics, WrongThreadDetectedInDebugMode) {
    aio::run(
        []() -> aio::Coro<> {
            auto& loop = aio::get_running_loop();
            aio::Future<int> f;
            std::string set_error, soon_error;
            std::thread other([&] {
                try {
                    f.set_result(1);
                } catch (const aio::RuntimeError& e) {
                    set_error = e.what();
                }
                try {
                    loop.call_soon([] {});
                } catch (const aio::RuntimeError& e) {
                    soon_error = e.what();
                }
            });
            other.join();
            EXPECT_NE(set_error.find("thread"), std::string::npos);
            EXPECT_NE(soon_error.find("call_soon_threadsafe"), std::string::npos);
            EXPECT_FALSE(f.done());
            co_return;
        },
        aio::RunOptions{.debug = true});
}

TEST(Diagnostics, AwaitingAFutureOfAnotherLoopRaises) {
    aio::EventLoop other;
    aio::Future<int> foreign = other.create_future<int>();
    aio::run([&]() -> aio::Coro<> {
        EXPECT_THROW(co_await foreign, aio::RuntimeError);
        co_return;
    });
    foreign.cancel();
}

TEST(Diagnostics, SlowTaskStepNamesTheTask) {
    LogCapture capture;
    aio::run(
        []() -> aio::Coro<> {
            aio::get_running_loop().slow_callback_duration = std::chrono::milliseconds(5);
            auto t = aio::create_task(
                []() -> aio::Coro<> {
                    co_await aio::sleep(0s);
                    auto until = std::chrono::steady_clock::now() + 20ms;
                    while (std::chrono::steady_clock::now() < until) {
                    }
                },
                "hog");
            co_await t;
        },
        aio::RunOptions{.debug = true});
    std::string log = capture.all();
    EXPECT_NE(log.find("WARNING Executing a step of task 'hog' resumed at"), std::string::npos) << log;
    EXPECT_NE(log.find("test_diagnostics.cpp"), std::string::npos) << log;
}

}  // namespace
