// aio::TaskGroup / aio::task_group: ports of CPython's test_taskgroups.py.
// Python's `1 / 0` is std::domain_error here, MyExc is MyExc.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "aio/errors.hpp"
#include "aio/event_loop.hpp"
#include "aio/log.hpp"
#include "aio/exception_group.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"
#include "aio/task.hpp"
#include "aio/task_group.hpp"
#include "aio/timeout.hpp"

#include "support.hpp"

using namespace std::chrono_literals;


namespace {

using aio_test::CapturedLog;


struct MyExc : std::runtime_error {
    MyExc() : std::runtime_error("MyExc") {}
};

[[noreturn]] void divide_by_zero() { throw std::domain_error("division by zero"); }

std::type_index type_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const aio::ExceptionGroup&) {
        return typeid(aio::ExceptionGroup);
    } catch (const MyExc&) {
        return typeid(MyExc);
    } catch (const std::domain_error&) {
        return typeid(std::domain_error);
    } catch (const std::invalid_argument&) {
        return typeid(std::invalid_argument);
    } catch (const std::exception& x) {
        return typeid(x);
    } catch (...) {
        return typeid(void);
    }
}

/// Python's get_error_types(eg): the set of the direct members' types.
std::set<std::type_index> error_types(const aio::ExceptionGroup& eg) {
    std::set<std::type_index> out;
    for (const auto& e : eg.exceptions()) out.insert(type_of(e));
    return out;
}

aio::Coro<int> value_after(int v, aio::Clock::duration d) {
    co_await aio::sleep(d);
    co_return v;
}

aio::Coro<> sleep_for(aio::Clock::duration d) { co_await aio::sleep(d); }

aio::Coro<> hydra(int* n, aio::TaskGroup& g) {
    ++*n;
    co_await aio::sleep(10ms);
    if (*n > 100000) co_return;  // (never: hercules stops them long before)
    g.create_task(hydra(n, g));
    g.create_task(hydra(n, g));
}

aio::Coro<> crash_after(aio::Clock::duration d) {
    co_await aio::sleep(d);
    divide_by_zero();
}

aio::Coro<> value_error_after(aio::Clock::duration d) {
    co_await aio::sleep(d);
    throw std::invalid_argument("value error");
}

/// Awaits `t` and returns the ExceptionGroup it failed with (or fails the test).
template <class T>
aio::Coro<std::optional<aio::ExceptionGroup>> group_of(aio::Task<T> t) {
    std::optional<aio::ExceptionGroup> eg;
    try {
        co_await t;
        ADD_FAILURE() << "no ExceptionGroup was raised";
    } catch (const aio::ExceptionGroup& g) {
        eg = g;
    }
    co_return eg;
}

template <class T>
aio::Coro<bool> raises_cancelled(aio::Task<T> t, std::string* message = nullptr) {
    try {
        co_await t;
    } catch (const aio::CancelledError& e) {
        if (message) *message = e.message();
        co_return true;
    }
    co_return false;
}

}  // namespace

TEST(TaskGroup, Taskgroup01_ChildrenFinishBeforeExit) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> t1, t2;
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            t1 = g.create_task(value_after(42, 100ms));
            t2 = g.create_task(value_after(11, 200ms));
            co_return;
        });
        EXPECT_EQ(t1.result(), 42);
        EXPECT_EQ(t2.result(), 11);
    });
}

TEST(TaskGroup, Taskgroup02_CreateTaskAfterAwaitInBody) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> t1, t2;
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            t1 = g.create_task(value_after(42, 100ms));
            co_await aio::sleep(150ms);
            t2 = g.create_task(value_after(11, 200ms));
        });
        EXPECT_EQ(t1.result(), 42);
        EXPECT_EQ(t2.result(), 11);
    });
}

TEST(TaskGroup, Taskgroup03_ExplicitChildCancelIsNotAnError) {
    aio::run([]() -> aio::Coro<> {
        aio::Task<int> t1, t2;
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            t1 = g.create_task(value_after(42, 1s));
            co_await aio::sleep(15ms);
            t1.cancel();
            t2 = g.create_task(value_after(11, 20ms));
        });
        EXPECT_TRUE(t1.cancelled());
        EXPECT_EQ(t2.result(), 11);
    });
}

