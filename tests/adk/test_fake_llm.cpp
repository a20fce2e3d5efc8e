// adk-fake-llm, black box: the program is started (aio subprocess) on a free
// loopback port with a script, and spoken to in raw HTTP over aio streams;
// its answers are read with the wire-format converters. OpenAI plain and
// streamed (text, tool calls, usage, [DONE]), Gemini plain and streamed,
// script rules, every fault (delay, 429 with Retry-After, 500, a stream cut
// in the middle, malformed JSON), the API key, the test hooks, a graceful
// SIGTERM.
#include <strings.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <aio/subprocess.hpp>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "adk/gemini_format.hpp"
#include "adk/openai_format.hpp"
#include "support.hpp"

using namespace aio_test;
using adk::Json;
using adk::LlmResponse;

namespace {

std::string fake_llm_path() {
    if (const char* env = std::getenv("ADK_FAKE_LLM")) return env;
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

/// A script file removed at the end of the test.
class ScriptFile {
public:
    explicit ScriptFile(const Json& script) {
        char name[] = "/tmp/adk-fake-llm-test-XXXXXX";
        int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        ::close(fd);
        path_ = name;
        std::ofstream(path_) << script.dump(2);
    }
    ~ScriptFile() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

/// The running program.
struct FakeServer {
    aio::Process process;
    std::uint16_t port = 0;
};

aio::Coro<FakeServer> start_fake(std::vector<std::string> args) {
    std::string program = fake_llm_path();
    aio::SubprocessOptions options;
    options.stdout = aio::PIPE;
    aio::Process process = co_await aio::create_subprocess_exec(program, args, options);
    std::string line = co_await process.stdout()->readline();
    const std::string prefix = "listening on http://127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: " + line);
    FakeServer s{std::move(process), static_cast<std::uint16_t>(std::stoi(line.substr(prefix.size())))};
    co_return std::move(s);
}

aio::Coro<FakeServer> start_with_script(const ScriptFile& script) {
    std::vector<std::string> args{"--port", "0", "--script", script.path()};
    FakeServer s = co_await start_fake(std::move(args));
    co_return std::move(s);
}

aio::Coro<int> stop(FakeServer& s) {
    s.process.terminate();
    int rc = co_await s.process.wait();
    co_return rc;
}

// --- a raw HTTP client --------------------------------------------------------------------

struct Reply {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                 // whole body (not streamed)
    std::vector<std::string> events;  // SSE data payloads (streamed)
    bool clean_end = true;            // the body ended properly (terminating chunk)
    std::optional<std::string> header(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
        return std::nullopt;
    }
};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.pop_back();
    return s;
}

/// Splits complete SSE events out of `buf` (their data lines joined).
void take_events(std::string& buf, std::vector<std::string>& events) {
    for (;;) {
        std::size_t end = buf.find("\n\n");
        if (end == std::string::npos) return;
        std::string block = buf.substr(0, end);
        buf.erase(0, end + 2);
        std::string data;
        bool any = false;
        std::size_t pos = 0;
        while (pos <= block.size()) {
            std::size_t nl = block.find('\n', pos);
            std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            if (line.rfind("data:", 0) == 0) {
                std::string v = line.substr(5);
                if (!v.empty() && v[0] == ' ') v.erase(0, 1);
                if (any) data += '\n';
                data += v;
                any = true;
            }
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
        if (any) events.push_back(data);
    }
}

aio::Coro<Reply> exchange(std::uint16_t port, std::string method, std::string target, std::string body,
                          std::vector<std::string> extra_headers = {}) {
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const std::string& h : extra_headers) req += h + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    w.write(req);
    co_await w.drain();
    Reply reply;
    std::string status_line = co_await r.readline();
    reply.status = std::stoi(status_line.substr(9, 3));
    for (;;) {
        std::string h = trim(co_await r.readline());
        if (h.empty()) break;
        std::size_t colon = h.find(':');
        std::string v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        reply.headers.emplace_back(h.substr(0, colon), v);
    }
    bool sse = reply.header("content-type").value_or("").find("text/event-stream") != std::string::npos;
    if (auto te = reply.header("transfer-encoding"); te && *te == "chunked") {
        std::string buf;
        try {
            for (;;) {
                std::string size_line = co_await r.readline();
                if (size_line.empty()) {
                    reply.clean_end = false;  // EOF: the stream was cut
                    break;
                }
                std::size_t n = std::stoul(trim(size_line), nullptr, 16);
                if (n == 0) {
                    std::string last = co_await r.readline();
                    (void)last;
                    break;
                }
                std::string data = co_await r.readexactly(n);
                std::string crlf = co_await r.readexactly(2);
                (void)crlf;
                if (sse) {
                    buf += data;
                    take_events(buf, reply.events);
                } else {
                    reply.body += data;
                }
            }
        } catch (const std::exception&) {
            reply.clean_end = false;
        }
    } else if (auto cl = reply.header("content-length")) {
        reply.body = co_await r.readexactly(std::stoul(*cl));
    }
    w.close();
    co_return reply;
}

Json chat_body(const std::string& user_text, bool stream) {
    Json body{{"model", "gpt-test"}, {"messages", Json::array({Json{{"role", "user"}, {"content", user_text}}})}};
    if (stream) {
        body["stream"] = true;
        body["stream_options"] = Json{{"include_usage", true}};
    }
    return body;
}

Json gemini_body(const std::string& user_text) {
    return Json{{"contents", Json::array({Json{{"role", "user"}, {"parts", Json::array({Json{{"text", user_text}}})}}})}};
}

aio::Coro<Reply> chat(std::uint16_t port, const std::string& text, bool stream) {
    std::string body = chat_body(text, stream).dump();
    Reply r = co_await exchange(port, "POST", "/v1/chat/completions", std::move(body));
    co_return r;
}

/// Feeds a streamed reply's events to an OpenAI assembler.
std::vector<LlmResponse> assemble(adk::openai::StreamAssembler& a, const Reply& reply) {
    std::vector<LlmResponse> partials;
    for (const std::string& e : reply.events) {
        std::vector<LlmResponse> got = a.feed(e);
        for (LlmResponse& p : got) partials.push_back(std::move(p));
    }
    return partials;
}

}  // namespace

