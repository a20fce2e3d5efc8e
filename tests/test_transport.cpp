// Transports and protocols: the callback order, echo over create_server /
// create_connection, write-buffer flow control (pause_writing /
// resume_writing at the water marks), pause_reading, half-close through
// eof_received, abort, errors reaching connection_lost, BufferedProtocol,
// and fd streams over pipes (what subprocesses use).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <aio/transport.hpp>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;

namespace {


/// Records every callback in order; finishes `done` at connection_lost.
struct Recorder : aio::Protocol {
    std::vector<std::string> events;
    std::string data;
    aio::Transport* transport = nullptr;
    std::exception_ptr lost_with;
    bool keep_open_on_eof = false;
    aio::Future<void> done{aio::get_running_loop()};

    void connection_made(aio::Transport& t) override {
        transport = &t;
        events.push_back("made");
    }
    void data_received(std::string_view d) override {
        if (events.back() != "data") events.push_back("data");
        data += d;
    }
    bool eof_received() override {
        events.push_back("eof");
        return keep_open_on_eof;
    }
    void connection_lost(std::exception_ptr e) override {
        events.push_back("lost");
        lost_with = e;
        done.set_result();
    }
    void pause_writing() override { events.push_back("pause"); }
    void resume_writing() override { events.push_back("resume"); }
};

struct EchoProtocol : aio::Protocol {
    aio::Transport* t = nullptr;
    void connection_made(aio::Transport& tr) override { t = &tr; }
    void data_received(std::string_view d) override { t->write(d); }
};

std::uint16_t port_of(const aio::Server& server) { return server.sockets().at(0).sockname().port(); }

TEST(Transport, EchoAndCallbackOrder) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::create_server([] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", 0);
        auto [transport, client] =
            co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
        EXPECT_EQ(client->events, (std::vector<std::string>{"made"}));
        transport->write("ping");
        while (client->data.size() < 4) co_await aio::sleep(1ms);
        EXPECT_EQ(client->data, "ping");
        transport->close();
        EXPECT_TRUE(transport->is_closing());
        co_await client->done;
        EXPECT_EQ(client->events, (std::vector<std::string>{"made", "data", "lost"}));
        EXPECT_FALSE(client->lost_with);
        EXPECT_EQ(transport->fileno(), -1);
        server.close();
        co_await server.wait_closed();
    });
}

TEST(Transport, PeerEofClosesUnlessTheProtocolKeepsItOpen) {
    run_bounded([]() -> aio::Coro<> {
        // Server: keeps the connection open after EOF, answers, then closes.
        struct HalfClose : aio::Protocol {
            aio::Transport* t = nullptr;
            std::string got;
            void connection_made(aio::Transport& tr) override { t = &tr; }
            void data_received(std::string_view d) override { got += d; }
            bool eof_received() override {
                t->write("received " + got);
                t->close();
                return true;
            }
        };
        aio::Server server =
            co_await aio::create_server([] { return std::make_shared<HalfClose>(); }, "127.0.0.1", 0);
        auto [transport, client] =
            co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
        transport->write("abc");
        transport->write_eof();
        co_await client->done;
        EXPECT_EQ(client->data, "received abc");
        EXPECT_EQ(client->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    });
}

TEST(Transport, WaterMarksPauseAndResumeTheProtocol) {
    run_bounded([]() -> aio::Coro<> {
        // A server that does not read until told to.
        struct Lazy : aio::Protocol {
            aio::Transport* t = nullptr;
            std::size_t got = 0;
            void connection_made(aio::Transport& tr) override {
                t = &tr;
                t->pause_reading();
            }
            void data_received(std::string_view d) override { got += d.size(); }
        };
        std::shared_ptr<Lazy> server_side;
        aio::Server server = co_await aio::create_server(
            [&server_side] {
                server_side = std::make_shared<Lazy>();
                return server_side;
            },
            "127.0.0.1", 0);
        auto [transport, client] =
            co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
        transport->set_write_buffer_limits(32 * 1024, 8 * 1024);
        EXPECT_EQ(transport->get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{8 * 1024, 32 * 1024}));
        const std::string chunk(8 * 1024, 'w');
        std::size_t written = 0;
        for (int i = 0; i < 100000 && client->events.back() != "pause"; ++i) {
            transport->write(chunk);
            written += chunk.size();
            if (i % 16 == 0) co_await aio::sleep(0s);
        }
        CO_ASSERT_TRUE(client->events.back() == "pause");
        EXPECT_GT(transport->get_write_buffer_size(), 32u * 1024);
        while (!server_side) co_await aio::sleep(1ms);
        server_side->t->resume_reading();
        while (client->events.back() != "resume") co_await aio::sleep(1ms);
        EXPECT_LE(transport->get_write_buffer_size(), 8u * 1024);
        while (server_side->got < written) co_await aio::sleep(1ms);
        EXPECT_EQ(server_side->got, written);
        transport->close();
        co_await client->done;
    });
}