TEST(TaskGroup, Taskgroup04_ChildErrorCancelsSibling) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        bool t2_cancel = false;
        aio::Task<> t2;
        auto foo2 = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(1s);
            } catch (const aio::CancelledError&) {
                t2_cancel = true;
                throw;
            }
            num += 1;
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(crash_after(10ms));
                t2 = g.create_task(foo2());
                co_return;
            });
            num += 10;
        };
        auto eg = co_await group_of(aio::create_task(runner()));
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(std::domain_error)});
        EXPECT_EQ(num, 0);
        EXPECT_TRUE(t2_cancel);
        EXPECT_TRUE(t2.cancelled());
    });
}

// CPython: test_cancel_children_on_child_error — several failures, the body
// is cancelled too.
TEST(TaskGroup, CancelChildrenAndBodyOnChildError) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        bool t2_cancel = false, runner_cancel = false;
        auto foo2 = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(5s);
            } catch (const aio::CancelledError&) {
                t2_cancel = true;
                throw;
            }
            num += 1;
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(crash_after(10ms));
                g.create_task(crash_after(10ms));
                g.create_task(crash_after(10ms));
                g.create_task(foo2());
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    runner_cancel = true;
                    throw;
                }
            });
            num += 10;
        };
        auto eg = co_await group_of(aio::create_task(runner()));
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(std::domain_error)});
        // The group reacts to the first failure at once: the other two crash
        // children, queued in the same iteration, are cancelled before they
        // raise (asyncio, which reacts one iteration later, may collect 3).
        EXPECT_GE(eg->size(), 1u);
        EXPECT_EQ(num, 0);
        EXPECT_TRUE(t2_cancel);
        EXPECT_TRUE(runner_cancel);
    });
}

// CPython: test_cancellation — the parent task cancelled from outside:
// children cancelled, CancelledError (with the message), no group.
TEST(TaskGroup, ParentCancelledFromOutside) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        auto foo = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(5s);
            } catch (const aio::CancelledError&) {
                num += 1;
                throw;
            }
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                for (int i = 0; i < 5; ++i) g.create_task(foo());
                co_return;
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        EXPECT_FALSE(r.done());
        r.cancel("test");
        std::string msg;
        bool cancelled = co_await raises_cancelled(r, &msg);
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(msg, "test");
        EXPECT_EQ(num, 5);
    });
}

// CPython: test_taskgroup_07 — cancelled while the body awaits.
TEST(TaskGroup, Taskgroup07_ParentCancelledInBody) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        auto foo = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(5s);
            } catch (const aio::CancelledError&) {
                num += 1;
                throw;
            }
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                for (int i = 0; i < 5; ++i) g.create_task(foo());
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    num += 10;
                    throw;
                }
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        EXPECT_FALSE(r.done());
        r.cancel();
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(num, 15);
    });
}

// CPython: test_cancellation_in_body — children about to fail, parent
// cancelled first: CancelledError wins (no child failed yet).
TEST(TaskGroup, CancellationInBody) {
    aio::run([]() -> aio::Coro<> {
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                for (int i = 0; i < 5; ++i) g.create_task(crash_after(100ms));
                co_await aio::sleep(10s);
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        EXPECT_FALSE(r.done());
        r.cancel("test");
        std::string msg;
        bool cancelled = co_await raises_cancelled(r, &msg);
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(msg, "test");
    });
}

// CPython: test_taskgroup_09 / _10 — the body fails (after or without an
// await): children cancelled, the body's error in the group.
TEST(TaskGroup, Taskgroup09_10_BodyErrorCancelsChildren) {
    for (bool await_first : {true, false}) {
        aio::run([&]() -> aio::Coro<> {
            aio::Task<int> t1, t2;
            auto runner = [&]() -> aio::Coro<> {
                co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                    t1 = g.create_task(value_after(42, 1s));
                    t2 = g.create_task(value_after(11, 2s));
                    if (await_first) co_await aio::sleep(10ms);
                    divide_by_zero();
                });
            };
            auto eg = co_await group_of(aio::create_task(runner()));
            CO_ASSERT_TRUE(eg.has_value());
            EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(std::domain_error)});
            EXPECT_TRUE(t1.cancelled());
            EXPECT_TRUE(t2.cancelled());
        });
    }
}

