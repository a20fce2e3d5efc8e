#include "aio/transport.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "net_internal.hpp"

namespace aio {
namespace detail {

namespace {

constexpr std::size_t kReadSize = 64 * 1024;
constexpr std::size_t kMaxIov = 64;

/// One receive buffer per thread, shared by every transport: a transport
/// reads, hands the bytes to its protocol, and is done with the buffer.
char* scratch_buffer() {
    thread_local std::unique_ptr<char[]> buffer;
    if (!buffer) buffer = std::make_unique<char[]>(kReadSize);
    return buffer.get();
}

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

// --- FdTransport ----------------------------------------------------------------

FdTransport::FdTransport(EventLoop& loop, int fd, bool is_socket, bool readable, bool writable)
    : loop_(&loop), fd_(fd), is_socket_(is_socket), can_read_(readable), can_write_(writable) {}

FdTransport::~FdTransport() {
    if (fd_ >= 0) ::close(fd_);
    if (res_linked && !loop_dead_) unregister_loop_resource(*loop_, this);
}

std::shared_ptr<FdTransport> FdTransport::start(EventLoop& loop, int fd, bool is_socket, bool readable,
                                                bool writable, std::shared_ptr<Protocol> protocol,
                                                const std::shared_ptr<ServerState>& server,
                                                const SocketAddress* peer) {
    std::shared_ptr<FdTransport> t;
    try {
        t = std::make_shared<FdTransport>(loop, fd, is_socket, readable, writable);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (peer) {
        t->peer_ = *peer;
        t->has_peer_ = true;
    }
    register_loop_resource(loop, t.get());
    t->self_ = t;
    t->set_protocol(std::move(protocol));
    if (server) {
        t->server_ = server;
        server->attach();
        server->add_client(t.get());
    }
    try {
        t->proto_->connection_made(*t);
    } catch (...) {
        t->abort();
        throw;
    }
    if (!t->closing_ && t->can_read_ && !t->read_paused_) t->set_reading(true);
    return t;
}

void FdTransport::set_protocol(std::shared_ptr<Protocol> protocol) {
    protocol_ = std::move(protocol);
    proto_ = protocol_.get();
    buffered_ = dynamic_cast<BufferedProtocol*>(proto_);
}

ExtraInfo FdTransport::get_extra_info(std::string_view name) const {
    if (fd_ < 0) return {};
    if (name == "socket") return is_socket_ ? ExtraInfo(fd_) : ExtraInfo();
    if (name == "pipe") return is_socket_ ? ExtraInfo() : ExtraInfo(fd_);
    if (!is_socket_) return {};
    SocketAddress a;
    socklen_t len = SocketAddress::capacity();
    if (name == "peername") {
        if (has_peer_) return peer_;
        if (::getpeername(fd_, a.data(), &len) < 0) return {};
    } else if (name == "sockname") {
        if (::getsockname(fd_, a.data(), &len) < 0) return {};
    } else {
        return {};
    }
    a.set_size(len);
    return a;
}

void FdTransport::set_reading(bool on) {
    if (on == reading_ || loop_dead_) return;
    if (loop_->is_closed()) {  // the loop's descriptor table is gone
        reading_ = on;
        return;
    }
    loop_->set_io_callback(fd_, true, on ? &read_watch_ : nullptr);
    reading_ = on;
}

void FdTransport::set_writing(bool on) {
    if (on == writing_ || loop_dead_) return;
    if (loop_->is_closed()) {
        writing_ = on;
        return;
    }
    loop_->set_io_callback(fd_, false, on ? &write_watch_ : nullptr);
    writing_ = on;
}

void FdTransport::pause_reading() {
    if (closing_ || read_paused_ || !can_read_) return;
    read_paused_ = true;
    set_reading(false);
}

void FdTransport::resume_reading() {
    if (closing_ || !read_paused_) return;
    read_paused_ = false;
    set_reading(true);
}

ssize_t FdTransport::send_some(const char* p, std::size_t n) noexcept {
    ssize_t r;
    do {
        r = is_socket_ ? ::send(fd_, p, n, MSG_NOSIGNAL) : ::write(fd_, p, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

void FdTransport::buffer_tail(std::string_view data) {
    if (whead_ == wbuf_.size()) {
        wbuf_.clear();
        whead_ = 0;
    }
    wbuf_.append(data);
    set_writing(true);
    maybe_pause_protocol();
}

void FdTransport::write(std::string_view data) {
    if (eof_requested_) throw RuntimeError("Cannot call write() after write_eof()");
    if (user_closed_) throw RuntimeError("write() on a closed transport");
    if (!can_write_) throw RuntimeError("write() on a read-only transport");
    if (closing_ || data.empty()) return;  // connection lost: connection_lost() tells why
    if (get_write_buffer_size() == 0) {
        ssize_t n = send_some(data.data(), data.size());
        if (n < 0) {
            if (!would_block(errno)) {
                fatal(errno, "write");
                return;
            }
            n = 0;
        }
        if (static_cast<std::size_t>(n) == data.size()) return;  // the common case: no copy
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    buffer_tail(data);
}

void FdTransport::writelines(std::span<const std::string_view> parts) {
    if (eof_requested_) throw RuntimeError("Cannot call writelines() after write_eof()");
    if (user_closed_) throw RuntimeError("writelines() on a closed transport");
    if (!can_write_) throw RuntimeError("writelines() on a read-only transport");
    if (closing_) return;
    std::size_t first = 0;
    if (get_write_buffer_size() == 0) {
        // Gather into one sendmsg/writev; whatever is left is buffered.
        while (first < parts.size()) {
            iovec iov[kMaxIov];
            std::size_t count = 0, total = 0;
            for (std::size_t i = first; i < parts.size() && count < kMaxIov; ++i) {
                iov[count].iov_base = const_cast<char*>(parts[i].data());
                iov[count].iov_len = parts[i].size();
                total += parts[i].size();
                ++count;
            }
            if (total == 0) return;
            ssize_t n;
            do {
                if (is_socket_) {
                    msghdr msg{};
                    msg.msg_iov = iov;
                    msg.msg_iovlen = count;
                    n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
                } else {
                    n = ::writev(fd_, iov, static_cast<int>(count));
                }
            } while (n < 0 && errno == EINTR);
            if (n < 0) {
                if (!would_block(errno)) {
                    fatal(errno, "write");
                    return;
                }
                break;
            }
            std::size_t sent = static_cast<std::size_t>(n);
            if (sent < total) {
                // Buffer the rest of this batch, then the remaining parts.
                std::size_t i = first;
                while (sent >= parts[i].size()) sent -= parts[i++].size();
                buffer_tail(parts[i].substr(sent));
                first = i + 1;
                break;
            }
            first += count;
        }
    }
    for (std::size_t i = first; i < parts.size(); ++i)
        if (!parts[i].empty()) buffer_tail(parts[i]);
}

void FdTransport::maybe_pause_protocol() {
    if (protocol_paused_ || get_write_buffer_size() <= high_ || !proto_) return;
    protocol_paused_ = true;
    try {
        proto_->pause_writing();
    } catch (...) {
        loop_->call_exception_handler({"protocol.pause_writing() failed", std::current_exception(), {}});
    }
}

void FdTransport::maybe_resume_protocol() {
    if (!protocol_paused_ || get_write_buffer_size() > low_ || !proto_) return;
    protocol_paused_ = false;
    try {
        proto_->resume_writing();
    } catch (...) {
        loop_->call_exception_handler({"protocol.resume_writing() failed", std::current_exception(), {}});
    }
}

void FdTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    std::size_t h = high ? *high : (low ? 4 * *low : 64 * 1024);
    std::size_t l = low ? *low : h / 4;
    if (l > h) throw std::invalid_argument("set_write_buffer_limits: low exceeds high");
    high_ = h;
    low_ = l;
    maybe_pause_protocol();
    maybe_resume_protocol();
}

void FdTransport::write_eof() {
    if (!can_write_) throw RuntimeError("write_eof() on a read-only transport");
    if (closing_ || eof_requested_) return;
    eof_requested_ = true;
    if (get_write_buffer_size() == 0) shutdown_write();
}

void FdTransport::shutdown_write() {
    if (eof_sent_) return;
    eof_sent_ = true;
    if (is_socket_) {
        if (::shutdown(fd_, SHUT_WR) < 0 && errno != ENOTCONN) fatal(errno, "shutdown");
    } else {
        close();  // a pipe's end of stream is its closing (asyncio's write pipe transport)
    }
}

void FdTransport::close() {
    if (loop_dead_) return;
    user_closed_ = true;
    if (closing_) return;
    closing_ = true;
    set_reading(false);
    if (get_write_buffer_size() == 0) schedule_lost(nullptr);
}

void FdTransport::abort() {
    if (loop_dead_) return;
    user_closed_ = true;
    force_close(nullptr);
}

void FdTransport::force_close(std::exception_ptr exc) {
    if (lost_pending_ || lost_done_) return;
    wbuf_.clear();
    whead_ = 0;
    closing_ = true;
    schedule_lost(std::move(exc));
}

void FdTransport::schedule_lost(std::exception_ptr exc) {
    if (lost_pending_ || lost_done_) return;
    lost_exc_ = std::move(exc);
    lost_pending_ = true;
    set_reading(false);
    set_writing(false);
    if (!queued_) {
        queued_ = true;
        loop_->schedule(this);
    }
}

void FdTransport::fatal(int err, const char* what) {
    std::string msg = std::string(what) + (is_socket_ ? " on socket transport" : " on pipe transport");
    force_close(make_os_error(err, msg));
}

void FdTransport::protocol_failed(const char* what) {
    std::exception_ptr e = std::current_exception();
    loop_->call_exception_handler({std::string("Fatal error: ") + what + " raised", e, {}});
    force_close(e);
}

void FdTransport::run() {
    queued_ = false;
    if (lost_pending_) {
        deliver_lost();  // may free this: nothing may follow
        return;
    }
    const unsigned ev = pending_;
    pending_ = 0;
    if ((ev & kWrite) && writing_) do_write();
    if ((ev & kRead) && reading_ && !lost_pending_) do_read();
}

void FdTransport::do_read() {
    char* buf;
    std::size_t cap;
    if (buffered_) {
        std::span<char> b;
        try {
            b = buffered_->get_buffer(kReadSize);
        } catch (...) {
            protocol_failed("protocol.get_buffer()");
            return;
        }
        if (b.empty()) {
            try {
                throw RuntimeError("get_buffer() returned an empty buffer");
            } catch (...) {
                protocol_failed("protocol.get_buffer()");
            }
            return;
        }
        buf = b.data();
        cap = b.size();
    } else {
        buf = scratch_buffer();
        cap = kReadSize;
    }
    ssize_t n;
    do {
        n = is_socket_ ? ::recv(fd_, buf, cap, 0) : ::read(fd_, buf, cap);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        try {
            if (buffered_)
                buffered_->buffer_updated(static_cast<std::size_t>(n));
            else
                proto_->data_received(std::string_view(buf, static_cast<std::size_t>(n)));
        } catch (...) {
            protocol_failed("protocol.data_received()");
        }
        return;
    }
    if (n == 0) {
        on_eof();
        return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    fatal(errno, "read");
}

void FdTransport::on_eof() {
    set_reading(false);
    bool keep_open = false;
    try {
        keep_open = proto_->eof_received();
    } catch (...) {
        protocol_failed("protocol.eof_received()");
        return;
    }
    if (!keep_open || !can_write_) close();
}

void FdTransport::do_write() {
    std::size_t len = get_write_buffer_size();
    if (len > 0) {
        ssize_t n = send_some(wbuf_.data() + whead_, len);
        if (n < 0) {
            if (!would_block(errno)) fatal(errno, "write");
            return;
        }
        whead_ += static_cast<std::size_t>(n);
        if (whead_ == wbuf_.size()) {
            wbuf_.clear();
            whead_ = 0;
            if (wbuf_.capacity() > 4 * high_ && wbuf_.capacity() > (1u << 20)) std::string().swap(wbuf_);
        } else if (whead_ >= (64u << 10) && whead_ * 2 >= wbuf_.size()) {
            wbuf_.erase(0, whead_);
            whead_ = 0;
        }
        maybe_resume_protocol();  // may write more
    }
    if (get_write_buffer_size() == 0 && !lost_pending_) {
        set_writing(false);
        if (closing_)
            schedule_lost(nullptr);
        else if (eof_requested_)
            shutdown_write();
    }
}

void FdTransport::deliver_lost() {
    lost_pending_ = false;
    lost_done_ = true;
    std::exception_ptr exc = std::move(lost_exc_);
    std::shared_ptr<Protocol> protocol = std::move(protocol_);
    proto_ = nullptr;
    buffered_ = nullptr;
    if (protocol) {
        try {
            protocol->connection_lost(exc);
        } catch (...) {
            loop_->call_exception_handler({"protocol.connection_lost() failed", std::current_exception(), {}});
        }
    }
    protocol.reset();
    set_reading(false);
    set_writing(false);
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    wbuf_.clear();
    std::string().swap(wbuf_);
    whead_ = 0;
    std::shared_ptr<ServerState> server = std::move(server_);
    if (server) {
        server->remove_client(this);
        server->detach();
    }
    unregister_loop_resource(*loop_, this);
    std::shared_ptr<FdTransport> keep = std::move(self_);
    // `keep` (maybe the last reference) dies here.
}

void FdTransport::release_silently() noexcept {
    loop_dead_ = true;
    closing_ = true;
    user_closed_ = true;
    lost_done_ = true;
    lost_pending_ = false;
    reading_ = writing_ = false;
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    protocol_.reset();
    proto_ = nullptr;
    buffered_ = nullptr;
    server_.reset();
}

void FdTransport::discard() noexcept {
    // The loop closes with this transport queued.
    queued_ = false;
    if (res_linked) unregister_loop_resource(*loop_, this);
    release_silently();
    std::shared_ptr<FdTransport> keep = std::move(self_);
}

void FdTransport::loop_closed() noexcept {
    if (queued_) return;  // discard() handles it
    release_silently();
    std::shared_ptr<FdTransport> keep = std::move(self_);
}

// --- servers ----------------------------------------------------------------------

ServerState::ServerState(EventLoop& loop, std::vector<Socket> sockets, AcceptHandler handler, int backlog)
    : loop_(&loop), sockets_(std::move(sockets)), handler_(std::move(handler)), backlog_(backlog > 0 ? backlog : 100) {
    for (Socket& s : sockets_) listeners_.push_back(std::make_unique<Listener>(this, s.fd()));
    register_loop_resource(loop, this);
}

ServerState::~ServerState() {
    if (!loop_dead_) {
        close();
    }
}

void ServerState::Listener::io_ready(EventLoop& loop) {
    if (queued) return;
    queued = true;
    keep = server->shared_from_this();
    loop.schedule(this);
}

void ServerState::Listener::run() {
    queued = false;
    std::shared_ptr<ServerState> hold = std::move(keep);
    if (!server->closed_ && registered) server->accept_from(*this);
    // `hold` may be the last reference to the server: nothing may follow.
}

void ServerState::Listener::discard() noexcept {
    queued = false;
    std::shared_ptr<ServerState> hold = std::move(keep);
}

void ServerState::set_listening(bool on) {
    if (loop_dead_) return;
    const bool loop_closed = loop_->is_closed();
    for (auto& l : listeners_) {
        if (l->registered == on) continue;
        if (loop_closed) {
            l->registered = on;
            continue;
        }
        loop_->set_io_callback(l->fd, true, on ? l.get() : nullptr);
        l->registered = on;
    }
}

void ServerState::start_serving() {
    if (serving_ || closed_) return;
    serving_ = true;
    for (Socket& s : sockets_) s.listen(backlog_);
    if (!accept_paused_) set_listening(true);
}

void ServerState::accept_from(Listener& l) {
    std::shared_ptr<ServerState> self = shared_from_this();
    for (int i = 0; i < backlog_ && !closed_ && !accept_paused_; ++i) {
        SocketAddress peer;
        socklen_t len = SocketAddress::capacity();
        int fd = ::accept4(l.fd, peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                // Out of descriptors: stop accepting for a second (asyncio).
                loop_->call_exception_handler({"socket.accept() out of system resource; pausing accept for 1 s",
                                               make_os_error(err, "accept"), {}});
                accept_paused_ = true;
                set_listening(false);
                std::weak_ptr<ServerState> weak = self;
                resume_timer_ = loop_->call_later(std::chrono::seconds(1), [weak] {
                    if (auto s = weak.lock()) {
                        s->accept_paused_ = false;
                        if (s->serving_ && !s->closed_) s->set_listening(true);
                    }
                });
                return;
            }
            loop_->call_exception_handler({"socket.accept() failed", make_os_error(err, "accept"), {}});
            return;
        }
        peer.set_size(len);
        try {
            handler_(self, Socket(fd), peer);
        } catch (...) {
            loop_->call_exception_handler({"Error while setting up an accepted connection", std::current_exception(), {}});
        }
    }
}

void ServerState::close() {
    if (closed_) return;
    closed_ = true;
    serving_ = false;
    resume_timer_.cancel();
    set_listening(false);
    // The listeners stay until the state dies: one may be queued on the loop.
    sockets_.clear();
    if (!unix_path.empty()) {
        ::unlink(unix_path.c_str());
        unix_path.clear();
    }
    if (!loop_dead_) unregister_loop_resource(*loop_, this);
    if (serving_forever && !serving_forever->done()) serving_forever->set_result();
    wake_closed_waiters();
}

void ServerState::detach() {
    if (active_ > 0) --active_;
    wake_closed_waiters();
}

void ServerState::wake_closed_waiters() {
    if (!fully_closed() || loop_dead_) return;
    std::vector<Future<void>> waiters = std::move(closed_waiters);
    closed_waiters.clear();
    for (auto& f : waiters)
        if (!f.done()) f.set_result();
}

void ServerState::close_clients(bool abort) {
    std::vector<std::shared_ptr<Transport>> clients;
    for (Transport* t : clients_) clients.push_back(t->shared_from_this());
    for (auto& t : clients) {
        if (abort)
            t->abort();
        else
            t->close();
    }
}

void ServerState::loop_closed() noexcept {
    loop_dead_ = true;
    closed_ = true;
    serving_ = false;
    for (auto& l : listeners_) l->registered = false;
    sockets_.clear();
    if (!unix_path.empty()) ::unlink(unix_path.c_str());
    unix_path.clear();
}

// --- connecting ---------------------------------------------------------------------

namespace {

/// Wakes a task when any of several events happens, or at a deadline.
class RaceWait final : public Suspension, public TimerNode {
public:
    ~RaceWait() {
        if (armed()) loop_->disarm_timer(this);
    }
    /// Something happened (from an io_ready callback).
    void notify() {
        if (!waiting_) {
            pending_ = true;
            return;
        }
        waiting_ = false;
        if (armed()) loop_->disarm_timer(this);
        loop_->schedule(task_);
    }

    struct Awaiter {
        RaceWait& w;
        std::optional<Clock::time_point> deadline;
        bool await_ready() const noexcept { return std::exchange(w.pending_, false); }
        void await_suspend(std::coroutine_handle<> h) {
            w.loop_ = &running_loop_for("aio: connecting");
            if (deadline) {
                w.when_ns = EventLoop::to_ns(*deadline);
                w.loop_->arm_timer(&w);
            }
            w.waiting_ = true;
            w.suspend_here(h);
        }
        void await_resume() {
            if (!w.task_) return;
            w.resume_here();
            if (std::exchange(w.cancelled_, false)) throw CancelledError(w.task_->cancel_message());
        }
    };
    Awaiter wait(std::optional<Clock::time_point> deadline) { return Awaiter{*this, deadline}; }

private:
    void fire(EventLoop& loop) override {
        waiting_ = false;
        loop.schedule(task_);
    }
    bool cancel_wait() override {
        if (!waiting_) return false;
        waiting_ = false;
        cancelled_ = true;
        if (armed()) loop_->disarm_timer(this);
        loop_->schedule(task_);
        return true;
    }

    EventLoop* loop_ = nullptr;
    bool waiting_ = false;
    bool pending_ = false;
    bool cancelled_ = false;
};

/// One connection attempt of the happy-eyeballs race.
struct Attempt final : IoCallback {
    Socket sock;
    SocketAddress address;
    RaceWait* race = nullptr;
    EventLoop* loop = nullptr;
    bool registered = false;
    bool fired = false;

    ~Attempt() { unregister(); }
    void io_ready(EventLoop&) override {
        if (fired) return;
        fired = true;
        race->notify();
    }
    void unregister() noexcept {
        if (!registered) return;
        registered = false;
        try {
            loop->set_io_callback(sock.fd(), false, nullptr);
        } catch (...) {
        }
    }
};

/// Orders addresses by alternating families, the first family first (RFC 8305).
std::vector<AddrInfo> interleave(std::vector<AddrInfo> infos) {
    if (infos.empty()) return infos;
    std::vector<AddrInfo> first, other;
    const int fam = infos.front().family;
    for (auto& a : infos) (a.family == fam ? first : other).push_back(std::move(a));
    std::vector<AddrInfo> out;
    std::size_t i = 0, j = 0;
    while (i < first.size() || j < other.size()) {
        if (i < first.size()) out.push_back(std::move(first[i++]));
        if (j < other.size()) out.push_back(std::move(other[j++]));
    }
    return out;
}

[[noreturn]] void throw_aggregated(const std::vector<std::pair<int, std::string>>& errors) {
    if (errors.size() == 1) throw_os_error(errors[0].first, errors[0].second);
    std::string msg = "Multiple exceptions: ";
    bool same = true;
    for (std::size_t i = 0; i < errors.size(); ++i) {
        if (i) msg += ", ";
        std::error_code ec(errors[i].first, std::generic_category());
        msg += "[Errno " + std::to_string(errors[i].first) + "] " + errors[i].second + ": " + ec.message();
        if (errors[i].first != errors[0].first) same = false;
    }
    // All attempts failed the same way: keep that error's type (refused...).
    throw_os_error(same ? errors[0].first : errors.back().first, msg);
}

}  // namespace

Coro<Socket> open_tcp_socket(std::string host, std::uint16_t port, ConnectOptions options) {
    AddrInfoHints hints;
    hints.family = options.family;
    hints.type = SOCK_STREAM;
    std::vector<AddrInfo> resolved = co_await getaddrinfo(host, port, hints);
    if (resolved.empty()) throw std::system_error(EAI_NONAME, gai_category(), "getaddrinfo(" + host + ") returned no address");
    Socket sock = co_await connect_first(std::move(resolved), std::move(options));
    co_return sock;
}

Coro<Socket> connect_first(std::vector<AddrInfo> resolved, ConnectOptions options) {
    std::vector<AddrInfo> infos = options.happy_eyeballs_delay ? interleave(std::move(resolved)) : std::move(resolved);
    EventLoop& loop = get_running_loop();

    RaceWait race;
    std::vector<std::unique_ptr<Attempt>> attempts;
    attempts.reserve(infos.size());
    std::vector<std::pair<int, std::string>> errors;
    std::size_t next = 0;
    Socket winner;

    // Starts the next address's attempt; false when none is left.
    auto start_next = [&]() -> bool {
        while (next < infos.size()) {
            const AddrInfo& info = infos[next++];
            std::string what = "connect(" + info.address.to_string() + ")";
            try {
                auto a = std::make_unique<Attempt>();
                a->sock = Socket::create(info.family, SOCK_STREAM, info.protocol);
                a->address = info.address;
                a->race = &race;
                a->loop = &loop;
                if (options.local_addr) a->sock.bind(*options.local_addr);
                if (::connect(a->sock.fd(), info.address.data(), info.address.size()) == 0) {
                    winner = std::move(a->sock);
                    return true;
                }
                int err = errno;
                if (err != EINPROGRESS && err != EINTR) {
                    errors.emplace_back(err, what);
                    continue;
                }
                loop.set_io_callback(a->sock.fd(), false, a.get());
                a->registered = true;
                attempts.push_back(std::move(a));
                return true;
            } catch (const std::system_error& e) {
                errors.emplace_back(e.code().value(), what);
            }
        }
        return false;
    };

    start_next();
    for (;;) {
        if (winner) break;
        // Settle the attempts whose socket became writable.
        bool failed_one = false;
        for (auto& a : attempts) {
            if (!a->fired || !a->registered) continue;
            a->unregister();
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(a->sock.fd(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (err == 0) {
                winner = std::move(a->sock);
                break;
            }
            errors.emplace_back(err, "connect(" + a->address.to_string() + ")");
            a->sock.close();
            failed_one = true;
        }
        if (winner) break;
        const bool in_flight =
            std::any_of(attempts.begin(), attempts.end(), [](const auto& a) { return a->registered; });
        if (!in_flight) {
            if (!start_next()) break;  // every address failed
            continue;
        }
        // RFC 8305: a failure starts the next attempt at once.
        if (failed_one && next < infos.size()) {
            start_next();
            continue;
        }
        std::optional<Clock::time_point> deadline;
        if (next < infos.size() && options.happy_eyeballs_delay) deadline = loop.time() + *options.happy_eyeballs_delay;
        co_await race.wait(deadline);
        const bool any_fired =
            std::any_of(attempts.begin(), attempts.end(), [](const auto& a) { return a->fired && a->registered; });
        if (deadline && !any_fired && loop.time() >= *deadline) start_next();
    }
    attempts.clear();  // unregisters and closes the losers
    if (!winner) {
        if (errors.empty()) throw std::system_error(EHOSTUNREACH, std::generic_category(), "connect: no address to try");
        throw_aggregated(errors);
    }
    co_return std::move(winner);
}

Coro<Socket> open_unix_socket(std::string path) {
    Socket sock = Socket::create(AF_UNIX);
    co_await sock_connect(sock.fd(), SocketAddress::unix_path(path));
    co_return std::move(sock);
}

std::shared_ptr<Transport> make_socket_transport(EventLoop& loop, Socket sock, std::shared_ptr<Protocol> protocol,
                                                 const std::shared_ptr<ServerState>& server, const SocketAddress* peer) {
    // Request/response protocols must not wait for Nagle (asyncio does the same).
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(sock.fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        int one = 1;
        ::setsockopt(sock.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int fd = sock.release();
    return FdTransport::start(loop, fd, true, true, true, std::move(protocol), server, peer);
}

// --- listening ---------------------------------------------------------------------

Coro<std::vector<Socket>> listen_tcp(std::string host, std::uint16_t port, ServerOptions options) {
    AddrInfoHints hints;
    hints.family = options.family;
    hints.type = SOCK_STREAM;
    hints.flags = AI_PASSIVE;
    std::vector<AddrInfo> infos = co_await getaddrinfo(host, port, hints);
    std::vector<Socket> sockets;
    std::vector<SocketAddress> seen;
    for (const AddrInfo& info : infos) {
        if (std::find(seen.begin(), seen.end(), info.address) != seen.end()) continue;
        seen.push_back(info.address);
        Socket s = Socket::create(info.family, SOCK_STREAM, info.protocol);
        if (options.reuse_address) s.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
        if (options.reuse_port) s.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
        // Bind IPv6 sockets to IPv6 only: the IPv4 address gets its own socket.
        if (info.family == AF_INET6) s.set_option(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        try {
            s.bind(info.address);
        } catch (const std::system_error& e) {
            throw std::system_error(e.code(), "error while attempting to bind on address " +
                                                  info.address.to_string());
        }
        sockets.push_back(std::move(s));
    }
    if (sockets.empty()) throw std::system_error(EADDRNOTAVAIL, std::generic_category(), "no address to listen on");
    co_return sockets;
}

std::vector<Socket> listen_unix(const std::string& path, const ServerOptions&) {
    // Replace a stale socket file (asyncio does the same).
    if (!path.empty() && path.front() != '\0') {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    }
    Socket s = Socket::create(AF_UNIX);
    s.bind(SocketAddress::unix_path(path));
    std::vector<Socket> out;
    out.push_back(std::move(s));
    return out;
}

Server make_server(EventLoop& loop, std::vector<Socket> sockets, AcceptHandler handler, const ServerOptions& options) {
    auto state = std::make_shared<ServerState>(loop, std::move(sockets), std::move(handler), options.backlog);
    Server server(state);
    if (options.start_serving) state->start_serving();
    return server;
}

AcceptHandler protocol_acceptor(ProtocolFactory factory) {
    return [factory = std::move(factory)](const std::shared_ptr<ServerState>& server, Socket sock,
                                          const SocketAddress& peer) {
        std::shared_ptr<Protocol> protocol = factory();
        if (!protocol) throw std::invalid_argument("protocol factory returned null");
        make_socket_transport(server->loop(), std::move(sock), std::move(protocol), server, &peer);
    };
}

}  // namespace detail

// --- Server ---------------------------------------------------------------------------

struct Server::Owner {
    std::shared_ptr<detail::ServerState> state;
    ~Owner() {
        try {
            if (state) state->close();
        } catch (...) {
        }
    }
};

Server::Server(std::shared_ptr<detail::ServerState> state) : owner_(std::make_shared<Owner>()) {
    owner_->state = std::move(state);
}

const std::shared_ptr<detail::ServerState>& Server::state() const {
    if (!owner_) throw InvalidStateError("empty aio::Server");
    return owner_->state;
}

void Server::close() { state()->close(); }
void Server::close_clients() { state()->close_clients(false); }
void Server::abort_clients() { state()->close_clients(true); }
void Server::start_serving() { state()->start_serving(); }
bool Server::is_serving() const noexcept { return owner_ && owner_->state->is_serving(); }
EventLoop& Server::get_loop() const noexcept { return owner_->state->loop(); }

const std::vector<Socket>& Server::sockets() const noexcept {
    static const std::vector<Socket> none;
    return owner_ ? owner_->state->sockets() : none;
}

Coro<void> Server::wait_closed() {
    std::shared_ptr<detail::ServerState> st = state();
    if (st->fully_closed()) co_return;
    Future<void> done(st->loop());
    st->closed_waiters.push_back(done);
    co_await done;
}

Coro<void> Server::serve_forever() {
    std::shared_ptr<detail::ServerState> st = state();
    if (st->serving_forever && !st->serving_forever->done())
        throw RuntimeError("server is already being awaited on serve_forever()");
    if (st->closed()) throw RuntimeError("server is closed");
    st->start_serving();
    Future<void> forever(st->loop());
    st->serving_forever = forever;
    std::exception_ptr cancelled;
    try {
        co_await forever;
    } catch (const CancelledError&) {
        cancelled = std::current_exception();
    }
    if (st->serving_forever == forever) st->serving_forever.reset();
    if (!cancelled) co_return;
    st->close();
    Coro<void> closing = wait_closed();
    co_await closing;
    std::rethrow_exception(cancelled);
}

Coro<Server> create_server(ProtocolFactory factory, std::string host, std::uint16_t port, ServerOptions options) {
    std::vector<Socket> sockets = co_await detail::listen_tcp(std::move(host), port, options);
    co_return detail::make_server(get_running_loop(), std::move(sockets), detail::protocol_acceptor(std::move(factory)),
                                  options);
}

Coro<Server> create_unix_server(ProtocolFactory factory, std::string path, ServerOptions options) {
    std::vector<Socket> sockets = detail::listen_unix(path, options);
    Server server = detail::make_server(get_running_loop(), std::move(sockets),
                                        detail::protocol_acceptor(std::move(factory)), options);
    if (!path.empty() && path.front() != '\0') server.state()->unix_path = path;
    co_return server;
}

Server create_server(ProtocolFactory factory, Socket listening, ServerOptions options) {
    std::vector<Socket> sockets;
    sockets.push_back(std::move(listening));
    return detail::make_server(get_running_loop(), std::move(sockets), detail::protocol_acceptor(std::move(factory)),
                               options);
}

}  // namespace aio
