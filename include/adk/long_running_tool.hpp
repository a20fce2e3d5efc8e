// adk/long_running_tool.hpp — adk::LongRunningFunctionTool (ADK's
// long_running_tool.py): a FunctionTool whose work finishes outside the
// invocation (a human approval, a batch job).
//
//   struct Reimburse { double amount; std::string purpose; };
//   BOOST_DESCRIBE_STRUCT(Reimburse, (), (amount, purpose))
//   Json ask_for_approval(Reimburse r) {            // blocking: runs on a worker
//       std::string ticket = open_ticket(r);
//       return Json{{"status", "pending"}, {"ticket", ticket}};
//   }
//   auto tool = adk::LongRunningFunctionTool::from(ask_for_approval, "ask_for_approval",
//                                                  "Asks a manager to approve a reimbursement");
//
// is_long_running() is true; every construction form of FunctionTool works
// (from(fn, ...) typed, make(name, description, schema, fn) with JSON).
// The declaration's description gets ADK's note telling the model not to
// call the tool again once it has a pending status.
//
// What the flow does with a call of this tool (LlmAgent's flow):
//   - the model's function-call event lists the call id in
//     Event::long_running_tool_ids (the event counts as a final response);
//   - the function returns an initial status (any JSON: {"status":
//     "pending", ...}): it is sent as the call's function response, as for
//     any tool, and the model is called again to tell the user;
//   - the function returns null (void, an empty std::optional, Json()):
//     there is no response yet; no function-response part is produced for
//     the call, and the invocation ends after the call event;
//   - later the client sends a user message holding a function_response
//     with the same id (the final result); the runner gives that turn to
//     the agent that made the call, which continues from it.
//
// Cancellation: as FunctionTool (a coroutine is cancelled where it waits; a
// blocking function already running finishes on its worker and its result
// is dropped).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adk/tool.hpp"

namespace adk {

class LongRunningFunctionTool : public FunctionTool {
public:
    /// The note ADK appends to the description.
    static constexpr const char* kNote =
        "NOTE: This is a long-running operation. Do not call this tool again if it has already returned some "
        "intermediate or pending status.";

    LongRunningFunctionTool(std::string name, std::string description, Json parameters, Fn fn)
        : FunctionTool(std::move(name), std::move(description), std::move(parameters), std::move(fn), true) {}

    /// With an explicit JSON Schema (FunctionTool::make's shapes).
    template <class F>
    static std::shared_ptr<LongRunningFunctionTool> make(std::string name, std::string description, Json parameters,
                                                         F fn) {
        return std::make_shared<LongRunningFunctionTool>(std::move(name), std::move(description),
                                                         std::move(parameters), wrap(std::move(fn)));
    }

    /// From a typed callable taking one described struct (FunctionTool::from).
    template <class F>
    static std::shared_ptr<LongRunningFunctionTool> from(F fn, std::string name, std::string description) {
        detail::TypedToolParts parts = detail::typed_tool<false>(std::move(fn), name, {});
        return std::make_shared<LongRunningFunctionTool>(std::move(name), std::move(description),
                                                         std::move(parts.parameters), std::move(parts.fn));
    }

    /// From a typed callable with named plain parameters (FunctionTool::from).
    template <class F, std::size_t N>
    static std::shared_ptr<LongRunningFunctionTool> from(F fn, std::string name, std::string description,
                                                         const Param (&params)[N]) {
        static_assert(!detail::has_one_signature<F> || N == detail::model_parameter_count<F>(),
                      "LongRunningFunctionTool::from: give one name per parameter (ToolContext& excluded)");
        detail::TypedToolParts parts =
            detail::typed_tool<true>(std::move(fn), name, std::vector<Param>(params, params + N));
        return std::make_shared<LongRunningFunctionTool>(std::move(name), std::move(description),
                                                         std::move(parts.parameters), std::move(parts.fn));
    }

    /// FunctionTool's declaration, the description followed by kNote.
    std::optional<Json> declaration() const override;
};

}  // namespace adk
