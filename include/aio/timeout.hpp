// aio/timeout.hpp — deadlines: aio::timeout, aio::timeout_at, aio::Timeout
// (asyncio.timeout / timeout_at / Timeout, Python 3.11) and aio::wait_for.
//
//   std::string page = co_await aio::timeout(2s, fetch(url));      // a Coro
//   co_await aio::timeout(2s, [&](aio::Timeout& t) -> aio::Coro<> {
//       co_await step_one();
//       t.reschedule(aio::get_running_loop().time() + 5s);           // move it
//       co_await step_two();
//   });
//   int v = co_await aio::wait_for(task, 500ms);                      // asyncio.wait_for
//
// How a deadline works (asyncio 3.11+ rules): the body runs inline in the
// calling task. When the deadline passes, the scope cancels that task — the
// body sees CancelledError at its current suspension point and unwinds (it
// may await cleanup) — and when the body has finished, the scope turns its
// own cancellation into aio::TimeoutError. Precisely, at scope exit:
// - the deadline fired and the body ended with CancelledError, and the
//   task has no cancellation request left besides ours: TimeoutError;
// - the deadline fired but someone else also cancelled the task: the
//   CancelledError propagates (a foreign cancellation is never converted);
// - the deadline fired but the body returned a value (it swallowed the
//   cancellation) or threw another exception: that value or exception;
// - the deadline did not fire: whatever the body did, untouched.
// Our cancellation request is always withdrawn (uncancel()) on exit, so
// nested scopes each fire for their own deadline only, in either order.
//
// Cancellation at `co_await aio::timeout(...)`: the body is cancelled at its
// suspension point and has finished when CancelledError leaves the scope;
// nothing is left running, the timer is removed.
//
// Deadlines are loop-clock time points (aio::Clock, loop.time()); a deadline
// in the past fires in the next loop iteration, i.e. at the body's first
// suspension. std::nullopt disables the deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "aio/detail/combinators.hpp"

namespace aio {

/// A deadline scope, asyncio.Timeout. Usually created by aio::timeout() /
/// aio::timeout_at() and handed to the body; create one yourself to keep it
/// after the scope ends (to ask expired()):
///
///   aio::Timeout t(loop.time() + 1s);
///   co_await t.run(work());            // TimeoutError if the deadline fired
///   if (t.expired()) ...
///
/// A Timeout is entered once, by run() (or enter()/exit() for those who
/// write the scope by hand), and belongs to the task that entered it.
class Timeout {
public:
    explicit Timeout(std::optional<Clock::time_point> when) noexcept : when_(when) {}
    Timeout(const Timeout&) = delete;
    Timeout& operator=(const Timeout&) = delete;
    ~Timeout();

    /// The deadline; nullopt when disabled.
    std::optional<Clock::time_point> when() const noexcept { return when_; }
    /// Moves the deadline (nullopt disables it). Only while the scope is
    /// active and its deadline has not fired: RuntimeError otherwise.
    void reschedule(std::optional<Clock::time_point> when);
    /// Whether the deadline fired (the scope cancelled its task).
    bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }

    /// Runs `body` (a Coro<T>, or a callable returning one, called with this
    /// Timeout& if it accepts it) inside the scope and returns its result.
    template <class Body>
    auto run(Body body);

    // --- the scope by hand: enter(); try { co_await ...; } catch (...) { e = current_exception(); } exit(e);
    /// Binds the scope to the current task and arms the deadline.
    void enter();
    /// Leaves the scope after the body ended with `error` (null: success).
    /// Rethrows `error`, or throws TimeoutError when the deadline fired and
    /// `error` is our own cancellation; returns normally when `error` is null.
    void exit(std::exception_ptr error);

private:
    enum class State : std::uint8_t { created, entered, expiring, expired, exited };
    struct Timer final : detail::TimerNode {
        Timeout* self = nullptr;
        void fire(EventLoop&) override { self->on_timeout(); }
    };
    void on_timeout();
    void arm();

    std::optional<Clock::time_point> when_;
    Timer timer_;
    detail::TaskCore* task_ = nullptr;
    std::uint32_t cancelling_ = 0;
    State state_ = State::created;
};

