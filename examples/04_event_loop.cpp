// Seed: "The event loop" — scheduling plain callbacks on the running loop
// with call_soon, call_later and call_at.
#include <aio/aio.hpp>
#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

void callback_func(const std::string& arg1, aio::Clock::time_point start) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(aio::get_running_loop().time() - start);
    std::printf("[t=%4lld ms] callback_func(%s)\n", static_cast<long long>(ms.count()), arg1.c_str());
}

aio::Coro<> some_coroutine() {
    // Inside a coroutine, you can get the current loop.
    aio::EventLoop& loop = aio::get_running_loop();
    auto start = loop.time();

    // Schedule a callback on the loop (low-level): next iteration.
    loop.call_soon([=] { callback_func("call_soon", start); });
    // Schedule a callback after a delay.
    loop.call_later(0.5, [=] { callback_func("call_later(0.5 s)", start); });
    // Schedule a callback at a specific time.
    loop.call_at(loop.time() + 1s, [=] { callback_func("call_at(time() + 1 s)", start); });
    // A handle cancels a callback that has not run yet.
    aio::TimerHandle h = loop.call_later(0.75, [=] { callback_func("never", start); });
    h.cancel();

    std::printf("scheduled; the coroutine keeps running until it awaits\n");
    co_await aio::sleep(1.1);
}

int main() { aio::run(some_coroutine()); }
