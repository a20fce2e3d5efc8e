// aio::http::Server: the request parser fed by hand (any split, pipelining,
// chunked bodies, every limit, garbage), then the server over real TCP with
// a raw HTTP client on aio streams: keep-alive, pipelining, chunked requests,
// streamed and SSE responses received incrementally, a disconnect cancelling
// the handler, every limit and timeout, concurrent clients, graceful close.
#include <aio/aio.hpp>
#include <aio/http/server.hpp>
#include <aio/streams.hpp>
#include <string>
#include <vector>

#include "support.hpp"

using namespace aio_test;
using aio::http::RequestParser;
using aio::http::ResponseWriter;
using aio::http::ServerRequest;
using aio::http::ServerResponse;

namespace {

// --- a raw HTTP/1.1 client on aio streams ------------------------------------------------

struct RawResponse {
    int status = 0;
    aio::http::HeaderFields headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [k, v] : headers)
            if (aio::http::iequals(k, name)) return v;
        return std::nullopt;
    }
};

std::string trim_crlf(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

/// Reads the status line and the headers (skipping interim 1xx answers).
aio::Coro<RawResponse> read_head(aio::StreamReader& r) {
    RawResponse resp;
    for (;;) {
        std::string line = co_await r.readline();
        if (line.empty()) throw std::runtime_error("EOF before a status line");
        line = trim_crlf(line);
        resp.status = std::stoi(line.substr(9, 3));
        resp.headers.clear();
        for (;;) {
            std::string h = co_await r.readline();
            h = trim_crlf(h);
            if (h.empty()) break;
            std::size_t colon = h.find(':');
            std::string value = h.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            resp.headers.emplace_back(h.substr(0, colon), value);
        }
        if (resp.status >= 200) break;
    }
    co_return resp;
}

/// One chunk of a chunked body ("" for the terminating chunk).
aio::Coro<std::string> read_chunk(aio::StreamReader& r) {
    std::string size_line = co_await r.readline();
    std::size_t n = std::stoul(trim_crlf(size_line), nullptr, 16);
    if (n == 0) {
        for (;;) {
            std::string trailer = co_await r.readline();
            if (trim_crlf(trailer).empty()) break;
        }
        co_return std::string();
    }
    std::string data = co_await r.readexactly(n);
    std::string crlf = co_await r.readexactly(2);
    EXPECT_EQ(crlf, "\r\n");
    co_return data;
}

/// A whole response: Content-Length, chunked or until EOF.
aio::Coro<RawResponse> read_response(aio::StreamReader& r, bool head_request = false) {
    RawResponse resp = co_await read_head(r);
    if (head_request || resp.status == 204 || resp.status == 304) co_return resp;
    if (auto te = resp.header("transfer-encoding"); te && *te == "chunked") {
        for (;;) {
            std::string chunk = co_await read_chunk(r);
            if (chunk.empty()) break;
            resp.body += chunk;
        }
    } else if (auto cl = resp.header("content-length")) {
        resp.body = co_await r.readexactly(std::stoul(*cl));
    } else {
        resp.body = co_await r.read(-1);
    }
    co_return resp;
}

aio::Coro<RawResponse> roundtrip(aio::StreamReader& r, aio::StreamWriter& w, std::string request) {
    w.write(request);
    co_await w.drain();
    RawResponse resp = co_await read_response(r);
    co_return resp;
}

/// Reads until EOF (or reset); returns what came.
aio::Coro<std::string> read_to_eof(aio::StreamReader& r) {
    std::string all;
    try {
        for (;;) {
            std::string d = co_await r.read(65536);
            if (d.empty()) break;
            all += d;
        }
    } catch (const aio::ConnectionError&) {
    }
    co_return all;
}

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

std::string post(std::string_view path, std::string_view body) {
    return "POST " + std::string(path) + " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

aio::http::ServerConfig local_config() {
    aio::http::ServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    return c;
}

/// A handler echoing method, path and body.
aio::Coro<void> echo(ServerRequest& req, ResponseWriter& w) {
    std::string body = req.method + " " + req.path + " " + req.body;
    co_await w.send(200, body);
}

// --- the parser fed by hand -------------------------------------------------------------------

TEST(HttpRequestParser, ParsesARequestInOneFeed) {
    RequestParser p;
    std::string req = "GET /a/b%20c?x=1&y=two+words HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Thing:  v  \r\n\r\n";
    EXPECT_EQ(p.feed(req), req.size());
    ASSERT_EQ(p.status(), RequestParser::Status::complete);
    ServerRequest r = p.take();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/a/b%20c?x=1&y=two+words");
    EXPECT_EQ(r.path, "/a/b%20c");
    EXPECT_EQ(r.query, "x=1&y=two+words");
    EXPECT_EQ(r.query_param("y").value(), "two words");
    EXPECT_FALSE(r.query_param("z").has_value());
    EXPECT_EQ(r.header("x-thing").value(), "v");
    EXPECT_EQ(r.header("HOST").value(), "h");
    EXPECT_EQ(r.header("x-empty").value(), "");
    EXPECT_EQ(r.headers.size(), 3u);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(p.status(), RequestParser::Status::need_more);
}

TEST(HttpRequestParser, AnySplitGivesTheSameRequest) {
    std::string req =
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
    for (std::size_t step = 1; step <= req.size(); ++step) {
        RequestParser p;
        std::size_t off = 0;
        while (off < req.size() && p.status() == RequestParser::Status::need_more) {
            std::string_view piece = std::string_view(req).substr(off, step);
            off += p.feed(piece);
        }
        ASSERT_EQ(p.status(), RequestParser::Status::complete) << "step " << step;
        ServerRequest r = p.take();
        EXPECT_EQ(r.body, "hello world") << "step " << step;
        EXPECT_EQ(r.headers.size(), 2u) << "trailers are not headers";
        EXPECT_EQ(off, req.size());
    }
}

// An upgrade request with a body (found by fuzz_http_request): the request
// is complete when its body is, however the bytes arrive; without a body it
// is complete at the end of its head. Either way the connection closes after.
TEST(HttpRequestParser, AnUpgradeRequestIsCompleteOnlyWithItsWholeBody) {
    std::string head = "POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    std::string with_body = head + "Content-Length: 10\r\n\r\n0123456789";
    for (std::size_t step = 1; step <= with_body.size(); ++step) {
        RequestParser p;
        std::size_t off = 0;
        while (off < with_body.size() && p.status() == RequestParser::Status::need_more)
            off += p.feed(std::string_view(with_body).substr(off, step));
        ASSERT_EQ(p.status(), RequestParser::Status::complete) << "step " << step;
        ServerRequest r = p.take();
        EXPECT_EQ(r.body, "0123456789") << "step " << step;
        EXPECT_TRUE(r.upgrade);
        EXPECT_FALSE(r.keep_alive);
    }
    RequestParser p;
    std::string without_body = head + "\r\n";
    EXPECT_EQ(p.feed(without_body), without_body.size());
    ASSERT_EQ(p.status(), RequestParser::Status::complete);
    ServerRequest r = p.take();
    EXPECT_TRUE(r.upgrade);
    EXPECT_EQ(r.body, "");
}

TEST(HttpRequestParser, StopsAfterEachPipelinedRequest) {
    std::string two = get("/one") + post("/two", "body");
    RequestParser p;
    std::size_t n = p.feed(two);
    EXPECT_EQ(n, get("/one").size());
    ASSERT_EQ(p.status(), RequestParser::Status::complete);
    EXPECT_EQ(p.take().path, "/one");
    std::size_t m = p.feed(std::string_view(two).substr(n));
    EXPECT_EQ(n + m, two.size());
    ASSERT_EQ(p.status(), RequestParser::Status::complete);
    ServerRequest second = p.take();
    EXPECT_EQ(second.path, "/two");
    EXPECT_EQ(second.body, "body");
}

TEST(HttpRequestParser, HeaderBytesOverTheLimitAre431) {
    RequestParser::Limits limits;
    limits.max_header_bytes = 256;
    RequestParser p(limits);
    p.feed(get("/", "X-Big: " + std::string(400, 'a') + "\r\n"));
    ASSERT_EQ(p.status(), RequestParser::Status::error);
    EXPECT_EQ(p.error_status(), 431);
}

TEST(HttpRequestParser, TooManyHeadersAre431) {
    RequestParser::Limits limits;
    limits.max_headers = 5;
    RequestParser p(limits);
    std::string extra;
    for (int i = 0; i < 6; ++i) extra += "X-" + std::to_string(i) + ": v\r\n";
    p.feed(get("/", extra));
    ASSERT_EQ(p.status(), RequestParser::Status::error);
    EXPECT_EQ(p.error_status(), 431);
}

TEST(HttpRequestParser, ALongTargetIs414) {
    RequestParser::Limits limits;
    limits.max_header_bytes = 100;
    RequestParser p(limits);
    p.feed(get("/" + std::string(200, 'x')));
    ASSERT_EQ(p.status(), RequestParser::Status::error);
    EXPECT_EQ(p.error_status(), 414);
}

TEST(HttpRequestParser, ContentLengthOverTheLimitIs413BeforeTheBody) {
    RequestParser::Limits limits;
    limits.max_body_bytes = 10;
    RequestParser p(limits);
    std::string head = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    p.feed(head);
    ASSERT_EQ(p.status(), RequestParser::Status::error);
    EXPECT_EQ(p.error_status(), 413);
}

TEST(HttpRequestParser, ChunkedBodyOverTheLimitIs413) {
    RequestParser::Limits limits;
    limits.max_body_bytes = 10;
    RequestParser p(limits);
    p.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    ASSERT_EQ(p.status(), RequestParser::Status::error);
    EXPECT_EQ(p.error_status(), 413);
}

TEST(HttpRequestParser, GarbageIs400) {
    for (std::string junk : {std::string("\x16\x03\x01\x02\x00", 5), std::string("HELLO\r\n\r\n"),
                             std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                             std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
                             std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
        RequestParser p;
        p.feed(junk);
        ASSERT_EQ(p.status(), RequestParser::Status::error) << junk;
        EXPECT_EQ(p.error_status(), 400) << junk;
        EXPECT_FALSE(p.error_message().empty());
    }
}

TEST(HttpRequestParser, EofInsideARequestIsAnError) {
    RequestParser p;
    p.feed("GET / HTTP/1.1\r\nHost:");
    EXPECT_TRUE(p.started());
    p.feed_eof();
    EXPECT_EQ(p.status(), RequestParser::Status::error);
    RequestParser idle;
    idle.feed_eof();
    EXPECT_EQ(idle.status(), RequestParser::Status::need_more) << "no request begun: a clean close";
}

TEST(HttpRequestParser, ExpectContinueAndKeepAliveRules) {
    RequestParser p;
    p.feed("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_TRUE(p.headers_complete());
    EXPECT_TRUE(p.expects_continue());
    p.feed("abc");
    ASSERT_EQ(p.status(), RequestParser::Status::complete);
    EXPECT_FALSE(p.expects_continue());
    EXPECT_EQ(p.take().body, "abc");

    RequestParser old;
    old.feed("GET / HTTP/1.0\r\n\r\n");
    EXPECT_FALSE(old.take().keep_alive);
    RequestParser old_ka;
    old_ka.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_TRUE(old_ka.take().keep_alive);
    RequestParser closing;
    closing.feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_FALSE(closing.take().keep_alive);
}

TEST(HttpHelpers, JsonQuoteEscapesAndKeepsTheOutputValidUtf8) {
    EXPECT_EQ(aio::http::json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
    EXPECT_EQ(aio::http::json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"") << "valid UTF-8 passes";
    EXPECT_EQ(aio::http::json_quote("bad\xff\xc3"), "\"bad\\ufffd\\ufffd\"");
    EXPECT_EQ(aio::http::percent_decode("a%20b+c%2"), "a b+c%2");
    EXPECT_EQ(aio::http::percent_decode("a+b", true), "a b");
    EXPECT_TRUE(aio::http::iequals("Content-Type", "content-TYPE"));
    EXPECT_EQ(aio::http::reason_phrase(431), "Request Header Fields Too Large");
}

// --- the server over TCP ------------------------------------------------------------------

TEST(HttpServer, AnswersAndKeepsTheConnectionAlive) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Server server = co_await aio::http::start_server(echo, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse a = co_await roundtrip(r, w, get("/first"));
        RawResponse b = co_await roundtrip(r, w, post("/second", "payload"));
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(a.body, "GET /first ");
        EXPECT_EQ(b.body, "POST /second payload");
        EXPECT_EQ(b.header("content-length").value(), "20");
        EXPECT_FALSE(b.header("connection").has_value());
        EXPECT_EQ(server.stats().connections, 1u) << "both requests on one connection";
        EXPECT_EQ(server.stats().requests, 2u);
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
    run_bounded([]() -> aio::Coro<> {
        // The first handler is slower: answers must still come in request order.
        auto handler = [](ServerRequest& req, ResponseWriter& w) -> aio::Coro<void> {
            if (req.path == "/slow") co_await aio::sleep(50ms);
            co_await w.send(200, req.path);
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/slow") + get("/fast") + post("/third", "x"));
        co_await w.drain();
        RawResponse a = co_await read_response(r);
        RawResponse b = co_await read_response(r);
        RawResponse c = co_await read_response(r);
        EXPECT_EQ(a.body, "/slow");
        EXPECT_EQ(b.body, "/fast");
        EXPECT_EQ(c.body, "/third");
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, ReadsAChunkedRequestBodySentInPieces) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Server server = co_await aio::http::start_server(echo, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n");
        co_await w.drain();
        co_await aio::sleep(20ms);
        w.write("3\r\nefg\r\n0\r\n\r\n");
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.body, "POST /c abcdefg");
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, AnswersExpectContinueBeforeTheBody) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Server server = co_await aio::http::start_server(echo, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        std::string interim = co_await r.readuntil("\r\n\r\n");
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        w.write("hello");
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.body, "POST /e hello");
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, StreamsAChunkedResponseAsItIsWritten) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event client_got_first;
        auto handler = [&](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            aio::http::HeaderFields headers{{"Content-Type", "text/plain"}};
            co_await w.start(200, std::move(headers));
            co_await w.write("first");
            co_await client_got_first.wait();  // the client must see it before we go on
            co_await w.write("second");
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/stream"));
        RawResponse head = co_await read_head(r);
        EXPECT_EQ(head.header("transfer-encoding").value(), "chunked");
        std::string first = co_await read_chunk(r);
        EXPECT_EQ(first, "first");
        client_got_first.set();
        std::string second = co_await read_chunk(r);
        std::string end = co_await read_chunk(r);
        EXPECT_EQ(second, "second");
        EXPECT_EQ(end, "") << "the server finished the stream when the handler returned";
        RawResponse again = co_await roundtrip(r, w, get("/stream-again-is-fine"));
        EXPECT_EQ(again.status, 200);
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, SendsServerSentEventsFlushedOneByOne) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event next;
        auto handler = [&](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            co_await w.start_sse();
            co_await w.send_event("{\"n\":1}");
            co_await next.wait();
            co_await w.send_event("line one\nline two", "update", "42");
            co_await w.send_comment("ping");
            co_await w.finish();
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/sse"));
        RawResponse head = co_await read_head(r);
        EXPECT_EQ(head.header("content-type").value(), "text/event-stream");
        EXPECT_EQ(head.header("cache-control").value(), "no-cache");
        std::string first = co_await read_chunk(r);
        EXPECT_EQ(first, "data: {\"n\":1}\n\n");
        next.set();
        std::string second = co_await read_chunk(r);
        EXPECT_EQ(second, "event: update\nid: 42\ndata: line one\ndata: line two\n\n");
        std::string third = co_await read_chunk(r);
        EXPECT_EQ(third, ": ping\n\n");
        std::string end = co_await read_chunk(r);
        EXPECT_EQ(end, "");
        w.close();
        co_await server.aclose();
    });
}

aio::Coro<std::string> read_some(aio::StreamReader& r) { co_return co_await r.read(4096); }

TEST(HttpServer, DeferredHeadLeavesWithTheFirstEvent) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event started;
        aio::Event first;
        auto handler = [&](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            w.defer_head();
            co_await w.start_sse();
            started.set();
            co_await first.wait();
            co_await w.send_event("one");
            co_await w.finish();
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/sse"));
        co_await started.wait();
        // Without defer_head() the head would already be in our socket.
        bool nothing_yet = false;
        try {
            co_await aio::wait_for(read_some(r), 200ms);
        } catch (const aio::TimeoutError&) {
            nothing_yet = true;
        }
        EXPECT_TRUE(nothing_yet);
        first.set();
        RawResponse head = co_await read_head(r);
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.header("content-type").value(), "text/event-stream");
        std::string event = co_await read_chunk(r);
        EXPECT_EQ(event, "data: one\n\n");
        std::string end = co_await read_chunk(r);
        EXPECT_EQ(end, "");
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, AClientDisconnectCancelsItsHandler) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event started;
        aio::Event cancelled;
        auto handler = [&](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            co_await w.start_sse();
            started.set();
            try {
                co_await aio::sleep(3600s);  // an LLM call that takes forever
            } catch (const aio::CancelledError&) {
                cancelled.set();
                throw;
            }
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/run_sse"));
        co_await started.wait();
        auto t0 = aio::get_running_loop().time();
        w.close();
        co_await aio::wait_for(cancelled.wait(), 5s);
        EXPECT_LT(since(t0), 2.0);
        EXPECT_EQ(server.stats().disconnect_cancels, 1u);
        co_await server.aclose();
        EXPECT_EQ(server.connections(), 0u);
    });
}

TEST(HttpServer, ADisconnectDoesNotCancelWhenConfiguredNotTo) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event started;
        bool finished = false;
        auto handler = [&](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            started.set();
            co_await aio::sleep(100ms);
            finished = true;
            co_await w.send(200, "late");
        };
        aio::http::ServerConfig cfg = local_config();
        cfg.cancel_on_disconnect = false;
        aio::http::Server server = co_await aio::http::start_server(handler, cfg);
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write(get("/"));
        co_await started.wait();
        w.close();
        co_await aio::sleep(300ms);
        EXPECT_TRUE(finished);
        co_await server.aclose();
    });
}

