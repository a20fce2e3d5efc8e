// bench/sync_bench.cpp — aio's queues and locks under load, the workloads of
// issue 5, run the same way by every peer (bench/peers/sync_asyncio.py,
// bench/peers/sync_tokio, bench/peers/sync_go).
//
// Usage: sync_bench pingpong|prodcons|lock N [options]
// Prints exactly one JSON line to stdout.
//
//   pingpong N            two tasks exchange N messages through two
//                         Queue(maxsize=1): ping puts a counter on one queue,
//                         pong gets it and puts counter+1 on the other.
//                         Metric: round trips per second.
//   prodcons N [maxsize=1024] [producers=4] [consumers=4]
//                         producers put N items in total (ints) into one
//                         Queue(maxsize); consumers get until a sentinel
//                         (-1, one per consumer, put after the producers
//                         finished) and sum them (the sum is checked).
//                         Metric: items per second.
//   lock N [tasks=1000]   `tasks` tasks each take one Lock N times, with a
//                         sleep(0) inside the critical section, and
//                         increment a shared counter read before the sleep
//                         (checked: N * tasks). Metric: acquisitions per second.
#include <aio/aio.hpp>
#include <aio/lock.hpp>
#include <aio/queue.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

aio::Coro<double> pingpong(long n) {
    aio::Queue<long> to_pong(1);
    aio::Queue<long> to_ping(1);
    const auto t0 = Clock::now();
    auto pong = aio::create_task([&]() -> aio::Coro<> {
        for (long i = 0; i < n; ++i) {
            long v = co_await to_pong.get();
            co_await to_ping.put(v + 1);
        }
    });
    long v = 0;
    for (long i = 0; i < n; ++i) {
        co_await to_pong.put(v);
        v = co_await to_ping.get();
    }
    co_await pong;
    const double secs = seconds_since(t0);
    if (v != n) {
        std::fprintf(stderr, "pingpong: counter %ld, expected %ld\n", v, n);
        std::exit(1);
    }
    co_return secs;
}

aio::Coro<double> prodcons(long n, std::size_t maxsize, int producers, int consumers) {
    aio::Queue<long> q(maxsize);
    long total = 0;
    const auto t0 = Clock::now();
    std::vector<aio::Task<>> ptasks;
    std::vector<aio::Task<>> ctasks;
    for (int c = 0; c < consumers; ++c) {
        ctasks.push_back(aio::create_task([&]() -> aio::Coro<> {
            long sum = 0;
            for (;;) {
                long v = co_await q.get();
                if (v < 0) break;
                sum += v;
            }
            total += sum;
        }));
    }
    for (int p = 0; p < producers; ++p) {
        const long begin = n * p / producers;
        const long end = n * (p + 1) / producers;
        ptasks.push_back(aio::create_task([&q, begin, end]() -> aio::Coro<> {
            for (long i = begin; i < end; ++i) co_await q.put(i);
        }));
    }
    for (auto& t : ptasks) co_await t;
    for (int c = 0; c < consumers; ++c) co_await q.put(-1);
    for (auto& t : ctasks) co_await t;
    const double secs = seconds_since(t0);
    if (total != n * (n - 1) / 2) {
        std::fprintf(stderr, "prodcons: sum %ld, expected %ld\n", total, n * (n - 1) / 2);
        std::exit(1);
    }
    co_return secs;
}

aio::Coro<double> lock_contention(long n, int tasks) {
    aio::Lock lock;
    long counter = 0;
    const auto t0 = Clock::now();
    std::vector<aio::Task<>> workers;
    for (int t = 0; t < tasks; ++t) {
        workers.push_back(aio::create_task([&]() -> aio::Coro<> {
            for (long i = 0; i < n; ++i) {
                auto guard = co_await lock.acquire();
                const long seen = counter;
                co_await aio::sleep(0s);
                counter = seen + 1;
            }
        }));
    }
    for (auto& w : workers) co_await w;
    const double secs = seconds_since(t0);
    if (counter != n * tasks) {
        std::fprintf(stderr, "lock: counter %ld, expected %ld\n", counter, n * tasks);
        std::exit(1);
    }
    co_return secs;
}

int usage() {
    std::fprintf(stderr,
                 "usage: sync_bench pingpong N | prodcons N [maxsize producers consumers] | lock N [tasks]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string workload = argv[1];
    const long n = std::atol(argv[2]);
    if (n <= 0) return usage();
    auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };

    if (workload == "pingpong") {
        const double secs = aio::run(pingpong(n));
        std::printf("{\"workload\":\"pingpong\",\"impl\":\"aio\",\"n\":%ld,\"seconds\":%.6f,\"round_trips_per_sec\":%.1f}\n",
                    n, secs, n / secs);
    } else if (workload == "prodcons") {
        const long maxsize = arg(3, 1024);
        const long producers = arg(4, 4);
        const long consumers = arg(5, 4);
        if (maxsize < 0 || producers < 1 || consumers < 1) return usage();
        const double secs = aio::run(prodcons(n, static_cast<std::size_t>(maxsize), static_cast<int>(producers),
                                              static_cast<int>(consumers)));
        std::printf(
            "{\"workload\":\"prodcons\",\"impl\":\"aio\",\"n\":%ld,\"maxsize\":%ld,\"producers\":%ld,"
            "\"consumers\":%ld,\"seconds\":%.6f,\"items_per_sec\":%.1f}\n",
            n, maxsize, producers, consumers, secs, n / secs);
    } else if (workload == "lock") {
        const long tasks = arg(3, 1000);
        if (tasks < 1) return usage();
        const double secs = aio::run(lock_contention(n, static_cast<int>(tasks)));
        std::printf(
            "{\"workload\":\"lock\",\"impl\":\"aio\",\"n\":%ld,\"tasks\":%ld,\"seconds\":%.6f,"
            "\"acquisitions_per_sec\":%.1f}\n",
            n, tasks, secs, n * tasks / secs);
    } else {
        return usage();
    }
    return 0;
}
