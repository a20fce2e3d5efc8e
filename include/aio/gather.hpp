// aio/gather.hpp — aio::gather, asyncio.gather made structured.
//
//   auto [text, rows] = co_await aio::gather(call_llm("hi"), search_db("q"));
//   std::vector<int> all = co_await aio::gather(std::move(coros));   // a range
//   auto rs = co_await aio::gather(aio::return_exceptions, f(), g());
//
// Each argument is a Coro (run as a new task), a Task, a Future, or any other
// awaitable (run in a new task). Results keep argument order: a std::tuple
// for the variadic form (std::monostate for void children), a std::vector for
// a range. With aio::return_exceptions every element is an aio::Result<T>.
//
// Structured, on purpose (asyncio's gather is not): gather never returns or
// throws while a child it waits for is still running.
// - On the first child failure (an exception, or a cancellation nobody asked
//   gather for) the other children are cancelled, gather waits for them to
//   finish, then rethrows that first failure. asyncio would rethrow at once
//   and leave the siblings running as orphans, which in C++ may still touch
//   the locals of the frame that called gather.
// - With aio::return_exceptions no failure cancels anything: every child runs
//   to completion and its outcome is collected.
// - Cancelling the task that awaits gather cancels every child still running;
//   gather waits for them and then raises CancelledError (even if some child
//   swallowed the cancellation and returned a value: the values are dropped).
//   This holds with return_exceptions too.
//
// Cancellation at `co_await gather(...)`: what is left behind is nothing —
// every child is finished (done, failed or cancelled) when gather raises.
// Tasks and futures you passed in are cancelled along with the rest.
//
// Laziness: like every Coro, gather(...) does nothing until awaited; the
// Coros passed to it start (as tasks) when it is awaited, in argument order.
// Allocation: one task per Coro child; the waiting itself allocates nothing
// per child beyond one array of small wait nodes for the range form.
#pragma once

#include <cstddef>
#include <new>
#include <optional>
#include <memory>
#include <ranges>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/detail/combinators.hpp"

namespace aio {

/// Tag: collect each child's outcome as an aio::Result instead of failing.
struct return_exceptions_t {
    explicit constexpr return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

class GatherWait;

/// One child of a gather: linked into the child's waiter list.
struct GatherNode final : WaitNode {
    GatherWait* owner = nullptr;
    CompletionCore* core = nullptr;
    inline void wake() override;
    inline TaskCore* waiting_task() const noexcept override;
};

/// Waits in one suspension until every child finished. Not cancelling on
/// failure when `collect` is set (return_exceptions).
class GatherWait final : public Suspension {
public:
    /// The i-th node is at `first + i * stride` bytes: a plain array of
    /// nodes, or nodes embedded in larger slots (the range form).
    GatherWait(GatherNode* first, std::size_t n, bool collect, std::size_t stride = sizeof(GatherNode)) noexcept
        : first_(reinterpret_cast<std::byte*>(first)), stride_(stride), n_(n), collect_(collect) {}
    GatherWait(const GatherWait&) = delete;
    GatherWait& operator=(const GatherWait&) = delete;
    ~GatherWait() {
        for (std::size_t i = 0; i < n_; ++i)
            if (node(i).linked()) node(i).core->remove_waiter(&node(i));
    }

    bool await_ready() {
        for (std::size_t i = 0; i < n_; ++i) {
            GatherNode& n = node(i);
            n.owner = this;
            if (!n.core->done()) {
                n.core->add_waiter(&n);
                ++remaining_;
            }
        }
        if (!collect_) {
            for (std::size_t i = 0; i < n_ && !failure_; ++i) {
                CompletionCore* c = node(i).core;
                if (c->done() && !node(i).linked() && failed(c)) {
                    if (c->state() == CompletionState::failed) (void)c->exception();  // retrieved
                    failure_ = c;
                    cancel_pending({});
                }
            }
        }
        return remaining_ == 0;
    }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        suspend_here(h, at);
    }
    void await_resume() {
        if (task_) resume_here();
    }
    TaskCore* waiting() const noexcept { return task_; }

    /// The awaiting task was cancelled while gather waited.
    bool cancel_requested() const noexcept { return cancel_requested_; }
    /// The first child that failed or was cancelled (never set when collecting).
    CompletionCore* failure() const noexcept { return failure_; }

    void child_done(GatherNode* node) {
        const bool last = --remaining_ == 0;
        if (!collect_ && failed(node->core)) {
            // Only the first failure is raised; the others count as
            // retrieved (asyncio marks them so too), not "never retrieved".
            if (node->core->state() == CompletionState::failed) (void)node->core->exception();
            if (!failure_) {
                failure_ = node->core;
                cancel_pending({});
            }
        }
        if (last && task_) schedule_on(task_->loop(), task_);
    }

private:
    GatherNode& node(std::size_t i) const noexcept {
        return *std::launder(reinterpret_cast<GatherNode*>(first_ + i * stride_));
    }
    static bool failed(const CompletionCore* c) noexcept {
        return c->state() == CompletionState::failed || c->state() == CompletionState::cancelled;
    }
    /// Cancels every child still running. Cancelling a future finishes it
    /// synchronously, which re-enters child_done(): iterate by index.
    void cancel_pending(const std::string& msg) {
        for (std::size_t i = 0; i < n_; ++i)
            if (node(i).linked()) cancel_core(node(i).core, msg);
    }
    bool cancel_wait() override {
        if (remaining_ == 0) return false;  // every child done: the task is already queued
        cancel_requested_ = true;
        cancel_pending(task_->cancel_message());
        return true;  // keep waiting; child_done() reschedules the task
    }

