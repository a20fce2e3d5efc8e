// aio::http under load (issue 11's HTTP workload): a local aio::http::Server
// answering GET /hello, and aio::http::Client sending N requests with K in
// flight. bench/run_http.sh runs it beside curl's own `curl --parallel` and
// Python's aiohttp (when Debian's python3-aiohttp is installed).
//
//   http_bench server                 prints "listening on URL", serves until killed
//   http_bench client URL N K         prints "aio-http requests=N inflight=K seconds=S rps=R peak_rss_kb=M"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "aio/http/client.hpp"
#include "aio/http/server.hpp"
#include "aio/run.hpp"
#include "aio/task_group.hpp"

namespace {

long peak_rss_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

aio::Coro<int> serve() {
    aio::http::Router router;
    router.get("/hello", [](aio::http::ServerRequest&) -> aio::Coro<aio::http::ServerResponse> {
        co_return aio::http::ServerResponse::text(200, "hello world\n");
    });
    aio::http::ServerConfig config;
    config.max_connections = 4096;
    aio::http::Server server = co_await aio::http::start_server(std::move(router), config);
    std::printf("listening on %s\n", server.url().c_str());
    std::fflush(stdout);
    co_await server.serve_forever();
    co_return 0;
}

aio::Coro<> worker(aio::http::Client& client, const std::string& url, int* remaining, int* failures) {
    while (*remaining > 0) {
        --*remaining;
        aio::http::Response r = co_await client.get(url);
        if (r.status != 200) ++*failures;
    }
}

aio::Coro<int> load(std::string url, int n, int inflight) {
    aio::http::Client client;
    int remaining = n;
    int failures = 0;
    auto start = std::chrono::steady_clock::now();
    auto body = [&](aio::TaskGroup& tg) -> aio::Coro<> {
        for (int i = 0; i < inflight; ++i) tg.create_task(worker(client, url, &remaining, &failures));
        co_return;
    };
    aio::Coro<> group = aio::task_group(std::move(body));
    co_await std::move(group);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("aio-http requests=%d inflight=%d seconds=%.3f rps=%.0f peak_rss_kb=%ld failures=%d\n", n, inflight,
                seconds, n / seconds, peak_rss_kb(), failures);
    co_return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "server") return aio::run(serve());
    if (mode == "client" && argc == 5) return aio::run(load(argv[2], std::atoi(argv[3]), std::atoi(argv[4])));
    std::fprintf(stderr, "usage: http_bench server | http_bench client URL N INFLIGHT\n");
    return 2;
}
