// aio/streams.hpp — asyncio's high-level streams: StreamReader,
// StreamWriter, open_connection / start_server and their Unix variants.
//
//   auto [reader, writer] = co_await aio::open_connection("127.0.0.1", 8888);
//   writer.write("Hello World!\n");
//   co_await writer.drain();
//   std::string line = co_await reader.readline();
//   writer.close();
//   co_await writer.wait_closed();
//
// StreamReader is independent of sockets: a transport (or a test) feeds it
// with feed_data() / feed_eof(); any non-blocking stream descriptor (socket,
// pipe) can back a reader and a writer (detail::open_fd_streams).
//
// Handles: StreamReader, StreamWriter and Server are cheap shared handles
// (copies refer to the same stream). The connection is closed when the last
// StreamWriter copy is destroyed (RAII), so a server's client handler that
// returns closes its connection.
//
// Cancellation (what a cancelled await leaves behind):
//   read / readline / readuntil / readexactly: nothing consumed — the data
//     stays buffered and the next read sees it; the stream stays usable.
//   drain: the buffered data stays queued and is still sent; usable.
//   wait_closed: stops waiting only.
//   open_connection: the attempt in progress is abandoned, its socket closed.
//
// Errors: a read after the connection failed raises its error (e.g.
// aio::ConnectionResetError); readexactly/readuntil at EOF raise
// aio::IncompleteReadError with the partial data; readuntil/readline beyond
// the limit raise aio::LimitOverrunError; write() after close() raises
// aio::RuntimeError, after the connection failed its error; drain() after the
// connection was lost raises aio::ConnectionResetError("Connection lost").
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "aio/net_errors.hpp"
#include "aio/transport.hpp"

namespace aio {

class StreamReader;
class StreamWriter;

namespace detail {

class ReadOp;

/// The buffer and state behind a StreamReader (single-threaded refcount).
class StreamReaderState : public PoolAllocated {
public:
    explicit StreamReaderState(std::size_t limit) : limit_(limit) {}
    StreamReaderState(const StreamReaderState&) = delete;
    StreamReaderState& operator=(const StreamReaderState&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    std::size_t size() const noexcept { return buf_.size() - head_; }
    std::string_view view() const noexcept { return std::string_view(buf_.data() + head_, size()); }

    void feed_data(std::string_view data);
    void feed_eof();
    void set_exception(std::exception_ptr e);
    /// Removes and returns the first n buffered bytes.
    std::string take(std::size_t n);
    void discard(std::size_t n);
    /// Puts bytes back at the front (a read cancelled after it got them).
    void unread(std::string_view data);

    std::size_t limit_;
    bool eof_ = false;
    bool paused_ = false;  // we paused the transport (buffer over 2 * limit)
    std::exception_ptr exc_;
    ReadOp* waiter_ = nullptr;
    Transport* transport_ = nullptr;

private:
    void wake_waiter();
    void maybe_resume_transport();

    std::string buf_;
    std::size_t head_ = 0;
    std::uint32_t refs_ = 1;
};

/// The awaitable behind every StreamReader read: completes at once when the
/// buffer can satisfy it, otherwise waits until fed data does (or EOF, or an
/// error). Nothing is consumed until the awaiting task resumes, so a
/// cancelled read loses no data.
class ReadOp final : public Suspension {
public:
    enum class Kind : std::uint8_t { some, all, exactly, until, line };

    ReadOp(StreamReaderState* s, Kind kind, std::size_t n) noexcept : st_(s), kind_(kind), n_(n) {}
    ReadOp(StreamReaderState* s, Kind kind, std::string_view sep, std::span<const std::string_view> seps) noexcept
        : st_(s), kind_(kind), n_(0), sep_(sep), seps_(seps) {}
    ~ReadOp() {
        if (st_->waiter_ == this) st_->waiter_ = nullptr;
    }

    bool await_ready();
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current());
    std::string await_resume();

    /// Whether the read can complete now (called after the buffer changed).
    bool satisfied();
    /// Data arrives while the buffer is empty: a waiting read(n) takes its
    /// share straight from the transport, without passing through the
    /// buffer. Removes what it took from `data`; false if not a read(n).
    bool take_directly(std::string_view& data);
    void wake() { task_->loop()->schedule(task_); }

private:
    bool cancel_wait() override;
    bool search();
    std::string finish_until();

