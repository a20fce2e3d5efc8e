// aio/detail/completion.hpp — the waiting side of futures and tasks: the
// awaiter through which a task suspends until one finishes, and done
// callbacks. Shared by Future<T> and Task<T>.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>

#include "aio/detail/runtime.hpp"

namespace aio {

/// Identifies a done callback for remove_done_callback(). C++ callables have
/// no equality, so the id stands in for asyncio's "remove by function".
struct CallbackId {
    const void* node = nullptr;
};

namespace detail {

void schedule_on(EventLoop* loop, Runnable* r);

/// A task suspended until `core` finishes. The awaiter lives in the awaiting
/// coroutine's frame and unlinks itself if that frame is destroyed first.
class CompletionWait : public Suspension, public WaitNode {
public:
    explicit CompletionWait(CompletionCore* core) noexcept : core_(core) {}
    CompletionWait(CompletionWait&& o) noexcept : core_(o.core_) {}
    ~CompletionWait() {
        if (linked()) core_->remove_waiter(this);
    }

    bool await_ready() const noexcept { return core_->done(); }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        if (core_ == static_cast<CompletionCore*>(tls_context.task))
            throw RuntimeError("a task cannot await itself (it would never finish)");
        if (core_->loop() != tls_context.loop)
            throw RuntimeError("awaiting a future or task that belongs to a different event loop");
        core_->add_waiter(this);
        suspend_here(h, at);
    }

protected:
    /// Call first in await_resume: delivers a cancellation of this task.
    void resume_wait() {
        if (task_) resume_here();
    }
    void wake() override { schedule_on(task_->loop(), task_); }
    TaskCore* waiting_task() const noexcept override { return task_; }

    CompletionCore* core_;
};

/// A done callback: queued on the loop (as asyncio's call_soon) when the
/// object finishes, called with a handle to it.
template <class HandleT, class F>
class DoneCallback final : public HandleBase, public WaitNode {
public:
    DoneCallback(CompletionCore* core, F fn) : core_(core), fn_(std::move(fn)) {}

    void wake() override {
        core_->add_ref();  // the callback gets a live handle when it runs
        holds_core_ = true;
        schedule_on(core_->loop(), this);  // the list's reference moves to the queue
    }
    void abandon() noexcept override { release(); }
    ~DoneCallback() override {
        if (holds_core_) core_->release();
    }

private:
    void invoke() override {
        HandleT handle = HandleT::from_core(core_);
        if constexpr (std::is_invocable_v<F&, HandleT&>)
            std::invoke(fn_, handle);
        else
            std::invoke(fn_);
    }
    CompletionCore* core_;
    bool holds_core_ = false;
    F fn_;
};

template <class HandleT, class F>
CallbackId add_done_callback(CompletionCore* core, F&& fn) {
    using Node = DoneCallback<HandleT, std::decay_t<F>>;
    static_assert(std::is_invocable_v<std::decay_t<F>&, HandleT&> || std::is_invocable_v<std::decay_t<F>&>,
                  "a done callback takes the future/task (by reference) or nothing");
    auto* node = new Node(core, std::forward<F>(fn));
    if (core->done()) {
        node->wake();
    } else {
        core->add_waiter(node);
    }
    return CallbackId{static_cast<WaitNode*>(node)};
}

/// Removes a callback that has not been queued yet; returns 1 if removed.
std::size_t remove_done_callback(CompletionCore* core, CallbackId id) noexcept;

}  // namespace detail
}  // namespace aio
