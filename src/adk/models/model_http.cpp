// One model call over aio::http (model_http.hpp): retries, error mapping.
#include "model_http.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>

#include "aio/log.hpp"
#include "aio/sleep.hpp"

namespace adk::detail::model_http {

namespace {

using Duration = RetryPolicy::Duration;

/// Error bodies are read up to this size (the rest is dropped).
constexpr std::size_t max_error_body = 1024 * 1024;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

enum class ErrorKind { bad_request, authentication, not_found, rate_limited, server, other };

ErrorKind classify(int status, const std::string& code) {
    if (status == 401 || status == 403) return ErrorKind::authentication;
    if (status == 404) return ErrorKind::not_found;
    if (status == 429) return ErrorKind::rate_limited;
    if (status >= 500 && status <= 599) return ErrorKind::server;
    if (status >= 400 && status <= 499) return ErrorKind::bad_request;
    // No HTTP status (an error object inside a stream or in a 200 body): the
    // code says it, in OpenAI's words or Google's.
    std::string c = lower(code);
    if (c == "invalid_api_key" || c == "unauthenticated" || c == "permission_denied" || c == "authentication_error" ||
        c == "permission_error" || c == "unauthorized")
        return ErrorKind::authentication;
    if (c == "model_not_found" || c == "not_found" || c == "not_found_error") return ErrorKind::not_found;
    if (c == "rate_limit_exceeded" || c == "resource_exhausted" || c == "insufficient_quota" ||
        c == "rate_limit_error" || c == "requests" || c == "tokens")
        return ErrorKind::rate_limited;
    if (c == "server_error" || c == "internal" || c == "unavailable" || c == "deadline_exceeded" || c == "api_error" ||
        c == "overloaded_error" || c == "internal_server_error")
        return ErrorKind::server;
    if (c == "invalid_request_error" || c == "invalid_argument" || c == "failed_precondition" || c == "bad_request")
        return ErrorKind::bad_request;
    return ErrorKind::other;
}

std::string seconds_text(Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

std::string attempts_text(int attempts) {
    return attempts > 1 ? " [after " + std::to_string(attempts) + " attempts]" : std::string();
}

/// The server's Retry-After, from `Retry-After` or OpenAI's `retry-after-ms`
/// (preferred when valid, as OpenAI's SDK does), as a Retry-After value.
std::optional<std::string> retry_after_header(const aio::http::StreamResponse& response) {
    if (std::optional<std::string_view> ms = response.headers.get("retry-after-ms")) {
        char* end = nullptr;
        std::string text(*ms);
        double v = std::strtod(text.c_str(), &end);
        if (end && end != text.c_str() && *end == '\0' && v >= 0 && v < 1e9) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%.3f", v / 1000.0);
            return std::string(buf);
        }
    }
    if (std::optional<std::string_view> v = response.headers.get("retry-after")) return std::string(*v);
    return std::nullopt;
}

/// The first MiB of an error answer's body ("" if the transfer fails).
aio::Coro<std::string> read_error_body(aio::http::StreamResponse& response) {
    std::string body;
    try {
        while (body.size() < max_error_body) {
            std::optional<std::string> chunk = co_await response.body.next();
            if (!chunk) break;
            body += *chunk;
        }
    } catch (const aio::http::HttpError&) {
        // The status says enough.
    }
    co_return body;
}

}  // namespace

aio::http::ClientOptions client_options(const ModelHttpCall& call) {
    aio::http::ClientOptions o;
    o.connect_timeout = call.connect_timeout;
    o.timeout = call.timeout;
    o.idle_timeout = call.idle_timeout;
    o.user_agent = "adk-cpp/0.1 aio-http";
    return o;
}

bool is_event_stream(const aio::http::StreamResponse& response) {
    return lower(response.headers.value("content-type")).find("text/event-stream") != std::string::npos;
}

void throw_api_error(const ModelApiError& e, const char* api, int http_status,
                     std::optional<std::chrono::milliseconds> retry_after, int attempts, bool key_rejected) {
    int status = http_status != 0 ? http_status : e.status();
    std::string code = e.code();
    std::string message = std::string(api) + " API error";
    if (status != 0) message += " " + std::to_string(status);
    if (!code.empty()) message += " (" + code + ")";
    message += ": ";
    message += e.what();
    message += attempts_text(attempts);
    switch (key_rejected ? ErrorKind::authentication : classify(status, code)) {
        case ErrorKind::authentication: throw AuthenticationError(status, code, message);
        case ErrorKind::not_found: throw ModelNotFoundError(status, code, message);
        case ErrorKind::rate_limited: throw RateLimitError(status, code, message, retry_after);
        case ErrorKind::server: throw ServerError(status, code, message);
        case ErrorKind::bad_request: throw BadRequestError(status, code, message);
        case ErrorKind::other: break;
    }
    throw ModelApiError(status, code, message);
}

namespace {

[[noreturn]] void throw_transport_error_impl(std::exception_ptr failure, const char* api, bool streaming,
                                             int attempts) {
    std::string prefix(api);
    try {
        std::rethrow_exception(failure);
    } catch (const aio::http::HttpTimeoutError& e) {
        const char* kind = e.kind() == aio::http::HttpTimeoutError::Kind::connect ? "connect"
                           : e.kind() == aio::http::HttpTimeoutError::Kind::total ? "total"
                                                                                  : "idle";
        std::throw_with_nested(ModelTimeoutError(prefix + ": the " + kind + " timeout (" +
                                                 std::to_string(e.limit().count()) + " ms) expired: " + e.what() +
                                                 attempts_text(attempts)));
    } catch (const aio::http::SseError& e) {
        std::throw_with_nested(MalformedResponseError(prefix + " stream: " + e.what()));
    } catch (const aio::http::ConnectionLostError& e) {
        if (streaming)
            std::throw_with_nested(
                TruncatedStreamError(prefix + " stream: the connection was lost before the end of the stream: " + e.what()));
        std::throw_with_nested(ModelConnectionError(prefix + ": the connection was lost: " + e.what() + attempts_text(attempts)));
    } catch (const aio::http::ResponseTooLargeError& e) {
        std::throw_with_nested(MalformedResponseError(prefix + ": " + e.what()));
    } catch (const aio::http::ConnectError& e) {
        std::throw_with_nested(ModelConnectionError(prefix + ": cannot connect: " + e.what() + attempts_text(attempts)));
    } catch (const aio::http::HttpError& e) {
        std::throw_with_nested(ModelConnectionError(prefix + ": " + e.what() + attempts_text(attempts)));
    }
    // Not an aio::http error: rethrown as is by rethrow_exception above.
    std::terminate();  // unreachable
}

}  // namespace

void throw_transport_error(std::exception_ptr failure, const char* api, bool streaming) {
    throw_transport_error_impl(std::move(failure), api, streaming, 1);
}

aio::Coro<aio::http::StreamResponse> open_response(aio::http::Client& client, const ModelHttpCall& call) {
    Duration delayed = Duration::zero();
    for (int attempt = 1;; ++attempt) {
        aio::http::Request request;
        request.method = "POST";
        request.url = call.url;
        request.body = call.payload;
        request.headers.set("Content-Type", "application/json");
        request.headers.set("Accept", call.stream ? "text/event-stream" : "application/json");
        for (const auto& [name, value] : call.headers) request.headers.set(name, value);
        request.connect_timeout = call.connect_timeout;
        request.timeout = call.timeout;
        request.idle_timeout = call.idle_timeout;

        std::optional<aio::http::StreamResponse> response;
        std::exception_ptr failure;
        bool connect_failure = false;
        try {
            aio::http::StreamResponse r = co_await client.stream(std::move(request));
            response.emplace(std::move(r));
        } catch (const aio::http::ConnectError&) {
            failure = std::current_exception();
            connect_failure = true;
        } catch (const aio::http::HttpError&) {
            failure = std::current_exception();
        }

        std::optional<Duration> delay;
        std::string what;
        if (failure) {
            // Only a connection that could not be made is retried: nothing
            // reached the server. A timeout or a lost connection may have
            // cost the tokens already.
            if (connect_failure) delay = call.retry.next_delay(attempt, 0, std::nullopt, delayed);
            if (!delay) throw_transport_error_impl(failure, call.api, false, attempt);
            what = "cannot connect";
        } else {
            if (response->ok()) co_return std::move(*response);
            int status = response->status;
            std::string body = co_await read_error_body(*response);
            std::optional<std::string> retry_after = retry_after_header(*response);
            std::optional<std::string_view> retry_after_view;
            if (retry_after) retry_after_view = *retry_after;
            delay = call.retry.next_delay(attempt, status, retry_after_view, delayed);
            if (!delay) {
                ModelApiError e = call.parse_error ? call.parse_error(status, body)
                                                   : ModelApiError(status, "", "HTTP " + std::to_string(status));
                std::optional<Duration> server_delay;
                if (retry_after) server_delay = parse_retry_after(*retry_after, std::chrono::system_clock::now());
                // Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
                bool key_rejected = status == 400 && body.find("API_KEY_INVALID") != std::string::npos;
                throw_api_error(e, call.api, status, server_delay, attempt, key_rejected);
            }
            what = "HTTP " + std::to_string(status);
            response.reset();  // the connection goes back (or closes) before the wait
        }
        aio::log(aio::LogLevel::info, std::string(call.api) + ": " + what + " from " + call.url + "; retrying in " +
                                          seconds_text(*delay) + " (attempt " + std::to_string(attempt + 1) + " of " +
                                          std::to_string(call.retry.max_attempts) + ")");
        co_await aio::sleep(*delay);
        delayed += *delay;
    }
}

aio::Coro<std::string> read_body(aio::http::StreamResponse& response, const char* api) {
    std::string body;
    std::exception_ptr failure;
    try {
        std::string all = co_await response.read();
        body = std::move(all);
    } catch (const aio::http::HttpError&) {
        failure = std::current_exception();
    }
    if (failure) throw_transport_error(failure, api, false);
    co_return body;
}

void register_factory_once(LlmRegistry& registry, const std::string& pattern, LlmRegistry::Factory factory) {
    static std::mutex mutex;
    static std::set<std::pair<LlmRegistry*, std::string>> done;
    {
        std::lock_guard lock(mutex);
        if (!done.emplace(&registry, pattern).second) return;
    }
    registry.register_factory(pattern, std::move(factory));
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string normalize_base_url(std::string url, const char* what) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    std::string l = lower(url);
    if (l.rfind("http://", 0) != 0 && l.rfind("https://", 0) != 0)
        throw std::invalid_argument(std::string(what) + ": the base URL must start with http:// or https://, got \"" +
                                    url + "\"");
    return url;
}

}  // namespace adk::detail::model_http
