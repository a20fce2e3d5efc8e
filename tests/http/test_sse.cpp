// SseParser: one test per rule of the WHATWG event-stream interpretation,
// chunk boundaries at every byte position, and the sse_events() adapter.
#include <aio/http/sse.hpp>
#include <string>
#include <vector>

#include "support.hpp"

using aio::http::SseEvent;
using aio::http::SseParser;
using namespace aio_test;
using namespace std::chrono_literals;

namespace {

SseEvent ev(std::string data, std::string type = "message", std::string id = {},
            std::optional<std::chrono::milliseconds> retry = std::nullopt) {
    SseEvent e;
    e.event = std::move(type);
    e.data = std::move(data);
    e.id = std::move(id);
    e.retry = retry;
    return e;
}

std::vector<SseEvent> parse(std::string_view stream) {
    SseParser p;
    std::vector<SseEvent> out = p.feed(stream);
    p.finish();
    return out;
}

std::vector<SseEvent> parse_in_pieces(std::string_view stream, std::vector<std::size_t> cuts) {
    SseParser p;
    std::vector<SseEvent> out;
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
        p.feed(stream.substr(at, cut - at), out);
        at = cut;
    }
    p.feed(stream.substr(at), out);
    p.finish();
    return out;
}

}  // namespace

namespace aio::http {
// gtest prints events (and vectors of them) with this.
void PrintTo(const SseEvent& e, std::ostream* os) {
    *os << "{event=" << e.event << " data=" << e.data << " id=" << e.id;
    if (e.retry) *os << " retry=" << e.retry->count();
    *os << "}";
}
}  // namespace aio::http

// --- line ends ---------------------------------------------------------------------

TEST(SseLines, LfCrlfAndCrAllEndLines) {
    std::vector<SseEvent> expected{ev("a"), ev("b"), ev("c")};
    EXPECT_EQ(parse("data: a\n\ndata: b\r\n\r\ndata: c\r\r"), expected);
}

TEST(SseLines, MixedLineEndsInOneEvent) {
    EXPECT_EQ(parse("data: 1\rdata: 2\ndata: 3\r\n\n"), std::vector<SseEvent>{ev("1\n2\n3")});
}

TEST(SseLines, CrAtChunkEndThenLfIsOneLineEnd) {
    // "data: x\r" | "\ndata: y\r\n\r\n": the LF after the CR does not make a
    // blank line (which would dispatch "x" alone).
    SseParser p;
    std::vector<SseEvent> first = p.feed("data: x\r");
    std::vector<SseEvent> second = p.feed("\ndata: y\r\n\r\n");
    EXPECT_TRUE(first.empty());
    EXPECT_EQ(second, std::vector<SseEvent>{ev("x\ny")});
}

TEST(SseLines, CrAtChunkEndThenCrIsABlankLine) {
    SseParser p;
    std::vector<SseEvent> first = p.feed("data: x\r");
    std::vector<SseEvent> second = p.feed("\r");
    EXPECT_TRUE(first.empty());
    EXPECT_EQ(second, std::vector<SseEvent>{ev("x")});
}

TEST(SseLines, CrAtChunkEndThenEmptyChunkThenLf) {
    SseParser p;
    std::vector<SseEvent> out;
    p.feed("data: x\r", out);
    p.feed("", out);
    p.feed("\n", out);  // still the LF of the CRLF
    EXPECT_TRUE(out.empty());
    p.feed("\n", out);
    EXPECT_EQ(out, std::vector<SseEvent>{ev("x")});
}

TEST(SseLines, LfCrIsTwoLineEnds) {
    // "\n\r": LF ends the data line, CR is a blank line.
    EXPECT_EQ(parse("data: z\n\r"), std::vector<SseEvent>{ev("z")});
}

// --- BOM -----------------------------------------------------------------------------

TEST(SseBom, LeadingBomIsSkipped) {
    EXPECT_EQ(parse("\xEF\xBB\xBF" "data: 1\n\n"), std::vector<SseEvent>{ev("1")});
}