// CPython: test_taskgroup_11 / _12 — nested groups, outer task cancelled.
TEST(TaskGroup, Taskgroup11_12_NestedGroupsParentCancelled) {
    for (bool outer_child : {false, true}) {
        aio::run([&]() -> aio::Coro<> {
            auto runner = [&]() -> aio::Coro<> {
                co_await aio::task_group([&](aio::TaskGroup& g1) -> aio::Coro<> {
                    if (outer_child) g1.create_task(sleep_for(10s));
                    co_await aio::task_group([&](aio::TaskGroup& g2) -> aio::Coro<> {
                        for (int i = 0; i < 5; ++i) g2.create_task(crash_after(100ms));
                        co_await aio::sleep(10s);
                    });
                });
            };
            aio::Task<> r = aio::create_task(runner());
            co_await aio::sleep(10ms);
            EXPECT_FALSE(r.done());
            r.cancel();
            bool cancelled = co_await raises_cancelled(r);
            EXPECT_TRUE(cancelled);
        });
    }
}

// CPython: test_taskgroup_13 — the outer group's child crashes first: the
// inner group is cancelled (no group from it), one ValueError.
TEST(TaskGroup, Taskgroup13_NestedOuterChildCrashes) {
    aio::run([]() -> aio::Coro<> {
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g1) -> aio::Coro<> {
                g1.create_task(value_error_after(10ms));
                co_await aio::task_group([&](aio::TaskGroup& g2) -> aio::Coro<> {
                    g2.create_task(value_error_after(10s));
                    co_return;
                });
            });
        };
        auto eg = co_await group_of(aio::create_task(runner()));
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(std::invalid_argument)});
    });
}

// CPython: test_taskgroup_14 — the inner group's child crashes first: the
// outer group holds the inner group, nested.
TEST(TaskGroup, Taskgroup14_NestedInnerChildCrashesGroupsNest) {
    aio::run([]() -> aio::Coro<> {
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g1) -> aio::Coro<> {
                g1.create_task(value_error_after(10s));
                co_await aio::task_group([&](aio::TaskGroup& g2) -> aio::Coro<> {
                    g2.create_task(value_error_after(10ms));
                    co_return;
                });
            });
        };
        auto eg = co_await group_of(aio::create_task(runner()));
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(aio::ExceptionGroup)});
        auto inner = aio::ExceptionGroup::as_group(eg->exceptions()[0]);
        CO_ASSERT_TRUE(inner.has_value());
        EXPECT_EQ(error_types(*inner), std::set<std::type_index>{typeid(std::invalid_argument)});
        // split looks through the nesting and keeps it.
        auto [match, rest] = eg->split<std::invalid_argument>();
        EXPECT_TRUE(match.has_value());
        EXPECT_FALSE(rest.has_value());
        EXPECT_EQ(eg->leaves().size(), 1u);
    });
}

// CPython: test_taskgroup_15 / _16 — the parent is cancelled while the body
// awaits; its cleanup awaits too and re-raises before the child would crash:
// CancelledError. (If the child crashes during that cleanup, its failure
// wins: see ErrorsWinOverOutsideCancellationWhichStaysPending.)
TEST(TaskGroup, Taskgroup15_ParentCancelledBodyCleanupAwaits) {
    aio::run([]() -> aio::Coro<> {
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g1) -> aio::Coro<> {
                g1.create_task(crash_after(300ms));
                bool cancelled = false;
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    cancelled = true;
                }
                if (cancelled) {
                    co_await aio::sleep(50ms);  // cleanup; the child is cancelled meanwhile
                    throw aio::CancelledError();
                }
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        EXPECT_FALSE(r.done());
        r.cancel();
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
    });
}

