// Seed: ADK's MCP toolsets start their tool servers as child processes and
// speak to them over pipes (StdioServerParameters(command="npx", args=[...])).
// The same with aio: a child behind stdin/stdout pipes, talked to line by
// line while the loop stays free; communicate() for one-shot commands; a
// shell pipeline; a missing program; stopping a child that runs too long.
#include <aio/aio.hpp>
#include <aio/subprocess.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

double since(aio::Clock::time_point t0) {
    return std::chrono::duration<double>(aio::get_running_loop().time() - t0).count();
}

// A stand-in "tool server": reads one request per line, answers one line.
const char* kToolServer =
    "while IFS= read -r request; do "
    "  sleep 0.1; "  // some work per request
    "  printf '{\"id\": %s, \"result\": \"done\"}\\n' \"$request\"; "
    "done";

aio::Coro<> talk_to_a_tool_server() {
    std::printf("A tool server on pipes:\n");
    auto t0 = aio::get_running_loop().time();
    std::vector<std::string> args{"-c", kToolServer};
    aio::Process server = co_await aio::create_subprocess_exec("sh", args, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    for (int id = 1; id <= 3; ++id) {
        server.stdin()->write(std::to_string(id) + "\n");
        co_await server.stdin()->drain();
        std::string reply = co_await server.stdout()->readline();
        std::printf("  request %d -> %s", id, reply.c_str());
    }
    server.stdin()->close();  // EOF: the server's loop ends
    int rc = co_await server.wait();
    std::printf("  server exited with %d after %.1fs\n", rc, since(t0));
}

aio::Coro<> one_shot_commands() {
    std::printf("communicate() with sort:\n");
    std::vector<std::string> no_args;
    aio::Process sort = co_await aio::create_subprocess_exec("sort", no_args, {.stdin = aio::PIPE, .stdout = aio::PIPE});
    auto [out, err] = co_await sort.communicate("pear\napple\nfig\n");
    for (char& c : out)
        if (c == '\n') c = ' ';
    std::printf("  sorted: %s(return code %d)\n", out.c_str(), sort.returncode().value());

    std::printf("A shell pipeline:\n");
    aio::Process shell = co_await aio::create_subprocess_shell("printf 'b\\na\\nb\\nc\\nb\\n' | sort | uniq -c | sort -rn | head -n 1",
                                                               {.stdout = aio::PIPE});
    auto [top, shell_err] = co_await shell.communicate();
    std::printf("  most frequent (count, line): %s", top.c_str() + top.find_first_not_of(' '));
}

aio::Coro<> failures() {
    std::printf("A program that does not exist:\n");
    std::vector<std::string> args{"-y", "@modelcontextprotocol/server-filesystem"};
    try {
        aio::Process p = co_await aio::create_subprocess_exec("no-such-tool-server", args);
    } catch (const std::system_error& e) {
        std::printf("  std::system_error: %s\n", e.what());
    }

    std::printf("A child that runs too long:\n");
    auto t0 = aio::get_running_loop().time();
    std::vector<std::string> ten{"10"};
    aio::Process slow = co_await aio::create_subprocess_exec("sleep", ten);
    co_await aio::sleep(200ms);
    slow.terminate();  // SIGTERM
    int rc = co_await slow.wait();
    std::printf("  terminated after %.1fs, return code %d (minus SIGTERM)\n", since(t0), rc);
}

int main() {
    aio::run([]() -> aio::Coro<> {
        co_await talk_to_a_tool_server();
        co_await one_shot_commands();
        co_await failures();
    });
}
