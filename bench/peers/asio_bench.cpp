// Boost.Asio (1.81) peer for the aio core benchmarks.
//
// Usage: asio_bench spawn|timers|switch N
// Prints exactly one JSON line to stdout.
//
// Everything runs on a single-threaded io_context with C++20 coroutines
// (asio::awaitable / co_spawn / use_awaitable), which is how an Asio user
// would write an asyncio-style program.
//
//  spawn : N coroutines `co_return i`, each started eagerly with
//          co_spawn(..., experimental::use_promise) (the Asio analogue of
//          asyncio.create_task), then awaited in creation order and summed.
//  timers: N coroutines each waiting on its own steady_timer for a seeded
//          pseudo-random delay in [0, 1] s (see next_delay_us), spawned and
//          awaited like `spawn`.
//  switch: ping/pong hand control back and forth N round trips. Each handoff
//          uses a fresh one-shot "future": an experimental::channel with
//          capacity 1; the setter does try_send (like fut.set_result), the
//          waiter does co_await async_receive (like `await fut`). The value
//          sent is the next channel the other side must signal, so no
//          shared state is needed.
//
// peak_bytes_per_task = (VmHWM after workload - VmRSS before workload) / N.
// Before the workload the peak is reset via /proc/self/clear_refs ("5") when
// the kernel allows it, so startup peaks do not leak into the figure.
#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/promise.hpp>  // must precede use_promise.hpp in 1.81
#include <boost/asio/experimental/use_promise.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

// ---- memory helpers ------------------------------------------------------
static long status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.compare(0, k.size(), k) == 0) return std::atol(line.c_str() + k.size());
  return -1;
}
static void reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";  // resets VmHWM to current RSS (Linux >= 4.0); ignore failure
}

// ---- shared PRNG (identical in every peer) -------------------------------
// xorshift64 (13, 7, 17) starting at 0x9E3779B97F4A7C15; each task i takes
// the next value x and sleeps (x % 1000001) microseconds, i.e. uniform-ish
// in [0, 1] s with microsecond resolution.
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_delay_us() {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x % 1000001ULL;
}

using clock_type = std::chrono::steady_clock;
static double secs_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// ---- spawn ---------------------------------------------------------------
static awaitable<long long> value_task(long long i) { co_return i; }

static awaitable<void> spawn_main(long long n, double& seconds) {
  auto ex = co_await asio::this_coro::executor;
  auto t0 = clock_type::now();
  using promise_t = asio::experimental::promise<void(std::exception_ptr, long long),
                                                asio::any_io_executor>;
  std::vector<promise_t> tasks;
  tasks.reserve(n);
  for (long long i = 0; i < n; ++i)
    tasks.push_back(asio::co_spawn(ex, value_task(i), asio::experimental::use_promise));
  long long sum = 0;
  for (auto& t : tasks) sum += co_await t(use_awaitable);
  seconds = secs_since(t0);
  if (sum != n * (n - 1) / 2) {
    std::fprintf(stderr, "bad sum %lld\n", sum);
    std::exit(1);
  }
}

// ---- timers --------------------------------------------------------------
static awaitable<void> sleep_task(uint64_t us) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(us));
  co_await t.async_wait(use_awaitable);
}

static std::vector<uint64_t> delays;  // filled before the baseline in main()

static awaitable<void> timers_main(long long n, double& seconds) {
  auto ex = co_await asio::this_coro::executor;
  auto t0 = clock_type::now();
  using promise_t = asio::experimental::promise<void(std::exception_ptr), asio::any_io_executor>;
  std::vector<promise_t> tasks;
  tasks.reserve(n);
  for (long long i = 0; i < n; ++i)
    tasks.push_back(asio::co_spawn(ex, sleep_task(delays[i]), asio::experimental::use_promise));
  for (auto& t : tasks) co_await t(use_awaitable);
  seconds = secs_since(t0);
}

// ---- switch --------------------------------------------------------------
// A one-shot "future" whose value is the next future to signal.
struct hop_chan;
using hop = std::shared_ptr<hop_chan>;
using hop_base = asio::experimental::channel<void(boost::system::error_code, hop)>;
struct hop_chan : hop_base {
  using hop_base::hop_base;
};
static hop make_hop(const asio::any_io_executor& ex) { return std::make_shared<hop_chan>(ex, 1); }

static awaitable<void> ping(hop to_pong, long long n) {
  auto ex = co_await asio::this_coro::executor;
  for (long long i = 0; i < n; ++i) {
    hop reply = make_hop(ex);
    to_pong->try_send(boost::system::error_code{}, reply);   // set_result
    to_pong = co_await reply->async_receive(use_awaitable);  // await
  }
}
static awaitable<void> pong(hop mine, long long n) {
  auto ex = co_await asio::this_coro::executor;
  for (long long i = 0; i < n; ++i) {
    hop reply = co_await mine->async_receive(use_awaitable);
    mine = make_hop(ex);
    reply->try_send(boost::system::error_code{}, mine);
  }
}

static awaitable<void> switch_main(long long n, double& seconds) {
  auto ex = co_await asio::this_coro::executor;
  auto t0 = clock_type::now();
  hop first = make_hop(ex);
  auto a = asio::co_spawn(ex, pong(first, n), asio::experimental::use_promise);
  auto b = asio::co_spawn(ex, ping(first, n), asio::experimental::use_promise);
  co_await a(use_awaitable);
  co_await b(use_awaitable);
  seconds = secs_since(t0);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s spawn|timers|switch N\n", argv[0]);
    return 2;
  }
  const std::string w = argv[1];
  const long long n = std::atoll(argv[2]);
  if (n <= 0 || (w != "spawn" && w != "timers" && w != "switch")) {
    std::fprintf(stderr, "usage: %s spawn|timers|switch N\n", argv[0]);
    return 2;
  }

  asio::io_context ctx(1);  // concurrency hint 1: single-threaded
  double seconds = 0;
  if (w == "timers") {  // precomputed: neither timed nor counted in memory
    delays.resize(n);
    for (auto& d : delays) d = next_delay_us();
  }
  reset_peak();
  const long rss_before = status_kb("VmRSS");
  auto fut_main = w == "spawn"  ? spawn_main(n, seconds)
                  : w == "timers" ? timers_main(n, seconds)
                                  : switch_main(n, seconds);
  asio::co_spawn(ctx, std::move(fut_main), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ctx.run();
  const long hwm = status_kb("VmHWM");
  const double peak_per_task = double(hwm - rss_before) * 1024.0 / double(n);

  if (w == "spawn")
    std::printf("{\"workload\":\"spawn\",\"impl\":\"asio\",\"n\":%lld,\"seconds\":%.6f,"
                "\"tasks_per_sec\":%.1f,\"peak_bytes_per_task\":%.1f}\n",
                n, seconds, n / seconds, peak_per_task);
  else if (w == "timers")
    std::printf("{\"workload\":\"timers\",\"impl\":\"asio\",\"n\":%lld,\"seconds\":%.6f,"
                "\"overhead_seconds\":%.6f,\"peak_bytes_per_task\":%.1f}\n",
                n, seconds, seconds - 1.0, peak_per_task);
  else
    std::printf("{\"workload\":\"switch\",\"impl\":\"asio\",\"n\":%lld,\"seconds\":%.6f,"
                "\"round_trips_per_sec\":%.1f}\n",
                n, seconds, n / seconds);
  return 0;
}
