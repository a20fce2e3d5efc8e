// adk/schema.hpp — JSON Schema derived from C++ types, and the checked
// conversions JSON -> T (tool arguments) and T -> JSON (tool results).
//
//   enum class Unit { celsius, fahrenheit };
//   BOOST_DESCRIBE_ENUM(Unit, celsius, fahrenheit)
//   struct WeatherQuery {
//       std::string city;
//       std::optional<Unit> unit;          // optional: not required
//       std::vector<std::string> extras;   // required (may be [])
//   };
//   BOOST_DESCRIBE_STRUCT(WeatherQuery, (), (city, unit, extras))
//   template <> struct adk::field_descriptions<WeatherQuery> {
//       static constexpr adk::FieldDescription fields[] = {{"city", "The city, e.g. Paris"}};
//   };
//
//   adk::json_schema<WeatherQuery>()
//     == {"type":"object",
//         "properties":{"city":{"type":"string","description":"The city, e.g. Paris"},
//                       "unit":{"type":"string","enum":["celsius","fahrenheit"],"nullable":true},
//                       "extras":{"type":"array","items":{"type":"string"}}},
//         "required":["city","extras"]}
//   WeatherQuery q = adk::json_decode<WeatherQuery>(args);   // JsonDecodeError on a mismatch
//   adk::Json j = adk::json_encode(q);
//
// The mapping (docs/tools.md has the table):
//   std::string -> string;  bool -> boolean;  integral -> integer (unsigned:
//   "minimum": 0);  floating point -> number;  enum described with
//   BOOST_DESCRIBE_ENUM -> string with "enum" of the enumerator names;
//   std::vector<T> -> array with "items";  std::optional<T> -> T's schema
//   with "nullable": true, and the member is not required;
//   std::map<std::string, T> / std::unordered_map -> object with
//   "additionalProperties";  adk::Json -> {} (any value);  a struct or class
//   described with BOOST_DESCRIBE_STRUCT / BOOST_DESCRIBE_CLASS (public
//   members, bases included) -> object with "properties" and "required" (the
//   members that are not std::optional).
// Any other type: specialize adk::json_schema_traits<T> (its schema) and give
// it nlohmann's to_json/from_json (its conversions).
//
// Decoding is strict where the model can be wrong (a type mismatch, a
// missing member, an out-of-range integer, an unknown enum name: a
// JsonDecodeError naming the path, e.g. `stops[2].city`) and lenient where
// JSON is: unknown members are ignored, 3.0 is the integer 3, null is an
// absent optional.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

// Boost.Describe (header-only, Debian's libboost-dev): the BOOST_DESCRIBE_*
// macros users describe their types with come with this header.
#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include "adk/content.hpp"

namespace adk {

/// Customization point for a type the mapping does not know: specialize
/// with `static Json schema();` (conversions then go through nlohmann's
/// to_json / from_json of the type).
template <class T>
struct json_schema_traits {};

/// One member's description, shown to the model in the schema.
struct FieldDescription {
    const char* name;
    const char* description;
};

/// Descriptions of a described struct's members, for its schema. Specialize:
///   template <> struct adk::field_descriptions<WeatherQuery> {
///       static constexpr const char* description = "A weather query";   // optional
///       static constexpr adk::FieldDescription fields[] = {{"city", "The city"}};
///   };
/// A name that is not a member makes json_schema<T>() throw std::logic_error.
template <class T>
struct field_descriptions {};

/// A JSON value did not fit the C++ type. path() is where, in the form
/// `a.b[2].c` (empty: the value itself).
class JsonDecodeError : public std::invalid_argument {
public:
    JsonDecodeError(std::string path, const std::string& problem);
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

namespace detail {

template <class T>
inline constexpr bool dependent_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool is_optional_v = is_optional<T>::value;

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};

template <class T>
concept has_schema_traits = requires {
    { json_schema_traits<T>::schema() } -> std::convertible_to<Json>;
};

template <class T>
concept described_enum = std::is_enum_v<T> && boost::describe::has_describe_enumerators<T>::value;

template <class T>
concept described_struct = std::is_class_v<T> && !std::is_union_v<T> &&
                           boost::describe::has_describe_members<T>::value;

template <class T>
concept has_field_descriptions = requires {
    { field_descriptions<T>::fields[0].name } -> std::convertible_to<const char*>;
};

template <class T>
concept has_type_description = requires {
    { field_descriptions<T>::description } -> std::convertible_to<const char*>;
};

template <class T>
using described_members =
    boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;

/// Where a value sits in the document being decoded; formatted only for an error.
struct JsonPath {
    const JsonPath* parent = nullptr;
    std::string_view key;  // a member name, or empty for an array index
    std::size_t index = 0;
    bool is_index = false;

