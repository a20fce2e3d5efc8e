// Seed: "create_task with names" — a name shows up in debugging and logging.
#include <aio/aio.hpp>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

aio::Coro<std::string> slow_operation(std::string name, std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    co_return name + " result";
}

int main() {
    aio::run([]() -> aio::Coro<> {
        auto task = aio::create_task(slow_operation("fetch_llm", 200ms), "llm-call-1");
        std::printf("%s\n", task.get_name().c_str());  // "llm-call-1"
        auto unnamed = aio::create_task(slow_operation("other", 100ms));
        std::printf("%s\n", unnamed.get_name().c_str());  // "Task-N" by default
        co_await task;
        co_await unnamed;
    });
}
