// Signals on the event loop through signalfd, and aio::run's SIGINT handling
// (issue 6). See aio/signals.hpp for the rules.
#include "aio/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <system_error>

#include "aio/event_loop.hpp"

namespace aio {

namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

// The thread (tid) whose loop handles each signal; 0 when none.
std::atomic<pid_t> g_signal_owner[_NSIG];

// Runs only in a thread that does not block the signal (never the loop's):
// forwards the signal to the loop's thread, where it is blocked and so stays
// pending until the signalfd is read. Async-signal-safe.
extern "C" void aio_forward_signal(int sig) {
    const int saved = errno;
    const pid_t tid = g_signal_owner[sig].load(std::memory_order_relaxed);
    if (tid > 0) ::syscall(SYS_tgkill, ::getpid(), tid, sig);
    errno = saved;
}

void check_signal_number(int sig) {
    if (sig <= 0 || sig >= _NSIG) throw std::invalid_argument("invalid signal number " + std::to_string(sig));
    if (sig == SIGKILL || sig == SIGSTOP)
        throw std::invalid_argument("signal " + std::to_string(sig) + " cannot be caught");
}

sigset_t only(int sig) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    return set;
}

}  // namespace

// --- add_signal_handler / remove_signal_handler ------------------------------------

class EventLoop::SignalState final : public detail::IoCallback {
public:
    explicit SignalState(EventLoop* loop) : loop_(loop) { sigemptyset(&mask_); }
    SignalState(const SignalState&) = delete;
    SignalState& operator=(const SignalState&) = delete;

    ~SignalState() {
        while (!entries_.empty()) {
            try {
                remove(entries_.begin()->first);
            } catch (...) {
                entries_.erase(entries_.begin());
            }
        }
        close_fd();
    }

    void add(int sig, std::function<void(int)> fn) {
        const pid_t me = static_cast<pid_t>(::gettid());
        if (!entries_.empty() && tid_ != me)
            throw RuntimeError("add_signal_handler: call it from the thread of the event loop");
        if (auto it = entries_.find(sig); it != entries_.end()) {
            it->second.handler->removed = true;
            it->second.handler = std::make_shared<Handler>(Handler{std::move(fn), false});
            return;
        }
        pid_t expected = 0;
        if (!g_signal_owner[sig].compare_exchange_strong(expected, me))
            throw RuntimeError("signal " + std::to_string(sig) + " is already handled by another event loop");
        Entry entry;
        entry.handler = std::make_shared<Handler>(Handler{std::move(fn), false});
        // Block first, then take over the disposition: no window in which the
        // signal could act on this thread with its old disposition.
        sigset_t one = only(sig), old;
        pthread_sigmask(SIG_BLOCK, &one, &old);
        entry.was_blocked = sigismember(&old, sig) == 1;
        struct sigaction forward {};
        forward.sa_handler = aio_forward_signal;
        sigemptyset(&forward.sa_mask);
        forward.sa_flags = SA_RESTART;
        ::sigaction(sig, &forward, &entry.previous);
        sigaddset(&mask_, sig);
        try {
            const int fd = ::signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
            if (fd < 0) throw_errno("signalfd");
            fd_ = fd;
            if (!registered_) {
                loop_->set_io_callback(fd_, true, this);
                registered_ = true;
            }
        } catch (...) {
            sigdelset(&mask_, sig);
            ::sigaction(sig, &entry.previous, nullptr);
            if (!entry.was_blocked) pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
            g_signal_owner[sig].store(0);
            throw;
        }
        tid_ = me;
        entries_.emplace(sig, std::move(entry));
    }

    bool remove(int sig) {
        auto it = entries_.find(sig);
        if (it == entries_.end()) return false;
        Entry entry = std::move(it->second);
        entries_.erase(it);
        entry.handler->removed = true;
        sigdelset(&mask_, sig);
        if (fd_ >= 0) ::signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
        const bool on_loop_thread = static_cast<pid_t>(::gettid()) == tid_;
        sigset_t one = only(sig);
        if (on_loop_thread) {
            // Consume what is pending, so that unblocking does not deliver it
            // with the restored disposition.
            timespec zero{};
            while (::sigtimedwait(&one, nullptr, &zero) > 0) {
            }
        }
        ::sigaction(sig, &entry.previous, nullptr);
        if (on_loop_thread && !entry.was_blocked) pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        g_signal_owner[sig].store(0);
        if (entries_.empty()) close_fd();
        return true;
    }

    void io_ready(EventLoop& loop) override {
        signalfd_siginfo info[16];
        for (;;) {
            const ssize_t n = ::read(fd_, info, sizeof info);
            if (n <= 0) break;  // EAGAIN: nothing more
            for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof(signalfd_siginfo); ++i) {
                const int sig = static_cast<int>(info[i].ssi_signo);
                auto it = entries_.find(sig);
                if (it == entries_.end()) continue;
                loop.call_soon([h = it->second.handler, sig] {
                    if (!h->removed) h->fn(sig);
                });
            }
        }
    }

