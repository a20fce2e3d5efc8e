// Tests for adk::ScriptedLlm, adk::LlmRequest and adk::LlmRegistry.
#include <gtest/gtest.h>

#include <chrono>

#include "adk/scripted_llm.hpp"
#include "aio/run.hpp"

using adk::Json;
using adk::LlmRequest;
using adk::LlmResponse;
using adk::ScriptedLlm;
using adk::ScriptedReply;
using namespace std::chrono_literals;

namespace {

LlmRequest user_request(const std::string& text) {
    LlmRequest r;
    r.contents.push_back(adk::Content::user(text));
    return r;
}

/// Every response of one generate_content call.
aio::Coro<std::vector<LlmResponse>> collect(adk::BaseLlm& llm, LlmRequest request, bool stream) {
    std::vector<LlmResponse> out;
    aio::AsyncGenerator<LlmResponse> gen = llm.generate_content(std::move(request), stream);
    while (true) {
        std::optional<LlmResponse> r = co_await gen.next();
        if (!r) break;
        out.push_back(std::move(*r));
    }
    co_return out;
}

}  // namespace

TEST(AdkScriptedLlm, RepliesInTurnOrderThenFailsWhenExhausted) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("one"), ScriptedReply::call("get_weather", {{"city", "Paris"}})});
    aio::run([&]() -> aio::Coro<> {
        std::vector<LlmResponse> first = co_await collect(*llm, user_request("hi"), false);
        EXPECT_EQ(first.size(), 1u);
        EXPECT_EQ(first.at(0).content->text(), "one");
        EXPECT_FALSE(first.at(0).is_partial());
        std::vector<LlmResponse> second = co_await collect(*llm, user_request("again"), false);
        EXPECT_EQ(second.at(0).content->parts.at(0).function_call->name, "get_weather");
        EXPECT_EQ(second.at(0).content->parts.at(0).function_call->args["city"], "Paris");
        std::string error;
        try {
            co_await collect(*llm, user_request("more"), false);
        } catch (const adk::ModelError& e) {
            error = e.what();
        }
        EXPECT_NE(error.find("exhausted"), std::string::npos) << error;
    });
    EXPECT_EQ(llm->calls(), 3u);
    EXPECT_EQ(llm->requests().at(1).last_user_text(), "again");
}

TEST(AdkScriptedLlm, RulesMatchTheLastUserMessageOrTool) {
    std::vector<adk::ScriptedRule> rules(2);
    rules[0].when_user_says = "Paris";
    rules[0].reply = ScriptedReply::say("Bonjour");
    rules[1].after_tool = "lookup";
    rules[1].reply = ScriptedReply::say("looked up");
    auto llm = ScriptedLlm::make({ScriptedReply::say("default")}, rules);
    LlmRequest after_tool;
    adk::Content c;
    c.role = "user";
    adk::FunctionResponse fr;
    fr.name = "lookup";
    c.parts.push_back(adk::Part::from_function_response(fr));
    after_tool.contents.push_back(c);
    aio::run([&]() -> aio::Coro<> {
        std::vector<LlmResponse> a = co_await collect(*llm, user_request("Weather in Paris?"), false);
        EXPECT_EQ(a.at(0).content->text(), "Bonjour");
        std::vector<LlmResponse> b = co_await collect(*llm, after_tool, false);
        EXPECT_EQ(b.at(0).content->text(), "looked up");
        std::vector<LlmResponse> d = co_await collect(*llm, user_request("London?"), false);
        EXPECT_EQ(d.at(0).content->text(), "default");
    });
}

TEST(AdkScriptedLlm, StreamsChunksThenOneAggregatedResponse) {
    auto llm = ScriptedLlm::make({ScriptedReply::stream({"It is ", "sunny", "."}, 20ms),
                                  ScriptedReply::stream({"a", "b"})});
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        std::vector<LlmResponse> streamed = co_await collect(*llm, user_request("x"), true);
        EXPECT_GE(loop.time() - start, 40ms);  // two chunk delays
        EXPECT_EQ(streamed.size(), 4u);
        for (std::size_t i = 0; i < 3 && i < streamed.size(); ++i) EXPECT_TRUE(streamed[i].is_partial());
        EXPECT_EQ(streamed.at(1).content->text(), "sunny");
        EXPECT_FALSE(streamed.back().is_partial());
        EXPECT_EQ(streamed.back().content->text(), "It is sunny.");
        std::vector<LlmResponse> whole = co_await collect(*llm, user_request("y"), false);
        EXPECT_EQ(whole.size(), 1u);
        EXPECT_EQ(whole.at(0).content->text(), "ab");
    });
}

