// adk::serve_web_ui over real HTTP: an ApiServer on a free loopback port
// serving a small stand-in of ADK's dev UI (a temporary folder laid out as
// @google/adk-devtools/dist/browser). The redirects, content types, the
// index.html fallback for the UI's own routes, the runtime config, ETags,
// HEAD, path traversal (sent as raw bytes: libcurl would normalize the
// paths), symbolic links leading out, and find_web_ui_dir.
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "adk/adk.hpp"
#include "adk/api_server.hpp"
#include "adk/web_ui.hpp"
#include "support.hpp"

using namespace aio_test;
using adk::Json;
namespace fs = std::filesystem;
namespace http = aio::http;

namespace {

constexpr const char* kIndex =
    "<!doctype html><html><head><base href=\"./\"><title>UI</title></head>"
    "<body><app-root>UI-INDEX</app-root><script src=\"./main-ABC123.js\" type=\"module\"></script></body></html>";
constexpr const char* kSecret = "TOP-SECRET-OUTSIDE-THE-UI";

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << content;
}

std::string png_bytes() {
    std::string s("\x89PNG\r\n\x1a\n", 8);
    s += std::string("\0\0\0\rIHDR", 8);
    s += std::string(32, '\0');
    return s;
}

/// A temporary folder: tmp/ui is the UI, tmp/secret.txt is outside it.
class WebUi : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "adk_web_ui_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        tmp = pattern;
        ui = tmp / "ui";
        write_file(ui / "index.html", kIndex);
        write_file(ui / "main-ABC123.js", "console.log('main');\n");
        write_file(ui / "polyfills.mjs", "export {};\n");
        write_file(ui / "styles-XYZ.css", "body{margin:0}\n");
        write_file(ui / "adk_favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        write_file(ui / "assets" / "logo.png", png_bytes());
        write_file(ui / "assets" / "font.woff2", "wOF2");
        write_file(ui / "assets" / "data.bin", std::string("\0\1\2", 3));
        write_file(ui / "assets" / "config" / "runtime-config.json", "{\"backendUrl\": \"http://from-the-file\"}");
        write_file(ui / ".version", "v1.0.0");
        write_file(tmp / "secret.txt", kSecret);
        fs::create_symlink("../secret.txt", ui / "escape.txt");
        fs::create_directory_symlink("..", ui / "up");
        fs::create_symlink("main-ABC123.js", ui / "alias.js");  // a link inside the UI is fine
        saved_env = std::getenv("ADK_WEB_UI_DIR") ? std::optional<std::string>(std::getenv("ADK_WEB_UI_DIR"))
                                                  : std::nullopt;
    }
    void TearDown() override {
        if (saved_env)
            ::setenv("ADK_WEB_UI_DIR", saved_env->c_str(), 1);
        else
            ::unsetenv("ADK_WEB_UI_DIR");
        std::error_code ec;
        fs::remove_all(tmp, ec);
    }

    fs::path tmp;
    fs::path ui;
    std::optional<std::string> saved_env;
};

adk::AgentPtr hello_agent() {
    adk::LlmAgent::Options o;
    o.name = "hello";
    o.model = adk::ScriptedLlm::make({adk::ScriptedReply::say("hi")});
    return adk::LlmAgent::make(std::move(o));
}

/// Starts an ApiServer with app "hello" and the UI, runs body(base_url,
/// port), closes the server.
template <class Body>
void with_ui_server(adk::WebUiOptions ui_options, Body body) {
    run_bounded([&]() -> aio::Coro<> {
        adk::ApiServer server;
        server.add_app("hello", hello_agent());
        adk::serve_web_ui(server, ui_options);
        co_await server.start();
        std::string base = server.url();
        std::uint16_t port = server.port();
        aio::Coro<> running = body(base, port);
        co_await std::move(running);
        co_await server.aclose();
    });
}

adk::WebUiOptions options_for(const fs::path& dir) {
    adk::WebUiOptions o;
    o.ui_dir = dir;
    return o;
}

aio::Coro<http::Response> get(http::Client& c, std::string url, http::Headers headers = {}) {
    http::Request req;
    req.url = std::move(url);
    req.headers = std::move(headers);
    req.follow_redirects = false;
    req.timeout = std::chrono::seconds(20);
    http::Response r = co_await c.request(std::move(req));
    co_return r;
}

/// One raw request (the bytes as written, "Connection: close"), the whole
/// answer back.
struct RawResponse {
    int status = 0;
    std::string head;
    std::string body;
};

