#include "aio/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

namespace aio {

// --- errors ------------------------------------------------------------------

namespace {
class GaiCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int code) const override { return ::gai_strerror(code); }
};
}  // namespace

const std::error_category& gai_category() noexcept {
    static const GaiCategory category;
    return category;
}

namespace detail {

std::exception_ptr make_os_error(int err, std::string_view what) {
    std::string w(what);
    switch (err) {
        case ECONNREFUSED:
            return std::make_exception_ptr(ConnectionRefusedError(w));
        case ECONNRESET:
            return std::make_exception_ptr(ConnectionResetError(w));
        case ECONNABORTED:
            return std::make_exception_ptr(ConnectionAbortedError(w));
        case EPIPE:
        case ESHUTDOWN:
            return std::make_exception_ptr(BrokenPipeError(w, err));
        default:
            return std::make_exception_ptr(std::system_error(err, std::generic_category(), w));
    }
}

void throw_os_error(int err, std::string_view what) { std::rethrow_exception(make_os_error(err, what)); }

}  // namespace detail

// --- SocketAddress -------------------------------------------------------------

SocketAddress::SocketAddress() noexcept : storage_{}, len_(0) {}

SocketAddress::SocketAddress(const sockaddr* addr, socklen_t len) noexcept : storage_{}, len_(0) {
    if (len > sizeof storage_) len = sizeof storage_;
    std::memcpy(&storage_, addr, len);
    len_ = len;
}

SocketAddress SocketAddress::parse(std::string_view host, std::uint16_t port) {
    std::string h(host);
    if (!h.empty() && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    SocketAddress a;
    sockaddr_in v4{};
    if (::inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        return SocketAddress(reinterpret_cast<sockaddr*>(&v4), sizeof v4);
    }
    sockaddr_in6 v6{};
    std::string scope;
    if (auto pct = h.find('%'); pct != std::string::npos) {
        scope = h.substr(pct + 1);
        h.resize(pct);
    }
    if (::inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        if (!scope.empty()) v6.sin6_scope_id = static_cast<std::uint32_t>(std::strtoul(scope.c_str(), nullptr, 10));
        return SocketAddress(reinterpret_cast<sockaddr*>(&v6), sizeof v6);
    }
    throw std::invalid_argument("not a numeric IP address: '" + std::string(host) + "'");
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
    sockaddr_un un{};
    if (path.size() >= sizeof un.sun_path)
        throw std::invalid_argument("Unix socket path too long: " + std::string(path));
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    if (path.empty() || path.front() != '\0') ++len;  // count the terminating NUL of a path
    return SocketAddress(reinterpret_cast<sockaddr*>(&un), len);
}

std::string SocketAddress::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    switch (family()) {
        case AF_INET:
            ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
            return buf;
        case AF_INET6:
            ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
            return buf;
        case AF_UNIX: {
            const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
            std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
            std::string p(un->sun_path, n);
            if (!p.empty() && p.front() != '\0') p = p.c_str();  // strip the NUL terminator
            return p;
        }
        default:
            return {};
    }
}

std::uint16_t SocketAddress::port() const noexcept {
    switch (family()) {
        case AF_INET:
            return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
        case AF_INET6:
            return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
        default:
            return 0;
    }
}

std::string SocketAddress::to_string() const {
    switch (family()) {
        case AF_INET:
            return host() + ":" + std::to_string(port());
        case AF_INET6: {
            // Appended step by step: g++-12 -O3 warns (falsely, -Wrestrict,
            // GCC bug 105651) on "[" + host() + ...
            std::string s = "[";
            s += host();
            s += "]:";
            s += std::to_string(port());
            return s;
        }
        case AF_UNIX: {
            std::string p = host();
            if (!p.empty() && p.front() == '\0') p.front() = '@';
            return p;
        }
        default:
            return "<no address>";
    }
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

std::ostream& operator<<(std::ostream& os, const SocketAddress& a) { return os << a.to_string(); }

std::string ExtraInfo::to_string() const {
    if (is_address()) return address().to_string();
    if (is_fd()) return "fd " + std::to_string(fd());
    return "None";
}

std::ostream& operator<<(std::ostream& os, const ExtraInfo& info) { return os << info.to_string(); }

// --- Socket ------------------------------------------------------------------

Socket Socket::create(int family, int type, int protocol) {
    int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) detail::throw_os_error(errno, "socket");
    return Socket(fd);
}

