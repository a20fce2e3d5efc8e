// The OpenAI chat-completions wire format (adk/openai_format.hpp).
#include "adk/openai_format.hpp"

#include <deque>
#include <stdexcept>

namespace adk {

ModelApiError::ModelApiError(int status, std::string code, const std::string& message)
    : ModelError(message), status_(status), code_(std::move(code)) {}

namespace openai {
namespace {

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

/// genai Schema types are upper-case ("OBJECT"); JSON Schema's are not.
Json lower_schema_types(const Json& schema) {
    if (schema.is_array()) {
        Json out = Json::array();
        for (const Json& v : schema) out.push_back(lower_schema_types(v));
        return out;
    }
    if (!schema.is_object()) return schema;
    Json out = Json::object();
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        const std::string& key = it.key();
        if (key == "type") {
            if (it->is_string()) {
                out[key] = lower(it->get<std::string>());
            } else if (it->is_array()) {
                Json types = Json::array();
                for (const Json& t : *it) types.push_back(t.is_string() ? Json(lower(t.get<std::string>())) : t);
                out[key] = std::move(types);
            } else {
                out[key] = *it;
            }
        } else if (key == "enum" || key == "default" || key == "example" || key == "examples" || key == "const") {
            out[key] = *it;  // values, not schemas
        } else {
            out[key] = lower_schema_types(*it);
        }
    }
    // genai's "nullable": true is JSON Schema's ["<type>", "null"].
    if (auto n = out.find("nullable"); n != out.end()) {
        if (n->is_boolean() && n->get<bool>() && out.contains("type") && out["type"].is_string())
            out["type"] = Json::array({out["type"], "null"});
        out.erase("nullable");
    }
    return out;
}

const Json* key(const Json& j, const char* camel, const char* snake) { return detail::find_key(j, camel, snake); }

std::string string_or_empty(const Json* j) { return j && j->is_string() ? j->get<std::string>() : std::string(); }

std::string snippet(std::string_view s) {
    if (s.size() <= 120) return std::string(s);
    return std::string(s.substr(0, 120)) + "...";
}

Json parse_arguments(const std::string& arguments, const std::string& name) {
    if (arguments.empty()) return Json::object();
    Json args;
    try {
        args = Json::parse(arguments);
    } catch (const Json::exception&) {
        throw MalformedResponseError("OpenAI response: the arguments of tool call '" + name +
                                     "' are not JSON: " + snippet(arguments));
    }
    if (args.is_null()) return Json::object();
    return args;
}

/// The text of a message's "content": a string or an array of parts.
std::string content_text(const Json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string out;
    if (content.is_array())
        for (const Json& p : content)
            if (p.is_object() && p.value("type", "") == "text" && p.contains("text") && p["text"].is_string())
                out += p["text"].get<std::string>();
    return out;
}

/// "data:<mime>;base64,<data>" -> Blob; nullopt for other URLs.
std::optional<Blob> parse_data_url(const std::string& url) {
    if (url.rfind("data:", 0) != 0) return std::nullopt;
    std::size_t semi = url.find(";base64,");
    if (semi == std::string::npos) return std::nullopt;
    Blob b;
    b.mime_type = url.substr(5, semi - 5);
    b.data = url.substr(semi + 8);
    return b;
}

bool is_function_response_turn(const Content& c) {
    if (c.role != "user" || c.parts.empty()) return false;
    for (const Part& p : c.parts)
        if (!p.function_response) return false;
    return true;
}

void copy_number(const Json& from, const char* from_camel, const char* from_snake, Json& to, const char* to_key) {
    if (const Json* v = key(from, from_camel, from_snake); v && !v->is_null()) to[to_key] = *v;
}

Json finish_reason_json(const std::optional<std::string>& r) { return r ? Json(*r) : Json(nullptr); }

}  // namespace

// --- finish reasons and usage ----------------------------------------------------------------

std::string finish_reason_from_openai(std::string_view reason) {
    if (reason == "stop" || reason == "tool_calls" || reason == "function_call") return "STOP";
    if (reason == "length") return "MAX_TOKENS";
    if (reason == "content_filter") return "SAFETY";
    return "OTHER";
}

std::string finish_reason_to_openai(const LlmResponse& response) {
    bool calls = false;
    if (response.content)
        for (const Part& p : response.content->parts)
            if (p.function_call) calls = true;
    std::string r = response.finish_reason.value_or(response.error_code.value_or("STOP"));
    if (r == "MAX_TOKENS") return "length";
    if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" || r == "SPII" ||
        r == "IMAGE_SAFETY")
        return "content_filter";
    return calls ? "tool_calls" : "stop";
}

