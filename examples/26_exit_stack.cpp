// Seed: "AsyncExitStack" — enter a number of context managers known only at
// run time (one per tool config); when the block exits they are all cleaned
// up in reverse order. Every exit runs even if one fails.
#include <aio/aio.hpp>
#include <aio/context.hpp>
#include <aio/exit_stack.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct Tool {
    std::string name;
};

aio::AsyncContextManager<Tool> managed_tool(std::string config) {
    co_await aio::sleep(50ms);  // start the tool's server
    Tool tool{config};
    std::printf("  %s: started\n", config.c_str());
    std::exception_ptr failure;
    try {
        co_yield tool;
    } catch (...) {
        failure = std::current_exception();
    }
    co_await aio::sleep(20ms);  // stop it
    std::printf("  %s: stopped\n", config.c_str());
    if (failure) std::rethrow_exception(failure);
}

aio::Coro<> amain(std::vector<std::string> tool_configs) {
    co_await aio::async_with(aio::AsyncExitStack(), [&tool_configs](aio::AsyncExitStack& stack) -> aio::Coro<> {
        std::vector<Tool*> tools;
        for (const std::string& config : tool_configs) {
            Tool& tool = co_await stack.enter_async_context(managed_tool(config));
            tools.push_back(&tool);
        }
        // All tools are now initialized
        std::printf("  using %zu tools:", tools.size());
        for (Tool* t : tools) std::printf(" %s", t->name.c_str());
        std::printf("\n");
    });  // When the block exits, they're all cleaned up in reverse order
}

int main() { aio::run(amain({"filesystem", "web-search", "database"})); }
