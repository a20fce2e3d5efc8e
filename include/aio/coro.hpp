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
        ThreadContext& ctx = tls_context;
        if (FrameLink* link = h.promise().link) {
            ctx.next = link->parent;
            ctx.task->top_frame = link->parent_info;
        } else {
            ctx.root_returned = true;
        }
    }
    void await_resume() const noexcept {}
};

class CoroPromiseBase : public FrameInfo, public PoolAllocated {
public:
    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
};

/// Result storage: the value and the exception share one slot, since a
/// coroutine ends with exactly one of them.
template <class T>
class CoroPromise : public CoroPromiseBase {
public:
    CoroPromise() noexcept {}
    CoroPromise(const CoroPromise&) = delete;
    CoroPromise& operator=(const CoroPromise&) = delete;
    ~CoroPromise() { reset(); }

    template <class U = T>
        requires std::convertible_to<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
        slot_ = Slot::value;
    }
    void unhandled_exception() noexcept {
        reset();  // a local's destructor may throw after co_return
        ::new (static_cast<void*>(std::addressof(exception_))) std::exception_ptr(std::current_exception());
        slot_ = Slot::exception;
    }
    /// The exception the body ended with (null if it returned a value).
    std::exception_ptr take_exception() noexcept {
        if (slot_ != Slot::exception) return nullptr;
        std::exception_ptr e = std::move(exception_);
        reset();
        return e;
    }
    T take_result() {
        if (slot_ == Slot::exception) std::rethrow_exception(take_exception());
        return std::move(value_);
    }

private:
    enum class Slot : unsigned char { empty, value, exception };
    void reset() noexcept {
        if (slot_ == Slot::value)
            value_.~T();
        else if (slot_ == Slot::exception)
            exception_.~exception_ptr();
        slot_ = Slot::empty;
    }
    union {
        T value_;
        std::exception_ptr exception_;
    };
    Slot slot_ = Slot::empty;
};

template <class T>
class CoroPromise<T&> : public CoroPromiseBase {
public:
    void return_value(T& v) noexcept { value_ = std::addressof(v); }
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }
    std::exception_ptr take_exception() noexcept { return std::exchange(exception_, nullptr); }
    T& take_result() {
        if (exception_) std::rethrow_exception(take_exception());
        return *value_;
    }

private:
    T* value_ = nullptr;
    std::exception_ptr exception_;
};

template <>
class CoroPromise<void> : public CoroPromiseBase {
public:
    void return_void() noexcept {}
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }
    std::exception_ptr take_exception() noexcept { return std::exchange(exception_, nullptr); }
    void take_result() {
        if (exception_) std::rethrow_exception(take_exception());
    }

private:
    std::exception_ptr exception_;
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
            Coro dropped(std::move(*this));
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Coro() {
        if (handle_) {
            // Never awaited: no awaiter ever linked it, and it never ran.
            if (!handle_.promise().link && !handle_.done() && detail::debug_mode_active())
                detail::report_never_awaited(handle_.address());
            handle_.destroy();
        }
    }

    /// False for a moved-from or default-constructed Coro.
    bool valid() const noexcept { return static_cast<bool>(handle_); }
    /// Gives up ownership of the frame (used by create_task).
    handle_type release() noexcept { return std::exchange(handle_, nullptr); }

    class Awaiter {
    public:
        explicit Awaiter(handle_type h) noexcept : handle_(h) {}
        Awaiter(const Awaiter&) = delete;  // the child keeps &link_
        Awaiter& operator=(const Awaiter&) = delete;

        bool await_ready() const {
            if (!handle_) throw InvalidStateError("co_await on an empty Coro (moved from?)");
            if (handle_.promise().link || handle_.done())
                throw InvalidStateError("a Coro can be awaited only once");
            return false;
        }
        // The defaulted location is the co_await expression in the awaiting
        // body: recorded for call graphs (one store).
        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> awaiting,
                           std::source_location at = std::source_location::current()) noexcept {
            detail::ThreadContext& ctx = detail::tls_context;
            assert(ctx.task && "a Coro runs only inside an aio task");
            link_.parent = awaiting;
            link_.at = at;
            if constexpr (std::is_base_of_v<detail::FrameInfo, Promise>) link_.parent_info = &awaiting.promise();
            promise_type& child = handle_.promise();
            child.link = &link_;
            ctx.task->top_frame = &child;
            ctx.next = handle_;  // the task's driver resumes it
        }
        decltype(auto) await_resume() const { return handle_.promise().take_result(); }

    private:
        handle_type handle_;
        detail::FrameLink link_;
    };

    Awaiter operator co_await() && noexcept { return Awaiter(handle_); }
    Awaiter operator co_await() & noexcept { return Awaiter(handle_); }

private:
    explicit Coro(handle_type h) noexcept : handle_(h) {}
    handle_type handle_{};
};

}  // namespace aio
