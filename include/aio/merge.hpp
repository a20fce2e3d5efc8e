// aio/merge.hpp — aio::merge: one stream of items from several async
// generators, in the order they arrive.
//
//     auto events = aio::merge(std::move(generators));          // or merge(g1, g2, g3)
//     while (auto e = co_await events.next()) handle(*e);
//
// The streaming answer to the seed's parallel_agents: each producer runs in
// its own task from the first next() on, and an item is handed to the
// consumer as soon as it is produced, while slower producers still run.
//
// Backpressure: at most `max_buffered` items wait in the merge's buffer
// (default 16); a producer whose item does not fit is suspended at its
// co_yield until the consumer takes one, so a slow consumer slows the
// producers down. Memory: one buffer allocated at start, no allocation per
// item.
//
// Order: items of one producer keep their order; items of different
// producers are interleaved in arrival order.
//
// Stopping early: closing the merged generator (aclose(), aclosing, or the
// consumer leaving it to be destroyed) cancels every producer still running.
// aclose() waits until each producer has finished its cleanup (a producer
// suspended at a co_yield is aclose()d, one inside an await gets a
// CancelledError there), and raises the first error a cleanup raised.
// Destroying the merged generator without aclose() cancels the producers
// too; their cleanup then runs in their own tasks and any error in it goes to
// the loop's exception handler.
//
// Failure: the first producer to throw (CancelledError excepted: a producer
// that ends cancelled just ends, as a TaskGroup child) makes the merge cancel
// the others and wait for their cleanup; next() then rethrows that first
// error. Items still buffered at that moment are dropped (fail fast, as
// TaskGroup). Errors of other producers after the first are passed to the
// loop's exception handler.
//
// Cancellation: next() is a cancellation point while no item is buffered.
// A cancellation of the consumer there stops and cancels the producers, waits
// for their cleanup, and then propagates; a second cancellation during that
// wait stops the wait (the producers finish on their own).
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "aio/async_generator.hpp"
#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/task.hpp"

namespace aio {

namespace detail {

inline void report_to_loop(const char* message, const std::exception_ptr& e) noexcept {
    try {
        if (EventLoop* loop = tls_context.loop) {
            std::string task;
            if (tls_context.task) task = tls_context.task->name();
            loop->call_exception_handler({message, e, std::move(task)});
        }
    } catch (...) {
    }
}

template <class T>
class MergePark;
template <class T>
class MergePut;

/// The state shared by the merged generator and its producer tasks: a
/// bounded ring buffer, the producers waiting for room, the consumer waiting
/// for an item, and the first failure.
template <class T>
class MergeState {
public:
    explicit MergeState(std::size_t capacity)
        : slots_(std::make_unique<std::optional<T>[]>(capacity)), cap_(capacity) {}
    MergeState(const MergeState&) = delete;
    MergeState& operator=(const MergeState&) = delete;
    ~MergeState() = default;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    bool has_item() const noexcept { return count_ > 0; }

    /// Takes the oldest item; lets the first waiting producer put its own.
    T pop() {
        T v = std::move(*slots_[head_]);
        slots_[head_].reset();
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        --count_;
        if (WaitNode* n = putters_.pop_front()) n->wake();
        return v;
    }

    /// Wakes the consumer if it waits.
    void notify() noexcept;

    /// Cancels every producer task still running (but the calling one).
    /// Only once: a second cancel() would raise a second CancelledError in
    /// the middle of a producer's cleanup.
    void stop_all() {
        if (stopping) return;
        stopping = true;
        for (Task<void>& t : pumps)
            if (!t.done() && t.core() != tls_context.task) t.cancel();
    }

    /// A producer task is about to end with `failure` (null: it finished).
    void pump_finished(std::exception_ptr failure) {
        --active;
        if (failure && !is_cancellation_ptr(failure)) {
            if (abandoned) {
                report_to_loop("aio::merge: a producer failed after the merged generator was destroyed", failure);
            } else if (!error) {
                error = std::move(failure);
                stop_all();
            } else {
                report_to_loop("aio::merge: a producer failed after another producer's failure", failure);
            }
        }
        notify();
    }

