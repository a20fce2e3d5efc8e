// aio/event_loop.hpp — the event loop (asyncio's AbstractEventLoop).
//
// One loop per thread, driven by epoll. Each iteration: poll I/O (without
// blocking while work is ready), move expired timers to the ready queue,
// then run exactly the callbacks and task steps that were ready when the
// iteration began, so that work scheduled during the iteration (sleep(0),
// call_soon from a callback) runs in the next one, as in asyncio.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/coro.hpp"
#include "aio/detail/ready_queue.hpp"
#include "aio/detail/runtime.hpp"
#include "aio/handle.hpp"

namespace aio {

class Socket;
class SocketAddress;
template <class T = void>
class Task;
template <class T = void>
class Future;

namespace detail {
/// add_reader / add_writer callbacks: a handle that queues itself each time
/// its descriptor is ready.
class IoHandleBase : public HandleBase, public IoCallback {
public:
    void io_ready(EventLoop& loop) override;
};
template <class F>
class IoCallbackHandle final : public IoHandleBase {
public:
    explicit IoCallbackHandle(F f) : fn_(std::move(f)) {}

private:
    void invoke() override { fn_(); }
    F fn_;
};
}  // namespace detail

/// What call_exception_handler() receives: asyncio's context dict as a struct.
struct ExceptionContext {
    std::string message;
    std::exception_ptr exception;  // may be null
    std::string task_name;         // empty when not about a task
};

/// Describes an exception_ptr in one line: its type family and what().
std::string describe_exception(const std::exception_ptr& e);

class EventLoop {
public:
    using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

    EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;
    /// Closes the loop if still open (see close()).
    ~EventLoop();

    // --- time -----------------------------------------------------------
    /// The loop's monotonic clock.
    Clock::time_point time() const noexcept { return Clock::now(); }

    // --- callbacks ------------------------------------------------------
    /// Runs `fn()` in a later iteration, in FIFO order with other call_soon
    /// callbacks and task steps.
    template <std::invocable F>
    Handle call_soon(F&& fn) {
        check_open();
        check_thread();
        auto* h = new detail::CallbackHandle<std::decay_t<F>>(std::forward<F>(fn));
        Handle result(detail::IntrusivePtr<detail::HandleBase>::adopt(h));
        h->add_ref();  // the ready queue's reference
        ready_.push(h);
        return result;
    }

    /// Runs `fn()` after `delay` (at the earliest).
    template <class Rep, class Period, std::invocable F>
    TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) {
        return call_at(time() + std::chrono::duration_cast<Clock::duration>(delay), std::forward<F>(fn));
    }
    template <std::invocable F>
    TimerHandle call_later(double seconds, F&& fn) {
        return call_later(std::chrono::duration<double>(seconds), std::forward<F>(fn));
    }

    /// Runs `fn()` at loop time `when` (at the earliest).
    template <std::invocable F>
    TimerHandle call_at(Clock::time_point when, F&& fn) {
        check_open();
        check_thread();
        auto* h = new detail::TimerCallback<std::decay_t<F>>(this, std::forward<F>(fn));
        TimerHandle result(detail::IntrusivePtr<detail::TimerHandleBase>::adopt(h));
        h->when_ns = to_ns(when);
        h->add_ref();  // the heap's reference
        arm_timer(h);
        return result;
    }

    /// The only EventLoop method that may be called from any thread: queues
    /// `fn()` and wakes the loop.
    template <std::invocable F>
    Handle call_soon_threadsafe(F&& fn) {
        auto* h = new detail::CallbackHandle<std::decay_t<F>>(std::forward<F>(fn));
        Handle result(detail::IntrusivePtr<detail::HandleBase>::adopt(h));
        h->add_ref();  // the ready queue's reference
        push_threadsafe(h);
        return result;
    }

    // --- tasks and futures ------------------------------------------------
    /// Wraps `coro` in a Task scheduled on this loop (defined in task.hpp).
    template <class T>
    Task<T> create_task(Coro<T> coro, std::string_view name = {});
    /// Runs `fn()` in a task; the callable is moved into the task's frame,
    /// so its captures live as long as the task (defined in task.hpp).
    template <class F>
        requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
    auto create_task(F fn, std::string_view name = {}) -> Task<typename std::invoke_result_t<F&>::value_type>;