aio::Coro<RawResponse> raw(std::uint16_t port, std::string method, std::string target) {
    aio::Coro<aio::StreamPair> connecting = aio::open_connection("127.0.0.1", port);
    aio::StreamPair pair = co_await std::move(connecting);
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    pair.second.write(request);
    co_await pair.second.drain();
    std::string all = co_await pair.first.read(-1);
    pair.second.close();
    RawResponse r;
    std::size_t end = all.find("\r\n\r\n");
    r.head = all.substr(0, end);
    r.body = end == std::string::npos ? std::string() : all.substr(end + 4);
    if (all.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(all.c_str() + 9);
    co_return r;
}

std::string header_of(const RawResponse& r, const std::string& name) {
    std::string lower_head;
    for (char ch : r.head) lower_head += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string key = "\r\n";
    for (char ch : name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    key += ": ";
    std::size_t at = lower_head.find(key);
    if (at == std::string::npos) return {};
    std::size_t start = at + key.size();
    std::size_t end = r.head.find("\r\n", start);
    return r.head.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// --- redirects and index -----------------------------------------------------------------

TEST_F(WebUi, RootRedirectsToDevUiAndDevUiGetsItsSlash) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response root = co_await get(c, base + "/");
        EXPECT_EQ(root.status, 302);
        EXPECT_EQ(root.headers.value("Location"), "/dev-ui/");
        http::Response bare = co_await get(c, base + "/dev-ui");
        EXPECT_EQ(bare.status, 301);
        EXPECT_EQ(bare.headers.value("Location"), "/dev-ui/");
        http::Response with_query = co_await get(c, base + "/dev-ui?app=hello&session=s1");
        EXPECT_EQ(with_query.status, 301);
        EXPECT_EQ(with_query.headers.value("Location"), "/dev-ui/?app=hello&session=s1");
    });
}

TEST_F(WebUi, NoRootRedirectWhenDisabled) {
    adk::WebUiOptions o = options_for(ui);
    o.redirect_root = false;
    with_ui_server(o, [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response root = co_await get(c, base + "/");
        EXPECT_EQ(root.status, 404);
        http::Response index = co_await get(c, base + "/dev-ui/");
        EXPECT_EQ(index.status, 200);
    });
}

TEST_F(WebUi, ServesIndexWithAnAbsoluteBase) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        for (const char* path : {"/dev-ui/", "/dev-ui/index.html"}) {
            http::Response r = co_await get(c, base + path);
            EXPECT_EQ(r.status, 200) << path;
            EXPECT_EQ(r.headers.value("Content-Type"), "text/html; charset=utf-8") << path;
            EXPECT_NE(r.body.find("UI-INDEX"), std::string::npos) << path;
            EXPECT_NE(r.body.find("<base href=\"/dev-ui/\">"), std::string::npos) << r.body;
            EXPECT_EQ(r.body.find("<base href=\"./\">"), std::string::npos);
            EXPECT_EQ(r.headers.value("Cache-Control"), "no-cache");
        }
    });
}

TEST_F(WebUi, UnknownRoutesUnderDevUiGetTheIndexMissingFilesGet404) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        for (const char* path : {"/dev-ui/builder", "/dev-ui/apps/hello/sessions/s1", "/dev-ui/assets"}) {
            http::Response r = co_await get(c, base + path);
            EXPECT_EQ(r.status, 200) << path;
            EXPECT_EQ(r.headers.value("Content-Type"), "text/html; charset=utf-8") << path;
            EXPECT_NE(r.body.find("UI-INDEX"), std::string::npos) << path;
        }
        for (const char* path : {"/dev-ui/main-MISSING.js", "/dev-ui/assets/nope.png", "/dev-ui/a/b/c.css"}) {
            http::Response r = co_await get(c, base + path);
            EXPECT_EQ(r.status, 404) << path;
            EXPECT_EQ(r.body.find("UI-INDEX"), std::string::npos) << path;
            Json j = Json::parse(r.body, nullptr, false);
            EXPECT_TRUE(j.is_object() && j.contains("error")) << r.body;
        }
    });
}

// --- files ------------------------------------------------------------------------------

TEST_F(WebUi, FilesGoOutWithTheirContentTypes) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        struct Case {
            const char* path;
            const char* type;
            std::string body;
        };
        std::vector<Case> cases = {
            {"/dev-ui/main-ABC123.js", "text/javascript; charset=utf-8", "console.log('main');\n"},
            {"/dev-ui/polyfills.mjs", "text/javascript; charset=utf-8", "export {};\n"},
            {"/dev-ui/styles-XYZ.css", "text/css; charset=utf-8", "body{margin:0}\n"},
            {"/dev-ui/adk_favicon.svg", "image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"},
            {"/dev-ui/assets/logo.png", "image/png", png_bytes()},
            {"/dev-ui/assets/font.woff2", "font/woff2", "wOF2"},
            {"/dev-ui/assets/data.bin", "application/octet-stream", std::string("\0\1\2", 3)},
            {"/dev-ui/alias.js", "text/javascript; charset=utf-8", "console.log('main');\n"},
            {"/dev-ui/assets%2Flogo.png", "image/png", png_bytes()},  // an encoded '/' is a '/'
        };
        for (const Case& k : cases) {
            http::Response r = co_await get(c, base + k.path);
            EXPECT_EQ(r.status, 200) << k.path;
            EXPECT_EQ(r.headers.value("Content-Type"), k.type) << k.path;
            EXPECT_EQ(r.body, k.body) << k.path;
            EXPECT_EQ(r.headers.value("X-Content-Type-Options"), "nosniff") << k.path;
        }
    });
}

