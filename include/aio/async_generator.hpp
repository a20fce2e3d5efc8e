// aio/async_generator.hpp — aio::AsyncGenerator<T>, Python's async generator.
//
// A coroutine returning AsyncGenerator<T> may `co_await` anything and
// `co_yield` values of type T. It is lazy: its body starts on the first
// next(). The consumer pulls items one at a time:
//
//     aio::AsyncGenerator<int> count_up(int n) {
//         for (int i = 0; i < n; ++i) {
//             co_await aio::sleep(10ms);
//             co_yield i;
//         }
//     }
//     ...
//     auto gen = count_up(3);
//     while (auto v = co_await gen.next()) std::cout << *v;   // 0 1 2
//
// The body runs inside the consuming task, like an awaited Coro: no task is
// created and nothing goes through the loop between an item's co_yield and the
// consumer's next(). Control moves between frames through the task's driver
// (tls_context.next), so deep pipelines never grow the stack.
//
// Exceptions thrown by the body reach the consumer from next(); the generator
// is then finished and further next() calls give std::nullopt.
//
// Cancellation: next() is a cancellation point exactly when the body
// suspends (an await inside the body); a cancellation of the consuming task
// is raised inside the body at that await, so the body's cleanup runs, and
// the CancelledError then comes out of next(). Between two next() calls the
// body is frozen at its co_yield; cancelling the consumer there does not
// touch the generator.
//
// Early exit: `co_await gen.aclose()` resumes the body at its co_yield with
// aio::GeneratorExit thrown there, so its cleanup runs and may co_await
// (write it as shown in docs/async-cleanup.md: no co_await in a catch
// block). `co_await gen.athrow(eptr)` throws any exception at the co_yield.
// aio::aclosing(gen) (aio/context.hpp) closes for you.
//
// Destroying a generator that is suspended at a co_yield runs the
// destructors of the objects in its frame but none of its async cleanup; in
// debug mode the loop's exception handler is told so.
//
// Delegation: `co_yield aio::yield_from(std::move(sub));` hands the stream to
// `sub` until it finishes (Python's missing `async yield from`). The consumer
// then talks to the innermost generator directly: items are passed through
// without copies, allocation or per-level work, and nesting depth does not
// grow the stack. aclose()/athrow() go to the innermost generator first;
// sub's exceptions are rethrown in the delegating generator at its co_yield.
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "aio/detail/runtime.hpp"
#include "aio/errors.hpp"
#include "aio/event_loop.hpp"

namespace aio {

/// Raised inside an async generator at its co_yield by aclose(), as Python's
/// GeneratorExit. Like CancelledError it does not derive from std::exception,
/// so `catch (const std::exception&)` in a generator body does not swallow a
/// close. Catch it (or `...`) only to clean up, then rethrow or return.
class GeneratorExit {
public:
    const char* what() const noexcept { return "GeneratorExit"; }
};

template <class T>
class AsyncGenerator;

/// The operand of `co_yield aio::yield_from(gen)`: see the header comment.
template <class T>
class YieldFrom {
public:
    /// Delegates to a generator the delegating frame now owns.
    explicit YieldFrom(AsyncGenerator<T>&& gen) noexcept : owned_(std::move(gen)), target_(nullptr) {}
    /// Delegates to a generator owned elsewhere (finished afterwards).
    explicit YieldFrom(AsyncGenerator<T>& gen) noexcept : target_(&gen) {}
    YieldFrom(const YieldFrom&) = delete;
    YieldFrom& operator=(const YieldFrom&) = delete;

