// Queue, LifoQueue, PriorityQueue: ordering, backpressure, task_done/join,
// Python 3.13 shutdown, move-only items, and cancellation at every wait with
// no item lost (ported from CPython's test_queues, plus a randomized
// cancellation storm that checks every item is delivered exactly once).
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/event.hpp>
#include <aio/queue.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::Coro<> yield_n(int n) {
    for (int i = 0; i < n; ++i) co_await aio::sleep(0s);
}

/// Counts live instances: every construction must have its destruction.
struct Counted {
    static inline int live = 0;
    int value = 0;
    explicit Counted(int v) : value(v) { ++live; }
    Counted(const Counted& o) : value(o.value) { ++live; }
    Counted(Counted&& o) noexcept : value(o.value) { ++live; }
    Counted& operator=(const Counted&) = default;
    Counted& operator=(Counted&&) = default;
    ~Counted() { --live; }
};

// --- basics (CPython QueueBasicTests) ---------------------------------------

TEST(Queue, EmptyFullQsizeMaxsize) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        EXPECT_TRUE(q.empty());
        EXPECT_FALSE(q.full());
        EXPECT_EQ(q.maxsize(), 0u);
        co_await q.put(1);
        EXPECT_FALSE(q.empty());
        EXPECT_EQ(q.qsize(), 1u);
        int v = co_await q.get();
        EXPECT_EQ(v, 1);
        EXPECT_TRUE(q.empty());

        aio::Queue<int> bounded(1);
        EXPECT_EQ(bounded.maxsize(), 1u);
        co_await bounded.put(1);
        EXPECT_TRUE(bounded.full());
    });
}

TEST(Queue, FifoLifoAndPriorityOrder) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> fifo;
        aio::LifoQueue<int> lifo;
        aio::PriorityQueue<int> prio;
        for (int i : {1, 3, 2}) {
            co_await fifo.put(i);
            co_await lifo.put(i);
            co_await prio.put(i);
        }
        std::vector<int> f, l, p;
        for (int k = 0; k < 3; ++k) {
            int a = co_await fifo.get();
            int b = co_await lifo.get();
            int c = co_await prio.get();
            f.push_back(a);
            l.push_back(b);
            p.push_back(c);
        }
        EXPECT_EQ(f, (std::vector<int>{1, 3, 2}));
        EXPECT_EQ(l, (std::vector<int>{2, 3, 1}));
        EXPECT_EQ(p, (std::vector<int>{1, 2, 3}));
    });
}

struct Job {
    int priority;
    std::string name;
};
struct ByPriority {
    bool operator()(const Job& a, const Job& b) const { return a.priority < b.priority; }
};

TEST(Queue, PriorityIsStableForEqualPriorities) {
    aio::PriorityQueue<Job, ByPriority> q;
    const char* names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    int prios[] = {2, 1, 2, 0, 1, 2, 0, 1};
    for (int i = 0; i < 8; ++i) q.put_nowait(Job{prios[i], names[i]});
    std::string order;
    while (!q.empty()) order += q.get_nowait().name;
    EXPECT_EQ(order, "dgbehacf");

    aio::PriorityQueue<int, std::greater<int>> largest_first;
    for (int i : {1, 3, 2}) largest_first.put_nowait(i);
    EXPECT_EQ(largest_first.get_nowait(), 3);
    EXPECT_EQ(largest_first.get_nowait(), 2);
    EXPECT_EQ(largest_first.get_nowait(), 1);
}

TEST(Queue, PriorityStabilityHoldsAcrossManyItems) {
    aio::PriorityQueue<std::pair<int, int>, std::function<bool(const std::pair<int, int>&, const std::pair<int, int>&)>>
        q(0, [](const auto& a, const auto& b) { return a.first < b.first; });
    for (int i = 0; i < 1000; ++i) q.put_nowait(std::pair{(i * 7) % 5, i});
    std::pair<int, int> prev{-1, -1};
    while (!q.empty()) {
        auto cur = q.get_nowait();
        ASSERT_TRUE(cur.first > prev.first || (cur.first == prev.first && cur.second > prev.second));
        prev = cur;
    }
}

// CPython QueueBasicTests.test_maxsize.
TEST(Queue, PutWaitsWhileFull) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(2);
        std::vector<int> have_been_put;
        auto t = aio::create_task([&]() -> aio::Coro<bool> {
            for (int i = 0; i < 3; ++i) {
                co_await q.put(i);
                have_been_put.push_back(i);
            }
            co_return true;
        });
        co_await yield_n(2);
        EXPECT_EQ(have_been_put, (std::vector<int>{0, 1}));  // blocked on the third
        EXPECT_EQ(q.num_putters(), 1u);
        int a = co_await q.get();
        EXPECT_EQ(a, 0);
        co_await aio::sleep(0s);
        EXPECT_EQ(have_been_put, (std::vector<int>{0, 1, 2}));
        int b = co_await q.get();
        int c = co_await q.get();
        EXPECT_EQ(b, 1);
        EXPECT_EQ(c, 2);
        bool ok = co_await t;
        EXPECT_TRUE(ok);
    });
}

