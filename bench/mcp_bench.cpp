// MCP tools/call round trips per second over stdio to server-everything's
// `echo` (bench/run_mcp.sh runs it beside the official TypeScript SDK client,
// bench/mcp_ts_client.mjs, doing the same).
//   mcp_bench NODE EVERYTHING_JS [CALLS] [IN_FLIGHT]
// Prints one JSON line: {"client":"adk-cpp","sequential_rps":...,"concurrent_rps":...}
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "adk/mcp/client.hpp"
#include "adk/mcp/stdio_transport.hpp"
#include "aio/run.hpp"
#include "aio/task.hpp"

namespace {

using adk::mcp::Json;

/// CPU time (user + system) this process used so far, in microseconds.
double cpu_us() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

aio::Coro<> one_call(adk::mcp::ClientSession& s, int i) {
    Json args{{"message", "m" + std::to_string(i)}};
    Json r = co_await s.call_tool("echo", std::move(args));
    if (r["content"][0]["text"].get<std::string>() != "Echo: m" + std::to_string(i)) std::abort();
}

aio::Coro<> worker(adk::mcp::ClientSession& s, int* next, int total) {
    while (*next < total) {
        int i = (*next)++;
        co_await one_call(s, i);
    }
}

aio::Coro<int> bench(std::string node, std::string server, int calls, int in_flight) {
    adk::mcp::StdioServerParams p;
    p.command = node;
    p.args = {server, "stdio"};
    p.on_stderr = [](std::string_view) {};
    auto connecting = adk::mcp::ClientSession::connect(adk::mcp::StdioTransport::make(std::move(p)));
    std::shared_ptr<adk::mcp::ClientSession> s = co_await std::move(connecting);
    for (int i = 0; i < 500; ++i) co_await one_call(*s, i);  // warm up (the server's JIT too)

    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_us();
    for (int i = 0; i < calls; ++i) co_await one_call(*s, i);
    double seq = calls / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double seq_cpu = (cpu_us() - c0) / calls;

    int next = 0;
    t0 = std::chrono::steady_clock::now();
    c0 = cpu_us();
    std::vector<aio::Task<>> workers;
    for (int w = 0; w < in_flight; ++w) workers.push_back(aio::create_task(worker(*s, &next, calls)));
    for (auto& w : workers) co_await w;
    double conc = calls / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double conc_cpu = (cpu_us() - c0) / calls;

    co_await s->close();
    std::printf(
        "{\"client\":\"adk-cpp\",\"calls\":%d,\"in_flight\":%d,\"sequential_rps\":%.0f,\"concurrent_rps\":%.0f,"
        "\"sequential_cpu_us_per_call\":%.1f,\"concurrent_cpu_us_per_call\":%.1f}\n",
        calls, in_flight, seq, conc, seq_cpu, conc_cpu);
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s NODE EVERYTHING_JS [CALLS] [IN_FLIGHT]\n", argv[0]);
        return 2;
    }
    int calls = argc > 3 ? std::atoi(argv[3]) : 5000;
    int in_flight = argc > 4 ? std::atoi(argv[4]) : 16;
    return aio::run(bench(argv[1], argv[2], calls, in_flight));
}
