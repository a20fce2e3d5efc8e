// Seed: "Running the loop" — aio::run, tasks on an already running loop, and
// the low-level EventLoop API.
#include <aio/aio.hpp>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

aio::Coro<std::string> do_work() {
    co_await aio::sleep(100ms);
    co_return "work done";
}

aio::Coro<> main_coro() {
    std::string result = co_await do_work();
    std::printf("%s\n", result.c_str());
}

int main() {
    // Method 1: aio::run() — the standard entry point: creates a loop, runs
    // main_coro(), cancels leftovers, closes the loop.
    std::printf("Method 1: ");
    aio::run(main_coro());

    // Method 2: in an already running loop, create tasks directly.
    aio::run([]() -> aio::Coro<> {
        aio::EventLoop& loop = aio::get_running_loop();
        aio::Task<std::string> task = loop.create_task(do_work());
        std::string r = co_await task;
        std::printf("Method 2: %s\n", r.c_str());
    });

    // Method 3: low level (rarely needed).
    aio::EventLoop loop;
    try {
        std::printf("Method 3: ");
        loop.run_until_complete(main_coro());
    } catch (...) {
        loop.close();
        throw;
    }
    loop.close();
}
