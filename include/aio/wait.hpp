// aio/wait.hpp — aio::wait and aio::as_completed (asyncio.wait,
// asyncio.as_completed).
//
//   auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_COMPLETED);
//   for (auto& t : pending) t.cancel();
//
//   auto it = aio::as_completed(std::move(coros), 5s);
//   while (auto t = co_await it.next())         // completion order
//       use(t->result());                       // TimeoutError after 5 s
//
// wait() waits for tasks or futures you already hold (Tasks, Futures or
// AnyTasks; like asyncio 3.11+, not coroutines: create the tasks first) and
// returns them split into done and pending, each in input order. It never
// cancels anything: on timeout it simply returns what is done so far, and
// the pending ones keep running. Empty input is an error (std::invalid_argument).
//
// as_completed() hands out the inputs in the order they finish. Coros are
// started as tasks when as_completed() is called; next() gives
// std::optional<Task<T>> (std::optional<Future<T>> for futures), nullopt once
// all were handed out. The optional timeout is one deadline for the whole
// iteration, counted from the as_completed() call: after it, next() hands out
// what had finished and then raises TimeoutError. Tasks that as_completed()
// created and never handed out are cancelled when the AsCompleted object is
// destroyed (nobody else could reach them); tasks you passed are left alone.
//
// Cancellation: at `co_await aio::wait(...)` and at `co_await it.next()`, a
// cancellation leaves every task running and untouched; as_completed loses
// nothing (a task that finished meanwhile is handed out by the next call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <source_location>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/detail/combinators.hpp"

namespace aio {

/// When aio::wait returns (asyncio's FIRST_COMPLETED...).
enum class ReturnWhen : std::uint8_t { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// What aio::wait returns; binds as `auto [done, pending] = ...`.
template <class H>
struct WaitResult {
    std::vector<H> done;
    std::vector<H> pending;
};

namespace detail {

inline CompletionCore* completion_core_of(const AnyTask& t) noexcept { return t.core(); }
template <class H>
    requires requires(const H& h) { h.completion_core(); }
CompletionCore* completion_core_of(const H& h) noexcept {
    return h.completion_core();
}

class WaitSet;

struct WaitSetNode final : WaitNode {
    WaitSet* owner = nullptr;
    CompletionCore* core = nullptr;
    inline void wake() override;
    inline TaskCore* waiting_task() const noexcept override;
};

/// One suspension until the ReturnWhen condition holds or the deadline
/// passes. Never cancels the children.
class WaitSet final : public Suspension, public TimerNode {
public:
    WaitSet(WaitSetNode* nodes, std::size_t n, ReturnWhen when, std::optional<Clock::time_point> deadline) noexcept
        : nodes_(nodes), n_(n), when_(when), deadline_(deadline) {}
    WaitSet(const WaitSet&) = delete;
    WaitSet& operator=(const WaitSet&) = delete;
    ~WaitSet() { stop(); }

    bool await_ready() {
        std::size_t done = 0;
        for (std::size_t i = 0; i < n_; ++i) {
            nodes_[i].owner = this;
            CompletionCore* c = nodes_[i].core;
            if (!c->done()) continue;
            ++done;
            if (when_ == ReturnWhen::FIRST_EXCEPTION && c->state() == CompletionState::failed) return true;
        }
        if (done == n_ || (done > 0 && when_ == ReturnWhen::FIRST_COMPLETED)) return true;
        for (std::size_t i = 0; i < n_; ++i)
            if (!nodes_[i].core->done()) nodes_[i].core->add_waiter(&nodes_[i]);
        pending_ = n_ - done;
        return false;
    }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        if (deadline_) {
            EventLoop& loop = running_loop_for("aio::wait");
            when_ns = EventLoop::to_ns(*deadline_);
            loop.arm_timer(this);
        }
        suspend_here(h, at);
    }
    TaskCore* waiting() const noexcept { return finished_ ? nullptr : task_; }
    void await_resume() {
        if (task_) resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }

    void child_done(WaitSetNode* node) {
        --pending_;
        if (pending_ == 0 || when_ == ReturnWhen::FIRST_COMPLETED ||
            (when_ == ReturnWhen::FIRST_EXCEPTION && node->core->state() == CompletionState::failed))
            finish();
    }

private:
    void stop() noexcept {
        for (std::size_t i = 0; i < n_; ++i)
            if (nodes_[i].linked()) nodes_[i].core->remove_waiter(&nodes_[i]);
        if (armed()) task_->loop()->disarm_timer(this);
    }
    void finish() {
        if (finished_) return;
        finished_ = true;
        stop();
        schedule_on(task_->loop(), task_);
    }
    void fire(EventLoop&) override { finish(); }
    bool cancel_wait() override {
        if (finished_) return false;
        cancelled_ = true;
        finish();
        return true;
    }

