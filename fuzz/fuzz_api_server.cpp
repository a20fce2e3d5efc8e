// libFuzzer target: adk::ApiServer's whole request path, over real loopback
// connections to a started server (the HTTP parser, keep-alive, pipelining,
// chunked bodies, SSE and the handlers, together).
//
// Each input is a small script, one line per step, that a fresh server
// (two apps: `assistant`, an LlmAgent on an adk::ScriptedLlm with function
// tools and a sub-agent, and `team`, a lazily built Sequential/Parallel
// workflow) plays from empty in-memory services:
//
//   <flags> <METHOD> <target> <body...>     one HTTP request
//   !release                                lets the `block` tool return
//   !eof<k>                                 half-closes connection k (a client disconnect)
//   !wait                                   waits until the loop is quiet
//   !sqlite                                 (first line only) sessions in an
//                                           adk::SqliteSessionService(":memory:")
//                                           instead of the in-memory service
//
// <flags> starts with the connection (0, 1 or 2; any other first character
// means 0) followed by any of:
//   o  Origin: an allowed origin           x  Origin: a foreign origin
//   s  Origin: this server (same origin)   p  CORS preflight headers
//   c  Connection: close                   h  HTTP/1.0
//   k  a chunked body                      e  Expect: 100-continue
//   l  a Content-Length one too long or too short (desynchronises the connection)
//   b  do not wait for the answer before the next step (races)
//   r  raw: the rest of the line, unescaped (\r \n \t \\ \xHH), is sent as
//      is and the connection half-closed: the parser's input
// In targets and bodies `$i` is the last invocation id seen in an answer
// (e-none before), so the cancel routes can name a running invocation.
//
// The request's Content-Length is the body's size, so the request path (not
// only the parser) sees almost every input. Checks, per input (any failure
// prints the step and aborts):
//   - no crash, no sanitizer report, no leak (libFuzzer's -detect_leaks);
//   - every answer on a well-framed connection parses as HTTP/1.1, answers
//     one request, in order, with a documented status (200, 202, 400, 403,
//     404, 405, 409, 413, 414, 431, 503; 500 only for the scripted model
//     failure); every 4xx/5xx body is a JSON object with a string "error";
//     every JSON answer and every SSE `data:` payload is JSON; a
//     CORS-allowed request gets Access-Control-Allow-Origin on the API's
//     answers. A request whose framing may be off (raw, a wrong length, a
//     method or target the parser may refuse) goes on a connection of its
//     own, half-closed after it, whose answers must only look like HTTP/1.x
//     and end;
//   - the loop's exception handler is never called (debug mode: a task
//     whose exception nobody retrieved, an AsyncGenerator destroyed before
//     its cleanup ran);
//   - no wedge: once the `block` tool is released, every well-framed request
//     is answered within 5 s of loop time; after the client half-closes,
//     every connection is closed by the server within 5 s; the server still
//     answers GET /health and GET of a session afterwards; aclose() returns
//     within 5 s and leaves no run active.
// One aio::Runner (one loop) serves every input; each input gets its own
// server on a free port, its own agents and services.
//
// Build and run: fuzz/run.sh [seconds] (clang++-16 with -fsanitize=fuzzer).
// Replay an input: build/fuzz/fuzz_api_server FILE; with FUZZ_API_TRACE=1 in
// the environment every step, answer and server log line is printed.
#include <sys/prctl.h>

#include <aio/aio.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adk/adk.hpp"
#include "adk/api_server.hpp"
#ifdef FUZZ_API_WITH_SQLITE
#include "adk/sqlite_session_service.hpp"
#endif

namespace {

using adk::Json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxSteps = 16;
constexpr std::size_t kMaxInput = 16 * 1024;
constexpr int kConnections = 3;
constexpr auto kBound = 5s;  // loop time for anything that must end
const char* const kAllowedOrigin = "http://ok.example";
const char* const kForeignOrigin = "http://evil.example";
const char* const kModelFailure = "scripted model failure";

std::string g_step;    // the step being played, for failure reports
bool g_trace = false;  // FUZZ_API_TRACE=1: print every step and answer (to read what a seed does)

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_api_server: %s\n  at step: %s\n", what.c_str(), g_step.c_str());
    std::fflush(stderr);
    std::abort();
}

// --- the apps --------------------------------------------------------------------------

/// The `block` tool's gate: it waits until the script says !release (or ends).
struct Blocker {
    aio::Event release;
    int waiting = 0;  // calls waiting now
};

aio::Coro<Json> block_until_released(std::shared_ptr<Blocker> b) {
    struct Leave {
        Blocker* b;
        ~Leave() { --b->waiting; }
    };
    ++b->waiting;
    Leave leave{b.get()};
    co_await b->release.wait();
    Json result = {{"result", "released"}};
    co_return result;
}

