// bench/adk_bench.cpp — aio's adk beside ADK for TypeScript (issue 10, "Speed
// and memory"). The C++ twin of bench/adk-ts/bench.mjs: the same workloads,
// the same scripted model and `add` tool, the same arguments, one JSON line
// per run with the same field names. Definitions: bench/adk-ts/README-bench.md.
//
//   adk_bench invoke   [--n 10000] [--concurrency 1] [--warmup 500]
//   adk_bench fanout   [--children 1000] [--warmup 500]
//   adk_bench sessions [--sessions 10000] [--per-session 5] [--warmup 500]
//   adk_bench persist  [--n 10000] [--concurrency 1] [--warmup 500] [--db PATH]
//                      [--synchronous normal|full]
//   adk_bench workloads       (prints the workloads this build can run)
//
// persist is the invoke workload on adk::SqliteSessionService (built only
// when the adk::sqlite component exists); its database is a fresh file
// (default: a temporary one, removed at the end). Each run also reports
// cpu_s, the process's user + system CPU time over the timed part (every
// thread; bench.mjs reports the same), steadier than wall time on a loaded
// machine.
//
// The agent (scripted model, `add` tool, LlmAgent) is bench/bench_agent.hpp,
// shared with bench/adk_server_bench.cpp: 2 model calls and 1 tool call per
// invocation, 3 events yielded, 4 stored.
//
// Memory: VmHWM / VmRSS from /proc/self/status; "heap" is glibc's
// mallinfo2() (bytes in use: small blocks + mmapped ones), the analogue of
// V8's heapUsed after a full GC. Before the "before" snapshot, malloc_trim(0)
// gives the warm-up's free memory back, as the full GC does for ADK-TS.
#include <malloc.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adk/adk.hpp"
#include "aio/gather.hpp"
#include "aio/run.hpp"
#include "bench_agent.hpp"
#include "bench_util.hpp"

#ifdef ADK_BENCH_SQLITE
#include "adk/sqlite_session_service.hpp"
#endif

namespace {

using adk::Json;
using OJson = nlohmann::ordered_json;

const std::string kApp = "bench";
const std::string kUser = "user";
using bench_agent::kFinalText;
using bench_agent::kUserText;
using bench_agent::make_fanout_agent;
using bench_agent::make_llm_agent;

// ---- one invocation ---------------------------------------------------------

/// One invocation in `session_id` to its end; checks the scripted conversation
/// (3 events, the last one the final text) and returns the number of events.
aio::Coro<int> run_once(adk::Runner& runner, std::string session_id) {
    aio::AsyncGenerator<adk::Event> events = runner.run(kUser, std::move(session_id), adk::Content::user(kUserText));
    int n = 0;
    std::optional<adk::Event> last;
    while (true) {
        std::optional<adk::Event> ev = co_await events.next();
        if (!ev) break;
        ++n;
        last = std::move(ev);
    }
    if (n != 3) throw std::runtime_error("expected 3 events, got " + std::to_string(n));
    if (!last || !last->content || last->content->parts.empty() || last->content->parts[0].text != kFinalText)
        throw std::runtime_error("unexpected final event: " + (last ? Json(*last).dump() : std::string("none")));
    co_return n;
}

/// create_session, then one invocation.
aio::Coro<int> fresh_invocation(adk::Runner& runner) {
    aio::Coro<adk::Session> creating = runner.session_service().create_session(kApp, kUser);
    adk::Session session = co_await std::move(creating);
    aio::Coro<int> running = run_once(runner, session.id);
    int n = co_await std::move(running);
    co_return n;
}

aio::Coro<> warmup(long count) {
    if (count <= 0) co_return;
    adk::InMemoryRunner runner(make_llm_agent("bench_agent"), kApp);
    for (long i = 0; i < count; ++i) {
        aio::Coro<int> one = fresh_invocation(runner);
        co_await std::move(one);
    }
}

/// `n` fresh invocations, one at a time or in batches of `conc` awaited
/// together (ADK-TS: Promise.all over each batch). Returns the events.
aio::Coro<long> invocations(adk::Runner& runner, long n, long conc) {
    long events = 0;
    if (conc <= 1) {
        for (long i = 0; i < n; ++i) {
            aio::Coro<int> one = fresh_invocation(runner);
            int k = co_await std::move(one);
            events += k;
        }
        co_return events;
    }
    for (long i = 0; i < n; i += conc) {
        std::vector<aio::Coro<int>> batch;
        for (long j = i; j < std::min(n, i + conc); ++j) batch.push_back(fresh_invocation(runner));
        std::vector<int> counts = co_await aio::gather(std::move(batch));
        for (int k : counts) events += k;
    }
    co_return events;
}

// ---- measurement helpers ----------------------------------------------------

struct Snapshot {
    long rss_kb;
    long hwm_kb;
    long long heap_b;
};

long long heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<long long>(mi.uordblks + mi.hblkhd);
}

