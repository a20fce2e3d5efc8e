#include "aio/call_graph.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include <cstdlib>
#include <cstring>
#include <set>

#include "aio/log.hpp"

namespace aio {
namespace {

void add_entry(const std::source_location& at, std::vector<FrameEntry>& out) {
    if (at.line() == 0) return;
    std::string function = coroutine_name(at.function_name());
    // aio's own wrapper frames (a callable run in a task's frame) add nothing.
    if (function.rfind("aio::detail::", 0) == 0) return;
    out.push_back({std::move(function), at.file_name(), at.line()});
}

// Function symbols of an ELF file (its full .symtab, so local functions such
// as g++'s coroutine "actor" clones are found too), sorted by address.
struct SymbolTable {
    struct Symbol {
        std::uintptr_t start, end;
        std::string name;
    };
    std::vector<Symbol> symbols;

    explicit SymbolTable(const char* path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st{};
        if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(Elf64_Ehdr))) {
            void* map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
            if (map != MAP_FAILED) {
                read(static_cast<const unsigned char*>(map), static_cast<std::size_t>(st.st_size));
                ::munmap(map, static_cast<std::size_t>(st.st_size));
            }
        }
        ::close(fd);
        std::sort(symbols.begin(), symbols.end(), [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
    }

    void read(const unsigned char* base, std::size_t size) {
        auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
        if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return;
        if (eh->e_shoff == 0 || eh->e_shoff + std::size_t(eh->e_shnum) * sizeof(Elf64_Shdr) > size) return;
        auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
        for (int i = 0; i < eh->e_shnum; ++i) {
            if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
            const Elf64_Shdr& strtab = sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > size || strtab.sh_offset + strtab.sh_size > size) continue;
            auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
            std::size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
            const char* names = reinterpret_cast<const char*>(base + strtab.sh_offset);
            for (std::size_t k = 0; k < n; ++k) {
                if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_value == 0) continue;
                if (syms[k].st_name >= strtab.sh_size) continue;
                symbols.push_back({syms[k].st_value, syms[k].st_value + std::max<Elf64_Xword>(syms[k].st_size, 1),
                                   names + syms[k].st_name});
            }
        }
    }

    const Symbol* find(std::uintptr_t offset) const {
        auto it = std::upper_bound(symbols.begin(), symbols.end(), offset,
                                   [](std::uintptr_t o, const Symbol& s) { return o < s.start; });
        if (it == symbols.begin()) return nullptr;
        --it;
        return offset < it->end ? &*it : nullptr;
    }
};

// The demangled name of the function containing `address`, or empty.
std::string symbolize(void* address) {
    Dl_info info{};
    if (!::dladdr(address, &info)) return {};
    std::string mangled;
    if (info.dli_sname) {
        mangled = info.dli_sname;
    } else if (info.dli_fname) {
        static std::mutex mutex;
        static std::vector<std::pair<std::string, std::unique_ptr<SymbolTable>>> tables;
        std::lock_guard lock(mutex);
        std::string path = info.dli_fname;
        if (path.empty() || path.find('/') == std::string::npos) path = "/proc/self/exe";
        auto it = std::find_if(tables.begin(), tables.end(), [&](auto& t) { return t.first == path; });
        if (it == tables.end()) {
            tables.emplace_back(path, std::make_unique<SymbolTable>(path.c_str()));
            it = tables.end() - 1;
        }
        auto offset = reinterpret_cast<std::uintptr_t>(address) - reinterpret_cast<std::uintptr_t>(info.dli_fbase);
        if (const auto* sym = it->second->find(offset)) mangled = sym->name;
    }
    if (mangled.empty()) return {};
    int status = 0;
    char* d = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
    std::string out = (status == 0 && d) ? d : mangled;
    std::free(d);
    return out;
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

namespace detail {

bool debug_mode_active() noexcept {
    EventLoop* loop = tls_context.loop;
    return loop && loop->get_debug();
}

void report_never_awaited(void* frame_address) noexcept {
    try {
        // A frame starts with its resume function (the coroutine ABI of g++
        // and clang); its symbol (from the ELF symbol table unless the
        // binary is stripped) names the coroutine.
        void* resume = *static_cast<void**>(frame_address);
        std::string name;
        std::string full = symbolize(resume);
        if (!full.empty()) {
            // g++ names the resume function "f(f()::Frame*) [clone .actor]",
            // clang "f() (.resume)": both reduce to f.
            name = coroutine_name(full.c_str());
        } else {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%p", resume);
            name = std::string("<coroutine resumed by ") + buf + ">";
        }
        std::string msg = "coroutine '" + name + "' was never awaited";
        if (TaskCore* t = tls_context.task) {
            msg += "\n  dropped in task '" + t->name() + "'";
            std::vector<FrameEntry> frames;
            collect_frames(t, frames);
            for (const FrameEntry& f : frames)
                msg += "\n  |   File '" + f.file + "', line " + std::to_string(f.line) + ", in " + f.function;
        }
        log(LogLevel::warning, msg);
    } catch (...) {
    }
}

}  // namespace detail

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
