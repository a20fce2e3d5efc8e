// aio::http::Client against a real HTTP/1.1 server on loopback, written here
// with aio streams: fixed responses (content-length, chunked, slow chunks, a
// server that never answers, a connection closed mid-body, redirects,
// keep-alive), cancellation mid-transfer seen from the server, back-pressure,
// many concurrent requests, and an SSE stream end to end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/sse.hpp>
#include <aio/streams.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;
using namespace std::chrono_literals;
namespace http = aio::http;

namespace {

// --- the test server -----------------------------------------------------------------

struct ParsedRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string response_head(int status, std::string_view reason, const std::vector<std::string>& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    for (const auto& h : headers) out += h + "\r\n";
    out += "\r\n";
    return out;
}

std::string fixed_response(int status, std::string_view reason, std::string_view body,
                           std::vector<std::string> headers = {}) {
    headers.push_back("Content-Length: " + std::to_string(body.size()));
    return response_head(status, reason, headers) + std::string(body);
}

std::string chunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + std::string(data) + "\r\n";
}

/// What the server saw; the tests read it.
struct ServerState {
    int accepted = 0;          // connections accepted
    int requests = 0;          // requests parsed
    int disconnected = 0;      // connections whose handler saw the client go
    aio::Event client_gone;    // set at each disconnection
    aio::Event gate;           // /gated waits for it between its chunks
    std::size_t big_written = 0;  // bytes /big managed to send
    std::string last_target;
    std::map<std::string, std::string> last_headers;
};

aio::Coro<std::optional<ParsedRequest>> read_request(aio::StreamReader& reader) {
    std::string head;
    try {
        head = co_await reader.readuntil("\r\n\r\n");
    } catch (const std::exception&) {
        co_return std::nullopt;  // EOF or reset between requests
    }
    ParsedRequest req;
    std::size_t line_end = head.find("\r\n");
    std::string line = head.substr(0, line_end);
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = line.find(' ', sp1 + 1);
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
        std::size_t end = head.find("\r\n", pos);
        if (end == pos || end == std::string::npos) break;
        std::string field = head.substr(pos, end - pos);
        std::size_t colon = field.find(':');
        std::string value = field.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[lower(field.substr(0, colon))] = value;
        pos = end + 2;
    }
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
        std::size_t n = std::stoul(it->second);
        if (n > 0) {
            std::string body = co_await reader.readexactly(n);
            req.body = std::move(body);
        }
    }
    co_return std::move(req);
}

/// Waits until the client closes the connection (EOF or error).
aio::Coro<> until_client_gone(aio::StreamReader& reader) {
    try {
        for (;;) {
            std::string data = co_await reader.read(4096);
            if (data.empty()) break;
        }
    } catch (const std::exception&) {
    }
}

aio::Coro<> send(aio::StreamWriter& writer, std::string_view data) {
    writer.write(data);
    co_await writer.drain();
}

