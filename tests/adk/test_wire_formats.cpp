// The OpenAI chat-completions and Gemini REST wire formats
// (adk/openai_format.hpp, adk/gemini_format.hpp): requests both ways,
// responses both ways, streamed chunks assembled into partial and final
// responses, with payloads shaped like the real APIs' (OpenAI's and
// Google's API references), and bad input: malformed JSON, wrong shapes,
// truncated streams, error objects.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adk/gemini_format.hpp"
#include "adk/openai_format.hpp"

using adk::Content;
using adk::FunctionCall;
using adk::FunctionResponse;
using adk::Json;
using adk::LlmRequest;
using adk::LlmResponse;
using adk::Part;

namespace {

/// A conversation with every kind of turn: a system instruction, user
/// text, a model turn calling a tool, the tool's answer, more user text.
LlmRequest weather_conversation() {
    LlmRequest r;
    r.model = "gpt-4o-mini";
    r.append_instructions("You are a weather bot.");
    r.contents.push_back(Content::user("What's the weather in Paris?"));
    Content call;
    call.role = "model";
    call.parts.push_back(Part::from_text("Let me check."));
    call.parts.push_back(Part::from_function_call(FunctionCall{"call_abc", "get_weather", Json{{"city", "Paris"}}}));
    r.contents.push_back(call);
    Content answer;
    answer.role = "user";
    answer.parts.push_back(
        Part::from_function_response(FunctionResponse{"call_abc", "get_weather", Json{{"temp_c", 21}}}));
    r.contents.push_back(answer);
    r.contents.push_back(Content::user("Thanks!"));
    r.function_declarations.push_back(Json::parse(R"({
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "OBJECT", "properties": {
            "city": {"type": "STRING", "description": "City name"},
            "days": {"type": "INTEGER", "nullable": true},
            "units": {"type": "STRING", "enum": ["C", "F"]}},
          "required": ["city"]}})"));
    r.config = Json{{"temperature", 0.2}, {"maxOutputTokens", 256}, {"stopSequences", {"END"}}, {"topP", 0.9}};
    return r;
}

