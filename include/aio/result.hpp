// aio/result.hpp — aio::Result<T>: a value or the exception that replaced it.
//
// What `aio::gather(aio::return_exceptions, ...)` hands back per child, in
// place of asyncio's "the exception object sits in the result list". A child
// that was cancelled holds a CancelledError as its error.
//
//   auto [a, b] = co_await aio::gather(aio::return_exceptions, f(), g());
//   if (a.has_value()) use(a.value());
//   else log(aio::describe_exception(a.error()));
//
// value() on an error rethrows the stored exception, so `r.value()` is the
// "unwrap or raise" of the result; `*r` and `r->` do not check.
#pragma once

#include <cassert>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "aio/errors.hpp"

namespace aio {

template <class T>
class Result {
    static_assert(!std::is_reference_v<T>, "aio::Result<T&> is not supported; use a pointer");

public:
    using value_type = T;

    /// A successful result.
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(value)) {}
    /// A failed result; `error` must not be null.
    static Result from_error(std::exception_ptr error) {
        if (!error) throw std::invalid_argument("aio::Result::from_error: null exception_ptr");
        return Result(std::move(error), 0);
    }

    bool has_value() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; rethrows the stored exception if there is none.
    T& value() & {
        check();
        return *value_;
    }
    const T& value() const& {
        check();
        return *value_;
    }
    T&& value() && {
        check();
        return std::move(*value_);
    }
    /// The value, or `fallback` on error.
    template <class U>
    T value_or(U&& fallback) const& {
        return value_ ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }

    T& operator*() & noexcept {
        assert(value_);
        return *value_;
    }
    const T& operator*() const& noexcept {
        assert(value_);
        return *value_;
    }
    T* operator->() noexcept { return &**this; }
    const T* operator->() const noexcept { return &**this; }

    /// The exception, or null when the result holds a value.
    const std::exception_ptr& error() const noexcept { return error_; }
    /// Whether the error is an aio::CancelledError (the child was cancelled).
    bool cancelled() const noexcept { return detail::is_cancellation_ptr(error_); }

private:
    Result(std::exception_ptr e, int) noexcept : error_(std::move(e)) {}
    void check() const {
        if (!value_) std::rethrow_exception(error_);
    }

    std::optional<T> value_;
    std::exception_ptr error_;
};

/// The outcome of a child that returns nothing: success or an exception.
template <>
class Result<void> {
public:
    using value_type = void;

    Result() noexcept = default;
    static Result from_error(std::exception_ptr error) {
        if (!error) throw std::invalid_argument("aio::Result::from_error: null exception_ptr");
        Result r;
        r.error_ = std::move(error);
        return r;
    }

    bool has_value() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return has_value(); }
    /// Rethrows the stored exception, if any.
    void value() const {
        if (error_) std::rethrow_exception(error_);
    }
    const std::exception_ptr& error() const noexcept { return error_; }
    bool cancelled() const noexcept { return detail::is_cancellation_ptr(error_); }

private:
    std::exception_ptr error_;
};

}  // namespace aio
