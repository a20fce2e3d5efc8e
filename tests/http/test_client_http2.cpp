// aio::http::Client over HTTP/2 against a real HTTP/2 server on loopback:
// node's built-in `http2` module (nghttp2), tests/http/h2_server.mjs, started
// by each test on a free port. Every test runs twice: h2c with prior
// knowledge (HttpVersion::http2_prior_knowledge) and TLS with ALPN "h2"
// (HttpVersion::automatic, a self-signed certificate made with the openssl
// CLI at start-up and given as ClientOptions::ca_file).
//
// What is proved: the responses are HTTP/2; many concurrent requests share
// ONE connection (the server counts sessions and streams open at once); a
// body streams chunk by chunk (the server sends chunk i+1 only when asked by
// another request on the same connection); cancelling one stream resets it
// (RST_STREAM, seen by the server) without disturbing the others; a server
// that kills the session mid-stream gives ConnectionLostError, not a hang.
//
// Needs `node` (Debian's nodejs, or $AIO_NODE) and `openssl`: missing, the
// tests fail naming the fix.
#include <sys/stat.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/subprocess.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

#ifndef AIO_H2_SERVER_SCRIPT
#define AIO_H2_SERVER_SCRIPT "tests/http/h2_server.mjs"
#endif

using namespace aio_test;
using namespace std::chrono_literals;
namespace http = aio::http;
namespace fs = std::filesystem;

namespace {

// --- helpers ---------------------------------------------------------------------


/// An executable found in PATH (or the path itself if it has a '/').
std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string{};
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

std::string node_program() {
    const char* env = std::getenv("AIO_NODE");
    return find_program(env && *env ? env : "node");
}

/// The server's counters (/stats, /wait-reset).
struct Stats {
    int sessions = -1;
    int open_sessions = -1;
    int streams = -1;
    int max_open_streams = -1;
    std::vector<std::pair<std::string, int>> resets;  // path, RST_STREAM error code
};

Stats parse_stats(const std::string& text) {
    Stats s;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string name;
        words >> name;
        if (name == "reset") {
            std::string path;
            int code = -1;
            words >> path >> code;
            s.resets.emplace_back(path, code);
            continue;
        }
        int value = -1;
        words >> value;
        if (name == "sessions") s.sessions = value;
        if (name == "open_sessions") s.open_sessions = value;
        if (name == "streams") s.streams = value;
        if (name == "max_open_streams") s.max_open_streams = value;
    }
    return s;
}

// --- the certificate (made once, removed after the tests) ---------------------------------

struct Certificate {
    std::string dir, cert, key, error;
};

const Certificate& certificate() {
    static Certificate c = [] {
        Certificate made;
        if (find_program("openssl").empty()) {
            made.error = "the openssl command-line tool is missing (apt-get install openssl)";
            return made;
        }
        std::string tmpl = (fs::temp_directory_path() / "aio-h2-test.XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            made.error = "mkdtemp failed";
            return made;
        }
        made.dir = tmpl;
        made.cert = made.dir + "/cert.pem";
        made.key = made.dir + "/key.pem";
        // A self-signed EC certificate for 127.0.0.1 and localhost.
        std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
                          " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
                          made.key + "' -out '" + made.cert + "' >'" + made.dir + "/openssl.log' 2>&1";
        if (std::system(cmd.c_str()) != 0 || !fs::exists(made.cert)) {
            made.error = "openssl could not make a certificate: see " + made.dir + "/openssl.log";
            return made;
        }
        return made;
    }();
    return c;
}

/// Removes the certificate's directory after the last test.
class CertificateCleanup : public ::testing::Environment {
public:
    void TearDown() override {
        const Certificate& c = certificate();
        std::error_code ec;
        if (!c.dir.empty()) fs::remove_all(c.dir, ec);
    }
};
[[maybe_unused]] ::testing::Environment* const certificate_cleanup =
    ::testing::AddGlobalTestEnvironment(new CertificateCleanup);

// --- the server --------------------------------------------------------------------

struct H2Server {
    aio::Process process;
    std::string url;  // http(s)://127.0.0.1:PORT

