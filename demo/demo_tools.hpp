// demo/demo_tools.hpp — the C++ function tools of the demo app
// (demo/agents/trip_planner), registered by name in adk::ToolRegistry so
// its YAML files can name them. Target adk::demo_tools (demo/CMakeLists.txt).
//
//   adk_demo::register_demo_tools();          // before adk::load_agents_dir
//   auto apps = adk::load_agents_dir("demo/agents");
//
// The tools stand in for web services: each is a coroutine on the loop that
// waits a few hundred milliseconds (aio::sleep) before answering from a small
// built-in table, so the demo shows real concurrency without a network.
//
// | tool             | parameters                              | latency | state it records           |
// |------------------|-----------------------------------------|---------|----------------------------|
// | `get_weather`    | city, month                             | 400 ms  | `destination`              |
// | `search_flights` | origin, destination, month              | 600 ms  | `cheapest_fare_eur`        |
// | `find_hotels`    | city, nights                            | 500 ms  | —                          |
//
// Unknown cities get plausible generic answers, so a real model asked about
// another trip still gets data. Cancellation: each tool is cancelled at its
// sleep; nothing is recorded then (its state write rides on the response
// event, which is never made).
#pragma once

#include <chrono>

#include "adk/agent_config.hpp"

namespace adk_demo {

/// The simulated latencies (the table above).
inline constexpr std::chrono::milliseconds kWeatherLatency{400};
inline constexpr std::chrono::milliseconds kFlightsLatency{600};
inline constexpr std::chrono::milliseconds kHotelsLatency{500};

/// Adds get_weather, search_flights and find_hotels to `registry`
/// (idempotent: registering again replaces them).
void register_demo_tools(adk::ToolRegistry& registry = adk::ToolRegistry::global());

}  // namespace adk_demo
