// bench/sse_load.cpp — a load generator for POST /run_sse that also times
// the first event: wrk reads a response whole, so its latency is the whole
// request and it cannot say when the first `data:` line arrived. This one
// takes wrk's command line as bench/adk-ts/bench_server.sh gives it, sends
// the same requests as bench_wrk/run.lua, and prints the same JSON line as
// run.lua's done() with the time-to-first-event figures added:
//
//   sse_load -t1 -c1000 -d10s --timeout 30s [-s run.lua] URL -- APP USER NSESSIONS STREAMING STEP
//   (URL: http://127.0.0.1:18200/run_sse)
//   {"requests":..,"duration_us":..,"bytes":..,"non2xx":..,"err_connect":..,"err_read":..,
//    "err_write":..,"err_timeout":..,"lat_p50_us":..,"lat_p90_us":..,"lat_p99_us":..,
//    "lat_max_us":..,"lat_mean_us":..,"ttfe_p50_us":..,"ttfe_p90_us":..,"ttfe_p99_us":..,
//    "ttfe_max_us":..,"ttfe_mean_us":..,"events_per_reply":..,"bad_replies":..,"loadgen":"sse_load"}
//
// How it measures (as wrk does, on one thread: aio's loop with a Protocol per
// connection, no coroutine per request):
//   - C keep-alive connections opened at once; each sends its next request as
//     soon as the previous reply has ended; the sessions s<k> rotate
//     round-robin over all connections (run.lua with one thread);
//   - a request is timed from the moment it is written; "latency" ends with
//     the reply's last byte (wrk's figure), "ttfe" (time to first event) with
//     the first byte of the first `data:` line of the body (for a non-SSE
//     reply such as /run's JSON array: the first byte of the body);
//   - requests counts the replies completed within the duration (the ones in
//     flight at the end are dropped, as wrk drops them); duration_us is from
//     the first connect to the stop; a reply with a non-2xx status counts in
//     non2xx; with STREAMING true a 2xx reply must hold 7 `data:` events (3 +
//     4 partials) and any other count is a bad reply (bad_replies; an error
//     event is one of these);
//   - conns_without_reply: connections that completed no reply in the run
//     (a server that accepts or serves some connections late or never);
//   - err_timeout: requests still unanswered after --timeout at the end
//     (wrk counts them as it goes); err_read: connections the server closed
//     or reset (the connection is opened again).
// Responses: Content-Length or chunked (both servers stream SSE chunked).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aio/aio.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 80;
    std::string path = "/";
    long connections = 10;
    double duration_s = 10;
    double timeout_s = 30;
    std::string app = "bench_agent";
    std::string user = "u";
    long sessions = 1000;
    bool streaming = false;
    long step = 1;
};

struct Stats {
    std::vector<std::uint32_t> latency_us;
    std::vector<std::uint32_t> ttfe_us;
    long requests = 0;
    long long bytes = 0;
    long non2xx = 0;
    long err_connect = 0;
    long err_read = 0;
    long err_write = 0;
    long err_timeout = 0;
    long bad_replies = 0;
    long long events = 0;
};

/// The shared state of a run: the request rotation and the counters.
struct Run {
    Config cfg;
    Stats stats;
    long next_session = 0;
    std::vector<long> served;  // replies completed per connection slot
    bool stopping = false;
    Clock::time_point start;

    std::string next_request() {
        std::string sid = "s" + std::to_string(next_session);
        next_session += cfg.step;
        if (next_session >= cfg.sessions) next_session = 0;
        std::string body = "{\"appName\":\"" + cfg.app + "\",\"userId\":\"" + cfg.user + "\",\"sessionId\":\"" + sid +
                           "\",\"newMessage\":{\"role\":\"user\",\"parts\":[{\"text\":\"Please add 2 and 3.\"}]},"
                           "\"streaming\":" +
                           (cfg.streaming ? "true" : "false") + "}";
        std::string req = "POST " + cfg.path + " HTTP/1.1\r\nHost: " + cfg.host + ":" + std::to_string(cfg.port) +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n";
        req += body;
        return req;
    }
};

std::uint32_t micros(Clock::duration d) {
    long long us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return static_cast<std::uint32_t>(std::clamp<long long>(us, 0, 0xffffffffLL));
}

bool iequals_prefix(std::string_view line, std::string_view prefix) {
    if (line.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = line[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != prefix[i]) return false;
    }
    return true;
}

/// One keep-alive connection: writes a request, parses the reply (status,
/// headers, Content-Length or chunked body, `data:` lines), then the next.
class Conn final : public aio::Protocol {
public:
    Conn(Run& run, std::shared_ptr<aio::Event> lost, std::size_t slot)
        : run_(run), lost_(std::move(lost)), slot_(slot) {}

