// Seed: "asyncio.wait" — wait for tasks you hold until ALL_COMPLETED,
// FIRST_COMPLETED or FIRST_EXCEPTION; you get back done and pending, and
// wait never cancels anything itself.
//
// C++: one vector holds one task type, so each call renders its result as
// text (Python's repr of the str, list and dict the seed returns).
#include <aio/aio.hpp>
#include <aio/wait.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

aio::Coro<std::string> call_llm(std::string prompt) {
    co_await aio::sleep(2s);
    co_return "LLM: " + prompt;
}

aio::Coro<std::string> search_db(std::string query) {
    co_await aio::sleep(1s);
    co_return "['result for " + query + "']";
}

aio::Coro<std::string> call_api(std::string endpoint) {
    co_await aio::sleep(500ms);
    co_return "{'endpoint': '" + endpoint + "', 'status': 'ok'}";
}

aio::Coro<> amain() {
    auto& loop = aio::get_running_loop();
    auto start = loop.time();
    auto elapsed = [&] { return std::chrono::duration<double>(loop.time() - start).count(); };
    std::vector<aio::Task<std::string>> tasks{
        aio::create_task(call_llm("q1"), "llm"),
        aio::create_task(search_db("q2"), "db"),
        aio::create_task(call_api("/health"), "api"),
    };

    // Wait for ALL to complete (like gather, but returns done and pending)
    auto [done, pending] = co_await aio::wait(tasks, aio::ReturnWhen::ALL_COMPLETED);
    for (auto& task : done) std::printf("%s: %s\n", task.get_name().c_str(), task.result().c_str());
    std::printf("ALL_COMPLETED after %.1fs: %zu done, %zu pending\n", elapsed(), done.size(), pending.size());

    // Wait for the FIRST one to complete (here all are done already)
    auto first = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_COMPLETED);
    std::string first_result = first.done.back().result();
    std::printf("FIRST_COMPLETED: first_result = %s\n", first_result.c_str());
    // Cancel the rest if you don't need them
    for (auto& task : first.pending) task.cancel();

    // Wait for the FIRST EXCEPTION (none failed: returns when all are done)
    auto fe = co_await aio::wait(tasks, aio::ReturnWhen::FIRST_EXCEPTION);
    std::printf("FIRST_EXCEPTION: %zu done, %zu pending\n", fe.done.size(), fe.pending.size());

    // The same three calls started afresh: FIRST_COMPLETED returns at 0.5 s
    // with the API call done; the two others are still running until we
    // cancel them.
    start = loop.time();
    std::vector<aio::Task<std::string>> fresh{
        aio::create_task(call_llm("q1"), "llm"),
        aio::create_task(search_db("q2"), "db"),
        aio::create_task(call_api("/health"), "api"),
    };
    auto [done2, pending2] = co_await aio::wait(fresh, aio::FIRST_COMPLETED);
    std::printf("FIRST_COMPLETED after %.1fs: %s done first; cancelling %zu pending\n", elapsed(),
                done2.front().get_name().c_str(), pending2.size());
    for (auto& task : pending2) task.cancel();
    co_await aio::wait(pending2);  // let them finish their cancellation
}

int main() { aio::run(amain()); }
