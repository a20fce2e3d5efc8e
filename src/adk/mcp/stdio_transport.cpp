// adk::mcp::StdioTransport (adk/mcp/stdio_transport.hpp).
#include "adk/mcp/stdio_transport.hpp"

#include <unistd.h>

#include <csignal>
#include <exception>
#include <system_error>
#include <utility>

#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/log.hpp"
#include "aio/subprocess.hpp"
#include "aio/timeout.hpp"
#include "task_bag.hpp"

extern char** environ;

namespace adk::mcp {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kStderrTail = 20;
constexpr std::size_t kStderrLineLimit = 64 * 1024;

std::string quote_line(std::string_view line) {
    constexpr std::size_t kShown = 120;
    std::string s(line.substr(0, kShown));
    if (line.size() > kShown) s += "...";
    return s;
}
}  // namespace

struct StdioTransport::State {
    StdioServerParams params;
    std::string description;
    std::string label;  // for log lines: "node index.js"
    std::vector<std::string> env;  // kept alive for the spawn
    std::optional<aio::Process> process;
    TransportSink* sink = nullptr;
    detail::TaskBag tasks;
    aio::Event wake_writer;
    aio::Event stderr_done;
    aio::Event closed_event;
    std::deque<std::string> stderr_lines;
    std::exception_ptr write_error;
    // Messages sent since the writer last ran: written with one write, so
    // that requests sent together (a burst of tool calls) reach the server
    // in one read instead of one each.
    std::string outbox;
    aio::Task<> writer;
    bool started = false;
    bool closing = false;      // close() or abort() began: no more reports
    bool close_done = false;
    bool reported = false;     // on_closed was sent

    void report_closed(std::exception_ptr error) {
        if (closing || reported || !sink) return;
        reported = true;
        TransportSink* s = sink;
        s->on_closed(std::move(error));
    }

    std::string stderr_excerpt() const {
        if (stderr_lines.empty()) return {};
        std::string s = "; its stderr ended with:";
        for (const std::string& l : stderr_lines) s += "\n  " + l;
        return s;
    }

    void add_stderr_line(std::string line) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (params.on_stderr) {
            try {
                params.on_stderr(line);
            } catch (const std::exception& e) {
                aio::log(aio::LogLevel::warning, std::string("mcp: the stderr handler threw: ") + e.what());
            }
        } else {
            aio::log(aio::LogLevel::info, "mcp[" + label + "] " + line);
        }
        stderr_lines.push_back(std::move(line));
        if (stderr_lines.size() > kStderrTail) stderr_lines.pop_front();
    }

    /// Handles one complete stdout line; false (and `error` set) when the
    /// server broke the protocol.
    bool deliver_line(std::string_view line, std::exception_ptr& error) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
        Json message = Json::parse(line, nullptr, false);
        if (message.is_discarded() || !(message.is_object() || message.is_array())) {
            error = std::make_exception_ptr(McpProtocolError("MCP server `" + description +
                                                             "` wrote a line that is not a JSON-RPC message: " +
                                                             quote_line(line)));
            return false;
        }
        if (message.is_array()) {
            for (Json& m : message) {
                if (closing || !sink) return true;
                sink->on_message(std::move(m));
            }
        } else if (!closing && sink) {
            sink->on_message(std::move(message));
        }
        return true;
    }
};

