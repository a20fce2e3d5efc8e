// aio/queue.hpp — aio::Queue<T>, aio::LifoQueue<T> and
// aio::PriorityQueue<T, Compare>: asyncio's queues, for producers and
// consumers in one event loop.
//
//     aio::Queue<Job> jobs(100);         // maxsize 100; 0 means unbounded
//     co_await jobs.put(std::move(job)); // waits while the queue is full
//     Job next = co_await jobs.get();    // waits while it is empty
//     jobs.task_done();                  // after processing `next`
//     co_await jobs.join();              // every item put has been task_done()
//     jobs.shutdown();                   // Python 3.13: puts raise, gets drain then raise
//
// Move-only items work (Queue<std::unique_ptr<T>>). The queues are FIFO
// (Queue), LIFO (LifoQueue) or by priority (PriorityQueue: the item that
// compares lowest first, as asyncio's heapq; equal items come out in the
// order they were put). Waiting tasks are served FIFO on both sides.
//
// Hand-off: put() gives its item directly to the longest-waiting get(), and
// get() frees a slot for the longest-waiting put(), which is reserved for it
// until it runs. Nobody can barge in between a wake-up and the woken task
// running, and maxsize bounds the items put but not yet received: an item
// handed to a woken getter, and a slot reserved for a woken putter, count
// against maxsize (full()) though not in qsize() — qsize() is what
// get_nowait() could take.
//
// Cancellation, every wait leaves no trace:
//  - get() cancelled while waiting: leaves the getters' queue, no item taken.
//  - get() cancelled after put() handed it an item but before it ran: the
//    item goes back to the front of the queue (for a PriorityQueue, to its
//    place by priority and arrival) and to the next waiting getter if any.
//    No item is lost or reordered.
//  - put() cancelled while waiting or after a slot was reserved for it: the
//    item is not put, the slot goes to the next waiting putter, and the
//    argument is untouched — put() consumes it (moves from an rvalue) only
//    when the item goes into the queue, so `co_await q.put(std::move(p))`
//    that raises leaves `p` with the caller.
//  - join() cancelled: leaves the joiners; nothing else changes.
//
// Shutdown (Python 3.13): shutdown() makes put()/put_nowait() raise
// QueueShutDown, wakes blocked putters with QueueShutDown and blocked getters
// too (a getter only blocks on an empty queue, and get() on an empty
// shut-down queue raises QueueShutDown); items already queued can still be
// taken. shutdown(true) also drops the queued items, counting each as done
// for join() (which returns once the count reaches zero). Deliberate
// deviation: an item already handed to a woken getter is delivered even if
// shutdown(true) comes before that getter runs.
//
// Errors: QueueFull/QueueEmpty from the _nowait forms, QueueShutDown after
// shutdown, std::invalid_argument from task_done() called more often than
// items were put (asyncio's ValueError). Not thread-safe, as asyncio: from
// another thread use loop.call_soon_threadsafe; debug mode raises
// RuntimeError on direct use from another thread.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/detail/waiter_queue.hpp"
#include "aio/sync_errors.hpp"

