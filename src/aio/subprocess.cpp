// Child processes, their pipes and the background reaper (issue 6).
#include "aio/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

extern char** environ;

namespace aio {

namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

[[noreturn]] void throw_write_error(int err) {
    if (err == EPIPE) throw BrokenPipeError("write to a child's pipe: the child closed it");
    throw_errno(err, "write to a child's pipe");
}

constexpr std::size_t kReadChunk = 64 * 1024;

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): call the
// kernel directly (Linux 5.3+ for pidfd_open, 5.4+ for waitid(P_PIDFD)).
int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)); }
int pidfd_send_signal(int pidfd, int sig) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0u));
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno(errno, "fcntl(O_NONBLOCK)");
}

/// Owns a descriptor until released.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

/// write() that never raises SIGPIPE: a broken pipe is EPIPE only. SIGPIPE
/// is blocked around the call and a SIGPIPE it caused is consumed.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t n) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t r;
    do {
        r = ::write(fd, data, n);
    } while (r < 0 && errno == EINTR);
    const int err = errno;
    if (r < 0 && err == EPIPE && !was_pending) {
        timespec zero{};
        ::sigtimedwait(&pipe_set, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return r;
}

// --- the background reaper ----------------------------------------------------------

/// Reaps children whose Process was destroyed while they ran: one thread
/// for the whole process, started on first need, polling their pidfds.
class Reaper {
public:
    static Reaper& instance() {
        // Never destroyed: children may be handed over during static destruction.
        static Reaper* reaper = new Reaper;
        return *reaper;
    }

    void adopt(int pidfd) {
        {
            std::lock_guard lock(mutex_);
            incoming_.push_back(pidfd);
        }
        std::uint64_t one = 1;
        ssize_t n = ::write(wake_fd_, &one, sizeof one);
        (void)n;
    }

private:
    Reaper() {
        wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
        if (wake_fd_ < 0) throw_errno(errno, "eventfd");
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        std::thread([this] { run(); }).detach();
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

    void run() {
        pthread_setname_np(pthread_self(), "aio-reaper");
        std::vector<int> children;
        std::vector<pollfd> fds;
        for (;;) {
            fds.clear();
            fds.push_back({wake_fd_, POLLIN, 0});
            for (int fd : children) fds.push_back({fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
            if (fds[0].revents) {
                std::uint64_t count;
                ssize_t n = ::read(wake_fd_, &count, sizeof count);
                (void)n;
                std::lock_guard lock(mutex_);
                children.insert(children.end(), incoming_.begin(), incoming_.end());
                incoming_.clear();
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                siginfo_t info{};
                if (::waitid(P_PIDFD, static_cast<id_t>(fds[i].fd), &info, WEXITED | WNOHANG) == 0 && info.si_pid == 0)
                    continue;  // not yet
                ::close(fds[i].fd);  // reaped (or not our child any more)
                children.erase(std::find(children.begin(), children.end(), fds[i].fd));
            }
        }
    }

    std::mutex mutex_;
    std::vector<int> incoming_;
    int wake_fd_ = -1;
};

}  // namespace

namespace detail {

// --- FdWait --------------------------------------------------------------------------

FdWait::FdWait(Watch a, Watch b, Watch c) noexcept {
    add(a);
    add(b);
    add(c);
}

FdWait::FdWait(FdWait&& o) noexcept {
    for (int i = 0; i < o.count_; ++i) add({o.slots_[i].fd, o.slots_[i].readable});
}

void FdWait::add(Watch w) noexcept {
    if (w.fd < 0) return;
    Slot& s = slots_[count_++];
    s.fd = w.fd;
    s.readable = w.readable;
}

void FdWait::await_suspend(std::coroutine_handle<> h, std::source_location at) {
    loop_ = &running_loop_for("aio: waiting for a pipe");
    try {
        for (int i = 0; i < count_; ++i) {
            slots_[i].owner = this;
            loop_->set_io_callback(slots_[i].fd, slots_[i].readable, &slots_[i]);
            slots_[i].registered = true;
        }
    } catch (...) {
        unregister_all();
        throw;
    }
    suspend_here(h, at);
}

void FdWait::await_resume() {
    resume_here();
    if (cancelled_) throw CancelledError(task_->cancel_message());
}

void FdWait::ready() {
    unregister_all();
    loop_->schedule(task_);
}

bool FdWait::cancel_wait() {
    bool any = false;
    for (int i = 0; i < count_; ++i) any = any || slots_[i].registered;
    if (!any) return false;  // already woken: the task is queued
    unregister_all();
    cancelled_ = true;
    loop_->schedule(task_);
    return true;
}

void FdWait::unregister_all() noexcept {
    for (int i = 0; i < count_; ++i) {
        Slot& s = slots_[i];
        if (!s.registered) continue;
        s.registered = false;
        try {
            if (!loop_->is_closed()) loop_->set_io_callback(s.fd, s.readable, nullptr);
        } catch (...) {
        }
    }
}

PipeBusy::PipeBusy(bool* flag, const char* what) : flag_(flag) {
    if (!flag) return;
    if (*flag) {
        flag_ = nullptr;
        throw RuntimeError(std::string(what) + " called while another coroutine is already using this pipe");
    }
    *flag = true;
}

}  // namespace detail

// --- PipeReader ---------------------------------------------------------------------

PipeReader::PipeReader(int fd) : fd_(fd) {
    try {
        set_nonblocking(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
}

PipeReader::~PipeReader() { close(); }

void PipeReader::close() noexcept {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    eof_ = true;
}

PipeReader::Fill PipeReader::fill() {
    if (eof_ || fd_ < 0) return Fill::eof;
    // Compact before growing, so that a reader that keeps up reuses memory.
    if (head_ == buf_.size()) {
        buf_.clear();
        head_ = 0;
    } else if (head_ > kReadChunk && head_ * 2 > buf_.size()) {
        buf_.erase(0, head_);
        head_ = 0;
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    ssize_t n;
    do {
        n = ::read(fd_, buf_.data() + old, kReadChunk);
    } while (n < 0 && errno == EINTR);
    const int err = errno;
    buf_.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) return Fill::data;
    if (n == 0) {
        eof_ = true;
        return Fill::eof;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) return Fill::would_block;
    throw_errno(err, "read from a child's pipe");
}

bool PipeReader::fill_available() {
    for (;;) {
        switch (fill()) {
            case Fill::data:
                continue;
            case Fill::eof:
                return false;
            case Fill::would_block:
                return true;
        }
    }
}

std::string PipeReader::take(std::size_t n) {
    n = std::min(n, buffered());
    if (head_ == 0 && n == buf_.size()) {
        std::string all = std::move(buf_);
        buf_.clear();
        return all;
    }
    std::string out = buf_.substr(head_, n);
    head_ += n;
    if (head_ == buf_.size()) {
        buf_.clear();
        head_ = 0;
    }
    return out;
}

Coro<> PipeReader::wait_readable() { co_await detail::FdWait({fd_, true}); }

Coro<std::string> PipeReader::read(std::ptrdiff_t n) {
    detail::PipeBusy busy(&busy_, "read()");
    if (n == 0) co_return std::string();
    if (n < 0) {
        while (fill_available()) co_await wait_readable();
        co_return take(buffered());
    }
    while (buffered() == 0 && fill() == Fill::would_block) co_await wait_readable();
    co_return take(static_cast<std::size_t>(n));
}

Coro<std::string> PipeReader::readline() {
    detail::PipeBusy busy(&busy_, "readline()");
    std::size_t searched = 0;
    for (;;) {
        const std::size_t pos = buf_.find('\n', head_ + searched);
        if (pos != std::string::npos) co_return take(pos + 1 - head_);
        searched = buffered();
        const Fill f = fill();
        if (f == Fill::eof) co_return take(buffered());
        if (f == Fill::would_block) co_await wait_readable();
    }
}

Coro<std::string> PipeReader::readuntil(std::string separator) {
    detail::PipeBusy busy(&busy_, "readuntil()");
    if (separator.empty()) throw std::invalid_argument("readuntil: empty separator");
    std::size_t searched = 0;
    for (;;) {
        const std::size_t pos = buf_.find(separator, head_ + searched);
        if (pos != std::string::npos) co_return take(pos + separator.size() - head_);
        if (buffered() >= separator.size()) searched = buffered() - separator.size() + 1;
        const Fill f = fill();
        if (f == Fill::eof) throw IncompleteReadError(take(buffered()), std::nullopt);
        if (f == Fill::would_block) co_await wait_readable();
    }
}

Coro<std::string> PipeReader::readexactly(std::size_t n) {
    detail::PipeBusy busy(&busy_, "readexactly()");
    while (buffered() < n) {
        const Fill f = fill();
        if (f == Fill::eof) throw IncompleteReadError(take(buffered()), n);
        if (f == Fill::would_block) co_await wait_readable();
    }
    co_return take(n);
}

// --- PipeWriter ---------------------------------------------------------------------

PipeWriter::PipeWriter(int fd) : fd_(fd) {
    try {
        set_nonblocking(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
}

PipeWriter::~PipeWriter() { close_now(); }

void PipeWriter::check_writable() const {
    if (error_) throw_write_error(error_);
    if (closing_) throw RuntimeError("PipeWriter: write after close()");
}

void PipeWriter::write(std::string_view data) {
    check_writable();
    buf_.append(data);
    if (flush() == Flush::broken) throw_write_error(error_);
}

void PipeWriter::write(std::string&& data) {
    check_writable();
    if (buffered() == 0) {
        buf_ = std::move(data);
        head_ = 0;
    } else {
        buf_.append(data);
    }
    if (flush() == Flush::broken) throw_write_error(error_);
}

PipeWriter::Flush PipeWriter::flush() {
    if (error_) return Flush::broken;
    while (buffered() > 0) {
        if (fd_ < 0) return Flush::broken;
        const ssize_t n = write_no_sigpipe(fd_, buf_.data() + head_, buffered());
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Flush::would_block;
            error_ = errno;
            buf_.clear();
            head_ = 0;
            return Flush::broken;
        }
        head_ += static_cast<std::size_t>(n);
    }
    buf_.clear();
    head_ = 0;
    if (closing_) close_now();
    return Flush::done;
}

Coro<> PipeWriter::drain() {
    detail::PipeBusy busy(&busy_, "drain()");
    for (;;) {
        const Flush f = flush();
        if (f == Flush::done) co_return;
        if (f == Flush::broken) throw_write_error(error_);
        co_await detail::FdWait({fd_, false});
    }
}

void PipeWriter::close() noexcept {
    closing_ = true;
    if (buffered() == 0 || error_) close_now();
}

void PipeWriter::close_now() noexcept {
    closing_ = true;
    buf_.clear();
    head_ = 0;
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
}

Coro<> PipeWriter::wait_closed() {
    detail::PipeBusy busy(&busy_, "wait_closed()");
    closing_ = true;
    while (fd_ >= 0 && flush() == Flush::would_block) co_await detail::FdWait({fd_, false});
    close_now();
}

// --- the process ------------------------------------------------------------------

namespace detail {

class ProcessState final : public IoCallback {
public:
    ProcessState(pid_t pid, int pidfd, bool kill_on_destroy) : pid_(pid), pidfd_(pidfd), kill_on_destroy_(kill_on_destroy) {}
    ProcessState(const ProcessState&) = delete;
    ProcessState& operator=(const ProcessState&) = delete;

    ~ProcessState() {
        while (WaitNode* n = waiters_.pop_front()) static_cast<ProcessWait*>(n)->orphan();
        unregister();
        stdin_pipe.reset();
        stdout_pipe.reset();
        stderr_pipe.reset();
        if (!poll()) {
            if (kill_on_destroy_) pidfd_send_signal(pidfd_, SIGKILL);
            try {
                Reaper::instance().adopt(pidfd_);  // reaped when it exits: no zombie
                pidfd_ = -1;
            } catch (...) {
                // No reaper thread (out of resources): a killed child dies
                // promptly, so wait for it here; a kept one stays a zombie.
                siginfo_t info{};
                if (kill_on_destroy_) ::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED);
            }
        }
        if (pidfd_ >= 0) ::close(pidfd_);
    }

    pid_t pid() const noexcept { return pid_; }
    const std::optional<int>& returncode() const noexcept { return returncode_; }

    /// Reaps the child if it has exited; true once the return code is known.
    bool poll() noexcept {
        if (returncode_) return true;
        siginfo_t info{};
        if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG) != 0) {
            // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, or a
            // waitpid(-1) elsewhere). The status is lost; asyncio reports 255.
            if (errno == ECHILD) returncode_ = 255;
            return returncode_.has_value();
        }
        if (info.si_pid == 0) return false;  // still running
        if (info.si_code == CLD_EXITED)
            returncode_ = info.si_status;
        else
            returncode_ = -info.si_status;  // killed (or dumped) by a signal
        return true;
    }

    void send_signal(int sig) {
        if (returncode_) return;
        if (pidfd_send_signal(pidfd_, sig) < 0 && errno != ESRCH)
            throw_errno(errno, "send_signal to pid " + std::to_string(pid_));
    }

    void add_waiter(ProcessWait* w, EventLoop& loop) {
        if (!registered_) {
            loop.set_io_callback(pidfd_, true, this);
            loop_ = &loop;
            registered_ = true;
        }
        waiters_.push_back(w);
    }
    void remove_waiter(ProcessWait* w) noexcept {
        waiters_.remove(w);
        if (waiters_.empty()) unregister();
    }

    void io_ready(EventLoop&) override {
        if (!poll()) return;
        unregister();
        waiters_.wake_all();
    }

    void set_kill_on_destroy(bool kill) noexcept { kill_on_destroy_ = kill; }

    std::unique_ptr<PipeWriter> stdin_pipe;
    std::unique_ptr<PipeReader> stdout_pipe;
    std::unique_ptr<PipeReader> stderr_pipe;

private:
    void unregister() noexcept {
        if (!registered_) return;
        registered_ = false;
        try {
            if (!loop_->is_closed()) loop_->set_io_callback(pidfd_, true, nullptr);
        } catch (...) {
        }
    }

    pid_t pid_;
    int pidfd_;
    bool kill_on_destroy_;
    bool registered_ = false;
    EventLoop* loop_ = nullptr;
    std::optional<int> returncode_;
    WaitList waiters_;
};

// --- ProcessWait ---------------------------------------------------------------------

ProcessWait::~ProcessWait() {
    if (linked() && state_) state_->remove_waiter(this);
}

bool ProcessWait::await_ready() {
    if (!state_) throw InvalidStateError("Process::wait() on an empty Process");
    return state_->poll();
}

void ProcessWait::await_suspend(std::coroutine_handle<> h, std::source_location at) {
    state_->add_waiter(this, running_loop_for("aio::Process::wait"));
    suspend_here(h, at);
}

int ProcessWait::await_resume() {
    if (task_) resume_here();
    if (cancelled_) throw CancelledError(task_->cancel_message());
    if (!state_) throw RuntimeError("aio::Process destroyed while a task was waiting for it");
    return *state_->returncode();
}

void ProcessWait::wake() { task_->loop()->schedule(task_); }

bool ProcessWait::cancel_wait() {
    if (!linked()) return false;
    state_->remove_waiter(this);
    cancelled_ = true;
    task_->loop()->schedule(task_);
    return true;
}

void ProcessWait::orphan() noexcept {
    state_ = nullptr;
    task_->loop()->schedule(task_);
}

// --- spawning -------------------------------------------------------------------------

namespace {

/// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnSetup() {
        if (int e = posix_spawn_file_actions_init(&actions)) throw_errno(e, "posix_spawn_file_actions_init");
        if (int e = posix_spawnattr_init(&attr)) {
            posix_spawn_file_actions_destroy(&actions);
            throw_errno(e, "posix_spawnattr_init");
        }
    }
    ~SpawnSetup() {
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
    }
    void check(int e, const char* what) {
        if (e) throw_errno(e, what);
    }
};

/// A descriptor number above 2, so that installing one standard stream in
/// the child never overwrites the source of another.
Fd above_stdio(Fd fd) {
    if (fd.get() > 2) return fd;
    const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) throw_errno(errno, "fcntl(F_DUPFD_CLOEXEC)");
    return Fd(moved);
}

}  // namespace

Process spawn_process(const std::string& program, const std::vector<std::string>& args,
                      const SubprocessOptions& options) {
    if (options.stdin.kind() == Redirect::Kind::merge_stdout || options.stdout.kind() == Redirect::Kind::merge_stdout)
        throw std::invalid_argument("aio::STDOUT can only be used for stderr");
    for (const Redirect* r : {&options.stdin, &options.stdout, &options.stderr})
        if (r->kind() == Redirect::Kind::fd && r->fd() < 0) throw std::invalid_argument("Redirect::from_fd: negative descriptor");

    // The child's ends (installed as 0, 1, 2 by the file actions) and ours.
    Fd child_end[3];
    Fd parent_end[3];
    const Redirect* redirects[3] = {&options.stdin, &options.stdout, &options.stderr};
    for (int i = 0; i < 3; ++i) {
        const Redirect& r = *redirects[i];
        if (r.kind() == Redirect::Kind::pipe) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) < 0) throw_errno(errno, "pipe2");
            Fd read_end(p[0]), write_end(p[1]);
            if (i == 0) {
                child_end[i] = above_stdio(std::move(read_end));
                parent_end[i] = std::move(write_end);
            } else {
                child_end[i] = above_stdio(std::move(write_end));
                parent_end[i] = std::move(read_end);
            }
        } else if (r.kind() == Redirect::Kind::fd) {
            const int dup = ::fcntl(r.fd(), F_DUPFD_CLOEXEC, 3);
            if (dup < 0) throw_errno(errno, "Redirect::from_fd(" + std::to_string(r.fd()) + ")");
            child_end[i] = Fd(dup);
        }
    }

    SpawnSetup setup;
    for (int i = 0; i < 3; ++i) {
        switch (redirects[i]->kind()) {
            case Redirect::Kind::inherit:
                break;
            case Redirect::Kind::pipe:
            case Redirect::Kind::fd:
                setup.check(posix_spawn_file_actions_adddup2(&setup.actions, child_end[i].get(), i), "adddup2");
                break;
            case Redirect::Kind::devnull:
                setup.check(posix_spawn_file_actions_addopen(&setup.actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0),
                            "addopen(/dev/null)");
                break;
            case Redirect::Kind::merge_stdout:
                setup.check(posix_spawn_file_actions_adddup2(&setup.actions, 1, 2), "adddup2(1, 2)");
                break;
        }
    }
    if (options.close_fds) setup.check(posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3), "addclosefrom_np");
    const std::string cwd(options.cwd);
    if (!cwd.empty()) setup.check(posix_spawn_file_actions_addchdir_np(&setup.actions, cwd.c_str()), "addchdir_np");

    // The child starts with no signal blocked (the loop's thread may block
    // some for its signalfd) and with SIGPIPE / SIGXFSZ at their default
    // action even if this process ignores them (Python's restore_signals).
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    setup.check(posix_spawnattr_setsigmask(&setup.attr, &empty), "setsigmask");
    setup.check(posix_spawnattr_setsigdefault(&setup.attr, &defaults), "setsigdefault");
    if (options.start_new_session) flags |= POSIX_SPAWN_SETSID;
    if (options.process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        setup.check(posix_spawnattr_setpgroup(&setup.attr, *options.process_group), "setpgroup");
    }
    setup.check(posix_spawnattr_setflags(&setup.attr, flags), "setflags");

    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (options.env) {
        envp.reserve(options.env->size() + 1);
        for (const std::string& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }

    pid_t pid = 0;
    // glibc runs the child with CLONE_VFORK and reports an exec failure as
    // posix_spawn's result, so a missing program fails here, in the parent.
    const int e = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(),
                                 options.env ? envp.data() : environ);
    if (e != 0) throw_errno(e, "cannot run program '" + program + "'");
    for (Fd& fd : child_end) fd.reset();

    // The child is our zombie until we reap it, so its pid cannot be reused
    // before pidfd_open: no race.
    Fd pidfd(pidfd_open(pid));
    if (pidfd.get() < 0) {
        const int err = errno;
        ::kill(pid, SIGKILL);
        int status;
        ::waitpid(pid, &status, 0);
        throw_errno(err, "pidfd_open");
    }

    auto state = std::make_unique<ProcessState>(pid, pidfd.release(), options.kill_on_destroy);
    if (parent_end[0].get() >= 0) state->stdin_pipe = std::make_unique<PipeWriter>(parent_end[0].release());
    if (parent_end[1].get() >= 0) state->stdout_pipe = std::make_unique<PipeReader>(parent_end[1].release());
    if (parent_end[2].get() >= 0) state->stderr_pipe = std::make_unique<PipeReader>(parent_end[2].release());
    return Process(std::move(state));
}

