// adk::OpenAiLlm (adk/openai_llm.hpp).
#include "adk/openai_llm.hpp"

#include <stdexcept>

#include "model_http.hpp"

namespace adk {

namespace {

OpenAiLlm::Options resolve(OpenAiLlm::Options o) {
    if (o.base_url.empty()) o.base_url = detail::model_http::env_or_empty("OPENAI_BASE_URL");
    if (o.base_url.empty()) o.base_url = "https://api.openai.com/v1";
    o.base_url = detail::model_http::normalize_base_url(std::move(o.base_url), "OpenAiLlm");
    if (!o.api_key) o.api_key = detail::model_http::env_or_empty("OPENAI_API_KEY");
    if (!o.extra_body.is_object() && !o.extra_body.is_null())
        throw std::invalid_argument("OpenAiLlm: extra_body must be a JSON object");
    return o;
}

std::string strip_prefix(const std::string& model) {
    static const std::string prefix = "openai/";
    return model.rfind(prefix, 0) == 0 ? model.substr(prefix.size()) : model;
}

}  // namespace

OpenAiLlm::OpenAiLlm(Options options) : BaseLlm(options.model), options_(resolve(std::move(options))) {}

OpenAiLlm::OpenAiLlm(std::string model) : OpenAiLlm([&] {
    Options o;
    o.model = std::move(model);
    return o;
}()) {}

std::shared_ptr<OpenAiLlm> OpenAiLlm::make(Options options) { return std::make_shared<OpenAiLlm>(std::move(options)); }

std::string OpenAiLlm::wire_model(const std::string& request_model) const {
    return strip_prefix(options_.model.empty() ? request_model : options_.model);
}

aio::AsyncGenerator<LlmResponse> OpenAiLlm::generate_content(LlmRequest request, bool stream) {
    std::string model = wire_model(request.model);
    if (model.empty()) throw std::invalid_argument("OpenAiLlm: no model name (neither in the options nor in the request)");
    openai::RequestOptions wire;
    wire.stream = stream;
    wire.include_usage = options_.include_usage;
    Json body = openai::to_request(request, wire);
    body["model"] = model;
    std::optional<std::pair<std::string, std::string>> auth;
    if (options_.api_key && !options_.api_key->empty()) auth.emplace("Authorization", "Bearer " + *options_.api_key);
    detail::model_http::ModelHttpCall call = detail::model_http::make_call(
        options_, "OpenAI", endpoint(), std::move(body), stream, std::move(auth), &openai::error_from_body);

    aio::AsyncGenerator<LlmResponse> calling =
        detail::model_http::model_call<openai::StreamAssembler>(options_.client, std::move(call), &openai::parse_response);
    co_yield aio::yield_from(std::move(calling));
}

void register_openai_models(LlmRegistry& registry) {
    detail::model_http::register_factory_once(registry, "openai/.*", [](const std::string& name) -> std::shared_ptr<BaseLlm> {
        return std::make_shared<OpenAiLlm>(name);
    });
}

}  // namespace adk
