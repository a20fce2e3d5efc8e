// aio::http::Client: libcurl's multi-socket API driven by the aio loop.
//
// The Impl owns one CURLM. libcurl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION → SocketWatch, registered with the loop through
// set_io_callback, so readiness calls curl_multi_socket_action directly from
// the loop's poll) and when to call it back (CURLMOPT_TIMERFUNCTION → one
// loop timer; an expiry or a 0 ms request queues one call_soon callback, never
// nested inside curl). After every curl_multi_socket_action, finished
// transfers are collected (curl_multi_info_read) and the tasks waiting on them
// scheduled.
//
// A Transfer is one easy handle. It belongs to the coroutine that awaits it:
// a local of request(), or of the body generator of stream(). Its destructor
// removes it from the multi handle (aborting it if it still runs), so
// whatever unwinds the owner — completion, an exception, a cancellation, a
// dropped generator, the loop closing — leaves nothing behind.
//
// Reentrancy: libcurl never runs user code. Our callbacks only buffer bytes,
// (un)register sockets, re-arm the timer and schedule tasks. Calls into
// libcurl that may call back (curl_multi_remove_handle, curl_easy_pause) are
// made from task code or loop callbacks, never from inside a libcurl callback.
#include "aio/http/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "aio/detail/runtime.hpp"

namespace aio::http {

// --- Headers -------------------------------------------------------------------

bool Headers::name_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]);
        unsigned char y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

void Headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void Headers::set(std::string name, std::string value) {
    erase(name);
    fields_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
    for (const Field& f : fields_)
        if (name_equal(f.first, name)) return std::string_view(f.second);
    return std::nullopt;
}

std::string_view Headers::value(std::string_view name, std::string_view fallback) const noexcept {
    std::optional<std::string_view> v = get(name);
    return v ? *v : fallback;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const Field& f : fields_)
        if (name_equal(f.first, name)) out.emplace_back(f.second);
    return out;
}

std::size_t Headers::erase(std::string_view name) {
    std::size_t before = fields_.size();
    std::erase_if(fields_, [&](const Field& f) { return name_equal(f.first, name); });
    return before - fields_.size();
}

const Response& Response::raise_for_status() const {
    if (!ok()) throw HttpStatusError(status, reason, body, url);
    return *this;
}

// --- internals ------------------------------------------------------------------

// Named (not anonymous) so that Client::Impl, which has external linkage, can
// hold these types; the name keeps them apart from the server's internals.
namespace client_detail {

void ensure_curl_global() {
    // libcurl 7.84+ makes curl_global_init thread-safe; a function-local
    // static also makes it run once.
    static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init != CURLE_OK) throw HttpError(std::string("curl_global_init failed: ") + curl_easy_strerror(init));
}

std::int64_t now_ns(const EventLoop& loop) noexcept { return EventLoop::to_ns(loop.time()); }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

enum class Until : std::uint8_t { headers, data, done };

class Transfer;
class TransferWait;
class SocketWatch;

}  // namespace client_detail

using namespace client_detail;

class Client::Impl {
public:
    Impl(EventLoop& loop, ClientOptions options);
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { close(); }

    static Impl& checked(Impl* impl, const char* what);

    void close() noexcept;
    std::unique_ptr<Transfer> start(Request&& request, bool streaming);

    /// curl_multi_socket_action, then collects finished transfers.
    void socket_action(curl_socket_t s, int mask) noexcept;
    void collect_finished() noexcept;
    void set_timer(long timeout_ms) noexcept;
    void run_soon() noexcept;

    CURL* take_easy();
    void recycle(CURL* easy) noexcept;
    void link(Transfer* t) noexcept;
    void unlink(Transfer* t) noexcept;
    void add_watch(SocketWatch* w) noexcept;
    void drop_watch(SocketWatch* w) noexcept;

    EventLoop* loop_;
    ClientOptions options_;
    CURLM* multi_ = nullptr;
    bool closed_ = false;
    Transfer* transfers_ = nullptr;
    std::size_t transfer_count_ = 0;
    std::size_t connections_ = 0;
    std::vector<CURL*> spare_;
    SocketWatch* watches_ = nullptr;

    struct MultiTimer final : detail::TimerNode {
        Impl* impl = nullptr;
        void fire(EventLoop&) override { impl->run_soon(); }
    } timer_;
    Handle soon_;
    bool soon_pending_ = false;
};

namespace client_detail {

/// One socket libcurl asked us to watch. Its two IoCallbacks are registered
/// with the loop for reading and writing.
class SocketWatch {
public:
    SocketWatch(Client::Impl* impl, curl_socket_t fd) noexcept : impl_(impl), fd_(fd) {}

