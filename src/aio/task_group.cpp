#include "aio/task_group.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>

namespace aio {

/// The group's exit waiting for the children. A cancellation of the waiting
/// task is reported by await_resume() (true) instead of thrown, and the wait
/// is resumed: the exit loop decides (asyncio's `while self._tasks` loop).
class TaskGroup::JoinWait final : public detail::Suspension {
public:
    explicit JoinWait(TaskGroup* g) noexcept : group_(g) {}
    ~JoinWait() {
        if (group_->joiner_ == this) group_->joiner_ = nullptr;
    }

    bool await_ready() const noexcept { return group_->active_ == 0; }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        group_->joiner_ = this;
        suspend_here(h, at);
    }
    /// Whether the task was cancelled while waiting.
    bool await_resume() {
        if (!task_) return false;
        try {
            resume_here();
        } catch (const CancelledError&) {
            return true;
        }
        return cancelled_;
    }
    void wake() {
        group_->joiner_ = nullptr;
        detail::schedule_on(task_->loop(), task_);
    }

private:
    bool cancel_wait() override {
        if (group_->joiner_ != this) return false;  // already woken: queued
        cancelled_ = true;
        wake();
        return true;
    }

    TaskGroup* group_;
    bool cancelled_ = false;
};

namespace {

/// Watches a child left running by a TaskGroup destroyed without exiting:
/// reports its failure, then deletes itself.
struct DetachedChild final : detail::WaitNode, detail::PoolAllocated {
    explicit DetachedChild(detail::TaskCore* t) noexcept : task(t) {}
    void wake() override {
        if (task->state() == detail::CompletionState::failed)
            task->loop()->call_exception_handler({"aio::TaskGroup: a child of a group destroyed without exit() failed",
                                                  task->exception(), task->name()});
        delete this;
    }
    void abandon() noexcept override { delete this; }
    detail::TaskCore* task;
};

}  // namespace

/// A slab of nodes: this header, then `capacity` Child slots of which the
/// first `used` are constructed. Slabs are kept per thread (a few of each
/// size) for the next group, so a steady stream of groups allocates nothing.
struct TaskGroup::ChunkHeader {
    ChunkHeader* next;
    std::uint32_t capacity;
    std::uint32_t used;

    Child* nodes() noexcept { return reinterpret_cast<Child*>(this + 1); }
    static ChunkHeader* make(std::uint32_t capacity, ChunkHeader* next);
    /// Destroys the nodes and gives the storage back.
    static void release(ChunkHeader* h) noexcept;
};

namespace {

struct ChunkCache {
    static constexpr int kClasses = 7;  // capacities 16 << k, k < 7
    static constexpr int kKeep = 4;     // slabs kept per class
    void* heads[kClasses] = {};
    int counts[kClasses] = {};
    ~ChunkCache() {
        for (void*& head : heads)
            while (void* block = head) {
                head = *static_cast<void**>(block);
                ::operator delete(block);
            }
    }
    static int class_of(std::uint32_t capacity) noexcept {
        int k = 0;
        while ((16u << k) < capacity) ++k;
        return k;
    }
};

thread_local ChunkCache chunk_cache;

}  // namespace

TaskGroup::ChunkHeader* TaskGroup::ChunkHeader::make(std::uint32_t capacity, ChunkHeader* next) {
    static_assert(sizeof(ChunkHeader) % alignof(Child) == 0, "nodes follow the header");
    const int k = ChunkCache::class_of(capacity);
    void* block = chunk_cache.heads[k];
    if (block) {
        chunk_cache.heads[k] = *static_cast<void**>(block);
        --chunk_cache.counts[k];
    } else {
        block = ::operator new(sizeof(ChunkHeader) + std::size_t(capacity) * sizeof(Child));
    }
    return ::new (block) ChunkHeader{next, capacity, 0};
}

void TaskGroup::ChunkHeader::release(ChunkHeader* h) noexcept {
    for (std::uint32_t i = 0; i < h->used; ++i) h->nodes()[i].~Child();
    const int k = ChunkCache::class_of(h->capacity);
    void* block = h;
    if (chunk_cache.counts[k] < ChunkCache::kKeep) {
        *static_cast<void**>(block) = chunk_cache.heads[k];
        chunk_cache.heads[k] = block;
        ++chunk_cache.counts[k];
    } else {
        ::operator delete(block);
    }
}

TaskGroup::TaskGroup() : parent_(&detail::current_task_core("aio::TaskGroup")), loop_(parent_->loop()) {
    for (Child& c : inline_) {
        c.group = this;
        c.next_free = free_;
        free_ = &c;
    }
}

