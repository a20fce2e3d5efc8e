// Seed: "gather" — three coroutines run concurrently; the results come back
// in the SAME ORDER as the arguments, whatever order they finish in.
// C++: a std::tuple of the three results, each with its own type.
#include <aio/aio.hpp>
#include <aio/gather.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;

using Rows = std::vector<std::string>;
using Json = std::map<std::string, std::string>;

aio::Coro<std::string> call_llm(std::string prompt) {
    co_await aio::sleep(2s);
    co_return "LLM: " + prompt;
}

aio::Coro<Rows> search_db(std::string query) {
    co_await aio::sleep(1s);
    co_return Rows{"result for " + query};
}

aio::Coro<Json> call_api(std::string endpoint) {
    co_await aio::sleep(500ms);
    co_return Json{{"endpoint", endpoint}, {"status", "ok"}};
}

// Python's repr-like rendering of the three result types.
std::string show(const std::string& s) { return "\"" + s + "\""; }
std::string show(const Rows& rows) {
    std::string out = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) out += (i ? ", " : "") + show(rows[i]);
    return out + "]";
}
std::string show(const Json& obj) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : obj) {
        out += (first ? "" : ", ") + show(k) + ": " + show(v);
        first = false;
    }
    return out + "}";
}

aio::Coro<> amain() {
    auto& loop = aio::get_running_loop();
    auto start = loop.time();
    // gather runs all three concurrently and returns results in ORDER
    auto results = co_await aio::gather(call_llm("hello"), search_db("python"), call_api("/status"));
    auto& [llm_result, db_result, api_result] = results;
    // results is in the SAME ORDER as the arguments:
    // ["LLM: hello", ["result for python"], {"endpoint": "/status", "status": "ok"}]
    std::printf("[%s, %s, %s]\n", show(llm_result).c_str(), show(db_result).c_str(), show(api_result).c_str());
    std::printf("Total: %.1fs (the slowest call, not the sum)\n",
                std::chrono::duration<double>(loop.time() - start).count());
}

int main() { aio::run(amain()); }
