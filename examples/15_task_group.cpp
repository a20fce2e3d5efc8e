// Seed: "TaskGroup" — the modern replacement for gather: when the group
// ends, ALL its tasks are guaranteed complete, even on failure.
//
//   async with asyncio.TaskGroup() as tg:      co_await aio::task_group(
//       task1 = tg.create_task(...)                [&](aio::TaskGroup& tg) -> aio::Coro<> {...});
#include <aio/aio.hpp>
#include <aio/task_group.hpp>

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

aio::Coro<> amain() {
    auto& loop = aio::get_running_loop();
    auto start = loop.time();
    aio::Task<std::string> task1;
    aio::Task<Rows> task2;
    aio::Task<Json> task3;
    co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<> {
        task1 = tg.create_task(call_llm("hello"));
        task2 = tg.create_task(search_db("python"));
        task3 = tg.create_task(call_api("/status"));
        co_return;
    });
    // When the group exits, ALL tasks are guaranteed complete
    std::printf("%s\n", task1.result().c_str());
    std::printf("['%s']\n", task2.result().front().c_str());
    const Json& api = task3.result();
    std::printf("{'endpoint': '%s', 'status': '%s'}\n", api.at("endpoint").c_str(), api.at("status").c_str());
    std::printf("Total: %.1fs\n", std::chrono::duration<double>(loop.time() - start).count());
}

int main() { aio::run(amain()); }
