// aio/executor.hpp — leaving the loop's thread: ThreadPoolExecutor,
// loop.run_in_executor, aio::to_thread, ConcurrentFuture and
// aio::run_coroutine_threadsafe (asyncio's executor API and
// concurrent.futures).
//
// Which thread may call what (docs/threads-and-processes.md has the table):
// - ThreadPoolExecutor and ConcurrentFuture: any thread.
// - loop.run_in_executor, aio::to_thread: the loop's thread (inside a task for
//   to_thread). The function runs on a worker; its result or exception is
//   handed back with call_soon_threadsafe and the awaiting task resumes on the
//   loop's thread, never on the worker.
// - aio::run_coroutine_threadsafe(coro, loop): any thread except the loop's
//   own (blocking on its result there would deadlock; result() detects it).
//
// Cancellation:
// - co_await on run_in_executor's Future / aio::to_thread: the Future is
//   cancelled and the task resumes at once with CancelledError. A call still
//   queued never runs; a call already running cannot be interrupted: it runs
//   to the end on its worker and its result (or exception) is destroyed.
//   Nothing leaks either way. Merely dropping the Future does not stop the
//   call (fire and forget, as asyncio).
// - ConcurrentFuture::cancel(): succeeds only while the future is pending
//   (concurrent.futures semantics). For run_coroutine_threadsafe it also
//   cancels the task on the loop (posted with call_soon_threadsafe).
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/coro.hpp"
#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/future.hpp"
#include "aio/log.hpp"
#include "aio/task.hpp"

namespace aio {

template <class T = void>
class ConcurrentFuture;

namespace detail {

/// The type a call of `F` with `Args` (all moved in) gives back, decayed:
/// what a worker can hand back by value.
template <class F, class... Args>
using call_result_t = std::decay_t<std::invoke_result_t<std::decay_t<F>&&, std::decay_t<Args>&&...>>;

/// One job in a ThreadPoolExecutor's queue. The queue owns a claim on it that
/// complete() or discard() gives up.
class WorkItem {
public:
    WorkItem* next_work = nullptr;
    /// On a worker thread: do the work, keeping the outcome.
    virtual void run() noexcept = 0;
    /// On the same worker, once it counts as idle again: publish the outcome
    /// and give up the queue's claim. (Publishing last means that work the
    /// waiter submits in reaction finds this worker idle, not a reason to
    /// start another thread.)
    virtual void complete() noexcept = 0;
    /// The work will never run (shutdown(cancel_futures=true)): cancel what
    /// waits for it, then give up the queue's claim. Any thread.
    virtual void discard() noexcept = 0;

protected:
    WorkItem() = default;
    ~WorkItem() = default;
};

/// The state behind a ConcurrentFuture: a mutex, a condition variable and
/// callbacks, as concurrent.futures.Future.
class ConcurrentStateBase {
public:
    enum class Status : std::uint8_t { pending, running, finished, failed, cancelled };

    ConcurrentStateBase() = default;
    ConcurrentStateBase(const ConcurrentStateBase&) = delete;
    ConcurrentStateBase& operator=(const ConcurrentStateBase&) = delete;
    virtual ~ConcurrentStateBase() = default;

    Status status() const;
    bool done() const;
    /// concurrent.futures' set_running_or_notify_cancel(): false when the
    /// future was cancelled (the work must not run).
    bool set_running();
    /// Succeeds while pending; runs the cancel hook (under the lock) and the
    /// done callbacks.
    bool cancel(std::string message);
    /// Sets the exception unless the future is already done; false if done.
    bool set_exception(std::exception_ptr e);

    /// Blocks until done. `deadline` null: no limit; returns done().
    bool wait_until(const std::chrono::steady_clock::time_point* deadline) const;
    /// Throws what result() must throw (CancelledError, the exception).
    void check_result() const;
    std::exception_ptr exception_after_wait() const;

