// adk::GeminiLlm against adk-fake-llm's Gemini routes (generateContent and
// streamGenerateContent?alt=sse): plain, streamed, tool calls, usage, the
// API key, every injected fault (delay → timeout, 429 with Retry-After
// retried then answered or given up, 500, a stream cut in the middle,
// malformed JSON), a cancellation mid-stream (the in-process server sees the
// disconnect, the client has nothing in flight), the registry and the
// environment, and an LlmAgent with a FunctionTool through InMemoryRunner.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "adk/adk.hpp"
#include "adk/gemini_llm.hpp"
#include "model_test_support.hpp"

using namespace model_test;
using adk::GeminiLlm;
using aio_test::run_bounded;

namespace {

GeminiLlm::Options options_for(const std::string& base, std::string model = "gemini-test") {
    return test_options<GeminiLlm::Options>(base, std::move(model));
}

Json fake_script(const char* replies) { return Json::parse(std::string(R"({"replies": )") + replies + "}"); }

}  // namespace

TEST(GeminiLlm, AnswersPlainTextWithUsageAndSendsTheKeyAndTheConvertedRequest) {
    run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> key_args{"--api-key", "g-key"};
        Json script = fake_script(R"([{"text": "Bonjour."}])");
        auto fake = co_await FakeLlm::start(std::move(script), std::move(key_args));
        GeminiLlm::Options opts = options_for(fake->gemini_base(), "models/gemini-test");
        opts.api_key = "g-key";
        GeminiLlm llm(std::move(opts));
        EXPECT_EQ(llm.wire_model(), "gemini-test");
        EXPECT_EQ(llm.endpoint(false), fake->gemini_base() + "/models/gemini-test:generateContent");
        EXPECT_EQ(llm.endpoint(true), fake->gemini_base() + "/models/gemini-test:streamGenerateContent?alt=sse");
        Outcome o = co_await call(llm, "salut", false, true);
        CO_ASSERT_TRUE(!o.error);
        CO_ASSERT_TRUE(o.responses.size() == 1u);
        EXPECT_EQ(o.last().content->text(), "Bonjour.");
        EXPECT_EQ(o.last().finish_reason, "STOP");
        CO_ASSERT_TRUE(o.last().usage_metadata.has_value());
        EXPECT_GT(o.last().usage_metadata->at("totalTokenCount").get<int>(), 0);

        Json log = co_await fake->requests();
        CO_ASSERT_TRUE(log.size() == 1u);
        EXPECT_EQ(log[0]["path"], "/v1beta/models/gemini-test:generateContent");
        const Json& body = log[0]["body"];
        EXPECT_EQ(body["contents"][0]["parts"][0]["text"], "salut");
        EXPECT_EQ(body["systemInstruction"]["parts"][0]["text"], "You are a test.");
        EXPECT_EQ(body["tools"][0]["functionDeclarations"][0]["name"], "get_weather");

        GeminiLlm::Options wrong = options_for(fake->gemini_base());
        wrong.api_key = "nope";
        GeminiLlm denied(std::move(wrong));
        Outcome d = co_await call(denied, "x", false);
        EXPECT_TRUE(d.failed_with<adk::AuthenticationError>()) << d.what;
        co_await fake->stop();
    });
}

TEST(GeminiLlm, StreamsTextAsItArrivesThenTheWholeAnswerWithItsFunctionCalls) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"chunks": ["The weather ", "is ", "fine."], "chunkDelayMs": 300,
             "functionCalls": [{"name": "log", "args": {"ok": true}}]}])"));
        GeminiLlm llm(options_for(fake->gemini_base()));
        Outcome o = co_await call(llm, "weather?", true);
        CO_ASSERT_TRUE(!o.error);
        std::vector<LlmResponse> partials = o.partials();
        CO_ASSERT_TRUE(partials.size() == 3u);
        EXPECT_EQ(partials[0].content->text(), "The weather ");
        EXPECT_GE(o.times.back() - o.times[0], 0.5) << "the first partial came out only at the end: buffered";
        const LlmResponse& f = o.last();
        EXPECT_FALSE(f.is_partial());
        EXPECT_EQ(f.content->text(), "The weather is fine.");
        CO_ASSERT_TRUE(f.content->parts.size() == 2u);
        CO_ASSERT_TRUE(f.content->parts[1].function_call.has_value());
        EXPECT_EQ(f.content->parts[1].function_call->name, "log");
        EXPECT_EQ(f.content->parts[1].function_call->args, (Json{{"ok", true}}));
        EXPECT_EQ(f.finish_reason, "STOP");
        EXPECT_TRUE(f.usage_metadata.has_value());

        Json log = co_await fake->requests();
        EXPECT_EQ(log[0]["path"], "/v1beta/models/gemini-test:streamGenerateContent");
        EXPECT_EQ(log[0]["query"], "alt=sse");
        co_await fake->stop();
    });
}

