// aio/async_comprehension.hpp — Python's async comprehensions for
// AsyncGenerator: collect, filter and transform.
//
//     events = [e async for e in agent.run(ctx)]
//         -> std::vector<Event> events = co_await aio::collect(agent.run(ctx));
//     errors = [e async for e in agent.run(ctx) if e.type == "error"]
//         -> auto errors = co_await aio::collect(agent.run(ctx), is_error);
//     stream = (e.text async for e in agent.run(ctx) if e.final)     (lazy)
//         -> auto stream = aio::transform(aio::filter(agent.run(ctx), is_final), text_of);
//
// filter() and transform() return lazy AsyncGenerators: nothing runs until
// the result is iterated. Predicates and functions may be plain (returning
// bool / U) or coroutines (returning Coro<bool> / Coro<U>), which are awaited.
// Callables are moved into the generator's frame, so capturing lambdas are
// safe.
//
// Cleanup: each helper owns its source and closes it (aclose) when it stops
// early, fails or is closed, so the source's async cleanup always runs.
//
// Cancellation: the helpers are cancellation points exactly where the source
// (or an async predicate) suspends; a cancellation closes the source and the
// CancelledError propagates.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/async_generator.hpp"
#include "aio/coro.hpp"

namespace aio {

namespace detail {
template <class T>
struct call_result_value {
    using value_type = T;
};
}  // namespace detail

/// Runs `gen` to its end and returns every item (`[x async for x in gen]`).
template <class T>
Coro<std::vector<T>> collect(AsyncGenerator<T> gen) {
    std::vector<T> out;
    while (true) {
        std::optional<T> item = co_await gen.next();
        if (!item) break;
        out.push_back(std::move(*item));
    }
    co_return out;
}

/// Items of `source` for which `pred(item)` (or `co_await pred(item)`) is true.
template <class T, class Pred>
    requires std::invocable<Pred&, const T&>
AsyncGenerator<T> filter(AsyncGenerator<T> source, Pred pred) {
    using R = std::invoke_result_t<Pred&, const T&>;
    std::exception_ptr failure;
    try {
        while (true) {
            std::optional<T> item = co_await source.next();
            if (!item) break;
            bool keep = false;
            if constexpr (detail::is_coro_v<R>) {
                R check = std::invoke(pred, std::as_const(*item));
                keep = co_await std::move(check);
            } else {
                keep = static_cast<bool>(std::invoke(pred, std::as_const(*item)));
            }
            if (keep) co_yield std::move(*item);
        }
    } catch (...) {
        failure = std::current_exception();
    }
    co_await source.aclose();
    if (failure) std::rethrow_exception(failure);
}

/// `fn(item)` (or `co_await fn(item)`) for each item of `source`.
template <class T, class Fn,
          class U = typename std::conditional_t<detail::is_coro_v<std::invoke_result_t<Fn&, T&&>>,
                                                std::invoke_result_t<Fn&, T&&>,
                                                detail::call_result_value<std::invoke_result_t<Fn&, T&&>>>::value_type>
    requires std::invocable<Fn&, T&&>
AsyncGenerator<std::remove_cvref_t<U>> transform(AsyncGenerator<T> source, Fn fn) {
    using R = std::invoke_result_t<Fn&, T&&>;
    std::exception_ptr failure;
    try {
        while (true) {
            std::optional<T> item = co_await source.next();
            if (!item) break;
            if constexpr (detail::is_coro_v<R>) {
                R mapped = std::invoke(fn, std::move(*item));
                std::remove_cvref_t<U> out = co_await std::move(mapped);
                co_yield std::move(out);
            } else {
                co_yield std::invoke(fn, std::move(*item));
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    co_await source.aclose();
    if (failure) std::rethrow_exception(failure);
}

/// `[x async for x in gen if pred(x)]`.
template <class T, class Pred>
    requires std::invocable<Pred&, const T&>
Coro<std::vector<T>> collect(AsyncGenerator<T> gen, Pred pred) {
    return collect(filter(std::move(gen), std::move(pred)));
}

}  // namespace aio