    template <class T = void>
    Future<T> create_future();

    // --- running ----------------------------------------------------------
    /// Runs until stop() is called.
    void run_forever();
    /// Runs until `aw` (a Coro, Task or Future) is done; returns its result or
    /// rethrows its exception (defined in task.hpp).
    template <class Awaitable>
    decltype(auto) run_until_complete(Awaitable&& aw);
    /// Asks run_forever() to return after the current iteration.
    void stop() noexcept { stopping_ = true; }
    /// Releases the loop's resources. Tasks still pending are destroyed
    /// (their frames unwound without resuming them). Idempotent; an error
    /// while running.
    void close();
    bool is_running() const noexcept { return running_; }
    bool is_closed() const noexcept { return closed_; }

    // --- debugging and errors ---------------------------------------------
    void set_debug(bool on) noexcept { debug_ = on; }
    bool get_debug() const noexcept { return debug_; }
    /// In debug mode, callbacks and task steps slower than this are logged.
    std::chrono::duration<double> slow_callback_duration{0.1};

    /// Replaces the handler of errors nobody else can receive (a callback that
    /// threw...). An empty function restores the default.
    void set_exception_handler(ExceptionHandler handler) { exception_handler_ = std::move(handler); }
    const ExceptionHandler& get_exception_handler() const noexcept { return exception_handler_; }
    void call_exception_handler(const ExceptionContext& context);
    /// The default handler: prints the context to stderr.
    void default_exception_handler(const ExceptionContext& context);

    // --- file descriptors -------------------------------------------------
    /// Calls `fn()` whenever `fd` is readable, until remove_reader(fd).
    /// Replaces a previous reader of the same fd.
    template <std::invocable F>
    Handle add_reader(int fd, F&& fn) {
        return watch(fd, true, new detail::IoCallbackHandle<std::decay_t<F>>(std::forward<F>(fn)));
    }
    template <std::invocable F>
    Handle add_writer(int fd, F&& fn) {
        return watch(fd, false, new detail::IoCallbackHandle<std::decay_t<F>>(std::forward<F>(fn)));
    }
    /// Returns whether a reader was registered.
    bool remove_reader(int fd);
    bool remove_writer(int fd);

    // --- internal API used by aio's awaitables ------------------------------
    void schedule(detail::Runnable* r) { ready_.push(r); }
    void arm_timer(detail::TimerNode* node);
    void disarm_timer(detail::TimerNode* node) noexcept;
    /// Registers an IoCallback (not owned) for readiness of `fd`; null removes.
    void set_io_callback(int fd, bool readable, detail::IoCallback* cb);
    static std::int64_t to_ns(Clock::time_point t) noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
    std::size_t live_task_count() const noexcept { return live_task_count_; }
    template <class F>
    void for_each_live_task(F&& f) const {
        for (detail::TaskCore* t = live_tasks_; t; t = t->next_live) f(t);
    }
    void register_task(detail::TaskCore* t) noexcept;
    void unregister_task(detail::TaskCore* t) noexcept;
    void check_open() const;
    /// Debug mode: raises RuntimeError when called from a thread other than
    /// the one running the loop. Free when debug mode is off.
    void check_thread() const {
        if (debug_ && running_ && std::this_thread::get_id() != thread_id_) throw_wrong_thread();
    }
    [[noreturn]] void throw_wrong_thread() const;

private:
    struct FdWatch {
        detail::IoCallback* reader = nullptr;
        detail::IoCallback* writer = nullptr;
        detail::HandleBase* reader_handle = nullptr;  // owned, for add_reader
        detail::HandleBase* writer_handle = nullptr;  // owned, for add_writer
        std::uint32_t events = 0;                     // registered with epoll
    };

    Handle watch(int fd, bool readable, detail::IoHandleBase* handle);
    FdWatch& fd_watch(int fd);
    void update_epoll(int fd, FdWatch& w);
    void run_once();
    /// Waits for I/O up to timeout_ns (negative: no limit) and queues the
    /// callbacks of ready descriptors.
    void poll_io(std::int64_t timeout_ns);
    void drain_threadsafe();
    void push_threadsafe(detail::HandleBase* h);
    void run_ready(detail::Runnable* r);

