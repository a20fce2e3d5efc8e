// adk::OpenAiLlm against real HTTP servers: adk-fake-llm (plain, streamed,
// tool calls, usage, every injected fault: delay → timeout, 429 with
// Retry-After retried then answered or given up, 500, a stream cut in the
// middle, malformed JSON), an in-process server that hangs mid-stream (a
// cancellation aborts the transfer: the server sees the disconnect), a port
// where nothing listens, @dwmkerr/mock-llm (an OpenAI-compatible server
// nobody here wrote), and an LlmAgent with a FunctionTool answering through
// InMemoryRunner.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "adk/adk.hpp"
#include "adk/openai_llm.hpp"
#include "model_test_support.hpp"

using namespace model_test;
using adk::OpenAiLlm;
using aio_test::run_bounded;

namespace {

OpenAiLlm::Options options_for(const std::string& base, std::string model = "openai/gpt-test") {
    return test_options<OpenAiLlm::Options>(base, std::move(model));
}

Json fake_script(const char* replies) {
    Json script = Json::parse(std::string(R"({"model": "fake-gpt", "replies": )") + replies + "}");
    return script;
}

}  // namespace

TEST(OpenAiLlm, AnswersPlainTextWithUsageAndSendsTheConvertedRequest) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([{"text": "Hello there."}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        EXPECT_EQ(llm.model(), "openai/gpt-test");
        EXPECT_EQ(llm.endpoint(), fake->openai_base() + "/chat/completions");
        Outcome o = co_await call(llm, "hi", false, true);
        CO_ASSERT_TRUE(!o.error);
        CO_ASSERT_TRUE(o.responses.size() == 1u);
        const LlmResponse& r = o.last();
        EXPECT_FALSE(r.is_partial());
        EXPECT_EQ(r.content->text(), "Hello there.");
        EXPECT_EQ(r.content->role, "model");
        EXPECT_EQ(r.finish_reason, "STOP");
        CO_ASSERT_TRUE(r.usage_metadata.has_value());
        EXPECT_GT(r.usage_metadata->at("totalTokenCount").get<int>(), 0);

        Json log = co_await fake->requests();
        CO_ASSERT_TRUE(log.size() == 1u);
        const Json& body = log[0]["body"];
        EXPECT_EQ(log[0]["path"], "/v1/chat/completions");
        EXPECT_EQ(body["model"], "gpt-test") << "LiteLlm's openai/ prefix is not sent";
        EXPECT_EQ(body["messages"][0]["role"], "system");
        EXPECT_EQ(body["messages"][1]["content"], "hi");
        EXPECT_EQ(body["tools"][0]["function"]["name"], "get_weather");
        EXPECT_EQ(body["tools"][0]["function"]["parameters"]["type"], "object");
        EXPECT_FALSE(body.value("stream", false));
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, StreamsTextDeltasAsTheyArriveThenOneAggregatedResponse) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(
            fake_script(R"([{"chunks": ["It is ", "sunny ", "in Paris."], "chunkDelayMs": 300}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        Outcome o = co_await call(llm, "weather?", true);
        CO_ASSERT_TRUE(!o.error);
        std::vector<LlmResponse> partials = o.partials();
        CO_ASSERT_TRUE(partials.size() == 3u);
        EXPECT_EQ(partials[0].content->text(), "It is ");
        EXPECT_EQ(partials[2].content->text(), "in Paris.");
        CO_ASSERT_TRUE(o.responses.size() == 4u);
        // Really streamed: the first delta reached us before the server had
        // sent the later ones (two 300 ms pauses separate them).
        EXPECT_GE(o.times[3] - o.times[0], 0.5) << "the first partial came out only at the end: buffered";
        const LlmResponse& f = o.last();
        EXPECT_FALSE(f.is_partial());
        EXPECT_EQ(f.content->text(), "It is sunny in Paris.");
        EXPECT_EQ(f.finish_reason, "STOP");
        EXPECT_TRUE(f.turn_complete.value_or(false));
        CO_ASSERT_TRUE(f.usage_metadata.has_value());  // stream_options.include_usage
        EXPECT_GT(f.usage_metadata->at("candidatesTokenCount").get<int>(), 0);

        Json log = co_await fake->requests();
        EXPECT_EQ(log[0]["body"]["stream"], true);
        EXPECT_EQ(log[0]["body"]["stream_options"]["include_usage"], true);
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, AssemblesStreamedToolCallsByIndexAndReadsPlainOnes) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"functionCalls": [{"name": "get_weather", "args": {"city": "Paris", "days": 3}},
                               {"id": "call_given", "name": "get_time", "args": {"tz": "CET"}}]},
            {"functionCalls": [{"id": "c9", "name": "get_weather", "args": {"city": "Rome"}}]}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        Outcome streamed = co_await call(llm, "weather?", true, true);
        CO_ASSERT_TRUE(!streamed.error);
        EXPECT_TRUE(streamed.partials().empty()) << "tool-call deltas are assembled, not yielded";
        const LlmResponse& f = streamed.last();
        CO_ASSERT_TRUE(f.content && f.content->parts.size() == 2u);
        CO_ASSERT_TRUE(f.content->parts[0].function_call.has_value());
        EXPECT_EQ(f.content->parts[0].function_call->name, "get_weather");
        EXPECT_EQ(f.content->parts[0].function_call->args, (Json{{"city", "Paris"}, {"days", 3}}));
        EXPECT_FALSE(f.content->parts[0].function_call->id.empty());
        EXPECT_EQ(f.content->parts[1].function_call->id, "call_given");
        EXPECT_EQ(f.content->parts[1].function_call->args, (Json{{"tz", "CET"}}));
        EXPECT_EQ(f.finish_reason, "STOP");
        EXPECT_TRUE(f.usage_metadata.has_value());

        Outcome plain = co_await call(llm, "and Rome?", false, true);
        CO_ASSERT_TRUE(!plain.error);
        const LlmResponse& p = plain.last();
        CO_ASSERT_TRUE(p.content && p.content->parts.size() == 1u);
        EXPECT_EQ(p.content->parts[0].function_call->id, "c9");
        EXPECT_EQ(p.content->parts[0].function_call->args, (Json{{"city", "Rome"}}));
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, RetriesA429AfterItsRetryAfterThenSucceeds) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"fault": {"status": 429, "retryAfter": 1}}, {"text": "ok after the wait"}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        aio_test::CapturedLog log_lines;
        Outcome o = co_await call(llm, "a", true);
        CO_ASSERT_TRUE(!o.error);
        EXPECT_EQ(o.last().content->text(), "ok after the wait");
        EXPECT_GE(o.elapsed, 0.95) << "Retry-After: 1 was honoured";
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 2u);
        EXPECT_EQ(log_lines.count("retrying in 1.0 s"), 1u) << log_lines.all();
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, GivesUpOnRateLimitsWithATypedErrorCarryingRetryAfter) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"fault": {"status": 429, "retryAfter": 1}}, {"fault": {"status": 429, "retryAfter": 1}},
            {"fault": {"status": 429, "retryAfter": 60}}, {"text": "never reached"}])"));
        OpenAiLlm::Options opts = options_for(fake->openai_base());
        opts.retry.max_attempts = 2;
        OpenAiLlm llm(std::move(opts));
        aio_test::CapturedLog quiet;
        Outcome o = co_await call(llm, "a", false);
        EXPECT_TRUE(o.failed_with<adk::RateLimitError>()) << o.what;
        EXPECT_TRUE(o.failed_with<adk::ModelApiError>());
        EXPECT_TRUE(o.failed_with<adk::ModelError>());
        EXPECT_GE(o.elapsed, 0.95);
        try {
            std::rethrow_exception(o.error);
        } catch (const adk::RateLimitError& e) {
            EXPECT_EQ(e.status(), 429);
            EXPECT_EQ(e.code(), "rate_limit_exceeded");
            EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(1000));
            EXPECT_NE(std::string(e.what()).find("after 2 attempts"), std::string::npos) << e.what();
        }
        // A Retry-After beyond the policy's total budget (30 s): no wait at all.
        Outcome now = co_await call(llm, "b", false);
        EXPECT_TRUE(now.failed_with<adk::RateLimitError>()) << now.what;
        EXPECT_LT(now.elapsed, 5.0);
        try {
            std::rethrow_exception(now.error);
        } catch (const adk::RateLimitError& e) {
            EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(60000));
        }
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 3u);
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, RetriesServerErrorsWithBackoffThenRaisesServerError) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"fault": {"status": 500, "message": "the model crashed"}}, {"fault": {"status": 503}}, {"text": "third time lucky"},
            {"fault": {"status": 500, "message": "the model crashed"}}, {"raise": "boom"},
            {"fault": {"status": 502}}, {"text": "not reached"}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        aio_test::CapturedLog quiet;
        Outcome lucky = co_await call(llm, "a", false);
        CO_ASSERT_TRUE(!lucky.error);
        EXPECT_EQ(lucky.last().content->text(), "third time lucky");

        Outcome failed = co_await call(llm, "b", true);
        EXPECT_TRUE(failed.failed_with<adk::ServerError>()) << failed.what;
        EXPECT_NE(failed.what.find("502"), std::string::npos) << failed.what;
        EXPECT_NE(failed.what.find("after 3 attempts"), std::string::npos) << failed.what;
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 6u) << "3 + 3 attempts";
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, MapsAuthenticationAndUnknownModelsWithoutRetrying) {
    run_bounded([&]() -> aio::Coro<> {
        std::vector<std::string> key_args{"--api-key", "sk-right"};
        Json script = fake_script(R"([{"fault": {"status": 404, "message": "The model gpt-x does not exist"}},
                            {"fault": {"status": 403}}, {"fault": {"status": 400, "message": "bad"}}, {"text": "ok"}])");
        auto fake = co_await FakeLlm::start(std::move(script), std::move(key_args));
        OpenAiLlm::Options wrong = options_for(fake->openai_base());
        wrong.api_key = "sk-wrong";
        OpenAiLlm denied(std::move(wrong));
        Outcome d = co_await call(denied, "a", false);
        EXPECT_TRUE(d.failed_with<adk::AuthenticationError>()) << d.what;
        EXPECT_NE(d.what.find("invalid_api_key"), std::string::npos) << d.what;

        OpenAiLlm::Options right = options_for(fake->openai_base());
        right.api_key = "sk-right";
        OpenAiLlm llm(std::move(right));
        Outcome missing = co_await call(llm, "b", false);
        EXPECT_TRUE(missing.failed_with<adk::ModelNotFoundError>()) << missing.what;
        EXPECT_NE(missing.what.find("does not exist"), std::string::npos);
        Outcome forbidden = co_await call(llm, "c", true);
        EXPECT_TRUE(forbidden.failed_with<adk::AuthenticationError>()) << forbidden.what;
        Outcome bad = co_await call(llm, "d", false);
        EXPECT_TRUE(bad.failed_with<adk::BadRequestError>()) << bad.what;
        Outcome ok = co_await call(llm, "e", false);
        EXPECT_EQ(ok.last().content->text(), "ok") << "each error took exactly one request";
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, ATimeoutIsAModelTimeoutErrorNotACancellation) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"delayMs": 5000, "text": "too late"}, {"chunks": ["a", "b"], "chunkDelayMs": 5000}])"));
        OpenAiLlm::Options opts = options_for(fake->openai_base());
        opts.idle_timeout = 300ms;
        OpenAiLlm llm(std::move(opts));
        Outcome o = co_await call(llm, "a", false);
        EXPECT_TRUE(o.failed_with<adk::ModelTimeoutError>()) << o.what;
        EXPECT_LT(o.elapsed, 4.0);
        EXPECT_GE(o.elapsed, 0.25);
        // In the middle of a stream: the first delta, then silence.
        Outcome s = co_await call(llm, "b", true);
        EXPECT_TRUE(s.failed_with<adk::ModelTimeoutError>()) << s.what;
        EXPECT_EQ(s.partials().size(), 1u);
        EXPECT_LT(s.elapsed, 4.0);
        Json log = co_await fake->requests();
        EXPECT_EQ(log.size(), 2u) << "a timeout is not retried";
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, AStreamCutInTheMiddleIsATruncatedStreamError) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"chunks": ["one ", "two ", "three"], "fault": {"cutAfterChunks": 2}}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        Outcome o = co_await call(llm, "a", true);
        EXPECT_TRUE(o.failed_with<adk::TruncatedStreamError>()) << o.what;
        std::vector<LlmResponse> partials = o.partials();
        CO_ASSERT_TRUE(partials.size() == 2u);
        EXPECT_EQ(partials[1].content->text(), "two ");
        EXPECT_EQ(o.responses.size(), 2u) << "no final response";
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, MalformedJsonIsAMalformedResponseError) {
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(fake_script(R"([
            {"text": "x", "fault": {"malformedJson": true}},
            {"chunks": ["a", "b"], "fault": {"malformedJson": true}}])"));
        OpenAiLlm llm(options_for(fake->openai_base()));
        Outcome plain = co_await call(llm, "a", false);
        EXPECT_TRUE(plain.failed_with<adk::MalformedResponseError>()) << plain.what;
        EXPECT_FALSE(plain.failed_with<adk::TruncatedStreamError>());
        Outcome streamed = co_await call(llm, "b", true);
        EXPECT_TRUE(streamed.failed_with<adk::MalformedResponseError>()) << streamed.what;
        co_await fake->stop();
    });
}