TEST(SseBom, OnlyOneBomIsSkipped) {
    // The second BOM is part of the field name "\uFEFFdata": unknown, ignored.
    EXPECT_EQ(parse("\xEF\xBB\xBF\xEF\xBB\xBF" "data: 1\n\ndata: 2\n\n"), std::vector<SseEvent>{ev("2")});
}

TEST(SseBom, BomSplitAcrossChunks) {
    EXPECT_EQ(parse_in_pieces("\xEF\xBB\xBF" "data: 1\n\n", {1, 2}), std::vector<SseEvent>{ev("1")});
}

TEST(SseBom, PartialBomIsData) {
    // "\xEF\xBB" then "x": not a BOM; the bytes belong to the first line
    // (an invalid UTF-8 sequence, decoded as U+FFFD, in an unknown field).
    EXPECT_EQ(parse_in_pieces("\xEF\xBB" "x\ndata: ok\n\n", {1, 2}), std::vector<SseEvent>{ev("ok")});
    EXPECT_EQ(parse("\xEF\xBB" "data: 1\n\n"), std::vector<SseEvent>{});
}

TEST(SseBom, BomInTheMiddleIsKept) {
    EXPECT_EQ(parse("data: \xEF\xBB\xBFx\n\n"), std::vector<SseEvent>{ev("\xEF\xBB\xBFx")});
}

TEST(SseBom, BomSkippedAgainAfterFinish) {
    SseParser p;
    std::vector<SseEvent> out = p.feed("\xEF\xBB\xBF" "data: 1\n\n");
    p.finish();
    p.feed("\xEF\xBB\xBF" "data: 2\n\n", out);
    EXPECT_EQ(out, (std::vector<SseEvent>{ev("1"), ev("2")}));
}

// --- comments and field syntax --------------------------------------------------------

TEST(SseFields, CommentsAreIgnored) {
    EXPECT_EQ(parse(": hello\n:\ndata: a\n: between\ndata: b\n\n"), std::vector<SseEvent>{ev("a\nb")});
}

TEST(SseFields, CommentOnlyBlockDispatchesNothing) { EXPECT_TRUE(parse(": keep-alive\n\n:\n\n").empty()); }

TEST(SseFields, OneSpaceAfterTheColonIsRemoved) {
    EXPECT_EQ(parse("data:no space\n\ndata: one\n\ndata:  two\n\n"),
              (std::vector<SseEvent>{ev("no space"), ev("one"), ev(" two")}));
}

TEST(SseFields, TabAfterTheColonIsKept) { EXPECT_EQ(parse("data:\tx\n\n"), std::vector<SseEvent>{ev("\tx")}); }

TEST(SseFields, FieldWithoutColonHasEmptyValue) {
    // "data" alone appends an empty line to the data.
    EXPECT_EQ(parse("data\ndata\n\n"), std::vector<SseEvent>{ev("\n")});
    EXPECT_EQ(parse("data\n\n"), std::vector<SseEvent>{ev("")});
}

TEST(SseFields, OnlyTheFirstColonSplits) {
    EXPECT_EQ(parse("data: a:b: c\n\n"), std::vector<SseEvent>{ev("a:b: c")});
}

TEST(SseFields, UnknownFieldsAreIgnored) {
    EXPECT_EQ(parse("foo: bar\ndata: x\nDATA: y\nData: z\n\n"), std::vector<SseEvent>{ev("x")});
}

TEST(SseFields, FieldNamesAreCaseSensitiveAndExact) {
    EXPECT_EQ(parse("data : spaced name\nEvent: no\ndata: x\n\n"), std::vector<SseEvent>{ev("x")});
}

// --- data ---------------------------------------------------------------------------

TEST(SseData, MultiLineDataJoinedWithLf) {
    EXPECT_EQ(parse("data: first\ndata: second\ndata: third\n\n"), std::vector<SseEvent>{ev("first\nsecond\nthird")});
}

TEST(SseData, EmptyDataLineDispatchesEmptyData) {
    // "data:" makes the buffer "\n": not empty, so dispatched with "".
    EXPECT_EQ(parse("data:\n\n"), std::vector<SseEvent>{ev("")});
}

