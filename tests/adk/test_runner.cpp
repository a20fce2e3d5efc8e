// Tests for adk::LlmAgent's flow, the workflow agents and adk::InMemoryRunner,
// all on ScriptedLlm.
#include <gtest/gtest.h>

#include <chrono>

#include "adk/adk.hpp"
#include "aio/barrier.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

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

/// Creates session "s" and runs one message through `runner`.
Outcome run_once(adk::InMemoryRunner& runner, std::string message, adk::RunConfig config = {}, Json state = {}) {
    return aio::run([&]() -> aio::Coro<Outcome> {
        Outcome out;
        if (state.is_null()) state = Json::object();
        co_await runner.session_service().create_session(runner.app_name(), "u", state, "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user(message), config);
        try {
            while (true) {
                std::optional<Event> ev = co_await events.next();
                if (!ev) break;
                out.events.push_back(std::move(*ev));
            }
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        std::optional<adk::Session> s = co_await runner.session_service().get_session(runner.app_name(), "u", "s");
        out.session = std::move(*s);
        co_return out;
    });
}

aio::Coro<Json> get_weather(Json args, adk::ToolContext& ctx) {
    co_await aio::sleep(1ms);
    ctx.state().set("last_city", args["city"]);
    co_return Json("sunny in " + args["city"].get<std::string>());
}

std::shared_ptr<adk::FunctionTool> weather_tool() {
    return adk::FunctionTool::make("get_weather", "Current weather of a city",
                                   Json::parse(R"({"type":"object","properties":{"city":{"type":"string"}},
                                                   "required":["city"]})"),
                                   get_weather);
}

}  // namespace

TEST(AdkRunner, ToolCallingAgentYieldsThreeEventsAllPersisted) {
    auto llm = ScriptedLlm::make({ScriptedReply::call("get_weather", {{"city", "Paris"}}),
                                  ScriptedReply::say("It is sunny in Paris.")});
    auto agent = adk::LlmAgent::make({.name = "weather", .description = "Weather answers", .model = llm,
                                      .instruction = "Answer about the weather.", .tools = {weather_tool()}});
    adk::InMemoryRunner runner(agent, "app");
    Outcome out = run_once(runner, "Weather in Paris?");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    const Event& call = out.events[0];
    EXPECT_EQ(call.author, "weather");
    EXPECT_EQ(call.invocation_id.rfind("e-", 0), 0u);
    ASSERT_EQ(call.function_calls().size(), 1u);
    std::string call_id = call.function_calls()[0].id;
    EXPECT_EQ(call_id.rfind("adk-", 0), 0u);  // the model gave none
    EXPECT_FALSE(call.is_final_response());
    const Event& response = out.events[1];
    EXPECT_EQ(response.content->role, "user");
    ASSERT_EQ(response.function_responses().size(), 1u);
    EXPECT_EQ(response.function_responses()[0].id, call_id);
    EXPECT_EQ(response.function_responses()[0].response, Json::parse(R"({"result":"sunny in Paris"})"));
    EXPECT_EQ(response.actions.state_delta["last_city"], "Paris");
    EXPECT_TRUE(out.events[2].is_final_response());
    EXPECT_EQ(out.events[2].content->text(), "It is sunny in Paris.");
    for (const Event& e : out.events) EXPECT_EQ(e.invocation_id, call.invocation_id);
    // user message + 3 events, state applied
    ASSERT_EQ(out.session.events.size(), 4u);
    EXPECT_EQ(out.session.events[0].author, "user");
    EXPECT_EQ(out.session.state["last_city"], "Paris");
    // what the model saw: instruction, identity, tools, history with adk- ids stripped
    ASSERT_EQ(llm->requests().size(), 2u);
    const adk::LlmRequest& first = llm->requests()[0];
    EXPECT_EQ(first.system_instruction,
              "Answer about the weather.\n\nYou are an agent. Your internal name is \"weather\". The description "
              "about you is \"Weather answers\"");
    EXPECT_EQ(first.function_declarations.at(0)["name"], "get_weather");
    EXPECT_EQ(first.contents.size(), 1u);
    const adk::LlmRequest& second = llm->requests()[1];
    ASSERT_EQ(second.contents.size(), 3u);
    EXPECT_EQ(second.contents[1].parts.at(0).function_call->id, "");
    EXPECT_EQ(second.contents[2].parts.at(0).function_response->id, "");
}

