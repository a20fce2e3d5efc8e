// adk-fake-llm: a local model server for tests and the demo. It speaks the
// OpenAI chat-completions API (plain and SSE streaming, tool calls, usage)
// and Gemini's REST API (generateContent, streamGenerateContent), answering
// from a script in adk::ScriptedLlm's format, with injectable faults
// (delays, error statuses with Retry-After, a stream cut in the middle,
// malformed JSON). See docs/fake-llm.md.
//
//   adk-fake-llm --port 0 --script replies.json [--host 127.0.0.1] [--api-key KEY] [--verbose]
//
// prints "listening on http://127.0.0.1:PORT" (one line, flushed) once it
// accepts connections; SIGINT/SIGTERM close it gracefully.
#include <aio/aio.hpp>
#include <aio/http/server.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "adk/gemini_format.hpp"
#include "adk/openai_format.hpp"
#include "adk/scripted_llm.hpp"

namespace {

using adk::Json;
using adk::LlmRequest;
using adk::LlmResponse;
using adk::ScriptedReply;
using aio::http::ResponseWriter;
using aio::http::ServerRequest;

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string script;
    std::string api_key;
    bool verbose = false;
};

[[noreturn]] void usage(int code) {
    std::fprintf(code == 0 ? stdout : stderr,
                 "usage: adk-fake-llm [--port N] [--host H] [--script FILE] [--api-key KEY] [--verbose]\n"
                 "  OpenAI:  POST /v1/chat/completions (stream: true for SSE), GET /v1/models\n"
                 "  Gemini:  POST /v1beta/models/{model}:generateContent\n"
                 "           POST /v1beta/models/{model}:streamGenerateContent?alt=sse\n"
                 "  GET /health; test hooks: GET /fake/requests, POST /fake/script, POST /fake/reset\n"
                 "Without --script every request is answered with \"echo: <last user text>\".\n"
                 "See docs/fake-llm.md for the script format and the faults.\n");
    std::exit(code);
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "adk-fake-llm: %s needs a value\n", a.c_str());
                usage(2);
            }
            return argv[++i];
        };
        if (a == "--port") {
            std::string v = value();
            char* end = nullptr;
            long p = std::strtol(v.c_str(), &end, 10);
            if (!end || *end || p < 0 || p > 65535) {
                std::fprintf(stderr, "adk-fake-llm: bad port '%s'\n", v.c_str());
                usage(2);
            }
            o.port = static_cast<std::uint16_t>(p);
        } else if (a == "--host") {
            o.host = value();
        } else if (a == "--script") {
            o.script = value();
        } else if (a == "--api-key") {
            o.api_key = value();
        } else if (a == "--verbose" || a == "-v") {
            o.verbose = true;
        } else if (a == "--help" || a == "-h") {
            usage(0);
        } else {
            std::fprintf(stderr, "adk-fake-llm: unknown argument '%s'\n", a.c_str());
            usage(2);
        }
    }
    return o;
}

/// A reply's "fault" object.
struct Fault {
    int status = 0;              // answer with this HTTP status instead
    std::string message;         // its error message
    std::optional<long> retry_after;  // seconds, sent as Retry-After
    std::optional<long> cut_after;    // streaming: drop the connection after this many events
    bool malformed = false;      // a body (or one stream event) that is not JSON
};

Fault parse_fault(const Json& j) {
    Fault f;
    if (!j.is_object()) return f;
    if (const Json* v = adk::detail::find_key(j, "status", nullptr); v && v->is_number_integer()) f.status = v->get<int>();
    if (const Json* v = adk::detail::find_key(j, "message", nullptr); v && v->is_string()) f.message = v->get<std::string>();
    if (const Json* v = adk::detail::find_key(j, "retryAfter", "retry_after"); v && v->is_number())
        f.retry_after = v->get<long>();
    if (const Json* v = adk::detail::find_key(j, "cutAfterChunks", "cut_after_chunks"); v && v->is_number_integer())
        f.cut_after = v->get<long>();
    if (const Json* v = adk::detail::find_key(j, "malformedJson", "malformed_json"); v && v->is_boolean())
        f.malformed = v->get<bool>();
    return f;
}

