// Tests for adk::Content, adk::Event, adk::EventActions: ADK's JSON and ids.
#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <set>

#include "adk/event.hpp"

using adk::Event;
using adk::Json;

namespace {

// The samples of ADK-REFERENCE.md §6 (the "..." elisions filled in) and the
// ADK-TS /run reply of §P4.
const char* kPartial =
    R"({"content":{"parts":[{"text":"Let me"}],"role":"model"},"partial":true,"invocationId":"e-6f1c0000-0000-4000-8000-000000000000","author":"weather_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"Xk3PqL9a","timestamp":1750460000.123})";
const char* kFunctionCall =
    R"({"content":{"parts":[{"functionCall":{"id":"adk-0c9","args":{"city":"Paris"},"name":"get_weather"}}],"role":"model"},"invocationId":"e-6f1c","author":"weather_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"longRunningToolIds":[],"id":"aB12cD34","timestamp":1750460001.5})";
const char* kFunctionResponse =
    R"({"content":{"parts":[{"functionResponse":{"id":"adk-0c9","name":"get_weather","response":{"result":"sunny"}}}],"role":"user"},"invocationId":"e-6f1c","author":"weather_agent","actions":{"stateDelta":{"last_city":"Paris"},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"Zz98Yy76","timestamp":1750460002.25})";
const char* kFinal =
    R"({"content":{"parts":[{"text":"It is sunny in Paris."}],"role":"model"},"invocationId":"e-6f1c","author":"weather_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"Qq11Ww22","timestamp":1750460003.0,"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":6,"totalTokenCount":16}})";
const char* kAdkTs =
    R"({"invocationId":"e-1","author":"echo_agent","id":"Jt8MWvkk","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{},"requestedToolConfirmations":{}},"longRunningToolIds":[],"timestamp":1795642595192,"content":{"role":"model","parts":[{"text":"echo: hello"}]}})";

Json round_trip(const char* text) {
    Json in = Json::parse(text);
    Event e = in.get<Event>();
    return Json(e);
}

}  // namespace

/// `sample` as we write it: ADK-python omits the empty
/// requestedToolConfirmations and longRunningToolIds; we write them, as ADK-TS.
Json as_written(const char* sample) {
    Json j = Json::parse(sample);
    if (!j["actions"].contains("requestedToolConfirmations")) j["actions"]["requestedToolConfirmations"] = Json::object();
    if (!j.contains("longRunningToolIds")) j["longRunningToolIds"] = Json::array();
    return j;
}

TEST(AdkEventJson, ReferenceSamplesRoundTripExactly) {
    for (const char* sample : {kPartial, kFunctionCall, kFunctionResponse, kFinal, kAdkTs})
        EXPECT_EQ(round_trip(sample), as_written(sample)) << sample;
}

TEST(AdkEventJson, FieldsAreReadFromCamelCase) {
    Event e = Json::parse(kFunctionCall).get<Event>();
    EXPECT_EQ(e.id, "aB12cD34");
    EXPECT_EQ(e.invocation_id, "e-6f1c");
    EXPECT_EQ(e.author, "weather_agent");
    ASSERT_EQ(e.function_calls().size(), 1u);
    EXPECT_EQ(e.function_calls()[0].id, "adk-0c9");
    EXPECT_EQ(e.function_calls()[0].args["city"], "Paris");
    ASSERT_TRUE(e.long_running_tool_ids.has_value());
    EXPECT_TRUE(e.long_running_tool_ids->empty());
    EXPECT_DOUBLE_EQ(e.timestamp, 1750460001.5);
}

TEST(AdkEventJson, SnakeCaseIsAcceptedAndWrittenBackAsCamelCase) {
    Json snake = Json::parse(R"({"id":"abcdEFGH","invocation_id":"e-x","author":"a","turn_complete":true,
        "error_code":"SAFETY","error_message":"blocked","long_running_tool_ids":["adk-1"],
        "content":{"role":"model","parts":[{"function_call":{"id":"adk-1","name":"t","args":{}}},
                                            {"inline_data":{"mime_type":"image/png","data":"AAE="}}]},
        "actions":{"state_delta":{"k":1},"artifact_delta":{"f.txt":2},"transfer_to_agent":"b",
                   "skip_summarization":true,"escalate":false},"timestamp":3.5})");
    Event e = snake.get<Event>();
    EXPECT_EQ(e.invocation_id, "e-x");
    EXPECT_EQ(e.error_code, "SAFETY");
    EXPECT_EQ(e.actions.state_delta["k"], 1);
    EXPECT_EQ(e.actions.artifact_delta.at("f.txt"), 2);
    EXPECT_EQ(e.actions.transfer_to_agent, "b");
    Json out = e;
    EXPECT_EQ(out["invocationId"], "e-x");
    EXPECT_EQ(out["turnComplete"], true);
    EXPECT_EQ(out["errorCode"], "SAFETY");
    EXPECT_EQ(out["longRunningToolIds"], Json::array({"adk-1"}));
    EXPECT_EQ(out["content"]["parts"][1]["inlineData"]["mimeType"], "image/png");
    EXPECT_EQ(out["actions"]["stateDelta"]["k"], 1);
    EXPECT_EQ(out["actions"]["artifactDelta"]["f.txt"], 2);
    EXPECT_EQ(out["actions"]["transferToAgent"], "b");
    EXPECT_EQ(out["actions"]["skipSummarization"], true);
    EXPECT_EQ(out["actions"]["escalate"], false);
    EXPECT_FALSE(out.contains("invocation_id"));
}