    void connection_made(aio::Transport& t) override {
        transport_ = &t;
        send_next();
    }

    void data_received(std::string_view data) override {
        const Clock::time_point now = Clock::now();
        if (!in_flight_) return;
        run_.stats.bytes += static_cast<long long>(data.size());
        while (!data.empty() && in_flight_) {
            switch (state_) {
                case State::head: {
                    head_.append(data);
                    std::size_t end = head_.find("\r\n\r\n");
                    if (end == std::string::npos) return;
                    std::string_view rest = std::string_view(head_).substr(end + 4);
                    parse_head(std::string_view(head_).substr(0, end));
                    // the rest of this read is body: re-enter with it
                    std::string tail(rest);
                    head_.clear();
                    if (state_ == State::done) {
                        finish(now);
                        return;
                    }
                    if (tail.empty()) return;
                    body(tail, now);
                    return;
                }
                default:
                    body(data, now);
                    return;
            }
        }
    }

    bool eof_received() override { return false; }

    void connection_lost(std::exception_ptr) override {
        if (!run_.stopping && in_flight_) ++run_.stats.err_read;
        transport_ = nullptr;
        in_flight_ = false;
        lost_->set();
    }

    /// Requests unanswered for longer than `limit` (at the end of the run).
    bool overdue(Clock::time_point now, Clock::duration limit) const { return in_flight_ && now - sent_ > limit; }
    void close() {
        if (transport_) transport_->abort();
    }

private:
    enum class State { head, length, chunk_size, chunk_data, chunk_crlf, trailer, done };

    void send_next() {
        if (run_.stopping || !transport_) return;
        std::string req = run_.next_request();
        state_ = State::head;
        head_.clear();
        line_.clear();
        events_ = 0;
        match_ = 0;
        first_ = false;
        in_flight_ = true;
        sent_ = Clock::now();
        transport_->write(req);
    }

    void parse_head(std::string_view head) {
        // "HTTP/1.1 200 OK"
        status_ = 0;
        if (head.size() >= 12) status_ = std::atoi(std::string(head.substr(9, 3)).c_str());
        long long length = -1;
        bool chunked = false;
        close_after_ = false;
        std::size_t pos = head.find("\r\n");
        while (pos != std::string_view::npos) {
            std::size_t start = pos + 2;
            std::size_t end = head.find("\r\n", start);
            std::string_view line = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
            if (iequals_prefix(line, "content-length:")) length = std::atoll(std::string(line.substr(15)).c_str());
            else if (iequals_prefix(line, "transfer-encoding:") && line.find("chunked") != std::string_view::npos)
                chunked = true;
            else if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos)
                close_after_ = true;
            pos = end;
        }
        if (chunked) {
            state_ = State::chunk_size;
        } else if (length > 0) {
            state_ = State::length;
            remaining_ = static_cast<std::size_t>(length);
        } else {
            state_ = State::done;  // no body (a body up to EOF is not used by these servers)
        }
    }

    /// Payload bytes of the reply: finds the `data:` lines.
    void scan(std::string_view d, Clock::time_point now) {
        if (!d.empty() && !first_ && !run_.cfg.streaming) {
            first_ = true;
            first_at_ = now;
        }
        std::size_t i = 0;
        while (i < d.size()) {
            if (match_ >= 0) {
                static constexpr std::string_view kData = "data:";
                if (d[i] == kData[static_cast<std::size_t>(match_)]) {
                    ++match_;
                    ++i;
                    if (match_ == 5) {
                        ++events_;
                        if (!first_) {
                            first_ = true;
                            first_at_ = now;
                        }
                        match_ = -1;
                    }
                    continue;
                }
                match_ = -1;
            }
            const void* nl = std::memchr(d.data() + i, '\n', d.size() - i);
            if (!nl) return;
            i = static_cast<std::size_t>(static_cast<const char*>(nl) - d.data()) + 1;
            match_ = 0;
        }
    }

    void body(std::string_view d, Clock::time_point now) {
        while (!d.empty() || state_ == State::done) {
            switch (state_) {
                case State::length: {
                    std::size_t n = std::min(remaining_, d.size());
                    scan(d.substr(0, n), now);
                    remaining_ -= n;
                    d.remove_prefix(n);
                    if (remaining_ == 0) state_ = State::done;
                    break;
                }
                case State::chunk_size: {
                    std::size_t nl = d.find('\n');
                    if (nl == std::string_view::npos) {
                        line_.append(d);
                        return;
                    }
                    line_.append(d.substr(0, nl));
                    d.remove_prefix(nl + 1);
                    std::size_t size = std::strtoul(line_.c_str(), nullptr, 16);
                    line_.clear();
                    if (size == 0) {
                        state_ = State::trailer;
                    } else {
                        remaining_ = size;
                        state_ = State::chunk_data;
                    }
                    break;
                }
                case State::chunk_data: {
                    std::size_t n = std::min(remaining_, d.size());
                    scan(d.substr(0, n), now);
                    remaining_ -= n;
                    d.remove_prefix(n);
                    if (remaining_ == 0) state_ = State::chunk_crlf;
                    break;
                }
                case State::chunk_crlf: {
                    std::size_t nl = d.find('\n');
                    if (nl == std::string_view::npos) return;
                    d.remove_prefix(nl + 1);
                    state_ = State::chunk_size;
                    break;
                }
                case State::trailer: {
                    // trailers end with an empty line; these servers send none
                    std::size_t nl = d.find('\n');
                    if (nl == std::string_view::npos) {
                        line_.append(d);
                        return;
                    }
                    line_.append(d.substr(0, nl));
                    d.remove_prefix(nl + 1);
                    bool empty = line_.empty() || line_ == "\r";
                    line_.clear();
                    if (empty) state_ = State::done;
                    break;
                }
                case State::done:
                    finish(now);
                    return;  // pipelining is not used: nothing follows a reply
                case State::head:
                    return;
            }
        }
    }

    void finish(Clock::time_point now) {
        in_flight_ = false;
        Stats& s = run_.stats;
        if (!run_.stopping) {
            ++s.requests;
            ++run_.served[slot_];
            s.latency_us.push_back(micros(now - sent_));
            if (first_) s.ttfe_us.push_back(micros(first_at_ - sent_));
            s.events += events_;
            if (status_ < 200 || status_ > 299) ++s.non2xx;
            else if (run_.cfg.streaming && events_ != 7) ++s.bad_replies;
        }
        if (close_after_) {
            if (transport_) transport_->close();
            return;
        }
        send_next();
    }

    Run& run_;
    std::shared_ptr<aio::Event> lost_;  // shared with the slot: set when the connection ends
    std::size_t slot_;
    aio::Transport* transport_ = nullptr;
    State state_ = State::head;
    std::string head_;
    std::string line_;
    std::size_t remaining_ = 0;
    int status_ = 0;
    bool close_after_ = false;
    bool in_flight_ = false;
    bool first_ = false;
    int match_ = 0;  // chars of "data:" matched at a line start; -1: not at a line start
    long events_ = 0;
    Clock::time_point sent_{};
    Clock::time_point first_at_{};
};

