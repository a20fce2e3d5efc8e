// adk/retry.hpp — adk::RetryPolicy: when a model client tries a failed
// request again, and how long it waits first. Pure (no I/O, no clock of its
// own): the model clients (adk::OpenAiLlm, adk::GeminiLlm) ask it after each
// failed attempt and sleep on the loop for what it answers.
//
//   adk::RetryPolicy policy;                          // 3 attempts, 0.5 s, 1 s... at most 30 s in all
//   std::optional<adk::RetryPolicy::Duration> d =
//       policy.next_delay(1, 429, "2");               // 2 s: the server's Retry-After
//   policy.next_delay(1, 503, std::nullopt);          // ~0.5 s (backoff with jitter)
//   policy.next_delay(3, 503, std::nullopt);          // nullopt: 3 attempts made, give up
//   policy.next_delay(1, 401, std::nullopt);          // nullopt: not worth retrying
//
// What is retried:
//   429                  after the server's Retry-After when it sent one
//                        (delay-seconds, or an HTTP date), else after the
//                        backoff delay;
//   5xx but 501 and 505  after Retry-After when present (503 often has one),
//                        else after the backoff delay;
//   0                    "no connection could be made" (refused, DNS, TLS):
//                        nothing reached the server, so trying again is safe;
//   anything else        never (400, 401, 403, 404...: the same request
//                        would fail the same way).
// Backoff: initial_backoff * multiplier^(attempt-1), capped at max_backoff,
// then reduced by up to `jitter` (a fraction) at random, so that clients
// that failed together do not come back together. A Retry-After is honoured
// as given (no jitter): asking earlier only earns another 429.
// Bounds: at most max_attempts attempts in all, and the sum of the delays
// never exceeds max_total_delay — a Retry-After that would cross it ends
// the retries at once (the error then carries the server's Retry-After).
//
// Failures after the response started (a stream cut in the middle, a
// timeout while waiting for the answer) are not retried by the clients: the
// model may already have spent the tokens, and partial answers may already
// have reached the caller.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace adk {

struct RetryPolicy {
    using Duration = std::chrono::milliseconds;

    /// Attempts in all, the first included (1: never retry).
    int max_attempts = 3;
    /// The backoff before the first retry, its growth factor and its cap.
    Duration initial_backoff = std::chrono::milliseconds(500);
    double multiplier = 2.0;
    Duration max_backoff = std::chrono::seconds(8);
    /// A backoff delay is reduced by up to this fraction at random (0: none).
    double jitter = 0.25;
    /// The delays of one call never add up to more than this.
    Duration max_total_delay = std::chrono::seconds(30);
    /// Which failures are retried (see the header comment).
    bool retry_rate_limited = true;   // 429
    bool retry_server_errors = true;  // 5xx but 501, 505
    bool retry_connect_errors = true; // status 0: no connection could be made

    /// No retries at all.
    static RetryPolicy none() {
        RetryPolicy p;
        p.max_attempts = 1;
        return p;
    }

    /// Whether a failure with this status is worth another attempt (without
    /// regard to the attempt count or the delay budget).
    bool retryable(int status) const noexcept;

    /// The delay before the next attempt, after attempt number `attempt`
    /// (1 for the first) failed with HTTP `status` (0: no connection could
    /// be made) and the server sent `retry_after` (the Retry-After header's
    /// value, if any). `delayed_so_far` is the sum of the delays already
    /// waited in this call. nullopt: give up.
    ///
    /// `random` in [0, 1) picks the jitter; `now` is the wall-clock time an
    /// HTTP-date Retry-After is measured from. The short overload draws a
    /// random number and reads the system clock.
    std::optional<Duration> next_delay(int attempt, int status, std::optional<std::string_view> retry_after,
                                       Duration delayed_so_far, double random,
                                       std::chrono::system_clock::time_point now) const;
    std::optional<Duration> next_delay(int attempt, int status, std::optional<std::string_view> retry_after,
                                       Duration delayed_so_far = Duration::zero()) const;

    /// The backoff delay after attempt `attempt` (1-based), before jitter.
    Duration backoff(int attempt) const noexcept;
};

/// A Retry-After header value as a delay from `now`: delay-seconds ("120";
/// a decimal "1.5" is accepted too), or an HTTP date in any of the three
/// forms HTTP/1.1 allows ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday,
/// 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"). A date in the past
/// is zero. nullopt when the value is neither.
std::optional<RetryPolicy::Duration> parse_retry_after(std::string_view value,
                                                       std::chrono::system_clock::time_point now);

}  // namespace adk
