#include "aio/streams.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "net_internal.hpp"

namespace aio {
namespace detail {

namespace {
// A buffer emptied with more capacity than this gives its memory back, so
// that an idle connection does not keep the peak of a burst.
constexpr std::size_t kShrinkAbove = 256 * 1024;
}  // namespace

// --- StreamReaderState -------------------------------------------------------------

void StreamReaderState::feed_data(std::string_view data) {
    if (eof_) throw InvalidStateError("StreamReader.feed_data() after feed_eof()");
    if (data.empty()) return;
    if (waiter_ && head_ == buf_.size() && waiter_->take_directly(data)) {
        ReadOp* w = waiter_;
        waiter_ = nullptr;
        w->wake();
        if (data.empty()) return;
    }
    if (head_ > 0 && head_ >= buf_.size() - head_) {  // the read part outweighs the rest: compact
        buf_.erase(0, head_);
        head_ = 0;
    }
    buf_.append(data);
    wake_waiter();
    // Flow control: stop reading while nobody consumes (asyncio: 2 * limit).
    if (transport_ && !paused_ && !waiter_ && size() > 2 * limit_) {
        paused_ = true;
        transport_->pause_reading();
    }
}

void StreamReaderState::feed_eof() {
    eof_ = true;
    wake_waiter();
}

void StreamReaderState::set_exception(std::exception_ptr e) {
    exc_ = std::move(e);
    wake_waiter();
}

void StreamReaderState::wake_waiter() {
    if (waiter_ && waiter_->satisfied()) {
        ReadOp* w = waiter_;
        waiter_ = nullptr;
        w->wake();
    }
}

void StreamReaderState::maybe_resume_transport() {
    if (paused_ && size() <= limit_) {
        paused_ = false;
        if (transport_) transport_->resume_reading();
    }
}

std::string StreamReaderState::take(std::size_t n) {
    std::string out(buf_.data() + head_, n);
    discard(n);
    return out;
}

void StreamReaderState::unread(std::string_view data) {
    if (head_ >= data.size()) {
        head_ -= data.size();
        buf_.replace(head_, data.size(), data);
    } else {
        buf_.insert(head_, data);
    }
}

void StreamReaderState::discard(std::size_t n) {
    head_ += n;
    if (head_ == buf_.size()) {
        buf_.clear();
        head_ = 0;
        if (buf_.capacity() > kShrinkAbove) std::string().swap(buf_);
    }
    maybe_resume_transport();
}

// --- ReadOp ---------------------------------------------------------------------------

bool ReadOp::search() {
    const std::string_view data = st_->view();
    std::size_t min_len = sep_.size(), max_len = sep_.size();
    if (!seps_.empty()) {
        min_len = SIZE_MAX;
        max_len = 0;
        for (std::string_view s : seps_) {
            min_len = std::min(min_len, s.size());
            max_len = std::max(max_len, s.size());
        }
    }
    if (data.size() < offset_ + min_len) return false;
    std::size_t best_end = std::string_view::npos;
    auto try_sep = [&](std::string_view s) {
        std::size_t pos = data.find(s, offset_);
        if (pos != std::string_view::npos && (best_end == std::string_view::npos || pos + s.size() < best_end)) {
            best_end = pos + s.size();
            match_start_ = pos;
        }
    };
    if (seps_.empty())
        try_sep(sep_);
    else
        for (std::string_view s : seps_) try_sep(s);
    if (best_end != std::string_view::npos) {
        match_end_ = best_end;
        found_ = true;
        return true;
    }
    // Data before this offset cannot start a separator: never search it again.
    offset_ = data.size() + 1 > max_len ? data.size() + 1 - max_len : 0;
    if (offset_ > st_->limit_) {
        overrun_ = true;
        return true;
    }
    return false;
}

bool ReadOp::satisfied() {
    StreamReaderState& s = *st_;
    if (s.exc_) return true;
    switch (kind_) {
        case Kind::some:
            return s.size() > 0 || s.eof_;
        case Kind::all:
            return s.eof_;
        case Kind::exactly:
            return s.size() >= n_ || s.eof_;
        case Kind::until:
        case Kind::line:
            return search() || s.eof_;
    }
    return true;
}

bool ReadOp::take_directly(std::string_view& data) {
    if (kind_ != Kind::some || st_->exc_) return false;
    const std::size_t k = std::min(n_, data.size());
    result_ = std::string(data.data(), k);
    has_result_ = true;
    data.remove_prefix(k);
    return true;
}

bool ReadOp::await_ready() {
    if ((kind_ == Kind::some || kind_ == Kind::exactly) && n_ == 0 && !st_->exc_) return true;
    if (st_->waiter_)
        throw RuntimeError("StreamReader: a read was started while another task is already waiting for incoming data");
    return satisfied();
}

void ReadOp::await_suspend(std::coroutine_handle<> h, std::source_location at) {
    StreamReaderState& s = *st_;
    s.waiter_ = this;
    // Waiting for more than the buffer may hold before pausing: read on.
    if (s.paused_) {
        s.paused_ = false;
        if (s.transport_) s.transport_->resume_reading();
    }
    suspend_here(h, at);
}

bool ReadOp::cancel_wait() {
    if (st_->waiter_ != this) return false;  // already woken: the task is queued
    st_->waiter_ = nullptr;
    cancelled_ = true;
    task_->loop()->schedule(task_);
    return true;
}

std::string ReadOp::finish_until() {
    StreamReaderState& s = *st_;
    if (found_) {
        if (match_start_ > s.limit_) {
            if (kind_ == Kind::line) {
                std::size_t consumed = match_start_;
                s.discard(match_end_);  // drop the overlong line
                throw LimitOverrunError("Separator is found, but chunk is longer than limit", consumed);
            }
            throw LimitOverrunError("Separator is found, but chunk is longer than limit", match_start_);
        }
        return s.take(match_end_);
    }
    if (overrun_) {
        const std::size_t consumed = offset_;
        if (kind_ == Kind::line) {
            // asyncio's readline: drop what was examined (and the newline if it follows).
            std::string_view rest = s.view().substr(std::min(consumed, s.size()));
            if (!rest.empty() && rest.front() == '\n')
                s.discard(consumed + 1);
            else
                s.discard(s.size());
        }
        throw LimitOverrunError("Separator is not found, and chunk exceed the limit", consumed);
    }
    // EOF without a separator.
    std::string partial = s.take(s.size());
    if (kind_ == Kind::line) return partial;
    throw IncompleteReadError(std::move(partial), std::nullopt);
}

std::string ReadOp::await_resume() {
    if (task_) {
        if (has_result_) {
            try {
                resume_here();
            } catch (...) {
                // Cancelled after the data was handed over: give it back.
                has_result_ = false;
                st_->unread(result_);
                throw;
            }
            return std::move(result_);
        }
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());  // nothing consumed
    }
    StreamReaderState& s = *st_;
    if (s.exc_) std::rethrow_exception(s.exc_);
    switch (kind_) {
        case Kind::some:
            return s.take(std::min(n_, s.size()));
        case Kind::all:
            return s.take(s.size());
        case Kind::exactly:
            if (s.size() >= n_) return s.take(n_);
            {
                std::string partial = s.take(s.size());
                throw IncompleteReadError(std::move(partial), n_);
            }
        case Kind::until:
        case Kind::line:
            if (!found_ && !overrun_) search();
            return finish_until();
    }
    return {};
}

// --- StreamProtocol -------------------------------------------------------------------

StreamProtocol::~StreamProtocol() {
    if (reader && reader->transport_ == transport) reader->transport_ = nullptr;
}

void StreamProtocol::connection_made(Transport& t) {
    transport = &t;
    if (reader) reader->transport_ = &t;
}

void StreamProtocol::data_received(std::string_view data) {
    if (reader) reader->feed_data(data);
}

bool StreamProtocol::eof_received() {
    if (reader) reader->feed_eof();
    return true;  // keep the writing side open (half-close), as asyncio
}

void StreamProtocol::connection_lost(std::exception_ptr exc) {
    lost = true;
    lost_exc = exc;
    if (reader) {
        if (exc)
            reader->set_exception(exc);
        else if (!reader->eof_)
            reader->feed_eof();
        reader->transport_ = nullptr;
        reader->paused_ = false;
    }
    transport = nullptr;
    paused = false;
    drain_waiters.wake_all();
    closed_waiters.wake_all();
}

void StreamProtocol::resume_writing() {
    paused = false;
    drain_waiters.wake_all();
}

// --- StreamWriter -----------------------------------------------------------------------

StreamWriterState::~StreamWriterState() {
    try {
        if (transport && !transport->is_closing()) transport->close();
    } catch (...) {
    }
}

void StreamWait::finish() {
    if (task_) {
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }
    const StreamProtocol& p = *w_->protocol;
    if (kind_ == Kind::closed) {
        if (p.lost_exc) std::rethrow_exception(p.lost_exc);
        return;
    }
    if (w_->reader && w_->reader->exc_) std::rethrow_exception(w_->reader->exc_);
    if (p.lost) {
        if (p.lost_exc) std::rethrow_exception(p.lost_exc);
        throw ConnectionResetError("Connection lost");
    }
}

// --- building streams ------------------------------------------------------------------

StreamPair make_socket_streams(EventLoop& loop, Socket sock, std::size_t limit,
                               const std::shared_ptr<ServerState>& server, const SocketAddress* peer) {
    IntrusivePtr<StreamReaderState> reader = IntrusivePtr<StreamReaderState>::adopt(new StreamReaderState(limit));
    auto protocol = std::make_shared<StreamProtocol>(reader);
    std::shared_ptr<Transport> transport = make_socket_transport(loop, std::move(sock), protocol, server, peer);
    auto* w = new StreamWriterState(std::move(transport), std::move(protocol), reader);
    return StreamPair(StreamReader(std::move(reader)), StreamWriter(IntrusivePtr<StreamWriterState>::adopt(w)));
}

namespace {

// Holds one attach() of the server for a client task. A by-value coroutine
// parameter lives in the frame, so the detach also happens when the task is
// cancelled before its first step (the body never runs) or is never started.
class ServerAttachment {
public:
    explicit ServerAttachment(std::shared_ptr<ServerState> server) : server_(std::move(server)) { server_->attach(); }
    ServerAttachment(ServerAttachment&& other) noexcept = default;
    ServerAttachment& operator=(ServerAttachment&&) = delete;
    ~ServerAttachment() {
        if (server_) server_->detach();
    }
    ServerState& operator*() const noexcept { return *server_; }

private:
    std::shared_ptr<ServerState> server_;
};

Coro<void> run_client(ClientConnectedCallback cb, StreamReader reader, StreamWriter writer,
                      ServerAttachment server) {
    std::exception_ptr error;
    std::exception_ptr cancelled;
    try {
        Coro<void> handler = cb(reader, writer);
        co_await handler;
    } catch (const CancelledError&) {
        cancelled = std::current_exception();
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        (*server).loop().call_exception_handler({"Unhandled exception in client_connected_cb", error, {}});
        writer.transport().close();
    }
    if (cancelled) std::rethrow_exception(cancelled);
}

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_os_error(errno, "fcntl(O_NONBLOCK)");
}

bool is_socket_fd(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) throw_os_error(errno, "fstat");
    return S_ISSOCK(st.st_mode);
}

}  // namespace

