// bench/threads_bench.cpp — aio's side of the threads-and-processes
// workloads (issue 6). bench/peers/threads_asyncio.py runs the same
// workloads on Python asyncio and uvloop.
//
// Usage: threads_bench WORKLOAD N     (one JSON line)
//        threads_bench                (every workload at its default N)
//
//   to_thread          : N sequential `co_await aio::to_thread(f, i)` round trips.
//   to_thread_batch    : N to_thread calls issued 64 at a time (tasks), then awaited.
//   threadsafe_pingpong: a plain thread does N times: call_soon_threadsafe(cb),
//                        then waits until cb ran on the loop. One loop wake-up
//                        per round trip.
//   threadsafe_flood   : a plain thread posts N callbacks as fast as it can;
//                        timed until the loop ran the last one.
//   spawn              : N sequential create_subprocess_exec("/bin/true") + wait().
//   spawn_plain        : the same children with a plain posix_spawn + waitpid
//                        loop (impl "posix_spawn"): the floor aio is held to.
#include <spawn.h>
#include <sys/wait.h>

#include <aio/aio.hpp>
#include <aio/executor.hpp>
#include <aio/subprocess.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void emit(const char* workload, const char* impl, long n, double secs, const char* metric) {
    std::printf("{\"workload\":\"%s\",\"impl\":\"%s\",\"n\":%ld,\"seconds\":%.6f,\"%s\":%.1f}\n", workload, impl, n, secs,
                metric, n / secs);
    std::fflush(stdout);
}

long inc(long x) { return x + 1; }

aio::Coro<double> to_thread_main(long n) {
    auto t0 = Clock::now();
    long total = 0;
    for (long i = 0; i < n; ++i) {
        long v = co_await aio::to_thread(inc, i);
        total += v;
    }
    double secs = since(t0);
    if (total != n * (n + 1) / 2) std::abort();
    co_return secs;
}

aio::Coro<double> to_thread_batch_main(long n) {
    auto t0 = Clock::now();
    long total = 0;
    std::vector<aio::Task<long>> batch;
    for (long done = 0; done < n;) {
        const long k = std::min<long>(64, n - done);
        batch.clear();
        for (long j = 0; j < k; ++j) batch.push_back(aio::create_task(aio::to_thread(inc, done + j)));
        for (auto& t : batch) {
            long v = co_await t;
            total += v;
        }
        done += k;
    }
    double secs = since(t0);
    if (total != n * (n + 1) / 2) std::abort();
    co_return secs;
}

aio::Coro<double> pingpong_main(long n) {
    auto& loop = aio::get_running_loop();
    std::atomic<long> ran{0};
    aio::Future<> finished = loop.create_future();
    auto t0 = Clock::now();
    std::thread poster([&] {
        for (long i = 1; i <= n; ++i) {
            loop.call_soon_threadsafe([&ran, i] {
                ran.store(i, std::memory_order_release);
                ran.notify_one();
            });
            long seen = ran.load(std::memory_order_acquire);
            while (seen != i) {
                ran.wait(seen, std::memory_order_acquire);
                seen = ran.load(std::memory_order_acquire);
            }
        }
        loop.call_soon_threadsafe([&finished] { finished.set_result(); });
    });
    co_await finished;
    double secs = since(t0);
    poster.join();
    co_return secs;
}

aio::Coro<double> flood_main(long n) {
    auto& loop = aio::get_running_loop();
    long count = 0;
    aio::Future<> finished = loop.create_future();
    auto t0 = Clock::now();
    std::thread poster([&] {
        for (long i = 0; i < n; ++i)
            loop.call_soon_threadsafe([&count, &finished, n] {
                if (++count == n) finished.set_result();
            });
    });
    co_await finished;
    double secs = since(t0);
    poster.join();
    co_return secs;
}

aio::Coro<double> spawn_main(long n) {
    auto t0 = Clock::now();
    const std::vector<std::string> no_args;
    for (long i = 0; i < n; ++i) {
        aio::Process p = co_await aio::create_subprocess_exec("/bin/true", no_args);
        int rc = co_await p.wait();
        if (rc != 0) std::abort();
    }
    co_return since(t0);
}

double spawn_plain(long n) {
    auto t0 = Clock::now();
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    for (long i = 0; i < n; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) std::abort();
        int status;
        if (waitpid(pid, &status, 0) != pid || status != 0) std::abort();
    }
    return since(t0);
}

const std::map<std::string, long> kDefaults = {
    {"to_thread", 200000},           {"to_thread_batch", 500000}, {"threadsafe_pingpong", 200000},
    {"threadsafe_flood", 2000000},   {"spawn", 1000},            {"spawn_plain", 1000},
};

int run_one(const std::string& w, long n) {
    if (w == "to_thread")
        emit("to_thread", "aio", n, aio::run(to_thread_main(n)), "round_trips_per_sec");
    else if (w == "to_thread_batch")
        emit("to_thread_batch", "aio", n, aio::run(to_thread_batch_main(n)), "calls_per_sec");
    else if (w == "threadsafe_pingpong")
        emit("threadsafe_pingpong", "aio", n, aio::run(pingpong_main(n)), "wakeups_per_sec");
    else if (w == "threadsafe_flood")
        emit("threadsafe_flood", "aio", n, aio::run(flood_main(n)), "callbacks_per_sec");
    else if (w == "spawn")
        emit("spawn", "aio", n, aio::run(spawn_main(n)), "children_per_sec");
    else if (w == "spawn_plain")
        emit("spawn", "posix_spawn", n, spawn_plain(n), "children_per_sec");
    else {
        std::fprintf(stderr, "unknown workload %s\n", w.c_str());
        return 2;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 1) {
        for (const char* w : {"to_thread", "to_thread_batch", "threadsafe_pingpong", "threadsafe_flood", "spawn_plain", "spawn"})
            run_one(w, kDefaults.at(w));
        return 0;
    }
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s [WORKLOAD N]\n", argv[0]);
        return 2;
    }
    return run_one(argv[1], std::atol(argv[2]));
}