Json usage_to_metadata(const Json& usage) {
    Json m = Json::object();
    if (!usage.is_object()) return m;
    copy_number(usage, "prompt_tokens", nullptr, m, "promptTokenCount");
    copy_number(usage, "completion_tokens", nullptr, m, "candidatesTokenCount");
    copy_number(usage, "total_tokens", nullptr, m, "totalTokenCount");
    if (const Json* d = key(usage, "prompt_tokens_details", nullptr); d && d->is_object())
        copy_number(*d, "cached_tokens", nullptr, m, "cachedContentTokenCount");
    if (const Json* d = key(usage, "completion_tokens_details", nullptr); d && d->is_object())
        copy_number(*d, "reasoning_tokens", nullptr, m, "thoughtsTokenCount");
    return m;
}

Json usage_from_metadata(const Json& meta) {
    Json u = Json::object();
    if (!meta.is_object()) return u;
    long prompt = 0, completion = 0;
    if (const Json* v = key(meta, "promptTokenCount", "prompt_token_count"); v && v->is_number_integer())
        prompt = v->get<long>();
    if (const Json* v = key(meta, "candidatesTokenCount", "candidates_token_count"); v && v->is_number_integer())
        completion = v->get<long>();
    u["prompt_tokens"] = prompt;
    u["completion_tokens"] = completion;
    long total = prompt + completion;
    if (const Json* v = key(meta, "totalTokenCount", "total_token_count"); v && v->is_number_integer())
        total = v->get<long>();
    u["total_tokens"] = total;
    if (const Json* v = key(meta, "cachedContentTokenCount", "cached_content_token_count"); v && v->is_number())
        u["prompt_tokens_details"] = Json{{"cached_tokens", *v}};
    if (const Json* v = key(meta, "thoughtsTokenCount", "thoughts_token_count"); v && v->is_number())
        u["completion_tokens_details"] = Json{{"reasoning_tokens", *v}};
    return u;
}

// --- requests ------------------------------------------------------------------------------

