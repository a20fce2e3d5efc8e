// Seed: "Three things can be awaited" — coroutines, tasks, futures, and
// custom awaitable objects.
#include <aio/aio.hpp>
#include <cstdio>

aio::Coro<int> coro() { co_return 42; }

// A custom awaitable: operator co_await hands back an awaiter of a future
// that the loop resolves on its next iteration, so awaiting it yields once
// and then gives 42.
class CustomAwaitable {
public:
    auto operator co_await() {
        aio::get_running_loop().call_soon([f = future_]() mutable { f.set_result(42); });
        return future_.operator co_await();
    }

private:
    aio::Future<int> future_;
};

aio::Coro<> amain() {
    // 1. Coroutines
    int a = co_await coro();
    std::printf("await coro()            -> %d\n", a);

    // 2. Tasks (scheduled coroutines)
    aio::Task<int> task = aio::create_task(coro());
    int b = co_await task;
    std::printf("await task              -> %d\n", b);

    // 3. Futures (low-level)
    aio::Future<int> future = aio::get_running_loop().create_future<int>();
    aio::get_running_loop().call_later(std::chrono::milliseconds(10), [future]() mutable { future.set_result(42); });
    int c = co_await future;
    std::printf("await future            -> %d\n", c);

    // Custom awaitable objects
    int d = co_await CustomAwaitable();
    std::printf("await CustomAwaitable() -> %d\n", d);
}

int main() { aio::run(amain()); }
