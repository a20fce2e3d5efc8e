#include "aio/event_loop.hpp"

#include "aio/log.hpp"

#include <cxxabi.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <typeinfo>

namespace aio {
namespace {

// While work is ready the loop polls I/O only every this many callbacks, so a
// busy loop does not pay a syscall per iteration yet never starves I/O.
constexpr std::size_t kPollEvery = 64;
constexpr int kMaxEvents = 256;

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

std::string demangle(const char* name) {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && d) ? d : name;
    std::free(d);
    return out;
}

}  // namespace

std::string describe_exception(const std::exception_ptr& e) {
    if (!e) return "no exception";
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError& c) {
        return c.message().empty() ? "aio::CancelledError" : "aio::CancelledError: " + c.message();
    } catch (const std::exception& x) {
        return demangle(typeid(x).name()) + ": " + x.what();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        return t ? demangle(t->name()) : "unknown exception";
    }
}

EventLoop::EventLoop() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw_errno("epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        ::close(epoll_fd_);
        throw_errno("eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
        ::close(wake_fd_);
        ::close(epoll_fd_);
        throw_errno("epoll_ctl(eventfd)");
    }
}

EventLoop::~EventLoop() {
    if (!closed_ && !running_) close();
}

void EventLoop::check_open() const {
    if (closed_) throw RuntimeError("Event loop is closed");
}

void EventLoop::throw_wrong_thread() const {
    throw RuntimeError(
        "Non-thread-safe operation invoked on an event loop from a thread other than the one running it; "
        "use call_soon_threadsafe");
}

// --- timers ---------------------------------------------------------------

void EventLoop::arm_timer(detail::TimerNode* node) {
    node->sequence = timer_sequence_++;
    timers_.push(node);
}

void EventLoop::disarm_timer(detail::TimerNode* node) noexcept {
    if (node->armed()) timers_.remove(node);
}

void detail::TimerHandleBase::cancel() noexcept {
    HandleBase::cancel();
    if (armed()) {
        loop_->disarm_timer(this);
        release();  // the heap's reference
    }
}

void detail::TimerHandleBase::fire(EventLoop& loop) {
    loop.schedule(this);  // the heap's reference moves to the ready queue
}

// --- callbacks --------------------------------------------------------------

void detail::HandleBase::run() {
    if (!cancelled()) {
        try {
            invoke();
        } catch (...) {
            if (EventLoop* loop = tls_context.loop)
                loop->call_exception_handler({"Exception in callback", std::current_exception(), {}});
        }
    }
    release();
}

void detail::IoHandleBase::io_ready(EventLoop& loop) {
    add_ref();
    loop.schedule(this);
}

void EventLoop::push_threadsafe(detail::HandleBase* h) {
    std::unique_lock lock(threadsafe_mutex_);
    if (closed_) {
        lock.unlock();
        h->release();  // may run user destructors: never under the lock
        throw RuntimeError("Event loop is closed");
    }
    threadsafe_queue_.push_back(h);
    // Written under the lock so close() cannot close (and the process reuse)
    // the eventfd between the check above and the write.
    if (!threadsafe_pending_.exchange(true, std::memory_order_acq_rel)) {
        std::uint64_t one = 1;
        ssize_t n = ::write(wake_fd_, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is already non-zero, the loop will wake
    }
}

void EventLoop::drain_threadsafe() {
    // The flag says whether to take the lock; the eventfd itself is read by
    // poll_io whenever epoll reports it, so it can never stay readable and
    // make the idle loop spin.
    if (!threadsafe_pending_.exchange(false, std::memory_order_acq_rel)) return;
    std::vector<detail::HandleBase*> batch;
    {
        std::lock_guard lock(threadsafe_mutex_);
        batch.swap(threadsafe_queue_);
    }
    for (detail::HandleBase* h : batch) ready_.push(h);
}

// --- file descriptors -------------------------------------------------------

EventLoop::FdWatch& EventLoop::fd_watch(int fd) {
    if (fd < 0) throw std::invalid_argument("invalid file descriptor " + std::to_string(fd));
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    return fds_[static_cast<std::size_t>(fd)];
}

void EventLoop::update_epoll(int fd, FdWatch& w) {
    std::uint32_t want = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
    if (want == w.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    int op = w.events == 0 ? EPOLL_CTL_ADD : (want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    if (::epoll_ctl(epoll_fd_, op, fd, &ev) < 0) {
        // A closed fd left registered is gone from epoll already.
        if (!(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))) throw_errno("epoll_ctl");
    }
    if (w.events == 0 && want != 0) ++watched_fds_;
    if (w.events != 0 && want == 0) --watched_fds_;
    w.events = want;
}

void EventLoop::set_io_callback(int fd, bool readable, detail::IoCallback* cb) {
    if (cb) check_open();  // removal stays allowed while closing
    FdWatch& w = fd_watch(fd);
    detail::IoCallback*& slot = readable ? w.reader : w.writer;
    detail::IoCallback* old = slot;
    slot = cb;
    try {
        update_epoll(fd, w);
    } catch (...) {
        slot = old;
        throw;
    }
}

Handle EventLoop::watch(int fd, bool readable, detail::IoHandleBase* handle) {
    Handle result(detail::IntrusivePtr<detail::HandleBase>::adopt(handle));
    set_io_callback(fd, readable, handle);
    FdWatch& w = fds_[static_cast<std::size_t>(fd)];
    detail::HandleBase*& owned = readable ? w.reader_handle : w.writer_handle;
    if (owned) owned->release();
    handle->add_ref();  // the watch's reference
    owned = handle;
    return result;
}

bool EventLoop::remove_reader(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size() || closed_) return false;
    FdWatch& w = fds_[static_cast<std::size_t>(fd)];
    if (!w.reader) return false;
    set_io_callback(fd, true, nullptr);
    if (w.reader_handle) std::exchange(w.reader_handle, nullptr)->release();
    return true;
}

bool EventLoop::remove_writer(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size() || closed_) return false;
    FdWatch& w = fds_[static_cast<std::size_t>(fd)];
    if (!w.writer) return false;
    set_io_callback(fd, false, nullptr);
    if (w.writer_handle) std::exchange(w.writer_handle, nullptr)->release();
    return true;
}