TaskGroup::~TaskGroup() {
    if (active_ > 0) {
        // Not exited: a frame unwound past the group. Inside the parent, with
        // the loop running, cancel the children and detach them; at loop close
        // the loop is tearing the children down itself, leave them alone.
        const bool can_cancel = detail::tls_context.task == parent_ && loop_->is_running();
        for_each_child([&](Child& c) {
            detail::TaskCore* t = c.task;
            if (c.linked()) t->remove_waiter(&c);  // at loop close the loop may have unlinked it
            c.task = nullptr;
            if (!can_cancel) return;
            t->cancel({});
            t->add_waiter(new DetachedChild(t));
        });
        active_ = 0;
        if (can_cancel && parent_cancel_requested_) parent_->uncancel();
    }
    while (ChunkHeader* h = chunks_) {
        chunks_ = h->next;
        ChunkHeader::release(h);
    }
}

template <class F>
void TaskGroup::for_each_child(F&& f) {
    for (Child& c : inline_)
        if (c.task) f(c);
    for (ChunkHeader* h = chunks_; h; h = h->next)
        for (std::uint32_t i = 0; i < h->used; ++i)
            if (h->nodes()[i].task) f(h->nodes()[i]);
}

const char* TaskGroup::spawn_refusal() const noexcept {
    if (exiting_ && active_ == 0) return "aio::TaskGroup is finished";
    if (aborting_) return "aio::TaskGroup is shutting down";
    return nullptr;
}

TaskGroup::Child* TaskGroup::acquire() {
    if (Child* c = free_) {
        free_ = c->next_free;
        return c;
    }
    if (!chunks_ || chunks_->used == chunks_->capacity)
        chunks_ = ChunkHeader::make(chunks_ ? std::min<std::uint32_t>(chunks_->capacity * 2, 1024) : 16, chunks_);
    Child* c = ::new (static_cast<void*>(chunks_->nodes() + chunks_->used++)) Child;
    c->group = this;
    return c;
}

void TaskGroup::adopt(detail::TaskCore* task) {
    Child* c;
    try {
        c = acquire();
    } catch (...) {
        task->cancel({});  // cannot track it: do not let it run unsupervised
        throw;
    }
    c->task = task;
    task->add_waiter(c);
    ++active_;
}

void TaskGroup::abort() {
    aborting_ = true;
    // Cancelling a task never finishes it synchronously: no re-entrance.
    for_each_child([](Child& c) { c.task->cancel({}); });
}

void TaskGroup::on_child_done(Child* child) {
    detail::TaskCore* t = child->task;
    child->task = nullptr;
    child->next_free = free_;
    free_ = child;
    --active_;
    if (active_ == 0 && joiner_) joiner_->wake();

    if (t->state() != detail::CompletionState::failed) return;  // success or cancelled
    errors_.push_back(t->exception());
    if (!aborting_ && !parent_cancel_requested_) {
        // Stop the body too: it is running code that the failure makes moot.
        // The request is taken back at exit.
        abort();
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
}

Coro<> TaskGroup::exit(std::exception_ptr body_error) {
    if (exiting_) throw RuntimeError("aio::TaskGroup has already been exited");
    exiting_ = true;
    const bool body_cancelled = body_error && detail::is_cancellation_ptr(body_error);
    std::exception_ptr propagate_cancel = body_cancelled ? body_error : nullptr;
    if (body_error && !aborting_) abort();

    std::exception_ptr pending_cancel;
    while (active_ > 0) {
        JoinWait wait(this);
        const bool cancelled = co_await wait;
        if (cancelled) {
            pending_cancel = std::make_exception_ptr(CancelledError(parent_->cancel_message()));
            if (!aborting_) {
                // The task running the group is cancelled from outside.
                propagate_cancel = pending_cancel;
                abort();
            }
        }
    }
    exited_ = true;

    if (parent_cancel_requested_) {
        if (parent_->uncancel() == 0)
            propagate_cancel = nullptr;  // only ours: absorbed
        else if (!propagate_cancel)
            propagate_cancel = pending_cancel;  // the rest is not ours: keep it
    }
    if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
    if (body_error && !body_cancelled) errors_.push_back(body_error);
    if (!errors_.empty()) {
        if (parent_->cancelling() > 0) {
            // Cancelled from outside as well: keep that request pending (its
            // count unchanged) so the caller's next suspension raises it.
            std::string msg = parent_->cancel_message();
            parent_->uncancel();
            parent_->cancel(std::move(msg));
        }
        std::vector<std::exception_ptr> errors = std::move(errors_);
        errors_.clear();
        throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
    }
}

}  // namespace aio
