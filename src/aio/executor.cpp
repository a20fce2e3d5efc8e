// ThreadPoolExecutor, ConcurrentFuture's state and the loop's default
// executor (issue 6).
#include "aio/executor.hpp"

#include <utility>

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>

#include "aio/log.hpp"

namespace aio {

namespace detail {

namespace {
void report_callback_error() {
    log(LogLevel::error, "Exception in a ConcurrentFuture done callback\n  exception: " +
                             describe_exception(std::current_exception()));
}
}  // namespace

// --- ConcurrentStateBase -------------------------------------------------------

ConcurrentStateBase::Status ConcurrentStateBase::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

bool ConcurrentStateBase::done() const { return status() >= Status::finished; }

bool ConcurrentStateBase::set_running() {
    std::lock_guard lock(mutex_);
    if (status_ == Status::cancelled) return false;
    if (status_ != Status::pending) throw InvalidStateError("ConcurrentFuture: set_running on a future that is not pending");
    status_ = Status::running;
    return true;
}

bool ConcurrentStateBase::cancel(std::string message) {
    std::unique_lock lock(mutex_);
    // As concurrent.futures: true when cancelled now or already.
    if (status_ == Status::cancelled) return true;
    if (status_ != Status::pending) return false;
    cancel_message_ = std::move(message);
    std::string hook_message = cancel_message_;
    auto hook = std::exchange(on_cancel, nullptr);
    finish(lock, Status::cancelled);  // unlocks
    // The hook posts to the loop (call_soon_threadsafe takes the loop's lock):
    // never call it under our own lock, or close() can deadlock against us.
    if (hook) {
        try {
            hook(hook_message);
        } catch (...) {
        }
    }
    return true;
}

bool ConcurrentStateBase::set_exception(std::exception_ptr e) {
    std::unique_lock lock(mutex_);
    if (status_ >= Status::finished) return false;
    error_ = std::move(e);
    finish(lock, Status::failed);
    return true;
}

void ConcurrentStateBase::clear_cancel_hook() {
    std::function<void(const std::string&)> hook;
    {
        std::lock_guard lock(mutex_);
        hook.swap(on_cancel);
    }
}

void ConcurrentStateBase::finish(std::unique_lock<std::mutex>& lock, Status s) {
    status_ = s;
    std::vector<std::function<void()>> callbacks;
    callbacks.swap(callbacks_);
    lock.unlock();
    cv_.notify_all();
    for (auto& cb : callbacks) {
        try {
            cb();
        } catch (...) {
            report_callback_error();
        }
    }
}

void ConcurrentStateBase::add_callback(std::function<void()> cb) {
    {
        std::lock_guard lock(mutex_);
        if (status_ < Status::finished) {
            callbacks_.push_back(std::move(cb));
            return;
        }
    }
    try {
        cb();
    } catch (...) {
        report_callback_error();
    }
}

bool ConcurrentStateBase::wait_until(const std::chrono::steady_clock::time_point* deadline) const {
    std::unique_lock lock(mutex_);
    if (status_ >= Status::finished) return true;
    if (completing_loop && tls_context.loop == completing_loop)
        throw RuntimeError(
            "ConcurrentFuture: waiting on the thread of the event loop that completes it would deadlock; "
            "co_await the coroutine instead");
    if (!deadline) {
        cv_.wait(lock, [&] { return status_ >= Status::finished; });
        return true;
    }
    return cv_.wait_until(lock, *deadline, [&] { return status_ >= Status::finished; });
}

void ConcurrentStateBase::check_result() const {
    std::lock_guard lock(mutex_);
    switch (status_) {
        case Status::pending:
        case Status::running:
            throw InvalidStateError("ConcurrentFuture: the result is not ready");
        case Status::cancelled:
            throw CancelledError(cancel_message_);
        case Status::failed:
            std::rethrow_exception(error_);
        case Status::finished:
            return;
    }
}

std::exception_ptr ConcurrentStateBase::exception_after_wait() const {
    std::lock_guard lock(mutex_);
    switch (status_) {
        case Status::pending:
        case Status::running:
            throw InvalidStateError("ConcurrentFuture: the exception is not set yet");
        case Status::cancelled:
            throw CancelledError(cancel_message_);
        case Status::failed:
            return error_;
        case Status::finished:
            return nullptr;
    }
    return nullptr;
}

}  // namespace detail

// --- ThreadPoolExecutor -----------------------------------------------------------

namespace {

// An idle worker polls the queue this long before it sleeps: a loop that
// hands out work in a sequence (await to_thread in a loop) then reaches a
// running worker without a futex wake-up. The poll yields the CPU at each
// turn: on a busy machine the thread that will produce the work may be
// waiting for this very core (measured: pure spinning there is several
// times slower than not spinning at all; yielding spinning is faster).
constexpr auto kSpin = std::chrono::microseconds(50);

/// Every signal a thread can leave to others: all but the synchronous ones
/// (a fault must still kill the process in the thread that caused it).
sigset_t asynchronous_signals() {
    sigset_t set;
    sigfillset(&set);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&set, s);
    return set;
}

}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers, std::string thread_name_prefix)
    : max_workers_(max_workers != 0 ? max_workers
                                    : std::min<std::size_t>(32, std::max(1u, std::thread::hardware_concurrency()) + 4)),
      prefix_(thread_name_prefix.empty() ? "aio-worker" : std::move(thread_name_prefix)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(true); }

