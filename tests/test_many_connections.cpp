// 10,000 concurrent TCP connections to one aio stream server, and the
// memory the server holds for them while they are idle (issue 7's target:
// under 50 MB). The clients run in a forked child with its own loop: one
// process may not have room for both ends' 20,000 descriptors. A separate
// program from test_streams because of its size.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;

namespace {

constexpr int kConnections = 10000;

long status_kb(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, n, key) == 0 && line[n] == ':') return std::stol(line.substr(n + 1));
    return -1;
}

bool raise_nofile(rlim_t want) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    if (rl.rlim_cur < want) {
        rlimit raised{want, std::max(want, rl.rlim_max)};
        if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {  // raising the hard limit needs privileges
            rl.rlim_cur = rl.rlim_max;
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur >= want;
}

/// The child: opens every connection, reports, waits for "go", does one
/// round trip on each concurrently, reports how many echoed, closes.
int run_clients(std::uint16_t port, int ready_fd, int go_fd) {
    int ok = 0;
    aio::run([&]() -> aio::Coro<> {
        aio::detail::FdStreams control = aio::detail::open_fd_streams(aio::get_running_loop(), go_fd, ready_fd);
        std::vector<aio::StreamPair> conns;
        conns.reserve(kConnections);
        for (int i = 0; i < kConnections; ++i) {
            aio::StreamPair c = co_await aio::open_connection("127.0.0.1", port);
            conns.push_back(std::move(c));
        }
        control.writer->write("connected\n");
        std::string go = co_await control.reader->readline();
        std::vector<aio::Task<>> clients;
        clients.reserve(kConnections);
        for (int i = 0; i < kConnections; ++i) {
            clients.push_back(aio::create_task([&conns, &ok, i]() -> aio::Coro<> {
                aio::StreamPair& c = conns[static_cast<std::size_t>(i)];
                std::string msg = "message " + std::to_string(i) + "\n";
                c.second.write(msg);
                std::string echo_line = co_await c.first.readline();
                if (echo_line == msg) ++ok;
            }));
        }
        for (auto& c : clients) co_await c;
        for (auto& c : conns) c.second.close();
        for (auto& c : conns) co_await c.second.wait_closed();
        control.writer->write("done " + std::to_string(ok) + "\n");
        co_await control.writer->drain();
    });
    return ok == kConnections ? 0 : 1;
}

TEST(ManyConnections, TenThousandConcurrentEchoConnections) {
    if (!raise_nofile(kConnections + 256)) GTEST_SKIP() << "cannot raise RLIMIT_NOFILE to " << kConnections + 256;
    aio::Socket listener = aio::Socket::create(AF_INET);
    listener.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
    listener.bind(aio::SocketAddress::parse("127.0.0.1", 0));
    listener.listen(4096);  // before the fork: the child connects at once
    const std::uint16_t port = listener.sockname().port();
    int ready[2], go[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        listener.close();
        ::close(ready[0]);
        ::close(go[1]);
        int rc = 2;
        try {
            rc = run_clients(port, ready[1], go[0]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "client process: %s\n", e.what());
        }
        ::_exit(rc);
    }
    ::close(ready[1]);
    ::close(go[0]);

    aio::run([&]() -> aio::Coro<> {
        int handlers = 0;
        auto echo = [&handlers](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            ++handlers;
            for (;;) {
                std::string line = co_await r.readline();
                if (line.empty()) break;
                w.write(line);
            }
            --handlers;
        };
        const long rss_before = status_kb("VmRSS");
        aio::Server server = aio::start_server(echo, std::move(listener), {.backlog = 4096});
        aio::detail::FdStreams control = aio::detail::open_fd_streams(aio::get_running_loop(), ready[0], go[1]);

        std::string connected = co_await control.reader->readline();
        EXPECT_EQ(connected, "connected\n");
        if (connected != "connected\n") co_return;  // the client process failed
        while (handlers < kConnections) co_await aio::sleep(5ms);
        const long rss_idle = status_kb("VmRSS");
        const double mb = (rss_idle - rss_before) / 1024.0;
        std::printf("server: %d idle connections hold %.1f MB RSS (%.2f KB each)\n", kConnections, mb,
                    (rss_idle - rss_before) / double(kConnections));
        EXPECT_LT(mb, 50.0) << "10,000 idle connections must fit in 50 MB";

        control.writer->write("go\n");
        std::string done = co_await control.reader->readline();
        EXPECT_EQ(done, "done " + std::to_string(kConnections) + "\n");
        while (handlers > 0) co_await aio::sleep(5ms);
        server.close();
        co_await server.wait_closed();
    });
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client process status " << status;
}

}  // namespace