std::string default_message(int status) {
    switch (status) {
        case 401: return "Incorrect API key provided.";
        case 404: return "The model does not exist.";
        case 429: return "Rate limit reached. Please try again later.";
        case 500: return "The server had an error while processing your request.";
        case 503: return "The engine is currently overloaded, please try again later.";
        default: return "Error " + std::to_string(status);
    }
}

long approx_tokens(std::size_t chars) { return static_cast<long>(chars / 4 + 1); }

std::size_t request_chars(const LlmRequest& r) {
    std::size_t n = r.system_instruction.size();
    for (const adk::Content& c : r.contents)
        for (const adk::Part& p : c.parts) {
            if (p.text) n += p.text->size();
            if (p.function_call) n += p.function_call->args.dump().size();
            if (p.function_response) n += p.function_response->response.dump().size();
        }
    return n;
}

std::size_t response_chars(const LlmResponse& r) {
    std::size_t n = 0;
    if (r.content)
        for (const adk::Part& p : r.content->parts) {
            if (p.text) n += p.text->size();
            if (p.function_call) n += p.function_call->name.size() + p.function_call->args.dump().size();
        }
    return n;
}

/// Deterministic token counts: a quarter of the characters, plus one.
Json usage_metadata(const LlmRequest& req, const LlmResponse& resp) {
    long prompt = approx_tokens(request_chars(req));
    long out = approx_tokens(response_chars(resp));
    return Json{{"promptTokenCount", prompt}, {"candidatesTokenCount", out}, {"totalTokenCount", prompt + out}};
}

enum class Api { openai, gemini };

class FakeLlm {
public:
    FakeLlm(Options options, std::shared_ptr<adk::ScriptedLlm> llm)
        : options_(std::move(options)), llm_(std::move(llm)), created_(static_cast<std::int64_t>(std::time(nullptr))) {}

    aio::http::Router router() {
        aio::http::Router r;
        r.get("/health", [](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            co_await w.send_json(200, R"({"status":"ok"})");
        });
        r.get("/v1/models", [this](ServerRequest& q, ResponseWriter& w) { return models(q, w); });
        r.post("/v1/chat/completions", [this](ServerRequest& q, ResponseWriter& w) { return chat(q, w); });
        r.post("/chat/completions", [this](ServerRequest& q, ResponseWriter& w) { return chat(q, w); });
        for (const char* version : {"/v1beta", "/v1"}) {
            r.post(std::string(version) + "/models/{model}:generateContent",
                   [this](ServerRequest& q, ResponseWriter& w) { return gemini(q, w, false); });
            r.post(std::string(version) + "/models/{model}:streamGenerateContent",
                   [this](ServerRequest& q, ResponseWriter& w) { return gemini(q, w, true); });
        }
        r.get("/fake/requests", [this](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            return send_requests(w);
        });
        r.post("/fake/script", [this](ServerRequest& q, ResponseWriter& w) { return replace_script(q, w); });
        r.post("/fake/reset", [this](ServerRequest&, ResponseWriter& w) -> aio::Coro<void> {
            log_.clear();
            return ok(w);
        });
        return r;
    }

private:
    static aio::Coro<void> ok(ResponseWriter& w) { co_await w.send_json(200, R"({"ok":true})"); }

    aio::Coro<void> send_requests(ResponseWriter& w) {
        std::string text = log_.dump();
        co_await w.send_json(200, std::move(text));
    }

    aio::Coro<void> models(ServerRequest&, ResponseWriter& w) {
        std::string model = llm_ ? llm_->model() : "fake";
        Json body{{"object", "list"},
                  {"data", Json::array({Json{{"id", model}, {"object", "model"}, {"owned_by", "adk-fake-llm"}}})}};
        std::string text = body.dump();
        co_await w.send_json(200, std::move(text));
    }

