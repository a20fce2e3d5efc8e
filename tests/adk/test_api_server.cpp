// adk::ApiServer over real HTTP: the server in-process on a free loopback
// port, clients over aio::http::Client (libcurl). Every route with ADK's
// JSON (camelCase and snake_case requests), /run and /run_sse with and
// without streaming, the errors (400, 404, 409, 413, 431, 503), a client
// that disconnects (its invocation is cancelled, the session keeps whole
// events), the cancel routes, CORS, concurrent sessions, a fuzzed request
// path, the SQLite session service, and the adk-server program.
#include <gtest/gtest.h>

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "adk/adk.hpp"
#include "adk/api_server.hpp"
#include "adk/sqlite_session_service.hpp"
#include "support.hpp"

using namespace aio_test;
using adk::Json;
namespace http = aio::http;

namespace {

// --- the agents under test -----------------------------------------------------------

/// What the blocking tool reports to the test.
struct Blocker {
    aio::Event started;   // the tool runs
    aio::Event release;   // the test lets it finish
    aio::Event unwound;   // the tool was cancelled (its frame unwound)
    int runs = 0;
    int cancelled = 0;
    int finished = 0;
};

aio::Coro<Json> block_until_released(std::shared_ptr<Blocker> b) {
    struct Unwind {
        Blocker* b;
        bool done = false;
        ~Unwind() {
            if (!done) {
                ++b->cancelled;
                b->unwound.set();
            }
        }
    };
    Unwind guard{b.get()};
    ++b->runs;
    b->started.set();
    co_await b->release.wait();
    guard.done = true;
    ++b->finished;
    Json result = {{"result", "released"}};
    co_return result;
}

aio::Coro<Json> get_weather(Json args, adk::ToolContext& ctx) {
    std::string city = args.value("city", "nowhere");
    ctx.state().set("last_city", city);
    Json result = {{"result", "sunny in " + city}};
    co_return result;
}

aio::Coro<Json> save_note(Json args, adk::ToolContext& ctx) {
    aio::Coro<int> saving = ctx.save_artifact("note.txt", adk::Part::from_text(args.value("text", "")));
    int version = co_await std::move(saving);
    Json result = {{"version", version}};
    co_return result;
}

/// A model that counts how many of its calls overlap.
class CountingLlm final : public adk::BaseLlm {
public:
    CountingLlm() : BaseLlm("counting") {}
    int in_flight = 0;
    int max_in_flight = 0;
    aio::AsyncGenerator<adk::LlmResponse> generate_content(adk::LlmRequest request, bool) override {
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        struct Leave {
            int* n;
            ~Leave() { --*n; }
        } leave{&in_flight};
        co_await aio::sleep(std::chrono::milliseconds(150));
        adk::LlmResponse r;
        r.content = adk::Content::model("counted: " + request.last_user_text());
        co_yield std::move(r);
    }
};

std::shared_ptr<adk::ScriptedLlm> assistant_model() {
    using adk::ScriptedReply;
    using adk::ScriptedRule;
    std::vector<ScriptedRule> rules;
    auto rule = [&](std::optional<std::string> says, std::optional<std::string> after, ScriptedReply reply) {
        ScriptedRule r;
        r.when_user_says = std::move(says);
        r.after_tool = std::move(after);
        r.reply = std::move(reply);
        rules.push_back(std::move(r));
    };
    rule(std::nullopt, "get_weather", ScriptedReply::stream({"It is ", "sunny ", "in Paris."}));
    rule(std::nullopt, "block", ScriptedReply::say("done"));
    rule(std::nullopt, "save_note", ScriptedReply::say("saved"));
    rule("weather", std::nullopt, ScriptedReply::call("get_weather", Json{{"city", "Paris"}}));
    rule("block", std::nullopt, ScriptedReply::call("block", Json::object()));
    rule("note", std::nullopt, ScriptedReply::call("save_note", Json{{"text", "remember"}}));
    rule("fail", std::nullopt, ScriptedReply::fail("model exploded"));
    ScriptedReply slow = ScriptedReply::say("late");
    slow.delay = std::chrono::seconds(60);
    rule("slow", std::nullopt, std::move(slow));
    rule("", std::nullopt, ScriptedReply::stream({"hi ", "there"}));
    return adk::ScriptedLlm::make({}, std::move(rules));
}

adk::AgentPtr assistant(std::shared_ptr<Blocker> blocker) {
    Json city_schema = {{"type", "object"},
                        {"properties", {{"city", {{"type", "string"}}}}},
                        {"required", Json::array({"city"})}};
    Json empty_schema = {{"type", "object"}, {"properties", Json::object()}};
    Json note_schema = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}};
    adk::LlmAgent::Options o;
    o.name = "assistant";
    o.description = "Weather, notes and a tool that blocks.";
    o.model = assistant_model();
    o.tools.push_back(adk::FunctionTool::make("get_weather", "The weather of a city", city_schema, get_weather));
    o.tools.push_back(adk::FunctionTool::make("block", "Blocks until released", empty_schema,
                                              [blocker](Json) { return block_until_released(blocker); }));
    o.tools.push_back(adk::FunctionTool::make("save_note", "Saves a note as an artifact", note_schema, save_note));
    return adk::LlmAgent::make(std::move(o));
}

// --- the server and the client -------------------------------------------------------

struct Fixture {
    std::shared_ptr<Blocker> blocker = std::make_shared<Blocker>();
    std::shared_ptr<CountingLlm> counting = std::make_shared<CountingLlm>();
    adk::ApiServer server;
    std::string base;

    explicit Fixture(adk::ApiServerOptions options = {}) : server(std::move(options)) {
        server.add_app("weather", assistant(blocker));
        adk::LlmAgent::Options c;
        c.name = "counter";
        c.model = counting;
        server.add_app("counting", adk::LlmAgent::make(std::move(c)));
        // A lazily built app (the Runner factory form).
        server.add_app("alpha", [](const adk::AppServices& s) {
            adk::LlmAgent::Options a;
            a.name = "alpha_root";
            a.description = "The first app";
            a.model = adk::ScriptedLlm::make({}, {adk::ScriptedRule{"", std::nullopt, adk::ScriptedReply::say("a")}});
            return std::make_shared<adk::Runner>(s.app_name, adk::LlmAgent::make(std::move(a)), s.session_service,
                                                 s.artifact_service);
        });
    }

    aio::Coro<void> start() {
        co_await server.start();
        base = server.url();
    }
};

adk::ApiServerOptions small_limits() {
    adk::ApiServerOptions o;
    o.http.max_body_bytes = 64 * 1024;
    o.http.max_header_bytes = 8 * 1024;
    return o;
}

aio::Coro<http::Response> call(http::Client& c, std::string method, std::string url, std::string body = {},
                               http::Headers headers = {}) {
    http::Request req;
    req.method = std::move(method);
    req.url = std::move(url);
    req.headers = std::move(headers);
    req.body = std::move(body);
    if (!req.body.empty() && !req.headers.contains("Content-Type")) req.headers.set("Content-Type", "application/json");
    req.timeout = std::chrono::seconds(20);
    http::Response r = co_await c.request(std::move(req));
    co_return r;
}

Json body_json(const http::Response& r) {
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
    return j;
}

/// The `data:` payloads of an SSE body, parsed.
std::vector<Json> sse_data(const std::string& body) {
    std::vector<Json> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find("\n\n", pos);
        std::string block = body.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? body.size() : end + 2;
        std::string data;
        std::size_t line_start = 0;
        while (line_start < block.size()) {
            std::size_t nl = block.find('\n', line_start);
            std::string line = block.substr(line_start, nl == std::string::npos ? std::string::npos : nl - line_start);
            line_start = nl == std::string::npos ? block.size() : nl + 1;
            if (line.rfind("data: ", 0) == 0) data += line.substr(6);
        }
        if (!data.empty()) {
            Json j = Json::parse(data, nullptr, false);
            EXPECT_FALSE(j.is_discarded()) << "SSE data is not JSON: " << data;
            out.push_back(std::move(j));
        }
    }
    return out;
}

std::string run_body(const std::string& session, const std::string& text, bool streaming = false,
                     const std::string& app = "weather") {
    Json j = {{"appName", app},
              {"userId", "u1"},
              {"sessionId", session},
              {"newMessage", {{"role", "user"}, {"parts", Json::array({Json{{"text", text}}})}}},
              {"streaming", streaming}};
    return j.dump();
}

