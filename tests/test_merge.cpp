// Tests for aio::merge (aio/merge.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "aio/async_comprehension.hpp"
#include "aio/merge.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

#include "support.hpp"

using namespace std::chrono_literals;
using Log = std::vector<std::string>;


namespace {

// A constructor, not an aggregate: g++ 12 miscompiles `co_yield Aggregate{...}`
// when the aggregate has a member with a destructor (double free; see
// docs/async-generators.md).
struct Item {
    Item(std::string s, int i) : source(std::move(s)), index(i) {}
    std::string source;
    int index;
};

/// Yields `count` items, sleeping `delay` before each; logs how it ended.
aio::AsyncGenerator<Item> producer(std::string name, int count, std::chrono::milliseconds delay, Log* log) {
    std::exception_ptr failure;
    std::string how = "finished";
    try {
        for (int i = 0; i < count; ++i) {
            co_await aio::sleep(delay);
            co_yield Item{name, i};
        }
    } catch (const aio::GeneratorExit&) {
        how = "closed";
        failure = std::current_exception();
    } catch (const aio::CancelledError&) {
        how = "cancelled";
        failure = std::current_exception();
    } catch (...) {
        how = "failed";
        failure = std::current_exception();
    }
    co_await aio::sleep(0s);  // async cleanup
    log->push_back(name + " " + how);
    if (failure) std::rethrow_exception(failure);
}

aio::AsyncGenerator<Item> failing(std::string name, int good, std::chrono::milliseconds delay) {
    for (int i = 0; i < good; ++i) {
        co_await aio::sleep(delay);
        co_yield Item{name, i};
    }
    co_await aio::sleep(delay);
    throw std::runtime_error(name + " failed");
}

}  // namespace

TEST(Merge, YieldsEveryItemKeepingEachProducersOrder) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        std::vector<aio::AsyncGenerator<Item>> sources;
        sources.push_back(producer("a", 5, 1ms, &log));
        sources.push_back(producer("b", 3, 2ms, &log));
        sources.push_back(producer("c", 4, 0ms, &log));
        auto merged = aio::merge(std::move(sources));
        std::map<std::string, std::vector<int>> seen;
        int total = 0;
        while (auto item = co_await merged.next()) {
            seen[item->source].push_back(item->index);
            ++total;
        }
        EXPECT_EQ(total, 12);
        EXPECT_EQ(seen["a"], (std::vector<int>{0, 1, 2, 3, 4}));
        EXPECT_EQ(seen["b"], (std::vector<int>{0, 1, 2}));
        EXPECT_EQ(seen["c"], (std::vector<int>{0, 1, 2, 3}));
    });
    EXPECT_EQ(log.size(), 3u);
    for (const auto& line : log) EXPECT_NE(line.find("finished"), std::string::npos) << line;
}

TEST(Merge, EmptyAndVariadic) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto none = aio::merge(std::vector<aio::AsyncGenerator<Item>>{});
        auto nothing = co_await none.next();
        EXPECT_FALSE(nothing);
        auto two = aio::merge(producer("x", 2, 0ms, &log), producer("y", 2, 0ms, &log));
        auto all = co_await aio::collect(std::move(two));
        EXPECT_EQ(all.size(), 4u);
    });
}

TEST(Merge, FirstItemArrivesBeforeTheSlowestProducerFinishes) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        aio::EventLoop& loop = aio::get_running_loop();
        aio::Clock::time_point slow_done{};
        auto slow = [&]() -> aio::AsyncGenerator<Item> {
            co_await aio::sleep(400ms);
            slow_done = loop.time();
            co_yield Item{"slow", 0};
        };
        const auto start = loop.time();
        auto merged = aio::merge(slow(), producer("fast", 1, 10ms, &log));
        auto first = co_await merged.next();
        const auto first_at = loop.time();
        CO_ASSERT_TRUE(first);
        EXPECT_EQ(first->source, "fast");
        EXPECT_EQ(slow_done, aio::Clock::time_point{});  // the slow producer is still running
        auto second = co_await merged.next();
        CO_ASSERT_TRUE(second);
        EXPECT_EQ(second->source, "slow");
        EXPECT_LT(first_at, slow_done);
        EXPECT_GE(slow_done - start, 400ms);
        auto end = co_await merged.next();
        EXPECT_FALSE(end);
    });
}

TEST(Merge, BoundedBufferSlowsProducersDown) {
    int produced = 0;
    int max_ahead = 0;
    int consumed = 0;
    auto fast = [&]() -> aio::AsyncGenerator<int> {
        for (int i = 0; i < 50; ++i) {
            ++produced;
            max_ahead = std::max(max_ahead, produced - consumed);
            co_yield i;
        }
    };
    aio::run([&]() -> aio::Coro<> {
        std::vector<aio::AsyncGenerator<int>> sources;
        sources.push_back(fast());
        auto merged = aio::merge(std::move(sources), /*max_buffered=*/4);
        while (auto v = co_await merged.next()) {
            ++consumed;
            co_await aio::sleep(0s);  // a slow consumer
        }
    });
    EXPECT_EQ(consumed, 50);
    // 4 in the buffer, one held by the producer's pending put, one being made.
    EXPECT_LE(max_ahead, 4 + 2);
}

