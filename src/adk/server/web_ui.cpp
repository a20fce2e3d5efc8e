// ADK's dev UI served by adk::ApiServer (adk/web_ui.hpp, docs/web-ui.md).
#include "adk/web_ui.hpp"

#include <aio/executor.hpp>
#include <aio/http/server.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "adk/api_server.hpp"

namespace adk {

namespace {

namespace fs = std::filesystem;
using aio::http::ResponseWriter;
using aio::http::ServerRequest;
using aio::http::ServerResponse;

constexpr std::string_view kMount = "/dev-ui";
constexpr std::string_view kRuntimeConfig = "assets/config/runtime-config.json";
constexpr std::string_view kPackageDir = "node_modules/@google/adk-devtools/dist/browser";

struct UiConfig {
    fs::path root;  // canonical
    std::string backend_url;
};

bool has_index(const fs::path& dir) {
    std::error_code ec;
    return fs::is_regular_file(dir / "index.html", ec);
}

// --- the request path ------------------------------------------------------------------

enum class PathCheck { ok, bad, hidden };

/// The decoded rest of the path ("assets/x.svg") as segments. Empty segments
/// ("a//b", a leading '/') are skipped: the file path is rebuilt from the
/// segments, never from the raw string, so "//etc/passwd" cannot become an
/// absolute path. "." and ".." (however they were encoded), backslashes and
/// NULs are refused; a segment starting with '.' names a hidden file.
PathCheck split_segments(std::string_view rest, std::vector<std::string>& out) {
    PathCheck result = PathCheck::ok;
    std::size_t pos = 0;
    while (pos <= rest.size()) {
        std::size_t slash = rest.find('/', pos);
        std::string_view seg = rest.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (!seg.empty()) {
            if (seg == "." || seg == "..") return PathCheck::bad;
            if (seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos)
                return PathCheck::bad;
            if (seg.front() == '.') result = PathCheck::hidden;
            out.emplace_back(seg);
        }
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return result;
}

std::string join(const std::vector<std::string>& segments) {
    std::string out;
    for (const std::string& s : segments) {
        if (!out.empty()) out += '/';
        out += s;
    }
    return out;
}

// --- reading files (on a worker thread) -----------------------------------------------

struct FileRead {
    enum class Kind { found, missing, outside, error };
    Kind kind = Kind::missing;
    std::string body;
    std::string etag;
    std::string detail;  // for error
};

/// `root` / `rel`, if it is a regular file inside `root` once every symbolic
/// link is resolved. Runs on aio's thread pool.
FileRead read_ui_file(fs::path root, std::string rel) {
    FileRead out;
    std::error_code ec;
    fs::path canon = fs::canonical(root / fs::path(rel), ec);
    if (ec) return out;  // missing (or a dangling link)
    auto [root_end, canon_pos] = std::mismatch(root.begin(), root.end(), canon.begin(), canon.end());
    (void)canon_pos;
    if (root_end != root.end()) {
        out.kind = FileRead::Kind::outside;
        return out;
    }
    if (!fs::is_regular_file(canon, ec)) return out;  // a folder: not a file
    std::uintmax_t size = fs::file_size(canon, ec);
    if (ec) return out;
    fs::file_time_type mtime = fs::last_write_time(canon, ec);
    if (ec) return out;
    std::ifstream in(canon, std::ios::binary);
    if (!in) {
        out.kind = FileRead::Kind::error;
        out.detail = "cannot open " + canon.string() + ": " + std::generic_category().message(errno);
        return out;
    }
    out.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
        out.kind = FileRead::Kind::error;
        out.detail = "cannot read " + canon.string();
        out.body.clear();
        return out;
    }
    char tag[64];
    std::snprintf(tag, sizeof tag, "W/\"%jx-%jx\"", static_cast<std::uintmax_t>(size),
                  static_cast<std::uintmax_t>(mtime.time_since_epoch().count()));
    out.etag = tag;
    out.kind = FileRead::Kind::found;
    return out;
}

// --- answers ---------------------------------------------------------------------------

ServerResponse redirect(int status, std::string location) {
    ServerResponse r = ServerResponse::text(status, "Redirecting to " + location + "\n");
    r.headers.emplace_back("Location", std::move(location));
    return r;
}

/// If-None-Match names `etag` (or is "*").
bool not_modified(const ServerRequest& r, const std::string& etag) {
    std::optional<std::string_view> inm = r.header("If-None-Match");
    if (!inm) return false;
    std::string_view v = *inm;
    if (v.find('*') != std::string_view::npos) return true;
    // Weak comparison: W/"x" matches "x" and W/"x".
    std::string_view opaque = std::string_view(etag).substr(2);
    return v.find(opaque) != std::string_view::npos;
}

/// index.html with its relative <base href> made absolute, so that the UI's
/// own routes (/dev-ui/a/b) load ./main-*.js from /dev-ui/.
std::string rebase_index(std::string html) {
    static constexpr std::string_view from = "<base href=\"./\">";
    std::size_t at = html.find(from);
    if (at != std::string::npos) html.replace(at, from.size(), "<base href=\"/dev-ui/\">");
    return html;
}

aio::Coro<void> send_index(const UiConfig& cfg, ResponseWriter& w) {
    aio::Coro<FileRead> reading = aio::to_thread(read_ui_file, cfg.root, std::string("index.html"));
    FileRead index = co_await std::move(reading);
    if (index.kind != FileRead::Kind::found) {
        std::string message = "the web UI's index.html cannot be read in " + cfg.root.string();
        co_await w.send_error(500, message);
        co_return;
    }
    ServerResponse r = ServerResponse::text(200, rebase_index(std::move(index.body)), "text/html; charset=utf-8");
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    co_await w.send(std::move(r));
}

aio::Coro<void> serve_ui(std::shared_ptr<const UiConfig> cfg, ServerRequest& r, ResponseWriter& w) {
    // The UI's <base href> is "./": /dev-ui must become /dev-ui/.
    if (r.path == kMount) {
        std::string location = std::string(kMount) + "/";
        if (!r.query.empty()) location += "?" + r.query;
        ServerResponse moved = redirect(301, std::move(location));
        co_await w.send(std::move(moved));
        co_return;
    }
    std::vector<std::string> segments;
    PathCheck check = split_segments(r.path_param("path"), segments);
    if (check == PathCheck::bad) {
        co_await w.send_error(400, "bad path: '.', '..', '\\' and NUL are not allowed in a path");
        co_return;
    }
    if (check == PathCheck::hidden) {
        co_await w.send_error(404, "not found");
        co_return;
    }
    std::string rel = join(segments);
    if (rel == kRuntimeConfig) {
        std::string body = "{\"backendUrl\": " + aio::http::json_quote(cfg->backend_url) + "}";
        ServerResponse config = ServerResponse::json(200, std::move(body));
        config.headers.emplace_back("Cache-Control", "no-cache");
        co_await w.send(std::move(config));
        co_return;
    }
    if (!segments.empty()) {
        aio::Coro<FileRead> reading = aio::to_thread(read_ui_file, cfg->root, rel);
        FileRead file = co_await std::move(reading);
        switch (file.kind) {
            case FileRead::Kind::found: {
                if (not_modified(r, file.etag)) {
                    ServerResponse same;
                    same.status = 304;
                    same.headers.emplace_back("ETag", file.etag);
                    same.headers.emplace_back("Cache-Control", "no-cache");
                    co_await w.send(std::move(same));
                    co_return;
                }
                // index.html asked for by name gets the same rebasing.
                bool is_index = rel == "index.html";
                ServerResponse ok = ServerResponse::text(
                    200, is_index ? rebase_index(std::move(file.body)) : std::move(file.body),
                    std::string(web_ui_content_type(segments.back())));
                if (!is_index) ok.headers.emplace_back("ETag", file.etag);
                ok.headers.emplace_back("Cache-Control", "no-cache");
                ok.headers.emplace_back("X-Content-Type-Options", "nosniff");
                co_await w.send(std::move(ok));
                co_return;
            }
            case FileRead::Kind::outside:
                co_await w.send_error(404, "not found");
                co_return;
            case FileRead::Kind::error:
                co_await w.send_error(500, file.detail);
                co_return;
            case FileRead::Kind::missing:
                break;
        }
        // A missing file: 404 when it looks like one (has an extension),
        // else one of the UI's own routes (index.html).
        if (segments.back().find('.') != std::string::npos) {
            co_await w.send_error(404, "not found: " + rel);
            co_return;
        }
    }
    aio::Coro<void> sending = send_index(*cfg, w);
    co_await std::move(sending);
}

aio::Coro<void> redirect_root(ServerRequest&, ResponseWriter& w) {
    ServerResponse found = redirect(302, std::string(kMount) + "/");
    co_await w.send(std::move(found));
}

}  // namespace

std::string_view web_ui_content_type(std::string_view filename) noexcept {
    struct Entry {
        std::string_view ext;
        std::string_view type;
    };
    static constexpr Entry table[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"webmanifest", "application/manifest+json"},
        {"txt", "text/plain; charset=utf-8"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"ico", "image/x-icon"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"wasm", "application/wasm"},
        {"mp3", "audio/mpeg"},
        {"wav", "audio/wav"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"pdf", "application/pdf"},
    };
    std::size_t slash = filename.rfind('/');
    if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
    std::size_t dot = filename.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
    std::string_view ext = filename.substr(dot + 1);
    for (const Entry& e : table) {
        if (e.ext.size() == ext.size() && aio::http::iequals(e.ext, ext)) return e.type;
    }
    return "application/octet-stream";
}