TEST(Queue, NowaitFormsRaiseQueueEmptyAndQueueFull) {
    aio::Queue<int> q(1);
    EXPECT_THROW(q.get_nowait(), aio::QueueEmpty);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), aio::QueueFull);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_THROW(q.get_nowait(), aio::QueueEmpty);
    try {
        q.get_nowait();
    } catch (const std::exception& e) {  // the queue errors are std::exceptions
        EXPECT_STREQ(e.what(), "QueueEmpty");
    }
}

// CPython QueueGetTests.test_blocking_get_wait.
TEST(Queue, GetWaitsForAPut) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        aio::Event started;
        bool finished = false;
        auto getter = aio::create_task([&]() -> aio::Coro<int> {
            started.set();
            int v = co_await q.get();
            finished = true;
            co_return v;
        });
        co_await started.wait();
        EXPECT_FALSE(finished);
        auto start = aio::get_running_loop().time();
        aio::get_running_loop().call_later(10ms, [&] { q.put_nowait(1); });
        int v = co_await getter;
        EXPECT_TRUE(finished);
        EXPECT_EQ(v, 1);
        EXPECT_GE(aio::get_running_loop().time() - start, 10ms);
    });
}

// CPython QueuePutTests.test_blocking_put_wait.
TEST(Queue, PutWaitsForAGet) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        aio::Event started;
        bool finished = false;
        auto putter = aio::create_task([&]() -> aio::Coro<> {
            started.set();
            co_await q.put(1);
            co_await q.put(2);
            finished = true;
        });
        aio::get_running_loop().call_later(10ms, [&] { (void)q.get_nowait(); });
        co_await started.wait();
        EXPECT_FALSE(finished);
        co_await putter;
        EXPECT_TRUE(finished);
        EXPECT_EQ(q.get_nowait(), 2);
    });
}

// CPython QueueGetTests.test_get_with_waiting_putters.
TEST(Queue, GetAdmitsWaitingPuttersInOrder) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q(1);
        auto a = aio::create_task([&]() -> aio::Coro<> { co_await q.put("a"); });
        auto b = aio::create_task([&]() -> aio::Coro<> { co_await q.put("b"); });
        std::string first = co_await q.get();
        std::string second = co_await q.get();
        EXPECT_EQ(first, "a");
        EXPECT_EQ(second, "b");
        co_await a;
        co_await b;
    });
}

// CPython QueuePutTests.test_put_with_waiting_getters.
TEST(Queue, PutHandsTheItemToAWaitingGetter) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q;
        auto t = aio::create_task([&]() -> aio::Coro<std::string> {
            std::string v = co_await q.get();
            co_return v;
        });
        co_await aio::sleep(0s);
        co_await q.put("a");
        EXPECT_EQ(q.qsize(), 0u);  // handed over, not queued
        std::string v = co_await t;
        EXPECT_EQ(v, "a");
    });
}

// CPython QueueGetTests.test_why_are_getters_waiting and
// QueuePutTests.test_why_are_putters_waiting.
TEST(Queue, ProducerAndConsumerThroughMaxsizeOne) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        std::vector<int> got;
        auto producer = aio::create_task([&]() -> aio::Coro<> {
            for (int i = 0; i < 5; ++i) co_await q.put(i);
        });
        auto consumer = aio::create_task([&]() -> aio::Coro<> {
            for (int i = 0; i < 5; ++i) {
                int v = co_await q.get();
                got.push_back(v);
            }
        });
        co_await producer;
        co_await consumer;
        EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
    });
}

TEST(Queue, GetNowaitAdmitsEveryWaitingPutterThatFits) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(2);
        std::vector<aio::Task<>> putters;
        for (int i = 0; i < 4; ++i) putters.push_back(aio::create_task([&q, i]() -> aio::Coro<> { co_await q.put(i); }));
        auto getter = aio::create_task([&]() -> aio::Coro<> {
            co_await aio::sleep(0s);
            std::size_t n = q.qsize();
            for (std::size_t k = 0; k < n; ++k) (void)q.get_nowait();
        });
        for (auto& p : putters) co_await p;
        co_await getter;
        EXPECT_EQ(q.qsize(), 2u);
        EXPECT_EQ(q.get_nowait(), 2);
        EXPECT_EQ(q.get_nowait(), 3);
    });
}

// --- hand-off accounting ----------------------------------------------------

TEST(Queue, AnItemHandedToAWokenGetterStillCountsAgainstMaxsize) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        auto getter = aio::create_task([&]() -> aio::Coro<int> {
            int v = co_await q.get();
            co_return v;
        });
        co_await aio::sleep(0s);
        q.put_nowait(1);  // handed to the getter, which has not run yet
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_TRUE(q.full());
        EXPECT_THROW(q.put_nowait(2), aio::QueueFull);
        int v = co_await getter;
        EXPECT_EQ(v, 1);
        EXPECT_FALSE(q.full());
        q.put_nowait(2);
        EXPECT_EQ(q.get_nowait(), 2);
    });
}

