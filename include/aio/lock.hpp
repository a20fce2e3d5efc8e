// aio/lock.hpp — aio::Lock, asyncio.Lock: a mutual-exclusion lock for tasks
// of one event loop, with an RAII guard.
//
//     aio::Lock lock;
//     ...
//     {
//         auto guard = co_await lock.acquire();  // `async with lock:`
//         co_await update_shared_state();
//     }                                          // released here, also on exceptions
//
// Fairness: FIFO, as asyncio. release() hands the lock directly to the task
// that has waited longest; a task that releases and re-acquires at once
// queues behind the waiters, so nobody can barge in.
//
// Cancellation (acquire() is a suspension point only when the lock is taken):
//  - cancelled while waiting: the task leaves the queue and raises
//    CancelledError; it never holds the lock.
//  - cancelled after release() handed it the lock but before it ran: acquire()
//    raises CancelledError and passes the lock on to the next waiter (or
//    unlocks); it never ends up holding it.
//
// The guard: acquire() resumes with a LockGuard that releases in its
// destructor. `guard.release()` releases early, `guard.detach()` keeps the
// lock held and leaves the release to you (lock.release(), asyncio style, from
// any task). Deliberate deviation: a discarded `co_await lock.acquire();`
// releases at once (clang warns through [[nodiscard]]; g++ 12 does not warn on
// co_await expressions) — always bind the guard.
//
// Deliberate deviation: locked() is true from the moment release() hands the
// lock to a waiter, before that waiter runs (asyncio reports false in that
// window although acquire() would block anyway).
//
// Not thread-safe, as asyncio: use a Lock from the tasks and callbacks of one
// loop. In debug mode (loop.get_debug()) use from another thread raises
// RuntimeError; waiting on it from another loop always does.
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>

#include "aio/detail/waiter_queue.hpp"

namespace aio {

class Lock;

/// Owns one acquisition of a Lock and releases it when destroyed.
class [[nodiscard]] LockGuard {
public:
    LockGuard() noexcept = default;
    /// Adopts a lock the caller holds.
    LockGuard(Lock& lock, std::adopt_lock_t) noexcept : lock_(&lock) {}
    LockGuard(LockGuard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
    inline LockGuard& operator=(LockGuard&& other) noexcept;
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;
    ~LockGuard() { unlock(); }

    /// Releases now (RuntimeError if the guard holds nothing).
    inline void release();
    /// Gives up ownership without releasing: the lock stays held until
    /// someone calls lock.release(). Returns the lock (null if none).
    Lock* detach() noexcept { return std::exchange(lock_, nullptr); }

    bool owns_lock() const noexcept { return lock_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }
    Lock* lock() const noexcept { return lock_; }

private:
    inline void unlock() noexcept;
    Lock* lock_ = nullptr;
};

class Lock {
public:
    Lock() noexcept = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    /// True while some task holds the lock (or it was handed to a waiter).
    bool locked() const noexcept { return locked_; }

    class [[nodiscard]] AcquireAwaiter final : public detail::Waiter {
    public:
        explicit AcquireAwaiter(Lock& lock) noexcept : lock_(&lock) {}
        AcquireAwaiter(AcquireAwaiter&& o) noexcept : Waiter(std::move(o)), lock_(o.lock_) {}

        bool await_ready() {
            lock_->binding_.check("aio::Lock::acquire");
            if (!lock_->locked_) {  // unlocked implies no waiters
                lock_->locked_ = true;
                return true;
            }
            lock_->binding_.check_wait("aio::Lock");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(lock_->waiters_, h, at);
        }
        LockGuard await_resume() {
            if (suspended()) {
                if (status_ == detail::WaitStatus::woken) {
                    try {
                        resume_here();  // raises if cancelled after the hand-off
                    } catch (...) {
                        lock_->pass_on();
                        throw;
                    }
                } else {
                    resume_checked();  // cancelled while waiting: raises
                }
            }
            return LockGuard(*lock_, std::adopt_lock);
        }

    private:
        Lock* lock_;
    };

    /// `auto guard = co_await lock.acquire();` waits (FIFO) until the lock is
    /// free and takes it.
    AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }

    /// Releases the lock, handing it to the longest waiter if any. Raises
    /// RuntimeError when the lock is not held. Any task may release.
    void release() {
        binding_.check("aio::Lock::release");
        if (!locked_) throw RuntimeError("Lock is not acquired.");
        pass_on();
    }

    /// Tasks suspended in acquire() (not counting one already handed the lock).
    std::size_t num_waiters() const noexcept { return waiters_.size(); }

private:
    friend class LockGuard;
    friend class Condition;  // moves notified waiters into waiters_ (wait morphing)

    /// The holder gives the lock up: to the first waiter, or unlocked.
    void pass_on() {
        if (!waiters_.wake_one()) locked_ = false;
    }

    detail::WaiterQueue waiters_;
    detail::LoopBinding binding_;
    bool locked_ = false;
};

inline LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
    if (this != &other) {
        unlock();
        lock_ = std::exchange(other.lock_, nullptr);
    }
    return *this;
}

inline void LockGuard::release() {
    if (!lock_) throw RuntimeError("LockGuard::release: the guard holds no lock");
    std::exchange(lock_, nullptr)->release();
}

inline void LockGuard::unlock() noexcept {
    // Tolerates a lock already released by hand (nothing to do then).
    if (Lock* l = std::exchange(lock_, nullptr); l && l->locked_) l->pass_on();
}

}  // namespace aio