namespace {

Coro<std::pair<std::string, std::string>> communicate(ProcessState* st, std::string input) {
    PipeWriter* in = st->stdin_pipe.get();
    PipeReader* out = st->stdout_pipe.get();
    PipeReader* err = st->stderr_pipe.get();
    PipeBusy busy_in(in ? in->busy_flag() : nullptr, "communicate()");
    PipeBusy busy_out(out ? out->busy_flag() : nullptr, "communicate()");
    PipeBusy busy_err(err ? err->busy_flag() : nullptr, "communicate()");
    if (in && !in->is_closing() && !input.empty()) {
        try {
            in->write(std::move(input));
        } catch (const std::system_error&) {
            // The child closed its stdin already: not an error (as asyncio).
        }
    }
    if (in) in->close();
    bool out_open = out != nullptr;
    bool err_open = err != nullptr;
    for (;;) {
        bool in_pending = false;
        if (in && in->fileno() >= 0) {
            if (in->flush() == PipeWriter::Flush::would_block)
                in_pending = true;
            else
                in->close_now();  // all written, or the child stopped reading
        }
        if (out_open) out_open = out->fill_available();
        if (err_open) err_open = err->fill_available();
        if (!in_pending && !out_open && !err_open) break;
        co_await FdWait({in_pending ? in->fileno() : -1, false}, {out_open ? out->fileno() : -1, true},
                        {err_open ? err->fileno() : -1, true});
    }
    co_await ProcessWait(st);
    std::string out_data = out ? out->take(out->buffered()) : std::string();
    std::string err_data = err ? err->take(err->buffered()) : std::string();
    co_return std::pair<std::string, std::string>(std::move(out_data), std::move(err_data));
}

}  // namespace
}  // namespace detail

