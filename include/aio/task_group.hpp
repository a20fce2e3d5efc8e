// aio/task_group.hpp — aio::TaskGroup and aio::task_group, asyncio.TaskGroup
// (`async with asyncio.TaskGroup() as tg:`).
//
//   co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<> {
//       auto a = tg.create_task(call_llm("hello"));
//       auto b = tg.create_task(search_db("python"));
//       co_return;
//   });   // here every child has finished; a.result(), b.result() are ready
//
// task_group(body) runs body(tg) in the calling task, then waits until every
// child created with tg.create_task() has finished, and only then returns
// (body's co_return value, if any) or throws. The same holds when the body
// throws: task_group never leaves while a child runs.
//
// Failure semantics (asyncio's, Python 3.12):
// - The first child that fails (any exception except CancelledError) makes
//   the group abort: every other child is cancelled, and so is the body (it
//   sees CancelledError at its current suspension point). When all have
//   finished, the failures — in the order they happened, the body's own
//   exception last — are thrown as one aio::ExceptionGroup. A child that
//   ends cancelled is not a failure.
// - An exception thrown by the body aborts the group the same way and is
//   part of the ExceptionGroup.
// - Cancelling the task that runs the group (from outside) cancels the body
//   and the children; when they have finished, CancelledError propagates —
//   not an ExceptionGroup. If children failed meanwhile, their failures win
//   (ExceptionGroup) and the outside cancellation stays pending on the task
//   (its next suspension point raises CancelledError).
// - The group's own cancellation of the body is taken back (uncancel()) when
//   the group exits, so an enclosing aio::timeout or task_group sees only its
//   own cancellations.
// - create_task() on a group that is aborting or finished throws
//   aio::RuntimeError (the Coro passed is destroyed without running).
//
// Cancellation at `co_await aio::task_group(...)`: leaves nothing running;
// every child has finished (most of them cancelled) when CancelledError
// leaves the group.
//
// Lifetimes: body and each callable given to create_task() are moved into
// the frame that runs them, so `tg.create_task([x]() -> aio::Coro<> {...})`
// is safe. Children may capture references to the body's caller's locals:
// they cannot outlive the task_group call.
//
// Allocation: a child costs its task (and frame); the group's bookkeeping
// per child is a node from a slab (4 inline, then chunks of 16, 32, ...,
// 1024 nodes that a thread keeps for the next group), recycled as children
// finish: no allocation per child.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/detail/combinators.hpp"
#include "aio/exception_group.hpp"

namespace aio {

/// asyncio.TaskGroup as an object. Prefer aio::task_group(body), which
/// cannot forget to wait. Used directly:
///
///   aio::TaskGroup tg;                     // entered: bound to this task
///   tg.create_task(work());
///   co_await tg.join();                    // __aexit__ without error
///
/// and, to give the group the body's exception as `async with` does:
///
///   std::exception_ptr err;
///   try { ...; } catch (...) { err = std::current_exception(); }
///   co_await tg.exit(err);                 // rethrows as the rules say
///
/// Destroying a TaskGroup that was not exited while children still run (an
/// exception skipped join()) cancels those children and detaches them: they
/// finish on their own later, and any failure of theirs goes to the loop's
/// exception handler. A destroyed group does not wait — which is why the
/// lambda form exists. At loop close the children are left to the loop.
class TaskGroup {
public:
    /// Enters the group: binds it to the current task (RuntimeError outside
    /// a task).
    TaskGroup();
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    ~TaskGroup();

    /// Starts `coro` as a child task (asyncio's tg.create_task).
    template <class T>
    Task<T> create_task(Coro<T> coro, std::string_view name = {}) {
        if (const char* refusal = spawn_refusal()) {
            detail::discard_unrun(std::move(coro));
            throw RuntimeError(refusal);
        }
        Task<T> task = loop_->create_task(std::move(coro), name);
        adopt(task.core());
        return task;
    }
    /// Runs `fn()` as a child task; the callable lives in the task's frame.
    template <class F>
        requires std::invocable<F&> && detail::is_coro_v<std::invoke_result_t<F&>>
    auto create_task(F fn, std::string_view name = {}) {
        return create_task(detail::invoke_in_frame(std::move(fn)), name);
    }

    /// Waits for every child; the group's exit when the body succeeded.
    Coro<> join() { return exit(nullptr); }
    /// The group's exit after the body ended with `body_error` (null for
    /// success): waits for every child, then throws per the rules above.
    Coro<> exit(std::exception_ptr body_error);

    /// Children still running.
    std::size_t size() const noexcept { return active_; }
    /// A child failed, the body failed or the task was cancelled: children
    /// are being cancelled and create_task() is refused.
    bool aborting() const noexcept { return aborting_; }

private:
    struct Child final : detail::WaitNode {
        TaskGroup* group = nullptr;
        detail::TaskCore* task = nullptr;  // while running; alive: the loop holds it
        Child* next_free = nullptr;
        void wake() override { group->on_child_done(this); }
        // The parent waits for its children ("awaited by" in call graphs).
        detail::TaskCore* waiting_task() const noexcept override { return group->parent_; }
    };
    struct ChunkHeader;  // a slab of Child nodes (task_group.cpp)
    class JoinWait;

    /// Why create_task() is refused now, or null.
    const char* spawn_refusal() const noexcept;
    void adopt(detail::TaskCore* task);
    Child* acquire();
    void on_child_done(Child* child);
    void abort();
    template <class F>
    void for_each_child(F&& f);

    static constexpr std::size_t kInline = 4;

    detail::TaskCore* parent_;
    EventLoop* loop_;
    std::vector<std::exception_ptr> errors_;
    Child inline_[kInline];
    ChunkHeader* chunks_ = nullptr;  // newest first
    Child* free_ = nullptr;
    std::size_t active_ = 0;
    JoinWait* joiner_ = nullptr;
    bool exiting_ = false;
    bool exited_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
};

namespace detail {
template <class F>
using group_body_value_t = typename std::invoke_result_t<F&, TaskGroup&>::value_type;

template <class F>
Coro<group_body_value_t<F>> run_task_group(F body) {
    using R = group_body_value_t<F>;
    TaskGroup group;
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
        try {
            Coro<> inner = body(group);
            co_await std::move(inner);
        } catch (...) {
            error = std::current_exception();
        }
        co_await group.exit(error);
        if (error) std::rethrow_exception(error);
    } else {
        std::optional<R> value;
        try {
            Coro<R> inner = body(group);
            R v = co_await std::move(inner);
            value.emplace(std::move(v));
        } catch (...) {
            error = std::current_exception();
        }
        co_await group.exit(error);
        if (error) std::rethrow_exception(error);
        co_return std::move(*value);
    }
}
}  // namespace detail

/// Runs `body(tg)` and returns (its value, if any) only after every child
/// of `tg` has finished; see the header comment for failures. `body` is a
/// callable taking aio::TaskGroup& and returning a Coro; it is moved into
/// the frame that runs it.
template <class F>
    requires std::invocable<F&, TaskGroup&> && detail::is_coro_v<std::invoke_result_t<F&, TaskGroup&>>
Coro<detail::group_body_value_t<F>> task_group(F body) {
    return detail::run_task_group(std::move(body));
}

}  // namespace aio