TEST(Merge, EarlyExitClosesEveryProducer) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        // "a" is fast: it will be suspended at a full buffer; "b" sleeps long:
        // it will be inside an await when the consumer stops.
        std::vector<aio::AsyncGenerator<Item>> sources;
        sources.push_back(producer("a", 1000, 0ms, &log));
        sources.push_back(producer("b", 1, 10s, &log));
        auto merged = aio::merge(std::move(sources), 2);
        auto first = co_await merged.next();
        CO_ASSERT_TRUE(first);
        auto t0 = aio::get_running_loop().time();
        co_await merged.aclose();
        EXPECT_LT(aio::get_running_loop().time() - t0, 5s);  // did not wait for "b"'s sleep
        // aclose() returns after each producer's cleanup ran.
        std::sort(log.begin(), log.end());
        EXPECT_EQ(log, (Log{"a cancelled", "b cancelled"}));
    });
}

TEST(Merge, DestroyingTheMergeCancelsProducersWhichStillCleanUp) {
    Log log;
    std::vector<std::string> reports;
    aio::Runner runner(aio::RunOptions{.debug = true});
    runner.get_loop().set_exception_handler(
        [&](aio::EventLoop&, const aio::ExceptionContext& c) { reports.push_back(c.message); });
    runner.run([&]() -> aio::Coro<> {
        {
            auto merged = aio::merge(producer("a", 1000, 0ms, &log), producer("b", 1, 10s, &log));
            auto first = co_await merged.next();
            EXPECT_TRUE(first);
        }  // destroyed without aclose
        EXPECT_TRUE(log.empty());
        co_await aio::sleep(20ms);  // the producer tasks unwind on their own
        std::sort(log.begin(), log.end());
        EXPECT_EQ(log, (Log{"a cancelled", "b cancelled"}));
    });
    ASSERT_EQ(reports.size(), 1u);  // the merged generator itself was not closed
    EXPECT_NE(reports[0].find("AsyncGenerator was destroyed"), std::string::npos);
}

TEST(Merge, FirstFailureCancelsTheOthersAndIsRethrown) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto merged = aio::merge(producer("slow", 5, 10s, &log), failing("bad", 2, 1ms));
        std::vector<int> got;
        std::string error;
        auto t0 = aio::get_running_loop().time();
        try {
            while (auto item = co_await merged.next()) got.push_back(item->index);
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        EXPECT_EQ(error, "bad failed");
        EXPECT_EQ(got, (std::vector<int>{0, 1}));
        EXPECT_LT(aio::get_running_loop().time() - t0, 5s);
        // The other producer was cancelled and its cleanup finished before
        // the error reached us.
        EXPECT_EQ(log, (Log{"slow cancelled"}));
        auto after = co_await merged.next();
        EXPECT_FALSE(after);
    });
}

TEST(Merge, LaterFailuresGoToTheExceptionHandler) {
    std::vector<std::string> reports;
    aio::Runner runner;
    runner.get_loop().set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& c) {
        reports.push_back(c.message + ": " + aio::describe_exception(c.exception));
    });
    // "second" fails in its cleanup when cancelled.
    auto second = []() -> aio::AsyncGenerator<Item> {
        std::exception_ptr failure;
        try {
            co_await aio::sleep(10s);
            co_yield Item{"second", 0};
        } catch (...) {
            failure = std::current_exception();
        }
        co_await aio::sleep(0s);
        throw std::logic_error("cleanup of second failed");
    };
    runner.run([&]() -> aio::Coro<> {
        auto merged = aio::merge(failing("first", 0, 1ms), second());
        std::string error;
        try {
            while (auto item = co_await merged.next()) {
            }
        } catch (const std::exception& e) {
            error = e.what();
        }
        EXPECT_EQ(error, "first failed");
    });
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("cleanup of second failed"), std::string::npos) << reports[0];
}

TEST(Merge, CleanupErrorDuringAcloseIsRaisedByAclose) {
    auto bad_cleanup = []() -> aio::AsyncGenerator<Item> {
        std::exception_ptr failure;
        try {
            for (int i = 0;; ++i) co_yield Item{"bad", i};
        } catch (...) {
            failure = std::current_exception();
        }
        co_await aio::sleep(0s);
        throw std::logic_error("cleanup failed");
    };
    aio::run([&]() -> aio::Coro<> {
        std::vector<aio::AsyncGenerator<Item>> sources;
        sources.push_back(bad_cleanup());
        auto merged = aio::merge(std::move(sources), 1);
        auto first = co_await merged.next();
        EXPECT_TRUE(first);
        std::string error;
        try {
            co_await merged.aclose();
        } catch (const std::logic_error& e) {
            error = e.what();
        }
        EXPECT_EQ(error, "cleanup failed");
    });
}

TEST(Merge, CancellingTheConsumerStopsTheProducers) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto consumer = aio::create_task([&]() -> aio::Coro<> {
            auto merged = aio::merge(producer("a", 3, 10s, &log), producer("b", 3, 10s, &log));
            while (auto item = co_await merged.next()) {
            }
        });
        co_await aio::sleep(5ms);
        consumer.cancel();
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(consumer.cancelled());
        // The merge waited for the producers' cleanup before propagating.
        std::sort(log.begin(), log.end());
        EXPECT_EQ(log, (Log{"a cancelled", "b cancelled"}));
    });
}

TEST(Merge, ProducerEndingCancelledJustEnds) {
    Log log;
    auto self_cancelled = []() -> aio::AsyncGenerator<Item> {
        co_yield Item{"c", 0};
        throw aio::CancelledError("gave up");
    };
    aio::run([&]() -> aio::Coro<> {
        auto merged = aio::merge(self_cancelled(), producer("p", 2, 1ms, &log));
        auto all = co_await aio::collect(std::move(merged));
        EXPECT_EQ(all.size(), 3u);
    });
}
