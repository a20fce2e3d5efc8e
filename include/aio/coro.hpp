// aio/coro.hpp — aio::Coro<T>, the coroutine type of every `async def`.
//
// A Coro is lazy: calling a coroutine function only allocates its frame.
// `co_await coro` runs it inside the awaiting task, without a trip through the
// event loop; its result (or exception) comes back to the awaiter. To run a
// Coro concurrently, wrap it in a Task with aio::create_task().
//
// A Coro is move-only and owns its frame: destroying a Coro that never ran
// simply frees it (its body never executes). Await it exactly once.
//
// Cancellation: awaiting a Coro is not itself a suspension point; the Coro's
// body is cancelled at its own suspension points.
#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "aio/detail/runtime.hpp"

namespace aio {

template <class T = void>
class Coro;

namespace detail {

template <class T>
struct is_coro : std::false_type {};
template <class T>
struct is_coro<Coro<T>> : std::true_type {};
template <class T>
inline constexpr bool is_coro_v = is_coro<std::remove_cvref_t<T>>::value;

/// Resumes the awaiting coroutine through the task's driver, or tells the
/// driver that the task's root coroutine returned.
struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) noexcept {
        if (std::coroutine_handle<> next = h.promise().continuation)
            tls_context.next = next;
        else
            tls_context.root_returned = true;
    }
    void await_resume() const noexcept {}
};

class CoroPromiseBase : public PoolAllocated {
public:
    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
    void rethrow_if_failed() {
        if (exception) std::rethrow_exception(std::exchange(exception, nullptr));
    }

    std::coroutine_handle<> continuation{};  // null for a task's root
    std::exception_ptr exception;
};

template <class T>
class CoroPromise : public CoroPromiseBase {
public:
    template <class U = T>
        requires std::convertible_to<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        value.emplace(std::forward<U>(v));
    }
    T take_result() {
        rethrow_if_failed();
        return std::move(*value);
    }
    std::optional<T> value;
};

template <class T>
class CoroPromise<T&> : public CoroPromiseBase {
public:
    void return_value(T& v) noexcept { value = std::addressof(v); }
    T& take_result() {
        rethrow_if_failed();
        return *value;
    }
    T* value = nullptr;
};

template <>
class CoroPromise<void> : public CoroPromiseBase {
public:
    void return_void() noexcept {}
    void take_result() { rethrow_if_failed(); }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Coro {
public:
    using value_type = T;

    struct promise_type : detail::CoroPromise<T> {
        Coro get_return_object() noexcept { return Coro(std::coroutine_handle<promise_type>::from_promise(*this)); }
    };
    using handle_type = std::coroutine_handle<promise_type>;

    Coro() noexcept = default;
    Coro(Coro&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Coro& operator=(Coro&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Coro() {
        if (handle_) handle_.destroy();
    }

    /// False for a moved-from or default-constructed Coro.
    bool valid() const noexcept { return static_cast<bool>(handle_); }
    /// Gives up ownership of the frame (used by create_task).
    handle_type release() noexcept { return std::exchange(handle_, nullptr); }

    class Awaiter {
    public:
        explicit Awaiter(handle_type h) noexcept : handle_(h) {}
        bool await_ready() const {
            if (!handle_) throw InvalidStateError("co_await on an empty Coro (moved from?)");
            if (handle_.promise().continuation || handle_.done())
                throw InvalidStateError("a Coro can be awaited only once");
            return false;
        }
        void await_suspend(std::coroutine_handle<> awaiting) const noexcept {
            assert(detail::tls_context.task && "a Coro runs only inside an aio task");
            handle_.promise().continuation = awaiting;
            detail::tls_context.next = handle_;  // the task's driver resumes it
        }
        decltype(auto) await_resume() const { return handle_.promise().take_result(); }

    private:
        handle_type handle_;
    };

    Awaiter operator co_await() && noexcept { return Awaiter(handle_); }
    Awaiter operator co_await() & noexcept { return Awaiter(handle_); }

private:
    explicit Coro(handle_type h) noexcept : handle_(h) {}
    handle_type handle_{};
};

}  // namespace aio
