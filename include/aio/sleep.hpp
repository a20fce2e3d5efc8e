// aio/sleep.hpp — aio::sleep, asyncio.sleep.
//
// `co_await aio::sleep(d)` suspends the task for at least `d`.
// `co_await aio::sleep(0s)` yields exactly once: the task goes to the back
// of the ready queue and runs again in the next loop iteration.
//
// Cancellation: sleep is always a suspension point; a cancelled sleep removes
// its timer (nothing is left in the heap) and raises CancelledError.
#pragma once

#include <chrono>
#include <type_traits>

#include "aio/event_loop.hpp"

namespace aio {
namespace detail {

class SleepAwaiter : public Suspension, public TimerNode {
public:
    // Until the await starts, when_ns holds the delay; it becomes the
    // deadline when the task suspends (one field: this lives in every
    // sleeping frame).
    explicit SleepAwaiter(Clock::duration delay) noexcept { when_ns = delay.count(); }
    SleepAwaiter(SleepAwaiter&& o) noexcept { when_ns = o.when_ns; }
    ~SleepAwaiter() {
        if (armed()) task_->loop()->disarm_timer(this);
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        EventLoop& loop = running_loop_for("aio::sleep");
        static_assert(std::is_same_v<Clock::duration, std::chrono::nanoseconds>);
        if (when_ns <= 0) {
            suspend_here(h, at);
            loop.schedule(task_);
            return;
        }
        when_ns += EventLoop::to_ns(loop.time());
        loop.arm_timer(this);
        suspend_here(h, at);
    }
    void await_resume() {
        resume_here();
        if (heap_index == cancelled) throw CancelledError(task_->cancel_message());
    }

private:
    void fire(EventLoop& loop) override { loop.schedule(task_); }
    bool cancel_wait() override {
        if (!armed()) return false;  // already due or a sleep(0): the task is queued
        task_->loop()->disarm_timer(this);
        heap_index = cancelled;
        task_->loop()->schedule(task_);
        return true;
    }
};

}  // namespace detail

/// Suspends the calling task for `delay` (negative counts as zero).
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
    return detail::SleepAwaiter(std::chrono::ceil<Clock::duration>(delay));
}
/// Seconds as a double, as asyncio.sleep(0.5).
inline detail::SleepAwaiter sleep(double seconds) noexcept { return sleep(std::chrono::duration<double>(seconds)); }

}  // namespace aio