namespace detail {

template <class Body>
struct timeout_body_traits;

template <class Body>
    requires is_coro_v<Body>
struct timeout_body_traits<Body> {
    using coro = Body;
};
template <class Body>
    requires(!is_coro_v<Body> && std::is_invocable_v<Body&, Timeout&>)
struct timeout_body_traits<Body> {
    using coro = std::invoke_result_t<Body&, Timeout&>;
};
template <class Body>
    requires(!is_coro_v<Body> && !std::is_invocable_v<Body&, Timeout&> && std::is_invocable_v<Body&>)
struct timeout_body_traits<Body> {
    using coro = std::invoke_result_t<Body&>;
};

template <class Body>
using timeout_body_coro_t = typename timeout_body_traits<Body>::coro;
template <class Body>
using timeout_body_value_t = typename timeout_body_coro_t<Body>::value_type;

template <class Body>
timeout_body_coro_t<Body> start_timeout_body(Body& body, Timeout& scope) {
    if constexpr (is_coro_v<Body>)
        return std::move(body);
    else if constexpr (std::is_invocable_v<Body&, Timeout&>)
        return body(scope);
    else
        return body();
}

/// The scope around `body`: `external` when the user owns the Timeout,
/// otherwise a Timeout in this frame with deadline `when`. The callable body
/// lives in this frame for as long as the Coro it returns runs.
template <class T, class Body>
Coro<T> run_in_timeout(Timeout* external, std::optional<Clock::time_point> when, Body body) {
    std::optional<Timeout> local;
    Timeout& scope = external ? *external : local.emplace(when);
    try {
        scope.enter();
    } catch (...) {
        if constexpr (is_coro_v<Body>) discard_unrun(std::move(body));  // never ran: not a bug to report
        throw;
    }
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
        try {
            timeout_body_coro_t<Body> inner = start_timeout_body(body, scope);
            co_await std::move(inner);
        } catch (...) {
            error = std::current_exception();
        }
        scope.exit(std::move(error));
    } else {
        std::optional<T> value;
        try {
            timeout_body_coro_t<Body> inner = start_timeout_body(body, scope);
            T v = co_await std::move(inner);
            value.emplace(std::move(v));
        } catch (...) {
            error = std::current_exception();
        }
        scope.exit(std::move(error));
        co_return std::move(*value);
    }
}

}  // namespace detail

template <class Body>
auto Timeout::run(Body body) {
    return detail::run_in_timeout<detail::timeout_body_value_t<Body>>(this, when_, std::move(body));
}

/// Runs `body` with a deadline `delay` from now (std::nullopt: none) and
/// returns its result; TimeoutError if the deadline cancelled it. `body` is
/// a Coro<T> or a callable returning one (optionally taking aio::Timeout&);
/// the callable is moved into the frame that runs it.
template <class Body>
auto timeout(detail::DelayArg delay, Body body) -> Coro<detail::timeout_body_value_t<Body>> {
    std::optional<Clock::time_point> when;
    if (delay.enabled()) when = detail::running_loop_for("aio::timeout").time() + delay.delay();
    return detail::run_in_timeout<detail::timeout_body_value_t<Body>>(nullptr, when, std::move(body));
}

/// As timeout(), with an absolute loop-clock deadline.
template <class Body>
auto timeout_at(std::optional<Clock::time_point> when, Body body) -> Coro<detail::timeout_body_value_t<Body>> {
    return detail::run_in_timeout<detail::timeout_body_value_t<Body>>(nullptr, when, std::move(body));
}

// --- wait_for ---------------------------------------------------------------

namespace detail {

/// A deadline that cancels the current task, without Timeout's bookkeeping
/// for reschedule(): what wait_for needs, nothing more.
class WaitForScope final : public TimerNode {
public:
    WaitForScope() noexcept = default;
    WaitForScope(const WaitForScope&) = delete;
    WaitForScope& operator=(const WaitForScope&) = delete;
    ~WaitForScope() {
        if (armed()) task_->loop()->disarm_timer(this);
    }

    void enter(Clock::duration delay) {
        task_ = &current_task_core("aio::wait_for");
        cancelling_ = task_->cancelling();
        EventLoop& loop = *task_->loop();
        when_ns = EventLoop::to_ns(loop.time() + delay);
        loop.arm_timer(this);
    }
    /// Disarms; withdraws our cancellation. Returns whether a cancellation
    /// from someone else is pending (then CancelledError must propagate).
    bool leave() noexcept {
        if (armed()) task_->loop()->disarm_timer(this);
        std::uint32_t left = fired_ ? task_->uncancel() : task_->cancelling();
        return left > cancelling_;
    }
    bool fired() const noexcept { return fired_; }