    void update(bool want_read, bool want_write) {
        EventLoop& loop = *impl_->loop_;
        if (want_read != reading_) {
            loop.set_io_callback(fd_, true, want_read ? &in_ : nullptr);
            reading_ = want_read;
        }
        if (want_write != writing_) {
            loop.set_io_callback(fd_, false, want_write ? &out_ : nullptr);
            writing_ = want_write;
        }
    }
    void unwatch() noexcept {
        try {
            update(false, false);
        } catch (...) {
            reading_ = writing_ = false;  // removal does not throw in practice (closed fds are tolerated)
        }
    }

    SocketWatch* prev = nullptr;
    SocketWatch* next = nullptr;

private:
    struct Direction final : detail::IoCallback {
        Direction(SocketWatch* w, int mask) noexcept : watch(w), mask(mask) {}
        void io_ready(EventLoop&) override {
            // socket_action may delete the watch (and so this object).
            Client::Impl* impl = watch->impl_;
            const curl_socket_t fd = watch->fd_;
            impl->socket_action(fd, mask);
        }
        SocketWatch* watch;
        int mask;
    };

    Client::Impl* impl_;
    curl_socket_t fd_;
    bool reading_ = false;
    bool writing_ = false;
    Direction in_{this, CURL_CSELECT_IN};
    Direction out_{this, CURL_CSELECT_OUT};
};

/// One request: an easy handle, its settings, and what came back so far.
class Transfer final : public detail::TimerNode {
public:
    Transfer(Client::Impl& impl, Request&& request, bool streaming);
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer();

    void begin();
    /// libcurl finished it (collect_finished).
    void complete(CURLcode rc) noexcept;
    /// Ends it with `error` (idle timeout, cancellation, client closed):
    /// removed from the multi handle (aborted if running), waiter woken.
    void fail(std::exception_ptr error) noexcept;
    /// Client::close(): fail, then forget the client.
    void detach(std::exception_ptr error) noexcept;

    bool ready(Until until) const noexcept {
        switch (until) {
            case Until::headers:
                return headers_final_ || done_;
            case Until::data:
                return !body_.empty() || done_;
            default:
                return done_;
        }
    }
    void rethrow_if_failed() const {
        if (error_) std::rethrow_exception(error_);
    }
    bool headers_final() const noexcept { return headers_final_; }
    /// The buffered body bytes; resumes a paused transfer.
    std::string take_body();
    Response take_response();
    void fill(StreamResponse& r);

    TransferWait* waiter_ = nullptr;
    Transfer* prev = nullptr;
    Transfer* next = nullptr;

private:
    static std::size_t on_write(char* data, std::size_t size, std::size_t n, void* self) noexcept;
    static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) noexcept;
    static int on_progress(void* self, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) noexcept;
    void header_line(std::string_view line);
    void set_headers_final();
    void touch() noexcept {
        if (idle_ns_ > 0) last_activity_ns_ = now_ns(*loop_);
    }
    void notify() noexcept;
    void finish() noexcept;
    void fire(EventLoop& loop) override;  // the idle timer
    std::exception_ptr make_error(CURLcode rc) const;
    std::string describe(const char* what) const { return std::string(what) + " (" + method_ + " " + url_ + ")"; }

    Client::Impl* impl_;
    EventLoop* loop_;
    CURL* easy_ = nullptr;
    curl_slist* header_list_ = nullptr;
    std::string method_;
    std::string url_;
    std::string request_body_;
    char errbuf_[CURL_ERROR_SIZE];

    // Settings.
    bool streaming_;
    bool follow_;
    std::size_t max_size_;
    std::size_t stream_buffer_;
    Duration connect_timeout_;
    Duration total_timeout_;
    std::int64_t idle_ns_ = 0;
    std::int64_t start_ns_ = 0;
    std::int64_t last_activity_ns_ = 0;
    curl_off_t last_ul_ = 0;
    curl_off_t last_dl_ = 0;

    // The response.
    int status_ = 0;
    std::string reason_;
    std::string version_;
    std::vector<Headers::Field> fields_;  // of the response being received
    bool has_location_ = false;
    Headers headers_;                     // of the final response
    std::string effective_url_;
    std::string body_;

    // State.
    bool in_multi_ = false;
    bool headers_final_ = false;
    bool paused_ = false;
    bool done_ = false;
    std::exception_ptr error_;
};

