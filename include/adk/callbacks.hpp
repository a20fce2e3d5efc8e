// adk/callbacks.hpp — the agent, model and tool callbacks (ADK's
// before_/after_ *_callback), sync or async.
//
//   adk::LlmAgent::Options{...,
//       .before_model_callback = {[](adk::CallbackContext& c, adk::LlmRequest& r)
//                                     -> std::optional<adk::LlmResponse> { ... }},
//       .after_tool_callback = {audit_tool}};          // a coroutine works too
//
// A callback is any callable with the listed parameters returning either
// R (= std::optional<X>) or aio::Coro<R>. A plain callable runs on the loop
// thread inline: it must not block. Callbacks of one kind run in order; the
// first that returns a value wins (the rest do not run), as in ADK:
//   - before_agent  (CallbackContext&) -> optional<Content>: a value skips
//     the agent; the content is yielded as the agent's event;
//   - after_agent   (CallbackContext&) -> optional<Content>: appended as
//     one more event of the agent;
//   - before_model  (CallbackContext&, LlmRequest&) -> optional<LlmResponse>:
//     a value replaces the model call (the request may also be edited);
//   - after_model   (CallbackContext&, const LlmResponse&) -> optional<LlmResponse>:
//     a value replaces the response;
//   - before_tool   (BaseTool&, Json& args, ToolContext&) -> optional<Json>:
//     a value is the tool's result, the tool does not run;
//   - after_tool    (BaseTool&, const Json& args, ToolContext&, const Json& result)
//     -> optional<Json>: a value replaces the result.
// State written through the context reaches the session with the event the
// callback belongs to (for agent callbacks without content: a state-only event).
//
// Cancellation: an async callback is cancelled at its suspension point like
// any other step of the agent; nothing it recorded is persisted.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "adk/content.hpp"
#include "adk/llm_response.hpp"
#include "aio/coro.hpp"

namespace adk {

class CallbackContext;
class ToolContext;
class BaseTool;
struct LlmRequest;

namespace detail {
template <class R, class F, class... Args>
aio::Coro<R> call_plain_callback(std::shared_ptr<F> fn, Args... args) {
    co_return (*fn)(args...);
}
}  // namespace detail

/// One callback: a plain or coroutine callable stored as a coroutine.
template <class R, class... Args>
class Callback {
public:
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, Callback> && std::is_invocable_v<F&, Args...>)
    Callback(F fn) {  // NOLINT: implicit on purpose, so lists of lambdas read naturally
        using Result = std::invoke_result_t<F&, Args...>;
        if constexpr (std::is_same_v<Result, aio::Coro<R>>) {
            fn_ = std::move(fn);
        } else {
            static_assert(std::is_convertible_v<Result, R>,
                          "adk callback: return the optional result or an aio::Coro of it");
            auto shared = std::make_shared<F>(std::move(fn));
            fn_ = [shared](Args... args) -> aio::Coro<R> {
                return detail::call_plain_callback<R, F, Args...>(shared, args...);
            };
        }
    }

    aio::Coro<R> operator()(Args... args) const { return fn_(args...); }

private:
    std::function<aio::Coro<R>(Args...)> fn_;
};

using AgentCallback = Callback<std::optional<Content>, CallbackContext&>;
using BeforeModelCallback = Callback<std::optional<LlmResponse>, CallbackContext&, LlmRequest&>;
using AfterModelCallback = Callback<std::optional<LlmResponse>, CallbackContext&, const LlmResponse&>;
using BeforeToolCallback = Callback<std::optional<Json>, BaseTool&, Json&, ToolContext&>;
using AfterToolCallback = Callback<std::optional<Json>, BaseTool&, const Json&, ToolContext&, const Json&>;

/// Runs `callbacks` in order with `args`; the first value returned, or nullopt.
template <class R, class... Args, class... Actual>
aio::Coro<R> run_callbacks(const std::vector<Callback<R, Args...>>& callbacks, Actual&... args) {
    for (const auto& cb : callbacks) {
        aio::Coro<R> call = cb(args...);
        R result = co_await std::move(call);
        if (result) co_return result;
    }
    co_return R{};
}

}  // namespace adk