/// Handles one request; returns false when the connection must end.
aio::Coro<bool> route(ServerState& st, ParsedRequest& req, aio::StreamReader& reader, aio::StreamWriter& writer,
                      std::uint16_t port) {
    const std::string& t = req.target;
    if (t == "/hello") {
        std::string resp = fixed_response(200, "OK", "hello world", {"Content-Type: text/plain", "X-Custom: yes"});
        co_await send(writer, resp);
    } else if (t == "/chunked") {
        std::string resp = response_head(200, "OK", {"Transfer-Encoding: chunked"}) + chunk("hello") +
                           chunk(", chunked") + chunk(" world") + "0\r\n\r\n";
        co_await send(writer, resp);
    } else if (t == "/echo") {
        std::string body = req.method + " " + req.target + "\n";
        for (const auto& [k, v] : req.headers) body += k + ": " + v + "\n";
        body += "\n" + req.body;
        std::string resp = fixed_response(200, "OK", body);
        co_await send(writer, resp);
    } else if (t.starts_with("/status/")) {
        int code = std::stoi(t.substr(8));
        std::string resp = fixed_response(code, code == 404 ? "Not Found" : "Whatever", "status body " + t.substr(8));
        co_await send(writer, resp);
    } else if (t.starts_with("/redirect/")) {
        int n = std::stoi(t.substr(10));
        std::string resp = n == 0 ? fixed_response(200, "OK", "arrived")
                                  : fixed_response(302, "Found", "moved",
                                                   {"Location: /redirect/" + std::to_string(n - 1)});
        co_await send(writer, resp);
    } else if (t == "/loop") {
        std::string resp = fixed_response(302, "Found", "", {"Location: /loop"});
        co_await send(writer, resp);
    } else if (t == "/never") {
        co_await until_client_gone(reader);  // never answers
        co_return false;
    } else if (t == "/cut") {
        std::string resp = response_head(200, "OK", {"Content-Length: 100"}) + "0123456789";
        co_await send(writer, resp);
        co_return false;  // closes with 90 bytes missing
    } else if (t == "/nothing") {
        co_return false;  // closes without a response
    } else if (t == "/garbage") {
        co_await send(writer, "this is not HTTP\r\n\r\n");
        co_return false;
    } else if (t == "/slow") {
        // 5 chunks, 30 ms apart.
        std::string head = response_head(200, "OK", {"Transfer-Encoding: chunked"});
        co_await send(writer, head);
        for (int i = 0; i < 5; ++i) {
            co_await aio::sleep(30ms);
            std::string c = chunk("tick" + std::to_string(i) + ";");
            co_await send(writer, c);
        }
        co_await send(writer, "0\r\n\r\n");
    } else if (t == "/gated") {
        // The second chunk waits until the test saw the first.
        std::string first = response_head(200, "OK", {"Transfer-Encoding: chunked"}) + chunk("first");
        co_await send(writer, first);
        co_await st.gate.wait();
        std::string rest = chunk("second") + "0\r\n\r\n";
        co_await send(writer, rest);
    } else if (t == "/stall") {
        // Headers and a few bytes, then nothing until the client goes.
        std::string resp = response_head(200, "OK", {"Content-Length: 100000"}) + "partial";
        co_await send(writer, resp);
        co_await until_client_gone(reader);
        co_return false;
    } else if (t == "/drip") {
        // One byte every 40 ms, 10 bytes: never idle for long.
        std::string head = response_head(200, "OK", {"Content-Length: 10"});
        co_await send(writer, head);
        for (int i = 0; i < 10; ++i) {
            co_await aio::sleep(40ms);
            co_await send(writer, "x");
        }
    } else if (t.starts_with("/big/")) {
        // Megabytes in 64 KiB chunks, as fast as the client takes them.
        std::size_t total = std::stoul(t.substr(5)) << 20;
        std::string head = response_head(200, "OK", {"Content-Length: " + std::to_string(total)});
        co_await send(writer, head);
        std::string block(64 * 1024, 'b');
        try {
            while (st.big_written < total) {
                writer.write(block);
                co_await writer.drain();
                st.big_written += block.size();
            }
        } catch (const std::exception&) {
            co_return false;
        }
    } else if (t == "/sse") {
        std::string head = response_head(200, "OK", {"Content-Type: text/event-stream", "Cache-Control: no-cache"});
        co_await send(writer, head);
        // Events cut at awkward places, written with pauses in between.
        const std::vector<std::string> pieces{
            ": welcome\n",    "retry: 1000\nid: 1\nevent: tok", "en\ndata: Hel",  "lo\r",
            "\n\r\nid: 2\n",  "data: multi\ndata: line\n",      "\nid: 3\ndata:", " done\n\n",
        };
        for (const auto& p : pieces) {
            co_await send(writer, p);
            co_await aio::sleep(5ms);
        }
        co_return false;  // the stream ends with the connection
    } else if (t.starts_with("http://")) {
        // Absolute form: we are being used as a proxy.
        std::string resp = fixed_response(200, "OK", "proxied " + t);
        co_await send(writer, resp);
    } else {
        std::string resp = fixed_response(404, "Not Found", "no route " + t);
        co_await send(writer, resp);
    }
    (void)port;
    co_return req.headers["connection"] != "close";
}

aio::Coro<> serve_connection(ServerState& st, std::uint16_t port, aio::StreamReader reader, aio::StreamWriter writer) {
    ++st.accepted;
    bool client_left = true;
    try {
        for (;;) {
            std::optional<ParsedRequest> req = co_await read_request(reader);
            if (!req) break;
            ++st.requests;
            st.last_target = req->target;
            st.last_headers = req->headers;
            bool keep = co_await route(st, *req, reader, writer, port);
            if (!keep) {
                client_left = req->target == "/never" || req->target == "/stall";
                break;
            }
        }
    } catch (const std::exception&) {
    }
    if (client_left) {
        ++st.disconnected;
        st.client_gone.set();
    }
    writer.close();
}

struct TestServer {
    ServerState state;
    aio::Server server;
    std::uint16_t port = 0;

    std::string url(std::string_view path) const { return "http://127.0.0.1:" + std::to_string(port) + std::string(path); }
};