TEST(FakeLlm, AnswersOpenAiChatPlainAndStreamed) {
    ScriptFile script(Json::parse(R"({"replies": [
        {"text": "Hello there."},
        {"chunks": ["It is ", "sunny ", "in Paris."], "chunkDelayMs": 30}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        Reply health = co_await exchange(s.port, "GET", "/health", "");
        EXPECT_EQ(health.status, 200);
        EXPECT_EQ(Json::parse(health.body)["status"], "ok");

        Reply plain = co_await chat(s.port, "hi", false);
        EXPECT_EQ(plain.status, 200);
        LlmResponse r = adk::openai::parse_response(plain.body);
        EXPECT_EQ(r.content->text(), "Hello there.");
        EXPECT_EQ(r.finish_reason, "STOP");
        CO_ASSERT_TRUE(r.usage_metadata);
        EXPECT_GT(r.usage_metadata->at("totalTokenCount").get<int>(), 0);
        EXPECT_EQ(Json::parse(plain.body)["model"], "gpt-test");

        auto t0 = aio::get_running_loop().time();
        Reply streamed = co_await chat(s.port, "weather?", true);
        EXPECT_GE(since(t0), 0.055) << "two chunk delays of 30 ms";
        EXPECT_EQ(streamed.status, 200);
        EXPECT_TRUE(streamed.clean_end);
        CO_ASSERT_TRUE(!streamed.events.empty());
        EXPECT_EQ(streamed.events.back(), "[DONE]");
        adk::openai::StreamAssembler a;
        std::vector<LlmResponse> partials = assemble(a, streamed);
        CO_ASSERT_TRUE(partials.size() == 3u);
        EXPECT_EQ(partials[1].content->text(), "sunny ");
        LlmResponse f = a.finish();
        EXPECT_EQ(f.content->text(), "It is sunny in Paris.");
        CO_ASSERT_TRUE(f.usage_metadata);  // stream_options.include_usage
        EXPECT_GT(f.usage_metadata->at("candidatesTokenCount").get<int>(), 0);
        int rc = co_await stop(s);
        EXPECT_EQ(rc, 0) << "SIGTERM closes the server gracefully";
    });
}