TEST(GeminiLlm, ReadsPlainFunctionCalls) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"functionCalls": [{"name": "get_weather", "args": {"city": "Paris"}}, {"name": "get_time", "args": {}}]}])"));
        GeminiLlm llm(options_for(fake->gemini_base()));
        Outcome o = co_await call(llm, "weather?", false, true);
        CO_ASSERT_TRUE(!o.error);
        const LlmResponse& r = o.last();
        CO_ASSERT_TRUE(r.content && r.content->parts.size() == 2u);
        EXPECT_EQ(r.content->parts[0].function_call->name, "get_weather");
        EXPECT_EQ(r.content->parts[0].function_call->args, (Json{{"city", "Paris"}}));
        EXPECT_EQ(r.content->parts[1].function_call->name, "get_time");
        co_await fake->stop();
    });
}

TEST(GeminiLlm, RetriesRateLimitsAndServerErrorsThenGivesUpWithTypedErrors) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"fault": {"status": 429, "retryAfter": 1}}, {"text": "after the wait"},
            {"fault": {"status": 500, "message": "internal"}}, {"fault": {"status": 503}}, {"fault": {"status": 500}},
            {"fault": {"status": 429}}, {"fault": {"status": 429}}, {"fault": {"status": 429}},
            {"fault": {"status": 404, "message": "models/gemini-x is not found"}}, {"text": "end"}])"));
        GeminiLlm llm(options_for(fake->gemini_base()));
        aio_test::CapturedLog quiet;
        Outcome waited = co_await call(llm, "a", true);
        CO_ASSERT_TRUE(!waited.error);
        EXPECT_EQ(waited.last().content->text(), "after the wait");
        EXPECT_GE(waited.elapsed, 0.95) << "Retry-After: 1 was honoured";

        Outcome server = co_await call(llm, "b", false);
        EXPECT_TRUE(server.failed_with<adk::ServerError>()) << server.what;
        EXPECT_NE(server.what.find("after 3 attempts"), std::string::npos) << server.what;

        Outcome limited = co_await call(llm, "c", false);
        EXPECT_TRUE(limited.failed_with<adk::RateLimitError>()) << limited.what;
        try {
            std::rethrow_exception(limited.error);
        } catch (const adk::RateLimitError& e) {
            EXPECT_EQ(e.code(), "RESOURCE_EXHAUSTED");
            EXPECT_EQ(e.status(), 429);
            EXPECT_FALSE(e.retry_after().has_value());
        }

        Outcome missing = co_await call(llm, "d", false);
        EXPECT_TRUE(missing.failed_with<adk::ModelNotFoundError>()) << missing.what;
        Outcome end = co_await call(llm, "e", false);
        EXPECT_EQ(end.last().content->text(), "end");
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 10u);
        co_await fake->stop();
    });
}

