// Tests for adk/schema.hpp: JSON Schema from C++ types, json_decode with
// path-naming errors, json_encode.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adk/schema.hpp"

using adk::Json;

namespace demo {

enum class Unit { celsius, fahrenheit };
BOOST_DESCRIBE_ENUM(Unit, celsius, fahrenheit)

enum class Plain { a, b };  // not described: no schema (compile-time error)

struct Stop {
    std::string city;
    std::optional<int> nights;
};
BOOST_DESCRIBE_STRUCT(Stop, (), (city, nights))

struct Trip {
    std::string name;
    std::vector<Stop> stops;
    std::optional<Unit> unit;
    std::map<std::string, double> budget;
    bool refundable = false;
    std::uint8_t travellers = 1;
    Json extra;
};
BOOST_DESCRIBE_STRUCT(Trip, (), (name, stops, unit, budget, refundable, travellers, extra))

struct Base {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(Base, (), (id))
struct Derived : Base {
    int level = 0;
};
BOOST_DESCRIBE_STRUCT(Derived, (Base), (level))

class WithPrivate {
public:
    int shown = 0;
    BOOST_DESCRIBE_CLASS(WithPrivate, (), (shown), (), (hidden))

private:
    int hidden = 0;
};

struct Node {
    std::string label;
    std::vector<Node> children;
};
BOOST_DESCRIBE_STRUCT(Node, (), (label, children))

struct Typo {
    std::string city;
};
BOOST_DESCRIBE_STRUCT(Typo, (), (city))

/// A type with its own JSON (nlohmann) and a schema trait.
struct Money {
    long cents = 0;
};
inline void to_json(Json& j, const Money& m) { j = std::to_string(m.cents / 100) + "." + std::to_string(m.cents % 100); }
inline void from_json(const Json& j, Money& m) {
    std::string s = j.get<std::string>();  // throws type_error on a non-string
    auto dot = s.find('.');
    m.cents = std::stol(s.substr(0, dot)) * 100 + (dot == std::string::npos ? 0 : std::stol(s.substr(dot + 1)));
}
struct Price {
    Money amount;
};
BOOST_DESCRIBE_STRUCT(Price, (), (amount))

}  // namespace demo

template <>
struct adk::field_descriptions<demo::Stop> {
    static constexpr const char* description = "One stop of the trip";
    static constexpr adk::FieldDescription fields[] = {{"city", "The city, e.g. Paris"},
                                                       {"nights", "Nights spent there"}};
};
template <>
struct adk::field_descriptions<demo::Typo> {
    static constexpr adk::FieldDescription fields[] = {{"cty", "misspelt"}};
};
template <>
struct adk::json_schema_traits<demo::Money> {
    static Json schema() { return Json{{"type", "string"}, {"pattern", "^[0-9]+\\.[0-9]{2}$"}}; }
};

TEST(AdkSchema, ScalarsMapToTheirJsonTypes) {
    EXPECT_EQ(adk::json_schema<std::string>(), Json::parse(R"({"type":"string"})"));
    EXPECT_EQ(adk::json_schema<bool>(), Json::parse(R"({"type":"boolean"})"));
    EXPECT_EQ(adk::json_schema<int>(), Json::parse(R"({"type":"integer"})"));
    EXPECT_EQ(adk::json_schema<std::int64_t>(), Json::parse(R"({"type":"integer"})"));
    EXPECT_EQ(adk::json_schema<unsigned>(), Json::parse(R"({"type":"integer","minimum":0})"));
    EXPECT_EQ(adk::json_schema<double>(), Json::parse(R"({"type":"number"})"));
    EXPECT_EQ(adk::json_schema<float>(), Json::parse(R"({"type":"number"})"));
    EXPECT_EQ(adk::json_schema<Json>(), Json::object());
    EXPECT_EQ(adk::json_schema<const std::string&>(), Json::parse(R"({"type":"string"})"));
}

TEST(AdkSchema, ContainersOptionalsAndEnums) {
    EXPECT_EQ(adk::json_schema<demo::Unit>(), Json::parse(R"({"type":"string","enum":["celsius","fahrenheit"]})"));
    EXPECT_EQ(adk::json_schema<std::vector<int>>(), Json::parse(R"({"type":"array","items":{"type":"integer"}})"));
    EXPECT_EQ(adk::json_schema<std::optional<std::string>>(), Json::parse(R"({"type":"string","nullable":true})"));
    EXPECT_EQ((adk::json_schema<std::map<std::string, std::vector<bool>>>()),
              Json::parse(R"({"type":"object","additionalProperties":{"type":"array","items":{"type":"boolean"}}})"));
    EXPECT_EQ((adk::json_schema<std::unordered_map<std::string, double>>()),
              Json::parse(R"({"type":"object","additionalProperties":{"type":"number"}})"));
}

TEST(AdkSchema, DescribedStructIsAnObjectWithRequiredNonOptionalMembers) {
    Json s = adk::json_schema<demo::Trip>();
    EXPECT_EQ(s["type"], "object");
    EXPECT_EQ(s["required"], Json::parse(R"(["name","stops","budget","refundable","travellers","extra"])"));
    EXPECT_EQ(s["properties"]["name"], Json::parse(R"({"type":"string"})"));
    EXPECT_EQ(s["properties"]["unit"],
              Json::parse(R"({"type":"string","enum":["celsius","fahrenheit"],"nullable":true})"));
    EXPECT_EQ(s["properties"]["budget"], Json::parse(R"({"type":"object","additionalProperties":{"type":"number"}})"));
    EXPECT_EQ(s["properties"]["travellers"], Json::parse(R"({"type":"integer","minimum":0})"));
    EXPECT_EQ(s["properties"]["extra"], Json::object());
    // nested struct, with its descriptions
    const Json& stop = s["properties"]["stops"]["items"];
    EXPECT_EQ(stop, Json::parse(R"({"type":"object","description":"One stop of the trip",
        "properties":{"city":{"type":"string","description":"The city, e.g. Paris"},
                      "nights":{"type":"integer","nullable":true,"description":"Nights spent there"}},
        "required":["city"]})"));
}

TEST(AdkSchema, BasesArePartOfTheObjectPrivateMembersAreNot) {
    Json d = adk::json_schema<demo::Derived>();
    EXPECT_TRUE(d["properties"].contains("id"));
    EXPECT_TRUE(d["properties"].contains("level"));
    EXPECT_EQ(d["required"].size(), 2u);
    Json w = adk::json_schema<demo::WithPrivate>();
    EXPECT_EQ(w["properties"], Json::parse(R"({"shown":{"type":"integer"}})"));
}

TEST(AdkSchema, CustomTypesUseTheirTraitsAndNlohmannConversions) {
    Json s = adk::json_schema<demo::Price>();
    EXPECT_EQ(s["properties"]["amount"]["pattern"], "^[0-9]+\\.[0-9]{2}$");
    demo::Price p = adk::json_decode<demo::Price>(Json::parse(R"({"amount":"12.34"})"));
    EXPECT_EQ(p.amount.cents, 1234);
    EXPECT_EQ(adk::json_encode(p), Json::parse(R"({"amount":"12.34"})"));
    try {
        (void)adk::json_decode<demo::Price>(Json::parse(R"({"amount":12})"));
        FAIL() << "no error";
    } catch (const adk::JsonDecodeError& e) {
        EXPECT_EQ(e.path(), "amount");
    }
}

TEST(AdkSchema, MistakesInTheDescriptionAreReportedOnce) {
    EXPECT_THROW(adk::json_schema<demo::Typo>(), std::logic_error);
    try {
        adk::json_schema<demo::Node>();
        FAIL() << "a recursive type has no schema";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("demo::Node"), std::string::npos) << e.what();
    }
    // the guard is released: a second attempt reports the same, not a stale state
    EXPECT_THROW(adk::json_schema<demo::Node>(), std::logic_error);
    EXPECT_EQ(adk::json_schema<demo::Stop>()["type"], "object");
}

