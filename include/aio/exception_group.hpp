// aio/exception_group.hpp — aio::ExceptionGroup, Python's ExceptionGroup and
// the C++ spelling of `except*`.
//
// A TaskGroup whose children fail raises one ExceptionGroup holding every
// failure (std::exception_ptr each, in the order they happened). A failure
// that is itself a group (a nested TaskGroup) stays nested, as in Python:
// exceptions() shows it as one element. split<E>() and subgroup<E>() look
// through nested groups at the leaf exceptions and keep the nesting of what
// they return; leaves() flattens everything into one list.
//
//   try {
//       co_await aio::task_group(body);
//   } catch (const aio::ExceptionGroup& eg) {
//       auto [value_errors, rest] = eg.split<std::invalid_argument>();  // except* ValueError
//       if (value_errors)
//           for (const auto& e : value_errors->leaves()) report(e);
//       if (rest) throw *rest;                                          // not handled: re-raise
//   }
//
// Type tests rethrow each exception_ptr and catch it as `const E&`, so E
// matches derived types too, exactly as isinstance() does. E may be any
// type, including aio::CancelledError (which is not a std::exception).
// A group never contains zero exceptions.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/errors.hpp"

namespace aio {

class ExceptionGroup : public std::exception {
public:
    /// `exceptions` must not be empty nor contain a null exception_ptr
    /// (std::invalid_argument otherwise).
    ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions);

    /// "message (N sub-exceptions)", as str() of a Python group.
    const char* what() const noexcept override { return state_->what.c_str(); }
    /// The message given at construction.
    const std::string& message() const noexcept { return state_->message; }
    /// The direct members; a nested group is one element.
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return state_->exceptions; }
    std::size_t size() const noexcept { return state_->exceptions.size(); }

    /// Every leaf exception, nested groups flattened, depth first.
    std::vector<std::exception_ptr> leaves() const;

    /// (match, rest): the exceptions that are (or derive from) E, and the
    /// others. Nested groups are searched and their structure kept; an empty
    /// side is nullopt. If the group itself is an E, the whole group matches.
    template <class E>
    std::pair<std::optional<ExceptionGroup>, std::optional<ExceptionGroup>> split() const {
        if constexpr (std::is_base_of_v<E, ExceptionGroup>)
            return {*this, std::nullopt};
        else
            return split_if([](const std::exception_ptr& e) { return matches<E>(e); });
    }
    /// The part of split<E>() that matches, or nullopt.
    template <class E>
    std::optional<ExceptionGroup> subgroup() const {
        return split<E>().first;
    }
    /// Whether any leaf is an E (cheaper than subgroup<E>().has_value()).
    template <class E>
    bool contains() const {
        if constexpr (std::is_base_of_v<E, ExceptionGroup>) return true;
        for (const auto& e : leaves())
            if (matches<E>(e)) return true;
        return false;
    }

    /// split() with a predicate on leaf exceptions (Python's split(callable)).
    template <class Pred>
    std::pair<std::optional<ExceptionGroup>, std::optional<ExceptionGroup>> split_if(Pred pred) const {
        std::vector<std::exception_ptr> match, rest;
        for (const auto& e : state_->exceptions) {
            if (std::optional<ExceptionGroup> nested = as_group(e)) {
                auto [m, r] = nested->split_if(pred);
                if (m) match.push_back(m->same_as(*nested) ? e : std::make_exception_ptr(std::move(*m)));
                if (r) rest.push_back(r->same_as(*nested) ? e : std::make_exception_ptr(std::move(*r)));
            } else if (pred(e)) {
                match.push_back(e);
            } else {
                rest.push_back(e);
            }
        }
        return {derive(std::move(match)), derive(std::move(rest))};
    }
    template <class Pred>
    std::optional<ExceptionGroup> subgroup_if(Pred pred) const {
        return split_if(std::move(pred)).first;
    }

    /// Whether `e` holds an E (or a type derived from it).
    template <class E>
    static bool matches(const std::exception_ptr& e) noexcept {
        return detail::holds_exception<E>(e);
    }
    /// The group held by `e` (a cheap copy sharing its state), or nullopt if
    /// `e` is not an ExceptionGroup.
    static std::optional<ExceptionGroup> as_group(const std::exception_ptr& e) noexcept;

private:
    struct State {
        std::string message;
        std::vector<std::exception_ptr> exceptions;
        std::string what;
    };
    /// A group with this message and `members`, or nullopt when empty. When
    /// `members` are exactly this group's, returns this group (Python keeps
    /// the identity of an unsplit group).
    std::optional<ExceptionGroup> derive(std::vector<std::exception_ptr> members) const;
    bool same_as(const ExceptionGroup& other) const noexcept { return state_ == other.state_; }
    void collect_leaves(std::vector<std::exception_ptr>& out) const;

    // Shared, so copies (exceptions are copied when thrown and caught by
    // value) stay cheap and noexcept.
    std::shared_ptr<const State> state_;
};

}  // namespace aio
