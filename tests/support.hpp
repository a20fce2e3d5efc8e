// tests/support.hpp — helpers shared by the test programs.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// ASSERT_* returns from the function, which a coroutine cannot do: this
/// records the failure and leaves a Coro<void> with co_return.
#define CO_ASSERT_TRUE(cond)                                   \
    do {                                                       \
        if (!(cond)) {                                         \
            ADD_FAILURE() << "assertion failed: " #cond;       \
            co_return;                                         \
        }                                                      \
    } while (0)

namespace aio_test {

using namespace std::chrono_literals;

/// Counts live instances: every construction must have its destruction.
struct Counted {
    static inline int live = 0;
    static inline int constructed = 0;
    Counted() {
        ++live;
        ++constructed;
    }
    Counted(const Counted&) : Counted() {}
    Counted(Counted&&) noexcept : Counted() {}
    Counted& operator=(const Counted&) = default;
    ~Counted() { --live; }
    static void reset() { live = constructed = 0; }
};

/// Captures what aio reports through its log hook while alive (tasks
/// destroyed while pending, exceptions never retrieved...).
class CapturedLog {
public:
    CapturedLog() {
        previous_ = aio::set_log_handler([this](aio::LogLevel level, std::string_view msg) {
            std::lock_guard lock(mutex_);
            lines_.push_back(std::string(aio::to_string(level)) + " " + std::string(msg));
        });
    }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;
    ~CapturedLog() { aio::set_log_handler(std::move(previous_)); }

    /// How many reports contain `needle`.
    std::size_t count(std::string_view needle) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& l : lines_) n += l.find(needle) != std::string::npos;
        return n;
    }
    /// Every report, one per line, each starting with its level.
    std::string all() const {
        std::lock_guard lock(mutex_);
        std::string out;
        for (const auto& l : lines_) out += l + "\n";
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    aio::LogHandler previous_;
};

/// Runs `body()` on a fresh loop; cancels it and fails the test if it has
/// not finished within `limit` (so a hang is a failure, not a stuck run).
template <class F>
void run_bounded(F body, std::chrono::seconds limit = std::chrono::seconds(30)) {
    aio::run([&]() -> aio::Coro<> {
        aio::Task<> task = aio::create_task(body());
        bool timed_out = false;
        aio::TimerHandle watchdog = aio::get_running_loop().call_later(limit, [&] {
            timed_out = true;
            task.cancel();
        });
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
        }
        watchdog.cancel();
        EXPECT_FALSE(timed_out) << "the test body did not finish in time";
    });
}

/// Awaits `aw` and returns the exception it raised (null if none).
template <class Awaitable>
aio::Coro<std::exception_ptr> failure_of(Awaitable aw) {
    try {
        co_await std::move(aw);
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}

/// Whether `e` holds an E (or a subclass).
template <class E>
bool holds(const std::exception_ptr& e) {
    return aio::detail::holds_exception<E>(e);
}

/// `e` in words for a failure message.
inline std::string describe(const std::exception_ptr& e) {
    return e ? aio::describe_exception(e) : "no exception";
}

/// A TCP port free on 127.0.0.1 right now, for a peer program that must be
/// told its port (prefer port 0 and reading the port back where possible).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("free_port: bind failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

/// Seconds elapsed on the running loop's clock since `start`.
inline double since(aio::Clock::time_point start) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
}

}  // namespace aio_test
