// Sockets: addresses, getaddrinfo (numeric shortcut, resolver thread,
// errors), the loop-level sock_* coroutines, and happy-eyeballs connection
// fallback across addresses.
#include <sys/socket.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/socket.hpp>
#include <aio/transport.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;

namespace {


aio::Socket listening_socket(const char* host = "127.0.0.1", int backlog = 16) {
    aio::SocketAddress a = aio::SocketAddress::parse(host, 0);
    aio::Socket s = aio::Socket::create(a.family());
    s.bind(a);
    s.listen(backlog);
    return s;
}

std::uint16_t closed_port() {
    aio::Socket s = aio::Socket::create(AF_INET);
    s.bind(aio::SocketAddress::parse("127.0.0.1", 0));
    return s.sockname().port();
}

TEST(SocketAddress, ParsesFormatsAndCompares) {
    aio::SocketAddress v4 = aio::SocketAddress::parse("127.0.0.1", 8888);
    EXPECT_EQ(v4.family(), AF_INET);
    EXPECT_EQ(v4.host(), "127.0.0.1");
    EXPECT_EQ(v4.port(), 8888);
    EXPECT_EQ(v4.to_string(), "127.0.0.1:8888");
    aio::SocketAddress v6 = aio::SocketAddress::parse("[::1]", 443);
    EXPECT_EQ(v6.family(), AF_INET6);
    EXPECT_EQ(v6.to_string(), "[::1]:443");
    aio::SocketAddress un = aio::SocketAddress::unix_path("/tmp/x.sock");
    EXPECT_EQ(un.family(), AF_UNIX);
    EXPECT_EQ(un.host(), "/tmp/x.sock");
    EXPECT_EQ(un.to_string(), "/tmp/x.sock");
    EXPECT_EQ(v4, aio::SocketAddress::parse("127.0.0.1", 8888));
    EXPECT_FALSE(v4 == v6);
    EXPECT_THROW(aio::SocketAddress::parse("localhost", 1), std::invalid_argument);
    std::ostringstream os;
    os << aio::ExtraInfo(v4) << " " << aio::ExtraInfo(7) << " " << aio::ExtraInfo();
    EXPECT_EQ(os.str(), "127.0.0.1:8888 fd 7 None");
}

TEST(Getaddrinfo, NumericHostsNeedNoThreadAndNamesResolve) {
    run_bounded([]() -> aio::Coro<> {
        std::vector<aio::AddrInfo> v4 = co_await aio::getaddrinfo("127.0.0.1", 80, {.type = SOCK_STREAM});
        CO_ASSERT_TRUE(v4.size() == 1);
        EXPECT_EQ(v4[0].address.to_string(), "127.0.0.1:80");
        std::vector<aio::AddrInfo> v6 = co_await aio::getaddrinfo("::1", 80, {.type = SOCK_STREAM});
        CO_ASSERT_TRUE(v6.size() == 1);
        EXPECT_EQ(v6[0].family, AF_INET6);
        // A name goes through the resolver thread; /etc/hosts has localhost.
        std::vector<aio::AddrInfo> local = co_await aio::getaddrinfo("localhost", "80", {.type = SOCK_STREAM});
        EXPECT_FALSE(local.empty());
        for (auto& a : local) EXPECT_EQ(a.address.port(), 80);
    });
}

TEST(Getaddrinfo, FailureIsASystemErrorInTheGaiCategory) {
    run_bounded([]() -> aio::Coro<> {
        bool raised = false;
        try {
            // An unknown service name fails locally (no DNS needed).
            co_await aio::getaddrinfo("127.0.0.1", "no-such-service-aio", {.type = SOCK_STREAM});
        } catch (const std::system_error& e) {
            raised = true;
            EXPECT_EQ(&e.code().category(), &aio::gai_category());
            EXPECT_NE(std::string(e.what()).find("no-such-service-aio"), std::string::npos);
        }
        EXPECT_TRUE(raised);
    });
}

TEST(Getaddrinfo, CancelledLookupIsAbandonedCleanly) {
    run_bounded([]() -> aio::Coro<> {
        auto lookup = aio::create_task(aio::getaddrinfo("localhost", "80"));
        lookup.cancel();
        bool cancelled = false;
        try {
            co_await lookup;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        co_await aio::sleep(20ms);  // the thread finishes and posts to nobody
    });
}

TEST(SockOps, LoopMethodsForwardToTheFreeFunctions) {
    // asyncio's spelling: loop.sock_sendall / loop.sock_recv.
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto [a, b] = aio::Socket::pair();
        co_await loop.sock_sendall(a.fd(), "ping");
        std::string got = co_await loop.sock_recv(b.fd(), 16);
        EXPECT_EQ(got, "ping");
    });
}