TEST(Queue, ASlotReservedForAWokenPutterCannotBeTakenByPutNowait) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        q.put_nowait(1);
        auto putter = aio::create_task([&]() -> aio::Coro<> { co_await q.put(2); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.get_nowait(), 1);  // frees the slot, reserved for the putter
        EXPECT_TRUE(q.full());
        EXPECT_THROW(q.put_nowait(3), aio::QueueFull);
        co_await putter;
        EXPECT_EQ(q.get_nowait(), 2);
    });
}

// --- cancellation -----------------------------------------------------------

// CPython QueueGetTests.test_get_cancelled_race.
TEST(Queue, CancelledGetterDoesNotTakeTheNextItem) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q;
        auto t1 = aio::create_task([&]() -> aio::Coro<std::string> {
            std::string v = co_await q.get();
            co_return v;
        });
        auto t2 = aio::create_task([&]() -> aio::Coro<std::string> {
            std::string v = co_await q.get();
            co_return v;
        });
        co_await aio::sleep(0s);
        t1.cancel();
        co_await aio::sleep(0s);
        EXPECT_TRUE(t1.done());
        EXPECT_EQ(q.num_getters(), 1u);
        co_await q.put("a");
        co_await aio::sleep(0s);
        std::string v = co_await t2;
        EXPECT_EQ(v, "a");
    });
}

// CPython QueueGetTests.test_cancelled_getters_not_being_held_in_self_getters.
TEST(Queue, CancelledGetLeavesNoGetter) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(5);
        auto t = aio::create_task([&]() -> aio::Coro<> { (void)co_await q.get(); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.num_getters(), 1u);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_EQ(q.num_getters(), 0u);
    });
}

// CPython QueuePutTests.test_get_cancel_drop_one_pending_reader: the reader
// was handed 1 and cancelled before running: 1 must not be lost.
TEST(Queue, GetterCancelledAfterHandOffGivesTheItemBack) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        auto reader = aio::create_task([&]() -> aio::Coro<int> {
            int v = co_await q.get();
            co_return v;
        });
        co_await aio::sleep(0s);
        q.put_nowait(1);  // handed to the reader
        q.put_nowait(2);  // queued
        reader.cancel();
        EXPECT_THROW(co_await reader, aio::CancelledError);
        EXPECT_EQ(q.qsize(), 2u);
        EXPECT_EQ(q.unfinished_tasks(), 2u);
        auto again = aio::create_task([&]() -> aio::Coro<int> {
            int v = co_await q.get();
            co_return v;
        });
        int v = co_await again;
        EXPECT_EQ(v, 1);  // if 2, then 1 was dropped
        EXPECT_EQ(q.get_nowait(), 2);
    });
}

// CPython QueuePutTests.test_get_cancel_drop_many_pending_readers: the
// cancelled reader's item goes to the next waiting reader.
TEST(Queue, ReturnedItemGoesToTheNextWaitingGetter) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        auto reader = [&]() -> aio::Coro<int> {
            int v = co_await q.get();
            co_return v;
        };
        auto r1 = aio::create_task(reader());
        auto r2 = aio::create_task(reader());
        auto r3 = aio::create_task(reader());
        co_await aio::sleep(0s);
        q.put_nowait(1);
        q.put_nowait(2);
        r1.cancel();
        EXPECT_THROW(co_await r1, aio::CancelledError);
        int v3 = co_await r3;
        int v2 = co_await r2;
        EXPECT_EQ(v2, 2);
        EXPECT_EQ(v3, 1);
        EXPECT_TRUE(q.empty());
    });
}

TEST(Queue, ReturnedItemKeepsItsPlaceInLifoAndPriorityQueues) {
    aio::run([]() -> aio::Coro<> {
        {
            aio::LifoQueue<int> q;
            auto reader = aio::create_task([&]() -> aio::Coro<int> {
                int v = co_await q.get();
                co_return v;
            });
            co_await aio::sleep(0s);
            q.put_nowait(1);  // handed over
            q.put_nowait(2);
            q.put_nowait(3);
            reader.cancel();
            EXPECT_THROW(co_await reader, aio::CancelledError);
            // 1 is the oldest: the bottom of the stack.
            EXPECT_EQ(q.get_nowait(), 3);
            EXPECT_EQ(q.get_nowait(), 2);
            EXPECT_EQ(q.get_nowait(), 1);
        }
        {
            aio::PriorityQueue<Job, ByPriority> q;
            auto reader = aio::create_task([&]() -> aio::Coro<Job> {
                Job v = co_await q.get();
                co_return v;
            });
            co_await aio::sleep(0s);
            q.put_nowait(Job{1, "first"});  // handed over
            q.put_nowait(Job{1, "second"});
            q.put_nowait(Job{0, "urgent"});
            reader.cancel();
            EXPECT_THROW(co_await reader, aio::CancelledError);
            EXPECT_EQ(q.get_nowait().name, "urgent");
            EXPECT_EQ(q.get_nowait().name, "first");  // ahead of its equal
            EXPECT_EQ(q.get_nowait().name, "second");
        }
    });
}