    detail::ReadyQueue ready_;
    detail::TimerHeap timers_;
    std::uint64_t timer_sequence_ = 0;

    int epoll_fd_ = -1;
    int wake_fd_ = -1;  // eventfd written by call_soon_threadsafe
    std::vector<FdWatch> fds_;
    std::size_t watched_fds_ = 0;
    std::size_t ran_since_poll_ = 0;

    std::mutex threadsafe_mutex_;
    std::vector<detail::HandleBase*> threadsafe_queue_;
    std::atomic<bool> threadsafe_pending_{false};

    detail::TaskCore* live_tasks_ = nullptr;
    std::size_t live_task_count_ = 0;

    bool running_ = false;
    bool stopping_ = false;
    bool closed_ = false;
    bool debug_ = false;
    std::thread::id thread_id_{};
    ExceptionHandler exception_handler_;

public:
    // --- low-level socket operations (asyncio's loop.sock_*; defined in
    // src/aio/socket.cpp, same as the free functions of aio/socket.hpp) ---
    Coro<std::string> sock_recv(int fd, std::size_t n);
    Coro<std::size_t> sock_recv_into(int fd, std::span<char> buffer);
    Coro<void> sock_sendall(int fd, std::string_view data);
    Coro<void> sock_connect(int fd, SocketAddress address);
    Coro<std::pair<Socket, SocketAddress>> sock_accept(int fd);

    // --- threads, processes, signals (issue 6) ---
    // Defined in aio/executor.hpp, src/aio/executor.cpp and src/aio/signals.cpp
    // (include <aio/executor.hpp> to call run_in_executor). `class
    // ThreadPoolExecutor` below also declares aio::ThreadPoolExecutor.
public:
    /// Runs `fn(args...)` on `executor` (null: the loop's default executor,
    /// created on first use) and returns a Future for its result. Loop thread
    /// only. Cancelling the Future abandons the result (a call already running
    /// cannot be interrupted; one still queued never runs).
    template <class F, class... Args>
    auto run_in_executor(class ThreadPoolExecutor* executor, F&& fn, Args&&... args);
    /// The default executor (created on first use; RuntimeError once shut down).
    ThreadPoolExecutor& default_executor();
    /// Replaces the default executor (asyncio's set_default_executor).
    void set_default_executor(std::shared_ptr<ThreadPoolExecutor> executor);
    /// Shuts the default executor down and waits for its workers while the
    /// loop keeps running (asyncio's shutdown_default_executor).
    Coro<> shutdown_default_executor();
    /// Calls `fn()` (or `fn(sig)`) as a loop callback whenever signal `sig`
    /// arrives; the signal is read through a signalfd. Replaces a previous
    /// handler of `sig`. Call from the loop's thread (see signals.hpp).
    template <class F>
        requires std::invocable<F&> || std::invocable<F&, int>
    void add_signal_handler(int sig, F fn) {
        if constexpr (std::invocable<F&, int>)
            add_signal_handler_impl(sig, std::function<void(int)>(std::move(fn)));
        else
            add_signal_handler_impl(sig, std::function<void(int)>([f = std::move(fn)](int) mutable { f(); }));
    }
    /// Removes the handler of `sig` and restores the signal's previous
    /// disposition; false if there was none.
    bool remove_signal_handler(int sig);

private:
    class SignalState;
    void add_signal_handler_impl(int sig, std::function<void(int)> fn);
    std::shared_ptr<ThreadPoolExecutor> default_executor_;
    bool default_executor_shut_down_ = false;
    std::shared_ptr<SignalState> signal_state_;
    // --- end of the issue 6 block ---
};

/// The loop running on this thread; throws RuntimeError when there is none.
EventLoop& get_running_loop();

namespace detail {
inline EventLoop& running_loop_for(const char* what) {
    if (EventLoop* l = tls_context.loop) return *l;
    throw RuntimeError(std::string(what) + ": no running event loop");
}
}  // namespace detail

}  // namespace aio

#include "aio/future.hpp"
#include "aio/task.hpp"
