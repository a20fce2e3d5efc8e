// Seed: "done callbacks" — a callback fires (through the loop) when the task
// completes; it receives the task.
#include <aio/aio.hpp>
#include <cstdio>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

aio::Coro<std::string> slow_operation(std::string name, std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    if (name == "broken") throw std::runtime_error("the operation broke");
    co_return name + " result";
}

void on_done(aio::Task<std::string>& t) {
    if (auto e = t.exception())
        std::printf("Task failed: %s\n", aio::describe_exception(e).c_str());
    else
        std::printf("Task result: %s\n", t.result().c_str());
}

int main() {
    aio::run([]() -> aio::Coro<> {
        auto task = aio::create_task(slow_operation("A", 1000ms));
        task.add_done_callback(on_done);
        co_await task;

        auto failing = aio::create_task(slow_operation("broken", 100ms));
        failing.add_done_callback(on_done);
        try {
            co_await failing;
        } catch (const std::exception&) {
        }
        co_await aio::sleep(0ms);  // let the scheduled callback run
    });
}