aio::Coro<std::unique_ptr<TestServer>> start_test_server() {
    auto ts = std::make_unique<TestServer>();
    TestServer* raw = ts.get();
    aio::Server server = co_await aio::start_server(
        [raw](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
            co_await serve_connection(raw->state, raw->port, std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    ts->server = server;
    ts->port = server.sockets().at(0).sockname().port();
    co_return std::move(ts);
}

/// Options for tests: no proxy from the environment, short connect timeout.
http::ClientOptions test_options() {
    http::ClientOptions o;
    o.proxy = "";
    o.connect_timeout = 10s;
    return o;
}

http::Request make_request(std::string url, std::string method = "GET") {
    http::Request r;
    r.method = std::move(method);
    r.url = std::move(url);
    return r;
}


}  // namespace

// --- plain requests ----------------------------------------------------------------

TEST(HttpClient, GetWithContentLength) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Response r = co_await client.get(ts->url("/hello"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.reason, "OK");
        EXPECT_EQ(r.http_version, "1.1");
        EXPECT_EQ(r.body, "hello world");
        EXPECT_TRUE(r.ok());
        EXPECT_EQ(r.url, ts->url("/hello"));
        // Case-insensitive lookup.
        EXPECT_EQ(r.headers.value("content-type"), "text/plain");
        EXPECT_EQ(r.headers.value("CONTENT-TYPE"), "text/plain");
        EXPECT_EQ(r.headers.value("x-custom"), "yes");
        EXPECT_FALSE(r.headers.get("x-missing").has_value());
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

TEST(HttpClient, ChunkedBody) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Response r = co_await client.get(ts->url("/chunked"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello, chunked world");
        EXPECT_EQ(r.headers.value("transfer-encoding"), "chunked");
    });
}

TEST(HttpClient, RequestMethodHeadersAndBodyReachTheServer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::ClientOptions opts = test_options();
        opts.headers.add("X-Default", "from-client");
        opts.headers.add("X-Overridden", "client");
        http::Client client(std::move(opts));

        http::Request req = make_request(ts->url("/echo"), "PUT");
        req.headers.add("X-Overridden", "request");
        req.headers.add("Content-Type", "application/json");
        req.body = R"({"k": 1})";
        http::Response r = co_await client.request(std::move(req));
        EXPECT_EQ(r.status, 200);
        EXPECT_TRUE(r.body.starts_with("PUT /echo\n")) << r.body;
        EXPECT_NE(r.body.find("x-default: from-client\n"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("x-overridden: request\n"), std::string::npos) << r.body;
        EXPECT_EQ(r.body.find("x-overridden: client"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("content-type: application/json\n"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("user-agent: aio-http/"), std::string::npos) << r.body;
        EXPECT_TRUE(r.body.ends_with("\n\n{\"k\": 1}")) << r.body;

        http::Response p = co_await client.post(ts->url("/echo"), "a=1&b=2");
        EXPECT_TRUE(p.body.starts_with("POST /echo\n")) << p.body;
        EXPECT_TRUE(p.body.ends_with("\n\na=1&b=2")) << p.body;

        http::Request head = make_request(ts->url("/hello"), "HEAD");
        http::Response h = co_await client.request(std::move(head));
        EXPECT_EQ(h.status, 200);
        EXPECT_EQ(h.body, "");
        EXPECT_EQ(h.headers.value("content-length"), "11");
    });
}

TEST(HttpClient, Non2xxIsANormalResponseAndRaiseForStatusThrows) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Response r = co_await client.get(ts->url("/status/404"));
        EXPECT_EQ(r.status, 404);
        EXPECT_EQ(r.reason, "Not Found");
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.body, "status body 404");
        try {
            r.raise_for_status();
            ADD_FAILURE() << "raise_for_status did not throw";
        } catch (const http::HttpStatusError& e) {
            EXPECT_EQ(e.status(), 404);
            EXPECT_EQ(e.body(), "status body 404");
            EXPECT_EQ(e.url(), ts->url("/status/404"));
        }
        http::Response ok = co_await client.get(ts->url("/hello"));
        EXPECT_NO_THROW(ok.raise_for_status());
        http::Response five = co_await client.get(ts->url("/status/503"));
        EXPECT_EQ(five.status, 503);
        EXPECT_THROW(five.raise_for_status(), http::HttpError);
    });
}

// --- redirects --------------------------------------------------------------------

TEST(HttpClient, RedirectsAreFollowed) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Response r = co_await client.get(ts->url("/redirect/3"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "arrived");
        EXPECT_EQ(r.url, ts->url("/redirect/0"));
        EXPECT_EQ(ts->state.requests, 4);
        EXPECT_FALSE(r.headers.contains("Location"));  // the final response's headers only
    });
}

