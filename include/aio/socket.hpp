// aio/socket.hpp — sockets on the event loop: addresses, an owning socket,
// name resolution, and asyncio's low-level loop.sock_* coroutines.
//
//   aio::Socket s = aio::Socket::create(AF_INET);          // non-blocking
//   co_await aio::sock_connect(s, aio::SocketAddress::parse("127.0.0.1", 8888));
//   co_await aio::sock_sendall(s, "hello");
//   std::string reply = co_await aio::sock_recv(s, 100);
//
// Each sock_* call tries the system call first and waits for readiness only
// when it would block (EAGAIN), so an operation that can complete at once
// does not suspend (and then is not a cancellation point, like a coroutine
// that does not suspend in asyncio).
//
// Cancellation: a sock_* call cancelled while waiting stops waiting and
// raises CancelledError; nothing was transferred by the interrupted attempt
// (sock_sendall may have sent a prefix: the socket's stream position is then
// unknown, close it). A cancelled sock_connect leaves a half-open socket:
// close it. A cancelled sock_accept loses nothing (the pending connection
// stays in the backlog).
//
// Errors: std::system_error with the errno (see aio/net_errors.hpp for the
// Connection* types). The fd must be non-blocking (aio::Socket's are).
// One task at a time may wait to read, and one to write, on a descriptor.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/net_errors.hpp"

namespace aio {

/// A socket address of any family (IPv4, IPv6, Unix), by value.
class SocketAddress {
public:
    SocketAddress() noexcept;
    SocketAddress(const sockaddr* addr, socklen_t len) noexcept;

    /// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); throws
    /// std::invalid_argument for a name (resolve names with getaddrinfo).
    static SocketAddress parse(std::string_view host, std::uint16_t port);
    /// A Unix domain socket path; a leading '\0' selects the abstract namespace.
    static SocketAddress unix_path(std::string_view path);

    int family() const noexcept { return storage_.ss_family; }
    bool empty() const noexcept { return len_ == 0; }
    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t size() const noexcept { return len_; }
    void set_size(socklen_t len) noexcept { len_ = len; }
    static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

    /// The numeric host ("127.0.0.1", "::1"); the path for a Unix address.
    std::string host() const;
    /// The port (0 for Unix addresses).
    std::uint16_t port() const noexcept;
    /// "127.0.0.1:8888", "[::1]:8888", or the Unix path.
    std::string to_string() const;

    friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;
    friend std::ostream& operator<<(std::ostream& os, const SocketAddress& a);

private:
    sockaddr_storage storage_;
    socklen_t len_;
};

/// An owned socket descriptor, closed by the destructor. Move-only.
class Socket {
public:
    Socket() noexcept = default;
    /// Adopts `fd` (closed on destruction).
    explicit Socket(int fd) noexcept : fd_(fd) {}
    Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Socket& operator=(Socket&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Socket() { close(); }

    /// A new non-blocking, close-on-exec socket.
    static Socket create(int family, int type = SOCK_STREAM, int protocol = 0);
    /// A connected pair of non-blocking Unix stream sockets (socket.socketpair).
    static std::pair<Socket, Socket> pair(int type = SOCK_STREAM);

    int fd() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    /// Gives up ownership.
    int release() noexcept { return std::exchange(fd_, -1); }
    void close() noexcept;

    SocketAddress sockname() const;
    SocketAddress peername() const;
    void set_option(int level, int name, int value);
    void bind(const SocketAddress& addr);
    void listen(int backlog = 100);

private:
    int fd_ = -1;
};

/// What get_extra_info() returns: a socket address ("peername", "sockname"),
/// a descriptor ("socket", "pipe"), or nothing for an unknown name.
class ExtraInfo {
public:
    ExtraInfo() = default;
    ExtraInfo(SocketAddress a) : value_(std::move(a)) {}
    ExtraInfo(int fd) : value_(fd) {}