std::vector<LlmResponse> feed_all(adk::openai::StreamAssembler& a, const std::vector<std::string>& events) {
    std::vector<LlmResponse> out;
    for (const std::string& e : events) {
        std::vector<LlmResponse> got = a.feed(e);
        for (LlmResponse& r : got) out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

// --- OpenAI requests ---------------------------------------------------------------------------

TEST(OpenAiFormat, RequestCarriesEveryKindOfTurnToolsAndConfig) {
    Json body = adk::openai::to_request(weather_conversation());
    EXPECT_EQ(body["model"], "gpt-4o-mini");
    const Json& m = body["messages"];
    ASSERT_EQ(m.size(), 5u);
    EXPECT_EQ(m[0], (Json{{"role", "system"}, {"content", "You are a weather bot."}}));
    EXPECT_EQ(m[1], (Json{{"role", "user"}, {"content", "What's the weather in Paris?"}}));
    EXPECT_EQ(m[2]["role"], "assistant");
    EXPECT_EQ(m[2]["content"], "Let me check.");
    ASSERT_EQ(m[2]["tool_calls"].size(), 1u);
    EXPECT_EQ(m[2]["tool_calls"][0]["id"], "call_abc");
    EXPECT_EQ(m[2]["tool_calls"][0]["type"], "function");
    EXPECT_EQ(m[2]["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(Json::parse(m[2]["tool_calls"][0]["function"]["arguments"].get<std::string>()), (Json{{"city", "Paris"}}));
    EXPECT_EQ(m[3], (Json{{"role", "tool"}, {"tool_call_id", "call_abc"}, {"content", R"({"temp_c":21})"}}));
    EXPECT_EQ(m[4], (Json{{"role", "user"}, {"content", "Thanks!"}}));

    ASSERT_EQ(body["tools"].size(), 1u);
    const Json& fn = body["tools"][0]["function"];
    EXPECT_EQ(body["tools"][0]["type"], "function");
    EXPECT_EQ(fn["name"], "get_weather");
    EXPECT_EQ(fn["parameters"]["type"], "object") << "genai upper-case types are lower-cased";
    EXPECT_EQ(fn["parameters"]["properties"]["city"]["type"], "string");
    EXPECT_EQ(fn["parameters"]["properties"]["days"]["type"], (Json{"integer", "null"})) << "nullable";
    EXPECT_EQ(fn["parameters"]["properties"]["units"]["enum"], (Json{"C", "F"})) << "enum values untouched";
    EXPECT_EQ(fn["parameters"]["required"], (Json{"city"}));

    EXPECT_EQ(body["temperature"], 0.2);
    EXPECT_EQ(body["max_tokens"], 256);
    EXPECT_EQ(body["top_p"], 0.9);
    EXPECT_EQ(body["stop"], (Json{"END"}));
    EXPECT_FALSE(body.contains("stream"));

    adk::openai::RequestOptions streaming;
    streaming.stream = true;
    Json s = adk::openai::to_request(weather_conversation(), streaming);
    EXPECT_EQ(s["stream"], true);
    EXPECT_EQ(s["stream_options"], (Json{{"include_usage", true}}));
}

TEST(OpenAiFormat, CallsWithoutIdsGetIdsTheirResponsesReuse) {
    LlmRequest r;
    Content call;
    call.role = "model";
    call.parts.push_back(Part::from_function_call(FunctionCall{"", "a", Json::object()}));
    call.parts.push_back(Part::from_function_call(FunctionCall{"", "b", Json::object()}));
    r.contents.push_back(call);
    Content answers;
    answers.role = "user";
    answers.parts.push_back(Part::from_function_response(FunctionResponse{"", "b", Json{{"r", 2}}}));
    answers.parts.push_back(Part::from_function_response(FunctionResponse{"", "a", Json{{"r", 1}}}));
    r.contents.push_back(answers);
    Json m = adk::openai::to_request(r)["messages"];
    ASSERT_EQ(m.size(), 3u);
    EXPECT_TRUE(m[0]["content"].is_null()) << "tool calls only: content null";
    std::string id_a = m[0]["tool_calls"][0]["id"];
    std::string id_b = m[0]["tool_calls"][1]["id"];
    EXPECT_NE(id_a, id_b);
    EXPECT_EQ(m[1]["tool_call_id"], id_b);
    EXPECT_EQ(m[2]["tool_call_id"], id_a);
}

TEST(OpenAiFormat, ImagesBecomeDataUrlsAndThoughtsStayHome) {
    LlmRequest r;
    Content user;
    user.role = "user";
    user.parts.push_back(Part::from_text("What is this?"));
    Part image;
    image.inline_data = adk::Blob{"image/png", "iVBORw0KGgo="};
    user.parts.push_back(image);
    r.contents.push_back(user);
    Content model;
    model.role = "model";
    Part thought = Part::from_text("thinking...");
    thought.thought = true;
    model.parts.push_back(thought);
    model.parts.push_back(Part::from_text("A cat."));
    r.contents.push_back(model);
    Json m = adk::openai::to_request(r)["messages"];
    ASSERT_EQ(m.size(), 2u);
    ASSERT_TRUE(m[0]["content"].is_array());
    EXPECT_EQ(m[0]["content"][0], (Json{{"type", "text"}, {"text", "What is this?"}}));
    EXPECT_EQ(m[0]["content"][1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=");
    EXPECT_EQ(m[1]["content"], "A cat.");
}

TEST(OpenAiFormat, RequestJsonReadsBackAsTheSameConversation) {
    LlmRequest original = weather_conversation();
    LlmRequest back = adk::openai::request_from_json(adk::openai::to_request(original));
    EXPECT_EQ(back.model, original.model);
    EXPECT_EQ(back.system_instruction, original.system_instruction);
    ASSERT_EQ(back.contents.size(), original.contents.size());
    for (std::size_t i = 0; i < original.contents.size(); ++i)
        EXPECT_EQ(Json(back.contents[i]), Json(original.contents[i])) << "content " << i;
    ASSERT_EQ(back.function_declarations.size(), 1u);
    EXPECT_EQ(back.function_declarations[0]["name"], "get_weather");
    EXPECT_EQ(back.config["temperature"], 0.2);
    EXPECT_EQ(back.config["maxOutputTokens"], 256);
    EXPECT_EQ(back.config["stopSequences"], (Json{"END"}));
    EXPECT_EQ(back.last_user_text(), "Thanks!");
}

TEST(OpenAiFormat, ConsecutiveToolMessagesAreOneTurnNamedAfterTheirCalls) {
    Json body = Json::parse(R"({
      "model": "gpt-4o",
      "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
          {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"}],
      "max_completion_tokens": 100, "stop": "END",
      "response_format": {"type": "json_object"}})");
    LlmRequest r = adk::openai::request_from_json(body);
    EXPECT_EQ(r.system_instruction, "Be brief.");
    ASSERT_EQ(r.contents.size(), 3u);
    EXPECT_EQ(r.contents[1].role, "model");
    ASSERT_EQ(r.contents[1].parts.size(), 2u);
    EXPECT_EQ(r.contents[1].parts[1].function_call->args, (Json{{"city", "Rome"}}));
    ASSERT_EQ(r.contents[2].parts.size(), 2u);
    EXPECT_EQ(r.contents[2].role, "user");
    EXPECT_EQ(r.contents[2].parts[0].function_response->name, "get_weather");
    EXPECT_EQ(r.contents[2].parts[0].function_response->response, (Json{{"temp", 21}}));
    EXPECT_EQ(r.contents[2].parts[1].function_response->id, "call_2");
    EXPECT_EQ(r.contents[2].parts[1].function_response->response, (Json{{"result", "sunny"}}));
    EXPECT_EQ(r.config["maxOutputTokens"], 100);
    EXPECT_EQ(r.config["stopSequences"], (Json{"END"}));
    EXPECT_EQ(r.config["responseMimeType"], "application/json");
}

TEST(OpenAiFormat, MalformedRequestsAreInvalidArguments) {
    EXPECT_THROW(adk::openai::request_from_json(Json::array()), std::invalid_argument);
    EXPECT_THROW(adk::openai::request_from_json(Json{{"model", "m"}}), std::invalid_argument);
    EXPECT_THROW(adk::openai::request_from_json(Json::parse(R"({"messages": [{"role": "wizard", "content": "x"}]})")),
                 std::invalid_argument);
    EXPECT_THROW(adk::openai::request_from_json(Json::parse(
                     R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}]})")),
                 std::invalid_argument);
}

// --- OpenAI responses ---------------------------------------------------------------------------

TEST(OpenAiFormat, ResponseWithToolCallsAndUsage) {
    // Shaped as in OpenAI's API reference (function calling).
    LlmResponse r = adk::openai::parse_response(R"({
      "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916, "model": "gpt-4o-mini",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
         "tool_calls": [{"id": "call_abc123", "type": "function",
                         "function": {"name": "get_current_weather", "arguments": "{\n\"location\": \"Boston, MA\"\n}"}}]},
         "logprobs": null, "finish_reason": "tool_calls"}],
      "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
                "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}})");
    ASSERT_TRUE(r.content);
    EXPECT_EQ(r.content->role, "model");
    ASSERT_EQ(r.content->parts.size(), 1u);
    const FunctionCall& call = *r.content->parts[0].function_call;
    EXPECT_EQ(call.id, "call_abc123");
    EXPECT_EQ(call.name, "get_current_weather");
    EXPECT_EQ(call.args, (Json{{"location", "Boston, MA"}}));
    EXPECT_EQ(r.finish_reason, "STOP");
    EXPECT_FALSE(r.error_code);
    EXPECT_EQ(r.usage_metadata->at("promptTokenCount"), 82);
    EXPECT_EQ(r.usage_metadata->at("candidatesTokenCount"), 17);
    EXPECT_EQ(r.usage_metadata->at("totalTokenCount"), 99);
    EXPECT_EQ(r.turn_complete, true);
}

TEST(OpenAiFormat, TextLengthAndRefusals) {
    LlmResponse text = adk::openai::parse_response(
        R"({"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"length"}]})");
    EXPECT_EQ(text.content->text(), "Hello!");
    EXPECT_EQ(text.finish_reason, "MAX_TOKENS");
    EXPECT_FALSE(text.error_code) << "there is an answer: not an error";

    LlmResponse refused = adk::openai::parse_response(
        R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]})");
    EXPECT_EQ(refused.error_code, "SAFETY");
    EXPECT_EQ(refused.error_message, "I can't help with that.");

    LlmResponse filtered = adk::openai::parse_response(
        R"({"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]})");
    EXPECT_EQ(filtered.error_code, "SAFETY");
    EXPECT_EQ(filtered.finish_reason, "SAFETY");
}