aio::Coro<Json> get_weather(Json args, adk::ToolContext& ctx) {
    std::string city = args.is_object() && args.contains("city") && args["city"].is_string()
                           ? args["city"].get<std::string>()
                           : std::string("nowhere");
    ctx.state().set("last_city", city);
    Json result = {{"result", "sunny in " + city}};
    co_return result;
}

aio::Coro<Json> save_note(Json args, adk::ToolContext& ctx) {
    std::string text = args.is_object() && args.contains("text") && args["text"].is_string()
                           ? args["text"].get<std::string>()
                           : std::string();
    aio::Coro<int> saving = ctx.save_artifact("note.txt", adk::Part::from_text(text));
    int version = co_await std::move(saving);
    Json result = {{"version", version}};
    co_return result;
}

aio::Coro<Json> explode(Json) {
    throw std::runtime_error("tool exploded");
    co_return Json();
}

void add_rule(std::vector<adk::ScriptedRule>& rules, std::optional<std::string> says,
              std::optional<std::string> after, adk::ScriptedReply reply,
              std::optional<std::string> agent = std::nullopt) {
    adk::ScriptedRule r;
    r.when_user_says = std::move(says);
    r.after_tool = std::move(after);
    r.reply = std::move(reply);
    r.when_agent = std::move(agent);
    rules.push_back(std::move(r));
}

std::shared_ptr<adk::ScriptedLlm> assistant_model() {
    using adk::ScriptedReply;
    std::vector<adk::ScriptedRule> rules;
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::say("helper here"), "helper");
    add_rule(rules, std::nullopt, "get_weather", ScriptedReply::stream({"It is ", "sunny ", "in Paris."}));
    add_rule(rules, std::nullopt, "block", ScriptedReply::say("done"));
    add_rule(rules, std::nullopt, "save_note", ScriptedReply::say("saved"));
    add_rule(rules, std::nullopt, "explode", ScriptedReply::say("recovered"));
    add_rule(rules, "weather", std::nullopt, ScriptedReply::call("get_weather", Json{{"city", "Paris"}}));
    add_rule(rules, "block", std::nullopt, ScriptedReply::call("block", Json::object()));
    add_rule(rules, "note", std::nullopt, ScriptedReply::call("save_note", Json{{"text", "remember"}}));
    add_rule(rules, "explode", std::nullopt, ScriptedReply::call("explode", Json::object()));
    add_rule(rules, "transfer", std::nullopt, ScriptedReply::call("transfer_to_agent", Json{{"agent_name", "helper"}}));
    add_rule(rules, "fail", std::nullopt, ScriptedReply::fail(kModelFailure));
    add_rule(rules, "refuse", std::nullopt, ScriptedReply::error("SAFETY", "blocked"));
    ScriptedReply slow = ScriptedReply::say("late");
    slow.delay = 3ms;
    add_rule(rules, "slow", std::nullopt, std::move(slow));
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::stream({"hi ", "there"}));  // anything else
    return adk::ScriptedLlm::make({}, std::move(rules));
}

adk::AgentPtr assistant(std::shared_ptr<Blocker> blocker) {
    Json city_schema = {{"type", "object"},
                        {"properties", {{"city", {{"type", "string"}}}}},
                        {"required", Json::array({"city"})}};
    Json empty_schema = {{"type", "object"}, {"properties", Json::object()}};
    Json note_schema = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}};
    std::shared_ptr<adk::ScriptedLlm> model = assistant_model();

    adk::LlmAgent::Options h;
    h.name = "helper";
    h.description = "Takes over when asked.";
    h.model = model;
    h.instruction = "You help {user_name?}.";

    adk::LlmAgent::Options o;
    o.name = "assistant";
    o.description = "Weather, notes, a tool that blocks and one that throws.";
    o.model = model;
    o.instruction = "Answer {user_name?} about {topic?}.";
    o.output_key = "last_answer";
    o.tools.push_back(adk::FunctionTool::make("get_weather", "The weather of a city", city_schema, get_weather));
    o.tools.push_back(adk::FunctionTool::make("block", "Blocks until released", empty_schema,
                                              [blocker](Json) { return block_until_released(blocker); }));
    o.tools.push_back(adk::FunctionTool::make("save_note", "Saves a note as an artifact", note_schema, save_note));
    o.tools.push_back(adk::FunctionTool::make("explode", "Throws", empty_schema, explode));
    o.sub_agents.push_back(adk::LlmAgent::make(std::move(h)));
    return adk::LlmAgent::make(std::move(o));
}

