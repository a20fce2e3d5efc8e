// Child processes: create_subprocess_exec / _shell, aio::Process and its
// pipes (issue 6).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aio/aio.hpp>
#include <aio/subprocess.hpp>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Whether pid still exists at all (running or zombie).
bool pid_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

/// The process state letter from /proc/<pid>/stat ('Z' for a zombie), or 0
/// when the pid is gone.
char pid_state(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return 0;
    char buf[512] = {};
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string s(buf, n);
    auto close = s.rfind(')');
    return close == std::string::npos || close + 2 >= s.size() ? 0 : s[close + 2];
}

/// Polls (from a coroutine) until pid is gone: neither running nor a zombie.
aio::Coro<bool> gone_within(pid_t pid, std::chrono::milliseconds limit) {
    auto until = aio::get_running_loop().time() + limit;
    while (aio::get_running_loop().time() < until) {
        if (!pid_exists(pid)) co_return true;
        co_await aio::sleep(5ms);
    }
    co_return false;
}

}  // namespace

TEST(Subprocess, EchoTenMegabytesThroughCommunicate) {
    std::string input(10 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>('a' + i % 26);
    auto [out, err, rc] = aio::run([&]() -> aio::Coro<std::tuple<std::string, std::string, int>> {
        aio::Process p =
            co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE, .stderr = aio::PIPE});
        auto [o, e] = co_await p.communicate(input);
        co_return std::tuple{std::move(o), std::move(e), p.returncode().value_or(-1000)};
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(out.size(), input.size());
    EXPECT_TRUE(out == input);
    EXPECT_EQ(err, "");
}

TEST(Subprocess, CommunicateReadsBothPipesAtOnce) {
    // 2 MB on stderr before anything on stdout: reading one pipe after the
    // other would deadlock on the full stderr pipe.
    auto [out, err] = aio::run([]() -> aio::Coro<std::pair<std::string, std::string>> {
        aio::Process p = co_await aio::create_subprocess_shell("head -c 2000000 /dev/zero >&2; head -c 3000000 /dev/zero",
                                                               {.stdout = aio::PIPE, .stderr = aio::PIPE});
        auto r = co_await p.communicate();
        EXPECT_EQ(p.returncode(), 0);
        co_return r;
    });
    EXPECT_EQ(err.size(), 2000000u);
    EXPECT_EQ(out.size(), 3000000u);
}

TEST(Subprocess, AChildThatIgnoresItsInputIsNotAnError) {
    int rc = aio::run([]() -> aio::Coro<int> {
        aio::Process p = co_await aio::create_subprocess_exec("true", {}, {.stdin = aio::PIPE});
        auto r = co_await p.communicate(std::string(4 * 1024 * 1024, 'x'));
        (void)r;
        co_return p.returncode().value_or(-1000);
    });
    EXPECT_EQ(rc, 0);
}

TEST(Subprocess, HundredConcurrentChildren) {
    std::vector<int> codes = aio::run([]() -> aio::Coro<std::vector<int>> {
        std::vector<aio::Task<int>> tasks;
        for (int i = 0; i < 100; ++i)
            tasks.push_back(aio::create_task([i]() -> aio::Coro<int> {
                // A named vector: g++ 12 rejects this braced list inside a
                // co_await expression ("array used as initializer").
                std::vector<std::string> args{"-c", "sleep 0.2; echo $0; exit $(($0 % 50))", std::to_string(i)};
                aio::Process p = co_await aio::create_subprocess_exec("sh", std::move(args), {.stdout = aio::PIPE});
                auto [out, err] = co_await p.communicate();
                EXPECT_EQ(out, std::to_string(i) + "\n");
                int rc = co_await p.wait();
                co_return rc;
            }));
        auto t0 = aio::get_running_loop().time();
        std::vector<int> rcs;
        for (auto& t : tasks) {
            int rc = co_await t;
            rcs.push_back(rc);
        }
        // Concurrent: far less than 100 x 0.2 s.
        EXPECT_LT(std::chrono::duration<double>(aio::get_running_loop().time() - t0).count(), 10.0);
        co_return rcs;
    });
    ASSERT_EQ(codes.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(codes[static_cast<std::size_t>(i)], i % 50);
}

TEST(Subprocess, KillAndTerminateGiveNegativeSignalNumbers) {
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> argv1{"30"};
        aio::Process a = co_await aio::create_subprocess_exec("sleep", argv1);
        std::vector<std::string> argv2{"30"};
        aio::Process b = co_await aio::create_subprocess_exec("sleep", argv2);
        std::vector<std::string> argv3{"30"};
        aio::Process c = co_await aio::create_subprocess_exec("sleep", argv3);
        EXPECT_EQ(a.returncode(), std::nullopt);
        EXPECT_GT(a.pid(), 0);
        a.kill();
        b.terminate();
        c.send_signal(SIGUSR1);
        int ra = co_await a.wait();
        int rb = co_await b.wait();
        int rc = co_await c.wait();
        EXPECT_EQ(ra, -SIGKILL);
        EXPECT_EQ(rb, -SIGTERM);
        EXPECT_EQ(rc, -SIGUSR1);
        EXPECT_EQ(a.returncode(), -SIGKILL);
        a.kill();  // reaped already: nothing happens
        EXPECT_FALSE(pid_exists(a.pid()));
    });
}

