// Gemini's REST wire format (adk/gemini_format.hpp).
#include "adk/gemini_format.hpp"

#include <set>
#include <stdexcept>

namespace adk::gemini {
namespace {

const Json* key(const Json& j, const char* camel, const char* snake) { return detail::find_key(j, camel, snake); }

std::string string_or_empty(const Json* j) { return j && j->is_string() ? j->get<std::string>() : std::string(); }

std::string snippet(std::string_view s) {
    if (s.size() <= 120) return std::string(s);
    return std::string(s.substr(0, 120)) + "...";
}

std::string upper(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

/// "max_output_tokens" -> "maxOutputTokens"; camelCase stays.
std::string camel(const std::string& k) {
    std::string out;
    bool up = false;
    for (char c : k) {
        if (c == '_') {
            up = true;
            continue;
        }
        out.push_back(up && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
        up = false;
    }
    return out;
}

/// Config keys that are not generation settings.
bool top_level_key(const std::string& k) {
    return k == "safetySettings" || k == "toolConfig" || k == "cachedContent";
}
bool dropped_key(const std::string& k) {
    return k == "systemInstruction" || k == "tools" || k == "labels" || k == "httpOptions" ||
           k == "automaticFunctionCalling";
}

/// Drops ADK's client-side function-call ids ("adk-..."): the model never saw them.
Json content_for_gemini(const Content& c) {
    Content copy = c;
    if (copy.role.empty()) copy.role = "user";
    for (Part& p : copy.parts) {
        if (p.function_call && p.function_call->id.rfind("adk-", 0) == 0) p.function_call->id.clear();
        if (p.function_response && p.function_response->id.rfind("adk-", 0) == 0) p.function_response->id.clear();
    }
    return Json(copy);
}

Content content_from_json(const Json& j, const char* what) {
    if (!j.is_object()) throw MalformedResponseError(std::string("Gemini: ") + what + " is not an object");
    try {
        Content c = j.get<Content>();
        return c;
    } catch (const Json::exception& e) {
        throw MalformedResponseError(std::string("Gemini: malformed ") + what + ": " + e.what());
    }
}

}  // namespace

// --- schemas ------------------------------------------------------------------------------

Json to_gemini_schema(const Json& schema) {
    if (!schema.is_object()) return schema;
    static const std::set<std::string> plain = {"format",     "title",         "description",   "nullable",
                                                "enum",       "maxItems",      "minItems",      "required",
                                                "minProperties", "maxProperties", "minLength",  "maxLength",
                                                "pattern",    "example",       "propertyOrdering", "default",
                                                "minimum",    "maximum"};
    Json out = Json::object();
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        const std::string& k = it.key();
        if (k == "type") {
            if (it->is_string()) {
                out["type"] = upper(it->get<std::string>());
            } else if (it->is_array()) {
                for (const Json& t : *it) {
                    if (!t.is_string()) continue;
                    std::string name = upper(t.get<std::string>());
                    if (name == "NULL")
                        out["nullable"] = true;
                    else if (!out.contains("type"))
                        out["type"] = name;
                }
            }
        } else if (k == "properties" && it->is_object()) {
            Json props = Json::object();
            for (auto p = it->begin(); p != it->end(); ++p) props[p.key()] = to_gemini_schema(*p);
            out["properties"] = std::move(props);
        } else if (k == "items") {
            out["items"] = to_gemini_schema(*it);
        } else if ((k == "anyOf" || k == "oneOf") && it->is_array()) {
            Json alts = Json::array();
            for (const Json& a : *it) alts.push_back(to_gemini_schema(a));
            out["anyOf"] = std::move(alts);
        } else if (k == "const") {
            out["enum"] = Json::array({*it});
        } else if (plain.count(k)) {
            out[k] = *it;
        }
        // Everything else ($schema, additionalProperties, $ref...) is not
        // part of genai's Schema and would be refused.
    }
    return out;
}

// --- requests ------------------------------------------------------------------------------

Json to_request(const LlmRequest& request) {
    Json body = Json::object();
    Json contents = Json::array();
    for (const Content& c : request.contents) contents.push_back(content_for_gemini(c));
    body["contents"] = std::move(contents);
    if (!request.system_instruction.empty())
        body["systemInstruction"] = Json{{"parts", Json::array({Json{{"text", request.system_instruction}}})}};
    if (!request.function_declarations.empty()) {
        Json decls = Json::array();
        for (const Json& d : request.function_declarations) {
            Json decl = Json::object();
            decl["name"] = d.value("name", "");
            if (d.contains("description")) decl["description"] = d["description"];
            if (const Json* p = key(d, "parameters", nullptr); p && p->is_object())
                decl["parameters"] = to_gemini_schema(*p);
            else if (const Json* pj = key(d, "parametersJsonSchema", "parameters_json_schema"))
                decl["parametersJsonSchema"] = *pj;
            if (const Json* r = key(d, "response", nullptr); r && r->is_object()) decl["response"] = to_gemini_schema(*r);
            decls.push_back(std::move(decl));
        }
        body["tools"] = Json::array({Json{{"functionDeclarations", std::move(decls)}}});
    }
    if (request.config.is_object()) {
        Json generation = Json::object();
        for (auto it = request.config.begin(); it != request.config.end(); ++it) {
            std::string k = camel(it.key());
            if (it->is_null() || dropped_key(k)) continue;
            if (top_level_key(k))
                body[k] = *it;
            else
                generation[k] = *it;
        }
        if (!generation.empty()) body["generationConfig"] = std::move(generation);
    }
    return body;
}

LlmRequest request_from_json(const Json& body, std::string model) {
    if (!body.is_object()) throw std::invalid_argument("generateContent: the request body must be a JSON object");
    LlmRequest req;
    req.model = std::move(model);
    const Json* contents = key(body, "contents", nullptr);
    if (!contents || !contents->is_array()) throw std::invalid_argument("generateContent: \"contents\" must be an array");
    for (const Json& c : *contents) {
        try {
            req.contents.push_back(c.get<Content>());
        } catch (const Json::exception& e) {
            throw std::invalid_argument(std::string("generateContent: malformed content: ") + e.what());
        }
        if (req.contents.back().role.empty()) req.contents.back().role = "user";
    }
    if (const Json* si = key(body, "systemInstruction", "system_instruction")) {
        if (si->is_string()) {
            req.append_instructions(si->get<std::string>());
        } else if (si->is_object()) {
            if (const Json* parts = key(*si, "parts", nullptr); parts && parts->is_array())
                for (const Json& p : *parts)
                    if (p.is_object() && p.contains("text") && p["text"].is_string())
                        req.append_instructions(p["text"].get<std::string>());
        }
    }
    if (const Json* tools = key(body, "tools", nullptr); tools && tools->is_array())
        for (const Json& t : *tools)
            if (const Json* decls = key(t, "functionDeclarations", "function_declarations"); decls && decls->is_array())
                for (const Json& d : *decls) req.function_declarations.push_back(d);
    if (const Json* g = key(body, "generationConfig", "generation_config"); g && g->is_object())
        for (auto it = g->begin(); it != g->end(); ++it) req.config[camel(it.key())] = *it;
    for (const char* k : {"safetySettings", "toolConfig", "cachedContent"})
        if (const Json* v = key(body, k, nullptr)) req.config[k] = *v;
    return req;
}

// --- responses ------------------------------------------------------------------------------

std::string status_name(int http_status) {
    switch (http_status) {
        case 400: return "INVALID_ARGUMENT";
        case 401: return "UNAUTHENTICATED";
        case 403: return "PERMISSION_DENIED";
        case 404: return "NOT_FOUND";
        case 409: return "ABORTED";
        case 429: return "RESOURCE_EXHAUSTED";
        case 499: return "CANCELLED";
        case 500: return "INTERNAL";
        case 501: return "UNIMPLEMENTED";
        case 503: return "UNAVAILABLE";
        case 504: return "DEADLINE_EXCEEDED";
        default: return http_status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

Json error_body(int status, std::string_view message) {
    return Json{{"error", {{"code", status}, {"message", message}, {"status", status_name(status)}}}};
}

ModelApiError error_from_body(int status, std::string_view body) {
    Json j = Json::parse(body, nullptr, false);
    // Google APIs may wrap the error object in an array.
    if (!j.is_discarded() && j.is_array() && !j.empty()) j = j[0];
    if (!j.is_discarded() && j.is_object()) {
        if (const Json* e = key(j, "error", nullptr); e && e->is_object()) {
            std::string code = string_or_empty(key(*e, "status", nullptr));
            int s = status;
            if (const Json* c = key(*e, "code", nullptr); c && c->is_number_integer() && s == 0) s = c->get<int>();
            std::string message = string_or_empty(key(*e, "message", nullptr));
            return ModelApiError(s, code, message.empty() ? e->dump() : message);
        }
    }
    return ModelApiError(status, "", body.empty() ? "HTTP " + std::to_string(status) : snippet(body));
}

LlmResponse response_from_json(const Json& body) {
    if (!body.is_object()) throw MalformedResponseError("Gemini response: not a JSON object: " + snippet(body.dump()));
    if (const Json* e = key(body, "error", nullptr); e && !e->is_null()) throw error_from_body(0, body.dump());
    LlmResponse out;
    if (const Json* u = key(body, "usageMetadata", "usage_metadata"); u && u->is_object()) out.usage_metadata = *u;
    const Json* candidates = key(body, "candidates", nullptr);
    if (candidates && !candidates->is_array())
        throw MalformedResponseError("Gemini response: \"candidates\" is not an array");
    if (candidates && !candidates->empty()) {
        const Json& cand = (*candidates)[0];
        if (!cand.is_object()) throw MalformedResponseError("Gemini response: a candidate is not an object");
        std::optional<std::string> reason;
        if (const Json* r = key(cand, "finishReason", "finish_reason"); r && r->is_string()) reason = r->get<std::string>();
        if (const Json* g = key(cand, "groundingMetadata", "grounding_metadata"); g && g->is_object())
            out.grounding_metadata = *g;
        const Json* content = key(cand, "content", nullptr);
        Content c;
        if (content && !content->is_null()) c = content_from_json(*content, "candidate content");
        if (!c.parts.empty()) {
            if (c.role.empty()) c.role = "model";
            out.content = std::move(c);
            out.finish_reason = reason;
        } else {
            out.error_code = reason.value_or("UNKNOWN_ERROR");
            out.error_message = string_or_empty(key(cand, "finishMessage", "finish_message"));
            out.finish_reason = reason;
        }
    } else {
        const Json* feedback = key(body, "promptFeedback", "prompt_feedback");
        std::string block = feedback ? string_or_empty(key(*feedback, "blockReason", "block_reason")) : "";
        if (!block.empty()) {
            out.error_code = block;
            out.error_message = string_or_empty(key(*feedback, "blockReasonMessage", "block_reason_message"));
        } else {
            out.error_code = "UNKNOWN_ERROR";
            out.error_message = "Unknown error.";
        }
    }
    out.turn_complete = true;
    return out;
}

LlmResponse parse_response(std::string_view body) {
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded()) throw MalformedResponseError("Gemini response: not JSON: " + snippet(body));
    return response_from_json(j);
}

Json response_to_json(const LlmResponse& response, const std::string& model_version) {
    Json cand{{"index", 0}};
    if (response.content && !response.content->parts.empty()) {
        Content c = *response.content;
        if (c.role.empty()) c.role = "model";
        cand["content"] = Json(c);
        cand["finishReason"] = response.finish_reason.value_or("STOP");
    } else if (response.error_code) {
        cand["finishReason"] = *response.error_code;
        if (response.error_message) cand["finishMessage"] = *response.error_message;
    } else {
        cand["content"] = Json{{"role", "model"}, {"parts", Json::array()}};
        cand["finishReason"] = response.finish_reason.value_or("STOP");
    }
    Json body = Json::object();
    body["candidates"] = Json::array({std::move(cand)});
    if (response.usage_metadata) body["usageMetadata"] = *response.usage_metadata;
    if (!model_version.empty()) body["modelVersion"] = model_version;
    return body;
}

// --- streaming ------------------------------------------------------------------------------

std::vector<LlmResponse> StreamAssembler::feed(std::string_view data) {
    while (!data.empty() && (data.back() == ' ' || data.back() == '\n' || data.back() == '\r')) data.remove_suffix(1);
    if (data.empty()) return {};
    Json chunk = Json::parse(data, nullptr, false);
    if (chunk.is_discarded()) throw MalformedResponseError("Gemini stream: a chunk is not JSON: " + snippet(data));
    return feed_json(chunk);
}

std::vector<LlmResponse> StreamAssembler::feed_json(const Json& chunk) {
    if (!chunk.is_object()) throw MalformedResponseError("Gemini stream: a chunk is not an object");
    if (const Json* e = key(chunk, "error", nullptr); e && !e->is_null()) throw error_from_body(0, chunk.dump());
    any_chunk_ = true;
    std::vector<LlmResponse> out;
    if (const Json* u = key(chunk, "usageMetadata", "usage_metadata"); u && u->is_object()) usage_ = *u;
    if (const Json* f = key(chunk, "promptFeedback", "prompt_feedback"); f && f->is_object()) {
        std::string block = string_or_empty(key(*f, "blockReason", "block_reason"));
        if (!block.empty()) {
            block_reason_ = block;
            block_message_ = string_or_empty(key(*f, "blockReasonMessage", "block_reason_message"));
        }
    }
    const Json* candidates = key(chunk, "candidates", nullptr);
    if (!candidates || candidates->is_null()) return out;
    if (!candidates->is_array()) throw MalformedResponseError("Gemini stream: \"candidates\" is not an array");
    if (candidates->empty()) return out;
    const Json& cand = (*candidates)[0];
    if (!cand.is_object()) throw MalformedResponseError("Gemini stream: a candidate is not an object");
    if (const Json* content = key(cand, "content", nullptr); content && !content->is_null()) {
        Content c = content_from_json(*content, "streamed content");
        for (Part& p : c.parts) {
            if (p.text && !p.function_call && !p.function_response) {
                bool thought = p.thought.value_or(false);
                if (thought)
                    thought_ += *p.text;
                else
                    text_ += *p.text;
                if (p.text->empty()) continue;
                LlmResponse partial;
                Content pc;
                pc.role = "model";
                pc.parts.push_back(std::move(p));
                partial.content = std::move(pc);
                partial.partial = true;
                out.push_back(std::move(partial));
            } else {
                other_parts_.push_back(std::move(p));
            }
        }
    }
    if (const Json* r = key(cand, "finishReason", "finish_reason"); r && r->is_string()) finish_reason_ = r->get<std::string>();
    if (const Json* m = key(cand, "finishMessage", "finish_message"); m && m->is_string()) finish_message_ = m->get<std::string>();
    if (const Json* g = key(cand, "groundingMetadata", "grounding_metadata"); g && g->is_object()) grounding_ = *g;
    return out;
}

LlmResponse StreamAssembler::finish() {
    if (!finish_reason_ && !block_reason_)
        throw TruncatedStreamError(any_chunk_ ? "Gemini stream: the stream ended before a chunk with a finishReason"
                                              : "Gemini stream: the stream ended before its first chunk");
    LlmResponse out;
    Content c;
    c.role = "model";
    if (!thought_.empty()) {
        Part p = Part::from_text(thought_);
        p.thought = true;
        c.parts.push_back(std::move(p));
    }
    if (!text_.empty()) c.parts.push_back(Part::from_text(text_));
    for (const Part& p : other_parts_) c.parts.push_back(p);
    if (!c.parts.empty()) {
        out.content = std::move(c);
        out.finish_reason = finish_reason_;
    } else if (block_reason_ && !finish_reason_) {
        out.error_code = block_reason_;
        out.error_message = block_message_;
    } else {
        out.error_code = finish_reason_.value_or("UNKNOWN_ERROR");
        out.error_message = finish_message_.value_or("");
        out.finish_reason = finish_reason_;
    }
    if (usage_) out.usage_metadata = usage_;
    if (grounding_) out.grounding_metadata = grounding_;
    out.turn_complete = true;
    return out;
}

}  // namespace adk::gemini