adk::AgentPtr team() {
    using adk::ScriptedReply;
    std::vector<adk::ScriptedRule> rules;
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::stream({"a ", "draft"}), "writer");
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::say("cats"), "cats");
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::say("dogs"), "dogs");
    add_rule(rules, "fail", std::nullopt, ScriptedReply::fail(kModelFailure));
    add_rule(rules, std::nullopt, std::nullopt, ScriptedReply::say("ok"));
    std::shared_ptr<adk::ScriptedLlm> model = adk::ScriptedLlm::make({}, std::move(rules));
    auto agent = [&](std::string name, std::string instruction, std::string output_key) {
        adk::LlmAgent::Options o;
        o.name = std::move(name);
        o.model = model;
        o.instruction = std::move(instruction);
        o.output_key = std::move(output_key);
        return adk::LlmAgent::make(std::move(o));
    };
    adk::AgentPtr writer = agent("writer", "Write about {topic?}.", "draft");
    adk::AgentPtr cats = agent("cats", "Review {draft?}.", "cats_note");
    adk::AgentPtr dogs = agent("dogs", "Review {draft?} for {user_name?}.", "dogs_note");
    adk::AgentPtr reviewers = adk::ParallelAgent::make("reviewers", {cats, dogs});
    return adk::SequentialAgent::make("team", {writer, reviewers}, "A writer, then two reviewers at once.");
}

// --- the client side -------------------------------------------------------------------

struct Expect {
    std::string method;
    bool allowed_origin = false;
};

struct Conn {
    aio::StreamReader reader;
    aio::StreamWriter writer;
    std::deque<Expect> pending;  // requests sent and not answered yet (well-framed only)
    bool lenient = false;        // the framing may be off: answers are not matched to requests
    bool closing = false;        // no more requests on it (half-closed, or the server said close)
    bool eof_sent = false;
    bool finished = false;       // the server closed it
    aio::Task<void> task;        // the reader
};

struct Harness {
    std::shared_ptr<Blocker> blocker = std::make_shared<Blocker>();
    std::uint16_t port = 0;
    std::vector<std::shared_ptr<Conn>> conns;  // every connection opened (old ones stay until they end)
    std::shared_ptr<Conn> slot[kConnections];
    std::string invocation_id = "e-none";
    std::uint64_t progress = 0;  // bytes of answers read
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

struct Response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;

    const std::string* header(std::string_view name) const {
        for (const auto& [k, v] : headers)
            if (k == name) return &v;
        return nullptr;
    }
};

enum class ReadEnd { response, eof, truncated, malformed };

struct ReadResult {
    ReadEnd end = ReadEnd::response;
    Response response;
    std::string why;
};

void note_invocation_ids(Harness& h, std::string_view text) {
    static constexpr std::string_view key = "\"invocationId\":\"";
    for (std::size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
        std::size_t start = at + key.size();
        std::size_t stop = text.find('"', start);
        if (stop == std::string_view::npos || stop - start > 100) continue;
        std::string id(text.substr(start, stop - start));
        if (!id.empty() && id.rfind("p-", 0) != 0) h.invocation_id = std::move(id);
    }
}

/// One line ending in CRLF, without it. Throws IncompleteReadError at EOF.
aio::Coro<std::string> read_line(aio::StreamReader& reader) {
    std::string line = co_await reader.readuntil("\r\n");
    line.resize(line.size() - 2);
    co_return line;
}

