// adk/tool.hpp — adk::BaseTool, adk::FunctionTool, adk::ToolContext and the
// built-in exit_loop tool. (Toolsets: adk/toolset.hpp; long-running tools:
// adk/long_running_tool.hpp; agents as tools: adk/agent_tool.hpp; the
// schema mapping: adk/schema.hpp; docs/tools.md has the whole story.)
//
// A tool has a name, a description and a declaration (a FunctionDeclaration:
// {name, description, parameters: JSON Schema}); `run(args, ctx)` is a
// coroutine returning JSON. The flow runs the calls of one model turn
// concurrently, each with its own ToolContext, and merges their actions.
//
// FunctionTool from a typed C++ callable, the schema derived from the types:
//   - FunctionTool::from(fn, name, description): fn takes one struct
//     described with BOOST_DESCRIBE_STRUCT (its members are the tool's
//     parameters) or nothing;
//   - FunctionTool::from(fn, name, description, {"a", "b"}): fn takes plain
//     parameters, named in order ({{"a", "what a is"}, ...} adds descriptions);
//   - either way fn may also take one ToolContext& (anywhere), and returns
//     void (null), any type adk::json_encode knows, or aio::Coro of those.
//   Where it runs: a coroutine (returns aio::Coro<R>) on the loop; a plain
//   callable on aio's thread pool (aio::to_thread) so the loop never stalls
//   — it may be called from several threads at once, and it cannot take a
//   ToolContext& (the context belongs to the loop); a plain callable wrapped
//   in adk::on_loop(fn) runs inline on the loop (it must never block).
// FunctionTool::make(name, description, schema, fn) with an explicit JSON
// Schema and JSON arguments:
//   - `aio::Coro<Json>(Json args, ToolContext&)` or `aio::Coro<Json>(Json args)`:
//     runs on the loop (it must not block);
//   - a plain `R(Json args)` (R convertible to Json): a blocking function,
//     run on aio's thread pool. It gets no ToolContext.
// Before calling, the arguments are checked against the schema's top level
// (an object; `required` present; property types), then (typed tools)
// decoded into the parameter types: a mismatch is returned to the model as
// {"error": "Invoking `f()` failed: ..."} naming the field path, so it can
// retry; the callable does not run. An exception thrown by the callable
// propagates to the flow, which reports it to the model as an error result.
//
// Cancellation: a coroutine tool is cancelled at its own suspension point; a
// blocking tool already running on a worker runs to its end and its result
// is dropped (aio::to_thread's semantics); a call still queued never runs.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "adk/context.hpp"
#include "adk/event.hpp"
#include "adk/schema.hpp"
#include "adk/state.hpp"
#include "aio/coro.hpp"
#include "aio/executor.hpp"

namespace adk {

/// What a tool sees of the invocation (ADK's ToolContext): a CallbackContext
/// for one function call. State writes and actions are this call's own; the
/// flow merges the actions of a turn's calls key by key.
class ToolContext : public CallbackContext {
public:
    ToolContext(InvocationContext& invocation, std::string function_call_id)
        : CallbackContext(invocation), function_call_id_(std::move(function_call_id)) {}

    const std::string& function_call_id() const noexcept { return function_call_id_; }

private:
    std::string function_call_id_;
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

    /// This tool's own bound on one call (RunConfig::tool_timeout, if
    /// shorter, wins); nullopt: none.
    std::optional<std::chrono::milliseconds> timeout() const noexcept { return timeout_; }
    void set_timeout(std::optional<std::chrono::milliseconds> limit) noexcept { timeout_ = limit; }