Json to_request(const LlmRequest& request, const RequestOptions& options) {
    Json body = Json::object();
    body["model"] = request.model;
    Json messages = Json::array();
    if (!request.system_instruction.empty())
        messages.push_back(Json{{"role", "system"}, {"content", request.system_instruction}});

    // Calls the model made without an id get one here; the responses that
    // answer them (by name, in order) reuse it.
    std::map<std::string, std::deque<std::string>> unanswered;
    for (std::size_t ci = 0; ci < request.contents.size(); ++ci) {
        const Content& content = request.contents[ci];
        if (content.role == "model") {
            std::string text;
            Json tool_calls = Json::array();
            for (std::size_t pi = 0; pi < content.parts.size(); ++pi) {
                const Part& p = content.parts[pi];
                if (p.text && !p.thought.value_or(false)) text += *p.text;
                if (p.function_call) {
                    std::string id = p.function_call->id;
                    if (id.empty()) {
                        id = "call_" + std::to_string(ci) + "_" + std::to_string(pi);
                        unanswered[p.function_call->name].push_back(id);
                    }
                    tool_calls.push_back(Json{{"id", id},
                                              {"type", "function"},
                                              {"function",
                                               {{"name", p.function_call->name},
                                                {"arguments", p.function_call->args.dump()}}}});
                }
            }
            if (text.empty() && tool_calls.empty()) continue;
            Json msg{{"role", "assistant"}};
            msg["content"] = text.empty() && !tool_calls.empty() ? Json(nullptr) : Json(text);
            if (!tool_calls.empty()) msg["tool_calls"] = std::move(tool_calls);
            messages.push_back(std::move(msg));
            continue;
        }
        // A user turn: tool answers first (they must follow the assistant's
        // tool_calls), then what the user said.
        Json parts = Json::array();
        std::size_t texts = 0;
        for (const Part& p : content.parts) {
            if (p.function_response) {
                const FunctionResponse& r = *p.function_response;
                std::string id = r.id;
                if (id.empty()) {
                    auto it = unanswered.find(r.name);
                    if (it != unanswered.end() && !it->second.empty()) {
                        id = it->second.front();
                        it->second.pop_front();
                    } else {
                        id = "call_" + r.name;
                    }
                }
                messages.push_back(Json{{"role", "tool"}, {"tool_call_id", id}, {"content", r.response.dump()}});
            } else if (p.text && !p.thought.value_or(false)) {
                parts.push_back(Json{{"type", "text"}, {"text", *p.text}});
                ++texts;
            } else if (p.inline_data) {
                parts.push_back(Json{{"type", "image_url"},
                                     {"image_url",
                                      {{"url", "data:" + p.inline_data->mime_type + ";base64," + p.inline_data->data}}}});
            } else if (p.file_data) {
                parts.push_back(Json{{"type", "image_url"}, {"image_url", {{"url", p.file_data->file_uri}}}});
            }
        }
        if (parts.empty()) continue;
        Json msg{{"role", "user"}};
        if (texts == parts.size() && texts == 1)
            msg["content"] = parts[0]["text"];
        else
            msg["content"] = std::move(parts);
        messages.push_back(std::move(msg));
    }
    body["messages"] = std::move(messages);

    if (!request.function_declarations.empty()) {
        Json tools = Json::array();
        for (const Json& d : request.function_declarations) {
            Json fn = Json::object();
            fn["name"] = d.value("name", "");
            if (d.contains("description")) fn["description"] = d["description"];
            const Json* params = key(d, "parameters", nullptr);
            if (!params) params = key(d, "parametersJsonSchema", "parameters_json_schema");
            fn["parameters"] = params && params->is_object()
                                   ? lower_schema_types(*params)
                                   : Json{{"type", "object"}, {"properties", Json::object()}};
            tools.push_back(Json{{"type", "function"}, {"function", std::move(fn)}});
        }
        body["tools"] = std::move(tools);
    }

    const Json& c = request.config;
    if (c.is_object()) {
        copy_number(c, "temperature", nullptr, body, "temperature");
        copy_number(c, "topP", "top_p", body, "top_p");
        copy_number(c, "maxOutputTokens", "max_output_tokens", body, "max_tokens");
        copy_number(c, "seed", nullptr, body, "seed");
        copy_number(c, "presencePenalty", "presence_penalty", body, "presence_penalty");
        copy_number(c, "frequencyPenalty", "frequency_penalty", body, "frequency_penalty");
        copy_number(c, "candidateCount", "candidate_count", body, "n");
        if (const Json* s = key(c, "stopSequences", "stop_sequences"); s && s->is_array() && !s->empty())
            body["stop"] = *s;
        const Json* schema = key(c, "responseJsonSchema", "response_json_schema");
        if (!schema) schema = key(c, "responseSchema", "response_schema");
        if (schema && schema->is_object()) {
            body["response_format"] = Json{{"type", "json_schema"},
                                           {"json_schema", {{"name", "response"}, {"schema", lower_schema_types(*schema)}}}};
        } else if (string_or_empty(key(c, "responseMimeType", "response_mime_type")) == "application/json") {
            body["response_format"] = Json{{"type", "json_object"}};
        }
        if (const Json* tc = key(c, "toolConfig", "tool_config"); tc && tc->is_object()) {
            if (const Json* fc = key(*tc, "functionCallingConfig", "function_calling_config"); fc && fc->is_object()) {
                std::string mode = string_or_empty(key(*fc, "mode", nullptr));
                const Json* allowed = key(*fc, "allowedFunctionNames", "allowed_function_names");
                if (mode == "NONE" || mode == "none") {
                    body["tool_choice"] = "none";
                } else if (mode == "ANY" || mode == "any") {
                    if (allowed && allowed->is_array() && allowed->size() == 1)
                        body["tool_choice"] = Json{{"type", "function"}, {"function", {{"name", (*allowed)[0]}}}};
                    else
                        body["tool_choice"] = "required";
                } else if (mode == "AUTO" || mode == "auto") {
                    body["tool_choice"] = "auto";
                }
            }
        }
    }
    if (options.stream) {
        body["stream"] = true;
        if (options.include_usage) body["stream_options"] = Json{{"include_usage", true}};
    }
    return body;
}