namespace aio {
namespace detail {

/// A growable circular buffer (power-of-two capacity) of move-only-friendly
/// elements: O(1) push and pop at both ends, no allocation once grown.
template <class T>
class Ring {
public:
    Ring() noexcept = default;
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() {
        clear();
        if (slots_) std::allocator<T>().deallocate(slots_, capacity_);
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    void push_back(T&& v) {
        if (size_ == capacity_) grow();
        std::construct_at(slots_ + ((head_ + size_) & (capacity_ - 1)), std::move(v));
        ++size_;
    }
    void push_front(T&& v) {
        if (size_ == capacity_) grow();
        const std::size_t at = (head_ - 1) & (capacity_ - 1);
        std::construct_at(slots_ + at, std::move(v));
        head_ = at;
        ++size_;
    }
    T pop_front() {
        T* p = slots_ + head_;
        T v(std::move(*p));
        std::destroy_at(p);
        head_ = (head_ + 1) & (capacity_ - 1);
        --size_;
        return v;
    }
    T pop_back() {
        T* p = slots_ + ((head_ + size_ - 1) & (capacity_ - 1));
        T v(std::move(*p));
        std::destroy_at(p);
        --size_;
        return v;
    }
    void clear() noexcept {
        for (; size_ > 0; --size_) {
            std::destroy_at(slots_ + head_);
            head_ = (head_ + 1) & (capacity_ - 1);
        }
        head_ = 0;
    }

private:
    void grow() {
        const std::size_t capacity = capacity_ ? capacity_ * 2 : 16;
        T* fresh = std::allocator<T>().allocate(capacity);
        std::size_t moved = 0;
        try {
            for (; moved < size_; ++moved)
                std::construct_at(fresh + moved, std::move_if_noexcept(slots_[(head_ + moved) & (capacity_ - 1)]));
        } catch (...) {
            std::destroy(fresh, fresh + moved);
            std::allocator<T>().deallocate(fresh, capacity);
            throw;
        }
        if (slots_) {
            for (std::size_t i = 0; i < size_; ++i) std::destroy_at(slots_ + ((head_ + i) & (capacity_ - 1)));
            std::allocator<T>().deallocate(slots_, capacity_);
        }
        slots_ = fresh;
        capacity_ = capacity;
        head_ = 0;
    }

    T* slots_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// Storage policies. Each keeps entries (the item, plus whatever it needs to
// order them) and can take back an entry handed to a getter that was
// cancelled before it ran, restoring its position: that entry is older than
// everything queued since (getters only wait on an empty queue).

template <class T>
class FifoStorage {
public:
    using entry_type = T;
    static entry_type make_entry(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(v); }
    static T&& value(entry_type& e) noexcept { return std::move(e); }

    bool empty() const noexcept { return ring_.empty(); }
    std::size_t size() const noexcept { return ring_.size(); }
    void push(entry_type&& e) { ring_.push_back(std::move(e)); }
    entry_type pop() { return ring_.pop_front(); }
    void push_returned(entry_type&& e) { ring_.push_front(std::move(e)); }  // the oldest: next out
    void clear() noexcept { ring_.clear(); }

private:
    Ring<T> ring_;
};

template <class T>
class LifoStorage {
public:
    using entry_type = T;
    static entry_type make_entry(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(v); }
    static T&& value(entry_type& e) noexcept { return std::move(e); }

    bool empty() const noexcept { return ring_.empty(); }
    std::size_t size() const noexcept { return ring_.size(); }
    void push(entry_type&& e) { ring_.push_back(std::move(e)); }
    entry_type pop() { return ring_.pop_back(); }
    void push_returned(entry_type&& e) { ring_.push_front(std::move(e)); }  // the oldest: bottom of the stack
    void clear() noexcept { ring_.clear(); }

private:
    Ring<T> ring_;
};

template <class T, class Compare>
class PriorityStorage {
public:
    struct entry_type {
        T item;
        std::uint64_t sequence;  // arrival order: ties leave in FIFO order
    };

    explicit PriorityStorage(Compare compare = Compare()) : compare_(std::move(compare)) {}

    entry_type make_entry(T&& v) { return entry_type{std::move(v), next_sequence_++}; }
    static T&& value(entry_type& e) noexcept { return std::move(e.item); }

    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    void push(entry_type&& e) {
        heap_.push_back(std::move(e));
        std::push_heap(heap_.begin(), heap_.end(), later());
    }
    entry_type pop() {
        std::pop_heap(heap_.begin(), heap_.end(), later());
        entry_type e(std::move(heap_.back()));
        heap_.pop_back();
        return e;
    }
    void push_returned(entry_type&& e) { push(std::move(e)); }  // its sequence puts it back in place
    void clear() noexcept { heap_.clear(); }

private:
    /// std:: heaps keep the greatest on top: "greatest" = retrieved first.
    auto later() {
        return [this](const entry_type& a, const entry_type& b) {
            if (compare_(b.item, a.item)) return true;
            if (compare_(a.item, b.item)) return false;
            return b.sequence < a.sequence;
        };
    }

    std::vector<entry_type> heap_;
    [[no_unique_address]] Compare compare_;
    std::uint64_t next_sequence_ = 0;
};

/// The queue machinery shared by Queue, LifoQueue and PriorityQueue.
template <class T, class Storage>
class BasicQueue {
    using entry_type = typename Storage::entry_type;
    using Waiter = detail::Waiter;
    using WaitStatus = detail::WaitStatus;

public:
    using value_type = T;
    static_assert(std::is_move_constructible_v<T>, "queue items must be movable");

    BasicQueue(const BasicQueue&) = delete;
    BasicQueue& operator=(const BasicQueue&) = delete;

    /// Items ready to be taken (not counting ones handed to woken getters).
    std::size_t qsize() const noexcept { return items_.size(); }
    /// The bound given at construction; 0 means unbounded.
    std::size_t maxsize() const noexcept { return maxsize_; }
    bool empty() const noexcept { return items_.empty(); }
    /// True when put_nowait() would raise QueueFull: maxsize slots are taken
    /// by queued items, items handed to woken getters and slots reserved for
    /// woken putters. Never true for an unbounded queue.
    bool full() const noexcept { return maxsize_ > 0 && items_.size() + in_flight_ + reserved_ >= maxsize_; }

    /// The awaiter of put(). It refers to the caller's argument (a temporary
    /// of the co_await expression lives until the await completes) and only
    /// consumes it when the item actually goes into the queue: a put() that
    /// raises (CancelledError, QueueShutDown) leaves the argument untouched,
    /// so a moved-in item is still the caller's. Await it directly.
    template <class Arg>
    class [[nodiscard]] PutAwaiter final : public Waiter {
    public:
        PutAwaiter(BasicQueue& q, Arg&& item) noexcept : q_(&q), item_(std::addressof(item)) {}
        PutAwaiter(PutAwaiter&& o) noexcept : Waiter(std::move(o)), q_(o.q_), item_(o.item_) {}

        bool await_ready() {
            q_->binding_.check("aio::Queue::put");
            if (q_->shutdown_) throw QueueShutDown();
            if (!q_->full()) {
                q_->do_put(T(static_cast<Arg&&>(*item_)));
                return true;
            }
            q_->binding_.check_wait("aio::Queue");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(q_->putters_, h, at);
        }
        void await_resume() {
            if (!suspended()) return;
            switch (status_) {
                case WaitStatus::woken:  // a slot is reserved for this put
                    try {
                        resume_here();  // raises if cancelled after the wake-up
                    } catch (...) {
                        q_->unreserve();
                        throw;
                    }
                    q_->unreserve_for_put();
                    if (q_->shutdown_) throw QueueShutDown();
                    q_->do_put(T(static_cast<Arg&&>(*item_)));
                    return;
                case WaitStatus::aborted:
                    resume_here();
                    throw QueueShutDown();
                default:
                    resume_checked();  // cancelled while waiting
                    return;
            }
        }

    private:
        BasicQueue* q_;
        std::remove_reference_t<Arg>* item_;
    };

    class [[nodiscard]] GetAwaiter final : public Waiter {
    public:
        explicit GetAwaiter(BasicQueue& q) noexcept : q_(&q) {}
        GetAwaiter(GetAwaiter&& o) noexcept : Waiter(std::move(o)), q_(o.q_) {}

        bool await_ready() {
            q_->binding_.check("aio::Queue::get");
            if (!q_->items_.empty()) {
                slot_.emplace(q_->items_.pop());
                q_->admit_putters();
                return true;
            }
            if (q_->shutdown_) throw QueueShutDown();
            q_->binding_.check_wait("aio::Queue");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(q_->getters_, h, at);
        }
        T await_resume() {
            if (suspended()) {
                switch (status_) {
                    case WaitStatus::woken:  // put() handed us an item
                        try {
                            resume_here();  // raises if cancelled after the hand-off
                        } catch (...) {
                            q_->give_back(std::move(*slot_));
                            throw;
                        }
                        --q_->in_flight_;
                        q_->admit_putters();
                        break;
                    case WaitStatus::aborted:
                        resume_here();
                        throw QueueShutDown();
                    default:
                        resume_checked();  // cancelled while waiting: raises
                        break;
                }
            }
            return T(Storage::value(*slot_));
        }

    private:
        friend class BasicQueue;
        BasicQueue* q_;
        std::optional<entry_type> slot_;
    };

    class [[nodiscard]] JoinAwaiter final : public Waiter {
    public:
        explicit JoinAwaiter(BasicQueue& q) noexcept : q_(&q) {}
        JoinAwaiter(JoinAwaiter&& o) noexcept : Waiter(std::move(o)), q_(o.q_) {}

        bool await_ready() {
            q_->binding_.check("aio::Queue::join");
            if (q_->unfinished_ == 0) return true;
            q_->binding_.check_wait("aio::Queue");
            return false;
        }
        void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
            park(q_->joiners_, h, at);
        }
        void await_resume() {
            if (suspended()) resume_checked();
        }

    private:
        BasicQueue* q_;
    };

    /// `co_await q.put(item);` waits while the queue is full, then puts
    /// (moving from an rvalue, copying an lvalue). QueueShutDown after
    /// shutdown(). If it raises, `item` was not consumed.
    template <class U = T>
        requires std::constructible_from<T, U&&>
    PutAwaiter<U&&> put(U&& item) noexcept {
        return PutAwaiter<U&&>(*this, std::forward<U>(item));
    }

    /// Puts without waiting: QueueFull when full, QueueShutDown after shutdown().
    template <class U = T>
        requires std::constructible_from<T, U&&>
    void put_nowait(U&& item) {
        binding_.check("aio::Queue::put_nowait");
        if (shutdown_) throw QueueShutDown();
        if (full()) throw QueueFull();
        do_put(T(std::forward<U>(item)));
    }

    /// `T item = co_await q.get();` waits while the queue is empty. After
    /// shutdown(), QueueShutDown once the queue is empty.
    GetAwaiter get() noexcept { return GetAwaiter(*this); }

    /// Takes an item without waiting: QueueEmpty when empty (QueueShutDown
    /// when empty and shut down).
    T get_nowait() {
        binding_.check("aio::Queue::get_nowait");
        if (items_.empty()) {
            if (shutdown_) throw QueueShutDown();
            throw QueueEmpty();
        }
        entry_type e = items_.pop();
        admit_putters();
        return T(Storage::value(e));
    }

    /// A consumer finished with an item it got. std::invalid_argument if
    /// called more times than items were put.
    void task_done() {
        binding_.check("aio::Queue::task_done");
        if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
        if (--unfinished_ == 0) joiners_.wake_all();
    }

    /// `co_await q.join();` waits until every item put has been task_done().
    JoinAwaiter join() noexcept { return JoinAwaiter(*this); }

    /// Python 3.13's Queue.shutdown(); see the header comment.
    void shutdown(bool immediate = false) {
        binding_.check("aio::Queue::shutdown");
        shutdown_ = true;
        if (immediate) {
            drained_ = true;
            const std::size_t dropped = items_.size();
            items_.clear();
            unfinished_ -= std::min(dropped, unfinished_);
            if (unfinished_ == 0) joiners_.wake_all();
        }
        getters_.wake_all(WaitStatus::aborted);
        putters_.wake_all(WaitStatus::aborted);
    }
    bool is_shutdown() const noexcept { return shutdown_; }

    /// Items put and not yet task_done().
    std::size_t unfinished_tasks() const noexcept { return unfinished_; }
    /// Tasks suspended in get() / put() / join().
    std::size_t num_getters() const noexcept { return getters_.size(); }
    std::size_t num_putters() const noexcept { return putters_.size(); }
    std::size_t num_joiners() const noexcept { return joiners_.size(); }

protected:
    /// `storage_args` construct the storage (a PriorityQueue's comparator).
    template <class... StorageArgs>
    explicit BasicQueue(std::size_t maxsize, StorageArgs&&... storage_args)
        : items_(std::forward<StorageArgs>(storage_args)...), maxsize_(maxsize) {}
    ~BasicQueue() = default;

private:
    /// Hands the item to the longest-waiting getter, or queues it.
    void do_put(T&& item) {
        if (Waiter* w = getters_.front()) {
            auto* getter = static_cast<GetAwaiter*>(w);
            getter->slot_.emplace(items_.make_entry(std::move(item)));
            getters_.pop_front();
            ++in_flight_;
            ++unfinished_;
            getter->wake();
        } else {
            items_.push(items_.make_entry(std::move(item)));
            ++unfinished_;
        }
    }

    /// Wakes waiting putters while slots are free, reserving one for each.
    void admit_putters() {
        while (!putters_.empty() && !full()) {
            ++reserved_;
            putters_.wake_one();
        }
    }

    /// A woken putter gives its reserved slot up (cancelled): next putter.
    void unreserve() {
        --reserved_;
        admit_putters();
    }
    /// A woken putter is about to use its reserved slot.
    void unreserve_for_put() noexcept { --reserved_; }

    /// A getter cancelled after the hand-off returns its item.
    void give_back(entry_type&& e) {
        --in_flight_;
        if (drained_) {  // shut down immediately meanwhile: dropped as if drained
            if (unfinished_ > 0 && --unfinished_ == 0) joiners_.wake_all();
            return;
        }
        items_.push_returned(std::move(e));
        // Getters only wait on an empty queue: serve the next one in line.
        while (!items_.empty()) {
            Waiter* w = getters_.front();
            if (!w) break;
            auto* getter = static_cast<GetAwaiter*>(w);
            getter->slot_.emplace(items_.pop());
            getters_.pop_front();
            ++in_flight_;
            getter->wake();
        }
    }

    Storage items_;
    std::size_t maxsize_;
    std::size_t in_flight_ = 0;   // items handed to woken getters that have not run yet
    std::size_t reserved_ = 0;    // slots reserved for woken putters that have not run yet
    std::size_t unfinished_ = 0;  // put and not yet task_done()
    detail::WaiterQueue getters_;
    detail::WaiterQueue putters_;
    detail::WaiterQueue joiners_;
    detail::LoopBinding binding_;
    bool shutdown_ = false;
    bool drained_ = false;  // shutdown(immediate = true) happened
};

}  // namespace detail

/// First in, first out (asyncio.Queue).
template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoStorage<T>> {
public:
    /// maxsize 0: unbounded.
    explicit Queue(std::size_t maxsize = 0) noexcept : detail::BasicQueue<T, detail::FifoStorage<T>>(maxsize) {}
};

/// Last in, first out (asyncio.LifoQueue).
template <class T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoStorage<T>> {
public:
    explicit LifoQueue(std::size_t maxsize = 0) noexcept : detail::BasicQueue<T, detail::LifoStorage<T>>(maxsize) {}
};

/// Lowest first (asyncio.PriorityQueue): get() returns the item `a` for which
/// no queued `b` has compare(b, a); equal items in the order they were put.
/// Note the direction: with the default std::less the smallest comes first,
/// as in Python and unlike std::priority_queue.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::PriorityStorage<T, Compare>> {
    using Base = detail::BasicQueue<T, detail::PriorityStorage<T, Compare>>;

public:
    explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
        : Base(maxsize, std::move(compare)) {}
};

}  // namespace aio