    IntrusivePtr<StreamReaderState> st_;
    Kind kind_;
    bool found_ = false;
    bool overrun_ = false;
    bool cancelled_ = false;
    bool has_result_ = false;
    std::size_t n_;
    std::size_t offset_ = 0;  // where the separator search resumes
    std::size_t match_start_ = 0;
    std::size_t match_end_ = 0;
    std::string_view sep_;
    std::span<const std::string_view> seps_;
    std::string result_;  // filled by take_directly()
};

/// The protocol between a transport and a reader/writer pair (asyncio's
/// StreamReaderProtocol).
class StreamProtocol final : public Protocol {
public:
    explicit StreamProtocol(IntrusivePtr<StreamReaderState> reader) : reader(std::move(reader)) {}
    ~StreamProtocol() override;

    void connection_made(Transport& t) override;
    void data_received(std::string_view data) override;
    bool eof_received() override;
    void connection_lost(std::exception_ptr exc) override;
    void pause_writing() override { paused = true; }
    void resume_writing() override;

    Transport* transport = nullptr;
    IntrusivePtr<StreamReaderState> reader;  // null for a write-only stream
    bool paused = false;
    bool lost = false;
    std::exception_ptr lost_exc;
    WaitList drain_waiters;
    WaitList closed_waiters;
};

/// What a StreamWriter refers to; closes the transport when the last
/// writer handle goes.
class StreamWriterState : public PoolAllocated {
public:
    StreamWriterState(std::shared_ptr<Transport> t, std::shared_ptr<StreamProtocol> p,
                      IntrusivePtr<StreamReaderState> r) noexcept
        : transport(std::move(t)), protocol(std::move(p)), reader(std::move(r)) {}
    ~StreamWriterState();
    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    std::shared_ptr<Transport> transport;
    std::shared_ptr<StreamProtocol> protocol;
    IntrusivePtr<StreamReaderState> reader;

private:
    std::uint32_t refs_ = 1;
};

/// Waits in one of a StreamProtocol's wait lists (drain or closed).
class StreamWait final : public Suspension, public WaitNode {
public:
    enum class Kind : std::uint8_t { drain, closed };
    StreamWait(StreamWriterState* w, Kind kind) noexcept : w_(w), kind_(kind) {}
    ~StreamWait() {
        if (linked()) list().remove(this);
    }
    bool await_ready() const noexcept {
        const StreamProtocol& p = *w_->protocol;
        if (kind_ == Kind::closed) return p.lost;
        if (w_->reader && w_->reader->exc_) return true;
        return p.lost || !p.paused;
    }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        list().push_back(this);
        suspend_here(h, at);
    }
    void await_resume() {
        if (task_ || w_->protocol->lost || (w_->reader && w_->reader->exc_)) [[unlikely]]
            finish();  // drain() returns at once in the common case
    }

private:
    void finish();
    WaitList& list() const noexcept {
        return kind_ == Kind::drain ? w_->protocol->drain_waiters : w_->protocol->closed_waiters;
    }
    void wake() override { task_->loop()->schedule(task_); }
    bool cancel_wait() override {
        if (!linked()) return false;
        list().remove(this);
        cancelled_ = true;
        task_->loop()->schedule(task_);
        return true;
    }

    IntrusivePtr<StreamWriterState> w_;
    Kind kind_;
    bool cancelled_ = false;
};

}  // namespace detail

/// Reads from a byte stream (asyncio.StreamReader). Every read is an
/// awaitable; only one task may wait on a reader at a time.
class StreamReader {
public:
    static constexpr std::size_t default_limit = 64 * 1024;

    /// A reader fed by hand (feed_data/feed_eof), e.g. in tests. `limit`
    /// bounds readline/readuntil and the buffering before reading pauses.
    explicit StreamReader(std::size_t limit = default_limit);

