// adk::ApiServer (adk/api_server.hpp): ADK's HTTP API on aio::http.
//
// Shape of a run (/run, /run_sse):
//   handler task                         consumer task ("drain")
//   parse, admit, take the session gate
//   [start_sse]
//   create_task(drain) ----------------> runner.run(...) ... next() ... write/collect
//   co_await drain task  <--------------- ends (normally, or with the failure recorded)
//   answer (JSON array / error event / finish)
// The consumer is a task of its own so that the cancel routes can stop it
// without cancelling the HTTP handler (which then still answers), while a
// cancelled handler (client disconnect, close()) cancels the consumer it
// awaits, which stops the invocation (Runner's contract) before the handler
// ends.
#include "adk/api_server.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/lock.hpp"
#include "aio/log.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
#include "aio/timeout.hpp"

#ifndef ADK_SERVER_VERSION
#define ADK_SERVER_VERSION "0.1.0"
#endif

namespace adk {

using aio::http::HeaderFields;
using aio::http::ResponseWriter;
using aio::http::ServerRequest;

aio::http::ServerConfig default_api_http_config() {
    aio::http::ServerConfig config;
    config.server_name = "adk-server";
    return config;
}

void to_json(Json& j, const AppInfo& v) {
    j = Json::object();
    j["name"] = v.name;
    j["rootAgentName"] = v.root_agent_name;
    j["description"] = v.description;
    j["language"] = v.language;
}

namespace {

/// An answer other than 2xx: {"error": message} with `status`.
class ApiError : public std::runtime_error {
public:
    ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

constexpr std::size_t kMaxJsonDepth = 100;
constexpr std::string_view kEvalSessionPrefix = "___eval___session___";

bool valid_app_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

/// True when the JSON text nests arrays/objects deeper than `limit`
/// (checked before parsing: nlohmann's copy and dump recurse).
bool nests_deeper_than(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

/// The body as JSON; null for an empty body when `allow_empty`. 400 otherwise.
Json parse_body(const ServerRequest& r, bool allow_empty) {
    if (is_blank(r.body)) {
        if (allow_empty) return Json();
        throw ApiError(400, "the request needs a JSON body");
    }
    if (nests_deeper_than(r.body, kMaxJsonDepth))
        throw ApiError(400, "malformed JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    try {
        return Json::parse(r.body);
    } catch (const Json::exception& e) {
        throw ApiError(400, std::string("malformed JSON: ") + e.what());
    }
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string error_json(std::string_view message) {
    Json j = Json::object();
    j["error"] = std::string(message);
    return dump(j);
}

const Json* field(const Json& j, const char* camel, const char* snake) { return detail::find_key(j, camel, snake); }

/// A required non-empty string field (400 when missing or not a string).
std::string required_string(const Json& j, const char* camel, const char* snake) {
    const Json* v = field(j, camel, snake);
    if (!v || v->is_null()) throw ApiError(400, std::string("missing field '") + camel + "'");
    if (!v->is_string() || v->get_ref<const std::string&>().empty())
        throw ApiError(400, std::string("field '") + camel + "' must be a non-empty string");
    return v->get<std::string>();
}

std::optional<std::string> optional_string(const Json& j, const char* camel, const char* snake) {
    const Json* v = field(j, camel, snake);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) throw ApiError(400, std::string("field '") + camel + "' must be a string");
    return v->get<std::string>();
}

/// An object field (null/absent: nullopt); 400 if it is something else.
std::optional<Json> optional_object(const Json& j, const char* camel, const char* snake) {
    const Json* v = field(j, camel, snake);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_object()) throw ApiError(400, std::string("field '") + camel + "' must be a JSON object");
    return *v;
}

/// "wait" (default) or "fail", from the query (?ifSessionBusy=) or the body.
bool wants_fail_fast(const ServerRequest& r, const Json& body) {
    std::optional<std::string> policy = r.query_param("ifSessionBusy");
    if (!policy) policy = r.query_param("if_session_busy");
    if (!policy && body.is_object()) policy = optional_string(body, "ifSessionBusy", "if_session_busy");
    if (!policy || *policy == "wait") return false;
    if (*policy == "fail") return true;
    throw ApiError(400, "ifSessionBusy must be \"wait\" or \"fail\"");
}

/// A new event from a client's JSON: an id and a timestamp when it has none.
Event event_from_client(const Json& j) {
    if (!j.is_object()) throw ApiError(400, "an event must be a JSON object");
    Event e;
    try {
        e = j.get<Event>();
    } catch (const std::exception& ex) {
        throw ApiError(400, std::string("bad event: ") + ex.what());
    }
    if (e.id.empty()) e.id = new_event_id();
    if (e.timestamp == 0) e.timestamp = now_seconds();
    if (e.author.empty()) e.author = "user";
    return e;
}

/// POST .../sessions[/{id}] body: ADK's CreateSessionRequest {sessionId?,
/// state?, events?}, or (older ADK) the state object itself.
struct CreateSessionRequest {
    std::optional<std::string> session_id;
    Json state = Json::object();
    std::vector<Event> events;
};

CreateSessionRequest read_create_session(const Json& body) {
    CreateSessionRequest req;
    if (body.is_null()) return req;
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    bool request_form = field(body, "sessionId", "session_id") || body.contains("state") || body.contains("events");
    if (!request_form) {
        req.state = body;
        return req;
    }
    req.session_id = optional_string(body, "sessionId", "session_id");
    if (std::optional<Json> state = optional_object(body, "state", nullptr)) req.state = std::move(*state);
    if (const Json* events = field(body, "events", nullptr); events && !events->is_null()) {
        if (!events->is_array()) throw ApiError(400, "field 'events' must be a JSON array");
        for (const Json& e : *events) req.events.push_back(event_from_client(e));
    }
    return req;
}

/// POST /run and /run_sse: ADK's RunAgentRequest.
struct RunRequest {
    std::string app_name;
    std::string user_id;
    std::string session_id;
    Content new_message;
    bool streaming = false;
    std::optional<Json> state_delta;
    bool fail_fast = false;
};

RunRequest read_run_request(const ServerRequest& r, const Json& body) {
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    RunRequest req;
    req.app_name = required_string(body, "appName", "app_name");
    req.user_id = required_string(body, "userId", "user_id");
    req.session_id = required_string(body, "sessionId", "session_id");
    const Json* message = field(body, "newMessage", "new_message");
    if (!message || message->is_null())
        throw ApiError(400, "missing field 'newMessage' (resuming an invocation without a message is not supported)");
    if (!message->is_object()) throw ApiError(400, "field 'newMessage' must be a Content object");
    try {
        req.new_message = message->get<Content>();
    } catch (const std::exception& e) {
        throw ApiError(400, std::string("bad newMessage: ") + e.what());
    }
    if (const Json* s = field(body, "streaming", nullptr); s && !s->is_null()) {
        if (!s->is_boolean()) throw ApiError(400, "field 'streaming' must be a boolean");
        req.streaming = s->get<bool>();
    }
    req.state_delta = optional_object(body, "stateDelta", "state_delta");
    if (std::optional<std::string> inv = optional_string(body, "invocationId", "invocation_id"))
        throw ApiError(400, "resuming an invocation (invocationId) is not supported");
    req.fail_fast = wants_fail_fast(r, body);
    return req;
}

bool is_safe_method(std::string_view m) { return m == "GET" || m == "HEAD" || m == "OPTIONS"; }

std::string language_version() {
    std::string v = "C++" + std::to_string(__cplusplus / 100 % 100);
#if defined(__clang__)
    v += " (clang " + std::to_string(__clang_major__) + "." + std::to_string(__clang_minor__) + ")";
#elif defined(__GNUC__)
    v += " (g++ " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + ")";
#endif
    return v;
}

// --- events as JSON text, without the JSON tree --------------------------------------
//
// dump(Json(event)) builds a tree of the whole event (every part, args and
// response copied into std::map nodes) only to serialise it. The writer
// below emits the same bytes directly for the events agents usually yield:
// keys in the tree's (std::map) order, strings escaped as nlohmann's dump
// (plain ASCII directly, anything else through nlohmann itself), numbers
// through nlohmann's own to_chars, nested Json values (args, responses,
// state deltas) dumped by nlohmann. Anything else (inline data, file data,
// code execution, an artifact delta) goes through the tree as before.
// Debug builds check every event against the tree's text.

void append_json_string(std::string& out, const std::string& s) {
    bool plain = true;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
            plain = false;
            break;
        }
    }
    if (plain) {
        out += '"';
        out += s;
        out += '"';
    } else {
        out += dump(Json(s));
    }
}

void append_json_double(std::string& out, double x) {
    if (!std::isfinite(x)) {
        out += "null";
        return;
    }
    char buf[64];
    char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, static_cast<std::size_t>(end - buf));
}

