// Seed: "sequential_agents" — Python has no `async yield from`, so a
// workflow agent re-yields each sub-agent's events in an explicit
// `async for` loop. C++ can delegate: `co_yield aio::yield_from(gen)` hands
// the stream to the sub-generator, and its events reach the consumer
// directly (no per-event copy, no stack growth however deep agents nest).
// Both versions are shown; they print the same events.
#include <aio/aio.hpp>
#include <aio/async_generator.hpp>

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
    std::chrono::milliseconds think_time;

    aio::AsyncGenerator<Event> run(std::string query) const {
        // `this` is used after a suspension: the agent must outlive the
        // stream (it does: agents live in main's vector).
        co_yield Event(name, "working on: " + query);
        co_await aio::sleep(think_time);
        co_yield Event(name, "done after " + std::to_string(think_time.count()) + " ms");
    }
};

// ✅ The seed's version: an explicit loop, one re-yield per event.
aio::AsyncGenerator<Event> sequential_agents_loop(const std::vector<Agent>* agents, std::string query) {
    for (const Agent& agent : *agents) {
        auto events = agent.run(query);
        while (auto event = co_await events.next()) co_yield std::move(*event);
    }
}

// ✅ C++ delegation: what Python's `async yield from` would have been.
aio::AsyncGenerator<Event> sequential_agents(const std::vector<Agent>* agents, std::string query) {
    for (const Agent& agent : *agents) co_yield aio::yield_from(agent.run(query));
}

aio::Coro<> print_stream(const char* title, aio::AsyncGenerator<Event> events) {
    std::printf("%s\n", title);
    auto start = aio::get_running_loop().time();
    while (auto event = co_await events.next()) {
        double t = std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
        std::printf("  [%.1fs] %s: %s\n", t, event->author.c_str(), event->content.c_str());
    }
}

aio::Coro<> amain() {
    std::vector<Agent> agents{{"researcher", 300ms}, {"writer", 200ms}, {"reviewer", 100ms}};
    co_await print_stream("explicit loop:", sequential_agents_loop(&agents, "summarize the report"));
    co_await print_stream("yield_from:", sequential_agents(&agents, "summarize the report"));
}

int main() { aio::run(amain()); }
