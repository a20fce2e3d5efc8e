// Tests for the LLM flow's extension points: agent, model and tool
// callbacks, instruction providers, transfer_to_agent and the runner's
// choice of agent, include_contents, timeouts and long-running tools.
#include <gtest/gtest.h>

#include <chrono>

#include "adk/adk.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using adk::CallbackContext;
using adk::Content;
using adk::Event;
using adk::Json;
using adk::LlmAgent;
using adk::ScriptedLlm;
using adk::ScriptedReply;
using namespace std::chrono_literals;

namespace {

struct Turn {
    std::vector<Event> events;
    std::string error;
};

/// One message through `runner` on session "s" (created on first use).
Turn send(adk::Runner& runner, Content message, adk::RunConfig config = {}) {
    return aio::run([&]() -> aio::Coro<Turn> {
        Turn out;
        std::optional<adk::Session> existing = co_await runner.session_service().get_session(runner.app_name(), "u", "s");
        if (!existing) co_await runner.session_service().create_session(runner.app_name(), "u", Json::object(), "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", std::move(message), config);
        try {
            while (true) {
                std::optional<Event> ev = co_await events.next();
                if (!ev) break;
                out.events.push_back(std::move(*ev));
            }
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        co_return out;
    });
}

Turn send(adk::Runner& runner, const std::string& text, adk::RunConfig config = {}) {
    return send(runner, Content::user(text), config);
}

adk::Session stored(adk::InMemoryRunner& runner) {
    return *runner.session_service().get_session_now(runner.app_name(), "u", "s", {});
}

std::shared_ptr<adk::FunctionTool> echo_tool(int* runs) {
    return adk::FunctionTool::make("echo", "Echoes its input",
                                   Json::parse(R"({"type":"object","properties":{"x":{"type":"string"}}})"),
                                   [runs](Json args) -> aio::Coro<Json> {
                                       ++*runs;
                                       co_return Json{{"echo", args.value("x", "")}};
                                   });
}

}  // namespace

TEST(AdkCallbacks, BeforeAgentContentSkipsTheAgent) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("never")});
    auto agent = LlmAgent::make({.name = "a",
                                 .model = llm,
                                 .before_agent_callback = {[](CallbackContext& c) -> std::optional<Content> {
                                     c.state().set("checked", true);
                                     return Content::model("blocked by policy");
                                 }}});
    adk::InMemoryRunner runner(agent, "app");
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 1u);
    EXPECT_EQ(t.events[0].author, "a");
    EXPECT_EQ(t.events[0].content->text(), "blocked by policy");
    EXPECT_EQ(t.events[0].actions.state_delta["checked"], true);
    EXPECT_EQ(llm->calls(), 0u);
    EXPECT_EQ(stored(runner).state["checked"], true);
}

TEST(AdkCallbacks, StateOnlyAgentCallbacksYieldStateEventsAndAfterAddsContent) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("answer")});
    // A coroutine callback and a plain one.
    auto before = [](CallbackContext& c) -> aio::Coro<std::optional<Content>> {
        co_await aio::sleep(1ms);
        c.state().set("started", 1);
        co_return std::nullopt;
    };
    auto agent = LlmAgent::make({.name = "a",
                                 .model = llm,
                                 .before_agent_callback = {before},
                                 .after_agent_callback = {[](CallbackContext& c) -> std::optional<Content> {
                                     return Content::model("after, started=" + c.state().get("started")->dump());
                                 }}});
    adk::InMemoryRunner runner(agent, "app");
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_FALSE(t.events[0].content.has_value());
    EXPECT_EQ(t.events[0].actions.state_delta["started"], 1);
    EXPECT_EQ(t.events[1].content->text(), "answer");
    EXPECT_EQ(t.events[2].content->text(), "after, started=1");  // it saw the persisted state
}

