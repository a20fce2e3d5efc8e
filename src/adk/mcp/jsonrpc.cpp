// JSON-RPC 2.0 helpers and MCP errors (adk/mcp/jsonrpc.hpp).
#include "adk/mcp/jsonrpc.hpp"

#include <algorithm>
#include <utility>

namespace adk::mcp {

namespace {
std::string describe(int code, const std::string& message) {
    return "MCP error " + std::to_string(code) + ": " + message;
}
}  // namespace

bool is_supported_protocol_version(std::string_view version) noexcept {
    return std::find(SUPPORTED_PROTOCOL_VERSIONS.begin(), SUPPORTED_PROTOCOL_VERSIONS.end(), version) !=
           SUPPORTED_PROTOCOL_VERSIONS.end();
}

McpError::McpError(int code, std::string message, Json data)
    : std::runtime_error(describe(code, message)), code_(code), message_(std::move(message)), data_(std::move(data)) {}

Json McpError::to_json() const {
    Json j{{"code", code_}, {"message", message_}};
    if (!data_.is_null()) j["data"] = data_;
    return j;
}

McpError error_from_json(const Json& error_object) {
    int code = error_code::INTERNAL_ERROR;
    std::string message = "unknown error";
    Json data = nullptr;
    if (error_object.is_object()) {
        auto c = error_object.find("code");
        if (c != error_object.end() && c->is_number_integer()) code = c->get<int>();
        auto m = error_object.find("message");
        if (m != error_object.end() && m->is_string()) message = m->get<std::string>();
        auto d = error_object.find("data");
        if (d != error_object.end()) data = *d;
    } else if (error_object.is_string()) {
        message = error_object.get<std::string>();
    }
    return McpError(code, std::move(message), std::move(data));
}

MessageKind classify(const Json& m) noexcept {
    if (!m.is_object()) return MessageKind::invalid;
    auto method = m.find("method");
    auto id = m.find("id");
    bool has_id = id != m.end() && (id->is_number_integer() || id->is_string() || id->is_number());
    if (method != m.end()) {
        if (!method->is_string()) return MessageKind::invalid;
        return has_id ? MessageKind::request : MessageKind::notification;
    }
    if (m.contains("error")) return MessageKind::error;  // id may be null
    if (has_id && m.contains("result")) return MessageKind::response;
    return MessageKind::invalid;
}

std::string id_key(const Json& id) {
    if (id.is_string()) return "s:" + id.get<std::string>();
    if (id.is_number_integer()) return "n:" + std::to_string(id.get<std::int64_t>());
    return "j:" + id.dump();
}

Json make_request(const Json& id, std::string_view method, Json params) {
    Json j{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) j["params"] = std::move(params);
    return j;
}

Json make_notification(std::string_view method, Json params) {
    Json j{{"jsonrpc", "2.0"}, {"method", method}};
    if (!params.is_null()) j["params"] = std::move(params);
    return j;
}

Json make_result(const Json& id, Json result) {
    return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error(const Json& id, int code, std::string_view message, Json data) {
    Json err{{"code", code}, {"message", message}};
    if (!data.is_null()) err["data"] = std::move(data);
    return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

}  // namespace adk::mcp
