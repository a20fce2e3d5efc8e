// adk/mcp/transport.hpp — adk::mcp::Transport: how JSON-RPC messages reach an
// MCP server and come back. The session (adk/mcp/client.hpp) speaks the
// protocol; a transport only moves messages (the MCP TypeScript SDK's split).
// Two implementations: StdioTransport (adk/mcp/stdio_transport.hpp) and
// StreamableHttpTransport (adk/mcp/http_transport.hpp).
//
// The contract:
// - start(sink) connects (spawns the server, or prepares the HTTP client);
//   from then on every message from the server goes to sink.on_message(),
//   in arrival order, on the loop's thread, never from inside send().
// - send(message) never suspends: the message is queued and written by the
//   transport's own tasks. A failure to deliver a request is reported with
//   sink.on_request_failed(id, error); a failure of the whole connection with
//   sink.on_closed(error) (an McpConnectionError), once.
// - close() shuts down with bounded waits and never raises; abort() does the
//   same at once without waiting (what a destructor can do). After either,
//   the sink is never called again.
// - Transports are held by std::shared_ptr: their background tasks keep
//   them alive until they have unwound.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "adk/mcp/jsonrpc.hpp"
#include "aio/coro.hpp"

namespace adk::mcp {

/// Where a transport delivers what it receives (the session implements it).
class TransportSink {
public:
    virtual ~TransportSink() = default;
    /// One JSON-RPC message (an object; batches arrive split).
    virtual void on_message(Json message) = 0;
    /// The request with this id could not be delivered or answered.
    virtual void on_request_failed(const Json& id, std::exception_ptr error) = 0;
    /// The connection is gone; `error` is an McpConnectionError.
    virtual void on_closed(std::exception_ptr error) = 0;
};

class Transport : public std::enable_shared_from_this<Transport> {
public:
    Transport() = default;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;
    virtual ~Transport() = default;

    /// Connects; `sink` must stay valid until close() or abort().
    /// Raises McpConnectionError when the server cannot be started.
    virtual aio::Coro<> start(TransportSink* sink) = 0;
    /// Queues one message (see the header comment).
    virtual void send(Json message) = 0;
    /// The protocol version negotiated by initialize (HTTP sends it as the
    /// MCP-Protocol-Version header).
    virtual void set_protocol_version(std::string version) { (void)version; }
    /// The initialize handshake is complete (HTTP opens its GET stream).
    virtual void initialized() {}
    /// Shuts down (bounded waits, never raises, idempotent).
    virtual aio::Coro<> close() = 0;
    /// Stops at once without waiting: tasks cancelled, the sink detached.
    virtual void abort() noexcept = 0;
    /// "stdio: node server.js" / "http: http://127.0.0.1:3001/mcp", for messages.
    virtual std::string describe() const = 0;
};

}  // namespace adk::mcp
