// aio/task.hpp — aio::Task<T>: a coroutine scheduled on the loop.
//
// create_task() starts a Coro concurrently with its caller; the Task handle
// is a cheap shared reference used to await, cancel and inspect it.
//
// Lifetime: the loop holds a task until it finishes, so a task whose every
// handle was dropped still runs to completion (the asyncio pitfall where a
// fire-and-forget task is garbage-collected cannot happen). When it finishes,
// its coroutine frame is destroyed at once; the result stays in the state.
//
// Cancellation (asyncio's semantics): cancel() raises CancelledError at the
// task's current suspension point, or before its first step. The task may
// catch it, clean up (with co_await) and finish normally. A task awaiting
// another task or a future cancels that one too. cancelling() counts the
// requests and uncancel() takes one back.
#pragma once

#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aio/coro.hpp"
#include "aio/detail/completion.hpp"
#include "aio/event_loop.hpp"

namespace aio {

namespace detail {

/// A task's state. Until the root coroutine returns, it owns the frame;
/// afterwards the frame is gone and the same bytes hold the result.
template <class T>
class TaskState final : public TaskCore {
    using Handle = typename Coro<T>::handle_type;
    using Value = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*,
                                     std::conditional_t<std::is_void_v<T>, char, T>>;

public:
    TaskState(EventLoop* loop, Handle root, std::string_view name) : TaskCore(loop, name) {
        ::new (static_cast<void*>(&root_)) Handle(root);
        top_frame = &root.promise();
    }
    ~TaskState() override {
        if (holds_value())
            value_.~Value();
        else if (root_)
            root_.destroy();
    }

    /// The result once finished (check_result() first).
    decltype(auto) value() const {
        if constexpr (std::is_reference_v<T>)
            return static_cast<T>(*value_);
        else if constexpr (!std::is_void_v<T>)
            return static_cast<const T&>(value_);
    }
    decltype(auto) take_value() {
        if constexpr (std::is_reference_v<T>)
            return static_cast<T>(*value_);
        else if constexpr (!std::is_void_v<T>)
            return T(std::move(value_));
    }

private:
    bool holds_value() const noexcept { return !std::is_void_v<T> && value_stored_; }

    std::coroutine_handle<> root() const noexcept override { return root_; }
    void destroy_frame() noexcept override {
        if (!holds_value() && root_) {
            root_.destroy();
            root_ = nullptr;
        }
    }

    std::exception_ptr harvest() noexcept override {
        Handle frame = root_;
        std::exception_ptr e = frame.promise().take_exception();
        if constexpr (!std::is_void_v<T>) {
            if (!e) {
                Value v = [&]() -> Value {
                    if constexpr (std::is_reference_v<T>)
                        return std::addressof(frame.promise().take_result());
                    else
                        return frame.promise().take_result();
                }();
                frame.destroy();
                root_.~Handle();
                ::new (static_cast<void*>(&value_)) Value(std::move(v));
                value_stored_ = true;
                return nullptr;
            }
        }
        frame.destroy();
        root_ = nullptr;
        return e;
    }

    union {
        Handle root_;
        Value value_;
    };
};

template <class F>
    requires std::is_void_v<typename std::invoke_result_t<F&>::value_type>
Coro<void> invoke_in_frame(F fn) {
    co_await fn();
}
template <class F>
    requires(!std::is_void_v<typename std::invoke_result_t<F&>::value_type>)
std::invoke_result_t<F&> invoke_in_frame(F fn) {
    co_return co_await fn();
}

}  // namespace detail

template <class T>
class Task {
    using State = detail::TaskState<T>;

public:
    using value_type = T;

    /// An empty handle; assign a task to it.
    Task() noexcept = default;

    /// Requests cancellation (see the header comment). Returns false if the
    /// task is already done.
    bool cancel(std::string msg = {}) { return state()->cancel(std::move(msg)); }
    bool cancelled() const { return state()->cancelled(); }
    bool done() const { return state()->done(); }
    /// The number of pending cancellation requests.
    std::uint32_t cancelling() const { return state()->cancelling(); }
    /// Takes back one cancellation request; returns the remaining count.
    std::uint32_t uncancel() { return state()->uncancel(); }

    /// The result; rethrows the task's exception, raises CancelledError if it
    /// was cancelled and InvalidStateError while it runs.
    decltype(auto) result() const {
        state()->check_result();
        return state()->value();
    }
    std::exception_ptr exception() const { return state()->exception(); }

    /// "Task-N" unless named at creation or by set_name().
    std::string get_name() const { return state()->name(); }
    void set_name(std::string name) { state()->set_name(std::move(name)); }

    /// Calls `fn(task)` (or `fn()`) through call_soon once the task is done.
    template <class F>
    CallbackId add_done_callback(F&& fn) {
        return detail::add_done_callback<Task>(state(), std::forward<F>(fn));
    }
    std::size_t remove_done_callback(CallbackId id) { return detail::remove_done_callback(state(), id); }

    EventLoop& get_loop() const { return *state()->loop(); }
    explicit operator bool() const noexcept { return static_cast<bool>(state_); }