TEST(AdkRunner, ConcurrentToolCallsGiveOneMergedEvent) {
    // Both tools wait at a barrier: they finish only if they run concurrently.
    auto barrier = std::make_shared<aio::Barrier>(2);
    auto meet = [barrier](std::string key) {
        return [barrier, key](Json args, adk::ToolContext& ctx) -> aio::Coro<Json> {
            co_await barrier->wait();
            ctx.state().set(key, args["v"]);
            ctx.state().set("shared", key);
            co_return Json::object({{"ok", true}});
        };
    };
    auto a = adk::FunctionTool::make("tool_a", "", Json(), meet("a"));
    auto b = adk::FunctionTool::make("tool_b", "", Json(), meet("b"));
    adk::FunctionCall ca{"", "tool_a", {{"v", 1}}};
    adk::FunctionCall cb{"", "tool_b", {{"v", 2}}};
    auto llm = ScriptedLlm::make({ScriptedReply::calls({ca, cb}), ScriptedReply::say("done")});
    auto agent = adk::LlmAgent::make({.name = "agent", .model = llm, .tools = {a, b}});
    adk::InMemoryRunner runner(agent, "app");
    Outcome out = run_once(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    const Event& merged = out.events[1];
    ASSERT_EQ(merged.function_responses().size(), 2u);
    EXPECT_EQ(merged.function_responses()[0].name, "tool_a");  // call order kept
    EXPECT_EQ(merged.function_responses()[1].name, "tool_b");
    EXPECT_EQ(merged.actions.state_delta["a"], 1);  // both deltas kept (ADK keeps only the last)
    EXPECT_EQ(merged.actions.state_delta["b"], 2);
    EXPECT_EQ(merged.actions.state_delta["shared"], "b");  // same key: the later call wins
    EXPECT_EQ(out.session.state["a"], 1);
    EXPECT_EQ(out.session.state["b"], 2);
}

TEST(AdkRunner, BadToolCallsBecomeErrorsTheModelReads) {
    auto throws = adk::FunctionTool::make("explode", "", Json(), [](Json) -> aio::Coro<Json> {
        throw std::runtime_error("kaboom");
        co_return Json();
    });
    adk::FunctionCall unknown{"", "no_such_tool", Json::object()};
    adk::FunctionCall malformed{"", "get_weather", {{"town", "Paris"}}};
    adk::FunctionCall failing{"", "explode", Json::object()};
    auto llm = ScriptedLlm::make({ScriptedReply::calls({unknown, malformed, failing}), ScriptedReply::say("sorry")});
    auto agent = adk::LlmAgent::make({.name = "agent", .model = llm, .tools = {weather_tool(), throws}});
    adk::InMemoryRunner runner(agent, "app");
    Outcome out = run_once(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    std::vector<adk::FunctionResponse> r = out.events[1].function_responses();
    ASSERT_EQ(r.size(), 3u);
    EXPECT_NE(r[0].response["error"].get<std::string>().find("no_such_tool is not found"), std::string::npos);
    EXPECT_NE(r[1].response["error"].get<std::string>().find("mandatory input parameters"), std::string::npos);
    EXPECT_NE(r[2].response["error"].get<std::string>().find("kaboom"), std::string::npos);
    // the model saw the errors
    EXPECT_EQ(llm->requests().at(1).contents.back().parts.size(), 3u);
}

TEST(AdkRunner, MaxLlmCallsStopsALoopingModel) {
    std::vector<ScriptedReply> forever(10, ScriptedReply::call("get_weather", {{"city", "X"}}));
    auto agent = adk::LlmAgent::make({.name = "agent", .model = ScriptedLlm::make(forever), .tools = {weather_tool()}});
    adk::InMemoryRunner runner(agent, "app");
    adk::RunConfig config;
    config.max_llm_calls = 3;
    Outcome out = run_once(runner, "go", config);
    EXPECT_EQ(out.error, "Max number of llm calls limit of 3 exceeded");
    EXPECT_EQ(out.events.size(), 6u);  // 3 calls, 3 responses, then the limit
}

TEST(AdkRunner, InstructionTemplatingFromStateScopes) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("ok"), ScriptedReply::say("ok")});
    auto agent = adk::LlmAgent::make(
        {.name = "agent", .model = llm,
         .instruction = "City {city}, lang {app:lang}, user {user:name}, opt [{missing?}], raw {not a var} {{city}}"});
    adk::InMemoryRunner runner(agent, "app");
    Outcome out = run_once(runner, "hi", {}, {{"city", "Paris"}, {"app:lang", "fr"}, {"user:name", "Ann"}});
    ASSERT_EQ(out.error, "");
    EXPECT_EQ(llm->requests().at(0).system_instruction.substr(0, 70),
              "City Paris, lang fr, user Ann, opt [], raw {not a var} Paris\n\nYou are ");
    EXPECT_EQ(adk::inject_session_state("{n}", Json{{"n", 3}}), "3");
    EXPECT_THROW(adk::inject_session_state("{nope}", Json::object()), std::out_of_range);
}

