// aio/detail/combinators.hpp — the machinery shared by gather, wait,
// as_completed, wait_for, shield and TaskGroup: the timeout argument type,
// adapters that turn what users pass (Coro, Task, Future, any awaitable) into
// a child with a completion core, and helpers on completion cores.
#pragma once

#include <chrono>
#include <concepts>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/future.hpp"
#include "aio/handle.hpp"
#include "aio/result.hpp"
#include "aio/task.hpp"

namespace aio::detail {

/// A timeout as users pass it: any std::chrono duration, seconds as a
/// double, or std::nullopt for "no timeout" (asyncio's None). Negative and
/// zero delays mean "already due".
class DelayArg {
public:
    /// Longer delays (and NaN, infinity) are clamped to this: about a
    /// century, far from the overflow of the loop's nanosecond clock.
    static constexpr std::chrono::hours kMaxDelay{24 * 365 * 100};

    DelayArg(std::nullopt_t) noexcept {}
    template <class Rep, class Period>
    DelayArg(std::chrono::duration<Rep, Period> d) noexcept {
        const double seconds = std::chrono::duration<double>(d).count();
        const double limit = std::chrono::duration<double>(kMaxDelay).count();
        if (seconds < limit && seconds > -limit)  // false for NaN too
            delay_ = std::chrono::ceil<Clock::duration>(d);
        else if (seconds <= -limit)
            delay_ = -std::chrono::duration_cast<Clock::duration>(kMaxDelay);
        else
            delay_ = std::chrono::duration_cast<Clock::duration>(kMaxDelay);
    }
    DelayArg(double seconds) noexcept : DelayArg(std::chrono::duration<double>(seconds)) {}
    DelayArg(std::optional<Clock::duration> d) noexcept : delay_(d) {}

    bool enabled() const noexcept { return delay_.has_value(); }
    Clock::duration delay() const noexcept { return *delay_; }
    /// The absolute deadline from now, or nullopt when disabled.
    std::optional<Clock::time_point> deadline(const EventLoop& loop) const noexcept {
        if (!delay_) return std::nullopt;
        return loop.time() + *delay_;
    }

private:
    std::optional<Clock::duration> delay_;
};

/// Cancels a task or a future through its type-erased core.
inline bool cancel_core(CompletionCore* core, const std::string& msg) {
    if (auto* t = dynamic_cast<TaskCore*>(core)) return t->cancel(msg);
    return static_cast<FutureCore*>(core)->cancel(msg);
}

/// The exception a finished core reports (a CancelledError if cancelled,
/// null on success).
inline std::exception_ptr outcome_error(const CompletionCore* core) {
    switch (core->state()) {
        case CompletionState::failed:
            return core->exception();
        case CompletionState::cancelled:
            return std::make_exception_ptr(CancelledError(core->cancel_message()));
        default:
            return nullptr;
    }
}

// --- what co_await on an arbitrary awaitable gives ---------------------------

template <class A>
decltype(auto) awaiter_of(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); })
        return std::forward<A>(a).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<A>(a)); })
        return operator co_await(std::forward<A>(a));
    else
        return std::forward<A>(a);
}

template <class A>
concept awaitable_operand = requires(A&& a) {
    { awaiter_of(std::forward<A>(a)).await_ready() } -> std::convertible_to<bool>;
    awaiter_of(std::forward<A>(a)).await_resume();
};

template <class A>
using awaited_value_t = decltype(awaiter_of(std::declval<A>()).await_resume());

/// Runs any awaitable in a Coro (the awaitable is moved into the frame).
template <class A>
Coro<awaited_value_t<A&&>> awaitable_as_coro(A aw) {
    if constexpr (std::is_void_v<awaited_value_t<A&&>>) {
        co_await std::move(aw);
    } else {
        co_return co_await std::move(aw);
    }
}

/// Destroys a Coro that will never run, without debug mode's "never
/// awaited" report: dropping it is deliberate (asyncio closes such a
/// coroutine explicitly for the same reason).
template <class T>
void discard_unrun(Coro<T>&& coro) noexcept {
    if (auto h = coro.release()) h.destroy();
}

