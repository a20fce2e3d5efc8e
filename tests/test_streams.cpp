// Streams: StreamReader parsing fed by hand, then StreamReader/StreamWriter
// over real TCP (IPv4, IPv6) and Unix connections: echo, half-close, peer
// reset, refused connections, backpressure, cancellation, many connections.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <array>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;

namespace {


std::uint16_t port_of(const aio::Server& server) { return server.sockets().at(0).sockname().port(); }

/// A handler echoing lines until EOF.
aio::Coro<> echo_lines(aio::StreamReader reader, aio::StreamWriter writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
}

// --- StreamReader fed by hand ------------------------------------------------------

TEST(StreamReader, ReadReturnsWhatIsBufferedUpToN) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        r.feed_data("hello");
        std::string a = co_await r.read(3);
        std::string b = co_await r.read(10);
        EXPECT_EQ(a, "hel");
        EXPECT_EQ(b, "lo");
        std::string zero = co_await r.read(0);
        EXPECT_EQ(zero, "");
        r.feed_eof();
        std::string end = co_await r.read(10);
        EXPECT_EQ(end, "");
        EXPECT_TRUE(r.at_eof());
    });
}

TEST(StreamReader, ReadWaitsForData) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        aio::get_running_loop().call_later(20ms, [r]() mutable { r.feed_data("late"); });
        auto start = aio::get_running_loop().time();
        std::string got = co_await r.read(100);
        EXPECT_EQ(got, "late");
        EXPECT_GE(since(start), 0.015);
    });
}

TEST(StreamReader, ReadAllUntilEof) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        auto& loop = aio::get_running_loop();
        loop.call_soon([r]() mutable { r.feed_data("ab"); });
        loop.call_later(10ms, [r]() mutable {
            r.feed_data("cd");
            r.feed_eof();
        });
        std::string all = co_await r.read();
        EXPECT_EQ(all, "abcd");
        EXPECT_TRUE(r.at_eof());
    });
}

TEST(StreamReader, ReadlineAcrossChunksAndPartialLastLine) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        r.feed_data("first li");
        auto& loop = aio::get_running_loop();
        loop.call_soon([r]() mutable { r.feed_data("ne\nsecond"); });
        loop.call_later(5ms, [r]() mutable { r.feed_eof(); });
        std::string l1 = co_await r.readline();
        std::string l2 = co_await r.readline();
        std::string l3 = co_await r.readline();
        EXPECT_EQ(l1, "first line\n");
        EXPECT_EQ(l2, "second");
        EXPECT_EQ(l3, "");
    });
}

TEST(StreamReader, ReaduntilSeparatorSplitAcrossFeeds) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        r.feed_data("abc\r");
        aio::get_running_loop().call_soon([r]() mutable { r.feed_data("\ndef\r\n"); });
        std::string a = co_await r.readuntil("\r\n");
        std::string b = co_await r.readuntil("\r\n");
        EXPECT_EQ(a, "abc\r\n");
        EXPECT_EQ(b, "def\r\n");
        // One byte at a time.
        for (char c : std::string("xy--END--z")) r.feed_data(std::string_view(&c, 1));
        std::string c = co_await r.readuntil("--END--");
        EXPECT_EQ(c, "xy--END--");
        EXPECT_EQ(r.buffered(), 1u);
    });
}

TEST(StreamReader, ReaduntilSeveralSeparatorsShortestWins) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        r.feed_data("key=value;next,rest");
        // A named list: g++ 12 miscompiles a braced list inside a co_await expression.
        const std::array<std::string_view, 2> punct{",", ";"};
        std::string a = co_await r.readuntil(punct);
        std::string b = co_await r.readuntil(punct);
        EXPECT_EQ(a, "key=value;");
        EXPECT_EQ(b, "next,");
        std::vector<std::string_view> seps{"\r\n", "\n"};
        r.feed_data("line\r\n");
        std::string c = co_await r.readuntil(std::span<const std::string_view>(seps));
        EXPECT_EQ(c, "rest" "line\r\n");
    });
}