TEST(OpenAiLlm, NothingListeningIsAModelConnectionErrorAfterRetries) {
    run_bounded([&]() -> aio::Coro<> {
        std::string base = "http://127.0.0.1:" + std::to_string(free_port()) + "/v1";
        OpenAiLlm llm(options_for(base));
        aio_test::CapturedLog log_lines;
        Outcome o = co_await call(llm, "a", true);
        EXPECT_TRUE(o.failed_with<adk::ModelConnectionError>()) << o.what;
        EXPECT_NE(o.what.find("after 3 attempts"), std::string::npos) << o.what;
        EXPECT_EQ(log_lines.count("cannot connect"), 2u) << log_lines.all();
        // The aio::http error is nested.
        bool refused = false;
        try {
            std::rethrow_exception(o.error);
        } catch (const adk::ModelConnectionError& e) {
            try {
                std::rethrow_if_nested(e);
            } catch (const aio::http::ConnectRefusedError&) {
                refused = true;
            } catch (...) {
            }
        }
        EXPECT_TRUE(refused);
    });
}

TEST(OpenAiLlm, CancellingTheConsumerMidStreamAbortsTheTransfer) {
    run_bounded([&]() -> aio::Coro<> {
        auto server = co_await HangingServer::start(
            R"({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "first"}}]})");
        auto client = std::make_shared<aio::http::Client>();
        OpenAiLlm::Options opts = options_for(server->root() + "/v1");
        opts.client = client;
        OpenAiLlm llm(std::move(opts));
        aio::Event first_seen;
        bool reached_second = false;
        aio::Task<> consumer = aio::create_task([&]() -> aio::Coro<> {
            aio::AsyncGenerator<LlmResponse> gen = llm.generate_content(ask("hi"), true);
            std::optional<LlmResponse> first = co_await gen.next();
            EXPECT_EQ(first->content->text(), "first");
            first_seen.set();
            std::optional<LlmResponse> second = co_await gen.next();  // the server never sends it
            reached_second = true;
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
        EXPECT_FALSE(reached_second);
        EXPECT_EQ(client->in_flight(), 0u) << "no transfer left in flight";
        bool seen = co_await server->wait_cancelled();
        EXPECT_TRUE(seen) << "the server saw the connection close";
        EXPECT_EQ(server->disconnect_cancels(), 1u);
        co_await server->close();
    });
}

TEST(OpenAiLlm, DroppingTheGeneratorMidStreamClosesTheConnection) {
    run_bounded([&]() -> aio::Coro<> {
        auto server = co_await HangingServer::start(
            R"({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "first"}}]})");
        OpenAiLlm llm(options_for(server->root() + "/v1"));  // a client per call
        {
            aio::AsyncGenerator<LlmResponse> gen = llm.generate_content(ask("hi"), true);
            std::optional<LlmResponse> first = co_await gen.next();
            CO_ASSERT_TRUE(first.has_value());
            EXPECT_TRUE(first->is_partial());
        }  // dropped at its co_yield
        bool seen = co_await server->wait_cancelled();
        EXPECT_TRUE(seen) << "the server saw the connection close";
        co_await server->close();
    });
}

TEST(OpenAiLlm, ResolvesFromTheRegistryAndTheEnvironment) {
    ::setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/custom/v1/", 1);
    ::setenv("OPENAI_API_KEY", "sk-env", 1);
    adk::register_openai_models();
    adk::register_openai_models();  // twice: harmless
    std::shared_ptr<adk::BaseLlm> m = adk::LlmRegistry::global().resolve("openai/gpt-4o-mini");
    auto* llm = dynamic_cast<OpenAiLlm*>(m.get());
    ASSERT_NE(llm, nullptr);
    EXPECT_EQ(llm->model(), "openai/gpt-4o-mini");
    EXPECT_EQ(llm->wire_model(), "gpt-4o-mini");
    EXPECT_EQ(llm->options().base_url, "http://127.0.0.1:9/custom/v1");
    EXPECT_EQ(llm->endpoint(), "http://127.0.0.1:9/custom/v1/chat/completions");
    EXPECT_EQ(llm->options().api_key, "sk-env");
    EXPECT_THROW(adk::LlmRegistry::global().resolve("gpt-4o-mini"), std::invalid_argument) << "only openai/...";
    ::unsetenv("OPENAI_BASE_URL");
    ::unsetenv("OPENAI_API_KEY");
    OpenAiLlm plain("gpt-4o");
    EXPECT_EQ(plain.options().base_url, "https://api.openai.com/v1");
    EXPECT_EQ(plain.options().api_key, "");
    OpenAiLlm::Options bad;
    bad.base_url = "ftp://example.org";
    EXPECT_THROW(OpenAiLlm{bad}, std::invalid_argument);
}

// --- an agent, end to end ------------------------------------------------------------------

TEST(OpenAiLlm, AnLlmAgentAnswersWithAToolCallThroughTheRunner) {
    Json script = Json::parse(R"({"model": "fake-gpt",
        "replies": [{"functionCalls": [{"name": "get_weather", "args": {"city": "Paris"}}]}],
        "rules": [{"afterTool": "get_weather", "reply": {"chunks": ["It is 21 °C ", "in Paris."]}}]})");
    int tool_runs = 0;
    run_bounded([&]() -> aio::Coro<> {
        auto fake = co_await FakeLlm::start(script);
        auto llm = OpenAiLlm::make(options_for(fake->openai_base(), "openai/fake-gpt"));
        auto weather = adk::FunctionTool::make(
            "get_weather", "The weather in a city",
            Json::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})"),
            [&tool_runs](Json args) -> aio::Coro<Json> {
                ++tool_runs;
                co_return Json{{"city", args.value("city", "")}, {"celsius", 21}};
            });
        auto agent = adk::LlmAgent::make({.name = "weather_agent",
                                          .description = "Answers weather questions",
                                          .model = llm,
                                          .instruction = "Answer with the tool.",
                                          .tools = {weather}});
        adk::InMemoryRunner runner(agent, "app");
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        adk::RunConfig config;
        config.streaming_mode = adk::StreamingMode::sse;
        aio::AsyncGenerator<adk::Event> events = runner.run("u", "s", adk::Content::user("Weather in Paris?"), config);
        std::vector<adk::Event> seen;
        while (true) {
            std::optional<adk::Event> e = co_await events.next();
            if (!e) break;
            seen.push_back(std::move(*e));
        }
        EXPECT_EQ(tool_runs, 1);
        CO_ASSERT_TRUE(seen.size() >= 3u);
        EXPECT_EQ(seen[0].function_calls().size(), 1u);
        EXPECT_EQ(seen[0].function_calls()[0].args, (Json{{"city", "Paris"}}));
        EXPECT_EQ(seen[1].function_responses().size(), 1u);
        std::size_t partials = 0;
        for (const adk::Event& e : seen) partials += e.is_partial() ? 1 : 0;
        EXPECT_EQ(partials, 2u) << "the answer streamed in two deltas";
        EXPECT_TRUE(seen.back().is_final_response());
        EXPECT_EQ(seen.back().content->text(), "It is 21 °C in Paris.");
        EXPECT_TRUE(seen.back().usage_metadata.has_value());

        Json log = co_await fake->requests();
        CO_ASSERT_TRUE(log.size() == 2u);
        const Json& second = log[1]["body"];
        EXPECT_EQ(second["model"], "fake-gpt");
        const Json& messages = second["messages"];
        const Json& tool_message = messages[messages.size() - 1];
        EXPECT_EQ(tool_message["role"], "tool");
        EXPECT_EQ(tool_message["tool_call_id"], messages[messages.size() - 2]["tool_calls"][0]["id"]);
        EXPECT_NE(tool_message["content"].get<std::string>().find("21"), std::string::npos);
        co_await fake->stop();
    });
}