TEST(Queue, ReturnedItemNeverExceedsMaxsize) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        auto reader = aio::create_task([&]() -> aio::Coro<> { (void)co_await q.get(); });
        co_await aio::sleep(0s);
        q.put_nowait(1);  // handed to the reader: the one slot is taken
        EXPECT_TRUE(q.full());
        auto putter = aio::create_task([&]() -> aio::Coro<> { co_await q.put(2); });
        reader.cancel();  // before it runs: 1 comes back into its slot
        EXPECT_THROW(co_await reader, aio::CancelledError);
        co_await aio::sleep(0s);
        EXPECT_EQ(q.qsize(), 1u);        // 1 is back, within maxsize...
        EXPECT_EQ(q.num_putters(), 1u);  // ...so the putter waits
        EXPECT_EQ(q.get_nowait(), 1);
        co_await putter;
        EXPECT_EQ(q.get_nowait(), 2);
    });
}

// CPython QueuePutTests.test_put_cancel_drop.
TEST(Queue, PutterCancelledAfterItsSlotWasReservedDoesNotPut) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        q.put_nowait(1);
        auto writer = aio::create_task([&]() -> aio::Coro<> { co_await q.put(2); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.get_nowait(), 1);  // slot reserved for the writer
        writer.cancel();
        EXPECT_THROW(co_await writer, aio::CancelledError);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_FALSE(q.full());  // the reservation was given back
        auto again = aio::create_task([&]() -> aio::Coro<> { co_await q.put(2); });
        co_await again;
        EXPECT_EQ(q.get_nowait(), 2);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_EQ(q.unfinished_tasks(), 2u);  // 1 and 2 were put, no task_done
    });
}

// CPython QueuePutTests.test_put_cancelled_race.
TEST(Queue, CancelledPutterDoesNotTakeASlot) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q(1);
        auto put_a = aio::create_task([&]() -> aio::Coro<> { co_await q.put("a"); });
        auto put_b = aio::create_task([&]() -> aio::Coro<> { co_await q.put("b"); });
        auto put_c = aio::create_task([&]() -> aio::Coro<> { co_await q.put("X"); });
        co_await aio::sleep(0s);
        EXPECT_TRUE(put_a.done());
        EXPECT_FALSE(put_b.done());
        put_c.cancel();
        co_await aio::sleep(0s);
        EXPECT_TRUE(put_c.done());
        EXPECT_EQ(q.get_nowait(), "a");
        co_await aio::sleep(0s);
        EXPECT_EQ(q.get_nowait(), "b");
        co_await put_b;
        EXPECT_TRUE(q.empty());
    });
}

// CPython QueuePutTests.test_cancelled_puts_not_being_held_in_self_putters
// and test_cancelled_put_silence_value_error_exception: a slot reserved for
// a cancelled putter goes to the next one.
TEST(Queue, SlotOfACancelledPutterGoesToTheNextPutter) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        q.put_nowait(1);
        auto p1 = aio::create_task([&]() -> aio::Coro<> { co_await q.put(10); });
        auto p2 = aio::create_task([&]() -> aio::Coro<> { co_await q.put(20); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.num_putters(), 2u);
        (void)q.get_nowait();  // reserves the slot for p1
        EXPECT_EQ(q.num_putters(), 1u);
        p1.cancel();
        EXPECT_THROW(co_await p1, aio::CancelledError);
        co_await p2;
        EXPECT_EQ(q.get_nowait(), 20);
        EXPECT_TRUE(q.empty());
        EXPECT_EQ(q.num_putters(), 0u);
    });
}

TEST(Queue, CancelledWaitingPutterLeavesNoPutter) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        q.put_nowait(1);
        auto t = aio::create_task([&]() -> aio::Coro<> { co_await q.put(1); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.num_putters(), 1u);
        t.cancel();
        EXPECT_THROW(co_await t, aio::CancelledError);
        EXPECT_EQ(q.num_putters(), 0u);
        EXPECT_EQ(q.qsize(), 1u);
    });
}

// Cancellation storm: consumers and producers are cancelled at random
// points; every item whose put() returned is received exactly once (by a
// get() that returned, or drained at the end) and nothing else ever is.
template <class Q>
void cancellation_storm(std::size_t maxsize) {
    aio::run([maxsize]() -> aio::Coro<> {
        Q q(maxsize);
        std::set<int> put_ok;
        std::multiset<int> received;
        std::uint64_t rng = 0x9E3779B97F4A7C15ull;
        auto next = [&rng]() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            return rng;
        };
        auto producer = [&](int base) -> aio::Coro<> {
            for (int i = 0; i < 300; ++i) {
                co_await q.put(base + i);
                put_ok.insert(base + i);
                if (i % 3 == 0) co_await aio::sleep(0s);
            }
        };
        auto consumer = [&]() -> aio::Coro<> {
            for (;;) {
                int v = co_await q.get();
                received.insert(v);
                if (v % 2 == 0) co_await aio::sleep(0s);
            }
        };
        std::vector<aio::Task<>> producers;
        std::vector<aio::Task<>> consumers;
        for (int p = 0; p < 4; ++p) producers.push_back(aio::create_task(producer(p * 1000)));
        for (int c = 0; c < 4; ++c) consumers.push_back(aio::create_task(consumer()));
        for (int round = 0; round < 400; ++round) {
            co_await aio::sleep(0s);
            std::uint64_t r = next();
            if (r % 3 == 0) {  // cancel a consumer, start a fresh one
                auto& c = consumers[(r >> 8) % consumers.size()];
                c.cancel();
                c = aio::create_task(consumer());
            } else if (r % 11 == 0) {  // cancel a producer (its pending put is not put)
                producers[(r >> 8) % producers.size()].cancel();
            }
        }
        for (auto& p : producers) {
            try {
                co_await p;
            } catch (const aio::CancelledError&) {
            }
        }
        co_await yield_n(50);
        for (auto& c : consumers) c.cancel();
        for (auto& c : consumers) {
            try {
                co_await c;
            } catch (const aio::CancelledError&) {
            }
        }
        while (!q.empty()) received.insert(q.get_nowait());
        EXPECT_EQ(q.num_getters(), 0u);
        EXPECT_EQ(q.num_putters(), 0u);
        EXPECT_EQ(received.size(), put_ok.size());
        EXPECT_TRUE(std::equal(received.begin(), received.end(), put_ok.begin(), put_ok.end()));
        EXPECT_EQ(q.unfinished_tasks(), put_ok.size());
    });
}