TEST(OpenAiFormat, MalformedResponsesAreTypedErrors) {
    EXPECT_THROW(adk::openai::parse_response("<html>502 Bad Gateway</html>"), adk::MalformedResponseError);
    EXPECT_THROW(adk::openai::parse_response(R"({"id": "x", "choices": [{"index": 0, "message": {"content": "Hel)"),
                 adk::MalformedResponseError);
    EXPECT_THROW(adk::openai::parse_response(R"({"id": "x", "choices": []})"), adk::MalformedResponseError);
    EXPECT_THROW(adk::openai::parse_response(R"({"choices": [{"message": "text"}]})"), adk::MalformedResponseError);
    EXPECT_THROW(adk::openai::parse_response(
                     R"({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"a\":"}}]}}]})"),
                 adk::MalformedResponseError)
        << "truncated tool-call arguments";
    try {
        adk::openai::parse_response(
            R"({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})");
        FAIL() << "an error object must throw";
    } catch (const adk::ModelApiError& e) {
        EXPECT_EQ(e.code(), "rate_limit_exceeded");
        EXPECT_STREQ(e.what(), "Rate limit reached");
    }
    // A ModelError, never mistaken for a cancellation.
    EXPECT_THROW(adk::openai::parse_response("{}"), adk::ModelError);
}