// --- @dwmkerr/mock-llm: somebody else's OpenAI-compatible server ---------------------------

namespace {

const char* mock_config = R"yaml(streaming:
  chunkSize: 6
  chunkIntervalMs: 10
rules:
  - path: /v1/chat/completions
    method: POST
    response:
      status: 200
      content: |
        {"id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, streaming world"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}}
  - path: /v1/chat/completions
    method: POST
    match: "contains(body.messages[-1].content, 'weather')"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-tool", "object": "chat.completion", "created": 1, "model": "{{jmes request body.model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
           "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
           "finish_reason": "tool_calls"}]}
  - path: /v1/chat/completions
    method: POST
    match: "contains(body.messages[-1].content, 'limit')"
    response:
      status: 429
      content: '{"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}'
  - path: /v1/chat/completions
    method: POST
    match: "contains(body.messages[-1].content, 'key')"
    response:
      status: 401
      content: '{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}'
  - path: /v1/chat/completions
    method: POST
    match: "contains(body.messages[-1].content, 'crash')"
    response:
      status: 500
      content: '{"error": {"message": "The server had an error", "type": "server_error", "code": null}}'
  - path: /v1/chat/completions
    method: POST
    match: "contains(body.messages[-1].content, 'unknown')"
    response:
      status: 404
      content: '{"error": {"message": "The model does not exist", "type": "invalid_request_error", "code": "model_not_found"}}'
)yaml";