TEST(AdkCallbacks, ModelCallbacksShortCircuitOrReplaceAndTheirStateRidesOnTheEvent) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("from the model")});
    auto agent = LlmAgent::make(
        {.name = "a",
         .model = llm,
         .before_model_callback = {[](CallbackContext& c, adk::LlmRequest& r) -> std::optional<adk::LlmResponse> {
             c.state().set("saw_contents", r.contents.size());
             if (r.last_user_text() == "cached?") {
                 adk::LlmResponse cached;
                 cached.content = Content::model("from the cache");
                 return cached;
             }
             return std::nullopt;
         }},
         .after_model_callback = {[](CallbackContext&, const adk::LlmResponse& r) -> std::optional<adk::LlmResponse> {
             adk::LlmResponse upper = r;
             upper.content = Content::model("[checked] " + r.content->text());
             return upper;
         }}});
    adk::InMemoryRunner runner(agent, "app");
    Turn cached = send(runner, "cached?");
    ASSERT_EQ(cached.events.size(), 1u);
    EXPECT_EQ(cached.events[0].content->text(), "from the cache");  // after_model does not see short circuits
    EXPECT_EQ(cached.events[0].actions.state_delta["saw_contents"], 1);
    EXPECT_EQ(llm->calls(), 0u);
    Turn real = send(runner, "real");
    ASSERT_EQ(real.events.size(), 1u);
    EXPECT_EQ(real.events[0].content->text(), "[checked] from the model");
    EXPECT_EQ(real.events[0].actions.state_delta["saw_contents"], 3);
    EXPECT_EQ(llm->calls(), 1u);
}

TEST(AdkCallbacks, ToolCallbacksSkipOrReplaceTheResult) {
    auto llm = ScriptedLlm::make({ScriptedReply::calls({adk::FunctionCall{"1", "echo", {{"x", "skip"}}},
                                                        adk::FunctionCall{"2", "echo", {{"x", "run"}}}}),
                                  ScriptedReply::say("done")});
    int runs = 0;
    auto agent = LlmAgent::make(
        {.name = "a",
         .model = llm,
         .tools = {echo_tool(&runs)},
         .before_tool_callback = {[](adk::BaseTool&, Json& args, adk::ToolContext&) -> std::optional<Json> {
             if (args["x"] == "skip") return Json{{"skipped", true}};
             return std::nullopt;
         }},
         .after_tool_callback = {[](adk::BaseTool& tool, const Json&, adk::ToolContext& ctx,
                                    const Json& result) -> std::optional<Json> {
             ctx.state().set("last_tool", tool.name());
             Json r = result;
             r["audited"] = true;
             return r;
         }}});
    adk::InMemoryRunner runner(agent, "app");
    Turn t = send(runner, "go");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 3u);
    std::vector<adk::FunctionResponse> responses = t.events[1].function_responses();
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].response, Json::parse(R"({"skipped":true,"audited":true})"));
    EXPECT_EQ(responses[1].response, Json::parse(R"({"echo":"run","audited":true})"));
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(t.events[1].actions.state_delta["last_tool"], "echo");
}

TEST(AdkFlow, InstructionProviderMayBeACoroutine) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("ok")});
    LlmAgent::InstructionProvider provider = [](const adk::ReadonlyContext& ctx) -> aio::Coro<std::string> {
        co_await aio::sleep(1ms);
        co_return "Be brief with " + ctx.user_id() + ". {not_templated}";
    };
    auto agent = LlmAgent::make({.name = "a", .model = llm, .instruction_provider = provider});
    adk::InMemoryRunner runner(agent, "app");
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.error, "");
    EXPECT_EQ(llm->requests().at(0).system_instruction.rfind("Be brief with u. {not_templated}", 0), 0u);
}

