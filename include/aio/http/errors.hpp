// aio/http/errors.hpp — the exceptions of aio::http (client and server).
//
// Every failure of aio::http derives from aio::http::HttpError, itself a
// std::runtime_error. A network failure is always one of these, never an
// aio::CancelledError: cancellation means only "the awaiting task was
// cancelled".
//
//   std::runtime_error
//     HttpError                     base: what(), url(), curl_code()
//       InvalidUrlError             malformed URL, unsupported scheme
//       NetworkError                the network failed; os_error() is the errno if known
//         ConnectError              no connection could be made
//           DnsError                the host (or proxy) name did not resolve
//           ConnectRefusedError     nothing listens there (ECONNREFUSED)
//           TlsError                TLS handshake or certificate verification failed
//         ConnectionLostError       the connection broke or was closed before the
//                                   response was complete (reset, closed mid-body,
//                                   closed without any response)
//       HttpTimeoutError            a timeout of the request expired; kind() says which
//       TooManyRedirectsError       more redirects than allowed
//       ProtocolError               the peer does not speak valid HTTP (or SSE)
//       ResponseTooLargeError       the body exceeded the configured maximum
//       ClientClosedError           the Client was closed while the request was in flight
//       HttpStatusError             raise_for_status() on a non-2xx response
//
// HttpTimeoutError does not derive from aio::TimeoutError: both are
// std::runtime_errors, and a type with two runtime_error bases would not be
// caught by `catch (const std::runtime_error&)`. Catch HttpError (or
// HttpTimeoutError) for HTTP timeouts, aio::TimeoutError for aio::timeout().
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

namespace aio::http {

/// Base of every aio::http error.
class HttpError : public std::runtime_error {
public:
    explicit HttpError(const std::string& what, std::string url = {}, int curl_code = 0)
        : std::runtime_error(what), url_(std::move(url)), curl_code_(curl_code) {}

    /// The URL of the request that failed (empty when not about a request).
    const std::string& url() const noexcept { return url_; }
    /// libcurl's CURLcode for failures reported by libcurl, 0 otherwise.
    int curl_code() const noexcept { return curl_code_; }

private:
    std::string url_;
    int curl_code_;
};

/// The URL is malformed or its scheme is not http/https.
class InvalidUrlError : public HttpError {
public:
    using HttpError::HttpError;
};

/// The network failed. os_error() is the errno libcurl saw, 0 if unknown.
class NetworkError : public HttpError {
public:
    NetworkError(const std::string& what, std::string url = {}, int curl_code = 0, int os_error = 0)
        : HttpError(what, std::move(url), curl_code), os_error_(os_error) {}
    int os_error() const noexcept { return os_error_; }

private:
    int os_error_;
};

/// No connection could be established (also the base of DNS and TLS errors).
class ConnectError : public NetworkError {
public:
    using NetworkError::NetworkError;
};

/// The host name (or the proxy's) could not be resolved.
class DnsError : public ConnectError {
public:
    using ConnectError::ConnectError;
};

/// The peer refused the connection (ECONNREFUSED: nothing listens there).
class ConnectRefusedError : public ConnectError {
public:
    using ConnectError::ConnectError;
};

/// The TLS handshake failed or the peer's certificate was not accepted.
class TlsError : public ConnectError {
public:
    using ConnectError::ConnectError;
};

/// The connection broke or was closed by the peer before the response was
/// complete: reset, closed in the middle of the body, or closed without any
/// response.
class ConnectionLostError : public NetworkError {
public:
    using NetworkError::NetworkError;
};

/// A timeout of the request expired.
class HttpTimeoutError : public HttpError {
public:
    enum class Kind {
        connect,  // establishing the connection (DNS, TCP, TLS) took too long
        total,    // the whole request took too long
        idle,     // no byte was sent or received for too long
    };
    HttpTimeoutError(const std::string& what, Kind kind, std::chrono::milliseconds limit, std::string url = {},
                     int curl_code = 0)
        : HttpError(what, std::move(url), curl_code), kind_(kind), limit_(limit) {}
    Kind kind() const noexcept { return kind_; }
    /// The timeout that expired.
    std::chrono::milliseconds limit() const noexcept { return limit_; }

private:
    Kind kind_;
    std::chrono::milliseconds limit_;
};

/// The response redirected more times than the request allows.
class TooManyRedirectsError : public HttpError {
public:
    using HttpError::HttpError;
};

/// The peer sent something that is not valid HTTP (or a malformed event
/// stream, see SseError in aio/http/sse.hpp).
class ProtocolError : public HttpError {
public:
    using HttpError::HttpError;
};

/// The response body is larger than the configured maximum.
class ResponseTooLargeError : public HttpError {
public:
    using HttpError::HttpError;
};

/// The Client was closed (or destroyed) while the request was in flight.
class ClientClosedError : public HttpError {
public:
    using HttpError::HttpError;
};

/// raise_for_status() on a response whose status is not 2xx: carries the
/// status, the reason phrase and the body.
class HttpStatusError : public HttpError {
public:
    HttpStatusError(int status, std::string reason, std::string body, std::string url = {})
        : HttpError(describe(status, reason, url), std::move(url)),
          status_(status),
          reason_(std::move(reason)),
          body_(std::move(body)) {}
    int status() const noexcept { return status_; }
    const std::string& reason() const noexcept { return reason_; }
    const std::string& body() const noexcept { return body_; }

private:
    static std::string describe(int status, const std::string& reason, const std::string& url) {
        std::string s = "HTTP status " + std::to_string(status);
        if (!reason.empty()) s += " " + reason;
        if (!url.empty()) s += " for " + url;
        return s;
    }
    int status_;
    std::string reason_;
    std::string body_;
};

}  // namespace aio::http
