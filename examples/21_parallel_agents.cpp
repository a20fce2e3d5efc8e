// Seed: "parallel_agents" — the seed's version runs the agents concurrently
// but buffers their events until ALL agents finish (Python cannot yield from
// inside `async with TaskGroup()`), so the consumer sees nothing until the
// slowest agent completes. aio::merge fixes the limitation: it streams each
// event as soon as any agent produces it, with bounded buffering.
// The timestamps show the difference: buffered, every event arrives at
// ~0.8 s (the slowest agent); streaming, the first arrives at once.
#include <aio/aio.hpp>
#include <aio/async_generator.hpp>
#include <aio/merge.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct Event {
    Event(std::string author_, std::string content_) : author(std::move(author_)), content(std::move(content_)) {}
    std::string author;
    std::string content;
};

struct Agent {
    std::string name;
    std::chrono::milliseconds step;

    aio::AsyncGenerator<Event> run(std::string query) const {
        for (int i = 1; i <= 2; ++i) {
            co_await aio::sleep(step);
            co_yield Event(name, "step " + std::to_string(i) + " of '" + query + "'");
        }
    }
};

// The seed's buffered version: tasks fill a buffer; events are yielded only
// after every task finished.
aio::AsyncGenerator<Event> parallel_agents_buffered(const std::vector<Agent>* agents, std::string query) {
    std::vector<Event> queue;  // stands in for asyncio.Queue
    std::vector<aio::Task<>> tasks;
    for (const Agent& agent : *agents) {
        tasks.push_back(aio::create_task([&queue, &agent, query]() -> aio::Coro<> {
            auto events = agent.run(query);
            while (auto event = co_await events.next()) queue.push_back(std::move(*event));
        }));
    }
    for (aio::Task<>& task : tasks) co_await task;  // like leaving `async with TaskGroup()`
    for (Event& event : queue) co_yield std::move(event);
}

// Streaming: events flow out while the slowest agent still runs.
aio::AsyncGenerator<Event> parallel_agents(const std::vector<Agent>* agents, std::string query) {
    std::vector<aio::AsyncGenerator<Event>> streams;
    for (const Agent& agent : *agents) streams.push_back(agent.run(query));
    co_yield aio::yield_from(aio::merge(std::move(streams)));
}

aio::Coro<> print_stream(const char* title, aio::AsyncGenerator<Event> events) {
    std::printf("%s\n", title);
    auto start = aio::get_running_loop().time();
    while (auto event = co_await events.next()) {
        double t = std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
        std::printf("  [%.1fs] %-9s %s\n", t, event->author.c_str(), event->content.c_str());
    }
}

aio::Coro<> amain() {
    std::vector<Agent> agents{{"fast", 100ms}, {"medium", 250ms}, {"slow", 400ms}};
    co_await print_stream("buffered (the seed's version):", parallel_agents_buffered(&agents, "plan a trip"));
    co_await print_stream("streaming (aio::merge):", parallel_agents(&agents, "plan a trip"));
}

int main() { aio::run(amain()); }
