// aio::run and aio::Runner: the entry points. Scenarios follow CPython's
// test_runners.
#include <string>

#include "support.hpp"

using namespace aio_test;

namespace {

aio::Coro<int> answer() {
    co_await aio::sleep(0s);
    co_return 42;
}

TEST(Run, ReturnsTheResult) { EXPECT_EQ(aio::run(answer()), 42); }

TEST(Run, AcceptsACallable) {
    std::string s = aio::run([]() -> aio::Coro<std::string> { co_return "hi"; });
    EXPECT_EQ(s, "hi");
}

TEST(Run, RethrowsTheException) {
    EXPECT_THROW(aio::run([]() -> aio::Coro<> {
                     co_await aio::sleep(0s);
                     throw std::runtime_error("main failed");
                 }),
                 std::runtime_error);
}

TEST(Run, CannotNest) {
    aio::run([]() -> aio::Coro<> {
        try {
            aio::run(answer());
            ADD_FAILURE() << "nested run must fail";
        } catch (const aio::RuntimeError& e) {
            EXPECT_NE(std::string(e.what()).find("running event loop"), std::string::npos);
        }
        int v = co_await answer();  // the right way
        EXPECT_EQ(v, 42);
    });
}

TEST(Run, CancelsLeftoverTasksAndLetsThemCleanUp) {
    std::vector<std::string> log;
    aio::run([&]() -> aio::Coro<> {
        (void)aio::create_task([&log]() -> aio::Coro<> {
            try {
                co_await aio::sleep(1h);
            } catch (const aio::CancelledError&) {
                log.push_back("cancelled");
                throw;
            }
        });
        co_await aio::sleep(0s);
    });
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled"}));
}

TEST(Run, LeftoverCleanupMayAwait) {
    std::vector<std::string> log;
    aio::run([&]() -> aio::Coro<> {
        (void)aio::create_task([&log]() -> aio::Coro<> {
            bool cancelled = false;
            try {
                co_await aio::sleep(1h);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await aio::sleep(1ms);
                log.push_back("cleaned up after awaiting");
            }
        });
        co_await aio::sleep(0s);
    });
    EXPECT_EQ(log, (std::vector<std::string>{"cleaned up after awaiting"}));
}

TEST(Run, LeftoverFailureIsReportedNotLost) {
    testing::internal::CaptureStderr();
    aio::run([]() -> aio::Coro<> {
        (void)aio::create_task([]() -> aio::Coro<> {
            try {
                co_await aio::sleep(1h);
            } catch (const aio::CancelledError&) {
            }
            throw std::runtime_error("failed during shutdown");
        });
        co_await aio::sleep(0s);
    });
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("failed during shutdown"), std::string::npos);
}

TEST(Run, DebugOptionAndEnvironment) {
    bool debug = aio::run(
        []() -> aio::Coro<bool> { co_return aio::get_running_loop().get_debug(); }, aio::RunOptions{.debug = true});
    EXPECT_TRUE(debug);
    ::setenv("AIO_DEBUG", "1", 1);
    bool from_env = aio::run([]() -> aio::Coro<bool> { co_return aio::get_running_loop().get_debug(); });
    ::unsetenv("AIO_DEBUG");
    EXPECT_TRUE(from_env);
    bool off = aio::run([]() -> aio::Coro<bool> { co_return aio::get_running_loop().get_debug(); });
    EXPECT_FALSE(off);
}

TEST(Runner, SeveralRunsShareOneLoop) {
    aio::Runner runner;
    aio::EventLoop* first = nullptr;
    runner.run([&]() -> aio::Coro<> {
        first = &aio::get_running_loop();
        co_return;
    });
    int v = runner.run(answer());
    EXPECT_EQ(v, 42);
    runner.run([&]() -> aio::Coro<> {
        EXPECT_EQ(&aio::get_running_loop(), first);
        co_return;
    });
    EXPECT_EQ(&runner.get_loop(), first);
    runner.close();
    EXPECT_THROW(runner.run(answer()), aio::RuntimeError);
    runner.close();  // idempotent
}

TEST(Runner, TaskSurvivesBetweenRuns) {
    aio::Runner runner;
    aio::Task<int> t = runner.run([]() -> aio::Coro<aio::Task<int>> {
        co_return aio::create_task([]() -> aio::Coro<int> {
            co_await aio::sleep(1ms);
            co_return 8;
        });
    });
    int v = runner.run([t]() -> aio::Coro<int> {
        int r = co_await t;
        co_return r;
    });
    EXPECT_EQ(v, 8);
}

}  // namespace