namespace {

using StatePtr = std::shared_ptr<StdioTransport::State>;

aio::Coro<> read_stdout(StatePtr st) {
    aio::PipeReader* out = st->process->stdout();
    std::string line;
    std::exception_ptr error;
    bool eof = false;
    while (!error && !eof) {
        std::string chunk;
        try {
            std::string got = co_await out->read(static_cast<std::ptrdiff_t>(kReadChunk));
            chunk = std::move(got);
        } catch (const std::exception& e) {
            error = std::make_exception_ptr(McpConnectionError("reading from MCP server `" + st->description +
                                                               "` failed: " + e.what()));
            break;
        }
        if (chunk.empty()) {
            eof = true;
            break;
        }
        std::size_t start = 0;
        while (start < chunk.size()) {
            std::size_t nl = chunk.find('\n', start);
            std::size_t end = nl == std::string::npos ? chunk.size() : nl;
            if (line.size() + (end - start) > st->params.max_line_bytes) {
                error = std::make_exception_ptr(McpProtocolError(
                    "MCP server `" + st->description + "` sent a line longer than the limit of " +
                    std::to_string(st->params.max_line_bytes) + " bytes"));
                break;
            }
            line.append(chunk, start, end - start);
            if (nl == std::string::npos) break;
            start = nl + 1;
            std::string complete = std::move(line);
            line.clear();
            if (!st->deliver_line(complete, error)) break;
            if (st->closing) co_return;
        }
    }
    if (st->closing) co_return;
    if (error) {
        // A broken protocol: the server is of no further use.
        if (st->process && !st->process->returncode()) st->process->kill();
        st->report_closed(error);
        co_return;
    }
    // EOF: the server exited or closed its stdout. Give stderr a moment to
    // drain and the child a moment to exit, to say why.
    {
        auto drained = aio::wait_for(st->stderr_done.wait(), std::chrono::milliseconds(500));
        try {
            co_await std::move(drained);
        } catch (const aio::TimeoutError&) {
        }
    }
    std::optional<int> rc = st->process->returncode();
    if (!rc) {
        auto exited = aio::wait_for(st->process->wait(), std::chrono::milliseconds(1000));
        try {
            int code = co_await std::move(exited);
            rc = code;
        } catch (const aio::TimeoutError&) {
        }
    }
    if (st->closing) co_return;
    std::string what = "MCP server `" + st->description + "` ";
    if (!rc)
        what += "closed its stdout";
    else if (*rc < 0)
        what += "was killed by signal " + std::to_string(-*rc);
    else
        what += "exited with code " + std::to_string(*rc);
    what += st->stderr_excerpt();
    st->report_closed(std::make_exception_ptr(McpConnectionError(what)));
}

aio::Coro<> read_stderr(StatePtr st) {
    aio::PipeReader* err = st->process->stderr();
    std::string line;
    while (true) {
        std::string chunk;
        try {
            std::string got = co_await err->read(static_cast<std::ptrdiff_t>(kReadChunk));
            chunk = std::move(got);
        } catch (const std::exception&) {
            break;
        }
        if (chunk.empty()) break;
        std::size_t start = 0;
        while (start < chunk.size()) {
            std::size_t nl = chunk.find('\n', start);
            std::size_t end = nl == std::string::npos ? chunk.size() : nl;
            std::size_t room = kStderrLineLimit > line.size() ? kStderrLineLimit - line.size() : 0;
            line.append(chunk, start, std::min(room, end - start));  // an endless line is truncated
            if (nl == std::string::npos) break;
            st->add_stderr_line(std::move(line));
            line.clear();
            start = nl + 1;
        }
    }
    if (!line.empty()) st->add_stderr_line(std::move(line));
    st->stderr_done.set();
}

aio::Coro<> write_stdin(StatePtr st) {
    aio::PipeWriter* in = st->process->stdin();
    while (!st->closing) {
        co_await st->wake_writer.wait();
        st->wake_writer.clear();
        if (st->closing) break;
        std::exception_ptr error = st->write_error;
        std::string batch;
        batch.swap(st->outbox);
        if (!error && !batch.empty()) {
            try {
                in->write(std::move(batch));
            } catch (const std::exception& e) {
                error = std::make_exception_ptr(
                    McpConnectionError("writing to MCP server `" + st->description + "` failed: " + e.what()));
            }
        }
        if (!error && in->buffered() > 0) {
            try {
                co_await in->drain();
            } catch (const std::exception& e) {
                error = std::make_exception_ptr(
                    McpConnectionError("writing to MCP server `" + st->description + "` failed: " + e.what()));
            }
        }
        if (error) {
            st->report_closed(error);
            break;
        }
    }
}

/// Waits up to `limit` for the child to exit; true if it did.
aio::Coro<bool> wait_exit(aio::Process& proc, std::chrono::milliseconds limit) {
    if (proc.returncode()) co_return true;
    auto exited = aio::wait_for(proc.wait(), limit);
    try {
        co_await std::move(exited);
    } catch (const aio::TimeoutError&) {
        co_return false;
    }
    co_return true;
}

}  // namespace

StdioTransport::StdioTransport(StdioServerParams params) : state_(std::make_shared<State>()) {
    state_->params = std::move(params);
    state_->description = state_->params.command;
    for (const std::string& a : state_->params.args) state_->description += " " + a;
    auto base = [](const std::string& path) { return path.substr(path.find_last_of('/') + 1); };
    state_->label = base(state_->params.command);
    if (!state_->params.args.empty()) state_->label += " " + base(state_->params.args.front());
}