TEST(GeminiLlm, ARejectedKeyIsAnAuthenticationErrorOtherBadRequestsAreNot) {
    run_bounded([&]() -> aio::Coro<> {
        // Gemini answers a wrong key with 400 INVALID_ARGUMENT whose details
        // say API_KEY_INVALID (here in the message: the fake has no details).
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"fault": {"status": 400, "message": "API key not valid. Please pass a valid API key. [API_KEY_INVALID]"}},
            {"fault": {"status": 400, "message": "Invalid JSON payload received."}}])"));
        GeminiLlm llm(options_for(fake->gemini_base()));
        Outcome key = co_await call(llm, "a", false);
        EXPECT_TRUE(key.failed_with<adk::AuthenticationError>()) << key.what;
        try {
            std::rethrow_exception(key.error);
        } catch (const adk::ModelApiError& e) {
            EXPECT_EQ(e.status(), 400);
            EXPECT_EQ(e.code(), "INVALID_ARGUMENT");
        }
        Outcome bad = co_await call(llm, "b", true);
        EXPECT_TRUE(bad.failed_with<adk::BadRequestError>()) << bad.what;
        co_await fake->stop();
    });
}

TEST(GeminiLlm, TimeoutsCutStreamsAndMalformedJsonAreTypedErrors) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"delayMs": 5000, "text": "too late"},
            {"chunks": ["g1 ", "g2 ", "g3"], "fault": {"cutAfterChunks": 1}},
            {"text": "x", "fault": {"malformedJson": true}},
            {"chunks": ["a", "b"], "fault": {"malformedJson": true}}])"));
        GeminiLlm::Options opts = options_for(fake->gemini_base());
        opts.timeout = 400ms;
        GeminiLlm llm(std::move(opts));
        Outcome slow = co_await call(llm, "a", false);
        EXPECT_TRUE(slow.failed_with<adk::ModelTimeoutError>()) << slow.what;
        EXPECT_LT(slow.elapsed, 4.0);
        EXPECT_NE(slow.what.find("total"), std::string::npos) << slow.what;

        Outcome cut = co_await call(llm, "b", true);
        EXPECT_TRUE(cut.failed_with<adk::TruncatedStreamError>()) << cut.what;
        EXPECT_EQ(cut.partials().size(), 1u);

        Outcome broken = co_await call(llm, "c", false);
        EXPECT_TRUE(broken.failed_with<adk::MalformedResponseError>()) << broken.what;
        Outcome broken_stream = co_await call(llm, "d", true);
        EXPECT_TRUE(broken_stream.failed_with<adk::MalformedResponseError>()) << broken_stream.what;
        co_await fake->stop();
    });
}

TEST(GeminiLlm, CancellingTheConsumerMidStreamAbortsTheTransfer) {
    run_bounded([&]() -> aio::Coro<> {
        auto server = co_await HangingServer::start(
            R"({"candidates": [{"content": {"role": "model", "parts": [{"text": "first"}]}, "index": 0}]})");
        auto client = std::make_shared<aio::http::Client>();
        GeminiLlm::Options opts = options_for(server->root() + "/v1beta");
        opts.client = client;
        GeminiLlm llm(std::move(opts));
        aio::Event first_seen;
        aio::Task<> consumer = aio::create_task([&]() -> aio::Coro<> {
            aio::AsyncGenerator<LlmResponse> gen = llm.generate_content(ask("hi"), true);
            std::optional<LlmResponse> first = co_await gen.next();
            EXPECT_EQ(first->content->text(), "first");
            first_seen.set();
            std::optional<LlmResponse> second = co_await gen.next();
            ADD_FAILURE() << "the server never sends a second chunk";
        });
        co_await first_seen.wait();
        EXPECT_EQ(client->in_flight(), 1u);
        consumer.cancel();
        bool cancelled = false;
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(client->in_flight(), 0u);
        bool seen = co_await server->wait_cancelled();
        EXPECT_TRUE(seen) << "the server saw the connection close";
        co_await server->close();
    });
}

