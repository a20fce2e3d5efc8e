// Seed: "Async context managers" — `async with AsyncDatabaseConnection() as
// conn:` awaits __aenter__, runs the body, and ALWAYS awaits __aexit__, even
// when the body raises. In C++: a class with aenter()/aexit(exception) and
// aio::async_with(cm, body). aexit returns false: don't suppress.
#include <aio/aio.hpp>
#include <aio/context.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

struct Connection {
    aio::Coro<> execute(std::string sql) {
        co_await aio::sleep(100ms);
        if (sql.find("DROP") != std::string::npos) throw std::runtime_error("permission denied: " + sql);
        std::printf("  executed: %s\n", sql.c_str());
    }
    aio::Coro<> close() {
        co_await aio::sleep(50ms);
        std::printf("  connection closed\n");
    }
};

aio::Coro<Connection> create_connection() {
    co_await aio::sleep(100ms);
    std::printf("  connection opened\n");
    co_return Connection{};
}

class AsyncDatabaseConnection {
public:
    // Setup: called when entering async_with
    aio::Coro<Connection*> aenter() {
        conn_ = co_await create_connection();
        co_return &conn_;
    }
    // Teardown: ALWAYS called when leaving async_with, even on exception
    aio::Coro<bool> aexit(std::exception_ptr exc) {
        if (exc) std::printf("  aexit sees: %s\n", aio::describe_exception(exc).c_str());
        co_await conn_.close();
        co_return false;  // false = don't suppress exceptions
    }

private:
    Connection conn_;
};

aio::Coro<> amain() {
    std::printf("a body that succeeds:\n");
    co_await aio::async_with(AsyncDatabaseConnection(), [](Connection* conn) -> aio::Coro<> {
        co_await conn->execute("SELECT * FROM users");
    });  // conn.close() is guaranteed to be called

    std::printf("a body that fails:\n");
    try {
        co_await aio::async_with(AsyncDatabaseConnection(), [](Connection* conn) -> aio::Coro<> {
            co_await conn->execute("DROP TABLE users");
        });
    } catch (const std::runtime_error& e) {
        std::printf("  caught after cleanup: %s\n", e.what());
    }
}

int main() { aio::run(amain()); }
