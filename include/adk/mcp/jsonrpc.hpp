// adk/mcp/jsonrpc.hpp — JSON-RPC 2.0 as MCP uses it: message shapes, request
// ids, the protocol versions this client speaks, and the typed errors every
// MCP operation raises.
//
//   Json req = adk::mcp::make_request(7, "tools/list", Json::object());
//   // {"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}
//   adk::mcp::MessageKind k = adk::mcp::classify(msg);   // request, response...
//
// Errors (all std::runtime_error, never aio::CancelledError):
//
//   McpError                 a JSON-RPC error object: code(), message(), data()
//     McpConnectionError     the connection is gone: the server exited, closed
//                            its output, the HTTP endpoint is unreachable, the
//                            session was closed or expired. Pending calls fail
//                            with it; McpToolset reconnects on the next call.
//       McpProtocolError     the peer broke the protocol: a line that is not
//                            JSON, a line over the size limit, an unsupported
//                            protocol version. The connection is closed.
//     McpTimeoutError        a request got no answer in time (code -32001)
//     McpHttpStatusError     Streamable HTTP: the server answered a request
//                            with a non-2xx status (status())
//
// A server's own error reply (say -32601 "Method not found") is a plain
// McpError with the server's code, message and data.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace adk::mcp {

using Json = nlohmann::json;

/// The newest protocol version this client speaks; offered on initialize.
inline constexpr std::string_view LATEST_PROTOCOL_VERSION = "2025-11-25";
/// Every version this client accepts in a server's initialize result, newest first.
inline constexpr std::array<std::string_view, 4> SUPPORTED_PROTOCOL_VERSIONS = {"2025-11-25", "2025-06-18",
                                                                                 "2025-03-26", "2024-11-05"};
bool is_supported_protocol_version(std::string_view version) noexcept;

/// JSON-RPC and MCP error codes.
namespace error_code {
inline constexpr int PARSE_ERROR = -32700;
inline constexpr int INVALID_REQUEST = -32600;
inline constexpr int METHOD_NOT_FOUND = -32601;
inline constexpr int INVALID_PARAMS = -32602;
inline constexpr int INTERNAL_ERROR = -32603;
/// The connection closed (the MCP TypeScript SDK's ConnectionClosed).
inline constexpr int CONNECTION_CLOSED = -32000;
/// No answer in time (the SDK's RequestTimeout).
inline constexpr int REQUEST_TIMEOUT = -32001;
/// The user declined (sampling / elicitation rejected by the client).
inline constexpr int USER_REJECTED = -1;
}  // namespace error_code

/// A JSON-RPC error: the error object's code, message and data.
class McpError : public std::runtime_error {
public:
    McpError(int code, std::string message, Json data = nullptr);
    int code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    const Json& data() const noexcept { return data_; }
    /// {"code", "message"[, "data"]}
    Json to_json() const;

private:
    int code_;
    std::string message_;
    Json data_;
};

/// The connection to the server is gone (see the header comment).
class McpConnectionError : public McpError {
public:
    explicit McpConnectionError(std::string message, Json data = nullptr)
        : McpError(error_code::CONNECTION_CLOSED, std::move(message), std::move(data)) {}
};

/// The server broke the protocol; the connection was closed.
class McpProtocolError : public McpConnectionError {
public:
    using McpConnectionError::McpConnectionError;
};

/// A request got no answer within its timeout.
class McpTimeoutError : public McpError {
public:
    explicit McpTimeoutError(std::string message, Json data = nullptr)
        : McpError(error_code::REQUEST_TIMEOUT, std::move(message), std::move(data)) {}
};

/// Streamable HTTP: a request was answered with a non-2xx status.
class McpHttpStatusError : public McpError {
public:
    McpHttpStatusError(int status, int code, std::string message, Json data = nullptr)
        : McpError(code, std::move(message), std::move(data)), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

/// The McpError an error object describes (tolerates missing fields).
McpError error_from_json(const Json& error_object);

enum class MessageKind : std::uint8_t {
    request,       // method + id
    notification,  // method, no id
    response,      // id + result
    error,         // id (maybe null) + error
    invalid,       // anything else
};
/// What `message` is (a JSON-RPC 2.0 object; batches are split by the caller).
MessageKind classify(const Json& message) noexcept;

/// A request id is a number or a string; this key tells them apart
/// ("n:5" vs "s:5"), for maps of pending requests.
std::string id_key(const Json& id);

Json make_request(const Json& id, std::string_view method, Json params = nullptr);
Json make_notification(std::string_view method, Json params = nullptr);
Json make_result(const Json& id, Json result);
Json make_error(const Json& id, int code, std::string_view message, Json data = nullptr);

}  // namespace adk::mcp
