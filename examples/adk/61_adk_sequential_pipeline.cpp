// A sequential pipeline: a researcher, then a writer. The researcher's
// answer lands in the session state under its output_key, and the writer's
// instruction reads it back with {research}: data flows between agents
// through state, not through arguments (ADK's SequentialAgent pattern).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "adk/adk.hpp"
#include "aio/run.hpp"

using namespace std::chrono_literals;

namespace {

void print(const adk::Event& ev, double elapsed) {
    std::printf("[%.1fs] %-10s", elapsed, ev.author.c_str());
    if (ev.content)
        for (const adk::Part& p : ev.content->parts)
            if (p.text) std::printf(" %s", p.text->c_str());
    if (!ev.actions.state_delta.empty()) std::printf("\n%18s state %s", "", ev.actions.state_delta.dump().c_str());
    std::printf("\n");
}

}  // namespace

int main() {
    // The researcher's model takes 0.4 s to answer.
    adk::ScriptedReply notes = adk::ScriptedReply::say(
        "C++20 coroutines are stackless; a frame costs one allocation; co_await suspends without a thread.");
    notes.delay = 400ms;
    auto researcher = adk::LlmAgent::make({
        .name = "researcher",
        .description = "Finds the key facts",
        .model = adk::ScriptedLlm::make({notes}),
        .instruction = "List the key facts about the user's topic.",
        .output_key = "research",  // its final answer -> state["research"]
    });

    // The writer's model (0.3 s) writes from whatever notes its instruction carries.
    adk::ScriptedReply article;
    article.delay = 300ms;
    article.compute = [](const adk::LlmRequest& request) {
        const std::string& sys = request.system_instruction;
        auto from = sys.find("Notes: ") + 7;
        std::string facts = sys.substr(from, sys.find('\n', from) - from);
        adk::LlmResponse r;
        r.content = adk::Content::model("Why coroutines? Because " + facts.substr(0, facts.find(';')) +
                                        ", and the rest follows from that.");
        return r;
    };
    auto writer_model = adk::ScriptedLlm::make({article});
    auto writer = adk::LlmAgent::make({
        .name = "writer",
        .description = "Writes a short article",
        .model = writer_model,
        .instruction = "Write one paragraph from the researcher's notes.\nNotes: {research}\n",
        .output_key = "article",
    });

    auto pipeline = adk::SequentialAgent::make("pipeline", {researcher, writer});
    adk::InMemoryRunner runner(pipeline, "demo_app");

    bool ok = false;
    aio::run([&]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        auto start = loop.time();
        adk::Session session = co_await runner.session_service().create_session("demo_app", "u1");
        auto events = runner.run("u1", session.id, adk::Content::user("Tell me about C++ coroutines."));
        while (true) {
            std::optional<adk::Event> ev = co_await events.next();
            if (!ev) break;
            print(*ev, std::chrono::duration<double>(loop.time() - start).count());
        }
        const std::string& sys = writer_model->requests().at(0).system_instruction;
        std::string mine = sys.substr(0, sys.find("\n\n"));  // the identity lines follow
        std::cout << "\nthe writer's model got this instruction ({research} filled in from state):\n";
        for (std::size_t b = 0, e; b < mine.size(); b = e + 1) {
            e = mine.find('\n', b);
            if (e == std::string::npos) e = mine.size();
            std::cout << "  | " << mine.substr(b, e - b) << "\n";
        }
        std::optional<adk::Session> saved =
            co_await runner.session_service().get_session("demo_app", "u1", session.id);
        std::cout << "\nsession: " << saved->events.size() << " events; state keys:";
        for (auto it = saved->state.begin(); it != saved->state.end(); ++it) std::cout << " " << it.key();
        ok = saved->state.contains("research") && saved->state.contains("article") &&
             mine.find("stackless") != std::string::npos;
        std::printf("\ntotal %.1fs = researcher 0.4s + writer 0.3s, one after the other\n",
                    std::chrono::duration<double>(loop.time() - start).count());
    });
    return ok ? 0 : 1;
}
