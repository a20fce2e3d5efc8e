// loop.add_signal_handler / remove_signal_handler (signalfd) and aio::run's
// SIGINT handling (issue 6).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/signals.hpp>
#include <aio/subprocess.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;

// SIGUSR1 belongs to aio::run (the call-graph dump); these tests use SIGUSR2.
namespace {

// --- the child programs (this test binary, re-run with AIO_SIGNALS_CHILD) ---

void say(const char* line) {
    std::fputs(line, stdout);
    std::fflush(stdout);
}

int child_main(const std::string& mode) {
    ::signal(SIGINT, SIG_DFL);  // a shell may start us with SIGINT ignored
    if (mode == "cleanup") {
        // The first SIGINT cancels the main task; its cleanup runs; then
        // aio::run ends the process by SIGINT.
        aio::run([]() -> aio::Coro<> {
            say("ready\n");
            try {
                co_await aio::sleep(30s);
            } catch (const aio::CancelledError&) {
                say("cleanup ran\n");
                throw;
            }
            say("not cancelled\n");
        });
        say("aio::run returned\n");
        return 3;
    }
    if (mode == "swallow") {
        // A main task that absorbs the cancellation returns normally.
        aio::run([]() -> aio::Coro<> {
            say("ready\n");
            try {
                co_await aio::sleep(30s);
            } catch (const aio::CancelledError&) {
                say("swallowed\n");
            }
        });
        say("aio::run returned\n");
        return 0;
    }
    if (mode == "stuck") {
        // The loop never polls again: only the second SIGINT can end it.
        aio::run([]() -> aio::Coro<> {
            say("ready\n");
            auto until = std::chrono::steady_clock::now() + 30s;
            while (std::chrono::steady_clock::now() < until) {
            }
            co_return;
        });
        say("aio::run returned\n");
        return 4;
    }
    return 2;
}

// Runs before main(): the test binary doubles as the child program.
const int child_dispatch = [] {
    if (const char* mode = std::getenv("AIO_SIGNALS_CHILD")) std::_Exit(child_main(mode));
    return 0;
}();

struct ChildResult {
    std::string output;
    int returncode;
    double seconds_after_first_signal;
};

/// Starts this binary in `mode`, waits for "ready", sends `signals` SIGINTs
/// (`gap` apart) and collects the output and return code.
ChildResult run_child(const std::string& mode, int signals, std::chrono::milliseconds gap = 100ms) {
    return aio::run([&]() -> aio::Coro<ChildResult> {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "AIO_SIGNALS_CHILD=", 18) != 0) env.emplace_back(*e);
        env.push_back("AIO_SIGNALS_CHILD=" + mode);
        std::vector<std::string> no_args;
        aio::Process p = co_await aio::create_subprocess_exec("/proc/self/exe", no_args, {.stdout = aio::PIPE, .env = env});
        std::string ready = co_await p.stdout()->readline();
        EXPECT_EQ(ready, "ready\n");
        auto& loop = aio::get_running_loop();
        auto t0 = loop.time();
        for (int i = 0; i < signals; ++i) {
            if (i > 0) co_await aio::sleep(gap);
            p.send_signal(SIGINT);
        }
        std::string rest = co_await p.stdout()->read();
        int rc = co_await p.wait();
        co_return ChildResult{ready + rest, rc, std::chrono::duration<double>(loop.time() - t0).count()};
    });
}

/// Waits (on the loop) until `flag` is set or a generous limit passes.
aio::Coro<bool> eventually(const std::atomic<int>& counter, int at_least) {
    auto until = aio::get_running_loop().time() + 5s;
    while (counter.load() < at_least && aio::get_running_loop().time() < until) co_await aio::sleep(1ms);
    co_return counter.load() >= at_least;
}

struct sigaction current_action(int sig) {
    struct sigaction sa {};
    ::sigaction(sig, nullptr, &sa);
    return sa;
}

