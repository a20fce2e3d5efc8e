// adk::mcp::StreamableHttpTransport (adk/mcp/http_transport.hpp).
#include "adk/mcp/http_transport.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/http/client.hpp"
#include "aio/http/sse.hpp"
#include "aio/log.hpp"
#include "aio/sleep.hpp"
#include "aio/timeout.hpp"
#include "task_bag.hpp"

namespace adk::mcp {

struct StreamableHttpTransport::State {
    StreamableHttpParams params;
    std::unique_ptr<aio::http::Client> client;
    TransportSink* sink = nullptr;
    std::string session_id;
    std::string protocol_version;
    detail::TaskBag tasks;
    /// The POST task of each request in flight, by id_key.
    std::unordered_map<std::string, aio::Task<>> posts;
    /// Requests in flight whose response was delivered (by id_key).
    std::set<std::string> answered;
    bool started = false;
    bool closing = false;
    bool close_done = false;
    bool reported = false;
    bool get_stream_open = false;
    aio::Event closed_event;

    void deliver(Json message) {
        if (closing || !sink) return;
        MessageKind kind = classify(message);
        if ((kind == MessageKind::response || kind == MessageKind::error) && message.contains("id")) {
            std::string key = id_key(message["id"]);
            if (posts.contains(key)) answered.insert(key);
        }
        sink->on_message(std::move(message));
    }

    /// Delivers a JSON body or one event's data: an object or a batch.
    void deliver_text(std::string_view text) {
        if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;  // priming event
        Json parsed = Json::parse(text, nullptr, false);
        if (parsed.is_discarded() || !(parsed.is_object() || parsed.is_array()))
            throw McpProtocolError("MCP server at " + params.url + " sent a message that is not JSON-RPC: " +
                                   std::string(text.substr(0, 120)));
        if (parsed.is_array()) {
            for (Json& m : parsed) deliver(std::move(m));
        } else {
            deliver(std::move(parsed));
        }
    }

    void fail_request(const Json& id, std::exception_ptr error) {
        if (closing || !sink) return;
        sink->on_request_failed(id, std::move(error));
    }

    void report_closed(std::exception_ptr error) {
        if (closing || reported || !sink) return;
        reported = true;
        TransportSink* s = sink;
        s->on_closed(std::move(error));
    }