/// One connection slot: connects, and connects again when the server closes.
aio::Coro<> slot(Run& run, std::vector<std::shared_ptr<Conn>>& open, std::size_t index) {
    auto lost = std::make_shared<aio::Event>();
    while (!run.stopping) {
        lost->clear();
        std::shared_ptr<Conn> conn;
        bool failed = false;
        try {
            auto factory = [&run, lost, index] { return std::make_shared<Conn>(run, lost, index); };
            aio::Coro<std::pair<std::shared_ptr<aio::Transport>, std::shared_ptr<Conn>>> connecting =
                aio::create_connection(factory, run.cfg.host, run.cfg.port);
            auto pair = co_await std::move(connecting);
            conn = std::move(pair.second);
        } catch (const std::exception&) {
            failed = true;
        }
        if (failed) {
            ++run.stats.err_connect;
            co_await aio::sleep(std::chrono::milliseconds(100));
            continue;
        }
        open[index] = conn;
        co_await lost->wait();
        open[index].reset();
    }
}

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) return 0;
    std::size_t k = static_cast<std::size_t>(p / 100.0 * double(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

double mean(const std::vector<std::uint32_t>& v) {
    if (v.empty()) return 0;
    double s = 0;
    for (std::uint32_t x : v) s += x;
    return s / double(v.size());
}

aio::Coro<> amain(Run& run) {
    const long n = run.cfg.connections;
    std::vector<std::shared_ptr<Conn>> open(static_cast<std::size_t>(n));
    run.served.assign(static_cast<std::size_t>(n), 0);
    std::vector<aio::Task<void>> slots;
    slots.reserve(static_cast<std::size_t>(n));
    run.start = Clock::now();
    for (long i = 0; i < n; ++i) slots.push_back(aio::create_task(slot(run, open, static_cast<std::size_t>(i))));
    co_await aio::sleep(std::chrono::duration<double>(run.cfg.duration_s));
    run.stopping = true;
    const Clock::time_point end = Clock::now();
    const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run.cfg.timeout_s));
    for (auto& c : open)
        if (c && c->overdue(end, limit)) ++run.stats.err_timeout;
    for (auto& c : open)
        if (c) c->close();
    for (auto& t : slots) t.cancel();
    for (auto& t : slots) {
        try {
            co_await t;
        } catch (...) {
        }
    }
    const double dur_us = std::chrono::duration<double, std::micro>(end - run.start).count();
    Stats& s = run.stats;
    std::printf(
        "{\"requests\":%ld,\"duration_us\":%lld,\"bytes\":%lld,\"non2xx\":%ld,\"err_connect\":%ld,\"err_read\":%ld,"
        "\"err_write\":%ld,\"err_timeout\":%ld,\"lat_p50_us\":%u,\"lat_p90_us\":%u,\"lat_p99_us\":%u,"
        "\"lat_max_us\":%u,\"lat_mean_us\":%.1f,\"ttfe_p50_us\":%u,\"ttfe_p90_us\":%u,\"ttfe_p99_us\":%u,"
        "\"ttfe_max_us\":%u,\"ttfe_mean_us\":%.1f,\"events_per_reply\":%.2f,\"bad_replies\":%ld,"
        "\"conns_without_reply\":%ld,\"loadgen\":\"sse_load\"}\n",
        s.requests, static_cast<long long>(dur_us), s.bytes, s.non2xx, s.err_connect, s.err_read, s.err_write,
        s.err_timeout, percentile(s.latency_us, 50), percentile(s.latency_us, 90), percentile(s.latency_us, 99),
        s.latency_us.empty() ? 0u : *std::max_element(s.latency_us.begin(), s.latency_us.end()), mean(s.latency_us),
        percentile(s.ttfe_us, 50), percentile(s.ttfe_us, 90), percentile(s.ttfe_us, 99),
        s.ttfe_us.empty() ? 0u : *std::max_element(s.ttfe_us.begin(), s.ttfe_us.end()), mean(s.ttfe_us),
        s.requests ? double(s.events) / double(s.requests) : 0.0, s.bad_replies,
        static_cast<long>(std::count(run.served.begin(), run.served.end(), 0L)));
    std::fflush(stdout);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: sse_load -t1 -cCONNS -dSECONDSs [--timeout 30s] [-s SCRIPT] URL -- APP USER NSESSIONS "
                 "STREAMING [STEP]\n");
    std::exit(2);
}