    /// Called with the lock held when cancel() succeeds (for
    /// run_coroutine_threadsafe: posts the task's cancellation to its loop).
    /// Cleared, under the lock, by whoever owns what it refers to.
    std::function<void(const std::string&)> on_cancel;
    /// The loop that completes this future, if any: waiting on that loop's
    /// thread would deadlock (RuntimeError).
    EventLoop* completing_loop = nullptr;

    void add_callback(std::function<void()> cb);
    std::mutex& mutex() const noexcept { return mutex_; }
    void clear_cancel_hook();

protected:
    /// Moves to a final status: the caller holds `lock`, which is released
    /// before the waiters wake and the done callbacks run.
    void finish(std::unique_lock<std::mutex>& lock, Status s);

    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    Status status_ = Status::pending;
    std::exception_ptr error_;
    std::string cancel_message_;
    std::vector<std::function<void()>> callbacks_;
};

template <class T>
class ConcurrentState final : public ConcurrentStateBase {
public:
    template <class... A>
    bool set_value(A&&... a) {
        std::unique_lock lock(mutex_);
        if (status_ >= Status::finished) return false;
        value_.emplace(std::forward<A>(a)...);
        finish(lock, Status::finished);
        return true;
    }
    /// Valid once finished (the value is never reset).
    const T& value() const { return *value_; }
    T& value() { return *value_; }

private:
    std::optional<T> value_;
};

template <>
class ConcurrentState<void> final : public ConcurrentStateBase {
public:
    bool set_value() {
        std::unique_lock lock(mutex_);
        if (status_ >= Status::finished) return false;
        finish(lock, Status::finished);
        return true;
    }
    void value() const {}
};

}  // namespace detail

/// A result slot shared between threads, as concurrent.futures.Future: what
/// ThreadPoolExecutor::submit() and run_coroutine_threadsafe() return. Any
/// thread may wait on it, read it or cancel it. A cheap shared handle.
template <class T>
class ConcurrentFuture {
    static_assert(!std::is_reference_v<T>, "ConcurrentFuture holds values");
    using State = detail::ConcurrentState<T>;
    using Status = detail::ConcurrentStateBase::Status;

public:
    using value_type = T;

    ConcurrentFuture() = default;
    explicit ConcurrentFuture(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}

    /// False for a default-constructed or moved-from handle.
    bool valid() const noexcept { return static_cast<bool>(state_); }

    /// Cancels the future if it is still pending (a submitted call that has
    /// not started, or a coroutine from run_coroutine_threadsafe, whose task
    /// is then cancelled on its loop). False once running or done.
    bool cancel(std::string message = {}) { return state_->cancel(std::move(message)); }
    bool cancelled() const { return state_->status() == Status::cancelled; }
    bool running() const { return state_->status() == Status::running; }
    bool done() const { return state_->done(); }

    /// Blocks until done.
    void wait() const { state_->wait_until(nullptr); }
    /// Blocks at most `timeout`; true if done.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
        return state_->wait_until(&deadline);
    }

    /// Blocks until done and returns the value (a reference into the shared
    /// state, valid while a handle exists); rethrows the call's exception;
    /// raises CancelledError if cancelled.
    decltype(auto) result() const {
        state_->wait_until(nullptr);
        return checked_value();
    }
    /// As result(), waiting at most `timeout`: TimeoutError when it passes.
    template <class Rep, class Period>
    decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const {
        if (!wait_for(timeout)) throw TimeoutError("ConcurrentFuture::result: timed out");
        return checked_value();
    }
    decltype(auto) result(double seconds) const { return result(std::chrono::duration<double>(seconds)); }

    /// Waits, then moves the value out (std::future::get): for one consumer.
    T get() {
        state_->wait_until(nullptr);
        state_->check_result();
        if constexpr (!std::is_void_v<T>) return T(std::move(state_->value()));
    }