TEST(AdkTransfer, RootHandsOverAndTheNextTurnStaysWithTheSubAgent) {
    auto root_llm = ScriptedLlm::make({ScriptedReply::call("transfer_to_agent", {{"agent_name", "billing"}})});
    auto billing_llm = ScriptedLlm::make({ScriptedReply::say("Your bill is 10 EUR."), ScriptedReply::say("Paid.")});
    auto billing = LlmAgent::make({.name = "billing", .description = "Answers billing questions", .model = billing_llm});
    auto root = LlmAgent::make({.name = "root", .model = root_llm, .sub_agents = {billing}});
    adk::InMemoryRunner runner(root, "app");

    Turn first = send(runner, "How much do I owe?");
    ASSERT_EQ(first.error, "");
    ASSERT_EQ(first.events.size(), 3u);
    EXPECT_EQ(first.events[0].author, "root");
    EXPECT_EQ(first.events[1].actions.transfer_to_agent, "billing");
    EXPECT_EQ(first.events[2].author, "billing");
    EXPECT_EQ(first.events[2].content->text(), "Your bill is 10 EUR.");
    // The root's request listed its targets and declared the tool.
    const adk::LlmRequest& asked = root_llm->requests().at(0);
    EXPECT_NE(asked.system_instruction.find("Agent name: billing"), std::string::npos);
    EXPECT_EQ(asked.tools_dict.count("transfer_to_agent"), 1u);
    // billing may transfer back to its parent (an LlmAgent): it gets the tool too.
    EXPECT_EQ(billing_llm->requests().at(0).tools_dict.count("transfer_to_agent"), 1u);

    Turn second = send(runner, "Pay it.");
    ASSERT_EQ(second.error, "");
    ASSERT_EQ(second.events.size(), 1u);
    EXPECT_EQ(second.events[0].author, "billing");  // not the root
    EXPECT_EQ(root_llm->calls(), 1u);
}

TEST(AdkTransfer, UnknownTargetIsAnErrorTheModelReads) {
    auto root_llm = ScriptedLlm::make({ScriptedReply::call("transfer_to_agent", {{"agent_name", "nobody"}}),
                                       ScriptedReply::say("sorry")});
    auto helper = LlmAgent::make({.name = "helper", .model = root_llm});
    auto root = LlmAgent::make({.name = "root", .model = root_llm, .sub_agents = {helper}});
    adk::InMemoryRunner runner(root, "app");
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 3u);
    Json response = t.events[1].function_responses().at(0).response;
    EXPECT_NE(response["error"].get<std::string>().find("Valid targets: helper"), std::string::npos);
    EXPECT_FALSE(t.events[1].actions.transfer_to_agent.has_value());
}

TEST(AdkTransfer, TheTurnReturnsToTheRootWhenTheSpeakerMayNotTransferUp) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("one"), ScriptedReply::say("two")});
    auto child = LlmAgent::make({.name = "child", .model = llm, .disallow_transfer_to_parent = true});
    auto root = LlmAgent::make({.name = "root", .model = llm, .sub_agents = {child}});
    adk::InMemoryRunner runner(root, "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        adk::Session s = *runner.session_service().get_session_now("app", "u", "s", {});
        Event spoke = Event::make("e-old", "child");
        spoke.content = Content::model("earlier");
        runner.session_service().append_event_now(s, std::move(spoke));
    });
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.events.size(), 1u);
    EXPECT_EQ(t.events[0].author, "root");
}

TEST(AdkFlow, IncludeContentsNoneSendsOnlyTheCurrentTurn) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("first"), ScriptedReply::say("second")});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .include_contents = adk::IncludeContents::none});
    adk::InMemoryRunner runner(agent, "app");
    send(runner, "one");
    send(runner, "two");
    ASSERT_EQ(llm->requests().size(), 2u);
    ASSERT_EQ(llm->requests()[1].contents.size(), 1u);
    EXPECT_EQ(llm->requests()[1].contents[0].text(), "two");
}

TEST(AdkTimeouts, ASlowToolBecomesAnErrorAndTheInvocationGoesOn) {
    auto llm = ScriptedLlm::make({ScriptedReply::call("slow", Json::object()), ScriptedReply::say("gave up")});
    auto slow = adk::FunctionTool::make("slow", "Never ends", Json::parse(R"({"type":"object"})"),
                                        [](Json) -> aio::Coro<Json> {
                                            co_await aio::sleep(3600s);
                                            co_return Json("late");
                                        });
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {slow}});
    adk::InMemoryRunner runner(agent, "app");
    adk::RunConfig config;
    config.tool_timeout = 50ms;
    auto started = std::chrono::steady_clock::now();
    Turn t = send(runner, "go", config);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1].function_responses().at(0).response["error"], "Tool `slow` timed out after 50 ms");
    EXPECT_EQ(t.events[2].content->text(), "gave up");
}