TEST(WebUiContentType, ByExtension) {
    EXPECT_EQ(adk::web_ui_content_type("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(adk::web_ui_content_type("chunk-27SWUPRL.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(adk::web_ui_content_type("a/b/STYLES.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(adk::web_ui_content_type("runtime-config.json"), "application/json");
    EXPECT_EQ(adk::web_ui_content_type("ADK-512-color.svg"), "image/svg+xml");
    EXPECT_EQ(adk::web_ui_content_type("x.woff"), "font/woff");
    EXPECT_EQ(adk::web_ui_content_type("x.wasm"), "application/wasm");
    EXPECT_EQ(adk::web_ui_content_type("Makefile"), "application/octet-stream");
    EXPECT_EQ(adk::web_ui_content_type(".bashrc"), "application/octet-stream");
    EXPECT_EQ(adk::web_ui_content_type("dir.js/file"), "application/octet-stream");
}

TEST_F(WebUi, ETagsAnswer304) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response first = co_await get(c, base + "/dev-ui/main-ABC123.js");
        EXPECT_EQ(first.status, 200);
        std::string etag(first.headers.value("ETag"));
        CO_ASSERT_TRUE(!etag.empty());
        http::Headers h{{"If-None-Match", etag}};
        http::Response again = co_await get(c, base + "/dev-ui/main-ABC123.js", h);
        EXPECT_EQ(again.status, 304);
        EXPECT_TRUE(again.body.empty());
        EXPECT_EQ(again.headers.value("ETag"), etag);
        http::Headers other{{"If-None-Match", "W/\"0-0\""}};
        http::Response changed = co_await get(c, base + "/dev-ui/main-ABC123.js", other);
        EXPECT_EQ(changed.status, 200);
        EXPECT_EQ(changed.body, "console.log('main');\n");
    });
}

TEST_F(WebUi, HeadAnswersWithoutABody) {
    with_ui_server(options_for(ui), [&](std::string, std::uint16_t port) -> aio::Coro<> {
        RawResponse r = co_await raw(port, "HEAD", "/dev-ui/main-ABC123.js");
        EXPECT_EQ(r.status, 200) << r.head;
        EXPECT_EQ(header_of(r, "Content-Type"), "text/javascript; charset=utf-8");
        EXPECT_EQ(header_of(r, "Content-Length"), std::to_string(std::string("console.log('main');\n").size()));
        EXPECT_TRUE(r.body.empty()) << r.body;
    });
}

// --- the runtime config -----------------------------------------------------------------

TEST_F(WebUi, RuntimeConfigPointsAtTheSameOrigin) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response r = co_await get(c, base + "/dev-ui/assets/config/runtime-config.json");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.headers.value("Content-Type").substr(0, 16), "application/json");
        Json j = Json::parse(r.body, nullptr, false);
        EXPECT_EQ(j, (Json{{"backendUrl", ""}})) << r.body;  // not the file's
    });
}

TEST_F(WebUi, RuntimeConfigCanNameAnotherBackend) {
    adk::WebUiOptions o = options_for(ui);
    o.backend_url = "http://127.0.0.1:9999";
    with_ui_server(o, [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response r = co_await get(c, base + "/dev-ui/assets/config/runtime-config.json");
        EXPECT_EQ(r.status, 200);
        Json j = Json::parse(r.body, nullptr, false);
        EXPECT_EQ(j, (Json{{"backendUrl", "http://127.0.0.1:9999"}})) << r.body;
    });
}

// --- what must not be served -------------------------------------------------------------