    /// Blocks until done; the exception (null on success); CancelledError if
    /// cancelled.
    std::exception_ptr exception() const {
        state_->wait_until(nullptr);
        return state_->exception_after_wait();
    }
    template <class Rep, class Period>
    std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
        if (!wait_for(timeout)) throw TimeoutError("ConcurrentFuture::exception: timed out");
        return state_->exception_after_wait();
    }

    /// Calls `fn(future)` (or `fn()`) once the future is done, on the thread
    /// that completes it, or at once on this thread if it already is
    /// (concurrent.futures semantics). Exceptions from `fn` are reported on
    /// stderr and otherwise ignored.
    template <class F>
    void add_done_callback(F fn) {
        static_assert(std::is_invocable_v<F&, ConcurrentFuture&> || std::is_invocable_v<F&>,
                      "a done callback takes the future (by reference) or nothing");
        state_->add_callback([self = *this, f = std::move(fn)]() mutable {
            if constexpr (std::is_invocable_v<F&, ConcurrentFuture&>)
                f(self);
            else
                f();
        });
    }

    friend bool operator==(const ConcurrentFuture& a, const ConcurrentFuture& b) noexcept {
        return a.state_ == b.state_;
    }

private:
    decltype(auto) checked_value() const {
        state_->check_result();
        if constexpr (std::is_void_v<T>)
            return;
        else
            return static_cast<const T&>(state_->value());
    }
    std::shared_ptr<State> state_;
};

/// A pool of worker threads (concurrent.futures.ThreadPoolExecutor): at most
/// `max_workers` threads, started on demand when work is queued and no worker
/// is idle. Workers block asynchronous signals, so signals reach the loop's
/// thread. Any thread may submit.
///
/// Destruction is shutdown(wait = true): queued work still runs and every
/// worker is joined. Do not destroy an executor from one of its own workers.
class ThreadPoolExecutor {
public:
    /// `max_workers` 0 means min(32, hardware threads + 4), as Python.
    explicit ThreadPoolExecutor(std::size_t max_workers = 0, std::string thread_name_prefix = {});
    ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
    ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
    ~ThreadPoolExecutor();

    /// Queues `fn(args...)` (all moved into the job) and returns its future.
    /// RuntimeError after shutdown().
    template <class F, class... Args>
    ConcurrentFuture<detail::call_result_t<F, Args...>> submit(F&& fn, Args&&... args);

    /// No new work is accepted after this. `cancel_futures`: queued work that
    /// has not started is cancelled. `wait`: blocks until every worker has
    /// finished (queued work that was not cancelled still runs first).
    /// Idempotent; callable from any thread.
    void shutdown(bool wait = true, bool cancel_futures = false);

    std::size_t max_workers() const noexcept { return max_workers_; }
    /// Threads started so far.
    std::size_t thread_count() const;
    bool is_shutdown() const;

    /// Queues a job (internal: submit, run_in_executor). Takes the queue's
    /// claim on success; RuntimeError after shutdown (the claim stays with
    /// the caller).
    void post(detail::WorkItem* item);

private:
    void worker_main(std::size_t index);
    void start_worker_locked();

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    detail::WorkItem* head_ = nullptr;
    detail::WorkItem* tail_ = nullptr;
    std::atomic<std::size_t> queued_{0};  // read without the lock by spinning workers
    std::size_t idle_ = 0;                // workers not running a job
    std::size_t spinners_ = 0;            // idle workers still polling the queue
    std::size_t sleepers_ = 0;            // idle workers blocked on cv_
    std::vector<std::thread> threads_;
    std::mutex join_mutex_;
    bool shutdown_ = false;
    std::size_t max_workers_;
    std::string prefix_;
};

namespace detail {

/// A ThreadPoolExecutor job whose result goes to a ConcurrentFuture.
template <class R, class Fn>
class SubmitItem final : public WorkItem {
public:
    SubmitItem(std::shared_ptr<ConcurrentState<R>> state, Fn fn) : state_(std::move(state)), fn_(std::in_place, std::move(fn)) {}

