// adk/mcp/http_transport.hpp — adk::mcp::StreamableHttpTransport: the MCP
// Streamable HTTP transport (spec 2025-03-26 and later) over aio::http.
//
//   adk::mcp::StreamableHttpParams p{.url = "http://127.0.0.1:3001/mcp"};
//   auto session = co_await adk::mcp::ClientSession::connect(
//       adk::mcp::StreamableHttpTransport::make(std::move(p)));
//
// - Every message is a POST to the endpoint (Accept: application/json,
//   text/event-stream). A request's answer comes back as a JSON body or as
//   an event stream on that POST (progress notifications and server
//   requests first, then the response); a notification or a response gets
//   202 Accepted.
// - The Mcp-Session-Id the server gives in the initialize answer is sent
//   with every later request, and MCP-Protocol-Version once negotiated.
// - After initialization a standing GET stream receives the server's own
//   messages (requests such as elicitation/create, notifications); a server
//   that has none answers 405 and is left alone. The stream reconnects after
//   the server's `retry` (or default_retry), sending Last-Event-ID.
// - Resumption: a POST stream that ends before the response, after events
//   with an `id`, is resumed with GET + Last-Event-ID after the server's
//   `retry` delay, up to max_reconnects times.
// - Cancelling a request (the session sends notifications/cancelled) closes
//   that request's POST stream: servers keep it open otherwise.
// - A non-2xx answer to a request fails it with McpHttpStatusError; 404 with
//   a session id means the session expired: McpConnectionError, the whole
//   transport is closed. Network failures (refused, reset) fail the request
//   with McpConnectionError — never with aio::CancelledError.
// - close() cancels the streams and, with terminate_on_close, DELETEs the
//   session (bounded by `timeout`).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "adk/mcp/transport.hpp"

namespace adk::mcp {

struct StreamableHttpParams {
    /// The MCP endpoint, e.g. "http://127.0.0.1:3001/mcp".
    std::string url{};
    /// Sent with every request (authorization...).
    std::map<std::string, std::string> headers{};
    /// Connection timeout, and the bound on the DELETE at close.
    std::chrono::milliseconds timeout{30000};
    /// An event stream with no byte for this long is dropped (and, for the
    /// standing GET stream, reopened).
    std::chrono::milliseconds sse_read_timeout{300000};
    /// DELETE the session at close().
    bool terminate_on_close = true;
    /// Open the standing GET stream after initialization.
    bool open_get_stream = true;
    /// The reconnection delay when the server sent no `retry`.
    std::chrono::milliseconds default_retry{1000};
    /// Reconnection attempts in a row (resumption of one request, or the GET stream).
    int max_reconnects = 5;
    /// The largest message (JSON body or one event's data).
    std::size_t max_message_bytes = 8 * 1024 * 1024;
};

class StreamableHttpTransport final : public Transport {
public:
    explicit StreamableHttpTransport(StreamableHttpParams params);
    ~StreamableHttpTransport() override;
    static std::shared_ptr<StreamableHttpTransport> make(StreamableHttpParams params) {
        return std::make_shared<StreamableHttpTransport>(std::move(params));
    }

    aio::Coro<> start(TransportSink* sink) override;
    void send(Json message) override;
    void set_protocol_version(std::string version) override;
    void initialized() override;
    aio::Coro<> close() override;
    void abort() noexcept override;
    std::string describe() const override;

    /// The server's Mcp-Session-Id, if it gave one.
    const std::string& session_id() const noexcept;

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace adk::mcp