OpenAiLlm::Options mock_options(const std::string& base) {
    OpenAiLlm::Options o = options_for(base, "openai/gpt-mock");
    o.retry.max_attempts = 2;
    return o;
}

}  // namespace

TEST(OpenAiLlmMockLlm, NonStreamedTextAndToolCalls) {
    run_bounded([&]() -> aio::Coro<> {
        auto mock = co_await MockLlm::start(mock_config);
        OpenAiLlm llm(mock_options(mock->base()));
        Outcome text = co_await call(llm, "hello", false);
        CO_ASSERT_TRUE(!text.error);
        EXPECT_EQ(text.last().content->text(), "Hello there, streaming world");
        EXPECT_EQ(text.last().finish_reason, "STOP");
        CO_ASSERT_TRUE(text.last().usage_metadata.has_value());
        EXPECT_EQ(text.last().usage_metadata->at("totalTokenCount"), 12);

        Outcome tool = co_await call(llm, "what is the weather?", false, true);
        CO_ASSERT_TRUE(!tool.error);
        const LlmResponse& r = tool.last();
        CO_ASSERT_TRUE(r.content && r.content->parts.size() == 1u && r.content->parts[0].function_call);
        EXPECT_EQ(r.content->parts[0].function_call->id, "call_1");
        EXPECT_EQ(r.content->parts[0].function_call->name, "get_weather");
        EXPECT_EQ(r.content->parts[0].function_call->args, (Json{{"city", "Paris"}}));
        co_await mock->stop();
    }, std::chrono::seconds(60));
}