    /// Up to n bytes (at least one, unless at EOF: then ""). n < 0: every
    /// byte until EOF.
    detail::ReadOp read(std::ptrdiff_t n = -1);
    /// One line with its "\n"; at EOF the partial last line ("" when none).
    /// LimitOverrunError (the line is discarded) if longer than the limit.
    detail::ReadOp readline();
    /// Data up to and including the separator. IncompleteReadError at EOF
    /// (partial() holds the rest), LimitOverrunError if the separator is
    /// not within the limit (the data stays buffered).
    detail::ReadOp readuntil(std::string_view separator = "\n");
    /// The first of several separators (the shortest result wins). The
    /// separators must outlive the await: await the call directly. With
    /// g++ 12 pass a named array: a braced list inside a co_await
    /// expression (`co_await r.readuntil({"a", "b"})`) fails to compile
    /// ("array used as initializer"), a known g++ 12 coroutine bug.
    detail::ReadOp readuntil(std::span<const std::string_view> separators);
    detail::ReadOp readuntil(std::initializer_list<std::string_view> separators) {
        return readuntil(std::span<const std::string_view>(separators.begin(), separators.size()));
    }
    /// Exactly n bytes; IncompleteReadError (partial() = what was left) at EOF.
    detail::ReadOp readexactly(std::size_t n);

    /// EOF was fed and the buffer is empty.
    bool at_eof() const noexcept { return st_->eof_ && st_->size() == 0; }
    void feed_data(std::string_view data) { st_->feed_data(data); }
    void feed_eof() { st_->feed_eof(); }
    void set_exception(std::exception_ptr e) { st_->set_exception(std::move(e)); }
    std::exception_ptr exception() const noexcept { return st_->exc_; }
    /// The transport paused and resumed for flow control (set by the stream
    /// protocol; null for a reader fed by hand).
    void set_transport(Transport* t) noexcept { st_->transport_ = t; }

    std::size_t limit() const noexcept { return st_->limit_; }
    /// Bytes buffered and not read yet.
    std::size_t buffered() const noexcept { return st_->size(); }

    // Internal.
    explicit StreamReader(detail::IntrusivePtr<detail::StreamReaderState> s) noexcept : st_(std::move(s)) {}
    detail::StreamReaderState* state() const noexcept { return st_.get(); }

private:
    detail::IntrusivePtr<detail::StreamReaderState> st_;
};

/// Writes to a byte stream (asyncio.StreamWriter).
class StreamWriter {
public:
    /// An empty handle.
    StreamWriter() = default;

    /// Queues `data` (sent at once if the socket takes it). Never blocks:
    /// call drain() to wait while the buffer is over the high-water mark.
    void write(std::string_view data) {
        check_writable();
        w_->transport->write(data);
    }
    void write(std::span<const std::byte> data) {
        write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    }
    void writelines(std::span<const std::string_view> parts);
    void writelines(std::initializer_list<std::string_view> parts) {
        writelines(std::span<const std::string_view>(parts.begin(), parts.size()));
    }
    template <class Range>
        requires(!std::is_convertible_v<const Range&, std::span<const std::string_view>>)
    void writelines(const Range& parts) {
        check_writable();
        w_->transport->writelines(parts);
    }
    /// Waits until the write buffer is at or below the low-water mark (does
    /// not suspend when it already is). Raises the connection's error.
    detail::StreamWait drain() {
        check();
        return detail::StreamWait(w_.get(), detail::StreamWait::Kind::drain);
    }
    bool can_write_eof() const { return check().transport->can_write_eof(); }
    /// Half-closes after the buffered data: the peer reads EOF.
    void write_eof() { check().transport->write_eof(); }
    /// Closes after flushing the buffer. Idempotent.
    void close();
    bool is_closing() const { return check().transport->is_closing(); }
    /// Waits until the connection is closed (connection_lost); raises the
    /// error the connection ended with, if any.
    detail::StreamWait wait_closed() {
        check();
        return detail::StreamWait(w_.get(), detail::StreamWait::Kind::closed);
    }
    /// "peername", "sockname" (aio::SocketAddress), "socket" / "pipe" (fd).
    ExtraInfo get_extra_info(std::string_view name) const { return check().transport->get_extra_info(name); }
    Transport& transport() const { return *check().transport; }
    explicit operator bool() const noexcept { return static_cast<bool>(w_); }

    // Internal.
    explicit StreamWriter(detail::IntrusivePtr<detail::StreamWriterState> w) noexcept : w_(std::move(w)) {}

private:
    detail::StreamWriterState& check() const {
        if (!w_) [[unlikely]]
            throw_empty();
        return *w_;
    }
    void check_writable() const {
        const detail::StreamProtocol& p = *check().protocol;
        if (p.lost && p.lost_exc) [[unlikely]]
            std::rethrow_exception(p.lost_exc);
    }
    [[noreturn]] static void throw_empty();
    detail::IntrusivePtr<detail::StreamWriterState> w_;
};