/// Reads one answer (an answer to HEAD, the request `c` expects next, has no
/// body whatever its headers say).
aio::Coro<ReadResult> read_response(Harness& h, Conn& c) {
    ReadResult out;
    bool started = false;
    try {
        std::string status_line;
        try {
            aio::Coro<std::string> reading = read_line(c.reader);
            status_line = co_await std::move(reading);
        } catch (const aio::IncompleteReadError& e) {
            out.end = e.partial().empty() ? ReadEnd::eof : ReadEnd::truncated;
            out.why = "EOF in the status line";
        }
        if (out.end != ReadEnd::response) co_return out;
        started = true;
        h.progress += status_line.size() + 2;
        const bool version_ok =
            status_line.compare(0, 9, "HTTP/1.1 ") == 0 || status_line.compare(0, 9, "HTTP/1.0 ") == 0;
        const bool digits_ok = status_line.size() >= 12 && std::isdigit(static_cast<unsigned char>(status_line[9])) &&
                               std::isdigit(static_cast<unsigned char>(status_line[10])) &&
                               std::isdigit(static_cast<unsigned char>(status_line[11]));
        if (!version_ok || !digits_ok || (status_line.size() > 12 && status_line[12] != ' ')) {
            out.end = ReadEnd::malformed;
            out.why = "bad status line: " + status_line;
            co_return out;
        }
        out.response.status = std::atoi(status_line.substr(9, 3).c_str());
        for (int n = 0;; ++n) {
            if (n > 200) {
                out.end = ReadEnd::malformed;
                out.why = "more than 200 header lines";
                co_return out;
            }
            aio::Coro<std::string> reading = read_line(c.reader);
            std::string line = co_await std::move(reading);
            h.progress += line.size() + 2;
            if (line.empty()) break;
            std::size_t colon = line.find(':');
            if (colon == std::string::npos || colon == 0) {
                out.end = ReadEnd::malformed;
                out.why = "bad header line: " + line;
                co_return out;
            }
            std::size_t v = colon + 1;
            while (v < line.size() && line[v] == ' ') ++v;
            out.response.headers.emplace_back(lower(line.substr(0, colon)), line.substr(v));
        }
        Response& r = out.response;
        if (r.status >= 100 && r.status < 200) co_return out;
        // Known only now: the request may have been sent while we waited.
        const bool head = !c.lenient && !c.pending.empty() && c.pending.front().method == "HEAD";
        if (head || r.status == 204 || r.status == 304) co_return out;
        const std::string* te = r.header("transfer-encoding");
        const std::string* cl = r.header("content-length");
        if (te && lower(*te) == "chunked") {
            for (;;) {
                aio::Coro<std::string> reading = read_line(c.reader);
                std::string size_line = co_await std::move(reading);
                std::size_t size = 0;
                std::size_t used = 0;
                for (char ch : size_line) {
                    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                                              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
                    if (d < 0) break;
                    size = size * 16 + static_cast<std::size_t>(d);
                    if (++used > 8) break;
                }
                if (used == 0 || used > 8) {
                    out.end = ReadEnd::malformed;
                    out.why = "bad chunk size line: " + size_line;
                    co_return out;
                }
                if (size == 0) {
                    for (;;) {  // trailers
                        aio::Coro<std::string> trailing = read_line(c.reader);
                        std::string trailer = co_await std::move(trailing);
                        if (trailer.empty()) break;
                    }
                    break;
                }
                std::string chunk = co_await c.reader.readexactly(size + 2);
                if (chunk.compare(size, 2, "\r\n") != 0) {
                    out.end = ReadEnd::malformed;
                    out.why = "a chunk not followed by CRLF";
                    co_return out;
                }
                chunk.resize(size);
                h.progress += size + size_line.size() + 4;
                note_invocation_ids(h, chunk);
                r.body += chunk;
            }
        } else if (cl) {
            std::size_t n = std::strtoull(cl->c_str(), nullptr, 10);
            if (n > 64 * 1024 * 1024) {
                out.end = ReadEnd::malformed;
                out.why = "Content-Length " + *cl;
                co_return out;
            }
            if (n > 0) {
                std::string body = co_await c.reader.readexactly(n);
                r.body = std::move(body);
            }
            h.progress += n;
        } else {
            std::string body = co_await c.reader.read(-1);  // delimited by the close (HTTP/1.0)
            r.body = std::move(body);
            h.progress += r.body.size() + 1;
            note_invocation_ids(h, r.body);
        }
        note_invocation_ids(h, r.body);
    } catch (const aio::IncompleteReadError&) {
        out.end = started ? ReadEnd::truncated : ReadEnd::eof;
        out.why = "EOF within an answer";
    } catch (const aio::LimitOverrunError&) {
        out.end = ReadEnd::malformed;
        out.why = "a line longer than the reader's limit";
    } catch (const aio::ConnectionError& e) {
        out.end = started ? ReadEnd::truncated : ReadEnd::eof;
        out.why = std::string("connection error: ") + e.what();
    }
    co_return out;
}

bool is_error_json(const std::string& body) {
    Json j = Json::parse(body, nullptr, false);
    return j.is_object() && j.contains("error") && j["error"].is_string();
}

/// The checks on one answer. `expect` is null for a desynchronised connection.
void check_response(const Response& r, const Expect* expect, bool lenient) {
    const int s = r.status;
    const bool head = expect && expect->method == "HEAD";
    switch (s) {
        case 200: case 202: case 400: case 403: case 404: case 405: case 409: case 413: case 414: case 431:
        case 503:
            break;
        case 408:
            if (!lenient) fail("408 on a well-framed request");
            break;
        case 500:
            if (!head && r.body.find(kModelFailure) == std::string::npos)
                fail("500 that is not the scripted model failure: " + r.body);
            break;
        default: fail("undocumented status " + std::to_string(s) + ": " + r.body);
    }
    const std::string* type = r.header("content-type");
    if (s >= 400 && !head && !is_error_json(r.body))
        fail("a " + std::to_string(s) + " answer whose body is not {\"error\": ...}: " + r.body.substr(0, 500));
    if (s < 300 && !head && type && type->rfind("application/json", 0) == 0) {
        if (!Json::accept(r.body)) fail("a 2xx JSON answer that is not JSON: " + r.body.substr(0, 500));
    }
    if (s == 200 && type && type->rfind("text/event-stream", 0) == 0) {
        std::size_t at = 0;
        while (at < r.body.size()) {
            std::size_t end = r.body.find('\n', at);
            if (end == std::string::npos) fail("an SSE stream not ending with a newline");
            std::string_view line(r.body.data() + at, end - at);
            at = end + 1;
            if (line.empty()) continue;
            if (line.rfind("data: ", 0) != 0) fail("an SSE line that is not data: " + std::string(line));
            if (!Json::accept(line.substr(6))) fail("an SSE payload that is not JSON: " + std::string(line));
        }
    }
    // 405 included: the Router's own answers (found without CORS by this
    // target; corpus/fuzz_api_server/cors_405).
    if (expect && expect->allowed_origin &&
        (s == 200 || s == 202 || s == 404 || s == 409 || s == 405) &&
        !r.header("access-control-allow-origin"))
        fail("an answer to an allowed origin without Access-Control-Allow-Origin (" + std::to_string(s) + ")");
}