TEST(OpenAiLlmMockLlm, StreamedText) {
    run_bounded([&]() -> aio::Coro<> {
        auto mock = co_await MockLlm::start(mock_config);
        OpenAiLlm llm(mock_options(mock->base()));
        Outcome o = co_await call(llm, "hello", true);
        CO_ASSERT_TRUE(!o.error);
        std::vector<LlmResponse> partials = o.partials();
        EXPECT_EQ(partials.size(), 5u) << "28 characters in chunks of 6";
        std::string joined;
        for (const LlmResponse& p : partials) joined += p.content->text();
        EXPECT_EQ(joined, "Hello there, streaming world");
        EXPECT_EQ(o.last().content->text(), "Hello there, streaming world");
        EXPECT_EQ(o.last().finish_reason, "STOP");
        EXPECT_FALSE(o.last().usage_metadata.has_value()) << "mock-llm sends no usage chunk";
        co_await mock->stop();
    }, std::chrono::seconds(60));
}

TEST(OpenAiLlmMockLlm, ErrorStatuses) {
    run_bounded([&]() -> aio::Coro<> {
        auto mock = co_await MockLlm::start(mock_config);
        OpenAiLlm llm(mock_options(mock->base()));
        aio_test::CapturedLog quiet;
        Outcome limited = co_await call(llm, "over the limit", false);
        EXPECT_TRUE(limited.failed_with<adk::RateLimitError>()) << limited.what;
        EXPECT_NE(limited.what.find("after 2 attempts"), std::string::npos) << limited.what;
        Outcome key = co_await call(llm, "bad key", false);
        EXPECT_TRUE(key.failed_with<adk::AuthenticationError>()) << key.what;
        Outcome crash = co_await call(llm, "crash", false);
        EXPECT_TRUE(crash.failed_with<adk::ServerError>()) << crash.what;
        EXPECT_NE(crash.what.find("The server had an error"), std::string::npos);
        Outcome unknown = co_await call(llm, "unknown model", false);
        EXPECT_TRUE(unknown.failed_with<adk::ModelNotFoundError>()) << unknown.what;
        // Streaming: mock-llm answers 200 and one {"error": ...} event, as
        // OpenAI documents; the code inside says what it is.
        Outcome streamed = co_await call(llm, "over the limit", true);
        EXPECT_TRUE(streamed.failed_with<adk::RateLimitError>()) << streamed.what;
        Outcome streamed_key = co_await call(llm, "bad key", true);
        EXPECT_TRUE(streamed_key.failed_with<adk::AuthenticationError>()) << streamed_key.what;
        co_await mock->stop();
    }, std::chrono::seconds(60));
}