    JsonPath member(std::string_view name) const noexcept { return JsonPath{this, name, 0, false}; }
    JsonPath element(std::size_t i) const noexcept { return JsonPath{this, {}, i, true}; }
    std::string str() const;
    bool root() const noexcept { return parent == nullptr && key.empty() && !is_index; }
};

[[noreturn]] void throw_mismatch(const JsonPath& path, const char* expected, const Json& got);
[[noreturn]] void throw_decode(const JsonPath& path, const std::string& problem);
void check_field_descriptions(const Json& properties, const char* const* names, std::size_t count,
                              const std::string& type_name);
/// Guards the schema of a recursive type (which JSON Schema without $ref
/// cannot express): std::logic_error on re-entry.
class RecursionGuard {
public:
    RecursionGuard(bool& flag, const std::string& type_name);
    ~RecursionGuard() { *flag_ = false; }
    RecursionGuard(const RecursionGuard&) = delete;
    RecursionGuard& operator=(const RecursionGuard&) = delete;

private:
    bool* flag_;
};

/// The readable name of a type (demangled), for error messages.
std::string demangle(const char* mangled);
template <class T>
std::string type_name_of() {
    return demangle(typeid(T).name());
}

}  // namespace detail

/// The JSON Schema of T (see the header comment for the mapping).
template <class T>
Json json_schema();

/// T from JSON; JsonDecodeError naming the path on a mismatch.
template <class T>
T json_decode(const Json& j);

/// T as JSON (std::optional members that are empty are omitted).
template <class T>
Json json_encode(const T& value);

namespace detail {

template <class T>
T decode_at(const Json& j, const JsonPath& path);

template <class T>
Json schema_of() {
    using U = std::remove_cv_t<T>;
    if constexpr (has_schema_traits<U>) {
        return json_schema_traits<U>::schema();
    } else if constexpr (std::is_same_v<U, Json>) {
        return Json::object();
    } else if constexpr (std::is_same_v<U, std::string>) {
        return Json{{"type", "string"}};
    } else if constexpr (std::is_same_v<U, bool>) {
        return Json{{"type", "boolean"}};
    } else if constexpr (std::is_integral_v<U>) {
        static_assert(!std::is_same_v<U, char> && !std::is_same_v<U, wchar_t> && !std::is_same_v<U, char8_t> &&
                          !std::is_same_v<U, char16_t> && !std::is_same_v<U, char32_t>,
                      "adk::json_schema: character types are ambiguous; use std::string or an integer type");
        if constexpr (std::is_unsigned_v<U>) return Json{{"type", "integer"}, {"minimum", 0}};
        else return Json{{"type", "integer"}};
    } else if constexpr (std::is_floating_point_v<U>) {
        return Json{{"type", "number"}};
    } else if constexpr (described_enum<U>) {
        Json names = Json::array();
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<U>>(
            [&](auto e) { names.push_back(e.name); });
        return Json{{"type", "string"}, {"enum", std::move(names)}};
    } else if constexpr (std::is_enum_v<U>) {
        static_assert(dependent_false<U>, "adk::json_schema: describe the enum with BOOST_DESCRIBE_ENUM");
    } else if constexpr (is_optional_v<U>) {
        Json s = schema_of<typename U::value_type>();
        s["nullable"] = true;
        return s;
    } else if constexpr (is_vector<U>::value) {
        return Json{{"type", "array"}, {"items", schema_of<typename U::value_type>()}};
    } else if constexpr (is_string_map<U>::value) {
        return Json{{"type", "object"}, {"additionalProperties", schema_of<typename U::mapped_type>()}};
    } else if constexpr (described_struct<U>) {
        static thread_local bool in_progress = false;
        RecursionGuard guard(in_progress, type_name_of<U>());
        Json properties = Json::object();
        Json required = Json::array();
        boost::mp11::mp_for_each<described_members<U>>([&](auto d) {
            using M = std::remove_cvref_t<decltype(std::declval<U&>().*d.pointer)>;
            properties[d.name] = schema_of<M>();
            if constexpr (!is_optional_v<M>) required.push_back(d.name);
        });
        Json s{{"type", "object"}, {"properties", std::move(properties)}};
        if constexpr (has_field_descriptions<U>) {
            constexpr std::size_t n = std::extent_v<decltype(field_descriptions<U>::fields)>;
            const char* names[n];
            for (std::size_t i = 0; i < n; ++i) names[i] = field_descriptions<U>::fields[i].name;
            check_field_descriptions(s["properties"], names, n, type_name_of<U>());
            for (const FieldDescription& f : field_descriptions<U>::fields)
                s["properties"][f.name]["description"] = f.description;
        }
        if constexpr (has_type_description<U>) s["description"] = field_descriptions<U>::description;
        if (!required.empty()) s["required"] = std::move(required);
        return s;
    } else {
        static_assert(dependent_false<U>,
                      "adk::json_schema: no JSON Schema for this type. Describe it (BOOST_DESCRIBE_STRUCT / "
                      "BOOST_DESCRIBE_ENUM) or specialize adk::json_schema_traits<T>");
    }
}

template <class I>
I decode_integer(const Json& j, const JsonPath& path) {
    if (j.is_number_unsigned()) {
        auto v = j.get<std::uint64_t>();
        if (!std::in_range<I>(v)) throw_mismatch(path, "an integer in range", j);
        return static_cast<I>(v);
    }
    if (j.is_number_integer()) {
        auto v = j.get<std::int64_t>();
        if (!std::in_range<I>(v)) throw_mismatch(path, "an integer in range", j);
        return static_cast<I>(v);
    }
    if (j.is_number_float()) {
        double d = j.get<double>();
        // Integral and inside [-2^63, 2^63): representable as int64 exactly.
        if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d >= -9223372036854775808.0 &&
            d < 9223372036854775808.0) {
            auto v = static_cast<std::int64_t>(d);
            if (!std::in_range<I>(v)) throw_mismatch(path, "an integer in range", j);
            return static_cast<I>(v);
        }
    }
    throw_mismatch(path, "an integer", j);
}

template <class E>
E decode_enum(const Json& j, const JsonPath& path) {
    if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        std::optional<E> found;
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto e) {
            if (!found && s == e.name) found = e.value;
        });
        if (found) return *found;
    }
    std::string names;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto e) {
        names += names.empty() ? "" : ", ";
        names += Json(e.name).dump();
    });
    throw_mismatch(path, ("one of [" + names + "]").c_str(), j);
}