TEST_F(WebUi, PathTraversalIsRefused) {
    with_ui_server(options_for(ui), [&](std::string, std::uint16_t port) -> aio::Coro<> {
        struct Case {
            const char* target;
            int status;  // 0: any status, as long as nothing outside leaks
        };
        std::vector<Case> cases = {
            {"/dev-ui/../secret.txt", 400},
            {"/dev-ui/assets/../../secret.txt", 400},
            {"/dev-ui/%2e%2e/secret.txt", 400},
            {"/dev-ui/%2E%2E/secret.txt", 400},
            {"/dev-ui/..%2fsecret.txt", 400},
            {"/dev-ui/assets%2f..%2f..%2fsecret.txt", 400},
            {"/dev-ui/..%5csecret.txt", 400},
            {"/dev-ui/assets/%5c..%5c..%5csecret.txt", 400},
            {"/dev-ui/./index.html", 400},
            {"/dev-ui/main-ABC123.js%00.png", 400},
            {"/dev-ui/escape.txt", 404},      // a link out of the UI folder
            {"/dev-ui/up/secret.txt", 404},   // through a linked folder
            {"/dev-ui/.version", 404},        // hidden files
            {"/dev-ui/assets/.%2e/.%2e/secret.txt", 400},
            {"/dev-ui//etc/passwd", 0},       // not absolute: ui/etc/passwd, a UI route
            {"/dev-ui/%2fetc%2fpasswd", 0},
        };
        for (const Case& k : cases) {
            RawResponse r = co_await raw(port, "GET", k.target);
            if (k.status != 0) {
                EXPECT_EQ(r.status, k.status) << k.target << "\n" << r.head;
            }
            EXPECT_NE(r.status, 0) << k.target;
            EXPECT_EQ(r.body.find(kSecret), std::string::npos) << k.target;
            EXPECT_EQ(r.body.find("root:"), std::string::npos) << k.target;
            if (r.status == 200) {
                EXPECT_NE(r.body.find("UI-INDEX"), std::string::npos) << k.target;
            }
        }
        // The server is still fine.
        RawResponse ok = co_await raw(port, "GET", "/dev-ui/main-ABC123.js");
        EXPECT_EQ(ok.status, 200);
    });
}

TEST_F(WebUi, TheApiIsStillServedBesideTheUi) {
    with_ui_server(options_for(ui), [&](std::string base, std::uint16_t) -> aio::Coro<> {
        http::Client c;
        http::Response apps = co_await get(c, base + "/list-apps");
        EXPECT_EQ(apps.status, 200);
        EXPECT_EQ(Json::parse(apps.body, nullptr, false), Json::array({"hello"}));
        http::Response health = co_await get(c, base + "/health");
        EXPECT_EQ(health.status, 200);
        http::Response unknown = co_await get(c, base + "/no/such/route");
        EXPECT_EQ(unknown.status, 404);
        EXPECT_EQ(unknown.body.find("UI-INDEX"), std::string::npos);
        http::Request post;
        post.method = "POST";
        post.url = base + "/dev-ui/index.html";
        post.body = "{}";
        post.follow_redirects = false;
        http::Response r = co_await c.request(std::move(post));
        EXPECT_EQ(r.status, 405);
    });
}

// --- registration and discovery ----------------------------------------------------------

TEST_F(WebUi, ServeWebUiRefusesAFolderWithoutIndexAndALateCall) {
    adk::ApiServer server;
    EXPECT_THROW(adk::serve_web_ui(server, tmp / "nowhere"), std::invalid_argument);
    EXPECT_THROW(adk::serve_web_ui(server, ui / "assets"), std::invalid_argument);
    run_bounded([&]() -> aio::Coro<> {
        adk::ApiServer started;
        co_await started.start();
        EXPECT_THROW(adk::serve_web_ui(started, ui), std::logic_error);
        co_await started.aclose();
    });
}

TEST_F(WebUi, FindWebUiDirHonoursTheEnvironment) {
    ::setenv("ADK_WEB_UI_DIR", ui.c_str(), 1);
    EXPECT_EQ(fs::canonical(adk::find_web_ui_dir()), fs::canonical(ui));
    ::setenv("ADK_WEB_UI_DIR", (tmp / "nowhere").c_str(), 1);
    try {
        adk::find_web_ui_dir();
        ADD_FAILURE() << "no error for a folder without index.html";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("ADK_WEB_UI_DIR"), std::string::npos) << e.what();
    }
}

TEST_F(WebUi, FindWebUiDirSearchesNodeModulesUpwards) {
    ::unsetenv("ADK_WEB_UI_DIR");
    fs::path project = tmp / "project";
    fs::path package = project / "node_modules" / "@google" / "adk-devtools" / "dist" / "browser";
    write_file(package / "index.html", kIndex);
    fs::path deep = project / "build" / "bin";
    fs::create_directories(deep);
    EXPECT_EQ(fs::canonical(adk::find_web_ui_dir({deep})), fs::canonical(package));
    EXPECT_EQ(fs::canonical(adk::find_web_ui_dir({tmp / "elsewhere", project})), fs::canonical(package));

    fs::path lonely = tmp / "lonely";
    fs::create_directories(lonely);
    try {
        adk::find_web_ui_dir({lonely});
        ADD_FAILURE() << "found a UI where there is none";
    } catch (const std::runtime_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("lonely"), std::string::npos) << what;
        EXPECT_NE(what.find("ADK_WEB_UI_DIR"), std::string::npos) << what;
        EXPECT_NE(what.find("@google/adk-devtools"), std::string::npos) << what;
    }
}

}  // namespace