TEST(Queue, CancellationStormLosesAndDuplicatesNothing) {
    cancellation_storm<aio::Queue<int>>(0);
    cancellation_storm<aio::Queue<int>>(1);
    cancellation_storm<aio::Queue<int>>(7);
    cancellation_storm<aio::LifoQueue<int>>(3);
    cancellation_storm<aio::PriorityQueue<int>>(5);
}

TEST(Queue, FailedPutLeavesAMovedInItemWithTheCaller) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::unique_ptr<int>> q(1);
        q.put_nowait(std::make_unique<int>(0));
        auto p = std::make_unique<int>(1);
        auto cancelled = aio::create_task([&]() -> aio::Coro<> { co_await q.put(std::move(p)); });
        co_await aio::sleep(0s);
        cancelled.cancel();
        EXPECT_THROW(co_await cancelled, aio::CancelledError);
        EXPECT_TRUE(p && *p == 1);  // not consumed

        auto reserved = aio::create_task([&]() -> aio::Coro<> { co_await q.put(std::move(p)); });
        co_await aio::sleep(0s);
        auto first = q.get_nowait();  // reserves the slot for `reserved`...
        reserved.cancel();            // ...which is cancelled before it runs
        EXPECT_THROW(co_await reserved, aio::CancelledError);
        EXPECT_TRUE(p && *p == 1);

        auto shut = aio::create_task([&]() -> aio::Coro<> { co_await q.put(std::move(p)); });
        q.put_nowait(std::make_unique<int>(2));
        co_await aio::sleep(0s);
        q.shutdown();
        EXPECT_THROW(co_await shut, aio::QueueShutDown);
        EXPECT_TRUE(p && *p == 1);
        EXPECT_THROW(co_await q.put(std::move(p)), aio::QueueShutDown);
        EXPECT_THROW(q.put_nowait(std::move(p)), aio::QueueShutDown);
        EXPECT_TRUE(p && *p == 1);

        aio::Queue<std::unique_ptr<int>> open;
        co_await open.put(std::move(p));  // succeeds: consumed
        EXPECT_FALSE(p);
        auto back = open.get_nowait();
        EXPECT_EQ(*back, 1);
    });
}

// --- task_done / join (CPython _QueueJoinTestMixin) -------------------------

TEST(Queue, TaskDoneUnderflowRaises) {
    aio::Queue<int> q;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
    aio::PriorityQueue<int> p;
    EXPECT_THROW(p.task_done(), std::invalid_argument);
}

template <class Q>
void join_after_task_done() {
    aio::run([]() -> aio::Coro<> {
        Q q;
        for (int i = 0; i < 100; ++i) q.put_nowait(i);
        int accumulator = 0;
        bool running = true;
        auto worker = [&]() -> aio::Coro<> {
            while (running) {
                int item = co_await q.get();
                accumulator += item;
                q.task_done();
            }
        };
        auto w1 = aio::create_task(worker());
        auto w2 = aio::create_task(worker());
        co_await q.join();
        EXPECT_EQ(accumulator, 4950);
        running = false;
        q.put_nowait(0);
        q.put_nowait(0);
        co_await w1;
        co_await w2;
    });
}

TEST(Queue, JoinReturnsOnceEveryItemIsTaskDone) {
    join_after_task_done<aio::Queue<int>>();
    join_after_task_done<aio::LifoQueue<int>>();
    join_after_task_done<aio::PriorityQueue<int>>();
}

TEST(Queue, JoinOnAnEmptyQueueReturnsAtOnce) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        co_await q.join();
        co_await q.join();
    });
}

TEST(Queue, CancelledJoinLeavesNoJoiner) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        q.put_nowait(1);
        auto j = aio::create_task([&]() -> aio::Coro<> { co_await q.join(); });
        co_await aio::sleep(0s);
        EXPECT_EQ(q.num_joiners(), 1u);
        j.cancel();
        EXPECT_THROW(co_await j, aio::CancelledError);
        EXPECT_EQ(q.num_joiners(), 0u);
        (void)q.get_nowait();
        q.task_done();
        co_await q.join();
    });
}