    std::string at(std::string_view path) const { return url + std::string(path); }
};

/// Starts h2_server.mjs (TLS or h2c) and reads its "listening on URL" line.
aio::Coro<H2Server> start_server(bool tls) {
    std::string node = node_program();
    if (node.empty())
        throw std::runtime_error("node is missing: apt-get install nodejs (or set AIO_NODE to a node binary)");
    if (!fs::exists(AIO_H2_SERVER_SCRIPT))
        throw std::runtime_error(std::string("the test server script is missing: ") + AIO_H2_SERVER_SCRIPT);
    std::vector<std::string> args{AIO_H2_SERVER_SCRIPT};
    if (tls) {
        const Certificate& c = certificate();
        if (!c.error.empty()) throw std::runtime_error(c.error);
        args.insert(args.end(), {"--tls", c.cert, c.key});
    }
    aio::SubprocessOptions options;
    options.stdin = aio::PIPE;  // the server stops at the end of its stdin, should we die
    options.stdout = aio::PIPE;
    aio::Process process = co_await aio::create_subprocess_exec(node, args, options);
    std::string line = co_await aio::wait_for(process.stdout()->readline(), 30s);
    const std::string prefix = "listening on ";
    if (!line.starts_with(prefix)) throw std::runtime_error("h2_server.mjs did not start: '" + line + "'");
    std::string url = line.substr(prefix.size());
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    H2Server server{std::move(process), std::move(url)};
    co_return server;
}

/// Stops the server (SIGTERM) and checks that it exited cleanly.
aio::Coro<> stop_server(H2Server& server) {
    server.process.terminate();
    int rc = co_await aio::wait_for(server.process.wait(), 10s);
    EXPECT_EQ(rc, 0) << "h2_server.mjs exit status";
}

/// Client options for a mode: h2c with prior knowledge, or TLS where the
/// default (automatic) negotiates h2 through ALPN.
http::ClientOptions h2_options(bool tls) {
    http::ClientOptions o;
    o.proxy = "";  // loopback: never through a proxy from the environment
    o.timeout = 30s;
    o.idle_timeout = 20s;
    if (tls) {
        o.ca_file = certificate().cert;
    } else {
        o.http_version = http::HttpVersion::http2_prior_knowledge;
    }
    return o;
}

http::Request get(std::string url) {
    http::Request r;
    r.url = std::move(url);
    return r;
}

aio::Coro<Stats> fetch_stats(http::Client& client, const H2Server& server) {
    http::Response r = co_await client.get(server.at("/stats"));
    EXPECT_EQ(r.status, 200);
    co_return parse_stats(r.body);
}

// --- the tests -----------------------------------------------------------------------

class Http2 : public ::testing::TestWithParam<bool> {
protected:
    bool tls() const { return GetParam(); }
    /// Requests share one connection: always over TLS; over h2c only with
    /// libcurl >= 8.0.0 (before, the client opens one per request: curl#10634).
    bool shared() const { return tls() || http::Client::http2_prior_knowledge_reuse(); }
};

std::string mode_name(const ::testing::TestParamInfo<bool>& info) { return info.param ? "Tls" : "H2c"; }

TEST_P(Http2, TheResponseIsHttp2) {
    ASSERT_TRUE(http::Client::http2_available()) << "this libcurl has no HTTP/2 (Debian's has nghttp2)";
    const bool tls = this->tls();
    const bool shared = this->shared();
    run_bounded([tls, shared]() -> aio::Coro<> {
        H2Server server = co_await start_server(tls);
        {
            http::Client client(h2_options(tls));
            http::Response r = co_await client.get(server.at("/hello"));
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.http_version, "2");
            EXPECT_EQ(r.reason, "");  // HTTP/2 has no reason phrase
            EXPECT_EQ(r.body, "hello over h2\n");
            EXPECT_EQ(r.headers.value("x-session"), "1");
            EXPECT_EQ(r.headers.value("content-type"), "text/plain");
            EXPECT_TRUE(r.url.starts_with(tls ? "https://" : "http://")) << r.url;
            // The second request reuses the connection: a new stream, same session.
            http::Response again = co_await client.get(server.at("/hello"));
            EXPECT_EQ(again.http_version, "2");
            EXPECT_EQ(again.body, "hello over h2\n");
            if (shared) {
                EXPECT_EQ(again.headers.value("x-session"), "1");
                EXPECT_EQ(again.headers.value("x-stream"), "3");  // client streams are odd: 1, 3, ...
                EXPECT_EQ(client.connections_opened(), 1u);
            } else {
                EXPECT_EQ(again.headers.value("x-session"), "2");
                EXPECT_EQ(client.connections_opened(), 2u);
            }
        }
        co_await stop_server(server);
    });
}