TEST(OpenAiFormat, ErrorBodiesOfEveryKind) {
    adk::ModelApiError e = adk::openai::error_from_body(
        401, R"({"error":{"message":"Incorrect API key provided: sk-xxx.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})");
    EXPECT_EQ(e.status(), 401);
    EXPECT_EQ(e.code(), "invalid_api_key");
    adk::ModelApiError typed = adk::openai::error_from_body(500, R"({"error":{"message":"boom","type":"server_error"}})");
    EXPECT_EQ(typed.code(), "server_error");
    adk::ModelApiError raw = adk::openai::error_from_body(502, "Bad Gateway");
    EXPECT_EQ(raw.status(), 502);
    EXPECT_STREQ(raw.what(), "Bad Gateway");
    Json body = adk::openai::error_body(429, "slow down");
    adk::ModelApiError back = adk::openai::error_from_body(429, body.dump());
    EXPECT_EQ(back.code(), "rate_limit_exceeded");
    EXPECT_STREQ(back.what(), "slow down");
}

TEST(OpenAiFormat, ResponseJsonReadsBack) {
    LlmResponse r;
    Content c;
    c.role = "model";
    c.parts.push_back(Part::from_text("Calling."));
    c.parts.push_back(Part::from_function_call(FunctionCall{"", "lookup", Json{{"q", "x"}}}));
    r.content = c;
    r.usage_metadata = Json{{"promptTokenCount", 10}, {"candidatesTokenCount", 5}, {"totalTokenCount", 15}};
    Json body = adk::openai::response_to_json(r, "gpt-x", "chatcmpl-1", 1700000000);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_EQ(body["choices"][0]["message"]["tool_calls"][0]["id"], "chatcmpl-1_call_0");
    EXPECT_EQ(body["usage"], (Json{{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}));
    LlmResponse back = adk::openai::response_from_json(body);
    EXPECT_EQ(back.content->text(), "Calling.");
    EXPECT_EQ(back.content->parts[1].function_call->args, (Json{{"q", "x"}}));
    EXPECT_EQ(back.usage_metadata, r.usage_metadata);
}

// --- OpenAI streams ---------------------------------------------------------------------------

TEST(OpenAiFormat, StreamAssemblesTextAndToolCallsByIndex) {
    // As OpenAI streams it: a role chunk, text deltas, two tool calls whose
    // arguments arrive in pieces (interleaved by index), the finish chunk,
    // the usage chunk (stream_options.include_usage), [DONE].
    std::vector<std::string> events = {
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Checking "},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"both."},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_P","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_R","type":"function","function":{"name":"get_weather","arguments":"{\"city\""}}]},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":": \"Rome\"}"}}]},"finish_reason":null}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
        R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}})",
        "[DONE]"};
    adk::openai::StreamAssembler a;
    std::vector<LlmResponse> partials = feed_all(a, events);
    ASSERT_EQ(partials.size(), 2u) << "one partial per text delta";
    EXPECT_EQ(partials[0].content->text(), "Checking ");
    EXPECT_TRUE(partials[0].is_partial());
    EXPECT_EQ(partials[1].content->text(), "both.");
    EXPECT_TRUE(a.done());
    LlmResponse final_response = a.finish();
    EXPECT_FALSE(final_response.is_partial());
    ASSERT_EQ(final_response.content->parts.size(), 3u);
    EXPECT_EQ(final_response.content->parts[0].text, "Checking both.");
    EXPECT_EQ(final_response.content->parts[1].function_call->id, "call_P");
    EXPECT_EQ(final_response.content->parts[1].function_call->args, (Json{{"city", "Paris"}}));
    EXPECT_EQ(final_response.content->parts[2].function_call->id, "call_R");
    EXPECT_EQ(final_response.content->parts[2].function_call->args, (Json{{"city", "Rome"}}));
    EXPECT_EQ(final_response.finish_reason, "STOP");
    EXPECT_EQ(final_response.usage_metadata->at("totalTokenCount"), 42);
}

