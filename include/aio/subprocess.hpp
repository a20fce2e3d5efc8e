// aio/subprocess.hpp — child processes (asyncio.subprocess):
// create_subprocess_exec, create_subprocess_shell and aio::Process.
//
//   std::vector<std::string> args{"-r"};  // own statement: g++ 12, see below
//   aio::Process proc = co_await aio::create_subprocess_exec(
//       "sort", args, {.stdin = aio::PIPE, .stdout = aio::PIPE});
//   auto [out, err] = co_await proc.communicate("b\na\nc\n");  // out: "c\nb\na\n"
//   int rc = proc.returncode().value();  // 0
//
// g++ 12: a braced list of strings inside a co_await statement does not
// compile ("array used as initializer"), and a capturing lambda or an
// aggregate with non-trivial members written there is destroyed twice.
// Build argument vectors in their own statement (SubprocessOptions is safe:
// see its comment). docs/threads-and-processes.md has the details.
//
// How it works: the child is started with posix_spawn (vfork-fast; an exec
// failure such as a missing program comes back as std::system_error in the
// parent, naming the program). Every descriptor aio opens is close-on-exec
// and by default (close_fds) the child closes every descriptor above 2 before
// exec. The child is watched through a pidfd registered with the loop while
// a task waits: no SIGCHLD handler, no race with other code that spawns, and
// the child is reaped as soon as wait() sees it exit, returncode() is asked,
// or the Process is destroyed.
//
// Destroying a Process whose child still runs kills it (SIGKILL) unless
// options.kill_on_destroy is false (or set_kill_on_destroy(false) was
// called): then it is left running. Either way a background reaper thread
// (started on first need) reaps it when it exits: no zombie. asyncio leaves
// the child running; we kill by default because a C++ Process usually dies
// with the task that waited on it, and an orphan the user never chose to
// keep is a leak.
//
// Cancellation (one line each; none of them signals the child):
// - wait(): stops waiting; the child keeps running, the Process stays valid.
// - communicate(): stops; output read so far stays in the pipes' buffers,
//   stdin may have been written partly; the child keeps running.
// - PipeReader reads: bytes already read stay buffered for the next read.
// - PipeWriter::drain(): data not yet written stays queued.
//
// Threads: a Process and its pipes belong to the loop's thread. The Process
// must outlive the operations in flight on it (wait, communicate, reads);
// moving it is fine while they run.
//
// The pipes: aio::PipeReader and aio::PipeWriter are a minimal reader and
// writer over the child's pipes, to be unified with the streams
// (aio::StreamReader / StreamWriter) later; their methods already have the
// streams' names.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/net_errors.hpp"

namespace aio {

/// Where a child's stdin, stdout or stderr goes. Use aio::PIPE, aio::DEVNULL,
/// aio::STDOUT (stderr only: merge into stdout), aio::INHERIT (the default)
/// or Redirect::from_fd(fd) (a descriptor of the parent; the parent keeps it).
class Redirect {
public:
    enum class Kind : std::uint8_t { inherit, pipe, devnull, merge_stdout, fd };

    constexpr Redirect() noexcept = default;
    constexpr explicit Redirect(Kind kind) noexcept : kind_(kind) {}
    static constexpr Redirect from_fd(int fd) noexcept {
        Redirect r(Kind::fd);
        r.fd_ = fd;
        return r;
    }
    constexpr Kind kind() const noexcept { return kind_; }
    constexpr int fd() const noexcept { return fd_; }

private:
    Kind kind_ = Kind::inherit;
    int fd_ = -1;
};

inline constexpr Redirect PIPE{Redirect::Kind::pipe};
inline constexpr Redirect DEVNULL{Redirect::Kind::devnull};
inline constexpr Redirect STDOUT{Redirect::Kind::merge_stdout};
inline constexpr Redirect INHERIT{};

/// How to start a child. Every member is trivially destructible on purpose:
/// g++ 12 destroys an aggregate temporary written inside a co_await
/// statement twice (`co_await create_subprocess_exec(p, a, {.cwd = ...})`),
/// which is harmless only for such members. So `cwd` and `env` refer to
/// strings the caller keeps alive until the co_await that starts the child
/// (awaiting the call directly, as usual, is always fine).
struct SubprocessOptions {
    Redirect stdin{};
    Redirect stdout{};
    Redirect stderr{};
    /// The child's working directory; empty: the parent's.
    std::string_view cwd{};
    /// The child's whole environment, "NAME=value" each; unset: the parent's.
    std::optional<std::span<const std::string>> env{};
    /// Close every descriptor above 2 in the child (Python's close_fds=True).
    bool close_fds = true;
    /// setsid() in the child (Python's start_new_session).
    bool start_new_session = false;
    /// setpgid(0, pgid) in the child (Python's process_group); 0: its own pid.
    std::optional<pid_t> process_group{};
    /// Kill the child (SIGKILL) if the Process is destroyed while it runs.
    bool kill_on_destroy = true;
};
static_assert(std::is_trivially_destructible_v<SubprocessOptions>, "see the comment above");

namespace detail {

/// A descriptor FdWait watches: readable, or writable.
struct FdWatch {
    int fd = -1;  // negative: not watched
    bool readable = true;
};

/// Suspends the task until one of up to three descriptors is ready. Await it
/// as a temporary: `co_await FdWait({fd, true})`.
class FdWait final : public Suspension {
public:
    using Watch = FdWatch;
    explicit FdWait(Watch a, Watch b = {}, Watch c = {}) noexcept;
    /// Only before it is awaited (compilers may move an awaiter into place).
    FdWait(FdWait&& o) noexcept;
    FdWait& operator=(FdWait&&) = delete;
    ~FdWait() { unregister_all(); }

