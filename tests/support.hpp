// tests/support.hpp — helpers shared by the test programs.
#pragma once

#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <chrono>
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

/// Seconds elapsed on the running loop's clock since `start`.
inline double since(aio::Clock::time_point start) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
}

}  // namespace aio_test
