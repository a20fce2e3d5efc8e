// adk/detail/keyed_slots.hpp — a table of per-key slots that exist only
// while someone holds a lease on them. The Runner and the API server use it
// for their per-session turn (one invocation per session at a time): the
// entry for a session is made by the first lease and erased with the last,
// so idle sessions cost nothing.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace adk::detail {

template <class Slot>
class KeyedSlots {
    struct Entry {
        Slot slot{};
        int users = 0;
    };

public:
    /// One use of the slot for `key` (waiting for it or holding it). The
    /// slot lives at least as long as the lease, even if the table drops it.
    class Lease {
    public:
        Lease(KeyedSlots& table, std::string key) : table_(&table), key_(std::move(key)) {
            std::shared_ptr<Entry>& entry = table_->entries_[key_];
            if (!entry) entry = std::make_shared<Entry>();
            entry_ = entry;
            ++entry_->users;
        }
        ~Lease() {
            if (--entry_->users == 0) table_->entries_.erase(key_);
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        Slot& slot() const noexcept { return entry_->slot; }

    private:
        KeyedSlots* table_;
        std::string key_;
        std::shared_ptr<Entry> entry_;
    };

    /// The slot for `key` if someone holds a lease on it, else null.
    Slot* find(const std::string& key) const {
        auto it = entries_.find(key);
        return it == entries_.end() ? nullptr : &it->second->slot;
    }

    /// Calls f(key, slot) for every slot in use.
    template <class F>
    void for_each(F&& f) const {
        for (const auto& [key, entry] : entries_) f(key, entry->slot);
    }

    bool empty() const noexcept { return entries_.empty(); }

private:
    std::map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace adk::detail
