// Tests for adk::AgentTool: an agent run as a tool, end to end through
// InMemoryRunner with ScriptedLlm models.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "adk/adk.hpp"
#include "adk/artifacts.hpp"
#include "aio/barrier.hpp"
#include "aio/event.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "support.hpp"

using adk::Event;
using adk::Json;
using adk::ScriptedLlm;
using adk::ScriptedReply;
using namespace std::chrono_literals;

namespace {

struct Outcome {
    std::vector<Event> events;
    adk::Session session;
    std::string error;
};

/// Creates session "s" with `state` and runs one message through `runner`.
aio::Coro<Outcome> run_once(adk::Runner& runner, std::string message, Json state = Json::object()) {
    Outcome out;
    aio::Coro<adk::Session> creating = runner.session_service().create_session(runner.app_name(), "u", state, "s");
    co_await std::move(creating);
    aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user(std::move(message)));
    try {
        while (true) {
            std::optional<Event> ev = co_await events.next();
            if (!ev) break;
            out.events.push_back(std::move(*ev));
        }
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    aio::Coro<std::optional<adk::Session>> loading = runner.session_service().get_session(runner.app_name(), "u", "s");
    std::optional<adk::Session> s = co_await std::move(loading);
    out.session = std::move(*s);
    co_return out;
}

Outcome run_blocking(adk::Runner& runner, std::string message, Json state = Json::object()) {
    Outcome out;
    aio_test::run_bounded([&]() -> aio::Coro<> {
        aio::Coro<Outcome> running = run_once(runner, message, state);
        out = co_await std::move(running);
    });
    return out;
}

/// A child tool writing session, user and app state.
std::shared_ptr<adk::FunctionTool> remember_tool() {
    return adk::FunctionTool::from(
        [](const std::string& note, adk::ToolContext& ctx) -> aio::Coro<Json> {
            co_await aio::sleep(1ms);
            ctx.state().set("child_note", note);
            ctx.state().set("user:language", "fr");
            co_return Json{{"stored", true}};
        },
        "remember", "Stores a note", {"note"});
}

/// The one function response of `e` (an empty one, and a failure, if not exactly one).
adk::FunctionResponse only_response(const Event& e) {
    std::vector<adk::FunctionResponse> r = e.function_responses();
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? adk::FunctionResponse{} : r[0];
}

}  // namespace

TEST(AdkAgentTool, DeclaresARequestStringUnderTheAgentsName) {
    auto child = adk::LlmAgent::make({.name = "summarizer", .description = "Summarizes a text",
                                      .model = ScriptedLlm::make({ScriptedReply::say("ok")})});
    auto tool = adk::AgentTool::make(child);
    EXPECT_EQ(tool->name(), "summarizer");
    EXPECT_FALSE(tool->is_long_running());
    EXPECT_EQ(*tool->declaration(), Json::parse(R"({"name":"summarizer","description":"Summarizes a text",
        "parameters":{"type":"object","properties":{"request":{"type":"string"}},"required":["request"]}})"));
    EXPECT_THROW(adk::AgentTool::make(nullptr), std::invalid_argument);
    EXPECT_THROW(adk::AgentTool::make(child, {.input_schema = Json::array()}), std::invalid_argument);
}

TEST(AdkAgentTool, RunsTheChildWithACopyOfTheStateAndForwardsItsDeltas) {
    auto child_llm = ScriptedLlm::make({ScriptedReply::call("remember", {{"note", "cats purr"}}),
                                        ScriptedReply::say("Cats purr."), ScriptedReply::say("(unused)")});
    auto child = adk::LlmAgent::make({.name = "researcher", .description = "Finds facts", .model = child_llm,
                                      .instruction = "Research {topic} for user {user:name}.",
                                      .tools = {remember_tool()}});
    auto parent_llm = ScriptedLlm::make({ScriptedReply::call("researcher", {{"request", "Tell me about cats"}}),
                                         ScriptedReply::say("Here is what I found: cats purr.")});
    auto parent = adk::LlmAgent::make({.name = "writer", .model = parent_llm,
                                       .tools = {adk::AgentTool::make(child)}});
    adk::InMemoryRunner runner(parent, "app");
    Outcome out = run_blocking(runner, "Write about cats", Json{{"topic", "cats"}, {"user:name", "Ada"}});
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);  // call, response, answer: the child's events stay in its own session

    // the child saw the parent's state and got the request as its user message
    ASSERT_EQ(child_llm->calls(), 2u);
    EXPECT_NE(child_llm->requests()[0].system_instruction.find("Research cats for user Ada."), std::string::npos);
    EXPECT_EQ(child_llm->requests()[0].last_user_text(), "Tell me about cats");

    const Event& response = out.events[1];
    EXPECT_EQ(response.author, "writer");
    EXPECT_EQ(only_response(response).response, Json::parse(R"({"result":"Cats purr."})"));
    EXPECT_EQ(response.actions.state_delta["child_note"], "cats purr");
    EXPECT_EQ(response.actions.state_delta["user:language"], "fr");
    EXPECT_TRUE(out.events[2].is_final_response());

    // the deltas reached the parent's session with the function response
    EXPECT_EQ(out.session.state["child_note"], "cats purr");
    EXPECT_EQ(out.session.state["user:language"], "fr");
    EXPECT_EQ(out.session.state["topic"], "cats");
    EXPECT_EQ(out.session.events.size(), 4u);  // user + 3
}