TEST(AdkSchema, DecodeFillsEveryMember) {
    Json j = Json::parse(R"({"name":"Tour","stops":[{"city":"Paris","nights":2},{"city":"Rome","nights":null}],
        "unit":"fahrenheit","budget":{"hotel":300.5,"food":100},"refundable":true,"travellers":3.0,
        "extra":{"any":[1,"x"]},"ignored":"unknown members are ignored"})");
    demo::Trip t = adk::json_decode<demo::Trip>(j);
    EXPECT_EQ(t.name, "Tour");
    ASSERT_EQ(t.stops.size(), 2u);
    EXPECT_EQ(t.stops[0].city, "Paris");
    EXPECT_EQ(t.stops[0].nights, 2);
    EXPECT_EQ(t.stops[1].nights, std::nullopt);
    EXPECT_EQ(t.unit, demo::Unit::fahrenheit);
    EXPECT_DOUBLE_EQ(t.budget.at("hotel"), 300.5);
    EXPECT_DOUBLE_EQ(t.budget.at("food"), 100.0);
    EXPECT_TRUE(t.refundable);
    EXPECT_EQ(t.travellers, 3);
    EXPECT_EQ(t.extra, Json::parse(R"({"any":[1,"x"]})"));

    Json back = adk::json_encode(t);
    EXPECT_EQ(back["stops"][1], Json::parse(R"({"city":"Rome"})"));  // empty optional omitted
    EXPECT_EQ(back["unit"], "fahrenheit");
    EXPECT_EQ(back["travellers"], 3);
    EXPECT_FALSE(back.contains("ignored"));
    EXPECT_EQ(adk::json_decode<demo::Trip>(back).stops[0].city, "Paris");  // round trip
    EXPECT_EQ(adk::json_encode(std::optional<int>()), Json(nullptr));
    EXPECT_EQ(adk::json_encode(std::vector<demo::Unit>{demo::Unit::celsius}), Json::parse(R"(["celsius"])"));
}

