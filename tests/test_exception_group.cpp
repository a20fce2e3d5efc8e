// aio::ExceptionGroup: exceptions(), split<E>(), subgroup<E>(), nesting and
// leaves(), the C++ spelling of `except*` (cases after CPython's
// test_exception_group.py: basics, split/subgroup by type and predicate,
// nested structure kept, identity of an unsplit group).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "aio/errors.hpp"
#include "aio/exception_group.hpp"

namespace {

template <class E, class... Args>
std::exception_ptr make(Args&&... args) {
    return std::make_exception_ptr(E(std::forward<Args>(args)...));
}

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (const aio::CancelledError& c) {
        return c.what();
    } catch (...) {
        return "?";
    }
}

std::vector<std::string> whats(const std::vector<std::exception_ptr>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(what_of(e));
    return out;
}

}  // namespace

TEST(ExceptionGroup, BasicsAndWhat) {
    aio::ExceptionGroup eg("msg", {make<std::invalid_argument>("v1"), make<std::logic_error>("t1")});
    EXPECT_EQ(eg.message(), "msg");
    EXPECT_EQ(eg.size(), 2u);
    EXPECT_STREQ(eg.what(), "msg (2 sub-exceptions)");
    aio::ExceptionGroup one("m", {make<std::runtime_error>("x")});
    EXPECT_STREQ(one.what(), "m (1 sub-exception)");
    EXPECT_EQ(whats(eg.exceptions()), (std::vector<std::string>{"v1", "t1"}));
}

TEST(ExceptionGroup, RejectsEmptyAndNull) {
    EXPECT_THROW(aio::ExceptionGroup("m", {}), std::invalid_argument);
    EXPECT_THROW(aio::ExceptionGroup("m", {nullptr}), std::invalid_argument);
}

TEST(ExceptionGroup, IsAStdExceptionAndCatchable) {
    try {
        throw aio::ExceptionGroup("m", {make<std::runtime_error>("x")});
    } catch (const std::exception& e) {
        EXPECT_STREQ(e.what(), "m (1 sub-exception)");
    }
}

TEST(ExceptionGroup, SplitByType) {
    aio::ExceptionGroup eg("msg", {make<std::invalid_argument>("v1"), make<std::logic_error>("t1"),
                                   make<std::invalid_argument>("v2"), make<std::runtime_error>("r1")});
    auto [match, rest] = eg.split<std::invalid_argument>();
    ASSERT_TRUE(match);
    ASSERT_TRUE(rest);
    EXPECT_EQ(whats(match->exceptions()), (std::vector<std::string>{"v1", "v2"}));
    EXPECT_EQ(whats(rest->exceptions()), (std::vector<std::string>{"t1", "r1"}));
    EXPECT_EQ(match->message(), "msg");
    // Base classes match derived ones, as isinstance() does.
    auto [logic, others] = eg.split<std::logic_error>();
    ASSERT_TRUE(logic);
    EXPECT_EQ(logic->size(), 3u);
    ASSERT_TRUE(others);
    EXPECT_EQ(whats(others->exceptions()), (std::vector<std::string>{"r1"}));
}

TEST(ExceptionGroup, SplitAllOrNothing) {
    aio::ExceptionGroup eg("msg", {make<std::invalid_argument>("v1"), make<std::invalid_argument>("v2")});
    auto [all, none] = eg.split<std::exception>();
    ASSERT_TRUE(all);
    EXPECT_FALSE(none);
    EXPECT_EQ(all->size(), 2u);
    auto [nothing, everything] = eg.split<std::out_of_range>();
    EXPECT_FALSE(nothing);
    ASSERT_TRUE(everything);
    EXPECT_EQ(everything->size(), 2u);
    EXPECT_FALSE(eg.subgroup<std::out_of_range>());
    // The group itself is an ExceptionGroup: the whole group matches.
    auto [self, rest] = eg.split<aio::ExceptionGroup>();
    ASSERT_TRUE(self);
    EXPECT_FALSE(rest);
}

