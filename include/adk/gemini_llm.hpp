// adk/gemini_llm.hpp — adk::GeminiLlm: Google's Gemini API (AI Studio,
// generativelanguage.googleapis.com) over REST with an API key, as an
// adk::BaseLlm. ADK's Gemini model, without google-genai.
//
//   adk::register_gemini_models();                        // "gemini-..." in LlmRegistry
//   auto agent = adk::LlmAgent::make({.name = "a", .model = "gemini-2.0-flash", ...});
//
// One call is POST {base_url}/models/{model}:generateContent, or with
// streaming {base_url}/models/{model}:streamGenerateContent?alt=sse, with
// the request converted by adk/gemini_format.hpp and the key in the
// x-goog-api-key header. Without streaming it yields one LlmResponse; with
// streaming each chunk's text as a partial response when it arrives, then
// one final response: the whole text, the other parts (function calls...),
// finishReason and usageMetadata.
//
// Errors, retries, cancellation and connections: as adk::OpenAiLlm
// (adk/openai_llm.hpp): AuthenticationError (401, 403, and Gemini's 400
// with reason API_KEY_INVALID), ModelNotFoundError,
// RateLimitError (429 RESOURCE_EXHAUSTED), ServerError, BadRequestError,
// MalformedResponseError / TruncatedStreamError, ModelConnectionError,
// ModelTimeoutError — never an aio::CancelledError for a network failure.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adk/gemini_format.hpp"
#include "adk/llm.hpp"
#include "adk/retry.hpp"

namespace aio::http {
class Client;
}

namespace adk {

class GeminiLlm : public BaseLlm {
public:
    struct Options {
        /// "gemini-2.0-flash" ("models/gemini-2.0-flash" is accepted).
        /// Empty: the request's model.
        std::string model{};
        /// Up to the API version. Empty: $GOOGLE_GEMINI_BASE_URL, else
        /// https://generativelanguage.googleapis.com/v1beta.
        std::string base_url{};
        /// Sent as "x-goog-api-key". Unset: $GEMINI_API_KEY, else
        /// $GOOGLE_API_KEY; empty: no key sent.
        std::optional<std::string> api_key{};
        /// More headers for every request.
        std::vector<std::pair<std::string, std::string>> headers{};
        /// Merged into the request body's top level (e.g. {"safetySettings": [...]}).
        Json extra_body = Json::object();
        /// Timeouts (zero: none). idle: no byte received for that long.
        std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0);
        std::chrono::milliseconds idle_timeout = std::chrono::seconds(600);
        RetryPolicy retry{};
        /// A client to share (must belong to the loop running the calls and
        /// outlive them). Null: a client per call.
        std::shared_ptr<aio::http::Client> client{};
        /// Bound on one streamed event: beyond it, MalformedResponseError.
        std::size_t max_event_bytes = 16 * 1024 * 1024;
    };

    /// std::invalid_argument when the base URL is not http(s).
    explicit GeminiLlm(Options options);
    /// Options{.model = model}: the rest from the environment.
    explicit GeminiLlm(std::string model);
    static std::shared_ptr<GeminiLlm> make(Options options);

    aio::AsyncGenerator<LlmResponse> generate_content(LlmRequest request, bool stream) override;

    /// The options, base URL and key resolved.
    const Options& options() const noexcept { return options_; }
    /// The URL a call goes to.
    std::string endpoint(bool stream, const std::string& request_model = {}) const;
    /// The model name in the URL for `request_model` (the options' model if set).
    std::string wire_model(const std::string& request_model = {}) const;

private:
    Options options_;
};

/// Makes LlmRegistry resolve "gemini-..." to a GeminiLlm (options from the
/// environment). Registering twice in the same registry is harmless.
void register_gemini_models(LlmRegistry& registry = LlmRegistry::global());

}  // namespace adk
