// The demo's function tools (demo/demo_tools.hpp).
#include "demo_tools.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "adk/tool.hpp"
#include "aio/sleep.hpp"

namespace adk_demo {

namespace {

using adk::Json;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trimmed(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n\r");
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(" \t\n\r");
    return s.substr(b, e - b + 1);
}

/// "Lisbon, Portugal" -> "lisbon": the key of the built-in tables.
std::string city_key(const std::string& city) {
    std::string c = lower(trimmed(city));
    if (auto comma = c.find(','); comma != std::string::npos) c = trimmed(c.substr(0, comma));
    return c;
}

/// "May", "may", "5", "2025-05" -> 5; 0 when not a month.
int month_number(const std::string& text) {
    static const std::array<const char*, 12> names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
    std::string m = lower(trimmed(text));
    for (std::size_t i = 0; i < names.size(); ++i)
        if (m.rfind(names[i], 0) == 0) return static_cast<int>(i) + 1;
    std::string digits;
    for (char c : m)
        digits = std::isdigit(static_cast<unsigned char>(c)) ? digits + c : std::string();  // the last number
    if (!digits.empty() && digits.size() <= 2) {
        int n = std::stoi(digits);
        if (n >= 1 && n <= 12) return n;
    }
    return 0;
}

const char* month_name(int month) {
    static const std::array<const char*, 13> names = {"",     "January", "February", "March",     "April",
                                                      "May",  "June",    "July",     "August",    "September",
                                                      "October", "November", "December"};
    return names[static_cast<std::size_t>(month >= 1 && month <= 12 ? month : 0)];
}

/// 0 winter (Dec-Feb), 1 spring, 2 summer, 3 autumn.
int season(int month) { return month == 0 ? 1 : (month % 12) / 3; }

std::string string_arg(const Json& args, const char* key, std::string fallback = {}) {
    if (args.is_object() && args.contains(key) && args[key].is_string()) return args[key].get<std::string>();
    return fallback;
}

long int_arg(const Json& args, const char* key, long fallback) {
    if (!args.is_object() || !args.contains(key)) return fallback;
    const Json& v = args[key];
    if (v.is_number()) return std::lround(v.get<double>());
    if (v.is_string()) {
        try {
            return std::stol(v.get<std::string>());
        } catch (const std::exception&) {
        }
    }
    return fallback;
}

// ---- get_weather ---------------------------------------------------------------

struct Climate {
    int low_c, high_c, rainy_days;
    const char* summary;
};

struct CityClimate {
    const char* key;
    const char* name;
    std::array<Climate, 4> seasons;  // winter, spring, summer, autumn
};

const std::array<CityClimate, 3> kClimates = {{
    {"lisbon",
     "Lisbon",
     {{{9, 15, 10, "mild and showery, Atlantic wind"},
       {13, 22, 6, "sunny spells, warm afternoons, cool evenings"},
       {18, 28, 1, "hot and dry, clear skies"},
       {15, 23, 7, "warm, the first rains arrive"}}}},
    {"kyoto",
     "Kyoto",
     {{{0, 9, 6, "cold and dry, occasional snow"},
       {10, 23, 11, "mild, cherry blossom then fresh green, some rain"},
       {23, 33, 12, "hot and humid, rainy season until mid-July"},
       {12, 24, 8, "clear and crisp, autumn leaves"}}}},
    {"reykjavik",
     "Reykjavik",
     {{{-3, 2, 14, "dark, windy, snow and rain"},
       {2, 9, 11, "changeable, long days return"},
       {9, 14, 10, "cool, near-endless daylight"},
       {3, 9, 14, "wet and windy, northern lights"}}}},
}};

const Climate kGenericClimate[4] = {{2, 9, 10, "cool, short days"},
                                    {9, 19, 9, "mild, some showers"},
                                    {18, 28, 6, "warm, mostly sunny"},
                                    {10, 18, 10, "mild, more rain"}};

aio::Coro<Json> get_weather(Json args, adk::ToolContext& ctx) {
    std::string city = string_arg(args, "city");
    int month = month_number(string_arg(args, "month"));
    co_await aio::sleep(kWeatherLatency);  // the weather service
    std::string key = city_key(city);
    const Climate* c = &kGenericClimate[season(month)];
    std::string name = trimmed(city);
    for (const CityClimate& known : kClimates)
        if (key == known.key) {
            c = &known.seasons[static_cast<std::size_t>(season(month))];
            name = known.name;
        }
    ctx.state().set("destination", name);
    co_return Json{{"city", name},
                   {"month", month ? month_name(month) : "any"},
                   {"low_c", c->low_c},
                   {"high_c", c->high_c},
                   {"rainy_days", c->rainy_days},
                   {"summary", c->summary}};
}

// ---- search_flights ------------------------------------------------------------

struct Route {
    const char* key;
    int base_price_eur;
    const char* duration;
    std::array<const char*, 2> airlines;
};

const std::array<Route, 3> kRoutes = {{
    {"lisbon", 118, "2h35", {"TAP Air Portugal", "easyJet"}},
    {"kyoto", 689, "14h50 (via Osaka KIX)", {"Japan Airlines", "Finnair"}},
    {"reykjavik", 212, "3h25", {"Icelandair", "PLAY"}},
}};

aio::Coro<Json> search_flights(Json args, adk::ToolContext& ctx) {
    std::string origin = string_arg(args, "origin", "Paris");
    std::string destination = string_arg(args, "destination");
    int month = month_number(string_arg(args, "month"));
    co_await aio::sleep(kFlightsLatency);  // the flight search
    Route route{"", 300, "3h10", {"SkyLine", "Aero Express"}};
    for (const Route& known : kRoutes)
        if (city_key(destination) == known.key) route = known;
    int price = route.base_price_eur;
    if (season(month) == 2) price = price * 14 / 10;  // summer
    Json options = Json::array();
    options.push_back(Json{{"airline", route.airlines[0]},
                           {"depart", "08:05"},
                           {"duration", route.duration},
                           {"price_eur", price + 64},
                           {"stops", 0}});
    options.push_back(Json{{"airline", route.airlines[1]},
                           {"depart", "13:40"},
                           {"duration", route.duration},
                           {"price_eur", price},
                           {"stops", 0}});
    ctx.state().set("cheapest_fare_eur", price);
    co_return Json{{"origin", trimmed(origin)},
                   {"destination", trimmed(destination)},
                   {"month", month ? month_name(month) : "any"},
                   {"round_trip_options", std::move(options)}};
}

// ---- find_hotels ---------------------------------------------------------------

struct Hotel {
    const char* name;
    const char* area;
    int price_eur;
    double rating;
};

struct CityHotels {
    const char* key;
    std::array<Hotel, 3> hotels;
};

const std::array<CityHotels, 3> kHotels = {{
    {"lisbon",
     {{{"Casa do Alfama", "Alfama", 95, 4.6},
       {"Baixa Design Hotel", "Baixa", 140, 4.4},
       {"LX Riverside", "Cais do Sodré", 120, 4.5}}}},
    {"kyoto",
     {{{"Gion Machiya Inn", "Gion", 180, 4.8},
       {"Kyoto Station Stay", "Shimogyo", 110, 4.3},
       {"Arashiyama Ryokan", "Arashiyama", 260, 4.9}}}},
    {"reykjavik",
     {{{"Harbour Light", "Old Harbour", 170, 4.5},
       {"Laugavegur Rooms", "Laugavegur", 130, 4.2},
       {"Hallgrim Suites", "Skólavörðuholt", 210, 4.7}}}},
}};

const std::array<Hotel, 3> kGenericHotels = {{{"Central Plaza", "city centre", 130, 4.3},
                                              {"Old Town Guesthouse", "old town", 90, 4.5},
                                              {"Riverside Suites", "riverside", 170, 4.6}}};

aio::Coro<Json> find_hotels(Json args) {
    std::string city = string_arg(args, "city");
    long nights = std::clamp(int_arg(args, "nights", 3), 1L, 30L);
    co_await aio::sleep(kHotelsLatency);  // the booking site
    const std::array<Hotel, 3>* hotels = &kGenericHotels;
    for (const CityHotels& known : kHotels)
        if (city_key(city) == known.key) hotels = &known.hotels;
    Json list = Json::array();
    for (const Hotel& h : *hotels)
        list.push_back(Json{{"name", h.name},
                            {"area", h.area},
                            {"price_per_night_eur", h.price_eur},
                            {"total_eur", h.price_eur * nights},
                            {"rating", h.rating}});
    co_return Json{{"city", trimmed(city)}, {"nights", nights}, {"hotels", std::move(list)}};
}

Json schema(Json properties, std::vector<std::string> required) {
    return Json{{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

}  // namespace

void register_demo_tools(adk::ToolRegistry& registry) {
    registry.add(adk::FunctionTool::make(
        "get_weather", "The usual weather of a city in a given month: temperatures, rainy days, a summary.",
        schema(Json{{"city", {{"type", "string"}, {"description", "The city, e.g. Lisbon"}}},
                    {"month", {{"type", "string"}, {"description", "The month of the trip, e.g. May"}}}},
               {"city", "month"}),
        &get_weather));
    registry.add(adk::FunctionTool::make(
        "search_flights", "Round-trip flight options (airline, times, price in EUR) to a destination.",
        schema(Json{{"origin", {{"type", "string"}, {"description", "Where the trip starts (default Paris)"}}},
                    {"destination", {{"type", "string"}, {"description", "The destination city"}}},
                    {"month", {{"type", "string"}, {"description", "The month of the trip"}}}},
               {"destination", "month"}),
        &search_flights));
    registry.add(adk::FunctionTool::make(
        "find_hotels", "Hotels in a city with their nightly and total prices in EUR and their ratings.",
        schema(Json{{"city", {{"type", "string"}, {"description", "The city"}}},
                    {"nights", {{"type", "integer"}, {"description", "How many nights"}}}},
               {"city", "nights"}),
        &find_hotels));
}

}  // namespace adk_demo
