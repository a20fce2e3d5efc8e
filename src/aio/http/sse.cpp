// The event-stream parser (WHATWG HTML, "Interpreting an event stream") and
// the body → events adapter. See aio/http/sse.hpp.
#include "aio/http/sse.hpp"

#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>

namespace aio::http {
namespace {

constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_ascii(std::string_view s) noexcept {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

/// UTF-8 decode with replacement (the Encoding standard's decoder: each
/// maximal ill-formed subsequence becomes one U+FFFD), re-encoded as UTF-8.
/// Line ends are ASCII, so decoding line by line is the same as decoding the
/// stream: a sequence cut by a line end is ill-formed either way.
std::string utf8_replace_invalid(std::string_view in) {
    std::string out;
    out.reserve(in.size() + 8);
    std::size_t i = 0;
    const std::size_t n = in.size();
    while (i < n) {
        const auto b = static_cast<unsigned char>(in[i]);
        if (b < 0x80) {
            out.push_back(static_cast<char>(b));
            ++i;
            continue;
        }
        int need;
        unsigned char lower = 0x80, upper = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lower = 0xA0;
            if (b == 0xED) upper = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lower = 0x90;
            if (b == 0xF4) upper = 0x8F;
        } else {
            out += kReplacement;
            ++i;
            continue;
        }
        std::size_t j = i + 1;
        bool valid = true;
        for (int k = 0; k < need; ++k, ++j) {
            if (j >= n) {
                valid = false;
                break;
            }
            const auto c = static_cast<unsigned char>(in[j]);
            if (c < lower || c > upper) {
                valid = false;
                break;
            }
            lower = 0x80;
            upper = 0xBF;
        }
        if (valid) {
            out.append(in.data() + i, j - i);
        } else {
            out += kReplacement;  // the offending byte (at j) is examined again
        }
        i = j;
    }
    return out;
}

}  // namespace

void SseParser::check_size(std::size_t n) const {
    if (max_size_ != 0 && n > max_size_)
        throw SseError("event stream: a line or an event exceeds " + std::to_string(max_size_) + " bytes");
}

std::vector<SseEvent> SseParser::feed(std::string_view chunk) {
    std::vector<SseEvent> out;
    feed(chunk, out);
    return out;
}

void SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
    feed(chunk, [&out](SseEvent&& e) { out.push_back(std::move(e)); });
}

void SseParser::feed_impl(std::string_view chunk, void* ctx, Sink sink) {
    const char* p = chunk.data();
    std::size_t n = chunk.size();
    std::size_t i = 0;
    // One leading BOM, possibly split across chunks.
    if (!bom_checked_) {
        while (i < n && bom_matched_ < 3) {
            if (static_cast<unsigned char>(p[i]) != kBom[bom_matched_]) break;
            ++bom_matched_;
            ++i;
        }
        if (bom_matched_ == 3) {
            bom_checked_ = true;  // skipped
        } else if (i < n) {
            // Not a BOM: the bytes matched so far are the start of a line.
            line_.assign(reinterpret_cast<const char*>(kBom), bom_matched_);
            bom_checked_ = true;
        } else {
            return;  // all of the chunk may still be a BOM
        }
    }
    if (skip_lf_ && i < n) {
        skip_lf_ = false;
        if (p[i] == '\n') ++i;
    }
    while (i < n) {
        std::size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r') ++j;
        if (j == n) {  // no line end in the rest of the chunk
            check_size(line_.size() + (n - i));
            line_.append(p + i, n - i);
            return;
        }
        // The line ends at j. Advance past its terminator first, so that an
        // exception from the sink leaves the parser at the next line.
        std::size_t next = j + 1;
        if (p[j] == '\r') {
            if (next < n) {
                if (p[next] == '\n') ++next;
            } else {
                skip_lf_ = true;
            }
        }
        if (line_.empty()) {
            std::string_view line(p + i, j - i);
            i = next;
            process_line(line, ctx, sink);
        } else {
            check_size(line_.size() + (j - i));
            line_.append(p + i, j - i);
            std::string line;
            line.swap(line_);
            i = next;
            process_line(line, ctx, sink);
            if (line_.capacity() < line.capacity()) {  // keep the larger buffer
                line.clear();
                line_.swap(line);
            }
        }
    }
}

void SseParser::process_line(std::string_view line, void* ctx, Sink sink) {
    if (line.empty()) {
        dispatch(ctx, sink);
        return;
    }
    if (line.front() == ':') return;  // comment
    std::string decoded;
    if (!is_ascii(line)) {
        decoded = utf8_replace_invalid(line);
        line = decoded;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        process_field(line, {});
        return;
    }
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    process_field(line.substr(0, colon), value);
}

void SseParser::process_field(std::string_view field, std::string_view value) {
    if (field == "data") {
        check_size(data_.size() + value.size() + 1);
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "event") {
        event_type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
    } else if (field == "retry") {
        if (value.empty()) return;
        std::int64_t ms = 0;
        for (char c : value) {
            if (c < '0' || c > '9') return;
            if (ms < std::numeric_limits<std::int64_t>::max() / 10 - 10) ms = ms * 10 + (c - '0');
            else ms = std::numeric_limits<std::int64_t>::max();  // saturate
        }
        retry_ = std::chrono::milliseconds(ms);
    }
    // Any other field is ignored.
}

void SseParser::dispatch(void* ctx, Sink sink) {
    last_event_id_ = id_buffer_;
    if (data_.empty()) {
        event_type_.clear();
        return;
    }
    if (data_.back() == '\n') data_.pop_back();
    SseEvent event;
    if (!event_type_.empty()) event.event = std::move(event_type_);
    event.data = std::move(data_);
    event.id = last_event_id_;
    event.retry = retry_;
    data_.clear();
    event_type_.clear();
    sink(ctx, std::move(event));
}

void SseParser::finish() noexcept {
    line_.clear();
    data_.clear();
    event_type_.clear();
    id_buffer_ = last_event_id_;  // the undispatched `id` is discarded too
    bom_matched_ = 0;
    bom_checked_ = false;
    skip_lf_ = false;
}

AsyncGenerator<SseEvent> sse_events(AsyncGenerator<std::string> body, std::size_t max_size) {
    SseParser parser(max_size);
    std::vector<SseEvent> ready;
    std::exception_ptr failure;
    try {
        for (;;) {
            std::optional<std::string> chunk = co_await body.next();
            if (!chunk) break;
            parser.feed(*chunk, ready);
            for (SseEvent& event : ready) co_yield std::move(event);
            ready.clear();
        }
        parser.finish();
    } catch (...) {
        failure = std::current_exception();  // also GeneratorExit (aclose) and CancelledError
    }
    co_await body.aclose();  // a no-op when the body has finished
    if (failure) std::rethrow_exception(failure);
}

}  // namespace aio::http