std::pair<Socket, Socket> Socket::pair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        detail::throw_os_error(errno, "socketpair");
    return {Socket(fds[0]), Socket(fds[1])};
}

void Socket::close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

SocketAddress Socket::sockname() const {
    SocketAddress a;
    socklen_t len = SocketAddress::capacity();
    if (::getsockname(fd_, a.data(), &len) < 0) detail::throw_os_error(errno, "getsockname");
    a.set_size(len);
    return a;
}

SocketAddress Socket::peername() const {
    SocketAddress a;
    socklen_t len = SocketAddress::capacity();
    if (::getpeername(fd_, a.data(), &len) < 0) detail::throw_os_error(errno, "getpeername");
    a.set_size(len);
    return a;
}

void Socket::set_option(int level, int name, int value) {
    if (::setsockopt(fd_, level, name, &value, sizeof value) < 0) detail::throw_os_error(errno, "setsockopt");
}

void Socket::bind(const SocketAddress& addr) {
    if (::bind(fd_, addr.data(), addr.size()) < 0)
        detail::throw_os_error(errno, "bind(" + addr.to_string() + ")");
}

void Socket::listen(int backlog) {
    if (::listen(fd_, backlog) < 0) detail::throw_os_error(errno, "listen");
}

// --- descriptors on the loop ---------------------------------------------------

namespace detail {

void IoWait::await_suspend(std::coroutine_handle<> h, std::source_location at) {
    loop_ = &running_loop_for("aio: waiting for a descriptor");
    loop_->set_io_callback(fd_, readable_, this);
    registered_ = true;
    suspend_here(h, at);
}

void IoWait::io_ready(EventLoop&) {
    // Level-triggered: the loop may report again before the task runs.
    if (woken_) return;
    woken_ = true;
    loop_->schedule(task_);
}

bool IoWait::cancel_wait() {
    if (woken_) return false;
    woken_ = true;
    cancelled_ = true;
    unregister();
    loop_->schedule(task_);
    return true;
}

void IoWait::unregister() noexcept {
    if (!registered_) return;
    registered_ = false;
    try {
        loop_->set_io_callback(fd_, readable_, nullptr);
    } catch (...) {
        // The loop is closing: its descriptor table goes away with it.
    }
}

// --- loop resources ---------------------------------------------------------------

namespace {

/// The transports and servers of one loop. Armed in the loop's timer heap at
/// the end of time, so that EventLoop::close() — which tells every armed
/// timer that the loop closed — reaches it.
class LoopRegistry final : public TimerNode {
public:
    explicit LoopRegistry(EventLoop* l) : loop(l) { when_ns = std::numeric_limits<std::int64_t>::max(); }
    void fire(EventLoop& l) override {  // never due; re-arm defensively
        when_ns = std::numeric_limits<std::int64_t>::max();
        l.arm_timer(this);
    }
    void loop_closed() noexcept override;

    EventLoop* loop;
    LoopResource* head = nullptr;
};

thread_local std::vector<LoopRegistry*> registries;

LoopRegistry* find_registry(EventLoop& loop) noexcept {
    for (LoopRegistry* r : registries)
        if (r->loop == &loop) return r;
    return nullptr;
}

void LoopRegistry::loop_closed() noexcept {
    while (LoopResource* r = head) {
        head = r->res_next;
        if (head) head->res_prev = nullptr;
        r->res_prev = r->res_next = nullptr;
        r->res_linked = false;
        r->loop_closed();
    }
    registries.erase(std::find(registries.begin(), registries.end(), this));
    delete this;
}

}  // namespace

void register_loop_resource(EventLoop& loop, LoopResource* r) {
    LoopRegistry* reg = find_registry(loop);
    if (!reg) {
        auto fresh = std::make_unique<LoopRegistry>(&loop);
        registries.push_back(fresh.get());
        try {
            loop.arm_timer(fresh.get());
        } catch (...) {
            registries.pop_back();
            throw;
        }
        reg = fresh.release();
    }
    r->res_prev = nullptr;
    r->res_next = reg->head;
    if (reg->head) reg->head->res_prev = r;
    reg->head = r;
    r->res_linked = true;
}

void unregister_loop_resource(EventLoop& loop, LoopResource* r) noexcept {
    if (!r->res_linked) return;
    LoopRegistry* reg = find_registry(loop);
    if (!reg) return;
    if (r->res_prev)
        r->res_prev->res_next = r->res_next;
    else
        reg->head = r->res_next;
    if (r->res_next) r->res_next->res_prev = r->res_prev;
    r->res_prev = r->res_next = nullptr;
    r->res_linked = false;
    if (!reg->head) {  // nothing left: leave the timer heap
        loop.disarm_timer(reg);
        registries.erase(std::find(registries.begin(), registries.end(), reg));
        delete reg;
    }
}

void ignore_sigpipe_once() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
            struct sigaction ignore {};
            ignore.sa_handler = SIG_IGN;
            ::sigemptyset(&ignore.sa_mask);
            ::sigaction(SIGPIPE, &ignore, nullptr);
        }
    });
}