    aio::Coro<void> replace_script(ServerRequest& q, ResponseWriter& w) {
        Json script = Json::parse(q.body, nullptr, false);
        std::string error;
        if (script.is_discarded()) {
            error = "the script is not JSON";
        } else {
            try {
                llm_ = adk::ScriptedLlm::from_json(script);
            } catch (const std::exception& e) {
                error = e.what();
            }
        }
        if (!error.empty()) {
            co_await w.send_error(400, error);
            co_return;
        }
        log_.clear();
        co_await ok(w);
    }

    static aio::Coro<void> send_api_error(ResponseWriter& w, Api api, int status, const std::string& message,
                                          std::optional<long> retry_after = std::nullopt) {
        Json body = api == Api::openai ? adk::openai::error_body(status, message) : adk::gemini::error_body(status, message);
        aio::http::ServerResponse r = aio::http::ServerResponse::json(status, body.dump());
        if (retry_after) r.headers.emplace_back("Retry-After", std::to_string(*retry_after));
        co_await w.send(std::move(r));
    }

    bool authorized(const ServerRequest& q, Api api) const {
        if (options_.api_key.empty()) return true;
        if (api == Api::openai) {
            std::optional<std::string_view> h = q.header("authorization");
            return h && *h == "Bearer " + options_.api_key;
        }
        std::optional<std::string_view> h = q.header("x-goog-api-key");
        if (h && *h == options_.api_key) return true;
        std::optional<std::string> k = q.query_param("key");
        return k && *k == options_.api_key;
    }

    void record(const ServerRequest& q, const Json& body) {
        log_.push_back(Json{{"method", q.method}, {"path", q.path}, {"query", q.query}, {"body", body}});
        if (options_.verbose) std::fprintf(stderr, "adk-fake-llm: %s %s\n", q.method.c_str(), q.target.c_str());
    }

    /// The reply for `req`; an echo when there is no script.
    ScriptedReply pick(const LlmRequest& req) {
        if (!llm_) return ScriptedReply::say("echo: " + req.last_user_text());
        return llm_->next_reply(req);
    }

    std::string next_id(const char* prefix) { return prefix + std::to_string(++counter_); }

    // --- OpenAI ---------------------------------------------------------------------------------

    aio::Coro<void> chat(ServerRequest& q, ResponseWriter& w) {
        if (!authorized(q, Api::openai)) {
            co_await send_api_error(w, Api::openai, 401, default_message(401));
            co_return;
        }
        Json body = Json::parse(q.body, nullptr, false);
        if (body.is_discarded()) {
            record(q, Json(q.body));
            co_await send_api_error(w, Api::openai, 400, "the request body is not JSON");
            co_return;
        }
        record(q, body);
        LlmRequest req;
        std::string invalid;
        try {
            req = adk::openai::request_from_json(body);
        } catch (const std::exception& e) {
            invalid = e.what();
        }
        if (!invalid.empty()) {
            co_await send_api_error(w, Api::openai, 400, invalid);
            co_return;
        }
        bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
        bool include_usage = stream && body.contains("stream_options") && body["stream_options"].is_object() &&
                             body["stream_options"].value("include_usage", false);
        std::string model = req.model.empty() ? "fake" : req.model;
        co_await answer(w, Api::openai, std::move(req), model, stream, include_usage);
    }

    // --- Gemini ---------------------------------------------------------------------------------