TEST(Subprocess, ExitCodesAndWaitFromTwoTasks) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_shell("sleep 0.1; exit 3");
        auto w1 = aio::create_task([&]() -> aio::Coro<int> { co_return co_await p.wait(); });
        auto w2 = aio::create_task([&]() -> aio::Coro<int> { co_return co_await p.wait(); });
        int r1 = co_await w1;
        int r2 = co_await w2;
        EXPECT_EQ(r1, 3);
        EXPECT_EQ(r2, 3);
        int again = co_await p.wait();  // already reaped: at once
        EXPECT_EQ(again, 3);
    });
}

TEST(Subprocess, MissingProgramRaisesENOENTNamingIt) {
    bool raised = false;
    aio::run([&]() -> aio::Coro<> {
        try {
            std::vector<std::string> argv4{"arg"};
            aio::Process p = co_await aio::create_subprocess_exec("aio-no-such-program-xyz", argv4);
            ADD_FAILURE() << "spawned pid " << p.pid();
        } catch (const std::system_error& e) {
            raised = true;
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
            EXPECT_NE(std::string(e.what()).find("aio-no-such-program-xyz"), std::string::npos) << e.what();
        }
        try {
            aio::Process p = co_await aio::create_subprocess_exec("/nonexistent/dir/prog");
            ADD_FAILURE() << "spawned pid " << p.pid();
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        }
    });
    EXPECT_TRUE(raised);
}

TEST(Subprocess, NotExecutableRaisesEACCES) {
    char path[] = "/tmp/aio-not-executable-XXXXXX";
    int fd = ::mkstemp(path);  // mode 0600: no execute bit, even root may not run it
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "#!/bin/sh\n", 10), 10);
    ::close(fd);
    aio::run([&]() -> aio::Coro<> {
        try {
            aio::Process p = co_await aio::create_subprocess_exec(path);
            ADD_FAILURE() << "spawned pid " << p.pid();
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::permission_denied) << e.what();
        }
    });
    ::unlink(path);
}

TEST(Subprocess, ShellPipeline) {
    auto [out, rc] = aio::run([]() -> aio::Coro<std::pair<std::string, int>> {
        aio::Process p = co_await aio::create_subprocess_shell("printf 'pear\\napple\\nfig\\n' | sort | head -n 2",
                                                               {.stdout = aio::PIPE});
        auto [o, e] = co_await p.communicate();
        int code = co_await p.wait();
        co_return std::pair{o, code};
    });
    EXPECT_EQ(out, "apple\nfig\n");
    EXPECT_EQ(rc, 0);
}

TEST(Subprocess, StderrMergedIntoStdoutAndDevnull) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_shell("echo out; echo err >&2",
                                                               {.stdout = aio::PIPE, .stderr = aio::STDOUT});
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, "out\nerr\n");
        EXPECT_EQ(err, "");
        EXPECT_EQ(p.stderr(), nullptr);
        aio::Process q = co_await aio::create_subprocess_shell("echo out; echo err >&2; cat",
                                                               {.stdin = aio::DEVNULL, .stdout = aio::PIPE, .stderr = aio::DEVNULL});
        auto [out2, err2] = co_await q.communicate();
        EXPECT_EQ(out2, "out\n");
        EXPECT_EQ(q.returncode(), 0);
    });
}

TEST(Subprocess, StdoutCannotBeSTDOUT) {
    aio::run([]() -> aio::Coro<> {
        EXPECT_THROW(co_await aio::create_subprocess_exec("true", {}, {.stdout = aio::STDOUT}), std::invalid_argument);
    });
}

