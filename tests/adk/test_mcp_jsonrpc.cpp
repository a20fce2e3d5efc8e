// adk::mcp's JSON-RPC helpers and errors (adk/mcp/jsonrpc.hpp): message
// classification, ids of either type, builders, error objects, versions.
#include <gtest/gtest.h>

#include "adk/mcp/jsonrpc.hpp"

namespace {

using namespace adk::mcp;

TEST(McpJsonRpc, ClassifiesEveryKindOfMessage) {
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":1,"method":"ping"})")), MessageKind::request);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":"a","method":"ping"})")), MessageKind::request);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":0,"method":"roots/list"})")), MessageKind::request);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","method":"notifications/progress"})")),
              MessageKind::notification);
    // Key order as server-everything sends it: result first.
    EXPECT_EQ(classify(Json::parse(R"({"result":{},"jsonrpc":"2.0","id":3})")), MessageKind::response);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"x"}})")),
              MessageKind::error);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"x"}})")),
              MessageKind::error);
    EXPECT_EQ(classify(Json::parse(R"({"jsonrpc":"2.0","id":3})")), MessageKind::invalid);
    EXPECT_EQ(classify(Json::parse(R"({"method":7})")), MessageKind::invalid);
    EXPECT_EQ(classify(Json::parse(R"([1,2])")), MessageKind::invalid);
    EXPECT_EQ(classify(Json("text")), MessageKind::invalid);
}

TEST(McpJsonRpc, NumberAndStringIdsNeverCollide) {
    EXPECT_NE(id_key(Json(5)), id_key(Json("5")));
    EXPECT_EQ(id_key(Json(5)), id_key(Json::parse("5")));
    EXPECT_EQ(id_key(Json("abc")), id_key(Json::parse(R"("abc")")));
    EXPECT_EQ(id_key(Json(0)), "n:0");
}

TEST(McpJsonRpc, BuildsMessages) {
    EXPECT_EQ(make_request(7, "tools/list", Json::object()),
              Json::parse(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}})"));
    EXPECT_EQ(make_request("x", "ping"), Json::parse(R"({"jsonrpc":"2.0","id":"x","method":"ping"})"));
    EXPECT_EQ(make_notification("notifications/initialized"),
              Json::parse(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    EXPECT_EQ(make_result(0, Json::object()), Json::parse(R"({"jsonrpc":"2.0","id":0,"result":{}})"));
    EXPECT_EQ(make_error("q", -32601, "Method not found"),
              Json::parse(R"({"jsonrpc":"2.0","id":"q","error":{"code":-32601,"message":"Method not found"}})"));
    EXPECT_EQ(make_error(1, -1, "no", Json{{"why", "user"}})["error"]["data"]["why"], "user");
}

TEST(McpJsonRpc, ErrorObjectsBecomeTypedErrors) {
    McpError e = error_from_json(Json::parse(R"({"code":-32602,"message":"bad","data":{"field":"a"}})"));
    EXPECT_EQ(e.code(), -32602);
    EXPECT_EQ(e.message(), "bad");
    EXPECT_EQ(e.data()["field"], "a");
    EXPECT_STREQ(e.what(), "MCP error -32602: bad");
    EXPECT_EQ(e.to_json(), Json::parse(R"({"code":-32602,"message":"bad","data":{"field":"a"}})"));
    McpError partial = error_from_json(Json::parse(R"({"message":"only text"})"));
    EXPECT_EQ(partial.code(), error_code::INTERNAL_ERROR);
    McpError odd = error_from_json(Json("just a string"));
    EXPECT_EQ(odd.message(), "just a string");
}

TEST(McpJsonRpc, TheErrorHierarchy) {
    McpProtocolError p("garbage");
    const McpConnectionError& c = p;
    const std::runtime_error& r = p;
    EXPECT_EQ(c.code(), error_code::CONNECTION_CLOSED);
    EXPECT_NE(std::string(r.what()).find("garbage"), std::string::npos);
    McpTimeoutError t("slow");
    EXPECT_EQ(t.code(), error_code::REQUEST_TIMEOUT);
    McpHttpStatusError h(503, error_code::INTERNAL_ERROR, "HTTP 503");
    EXPECT_EQ(h.status(), 503);
}

TEST(McpJsonRpc, SupportedProtocolVersions) {
    EXPECT_EQ(LATEST_PROTOCOL_VERSION, "2025-11-25");
    for (const char* v : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"})
        EXPECT_TRUE(is_supported_protocol_version(v)) << v;
    for (const char* v : {"2024-10-07", "1999-01-01", ""}) EXPECT_FALSE(is_supported_protocol_version(v)) << v;
}

}  // namespace