    /// The FunctionDeclaration sent to the model, or nullopt (not declared).
    virtual std::optional<Json> declaration() const;
    /// Runs the tool. A non-object result is wrapped as {"result": value}.
    virtual aio::Coro<Json> run(Json args, ToolContext& ctx) = 0;

private:
    std::string name_;
    std::string description_;
    bool is_long_running_;
    std::optional<std::chrono::milliseconds> timeout_;
};

/// Checks `args` against the top level of `schema` (JSON Schema or genai
/// Schema with upper-case types): the error text, or nullopt if it fits.
std::optional<std::string> validate_args(const std::string& tool_name, const Json& schema, const Json& args);

/// The callable a FunctionTool runs: arguments object and context in, JSON out.
using ToolFn = std::function<aio::Coro<Json>(Json, ToolContext&)>;

/// One parameter of a FunctionTool built from a callable with plain
/// parameters: its name and, optionally, its description for the model.
///   FunctionTool::from(add, "add", "Adds two numbers", {"a", "b"});
///   FunctionTool::from(add, "add", "Adds two numbers", {{"a", "The first"}, {"b", "The second"}});
struct Param {
    Param(const char* param_name) : name(param_name) {}              // NOLINT: implicit on purpose
    Param(std::string param_name) : name(std::move(param_name)) {}  // NOLINT: implicit on purpose
    Param(std::string param_name, std::string param_description)
        : name(std::move(param_name)), description(std::move(param_description)) {}

    std::string name;
    std::string description;
};

/// Marks a plain (non-coroutine) callable as safe to run on the loop thread:
/// it returns at once and never blocks. It then runs inline and may take a
/// ToolContext&. Without it a plain callable runs on aio's thread pool.
///   FunctionTool::from(adk::on_loop([](ToolContext& ctx) { ctx.actions().escalate = true; }), "stop", "...");
template <class F>
struct OnLoop {
    F fn;
};
template <class F>
OnLoop<std::decay_t<F>> on_loop(F&& fn) {
    return OnLoop<std::decay_t<F>>{std::forward<F>(fn)};
}

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

// ---- typed callables (FunctionTool::from) ----------------------------------

template <class... A>
struct Signature {
    template <class R>
    struct With {
        using result = R;
        template <template <class...> class L>
        using params = L<A...>;
    };
};

template <class T>
struct member_signature {};
#define ADK_MEMBER_SIGNATURE(QUALIFIERS)                              \
    template <class C, class R, class... A>                           \
    struct member_signature<R (C::*)(A...) QUALIFIERS> {              \
        using type = typename Signature<A...>::template With<R>;      \
    };
ADK_MEMBER_SIGNATURE()
ADK_MEMBER_SIGNATURE(const)
ADK_MEMBER_SIGNATURE(noexcept)
ADK_MEMBER_SIGNATURE(const noexcept)
ADK_MEMBER_SIGNATURE(&)
ADK_MEMBER_SIGNATURE(const&)
ADK_MEMBER_SIGNATURE(& noexcept)
ADK_MEMBER_SIGNATURE(const& noexcept)
#undef ADK_MEMBER_SIGNATURE

/// The one signature of a callable: a function pointer, or a class with one
/// non-template operator() (a lambda with explicit parameter types).
template <class F>
struct signature_of {};
template <class R, class... A>
struct signature_of<R (*)(A...)> {
    using type = typename Signature<A...>::template With<R>;
};
template <class R, class... A>
struct signature_of<R (*)(A...) noexcept> {
    using type = typename Signature<A...>::template With<R>;
};
template <class F>
    requires requires { &F::operator(); }
struct signature_of<F> : member_signature<decltype(&F::operator())> {};

template <class F>
concept has_one_signature = requires { typename signature_of<F>::type; };

template <class A>
inline constexpr bool is_context_param_v =
    std::is_lvalue_reference_v<A> && std::is_same_v<std::remove_cvref_t<A>, ToolContext>;

template <class A>
inline constexpr bool is_value_param_ok_v =
    !is_context_param_v<A> && (!std::is_lvalue_reference_v<A> || std::is_const_v<std::remove_reference_t<A>>);

/// The parameters of a tool callable: ToolContext& (anywhere) and values
/// decoded from the arguments object.
template <class... A>
struct ParamList {
    static constexpr std::size_t size = sizeof...(A);
    static constexpr std::size_t context_count = (std::size_t{0} + ... + (is_context_param_v<A> ? 1u : 0u));
    static constexpr std::size_t value_count = size - context_count;
    static constexpr bool values_ok = (true && ... && (is_context_param_v<A> || is_value_param_ok_v<A>));
    /// Position among the value parameters of parameter i.
    static constexpr std::array<std::size_t, size + 1> value_index = [] {
        std::array<std::size_t, size + 1> out{};
        constexpr bool is_ctx[] = {is_context_param_v<A>..., false};
        std::size_t n = 0;
        for (std::size_t i = 0; i < size; ++i) {
            out[i] = n;
            if (!is_ctx[i]) ++n;
        }
        return out;
    }();
    using values = decltype(std::tuple_cat(
        std::declval<std::conditional_t<is_context_param_v<A>, std::tuple<>, std::tuple<std::remove_cvref_t<A>>>>()...));
    using all = std::tuple<A...>;
};

template <class Params, std::size_t I>
decltype(auto) tool_argument(typename Params::values& values, ToolContext* ctx) {
    using A = std::tuple_element_t<I, typename Params::all>;
    if constexpr (is_context_param_v<A>) {
        return (*ctx);
    } else {
        auto& value = std::get<Params::value_index[I]>(values);
        if constexpr (std::is_lvalue_reference_v<A>) return (value);
        else return std::move(value);
    }
}

template <class Params, class F, std::size_t... I>
decltype(auto) call_tool_callable(F& fn, typename Params::values& values, ToolContext* ctx,
                                  std::index_sequence<I...>) {
    (void)values;  // unused when the callable takes no parameters
    (void)ctx;
    return fn(tool_argument<Params, I>(values, ctx)...);
}

/// The parameters of a plain-parameter callable, decoded from `args` by name.
template <class Values, std::size_t... I>
Values decode_named(const Json& args, const std::vector<Param>& params, std::index_sequence<I...>) {
    JsonPath root;
    auto one = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
        using V = std::tuple_element_t<K, Values>;
        const std::string& name = params[K].name;
        auto it = args.find(name);
        if (it == args.end()) {
            if constexpr (is_optional_v<V>) return V{};
            else throw_decode(root.member(name), "is required but missing");
        } else {
            return decode_at<V>(*it, root.member(name));
        }
    };
    return Values{one(std::integral_constant<std::size_t, I>{})...};
}

