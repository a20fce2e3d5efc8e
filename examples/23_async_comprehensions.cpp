// Seed: "async comprehensions" —
//   events = [event async for event in agent.run_async(ctx)]
//   errors = [e async for e in agent.run_async(ctx) if e.event_type == "error"]
//   event_stream = (e async for e in agent.run_async(ctx))   # lazy
// C++ spells them aio::collect, aio::collect(gen, pred) / aio::filter and
// aio::transform; filter and transform are lazy generators.
#include <aio/aio.hpp>
#include <aio/async_comprehension.hpp>
#include <aio/async_generator.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct Event {
    Event(std::string type, std::string text) : event_type(std::move(type)), content(std::move(text)) {}
    std::string event_type;
    std::string content;
};

struct Agent {
    aio::AsyncGenerator<Event> run_async(std::string ctx) const {
        co_yield Event("thinking", "reading " + ctx);
        co_await aio::sleep(50ms);
        co_yield Event("error", "tool 'search' timed out");
        co_await aio::sleep(50ms);
        co_yield Event("text", "partial answer");
        co_yield Event("error", "rate limited");
        co_yield Event("response", "final answer");
    }
};

aio::Coro<> amain() {
    Agent agent;
    std::string ctx = "ctx-1";

    // List comprehension with async for
    std::vector<Event> events = co_await aio::collect(agent.run_async(ctx));
    std::printf("events: %zu\n", events.size());

    // With filtering
    std::vector<Event> errors =
        co_await aio::collect(agent.run_async(ctx), [](const Event& e) { return e.event_type == "error"; });
    for (const Event& e : errors) std::printf("error: %s\n", e.content.c_str());

    // Async generator expression: lazy, doesn't execute until iterated
    auto event_stream = aio::transform(agent.run_async(ctx), [](Event e) { return "[" + e.event_type + "] " + e.content; });
    std::printf("event_stream created (nothing ran yet)\n");
    while (auto line = co_await event_stream.next()) std::printf("  %s\n", line->c_str());
}

int main() { aio::run(amain()); }
