// adk/llm.hpp — adk::LlmRequest, adk::BaseLlm and adk::LlmRegistry.
//
// A model is a BaseLlm whose generate_content(request, stream) is an async
// generator of LlmResponse: without streaming it yields one response; with
// streaming (RunConfig SSE) it yields partial text chunks (partial=true) and
// then one aggregated non-partial response.
//
// Cancellation: generate_content suspends wherever the model does I/O (or,
// for ScriptedLlm, sleeps); a cancellation there ends the stream with
// CancelledError and leaves nothing behind.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "adk/content.hpp"
#include "adk/llm_response.hpp"
#include "aio/async_generator.hpp"

namespace adk {

class BaseTool;

/// What the flow sends a model. `config` holds generation settings
/// (temperature, maxOutputTokens...: GenerateContentConfig minus the fields
/// below, which have their own members).
struct LlmRequest {
    std::string model;
    std::vector<Content> contents;
    /// The system instruction: instructions appended with "\n\n".
    std::string system_instruction;
    /// FunctionDeclarations: {name, description, parameters (JSON Schema)}.
    std::vector<Json> function_declarations;
    Json config = Json::object();
    /// The tools by name, for the flow (not sent to the model).
    std::map<std::string, std::shared_ptr<BaseTool>> tools_dict;

    void append_instructions(const std::string& text);
    /// Appends the tool's declaration and registers it in tools_dict.
    void append_tool(std::shared_ptr<BaseTool> tool);
    /// The text of the last content if it is a user turn with text, else "".
    std::string last_user_text() const;
};

/// {model, contents, config: {systemInstruction, tools:[{functionDeclarations}], ...}}
/// as genai's GenerateContentRequest would carry them.
void to_json(Json& j, const LlmRequest& v);

/// A model failed (transport, script error...). Not a model's own error
/// reply: those come back as LlmResponse::error_code/error_message.
class ModelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class BaseLlm {
public:
    explicit BaseLlm(std::string model) : model_(std::move(model)) {}
    virtual ~BaseLlm() = default;
    BaseLlm(const BaseLlm&) = delete;
    BaseLlm& operator=(const BaseLlm&) = delete;

    const std::string& model() const noexcept { return model_; }

    /// The model's replies to `request` (see the header comment). The
    /// generator owns `request`; the model object must outlive it.
    virtual aio::AsyncGenerator<LlmResponse> generate_content(LlmRequest request, bool stream) = 0;

private:
    std::string model_;
};

/// Model name -> model. Exact names (an instance) are looked up first, then
/// regular-expression patterns (a factory), newest registration first, as
/// ADK's LLMRegistry.
class LlmRegistry {
public:
    using Factory = std::function<std::shared_ptr<BaseLlm>(const std::string& model)>;

    /// The process-wide registry (thread-safe).
    static LlmRegistry& global();

    /// Every name fully matching `pattern` (ECMAScript regex) is made by `factory`.
    void register_factory(std::string pattern, Factory factory);
    /// `name` resolves to this instance.
    void register_model(std::string name, std::shared_ptr<BaseLlm> model);
    /// The model for `name`; std::invalid_argument if nothing matches.
    std::shared_ptr<BaseLlm> resolve(const std::string& name) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<BaseLlm>> instances_;
    std::vector<std::pair<std::string, Factory>> factories_;
};

}  // namespace adk
