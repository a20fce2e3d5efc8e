// adk/tool.hpp — adk::BaseTool, adk::FunctionTool, adk::ToolContext and the
// built-in exit_loop tool.
//
// A tool has a name, a description and a declaration (a FunctionDeclaration:
// {name, description, parameters: JSON Schema}); `run(args, ctx)` is a
// coroutine returning JSON. The flow runs the calls of one model turn
// concurrently, each with its own ToolContext, and merges their actions.
//
// FunctionTool wraps a C++ callable with an explicit JSON Schema:
//   - `aio::Coro<Json>(Json args, ToolContext&)` or `aio::Coro<Json>(Json args)`:
//     runs on the loop (it must not block);
//   - a plain `R(Json args)` (R convertible to Json): a blocking function,
//     run on aio's thread pool (aio::to_thread) so the loop never stalls.
//     It gets no ToolContext: the context belongs to the loop thread.
// Before calling, the arguments are checked against the schema's top level
// (an object; `required` present; property types): a mismatch is returned
// to the model as {"error": "..."} so it can retry.
//
// Cancellation: a coroutine tool is cancelled at its own suspension point; a
// blocking tool already running on a worker runs to its end and its result
// is dropped (aio::to_thread's semantics).
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "adk/context.hpp"
#include "adk/event.hpp"
#include "adk/state.hpp"
#include "aio/coro.hpp"
#include "aio/executor.hpp"

namespace adk {

/// What a tool sees of the invocation: its call id, the state (writes are
/// recorded as deltas in this call's actions) and the actions themselves.
class ToolContext {
public:
    ToolContext(InvocationContext& invocation, std::string function_call_id);
    ToolContext(const ToolContext&) = delete;
    ToolContext& operator=(const ToolContext&) = delete;

    const std::string& function_call_id() const noexcept { return function_call_id_; }
    /// This call's actions: state_delta, escalate, skip_summarization...
    EventActions& actions() noexcept { return actions_; }
    /// The session state seen through this call's delta.
    State state();
    InvocationContext& invocation_context() noexcept { return *invocation_; }
    const std::string& invocation_id() const noexcept { return invocation_->invocation_id; }
    const std::string& agent_name() const;

private:
    InvocationContext* invocation_;
    std::string function_call_id_;
    EventActions actions_;
};

class BaseTool {
public:
    BaseTool(std::string name, std::string description, bool is_long_running = false)
        : name_(std::move(name)), description_(std::move(description)), is_long_running_(is_long_running) {}
    virtual ~BaseTool() = default;
    BaseTool(const BaseTool&) = delete;
    BaseTool& operator=(const BaseTool&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& description() const noexcept { return description_; }
    /// Long-running: the call's id lands in Event::long_running_tool_ids and
    /// the client sends the final response later.
    bool is_long_running() const noexcept { return is_long_running_; }

    /// The FunctionDeclaration sent to the model, or nullopt (not declared).
    virtual std::optional<Json> declaration() const;
    /// Runs the tool. A non-object result is wrapped as {"result": value}.
    virtual aio::Coro<Json> run(Json args, ToolContext& ctx) = 0;

private:
    std::string name_;
    std::string description_;
    bool is_long_running_;
};

/// Checks `args` against the top level of `schema` (JSON Schema or genai
/// Schema with upper-case types): the error text, or nullopt if it fits.
std::optional<std::string> validate_args(const std::string& tool_name, const Json& schema, const Json& args);

namespace detail {
template <class F>
aio::Coro<Json> run_blocking_tool(std::shared_ptr<F> fn, Json args) {
    // The lambda is built in its own statement: g++ 12 miscompiles a
    // capturing lambda built in a co_await statement.
    auto call = [fn, a = std::move(args)]() -> Json { return Json((*fn)(a)); };
    aio::Coro<Json> work = aio::to_thread(std::move(call));
    Json result = co_await std::move(work);
    co_return result;
}
}  // namespace detail

class FunctionTool : public BaseTool {
public:
    using Fn = std::function<aio::Coro<Json>(Json, ToolContext&)>;

    FunctionTool(std::string name, std::string description, Json parameters, Fn fn, bool is_long_running = false);

    /// A tool from `fn` (see the header comment for the accepted shapes).
    /// `parameters` is the JSON Schema of the arguments object.
    template <class F>
    static std::shared_ptr<FunctionTool> make(std::string name, std::string description, Json parameters, F fn) {
        return std::make_shared<FunctionTool>(std::move(name), std::move(description), std::move(parameters),
                                              wrap(std::move(fn)));
    }

    const Json& parameters() const noexcept { return parameters_; }
    std::optional<Json> declaration() const override;
    aio::Coro<Json> run(Json args, ToolContext& ctx) override;

private:
    template <class F>
    static Fn wrap(F fn) {
        if constexpr (std::is_invocable_r_v<aio::Coro<Json>, F&, Json, ToolContext&>) {
            return Fn(std::move(fn));
        } else if constexpr (std::is_invocable_r_v<aio::Coro<Json>, F&, Json>) {
            auto f = std::make_shared<F>(std::move(fn));
            return [f](Json args, ToolContext&) { return (*f)(std::move(args)); };
        } else {
            static_assert(std::is_invocable_v<F&, const Json&>, "FunctionTool: unsupported callable");
            auto f = std::make_shared<F>(std::move(fn));
            return [f](Json args, ToolContext&) { return detail::run_blocking_tool(f, std::move(args)); };
        }
    }

    Json parameters_;
    Fn fn_;
};

/// ADK's exit_loop: sets escalate (and skip_summarization) so the enclosing
/// LoopAgent stops.
std::shared_ptr<BaseTool> exit_loop_tool();

}  // namespace adk
