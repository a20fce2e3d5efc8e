// adk/context.hpp — adk::InvocationContext, adk::RunConfig and
// adk::StreamingMode.
//
// An invocation is one Runner::run call: a user message in, events out until
// the final response. Every agent that runs gets its own InvocationContext
// copy (agent and branch differ); the session, the services and the
// invocation-wide counters are shared by pointer.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "adk/content.hpp"

namespace adk {

class BaseAgent;
struct Session;
class SessionService;

enum class StreamingMode { none, sse };

struct RunConfig {
    /// sse: models stream text as partial events, then one aggregated event.
    StreamingMode streaming_mode = StreamingMode::none;
    /// Model calls allowed in one invocation; <= 0 means unbounded.
    int max_llm_calls = 500;
};

/// More model calls than RunConfig::max_llm_calls in one invocation.
class LlmCallsLimitExceededError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Invocation-wide mutable state, shared by every context copy.
struct InvocationShared {
    int llm_calls = 0;
    /// Set by callbacks or tools: stop the invocation after the current step.
    bool end_invocation = false;
};

struct InvocationContext {
    std::string invocation_id;
    /// Dotted agent path; parallel children get "<parent>.<parallel>.<child>".
    std::optional<std::string> branch;
    /// The agent this context was made for.
    BaseAgent* agent = nullptr;
    /// The user message that started the invocation.
    std::optional<Content> user_content;
    /// The invocation's copy of the session (owned by the runner).
    Session* session = nullptr;
    SessionService* session_service = nullptr;
    RunConfig run_config;
    std::shared_ptr<InvocationShared> shared = std::make_shared<InvocationShared>();

    const std::string& app_name() const;
    const std::string& user_id() const;
    /// Counts one model call; LlmCallsLimitExceededError past the limit.
    void increment_llm_call_count();
    bool end_invocation() const noexcept { return shared->end_invocation; }
    void set_end_invocation() noexcept { shared->end_invocation = true; }
};

}  // namespace adk