TEST(StreamReader, ReaduntilAtEofRaisesIncompleteReadWithPartial) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        r.feed_data("no separator");
        r.feed_eof();
        bool raised = false;
        try {
            co_await r.readuntil("\n");
        } catch (const aio::IncompleteReadError& e) {
            raised = true;
            EXPECT_EQ(e.partial(), "no separator");
            EXPECT_FALSE(e.expected().has_value());
        }
        EXPECT_TRUE(raised);
    });
}

TEST(StreamReader, LimitOverrunKeepsDataForReaduntil) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r(8);
        r.feed_data("0123456789abcdef");
        bool raised = false;
        try {
            co_await r.readuntil("\n");
        } catch (const aio::LimitOverrunError& e) {
            raised = true;
            EXPECT_GT(e.consumed(), 8u);
        }
        EXPECT_TRUE(raised);
        EXPECT_EQ(r.buffered(), 16u);  // readuntil leaves the data
        std::string rest = co_await r.read(100);
        EXPECT_EQ(rest, "0123456789abcdef");
        // A separator found beyond the limit is an overrun too.
        r.feed_data("0123456789\nok\n");
        raised = false;
        try {
            co_await r.readuntil("\n");
        } catch (const aio::LimitOverrunError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

TEST(StreamReader, ReadlineOverrunDiscardsTheLongLine) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r(8);
        r.feed_data("0123456789ABCDEF\nshort\n");
        bool raised = false;
        try {
            co_await r.readline();
        } catch (const aio::LimitOverrunError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        std::string next = co_await r.readline();
        EXPECT_EQ(next, "short\n");
    });
}

TEST(StreamReader, ReadexactlyWaitsAndRaisesAtEofWithPartial) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        aio::get_running_loop().call_soon([r]() mutable { r.feed_data("12"); });
        aio::get_running_loop().call_later(5ms, [r]() mutable { r.feed_data("345678"); });
        std::string five = co_await r.readexactly(5);
        EXPECT_EQ(five, "12345");
        r.feed_eof();
        bool raised = false;
        try {
            co_await r.readexactly(10);
        } catch (const aio::IncompleteReadError& e) {
            raised = true;
            EXPECT_EQ(e.partial(), "678");
            EXPECT_EQ(e.expected(), std::optional<std::size_t>(10));
        }
        EXPECT_TRUE(raised);
        EXPECT_TRUE(r.at_eof());
    });
}

TEST(StreamReader, ExceptionIsRaisedByTheNextRead) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        aio::get_running_loop().call_soon([r]() mutable {
            r.set_exception(std::make_exception_ptr(aio::ConnectionResetError("reset")));
        });
        bool raised = false;
        try {
            co_await r.read(10);
        } catch (const aio::ConnectionResetError& e) {
            raised = true;
            EXPECT_EQ(e.code().value(), ECONNRESET);
        }
        EXPECT_TRUE(raised);
    });
}

TEST(StreamReader, SecondConcurrentReaderIsAnError) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        auto first = aio::create_task([r]() mutable -> aio::Coro<std::string> { co_return co_await r.read(5); });
        co_await aio::sleep(0s);
        bool raised = false;
        try {
            co_await r.read(5);
        } catch (const aio::RuntimeError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        r.feed_data("x");
        std::string got = co_await first;
        EXPECT_EQ(got, "x");
    });
}

TEST(StreamReader, CancelledReadLosesNoData) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        auto reader_task =
            aio::create_task([r]() mutable -> aio::Coro<std::string> { co_return co_await r.readexactly(4); });
        co_await aio::sleep(0s);
        r.feed_data("ab");  // not enough yet
        co_await aio::sleep(0s);
        reader_task.cancel();
        bool cancelled = false;
        try {
            co_await reader_task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        r.feed_data("cd");
        std::string got = co_await r.readexactly(4);
        EXPECT_EQ(got, "abcd");
    });
}

TEST(StreamReader, ReadCancelledAfterDataArrivedGivesTheDataBack) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        auto reader_task = aio::create_task([r]() mutable -> aio::Coro<std::string> { co_return co_await r.read(100); });
        co_await aio::sleep(0s);  // the task waits in read()
        r.feed_data("xy");        // wakes it with the data...
        r.feed_data("z");
        reader_task.cancel();     // ...but it is cancelled before it runs
        bool cancelled = false;
        try {
            co_await reader_task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(r.buffered(), 3u);
        std::string got = co_await r.read(100);
        EXPECT_EQ(got, "xyz");
    });
}