AcceptHandler stream_acceptor(ClientConnectedCallback cb, std::size_t limit) {
    return [cb = std::move(cb), limit](const std::shared_ptr<ServerState>& server, Socket sock,
                                       const SocketAddress& peer) {
        EventLoop& loop = server->loop();
        StreamPair streams = make_socket_streams(loop, std::move(sock), limit, server, &peer);
        ServerAttachment attachment(server);  // detached when the handler task's frame goes
        loop.create_task(run_client(cb, std::move(streams.first), std::move(streams.second), std::move(attachment)));
    };
}

Coro<Server> start_stream_server(ClientConnectedCallback cb, std::string host, std::uint16_t port,
                                 ServerOptions options, std::size_t limit) {
    std::vector<Socket> sockets = co_await listen_tcp(std::move(host), port, options);
    co_return make_server(get_running_loop(), std::move(sockets), stream_acceptor(std::move(cb), limit), options);
}

Coro<Server> start_unix_stream_server(ClientConnectedCallback cb, std::string path, ServerOptions options,
                                      std::size_t limit) {
    std::vector<Socket> sockets = listen_unix(path, options);
    Server server = make_server(get_running_loop(), std::move(sockets), stream_acceptor(std::move(cb), limit), options);
    if (!path.empty() && path.front() != '\0') server.state()->unix_path = path;
    co_return server;
}