Snapshot snapshot() {
    malloc_trim(0);
    return {bench::status_kb("VmRSS"), bench::status_kb("VmHWM"), heap_in_use()};
}

/// User + system CPU seconds of the process (every thread).
double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double round_to(double x, int digits) {
    double f = std::pow(10.0, digits);
    return std::round(x * f) / f;
}

double mb(long kb) { return round_to(double(kb) / 1024.0, 1); }

using Args = std::map<std::string, std::string>;

long arg(const Args& args, const char* key, long fallback) {
    auto it = args.find(key);
    return it == args.end() ? fallback : std::stol(it->second);
}

/// CPUs this process may run on (1 under taskset -c 0), as Node's availableParallelism().
long cpus_available() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

// ---- workloads --------------------------------------------------------------

aio::Coro<OJson> invoke(Args args) {
    const long n = arg(args, "n", 10000);
    const long conc = arg(args, "concurrency", 1);
    aio::Coro<> warming = warmup(arg(args, "warmup", 500));
    co_await std::move(warming);
    adk::InMemoryRunner runner(make_llm_agent("bench_agent"), kApp);
    Snapshot before = snapshot();
    const double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    aio::Coro<long> work = invocations(runner, n, conc);
    long events = co_await std::move(work);
    double wall = bench::seconds_since(t0);
    const double cpu = cpu_seconds() - c0;
    long hwm = bench::status_kb("VmHWM");
    Snapshot after = snapshot();
    aio::Coro<adk::ListSessionsResponse> listing = runner.session_service().list_sessions(kApp, kUser);
    adk::ListSessionsResponse kept = co_await std::move(listing);
    OJson out;
    out["workload"] = "invoke";
    out["n"] = n;
    out["concurrency"] = conc;
    out["wall_s"] = round_to(wall, 3);
    out["invocations_per_s"] = round_to(double(n) / wall, 1);
    out["events"] = events;
    out["events_per_s"] = round_to(double(events) / wall, 1);
    out["cpu_s"] = round_to(cpu, 3);
    out["invocations_per_cpu_s"] = round_to(double(n) / cpu, 1);
    out["sessions_kept"] = kept.sessions.size();
    out["events_per_session"] = 4;
    out["peak_rss_mb"] = mb(hwm);
    out["base_rss_mb"] = mb(before.rss_kb);
    out["rss_growth_per_session_b"] = std::llround(double(after.rss_kb - before.rss_kb) * 1024.0 / double(n));
    out["heap_growth_per_session_b"] = std::llround(double(after.heap_b - before.heap_b) / double(n));
    co_return out;
}