TEST(StreamReader, ReadTakesOnlyNAndLeavesTheRestBuffered) {
    run_bounded([]() -> aio::Coro<> {
        aio::StreamReader r;
        aio::get_running_loop().call_soon([r]() mutable { r.feed_data("abcdef"); });
        std::string a = co_await r.read(2);
        EXPECT_EQ(a, "ab");
        EXPECT_EQ(r.buffered(), 4u);
        std::string b = co_await r.read(100);
        EXPECT_EQ(b, "cdef");
    });
}

// --- TCP and Unix streams ------------------------------------------------------------

TEST(Streams, EchoOverIpv4) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0);
        EXPECT_TRUE(server.is_serving());
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        writer.write("Hello World!\n");
        co_await writer.drain();
        std::string line = co_await reader.readline();
        EXPECT_EQ(line, "Hello World!\n");
        aio::ExtraInfo peer = writer.get_extra_info("peername");
        EXPECT_TRUE(peer.is_address());
        EXPECT_EQ(peer.address().port(), port_of(server));
        EXPECT_EQ(peer.address().host(), "127.0.0.1");
        EXPECT_TRUE(writer.get_extra_info("sockname").is_address());
        EXPECT_TRUE(writer.get_extra_info("socket").is_fd());
        EXPECT_FALSE(writer.get_extra_info("no-such-thing").has_value());
        writer.close();
        co_await writer.wait_closed();
        EXPECT_TRUE(writer.is_closing());
        server.close();
        co_await server.wait_closed();
        EXPECT_FALSE(server.is_serving());
    });
}

TEST(Streams, EchoOverIpv6Loopback) {
    {
        // Skip only when this machine has no IPv6 loopback.
        int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
        bool ok = fd >= 0;
        if (ok) {
            aio::SocketAddress a = aio::SocketAddress::parse("::1", 0);
            ok = ::bind(fd, a.data(), a.size()) == 0;
            ::close(fd);
        }
        if (!ok) GTEST_SKIP() << "no IPv6 loopback on this machine";
    }
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "::1", 0);
        EXPECT_EQ(server.sockets().at(0).sockname().family(), AF_INET6);
        auto [reader, writer] = co_await aio::open_connection("::1", port_of(server));
        writer.write("over v6\n");
        std::string line = co_await reader.readline();
        EXPECT_EQ(line, "over v6\n");
        EXPECT_EQ(writer.get_extra_info("peername").address().host(), "::1");
        EXPECT_EQ(writer.get_extra_info("peername").to_string(), "[::1]:" + std::to_string(port_of(server)));
        writer.close();
        co_await writer.wait_closed();
    });
}

TEST(Streams, EchoOverUnixSocket) {
    run_bounded([]() -> aio::Coro<> {
        std::string path = "/tmp/aio-test-streams-" + std::to_string(::getpid()) + ".sock";
        aio::Server server = co_await aio::start_unix_server(echo_lines, path);
        auto [reader, writer] = co_await aio::open_unix_connection(path);
        writer.writelines({"one ", "two ", "three\n"});
        std::string line = co_await reader.readline();
        EXPECT_EQ(line, "one two three\n");
        writer.close();
        co_await writer.wait_closed();
        server.close();
        co_await server.wait_closed();
        EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket file is removed on close";
    });
}

