// aio/detail/runtime.hpp — the machinery shared by the loop, tasks, futures
// and every awaitable: the per-thread context, ready-queue items, the
// suspension protocol through which cancellation is delivered, and the state
// objects behind Future and Task handles.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "aio/detail/frame_allocator.hpp"
#include "aio/detail/intrusive.hpp"
#include "aio/errors.hpp"

namespace aio {
class EventLoop;
}

namespace aio::detail {

class TaskCore;
struct FrameLink;

/// What every aio coroutine frame records: the frame that awaits it, through
/// the link in that frame's awaiter (the continuation, and call graphs).
struct FrameInfo {
    FrameLink* link = nullptr;  // set while another frame awaits this one
};

/// Lives in the awaiting frame (inside the awaiter) while it awaits a child:
/// the frame to resume, and for call graphs the parent's own frame info and
/// the co_await expression where it waits. Frames that never await a Coro
/// carry none of this.
struct FrameLink {
    std::coroutine_handle<> parent{};
    FrameInfo* parent_info = nullptr;  // null when the parent is not an aio frame
    std::source_location at{};
};

/// What the running thread is doing: the loop it runs, the task being
/// stepped, and the coroutine the task's driver resumes next.
///
/// Awaiting a Coro does not nest resume() calls: the awaiter stores the child
/// in `next` and returns to the driver loop in TaskCore::run(), which resumes
/// it. The stack stays flat whatever the compiler does with tail calls.
struct ThreadContext {
    EventLoop* loop = nullptr;
    TaskCore* task = nullptr;
    std::coroutine_handle<> next{};
    bool root_returned = false;  // the task's root coroutine reached final_suspend
};

inline thread_local constinit ThreadContext tls_context{};

/// An item of the loop's ready queue.
class Runnable {
public:
    virtual void run() = 0;
    /// The loop closes with this item still queued: drop the queue's claim.
    virtual void discard() noexcept {}

protected:
    Runnable() = default;
    ~Runnable() = default;
};

/// A callback scheduled on the loop (call_soon, call_later, add_reader, done
/// callbacks). Reference counted atomically: call_soon_threadsafe hands one to
/// another thread.
class HandleBase : public Runnable, public PoolAllocated {
public:
    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    virtual void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
    bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }

    /// Runs the callback unless cancelled, then drops the ready queue's
    /// reference. Exceptions go to the loop's exception handler.
    void run() final;
    void discard() noexcept final { release(); }

    virtual ~HandleBase() = default;

protected:
    HandleBase() = default;
    virtual void invoke() = 0;

private:
    std::atomic<std::uint32_t> refs_{1};
    std::atomic<bool> cancelled_{false};
};

template <class F>
class CallbackHandle final : public HandleBase {
public:
    explicit CallbackHandle(F f) : fn_(std::move(f)) {}

private:
    void invoke() override { fn_(); }
    F fn_;
};

/// An entry of the loop's timer heap. The node lives in whoever owns the
/// timer (a TimerHandle, or a sleep awaiter inside a coroutine frame) and
/// records its heap position, so cancellation is an O(log n) removal with no
/// garbage left behind.
class TimerNode {
public:
    static constexpr std::size_t npos = ~std::size_t{0};      // not in the heap
    static constexpr std::size_t cancelled = npos - 1;         // not in the heap: cancelled
    std::int64_t when_ns = 0;    // steady_clock nanoseconds
    std::uint64_t sequence = 0;  // FIFO among equal deadlines
    std::size_t heap_index = npos;

    bool armed() const noexcept { return heap_index < cancelled; }
    /// The deadline passed; the node is already out of the heap.
    virtual void fire(EventLoop& loop) = 0;
    /// The loop closes with this timer still armed.
    virtual void loop_closed() noexcept {}

protected:
    ~TimerNode() = default;
};

/// A file descriptor became readable or writable.
class IoCallback {
public:
    virtual void io_ready(EventLoop& loop) = 0;

protected:
    ~IoCallback() = default;
};

/// A point where a task is suspended waiting for something that cancel() can
/// interrupt (a future, a timer, a queue...). Awaiters derive from it.
///
/// Protocol: await_suspend() registers the wait, then calls suspend_here();
/// await_resume() calls resume_here() first, which throws CancelledError when
/// the task was cancelled while it waited and the wait itself did not end in
/// a cancellation the awaiter reports.
class Suspension {
public:
    /// The task was cancelled while suspended here. Stop waiting and get the
    /// task rescheduled so that await_resume() raises CancelledError; return
    /// false when the wait had already ended (the task is already scheduled).
    virtual bool cancel_wait() = 0;

    std::coroutine_handle<> handle() const noexcept { return handle_; }
    TaskCore* task() const noexcept { return task_; }
    /// The co_await expression suspended here, when the awaiter recorded it.
    const std::source_location& location() const noexcept { return at_; }

protected:
    Suspension() = default;
    Suspension(const Suspension&) = delete;
    Suspension& operator=(const Suspension&) = delete;
    ~Suspension() = default;

    inline void suspend_here(std::coroutine_handle<> h);
    /// Also records `at` (the co_await expression, from a defaulted
    /// std::source_location parameter of await_suspend) for call graphs.
    inline void suspend_here(std::coroutine_handle<> h, const std::source_location& at);
    inline void resume_here();

    std::coroutine_handle<> handle_{};
    TaskCore* task_ = nullptr;
    std::source_location at_{};
};

enum class CompletionState : std::uint8_t { pending, finished, failed, cancelled };