    bool await_ready() const noexcept { return count_ == 0; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current());
    void await_resume();

private:
    struct Slot final : IoCallback {
        FdWait* owner = nullptr;
        int fd = -1;
        bool readable = true;
        bool registered = false;
        void io_ready(EventLoop&) override { owner->ready(); }
    };
    void add(Watch w) noexcept;
    bool cancel_wait() override;
    void ready();
    void unregister_all() noexcept;

    Slot slots_[3];
    int count_ = 0;
    EventLoop* loop_ = nullptr;
    bool cancelled_ = false;
};

/// Marks a pipe busy for one operation: two coroutines reading (or
/// draining) the same pipe at once is an error, as in asyncio. A null flag
/// marks nothing.
class PipeBusy {
public:
    PipeBusy(bool* flag, const char* what);
    PipeBusy(const PipeBusy&) = delete;
    PipeBusy& operator=(const PipeBusy&) = delete;
    ~PipeBusy() {
        if (flag_) *flag_ = false;
    }

private:
    bool* flag_;
};

class ProcessState;

}  // namespace detail

/// The reading end of a pipe from a child (its stdout or stderr).
class PipeReader {
public:
    /// Takes ownership of `fd` and makes it non-blocking.
    explicit PipeReader(int fd);
    PipeReader(const PipeReader&) = delete;
    PipeReader& operator=(const PipeReader&) = delete;
    ~PipeReader();

    /// Up to `n` bytes (at least one, unless at EOF: then empty); `n` < 0
    /// reads until EOF.
    Coro<std::string> read(std::ptrdiff_t n = -1);
    /// Up to and including the next "\n"; at EOF what is left (maybe empty).
    Coro<std::string> readline();
    /// Up to and including `separator`; aio::IncompleteReadError at EOF.
    Coro<std::string> readuntil(std::string separator);
    /// Exactly `n` bytes; aio::IncompleteReadError if EOF comes first.
    Coro<std::string> readexactly(std::size_t n);
    /// EOF was seen and the buffer is empty.
    bool at_eof() const noexcept { return eof_ && buffered() == 0; }
    int fileno() const noexcept { return fd_; }
    std::size_t buffered() const noexcept { return buf_.size() - head_; }
    /// Closes the descriptor (at once; what the child writes then is lost).
    void close() noexcept;

    // Low level, for Process::communicate.
    enum class Fill : std::uint8_t { data, eof, would_block };
    /// Reads what the pipe holds without blocking.
    Fill fill();
    /// Fills until the pipe would block or ends; true if it has not ended.
    bool fill_available();
    /// Removes and returns the first `n` buffered bytes.
    std::string take(std::size_t n);
    /// For detail::PipeBusy.
    bool* busy_flag() noexcept { return &busy_; }

private:
    Coro<> wait_readable();
    int fd_;
    std::string buf_;
    std::size_t head_ = 0;
    bool eof_ = false;
    bool busy_ = false;
};

/// The writing end of a pipe to a child (its stdin). SIGPIPE is never
/// raised: a reader that went away shows as aio::BrokenPipeError (a
/// std::system_error with EPIPE).
class PipeWriter {
public:
    /// Takes ownership of `fd` and makes it non-blocking.
    explicit PipeWriter(int fd);
    PipeWriter(const PipeWriter&) = delete;
    PipeWriter& operator=(const PipeWriter&) = delete;
    ~PipeWriter();

