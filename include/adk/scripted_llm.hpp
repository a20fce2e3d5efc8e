// adk/scripted_llm.hpp — adk::ScriptedLlm: a deterministic model driven by a
// script, the model of every test and example until real clients exist.
//
// A reply is a text, function calls, streamed chunks, a model error
// (error_code/error_message), a failure (throws ModelError), optionally after
// a delay, or computed by a function of the request. Which reply answers a
// request:
//   1. the first rule that matches: `when_agent` is the agent asking (the
//      name in the flow's identity line of the system instruction),
//      `when_user_says` is a substring of the request's last user text,
//      `after_tool` names a function response in the request's last content
//      (every condition given must hold);
//   2. otherwise the next reply of the sequence (turn 0, 1, 2...);
//   3. otherwise ModelError("script exhausted").
// Every request is recorded (requests()) so tests can check what the flow
// sent.
//
// Streaming (stream=true) with chunks: one partial response per chunk (with
// chunk_delay before each but the first), then one aggregated non-partial
// response holding the whole text and the function calls. Without streaming
// (or without chunks) one response.
//
// JSON script:
//   {"replies": [{"text": "hi"},
//                {"functionCalls": [{"name": "get_weather", "args": {"city": "Paris"}}]},
//                {"chunks": ["It is ", "sunny."], "chunkDelayMs": 10},
//                {"delayMs": 50, "text": "late"},
//                {"errorCode": "SAFETY", "errorMessage": "blocked"},
//                {"raise": "connection reset"},
//                {"text": "slow down", "fault": {"status": 429, "retryAfter": 1}}],
//    "rules": [{"whenUserSays": "Paris", "reply": {"text": "Bonjour"}},
//              {"afterTool": "get_weather", "reply": {"text": "Done."}},
//              {"whenAgent": "writer", "reply": {"text": "A draft."}}]}
// (snake_case keys are accepted too.) `fault` is kept as written and ignored
// here: programs serving a script over HTTP (adk-fake-llm) read it.
//
// Cancellation: the only suspension points are the delays; a cancellation
// there ends the stream with CancelledError.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adk/llm.hpp"

namespace adk {

struct ScriptedReply {
    std::string text;
    std::vector<FunctionCall> function_calls;
    std::vector<std::string> chunks;
    std::chrono::milliseconds delay{0};
    std::chrono::milliseconds chunk_delay{0};
    std::optional<std::string> error_code;
    std::optional<std::string> error_message;
    /// Throw ModelError with this message instead of replying.
    std::optional<std::string> raise;
    /// Computes the reply (the other fields but delay are then ignored).
    std::function<LlmResponse(const LlmRequest&)> compute;
    /// The reply's "fault" object as written (null when absent). ScriptedLlm
    /// ignores it; adk-fake-llm turns it into an HTTP fault (docs/fake-llm.md).
    Json fault;

    static ScriptedReply say(std::string text);
    static ScriptedReply call(std::string name, Json args, std::string id = {});
    static ScriptedReply calls(std::vector<FunctionCall> calls);
    static ScriptedReply stream(std::vector<std::string> chunks, std::chrono::milliseconds chunk_delay = {});
    static ScriptedReply error(std::string code, std::string message);
    static ScriptedReply fail(std::string message);
};

struct ScriptedRule {
    std::optional<std::string> when_user_says;
    std::optional<std::string> after_tool;
    ScriptedReply reply;
    std::optional<std::string> when_agent = std::nullopt;
};

class ScriptedLlm : public BaseLlm {
public:
    explicit ScriptedLlm(std::vector<ScriptedReply> replies, std::vector<ScriptedRule> rules = {},
                         std::string model = "scripted");

    static std::shared_ptr<ScriptedLlm> make(std::vector<ScriptedReply> replies, std::vector<ScriptedRule> rules = {},
                                             std::string model = "scripted");
    /// From a JSON script (see the header comment); std::invalid_argument on
    /// a malformed script.
    static std::shared_ptr<ScriptedLlm> from_json(const Json& script);
    /// From a JSON file.
    static std::shared_ptr<ScriptedLlm> from_file(const std::string& path);

    aio::AsyncGenerator<LlmResponse> generate_content(LlmRequest request, bool stream) override;

    /// The reply that answers `request` (rules first, then the sequence; see
    /// the header comment), recorded as generate_content records it: what
    /// generate_content plays. ModelError("script exhausted") when none.
    /// For servers that answer from a script in their own wire format.
    ScriptedReply next_reply(const LlmRequest& request);
    /// Plays `reply` as generate_content does: the delay, then the error,
    /// the streamed chunks (stream=true) and the final response.
    static aio::AsyncGenerator<LlmResponse> play(ScriptedReply reply, LlmRequest request, bool stream);

    /// Every request received, in order.
    const std::vector<LlmRequest>& requests() const noexcept { return requests_; }
    std::size_t calls() const noexcept { return requests_.size(); }

private:
    const ScriptedReply& pick(const LlmRequest& request);

    std::vector<ScriptedReply> replies_;
    std::vector<ScriptedRule> rules_;
    std::size_t next_ = 0;
    std::vector<LlmRequest> requests_;
};

ScriptedReply scripted_reply_from_json(const Json& j);

}  // namespace adk
