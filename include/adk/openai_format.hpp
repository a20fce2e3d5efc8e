// adk/openai_format.hpp — the OpenAI chat-completions wire format, both
// directions: adk::LlmRequest <-> request JSON, response JSON <->
// adk::LlmResponse, and streamed `chat.completion.chunk`s assembled into
// partial responses and one final response. Pure functions, no I/O: the
// model client (adk::OpenAiLlm) and the fake model server (adk-fake-llm)
// share them.
//
//   Json body = adk::openai::to_request(request, {.stream = true});
//   adk::openai::StreamAssembler assembler;
//   for each SSE event:  for (LlmResponse& partial : assembler.feed(event.data)) yield partial;
//   LlmResponse final_response = assembler.finish();   // text + tool calls + finish_reason + usage
//
// Mapping (as ADK's LiteLlm does it):
//   system_instruction       -> {"role":"system"} first
//   Content role "model"     -> "assistant" (text; function calls as tool_calls with ids)
//   Content role "user"      -> "user" (text, images as data: URLs); its
//                               function responses -> one {"role":"tool",
//                               "tool_call_id"} message each, JSON text content
//   function_declarations    -> tools [{"type":"function","function":{...}}],
//                               genai's upper-case schema types lower-cased
//   config                   -> temperature, top_p, max_tokens, stop, seed, n,
//                               presence/frequency_penalty, response_format, tool_choice
//   finish_reason            <- stop/tool_calls: STOP, length: MAX_TOKENS,
//                               content_filter: SAFETY (genai's names)
//   usage                    <-> usage_metadata {promptTokenCount,
//                               candidatesTokenCount, totalTokenCount}
// A response with neither text nor tool calls and a finish reason other
// than stop reports it as error_code/error_message (ADK's convention).
//
// Errors: MalformedResponseError (not JSON, wrong shape, tool-call
// arguments that are not JSON), TruncatedStreamError (the stream ended
// before "[DONE]" and before any finish_reason), ModelApiError (an
// {"error": {...}} object, in a body or inside a stream).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adk/llm.hpp"

