// Tests for aio::async_with, aio::AsyncContextManager, aio::aclosing
// (aio/context.hpp) and aio::AsyncExitStack (aio/exit_stack.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "aio/async_generator.hpp"
#include "aio/context.hpp"
#include "aio/exit_stack.hpp"
#include "aio/run.hpp"
#include "aio/sleep.hpp"

using namespace std::chrono_literals;
using Log = std::vector<std::string>;

namespace {

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const aio::CancelledError&) {
        return "CancelledError";
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "?";
    }
}

/// A class-style async context manager (Python's __aenter__/__aexit__).
struct Connection {
    Log* log;
    bool suppress = false;
    std::string name = "conn";
    bool open = false;

    aio::Coro<Connection*> aenter() {
        co_await aio::sleep(0s);
        open = true;
        log->push_back("enter " + name);
        co_return this;
    }
    aio::Coro<bool> aexit(std::exception_ptr e) {
        co_await aio::sleep(1ms);  // async cleanup
        open = false;
        log->push_back("exit " + name + (e ? " with " + what_of(e) : ""));
        co_return suppress;
    }
};

/// A manager whose exit returns void: it never suppresses.
struct Timer {
    Log* log;
    aio::Coro<int> aenter() {
        log->push_back("timer on");
        co_return 7;
    }
    aio::Coro<> aexit(std::exception_ptr) {
        co_await aio::sleep(0s);
        log->push_back("timer off");
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// async_with

TEST(AsyncWith, EnterBodyExitInOrder) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        // g++ 12 miscompiles an aggregate temporary built inside a co_await
        // statement (double destruction): build managers as named locals.
        Connection conn{&log};
        auto result = co_await aio::async_with(std::move(conn), [&](Connection* c) -> aio::Coro<int> {
            EXPECT_TRUE(c->open);
            log.push_back("body");
            co_return 42;
        });
        static_assert(std::is_same_v<decltype(result), std::optional<int>>);  // aexit may suppress
        EXPECT_EQ(result, 42);

        Timer timer{&log};
        int got = co_await aio::async_with(std::move(timer), [&](int v) -> aio::Coro<int> { co_return v + 1; });
        EXPECT_EQ(got, 8);  // aexit returns void: the result is not optional
    });
    EXPECT_EQ(log, (Log{"enter conn", "body", "exit conn", "timer on", "timer off"}));
}

TEST(AsyncWith, ExitSeesTheBodysExceptionWhichPropagates) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        bool thrown = false;
        Connection conn{&log};
        try {
            co_await aio::async_with(std::move(conn), [&](Connection*) -> aio::Coro<> {
                throw std::runtime_error("body failed");
                co_return;
            });
        } catch (const std::runtime_error& e) {
            thrown = std::string(e.what()) == "body failed";
        }
        EXPECT_TRUE(thrown);
    });
    EXPECT_EQ(log, (Log{"enter conn", "exit conn with body failed"}));
}

TEST(AsyncWith, ExitCanSuppress) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        Connection conn{&log, /*suppress=*/true};
        auto result = co_await aio::async_with(conn, [&](Connection*) -> aio::Coro<int> {
            throw std::runtime_error("swallowed");
            co_return 1;
        });
        EXPECT_FALSE(result.has_value());
        co_await aio::async_with(conn, []() -> aio::Coro<> {  // a body may ignore the resource
            throw std::runtime_error("again");
            co_return;
        });
    });
    EXPECT_EQ(log, (Log{"enter conn", "exit conn with swallowed", "enter conn", "exit conn with again"}));
}

TEST(AsyncWith, ExitRunsAndAwaitsWhenTheBodyIsCancelled) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto task = aio::create_task([&]() -> aio::Coro<> {
            Connection conn{&log};
            co_await aio::async_with(std::move(conn), [&](Connection*) -> aio::Coro<> {
                co_await aio::sleep(10s);
                log.push_back("not reached");
            });
        });
        co_await aio::sleep(5ms);
        task.cancel();
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(task.cancelled());
    });
    EXPECT_EQ(log, (Log{"enter conn", "exit conn with CancelledError"}));
}

