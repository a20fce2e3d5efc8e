// aio/log.hpp — the one place aio reports what nobody else can receive:
// unretrieved task exceptions, tasks destroyed while pending, slow callbacks,
// coroutines never awaited. Replace the handler to route them into your
// logging; the default writes one line per event to stderr.
#pragma once

#include <functional>
#include <string_view>

namespace aio {

enum class LogLevel { debug, info, warning, error };

const char* to_string(LogLevel level) noexcept;

using LogHandler = std::function<void(LogLevel, std::string_view message)>;

/// Installs `handler` process-wide (thread-safe); an empty function restores
/// the default. Returns the previous handler.
LogHandler set_log_handler(LogHandler handler);

/// Sends one event to the handler.
void log(LogLevel level, std::string_view message);

}  // namespace aio
