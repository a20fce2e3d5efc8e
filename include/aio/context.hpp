// aio/context.hpp — async context managers: aio::async_with,
// aio::AsyncContextManager<T> (@asynccontextmanager) and aio::aclosing.
//
// An async context manager is any object with
//     aenter()                     awaitable; its result is the resource
//     aexit(std::exception_ptr e)  awaitable giving bool (true: suppress e)
//                                  or void (never suppresses)
// (Python's __aenter__ / __aexit__; e is null when the body succeeded).
//
//     co_await aio::async_with(managed_session("abc"), [&](Session& s) -> aio::Coro<> {
//         s.state["count"] += 1;
//         co_return;
//     });
//
// async_with(cm, body) awaits cm.aenter(), awaits body(resource) (or body()),
// then always awaits cm.aexit(): with the body's exception if it threw or was
// cancelled, so the exit runs in every case and may co_await. An rvalue `cm`
// is moved into async_with's frame; an lvalue is used by reference. `body` is
// moved into the frame too, so a capturing lambda is safe.
//
// Result: the body's result. When the manager's aexit() can suppress (returns
// bool) and the body returns a value, the result is std::optional of it,
// empty if an exception was suppressed.
//
// Cancellation: a cancellation while entering propagates (the exit does not
// run: nothing was entered, as in Python); during the body it is delivered to
// aexit() as a CancelledError, which the exit may await through; during the
// exit it propagates out of the exit.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "aio/async_generator.hpp"
#include "aio/coro.hpp"
#include "aio/detail/runtime.hpp"

namespace aio {

namespace detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); })
        return std::forward<A>(a).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<A>(a)); })
        return operator co_await(std::forward<A>(a));
    else
        return std::forward<A>(a);
}

/// What `co_await std::declval<A>()` gives.
template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class CM>
using enter_result_t = await_result_t<decltype(std::declval<CM&>().aenter())>;
template <class CM>
inline constexpr bool exit_may_suppress_v =
    std::is_same_v<await_result_t<decltype(std::declval<CM&>().aexit(std::exception_ptr{}))>, bool>;

template <class Body, class R>
decltype(auto) invoke_body(Body& body, R& resource) {
    if constexpr (std::is_invocable_v<Body&, R&>)
        return std::invoke(body, resource);
    else
        return std::invoke(body);
}

template <class Body, class R>
using body_coro_t = decltype(invoke_body(std::declval<Body&>(), std::declval<R&>()));

/// Awaits cm.aexit(e); true when the manager suppressed e.
template <class CM>
Coro<bool> run_exit(CM& cm, std::exception_ptr e) {
    if constexpr (exit_may_suppress_v<CM>) {
        bool suppress = co_await cm.aexit(e);
        co_return suppress;
    } else {
        co_await cm.aexit(e);
        co_return false;
    }
}

template <class CMStore, class Body>
struct async_with_types {
    using CM = std::remove_reference_t<CMStore>;
    using R = enter_result_t<CM>;
    using Inner = body_coro_t<Body, std::remove_reference_t<R>>;
    using U = await_result_t<Inner>;
    static constexpr bool optional_result = exit_may_suppress_v<CM> && !std::is_void_v<U>;
    using Result = std::conditional_t<optional_result, std::optional<U>, U>;
};

template <class CMStore, class Body>
Coro<typename async_with_types<CMStore, Body>::Result> async_with_impl(CMStore cm, Body body) {
    using Types = async_with_types<CMStore, Body>;
    using R = typename Types::R;
    using Inner = typename Types::Inner;
    using U = typename Types::U;

    R resource = co_await cm.aenter();
    std::exception_ptr failure;
    if constexpr (std::is_void_v<U>) {
        try {
            Inner inner = invoke_body(body, resource);
            co_await std::move(inner);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            // No co_await in the catch block: the exit runs here instead.
            bool suppressed = co_await run_exit(cm, failure);
            if (!suppressed) std::rethrow_exception(failure);
            co_return;
        }
        co_await run_exit(cm, nullptr);
    } else {
        std::optional<U> result;
        try {
            Inner inner = invoke_body(body, resource);
            U value = co_await std::move(inner);
            result.emplace(std::move(value));
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            bool suppressed = co_await run_exit(cm, failure);
            if (!suppressed) std::rethrow_exception(failure);
            if constexpr (Types::optional_result) co_return std::nullopt;
        }
        co_await run_exit(cm, nullptr);
        if constexpr (Types::optional_result)
            co_return result;
        else
            co_return std::move(*result);
    }
}

}  // namespace detail