TEST(TaskGroup, Taskgroup16_NestedRunnerCancelled) {
    aio::run([]() -> aio::Coro<> {
        auto nested_runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g1) -> aio::Coro<> {
                g1.create_task(crash_after(300ms));
                bool cancelled = false;
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    cancelled = true;
                }
                if (cancelled) {
                    co_await aio::sleep(50ms);
                    throw aio::CancelledError();
                }
            });
        };
        auto runner = [&]() -> aio::Coro<> {
            aio::Task<> t = aio::create_task(nested_runner());
            co_await t;
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        EXPECT_FALSE(r.done());
        r.cancel();
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
    });
}

// CPython: test_taskgroup_17 — an empty group, cancelled in the body.
TEST(TaskGroup, Taskgroup17_EmptyGroupCancelled) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup&) -> aio::Coro<> {
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    num += 10;
                    throw;
                }
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        r.cancel();
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
        EXPECT_EQ(num, 10);
    });
}

// CPython: test_taskgroup_18 — the body turns a cancellation into MyExc.
TEST(TaskGroup, Taskgroup18_BodyReplacesCancellationWithError) {
    aio::run([]() -> aio::Coro<> {
        int num = 0;
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup&) -> aio::Coro<> {
                bool cancelled = false;
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                    cancelled = true;
                }
                if (cancelled) {
                    num += 10;
                    throw MyExc();
                }
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);
        r.cancel();
        auto eg = co_await group_of(r);
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), std::set<std::type_index>{typeid(MyExc)});
        EXPECT_EQ(num, 10);
    });
}

// CPython: test_taskgroup_19 — the body's cleanup raises after the group
// cancelled it: both errors in the group.
TEST(TaskGroup, Taskgroup19_BodyAndChildErrorsBothCollected) {
    aio::run([]() -> aio::Coro<> {
        auto nested = []() -> aio::Coro<> {
            try {
                co_await aio::sleep(10s);
            } catch (...) {
            }
            throw MyExc();
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(crash_after(10ms));
                co_await nested();
            });
        };
        auto eg = co_await group_of(aio::create_task(runner()));
        CO_ASSERT_TRUE(eg.has_value());
        EXPECT_EQ(error_types(*eg), (std::set<std::type_index>{typeid(MyExc), typeid(std::domain_error)}));
        // The child's failure happened first; the body's comes last.
        EXPECT_EQ(type_of(eg->exceptions().front()), typeid(std::domain_error));
        EXPECT_EQ(type_of(eg->exceptions().back()), typeid(MyExc));
    });
}

// CPython: test_taskgroup_22 — cancelled before any child finishes.
TEST(TaskGroup, Taskgroup22_CancelledWhileWaitingAtExit) {
    aio::run([]() -> aio::Coro<> {
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(value_after(42, 1s));
                g.create_task(value_after(11, 2s));
                co_return;
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(5ms);
        r.cancel();
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
    });
}

// CPython: test_taskgroup_23 — finished children leave the group.
TEST(TaskGroup, Taskgroup23_FinishedChildrenLeave) {
    aio::run([]() -> aio::Coro<> {
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            for (int count = 0; count < 10; ++count) {
                co_await aio::sleep(10ms);
                g.create_task(value_after(0, 30ms));
                if (count == 5) {
                    EXPECT_LT(g.size(), 5u);
                }
            }
            co_await aio::sleep(135ms);
            EXPECT_EQ(g.size(), 0u);
        });
    });
}

// CPython: test_taskgroup_24 — a child adds children.
TEST(TaskGroup, Taskgroup24_ChildCreatesChildren) {
    aio::run([]() -> aio::Coro<> {
        int ran = 0;
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            g.create_task([&]() -> aio::Coro<> {
                co_await aio::sleep(10ms);
                g.create_task([&]() -> aio::Coro<> {
                    co_await aio::sleep(10ms);
                    ++ran;
                });
                g.create_task([&]() -> aio::Coro<> {
                    co_await aio::sleep(20ms);
                    ++ran;
                });
            });
            co_return;
        });
        EXPECT_EQ(ran, 2);
    });
}

