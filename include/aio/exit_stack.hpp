// aio/exit_stack.hpp — aio::AsyncExitStack, contextlib.AsyncExitStack.
//
// A stack of exits registered at run time: context managers entered with
// enter_async_context(), coroutine callbacks (push_async_callback), plain
// callbacks (callback) and raw exits (push_async_exit). aclose() — or the
// exit of `async_with(AsyncExitStack{}, ...)` — runs them in reverse order.
//
//     co_await aio::async_with(aio::AsyncExitStack{}, [&](aio::AsyncExitStack& stack) -> aio::Coro<> {
//         for (auto& config : configs) {
//             Tool& tool = co_await stack.enter_async_context(managed_tool(config));
//             tools.push_back(&tool);
//         }
//         co_await use(tools);
//     });   // every tool is closed here, last opened first
//
// Guarantees (as contextlib):
// - Every exit runs, even when an earlier one (a later-registered one)
//   throws. Each exit sees the exception in flight at that point: the body's,
//   or the one the previous exit raised; an exit that returns true
//   suppresses it for the exits after it.
// - The exception that leaves aclose()/aexit() is the last one raised (the
//   outermost failure wins, as in nested `async with`). Errors are never
//   lost: each exception it supersedes (the body's, or an earlier exit's) is
//   passed to the running loop's exception handler with the message
//   "AsyncExitStack: exception superseded by a later exit's exception" —
//   C++ exceptions have no __context__ chain to carry it.
//
// Cancellation: aclose() runs each exit inside the calling task; a
// cancellation while an exit awaits is raised in that exit, counts as that
// exit's failure, and the remaining exits still run.
//
// Destroying a stack with exits still registered does not run them (an
// exit may need to co_await); in debug mode the loop's exception handler is
// told. Call aclose(), or use the stack through async_with.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/context.hpp"
#include "aio/coro.hpp"
#include "aio/event_loop.hpp"

namespace aio {

class AsyncExitStack {
public:
    AsyncExitStack() = default;
    AsyncExitStack(AsyncExitStack&&) noexcept = default;
    AsyncExitStack& operator=(AsyncExitStack&& o) noexcept {
        if (this != &o) {
            report_if_pending();
            exits_ = std::move(o.exits_);
        }
        return *this;
    }
    ~AsyncExitStack() { report_if_pending(); }

    /// Awaits cm.aenter(), registers cm's exit, and gives the resource. An
    /// rvalue `cm` is moved into the stack; an lvalue must outlive it. If
    /// aenter() throws nothing is registered.
    template <class CM>
    auto enter_async_context(CM&& cm) {
        using Store = std::conditional_t<std::is_lvalue_reference_v<CM>, CM, std::remove_cvref_t<CM>>;
        auto entry = std::make_unique<ContextExit<Store>>(std::forward<CM>(cm));
        return enter(std::move(entry));
    }

    /// Registers `fn(args...)`, a coroutine (returning Coro<>), to be awaited
    /// at exit. It does not see the exception and cannot suppress it.
    template <class F, class... Args>
    void push_async_callback(F fn, Args... args) {
        exits_.push_back(std::make_unique<AsyncCallbackExit<F, Args...>>(std::move(fn), std::move(args)...));
    }

    /// Registers a plain `fn(args...)` to be called at exit.
    template <class F, class... Args>
    void callback(F fn, Args... args) {
        exits_.push_back(std::make_unique<CallbackExit<F, Args...>>(std::move(fn), std::move(args)...));
    }

    /// Registers an exit with aexit's signature: `fn(std::exception_ptr)`
    /// returning Coro<bool> (true suppresses the exception).
    template <class F>
        requires std::is_invocable_r_v<Coro<bool>, F&, std::exception_ptr>
    void push_async_exit(F fn) {
        exits_.push_back(std::make_unique<RawExit<F>>(std::move(fn)));
    }

    /// Moves every registered exit to a new stack (this one becomes empty).
    AsyncExitStack pop_all() noexcept {
        AsyncExitStack other;
        other.exits_ = std::move(exits_);
        exits_.clear();
        return other;
    }

    /// The number of registered exits.
    std::size_t size() const noexcept { return exits_.size(); }

    /// Runs every exit in reverse order of registration (see the header).
    Coro<> aclose() { return close_impl(this); }