/// `async with cm as r: body(r)` — see the header comment.
template <class CM, class Body>
auto async_with(CM&& cm, Body body) {
    // An rvalue manager is stored by value in the coroutine frame, an lvalue
    // by reference (the caller keeps it alive, as Python's `async with x:`).
    using Store = std::conditional_t<std::is_lvalue_reference_v<CM>, CM, std::remove_cvref_t<CM>>;
    return detail::async_with_impl<Store, Body>(std::forward<CM>(cm), std::move(body));
}

// ---------------------------------------------------------------------------
// AsyncContextManager<T>

/// A context manager written as a coroutine that `co_yield`s its resource
/// once (Python's @asynccontextmanager). The code before the co_yield is the
/// enter, the code after it the exit. The body's exception is thrown at the
/// co_yield, so a try/catch around it sees it:
///
///     aio::AsyncContextManager<Session> managed_session(std::string id) {
///         Session session = co_await load_session(id);
///         std::exception_ptr failure;
///         try {
///             co_yield session;             // the body runs here
///         } catch (...) {
///             failure = std::current_exception();   // no co_await in a catch
///         }
///         co_await session.save();          // the exit always runs
///         co_await session.close();
///         if (failure) std::rethrow_exception(failure);
///     }
///
/// The resource is passed by reference: it lives in the manager's frame
/// (a yielded temporary lives until the exit resumes the frame).
///
/// Exit semantics (as contextlib): if the body failed and the manager
/// finishes normally, the exception is suppressed; if it rethrows the same
/// exception, aexit() returns false; another exception propagates from
/// aexit(). A manager that does not yield raises RuntimeError from aenter();
/// one that yields twice raises RuntimeError from aexit().
///
/// Cancellation: the manager runs inside the awaiting task; a cancellation
/// while its enter or exit awaits raises CancelledError there.
///
/// Destroying a manager that was entered but not exited runs the destructors
/// in its frame, skips its exit code, and in debug mode reports it.
template <class T>
class [[nodiscard]] AsyncContextManager {
    static_assert(std::is_object_v<T>, "AsyncContextManager<T>: T must be an object type");

    enum class State : std::uint8_t { created, entering, entered, exiting, done };

public:
    class promise_type : public detail::PoolAllocated {
    public:
        AsyncContextManager get_return_object() noexcept {
            return AsyncContextManager(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        struct FinalAwaiter {
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                h.promise().state = State::done;
                detail::tls_context.next = h.promise().continuation;
            }
            void await_resume() const noexcept {}
        };
        FinalAwaiter final_suspend() const noexcept { return {}; }
        void unhandled_exception() noexcept { exception = std::current_exception(); }
        void return_void() noexcept {}

        class YieldAwaiter {
        public:
            explicit YieldAwaiter(T* r) noexcept : resource_(r) {}
            template <class U>
            explicit YieldAwaiter(std::in_place_t, U&& v) : own_(std::forward<U>(v)) {}
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                promise_ = &h.promise();
                promise_type& p = *promise_;
                p.resource = resource_ ? resource_ : &*own_;
                p.state = p.state == State::entering ? State::entered : State::exiting;  // exiting: yielded twice
                detail::tls_context.next = p.continuation;
            }
            void await_resume() const {
                if (promise_->thrown) std::rethrow_exception(std::exchange(promise_->thrown, nullptr));
            }

        private:
            T* resource_ = nullptr;
            std::optional<T> own_;
            promise_type* promise_ = nullptr;
        };
        YieldAwaiter yield_value(T& r) noexcept { return YieldAwaiter(&r); }
        YieldAwaiter yield_value(T&& r) noexcept { return YieldAwaiter(&r); }
        template <class U>
            requires(!std::same_as<std::remove_cvref_t<U>, T> && std::convertible_to<U &&, T>)
        YieldAwaiter yield_value(U&& v) {
            return YieldAwaiter(std::in_place, std::forward<U>(v));
        }

        std::coroutine_handle<> continuation{};
        T* resource = nullptr;
        std::exception_ptr exception;  // the manager's own failure
        std::exception_ptr thrown;     // the body's exception, raised at co_yield
        State state = State::created;
    };
    using handle_type = std::coroutine_handle<promise_type>;