    WaitSetNode* nodes_;
    std::size_t n_;
    std::size_t pending_ = 0;
    ReturnWhen when_;
    bool finished_ = false;
    bool cancelled_ = false;
    std::optional<Clock::time_point> deadline_;
};

inline void WaitSetNode::wake() { owner->child_done(this); }
inline TaskCore* WaitSetNode::waiting_task() const noexcept { return owner->waiting(); }

template <class H>
Coro<WaitResult<H>> wait_impl(std::vector<H> handles, ReturnWhen when, std::optional<Clock::duration> timeout) {
    const std::size_t n = handles.size();
    std::optional<Clock::time_point> deadline;
    if (timeout) deadline = running_loop_for("aio::wait").time() + *timeout;
    std::unique_ptr<WaitSetNode[]> nodes(new WaitSetNode[n]);
    for (std::size_t i = 0; i < n; ++i) nodes[i].core = completion_core_of(handles[i]);
    WaitSet set(nodes.get(), n, when, deadline);
    co_await set;
    WaitResult<H> out;
    for (auto& h : handles) {
        if (completion_core_of(h)->done())
            out.done.push_back(std::move(h));
        else
            out.pending.push_back(std::move(h));
    }
    co_return out;
}

template <class H>
concept waitable_handle = is_task_handle<H>::value || is_future_handle<H>::value || std::same_as<H, AnyTask>;

}  // namespace detail

/// asyncio.wait: waits until `return_when` holds or `timeout` passes and
/// returns {done, pending}. `handles`: a range of Task<T>, Future<T> or
/// AnyTask (copied; the results stay in them).
template <class R>
    requires std::ranges::input_range<R> && detail::waitable_handle<std::ranges::range_value_t<R>>
auto wait(R&& handles, ReturnWhen return_when = ReturnWhen::ALL_COMPLETED,
          detail::DelayArg timeout = std::nullopt) {
    using H = std::ranges::range_value_t<R>;
    std::vector<H> copy;
    if constexpr (std::ranges::sized_range<R>) copy.reserve(std::ranges::size(handles));
    for (auto&& h : handles) copy.push_back(h);
    if (copy.empty()) throw std::invalid_argument("aio::wait: the set of tasks and futures is empty");
    std::optional<Clock::duration> t;
    if (timeout.enabled()) t = timeout.delay();
    return detail::wait_impl<H>(std::move(copy), return_when, t);
}
/// aio::wait(handles, timeout): ALL_COMPLETED with a timeout.
template <class R>
    requires std::ranges::input_range<R> && detail::waitable_handle<std::ranges::range_value_t<R>>
auto wait(R&& handles, detail::DelayArg timeout) {
    return wait(std::forward<R>(handles), ReturnWhen::ALL_COMPLETED, timeout);
}

// --- as_completed --------------------------------------------------------------

/// The iterator state of aio::as_completed(). Not movable: its wait nodes
/// are linked into the tasks; keep it in a local (`auto it = as_completed(...)`).
template <class H>
class AsCompleted {
    struct Node final : detail::WaitNode {
        AsCompleted* owner = nullptr;
        std::uint32_t index = 0;
        void wake() override { owner->on_done(index); }
        detail::TaskCore* waiting_task() const noexcept override {
            return owner->waiter_ ? owner->waiter_->task() : nullptr;
        }
    };

public:
    class NextAwaiter;

    AsCompleted(std::vector<H> handles, std::optional<Clock::time_point> deadline, bool owned)
        : handles_(std::move(handles)), nodes_(new Node[handles_.size()]), deadline_(deadline), owned_(owned) {
        order_.reserve(handles_.size());
        for (std::size_t i = 0; i < handles_.size(); ++i) {
            Node& n = nodes_[i];
            n.owner = this;
            n.index = static_cast<std::uint32_t>(i);
            detail::CompletionCore* c = detail::completion_core_of(handles_[i]);
            if (c->done())
                order_.push_back(n.index);
            else
                c->add_waiter(&n);
        }
    }
    AsCompleted(const AsCompleted&) = delete;
    AsCompleted& operator=(const AsCompleted&) = delete;
    ~AsCompleted() {
        unlink_all();
        // At loop close (the loop is not running) the tasks' frames are being
        // destroyed by the loop itself: leave them alone.
        if (owned_ && !handles_.empty() && handles_.front().get_loop().is_running()) {
            for (std::size_t i = 0; i < handles_.size(); ++i)
                if (!handed(i) && !handles_[i].done()) handles_[i].cancel();
        }
    }

    /// Awaitable: the next finished task (std::nullopt when all were handed
    /// out); TimeoutError once the deadline passed and nothing is left that
    /// finished before it.
    NextAwaiter next() noexcept { return NextAwaiter(this); }
    /// How many were not handed out yet.
    std::size_t remaining() const noexcept { return handles_.size() - handed_out_; }

