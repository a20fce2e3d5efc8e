// adk/content.hpp — adk::Content, adk::Part, adk::FunctionCall,
// adk::FunctionResponse: google.genai.types as ADK sends them over the wire.
//
// JSON is ADK's (pydantic by_alias, exclude_none): camelCase keys
// (`functionCall`, `inlineData{mimeType,data}`), absent fields omitted.
// Readers also accept snake_case keys (`function_call`, `mime_type`), as
// pydantic's populate_by_name does. Binary data stays base64 text: it is
// never decoded by this layer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adk/boxed.hpp"

namespace adk {

using Json = nlohmann::json;

/// A model's request to call a tool. `id` is the model's, or `adk-<uuid>`
/// when the model gave none (see new_function_call_id()).
struct FunctionCall {
    std::string id;      // omitted from JSON when empty
    std::string name;
    Json args = Json::object();
};

/// A tool's answer to a FunctionCall with the same id and name.
struct FunctionResponse {
    std::string id;      // omitted from JSON when empty
    std::string name;
    Json response = Json::object();
};

/// Inline bytes, base64-encoded as on the wire.
struct Blob {
    std::string mime_type;
    std::string data;  // base64
};

/// A reference to a file by URI.
struct FileData {
    std::string file_uri;
    std::string mime_type;
};

/// One part of a Content: exactly one of text, inline_data, file_data,
/// function_call, function_response (or the code-execution pass-throughs),
/// plus the `thought` flag. Fields that are not set are not written.
///
/// Text is the common case and is held inline; every other member is an
/// adk::Boxed (optional-like, 8 bytes when empty, adk/boxed.hpp), so a text
/// part costs 104 bytes instead of the ~460 that inline optionals took.
struct Part {
    std::optional<std::string> text;
    std::optional<bool> thought;
    Boxed<std::string> thought_signature;  // base64
    Boxed<Blob> inline_data;
    Boxed<FileData> file_data;
    Boxed<FunctionCall> function_call;
    Boxed<FunctionResponse> function_response;
    Boxed<Json> executable_code;        // passed through as JSON
    Boxed<Json> code_execution_result;  // passed through as JSON

    static Part from_text(std::string text);
    static Part from_function_call(FunctionCall call);
    static Part from_function_response(FunctionResponse response);
};

/// A turn: `role` is "user" or "model" (empty: not written), and its parts.
struct Content {
    std::string role;
    std::vector<Part> parts;

    /// A user turn with one text part.
    static Content user(std::string text);
    /// A model turn with one text part.
    static Content model(std::string text);

    /// The concatenated text of the non-thought text parts ("" if none).
    std::string text() const;
};

void to_json(Json& j, const FunctionCall& v);
void from_json(const Json& j, FunctionCall& v);
void to_json(Json& j, const FunctionResponse& v);
void from_json(const Json& j, FunctionResponse& v);
void to_json(Json& j, const Blob& v);
void from_json(const Json& j, Blob& v);
void to_json(Json& j, const FileData& v);
void from_json(const Json& j, FileData& v);
void to_json(Json& j, const Part& v);
void from_json(const Json& j, Part& v);
void to_json(Json& j, const Content& v);
void from_json(const Json& j, Content& v);

namespace detail {
/// The value under `camel` or else `snake` in object `j`, or null if absent
/// (or if `j` is not an object).
const Json* find_key(const Json& j, const char* camel, const char* snake);
}  // namespace detail

}  // namespace adk