    bool has_value() const noexcept { return !std::holds_alternative<std::monostate>(value_); }
    explicit operator bool() const noexcept { return has_value(); }
    bool is_address() const noexcept { return std::holds_alternative<SocketAddress>(value_); }
    bool is_fd() const noexcept { return std::holds_alternative<int>(value_); }
    /// std::bad_variant_access when it holds something else.
    const SocketAddress& address() const { return std::get<SocketAddress>(value_); }
    int fd() const { return std::get<int>(value_); }
    std::string to_string() const;
    friend std::ostream& operator<<(std::ostream& os, const ExtraInfo& info);

private:
    std::variant<std::monostate, SocketAddress, int> value_;
};

// --- name resolution ---------------------------------------------------------

/// One entry of getaddrinfo()'s result (Python's 5-tuple).
struct AddrInfo {
    int family = 0;
    int socktype = 0;
    int protocol = 0;
    std::string canonname;
    SocketAddress address;
};

/// getaddrinfo() hints: AF_*, SOCK_*, IPPROTO_*, AI_* flags.
struct AddrInfoHints {
    int family = AF_UNSPEC;
    int type = 0;
    int protocol = 0;
    int flags = 0;
};

/// Resolves `host` and `service` (a port number or a service name) as
/// asyncio's loop.getaddrinfo: off the loop's thread. Numeric hosts ("" =
/// any/loopback per AI_PASSIVE, IPv4/IPv6 literals) are resolved at once
/// without a thread. Fails with std::system_error in aio::gai_category().
/// Cancellation: stops waiting; the lookup finishes in the background and its
/// result is dropped.
Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string service, AddrInfoHints hints = {});
Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::uint16_t port, AddrInfoHints hints = {});

namespace detail {

/// Runs a blocking ::getaddrinfo off the loop thread. Today: one detached
/// thread per call posting back through call_soon_threadsafe; meant to move
/// to the loop's default executor (issue 6) without changing callers.
Coro<std::vector<AddrInfo>> resolve_blocking(std::string host, std::string service, AddrInfoHints hints);

/// A task waiting until a descriptor is readable or writable. Registers a
/// level-triggered callback for the wait and removes it when it ends.
class IoWait : public Suspension, public IoCallback {
public:
    IoWait(int fd, bool readable) noexcept : fd_(fd), readable_(readable) {}
    IoWait(IoWait&& o) noexcept : fd_(o.fd_), readable_(o.readable_) {}
    ~IoWait() { unregister(); }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current());
    void await_resume() {
        unregister();
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }

private:
    void io_ready(EventLoop& loop) override;
    bool cancel_wait() override;
    void unregister() noexcept;

    int fd_;
    bool readable_;
    bool registered_ = false;
    bool woken_ = false;
    bool cancelled_ = false;
    EventLoop* loop_ = nullptr;
};

/// co_await wait_io(fd, readable): suspends until the descriptor is ready.
inline IoWait wait_io(int fd, bool readable) noexcept { return IoWait(fd, readable); }

/// Something that must be released when its event loop closes (a transport
/// or server the program left open): the loop's close runs loop_closed(),
/// after which the object must not touch the loop again.
class LoopResource {
public:
    virtual void loop_closed() noexcept = 0;
    LoopResource* res_prev = nullptr;
    LoopResource* res_next = nullptr;
    bool res_linked = false;

protected:
    ~LoopResource() = default;
};
void register_loop_resource(EventLoop& loop, LoopResource* r);
void unregister_loop_resource(EventLoop& loop, LoopResource* r) noexcept;

/// Ignores SIGPIPE process-wide if it still has its default action (as
/// Python does at startup): needed before write() on pipes. Sockets never
/// need it (aio sends with MSG_NOSIGNAL).
void ignore_sigpipe_once() noexcept;

}  // namespace detail

// --- asyncio's loop.sock_* -----------------------------------------------------

/// Receives up to `n` bytes (an empty string at EOF).
Coro<std::string> sock_recv(int fd, std::size_t n);
/// Receives into `buffer`; returns the number of bytes (0 at EOF).
Coro<std::size_t> sock_recv_into(int fd, std::span<char> buffer);
Coro<std::size_t> sock_recv_into(int fd, std::span<std::byte> buffer);
/// Sends all of `data` (which must outlive the call: await it directly).
Coro<void> sock_sendall(int fd, std::string_view data);
/// Connects a non-blocking socket.
Coro<void> sock_connect(int fd, SocketAddress address);
/// Accepts a connection: the new (non-blocking) socket and the peer address.
Coro<std::pair<Socket, SocketAddress>> sock_accept(int fd);

inline Coro<std::string> sock_recv(const Socket& s, std::size_t n) { return sock_recv(s.fd(), n); }
inline Coro<std::size_t> sock_recv_into(const Socket& s, std::span<char> b) { return sock_recv_into(s.fd(), b); }
inline Coro<void> sock_sendall(const Socket& s, std::string_view data) { return sock_sendall(s.fd(), data); }
inline Coro<void> sock_connect(const Socket& s, SocketAddress a) { return sock_connect(s.fd(), std::move(a)); }
inline Coro<std::pair<Socket, SocketAddress>> sock_accept(const Socket& s) { return sock_accept(s.fd()); }

}  // namespace aio
