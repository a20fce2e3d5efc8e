// adk/api_server.hpp — adk::ApiServer: ADK's HTTP API (`adk api_server`)
// on aio::http, so ADK's clients and its web UI talk to C++ agents.
// Target adk::server (links aio::http). docs/api-server.md has the routes.
//
//   adk::ApiServer server;                               // in-memory sessions and artifacts
//   server.add_app("hello_agent", root_agent);           // or add_app(name, runner_factory)
//   co_await server.start();                             // listens (options.http.host/port)
//   std::printf("listening on %s\n", server.url().c_str());
//   co_await server.serve_forever();                     // until close()
//
// Routes (ADK's JSON: camelCase out, camelCase or snake_case in):
//   GET  /health, /version, /list-apps[?detailed=true], /apps/{app}/app-info
//   POST /apps/{app}/users/{user}/sessions[/{sid}]       create (409 if the id exists)
//   GET  /apps/{app}/users/{user}/sessions[/{sid}]       list / get
//   PATCH, DELETE /apps/{app}/users/{user}/sessions/{sid}
//   POST /run (a JSON array of events), /run_sse (one `data: <event>` each)
//   .../sessions/{sid}/artifacts[...]                    list, get, versions, save, delete
//   POST /apps/{app}/users/{user}/sessions/{sid}/cancel[?invocationId=] and
//   POST /cancel {"invocationId": ...}                   our extension: stop a run
//
// One invocation per session at a time: a /run, /run_sse or PATCH on a
// session that runs an invocation waits its turn (ADK's behaviour), or gets
// 409 at once when the request says "ifSessionBusy": "fail".
//
// Cancellation (what it leaves behind):
//   - a client that disconnects from /run or /run_sse: the HTTP server
//     cancels the handler, which stops the invocation and waits until it has
//     unwound; the session holds the events persisted so far, each whole;
//   - the cancel routes: the same, and the stream ends with
//     `data: {"error": ..., "cancelled": true}` (/run answers 409);
//   - close() / aclose(): every handler is cancelled as above, then every
//     runner is closed (aclose waits for all of it).
//
// Limits: header and body size, request/idle/write timeouts come from
// options.http (aio::http::ServerConfig: 431, 413, 408); past
// options.max_invocations running invocations a run gets 503; bad JSON 400;
// an unknown app or session 404 — every error body is {"error": "..."}.
//
// Threads: an ApiServer, its apps and its runners belong to the loop that
// started it. Apps may be added before or after start().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adk/agent.hpp"
#include "adk/artifacts.hpp"
#include "adk/runner.hpp"
#include "adk/session.hpp"
#include "aio/coro.hpp"
#include "aio/http/server.hpp"

