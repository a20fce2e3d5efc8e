// adk/boxed.hpp — adk::Boxed<T> and adk::FlatMap<K, V>: compact value types
// for the rarely-set members of Part, LlmResponse, Event and EventActions.
//
// Boxed<T> is std::optional<T> stored on the heap: one pointer (8 bytes)
// whatever T is, null when empty. It keeps value semantics (a copy is a
// deep copy, a move steals the pointer) and optional's interface, so code
// written against std::optional<T> members keeps compiling:
//
//   adk::Part p;
//   if (!p.function_call) p.function_call = adk::FunctionCall{"", "add", {}};
//   std::string name = p.function_call->name;
//   std::optional<adk::FunctionCall> copy = p.function_call;   // converts
//   p.function_call.reset();                                   // or = std::nullopt
//
// Why: an optional<T> member costs sizeof(T) + 8 in every object even when
// empty (an Event held ~600 bytes, a Part ~456, most of it never-set fields);
// a Boxed<T> costs 8 bytes empty and one allocation when set. Use it for
// members that are usually empty; keep std::optional for the common ones.
//
// Differences from std::optional: setting a value allocates (and may throw
// std::bad_alloc); moving leaves the source empty (optional leaves an
// engaged moved-from value); `value()` throws std::bad_optional_access too.
//
// FlatMap<K, V> is a sorted vector of pairs behind one pointer (8 bytes,
// empty: no allocation), with the part of std::map's interface the event
// types need (operator[], at, find, count, contains, erase, iteration in key
// order). Lookups are linear or binary over a few entries: meant for the
// small maps an event carries (artifact_delta), not for large ones.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace adk {

template <class T>
class Boxed;

namespace detail {
template <class X>
inline constexpr bool is_boxed_v = false;
template <class X>
inline constexpr bool is_boxed_v<Boxed<X>> = true;
template <class X>
inline constexpr bool is_std_optional_v = false;
template <class X>
inline constexpr bool is_std_optional_v<std::optional<X>> = true;

/// U is a plain value (not a Boxed, an optional or nullopt).
template <class U>
concept BoxedPlainValue = !is_boxed_v<std::remove_cvref_t<U>> && !is_std_optional_v<std::remove_cvref_t<U>> &&
                          !std::same_as<std::remove_cvref_t<U>, std::nullopt_t> &&
                          !std::same_as<std::remove_cvref_t<U>, std::in_place_t>;
}  // namespace detail

template <class T>
class Boxed {
public:
    using value_type = T;

