// adk/mcp/stdio_transport.hpp — adk::mcp::StdioTransport: an MCP server run
// as a child process, one JSON-RPC message per line on its stdin and stdout
// (the MCP stdio transport).
//
//   adk::mcp::StdioServerParams p{.command = "node", .args = {"server.js", "stdio"}};
//   auto session = co_await adk::mcp::ClientSession::connect(adk::mcp::StdioTransport::make(std::move(p)));
//
// - stdout is read in chunks and split on "\n" (a trailing "\r" is dropped,
//   blank lines are skipped); a line longer than max_line_bytes is a
//   McpProtocolError (the bytes are never accumulated past the limit) and
//   the server is killed; a line that is not JSON likewise: a server that
//   prints garbage is broken, and failing every pending call at once beats
//   letting each of them time out.
// - stderr is read line by line and handed to on_stderr (default: aio::log
//   at info level, "mcp[<program> <first argument>] <line>"); its last lines are kept and
//   quoted when the server dies.
// - The server exiting or closing stdout fails every pending call with an
//   McpConnectionError naming the exit status and quoting stderr.
// - Shutdown (close()): stdin is closed, then up to shutdown_timeout for the
//   server to exit, SIGTERM, again up to shutdown_timeout, then SIGKILL (the
//   MCP spec's sequence). abort() sends SIGKILL at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adk/mcp/transport.hpp"

namespace adk::mcp {

struct StdioServerParams {
    /// The program (found through PATH when it has no '/').
    std::string command{};
    std::vector<std::string> args{};
    /// Variables added to (or replacing in) the parent's environment.
    std::map<std::string, std::string> env{};
    /// The child's working directory; empty: the parent's.
    std::string cwd{};
    /// The longest line accepted from the server's stdout.
    std::size_t max_line_bytes = 8 * 1024 * 1024;
    /// Each wait of the shutdown sequence (after closing stdin, after SIGTERM).
    std::chrono::milliseconds shutdown_timeout{2000};
    /// Receives each stderr line (without its newline); empty: aio::log.
    std::function<void(std::string_view line)> on_stderr{};
};

class StdioTransport final : public Transport {
public:
    explicit StdioTransport(StdioServerParams params);
    ~StdioTransport() override;
    static std::shared_ptr<StdioTransport> make(StdioServerParams params) {
        return std::make_shared<StdioTransport>(std::move(params));
    }

    aio::Coro<> start(TransportSink* sink) override;
    void send(Json message) override;
    aio::Coro<> close() override;
    void abort() noexcept override;
    std::string describe() const override;

    /// The child's pid while it runs.
    std::optional<pid_t> pid() const;
    /// The child's exit status once it has exited (see aio::Process::returncode).
    std::optional<int> returncode() const;
    /// The last stderr lines (at most 20).
    std::vector<std::string> stderr_tail() const;

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace adk::mcp