void append_json_bool(std::string& out, bool b) { out += b ? "true" : "false"; }

void append_json_value(std::string& out, const Json& j) { out += dump(j); }

/// Parts the direct writer handles: text, thought, function call/response.
bool part_is_plain(const Part& p) {
    return !p.thought_signature && !p.inline_data && !p.file_data && !p.executable_code && !p.code_execution_result;
}

bool event_is_plain(const Event& e) {
    if (!e.actions.artifact_delta.empty()) return false;
    if (e.content)
        for (const Part& p : e.content->parts)
            if (!part_is_plain(p)) return false;
    return true;
}

void append_part(std::string& out, const Part& p) {
    // keys in order: functionCall, functionResponse, text, thought
    out += '{';
    bool first = true;
    auto key = [&](const char* k) {
        if (!first) out += ',';
        first = false;
        out += '"';
        out += k;
        out += "\":";
    };
    if (p.function_call) {
        key("functionCall");
        const FunctionCall& c = *p.function_call;
        out += "{\"args\":";
        if (c.args.is_null())
            out += "{}";
        else
            append_json_value(out, c.args);
        if (!c.id.empty()) {
            out += ",\"id\":";
            append_json_string(out, c.id);
        }
        out += ",\"name\":";
        append_json_string(out, c.name);
        out += '}';
    }
    if (p.function_response) {
        key("functionResponse");
        const FunctionResponse& r = *p.function_response;
        out += '{';
        if (!r.id.empty()) {
            out += "\"id\":";
            append_json_string(out, r.id);
            out += ',';
        }
        out += "\"name\":";
        append_json_string(out, r.name);
        out += ",\"response\":";
        if (r.response.is_null())
            out += "{}";
        else
            append_json_value(out, r.response);
        out += '}';
    }
    if (p.text) {
        key("text");
        append_json_string(out, *p.text);
    }
    if (p.thought) {
        key("thought");
        append_json_bool(out, *p.thought);
    }
    out += '}';
}

void append_object_or_empty(std::string& out, const Json& j) {
    if (j.is_object())
        append_json_value(out, j);
    else
        out += "{}";
}

/// dump(Json(e)) for a plain event (event_is_plain).
void append_plain_event(std::string& out, const Event& e) {
    // keys in std::map order: actions, author, branch, content,
    // customMetadata, errorCode, errorMessage, finishReason,
    // groundingMetadata, id, interrupted, invocationId, longRunningToolIds,
    // partial, timestamp, turnComplete, usageMetadata
    const EventActions& a = e.actions;
    out += "{\"actions\":{\"artifactDelta\":{}";
    if (a.escalate) {
        out += ",\"escalate\":";
        append_json_bool(out, *a.escalate);
    }
    out += ",\"requestedAuthConfigs\":";
    append_object_or_empty(out, a.requested_auth_configs);
    out += ",\"requestedToolConfirmations\":";
    if (a.requested_tool_confirmations)
        append_json_value(out, *a.requested_tool_confirmations);
    else
        out += "{}";
    if (a.skip_summarization) {
        out += ",\"skipSummarization\":";
        append_json_bool(out, *a.skip_summarization);
    }
    out += ",\"stateDelta\":";
    append_object_or_empty(out, a.state_delta);
    if (a.transfer_to_agent) {
        out += ",\"transferToAgent\":";
        append_json_string(out, *a.transfer_to_agent);
    }
    out += "},\"author\":";
    append_json_string(out, e.author);
    if (e.branch) {
        out += ",\"branch\":";
        append_json_string(out, *e.branch);
    }
    if (e.content) {
        out += ",\"content\":{\"parts\":[";
        bool first = true;
        for (const Part& p : e.content->parts) {
            if (!first) out += ',';
            first = false;
            append_part(out, p);
        }
        out += ']';
        if (!e.content->role.empty()) {
            out += ",\"role\":";
            append_json_string(out, e.content->role);
        }
        out += '}';
    }
    if (e.custom_metadata) {
        out += ",\"customMetadata\":";
        append_json_value(out, *e.custom_metadata);
    }
    if (e.error_code) {
        out += ",\"errorCode\":";
        append_json_string(out, *e.error_code);
    }
    if (e.error_message) {
        out += ",\"errorMessage\":";
        append_json_string(out, *e.error_message);
    }
    if (e.finish_reason) {
        out += ",\"finishReason\":";
        append_json_string(out, *e.finish_reason);
    }
    if (e.grounding_metadata) {
        out += ",\"groundingMetadata\":";
        append_json_value(out, *e.grounding_metadata);
    }
    out += ",\"id\":";
    append_json_string(out, e.id);
    if (e.interrupted) {
        out += ",\"interrupted\":";
        append_json_bool(out, *e.interrupted);
    }
    out += ",\"invocationId\":";
    append_json_string(out, e.invocation_id);
    out += ",\"longRunningToolIds\":[";
    if (e.long_running_tool_ids) {
        bool first = true;
        for (const std::string& id : *e.long_running_tool_ids) {
            if (!first) out += ',';
            first = false;
            append_json_string(out, id);
        }
    }
    out += ']';
    if (e.partial) {
        out += ",\"partial\":";
        append_json_bool(out, *e.partial);
    }
    out += ",\"timestamp\":";
    append_json_double(out, e.timestamp);
    if (e.turn_complete) {
        out += ",\"turnComplete\":";
        append_json_bool(out, *e.turn_complete);
    }
    if (e.usage_metadata) {
        out += ",\"usageMetadata\":";
        append_json_value(out, *e.usage_metadata);
    }
    out += '}';
}

