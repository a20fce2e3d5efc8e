// Seed: "fire-and-forget" — in Python a task whose last reference is dropped
// may be garbage-collected before it completes. In aio the loop keeps every
// task until it finishes, so the "wrong" version works too; keeping a set of
// background tasks is still how you wait for them or see their errors.
#include <aio/aio.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;

std::vector<std::string> db;  // a stand-in database

aio::Coro<> log_event(std::map<std::string, std::string> event) {
    co_await aio::sleep(100ms);  // await db.insert(event)
    db.push_back(event["query"]);
}

std::vector<aio::Task<>> background_tasks;

// CORRECT (as in Python): keep a reference; drop it when done.
aio::Coro<> handle_request(std::string query) {
    auto task = aio::create_task(log_event({{"query", query}}));
    background_tasks.push_back(task);
    task.add_done_callback([](aio::Task<>& done) { std::erase(background_tasks, done); });
    co_return;
}

// "WRONG" in Python: the reference is dropped at once. Safe in aio.
aio::Coro<> handle_request_bad(std::string query) {
    (void)aio::create_task(log_event({{"query", query}}));
    co_return;
}

int main() {
    aio::run([]() -> aio::Coro<> {
        co_await handle_request("kept reference");
        co_await handle_request_bad("dropped reference");
        std::printf("background tasks tracked: %zu\n", background_tasks.size());
        co_await aio::sleep(300ms);
        std::printf("background tasks tracked: %zu\n", background_tasks.size());
        for (const auto& q : db) std::printf("logged: %s\n", q.c_str());
    });
}