    std::size_t active = 0;         // producer tasks not finished
    std::exception_ptr error;       // the first producer failure
    bool error_taken = false;       // error was rethrown to the consumer
    bool stopping = false;          // producers are being cancelled
    bool abandoned = false;         // the merged generator is gone
    std::vector<Task<void>> pumps;  // one task per producer

private:
    friend class MergePark<T>;
    friend class MergePut<T>;

    void push(T&& v) {
        std::size_t tail = head_ + count_;
        if (tail >= cap_) tail -= cap_;
        slots_[tail].emplace(std::move(v));
        ++count_;
    }

    std::unique_ptr<std::optional<T>[]> slots_;
    std::size_t cap_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    WaitList putters_;                // MergePut awaiters waiting for room
    MergePark<T>* parked_ = nullptr;  // the consumer, waiting for an event
    std::uint32_t refs_ = 1;
};

/// The consumer waits for an item, a producer's end or a failure.
template <class T>
class MergePark final : public Suspension {
public:
    explicit MergePark(MergeState<T>* st) noexcept : st_(st) {}
    // g++ wants awaiters movable; a move happens only before the await.
    MergePark(MergePark&& o) noexcept : st_(o.st_) {}
    ~MergePark() {
        if (st_->parked_ == this) st_->parked_ = nullptr;
    }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        st_->parked_ = this;
        suspend_here(h, at);
    }
    void await_resume() {
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }
    void wake() noexcept { schedule_on(task_->loop(), task_); }

private:
    bool cancel_wait() override {
        if (st_->parked_ != this) return false;  // already woken
        st_->parked_ = nullptr;
        cancelled_ = true;
        schedule_on(task_->loop(), task_);
        return true;
    }
    MergeState<T>* st_;
    bool cancelled_ = false;
};

template <class T>
void MergeState<T>::notify() noexcept {
    if (MergePark<T>* p = std::exchange(parked_, nullptr)) p->wake();
}

/// A producer hands an item over, waiting while the buffer is full.
template <class T>
class MergePut final : public Suspension, public WaitNode {
public:
    MergePut(MergeState<T>* st, T* item) noexcept : st_(st), item_(item) {}
    MergePut(MergePut&& o) noexcept : st_(o.st_), item_(o.item_) {}
    ~MergePut() {
        if (linked()) st_->putters_.remove(this);
    }
    bool await_ready() {
        if (st_->count_ < st_->cap_ && st_->putters_.empty()) {
            st_->push(std::move(*item_));
            st_->notify();
            return true;
        }
        return false;
    }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        st_->putters_.push_back(this);
        suspend_here(h, at);
    }
    void await_resume() {
        if (!task_) return;  // never suspended
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }
    /// The consumer made room: our item goes in, we go on.
    void wake() override {
        st_->push(std::move(*item_));
        schedule_on(task_->loop(), task_);
    }

private:
    bool cancel_wait() override {
        if (!linked()) return false;  // the item was taken already
        st_->putters_.remove(this);
        cancelled_ = true;
        schedule_on(task_->loop(), task_);
        return true;
    }
    MergeState<T>* st_;
    T* item_;
    bool cancelled_ = false;
};

