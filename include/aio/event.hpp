// aio/event.hpp — aio::Event, asyncio.Event: a flag tasks can wait for.
//
//     aio::Event ready;
//     // one task:                    // others:
//     ready.set();                    co_await ready.wait();
//
// set() wakes every waiting task (in the order they started waiting); a task
// calling wait() while the flag is set returns at once without suspending.
// clear() lowers the flag; tasks already woken by an earlier set() still
// return.
//
// Cancellation: wait() is a suspension point only while the flag is clear.
// A cancelled wait leaves the event's waiter list and raises CancelledError;
// the flag is untouched. A task cancelled after set() woke it but before it
// ran also raises CancelledError (nothing is lost: the flag stays set).
//
// Not thread-safe, as asyncio: set() from another thread must go through
// loop.call_soon_threadsafe([&] { event.set(); }). In debug mode a direct
// call from another thread raises RuntimeError.
#pragma once

#include <cstddef>

#include "aio/detail/waiter_queue.hpp"

namespace aio {

class Event {
public:
    Event() noexcept = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    bool is_set() const noexcept { return value_; }

    /// Sets the flag and wakes all waiters.
    void set() {
        binding_.check("aio::Event::set");
        if (!value_) {
            value_ = true;
            waiters_.wake_all();
        }
    }

    /// Lowers the flag: later wait() calls suspend until the next set().
    void clear() {
        binding_.check("aio::Event::clear");
        value_ = false;
    }

    class [[nodiscard]] WaitAwaiter final : public detail::Waiter {
    public:
        explicit WaitAwaiter(Event& event) noexcept : event_(&event) {}
        WaitAwaiter(WaitAwaiter&& o) noexcept : Waiter(std::move(o)), event_(o.event_) {}

        bool await_ready() {
            event_->binding_.check("aio::Event::wait");
            if (event_->value_) return true;
            event_->binding_.check_wait("aio::Event");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(event_->waiters_, h, at);
        }
        void await_resume() {
            if (suspended()) resume_checked();
        }

    private:
        Event* event_;
    };

    /// `co_await event.wait();` returns once the flag is set.
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

    /// Tasks suspended in wait().
    std::size_t num_waiters() const noexcept { return waiters_.size(); }

private:
    detail::WaiterQueue waiters_;
    detail::LoopBinding binding_;
    bool value_ = false;
};

}  // namespace aio
