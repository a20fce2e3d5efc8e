// Seed: "as_completed" — results arrive in completion order, not input order.
#include <aio/aio.hpp>
#include <aio/wait.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// One vector holds one type: each call renders its result as Python would.
aio::Coro<std::string> call_llm(std::string prompt) {
    co_await aio::sleep(2s);
    co_return "\"LLM: " + prompt + "\"";
}

aio::Coro<std::string> search_db(std::string query) {
    co_await aio::sleep(1s);
    co_return "[\"result for " + query + "\"]";
}

aio::Coro<std::string> call_api(std::string endpoint) {
    co_await aio::sleep(500ms);
    co_return "{\"endpoint\": \"" + endpoint + "\", \"status\": \"ok\"}";
}

aio::Coro<> amain() {
    auto& loop = aio::get_running_loop();
    auto start = loop.time();
    std::vector<aio::Coro<std::string>> coros;
    coros.push_back(call_llm("prompt1"));     // takes 2s
    coros.push_back(search_db("query1"));     // takes 1s
    coros.push_back(call_api("/endpoint"));   // takes 0.5s

    // Results arrive in completion order, not input order
    auto it = aio::as_completed(std::move(coros));
    while (auto task = co_await it.next()) {
        std::string result = co_await *task;
        std::printf("Got result: %s (%.1fs)\n", result.c_str(),
                    std::chrono::duration<double>(loop.time() - start).count());
    }
    // Prints:
    // Got result: {"endpoint": ...} (0.5s — fastest)
    // Got result: ["result for ..."] (1.0s)
    // Got result: "LLM: ..." (2.0s — slowest)
}

int main() { aio::run(amain()); }