// CPython: test_taskgroup_25 — hydras multiply until hercules fails.
TEST(TaskGroup, Taskgroup25_Hydras) {
    aio::run([]() -> aio::Coro<> {
        int nhydras = 0;
        auto hercules = [&]() -> aio::Coro<> {
            while (nhydras < 10) co_await aio::sleep(15ms);
            divide_by_zero();
        };
        bool raised = false;
        try {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(hydra(&nhydras, g));
                g.create_task(hercules());
                co_return;
            });
        } catch (const aio::ExceptionGroup& eg) {
            raised = true;
            EXPECT_EQ(error_types(eg), std::set<std::type_index>{typeid(std::domain_error)});
        }
        EXPECT_TRUE(raised);
        EXPECT_GE(nhydras, 10);
    });
}

TEST(TaskGroup, TaskName) {
    aio::run([]() -> aio::Coro<> {
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            aio::Task<> t = g.create_task(sleep_for(0s), "yolo");
            EXPECT_EQ(t.get_name(), "yolo");
            co_return;
        });
    });
}

TEST(TaskGroup, CreateTaskWhileShuttingDownOrFinishedIsAnError) {
    aio::run([]() -> aio::Coro<> {
        bool refused = false;
        bool body_ran_after = false;
        try {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(crash_after(1ms));
                try {
                    co_await aio::sleep(10s);
                } catch (const aio::CancelledError&) {
                }
                EXPECT_TRUE(g.aborting());
                bool started = false;
                try {
                    g.create_task([&]() -> aio::Coro<> {
                        started = true;
                        co_return;
                    });
                } catch (const aio::RuntimeError&) {
                    refused = true;
                }
                EXPECT_FALSE(started);
                body_ran_after = true;
            });
        } catch (const aio::ExceptionGroup&) {
        }
        EXPECT_TRUE(refused);
        EXPECT_TRUE(body_ran_after);

        // A finished group refuses too.
        aio::TaskGroup g;
        co_await g.join();
        EXPECT_THROW(g.create_task(value_after(1, 0s)), aio::RuntimeError);
    });
}

// A child that ignores the first cancellation and needs time to clean up:
// the group waits for it; a second outside cancel does not break that.
TEST(TaskGroup, ChildIgnoringOneCancellationIsAwaited) {
    aio::run([]() -> aio::Coro<> {
        bool child_done = false;
        auto stubborn = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
            }
            co_await aio::sleep(30ms);  // ignores the first cancellation
            child_done = true;
        };
        auto runner = [&]() -> aio::Coro<> {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(stubborn());
                co_return;
            });
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(5ms);
        r.cancel();
        co_await aio::sleep(5ms);
        EXPECT_FALSE(r.done());  // still waiting for the stubborn child
        bool cancelled = co_await raises_cancelled(r);
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(child_done);
    });
}

// Several children fail: all failures collected, in order.
TEST(TaskGroup, SeveralFailuresInOneGroup) {
    aio::run([]() -> aio::Coro<> {
        bool raised = false;
        try {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                // Each fails during its cancellation cleanup, after the first.
                g.create_task(value_error_after(1ms));
                for (int i = 0; i < 3; ++i)
                    g.create_task([]() -> aio::Coro<> {
                        try {
                            co_await aio::sleep(10s);
                        } catch (...) {
                        }
                        throw MyExc();
                    });
                co_return;
            });
        } catch (const aio::ExceptionGroup& eg) {
            raised = true;
            EXPECT_EQ(eg.size(), 4u);
            EXPECT_EQ(type_of(eg.exceptions()[0]), typeid(std::invalid_argument));
            auto [my, rest] = eg.split<MyExc>();
            EXPECT_TRUE(my && my->size() == 3);
            EXPECT_TRUE(rest && rest->size() == 1);
            EXPECT_STREQ(eg.what(), "unhandled errors in a TaskGroup (4 sub-exceptions)");
        }
        EXPECT_TRUE(raised);
    });
}

// The group's own cancellation of the body is withdrawn: no request left on
// the task afterwards, and an enclosing timeout is not confused by it.
TEST(TaskGroup, OwnCancellationIsWithdrawn) {
    aio::run([]() -> aio::Coro<> {
        bool raised = false;
        try {
            co_await aio::timeout(10s, aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(crash_after(1ms));
                co_await aio::sleep(10s);
            }));
        } catch (const aio::ExceptionGroup&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_EQ(aio::current_task()->cancelling(), 0u);
    });
}