    AsyncGenerator<T>& target() noexcept { return target_ ? *target_ : owned_; }

private:
    AsyncGenerator<T> owned_;
    AsyncGenerator<T>* target_;
};

/// `co_yield aio::yield_from(std::move(sub));` — yields every item of `sub`.
template <class T>
YieldFrom<T> yield_from(AsyncGenerator<T>&& gen) noexcept {
    return YieldFrom<T>(std::move(gen));
}
template <class T>
YieldFrom<T> yield_from(AsyncGenerator<T>& gen) noexcept {
    return YieldFrom<T>(gen);
}

namespace detail {

inline bool is_generator_exit(const std::exception_ptr& e) noexcept { return holds_exception<GeneratorExit>(e); }

/// Tells the running loop's exception handler, in debug mode, that `what`
/// was destroyed before its async cleanup ran (`skipped` says which code,
/// `fix` what to do instead).
inline void report_skipped_cleanup(const char* what, const char* skipped, const char* fix) noexcept {
    EventLoop* loop = tls_context.loop;
    if (!loop || !loop->get_debug()) return;
    try {
        std::string msg = std::string(what) + " was destroyed before its async cleanup ran (" + skipped +
                          " did not run); " + fix;
        std::string task;
        if (tls_context.task) task = tls_context.task->name();
        loop->call_exception_handler({std::move(msg), nullptr, std::move(task)});
    } catch (...) {
        // Reporting is best effort: a destructor must not throw.
    }
}

enum class GenState : std::uint8_t { created, suspended, running, finished };

/// The promise of an AsyncGenerator frame. Fields marked "stream" are used
/// on the root promise only (the generator the consumer holds); with
/// delegation, every frame of the chain points to that root.
template <class T>
class GenPromise : public PoolAllocated {
public:
    using handle_type = std::coroutine_handle<GenPromise>;

    // --- per frame ---
    GenPromise* root = this;
    GenPromise* parent = nullptr;  // the frame delegating to this one
    handle_type* owner = nullptr;  // the handle slot of the owning AsyncGenerator
    std::exception_ptr exception;  // the body's exception, until delivered
    GenState state = GenState::created;
    // --- stream (root) ---
    bool closing = false;          // aclose() in progress: co_yield throws GeneratorExit
    GenPromise* leaf = this;       // the innermost frame of the delegation chain
    std::coroutine_handle<> consumer{};
    T* value = nullptr;            // the item at the current co_yield
    std::exception_ptr pending;    // athrow(): raised at the co_yield

    handle_type handle() noexcept { return handle_type::from_promise(*this); }

    AsyncGenerator<T> get_return_object() noexcept;
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(handle_type h) noexcept {
            GenPromise& p = h.promise();
            p.state = GenState::finished;
            if (p.parent) {
                // A delegated frame finished: its parent resumes at its
                // yield_from, which rethrows our exception if any.
                p.root->leaf = p.parent;
                tls_context.next = p.parent->handle();
            } else {
                tls_context.next = p.consumer;
            }
        }
        void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
    void return_void() noexcept {}

    /// What every co_yield does on resumption: raise GeneratorExit during
    /// aclose(), or the exception passed to athrow().
    class YieldBase {
    public:
        bool await_ready() const noexcept { return false; }
        void await_resume() const {
            GenPromise* r = self_->root;
            if (r->closing) throw GeneratorExit{};
            if (r->pending) std::rethrow_exception(std::exchange(r->pending, nullptr));
        }

    protected:
        void hand_over(handle_type h, T* item) noexcept {
            self_ = &h.promise();
            GenPromise* r = self_->root;
            r->value = item;
            r->state = GenState::suspended;
            tls_context.next = r->consumer;
        }
        GenPromise* self_ = nullptr;
    };

    /// co_yield of an rvalue T: the consumer moves from the operand itself.
    class YieldRef : public YieldBase {
    public:
        explicit YieldRef(T& item) noexcept : item_(&item) {}
        void await_suspend(handle_type h) noexcept { this->hand_over(h, item_); }

    private:
        T* item_;
    };

    /// co_yield of an lvalue or of another type: a T is made in the awaiter
    /// (which lives in the frame across the suspension).
    class YieldCopy : public YieldBase {
    public:
        template <class U>
        explicit YieldCopy(U&& v) : item_(std::forward<U>(v)) {}
        void await_suspend(handle_type h) noexcept { this->hand_over(h, &item_); }

    private:
        T item_;
    };

    /// co_yield aio::yield_from(sub).
    class Delegate {
    public:
        Delegate(GenPromise* self, AsyncGenerator<T>& sub) noexcept : self_(self), sub_(&sub) {}
        bool await_ready() const {
            if (!sub_->handle_) throw InvalidStateError("yield_from: empty AsyncGenerator (moved from?)");
            GenPromise& s = sub_->handle_.promise();
            if (s.state == GenState::running) throw RuntimeError("yield_from: the generator is already running");
            if (s.parent && s.state != GenState::finished)
                throw RuntimeError("yield_from: the generator is already delegated to");
            return s.state == GenState::finished;
        }
        void await_suspend(handle_type) noexcept {
            GenPromise* r = self_->root;
            GenPromise& s = sub_->handle_.promise();
            // `sub` (and the chain it delegates to, if it was already
            // started) joins our stream: the consumer now resumes its leaf.
            GenPromise* leaf = s.leaf;
            for (GenPromise* q = leaf;; q = q->parent) {
                q->root = r;
                if (q == &s) break;
            }
            s.parent = self_;
            s.state = GenState::running;
            r->leaf = leaf;
            tls_context.next = leaf->handle();
        }
        void await_resume() const {
            GenPromise& s = sub_->handle_.promise();
            if (s.exception) std::rethrow_exception(std::exchange(s.exception, nullptr));
            // The sub-generator swallowed aclose()'s GeneratorExit: we are
            // still being closed (Python's close() of a `yield from`).
            if (self_->root->closing) throw GeneratorExit{};
        }