TEST(HttpServer, GarbageGets400AndTheConnectionCloses) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Server server = co_await aio::http::start_server(echo, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write("THIS IS NOT HTTP\r\n\r\n");
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.status, 400);
        EXPECT_EQ(resp.header("connection").value(), "close");
        EXPECT_NE(resp.body.find("\"error\""), std::string::npos);
        std::string rest = co_await read_to_eof(r);
        EXPECT_EQ(rest, "");
        // The server is still fine.
        auto [r2, w2] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse ok = co_await roundtrip(r2, w2, get("/ok"));
        EXPECT_EQ(ok.status, 200);
        w2.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, EveryLimitGetsItsStatus) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::ServerConfig cfg = local_config();
        cfg.max_header_bytes = 1024;
        cfg.max_headers = 10;
        cfg.max_body_bytes = 100;
        aio::http::Server server = co_await aio::http::start_server(echo, cfg);
        struct Case {
            std::string request;
            int status;
        };
        std::string many;
        for (int i = 0; i < 11; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
        std::vector<Case> cases;
        cases.push_back({get("/", "X-Big: " + std::string(2000, 'b') + "\r\n"), 431});
        cases.push_back({get("/", many), 431});
        cases.push_back({"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n", 413});
        cases.push_back({"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" +
                             std::string(64, 'x') + "\r\n40\r\n" + std::string(64, 'x') + "\r\n",
                         413});
        cases.push_back({post("/fits", std::string(100, 'y')), 200});
        for (const Case& c : cases) {
            auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
            RawResponse resp = co_await roundtrip(r, w, c.request);
            EXPECT_EQ(resp.status, c.status) << c.request.substr(0, 60);
            if (c.status != 200) {
                EXPECT_EQ(resp.header("content-type").value(), "application/json");
                std::string rest = co_await read_to_eof(r);  // closed after the error
                EXPECT_EQ(rest, "");
            }
            w.close();
        }
        EXPECT_EQ(server.stats().rejected, 4u);
        co_await server.aclose();
    });
}