aio::Coro<std::string> new_session(http::Client& c, const std::string& base, const std::string& app = "weather",
                                   const std::string& user = "u1") {
    http::Response r = co_await call(c, "POST", base + "/apps/" + app + "/users/" + user + "/sessions");
    EXPECT_EQ(r.status, 200) << r.body;
    Json j = body_json(r);
    co_return j.value("id", std::string());
}

/// Waits (on the loop clock, bounded) until `pred()` holds.
template <class P>
aio::Coro<bool> eventually(P pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    aio::Clock::time_point deadline = aio::get_running_loop().time() + limit;
    while (!pred()) {
        if (aio::get_running_loop().time() > deadline) co_return false;
        co_await aio::sleep(std::chrono::milliseconds(2));
    }
    co_return true;
}

aio::Coro<void> wait_event(aio::Event& e, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto waiting = [&e]() -> aio::Coro<> { co_await e.wait(); };
    aio::Coro<> bounded = aio::timeout(limit, std::move(waiting));
    co_await std::move(bounded);
}

/// Every stored event is a whole event: id, author, invocation id, actions.
void expect_whole_events(const Json& session) {
    for (const Json& e : session["events"]) {
        EXPECT_EQ(e.value("id", std::string()).size(), 8u) << e.dump();
        EXPECT_TRUE(e.contains("author")) << e.dump();
        EXPECT_TRUE(e.contains("invocationId")) << e.dump();
        EXPECT_TRUE(e.contains("actions") && e["actions"].contains("stateDelta")) << e.dump();
        EXPECT_FALSE(e.value("partial", false)) << e.dump();
    }
}

}  // namespace

// --- simple routes -------------------------------------------------------------------

TEST(ApiServer, HealthVersionAndListApps) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        http::Response health = co_await call(c, "GET", f.base + "/health");
        EXPECT_EQ(health.status, 200);
        EXPECT_EQ(body_json(health), Json({{"status", "ok"}}));
        EXPECT_EQ(health.headers.value("content-type"), "application/json");

        http::Response version = co_await call(c, "GET", f.base + "/version");
        Json v = body_json(version);
        EXPECT_EQ(v["language"], "cpp");
        EXPECT_TRUE(v["version"].is_string());
        EXPECT_TRUE(v["language_version"].is_string());

        http::Response apps = co_await call(c, "GET", f.base + "/list-apps");
        EXPECT_EQ(body_json(apps), Json::array({"alpha", "counting", "weather"}));

        http::Response detailed = co_await call(c, "GET", f.base + "/list-apps?detailed=true");
        Json d = body_json(detailed);
        CO_ASSERT_TRUE(d.contains("apps") && d["apps"].size() == 3);
        EXPECT_EQ(d["apps"][0], Json({{"name", "alpha"},
                                      {"rootAgentName", "alpha_root"},
                                      {"description", "The first app"},
                                      {"language", "cpp"}}));
        EXPECT_EQ(d["apps"][2]["rootAgentName"], "assistant");

        http::Response info = co_await call(c, "GET", f.base + "/apps/weather/app-info");
        EXPECT_EQ(body_json(info)["rootAgentName"], "assistant");

        http::Response none = co_await call(c, "GET", f.base + "/no/such/route");
        EXPECT_EQ(none.status, 404);
        EXPECT_TRUE(body_json(none).contains("error"));
        co_await f.server.aclose();
    });
}

TEST(ApiServer, AddAppRejectsBadNames) {
    adk::ApiServer server;
    adk::LlmAgent::Options o;
    o.name = "a";
    o.model = adk::ScriptedLlm::make({adk::ScriptedReply::say("x")});
    adk::AgentPtr agent = adk::LlmAgent::make(std::move(o));
    EXPECT_THROW(server.add_app("bad-name", agent), std::invalid_argument);
    EXPECT_THROW(server.add_app("", agent), std::invalid_argument);
    EXPECT_THROW(server.add_app("ok", adk::AgentPtr()), std::invalid_argument);
    server.add_app("ok", agent);
    EXPECT_THROW(server.add_app("ok", agent), std::invalid_argument);
    EXPECT_TRUE(server.has_app("ok"));
    EXPECT_THROW(server.runner("nope"), std::out_of_range);
    EXPECT_EQ(server.runner("ok").app_name(), "ok");
}

TEST(ApiServer, ExtraRoutesBeforeStart) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        f.server.add_route("GET", "/dev-ui/{path...}",
                           [](http::ServerRequest& r, http::ResponseWriter& w) -> aio::Coro<void> {
                               std::string body = "file " + std::string(r.path_param("path"));
                               co_await w.send(200, std::move(body));
                           });
        co_await f.start();
        http::Client c;
        http::Response r = co_await call(c, "GET", f.base + "/dev-ui/assets/a.js");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "file assets/a.js");
        http::Response api = co_await call(c, "GET", f.base + "/health");
        EXPECT_EQ(api.status, 200);
        auto late = [](http::ServerRequest&, http::ResponseWriter& w) -> aio::Coro<void> { co_await w.send(200, "x"); };
        EXPECT_THROW(f.server.add_route("GET", "/late", late), std::logic_error);
        co_await f.server.aclose();
    });
}

// --- sessions ------------------------------------------------------------------------