    private:
        GenPromise* self_;
        AsyncGenerator<T>* sub_;
    };

    YieldRef yield_value(T&& v) noexcept { return YieldRef(v); }
    YieldCopy yield_value(const T& v) { return YieldCopy(v); }
    template <class U>
        requires(!std::same_as<std::remove_cvref_t<U>, T> && std::convertible_to<U &&, T>)
    YieldCopy yield_value(U&& v) {
        return YieldCopy(std::forward<U>(v));
    }
    Delegate yield_value(YieldFrom<T>&& d) noexcept { return Delegate(this, d.target()); }
    Delegate yield_value(YieldFrom<T>& d) noexcept { return Delegate(this, d.target()); }
};

}  // namespace detail

template <class T>
class [[nodiscard]] AsyncGenerator {
    static_assert(std::is_object_v<T> && !std::is_const_v<T>, "AsyncGenerator<T>: T must be a non-const object type");

public:
    using promise_type = detail::GenPromise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    /// An empty generator: next() raises InvalidStateError, aclose() does
    /// nothing.
    AsyncGenerator() noexcept = default;
    AsyncGenerator(AsyncGenerator&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {
        if (handle_) handle_.promise().owner = &handle_;
    }
    AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
        if (this != &o) {
            reset();
            handle_ = std::exchange(o.handle_, nullptr);
            if (handle_) handle_.promise().owner = &handle_;
        }
        return *this;
    }
    ~AsyncGenerator() { reset(); }

    bool valid() const noexcept { return static_cast<bool>(handle_); }
    /// True once the body returned, threw, or was closed (or never started
    /// and closed).
    bool done() const noexcept { return !handle_ || handle_.promise().state == detail::GenState::finished; }
    /// True while a next()/aclose()/athrow() is in progress (Python's ag_running).
    bool running() const noexcept { return handle_ && handle_.promise().state == detail::GenState::running; }
    /// True once the body has started and until it finishes.
    bool started() const noexcept { return handle_ && handle_.promise().state != detail::GenState::created; }

    // ---- awaiters --------------------------------------------------------
    class NextAwaiter {
    public:
        explicit NextAwaiter(promise_type* p) noexcept : p_(p) {}
        bool await_ready() const {
            if (!p_) throw InvalidStateError("next() on an empty AsyncGenerator (moved from?)");
            switch (p_->state) {
                case detail::GenState::running:
                    throw RuntimeError("anext(): asynchronous generator is already running");
                case detail::GenState::finished:
                    return true;
                default:
                    return false;
            }
        }
        void await_suspend(std::coroutine_handle<> consumer) noexcept {
            assert(detail::tls_context.task && "an AsyncGenerator runs only inside an aio task");
            p_->consumer = consumer;
            p_->state = detail::GenState::running;
            detail::tls_context.next = p_->leaf->handle();
        }
        std::optional<T> await_resume() {
            if (p_->state == detail::GenState::suspended) return std::optional<T>(std::move(*p_->value));
            if (p_->exception) std::rethrow_exception(std::exchange(p_->exception, nullptr));
            return std::nullopt;
        }

    private:
        promise_type* p_;
    };

    // aclose() and athrow() alike: whether the body must be resumed (a body
    // that never started is finished without running; a finished one has
    // nothing to do), and the hand-over to its innermost frame.
    static bool needs_body(promise_type* p, const char* op) {
        switch (p->state) {
            case detail::GenState::created:
                p->state = detail::GenState::finished;  // the body never runs
                return false;
            case detail::GenState::running:
                throw RuntimeError(std::string(op) + ": asynchronous generator is already running");
            case detail::GenState::finished:
                return false;
            default:
                return true;
        }
    }
    static void enter_body(promise_type* p, std::coroutine_handle<> consumer) noexcept {
        p->consumer = consumer;
        p->state = detail::GenState::running;
        detail::tls_context.next = p->leaf->handle();
    }

