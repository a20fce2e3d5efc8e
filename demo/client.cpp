// adk-demo-client: the client side of the main job (`make demo`,
// docs/demo.md). It talks to adk-server over ADK's HTTP API with
// aio::http::Client: creates a session, POSTs /run_sse, prints each event the
// moment it arrives (time since the run started, author, kind, details: one
// line each), then a one-screen summary — events, tool calls, wall time
// against the sum of the agents' steps, and a timeline where the parallel
// researchers visibly overlap.
//
//   adk-demo-client --url http://127.0.0.1:8000 [--app trip_planner] [--message TEXT]
//                   [--user ID] [--streaming] [--wait SECONDS] [--timeout SECONDS]
//                   [--check] [--expect-state K1,K2] [--expect-tools T1,T2] [--ascii] [--no-color]
//
// Lines are cut to the terminal's width (120 columns when not a terminal,
// or $COLUMNS).
//
// Exit status: 0 when the run ended normally (and every --check / --expect
// held), 1 when the run failed or a check did not hold, 2 on bad arguments.
//
// The summary's "steps" come from the events' own timestamps (set by the
// server when each event was made): a step of an agent ends at one of its
// events and starts at the latest earlier event the agent could have
// waited for — an event on its own branch, an ancestor's or a descendant's,
// never a parallel sibling's (their branches diverge). A step ending with
// function responses is tool time, any other step is model time (the model
// call and the request building around it). Summed over all agents, the
// steps exceed the wall time exactly by the work that ran in parallel.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adk/event.hpp"
#include "aio/http/client.hpp"
#include "aio/http/sse.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/timeout.hpp"

namespace {

using adk::Json;
using Seconds = std::chrono::duration<double>;

// ---- options ---------------------------------------------------------------------------

struct Options {
    std::string url = "http://127.0.0.1:8000";
    std::string app = "trip_planner";
    std::string user = "demo_user";
    std::string message = "Plan a 3-day trip from Paris to Lisbon in May.";
    bool streaming = false;
    double wait_seconds = 0;      // wait that long for GET /health to answer
    double timeout_seconds = 55;  // the whole run
    bool check = false;
    std::vector<std::string> expect_state;
    std::vector<std::string> expect_tools;
    bool ascii = false;
    bool color = false;
    int width = 120;  // a terminal: its width (at most 160)
};

[[noreturn]] void usage(int code) {
    std::fprintf(code == 0 ? stdout : stderr,
                 "usage: adk-demo-client [--url URL] [--app APP] [--user ID] [--message TEXT] [--streaming]\n"
                 "                       [--wait SECONDS] [--timeout SECONDS] [--check]\n"
                 "                       [--expect-state K1,K2] [--expect-tools T1,T2] [--ascii] [--no-color]\n"
                 "Runs one conversation through adk-server's /run_sse and prints its events as they stream,\n"
                 "then a summary. --check: fail unless the run escalated, two agents' tools overlapped in\n"
                 "time and no tool returned an error. See docs/demo.md.\n");
    std::exit(code);
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= list.size()) {
        std::size_t comma = list.find(',', pos);
        std::string one = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!one.empty()) out.push_back(one);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

double parse_seconds(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || !end || *end || !(d >= 0)) {
        std::fprintf(stderr, "adk-demo-client: bad value '%s' for %s\n", v.c_str(), flag.c_str());
        usage(2);
    }
    return d;
}

Options parse_args(int argc, char** argv) {
    Options o;
    o.color = ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
    struct winsize ws {};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 60)
        o.width = std::min<int>(ws.ws_col, 160);
    else if (const char* cols = std::getenv("COLUMNS"); cols && std::atoi(cols) >= 60)
        o.width = std::min(std::atoi(cols), 160);
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "adk-demo-client: %s needs a value\n", a.c_str());
                usage(2);
            }
            return argv[++i];
        };
        if (a == "--url") {
            o.url = value();
            while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
        } else if (a == "--app") {
            o.app = value();
        } else if (a == "--user") {
            o.user = value();
        } else if (a == "--message") {
            o.message = value();
        } else if (a == "--streaming") {
            o.streaming = true;
        } else if (a == "--wait") {
            o.wait_seconds = parse_seconds(a, value());
        } else if (a == "--timeout") {
            o.timeout_seconds = parse_seconds(a, value());
        } else if (a == "--check") {
            o.check = true;
        } else if (a == "--expect-state") {
            o.expect_state = split_list(value());
        } else if (a == "--expect-tools") {
            o.expect_tools = split_list(value());
        } else if (a == "--ascii") {
            o.ascii = true;
        } else if (a == "--no-color") {
            o.color = false;
        } else if (a == "--help" || a == "-h") {
            usage(0);
        } else {
            std::fprintf(stderr, "adk-demo-client: unknown argument '%s'\n", a.c_str());
            usage(2);
        }
    }
    return o;
}

