// adk::Content and its parts: ADK's genai JSON (adk/content.hpp).
#include "adk/content.hpp"

namespace adk {

namespace detail {
const Json* find_key(const Json& j, const char* camel, const char* snake) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(camel);
    if (it != j.end() && !it->is_null()) return &*it;
    if (snake) {
        it = j.find(snake);
        if (it != j.end() && !it->is_null()) return &*it;
    }
    return nullptr;
}
}  // namespace detail

namespace {
std::string get_string(const Json& j, const char* camel, const char* snake = nullptr) {
    const Json* v = detail::find_key(j, camel, snake);
    return v ? v->get<std::string>() : std::string();
}
}  // namespace

Part Part::from_text(std::string text) {
    Part p;
    p.text = std::move(text);
    return p;
}
Part Part::from_function_call(FunctionCall call) {
    Part p;
    p.function_call = std::move(call);
    return p;
}
Part Part::from_function_response(FunctionResponse response) {
    Part p;
    p.function_response = std::move(response);
    return p;
}

Content Content::user(std::string text) {
    Content c;
    c.role = "user";
    c.parts.push_back(Part::from_text(std::move(text)));
    return c;
}
Content Content::model(std::string text) {
    Content c;
    c.role = "model";
    c.parts.push_back(Part::from_text(std::move(text)));
    return c;
}
std::string Content::text() const {
    std::string out;
    for (const Part& p : parts)
        if (p.text && !p.thought.value_or(false)) out += *p.text;
    return out;
}

void to_json(Json& j, const FunctionCall& v) {
    j = Json::object();
    if (!v.id.empty()) j["id"] = v.id;
    j["name"] = v.name;
    j["args"] = v.args.is_null() ? Json::object() : v.args;
}
void from_json(const Json& j, FunctionCall& v) {
    v.id = get_string(j, "id");
    v.name = get_string(j, "name");
    const Json* a = detail::find_key(j, "args", nullptr);
    v.args = a ? *a : Json::object();
}
void to_json(Json& j, const FunctionResponse& v) {
    j = Json::object();
    if (!v.id.empty()) j["id"] = v.id;
    j["name"] = v.name;
    j["response"] = v.response.is_null() ? Json::object() : v.response;
}
void from_json(const Json& j, FunctionResponse& v) {
    v.id = get_string(j, "id");
    v.name = get_string(j, "name");
    const Json* r = detail::find_key(j, "response", nullptr);
    v.response = r ? *r : Json::object();
}
void to_json(Json& j, const Blob& v) {
    j = Json::object();
    if (!v.mime_type.empty()) j["mimeType"] = v.mime_type;
    j["data"] = v.data;
}
void from_json(const Json& j, Blob& v) {
    v.mime_type = get_string(j, "mimeType", "mime_type");
    v.data = get_string(j, "data");
}
void to_json(Json& j, const FileData& v) {
    j = Json::object();
    j["fileUri"] = v.file_uri;
    if (!v.mime_type.empty()) j["mimeType"] = v.mime_type;
}
void from_json(const Json& j, FileData& v) {
    v.file_uri = get_string(j, "fileUri", "file_uri");
    v.mime_type = get_string(j, "mimeType", "mime_type");
}

void to_json(Json& j, const Part& v) {
    j = Json::object();
    if (v.text) j["text"] = *v.text;
    if (v.thought) j["thought"] = *v.thought;
    if (v.thought_signature) j["thoughtSignature"] = *v.thought_signature;
    if (v.inline_data) j["inlineData"] = *v.inline_data;
    if (v.file_data) j["fileData"] = *v.file_data;
    if (v.function_call) j["functionCall"] = *v.function_call;
    if (v.function_response) j["functionResponse"] = *v.function_response;
    if (v.executable_code) j["executableCode"] = *v.executable_code;
    if (v.code_execution_result) j["codeExecutionResult"] = *v.code_execution_result;
}
void from_json(const Json& j, Part& v) {
    v = Part{};
    if (const Json* x = detail::find_key(j, "text", nullptr)) v.text = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "thought", nullptr)) v.thought = x->get<bool>();
    if (const Json* x = detail::find_key(j, "thoughtSignature", "thought_signature"))
        v.thought_signature = x->get<std::string>();
    if (const Json* x = detail::find_key(j, "inlineData", "inline_data")) v.inline_data = x->get<Blob>();
    if (const Json* x = detail::find_key(j, "fileData", "file_data")) v.file_data = x->get<FileData>();
    if (const Json* x = detail::find_key(j, "functionCall", "function_call")) v.function_call = x->get<FunctionCall>();
    if (const Json* x = detail::find_key(j, "functionResponse", "function_response"))
        v.function_response = x->get<FunctionResponse>();
    if (const Json* x = detail::find_key(j, "executableCode", "executable_code")) v.executable_code = *x;
    if (const Json* x = detail::find_key(j, "codeExecutionResult", "code_execution_result"))
        v.code_execution_result = *x;
}

void to_json(Json& j, const Content& v) {
    j = Json::object();
    Json parts = Json::array();
    for (const Part& p : v.parts) parts.push_back(p);
    j["parts"] = std::move(parts);
    if (!v.role.empty()) j["role"] = v.role;
}
void from_json(const Json& j, Content& v) {
    v.role = get_string(j, "role");
    v.parts.clear();
    if (const Json* ps = detail::find_key(j, "parts", nullptr))
        for (const Json& p : *ps) v.parts.push_back(p.get<Part>());
}

}  // namespace adk