TEST(AsyncWith, FailingEnterSkipsBodyAndExit) {
    struct BadEnter {
        Log* log;
        aio::Coro<int> aenter() {
            co_await aio::sleep(0s);
            throw std::runtime_error("cannot enter");
        }
        aio::Coro<> aexit(std::exception_ptr) {
            log->push_back("exit");
            co_return;
        }
    };
    Log log;
    aio::run([&]() -> aio::Coro<> {
        bool thrown = false;
        BadEnter bad{&log};
        try {
            co_await aio::async_with(std::move(bad), [&](int) -> aio::Coro<> {
                log.push_back("body");
                co_return;
            });
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
    });
    EXPECT_TRUE(log.empty());
}

// ---------------------------------------------------------------------------
// AsyncContextManager

namespace {

struct Session {
    std::string id;
    int count = 0;
    bool saved = false;
};

aio::AsyncContextManager<Session> managed_session(std::string id, Log* log, bool swallow = false) {
    co_await aio::sleep(0s);  // load_session
    Session session{id};
    log->push_back("loaded " + id);
    std::exception_ptr failure;
    try {
        co_yield session;
    } catch (const std::exception& e) {
        log->push_back(std::string("manager saw ") + e.what());
        failure = std::current_exception();
    } catch (const aio::CancelledError&) {
        log->push_back("manager saw CancelledError");
        failure = std::current_exception();
    }
    co_await aio::sleep(1ms);  // session.save(): async cleanup, outside the catch block
    session.saved = true;
    log->push_back("saved " + id + " count=" + std::to_string(session.count));
    if (failure && !swallow) std::rethrow_exception(failure);
}

}  // namespace

TEST(AsyncContextManager, CodeBeforeYieldEntersCodeAfterExits) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        co_await aio::async_with(managed_session("abc-123", &log), [&](Session& s) -> aio::Coro<> {
            s.count += 1;
            log.push_back("body " + s.id);
            co_return;
        });
    });
    EXPECT_EQ(log, (Log{"loaded abc-123", "body abc-123", "saved abc-123 count=1"}));
}

TEST(AsyncContextManager, BodyExceptionIsDeliveredAtTheYield) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        bool thrown = false;
        try {
            co_await aio::async_with(managed_session("s", &log), [&](Session&) -> aio::Coro<> {
                throw std::invalid_argument("bad input");
                co_return;
            });
        } catch (const std::invalid_argument&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);

        // A manager that finishes normally suppresses the exception.
        auto r = co_await aio::async_with(managed_session("t", &log, /*swallow=*/true),
                                          [&](Session&) -> aio::Coro<int> {
                                              throw std::invalid_argument("swallowed");
                                              co_return 1;
                                          });
        EXPECT_FALSE(r.has_value());
    });
    EXPECT_EQ(log, (Log{"loaded s", "manager saw bad input", "saved s count=0", "loaded t",
                        "manager saw swallowed", "saved t count=0"}));
}

TEST(AsyncContextManager, CancelledBodyStillRunsTheAsyncExit) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto task = aio::create_task([&]() -> aio::Coro<> {
            co_await aio::async_with(managed_session("c", &log), [&](Session&) -> aio::Coro<> {
                co_await aio::sleep(10s);
            });
        });
        co_await aio::sleep(5ms);
        task.cancel();
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(task.cancelled());
    });
    EXPECT_EQ(log, (Log{"loaded c", "manager saw CancelledError", "saved c count=0"}));
}

TEST(AsyncContextManager, ManagerRaisingAnotherExceptionReplacesIt) {
    auto replacing = []() -> aio::AsyncContextManager<int> {
        std::exception_ptr failure;
        try {
            co_yield 5;
        } catch (...) {
            failure = std::current_exception();
        }
        co_await aio::sleep(0s);
        if (failure) throw std::logic_error("replaced");
    };
    aio::run([&]() -> aio::Coro<> {
        std::string seen;
        try {
            co_await aio::async_with(replacing(), [&](int& v) -> aio::Coro<> {
                EXPECT_EQ(v, 5);  // a converted/temporary resource lives until the exit
                throw std::runtime_error("original");
                co_return;
            });
        } catch (const std::exception& e) {
            seen = e.what();
        }
        EXPECT_EQ(seen, "replaced");
    });
}