template <class F, bool Inline, bool Named>
struct TypedTool {
    using Sig = typename signature_of<F>::type;
    using Params = typename Sig::template params<ParamList>;
    using R = typename Sig::result;
    using Values = typename Params::values;
    static constexpr bool is_coroutine = aio::detail::is_coro_v<R>;

    struct Spec {
        F fn;
        std::string tool_name;
        std::vector<Param> params;  // the named form's parameters
    };

    static Values decode(const Json& args, const Spec& spec) {
        if constexpr (Params::value_count == 0) {
            return Values{};
        } else if constexpr (Named) {
            return decode_named<Values>(args, spec.params, std::make_index_sequence<Params::value_count>{});
        } else {
            return Values{json_decode<std::tuple_element_t<0, Values>>(args)};
        }
    }

    static aio::Coro<Json> run(std::shared_ptr<Spec> spec, Json args, ToolContext& ctx) {
        std::optional<Values> values;
        std::string problem;
        try {
            values.emplace(decode(args, *spec));
        } catch (const JsonDecodeError& e) {
            problem = e.what();
        }
        if (!values) {
            Json error = {{"error", "Invoking `" + spec->tool_name + "()` failed: " + problem}};
            co_return error;
        }
        using Seq = std::make_index_sequence<Params::size>;
        if constexpr (is_coroutine) {
            using V = typename R::value_type;
            R running = call_tool_callable<Params>(spec->fn, *values, &ctx, Seq{});
            if constexpr (std::is_void_v<V>) {
                co_await std::move(running);
                co_return Json(nullptr);
            } else {
                V result = co_await std::move(running);
                co_return json_encode(result);
            }
        } else if constexpr (Inline) {
            if constexpr (std::is_void_v<R>) {
                call_tool_callable<Params>(spec->fn, *values, &ctx, Seq{});
                co_return Json(nullptr);
            } else {
                R result = call_tool_callable<Params>(spec->fn, *values, &ctx, Seq{});
                co_return json_encode(result);
            }
        } else {
            // On a worker: the decoded values move into the call; the
            // lambda is built in its own statement (g++ 12).
            auto work = [spec, v = std::move(*values)]() mutable -> Json {
                if constexpr (std::is_void_v<R>) {
                    call_tool_callable<Params>(spec->fn, v, nullptr, Seq{});
                    return Json(nullptr);
                } else {
                    return json_encode(call_tool_callable<Params>(spec->fn, v, nullptr, Seq{}));
                }
            };
            aio::Coro<Json> running = aio::to_thread(std::move(work));
            Json result = co_await std::move(running);
            co_return result;
        }
    }