/// A task waiting on a Transfer for its headers, body bytes or its end.
class TransferWait final : public detail::Suspension {
public:
    TransferWait(Transfer* t, Until until) noexcept : t_(t), until_(until) {}
    TransferWait(const TransferWait&) = delete;
    ~TransferWait() {
        if (t_ && t_->waiter_ == this) t_->waiter_ = nullptr;
    }

    bool await_ready() const noexcept { return t_->ready(until_); }
    void await_suspend(std::coroutine_handle<> h, std::source_location at = std::source_location::current()) {
        t_->waiter_ = this;
        suspend_here(h, at);
    }
    void await_resume() {
        if (!task_) return;  // did not suspend
        resume_here();
        if (cancelled_) throw CancelledError(task_->cancel_message());
    }

    Until until() const noexcept { return until_; }
    /// The transfer reached what we wait for.
    void wake() noexcept {
        EventLoop* loop = task_->loop();
        if (!loop->is_closed()) loop->schedule(task_);
    }
    /// The transfer is being destroyed under us (only at loop close).
    void forget() noexcept { t_ = nullptr; }

private:
    bool cancel_wait() override {
        if (!t_ || t_->waiter_ != this) return false;  // already woken: the task is queued
        t_->waiter_ = nullptr;
        cancelled_ = true;
        // Cancelling the awaiting task aborts the transfer.
        t_->fail(std::make_exception_ptr(HttpError("request cancelled")));
        task_->loop()->schedule(task_);
        return true;
    }

    Transfer* t_;
    Until until_;
    bool cancelled_ = false;
};

// --- Transfer ----------------------------------------------------------------

