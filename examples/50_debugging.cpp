// Debugging: where is each task waiting? Async call graphs, and what debug
// mode reports (never-awaited coroutines, slow steps, lost exceptions).
#include <aio/aio.hpp>
#include <cstdio>

using namespace std::chrono_literals;

// A "service" whose fetch hangs on a reply that never comes.
aio::Coro<std::string> wait_for_reply(aio::Future<std::string> reply) {
    std::string r = co_await reply;  // <- hangs here
    co_return r;
}

aio::Coro<std::string> fetch_page(aio::Future<std::string> reply) {
    std::string body = co_await wait_for_reply(reply);
    co_return body;
}

aio::Coro<int> crawl(aio::Future<std::string> reply) {
    std::string page = co_await fetch_page(reply);
    co_return static_cast<int>(page.size());
}

aio::Coro<int> summarize(aio::Task<int> crawler) {
    int n = co_await crawler;
    co_return n;
}

aio::Coro<int> lookup() { co_return 42; }

int main() {
    aio::run(
        []() -> aio::Coro<> {
            aio::Future<std::string> reply;  // nobody will ever set it
            auto crawler = aio::create_task(crawl(reply), "crawler");
            auto summary = aio::create_task(summarize(crawler), "summary");
            co_await aio::sleep(10ms);

            std::printf("--- the hung task's call graph (aio::print_call_graph) ---\n");
            aio::print_call_graph(crawler, stdout);

            std::printf("\n--- debug mode: a coroutine created and dropped unawaited ---\n");
            aio::set_log_handler([](aio::LogLevel level, std::string_view msg) {
                std::printf("[log %s] %.*s\n", aio::to_string(level), static_cast<int>(msg.size()), msg.data());
            });
            { auto forgotten = lookup(); }  // a bug: should have been co_await lookup()

            std::printf("\n--- debug mode: a task step that blocks the loop ---\n");
            aio::get_running_loop().slow_callback_duration = 50ms;
            auto hog = aio::create_task(
                []() -> aio::Coro<> {
                    co_await aio::sleep(0s);
                    auto until = std::chrono::steady_clock::now() + 100ms;
                    while (std::chrono::steady_clock::now() < until) {
                    }  // CPU work on the loop thread
                },
                "cpu-hog");
            co_await hog;
            summary.cancel();
            crawler.cancel();
            aio::set_log_handler({});
        },
        aio::RunOptions{.debug = true});
}