TEST(ApiServer, SessionCrudCamelAndSnakeCase) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        const std::string sessions = f.base + "/apps/weather/users/u1/sessions";

        // No body: a generated id.
        http::Response plain = co_await call(c, "POST", sessions);
        Json s0 = body_json(plain);
        EXPECT_EQ(plain.status, 200);
        EXPECT_EQ(s0["id"].get<std::string>().size(), 36u);
        EXPECT_EQ(s0["appName"], "weather");
        EXPECT_EQ(s0["userId"], "u1");
        EXPECT_EQ(s0["state"], Json::object());
        EXPECT_EQ(s0["events"], Json::array());
        EXPECT_TRUE(s0["lastUpdateTime"].is_number());

        // CreateSessionRequest, camelCase and snake_case.
        http::Response camel = co_await call(c, "POST", sessions, R"({"sessionId":"s-camel","state":{"k":"v"}})");
        EXPECT_EQ(body_json(camel)["id"], "s-camel");
        EXPECT_EQ(body_json(camel)["state"], Json({{"k", "v"}}));
        http::Response snake = co_await call(c, "POST", sessions, R"({"session_id":"s-snake","state":{"n":1}})");
        EXPECT_EQ(body_json(snake)["id"], "s-snake");
        // A bare state object (older ADK).
        http::Response bare = co_await call(c, "POST", sessions, R"({"color":"blue"})");
        EXPECT_EQ(body_json(bare)["state"], Json({{"color", "blue"}}));
        // With events.
        std::string with_events =
            R"({"sessionId":"s-ev","events":[{"author":"user","invocationId":"e-1",)"
            R"("content":{"role":"user","parts":[{"text":"earlier"}]}},)"
            R"({"author":"assistant","invocation_id":"e-1","content":{"role":"model","parts":[{"text":"ok"}]},)"
            R"("actions":{"state_delta":{"seen":true}}}]})";
        http::Response ev = co_await call(c, "POST", sessions, with_events);
        Json sev = body_json(ev);
        EXPECT_EQ(ev.status, 200) << ev.body;
        EXPECT_EQ(sev["events"].size(), 2u);
        EXPECT_EQ(sev["state"], Json({{"seen", true}}));
        expect_whole_events(sev);

        // With the id in the path; the body as AdkApiClient sends it.
        http::Response with_id = co_await call(c, "POST", sessions + "/s1", R"({"state":{"x":1}})");
        EXPECT_EQ(body_json(with_id)["id"], "s1");
        EXPECT_EQ(body_json(with_id)["state"], Json({{"x", 1}}));
        http::Response again = co_await call(c, "POST", sessions + "/s1");
        EXPECT_EQ(again.status, 400);  // ADK's answer to an existing id
        EXPECT_TRUE(body_json(again)["error"].get<std::string>().find("s1") != std::string::npos);
        http::Response again_body = co_await call(c, "POST", sessions, R"({"sessionId":"s1"})");
        EXPECT_EQ(again_body.status, 400);

        // Get and list.
        http::Response got = co_await call(c, "GET", sessions + "/s1");
        EXPECT_EQ(got.status, 200);
        EXPECT_EQ(body_json(got)["state"], Json({{"x", 1}}));
        http::Response listed = co_await call(c, "GET", sessions);
        Json list = body_json(listed);
        CO_ASSERT_TRUE(list.is_array());
        EXPECT_EQ(list.size(), 6u);
        for (const Json& s : list) EXPECT_EQ(s["events"], Json::array());
        aio::Coro<adk::Session> eval_session =
            f.server.session_service().create_session("weather", "u1", Json::object(), "___eval___session___x");
        co_await std::move(eval_session);
        http::Response listed2 = co_await call(c, "GET", sessions);
        EXPECT_EQ(body_json(listed2).size(), 6u);  // eval sessions are hidden, as in ADK

        // PATCH: a state-only event authored "user", invocation id "p-...".
        http::Response patched = co_await call(c, "PATCH", sessions + "/s1", R"({"stateDelta":{"y":2}})");
        Json p = body_json(patched);
        EXPECT_EQ(patched.status, 200) << patched.body;
        EXPECT_EQ(p["state"], Json({{"x", 1}, {"y", 2}}));
        CO_ASSERT_TRUE(p["events"].size() == 1);
        EXPECT_EQ(p["events"][0]["author"], "user");
        EXPECT_EQ(p["events"][0]["invocationId"].get<std::string>().rfind("p-", 0), 0u);
        EXPECT_EQ(p["events"][0]["actions"]["stateDelta"], Json({{"y", 2}}));
        EXPECT_FALSE(p["events"][0].contains("content"));
        http::Response patched2 = co_await call(c, "PATCH", sessions + "/s1", R"({"state_delta":{"z":3}})");
        EXPECT_EQ(body_json(patched2)["state"]["z"], 3);
        http::Response bad_patch = co_await call(c, "PATCH", sessions + "/s1", R"({"nothing":1})");
        EXPECT_EQ(bad_patch.status, 400);
        http::Response patch_missing = co_await call(c, "PATCH", sessions + "/nope", R"({"stateDelta":{}})");
        EXPECT_EQ(patch_missing.status, 404);

        // Delete: null, then 404.
        http::Response deleted = co_await call(c, "DELETE", sessions + "/s1");
        EXPECT_EQ(deleted.status, 200);
        EXPECT_EQ(deleted.body, "null");
        http::Response gone = co_await call(c, "GET", sessions + "/s1");
        EXPECT_EQ(gone.status, 404);
        EXPECT_EQ(body_json(gone)["error"], "Session not found: s1");
        http::Response delete_gone = co_await call(c, "DELETE", sessions + "/s1");
        EXPECT_EQ(delete_gone.status, 404);
        EXPECT_EQ(body_json(delete_gone)["error"], "Session not found: s1");

        // Unknown app.
        http::Response no_app = co_await call(c, "GET", f.base + "/apps/nope/users/u1/sessions");
        EXPECT_EQ(no_app.status, 404);
        EXPECT_EQ(body_json(no_app)["error"], "App not found: nope");
        // Bad bodies.
        http::Response bad_state = co_await call(c, "POST", sessions, R"({"state":[1,2]})");
        EXPECT_EQ(bad_state.status, 400);
        http::Response bad_json = co_await call(c, "POST", sessions, R"({"state":)");
        EXPECT_EQ(bad_json.status, 400);
        EXPECT_TRUE(body_json(bad_json)["error"].get<std::string>().find("malformed JSON") != std::string::npos);
        co_await f.server.aclose();
    });
}

// --- runs ----------------------------------------------------------------------------

TEST(ApiServer, RunReturnsTheEventsAsAdkDoes) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        http::Response r = co_await call(c, "POST", f.base + "/run", run_body(sid, "weather in Paris?"));
        EXPECT_EQ(r.status, 200) << r.body;
        Json events = body_json(r);
        CO_ASSERT_TRUE(events.is_array() && events.size() == 3);
        // The function call, its response (role user, state delta), the answer.
        const Json& call_ev = events[0];
        EXPECT_EQ(call_ev["author"], "assistant");
        EXPECT_EQ(call_ev["content"]["role"], "model");
        EXPECT_EQ(call_ev["content"]["parts"][0]["functionCall"]["name"], "get_weather");
        EXPECT_EQ(call_ev["content"]["parts"][0]["functionCall"]["args"], Json({{"city", "Paris"}}));
        EXPECT_EQ(call_ev["invocationId"].get<std::string>().rfind("e-", 0), 0u);
        EXPECT_EQ(call_ev["id"].get<std::string>().size(), 8u);
        EXPECT_TRUE(call_ev["timestamp"].is_number_float());
        EXPECT_EQ(call_ev["actions"]["stateDelta"], Json::object());
        EXPECT_EQ(call_ev["actions"]["artifactDelta"], Json::object());
        EXPECT_EQ(call_ev["actions"]["requestedAuthConfigs"], Json::object());
        EXPECT_FALSE(call_ev.contains("partial"));
        const Json& resp_ev = events[1];
        EXPECT_EQ(resp_ev["content"]["role"], "user");
        EXPECT_EQ(resp_ev["content"]["parts"][0]["functionResponse"]["name"], "get_weather");
        EXPECT_EQ(resp_ev["content"]["parts"][0]["functionResponse"]["response"], Json({{"result", "sunny in Paris"}}));
        EXPECT_EQ(resp_ev["content"]["parts"][0]["functionResponse"]["id"],
                  call_ev["content"]["parts"][0]["functionCall"]["id"]);
        EXPECT_EQ(resp_ev["actions"]["stateDelta"], Json({{"last_city", "Paris"}}));
        EXPECT_EQ(events[2]["content"]["parts"][0]["text"], "It is sunny in Paris.");
        for (const Json& e : events) EXPECT_EQ(e["invocationId"], call_ev["invocationId"]);

        // Persisted: the user's message first, then the three events.
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json session = body_json(s);
        CO_ASSERT_TRUE(session["events"].size() == 4);
        EXPECT_EQ(session["events"][0]["author"], "user");
        EXPECT_EQ(session["events"][0]["content"]["parts"][0]["text"], "weather in Paris?");
        EXPECT_EQ(session["state"]["last_city"], "Paris");
        expect_whole_events(session);

        // snake_case request keys.
        Json snake = {{"app_name", "weather"},
                      {"user_id", "u1"},
                      {"session_id", sid},
                      {"new_message", {{"role", "user"}, {"parts", Json::array({Json{{"text", "hello"}}})}}}};
        http::Response r2 = co_await call(c, "POST", f.base + "/run", snake.dump());
        EXPECT_EQ(r2.status, 200) << r2.body;
        Json e2 = body_json(r2);
        CO_ASSERT_TRUE(e2.size() == 1);
        EXPECT_EQ(e2[0]["content"]["parts"][0]["text"], "hi there");

        // /run with streaming: the partial events come too (not persisted).
        http::Response r3 = co_await call(c, "POST", f.base + "/run", run_body(sid, "hello", true));
        Json e3 = body_json(r3);
        CO_ASSERT_TRUE(e3.size() == 3);
        EXPECT_EQ(e3[0]["partial"], true);
        EXPECT_EQ(e3[1]["partial"], true);
        EXPECT_FALSE(e3[2].contains("partial"));
        http::Response s2 = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        EXPECT_EQ(body_json(s2)["events"].size(), 8u);  // 4 + (user, answer) + (user, answer)
        expect_whole_events(body_json(s2));
        co_await f.server.aclose();
        EXPECT_EQ(f.server.stats().runs_completed, 3u);
    });
}