TEST(AdkAgentTool, SkipSummarizationEndsTheParentsTurnWithTheResponse) {
    auto child = adk::LlmAgent::make({.name = "echo", .model = ScriptedLlm::make({ScriptedReply::say("echoed")})});
    auto parent_llm = ScriptedLlm::make({ScriptedReply::call("echo", {{"request", "hi"}})});
    auto parent = adk::LlmAgent::make(
        {.name = "root", .model = parent_llm, .tools = {adk::AgentTool::make(child, {.skip_summarization = true})}});
    adk::InMemoryRunner runner(parent, "app");
    Outcome out = run_blocking(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 2u);
    EXPECT_EQ(parent_llm->calls(), 1u);  // not called again after the response
    EXPECT_EQ(out.events[1].actions.skip_summarization, true);
    EXPECT_TRUE(out.events[1].is_final_response());
    EXPECT_EQ(only_response(out.events[1]).response["result"], "echoed");
}

namespace schema_demo {
struct Lookup {
    std::string city;
    int days = 0;
};
BOOST_DESCRIBE_STRUCT(Lookup, (), (city, days))
}  // namespace schema_demo

TEST(AdkAgentTool, AnInputSchemaSendsTheArgumentsAsJsonText) {
    auto child_llm = ScriptedLlm::make({ScriptedReply::say("3 sunny days in Oslo")});
    auto child = adk::LlmAgent::make({.name = "forecaster", .model = child_llm});
    auto tool = adk::AgentTool::make(child, {.input_schema = adk::json_schema<schema_demo::Lookup>()});
    EXPECT_EQ((*tool->declaration())["parameters"]["required"], Json::parse(R"(["city","days"])"));
    auto parent_llm = ScriptedLlm::make({ScriptedReply::calls({adk::FunctionCall{"", "forecaster", {{"city", 5}}},
                                                               adk::FunctionCall{"", "forecaster",
                                                                                 {{"city", "Oslo"}, {"days", 3}}}}),
                                         ScriptedReply::say("done")});
    auto parent = adk::LlmAgent::make({.name = "root", .model = parent_llm, .tools = {tool}});
    adk::InMemoryRunner runner(parent, "app");
    Outcome out = run_blocking(runner, "weather?");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    std::vector<adk::FunctionResponse> responses = out.events[1].function_responses();
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_TRUE(responses[0].response.contains("error"));  // bad arguments: the child never ran for it
    EXPECT_EQ(responses[1].response["result"], "3 sunny days in Oslo");
    ASSERT_EQ(child_llm->calls(), 1u);
    EXPECT_EQ(Json::parse(child_llm->requests()[0].last_user_text()), Json::parse(R"({"city":"Oslo","days":3})"));
}

TEST(AdkAgentTool, CallsOfOneTurnRunConcurrentlyAndTheirDeltasMerge) {
    // Each child's tool waits at a barrier for the other: run one after the
    // other, they would never meet (the bounded run would fail).
    auto barrier = std::make_shared<aio::Barrier>(2);
    auto meet = [barrier](const std::string& key, adk::ToolContext& ctx) -> aio::Coro<Json> {
        co_await barrier->wait();
        ctx.state().set(key, true);
        co_return Json{{"met", key}};
    };
    auto make_child = [&](const std::string& name) {
        auto llm = ScriptedLlm::make({ScriptedReply::call("meet", {{"key", name + "_done"}}),
                                      ScriptedReply::say(name + " finished")});
        return adk::LlmAgent::make(
            {.name = name, .model = llm, .tools = {adk::FunctionTool::from(meet, "meet", "", {"key"})}});
    };
    auto parent_llm = ScriptedLlm::make(
        {ScriptedReply::calls({adk::FunctionCall{"", "left", {{"request", "go"}}},
                               adk::FunctionCall{"", "right", {{"request", "go"}}}}),
         ScriptedReply::say("both finished")});
    auto parent = adk::LlmAgent::make({.name = "root", .model = parent_llm,
                                       .tools = {adk::AgentTool::make(make_child("left")),
                                                 adk::AgentTool::make(make_child("right"))}});
    adk::InMemoryRunner runner(parent, "app");
    Outcome out = run_blocking(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    const Event& response = out.events[1];
    EXPECT_EQ(response.actions.state_delta, Json::parse(R"({"left_done":true,"right_done":true})"));
    std::vector<adk::FunctionResponse> responses = response.function_responses();
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].response["result"], "left finished");
    EXPECT_EQ(responses[1].response["result"], "right finished");
}