TEST(ExceptionGroup, NestedGroupsKeepTheirStructure) {
    aio::ExceptionGroup inner("inner", {make<std::invalid_argument>("v2"), make<std::logic_error>("t2")});
    aio::ExceptionGroup outer("outer", {make<std::invalid_argument>("v1"), std::make_exception_ptr(inner),
                                        make<std::runtime_error>("r1")});
    // exceptions(): the nested group is one member.
    EXPECT_EQ(outer.size(), 3u);
    EXPECT_TRUE(aio::ExceptionGroup::as_group(outer.exceptions()[1]).has_value());
    EXPECT_FALSE(aio::ExceptionGroup::as_group(outer.exceptions()[0]).has_value());
    // leaves(): flattened, depth first.
    EXPECT_EQ(whats(outer.leaves()), (std::vector<std::string>{"v1", "v2", "t2", "r1"}));

    auto [match, rest] = outer.split<std::invalid_argument>();
    ASSERT_TRUE(match);
    ASSERT_TRUE(rest);
    // match = outer(v1, inner(v2)); rest = outer(inner(t2), r1)
    ASSERT_EQ(match->size(), 2u);
    EXPECT_EQ(what_of(match->exceptions()[0]), "v1");
    auto m_inner = aio::ExceptionGroup::as_group(match->exceptions()[1]);
    ASSERT_TRUE(m_inner);
    EXPECT_EQ(m_inner->message(), "inner");
    EXPECT_EQ(whats(m_inner->exceptions()), (std::vector<std::string>{"v2"}));
    ASSERT_EQ(rest->size(), 2u);
    auto r_inner = aio::ExceptionGroup::as_group(rest->exceptions()[0]);
    ASSERT_TRUE(r_inner);
    EXPECT_EQ(whats(r_inner->exceptions()), (std::vector<std::string>{"t2"}));
    EXPECT_EQ(what_of(rest->exceptions()[1]), "r1");
}

TEST(ExceptionGroup, UnsplitNestedGroupKeepsItsIdentity) {
    auto inner_ptr = std::make_exception_ptr(aio::ExceptionGroup("inner", {make<std::invalid_argument>("v")}));
    aio::ExceptionGroup outer("outer", {inner_ptr, make<std::runtime_error>("r")});
    auto [match, rest] = outer.split<std::invalid_argument>();
    ASSERT_TRUE(match);
    ASSERT_EQ(match->size(), 1u);
    EXPECT_TRUE(match->exceptions()[0] == inner_ptr);  // the very same exception object
}

TEST(ExceptionGroup, SubgroupAndContains) {
    aio::ExceptionGroup inner("inner", {make<std::out_of_range>("o")});
    aio::ExceptionGroup eg("m", {make<std::invalid_argument>("v"), std::make_exception_ptr(inner)});
    EXPECT_TRUE(eg.contains<std::out_of_range>());
    EXPECT_TRUE(eg.contains<std::invalid_argument>());
    EXPECT_FALSE(eg.contains<std::bad_alloc>());
    auto sub = eg.subgroup<std::out_of_range>();
    ASSERT_TRUE(sub);
    EXPECT_EQ(sub->leaves().size(), 1u);
}

TEST(ExceptionGroup, PredicateSplit) {
    aio::ExceptionGroup eg("m", {make<std::runtime_error>("keep"), make<std::runtime_error>("drop")});
    auto [keep, drop] = eg.split_if([](const std::exception_ptr& e) { return what_of(e) == "keep"; });
    ASSERT_TRUE(keep && drop);
    EXPECT_EQ(whats(keep->exceptions()), (std::vector<std::string>{"keep"}));
    EXPECT_EQ(whats(drop->exceptions()), (std::vector<std::string>{"drop"}));
    auto none = eg.subgroup_if([](const std::exception_ptr&) { return false; });
    EXPECT_FALSE(none);
}

TEST(ExceptionGroup, NonStdExceptionsAndCancelledError) {
    aio::ExceptionGroup eg("m", {std::make_exception_ptr(42), std::make_exception_ptr(aio::CancelledError("c"))});
    EXPECT_TRUE(eg.contains<int>());
    EXPECT_TRUE(eg.contains<aio::CancelledError>());
    auto [ints, rest] = eg.split<int>();
    ASSERT_TRUE(ints && rest);
    EXPECT_EQ(ints->size(), 1u);
    EXPECT_TRUE(aio::ExceptionGroup::matches<aio::CancelledError>(rest->exceptions()[0]));
}

// The except* idiom: handle one type, re-raise the rest.
TEST(ExceptionGroup, ExceptStarIdiom) {
    int handled = 0;
    auto handle_value_errors = [&](const aio::ExceptionGroup& eg) {
        auto [values, rest] = eg.split<std::invalid_argument>();
        if (values) handled += static_cast<int>(values->leaves().size());
        if (rest) throw *rest;
    };
    aio::ExceptionGroup eg("m", {make<std::invalid_argument>("a"), make<std::out_of_range>("b")});
    try {
        handle_value_errors(eg);
        FAIL() << "the rest was not re-raised";
    } catch (const aio::ExceptionGroup& rest) {
        EXPECT_EQ(whats(rest.exceptions()), (std::vector<std::string>{"b"}));
    }
    EXPECT_EQ(handled, 1);
}
