// adk::McpToolset, adk::McpTool (adk/mcp_toolset.hpp).
#include "adk/mcp_toolset.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "adk/mcp/http_transport.hpp"
#include "adk/mcp/stdio_transport.hpp"
#include "aio/event.hpp"
#include "aio/event_loop.hpp"
#include "aio/shield.hpp"
#include "aio/task.hpp"
#include "mcp/task_bag.hpp"

namespace adk {

namespace detail {

class McpPool : public std::enable_shared_from_this<McpPool> {
public:
    using Headers = std::map<std::string, std::string>;
    using SessionPtr = std::shared_ptr<mcp::ClientSession>;

    struct Entry {
        std::string key;
        Headers headers;
        aio::Task<SessionPtr> connecting;
        SessionPtr session;
        std::exception_ptr error;
        aio::Clock::time_point last_used{};
        int in_use = 0;
        std::uint64_t generation = 0;  // tools/list_changed seen
        std::uint64_t tools_generation = 0;
        bool tools_valid = false;
        std::vector<std::shared_ptr<BaseTool>> tools;
    };
    using EntryPtr = std::shared_ptr<Entry>;

    /// A session borrowed for one operation.
    class Lease {
    public:
        Lease(std::shared_ptr<McpPool> pool, EntryPtr entry) : pool_(std::move(pool)), entry_(std::move(entry)) {
            ++entry_->in_use;
            session_ = entry_->session;
        }
        Lease(Lease&& o) noexcept
            : pool_(std::move(o.pool_)), entry_(std::move(o.entry_)), session_(std::move(o.session_)) {}
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        ~Lease() {
            if (!entry_) return;
            --entry_->in_use;
            entry_->last_used = aio::Clock::now();
            pool_->slot_freed_.set();
        }
        Entry& entry() const noexcept { return *entry_; }
        const SessionPtr& session() const noexcept { return session_; }
        /// The session proved dead: drop it from the pool.
        void invalidate() const { pool_->drop(entry_, session_); }

    private:
        std::shared_ptr<McpPool> pool_;
        EntryPtr entry_;
        SessionPtr session_;
    };

    McpPool(McpConnectionParams params, McpToolsetOptions options)
        : params_(std::move(params)), options_(std::move(options)) {}

    static aio::Coro<Lease> acquire(std::shared_ptr<McpPool> self, const ReadonlyContext* ctx) {
        Headers headers;
        bool http = std::holds_alternative<StreamableHttpConnectionParams>(self->params_);
        if (http && self->options_.header_provider) headers = self->options_.header_provider(ctx);
        std::string key;
        for (const auto& [k, v] : headers) key += k + ":" + v + "\n";
        while (true) {
            if (self->closed_) throw mcp::McpConnectionError("the McpToolset is closed");
            self->sweep();
            auto it = self->entries_.find(key);
            if (it != self->entries_.end()) {
                EntryPtr e = it->second;
                if (e->session) {
                    if (e->session->is_closed()) {
                        self->drop(e, e->session);  // died while idle: reconnect
                        continue;
                    }
                    e->last_used = aio::Clock::now();
                    co_return Lease(self, e);
                }
                aio::Task<SessionPtr> connecting = e->connecting;
                SessionPtr s = co_await aio::shield(connecting);
                if (!s) {
                    if (self->closed_) throw mcp::McpConnectionError("the McpToolset is closed");
                    std::rethrow_exception(e->error);
                }
                continue;
            }
            if (self->entries_.size() >= self->options_.max_sessions && !self->evict_lru()) {
                self->slot_freed_.clear();
                co_await self->slot_freed_.wait();
                continue;
            }
            auto e = std::make_shared<Entry>();
            e->key = key;
            e->headers = std::move(headers);
            headers.clear();
            self->entries_[key] = e;
            e->connecting = aio::create_task(connect_entry(self, e), "mcp-connect");
        }
    }

    static aio::Coro<SessionPtr> connect_entry(std::shared_ptr<McpPool> self, EntryPtr e) {
        mcp::ClientSessionOptions so;
        so.client_info = self->options_.client_info;
        so.request_timeout = std::visit([](const auto& p) { return p.timeout; }, self->params_);
        so.roots = self->options_.roots;
        so.sampling_llm = self->options_.sampling_llm;
        so.elicitation_handler = self->options_.elicitation_handler;
        std::weak_ptr<Entry> weak = e;
        so.on_tools_changed = [weak] {
            if (EntryPtr p = weak.lock()) ++p->generation;
        };
        std::shared_ptr<mcp::Transport> transport = self->make_transport(e->headers);
        SessionPtr s;
        try {
            aio::Coro<SessionPtr> connecting = mcp::ClientSession::connect(std::move(transport), std::move(so));
            SessionPtr connected = co_await std::move(connecting);
            s = std::move(connected);
        } catch (...) {
            e->error = std::current_exception();  // CancelledError too: the pool was closed
        }
        if (s && self->closed_) {
            self->bag_.spawn(close_session(s), "mcp-close");
            s.reset();
        }
        if (!s) {
            auto it = self->entries_.find(e->key);
            if (it != self->entries_.end() && it->second == e) self->entries_.erase(it);
            self->slot_freed_.set();
            co_return nullptr;
        }
        ++self->connects_;
        e->session = s;
        e->last_used = aio::Clock::now();
        co_return s;
    }