TEST(HttpClient, RedirectsNotFollowedWhenDisabled) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request(ts->url("/redirect/3"));
        req.follow_redirects = false;
        http::Response r = co_await client.request(std::move(req));
        EXPECT_EQ(r.status, 302);
        EXPECT_EQ(r.headers.value("location"), "/redirect/2");
        EXPECT_EQ(r.body, "moved");
    });
}

TEST(HttpClient, TooManyRedirects) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request(ts->url("/loop"));
        req.max_redirects = 3;
        std::exception_ptr e = co_await failure_of(client.request(std::move(req)));
        EXPECT_TRUE(holds<http::TooManyRedirectsError>(e)) << describe(e);
        EXPECT_TRUE(holds<http::HttpError>(e));
        EXPECT_EQ(ts->state.requests, 4);  // the first + 3 redirects
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

// --- connection reuse and concurrency -------------------------------------------------

TEST(HttpClient, KeepAliveReusesOneConnection) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        for (int i = 0; i < 5; ++i) {
            http::Response r = co_await client.get(ts->url("/hello"));
            EXPECT_EQ(r.body, "hello world");
        }
        http::Response c = co_await client.get(ts->url("/chunked"));
        EXPECT_EQ(c.body, "hello, chunked world");
        EXPECT_EQ(ts->state.requests, 6);
        EXPECT_EQ(ts->state.accepted, 1);
        EXPECT_EQ(client.connections_opened(), 1u);
    });
}

TEST(HttpClient, ManyConcurrentRequestsOnOneLoop) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::ClientOptions opts = test_options();
        opts.max_connections = 16;
        http::Client client(std::move(opts));
        constexpr int kRequests = 300;
        std::vector<aio::Task<http::Response>> tasks;
        for (int i = 0; i < kRequests; ++i) {
            std::string path = i % 3 == 0 ? "/chunked" : (i % 3 == 1 ? "/hello" : "/echo");
            tasks.push_back(aio::create_task(client.get(ts->url(path))));
        }
        std::vector<http::Response> results = co_await aio::gather(tasks);
        CO_ASSERT_TRUE(results.size() == static_cast<std::size_t>(kRequests));
        for (int i = 0; i < kRequests; ++i) {
            EXPECT_EQ(results[i].status, 200);
            if (i % 3 == 0) {
                EXPECT_EQ(results[i].body, "hello, chunked world");
            } else if (i % 3 == 1) {
                EXPECT_EQ(results[i].body, "hello world");
            } else {
                EXPECT_TRUE(results[i].body.starts_with("GET /echo\n"));
            }
        }
        EXPECT_EQ(ts->state.requests, kRequests);
        EXPECT_LE(ts->state.accepted, 16);  // the pool's bound, connections reused
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

// --- failures ----------------------------------------------------------------------

TEST(HttpClient, ConnectionRefused) {
    run_bounded([]() -> aio::Coro<> {
        // A port nobody listens on: bind one, note it, close it.
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        ::close(fd);
        std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";

        http::Client client(test_options());
        std::exception_ptr e = co_await failure_of(client.get(url));
        EXPECT_TRUE(holds<http::ConnectRefusedError>(e)) << describe(e);
        EXPECT_TRUE(holds<http::ConnectError>(e));
        EXPECT_TRUE(holds<std::runtime_error>(e));
        try {
            std::rethrow_exception(e);
        } catch (const http::ConnectRefusedError& err) {
            EXPECT_EQ(err.os_error(), ECONNREFUSED);
            EXPECT_EQ(err.url(), url);
        }
    });
}

TEST(HttpClient, DnsFailure) {
    run_bounded([]() -> aio::Coro<> {
        http::Client client(test_options());
        std::exception_ptr e = co_await failure_of(client.get("http://no-such-host.invalid/"));
        EXPECT_TRUE(holds<http::DnsError>(e)) << describe(e);
        EXPECT_TRUE(holds<http::ConnectError>(e));
    });
}

TEST(HttpClient, TlsFailureAgainstAPlainHttpServer) {
    run_bounded([]() -> aio::Coro<> {
        // A server that answers the TLS ClientHello with plain HTTP.
        aio::Server plain = co_await aio::start_server(
            [](aio::StreamReader r, aio::StreamWriter w) -> aio::Coro<> {
                std::string hello = co_await r.read(4096);
                w.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                co_await w.drain();
                w.close();
            },
            "127.0.0.1", 0);
        http::Client client(test_options());
        std::string url = "https://127.0.0.1:" + std::to_string(plain.sockets().at(0).sockname().port()) + "/hello";
        std::exception_ptr e = co_await failure_of(client.get(url));
        EXPECT_TRUE(holds<http::TlsError>(e)) << describe(e);
        EXPECT_TRUE(holds<http::ConnectError>(e));
    });
}

