// aio/signals.hpp — Unix signals on the event loop, and what aio::run does
// with Ctrl-C.
//
// loop.add_signal_handler(sig, fn) (declared in event_loop.hpp) makes `fn()`
// (or `fn(sig)`) run as an ordinary loop callback each time `sig` arrives:
// the signal is blocked in the loop's thread and read from a signalfd the
// loop watches, so the handler may do anything a callback may (create tasks,
// set futures). A process-directed signal that lands on another thread which
// does not block it is forwarded to the loop's thread by a tiny
// async-signal-safe handler; ThreadPoolExecutor workers block signals anyway.
// remove_signal_handler(sig) restores the previous disposition and mask.
// Rules: call both from the loop's thread; one loop per signal at a time
// (RuntimeError otherwise); SIGKILL and SIGSTOP cannot be caught
// (std::invalid_argument). Several arrivals of a standard signal before the
// loop reads them count once (Unix semantics). Handlers still installed when
// the loop is destroyed are removed then.
//
// aio::run and aio::Runner::run, on the main thread with SIGINT at its
// default action (as asyncio.Runner since Python 3.11): the first SIGINT
// cancels the main task, whose cleanup runs as for any cancellation; when
// the task then ends cancelled, Runner::run raises aio::KeyboardInterrupt
// and aio::run, after the normal shutdown (leftover tasks, default
// executor), ends the process by SIGINT, as Python does for an uncaught
// KeyboardInterrupt (the shell sees status 130). A second SIGINT exits at
// once through the default action, even while the loop is stuck in CPU work.
// This part uses a plain sigaction handler, not the signalfd: a loop that
// never polls could not react to a signalfd.
#pragma once

#include <memory>

#include "aio/detail/runtime.hpp"

namespace aio {

/// What Runner::run raises when SIGINT cancelled the main task (Python's
/// KeyboardInterrupt). Like CancelledError it does not derive from
/// std::exception, so `catch (const std::exception&)` lets it through.
class KeyboardInterrupt {
public:
    const char* what() const noexcept { return "KeyboardInterrupt"; }
};

namespace detail {

/// Runner::run's SIGINT handling for the duration of one run (see above).
/// Does nothing off the main thread or when SIGINT is not at its default
/// action.
class SigintScope {
public:
    SigintScope(EventLoop& loop, TaskCore* main_task);
    SigintScope(const SigintScope&) = delete;
    SigintScope& operator=(const SigintScope&) = delete;
    ~SigintScope();
    /// After the run: raises KeyboardInterrupt if SIGINT cancelled the main
    /// task and nobody else did (asyncio's uncancel() == 0 test).
    void check(TaskCore* main_task);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Flushes stdio and ends the process by SIGINT's default action.
[[noreturn]] void exit_by_sigint() noexcept;

}  // namespace detail
}  // namespace aio