TEST(OpenAiFormat, StreamCarriesReasoningAsThoughts) {
    adk::openai::StreamAssembler a;
    std::vector<LlmResponse> p1 = a.feed(R"({"choices":[{"index":0,"delta":{"reasoning_content":"Hmm."}}]})");
    std::vector<LlmResponse> p2 = a.feed(R"({"choices":[{"index":0,"delta":{"content":"42"},"finish_reason":"stop"}]})");
    ASSERT_EQ(p1.size(), 1u);
    EXPECT_EQ(p1[0].content->parts[0].thought, true);
    a.feed("[DONE]");
    LlmResponse f = a.finish();
    ASSERT_EQ(f.content->parts.size(), 2u);
    EXPECT_EQ(f.content->parts[0].thought, true);
    EXPECT_EQ(f.content->text(), "42") << "thoughts are not the answer";
}

TEST(OpenAiFormat, TruncatedAndBrokenStreamsAreTypedErrors) {
    adk::openai::StreamAssembler cut;
    cut.feed(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
    cut.feed(R"({"choices":[{"index":0,"delta":{"content":"It is "}}]})");
    EXPECT_THROW(cut.finish(), adk::TruncatedStreamError);

    adk::openai::StreamAssembler empty;
    EXPECT_THROW(empty.finish(), adk::TruncatedStreamError) << "no event at all";

    adk::openai::StreamAssembler finished_without_done;
    finished_without_done.feed(R"({"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]})");
    EXPECT_EQ(finished_without_done.finish().content->text(), "ok") << "a finish_reason ends the answer";

    adk::openai::StreamAssembler broken;
    EXPECT_THROW(broken.feed(R"({"choices": [{"delta": {"content": "oops)"), adk::MalformedResponseError);

    adk::openai::StreamAssembler error_event;
    error_event.feed(R"({"choices":[{"index":0,"delta":{"content":"par"}}]})");
    EXPECT_THROW(error_event.feed(R"({"error":{"message":"overloaded","type":"server_error"}})"), adk::ModelApiError);

    adk::openai::StreamAssembler bad_args;
    bad_args.feed(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\": 1"}}]}}]})");
    bad_args.feed(R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
    bad_args.feed("[DONE]");
    EXPECT_THROW(bad_args.finish(), adk::MalformedResponseError);
}