    std::byte* first_;
    std::size_t stride_;
    std::size_t n_;
    std::size_t remaining_ = 0;
    CompletionCore* failure_ = nullptr;
    bool collect_;
    bool cancel_requested_ = false;
};

inline void GatherNode::wake() { owner->child_done(this); }
inline TaskCore* GatherNode::waiting_task() const noexcept { return owner->waiting(); }

/// After the wait: raise what gather must raise, if anything.
inline void gather_check(const GatherWait& w, TaskCore& self) {
    if (w.cancel_requested()) throw CancelledError(self.cancel_message());
    if (CompletionCore* f = w.failure()) {
        if (f->cancelled()) f->throw_cancelled();
        std::rethrow_exception(f->exception());
    }
}

template <bool Collect, class Child>
using gather_element_t = std::conditional_t<Collect, Result<typename Child::value_type>,
                                            monostate_if_void_t<typename Child::value_type>>;

template <bool Collect, class Child>
gather_element_t<Collect, Child> gather_take(Child& c) {
    if constexpr (Collect)
        return child_result(c);
    else
        return c.take();
}

template <bool Collect, class... Children>
Coro<std::tuple<gather_element_t<Collect, Children>...>> gather_tuple(Children... children) {
    constexpr std::size_t N = sizeof...(Children);
    if constexpr (N == 0) {
        co_return std::tuple<>{};
    } else {
        TaskCore& self = current_task_core("aio::gather");
        EventLoop& loop = *self.loop();
        (children.start(loop), ...);
        GatherNode nodes[N];
        std::size_t i = 0;
        ((nodes[i++].core = children.core()), ...);
        GatherWait wait(nodes, N, Collect);
        co_await wait;
        gather_check(wait, self);
        co_return std::tuple<gather_element_t<Collect, Children>...>{gather_take<Collect>(children)...};
    }
}

/// A child of the range form and its wait node, side by side: one
/// allocation for the whole range, one pass over memory.
template <class Child>
struct GatherSlot {
    std::optional<Child> child;  // optional: a Future has no empty state
    GatherNode node;
};

template <bool Collect, class Child>
Coro<std::vector<gather_element_t<Collect, Child>>> gather_vector(std::unique_ptr<GatherSlot<Child>[]> slots,
                                                                  std::size_t n) {
    std::vector<gather_element_t<Collect, Child>> out;
    if (n == 0) co_return out;
    TaskCore& self = current_task_core("aio::gather");
    EventLoop& loop = *self.loop();
    for (std::size_t i = 0; i < n; ++i) {
        slots[i].child->start(loop);
        slots[i].node.core = slots[i].child->core();
    }
    GatherWait wait(&slots[0].node, n, Collect, sizeof(GatherSlot<Child>));
    co_await wait;
    gather_check(wait, self);
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(gather_take<Collect>(*slots[i].child));
    co_return out;
}

template <class R>
concept child_range = std::ranges::input_range<R> && child_argument<std::ranges::range_reference_t<R>> &&
                      !awaitable_operand<std::remove_cvref_t<R>>;

template <bool Collect, class R>
auto gather_range(R&& range) {
    using Elem = std::ranges::range_value_t<R>;
    constexpr bool owned = !std::is_lvalue_reference_v<R>;
    static_assert(owned || !is_coro_v<Elem>, "gather over Coros: pass the container as an rvalue (std::move it)");
    using Child = child_t<std::conditional_t<owned, Elem&&, const Elem&>>;
    using Slot = GatherSlot<Child>;
    auto child_of = [](auto&& e) {
        if constexpr (owned)
            return make_child(std::move(e));
        else
            return make_child(static_cast<const Elem&>(e));
    };
    std::unique_ptr<Slot[]> slots;
    std::size_t n = 0;
    if constexpr (std::ranges::sized_range<R>) {
        slots.reset(new Slot[std::ranges::size(range)]);
        for (auto&& e : range) slots[n++].child.emplace(child_of(e));
    } else {
        std::vector<Child> children;
        for (auto&& e : range) children.push_back(child_of(e));
        slots.reset(new Slot[children.size()]);
        for (auto& c : children) slots[n++].child.emplace(std::move(c));
    }
    return gather_vector<Collect, Child>(std::move(slots), n);
}

}  // namespace detail

/// Runs the awaitables concurrently and returns their results in argument
/// order as a std::tuple (see the header comment for failure semantics).
template <class... Aws>
    requires(detail::child_argument<Aws> && ...)
auto gather(Aws&&... aws) {
    return detail::gather_tuple<false>(detail::make_child(std::forward<Aws>(aws))...);
}

/// As gather(aws...), but each element is an aio::Result<T> and no failure
/// cancels a sibling.
template <class... Aws>
    requires(detail::child_argument<Aws> && ...)
auto gather(return_exceptions_t, Aws&&... aws) {
    return detail::gather_tuple<true>(detail::make_child(std::forward<Aws>(aws))...);
}

/// Range form: a std::vector of results in the range's order. A range of
/// Coros must be passed as an rvalue; a range of tasks or futures may be
/// an lvalue (the handles are copied, results copied).
template <class R>
    requires detail::child_range<R>
auto gather(R&& range) {
    return detail::gather_range<false>(std::forward<R>(range));
}

template <class R>
    requires detail::child_range<R>
auto gather(return_exceptions_t, R&& range) {
    return detail::gather_range<true>(std::forward<R>(range));
}

}  // namespace aio