TEST(Streams, HalfCloseClientWriteEofServerStillAnswers) {
    run_bounded([]() -> aio::Coro<> {
        auto handler = [](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            std::string all = co_await r.read();  // until the client's EOF
            w.write("got " + std::to_string(all.size()) + " bytes");
            w.close();
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        EXPECT_TRUE(writer.can_write_eof());
        writer.write(std::string(100000, 'x'));
        writer.write_eof();
        std::string answer = co_await reader.read();
        EXPECT_EQ(answer, "got 100000 bytes");
        EXPECT_TRUE(reader.at_eof());
        bool raised = false;
        try {
            writer.write("more");
        } catch (const aio::RuntimeError&) {
            raised = true;  // write after write_eof
        }
        EXPECT_TRUE(raised);
        writer.close();
        co_await writer.wait_closed();
    });
}

TEST(Streams, PeerResetRaisesConnectionResetOnRead) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket listener = aio::Socket::create(AF_INET);
        listener.bind(aio::SocketAddress::parse("127.0.0.1", 0));
        listener.listen();
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", listener.sockname().port());
        auto [peer, addr] = co_await aio::sock_accept(listener);
        // SO_LINGER 0 + close sends an RST.
        linger lg{1, 0};
        ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        peer.close();
        bool reset = false;
        for (int i = 0; i < 10 && !reset; ++i) {
            try {
                std::string got = co_await reader.read(100);
                if (got.empty()) break;
            } catch (const aio::ConnectionResetError&) {
                reset = true;
            }
        }
        EXPECT_TRUE(reset);
        // Later operations raise too, never hang.
        bool write_raised = false;
        try {
            writer.write("x");
        } catch (const aio::ConnectionError&) {
            write_raised = true;
        }
        EXPECT_TRUE(write_raised);
        bool drain_raised = false;
        try {
            co_await writer.drain();
        } catch (const aio::ConnectionError&) {
            drain_raised = true;
        }
        EXPECT_TRUE(drain_raised);
    });
}

TEST(Streams, WritingToAClosedPeerRaisesNotCrashes) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket listener = aio::Socket::create(AF_INET);
        listener.bind(aio::SocketAddress::parse("127.0.0.1", 0));
        listener.listen();
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", listener.sockname().port());
        {
            auto [peer, addr] = co_await aio::sock_accept(listener);
            peer.close();  // plain close: our writes then hit a closed socket
        }
        bool raised = false;
        for (int i = 0; i < 1000 && !raised; ++i) {
            try {
                writer.write(std::string(1024, 'z'));
                co_await writer.drain();
                co_await aio::sleep(1ms);
            } catch (const aio::ConnectionError& e) {
                raised = true;
                EXPECT_TRUE(e.code().value() == EPIPE || e.code().value() == ECONNRESET) << e.what();
            }
        }
        EXPECT_TRUE(raised);
    });
}

TEST(Streams, ConnectionRefused) {
    run_bounded([]() -> aio::Coro<> {
        std::uint16_t port;
        {
            aio::Socket s = aio::Socket::create(AF_INET);
            s.bind(aio::SocketAddress::parse("127.0.0.1", 0));
            port = s.sockname().port();
        }  // closed: nothing listens there
        bool refused = false;
        try {
            co_await aio::open_connection("127.0.0.1", port);
        } catch (const aio::ConnectionRefusedError& e) {
            refused = true;
            EXPECT_EQ(e.code(), std::errc::connection_refused);
        }
        EXPECT_TRUE(refused);
        bool unix_refused = false;
        try {
            co_await aio::open_unix_connection("/tmp/aio-no-such-socket-" + std::to_string(::getpid()));
        } catch (const std::system_error& e) {
            unix_refused = e.code().value() == ENOENT;
        }
        EXPECT_TRUE(unix_refused);
    });
}

TEST(Streams, WriteAfterCloseRaises) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        writer.close();
        bool raised = false;
        try {
            writer.write("x");
        } catch (const aio::RuntimeError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        co_await writer.wait_closed();
        bool drain_raised = false;
        try {
            co_await writer.drain();
        } catch (const aio::ConnectionResetError&) {
            drain_raised = true;
        }
        EXPECT_TRUE(drain_raised);
    });
}

/// A server whose handler does not read until `go` is set, then counts bytes.
struct SlowReader {
    aio::Future<void> go;
    std::size_t received = 0;
    aio::Future<std::size_t> finished;
};