/// dump(Json(event)), appended to `out`.
void append_event_json(std::string& out, const Event& e) {
    if (!event_is_plain(e)) {
        out += dump(Json(e));
        return;
    }
#ifndef NDEBUG
    const std::size_t start = out.size();
#endif
    append_plain_event(out, e);
#ifndef NDEBUG
    std::string expected = dump(Json(e));
    if (std::string_view(out).substr(start) != expected) {
        std::fprintf(stderr, "adk::ApiServer: event writer mismatch\n  tree:   %s\n  direct: %s\n", expected.c_str(),
                     out.c_str() + start);
        std::abort();
    }
#endif
}

std::string event_json(const Event& e) {
    std::string out;
    out.reserve(512);
    append_event_json(out, e);
    return out;
}

/// The payloads one event is streamed as: as ADK's /run_sse, an event
/// carrying both content and an artifact delta goes out as two (the content
/// without the delta, then the delta without content) for the web UI.
std::vector<std::string> sse_payloads(const Event& event) {
    std::vector<std::string> out;
    if (!event.actions.artifact_delta.empty() && event.content && !event.content->parts.empty()) {
        Event content_event = event;
        content_event.actions.artifact_delta.clear();
        Event artifact_event = event;
        artifact_event.content.reset();
        out.push_back(event_json(content_event));
        out.push_back(event_json(artifact_event));
    } else {
        out.push_back(event_json(event));
    }
    return out;
}

std::string session_key(const std::string& app, const std::string& user, const std::string& session) {
    return app + '\x1f' + user + '\x1f' + session;
}

/// Awaits `waiting` (a Coro<>, or a callable returning one, as aio::timeout
/// takes) for at most `limit`: whether it finished in time.
template <class Body>
aio::Coro<bool> finished_within(std::chrono::milliseconds limit, Body waiting) {
    bool finished = true;
    try {
        aio::Coro<> bounded = aio::timeout(limit, std::move(waiting));
        co_await std::move(bounded);
    } catch (const aio::TimeoutError&) {
        finished = false;
    }
    co_return finished;
}

}  // namespace

// --- the implementation ---------------------------------------------------------------

class ApiServer::Impl : public std::enable_shared_from_this<ApiServer::Impl> {
public:
    explicit Impl(ApiServerOptions options);

    struct App {
        AgentPtr agent;
        RunnerFactory factory;
        std::shared_ptr<Runner> runner;
    };

    /// A run in progress (one per session at a time: it holds the gate).
    struct ActiveRun {
        Runner* runner = nullptr;
        std::string invocation_id;  // once its first event was seen
        aio::Task<void> task;       // the consumer
        bool cancel_requested = false;
        std::vector<Event> events;  // /run: collected
        std::exception_ptr failure;
        aio::Event finished;
    };

    /// A session's turn-taking among this server's runs and PATCHes; `run`
    /// is the run holding it, if any.
    struct Gate {
        aio::Lock lock;
        std::shared_ptr<ActiveRun> run;
    };
    using Gates = detail::KeyedSlots<Gate>;

    /// Counts an admitted run for max_invocations.
    class Admission {
    public:
        explicit Admission(Impl& impl) : impl_(&impl) { ++impl_->stats_.active_runs; }
        ~Admission() { --impl_->stats_.active_runs; }
        Admission(const Admission&) = delete;
        Admission& operator=(const Admission&) = delete;

    private:
        Impl* impl_;
    };

    /// Publishes a run in its gate for as long as it lives; its end wakes
    /// whoever waits for it.
    class RunSlot {
    public:
        RunSlot(Gate& gate, std::shared_ptr<ActiveRun> run) : gate_(&gate), run_(std::move(run)) { gate_->run = run_; }
        ~RunSlot() {
            if (gate_->run == run_) gate_->run.reset();
            run_->finished.set();
        }
        RunSlot(const RunSlot&) = delete;
        RunSlot& operator=(const RunSlot&) = delete;

    private:
        Gate* gate_;
        std::shared_ptr<ActiveRun> run_;
    };

    using Route = aio::Coro<void> (Impl::*)(ServerRequest&, ResponseWriter&);

    static aio::Coro<void> dispatch(std::shared_ptr<Impl> self, ServerRequest& r, ResponseWriter& w);
    static aio::Coro<void> guarded(Impl* self, Route route, ServerRequest& r, ResponseWriter& w);
    static aio::Coro<void> drain(std::shared_ptr<Impl> self, std::shared_ptr<ActiveRun> run, RunRequest req,
                                 ResponseWriter* sse);

    // CORS.
    std::optional<std::string> allowed_origin(const ServerRequest& r) const;
    HeaderFields cors_headers(const ServerRequest& r) const;
    bool origin_permitted(const ServerRequest& r) const;
    aio::Coro<void> preflight(ServerRequest& r, ResponseWriter& w);

    aio::Coro<void> send_json(const ServerRequest& r, ResponseWriter& w, int status, std::string json_text);

    // Apps.
    App* find_app(const std::string& name);
    Runner& runner_of(const std::string& name);  // 404 ApiError when unknown
    Runner& make_runner(const std::string& name, App& app);
    AppInfo info_of(const std::string& name);

    // Runs.
    bool request_cancel(ActiveRun& run);
    aio::Coro<bool> wait_finished(std::shared_ptr<ActiveRun> run);
    std::shared_ptr<ActiveRun> find_run(const std::string& invocation_id) const;
    aio::Coro<Session> prepare_session(SessionService& svc, std::string app, std::string user, std::string sid,
                                       std::optional<Json> state_delta);
    aio::Coro<void> run_agent(ServerRequest& r, ResponseWriter& w, bool sse);
    aio::Coro<void> answer_cancel(ServerRequest& r, ResponseWriter& w, std::shared_ptr<ActiveRun> run);

