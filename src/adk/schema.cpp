// adk/schema.hpp: the non-template parts (errors, paths).
#include "adk/schema.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace adk {

namespace {

std::string compose(const std::string& path, const std::string& problem) {
    if (path.empty()) return "value " + problem;
    return "`" + path + "` " + problem;
}

std::string short_dump(const Json& j) {
    std::string text = j.dump();
    constexpr std::size_t kMax = 80;
    if (text.size() > kMax) text = text.substr(0, kMax) + "...";
    return text;
}

}  // namespace

JsonDecodeError::JsonDecodeError(std::string path, const std::string& problem)
    : std::invalid_argument(compose(path, problem)), path_(std::move(path)) {}

namespace detail {

std::string JsonPath::str() const {
    std::vector<const JsonPath*> chain;
    for (const JsonPath* p = this; p; p = p->parent) chain.push_back(p);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const JsonPath& p = **it;
        if (p.is_index) {
            out += "[" + std::to_string(p.index) + "]";
        } else if (!p.key.empty()) {
            if (!out.empty()) out += '.';
            out.append(p.key);
        }
    }
    return out;
}

void throw_mismatch(const JsonPath& path, const char* expected, const Json& got) {
    throw JsonDecodeError(path.str(), std::string("must be ") + expected + ", got " + short_dump(got));
}

void throw_decode(const JsonPath& path, const std::string& problem) { throw JsonDecodeError(path.str(), problem); }

void check_field_descriptions(const Json& properties, const char* const* names, std::size_t count,
                              const std::string& type_name) {
    for (std::size_t i = 0; i < count; ++i)
        if (!properties.contains(names[i]))
            throw std::logic_error("adk::field_descriptions<" + type_name + "> names `" + names[i] +
                                   "`, which is not a described member");
}

RecursionGuard::RecursionGuard(bool& flag, const std::string& type_name) : flag_(&flag) {
    if (flag)
        throw std::logic_error("adk::json_schema: " + type_name +
                               " contains itself; recursive types have no JSON Schema without $ref");
    flag = true;
}

std::string demangle(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

}  // namespace detail
}  // namespace adk