TEST_P(Http2, ConcurrentRequestsMultiplexOverOneConnection) {
    const bool tls = this->tls();
    const bool shared = this->shared();
    run_bounded([tls, shared]() -> aio::Coro<> {
        H2Server server = co_await start_server(tls);
        {
            http::Client client(h2_options(tls));
            // The server answers /barrier only once all kRequests are open at
            // the same time: served one after another, they would never end.
            constexpr int kRequests = 40;
            std::string url = server.at("/barrier?key=m&n=" + std::to_string(kRequests));
            std::vector<aio::Task<http::Response>> tasks;
            for (int i = 0; i < kRequests; ++i) tasks.push_back(aio::create_task(client.get(url)));
            std::vector<http::Response> results = co_await aio::gather(tasks);
            CO_ASSERT_TRUE(results.size() == static_cast<std::size_t>(kRequests));
            std::set<std::string> sessions;
            for (const http::Response& r : results) {
                EXPECT_EQ(r.status, 200);
                EXPECT_EQ(r.http_version, "2");
                EXPECT_EQ(r.body, "released m");
                sessions.insert(std::string(r.headers.value("x-session")));
            }
            Stats stats = co_await fetch_stats(client, server);
            EXPECT_EQ(stats.streams, kRequests + 1);
            if (shared) {
                EXPECT_EQ(sessions, std::set<std::string>{"1"}) << "every request on the first connection";
                EXPECT_EQ(stats.sessions, 1) << "every request on one connection";
                EXPECT_GE(stats.max_open_streams, kRequests) << "streams open at once on that connection";
                EXPECT_EQ(client.connections_opened(), 1u);
            } else {
                // Old libcurl, h2c: a connection per request (and still HTTP/2).
                EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kRequests));
                EXPECT_EQ(stats.sessions, kRequests + 1);
                EXPECT_EQ(client.connections_opened(), static_cast<std::size_t>(kRequests + 1));
            }
            EXPECT_EQ(client.in_flight(), 0u);
        }
        co_await stop_server(server);
    });
}

TEST_P(Http2, ABodyStreamsChunkByChunk) {
    const bool tls = this->tls();
    const bool shared = this->shared();
    run_bounded([tls, shared]() -> aio::Coro<> {
        H2Server server = co_await start_server(tls);
        {
            http::Client client(h2_options(tls));
            // The server sends "chunk i" only when /release asks for it, so
            // each chunk must reach us before the next one exists.
            http::Request s_req = get(server.at("/gated?key=g&n=4"));
            http::StreamResponse s = co_await client.stream(std::move(s_req));
            EXPECT_EQ(s.status, 200);
            EXPECT_EQ(s.http_version, "2");
            std::optional<std::string> first = co_await s.body.next();
            CO_ASSERT_TRUE(first.has_value());
            EXPECT_EQ(*first, "chunk 0\n");
            for (int i = 1; i < 4; ++i) {
                http::Response released = co_await client.get(server.at("/release?key=g"));
                EXPECT_EQ(released.body, "released " + std::to_string(i) + "\n");
                if (shared) {
                    EXPECT_EQ(released.headers.value("x-session"), "1");  // beside the open stream
                }
                std::optional<std::string> chunk = co_await s.body.next();
                CO_ASSERT_TRUE(chunk.has_value());
                EXPECT_EQ(*chunk, "chunk " + std::to_string(i) + "\n");
            }
            std::optional<std::string> end = co_await s.body.next();
            EXPECT_FALSE(end.has_value());
            EXPECT_EQ(client.connections_opened(), shared ? 1u : 4u);
        }
        co_await stop_server(server);
    });
}