    aio::http::Request make_request(std::string method) const {
        aio::http::Request req;
        req.method = std::move(method);
        req.url = params.url;
        for (const auto& [k, v] : params.headers) req.headers.set(k, v);
        if (!session_id.empty()) req.headers.set("Mcp-Session-Id", session_id);
        if (!protocol_version.empty()) req.headers.set("MCP-Protocol-Version", protocol_version);
        return req;
    }
};

namespace {

using StatePtr = std::shared_ptr<StreamableHttpTransport::State>;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool is_event_stream(const aio::http::Headers& h) {
    return lower(h.value("content-type")).starts_with("text/event-stream");
}
bool is_json(const aio::http::Headers& h) { return lower(h.value("content-type")).starts_with("application/json"); }

/// The error a non-2xx answer stands for (the body may hold a JSON-RPC error).
std::exception_ptr status_error(int status, const std::string& body, const std::string& url) {
    int code = error_code::INTERNAL_ERROR;
    std::string message = body.substr(0, 300);
    Json parsed = Json::parse(body, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error")) {
        McpError e = error_from_json(parsed["error"]);
        code = e.code();
        message = e.message();
    }
    return std::make_exception_ptr(
        McpHttpStatusError(status, code, "HTTP " + std::to_string(status) + " from " + url + ": " + message));
}

/// Reads an event stream, delivering each event's message. Returns when the
/// stream ends; the parser keeps the last event id and retry.
aio::Coro<bool> pump_events(StatePtr st, aio::AsyncGenerator<std::string>& body, aio::http::SseParser& parser) {
    bool any = false;
    std::vector<aio::http::SseEvent> events;
    while (true) {
        std::optional<std::string> chunk = co_await body.next();
        if (!chunk) break;
        events.clear();
        parser.feed(*chunk, events);
        for (aio::http::SseEvent& ev : events) {
            any = true;
            if (ev.event != "message" && !ev.event.empty()) continue;
            st->deliver_text(ev.data);
            if (st->closing) co_return any;
        }
    }
    parser.finish();
    co_return any;
}

aio::Coro<> post_message(StatePtr st, Json message) {
    MessageKind kind = classify(message);
    bool is_request = kind == MessageKind::request;
    Json id = is_request ? message["id"] : Json(nullptr);
    std::string key = is_request ? id_key(id) : std::string();
    bool is_initialize = is_request && message.value("method", "") == "initialize";
    std::string method = message.value("method", kind == MessageKind::notification ? "notification" : "response");
    std::exception_ptr failure;
    bool resume = false;
    aio::http::SseParser parser(st->params.max_message_bytes);
    try {
        aio::http::Request req = st->make_request("POST");
        req.headers.set("Content-Type", "application/json");
        req.headers.set("Accept", "application/json, text/event-stream");
        req.body = message.dump(-1, ' ', false, Json::error_handler_t::replace);
        aio::http::StreamResponse resp = co_await st->client->stream(std::move(req));
        if (is_initialize) {
            if (auto sid = resp.headers.get("mcp-session-id")) st->session_id = std::string(*sid);
        }
        if (resp.status == 404 && !st->session_id.empty() && !is_initialize) {
            std::string body = co_await resp.read();
            (void)body;
            st->report_closed(std::make_exception_ptr(McpConnectionError(
                "MCP session " + st->session_id + " at " + st->params.url + " expired (HTTP 404)")));
        } else if (!resp.ok()) {
            std::string body = co_await resp.read();
            failure = status_error(resp.status, body, st->params.url);
        } else if (resp.status == 202 || resp.status == 204) {
            std::string body = co_await resp.read();
            (void)body;
            if (is_request)
                failure = std::make_exception_ptr(McpProtocolError(
                    "MCP server at " + st->params.url + " accepted request `" + method + "` without answering it"));
        } else if (is_event_stream(resp.headers)) {
            co_await pump_events(st, resp.body, parser);
            if (is_request && !st->answered.contains(key)) {
                if (parser.last_event_id().empty())
                    failure = std::make_exception_ptr(McpConnectionError(
                        "the event stream of `" + method + "` at " + st->params.url + " ended without a response"));
                else
                    resume = true;
            }
        } else {
            std::string body = co_await resp.read();
            if (body.size() > st->params.max_message_bytes)
                throw McpProtocolError("MCP server at " + st->params.url + " sent a message over the size limit");
            if (!body.empty() || is_json(resp.headers)) st->deliver_text(body);
            if (is_request && !st->answered.contains(key) && !st->closing)
                failure = std::make_exception_ptr(McpProtocolError(
                    "MCP server at " + st->params.url + " answered `" + method + "` with no response for it"));
        }
    } catch (const McpError&) {
        failure = std::current_exception();
    } catch (const aio::http::HttpError& e) {
        // A connection that broke in the middle of an event stream that
        // had event ids is resumable.
        if (is_request && !parser.last_event_id().empty() && !st->answered.contains(key))
            resume = true;
        else
            failure = std::make_exception_ptr(McpConnectionError(std::string("MCP `") + method + "` to " +
                                                                 st->params.url + " failed: " + e.what()));
    } catch (const std::exception& e) {
        failure = std::make_exception_ptr(McpConnectionError(std::string("MCP `") + method + "` to " +
                                                             st->params.url + " failed: " + e.what()));
    }
    // Resumption (SEP-1699): GET with Last-Event-ID after the server's retry.
    for (int attempt = 0; resume && attempt < st->params.max_reconnects && !st->closing; ++attempt) {
        std::chrono::milliseconds delay = parser.retry().value_or(st->params.default_retry);
        co_await aio::sleep(delay);
        try {
            aio::http::Request req = st->make_request("GET");
            req.headers.set("Accept", "text/event-stream");
            req.headers.set("Last-Event-ID", parser.last_event_id());
            req.idle_timeout = st->params.sse_read_timeout;
            aio::http::StreamResponse resp = co_await st->client->stream(std::move(req));
            if (!resp.ok() || !is_event_stream(resp.headers)) {
                std::string body = co_await resp.read();
                failure = status_error(resp.status, body, st->params.url);
                resume = false;
                break;
            }
            co_await pump_events(st, resp.body, parser);
        } catch (const McpError&) {
            failure = std::current_exception();
            resume = false;
            break;
        } catch (const aio::http::HttpError& e) {
            failure = std::make_exception_ptr(McpConnectionError(std::string("resuming `") + method + "` at " +
                                                                 st->params.url + " failed: " + e.what()));
        }
        if (st->answered.contains(key)) {
            resume = false;
            failure = nullptr;
        }
    }
    if (resume && !failure)
        failure = std::make_exception_ptr(McpConnectionError("no response to `" + method + "` from " +
                                                             st->params.url + " after resuming its stream"));
    if (is_request) {
        bool answered = st->answered.erase(key) > 0;
        st->posts.erase(key);
        if (failure && !answered) st->fail_request(id, failure);
    } else if (failure && !st->closing) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            aio::log(aio::LogLevel::warning, std::string("mcp: sending a ") + method + " failed: " + e.what());
        }
    }
}

