// adk::ToolFilter, adk::BaseToolset, adk::StaticToolset (adk/toolset.hpp).
#include "adk/toolset.hpp"

#include <algorithm>

namespace adk {

bool ToolFilter::selects(const BaseTool& tool, const ReadonlyContext* ctx) const {
    if (by_name_) return std::find(names_.begin(), names_.end(), tool.name()) != names_.end();
    if (predicate_) return predicate_(tool, ctx);
    return true;
}

BaseToolset::~BaseToolset() = default;

aio::Coro<std::vector<std::shared_ptr<BaseTool>>> BaseToolset::get_filtered_tools(const ReadonlyContext* ctx) {
    aio::Coro<std::vector<std::shared_ptr<BaseTool>>> listing = get_tools(ctx);
    std::vector<std::shared_ptr<BaseTool>> tools = co_await std::move(listing);
    std::erase_if(tools, [&](const std::shared_ptr<BaseTool>& t) { return !t || !filter_.selects(*t, ctx); });
    co_return tools;
}

aio::Coro<> BaseToolset::close() { co_return; }

StaticToolset::StaticToolset(std::vector<std::shared_ptr<BaseTool>> tools, ToolFilter filter)
    : BaseToolset(std::move(filter)), tools_(std::move(tools)) {}

aio::Coro<std::vector<std::shared_ptr<BaseTool>>> StaticToolset::get_tools(const ReadonlyContext*) {
    std::vector<std::shared_ptr<BaseTool>> copy = tools_;
    co_return copy;
}

}  // namespace adk