TEST(AdkRunner, SequentialPipelinePassesDataThroughOutputKey) {
    auto writer_llm = ScriptedLlm::make({ScriptedReply::say("A draft about {topic}.")});
    auto critic_llm = ScriptedLlm::make({ScriptedReply::say("Looks good.")});
    auto writer = adk::LlmAgent::make({.name = "writer", .model = writer_llm, .instruction = "Write.",
                                       .output_key = "draft"});
    auto critic = adk::LlmAgent::make({.name = "critic", .model = critic_llm, .instruction = "Review: {draft}",
                                       .output_key = "review"});
    auto pipeline = adk::SequentialAgent::make("pipeline", {writer, critic});
    EXPECT_EQ(writer->parent_agent(), pipeline.get());
    EXPECT_EQ(pipeline->find_agent("critic"), critic.get());
    adk::InMemoryRunner runner(pipeline, "app");
    Outcome out = run_once(runner, "Write about cats");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 2u);
    EXPECT_EQ(out.events[0].author, "writer");
    EXPECT_EQ(out.events[0].actions.state_delta["draft"], "A draft about {topic}.");
    EXPECT_EQ(out.events[1].author, "critic");
    EXPECT_EQ(out.session.state["draft"], "A draft about {topic}.");
    EXPECT_EQ(out.session.state["review"], "Looks good.");
    // the critic's instruction saw the writer's output; the writer's turn is context for it
    EXPECT_EQ(critic_llm->requests().at(0).system_instruction.substr(0, 30), "Review: A draft about {topic}.");
    const adk::Content& context = critic_llm->requests().at(0).contents.back();
    EXPECT_EQ(context.role, "user");
    EXPECT_EQ(context.parts.at(0).text, "For context:");
    EXPECT_EQ(context.parts.at(1).text, "[writer] said: A draft about {topic}.");
}

TEST(AdkRunner, UnknownSessionIsAnError) {
    auto agent = adk::LlmAgent::make({.name = "agent", .model = ScriptedLlm::make({})});
    adk::InMemoryRunner runner(agent, "app");
    std::string error = aio::run([&]() -> aio::Coro<std::string> {
        aio::AsyncGenerator<Event> events = runner.run("u", "nope", adk::Content::user("hi"));
        try {
            co_await events.next();
        } catch (const adk::SessionNotFoundError& e) {
            co_return std::string(e.what());
        }
        co_return std::string();
    });
    EXPECT_NE(error.find("Session not found"), std::string::npos) << error;
}

