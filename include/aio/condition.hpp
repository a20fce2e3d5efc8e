// aio/condition.hpp — aio::Condition, asyncio.Condition: a condition
// variable for tasks, over an aio::Lock (its own, or one you pass in).
//
//     aio::Condition cond;
//     std::deque<Job> jobs;
//     // consumer                                  // producer
//     auto guard = co_await cond.acquire();        auto guard = co_await cond.acquire();
//     co_await cond.wait_for([&] { return !jobs.empty(); });
//     Job job = take(jobs);                        jobs.push_back(job);
//                                                  cond.notify();
//
// wait() releases the lock, suspends until notify()/notify_all() wakes it,
// then re-acquires the lock before returning — always, also when it raises:
// when wait() returns or throws, the caller holds the lock again (so the
// guard taken before stays correct). wait_for(pred) loops wait() until
// pred() is truthy and returns pred()'s last value. notify(n) wakes the n
// longest waiters, notify_all() all of them; both require the lock to be held.
//
// Wait morphing: since notify() runs with the lock held, a notified waiter
// could only block on the lock once it ran. notify() therefore moves it
// straight into the lock's FIFO queue, and the lock is handed to it on
// release — one wake-up instead of two. wait() allocates nothing.
//
// Cancellation:
//  - wait() is always a suspension point. A cancellation while waiting for
//    the notification, or while re-acquiring the lock, is held back until
//    the lock is re-acquired, then raised (asyncio's behaviour). The waiter
//    leaves no trace in the condition's queue.
//  - A waiter cancelled after a notify() picked it passes the notification
//    on to the next waiter (notify(1)), so a notify is never lost to a
//    cancellation; the next waiter may see a spurious wake-up, which the
//    wait_for() loop absorbs.
//
// Errors: wait() and notify() without holding the lock raise RuntimeError.
// Not thread-safe, as asyncio.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "aio/coro.hpp"
#include "aio/detail/waiter_queue.hpp"
#include "aio/lock.hpp"

namespace aio {

class Condition {
public:
    /// A condition with its own lock.
    Condition() noexcept : lock_(&own_lock_) {}
    /// A condition over `lock` (which must outlive it); several conditions
    /// may share one lock.
    explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;

    // The lock's interface, as asyncio exports it.
    Lock::AcquireAwaiter acquire() noexcept { return lock_->acquire(); }
    void release() { lock_->release(); }
    bool locked() const noexcept { return lock_->locked(); }
    Lock& lock() noexcept { return *lock_; }

    class [[nodiscard]] WaitAwaiter final : public detail::Waiter {
    public:
        explicit WaitAwaiter(Condition& cond) noexcept : cond_(&cond) {}
        WaitAwaiter(WaitAwaiter&& o) noexcept : Waiter(std::move(o)), cond_(o.cond_) {}

        bool await_ready() {
            cond_->binding_.check("aio::Condition::wait");
            if (!cond_->lock_->locked()) throw RuntimeError("cannot wait on un-acquired lock");
            cond_->binding_.check_wait("aio::Condition");
            cond_->check_lock_wait();  // the lock will wake this task
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            cond_->release_for_wait();
            park(cond_->waiters_, h, at);
        }
        void await_resume() {
            // Whatever happened, the lock was handed to this task before it
            // was scheduled: it holds the lock here.
            try {
                resume_here();  // raises if cancelled after the lock was handed over
            } catch (...) {
                pass_notification_on();
                throw;
            }
            if (cancelled_) {
                pass_notification_on();
                throw CancelledError(task_->cancel_message());
            }
        }

    private:
        friend class Condition;

        bool cancel_wait() override {
            if (status_ != detail::WaitStatus::waiting) return false;  // the lock was handed over
            cancelled_ = true;
            if (!in_lock_queue_) {
                // Leave the condition's queue, then re-acquire the lock
                // before raising: now if free, else in the lock's queue.
                cond_->waiters_.remove(this);
                if (cond_->try_lock()) {
                    wake();
                } else {
                    in_lock_queue_ = true;
                    cond_->queue_on_lock(this);
                }
            }
            // In the lock's queue: stay there; the error waits for the lock.
            return true;
        }

        void pass_notification_on() {
            if (notified_) cond_->wake(1);
        }

        Condition* cond_;
        bool in_lock_queue_ = false;  // notified (or cancelled): waiting for the lock
        bool notified_ = false;
        bool cancelled_ = false;
    };

    /// `co_await cond.wait();` releases the lock, waits for a notification
    /// and re-acquires the lock. RuntimeError if the lock is not held.
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

    /// Waits until `predicate()` is truthy; returns its last value. The
    /// predicate is evaluated with the lock held, first before any wait.
    template <class Predicate>
        requires std::invocable<Predicate&>
    Coro<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }

    /// Wakes up to `n` waiters (FIFO). RuntimeError without the lock held.
    void notify(std::size_t n = 1) {
        binding_.check("aio::Condition::notify");
        if (!lock_->locked()) throw RuntimeError("cannot notify on un-acquired lock");
        wake(n);
    }
    /// Wakes every waiter. RuntimeError without the lock held.
    void notify_all() { notify(waiters_.size()); }

    /// Tasks suspended in wait() and not notified yet.
    std::size_t num_waiters() const noexcept { return waiters_.size(); }

private:
    // Condition is Lock's friend; its nested awaiter goes through these.
    void check_lock_wait() { lock_->binding_.check_wait("aio::Lock"); }
    bool try_lock() noexcept {
        if (lock_->locked_) return false;
        lock_->locked_ = true;
        return true;
    }
    void queue_on_lock(detail::Waiter* w) noexcept { lock_->waiters_.push_back(w); }
    void release_for_wait() { lock_->pass_on(); }  // to the next lock waiter, or unlocked

    /// Moves up to `n` waiters into the lock's queue (the lock is held).
    void wake(std::size_t n) {
        for (; n > 0; --n) {
            auto* w = static_cast<WaitAwaiter*>(waiters_.pop_front());
            if (!w) break;
            w->notified_ = true;
            w->in_lock_queue_ = true;
            queue_on_lock(w);
        }
    }

    Lock own_lock_;
    Lock* lock_;
    detail::WaiterQueue waiters_;
    detail::LoopBinding binding_;
};

}  // namespace aio