    /// Awaiting a task gives its result or rethrows its exception. Cancelling
    /// the awaiting task cancels this one too.
    template <bool Consume>
    class Awaiter : public detail::CompletionWait {
    public:
        explicit Awaiter(State* s) noexcept : CompletionWait(s) {}
        T await_resume() {
            resume_wait();
            auto* s = static_cast<State*>(core_);
            s->check_result();
            if constexpr (std::is_void_v<T>)
                return;
            else if constexpr (Consume || !std::is_copy_constructible_v<T>)
                return s->take_value();
            else
                return s->value();
        }

    private:
        bool cancel_wait() override { return static_cast<State*>(core_)->cancel(task_->cancel_message()); }
    };
    /// From an lvalue the result is copied (a move-only result is moved out:
    /// await such a task once); from an rvalue it is moved.
    Awaiter<false> operator co_await() const& { return Awaiter<false>(state()); }
    Awaiter<true> operator co_await() && { return Awaiter<true>(state()); }

    static Task from_core(detail::CompletionCore* core) {
        return Task(detail::IntrusivePtr<State>(static_cast<State*>(core)));
    }
    detail::TaskCore* core() const noexcept { return state_.get(); }
    detail::CompletionCore* completion_core() const noexcept { return state_.get(); }
    /// Moves the result out (rethrowing as result() does); for one consumer.
    T take_result() {
        state()->check_result();
        if constexpr (!std::is_void_v<T>) return state()->take_value();
    }
    friend bool operator==(const Task& a, const Task& b) noexcept { return a.state_ == b.state_; }

private:
    friend class EventLoop;
    explicit Task(detail::IntrusivePtr<State> s) noexcept : state_(std::move(s)) {}
    /// Every operation on an empty handle raises InvalidStateError.
    State* state() const {
        if (!state_) throw InvalidStateError("operation on an empty aio::Task handle");
        return state_.get();
    }
    detail::IntrusivePtr<State> state_;
};

/// A type-erased reference to any task, as all_tasks() and current_task()
/// return them.
class AnyTask {
public:
    explicit AnyTask(detail::TaskCore* core) noexcept : core_(core) {}
    template <class T>
    AnyTask(const Task<T>& t) noexcept : core_(t.core()) {}

    bool cancel(std::string msg = {}) { return core_->cancel(std::move(msg)); }
    bool cancelled() const noexcept { return core_->cancelled(); }
    bool done() const noexcept { return core_->done(); }
    std::uint32_t cancelling() const noexcept { return core_->cancelling(); }
    std::uint32_t uncancel() noexcept { return core_->uncancel(); }
    std::exception_ptr exception() const { return core_->exception(); }
    std::string get_name() const { return core_->name(); }
    void set_name(std::string name) { core_->set_name(std::move(name)); }
    detail::TaskCore* core() const noexcept { return core_.get(); }
    friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.core_ == b.core_; }

private:
    detail::IntrusivePtr<detail::TaskCore> core_;
};

template <class T>
Task<T> EventLoop::create_task(Coro<T> coro, std::string_view name) {
    check_open();
    if (!coro.valid()) throw InvalidStateError("create_task: empty Coro");
    auto* state = new detail::TaskState<T>(this, coro.release(), name);
    register_task(state);  // the loop's reference, dropped when the task finishes
    schedule(state);
    return Task<T>(detail::IntrusivePtr<detail::TaskState<T>>::adopt(state));
}

template <class F>
    requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
auto EventLoop::create_task(F fn, std::string_view name) -> Task<typename std::invoke_result_t<F&>::value_type> {
    return create_task(detail::invoke_in_frame(std::move(fn)), name);
}

/// Schedules `coro` on the running loop (RuntimeError without one).
template <class T>
Task<T> create_task(Coro<T> coro, std::string_view name = {}) {
    return detail::running_loop_for("aio::create_task").create_task(std::move(coro), name);
}
/// Runs `fn()` in a new task. The callable is stored in the task's frame, so
/// a capturing lambda coroutine stays valid for the task's whole life.
template <class F>
    requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
auto create_task(F fn, std::string_view name = {}) {
    return detail::running_loop_for("aio::create_task").create_task(std::move(fn), name);
}

/// The task running on this thread, if any.
std::optional<AnyTask> current_task();
/// The loop's tasks that are not done yet.
std::vector<AnyTask> all_tasks();

namespace detail {
template <class A>
struct awaitable_task;
template <class T>
struct awaitable_task<Coro<T>> {
    using type = T;
};
template <class T>
struct awaitable_task<Task<T>> {
    using type = T;
};
template <class T>
struct awaitable_task<Future<T>> {
    using type = T;
};

template <class T>
Coro<T> await_one(Future<T> f) {
    co_return co_await f;
}
/// Runs the loop until `core` finishes (stopping it from a done callback).
void run_until_done(EventLoop& loop, CompletionCore* core);
}  // namespace detail

template <class Awaitable>
decltype(auto) EventLoop::run_until_complete(Awaitable&& aw) {
    using A = std::remove_cvref_t<Awaitable>;
    using T = typename detail::awaitable_task<A>::type;
    if constexpr (detail::is_coro_v<A>) {
        Task<T> task = create_task(std::move(aw));
        detail::run_until_done(*this, task.completion_core());
        return task.take_result();
    } else {
        detail::run_until_done(*this, aw.completion_core());
        if constexpr (std::is_void_v<T>) {
            aw.result();
        } else if constexpr (std::is_reference_v<T>) {
            return aw.result();
        } else {
            return T(aw.result());
        }
    }
}

}  // namespace aio
