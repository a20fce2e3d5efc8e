// Seed: "Handling errors in gather" — by default one failure makes gather
// raise; with return_exceptions=True every outcome is collected instead.
//
// aio::gather is structured: before the failure reaches the caller, the
// other children are cancelled and gather waits for them, so the seed's
// worry ("the other tasks might still be running!") cannot happen in C++.
#include <aio/aio.hpp>
#include <aio/gather.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct ValueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int running = 0;  // calls whose body is executing right now
struct Running {
    Running() { ++running; }
    ~Running() { --running; }
};

// The message of a stored exception (Python prints str(exc)).
std::string message_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (const aio::CancelledError& c) {
        return c.what();
    }
}

aio::Coro<std::string> call_llm(std::string prompt) {
    Running r;
    co_await aio::sleep(2s);
    co_return "LLM: " + prompt;
}

aio::Coro<std::vector<std::string>> search_db(std::string query) {
    Running r;
    co_await aio::sleep(1s);
    co_return std::vector<std::string>{"result for " + query};
}

aio::Coro<std::string> failing_task() {
    throw ValueError("something broke");
    co_return "";
}

// DEFAULT: if any task fails, gather raises
aio::Coro<> amain() {
    try {
        co_await aio::gather(call_llm("hello"), failing_task(), search_db("python"));
    } catch (const ValueError& e) {
        std::printf("One task failed: %s\n", e.what());
    }
    // But what about the other tasks? aio::gather cancelled them and waited
    // for them to finish before raising: none is still running.
    std::printf("Calls still running: %d\n", running);
}

// BETTER: return_exceptions collects exceptions as results
aio::Coro<> main_safe() {
    auto [r0, r1, r2] = co_await aio::gather(aio::return_exceptions, call_llm("hello"), failing_task(),
                                             search_db("python"));
    auto report = [](int i, const auto& result, auto show) {
        if (result.has_value())
            std::printf("Task %d succeeded: %s\n", i, show(result.value()).c_str());
        else
            std::printf("Task %d failed: %s\n", i, message_of(result.error()).c_str());
    };
    auto text = [](const std::string& s) { return s; };
    auto list = [](const std::vector<std::string>& v) {
        std::string out = "[";
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", '" : "'") + v[i] + "'";
        return out + "]";
    };
    report(0, r0, text);
    report(1, r1, text);
    report(2, r2, list);
}

int main() {
    aio::run(amain());
    aio::run(main_safe());
    // Output:
    // Task 0 succeeded: LLM: hello
    // Task 1 failed: something broke
    // Task 2 succeeded: ['result for python']
}
