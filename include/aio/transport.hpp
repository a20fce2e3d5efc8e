// aio/transport.hpp — asyncio's callback layer: Protocol and Transport,
// create_connection and create_server.
//
// A Transport owns a connected descriptor and moves bytes; a Protocol
// receives events. The loop calls, in order:
//
//   connection_made(transport)      once, before anything else
//   data_received(bytes)*           each chunk as it arrives
//   eof_received()?                 the peer shut its side down; return true
//                                   to keep the transport open (half-close)
//   connection_lost(exc)            once, last; exc null for a clean close
//
// and pause_writing() / resume_writing() when the write buffer crosses the
// high / low water marks (flow control: stop producing while paused).
//
//   struct Echo : aio::Protocol {
//       aio::Transport* t = nullptr;
//       void connection_made(aio::Transport& tr) override { t = &tr; }
//       void data_received(std::string_view d) override { t->write(d); }
//   };
//   aio::Server server = co_await aio::create_server(
//       [] { return std::make_shared<Echo>(); }, "127.0.0.1", 8888);
//   co_await server.serve_forever();
//
// Ownership: the transport keeps itself and its protocol alive while the
// connection is open, and drops the protocol right after connection_lost.
// The Transport& given to connection_made stays valid until connection_lost
// returns; keep t.shared_from_this() to use it longer.
//
// Writes: write() sends at once when nothing is queued; only what the socket
// does not take is copied into the write buffer, which drains as the socket
// becomes writable. Writes never block and never raise SIGPIPE.
//
// Errors: a failed read or write (reset, broken pipe...) closes the
// transport and reaches connection_lost(exc) with the exception (see
// aio/net_errors.hpp); an exception escaping a protocol callback closes the
// transport and goes to the loop's exception handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/future.hpp"
#include "aio/socket.hpp"

namespace aio {

class Transport;

/// Receives a connection's events (asyncio.Protocol). Override what you need.
class Protocol {
public:
    virtual ~Protocol() = default;
    virtual void connection_made(Transport& /*transport*/) {}
    virtual void data_received(std::string_view /*data*/) {}
    /// The peer will send nothing more. Return true to keep the transport
    /// open for writing; false (the default) closes it.
    virtual bool eof_received() { return false; }
    /// Last call: exc is null when the transport was closed normally.
    virtual void connection_lost(std::exception_ptr /*exc*/) {}
    /// The write buffer rose above the high-water mark.
    virtual void pause_writing() {}
    /// The write buffer fell to the low-water mark.
    virtual void resume_writing() {}
};

/// A protocol that lends the transport its own receive buffer
/// (asyncio.BufferedProtocol): no copy between the socket and the protocol.
class BufferedProtocol : public Protocol {
public:
    /// A non-empty buffer to receive into (sizehint is a suggestion).
    virtual std::span<char> get_buffer(std::size_t sizehint) = 0;
    /// `nbytes` bytes were written at the start of the last buffer.
    virtual void buffer_updated(std::size_t nbytes) = 0;

private:
    void data_received(std::string_view) final {}
};

/// A bidirectional byte stream over a socket or pipe (asyncio's Transport:
/// BaseTransport + ReadTransport + WriteTransport).
class Transport : public std::enable_shared_from_this<Transport> {
public:
    virtual ~Transport() = default;

    virtual EventLoop& get_loop() const noexcept = 0;
    /// "peername", "sockname" (SocketAddress), "socket" / "pipe" (the fd).
    virtual ExtraInfo get_extra_info(std::string_view name) const = 0;
    /// The descriptor, -1 once closed.
    virtual int fileno() const noexcept = 0;

    /// True once close() or abort() was called or the connection was lost.
    virtual bool is_closing() const noexcept = 0;
    /// Stops reading, flushes the write buffer, then closes; connection_lost(null)
    /// follows in a later loop iteration. Idempotent.
    virtual void close() = 0;
    /// Closes at once, dropping buffered writes; connection_lost(null) follows.
    virtual void abort() = 0;

    virtual void set_protocol(std::shared_ptr<Protocol> protocol) = 0;
    virtual std::shared_ptr<Protocol> get_protocol() const = 0;

