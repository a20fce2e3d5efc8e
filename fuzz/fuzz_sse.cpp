// libFuzzer target: aio::http::SseParser over arbitrary bytes cut into
// arbitrary chunks.
//
// The input is: 2 bytes seeding the chunk sizes, then the stream. The stream
// is parsed three ways — in one chunk, in chunks of pseudo-random sizes (0
// to 16 bytes, empty chunks included), and one byte at a time — and
// checked:
//   - the three give the same events, last event ID and retry (chunk
//     boundaries never change the result);
//   - every field is valid UTF-8 (invalid input became U+FFFD);
//   - the event type is never empty and holds no CR or LF; the ID holds no
//     CR, LF or NUL; the data holds no CR;
//   - after finish(), feeding a second copy of the stream gives the same
//     events again, apart from the carried-over ID (parsers are reusable).
//
// Build and run: fuzz/run.sh [seconds] (clang++-16 with -fsanitize=fuzzer).
#include <aio/http/sse.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
            std::abort();                                                            \
        }                                                                            \
    } while (0)

using aio::http::SseEvent;
using aio::http::SseParser;

struct Outcome {
    std::vector<SseEvent> events;
    std::string last_id;
    std::optional<std::chrono::milliseconds> retry;
    bool operator==(const Outcome&) const = default;
};

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            ++i;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        for (int k = 1; k <= need; ++k) {
            if (i + k >= s.size()) return false;
            const auto c = static_cast<unsigned char>(s[i + k]);
            if (c < lo || c > hi) return false;
            lo = 0x80;
            hi = 0xBF;
        }
        i += need + 1;
    }
    return true;
}

Outcome finish(SseParser& p, std::vector<SseEvent> events) {
    p.finish();
    return Outcome{std::move(events), p.last_event_id(), p.retry()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::uint32_t rng = (std::uint32_t(data[0]) << 8 | data[1]) * 2654435761u + 1;
    std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    SseParser whole;
    Outcome a = finish(whole, whole.feed(stream));

    SseParser pieces;
    std::vector<SseEvent> b_events;
    for (std::size_t at = 0; at < stream.size();) {
        rng = rng * 1103515245u + 12345u;
        std::size_t n = (rng >> 16) % 17;
        if (n > stream.size() - at) n = stream.size() - at;
        pieces.feed(stream.substr(at, n), b_events);
        at += n;
    }
    Outcome b = finish(pieces, std::move(b_events));

    SseParser bytes;
    std::vector<SseEvent> c_events;
    for (std::size_t i = 0; i < stream.size(); ++i) bytes.feed(stream.substr(i, 1), c_events);
    Outcome c = finish(bytes, std::move(c_events));

    FUZZ_CHECK(a == b);
    FUZZ_CHECK(a == c);
    for (const SseEvent& e : a.events) {
        FUZZ_CHECK(!e.event.empty());
        FUZZ_CHECK(e.event.find_first_of("\r\n") == std::string::npos);
        FUZZ_CHECK(e.id.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
        FUZZ_CHECK(e.data.find('\r') == std::string::npos);
        FUZZ_CHECK(valid_utf8(e.event) && valid_utf8(e.id) && valid_utf8(e.data));
        FUZZ_CHECK(e.retry == std::nullopt || e.retry->count() >= 0);
    }
    FUZZ_CHECK(valid_utf8(a.last_id));

    // Reuse after finish(): a second stream parses as the first did, except
    // that events before the first `id` carry the ID remembered from it.
    std::vector<SseEvent> again = whole.feed(stream);
    whole.finish();
    FUZZ_CHECK(again.size() == a.events.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
        FUZZ_CHECK(again[i].event == a.events[i].event);
        FUZZ_CHECK(again[i].data == a.events[i].data);
    }
    return 0;
}
