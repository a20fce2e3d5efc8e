// Seed: "How ADK agents work" — an agent is an async generator of Events:
// it yields a "thinking" event, awaits the LLM, yields tool events around an
// awaited tool call, and yields the final response. The Runner consumes the
// stream and prints each event as it arrives.
#include <aio/aio.hpp>
#include <aio/async_generator.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

using namespace std::chrono_literals;

// The dataclass. A constructor rather than an aggregate: g++ 12 miscompiles
// `co_yield Aggregate{...}` when the aggregate holds a std::string.
struct Event {
    Event(std::string author_, std::string content_, std::string event_type_ = "text")
        : author(std::move(author_)), content(std::move(content_)), event_type(std::move(event_type_)) {}
    std::string author;
    std::string content;
    std::string event_type;
};

struct ToolCall {
    std::string name;
    std::string args;
};
struct LlmResponse {
    std::string text;
    std::optional<ToolCall> tool_call;
};

aio::Coro<LlmResponse> call_llm(std::string query) {
    co_await aio::sleep(500ms);  // the model thinks
    co_return LlmResponse{"It is 21°C and sunny in " + query.substr(query.rfind(' ') + 1) + ".",
                          ToolCall{"get_weather", "Paris"}};
}

aio::Coro<std::string> execute_tool(ToolCall call) {
    co_await aio::sleep(300ms);  // the tool's I/O
    co_return "{\"city\": \"" + call.args + "\", \"temp_c\": 21, \"sky\": \"sunny\"}";
}

// This is exactly how ADK agents work:
aio::AsyncGenerator<Event> run_agent(std::string query) {
    // Step 1: Emit a "thinking" event
    co_yield Event("agent", "Processing your query...", "thinking");

    // Step 2: Call the LLM (async I/O)
    LlmResponse llm_response = co_await call_llm(query);

    // Step 3: If the LLM wants to use a tool, emit tool events
    if (llm_response.tool_call) {
        co_yield Event("agent", "Calling tool: " + llm_response.tool_call->name, "tool_call");
        std::string tool_result = co_await execute_tool(*llm_response.tool_call);
        co_yield Event("tool", tool_result, "tool_result");
    }

    // Step 4: Emit the final response
    co_yield Event("agent", llm_response.text, "response");
}

// Consumer — the Runner collects events
aio::Coro<> run(std::string query) {
    auto start = aio::get_running_loop().time();
    auto events = run_agent(query);
    while (auto event = co_await events.next()) {
        double t = std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
        std::printf("[%.1fs] [%s] %s: %s\n", t, event->event_type.c_str(), event->author.c_str(),
                    event->content.c_str());
    }
}

int main() { aio::run(run("What is the weather in Paris")); }