    AsyncContextManager() noexcept = default;
    AsyncContextManager(AsyncContextManager&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    AsyncContextManager& operator=(AsyncContextManager&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~AsyncContextManager() { reset(); }

    class EnterAwaiter {
    public:
        explicit EnterAwaiter(handle_type h) noexcept : h_(h) {}
        bool await_ready() const {
            if (!h_) throw InvalidStateError("aenter() on an empty AsyncContextManager");
            if (h_.promise().state != State::created)
                throw RuntimeError("AsyncContextManager: aenter() called twice (a manager is used once)");
            return false;
        }
        void await_suspend(std::coroutine_handle<> awaiting) noexcept {
            promise_type& p = h_.promise();
            p.state = State::entering;
            p.continuation = awaiting;
            detail::tls_context.next = h_;
        }
        T& await_resume() {
            promise_type& p = h_.promise();
            if (p.state == State::entered) return *p.resource;
            if (p.exception) std::rethrow_exception(std::exchange(p.exception, nullptr));
            throw RuntimeError("AsyncContextManager: the coroutine did not yield");
        }

    private:
        handle_type h_;
    };

    class ExitAwaiter {
    public:
        ExitAwaiter(handle_type h, std::exception_ptr e) noexcept : h_(h), e_(std::move(e)) {}
        bool await_ready() const {
            if (!h_ || h_.promise().state != State::entered)
                throw RuntimeError("AsyncContextManager: aexit() without a successful aenter()");
            return false;
        }
        void await_suspend(std::coroutine_handle<> awaiting) noexcept {
            promise_type& p = h_.promise();
            p.state = State::exiting;
            p.thrown = e_;
            p.continuation = awaiting;
            detail::tls_context.next = h_;
        }
        bool await_resume() {
            promise_type& p = h_.promise();
            if (p.state != State::done) throw RuntimeError("AsyncContextManager: the coroutine yielded more than once");
            std::exception_ptr raised = std::exchange(p.exception, nullptr);
            if (!e_) {
                if (raised) std::rethrow_exception(raised);
                return false;
            }
            if (!raised) return true;         // the manager swallowed the body's exception
            if (raised == e_) return false;   // it let the exception through
            std::rethrow_exception(raised);  // it raised another one
        }

    private:
        handle_type h_;
        std::exception_ptr e_;
    };

    /// Runs the manager up to its co_yield; gives the yielded resource.
    EnterAwaiter aenter() noexcept { return EnterAwaiter(h_); }
    /// Resumes the manager after its co_yield, raising `e` there if not null;
    /// gives true if the manager suppressed `e`.
    ExitAwaiter aexit(std::exception_ptr e) noexcept { return ExitAwaiter(h_, std::move(e)); }

    bool valid() const noexcept { return static_cast<bool>(h_); }

private:
    explicit AsyncContextManager(handle_type h) noexcept : h_(h) {}
    void reset() noexcept {
        if (!h_) return;
        State s = h_.promise().state;
        if (s == State::entered || s == State::entering || s == State::exiting)
            detail::report_skipped_cleanup("an AsyncContextManager", "the code after its co_yield",
                                           "enter it with aio::async_with() so that aexit() always runs");
        std::exchange(h_, nullptr).destroy();
    }
    handle_type h_{};
};

// ---------------------------------------------------------------------------
// aclosing

/// contextlib.aclosing: a context manager whose exit awaits gen.aclose().
/// `aio::aclosing(std::move(gen))` owns the generator; `aio::aclosing(gen)`
/// refers to it. The resource is the generator (by reference).
template <class G>
class Aclosing {
public:
    explicit Aclosing(G gen) noexcept(std::is_nothrow_move_constructible_v<G>) : gen_(std::forward<G>(gen)) {}

    struct Ready {
        std::remove_reference_t<G>* g;
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        std::remove_reference_t<G>& await_resume() const noexcept { return *g; }
    };
    Ready aenter() noexcept { return Ready{&gen_}; }
    auto aexit(std::exception_ptr) noexcept { return gen_.aclose(); }

    std::remove_reference_t<G>& get() noexcept { return gen_; }

private:
    G gen_;
};

template <class T>
Aclosing<AsyncGenerator<T>> aclosing(AsyncGenerator<T>&& gen) noexcept {
    return Aclosing<AsyncGenerator<T>>(std::move(gen));
}
template <class T>
Aclosing<AsyncGenerator<T>&> aclosing(AsyncGenerator<T>& gen) noexcept {
    return Aclosing<AsyncGenerator<T>&>(gen);
}

}  // namespace aio