double seconds(std::string v) {
    double mult = 1;
    if (!v.empty() && v.back() == 's') v.pop_back();
    else if (!v.empty() && v.back() == 'm') {
        v.pop_back();
        mult = 60;
    }
    return std::atof(v.c_str()) * mult;
}

Config parse(int argc, char** argv) {
    Config c;
    std::vector<std::string> rest;
    std::string url;
    int i = 1;
    auto value = [&](const std::string& a, std::size_t flag_len) -> std::string {
        if (a.size() > flag_len) return a.substr(flag_len);
        if (i + 1 >= argc) usage();
        return argv[++i];
    };
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) rest.emplace_back(argv[i]);
            break;
        }
        if (a == "--timeout") c.timeout_s = seconds(value(a, a.size()));
        else if (a == "--latency") continue;
        else if (a.rfind("-t", 0) == 0) value(a, 2);  // one thread: the loop
        else if (a.rfind("-c", 0) == 0) c.connections = std::atol(value(a, 2).c_str());
        else if (a.rfind("-d", 0) == 0) c.duration_s = seconds(value(a, 2));
        else if (a.rfind("-s", 0) == 0) value(a, 2);  // the wrk script: its logic is built in
        else if (!a.empty() && a[0] != '-') url = a;
        else usage();
    }
    // http://host:port/path
    if (url.rfind("http://", 0) != 0 || c.connections < 1) usage();
    std::string hostport = url.substr(7);
    std::size_t slash = hostport.find('/');
    c.path = slash == std::string::npos ? "/" : hostport.substr(slash);
    hostport = hostport.substr(0, slash);
    std::size_t colon = hostport.rfind(':');
    c.host = hostport.substr(0, colon);
    if (colon != std::string::npos) c.port = static_cast<std::uint16_t>(std::atoi(hostport.c_str() + colon + 1));
    if (rest.size() > 0) c.app = rest[0];
    if (rest.size() > 1) c.user = rest[1];
    if (rest.size() > 2) c.sessions = std::max(1L, std::atol(rest[2].c_str()));
    if (rest.size() > 3) c.streaming = rest[3] == "true";
    if (rest.size() > 4) c.step = std::max(1L, std::atol(rest[4].c_str()));
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    Run run;
    run.cfg = parse(argc, argv);
    try {
        aio::run([&]() -> aio::Coro<> {
            aio::Coro<> work = amain(run);
            co_await std::move(work);
        });
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sse_load: %s\n", e.what());
        return 1;
    }
}
