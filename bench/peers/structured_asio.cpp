// Boost.Asio (1.81) peer for aio's structured-concurrency benchmarks
// (bench/structured_bench.cpp).
//
// Usage: structured_asio WORKLOAD [N]   (one JSON line; all three without WORKLOAD)
//
// Single-threaded io_context, C++20 coroutines (awaitable / co_spawn), the
// way an Asio user writes structured fan-out:
//  fanout_taskgroup [GROUPS]: GROUPS (default 1000) ranged
//      experimental::make_parallel_group of 1000 `co_spawn(ex, child(i),
//      deferred)` operations, awaited with wait_for_one_error() (cancel the
//      rest on the first failure: TaskGroup's rule); results summed.
//  fanout_gather [GROUPS]: the same with wait_for_all() (gather's rule).
//  wait_for [N]: N (default 1,000,000) sequential
//      `co_await (work(i) || timer.async_wait(use_awaitable))` with a 10 s
//      steady_timer (awaitable_operators: Asio's idiom for a timeout); also
//      times N plain `co_await work(i)` for the overhead.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr long kChildren = 1000;

awaitable<long> child(long i) { co_return i; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class Condition>
awaitable<double> fanout(long groups, Condition condition) {
  auto ex = co_await asio::this_coro::executor;
  auto t0 = std::chrono::steady_clock::now();
  long total = 0;
  using op_type = decltype(asio::co_spawn(ex, child(0), asio::deferred));
  for (long g = 0; g < groups; ++g) {
    std::vector<op_type> ops;
    ops.reserve(kChildren);
    for (long i = 0; i < kChildren; ++i) ops.push_back(asio::co_spawn(ex, child(i), asio::deferred));
    auto [order, errors, values] =
        co_await asio::experimental::make_parallel_group(std::move(ops)).async_wait(condition, use_awaitable);
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    for (long v : values) total += v;
  }
  double secs = seconds_since(t0);
  if (total != groups * kChildren * (kChildren - 1) / 2) std::abort();
  co_return secs;
}

awaitable<long> work(long i) { co_return i; }

struct Times {
  double seconds;
  double baseline;
};

awaitable<Times> wait_for_calls(long n) {
  auto ex = co_await asio::this_coro::executor;
  long total = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) total += co_await work(i);
  double baseline = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    asio::steady_timer timer(ex, 10s);
    auto r = co_await (work(i) || timer.async_wait(use_awaitable));
    total += std::get<0>(r);
  }
  double secs = seconds_since(t0);
  if (total != n * (n - 1)) std::abort();
  co_return Times{secs, baseline};
}

template <class T>
T run_on_loop(awaitable<T> a) {
  asio::io_context ctx(1);
  T out{};
  std::exception_ptr err;
  asio::co_spawn(ctx, std::move(a), [&](std::exception_ptr e, T v) {
    err = e;
    out = v;
  });
  ctx.run();
  if (err) std::rethrow_exception(err);
  return out;
}

int run(const std::string& workload, long n) {
  if (workload == "fanout_taskgroup" || workload == "fanout_gather") {
    double secs = workload == "fanout_taskgroup"
                      ? run_on_loop(fanout(n, asio::experimental::wait_for_one_error()))
                      : run_on_loop(fanout(n, asio::experimental::wait_for_all()));
    long total = n * kChildren;
    std::printf(
        "{\"workload\":\"%s\",\"impl\":\"asio\",\"n\":%ld,\"groups\":%ld,\"children\":%ld,\"seconds\":%.6f,"
        "\"children_per_sec\":%.1f}\n",
        workload.c_str(), total, n, kChildren, secs, double(total) / secs);
  } else if (workload == "wait_for") {
    Times t = run_on_loop(wait_for_calls(n));
    std::printf(
        "{\"workload\":\"wait_for\",\"impl\":\"asio\",\"n\":%ld,\"seconds\":%.6f,\"ns_per_call\":%.1f,"
        "\"baseline_ns_per_call\":%.1f,\"overhead_ns_per_call\":%.1f}\n",
        n, t.seconds, t.seconds * 1e9 / double(n), t.baseline * 1e9 / double(n),
        (t.seconds - t.baseline) * 1e9 / double(n));
  } else {
    std::fprintf(stderr, "usage: structured_asio [fanout_taskgroup|fanout_gather|wait_for [N]]\n");
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
