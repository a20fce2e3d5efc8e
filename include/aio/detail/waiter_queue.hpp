// aio/detail/waiter_queue.hpp — what every synchronization primitive and
// queue shares: a FIFO of suspended tasks whose nodes live in the awaiters
// (so in the coroutine frames: waiting allocates nothing), and the binding of
// an object to the event loop that uses it (asyncio's _LoopBoundMixin).
//
// The protocol, in one place:
//  - An awaiter derives from Waiter. await_ready() does the operation when it
//    can complete at once (no suspension, hence no cancellation point);
//    otherwise await_suspend() calls park(queue, h).
//  - The owner wakes a parked waiter by unlinking it (pop_front) and calling
//    wake(status): FIFO, one ready-queue entry per woken task. Whatever the
//    wake hands over (the lock, a semaphore unit, a queue item, a reserved
//    queue slot) is recorded before the task runs.
//  - Task.cancel() reaches a parked waiter through cancel_wait(): it unlinks
//    and the task resumes with CancelledError; nothing was handed over, so
//    nothing is lost. A waiter already woken cannot be unlinked: cancel_wait()
//    returns false, the core raises CancelledError from resume_here() when
//    the task runs, and the awaiter gives back what it was handed (the next
//    waiter gets it) before letting the error out.
//  - An awaiter destroyed while parked (its frame destroyed at loop close)
//    unlinks itself; an object destroyed with waiters parked detaches them,
//    so neither order of destruction touches freed memory.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include "aio/event_loop.hpp"

namespace aio::detail {

class WaiterQueue;

/// How a parked waiter's wait ended. Set by whoever unlinks it.
enum class WaitStatus : std::uint8_t {
    idle,       // never parked: the operation completed in await_ready()
    waiting,    // parked (linked, unless its object was destroyed)
    woken,      // woken by the object; what it waited for was handed over
    cancelled,  // unlinked by cancel_wait(); nothing was handed over
    aborted,    // woken because the object was shut down or broken
};

/// A task suspended in a WaiterQueue. The node lives in the awaiter.
class Waiter : public Suspension {
public:
    WaitStatus status() const noexcept { return status_; }

    /// Records how the wait ended and schedules the task (FIFO behind the
    /// ready work). The caller has unlinked the waiter already.
    void wake(WaitStatus s = WaitStatus::woken) {
        status_ = s;
        task_->loop()->schedule(task_);
    }

protected:
    Waiter() noexcept = default;
    // Awaiters are moved (if ever) before they park: nothing to carry over.
    Waiter(Waiter&&) noexcept : Suspension() {}
    inline ~Waiter();

    /// Links into `q` and suspends the task; call from await_suspend(),
    /// passing its defaulted std::source_location (call graphs show it).
    inline void park(WaiterQueue& q, std::coroutine_handle<> h, const std::source_location& at);

    /// True when the task suspended here (await_ready() returned false).
    bool suspended() const noexcept { return task_ != nullptr; }

    /// For awaiters that were handed nothing: ends the wait, raising
    /// CancelledError when the task was cancelled, whether before or after
    /// it was woken.
    void resume_checked() {
        resume_here();
        if (status_ == WaitStatus::cancelled) throw CancelledError(task_->cancel_message());
    }

    inline bool cancel_wait() override;

    WaitStatus status_ = WaitStatus::idle;

private:
    friend class WaiterQueue;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    WaiterQueue* queue_ = nullptr;  // set while linked
};

/// Intrusive FIFO of Waiters: O(1) push, pop and unlink, no allocation.
class WaiterQueue {
public:
    WaiterQueue() noexcept = default;
    WaiterQueue(const WaiterQueue&) = delete;
    WaiterQueue& operator=(const WaiterQueue&) = delete;
    /// Detaches the waiters still parked: their tasks stay suspended until
    /// cancelled (or destroyed at loop close) and never touch this queue.
    ~WaiterQueue() {
        for (Waiter* w = head_; w;) {
            Waiter* next = w->next_;
            w->prev_ = w->next_ = nullptr;
            w->queue_ = nullptr;
            w = next;
        }
    }

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    Waiter* front() const noexcept { return head_; }