TEST(AdkAgentTool, AFailingChildIsAnErrorTheParentModelReads) {
    auto child = adk::LlmAgent::make({.name = "broken", .model = ScriptedLlm::make({ScriptedReply::fail("boom")})});
    auto parent_llm = ScriptedLlm::make({ScriptedReply::call("broken", {{"request", "x"}}), ScriptedReply::say("sorry")});
    auto parent = adk::LlmAgent::make({.name = "root", .model = parent_llm, .tools = {adk::AgentTool::make(child)}});
    adk::InMemoryRunner runner(parent, "app");
    Outcome out = run_blocking(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    std::string error = only_response(out.events[1]).response.value("error", "");
    EXPECT_NE(error.find("boom"), std::string::npos) << out.events[1].function_responses()[0].response.dump();
    EXPECT_EQ(out.events[2].content->text(), "sorry");
}

TEST(AdkAgentTool, CancellingTheParentCancelsTheChild) {
    struct Probe {
        bool started = false;
        bool unwound = false;
        bool finished = false;
    };
    auto probe = std::make_shared<Probe>();
    auto started = std::make_shared<aio::Event>();
    auto slow = adk::FunctionTool::from(
        [probe, started]() -> aio::Coro<Json> {
            struct Unwind {
                Probe* p;
                ~Unwind() { p->unwound = true; }
            } guard{probe.get()};
            probe->started = true;
            started->set();
            co_await aio::sleep(30s);
            probe->finished = true;
            co_return Json::object();
        },
        "slow", "Takes long");
    auto child = adk::LlmAgent::make({.name = "worker", .model = ScriptedLlm::make({ScriptedReply::call("slow", {}),
                                                                                   ScriptedReply::say("done")}),
                                      .tools = {slow}});
    auto parent = adk::LlmAgent::make(
        {.name = "root", .model = ScriptedLlm::make({ScriptedReply::call("worker", {{"request", "work"}}),
                                                     ScriptedReply::say("never")}),
         .tools = {adk::AgentTool::make(child)}});
    adk::InMemoryRunner runner(parent, "app");
    bool cancelled = false;
    double elapsed = 1e9;
    std::size_t events_seen = 0;
    aio_test::run_bounded([&]() -> aio::Coro<> {
        auto start = aio::get_running_loop().time();
        aio::Coro<adk::Session> creating = runner.session_service().create_session("app", "u", Json::object(), "s");
        co_await std::move(creating);
        auto consume = [&]() -> aio::Coro<> {
            aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user("go"));
            while (true) {
                std::optional<Event> ev = co_await events.next();
                if (!ev) break;
                ++events_seen;
            }
        };
        aio::Task<> consumer = aio::create_task(consume());
        co_await started->wait();
        consumer.cancel();
        try {
            co_await consumer;
        } catch (const aio::CancelledError&) {
            cancelled = true;
        }
        // By the time the parent's stream has ended, the child has unwound.
        CO_ASSERT_TRUE(probe->unwound);
        elapsed = aio_test::since(start);
        std::vector<std::string> running = runner.running_invocations();
        CO_ASSERT_TRUE(running.empty());
    });
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(probe->started);
    EXPECT_FALSE(probe->finished);
    EXPECT_LT(elapsed, 10.0);
    EXPECT_EQ(events_seen, 1u);  // the parent's call event; no response was produced
}

#define CO_ASSERT_NOT_NULL_INT(p)                       \
    do {                                                \
        if (!(p)) {                                     \
            ADD_FAILURE() << "null: " #p;               \
            co_return -1;                               \
        }                                               \
    } while (0)

TEST(AdkAgentTool, ArtifactsOfTheChildLandInTheParentsSession) {
    auto save = adk::FunctionTool::from(
        [](const std::string& text, adk::ToolContext& ctx) -> aio::Coro<int> {
            // The child's own artifact service (what CallbackContext::save_artifact uses).
            adk::ArtifactService* service = ctx.invocation_context().artifact_service;
            CO_ASSERT_NOT_NULL_INT(service);
            aio::Coro<int> saving = service->save_artifact(ctx.app_name(), ctx.user_id(),
                                                           ctx.invocation_context().session->id, "notes.txt",
                                                           adk::Part::from_text(text));
            int version = co_await std::move(saving);
            co_return version;
        },
        "save_note", "Saves a note", {"text"});
    auto child = adk::LlmAgent::make({.name = "scribe", .model = ScriptedLlm::make({ScriptedReply::call(
                                                                                         "save_note", {{"text", "v0"}}),
                                                                                     ScriptedReply::say("saved")}),
                                      .tools = {save}});
    auto parent = adk::LlmAgent::make(
        {.name = "root", .model = ScriptedLlm::make({ScriptedReply::call("scribe", {{"request", "note it"}}),
                                                     ScriptedReply::say("ok")}),
         .tools = {adk::AgentTool::make(child)}});
    auto artifacts = std::make_shared<adk::InMemoryArtifactService>();
    adk::InMemoryRunner runner(parent, "app", artifacts);
    Outcome out = run_blocking(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    EXPECT_EQ(out.events[1].actions.artifact_delta.at("notes.txt"), 0);
    std::optional<adk::Part> stored;
    aio::run([&]() -> aio::Coro<> {
        aio::Coro<std::optional<adk::Part>> loading = artifacts->load_artifact("app", "u", "s", "notes.txt");
        stored = co_await std::move(loading);
    });
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->text, "v0");
}
