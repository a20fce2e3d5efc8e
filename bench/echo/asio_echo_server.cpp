// bench/echo/asio_echo_server.cpp — the Boost.Asio peer: C++20 coroutines
// (co_spawn / use_awaitable), one io_context on one thread.
//
//   asio_echo_server [PORT]   (prints "READY port"; 0 = any)
#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
    char data[4096];
    try {
        for (;;) {
            std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
            co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
        }
    } catch (const std::exception&) {
    }
}

asio::awaitable<void> listener(tcp::acceptor acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
    }
}

int main(int argc, char** argv) {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0)));
    acceptor.listen(1024);
    std::printf("READY %u\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    asio::co_spawn(io, listener(std::move(acceptor)), asio::detached);
    io.run();
}
