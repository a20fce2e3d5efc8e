// adk::RetryPolicy and adk::parse_retry_after: which failures are retried,
// Retry-After honoured (seconds or an HTTP date in its three forms),
// exponential backoff with bounded jitter, the attempt and total-delay
// bounds. Pure: the random number and the clock are parameters.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "adk/retry.hpp"

using adk::RetryPolicy;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
using SysTime = std::chrono::system_clock::time_point;

namespace {

/// Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date).
SysTime rfc_example() { return SysTime(std::chrono::seconds(784111777)); }

std::optional<Ms> delay(const RetryPolicy& p, int attempt, int status, std::optional<std::string_view> retry_after = {},
                        Ms so_far = Ms::zero(), double random = 0.0, SysTime now = rfc_example()) {
    return p.next_delay(attempt, status, retry_after, so_far, random, now);
}

}  // namespace

TEST(RetryAfter, ParsesDelaySeconds) {
    EXPECT_EQ(adk::parse_retry_after("120", rfc_example()), Ms(120'000));
    EXPECT_EQ(adk::parse_retry_after(" 2 ", rfc_example()), Ms(2'000));
    EXPECT_EQ(adk::parse_retry_after("0", rfc_example()), Ms(0));
    EXPECT_EQ(adk::parse_retry_after("1.5", rfc_example()), Ms(1'500)) << "decimal seconds are accepted";
    EXPECT_EQ(adk::parse_retry_after("0.0011", rfc_example()), Ms(2)) << "rounded up to the millisecond";
    EXPECT_EQ(adk::parse_retry_after("0.001", rfc_example()), Ms(1));
    EXPECT_EQ(adk::parse_retry_after("0.250", rfc_example()), Ms(250)) << "retry-after-ms 250, as the clients pass it";
    EXPECT_EQ(adk::parse_retry_after("0.0000000001", rfc_example()), Ms(1));
    EXPECT_EQ(adk::parse_retry_after("", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("-1", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("12s", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("1.", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("soon", rfc_example()), std::nullopt);
}

TEST(RetryAfter, ParsesTheThreeHttpDateForms) {
    SysTime now = rfc_example() - 90s;
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Ms(90'000)) << "IMF-fixdate";
    EXPECT_EQ(adk::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), Ms(90'000)) << "RFC 850";
    EXPECT_EQ(adk::parse_retry_after("Sun Nov  6 08:49:37 1994", now), Ms(90'000)) << "asctime";
    // A leap day in a later century, to check the calendar arithmetic.
    SysTime leap = SysTime(std::chrono::seconds(4107542400));  // 2100-03-01 00:00:00 UTC
    EXPECT_EQ(adk::parse_retry_after("Mon, 01 Mar 2100 00:00:10 GMT", leap), Ms(10'000));
    SysTime y2k = SysTime(std::chrono::seconds(951782400));  // 2000-02-29 00:00:00 UTC
    EXPECT_EQ(adk::parse_retry_after("Tue, 29 Feb 2000 00:01:00 GMT", y2k), Ms(60'000));
}

TEST(RetryAfter, ADateInThePastIsZeroAndGarbageIsNothing) {
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_example() + 1h), Ms(0));
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Nov 1994 08:49:37 CET", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Nov 1994 8:49:37 GMT", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", rfc_example()), std::nullopt);
    EXPECT_EQ(adk::parse_retry_after("Sun Nov 6 08:49:37", rfc_example()), std::nullopt);
}

TEST(RetryPolicy, RetriesRateLimitsServerErrorsAndFailedConnectsOnly) {
    RetryPolicy p;
    EXPECT_TRUE(p.retryable(429));
    for (int s : {500, 502, 503, 504, 520, 599}) EXPECT_TRUE(p.retryable(s)) << s;
    EXPECT_TRUE(p.retryable(0)) << "no connection could be made";
    for (int s : {200, 301, 400, 401, 403, 404, 408, 409, 422, 501, 505})
        EXPECT_FALSE(p.retryable(s)) << s;
    for (int s : {400, 401, 403, 404, 501}) EXPECT_EQ(delay(p, 1, s), std::nullopt) << s;

    RetryPolicy quiet;
    quiet.retry_rate_limited = false;
    quiet.retry_server_errors = false;
    quiet.retry_connect_errors = false;
    EXPECT_EQ(delay(quiet, 1, 429), std::nullopt);
    EXPECT_EQ(delay(quiet, 1, 503), std::nullopt);
    EXPECT_EQ(delay(quiet, 1, 0), std::nullopt);
}

TEST(RetryPolicy, HonoursRetryAfterExactlyInSecondsOrAsADate) {
    RetryPolicy p;
    EXPECT_EQ(delay(p, 1, 429, "2", Ms::zero(), 0.9), Ms(2'000)) << "no jitter on the server's delay";
    EXPECT_EQ(delay(p, 1, 503, "1"), Ms(1'000)) << "503 with Retry-After too";
    EXPECT_EQ(delay(p, 1, 429, "Sun, 06 Nov 1994 08:49:40 GMT"), Ms(3'000));
    EXPECT_EQ(delay(p, 1, 429, "0"), Ms(0));
    EXPECT_EQ(delay(p, 1, 429, "later please", Ms::zero(), 0.0), p.backoff(1)) << "unreadable: the backoff";
    EXPECT_EQ(delay(p, 1, 0, "5", Ms::zero(), 0.0), p.backoff(1)) << "no server, no Retry-After";
}

TEST(RetryPolicy, BacksOffExponentiallyUpToTheCap) {
    RetryPolicy p;
    p.max_attempts = 10;
    p.max_total_delay = 1h;
    p.initial_backoff = 100ms;
    p.multiplier = 2.0;
    p.max_backoff = 1s;
    EXPECT_EQ(p.backoff(1), Ms(100));
    EXPECT_EQ(p.backoff(2), Ms(200));
    EXPECT_EQ(p.backoff(3), Ms(400));
    EXPECT_EQ(p.backoff(4), Ms(800));
    EXPECT_EQ(p.backoff(5), Ms(1'000));
    EXPECT_EQ(p.backoff(1000), Ms(1'000)) << "no overflow far out";
    EXPECT_EQ(delay(p, 3, 500, std::nullopt, Ms::zero(), 0.0), Ms(400));
}

TEST(RetryPolicy, JitterOnlyShortensTheBackoffWithinItsFraction) {
    RetryPolicy p;
    p.initial_backoff = 1000ms;
    p.jitter = 0.25;
    EXPECT_EQ(delay(p, 1, 500, std::nullopt, Ms::zero(), 0.0), Ms(1'000));
    EXPECT_EQ(delay(p, 1, 500, std::nullopt, Ms::zero(), 0.5), Ms(875));
    std::optional<Ms> nearly_one = delay(p, 1, 500, std::nullopt, Ms::zero(), 0.999999);
    ASSERT_TRUE(nearly_one);
    EXPECT_GE(*nearly_one, Ms(750));
    EXPECT_LT(*nearly_one, Ms(751));
    // The short overload draws its own random numbers: always in range, not all equal.
    bool varied = false;
    std::optional<Ms> first;
    for (int i = 0; i < 200; ++i) {
        std::optional<Ms> d = p.next_delay(1, 503, std::nullopt);
        ASSERT_TRUE(d);
        EXPECT_GE(*d, Ms(750));
        EXPECT_LE(*d, Ms(1'000));
        if (first && *first != *d) varied = true;
        first = d;
    }
    EXPECT_TRUE(varied) << "jitter must vary";
    RetryPolicy none = p;
    none.jitter = 0;
    EXPECT_EQ(delay(none, 1, 500, std::nullopt, Ms::zero(), 0.7), Ms(1'000));
}

TEST(RetryPolicy, StopsAfterMaxAttempts) {
    RetryPolicy p;
    p.max_attempts = 3;
    EXPECT_TRUE(delay(p, 1, 503));
    EXPECT_TRUE(delay(p, 2, 503));
    EXPECT_EQ(delay(p, 3, 503), std::nullopt) << "three attempts made: give up";
    EXPECT_EQ(delay(p, 4, 429, "1"), std::nullopt);
    EXPECT_EQ(delay(RetryPolicy::none(), 1, 429, "1"), std::nullopt);
    EXPECT_EQ(RetryPolicy::none().max_attempts, 1);
}

TEST(RetryPolicy, NeverWaitsMoreThanTheTotalBudget) {
    RetryPolicy p;
    p.max_attempts = 100;
    p.max_total_delay = 10s;
    EXPECT_EQ(delay(p, 1, 429, "10"), Ms(10'000)) << "exactly the budget is fine";
    EXPECT_EQ(delay(p, 1, 429, "11"), std::nullopt) << "a Retry-After beyond the budget: give up at once";
    EXPECT_EQ(delay(p, 2, 429, "3", Ms(8'000)), std::nullopt) << "8 s waited, 3 more would cross 10 s";
    EXPECT_EQ(delay(p, 2, 429, "2", Ms(8'000)), Ms(2'000));
    p.initial_backoff = 4s;
    p.max_backoff = 4s;
    EXPECT_EQ(delay(p, 2, 500, std::nullopt, Ms(7'000), 0.0), std::nullopt);
    EXPECT_EQ(delay(p, 2, 500, std::nullopt, Ms(6'000), 0.0), Ms(4'000));
}