    class CloseAwaiter {
    public:
        explicit CloseAwaiter(promise_type* p) noexcept : p_(p) {}
        bool await_ready() const { return !p_ || !needs_body(p_, "aclose()"); }
        void await_suspend(std::coroutine_handle<> consumer) noexcept {
            resumed_ = true;
            p_->closing = true;
            enter_body(p_, consumer);
        }
        void await_resume() {
            if (!resumed_) return;
            p_->closing = false;
            if (p_->state == detail::GenState::suspended)
                throw RuntimeError("async generator ignored GeneratorExit");
            std::exception_ptr e = std::exchange(p_->exception, nullptr);
            if (e && !detail::is_generator_exit(e)) std::rethrow_exception(e);
        }

    private:
        promise_type* p_;
        bool resumed_ = false;
    };

    class ThrowAwaiter {
    public:
        ThrowAwaiter(promise_type* p, std::exception_ptr e) noexcept : p_(p), e_(std::move(e)) {}
        bool await_ready() const {
            if (!p_) throw InvalidStateError("athrow() on an empty AsyncGenerator (moved from?)");
            if (!e_) throw std::invalid_argument("athrow(): null exception_ptr");
            return !needs_body(p_, "athrow()");
        }
        void await_suspend(std::coroutine_handle<> consumer) noexcept {
            resumed_ = true;
            p_->pending = e_;
            enter_body(p_, consumer);
        }
        std::optional<T> await_resume() {
            if (!resumed_) std::rethrow_exception(e_);
            p_->pending = nullptr;
            if (p_->state == detail::GenState::suspended) return std::optional<T>(std::move(*p_->value));
            if (p_->exception) std::rethrow_exception(std::exchange(p_->exception, nullptr));
            return std::nullopt;
        }

    private:
        promise_type* p_;
        std::exception_ptr e_;
        bool resumed_ = false;
    };

    /// `co_await gen.next()`: the next item, or std::nullopt once the body
    /// has returned (Python's anext / StopAsyncIteration). Rethrows the
    /// body's exception. RuntimeError if another next() is in progress.
    NextAwaiter next() noexcept { return NextAwaiter(handle_ ? &handle_.promise() : nullptr); }

    /// `co_await gen.aclose()`: raises GeneratorExit at the co_yield where the
    /// body is suspended and runs it to its end (its cleanup may co_await).
    /// Never started: the body will never run. Finished: nothing. Rethrows
    /// what the cleanup throws other than GeneratorExit; RuntimeError if the
    /// body yields again instead of finishing.
    CloseAwaiter aclose() noexcept { return CloseAwaiter(handle_ ? &handle_.promise() : nullptr); }

    /// `co_await gen.athrow(eptr)`: raises *eptr at the co_yield; returns the
    /// next item the body yields, or nullopt if it returns. If the body never
    /// started or has finished, rethrows *eptr (and the body never runs).
    ThrowAwaiter athrow(std::exception_ptr e) noexcept {
        return ThrowAwaiter(handle_ ? &handle_.promise() : nullptr, std::move(e));
    }

private:
    friend promise_type;
    friend class detail::GenPromise<T>::Delegate;
    explicit AsyncGenerator(handle_type h) noexcept : handle_(h) { h.promise().owner = &handle_; }

    /// Destroys the frames without resuming them, innermost first, without
    /// recursion (a 10,000-deep delegation chain is destroyed in a loop).
    void reset() noexcept {
        if (!handle_) return;
        promise_type& root = handle_.promise();
        if (root.state == detail::GenState::suspended || root.state == detail::GenState::running)
            detail::report_skipped_cleanup("an AsyncGenerator", "the code after its co_yield",
                                           "co_await gen.aclose(), or use aio::aclosing(gen)");
        if (root.root == &root) {
            for (promise_type* p = root.leaf; p != &root;) {
                promise_type* up = p->parent;
                handle_type h = p->handle();
                if (p->owner) *p->owner = nullptr;
                h.destroy();
                p = up;
            }
        }
        std::exchange(handle_, nullptr).destroy();
    }

    handle_type handle_{};
};

template <class T>
AsyncGenerator<T> detail::GenPromise<T>::get_return_object() noexcept {
    return AsyncGenerator<T>(handle_type::from_promise(*this));
}

}  // namespace aio