/// A lenient connection: the answers are read until the server closes the
/// connection (it must), and must look like HTTP/1.x.
aio::Coro<void> drain_lenient(Harness& h, Conn& c) {
    std::string head;
    for (;;) {
        std::string chunk;
        bool lost = false;
        try {
            chunk = co_await c.reader.read(64 * 1024);
        } catch (const aio::ConnectionError&) {
            lost = true;
        }
        if (lost || chunk.empty()) break;
        h.progress += chunk.size();
        if (head.size() < 9) head += chunk.substr(0, 9 - head.size());
    }
    if (!head.empty() && head.rfind("HTTP/1.", 0) != 0 && std::string_view("HTTP/1.").substr(0, head.size()) != head)
        fail("an answer that is not HTTP/1.x: " + head);
}

aio::Coro<void> read_loop(Harness* h, std::shared_ptr<Conn> c) {
    if (c->lenient) {
        aio::Coro<void> draining = drain_lenient(*h, *c);
        co_await std::move(draining);
        c->finished = true;
        c->closing = true;
        co_return;
    }
    bool said_close = false;
    for (;;) {
        aio::Coro<ReadResult> reading = read_response(*h, *c);
        ReadResult got = co_await std::move(reading);
        if (got.end == ReadEnd::eof) {
            if (!c->pending.empty() && !c->lenient && !said_close && !c->eof_sent)
                fail("the server closed a connection with " + std::to_string(c->pending.size()) +
                     " request(s) unanswered (next: " + c->pending.front().method + ")");
            break;
        }
        if (got.end == ReadEnd::malformed) fail("a malformed answer: " + got.why);
        if (got.end == ReadEnd::truncated) {
            if (!c->lenient && !c->eof_sent) fail("a truncated answer: " + got.why);
            break;
        }
        const Response& r = got.response;
        if (r.status >= 100 && r.status < 200) {
            if (r.status != 100) fail("an interim answer other than 100 Continue");
            continue;
        }
        std::optional<Expect> expect;
        if (!c->lenient) {
            if (c->pending.empty()) {
                if (r.status != 408 && !c->eof_sent)
                    fail("an answer (" + std::to_string(r.status) + ") to no request: " + r.body.substr(0, 300));
            } else {
                expect = std::move(c->pending.front());
                c->pending.pop_front();
            }
        }
        if (g_trace)
            std::fprintf(stderr, "   <- %d %s\n", r.status, r.body.substr(0, 160).c_str());
        check_response(r, expect ? &*expect : nullptr, c->lenient || !expect);
        if (const std::string* conn = r.header("connection"); conn && lower(*conn) == "close") {
            said_close = true;
            c->closing = true;
        }
    }
    c->finished = true;
    c->pending.clear();
    c->closing = true;
}

// --- playing a script ------------------------------------------------------------------

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        char e = s[++i];
        switch (e) {
            case 'r': out += '\r'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case '0': out += '\0'; break;
            case 'x':
                if (i + 2 < s.size()) {
                    out += static_cast<char>(std::strtol(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16));
                    i += 2;
                } else {
                    out += 'x';
                }
                break;
            default: out += e;
        }
    }
    return out;
}