// ---- text helpers ----------------------------------------------------------------------

/// Display columns of UTF-8 text (one per code point; good enough here).
std::size_t columns(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

/// `s` on one line (newlines shown as ⏎ or |), cut to `max` columns with "…".
std::string one_line(const std::string& s, std::size_t max, bool ascii) {
    std::string flat;
    for (char c : s) {
        if (c == '\n') flat += ascii ? " | " : " ⏎ ";
        else if (c == '\r' || c == '\t') flat += ' ';
        else flat += c;
    }
    if (columns(flat) <= max) return flat;
    std::string out;
    std::size_t n = 0;
    for (std::size_t i = 0; i < flat.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(flat[i]);
        if ((c & 0xC0) != 0x80) {
            if (n + 1 >= max) break;
            ++n;
        }
        out += flat[i];
    }
    return out + (ascii ? "~" : "…");
}

std::string fixed(double v, int decimals = 2) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string pad(std::string s, std::size_t width) {
    std::size_t n = columns(s);
    if (n < width) s.append(width - n, ' ');
    return s;
}

std::string url_component(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

/// A JSON value as compact text; strings without their quotes.
std::string show(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// ---- colours ---------------------------------------------------------------------------

class Palette {
public:
    explicit Palette(bool on) : on_(on) {}
    std::string author(const std::string& name) {
        if (!on_) return name;
        static const int colors[] = {36, 33, 35, 32, 34, 91, 96, 93};
        auto it = assigned_.find(name);
        if (it == assigned_.end()) it = assigned_.emplace(name, colors[assigned_.size() % 8]).first;
        return "\x1b[" + std::to_string(it->second) + "m" + name + "\x1b[0m";
    }
    std::string dim(const std::string& s) const { return on_ ? "\x1b[2m" + s + "\x1b[0m" : s; }
    std::string bold(const std::string& s) const { return on_ ? "\x1b[1m" + s + "\x1b[0m" : s; }
    std::string red(const std::string& s) const { return on_ ? "\x1b[31m" + s + "\x1b[0m" : s; }
    std::string green(const std::string& s) const { return on_ ? "\x1b[32m" + s + "\x1b[0m" : s; }

private:
    bool on_;
    std::map<std::string, int> assigned_;
};

// ---- what was seen ---------------------------------------------------------------------

struct Seen {
    adk::Event event;
    double arrived = 0;  // seconds since the run started (client clock)
};

struct Step {
    std::string agent;
    double start = 0, end = 0;  // seconds since the run started
    bool tool = false;
};

bool branch_related(const std::string& a, const std::string& b) {
    auto under = [](const std::string& x, const std::string& prefix) {
        return prefix.empty() || x == prefix || (x.size() > prefix.size() && x.compare(0, prefix.size(), prefix) == 0 &&
                                                 x[prefix.size()] == '.');
    };
    return under(a, b) || under(b, a);
}

std::vector<Step> steps_of(const std::vector<Seen>& events, double t0_epoch) {
    std::vector<Step> steps;
    std::vector<const adk::Event*> done;
    for (const Seen& s : events) {
        const adk::Event& e = s.event;
        if (e.is_partial()) continue;
        std::string branch = e.branch.value_or("");
        double start = t0_epoch;
        for (const adk::Event* prev : done)
            if (branch_related(prev->branch.value_or(""), branch)) start = std::max(start, prev->timestamp);
        Step step;
        step.agent = e.author;
        step.start = std::max(0.0, start - t0_epoch);
        step.end = std::max(step.start, e.timestamp - t0_epoch);
        step.tool = !e.function_responses().empty();
        steps.push_back(step);
        done.push_back(&e);
    }
    return steps;
}

struct Tally {
    std::size_t events = 0, partial = 0, model_turns = 0, tool_calls = 0, tool_results = 0, state_only = 0;
    std::vector<std::string> tools_called;  // in order, with repeats
    std::vector<std::string> tool_errors;
    std::vector<std::string> agents;  // by first appearance
    std::optional<std::string> escalated_by;
    double escalated_at = 0;
};

// ---- printing one event ----------------------------------------------------------------

class Printer {
public:
    Printer(const Options& o, Palette& p) : o_(o), p_(p) {}

    void print(const Seen& s, Tally& t) {
        const adk::Event& e = s.event;
        if (std::find(t.agents.begin(), t.agents.end(), e.author) == t.agents.end()) t.agents.push_back(e.author);
        if (e.is_partial()) ++t.partial;
        else ++t.events;

        std::string kind;
        std::string detail;
        std::vector<adk::FunctionCall> calls = e.function_calls();
        std::vector<adk::FunctionResponse> responses = e.function_responses();
        std::string text = e.content ? e.content->text() : std::string();
        std::vector<std::string> pieces;  // one per call or result, sharing the line
        std::vector<std::string> heads;   // the part of each piece that is never cut
        if (!calls.empty()) {
            kind = "tool call";
            for (const adk::FunctionCall& c : calls) {
                heads.push_back(c.name);
                pieces.push_back(c.name + "(" + compact(c.args, false) + ")");
                call_arrival_[c.id] = s.arrived;
                ++t.tool_calls;
                t.tools_called.push_back(c.name);
            }
            ++t.model_turns;
        } else if (!responses.empty()) {
            kind = "tool result";
            for (const adk::FunctionResponse& r : responses) {
                std::string took;
                if (auto it = call_arrival_.find(r.id); it != call_arrival_.end())
                    took = " (" + fixed(s.arrived - it->second) + " s)";
                heads.push_back(r.name + took);
                pieces.push_back(r.name + took + " " + (o_.ascii ? "-> " : "→ ") + result_text(r.response));
                ++t.tool_results;
                if (r.response.is_object() && (r.response.contains("error") || r.response.value("isError", false)))
                    t.tool_errors.push_back(r.name + ": " + one_line(r.response.dump(), 120, o_.ascii));
            }
        } else if (!text.empty()) {
            kind = e.is_partial() ? "streaming" : "text";
            detail = "\"" + text + "\"";
            if (!e.is_partial()) ++t.model_turns;
        } else if (e.error_code || e.error_message) {
            kind = "model error";
            detail = e.error_code.value_or("") + " " + e.error_message.value_or("");
        } else {
            kind = "state";
            ++t.state_only;
        }
        std::string extra;
        if (!e.is_partial() && e.actions.state_delta.is_object() && !e.actions.state_delta.empty()) {
            std::string keys;
            for (auto it = e.actions.state_delta.begin(); it != e.actions.state_delta.end(); ++it)
                keys += (keys.empty() ? "" : ", ") + it.key() +
                        (it.value().is_string() && columns(it.value().get<std::string>()) > 24 ? ""
                                                                                                : "=" + show(it.value()));
            extra += (o_.ascii ? "  => state " : "  ⇒ state ") + keys;
        }
        if (e.actions.escalate.value_or(false)) {
            extra += o_.ascii ? "  => escalate" : "  ⇒ escalate";
            if (!t.escalated_by) {
                t.escalated_by = e.author;
                t.escalated_at = s.arrived;
            }
        }
        // [  1.23s] author              kind         detail ... extra
        std::string head = "[" + pad(fixed(s.arrived), 6) + "s] ";
        if (s.arrived < 10) head = "[ " + fixed(s.arrived) + "s] ";
        std::size_t used = columns(head) + 20 + 12 + columns(extra);
        std::size_t room = o_.width > static_cast<int>(used) + 10 ? static_cast<std::size_t>(o_.width) - used : 10;
        if (!pieces.empty()) {
            // The calls or results share the line: the longest are cut first.
            std::vector<std::size_t> size, floors;
            std::size_t total = 2 * (pieces.size() - 1);
            for (std::size_t i = 0; i < pieces.size(); ++i) {
                size.push_back(columns(one_line(pieces[i], std::string::npos, o_.ascii)));
                floors.push_back(columns(heads[i]));  // never cut into the name (and duration)
                total += size.back();
            }
            while (total > room) {
                std::size_t longest = 0;  // the longest piece still above its floor
                for (std::size_t i = 0; i < size.size(); ++i)
                    if (size[i] > floors[i] && (size[longest] <= floors[longest] || size[i] > size[longest]))
                        longest = i;
                if (size[longest] <= floors[longest]) break;
                --size[longest];
                --total;
            }
            for (std::size_t i = 0; i < pieces.size(); ++i) {
                std::string piece = size[i] <= floors[i] ? pieces[i].substr(0, heads[i].size()) : pieces[i];
                detail += (detail.empty() ? "" : "; ") + one_line(piece, std::max(size[i], floors[i]), o_.ascii);
            }
        }
        std::string line = p_.dim(head) + p_.author(e.author) +
                           std::string(e.author.size() < 20 ? 20 - e.author.size() : 1, ' ') + pad(kind, 12) +
                           one_line(detail, room, o_.ascii) + p_.dim(extra);
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    }

private:
    /// What a tool result says, compactly: MCP's text content, else the JSON.
    static std::string result_text(const Json& r) {
        if (r.is_object() && r.contains("content") && r["content"].is_array()) {
            std::string text;
            for (const Json& c : r["content"])
                if (c.is_object() && c.value("type", "") == "text") text += c.value("text", "");
            if (!text.empty()) return text;
        }
        if (r.is_object() && r.contains("content") && r["content"].is_string()) return r["content"].get<std::string>();
        if (r.is_object() && r.size() == 1 && r.contains("result")) return show(r["result"]);
        return compact(r, true);
    }

    /// {"city":"Lisbon","nights":3} as `city=Lisbon, nights=3` (braced when
    /// `braces`); nested values as JSON.
    static std::string compact(const Json& v, bool braces) {
        if (!v.is_object()) return v.dump();
        std::string out;
        for (auto it = v.begin(); it != v.end(); ++it)
            out += (out.empty() ? "" : ", ") + it.key() + "=" + show(it.value());
        return braces ? "{" + out + "}" : out;
    }

    const Options& o_;
    Palette& p_;
    std::map<std::string, double> call_arrival_;
};

// ---- HTTP --------------------------------------------------------------------------------

aio::Coro<aio::http::Response> http_call(aio::http::Client& client, std::string method, std::string url,
                                         std::string body) {
    aio::http::Request request;
    request.method = std::move(method);
    request.url = std::move(url);
    request.body = std::move(body);
    if (!request.body.empty()) request.headers.set("Content-Type", "application/json");
    aio::Coro<aio::http::Response> sending = client.request(std::move(request));
    aio::http::Response response = co_await std::move(sending);
    co_return response;
}

/// Polls GET /health until it answers 200 or `seconds` pass.
aio::Coro<bool> wait_for_health(aio::http::Client& client, const std::string& base, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            Seconds(seconds));
    while (true) {
        bool up = false;
        try {
            aio::Coro<aio::http::Response> asking = http_call(client, "GET", base + "/health", "");
            aio::http::Response r = co_await std::move(asking);
            up = r.status == 200;
        } catch (const aio::http::HttpError&) {
            up = false;  // not listening yet
        }
        if (up) co_return true;
        if (std::chrono::steady_clock::now() >= deadline) co_return false;
        co_await aio::sleep(std::chrono::milliseconds(100));
    }
}

struct RunResult {
    std::vector<Seen> events;
    std::optional<std::string> error;  // an error event or a failed request
    double wall = 0;                   // seconds from the POST to the end of the stream
};

aio::Coro<> stream_run(aio::http::Client& client, const Options& o, const std::string& session_id,
                       std::chrono::steady_clock::time_point start, RunResult& out, Printer& printer, Tally& tally) {
    Json new_message{{"role", "user"}, {"parts", Json::array({Json{{"text", o.message}}})}};
    Json body{{"appName", o.app},
              {"userId", o.user},
              {"sessionId", session_id},
              {"newMessage", std::move(new_message)},
              {"streaming", o.streaming}};
    aio::http::Request request;
    request.method = "POST";
    request.url = o.url + "/run_sse";
    request.body = body.dump();
    request.headers.set("Content-Type", "application/json");
    request.headers.set("Accept", "text/event-stream");
    aio::Coro<aio::http::StreamResponse> opening = client.stream(std::move(request));
    aio::http::StreamResponse response = co_await std::move(opening);
    if (!response.ok()) {
        aio::Coro<std::string> reading = response.read();
        std::string text = co_await std::move(reading);
        out.error = "POST /run_sse answered " + std::to_string(response.status) + ": " + text;
        co_return;
    }
    aio::AsyncGenerator<aio::http::SseEvent> events = aio::http::sse_events(std::move(response.body));
    while (true) {
        std::optional<aio::http::SseEvent> sse = co_await events.next();
        if (!sse) break;
        double arrived = Seconds(std::chrono::steady_clock::now() - start).count();
        Json data = Json::parse(sse->data, nullptr, false);
        if (data.is_discarded() || !data.is_object()) {
            out.error = "the server sent an event that is not a JSON object: " + sse->data;
            break;
        }
        if (data.contains("error") && !data.contains("author")) {
            out.error = show(data["error"]);
            break;
        }
        Seen seen;
        seen.event = data.get<adk::Event>();
        seen.arrived = arrived;
        printer.print(seen, tally);
        out.events.push_back(std::move(seen));
    }
    out.wall = Seconds(std::chrono::steady_clock::now() - start).count();
}

// ---- the summary ---------------------------------------------------------------------------

struct Overlap {
    double seconds = 0;  // time during which two different agents' tools ran at once
    std::string a, b;
};

Overlap tool_overlap(const std::vector<Step>& steps) {
    Overlap best;
    for (std::size_t i = 0; i < steps.size(); ++i)
        for (std::size_t j = i + 1; j < steps.size(); ++j) {
            const Step& x = steps[i];
            const Step& y = steps[j];
            if (!x.tool || !y.tool || x.agent == y.agent) continue;
            double both = std::min(x.end, y.end) - std::max(x.start, y.start);
            if (both > best.seconds) best = Overlap{both, x.agent, y.agent};
        }
    return best;
}

void print_summary(const Options& o, Palette& p, const RunResult& run, const Tally& t, const std::vector<Step>& steps,
                   const Json& session) {
    const int w = std::max(60, std::min(o.width, 120));
    std::string rule = o.ascii ? "-" : "─";
    auto title = [&](const std::string& s) {
        std::string line = rule + rule + rule + " " + s + " ";
        for (std::size_t n = columns(line); n < static_cast<std::size_t>(w); ++n) line += rule;
        std::printf("%s\n", p.bold(line).c_str());
    };

    // The final answer: the last text of the run.
    std::string final_text;
    std::string final_author;
    for (const Seen& s : run.events)
        if (!s.event.is_partial() && s.event.content && !s.event.content->text().empty() &&
            s.event.function_calls().empty()) {
            final_text = s.event.content->text();
            final_author = s.event.author;
        }
    if (!final_text.empty()) {
        title("the answer (" + final_author + ")");
        std::printf("%s\n", final_text.c_str());
    }

    title("summary");
    double model = 0, tools = 0;
    for (const Step& s : steps) (s.tool ? tools : model) += s.end - s.start;
    double work = model + tools;
    std::size_t persisted = session.is_object() && session.contains("events") ? session["events"].size() : 0;
    std::printf("events      %zu streamed%s; the session holds %zu (your message included)\n", t.events,
                t.partial ? (" + " + std::to_string(t.partial) + " partial").c_str() : "", persisted);
    std::printf("            %zu model turns, %zu tool results, %zu state-only\n", t.model_turns, t.tool_results,
                t.state_only);
    std::map<std::string, int> counts;
    std::vector<std::string> order;
    for (const std::string& n : t.tools_called)
        if (counts[n]++ == 0) order.push_back(n);
    std::string tool_list;
    for (const std::string& n : order)
        tool_list += (tool_list.empty() ? "" : ", ") + n + (counts[n] > 1 ? " x" + std::to_string(counts[n]) : "");
    std::printf("tool calls  %zu: %s\n", t.tool_calls, tool_list.empty() ? "none" : tool_list.c_str());
    if (!t.tool_errors.empty())
        for (const std::string& e : t.tool_errors) std::printf("%s\n", p.red("  tool error: " + e).c_str());
    std::printf("wall time   %s s\n", fixed(run.wall).c_str());
    std::printf("agent steps %s s (model %s s + tools %s s) = %sx the wall time", fixed(work).c_str(),
                fixed(model).c_str(), fixed(tools).c_str(), fixed(run.wall > 0 ? work / run.wall : 0, 1).c_str());
    if (work > run.wall && run.wall > 0)
        std::printf(": %s s of work ran in parallel\n", fixed(work - run.wall).c_str());
    else
        std::printf("\n");
    if (t.escalated_by)
        std::printf("loop        ended by %s's exit_loop (escalate) at %s s\n", t.escalated_by->c_str(),
                    fixed(t.escalated_at).c_str());

    // The timeline: one row per agent, its model and tool steps on a common scale.
    const int label = 20;
    const int cols = std::max(20, w - label - 14);
    double span = std::max(run.wall, 0.001);
    for (const Step& s : steps) span = std::max(span, s.end);
    const char* model_cell = o.ascii ? "=" : "█";
    const char* tool_cell = o.ascii ? "#" : "▒";
    const char* idle_cell = o.ascii ? "." : "·";
    std::printf("timeline    (%s model call, %s tool call, each column %s s)\n", model_cell, tool_cell,
                fixed(span / cols, 3).c_str());
    std::string end_label = fixed(span, 1) + " s";
    std::printf("%s0 s%s%s\n", std::string(static_cast<std::size_t>(label) + 1, ' ').c_str(),
                std::string(static_cast<std::size_t>(std::max(1, cols - 3 - static_cast<int>(end_label.size()))), ' ')
                    .c_str(),
                end_label.c_str());
    for (const std::string& agent : t.agents) {
        std::vector<int> cell(static_cast<std::size_t>(cols), 0);  // 0 idle, 1 model, 2 tool
        double busy = 0;
        for (const Step& s : steps) {
            if (s.agent != agent) continue;
            busy += s.end - s.start;
            int from = static_cast<int>(std::floor(s.start / span * cols));
            int to = std::max(from + 1, static_cast<int>(std::ceil(s.end / span * cols)));
            for (int c = std::max(0, from); c < std::min(cols, to); ++c)
                cell[static_cast<std::size_t>(c)] = std::max(cell[static_cast<std::size_t>(c)], s.tool ? 2 : 1);
        }
        std::string bar;
        for (int c : cell) bar += c == 0 ? idle_cell : c == 1 ? model_cell : tool_cell;
        std::string name = agent.size() > static_cast<std::size_t>(label - 2) ? agent.substr(0, label - 2) : agent;
        std::printf("  %s %s %s s\n", pad(name, label - 2).c_str(), bar.c_str(), fixed(busy).c_str());
    }
    if (session.is_object() && session.contains("state") && session["state"].is_object()) {
        std::string keys;
        for (auto it = session["state"].begin(); it != session["state"].end(); ++it)
            keys += (keys.empty() ? "" : ", ") + it.key();
        std::printf("state       %s\n", keys.c_str());
    }
}

// ---- main ----------------------------------------------------------------------------------

aio::Coro<int> amain(Options o) {
    Palette palette(o.color);
    aio::http::ClientOptions client_options;
    client_options.proxy = "";  // a local server: never through a proxy
    client_options.idle_timeout = std::chrono::seconds(120);
    aio::http::Client client(std::move(client_options));

    if (o.wait_seconds > 0) {
        aio::Coro<bool> waiting = wait_for_health(client, o.url, o.wait_seconds);
        bool up = co_await std::move(waiting);
        if (!up) {
            std::fprintf(stderr, "adk-demo-client: %s/health did not answer within %s s\n", o.url.c_str(),
                         fixed(o.wait_seconds, 0).c_str());
            co_return 1;
        }
    }

    std::string failure;
    Json session;
    try {
        aio::Coro<aio::http::Response> listing = http_call(client, "GET", o.url + "/list-apps", "");
        aio::http::Response apps = co_await std::move(listing);
        Json names = Json::parse(apps.body, nullptr, false);
        if (apps.status != 200 || !names.is_array()) {
            failure = "GET /list-apps answered " + std::to_string(apps.status) + ": " + apps.body;
        } else if (std::find(names.begin(), names.end(), Json(o.app)) == names.end()) {
            failure = "the server has no app '" + o.app + "' (it serves " + names.dump() + ")";
        } else {
            std::string path = "/apps/" + url_component(o.app) + "/users/" + url_component(o.user) + "/sessions";
            aio::Coro<aio::http::Response> creating = http_call(client, "POST", o.url + path, "{}");
            aio::http::Response created = co_await std::move(creating);
            session = Json::parse(created.body, nullptr, false);
            if (created.status != 200 || !session.is_object() || !session.contains("id"))
                failure = "creating a session answered " + std::to_string(created.status) + ": " + created.body;
        }
    } catch (const aio::http::HttpError& e) {
        failure = std::string("cannot reach ") + o.url + ": " + e.what();
    }
    if (!failure.empty()) {
        std::fprintf(stderr, "adk-demo-client: %s\n", failure.c_str());
        co_return 1;
    }
    std::string session_id = session["id"].get<std::string>();

    std::printf("%s\n", palette.bold("app " + o.app + ", session " + session_id + ", user " + o.user).c_str());
    std::printf("%s %s\n", palette.bold("user:").c_str(), o.message.c_str());
    std::printf("%s\n", palette.dim("POST " + o.url + "/run_sse" + (o.streaming ? " (streaming)" : "") +
                                    "; each event as it arrives, seconds since the POST:")
                            .c_str());
    std::fflush(stdout);

    Tally tally;
    Printer printer(o, palette);
    RunResult run;
    auto start = std::chrono::steady_clock::now();
    double t0_epoch = Seconds(std::chrono::system_clock::now().time_since_epoch()).count();
    try {
        aio::Coro<> streaming = stream_run(client, o, session_id, start, run, printer, tally);
        aio::Coro<> bounded =
            aio::timeout(std::chrono::duration_cast<std::chrono::milliseconds>(Seconds(o.timeout_seconds)),
                         std::move(streaming));
        co_await std::move(bounded);
    } catch (const aio::TimeoutError&) {
        run.error = "the run did not finish within " + fixed(o.timeout_seconds, 0) + " s";
    } catch (const aio::http::HttpError& e) {
        run.error = std::string("the stream failed: ") + e.what();
    }
    if (run.wall == 0) run.wall = Seconds(std::chrono::steady_clock::now() - start).count();

    // The session as stored, for the summary (events persisted, final state).
    Json stored;
    try {
        std::string path = "/apps/" + url_component(o.app) + "/users/" + url_component(o.user) + "/sessions/" +
                           url_component(session_id);
        aio::Coro<aio::http::Response> reading = http_call(client, "GET", o.url + path, "");
        aio::http::Response r = co_await std::move(reading);
        if (r.status == 200) stored = Json::parse(r.body, nullptr, false);
    } catch (const aio::http::HttpError&) {
    }

    std::vector<Step> steps = steps_of(run.events, t0_epoch);
    print_summary(o, palette, run, tally, steps, stored);

    // Verdict.
    std::vector<std::string> problems;
    if (run.error) problems.push_back("the run failed: " + *run.error);
    if (tally.events == 0 && !run.error) problems.push_back("the run produced no event");
    Json state = stored.is_object() && stored.contains("state") ? stored["state"] : Json::object();
    for (const std::string& k : o.expect_state)
        if (!state.contains(k) || (state[k].is_string() && state[k].get<std::string>().empty()))
            problems.push_back("the session state has no '" + k + "'");
    for (const std::string& tool : o.expect_tools)
        if (std::find(tally.tools_called.begin(), tally.tools_called.end(), tool) == tally.tools_called.end())
            problems.push_back("no call to the tool '" + tool + "'");
    if (o.check) {
        Overlap overlap = tool_overlap(steps);
        if (overlap.seconds < 0.05)
            problems.push_back("no two agents ran tools at the same time (the researchers did not overlap)");
        else
            std::printf("parallel    %s and %s ran tools at the same time for %s s\n", overlap.a.c_str(),
                        overlap.b.c_str(), fixed(overlap.seconds).c_str());
        if (!tally.escalated_by) problems.push_back("no agent escalated (the review loop did not end by exit_loop)");
        for (const std::string& e : tally.tool_errors) problems.push_back("a tool failed: " + e);
    }
    if (problems.empty()) {
        std::printf("%s\n", palette.green("ok").c_str());
        co_return 0;
    }
    for (const std::string& problem : problems) std::printf("%s\n", palette.red("FAILED: " + problem).c_str());
    co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_args(argc, argv);
    try {
        return aio::run(amain(std::move(options)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "adk-demo-client: %s\n", e.what());
        return 1;
    }
}
