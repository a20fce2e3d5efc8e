// aio/http/client.hpp — an HTTP client on the aio loop (aiohttp's
// ClientSession / httpx's AsyncClient), built on libcurl's multi-socket API.
//
//   aio::http::Client client;                       // one per loop; RAII
//   aio::http::Response r = co_await client.get("https://example.org/");
//   r.raise_for_status();                           // HttpStatusError unless 2xx
//   std::cout << r.status << " " << r.headers.value("content-type") << "\n" << r.body;
//
//   aio::http::Request req{.method = "POST", .url = url, .body = payload};
//   req.headers.set("Content-Type", "application/json");
//   aio::http::StreamResponse s = co_await client.stream(std::move(req));
//   while (auto chunk = co_await s.body.next()) consume(*chunk);   // as it arrives
//
// (Build a Request as a named local, as above: g++ 12 miscompiles an
// aggregate temporary with non-trivial members inside a co_await expression.)
//
// Every transfer runs on the loop of the Client: libcurl's sockets are
// watched by the loop (add_reader/add_writer) and its timer is a loop timer;
// there is no thread per request and no blocking call (name resolution runs
// in libcurl's resolver thread). Connections are pooled and reused by the
// Client (keep-alive, HTTP/2 multiplexing over TLS where the server offers
// it); TLS is libcurl's (OpenSSL, the system's CA store); proxies come from
// the environment (http_proxy, https_proxy, no_proxy... as curl reads them)
// unless ClientOptions::proxy says otherwise.
//
// Cancellation (what a cancelled await leaves behind):
//   request(), get(), post(): the transfer is aborted (its connection
//     closed, not reused); nothing is left in the Client.
//   stream(): before the headers arrived: as request().
//   StreamResponse::body.next(), read(): the transfer is aborted; the body
//     generator is finished (the CancelledError came out of it).
//   Dropping a StreamResponse (or its body) or aclose() aborts the transfer
//     if it is still running; neither suspends.
//
// Errors: every failure is an aio::http::HttpError (aio/http/errors.hpp):
// ConnectError (DnsError, ConnectRefusedError, TlsError), ConnectionLostError,
// HttpTimeoutError, TooManyRedirectsError, ProtocolError, ... A network
// failure is never reported as aio::CancelledError. A response with any
// status (404, 500...) is a normal Response; raise_for_status() turns a
// non-2xx one into HttpStatusError.
#pragma once

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aio/async_generator.hpp"
#include "aio/coro.hpp"
#include "aio/event_loop.hpp"
#include "aio/http/errors.hpp"

namespace aio::http {

/// Timeouts are milliseconds (any std::chrono duration converts).
using Duration = std::chrono::milliseconds;

/// HTTP header fields: ordered, repeated names allowed, names compared
/// case-insensitively (values as given).
class Headers {
public:
    using Field = std::pair<std::string, std::string>;
    using const_iterator = std::vector<Field>::const_iterator;

    Headers() = default;
    Headers(std::initializer_list<Field> fields) : fields_(fields) {}

    /// Appends a field (keeps existing ones of the same name).
    void add(std::string name, std::string value);
    /// Replaces every field of that name by one.
    void set(std::string name, std::string value);
    /// The first value of `name`, if present.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// The first value of `name`, or `fallback`.
    std::string_view value(std::string_view name, std::string_view fallback = {}) const noexcept;
    /// Every value of `name`, in order.
    std::vector<std::string_view> get_all(std::string_view name) const;
    bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
    /// Removes every field of that name; returns how many.
    std::size_t erase(std::string_view name);
    void clear() noexcept { fields_.clear(); }

    std::size_t size() const noexcept { return fields_.size(); }
    bool empty() const noexcept { return fields_.empty(); }
    const_iterator begin() const noexcept { return fields_.begin(); }
    const_iterator end() const noexcept { return fields_.end(); }

    /// ASCII case-insensitive equality of header names.
    static bool name_equal(std::string_view a, std::string_view b) noexcept;

private:
    std::vector<Field> fields_;
};

/// Which HTTP version to ask for.
enum class HttpVersion {
    automatic,              // curl's default: HTTP/2 over TLS when the server offers it (ALPN), else 1.1
    http1_1,                // HTTP/1.1 only
    http2,                  // HTTP/2 over TLS, and an h2c upgrade attempt on cleartext
    http2_prior_knowledge,  // HTTP/2 on cleartext without upgrade (the server must speak h2c);
                            // one connection per request before libcurl 8.0.0 (see
                            // Client::http2_prior_knowledge_reuse())
};

/// A request. Unset optional fields take the Client's defaults.
struct Request {
    std::string method = "GET";
    std::string url;
    Headers headers;
    std::string body;  // sent as is (set Content-Type yourself); empty: no body for GET/HEAD
    /// Timeouts for this request: unset = the client's; zero = none.
    std::optional<Duration> connect_timeout{};
    std::optional<Duration> timeout{};       // the whole request, body included
    std::optional<Duration> idle_timeout{};  // no byte sent or received for this long
    std::optional<bool> follow_redirects{};
    std::optional<int> max_redirects{};
};

/// A complete response (request(), get(), post()).
struct Response {
    int status = 0;
    std::string reason;        // "OK" (empty in HTTP/2, which has no reason phrase)
    std::string http_version;  // "1.1", "2", ...
    Headers headers;           // of the final response, after redirects
    std::string body;          // decoded (gzip/deflate/br/zstd) when ClientOptions::decompress
    std::string url;           // the final URL, after redirects