TEST(HttpClient, TlsWithTheServersCaAndVerificationFailureWithout) {
    // A real TLS server: `openssl s_server -www` with a fresh self-signed
    // certificate for 127.0.0.1.
    char dir_template[] = "/tmp/aio-http-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const std::string make_cert = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                                  dir + "/key.pem -out " + dir + "/cert.pem -days 1 -subj /CN=127.0.0.1" +
                                  " -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
    ASSERT_EQ(std::system(make_cert.c_str()), 0) << make_cert;
    run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> args{"s_server", "-accept", "127.0.0.1:0", "-www",
                                      "-cert",    dir + "/cert.pem", "-key", dir + "/key.pem"};
        aio::SubprocessOptions so;
        so.stdout = aio::PIPE;
        so.stderr = aio::DEVNULL;
        aio::Process server = co_await aio::create_subprocess_exec("openssl", std::move(args), so);
        std::string port;
        for (;;) {
            std::string line = co_await server.stdout()->readline();
            if (line.empty()) break;
            if (line.starts_with("ACCEPT")) {
                port = line.substr(line.rfind(':') + 1);
                while (!port.empty() && (port.back() == '\n' || port.back() == '\r')) port.pop_back();
                break;
            }
        }
        CO_ASSERT_TRUE(!port.empty());
        const std::string url = "https://127.0.0.1:" + port + "/";
        {
            http::ClientOptions opts = test_options();
            opts.ca_file = dir + "/cert.pem";
            http::Client client(std::move(opts));
            std::exception_ptr failure;
            try {
                http::Response r = co_await client.get(url);
                EXPECT_EQ(r.status, 200);
                EXPECT_NE(r.body.find("s_server"), std::string::npos) << r.body;
            } catch (...) {
                failure = std::current_exception();
            }
            EXPECT_FALSE(failure) << describe(failure);
        }
        {
            http::Client strict(test_options());  // the system's CAs do not know this certificate
            std::exception_ptr e = co_await failure_of(strict.get(url));
            EXPECT_TRUE(holds<http::TlsError>(e)) << describe(e);
        }
        server.kill();
        co_await server.wait();
    });
    std::system(("rm -rf " + dir).c_str());
}

TEST(HttpClient, TlsHandshakeNeverAnsweredIsAConnectTimeout) {
    run_bounded([]() -> aio::Coro<> {
        // The test server waits for an HTTP request and never answers the ClientHello.
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request("https://127.0.0.1:" + std::to_string(ts->port) + "/hello");
        req.connect_timeout = 200ms;
        std::exception_ptr e = co_await failure_of(client.request(std::move(req)));
        EXPECT_TRUE(holds<http::HttpTimeoutError>(e)) << describe(e);
        try {
            std::rethrow_exception(e);
        } catch (const http::HttpTimeoutError& t) {
            EXPECT_EQ(t.kind(), http::HttpTimeoutError::Kind::connect);
        } catch (...) {
        }
    });
}

TEST(HttpClient, InvalidUrlAndUnsupportedScheme) {
    run_bounded([]() -> aio::Coro<> {
        http::Client client(test_options());
        std::exception_ptr e1 = co_await failure_of(client.get("ftp://127.0.0.1/file"));
        EXPECT_TRUE(holds<http::InvalidUrlError>(e1)) << describe(e1);
        std::exception_ptr e2 = co_await failure_of(client.get("http://[::1/"));
        EXPECT_TRUE(holds<http::InvalidUrlError>(e2)) << describe(e2);
        std::exception_ptr e3 = co_await failure_of(client.get("file:///etc/passwd"));
        EXPECT_TRUE(holds<http::InvalidUrlError>(e3)) << describe(e3);
    });
}

TEST(HttpClient, ConnectionClosedMidBody) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        std::exception_ptr e = co_await failure_of(client.get(ts->url("/cut")));
        EXPECT_TRUE(holds<http::ConnectionLostError>(e)) << describe(e);
        EXPECT_FALSE(holds<aio::CancelledError>(e));
        std::exception_ptr e2 = co_await failure_of(client.get(ts->url("/nothing")));
        EXPECT_TRUE(holds<http::ConnectionLostError>(e2)) << describe(e2);
        // The client stays usable.
        http::Response r = co_await client.get(ts->url("/hello"));
        EXPECT_EQ(r.body, "hello world");
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

TEST(HttpClient, GarbageResponseIsAProtocolError) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        std::exception_ptr e = co_await failure_of(client.get(ts->url("/garbage")));
        EXPECT_TRUE(holds<http::ProtocolError>(e)) << describe(e);
    });
}