// --- Process --------------------------------------------------------------------------

Process::Process(std::unique_ptr<detail::ProcessState> state) noexcept : state_(std::move(state)) {}
Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;
Process::~Process() = default;

pid_t Process::pid() const noexcept { return state_->pid(); }

std::optional<int> Process::returncode() const {
    state_->poll();
    return state_->returncode();
}

detail::ProcessWait Process::wait() noexcept { return detail::ProcessWait(state_.get()); }

Coro<std::pair<std::string, std::string>> Process::communicate(std::string input) {
    return detail::communicate(state_.get(), std::move(input));
}

void Process::send_signal(int sig) { state_->send_signal(sig); }

PipeWriter* Process::stdin() const noexcept { return state_->stdin_pipe.get(); }
PipeReader* Process::stdout() const noexcept { return state_->stdout_pipe.get(); }
PipeReader* Process::stderr() const noexcept { return state_->stderr_pipe.get(); }

void Process::set_kill_on_destroy(bool kill) noexcept { state_->set_kill_on_destroy(kill); }

Coro<Process> create_subprocess_exec(std::string program, std::vector<std::string> args, SubprocessOptions options) {
    co_return detail::spawn_process(program, args, options);
}

Coro<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options) {
    co_return detail::spawn_process("/bin/sh", {"-c", cmd}, options);
}

}  // namespace aio