TEST(SockOps, SendallRecvOverASocketPair) {
    run_bounded([]() -> aio::Coro<> {
        auto [a, b] = aio::Socket::pair();
        std::string big(1 << 20, 'q');  // larger than the socket buffer: sendall waits
        auto sender = aio::create_task([&a, &big]() -> aio::Coro<> {
            co_await aio::sock_sendall(a, big);
            ::shutdown(a.fd(), SHUT_WR);
        });
        std::string got;
        for (;;) {
            std::string chunk = co_await aio::sock_recv(b, 65536);
            if (chunk.empty()) break;
            got += chunk;
        }
        co_await sender;
        EXPECT_EQ(got.size(), big.size());
        EXPECT_TRUE(got == big);
        char buf[4];
        std::size_t n = co_await aio::sock_recv_into(b.fd(), std::span<char>(buf));
        EXPECT_EQ(n, 0u);
    });
}

TEST(SockOps, AcceptAndConnect) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket listener = listening_socket();
        aio::SocketAddress where = listener.sockname();
        auto accepting = aio::create_task(aio::sock_accept(listener));
        aio::Socket client = aio::Socket::create(AF_INET);
        co_await aio::sock_connect(client, where);
        auto [conn, peer] = co_await accepting;
        EXPECT_EQ(peer, client.sockname());
        EXPECT_EQ(conn.peername(), client.sockname());
        co_await aio::sock_sendall(conn, "hi");
        std::string got = co_await aio::sock_recv(client, 10);
        EXPECT_EQ(got, "hi");
    });
}

TEST(SockOps, ConnectRefused) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket s = aio::Socket::create(AF_INET);
        bool refused = false;
        try {
            co_await aio::sock_connect(s, aio::SocketAddress::parse("127.0.0.1", closed_port()));
        } catch (const aio::ConnectionRefusedError&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
    });
}

TEST(SockOps, CancelledRecvLeavesTheSocketUsable) {
    run_bounded([]() -> aio::Coro<> {
        auto [a, b] = aio::Socket::pair();
        auto waiting = aio::create_task(aio::sock_recv(b.fd(), 10));
        co_await aio::sleep(5ms);
        waiting.cancel();
        bool cancelled = false;
        try {
            co_await waiting;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        co_await aio::sock_sendall(a, "after");
        std::string got = co_await aio::sock_recv(b, 10);
        EXPECT_EQ(got, "after");
    });
}

TEST(HappyEyeballs, FallsBackToTheAddressThatAccepts) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket listener = listening_socket();
        std::vector<aio::AddrInfo> addrs(3);
        addrs[0].family = addrs[1].family = addrs[2].family = AF_INET;
        addrs[0].address = aio::SocketAddress::parse("127.0.0.1", closed_port());
        addrs[1].address = aio::SocketAddress::parse("127.0.0.1", closed_port());
        addrs[2].address = listener.sockname();
        for (auto delay : {std::optional<std::chrono::milliseconds>(250ms), std::optional<std::chrono::milliseconds>()}) {
            aio::ConnectOptions options;
            options.happy_eyeballs_delay = delay;
            aio::Socket s = co_await aio::detail::connect_first(addrs, options);
            EXPECT_EQ(s.peername(), listener.sockname());
            auto [conn, peer] = co_await aio::sock_accept(listener);
            (void)conn;
        }
    });
}

TEST(HappyEyeballs, AllRefusedAggregatesTheErrors) {
    run_bounded([]() -> aio::Coro<> {
        std::vector<aio::AddrInfo> addrs(2);
        addrs[0].family = addrs[1].family = AF_INET;
        addrs[0].address = aio::SocketAddress::parse("127.0.0.1", closed_port());
        addrs[1].address = aio::SocketAddress::parse("127.0.0.1", closed_port());
        bool refused = false;
        try {
            co_await aio::detail::connect_first(addrs, {});
        } catch (const aio::ConnectionRefusedError& e) {
            refused = true;
            EXPECT_NE(std::string(e.what()).find("Multiple exceptions"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(refused);
    });
}

TEST(HappyEyeballs, ASlowAddressDoesNotDelayTheNextBeyondTheAttemptDelay) {
    run_bounded([]() -> aio::Coro<> {
        // A listener whose accept queue is full drops SYNs: connecting to it
        // hangs, like an unreachable address.
        aio::Socket full = listening_socket("127.0.0.1", 0);
        std::vector<aio::Socket> fillers;
        for (int i = 0; i < 4; ++i) {
            aio::Socket f = aio::Socket::create(AF_INET);
            ::connect(f.fd(), full.sockname().data(), full.sockname().size());
            fillers.push_back(std::move(f));
        }
        co_await aio::sleep(50ms);
        aio::Socket good = listening_socket();
        std::vector<aio::AddrInfo> addrs(2);
        addrs[0].family = addrs[1].family = AF_INET;
        addrs[0].address = full.sockname();
        addrs[1].address = good.sockname();
        aio::ConnectOptions options;
        options.happy_eyeballs_delay = 100ms;
        auto start = aio::get_running_loop().time();
        aio::Socket s = co_await aio::detail::connect_first(addrs, options);
        double took = since(start);
        EXPECT_EQ(s.peername(), good.sockname());
        EXPECT_GE(took, 0.09);
        EXPECT_LT(took, 5.0);
    });
}

}  // namespace