    aio::Coro<void> gemini(ServerRequest& q, ResponseWriter& w, bool stream) {
        if (!authorized(q, Api::gemini)) {
            co_await send_api_error(w, Api::gemini, 401, "API key not valid. Please pass a valid API key.");
            co_return;
        }
        Json body = Json::parse(q.body, nullptr, false);
        if (body.is_discarded()) {
            record(q, Json(q.body));
            co_await send_api_error(w, Api::gemini, 400, "Invalid JSON payload received.");
            co_return;
        }
        record(q, body);
        std::string model(q.path_param("model"));
        LlmRequest req;
        std::string invalid;
        try {
            req = adk::gemini::request_from_json(body, model);
        } catch (const std::exception& e) {
            invalid = e.what();
        }
        if (!invalid.empty()) {
            co_await send_api_error(w, Api::gemini, 400, invalid);
            co_return;
        }
        std::optional<std::string> alt = q.query_param("alt");
        bool sse = stream && alt && *alt == "sse";
        co_await answer(w, Api::gemini, std::move(req), model, stream, true, sse);
    }

    // --- both -----------------------------------------------------------------------------------

    aio::Coro<void> answer(ResponseWriter& w, Api api, LlmRequest req, std::string model, bool stream,
                           bool include_usage, bool sse = true) {
        ScriptedReply reply;
        std::string failure;
        try {
            reply = pick(req);
        } catch (const std::exception& e) {
            failure = e.what();  // script exhausted
        }
        if (!failure.empty()) {
            co_await send_api_error(w, api, 500, failure);
            co_return;
        }
        Fault fault = parse_fault(reply.fault);
        if (reply.delay.count() > 0) {
            co_await aio::sleep(reply.delay);
            reply.delay = std::chrono::milliseconds(0);
        }
        if (fault.status != 0) {
            std::string message = fault.message.empty() ? default_message(fault.status) : fault.message;
            co_await send_api_error(w, api, fault.status, message, fault.retry_after);
            co_return;
        }
        if (reply.raise) {
            co_await send_api_error(w, api, 500, *reply.raise);
            co_return;
        }
        if (fault.malformed && !stream) {
            std::string broken = api == Api::openai ? R"({"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hel)"
                                                    : R"({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel)";
            std::string content_type = "application/json";
            co_await w.send(200, std::move(broken), std::move(content_type));
            co_return;
        }
        bool play_stream = stream;
        LlmRequest copy = req;
        aio::AsyncGenerator<LlmResponse> playing = adk::ScriptedLlm::play(std::move(reply), std::move(copy), play_stream);
        if (!stream) {
            std::optional<LlmResponse> final_response;
            while (true) {
                std::optional<LlmResponse> r = co_await playing.next();
                if (!r) break;
                final_response = std::move(r);
            }
            LlmResponse resp = final_response ? std::move(*final_response) : LlmResponse{};
            resp.usage_metadata = usage_metadata(req, resp);
            Json body = api == Api::openai ? adk::openai::response_to_json(resp, model, next_id("chatcmpl-fake-"), created_)
                                           : adk::gemini::response_to_json(resp, model);
            std::string text = body.dump();
            co_await w.send_json(200, std::move(text));
            co_return;
        }
        // A cut stream (or a client gone) leaves the reply unplayed: close
        // the generator before leaving, whatever happened.
        std::exception_ptr error;
        try {
            if (api == Api::openai)
                co_await stream_openai(w, req, model, playing, fault, include_usage);
            else
                co_await stream_gemini(w, req, model, playing, fault, sse);
        } catch (...) {
            error = std::current_exception();
        }
        co_await playing.aclose();
        if (error) std::rethrow_exception(error);
    }

    /// Sends one event unless the cut fault says the stream dies here.
    struct Emitter {
        ResponseWriter& w;
        const Fault& fault;
        long sent = 0;
        bool cut = false;
        aio::Coro<bool> emit(std::string data) {
            if (fault.cut_after && sent >= *fault.cut_after) {
                cut = true;
                w.abort();  // no [DONE], no terminating chunk: a broken connection
                co_return false;
            }
            ++sent;
            co_await w.send_event(data);
            co_return true;
        }
    };

    aio::Coro<void> stream_openai(ResponseWriter& w, const LlmRequest& req, const std::string& model,
                                  aio::AsyncGenerator<LlmResponse>& playing, const Fault& fault, bool include_usage) {
        adk::openai::ChunkBuilder cb;
        cb.id = next_id("chatcmpl-fake-");
        cb.model = model;
        cb.created = created_;
        co_await w.start_sse();
        // The role chunk opens every stream; cutAfterChunks counts the chunks after it.
        std::string role = cb.role_chunk().dump();
        co_await w.send_event(role);
        Emitter out{w, fault};
        if (fault.malformed) {
            std::string broken = R"({"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oops)";
            bool sent = co_await out.emit(std::move(broken));
            if (!sent) co_return;
        }
        bool streamed_text = false;
        while (true) {
            std::optional<LlmResponse> r = co_await playing.next();
            if (!r) break;
            if (r->is_partial()) {
                std::string text = r->content ? r->content->text() : std::string();
                if (text.empty()) continue;
                streamed_text = true;
                std::string chunk = cb.text_chunk(text).dump();
                bool sent = co_await out.emit(std::move(chunk));
                if (!sent) co_return;
                continue;
            }
            LlmResponse& final_response = *r;
            if (!streamed_text && final_response.content) {
                std::string text = final_response.content->text();
                if (!text.empty()) {
                    std::string chunk = cb.text_chunk(text).dump();
                    bool sent = co_await out.emit(std::move(chunk));
                    if (!sent) co_return;
                }
            }
            if (final_response.error_code == std::optional<std::string>("SAFETY")) {
                Json delta{{"refusal", final_response.error_message.value_or("")}};
                std::string chunk = cb.chunk(std::move(delta)).dump();
                bool sent = co_await out.emit(std::move(chunk));
                if (!sent) co_return;
            }
            int index = 0;
            if (final_response.content)
                for (const adk::Part& p : final_response.content->parts) {
                    if (!p.function_call) continue;
                    std::string call_id =
                        p.function_call->id.empty() ? cb.id + "_call_" + std::to_string(index) : p.function_call->id;
                    std::string start = cb.tool_call_start(index, call_id, p.function_call->name).dump();
                    bool sent = co_await out.emit(std::move(start));
                    if (!sent) co_return;
                    // The arguments in two pieces, as real servers split them.
                    std::string args = p.function_call->args.dump();
                    std::size_t half = args.size() / 2;
                    std::string first = cb.tool_call_arguments(index, std::string_view(args).substr(0, half)).dump();
                    sent = co_await out.emit(std::move(first));
                    if (!sent) co_return;
                    std::string second = cb.tool_call_arguments(index, std::string_view(args).substr(half)).dump();
                    sent = co_await out.emit(std::move(second));
                    if (!sent) co_return;
                    ++index;
                }
            std::string finish = cb.finish_chunk(adk::openai::finish_reason_to_openai(final_response)).dump();
            bool sent = co_await out.emit(std::move(finish));
            if (!sent) co_return;
            if (include_usage) {
                Json usage = adk::openai::usage_from_metadata(usage_metadata(req, final_response));
                std::string chunk = cb.usage_chunk(usage).dump();
                sent = co_await out.emit(std::move(chunk));
                if (!sent) co_return;
            }
        }
        std::string done_marker = "[DONE]";
        bool done = co_await out.emit(std::move(done_marker));
        if (!done) co_return;
        co_await w.finish();
    }

    aio::Coro<void> stream_gemini(ResponseWriter& w, const LlmRequest& req, const std::string& model,
                                  aio::AsyncGenerator<LlmResponse>& playing, const Fault& fault, bool sse) {
        // Without alt=sse, streamGenerateContent answers one JSON array of
        // responses; it is produced whole.
        std::vector<Json> chunks;
        Emitter out{w, fault};
        if (sse) co_await w.start_sse();
        auto push = [&](Json chunk) -> aio::Coro<bool> { return emit_gemini(out, chunks, std::move(chunk), sse); };
        if (fault.malformed && sse) {
            std::string broken = R"({"candidates": [{"content": {"parts": [{"text": "oops)";
            bool sent = co_await out.emit(std::move(broken));
            if (!sent) co_return;
        }
        bool streamed_text = false;
        while (true) {
            std::optional<LlmResponse> r = co_await playing.next();
            if (!r) break;
            if (r->is_partial()) {
                std::string text = r->content ? r->content->text() : std::string();
                if (text.empty()) continue;
                streamed_text = true;
                Json chunk{{"candidates",
                            Json::array({Json{{"content", {{"role", "model"}, {"parts", Json::array({Json{{"text", text}}})}}},
                                              {"index", 0}}})},
                           {"modelVersion", model}};
                aio::Coro<bool> pushing = push(std::move(chunk));
                bool sent = co_await std::move(pushing);
                if (!sent) co_return;
                continue;
            }
            LlmResponse final_response = std::move(*r);
            if (streamed_text && final_response.content) {
                std::vector<adk::Part> rest;
                for (adk::Part& p : final_response.content->parts)
                    if (!(p.text && !p.function_call && !p.function_response)) rest.push_back(std::move(p));
                final_response.content->parts = std::move(rest);
            }
            final_response.usage_metadata = usage_metadata(req, final_response);
            Json chunk = adk::gemini::response_to_json(final_response, model);
            if (streamed_text && final_response.content && final_response.content->parts.empty()) {
                // Only the finish reason and the usage are left to say.
                chunk["candidates"][0].erase("content");
                chunk["candidates"][0]["finishReason"] = final_response.finish_reason.value_or("STOP");
            }
            aio::Coro<bool> pushing = push(std::move(chunk));
            bool sent = co_await std::move(pushing);
            if (!sent) co_return;
        }
        if (sse) {
            co_await w.finish();
        } else {
            Json all = Json::array();
            for (Json& c : chunks) all.push_back(std::move(c));
            std::string text = all.dump();
            co_await w.send_json(200, std::move(text));
        }
    }

    static aio::Coro<bool> emit_gemini(Emitter& out, std::vector<Json>& chunks, Json chunk, bool sse) {
        if (!sse) {
            chunks.push_back(std::move(chunk));
            co_return true;
        }
        std::string text = chunk.dump();
        bool sent = co_await out.emit(std::move(text));
        co_return sent;
    }

    Options options_;
    std::shared_ptr<adk::ScriptedLlm> llm_;
    std::int64_t created_;
    long counter_ = 0;
    Json log_ = Json::array();
};

aio::Coro<int> amain(Options options) {
    std::shared_ptr<adk::ScriptedLlm> llm;
    if (!options.script.empty()) {
        try {
            llm = adk::ScriptedLlm::from_file(options.script);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "adk-fake-llm: %s\n", e.what());
            co_return 2;
        }
    }
    auto fake = std::make_shared<FakeLlm>(options, std::move(llm));
    aio::http::ServerConfig config;
    config.host = options.host;
    config.port = options.port;
    config.max_body_bytes = 32 * 1024 * 1024;
    config.server_name = "adk-fake-llm";
    aio::http::Router router = fake->router();
    aio::http::Server server = co_await aio::http::start_server(std::move(router), config);
    aio::EventLoop& loop = aio::get_running_loop();
    loop.add_signal_handler(SIGINT, [server]() mutable { server.close(); });
    loop.add_signal_handler(SIGTERM, [server]() mutable { server.close(); });
    std::printf("listening on %s\n", server.url().c_str());
    std::fflush(stdout);
    co_await server.serve_forever();
    co_await server.wait_closed();
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_args(argc, argv);
    try {
        return aio::run(amain(std::move(options)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "adk-fake-llm: %s\n", e.what());
        return 1;
    }
}
