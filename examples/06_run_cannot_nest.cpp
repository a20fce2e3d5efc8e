// Seed: "asyncio.run cannot nest" — aio::run() inside a running loop is an
// error; inside a coroutine, await instead.
#include <aio/aio.hpp>
#include <cstdio>

aio::Coro<int> inner() { co_return 42; }

aio::Coro<> outer_wrong() {
    try {
        int result = aio::run(inner());  // WRONG
        std::printf("unexpected: %d\n", result);
    } catch (const aio::RuntimeError& e) {
        std::printf("RuntimeError: %s\n", e.what());
    }
    co_return;
}

aio::Coro<> outer_right() {
    int result = co_await inner();  // RIGHT: just await
    std::printf("co_await inner() -> %d\n", result);
}

int main() {
    aio::run(outer_wrong());
    aio::run(outer_right());
}
