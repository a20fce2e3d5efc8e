// Seed continuation: "synchronization primitives, queues" — an agent runner's
// pipeline. A producer streams six user queries into a bounded Queue; three
// workers take them, and a Semaphore lets at most two "LLM calls" (0.5 s
// each) run at once — the rate limit a model API imposes. A Lock guards the
// shared token budget across an await, an Event says when the answers are
// all in, and join() waits until every query was processed.
//
// Six calls of 0.5 s, two at a time: ~1.5 s in total, however many workers.
#include <aio/aio.hpp>
#include <aio/event.hpp>
#include <aio/lock.hpp>
#include <aio/queue.hpp>
#include <aio/semaphore.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct Answer {
    std::string query;
    std::string text;
};

double seconds_since(aio::Clock::time_point start) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - start).count();
}

struct Runner {
    aio::Queue<std::string> queries{3};  // backpressure: at most 3 waiting queries
    aio::Queue<Answer> answers;          // unbounded
    aio::Semaphore llm_slots{2};         // at most 2 model calls in flight
    aio::Lock budget_lock;
    aio::Event all_answered;
    int tokens_left = 1000;
    int in_flight = 0;
    int answered = 0;
    int expected = 0;
    aio::Clock::time_point start = aio::get_running_loop().time();

    // Simulated model call: the semaphore bounds concurrency, the guard
    // returns the slot even if the call throws or is cancelled.
    aio::Coro<std::string> call_llm(const std::string& worker, const std::string& query) {
        auto slot = co_await llm_slots.acquire();
        ++in_flight;
        std::printf("[%.1fs] %s calls the LLM for \"%s\" (in flight: %d)\n", seconds_since(start), worker.c_str(),
                    query.c_str(), in_flight);
        co_await aio::sleep(500ms);
        --in_flight;
        co_return "answer to " + query;
    }

    // Token accounting reads, awaits, then writes: the Lock keeps it atomic.
    aio::Coro<> charge(int tokens) {
        auto guard = co_await budget_lock.acquire();
        int left = tokens_left;
        co_await aio::sleep(0s);  // e.g. persisting the budget
        tokens_left = left - tokens;
    }

    aio::Coro<> worker(std::string name) {
        for (;;) {
            std::string query = co_await queries.get();
            std::string text = co_await call_llm(name, query);
            co_await charge(100);
            Answer answer{query, std::move(text)};  // no aggregate temporary inside co_await (g++ 12 bug)
            co_await answers.put(std::move(answer));
            queries.task_done();
            if (++answered == expected) all_answered.set();
        }
    }

    aio::Coro<> producer(std::vector<std::string> batch) {
        expected = static_cast<int>(batch.size());
        for (auto& q : batch) {
            co_await queries.put(q);  // waits while 3 queries are queued
            std::printf("[%.1fs] queued \"%s\" (queue size %zu)\n", seconds_since(start), q.c_str(), queries.qsize());
        }
    }
};

aio::Coro<> amain() {
    Runner runner;
    std::vector<aio::Task<>> workers;
    for (int i = 1; i <= 3; ++i) workers.push_back(aio::create_task(runner.worker("worker-" + std::to_string(i))));

    std::vector<std::string> batch{"weather", "stocks", "news", "recipe", "translate", "summary"};
    co_await runner.producer(std::move(batch));
    co_await runner.all_answered.wait();
    co_await runner.queries.join();  // every query processed (task_done)

    std::printf("[%.1fs] all %d answers in, %d tokens left:\n", seconds_since(runner.start), runner.answered,
                runner.tokens_left);
    while (!runner.answers.empty()) {
        Answer a = runner.answers.get_nowait();
        std::printf("  %-10s -> %s\n", a.query.c_str(), a.text.c_str());
    }
    for (auto& w : workers) w.cancel();  // idle workers wait in get(): cancelling leaves nothing behind
    for (auto& w : workers) {
        try {
            co_await w;
        } catch (const aio::CancelledError&) {
        }
    }
    std::printf("Total: %.1fs (6 calls of 0.5 s, at most 2 at once)\n", seconds_since(runner.start));
}

}  // namespace

int main() { aio::run(amain()); }