TEST(HttpClient, ResponseTooLarge) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::ClientOptions opts = test_options();
        opts.max_response_size = 100 * 1024;
        http::Client client(std::move(opts));
        std::exception_ptr e = co_await failure_of(client.get(ts->url("/big/1")));
        EXPECT_TRUE(holds<http::ResponseTooLargeError>(e)) << describe(e);
    });
}

// --- timeouts -------------------------------------------------------------------------

TEST(HttpClient, TotalTimeoutOnAServerThatNeverAnswers) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request(ts->url("/never"));
        req.timeout = 200ms;
        auto start = aio::get_running_loop().time();
        std::exception_ptr e = co_await failure_of(client.request(std::move(req)));
        double took = since(start);
        EXPECT_TRUE(holds<http::HttpTimeoutError>(e)) << describe(e);
        try {
            std::rethrow_exception(e);
        } catch (const http::HttpTimeoutError& t) {
            EXPECT_EQ(t.kind(), http::HttpTimeoutError::Kind::total);
            EXPECT_EQ(t.limit(), 200ms);
        } catch (...) {
        }
        EXPECT_GE(took, 0.19);
        EXPECT_LT(took, 5.0);
        // The server sees the connection go.
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
        EXPECT_EQ(ts->state.disconnected, 1);
    });
}

TEST(HttpClient, IdleTimeoutWhenTheServerStalls) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request(ts->url("/stall"));
        req.idle_timeout = 150ms;
        auto start = aio::get_running_loop().time();
        std::exception_ptr e = co_await failure_of(client.request(std::move(req)));
        double took = since(start);
        EXPECT_TRUE(holds<http::HttpTimeoutError>(e)) << describe(e);
        try {
            std::rethrow_exception(e);
        } catch (const http::HttpTimeoutError& t) {
            EXPECT_EQ(t.kind(), http::HttpTimeoutError::Kind::idle);
        } catch (...) {
        }
        EXPECT_GE(took, 0.14);
        EXPECT_LT(took, 5.0);
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

TEST(HttpClient, IdleTimeoutIsResetByEachByte) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        // 10 bytes, 40 ms apart (400 ms in all) with a 250 ms idle timeout.
        http::Request req = make_request(ts->url("/drip"));
        req.idle_timeout = 250ms;
        http::Response r = co_await client.request(std::move(req));
        EXPECT_EQ(r.body, "xxxxxxxxxx");
    });
}

TEST(HttpClient, ConnectTimeout) {
    // A listening socket whose accept queue is full: Linux drops further
    // SYNs, so a new connection attempt hangs until the connect timeout.
    int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(lfd, 0), 0);
    socklen_t len = sizeof addr;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {  // fill the queue (and then some)
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        fillers.push_back(c);
    }
    ::usleep(50'000);
    std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
    run_bounded([&]() -> aio::Coro<> {
        http::Client client(test_options());
        http::Request req = make_request(url);
        req.connect_timeout = 200ms;
        auto start = aio::get_running_loop().time();
        std::exception_ptr e = co_await failure_of(client.request(std::move(req)));
        double took = since(start);
        EXPECT_TRUE(holds<http::HttpTimeoutError>(e)) << describe(e);
        try {
            std::rethrow_exception(e);
        } catch (const http::HttpTimeoutError& t) {
            EXPECT_EQ(t.kind(), http::HttpTimeoutError::Kind::connect);
            EXPECT_EQ(t.limit(), 200ms);
        } catch (...) {
        }
        EXPECT_GE(took, 0.19);
        EXPECT_LT(took, 5.0);
    });
    for (int c : fillers) ::close(c);
    ::close(lfd);
}

// --- cancellation --------------------------------------------------------------------

TEST(HttpClient, CancellingTheTaskAbortsTheTransfer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        aio::Task<http::Response> task = aio::create_task(client.get(ts->url("/never")));
        // Wait until the server has the request, then cancel.
        while (ts->state.requests == 0) co_await aio::sleep(5ms);
        EXPECT_EQ(client.in_flight(), 1u);
        task.cancel();
        bool cancelled = false;
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(task.cancelled());
        EXPECT_EQ(client.in_flight(), 0u);  // nothing left behind
        // The server sees the connection close.
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
        EXPECT_EQ(ts->state.disconnected, 1);
        // The client goes on working.
        http::Response r = co_await client.get(ts->url("/hello"));
        EXPECT_EQ(r.body, "hello world");
    });
}

TEST(HttpClient, CancelledBeforeItStartedLeavesNothing) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        aio::Task<http::Response> task = aio::create_task(client.get(ts->url("/hello")));
        co_await aio::sleep(0s);  // the request is registered, nothing sent yet
        task.cancel();
        std::exception_ptr e = co_await failure_of(task);
        EXPECT_TRUE(holds<aio::CancelledError>(e));
        EXPECT_EQ(client.in_flight(), 0u);
        for (int i = 0; i < 5; ++i) co_await aio::sleep(1ms);
        EXPECT_EQ(ts->state.requests, 0);
    });
}

