// aio/detail/ready_queue.hpp — the loop's FIFO of runnable work: a growable
// power-of-two ring of pointers. Pushing a task or a callback allocates
// nothing once the ring has grown to the working set.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "aio/detail/runtime.hpp"

namespace aio::detail {

class ReadyQueue {
public:
    ReadyQueue() = default;
    ReadyQueue(const ReadyQueue&) = delete;
    ReadyQueue& operator=(const ReadyQueue&) = delete;
    ~ReadyQueue() { std::free(slots_); }

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push(Runnable* r) {
        if (tail_ - head_ == capacity_) grow();
        slots_[tail_++ & (capacity_ - 1)] = r;
    }
    Runnable* pop() noexcept { return slots_[head_++ & (capacity_ - 1)]; }

private:
    void grow() {
        std::size_t cap = capacity_ ? capacity_ * 2 : 256;
        auto* fresh = static_cast<Runnable**>(std::malloc(cap * sizeof(Runnable*)));
        if (!fresh) throw std::bad_alloc();
        std::size_t n = size();
        for (std::size_t i = 0; i < n; ++i) fresh[i] = slots_[(head_ + i) & (capacity_ - 1)];
        std::free(slots_);
        slots_ = fresh;
        capacity_ = cap;
        head_ = 0;
        tail_ = n;
    }

    Runnable** slots_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;  // monotonically increasing; masked on access
    std::size_t tail_ = 0;
};

/// Min-heap of timers ordered by (deadline, sequence). Four children per node
/// halve the depth of a binary heap; entries carry the deadline so sifting
/// does not chase node pointers. Nodes know their index: removal is O(log n).
class TimerHeap {
public:
    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    TimerNode* top() const noexcept { return entries_.front().node; }
    std::int64_t top_when() const noexcept { return entries_.front().when; }

    void push(TimerNode* node) {
        entries_.push_back({node->when_ns, node});
        sift_up(entries_.size() - 1);
    }

    void remove(TimerNode* node) noexcept {
        std::size_t i = node->heap_index;
        node->heap_index = TimerNode::npos;
        std::size_t last = entries_.size() - 1;
        if (i != last) {
            entries_[i] = entries_[last];
            entries_.pop_back();
            place(i);
        } else {
            entries_.pop_back();
        }
    }

    TimerNode* pop() noexcept {
        TimerNode* n = top();
        remove(n);
        return n;
    }

    template <class F>
    void for_each(F&& f) const {
        for (const Entry& e : entries_) f(e.node);
    }

private:
    struct Entry {
        std::int64_t when;
        TimerNode* node;
    };
    static bool before(const Entry& a, const Entry& b) noexcept {
        return a.when < b.when || (a.when == b.when && a.node->sequence < b.node->sequence);
    }
    void set(std::size_t i, const Entry& e) noexcept {
        entries_[i] = e;
        e.node->heap_index = i;
    }
    void place(std::size_t i) noexcept {
        if (i > 0 && before(entries_[i], entries_[(i - 1) / 4]))
            sift_up(i);
        else
            sift_down(i);
    }
    void sift_up(std::size_t i) noexcept {
        Entry e = entries_[i];
        while (i > 0) {
            std::size_t parent = (i - 1) / 4;
            if (!before(e, entries_[parent])) break;
            set(i, entries_[parent]);
            i = parent;
        }
        set(i, e);
    }
    void sift_down(std::size_t i) noexcept {
        Entry e = entries_[i];
        const std::size_t n = entries_.size();
        for (;;) {
            std::size_t first = 4 * i + 1;
            if (first >= n) break;
            std::size_t best = first;
            std::size_t end = first + 4 < n ? first + 4 : n;
            for (std::size_t c = first + 1; c < end; ++c)
                if (before(entries_[c], entries_[best])) best = c;
            if (!before(entries_[best], e)) break;
            set(i, entries_[best]);
            i = best;
        }
        set(i, e);
    }

    std::vector<Entry> entries_;
};

}  // namespace aio::detail