namespace {

/// The path and message of the JsonDecodeError decoding `text` as T throws.
template <class T>
std::pair<std::string, std::string> decode_error(const char* text) {
    try {
        (void)adk::json_decode<T>(Json::parse(text));
    } catch (const adk::JsonDecodeError& e) {
        return {e.path(), e.what()};
    }
    return {"<no error>", ""};
}

}  // namespace

TEST(AdkSchema, DecodeErrorsNameTheFieldPath) {
    const char* ok = R"({"name":"T","stops":[],"budget":{},"refundable":false,"travellers":1,"extra":null})";
    ASSERT_NO_THROW(adk::json_decode<demo::Trip>(Json::parse(ok)));

    auto [p1, m1] = decode_error<demo::Trip>(
        R"({"name":"T","stops":[{"city":"A"},{"city":5}],"budget":{},"refundable":false,"travellers":1,"extra":1})");
    EXPECT_EQ(p1, "stops[1].city");
    EXPECT_EQ(m1, "`stops[1].city` must be a string, got 5");

    auto [p2, m2] = decode_error<demo::Trip>(R"({"name":"T","stops":[{"nights":1}],"budget":{},"refundable":false,
        "travellers":1,"extra":1})");
    EXPECT_EQ(p2, "stops[0].city");
    EXPECT_EQ(m2, "`stops[0].city` is required but missing");

    auto [p3, m3] = decode_error<demo::Trip>(R"({"name":"T","stops":[],"budget":{"x":"cheap"},"refundable":false,
        "travellers":1,"extra":1})");
    EXPECT_EQ(p3, "budget.x");
    EXPECT_EQ(m3, "`budget.x` must be a number, got \"cheap\"");

    auto [p4, m4] = decode_error<demo::Trip>(R"({"name":"T","stops":[],"budget":{},"refundable":false,
        "travellers":300,"extra":1})");
    EXPECT_EQ(p4, "travellers");
    EXPECT_NE(m4.find("in range"), std::string::npos);

    auto [p5, m5] = decode_error<demo::Trip>(R"({"name":"T","stops":[],"budget":{},"refundable":false,
        "travellers":1,"extra":1,"unit":"kelvin"})");
    EXPECT_EQ(p5, "unit");
    EXPECT_EQ(m5, "`unit` must be one of [\"celsius\", \"fahrenheit\"], got \"kelvin\"");

    auto [p6, m6] = decode_error<demo::Trip>(R"([1,2])");
    EXPECT_EQ(p6, "");
    EXPECT_EQ(m6, "value must be an object, got [1,2]");

    EXPECT_EQ(decode_error<int>("1.5").second, "value must be an integer, got 1.5");
    EXPECT_EQ(decode_error<unsigned>("-1").first, "");
    EXPECT_EQ(decode_error<bool>("1").second, "value must be a boolean, got 1");
    EXPECT_EQ(decode_error<std::vector<int>>("[1,\"2\"]").first, "[1]");
    EXPECT_EQ(decode_error<std::string>("null").second, "value must be a string, got null");
    EXPECT_EQ(adk::json_decode<std::optional<std::string>>(Json()), std::nullopt);
    EXPECT_EQ(adk::json_decode<std::int64_t>(Json(-5)), -5);
    EXPECT_EQ(adk::json_decode<std::uint64_t>(Json(18446744073709551615ull)), 18446744073709551615ull);
}

TEST(AdkSchema, InheritedMembersDecodeAndEncode) {
    demo::Derived d = adk::json_decode<demo::Derived>(Json::parse(R"({"id":"x","level":4})"));
    EXPECT_EQ(d.id, "x");
    EXPECT_EQ(d.level, 4);
    EXPECT_EQ(adk::json_encode(d), Json::parse(R"({"id":"x","level":4})"));
}
