#include <atomic>

#include "aio/event_loop.hpp"
#include "aio/log.hpp"

namespace aio::detail {

namespace {
std::atomic<std::uint32_t> task_counter{0};

// Task numbers are handed to each thread in blocks, so creating a task costs
// no atomic operation: unique process-wide, consecutive within a thread.
std::uint32_t next_task_number() {
    constexpr std::uint32_t kBlock = 1024;
    thread_local std::uint32_t next = 0, end = 0;
    if (next == end) {
        next = task_counter.fetch_add(kBlock, std::memory_order_relaxed) + 1;
        end = next + kBlock;
    }
    return next++;
}
const std::string empty_string;
}  // namespace

void schedule_on(EventLoop* loop, Runnable* r) { loop->schedule(r); }

// --- CompletionCore ----------------------------------------------------------

CompletionCore::~CompletionCore() {
    // Only done callbacks can outlive the object they wait for.
    while (WaitNode* n = waiters_.pop_front()) n->abandon();
}

namespace {
void report_unretrieved(const char* what, const std::string& name, const std::exception_ptr& e) {
    std::string msg = std::string(what) + " exception was never retrieved";
    if (!name.empty()) msg += "\n  task: " + name;
    msg += "\n  exception: " + describe_exception(e);
    log(LogLevel::error, msg);
}
}  // namespace

CompletionCore::Extra& CompletionCore::extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
}

const std::string& CompletionCore::cancel_message() const noexcept {
    return extra_ ? extra_->cancel_message : empty_string;
}

void CompletionCore::set_cancel_message(std::string msg) {
    if (msg.empty() && !extra_) return;
    extra().cancel_message = std::move(msg);
}

void CompletionCore::throw_cancelled() const { throw CancelledError(cancel_message()); }

std::exception_ptr CompletionCore::exception() const {
    retrieved_ = true;
    switch (state_) {
        case CompletionState::pending:
            throw InvalidStateError("Exception is not set: the object is still pending");
        case CompletionState::cancelled:
            throw_cancelled();
        default:
            return exception_;
    }
}

void CompletionCore::check_result() const {
    retrieved_ = true;
    switch (state_) {
        case CompletionState::pending:
            throw InvalidStateError("Result is not set: the object is still pending");
        case CompletionState::cancelled:
            throw_cancelled();
        case CompletionState::failed:
            std::rethrow_exception(exception_);
        case CompletionState::finished:
            return;
    }
}

std::size_t remove_done_callback(CompletionCore* core, CallbackId id) noexcept {
    auto* node = static_cast<WaitNode*>(const_cast<void*>(id.node));
    if (!node || !core->waiters().contains(node)) return 0;
    core->remove_waiter(node);
    node->abandon();
    return 1;
}

// --- FutureCore ---------------------------------------------------------------

void FutureCore::check_settable(const char* what) const {
    loop_->check_thread();
    if (done()) throw InvalidStateError(std::string(what) + ": the future is already done");
}

void FutureCore::finish(CompletionState s) {
    state_ = s;
    waiters_.wake_all();
}

void FutureCore::finish_with_result() { finish(CompletionState::finished); }

void FutureCore::set_exception(std::exception_ptr e) {
    check_settable("set_exception");
    if (!e) throw std::invalid_argument("set_exception: null exception_ptr");
    exception_ = std::move(e);
    finish(CompletionState::failed);
}

bool FutureCore::cancel(std::string msg) {
    if (done()) return false;
    loop_->check_thread();
    set_cancel_message(std::move(msg));
    finish(CompletionState::cancelled);
    return true;
}

// --- TaskCore -------------------------------------------------------------------

TaskCore::TaskCore(EventLoop* loop, std::string_view name)
    : CompletionCore(loop) {
    // As asyncio: only unnamed tasks consume a number of the "Task-N" series.
    if (name.empty())
        task_number_ = next_task_number();
    else
        set_name(std::string(name));
}

TaskCore::~TaskCore() {
    if (state_ == CompletionState::failed && !retrieved_) report_unretrieved("Task", name(), exception_);
}

FutureCore::~FutureCore() {
    if (state_ == CompletionState::failed && !retrieved_) report_unretrieved("Future", {}, exception_);
}