TEST(SseData, TwoEmptyDataLinesGiveOneLf) { EXPECT_EQ(parse("data:\ndata:\n\n"), std::vector<SseEvent>{ev("\n")}); }

TEST(SseData, NoDataNoEvent) { EXPECT_TRUE(parse("event: ping\n\n").empty()); }

TEST(SseData, BlankLinesAloneDispatchNothing) { EXPECT_TRUE(parse("\n\n\r\n\r\r").empty()); }

TEST(SseData, Utf8IsKeptAndInvalidBytesBecomeReplacementCharacters) {
    EXPECT_EQ(parse("data: h\xC3\xA9llo \xE2\x82\xAC\n\n"), std::vector<SseEvent>{ev("h\xC3\xA9llo \xE2\x82\xAC")});
    // A lone continuation byte, a truncated sequence, an overlong encoding.
    EXPECT_EQ(parse("data: a\x80" "b\xE2\x82" "c\xC0\xAF\n\n"),
              std::vector<SseEvent>{ev("a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD")});
}

TEST(SseData, Utf8SequenceSplitAcrossChunks) {
    std::string stream = "data: \xE2\x82\xAC\n\n";
    for (std::size_t cut = 1; cut < stream.size(); ++cut)
        EXPECT_EQ(parse_in_pieces(stream, {cut}), std::vector<SseEvent>{ev("\xE2\x82\xAC")}) << "cut at " << cut;
}

// --- event type ---------------------------------------------------------------------

TEST(SseEventType, DefaultsToMessage) { EXPECT_EQ(parse("data: x\n\n").at(0).event, "message"); }

TEST(SseEventType, EventFieldSetsTheType) {
    EXPECT_EQ(parse("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"),
              (std::vector<SseEvent>{ev("73857293", "add"), ev("2153", "remove")}));
}

TEST(SseEventType, EmptyEventFieldMeansMessage) { EXPECT_EQ(parse("event:\ndata: x\n\n").at(0).event, "message"); }

TEST(SseEventType, TypeIsResetAfterEachDispatch) {
    EXPECT_EQ(parse("event: a\ndata: 1\n\ndata: 2\n\n"), (std::vector<SseEvent>{ev("1", "a"), ev("2")}));
}

TEST(SseEventType, TypeIsResetByABlockWithoutData) {
    EXPECT_EQ(parse("event: lost\n\ndata: 2\n\n"), std::vector<SseEvent>{ev("2")});
}

TEST(SseEventType, LastEventFieldWins) { EXPECT_EQ(parse("event: a\nevent: b\ndata: x\n\n").at(0).event, "b"); }

// --- id -----------------------------------------------------------------------------

TEST(SseId, IdSetsTheEventsLastEventId) {
    SseParser p;
    std::vector<SseEvent> out = p.feed("id: 1\ndata: a\n\n");
    EXPECT_EQ(out, std::vector<SseEvent>{ev("a", "message", "1")});
    EXPECT_EQ(p.last_event_id(), "1");
}

TEST(SseId, IdPersistsAcrossEvents) {
    EXPECT_EQ(parse("id: 7\ndata: a\n\ndata: b\n\n"),
              (std::vector<SseEvent>{ev("a", "message", "7"), ev("b", "message", "7")}));
}

TEST(SseId, EmptyIdResetsTheLastEventId) {
    EXPECT_EQ(parse("id: 7\ndata: a\n\nid\ndata: b\n\n"),
              (std::vector<SseEvent>{ev("a", "message", "7"), ev("b", "message", "")}));
}

TEST(SseId, IdContainingNulIsIgnored) {
    static constexpr char bytes[] = "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n";
    std::string stream(bytes, sizeof bytes - 1);
    EXPECT_EQ(parse(stream), (std::vector<SseEvent>{ev("a", "message", "1"), ev("b", "message", "1")}));
}

