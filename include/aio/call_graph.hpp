// aio/call_graph.hpp — async call graphs (Python 3.14's
// asyncio.capture_call_graph / print_call_graph).
//
// Every aio coroutine frame records which frame awaits it and where its body
// last reached a co_await (through the promise's await_transform: one store
// per co_await, always on). A task therefore knows the chain of frames it is
// suspended in, and its waiter list knows which tasks await it. A stack trace
// of a hung program shows only the loop; this shows where each task waits.
//
//   * Task(name='fetcher', id=0x5581...)
//     + Call stack:
//     |   File 'service.cpp', line 42, in fetch_page
//     |   File 'service.cpp', line 57, in crawl
//     + Awaited by:
//        * Task(name='Task-1', id=0x5581...)
//           + Call stack:
//           |   File 'service.cpp', line 80, in amain
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "aio/task.hpp"

namespace aio {

/// One frame of a task's call stack: the coroutine and the line of the
/// co_await where it is suspended.
struct FrameEntry {
    std::string function;
    std::string file;
    std::uint32_t line = 0;
};

/// A task, the frames it is suspended in (innermost first), and the graphs of
/// the tasks awaiting it.
struct CallGraph {
    AnyTask task;
    std::vector<FrameEntry> call_stack;
    std::vector<CallGraph> awaited_by;
};

/// The call graph of `task`; nullopt if it is done. For the running task the
/// innermost entries show the last co_await each frame reached.
std::optional<CallGraph> capture_call_graph(const AnyTask& task);
/// The current task's graph (nullopt outside a task).
std::optional<CallGraph> capture_call_graph();

/// Python 3.14's layout, one line per frame.
std::string format_call_graph(const CallGraph& graph);

/// Prints the graph of `task` (default: the current task) to `out`.
void print_call_graph(const AnyTask& task, std::FILE* out = stderr);
void print_call_graph(std::FILE* out = stderr);

/// The graphs of every pending task of `loop`, roots first (tasks no other
/// task awaits). What a SIGUSR1 dump prints.
std::string format_all_call_graphs(EventLoop& loop);

/// The readable name of a coroutine from a source_location's function name:
/// "aio::Coro<int> ns::fetch(std::string)" -> "ns::fetch".
std::string coroutine_name(const char* function_name);

}  // namespace aio
