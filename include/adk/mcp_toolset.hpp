// adk/mcp_toolset.hpp — adk::McpToolset (ADK's MCPToolset): the tools of an
// MCP server as agent tools.
//
//   adk::StdioConnectionParams fs{.command = "node",
//                                 .args = {"server-filesystem/dist/index.js", "/tmp/work"}};
//   auto files = adk::McpToolset::make(fs, adk::ToolFilter({"read_text_file", "list_directory"}));
//   auto agent = adk::LlmAgent::make({.name = "clerk", .model = model, .tools = {files}});
//   ...
//   co_await runner.close();          // closes the toolset (or: co_await files->close())
//
// Each MCP tool becomes an adk::McpTool: its declaration is
// {name, description, parameters: the tool's inputSchema, passed through
// unchanged}; run() is tools/call, and the CallToolResult becomes the
// function response (mcp_result_to_function_response):
//   isError: true                  -> {"error": <the text blocks joined by "\n">}
//   structuredContent (an object)  -> that object
//   structuredContent (otherwise)  -> {"result": <it>}
//   text blocks only               -> {"result": <the texts joined by "\n">}
//   image / audio / resource /     -> added as "content": [the blocks as the
//   resource_link blocks              server sent them] ({"type":"image",
//                                     "mimeType":..., "data": base64}...)
// A JSON-RPC error or a transport failure of the call is thrown (an
// McpError); the flow reports it to the model as {"error": "..."} too.
//
// What it fixes in ADK (shared/ADK-REFERENCE.md §8):
// - #6 the tool list is fetched once per session and cached; a
//   notifications/tools/list_changed invalidates it (no tools/list per model call);
// - #5 sessions live in a bounded pool (max_sessions), one per distinct set
//   of headers from header_provider (per-user auth), least recently used
//   evicted first, idle ones closed after idle_timeout;
// - #4 a dead connection (server exited, endpoint gone) fails the call with
//   McpConnectionError, is dropped from the pool, and the next call
//   reconnects; a session seen dead before a call is replaced silently;
// - #1/#2 no task affinity: sessions are plain objects driven by their own
//   tasks, so close() is valid from any task, any number of times;
// - #3 failures are McpError subclasses (std::runtime_error), never
//   aio::CancelledError.
//
// Cancellation (one line each):
// - get_tools(): a connect in progress goes on for the next caller (it runs
//   on its own task); a tools/list in flight is cancelled on the server.
// - McpTool::run(): notifications/cancelled is sent, the session stays
//   pooled and usable.
// - close(): the sessions already being closed finish closing on their tasks.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "adk/mcp/client.hpp"
#include "adk/toolset.hpp"

namespace adk {

/// An MCP server started as a child process (ADK's StdioConnectionParams).
struct StdioConnectionParams {
    std::string command{};
    std::vector<std::string> args{};
    /// Added to (or replacing in) the parent's environment.
    std::map<std::string, std::string> env{};
    std::string cwd{};
    /// Each request's timeout (ADK's read timeout, 5 s).
    std::chrono::milliseconds timeout{5000};
};

/// An MCP server over Streamable HTTP (ADK's StreamableHTTPConnectionParams).
struct StreamableHttpConnectionParams {
    std::string url{};
    std::map<std::string, std::string> headers{};
    /// Connection timeout and each request's timeout (ADK: 5 s).
    std::chrono::milliseconds timeout{5000};
    /// How long an event stream may stay silent (ADK: 300 s).
    std::chrono::milliseconds sse_read_timeout{300000};
    /// DELETE the MCP session when it is closed.
    bool terminate_on_close = true;
};

using McpConnectionParams = std::variant<StdioConnectionParams, StreamableHttpConnectionParams>;

struct McpToolsetOptions {
    mcp::Implementation client_info{};
    /// Answers the server's sampling/createMessage requests.
    std::shared_ptr<BaseLlm> sampling_llm{};
    /// Answers the server's elicitation/create requests.
    mcp::RequestHandler elicitation_handler{};
    /// Offered to the server (roots/list).
    std::optional<std::vector<mcp::Root>> roots{};
    /// Headers per invocation (e.g. the user's token): each distinct set
    /// gets its own session (HTTP only; ignored for stdio).
    std::function<std::map<std::string, std::string>(const ReadonlyContext*)> header_provider{};
    /// Sessions kept at once; acquiring one more evicts the least recently
    /// used idle one, or waits until one is released.
    std::size_t max_sessions = 16;
    /// A session unused for this long is closed (checked when sessions are acquired).
    std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
    /// Set: tool calls ask for progress and report it here.
    std::function<void(std::string_view tool, const mcp::Progress&)> on_progress{};
    /// The longest line (stdio) or message (HTTP) accepted.
    std::size_t max_message_bytes = 8 * 1024 * 1024;
};

namespace detail {
class McpPool;
}

/// One MCP tool (see the header comment).
class McpTool : public BaseTool {
public:
    McpTool(std::shared_ptr<detail::McpPool> pool, Json mcp_tool);

    std::optional<Json> declaration() const override;
    aio::Coro<Json> run(Json args, ToolContext& ctx) override;
    /// The Tool object from tools/list.
    const Json& mcp_tool() const noexcept { return tool_; }

private:
    std::shared_ptr<detail::McpPool> pool_;
    Json tool_;
};

class McpToolset : public BaseToolset {
public:
    explicit McpToolset(McpConnectionParams params, ToolFilter filter = {}, McpToolsetOptions options = {});
    ~McpToolset() override;
    static std::shared_ptr<McpToolset> make(McpConnectionParams params, ToolFilter filter = {},
                                            McpToolsetOptions options = {}) {
        return std::make_shared<McpToolset>(std::move(params), std::move(filter), std::move(options));
    }

    /// The server's tools (cached; see the header comment).
    aio::Coro<std::vector<std::shared_ptr<BaseTool>>> get_tools(const ReadonlyContext* ctx) override;
    /// Closes every session; later calls raise McpConnectionError.
    aio::Coro<> close() override;

    /// The pooled session for `ctx`'s headers, connecting if needed (for
    /// direct use: resources, prompts...). Keep it only for the operation at hand.
    aio::Coro<std::shared_ptr<mcp::ClientSession>> session(const ReadonlyContext* ctx = nullptr);

    /// Sessions in the pool (connected or connecting).
    std::size_t pooled_sessions() const noexcept;
    /// Connections made so far (reconnections included).
    std::size_t connects() const noexcept;
    /// tools/list round trips made so far.
    std::size_t tool_list_fetches() const noexcept;

private:
    std::shared_ptr<detail::McpPool> pool_;
};

/// The function response a CallToolResult stands for (see the header comment).
Json mcp_result_to_function_response(const Json& call_tool_result);

}  // namespace adk