template <class T>
void setopt(CURL* easy, CURLoption option, T value) {
    CURLcode rc = curl_easy_setopt(easy, option, value);
    if (rc != CURLE_OK) throw HttpError(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
}

long curl_http_version(HttpVersion v) noexcept {
    switch (v) {
        case HttpVersion::http1_1:
            return CURL_HTTP_VERSION_1_1;
        case HttpVersion::http2:
            return CURL_HTTP_VERSION_2_0;
        case HttpVersion::http2_prior_knowledge:
            return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
        default:
            return CURL_HTTP_VERSION_2TLS;
    }
}

/// HTTP/2 is asked for, or may come (automatic, over TLS).
bool wants_multiplexing(HttpVersion v, std::string_view url) noexcept {
    switch (v) {
        case HttpVersion::http1_1:
            return false;
        case HttpVersion::http2:
        case HttpVersion::http2_prior_knowledge:
            return true;
        default:
            return url.size() >= 8 && Headers::name_equal(url.substr(0, 8), "https://");
    }
}

Transfer::Transfer(Client::Impl& impl, Request&& request, bool streaming)
    : impl_(&impl),
      loop_(impl.loop_),
      method_(std::move(request.method)),
      url_(std::move(request.url)),
      request_body_(std::move(request.body)),
      streaming_(streaming) {
    const ClientOptions& o = impl.options_;
    errbuf_[0] = '\0';
    follow_ = request.follow_redirects.value_or(o.follow_redirects);
    max_size_ = o.max_response_size;
    stream_buffer_ = o.stream_buffer;
    connect_timeout_ = request.connect_timeout.value_or(o.connect_timeout);
    total_timeout_ = request.timeout.value_or(o.timeout);
    const Duration idle = request.idle_timeout.value_or(o.idle_timeout);
    idle_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(idle).count();
    if (method_.empty()) method_ = "GET";

    easy_ = impl.take_easy();
    try {
        CURL* e = easy_;
        setopt(e, CURLOPT_URL, url_.c_str());
        setopt(e, CURLOPT_PRIVATE, static_cast<void*>(this));
        setopt(e, CURLOPT_ERRORBUFFER, errbuf_);
        setopt(e, CURLOPT_NOSIGNAL, 1L);
        setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
        setopt(e, CURLOPT_WRITEDATA, static_cast<void*>(this));
        setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
        setopt(e, CURLOPT_HEADERDATA, static_cast<void*>(this));
        setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        setopt(e, CURLOPT_FOLLOWLOCATION, follow_ ? 1L : 0L);
        setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects.value_or(o.max_redirects)));
        setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
        setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout_.count()));
        setopt(e, CURLOPT_HTTP_VERSION, curl_http_version(o.http_version));
        if (wants_multiplexing(o.http_version, url_)) {
            // Wait for a connection being set up to the same host rather
            // than opening another one, so that a burst of requests shares
            // one HTTP/2 connection (what `curl --parallel` does).
            setopt(e, CURLOPT_PIPEWAIT, 1L);
        }
        if (o.http_version == HttpVersion::http2_prior_knowledge && !Client::http2_prior_knowledge_reuse()) {
            // libcurl < 8.0.0 breaks a request sent on a reused h2c
            // prior-knowledge connection (curl#10634): one connection each.
            setopt(e, CURLOPT_FRESH_CONNECT, 1L);
            setopt(e, CURLOPT_FORBID_REUSE, 1L);
        }
        setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
        setopt(e, CURLOPT_SSL_VERIFYPEER, o.verify_tls ? 1L : 0L);
        setopt(e, CURLOPT_SSL_VERIFYHOST, o.verify_tls ? 2L : 0L);
        if (!o.ca_file.empty()) setopt(e, CURLOPT_CAINFO, o.ca_file.c_str());
        if (o.proxy) setopt(e, CURLOPT_PROXY, o.proxy->c_str());
        if (o.decompress) setopt(e, CURLOPT_ACCEPT_ENCODING, "");

        // Method and body.
        const bool has_body = !request_body_.empty();
        if (method_ == "GET" && !has_body) {
            setopt(e, CURLOPT_HTTPGET, 1L);
        } else if (method_ == "HEAD") {
            setopt(e, CURLOPT_NOBODY, 1L);
        } else {
            if (method_ == "POST") {
                setopt(e, CURLOPT_POST, 1L);
            } else {
                setopt(e, CURLOPT_CUSTOMREQUEST, method_.c_str());
            }
            if (has_body || method_ == "POST" || method_ == "PUT" || method_ == "PATCH") {
                setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_body_.size()));
                setopt(e, CURLOPT_POSTFIELDS, request_body_.c_str());
            }
        }

        // Headers: the request's, then the client's defaults it does not override.
        auto append = [&](std::string_view name, std::string_view value) {
            std::string line(name);
            if (value.empty()) {
                line += ";";  // curl's syntax for a header with an empty value
            } else {
                line += ": ";
                line += value;
            }
            curl_slist* grown = curl_slist_append(header_list_, line.c_str());
            if (!grown) throw std::bad_alloc();
            header_list_ = grown;
        };
        for (const auto& [name, value] : request.headers) append(name, value);
        for (const auto& [name, value] : o.headers)
            if (!request.headers.contains(name)) append(name, value);
        // No "Expect: 100-continue" round trip for large bodies unless asked.
        if (!request.headers.contains("Expect") && !o.headers.contains("Expect")) {
            curl_slist* grown = curl_slist_append(header_list_, "Expect:");
            if (!grown) throw std::bad_alloc();
            header_list_ = grown;
        }
        if (!request.headers.contains("User-Agent") && !o.headers.contains("User-Agent") && !o.user_agent.empty())
            setopt(e, CURLOPT_USERAGENT, o.user_agent.c_str());
        setopt(e, CURLOPT_HTTPHEADER, header_list_);

        if (idle_ns_ > 0 && has_body) {
            // Upload progress counts as activity for the idle timeout.
            setopt(e, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
            setopt(e, CURLOPT_XFERINFODATA, static_cast<void*>(this));
            setopt(e, CURLOPT_NOPROGRESS, 0L);
        }
    } catch (...) {
        curl_slist_free_all(std::exchange(header_list_, nullptr));
        curl_easy_cleanup(std::exchange(easy_, nullptr));
        throw;
    }
}

void Transfer::begin() {
    CURLMcode rc = curl_multi_add_handle(impl_->multi_, easy_);
    if (rc != CURLM_OK) throw HttpError(describe(curl_multi_strerror(rc)), url_);
    in_multi_ = true;
    impl_->link(this);
    start_ns_ = last_activity_ns_ = now_ns(*loop_);
    if (idle_ns_ > 0) {
        when_ns = start_ns_ + idle_ns_;
        loop_->arm_timer(this);
    }
}

Transfer::~Transfer() {
    if (armed()) loop_->disarm_timer(this);
    if (waiter_) waiter_->forget();
    if (impl_) {
        if (in_multi_) {
            long connects = 0;
            curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &connects);
            impl_->connections_ += static_cast<std::size_t>(connects);
            curl_multi_remove_handle(impl_->multi_, easy_);
        }
        impl_->unlink(this);
        impl_->recycle(easy_);
    } else if (easy_) {
        curl_easy_cleanup(easy_);
    }
    curl_slist_free_all(header_list_);
}

void Transfer::notify() noexcept {
    if (waiter_ && ready(waiter_->until())) std::exchange(waiter_, nullptr)->wake();
}

