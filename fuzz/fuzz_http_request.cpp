// libFuzzer target: aio::http::RequestParser (libhttp-parser underneath)
// over arbitrary bytes, with small limits so that every limit is reached.
//
// Byte 0 picks the split: the rest of the input is parsed twice, once fed
// whole and once in pieces of 1..16 bytes (sizes drawn from byte 0 as a
// seed), taking each complete request (pipelining) until an error or the
// end. Checked:
//   - both feedings give the same sequence of requests (method, target,
//     path, query, headers, body, keep-alive) and end in the same state
//     (the parse does not depend on how the bytes arrive). Only the status
//     of an error may differ: a limit (431) is checked when libhttp-parser
//     hands over a piece of a field, which happens at the end of each fed
//     buffer, so a field that is both too long and malformed can be
//     reported as either;
//   - feed() never consumes more than it is given and never loops without
//     progress; an error comes with a status in {400, 413, 414, 431} and a
//     message;
//   - limits hold: header count and body size never exceed them.
//
// Build and run: fuzz/run.sh [seconds] (clang++-16 with -fsanitize=fuzzer).
#include <aio/http/server.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using aio::http::RequestParser;
using aio::http::ServerRequest;

constexpr std::size_t kMaxHeaderBytes = 512;
constexpr std::size_t kMaxHeaders = 8;
constexpr std::size_t kMaxBody = 256;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_http_request: %s\n", what);
    std::abort();
}

std::string describe(const ServerRequest& r) {
    std::string out = r.method + '\n' + r.target + '\n' + r.path + '\n' + r.query + '\n';
    for (const auto& [k, v] : r.headers) out += k + ':' + v + '\n';
    out += std::to_string(r.body.size()) + ':' + r.body + '\n';
    out += r.keep_alive ? "ka\n" : "close\n";
    out += r.upgrade ? "upgrade\n" : "";
    return out;
}

struct Outcome {
    std::vector<std::string> requests;
    std::string end;  // "more", or "error <status>"
};

RequestParser::Limits limits() {
    RequestParser::Limits l;
    l.max_header_bytes = kMaxHeaderBytes;
    l.max_headers = kMaxHeaders;
    l.max_body_bytes = kMaxBody;
    return l;
}

void check_request(const ServerRequest& r) {
    if (r.headers.size() > kMaxHeaders) fail("more headers than the limit");
    if (r.body.size() > kMaxBody) fail("a body over the limit");
    if (r.method.empty()) fail("a request without a method");
}

/// Feeds `data` in pieces whose sizes come from `seed` (0: whole).
Outcome parse(std::string_view data, std::uint8_t seed) {
    Outcome out;
    RequestParser p(limits());
    std::uint32_t rng = seed * 2654435761u + 1;
    std::size_t off = 0;
    std::string_view pending;
    while (true) {
        if (pending.empty()) {
            if (off >= data.size()) break;
            std::size_t n = data.size() - off;
            if (seed != 0) {
                rng = rng * 1103515245u + 12345u;
                n = std::min<std::size_t>(n, 1 + (rng >> 16) % 16);
            }
            pending = data.substr(off, n);
            off += n;
        }
        std::size_t used = p.feed(pending);
        if (used > pending.size()) fail("feed consumed more than it was given");
        pending.remove_prefix(used);
        if (p.status() == RequestParser::Status::complete) {
            ServerRequest r = p.take();
            check_request(r);
            bool last = !r.keep_alive;
            out.requests.push_back(describe(r));
            if (last) {  // nothing may follow a non-keep-alive request
                out.end = "closed";
                return out;
            }
            continue;
        }
        if (p.status() == RequestParser::Status::error) {
            int s = p.error_status();
            if (s != 400 && s != 413 && s != 414 && s != 431) fail("unexpected error status");
            if (p.error_message().empty()) fail("an error without a message");
            out.end = "error";
            return out;
        }
        if (used == 0 && !pending.empty()) fail("no progress on a need_more parser");
    }
    p.feed_eof();
    out.end = p.status() == RequestParser::Status::error ? "eof-error" : "more";
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::uint8_t seed = data[0];
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    Outcome whole = parse(bytes, 0);
    Outcome split = parse(bytes, seed == 0 ? 1 : seed);
    if (whole.requests != split.requests) {
        for (const auto& r : whole.requests) std::fprintf(stderr, "whole:\n%s", r.c_str());
        for (const auto& r : split.requests) std::fprintf(stderr, "split:\n%s", r.c_str());
        fail("the requests depend on how the bytes were split");
    }
    if (whole.end != split.end) fail("the final state depends on how the bytes were split");
    return 0;
}
