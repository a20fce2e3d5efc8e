// Private to the model clients (src/adk/models): one model call over
// aio::http, shared by adk::OpenAiLlm and adk::GeminiLlm — the request with
// its retries, the error mapping, and the streamed answer read as SSE events
// and assembled by the wire format's StreamAssembler.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adk/llm.hpp"
#include "adk/openai_format.hpp"
#include "adk/retry.hpp"
#include "aio/async_generator.hpp"
#include "aio/coro.hpp"
#include "aio/http/client.hpp"
#include "aio/http/sse.hpp"

namespace adk::detail::model_http {

/// What one model call sends, and how.
struct ModelHttpCall {
    const char* api = "model";  // "OpenAI", "Gemini": for messages
    std::string url;
    std::string payload;
    bool stream = false;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds connect_timeout{0};
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds idle_timeout{0};
    RetryPolicy retry;
    std::size_t max_event_bytes = 0;
    /// The API's error object in an error answer.
    ModelApiError (*parse_error)(int status, std::string_view body) = nullptr;
};

/// ClientOptions for a client made for one call.
aio::http::ClientOptions client_options(const ModelHttpCall& call);

/// Sends the call, retrying as call.retry says; returns the 2xx response
/// whose body is still to read. Raises the typed ModelErrors.
aio::Coro<aio::http::StreamResponse> open_response(aio::http::Client& client, const ModelHttpCall& call);

/// The whole body of a (non-streamed) answer; transport errors mapped.
aio::Coro<std::string> read_body(aio::http::StreamResponse& response, const char* api);

/// Raises the typed error for an API error object: by `http_status`, or
/// when 0 by the error's own status or code; `key_rejected` makes it an
/// AuthenticationError whatever the status (Gemini's 400 API_KEY_INVALID).
/// `attempts` > 1 is mentioned.
[[noreturn]] void throw_api_error(const ModelApiError& e, const char* api, int http_status,
                                  std::optional<std::chrono::milliseconds> retry_after = std::nullopt,
                                  int attempts = 1, bool key_rejected = false);

/// Raises the ModelError for `failure`, an aio::http error (or anything
/// else, rethrown as is). `streaming`: the answer had started (a lost
/// connection is then a TruncatedStreamError).
[[noreturn]] void throw_transport_error(std::exception_ptr failure, const char* api, bool streaming);

/// Calls `f()`; a ModelApiError it raises becomes the typed error.
template <class F>
auto typed_api_errors(const char* api, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const RateLimitError&) {
        throw;
    } catch (const AuthenticationError&) {
        throw;
    } catch (const ModelNotFoundError&) {
        throw;
    } catch (const ServerError&) {
        throw;
    } catch (const BadRequestError&) {
        throw;
    } catch (const ModelApiError& e) {
        throw_api_error(e, api, 0);
    }
}

/// Whether the response is an event stream.
bool is_event_stream(const aio::http::StreamResponse& response);

/// One model call: the request (with retries), then one LlmResponse for a
/// plain answer, or the partial responses of a stream as its events arrive
/// and the assembled final one. `client` may be null: a client is made for
/// the call (and closed with it).
template <class Assembler>
aio::AsyncGenerator<LlmResponse> model_call(std::shared_ptr<aio::http::Client> client, ModelHttpCall call,
                                            LlmResponse (*parse_response)(std::string_view)) {
    std::unique_ptr<aio::http::Client> own;
    aio::http::Client* http = client.get();
    if (!http) {
        own = std::make_unique<aio::http::Client>(client_options(call));
        http = own.get();
    }
    aio::http::StreamResponse response = co_await open_response(*http, call);
    if (!call.stream || !is_event_stream(response)) {
        std::string body = co_await read_body(response, call.api);
        LlmResponse whole = typed_api_errors(call.api, [&] { return parse_response(body); });
        co_yield std::move(whole);
        co_return;
    }
    aio::AsyncGenerator<aio::http::SseEvent> events = aio::http::sse_events(std::move(response.body), call.max_event_bytes);
    Assembler assembler;
    while (true) {
        std::optional<aio::http::SseEvent> event;
        std::exception_ptr failure;
        try {
            std::optional<aio::http::SseEvent> next = co_await events.next();
            event = std::move(next);
        } catch (const aio::http::HttpError&) {
            failure = std::current_exception();
        }
        if (failure) throw_transport_error(failure, call.api, true);
        if (!event) break;
        std::vector<LlmResponse> partials = typed_api_errors(call.api, [&] { return assembler.feed(event->data); });
        for (LlmResponse& partial : partials) co_yield std::move(partial);
        if constexpr (requires { assembler.done(); }) {
            if (assembler.done()) break;  // OpenAI's "[DONE]": nothing follows
        }
    }
    LlmResponse final_response = typed_api_errors(call.api, [&] { return assembler.finish(); });
    co_yield std::move(final_response);
}

/// The call for `body` built from what every model client's Options share
/// (extra_body merged into the body's top level, headers, timeouts, retry,
/// event bound); `auth`, when set, is sent before the options' headers.
template <class Options>
ModelHttpCall make_call(const Options& options, const char* api, std::string url, Json body, bool stream,
                        std::optional<std::pair<std::string, std::string>> auth,
                        ModelApiError (*parse_error)(int, std::string_view)) {
    if (options.extra_body.is_object())
        for (auto it = options.extra_body.begin(); it != options.extra_body.end(); ++it) body[it.key()] = it.value();
    ModelHttpCall call;
    call.api = api;
    call.url = std::move(url);
    call.payload = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    call.stream = stream;
    if (auth) call.headers.push_back(std::move(*auth));
    for (const auto& h : options.headers) call.headers.push_back(h);
    call.connect_timeout = options.connect_timeout;
    call.timeout = options.timeout;
    call.idle_timeout = options.idle_timeout;
    call.retry = options.retry;
    call.max_event_bytes = options.max_event_bytes;
    call.parse_error = parse_error;
    return call;
}

/// Registers `factory` for `pattern` in `registry` unless this was already
/// done for that registry (register_openai_models / register_gemini_models
/// may be called any number of times).
void register_factory_once(LlmRegistry& registry, const std::string& pattern, LlmRegistry::Factory factory);

/// The value of environment variable `name`, "" when unset.
std::string env_or_empty(const char* name);
/// `url` without trailing slashes; std::invalid_argument unless http(s).
std::string normalize_base_url(std::string url, const char* what);

}  // namespace adk::detail::model_http