bool blocked_here(int sig) {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    return sigismember(&mask, sig) == 1;
}

}  // namespace

// --- add_signal_handler ----------------------------------------------------------------

TEST(SignalHandler, RunsAsALoopCallbackOnTheLoopThread) {
    std::atomic<int> calls{0};
    const auto loop_thread = std::this_thread::get_id();
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<int> got = loop.create_future<int>();
        loop.add_signal_handler(SIGUSR2, [&] {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            ++calls;
            if (!got.done()) got.set_result(SIGUSR2);  // anything a callback may do
        });
        ::kill(::getpid(), SIGUSR2);  // process-directed
        int sig = co_await got;
        EXPECT_EQ(sig, SIGUSR2);
        EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    });
    EXPECT_EQ(calls.load(), 1);
}

TEST(SignalHandler, HandlerMayTakeTheSignalNumberAndHandleSeveralSignals) {
    std::atomic<int> usr2{0}, winch{0};
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto handler = [&](int sig) { ++(sig == SIGUSR2 ? usr2 : winch); };
        loop.add_signal_handler(SIGUSR2, handler);
        loop.add_signal_handler(SIGWINCH, handler);
        ::raise(SIGUSR2);
        bool one = co_await eventually(usr2, 1);
        ::raise(SIGWINCH);
        bool two = co_await eventually(winch, 1);
        EXPECT_TRUE(one);
        EXPECT_TRUE(two);
        loop.remove_signal_handler(SIGUSR2);
        loop.remove_signal_handler(SIGWINCH);
    });
    EXPECT_EQ(usr2.load(), 1);
    EXPECT_EQ(winch.load(), 1);
}

TEST(SignalHandler, ASignalLandingOnAnotherThreadIsForwardedToTheLoop) {
    std::atomic<int> calls{0};
    std::atomic<bool> go{false}, stop{false};
    // Started before the handler is added: SIGUSR2 is not blocked there.
    std::thread other([&] {
        while (!go) std::this_thread::sleep_for(1ms);
        ::pthread_kill(::pthread_self(), SIGUSR2);  // delivered to this very thread
        while (!stop) std::this_thread::sleep_for(1ms);
    });
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        loop.add_signal_handler(SIGUSR2, [&] { ++calls; });
        go = true;
        bool ok = co_await eventually(calls, 1);
        EXPECT_TRUE(ok);
        loop.remove_signal_handler(SIGUSR2);
    });
    stop = true;
    other.join();
    EXPECT_EQ(calls.load(), 1);
}

TEST(SignalHandler, RemoveRestoresTheDispositionAndTheMask) {
    const auto before = current_action(SIGUSR2);
    ASSERT_EQ(before.sa_handler, SIG_DFL);
    ASSERT_FALSE(blocked_here(SIGUSR2));
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
        loop.add_signal_handler(SIGUSR2, [] {});
        EXPECT_TRUE(blocked_here(SIGUSR2));
        EXPECT_NE(current_action(SIGUSR2).sa_handler, SIG_DFL);
        EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
        EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
        co_return;
    });
    EXPECT_EQ(current_action(SIGUSR2).sa_handler, SIG_DFL);
    EXPECT_FALSE(blocked_here(SIGUSR2));
}

TEST(SignalHandler, HandlersLeftInstalledAreRemovedWithTheLoop) {
    {
        aio::EventLoop loop;
        loop.add_signal_handler(SIGUSR2, [] {});
        EXPECT_TRUE(blocked_here(SIGUSR2));
        loop.close();
    }
    EXPECT_EQ(current_action(SIGUSR2).sa_handler, SIG_DFL);
    EXPECT_FALSE(blocked_here(SIGUSR2));
}