using StreamPair = std::pair<StreamReader, StreamWriter>;

/// Connects to host:port (getaddrinfo + happy eyeballs) and returns the
/// reader and writer of the connection.
Coro<StreamPair> open_connection(std::string host, std::uint16_t port, ConnectOptions options = {},
                                 std::size_t limit = StreamReader::default_limit);
/// Wraps an already connected socket.
Coro<StreamPair> open_connection(Socket sock, std::size_t limit = StreamReader::default_limit);
/// Connects to a Unix domain socket.
Coro<StreamPair> open_unix_connection(std::string path, std::size_t limit = StreamReader::default_limit);

/// A client handler: called with each connection's reader and writer.
using ClientConnectedCallback = std::function<Coro<void>(StreamReader, StreamWriter)>;

namespace detail {
/// The streams over an accepted/connected socket.
StreamPair make_socket_streams(EventLoop& loop, Socket sock, std::size_t limit,
                               const std::shared_ptr<ServerState>& server = nullptr,
                               const SocketAddress* peer = nullptr);
AcceptHandler stream_acceptor(ClientConnectedCallback cb, std::size_t limit);
Coro<Server> start_stream_server(ClientConnectedCallback cb, std::string host, std::uint16_t port,
                                 ServerOptions options, std::size_t limit);
Coro<Server> start_unix_stream_server(ClientConnectedCallback cb, std::string path, ServerOptions options,
                                      std::size_t limit);
Server start_stream_server_on(ClientConnectedCallback cb, Socket listening, ServerOptions options, std::size_t limit);

/// Wraps the callable so that each connection's task keeps the callable
/// (and so a capturing lambda's captures) alive while it runs.
template <class F>
ClientConnectedCallback share_callback(F cb) {
    auto shared = std::make_shared<F>(std::move(cb));
    return [shared](StreamReader r, StreamWriter w) -> Coro<void> {
        std::shared_ptr<F> keep = shared;  // in this frame: lives as long as the handler
        co_await (*keep)(std::move(r), std::move(w));
    };
}

/// Streams over any non-blocking stream descriptors — sockets or pipe ends —
/// for subprocess pipes and the like. Takes ownership of the descriptors
/// (made non-blocking here; closed with their transport). read_fd or
/// write_fd may be -1; equal descriptors share one transport. Pipes get
/// read()/write() and SIGPIPE is ignored process-wide (as Python does);
/// write_eof() on a pipe closes it.
struct FdStreams {
    std::optional<StreamReader> reader;
    std::optional<StreamWriter> writer;
};
FdStreams open_fd_streams(EventLoop& loop, int read_fd, int write_fd, std::size_t limit = StreamReader::default_limit);
}  // namespace detail

/// Listens on host:port and runs `client_connected_cb(reader, writer)` — a
/// callable returning Coro<void> — as a new task for each connection. The
/// connection closes when the handler's last StreamWriter copy is gone. An
/// exception escaping the handler goes to the loop's exception handler.
template <class F>
    requires std::is_invocable_r_v<Coro<void>, F&, StreamReader, StreamWriter>
Coro<Server> start_server(F client_connected_cb, std::string host, std::uint16_t port, ServerOptions options = {},
                          std::size_t limit = StreamReader::default_limit) {
    return detail::start_stream_server(detail::share_callback(std::move(client_connected_cb)), std::move(host), port,
                                       std::move(options), limit);
}

/// The same on an already bound socket (asyncio's start_server(sock=...));
/// listen() is called when serving starts.
template <class F>
    requires std::is_invocable_r_v<Coro<void>, F&, StreamReader, StreamWriter>
Server start_server(F client_connected_cb, Socket listening, ServerOptions options = {},
                    std::size_t limit = StreamReader::default_limit) {
    return detail::start_stream_server_on(detail::share_callback(std::move(client_connected_cb)), std::move(listening),
                                          std::move(options), limit);
}

/// The same on a Unix domain socket path.
template <class F>
    requires std::is_invocable_r_v<Coro<void>, F&, StreamReader, StreamWriter>
Coro<Server> start_unix_server(F client_connected_cb, std::string path, ServerOptions options = {},
                               std::size_t limit = StreamReader::default_limit) {
    return detail::start_unix_stream_server(detail::share_callback(std::move(client_connected_cb)), std::move(path),
                                            std::move(options), limit);
}

}  // namespace aio