namespace adk {

/// What a RunnerFactory gets: the app's name and the server's services.
struct AppServices {
    std::string app_name;
    std::shared_ptr<SessionService> session_service;
    std::shared_ptr<ArtifactService> artifact_service;
};

/// Builds an app's Runner on its first use. The runner's app_name() must be
/// the app's name; it may use other services than the server's (its
/// session and artifact routes then use the runner's).
using RunnerFactory = std::function<std::shared_ptr<Runner>(const AppServices&)>;

/// aio::http's defaults with server_name "adk-server".
aio::http::ServerConfig default_api_http_config();

struct ApiServerOptions {
    /// Host, port (0: a free one), size limits and timeouts of the HTTP
    /// server.
    aio::http::ServerConfig http = default_api_http_config();
    /// CORS: origins allowed to call the API from a browser ("*" for any);
    /// empty: same-origin only.
    std::vector<std::string> allow_origins{};
    /// Runs (/run and /run_sse, waiting for their session included) admitted
    /// at once; beyond, 503. 0: no limit.
    std::size_t max_invocations = 1024;
    /// Null: an InMemorySessionService / InMemoryArtifactService.
    std::shared_ptr<SessionService> session_service{};
    std::shared_ptr<ArtifactService> artifact_service{};
    /// How long a cancel route waits for the invocation to stop before
    /// answering (it answers 202 when that takes longer).
    std::chrono::milliseconds cancel_wait{10'000};
};

/// An app as GET /list-apps?detailed=true describes it.
struct AppInfo {
    std::string name;
    std::string root_agent_name;
    std::string description;
    std::string language = "cpp";
};
/// {name, rootAgentName, description, language}.
void to_json(Json& j, const AppInfo& v);

/// Counters since the server was made.
struct ApiServerStats {
    std::uint64_t runs_started = 0;        ///< invocations started by /run or /run_sse
    std::uint64_t runs_completed = 0;      ///< ...that ended normally
    std::uint64_t runs_failed = 0;         ///< ...that ended with an error (reported to the client)
    std::uint64_t runs_cancelled = 0;      ///< ...stopped by a cancel route
    std::uint64_t runs_disconnected = 0;   ///< ...stopped because the client went away (or close())
    std::uint64_t rejected_busy = 0;       ///< 409: session busy and the request asked to fail fast
    std::uint64_t rejected_overload = 0;   ///< 503: max_invocations reached
    std::size_t active_runs = 0;           ///< admitted runs now (running or waiting for their session)
};

class ApiServer {
public:
    explicit ApiServer(ApiServerOptions options = {});
    /// Stops listening and cancels what runs (does not wait: use aclose()).
    ~ApiServer();
    ApiServer(ApiServer&&) noexcept;
    ApiServer& operator=(ApiServer&&) noexcept;
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    /// Serves `root_agent` as app `name` (letters, digits, '_'), with a
    /// Runner on the server's services. std::invalid_argument for a bad or
    /// taken name or a null agent.
    void add_app(std::string name, AgentPtr root_agent);
    /// Serves the Runner `factory` makes (called on the app's first use).
    void add_app(std::string name, RunnerFactory factory);
    bool has_app(const std::string& name) const;
    /// Sorted.
    std::vector<std::string> app_names() const;
    /// The app's runner (made now if it was registered with a factory);
    /// std::out_of_range for an unknown app.
    Runner& runner(const std::string& app_name);
    AppInfo app_info(const std::string& app_name);

    SessionService& session_service() const noexcept;
    ArtifactService& artifact_service() const noexcept;
    const ApiServerOptions& options() const noexcept;

    /// Adds a route, tried after the API's own (same patterns as
    /// aio::http::Router: "/dev-ui/{path...}"): the web UI's static files,
    /// extra routes. The handler answers by itself (CORS headers included,
    /// if it wants them). Before start() only (std::logic_error after).
    void add_route(std::string method, std::string pattern, aio::http::Handler handler);

    /// The whole API as one handler (CORS included), to serve from another
    /// aio::http server; start() uses it.
    aio::http::Handler handler() const;

    /// Starts listening on options().http. Raises what start_server raises
    /// (OSError when the port is taken...). Once only.
    aio::Coro<> start();
    /// After start(): the port (useful with port 0) and "http://host:port".
    std::uint16_t port() const;
    std::string url() const;
    /// Waits until close() (returns normally then).
    aio::Coro<> serve_forever();
    /// Stops accepting and cancels every request in progress (runs stop as
    /// after a disconnect). Returns at once. Idempotent.
    void close();
    /// close(), waits for every request, then closes every runner.
    aio::Coro<> aclose();

    /// Stops a run started through this server, or any running invocation
    /// of one of its runners, by invocation id; false if none runs.
    bool cancel_invocation(const std::string& invocation_id);

    ApiServerStats stats() const;

    class Impl;

private:
    std::shared_ptr<Impl> impl_;
};

/// Registers one app per sub-directory of `agents_dir` holding an agent
/// definition (ADK's `adk api_server AGENTS_DIR`). The Agent Config (YAML)
/// loader provides it; until then it raises std::runtime_error("not
/// implemented"). src/adk/server/load_agents_dir.cpp.
void load_agents_dir(ApiServer& server, const std::string& agents_dir);

}  // namespace adk