TEST(AdkRunner, StreamingYieldsPartialsButPersistsOnlyTheFinalEvent) {
    auto llm = ScriptedLlm::make({ScriptedReply::stream({"Hel", "lo"})});
    auto agent = adk::LlmAgent::make({.name = "agent", .model = llm, .output_key = "answer"});
    adk::InMemoryRunner runner(agent, "app");
    adk::RunConfig config;
    config.streaming_mode = adk::StreamingMode::sse;
    Outcome out = run_once(runner, "hi", config);
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 3u);
    EXPECT_TRUE(out.events[0].is_partial());
    EXPECT_TRUE(out.events[1].is_partial());
    EXPECT_EQ(out.events[2].content->text(), "Hello");
    EXPECT_EQ(out.session.events.size(), 2u);  // user + final
    EXPECT_EQ(out.session.state["answer"], "Hello");
}

TEST(AdkRunner, ParallelChildrenRunConcurrentlyOnTheirOwnBranches) {
    auto barrier = std::make_shared<aio::Barrier>(2);
    auto meet = adk::FunctionTool::make("meet", "", Json(), [barrier](Json) -> aio::Coro<Json> {
        co_await barrier->wait();
        co_return Json::object();
    });
    auto a_llm = ScriptedLlm::make({ScriptedReply::call("meet", Json::object()), ScriptedReply::say("a done")});
    auto b_llm = ScriptedLlm::make({ScriptedReply::call("meet", Json::object()), ScriptedReply::say("b done")});
    auto a = adk::LlmAgent::make({.name = "a", .model = a_llm, .tools = {meet}});
    auto b = adk::LlmAgent::make({.name = "b", .model = b_llm, .tools = {meet}});
    auto research = adk::ParallelAgent::make("research", {a, b});
    adk::InMemoryRunner runner(research, "app");
    Outcome out = run_once(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 6u);
    for (const Event& e : out.events)
        EXPECT_EQ(*e.branch, "research." + e.author) << e.author;
    // b's second request holds only its own branch's events, not a's
    for (const adk::Content& c : b_llm->requests().at(1).contents)
        for (const adk::Part& p : c.parts) EXPECT_FALSE(p.text && p.text->find("[a]") != std::string::npos);
    EXPECT_EQ(b_llm->requests().at(1).contents.size(), 3u);
}

TEST(AdkRunner, LoopStopsOnEscalateOrMaxIterations) {
    auto llm = ScriptedLlm::make({ScriptedReply::say("try 1"), ScriptedReply::say("try 2"),
                                  ScriptedReply::call("exit_loop", Json::object()), ScriptedReply::say("never")});
    auto worker = adk::LlmAgent::make({.name = "worker", .model = llm, .tools = {adk::exit_loop_tool()}});
    auto loop = adk::LoopAgent::make("loop", {worker}, 10);
    adk::InMemoryRunner runner(loop, "app");
    Outcome out = run_once(runner, "go");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.events.size(), 4u);  // try 1, try 2, exit_loop call, its response (escalate)
    EXPECT_EQ(out.events[3].actions.escalate, true);
    EXPECT_EQ(llm->calls(), 3u);

    auto bounded_llm = ScriptedLlm::make(std::vector<ScriptedReply>(5, ScriptedReply::say("again")));
    auto bounded = adk::LoopAgent::make(
        "bounded", {adk::LlmAgent::make({.name = "w", .model = bounded_llm})}, 2);
    adk::InMemoryRunner runner2(bounded, "app");
    Outcome out2 = run_once(runner2, "go");
    EXPECT_EQ(out2.events.size(), 2u);
}