    /// Queues `data` and writes at once what the pipe takes without
    /// blocking. Raises the pipe's error (BrokenPipeError) if writing
    /// failed, RuntimeError after close().
    void write(std::string_view data);
    void write(std::string&& data);
    void write(const char* data) { write(std::string_view(data)); }
    /// Waits until everything queued is in the pipe; raises
    /// aio::BrokenPipeError when the child closed its end.
    Coro<> drain();
    /// Closes the pipe now if nothing is queued, else once drain() or
    /// wait_closed() flushed it. Idempotent.
    void close() noexcept;
    /// For a pipe, the end of the data is closing it.
    void write_eof() noexcept { close(); }
    bool is_closing() const noexcept { return closing_; }
    /// Flushes what is queued (errors ignored), then closes.
    Coro<> wait_closed();
    std::size_t buffered() const noexcept { return buf_.size() - head_; }
    int fileno() const noexcept { return fd_; }

    // Low level, for Process::communicate.
    enum class Flush : std::uint8_t { done, would_block, broken };
    /// Writes what it can without blocking.
    Flush flush();
    /// Closes the descriptor now, dropping what is queued.
    void close_now() noexcept;
    /// For detail::PipeBusy.
    bool* busy_flag() noexcept { return &busy_; }

private:
    void check_writable() const;
    int fd_;
    std::string buf_;
    std::size_t head_ = 0;
    int error_ = 0;
    bool closing_ = false;
    bool busy_ = false;
};

namespace detail {

/// A task waiting for the child to exit (Process::wait()).
class ProcessWait final : public Suspension, public WaitNode {
public:
    explicit ProcessWait(ProcessState* state) noexcept : state_(state) {}
    /// Only before it is awaited (compilers may move an awaiter into place).
    ProcessWait(ProcessWait&& o) noexcept : state_(o.state_) {}
    ProcessWait& operator=(ProcessWait&&) = delete;
    ~ProcessWait();

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current());
    int await_resume();

    /// The Process died while this task waited on it.
    void orphan() noexcept;

private:
    void wake() override;
    bool cancel_wait() override;

    ProcessState* state_;
    bool cancelled_ = false;
};

}  // namespace detail

/// A child process (asyncio.subprocess.Process). Move-only; see the header
/// comment for what destroying it does.
class Process {
public:
    explicit Process(std::unique_ptr<detail::ProcessState> state) noexcept;
    Process(Process&&) noexcept;
    Process& operator=(Process&&) noexcept;
    ~Process();

    pid_t pid() const noexcept;
    /// The exit status once the child has exited: its exit code, or minus
    /// the signal number that killed it (-9 after kill()); unset while it
    /// runs. Reaps the child if it has just exited.
    std::optional<int> returncode() const;
    /// Waits for the child to exit and returns returncode(). Any number of
    /// tasks may wait. With a PIPE that nobody reads, the child can block on
    /// a full pipe forever: use communicate().
    detail::ProcessWait wait() noexcept;
    /// Writes `input` to stdin (if it is a PIPE; then closes it), reads
    /// stdout and stderr (those that are PIPEs) until EOF, all at once so a
    /// child with large output never deadlocks, and waits for the child to
    /// exit. Returns (stdout data, stderr data); empty for non-PIPEs.
    /// A child that closes its stdin early is not an error.
    Coro<std::pair<std::string, std::string>> communicate(std::string input = {});

    /// Sends `sig` (through the pidfd: never to a recycled pid). Does
    /// nothing once the child was reaped.
    void send_signal(int sig);
    void terminate() { send_signal(SIGTERM); }
    void kill() { send_signal(SIGKILL); }

    /// The pipes: null unless that stream is a PIPE.
    PipeWriter* stdin() const noexcept;
    PipeReader* stdout() const noexcept;
    PipeReader* stderr() const noexcept;

    /// Whether destroying this Process kills a child still running.
    void set_kill_on_destroy(bool kill) noexcept;

private:
    std::unique_ptr<detail::ProcessState> state_;
};

/// Starts `program` with `args` (argv[1...]; argv[0] is `program`), found
/// through PATH when it has no '/' (asyncio.create_subprocess_exec).
/// std::system_error naming the program when it cannot be started (ENOENT,
/// EACCES...); std::invalid_argument for impossible options (STDOUT for
/// stdin or stdout).
Coro<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                     SubprocessOptions options = {});
/// Runs `cmd` with /bin/sh -c (asyncio.create_subprocess_shell).
Coro<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options = {});

namespace detail {
/// Starts the child at once (what create_subprocess_exec runs).
Process spawn_process(const std::string& program, const std::vector<std::string>& args,
                      const SubprocessOptions& options);
}  // namespace detail

}  // namespace aio
