#include "aio/exception_group.hpp"

#include <stdexcept>

namespace aio {

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions) {
    if (exceptions.empty()) throw std::invalid_argument("aio::ExceptionGroup: no exceptions given");
    for (const auto& e : exceptions)
        if (!e) throw std::invalid_argument("aio::ExceptionGroup: null exception_ptr");
    auto state = std::make_shared<State>();
    state->what = message + " (" + std::to_string(exceptions.size()) + " sub-exception" +
                  (exceptions.size() == 1 ? ")" : "s)");
    state->message = std::move(message);
    state->exceptions = std::move(exceptions);
    state_ = std::move(state);
}

std::optional<ExceptionGroup> ExceptionGroup::as_group(const std::exception_ptr& e) noexcept {
    if (!e) return std::nullopt;
    try {
        std::rethrow_exception(e);
    } catch (const ExceptionGroup& g) {
        return g;
    } catch (...) {
        return std::nullopt;
    }
}

void ExceptionGroup::collect_leaves(std::vector<std::exception_ptr>& out) const {
    for (const auto& e : state_->exceptions) {
        if (std::optional<ExceptionGroup> nested = as_group(e))
            nested->collect_leaves(out);
        else
            out.push_back(e);
    }
}

std::vector<std::exception_ptr> ExceptionGroup::leaves() const {
    std::vector<std::exception_ptr> out;
    out.reserve(state_->exceptions.size());
    collect_leaves(out);
    return out;
}

std::optional<ExceptionGroup> ExceptionGroup::derive(std::vector<std::exception_ptr> members) const {
    if (members.empty()) return std::nullopt;
    if (members == state_->exceptions) return *this;
    return ExceptionGroup(state_->message, std::move(members));
}

}  // namespace aio
