// adk::State (adk/state.hpp).
#include "adk/state.hpp"

namespace adk {

std::optional<Json> State::get(const std::string& key) const {
    if (delta_->is_object()) {
        auto it = delta_->find(key);
        if (it != delta_->end()) return *it;
    }
    if (value_->is_object()) {
        auto it = value_->find(key);
        if (it != value_->end()) return *it;
    }
    return std::nullopt;
}

Json State::get(const std::string& key, Json fallback) const {
    std::optional<Json> v = get(key);
    return v ? std::move(*v) : std::move(fallback);
}

bool State::contains(const std::string& key) const { return get(key).has_value(); }

void State::set(const std::string& key, Json value) {
    if (!delta_->is_object()) *delta_ = Json::object();
    (*delta_)[key] = std::move(value);
}

Json State::to_dict() const {
    Json out = value_->is_object() ? *value_ : Json::object();
    if (delta_->is_object())
        for (auto it = delta_->begin(); it != delta_->end(); ++it) out[it.key()] = it.value();
    return out;
}

}  // namespace adk