TEST(OpenAiFormat, ChunksBuiltByTheServerSideAssembleBack) {
    adk::openai::ChunkBuilder cb;
    cb.id = "chatcmpl-9";
    cb.model = "m";
    cb.created = 5;
    std::vector<std::string> events = {cb.role_chunk().dump(),
                                       cb.text_chunk("Hi ").dump(),
                                       cb.text_chunk("there").dump(),
                                       cb.tool_call_start(0, "call_0", "f").dump(),
                                       cb.tool_call_arguments(0, "{\"x\":").dump(),
                                       cb.tool_call_arguments(0, "1}").dump(),
                                       cb.finish_chunk("tool_calls").dump(),
                                       cb.usage_chunk(Json{{"prompt_tokens", 1}, {"completion_tokens", 2}, {"total_tokens", 3}}).dump(),
                                       "[DONE]"};
    EXPECT_EQ(Json::parse(events[1])["object"], "chat.completion.chunk");
    adk::openai::StreamAssembler a;
    std::vector<LlmResponse> partials = feed_all(a, events);
    EXPECT_EQ(partials.size(), 2u);
    LlmResponse f = a.finish();
    EXPECT_EQ(f.content->text(), "Hi there");
    EXPECT_EQ(f.content->parts[1].function_call->args, (Json{{"x", 1}}));
    EXPECT_EQ(f.usage_metadata->at("candidatesTokenCount"), 2);
}

// --- Gemini ------------------------------------------------------------------------------------

TEST(GeminiFormat, RequestHasContentsSystemInstructionToolsAndGenerationConfig) {
    LlmRequest r = weather_conversation();
    r.contents[1].parts[1].function_call->id = "adk-1234";  // ADK's own id: never sent
    r.contents[2].parts[0].function_response->id = "adk-1234";
    r.config["safetySettings"] = Json::array({Json{{"category", "HARM_CATEGORY_HARASSMENT"}, {"threshold", "BLOCK_NONE"}}});
    r.config["response_mime_type"] = "text/plain";
    Json body = adk::gemini::to_request(r);
    ASSERT_EQ(body["contents"].size(), 4u);
    EXPECT_EQ(body["contents"][0], (Json{{"role", "user"}, {"parts", {{{"text", "What's the weather in Paris?"}}}}}));
    EXPECT_EQ(body["contents"][1]["role"], "model");
    EXPECT_EQ(body["contents"][1]["parts"][1]["functionCall"], (Json{{"name", "get_weather"}, {"args", {{"city", "Paris"}}}}));
    EXPECT_FALSE(body["contents"][2]["parts"][0]["functionResponse"].contains("id"));
    EXPECT_EQ(body["systemInstruction"], (Json{{"parts", {{{"text", "You are a weather bot."}}}}}));
    const Json& decl = body["tools"][0]["functionDeclarations"][0];
    EXPECT_EQ(decl["name"], "get_weather");
    EXPECT_EQ(decl["parameters"]["type"], "OBJECT");
    EXPECT_EQ(decl["parameters"]["properties"]["days"], (Json{{"type", "INTEGER"}, {"nullable", true}}));
    EXPECT_EQ(body["generationConfig"]["temperature"], 0.2);
    EXPECT_EQ(body["generationConfig"]["maxOutputTokens"], 256);
    EXPECT_EQ(body["generationConfig"]["responseMimeType"], "text/plain") << "snake_case keys camel-cased";
    EXPECT_FALSE(body["generationConfig"].contains("safetySettings"));
    EXPECT_EQ(body["safetySettings"][0]["threshold"], "BLOCK_NONE");
}