private:
    struct Handler {
        std::function<void(int)> fn;
        bool removed;
    };
    struct Entry {
        std::shared_ptr<Handler> handler;
        struct sigaction previous {};
        bool was_blocked = false;
    };

    void close_fd() noexcept {
        if (fd_ < 0) return;
        if (registered_ && !loop_->is_closed()) {
            try {
                loop_->set_io_callback(fd_, true, nullptr);
            } catch (...) {
            }
        }
        registered_ = false;
        ::close(fd_);
        fd_ = -1;
    }

    EventLoop* loop_;
    int fd_ = -1;
    bool registered_ = false;
    pid_t tid_ = 0;
    sigset_t mask_;
    std::map<int, Entry> entries_;
};

void EventLoop::add_signal_handler_impl(int sig, std::function<void(int)> fn) {
    check_signal_number(sig);
    check_open();
    if (running_ && thread_id_ != std::this_thread::get_id())
        throw RuntimeError("add_signal_handler: call it from the thread of the event loop");
    if (!fn) throw std::invalid_argument("add_signal_handler: empty handler");
    if (!signal_state_) signal_state_ = std::make_shared<SignalState>(this);
    signal_state_->add(sig, std::move(fn));
}

bool EventLoop::remove_signal_handler(int sig) {
    check_signal_number(sig);
    if (running_ && thread_id_ != std::this_thread::get_id())
        throw RuntimeError("remove_signal_handler: call it from the thread of the event loop");
    return signal_state_ && signal_state_->remove(sig);
}

// --- aio::run and SIGINT ---------------------------------------------------------------

namespace {

std::atomic<int> g_sigint_fd{-1};     // the eventfd of the active SigintScope
std::atomic<int> g_sigint_count{0};  // SIGINTs received during that scope

void default_action_now(int sig) noexcept {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);  // blocked while a handler runs: delivered when it returns
}

extern "C" void aio_on_sigint(int sig) {
    const int saved = errno;
    const int fd = g_sigint_fd.load();
    if (fd >= 0 && g_sigint_count.fetch_add(1) == 0) {
        std::uint64_t one = 1;
        ssize_t n = ::write(fd, &one, sizeof one);
        (void)n;
    } else {
        default_action_now(sig);  // the second one, or a scope that is gone
    }
    errno = saved;
}

}  // namespace

namespace detail {

struct SigintScope::Impl final : IoCallback {
    EventLoop* loop = nullptr;
    TaskCore* main_task = nullptr;
    int fd = -1;
    struct sigaction previous {};

    void io_ready(EventLoop&) override {
        std::uint64_t count;
        ssize_t n = ::read(fd, &count, sizeof count);
        (void)n;
        // The first SIGINT: cancel the main task, as asyncio.Runner does.
        if (!main_task->done()) main_task->cancel({});
    }
};

SigintScope::SigintScope(EventLoop& loop, TaskCore* main_task) {
    if (::gettid() != ::getpid()) return;  // not the main thread
    struct sigaction current {};
    if (::sigaction(SIGINT, nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)
        return;  // someone else handles SIGINT
    int expected = -1;
    auto impl = std::make_unique<Impl>();
    impl->fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (impl->fd < 0) return;
    if (!g_sigint_fd.compare_exchange_strong(expected, impl->fd)) {
        ::close(impl->fd);
        return;
    }
    impl->loop = &loop;
    impl->main_task = main_task;
    try {
        loop.set_io_callback(impl->fd, true, impl.get());
    } catch (...) {
        g_sigint_fd.store(-1);
        ::close(impl->fd);
        return;
    }
    g_sigint_count.store(0);
    struct sigaction handler {};
    handler.sa_handler = aio_on_sigint;
    sigemptyset(&handler.sa_mask);
    handler.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &handler, &impl->previous);
    impl_ = std::move(impl);
}

SigintScope::~SigintScope() {
    if (!impl_) return;
    struct sigaction current {};
    ::sigaction(SIGINT, nullptr, &current);
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == aio_on_sigint) ::sigaction(SIGINT, &impl_->previous, nullptr);
    g_sigint_fd.store(-1);
    if (!impl_->loop->is_closed()) {
        try {
            impl_->loop->set_io_callback(impl_->fd, true, nullptr);
        } catch (...) {
        }
    }
    ::close(impl_->fd);
}

void SigintScope::check(TaskCore* main_task) {
    if (!impl_ || g_sigint_count.load() == 0) return;
    if (main_task->cancelled() && main_task->uncancel() == 0) throw KeyboardInterrupt();
}

void exit_by_sigint() noexcept {
    std::fflush(nullptr);
    sigset_t one = only(SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    default_action_now(SIGINT);  // terminates here
    std::_Exit(128 + SIGINT);    // not reached; the shell's code for "killed by SIGINT"
}

}  // namespace detail
}  // namespace aio