TEST(ApiServer, RunSseWithAndWithoutStreaming) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);

        http::Response plain = co_await call(c, "POST", f.base + "/run_sse", run_body(sid, "weather?"));
        EXPECT_EQ(plain.status, 200);
        EXPECT_EQ(plain.headers.value("content-type"), "text/event-stream");
        // ADK's framing: "data: <json>\n\n" per event, nothing else.
        EXPECT_EQ(plain.body.rfind("data: {", 0), 0u);
        EXPECT_EQ(plain.body.find("event:"), std::string::npos);
        EXPECT_EQ(plain.body.substr(plain.body.size() - 2), "\n\n");
        std::vector<Json> events = sse_data(plain.body);
        CO_ASSERT_TRUE(events.size() == 3);
        EXPECT_TRUE(events[0]["content"]["parts"][0].contains("functionCall"));
        EXPECT_TRUE(events[1]["content"]["parts"][0].contains("functionResponse"));
        EXPECT_EQ(events[2]["content"]["parts"][0]["text"], "It is sunny in Paris.");
        for (const Json& e : events) EXPECT_FALSE(e.contains("partial"));

        http::Response streamed = co_await call(c, "POST", f.base + "/run_sse", run_body(sid, "weather?", true));
        std::vector<Json> s = sse_data(streamed.body);
        CO_ASSERT_TRUE(s.size() == 6);
        EXPECT_TRUE(s[0]["content"]["parts"][0].contains("functionCall"));
        EXPECT_TRUE(s[1]["content"]["parts"][0].contains("functionResponse"));
        std::string text;
        for (int i = 2; i < 5; ++i) {
            EXPECT_EQ(s[i]["partial"], true);
            text += s[i]["content"]["parts"][0]["text"].get<std::string>();
        }
        EXPECT_EQ(text, "It is sunny in Paris.");
        EXPECT_FALSE(s[5].contains("partial"));
        EXPECT_EQ(s[5]["content"]["parts"][0]["text"], "It is sunny in Paris.");

        // Partial events are never persisted.
        http::Response session = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json sj = body_json(session);
        EXPECT_EQ(sj["events"].size(), 8u);
        expect_whole_events(sj);

        // stateDelta comes with the user's message (on its event, as ADK).
        Json with_delta = Json::parse(run_body(sid, "hello"));
        with_delta["stateDelta"] = {{"mood", "good"}};
        http::Response d = co_await call(c, "POST", f.base + "/run_sse", with_delta.dump());
        EXPECT_EQ(sse_data(d.body).size(), 1u);
        http::Response after = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json aj = body_json(after);
        EXPECT_EQ(aj["state"]["mood"], "good");
        CO_ASSERT_TRUE(aj["events"].size() == 10);
        EXPECT_EQ(aj["events"][8]["author"], "user");
        EXPECT_EQ(aj["events"][8]["actions"]["stateDelta"], Json({{"mood", "good"}}));
        EXPECT_EQ(aj["events"][8]["content"]["parts"][0]["text"], "hello");
        co_await f.server.aclose();
    });
}

TEST(ApiServer, RunErrors) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        auto expect_status = [&](int status, std::string path, std::string body) -> aio::Coro<Json> {
            http::Response r = co_await call(c, "POST", f.base + path, std::move(body));
            EXPECT_EQ(r.status, status) << path << ": " << r.body;
            Json j = body_json(r);
            EXPECT_TRUE(j.is_object() && j.contains("error")) << r.body;
            co_return j;
        };
        for (std::string path : {"/run", "/run_sse"}) {
            co_await expect_status(400, path, "{not json");
            co_await expect_status(400, path, "[1,2,3]");
            co_await expect_status(400, path, R"({"appName":"weather"})");
            co_await expect_status(400, path, R"({"appName":"weather","userId":"u1","sessionId":")" + sid + R"("})");
            Json bad_streaming = Json::parse(run_body(sid, "x"));
            bad_streaming["streaming"] = "yes";
            co_await expect_status(400, path, bad_streaming.dump());
            Json bad_delta = Json::parse(run_body(sid, "x"));
            bad_delta["stateDelta"] = 5;
            co_await expect_status(400, path, bad_delta.dump());
            Json resume = Json::parse(run_body(sid, "x"));
            resume["invocationId"] = "e-1";
            co_await expect_status(400, path, resume.dump());
            co_await expect_status(404, path, run_body(sid, "x", false, "nope"));
            Json missing = co_await expect_status(404, path, run_body("no-such-session", "x"));
            EXPECT_EQ(missing["error"], "Session not found: no-such-session");
            co_await expect_status(400, path, std::string(200, '[') + std::string(200, ']'));
        }
        // A model failure: /run answers 500, /run_sse ends with an error event.
        co_await expect_status(500, "/run", run_body(sid, "fail now"));
        http::Response sse = co_await call(c, "POST", f.base + "/run_sse", run_body(sid, "fail now"));
        EXPECT_EQ(sse.status, 200);
        std::vector<Json> events = sse_data(sse.body);
        CO_ASSERT_TRUE(!events.empty());
        EXPECT_FALSE(events.back().contains("cancelled"));
        EXPECT_TRUE(events.back()["error"].get<std::string>().find("model exploded") != std::string::npos);
        // The session is still usable.
        http::Response ok = co_await call(c, "POST", f.base + "/run", run_body(sid, "hello"));
        EXPECT_EQ(ok.status, 200);
        co_await f.server.aclose();
        EXPECT_EQ(f.server.stats().runs_failed, 2u);
    });
}

TEST(ApiServer, SizeLimitsGive413And431) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f(small_limits());
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        std::string big = run_body(sid, std::string(100 * 1024, 'x'));
        http::Response too_big = co_await call(c, "POST", f.base + "/run", big);
        EXPECT_EQ(too_big.status, 413);
        EXPECT_TRUE(body_json(too_big).contains("error"));
        http::Headers headers;
        headers.set("X-Big", std::string(16 * 1024, 'h'));
        http::Response big_header = co_await call(c, "GET", f.base + "/health", "", headers);
        EXPECT_EQ(big_header.status, 431);
        EXPECT_TRUE(body_json(big_header).contains("error"));
        http::Response fine = co_await call(c, "GET", f.base + "/health");
        EXPECT_EQ(fine.status, 200);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, MaxInvocationsGives503) {
    run_bounded([]() -> aio::Coro<> {
        adk::ApiServerOptions o;
        o.max_invocations = 1;
        Fixture f(std::move(o));
        co_await f.start();
        http::Client c;
        std::string s1 = co_await new_session(c, f.base);
        std::string s2 = co_await new_session(c, f.base);
        aio::Task<http::Response> first = aio::create_task(call(c, "POST", f.base + "/run", run_body(s1, "block")));
        co_await wait_event(f.blocker->started);
        http::Response second = co_await call(c, "POST", f.base + "/run", run_body(s2, "hello"));
        EXPECT_EQ(second.status, 503);
        EXPECT_TRUE(body_json(second)["error"].get<std::string>().find("limit 1") != std::string::npos);
        EXPECT_EQ(f.server.stats().rejected_overload, 1u);
        f.blocker->release.set();
        http::Response done = co_await first;
        EXPECT_EQ(done.status, 200);
        http::Response third = co_await call(c, "POST", f.base + "/run", run_body(s2, "hello"));
        EXPECT_EQ(third.status, 200);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, BusySessionWaitsByDefaultOr409OnRequest) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        aio::Task<http::Response> first = aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "block")));
        co_await wait_event(f.blocker->started);

        // Fail fast: 409 at once, for a run and for a PATCH.
        Json fast = Json::parse(run_body(sid, "hello"));
        fast["ifSessionBusy"] = "fail";
        http::Response busy = co_await call(c, "POST", f.base + "/run", fast.dump());
        EXPECT_EQ(busy.status, 409);
        http::Response busy_sse = co_await call(c, "POST", f.base + "/run_sse?ifSessionBusy=fail", run_body(sid, "x"));
        EXPECT_EQ(busy_sse.status, 409);
        http::Response busy_patch =
            co_await call(c, "PATCH", f.base + "/apps/weather/users/u1/sessions/" + sid + "?ifSessionBusy=fail",
                          R"({"stateDelta":{"a":1}})");
        EXPECT_EQ(busy_patch.status, 409);
        EXPECT_EQ(f.server.stats().rejected_busy, 3u);

        // Default: wait for the turn (ADK's behaviour, without interleaving).
        aio::Task<http::Response> second = aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "hello")));
        bool queued = co_await eventually([&] { return f.server.stats().active_runs == 2; });
        CO_ASSERT_TRUE(queued);  // the second run waits at the session's turn, before the PATCH
        aio::Task<http::Response> patch = aio::create_task(
            call(c, "PATCH", f.base + "/apps/weather/users/u1/sessions/" + sid, R"({"stateDelta":{"a":1}})"));
        co_await aio::sleep(std::chrono::milliseconds(50));
        EXPECT_FALSE(second.done());
        EXPECT_FALSE(patch.done());
        f.blocker->release.set();
        http::Response r1 = co_await first;
        http::Response r2 = co_await second;
        http::Response rp = co_await patch;
        EXPECT_EQ(r1.status, 200);
        EXPECT_EQ(r2.status, 200);
        EXPECT_EQ(rp.status, 200);
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json events = body_json(s)["events"];
        // user, call, response, done | user, hi there | patch: in arrival order.
        CO_ASSERT_TRUE(events.size() == 7);
        EXPECT_EQ(events[3]["content"]["parts"][0]["text"], "done");
        EXPECT_EQ(events[4]["content"]["parts"][0]["text"], "hello");
        EXPECT_EQ(events[6]["actions"]["stateDelta"], Json({{"a", 1}}));
        co_await f.server.aclose();
    });
}