aio::Coro<> get_stream(StatePtr st) {
    aio::http::SseParser parser(st->params.max_message_bytes);
    int failures = 0;
    while (!st->closing) {
        bool progressed = false;
        try {
            aio::http::Request req = st->make_request("GET");
            req.headers.set("Accept", "text/event-stream");
            if (!parser.last_event_id().empty()) req.headers.set("Last-Event-ID", parser.last_event_id());
            req.idle_timeout = st->params.sse_read_timeout;
            aio::http::StreamResponse resp = co_await st->client->stream(std::move(req));
            if (resp.status == 405 || resp.status == 404 || !resp.ok() || !is_event_stream(resp.headers)) {
                // This server offers no standing stream (or not any more).
                co_await resp.aclose();
                co_return;
            }
            progressed = co_await pump_events(st, resp.body, parser);
        } catch (const McpError& e) {
            aio::log(aio::LogLevel::warning, std::string("mcp: the GET stream of ") + st->params.url + ": " + e.what());
        } catch (const aio::http::HttpError&) {
            // Dropped: reconnect below.
        }
        if (st->closing) co_return;
        failures = progressed ? 0 : failures + 1;
        if (failures > st->params.max_reconnects) co_return;
        co_await aio::sleep(parser.retry().value_or(st->params.default_retry));
    }
}

aio::Coro<> delete_session(StatePtr st) {
    aio::http::Request req = st->make_request("DELETE");
    req.timeout = st->params.timeout;
    try {
        aio::http::Response resp = co_await st->client->request(std::move(req));
        (void)resp;
    } catch (const std::exception&) {
        // Best effort: the server may be gone already.
    }
}

}  // namespace

StreamableHttpTransport::StreamableHttpTransport(StreamableHttpParams params) : state_(std::make_shared<State>()) {
    state_->params = std::move(params);
}

StreamableHttpTransport::~StreamableHttpTransport() { abort(); }

aio::Coro<> StreamableHttpTransport::start(TransportSink* sink) {
    State& st = *state_;
    if (st.started) throw std::logic_error("StreamableHttpTransport::start: already started");
    st.started = true;
    st.sink = sink;
    aio::http::ClientOptions options;
    options.connect_timeout = st.params.timeout;
    options.idle_timeout = st.params.sse_read_timeout;
    options.follow_redirects = true;
    options.user_agent = "adk-mcp/0.1";
    st.client = std::make_unique<aio::http::Client>(std::move(options));
    co_return;
}

void StreamableHttpTransport::send(Json message) {
    State& st = *state_;
    if (!st.client || st.closing) return;
    MessageKind kind = classify(message);
    if (kind == MessageKind::notification && message.value("method", "") == "notifications/cancelled") {
        // Close the cancelled request's stream: servers keep it open.
        const Json* params = message.contains("params") ? &message["params"] : nullptr;
        if (params && params->contains("requestId")) {
            auto it = st.posts.find(id_key((*params)["requestId"]));
            if (it != st.posts.end()) {
                st.answered.erase(it->first);
                it->second.cancel();
                st.posts.erase(it);
            }
        }
    }
    std::string key = kind == MessageKind::request ? id_key(message["id"]) : std::string();
    aio::Task<> task = st.tasks.spawn(post_message(state_, std::move(message)), "mcp-http-post");
    if (!key.empty() && !task.done()) st.posts[key] = task;
}

void StreamableHttpTransport::set_protocol_version(std::string version) {
    state_->protocol_version = std::move(version);
}

void StreamableHttpTransport::initialized() {
    State& st = *state_;
    if (!st.params.open_get_stream || st.get_stream_open || st.closing || !st.client) return;
    st.get_stream_open = true;
    st.tasks.spawn(get_stream(state_), "mcp-http-get");
}

aio::Coro<> StreamableHttpTransport::close() {
    StatePtr st = state_;
    if (st->closing) {
        if (!st->close_done && st->client) co_await st->closed_event.wait();
        co_return;
    }
    st->closing = true;
    st->sink = nullptr;
    st->posts.clear();
    co_await st->tasks.cancel_and_wait();
    if (st->client && st->params.terminate_on_close && !st->session_id.empty()) co_await delete_session(st);
    if (st->client) st->client->close();
    st->close_done = true;
    st->closed_event.set();
}

void StreamableHttpTransport::abort() noexcept {
    State& st = *state_;
    st.sink = nullptr;
    if (st.closing && st.close_done) return;
    st.closing = true;
    st.posts.clear();
    st.tasks.cancel_all();
}

std::string StreamableHttpTransport::describe() const { return "http: " + state_->params.url; }

const std::string& StreamableHttpTransport::session_id() const noexcept { return state_->session_id; }

}  // namespace adk::mcp