    /// The status is 2xx.
    bool ok() const noexcept { return status >= 200 && status < 300; }
    /// Throws HttpStatusError (with status, reason and body) unless 2xx.
    const Response& raise_for_status() const;
};

/// A response whose body arrives as a stream (stream()). The status and the
/// headers are there when stream() returns; the body is pulled chunk by
/// chunk, as the bytes arrive:
///
///   while (auto chunk = co_await resp.body.next()) ...
///
/// Back-pressure: when the consumer does not ask for the next chunk, at most
/// ClientOptions::stream_buffer bytes are buffered, then the transfer is
/// paused (the server's sends block in TCP flow control) until it asks.
/// Dropping the response or its body, or `co_await resp.aclose()`, aborts
/// the transfer if it is still running. The body raises the transfer's
/// error (e.g. ConnectionLostError) after the chunks received before it.
struct StreamResponse {
    int status = 0;
    std::string reason;
    std::string http_version;
    Headers headers;
    std::string url;
    AsyncGenerator<std::string> body;

    bool ok() const noexcept { return status >= 200 && status < 300; }
    /// The rest of the body, concatenated.
    Coro<std::string> read();
    /// Unless 2xx: reads (the first MiB of) the body and throws
    /// HttpStatusError with it; the transfer is finished or aborted.
    Coro<> raise_for_status();
    /// Closes the body (aborts the transfer if still running).
    Coro<> aclose();
};

/// Client-wide settings; a Request can override the per-request ones.
struct ClientOptions {
    /// Sent with every request (a request's own field of the same name wins).
    Headers headers{};
    std::string user_agent = "aio-http/0.1";
    /// Timeouts (zero = none; for connect_timeout, zero means libcurl's 300 s).
    Duration connect_timeout = std::chrono::seconds(30);
    Duration timeout = Duration::zero();
    Duration idle_timeout = std::chrono::seconds(300);
    bool follow_redirects = true;
    int max_redirects = 10;
    HttpVersion http_version = HttpVersion::automatic;
    /// Unset: from the environment (http_proxy, https_proxy, all_proxy,
    /// no_proxy; as curl, the upper-case HTTP_PROXY is ignored). "": no proxy.
    /// Else the proxy URL ("http://proxy:3128", "socks5h://...").
    std::optional<std::string> proxy{};
    /// Verify the server's certificate and name (keep it on outside tests).
    bool verify_tls = true;
    /// A CA bundle file instead of the system's (empty: the system's).
    std::string ca_file{};
    /// Advertise the encodings libcurl can decode and decode bodies.
    bool decompress = true;
    /// Connections open at once: in total (0: no limit) and per host (0: no
    /// limit). Requests beyond wait for a connection (the wait counts in
    /// their total timeout).
    std::size_t max_connections = 100;
    std::size_t max_connections_per_host = 0;
    /// Idle connections kept for reuse (0: libcurl's default).
    std::size_t max_idle_connections = 0;
    /// stream(): bytes buffered ahead of the consumer before pausing.
    std::size_t stream_buffer = 64 * 1024;
    /// request(): the largest body accepted (0: no limit); beyond,
    /// ResponseTooLargeError.
    std::size_t max_response_size = 0;
};

/// An HTTP client bound to one event loop. Not copyable; movable (requests
/// in flight are not affected by a move). Use it from the loop's thread.
/// The Client must not outlive its loop.
class Client {
public:
    /// A client on the running loop (aio::RuntimeError without one).
    explicit Client(ClientOptions options = {});
    /// A client on `loop` (which need not run yet).
    explicit Client(EventLoop& loop, ClientOptions options = {});
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    /// close().
    ~Client();

    /// Sends `request` and returns the complete response. Any status is a
    /// normal Response; failures raise HttpError subclasses.
    Coro<Response> request(Request request);
    /// Sends `request` and returns as soon as the final response's headers
    /// arrived; the body streams (see StreamResponse).
    Coro<StreamResponse> stream(Request request);

    Coro<Response> get(std::string url, Headers headers = {});
    Coro<Response> post(std::string url, std::string body, Headers headers = {});

    /// Aborts every transfer in flight (their awaiters raise
    /// ClientClosedError, streamed bodies too) and closes the pooled
    /// connections. Later requests raise ClientClosedError. Idempotent.
    void close() noexcept;
    bool is_closed() const noexcept;

    /// Transfers alive: sent and not yet finished, or streamed bodies still
    /// held. 0 once every request returned and every stream was dropped.
    std::size_t in_flight() const noexcept;
    /// Connections opened so far (a measure of reuse).
    std::size_t connections_opened() const noexcept;
    const ClientOptions& options() const noexcept;
    EventLoop& get_loop() const noexcept;

    /// Whether this libcurl speaks HTTP/2.
    static bool http2_available() noexcept;
    /// Whether h2c prior-knowledge connections (HttpVersion::
    /// http2_prior_knowledge) are reused and multiplexed: libcurl >= 8.0.0.
    /// Older libcurl (Debian 12's 7.88) fails a request sent on a reused one
    /// (curl#10634), so there the client opens one connection per request.
    static bool http2_prior_knowledge_reuse() noexcept;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace aio::http