TEST(SignalHandler, AddingAgainReplacesTheHandler) {
    std::atomic<int> first{0}, second{0};
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        loop.add_signal_handler(SIGUSR2, [&] { ++first; });
        loop.add_signal_handler(SIGUSR2, [&] { ++second; });
        ::raise(SIGUSR2);
        bool ok = co_await eventually(second, 1);
        EXPECT_TRUE(ok);
        loop.remove_signal_handler(SIGUSR2);
    });
    EXPECT_EQ(first.load(), 0);
    EXPECT_EQ(second.load(), 1);
}

TEST(SignalHandler, InvalidSignalsAreRejected) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.add_signal_handler(100000, [] {}), std::invalid_argument);
        EXPECT_THROW(loop.remove_signal_handler(-1), std::invalid_argument);
        co_return;
    });
}

TEST(SignalHandler, OneLoopPerSignal) {
    aio::EventLoop a;
    a.add_signal_handler(SIGUSR2, [] {});
    std::thread other([] {
        aio::EventLoop b;
        EXPECT_THROW(b.add_signal_handler(SIGUSR2, [] {}), aio::RuntimeError);
        b.add_signal_handler(SIGWINCH, [] {});  // another signal is fine
        EXPECT_TRUE(b.remove_signal_handler(SIGWINCH));
    });
    other.join();
    EXPECT_TRUE(a.remove_signal_handler(SIGUSR2));
}

// --- SIGINT and aio::run ------------------------------------------------------------

TEST(Sigint, InProcessTheRunnerCancelsTheMainTaskAndRaisesKeyboardInterrupt) {
    const auto previous = current_action(SIGINT);
    ::signal(SIGINT, SIG_DFL);  // as in a fresh program (a shell may have set SIG_IGN)
    bool cleanup = false;
    bool interrupted = false;
    {
        aio::Runner runner;
        try {
            runner.run([&]() -> aio::Coro<> {
                ::raise(SIGINT);  // handled by the Runner: cancels this task
                try {
                    co_await aio::sleep(30s);
                } catch (const aio::CancelledError&) {
                    cleanup = true;
                    throw;
                }
            });
        } catch (const aio::KeyboardInterrupt&) {
            interrupted = true;
        }
        EXPECT_EQ(current_action(SIGINT).sa_handler, SIG_DFL);  // restored after the run
        // The Runner still works for the next run.
        int v = runner.run([]() -> aio::Coro<int> { co_return 5; });
        EXPECT_EQ(v, 5);
    }
    ::sigaction(SIGINT, &previous, nullptr);
    EXPECT_TRUE(cleanup);
    EXPECT_TRUE(interrupted);
}

TEST(Sigint, NotInstalledWhenSomeoneElseHandlesSigint) {
    const auto previous = current_action(SIGINT);
    ::signal(SIGINT, SIG_IGN);
    aio::run([]() -> aio::Coro<> {
        EXPECT_EQ(current_action(SIGINT).sa_handler, SIG_IGN);
        co_return;
    });
    EXPECT_EQ(current_action(SIGINT).sa_handler, SIG_IGN);
    ::sigaction(SIGINT, &previous, nullptr);
}

TEST(Sigint, AChildRunningAioRunIsCancelledCleansUpAndDiesBySigint) {
    ChildResult r = run_child("cleanup", 1);
    EXPECT_EQ(r.output, "ready\ncleanup ran\n");
    EXPECT_EQ(r.returncode, -SIGINT);
}

TEST(Sigint, AMainTaskThatSwallowsTheCancellationReturnsNormally) {
    ChildResult r = run_child("swallow", 1);
    EXPECT_EQ(r.output, "ready\nswallowed\naio::run returned\n");
    EXPECT_EQ(r.returncode, 0);
}

TEST(Sigint, TheSecondSigintExitsAtOnceEvenWhenTheLoopIsStuck) {
    ChildResult r = run_child("stuck", 2);
    EXPECT_EQ(r.output, "ready\n");
    EXPECT_EQ(r.returncode, -SIGINT);
    EXPECT_LT(r.seconds_after_first_signal, 10.0);  // not the 30 s of CPU work
}