// --- cancellation --------------------------------------------------------------------

TEST(ApiServer, ClientDisconnectFromRunSseCancelsTheInvocation) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        http::Request req;
        req.method = "POST";
        req.url = f.base + "/run_sse";
        req.headers.set("Content-Type", "application/json");
        req.body = run_body(sid, "block please");
        http::StreamResponse stream = co_await c.stream(std::move(req));
        EXPECT_EQ(stream.status, 200);
        // The function-call event arrives, then the tool blocks.
        std::string received;
        while (received.find("\n\n") == std::string::npos) {
            std::optional<std::string> chunk = co_await stream.body.next();
            CO_ASSERT_TRUE(chunk.has_value());
            received += *chunk;
        }
        co_await wait_event(f.blocker->started);
        Json first = sse_data(received).at(0);
        EXPECT_EQ(first["content"]["parts"][0]["functionCall"]["name"], "block");
        adk::Runner& runner = f.server.runner("weather");
        EXPECT_EQ(runner.running_invocations().size(), 1u);

        co_await stream.aclose();  // the client goes away mid-stream

        co_await wait_event(f.blocker->unwound);  // the tool was cancelled
        EXPECT_EQ(f.blocker->cancelled, 1);
        EXPECT_EQ(f.blocker->finished, 0);
        bool stopped = co_await eventually([&] {
            return runner.running_invocations().empty() && f.server.stats().active_runs == 0;
        });
        EXPECT_TRUE(stopped);
        EXPECT_EQ(f.server.stats().runs_disconnected, 1u);

        // The session holds whole events only: the message and the call.
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json session = body_json(s);
        CO_ASSERT_TRUE(session["events"].size() == 2);
        EXPECT_EQ(session["events"][0]["author"], "user");
        EXPECT_TRUE(session["events"][1]["content"]["parts"][0].contains("functionCall"));
        expect_whole_events(session);
        // And the session's turn is free again.
        Json fast = Json::parse(run_body(sid, "hello"));
        fast["ifSessionBusy"] = "fail";
        http::Response next = co_await call(c, "POST", f.base + "/run", fast.dump());
        EXPECT_EQ(next.status, 200) << next.body;
        co_await f.server.aclose();
    });
}

TEST(ApiServer, ClientDisconnectFromRunCancelsTheInvocation) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        aio::Task<http::Response> running =
            aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "block please")));
        co_await wait_event(f.blocker->started);
        running.cancel();  // aborts the transfer: the server sees the connection close
        try {
            co_await running;
        } catch (const aio::CancelledError&) {
        }
        co_await wait_event(f.blocker->unwound);
        adk::Runner& runner = f.server.runner("weather");
        bool stopped = co_await eventually([&] { return runner.running_invocations().empty(); });
        EXPECT_TRUE(stopped);
        bool counted = co_await eventually([&] { return f.server.stats().runs_disconnected == 1; });
        EXPECT_TRUE(counted);
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json session = body_json(s);
        EXPECT_EQ(session["events"].size(), 2u);
        expect_whole_events(session);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, CancelByInvocationIdEndsTheStream) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        http::Request req;
        req.method = "POST";
        req.url = f.base + "/run_sse";
        req.headers.set("Content-Type", "application/json");
        req.body = run_body(sid, "block please");
        http::StreamResponse stream = co_await c.stream(std::move(req));
        std::string received;
        while (received.find("\n\n") == std::string::npos) {
            std::optional<std::string> chunk = co_await stream.body.next();
            CO_ASSERT_TRUE(chunk.has_value());
            received += *chunk;
        }
        co_await wait_event(f.blocker->started);
        std::string invocation = sse_data(received).at(0)["invocationId"];

        Json cancel = {{"invocationId", invocation}};
        http::Response answer = co_await call(c, "POST", f.base + "/cancel", cancel.dump());
        EXPECT_EQ(answer.status, 200) << answer.body;
        EXPECT_EQ(body_json(answer), Json({{"cancelled", true}, {"stopped", true}, {"invocationId", invocation}}));
        EXPECT_TRUE(f.server.runner("weather").running_invocations().empty());
        EXPECT_EQ(f.blocker->cancelled, 1);

        std::string rest = co_await stream.read();  // the stream ends cleanly
        std::vector<Json> events = sse_data(received + rest);
        CO_ASSERT_TRUE(events.size() == 2);
        EXPECT_EQ(events[1]["cancelled"], true);
        EXPECT_EQ(events[1]["invocationId"], invocation);
        EXPECT_EQ(events[1]["error"], "Invocation " + invocation + " was cancelled");
        EXPECT_EQ(f.server.stats().runs_cancelled, 1u);

        http::Response again = co_await call(c, "POST", f.base + "/cancel", cancel.dump());
        EXPECT_EQ(again.status, 404);
        http::Response missing = co_await call(c, "POST", f.base + "/cancel", "{}");
        EXPECT_EQ(missing.status, 400);
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json session = body_json(s);
        EXPECT_EQ(session["events"].size(), 2u);
        expect_whole_events(session);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, CancelByIdReachesAnInvocationStartedInProcess) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        // A C++ caller runs the app's runner directly: the server has no
        // stream of its own for it and asks the runner.
        adk::Runner& runner = f.server.runner("weather");
        aio::AsyncGenerator<adk::Event> events = runner.run("u1", sid, adk::Content::user("block please"));
        aio::Task<int> consumer = aio::create_task([&events]() -> aio::Coro<int> {
            int n = 0;
            while (std::optional<adk::Event> e = co_await events.next()) ++n;
            co_return n;
        });
        co_await wait_event(f.blocker->started);
        const std::string id = runner.running_invocations().at(0);
        Json cancel = {{"invocationId", id}};
        http::Response answer = co_await call(c, "POST", f.base + "/cancel", cancel.dump());
        EXPECT_EQ(answer.status, 200) << answer.body;
        EXPECT_EQ(body_json(answer), Json({{"cancelled", true}, {"stopped", true}, {"invocationId", id}}));
        EXPECT_EQ(f.blocker->cancelled, 1) << "answered only once the tool had unwound";
        std::exception_ptr consumer_failure = co_await aio_test::failure_of(std::move(consumer));
        EXPECT_TRUE(aio_test::holds<adk::InvocationCancelledError>(consumer_failure))
            << aio_test::describe(consumer_failure);
        http::Response again = co_await call(c, "POST", f.base + "/cancel", cancel.dump());
        EXPECT_EQ(again.status, 404);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, CancelInSessionStopsRunBeforeItsFirstEvent) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        const std::string cancel_url = f.base + "/apps/weather/users/u1/sessions/" + sid + "/cancel";
        http::Response idle = co_await call(c, "POST", cancel_url);
        EXPECT_EQ(idle.status, 404);

        // The model sleeps: no event yet, the invocation id is not known.
        aio::Task<http::Response> running = aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "slow")));
        adk::Runner& runner = f.server.runner("weather");
        bool started = co_await eventually([&] { return !runner.running_invocations().empty(); });
        CO_ASSERT_TRUE(started);
        http::Response wrong = co_await call(c, "POST", cancel_url + "?invocationId=e-other");
        EXPECT_EQ(wrong.status, 200);  // no event yet: the id cannot be checked, the run is stopped
        http::Response r = co_await running;
        EXPECT_EQ(r.status, 409);
        Json j = body_json(r);
        EXPECT_EQ(j["cancelled"], true);
        EXPECT_EQ(j["events"], Json::array());
        EXPECT_TRUE(runner.running_invocations().empty());
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        Json session = body_json(s);
        EXPECT_EQ(session["events"].size(), 1u);  // the user's message
        expect_whole_events(session);

        // With a known id (after the first event), a mismatching id is refused.
        aio::Task<http::Response> blocking =
            aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "block please")));
        co_await wait_event(f.blocker->started);
        http::Response mismatch = co_await call(c, "POST", cancel_url + "?invocationId=e-other");
        EXPECT_EQ(mismatch.status, 404);
        http::Response ok = co_await call(c, "POST", cancel_url);
        EXPECT_EQ(ok.status, 200);
        http::Response b = co_await blocking;
        EXPECT_EQ(b.status, 409);
        EXPECT_EQ(body_json(b)["events"].size(), 1u);  // the function call came before the cancel
        co_await f.server.aclose();
    });
}

