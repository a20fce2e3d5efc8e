// bench/echo/aio_echo_server.cpp — the aio echo servers of the benchmark.
//
//   aio_echo_server streams|protocol PORT   (prints "READY port"; 0 = any)
//
// streams:  start_server + StreamReader::read / StreamWriter::write / drain,
//           the code a user writes (asyncio's documentation echo, looping).
// protocol: create_server + a Protocol whose data_received writes back.
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <aio/transport.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

aio::Coro<> echo_stream(aio::StreamReader reader, aio::StreamWriter writer) {
    for (;;) {
        std::string data = co_await reader.read(4096);
        if (data.empty()) break;
        writer.write(data);
        co_await writer.drain();
    }
    writer.close();
}

struct EchoProtocol final : aio::Protocol {
    aio::Transport* transport = nullptr;
    void connection_made(aio::Transport& t) override { transport = &t; }
    void data_received(std::string_view data) override { transport->write(data); }
};

aio::Coro<> serve(bool streams, std::uint16_t port) {
    aio::Server server;
    if (streams) {
        server = co_await aio::start_server(echo_stream, "127.0.0.1", port, {.backlog = 1024});
    } else {
        server = co_await aio::create_server([] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", port,
                                             {.backlog = 1024});
    }
    std::printf("READY %u\n", server.sockets().at(0).sockname().port());
    std::fflush(stdout);
    co_await server.serve_forever();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || (std::strcmp(argv[1], "streams") != 0 && std::strcmp(argv[1], "protocol") != 0)) {
        std::fprintf(stderr, "usage: %s streams|protocol [PORT]\n", argv[0]);
        return 2;
    }
    const bool streams = std::strcmp(argv[1], "streams") == 0;
    const auto port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 0);
    aio::run(serve(streams, port));
}
