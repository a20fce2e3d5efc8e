// adk::mcp::ClientSession (adk/mcp/client.hpp).
#include "adk/mcp/client.hpp"

#include <exception>
#include <unordered_map>
#include <utility>

#include "adk/llm.hpp"
#include "aio/errors.hpp"
#include "aio/event.hpp"
#include "aio/event_loop.hpp"
#include "aio/future.hpp"
#include "aio/handle.hpp"
#include "aio/log.hpp"
#include "aio/shield.hpp"
#include "aio/task.hpp"
#include "task_bag.hpp"

namespace adk::mcp {

namespace detail {

class SessionCore final : public TransportSink, public std::enable_shared_from_this<SessionCore> {
public:
    SessionCore(std::shared_ptr<Transport> transport, ClientSessionOptions options)
        : transport_(std::move(transport)), options_(std::move(options)) {}
    ~SessionCore() override { abort(); }

    struct Pending {
        aio::Future<Json> future;
        std::string method;
        ProgressCallback on_progress;
        bool reset_on_progress = false;
        std::chrono::milliseconds timeout{0};
        aio::TimerHandle timer;
        Json id;
    };

    static aio::Coro<Json> request(std::shared_ptr<SessionCore> self, std::string method, Json params,
                                   RequestOptions opts) {
        if (self->closed_) std::rethrow_exception(self->closed_exception());
        aio::EventLoop& loop = aio::get_running_loop();
        Json id = self->next_id_++;
        std::string key = id_key(id);
        if (params.is_null()) params = Json::object();
        if (opts.on_progress) params["_meta"]["progressToken"] = id;
        Pending p{loop.create_future<Json>(), method, std::move(opts.on_progress), opts.reset_timeout_on_progress,
                  opts.timeout.value_or(self->options_.request_timeout), {}, id};
        aio::Future<Json> future = p.future;
        auto [it, inserted] = self->pending_.emplace(key, std::move(p));
        (void)inserted;
        self->arm_timer(key, it->second);
        Json message = make_request(id, method, std::move(params));
        self->transport_->send(std::move(message));

        std::optional<Json> result;
        std::exception_ptr error;
        bool cancelled = false;
        try {
            Json r = co_await future;
            result.emplace(std::move(r));
        } catch (const aio::CancelledError&) {
            cancelled = true;
            error = std::current_exception();
        } catch (...) {
            error = std::current_exception();
        }
        bool was_pending = self->forget(key);
        if (cancelled && was_pending && !self->closed_) {
            // The caller gave up: tell the server, ignore what comes later.
            Json params_cancel{{"requestId", id}, {"reason", "cancelled by the client"}};
            self->transport_->send(make_notification("notifications/cancelled", std::move(params_cancel)));
        }
        if (error) std::rethrow_exception(error);
        co_return std::move(*result);
    }

    void notify(std::string method, Json params) {
        if (closed_) std::rethrow_exception(closed_exception());
        transport_->send(make_notification(method, std::move(params)));
    }

    static aio::Coro<> initialize(std::shared_ptr<SessionCore> self) {
        const ClientSessionOptions& o = self->options_;
        Json caps = Json::object();
        if (o.roots) caps["roots"] = Json{{"listChanged", true}};
        if (o.sampling_llm || o.sampling_handler) caps["sampling"] = Json::object();
        if (o.elicitation_handler) caps["elicitation"] = Json::object();
        Json params{{"protocolVersion", o.protocol_version},
                    {"capabilities", std::move(caps)},
                    {"clientInfo", {{"name", o.client_info.name}, {"version", o.client_info.version}}}};
        RequestOptions ro;
        Json result = co_await request(self, "initialize", std::move(params), std::move(ro));
        std::string version = result.value("protocolVersion", "");
        if (!is_supported_protocol_version(version)) {
            std::string supported;
            for (std::string_view v : SUPPORTED_PROTOCOL_VERSIONS) supported += (supported.empty() ? "" : ", ") + std::string(v);
            throw McpProtocolError("MCP server (" + self->transport_->describe() + ") answered protocol version `" +
                                   version + "`, which this client does not support (it supports " + supported + ")");
        }
        self->protocol_version_ = version;
        self->server_capabilities_ = result.value("capabilities", Json::object());
        self->server_info_ = result.value("serverInfo", Json::object());
        self->instructions_ = result.value("instructions", "");
        self->transport_->set_protocol_version(version);
        self->transport_->send(make_notification("notifications/initialized"));
        self->transport_->initialized();
    }