TEST(HttpServer, ASlowRequestGets408AndAnIdleConnectionCloses) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::ServerConfig cfg = local_config();
        cfg.request_timeout = 200ms;
        cfg.idle_timeout = 300ms;
        aio::http::Server server = co_await aio::http::start_server(echo, cfg);
        aio::EventLoop& loop = aio::get_running_loop();

        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        auto t0 = loop.time();
        w.write("GET / HTTP/1.1\r\nHost: slo");  // never finished
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.status, 408);
        EXPECT_GE(since(t0), 0.19);
        EXPECT_LT(since(t0), 5.0);
        w.close();

        // Idle: nothing sent at all, then nothing after one request.
        auto [r2, w2] = co_await aio::open_connection("127.0.0.1", server.port());
        auto t1 = loop.time();
        std::string none = co_await read_to_eof(r2);
        EXPECT_EQ(none, "") << "an idle connection closes silently";
        EXPECT_GE(since(t1), 0.29);
        auto [r3, w3] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse ok = co_await roundtrip(r3, w3, get("/"));
        EXPECT_EQ(ok.status, 200);
        auto t2 = loop.time();
        std::string after = co_await read_to_eof(r3);
        EXPECT_EQ(after, "");
        EXPECT_GE(since(t2), 0.29);
        EXPECT_LT(since(t2), 5.0);
        co_await server.aclose();
    });
}

