// adk/gemini_format.hpp — Gemini's REST wire format (generateContent and
// streamGenerateContent?alt=sse), both directions: adk::LlmRequest <->
// GenerateContentRequest JSON, GenerateContentResponse JSON <->
// adk::LlmResponse, and streamed responses assembled into partial responses
// and one final response. Pure functions, no I/O: shared by the model
// client (adk::GeminiLlm) and the fake model server (adk-fake-llm).
//
//   Json body = adk::gemini::to_request(request);   // POST .../models/{model}:generateContent
//   adk::gemini::StreamAssembler assembler;          // ...:streamGenerateContent?alt=sse
//   for each SSE event:  for (LlmResponse& partial : assembler.feed(event.data)) yield partial;
//   LlmResponse final_response = assembler.finish();
//
// Mapping:
//   contents            -> "contents" (role defaults to "user"; ADK's
//                          client-side "adk-" call ids are stripped)
//   system_instruction  -> "systemInstruction": {"parts": [{"text"}]}
//   declarations        -> "tools": [{"functionDeclarations"}], schemas in
//                          genai's form (upper-case types, nullable, only
//                          the Schema fields Gemini accepts)
//   config              -> "generationConfig" (snake_case keys camel-cased),
//                          except safetySettings / toolConfig / cachedContent,
//                          which stay top-level
//   response            <- candidates[0]: content, finishReason; usageMetadata;
//                          no parts: error_code = finishReason (or the
//                          prompt's blockReason), error_message =
//                          finishMessage — ADK's LlmResponse.create rules.
// Streaming: each chunk's text (and thought text) is a partial response;
// the final response holds the whole text, then every other part in order
// (function calls...), the last finishReason and the last usageMetadata.
//
// Errors: adk::MalformedResponseError, adk::TruncatedStreamError (the
// stream ended before a chunk with a finishReason), adk::ModelApiError
// (an {"error": {"code", "message", "status"}} object) — declared in
// adk/openai_format.hpp, shared by both formats.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adk/llm.hpp"
#include "adk/openai_format.hpp"

namespace adk::gemini {

/// The generateContent request body for `request` (the model goes in the URL).
Json to_request(const LlmRequest& request);
/// A generateContent request body as an LlmRequest for `model` (the
/// server side). std::invalid_argument on a malformed body.
LlmRequest request_from_json(const Json& body, std::string model = {});

/// A GenerateContentResponse as an LlmResponse (turn_complete set).
LlmResponse response_from_json(const Json& body);
/// The same from the body text (MalformedResponseError when not JSON).
LlmResponse parse_response(std::string_view body);
/// `response` as a GenerateContentResponse body.
Json response_to_json(const LlmResponse& response, const std::string& model_version = {});

/// The error an error response describes (any body, JSON or not).
ModelApiError error_from_body(int status, std::string_view body);
/// {"error": {"code", "message", "status"}} as Google APIs send it.
Json error_body(int status, std::string_view message);
/// Google's status name for an HTTP status (429: "RESOURCE_EXHAUSTED"...).
std::string status_name(int http_status);

/// A JSON Schema (or a genai Schema) in the form Gemini's
/// functionDeclarations.parameters accept.
Json to_gemini_schema(const Json& schema);

/// Assembles a streamed answer: feed each SSE event's data in order.
class StreamAssembler {
public:
    /// One event's data (a GenerateContentResponse as JSON text). Returns
    /// the partial responses it carries (text and thought text).
    std::vector<LlmResponse> feed(std::string_view data);
    std::vector<LlmResponse> feed_json(const Json& chunk);
    /// The final response. TruncatedStreamError when no chunk carried a
    /// finishReason (nor a prompt blockReason).
    LlmResponse finish();

private:
    std::string text_;
    std::string thought_;
    std::vector<Part> other_parts_;
    std::optional<std::string> finish_reason_;
    std::optional<std::string> finish_message_;
    std::optional<std::string> block_reason_;
    std::optional<std::string> block_message_;
    std::optional<Json> usage_;
    std::optional<Json> grounding_;
    bool any_chunk_ = false;
};

}  // namespace adk::gemini