TEST(FakeLlm, StreamsToolCallsWithArgumentsInPieces) {
    ScriptFile script(Json::parse(R"({"replies": [
        {"functionCalls": [{"name": "get_weather", "args": {"city": "Paris", "days": 3}},
                           {"id": "call_given", "name": "get_time", "args": {"tz": "CET"}}]},
        {"functionCalls": [{"name": "get_weather", "args": {"city": "Rome"}}]}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        Reply streamed = co_await chat(s.port, "weather?", true);
        adk::openai::StreamAssembler a;
        std::vector<LlmResponse> partials = assemble(a, streamed);
        EXPECT_TRUE(partials.empty()) << "tool calls are not partial text";
        std::size_t argument_events = 0;
        for (const std::string& e : streamed.events)
            if (e.find("\"arguments\"") != std::string::npos) ++argument_events;
        EXPECT_GE(argument_events, 4u) << "each call's arguments arrive in pieces";
        LlmResponse f = a.finish();
        CO_ASSERT_TRUE(f.content->parts.size() == 2u);
        EXPECT_EQ(f.content->parts[0].function_call->name, "get_weather");
        EXPECT_EQ(f.content->parts[0].function_call->args, (Json{{"city", "Paris"}, {"days", 3}}));
        EXPECT_FALSE(f.content->parts[0].function_call->id.empty());
        EXPECT_EQ(f.content->parts[1].function_call->id, "call_given");
        EXPECT_EQ(f.finish_reason, "STOP");
        Json last_chunk = Json::parse(streamed.events[streamed.events.size() - 3]);
        EXPECT_EQ(last_chunk["choices"][0]["finish_reason"], "tool_calls");

        Reply plain = co_await chat(s.port, "and Rome?", false);
        LlmResponse p = adk::openai::parse_response(plain.body);
        EXPECT_EQ(p.content->parts[0].function_call->args, (Json{{"city", "Rome"}}));
        EXPECT_EQ(Json::parse(plain.body)["choices"][0]["finish_reason"], "tool_calls");
        co_await stop(s);
    });
}

