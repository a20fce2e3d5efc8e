// adk/event_list.hpp — adk::EventList: a session's history, shared by its
// copies instead of copied.
//
// A session is a value (get_session hands out a copy, adk/session.hpp), and
// an invocation reads the whole history of its copy. With a std::vector of
// events every copy copied every event — half of the API server's CPU under
// load. An EventList holds each event once, immutable, behind a shared
// pointer; a copy of the list is O(1) and shares them:
//
//   EventList a;  a.push_back(e1);  a.push_back(e2);
//   EventList b = a;              // shares e1 and e2: no event copied
//   b.push_back(e3);              // a still has 2 events, b has 3
//   const Event& last = b.back(); // events are read-only once in a list
//
// It reads like a `const std::vector<Event>`: size, empty, [], at, front,
// back, random-access iteration yielding `const Event&`. To
// change an event, copy it out, change the copy, and build a new list.
//
// How appends stay cheap: the lists made from one another share one
// storage of event pointers and each sees a range of it. Appending to the
// list that ends where the storage ends writes in place; appending the very
// event that already follows a list's range (what a session service does
// when it appends one event to the stored session and to the caller's
// copy) just widens the range; any other append copies the list's pointers
// (not its events) into storage of its own first. References to events stay
// valid for as long as any list holds them, whatever is appended.
//
// Single-threaded like the loop that owns the sessions: reading a list
// reads storage that another list sharing it may grow, so lists that share
// storage belong to one thread. The Event objects themselves are immutable:
// a `const Event&` (or `shared(i)`) may be handed to any thread.
//
// A list narrowed by keep_range (get_session's num_recent_events) keeps the
// storage it views alive, events before its range included.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "adk/event.hpp"

namespace adk {

class EventList {
    struct Storage {
        std::vector<std::shared_ptr<const Event>> items;
    };

public:
    using value_type = Event;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using reference = const Event&;
    using const_reference = const Event&;

    /// Random access over the list's range; stays valid (it holds an index,
    /// not a pointer into the storage) when another list appends.
    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using iterator_concept = std::random_access_iterator_tag;
        using value_type = Event;
        using difference_type = std::ptrdiff_t;
        using pointer = const Event*;
        using reference = const Event&;

        const_iterator() noexcept = default;
        reference operator*() const noexcept { return *storage_->items[index_]; }
        pointer operator->() const noexcept { return storage_->items[index_].get(); }
        reference operator[](difference_type n) const noexcept { return *storage_->items[index_ + n]; }
        const_iterator& operator++() noexcept { return ++index_, *this; }
        const_iterator operator++(int) noexcept { return {storage_, index_++}; }
        const_iterator& operator--() noexcept { return --index_, *this; }
        const_iterator operator--(int) noexcept { return {storage_, index_--}; }
        const_iterator& operator+=(difference_type n) noexcept { return index_ += n, *this; }
        const_iterator& operator-=(difference_type n) noexcept { return index_ -= n, *this; }
        friend const_iterator operator+(const_iterator it, difference_type n) noexcept { return it += n; }
        friend const_iterator operator+(difference_type n, const_iterator it) noexcept { return it += n; }
        friend const_iterator operator-(const_iterator it, difference_type n) noexcept { return it -= n; }
        friend difference_type operator-(const const_iterator& a, const const_iterator& b) noexcept {
            return static_cast<difference_type>(a.index_) - static_cast<difference_type>(b.index_);
        }
        friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
            return a.index_ == b.index_;
        }
        friend auto operator<=>(const const_iterator& a, const const_iterator& b) noexcept {
            return a.index_ <=> b.index_;
        }