aio::Coro<OJson> fanout(Args args) {
    const long children = arg(args, "children", 1000);
    aio::Coro<> warming = warmup(arg(args, "warmup", 500));
    co_await std::move(warming);
    Snapshot before = snapshot();
    bench::reset_peak();  // the peak of the run itself is reported as peak_growth_mb
    auto tb = std::chrono::steady_clock::now();
    adk::InMemoryRunner runner(make_fanout_agent(children), kApp);
    double build = bench::seconds_since(tb);
    aio::Coro<adk::Session> creating = runner.session_service().create_session(kApp, kUser);
    adk::Session session = co_await std::move(creating);
    adk::RunConfig config;
    config.max_llm_calls = int(2 * children);  // exactly what the workload needs, as ADK-TS's run
    std::unordered_map<std::string, int> per_child;
    long events = 0;
    double first_event = -1;
    const double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    aio::AsyncGenerator<adk::Event> stream = runner.run(kUser, session.id, adk::Content::user(kUserText), config);
    while (true) {
        std::optional<adk::Event> ev = co_await stream.next();
        if (!ev) break;
        if (first_event < 0) first_event = bench::seconds_since(t0);
        ++events;
        ++per_child[ev->author];
    }
    double wall = bench::seconds_since(t0);
    const double cpu = cpu_seconds() - c0;
    long hwm = bench::status_kb("VmHWM");
    bool all_three = true;
    for (const auto& [author, k] : per_child) all_three = all_three && k == 3;
    if (events != 3 * children || long(per_child.size()) != children || !all_three)
        throw std::runtime_error("fanout: expected 3 events from each of " + std::to_string(children) +
                                 " children, got " + std::to_string(events) + " from " +
                                 std::to_string(per_child.size()));
    aio::Coro<std::optional<adk::Session>> loading = runner.session_service().get_session(kApp, kUser, session.id);
    std::optional<adk::Session> stored = co_await std::move(loading);
    OJson out;
    out["workload"] = "fanout";
    out["children"] = children;
    out["wall_s"] = round_to(wall, 3);
    out["cpu_s"] = round_to(cpu, 3);
    out["build_s"] = round_to(build, 3);
    out["first_event_s"] = round_to(first_event, 4);
    out["events"] = events;
    out["events_per_s"] = round_to(double(events) / wall, 1);
    out["session_events"] = stored ? stored->events.size() : 0;
    out["model_calls"] = 2 * children;
    out["max_llm_calls"] = config.max_llm_calls;
    out["peak_rss_mb"] = mb(std::max(hwm, before.hwm_kb));
    out["base_rss_mb"] = mb(before.rss_kb);
    out["peak_growth_mb"] = mb(hwm - before.rss_kb);
    co_return out;
}

aio::Coro<OJson> sessions(Args args) {
    const long count = arg(args, "sessions", 10000);
    const long per = arg(args, "per-session", 5);
    aio::Coro<> warming = warmup(arg(args, "warmup", 500));
    co_await std::move(warming);
    adk::InMemoryRunner runner(make_llm_agent("bench_agent"), kApp);
    Snapshot before = snapshot();
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(count));
    for (long i = 0; i < count; ++i) {
        aio::Coro<adk::Session> creating = runner.session_service().create_session(kApp, kUser);
        adk::Session s = co_await std::move(creating);
        ids.push_back(s.id);
    }
    auto created = std::chrono::steady_clock::now();
    long events = 0;
    for (long r = 0; r < per; ++r)
        for (const std::string& id : ids) {
            aio::Coro<int> one = run_once(runner, id);
            int k = co_await std::move(one);
            events += k;
        }
    double wall = bench::seconds_since(t0);
    double rounds = bench::seconds_since(created);
    long hwm = bench::status_kb("VmHWM");
    Snapshot after = snapshot();
    aio::Coro<std::optional<adk::Session>> probing = runner.session_service().get_session(kApp, kUser, ids[0]);
    std::optional<adk::Session> probe = co_await std::move(probing);
    OJson out;
    out["workload"] = "sessions";
    out["sessions"] = count;
    out["invocations_per_session"] = per;
    out["events_per_session"] = probe ? probe->events.size() : 0;
    out["wall_s"] = round_to(wall, 3);
    out["create_s"] = round_to(std::chrono::duration<double>(created - t0).count(), 3);
    out["invocations_per_s"] = round_to(double(count * per) / rounds, 1);
    out["events"] = events;
    out["peak_rss_mb"] = mb(hwm);
    out["base_rss_mb"] = mb(before.rss_kb);
    out["end_rss_mb"] = mb(after.rss_kb);
    out["rss_per_session_b"] = std::llround(double(after.rss_kb - before.rss_kb) * 1024.0 / double(count));
    out["heap_per_session_b"] = std::llround(double(after.heap_b - before.heap_b) / double(count));
    co_return out;
}

aio::Coro<OJson> unknown(std::string which) {
    throw std::invalid_argument("unknown workload " + which);
    co_return OJson();
}

#ifdef ADK_BENCH_SQLITE
void remove_database(const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
}