    /// The shutdown runs once, on its own task: a cancelled close() leaves
    /// it running, and every close() call waits for it.
    static aio::Coro<> close(std::shared_ptr<SessionCore> self) {
        if (!self->close_task_) self->close_task_ = aio::create_task(do_close(self), "mcp-session-close");
        aio::Task<> closing = self->close_task_;
        co_await aio::shield(closing);
    }

    static aio::Coro<> do_close(std::shared_ptr<SessionCore> self) {
        self->closing_ = true;
        if (!self->closed_) {
            self->closed_ = true;
            self->fail_all(std::make_exception_ptr(McpConnectionError("the MCP session was closed by the client")));
        }
        co_await self->handlers_.cancel_and_wait();
        if (!self->close_done_) co_await self->transport_->close();
        self->close_done_ = true;
    }

    void abort() noexcept {
        if (close_done_) return;
        closing_ = true;
        if (!closed_) {
            closed_ = true;
            fail_all(std::make_exception_ptr(McpConnectionError("the MCP session was dropped")));
        }
        handlers_.cancel_all();
        if (transport_) transport_->abort();
        close_done_ = true;
    }

    // ---- TransportSink --------------------------------------------------

    void on_message(Json message) override {
        switch (classify(message)) {
            case MessageKind::response:
            case MessageKind::error:
                on_response(message);
                break;
            case MessageKind::notification:
                on_notification(message);
                break;
            case MessageKind::request:
                on_request(std::move(message));
                break;
            case MessageKind::invalid:
                aio::log(aio::LogLevel::warning, "mcp: ignored an invalid message: " + message.dump().substr(0, 200));
                break;
        }
    }

    void on_request_failed(const Json& id, std::exception_ptr error) override {
        auto it = pending_.find(id_key(id));
        if (it == pending_.end()) return;
        Pending p = std::move(it->second);
        pending_.erase(it);
        p.timer.cancel();
        if (!p.future.done()) p.future.set_exception(std::move(error));
    }

    void on_closed(std::exception_ptr error) override {
        if (closed_) return;
        closed_ = true;
        closed_error_ = error;
        fail_all(error);
        handlers_.cancel_all();
        if (options_.on_closed) {
            try {
                options_.on_closed(error);
            } catch (const std::exception& e) {
                aio::log(aio::LogLevel::warning, std::string("mcp: on_closed threw: ") + e.what());
            }
        }
    }

    std::exception_ptr closed_exception() const {
        if (closed_error_) return closed_error_;
        return std::make_exception_ptr(McpConnectionError("the MCP session is closed"));
    }

    std::shared_ptr<Transport> transport_;
    ClientSessionOptions options_;
    std::unordered_map<std::string, Pending> pending_;
    std::unordered_map<std::string, aio::Task<>> handler_tasks_;  // server requests being answered
    TaskBag handlers_;
    std::int64_t next_id_ = 0;
    bool closed_ = false;
    bool closing_ = false;
    bool close_done_ = false;
    std::exception_ptr closed_error_;
    aio::Task<> close_task_;
    std::string protocol_version_;
    Json server_info_ = Json::object();
    Json server_capabilities_ = Json::object();
    std::string instructions_;
    std::uint64_t tools_generation_ = 0;

private:
    void arm_timer(const std::string& key, Pending& p) {
        p.timer.cancel();
        if (p.timeout <= std::chrono::milliseconds::zero()) return;
        p.timer = aio::get_running_loop().call_later(p.timeout, [this, key] { on_timeout(key); });
    }

    void on_timeout(const std::string& key) {
        auto it = pending_.find(key);
        if (it == pending_.end()) return;
        Pending p = std::move(it->second);
        pending_.erase(it);
        if (!p.future.done())
            p.future.set_exception(std::make_exception_ptr(McpTimeoutError(
                "MCP request `" + p.method + "` to " + transport_->describe() + " got no answer within " +
                std::to_string(p.timeout.count()) + " ms")));
        if (!closed_) {
            Json params{{"requestId", p.id}, {"reason", "timed out"}};
            transport_->send(make_notification("notifications/cancelled", std::move(params)));
        }
    }

    /// Removes a pending request; true if it was still there.
    bool forget(const std::string& key) {
        auto it = pending_.find(key);
        if (it == pending_.end()) return false;
        it->second.timer.cancel();
        pending_.erase(it);
        return true;
    }