TEST(GeminiFormat, JsonSchemasBecomeGeminiSchemas) {
    Json schema = Json::parse(R"({
      "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
      "properties": {"path": {"type": "string", "description": "a path"},
                     "depth": {"type": ["integer", "null"], "minimum": 0},
                     "tags": {"type": "array", "items": {"type": "string"}},
                     "mode": {"const": "fast"}},
      "required": ["path"]})");
    Json g = adk::gemini::to_gemini_schema(schema);
    EXPECT_EQ(g, Json::parse(R"({
      "type": "OBJECT",
      "properties": {"path": {"type": "STRING", "description": "a path"},
                     "depth": {"type": "INTEGER", "nullable": true, "minimum": 0},
                     "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                     "mode": {"enum": ["fast"]}},
      "required": ["path"]})"));
}

TEST(GeminiFormat, RequestJsonReadsBack) {
    LlmRequest original = weather_conversation();
    LlmRequest back = adk::gemini::request_from_json(adk::gemini::to_request(original), "gemini-2.0-flash");
    EXPECT_EQ(back.model, "gemini-2.0-flash");
    EXPECT_EQ(back.system_instruction, original.system_instruction);
    ASSERT_EQ(back.contents.size(), original.contents.size());
    for (std::size_t i = 0; i < original.contents.size(); ++i)
        EXPECT_EQ(Json(back.contents[i]), Json(original.contents[i])) << "content " << i;
    EXPECT_EQ(back.function_declarations[0]["name"], "get_weather");
    EXPECT_EQ(back.config["maxOutputTokens"], 256);
    EXPECT_THROW(adk::gemini::request_from_json(Json{{"contents", "nope"}}), std::invalid_argument);
}

