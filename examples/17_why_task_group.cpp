// Seed: "Why TaskGroup is better than gather" — with asyncio.gather, when
// task2 fails, task1 and task3 keep running as orphans unless you remember
// to cancel them; TaskGroup cancels them and waits for them.
//
// aio::gather is structured too (see docs/structured-concurrency.md): it
// cancels and awaits the siblings before raising, because in C++ an orphan
// can outlive the locals it points to. So here both versions clean up; the
// manual cancel in fragile() finds nothing left to cancel. TaskGroup stays
// the better tool: tasks can be added while it runs, and every failure is
// reported (an ExceptionGroup), not just the first.
#include <aio/aio.hpp>
#include <aio/exception_group.hpp>
#include <aio/gather.hpp>
#include <aio/task_group.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;

struct ValueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

aio::Coro<> slow_task(int seconds) { co_await aio::sleep(std::chrono::seconds(seconds)); }

aio::Coro<> failing_task() {
    co_await aio::sleep(100ms);
    throw ValueError("something broke");
}

const char* state(const aio::Task<>& t) { return t.cancelled() ? "cancelled" : t.done() ? "done" : "STILL RUNNING"; }

double seconds_since(aio::Clock::time_point t0) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - t0).count();
}

// gather — manual cleanup needed (in asyncio)
aio::Coro<> fragile() {
    auto t0 = aio::get_running_loop().time();
    std::vector<aio::Task<>> tasks{
        aio::create_task(slow_task(10)),
        aio::create_task(failing_task()),
        aio::create_task(slow_task(10)),
    };
    try {
        co_await aio::gather(tasks);
    } catch (const std::exception& e) {
        std::printf("fragile: gather raised '%s' after %.1fs; slow tasks: %s, %s\n", e.what(), seconds_since(t0),
                    state(tasks[0]), state(tasks[2]));
        for (auto& t : tasks) t.cancel();  // you have to remember this! (asyncio; a no-op here)
        throw;
    }
}

// TaskGroup — automatic cleanup
aio::Coro<> robust() {
    auto t0 = aio::get_running_loop().time();
    aio::Task<> a, b;
    try {
        co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<> {
            a = tg.create_task(slow_task(10));
            tg.create_task(failing_task());
            b = tg.create_task(slow_task(10));
            co_return;
        });
    } catch (const aio::ExceptionGroup& eg) {
        // If failing_task() raises, the other two are automatically cancelled
        // and the TaskGroup waits for them to finish cancellation
        std::printf("robust: TaskGroup raised '%s' after %.1fs; slow tasks: %s, %s\n", eg.what(), seconds_since(t0),
                    state(a), state(b));
        throw;
    }
}

int main() {
    try {
        aio::run(fragile());
    } catch (const ValueError&) {
    }
    try {
        aio::run(robust());
    } catch (const aio::ExceptionGroup&) {
    }
}
