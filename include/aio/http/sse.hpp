// aio/http/sse.hpp — Server-Sent Events: an incremental parser of
// `text/event-stream` and an adapter from a streamed HTTP body to events.
//
// The parser follows the WHATWG HTML rules for interpreting an event stream
// (https://html.spec.whatwg.org/multipage/server-sent-events.html):
//   - lines end with CRLF, LF or CR; a CR at the end of one chunk followed by
//     a LF at the start of the next is one line end;
//   - one leading UTF-8 byte order mark is skipped; the stream is decoded as
//     UTF-8, invalid sequences becoming U+FFFD;
//   - a line starting with ":" is a comment; "field:value" (one space after
//     the colon removed) or "field" alone (empty value);
//   - `data` lines append to the data (joined by "\n"), `event` sets the type
//     (default "message"), `id` sets the last event ID unless the value
//     contains NUL (the ID persists across events), `retry` sets the
//     reconnection time when the value is all ASCII digits, other fields are
//     ignored;
//   - a blank line dispatches the event (nothing when the data is empty:
//     only the last event ID is updated); an incomplete event at the end of
//     the stream is discarded.
// Chunks can be cut anywhere, inside a line, a CRLF, a BOM or a UTF-8
// sequence: the events are the same.
//
//   aio::http::SseParser parser;
//   for (auto& event : parser.feed("event: add\ndata: 73857293\n\n"))
//       std::cout << event.event << " " << event.data << "\n";   // add 73857293
//
// Over HTTP (aio/http/client.hpp):
//
//   aio::http::StreamResponse resp = co_await client.stream(request);
//   auto events = aio::http::sse_events(std::move(resp.body));
//   while (auto event = co_await events.next()) use(*event);
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "aio/async_generator.hpp"
#include "aio/http/errors.hpp"

namespace aio::http {

/// One dispatched event.
struct SseEvent {
    /// The event type: the `event` field, "message" when absent or empty.
    std::string event = "message";
    /// The `data` lines joined with "\n".
    std::string data;
    /// The last event ID at dispatch (the stream's latest `id`, which
    /// persists across events; empty if none yet).
    std::string id;
    /// The reconnection time the stream asked for (`retry`), if it did.
    std::optional<std::chrono::milliseconds> retry;

    friend bool operator==(const SseEvent&, const SseEvent&) = default;
};

/// A line or an event grew beyond the parser's limit.
class SseError : public ProtocolError {
public:
    using ProtocolError::ProtocolError;
};

/// Incremental event-stream parser. Feed it the bytes as they arrive.
class SseParser {
public:
    /// `max_size` bounds the bytes held for one line and for one event's
    /// data (0: no bound); beyond it feed() raises SseError.
    explicit SseParser(std::size_t max_size = 0) noexcept : max_size_(max_size) {}

    /// Parses `chunk` and calls `on_event(SseEvent&&)` for each event it
    /// completes, in order. If on_event throws, the exception propagates
    /// and the rest of the chunk is not parsed.
    template <class F>
        requires std::is_invocable_v<F&, SseEvent&&>
    void feed(std::string_view chunk, F&& on_event) {
        feed_impl(chunk, &on_event, [](void* f, SseEvent&& e) { (*static_cast<std::remove_reference_t<F>*>(f))(std::move(e)); });
    }
    /// Parses `chunk` and returns the events it completes.
    std::vector<SseEvent> feed(std::string_view chunk);
    /// Appends the events `chunk` completes to `out`.
    void feed(std::string_view chunk, std::vector<SseEvent>& out);

    /// End of the stream: discards the incomplete line and event (they are
    /// never dispatched) and prepares for a new stream (a reconnection: a
    /// BOM is skipped again). last_event_id() and retry() are kept, as an
    /// EventSource keeps them across reconnections.
    void finish() noexcept;

    /// The ID of the last dispatched event block (what a reconnection sends
    /// as `Last-Event-ID`).
    const std::string& last_event_id() const noexcept { return last_event_id_; }
    /// The reconnection time set by the last valid `retry` field, if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

private:
    using Sink = void (*)(void*, SseEvent&&);
    void feed_impl(std::string_view chunk, void* ctx, Sink sink);
    void process_line(std::string_view line, void* ctx, Sink sink);
    void process_field(std::string_view field, std::string_view value);
    void dispatch(void* ctx, Sink sink);
    void check_size(std::size_t n) const;

    std::size_t max_size_;
    std::string line_;            // the incomplete line
    std::string data_;            // data buffer
    std::string event_type_;      // event type buffer
    std::string id_buffer_;       // last event ID buffer
    std::string last_event_id_;   // the last event ID string (set at dispatch)
    std::optional<std::chrono::milliseconds> retry_;
    unsigned char bom_matched_ = 0;  // leading BOM bytes seen so far
    bool bom_checked_ = false;       // the start of the stream is past
    bool skip_lf_ = false;           // the previous chunk ended with CR
};

/// The events of an event stream whose bytes `body` yields (e.g. the body
/// of aio::http::Client::stream()). Ends when the body ends (an incomplete
/// last event is discarded); rethrows the body's errors; SseError when a
/// line or an event exceeds `max_size` bytes (0: no bound).
///
/// Cancellation: next() is a cancellation point exactly when the body's
/// next() is (when it waits for bytes); a cancelled next() cancels the
/// body's (for an HTTP body: the transfer is aborted). aclose() closes the
/// body too.
AsyncGenerator<SseEvent> sse_events(AsyncGenerator<std::string> body, std::size_t max_size = 0);

}  // namespace aio::http
