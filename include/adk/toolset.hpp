// adk/toolset.hpp — adk::BaseToolset (ADK's BaseToolset), adk::ToolFilter
// and adk::StaticToolset.
//
// A toolset hands out tools at run time: the flow calls get_filtered_tools()
// before every model call, so a toolset backed by a server (MCP) may list
// different tools from one step to the next. The filter selects among them:
//
//   auto toolset = std::make_shared<adk::StaticToolset>(
//       std::vector<std::shared_ptr<adk::BaseTool>>{add, sub, mul},
//       adk::ToolFilter({"add", "mul"}));                       // by name
//   auto ro = std::make_shared<adk::StaticToolset>(tools,
//       adk::ToolFilter([](const adk::BaseTool& t, const adk::ReadonlyContext* ctx) {
//           return ctx && ctx->state().value("admin", false);  // by predicate
//       }));
//   adk::LlmAgent::make({..., .tools = {toolset}});
//
// A toolset is shared by every invocation of every agent that lists it;
// close() releases what it holds (connections, subprocesses) and is called
// once by Runner::close().
//
// Cancellation: get_tools() and close() are the implementation's coroutines;
// a cancellation at get_filtered_tools() leaves nothing behind but what the
// implementation's get_tools() leaves (StaticToolset never suspends).
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "adk/context.hpp"
#include "adk/tool.hpp"
#include "aio/coro.hpp"

namespace adk {

/// Which tools of a toolset are offered to the model: every tool (the
/// default), exactly the tools named in a list, or those a predicate
/// accepts. The predicate gets the invocation's read-only context, or null
/// outside an invocation. (ADK treats an empty list as "no filter", a
/// Python falsiness accident; here a list selects what it names, so an
/// empty list selects nothing.)
class ToolFilter {
public:
    using Predicate = std::function<bool(const BaseTool&, const ReadonlyContext*)>;

    /// Selects every tool.
    ToolFilter() = default;
    /// Selects exactly the tools with these names.
    ToolFilter(std::vector<std::string> names)  // NOLINT: implicit on purpose
        : names_(std::move(names)), by_name_(true) {}
    ToolFilter(std::initializer_list<std::string> names)  // NOLINT: implicit on purpose
        : names_(names), by_name_(true) {}
    /// Selects the tools `predicate` accepts (a null std::function: every tool).
    template <class P>
        requires(!std::is_same_v<std::remove_cvref_t<P>, ToolFilter> &&
                 std::is_invocable_r_v<bool, P&, const BaseTool&, const ReadonlyContext*>)
    ToolFilter(P predicate) : predicate_(std::move(predicate)) {}  // NOLINT: implicit on purpose

    /// True if the filter selects every tool.
    bool selects_all() const noexcept { return !by_name_ && !predicate_; }
    /// True if the filter is a name list.
    bool by_name() const noexcept { return by_name_; }
    const std::vector<std::string>& names() const noexcept { return names_; }
    const Predicate& predicate() const noexcept { return predicate_; }

    /// ADK's _is_tool_selected.
    bool selects(const BaseTool& tool, const ReadonlyContext* ctx) const;

private:
    std::vector<std::string> names_;
    bool by_name_ = false;
    Predicate predicate_;
};

class BaseToolset {
public:
    explicit BaseToolset(ToolFilter filter = {}) : filter_(std::move(filter)) {}
    virtual ~BaseToolset();
    BaseToolset(const BaseToolset&) = delete;
    BaseToolset& operator=(const BaseToolset&) = delete;

    /// Every tool the toolset offers now, unfiltered. `ctx` may be null
    /// (listing outside an invocation).
    virtual aio::Coro<std::vector<std::shared_ptr<BaseTool>>> get_tools(const ReadonlyContext* ctx) = 0;
    /// get_tools() with the filter applied: what the flow declares to the model.
    aio::Coro<std::vector<std::shared_ptr<BaseTool>>> get_filtered_tools(const ReadonlyContext* ctx);
    /// Releases the toolset's resources. The default does nothing.
    virtual aio::Coro<> close();

    const ToolFilter& tool_filter() const noexcept { return filter_; }

protected:
    /// True if the filter selects `tool`.
    bool is_tool_selected(const BaseTool& tool, const ReadonlyContext* ctx) const {
        return filter_.selects(tool, ctx);
    }

private:
    ToolFilter filter_;
};

/// A toolset over a fixed list of tools (useful to share one filtered set
/// between agents, and in tests).
class StaticToolset : public BaseToolset {
public:
    explicit StaticToolset(std::vector<std::shared_ptr<BaseTool>> tools, ToolFilter filter = {});

    aio::Coro<std::vector<std::shared_ptr<BaseTool>>> get_tools(const ReadonlyContext* ctx) override;
    const std::vector<std::shared_ptr<BaseTool>>& tools() const noexcept { return tools_; }

private:
    std::vector<std::shared_ptr<BaseTool>> tools_;
};

}  // namespace adk
