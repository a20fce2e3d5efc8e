// aio/net_errors.hpp — the exceptions of aio's network I/O (sockets,
// transports, streams), named after Python's.
//
// OS errors are std::system_error with the errno in code() (generic
// category), so `catch (const std::system_error& e)` sees every socket
// failure and `e.code() == std::errc::connection_refused` works. The errnos a
// network program usually handles get their own types, as in Python:
//
//   std::system_error
//     aio::ConnectionError             (Python's ConnectionError)
//       aio::ConnectionRefusedError    ECONNREFUSED
//       aio::ConnectionResetError      ECONNRESET, and "Connection lost"
//       aio::ConnectionAbortedError    ECONNABORTED
//       aio::BrokenPipeError           EPIPE, ESHUTDOWN
//
// Stream parsing errors (asyncio's): IncompleteReadError (EOF before the
// requested data, carrying what was read) and LimitOverrunError (no
// separator within the buffer limit). Name resolution failures are
// std::system_error in aio::gai_category().
#pragma once

#include <cerrno>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace aio {

/// A connection-related OS error (Python's ConnectionError).
class ConnectionError : public std::system_error {
public:
    ConnectionError(int err, const std::string& what) : std::system_error(err, std::generic_category(), what) {}
};

/// ECONNREFUSED: nothing listens at the address.
class ConnectionRefusedError : public ConnectionError {
public:
    explicit ConnectionRefusedError(const std::string& what) : ConnectionError(ECONNREFUSED, what) {}
};

/// ECONNRESET: the peer reset the connection; also raised by drain() and
/// write() once the connection is lost.
class ConnectionResetError : public ConnectionError {
public:
    explicit ConnectionResetError(const std::string& what) : ConnectionError(ECONNRESET, what) {}
};

/// ECONNABORTED.
class ConnectionAbortedError : public ConnectionError {
public:
    explicit ConnectionAbortedError(const std::string& what) : ConnectionError(ECONNABORTED, what) {}
};

/// EPIPE / ESHUTDOWN: writing to a connection whose other end is closed.
class BrokenPipeError : public ConnectionError {
public:
    explicit BrokenPipeError(const std::string& what, int err = EPIPE) : ConnectionError(err, what) {}
};

/// EOF reached before a read could complete (asyncio.IncompleteReadError).
/// partial() holds the bytes read before EOF (consumed from the stream);
/// expected() is the requested size, empty for readuntil().
class IncompleteReadError : public std::runtime_error {
public:
    IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
        : std::runtime_error(describe(partial.size(), expected)), partial_(std::move(partial)), expected_(expected) {}

    const std::string& partial() const noexcept { return partial_; }
    std::optional<std::size_t> expected() const noexcept { return expected_; }

private:
    static std::string describe(std::size_t got, std::optional<std::size_t> expected) {
        return std::to_string(got) + " bytes read on a total of " +
               (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes";
    }
    std::string partial_;
    std::optional<std::size_t> expected_;
};

/// The separator was not found within the reader's limit
/// (asyncio.LimitOverrunError). consumed() is the number of bytes to skip to
/// get past the data examined; readuntil() leaves them in the buffer.
class LimitOverrunError : public std::runtime_error {
public:
    LimitOverrunError(const std::string& what, std::size_t consumed)
        : std::runtime_error(what), consumed_(consumed) {}
    std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

/// The error category of getaddrinfo() failures (EAI_* codes; Python's
/// socket.gaierror).
const std::error_category& gai_category() noexcept;

namespace detail {
/// The exception for an errno: one of the Connection* types above for the
/// errnos they name, std::system_error otherwise. `what` prefixes the message.
std::exception_ptr make_os_error(int err, std::string_view what);
[[noreturn]] void throw_os_error(int err, std::string_view what);
}  // namespace detail

}  // namespace aio