TEST(SseId, IdWithoutDataUpdatesLastEventIdButDispatchesNothing) {
    SseParser p;
    std::vector<SseEvent> out = p.feed("id: 42\n\n");
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.last_event_id(), "42");
    p.feed("data: later\n\n", out);
    EXPECT_EQ(out, std::vector<SseEvent>{ev("later", "message", "42")});
}

TEST(SseId, LastEventIdChangesOnlyAtDispatch) {
    SseParser p;
    p.feed("id: 1\ndata: a\n\nid: 2\ndata: b\n");
    EXPECT_EQ(p.last_event_id(), "1");  // the second block is not complete
    p.finish();                         // ...and is discarded at the end
    EXPECT_EQ(p.last_event_id(), "1");
    std::vector<SseEvent> out = p.feed("data: c\n\n");  // a reconnection
    EXPECT_EQ(out, std::vector<SseEvent>{ev("c", "message", "1")});
}

// --- retry --------------------------------------------------------------------------

TEST(SseRetry, DigitsSetTheReconnectionTime) {
    SseParser p;
    std::vector<SseEvent> out = p.feed("retry: 1500\ndata: x\n\n");
    EXPECT_EQ(p.retry(), std::chrono::milliseconds(1500));
    EXPECT_EQ(out, std::vector<SseEvent>{ev("x", "message", "", 1500ms)});
}

TEST(SseRetry, NonDigitsAreIgnored) {
    for (std::string_view bad : {"retry: 1.5\n", "retry: -1\n", "retry: 10 \n", "retry: abc\n", "retry:\n",
                                 "retry\n", "retry: +3\n", "retry:  5\n"}) {
        SseParser p;
        p.feed("retry: 700\n");
        p.feed(bad);
        EXPECT_EQ(p.retry(), std::chrono::milliseconds(700)) << bad;
    }
}

TEST(SseRetry, RetryAloneDispatchesNothingButIsRemembered) {
    SseParser p;
    std::vector<SseEvent> out = p.feed("retry: 3000\n\n");
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.retry(), std::chrono::milliseconds(3000));
    p.feed("data: x\n\n", out);
    EXPECT_EQ(out, std::vector<SseEvent>{ev("x", "message", "", 3000ms)});
}

TEST(SseRetry, HugeValueSaturates) {
    SseParser p;
    p.feed("retry: 99999999999999999999999999\n");
    ASSERT_TRUE(p.retry());
    EXPECT_GT(p.retry()->count(), 0);
}

// --- end of stream ----------------------------------------------------------------

TEST(SseEnd, IncompleteEventAtEofIsDiscarded) {
    EXPECT_EQ(parse("data: complete\n\ndata: incomplete\n"), std::vector<SseEvent>{ev("complete")});
    EXPECT_TRUE(parse("data: no line end").empty());
}

TEST(SseEnd, FinishDiscardsPendingDataBeforeTheNextStream) {
    SseParser p;
    p.feed("data: half");
    p.finish();
    std::vector<SseEvent> out = p.feed("\n\ndata: fresh\n\n");
    EXPECT_EQ(out, std::vector<SseEvent>{ev("fresh")});
}

// --- chunking ----------------------------------------------------------------------

namespace {
// Every rule at once (with a NUL inside: built from the array's size).
constexpr char kSampleBytes[] =
    "\xEF\xBB\xBF"
    ": a comment\r\n"
    "retry: 2500\r\n"
    "event: greeting\r"
    "id: 1\n"
    "data: hello\r\n"
    "data:  world\r"
    "\r\n"
    "data\n"
    "\n"
    "id: 2\0ignored\n"
    "unknown: field\n"
    "data: caf\xC3\xA9\r"
    "\r"
    "event: end\n"
    "id\n"
    "data: bye\n"
    "\n"
    "data: never dispatched\n";
const std::string kSample(kSampleBytes, sizeof kSampleBytes - 1);

std::vector<SseEvent> sample_expected() {
    return {ev("hello\n world", "greeting", "1", 2500ms), ev("", "message", "1", 2500ms),
            ev("caf\xC3\xA9", "message", "1", 2500ms), ev("bye", "end", "", 2500ms)};
}
}  // namespace

