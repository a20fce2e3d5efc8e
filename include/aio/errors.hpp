// aio/errors.hpp — the exceptions aio raises.
//
// CancelledError deliberately does not derive from std::exception, so that
// `catch (const std::exception&)` never swallows a cancellation, just as
// `except Exception` does not catch asyncio.CancelledError. Everything else
// derives from std::exception through std::runtime_error.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

namespace aio {

/// Raised inside a task at its current suspension point when the task is
/// cancelled. Catch it only to clean up, then rethrow (or call uncancel()).
class CancelledError {
public:
    CancelledError() = default;
    explicit CancelledError(std::string message) : message_(std::move(message)) {}

    /// The message passed to cancel(), empty when none was given.
    const std::string& message() const noexcept { return message_; }
    const char* what() const noexcept { return message_.empty() ? "CancelledError" : message_.c_str(); }

private:
    std::string message_;
};

/// A deadline passed (wait_for, timeout, as_completed).
class TimeoutError : public std::runtime_error {
public:
    TimeoutError() : std::runtime_error("TimeoutError") {}
    explicit TimeoutError(const std::string& what) : std::runtime_error(what) {}
};

/// An operation is not allowed in the object's current state: a result asked
/// of a pending future, a second set_result, awaiting a Coro twice...
class InvalidStateError : public std::runtime_error {
public:
    explicit InvalidStateError(const std::string& what) : std::runtime_error(what) {}
};

/// An aio call needs a running event loop on this thread and there is none,
/// or a call would nest loops (aio::run inside a running loop).
class RuntimeError : public std::runtime_error {
public:
    explicit RuntimeError(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

/// Whether `e` holds an E (or a type derived from it); false for null.
template <class E>
bool holds_exception(const std::exception_ptr& e) noexcept {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// Whether `e` holds an aio::CancelledError.
inline bool is_cancellation_ptr(const std::exception_ptr& e) noexcept { return holds_exception<CancelledError>(e); }

}  // namespace detail

}  // namespace aio