template <class T>
T decode_at(const Json& j, const JsonPath& path) {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, Json>) {
        return j;
    } else if constexpr (described_struct<U> && !has_schema_traits<U>) {
        if (!j.is_object()) throw_mismatch(path, "an object", j);
        U out{};
        boost::mp11::mp_for_each<described_members<U>>([&](auto d) {
            using M = std::remove_cvref_t<decltype(out.*d.pointer)>;
            JsonPath at = path.member(d.name);
            auto it = j.find(d.name);
            if (it == j.end() || (is_optional_v<M> && it->is_null())) {
                if constexpr (is_optional_v<M>) out.*d.pointer = std::nullopt;
                else throw_decode(at, "is required but missing");
            } else {
                out.*d.pointer = decode_at<M>(*it, at);
            }
        });
        return out;
    } else if constexpr (has_schema_traits<U> || !(std::is_arithmetic_v<U> || std::is_same_v<U, std::string> ||
                                                   std::is_enum_v<U> || is_optional_v<U> || is_vector<U>::value ||
                                                   is_string_map<U>::value)) {
        try {
            return j.get<U>();
        } catch (const Json::exception& e) {
            throw_decode(path, e.what());
        }
    } else if constexpr (std::is_same_v<U, std::string>) {
        if (!j.is_string()) throw_mismatch(path, "a string", j);
        return j.get<std::string>();
    } else if constexpr (std::is_same_v<U, bool>) {
        if (!j.is_boolean()) throw_mismatch(path, "a boolean", j);
        return j.get<bool>();
    } else if constexpr (std::is_integral_v<U>) {
        return decode_integer<U>(j, path);
    } else if constexpr (std::is_floating_point_v<U>) {
        if (!j.is_number()) throw_mismatch(path, "a number", j);
        return j.get<U>();
    } else if constexpr (described_enum<U>) {
        return decode_enum<U>(j, path);
    } else if constexpr (std::is_enum_v<U>) {
        static_assert(dependent_false<U>, "adk::json_decode: describe the enum with BOOST_DESCRIBE_ENUM");
    } else if constexpr (is_optional_v<U>) {
        if (j.is_null()) return std::nullopt;
        return U(decode_at<typename U::value_type>(j, path));
    } else if constexpr (is_vector<U>::value) {
        if (!j.is_array()) throw_mismatch(path, "an array", j);
        U out;
        out.reserve(j.size());
        for (std::size_t i = 0; i < j.size(); ++i)
            out.push_back(decode_at<typename U::value_type>(j[i], path.element(i)));
        return out;
    } else if constexpr (is_string_map<U>::value) {
        if (!j.is_object()) throw_mismatch(path, "an object", j);
        U out;
        for (auto it = j.begin(); it != j.end(); ++it)
            out.emplace(it.key(), decode_at<typename U::mapped_type>(it.value(), path.member(it.key())));
        return out;
    }
}