TEST_P(Http2, CancellingOneStreamResetsItAndLeavesTheOthers) {
    const bool tls = this->tls();
    const bool shared = this->shared();
    run_bounded([tls, shared]() -> aio::Coro<> {
        H2Server server = co_await start_server(tls);
        {
            http::Client client(h2_options(tls));
            // A stream that stays open beside the one we cancel.
            http::Request gated_req = get(server.at("/gated?key=keep&n=3"));
            http::StreamResponse gated = co_await client.stream(std::move(gated_req));
            std::optional<std::string> g0 = co_await gated.body.next();
            CO_ASSERT_TRUE(g0.has_value());
            EXPECT_EQ(*g0, "chunk 0\n");

            // A task reads an endless body; cancel it once it has a chunk.
            aio::Event reading;
            auto read_endless = [&]() -> aio::Coro<int> {
                http::Request s_req = get(server.at("/endless"));
                http::StreamResponse s = co_await client.stream(std::move(s_req));
                int chunks = 0;
                while (true) {
                    std::optional<std::string> c = co_await s.body.next();
                    if (!c) break;
                    ++chunks;
                    reading.set();
                }
                co_return chunks;
            };
            aio::Task<int> endless = aio::create_task(read_endless());
            co_await reading.wait();
            endless.cancel();
            std::exception_ptr e = co_await failure_of(endless);
            EXPECT_TRUE(holds<aio::CancelledError>(e)) << describe(e);

            // The server saw that stream reset (RST_STREAM), not its connection closed.
            http::Response waited = co_await client.get(server.at("/wait-reset?n=1"));
            Stats stats = parse_stats(waited.body);
            CO_ASSERT_TRUE(stats.resets.size() == 1u);
            EXPECT_EQ(stats.resets[0].first, "/endless");
            EXPECT_NE(stats.resets[0].second, 0) << "RST_STREAM carries an error code (CANCEL or STREAM_CLOSED)";
            if (shared) {
                EXPECT_EQ(stats.sessions, 1);
            }

            // The other stream goes on, on the same connection.
            for (int i = 1; i < 3; ++i) {
                http::Response released = co_await client.get(server.at("/release?key=keep"));
                EXPECT_EQ(released.status, 200);
                std::optional<std::string> chunk = co_await gated.body.next();
                CO_ASSERT_TRUE(chunk.has_value());
                EXPECT_EQ(*chunk, "chunk " + std::to_string(i) + "\n");
            }
            std::optional<std::string> end = co_await gated.body.next();
            EXPECT_FALSE(end.has_value());
            http::Response hello = co_await client.get(server.at("/hello"));
            EXPECT_EQ(hello.body, "hello over h2\n");
            Stats after = co_await fetch_stats(client, server);
            if (shared) {
                EXPECT_EQ(hello.headers.value("x-session"), "1");
                EXPECT_EQ(after.sessions, 1) << "the cancellation did not cost the connection";
                EXPECT_EQ(client.connections_opened(), 1u);
            }
            gated = http::StreamResponse{};
            EXPECT_EQ(client.in_flight(), 0u);
        }
        co_await stop_server(server);
    });
}