TEST(HttpServer, ConnectionsOverTheCapGet503) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::ServerConfig cfg = local_config();
        cfg.max_connections = 2;
        aio::http::Server server = co_await aio::http::start_server(echo, cfg);
        auto [r1, w1] = co_await aio::open_connection("127.0.0.1", server.port());
        auto [r2, w2] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse a = co_await roundtrip(r1, w1, get("/1"));
        RawResponse b = co_await roundtrip(r2, w2, get("/2"));
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(b.status, 200);
        EXPECT_EQ(server.connections(), 2u);
        auto [r3, w3] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse c = co_await roundtrip(r3, w3, get("/3"));
        EXPECT_EQ(c.status, 503);
        w1.close();
        w3.close();
        // A slot frees up once a connection ends.
        for (int i = 0; i < 100 && server.connections() >= 2; ++i) co_await aio::sleep(10ms);
        auto [r4, w4] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse d = co_await roundtrip(r4, w4, get("/4"));
        EXPECT_EQ(d.status, 200);
        w2.close();
        w4.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, ServesConcurrentClients) {
    run_bounded([]() -> aio::Coro<> {
        auto handler = [](ServerRequest& req, ResponseWriter& w) -> aio::Coro<void> {
            co_await aio::sleep(20ms);
            co_await w.send(200, req.path);
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        const std::uint16_t port = server.port();
        int ok = 0;
        auto client = [&](int id) -> aio::Coro<void> {
            auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
            for (int k = 0; k < 5; ++k) {
                std::string path = "/c" + std::to_string(id) + "/" + std::to_string(k);
                RawResponse resp = co_await roundtrip(r, w, get(path));
                if (resp.status == 200 && resp.body == path) ++ok;
            }
            w.close();
        };
        auto t0 = aio::get_running_loop().time();
        co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<void> {
            for (int i = 0; i < 30; ++i) tg.create_task([&client, i]() { return client(i); });
            co_return;
        });
        EXPECT_EQ(ok, 150);
        EXPECT_LT(since(t0), 150 * 0.020) << "handlers overlap";
        co_await server.aclose();
    });
}

