#include "aio/run.hpp"

#include <csignal>

#include "aio/call_graph.hpp"
#include "aio/log.hpp"

#include <cstring>

namespace aio {

namespace {
bool debug_from_environment() {
    const char* v = std::getenv("AIO_DEBUG");
    return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace

Runner::Runner(RunOptions options) {
    if (detail::tls_context.loop)
        throw RuntimeError(
            "aio::run() and aio::Runner cannot be called from a running event loop; "
            "inside a coroutine, co_await the coroutine instead");
    loop_.emplace();
    loop_->set_debug(options.debug.value_or(debug_from_environment()));
    if (options.call_graph_signal > 0) {
        // A signal belongs to one loop at a time: when several run at once
        // (a loop in a background thread), the first one answers the dump.
        EventLoop* loop = &*loop_;
        try {
            loop_->add_signal_handler(options.call_graph_signal,
                                      [loop] { log(LogLevel::info, format_all_call_graphs(*loop)); });
            call_graph_signal_ = options.call_graph_signal;
        } catch (const RuntimeError&) {
        }
    }
}

Runner::~Runner() {
    try {
        close();
    } catch (...) {
        // close() only throws if the loop is running, which a destructor
        // cannot observe; never let a destructor throw.
    }
}

EventLoop& Runner::get_loop() {
    if (closed_) throw RuntimeError("Runner is closed");
    return *loop_;
}

void Runner::check_can_run() {
    if (detail::tls_context.loop)
        throw RuntimeError(
            "aio::run() cannot be called from a running event loop; "
            "inside a coroutine, co_await the coroutine instead");
    if (closed_) throw RuntimeError("Runner is closed");
}

void Runner::close() {
    if (closed_) return;
    closed_ = true;
    EventLoop& loop = *loop_;
    // Cancel what is left and let it unwind (asyncio's _cancel_all_tasks).
    std::vector<detail::IntrusivePtr<detail::TaskCore>> leftovers;
    loop.for_each_live_task([&](detail::TaskCore* t) { leftovers.emplace_back(t); });
    if (!leftovers.empty()) {
        for (auto& t : leftovers) t->cancel({});
        // Run until every leftover finished: one wait node per pending task.
        struct Countdown final : detail::WaitNode {
            std::size_t* remaining;
            EventLoop* loop;
            Countdown(std::size_t* r, EventLoop* l) : remaining(r), loop(l) {}
            void wake() override {
                if (--*remaining == 0) loop->stop();
            }
        };
        std::size_t remaining = 0;
        std::vector<std::pair<detail::TaskCore*, std::unique_ptr<Countdown>>> waits;
        for (auto& t : leftovers) {
            if (t->done()) continue;
            waits.emplace_back(t.get(), std::make_unique<Countdown>(&remaining, &loop));
            t->add_waiter(waits.back().second.get());
            ++remaining;
        }
        if (remaining > 0) loop.run_forever();
        for (auto& [task, node] : waits)
            if (node->linked()) task->remove_waiter(node.get());
        for (auto& t : leftovers) {
            if (t->state() == detail::CompletionState::failed)
                loop.call_exception_handler(
                    {"unhandled exception during aio::run() shutdown", t->exception(), t->name()});
        }
    }
    // issue 6: shut the default executor down (its workers finish and are
    // joined while the loop still runs), as asyncio.Runner.close does.
    if (!loop.is_closed()) {
        try {
            loop.run_until_complete(loop.shutdown_default_executor());
        } catch (...) {
            loop.call_exception_handler(
                {"error while shutting down the default executor", std::current_exception(), {}});
        }
    }
    if (call_graph_signal_ > 0) loop.remove_signal_handler(call_graph_signal_);
    loop.close();
}

}  // namespace aio
