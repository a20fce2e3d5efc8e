// bench/adk_server_bench.cpp — the C++ twin of bench/adk-ts's `adk api_server
// bench_agents` for the server workloads (bench/run_server.sh,
// bench/adk-ts/bench_server.sh with SERVER_CMD): adk::ApiServer serving the
// app "bench_agent" — the agent of bench/bench_agent.hpp (scripted model and
// `add` tool, as README-bench.md defines it) on in-memory sessions.
//
//   adk_server_bench [--host 127.0.0.1] [--port 18200] [--max_connections 8192]
//                    [--max_invocations 0] [--backlog 4096]
//
// Prints "listening on http://HOST:PORT" once it accepts connections;
// SIGINT/SIGTERM stop it (aclose: running invocations are cancelled).
//
// Only the limits differ from adk-server's defaults, so that the 1,000-
// connection workload is not refused: max_connections 8,192 (default 1,024),
// no cap on concurrent invocations (default 1,024), listen backlog 4,096 (a
// burst of 1,000 connects; node's default backlog is 511). Like ADK-TS's
// server it answers one invocation per session at a time (ours queues a
// second run on a busy session; the workload never makes one).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "adk/api_server.hpp"
#include "aio/aio.hpp"
#include "bench_agent.hpp"

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 18200;
    std::size_t max_connections = 8192;
    std::size_t max_invocations = 0;
    int backlog = 4096;
};

[[noreturn]] void usage(int code) {
    std::fprintf(code == 0 ? stdout : stderr,
                 "usage: adk_server_bench [--host H] [--port N] [--max_connections N] [--max_invocations N]\n"
                 "                        [--backlog N]\n"
                 "Serves the benchmark agent as app bench_agent (bench/README-server.md).\n");
    std::exit(code);
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") usage(0);
        if (i + 1 >= argc) usage(2);
        std::string v = argv[++i];
        char* end = nullptr;
        unsigned long n = std::strtoul(v.c_str(), &end, 10);
        bool numeric = !v.empty() && end && !*end;
        if (a == "--host") o.host = v;
        else if (a == "--port" && numeric && n <= 65535) o.port = static_cast<std::uint16_t>(n);
        else if (a == "--max_connections" && numeric) o.max_connections = n;
        else if (a == "--max_invocations" && numeric) o.max_invocations = n;
        else if (a == "--backlog" && numeric) o.backlog = static_cast<int>(n);
        else usage(2);
    }
    return o;
}

aio::Coro<int> amain(Options o) {
    adk::ApiServerOptions options;
    options.http.host = o.host;
    options.http.port = o.port;
    options.http.max_connections = o.max_connections;
    options.http.backlog = o.backlog;
    options.max_invocations = o.max_invocations;
    adk::ApiServer server(std::move(options));
    server.add_app("bench_agent", bench_agent::make_llm_agent("bench_agent"));
    co_await server.start();
    aio::EventLoop& loop = aio::get_running_loop();
    adk::ApiServer* s = &server;
    loop.add_signal_handler(SIGINT, [s] { s->close(); });
    loop.add_signal_handler(SIGTERM, [s] { s->close(); });
    std::printf("listening on %s\n", server.url().c_str());
    std::fflush(stdout);
    co_await server.serve_forever();
    loop.remove_signal_handler(SIGINT);
    loop.remove_signal_handler(SIGTERM);
    co_await server.aclose();
    adk::ApiServerStats st = server.stats();
    std::printf("runs started %llu completed %llu failed %llu disconnected %llu overload %llu\n",
                static_cast<unsigned long long>(st.runs_started), static_cast<unsigned long long>(st.runs_completed),
                static_cast<unsigned long long>(st.runs_failed),
                static_cast<unsigned long long>(st.runs_disconnected),
                static_cast<unsigned long long>(st.rejected_overload));
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_args(argc, argv);
    try {
        return aio::run(amain(std::move(options)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "adk_server_bench: %s\n", e.what());
        return 1;
    }
}
