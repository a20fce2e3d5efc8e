// Seed: "streaming_llm ... finally" — a generator holding a connection must
// close it however the stream ends. Python's `finally: await conn.close()`
// becomes, in C++ (no co_await in a catch block, no async destructors):
// catch and remember the exception, leave the handler, co_await the
// cleanup, rethrow. When the consumer stops early it closes the generator
// (aio::aclosing does it for you), which raises aio::GeneratorExit at the
// co_yield so the cleanup runs.
#include <aio/aio.hpp>
#include <aio/async_generator.hpp>
#include <aio/context.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

class LlmConnection {
public:
    explicit LlmConnection(std::string prompt) : prompt_(std::move(prompt)) {}

    aio::AsyncGenerator<std::string> stream() {
        std::vector<std::string> chunks{"Hello", ", ", "world", "! ", "stop", " (never sent)"};
        for (std::string& chunk : chunks) {
            co_await aio::sleep(100ms);  // the next token arrives
            co_yield std::move(chunk);
        }
    }
    aio::Coro<> close() {
        co_await aio::sleep(50ms);  // a polite goodbye to the server
        std::printf("  connection for '%s' closed\n", prompt_.c_str());
    }

private:
    std::string prompt_;
};

aio::Coro<LlmConnection> open_llm_connection(std::string prompt) {
    co_await aio::sleep(100ms);
    std::printf("  connection for '%s' opened\n", prompt.c_str());
    co_return LlmConnection(std::move(prompt));
}

aio::AsyncGenerator<std::string> streaming_llm(std::string prompt) {
    LlmConnection connection = co_await open_llm_connection(prompt);
    std::exception_ptr failure;  // try:
    try {
        auto chunks = connection.stream();
        while (auto chunk = co_await chunks.next()) co_yield std::move(*chunk);
    } catch (...) {
        failure = std::current_exception();  // GeneratorExit, CancelledError or an error
    }
    // finally: runs when the generator is closed (aclose()) or finishes.
    // CRITICAL: cleanup resources here
    co_await connection.close();
    if (failure) std::rethrow_exception(failure);
}

// If the consumer stops early, the cleanup still runs:
aio::Coro<> amain() {
    co_await aio::async_with(aio::aclosing(streaming_llm("hello")), [](aio::AsyncGenerator<std::string>& chunks) -> aio::Coro<> {
        while (auto chunk = co_await chunks.next()) {
            std::printf("  chunk: '%s'\n", chunk->c_str());
            if (chunk->find("stop") != std::string::npos) break;  // triggers the generator's cleanup
        }
        std::printf("  consumer stopped early\n");
    });
    std::printf("after the stream: the connection was closed before we got here\n");
}

int main() { aio::run(amain()); }
