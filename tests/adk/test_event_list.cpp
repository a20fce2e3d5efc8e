// Tests for adk::EventList: a session's history, shared between copies,
// and the in-memory session service handing it out without copying events.
#include <gtest/gtest.h>

#include <iterator>
#include <ranges>

#include "adk/session.hpp"
#include "aio/run.hpp"

using adk::Event;
using adk::EventList;
using adk::Json;

static_assert(std::random_access_iterator<EventList::const_iterator>);
static_assert(std::ranges::random_access_range<const EventList>);

namespace {

Event numbered(int i) {
    Event e = Event::make("e-1", "agent");
    e.actions.state_delta["i"] = i;
    e.timestamp = 100.0 + i;
    return e;
}

std::vector<int> indexes(const EventList& events) {
    std::vector<int> out;
    for (const Event& e : events) out.push_back(e.actions.state_delta.at("i").get<int>());
    return out;
}

}  // namespace

TEST(AdkEventList, ACopySharesTheEventsAndAppendsOnlyToItself) {
    EventList a{numbered(0), numbered(1)};
    EventList b = a;
    EXPECT_EQ(&a[0], &b[0]) << "a copy shares its events";
    EXPECT_EQ(&a.back(), &b.back());
    b.push_back(numbered(2));
    a.push_back(numbered(3));
    EXPECT_EQ(indexes(a), (std::vector<int>{0, 1, 3}));
    EXPECT_EQ(indexes(b), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(&a[1], &b[1]) << "the common prefix stays shared after both appended";
}

TEST(AdkEventList, TheSameEventAppendedToTwoCopiesIsStoredOnce) {
    EventList stored{numbered(0)};
    EventList copy = stored;
    auto node = std::make_shared<const Event>(numbered(1));
    stored.push_back(node);
    copy.push_back(node);
    EXPECT_EQ(&stored[1], &copy[1]);
    EXPECT_EQ(node.use_count(), 2) << "one storage slot holds it (plus our handle)";
    copy.push_back(numbered(2));  // the copy ends where the storage ends: in place
    stored.push_back(numbered(3));  // the store no longer does: it gets storage of its own
    EXPECT_EQ(indexes(stored), (std::vector<int>{0, 1, 3}));
    EXPECT_EQ(indexes(copy), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(&stored[1], &copy[1]);
}

TEST(AdkEventList, AMovedFromListIsEmpty) {
    EventList a{numbered(0), numbered(1)};
    EventList b = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the documented state
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.begin(), a.end());
    EXPECT_EQ(b.size(), 2u);
    EventList c;
    c = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(indexes(c), (std::vector<int>{0, 1}));
    a.push_back(numbered(5));  // usable again
    EXPECT_EQ(indexes(a), (std::vector<int>{5}));

    adk::Session s;
    s.events.push_back(numbered(0));
    adk::Session t = std::move(s);
    EXPECT_TRUE(s.events.empty());  // NOLINT(bugprone-use-after-move)
    Json j = s;  // a moved-from session is still a valid (empty) value
    EXPECT_TRUE(j["events"].empty());
}

TEST(AdkEventList, ReferencesAndIteratorsSurviveAppendsThroughAnotherList) {
    EventList a{numbered(0)};
    EventList b = a;
    const Event& first = b[0];
    EventList::const_iterator it = b.begin();
    for (int i = 1; i < 1000; ++i) a.push_back(numbered(i));  // grows (reallocates) the shared storage
    EXPECT_EQ(first.actions.state_delta.at("i"), 0);
    EXPECT_EQ(it->actions.state_delta.at("i"), 0);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(a.size(), 1000u);
    EXPECT_EQ(a[999].actions.state_delta.at("i"), 999);
}

TEST(AdkEventList, ReadsLikeAConstVector) {
    EventList empty;
    EXPECT_TRUE(empty.empty());
    EXPECT_EQ(empty.begin(), empty.end());
    EXPECT_THROW((void)empty.at(0), std::out_of_range);

    std::vector<Event> source;
    for (int i = 0; i < 5; ++i) source.push_back(numbered(i));
    EventList list(std::move(source));
    ASSERT_EQ(list.size(), 5u);
    EXPECT_EQ(list.front().actions.state_delta.at("i"), 0);
    EXPECT_EQ(list.at(4).actions.state_delta.at("i"), 4);
    EXPECT_EQ(list.end() - list.begin(), 5);
    EXPECT_EQ((list.begin() + 3)->actions.state_delta.at("i"), 3);
    EXPECT_EQ(std::prev(list.rend())->actions.state_delta.at("i"), 0);
    std::vector<int> reversed;
    for (auto it = list.rbegin(); it != list.rend(); ++it) reversed.push_back(it->actions.state_delta.at("i"));
    EXPECT_EQ(reversed, (std::vector<int>{4, 3, 2, 1, 0}));
    EXPECT_EQ(list.to_vector().size(), 5u);
    EXPECT_THROW(list.push_back(std::shared_ptr<const Event>()), std::invalid_argument);
}

TEST(AdkEventList, KeepRangeIsAViewThatStillAppends) {
    EventList all;
    for (int i = 0; i < 6; ++i) all.push_back(numbered(i));
    EventList recent = all;
    recent.keep_range(4, 6);
    EXPECT_EQ(indexes(recent), (std::vector<int>{4, 5}));
    EXPECT_EQ(&recent[0], &all[4]);
    recent.push_back(numbered(6));  // our range ends where the storage ends: in place
    all.push_back(numbered(7));     // `all` no longer ends there: diverges
    EXPECT_EQ(indexes(recent), (std::vector<int>{4, 5, 6}));
    EXPECT_EQ(indexes(all), (std::vector<int>{0, 1, 2, 3, 4, 5, 7}));
    EXPECT_THROW(recent.keep_range(2, 1), std::out_of_range);
    EXPECT_THROW(recent.keep_range(0, 4), std::out_of_range);
    recent.keep_range(1, 1);
    EXPECT_TRUE(recent.empty());
}

// The in-memory service: get_session's copies share the stored events, an
// append through one copy is seen by the store and by that copy only.
TEST(AdkEventList, SessionCopiesShareTheStoredHistory) {
    adk::InMemorySessionService service;
    adk::Session s = service.create_session_now("app", "u", Json::object(), "s");
    for (int i = 0; i < 3; ++i) service.append_event_now(s, numbered(i));
    std::optional<adk::Session> one = service.get_session_now("app", "u", "s", {});
    std::optional<adk::Session> two = service.get_session_now("app", "u", "s", {});
    ASSERT_TRUE(one && two);
    EXPECT_EQ(&one->events[0], &two->events[0]);
    EXPECT_EQ(&one->events[2], &s.events[2]) << "the caller's copy holds the stored event";

    service.append_event_now(*one, numbered(3));
    EXPECT_EQ(indexes(one->events), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(indexes(two->events), (std::vector<int>{0, 1, 2}));
    std::optional<adk::Session> three = service.get_session_now("app", "u", "s", {});
    EXPECT_EQ(&three->events[3], &one->events[3]);

    adk::GetSessionConfig last_two;
    last_two.num_recent_events = 2;
    std::optional<adk::Session> recent = service.get_session_now("app", "u", "s", last_two);
    EXPECT_EQ(indexes(recent->events), (std::vector<int>{2, 3}));
    EXPECT_EQ(&recent->events[0], &three->events[2]);

    aio::run(service.delete_session("app", "u", "s"));
    EXPECT_EQ(indexes(three->events), (std::vector<int>{0, 1, 2, 3})) << "a copy outlives the stored session";
}

// A copy narrowed by num_recent_events appends like any other, and the
// store sees the event.
TEST(AdkEventList, AppendingThroughARecentEventsCopy) {
    adk::InMemorySessionService service;
    adk::Session s = service.create_session_now("app", "u", Json::object(), "s");
    for (int i = 0; i < 5; ++i) service.append_event_now(s, numbered(i));
    adk::GetSessionConfig last_two;
    last_two.num_recent_events = 2;
    adk::Session recent = *service.get_session_now("app", "u", "s", last_two);
    service.append_event_now(recent, numbered(5));
    EXPECT_EQ(indexes(recent.events), (std::vector<int>{3, 4, 5}));
    adk::Session all = *service.get_session_now("app", "u", "s", {});
    EXPECT_EQ(indexes(all.events), (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(&all.events[5], &recent.events[2]);
}

// temp: keys: the caller's copy holds the event as appended, the store a
// stripped one; an empty delta object is stored as null but handed to the
// caller as given (as SqliteSessionService does).
TEST(AdkEventList, StrippedEventsAreStoredApartFromTheCallersCopy) {
    adk::InMemorySessionService service;
    adk::Session s = service.create_session_now("app", "u", Json::object(), "s");
    Event e = numbered(0);
    e.actions.state_delta["temp:scratch"] = 1;
    service.append_event_now(s, e);
    Event empty = Event::make("e-1", "agent");
    empty.actions.state_delta = Json::object();
    service.append_event_now(s, empty);
    service.append_event_now(s, numbered(2));
    ASSERT_EQ(s.events.size(), 3u);
    EXPECT_TRUE(s.events[0].actions.state_delta.contains("temp:scratch"));
    EXPECT_TRUE(s.events[1].actions.state_delta.is_object());
    adk::Session stored = *service.get_session_now("app", "u", "s", {});
    EXPECT_FALSE(stored.events[0].actions.state_delta.contains("temp:scratch"));
    EXPECT_TRUE(stored.events[1].actions.state_delta.is_null());
    EXPECT_NE(&stored.events[0], &s.events[0]);
    EXPECT_EQ(&stored.events[2], &s.events[2]) << "an event without temp: keys is shared";
    EXPECT_EQ(stored.events[0].actions.state_delta.at("i"), 0);
}
