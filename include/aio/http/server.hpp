// aio/http/server.hpp — an HTTP/1.1 server on aio streams: aio::http::Server,
// its request parser, ResponseWriter (Content-Length, chunked and SSE
// responses) and a small Router.
//
//   aio::http::Router router;
//   router.get("/health", [](aio::http::ServerRequest&) -> aio::Coro<aio::http::ServerResponse> {
//       co_return aio::http::ServerResponse::json(200, R"({"status":"ok"})");
//   });
//   router.post("/apps/{app}/run_sse", run_sse);   // Coro<void>(ServerRequest&, ResponseWriter&)
//   aio::http::ServerConfig config;                // a named local (g++ 12, see below)
//   config.port = 8000;
//   aio::http::Server server = co_await aio::http::start_server(std::move(router), config);
//   co_await server.serve_forever();               // until server.close()
//
// Per connection one task reads with aio::StreamReader and parses with
// Debian's libhttp-parser (incremental: any split of the bytes gives the
// same requests). Requests on one connection are answered one at a time, in
// order (pipelining-safe). The body is read whole (up to max_body_bytes,
// Content-Length or chunked) before the handler runs; Expect: 100-continue
// is answered. Each request's handler runs in its own task while the
// connection task watches the socket: a client that disconnects (EOF or
// reset) cancels the handler (ServerConfig::cancel_on_disconnect).
//
// Limits, and what a client gets past them (JSON bodies {"error": "..."};
// the connection is closed after each of these):
//   header bytes / count over the limit      431
//   body over max_body_bytes                 413 (before reading it when
//                                            Content-Length says so)
//   bytes that are not HTTP/1.x              400
//   a request not complete within request_timeout   408
//   max_connections open connections         503 for the next ones
//   nothing sent for idle_timeout (between requests)   closed silently
// A handler that throws aio::http::ErrorResponse(status, message) answers with
// that status; any other exception answers 500 (the detail goes to
// aio::log, not to the client); a handler that returns without answering
// answers 500. An error after a streamed response started drops the
// connection (the client sees a truncated body, never a clean end).
//
// Cancellation (what a cancellation at that point leaves behind):
//   start_server: nothing (the listening socket is closed).
//   serve_forever: stops waiting only; the server keeps serving.
//   wait_closed / aclose: stops waiting only; the close goes on.
//   ResponseWriter::send / start / write / send_event / finish: the bytes
//     already queued are still sent; the response is incomplete and the
//     server drops the connection after the handler ends.
//   a handler task: cancelled by a client disconnect or by close(); if it
//     had not answered, a 503 goes out when the client is still there.
//
// Threads: a Server and its handlers belong to the loop that started it.
//
// g++ 12: ServerConfig has std::string members: build it in a named local,
// never as a braced temporary inside a co_await expression.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/coro.hpp"
#include "aio/streams.hpp"

namespace aio::http {

/// Header fields in order, names as sent (compare them case-insensitively).
using HeaderFields = std::vector<std::pair<std::string, std::string>>;

/// ASCII case-insensitive equality (header names).
bool iequals(std::string_view a, std::string_view b) noexcept;
/// Percent-decoding ("+" stays "+" unless `plus_as_space`); invalid escapes are kept as written.
std::string percent_decode(std::string_view s, bool plus_as_space = false);
/// A string as a JSON string literal, quotes included (bytes that are not
/// valid UTF-8 become U+FFFD: the result is always valid JSON).
std::string json_quote(std::string_view s);

/// One parsed request, as a handler receives it.
struct ServerRequest {
    std::string method;  // "GET", "POST"...
    std::string target;  // the request-target as sent: "/a/b?x=1"
    std::string path;    // the target up to '?' (not decoded): "/a/b"
    std::string query;   // after '?', without the fragment (not decoded)
    HeaderFields headers;
    std::string body;    // the whole body (chunked bodies are de-chunked)
    unsigned short version_major = 1;
    unsigned short version_minor = 1;
    /// The client lets the connection stay open after this request.
    bool keep_alive = true;
    /// The client asked for a protocol upgrade (not supported: the
    /// connection closes after the answer).
    bool upgrade = false;
    /// Path parameters filled by the Router ({name} in the pattern), decoded.
    std::vector<std::pair<std::string, std::string>> path_params;
    /// "host:port" of the client ("" when unknown).
    std::string peer;

