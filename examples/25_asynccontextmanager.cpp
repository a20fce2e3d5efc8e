// Seed: "asynccontextmanager" — a context manager written as a generator:
// everything before the yield is the enter, everything after it the exit.
// aio::AsyncContextManager<T> is that coroutine; the body's exception is
// thrown at the co_yield, so the exit code after it runs in every case
// (the finally pattern: no co_await inside a catch block). Nesting works as
// in Python.
#include <aio/aio.hpp>
#include <aio/context.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

using namespace std::chrono_literals;

struct Session {
    std::string id;
    std::map<std::string, int> state;
    aio::Coro<> save() {
        co_await aio::sleep(50ms);
        std::printf("  session %s saved: count=%d\n", id.c_str(), state["count"]);
    }
    aio::Coro<> close() {
        co_await aio::sleep(10ms);
        std::printf("  session %s closed\n", id.c_str());
    }
};

aio::Coro<Session> load_session(std::string session_id) {
    co_await aio::sleep(50ms);
    std::printf("  session %s loaded\n", session_id.c_str());
    co_return Session{session_id, {{"count", 41}}};
}

aio::AsyncContextManager<Session> managed_session(std::string session_id) {
    Session session = co_await load_session(session_id);
    std::exception_ptr failure;
    try {
        co_yield session;  // <-- everything before the yield is the enter
    } catch (...) {
        failure = std::current_exception();
    }
    co_await session.save();  // <-- everything after the yield is the exit
    co_await session.close();
    if (failure) std::rethrow_exception(failure);
}

struct LlmClient {
    aio::Coro<std::string> generate(std::string prompt) {
        co_await aio::sleep(100ms);
        co_return "echo: " + prompt;
    }
};

aio::AsyncContextManager<LlmClient> managed_llm_client() {
    std::printf("  llm client connected\n");
    LlmClient client;
    std::exception_ptr failure;
    try {
        co_yield client;
    } catch (...) {
        failure = std::current_exception();
    }
    co_await aio::sleep(10ms);
    std::printf("  llm client disconnected\n");
    if (failure) std::rethrow_exception(failure);
}

aio::Coro<> amain() {
    std::printf("one manager:\n");
    co_await aio::async_with(managed_session("abc-123"), [](Session& session) -> aio::Coro<> {
        session.state["count"] += 1;
        co_return;
    });

    std::printf("nesting:\n");
    co_await aio::async_with(managed_session("abc"), [](Session& session) -> aio::Coro<> {
        co_await aio::async_with(managed_llm_client(), [&session](LlmClient& llm) -> aio::Coro<> {
            std::string result = co_await llm.generate("hello");
            session.state["count"] = static_cast<int>(result.size());
            std::printf("  result: %s\n", result.c_str());
        });
    });
}

int main() { aio::run(amain()); }