TEST(GeminiLlm, CancellingDuringTheRetryWaitLeavesNothingBehind) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([{"fault": {"status": 429, "retryAfter": 20}}, {"text": "x"}])"));
        auto client = std::make_shared<aio::http::Client>();
        GeminiLlm::Options opts = options_for(fake->gemini_base());
        opts.client = client;
        GeminiLlm llm(std::move(opts));
        aio_test::CapturedLog quiet;
        aio::Task<Outcome> calling = aio::create_task(call(llm, "a", false));
        auto start = aio::get_running_loop().time();
        while (quiet.count("retrying in 20.0 s") == 0 && aio_test::since(start) < 10.0) co_await aio::sleep(10ms);
        EXPECT_EQ(quiet.count("retrying in 20.0 s"), 1u) << quiet.all();
        EXPECT_EQ(client->in_flight(), 0u) << "the failed attempt is released before the wait";
        calling.cancel();
        bool cancelled = false;
        try {
            co_await calling;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_LT(aio_test::since(start), 10.0);
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 1u);
        co_await fake->stop();
    });
}

TEST(GeminiLlm, ResolvesFromTheRegistryAndTheEnvironment) {
    ::unsetenv("GEMINI_API_KEY");
    ::setenv("GOOGLE_API_KEY", "google-key", 1);
    ::setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/v1beta/", 1);
    adk::register_gemini_models();
    adk::register_gemini_models();
    std::shared_ptr<adk::BaseLlm> m = adk::LlmRegistry::global().resolve("gemini-2.0-flash");
    auto* llm = dynamic_cast<GeminiLlm*>(m.get());
    ASSERT_NE(llm, nullptr);
    EXPECT_EQ(llm->model(), "gemini-2.0-flash");
    EXPECT_EQ(llm->options().api_key, "google-key");
    EXPECT_EQ(llm->endpoint(true), "http://127.0.0.1:9/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    ::setenv("GEMINI_API_KEY", "gemini-key", 1);
    GeminiLlm preferred("gemini-x");
    EXPECT_EQ(preferred.options().api_key, "gemini-key") << "GEMINI_API_KEY first";
    ::unsetenv("GEMINI_API_KEY");
    ::unsetenv("GOOGLE_API_KEY");
    ::unsetenv("GOOGLE_GEMINI_BASE_URL");
    GeminiLlm plain("gemini-2.5-pro");
    EXPECT_EQ(plain.options().base_url, "https://generativelanguage.googleapis.com/v1beta");
    EXPECT_EQ(plain.options().api_key, "");
    EXPECT_THROW(adk::LlmRegistry::global().resolve("claude-3"), std::invalid_argument);
}

TEST(GeminiLlm, AnLlmAgentAnswersWithAToolCallThroughTheRunner) {
    Json script = Json::parse(R"({
        "replies": [{"functionCalls": [{"name": "get_weather", "args": {"city": "Paris"}}]}],
        "rules": [{"afterTool": "get_weather", "reply": {"text": "It is 21 C in Paris."}}]})");
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(script);
        auto llm = GeminiLlm::make(options_for(fake->gemini_base(), "gemini-fake"));
        auto weather = adk::FunctionTool::make(
            "get_weather", "The weather in a city",
            Json::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})"),
            [](Json args) -> aio::Coro<Json> { co_return Json{{"city", args.value("city", "")}, {"celsius", 21}}; });
        auto agent = adk::LlmAgent::make({.name = "weather_agent", .model = llm, .tools = {weather}});
        adk::InMemoryRunner runner(agent, "app");
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::AsyncGenerator<adk::Event> events = runner.run("u", "s", adk::Content::user("Weather in Paris?"));
        std::vector<adk::Event> seen;
        while (true) {
            std::optional<adk::Event> e = co_await events.next();
            if (!e) break;
            seen.push_back(std::move(*e));
        }
        CO_ASSERT_TRUE(seen.size() == 3u);
        EXPECT_EQ(seen[0].function_calls().size(), 1u);
        EXPECT_EQ(seen[1].function_responses().size(), 1u);
        EXPECT_EQ(seen[2].content->text(), "It is 21 C in Paris.");
        Json log = co_await fake->requests();
        CO_ASSERT_TRUE(log.size() == 2u);
        const Json& contents = log[1]["body"]["contents"];
        const Json& answer = contents[contents.size() - 1]["parts"][0];
        EXPECT_EQ(answer["functionResponse"]["name"], "get_weather");
        EXPECT_EQ(answer["functionResponse"]["response"]["celsius"], 21);
        co_await fake->stop();
    });
}