TEST(HttpClient, WaitForTimeoutAroundARequest) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        bool timed_out = false;
        try {
            co_await aio::wait_for(client.get(ts->url("/never")), 100ms);
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(client.in_flight(), 0u);
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
    });
}

TEST(HttpClient, CloseAbortsTransfersInFlight) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        aio::Task<http::Response> task = aio::create_task(client.get(ts->url("/never")));
        while (ts->state.requests == 0) co_await aio::sleep(5ms);
        client.close();
        std::exception_ptr e = co_await failure_of(task);
        EXPECT_TRUE(holds<http::ClientClosedError>(e)) << describe(e);
        EXPECT_TRUE(client.is_closed());
        std::exception_ptr later = co_await failure_of(client.get(ts->url("/hello")));
        EXPECT_TRUE(holds<http::ClientClosedError>(later)) << describe(later);
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
    });
}

// --- streaming -------------------------------------------------------------------------

TEST(HttpStream, HeadersFirstThenChunksAsTheyArrive) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/gated")));
        EXPECT_EQ(s.status, 200);
        EXPECT_EQ(s.headers.value("Transfer-Encoding"), "chunked");
        // The server sends "second" only after we got "first": this proves
        // the body streams (a buffered client would wait forever here).
        std::optional<std::string> first = co_await s.body.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(*first, "first");
        ts->state.gate.set();
        std::string rest = co_await s.read();
        EXPECT_EQ(rest, "second");
        EXPECT_TRUE(s.body.done());
        s = http::StreamResponse{};
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

TEST(HttpStream, SlowChunksArriveOverTime) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        auto start = aio::get_running_loop().time();
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/slow")));
        std::vector<double> times;
        std::string all;
        while (auto c = co_await s.body.next()) {
            times.push_back(since(start));
            all += *c;
        }
        EXPECT_EQ(all, "tick0;tick1;tick2;tick3;tick4;");
        CO_ASSERT_TRUE(times.size() >= 2);
        EXPECT_GE(times.back() - times.front(), 0.06);  // spread over the server's pauses
    });
}

TEST(HttpStream, StatusAndHeadersOfNon2xx) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/status/404")));
        EXPECT_EQ(s.status, 404);
        EXPECT_FALSE(s.ok());
        std::exception_ptr e = co_await failure_of(s.raise_for_status());
        EXPECT_TRUE(holds<http::HttpStatusError>(e)) << describe(e);
        try {
            std::rethrow_exception(e);
        } catch (const http::HttpStatusError& err) {
            EXPECT_EQ(err.status(), 404);
            EXPECT_EQ(err.body(), "status body 404");
        } catch (...) {
        }
    });
}

TEST(HttpStream, RedirectThenStream) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/redirect/2")));
        EXPECT_EQ(s.status, 200);
        EXPECT_EQ(s.url, ts->url("/redirect/0"));
        std::string body = co_await s.read();
        EXPECT_EQ(body, "arrived");
    });
}

TEST(HttpStream, ErrorBeforeHeadersRaisedByStream) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        std::exception_ptr e = co_await failure_of(client.stream(make_request(ts->url("/nothing"))));
        EXPECT_TRUE(holds<http::ConnectionLostError>(e)) << describe(e);
    });
}

TEST(HttpStream, ConnectionClosedMidBodyRaisedByTheBodyAfterTheData) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/cut")));
        EXPECT_EQ(s.status, 200);
        std::string got;
        std::exception_ptr failure;
        try {
            while (auto c = co_await s.body.next()) got += *c;
        } catch (...) {
            failure = std::current_exception();
        }
        EXPECT_EQ(got, "0123456789");
        EXPECT_TRUE(holds<http::ConnectionLostError>(failure)) << describe(failure);
    });
}

TEST(HttpStream, CancellingTheConsumerMidBodyAbortsTheTransfer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/stall")));
        std::optional<std::string> first = co_await s.body.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(*first, "partial");
        // A task waits for the next chunk (which never comes); cancel it.
        aio::Task<std::optional<std::string>> reader =
            aio::create_task([&]() -> aio::Coro<std::optional<std::string>> {
                std::optional<std::string> c = co_await s.body.next();
                co_return c;
            });
        co_await aio::sleep(20ms);
        reader.cancel();
        std::exception_ptr e = co_await failure_of(reader);
        EXPECT_TRUE(holds<aio::CancelledError>(e)) << describe(e);
        EXPECT_TRUE(s.body.done());
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
        EXPECT_EQ(ts->state.disconnected, 1);
        s = http::StreamResponse{};
        EXPECT_EQ(client.in_flight(), 0u);
    });
}

