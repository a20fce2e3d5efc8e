// adk-server: ADK's HTTP API (`adk api_server`) over C++ agents. See
// docs/api-server.md.
//
//   adk-server [--host 127.0.0.1] [--port 8000] [--allow_origins ORIGINS]
//              [--session_service_uri memory://|sqlite://PATH] [--max_invocations N]
//              [--max_connections N] [--model NAME | --script FILE]
//              [--web [--web_ui_dir DIR]] [AGENTS_DIR]
//
// prints "listening on http://HOST:PORT" (one line, flushed) once it accepts
// connections (--port 0 picks a free port); SIGINT/SIGTERM stop it
// gracefully (running invocations are cancelled, sessions stay consistent).
//
// --web also serves ADK's dev UI at /dev-ui/ (adk::serve_web_ui; the files
// of @google/adk-devtools/dist/browser, found by adk::find_web_ui_dir() —
// $ADK_WEB_UI_DIR, else a node_modules folder above the current directory
// or the program — or given with --web_ui_dir DIR). docs/web-ui.md.
//
// Models: "openai/<name>" and "gemini-..." (when the model clients are
// built in), "demo" (the default model below) and, with --script FILE,
// "scripted" are in adk::LlmRegistry::global(), so agent configs can name
// them.
//
// Tools: agent configs name tools registered in adk::ToolRegistry::global()
// (the demo's, demo/demo_tools.hpp, when built with them).
//
// Apps: AGENTS_DIR is handed to adk::load_agents_dir (agents from config
// files, one app per sub-directory with a root_agent.yaml). Without it the
// built-in demo app `hello_agent` is served: an
// LlmAgent with the function tool `add(a, b)`, on the model named by
// --model (through adk::LlmRegistry), or an adk::ScriptedLlm playing
// --script FILE, or by default a small deterministic model: "add 2 and 3"
// calls add{a:2,b:3} and answers "The sum is 5."; anything else is echoed
// ("echo: <text>"); with streaming the answer comes as partial chunks.
#include <aio/aio.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "adk/api_server.hpp"
#include "adk/llm_agent.hpp"
#include "adk/scripted_llm.hpp"
#include "adk/sqlite_session_service.hpp"
#include "adk/tool.hpp"
#include "adk/web_ui.hpp"

#ifdef ADK_SERVER_WITH_MODELS
#include "adk/gemini_llm.hpp"
#include "adk/openai_llm.hpp"
#endif
#ifdef ADK_SERVER_WITH_DEMO_TOOLS
#include "demo_tools.hpp"  // demo/: the demo app's tools, by name in adk::ToolRegistry
#endif

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    std::vector<std::string> allow_origins;
    std::string session_service_uri = "memory://";
    std::size_t max_invocations = 1024;
    std::size_t max_connections = 4096;
    std::string model;
    std::string script;
    std::string agents_dir;
    bool web = false;          // --web: serve ADK's dev UI at /dev-ui/
    std::string web_ui_dir;    // --web_ui_dir DIR (implies --web); else adk::find_web_ui_dir()
};

[[noreturn]] void usage(int code) {
    std::fprintf(code == 0 ? stdout : stderr,
                 "usage: adk-server [--host H] [--port N] [--allow_origins O1,O2|*]\n"
                 "                  [--session_service_uri memory://|sqlite://PATH] [--max_invocations N]\n"
                 "                  [--max_connections N] [--model NAME | --script FILE] [--web [--web_ui_dir DIR]]\n"
                 "                  [AGENTS_DIR]\n"
                 "Serves ADK's HTTP API (adk api_server). Without AGENTS_DIR: the demo app hello_agent.\n"
                 "See docs/api-server.md.\n");
    std::exit(code);
}

unsigned long parse_number(const std::string& flag, const std::string& v, unsigned long max) {
    char* end = nullptr;
    unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (v.empty() || !end || *end || n > max) {
        std::fprintf(stderr, "adk-server: bad value '%s' for %s\n", v.c_str(), flag.c_str());
        usage(2);
    }
    return n;
}