TEST(AsyncContextManager, MisuseIsRuntimeError) {
    auto no_yield = []() -> aio::AsyncContextManager<int> { co_return; };
    auto yields_twice = []() -> aio::AsyncContextManager<int> {
        co_yield 1;
        co_yield 2;
    };
    aio::run([&]() -> aio::Coro<> {
        bool enter_failed = false;
        try {
            co_await aio::async_with(no_yield(), [](int&) -> aio::Coro<> { co_return; });
        } catch (const aio::RuntimeError& e) {
            enter_failed = std::string(e.what()).find("did not yield") != std::string::npos;
        }
        EXPECT_TRUE(enter_failed);
        bool exit_failed = false;
        try {
            co_await aio::async_with(yields_twice(), [](int&) -> aio::Coro<> { co_return; });
        } catch (const aio::RuntimeError& e) {
            exit_failed = std::string(e.what()).find("more than once") != std::string::npos;
        }
        EXPECT_TRUE(exit_failed);
    });
}

TEST(AsyncContextManager, DestroyedWhileEnteredIsReportedInDebugMode) {
    Log log;
    std::vector<std::string> reports;
    aio::Runner runner(aio::RunOptions{.debug = true});
    runner.get_loop().set_exception_handler(
        [&](aio::EventLoop&, const aio::ExceptionContext& c) { reports.push_back(c.message); });
    runner.run([&]() -> aio::Coro<> {
        auto cm = managed_session("x", &log);
        Session& s = co_await cm.aenter();
        EXPECT_EQ(s.id, "x");
    });  // cm destroyed without aexit
    EXPECT_EQ(log, (Log{"loaded x"}));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("AsyncContextManager was destroyed before its async cleanup ran"), std::string::npos);
}

// ---------------------------------------------------------------------------
// aclosing

TEST(Aclosing, ClosesTheGeneratorWhenTheBodyStopsEarly) {
    Log log;
    auto stream = [&]() -> aio::AsyncGenerator<int> {
        std::exception_ptr failure;
        try {
            for (int i = 0;; ++i) co_yield i;
        } catch (...) {
            failure = std::current_exception();
        }
        co_await aio::sleep(1ms);
        log.push_back("connection closed");
        if (failure) std::rethrow_exception(failure);
    };
    aio::run([&]() -> aio::Coro<> {
        co_await aio::async_with(aio::aclosing(stream()), [&](aio::AsyncGenerator<int>& gen) -> aio::Coro<> {
            while (auto v = co_await gen.next()) {
                if (*v == 2) break;
            }
        });
        auto gen = stream();
        co_await aio::async_with(aio::aclosing(gen), [&](aio::AsyncGenerator<int>& g) -> aio::Coro<> {
            auto v = co_await g.next();
            EXPECT_EQ(v, 0);
        });
        EXPECT_TRUE(gen.done());
    });
    EXPECT_EQ(log, (Log{"connection closed", "connection closed"}));
}

// ---------------------------------------------------------------------------
// AsyncExitStack

namespace {
aio::AsyncContextManager<std::string> managed_tool(std::string name, Log* log) {
    co_await aio::sleep(0s);
    log->push_back("open " + name);
    std::exception_ptr failure;
    try {
        co_yield name;
    } catch (...) {
        failure = std::current_exception();
    }
    co_await aio::sleep(0s);
    log->push_back("close " + name);
    if (failure) std::rethrow_exception(failure);
}
}  // namespace

TEST(AsyncExitStack, ExitsRunInReverseOrder) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        std::vector<std::string> opened;
        co_await aio::async_with(aio::AsyncExitStack{}, [&](aio::AsyncExitStack& stack) -> aio::Coro<> {
            for (const char* name : {"fs", "web", "db"}) {
                std::string& tool = co_await stack.enter_async_context(managed_tool(name, &log));
                opened.push_back(tool);
            }
            stack.callback([&](const std::string& what) { log.push_back("callback " + what); }, std::string("sync"));
            stack.push_async_callback([&]() -> aio::Coro<> {
                co_await aio::sleep(0s);
                log.push_back("async callback");
            });
            EXPECT_EQ(stack.size(), 5u);
            log.push_back("body");
        });
        EXPECT_EQ(opened, (std::vector<std::string>{"fs", "web", "db"}));
    });
    EXPECT_EQ(log, (Log{"open fs", "open web", "open db", "body", "async callback", "callback sync", "close db",
                        "close web", "close fs"}));
}