TEST(Transport, AbortDropsBufferedDataAndReportsNoError) {
    run_bounded([]() -> aio::Coro<> {
        auto [a, b] = aio::Socket::pair();
        auto [transport, client] = co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, std::move(a));
        transport->write(std::string(4 << 20, 'x'));  // more than the socket takes
        EXPECT_GT(transport->get_write_buffer_size(), 0u);
        transport->abort();
        EXPECT_EQ(transport->get_write_buffer_size(), 0u);
        co_await client->done;
        EXPECT_FALSE(client->lost_with);
        bool raised = false;
        try {
            transport->write("more");
        } catch (const aio::RuntimeError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
    });
}

TEST(Transport, ResetReachesConnectionLostWithTheError) {
    run_bounded([]() -> aio::Coro<> {
        aio::Socket listener = aio::Socket::create(AF_INET);
        listener.bind(aio::SocketAddress::parse("127.0.0.1", 0));
        listener.listen();
        auto [transport, client] = co_await aio::create_connection([] { return std::make_shared<Recorder>(); },
                                                                   "127.0.0.1", listener.sockname().port());
        auto [peer, addr] = co_await aio::sock_accept(listener);
        linger lg{1, 0};
        ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        peer.close();
        co_await client->done;
        CO_ASSERT_TRUE(client->lost_with != nullptr);
        bool reset = false;
        try {
            std::rethrow_exception(client->lost_with);
        } catch (const aio::ConnectionResetError&) {
            reset = true;
        }
        EXPECT_TRUE(reset);
        EXPECT_TRUE(transport->is_closing());
        transport->write("ignored after the loss, as asyncio");
    });
}

TEST(Transport, ExceptionInACallbackClosesTheTransport) {
    run_bounded([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        int reported = 0;
        loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext&) { ++reported; });
        struct Throws : Recorder {
            void data_received(std::string_view) override { throw std::runtime_error("bad data"); }
        };
        auto [a, b] = aio::Socket::pair();
        auto [transport, client] = co_await aio::create_connection([] { return std::make_shared<Throws>(); }, std::move(a));
        ::send(b.fd(), "x", 1, MSG_NOSIGNAL);
        co_await client->done;
        EXPECT_EQ(reported, 1);
        EXPECT_TRUE(client->lost_with != nullptr);
        loop.set_exception_handler({});
    });
}

TEST(Transport, WritelinesGathersAndKeepsOrder) {
    run_bounded([]() -> aio::Coro<> {
        auto [a, b] = aio::Socket::pair();
        auto [ta, pa] = co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, std::move(a));
        auto [tb, pb] = co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, std::move(b));
        std::vector<std::string> parts;
        std::string expected;
        for (int i = 0; i < 200; ++i) {
            parts.push_back(std::string(static_cast<std::size_t>(i * 37 % 5000), static_cast<char>('a' + i % 26)));
            expected += parts.back();
        }
        ta->writelines(parts);
        ta->write_eof();
        while (pb->events.back() != "lost" && pb->data.size() < expected.size()) co_await aio::sleep(1ms);
        EXPECT_EQ(pb->data.size(), expected.size());
        EXPECT_TRUE(pb->data == expected);
        ta->close();
        tb->close();
        co_await pa->done;
        co_await pb->done;
    });
}

TEST(Transport, BufferedProtocolReceivesIntoItsOwnBuffer) {
    run_bounded([]() -> aio::Coro<> {
        struct Buffered : aio::BufferedProtocol {
            char buf[7];
            std::string got;
            aio::Future<void> done{aio::get_running_loop()};
            std::span<char> get_buffer(std::size_t) override { return buf; }
            void buffer_updated(std::size_t n) override { got.append(buf, n); }
            void connection_lost(std::exception_ptr) override { done.set_result(); }
        };
        auto [a, b] = aio::Socket::pair();
        auto [t, p] = co_await aio::create_connection([] { return std::make_shared<Buffered>(); }, std::move(a));
        co_await aio::sock_sendall(b, "a message longer than seven bytes");
        b.close();
        co_await p->done;
        EXPECT_EQ(p->got, "a message longer than seven bytes");
    });
}

