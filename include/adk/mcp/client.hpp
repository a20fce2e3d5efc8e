// adk/mcp/client.hpp — adk::mcp::ClientSession: an MCP client session (the
// protocol side: JSON-RPC requests matched by id, notifications, the
// server's requests answered, the initialize handshake) over any
// adk::mcp::Transport.
//
//   auto transport = adk::mcp::StdioTransport::make({.command = "node", .args = {"server.js"}});
//   std::shared_ptr<adk::mcp::ClientSession> s = co_await adk::mcp::ClientSession::connect(transport);
//   Json tools = co_await s->list_tools();                      // every page
//   Json r = co_await s->call_tool("echo", {{"message", "hi"}});  // the CallToolResult
//   co_await s->close();
//
// Requests run concurrently (each awaits its own response, matched by id;
// the server's ids may be numbers or strings). The server's requests are
// answered on their own tasks: ping; roots/list from options.roots;
// sampling/createMessage through options.sampling_llm (an adk::BaseLlm) or
// options.sampling_handler; elicitation/create through
// options.elicitation_handler. Capabilities are declared for what is
// configured. Progress: RequestOptions::on_progress sends a progressToken
// and receives each notifications/progress of that request.
//
// Protocol version: initialize offers options.protocol_version (default
// LATEST_PROTOCOL_VERSION); a server answering a version outside
// SUPPORTED_PROTOCOL_VERSIONS is refused: connect() closes the transport and
// raises McpProtocolError.
//
// Failures (adk/mcp/jsonrpc.hpp): the server's error reply -> McpError with
// its code/message/data; no answer within the timeout -> McpTimeoutError
// (and notifications/cancelled is sent); the connection dies (server exits,
// prints garbage, HTTP endpoint gone) -> every pending call fails at once
// with McpConnectionError, and later calls raise it at once (is_closed()).
// Never aio::CancelledError, which means only "your task was cancelled".
//
// Cancellation (one line each):
// - request(), call_tool() and the other calls: notifications/cancelled
//   {requestId, reason} is sent, the request is forgotten, its late response
//   and progress are ignored; the session stays usable.
// - connect(): the transport is aborted (the child killed); nothing is left.
// - close(): the shutdown runs on its own task and goes on to its end (the
//   pending calls have already failed); a later close() waits for it.
//
// Lifetime: held by std::shared_ptr. close() may be called from any task,
// any number of times (later calls wait for the first). Dropping the last
// reference without close() aborts: pending calls fail, the child is
// killed, nothing waits.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adk/mcp/jsonrpc.hpp"
#include "adk/mcp/transport.hpp"
#include "aio/coro.hpp"

namespace adk {
class BaseLlm;
}

namespace adk::mcp {

/// clientInfo sent on initialize.
struct Implementation {
    std::string name = "adk-cpp";
    std::string version = "0.1.0";
};

/// A root offered to the server (roots/list).
struct Root {
    std::string uri;   // "file:///home/me/project"
    std::string name{};
};

/// One notifications/progress of a request.
struct Progress {
    double progress = 0;
    std::optional<double> total;
    std::string message;
};

using ProgressCallback = std::function<void(const Progress&)>;
/// Answers a server request (its params in, its result out); may throw
/// McpError to answer with an error object.
using RequestHandler = std::function<aio::Coro<Json>(Json params)>;
/// Sees every notification from the server (after the session's own handling).
using NotificationHandler = std::function<void(const std::string& method, const Json& params)>;

struct RequestOptions {
    /// Unset: the session's request_timeout. Zero: no timeout.
    std::optional<std::chrono::milliseconds> timeout{};
    /// Set: a progressToken is sent and each progress notification arrives here.
    ProgressCallback on_progress{};
    /// Each progress notification restarts the timeout.
    bool reset_timeout_on_progress = false;
};

struct ClientSessionOptions {
    Implementation client_info{};
    /// The version offered on initialize.
    std::string protocol_version{LATEST_PROTOCOL_VERSION};
    /// The default timeout of each request (zero: none); initialize included.
    std::chrono::milliseconds request_timeout{60000};
    /// Declares the roots capability and answers roots/list with these.
    std::optional<std::vector<Root>> roots{};
    /// Answers sampling/createMessage with this model (declares sampling).
    std::shared_ptr<BaseLlm> sampling_llm{};
    /// Answers sampling/createMessage (wins over sampling_llm).
    RequestHandler sampling_handler{};
    /// Answers elicitation/create (declares elicitation): return
    /// {"action": "accept", "content": {...}}, {"action": "decline"} or {"action": "cancel"}.
    RequestHandler elicitation_handler{};
    NotificationHandler on_notification{};
    /// notifications/tools/list_changed arrived.
    std::function<void()> on_tools_changed{};
    /// The connection died (not called for close()).
    std::function<void(std::exception_ptr)> on_closed{};
};

namespace detail {
class SessionCore;
}

class ClientSession {
public:
    /// Starts the transport, runs the initialize handshake and returns the
    /// ready session. McpConnectionError if the server cannot be reached,
    /// McpProtocolError for an unsupported protocol version, McpTimeoutError.
    static aio::Coro<std::shared_ptr<ClientSession>> connect(std::shared_ptr<Transport> transport,
                                                             ClientSessionOptions options);
    static aio::Coro<std::shared_ptr<ClientSession>> connect(std::shared_ptr<Transport> transport);

    explicit ClientSession(std::shared_ptr<detail::SessionCore> core) noexcept;
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;
    /// Aborts if close() was not called (see the header comment).
    ~ClientSession();

    // Every call below has an overload without RequestOptions (the
    // session's defaults): no aggregate temporary is then built in the
    // caller's co_await expression (g++ 12 destroys such temporaries twice).

    /// Sends a request and returns its result.
    aio::Coro<Json> request(std::string method, Json params, RequestOptions options);
    aio::Coro<Json> request(std::string method, Json params = Json::object());
    /// Sends a notification.
    void notify(std::string method, Json params = nullptr);

    aio::Coro<> ping(RequestOptions options);
    aio::Coro<> ping();
    /// tools/list, every page: the array of Tool objects.
    aio::Coro<Json> list_tools(RequestOptions options);
    aio::Coro<Json> list_tools();
    /// tools/call: the CallToolResult ({content, structuredContent?, isError?}).
    aio::Coro<Json> call_tool(std::string name, Json arguments, RequestOptions options);
    aio::Coro<Json> call_tool(std::string name, Json arguments = Json::object());
    aio::Coro<Json> list_resources();
    aio::Coro<Json> read_resource(std::string uri);
    aio::Coro<Json> list_prompts();
    aio::Coro<Json> get_prompt(std::string name, Json arguments = Json::object());
    aio::Coro<> set_logging_level(std::string level);
    /// Replaces the roots and tells the server (notifications/roots/list_changed).
    void set_roots(std::vector<Root> roots);

    /// Closes the session and its transport (see the header comment).
    aio::Coro<> close();

    /// The connection died or close() began.
    bool is_closed() const noexcept;
    /// Why the connection died (null while open, or after a plain close()).
    std::exception_ptr closed_error() const noexcept;
    const std::string& protocol_version() const noexcept;
    const Json& server_info() const noexcept;
    const Json& server_capabilities() const noexcept;
    const std::string& instructions() const noexcept;
    /// How many notifications/tools/list_changed arrived so far.
    std::uint64_t tools_generation() const noexcept;
    /// Requests awaiting their response.
    std::size_t pending_requests() const noexcept;
    Transport& transport() const noexcept;

private:
    std::shared_ptr<detail::SessionCore> core_;
};

}  // namespace adk::mcp