// --- shutdown (CPython _QueueShutdownTestMixin, 3.13 final semantics) --------

TEST(Queue, ShutdownEmptyMakesPutAndGetRaise) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q;
        q.shutdown();
        EXPECT_TRUE(q.is_shutdown());
        EXPECT_THROW(co_await q.put("data"), aio::QueueShutDown);
        EXPECT_THROW(co_await q.get(), aio::QueueShutDown);
        EXPECT_THROW(q.put_nowait("data"), aio::QueueShutDown);
        EXPECT_THROW(q.get_nowait(), aio::QueueShutDown);
    });
}

TEST(Queue, ShutdownNonemptyDrainsThenRaises) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q;
        q.put_nowait("data");
        q.shutdown();
        std::string v = co_await q.get();
        EXPECT_EQ(v, "data");
        EXPECT_THROW(co_await q.get(), aio::QueueShutDown);
    });
}

TEST(Queue, ShutdownImmediateDropsItems) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q;
        q.put_nowait("data");
        q.shutdown(true);
        EXPECT_EQ(q.qsize(), 0u);
        EXPECT_EQ(q.unfinished_tasks(), 0u);
        EXPECT_THROW(co_await q.get(), aio::QueueShutDown);
        co_await q.join();  // the drained item counts as done
    });
}

template <class Q>
void all_methods_in_one_task(bool immediate) {
    aio::run([immediate]() -> aio::Coro<> {
        Q q;
        co_await q.put("L");
        q.put_nowait("O");
        q.shutdown(immediate);
        EXPECT_THROW(co_await q.put("E"), aio::QueueShutDown);
        EXPECT_THROW(q.put_nowait("W"), aio::QueueShutDown);
        if (immediate) {
            EXPECT_THROW(co_await q.get(), aio::QueueShutDown);
            EXPECT_THROW(q.get_nowait(), aio::QueueShutDown);
            EXPECT_THROW(q.task_done(), std::invalid_argument);  // nothing unfinished
            co_await q.join();
        } else {
            std::string a = co_await q.get();
            EXPECT_TRUE(a == "L" || a == "O");
            q.task_done();
            std::string b = q.get_nowait();
            EXPECT_TRUE(b == "L" || b == "O");
            EXPECT_NE(a, b);
            q.task_done();
            co_await q.join();
            EXPECT_THROW(co_await q.get(), aio::QueueShutDown);
            EXPECT_THROW(q.get_nowait(), aio::QueueShutDown);
        }
    });
}

TEST(Queue, ShutdownAllMethodsInOneTask) {
    all_methods_in_one_task<aio::Queue<std::string>>(false);
    all_methods_in_one_task<aio::Queue<std::string>>(true);
    all_methods_in_one_task<aio::LifoQueue<std::string>>(false);
    all_methods_in_one_task<aio::LifoQueue<std::string>>(true);
    all_methods_in_one_task<aio::PriorityQueue<std::string>>(false);
    all_methods_in_one_task<aio::PriorityQueue<std::string>>(true);
}

TEST(Queue, ShutdownWakesBlockedPuttersWithQueueShutDown) {
    for (bool immediate : {false, true}) {
        aio::run([immediate]() -> aio::Coro<> {
            aio::Queue<std::string> q(2);
            co_await q.put("E");
            co_await q.put("W");
            auto t = aio::create_task([&]() -> aio::Coro<> { co_await q.put("Y"); });
            co_await aio::sleep(1ms);
            EXPECT_EQ(q.num_putters(), 1u);
            q.shutdown(immediate);
            EXPECT_THROW(co_await t, aio::QueueShutDown);
            EXPECT_EQ(q.num_putters(), 0u);
            EXPECT_EQ(q.qsize(), immediate ? 0u : 2u);
        });
    }
}

// 3.13 final: every blocked getter is woken and, the queue being empty,
// raises QueueShutDown — graceful or immediate.
TEST(Queue, ShutdownWakesBlockedGettersWithQueueShutDown) {
    for (bool immediate : {false, true}) {
        aio::run([immediate]() -> aio::Coro<> {
            aio::Queue<std::string> q(1);
            co_await q.put("Y");
            const std::size_t nb = q.qsize();
            auto first = aio::create_task([&]() -> aio::Coro<std::string> {
                std::string v = co_await q.get();
                co_return v;
            });
            co_await aio::sleep(1ms);
            auto t = aio::create_task([&]() -> aio::Coro<> { (void)co_await q.get(); });
            co_await aio::sleep(1ms);
            EXPECT_EQ(q.num_getters(), 1u);
            q.shutdown(immediate);
            EXPECT_THROW(co_await t, aio::QueueShutDown);
            EXPECT_EQ(q.num_getters(), 0u);
            std::string v = co_await first;
            EXPECT_EQ(v, "Y");
            EXPECT_EQ(q.unfinished_tasks(), nb);
        });
    }
}

