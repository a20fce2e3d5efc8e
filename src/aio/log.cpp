#include "aio/log.hpp"

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace aio {
namespace {

std::mutex& handler_mutex() {
    static std::mutex m;
    return m;
}
LogHandler& current_handler() {
    static LogHandler h;
    return h;
}

void write_stderr(LogLevel level, std::string_view message) {
    std::string line = "aio ";
    line += to_string(level);
    line += ": ";
    line += message;
    if (line.back() != '\n') line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

const char* to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug:
            return "DEBUG";
        case LogLevel::info:
            return "INFO";
        case LogLevel::warning:
            return "WARNING";
        case LogLevel::error:
            return "ERROR";
    }
    return "?";
}

LogHandler set_log_handler(LogHandler handler) {
    std::lock_guard lock(handler_mutex());
    return std::exchange(current_handler(), std::move(handler));
}

void log(LogLevel level, std::string_view message) {
    LogHandler handler;
    {
        std::lock_guard lock(handler_mutex());
        handler = current_handler();
    }
    if (!handler) {
        write_stderr(level, message);
        return;
    }
    try {
        handler(level, message);
    } catch (...) {
        write_stderr(LogLevel::error, "log handler threw; original message follows");
        write_stderr(level, message);
    }
}

}  // namespace aio
