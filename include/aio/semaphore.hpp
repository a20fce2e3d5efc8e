// aio/semaphore.hpp — aio::Semaphore and aio::BoundedSemaphore
// (asyncio.Semaphore, asyncio.BoundedSemaphore): a counter of units that
// acquire() takes (waiting while there is none) and release() gives back.
// The usual job: bound how many tasks do something at once.
//
//     aio::Semaphore llm_slots(4);              // at most 4 calls in flight
//     ...
//     auto slot = co_await llm_slots.acquire();  // `async with sem:`
//     auto reply = co_await call_model(prompt);
//                                                // unit returned by ~SemaphoreGuard
//
// Fairness: FIFO. release() hands its unit directly to the longest waiter,
// so a task that arrives later cannot take it first.
//
// Cancellation (acquire() is a suspension point only when no unit is free):
//  - cancelled while waiting: the task leaves the queue and raises
//    CancelledError; the count is untouched.
//  - cancelled after release() handed it a unit but before it ran: acquire()
//    raises CancelledError and releases that unit again, to the next waiter
//    if any. A cancelled waiter never swallows a release another waiter
//    needed.
//
// BoundedSemaphore: release() beyond the initial value raises
// std::invalid_argument (asyncio's ValueError), catching unbalanced releases.
//
// The guard: acquire() resumes with a SemaphoreGuard that releases its unit
// when destroyed; guard.release() releases early, guard.detach() keeps the
// unit taken (release it later with sem.release(), from any task). As with
// Lock, a discarded `co_await sem.acquire();` releases at once: bind the
// guard (or detach it).
//
// Deliberate deviation: with direct hand-off, units released while earlier
// waiters are still waking are free for anyone (value() counts them and
// locked() is false); asyncio keeps newcomers waiting until those earlier
// waiters have run. FIFO order among waiters is the same.
//
// Not thread-safe, as asyncio (debug mode raises RuntimeError on use from
// another thread).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <utility>

#include "aio/detail/waiter_queue.hpp"

namespace aio {

class Semaphore;

/// Owns one unit of a Semaphore and releases it when destroyed.
class [[nodiscard]] SemaphoreGuard {
public:
    SemaphoreGuard() noexcept = default;
    /// Adopts a unit the caller holds.
    explicit SemaphoreGuard(Semaphore& sem) noexcept : sem_(&sem) {}
    SemaphoreGuard(SemaphoreGuard&& other) noexcept : sem_(std::exchange(other.sem_, nullptr)) {}
    inline SemaphoreGuard& operator=(SemaphoreGuard&& other) noexcept;
    SemaphoreGuard(const SemaphoreGuard&) = delete;
    SemaphoreGuard& operator=(const SemaphoreGuard&) = delete;
    ~SemaphoreGuard() { unlock(); }

    /// Releases the unit now (RuntimeError if the guard holds none).
    inline void release();
    /// Keeps the unit taken and forgets it; returns the semaphore.
    Semaphore* detach() noexcept { return std::exchange(sem_, nullptr); }

    bool owns_unit() const noexcept { return sem_ != nullptr; }
    explicit operator bool() const noexcept { return owns_unit(); }

private:
    inline void unlock() noexcept;
    Semaphore* sem_ = nullptr;
};

class Semaphore {
public:
    /// `value` free units; a negative value raises std::invalid_argument.
    explicit Semaphore(std::ptrdiff_t value = 1) : value_(checked(value)) {}
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    /// True when acquire() would wait.
    bool locked() const noexcept { return value_ == 0; }
    /// Free units.
    std::size_t value() const noexcept { return value_; }

    class [[nodiscard]] AcquireAwaiter final : public detail::Waiter {
    public:
        explicit AcquireAwaiter(Semaphore& sem) noexcept : sem_(&sem) {}
        AcquireAwaiter(AcquireAwaiter&& o) noexcept : Waiter(std::move(o)), sem_(o.sem_) {}

        bool await_ready() {
            sem_->binding_.check("aio::Semaphore::acquire");
            if (sem_->value_ > 0) {  // free units imply no waiters
                --sem_->value_;
                return true;
            }
            sem_->binding_.check_wait("aio::Semaphore");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(sem_->waiters_, h, at);
        }
        SemaphoreGuard await_resume() {
            if (suspended()) {
                if (status_ == detail::WaitStatus::woken) {
                    try {
                        resume_here();  // raises if cancelled after the hand-off
                    } catch (...) {
                        sem_->give_unit();
                        throw;
                    }
                } else {
                    resume_checked();
                }
            }
            return SemaphoreGuard(*sem_);
        }

    private:
        Semaphore* sem_;
    };

    /// `auto unit = co_await sem.acquire();` takes a unit, waiting (FIFO)
    /// while there is none.
    AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }

    /// Gives a unit back: to the longest waiter, or to the count. On a
    /// BoundedSemaphore, raises std::invalid_argument past the initial value.
    void release() {
        binding_.check("aio::Semaphore::release");
        if (bounded_ && value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
        give_unit();
    }

    /// Tasks suspended in acquire().
    std::size_t num_waiters() const noexcept { return waiters_.size(); }

protected:
    /// For BoundedSemaphore: release() may not raise the value past `bound`.
    Semaphore(std::ptrdiff_t value, bool bounded) : value_(checked(value)), bound_(value_), bounded_(bounded) {}

private:
    friend class SemaphoreGuard;

    static std::size_t checked(std::ptrdiff_t value) {
        if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
        return static_cast<std::size_t>(value);
    }

    void give_unit() {
        if (!waiters_.wake_one()) ++value_;
    }
    /// From a guard's destructor: never raises; a bounded semaphore already
    /// at its bound (units released by hand meanwhile) ignores it.
    void give_unit_noexcept() noexcept {
        if (bounded_ && value_ >= bound_) return;
        give_unit();
    }

    detail::WaiterQueue waiters_;
    detail::LoopBinding binding_;
    std::size_t value_;
    std::size_t bound_ = 0;
    bool bounded_ = false;
};

/// A Semaphore whose release() raises std::invalid_argument if it would
/// raise the value above the initial one.
class BoundedSemaphore : public Semaphore {
public:
    explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, true) {}
};

inline SemaphoreGuard& SemaphoreGuard::operator=(SemaphoreGuard&& other) noexcept {
    if (this != &other) {
        unlock();
        sem_ = std::exchange(other.sem_, nullptr);
    }
    return *this;
}

inline void SemaphoreGuard::release() {
    if (!sem_) throw RuntimeError("SemaphoreGuard::release: the guard holds no unit");
    std::exchange(sem_, nullptr)->release();
}

inline void SemaphoreGuard::unlock() noexcept {
    if (Semaphore* s = std::exchange(sem_, nullptr)) s->give_unit_noexcept();
}

}  // namespace aio