TEST(AsyncExitStack, EveryExitRunsAndTheLastErrorWinsOthersAreReported) {
    Log log;
    std::vector<std::pair<std::string, std::string>> reports;
    aio::Runner runner;
    runner.get_loop().set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& c) {
        reports.emplace_back(c.message, what_of(c.exception));
    });
    runner.run([&]() -> aio::Coro<> {
        aio::AsyncExitStack stack;
        stack.push_async_callback([&]() -> aio::Coro<> {  // runs last
            log.push_back("first registered");
            throw std::runtime_error("E3");
            co_return;
        });
        stack.push_async_exit([&](std::exception_ptr e) -> aio::Coro<bool> {
            log.push_back("sees " + what_of(e));
            co_return false;
        });
        stack.callback([&] {
            log.push_back("second registered");
            throw std::runtime_error("E2");
        });
        stack.push_async_exit([&](std::exception_ptr e) -> aio::Coro<bool> {
            log.push_back("sees " + what_of(e));
            co_return false;
        });
        std::string seen;
        try {
            bool suppressed = co_await stack.aexit(std::make_exception_ptr(std::runtime_error("E1 body")));
            (void)suppressed;
        } catch (const std::runtime_error& e) {
            seen = e.what();
        }
        EXPECT_EQ(seen, "E3");
        EXPECT_EQ(stack.size(), 0u);
    });
    EXPECT_EQ(log, (Log{"sees E1 body", "second registered", "sees E2", "first registered"}));
    ASSERT_EQ(reports.size(), 2u);  // the superseded errors, in order
    EXPECT_EQ(reports[0].second, "E1 body");
    EXPECT_EQ(reports[1].second, "E2");
    EXPECT_NE(reports[0].first.find("superseded"), std::string::npos);
}

TEST(AsyncExitStack, AnExitCanSuppressForTheExitsAfterIt) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        aio::AsyncExitStack stack;
        stack.push_async_exit([&](std::exception_ptr e) -> aio::Coro<bool> {
            log.push_back(e ? "outer sees " + what_of(e) : "outer sees nothing");
            co_return false;
        });
        stack.push_async_exit([&](std::exception_ptr e) -> aio::Coro<bool> {
            log.push_back("inner suppresses " + what_of(e));
            co_return true;
        });
        bool suppressed = co_await stack.aexit(std::make_exception_ptr(std::runtime_error("boom")));
        EXPECT_TRUE(suppressed);
    });
    EXPECT_EQ(log, (Log{"inner suppresses boom", "outer sees nothing"}));
}

TEST(AsyncExitStack, FailedEnterRegistersNothingAndPopAllTransfers) {
    auto broken = []() -> aio::AsyncContextManager<int> {
        throw std::runtime_error("no");
        co_yield 1;
    };
    Log log;
    aio::run([&]() -> aio::Coro<> {
        aio::AsyncExitStack stack;
        std::string& a = co_await stack.enter_async_context(managed_tool("a", &log));
        EXPECT_EQ(a, "a");
        bool thrown = false;
        try {
            int& x = co_await stack.enter_async_context(broken());
            (void)x;
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
        EXPECT_EQ(stack.size(), 1u);
        aio::AsyncExitStack moved = stack.pop_all();
        EXPECT_EQ(stack.size(), 0u);
        co_await stack.aclose();  // nothing
        EXPECT_EQ(log, (Log{"open a"}));
        co_await moved.aclose();
    });
    EXPECT_EQ(log, (Log{"open a", "close a"}));
}

TEST(AsyncExitStack, CancellationDuringAnExitStillRunsTheRest) {
    Log log;
    aio::run([&]() -> aio::Coro<> {
        auto task = aio::create_task([&]() -> aio::Coro<> {
            aio::AsyncExitStack stack;
            stack.callback([&] { log.push_back("outer exit ran"); });
            stack.push_async_callback([&]() -> aio::Coro<> {
                co_await aio::sleep(10s);  // cancelled here
                log.push_back("not reached");
            });
            co_await stack.aclose();
        });
        co_await aio::sleep(5ms);
        task.cancel();
        try {
            co_await task;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_TRUE(task.cancelled());
    });
    EXPECT_EQ(log, (Log{"outer exit ran"}));
}

TEST(AsyncExitStack, DestroyedWithPendingExitsIsReportedInDebugMode) {
    Log log;
    std::vector<std::string> reports;
    aio::Runner runner(aio::RunOptions{.debug = true});
    runner.get_loop().set_exception_handler(
        [&](aio::EventLoop&, const aio::ExceptionContext& c) { reports.push_back(c.message); });
    runner.run([&]() -> aio::Coro<> {
        aio::AsyncExitStack stack;
        stack.callback([&] { log.push_back("ran"); });
        co_return;
    });
    EXPECT_TRUE(log.empty());
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].find("AsyncExitStack"), std::string::npos);
}