LlmRequest request_from_json(const Json& body) {
    if (!body.is_object()) throw std::invalid_argument("chat completions: the request body must be a JSON object");
    LlmRequest req;
    req.model = string_or_empty(key(body, "model", nullptr));
    const Json* messages = key(body, "messages", nullptr);
    if (!messages || !messages->is_array()) throw std::invalid_argument("chat completions: \"messages\" must be an array");
    std::map<std::string, std::string> call_names;  // tool_call_id -> function name
    for (const Json& m : *messages) {
        if (!m.is_object()) throw std::invalid_argument("chat completions: a message must be an object");
        std::string role = string_or_empty(key(m, "role", nullptr));
        const Json* content = key(m, "content", nullptr);
        if (role == "system" || role == "developer") {
            if (content) req.append_instructions(content_text(*content));
        } else if (role == "user") {
            Content c;
            c.role = "user";
            if (content && content->is_string()) {
                c.parts.push_back(Part::from_text(content->get<std::string>()));
            } else if (content && content->is_array()) {
                for (const Json& p : *content) {
                    if (!p.is_object()) continue;
                    std::string type = p.value("type", "");
                    if (type == "text" && p.contains("text") && p["text"].is_string()) {
                        c.parts.push_back(Part::from_text(p["text"].get<std::string>()));
                    } else if (type == "image_url" && p.contains("image_url")) {
                        std::string url = p["image_url"].is_object() ? p["image_url"].value("url", "")
                                                                      : (p["image_url"].is_string()
                                                                             ? p["image_url"].get<std::string>()
                                                                             : std::string());
                        Part part;
                        if (std::optional<Blob> b = parse_data_url(url))
                            part.inline_data = std::move(*b);
                        else
                            part.file_data = FileData{url, ""};
                        c.parts.push_back(std::move(part));
                    }
                }
            }
            req.contents.push_back(std::move(c));
        } else if (role == "assistant") {
            Content c;
            c.role = "model";
            if (content) {
                std::string text = content_text(*content);
                if (!text.empty()) c.parts.push_back(Part::from_text(std::move(text)));
            }
            if (const Json* calls = key(m, "tool_calls", nullptr); calls && calls->is_array()) {
                for (const Json& tc : *calls) {
                    if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object())
                        throw std::invalid_argument("chat completions: a tool call needs a \"function\" object");
                    const Json& fn = tc["function"];
                    FunctionCall call;
                    call.id = string_or_empty(key(tc, "id", nullptr));
                    call.name = string_or_empty(key(fn, "name", nullptr));
                    const Json* args = key(fn, "arguments", nullptr);
                    if (args && args->is_string()) {
                        try {
                            call.args = parse_arguments(args->get<std::string>(), call.name);
                        } catch (const MalformedResponseError& e) {
                            throw std::invalid_argument(std::string("chat completions: ") + e.what());
                        }
                    } else if (args && args->is_object()) {
                        call.args = *args;
                    }
                    call_names[call.id] = call.name;
                    c.parts.push_back(Part::from_function_call(std::move(call)));
                }
            }
            req.contents.push_back(std::move(c));
        } else if (role == "tool") {
            FunctionResponse r;
            r.id = string_or_empty(key(m, "tool_call_id", nullptr));
            if (auto it = call_names.find(r.id); it != call_names.end()) r.name = it->second;
            std::string text = content ? content_text(*content) : std::string();
            Json parsed = Json::parse(text, nullptr, false);
            if (parsed.is_discarded())
                r.response = Json{{"result", text}};
            else if (parsed.is_object())
                r.response = std::move(parsed);
            else
                r.response = Json{{"result", std::move(parsed)}};
            if (req.contents.empty() || !is_function_response_turn(req.contents.back())) {
                Content turn;
                turn.role = "user";
                req.contents.push_back(std::move(turn));
            }
            req.contents.back().parts.push_back(Part::from_function_response(std::move(r)));
        } else {
            throw std::invalid_argument("chat completions: unknown message role \"" + role + "\"");
        }
    }
    if (const Json* tools = key(body, "tools", nullptr); tools && tools->is_array()) {
        for (const Json& t : *tools) {
            if (!t.is_object() || !t.contains("function") || !t["function"].is_object()) continue;
            const Json& fn = t["function"];
            Json decl = Json::object();
            decl["name"] = fn.value("name", "");
            if (fn.contains("description")) decl["description"] = fn["description"];
            if (fn.contains("parameters")) decl["parameters"] = fn["parameters"];
            req.function_declarations.push_back(std::move(decl));
        }
    }
    Json& c = req.config;
    copy_number(body, "temperature", nullptr, c, "temperature");
    copy_number(body, "top_p", nullptr, c, "topP");
    copy_number(body, "max_tokens", nullptr, c, "maxOutputTokens");
    copy_number(body, "max_completion_tokens", nullptr, c, "maxOutputTokens");
    copy_number(body, "seed", nullptr, c, "seed");
    copy_number(body, "presence_penalty", nullptr, c, "presencePenalty");
    copy_number(body, "frequency_penalty", nullptr, c, "frequencyPenalty");
    copy_number(body, "n", nullptr, c, "candidateCount");
    if (const Json* stop = key(body, "stop", nullptr)) {
        if (stop->is_string()) c["stopSequences"] = Json::array({*stop});
        if (stop->is_array()) c["stopSequences"] = *stop;
    }
    if (const Json* rf = key(body, "response_format", nullptr); rf && rf->is_object()) {
        std::string type = rf->value("type", "");
        if (type == "json_object" || type == "json_schema") c["responseMimeType"] = "application/json";
        if (type == "json_schema" && rf->contains("json_schema") && (*rf)["json_schema"].is_object() &&
            (*rf)["json_schema"].contains("schema"))
            c["responseJsonSchema"] = (*rf)["json_schema"]["schema"];
    }
    return req;
}