    // As a context manager (for async_with): the resource is the stack.
    struct Ready {
        AsyncExitStack* s;
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        AsyncExitStack& await_resume() const noexcept { return *s; }
    };
    Ready aenter() noexcept { return Ready{this}; }
    /// Unwinds with `e` in flight; true if some exit suppressed it.
    Coro<bool> aexit(std::exception_ptr e) { return unwind(this, std::move(e)); }

private:
    struct Exit {
        virtual ~Exit() = default;
        /// Runs the exit with `e` in flight; true suppresses it.
        virtual Coro<bool> run(std::exception_ptr e) = 0;
    };

    template <class Store>
    struct ContextExit final : Exit {
        template <class C>
        explicit ContextExit(C&& c) : cm(std::forward<C>(c)) {}
        Coro<bool> run(std::exception_ptr e) override { return detail::run_exit(cm, std::move(e)); }
        Store cm;
    };

    template <class F, class... Args>
    struct AsyncCallbackExit final : Exit {
        AsyncCallbackExit(F f, Args... a) : fn(std::move(f)), args(std::move(a)...) {}
        Coro<bool> run(std::exception_ptr) override { return call(this); }
        static Coro<bool> call(AsyncCallbackExit* self) {
            auto inner = std::apply(self->fn, self->args);
            co_await std::move(inner);
            co_return false;
        }
        F fn;
        std::tuple<Args...> args;
    };

    template <class F, class... Args>
    struct CallbackExit final : Exit {
        CallbackExit(F f, Args... a) : fn(std::move(f)), args(std::move(a)...) {}
        Coro<bool> run(std::exception_ptr) override { return call(this); }
        static Coro<bool> call(CallbackExit* self) {
            std::apply(self->fn, self->args);
            co_return false;
        }
        F fn;
        std::tuple<Args...> args;
    };

    template <class F>
    struct RawExit final : Exit {
        explicit RawExit(F f) : fn(std::move(f)) {}
        Coro<bool> run(std::exception_ptr e) override { return std::invoke(fn, std::move(e)); }
        F fn;
    };

    template <class Store>
    Coro<detail::enter_result_t<std::remove_reference_t<Store>>> enter(std::unique_ptr<ContextExit<Store>> entry) {
        return enter_impl<Store>(this, std::move(entry));
    }

    template <class Store>
    static Coro<detail::enter_result_t<std::remove_reference_t<Store>>> enter_impl(
        AsyncExitStack* self, std::unique_ptr<ContextExit<Store>> entry) {
        using R = detail::enter_result_t<std::remove_reference_t<Store>>;
        R resource = co_await entry->cm.aenter();
        self->exits_.push_back(std::move(entry));
        co_return static_cast<R>(resource);
    }

    static Coro<> close_impl(AsyncExitStack* self) {
        co_await unwind(self, nullptr);
    }

    static Coro<bool> unwind(AsyncExitStack* self, std::exception_ptr in_flight) {
        const bool received = static_cast<bool>(in_flight);
        bool suppressed = false;
        bool pending_raise = false;
        while (!self->exits_.empty()) {
            std::unique_ptr<Exit> exit = std::move(self->exits_.back());
            self->exits_.pop_back();
            std::exception_ptr raised;
            bool suppress = false;
            try {
                Coro<bool> run = exit->run(in_flight);
                suppress = co_await std::move(run);
            } catch (...) {
                raised = std::current_exception();
            }
            if (raised) {
                if (in_flight && in_flight != raised) report_superseded(in_flight);
                in_flight = std::move(raised);
                pending_raise = true;
            } else if (suppress && in_flight) {
                suppressed = true;
                pending_raise = false;
                in_flight = nullptr;
            }
        }
        if (pending_raise) std::rethrow_exception(in_flight);
        co_return received && suppressed;
    }

    static void report_superseded(const std::exception_ptr& e) noexcept {
        try {
            if (EventLoop* loop = detail::tls_context.loop) {
                std::string task;
                if (detail::tls_context.task) task = detail::tls_context.task->name();
                loop->call_exception_handler(
                    {"AsyncExitStack: exception superseded by a later exit's exception", e, std::move(task)});
            }
        } catch (...) {
        }
    }

    void report_if_pending() noexcept {
        if (!exits_.empty()) detail::report_skipped_cleanup("an AsyncExitStack", "its registered exits",
                                                        "co_await stack.aclose(), or use it through aio::async_with()");
    }

    std::vector<std::unique_ptr<Exit>> exits_;
};

}  // namespace aio