Server start_stream_server_on(ClientConnectedCallback cb, Socket listening, ServerOptions options, std::size_t limit) {
    std::vector<Socket> sockets;
    sockets.push_back(std::move(listening));
    return make_server(get_running_loop(), std::move(sockets), stream_acceptor(std::move(cb), limit), options);
}

FdStreams open_fd_streams(EventLoop& loop, int read_fd, int write_fd, std::size_t limit) {
    FdStreams out;
    auto make = [&](int fd, bool readable, bool writable) {
        bool sock = false;
        try {
            set_nonblocking(fd);
            sock = is_socket_fd(fd);
        } catch (...) {
            ::close(fd);
            throw;
        }
        if (!sock) ignore_sigpipe_once();
        IntrusivePtr<StreamReaderState> reader;
        if (readable) reader = IntrusivePtr<StreamReaderState>::adopt(new StreamReaderState(limit));
        auto protocol = std::make_shared<StreamProtocol>(reader);
        std::shared_ptr<Transport> transport =
            FdTransport::start(loop, fd, sock, readable, writable, protocol, nullptr, nullptr);
        if (readable) out.reader.emplace(reader);
        if (writable)
            out.writer.emplace(IntrusivePtr<StreamWriterState>::adopt(
                new StreamWriterState(std::move(transport), std::move(protocol), reader)));
        else
            // Nobody closes a read-only stream's transport by dropping a
            // writer: it closes at EOF or on error.
            (void)transport;
    };
    if (read_fd >= 0 && read_fd == write_fd) {
        make(read_fd, true, true);
        return out;
    }
    if (read_fd >= 0) make(read_fd, true, false);
    if (write_fd >= 0) make(write_fd, false, true);
    return out;
}

}  // namespace detail

