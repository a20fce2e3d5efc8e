// Async generator benchmarks: items per second through
//   chain3        a producer, a mapping stage (x * 2) and a filtering stage
//                 (keeps x % 3 != 0), each a hand-written AsyncGenerator
//   chain3_tools  the same pipeline built with aio::transform / aio::filter
//   merge8        aio::merge of 8 producers (N / 8 items each, buffer 16)
//   delegate3     the producer reached through 3 levels of
//                 co_yield aio::yield_from(...)
// The Python peer (bench/peers/generator_asyncio.py) runs the same
// workloads with async generators. items_per_sec counts items produced by
// the producer(s) (N), as the peer does; the checksum is verified.
//
// Usage: generator_bench [chain3|chain3_tools|merge8|delegate3|all] [N]
// Prints one JSON line per workload.
#include <aio/aio.hpp>
#include <aio/async_comprehension.hpp>
#include <aio/async_generator.hpp>
#include <aio/merge.hpp>

#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

aio::AsyncGenerator<std::int64_t> producer(std::int64_t from, std::int64_t to) {
    for (std::int64_t i = from; i < to; ++i) co_yield i;
}

aio::AsyncGenerator<std::int64_t> mapping(aio::AsyncGenerator<std::int64_t> src) {
    while (auto x = co_await src.next()) co_yield *x * 2;
}

aio::AsyncGenerator<std::int64_t> filtering(aio::AsyncGenerator<std::int64_t> src) {
    while (auto x = co_await src.next())
        if (*x % 3 != 0) co_yield std::move(*x);
}

aio::AsyncGenerator<std::int64_t> delegating(int levels, std::int64_t n) {
    if (levels == 0) {
        co_yield aio::yield_from(producer(0, n));
    } else {
        co_yield aio::yield_from(delegating(levels - 1, n));
    }
}

std::int64_t expected_chain(std::int64_t n) {
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i)
        if ((i * 2) % 3 != 0) sum += i * 2;
    return sum;
}

aio::Coro<std::int64_t> drain(aio::AsyncGenerator<std::int64_t> gen) {
    std::int64_t sum = 0;
    while (auto x = co_await gen.next()) sum += *x;
    co_return sum;
}

using Clock = std::chrono::steady_clock;

/// CPU time of this process: on a shared machine it is steadier than wall
/// time; both are reported.
double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timer {
    Clock::time_point wall = Clock::now();
    double cpu = cpu_now();
};

void report(const char* workload, std::int64_t n, const Timer& t) {
    double secs = std::chrono::duration<double>(Clock::now() - t.wall).count();
    double cpu = cpu_now() - t.cpu;
    std::printf(
        "{\"workload\":\"%s\",\"impl\":\"aio\",\"n\":%lld,\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
        "\"items_per_sec\":%.1f,\"items_per_cpu_sec\":%.1f}\n",
        workload, static_cast<long long>(n), secs, cpu, static_cast<double>(n) / secs, static_cast<double>(n) / cpu);
    std::fflush(stdout);
}

void check(const char* workload, std::int64_t got, std::int64_t want) {
    if (got != want) {
        std::fprintf(stderr, "%s: checksum %lld, expected %lld\n", workload, static_cast<long long>(got),
                     static_cast<long long>(want));
        std::exit(1);
    }
}

void run_chain3(std::int64_t n) {
    aio::run([n]() -> aio::Coro<> {
        Timer t0;
        std::int64_t sum = co_await drain(filtering(mapping(producer(0, n))));
        check("chain3", sum, expected_chain(n));
        report("chain3", n, t0);
    });
}

void run_chain3_tools(std::int64_t n) {
    aio::run([n]() -> aio::Coro<> {
        Timer t0;
        auto pipeline = aio::filter(aio::transform(producer(0, n), [](std::int64_t x) { return x * 2; }),
                                    [](const std::int64_t& x) { return x % 3 != 0; });
        std::int64_t sum = co_await drain(std::move(pipeline));
        check("chain3_tools", sum, expected_chain(n));
        report("chain3_tools", n, t0);
    });
}

void run_merge8(std::int64_t n) {
    aio::run([n]() -> aio::Coro<> {
        const std::int64_t per = n / 8;
        Timer t0;
        std::vector<aio::AsyncGenerator<std::int64_t>> sources;
        for (std::int64_t p = 0; p < 8; ++p) sources.push_back(producer(p * per, (p + 1) * per));
        std::int64_t sum = co_await drain(aio::merge(std::move(sources), 16));
        const std::int64_t total = per * 8;
        check("merge8", sum, total * (total - 1) / 2);
        report("merge8", total, t0);
    });
}

void run_delegate3(std::int64_t n) {
    aio::run([n]() -> aio::Coro<> {
        Timer t0;
        std::int64_t sum = co_await drain(delegating(3, n));
        check("delegate3", sum, n * (n - 1) / 2);
        report("delegate3", n, t0);
    });
}

}  // namespace

int main(int argc, char** argv) {
    std::string which = argc > 1 ? argv[1] : "all";
    std::int64_t n = argc > 2 ? std::atoll(argv[2]) : 1'000'000;
    bool all = which == "all";
    bool known = false;
    if (all || which == "chain3") known = true, run_chain3(n);
    if (all || which == "chain3_tools") known = true, run_chain3_tools(n);
    if (all || which == "merge8") known = true, run_merge8(n);
    if (all || which == "delegate3") known = true, run_delegate3(n);
    if (!known) {
        std::fprintf(stderr, "usage: %s [chain3|chain3_tools|merge8|delegate3|all] [N]\n", argv[0]);
        return 2;
    }
}
