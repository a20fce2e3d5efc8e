// aio/barrier.hpp — aio::Barrier, asyncio.Barrier: `parties` tasks wait
// for each other at a known point, then all proceed.
//
//     aio::Barrier start(3);
//     // in each of 3 tasks:
//     std::size_t index = co_await start.wait();  // 0, 1 or 2: arrival order
//
// The barrier cycles through asyncio's states: filling (tasks arriving),
// draining (it tripped; the waiters are leaving), resetting (reset() came
// while tasks were inside) and broken (abort()). The last arrival trips it
// and returns at once; tasks arriving while it drains or resets wait until
// it is filling again. reset() makes the tasks inside raise
// BrokenBarrierError and the barrier usable again once they have left;
// abort() breaks it: every waiting and every later wait() raises
// BrokenBarrierError until reset().
//
// Cancellation: wait() is a suspension point except for the last arrival. A
// task cancelled while waiting leaves the barrier (n_waiting() drops by one)
// and raises CancelledError; the others keep waiting for a full set.
//
// Deliberate deviation: reset() and abort() take effect immediately and
// return an awaitable that is already complete, so both `barrier.abort();`
// and asyncio's `co_await barrier.abort();` work (asyncio makes them
// coroutines only to take an internal lock).
//
// As in asyncio (and threading.Barrier), a task released by the trip but
// not yet resumed when reset() or abort() comes raises BrokenBarrierError
// too: the outcome is read when the task runs. Not thread-safe, as asyncio.
#pragma once

#include <cstddef>
#include <stdexcept>

#include "aio/detail/waiter_queue.hpp"
#include "aio/sync_errors.hpp"

namespace aio {

enum class BarrierState { filling, draining, resetting, broken };

class Barrier {
public:
    /// A barrier for `parties` tasks; std::invalid_argument if < 1.
    explicit Barrier(std::ptrdiff_t parties) : parties_(checked(parties)) {}
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    class [[nodiscard]] WaitAwaiter final : public detail::Waiter {
    public:
        explicit WaitAwaiter(Barrier& barrier) noexcept : barrier_(&barrier) {}
        WaitAwaiter(WaitAwaiter&& o) noexcept : Waiter(std::move(o)), barrier_(o.barrier_) {}

        bool await_ready() {
            Barrier& b = *barrier_;
            b.binding_.check("aio::Barrier::wait");
            b.binding_.check_wait("aio::Barrier");
            if (b.state_ == BarrierState::draining || b.state_ == BarrierState::resetting) {
                next_cycle_ = true;  // wait for the next cycle
                return false;
            }
            if (b.state_ == BarrierState::broken) throw BrokenBarrierError("Barrier aborted");
            if (!b.arrive(*this)) return false;
            b.leave();  // the arrival that trips it leaves at once
            return true;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(next_cycle_ ? barrier_->blocked_ : barrier_->waiting_, h, at);
        }
        std::size_t await_resume() {
            if (!suspended()) return index_;  // tripped it, and left already
            if (status_ == detail::WaitStatus::cancelled) resume_checked();  // raises; already left
            if (next_cycle_) {  // aborted before it could arrive
                resume_here();
                throw BrokenBarrierError("Barrier aborted");
            }
            Barrier& b = *barrier_;
            try {
                resume_here();  // raises if cancelled after the wake-up
            } catch (...) {
                b.leave();
                throw;
            }
            // As asyncio: the outcome is the state when the task runs.
            const bool broken = b.state_ == BarrierState::broken || b.state_ == BarrierState::resetting;
            b.leave();
            if (broken) throw BrokenBarrierError("Abort or reset of barrier");
            return index_;
        }

    private:
        friend class Barrier;

        bool cancel_wait() override {
            if (status_ != detail::WaitStatus::waiting) return false;
            Barrier& b = *barrier_;
            if (Waiter::cancel_wait() && !next_cycle_) b.leave();  // an arrival leaves at once
            return true;
        }

        Barrier* barrier_;
        std::size_t index_ = 0;
        bool next_cycle_ = false;  // parked until the barrier fills again (not arrived yet)
    };

    /// `std::size_t i = co_await barrier.wait();` waits until `parties()`
    /// tasks are waiting; returns this task's arrival index, 0 to
    /// parties()-1. BrokenBarrierError if the barrier is broken or gets reset
    /// or aborted while waiting.
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

    /// Returns the barrier to filling. Tasks inside raise BrokenBarrierError;
    /// the barrier is resetting until they have left.
    detail::ReadyAwaitable reset() {
        binding_.check("aio::Barrier::reset");
        if (count_ > 0) {
            state_ = BarrierState::resetting;
            waiting_.wake_all();
        } else {
            state_ = BarrierState::filling;
            admit_blocked();
        }
        return {};
    }

    /// Breaks the barrier: waiting and later wait() calls raise
    /// BrokenBarrierError until reset().
    detail::ReadyAwaitable abort() {
        binding_.check("aio::Barrier::abort");
        state_ = BarrierState::broken;
        waiting_.wake_all(detail::WaitStatus::aborted);
        blocked_.wake_all(detail::WaitStatus::aborted);
        return {};
    }

    std::size_t parties() const noexcept { return parties_; }
    /// Tasks waiting for the barrier to fill (0 unless filling).
    std::size_t n_waiting() const noexcept { return state_ == BarrierState::filling ? count_ : 0; }
    bool broken() const noexcept { return state_ == BarrierState::broken; }
    BarrierState state() const noexcept { return state_; }

private:
    static std::size_t checked(std::ptrdiff_t parties) {
        if (parties < 1) throw std::invalid_argument("parties must be > 0");
        return static_cast<std::size_t>(parties);
    }

    /// `w` arrives while filling. Returns true when it trips the barrier
    /// (it then leaves at once); otherwise it is to wait in waiting_.
    bool arrive(WaitAwaiter& w) {
        w.next_cycle_ = false;
        w.index_ = count_++;
        if (w.index_ + 1 < parties_) return false;
        state_ = BarrierState::draining;
        waiting_.wake_all();
        return true;
    }

    /// A task leaves the barrier; the last one out ends draining/resetting
    /// and lets the arrivals that waited for the next cycle in.
    void leave() {
        if (--count_ == 0 && (state_ == BarrierState::draining || state_ == BarrierState::resetting)) {
            state_ = BarrierState::filling;
            admit_blocked();
        }
    }

    /// While filling, the blocked arrivals arrive in FIFO order (they stay
    /// parked, now in waiting_; one of them may trip the barrier).
    void admit_blocked() {
        while (state_ == BarrierState::filling && !blocked_.empty()) {
            auto* w = static_cast<WaitAwaiter*>(blocked_.pop_front());
            w->next_cycle_ = false;
            w->index_ = count_++;
            waiting_.push_back(w);
            if (w->index_ + 1 == parties_) {
                state_ = BarrierState::draining;
                waiting_.wake_all();
            }
        }
    }

    std::size_t parties_;
    std::size_t count_ = 0;  // tasks inside: arrived and not yet left
    BarrierState state_ = BarrierState::filling;
    detail::WaiterQueue waiting_;  // arrived, waiting for the trip
    detail::WaiterQueue blocked_;  // came while draining/resetting: not arrived yet
    detail::LoopBinding binding_;
};

}  // namespace aio
