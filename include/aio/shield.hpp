// aio/shield.hpp — aio::shield, asyncio.shield.
//
//   int v = co_await aio::shield(task);          // a Task or Future you hold
//   co_await aio::shield(save_to_disk(record));  // a Coro: runs as a new task
//
// Awaiting shield(x) is awaiting x, except that cancelling the awaiting task
// does not cancel x: the await raises CancelledError at once and x keeps
// running. Cancelling x itself (x.cancel()) still cancels it, and the await
// then raises CancelledError as for any cancelled task.
//
// Nothing is lost when the awaiter gives up:
// - a Task or Future you passed keeps its result or exception; await it
//   again or ask it later;
// - a Coro is started as a task right away (when shield() is called, as
//   asyncio does); if its awaiter is cancelled and it later fails, the
//   failure goes to the loop's exception handler (you hold no handle to it).
//   That task is an ordinary task: it keeps running after the awaiter left,
//   so its captures must not refer to the awaiter's locals.
//
// Cancellation at `co_await aio::shield(x)`: leaves x running, untouched.
#pragma once

#include <source_location>
#include <type_traits>
#include <utility>

#include "aio/detail/combinators.hpp"

namespace aio {

namespace detail {

template <class Handle>
class ShieldAwaiter final : public Suspension, public WaitNode {
    using T = typename Handle::value_type;

public:
    ShieldAwaiter(Handle h, bool owned) noexcept : handle_(std::move(h)), owned_(owned) {}
    /// Only before it is awaited.
    ShieldAwaiter(ShieldAwaiter&& o) noexcept : handle_(std::move(o.handle_)), owned_(o.owned_) {}
    ~ShieldAwaiter() {
        if (linked()) core()->remove_waiter(this);
    }

    bool await_ready() const noexcept { return core()->done(); }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        core()->add_waiter(this);
        suspend_here(h, at);
    }
    T await_resume() {
        if (task_) resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
        if constexpr (std::is_void_v<T>) {
            handle_.result();
        } else if constexpr (is_task_handle<Handle>::value) {
            if constexpr (std::is_copy_constructible_v<T>) {
                if (!owned_) return handle_.result();
            }
            return handle_.take_result();
        } else {
            if constexpr (std::is_copy_constructible_v<T>)
                return handle_.result();
            else
                return std::move(const_cast<T&>(handle_.result()));
        }
    }

private:
    CompletionCore* core() const noexcept { return handle_.completion_core(); }
    void wake() override { schedule_on(task_->loop(), task_); }
    TaskCore* waiting_task() const noexcept override { return task_; }
    bool cancel_wait() override {
        if (!linked()) return false;  // x finished: the task is already queued
        core()->remove_waiter(this);
        cancelled_ = true;
        if constexpr (is_task_handle<Handle>::value) {
            if (owned_) report_late_failure();
        }
        schedule_on(task_->loop(), task_);
        return true;
    }
    void report_late_failure() {
        handle_.add_done_callback([](Handle& t) {
            if (t.cancelled()) return;
            if (std::exception_ptr e = t.exception())
                t.get_loop().call_exception_handler(
                    {"aio::shield: shielded task failed after its awaiter was cancelled", e, t.get_name()});
        });
    }

    Handle handle_;
    bool owned_;
    bool cancelled_ = false;
};

}  // namespace detail

/// Awaits `task` without letting the awaiter's cancellation reach it.
template <class T>
detail::ShieldAwaiter<Task<T>> shield(Task<T> task) noexcept {
    return detail::ShieldAwaiter<Task<T>>(std::move(task), false);
}
/// Awaits `future` without letting the awaiter's cancellation cancel it.
template <class T>
detail::ShieldAwaiter<Future<T>> shield(Future<T> future) noexcept {
    return detail::ShieldAwaiter<Future<T>>(std::move(future), false);
}
/// Starts `coro` as a task now and awaits it shielded.
template <class T>
detail::ShieldAwaiter<Task<T>> shield(Coro<T> coro) {
    return detail::ShieldAwaiter<Task<T>>(create_task(std::move(coro)), true);
}

}  // namespace aio
