// adk::Event, adk::EventActions, LlmResponse JSON and ids (adk/event.hpp).
#include "adk/event.hpp"

#include <chrono>
#include <cstdint>
#include <random>
#include <type_traits>

namespace adk {

namespace {

std::mt19937_64& rng() {
    thread_local std::mt19937_64 gen = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }();
    return gen;
}

template <class T>
void read_opt(const Json& j, const char* camel, const char* snake, std::optional<T>& out) {
    if (const Json* v = detail::find_key(j, camel, snake)) out = v->get<T>();
    else out.reset();
}
template <class T>
void read_opt(const Json& j, const char* camel, const char* snake, Boxed<T>& out) {
    if (const Json* v = detail::find_key(j, camel, snake)) out = v->get<T>();
    else out.reset();
}

/// An empty object is kept as null (no allocation); it reads and is
/// written the same (see event.hpp).
Json compact_object(const Json& v) { return v.is_object() && v.empty() ? Json() : v; }

void merge_object(Json& into, const Json& from) {
    if (!from.is_object() || from.empty()) return;
    if (!into.is_object()) into = Json::object();
    for (auto it = from.begin(); it != from.end(); ++it) into[it.key()] = it.value();
}

// Vectors of events are reallocated by moving them only if that cannot throw.
static_assert(std::is_nothrow_move_constructible_v<Part>);
static_assert(std::is_nothrow_move_constructible_v<EventActions>);
static_assert(std::is_nothrow_move_constructible_v<Event>);

}  // namespace

std::string new_event_id() {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<int> dist(0, 61);
    std::string id(8, ' ');
    for (char& c : id) c = alphabet[dist(rng())];
    return id;
}

std::string new_uuid4() {
    std::uint64_t hi = rng()();
    std::uint64_t lo = rng()();
    hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};                 // version 4
    lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);     // variant 10xx
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (int i = 15; i >= 0; --i) {
        s += hex[(hi >> (i * 4)) & 0xF];
        if (i == 8 || i == 4) s += '-';
    }
    s += '-';
    for (int i = 15; i >= 0; --i) {
        s += hex[(lo >> (i * 4)) & 0xF];
        if (i == 12) s += '-';
    }
    return s;
}

std::string new_invocation_id() { return "e-" + new_uuid4(); }
std::string new_function_call_id() { return kFunctionCallIdPrefix + new_uuid4(); }

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// ---- LlmResponse ------------------------------------------------------------

void to_json(Json& j, const LlmResponse& v) {
    if (!j.is_object()) j = Json::object();
    if (v.content) j["content"] = *v.content;
    if (v.partial) j["partial"] = *v.partial;
    if (v.turn_complete) j["turnComplete"] = *v.turn_complete;
    if (v.interrupted) j["interrupted"] = *v.interrupted;
    if (v.error_code) j["errorCode"] = *v.error_code;
    if (v.error_message) j["errorMessage"] = *v.error_message;
    if (v.finish_reason) j["finishReason"] = *v.finish_reason;
    if (v.usage_metadata) j["usageMetadata"] = *v.usage_metadata;
    if (v.grounding_metadata) j["groundingMetadata"] = *v.grounding_metadata;
    if (v.custom_metadata) j["customMetadata"] = *v.custom_metadata;
}
void from_json(const Json& j, LlmResponse& v) {
    read_opt(j, "content", nullptr, v.content);
    read_opt(j, "partial", nullptr, v.partial);
    read_opt(j, "turnComplete", "turn_complete", v.turn_complete);
    read_opt(j, "interrupted", nullptr, v.interrupted);
    read_opt(j, "errorCode", "error_code", v.error_code);
    read_opt(j, "errorMessage", "error_message", v.error_message);
    read_opt(j, "finishReason", "finish_reason", v.finish_reason);
    read_opt(j, "usageMetadata", "usage_metadata", v.usage_metadata);
    read_opt(j, "groundingMetadata", "grounding_metadata", v.grounding_metadata);
    read_opt(j, "customMetadata", "custom_metadata", v.custom_metadata);
}

// ---- EventActions -----------------------------------------------------------

void EventActions::merge(const EventActions& other) {
    if (other.skip_summarization) skip_summarization = skip_summarization.value_or(false) || *other.skip_summarization;
    if (other.escalate) escalate = escalate.value_or(false) || *other.escalate;
    if (other.transfer_to_agent) transfer_to_agent = other.transfer_to_agent;
    merge_object(state_delta, other.state_delta);
    for (const auto& [k, ver] : other.artifact_delta) artifact_delta[k] = ver;
    merge_object(requested_auth_configs, other.requested_auth_configs);
    if (other.requested_tool_confirmations) {
        if (!requested_tool_confirmations) requested_tool_confirmations = Json::object();
        for (auto it = other.requested_tool_confirmations->begin(); it != other.requested_tool_confirmations->end();
             ++it)
            (*requested_tool_confirmations)[it.key()] = it.value();
    }
}