void Transfer::finish() noexcept {
    if (armed()) loop_->disarm_timer(this);
    if (in_multi_) {
        long connects = 0;
        curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &connects);
        impl_->connections_ += static_cast<std::size_t>(connects);
        curl_multi_remove_handle(impl_->multi_, easy_);
        in_multi_ = false;
    }
    paused_ = false;
    done_ = true;
    notify();
}

void Transfer::complete(CURLcode rc) noexcept {
    if (done_) return;
    if (rc == CURLE_OK) {
        if (!headers_final_) {
            try {
                set_headers_final();
            } catch (...) {
                error_ = std::current_exception();
            }
        }
        if (status_ == 0) {
            long code = 0;
            curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
            status_ = static_cast<int>(code);
        }
    } else if (!error_) {
        try {
            error_ = make_error(rc);
        } catch (...) {
            error_ = std::current_exception();
        }
    }
    finish();
}

void Transfer::fail(std::exception_ptr error) noexcept {
    if (done_) return;
    if (!error_) error_ = std::move(error);
    finish();
}

void Transfer::detach(std::exception_ptr error) noexcept {
    fail(std::move(error));
    impl_ = nullptr;
}

void Transfer::fire(EventLoop& loop) {
    if (done_) return;
    const std::int64_t now = now_ns(loop);
    if (paused_) last_activity_ns_ = now;  // waiting for our consumer, not for the peer
    const std::int64_t deadline = last_activity_ns_ + idle_ns_;
    if (deadline > now) {
        when_ns = deadline;
        loop.arm_timer(this);
        return;
    }
    const auto limit = std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(idle_ns_));
    fail(std::make_exception_ptr(HttpTimeoutError(
        describe(("no data for " + std::to_string(limit.count()) + " ms (idle timeout)").c_str()),
        HttpTimeoutError::Kind::idle, limit, url_, CURLE_OPERATION_TIMEDOUT)));
}

std::string Transfer::take_body() {
    std::string chunk;
    chunk.swap(body_);
    if (paused_ && in_multi_) {
        paused_ = false;
        touch();
        // May deliver the held bytes right away (on_write runs inside).
        curl_easy_pause(easy_, CURLPAUSE_CONT);
    }
    return chunk;
}

Response Transfer::take_response() {
    Response r;
    r.status = status_;
    r.reason = std::move(reason_);
    r.http_version = version_;
    r.headers = std::move(headers_);
    r.body = std::move(body_);
    r.url = effective_url_.empty() ? url_ : effective_url_;
    return r;
}

void Transfer::fill(StreamResponse& r) {
    r.status = status_;
    r.reason = reason_;
    r.http_version = version_;
    r.headers = std::move(headers_);
    r.url = effective_url_.empty() ? url_ : effective_url_;
}

std::size_t Transfer::on_write(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t len = size * n;
    try {
        t->touch();
        if (!t->headers_final_) t->set_headers_final();
        if (t->streaming_) {
            // Back-pressure: enough is buffered ahead of the consumer.
            if (!t->body_.empty() && t->body_.size() + len > t->stream_buffer_) {
                t->paused_ = true;
                return CURL_WRITEFUNC_PAUSE;
            }
        } else if (t->max_size_ != 0 && t->body_.size() + len > t->max_size_) {
            t->error_ = std::make_exception_ptr(ResponseTooLargeError(
                t->describe(("the response body exceeds " + std::to_string(t->max_size_) + " bytes").c_str()),
                t->url_));
            return 0;  // aborts with CURLE_WRITE_ERROR
        }
        t->body_.append(data, len);
        t->notify();
        return len;
    } catch (...) {
        if (!t->error_) t->error_ = std::current_exception();
        return 0;
    }
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t len = size * n;
    try {
        t->touch();
        t->header_line(std::string_view(data, len));
        return len;
    } catch (...) {
        if (!t->error_) t->error_ = std::current_exception();
        return 0;
    }
}

int Transfer::on_progress(void* self, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) noexcept {
    auto* t = static_cast<Transfer*>(self);
    if (ulnow != t->last_ul_ || dlnow != t->last_dl_) {
        t->last_ul_ = ulnow;
        t->last_dl_ = dlnow;
        t->touch();
    }
    return 0;
}