// A timeout around a group: the deadline cancels body and children; the
// timeout converts its own cancellation.
TEST(TaskGroup, TimeoutAroundGroup) {
    aio::run([]() -> aio::Coro<> {
        int cancelled = 0;
        auto child = [&]() -> aio::Coro<> {
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
                ++cancelled;
                throw;
            }
        };
        bool raised = false;
        try {
            co_await aio::timeout(20ms, aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                g.create_task(child());
                g.create_task(child());
                co_return;
            }));
        } catch (const aio::TimeoutError&) {
            raised = true;
        }
        EXPECT_TRUE(raised);
        EXPECT_EQ(cancelled, 2);
        EXPECT_EQ(aio::current_task()->cancelling(), 0u);
    });
}

// Outside cancellation and a child failure together: the failure wins, and
// the outside cancellation stays pending (raised at the next suspension).
TEST(TaskGroup, ErrorsWinOverOutsideCancellationWhichStaysPending) {
    aio::run([]() -> aio::Coro<> {
        bool group_raised = false, later_cancelled = false;
        auto runner = [&]() -> aio::Coro<> {
            try {
                co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                    g.create_task([]() -> aio::Coro<> {
                        try {
                            co_await aio::sleep(10s);
                        } catch (...) {
                        }
                        throw MyExc();  // fails while being cancelled
                    });
                    co_return;
                });
            } catch (const aio::ExceptionGroup&) {
                group_raised = true;
            }
            try {
                co_await aio::sleep(0s);
            } catch (const aio::CancelledError&) {
                later_cancelled = true;
            }
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(5ms);
        r.cancel();
        co_await r;
        EXPECT_TRUE(group_raised);
        EXPECT_TRUE(later_cancelled);
    });
}

// A child fails, the group cancels the others, and while one of them is
// still cleaning up (awaiting), the task running the group is cancelled from
// outside: the group still waits for the cleanup, the failure wins
// (ExceptionGroup), and the outside cancellation stays pending.
TEST(TaskGroup, ParentCancelledWhileChildrenCleanUp) {
    aio::run([]() -> aio::Coro<> {
        bool cleanup_done = false, group_raised = false, later_cancelled = false;
        auto slow_cleanup = [&]() -> aio::Coro<> {
            bool cancelled = false;
            try {
                co_await aio::sleep(10s);
            } catch (const aio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) {
                co_await aio::sleep(30ms);  // cleanup that awaits
                cleanup_done = true;
                throw aio::CancelledError();
            }
        };
        auto runner = [&]() -> aio::Coro<> {
            try {
                co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                    g.create_task(crash_after(1ms));
                    g.create_task(slow_cleanup());
                    co_return;
                });
            } catch (const aio::ExceptionGroup& eg) {
                group_raised = true;
                EXPECT_EQ(error_types(eg), std::set<std::type_index>{typeid(std::domain_error)});
            }
            EXPECT_TRUE(cleanup_done);  // the group waited for it
            EXPECT_EQ(aio::current_task()->cancelling(), 1u);
            try {
                co_await aio::sleep(0s);
            } catch (const aio::CancelledError&) {
                later_cancelled = true;
            }
        };
        aio::Task<> r = aio::create_task(runner());
        co_await aio::sleep(10ms);  // the child crashed; the other one is cleaning up
        EXPECT_FALSE(r.done());
        r.cancel();
        co_await r;
        EXPECT_TRUE(group_raised);
        EXPECT_TRUE(later_cancelled);
    });
}

TEST(TaskGroup, BodyValueIsReturned) {
    aio::run([]() -> aio::Coro<> {
        int v = co_await aio::task_group([](aio::TaskGroup& g) -> aio::Coro<int> {
            aio::Task<int> t = g.create_task(value_after(20, 1ms));
            int x = co_await t;
            co_return x + 1;
        });
        EXPECT_EQ(v, 21);
    });
}

