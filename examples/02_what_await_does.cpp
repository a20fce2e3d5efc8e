// Seed: "What await does" — co_await suspends this coroutine, hands control
// to the event loop, and resumes here when the awaited work completes.
#include <aio/aio.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

using namespace std::chrono_literals;

// A stand-in for an HTTP client: the response "arrives" after 300 ms.
aio::Coro<std::map<std::string, std::string>> http_get(std::string url) {
    co_await aio::sleep(300ms);  // <-- suspension point: the loop runs other work
    co_return std::map<std::string, std::string>{{"url", url}, {"status", "200"}};
}

aio::Coro<std::map<std::string, std::string>> fetch_data(std::string url) {
    std::printf("1. Starting fetch\n");
    auto response = co_await http_get(url);
    std::printf("2. Got response\n");  // runs after the response arrives
    co_return response;
}

aio::Coro<> ticker() {
    for (int i = 0; i < 3; ++i) {
        co_await aio::sleep(100ms);
        std::printf("   (the loop ran another task while fetch_data waited: tick %d)\n", i + 1);
    }
}

int main() {
    aio::run([]() -> aio::Coro<> {
        auto tick = aio::create_task(ticker());
        auto data = co_await fetch_data("https://api.example/page/1");
        std::printf("status %s from %s\n", data["status"].c_str(), data["url"].c_str());
        co_await tick;
    });
}