// --- responses ------------------------------------------------------------------------------

ModelApiError error_from_body(int status, std::string_view body) {
    Json j = Json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        const Json* e = key(j, "error", nullptr);
        if (e && e->is_object()) {
            std::string code = string_or_empty(key(*e, "code", nullptr));
            if (code.empty()) code = string_or_empty(key(*e, "type", nullptr));
            if (code.empty() && e->contains("status")) code = string_or_empty(key(*e, "status", nullptr));
            std::string message = string_or_empty(key(*e, "message", nullptr));
            return ModelApiError(status, code, message.empty() ? e->dump() : message);
        }
        if (e && e->is_string()) return ModelApiError(status, "", e->get<std::string>());
    }
    return ModelApiError(status, "", body.empty() ? "HTTP " + std::to_string(status) : snippet(body));
}

Json error_body(int status, std::string_view message) {
    std::string type = "invalid_request_error";
    std::string code;
    if (status == 401) {
        type = "invalid_request_error";
        code = "invalid_api_key";
    } else if (status == 404) {
        code = "model_not_found";
    } else if (status == 429) {
        type = "requests";
        code = "rate_limit_exceeded";
    } else if (status >= 500) {
        type = "server_error";
    }
    Json e{{"message", message}, {"type", type}, {"param", nullptr}};
    e["code"] = code.empty() ? Json(nullptr) : Json(code);
    return Json{{"error", std::move(e)}};
}

namespace {

/// Fills `out` from a message-like object (message or accumulated delta).
void set_error_if_empty(LlmResponse& out, const std::optional<std::string>& openai_reason,
                        const std::optional<std::string>& refusal) {
    bool empty = !out.content || out.content->parts.empty();
    if (!empty) return;
    if (refusal && !refusal->empty()) {
        out.error_code = "SAFETY";
        out.error_message = *refusal;
        return;
    }
    if (openai_reason && *openai_reason != "stop" && *openai_reason != "tool_calls") {
        out.error_code = finish_reason_from_openai(*openai_reason);
        out.error_message = "the model stopped without an answer (finish_reason " + *openai_reason + ")";
    }
}

}  // namespace

