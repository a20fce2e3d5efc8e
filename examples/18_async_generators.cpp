// Seed: "Async generators" — a generator yields values lazily; an async
// generator can also await between yields. Python consumes it with
// `async for`; in C++ the consumer loops on `co_await gen.next()`.
#include <aio/aio.hpp>
#include <aio/async_generator.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

double elapsed(aio::Clock::time_point start) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
}

// Sync generator: yields values lazily, resumes on each pull. In C++20 an
// AsyncGenerator that never awaits plays that role.
aio::AsyncGenerator<int> count_up(int n) {
    for (int i = 0; i < n; ++i) co_yield i;  // pauses here, resumes on next()
}

// A stand-in for http_client.get(url): 0.3 s of simulated network I/O.
aio::Coro<std::string> http_get(std::string url) {
    co_await aio::sleep(300ms);
    co_return "{\"url\": \"" + url + "\", \"items\": 10}";
}

// Async generator: yields values lazily AND awaits between yields.
aio::AsyncGenerator<std::string> fetch_pages(std::vector<std::string> urls) {
    for (const std::string& url : urls) {
        std::string response = co_await http_get(url);  // async I/O
        co_yield response;                               // yield result
    }
}

aio::Coro<> amain() {
    auto numbers = count_up(5);
    std::printf("count_up(5):");
    while (auto num = co_await numbers.next()) std::printf(" %d", *num);  // 0, 1, 2, 3, 4
    std::printf("\n");

    auto start = aio::get_running_loop().time();
    std::vector<std::string> urls{"https://api.com/page/1", "https://api.com/page/2"};
    auto pages = fetch_pages(urls);  // nothing runs yet: generators are lazy
    while (auto page_data = co_await pages.next())
        std::printf("[%.1fs] %s\n", elapsed(start), page_data->c_str());  // one page every 0.3 s
}

int main() { aio::run(amain()); }