/// invoke on adk::SqliteSessionService: a fresh database file, warm-up on it
/// (separate sessions, as ADK-TS's persist), then `n` fresh invocations.
aio::Coro<OJson> persist(Args args) {
    const long n = arg(args, "n", 10000);
    const long conc = arg(args, "concurrency", 1);
    const long warm = arg(args, "warmup", 500);
    const bool own_file = !args.count("db");
    const std::string db = own_file ? "/tmp/aio-adk-persist-" + std::to_string(getpid()) + ".db" : args.at("db");
    remove_database(db);
    adk::SqliteSessionOptions options;
    const std::string sync = args.count("synchronous") ? args.at("synchronous") : "normal";
    if (sync == "full") options.synchronous = adk::SqliteSessionOptions::Synchronous::full;
    else if (sync != "normal") throw std::invalid_argument("--synchronous normal|full");
    auto service = std::make_shared<adk::SqliteSessionService>(db, options);
    aio::Coro<> opening = service->ready();
    co_await std::move(opening);
    OJson out;
    {
        adk::Runner runner(kApp, make_llm_agent("bench_agent"), service);
        for (long i = 0; i < warm; ++i) {
            aio::Coro<int> one = fresh_invocation(runner);
            co_await std::move(one);
        }
        Snapshot before = snapshot();
        adk::SqliteSessionService::Stats s0 = service->stats();
        const double c0 = cpu_seconds();
        auto t0 = std::chrono::steady_clock::now();
        aio::Coro<long> work = invocations(runner, n, conc);
        long events = co_await std::move(work);
        double wall = bench::seconds_since(t0);
        const double cpu = cpu_seconds() - c0;
        adk::SqliteSessionService::Stats s1 = service->stats();
        long hwm = bench::status_kb("VmHWM");
        aio::Coro<adk::ListSessionsResponse> listing = service->list_sessions(kApp, kUser);
        adk::ListSessionsResponse kept = co_await std::move(listing);
        const double transactions = double(s1.transactions - s0.transactions);
        out["workload"] = "persist";
        out["n"] = n;
        out["concurrency"] = conc;
        out["synchronous"] = sync;
        out["wall_s"] = round_to(wall, 3);
        out["invocations_per_s"] = round_to(double(n) / wall, 1);
        out["events"] = events;
        out["events_per_s"] = round_to(double(events) / wall, 1);
        // the user message and the 3 agent events of each invocation
        out["events_persisted_per_s"] = round_to(4.0 * double(n) / wall, 1);
        out["cpu_s"] = round_to(cpu, 3);
        out["sessions_kept"] = long(kept.sessions.size()) - warm;
        out["transactions"] = s1.transactions - s0.transactions;
        out["writes_per_transaction"] = transactions > 0 ? round_to(double(s1.writes - s0.writes) / transactions, 2) : 0.0;
        out["peak_rss_mb"] = mb(hwm);
        out["base_rss_mb"] = mb(before.rss_kb);
    }
    aio::Coro<> closing = service->aclose();
    co_await std::move(closing);
    if (own_file) remove_database(db);
    co_return out;
}
#else
aio::Coro<OJson> persist(Args) {
    throw std::invalid_argument("persist: adk_bench was built without adk::sqlite");
    co_return OJson();
}
#endif

}  // namespace

int main(int argc, char** argv) {
    std::string which = "invoke";
    if (argc == 2 && std::string(argv[1]) == "workloads") {  // what this build can run (bench/run_adk.sh)
#ifdef ADK_BENCH_SQLITE
        std::printf("invoke fanout sessions persist\n");
#else
        std::printf("invoke fanout sessions\n");
#endif
        return 0;
    }
    Args args;
    bool have_workload = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0) {
            args[a.substr(2)] = i + 1 < argc ? argv[i + 1] : "";
            ++i;
        } else if (!have_workload) {
            which = a;
            have_workload = true;
        }
    }
    try {
        OJson res = aio::run([&]() -> aio::Coro<OJson> {
            aio::Coro<OJson> workload = which == "invoke"     ? invoke(args)
                                        : which == "fanout"   ? fanout(args)
                                        : which == "sessions" ? sessions(args)
                                        : which == "persist"  ? persist(args)
                                                              : unknown(which);
            OJson r = co_await std::move(workload);
            co_return r;
        });
        OJson line;
        line["impl"] = "aio";
        for (auto& [k, v] : res.items()) line[k] = v;
        line["cpus_available"] = cpus_available();
        std::printf("%s\n", line.dump().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "adk_bench %s: %s\n", which.c_str(), e.what());
        return 1;
    }
}