    // Routes.
    aio::Coro<void> health(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> version(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> list_apps(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> app_info(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> create_session(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> list_sessions(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> get_session(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> delete_session(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> patch_session(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> cancel_in_session(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> cancel_by_id(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> run(ServerRequest& r, ResponseWriter& w) { return run_agent(r, w, false); }
    aio::Coro<void> run_sse(ServerRequest& r, ResponseWriter& w) { return run_agent(r, w, true); }
    aio::Coro<void> list_artifacts(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> load_artifact(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> list_artifact_versions(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> save_artifact(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> delete_artifact(ServerRequest& r, ResponseWriter& w);
    aio::Coro<void> no_route(ServerRequest& r, ResponseWriter& w);

    ArtifactService& artifacts_of(const std::string& app);

    ApiServerOptions options_;
    std::map<std::string, App> apps_;
    Gates gates_;
    aio::http::Router router_;
    aio::http::Server http_;
    std::uint16_t port_ = 0;
    std::string url_;
    bool closing_ = false;
    ApiServerStats stats_;
};

ApiServer::Impl::Impl(ApiServerOptions options) : options_(std::move(options)) {
    if (!options_.session_service) options_.session_service = std::make_shared<InMemorySessionService>();
    if (!options_.artifact_service) options_.artifact_service = std::make_shared<InMemoryArtifactService>();

    // The router's handlers point at this object: it owns the router, and
    // dispatch() keeps it alive while a request runs.
    auto route = [this](Route method) {
        return [this, method](ServerRequest& r, ResponseWriter& w) { return guarded(this, method, r, w); };
    };
    const std::string session = "/apps/{app}/users/{user}/sessions/{session}";
    const std::string artifacts = session + "/artifacts";
    router_.get("/health", route(&Impl::health))
        .get("/version", route(&Impl::version))
        .get("/list-apps", route(&Impl::list_apps))
        .get("/apps/{app}/app-info", route(&Impl::app_info))
        .post("/apps/{app}/users/{user}/sessions", route(&Impl::create_session))
        .get("/apps/{app}/users/{user}/sessions", route(&Impl::list_sessions))
        .post(session, route(&Impl::create_session))
        .get(session, route(&Impl::get_session))
        .del(session, route(&Impl::delete_session))
        .patch(session, route(&Impl::patch_session))
        .post(session + "/cancel", route(&Impl::cancel_in_session))
        .post("/cancel", route(&Impl::cancel_by_id))
        .post("/run", route(&Impl::run))
        .post("/run_sse", route(&Impl::run_sse))
        .get(artifacts, route(&Impl::list_artifacts))
        .post(artifacts, route(&Impl::save_artifact))
        .get(artifacts + "/{name}", route(&Impl::load_artifact))
        .del(artifacts + "/{name}", route(&Impl::delete_artifact))
        .get(artifacts + "/{name}/versions", route(&Impl::list_artifact_versions))
        .get(artifacts + "/{name}/versions/{version}", route(&Impl::load_artifact))
        .fallback(route(&Impl::no_route));
}

// --- dispatch, errors, CORS ----------------------------------------------------------

aio::Coro<void> ApiServer::Impl::dispatch(std::shared_ptr<Impl> self, ServerRequest& r, ResponseWriter& w) {
    if (r.method == "OPTIONS" && r.header("Origin") && r.header("Access-Control-Request-Method")) {
        aio::Coro<void> answering = self->preflight(r, w);
        co_await std::move(answering);
        co_return;
    }
    // Every answer from here on carries the CORS headers, the Router's own
    // 404/405 included (found by fuzz/fuzz_api_server.cpp).
    for (auto& [name, value] : self->cors_headers(r)) w.add_header(std::move(name), std::move(value));
    if (!is_safe_method(r.method) && !self->origin_permitted(r)) {
        std::string body = error_json("origin not allowed: " + std::string(r.header("Origin").value_or("")));
        aio::Coro<void> answering = self->send_json(r, w, 403, std::move(body));
        co_await std::move(answering);
        co_return;
    }
    aio::Coro<void> routing = self->router_(r, w);
    co_await std::move(routing);
}

aio::Coro<void> ApiServer::Impl::guarded(Impl* self, Route route, ServerRequest& r, ResponseWriter& w) {
    int status = 0;
    std::string message;
    try {
        aio::Coro<void> handling = (self->*route)(r, w);
        co_await std::move(handling);
    } catch (const ApiError& e) {
        status = e.status();
        message = e.what();
    } catch (const aio::http::ErrorResponse& e) {
        status = e.status();
        message = e.what();
    } catch (const SessionNotFoundError& e) {
        status = 404;
        message = e.what();
    } catch (const SessionExistsError& e) {
        status = 400;  // ADK answers an existing session id with 400
        message = e.what();
    } catch (const SessionBusyError& e) {
        status = 409;
        message = e.what();
    } catch (const std::invalid_argument& e) {
        status = 400;
        message = e.what();
    } catch (const std::exception& e) {
        status = 500;
        message = e.what();
        aio::log(aio::LogLevel::error, "adk::ApiServer: " + r.method + " " + r.path + " failed: " + message);
    }
    // aio::CancelledError is not a std::exception: it leaves as it came.
    if (status == 0) co_return;
    if (w.headers_sent()) {
        if (!w.finished()) w.abort();
        co_return;
    }
    std::string body = error_json(message);
    aio::Coro<void> answering = self->send_json(r, w, status, std::move(body));
    co_await std::move(answering);
}

std::optional<std::string> ApiServer::Impl::allowed_origin(const ServerRequest& r) const {
    std::optional<std::string_view> origin = r.header("Origin");
    if (!origin) return std::nullopt;
    for (const std::string& allowed : options_.allow_origins)
        if (allowed == "*" || allowed == *origin) return std::string(*origin);
    return std::nullopt;
}

HeaderFields ApiServer::Impl::cors_headers(const ServerRequest& r) const {
    HeaderFields h;
    if (std::optional<std::string> origin = allowed_origin(r)) {
        h.emplace_back("Access-Control-Allow-Origin", std::move(*origin));
        h.emplace_back("Access-Control-Allow-Credentials", "true");
        h.emplace_back("Vary", "Origin");
    }
    return h;
}

bool ApiServer::Impl::origin_permitted(const ServerRequest& r) const {
    std::optional<std::string_view> origin = r.header("Origin");
    if (!origin) return true;  // not a browser's cross-site request
    if (allowed_origin(r)) return true;
    // Same origin: the Origin names this server as the client reached it.
    std::optional<std::string_view> host = r.header("Host");
    return host && (*origin == "http://" + std::string(*host) || *origin == "https://" + std::string(*host));
}

aio::Coro<void> ApiServer::Impl::preflight(ServerRequest& r, ResponseWriter& w) {
    std::optional<std::string> origin = allowed_origin(r);
    if (!origin) {
        std::string body = error_json("Disallowed CORS origin");
        aio::Coro<void> answering = send_json(r, w, 400, std::move(body));
        co_await std::move(answering);
        co_return;
    }
    aio::http::ServerResponse resp;
    resp.status = 200;
    resp.headers = cors_headers(r);
    resp.headers.emplace_back("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
    if (std::optional<std::string_view> asked = r.header("Access-Control-Request-Headers"); asked && !asked->empty())
        resp.headers.emplace_back("Access-Control-Allow-Headers", std::string(*asked));
    resp.headers.emplace_back("Access-Control-Max-Age", "600");
    resp.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    resp.body = "OK";
    co_await w.send(std::move(resp));
}

aio::Coro<void> ApiServer::Impl::send_json(const ServerRequest& r, ResponseWriter& w, int status,
                                           std::string json_text) {
    aio::http::ServerResponse resp;
    resp.status = status;
    (void)r;  // CORS headers: added by dispatch() to every answer
    resp.headers.emplace_back("Content-Type", "application/json");
    resp.body = std::move(json_text);
    co_await w.send(std::move(resp));
}

aio::Coro<void> ApiServer::Impl::no_route(ServerRequest& r, ResponseWriter&) {
    throw ApiError(404, "Not Found: " + r.method + " " + r.path);
    co_return;
}

// --- apps ----------------------------------------------------------------------------

ApiServer::Impl::App* ApiServer::Impl::find_app(const std::string& name) {
    auto it = apps_.find(name);
    return it == apps_.end() ? nullptr : &it->second;
}

Runner& ApiServer::Impl::make_runner(const std::string& name, App& app) {
    if (app.runner) return *app.runner;
    AppServices services{name, options_.session_service, options_.artifact_service};
    std::shared_ptr<Runner> runner = app.factory(services);
    if (!runner) throw std::runtime_error("the runner factory of app '" + name + "' returned no runner");
    if (runner->app_name() != name)
        throw std::runtime_error("the runner of app '" + name + "' is named '" + runner->app_name() + "'");
    app.runner = std::move(runner);
    return *app.runner;
}

Runner& ApiServer::Impl::runner_of(const std::string& name) {
    App* app = find_app(name);
    if (!app) throw ApiError(404, "App not found: " + name);
    return make_runner(name, *app);
}

AppInfo ApiServer::Impl::info_of(const std::string& name) {
    Runner& runner = runner_of(name);
    AppInfo info;
    info.name = name;
    info.root_agent_name = runner.agent().name();
    info.description = runner.agent().description();
    return info;
}

ArtifactService& ApiServer::Impl::artifacts_of(const std::string& app) {
    Runner& runner = runner_of(app);
    ArtifactService* service = runner.artifact_service();
    if (!service) throw ApiError(404, "App '" + app + "' has no artifact service");
    return *service;
}

// --- simple routes -------------------------------------------------------------------

aio::Coro<void> ApiServer::Impl::health(ServerRequest& r, ResponseWriter& w) {
    std::string text = R"({"status":"ok"})";
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::version(ServerRequest& r, ResponseWriter& w) {
    Json body = Json::object();
    body["version"] = ADK_SERVER_VERSION;
    body["language"] = "cpp";
    body["language_version"] = language_version();
    std::string text = dump(body);
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::list_apps(ServerRequest& r, ResponseWriter& w) {
    std::optional<std::string> detailed = r.query_param("detailed");
    bool details = detailed && (*detailed == "true" || *detailed == "True" || *detailed == "1");
    Json body;
    if (details) {
        Json apps = Json::array();
        for (auto& [name, app] : apps_) apps.push_back(Json(info_of(name)));
        body = Json::object();
        body["apps"] = std::move(apps);
    } else {
        body = Json::array();
        for (auto& [name, app] : apps_) body.push_back(name);  // a std::map: sorted
    }
    std::string text = dump(body);
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::app_info(ServerRequest& r, ResponseWriter& w) {
    AppInfo info = info_of(std::string(r.path_param("app")));
    std::string text = dump(Json(info));
    co_await send_json(r, w, 200, std::move(text));
}

// --- sessions ------------------------------------------------------------------------

aio::Coro<void> ApiServer::Impl::create_session(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    std::string user(r.path_param("user"));
    std::string path_id(r.path_param("session"));
    SessionService& svc = runner_of(app).session_service();
    Json body = parse_body(r, true);
    CreateSessionRequest req = read_create_session(body);
    std::string id = !path_id.empty() ? path_id : req.session_id.value_or("");
    bool exists = false;
    std::optional<Session> session;
    try {
        aio::Coro<Session> creating = svc.create_session(app, user, std::move(req.state), id);
        session = co_await std::move(creating);
    } catch (const SessionExistsError&) {
        exists = true;
    }
    if (exists) throw ApiError(400, "Session already exists: " + id);  // ADK-python and ADK-TS: 400
    for (Event& event : req.events) {
        aio::Coro<Event> appending = svc.append_event(*session, std::move(event));
        co_await std::move(appending);
    }
    std::string text = dump(Json(*session));
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::list_sessions(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    SessionService& svc = runner_of(app).session_service();
    aio::Coro<ListSessionsResponse> listing = svc.list_sessions(app, std::string(r.path_param("user")));
    ListSessionsResponse listed = co_await std::move(listing);
    Json body = Json::array();
    for (const Session& s : listed.sessions)
        if (s.id.compare(0, kEvalSessionPrefix.size(), kEvalSessionPrefix) != 0) body.push_back(Json(s));
    std::string text = dump(body);
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::get_session(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    std::string sid(r.path_param("session"));
    SessionService& svc = runner_of(app).session_service();
    aio::Coro<std::optional<Session>> loading = svc.get_session(app, std::string(r.path_param("user")), sid);
    std::optional<Session> session = co_await std::move(loading);
    if (!session) throw ApiError(404, "Session not found: " + sid);
    std::string text = dump(Json(*session));
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::delete_session(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    std::string user(r.path_param("user"));
    std::string sid(r.path_param("session"));
    SessionService& svc = runner_of(app).session_service();
    GetSessionConfig existence;
    existence.num_recent_events = 0;
    aio::Coro<std::optional<Session>> looking = svc.get_session(app, user, sid, existence);
    std::optional<Session> existing = co_await std::move(looking);
    if (!existing) throw ApiError(404, "Session not found: " + sid);  // as ADK-TS (ADK-python: 200)
    // A run in this session is stopped first (its events are whole), so
    // the deletion does not race with its appends.
    Gate* gate = gates_.find(session_key(app, user, sid));
    if (gate && gate->run) {
        std::shared_ptr<ActiveRun> running = gate->run;
        if (request_cancel(*running)) {
            aio::Coro<bool> waiting = wait_finished(running);
            co_await std::move(waiting);
        }
    }
    aio::Coro<> deleting = svc.delete_session(app, user, sid);
    co_await std::move(deleting);
    std::string text = "null";
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<Session> ApiServer::Impl::prepare_session(SessionService& svc, std::string app, std::string user,
                                                    std::string sid, std::optional<Json> state_delta) {
    GetSessionConfig config;
    if (!state_delta) config.num_recent_events = 0;  // only checking that it exists
    aio::Coro<std::optional<Session>> loading = svc.get_session(app, user, sid, config);
    std::optional<Session> session = co_await std::move(loading);
    if (!session) throw ApiError(404, "Session not found: " + sid);
    if (state_delta) {
        // ADK's state-only event: author "user", invocation id "p-<uuid>".
        Event event = Event::make("p-" + new_uuid4(), "user");
        event.actions.state_delta = std::move(*state_delta);
        aio::Coro<Event> appending = svc.append_event(*session, std::move(event));
        co_await std::move(appending);
    }
    co_return std::move(*session);
}

aio::Coro<void> ApiServer::Impl::patch_session(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    std::string user(r.path_param("user"));
    std::string sid(r.path_param("session"));
    SessionService& svc = runner_of(app).session_service();
    Json body = parse_body(r, false);
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    std::optional<Json> delta = optional_object(body, "stateDelta", "state_delta");
    if (!delta) throw ApiError(400, "missing field 'stateDelta'");
    bool fail_fast = wants_fail_fast(r, body);
    Gates::Lease lease(gates_, session_key(app, user, sid));
    if (fail_fast && lease.slot().lock.locked()) {
        ++stats_.rejected_busy;
        throw ApiError(409, "Session '" + sid + "' is running an invocation");
    }
    aio::LockGuard turn = co_await lease.slot().lock.acquire();
    aio::Coro<Session> patching = prepare_session(svc, app, user, sid, std::move(delta));
    Session session = co_await std::move(patching);
    std::string text = dump(Json(session));
    co_await send_json(r, w, 200, std::move(text));
}

// --- runs ----------------------------------------------------------------------------

aio::Coro<void> ApiServer::Impl::drain(std::shared_ptr<Impl> self, std::shared_ptr<ActiveRun> run, RunRequest req,
                                       ResponseWriter* sse) {
    (void)self;  // keeps the server (and so the runner) alive
    RunConfig config;
    config.streaming_mode = req.streaming ? StreamingMode::sse : StreamingMode::none;
    config.if_session_busy = req.fail_fast ? BusySessionPolicy::fail : BusySessionPolicy::wait;
    config.state_delta = std::move(req.state_delta);  // on the user's event, as ADK does
    aio::AsyncGenerator<Event> events =
        run->runner->run(std::move(req.user_id), std::move(req.session_id), std::move(req.new_message), config);
    std::exception_ptr failure;
    try {
        for (;;) {
            std::optional<Event> event = co_await events.next();
            if (!event) break;
            if (run->invocation_id.empty()) run->invocation_id = event->invocation_id;
            if (sse) {
                std::vector<std::string> payloads = sse_payloads(*event);
                for (const std::string& payload : payloads) co_await sse->send_event(payload);
            } else {
                run->events.push_back(std::move(*event));
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // A failure while writing leaves the invocation suspended at its
        // yield: stop it and wait until it has unwound.
        try {
            co_await events.aclose();
        } catch (...) {
        }
        run->failure = failure;
    }
}

bool ApiServer::Impl::request_cancel(ActiveRun& run) {
    if (run.finished.is_set()) return false;
    run.cancel_requested = true;
    // Known id: the runner stops it (the consumer sees
    // InvocationCancelledError between two events, never mid-write).
    if (!run.invocation_id.empty()) return run.runner->cancel(run.invocation_id);
    // No event yet: the consumer is waiting for the first one; cancelling
    // it stops the invocation (Runner's contract for a cancelled consumer).
    if (run.task && !run.task.done()) return run.task.cancel("adk::ApiServer: cancelled through the API");
    return false;
}

aio::Coro<bool> ApiServer::Impl::wait_finished(std::shared_ptr<ActiveRun> run) {
    auto waiting = [run]() -> aio::Coro<> { co_await run->finished.wait(); };
    aio::Coro<bool> bounded = finished_within(options_.cancel_wait, std::move(waiting));
    const bool finished = co_await std::move(bounded);
    co_return finished;
}

std::shared_ptr<ApiServer::Impl::ActiveRun> ApiServer::Impl::find_run(const std::string& invocation_id) const {
    std::shared_ptr<ActiveRun> found;
    gates_.for_each([&](const std::string&, const Gate& gate) {
        if (!found && gate.run && gate.run->invocation_id == invocation_id) found = gate.run;
    });
    return found;
}

namespace {

enum class RunEnd { ok, cancelled, not_found, busy, failed };

RunEnd classify(const std::exception_ptr& failure, std::string& message) {
    try {
        std::rethrow_exception(failure);
    } catch (const InvocationCancelledError& e) {
        message = e.what();
        return RunEnd::cancelled;
    } catch (const aio::CancelledError&) {
        message = "the invocation was cancelled";
        return RunEnd::cancelled;
    } catch (const SessionNotFoundError& e) {
        message = e.what();
        return RunEnd::not_found;
    } catch (const SessionBusyError& e) {
        message = e.what();
        return RunEnd::busy;
    } catch (const std::exception& e) {
        message = e.what();
        return RunEnd::failed;
    } catch (...) {
        message = "unknown error";
        return RunEnd::failed;
    }
}

}  // namespace

aio::Coro<void> ApiServer::Impl::run_agent(ServerRequest& r, ResponseWriter& w, bool sse) {
    Json body = parse_body(r, false);
    RunRequest req = read_run_request(r, body);
    Runner& runner = runner_of(req.app_name);
    if (closing_) throw ApiError(503, "the server is shutting down");
    if (options_.max_invocations != 0 && stats_.active_runs >= options_.max_invocations) {
        ++stats_.rejected_overload;
        throw ApiError(503, "too many invocations running (limit " + std::to_string(options_.max_invocations) + ")");
    }
    Admission admitted(*this);

    // One run per session: wait for the session's turn (or 409 at once).
    Gates::Lease lease(gates_, session_key(req.app_name, req.user_id, req.session_id));
    if (req.fail_fast && lease.slot().lock.locked()) {
        ++stats_.rejected_busy;
        throw ApiError(409, "Session '" + req.session_id + "' is running an invocation");
    }
    aio::LockGuard turn = co_await lease.slot().lock.acquire();
    aio::Coro<Session> preparing =
        prepare_session(runner.session_service(), req.app_name, req.user_id, req.session_id, std::nullopt);
    co_await std::move(preparing);  // 404 when the session does not exist

    if (sse) {
        HeaderFields headers;  // CORS: added by dispatch()
        // The head leaves with the first event (one send instead of two).
        w.defer_head();
        co_await w.start_sse(std::move(headers));
    }
    auto run = std::make_shared<ActiveRun>();
    run->runner = &runner;
    RunSlot slot(lease.slot(), run);
    ++stats_.runs_started;
    aio::Coro<void> draining = drain(shared_from_this(), run, std::move(req), sse ? &w : nullptr);
    run->task = aio::create_task(std::move(draining));

    std::exception_ptr waited;
    try {
        co_await run->task;
    } catch (...) {
        waited = std::current_exception();
    }
    std::optional<aio::AnyTask> me = aio::current_task();
    if (me && me->cancelling() > 0) {
        // The client went away (or the server closes): the consumer was
        // cancelled with us and the invocation has stopped.
        ++stats_.runs_disconnected;
        if (waited) std::rethrow_exception(waited);
        throw aio::CancelledError("adk::ApiServer: the request was cancelled");
    }
    std::exception_ptr failure = waited ? waited : run->failure;
    std::string message;
    RunEnd end = failure ? classify(failure, message) : RunEnd::ok;
    if (sse && !w.connection_open()) {
        // The stream broke while we wrote (the client went away first).
        ++stats_.runs_disconnected;
        w.abort();
        co_return;
    }
    switch (end) {
        case RunEnd::ok: ++stats_.runs_completed; break;
        case RunEnd::cancelled: ++stats_.runs_cancelled; break;
        default: ++stats_.runs_failed; break;
    }
    if (end == RunEnd::cancelled && !run->invocation_id.empty())
        message = "Invocation " + run->invocation_id + " was cancelled";

    if (sse) {
        if (end != RunEnd::ok && w.connection_open() && !w.finished()) {
            Json error = Json::object();
            error["error"] = message;
            if (end == RunEnd::cancelled) error["cancelled"] = true;
            if (!run->invocation_id.empty()) error["invocationId"] = run->invocation_id;
            std::string text = dump(error);
            co_await w.send_event(text);
        }
        if (w.streaming()) co_await w.finish();
        co_return;
    }
    if (end == RunEnd::ok) {
        std::string text = "[";
        for (const Event& e : run->events) {
            if (text.size() > 1) text += ',';
            append_event_json(text, e);
        }
        text += ']';
        co_await send_json(r, w, 200, std::move(text));
        co_return;
    }
    int status = end == RunEnd::not_found ? 404 : (end == RunEnd::cancelled || end == RunEnd::busy) ? 409 : 500;
    Json error = Json::object();
    error["error"] = message;
    if (end == RunEnd::cancelled) {
        error["cancelled"] = true;
        if (!run->invocation_id.empty()) error["invocationId"] = run->invocation_id;
        Json events = Json::array();
        for (const Event& e : run->events) events.push_back(Json(e));
        error["events"] = std::move(events);
    }
    std::string text = dump(error);
    co_await send_json(r, w, status, std::move(text));
}

aio::Coro<void> ApiServer::Impl::answer_cancel(ServerRequest& r, ResponseWriter& w, std::shared_ptr<ActiveRun> run) {
    if (!request_cancel(*run)) {
        std::string body = error_json("the invocation is not running");
        co_await send_json(r, w, 404, std::move(body));
        co_return;
    }
    aio::Coro<bool> waiting = wait_finished(run);
    bool stopped = co_await std::move(waiting);
    Json body = Json::object();
    body["cancelled"] = true;
    body["stopped"] = stopped;
    body["invocationId"] = run->invocation_id.empty() ? Json(nullptr) : Json(run->invocation_id);
    std::string text = dump(body);
    co_await send_json(r, w, stopped ? 200 : 202, std::move(text));
}

aio::Coro<void> ApiServer::Impl::cancel_in_session(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    std::string user(r.path_param("user"));
    std::string sid(r.path_param("session"));
    runner_of(app);  // 404 for an unknown app
    Json body = parse_body(r, true);
    std::optional<std::string> wanted = r.query_param("invocationId");
    if (!wanted) wanted = r.query_param("invocation_id");
    if (!wanted && body.is_object()) wanted = optional_string(body, "invocationId", "invocation_id");
    Gate* gate = gates_.find(session_key(app, user, sid));
    std::shared_ptr<ActiveRun> run = gate ? gate->run : nullptr;
    if (!run || run->finished.is_set())
        throw ApiError(404, "no invocation is running in session '" + sid + "'");
    if (wanted && !run->invocation_id.empty() && *wanted != run->invocation_id)
        throw ApiError(404, "invocation '" + *wanted + "' is not running in session '" + sid + "'");
    aio::Coro<void> answering = answer_cancel(r, w, std::move(run));
    co_await std::move(answering);
}

aio::Coro<void> ApiServer::Impl::cancel_by_id(ServerRequest& r, ResponseWriter& w) {
    Json body = parse_body(r, true);
    std::optional<std::string> id = r.query_param("invocationId");
    if (!id && body.is_object()) id = optional_string(body, "invocationId", "invocation_id");
    if (!id || id->empty()) throw ApiError(400, "missing field 'invocationId'");
    if (std::shared_ptr<ActiveRun> run = find_run(*id)) {
        aio::Coro<void> answering = answer_cancel(r, w, std::move(run));
        co_await std::move(answering);
        co_return;
    }
    // Not one of ours (or its first event has not come yet): ask every runner.
    Runner* owner = nullptr;
    for (auto& [name, app] : apps_)
        if (app.runner && app.runner->cancel(*id)) {
            owner = app.runner.get();
            break;
        }
    if (!owner) throw ApiError(404, "no running invocation '" + *id + "'");
    aio::Coro<bool> bounded = finished_within(options_.cancel_wait, owner->wait_stopped(*id));
    const bool stopped = co_await std::move(bounded);
    Json answer = Json::object();
    answer["cancelled"] = true;
    answer["stopped"] = stopped;
    answer["invocationId"] = *id;
    std::string text = dump(answer);
    co_await send_json(r, w, stopped ? 200 : 202, std::move(text));
}

// --- artifacts -----------------------------------------------------------------------

aio::Coro<void> ApiServer::Impl::list_artifacts(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    ArtifactService& svc = artifacts_of(app);
    aio::Coro<std::vector<std::string>> listing =
        svc.list_artifact_keys(app, std::string(r.path_param("user")), std::string(r.path_param("session")));
    std::vector<std::string> names = co_await std::move(listing);
    std::string text = dump(Json(names));
    co_await send_json(r, w, 200, std::move(text));
}

namespace {
std::optional<int> parse_version(std::optional<std::string> text) {
    if (!text) return std::nullopt;
    int v = -1;
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc() || ptr != end || v < 0) throw ApiError(400, "bad artifact version '" + *text + "'");
    return v;
}
}  // namespace

aio::Coro<void> ApiServer::Impl::load_artifact(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    ArtifactService& svc = artifacts_of(app);
    std::optional<std::string> version_text;
    if (std::string_view v = r.path_param("version"); !v.empty())
        version_text = std::string(v);
    else
        version_text = r.query_param("version");
    std::optional<int> version = parse_version(std::move(version_text));
    aio::Coro<std::optional<Part>> loading =
        svc.load_artifact(app, std::string(r.path_param("user")), std::string(r.path_param("session")),
                          std::string(r.path_param("name")), version);
    std::optional<Part> part = co_await std::move(loading);
    if (!part) throw ApiError(404, "Artifact not found");
    std::string text = dump(Json(*part));
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::list_artifact_versions(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    ArtifactService& svc = artifacts_of(app);
    aio::Coro<std::vector<int>> listing =
        svc.list_versions(app, std::string(r.path_param("user")), std::string(r.path_param("session")),
                          std::string(r.path_param("name")));
    std::vector<int> versions = co_await std::move(listing);
    std::string text = dump(Json(versions));
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::save_artifact(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    ArtifactService& svc = artifacts_of(app);
    Json body = parse_body(r, false);
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    std::string filename = required_string(body, "filename", nullptr);
    const Json* artifact = field(body, "artifact", nullptr);
    if (!artifact || !artifact->is_object()) throw ApiError(400, "field 'artifact' must be a Part object");
    Part part;
    try {
        part = artifact->get<Part>();
    } catch (const std::exception& e) {
        throw ApiError(400, std::string("bad artifact: ") + e.what());
    }
    std::optional<Json> metadata = optional_object(body, "customMetadata", "custom_metadata");
    std::optional<std::string> mime;
    if (part.inline_data) mime = part.inline_data->mime_type;
    else if (part.file_data) mime = part.file_data->mime_type;
    else if (part.text) mime = "text/plain";
    aio::Coro<int> saving = svc.save_artifact(app, std::string(r.path_param("user")),
                                              std::string(r.path_param("session")), filename, std::move(part));
    int version = co_await std::move(saving);
    // ADK's ArtifactVersion (metadata is echoed, not stored by this service).
    Json answer = Json::object();
    answer["version"] = version;
    answer["customMetadata"] = metadata.value_or(Json::object());
    answer["createTime"] = now_seconds();
    if (mime && !mime->empty()) answer["mimeType"] = *mime;
    std::string text = dump(answer);
    co_await send_json(r, w, 200, std::move(text));
}

aio::Coro<void> ApiServer::Impl::delete_artifact(ServerRequest& r, ResponseWriter& w) {
    std::string app(r.path_param("app"));
    ArtifactService& svc = artifacts_of(app);
    aio::Coro<> deleting = svc.delete_artifact(app, std::string(r.path_param("user")),
                                               std::string(r.path_param("session")), std::string(r.path_param("name")));
    co_await std::move(deleting);
    std::string text = "null";
    co_await send_json(r, w, 200, std::move(text));
}

// --- ApiServer -----------------------------------------------------------------------

ApiServer::ApiServer(ApiServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

ApiServer::~ApiServer() {
    if (!impl_) return;
    impl_->closing_ = true;
    if (impl_->http_) {
        impl_->http_.close();
        impl_->http_ = aio::http::Server();  // the server's handler holds the Impl: drop our link
    }
}

ApiServer::ApiServer(ApiServer&&) noexcept = default;
ApiServer& ApiServer::operator=(ApiServer&&) noexcept = default;

void ApiServer::add_app(std::string name, AgentPtr root_agent) {
    if (!root_agent) throw std::invalid_argument("ApiServer::add_app: null agent for app '" + name + "'");
    if (!valid_app_name(name))
        throw std::invalid_argument("ApiServer::add_app: bad app name '" + name + "' (letters, digits and '_')");
    if (impl_->apps_.count(name)) throw std::invalid_argument("ApiServer::add_app: app '" + name + "' exists");
    Impl::App app;
    app.agent = root_agent;
    app.runner = std::make_shared<Runner>(name, std::move(root_agent), impl_->options_.session_service,
                                          impl_->options_.artifact_service);
    impl_->apps_.emplace(std::move(name), std::move(app));
}

void ApiServer::add_app(std::string name, RunnerFactory factory) {
    if (!factory) throw std::invalid_argument("ApiServer::add_app: empty runner factory for app '" + name + "'");
    if (!valid_app_name(name))
        throw std::invalid_argument("ApiServer::add_app: bad app name '" + name + "' (letters, digits and '_')");
    if (impl_->apps_.count(name)) throw std::invalid_argument("ApiServer::add_app: app '" + name + "' exists");
    Impl::App app;
    app.factory = std::move(factory);
    impl_->apps_.emplace(std::move(name), std::move(app));
}

bool ApiServer::has_app(const std::string& name) const { return impl_->apps_.count(name) != 0; }

std::vector<std::string> ApiServer::app_names() const {
    std::vector<std::string> names;
    for (const auto& [name, app] : impl_->apps_) names.push_back(name);
    return names;
}

Runner& ApiServer::runner(const std::string& app_name) {
    Impl::App* app = impl_->find_app(app_name);
    if (!app) throw std::out_of_range("ApiServer: no app '" + app_name + "'");
    return impl_->make_runner(app_name, *app);
}

AppInfo ApiServer::app_info(const std::string& app_name) {
    runner(app_name);
    return impl_->info_of(app_name);
}

SessionService& ApiServer::session_service() const noexcept { return *impl_->options_.session_service; }
ArtifactService& ApiServer::artifact_service() const noexcept { return *impl_->options_.artifact_service; }
const ApiServerOptions& ApiServer::options() const noexcept { return impl_->options_; }

void ApiServer::add_route(std::string method, std::string pattern, aio::http::Handler handler) {
    // The router holds the handlers by value: adding one while requests run
    // could move a handler whose coroutine still uses its captures.
    if (impl_->http_) throw std::logic_error("ApiServer::add_route: the server has started");
    if (!handler) throw std::invalid_argument("ApiServer::add_route: empty handler");
    impl_->router_.add(std::move(method), std::move(pattern), std::move(handler));
}

aio::http::Handler ApiServer::handler() const {
    std::shared_ptr<Impl> impl = impl_;
    return [impl](ServerRequest& r, ResponseWriter& w) -> aio::Coro<void> { return Impl::dispatch(impl, r, w); };
}

aio::Coro<> ApiServer::start() {
    if (impl_->http_) throw std::logic_error("ApiServer::start: already started");
    aio::http::ServerConfig config = impl_->options_.http;
    aio::http::Handler h = handler();
    aio::http::Server server = co_await aio::http::start_server(std::move(h), std::move(config));
    impl_->http_ = server;
    impl_->port_ = server.port();
    impl_->url_ = server.url();
    impl_->closing_ = false;
}

std::uint16_t ApiServer::port() const { return impl_->port_; }
std::string ApiServer::url() const { return impl_->url_; }

aio::Coro<> ApiServer::serve_forever() {
    aio::http::Server server = impl_->http_;
    if (!server) throw std::logic_error("ApiServer::serve_forever: not started");
    co_await server.serve_forever();
}

void ApiServer::close() {
    impl_->closing_ = true;
    if (impl_->http_) impl_->http_.close();
}

aio::Coro<> ApiServer::aclose() {
    std::shared_ptr<Impl> impl = impl_;
    impl->closing_ = true;
    aio::http::Server server = impl->http_;
    if (server) {
        server.close();
        co_await server.wait_closed();
        impl->http_ = aio::http::Server();
    }
    for (auto& [name, app] : impl->apps_) {
        if (!app.runner) continue;
        aio::Coro<> closing = app.runner->close();
        co_await std::move(closing);
    }
}

bool ApiServer::cancel_invocation(const std::string& invocation_id) {
    if (std::shared_ptr<Impl::ActiveRun> run = impl_->find_run(invocation_id)) return impl_->request_cancel(*run);
    for (auto& [name, app] : impl_->apps_)
        if (app.runner && app.runner->cancel(invocation_id)) return true;
    return false;
}

ApiServerStats ApiServer::stats() const { return impl_->stats_; }

}  // namespace adk