TEST(HttpStream, DroppingTheResponseAbortsTheTransfer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        {
            http::StreamResponse s = co_await client.stream(make_request(ts->url("/stall")));
            EXPECT_EQ(s.status, 200);
            EXPECT_EQ(client.in_flight(), 1u);
        }  // dropped without reading
        EXPECT_EQ(client.in_flight(), 0u);
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
        EXPECT_EQ(ts->state.disconnected, 1);
    });
}

TEST(HttpStream, AcloseAbortsTheTransfer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/stall")));
        std::optional<std::string> first = co_await s.body.next();
        CO_ASSERT_TRUE(first.has_value());
        co_await s.aclose();
        EXPECT_EQ(client.in_flight(), 0u);  // at once, not when `s` goes
        co_await aio::wait_for(ts->state.client_gone.wait(), 5s);
    });
}

TEST(HttpStream, BackPressurePausesTheTransfer) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        // 64 MiB: more than the kernel buffers of both ends can hold.
        http::StreamResponse s = co_await client.stream(make_request(ts->url("/big/64")));
        std::optional<std::string> first = co_await s.body.next();
        CO_ASSERT_TRUE(first.has_value());
        // Stop reading: the server's sends must stall.
        co_await aio::sleep(300ms);
        std::size_t a = ts->state.big_written;
        co_await aio::sleep(200ms);
        std::size_t b = ts->state.big_written;
        EXPECT_EQ(a, b) << "the server kept sending while nobody read";
        EXPECT_LT(b, std::size_t(64) << 20);
        // Read the rest: everything arrives.
        std::size_t total = first->size();
        std::size_t largest = 0;
        while (auto c = co_await s.body.next()) {
            largest = std::max(largest, c->size());
            total += c->size();
        }
        EXPECT_EQ(total, std::size_t(64) << 20);
        // What was buffered ahead of us: the threshold plus curl's held write.
        EXPECT_LE(largest, client.options().stream_buffer + 64 * 1024);
    }, std::chrono::seconds(60));
}

// --- SSE end to end -------------------------------------------------------------------------

TEST(HttpStream, ServerSentEventsEndToEnd) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        http::Client client(test_options());
        http::Request req = make_request(ts->url("/sse"));
        req.headers.set("Accept", "text/event-stream");
        http::StreamResponse s = co_await client.stream(std::move(req));
        EXPECT_EQ(s.headers.value("content-type"), "text/event-stream");
        EXPECT_EQ(ts->state.last_headers["accept"], "text/event-stream");
        auto events = http::sse_events(std::move(s.body));
        std::vector<http::SseEvent> got;
        while (auto e = co_await events.next()) got.push_back(std::move(*e));
        CO_ASSERT_TRUE(got.size() == 3u);
        EXPECT_EQ(got[0].event, "token");
        EXPECT_EQ(got[0].data, "Hello");
        EXPECT_EQ(got[0].id, "1");
        EXPECT_EQ(got[0].retry, std::chrono::milliseconds(1000));
        EXPECT_EQ(got[1].event, "message");
        EXPECT_EQ(got[1].data, "multi\nline");
        EXPECT_EQ(got[1].id, "2");
        EXPECT_EQ(got[2].data, "done");
        EXPECT_EQ(got[2].id, "3");
    });
}

// --- proxies from the environment ----------------------------------------------------------

TEST(HttpClient, ProxyFromTheEnvironment) {
    run_bounded([]() -> aio::Coro<> {
        auto ts = co_await start_test_server();
        std::string proxy = "http://127.0.0.1:" + std::to_string(ts->port);
        ::setenv("http_proxy", proxy.c_str(), 1);
        ::unsetenv("no_proxy");
        ::unsetenv("NO_PROXY");
        http::ClientOptions opts = test_options();
        opts.proxy.reset();  // from the environment
        http::Client client(std::move(opts));
        std::exception_ptr failure;
        try {
            http::Response r = co_await client.get("http://example.invalid/through-proxy");
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "proxied http://example.invalid/through-proxy");
        } catch (...) {
            failure = std::current_exception();
        }
        ::unsetenv("http_proxy");
        EXPECT_FALSE(failure) << describe(failure);
        EXPECT_EQ(ts->state.last_target, "http://example.invalid/through-proxy");
    });
}

TEST(HttpClient, Http2Available) {
    // Debian's libcurl is built with nghttp2: HTTP/2 is negotiated over TLS.
    EXPECT_TRUE(http::Client::http2_available());
}