namespace {

/// Yields one event, then waits; when closed at its co_yield its cleanup
/// awaits (as a real agent closing a connection would) before it counts.
class CleanupProbe final : public adk::BaseAgent {
public:
    CleanupProbe(std::string name, int* cleaned) : BaseAgent(std::move(name), ""), cleaned_(cleaned) {}

protected:
    aio::AsyncGenerator<Event> run_impl(adk::InvocationContext ctx) override {
        bool closed = false;
        try {
            Event e;
            e.author = name();
            e.invocation_id = ctx.invocation_id;
            e.content = adk::Content::model("probe " + name());
            co_yield std::move(e);
            co_await aio::sleep(1h);
        } catch (const aio::GeneratorExit&) {
            closed = true;
        }
        if (closed) {
            co_await aio::sleep(0ms);  // async cleanup
            ++*cleaned_;
            throw aio::GeneratorExit();
        }
    }

private:
    int* cleaned_;
};

/// Runs `root`, takes its first event, then closes the stream; returns how
/// many probes finished their async cleanup.
int cleanups_after_closing_early(adk::AgentPtr root, const int& cleaned) {
    adk::InMemoryRunner runner(std::move(root), "app");
    aio::run([&]() -> aio::Coro<> {
        co_await runner.session_service().create_session("app", "u", Json::object(), "s");
        aio::AsyncGenerator<Event> events = runner.run("u", "s", adk::Content::user("go"));
        std::optional<Event> first = co_await events.next();
        EXPECT_TRUE(first.has_value());
        co_await events.aclose();
    });
    return cleaned;
}

}  // namespace

// Closing a workflow agent's stream while a child is suspended at its
// co_yield runs the child's async cleanup (the child's stream is closed, not
// destroyed).
TEST(AdkAgents, ClosingAWorkflowAgentEarlyRunsItsChildrensCleanup) {
    int cleaned = 0;
    EXPECT_EQ(cleanups_after_closing_early(adk::LoopAgent::make("loop", {std::make_shared<CleanupProbe>("a", &cleaned)}, 3),
                                           cleaned),
              1);
    cleaned = 0;
    EXPECT_EQ(cleanups_after_closing_early(
                  adk::SequentialAgent::make("seq", {std::make_shared<CleanupProbe>("a", &cleaned)}), cleaned),
              1);
    cleaned = 0;
    EXPECT_EQ(cleanups_after_closing_early(
                  adk::ParallelAgent::make("par", {std::make_shared<CleanupProbe>("a", &cleaned),
                                                   std::make_shared<CleanupProbe>("b", &cleaned)}),
                  cleaned),
              2);
    // More children than the merge buffers (16): some wait for room when
    // the stream is closed; every one still cleans up.
    cleaned = 0;
    std::vector<adk::AgentPtr> many;
    for (int i = 0; i < 20; ++i) many.push_back(std::make_shared<CleanupProbe>("p" + std::to_string(i), &cleaned));
    EXPECT_EQ(cleanups_after_closing_early(adk::ParallelAgent::make("wide", std::move(many)), cleaned), 20);
}

TEST(AdkAgents, TreeRules) {
    auto a = adk::LlmAgent::make({.name = "a", .model = "x"});
    EXPECT_THROW(adk::LlmAgent::make({.name = "user"}), std::invalid_argument);
    EXPECT_THROW(adk::LlmAgent::make({.name = "has space"}), std::invalid_argument);
    auto seq = adk::SequentialAgent::make("seq", {a});
    EXPECT_THROW(adk::SequentialAgent::make("other", {a}), std::invalid_argument);  // a has a parent
    auto dup = adk::LlmAgent::make({.name = "seq"});
    EXPECT_THROW(adk::SequentialAgent::make("root", {seq, dup}), std::invalid_argument);  // name used twice
    EXPECT_EQ(&a->root_agent(), seq.get());
    EXPECT_EQ(seq->find_agent("nope"), nullptr);
    // a model is inherited from the nearest LlmAgent ancestor
    auto llm = ScriptedLlm::make({});
    auto child = adk::LlmAgent::make({.name = "child"});
    auto parent = adk::LlmAgent::make({.name = "parent", .model = llm, .sub_agents = {child}});
    EXPECT_EQ(child->canonical_model(), llm);
    EXPECT_THROW(adk::LlmAgent::make({.name = "orphan"})->canonical_model(), std::invalid_argument);
}