    void push_back(Waiter* w) noexcept {
        assert(w->queue_ == nullptr);
        w->queue_ = this;
        w->next_ = nullptr;
        w->prev_ = tail_;
        if (tail_)
            tail_->next_ = w;
        else
            head_ = w;
        tail_ = w;
        ++size_;
    }

    void remove(Waiter* w) noexcept {
        assert(w->queue_ == this);
        if (w->prev_)
            w->prev_->next_ = w->next_;
        else
            head_ = w->next_;
        if (w->next_)
            w->next_->prev_ = w->prev_;
        else
            tail_ = w->prev_;
        w->prev_ = w->next_ = nullptr;
        w->queue_ = nullptr;
        --size_;
    }

    Waiter* pop_front() noexcept {
        Waiter* w = head_;
        if (w) remove(w);
        return w;
    }

    /// Wakes the first waiter with `s`; false when there is none.
    bool wake_one(WaitStatus s = WaitStatus::woken) {
        Waiter* w = pop_front();
        if (!w) return false;
        w->wake(s);
        return true;
    }

    /// Wakes every waiter in FIFO order.
    void wake_all(WaitStatus s = WaitStatus::woken) {
        while (Waiter* w = pop_front()) w->wake(s);
    }

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
    std::size_t size_ = 0;
};

inline Waiter::~Waiter() {
    if (queue_) queue_->remove(this);
}

inline void Waiter::park(WaiterQueue& q, std::coroutine_handle<> h, const std::source_location& at) {
    status_ = WaitStatus::waiting;
    q.push_back(this);
    suspend_here(h, at);  // may call cancel_wait() at once if a cancel is pending
}

inline bool Waiter::cancel_wait() {
    if (status_ != WaitStatus::waiting) return false;  // already woken: the task is queued
    if (queue_) queue_->remove(this);
    status_ = WaitStatus::cancelled;
    task_->loop()->schedule(task_);
    return true;
}

/// Binds a primitive to the event loop that first uses it (asyncio's
/// _LoopBoundMixin) and guards against use from elsewhere.
///
/// - Suspending on an object bound to another loop raises RuntimeError
///   ("... is bound to a different event loop"), as asyncio does.
/// - In debug mode (loop.get_debug()), every operation also checks that it
///   runs on the thread of that loop and raises RuntimeError otherwise: the
///   primitives are not thread-safe. Without debug mode the check costs one
///   predictable branch.
/// Use before the first operation inside a running loop (e.g. filling a
/// queue before aio::run) does not bind.
class LoopBinding {
public:
    /// Every operation calls this first.
    void check(const char* what) {
        if (loop_ == nullptr) [[unlikely]]
            bind_if_running();
        if (debug_) [[unlikely]]
            check_caller(what);
    }

    /// Before suspending a task on the object.
    void check_wait(const char* type) {
        EventLoop* running = tls_context.loop;
        if (running != loop_ || running == nullptr) [[unlikely]]
            bind_for_wait(running, type);
        debug_ = running->get_debug();
    }

    EventLoop* loop() const noexcept { return loop_; }

private:
    void bind(EventLoop* loop) noexcept {
        loop_ = loop;
        thread_ = std::this_thread::get_id();
        debug_ = loop->get_debug();
    }

    void bind_if_running() noexcept {
        if (EventLoop* running = tls_context.loop) bind(running);
    }

    void bind_for_wait(EventLoop* running, const char* type) {
        if (running == nullptr) throw RuntimeError(std::string(type) + ": no running event loop");
        if (loop_ != nullptr) throw RuntimeError(std::string(type) + " is bound to a different event loop");
        bind(running);
    }

    void check_caller(const char* what) const {
        if (std::this_thread::get_id() != thread_)
            throw RuntimeError(std::string(what) +
                               ": called from a thread other than its event loop's; aio synchronization "
                               "primitives and queues are not thread-safe (use loop.call_soon_threadsafe)");
        EventLoop* running = tls_context.loop;
        if (running != nullptr && running != loop_)
            throw RuntimeError(std::string(what) + ": the object is bound to a different event loop");
    }

    EventLoop* loop_ = nullptr;
    std::thread::id thread_{};
    bool debug_ = false;
};

/// An awaitable that completes at once: lets `co_await barrier.reset()` read
/// like asyncio where aio does the work synchronously.
struct ReadyAwaitable {
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
};

}  // namespace aio::detail