    class NextAwaiter final : public detail::Suspension, public detail::TimerNode {
    public:
        explicit NextAwaiter(AsCompleted* owner) noexcept : owner_(owner) {}
        NextAwaiter(NextAwaiter&& o) noexcept : owner_(o.owner_) {}
        ~NextAwaiter() { stop(); }

        bool await_ready() {
            if (owner_->ready() || owner_->expired_) return true;
            if (owner_->deadline_ && detail::running_loop_for("aio::as_completed").time() >= *owner_->deadline_) {
                owner_->expire();
                return true;
            }
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            if (owner_->waiter_) throw InvalidStateError("aio::as_completed: next() is already being awaited");
            owner_->waiter_ = this;
            if (owner_->deadline_) {
                when_ns = EventLoop::to_ns(*owner_->deadline_);
                detail::running_loop_for("aio::as_completed").arm_timer(this);
            }
            suspend_here(h, at);
        }
        std::optional<H> await_resume() {
            if (task_) resume_here();
            if (cancelled_) throw CancelledError(task_->cancel_message());
            return owner_->take();
        }

    private:
        friend class AsCompleted;
        void stop() noexcept {
            if (owner_->waiter_ == this) owner_->waiter_ = nullptr;
            if (armed()) task_->loop()->disarm_timer(this);
        }
        /// Something finished (or the deadline passed): resume the task.
        void wake() {
            stop();
            detail::schedule_on(task_->loop(), task_);
        }
        void fire(EventLoop&) override {
            owner_->expire();
            wake();
        }
        bool cancel_wait() override {
            if (owner_->waiter_ != this) return false;  // already woken: queued
            cancelled_ = true;
            wake();
            return true;
        }

        AsCompleted* owner_;
        bool cancelled_ = false;
    };

private:
    bool ready() const noexcept { return head_ < order_.size() || handed_out_ == handles_.size(); }
    bool handed(std::size_t i) const noexcept { return handed_[i]; }
    void on_done(std::uint32_t index) {
        order_.push_back(index);  // capacity reserved: never reallocates, never throws
        if (waiter_) waiter_->wake();
    }
    void unlink_all() noexcept {
        for (std::size_t i = 0; i < handles_.size(); ++i)
            if (nodes_[i].linked()) detail::completion_core_of(handles_[i])->remove_waiter(&nodes_[i]);
    }
    void expire() noexcept {
        expired_ = true;
        unlink_all();
    }
    std::optional<H> take() {
        if (head_ < order_.size()) {
            std::uint32_t i = order_[head_++];
            handed_[i] = true;
            ++handed_out_;
            return handles_[i];
        }
        if (handed_out_ == handles_.size()) return std::nullopt;
        throw TimeoutError();
    }

    std::vector<H> handles_;
    std::unique_ptr<Node[]> nodes_;
    std::vector<std::uint32_t> order_;  // indices in completion order
    std::vector<bool> handed_ = std::vector<bool>(handles_.size());
    std::size_t head_ = 0;
    std::size_t handed_out_ = 0;
    NextAwaiter* waiter_ = nullptr;
    std::optional<Clock::time_point> deadline_;
    bool owned_;
    bool expired_ = false;
};

namespace detail {
template <class E>
struct as_completed_handle {
    using type = E;  // Task<T>, Future<T>
};
template <class T>
struct as_completed_handle<Coro<T>> {
    using type = Task<T>;
};
}  // namespace detail

/// asyncio.as_completed: see the header comment. `aws`: a range of Coro<T>
/// (pass it as an rvalue; each becomes a task now), Task<T> or Future<T>.
template <class R>
    requires std::ranges::input_range<R>
auto as_completed(R&& aws, detail::DelayArg timeout = std::nullopt)
    -> AsCompleted<typename detail::as_completed_handle<std::ranges::range_value_t<R>>::type> {
    using E = std::ranges::range_value_t<R>;
    using H = typename detail::as_completed_handle<E>::type;
    static_assert(detail::is_coro_v<E> || detail::is_task_handle<E>::value || detail::is_future_handle<E>::value,
                  "aio::as_completed takes a range of Coro, Task or Future");
    EventLoop& loop = detail::running_loop_for("aio::as_completed");
    std::vector<H> handles;
    if constexpr (std::ranges::sized_range<R>) handles.reserve(std::ranges::size(aws));
    if constexpr (detail::is_coro_v<E>) {
        static_assert(!std::is_lvalue_reference_v<R>, "as_completed over Coros: pass the container as an rvalue");
        for (auto&& c : aws) handles.push_back(loop.create_task(std::move(c)));
    } else {
        for (auto&& h : aws) handles.push_back(h);
    }
    return AsCompleted<H>(std::move(handles), timeout.deadline(loop), detail::is_coro_v<E>);
}

}  // namespace aio