TEST(AdkEventJson, NullsAreOmittedAndActionsAlwaysPresent) {
    Event e = Event::make("e-1", "agent");
    Json out = e;
    // As ADK-TS writes them (tests/webui/equivalence_test.mjs compares).
    EXPECT_EQ(out["actions"], Json::parse(R"({"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{},"requestedToolConfirmations":{}})"));
    EXPECT_EQ(out["longRunningToolIds"], Json::array());
    for (const char* absent : {"branch", "content", "partial", "turnComplete", "errorCode", "errorMessage",
                               "usageMetadata", "interrupted"})
        EXPECT_FALSE(out.contains(absent)) << absent;
    EXPECT_TRUE(out["timestamp"].is_number_float());
}

TEST(AdkEventIds, HaveAdkFormats) {
    static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        std::string id = adk::new_event_id();
        ASSERT_EQ(id.size(), 8u);
        for (char c : id) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
        seen.insert(id);
        std::string inv = adk::new_invocation_id();
        ASSERT_EQ(inv.rfind("e-", 0), 0u);
        ASSERT_TRUE(std::regex_match(inv.substr(2), uuid)) << inv;
        std::string call = adk::new_function_call_id();
        ASSERT_EQ(call.rfind("adk-", 0), 0u);
        ASSERT_TRUE(std::regex_match(call.substr(4), uuid)) << call;
    }
    EXPECT_GT(seen.size(), 190u);
    Event a = Event::make("e-1", "x");
    EXPECT_EQ(a.id.size(), 8u);
    EXPECT_GT(a.timestamp, 1.7e9);
}

TEST(AdkEventFinal, FollowsAdkRules) {
    EXPECT_TRUE(Json::parse(kFinal).get<Event>().is_final_response());
    EXPECT_FALSE(Json::parse(kPartial).get<Event>().is_final_response());
    EXPECT_FALSE(Json::parse(kFunctionCall).get<Event>().is_final_response());  // empty longRunningToolIds
    EXPECT_FALSE(Json::parse(kFunctionResponse).get<Event>().is_final_response());

    Event skip = Json::parse(kFunctionResponse).get<Event>();
    skip.actions.skip_summarization = true;
    EXPECT_TRUE(skip.is_final_response());

    Event long_running = Json::parse(kFunctionCall).get<Event>();
    long_running.long_running_tool_ids = std::vector<std::string>{"adk-0c9"};
    EXPECT_TRUE(long_running.is_final_response());

    Event code = Event::make("e", "a");
    code.content = adk::Content::model("x");
    adk::Part result;
    result.code_execution_result = Json{{"outcome", "OUTCOME_OK"}};
    code.content->parts.push_back(result);
    EXPECT_FALSE(code.is_final_response());

    Event empty = Event::make("e", "a");  // no content at all: final (e.g. an error event)
    EXPECT_TRUE(empty.is_final_response());
}

TEST(AdkEventActions, MergeKeyByKey) {
    adk::EventActions a;
    a.state_delta = Json{{"x", 1}, {"shared", "a"}};
    a.artifact_delta["f"] = 1;
    adk::EventActions b;
    b.state_delta = Json{{"y", 2}, {"shared", "b"}};
    b.escalate = true;
    b.transfer_to_agent = "other";
    a.merge(b);
    EXPECT_EQ(a.state_delta, (Json{{"x", 1}, {"y", 2}, {"shared", "b"}}));
    EXPECT_EQ(a.artifact_delta.at("f"), 1);
    EXPECT_EQ(a.escalate, true);
    EXPECT_EQ(a.transfer_to_agent, "other");
}

TEST(AdkContent, HelpersAndText) {
    adk::Content c = adk::Content::user("hello");
    EXPECT_EQ(Json(c), Json::parse(R"({"role":"user","parts":[{"text":"hello"}]})"));
    adk::Part thought = adk::Part::from_text("thinking");
    thought.thought = true;
    c.parts.push_back(thought);
    c.parts.push_back(adk::Part::from_text(" world"));
    EXPECT_EQ(c.text(), "hello world");
    adk::FunctionCall call;
    call.name = "f";
    EXPECT_EQ(Json(call), Json::parse(R"({"name":"f","args":{}})"));  // empty id omitted
}