TEST(Streams, BackpressureDrainBlocksAndMemoryStaysBounded) {
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto state = std::make_shared<SlowReader>(SlowReader{loop.create_future<void>(), 0,
                                                             loop.create_future<std::size_t>()});
        auto handler = [state](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            co_await state->go;
            for (;;) {
                std::string chunk = co_await r.read(1 << 16);
                if (chunk.empty()) break;
                state->received += chunk.size();
            }
            state->finished.set_result(state->received);
            w.close();
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        const std::size_t chunk = 16 * 1024;
        const std::string data(chunk, 'b');
        const std::size_t high = writer.transport().get_write_buffer_limits().second;
        std::size_t written = 0;
        // Write with drain until drain really blocks (kernel buffers full).
        aio::Task<> blocked;
        for (int i = 0; i < 100000; ++i) {
            writer.write(data);
            written += chunk;
            EXPECT_LE(writer.transport().get_write_buffer_size(), high + chunk);
            blocked = aio::create_task([w = writer]() mutable -> aio::Coro<> { co_await w.drain(); });
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            if (!blocked.done()) break;
        }
        CO_ASSERT_TRUE(!blocked.done());
        // It stays blocked while the peer does not read.
        co_await aio::sleep(200ms);
        EXPECT_FALSE(blocked.done());
        EXPECT_GT(writer.transport().get_write_buffer_size(), 0u);
        EXPECT_LE(writer.transport().get_write_buffer_size(), high + chunk);
        // The peer reads: drain completes, every byte arrives.
        state->go.set_result();
        co_await blocked;
        writer.write_eof();
        std::size_t got = co_await state->finished;
        EXPECT_EQ(got, written);
        writer.close();
    });
}

TEST(Streams, CancelledDrainLeavesTheStreamUsable) {
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto state = std::make_shared<SlowReader>(SlowReader{loop.create_future<void>(), 0,
                                                             loop.create_future<std::size_t>()});
        auto handler = [state](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            co_await state->go;
            for (;;) {
                std::string chunk = co_await r.read(1 << 16);
                if (chunk.empty()) break;
                state->received += chunk.size();
            }
            state->finished.set_result(state->received);
            w.close();
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        const std::string data(64 * 1024, 'c');
        std::size_t written = 0;
        aio::Task<> drainer;
        for (int i = 0; i < 10000; ++i) {
            writer.write(data);
            written += data.size();
            drainer = aio::create_task([w = writer]() mutable -> aio::Coro<> { co_await w.drain(); });
            co_await aio::sleep(0s);
            co_await aio::sleep(0s);
            if (!drainer.done()) break;
        }
        CO_ASSERT_TRUE(!drainer.done());
        drainer.cancel();
        bool cancelled = false;
        try {
            co_await drainer;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(writer.is_closing());
        state->go.set_result();
        co_await writer.drain();  // still works after the cancelled one
        writer.write("tail");
        written += 4;
        writer.write_eof();
        std::size_t got = co_await state->finished;
        EXPECT_EQ(got, written);
    });
}

TEST(Streams, CancelledReadOnASocketLeavesTheStreamUsable) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        auto stuck = aio::create_task([r = reader]() mutable -> aio::Coro<std::string> { co_return co_await r.readline(); });
        co_await aio::sleep(10ms);
        stuck.cancel();
        bool cancelled = false;
        try {
            co_await stuck;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        writer.write("still here\n");
        std::string line = co_await reader.readline();
        EXPECT_EQ(line, "still here\n");
    });
}

TEST(Streams, ServerWaitClosedWaitsForClientHandlers) {
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        aio::Future<void> release = loop.create_future<void>();
        int handled = 0;
        auto handler = [release, &handled](aio::StreamReader, aio::StreamWriter w) -> aio::Coro<> {
            co_await release;
            ++handled;
            w.close();
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        co_await aio::sleep(20ms);  // let the server accept
        server.close();
        auto waiter = aio::create_task(server.wait_closed());
        co_await aio::sleep(50ms);
        EXPECT_FALSE(waiter.done()) << "a client handler is still running";
        release.set_result();
        co_await waiter;
        EXPECT_EQ(handled, 1);
        std::string eof = co_await reader.read(10);
        EXPECT_EQ(eof, "");
    });
}