TEST(Subprocess, LineByLineThroughThePipes) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_exec("cat", {}, {.stdin = aio::PIPE, .stdout = aio::PIPE});
        aio::PipeWriter* in = p.stdin();
        aio::PipeReader* out = p.stdout();
        if (!in || !out) {
            ADD_FAILURE() << "no pipes";
            co_return;
        }
        for (int i = 0; i < 100; ++i) {
            in->write("line " + std::to_string(i) + "\n");
            co_await in->drain();
            std::string line = co_await out->readline();
            EXPECT_EQ(line, "line " + std::to_string(i) + "\n");
        }
        in->write("abcdefXYZtail");
        in->close();
        std::string exact = co_await out->readexactly(3);
        EXPECT_EQ(exact, "abc");
        std::string until = co_await out->readuntil("XYZ");
        EXPECT_EQ(until, "defXYZ");
        try {
            std::string never = co_await out->readexactly(100);
            ADD_FAILURE() << "got " << never;
        } catch (const aio::IncompleteReadError& e) {
            EXPECT_EQ(e.partial(), "tail");
            EXPECT_EQ(e.expected(), 100u);
        }
        EXPECT_TRUE(out->at_eof());
        std::string rest = co_await out->read();
        EXPECT_EQ(rest, "");
        int rc = co_await p.wait();
        EXPECT_EQ(rc, 0);
    });
}

TEST(Subprocess, ReadSomeAndReadAll) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_shell("printf hello; sleep 0.05; printf world", {.stdout = aio::PIPE});
        std::string first = co_await p.stdout()->read(3);
        EXPECT_EQ(first, "hel");
        std::string rest = co_await p.stdout()->read();
        EXPECT_EQ(rest, "loworld");
        EXPECT_TRUE(p.stdout()->at_eof());
        co_await p.wait();
    });
}

TEST(Subprocess, WritingToAChildThatExitedRaisesBrokenPipe) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_exec("true", {}, {.stdin = aio::PIPE});
        co_await p.wait();
        bool broken = false;
        try {
            p.stdin()->write(std::string(1 << 20, 'x'));
            co_await p.stdin()->drain();
        } catch (const aio::BrokenPipeError& e) {
            broken = true;
            EXPECT_EQ(e.code(), std::errc::broken_pipe);
        }
        EXPECT_TRUE(broken);  // and no SIGPIPE killed us
    });
}

TEST(Subprocess, CancellingATaskThatWaitsKillsTheChildAndLeavesNoZombie) {
    aio::run([]() -> aio::Coro<> {
        pid_t pid = 0;
        auto t = aio::create_task([&]() -> aio::Coro<> {
            std::vector<std::string> argv5{"30"};
            aio::Process p = co_await aio::create_subprocess_exec("sleep", argv5);
            pid = p.pid();
            co_await p.wait();  // cancelled here: p is destroyed, the child killed
        });
        while (pid == 0) co_await aio::sleep(1ms);
        t.cancel();
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
        }
        bool gone = co_await gone_within(pid, 5000ms);
        EXPECT_TRUE(gone) << "state " << pid_state(pid);
    });
}

TEST(Subprocess, CancellingWaitAloneLeavesTheChildRunning) {
    aio::run([]() -> aio::Coro<> {
        std::vector<std::string> argv6{"30"};
        aio::Process p = co_await aio::create_subprocess_exec("sleep", argv6);
        auto t = aio::create_task([&]() -> aio::Coro<int> { co_return co_await p.wait(); });
        co_await aio::sleep(10ms);
        t.cancel();
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_EQ(p.returncode(), std::nullopt);  // still running
        EXPECT_EQ(pid_state(p.pid()) == 'Z', false);
        p.kill();
        int rc = co_await p.wait();
        EXPECT_EQ(rc, -SIGKILL);
    });
}

TEST(Subprocess, KeptChildIsReapedInTheBackground) {
    aio::run([]() -> aio::Coro<> {
        pid_t pid = 0;
        {
            std::vector<std::string> argv7{"0.2"};
            aio::Process p = co_await aio::create_subprocess_exec("sleep", argv7, {.kill_on_destroy = false});
            pid = p.pid();
        }  // destroyed while the child runs: left running
        EXPECT_TRUE(pid_exists(pid));
        EXPECT_NE(pid_state(pid), 'Z');
        bool gone = co_await gone_within(pid, 5000ms);  // exits after 0.2 s and is reaped
        EXPECT_TRUE(gone) << "state " << pid_state(pid);
    });
}