TEST(GeminiFormat, ResponseWithTextFunctionCallAndUsage) {
    // Shaped as in Google's generateContent reference.
    LlmResponse r = adk::gemini::parse_response(R"({
      "candidates": [{"content": {"parts": [{"text": "Let me look."},
                                            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                                  "role": "model"},
                      "finishReason": "STOP", "index": 0,
                      "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}],
      "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 9, "totalTokenCount": 21},
      "modelVersion": "gemini-2.0-flash", "responseId": "abc"})");
    ASSERT_TRUE(r.content);
    EXPECT_EQ(r.content->role, "model");
    EXPECT_EQ(r.content->text(), "Let me look.");
    EXPECT_EQ(r.content->parts[1].function_call->name, "get_weather");
    EXPECT_EQ(r.finish_reason, "STOP");
    EXPECT_EQ(r.usage_metadata->at("totalTokenCount"), 21);
    EXPECT_FALSE(r.error_code);
    LlmResponse back = adk::gemini::response_from_json(adk::gemini::response_to_json(r, "m"));
    EXPECT_EQ(Json(*back.content), Json(*r.content));
    EXPECT_EQ(back.usage_metadata, r.usage_metadata);
}

TEST(GeminiFormat, AnswersWithoutPartsAreModelErrorsAsInAdk) {
    LlmResponse safety = adk::gemini::parse_response(
        R"({"candidates": [{"finishReason": "SAFETY", "finishMessage": "blocked", "index": 0}]})");
    EXPECT_EQ(safety.error_code, "SAFETY");
    EXPECT_EQ(safety.error_message, "blocked");
    EXPECT_FALSE(safety.content);
    LlmResponse blocked = adk::gemini::parse_response(
        R"({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "no"}})");
    EXPECT_EQ(blocked.error_code, "PROHIBITED_CONTENT");
    LlmResponse nothing = adk::gemini::parse_response(R"({"candidates": []})");
    EXPECT_EQ(nothing.error_code, "UNKNOWN_ERROR");
    LlmResponse back = adk::gemini::response_from_json(adk::gemini::response_to_json(safety));
    EXPECT_EQ(back.error_code, "SAFETY");
    EXPECT_EQ(back.error_message, "blocked");
}

TEST(GeminiFormat, MalformedResponsesAndErrorsAreTyped) {
    EXPECT_THROW(adk::gemini::parse_response(R"({"candidates": [{"content": {"parts": [{"text": "Hel)"),
                 adk::MalformedResponseError);
    EXPECT_THROW(adk::gemini::parse_response(R"({"candidates": {"a": 1}})"), adk::MalformedResponseError);
    EXPECT_THROW(adk::gemini::parse_response(R"({"candidates": [{"content": {"parts": [{"text": 5}]}}]})"),
                 adk::MalformedResponseError);
    adk::ModelApiError e = adk::gemini::error_from_body(
        429, R"({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})");
    EXPECT_EQ(e.status(), 429);
    EXPECT_EQ(e.code(), "RESOURCE_EXHAUSTED");
    EXPECT_STREQ(e.what(), "Resource has been exhausted (e.g. check quota).");
    adk::ModelApiError wrapped = adk::gemini::error_from_body(400, R"([{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}])");
    EXPECT_EQ(wrapped.code(), "INVALID_ARGUMENT");
    EXPECT_EQ(adk::gemini::error_body(503, "x")["error"]["status"], "UNAVAILABLE");
    EXPECT_THROW(adk::gemini::parse_response(R"({"error": {"code": 500, "message": "internal", "status": "INTERNAL"}})"),
                 adk::ModelApiError);
}

TEST(GeminiFormat, StreamAssemblesTextThenOtherPartsWithTheLastUsage) {
    std::vector<std::string> events = {
        R"({"candidates": [{"content": {"parts": [{"text": "The weather"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}})",
        R"({"candidates": [{"content": {"parts": [{"text": " is sunny."}], "role": "model"}, "index": 0}]})",
        R"({"candidates": [{"content": {"parts": [{"functionCall": {"name": "log", "args": {"ok": true}}}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 8, "totalTokenCount": 13}})"};
    adk::gemini::StreamAssembler a;
    std::vector<LlmResponse> partials;
    for (const std::string& e : events) {
        std::vector<LlmResponse> got = a.feed(e);
        for (LlmResponse& r : got) partials.push_back(std::move(r));
    }
    ASSERT_EQ(partials.size(), 2u);
    EXPECT_EQ(partials[0].content->text(), "The weather");
    EXPECT_TRUE(partials[1].is_partial());
    LlmResponse f = a.finish();
    ASSERT_EQ(f.content->parts.size(), 2u);
    EXPECT_EQ(f.content->text(), "The weather is sunny.");
    EXPECT_EQ(f.content->parts[1].function_call->args, (Json{{"ok", true}}));
    EXPECT_EQ(f.finish_reason, "STOP");
    EXPECT_EQ(f.usage_metadata->at("totalTokenCount"), 13);
}

TEST(GeminiFormat, TruncatedAndBrokenStreamsAreTypedErrors) {
    adk::gemini::StreamAssembler cut;
    cut.feed(R"({"candidates": [{"content": {"parts": [{"text": "The wea"}], "role": "model"}, "index": 0}]})");
    EXPECT_THROW(cut.finish(), adk::TruncatedStreamError);
    adk::gemini::StreamAssembler none;
    EXPECT_THROW(none.finish(), adk::TruncatedStreamError);
    adk::gemini::StreamAssembler broken;
    EXPECT_THROW(broken.feed(R"({"candidates": [{"content": {"parts": [{"text": "oops)"), adk::MalformedResponseError);
    adk::gemini::StreamAssembler error_event;
    EXPECT_THROW(error_event.feed(R"({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})"),
                 adk::ModelApiError);
    adk::gemini::StreamAssembler blocked;
    blocked.feed(R"({"promptFeedback": {"blockReason": "SAFETY"}})");
    EXPECT_EQ(blocked.finish().error_code, "SAFETY") << "a blocked prompt ends the stream";
}