LlmResponse response_from_json(const Json& body) {
    if (!body.is_object()) throw MalformedResponseError("OpenAI response: not a JSON object: " + snippet(body.dump()));
    if (const Json* e = key(body, "error", nullptr); e && !e->is_null())
        throw error_from_body(0, body.dump());
    const Json* choices = key(body, "choices", nullptr);
    if (!choices || !choices->is_array() || choices->empty())
        throw MalformedResponseError("OpenAI response: no \"choices\": " + snippet(body.dump()));
    const Json& choice = (*choices)[0];
    if (!choice.is_object()) throw MalformedResponseError("OpenAI response: a choice is not an object");
    const Json* message = key(choice, "message", nullptr);
    if (!message || !message->is_object())
        throw MalformedResponseError("OpenAI response: the choice has no \"message\" object");
    LlmResponse out;
    Content content;
    content.role = "model";
    std::string thought = string_or_empty(key(*message, "reasoning_content", nullptr));
    if (thought.empty()) thought = string_or_empty(key(*message, "reasoning", nullptr));
    if (!thought.empty()) {
        Part p = Part::from_text(std::move(thought));
        p.thought = true;
        content.parts.push_back(std::move(p));
    }
    if (const Json* c = key(*message, "content", nullptr); c && !c->is_null()) {
        if (!c->is_string() && !c->is_array())
            throw MalformedResponseError("OpenAI response: \"content\" is neither text nor parts");
        std::string text = content_text(*c);
        if (!text.empty()) content.parts.push_back(Part::from_text(std::move(text)));
    }
    auto add_call = [&](const Json& tc, const Json& fn) {
        if (!fn.is_object()) throw MalformedResponseError("OpenAI response: a tool call without \"function\"");
        FunctionCall call;
        call.id = string_or_empty(key(tc, "id", nullptr));
        call.name = string_or_empty(key(fn, "name", nullptr));
        if (call.name.empty()) throw MalformedResponseError("OpenAI response: a tool call without a name");
        const Json* args = key(fn, "arguments", nullptr);
        if (args && args->is_string())
            call.args = parse_arguments(args->get<std::string>(), call.name);
        else if (args && args->is_object())
            call.args = *args;
        content.parts.push_back(Part::from_function_call(std::move(call)));
    };
    if (const Json* calls = key(*message, "tool_calls", nullptr); calls && !calls->is_null()) {
        if (!calls->is_array()) throw MalformedResponseError("OpenAI response: \"tool_calls\" is not an array");
        for (const Json& tc : *calls) {
            if (!tc.is_object()) throw MalformedResponseError("OpenAI response: a tool call is not an object");
            add_call(tc, tc.contains("function") ? tc["function"] : Json());
        }
    } else if (const Json* fc = key(*message, "function_call", nullptr); fc && fc->is_object()) {
        add_call(Json::object(), *fc);
    }
    if (!content.parts.empty()) out.content = std::move(content);
    std::optional<std::string> reason;
    if (const Json* r = key(choice, "finish_reason", nullptr); r && r->is_string()) reason = r->get<std::string>();
    if (reason) out.finish_reason = finish_reason_from_openai(*reason);
    std::optional<std::string> refusal;
    if (const Json* r = key(*message, "refusal", nullptr); r && r->is_string()) refusal = r->get<std::string>();
    set_error_if_empty(out, reason, refusal);
    if (!out.content && !out.error_code) {
        Content empty;
        empty.role = "model";
        out.content = std::move(empty);
    }
    if (const Json* u = key(body, "usage", nullptr); u && u->is_object()) out.usage_metadata = usage_to_metadata(*u);
    out.turn_complete = true;
    return out;
}

LlmResponse parse_response(std::string_view body) {
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded()) throw MalformedResponseError("OpenAI response: not JSON: " + snippet(body));
    return response_from_json(j);
}