// CPython test_shutdown_get / test_shutdown_immediate_get.
TEST(Queue, ShutdownWithConcurrentGetters) {
    for (bool immediate : {false, true}) {
        aio::run([immediate]() -> aio::Coro<> {
            aio::Queue<std::string> q(2);
            aio::Event go;
            co_await q.put("Y");
            co_await q.put("D");
            std::vector<bool> got;  // true: got an item, false: QueueShutDown
            auto getter = [&](bool nowait) -> aio::Coro<> {
                co_await go.wait();
                try {
                    if (nowait) {
                        (void)q.get_nowait();
                    } else {
                        (void)co_await q.get();
                    }
                    got.push_back(true);
                } catch (const aio::QueueShutDown&) {
                    got.push_back(false);
                }
            };
            std::vector<aio::Task<>> tasks;
            tasks.push_back(aio::create_task(getter(false)));
            tasks.push_back(aio::create_task(getter(true)));
            if (!immediate) tasks.push_back(aio::create_task(getter(true)));
            q.shutdown(immediate);
            co_await aio::sleep(1ms);
            go.set();
            for (auto& t : tasks) co_await t;
            std::sort(got.begin(), got.end());
            if (immediate)
                EXPECT_EQ(got, (std::vector<bool>{false, false}));
            else
                EXPECT_EQ(got, (std::vector<bool>{false, true, true}));
        });
    }
}

// CPython test_shutdown_get_task_done_join.
TEST(Queue, GracefulShutdownLetsConsumersFinishAndJoinersReturn) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::string> q(2);
        aio::Event go;
        co_await q.put("Y");
        co_await q.put("D");
        EXPECT_EQ(q.unfinished_tasks(), q.qsize());
        std::vector<std::string> got;
        int joined = 0;
        auto consumer = [&]() -> aio::Coro<> {
            co_await go.wait();
            std::string v = co_await q.get();
            q.task_done();
            got.push_back(v);
        };
        auto joiner = [&]() -> aio::Coro<> {
            co_await q.join();
            ++joined;
        };
        auto c1 = aio::create_task(consumer());
        auto c2 = aio::create_task(consumer());
        auto j1 = aio::create_task(joiner());
        auto j2 = aio::create_task(joiner());
        q.shutdown(false);
        co_await aio::sleep(1ms);
        go.set();
        co_await c1;
        co_await c2;
        co_await j1;
        co_await j2;
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, (std::vector<std::string>{"D", "Y"}));
        EXPECT_EQ(joined, 2);
        EXPECT_EQ(q.unfinished_tasks(), 0u);
    });
}

// Immediate shutdown with waiters on both sides and a joiner.
TEST(Queue, ImmediateShutdownReleasesPuttersGettersAndJoiners) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> full(1);
        aio::Queue<int> empty(1);
        full.put_nowait(1);
        auto putter = aio::create_task([&]() -> aio::Coro<> { co_await full.put(2); });
        auto getter = aio::create_task([&]() -> aio::Coro<> { (void)co_await empty.get(); });
        auto joiner = aio::create_task([&]() -> aio::Coro<> { co_await full.join(); });
        co_await aio::sleep(0s);
        EXPECT_EQ(full.num_joiners(), 1u);
        full.shutdown(true);
        empty.shutdown(true);
        EXPECT_THROW(co_await putter, aio::QueueShutDown);
        EXPECT_THROW(co_await getter, aio::QueueShutDown);
        co_await joiner;  // the drained item counted as done
        EXPECT_EQ(full.unfinished_tasks(), 0u);
    });
}

TEST(Queue, ShutdownWhileAPutterHoldsAReservationRaisesForIt) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q(1);
        q.put_nowait(1);
        auto putter = aio::create_task([&]() -> aio::Coro<> { co_await q.put(2); });
        co_await aio::sleep(0s);
        (void)q.get_nowait();  // slot reserved, putter woken
        q.shutdown();
        EXPECT_THROW(co_await putter, aio::QueueShutDown);
        EXPECT_TRUE(q.empty());
        EXPECT_FALSE(q.full());
    });
}

// Documented deviation: an item already handed to a woken getter is
// delivered even if shutdown(immediate) comes before the getter runs...
TEST(Queue, ItemHandedBeforeImmediateShutdownIsDelivered) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        auto getter = aio::create_task([&]() -> aio::Coro<int> {
            int v = co_await q.get();
            co_return v;
        });
        co_await aio::sleep(0s);
        q.put_nowait(7);
        q.shutdown(true);
        int v = co_await getter;
        EXPECT_EQ(v, 7);
        EXPECT_EQ(q.unfinished_tasks(), 1u);
    });
}

// ...but if that getter is then cancelled, the item is dropped as drained.
TEST(Queue, ItemReturnedAfterImmediateShutdownIsDroppedAsDrained) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        auto getter = aio::create_task([&]() -> aio::Coro<> { (void)co_await q.get(); });
        auto joiner = aio::create_task([&]() -> aio::Coro<> { co_await q.join(); });
        co_await aio::sleep(0s);
        q.put_nowait(7);
        q.shutdown(true);
        getter.cancel();
        EXPECT_THROW(co_await getter, aio::CancelledError);
        EXPECT_TRUE(q.empty());
        EXPECT_EQ(q.unfinished_tasks(), 0u);
        co_await joiner;
    });
}