    static aio::Coro<> close_session(SessionPtr s) { co_await s->close(); }

    static aio::Coro<std::vector<std::shared_ptr<BaseTool>>> get_tools(std::shared_ptr<McpPool> self,
                                                                        const ReadonlyContext* ctx) {
        // Listing is idempotent: a session found dead is replaced once.
        for (int connection = 0;; ++connection) {
            Lease lease = co_await acquire(self, ctx);
            Entry& e = lease.entry();
            std::exception_ptr dead;
            for (int attempt = 0; attempt < 3 && !dead; ++attempt) {
                if (e.tools_valid && e.tools_generation == e.generation) break;
                std::uint64_t generation = e.generation;
                Json listed;
                try {
                    aio::Coro<Json> listing = lease.session()->list_tools();
                    Json got = co_await std::move(listing);
                    listed = std::move(got);
                } catch (const mcp::McpConnectionError&) {
                    dead = std::current_exception();
                }
                if (dead) break;
                ++self->fetches_;
                std::vector<std::shared_ptr<BaseTool>> tools;
                for (Json& t : listed) {
                    if (!t.is_object() || !t.contains("name")) continue;
                    tools.push_back(std::make_shared<McpTool>(self, std::move(t)));
                }
                e.tools = std::move(tools);
                e.tools_generation = generation;
                e.tools_valid = true;
            }
            if (!dead) co_return e.tools;
            lease.invalidate();
            if (connection >= 1) std::rethrow_exception(dead);
        }
    }

    static aio::Coro<> close(std::shared_ptr<McpPool> self) {
        self->closed_ = true;
        std::map<std::string, EntryPtr> entries = std::move(self->entries_);
        self->entries_.clear();
        std::vector<aio::Task<SessionPtr>> connecting;
        for (auto& [key, e] : entries) {
            if (e->session)
                self->bag_.spawn(close_session(e->session), "mcp-close");
            else if (e->connecting && !e->connecting.done()) {
                e->connecting.cancel();
                connecting.push_back(e->connecting);
            }
        }
        self->slot_freed_.set();
        if (!connecting.empty()) {
            auto stopped = aio::wait(std::move(connecting));
            co_await std::move(stopped);
        }
        co_await self->bag_.wait_all();
    }

    void abort() noexcept {
        closed_ = true;
        for (auto& [key, e] : entries_)
            if (e->connecting && !e->connecting.done()) e->connecting.cancel();
        entries_.clear();  // a session nobody else holds aborts as it is dropped
    }

    void drop(EntryPtr e, SessionPtr session) {  // by value: callers pass e->session
        auto it = entries_.find(e->key);
        if (it != entries_.end() && it->second == e && e->session == session) entries_.erase(it);
        if (session && e->session == session) {
            e->session.reset();
            e->tools_valid = false;
            bag_.spawn(close_session(session), "mcp-close");
        }
        slot_freed_.set();
    }

    /// Closes the least recently used idle session; false if none is idle.
    bool evict_lru() {
        EntryPtr victim;
        for (auto& [key, e] : entries_)
            if (e->session && e->in_use == 0 && (!victim || e->last_used < victim->last_used)) victim = e;
        if (!victim) return false;
        drop(victim, victim->session);
        return true;
    }

    /// Closes sessions idle for longer than idle_timeout, and dead idle ones.
    void sweep() {
        aio::Clock::time_point now = aio::Clock::now();
        std::vector<EntryPtr> victims;
        for (auto& [key, e] : entries_)
            if (e->session && e->in_use == 0 &&
                (e->session->is_closed() || now - e->last_used > options_.idle_timeout))
                victims.push_back(e);
        for (EntryPtr& e : victims) drop(e, e->session);
    }