    void run() noexcept override {
        if (!state_->set_running()) return;  // cancelled while queued
        ran_ = true;
        try {
            if constexpr (std::is_void_v<R>)
                (*fn_)();
            else
                value_.emplace((*fn_)());
        } catch (...) {
            error_ = std::current_exception();
        }
        fn_.reset();
    }
    void complete() noexcept override {
        std::unique_ptr<SubmitItem> self(this);
        if (!ran_) return;
        if (error_) {
            state_->set_exception(std::move(error_));
            return;
        }
        try {
            if constexpr (std::is_void_v<R>)
                state_->set_value();
            else
                state_->set_value(std::move(*value_));
        } catch (...) {
            state_->set_exception(std::current_exception());
        }
    }
    void discard() noexcept override {
        std::unique_ptr<SubmitItem> self(this);
        state_->cancel({});
    }

private:
    std::shared_ptr<ConcurrentState<R>> state_;
    std::optional<Fn> fn_;
    bool ran_ = false;
    std::conditional_t<std::is_void_v<R>, char, std::optional<R>> value_{};
    std::exception_ptr error_;
};

/// A run_in_executor job: runs on a worker, then hands its outcome back to
/// the loop with call_soon_threadsafe, where it completes an aio::Future.
///
/// Ownership, with an atomic count, so that nothing of the loop is touched on
/// a worker: one claim for the queue (given up after run/discard), one for
/// the link to the Future (the node sits in the Future's waiter list; given
/// up on the loop thread when the result is delivered, the Future finishes
/// first — it was cancelled — or the Future's state dies), one per posted
/// delivery callback.
template <class R, class Fn>
class ExecutorCall final : public WorkItem, public WaitNode {
public:
    ExecutorCall(EventLoop* loop, CompletionCore* future, Fn fn)
        : loop_(loop), future_(future), fn_(std::in_place, std::move(fn)) {}

    void run() noexcept override {
        std::uint8_t expected = kQueued;
        if (!phase_.compare_exchange_strong(expected, kRunning, std::memory_order_acq_rel)) return;
        ran_ = true;
        try {
            if constexpr (std::is_void_v<R>)
                (*fn_)();
            else
                value_.emplace((*fn_)());
        } catch (...) {
            error_ = std::current_exception();
        }
        fn_.reset();  // the callable's captures die on the worker, now
    }
    void complete() noexcept override {
        if (ran_) post();
        release();  // the queue's claim
    }

    void discard() noexcept override {
        std::uint8_t expected = kQueued;
        if (phase_.compare_exchange_strong(expected, kCancelled, std::memory_order_acq_rel)) {
            executor_cancelled_ = true;
            post();
        }
        release();
    }

    /// The Future finished before the result came: if it was cancelled
    /// (asyncio's wrap_future rule), a call that has not started never
    /// will; one that runs is abandoned, its outcome dropped.
    void wake() override {
        if (future_->cancelled()) {
            std::uint8_t expected = kQueued;
            phase_.compare_exchange_strong(expected, kCancelled, std::memory_order_acq_rel);
        }
        release();  // the link's claim
    }
    /// Every handle to the Future was dropped: the call still runs (fire
    /// and forget, as asyncio), its outcome is dropped (an exception is
    /// logged, as asyncio's "exception was never retrieved").
    void abandon() noexcept override {
        abandoned_ = true;
        release();
    }

    /// run_in_executor could not queue the job: undo the link, drop both claims.
    void unpost() noexcept {
        if (linked()) future_->remove_waiter(this);
        delete this;
    }

private:
    static constexpr std::uint8_t kQueued = 0, kRunning = 1, kCancelled = 2;

    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// A claim that travels with the delivery callback.
    struct Claim {
        ExecutorCall* call;
        explicit Claim(ExecutorCall* c) noexcept : call(c) {}
        Claim(Claim&& o) noexcept : call(std::exchange(o.call, nullptr)) {}
        Claim& operator=(Claim&&) = delete;
        ~Claim() {
            if (call) call->release();
        }
    };

    void post() noexcept {
        refs_.fetch_add(1, std::memory_order_relaxed);
        try {
            loop_->call_soon_threadsafe([claim = Claim(this)]() { claim.call->deliver(); });
        } catch (...) {
            // The loop is closed: nobody can receive the outcome any more.
        }
    }