TEST(SseChunks, SampleInOneChunk) {
    EXPECT_EQ(parse(kSample), sample_expected());
}

TEST(SseChunks, SampleSplitAtEveryBytePosition) {
    const std::vector<SseEvent> expected = sample_expected();
    for (std::size_t cut = 0; cut <= kSample.size(); ++cut)
        ASSERT_EQ(parse_in_pieces(kSample, {cut}), expected) << "split at byte " << cut;
}

TEST(SseChunks, SampleSplitAtEveryPairOfPositions) {
    const std::vector<SseEvent> expected = sample_expected();
    for (std::size_t a = 0; a <= kSample.size(); ++a)
        for (std::size_t b = a; b <= kSample.size(); ++b)
            ASSERT_EQ(parse_in_pieces(kSample, {a, b}), expected) << "split at bytes " << a << " and " << b;
}

TEST(SseChunks, SampleOneByteAtATime) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < kSample.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(parse_in_pieces(kSample, cuts), sample_expected());
}

TEST(SseChunks, CallbackFormReceivesEventsInOrder) {
    SseParser p;
    std::vector<std::string> seen;
    p.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", [&](SseEvent&& e) { seen.push_back(std::move(e.data)); });
    EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(SseLimits, OverlongLineRaisesSseError) {
    SseParser p(16);
    EXPECT_NO_THROW(p.feed("data: short\n\n"));
    EXPECT_THROW(p.feed(std::string(40, 'x')), aio::http::SseError);
    SseParser q(16);
    q.feed("data: 0123456789\n");
    EXPECT_THROW(q.feed("data: 0123456789\n"), aio::http::SseError);  // the event's data grows too large
}

// --- sse_events over an async byte stream -------------------------------------------------

namespace {
aio::AsyncGenerator<std::string> chunks_of(std::vector<std::string> chunks, bool* closed = nullptr) {
    struct Flag {
        bool* f;
        ~Flag() {
            if (f) *f = true;
        }
    } flag{closed};
    for (std::string& c : chunks) {
        co_await aio::sleep(0s);
        co_yield std::move(c);
    }
}

aio::AsyncGenerator<std::string> failing_after(std::string chunk) {
    co_yield std::move(chunk);
    throw aio::http::ConnectionLostError("connection lost mid-stream");
}
}  // namespace

TEST(SseEvents, AdapterYieldsEventsAcrossChunks) {
    run_bounded([]() -> aio::Coro<> {
        std::vector<std::string> pieces{"data: a", "\r", "\ndata: b\r\n", "\r\nevent: x\nda", "ta: c\n\ndata: tail"};
        auto events = aio::http::sse_events(chunks_of(std::move(pieces)));
        std::vector<SseEvent> got;
        while (auto e = co_await events.next()) got.push_back(std::move(*e));
        EXPECT_EQ(got, (std::vector<SseEvent>{ev("a\nb"), ev("c", "x")}));
    });
}

TEST(SseEvents, AdapterRethrowsTheBodysError) {
    run_bounded([]() -> aio::Coro<> {
        auto events = aio::http::sse_events(failing_after("data: first\n\ndata: partial"));
        std::optional<SseEvent> first = co_await events.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_EQ(first->data, "first");
        bool lost = false;
        try {
            co_await events.next();
        } catch (const aio::http::ConnectionLostError&) {
            lost = true;
        }
        EXPECT_TRUE(lost);
    });
}

TEST(SseEvents, AcloseClosesTheBody) {
    run_bounded([]() -> aio::Coro<> {
        bool body_closed = false;
        std::vector<std::string> pieces{"data: 1\n\n", "data: 2\n\n", "data: 3\n\n"};
        auto events = aio::http::sse_events(chunks_of(std::move(pieces), &body_closed));
        std::optional<SseEvent> first = co_await events.next();
        CO_ASSERT_TRUE(first.has_value());
        EXPECT_FALSE(body_closed);
        co_await events.aclose();
        EXPECT_TRUE(body_closed);  // not only when `events` is destroyed
    });
}