TEST(FakeLlm, AnswersGeminiPlainAndStreamed) {
    ScriptFile script(Json::parse(R"({"replies": [
        {"text": "Bonjour."},
        {"chunks": ["The weather ", "is fine."], "functionCalls": [{"name": "log", "args": {"ok": true}}]},
        {"chunks": ["a", "b"]}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        std::string body = gemini_body("salut").dump();
        Reply plain = co_await exchange(s.port, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", body);
        EXPECT_EQ(plain.status, 200);
        LlmResponse r = adk::gemini::parse_response(plain.body);
        EXPECT_EQ(r.content->text(), "Bonjour.");
        EXPECT_EQ(r.finish_reason, "STOP");
        EXPECT_GT(r.usage_metadata->at("totalTokenCount").get<int>(), 0);

        Reply streamed =
            co_await exchange(s.port, "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", body);
        EXPECT_EQ(streamed.header("content-type").value_or(""), "text/event-stream");
        EXPECT_TRUE(streamed.clean_end);
        adk::gemini::StreamAssembler a;
        std::size_t partials = 0;
        for (const std::string& e : streamed.events) partials += a.feed(e).size();
        EXPECT_EQ(partials, 2u);
        LlmResponse f = a.finish();
        EXPECT_EQ(f.content->text(), "The weather is fine.");
        CO_ASSERT_TRUE(f.content->parts.size() == 2u);
        EXPECT_EQ(f.content->parts[1].function_call->name, "log");
        EXPECT_EQ(f.finish_reason, "STOP");

        // Without alt=sse: one JSON array of responses.
        Reply array = co_await exchange(s.port, "POST", "/v1beta/models/m:streamGenerateContent", body);
        Json all = Json::parse(array.body);
        CO_ASSERT_TRUE(all.is_array());
        EXPECT_EQ(all.size(), 3u);
        co_await stop(s);
    });
}

TEST(FakeLlm, RulesMatchTheLastUserMessageOrTheToolAnswered) {
    ScriptFile script(Json::parse(R"({"replies": [{"text": "turn reply"}],
        "rules": [{"whenUserSays": "bonjour", "reply": {"text": "Salut !"}},
                  {"afterTool": "get_weather", "reply": {"text": "It is 21 C."}}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        Reply greet = co_await chat(s.port, "bonjour le monde", false);
        EXPECT_EQ(adk::openai::parse_response(greet.body).content->text(), "Salut !");
        Json after_tool = Json::parse(R"({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}]})");
        std::string text = after_tool.dump();
        Reply tool = co_await exchange(s.port, "POST", "/v1/chat/completions", text);
        EXPECT_EQ(adk::openai::parse_response(tool.body).content->text(), "It is 21 C.");
        Reply turn = co_await chat(s.port, "anything", false);
        EXPECT_EQ(adk::openai::parse_response(turn.body).content->text(), "turn reply");
        Reply exhausted = co_await chat(s.port, "more", false);
        EXPECT_EQ(exhausted.status, 500);
        EXPECT_NE(adk::openai::error_from_body(500, exhausted.body).what(), std::string());

        Reply log = co_await exchange(s.port, "GET", "/fake/requests", "");
        Json requests = Json::parse(log.body);
        CO_ASSERT_TRUE(requests.size() == 4u);
        EXPECT_EQ(requests[1]["body"]["messages"][2]["role"], "tool");
        co_await stop(s);
    });
}

TEST(FakeLlm, InjectsStatusFaultsAndDelays) {
    ScriptFile script(Json::parse(R"({"replies": [
        {"text": "never", "fault": {"status": 429, "retryAfter": 2}},
        {"fault": {"status": 500, "message": "the model crashed"}},
        {"delayMs": 300, "text": "late"},
        {"raise": "connection reset by model"},
        {"fault": {"status": 503}}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        Reply limited = co_await chat(s.port, "a", false);
        EXPECT_EQ(limited.status, 429);
        EXPECT_EQ(limited.header("retry-after").value_or(""), "2");
        adk::ModelApiError e = adk::openai::error_from_body(429, limited.body);
        EXPECT_EQ(e.code(), "rate_limit_exceeded");

        Reply crashed = co_await chat(s.port, "b", true);
        EXPECT_EQ(crashed.status, 500) << "an error status comes before any stream";
        EXPECT_STREQ(adk::openai::error_from_body(500, crashed.body).what(), "the model crashed");

        auto t0 = aio::get_running_loop().time();
        Reply late = co_await chat(s.port, "c", false);
        EXPECT_GE(since(t0), 0.29);
        EXPECT_EQ(adk::openai::parse_response(late.body).content->text(), "late");

        Reply raised = co_await chat(s.port, "d", false);
        EXPECT_EQ(raised.status, 500);

        std::string body = gemini_body("e").dump();
        Reply unavailable = co_await exchange(s.port, "POST", "/v1beta/models/m:generateContent", body);
        EXPECT_EQ(unavailable.status, 503);
        EXPECT_EQ(adk::gemini::error_from_body(503, unavailable.body).code(), "UNAVAILABLE");
        co_await stop(s);
    });
}

TEST(FakeLlm, CutsStreamsAndSendsMalformedJson) {
    ScriptFile script(Json::parse(R"({"replies": [
        {"chunks": ["one ", "two ", "three"], "fault": {"cutAfterChunks": 2}},
        {"text": "x", "fault": {"malformedJson": true}},
        {"chunks": ["a", "b"], "fault": {"malformedJson": true}},
        {"chunks": ["g1 ", "g2 ", "g3"], "fault": {"cutAfterChunks": 1}}]})"));
    run_bounded([&]() -> aio::Coro<> {
        FakeServer s = co_await start_with_script(script);
        Reply cut = co_await chat(s.port, "a", true);
        EXPECT_EQ(cut.status, 200);
        EXPECT_FALSE(cut.clean_end) << "the connection drops inside the chunked body";
        adk::openai::StreamAssembler a;
        std::vector<LlmResponse> partials = assemble(a, cut);
        EXPECT_EQ(partials.size(), 2u) << "two chunks got through";
        EXPECT_FALSE(a.done());
        EXPECT_THROW(a.finish(), adk::TruncatedStreamError);

        Reply broken = co_await chat(s.port, "b", false);
        EXPECT_EQ(broken.status, 200);
        EXPECT_THROW(adk::openai::parse_response(broken.body), adk::MalformedResponseError);

        Reply broken_stream = co_await chat(s.port, "c", true);
        adk::openai::StreamAssembler b;
        EXPECT_THROW(assemble(b, broken_stream), adk::MalformedResponseError);

        std::string body = gemini_body("d").dump();
        Reply gcut = co_await exchange(s.port, "POST", "/v1beta/models/m:streamGenerateContent?alt=sse", body);
        EXPECT_FALSE(gcut.clean_end);
        adk::gemini::StreamAssembler g;
        for (const std::string& e : gcut.events) g.feed(e);
        EXPECT_EQ(gcut.events.size(), 1u);
        EXPECT_THROW(g.finish(), adk::TruncatedStreamError);
        co_await stop(s);
    });
}

TEST(FakeLlm, ChecksTheApiKeyAndTakesANewScript) {
    ScriptFile script(Json::parse(R"({"replies": [{"text": "first"}]})"));
    run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> args{"--port", "0", "--script", script.path(), "--api-key", "sk-test"};
        FakeServer s = co_await start_fake(std::move(args));
        Reply denied = co_await chat(s.port, "a", false);
        EXPECT_EQ(denied.status, 401);
        EXPECT_EQ(adk::openai::error_from_body(401, denied.body).code(), "invalid_api_key");
        std::string body = chat_body("a", false).dump();
        std::vector<std::string> auth{"Authorization: Bearer sk-test"};
        Reply ok = co_await exchange(s.port, "POST", "/v1/chat/completions", body, auth);
        EXPECT_EQ(adk::openai::parse_response(ok.body).content->text(), "first");
        std::string gbody = gemini_body("g").dump();
        Reply gdenied = co_await exchange(s.port, "POST", "/v1beta/models/m:generateContent", gbody);
        EXPECT_EQ(gdenied.status, 401);

        std::string replacement = R"({"replies": [{"text": "second script"}]})";
        Reply replaced = co_await exchange(s.port, "POST", "/fake/script", replacement);
        EXPECT_EQ(replaced.status, 200);
        Reply again = co_await exchange(s.port, "POST", "/v1/chat/completions", body, auth);
        EXPECT_EQ(adk::openai::parse_response(again.body).content->text(), "second script");
        Reply bad = co_await exchange(s.port, "POST", "/fake/script", "{nope");
        EXPECT_EQ(bad.status, 400);
        Reply not_json = co_await exchange(s.port, "POST", "/v1/chat/completions", "{nope", auth);
        EXPECT_EQ(not_json.status, 400);
        co_await stop(s);
    });
}

TEST(FakeLlm, EchoesWithoutAScriptAndRefusesBadArguments) {
    run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> args{"--port", "0"};
        FakeServer s = co_await start_fake(std::move(args));
        Reply echo = co_await chat(s.port, "ping", false);
        EXPECT_EQ(adk::openai::parse_response(echo.body).content->text(), "echo: ping");
        co_await stop(s);

        std::string program = fake_llm_path();
        std::vector<std::string> bad{"--script", "/nonexistent/script.json"};
        aio::SubprocessOptions quiet;
        quiet.stdout = aio::DEVNULL;
        quiet.stderr = aio::DEVNULL;
        aio::Process p = co_await aio::create_subprocess_exec(program, bad, quiet);
        int rc = co_await p.wait();
        EXPECT_EQ(rc, 2);
    });
}