    virtual bool is_reading() const noexcept = 0;
    /// Stops calling data_received until resume_reading(). No-ops if closing.
    virtual void pause_reading() = 0;
    virtual void resume_reading() = 0;

    /// Queues `data` (sent at once if possible). RuntimeError after close()
    /// or write_eof(); ignored once the connection was lost (connection_lost
    /// says why), as asyncio.
    virtual void write(std::string_view data) = 0;
    void write(std::span<const std::byte> data) {
        write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    }
    /// Writes the parts in order, with one system call when possible.
    virtual void writelines(std::span<const std::string_view> parts) = 0;
    void writelines(std::initializer_list<std::string_view> parts) {
        writelines(std::span<const std::string_view>(parts.begin(), parts.size()));
    }
    template <class Range>
        requires(!std::is_convertible_v<const Range&, std::span<const std::string_view>>)
    void writelines(const Range& parts) {
        std::vector<std::string_view> views;
        for (const auto& p : parts) views.emplace_back(p);
        writelines(std::span<const std::string_view>(views));
    }
    /// Half-closes: the peer reads EOF after the buffered data.
    virtual bool can_write_eof() const noexcept = 0;
    virtual void write_eof() = 0;

    virtual std::size_t get_write_buffer_size() const noexcept = 0;
    /// (low, high), as asyncio.
    virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept = 0;
    /// Defaults: high 64 KiB, low high/4 (asyncio's). Crossing takes effect now.
    virtual void set_write_buffer_limits(std::optional<std::size_t> high = {}, std::optional<std::size_t> low = {}) = 0;
};

/// create_connection() / open_connection() options.
struct ConnectOptions {
    /// AF_INET / AF_INET6 to restrict the addresses tried.
    int family = AF_UNSPEC;
    /// Bind the socket to this address before connecting.
    std::optional<SocketAddress> local_addr;
    /// Happy eyeballs (RFC 8305): with several addresses, start the next
    /// attempt after this delay or as soon as one fails, and keep the first
    /// that connects. nullopt tries one address after the other.
    std::optional<std::chrono::milliseconds> happy_eyeballs_delay = std::chrono::milliseconds(250);
};

/// create_server() / start_server() options.
struct ServerOptions {
    /// AF_INET / AF_INET6 to restrict the addresses bound.
    int family = AF_UNSPEC;
    int backlog = 100;
    bool reuse_address = true;
    bool reuse_port = false;
    /// Accept connections as soon as the server is created (asyncio's default).
    bool start_serving = true;
};

namespace detail {
class ServerState;
}

/// A listening server (asyncio.Server). A cheap shared handle: when the last
/// copy is destroyed the server closes (connections already accepted go on).
///
/// Cancellation: serve_forever() cancelled closes the server, waits for it
/// as wait_closed() does, and re-raises CancelledError. wait_closed()
/// cancelled stops waiting only.
class Server {
public:
    Server() = default;

    /// Stops listening and closes the listening sockets; accepted
    /// connections stay open. Idempotent.
    void close();
    /// Closes every accepted connection (Transport::close) / aborts them.
    void close_clients();
    void abort_clients();
    /// Waits until the server is closed and every connection it accepted is
    /// closed and every client handler (start_server) has finished.
    Coro<void> wait_closed();
    /// Starts accepting (if not yet) and waits until the server is closed.
    /// Returns normally when close() is called (asyncio raises CancelledError).
    Coro<void> serve_forever();
    /// Starts accepting connections; no-op if already serving.
    void start_serving();
    bool is_serving() const noexcept;
    /// The listening sockets (empty once closed).
    const std::vector<Socket>& sockets() const noexcept;
    EventLoop& get_loop() const noexcept;
    explicit operator bool() const noexcept { return static_cast<bool>(owner_); }