// --- public API ------------------------------------------------------------------------------

StreamReader::StreamReader(std::size_t limit)
    : st_(detail::IntrusivePtr<detail::StreamReaderState>::adopt(new detail::StreamReaderState(limit))) {
    if (limit == 0) throw std::invalid_argument("StreamReader: limit must be positive");
}

detail::ReadOp StreamReader::read(std::ptrdiff_t n) {
    if (n < 0) return detail::ReadOp(st_.get(), detail::ReadOp::Kind::all, 0);
    return detail::ReadOp(st_.get(), detail::ReadOp::Kind::some, static_cast<std::size_t>(n));
}

detail::ReadOp StreamReader::readline() {
    return detail::ReadOp(st_.get(), detail::ReadOp::Kind::line, "\n", {});
}

detail::ReadOp StreamReader::readuntil(std::string_view separator) {
    if (separator.empty()) throw std::invalid_argument("readuntil: separator should be at least one-byte string");
    return detail::ReadOp(st_.get(), detail::ReadOp::Kind::until, separator, {});
}

detail::ReadOp StreamReader::readuntil(std::span<const std::string_view> separators) {
    if (separators.empty()) throw std::invalid_argument("readuntil: at least one separator is required");
    for (std::string_view s : separators)
        if (s.empty()) throw std::invalid_argument("readuntil: separator should be at least one-byte string");
    return detail::ReadOp(st_.get(), detail::ReadOp::Kind::until, separators.front(), separators);
}

detail::ReadOp StreamReader::readexactly(std::size_t n) {
    return detail::ReadOp(st_.get(), detail::ReadOp::Kind::exactly, n);
}

void StreamWriter::throw_empty() { throw InvalidStateError("empty aio::StreamWriter"); }

void StreamWriter::writelines(std::span<const std::string_view> parts) {
    check_writable();
    w_->transport->writelines(parts);
}

void StreamWriter::close() { check().transport->close(); }

Coro<StreamPair> open_connection(std::string host, std::uint16_t port, ConnectOptions options, std::size_t limit) {
    Socket sock = co_await detail::open_tcp_socket(std::move(host), port, std::move(options));
    co_return detail::make_socket_streams(get_running_loop(), std::move(sock), limit);
}

Coro<StreamPair> open_connection(Socket sock, std::size_t limit) {
    co_return detail::make_socket_streams(get_running_loop(), std::move(sock), limit);
}

Coro<StreamPair> open_unix_connection(std::string path, std::size_t limit) {
    Socket sock = co_await detail::open_unix_socket(std::move(path));
    co_return detail::make_socket_streams(get_running_loop(), std::move(sock), limit);
}

}  // namespace aio