TEST(HttpServer, CloseCancelsHandlersAndWaitsForThem) {
    run_bounded([]() -> aio::Coro<> {
        aio::Event started;
        bool cleaned_up = false;
        auto handler = [&](ServerRequest&, ResponseWriter&) -> aio::Coro<void> {
            started.set();
            try {
                co_await aio::sleep(3600s);
            } catch (const aio::CancelledError&) {
                cleaned_up = true;
                throw;
            }
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        auto [ri, wi] = co_await aio::open_connection("127.0.0.1", server.port());  // idle keep-alive
        w.write(get("/busy"));
        co_await started.wait();
        co_await server.aclose();
        EXPECT_TRUE(cleaned_up);
        EXPECT_EQ(server.connections(), 0u);
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.status, 503) << "an unanswered request learns it was cancelled";
        std::string idle = co_await read_to_eof(ri);
        EXPECT_EQ(idle, "");
        bool refused = false;
        try {
            auto conn = co_await aio::open_connection("127.0.0.1", server.port());
            (void)conn;
        } catch (const std::exception&) {
            refused = true;
        }
        EXPECT_TRUE(refused) << "no longer listening";
    });
}

TEST(HttpServer, HandlerErrorsBecomeStatuses) {
    run_bounded([]() -> aio::Coro<> {
        CapturedLog log;
        aio::http::Router router;
        router.get("/http-error", [](ServerRequest&) -> aio::Coro<ServerResponse> {
            throw aio::http::ErrorResponse(404, "Session not found");
            co_return ServerResponse{};
        });
        router.get("/crash", [](ServerRequest&) -> aio::Coro<ServerResponse> {
            throw std::runtime_error("secret detail");
            co_return ServerResponse{};
        });
        router.get("/silent", [](ServerRequest&, ResponseWriter&) -> aio::Coro<void> { co_return; });
        router.get("/midstream", [](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            co_await w.start(200);
            co_await w.write("partial");
            throw std::runtime_error("broke mid-stream");
        });
        aio::http::Server server = co_await aio::http::start_server(router, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse a = co_await roundtrip(r, w, get("/http-error"));
        EXPECT_EQ(a.status, 404);
        EXPECT_EQ(a.body, R"({"error":"Session not found"})");
        RawResponse b = co_await roundtrip(r, w, get("/crash"));
        EXPECT_EQ(b.status, 500);
        EXPECT_EQ(b.body.find("secret"), std::string::npos) << "details stay in the log";
        EXPECT_EQ(log.count("secret detail"), 1u);
        RawResponse c = co_await roundtrip(r, w, get("/silent"));
        EXPECT_EQ(c.status, 500);
        w.write(get("/midstream"));
        RawResponse d = co_await read_head(r);
        EXPECT_EQ(d.status, 200);
        std::string part = co_await read_chunk(r);
        EXPECT_EQ(part, "partial");
        bool truncated = false;
        try {
            std::string more = co_await read_chunk(r);
            (void)more;
        } catch (const std::exception&) {
            truncated = true;  // EOF inside the body: never a clean end
        }
        EXPECT_TRUE(truncated);
        co_await server.aclose();
    });
}

TEST(HttpServer, RouterMatchesMethodsPathsAndParameters) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Router router;
        auto show = [](ServerRequest& req, ResponseWriter& w) -> aio::Coro<void> {
            std::string out = req.method;
            for (const auto& [k, v] : req.path_params) out += " " + k + "=" + v;
            co_await w.send(200, out);
        };
        router.get("/apps/{app}/users/{user}/sessions/{id}", show);
        router.del("/apps/{app}/users/{user}/sessions/{id}", show);
        router.post("/v1beta/models/{model}:generateContent", show);
        router.post("/v1beta/models/{model}:streamGenerateContent", show);
        router.get("/files/{path...}", show);
        aio::http::Server server = co_await aio::http::start_server(router, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        RawResponse a = co_await roundtrip(r, w, get("/apps/weather/users/u%201/sessions/s1"));
        EXPECT_EQ(a.body, "GET app=weather user=u 1 id=s1");
        RawResponse b = co_await roundtrip(r, w, "DELETE /apps/a/users/u/sessions/s HTTP/1.1\r\nHost: h\r\n\r\n");
        EXPECT_EQ(b.body, "DELETE app=a user=u id=s");
        RawResponse c = co_await roundtrip(r, w, post("/v1beta/models/gemini-2.0-flash:generateContent", "{}"));
        EXPECT_EQ(c.body, "POST model=gemini-2.0-flash");
        RawResponse d = co_await roundtrip(r, w, post("/v1beta/models/m:streamGenerateContent?alt=sse", "{}"));
        EXPECT_EQ(d.body, "POST model=m");
        RawResponse e = co_await roundtrip(r, w, get("/files/a/b/c.txt"));
        EXPECT_EQ(e.body, "GET path=a/b/c.txt");
        RawResponse f = co_await roundtrip(r, w, post("/apps/a/users/u/sessions/s", ""));
        EXPECT_EQ(f.status, 405);
        EXPECT_EQ(f.header("allow").value(), "GET, DELETE");
        RawResponse g = co_await roundtrip(r, w, get("/nowhere/\xff"));
        EXPECT_EQ(g.status, 404);
        EXPECT_NE(g.body.find("\\ufffd"), std::string::npos) << "the error body stays valid UTF-8";
        w.write("HEAD /apps/a/users/u/sessions/s HTTP/1.1\r\nHost: h\r\n\r\n");
        RawResponse h = co_await read_response(r, true);
        EXPECT_EQ(h.status, 200);
        EXPECT_EQ(h.header("content-length").value(), std::to_string(std::string("HEAD app=a user=u id=s").size()))
            << "HEAD: the length of the body a GET would get, and no body";
        RawResponse i = co_await roundtrip(r, w, get("/apps/x/users/y/sessions/z"));
        EXPECT_EQ(i.body, "GET app=x user=y id=z") << "no stray body bytes after the HEAD answer";
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, AWrappingHandlerAddsHeadersToEveryAnswer) {
    run_bounded([]() -> aio::Coro<> {
        // CORS the way an API server adds it: around the router, so that the
        // router's 404 and the server's own error answers carry it too.
        aio::http::Router router;
        router.get("/ok", [](ServerRequest&) -> aio::Coro<ServerResponse> {
            co_return ServerResponse::text(200, "fine");
        });
        router.get("/boom", [](ServerRequest&) -> aio::Coro<ServerResponse> {
            throw std::runtime_error("boom");
            co_return ServerResponse{};
        });
        auto shared_router = std::make_shared<aio::http::Router>(std::move(router));
        auto cors = [shared_router](ServerRequest& req, ResponseWriter& w) -> aio::Coro<void> {
            w.add_header("Access-Control-Allow-Origin", "*");
            return (*shared_router)(req, w);
        };
        CapturedLog log;
        aio::http::Server server = co_await aio::http::start_server(cors, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        for (const char* path : {"/ok", "/missing", "/boom"}) {
            RawResponse resp = co_await roundtrip(r, w, get(path));
            EXPECT_EQ(resp.header("access-control-allow-origin").value_or(""), "*") << path;
        }
        w.close();
        co_await server.aclose();
    });
}

TEST(HttpServer, Http10ClientsGetCloseDelimitedStreams) {
    run_bounded([]() -> aio::Coro<> {
        auto handler = [](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            co_await w.start(200);
            co_await w.write("a");
            co_await w.write("b");
        };
        aio::http::Server server = co_await aio::http::start_server(handler, local_config());
        auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
        w.write("GET / HTTP/1.0\r\n\r\n");
        RawResponse resp = co_await read_response(r);
        EXPECT_EQ(resp.status, 200);
        EXPECT_FALSE(resp.header("transfer-encoding").has_value());
        EXPECT_EQ(resp.body, "ab");
        co_await server.aclose();
    });
}

TEST(HttpServer, RandomBytesNeverWedgeTheServer) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::ServerConfig cfg = local_config();
        cfg.request_timeout = 300ms;
        cfg.idle_timeout = 300ms;
        cfg.max_header_bytes = 2048;
        cfg.max_body_bytes = 512;
        aio::http::Server server = co_await aio::http::start_server(echo, cfg);
        const std::uint16_t port = server.port();
        std::uint32_t rng = 12345;
        auto next = [&rng]() {
            rng = rng * 1103515245u + 12345u;
            return rng >> 8;
        };
        const std::string prefixes[] = {"", "GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\nContent-Length: 40\r\n\r\n",
                                        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET / HTTP/1.1\r\nA: "};
        std::vector<std::string> inputs;
        for (int i = 0; i < 40; ++i) {
            std::string data = prefixes[next() % 5];
            std::size_t n = next() % 3000;
            for (std::size_t k = 0; k < n; ++k) data.push_back(static_cast<char>(next() & 0xff));
            inputs.push_back(std::move(data));
        }
        int answered_or_closed = 0;
        auto client = [&](std::string data) -> aio::Coro<void> {
            auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
            w.write(data);
            try {
                co_await w.drain();
            } catch (const std::exception&) {
            }
            std::string rest = co_await read_to_eof(r);  // the server always ends it
            if (rest.empty() || rest.rfind("HTTP/1.1 ", 0) == 0) ++answered_or_closed;
            w.close();
        };
        co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Coro<void> {
            for (std::string& in : inputs) tg.create_task([&client, in]() { return client(in); });
            co_return;
        });
        EXPECT_EQ(answered_or_closed, 40);
        auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
        RawResponse ok = co_await roundtrip(r, w, get("/still-alive"));
        EXPECT_EQ(ok.status, 200);
        w.close();
        for (int i = 0; i < 100 && server.connections() > 0; ++i) co_await aio::sleep(10ms);
        EXPECT_EQ(server.connections(), 0u);
        co_await server.aclose();
    });
}

TEST(HttpServer, ServeForeverReturnsOnClose) {
    run_bounded([]() -> aio::Coro<> {
        aio::http::Server server = co_await aio::http::start_server(echo, local_config());
        EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()));
        aio::get_running_loop().call_later(50ms, [server]() mutable { server.close(); });
        co_await server.serve_forever();
        co_await server.wait_closed();
        EXPECT_FALSE(server.is_serving());
    });
}

}  // namespace