    // Internal.
    explicit Server(std::shared_ptr<detail::ServerState> state);
    const std::shared_ptr<detail::ServerState>& state() const;

private:
    struct Owner;
    std::shared_ptr<Owner> owner_;
};

using ProtocolFactory = std::function<std::shared_ptr<Protocol>()>;

namespace detail {

/// A connected socket to `host`:`port`, with happy-eyeballs fallback across
/// the resolved addresses; errors of every attempt are aggregated.
Coro<Socket> open_tcp_socket(std::string host, std::uint16_t port, ConnectOptions options);
Coro<Socket> open_unix_socket(std::string path);
/// Connects to the first of `addresses` that accepts (happy eyeballs when
/// options.happy_eyeballs_delay is set, else one after the other).
Coro<Socket> connect_first(std::vector<AddrInfo> addresses, ConnectOptions options);

/// Wraps a connected socket (or any non-blocking stream fd, see
/// make_fd_transport) in a transport, calls connection_made and starts
/// reading. `server` is the server that accepted it, if any.
std::shared_ptr<Transport> make_socket_transport(EventLoop& loop, Socket sock, std::shared_ptr<Protocol> protocol,
                                                 const std::shared_ptr<ServerState>& server = nullptr,
                                                 const SocketAddress* peer = nullptr);

/// Bound, listening sockets for `host`:`port` (every resolved address; ""
/// means all interfaces) or for a Unix path.
Coro<std::vector<Socket>> listen_tcp(std::string host, std::uint16_t port, ServerOptions options);
std::vector<Socket> listen_unix(const std::string& path, const ServerOptions& options);

/// What a server does with each accepted connection.
using AcceptHandler = std::function<void(const std::shared_ptr<ServerState>&, Socket, const SocketAddress&)>;
Server make_server(EventLoop& loop, std::vector<Socket> sockets, AcceptHandler handler, const ServerOptions& options);
/// Accept handler creating a transport for a protocol from `factory`.
AcceptHandler protocol_acceptor(ProtocolFactory factory);

template <class F>
using protocol_of_t = typename std::remove_cvref_t<std::invoke_result_t<F&>>::element_type;

}  // namespace detail

/// Connects to `host`:`port` (resolved with getaddrinfo; happy eyeballs
/// across the addresses) and wires a protocol from `factory` (returning a
/// std::shared_ptr<P> or std::unique_ptr<P>). Returns the transport and the
/// protocol once connection_made has run.
/// Cancellation: an attempt in progress is abandoned and its socket closed.
template <class F>
Coro<std::pair<std::shared_ptr<Transport>, std::shared_ptr<detail::protocol_of_t<F>>>> create_connection(
    F factory, std::string host, std::uint16_t port, ConnectOptions options = {}) {
    Socket sock = co_await detail::open_tcp_socket(std::move(host), port, std::move(options));
    std::shared_ptr<detail::protocol_of_t<F>> protocol(factory());
    std::shared_ptr<Transport> transport = detail::make_socket_transport(get_running_loop(), std::move(sock), protocol);
    co_return std::pair(std::move(transport), std::move(protocol));
}

/// Wraps an already connected socket (asyncio's create_connection(sock=...)).
template <class F>
Coro<std::pair<std::shared_ptr<Transport>, std::shared_ptr<detail::protocol_of_t<F>>>> create_connection(F factory,
                                                                                                         Socket sock) {
    std::shared_ptr<detail::protocol_of_t<F>> protocol(factory());
    std::shared_ptr<Transport> transport = detail::make_socket_transport(get_running_loop(), std::move(sock), protocol);
    co_return std::pair(std::move(transport), std::move(protocol));
}

/// Connects to a Unix domain socket.
template <class F>
Coro<std::pair<std::shared_ptr<Transport>, std::shared_ptr<detail::protocol_of_t<F>>>> create_unix_connection(
    F factory, std::string path) {
    Socket sock = co_await detail::open_unix_socket(std::move(path));
    std::shared_ptr<detail::protocol_of_t<F>> protocol(factory());
    std::shared_ptr<Transport> transport = detail::make_socket_transport(get_running_loop(), std::move(sock), protocol);
    co_return std::pair(std::move(transport), std::move(protocol));
}

/// Listens on `host`:`port` ("" = every interface; port 0 picks a free one,
/// see Server::sockets()) and gives each connection a protocol from `factory`.
Coro<Server> create_server(ProtocolFactory factory, std::string host, std::uint16_t port, ServerOptions options = {});
/// Listens on a Unix domain socket path (an existing socket file is replaced).
Coro<Server> create_unix_server(ProtocolFactory factory, std::string path, ServerOptions options = {});
/// Serves on an already bound and listening socket.
Server create_server(ProtocolFactory factory, Socket listening, ServerOptions options = {});

}  // namespace aio