StdioTransport::~StdioTransport() { abort(); }

aio::Coro<> StdioTransport::start(TransportSink* sink) {
    StatePtr st = state_;
    if (st->started) throw std::logic_error("StdioTransport::start: already started");
    st->started = true;
    st->sink = sink;
    const StdioServerParams& p = st->params;
    std::optional<std::span<const std::string>> env;
    if (!p.env.empty()) {
        for (char** e = environ; e && *e; ++e) {
            std::string_view kv(*e);
            std::string name(kv.substr(0, kv.find('=')));
            if (!p.env.contains(name)) st->env.emplace_back(kv);
        }
        for (const auto& [k, v] : p.env) st->env.push_back(k + "=" + v);
        env = std::span<const std::string>(st->env);
    }
    aio::SubprocessOptions options;
    options.stdin = aio::PIPE;
    options.stdout = aio::PIPE;
    options.stderr = aio::PIPE;
    options.cwd = p.cwd;
    options.env = env;
    std::exception_ptr failure;
    try {
        aio::Process proc = co_await aio::create_subprocess_exec(p.command, p.args, options);
        st->process.emplace(std::move(proc));
    } catch (const std::exception& e) {
        failure = std::make_exception_ptr(
            McpConnectionError("cannot start MCP server `" + st->description + "`: " + e.what()));
    }
    if (failure) std::rethrow_exception(failure);
    st->tasks.spawn(read_stdout(st), "mcp-stdio-stdout");
    st->tasks.spawn(read_stderr(st), "mcp-stdio-stderr");
    st->writer = st->tasks.spawn(write_stdin(st), "mcp-stdio-stdin");
}

void StdioTransport::send(Json message) {
    State& st = *state_;
    if (!st.process || st.closing || st.write_error) return;
    st.outbox += message.dump(-1, ' ', false, Json::error_handler_t::replace);
    st.outbox += '\n';
    st.wake_writer.set();
}

aio::Coro<> StdioTransport::close() {
    StatePtr st = state_;
    if (st->closing) {
        if (!st->close_done) co_await st->closed_event.wait();
        co_return;
    }
    st->closing = true;
    st->sink = nullptr;
    st->wake_writer.set();
    if (st->process) {
        aio::Process& proc = *st->process;
        if (st->writer && !st->writer.done()) {
            // The writer may be draining: stop it first (one drain at a time).
            st->writer.cancel();
            std::vector<aio::Task<>> writer{st->writer};
            auto stopped = aio::wait(std::move(writer));
            co_await std::move(stopped);
        }
        if (aio::PipeWriter* in = proc.stdin()) {
            if (!st->outbox.empty() && !st->write_error) {
                try {
                    in->write(std::move(st->outbox));
                } catch (const std::exception&) {
                }
                st->outbox.clear();
            }
            // What is queued gets a short chance to reach the server.
            auto flushed = aio::wait_for(in->wait_closed(), std::chrono::milliseconds(200));
            try {
                co_await std::move(flushed);
            } catch (const aio::TimeoutError&) {
                in->close_now();
            } catch (const std::exception&) {
                in->close_now();
            }
        }
        bool exited = co_await wait_exit(proc, st->params.shutdown_timeout);
        if (!exited) {
            proc.terminate();
            exited = co_await wait_exit(proc, st->params.shutdown_timeout);
        }
        if (!exited) {
            proc.kill();
            co_await wait_exit(proc, std::chrono::milliseconds(5000));
        }
    }
    co_await st->tasks.cancel_and_wait();
    st->close_done = true;
    st->closed_event.set();
}

void StdioTransport::abort() noexcept {
    State& st = *state_;
    st.sink = nullptr;
    if (st.closing && st.close_done) return;
    st.closing = true;
    st.tasks.cancel_all();
    try {
        if (st.process && !st.process->returncode()) st.process->kill();
    } catch (...) {
    }
}

std::string StdioTransport::describe() const { return "stdio: " + state_->description; }

std::optional<pid_t> StdioTransport::pid() const {
    if (!state_->process || state_->process->returncode()) return std::nullopt;
    return state_->process->pid();
}

std::optional<int> StdioTransport::returncode() const {
    if (!state_->process) return std::nullopt;
    return state_->process->returncode();
}

std::vector<std::string> StdioTransport::stderr_tail() const {
    return {state_->stderr_lines.begin(), state_->stderr_lines.end()};
}

}  // namespace adk::mcp
