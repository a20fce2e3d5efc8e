// aio/handle.hpp — handles to scheduled callbacks (asyncio.Handle and
// asyncio.TimerHandle). A handle is a cheap shared reference: dropping it does
// not cancel the callback; cancel() does.
#pragma once

#include <chrono>

#include "aio/detail/runtime.hpp"

namespace aio {

using Clock = std::chrono::steady_clock;

/// A callback scheduled with call_soon / call_soon_threadsafe / add_reader.
class Handle {
public:
    Handle() = default;
    explicit Handle(detail::IntrusivePtr<detail::HandleBase> impl) : impl_(std::move(impl)) {}

    /// Prevents the callback from running if it has not run yet.
    void cancel() noexcept {
        if (impl_) impl_->cancel();
    }
    bool cancelled() const noexcept { return impl_ && impl_->cancelled(); }
    explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

protected:
    detail::IntrusivePtr<detail::HandleBase> impl_;
};

namespace detail {
/// A callback in the timer heap (call_later / call_at).
class TimerHandleBase : public HandleBase, public TimerNode {
public:
    explicit TimerHandleBase(EventLoop* loop) : loop_(loop) {}
    void cancel() noexcept override;
    void fire(EventLoop& loop) override;
    void loop_closed() noexcept override { release(); }

private:
    EventLoop* loop_;
};

template <class F>
class TimerCallback final : public TimerHandleBase {
public:
    TimerCallback(EventLoop* loop, F f) : TimerHandleBase(loop), fn_(std::move(f)) {}

private:
    void invoke() override { fn_(); }
    F fn_;
};
}  // namespace detail

/// A callback scheduled for a point in time (call_later / call_at).
class TimerHandle : public Handle {
public:
    TimerHandle() = default;
    explicit TimerHandle(detail::IntrusivePtr<detail::TimerHandleBase> impl)
        : Handle(detail::IntrusivePtr<detail::HandleBase>(impl.get())), timer_(impl.get()) {}

    /// The loop time at which the callback is scheduled to run.
    Clock::time_point when() const noexcept {
        return Clock::time_point(std::chrono::nanoseconds(timer_ ? timer_->when_ns : 0));
    }

private:
    detail::TimerHandleBase* timer_ = nullptr;  // kept alive by impl_
};

}  // namespace aio
