// asyncio docs, "TCP echo client using streams". The echo server runs in
// the same program (a task on the same loop) so the example is
// self-contained; it is the server of 40_echo_server.cpp.
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <cstdio>
#include <string>

aio::Coro<> tcp_echo_client(std::string message, std::uint16_t port) {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);

    std::printf("Send: '%s'\n", message.c_str());
    writer.write(message);
    co_await writer.drain();

    std::string data = co_await reader.read(100);
    std::printf("Received: '%s'\n", data.c_str());

    std::printf("Close the connection\n");
    writer.close();
    co_await writer.wait_closed();
}

aio::Coro<> echo(aio::StreamReader reader, aio::StreamWriter writer) {
    std::string data = co_await reader.read(100);
    writer.write(data);
    co_await writer.drain();
    writer.close();
}

aio::Coro<> amain() {
    aio::Server server = co_await aio::start_server(echo, "127.0.0.1", 0);
    co_await tcp_echo_client("Hello World!", server.sockets().at(0).sockname().port());
    server.close();
    co_await server.wait_closed();
}

int main() { aio::run(amain()); }
