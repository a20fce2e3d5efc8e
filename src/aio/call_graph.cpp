#include "aio/call_graph.hpp"

#include <cstring>
#include <set>

namespace aio {
namespace {

void add_entry(const std::source_location& at, std::vector<FrameEntry>& out) {
    if (at.line() != 0) out.push_back({coroutine_name(at.function_name()), at.file_name(), at.line()});
}

void collect_frames(detail::TaskCore* t, std::vector<FrameEntry>& out) {
    // The innermost frame waits in the task's current suspension; every
    // outer frame waits on its child at the location kept in the link.
    if (detail::Suspension* s = t->awaiting()) add_entry(s->location(), out);
    std::size_t guard = 0;  // a corrupted chain must never loop forever
    for (detail::FrameInfo* f = t->top_frame; f && f->link && guard < 1000000; ++guard) {
        add_entry(f->link->at, out);
        f = f->link->parent_info;
    }
}

CallGraph build(detail::TaskCore* t, std::set<detail::TaskCore*>& seen) {
    CallGraph g{AnyTask(t), {}, {}};
    collect_frames(t, g.call_stack);
    seen.insert(t);
    for (detail::TaskCore* w : t->awaiting_tasks())
        if (!seen.count(w) && !w->done()) g.awaited_by.push_back(build(w, seen));
    return g;
}

void format(const CallGraph& g, int indent, std::string& out) {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    char id[32];
    std::snprintf(id, sizeof id, "%p", static_cast<const void*>(g.task.core()));
    out += pad + "* Task(name='" + g.task.get_name() + "', id=" + id + ")\n";
    if (!g.call_stack.empty()) {
        out += pad + "  + Call stack:\n";
        for (const FrameEntry& f : g.call_stack)
            out += pad + "  |   File '" + f.file + "', line " + std::to_string(f.line) + ", in " + f.function + "\n";
    }
    if (!g.awaited_by.empty()) {
        out += pad + "  + Awaited by:\n";
        for (const CallGraph& w : g.awaited_by) format(w, indent + 5, out);
    }
}

}  // namespace

std::string coroutine_name(const char* function_name) {
    std::string s = function_name ? function_name : "";
    // Lambdas: g++ says "f()::<lambda()>", clang "f()::(anonymous class)::
    // operator()() const"; both become "f::<lambda>".
    for (const char* marker : {"::<lambda", "::(anonymous class)::operator()"}) {
        std::size_t at = s.find(marker);
        if (at != std::string::npos) {
            std::string outer = s.substr(0, at);
            return coroutine_name(outer.c_str()) + "::<lambda>";
        }
    }
    // Cut the parameter list: the first '(' at template depth 0 that is not
    // part of "operator()" or a lambda's "<lambda(...)>".
    int depth = 0;
    std::size_t cut = s.size();
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '<') ++depth;
        if (c == '>' && depth > 0) --depth;
        if (c == '(' && depth == 0) {
            if (i >= 8 && s.compare(i - 8, 8, "operator") == 0) {
                i += 1;  // skip "()" of operator()
                continue;
            }
            cut = i;
            break;
        }
    }
    s.resize(cut);
    // Drop the return type: the part before the last space at depth 0.
    depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '<') ++depth;
        if (c == '>' && depth > 0) --depth;
        if (c == ' ' && depth == 0) start = i + 1;
    }
    return s.substr(start);
}

std::optional<CallGraph> capture_call_graph(const AnyTask& task) {
    detail::TaskCore* t = task.core();
    if (!t || t->done()) return std::nullopt;
    std::set<detail::TaskCore*> seen;
    return build(t, seen);
}

std::optional<CallGraph> capture_call_graph() {
    auto t = current_task();
    if (!t) return std::nullopt;
    return capture_call_graph(*t);
}

std::string format_call_graph(const CallGraph& graph) {
    std::string out;
    format(graph, 0, out);
    return out;
}

void print_call_graph(const AnyTask& task, std::FILE* out) {
    auto g = capture_call_graph(task);
    if (!g) return;
    std::string text = format_call_graph(*g);
    std::fwrite(text.data(), 1, text.size(), out);
}

void print_call_graph(std::FILE* out) {
    if (auto t = current_task()) print_call_graph(*t, out);
}

std::string format_all_call_graphs(EventLoop& loop) {
    // Roots first: a task awaited by another is shown inside that one's
    // "Awaited by" only when it is asked for directly, so list every task
    // with its own stack and waiters.
    std::string out;
    std::size_t count = 0;
    loop.for_each_live_task([&](detail::TaskCore* t) {
        if (t->done()) return;
        std::set<detail::TaskCore*> seen;
        format(build(t, seen), 0, out);
        ++count;
    });
    return "aio: call graphs of " + std::to_string(count) + " pending task(s)\n" + out;
}

}  // namespace aio