TEST(TaskGroup, CapturingCallableChildrenStayAlive) {
    aio::run([]() -> aio::Coro<> {
        int sum = 0;
        co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
            for (int i = 0; i < 100; ++i) {
                auto owned = std::make_shared<int>(i);
                g.create_task([owned, &sum]() -> aio::Coro<> {
                    co_await aio::sleep(0s);
                    sum += *owned;
                });
            }
            co_return;
        });
        EXPECT_EQ(sum, 99 * 100 / 2);
    });
}

TEST(TaskGroup, ManyChildrenReuseNodes) {
    aio::run([]() -> aio::Coro<> {
        long total = 0;
        for (int round = 0; round < 5; ++round) {
            co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Coro<> {
                for (int i = 0; i < 3000; ++i)
                    g.create_task([&total, i]() -> aio::Coro<> {
                        total += i;
                        co_return;
                    });
                co_await aio::sleep(0s);
                for (int i = 0; i < 3000; ++i)
                    g.create_task([&total]() -> aio::Coro<> {
                        ++total;
                        co_return;
                    });
            });
        }
        EXPECT_EQ(total, 5L * (2999L * 3000 / 2 + 3000));
    });
}

// The object form: join(), exit(err), and destruction without exit.
TEST(TaskGroup, ObjectFormJoinAndExit) {
    aio::run([]() -> aio::Coro<> {
        {
            aio::TaskGroup g;
            aio::Task<int> t = g.create_task(value_after(3, 1ms));
            co_await g.join();
            EXPECT_EQ(t.result(), 3);
        }
        {
            aio::TaskGroup g;
            aio::Task<int> t = g.create_task(value_after(3, 10s));
            std::exception_ptr err;
            try {
                throw MyExc();
            } catch (...) {
                err = std::current_exception();
            }
            bool raised = false;
            try {
                co_await g.exit(err);
            } catch (const aio::ExceptionGroup& eg) {
                raised = true;
                EXPECT_EQ(error_types(eg), std::set<std::type_index>{typeid(MyExc)});
            }
            EXPECT_TRUE(raised);
            EXPECT_TRUE(t.cancelled());
        }
    });
}

TEST(TaskGroup, DestroyedWithoutExitCancelsAndDetachesChildren) {
    aio::run([]() -> aio::Coro<> {
        auto& loop = aio::get_running_loop();
        int reports = 0;
        loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext&) { ++reports; });
        aio::Task<int> quiet;
        aio::Task<> noisy;
        {
            aio::TaskGroup g;
            quiet = g.create_task(value_after(1, 10s));
            noisy = g.create_task([]() -> aio::Coro<> {
                try {
                    co_await aio::sleep(10s);
                } catch (...) {
                }
                throw MyExc();
            });
            co_await aio::sleep(0s);  // let the children start
        }  // destroyed without exit
        co_await aio::sleep(5ms);
        EXPECT_TRUE(quiet.cancelled());
        EXPECT_TRUE(noisy.done());
        EXPECT_EQ(reports, 1);
        loop.set_exception_handler({});
    });
}

TEST(TaskGroup, OutsideTaskIsAnError) {
    EXPECT_THROW(aio::TaskGroup g, aio::RuntimeError);
}

// The loop closes while a group waits at exit and while a body runs: frames
// destroyed unresumed, nodes unlinked, children left to the loop (ASan).
TEST(TaskGroup, LoopClosedWhileWaiting) {
    CapturedLog log;
    aio::EventLoop loop;
    loop.run_until_complete([]() -> aio::Coro<> {
        aio::create_task(aio::task_group([](aio::TaskGroup& g) -> aio::Coro<> {
            g.create_task(sleep_for(10s));
            g.create_task(sleep_for(10s));
            co_return;
        }));
        aio::create_task(aio::task_group([](aio::TaskGroup& g) -> aio::Coro<> {
            g.create_task(sleep_for(10s));
            co_await aio::sleep(10s);
        }));
        co_await aio::sleep(1ms);
    }());
    loop.close();
    EXPECT_GT(log.count("destroyed but it is pending"), 0u);
}