TEST(ApiServer, DeleteStopsTheSessionsRun) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        aio::Task<http::Response> running =
            aio::create_task(call(c, "POST", f.base + "/run", run_body(sid, "block please")));
        co_await wait_event(f.blocker->started);
        http::Response deleted = co_await call(c, "DELETE", f.base + "/apps/weather/users/u1/sessions/" + sid);
        EXPECT_EQ(deleted.status, 200);
        http::Response r = co_await running;
        EXPECT_EQ(r.status, 409);
        EXPECT_EQ(f.blocker->cancelled, 1);
        http::Response gone = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/" + sid);
        EXPECT_EQ(gone.status, 404);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, CloseCancelsRunningInvocations) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        aio::Task<http::Response> running =
            aio::create_task(call(c, "POST", f.base + "/run_sse", run_body(sid, "block please")));
        co_await wait_event(f.blocker->started);
        co_await f.server.aclose();
        EXPECT_EQ(f.blocker->cancelled, 1);
        EXPECT_TRUE(f.server.runner("weather").running_invocations().empty());
        try {
            co_await running;
        } catch (const std::exception&) {  // the connection was dropped mid-stream
        }
        aio::Coro<std::optional<adk::Session>> loading = f.server.session_service().get_session("weather", "u1", sid);
        std::optional<adk::Session> stored = co_await std::move(loading);
        CO_ASSERT_TRUE(stored.has_value());
        Json session = Json(*stored);
        EXPECT_EQ(session["events"].size(), 2u);
        expect_whole_events(session);
    });
}

// --- artifacts -----------------------------------------------------------------------

TEST(ApiServer, ArtifactRoutes) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base);
        const std::string base = f.base + "/apps/weather/users/u1/sessions/" + sid + "/artifacts";
        http::Response empty = co_await call(c, "GET", base);
        EXPECT_EQ(body_json(empty), Json::array());

        http::Response v0 = co_await call(c, "POST", base, R"({"filename":"a.txt","artifact":{"text":"one"}})");
        EXPECT_EQ(v0.status, 200) << v0.body;
        EXPECT_EQ(body_json(v0)["version"], 0);
        EXPECT_EQ(body_json(v0)["mimeType"], "text/plain");
        http::Response v1 = co_await call(
            c, "POST", base,
            R"({"filename":"a.txt","artifact":{"inline_data":{"mime_type":"image/png","data":"aGk="}},"customMetadata":{"k":1}})");
        EXPECT_EQ(body_json(v1)["version"], 1);
        EXPECT_EQ(body_json(v1)["customMetadata"], Json({{"k", 1}}));

        http::Response names = co_await call(c, "GET", base);
        EXPECT_EQ(body_json(names), Json::array({"a.txt"}));
        http::Response latest = co_await call(c, "GET", base + "/a.txt");
        EXPECT_EQ(body_json(latest), Json({{"inlineData", {{"mimeType", "image/png"}, {"data", "aGk="}}}}));
        http::Response first = co_await call(c, "GET", base + "/a.txt?version=0");
        EXPECT_EQ(body_json(first), Json({{"text", "one"}}));
        http::Response by_path = co_await call(c, "GET", base + "/a.txt/versions/0");
        EXPECT_EQ(body_json(by_path), Json({{"text", "one"}}));
        http::Response versions = co_await call(c, "GET", base + "/a.txt/versions");
        EXPECT_EQ(body_json(versions), Json::array({0, 1}));
        http::Response bad_version = co_await call(c, "GET", base + "/a.txt/versions/x");
        EXPECT_EQ(bad_version.status, 400);
        http::Response no_version = co_await call(c, "GET", base + "/a.txt/versions/7");
        EXPECT_EQ(no_version.status, 404);
        http::Response bad_save = co_await call(c, "POST", base, R"({"artifact":{"text":"x"}})");
        EXPECT_EQ(bad_save.status, 400);

        http::Response deleted = co_await call(c, "DELETE", base + "/a.txt");
        EXPECT_EQ(deleted.status, 200);
        EXPECT_EQ(deleted.body, "null");
        http::Response gone = co_await call(c, "GET", base + "/a.txt");
        EXPECT_EQ(gone.status, 404);
        EXPECT_EQ(body_json(gone)["error"], "Artifact not found");

        // A tool saving an artifact: as ADK, the event carrying content and
        // an artifact delta is streamed as two events.
        http::Response sse = co_await call(c, "POST", f.base + "/run_sse", run_body(sid, "note this"));
        std::vector<Json> events = sse_data(sse.body);
        CO_ASSERT_TRUE(events.size() == 4);
        EXPECT_TRUE(events[1]["content"]["parts"][0].contains("functionResponse"));
        EXPECT_EQ(events[1]["actions"]["artifactDelta"], Json::object());
        EXPECT_FALSE(events[2].contains("content"));
        EXPECT_EQ(events[2]["actions"]["artifactDelta"], Json({{"note.txt", 0}}));
        EXPECT_EQ(events[1]["id"], events[2]["id"]);
        http::Response note = co_await call(c, "GET", base + "/note.txt");
        EXPECT_EQ(body_json(note), Json({{"text", "remember"}}));
        co_await f.server.aclose();
    });
}

// --- CORS ----------------------------------------------------------------------------

TEST(ApiServer, CorsPreflightAndOrigins) {
    run_bounded([]() -> aio::Coro<> {
        adk::ApiServerOptions o;
        o.allow_origins = {"http://ui.example"};
        Fixture f(std::move(o));
        co_await f.start();
        http::Client c;
        http::Headers pre = {{"Origin", "http://ui.example"},
                             {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "content-type"}};
        http::Response ok = co_await call(c, "OPTIONS", f.base + "/run_sse", "", pre);
        EXPECT_EQ(ok.status, 200);
        EXPECT_EQ(ok.headers.value("access-control-allow-origin"), "http://ui.example");
        EXPECT_NE(ok.headers.value("access-control-allow-methods").find("POST"), std::string_view::npos);
        EXPECT_EQ(ok.headers.value("access-control-allow-headers"), "content-type");
        EXPECT_EQ(ok.headers.value("access-control-allow-credentials"), "true");

        http::Headers evil = {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}};
        http::Response refused = co_await call(c, "OPTIONS", f.base + "/run_sse", "", evil);
        EXPECT_EQ(refused.status, 400);
        EXPECT_FALSE(refused.headers.contains("access-control-allow-origin"));

        http::Headers from_ui = {{"Origin", "http://ui.example"}};
        http::Response apps = co_await call(c, "GET", f.base + "/list-apps", "", from_ui);
        EXPECT_EQ(apps.headers.value("access-control-allow-origin"), "http://ui.example");
        http::Response created = co_await call(c, "POST", f.base + "/apps/weather/users/u1/sessions", "{}", from_ui);
        EXPECT_EQ(created.status, 200);
        EXPECT_EQ(created.headers.value("access-control-allow-origin"), "http://ui.example");
        // Errors carry the CORS headers too, so a browser can read them.
        http::Response missing = co_await call(c, "GET", f.base + "/apps/nope/users/u1/sessions", "", from_ui);
        EXPECT_EQ(missing.status, 404);
        EXPECT_EQ(missing.headers.value("access-control-allow-origin"), "http://ui.example");
        // ... the router's own answers included (a method the route lacks).
        http::Response wrong_method = co_await call(c, "PUT", f.base + "/run", "{}", from_ui);
        EXPECT_EQ(wrong_method.status, 405);
        EXPECT_EQ(wrong_method.headers.value("access-control-allow-origin"), "http://ui.example");

        // A state-changing request from another site is refused (as ADK's
        // origin check); a read is answered without CORS headers.
        http::Headers from_evil = {{"Origin", "http://evil.example"}};
        http::Response blocked = co_await call(c, "POST", f.base + "/apps/weather/users/u1/sessions", "{}", from_evil);
        EXPECT_EQ(blocked.status, 403);
        http::Response read = co_await call(c, "GET", f.base + "/list-apps", "", from_evil);
        EXPECT_EQ(read.status, 200);
        EXPECT_FALSE(read.headers.contains("access-control-allow-origin"));
        // Same origin is always fine.
        std::string host = f.base.substr(std::string("http://").size());
        http::Headers same = {{"Origin", f.base}, {"Host", host}};
        http::Response same_origin = co_await call(c, "POST", f.base + "/apps/weather/users/u1/sessions", "{}", same);
        EXPECT_EQ(same_origin.status, 200);
        co_await f.server.aclose();
    });
}

