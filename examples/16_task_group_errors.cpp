// Seed: "TaskGroup error handling" — when one task fails, the TaskGroup
// cancels all the others; the failures arrive together as an ExceptionGroup,
// and `except*` picks them by type. In C++, catch aio::ExceptionGroup and
// split it by type: eg.split<E>() gives (the E's, the rest).
#include <aio/aio.hpp>
#include <aio/exception_group.hpp>
#include <aio/task_group.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct ValueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

aio::Coro<std::string> call_llm(std::string prompt) {
    co_await aio::sleep(2s);
    co_return "LLM: " + prompt;
}

aio::Coro<std::vector<std::string>> search_db(std::string query) {
    co_await aio::sleep(1s);
    co_return std::vector<std::string>{"result for " + query};
}

aio::Coro<> failing_task() {
    throw ValueError("something broke");
    co_return;
}

std::string message_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    }
}

aio::Coro<> amain() {
    aio::Task<std::string> task1;
    aio::Task<std::vector<std::string>> task3;
    try {
        co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<> {
            task1 = tg.create_task(call_llm("hello"));
            tg.create_task(failing_task());  // will fail
            task3 = tg.create_task(search_db("python"));
            co_return;
        });
    } catch (const aio::ExceptionGroup& eg) {
        // except* ValueError as eg:
        auto [value_errors, rest] = eg.split<ValueError>();
        if (value_errors)
            for (const auto& exc : value_errors->exceptions())
                std::printf("Caught ValueError: %s\n", message_of(exc).c_str());
        // except* TypeError as eg: (each clause matches a DIFFERENT type)
        if (rest) {
            auto [type_errors, unhandled] = rest->split<TypeError>();
            if (type_errors)
                for (const auto& exc : type_errors->exceptions())
                    std::printf("Caught TypeError: %s\n", message_of(exc).c_str());
            if (unhandled) throw *unhandled;  // what no clause matched propagates
        }
    }
    // When one task fails, TaskGroup CANCELS all other tasks
    std::printf("task1 cancelled: %s, task3 cancelled: %s\n", task1.cancelled() ? "yes" : "no",
                task3.cancelled() ? "yes" : "no");
}

int main() { aio::run(amain()); }