Json response_to_json(const LlmResponse& response, const std::string& model, const std::string& id,
                      std::int64_t created) {
    Json message{{"role", "assistant"}};
    std::string text;
    std::string thought;
    Json tool_calls = Json::array();
    if (response.content) {
        int index = 0;
        for (const Part& p : response.content->parts) {
            if (p.text && p.thought.value_or(false))
                thought += *p.text;
            else if (p.text)
                text += *p.text;
            if (p.function_call) {
                std::string call_id =
                    p.function_call->id.empty() ? id + "_call_" + std::to_string(index) : p.function_call->id;
                tool_calls.push_back(Json{{"id", call_id},
                                          {"type", "function"},
                                          {"function",
                                           {{"name", p.function_call->name},
                                            {"arguments", p.function_call->args.dump()}}}});
                ++index;
            }
        }
    }
    message["content"] = text.empty() && (!tool_calls.empty() || response.error_code) ? Json(nullptr) : Json(text);
    if (!thought.empty()) message["reasoning_content"] = thought;
    if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
    if (response.error_code == std::optional<std::string>("SAFETY"))
        message["refusal"] = response.error_message.value_or("");
    Json choice{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish_reason_to_openai(response)}};
    Json body{{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model}};
    body["choices"] = Json::array({std::move(choice)});
    if (response.usage_metadata) body["usage"] = usage_from_metadata(*response.usage_metadata);
    return body;
}

// --- streaming ------------------------------------------------------------------------------

std::vector<LlmResponse> StreamAssembler::feed(std::string_view data) {
    while (!data.empty() && (data.back() == ' ' || data.back() == '\n' || data.back() == '\r')) data.remove_suffix(1);
    while (!data.empty() && data.front() == ' ') data.remove_prefix(1);
    if (data == "[DONE]") {
        done_ = true;
        return {};
    }
    if (data.empty()) return {};
    Json chunk = Json::parse(data, nullptr, false);
    if (chunk.is_discarded()) throw MalformedResponseError("OpenAI stream: a chunk is not JSON: " + snippet(data));
    return feed_json(chunk);
}

std::vector<LlmResponse> StreamAssembler::feed_json(const Json& chunk) {
    if (!chunk.is_object()) throw MalformedResponseError("OpenAI stream: a chunk is not an object");
    if (const Json* e = key(chunk, "error", nullptr); e && !e->is_null()) throw error_from_body(0, chunk.dump());
    std::vector<LlmResponse> out;
    if (const Json* u = key(chunk, "usage", nullptr); u && u->is_object()) usage_ = *u;
    const Json* choices = key(chunk, "choices", nullptr);
    if (!choices || choices->is_null()) return out;
    if (!choices->is_array()) throw MalformedResponseError("OpenAI stream: \"choices\" is not an array");
    for (const Json& choice : *choices) {
        if (!choice.is_object()) throw MalformedResponseError("OpenAI stream: a choice is not an object");
        if (choice.value("index", 0) != 0) continue;  // n > 1: only the first candidate
        if (const Json* d = key(choice, "delta", nullptr); d && d->is_object()) {
            std::string thought = string_or_empty(key(*d, "reasoning_content", nullptr));
            if (thought.empty()) thought = string_or_empty(key(*d, "reasoning", nullptr));
            if (!thought.empty()) {
                thought_ += thought;
                LlmResponse partial;
                Part p = Part::from_text(std::move(thought));
                p.thought = true;
                Content c;
                c.role = "model";
                c.parts.push_back(std::move(p));
                partial.content = std::move(c);
                partial.partial = true;
                out.push_back(std::move(partial));
            }
            if (const Json* c = key(*d, "content", nullptr); c && !c->is_null()) {
                std::string text = content_text(*c);
                if (!text.empty()) {
                    text_ += text;
                    LlmResponse partial;
                    partial.content = Content::model(std::move(text));
                    partial.partial = true;
                    out.push_back(std::move(partial));
                }
            }
            if (const Json* r = key(*d, "refusal", nullptr); r && r->is_string())
                refusal_ = refusal_.value_or("") + r->get<std::string>();
            if (const Json* calls = key(*d, "tool_calls", nullptr); calls && !calls->is_null()) {
                if (!calls->is_array()) throw MalformedResponseError("OpenAI stream: \"tool_calls\" is not an array");
                long position = 0;
                for (const Json& tc : *calls) {
                    if (!tc.is_object()) throw MalformedResponseError("OpenAI stream: a tool-call delta is not an object");
                    long index = position++;
                    if (const Json* i = key(tc, "index", nullptr); i && i->is_number_integer()) index = i->get<long>();
                    Call& call = calls_[index];
                    if (std::string id = string_or_empty(key(tc, "id", nullptr)); !id.empty()) call.id = id;
                    if (const Json* fn = key(tc, "function", nullptr); fn && fn->is_object()) {
                        call.name += string_or_empty(key(*fn, "name", nullptr));
                        if (const Json* a = key(*fn, "arguments", nullptr)) {
                            if (a->is_string())
                                call.arguments += a->get<std::string>();
                            else if (a->is_object())
                                call.arguments += a->dump();
                        }
                    }
                }
            }
        }
        if (const Json* r = key(choice, "finish_reason", nullptr); r && r->is_string()) finish_reason_ = r->get<std::string>();
    }
    return out;
}

