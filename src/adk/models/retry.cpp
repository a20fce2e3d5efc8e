// adk::RetryPolicy and parse_retry_after (adk/retry.hpp).
#include "adk/retry.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace adk {

namespace {

using Duration = RetryPolicy::Duration;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// "120" or "1.5" (seconds), else nullopt.
std::optional<Duration> parse_seconds(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::int64_t whole = 0;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        if (whole > 100'000'000'000) return std::nullopt;  // centuries: not a delay
        whole = whole * 10 + (s[i] - '0');
    }
    if (i == 0) return std::nullopt;
    std::int64_t millis = whole * 1000;
    if (i < s.size()) {
        if (s[i] != '.' || i + 1 == s.size()) return std::nullopt;
        // The fraction, rounded up to the millisecond (digits past the
        // ninth only count as "more than zero").
        std::int64_t num = 0, den = 1;
        bool beyond = false;
        for (++i; i < s.size(); ++i) {
            if (!is_digit(s[i])) return std::nullopt;
            if (den < 1'000'000'000) {
                num = num * 10 + (s[i] - '0');
                den *= 10;
            } else if (s[i] != '0') {
                beyond = true;
            }
        }
        millis += (num * 1000 + den - 1) / den;
        if (beyond && (num * 1000) % den == 0) millis += 1;
    }
    return Duration(millis);
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int month_number(std::string_view name) {
    static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < months.size(); ++i)
        if (name == months[i]) return static_cast<int>(i) + 1;
    return 0;
}

bool parse_number(std::string_view s, int& out) {
    if (s.empty() || s.size() > 4) return false;
    int v = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

/// "08:49:37"
bool parse_clock(std::string_view s, int& h, int& m, int& sec) {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
    return parse_number(s.substr(0, 2), h) && parse_number(s.substr(3, 2), m) && parse_number(s.substr(6, 2), sec) &&
           h < 24 && m < 60 && sec <= 60;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') ++i;
        std::size_t start = i;
        while (i < s.size() && s[i] != ' ') ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

bool all_alpha(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    return true;
}

/// An HTTP date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime) as a time point.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
    int year = 0, month = 0, day = 0, h = 0, m = 0, sec = 0;
    std::size_t comma = s.find(',');
    if (comma != std::string_view::npos) {
        if (!all_alpha(s.substr(0, comma))) return std::nullopt;
        std::vector<std::string_view> t = split_spaces(s.substr(comma + 1));
        if (t.size() == 5 && t[4] == "GMT") {  // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
            if (!parse_number(t[0], day) || (month = month_number(t[1])) == 0 || t[2].size() != 4 ||
                !parse_number(t[2], year) || !parse_clock(t[3], h, m, sec))
                return std::nullopt;
        } else if (t.size() == 3 && t[2] == "GMT") {  // RFC 850: 06-Nov-94 08:49:37 GMT
            std::string_view d = t[0];
            if (d.size() != 9 || d[2] != '-' || d[6] != '-') return std::nullopt;
            if (!parse_number(d.substr(0, 2), day) || (month = month_number(d.substr(3, 3))) == 0 ||
                !parse_number(d.substr(7, 2), year) || !parse_clock(t[1], h, m, sec))
                return std::nullopt;
            year += year < 70 ? 2000 : 1900;
        } else {
            return std::nullopt;
        }
    } else {  // asctime: Sun Nov  6 08:49:37 1994
        std::vector<std::string_view> t = split_spaces(s);
        if (t.size() != 5 || !all_alpha(t[0]) || (month = month_number(t[1])) == 0 || !parse_number(t[2], day) ||
            !parse_clock(t[3], h, m, sec) || t[4].size() != 4 || !parse_number(t[4], year))
            return std::nullopt;
    }
    if (day < 1 || day > 31) return std::nullopt;
    std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    std::int64_t seconds = days * 86400 + h * 3600 + m * 60 + sec;
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

double thread_random() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    thread_local std::uniform_real_distribution<double> unit(0.0, 1.0);
    return unit(engine);
}

}  // namespace

std::optional<Duration> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
    value = trim(value);
    if (value.empty()) return std::nullopt;
    if (is_digit(value.front())) return parse_seconds(value);
    std::optional<std::chrono::system_clock::time_point> when = parse_http_date(value);
    if (!when) return std::nullopt;
    if (*when <= now) return Duration::zero();
    return std::chrono::ceil<Duration>(*when - now);
}

bool RetryPolicy::retryable(int status) const noexcept {
    if (status == 0) return retry_connect_errors;
    if (status == 429) return retry_rate_limited;
    if (status >= 500 && status <= 599 && status != 501 && status != 505) return retry_server_errors;
    return false;
}

Duration RetryPolicy::backoff(int attempt) const noexcept {
    if (attempt < 1) attempt = 1;
    double ms = static_cast<double>(initial_backoff.count()) * std::pow(std::max(multiplier, 1.0), attempt - 1);
    double cap = static_cast<double>(max_backoff.count());
    if (!(ms < cap)) ms = cap;  // also catches inf / nan
    if (ms < 0) ms = 0;
    return Duration(static_cast<Duration::rep>(ms));
}

std::optional<Duration> RetryPolicy::next_delay(int attempt, int status, std::optional<std::string_view> retry_after,
                                                Duration delayed_so_far, double random,
                                                std::chrono::system_clock::time_point now) const {
    if (attempt >= max_attempts || !retryable(status)) return std::nullopt;
    std::optional<Duration> server;
    if (retry_after && status != 0) server = parse_retry_after(*retry_after, now);
    Duration delay;
    if (server) {
        delay = *server;
    } else {
        Duration base = backoff(attempt);
        double r = std::clamp(random, 0.0, 1.0);
        double j = std::clamp(jitter, 0.0, 1.0);
        delay = Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * (1.0 - j * r)));
    }
    if (delayed_so_far + delay > max_total_delay) return std::nullopt;
    return delay;
}

std::optional<Duration> RetryPolicy::next_delay(int attempt, int status, std::optional<std::string_view> retry_after,
                                                Duration delayed_so_far) const {
    return next_delay(attempt, status, retry_after, delayed_so_far, thread_random(), std::chrono::system_clock::now());
}

}  // namespace adk
