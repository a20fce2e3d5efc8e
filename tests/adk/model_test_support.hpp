// Helpers of the model-client tests (test_openai_llm.cpp,
// test_gemini_llm.cpp): adk-fake-llm started on a free loopback port with a
// script, @dwmkerr/mock-llm started from tests/mockllm, an in-process server
// that streams one event and then hangs (to watch a cancellation arrive on
// the server side), and a consumer that records what a model yields.
// Tests never skip: a missing peer is a failure that says how to install it.
#pragma once

#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/subprocess.hpp>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adk/llm.hpp"
#include "support.hpp"

namespace model_test {

namespace fs = std::filesystem;
using adk::Json;
using adk::LlmRequest;
using adk::LlmResponse;
using namespace std::chrono_literals;

inline std::string fake_llm_path() {
    if (const char* env = std::getenv("ADK_FAKE_LLM"); env && *env) return env;
#ifdef ADK_FAKE_LLM_PATH
    return ADK_FAKE_LLM_PATH;
#else
    char self[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0);
    dir = dir.substr(0, dir.rfind('/'));
    return dir + "/../../bin/adk-fake-llm";
#endif
}

/// A model client's options for `base`: no key, fast retries (the tests'
/// clock is real).
template <class Options>
Options test_options(const std::string& base, std::string model) {
    Options o;
    o.model = std::move(model);
    o.base_url = base;
    o.api_key = "";
    o.retry.initial_backoff = 20ms;
    o.retry.max_backoff = 100ms;
    return o;
}

inline std::string mockllm_dir() {
    if (const char* env = std::getenv("ADK_MOCKLLM_DIR"); env && *env) return env;
#ifdef ADK_MOCKLLM_DIR
    return ADK_MOCKLLM_DIR;
#else
    return "tests/mockllm";
#endif
}

using aio_test::free_port;

/// A temporary file removed at the end of the test.
class TempFile {
public:
    TempFile(const std::string& text, const char* suffix) {
        std::string pattern = std::string("/tmp/adk-model-test-XXXXXX") + suffix;
        std::vector<char> name(pattern.begin(), pattern.end());
        name.push_back('\0');
        int fd = ::mkstemps(name.data(), static_cast<int>(std::char_traits<char>::length(suffix)));
        if (fd < 0) throw std::runtime_error("mkstemps failed");
        ::close(fd);
        path_ = name.data();
        std::ofstream(path_) << text;
    }
    explicit TempFile(const Json& script) : TempFile(script.dump(2), ".json") {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

/// adk-fake-llm running with a script (docs/fake-llm.md).
class FakeLlm {
public:
    /// Starts the program with `script` (and more arguments), on a free port.
    static aio::Coro<std::unique_ptr<FakeLlm>> start(Json script) {
        std::vector<std::string> no_args;
        std::unique_ptr<FakeLlm> f = co_await start(std::move(script), std::move(no_args));
        co_return std::move(f);
    }
    static aio::Coro<std::unique_ptr<FakeLlm>> start(Json script, std::vector<std::string> extra_args) {
        auto f = std::make_unique<FakeLlm>();
        f->script_ = std::make_unique<TempFile>(script);
        std::vector<std::string> args{"--port", "0", "--script", f->script_->path()};
        for (std::string& a : extra_args) args.push_back(std::move(a));
        std::string program = fake_llm_path();
        if (!fs::exists(program)) {
            ADD_FAILURE() << "adk-fake-llm not found at " << program << " (build the adk-fake-llm target)";
            throw std::runtime_error("adk-fake-llm missing");
        }
        aio::SubprocessOptions options;
        options.stdout = aio::PIPE;
        aio::Process process = co_await aio::create_subprocess_exec(program, args, options);
        f->process_.emplace(std::move(process));
        std::string line = co_await f->process_->stdout()->readline();
        const std::string prefix = "listening on http://127.0.0.1:";
        if (line.rfind(prefix, 0) != 0) throw std::runtime_error("adk-fake-llm: unexpected first line: " + line);
        f->port_ = std::stoi(line.substr(prefix.size()));
        co_return std::move(f);
    }

    ~FakeLlm() {
        if (process_ && !process_->returncode()) process_->kill();
    }

    int port() const { return port_; }
    std::string root() const { return "http://127.0.0.1:" + std::to_string(port_); }
    /// OpenAI's base URL (.../v1) and Gemini's (.../v1beta).
    std::string openai_base() const { return root() + "/v1"; }
    std::string gemini_base() const { return root() + "/v1beta"; }

    /// Every request the server received: [{"method", "path", "query", "body"}].
    aio::Coro<Json> requests() {
        aio::http::Client client;
        aio::http::Response r = co_await client.get(root() + "/fake/requests");
        co_return Json::parse(r.body);
    }

    aio::Coro<int> stop() {
        process_->terminate();
        int rc = co_await process_->wait();
        co_return rc;
    }

private:
    std::unique_ptr<TempFile> script_;
    std::optional<aio::Process> process_;
    int port_ = 0;
};

/// @dwmkerr/mock-llm (tests/mockllm, npm ci by scripts/install-peers.sh tests/mockllm)
/// with a YAML configuration, on a free port, ready when /health answers.
class MockLlm {
public:
    static std::string main_js() {
        fs::path p = fs::path(mockllm_dir()) / "node_modules/@dwmkerr/mock-llm/dist/main.js";
        if (!fs::exists(p)) {
            ADD_FAILURE() << "mock-llm is not installed: " << p
                          << "\nInstall it with: make peers, or scripts/install-peers.sh tests/mockllm (npm ci in tests/mockllm)";
            throw std::runtime_error("mock-llm not installed (run scripts/install-peers.sh tests/mockllm)");
        }
        return p.string();
    }

    static aio::Coro<std::unique_ptr<MockLlm>> start(std::string yaml) {
        std::string js = main_js();
        auto m = std::make_unique<MockLlm>();
        m->config_ = std::make_unique<TempFile>(yaml, ".yaml");
        for (int attempt = 0; attempt < 3; ++attempt) {
            m->port_ = free_port();
            m->env_.clear();
            for (char** e = environ; e && *e; ++e) {
                std::string_view v(*e);
                if (v.substr(0, 5) != "PORT=" && v.substr(0, 5) != "HOST=") m->env_.emplace_back(*e);
            }
            m->env_.push_back("PORT=" + std::to_string(m->port_));
            m->env_.push_back("HOST=127.0.0.1");
            std::vector<std::string> args{js, "--config", m->config_->path()};
            aio::SubprocessOptions options;
            options.stdin = aio::DEVNULL;
            options.stdout = aio::DEVNULL;  // it logs every request there
            options.env = std::span<const std::string>(m->env_);
            std::string node = "node";
            aio::Process proc = co_await aio::create_subprocess_exec(node, args, options);
            m->process_.emplace(std::move(proc));
            bool ready = co_await m->wait_ready();
            if (ready) co_return std::move(m);
            if (m->process_->returncode()) continue;  // the port was taken meanwhile: another one
            break;
        }
        throw std::runtime_error("mock-llm did not start");
    }

    ~MockLlm() {
        if (process_ && !process_->returncode()) process_->kill();
    }

    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

    aio::Coro<int> stop() {
        process_->terminate();
        int rc = co_await process_->wait();
        co_return rc;
    }

private:
    /// Polls /health for up to 20 s; false if the process exited.
    aio::Coro<bool> wait_ready() {
        aio::http::Client client;
        auto start = aio::get_running_loop().time();
        while (aio_test::since(start) < 20.0) {
            if (process_->returncode()) co_return false;
            bool up = false;
            try {
                aio::http::Response r = co_await client.get("http://127.0.0.1:" + std::to_string(port_) + "/health");
                up = r.status == 200;
            } catch (const aio::http::HttpError&) {
            }
            if (up) co_return true;
            co_await aio::sleep(50ms);
        }
        co_return false;
    }

    std::unique_ptr<TempFile> config_;
    std::vector<std::string> env_;
    std::optional<aio::Process> process_;
    int port_ = 0;
};

/// An in-process server (on the test's loop) whose model routes answer
/// with an event stream: one event (`first_event`), then nothing until the
/// client goes away. It counts the handlers cancelled by a disconnect.
class HangingServer {
public:
    static aio::Coro<std::unique_ptr<HangingServer>> start(std::string first_event) {
        auto s = std::make_unique<HangingServer>();
        s->first_event_ = std::move(first_event);
        HangingServer* self = s.get();
        auto handler = [self](aio::http::ServerRequest&, aio::http::ResponseWriter& w) -> aio::Coro<void> {
            return self->hang(w);
        };
        aio::http::Router router;
        router.post("/v1/chat/completions", handler);
        router.post("/v1beta/models/{model}:streamGenerateContent", handler);
        aio::http::ServerConfig config;
        config.host = "127.0.0.1";
        config.port = 0;
        aio::http::Server server = co_await aio::http::start_server(std::move(router), config);
        s->server_.emplace(std::move(server));
        co_return std::move(s);
    }

    int port() const { return server_->port(); }
    /// Handlers the server cancelled because their client went away.
    std::uint64_t disconnect_cancels() const { return server_->stats().disconnect_cancels; }
    std::string root() const { return "http://127.0.0.1:" + std::to_string(port()); }
    int started() const { return started_; }
    int cancelled() const { return cancelled_; }
    /// Waits (at most `limit`) until a handler was cancelled; true if one was.
    aio::Coro<bool> wait_cancelled(std::chrono::seconds limit = 10s) {
        auto start = aio::get_running_loop().time();
        while (cancelled_ == 0 && aio_test::since(start) < static_cast<double>(limit.count()))
            co_await aio::sleep(10ms);
        co_return cancelled_ > 0;
    }
    aio::Coro<void> close() {
        if (server_) {
            server_->close();
            co_await server_->wait_closed();
        }
    }

private:
    aio::Coro<void> hang(aio::http::ResponseWriter& w) {
        ++started_;
        co_await w.start_sse();
        co_await w.send_event(first_event_);
        try {
            co_await aio::sleep(120s);
        } catch (const aio::CancelledError&) {
            ++cancelled_;
            throw;
        }
    }

    std::string first_event_;
    std::optional<aio::http::Server> server_;
    int started_ = 0;
    int cancelled_ = 0;
};

/// What a model call yielded, and how it ended.
struct Outcome {
    std::vector<LlmResponse> responses;
    /// Loop seconds from the call to each response.
    std::vector<double> times;
    std::exception_ptr error;
    std::string what;
    double elapsed = 0;

    std::vector<LlmResponse> partials() const {
        std::vector<LlmResponse> out;
        for (const LlmResponse& r : responses)
            if (r.is_partial()) out.push_back(r);
        return out;
    }
    /// The last response (the final one when the call succeeded).
    const LlmResponse& last() const { return responses.back(); }
    template <class E>
    bool failed_with() const {
        return aio::detail::holds_exception<E>(error);
    }
};

/// Runs one call to the end, catching any std::exception (a CancelledError
/// is not one: it goes through).
inline aio::Coro<Outcome> call_request(adk::BaseLlm& llm, LlmRequest request, bool stream) {
    Outcome out;
    auto start = aio::get_running_loop().time();
    try {
        aio::AsyncGenerator<LlmResponse> gen = llm.generate_content(std::move(request), stream);
        while (true) {
            std::optional<LlmResponse> r = co_await gen.next();
            if (!r) break;
            out.times.push_back(aio_test::since(start));
            out.responses.push_back(std::move(*r));
        }
    } catch (const std::exception& e) {
        out.error = std::current_exception();
        out.what = e.what();
    }
    out.elapsed = aio_test::since(start);
    co_return out;
}

/// A user question, with a system instruction and optional tool declarations.
inline LlmRequest ask(std::string text, std::vector<Json> declarations = {}) {
    LlmRequest r;
    r.system_instruction = "You are a test.";
    r.contents.push_back(adk::Content::user(std::move(text)));
    r.function_declarations = std::move(declarations);
    return r;
}

inline Json weather_declaration() {
    return Json::parse(R"({"name": "get_weather", "description": "The weather in a city",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}})");
}

/// call_request() with ask(text), declaring get_weather when `with_tools`.
/// (The request is built here, not as a temporary inside the caller's
/// co_await expression: g++ 12, COROUTINE-PITFALLS.)
inline aio::Coro<Outcome> call(adk::BaseLlm& llm, std::string text, bool stream, bool with_tools = false) {
    std::vector<Json> declarations;
    if (with_tools) declarations.push_back(weather_declaration());
    LlmRequest request = ask(std::move(text), std::move(declarations));
    Outcome out = co_await call_request(llm, std::move(request), stream);
    co_return out;
}

}  // namespace model_test