    /// On the loop's thread.
    void deliver() {
        if (!linked()) {  // the Future finished or died first
            if (abandoned_ && error_)
                log(LogLevel::error, "run_in_executor: exception in a call whose Future was dropped\n  exception: " +
                                         describe_exception(error_));
            return;
        }
        Future<R> future = Future<R>::from_core(future_);
        future_->remove_waiter(this);
        release();  // the link's claim (the delivery callback still holds one)
        if (executor_cancelled_) {
            future.cancel();
        } else if (error_) {
            future.set_exception(std::move(error_));
        } else if constexpr (std::is_void_v<R>) {
            future.set_result();
        } else {
            future.set_result(std::move(*value_));
        }
    }

    std::atomic<std::uint32_t> refs_{2};  // the queue's and the link's
    std::atomic<std::uint8_t> phase_{kQueued};
    bool ran_ = false;  // worker only
    bool executor_cancelled_ = false;
    bool abandoned_ = false;  // loop thread only
    EventLoop* loop_;
    CompletionCore* future_;  // loop thread only; alive while linked
    std::optional<Fn> fn_;
    std::conditional_t<std::is_void_v<R>, char, std::optional<R>> value_{};
    std::exception_ptr error_;
};

/// Wraps `fn(args...)` into a callable without arguments that owns them.
template <class R, class F, class... Args>
auto bind_call(F&& fn, Args&&... args) {
    return [f = std::forward<F>(fn), ... a = std::forward<Args>(args)]() mutable -> R {
        return std::invoke(std::move(f), std::move(a)...);
    };
}

}  // namespace detail

template <class F, class... Args>
ConcurrentFuture<detail::call_result_t<F, Args...>> ThreadPoolExecutor::submit(F&& fn, Args&&... args) {
    using R = detail::call_result_t<F, Args...>;
    auto state = std::make_shared<detail::ConcurrentState<R>>();
    auto call = detail::bind_call<R>(std::forward<F>(fn), std::forward<Args>(args)...);
    auto* item = new detail::SubmitItem<R, decltype(call)>(state, std::move(call));
    try {
        post(item);
    } catch (...) {
        delete item;
        throw;
    }
    return ConcurrentFuture<R>(std::move(state));
}

template <class F, class... Args>
auto EventLoop::run_in_executor(ThreadPoolExecutor* executor, F&& fn, Args&&... args) {
    using R = detail::call_result_t<F, Args...>;
    check_open();
    if (running_ && thread_id_ != std::this_thread::get_id())
        throw RuntimeError("run_in_executor: call it from the event loop's thread (see call_soon_threadsafe)");
    ThreadPoolExecutor& ex = executor ? *executor : default_executor();
    Future<R> future(*this);
    auto call = detail::bind_call<R>(std::forward<F>(fn), std::forward<Args>(args)...);
    auto* item = new detail::ExecutorCall<R, decltype(call)>(this, future.completion_core(), std::move(call));
    future.completion_core()->add_waiter(item);
    try {
        ex.post(item);
    } catch (...) {
        item->unpost();
        throw;
    }
    return future;
}

/// Runs `fn(args...)` on the running loop's default executor and gives its
/// result (asyncio.to_thread). Lazy, as a coroutine: nothing is queued until
/// the Coro is awaited. Arguments are moved into the call (use std::ref to
/// pass a reference, and keep the referent alive until the call finished —
/// which is after a cancelled await returned).
template <class F, class... Args>
    requires std::is_void_v<detail::call_result_t<F, Args...>>
Coro<void> to_thread(F fn, Args... args) {
    EventLoop& loop = detail::running_loop_for("aio::to_thread");
    Future<void> future = loop.run_in_executor(nullptr, std::move(fn), std::move(args)...);
    co_await future;
}
template <class F, class... Args>
    requires(!std::is_void_v<detail::call_result_t<F, Args...>>)