    constexpr Boxed() noexcept = default;
    constexpr Boxed(std::nullopt_t) noexcept {}
    Boxed(const Boxed& other) : p_(other.p_ ? new T(*other.p_) : nullptr) {}
    Boxed(Boxed&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    /// Engaged with a T made from `value` (implicit when U converts to T).
    template <class U = T>
        requires detail::BoxedPlainValue<U> && std::constructible_from<T, U&&>
    explicit(!std::is_convertible_v<U&&, T>) Boxed(U&& value) : p_(new T(std::forward<U>(value))) {}
    template <class... Args>
        requires std::constructible_from<T, Args&&...>
    explicit Boxed(std::in_place_t, Args&&... args) : p_(new T(std::forward<Args>(args)...)) {}
    template <class U>
        requires std::constructible_from<T, const U&>
    Boxed(const std::optional<U>& other) : p_(other ? new T(*other) : nullptr) {}
    template <class U>
        requires std::constructible_from<T, U&&>
    Boxed(std::optional<U>&& other) : p_(other ? new T(std::move(*other)) : nullptr) {}

    ~Boxed() { delete p_; }

    Boxed& operator=(const Boxed& other) {
        if (this == &other) return *this;
        if (!other.p_) reset();
        else assign(*other.p_);
        return *this;
    }
    Boxed& operator=(Boxed&& other) noexcept {
        if (this != &other) {
            delete p_;
            p_ = std::exchange(other.p_, nullptr);
        }
        return *this;
    }
    Boxed& operator=(std::nullopt_t) noexcept {
        reset();
        return *this;
    }
    template <class U = T>
        requires detail::BoxedPlainValue<U> && std::constructible_from<T, U&&> && std::assignable_from<T&, U&&>
    Boxed& operator=(U&& value) {
        assign(std::forward<U>(value));
        return *this;
    }
    template <class U>
        requires std::constructible_from<T, const U&> && std::assignable_from<T&, const U&>
    Boxed& operator=(const std::optional<U>& other) {
        if (!other) reset();
        else assign(*other);
        return *this;
    }
    template <class U>
        requires std::constructible_from<T, U&&> && std::assignable_from<T&, U&&>
    Boxed& operator=(std::optional<U>&& other) {
        if (!other) reset();
        else assign(std::move(*other));
        return *this;
    }

    /// A std::optional holding a copy (for code that keeps the value aside).
    operator std::optional<T>() const { return p_ ? std::optional<T>(*p_) : std::nullopt; }

    bool has_value() const noexcept { return p_ != nullptr; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

    T& operator*() & noexcept { return *p_; }
    const T& operator*() const& noexcept { return *p_; }
    T&& operator*() && noexcept { return std::move(*p_); }
    T* operator->() noexcept { return p_; }
    const T* operator->() const noexcept { return p_; }

    T& value() & {
        if (!p_) throw std::bad_optional_access();
        return *p_;
    }
    const T& value() const& {
        if (!p_) throw std::bad_optional_access();
        return *p_;
    }
    T&& value() && {
        if (!p_) throw std::bad_optional_access();
        return std::move(*p_);
    }
    template <class U>
    T value_or(U&& fallback) const& {
        return p_ ? *p_ : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    T value_or(U&& fallback) && {
        return p_ ? std::move(*p_) : static_cast<T>(std::forward<U>(fallback));
    }

    /// Replaces the value (or the emptiness) with a T made from `args`.
    template <class... Args>
    T& emplace(Args&&... args) {
        T* fresh = new T(std::forward<Args>(args)...);
        delete p_;
        p_ = fresh;
        return *p_;
    }
    void reset() noexcept {
        delete p_;
        p_ = nullptr;
    }
    void swap(Boxed& other) noexcept { std::swap(p_, other.p_); }
    friend void swap(Boxed& a, Boxed& b) noexcept { a.swap(b); }

    // Comparisons as std::optional's: empty == empty, empty != any value.
    friend bool operator==(const Boxed& a, const Boxed& b) {
        if (!a.p_ || !b.p_) return !a.p_ && !b.p_;
        return *a.p_ == *b.p_;
    }
    friend bool operator==(const Boxed& a, std::nullopt_t) noexcept { return !a.p_; }
    template <class U>
        requires detail::BoxedPlainValue<U> && requires(const T& t, const U& u) {
            { t == u } -> std::convertible_to<bool>;
        }
    friend bool operator==(const Boxed& a, const U& value) {
        return a.p_ && *a.p_ == value;
    }
    template <class U>
        requires requires(const T& t, const U& u) {
            { t == u } -> std::convertible_to<bool>;
        }
    friend bool operator==(const Boxed& a, const std::optional<U>& b) {
        if (!a.p_ || !b) return !a.p_ && !b;
        return *a.p_ == *b;
    }

private:
    template <class U>
    void assign(U&& value) {
        if (p_) *p_ = std::forward<U>(value);
        else p_ = new T(std::forward<U>(value));
    }

    T* p_ = nullptr;
};

/// A small sorted map behind one pointer; see the header comment.
template <class K, class V>
class FlatMap {
public:
    using key_type = K;
    using mapped_type = V;
    using value_type = std::pair<K, V>;
    using storage = std::vector<value_type>;
    using iterator = typename storage::iterator;
    using const_iterator = typename storage::const_iterator;
    using size_type = std::size_t;

    FlatMap() noexcept = default;
    FlatMap(std::initializer_list<value_type> init) {
        for (const value_type& kv : init) (*this)[kv.first] = kv.second;
    }

    bool empty() const noexcept { return !items_ || items_->empty(); }
    size_type size() const noexcept { return items_ ? items_->size() : 0; }
    void clear() noexcept { items_.reset(); }

    iterator begin() noexcept { return items_ ? items_->begin() : iterator(); }
    iterator end() noexcept { return items_ ? items_->end() : iterator(); }
    const_iterator begin() const noexcept { return items_ ? items_->cbegin() : const_iterator(); }
    const_iterator end() const noexcept { return items_ ? items_->cend() : const_iterator(); }
    const_iterator cbegin() const noexcept { return begin(); }
    const_iterator cend() const noexcept { return end(); }

    template <class Key>
    iterator find(const Key& key) {
        if (!items_) return end();
        auto it = lower(*items_, key);
        return it != items_->end() && !(key < it->first) ? it : end();
    }
    template <class Key>
    const_iterator find(const Key& key) const {
        if (!items_) return end();
        auto it = lower(*items_, key);
        return it != items_->cend() && !(key < it->first) ? const_iterator(it) : end();
    }
    template <class Key>
    size_type count(const Key& key) const {
        return find(key) != end() ? 1 : 0;
    }
    template <class Key>
    bool contains(const Key& key) const {
        return find(key) != end();
    }
    /// std::out_of_range if `key` is absent.
    template <class Key>
    V& at(const Key& key) {
        auto it = find(key);
        if (it == end()) throw std::out_of_range("adk::FlatMap::at: no such key");
        return it->second;
    }
    template <class Key>
    const V& at(const Key& key) const {
        auto it = find(key);
        if (it == end()) throw std::out_of_range("adk::FlatMap::at: no such key");
        return it->second;
    }
    /// The value under `key`, inserted value-initialised if absent.
    V& operator[](const K& key) {
        if (!items_) items_.emplace();
        auto it = lower(*items_, key);
        if (it == items_->end() || key < it->first) it = items_->emplace(it, key, V{});
        return it->second;
    }
    template <class Key>
    size_type erase(const Key& key) {
        auto it = find(key);
        if (it == end()) return 0;
        items_->erase(it);
        if (items_->empty()) items_.reset();
        return 1;
    }

    friend bool operator==(const FlatMap& a, const FlatMap& b) {
        if (a.empty() || b.empty()) return a.empty() && b.empty();
        return *a.items_ == *b.items_;
    }

private:
    template <class Vec, class Key>
    static auto lower(Vec& v, const Key& key) {
        return std::lower_bound(v.begin(), v.end(), key,
                                [](const value_type& kv, const Key& k) { return kv.first < k; });
    }

    Boxed<storage> items_;
};

}  // namespace adk