std::string substitute(std::string_view s, const Harness& h) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == 'i') {
            out += h.invocation_id;
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool known_method(std::string_view m) {
    return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "HEAD" ||
           m == "OPTIONS";
}

bool plain_target(std::string_view t) {
    if (t.empty() || t[0] != '/') return false;
    for (char ch : t) {
        auto u = static_cast<unsigned char>(ch);
        if (u <= 0x20 || u >= 0x7f) return false;
    }
    return true;
}

/// The connection in slot `k`, opened now if it has none that takes
/// requests. A request whose framing may be off gets a `lenient` connection
/// of its own (the previous one goes on with what it has pending): its
/// answers cannot be matched to requests (a HEAD's would be misread).
aio::Coro<std::shared_ptr<Conn>> connection(Harness& h, int k, bool lenient) {
    std::shared_ptr<Conn>& c = h.slot[k];
    if (c && !c->closing && !c->finished && !lenient) co_return c;
    aio::Coro<aio::StreamPair> opening = aio::open_connection("127.0.0.1", h.port);
    aio::StreamPair pair = co_await std::move(opening);
    auto fresh = std::make_shared<Conn>();
    fresh->lenient = lenient;
    fresh->reader = std::move(pair.first);
    fresh->writer = std::move(pair.second);
    aio::Coro<void> reading = read_loop(&h, fresh);
    fresh->task = aio::create_task(std::move(reading));
    h.conns.push_back(fresh);
    c = fresh;
    co_return c;
}

/// Writes `bytes`; a connection the server has closed just takes nothing.
aio::Coro<void> send(Conn& c, std::string bytes) {
    bool lost = false;
    try {
        c.writer.write(bytes);
        co_await c.writer.drain();
    } catch (const std::exception&) {
        lost = true;
    }
    if (lost) c.closing = true;
}

void half_close(Conn& c) {
    if (c.eof_sent) return;
    c.eof_sent = true;
    c.closing = true;
    try {
        c.writer.write_eof();
    } catch (const std::exception&) {
    }
}

bool all_answered(const Harness& h) {
    for (const auto& c : h.conns)
        if (!c->finished && !c->lenient && !c->pending.empty()) return false;
    return true;
}

/// Lets the loop run until `c` (null: every connection) has no request
/// pending, or nothing moved for a while: 2 ms while a `block` tool waits
/// (what is pending waits for it), 5 ms otherwise; 100 ms at most. Keeps
/// the scripts about as deterministic as a loop over real sockets allows.
aio::Coro<void> settle(Harness& h, Conn* c) {
    aio::EventLoop& loop = aio::get_running_loop();
    auto idle_since = loop.time();
    std::uint64_t seen = h.progress;
    const auto give_up = loop.time() + 100ms;
    while (loop.time() < give_up) {
        if (c ? c->pending.empty() || c->finished : all_answered(h)) break;
        co_await aio::sleep(20us);
        if (h.progress != seen) {
            seen = h.progress;
            idle_since = loop.time();
        } else if (loop.time() - idle_since > (h.blocker->waiting > 0 ? 2ms : 5ms)) {
            break;
        }
    }
}

/// One request step: "<flags> <METHOD> <target> <body>".
aio::Coro<void> play_request(Harness& h, std::string_view line) {
    std::size_t sp1 = line.find(' ');
    std::string_view flags = line.substr(0, sp1);
    std::string_view rest = sp1 == std::string_view::npos ? std::string_view() : line.substr(sp1 + 1);
    int k = !flags.empty() && flags[0] >= '0' && flags[0] < '0' + kConnections ? flags[0] - '0' : 0;
    auto has = [&](char f) { return flags.find(f) != std::string_view::npos; };

    if (has('r')) {
        aio::Coro<std::shared_ptr<Conn>> opening = connection(h, k, true);
        std::shared_ptr<Conn> c = co_await std::move(opening);
        std::string raw = unescape(substitute(rest, h));
        aio::Coro<void> sending = send(*c, std::move(raw));
        co_await std::move(sending);
        half_close(*c);
        aio::Coro<void> settling = settle(h, nullptr);
        co_await std::move(settling);
        co_return;
    }

    std::size_t sp2 = rest.find(' ');
    std::string method(rest.substr(0, sp2));
    std::string_view after = sp2 == std::string_view::npos ? std::string_view() : rest.substr(sp2 + 1);
    std::size_t sp3 = after.find(' ');
    std::string target = substitute(after.substr(0, sp3), h);
    std::string body = sp3 == std::string_view::npos ? std::string() : substitute(after.substr(sp3 + 1), h);
    if (method.empty()) method = "GET";
    if (target.empty()) target = "/";

    const bool http10 = has('h');
    const bool chunked = has('k') && !http10;
    const bool wrong_length = has('l');
    const std::string host = "127.0.0.1:" + std::to_string(h.port);
    std::string req = method + " " + target + (http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    req += "Host: " + host + "\r\n";
    bool allowed = false;
    if (has('o')) {
        req += std::string("Origin: ") + kAllowedOrigin + "\r\n";
        allowed = true;
    } else if (has('x')) {
        req += std::string("Origin: ") + kForeignOrigin + "\r\n";
    } else if (has('s')) {
        req += "Origin: http://" + host + "\r\n";
    }
    if (has('p')) req += "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n";
    if (has('c')) req += "Connection: close\r\n";
    if (has('e')) req += "Expect: 100-continue\r\n";
    if (!body.empty()) req += "Content-Type: application/json\r\n";
    if (chunked) {
        req += "Transfer-Encoding: chunked\r\n\r\n";
        std::size_t half = body.size() / 2;
        char size[32];
        if (half > 0) {
            std::snprintf(size, sizeof size, "%zx\r\n", half);
            req += size + body.substr(0, half) + "\r\n";
        }
        if (body.size() > half) {
            std::snprintf(size, sizeof size, "%zx\r\n", body.size() - half);
            req += size + body.substr(half) + "\r\n";
        }
        req += "0\r\n\r\n";
    } else {
        std::size_t length = body.size();
        if (wrong_length) length = body.size() % 2 ? length + 3 : (length > 0 ? length - 1 : 7);
        if (length > 0 || method == "POST" || method == "PUT" || method == "PATCH")
            req += "Content-Length: " + std::to_string(length) + "\r\n";
        req += "\r\n" + body;
    }

    const bool framed = known_method(method) && plain_target(target) && !wrong_length;
    aio::Coro<std::shared_ptr<Conn>> opening = connection(h, k, !framed);
    std::shared_ptr<Conn> c = co_await std::move(opening);
    if (framed) {
        Expect e;
        e.method = method;
        e.allowed_origin = allowed;
        c->pending.push_back(std::move(e));
    }
    aio::Coro<void> sending = send(*c, std::move(req));
    co_await std::move(sending);
    if (!framed) half_close(*c);          // whatever the server makes of it, it ends here
    if (http10 || has('c')) c->closing = true;  // the server closes after the answer
    if (!has('b')) {
        aio::Coro<void> settling = settle(h, c.get());
        co_await std::move(settling);
    }
}

bool all_finished(const Harness& h) {
    for (const auto& c : h.conns)
        if (!c->finished) return false;
    return true;
}

/// Waits (loop time, bounded) until `done(h)`; false if the bound passed.
aio::Coro<bool> wait_until(Harness& h, bool (*done)(const Harness&)) {
    aio::EventLoop& loop = aio::get_running_loop();
    const auto deadline = loop.time() + kBound;
    while (!done(h)) {
        if (loop.time() > deadline) co_return false;
        co_await aio::sleep(50us);
    }
    co_return true;
}

/// One GET on a new connection, answered within the bound.
aio::Coro<Response> probe(Harness& h, std::string target) {
    auto c = std::make_shared<Conn>();
    auto exchange = [&h, c, target]() -> aio::Coro<ReadResult> {
        aio::Coro<aio::StreamPair> opening = aio::open_connection("127.0.0.1", h.port);
        aio::StreamPair pair = co_await std::move(opening);
        c->reader = std::move(pair.first);
        c->writer = std::move(pair.second);
        std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        c->writer.write(req);
        co_await c->writer.drain();
        aio::Coro<ReadResult> reading = read_response(h, *c);
        ReadResult got = co_await std::move(reading);
        co_return got;
    };
    std::optional<ReadResult> got;
    try {
        aio::Coro<ReadResult> bounded = aio::timeout(kBound, std::move(exchange));
        got = co_await std::move(bounded);
    } catch (const aio::TimeoutError&) {
        fail("the server does not answer GET " + target + " any more (wedged)");
    }
    if (got->end != ReadEnd::response) fail("GET " + target + " after the script: " + got->why);
    if (c->writer) c->writer.close();
    Expect e;
    e.method = "GET";
    check_response(got->response, &e, false);
    co_return std::move(got->response);
}

double loop_ms() {
    return std::chrono::duration<double, std::milli>(aio::get_running_loop().time().time_since_epoch()).count();
}

void trace_time(const char* what) {
    if (g_trace) std::fprintf(stderr, "   %.3f ms: %s\n", loop_ms(), what);
}

aio::Coro<void> play(std::string input) {
    Harness h;
    adk::ApiServerOptions options;
    options.http.port = 0;
    options.http.max_header_bytes = 2048;
    options.http.max_headers = 24;
    options.http.max_body_bytes = 2048;
    options.http.request_timeout = 20s;
    options.http.idle_timeout = 20s;
    options.http.write_timeout = 20s;
    options.allow_origins = {kAllowedOrigin};
    options.max_invocations = 2;
    options.cancel_wait = 1s;
#ifdef FUZZ_API_WITH_SQLITE
    std::shared_ptr<adk::SqliteSessionService> sqlite;
    if (input.rfind("!sqlite\n", 0) == 0) {
        sqlite = std::make_shared<adk::SqliteSessionService>(":memory:");
        aio::Coro<void> opening = sqlite->ready();
        co_await std::move(opening);
        options.session_service = sqlite;
    }
#endif
    adk::ApiServer server(std::move(options));
    server.add_app("assistant", assistant(h.blocker));
    adk::RunnerFactory make_team = [](const adk::AppServices& s) {
        return std::make_shared<adk::Runner>(s.app_name, team(), s.session_service, s.artifact_service);
    };
    server.add_app("team", std::move(make_team));
    aio::Coro<> starting = server.start();
    co_await std::move(starting);
    h.port = server.port();

    std::size_t steps = 0;
    std::size_t at = 0;
    while (at < input.size() && steps < kMaxSteps) {
        std::size_t nl = input.find('\n', at);
        if (nl == std::string::npos) nl = input.size();
        std::string line = input.substr(at, nl - at);
        at = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        ++steps;
        g_step = line.substr(0, 300);
        if (g_trace) std::fprintf(stderr, "-> %.3f ms: %s\n", loop_ms(), g_step.c_str());
        if (line == "!sqlite") {
            // chosen before the server was made (first line only)
        } else if (line == "!release") {
            h.blocker->release.set();
        } else if (line.rfind("!eof", 0) == 0) {
            int k = line.size() > 4 && line[4] >= '0' && line[4] < '0' + kConnections ? line[4] - '0' : 0;
            if (h.slot[k]) half_close(*h.slot[k]);
            aio::Coro<void> settling = settle(h, nullptr);
            co_await std::move(settling);
        } else if (line == "!wait") {
            aio::Coro<void> settling = settle(h, nullptr);
            co_await std::move(settling);
        } else {
            aio::Coro<void> playing = play_request(h, line);
            co_await std::move(playing);
        }
    }

    // The end: nothing may stay stuck.
    g_step = "(end of the script)";
    h.blocker->release.set();
    aio::Coro<bool> answering = wait_until(h, all_answered);
    bool answered = co_await std::move(answering);
    trace_time("answered");
    if (!answered) {
        for (const auto& c : h.conns)
            if (!c->finished && !c->lenient && !c->pending.empty())
                fail("wedged: " + c->pending.front().method + " unanswered " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kBound).count()) +
                     " s after the block tool was released (" + std::to_string(c->pending.size()) + " pending)");
    }
    for (const auto& c : h.conns) half_close(*c);
    aio::Coro<bool> closing = wait_until(h, all_finished);
    bool closed = co_await std::move(closing);
    trace_time("closed");
    if (!closed) fail("wedged: a connection the client half-closed stays open");
    for (const auto& c : h.conns) {
        co_await c->task;
        c->writer.close();
    }
    aio::Coro<Response> probing = probe(h, "/health");
    Response health = co_await std::move(probing);
    trace_time("probe1");
    if (health.status != 200) fail("GET /health answers " + std::to_string(health.status));
    probing = probe(h, "/apps/assistant/users/u1/sessions/s1");
    Response session = co_await std::move(probing);
    if (session.status != 200 && session.status != 404)
        fail("GET of session s1 answers " + std::to_string(session.status));
    probing = probe(h, "/apps/team/users/u1/sessions");
    Response listing = co_await std::move(probing);
    trace_time("probe3");
    if (listing.status != 200) fail("listing team's sessions answers " + std::to_string(listing.status));

    bool shut = true;
    try {
        aio::Coro<void> closing_server = server.aclose();
        aio::Coro<void> bounded = aio::timeout(kBound, std::move(closing_server));
        co_await std::move(bounded);
    } catch (const aio::TimeoutError&) {
        shut = false;
    }
    if (!shut) fail("ApiServer::aclose() does not return");
    trace_time("aclosed");
    if (server.stats().active_runs != 0)
        fail("active_runs is " + std::to_string(server.stats().active_runs) + " after aclose()");
#ifdef FUZZ_API_WITH_SQLITE
    if (sqlite) {
        aio::Coro<void> closing_sqlite = sqlite->aclose();
        co_await std::move(closing_sqlite);
    }
#endif
}