void Transfer::header_line(std::string_view line) {
    if (headers_final_) return;  // trailers
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {  // a new response (interim, redirect or final)
        fields_.clear();
        has_location_ = false;
        reason_.clear();
        status_ = 0;
        std::string_view rest = line.substr(5);
        std::size_t sp = rest.find(' ');
        version_ = std::string(rest.substr(0, sp));
        if (sp != std::string_view::npos) {
            rest = trim(rest.substr(sp + 1));
            int code = 0;
            std::size_t i = 0;
            for (; i < rest.size() && i < 3 && rest[i] >= '0' && rest[i] <= '9'; ++i) code = code * 10 + (rest[i] - '0');
            status_ = code;
            reason_ = std::string(trim(rest.substr(i)));
        }
        return;
    }
    if (line.empty()) {  // the end of a header block
        const bool interim = status_ >= 100 && status_ < 200 && status_ != 101;
        const bool redirect = follow_ && status_ >= 300 && status_ < 400 && has_location_;
        if (!interim && !redirect) set_headers_final();
        return;
    }
    if (line.front() == ' ' || line.front() == '\t') {  // obsolete line folding
        if (!fields_.empty()) {
            fields_.back().second += ' ';
            fields_.back().second += trim(line);
        }
        return;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = trim(line.substr(0, colon));
    if (Headers::name_equal(name, "Location")) has_location_ = true;
    fields_.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
}

void Transfer::set_headers_final() {
    headers_final_ = true;
    headers_.clear();
    for (auto& f : fields_) headers_.add(std::move(f.first), std::move(f.second));
    fields_.clear();
    char* url = nullptr;
    if (curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) effective_url_ = url;
    notify();
}

std::exception_ptr Transfer::make_error(CURLcode rc) const {
    std::string msg = describe(errbuf_[0] ? errbuf_ : curl_easy_strerror(rc));
    long os_errno = 0;
    curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
    // Whether the request went out: connected, TLS done, about to send.
    curl_off_t pretransfer_us = 0;
    curl_easy_getinfo(easy_, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    const bool sent = pretransfer_us > 0;
    const int code = static_cast<int>(rc);
    const int err = static_cast<int>(os_errno);
    switch (rc) {
        case CURLE_UNSUPPORTED_PROTOCOL:
            // Also what curl says of a response that is not HTTP ("Received
            // HTTP/0.9 when not allowed").
            if (sent) return std::make_exception_ptr(ProtocolError(msg, url_, code));
            return std::make_exception_ptr(InvalidUrlError(msg, url_, code));
        case CURLE_URL_MALFORMAT:
            return std::make_exception_ptr(InvalidUrlError(msg, url_, code));
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return std::make_exception_ptr(DnsError(msg, url_, code, err));
        case CURLE_COULDNT_CONNECT:
            if (err == ECONNREFUSED) return std::make_exception_ptr(ConnectRefusedError(msg, url_, code, err));
            return std::make_exception_ptr(ConnectError(msg, url_, code, err));
        case CURLE_PROXY:
            return std::make_exception_ptr(ConnectError(msg, url_, code, err));
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_USE_SSL_FAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
            return std::make_exception_ptr(TlsError(msg, url_, code, err));
        case CURLE_OPERATION_TIMEDOUT: {
            // curl reports every timeout alike: tell them apart. Still
            // connecting (DNS, TCP, TLS) and the connect deadline comes
            // first: connect.
            const Duration connect_limit =
                connect_timeout_ > Duration::zero() ? connect_timeout_ : Duration(std::chrono::seconds(300));
            const bool connect_first = total_timeout_ == Duration::zero() || connect_limit < total_timeout_;
            if (!sent && connect_first)
                return std::make_exception_ptr(
                    HttpTimeoutError(msg, HttpTimeoutError::Kind::connect, connect_limit, url_, code));
            return std::make_exception_ptr(
                HttpTimeoutError(msg, HttpTimeoutError::Kind::total, total_timeout_, url_, code));
        }
        case CURLE_TOO_MANY_REDIRECTS:
            return std::make_exception_ptr(TooManyRedirectsError(msg, url_, code));
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_HTTP2_STREAM:
            return std::make_exception_ptr(ConnectionLostError(msg, url_, code, err));
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP3:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_RANGE_ERROR:
            return std::make_exception_ptr(ProtocolError(msg, url_, code));
        default:
            return std::make_exception_ptr(HttpError(msg, url_, code));
    }
}

/// The body of stream(): yields the bytes as they arrive.
AsyncGenerator<std::string> body_chunks(std::unique_ptr<Transfer> owned) {
    // A local, not the parameter: the transfer ends when the body does
    // (aclose(), an exception, the end), not only when the generator is
    // destroyed.
    std::unique_ptr<Transfer> t = std::move(owned);
    for (;;) {
        co_await TransferWait(t.get(), Until::data);
        std::string chunk = t->take_body();
        if (!chunk.empty()) {
            co_yield std::move(chunk);
            continue;
        }
        t->rethrow_if_failed();
        co_return;
    }
}

// --- libcurl's multi callbacks --------------------------------------------------

int socket_callback(CURL*, curl_socket_t s, int what, void* userp, void* socketp) noexcept {
    auto* impl = static_cast<Client::Impl*>(userp);
    auto* watch = static_cast<SocketWatch*>(socketp);
    if (what == CURL_POLL_REMOVE) {
        if (watch) impl->drop_watch(watch);
        return 0;
    }
    if (impl->closed_) return 0;
    try {
        if (!watch) {
            watch = new SocketWatch(impl, s);
            impl->add_watch(watch);
            curl_multi_assign(impl->multi_, s, watch);
        }
        watch->update(what == CURL_POLL_IN || what == CURL_POLL_INOUT, what == CURL_POLL_OUT || what == CURL_POLL_INOUT);
        return 0;
    } catch (...) {
        return -1;  // curl fails the transfers on this socket
    }
}

int timer_callback(CURLM*, long timeout_ms, void* userp) noexcept {
    static_cast<Client::Impl*>(userp)->set_timer(timeout_ms);
    return 0;
}

}  // namespace client_detail

// --- Client::Impl ------------------------------------------------------------

Client::Impl::Impl(EventLoop& loop, ClientOptions options) : loop_(&loop), options_(std::move(options)) {
    ensure_curl_global();
    timer_.impl = this;
    multi_ = curl_multi_init();
    if (!multi_) throw HttpError("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &socket_callback);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, static_cast<void*>(this));
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &timer_callback);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, static_cast<void*>(this));
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.max_connections_per_host));
    if (options_.max_idle_connections)
        curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_idle_connections));
}

