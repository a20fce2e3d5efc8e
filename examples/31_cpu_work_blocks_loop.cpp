// Seed: "every coroutine must cooperate. If one coroutine does heavy CPU work
// without yielding, it blocks everything." A ticker task prints every 0.1 s.
// The same 0.8 s of CPU work runs first on the loop — the ticker stalls for
// the whole time — then in aio::to_thread — the ticker keeps ticking.
#include <aio/aio.hpp>
#include <aio/executor.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>

using namespace std::chrono_literals;

// CPU-bound work: hashes numbers for `duration` and returns how many.
std::uint64_t crunch(std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    std::uint64_t count = 0, h = 1469598103934665603ull;
    while (std::chrono::steady_clock::now() < until) {
        for (int i = 0; i < 1000; ++i, ++count) h = (h ^ count) * 1099511628211ull;
    }
    return count + (h & 1);
}

double seconds(aio::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Ticks every 0.1 s until cancelled; remembers the longest gap between ticks.
aio::Coro<> ticker(aio::Clock::time_point start, double& longest_gap) {
    auto& loop = aio::get_running_loop();
    auto last = loop.time();
    for (;;) {
        co_await aio::sleep(100ms);
        auto now = loop.time();
        longest_gap = std::max(longest_gap, seconds(now - last));
        last = now;
        std::printf("    tick at %.1fs\n", seconds(now - start));
    }
}

aio::Coro<> demo(bool in_thread) {
    auto& loop = aio::get_running_loop();
    auto start = loop.time();
    double longest_gap = 0;
    auto tick = aio::create_task(ticker(start, longest_gap));
    co_await aio::sleep(250ms);  // a few ticks first
    std::printf("    work starts at %.1fs\n", seconds(loop.time() - start));
    if (in_thread) {
        std::uint64_t n = co_await aio::to_thread(crunch, 800ms);  // the loop stays free
        (void)n;
    } else {
        std::uint64_t n = crunch(800ms);  // BAD: blocks the loop
        (void)n;
    }
    std::printf("    work done at %.1fs\n", seconds(loop.time() - start));
    co_await aio::sleep(250ms);
    tick.cancel();
    std::printf("  longest gap between ticks: %.1fs\n", longest_gap);
}

int main() {
    std::printf("CPU work on the loop (everything waits):\n");
    aio::run(demo(false));
    std::printf("CPU work in aio::to_thread (the loop keeps running):\n");
    aio::run(demo(true));
}
