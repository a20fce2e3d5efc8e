// adk/llm_response.hpp — adk::LlmResponse: one reply (or one streamed chunk)
// of a model. adk::Event extends it, as ADK's Event extends LlmResponse.
#pragma once

#include <optional>
#include <string>

#include "adk/boxed.hpp"
#include "adk/content.hpp"

namespace adk {

/// Members that are usually empty are adk::Boxed (optional-like, 8 bytes
/// when empty: adk/boxed.hpp).
struct LlmResponse {
    std::optional<Content> content;
    /// A chunk of an unfinished text stream (streaming mode SSE); never
    /// persisted.
    std::optional<bool> partial;
    std::optional<bool> turn_complete;
    std::optional<bool> interrupted;
    /// A model-side error (finish reason / block reason), reported as data.
    Boxed<std::string> error_code;
    Boxed<std::string> error_message;
    Boxed<std::string> finish_reason;
    /// {promptTokenCount, candidatesTokenCount, totalTokenCount}, as sent.
    Boxed<Json> usage_metadata;
    Boxed<Json> grounding_metadata;
    Boxed<Json> custom_metadata;

    bool is_partial() const noexcept { return partial.value_or(false); }
};

/// Writes/reads the LlmResponse fields of `v` into/from the object `j`
/// (camelCase, absent fields omitted; readers accept snake_case).
void to_json(Json& j, const LlmResponse& v);
void from_json(const Json& j, LlmResponse& v);

}  // namespace adk