// --- getaddrinfo ---------------------------------------------------------------

namespace {

std::vector<AddrInfo> convert(const addrinfo* list) {
    std::vector<AddrInfo> out;
    for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
        AddrInfo e;
        e.family = ai->ai_family;
        e.socktype = ai->ai_socktype;
        e.protocol = ai->ai_protocol;
        if (ai->ai_canonname) e.canonname = ai->ai_canonname;
        e.address = SocketAddress(ai->ai_addr, ai->ai_addrlen);
        out.push_back(std::move(e));
    }
    return out;
}

struct GaiResult {
    int code = 0;
    int sys_errno = 0;
    std::vector<AddrInfo> infos;
};

GaiResult call_getaddrinfo(const std::string& host, const std::string& service, const AddrInfoHints& hints,
                           int extra_flags) {
    addrinfo h{};
    h.ai_family = hints.family;
    h.ai_socktype = hints.type;
    h.ai_protocol = hints.protocol;
    h.ai_flags = hints.flags | extra_flags;
    addrinfo* list = nullptr;
    GaiResult r;
    r.code = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.empty() ? nullptr : service.c_str(), &h,
                           &list);
    if (r.code == EAI_SYSTEM) r.sys_errno = errno;
    if (r.code == 0) {
        try {
            r.infos = convert(list);
        } catch (...) {
            ::freeaddrinfo(list);
            throw;
        }
        ::freeaddrinfo(list);
    }
    return r;
}

[[noreturn]] void throw_gai(const GaiResult& r, const std::string& host, const std::string& service) {
    std::string what = "getaddrinfo(" + host + ", " + service + ")";
    if (r.code == EAI_SYSTEM) throw_os_error(r.sys_errno, what);
    throw std::system_error(r.code, gai_category(), what);
}

