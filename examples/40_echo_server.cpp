// asyncio docs, "TCP echo server using streams": handle_echo reads a
// message, echoes it and closes. To stay self-contained this program also
// plays the client once, then closes the server, which ends serve_forever().
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <cstdio>
#include <string>

aio::Coro<> handle_echo(aio::StreamReader reader, aio::StreamWriter writer) {
    std::string data = co_await reader.read(100);
    aio::ExtraInfo addr = writer.get_extra_info("peername");
    std::printf("Received '%s' from %s\n", data.c_str(), addr.to_string().c_str());

    std::printf("Send: '%s'\n", data.c_str());
    writer.write(data);
    co_await writer.drain();

    std::printf("Close the connection\n");
    writer.close();
    co_await writer.wait_closed();
}

// The demo client (see 41_echo_client.cpp), run once against the server.
aio::Coro<> one_client(aio::Server server, std::uint16_t port) {
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
    writer.write("Hello World!");
    co_await writer.drain();
    std::string echoed = co_await reader.read(100);
    std::printf("Client received '%s'\n", echoed.c_str());
    writer.close();
    co_await writer.wait_closed();
    server.close();  // serve_forever() returns
}

aio::Coro<> amain() {
    // Port 0: the system picks a free port (asyncio's example uses 8888).
    aio::Server server = co_await aio::start_server(handle_echo, "127.0.0.1", 0);
    const aio::SocketAddress where = server.sockets().at(0).sockname();
    std::printf("Serving on %s\n", where.to_string().c_str());

    aio::Task<> client = aio::create_task(one_client(server, where.port()));
    co_await server.serve_forever();
    co_await client;
    co_await server.wait_closed();
    std::printf("Server closed\n");
}

int main() { aio::run(amain()); }