void to_json(Json& j, const EventActions& v) {
    j = Json::object();
    j["stateDelta"] = v.state_delta.is_object() ? v.state_delta : Json::object();
    j["artifactDelta"] = Json::object();
    for (const auto& [k, ver] : v.artifact_delta) j["artifactDelta"][k] = ver;
    j["requestedAuthConfigs"] = v.requested_auth_configs.is_object() ? v.requested_auth_configs : Json::object();
    // Always written, like the three maps above: ADK-TS writes {} and [] for
    // these two, and its web UI and clients expect the keys.
    j["requestedToolConfirmations"] = v.requested_tool_confirmations ? *v.requested_tool_confirmations : Json::object();
    if (v.skip_summarization) j["skipSummarization"] = *v.skip_summarization;
    if (v.transfer_to_agent) j["transferToAgent"] = *v.transfer_to_agent;
    if (v.escalate) j["escalate"] = *v.escalate;
}
void from_json(const Json& j, EventActions& v) {
    v = EventActions{};
    if (const Json* x = detail::find_key(j, "stateDelta", "state_delta")) v.state_delta = compact_object(*x);
    if (const Json* x = detail::find_key(j, "artifactDelta", "artifact_delta"))
        for (auto it = x->begin(); it != x->end(); ++it) v.artifact_delta[it.key()] = it.value().get<int>();
    if (const Json* x = detail::find_key(j, "requestedAuthConfigs", "requested_auth_configs"))
        v.requested_auth_configs = compact_object(*x);
    read_opt(j, "requestedToolConfirmations", "requested_tool_confirmations", v.requested_tool_confirmations);
    read_opt(j, "skipSummarization", "skip_summarization", v.skip_summarization);
    read_opt(j, "transferToAgent", "transfer_to_agent", v.transfer_to_agent);
    read_opt(j, "escalate", nullptr, v.escalate);
}

// ---- Event ------------------------------------------------------------------

Event Event::make(std::string invocation_id, std::string author) {
    Event e;
    e.id = new_event_id();
    e.invocation_id = std::move(invocation_id);
    e.author = std::move(author);
    e.timestamp = now_seconds();
    return e;
}

Event Event::from_response(LlmResponse response, std::string invocation_id, std::string author) {
    Event e = make(std::move(invocation_id), std::move(author));
    static_cast<LlmResponse&>(e) = std::move(response);
    return e;
}

std::vector<FunctionCall> Event::function_calls() const {
    std::vector<FunctionCall> out;
    if (content)
        for (const Part& p : content->parts)
            if (p.function_call) out.push_back(*p.function_call);
    return out;
}

std::vector<FunctionResponse> Event::function_responses() const {
    std::vector<FunctionResponse> out;
    if (content)
        for (const Part& p : content->parts)
            if (p.function_response) out.push_back(*p.function_response);
    return out;
}

bool Event::has_trailing_code_execution_result() const {
    return content && !content->parts.empty() && content->parts.back().code_execution_result.has_value();
}

bool Event::is_final_response() const {
    if (actions.skip_summarization.value_or(false)) return true;
    if (long_running_tool_ids && !long_running_tool_ids->empty()) return true;
    if (content)
        for (const Part& p : content->parts)
            if (p.function_call || p.function_response) return false;
    return !is_partial() && !has_trailing_code_execution_result();
}

void to_json(Json& j, const Event& v) {
    j = Json::object();
    to_json(j, static_cast<const LlmResponse&>(v));
    j["id"] = v.id;
    j["invocationId"] = v.invocation_id;
    j["author"] = v.author;
    if (v.branch) j["branch"] = *v.branch;
    j["actions"] = v.actions;
    j["longRunningToolIds"] = v.long_running_tool_ids ? Json(*v.long_running_tool_ids) : Json::array();
    j["timestamp"] = v.timestamp;
}
void from_json(const Json& j, Event& v) {
    v = Event{};
    from_json(j, static_cast<LlmResponse&>(v));
    if (const Json* x = detail::find_key(j, "id", nullptr)) v.id = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "invocationId", "invocation_id")) v.invocation_id = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "author", nullptr)) v.author = x->get<std::string>();
    read_opt(j, "branch", nullptr, v.branch);
    if (const Json* x = detail::find_key(j, "actions", nullptr)) v.actions = x->get<EventActions>();
    read_opt(j, "longRunningToolIds", "long_running_tool_ids", v.long_running_tool_ids);
    if (const Json* x = detail::find_key(j, "timestamp", nullptr)) v.timestamp = x->get<double>();
}

}  // namespace adk
