// aio/detail/intrusive.hpp — intrusive reference counting and wait lists.
// The loop's hot paths link nodes that live inside coroutine frames and
// awaiters instead of allocating list cells.
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>

namespace aio::detail {

class TaskCore;

/// Owning pointer to an object with add_ref()/release().
template <class T>
class IntrusivePtr {
public:
    IntrusivePtr() noexcept = default;
    /// Adopts a reference the caller already holds.
    static IntrusivePtr adopt(T* p) noexcept {
        IntrusivePtr r;
        r.p_ = p;
        return r;
    }
    explicit IntrusivePtr(T* p) noexcept : p_(p) {
        if (p_) p_->add_ref();
    }
    IntrusivePtr(const IntrusivePtr& o) noexcept : p_(o.p_) {
        if (p_) p_->add_ref();
    }
    IntrusivePtr(IntrusivePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    template <class U>
    IntrusivePtr(IntrusivePtr<U> o) noexcept : p_(o.detach()) {}
    IntrusivePtr& operator=(IntrusivePtr o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~IntrusivePtr() {
        if (p_) p_->release();
    }
    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    T* detach() noexcept { return std::exchange(p_, nullptr); }
    friend bool operator==(const IntrusivePtr& a, const IntrusivePtr& b) noexcept { return a.p_ == b.p_; }

private:
    T* p_ = nullptr;
};

/// A node of a WaitList: something waiting for a future or task to finish.
/// The node is owned by whoever waits (usually an awaiter in a coroutine
/// frame) and unlinks itself if it dies first.
struct WaitNode {
    WaitNode* prev = nullptr;
    WaitNode* next = nullptr;

    /// Called once when the awaited object finishes; the node is already
    /// unlinked and may be destroyed by wake().
    virtual void wake() = 0;

    /// The list dies with the node still linked (a done callback on a future
    /// that never finished): release whatever the node owns.
    virtual void abandon() noexcept {}

    /// The task this node makes wait, if any ("awaited by" in call graphs).
    virtual TaskCore* waiting_task() const noexcept { return nullptr; }

    bool linked() const noexcept { return prev != nullptr; }

protected:
    WaitNode() = default;
    WaitNode(const WaitNode&) = delete;
    WaitNode& operator=(const WaitNode&) = delete;
    ~WaitNode() = default;
};

/// FIFO list of WaitNodes, circular through a sentinel-free head pointer:
/// head->prev is the tail. One pointer of storage.
class WaitList {
public:
    bool empty() const noexcept { return head_ == nullptr; }

    void push_back(WaitNode* n) noexcept {
        assert(!n->linked());
        if (!head_) {
            n->prev = n->next = n;
            head_ = n;
        } else {
            WaitNode* tail = head_->prev;
            n->prev = tail;
            n->next = head_;
            tail->next = n;
            head_->prev = n;
        }
    }

    void remove(WaitNode* n) noexcept {
        assert(n->linked());
        if (n->next == n) {
            head_ = nullptr;
        } else {
            n->prev->next = n->next;
            n->next->prev = n->prev;
            if (head_ == n) head_ = n->next;
        }
        n->prev = n->next = nullptr;
    }

    WaitNode* pop_front() noexcept {
        WaitNode* n = head_;
        if (n) remove(n);
        return n;
    }

    /// Wakes every node in FIFO order. Nodes added while waking are woken too.
    void wake_all() {
        while (WaitNode* n = pop_front()) n->wake();
    }

    WaitNode* front() const noexcept { return head_; }

    /// Calls f(node) for every node in FIFO order; f may not unlink nodes.
    template <class F>
    void for_each(F&& f) const {
        if (WaitNode* n = head_) do {
                f(n);
                n = n->next;
            } while (n != head_);
    }

    bool contains(const WaitNode* target) const noexcept {
        bool found = false;
        for_each([&](const WaitNode* n) { found = found || n == target; });
        return found;
    }

private:
    WaitNode* head_ = nullptr;
};

}  // namespace aio::detail