LlmResponse StreamAssembler::finish() {
    if (!done_ && !finish_reason_)
        throw TruncatedStreamError("OpenAI stream: the stream ended before [DONE] and before any finish_reason");
    LlmResponse out;
    Content content;
    content.role = "model";
    if (!thought_.empty()) {
        Part p = Part::from_text(thought_);
        p.thought = true;
        content.parts.push_back(std::move(p));
    }
    if (!text_.empty()) content.parts.push_back(Part::from_text(text_));
    for (const auto& [index, call] : calls_) {
        if (call.name.empty())
            throw MalformedResponseError("OpenAI stream: tool call " + std::to_string(index) + " has no name");
        FunctionCall fc;
        fc.id = call.id;
        fc.name = call.name;
        fc.args = parse_arguments(call.arguments, call.name);
        content.parts.push_back(Part::from_function_call(std::move(fc)));
    }
    if (!content.parts.empty()) out.content = std::move(content);
    if (finish_reason_) out.finish_reason = finish_reason_from_openai(*finish_reason_);
    set_error_if_empty(out, finish_reason_, refusal_);
    if (!out.content && !out.error_code) {
        Content empty;
        empty.role = "model";
        out.content = std::move(empty);
    }
    if (usage_) out.usage_metadata = usage_to_metadata(*usage_);
    out.turn_complete = true;
    return out;
}

// --- chunks (server side) ---------------------------------------------------------------------

Json ChunkBuilder::chunk(Json delta, std::optional<std::string> finish_reason) const {
    Json choice{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish_reason_json(finish_reason)}};
    Json c{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model}};
    c["choices"] = Json::array({std::move(choice)});
    return c;
}

Json ChunkBuilder::role_chunk() const { return chunk(Json{{"role", "assistant"}, {"content", ""}}); }

Json ChunkBuilder::text_chunk(std::string_view text) const { return chunk(Json{{"content", text}}); }

Json ChunkBuilder::tool_call_start(int index, const std::string& call_id, const std::string& name) const {
    Json tc{{"index", index},
            {"id", call_id},
            {"type", "function"},
            {"function", {{"name", name}, {"arguments", ""}}}};
    return chunk(Json{{"tool_calls", Json::array({std::move(tc)})}});
}

Json ChunkBuilder::tool_call_arguments(int index, std::string_view arguments_piece) const {
    Json tc{{"index", index}, {"function", {{"arguments", arguments_piece}}}};
    return chunk(Json{{"tool_calls", Json::array({std::move(tc)})}});
}

Json ChunkBuilder::finish_chunk(const std::string& finish_reason) const { return chunk(Json::object(), finish_reason); }

Json ChunkBuilder::usage_chunk(const Json& usage) const {
    Json c{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model}};
    c["choices"] = Json::array();
    c["usage"] = usage;
    return c;
}

}  // namespace openai
}  // namespace adk