template <class T>
using monostate_if_void_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct is_task_handle : std::false_type {};
template <class T>
struct is_task_handle<Task<T>> : std::true_type {};
template <class T>
struct is_future_handle : std::false_type {};
template <class T>
struct is_future_handle<Future<T>> : std::true_type {};

// --- children: what a combinator waits for ------------------------------------
//
// Each adapter has: value_type; start(loop) (creates the task for a Coro);
// core(); take() -> monostate_if_void_t<value_type> (after a success);
// result() -> Result<value_type>; handle() -> the Task/Future.

template <class T>
struct CoroChild {
    using value_type = T;
    Coro<T> coro;
    Task<T> task{};

    void start(EventLoop& loop) { task = loop.create_task(std::move(coro)); }
    CompletionCore* core() const noexcept { return task.completion_core(); }
    monostate_if_void_t<T> take() {
        if constexpr (std::is_void_v<T>) {
            task.take_result();
            return {};
        } else {
            return task.take_result();
        }
    }
    const Task<T>& handle() const noexcept { return task; }
};

template <class T, bool Consume>
struct TaskChild {
    using value_type = T;
    Task<T> task;

    void start(EventLoop&) noexcept {}
    CompletionCore* core() const noexcept { return task.completion_core(); }
    monostate_if_void_t<T> take() {
        if constexpr (std::is_void_v<T>) {
            task.result();
            return {};
        } else if constexpr (Consume || !std::is_copy_constructible_v<T>) {
            return task.take_result();
        } else {
            return task.result();
        }
    }
    const Task<T>& handle() const noexcept { return task; }
};

template <class T>
struct FutureChild {
    using value_type = T;
    Future<T> future;

    void start(EventLoop&) noexcept {}
    CompletionCore* core() const noexcept { return future.completion_core(); }
    monostate_if_void_t<T> take() {
        if constexpr (std::is_void_v<T>) {
            future.result();
            return {};
        } else {
            return future.result();
        }
    }
    const Future<T>& handle() const noexcept { return future; }
};

/// Result<T> of a finished child.
template <class Child>
auto child_result(Child& c) -> Result<typename Child::value_type> {
    using T = typename Child::value_type;
    if (std::exception_ptr e = outcome_error(c.core())) return Result<T>::from_error(std::move(e));
    if constexpr (std::is_void_v<T>)
        return Result<void>();
    else
        return Result<T>(c.take());
}

/// The adapter for one argument of gather(): Coros (and other awaitables)
/// become tasks, tasks and futures are waited for as they are.
template <class A>
auto make_child(A&& a) {
    using D = std::remove_cvref_t<A>;
    if constexpr (is_coro_v<D>) {
        static_assert(!std::is_lvalue_reference_v<A>, "pass a Coro by value (std::move it): it is run once");
        return CoroChild<typename D::value_type>{std::move(a)};
    } else if constexpr (is_task_handle<D>::value) {
        return TaskChild<typename D::value_type, !std::is_lvalue_reference_v<A>>{std::forward<A>(a)};
    } else if constexpr (is_future_handle<D>::value) {
        return FutureChild<typename D::value_type>{std::forward<A>(a)};
    } else {
        static_assert(awaitable_operand<D>, "gather: each argument must be a Coro, Task, Future or awaitable");
        static_assert(!std::is_lvalue_reference_v<A>, "pass an awaitable by value (std::move it)");
        return CoroChild<awaited_value_t<D&&>>{awaitable_as_coro(std::move(a))};
    }
}

template <class A>
using child_t = decltype(make_child(std::declval<A>()));

template <class A>
concept child_argument = is_coro_v<A> || is_task_handle<std::remove_cvref_t<A>>::value ||
                         is_future_handle<std::remove_cvref_t<A>>::value || awaitable_operand<std::remove_cvref_t<A>>;

}  // namespace aio::detail
