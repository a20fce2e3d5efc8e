// aio/run.hpp — aio::run and aio::Runner, asyncio.run and asyncio.Runner.
//
// aio::run(coro) creates a loop, runs `coro` as the main task to completion,
// then cancels every task still pending, waits for them to finish, and closes
// the loop. It returns the coroutine's result or rethrows its exception.
// Calling it while a loop runs on this thread is an error: inside a
// coroutine, just co_await the other coroutine.
#pragma once

#include <cstdlib>
#include <optional>

#include "aio/event_loop.hpp"
#include "aio/signals.hpp"  // issue 6: SIGINT handling, KeyboardInterrupt
#include "aio/task.hpp"

namespace aio {

struct RunOptions {
    /// Debug mode; unset means the environment variable AIO_DEBUG decides.
    std::optional<bool> debug = std::nullopt;
    /// While the loop runs, this signal dumps the call graphs of every
    /// pending task through the log hook (stderr by default), so a hung
    /// service can be inspected from outside: `kill -USR1 <pid>`. 0 turns
    /// it off.
    int call_graph_signal = 10;  // SIGUSR1 on Linux
};

/// One loop for several run() calls (asyncio.Runner). Closing it (or its
/// destructor) cancels and awaits leftover tasks and closes the loop.
class Runner {
public:
    explicit Runner(RunOptions options = {});
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;
    ~Runner();

    /// Runs `coro` as a task until it completes and returns its result.
    template <class T>
    T run(Coro<T> coro) {
        check_can_run();
        Task<T> task = loop_->create_task(std::move(coro));
        detail::SigintScope sigint(*loop_, task.core());  // issue 6: the first SIGINT cancels the main task
        detail::run_until_done(*loop_, task.completion_core());
        sigint.check(task.core());  // issue 6: KeyboardInterrupt if SIGINT cancelled it
        return task.take_result();
    }
    template <class F>
        requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
    auto run(F fn) {
        return run(detail::invoke_in_frame(std::move(fn)));
    }

    /// Cancels the tasks still pending, runs the loop until they finish, and
    /// closes it. Idempotent.
    void close();
    EventLoop& get_loop();

private:
    void check_can_run();
    std::optional<EventLoop> loop_;
    int call_graph_signal_ = 0;
    bool closed_ = false;
};

/// Runs `coro` on a new event loop and returns its result (asyncio.run).
template <class T>
T run(Coro<T> coro, RunOptions options = {}) {
    Runner runner(options);
    try {
        if constexpr (std::is_void_v<T>) {
            runner.run(std::move(coro));
            runner.close();
        } else {
            T result = runner.run(std::move(coro));
            runner.close();
            return result;
        }
    } catch (const KeyboardInterrupt&) {
        // issue 6: Ctrl-C cancelled the main task; after the normal shutdown,
        // exit by SIGINT as Python does on an uncaught KeyboardInterrupt.
        runner.close();
        detail::exit_by_sigint();
    }
}
template <class F>
    requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
auto run(F fn, RunOptions options = {}) {
    return run(detail::invoke_in_frame(std::move(fn)), options);
}

}  // namespace aio
