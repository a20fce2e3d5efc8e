// bench/bench_agent.hpp — the benchmark agent of bench/adk-ts/README-bench.md
// ("The agent"), shared by bench/adk_bench.cpp (in process) and
// bench/adk_server_bench.cpp (served by adk::ApiServer): the scripted model
// of lib/bench_model.mjs, the `add` FunctionTool and the LlmAgent.
//
// The model is a BaseLlm subclass with no timers and no I/O: the last content
// has a functionResponse -> the text "The sum is <result>." (preceded by 4
// partial chunks when streaming), otherwise one functionCall add{a: 2, b: 3}
// without id. One invocation is therefore 2 model calls and 1 tool call: 3
// events yielded, 4 stored (7 yielded with streaming).
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adk/adk.hpp"

namespace bench_agent {

using adk::Json;

inline const std::string kUserText = "Please add 2 and 3.";
inline const std::string kFinalText = "The sum is 5.";

// ---- the scripted model -----------------------------------------------------

/// A JSON number as JavaScript's String(number) writes it: integral values
/// without a fraction ("5", not "5.0").
inline std::string js_number(const Json& v) {
    if (v.is_number_integer()) return v.dump();
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
        return v.dump();
    }
    return v.is_string() ? v.get<std::string>() : v.dump();
}

inline adk::LlmResponse text_response(std::string text, bool partial) {
    adk::LlmResponse r;
    r.content = adk::Content::model(std::move(text));
    if (partial) r.partial = true;
    return r;
}

/// lib/bench_model.mjs's ScriptedLlm: stateless, shared by every agent.
class BenchLlm final : public adk::BaseLlm {
public:
    BenchLlm() : adk::BaseLlm("scripted-llm") {}

    aio::AsyncGenerator<adk::LlmResponse> generate_content(adk::LlmRequest request, bool stream) override {
        const adk::FunctionResponse* fr = nullptr;
        if (!request.contents.empty())
            for (const adk::Part& p : request.contents.back().parts)
                if (p.function_response) {
                    fr = &*p.function_response;
                    break;
                }
        if (fr) {
            auto result = fr->response.find("result");
            std::string text = "The sum is " + (result == fr->response.end() ? std::string("undefined") : js_number(*result)) + ".";
            if (stream) {
                // the words, each but the last with its trailing space
                std::size_t start = 0;
                while (start < text.size()) {
                    std::size_t space = text.find(' ', start);
                    std::size_t end = space == std::string::npos ? text.size() : space + 1;
                    adk::LlmResponse chunk = text_response(text.substr(start, end - start), true);
                    co_yield std::move(chunk);
                    start = end;
                }
            }
            adk::LlmResponse whole = text_response(std::move(text), false);
            co_yield std::move(whole);
            co_return;
        }
        adk::FunctionCall call;
        call.name = "add";
        call.args = Json::object();
        call.args["a"] = 2;
        call.args["b"] = 3;
        adk::Content content;
        content.role = "model";
        content.parts.push_back(adk::Part::from_function_call(std::move(call)));
        adk::LlmResponse response;
        response.content = std::move(content);
        co_yield std::move(response);
    }
};

// ---- the tool and the agents ------------------------------------------------

/// add(a: number, b: number) -> {result: a + b}; a coroutine tool (runs on the loop).
inline aio::Coro<Json> add(Json args, adk::ToolContext&) {
    const Json& a = args.at("a");
    const Json& b = args.at("b");
    Json result = Json::object();
    if (a.is_number_integer() && b.is_number_integer()) result["result"] = a.get<long long>() + b.get<long long>();
    else result["result"] = a.get<double>() + b.get<double>();
    co_return result;
}

inline std::shared_ptr<adk::BaseTool> add_tool() {
    static const std::shared_ptr<adk::BaseTool> tool = adk::FunctionTool::make(
        "add", "Add two numbers.",
        Json::parse(R"({"type": "object",
                        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]})"),
        add);
    return tool;
}

inline std::shared_ptr<BenchLlm> shared_model() {
    static const std::shared_ptr<BenchLlm> model = std::make_shared<BenchLlm>();
    return model;
}

inline std::shared_ptr<adk::LlmAgent> make_llm_agent(std::string name) {
    return adk::LlmAgent::make({
        .name = std::move(name),
        .description = "Adds numbers with the add tool.",
        .model = shared_model(),
        .instruction = "You are a test agent. Use the add tool, then state the sum.",
        .tools = {add_tool()},
    });
}

inline std::shared_ptr<adk::ParallelAgent> make_fanout_agent(long children) {
    std::vector<adk::AgentPtr> subs;
    subs.reserve(static_cast<std::size_t>(children));
    for (long i = 0; i < children; ++i) subs.push_back(make_llm_agent("child_" + std::to_string(i)));
    return adk::ParallelAgent::make("fanout", std::move(subs), "Runs its children in parallel.");
}

}  // namespace bench_agent