Coro<detail::call_result_t<F, Args...>> to_thread(F fn, Args... args) {
    using R = detail::call_result_t<F, Args...>;
    EventLoop& loop = detail::running_loop_for("aio::to_thread");
    Future<R> future = loop.run_in_executor(nullptr, std::move(fn), std::move(args)...);
    R result = co_await std::move(future);
    co_return result;
}

namespace detail {

/// run_coroutine_threadsafe's loop side: owns the ConcurrentFuture's claim
/// to be completed and knows the task while it runs. Lives in the start
/// callback, then in the task's done callback: it always dies on the loop's
/// thread, before the loop closes, which is when it detaches the cancel hook.
template <class T>
class ThreadsafeCompleter {
public:
    ThreadsafeCompleter(std::shared_ptr<ConcurrentState<T>> state, std::shared_ptr<TaskCore*> task)
        : state_(std::move(state)), task_(std::move(task)) {}
    ThreadsafeCompleter(ThreadsafeCompleter&&) noexcept = default;
    ThreadsafeCompleter& operator=(ThreadsafeCompleter&&) = delete;
    ~ThreadsafeCompleter() {
        if (!state_) return;
        // Never completed: the loop closed first (or the start was dropped).
        *task_ = nullptr;
        state_->clear_cancel_hook();
        state_->cancel("the event loop closed before the coroutine finished");
    }

    bool abandoned() const { return state_->done(); }
    void started(TaskCore* t) { *task_ = t; }

    void complete(Task<T>& task) {
        *task_ = nullptr;
        state_->clear_cancel_hook();
        std::shared_ptr<ConcurrentState<T>> state = std::move(state_);
        if (task.cancelled()) {
            state->cancel(task.core()->cancel_message());
            return;
        }
        if (std::exception_ptr e = task.exception()) {
            state->set_exception(std::move(e));
            return;
        }
        try {
            if constexpr (std::is_void_v<T>)
                state->set_value();
            else
                state->set_value(task.take_result());
        } catch (...) {
            state->set_exception(std::current_exception());
        }
    }

private:
    std::shared_ptr<ConcurrentState<T>> state_;
    std::shared_ptr<TaskCore*> task_;  // loop thread only
};

template <class T>
struct ThreadsafeStart {
    Coro<T> coro;
    ThreadsafeCompleter<T> completer;
    EventLoop* loop;

    void operator()() {
        if (completer.abandoned()) return;  // cancelled before it started: never runs
        Task<T> task = loop->create_task(std::move(coro));
        completer.started(task.core());
        task.add_done_callback([c = std::move(completer)](Task<T>& t) mutable { c.complete(t); });
    }
};

}  // namespace detail

/// Submits `coro` to `loop` from another thread (asyncio's
/// run_coroutine_threadsafe): the coroutine runs as a task on the loop's
/// thread; the returned ConcurrentFuture gets its result, exception or
/// cancellation. Cancelling the ConcurrentFuture cancels the task. If the
/// loop closes before the task finishes, the future is cancelled.
/// RuntimeError if the loop is closed already.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
    auto state = std::make_shared<detail::ConcurrentState<T>>();
    auto task = std::make_shared<detail::TaskCore*>(nullptr);
    state->completing_loop = &loop;
    // Runs with the state's lock held; the completer clears it (under the
    // same lock) before the loop can go away.
    state->on_cancel = [task, loop = &loop](const std::string& message) {
        try {
            loop->call_soon_threadsafe([task, message] {
                if (detail::TaskCore* t = *task) t->cancel(message);
            });
        } catch (const RuntimeError&) {
        }
    };
    loop.call_soon_threadsafe(detail::ThreadsafeStart<T>{std::move(coro), detail::ThreadsafeCompleter<T>(state, task), &loop});
    return ConcurrentFuture<T>(std::move(state));
}
/// Runs `fn()` (a callable returning a Coro) in a task on `loop`; the callable
/// is moved into the coroutine frame.
template <class F>
    requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
auto run_coroutine_threadsafe(F fn, EventLoop& loop) {
    return run_coroutine_threadsafe(detail::invoke_in_frame(std::move(fn)), loop);
}

}  // namespace aio