    /// The first header with this name (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    /// The first query parameter with this name, decoded ("+" is a space).
    std::optional<std::string> query_param(std::string_view name) const;
    /// The path parameter's value, "" when the pattern has no such name.
    std::string_view path_param(std::string_view name) const noexcept;
};

/// A complete response (sent with Content-Length).
struct ServerResponse {
    int status = 200;
    HeaderFields headers;
    std::string body;

    static ServerResponse text(int status, std::string body,
                               std::string content_type = "text/plain; charset=utf-8");
    /// `json_text` must already be JSON.
    static ServerResponse json(int status, std::string json_text);
    /// {"error": message}.
    static ServerResponse error(int status, std::string_view message);
};

/// Thrown by a handler (or anything it calls) to answer with `status` and
/// {"error": message}, when nothing was sent yet.
class ErrorResponse : public std::runtime_error {
public:
    ErrorResponse(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

/// The reason phrase of a status code ("Not Found"; "Unknown" when none).
std::string_view reason_phrase(int status) noexcept;

// --- the request parser --------------------------------------------------------------

/// Incremental HTTP/1.x request parser over libhttp-parser: feed it bytes
/// as they arrive, in any split; it stops right after each complete request
/// so that pipelined requests are taken one at a time. Never throws on bad
/// input: it reports an error status (400, 413, 431) and a message.
class RequestParser {
public:
    struct Limits {
        std::size_t max_header_bytes = 16 * 1024;  // request line + header fields
        std::size_t max_headers = 100;
        std::size_t max_body_bytes = 1024 * 1024;
    };
    enum class Status : std::uint8_t { need_more, complete, error };

    explicit RequestParser(Limits limits);
    RequestParser() : RequestParser(Limits{}) {}
    RequestParser(RequestParser&&) noexcept;
    RequestParser& operator=(RequestParser&&) noexcept;
    ~RequestParser();

    /// Consumes bytes; returns how many. Stops after a complete request (the
    /// rest belongs to the next one: feed it after take()) or at an error.
    std::size_t feed(std::string_view data);
    /// The connection ended: a request in progress becomes an error (400).
    void feed_eof();

    Status status() const noexcept;
    /// A request has begun (blank lines between requests do not count).
    bool started() const noexcept;
    bool headers_complete() const noexcept;
    /// The headers asked for "Expect: 100-continue" and the body is still to come.
    bool expects_continue() const noexcept;
    /// After an error: 400, 413 or 431, and a description.
    int error_status() const noexcept;
    const std::string& error_message() const noexcept;

    /// The complete request (status() == complete); the parser is then
    /// ready for the next request on the same connection.
    ServerRequest take();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// --- responses -------------------------------------------------------------------------

class Server;
namespace detail {
struct ServerImpl;
struct Exchange;
}  // namespace detail

/// Writes the answer to one request. Either send() once, or start() /
/// start_sse() then write() / send_event() any number of times and
/// finish() (the server finishes a started stream when the handler returns).
/// Every method flushes what it wrote, waiting while the client reads
/// slower than we write (at most write_timeout: then the connection is
/// dropped and aio::TimeoutError raised).
///
/// Errors: once the connection is lost, methods raise
/// aio::ConnectionResetError (or the connection's error); std::logic_error
/// for a misuse (send() after start(), a header with CR/LF...).
class ResponseWriter {
public:
    ResponseWriter(const ResponseWriter&) = delete;
    ResponseWriter& operator=(const ResponseWriter&) = delete;

    /// The whole response, with Content-Length.
    Coro<void> send(ServerResponse response);
    Coro<void> send(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
    Coro<void> send_json(int status, std::string json_text);
    /// {"error": message}.
    Coro<void> send_error(int status, std::string_view message);

    /// Starts a streamed response: chunked for HTTP/1.1 clients, delimited
    /// by closing the connection for HTTP/1.0 ones.
    Coro<void> start(int status, HeaderFields headers = {});
    /// Sends one chunk now (an empty `data` sends nothing).
    Coro<void> write(std::string_view data);
    /// Ends the streamed response (the terminating chunk). Idempotent.
    Coro<void> finish();

    /// start(200) with Content-Type: text/event-stream, Cache-Control: no-cache.
    Coro<void> start_sse(HeaderFields extra_headers = {});
    /// One Server-Sent Event: "event:", "id:" (when not empty) and one
    /// "data:" line per line of `data`, then a blank line; flushed.
    Coro<void> send_event(std::string_view data, std::string_view event = {}, std::string_view id = {});
    /// A comment line (": text"), e.g. a keep-alive ping.
    Coro<void> send_comment(std::string_view text);

    /// A streamed response started after this call (start(), start_sse())
    /// keeps its head until the first chunk (or finish()) and sends both in
    /// one write: one system call less per response when the first chunk
    /// follows soon (adk::ApiServer's /run_sse). The client then sees the
    /// head with the first chunk rather than at start().
    void defer_head() noexcept { defer_head_ = true; }

    /// Drops the connection now: what was written but not sent is lost and
    /// a streamed response ends without its terminating chunk.
    void abort() noexcept;
    /// Ask for the connection to close after this response.
    void close_connection() noexcept { keep_alive_ = false; }
    /// A header for whatever response this writer sends — the handler's, or
    /// the server's own error answer (CORS headers from a wrapping handler,
    /// a request id...). Before the response starts: std::logic_error after.
    void add_header(std::string name, std::string value);

    bool headers_sent() const noexcept { return state_ != State::idle; }
    bool streaming() const noexcept { return state_ == State::streaming; }
    bool finished() const noexcept { return state_ == State::done; }
    bool aborted() const noexcept { return state_ == State::aborted; }
    int status() const noexcept { return status_; }
    /// The connection stays open after this response (so far).
    bool keep_alive() const noexcept { return keep_alive_; }
    /// The connection is neither closing nor lost.
    bool connection_open() const noexcept;

private:
    friend struct detail::Exchange;
    friend struct detail::ServerImpl;
    enum class State : std::uint8_t { idle, streaming, done, aborted };

    ResponseWriter(StreamWriter writer, const ServerRequest& request, std::chrono::milliseconds write_timeout,
                   const std::string* server_name);
    std::string head(int status, const HeaderFields& headers, std::optional<std::size_t> content_length);
    Coro<void> flush();
    void check_idle(const char* what) const;

    StreamWriter writer_;
    HeaderFields extra_headers_;
    std::chrono::milliseconds write_timeout_;
    const std::string* server_name_;
    int status_ = 0;
    State state_ = State::idle;
    bool head_only_ = false;  // HEAD request: no body bytes
    bool http10_ = false;
    bool chunked_ = false;
    bool keep_alive_ = true;
    bool defer_head_ = false;
    std::string pending_head_;  // start()'s head, deferred (defer_head())
};

/// What the server calls for each request.
using Handler = std::function<Coro<void>(ServerRequest&, ResponseWriter&)>;

// --- routing ---------------------------------------------------------------------------

/// Method + path routing. Patterns are '/'-separated segments; a segment is
/// a literal, or `{name}` with an optional literal prefix and suffix
/// (`{model}:generateContent`), or, last, `{name...}` for the rest of the
/// path. Segments are percent-decoded before matching. A path that matches
/// with another method gets 405 (with Allow); HEAD falls back to GET; no
/// match at all goes to the fallback (404 {"error": ...} by default).
/// Routes are tried in the order they were added.
///
/// A route's handler is a callable `Coro<void>(ServerRequest&,
/// ResponseWriter&)` or `Coro<ServerResponse>(ServerRequest&)`. The Router
/// is copied into the server: handlers live as long as it.
class Router {
public:
    Router();

    template <class F>
    Router& add(std::string method, std::string pattern, F handler) {
        return add_handler(std::move(method), std::move(pattern), to_handler(std::move(handler)));
    }
    template <class F>
    Router& get(std::string pattern, F h) {
        return add("GET", std::move(pattern), std::move(h));
    }
    template <class F>
    Router& post(std::string pattern, F h) {
        return add("POST", std::move(pattern), std::move(h));
    }
    template <class F>
    Router& put(std::string pattern, F h) {
        return add("PUT", std::move(pattern), std::move(h));
    }
    template <class F>
    Router& patch(std::string pattern, F h) {
        return add("PATCH", std::move(pattern), std::move(h));
    }
    template <class F>
    Router& del(std::string pattern, F h) {
        return add("DELETE", std::move(pattern), std::move(h));
    }
    /// Called when no route's path matches.
    template <class F>
    Router& fallback(F handler) {
        fallback_ = to_handler(std::move(handler));
        return *this;
    }

    /// Dispatches: fills request.path_params and returns the handler's Coro.
    Coro<void> operator()(ServerRequest& request, ResponseWriter& writer) const;

    struct Piece {
        std::string prefix;  // literal (the whole segment when !param)
        std::string name;    // parameter name, empty for a literal segment
        std::string suffix;
        bool rest = false;   // {name...}
    };
    struct Route {
        std::string method;
        std::vector<Piece> pieces;
        Handler handler;
    };

private:
    Router& add_handler(std::string method, std::string pattern, Handler h);

    template <class F>
    static Handler to_handler(F f) {
        if constexpr (std::is_invocable_r_v<Coro<void>, F&, ServerRequest&, ResponseWriter&>) {
            return Handler(std::move(f));
        } else {
            static_assert(std::is_invocable_r_v<Coro<ServerResponse>, F&, ServerRequest&>,
                          "a route handler is Coro<void>(ServerRequest&, ResponseWriter&) or "
                          "Coro<ServerResponse>(ServerRequest&)");
            auto shared = std::make_shared<F>(std::move(f));
            return [shared](ServerRequest& r, ResponseWriter& w) -> Coro<void> {
                return respond_with(shared, r, w);
            };
        }
    }
    template <class F>
    static Coro<void> respond_with(std::shared_ptr<F> f, ServerRequest& r, ResponseWriter& w) {
        Coro<ServerResponse> making = (*f)(r);
        ServerResponse response = co_await std::move(making);
        co_await w.send(std::move(response));
    }

    std::vector<Route> routes_;
    Handler fallback_;
};

// --- the server ------------------------------------------------------------------------

struct ServerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: a free port (see Server::port())
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_headers = 100;
    std::size_t max_body_bytes = 1024 * 1024;
    /// Open connections beyond this get 503 and are closed.
    std::size_t max_connections = 1024;
    /// A request (headers and body) must arrive within this, from its first byte.
    std::chrono::milliseconds request_timeout{30'000};
    /// A connection with no request in progress closes after this.
    std::chrono::milliseconds idle_timeout{15'000};
    /// A client that reads nothing for this long while we write is dropped.
    std::chrono::milliseconds write_timeout{60'000};
    /// A client that disconnects (EOF or reset) while its request is being
    /// handled cancels the handler. Off: the handler runs to its end.
    bool cancel_on_disconnect = true;
    /// The Server header ("" sends none).
    std::string server_name = "aio-http";
    int backlog = 128;
};

/// Counters since the server started.
struct ServerStats {
    std::uint64_t connections = 0;         // accepted
    std::uint64_t requests = 0;            // handed to the handler
    std::uint64_t rejected = 0;            // 400/408/413/431/503 answered by the server itself
    std::uint64_t disconnect_cancels = 0;  // handlers cancelled by a client disconnect
};

/// A running HTTP server: a cheap shared handle. Dropping the last handle
/// stops listening (as aio::Server does); requests in progress finish.
/// close() also cancels them.
class Server {
public:
    Server() = default;

    std::uint16_t port() const;
    const std::string& host() const;
    /// "http://host:port".
    std::string url() const;
    /// Connections open now.
    std::size_t connections() const;
    ServerStats stats() const;
    bool is_serving() const;

    /// Stops accepting, cancels every handler and closes every connection
    /// (a request being handled gets 503 if it had no answer yet). Returns
    /// at once; wait_closed() waits for all of it. Idempotent.
    void close();
    /// Waits until every connection task and handler has finished.
    Coro<void> wait_closed();
    /// close() then wait_closed().
    Coro<void> aclose();
    /// Waits until close() (returns normally then).
    Coro<void> serve_forever();

    explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

    // Internal.
    explicit Server(std::shared_ptr<detail::ServerImpl> impl) noexcept : impl_(std::move(impl)) {}

private:
    std::shared_ptr<detail::ServerImpl> impl_;
};

/// Listens on config.host:config.port and serves every connection with
/// `handler` (a Handler, a Router, or any callable `Coro<void>(ServerRequest&,
/// ResponseWriter&)`, copied into the server).
Coro<Server> start_server(Handler handler, ServerConfig config);
inline Coro<Server> start_server(Router router, ServerConfig config) {
    return start_server(Handler(std::move(router)), std::move(config));
}

}  // namespace aio::http
