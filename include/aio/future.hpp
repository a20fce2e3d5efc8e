// aio/future.hpp — aio::Future<T>, asyncio's low-level result slot.
//
// A Future is set once, with a value, an exception or a cancellation, and
// awaited by any number of tasks. Handles are cheap shared references to one
// state; the state lives as long as a handle or a waiter needs it.
//
// Cancellation: a task cancelled while it awaits a future cancels that
// future (as asyncio does), so every other awaiter sees CancelledError too.
// Use aio::shield() to wait without that effect.
//
// A Future belongs to one loop and one thread. From another thread, set it
// through loop.call_soon_threadsafe().
#pragma once

#include <exception>
#include <string>
#include <type_traits>

#include "aio/detail/completion.hpp"
#include "aio/event_loop.hpp"

namespace aio {

template <class T>
class Future {
    using State = detail::FutureState<T>;

public:
    using value_type = T;

    /// A pending future bound to the running loop (RuntimeError without one).
    Future() : Future(detail::running_loop_for("aio::Future()")) {}
    explicit Future(EventLoop& loop) : state_(detail::IntrusivePtr<State>::adopt(new State(&loop))) {}

    /// Sets the result; InvalidStateError if the future is already done.
    template <class U = T>
        requires(!std::is_void_v<T> && std::constructible_from<T, U &&>)
    void set_result(U&& value) {
        state_->check_settable("set_result");
        state_->value.emplace(std::forward<U>(value));
        state_->finish_with_result();
    }
    void set_result()
        requires std::is_void_v<T>
    {
        state_->check_settable("set_result");
        state_->finish_with_result();
    }
    /// Sets an exception; InvalidStateError if the future is already done.
    void set_exception(std::exception_ptr e) { state_->set_exception(std::move(e)); }
    /// Cancels the future and wakes its awaiters; false if already done.
    bool cancel(std::string msg = {}) { return state_->cancel(std::move(msg)); }

    bool done() const noexcept { return state_->done(); }
    bool cancelled() const noexcept { return state_->cancelled(); }

    /// The value; rethrows the exception, raises CancelledError if cancelled
    /// and InvalidStateError if pending.
    decltype(auto) result() const {
        state_->check_result();
        if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*state_->value);
    }
    /// The exception (null if none); CancelledError if cancelled,
    /// InvalidStateError if pending.
    std::exception_ptr exception() const { return state_->exception(); }

    /// Calls `fn(future)` (or `fn()`) through call_soon once the future is
    /// done; immediately scheduled if it already is.
    template <class F>
    CallbackId add_done_callback(F&& fn) {
        return detail::add_done_callback<Future>(state_.get(), std::forward<F>(fn));
    }
    std::size_t remove_done_callback(CallbackId id) noexcept { return detail::remove_done_callback(state_.get(), id); }

    EventLoop& get_loop() const noexcept { return *state_->loop(); }

    class Awaiter : public detail::CompletionWait {
    public:
        explicit Awaiter(State* s) noexcept : CompletionWait(s) {}
        T await_resume() {
            resume_wait();
            auto* s = static_cast<State*>(core_);
            s->check_result();
            if constexpr (std::is_void_v<T>)
                return;
            else if constexpr (std::is_copy_constructible_v<T>)
                return *s->value;
            else
                return std::move(*s->value);  // move-only: one consumer takes it
        }

    private:
        bool cancel_wait() override { return static_cast<State*>(core_)->cancel(task_->cancel_message()); }
    };
    Awaiter operator co_await() const noexcept { return Awaiter(state_.get()); }

    static Future from_core(detail::CompletionCore* core) {
        return Future(detail::IntrusivePtr<State>(static_cast<State*>(core)));
    }
    detail::CompletionCore* completion_core() const noexcept { return state_.get(); }
    friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }

private:
    explicit Future(detail::IntrusivePtr<State> s) noexcept : state_(std::move(s)) {}
    detail::IntrusivePtr<State> state_;
};

template <class T>
Future<T> EventLoop::create_future() {
    check_open();
    return Future<T>(*this);
}

}  // namespace aio
