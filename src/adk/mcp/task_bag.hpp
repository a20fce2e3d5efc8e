// A set of background tasks an object owns: started with spawn(), cancelled
// and awaited together by cancel_and_wait() (never the calling task itself,
// so an object may be closed from one of its own tasks). Private to adk::mcp.
#pragma once

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "aio/task.hpp"
#include "aio/wait.hpp"

namespace adk::mcp::detail {

class TaskBag {
public:
    TaskBag() = default;
    TaskBag(const TaskBag&) = delete;
    TaskBag& operator=(const TaskBag&) = delete;

    /// Starts `coro` as a task. The coroutine must catch its own errors
    /// (an exception left in a task nobody awaits is logged by aio).
    aio::Task<> spawn(aio::Coro<> coro, std::string_view name = {}) {
        std::erase_if(tasks_, [](const aio::Task<>& t) { return t.done(); });
        aio::Task<> t = aio::create_task(std::move(coro), name);
        tasks_.push_back(t);
        return t;
    }

    /// Cancels every task (at once, no suspension).
    void cancel_all() noexcept {
        for (aio::Task<>& t : tasks_)
            if (!t.done()) t.cancel();
    }

    /// Cancels every task and waits until all have finished (the calling
    /// task excepted). Cancellation of the caller: the tasks keep unwinding.
    aio::Coro<> cancel_and_wait() {
        cancel_all();
        std::vector<aio::Task<>> waiting;
        std::optional<aio::AnyTask> self = aio::current_task();
        for (aio::Task<>& t : tasks_) {
            if (t.done()) continue;
            if (self && aio::AnyTask(t) == *self) continue;
            waiting.push_back(t);
        }
        tasks_.clear();
        if (waiting.empty()) co_return;
        auto waited = aio::wait(std::move(waiting));
        co_await std::move(waited);
    }

    /// Waits until every task has finished (the calling task excepted),
    /// without cancelling any.
    aio::Coro<> wait_all() {
        std::vector<aio::Task<>> waiting;
        std::optional<aio::AnyTask> self = aio::current_task();
        for (aio::Task<>& t : tasks_) {
            if (t.done()) continue;
            if (self && aio::AnyTask(t) == *self) continue;
            waiting.push_back(t);
        }
        if (waiting.empty()) co_return;
        auto waited = aio::wait(std::move(waiting));
        co_await std::move(waited);
    }

    bool empty() const noexcept {
        return std::all_of(tasks_.begin(), tasks_.end(), [](const aio::Task<>& t) { return t.done(); });
    }

private:
    std::vector<aio::Task<>> tasks_;
};

}  // namespace adk::mcp::detail