Client::Impl& Client::Impl::checked(Impl* impl, const char* what) {
    if (!impl || impl->closed_) throw ClientClosedError(std::string("aio::http::Client::") + what + ": the client is closed");
    if (detail::tls_context.loop != impl->loop_)
        throw RuntimeError(std::string("aio::http::Client::") + what + ": call it from a task of the client's loop");
    return *impl;
}

std::unique_ptr<Transfer> Client::Impl::start(Request&& request, bool streaming) {
    auto t = std::make_unique<Transfer>(*this, std::move(request), streaming);
    t->begin();
    return t;
}

void Client::Impl::close() noexcept {
    if (closed_) return;
    closed_ = true;
    while (Transfer* t = transfers_) {
        unlink(t);
        t->detach(std::make_exception_ptr(ClientClosedError("the HTTP client was closed")));
    }
    soon_.cancel();
    soon_pending_ = false;
    loop_->disarm_timer(&timer_);
    for (CURL* e : spare_) curl_easy_cleanup(e);
    spare_.clear();
    // Stop watching while the descriptors are still open; libcurl closes
    // them in curl_multi_cleanup (REMOVE callbacks then just free watches).
    for (SocketWatch* w = watches_; w; w = w->next) w->unwatch();
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    while (SocketWatch* w = watches_) drop_watch(w);
}

void Client::Impl::socket_action(curl_socket_t s, int mask) noexcept {
    if (closed_) return;
    int running = 0;
    curl_multi_socket_action(multi_, s, mask, &running);
    collect_finished();
}

void Client::Impl::collect_finished() noexcept {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* easy = m->easy_handle;
        const CURLcode rc = m->data.result;  // m is invalid once the handle is removed
        char* priv = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (priv) reinterpret_cast<Transfer*>(priv)->complete(rc);
    }
}

void Client::Impl::set_timer(long timeout_ms) noexcept {
    loop_->disarm_timer(&timer_);
    if (timeout_ms < 0 || closed_ || loop_->is_closed()) return;
    if (timeout_ms == 0) {
        run_soon();
        return;
    }
    timer_.when_ns = now_ns(*loop_) + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
    try {
        loop_->arm_timer(&timer_);
    } catch (...) {
        run_soon();
    }
}

void Client::Impl::run_soon() noexcept {
    if (soon_pending_ || closed_ || loop_->is_closed()) return;
    try {
        soon_ = loop_->call_soon([this] {
            soon_pending_ = false;
            socket_action(CURL_SOCKET_TIMEOUT, 0);
        });
        soon_pending_ = true;
    } catch (...) {
        // Out of memory: libcurl's next timer callback tries again.
    }
}

CURL* Client::Impl::take_easy() {
    if (!spare_.empty()) {
        CURL* e = spare_.back();
        spare_.pop_back();
        return e;
    }
    CURL* e = curl_easy_init();
    if (!e) throw HttpError("curl_easy_init failed");
    return e;
}