    /// Ends the scope once the work ended (`error` null on success). A
    /// cancellation from someone else propagates as CancelledError (even if
    /// the work swallowed it); returns true when our own deadline cancelled
    /// the work, which the caller turns into TimeoutError (or not, when a
    /// task finished anyway).
    bool settle(const std::exception_ptr& error) {
        if (leave()) {
            if (error && is_cancellation_ptr(error)) std::rethrow_exception(error);
            if (!error) throw CancelledError(task_->cancel_message());
        }
        return error && fired_ && is_cancellation_ptr(error);
    }

private:
    void fire(EventLoop&) override {
        fired_ = true;
        task_->cancel({});
    }

    TaskCore* task_ = nullptr;
    std::uint32_t cancelling_ = 0;
    bool fired_ = false;
};

[[noreturn]] void throw_wait_for_timeout();

template <class T>
Coro<T> wait_for_coro(Coro<T> work, Clock::duration delay) {
    if (delay <= Clock::duration::zero()) {  // as asyncio: never started
        discard_unrun(std::move(work));
        throw_wait_for_timeout();
    }
    WaitForScope scope;
    scope.enter(delay);
    std::exception_ptr error;
    std::optional<monostate_if_void_t<T>> value;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(work);
            value.emplace();
        } else {
            T v = co_await std::move(work);
            value.emplace(std::move(v));
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (scope.settle(error)) throw_wait_for_timeout();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

/// wait_for on a task or future: awaiting it cancels it when our deadline
/// cancels us. If it finished anyway (its completion raced the deadline),
/// its outcome wins over the timeout.
template <class Handle>
Coro<typename Handle::value_type> wait_for_handle(Handle h, Clock::duration delay) {
    using T = typename Handle::value_type;
    WaitForScope scope;
    scope.enter(delay);
    std::exception_ptr error;
    std::optional<monostate_if_void_t<T>> value;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await h;
            value.emplace();
        } else {
            T v = co_await h;
            value.emplace(std::move(v));
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (scope.settle(error)) {
        // Our deadline cancelled us. The work may have finished meanwhile.
        if (!h.done() || h.cancelled()) throw_wait_for_timeout();
        if constexpr (std::is_void_v<T>) {
            h.result();
            co_return;
        } else {
            co_return T(h.result());
        }
    }
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace detail

/// asyncio.wait_for: awaits `aw` with a deadline `timeout` from now. When
/// the deadline passes, the work is cancelled and awaited to its end, then
/// TimeoutError is raised — unless the work finished anyway, with a value
/// (returned) or another exception (rethrown).
///
/// - A Coro (or any awaitable) runs inline in the calling task, like
///   asyncio 3.12's wait_for; with a timeout <= 0 it is never started and
///   TimeoutError is raised at once.
/// - A Task or Future is awaited; the deadline cancels it (as asyncio). If it
///   completed in the same loop iteration the deadline fired, its outcome is
///   returned instead of TimeoutError.
/// - Cancelling the caller cancels the work and, once the work has finished,
///   raises CancelledError — even if the work swallowed the cancellation and
///   produced a value (a Task keeps that value: ask it).
/// - std::nullopt as timeout: plain await.
template <class Aw>
auto wait_for(Aw&& aw, detail::DelayArg timeout) {
    using D = std::remove_cvref_t<Aw>;
    if constexpr (detail::is_task_handle<D>::value || detail::is_future_handle<D>::value) {
        if (!timeout.enabled()) return detail::awaitable_as_coro(D(aw));
        return detail::wait_for_handle<D>(D(aw), timeout.delay());
    } else if constexpr (detail::is_coro_v<D>) {
        static_assert(!std::is_lvalue_reference_v<Aw>, "wait_for: pass the Coro by value (std::move it)");
        if (!timeout.enabled()) return D(std::move(aw));
        return detail::wait_for_coro<typename D::value_type>(std::move(aw), timeout.delay());
    } else {
        static_assert(detail::awaitable_operand<D>, "wait_for: the first argument must be awaitable");
        static_assert(!std::is_lvalue_reference_v<Aw>, "wait_for: pass the awaitable by value (std::move it)");
        using T = detail::awaited_value_t<D&&>;
        if (!timeout.enabled()) return detail::awaitable_as_coro(std::move(aw));
        return detail::wait_for_coro<T>(detail::awaitable_as_coro(std::move(aw)), timeout.delay());
    }
}

}  // namespace aio
