// bench/core_bench.cpp — aio's side of the core workloads (issue 2). The same
// workloads for asyncio, uvloop, Boost.Asio and Tokio are in bench/peers/;
// bench/run_core.sh runs them all and prints the ratios.
//
// Usage: aio_core_bench spawn|timers|switch N   (prints one JSON line)
#include <aio/aio.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_util.hpp"

namespace {

aio::Coro<long> value_task(long i) { co_return i; }

// spawn: N tasks that return a value, created first, then awaited in order.
aio::Coro<double> spawn_main(long n) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<aio::Task<long>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) tasks.push_back(aio::create_task(value_task(i)));
    long total = 0;
    for (auto& t : tasks) {
        long v = co_await t;
        total += v;
    }
    double secs = bench::seconds_since(t0);
    if (total != n * (n - 1) / 2) std::abort();
    co_return secs;
}

aio::Coro<> sleeper(std::chrono::microseconds d) { co_await aio::sleep(d); }

// timers: N tasks each sleeping a seeded random delay in [0, 1] s.
aio::Coro<double> timers_main(const std::vector<std::chrono::microseconds>& ds) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<aio::Task<>> tasks;
    tasks.reserve(ds.size());
    for (auto d : ds) tasks.push_back(aio::create_task(sleeper(d)));
    for (auto& t : tasks) co_await t;
    co_return bench::seconds_since(t0);
}

// switch: two tasks hand control back and forth through futures. Each side
// owns a slot holding the future it waits on next; the other side replaces
// it before waking it, so every handoff uses a fresh future, as asyncio's
// version does.
struct Slots {
    aio::Future<> to_ping;
    aio::Future<> to_pong;
};

aio::Coro<> pinger(Slots& s, long n) {
    auto& loop = aio::get_running_loop();
    for (long i = 0; i < n; ++i) {
        aio::Future<> reply = loop.create_future();
        aio::Future<> wake = s.to_pong;
        s.to_ping = reply;
        wake.set_result();
        co_await reply;
    }
}

aio::Coro<> ponger(Slots& s, long n) {
    auto& loop = aio::get_running_loop();
    for (long i = 0; i < n; ++i) {
        aio::Future<> wait = s.to_pong;
        co_await wait;
        s.to_pong = loop.create_future();
        s.to_ping.set_result();
    }
}

aio::Coro<double> switch_main(long n) {
    auto& loop = aio::get_running_loop();
    auto t0 = std::chrono::steady_clock::now();
    Slots slots{loop.create_future(), loop.create_future()};
    auto a = aio::create_task(ponger(slots, n));
    auto b = aio::create_task(pinger(slots, n));
    co_await a;
    co_await b;
    co_return bench::seconds_since(t0);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s spawn|timers|switch N\n", argv[0]);
        return 2;
    }
    const std::string workload = argv[1];
    const long n = std::atol(argv[2]);
    std::vector<std::chrono::microseconds> ds;
    if (workload == "timers") ds = bench::delays(static_cast<std::size_t>(n));

    bench::PeakMemory peak;
    double secs = 0;
    if (workload == "spawn")
        secs = aio::run(spawn_main(n));
    else if (workload == "timers")
        secs = aio::run(timers_main(ds));
    else if (workload == "switch")
        secs = aio::run(switch_main(n));
    else {
        std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
        return 2;
    }
    const double per_task = peak.per_item(static_cast<std::size_t>(n));
    // AIO_DEBUG=1 runs the same workload in debug mode: its cost, side by side.
    const char* dbg = std::getenv("AIO_DEBUG");
    const char* impl = (dbg && *dbg && std::string(dbg) != "0") ? "aio-debug" : "aio";
    if (workload == "spawn")
        std::printf("{\"workload\":\"spawn\",\"impl\":\"%s\",\"n\":%ld,\"seconds\":%.6f,\"tasks_per_sec\":%.1f,\"peak_bytes_per_task\":%.1f}\n",
                    impl, n, secs, n / secs, per_task);
    else if (workload == "timers")
        std::printf("{\"workload\":\"timers\",\"impl\":\"%s\",\"n\":%ld,\"seconds\":%.6f,\"overhead_seconds\":%.6f,\"peak_bytes_per_task\":%.1f}\n",
                    impl, n, secs, secs - 1.0, per_task);
    else
        std::printf("{\"workload\":\"switch\",\"impl\":\"%s\",\"n\":%ld,\"seconds\":%.6f,\"round_trips_per_sec\":%.1f}\n",
                    impl, n, secs, n / secs);
    return 0;
}