/// The state shared by Future and Task handles: completion, waiters and the
/// exception. Single-threaded (owned by one loop), so the count is plain.
class CompletionCore : public Runnable, public PoolAllocated {
public:
    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) destroy();
    }

    bool done() const noexcept { return state_ != CompletionState::pending; }
    bool cancelled() const noexcept { return state_ == CompletionState::cancelled; }
    CompletionState state() const noexcept { return state_; }

    /// The exception the object finished with (null on success); raises
    /// CancelledError if cancelled and InvalidStateError if pending.
    std::exception_ptr exception() const;
    /// Throws what result() must throw before a value can be returned.
    void check_result() const;
    [[noreturn]] void throw_cancelled() const;

    void add_waiter(WaitNode* n) noexcept { waiters_.push_back(n); }
    void remove_waiter(WaitNode* n) noexcept { waiters_.remove(n); }
    const WaitList& waiters() const noexcept { return waiters_; }

    const std::string& cancel_message() const noexcept;
    void set_cancel_message(std::string msg);

    /// The loop this object belongs to.
    EventLoop* loop() const noexcept { return loop_; }

protected:
    explicit CompletionCore(EventLoop* loop) noexcept : loop_(loop) {}
    virtual ~CompletionCore();
    virtual void destroy() noexcept { delete this; }

    std::uint32_t refs_ = 1;
    CompletionState state_ = CompletionState::pending;
    // Task-only fields packed here to keep a task small.
    bool must_cancel_ = false;
    bool started_ = false;
    bool value_stored_ = false;  // TaskState: the result replaced the frame
    std::uint16_t cancel_requests_ = 0;
    // result() or exception() was asked, or the object was awaited: a failure
    // nobody retrieved is reported when the last handle goes.
    mutable bool retrieved_ = false;
    std::uint32_t task_number_ = 0;
    WaitList waiters_;
    std::exception_ptr exception_;
    // Rarely used, so allocated on first use: one pointer in every object.
    struct Extra {
        std::string cancel_message;
        std::string name;
        bool named = false;
    };
    Extra& extra();
    std::unique_ptr<Extra> extra_;
    EventLoop* loop_;
};

/// A plain future's state. Futures are never queued: run() is unreachable.
class FutureCore : public CompletionCore {
public:
    explicit FutureCore(EventLoop* loop) noexcept : CompletionCore(loop) {}
    ~FutureCore() override;

    bool cancel(std::string msg);
    void set_exception(std::exception_ptr e);
    /// Marks the future finished and wakes its waiters; the value is stored
    /// by the typed state before.
    void finish_with_result();
    void check_settable(const char* what) const;

private:
    void run() override {}
    void finish(CompletionState s);
};

template <class T>
class FutureState final : public FutureCore {
public:
    using FutureCore::FutureCore;
    std::optional<T> value;
};

template <>
class FutureState<void> final : public FutureCore {
public:
    using FutureCore::FutureCore;
};

/// The type-erased part of a task: stepping its coroutine, cancellation, and
/// its place among the loop's live tasks. Typed by TaskState<T> in task.hpp.
class TaskCore : public CompletionCore {
public:
    /// Runs one step: resumes the coroutine where it is suspended and drives
    /// nested Coro awaits until the task suspends for real or finishes.
    void run() final;

    bool cancel(std::string msg);
    std::uint32_t cancelling() const noexcept { return cancel_requests_; }
    std::uint32_t uncancel() noexcept;
    /// The loop closes with this task pending: destroy the frame unresumed,
    /// report it, and leave the task cancelled.
    void abandon_on_close();

    std::string name() const;
    void set_name(std::string name);

    // Intrusive list of the loop's live tasks; the list holds one reference.
    TaskCore* prev_live = nullptr;
    TaskCore* next_live = nullptr;
    /// The innermost aio frame the task runs through (call graphs).
    FrameInfo* top_frame = nullptr;
    Suspension* awaiting() const noexcept { return awaiting_; }
    /// The tasks waiting for this one to finish (call graphs).
    std::vector<TaskCore*> awaiting_tasks() const;

protected:
    explicit TaskCore(EventLoop* loop, std::string_view name);
    ~TaskCore() override;

    virtual std::coroutine_handle<> root() const noexcept = 0;
    /// The root coroutine returned: take its result or exception into the
    /// state and destroy the frame. Returns the exception, if any.
    virtual std::exception_ptr harvest() noexcept = 0;
    /// The loop closes with the task pending: destroy its frame unresumed.
    virtual void destroy_frame() noexcept = 0;

private:
    friend class Suspension;
    friend class aio::EventLoop;
    void complete();
    void finish(CompletionState s);

    Suspension* awaiting_ = nullptr;
};

inline void Suspension::suspend_here(std::coroutine_handle<> h) {
    handle_ = h;
    task_ = tls_context.task;
    task_->awaiting_ = this;
    if (task_->must_cancel_ && cancel_wait()) task_->must_cancel_ = false;
}

inline void Suspension::suspend_here(std::coroutine_handle<> h, const std::source_location& at) {
    at_ = at;
    suspend_here(h);
}

inline void Suspension::resume_here() {
    task_->awaiting_ = nullptr;
    if (task_->must_cancel_) {
        task_->must_cancel_ = false;
        throw CancelledError(task_->cancel_message());
    }
}

/// Debug mode: a Coro was destroyed without ever being awaited. Reports the
/// coroutine (by its frame's resume function) and where it was dropped.
void report_never_awaited(void* frame_address) noexcept;
bool debug_mode_active() noexcept;

/// The task stepping on this thread; throws RuntimeError outside a task.
TaskCore& current_task_core(const char* what);

}  // namespace aio::detail