void serve_web_ui(ApiServer& server, WebUiOptions options) {
    if (!has_index(options.ui_dir))
        throw std::invalid_argument("serve_web_ui: no index.html in '" + options.ui_dir.string() +
                                    "' (the dev UI is @google/adk-devtools/dist/browser; docs/web-ui.md)");
    auto cfg = std::make_shared<UiConfig>();
    cfg->root = fs::canonical(options.ui_dir);
    cfg->backend_url = std::move(options.backend_url);
    std::shared_ptr<const UiConfig> shared = std::move(cfg);
    if (options.redirect_root) server.add_route("GET", "/", &redirect_root);
    // The lambda is not a coroutine: serve_ui's frame holds its own copy of
    // the config (a coroutine lambda's captures would live in the closure).
    server.add_route("GET", std::string(kMount) + "/{path...}",
                     [shared](ServerRequest& r, ResponseWriter& w) { return serve_ui(shared, r, w); });
}

void serve_web_ui(ApiServer& server, std::filesystem::path ui_dir) {
    WebUiOptions options;
    options.ui_dir = std::move(ui_dir);
    serve_web_ui(server, std::move(options));
}

std::filesystem::path find_web_ui_dir(const std::vector<std::filesystem::path>& start_dirs) {
    if (const char* env = std::getenv("ADK_WEB_UI_DIR"); env && *env) {
        fs::path dir(env);
        if (!has_index(dir))
            throw std::runtime_error("ADK_WEB_UI_DIR='" + dir.string() +
                                     "' holds no index.html (it must name @google/adk-devtools/dist/browser)");
        std::error_code ec;
        fs::path absolute = fs::absolute(dir, ec);
        return ec ? dir : absolute;
    }
    std::vector<fs::path> starts = start_dirs;
    if (starts.empty()) {
        std::error_code ec;
        fs::path cwd = fs::current_path(ec);
        if (!ec) starts.push_back(cwd);
        fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (!ec) starts.push_back(exe.parent_path());
    }
    std::string looked;
    for (const fs::path& start : starts) {
        std::error_code ec;
        fs::path dir = fs::absolute(start, ec);
        if (ec) continue;
        dir = dir.lexically_normal();
        for (;;) {
            fs::path candidate = dir / fs::path(kPackageDir);
            if (has_index(candidate)) return candidate;
            fs::path parent = dir.parent_path();
            if (parent == dir || parent.empty()) break;
            dir = parent;
        }
        if (!looked.empty()) looked += ", ";
        looked += "'" + start.string() + "'";
    }
    throw std::runtime_error(
        "ADK's web UI not found: no " + std::string(kPackageDir) + " in " +
        (looked.empty() ? std::string("(no folder to search)") : looked) +
        " or their parent folders. Install it (npm install @google/adk-devtools@2.0.0, with the "
        "@mikro-orm overrides of docs/web-ui.md) or set ADK_WEB_UI_DIR to its dist/browser folder");
}

}  // namespace adk