// A client task cancelled before its first step (its body never runs) must
// still release the server, or wait_closed() would hang.
TEST(Streams, WaitClosedReturnsWhenAHandlerTaskIsCancelledBeforeItStarts) {
    run_bounded([]() -> aio::Coro<> {
        int started = 0;
        auto handler = [&started](aio::StreamReader, aio::StreamWriter) -> aio::Coro<> {
            ++started;
            co_return;
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        // Shared with the killer by value: it must not outlive what it reads.
        struct KillerState {
            bool stop = false;
            int cancelled = 0;
            std::vector<aio::AnyTask> spared;  // the tasks that existed before (this one, the runner's)
        };
        auto state = std::make_shared<KillerState>();
        state->spared = aio::all_tasks();
        // Cancels every task newer than `spared` (but itself) on each loop
        // iteration, so the handler task is cancelled as soon as it exists,
        // before its first step.
        auto killer_body = [state]() -> aio::Coro<> {
            while (!state->stop) {
                std::optional<aio::AnyTask> self = aio::current_task();
                for (aio::AnyTask t : aio::all_tasks()) {
                    bool spared = t == *self;
                    for (const aio::AnyTask& s : state->spared) spared = spared || t == s;
                    if (!spared && t.cancel()) ++state->cancelled;
                }
                co_await aio::sleep(0s);
            }
        };
        aio::Task<void> killer = aio::create_task(std::move(killer_body));
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        // The server closes our connection when its (cancelled) handler ends.
        std::string eof = co_await reader.read(10);
        EXPECT_EQ(eof, "");
        state->stop = true;
        co_await killer;
        EXPECT_GE(state->cancelled, 1);
        server.close();
        co_await aio::wait_for(server.wait_closed(), 10s);  // TimeoutError before the fix
        EXPECT_EQ(started, 0) << "the handler was cancelled before it ran";
    });
}

TEST(Streams, ServeForeverCancelledClosesTheServer) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.start_serving = false});
        EXPECT_FALSE(server.is_serving());
        auto serving = aio::create_task(server.serve_forever());
        co_await aio::sleep(0s);
        EXPECT_TRUE(server.is_serving());
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        writer.write("ping\n");
        std::string pong = co_await reader.readline();
        EXPECT_EQ(pong, "ping\n");
        writer.close();
        co_await writer.wait_closed();
        serving.cancel();
        bool cancelled = false;
        try {
            co_await serving;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(server.is_serving());
        EXPECT_TRUE(server.sockets().empty());
    });
}

TEST(Streams, HandlerExceptionGoesToTheLoopHandlerAndClosesTheConnection) {
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        std::vector<std::string> reported;
        loop.set_exception_handler(
            [&](aio::EventLoop&, const aio::ExceptionContext& ctx) { reported.push_back(ctx.message); });
        auto handler = [](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            aio::StreamWriter keep = w;  // even with a copy alive elsewhere
            co_await r.readline();
            throw std::runtime_error("handler failed");
        };
        aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        writer.write("boom\n");
        std::string eof = co_await reader.read(10);
        EXPECT_EQ(eof, "");
        CO_ASSERT_TRUE(reported.size() == 1);
        EXPECT_EQ(reported[0], "Unhandled exception in client_connected_cb");
        loop.set_exception_handler({});
    });
}

TEST(Streams, ResolvesLocalhostAndFallsBackAcrossAddresses) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0);
        // "localhost" goes through the resolver thread; whatever addresses it
        // gives, one of them (127.0.0.1) accepts.
        auto [reader, writer] = co_await aio::open_connection("localhost", port_of(server));
        writer.write("via name\n");
        std::string line = co_await reader.readline();
        EXPECT_EQ(line, "via name\n");
        writer.close();
    });
}

void raise_nofile(rlim_t want) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = std::min(want, rl.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

constexpr int kConnections = 2000;

TEST(Streams, TwoThousandConcurrentConnections) {
    raise_nofile(2 * kConnections + 200);
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * kConnections + 100) GTEST_SKIP() << "RLIMIT_NOFILE too low: " << rl.rlim_cur;
    run_bounded(
        []() -> aio::Coro<> {
            aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 4096});
            const std::uint16_t port = port_of(server);
            int ok = 0;
            std::vector<aio::Task<>> clients;
            for (int i = 0; i < kConnections; ++i) {
                clients.push_back(aio::create_task([i, port, &ok]() -> aio::Coro<> {
                    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
                    std::string msg = "client " + std::to_string(i) + "\n";
                    writer.write(msg);
                    std::string echo = co_await reader.readline();
                    if (echo == msg) ++ok;
                    writer.close();
                    co_await writer.wait_closed();
                }));
            }
            for (auto& c : clients) {
                try {
                    co_await c;
                } catch (const std::exception& e) {
                    ADD_FAILURE() << "client failed: " << e.what();
                }
            }
            EXPECT_EQ(ok, kConnections);
            server.close();
            co_await server.wait_closed();
        },
        std::chrono::seconds(120));
}

}  // namespace