template <class T>
Json encode(const T& v) {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_same_v<U, Json>) {
        return v;
    } else if constexpr (described_struct<U> && !has_schema_traits<U>) {
        Json out = Json::object();
        boost::mp11::mp_for_each<described_members<U>>([&](auto d) {
            using M = std::remove_cvref_t<decltype(v.*d.pointer)>;
            if constexpr (is_optional_v<M>) {
                if (!(v.*d.pointer)) return;
            }
            out[d.name] = encode(v.*d.pointer);
        });
        return out;
    } else if constexpr (described_enum<U>) {
        const char* name = nullptr;
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<U>>([&](auto e) {
            if (!name && v == e.value) name = e.name;
        });
        if (name) return Json(name);
        return Json(static_cast<std::underlying_type_t<U>>(v));
    } else if constexpr (is_optional_v<U>) {
        if (!v) return Json(nullptr);
        return encode(*v);
    } else if constexpr (is_vector<U>::value) {
        Json out = Json::array();
        for (const auto& e : v) out.push_back(encode(e));
        return out;
    } else if constexpr (is_string_map<U>::value) {
        Json out = Json::object();
        for (const auto& [k, e] : v) out[k] = encode(e);
        return out;
    } else if constexpr (std::is_constructible_v<Json, const U&>) {
        return Json(v);
    } else {
        static_assert(dependent_false<U>,
                      "adk::json_encode: no JSON for this type. Describe it (BOOST_DESCRIBE_STRUCT / "
                      "BOOST_DESCRIBE_ENUM) or give it nlohmann's to_json");
    }
}

}  // namespace detail

template <class T>
Json json_schema() {
    return detail::schema_of<std::remove_cvref_t<T>>();
}

template <class T>
T json_decode(const Json& j) {
    return detail::decode_at<std::remove_cvref_t<T>>(j, detail::JsonPath{});
}

template <class T>
Json json_encode(const T& value) {
    return detail::encode<std::remove_cvref_t<T>>(value);
}

}  // namespace adk