    static Json schema(const std::vector<Param>& params) {
        if constexpr (Params::value_count == 0) {
            return Json{{"type", "object"}, {"properties", Json::object()}};
        } else if constexpr (!Named) {
            return json_schema<std::tuple_element_t<0, Values>>();
        } else {
            Json properties = Json::object();
            Json required = Json::array();
            add_properties(params, properties, required, std::make_index_sequence<Params::value_count>{});
            Json s{{"type", "object"}, {"properties", std::move(properties)}};
            if (!required.empty()) s["required"] = std::move(required);
            return s;
        }
    }

    template <std::size_t... I>
    static void add_properties(const std::vector<Param>& params, Json& properties, Json& required,
                               std::index_sequence<I...>) {
        auto one = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
            using V = std::tuple_element_t<K, Values>;
            Json s = json_schema<V>();
            if (!params[K].description.empty()) s["description"] = params[K].description;
            properties[params[K].name] = std::move(s);
            if constexpr (!is_optional_v<V>) required.push_back(params[K].name);
        };
        (one(std::integral_constant<std::size_t, I>{}), ...);
    }

    static void check() {
        static_assert(Params::values_ok,
                      "FunctionTool::from: take parameters by value or const&, and the context as ToolContext&");
        static_assert(Params::context_count <= 1, "FunctionTool::from: at most one ToolContext& parameter");
        static_assert(is_coroutine || Inline || Params::context_count == 0,
                      "FunctionTool::from: a plain callable runs on a worker thread and cannot take ToolContext& "
                      "(the context belongs to the loop). Make it a coroutine (return aio::Coro<R>), or wrap it in "
                      "adk::on_loop(fn) if it never blocks");
        if constexpr (!Named) {
            static_assert(Params::value_count <= 1,
                          "FunctionTool::from(fn, name, description): fn must take one described struct (its members "
                          "are the parameters); for plain parameters give their names: "
                          "from(fn, name, description, {\"a\", \"b\"})");
            if constexpr (Params::value_count == 1)
                static_assert(described_struct<std::tuple_element_t<0, Values>>,
                              "FunctionTool::from(fn, name, description): fn's parameter must be a struct described "
                              "with BOOST_DESCRIBE_STRUCT; for plain parameters give their names: "
                              "from(fn, name, description, {\"a\", \"b\"})");
        }
    }
};

/// The schema and the ToolFn of a FunctionTool built from a typed callable.
struct TypedToolParts {
    Json parameters;
    ToolFn fn;
};

template <class F, bool Inline, bool Named>
TypedToolParts make_typed_tool(F fn, const std::string& tool_name, std::vector<Param> params) {
    static_assert(has_one_signature<F>,
                  "FunctionTool::from: the callable must have one signature (a function, or a lambda with explicit "
                  "parameter types; not a generic lambda or an overloaded function object)");
    using T = TypedTool<F, Inline, Named>;
    T::check();
    if (Named) {
        if (params.size() != T::Params::value_count)
            throw std::invalid_argument("FunctionTool `" + tool_name + "`: " + std::to_string(params.size()) +
                                        " parameter names for " + std::to_string(T::Params::value_count) +
                                        " parameters");
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (params[i].name.empty())
                throw std::invalid_argument("FunctionTool `" + tool_name + "`: empty parameter name");
            for (std::size_t k = 0; k < i; ++k)
                if (params[k].name == params[i].name)
                    throw std::invalid_argument("FunctionTool `" + tool_name + "`: parameter `" + params[i].name +
                                                "` named twice");
        }
    }
    Json schema = T::schema(params);
    auto spec = std::make_shared<typename T::Spec>(typename T::Spec{std::move(fn), tool_name, std::move(params)});
    ToolFn run = [spec](Json args, ToolContext& ctx) -> aio::Coro<Json> { return T::run(spec, std::move(args), ctx); };
    return TypedToolParts{std::move(schema), std::move(run)};
}

