// Seed: "Sequential vs concurrent" — three awaits in a row take the sum of
// their delays (~4.5 s); three tasks take the slowest one (~2.0 s).
#include <aio/aio.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>

using namespace std::chrono_literals;

aio::Coro<std::string> slow_operation(std::string name, std::chrono::milliseconds delay) {
    std::printf("  %s: starting\n", name.c_str());
    co_await aio::sleep(delay);  // simulate I/O
    std::printf("  %s: done\n", name.c_str());
    co_return name + " result";
}

double seconds_since(aio::Clock::time_point start) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
}

// SEQUENTIAL — one after another
aio::Coro<std::tuple<std::string, std::string, std::string>> sequential() {
    auto start = aio::get_running_loop().time();
    std::string a = co_await slow_operation("A", 2000ms);  // wait 2 s
    std::string b = co_await slow_operation("B", 1000ms);  // then wait 1 s
    std::string c = co_await slow_operation("C", 1500ms);  // then wait 1.5 s
    std::printf("Total: %.1fs\n", seconds_since(start));   // ~4.5 s
    co_return std::tuple{a, b, c};
}

// CONCURRENT — all at once
aio::Coro<std::tuple<std::string, std::string, std::string>> concurrent() {
    auto start = aio::get_running_loop().time();
    auto task_a = aio::create_task(slow_operation("A", 2000ms));
    auto task_b = aio::create_task(slow_operation("B", 1000ms));
    auto task_c = aio::create_task(slow_operation("C", 1500ms));
    std::string a = co_await task_a;
    std::string b = co_await task_b;
    std::string c = co_await task_c;
    std::printf("Total: %.1fs\n", seconds_since(start));  // ~2.0 s (limited by slowest)
    co_return std::tuple{a, b, c};
}

int main() {
    std::printf("Sequential:\n");
    aio::run(sequential());
    std::printf("Concurrent:\n");
    aio::run(concurrent());
}