TEST(ApiServer, CorsAnyOrigin) {
    run_bounded([]() -> aio::Coro<> {
        adk::ApiServerOptions o;
        o.allow_origins = {"*"};
        Fixture f(std::move(o));
        co_await f.start();
        http::Client c;
        http::Headers pre = {{"Origin", "http://anything.example:4200"}, {"Access-Control-Request-Method", "DELETE"}};
        http::Response ok = co_await call(c, "OPTIONS", f.base + "/apps/weather/users/u1/sessions/x", "", pre);
        EXPECT_EQ(ok.status, 200);
        EXPECT_EQ(ok.headers.value("access-control-allow-origin"), "http://anything.example:4200");
        http::Headers from = {{"Origin", "http://anything.example:4200"}};
        http::Response created = co_await call(c, "POST", f.base + "/apps/weather/users/u1/sessions", "{}", from);
        EXPECT_EQ(created.status, 200);
        co_await f.server.aclose();
    });
}

// --- concurrency ---------------------------------------------------------------------

TEST(ApiServer, ConcurrentSessionsRunConcurrently) {
    run_bounded([]() -> aio::Coro<> {
        Fixture f;
        co_await f.start();
        http::Client c;
        constexpr int kSessions = 12;
        std::vector<std::string> ids;
        for (int i = 0; i < kSessions; ++i) {
            std::string id = co_await new_session(c, f.base, "counting", "u1");
            ids.push_back(id);
        }
        std::vector<aio::Task<http::Response>> runs;
        for (int i = 0; i < kSessions; ++i) {
            bool sse = i % 2 == 0;
            std::string body = run_body(ids[i], "n" + std::to_string(i), false, "counting");
            runs.push_back(aio::create_task(call(c, "POST", f.base + (sse ? "/run_sse" : "/run"), body)));
        }
        for (int i = 0; i < kSessions; ++i) {
            http::Response r = co_await runs[i];
            EXPECT_EQ(r.status, 200);
            std::vector<Json> events = i % 2 == 0 ? sse_data(r.body) : body_json(r).get<std::vector<Json>>();
            CO_ASSERT_TRUE(events.size() == 1);
            EXPECT_EQ(events[0]["content"]["parts"][0]["text"], "counted: n" + std::to_string(i));
        }
        EXPECT_GT(f.counting->max_in_flight, 1);  // the sessions' model calls overlapped
        EXPECT_EQ(f.server.stats().runs_completed, static_cast<std::uint64_t>(kSessions));
        EXPECT_EQ(f.server.stats().active_runs, 0u);
        co_await f.server.aclose();
    });
}

aio::Coro<Json> slow_lookup(Json args) {
    co_await aio::sleep(std::chrono::milliseconds(150));
    Json result = {{"result", "facts about " + args.value("topic", std::string("?"))}};
    co_return result;
}

TEST(ApiServer, RunSseStreamsParallelWorkAsItHappens) {
    run_bounded([]() -> aio::Coro<> {
        // A ParallelAgent of two researchers, each calling a 150 ms tool.
        Json schema = {{"type", "object"}, {"properties", {{"topic", {{"type", "string"}}}}}};
        std::vector<adk::AgentPtr> researchers;
        for (std::string topic : {"cats", "dogs"}) {
            adk::ScriptedRule after;
            after.after_tool = "lookup";
            after.reply = adk::ScriptedReply::say(topic + " done");
            adk::LlmAgent::Options o;
            o.name = topic + "_researcher";
            o.model = adk::ScriptedLlm::make({adk::ScriptedReply::call("lookup", Json{{"topic", topic}})}, {after});
            o.tools.push_back(adk::FunctionTool::make("lookup", "Looks a topic up", schema, slow_lookup));
            o.output_key = topic;
            researchers.push_back(adk::LlmAgent::make(std::move(o)));
        }
        Fixture f;
        f.server.add_app("research", adk::ParallelAgent::make("research", std::move(researchers)));
        co_await f.start();
        http::Client c;
        std::string sid = co_await new_session(c, f.base, "research");
        http::Request req;
        req.method = "POST";
        req.url = f.base + "/run_sse";
        req.headers.set("Content-Type", "application/json");
        req.body = run_body(sid, "research", false, "research");
        aio::Clock::time_point start = aio::get_running_loop().time();
        http::StreamResponse stream = co_await c.stream(std::move(req));
        std::string received;
        std::vector<double> arrivals;  // seconds since the request, per event
        while (true) {
            std::optional<std::string> chunk = co_await stream.body.next();
            if (!chunk) break;
            received += *chunk;
            std::size_t events = sse_data(received).size();
            while (arrivals.size() < events) arrivals.push_back(since(start));
        }
        std::vector<Json> events = sse_data(received);
        CO_ASSERT_TRUE(events.size() == 6);  // per researcher: call, response, answer
        int calls_before_any_response = 0;
        for (const Json& e : events) {
            if (e["content"]["parts"][0].contains("functionResponse")) break;
            if (e["content"]["parts"][0].contains("functionCall")) ++calls_before_any_response;
        }
        EXPECT_EQ(calls_before_any_response, 2);  // both tools were running at once
        EXPECT_NE(events[0]["branch"], events[1]["branch"]);
        // Streamed as it happened: the calls came a tool's duration before the answers.
        EXPECT_GE(arrivals.back() - arrivals.front(), 0.1);
        EXPECT_LT(arrivals.back(), 10.0);
        http::Response s = co_await call(c, "GET", f.base + "/apps/research/users/u1/sessions/" + sid);
        Json session = body_json(s);
        EXPECT_EQ(session["state"], Json({{"cats", "cats done"}, {"dogs", "dogs done"}}));
        co_await f.server.aclose();
    });
}

// --- fuzzing the request path --------------------------------------------------------

TEST(ApiServer, FuzzedRequestsNeverCrashOrWedge) {
    run_bounded(
        []() -> aio::Coro<> {
            Fixture f(small_limits());
            co_await f.start();
            http::Client c;
            std::string sid = co_await new_session(c, f.base);
            std::vector<std::pair<std::string, std::string>> seeds = {
                {"POST /run", run_body(sid, "hello")},
                {"POST /run_sse", run_body(sid, "weather", true)},
                {"POST /apps/weather/users/u1/sessions", R"({"sessionId":"f","state":{"a":[1,{"b":null}]}})"},
                {"PATCH /apps/weather/users/u1/sessions/" + sid, R"({"stateDelta":{"k":"v"}})"},
                {"POST /apps/weather/users/u1/sessions/" + sid + "/artifacts",
                 R"({"filename":"f.txt","artifact":{"text":"t"}})"},
                {"POST /cancel", R"({"invocationId":"e-x"})"},
            };
            const char* paths[] = {"/run", "/run_sse", "/apps/weather/users/u1/sessions",
                                   "/apps/weather/users/u1/sessions/%ff%00", "/list-apps?detailed=%zz",
                                   "/apps/weather/users/u1/sessions/x/artifacts/%2e%2e/versions/-1"};
            std::mt19937 rng(12345);
            const std::string alphabet = "{}[]\",:0123456789.eE-+truefalsnul \\u00\xff\x01";
            int served = 0;
            for (int i = 0; i < 300; ++i) {
                auto& [target, seed] = seeds[rng() % seeds.size()];
                std::string body = seed;
                int mutations = 1 + static_cast<int>(rng() % 6);
                for (int m = 0; m < mutations && !body.empty(); ++m) {
                    std::size_t at = rng() % body.size();
                    switch (rng() % 4) {
                        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;
                        case 1: body.erase(at, 1 + rng() % 8); break;
                        case 2: body.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
                        default: body = body.substr(0, at); break;
                    }
                }
                std::string method = target.substr(0, target.find(' '));
                std::string path = target.substr(target.find(' ') + 1);
                if (rng() % 5 == 0) path = paths[rng() % std::size(paths)];
                http::Response r = co_await call(c, method, f.base + path, body);
                EXPECT_GT(r.status, 0);
                EXPECT_LT(r.status, 500) << method << " " << path << " " << body << " -> " << r.body;
                if (r.status >= 400) {
                    Json j = Json::parse(r.body, nullptr, false);
                    EXPECT_TRUE(j.is_object() && j.contains("error")) << r.status << " " << r.body;
                }
                ++served;
            }
            EXPECT_EQ(served, 300);
            http::Response health = co_await call(c, "GET", f.base + "/health");
            EXPECT_EQ(health.status, 200);
            EXPECT_EQ(f.server.stats().active_runs, 0u);
            co_await f.server.aclose();
        },
        std::chrono::seconds(120));
}