void Client::Impl::recycle(CURL* easy) noexcept {
    if (!easy) return;
    if (closed_ || spare_.size() >= 32) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);
    try {
        spare_.push_back(easy);
    } catch (...) {
        curl_easy_cleanup(easy);
    }
}

void Client::Impl::link(Transfer* t) noexcept {
    t->prev = nullptr;
    t->next = transfers_;
    if (transfers_) transfers_->prev = t;
    transfers_ = t;
    ++transfer_count_;
}

void Client::Impl::unlink(Transfer* t) noexcept {
    if (t->prev)
        t->prev->next = t->next;
    else if (transfers_ == t)
        transfers_ = t->next;
    else
        return;  // not linked
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = nullptr;
    --transfer_count_;
}

void Client::Impl::add_watch(SocketWatch* w) noexcept {
    w->prev = nullptr;
    w->next = watches_;
    if (watches_) watches_->prev = w;
    watches_ = w;
}

void Client::Impl::drop_watch(SocketWatch* w) noexcept {
    w->unwatch();
    if (w->prev)
        w->prev->next = w->next;
    else
        watches_ = w->next;
    if (w->next) w->next->prev = w->prev;
    delete w;
}

// --- Client ----------------------------------------------------------------------

Client::Client(ClientOptions options) : Client(detail::running_loop_for("aio::http::Client"), std::move(options)) {}

Client::Client(EventLoop& loop, ClientOptions options) : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

void Client::close() noexcept {
    if (impl_) impl_->close();
}

bool Client::is_closed() const noexcept { return !impl_ || impl_->closed_; }
std::size_t Client::in_flight() const noexcept { return impl_ ? impl_->transfer_count_ : 0; }
std::size_t Client::connections_opened() const noexcept { return impl_ ? impl_->connections_ : 0; }
const ClientOptions& Client::options() const noexcept { return impl_->options_; }
EventLoop& Client::get_loop() const noexcept { return *impl_->loop_; }

bool Client::http2_available() noexcept {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    return info && (info->features & CURL_VERSION_HTTP2);
}

bool Client::http2_prior_knowledge_reuse() noexcept {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    return info && info->version_num >= 0x080000;
}

Coro<Response> Client::request(Request request) {
    Impl& impl = Impl::checked(impl_.get(), "request");
    std::unique_ptr<Transfer> t = impl.start(std::move(request), false);
    co_await TransferWait(t.get(), Until::done);
    t->rethrow_if_failed();
    co_return t->take_response();
}

Coro<StreamResponse> Client::stream(Request request) {
    Impl& impl = Impl::checked(impl_.get(), "stream");
    std::unique_ptr<Transfer> t = impl.start(std::move(request), true);
    co_await TransferWait(t.get(), Until::headers);
    if (!t->headers_final()) t->rethrow_if_failed();  // failed before the response began
    StreamResponse response;
    t->fill(response);
    response.body = body_chunks(std::move(t));
    co_return std::move(response);
}

Coro<Response> Client::get(std::string url, Headers headers) {
    Request req;
    req.url = std::move(url);
    req.headers = std::move(headers);
    Response r = co_await request(std::move(req));
    co_return std::move(r);
}

Coro<Response> Client::post(std::string url, std::string body, Headers headers) {
    Request req;
    req.method = "POST";
    req.url = std::move(url);
    req.body = std::move(body);
    req.headers = std::move(headers);
    Response r = co_await request(std::move(req));
    co_return std::move(r);
}

// --- StreamResponse --------------------------------------------------------------

Coro<std::string> StreamResponse::read() {
    std::string all;
    for (;;) {
        std::optional<std::string> chunk = co_await body.next();
        if (!chunk) break;
        all += *chunk;
    }
    co_return std::move(all);
}

Coro<> StreamResponse::raise_for_status() {
    if (ok()) co_return;
    constexpr std::size_t kKeep = 1 << 20;
    std::string text;
    try {
        for (;;) {
            std::optional<std::string> chunk = co_await body.next();
            if (!chunk) break;
            text.append(*chunk, 0, std::min(chunk->size(), kKeep - std::min(kKeep, text.size())));
            if (text.size() >= kKeep) break;
        }
    } catch (const HttpError&) {
        // The body broke off: report the status anyway, with what arrived.
    }
    co_await body.aclose();
    throw HttpStatusError(status, reason, std::move(text), url);
}

Coro<> StreamResponse::aclose() { co_await body.aclose(); }

}  // namespace aio::http