template <class F>
struct is_on_loop : std::false_type {};
template <class F>
struct is_on_loop<OnLoop<F>> : std::true_type {};

/// How many parameters of F the model fills (ToolContext& ones excluded).
template <class F>
constexpr std::size_t model_parameter_count() {
    if constexpr (is_on_loop<F>::value) {
        return model_parameter_count<decltype(std::declval<F>().fn)>();
    } else if constexpr (has_one_signature<F>) {
        return signature_of<F>::type::template params<ParamList>::value_count;
    } else {
        return 0;  // make_typed_tool reports the missing signature
    }
}

template <bool Named, class F>
TypedToolParts typed_tool(F fn, const std::string& tool_name, std::vector<Param> params) {
    if constexpr (is_on_loop<F>::value) {
        return make_typed_tool<decltype(fn.fn), true, Named>(std::move(fn.fn), tool_name, std::move(params));
    } else {
        return make_typed_tool<F, false, Named>(std::move(fn), tool_name, std::move(params));
    }
}

}  // namespace detail

class FunctionTool : public BaseTool {
public:
    using Fn = ToolFn;

    FunctionTool(std::string name, std::string description, Json parameters, Fn fn, bool is_long_running = false);

    /// A tool from `fn` with an explicit JSON Schema (see the header
    /// comment for the accepted shapes). `parameters` is the JSON Schema of
    /// the arguments object.
    template <class F>
    static std::shared_ptr<FunctionTool> make(std::string name, std::string description, Json parameters, F fn) {
        return std::make_shared<FunctionTool>(std::move(name), std::move(description), std::move(parameters),
                                              wrap(std::move(fn)));
    }

    /// A tool from a typed callable whose one parameter is a described
    /// struct: its members are the tool's parameters (schema derived by
    /// adk::json_schema). A callable without parameters works too.
    ///   struct WeatherQuery { std::string city; std::optional<Unit> unit; };
    ///   BOOST_DESCRIBE_STRUCT(WeatherQuery, (), (city, unit))
    ///   aio::Coro<Report> get_weather(WeatherQuery q, adk::ToolContext& ctx);
    ///   auto tool = adk::FunctionTool::from(get_weather, "get_weather", "Current weather of a city");
    template <class F>
    static std::shared_ptr<FunctionTool> from(F fn, std::string name, std::string description) {
        detail::TypedToolParts parts = detail::typed_tool<false>(std::move(fn), name, {});
        return std::make_shared<FunctionTool>(std::move(name), std::move(description), std::move(parts.parameters),
                                              std::move(parts.fn));
    }

    /// A tool from a typed callable with plain parameters, named in order
    /// (ToolContext& parameters are not named):
    ///   double add(double a, double b);
    ///   auto tool = adk::FunctionTool::from(add, "add", "Adds two numbers", {"a", "b"});
    template <class F, std::size_t N>
    static std::shared_ptr<FunctionTool> from(F fn, std::string name, std::string description,
                                              const Param (&params)[N]) {
        static_assert(!detail::has_one_signature<F> || N == detail::model_parameter_count<F>(),
                      "FunctionTool::from: give one name per parameter (ToolContext& excluded)");
        detail::TypedToolParts parts =
            detail::typed_tool<true>(std::move(fn), name, std::vector<Param>(params, params + N));
        return std::make_shared<FunctionTool>(std::move(name), std::move(description), std::move(parts.parameters),
                                              std::move(parts.fn));
    }

    const Json& parameters() const noexcept { return parameters_; }
    std::optional<Json> declaration() const override;
    aio::Coro<Json> run(Json args, ToolContext& ctx) override;

protected:
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

private:
    Json parameters_;
    Fn fn_;
};

/// ADK's exit_loop: sets escalate (and skip_summarization) so the enclosing
/// LoopAgent stops.
std::shared_ptr<BaseTool> exit_loop_tool();

}  // namespace adk
