// adk/web_ui.hpp — ADK's official dev UI (`adk web`) served by adk::ApiServer.
// Target adk::server. docs/web-ui.md has the whole story.
//
// The dev UI is a compiled Angular app shipped as static files in the npm
// package @google/adk-devtools (dist/browser). serve_web_ui() registers
// routes on an ApiServer (before start()) that serve those files at
// /dev-ui/, with the UI's runtime config answered as {"backendUrl": ""}
// (same origin: the UI calls the API of the server that served it):
//
//   adk::ApiServer server;
//   server.add_app("hello_agent", root_agent);
//   adk::serve_web_ui(server, adk::find_web_ui_dir());   // before start()
//   co_await server.start();                             // http://HOST:PORT/dev-ui/
//
// Routes (GET; HEAD too):
//   /                  302 to /dev-ui/
//   /dev-ui            301 to /dev-ui/ (the UI's <base href> is relative)
//   /dev-ui/           index.html
//   /dev-ui/{file}     the file, with its content type, an ETag (304 on
//                      If-None-Match) and Cache-Control: no-cache
//   /dev-ui/assets/config/runtime-config.json
//                      {"backendUrl": options.backend_url} (not the file)
//   /dev-ui/{route}    index.html for a path that names no file and whose
//                      last segment has no '.' (the UI's own routes);
//                      404 for a missing file with an extension (a missing
//                      script must not come back as HTML)
// A path with a "." or ".." segment (percent-encoded or not), a backslash
// or a NUL gets 400; a hidden file (a segment starting with '.') 404; a
// symbolic link leading out of the UI folder 404. index.html goes out with
// its <base href="./"> made absolute (/dev-ui/), so the UI's own routes
// load their scripts from the right place.
//
// Files are read on aio's thread pool (aio::to_thread): the loop never
// blocks on the disk. Cancellation: a request cancelled while its file is
// being read (the client went away) drops the read's result; nothing else
// is left behind.
//
// Threads: the routes belong to the server's loop, as the API does.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace adk {

class ApiServer;

struct WebUiOptions {
    /// The folder holding the UI's index.html (@google/adk-devtools/dist/browser).
    std::filesystem::path ui_dir;
    /// What runtime-config.json says the API's URL is: "" is the origin
    /// that served the UI. Set it when the API is elsewhere (CORS on there).
    std::string backend_url;
    /// GET / redirects to /dev-ui/.
    bool redirect_root = true;
};

/// Serves the dev UI from `options.ui_dir` at /dev-ui/ (routes above).
/// Before server.start() (ApiServer::add_route's rule: std::logic_error
/// after). std::invalid_argument when ui_dir has no index.html.
void serve_web_ui(ApiServer& server, WebUiOptions options);
/// Same, with the defaults (same-origin API, / redirected).
void serve_web_ui(ApiServer& server, std::filesystem::path ui_dir);

/// Where the dev UI's files are:
///   1. $ADK_WEB_UI_DIR when set (it must hold an index.html; else
///      std::runtime_error naming it);
///   2. else the first node_modules/@google/adk-devtools/dist/browser with
///      an index.html in one of `start_dirs` or their parent folders, up to
///      the root — by default the current directory's, then the running
///      program's (/proc/self/exe).
/// std::runtime_error naming what was tried (and how to install the
/// package) when none is found.
std::filesystem::path find_web_ui_dir(const std::vector<std::filesystem::path>& start_dirs = {});

/// The Content-Type the UI routes give a file, from its extension
/// ("main.js" -> "text/javascript; charset=utf-8"; unknown:
/// "application/octet-stream").
std::string_view web_ui_content_type(std::string_view filename) noexcept;

}  // namespace adk