void TaskCore::abandon_on_close() {
    log(LogLevel::error, "Task was destroyed but it is pending!\n  task: " + name());
    destroy_frame();
    awaiting_ = nullptr;
    top_frame = nullptr;
    set_cancel_message("event loop closed");
    state_ = CompletionState::cancelled;
    while (WaitNode* n = waiters_.pop_front()) n->abandon();
}

std::string TaskCore::name() const {
    if (extra_ && extra_->named) return extra_->name;
    return "Task-" + std::to_string(task_number_);
}

void TaskCore::set_name(std::string name) {
    Extra& e = extra();
    e.name = std::move(name);
    e.named = true;
}

void TaskCore::run() {
    ThreadContext& ctx = tls_context;
    std::coroutine_handle<> h;
    if (!started_) {
        started_ = true;
        if (must_cancel_) {  // cancelled before its first step: the body never runs
            must_cancel_ = false;
            destroy_frame();
            finish(CompletionState::cancelled);
            return;
        }
        h = root();
    } else {
        h = awaiting_->handle();
    }
    TaskCore* outer = ctx.task;
    ctx.task = this;
    ctx.root_returned = false;
    // The driver: Coro awaits and returns hand the next frame back here
    // instead of resuming it from inside another frame.
    do {
        ctx.next = nullptr;
        h.resume();
        h = ctx.next;
    } while (h);
    ctx.task = outer;
    if (ctx.root_returned) {
        ctx.root_returned = false;
        complete();
    }
}

void TaskCore::complete() {
    std::exception_ptr e = harvest();
    if (!e) {
        finish(CompletionState::finished);
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError& c) {
        set_cancel_message(c.message());
        finish(CompletionState::cancelled);
        return;
    } catch (...) {
    }
    exception_ = std::move(e);
    finish(CompletionState::failed);
}

void TaskCore::finish(CompletionState s) {
    state_ = s;
    awaiting_ = nullptr;
    top_frame = nullptr;
    waiters_.wake_all();
    loop_->unregister_task(this);  // drops the loop's reference: may delete this
}

bool TaskCore::cancel(std::string msg) {
    if (done()) return false;
    loop_->check_thread();
    ++cancel_requests_;
    set_cancel_message(std::move(msg));
    if (awaiting_ && awaiting_->cancel_wait()) return true;
    must_cancel_ = true;
    return true;
}

std::vector<TaskCore*> TaskCore::awaiting_tasks() const {
    std::vector<TaskCore*> out;
    waiters_.for_each([&](const WaitNode* n) {
        if (TaskCore* t = n->waiting_task()) out.push_back(t);
    });
    return out;
}

std::uint32_t TaskCore::uncancel() noexcept {
    if (cancel_requests_ > 0 && --cancel_requests_ == 0) must_cancel_ = false;
    return cancel_requests_;
}

TaskCore& current_task_core(const char* what) {
    if (TaskCore* t = tls_context.task) return *t;
    throw RuntimeError(std::string(what) + ": not called from an aio task");
}

void run_until_done(EventLoop& loop, CompletionCore* core) {
    struct StopLoop final : WaitNode {
        EventLoop* loop;
        explicit StopLoop(EventLoop* l) : loop(l) {}
        void wake() override { loop->stop(); }
    } stopper(&loop);
    if (core->done()) return;
    core->add_waiter(&stopper);
    try {
        loop.run_forever();
    } catch (...) {
        if (stopper.linked()) core->remove_waiter(&stopper);
        throw;
    }
    if (stopper.linked()) {
        core->remove_waiter(&stopper);
        throw RuntimeError("Event loop stopped before the awaited object completed");
    }
}

}  // namespace aio::detail

namespace aio {

std::optional<AnyTask> current_task() {
    if (detail::TaskCore* t = detail::tls_context.task) return AnyTask(t);
    return std::nullopt;
}

std::vector<AnyTask> all_tasks() {
    EventLoop& loop = get_running_loop();
    std::vector<AnyTask> out;
    out.reserve(loop.live_task_count());
    loop.for_each_live_task([&](detail::TaskCore* t) { out.emplace_back(t); });
    return out;
}

}  // namespace aio
