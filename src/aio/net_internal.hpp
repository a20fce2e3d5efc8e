// src/aio/net_internal.hpp — the descriptor transport and the server state
// shared by transport.cpp and streams.cpp. Not installed.
#pragma once

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "aio/transport.hpp"

namespace aio::detail {

/// A Transport over one non-blocking stream descriptor: a socket (recv/send
/// with MSG_NOSIGNAL) or a pipe end (read/write). Readiness events queue the
/// transport itself on the loop (no allocation); it then reads once (up to
/// 64 KiB) or flushes its write buffer.
///
/// Lifetime: the transport holds a reference to itself from start() until
/// connection_lost has been delivered; it is never freed while queued.
class FdTransport final : public Transport, public Runnable, public LoopResource {
public:
    FdTransport(EventLoop& loop, int fd, bool is_socket, bool readable, bool writable);
    ~FdTransport() override;

    /// Attaches the protocol, calls connection_made, starts reading.
    static std::shared_ptr<FdTransport> start(EventLoop& loop, int fd, bool is_socket, bool readable, bool writable,
                                              std::shared_ptr<Protocol> protocol,
                                              const std::shared_ptr<ServerState>& server, const SocketAddress* peer);

    EventLoop& get_loop() const noexcept override { return *loop_; }
    ExtraInfo get_extra_info(std::string_view name) const override;
    int fileno() const noexcept override { return fd_; }
    bool is_closing() const noexcept override { return closing_; }
    void close() override;
    void abort() override;
    void set_protocol(std::shared_ptr<Protocol> protocol) override;
    std::shared_ptr<Protocol> get_protocol() const override { return protocol_; }
    bool is_reading() const noexcept override { return can_read_ && !read_paused_ && !closing_; }
    void pause_reading() override;
    void resume_reading() override;
    void write(std::string_view data) override;
    using Transport::write;
    void writelines(std::span<const std::string_view> parts) override;
    using Transport::writelines;
    bool can_write_eof() const noexcept override { return can_write_; }
    void write_eof() override;
    std::size_t get_write_buffer_size() const noexcept override { return wbuf_.size() - whead_; }
    std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept override { return {low_, high_}; }
    void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;

    /// True once connection_lost ran (or the loop closed).
    bool finished() const noexcept { return lost_done_; }

private:
    static constexpr unsigned kRead = 1;
    static constexpr unsigned kWrite = 2;

    struct Watch final : IoCallback {
        FdTransport* self;
        unsigned bit;
        Watch(FdTransport* s, unsigned b) : self(s), bit(b) {}
        void io_ready(EventLoop&) override { self->on_event(bit); }
    };

    void on_event(unsigned bit) {
        pending_ |= bit;
        if (!queued_) {
            queued_ = true;
            loop_->schedule(this);
        }
    }
    void run() override;
    void discard() noexcept override;
    void loop_closed() noexcept override;

    void do_read();
    void do_write();
    void on_eof();
    void shutdown_write();
    void fatal(int err, const char* what);
    void protocol_failed(const char* what);
    void force_close(std::exception_ptr exc);
    void schedule_lost(std::exception_ptr exc);
    void deliver_lost();
    void release_silently() noexcept;
    void set_reading(bool on);
    void set_writing(bool on);
    void maybe_pause_protocol();
    void maybe_resume_protocol();
    ssize_t send_some(const char* p, std::size_t n) noexcept;
    void buffer_tail(std::string_view data);

    EventLoop* loop_;
    int fd_;
    bool is_socket_;
    bool can_read_;
    bool can_write_;
    bool reading_ = false;      // registered for readability
    bool writing_ = false;      // registered for writability
    bool read_paused_ = false;  // pause_reading()
    bool closing_ = false;
    bool user_closed_ = false;  // close() / abort() called
    bool eof_requested_ = false;
    bool eof_sent_ = false;
    bool protocol_paused_ = false;
    bool queued_ = false;
    bool lost_pending_ = false;
    bool lost_done_ = false;
    bool loop_dead_ = false;
    bool has_peer_ = false;
    unsigned pending_ = 0;
    std::size_t high_ = 64 * 1024;
    std::size_t low_ = 16 * 1024;
    std::string wbuf_;
    std::size_t whead_ = 0;
    std::shared_ptr<Protocol> protocol_;
    Protocol* proto_ = nullptr;
    BufferedProtocol* buffered_ = nullptr;
    Watch read_watch_{this, kRead};
    Watch write_watch_{this, kWrite};
    std::exception_ptr lost_exc_;
    std::shared_ptr<FdTransport> self_;
    std::shared_ptr<ServerState> server_;
    SocketAddress peer_;
};

/// A listening server's state, shared by the Server handles, its listener
/// callbacks and the connections it accepted (for wait_closed()).
class ServerState final : public std::enable_shared_from_this<ServerState>, public LoopResource {
public:
    ServerState(EventLoop& loop, std::vector<Socket> sockets, AcceptHandler handler, int backlog);
    ~ServerState();

    void start_serving();
    void close();
    bool is_serving() const noexcept { return serving_; }
    bool closed() const noexcept { return closed_; }
    bool fully_closed() const noexcept { return closed_ && active_ == 0; }
    const std::vector<Socket>& sockets() const noexcept { return sockets_; }
    EventLoop& loop() const noexcept { return *loop_; }

    /// A connection (or a client handler) begins / ends.
    void attach() noexcept { ++active_; }
    void detach();
    void add_client(Transport* t) { clients_.insert(t); }
    void remove_client(Transport* t) noexcept { clients_.erase(t); }
    void close_clients(bool abort);

    /// Futures completed when the server is fully closed / when closed.
    std::vector<Future<void>> closed_waiters;
    std::optional<Future<void>> serving_forever;
    std::string unix_path;  // unlinked on close

private:
    struct Listener final : IoCallback, Runnable {
        ServerState* server;
        int fd;
        bool registered = false;
        bool queued = false;
        std::shared_ptr<ServerState> keep;  // held while queued
        Listener(ServerState* s, int f) : server(s), fd(f) {}
        void io_ready(EventLoop& loop) override;
        void run() override;
        void discard() noexcept override;
    };
    void accept_from(Listener& l);
    void set_listening(bool on);
    void wake_closed_waiters();
    void loop_closed() noexcept override;

    EventLoop* loop_;
    std::vector<Socket> sockets_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    AcceptHandler handler_;
    int backlog_;
    bool serving_ = false;
    bool closed_ = false;
    bool loop_dead_ = false;
    bool accept_paused_ = false;
    std::size_t active_ = 0;
    std::unordered_set<Transport*> clients_;
    TimerHandle resume_timer_;
};

}  // namespace aio::detail