// --- move-only items and lifetimes ------------------------------------------

TEST(Queue, MoveOnlyItemsThroughEveryPath) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<std::unique_ptr<int>> q(2);
        co_await q.put(std::make_unique<int>(1));  // queued
        q.put_nowait(std::make_unique<int>(2));
        auto blocked = aio::create_task([&]() -> aio::Coro<> { co_await q.put(std::make_unique<int>(3)); });
        co_await aio::sleep(0s);
        std::unique_ptr<int> a = co_await q.get();  // admits the putter
        std::unique_ptr<int> b = q.get_nowait();
        co_await blocked;
        std::unique_ptr<int> c = co_await q.get();
        EXPECT_EQ(*a + *b * 10 + *c * 100, 321);

        // hand-off to a waiting getter, and a give-back after cancellation
        auto g1 = aio::create_task([&]() -> aio::Coro<int> {
            std::unique_ptr<int> p = co_await q.get();
            co_return *p;
        });
        auto g2 = aio::create_task([&]() -> aio::Coro<int> {
            std::unique_ptr<int> p = co_await q.get();
            co_return *p;
        });
        co_await aio::sleep(0s);
        q.put_nowait(std::make_unique<int>(4));  // to g1
        g1.cancel();                             // gives 4 back, to g2
        EXPECT_THROW(co_await g1, aio::CancelledError);
        int v = co_await g2;
        EXPECT_EQ(v, 4);

        aio::PriorityQueue<std::unique_ptr<int>,
                           decltype([](const std::unique_ptr<int>& x, const std::unique_ptr<int>& y) { return *x < *y; })>
            pq;
        pq.put_nowait(std::make_unique<int>(5));
        pq.put_nowait(std::make_unique<int>(3));
        EXPECT_EQ(*pq.get_nowait(), 3);
        aio::LifoQueue<std::unique_ptr<int>> lq;
        lq.put_nowait(std::make_unique<int>(5));
        lq.put_nowait(std::make_unique<int>(3));
        EXPECT_EQ(*lq.get_nowait(), 3);
    });
}

TEST(Queue, EveryItemIsDestroyed) {
    Counted::live = 0;
    aio::run([]() -> aio::Coro<> {
        aio::Queue<Counted> q(3);
        aio::LifoQueue<Counted> lq;
        aio::PriorityQueue<Counted, decltype([](const Counted& a, const Counted& b) { return a.value < b.value; })> pq;
        for (int i = 0; i < 100; ++i) {  // grows the rings and heap
            lq.put_nowait(Counted(i));
            pq.put_nowait(Counted(100 - i));
        }
        for (int i = 0; i < 50; ++i) {
            (void)lq.get_nowait();
            (void)pq.get_nowait();
        }
        auto getter = aio::create_task([&]() -> aio::Coro<> { (void)co_await q.get(); });
        co_await aio::sleep(0s);
        q.put_nowait(Counted(1));  // handed over
        getter.cancel();            // and given back
        EXPECT_THROW(co_await getter, aio::CancelledError);
        q.put_nowait(Counted(2));
        q.put_nowait(Counted(3));
        auto putter = aio::create_task([&]() -> aio::Coro<> { co_await q.put(Counted(4)); });
        co_await aio::sleep(0s);
        putter.cancel();  // the item held by the waiting put dies with it
        EXPECT_THROW(co_await putter, aio::CancelledError);
        q.shutdown(true);
    });
    EXPECT_EQ(Counted::live, 0);
}

// --- threads and loops ----------------------------------------------------

TEST(Queue, FilledBeforeTheLoopAndDrainedAfter) {
    aio::Queue<int> q;
    q.put_nowait(1);  // no loop yet: not bound
    aio::run([&]() -> aio::Coro<> {
        int v = co_await q.get();
        EXPECT_EQ(v, 1);
        q.put_nowait(2);
    });
    EXPECT_EQ(q.get_nowait(), 2);  // same thread, loop gone
}

TEST(Queue, DebugModeRejectsPutNowaitFromAnotherThread) {
    aio::run(
        []() -> aio::Coro<> {
            aio::Queue<int> q;
            q.put_nowait(1);  // binds
            std::string error;
            std::thread other([&] {
                try {
                    q.put_nowait(2);
                } catch (const aio::RuntimeError& e) {
                    error = e.what();
                }
            });
            other.join();
            EXPECT_NE(error.find("aio::Queue::put_nowait"), std::string::npos) << error;
            EXPECT_EQ(q.qsize(), 1u);
            co_return;
        },
        aio::RunOptions{.debug = true});
}

TEST(Queue, ThreadsFeedTheQueueThroughCallSoonThreadsafe) {
    aio::run([]() -> aio::Coro<> {
        aio::Queue<int> q;
        auto& loop = aio::get_running_loop();
        std::thread producer([&] {
            for (int i = 0; i < 100; ++i) loop.call_soon_threadsafe([&q, i] { q.put_nowait(i); });
        });
        long sum = 0;
        for (int i = 0; i < 100; ++i) {
            int v = co_await q.get();
            sum += v;
        }
        producer.join();
        EXPECT_EQ(sum, 4950);
    });
}

}  // namespace