/// The server sends a chunk, then kills the session: destroy (the socket
/// closes) or GOAWAY(INTERNAL_ERROR) then close.
void session_dies_mid_stream(bool tls, bool shared, std::string how) {
    run_bounded([tls, shared, how]() -> aio::Coro<> {
        H2Server server = co_await start_server(tls);
        {
            http::Client client(h2_options(tls));
            // Another stream is open on the same connection, its headers and
            // a first chunk received: it must end too, not hang, and get
            // nothing more. (A request that had received nothing would be
            // sent again by curl on a new connection, legitimately.)
            std::optional<http::StreamResponse> bystander;
            if (shared) {
                http::Request opened_req = get(server.at("/gated?key=by&n=3"));
                http::StreamResponse opened = co_await client.stream(std::move(opened_req));
                std::optional<std::string> b0 = co_await opened.body.next();
                CO_ASSERT_TRUE(b0.has_value());
                EXPECT_EQ(*b0, "chunk 0\n");
                EXPECT_EQ(opened.headers.value("x-session"), "1");
                bystander = std::move(opened);
            }
            http::Request s_req = get(server.at("/die?how=" + how));
            http::StreamResponse s = co_await client.stream(std::move(s_req));
            EXPECT_EQ(s.http_version, "2");
            EXPECT_EQ(s.headers.value("x-session"), "1");
            std::string received;
            std::exception_ptr error;
            try {
                while (true) {
                    std::optional<std::string> c = co_await s.body.next();
                    if (!c) break;
                    received += *c;
                }
            } catch (...) {
                error = std::current_exception();
            }
            EXPECT_EQ(received, "partial\n");
            EXPECT_TRUE(holds<http::ConnectionLostError>(error)) << describe(error);
            if (bystander) {
                std::string rest;
                std::exception_ptr other;
                try {
                    while (true) {
                        std::optional<std::string> c = co_await bystander->body.next();
                        if (!c) break;
                        rest += *c;
                    }
                } catch (...) {
                    other = std::current_exception();
                }
                EXPECT_EQ(rest, "");
                // libcurl 7.88 ends such a stream without an error although it
                // never got its END_STREAM (the curl CLI shows it too: exit 0);
                // a libcurl that reports it gives ConnectionLostError.
                EXPECT_TRUE(!other || holds<http::ConnectionLostError>(other)) << describe(other);
                bystander.reset();
            }

            // The same through request(): the whole body was not received.
            std::exception_ptr whole = co_await failure_of(client.get(server.at("/die?how=" + how)));
            EXPECT_TRUE(holds<http::ConnectionLostError>(whole)) << describe(whole);

            // The client opens a new connection for the next request.
            http::Response r = co_await client.get(server.at("/hello"));
            EXPECT_EQ(r.body, "hello over h2\n");
            EXPECT_EQ(r.headers.value("x-session"), "3");
            EXPECT_EQ(client.connections_opened(), 3u);
            EXPECT_EQ(client.in_flight(), 0u);
        }
        co_await stop_server(server);
    });
}

TEST_P(Http2, ASessionDestroyedMidStreamIsAConnectionLostError) { session_dies_mid_stream(tls(), shared(), "destroy"); }

TEST_P(Http2, AGoawayMidStreamIsAConnectionLostError) { session_dies_mid_stream(tls(), shared(), "goaway"); }

INSTANTIATE_TEST_SUITE_P(Modes, Http2, ::testing::Values(false, true), mode_name);

// --- TLS specifics ------------------------------------------------------------------

TEST(Http2Tls, WithoutTheCaTheCertificateIsRejected) {
    run_bounded([]() -> aio::Coro<> {
        H2Server server = co_await start_server(true);
        {
            http::ClientOptions o = h2_options(true);
            o.ca_file.clear();  // the system's CA store does not know our certificate
            http::Client client(std::move(o));
            std::exception_ptr e = co_await failure_of(client.get(server.at("/hello")));
            EXPECT_TRUE(holds<http::TlsError>(e)) << describe(e);
        }
        co_await stop_server(server);
    });
}

TEST(Http2Tls, ForcingHttp2OverTlsAndHttp11) {
    run_bounded([]() -> aio::Coro<> {
        H2Server server = co_await start_server(true);
        {
            http::ClientOptions o = h2_options(true);
            o.http_version = http::HttpVersion::http2;
            http::Client client(std::move(o));
            http::Response r = co_await client.get(server.at("/hello"));
            EXPECT_EQ(r.http_version, "2");
        }
        {
            // HTTP/1.1 only: the server offers nothing but h2 (no HTTP/1.1
            // fallback), so the handshake or the first exchange fails.
            http::ClientOptions o = h2_options(true);
            o.http_version = http::HttpVersion::http1_1;
            http::Client client(std::move(o));
            std::exception_ptr e = co_await failure_of(client.get(server.at("/hello")));
            EXPECT_TRUE(holds<http::HttpError>(e)) << describe(e);
        }
        co_await stop_server(server);
    });
}

}  // namespace