    void fail_all(std::exception_ptr error) {
        std::unordered_map<std::string, Pending> pending = std::move(pending_);
        pending_.clear();
        for (auto& [key, p] : pending) {
            p.timer.cancel();
            if (!p.future.done()) p.future.set_exception(error);
        }
    }

    void on_response(const Json& message) {
        const Json& id = message["id"];
        if (id.is_null()) {
            aio::log(aio::LogLevel::warning, "mcp: the server reported an error: " + message.dump().substr(0, 300));
            return;
        }
        auto it = pending_.find(id_key(id));
        if (it == pending_.end()) return;  // late answer to a cancelled or timed-out request
        Pending p = std::move(it->second);
        pending_.erase(it);
        p.timer.cancel();
        if (p.future.done()) return;
        if (message.contains("error"))
            p.future.set_exception(std::make_exception_ptr(error_from_json(message["error"])));
        else
            p.future.set_result(message["result"]);
    }

    void on_notification(const Json& message) {
        std::string method = message["method"].get<std::string>();
        Json params = message.value("params", Json::object());
        if (method == "notifications/progress") {
            if (params.contains("progressToken")) {
                auto it = pending_.find(id_key(params["progressToken"]));
                if (it != pending_.end()) {
                    Pending& p = it->second;
                    if (p.reset_on_progress) arm_timer(it->first, p);
                    if (p.on_progress) {
                        Progress pr;
                        pr.progress = params.value("progress", 0.0);
                        if (params.contains("total") && params["total"].is_number())
                            pr.total = params["total"].get<double>();
                        pr.message = params.value("message", "");
                        ProgressCallback cb = p.on_progress;  // the callback may end the request
                        try {
                            cb(pr);
                        } catch (const std::exception& e) {
                            aio::log(aio::LogLevel::warning, std::string("mcp: a progress callback threw: ") + e.what());
                        }
                    }
                }
            }
        } else if (method == "notifications/tools/list_changed") {
            ++tools_generation_;
            if (options_.on_tools_changed) options_.on_tools_changed();
        } else if (method == "notifications/cancelled") {
            if (params.contains("requestId")) {
                auto it = handler_tasks_.find(id_key(params["requestId"]));
                if (it != handler_tasks_.end()) {
                    it->second.cancel();
                    handler_tasks_.erase(it);
                }
            }
        } else if (method == "notifications/message") {
            std::string level = params.value("level", "info");
            aio::LogLevel l = aio::LogLevel::info;
            if (level == "debug") l = aio::LogLevel::debug;
            else if (level == "warning") l = aio::LogLevel::warning;
            else if (level == "error" || level == "critical" || level == "alert" || level == "emergency")
                l = aio::LogLevel::error;
            std::string data = params.contains("data") ? (params["data"].is_string() ? params["data"].get<std::string>()
                                                                                      : params["data"].dump())
                                                       : std::string();
            aio::log(l, "mcp[" + server_info_.value("name", std::string("server")) + "] " +
                            params.value("logger", std::string()) + (params.contains("logger") ? ": " : "") + data);
        }
        if (options_.on_notification) {
            try {
                options_.on_notification(method, params);
            } catch (const std::exception& e) {
                aio::log(aio::LogLevel::warning, std::string("mcp: a notification handler threw: ") + e.what());
            }
        }
    }

    void on_request(Json message) {
        Json id = message["id"];
        std::string method = message["method"].get<std::string>();
        Json params = message.value("params", Json::object());
        if (method == "ping") {
            transport_->send(make_result(id, Json::object()));
            return;
        }
        if (method == "roots/list" && options_.roots) {
            Json roots = Json::array();
            for (const Root& r : *options_.roots) {
                Json j{{"uri", r.uri}};
                if (!r.name.empty()) j["name"] = r.name;
                roots.push_back(std::move(j));
            }
            transport_->send(make_result(id, Json{{"roots", std::move(roots)}}));
            return;
        }
        RequestHandler handler;
        if (method == "sampling/createMessage") {
            if (options_.sampling_handler)
                handler = options_.sampling_handler;
            else if (options_.sampling_llm)
                handler = [llm = options_.sampling_llm](Json p) { return sample_with_llm(llm, std::move(p)); };
        } else if (method == "elicitation/create") {
            handler = options_.elicitation_handler;
        }
        if (!handler) {
            transport_->send(make_error(id, error_code::METHOD_NOT_FOUND, "Method not found: " + method));
            return;
        }
        std::string key = id_key(id);
        std::erase_if(handler_tasks_, [](const auto& kv) { return kv.second.done(); });
        aio::Task<> t = handlers_.spawn(answer(shared_from_this(), std::move(handler), id, std::move(params)),
                                        "mcp-server-request");
        handler_tasks_[key] = t;
    }