// --- other session services ----------------------------------------------------------

TEST(ApiServer, SqliteSessionService) {
    run_bounded([]() -> aio::Coro<> {
        auto sqlite = std::make_shared<adk::SqliteSessionService>(":memory:");
        co_await sqlite->ready();
        adk::ApiServerOptions o;
        o.session_service = sqlite;
        Fixture f(std::move(o));
        co_await f.start();
        http::Client c;
        http::Response created =
            co_await call(c, "POST", f.base + "/apps/weather/users/u1/sessions", R"({"sessionId":"db","state":{"a":1}})");
        EXPECT_EQ(created.status, 200);
        http::Response r = co_await call(c, "POST", f.base + "/run_sse", run_body("db", "weather", true));
        EXPECT_EQ(sse_data(r.body).size(), 6u);
        http::Response s = co_await call(c, "GET", f.base + "/apps/weather/users/u1/sessions/db");
        Json session = body_json(s);
        EXPECT_EQ(session["events"].size(), 4u);
        EXPECT_EQ(session["state"], Json({{"a", 1}, {"last_city", "Paris"}}));
        expect_whole_events(session);
        co_await f.server.aclose();
        co_await sqlite->aclose();
    });
}

// --- the program ---------------------------------------------------------------------

namespace {
std::string server_path() {
#ifdef ADK_SERVER_PATH
    return ADK_SERVER_PATH;
#else
    char self[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0);
    dir = dir.substr(0, dir.rfind('/'));
    return dir + "/../../bin/adk-server";
#endif
}
}  // namespace

TEST(ApiServerProgram, ServesTheDemoAppAndStopsOnSigterm) {
    run_bounded([]() -> aio::Coro<> {
        aio::SubprocessOptions options;
        options.stdout = aio::PIPE;
        std::vector<std::string> args = {"--port", "0", "--allow_origins", "http://a.example,http://b.example"};
        aio::Process process = co_await aio::create_subprocess_exec(server_path(), args, options);
        std::string line = co_await process.stdout()->readline();
        const std::string prefix = "listening on http://127.0.0.1:";
        CO_ASSERT_TRUE(line.rfind(prefix, 0) == 0);
        std::string base = "http://127.0.0.1:" + std::to_string(std::stoi(line.substr(prefix.size())));
        http::Client c;
        http::Response apps = co_await call(c, "GET", base + "/list-apps");
        EXPECT_EQ(body_json(apps), Json::array({"hello_agent"}));
        http::Response created = co_await call(c, "POST", base + "/apps/hello_agent/users/u/sessions/s");
        EXPECT_EQ(created.status, 200);
        Json add = {{"appName", "hello_agent"},
                    {"userId", "u"},
                    {"sessionId", "s"},
                    {"newMessage", {{"parts", Json::array({Json{{"text", "please add 2 and 40"}}})}}}};
        http::Response r = co_await call(c, "POST", base + "/run", add.dump());
        Json events = body_json(r);
        CO_ASSERT_TRUE(events.is_array() && events.size() == 3);
        EXPECT_EQ(events[0]["content"]["parts"][0]["functionCall"]["args"], Json({{"a", 2.0}, {"b", 40.0}}));
        EXPECT_EQ(events[2]["content"]["parts"][0]["text"], "The sum is 42.");
        Json echo = Json::parse(run_body("s", "hello world", true, "hello_agent"));
        echo["userId"] = "u";
        http::Response streamed = co_await call(c, "POST", base + "/run_sse", echo.dump());
        std::vector<Json> s = sse_data(streamed.body);
        CO_ASSERT_TRUE(s.size() == 4);
        EXPECT_EQ(s[0]["partial"], true);
        EXPECT_EQ(s[3]["content"]["parts"][0]["text"], "echo: hello world");
        http::Headers pre = {{"Origin", "http://b.example"}, {"Access-Control-Request-Method", "POST"}};
        http::Response preflight = co_await call(c, "OPTIONS", base + "/run", "", pre);
        EXPECT_EQ(preflight.headers.value("access-control-allow-origin"), "http://b.example");
        process.terminate();
        int rc = co_await process.wait();
        EXPECT_EQ(rc, 0);
    });
}

#ifdef ADK_SERVER_WITH_CONFIG
TEST(ApiServerProgram, ServesAnAgentsDirectory) {
    char tmpl[] = "/tmp/adk-server-agents-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::filesystem::create_directories(dir + "/echo_app");
    std::filesystem::create_directories(dir + "/not_an_app");
    std::ofstream(dir + "/echo_app/root_agent.yaml") << "name: echo_root\nmodel: demo\ndescription: Echoes.\n"
                                                        "instruction: Echo what the user says.\n";
    run_bounded([&]() -> aio::Coro<> {
        aio::SubprocessOptions options;
        options.stdout = aio::PIPE;
        std::vector<std::string> args = {"--port", "0", dir};
        aio::Process process = co_await aio::create_subprocess_exec(server_path(), args, options);
        std::string line = co_await process.stdout()->readline();
        const std::string prefix = "listening on http://127.0.0.1:";
        CO_ASSERT_TRUE(line.rfind(prefix, 0) == 0);
        std::string base = "http://127.0.0.1:" + std::to_string(std::stoi(line.substr(prefix.size())));
        http::Client c;
        http::Response apps = co_await call(c, "GET", base + "/list-apps?detailed=true");
        EXPECT_EQ(body_json(apps), Json({{"apps", Json::array({Json{{"name", "echo_app"},
                                                                    {"rootAgentName", "echo_root"},
                                                                    {"description", "Echoes."},
                                                                    {"language", "cpp"}}})}}));
        http::Response created = co_await call(c, "POST", base + "/apps/echo_app/users/u/sessions/s");
        EXPECT_EQ(created.status, 200);
        Json hi = Json::parse(run_body("s", "hi there", false, "echo_app"));
        hi["userId"] = "u";
        http::Response r = co_await call(c, "POST", base + "/run", hi.dump());
        Json events = body_json(r);
        CO_ASSERT_TRUE(events.is_array() && events.size() == 1);
        EXPECT_EQ(events[0]["author"], "echo_root");
        EXPECT_EQ(events[0]["content"]["parts"][0]["text"], "echo: hi there");
        process.terminate();
        int rc = co_await process.wait();
        EXPECT_EQ(rc, 0);
    });
    std::filesystem::remove_all(dir);
}
#else
TEST(ApiServerProgram, AgentsDirNeedsTheConfigLoader) {
    run_bounded([]() -> aio::Coro<> {
        aio::SubprocessOptions options;
        options.stdout = aio::DEVNULL;
        options.stderr = aio::PIPE;
        std::vector<std::string> args = {"--port", "0", "/tmp"};
        aio::Process process = co_await aio::create_subprocess_exec(server_path(), args, options);
        std::string err = co_await process.stderr()->read(-1);
        int rc = co_await process.wait();
        EXPECT_EQ(rc, 2);
        EXPECT_NE(err.find("not implemented"), std::string::npos) << err;
    });
}
#endif

TEST(ApiServerProgram, BadOptionsAndMissingAgentsDir) {
    run_bounded([]() -> aio::Coro<> {
        std::vector<std::vector<std::string>> cases;
        cases.push_back({"--port", "x"});
        cases.push_back({"--session_service_uri", "redis://x"});
        cases.push_back({"--model", "no-such-model"});
        cases.push_back({"--port", "0", "/nonexistent/agents"});
        for (const std::vector<std::string>& args : cases) {
            aio::SubprocessOptions options;
            options.stdout = aio::DEVNULL;
            options.stderr = aio::PIPE;
            aio::Process process = co_await aio::create_subprocess_exec(server_path(), args, options);
            std::string err = co_await process.stderr()->read(-1);
            int rc = co_await process.wait();
            EXPECT_EQ(rc, 2) << args[0] << ": " << err;
            EXPECT_NE(err.find("adk-server"), std::string::npos) << err;
        }
    });
}