void EventLoop::poll_io(std::int64_t timeout_ns) {
    epoll_event events[kMaxEvents];
    int n;
    if (timeout_ns < 0) {
        n = ::epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    } else {
        timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
        n = ::epoll_pwait2(epoll_fd_, events, kMaxEvents, &ts, nullptr);
        if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond resolution, rounded up
            n = ::epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
        }
    }
    ran_since_poll_ = 0;
    if (n < 0) {
        if (errno == EINTR) return;
        throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        const std::uint32_t ev = events[i].events;
        if (fd == wake_fd_) {  // reset the counter; drain_threadsafe() takes the work
            std::uint64_t count;
            ssize_t r = ::read(wake_fd_, &count, sizeof count);
            (void)r;
            continue;
        }
        // Look the watch up again for the writer: the reader's io_ready may
        // run a transport inline, and opening or closing descriptors there
        // can resize fds_ or remove the writer.
        const bool error = ev & (EPOLLERR | EPOLLHUP);
        if (ev & EPOLLIN || error)
            if (detail::IoCallback* reader = fds_[static_cast<std::size_t>(fd)].reader) reader->io_ready(*this);
        if (ev & EPOLLOUT || error)
            if (static_cast<std::size_t>(fd) < fds_.size())
                if (detail::IoCallback* writer = fds_[static_cast<std::size_t>(fd)].writer) writer->io_ready(*this);
    }
}

// --- running ---------------------------------------------------------------

void EventLoop::run_once() {
    const bool idle = ready_.empty() && !stopping_ && !threadsafe_pending_.load(std::memory_order_relaxed);
    if (idle) {
        std::int64_t timeout = -1;
        if (!timers_.empty()) {
            timeout = timers_.top_when() - to_ns(Clock::now());
            if (timeout < 0) timeout = 0;
        }
        poll_io(timeout);
    } else if (watched_fds_ > 0 && ran_since_poll_ >= kPollEvery) {
        poll_io(0);
    }
    drain_threadsafe();
    if (!timers_.empty()) {
        const std::int64_t now = to_ns(Clock::now());
        while (!timers_.empty() && timers_.top_when() <= now) timers_.pop()->fire(*this);
    }
    // Exactly what is ready now; what these schedule runs next iteration.
    std::size_t count = ready_.size();
    ran_since_poll_ += count;
    if (!debug_) {
        while (count--) ready_.pop()->run();
        return;
    }
    while (count--) {
        detail::Runnable* r = ready_.pop();
        // Keep a task alive through its step (it may finish and be freed) so
        // it can be named afterwards, only when the step was slow.
        detail::IntrusivePtr<detail::TaskCore> task(dynamic_cast<detail::TaskCore*>(r));
        std::source_location resumed_at{};
        if (task)
            if (detail::Suspension* s = task->awaiting()) resumed_at = s->location();
        auto start = Clock::now();
        run_ready(r);
        auto took = std::chrono::duration<double>(Clock::now() - start);
        if (took > slow_callback_duration) {
            std::string what = "a callback";
            if (task) {
                what = "a step of task '" + task->name() + "'";
                if (resumed_at.line() != 0)
                    what += " resumed at " + std::string(resumed_at.file_name()) + ":" + std::to_string(resumed_at.line());
            }
            char buf[64];
            std::snprintf(buf, sizeof buf, " took %.3f seconds", took.count());
            log(LogLevel::warning, "Executing " + what + buf);
        }
    }
}