    static aio::Coro<> answer(std::shared_ptr<SessionCore> self, RequestHandler handler, Json id, Json params) {
        Json reply;
        try {
            aio::Coro<Json> running = handler(std::move(params));
            Json result = co_await std::move(running);
            reply = make_result(id, std::move(result));
        } catch (const McpError& e) {
            reply = make_error(id, e.code(), e.message(), e.data());
        } catch (const std::exception& e) {
            reply = make_error(id, error_code::INTERNAL_ERROR, e.what());
        }
        self->handler_tasks_.erase(id_key(id));
        if (!self->closed_) self->transport_->send(std::move(reply));
    }

    static aio::Coro<Json> sample_with_llm(std::shared_ptr<BaseLlm> llm, Json params) {
        LlmRequest req;
        req.model = llm->model();
        for (const Json& m : params.value("messages", Json::array())) {
            Content c;
            c.role = m.value("role", "user") == "assistant" ? "model" : "user";
            Json blocks = m.value("content", Json::array());
            if (!blocks.is_array()) blocks = Json::array({blocks});
            for (const Json& b : blocks) {
                std::string type = b.value("type", "");
                if (type == "text") {
                    c.parts.push_back(Part::from_text(b.value("text", "")));
                } else if (type == "image" || type == "audio") {
                    Part part;
                    part.inline_data = Blob{b.value("mimeType", ""), b.value("data", "")};
                    c.parts.push_back(std::move(part));
                } else {
                    c.parts.push_back(Part::from_text(b.dump()));
                }
            }
            req.contents.push_back(std::move(c));
        }
        req.system_instruction = params.value("systemPrompt", "");
        if (params.contains("maxTokens")) req.config["maxOutputTokens"] = params["maxTokens"];
        if (params.contains("temperature")) req.config["temperature"] = params["temperature"];
        if (params.contains("stopSequences")) req.config["stopSequences"] = params["stopSequences"];
        aio::AsyncGenerator<LlmResponse> replies = llm->generate_content(std::move(req), false);
        std::optional<LlmResponse> last;
        while (true) {
            std::optional<LlmResponse> r = co_await replies.next();
            if (!r) break;
            if (!r->is_partial()) last = std::move(*r);
        }
        if (!last) throw McpError(error_code::INTERNAL_ERROR, "the sampling model gave no reply");
        if (last->error_code)
            throw McpError(error_code::INTERNAL_ERROR,
                           "the sampling model failed: " + *last->error_code + " " + last->error_message.value_or(""));
        std::string text = last->content ? last->content->text() : std::string();
        std::string stop = last->finish_reason && *last->finish_reason == "MAX_TOKENS" ? "maxTokens" : "endTurn";
        Json reply1 = Json{{"role", "assistant"},
                       {"content", {{"type", "text"}, {"text", text}}},
                       {"model", llm->model()},
                       {"stopReason", stop}};
        co_return reply1;
    }
};

}  // namespace detail

using detail::SessionCore;

aio::Coro<std::shared_ptr<ClientSession>> ClientSession::connect(std::shared_ptr<Transport> transport,
                                                                 ClientSessionOptions options) {
    if (!transport) throw std::invalid_argument("ClientSession::connect: no transport");
    auto core = std::make_shared<SessionCore>(std::move(transport), std::move(options));
    // From here on, a failure or a cancellation aborts: the session object
    // aborts when dropped.
    auto session = std::make_shared<ClientSession>(core);
    co_await core->transport_->start(core.get());
    std::exception_ptr failure;
    try {
        co_await SessionCore::initialize(core);
    } catch (const McpError&) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await SessionCore::close(core);
        std::rethrow_exception(failure);
    }
    co_return session;
}

aio::Coro<std::shared_ptr<ClientSession>> ClientSession::connect(std::shared_ptr<Transport> transport) {
    return connect(std::move(transport), ClientSessionOptions{});
}

ClientSession::ClientSession(std::shared_ptr<detail::SessionCore> core) noexcept : core_(std::move(core)) {}

ClientSession::~ClientSession() {
    if (core_) core_->abort();
}