TEST(AdkTimeouts, TheToolsOwnShorterTimeoutWins) {
    auto llm = ScriptedLlm::make({ScriptedReply::call("slow", Json::object()), ScriptedReply::say("ok")});
    auto slow = adk::FunctionTool::make("slow", "Slow", Json::parse(R"({"type":"object"})"),
                                        [](Json) -> aio::Coro<Json> {
                                            co_await aio::sleep(3600s);
                                            co_return Json("late");
                                        });
    slow->set_timeout(20ms);
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {slow}});
    adk::InMemoryRunner runner(agent, "app");
    adk::RunConfig config;
    config.tool_timeout = 3600s;
    Turn t = send(runner, "go", config);
    EXPECT_EQ(t.events.at(1).function_responses().at(0).response["error"], "Tool `slow` timed out after 20 ms");
}

TEST(AdkTimeouts, ASlowModelCallIsAnLlmTimeoutError) {
    ScriptedReply late = ScriptedReply::say("too late");
    late.delay = 3600s;
    auto agent = LlmAgent::make({.name = "a", .model = ScriptedLlm::make({late})});
    adk::InMemoryRunner runner(agent, "app");
    adk::RunConfig config;
    config.llm_call_timeout = 30ms;
    Turn t = send(runner, "hi", config);
    EXPECT_EQ(t.error, "Model call of agent 'a' timed out after 30 ms");
    EXPECT_TRUE(t.events.empty());
    EXPECT_EQ(stored(runner).events.size(), 1u);  // the user's message only
}

TEST(AdkLongRunning, NoResultEndsTheTurnAndTheClientsResponseResumesTheCaller) {
    auto approve = std::make_shared<adk::FunctionTool>(
        "approve", "Asks a human to approve", Json::parse(R"({"type":"object"})"),
        [](Json, adk::ToolContext&) -> aio::Coro<Json> { co_return Json(nullptr); }, /*is_long_running=*/true);
    // The root hands over to the worker, which asks for approval.
    auto llm = ScriptedLlm::make({ScriptedReply::call("transfer_to_agent", {{"agent_name", "worker"}}),
                             ScriptedReply::call("approve", {{"amount", 50}}, "call-1"),
                             ScriptedReply::say("Approved, paying now.")});
    auto worker = LlmAgent::make({.name = "worker", .model = llm, .tools = {approve}});
    auto root = LlmAgent::make({.name = "root", .model = llm, .sub_agents = {worker}});
    adk::InMemoryRunner runner(root, "app");

    Turn first = send(runner, "pay 50");
    ASSERT_EQ(first.error, "");
    ASSERT_EQ(first.events.size(), 3u);  // transfer call, transfer response, approve call
    const Event& call = first.events[2];
    EXPECT_EQ(call.author, "worker");
    ASSERT_TRUE(call.long_running_tool_ids.has_value());
    EXPECT_EQ(*call.long_running_tool_ids, std::vector<std::string>{"call-1"});
    EXPECT_TRUE(call.is_final_response());

    // Later, the client answers the call: the worker resumes.
    Content answer;
    answer.role = "user";
    adk::FunctionResponse r;
    r.id = "call-1";
    r.name = "approve";
    r.response = Json{{"status", "approved"}};
    answer.parts.push_back(adk::Part::from_function_response(r));
    Turn second = send(runner, answer);
    ASSERT_EQ(second.error, "");
    ASSERT_EQ(second.events.size(), 1u);
    EXPECT_EQ(second.events[0].author, "worker");
    EXPECT_EQ(second.events[0].content->text(), "Approved, paying now.");
    const adk::LlmRequest& resumed = llm->requests().back();
    ASSERT_GE(resumed.contents.size(), 2u);
    EXPECT_FALSE(resumed.contents[resumed.contents.size() - 2].parts.at(0).function_call == std::nullopt);
    EXPECT_EQ(resumed.contents.back().parts.at(0).function_response->response["status"], "approved");
}