    std::shared_ptr<mcp::Transport> make_transport(const Headers& extra) const {
        if (const auto* s = std::get_if<StdioConnectionParams>(&params_)) {
            mcp::StdioServerParams sp;
            sp.command = s->command;
            sp.args = s->args;
            sp.env = s->env;
            sp.cwd = s->cwd;
            sp.max_line_bytes = options_.max_message_bytes;
            return mcp::StdioTransport::make(std::move(sp));
        }
        const auto& h = std::get<StreamableHttpConnectionParams>(params_);
        mcp::StreamableHttpParams hp;
        hp.url = h.url;
        hp.headers = h.headers;
        for (const auto& [k, v] : extra) hp.headers[k] = v;
        hp.timeout = h.timeout;
        hp.sse_read_timeout = h.sse_read_timeout;
        hp.terminate_on_close = h.terminate_on_close;
        hp.max_message_bytes = options_.max_message_bytes;
        return mcp::StreamableHttpTransport::make(std::move(hp));
    }

    const McpToolsetOptions& options() const noexcept { return options_; }
    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t connects() const noexcept { return connects_; }
    std::size_t fetches() const noexcept { return fetches_; }

private:
    McpConnectionParams params_;
    McpToolsetOptions options_;
    std::map<std::string, EntryPtr> entries_;
    mcp::detail::TaskBag bag_;
    aio::Event slot_freed_;
    bool closed_ = false;
    std::size_t connects_ = 0;
    std::size_t fetches_ = 0;
};

}  // namespace detail

// ---- McpTool ----------------------------------------------------------------

McpTool::McpTool(std::shared_ptr<detail::McpPool> pool, Json mcp_tool)
    : BaseTool(mcp_tool.value("name", ""), mcp_tool.value("description", "")),
      pool_(std::move(pool)),
      tool_(std::move(mcp_tool)) {}

std::optional<Json> McpTool::declaration() const {
    Json parameters = tool_.value("inputSchema", Json{{"type", "object"}, {"properties", Json::object()}});
    return Json{{"name", name()}, {"description", description()}, {"parameters", std::move(parameters)}};
}

aio::Coro<Json> McpTool::run(Json args, ToolContext& ctx) {
    std::shared_ptr<detail::McpPool> pool = pool_;
    detail::McpPool::Lease lease = co_await detail::McpPool::acquire(pool, &ctx);
    mcp::RequestOptions ro;
    if (pool->options().on_progress) {
        ro.on_progress = [cb = pool->options().on_progress, tool = name()](const mcp::Progress& p) { cb(tool, p); };
        ro.reset_timeout_on_progress = true;
    }
    Json result;
    std::exception_ptr dead;
    try {
        aio::Coro<Json> call = lease.session()->call_tool(name(), std::move(args), std::move(ro));
        Json got = co_await std::move(call);
        result = std::move(got);
    } catch (const mcp::McpConnectionError&) {
        dead = std::current_exception();
    }
    if (dead) {
        lease.invalidate();  // the next call reconnects
        std::rethrow_exception(dead);
    }
    co_return mcp_result_to_function_response(result);
}

// ---- McpToolset -------------------------------------------------------------

McpToolset::McpToolset(McpConnectionParams params, ToolFilter filter, McpToolsetOptions options)
    : BaseToolset(std::move(filter)),
      pool_(std::make_shared<detail::McpPool>(std::move(params), std::move(options))) {}

McpToolset::~McpToolset() { pool_->abort(); }

aio::Coro<std::vector<std::shared_ptr<BaseTool>>> McpToolset::get_tools(const ReadonlyContext* ctx) {
    return detail::McpPool::get_tools(pool_, ctx);
}

aio::Coro<> McpToolset::close() { return detail::McpPool::close(pool_); }

aio::Coro<std::shared_ptr<mcp::ClientSession>> McpToolset::session(const ReadonlyContext* ctx) {
    std::shared_ptr<detail::McpPool> pool = pool_;
    detail::McpPool::Lease lease = co_await detail::McpPool::acquire(pool, ctx);
    co_return lease.session();
}

std::size_t McpToolset::pooled_sessions() const noexcept { return pool_->size(); }
std::size_t McpToolset::connects() const noexcept { return pool_->connects(); }
std::size_t McpToolset::tool_list_fetches() const noexcept { return pool_->fetches(); }

// ---- results ----------------------------------------------------------------

Json mcp_result_to_function_response(const Json& r) {
    std::string text;
    Json others = Json::array();
    bool any_text = false;
    for (const Json& block : r.value("content", Json::array())) {
        if (block.value("type", "") == "text") {
            if (any_text) text += "\n";
            text += block.value("text", "");
            any_text = true;
        } else {
            others.push_back(block);
        }
    }
    if (r.value("isError", false)) return Json{{"error", any_text ? text : std::string("the tool failed")}};
    Json out = Json::object();
    if (r.contains("structuredContent") && !r["structuredContent"].is_null()) {
        const Json& sc = r["structuredContent"];
        if (sc.is_object())
            out = sc;
        else
            out["result"] = sc;
    } else if (any_text) {
        out["result"] = text;
    }
    if (!others.empty() && !out.contains("content")) out["content"] = std::move(others);
    return out;
}

}  // namespace adk
