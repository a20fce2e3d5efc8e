// libFuzzer target: StreamReader's parsing (read, readline, readuntil with
// one or several separators, readexactly) over arbitrary data fed in
// arbitrary chunks, with a small limit so overruns happen.
//
// The input is a script. Byte 0 picks the limit (1..64). Then, per step,
// one byte chooses an operation for the reader task and one byte the size
// of the next chunk the feeder task feeds; the rest of the input is the
// stream's data. The feeder yields between chunks so reads really wait.
//
// Checked after every operation, against a model of the stream:
//   - what a read returns is exactly the next bytes of the stream;
//   - readuntil's result ends with a separator that occurs nowhere earlier,
//     and is longer than the limit never;
//   - a LimitOverrunError from readuntil consumes nothing;
//   - an IncompleteReadError happens only at EOF and carries the rest;
//   - consumed + buffered == fed, always.
//
// Build and run: fuzz/run.sh [seconds] (clang++-16 with -fsanitize=fuzzer).
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
            std::abort();                                                            \
        }                                                                            \
    } while (0)

struct Script {
    std::size_t limit = 1;
    std::string ops;     // one byte per step
    std::string chunks;  // one byte per step
    std::string data;    // the stream
};

Script parse(const std::uint8_t* p, std::size_t n) {
    Script s;
    if (n == 0) return s;
    s.limit = 1 + p[0] % 64;
    std::size_t steps = n > 1 ? std::min<std::size_t>(p[1] % 32 + 1, (n - 2) / 2) : 0;
    std::size_t at = 2;
    for (std::size_t i = 0; i < steps && at + 1 < n; ++i) {
        s.ops.push_back(static_cast<char>(p[at++]));
        s.chunks.push_back(static_cast<char>(p[at++]));
    }
    if (at < n) s.data.assign(reinterpret_cast<const char*>(p + at), n - at);
    return s;
}

aio::Coro<> feeder(aio::StreamReader reader, const Script& s, std::size_t& fed) {
    std::size_t step = 0;
    while (fed < s.data.size()) {
        std::size_t want = s.chunks.empty() ? 7 : 1 + static_cast<std::uint8_t>(s.chunks[step++ % s.chunks.size()]) % 23;
        std::size_t n = std::min(want, s.data.size() - fed);
        reader.feed_data(std::string_view(s.data).substr(fed, n));
        fed += n;
        co_await aio::sleep(std::chrono::seconds(0));
    }
    reader.feed_eof();
}

aio::Coro<> consumer(aio::StreamReader reader, const Script& s, const std::size_t& fed) {
    static constexpr std::array<std::string_view, 3> seps{"\n", "\r\n", "ab"};
    std::size_t pos = 0;  // bytes of the stream consumed so far
    const std::string_view stream = s.data;
    auto next_is = [&](const std::string& got) {
        FUZZ_CHECK(stream.substr(pos, got.size()) == got);
        pos += got.size();
    };
    for (std::size_t i = 0; i < 64 && !reader.at_eof(); ++i) {
        const std::uint8_t op = s.ops.empty() ? 0 : static_cast<std::uint8_t>(s.ops[i % s.ops.size()]);
        const std::size_t arg = op >> 3;
        std::size_t skip = 0;
        try {
            switch (op & 7) {
                case 0:
                case 1: {
                    std::string got = co_await reader.read(static_cast<std::ptrdiff_t>(arg));
                    FUZZ_CHECK(got.size() <= arg);
                    FUZZ_CHECK(!got.empty() || arg == 0 || reader.at_eof());
                    next_is(got);
                    break;
                }
                case 2: {
                    std::string got = co_await reader.readexactly(arg);
                    FUZZ_CHECK(got.size() == arg);
                    next_is(got);
                    break;
                }
                case 3: {
                    const std::size_t before = pos;
                    std::string got = co_await reader.readline();
                    next_is(got);
                    if (!got.empty() && got.back() == '\n') {
                        FUZZ_CHECK(got.find('\n') == got.size() - 1);
                    } else {
                        FUZZ_CHECK(reader.at_eof());  // a partial last line only at EOF
                    }
                    (void)before;
                    break;
                }
                case 4:
                case 5: {
                    std::string_view sep = seps[arg % seps.size()];
                    std::string got = co_await reader.readuntil(sep);
                    FUZZ_CHECK(got.size() >= sep.size());
                    FUZZ_CHECK(std::string_view(got).substr(got.size() - sep.size()) == sep);
                    FUZZ_CHECK(got.find(sep) == got.size() - sep.size());
                    FUZZ_CHECK(got.size() - sep.size() <= s.limit);
                    next_is(got);
                    break;
                }
                default: {
                    std::string got = co_await reader.readuntil(std::span<const std::string_view>(seps));
                    bool ends = false;
                    for (std::string_view sep : seps) {
                        if (got.size() >= sep.size() && std::string_view(got).substr(got.size() - sep.size()) == sep) {
                            ends = true;
                            // No match of any separator ends earlier.
                            for (std::string_view other : seps) {
                                std::size_t at = got.find(other);
                                FUZZ_CHECK(at == std::string::npos || at + other.size() >= got.size());
                            }
                        }
                    }
                    FUZZ_CHECK(ends);
                    next_is(got);
                    break;
                }
            }
        } catch (const aio::IncompleteReadError& e) {
            FUZZ_CHECK(reader.at_eof());
            next_is(e.partial());
            FUZZ_CHECK(pos == stream.size());
        } catch (const aio::LimitOverrunError& e) {
            const std::size_t consumed_now = fed - reader.buffered();
            if ((op & 7) == 3) {
                // readline drops the overlong line: it skips ahead, never back.
                FUZZ_CHECK(consumed_now >= pos);
                pos = consumed_now;
            } else {
                FUZZ_CHECK(consumed_now == pos);  // readuntil keeps the data
                FUZZ_CHECK(e.consumed() > 0);
                skip = std::min(e.consumed(), reader.buffered());  // after the handler: no co_await in catch
            }
        }
        if (skip > 0) {
            // Skip the examined bytes to make progress.
            std::string skipped = co_await reader.readexactly(skip);
            next_is(skipped);
        }
        FUZZ_CHECK(pos + reader.buffered() == fed);
    }
    // Drain the rest: the model and the stream agree to the end.
    std::string rest = co_await reader.read();
    next_is(rest);
    FUZZ_CHECK(pos == stream.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;
    const Script s = parse(data, size);
    aio::run([&s]() -> aio::Coro<> {
        aio::StreamReader reader(s.limit);
        std::size_t fed = 0;
        aio::Task<> feed = aio::create_task(feeder(reader, s, fed));
        co_await consumer(reader, s, fed);
        co_await feed;
    });
    return 0;
}