namespace adk {

/// A model's answer that does not follow its wire format: not JSON, a
/// missing or mistyped field, tool-call arguments that are not JSON.
class MalformedResponseError : public ModelError {
public:
    using ModelError::ModelError;
};

/// A streamed answer that ended before its end (the connection was cut in
/// the middle of the stream).
class TruncatedStreamError : public MalformedResponseError {
public:
    using MalformedResponseError::MalformedResponseError;
};

/// An error object sent by a model API ({"error": {...}}): in an error
/// response (status() is the HTTP status) or inside a stream (status() 0
/// unless the object carries a code number).
class ModelApiError : public ModelError {
public:
    ModelApiError(int status, std::string code, const std::string& message);
    int status() const noexcept { return status_; }
    /// The API's error code or type ("rate_limit_exceeded", "RESOURCE_EXHAUSTED"...).
    const std::string& code() const noexcept { return code_; }

private:
    int status_;
    std::string code_;
};

// ---- Typed errors of the model clients (adk::OpenAiLlm, adk::GeminiLlm:
// docs/models.md). An error answer of a model API is raised as the
// ModelApiError subclass its HTTP status (or, inside a stream, its error
// code) names; header-only, so the formats above stay free of them. ------

/// 400, 422 and the other 4xx not below: the request itself is wrong.
class BadRequestError : public ModelApiError {
public:
    using ModelApiError::ModelApiError;
};

/// 401, 403: missing or wrong API key, or no access to that model.
class AuthenticationError : public ModelApiError {
public:
    using ModelApiError::ModelApiError;
};

/// 404: no such model (or endpoint).
class ModelNotFoundError : public ModelApiError {
public:
    using ModelApiError::ModelApiError;
};

/// 429, once the retry policy gave up. retry_after() is the server's last
/// Retry-After, if it sent one.
class RateLimitError : public ModelApiError {
public:
    RateLimitError(int status, std::string code, const std::string& message,
                   std::optional<std::chrono::milliseconds> retry_after = std::nullopt)
        : ModelApiError(status, std::move(code), message), retry_after_(retry_after) {}
    std::optional<std::chrono::milliseconds> retry_after() const noexcept { return retry_after_; }

private:
    std::optional<std::chrono::milliseconds> retry_after_;
};

/// 5xx, once the retry policy gave up.
class ServerError : public ModelApiError {
public:
    using ModelApiError::ModelApiError;
};

/// The model's server could not be reached or the connection failed
/// (refused, DNS, TLS, reset before the answer). The aio::http error is
/// nested: std::rethrow_if_nested(e) gives it.
class ModelConnectionError : public ModelError {
public:
    using ModelError::ModelError;
};

/// A timeout of the model client expired (connect, total or idle; see the
/// client's Options). The aio::http::HttpTimeoutError is nested. Not
/// LlmTimeoutError, which is RunConfig::llm_call_timeout's.
class ModelTimeoutError : public ModelError {
public:
    using ModelError::ModelError;
};

// ---- end of the model clients' errors ----

namespace openai {

struct RequestOptions {
    bool stream = false;
    /// With stream: ask for the usage chunk (stream_options.include_usage).
    bool include_usage = true;
};

/// The chat-completions request body for `request`.
Json to_request(const LlmRequest& request, const RequestOptions& options = {});
/// A chat-completions request body as an LlmRequest (what a server needs:
/// contents, system instruction, declarations, config). Tool messages become
/// function responses (consecutive ones in one user turn), named after the
/// call they answer. std::invalid_argument on a malformed body.
LlmRequest request_from_json(const Json& body);

/// A chat.completion response as an LlmResponse (turn_complete set).
LlmResponse response_from_json(const Json& body);
/// The same from the body text (MalformedResponseError when not JSON).
LlmResponse parse_response(std::string_view body);
/// `response` as a chat.completion body. Function calls without an id get
/// `id + "_call_" + index`.
Json response_to_json(const LlmResponse& response, const std::string& model, const std::string& id,
                      std::int64_t created);

/// The error an error response describes (any body, JSON or not).
ModelApiError error_from_body(int status, std::string_view body);
/// {"error": {"message", "type", "code"}} as OpenAI sends it for `status`.
Json error_body(int status, std::string_view message);

/// usage {prompt_tokens, completion_tokens, total_tokens, *_details} <->
/// usage_metadata {promptTokenCount, candidatesTokenCount, totalTokenCount,
/// cachedContentTokenCount, thoughtsTokenCount}.
Json usage_to_metadata(const Json& usage);
Json usage_from_metadata(const Json& usage_metadata);
/// OpenAI's finish_reason <-> genai's FinishReason name.
std::string finish_reason_from_openai(std::string_view reason);
std::string finish_reason_to_openai(const LlmResponse& response);

/// Assembles a streamed answer: feed each SSE event's data in order.
class StreamAssembler {
public:
    /// One event's data: a chunk's JSON text, or "[DONE]". Returns the
    /// partial responses it carries (text and thought deltas; tool-call
    /// deltas are only accumulated).
    std::vector<LlmResponse> feed(std::string_view data);
    std::vector<LlmResponse> feed_json(const Json& chunk);
    /// "[DONE]" was seen.
    bool done() const noexcept { return done_; }
    /// The final response: the whole text, the tool calls assembled by
    /// index (arguments concatenated, then parsed), finish_reason and the
    /// usage of the last chunk that had one. TruncatedStreamError when the
    /// stream ended before "[DONE]" and before any finish_reason.
    LlmResponse finish();

private:
    struct Call {
        std::string id;
        std::string name;
        std::string arguments;
    };
    std::string text_;
    std::string thought_;
    std::map<long, Call> calls_;
    std::optional<std::string> finish_reason_;
    std::optional<std::string> refusal_;
    std::optional<Json> usage_;
    bool done_ = false;
};

/// Builds the chunks of a streamed answer (the server side).
struct ChunkBuilder {
    std::string id;
    std::string model;
    std::int64_t created = 0;

    /// {"object":"chat.completion.chunk", ..., "choices":[{"index":0,"delta":delta,"finish_reason":...}]}
    Json chunk(Json delta, std::optional<std::string> finish_reason = std::nullopt) const;
    /// The first chunk: {"role":"assistant","content":""}.
    Json role_chunk() const;
    Json text_chunk(std::string_view text) const;
    /// One tool-call delta: the id and name (with empty arguments) when
    /// `arguments_piece` is the first, then argument pieces.
    Json tool_call_start(int index, const std::string& call_id, const std::string& name) const;
    Json tool_call_arguments(int index, std::string_view arguments_piece) const;
    Json finish_chunk(const std::string& finish_reason) const;
    /// The usage chunk (empty choices), sent when stream_options.include_usage.
    Json usage_chunk(const Json& usage) const;
};

}  // namespace openai
}  // namespace adk
