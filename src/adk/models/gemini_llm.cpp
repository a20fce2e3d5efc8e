// adk::GeminiLlm (adk/gemini_llm.hpp).
#include "adk/gemini_llm.hpp"

#include <stdexcept>
#include <string_view>

#include "model_http.hpp"

namespace adk {

namespace {

GeminiLlm::Options resolve(GeminiLlm::Options o) {
    if (o.base_url.empty()) o.base_url = detail::model_http::env_or_empty("GOOGLE_GEMINI_BASE_URL");
    if (o.base_url.empty()) o.base_url = "https://generativelanguage.googleapis.com/v1beta";
    o.base_url = detail::model_http::normalize_base_url(std::move(o.base_url), "GeminiLlm");
    if (!o.api_key) {
        std::string key = detail::model_http::env_or_empty("GEMINI_API_KEY");
        if (key.empty()) key = detail::model_http::env_or_empty("GOOGLE_API_KEY");
        o.api_key = std::move(key);
    }
    if (!o.extra_body.is_object() && !o.extra_body.is_null())
        throw std::invalid_argument("GeminiLlm: extra_body must be a JSON object");
    return o;
}

/// "models/gemini-x" (the API's resource name) and LiteLLM's "gemini/gemini-x" are "gemini-x".
std::string strip_prefix(std::string model) {
    for (std::string_view prefix : {std::string_view("models/"), std::string_view("gemini/")})
        if (model.size() > prefix.size() && model.compare(0, prefix.size(), prefix) == 0)
            return model.substr(prefix.size());
    return model;
}

/// Percent-encodes what may not appear in a path segment as is.
std::string path_segment(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

GeminiLlm::GeminiLlm(Options options) : BaseLlm(options.model), options_(resolve(std::move(options))) {}

GeminiLlm::GeminiLlm(std::string model) : GeminiLlm([&] {
    Options o;
    o.model = std::move(model);
    return o;
}()) {}

std::shared_ptr<GeminiLlm> GeminiLlm::make(Options options) { return std::make_shared<GeminiLlm>(std::move(options)); }

std::string GeminiLlm::wire_model(const std::string& request_model) const {
    return strip_prefix(options_.model.empty() ? request_model : options_.model);
}

std::string GeminiLlm::endpoint(bool stream, const std::string& request_model) const {
    std::string url = options_.base_url + "/models/" + path_segment(wire_model(request_model));
    return url + (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

aio::AsyncGenerator<LlmResponse> GeminiLlm::generate_content(LlmRequest request, bool stream) {
    std::string model = wire_model(request.model);
    if (model.empty()) throw std::invalid_argument("GeminiLlm: no model name (neither in the options nor in the request)");
    Json body = gemini::to_request(request);
    std::optional<std::pair<std::string, std::string>> auth;
    if (options_.api_key && !options_.api_key->empty()) auth.emplace("x-goog-api-key", *options_.api_key);
    detail::model_http::ModelHttpCall call =
        detail::model_http::make_call(options_, "Gemini", endpoint(stream, request.model), std::move(body), stream,
                                      std::move(auth), &gemini::error_from_body);

    aio::AsyncGenerator<LlmResponse> calling =
        detail::model_http::model_call<gemini::StreamAssembler>(options_.client, std::move(call), &gemini::parse_response);
    co_yield aio::yield_from(std::move(calling));
}

void register_gemini_models(LlmRegistry& registry) {
    detail::model_http::register_factory_once(registry, "gemini-.*", [](const std::string& name) -> std::shared_ptr<BaseLlm> {
        return std::make_shared<GeminiLlm>(name);
    });
}

}  // namespace adk
