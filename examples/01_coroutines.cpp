// Seed: "Coroutines" — calling a coroutine function returns a coroutine
// object; only awaiting it runs the body.
#include <aio/aio.hpp>
#include <cstdio>
#include <string>

std::string regular_function() { return "I run synchronously"; }

aio::Coro<std::string> coroutine_function() { co_return "I run asynchronously"; }

aio::Coro<> amain() {
    std::string result = regular_function();
    std::printf("regular_function()        -> \"%s\"\n", result.c_str());

    aio::Coro<std::string> object = coroutine_function();  // a coroutine OBJECT: nothing ran yet
    std::printf("coroutine_function()      -> aio::Coro<std::string> (not started: %s)\n",
                object.valid() ? "yes" : "no");

    std::string awaited = co_await std::move(object);  // NOW the body runs
    std::printf("co_await coroutine_function() -> \"%s\"\n", awaited.c_str());
}

int main() { aio::run(amain()); }