/// One producer's task: pulls items and puts them into the buffer; closes
/// the producer when stopped while it is suspended at a co_yield.
template <class T>
Coro<> merge_pump(IntrusivePtr<MergeState<T>> st, AsyncGenerator<T> gen) {
    std::exception_ptr failure;
    try {
        while (!st->stopping) {
            std::optional<T> item = co_await gen.next();
            if (!item) break;
            co_await MergePut<T>(st.get(), &*item);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (gen.started() && !gen.done()) {
        // Suspended at a co_yield: run its cleanup (no co_await in a catch).
        std::exception_ptr close_failure;
        try {
            co_await gen.aclose();
        } catch (...) {
            close_failure = std::current_exception();
        }
        if (close_failure) {
            if (failure && !is_cancellation_ptr(failure))
                report_to_loop("aio::merge: a producer's cleanup failed after the producer failed", failure);
            failure = std::move(close_failure);
        }
    }
    st->pump_finished(std::move(failure));
}

/// Cancels the producers if the merged generator's frame is destroyed
/// without running its cleanup.
template <class T>
struct MergeGuard {
    MergeState<T>* st;
    bool armed = true;
    ~MergeGuard() {
        if (!armed) return;
        st->abandoned = true;
        if (st->error && !st->error_taken)
            report_to_loop("aio::merge: a producer failed after the merged generator was destroyed", st->error);
        // Outside a running loop (loop.close() destroying frames) the
        // producer tasks are being destroyed too: leave them alone.
        if (tls_context.loop) st->stop_all();
    }
};

template <class T>
AsyncGenerator<T> merge_impl(std::vector<AsyncGenerator<T>> sources, std::size_t max_buffered) {
    EventLoop& loop = get_running_loop();
    IntrusivePtr<MergeState<T>> st = IntrusivePtr<MergeState<T>>::adopt(new MergeState<T>(max_buffered));
    MergeGuard<T> guard{st.get()};
    st->active = sources.size();
    st->pumps.reserve(sources.size());
    for (AsyncGenerator<T>& g : sources) st->pumps.push_back(loop.create_task(merge_pump<T>(st, std::move(g))));
    sources.clear();

    std::exception_ptr failure;
    try {
        while (true) {
            while (!st->has_item() && st->active > 0 && !st->error) {
                co_await MergePark<T>(st.get());
            }
            if (st->error) {
                st->error_taken = true;
                std::rethrow_exception(st->error);
            }
            if (!st->has_item()) break;  // every producer finished
            T item = st->pop();
            co_yield std::move(item);
        }
    } catch (...) {
        failure = std::current_exception();
    }

    // Stop the producers still running and wait for their cleanup.
    st->stop_all();
    std::exception_ptr wait_failure;
    try {
        while (st->active > 0) {
            co_await MergePark<T>(st.get());
        }
    } catch (...) {
        wait_failure = std::current_exception();
    }
    guard.armed = false;
    if (wait_failure) {
        // Cancelled while waiting: the producers finish on their own.
        st->abandoned = true;
        if (failure && !is_generator_exit(failure) && !is_cancellation_ptr(failure))
            report_to_loop("aio::merge: error superseded by a cancellation during cleanup", failure);
        std::rethrow_exception(wait_failure);
    }
    if (st->error && !st->error_taken) {
        st->error_taken = true;
        // A producer's cleanup failed while we were closing: aclose() raises it.
        if (!failure || is_generator_exit(failure)) std::rethrow_exception(st->error);
        report_to_loop("aio::merge: a producer failed while the merged generator was stopping", st->error);
    }
    if (failure) std::rethrow_exception(failure);
}

}  // namespace detail

/// Items from every generator in `sources`, as they arrive (see the header
/// comment). `max_buffered` (at least 1) bounds the items produced but not
/// yet consumed. Needs a running loop when first iterated.
template <class T>
AsyncGenerator<T> merge(std::vector<AsyncGenerator<T>> sources, std::size_t max_buffered = 16) {
    if (max_buffered == 0) throw std::invalid_argument("aio::merge: max_buffered must be at least 1");
    return detail::merge_impl<T>(std::move(sources), max_buffered);
}

/// merge(g1, g2, ...) with the default buffer.
template <class T, class... More>
    requires(std::same_as<More, AsyncGenerator<T>> && ...)
AsyncGenerator<T> merge(AsyncGenerator<T> first, More... more) {
    std::vector<AsyncGenerator<T>> sources;
    sources.reserve(1 + sizeof...(More));
    sources.push_back(std::move(first));
    (sources.push_back(std::move(more)), ...);
    return merge(std::move(sources));
}

}  // namespace aio
