// adk/openai_llm.hpp — adk::OpenAiLlm: any OpenAI-compatible
// chat-completions endpoint (OpenAI, a local Ollama or vLLM server,
// llama.cpp's server, LiteLLM's proxy, adk-fake-llm...) as an adk::BaseLlm.
// ADK's LiteLlm, without LiteLLM: aio::http on the loop, really streamed.
//
//   adk::register_openai_models();                       // "openai/<name>" in LlmRegistry
//   auto agent = adk::LlmAgent::make({.name = "a", .model = "openai/gpt-4o-mini", ...});
//
//   adk::OpenAiLlm::Options o;                             // or explicitly
//   o.model = "llama3.2";
//   o.base_url = "http://localhost:11434/v1";              // Ollama
//   auto llm = adk::OpenAiLlm::make(std::move(o));
//
// One call is POST {base_url}/chat/completions with the request converted by
// adk/openai_format.hpp. Without streaming it yields one LlmResponse. With
// streaming ("stream": true, stream_options.include_usage) it yields each
// text delta as a partial response the moment its event arrives, then one
// final response: the whole text, the tool calls assembled by index,
// finish_reason and usage.
//
// Errors (all adk::ModelError; adk/openai_format.hpp): AuthenticationError
// (401, 403), ModelNotFoundError (404), RateLimitError (429 once the retry
// policy gave up), ServerError (5xx, same), BadRequestError (other 4xx),
// MalformedResponseError / TruncatedStreamError (a broken answer or a stream
// cut before its end), ModelConnectionError (no connection, connection
// lost), ModelTimeoutError (a timeout of Options). A network failure is
// never an aio::CancelledError. Retries (adk/retry.hpp) happen only before
// the answer starts.
//
// Cancellation: a cancellation of the consuming task while the call waits
// (for the answer, for the next event, or between two attempts) aborts the
// HTTP transfer — the server sees the connection close — and ends the
// stream with CancelledError. Dropping the generator aborts it too.
//
// Connections: by default each call makes its own aio::http::Client (one
// connection, closed at the end of the call), so a model object can be
// used from any loop. Options::client shares one client (its pool, its
// keep-alive connections) between calls on that client's loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adk/llm.hpp"
#include "adk/openai_format.hpp"
#include "adk/retry.hpp"

namespace aio::http {
class Client;
}

namespace adk {

class OpenAiLlm : public BaseLlm {
public:
    struct Options {
        /// The model: "gpt-4o-mini", or LiteLlm's "openai/gpt-4o-mini"
        /// (the "openai/" prefix is not sent). Empty: the request's model.
        std::string model{};
        /// The API's base URL, up to /v1. Empty: $OPENAI_BASE_URL, else
        /// https://api.openai.com/v1.
        std::string base_url{};
        /// Sent as "Authorization: Bearer <key>". Unset: $OPENAI_API_KEY;
        /// empty (or unset with no variable): no Authorization header.
        std::optional<std::string> api_key{};
        /// More headers for every request (OpenAI-Organization, api-key...).
        std::vector<std::pair<std::string, std::string>> headers{};
        /// Merged into the request body's top level (e.g. {"reasoning_effort": "low"}).
        Json extra_body = Json::object();
        /// Streaming: ask for the usage chunk (stream_options.include_usage).
        bool include_usage = true;
        /// Timeouts (zero: none). idle: no byte received for that long.
        std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0);
        std::chrono::milliseconds idle_timeout = std::chrono::seconds(600);
        RetryPolicy retry{};
        /// A client to share (must belong to the loop running the calls and
        /// outlive them). Null: a client per call.
        std::shared_ptr<aio::http::Client> client{};
        /// Bound on one streamed event (a line or its data): beyond it,
        /// MalformedResponseError.
        std::size_t max_event_bytes = 16 * 1024 * 1024;
    };

    /// std::invalid_argument when the base URL is not http(s).
    explicit OpenAiLlm(Options options);
    /// Options{.model = model}: the rest from the environment.
    explicit OpenAiLlm(std::string model);
    static std::shared_ptr<OpenAiLlm> make(Options options);

    aio::AsyncGenerator<LlmResponse> generate_content(LlmRequest request, bool stream) override;

    /// The options, base URL and key resolved.
    const Options& options() const noexcept { return options_; }
    /// POST target: {base_url}/chat/completions.
    std::string endpoint() const { return options_.base_url + "/chat/completions"; }
    /// The model name sent for `request_model` (the options' model if set).
    std::string wire_model(const std::string& request_model = {}) const;

private:
    Options options_;
};

/// Makes LlmRegistry resolve "openai/<name>" to an OpenAiLlm (options from
/// the environment). Registering twice in the same registry is harmless.
void register_openai_models(LlmRegistry& registry = LlmRegistry::global());

}  // namespace adk