aio::Runner* g_runner = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // the short sleeps of settle() stay short
    g_trace = std::getenv("FUZZ_API_TRACE") != nullptr;
    aio::set_log_handler([](aio::LogLevel, std::string_view message) {
        if (g_trace) std::fprintf(stderr, "   log: %.*s\n", static_cast<int>(message.size()), message.data());
    });
    aio::RunOptions options;
    // Debug mode: an AsyncGenerator or AsyncExitStack destroyed before its
    // async cleanup ran is reported to the exception handler, like a task
    // whose exception nobody retrieved. Any report is a failure.
    options.debug = true;
    options.call_graph_signal = 0;  // libFuzzer owns SIGUSR1
    g_runner = new aio::Runner(options);
    g_runner->get_loop().slow_callback_duration = std::chrono::hours(1);
    g_runner->get_loop().set_exception_handler([](aio::EventLoop&, const aio::ExceptionContext& context) {
        // Every report fails the input, "destroyed before its async cleanup
        // ran" included (found in ScriptedLlm by this target;
        // corpus/fuzz_api_server/regress_skipped_cleanup).
        std::string what = "the loop's exception handler was called: " + context.message;
        if (context.exception) what += " (" + aio::describe_exception(context.exception) + ")";
        if (!context.task_name.empty()) what += " in task " + context.task_name;
        fail(what);
    });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > kMaxInput) return -1;
    std::string input(reinterpret_cast<const char*>(data), size);
    g_runner->run(play(std::move(input)));
    return 0;
}