    private:
        friend class EventList;
        const_iterator(const Storage* storage, std::size_t index) noexcept : storage_(storage), index_(index) {}
        const Storage* storage_ = nullptr;
        std::size_t index_ = 0;
    };
    using iterator = const_iterator;
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;
    using reverse_iterator = const_reverse_iterator;

    EventList() noexcept = default;
    EventList(const EventList&) = default;
    EventList& operator=(const EventList&) = default;
    /// Leaves `other` empty, as a moved-from std::vector.
    EventList(EventList&& other) noexcept
        : storage_(std::move(other.storage_)),
          begin_(std::exchange(other.begin_, 0)),
          end_(std::exchange(other.end_, 0)) {}
    EventList& operator=(EventList&& other) noexcept {
        storage_ = std::move(other.storage_);
        begin_ = std::exchange(other.begin_, 0);
        end_ = std::exchange(other.end_, 0);
        return *this;
    }
    EventList(std::initializer_list<Event> events) { append_copies(events.begin(), events.end(), events.size()); }
    /// Takes the events of `events` (each moved into its own shared node).
    EventList(std::vector<Event> events) {
        storage_ = std::make_shared<Storage>();
        storage_->items.reserve(events.size());
        for (Event& e : events) storage_->items.push_back(std::make_shared<const Event>(std::move(e)));
        end_ = storage_->items.size();
    }

    size_type size() const noexcept { return end_ - begin_; }
    bool empty() const noexcept { return begin_ == end_; }

    const Event& operator[](size_type i) const noexcept { return *storage_->items[begin_ + i]; }
    const Event& at(size_type i) const {
        if (i >= size())
            throw std::out_of_range("EventList::at: index " + std::to_string(i) + " but size " +
                                    std::to_string(size()));
        return (*this)[i];
    }
    const Event& front() const noexcept { return (*this)[0]; }
    const Event& back() const noexcept { return (*this)[size() - 1]; }
    /// The shared node of event `i`: to put the same event in another list
    /// without copying it.
    const std::shared_ptr<const Event>& shared(size_type i) const noexcept { return storage_->items[begin_ + i]; }

    const_iterator begin() const noexcept { return {storage_.get(), begin_}; }
    const_iterator end() const noexcept { return {storage_.get(), end_}; }
    const_iterator cbegin() const noexcept { return begin(); }
    const_iterator cend() const noexcept { return end(); }
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

    void push_back(Event event) { push_back(std::make_shared<const Event>(std::move(event))); }
    void push_back(std::shared_ptr<const Event> event) {
        if (!event) throw std::invalid_argument("EventList::push_back: null event");
        if (storage_ && end_ < storage_->items.size() && storage_->items[end_] == event) {
            ++end_;  // the same event already follows our range: share it
            return;
        }
        if (!storage_ || end_ != storage_->items.size()) detach(grown(size()));
        std::vector<std::shared_ptr<const Event>>& items = storage_->items;
        if (items.size() == items.capacity()) items.reserve(grown(items.size()));
        items.push_back(std::move(event));
        ++end_;
    }
    void clear() noexcept {
        storage_.reset();
        begin_ = end_ = 0;
    }
    /// Keeps only events [first, last) of the list (O(1): the rest stays
    /// shared with the lists that hold it).
    void keep_range(size_type first, size_type last) {
        if (first > last || last > size())
            throw std::out_of_range("EventList::keep_range: [" + std::to_string(first) + ", " + std::to_string(last) +
                                    ") of " + std::to_string(size()));
        end_ = begin_ + last;
        begin_ += first;
        if (empty()) clear();
    }
    /// Copies of the events, as a vector.
    std::vector<Event> to_vector() const { return std::vector<Event>(begin(), end()); }

private:
    /// Histories live long: grow by an eighth (at least 4) rather than
    /// doubling, so a session holds few unused slots.
    static std::size_t grown(std::size_t n) noexcept { return n + std::max<std::size_t>(4, n / 8); }

    template <class It>
    void append_copies(It first, It last, std::size_t n) {
        detach(size() + n);
        for (; first != last; ++first) storage_->items.push_back(std::make_shared<const Event>(*first));
        end_ = storage_->items.size();
    }
    /// Moves our range into storage of our own with room for `capacity`.
    void detach(std::size_t capacity) {
        auto own = std::make_shared<Storage>();
        own->items.reserve(std::max(capacity, size()));
        if (storage_)
            own->items.assign(storage_->items.begin() + static_cast<difference_type>(begin_),
                              storage_->items.begin() + static_cast<difference_type>(end_));
        storage_ = std::move(own);
        begin_ = 0;
        end_ = storage_->items.size();
    }

    std::shared_ptr<Storage> storage_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace adk