TEST(Subprocess, AnExitedChildIsReapedWhenTheProcessIsDropped) {
    aio::run([]() -> aio::Coro<> {
        pid_t pid = 0;
        {
            aio::Process p = co_await aio::create_subprocess_exec("true");
            pid = p.pid();
            while (pid_state(pid) != 'Z') co_await aio::sleep(1ms);  // exited, not reaped yet
        }
        EXPECT_FALSE(pid_exists(pid));  // reaped at once by the destructor
    });
}

TEST(Subprocess, DescriptorsAreNotInherited) {
    // One inheritable descriptor of ours (no O_CLOEXEC) and aio's own pipes:
    // the child sees only 0, 1 and 2.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    auto listing = aio::run([]() -> aio::Coro<std::string> {
        std::vector<std::string> argv8{"/proc/self/fd"};
        aio::Process p = co_await aio::create_subprocess_exec("ls", argv8, {.stdin = aio::PIPE, .stdout = aio::PIPE});
        auto [out, err] = co_await p.communicate();
        co_return out;
    });
    // ls itself opens one descriptor (3) to read the directory.
    EXPECT_EQ(listing, "0\n1\n2\n3\n");
    auto kept = aio::run([&]() -> aio::Coro<std::string> {
        std::vector<std::string> argv{"-c", "test -e /proc/self/fd/" + std::to_string(fds[0]) + " && echo inherited || echo closed"};
        aio::Process p = co_await aio::create_subprocess_exec("sh", argv, {.stdout = aio::PIPE, .close_fds = false});
        auto [out, err] = co_await p.communicate();
        co_return out;
    });
    EXPECT_EQ(kept, "inherited\n");  // close_fds = false keeps descriptors without O_CLOEXEC
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(Subprocess, EnvironmentAndWorkingDirectory) {
    auto out = aio::run([]() -> aio::Coro<std::string> {
        std::vector<std::string> argv{"-c", "echo $AIO_X; pwd"};
        std::vector<std::string> env{"AIO_X=42", "PATH=/usr/bin:/bin"};
        aio::Process p = co_await aio::create_subprocess_exec("/bin/sh", argv, {.stdout = aio::PIPE, .cwd = "/tmp", .env = env});
        auto [o, e] = co_await p.communicate();
        co_return o;
    });
    EXPECT_EQ(out, "42\n/tmp\n");
}

TEST(Subprocess, RedirectToADescriptorOfTheParent) {
    char path[] = "/tmp/aio-subprocess-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    aio::run([&]() -> aio::Coro<> {
        std::vector<std::string> argv9{"to a file"};
        aio::Process p = co_await aio::create_subprocess_exec("echo", argv9, {.stdout = aio::Redirect::from_fd(fd)});
        int rc = co_await p.wait();
        EXPECT_EQ(rc, 0);
    });
    char buf[64] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "to a file\n");
    ::close(fd);
    ::unlink(path);
}

TEST(Subprocess, ChildStartsWithDefaultSignalsEvenWhenTheParentBlocksThem) {
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &one, &old);
    int rc = aio::run([]() -> aio::Coro<int> {
        std::vector<std::string> argv10{"30"};
        aio::Process p = co_await aio::create_subprocess_exec("sleep", argv10);
        p.terminate();
        int r = co_await p.wait();
        co_return r;
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EXPECT_EQ(rc, -SIGTERM);
}

TEST(Subprocess, CancellingCommunicateKeepsWhatWasRead) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_shell("echo early; sleep 30", {.stdout = aio::PIPE});
        auto t = aio::create_task([&]() -> aio::Coro<> { co_await p.communicate(); });
        co_await aio::sleep(100ms);
        t.cancel();
        try {
            co_await t;
        } catch (const aio::CancelledError&) {
        }
        EXPECT_EQ(p.returncode(), std::nullopt);
        std::string line = co_await p.stdout()->readline();
        EXPECT_EQ(line, "early\n");
        p.kill();
        co_await p.wait();
    });
}

TEST(Subprocess, OneReaderAtATimePerPipe) {
    aio::run([]() -> aio::Coro<> {
        aio::Process p = co_await aio::create_subprocess_shell("sleep 0.1; echo one", {.stdout = aio::PIPE});
        auto first = aio::create_task([&]() -> aio::Coro<std::string> { co_return co_await p.stdout()->readline(); });
        co_await aio::sleep(10ms);
        bool refused = false;
        try {
            std::string second = co_await p.stdout()->readline();
            ADD_FAILURE() << "a second reader got " << second;
        } catch (const aio::RuntimeError&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
        std::string line = co_await first;
        EXPECT_EQ(line, "one\n");
        co_await p.wait();
    });
}
