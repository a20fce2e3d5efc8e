#include "aio/timeout.hpp"

#include <cassert>

namespace aio {

Timeout::~Timeout() {
    if (timer_.armed()) task_->loop()->disarm_timer(&timer_);
}

void Timeout::enter() {
    if (state_ != State::created) throw RuntimeError("aio::Timeout has already been entered");
    task_ = &detail::current_task_core("aio::timeout");
    state_ = State::entered;
    cancelling_ = task_->cancelling();
    timer_.self = this;
    arm();
}

void Timeout::reschedule(std::optional<Clock::time_point> when) {
    switch (state_) {
        case State::entered:
            break;
        case State::created:
            throw RuntimeError("aio::Timeout has not been entered");
        case State::expiring:
        case State::expired:
            throw RuntimeError("Cannot change state of an expired aio::Timeout");
        case State::exited:
            throw RuntimeError("Cannot change state of a finished aio::Timeout");
    }
    when_ = when;
    arm();
}

void Timeout::arm() {
    EventLoop& loop = *task_->loop();
    if (timer_.armed()) loop.disarm_timer(&timer_);
    if (!when_) return;
    timer_.when_ns = EventLoop::to_ns(*when_);
    loop.arm_timer(&timer_);  // a deadline in the past fires next iteration
}

void Timeout::on_timeout() {
    assert(state_ == State::entered);
    state_ = State::expiring;
    task_->cancel({});
}

void Timeout::exit(std::exception_ptr error) {
    if (state_ != State::entered && state_ != State::expiring)
        throw RuntimeError("aio::Timeout::exit() without a matching enter()");
    if (timer_.armed()) task_->loop()->disarm_timer(&timer_);
    if (state_ == State::expiring) {
        state_ = State::expired;
        // Ours to convert only if no other cancellation is pending.
        if (task_->uncancel() <= cancelling_ && error && detail::is_cancellation_ptr(error)) throw TimeoutError();
    } else {
        state_ = State::exited;
    }
    if (error) std::rethrow_exception(error);
}

namespace detail {
void throw_wait_for_timeout() { throw TimeoutError(); }
}  // namespace detail

}  // namespace aio