std::size_t ThreadPoolExecutor::thread_count() const {
    std::lock_guard lock(mutex_);
    return threads_.size();
}

bool ThreadPoolExecutor::is_shutdown() const {
    std::lock_guard lock(mutex_);
    return shutdown_;
}

void ThreadPoolExecutor::start_worker_locked() {
    // The new thread starts with asynchronous signals blocked, without a
    // window in which one could land on it.
    sigset_t block = asynchronous_signals(), old;
    pthread_sigmask(SIG_BLOCK, &block, &old);
    try {
        const std::size_t index = threads_.size();
        threads_.emplace_back([this, index] { worker_main(index); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ++idle_;
}

void ThreadPoolExecutor::post(detail::WorkItem* item) {
    bool notify = false;
    {
        std::lock_guard lock(mutex_);
        if (shutdown_) throw RuntimeError("ThreadPoolExecutor: cannot schedule new work after shutdown");
        item->next_work = nullptr;
        if (tail_)
            tail_->next_work = item;
        else
            head_ = item;
        tail_ = item;
        const std::size_t queued = queued_.load(std::memory_order_relaxed) + 1;
        queued_.store(queued, std::memory_order_release);
        if (queued > idle_ && threads_.size() < max_workers_) {
            try {
                start_worker_locked();
            } catch (...) {
                if (threads_.empty()) {  // nobody would ever run it
                    head_ = tail_ = nullptr;
                    queued_.store(0, std::memory_order_relaxed);
                    throw;
                }
            }
        }
        // Spinning workers pick work up by themselves; wake a sleeper only
        // for what they cannot take.
        notify = sleepers_ > 0 && queued > spinners_;
    }
    if (notify) cv_.notify_one();
}

void ThreadPoolExecutor::worker_main(std::size_t index) {
    std::string name = prefix_ + "-" + std::to_string(index);
    if (name.size() > 15) name = name.substr(name.size() - 15);  // the kernel's limit
    pthread_setname_np(pthread_self(), name.c_str());

    std::unique_lock lock(mutex_);
    for (;;) {
        if (detail::WorkItem* item = head_) {
            head_ = item->next_work;
            if (!head_) tail_ = nullptr;
            queued_.store(queued_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
            --idle_;
            lock.unlock();
            item->run();
            lock.lock();
            ++idle_;
            // One idle worker at a time polls the queue for a moment before
            // sleeping (more would only steal cores from the loop).
            const bool spin = spinners_ == 0 && !shutdown_;
            if (spin) ++spinners_;
            lock.unlock();
            item->complete();  // idle first, then publish: see WorkItem
            if (spin) {
                const auto until = std::chrono::steady_clock::now() + kSpin;
                while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until)
                    sched_yield();
            }
            lock.lock();
            if (spin) --spinners_;
            continue;
        }
        if (shutdown_) break;
        ++sleepers_;
        cv_.wait(lock);
        --sleepers_;
    }
    --idle_;
}

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) {
    detail::WorkItem* cancelled = nullptr;
    {
        std::lock_guard lock(mutex_);
        shutdown_ = true;
        if (cancel_futures) {
            cancelled = head_;
            head_ = tail_ = nullptr;
            queued_.store(0, std::memory_order_relaxed);
        }
    }
    cv_.notify_all();
    while (cancelled) {
        detail::WorkItem* next = cancelled->next_work;
        cancelled->discard();
        cancelled = next;
    }
    if (!wait) return;
    std::lock_guard join_lock(join_mutex_);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
    }
    const auto self = std::this_thread::get_id();
    std::vector<std::thread> keep;
    for (std::thread& t : threads) {
        if (t.get_id() == self)
            keep.push_back(std::move(t));  // a worker shutting its own pool down
        else
            t.join();
    }
    if (!keep.empty()) {
        std::lock_guard lock(mutex_);
        for (std::thread& t : keep) threads_.push_back(std::move(t));
    }
}

// --- the loop's default executor ------------------------------------------------

ThreadPoolExecutor& EventLoop::default_executor() {
    if (default_executor_shut_down_) throw RuntimeError("Executor shutdown has been called");
    if (!default_executor_) default_executor_ = std::make_shared<ThreadPoolExecutor>(0, "aio-default");
    return *default_executor_;
}

void EventLoop::set_default_executor(std::shared_ptr<ThreadPoolExecutor> executor) {
    default_executor_ = std::move(executor);
}

Coro<> EventLoop::shutdown_default_executor() {
    default_executor_shut_down_ = true;
    std::shared_ptr<ThreadPoolExecutor> executor = default_executor_;
    if (!executor) co_return;
    // Join on a thread of its own so that the loop keeps running: a worker
    // may still be waiting for the loop (run_coroutine_threadsafe(...).result()).
    ThreadPoolExecutor joiner(1, "aio-shutdown");
    Future<> joined = run_in_executor(&joiner, [executor] { executor->shutdown(true); });
    co_await joined;
}

}  // namespace aio