TEST(AdkScriptedLlm, DelaysErrorsAndFailures) {
    ScriptedReply late = ScriptedReply::say("late");
    late.delay = 50ms;
    auto llm = ScriptedLlm::make({late, ScriptedReply::error("SAFETY", "blocked"), ScriptedReply::fail("reset")});
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        std::vector<LlmResponse> a = co_await collect(*llm, user_request("x"), false);
        EXPECT_GE(loop.time() - start, 50ms);
        EXPECT_EQ(a.at(0).content->text(), "late");
        std::vector<LlmResponse> b = co_await collect(*llm, user_request("x"), false);
        EXPECT_EQ(b.at(0).error_code, "SAFETY");
        EXPECT_EQ(b.at(0).error_message, "blocked");
        EXPECT_FALSE(b.at(0).content.has_value());
        std::string error;
        try {
            co_await collect(*llm, user_request("x"), false);
        } catch (const adk::ModelError& e) {
            error = e.what();
        }
        EXPECT_EQ(error, "reset");
    });
}

TEST(AdkScriptedLlm, FromJsonScript) {
    Json script = Json::parse(R"({
        "model": "scripted-weather",
        "replies": [{"function_calls": [{"name": "get_weather", "args": {"city": "Paris"}}]},
                    {"chunks": ["Sun", "ny"], "chunkDelayMs": 1},
                    {"errorCode": "MAX_TOKENS"}],
        "rules": [{"whenUserSays": "hello", "reply": {"text": "hi!", "delayMs": 1}}]})");
    auto llm = ScriptedLlm::from_json(script);
    EXPECT_EQ(llm->model(), "scripted-weather");
    aio::run([&]() -> aio::Coro<> {
        std::vector<LlmResponse> hello = co_await collect(*llm, user_request("hello there"), false);
        EXPECT_EQ(hello.at(0).content->text(), "hi!");
        std::vector<LlmResponse> call = co_await collect(*llm, user_request("weather"), false);
        EXPECT_EQ(call.at(0).content->parts.at(0).function_call->name, "get_weather");
        std::vector<LlmResponse> stream = co_await collect(*llm, user_request("x"), true);
        EXPECT_EQ(stream.size(), 3u);
        std::vector<LlmResponse> err = co_await collect(*llm, user_request("x"), false);
        EXPECT_EQ(err.at(0).error_code, "MAX_TOKENS");
    });
    EXPECT_THROW(ScriptedLlm::from_json(Json::parse(R"({"replies": [42]})")), std::invalid_argument);
    EXPECT_THROW(ScriptedLlm::from_json(Json::parse(R"({"rules": [{"whenUserSays": "x"}]})")), std::invalid_argument);
    EXPECT_THROW(ScriptedLlm::from_file("/nonexistent/script.json"), std::invalid_argument);
}

TEST(AdkLlmRegistry, ResolvesInstancesAndPatterns) {
    adk::LlmRegistry registry;
    auto fixed = ScriptedLlm::make({});
    registry.register_model("fixed", fixed);
    registry.register_factory("scripted/.*", [](const std::string& name) {
        return std::make_shared<ScriptedLlm>(std::vector<ScriptedReply>{}, std::vector<adk::ScriptedRule>{}, name);
    });
    EXPECT_EQ(registry.resolve("fixed"), fixed);
    EXPECT_EQ(registry.resolve("scripted/a")->model(), "scripted/a");
    EXPECT_THROW(registry.resolve("gpt-4o"), std::invalid_argument);
}

TEST(AdkLlmRequest, JsonAndInstructions) {
    LlmRequest r = user_request("hi");
    r.model = "m";
    r.append_instructions("Be brief.");
    r.append_instructions("Be kind.");
    EXPECT_EQ(r.system_instruction, "Be brief.\n\nBe kind.");
    r.function_declarations.push_back(Json{{"name", "f"}});
    Json j = r;
    EXPECT_EQ(j["config"]["systemInstruction"], "Be brief.\n\nBe kind.");
    EXPECT_EQ(j["config"]["tools"][0]["functionDeclarations"][0]["name"], "f");
    EXPECT_EQ(j["contents"][0]["parts"][0]["text"], "hi");
}