void EventLoop::run_ready(detail::Runnable* r) { r->run(); }

void EventLoop::run_forever() {
    check_open();
    if (running_) throw RuntimeError("This event loop is already running");
    if (detail::tls_context.loop) throw RuntimeError("Cannot run the event loop while another loop is running");
    running_ = true;
    thread_id_ = std::this_thread::get_id();
    detail::tls_context.loop = this;
    struct Reset {
        EventLoop* self;
        ~Reset() {
            self->running_ = false;
            self->stopping_ = false;
            detail::tls_context.loop = nullptr;
        }
    } reset{this};
    for (;;) {
        run_once();
        if (stopping_) break;
    }
}

void EventLoop::close() {
    if (running_) throw RuntimeError("Cannot close a running event loop");
    if (closed_) return;
    std::vector<detail::HandleBase*> unrun;
    {
        // From here on nothing new can be scheduled (check_open raises).
        std::lock_guard lock(threadsafe_mutex_);
        closed_ = true;
        unrun.swap(threadsafe_queue_);
    }
    for (detail::HandleBase* h : unrun) h->release();  // outside the lock: destructors run user code
    // Pending tasks are destroyed without being resumed: their frames unwind,
    // and their awaiters unlink from timers, waiter lists and descriptors.
    // Unwinding may still wake tasks (a lock guard releasing its lock), so
    // every task stays referenced until the ready queue is drained.
    std::vector<detail::IntrusivePtr<detail::TaskCore>> pending;
    for (detail::TaskCore* t = live_tasks_; t; t = t->next_live) pending.emplace_back(t);
    for (auto& t : pending) t->abandon_on_close();
    for (auto& t : pending) unregister_task(t.get());
    while (!ready_.empty()) ready_.pop()->discard();
    pending.clear();
    while (!timers_.empty()) timers_.pop()->loop_closed();
    for (FdWatch& w : fds_) {
        if (w.reader_handle) w.reader_handle->release();
        if (w.writer_handle) w.writer_handle->release();
    }
    fds_.clear();
    {
        std::lock_guard lock(threadsafe_mutex_);  // no poster is mid-write
        ::close(wake_fd_);
        wake_fd_ = -1;
    }
    ::close(epoll_fd_);
}

// --- tasks -----------------------------------------------------------------

void EventLoop::register_task(detail::TaskCore* t) noexcept {
    t->add_ref();
    t->next_live = live_tasks_;
    t->prev_live = nullptr;
    if (live_tasks_) live_tasks_->prev_live = t;
    live_tasks_ = t;
    ++live_task_count_;
}

void EventLoop::unregister_task(detail::TaskCore* t) noexcept {
    if (t->prev_live)
        t->prev_live->next_live = t->next_live;
    else
        live_tasks_ = t->next_live;
    if (t->next_live) t->next_live->prev_live = t->prev_live;
    t->prev_live = t->next_live = nullptr;
    --live_task_count_;
    t->release();
}

// --- errors ----------------------------------------------------------------

void EventLoop::call_exception_handler(const ExceptionContext& context) {
    if (!exception_handler_) {
        default_exception_handler(context);
        return;
    }
    try {
        exception_handler_(*this, context);
    } catch (...) {
        ExceptionContext failure{"Unhandled error in exception handler", std::current_exception(), {}};
        default_exception_handler(failure);
        default_exception_handler(context);
    }
}

void EventLoop::default_exception_handler(const ExceptionContext& context) {
    std::string line = context.message;
    if (!context.task_name.empty()) line += "\n  task: " + context.task_name;
    if (context.exception) line += "\n  exception: " + describe_exception(context.exception);
    log(LogLevel::error, line);
}

EventLoop& get_running_loop() { return detail::running_loop_for("aio::get_running_loop"); }

}  // namespace aio