bool is_numeric_host(const std::string& host) {
    if (host.empty()) return true;
    unsigned char buf[sizeof(in6_addr)];
    if (::inet_pton(AF_INET, host.c_str(), buf) == 1) return true;
    std::string h = host.substr(0, host.find('%'));
    return ::inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool is_numeric_service(const std::string& service) {
    return !service.empty() && std::all_of(service.begin(), service.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Shared between the waiting task (loop thread) and the resolver thread.
struct ResolveJob {
    std::mutex mutex;
    EventLoop* loop = nullptr;  // null once nobody waits: the thread must not post
    std::string host, service;
    AddrInfoHints hints;
    GaiResult result;
    std::exception_ptr error;
    // Loop thread only:
    class ResolveWait* waiter = nullptr;
};

class ResolveWait final : public Suspension {
public:
    explicit ResolveWait(std::shared_ptr<ResolveJob> job) : job_(std::move(job)) {}
    ~ResolveWait() { detach(); }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        EventLoop& loop = running_loop_for("aio::getaddrinfo");
        job_->loop = &loop;
        job_->waiter = this;
        std::thread([job = job_] { run(job); }).detach();
        suspend_here(h);
    }
    void await_resume() {
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }

    void complete() {  // on the loop thread
        job_->waiter = nullptr;
        task_->loop()->schedule(task_);
    }

private:
    static void run(const std::shared_ptr<ResolveJob>& job) {
        try {
            job->result = call_getaddrinfo(job->host, job->service, job->hints, 0);
        } catch (...) {
            job->error = std::current_exception();
        }
        std::lock_guard lock(job->mutex);
        if (!job->loop) return;
        try {
            job->loop->call_soon_threadsafe([job] {
                if (job->waiter) job->waiter->complete();
            });
        } catch (...) {
            // The loop closed meanwhile: nobody waits any more.
        }
    }
    bool cancel_wait() override {
        if (!job_->waiter) return false;  // the result arrived: the task is queued
        cancelled_ = true;
        detach();
        task_->loop()->schedule(task_);
        return true;
    }
    void detach() noexcept {
        if (!job_->loop) return;
        job_->waiter = nullptr;
        std::lock_guard lock(job_->mutex);
        job_->loop = nullptr;
    }

    std::shared_ptr<ResolveJob> job_;
    bool cancelled_ = false;
};

}  // namespace

Coro<std::vector<AddrInfo>> resolve_blocking(std::string host, std::string service, AddrInfoHints hints) {
    auto job = std::make_shared<ResolveJob>();
    job->host = host;
    job->service = service;
    job->hints = hints;
    co_await ResolveWait(job);
    // The thread is done with the job (it posted after writing the result).
    if (job->error) std::rethrow_exception(job->error);
    if (job->result.code != 0) throw_gai(job->result, host, service);
    co_return std::move(job->result.infos);
}

}  // namespace detail

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string service, AddrInfoHints hints) {
    if (!host.empty() && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (detail::is_numeric_host(host) && (service.empty() || detail::is_numeric_service(service))) {
        // asyncio's _ipaddr_info shortcut: nothing to look up.
        detail::GaiResult r = detail::call_getaddrinfo(host, service, hints, AI_NUMERICHOST | AI_NUMERICSERV);
        if (r.code != 0) detail::throw_gai(r, host, service);
        co_return std::move(r.infos);
    }
    std::vector<AddrInfo> infos = co_await detail::resolve_blocking(host, service, hints);
    co_return infos;
}

Coro<std::vector<AddrInfo>> getaddrinfo(std::string host, std::uint16_t port, AddrInfoHints hints) {
    return getaddrinfo(std::move(host), std::to_string(port), hints);
}

// --- sock_* ------------------------------------------------------------------------

Coro<std::size_t> sock_recv_into(int fd, std::span<char> buffer) {
    for (;;) {
        ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n >= 0) co_return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) detail::throw_os_error(errno, "sock_recv");
        co_await detail::wait_io(fd, true);
    }
}

Coro<std::size_t> sock_recv_into(int fd, std::span<std::byte> buffer) {
    return sock_recv_into(fd, std::span<char>(reinterpret_cast<char*>(buffer.data()), buffer.size()));
}

Coro<std::string> sock_recv(int fd, std::size_t n) {
    std::string data(n, '\0');
    std::size_t got = co_await sock_recv_into(fd, std::span<char>(data.data(), data.size()));
    data.resize(got);
    co_return data;
}

Coro<void> sock_sendall(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) detail::throw_os_error(errno, "sock_sendall");
        co_await detail::wait_io(fd, false);
    }
}

Coro<void> sock_connect(int fd, SocketAddress address) {
    if (::connect(fd, address.data(), address.size()) == 0) co_return;
    int err = errno;
    if (err != EINPROGRESS && err != EINTR && err != EAGAIN)
        detail::throw_os_error(err, "connect(" + address.to_string() + ")");
    co_await detail::wait_io(fd, false);
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) detail::throw_os_error(err, "connect(" + address.to_string() + ")");
}

Coro<std::pair<Socket, SocketAddress>> sock_accept(int fd) {
    for (;;) {
        SocketAddress peer;
        socklen_t len = SocketAddress::capacity();
        int s = ::accept4(fd, peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0) {
            peer.set_size(len);
            co_return std::pair<Socket, SocketAddress>(Socket(s), peer);
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) detail::throw_os_error(errno, "sock_accept");
        co_await detail::wait_io(fd, true);
    }
}

// asyncio names these loop methods: the loop forwards to the free functions.
Coro<std::string> EventLoop::sock_recv(int fd, std::size_t n) { return aio::sock_recv(fd, n); }
Coro<std::size_t> EventLoop::sock_recv_into(int fd, std::span<char> buffer) { return aio::sock_recv_into(fd, buffer); }
Coro<void> EventLoop::sock_sendall(int fd, std::string_view data) { return aio::sock_sendall(fd, data); }
Coro<void> EventLoop::sock_connect(int fd, SocketAddress address) { return aio::sock_connect(fd, std::move(address)); }
Coro<std::pair<Socket, SocketAddress>> EventLoop::sock_accept(int fd) { return aio::sock_accept(fd); }

}  // namespace aio