aio::Coro<Json> ClientSession::request(std::string method, Json params, RequestOptions options) {
    return SessionCore::request(core_, std::move(method), std::move(params), std::move(options));
}

aio::Coro<Json> ClientSession::request(std::string method, Json params) {
    return SessionCore::request(core_, std::move(method), std::move(params), RequestOptions{});
}

void ClientSession::notify(std::string method, Json params) { core_->notify(std::move(method), std::move(params)); }

namespace {
aio::Coro<> ping_impl(std::shared_ptr<SessionCore> core, RequestOptions options) {
    Json r = co_await SessionCore::request(core, "ping", Json::object(), std::move(options));
    (void)r;
}

aio::Coro<Json> list_tools_impl(std::shared_ptr<SessionCore> core, RequestOptions options) {
    Json tools = Json::array();
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
        Json params = Json::object();
        if (!cursor.empty()) params["cursor"] = cursor;
        Json r = co_await SessionCore::request(core, "tools/list", std::move(params), options);
        for (Json& t : r.value("tools", Json::array())) tools.push_back(std::move(t));
        cursor = r.contains("nextCursor") && r["nextCursor"].is_string() ? r["nextCursor"].get<std::string>() : "";
        if (cursor.empty()) break;
    }
    co_return tools;
}

aio::Coro<> no_result(aio::Coro<Json> request) {
    Json r = co_await std::move(request);
    (void)r;
}
}  // namespace

aio::Coro<> ClientSession::ping(RequestOptions options) { return ping_impl(core_, std::move(options)); }
aio::Coro<> ClientSession::ping() { return ping_impl(core_, RequestOptions{}); }

aio::Coro<Json> ClientSession::list_tools(RequestOptions options) { return list_tools_impl(core_, std::move(options)); }
aio::Coro<Json> ClientSession::list_tools() { return list_tools_impl(core_, RequestOptions{}); }

aio::Coro<Json> ClientSession::call_tool(std::string name, Json arguments, RequestOptions options) {
    Json params{{"name", std::move(name)}, {"arguments", arguments.is_null() ? Json::object() : std::move(arguments)}};
    return SessionCore::request(core_, "tools/call", std::move(params), std::move(options));
}
aio::Coro<Json> ClientSession::call_tool(std::string name, Json arguments) {
    return call_tool(std::move(name), std::move(arguments), RequestOptions{});
}

aio::Coro<Json> ClientSession::list_resources() {
    return SessionCore::request(core_, "resources/list", Json::object(), RequestOptions{});
}

aio::Coro<Json> ClientSession::read_resource(std::string uri) {
    Json params{{"uri", std::move(uri)}};
    return SessionCore::request(core_, "resources/read", std::move(params), RequestOptions{});
}

aio::Coro<Json> ClientSession::list_prompts() {
    return SessionCore::request(core_, "prompts/list", Json::object(), RequestOptions{});
}

aio::Coro<Json> ClientSession::get_prompt(std::string name, Json arguments) {
    Json params{{"name", std::move(name)}, {"arguments", std::move(arguments)}};
    return SessionCore::request(core_, "prompts/get", std::move(params), RequestOptions{});
}

aio::Coro<> ClientSession::set_logging_level(std::string level) {
    Json params{{"level", std::move(level)}};
    return no_result(SessionCore::request(core_, "logging/setLevel", std::move(params), RequestOptions{}));
}

void ClientSession::set_roots(std::vector<Root> roots) {
    core_->options_.roots = std::move(roots);
    if (!core_->closed_) core_->notify("notifications/roots/list_changed", nullptr);
}

aio::Coro<> ClientSession::close() { return SessionCore::close(core_); }

bool ClientSession::is_closed() const noexcept { return core_->closed_; }
std::exception_ptr ClientSession::closed_error() const noexcept { return core_->closed_error_; }
const std::string& ClientSession::protocol_version() const noexcept { return core_->protocol_version_; }
const Json& ClientSession::server_info() const noexcept { return core_->server_info_; }
const Json& ClientSession::server_capabilities() const noexcept { return core_->server_capabilities_; }
const std::string& ClientSession::instructions() const noexcept { return core_->instructions_; }
std::uint64_t ClientSession::tools_generation() const noexcept { return core_->tools_generation_; }
std::size_t ClientSession::pending_requests() const noexcept { return core_->pending_.size(); }
Transport& ClientSession::transport() const noexcept { return *core_->transport_; }

}  // namespace adk::mcp