void split_origins(const std::string& list, std::vector<std::string>& out) {
    std::size_t pos = 0;
    while (pos <= list.size()) {
        std::size_t comma = list.find(',', pos);
        std::string one = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        while (!one.empty() && one.front() == ' ') one.erase(0, 1);
        while (!one.empty() && one.back() == ' ') one.pop_back();
        if (!one.empty()) out.push_back(one);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::string inline_value;
        bool has_inline = false;
        if (a.rfind("--", 0) == 0) {
            std::size_t eq = a.find('=');
            if (eq != std::string::npos) {
                inline_value = a.substr(eq + 1);
                a = a.substr(0, eq);
                has_inline = true;
            }
        }
        auto value = [&]() -> std::string {
            if (has_inline) return inline_value;
            if (i + 1 >= argc) {
                std::fprintf(stderr, "adk-server: %s needs a value\n", a.c_str());
                usage(2);
            }
            return argv[++i];
        };
        if (a == "--host" || a == "-H") {
            o.host = value();
        } else if (a == "--port" || a == "-p") {
            o.port = static_cast<std::uint16_t>(parse_number(a, value(), 65535));
        } else if (a == "--allow_origins" || a == "--allow-origins") {
            split_origins(value(), o.allow_origins);
        } else if (a == "--session_service_uri" || a == "--session-service-uri") {
            o.session_service_uri = value();
        } else if (a == "--max_invocations" || a == "--max-invocations") {
            o.max_invocations = parse_number(a, value(), 1'000'000'000);
        } else if (a == "--max_connections" || a == "--max-connections") {
            o.max_connections = parse_number(a, value(), 1'000'000'000);
        } else if (a == "--model") {
            o.model = value();
        } else if (a == "--script") {
            o.script = value();
        } else if (a == "--web") {
            o.web = true;
        } else if (a == "--web_ui_dir" || a == "--web-ui-dir") {
            o.web_ui_dir = value();
            o.web = true;
        } else if (a == "--help" || a == "-h") {
            usage(0);
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "adk-server: unknown option '%s'\n", a.c_str());
            usage(2);
        } else if (o.agents_dir.empty()) {
            o.agents_dir = a;
        } else {
            std::fprintf(stderr, "adk-server: more than one AGENTS_DIR\n");
            usage(2);
        }
    }
    if (!o.model.empty() && !o.script.empty()) {
        std::fprintf(stderr, "adk-server: give --model or --script, not both\n");
        usage(2);
    }
    return o;
}

// --- the demo app ----------------------------------------------------------------------

/// The numbers in `text` (integers or decimals), in order.
std::vector<double> numbers_in(const std::string& text) {
    std::vector<double> out;
    for (std::size_t i = 0; i < text.size();) {
        if (std::isdigit(static_cast<unsigned char>(text[i]))) {
            std::size_t used = 0;
            out.push_back(std::stod(text.substr(i), &used));
            i += used;
        } else {
            ++i;
        }
    }
    return out;
}

std::string format_number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

/// The default model of the demo: deterministic, offline.
class DemoLlm final : public adk::BaseLlm {
public:
    DemoLlm() : BaseLlm("demo") {}

    aio::AsyncGenerator<adk::LlmResponse> generate_content(adk::LlmRequest request, bool stream) override {
        // The answer to the tool's result, else to the user's words.
        std::optional<adk::FunctionCall> call;
        std::string text;
        const adk::Content* last = request.contents.empty() ? nullptr : &request.contents.back();
        const adk::FunctionResponse* result = nullptr;
        if (last)
            for (const adk::Part& p : last->parts)
                if (p.function_response && p.function_response->name == "add") result = &*p.function_response;
        if (result) {
            const adk::Json& r = result->response;
            const adk::Json* sum = r.is_object() && r.contains("result") ? &r["result"] : &r;
            text = "The sum is " + (sum->is_number() ? format_number(sum->get<double>()) : sum->dump()) + ".";
        } else {
            std::string said = request.last_user_text();
            if (said.find("add") != std::string::npos) {
                std::vector<double> n = numbers_in(said);
                adk::FunctionCall c;
                c.name = "add";
                c.args = adk::Json{{"a", n.size() > 0 ? n[0] : 2.0}, {"b", n.size() > 1 ? n[1] : 3.0}};
                call = std::move(c);
            } else {
                text = "echo: " + said;
            }
        }
        if (call) {
            adk::LlmResponse response;
            response.content = adk::Content{"model", {adk::Part::from_function_call(std::move(*call))}};
            co_yield std::move(response);
            co_return;
        }
        if (stream) {
            // Word by word, then the whole text.
            std::size_t start = 0;
            while (start < text.size()) {
                std::size_t space = text.find(' ', start);
                std::size_t end = space == std::string::npos ? text.size() : space + 1;
                adk::LlmResponse chunk;
                chunk.content = adk::Content::model(text.substr(start, end - start));
                chunk.partial = true;
                co_yield std::move(chunk);
                start = end;
            }
        }
        adk::LlmResponse response;
        response.content = adk::Content::model(text);
        co_yield std::move(response);
    }
};

double add(double a, double b) { return a + b; }

/// Registers the models this program knows by name.
void register_models(const Options& o) {
    adk::LlmRegistry& registry = adk::LlmRegistry::global();
#ifdef ADK_SERVER_WITH_MODELS
    adk::register_openai_models(registry);
    adk::register_gemini_models(registry);
#endif
    registry.register_model("demo", std::make_shared<DemoLlm>());
    if (!o.script.empty()) registry.register_model("scripted", adk::ScriptedLlm::from_file(o.script));
}

std::shared_ptr<adk::BaseLlm> demo_model(const Options& o) {
    adk::LlmRegistry& registry = adk::LlmRegistry::global();
    if (!o.model.empty()) return registry.resolve(o.model);
    if (!o.script.empty()) return registry.resolve("scripted");
    return registry.resolve("demo");
}

void add_demo_apps(adk::ApiServer& server, const Options& o) {
    adk::LlmAgent::Options hello;
    hello.name = "hello_agent";
    hello.description = "Says hello, echoes, and adds numbers with a tool.";
    hello.model = demo_model(o);
    hello.instruction = "You are a friendly assistant. Use the add tool to add numbers.";
    hello.tools.push_back(adk::FunctionTool::from(add, "add", "Adds two numbers.", {{"a", "first number"},
                                                                                   {"b", "second number"}}));
    server.add_app("hello_agent", adk::LlmAgent::make(std::move(hello)));
}

// --- main ------------------------------------------------------------------------------

aio::Coro<int> amain(Options o) {
    adk::ApiServerOptions options;
    options.http.host = o.host;
    options.http.port = o.port;
    options.http.max_connections = o.max_connections;
    options.allow_origins = o.allow_origins;
    options.max_invocations = o.max_invocations;

    std::shared_ptr<adk::SqliteSessionService> sqlite;
    const std::string& uri = o.session_service_uri;
    if (uri.rfind("sqlite://", 0) == 0) {
        std::string path = uri.substr(9);
        if (path.empty()) {
            std::fprintf(stderr, "adk-server: sqlite:// needs a path (sqlite:///var/lib/adk/sessions.db)\n");
            co_return 2;
        }
        sqlite = std::make_shared<adk::SqliteSessionService>(path);
        std::string failure;
        try {
            co_await sqlite->ready();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!failure.empty()) {
            std::fprintf(stderr, "adk-server: %s\n", failure.c_str());
            co_return 1;
        }
        options.session_service = sqlite;
    } else if (uri != "memory://" && uri != "memory") {
        std::fprintf(stderr, "adk-server: unsupported --session_service_uri '%s' (memory:// or sqlite://PATH)\n",
                     uri.c_str());
        co_return 2;
    }

    adk::ApiServer server(std::move(options));
    std::string failure;
    try {
        register_models(o);
#ifdef ADK_SERVER_WITH_DEMO_TOOLS
        adk_demo::register_demo_tools();
#endif
        if (!o.agents_dir.empty()) {
            adk::load_agents_dir(server, o.agents_dir);
            if (server.app_names().empty())
                std::fprintf(stderr, "adk-server: warning: no app in %s (a sub-directory with a root_agent.yaml)\n",
                             o.agents_dir.c_str());
        } else {
            add_demo_apps(server, o);
        }
        if (o.web)
            adk::serve_web_ui(server, o.web_ui_dir.empty() ? adk::find_web_ui_dir()
                                                           : std::filesystem::path(o.web_ui_dir));
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!failure.empty()) {
        std::fprintf(stderr, "adk-server: %s\n", failure.c_str());
        co_return 2;
    }

    co_await server.start();
    aio::EventLoop& loop = aio::get_running_loop();
    adk::ApiServer* s = &server;
    loop.add_signal_handler(SIGINT, [s] { s->close(); });
    loop.add_signal_handler(SIGTERM, [s] { s->close(); });
    std::printf("listening on %s\n", server.url().c_str());
    if (o.web) std::printf("web UI on %s/dev-ui/\n", server.url().c_str());
    std::fflush(stdout);
    co_await server.serve_forever();
    loop.remove_signal_handler(SIGINT);
    loop.remove_signal_handler(SIGTERM);
    co_await server.aclose();
    if (sqlite) co_await sqlite->aclose();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_args(argc, argv);
    try {
        return aio::run(amain(std::move(options)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "adk-server: %s\n", e.what());
        return 1;
    }
}
