// bench/structured_bench.cpp — aio's side of the structured-concurrency
// workloads (issue 3). The peers are bench/peers/structured_asyncio.py
// (asyncio and uvloop), bench/peers/structured_asio.cpp (Boost.Asio
// make_parallel_group) and bench/peers/structured_tokio (Tokio JoinSet);
// bench/run_structured.sh runs them all and prints the ratios.
//
// Usage: structured_bench WORKLOAD [N]   (prints one JSON line)
//   fanout_taskgroup [GROUPS]  GROUPS task groups (default 1000) of 1000
//                              children each; a child returns its index,
//                              the parent sums the results (checked).
//   fanout_gather [GROUPS]     the same with gather over a vector of 1000
//                              coroutines.
//   wait_for [N]               N (default 1,000,000) sequential
//                              `co_await wait_for(work(i), 10s)` where work
//                              returns i at once; also times N plain
//                              `co_await work(i)` to report the overhead.
// Without arguments: all three workloads, one line each.
#include <aio/aio.hpp>
#include <aio/gather.hpp>
#include <aio/task_group.hpp>
#include <aio/timeout.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"

using namespace std::chrono_literals;

namespace {

constexpr long kChildren = 1000;

aio::Coro<long> child(long i) { co_return i; }

aio::Coro<double> fanout_taskgroup(long groups) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<aio::Task<long>> tasks;
    tasks.reserve(kChildren);
    long total = 0;
    for (long g = 0; g < groups; ++g) {
        tasks.clear();
        co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<> {
            for (long i = 0; i < kChildren; ++i) tasks.push_back(tg.create_task(child(i)));
            co_return;
        });
        for (auto& t : tasks) total += t.result();
    }
    double secs = bench::seconds_since(t0);
    if (total != groups * kChildren * (kChildren - 1) / 2) std::abort();
    co_return secs;
}

aio::Coro<double> fanout_gather(long groups) {
    auto t0 = std::chrono::steady_clock::now();
    long total = 0;
    for (long g = 0; g < groups; ++g) {
        std::vector<aio::Coro<long>> coros;
        coros.reserve(kChildren);
        for (long i = 0; i < kChildren; ++i) coros.push_back(child(i));
        std::vector<long> results = co_await aio::gather(std::move(coros));
        for (long v : results) total += v;
    }
    double secs = bench::seconds_since(t0);
    if (total != groups * kChildren * (kChildren - 1) / 2) std::abort();
    co_return secs;
}

struct WaitForTimes {
    double seconds;
    double baseline_seconds;
};

aio::Coro<WaitForTimes> wait_for_calls(long n) {
    long total = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        long v = co_await child(i);
        total += v;
    }
    double baseline = bench::seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        long v = co_await aio::wait_for(child(i), 10s);
        total += v;
    }
    double secs = bench::seconds_since(t0);
    if (total != n * (n - 1)) std::abort();
    co_return WaitForTimes{secs, baseline};
}

void print_fanout(const char* workload, long groups, double secs) {
    const long n = groups * kChildren;
    std::printf(
        "{\"workload\":\"%s\",\"impl\":\"aio\",\"n\":%ld,\"groups\":%ld,\"children\":%ld,\"seconds\":%.6f,"
        "\"children_per_sec\":%.1f}\n",
        workload, n, groups, kChildren, secs, double(n) / secs);
}

int run(const std::string& workload, long n) {
    if (workload == "fanout_taskgroup") {
        print_fanout("fanout_taskgroup", n, aio::run(fanout_taskgroup(n)));
    } else if (workload == "fanout_gather") {
        print_fanout("fanout_gather", n, aio::run(fanout_gather(n)));
    } else if (workload == "wait_for") {
        WaitForTimes t = aio::run(wait_for_calls(n));
        std::printf(
            "{\"workload\":\"wait_for\",\"impl\":\"aio\",\"n\":%ld,\"seconds\":%.6f,\"ns_per_call\":%.1f,"
            "\"baseline_ns_per_call\":%.1f,\"overhead_ns_per_call\":%.1f}\n",
            n, t.seconds, t.seconds * 1e9 / double(n), t.baseline_seconds * 1e9 / double(n),
            (t.seconds - t.baseline_seconds) * 1e9 / double(n));
    } else {
        std::fprintf(stderr, "usage: structured_bench [fanout_taskgroup|fanout_gather|wait_for [N]]\n");
        return 2;
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 1) {
        int rc = run("fanout_taskgroup", 1000);
        rc |= run("fanout_gather", 1000);
        rc |= run("wait_for", 1000000);
        return rc;
    }
    std::string workload = argv[1];
    long n = argc > 2 ? std::atol(argv[2]) : (workload == "wait_for" ? 1000000 : 1000);
    return run(workload, n);
}