TEST(AdkArtifacts, ToolsSaveAndLoadThroughTheirContextAndTheDeltaIsRecorded) {
    auto save = adk::FunctionTool::make("save", "Saves a report", Json::parse(R"({"type":"object"})"),
                                        [](Json, adk::ToolContext& ctx) -> aio::Coro<Json> {
                                            int v0 = co_await ctx.save_artifact("report.txt", adk::Part::from_text("v0"));
                                            int v1 = co_await ctx.save_artifact("report.txt", adk::Part::from_text("v1"));
                                            std::optional<adk::Part> first = co_await ctx.load_artifact("report.txt", 0);
                                            co_return Json{{"versions", {v0, v1}}, {"first", *first->text}};
                                        });
    auto llm = ScriptedLlm::make({ScriptedReply::call("save", Json::object()), ScriptedReply::say("saved")});
    auto agent = LlmAgent::make({.name = "a", .model = llm, .tools = {save}});
    adk::InMemoryRunner runner(agent, "app", std::make_shared<adk::InMemoryArtifactService>());
    Turn t = send(runner, "save it");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1].function_responses().at(0).response, Json::parse(R"({"versions":[0,1],"first":"v0"})"));
    EXPECT_EQ(t.events[1].actions.artifact_delta.at("report.txt"), 1);

    // Without an artifact service the tool fails with an error the model reads.
    auto llm2 = ScriptedLlm::make({ScriptedReply::call("save", Json::object()), ScriptedReply::say("no")});
    adk::InMemoryRunner bare(LlmAgent::make({.name = "b", .model = llm2, .tools = {save}}), "app");
    Turn u = send(bare, "save it");
    EXPECT_NE(u.events.at(1).function_responses().at(0).response["error"].get<std::string>().find("Artifact service"),
              std::string::npos);
}

TEST(AdkFlow, TemplatingMatchesAdksRegexOnEdgeCases) {
    Json state = {{"a", "A"}, {"n", 3}, {"app:x", "X"}};
    EXPECT_EQ(adk::inject_session_state("no braces", state), "no braces");
    EXPECT_EQ(adk::inject_session_state("{a}{n}", state), "A3");
    EXPECT_EQ(adk::inject_session_state("{{a}}", state), "A");               // runs of braces are one match
    EXPECT_EQ(adk::inject_session_state("{ a }", state), "A");               // trimmed
    EXPECT_EQ(adk::inject_session_state("x{missing?}y", state), "xy");
    EXPECT_EQ(adk::inject_session_state("{app:x}", state), "X");
    EXPECT_EQ(adk::inject_session_state("{not a name}", state), "{not a name}");
    EXPECT_EQ(adk::inject_session_state("{ {a}", state), "{ A");             // the first run has no match
    EXPECT_EQ(adk::inject_session_state("unclosed {a", state), "unclosed {a");
    EXPECT_EQ(adk::inject_session_state("json {\"k\": 1}", state), "json {\"k\": 1}");
    EXPECT_EQ(adk::inject_session_state("a}b", state), "a}b");
    EXPECT_THROW(adk::inject_session_state("{nope}", state), std::out_of_range);
}

TEST(AdkScriptedRules, WhenAgentPicksTheRepliesOfTheAgentAsking) {
    Json script = Json::parse(R"({"rules": [
        {"whenAgent": "alpha", "reply": {"text": "I am alpha"}},
        {"whenAgent": "beta", "afterTool": "t", "reply": {"text": "beta after t"}},
        {"whenAgent": "beta", "reply": {"text": "I am beta"}}]})");
    auto llm = ScriptedLlm::from_json(script);
    auto alpha = LlmAgent::make({.name = "alpha", .model = llm});
    auto beta = LlmAgent::make({.name = "beta", .model = llm});
    auto both = adk::SequentialAgent::make("both", {alpha, beta});
    adk::InMemoryRunner runner(both, "app");
    Turn t = send(runner, "hi");
    ASSERT_EQ(t.error, "");
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[0].content->text(), "I am alpha");
    EXPECT_EQ(t.events[1].content->text(), "I am beta");
}

TEST(AdkScriptedRules, AMisspelledRuleKeyIsAnError) {
    Json script = Json::parse(R"({"rules": [{"whenAgnet": "writer", "reply": {"text": "x"}}]})");
    try {
        ScriptedLlm::from_json(script);
        FAIL() << "accepted a misspelled key";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("unknown rule key \"whenAgnet\""), std::string::npos) << e.what();
    }
}