TEST(Transport, ServerCloseClientsClosesAcceptedConnections) {
    run_bounded([]() -> aio::Coro<> {
        aio::Server server = co_await aio::create_server([] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", 0);
        auto [transport, client] =
            co_await aio::create_connection([] { return std::make_shared<Recorder>(); }, "127.0.0.1", port_of(server));
        transport->write("x");
        while (client->data.empty()) co_await aio::sleep(1ms);
        server.close();
        auto waiting = aio::create_task(server.wait_closed());
        co_await aio::sleep(20ms);
        EXPECT_FALSE(waiting.done());  // the accepted connection is still open
        server.close_clients();
        co_await waiting;
        co_await client->done;
        EXPECT_EQ(client->events.back(), "lost");
    });
}

TEST(FdStreams, PipesBecomeStreams) {
    run_bounded([]() -> aio::Coro<> {
        int to_child[2], from_child[2];
        CO_ASSERT_TRUE(::pipe2(to_child, O_CLOEXEC) == 0);
        CO_ASSERT_TRUE(::pipe2(from_child, O_CLOEXEC) == 0);
        auto& loop = aio::get_running_loop();
        // Our side: write into to_child[1], read from from_child[0]; the
        // "child" side echoes through a second pair of streams.
        aio::detail::FdStreams ours = aio::detail::open_fd_streams(loop, from_child[0], to_child[1]);
        aio::detail::FdStreams theirs = aio::detail::open_fd_streams(loop, to_child[0], from_child[1], 1 << 20);
        CO_ASSERT_TRUE(ours.reader && ours.writer && theirs.reader && theirs.writer);
        EXPECT_TRUE(ours.writer->get_extra_info("pipe").is_fd());
        EXPECT_FALSE(ours.writer->get_extra_info("peername").has_value());
        auto echo = aio::create_task([r = *theirs.reader, w = *theirs.writer]() mutable -> aio::Coro<> {
            for (;;) {
                std::string line = co_await r.readline();
                if (line.empty()) break;
                w.write("echo: " + line);
                co_await w.drain();
            }
            w.write_eof();  // closes the pipe: the other side reads EOF
        });
        ours.writer->write("one\n");
        ours.writer->write(std::string(200000, 'p') + "\n");  // more than a pipe buffer
        co_await ours.writer->drain();
        std::string a = co_await ours.reader->readline();
        EXPECT_EQ(a, "echo: one\n");
        std::string big = co_await ours.reader->readexactly(6 + 200001);
        EXPECT_EQ(big.size(), 6u + 200001);
        ours.writer->write_eof();
        co_await echo;
        std::string eof = co_await ours.reader->read();
        EXPECT_EQ(eof, "");
        EXPECT_TRUE(ours.reader->at_eof());
    });
}

TEST(FdStreams, WritingToAPipeWithoutReaderRaisesBrokenPipe) {
    run_bounded([]() -> aio::Coro<> {
        int fds[2];
        CO_ASSERT_TRUE(::pipe2(fds, O_CLOEXEC) == 0);
        ::close(fds[0]);  // no reader
        aio::detail::FdStreams s = aio::detail::open_fd_streams(aio::get_running_loop(), -1, fds[1]);
        CO_ASSERT_TRUE(s.writer.has_value());
        EXPECT_FALSE(s.reader.has_value());
        bool raised = false;
        for (int i = 0; i < 3 && !raised; ++i) {
            try {
                s.writer->write("data");
                co_await s.writer->drain();
                co_await aio::sleep(1ms);
            } catch (const aio::BrokenPipeError&) {
                raised = true;
            }
        }
        EXPECT_TRUE(raised);
    });
}

TEST(Transport, LeftOpenTransportsAreReleasedWhenTheLoopCloses) {
    // A protocol transport nobody closes must not leak (LSan checks this in
    // sanitizer builds) nor crash at loop close.
    std::weak_ptr<aio::Transport> weak;
    aio::Socket peer;  // stays open: the transport sees no EOF before the loop closes
    aio::run([&]() -> aio::Coro<> {
        auto [a, b] = aio::Socket::pair();
        peer = std::move(b);
        auto [t, p] = co_await aio::create_connection([] { return std::make_shared<EchoProtocol>(); }, std::move(a));
        weak = t;
    });
    EXPECT_TRUE(weak.expired());
}

}  // namespace
