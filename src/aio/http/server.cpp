// aio::http::Server, RequestParser, ResponseWriter and Router (aio/http/server.hpp).
#include "aio/http/server.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cstdio>
#include <list>

#include "aio/event.hpp"
#include "aio/log.hpp"
#include "aio/task.hpp"
#include "aio/timeout.hpp"

namespace aio::http {

// --- small helpers ----------------------------------------------------------------------

namespace {

char lower_ascii(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool has_crlf(std::string_view s) noexcept {
    for (char c : s)
        if (c == '\r' || c == '\n') return true;
    return false;
}

bool body_allowed(int status) noexcept { return status >= 200 && status != 204 && status != 304; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
    return true;
}

std::string percent_decode(std::string_view s, bool plus_as_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
    return out;
}

namespace {
/// Length of the valid UTF-8 sequence starting at s[i], 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xC0) != 0x80) return 0;
    if (n == 2 && c < 0xC2) return 0;                       // overlong
    if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
    if (n == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;
    return n;
}
}  // namespace

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (std::size_t i = 0; i < s.size(); ++i) {
        char ch = s[i];
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80) {
            // Valid UTF-8 goes through; a stray byte (a client's path...)
            // becomes U+FFFD so that the document stays valid JSON.
            std::size_t n = utf8_length(s, i);
            if (n == 0) {
                out += "\\ufffd";
            } else {
                out.append(s.substr(i, n));
                i += n - 1;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(ch);
                }
        }
    }
    out.push_back('"');
    return out;
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 499: return "Client Closed Request";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

// --- ServerRequest / ServerResponse -------------------------------------------------------

std::optional<std::string_view> ServerRequest::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return std::string_view(v);
    return std::nullopt;
}

std::optional<std::string> ServerRequest::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        std::size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
        std::size_t eq = pair.find('=');
        std::string key = percent_decode(pair.substr(0, eq), true);
        if (key != name) continue;
        if (eq == std::string_view::npos) return std::string();
        return percent_decode(pair.substr(eq + 1), true);
    }
    return std::nullopt;
}

std::string_view ServerRequest::path_param(std::string_view name) const noexcept {
    for (const auto& [k, v] : path_params)
        if (k == name) return v;
    return {};
}

ServerResponse ServerResponse::text(int status, std::string body, std::string content_type) {
    ServerResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", std::move(content_type));
    r.body = std::move(body);
    return r;
}

ServerResponse ServerResponse::json(int status, std::string json_text) {
    return text(status, std::move(json_text), "application/json");
}

ServerResponse ServerResponse::error(int status, std::string_view message) {
    return json(status, "{\"error\":" + json_quote(message) + "}");
}

// --- RequestParser --------------------------------------------------------------------------

struct RequestParser::Impl {
    http_parser parser{};
    Limits limits;
    ServerRequest req;
    std::string field;
    std::string value;
    bool in_value = false;
    bool in_field = false;
    bool started = false;
    bool headers_done = false;
    bool expect_continue = false;
    std::size_t header_bytes = 0;
    std::size_t header_count = 0;
    Status status = Status::need_more;
    int error_status = 0;
    std::string error_message;

    explicit Impl(Limits l) : limits(l) { init(); }

    void init() {
        http_parser_init(&parser, HTTP_REQUEST);
        parser.data = this;
    }

    static Impl& self(http_parser* p) noexcept { return *static_cast<Impl*>(p->data); }

    int fail(int code, std::string message) {
        if (status != Status::error) {
            status = Status::error;
            error_status = code;
            error_message = std::move(message);
        }
        // Non-zero stops http_parser_execute; -1 because on_headers_complete
        // reads 1 and 2 as "no body" / "upgrade", not as errors.
        return -1;
    }

    int count_header_bytes(std::size_t n) {
        header_bytes += n;
        if (header_bytes > limits.max_header_bytes)
            return fail(431, "request header fields too large (limit " + std::to_string(limits.max_header_bytes) +
                                 " bytes)");
        return 0;
    }

    int commit_header() {
        if (!in_value) return 0;
        in_value = false;
        if (headers_done) {  // a trailer field: counted, not kept
            field.clear();
            value.clear();
            return 0;
        }
        if (++header_count > limits.max_headers)
            return fail(431, "too many header fields (limit " + std::to_string(limits.max_headers) + ")");
        // Obsolete line folding is rejected by the parser; trim trailing blanks.
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        req.headers.emplace_back(std::move(field), std::move(value));
        field.clear();
        value.clear();
        return 0;
    }

    void split_target() {
        std::string_view t = req.target;
        // absolute-form: "http://host:port/path?q"
        if (t.size() > 7 && (t.substr(0, 7) == "http://" || (t.size() > 8 && t.substr(0, 8) == "https://"))) {
            std::size_t start = t.find("//") + 2;
            std::size_t slash = t.find('/', start);
            t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
        }
        std::size_t hash = t.find('#');
        if (hash != std::string_view::npos) t = t.substr(0, hash);
        std::size_t q = t.find('?');
        req.path = std::string(t.substr(0, q));
        req.query = q == std::string_view::npos ? std::string() : std::string(t.substr(q + 1));
    }

    static int on_message_begin(http_parser* p) {
        Impl& s = self(p);
        s.started = true;
        return 0;
    }
    static int on_url(http_parser* p, const char* at, std::size_t n) {
        Impl& s = self(p);
        s.req.target.append(at, n);
        if (s.req.target.size() > s.limits.max_header_bytes)
            return s.fail(414, "request target too long (limit " + std::to_string(s.limits.max_header_bytes) +
                                   " bytes)");
        return s.count_header_bytes(n);
    }
    static int on_header_field(http_parser* p, const char* at, std::size_t n) {
        Impl& s = self(p);
        if (s.in_value && s.commit_header() != 0) return -1;
        // A field may come in several callbacks (split input): its ": " and
        // CRLF count once, when it begins.
        std::size_t overhead = s.in_field ? 0 : 4;
        s.in_field = true;
        if (s.count_header_bytes(n + overhead) != 0) return -1;
        if (!s.headers_done) s.field.append(at, n);
        return 0;
    }
    static int on_header_value(http_parser* p, const char* at, std::size_t n) {
        Impl& s = self(p);
        s.in_value = true;
        s.in_field = false;
        if (s.count_header_bytes(n) != 0) return -1;
        if (!s.headers_done) s.value.append(at, n);
        return 0;
    }
    static int on_headers_complete(http_parser* p) {
        Impl& s = self(p);
        if (s.commit_header() != 0) return -1;
        s.headers_done = true;
        s.req.method = http_method_str(static_cast<http_method>(p->method));
        s.req.version_major = p->http_major;
        s.req.version_minor = p->http_minor;
        s.req.keep_alive = http_should_keep_alive(p) != 0;
        s.split_target();
        if ((p->flags & F_CONTENTLENGTH) && p->content_length > s.limits.max_body_bytes) {
            // Stops here: the body is never read.
            return s.fail(413, "request body too large (" + std::to_string(p->content_length) + " bytes, limit " +
                                   std::to_string(s.limits.max_body_bytes) + ")");
        }
        if (std::optional<std::string_view> e = s.req.header("expect"); e && iequals(*e, "100-continue"))
            s.expect_continue = true;
        return 0;
    }
    static int on_body(http_parser* p, const char* at, std::size_t n) {
        Impl& s = self(p);
        if (s.req.body.size() + n > s.limits.max_body_bytes)
            return s.fail(413, "request body too large (limit " + std::to_string(s.limits.max_body_bytes) + " bytes)");
        s.req.body.append(at, n);
        s.expect_continue = false;
        return 0;
    }
    static int on_message_complete(http_parser* p) {
        Impl& s = self(p);
        if (s.status == Status::error) return -1;
        s.req.keep_alive = http_should_keep_alive(p) != 0;
        s.req.upgrade = p->upgrade != 0;
        if (s.req.upgrade) s.req.keep_alive = false;
        s.expect_continue = false;
        s.status = Status::complete;
        http_parser_pause(p, 1);  // one request at a time
        return 0;
    }

    static const http_parser_settings& settings() {
        static const http_parser_settings s = [] {
            http_parser_settings v;
            http_parser_settings_init(&v);
            v.on_message_begin = &Impl::on_message_begin;
            v.on_url = &Impl::on_url;
            v.on_header_field = &Impl::on_header_field;
            v.on_header_value = &Impl::on_header_value;
            v.on_headers_complete = &Impl::on_headers_complete;
            v.on_body = &Impl::on_body;
            v.on_message_complete = &Impl::on_message_complete;
            return v;
        }();
        return s;
    }

    std::size_t feed(std::string_view data) {
        if (status != Status::need_more || data.empty()) return 0;
        std::size_t n = http_parser_execute(&parser, &settings(), data.data(), data.size());
        auto err = HTTP_PARSER_ERRNO(&parser);
        if (status == Status::complete) {
            if (err == HPE_PAUSED) http_parser_pause(&parser, 0);
            return std::min(n, data.size());
        }
        if (status == Status::error) return std::min(n, data.size());
        if (err != HPE_OK) {
            fail(err == HPE_HEADER_OVERFLOW ? 431 : 400,
                 std::string("malformed request: ") + http_errno_description(err));
            return std::min(n, data.size());
        }
        // An upgrade request is complete only when on_message_complete says
        // so: libhttp-parser reads its body (Content-Length or chunked) first,
        // and a body can end in a later feed.
        return std::min(n, data.size());
    }

    void reset_message() {
        req = ServerRequest{};
        field.clear();
        value.clear();
        in_value = false;
        in_field = false;
        started = false;
        headers_done = false;
        expect_continue = false;
        header_bytes = 0;
        header_count = 0;
        status = Status::need_more;
        if (parser.upgrade || HTTP_PARSER_ERRNO(&parser) != HPE_OK) init();
    }
};

RequestParser::RequestParser(Limits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestParser::RequestParser(RequestParser&& o) noexcept : impl_(std::move(o.impl_)) {
    if (impl_) impl_->parser.data = impl_.get();
}
RequestParser& RequestParser::operator=(RequestParser&& o) noexcept {
    impl_ = std::move(o.impl_);
    if (impl_) impl_->parser.data = impl_.get();
    return *this;
}
RequestParser::~RequestParser() = default;

std::size_t RequestParser::feed(std::string_view data) { return impl_->feed(data); }

void RequestParser::feed_eof() {
    if (impl_->status == Status::need_more && impl_->started)
        impl_->fail(400, "the connection ended in the middle of a request");
}

RequestParser::Status RequestParser::status() const noexcept { return impl_->status; }
bool RequestParser::started() const noexcept { return impl_->started; }
bool RequestParser::headers_complete() const noexcept { return impl_->headers_done; }
bool RequestParser::expects_continue() const noexcept {
    return impl_->expect_continue && impl_->status == Status::need_more;
}
int RequestParser::error_status() const noexcept { return impl_->error_status; }
const std::string& RequestParser::error_message() const noexcept { return impl_->error_message; }

ServerRequest RequestParser::take() {
    if (impl_->status != Status::complete) throw std::logic_error("RequestParser::take: no complete request");
    ServerRequest out = std::move(impl_->req);
    impl_->reset_message();
    return out;
}

// --- ResponseWriter -------------------------------------------------------------------------

namespace {

Coro<void> drain_writer(StreamWriter w) { co_await w.drain(); }

Coro<std::string> read_chunk(StreamReader r, std::size_t n) {
    std::string data = co_await r.read(static_cast<std::ptrdiff_t>(n));
    co_return data;
}

constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

ResponseWriter::ResponseWriter(StreamWriter writer, const ServerRequest& request,
                               std::chrono::milliseconds write_timeout, const std::string* server_name)
    : writer_(std::move(writer)),
      write_timeout_(write_timeout),
      server_name_(server_name),
      head_only_(request.method == "HEAD"),
      http10_(request.version_major == 1 && request.version_minor == 0),
      keep_alive_(request.keep_alive) {}

void ResponseWriter::check_idle(const char* what) const {
    if (state_ != State::idle)
        throw std::logic_error(std::string("aio::http::ResponseWriter::") + what +
                               ": the response was already started");
}

std::string ResponseWriter::head(int status, const HeaderFields& headers, std::optional<std::size_t> content_length) {
    if (status < 100 || status > 999) throw std::logic_error("aio::http: invalid status " + std::to_string(status));
    std::string h;
    h.reserve(128 + headers.size() * 48);
    h += "HTTP/1.1 ";
    h += std::to_string(status);
    h += ' ';
    h += reason_phrase(status);
    h += "\r\n";
    const HeaderFields* lists[2] = {&headers, &extra_headers_};
    for (const HeaderFields* list : lists) {
        for (const auto& [name, value] : *list) {
            if (name.empty() || has_crlf(name) || has_crlf(value) || name.find(':') != std::string::npos)
                throw std::logic_error("aio::http: invalid header field " + json_quote(name));
            if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;  // ours
            if (iequals(name, "connection")) {
                if (iequals(value, "close")) keep_alive_ = false;
                continue;
            }
            h += name;
            h += ": ";
            h += value;
            h += "\r\n";
        }
    }
    if (server_name_ && !server_name_->empty()) {
        h += "Server: ";
        h += *server_name_;
        h += "\r\n";
    }
    if (content_length) {
        if (body_allowed(status)) {
            h += "Content-Length: ";
            h += std::to_string(*content_length);
            h += "\r\n";
        }
    } else if (chunked_) {
        h += "Transfer-Encoding: chunked\r\n";
    }
    if (!keep_alive_)
        h += "Connection: close\r\n";
    else if (http10_)
        h += "Connection: keep-alive\r\n";
    h += "\r\n";
    return h;
}

Coro<void> ResponseWriter::flush() {
    Transport& t = writer_.transport();
    if (t.get_write_buffer_size() == 0) co_return;
    bool timed_out = false;
    try {
        Coro<void> draining = drain_writer(writer_);
        co_await aio::timeout(write_timeout_, std::move(draining));
    } catch (const aio::TimeoutError&) {
        timed_out = true;
    }
    if (timed_out) {
        abort();
        throw aio::TimeoutError("aio::http: the client read nothing for write_timeout; connection dropped");
    }
}

namespace {
void check_connected(StreamWriter& w) {
    if (w.is_closing()) throw aio::ConnectionResetError("aio::http: the client connection is closed");
}
}  // namespace

Coro<void> ResponseWriter::send(ServerResponse response) {
    check_idle("send");
    check_connected(writer_);
    status_ = response.status;
    std::string h = head(response.status, response.headers, response.body.size());
    state_ = State::done;
    if (head_only_ || !body_allowed(response.status) || response.body.empty()) {
        writer_.write(h);
    } else {
        std::string_view parts[2] = {h, response.body};
        writer_.writelines(std::span<const std::string_view>(parts, 2));
    }
    co_await flush();
}

Coro<void> ResponseWriter::send(int status, std::string body, std::string content_type) {
    ServerResponse r = ServerResponse::text(status, std::move(body), std::move(content_type));
    co_await send(std::move(r));
}

Coro<void> ResponseWriter::send_json(int status, std::string json_text) {
    ServerResponse r = ServerResponse::json(status, std::move(json_text));
    co_await send(std::move(r));
}

Coro<void> ResponseWriter::send_error(int status, std::string_view message) {
    ServerResponse r = ServerResponse::error(status, message);
    co_await send(std::move(r));
}

Coro<void> ResponseWriter::start(int status, HeaderFields headers) {
    check_idle("start");
    check_connected(writer_);
    status_ = status;
    if (http10_) {
        chunked_ = false;
        keep_alive_ = false;  // the end of the body is the end of the connection
    } else {
        chunked_ = body_allowed(status) && !head_only_;
    }
    std::string h = head(status, headers, std::nullopt);
    state_ = State::streaming;
    if (defer_head_) {
        pending_head_ = std::move(h);  // sent with the first chunk, or by finish()
        co_return;
    }
    writer_.write(h);
    co_await flush();
}

Coro<void> ResponseWriter::write(std::string_view data) {
    if (state_ != State::streaming) throw std::logic_error("aio::http::ResponseWriter::write: call start() first");
    if (data.empty() || head_only_ || !body_allowed(status_)) co_return;
    check_connected(writer_);
    std::string_view parts[4];
    std::size_t n = 0;
    if (!pending_head_.empty()) parts[n++] = pending_head_;
    char size_line[24];
    if (chunked_) {
        // "%zx\r\n" without snprintf
        static constexpr char kHex[] = "0123456789abcdef";
        char* end = size_line + sizeof size_line;
        char* p = end;
        *--p = '\n';
        *--p = '\r';
        std::size_t v = data.size();
        do {
            *--p = kHex[v & 0xf];
            v >>= 4;
        } while (v != 0);
        parts[n++] = std::string_view(p, static_cast<std::size_t>(end - p));
        parts[n++] = data;
        parts[n++] = "\r\n";
    } else {
        parts[n++] = data;
    }
    if (n == 1)
        writer_.write(parts[0]);
    else
        writer_.writelines(std::span<const std::string_view>(parts, n));
    pending_head_.clear();
    co_await flush();
}

Coro<void> ResponseWriter::finish() {
    if (state_ == State::done || state_ == State::aborted) co_return;
    if (state_ == State::idle) throw std::logic_error("aio::http::ResponseWriter::finish: nothing was started");
    state_ = State::done;
    if (chunked_) {
        check_connected(writer_);
        if (pending_head_.empty()) {
            writer_.write("0\r\n\r\n");
        } else {
            std::string_view parts[2] = {pending_head_, "0\r\n\r\n"};
            writer_.writelines(std::span<const std::string_view>(parts, 2));
            pending_head_.clear();
        }
        co_await flush();
    } else if (!pending_head_.empty()) {
        check_connected(writer_);
        writer_.write(pending_head_);
        pending_head_.clear();
        co_await flush();
    }
}

Coro<void> ResponseWriter::start_sse(HeaderFields extra_headers) {
    HeaderFields headers;
    headers.emplace_back("Content-Type", "text/event-stream");
    headers.emplace_back("Cache-Control", "no-cache");
    headers.emplace_back("X-Accel-Buffering", "no");
    for (auto& h : extra_headers) headers.push_back(std::move(h));
    co_await start(200, std::move(headers));
}

Coro<void> ResponseWriter::send_event(std::string_view data, std::string_view event, std::string_view id) {
    if (has_crlf(event)) throw std::invalid_argument("aio::http: an SSE event name cannot contain a line break");
    if (has_crlf(id) || id.find('\0') != std::string_view::npos)
        throw std::invalid_argument("aio::http: an SSE id cannot contain a line break or NUL");
    std::string ev;
    ev.reserve(data.size() + event.size() + id.size() + 24);
    if (!event.empty()) {
        ev += "event: ";
        ev += event;
        ev += '\n';
    }
    if (!id.empty()) {
        ev += "id: ";
        ev += id;
        ev += '\n';
    }
    // One data line per line of `data` (CRLF, LF and CR all end a line).
    // (a plain scan: string_view::find_first_of calls memchr on the set
    // for every character of `data`)
    auto line_end = [&data](std::size_t from) {
        for (std::size_t i = from; i < data.size(); ++i)
            if (data[i] == '\n' || data[i] == '\r') return i;
        return std::string_view::npos;
    };
    std::size_t pos = 0;
    for (;;) {
        std::size_t end = line_end(pos);
        ev += "data: ";
        ev += data.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        ev += '\n';
        if (end == std::string_view::npos) break;
        pos = end + 1;
        if (data[end] == '\r' && pos < data.size() && data[pos] == '\n') ++pos;
    }
    ev += '\n';
    co_await write(ev);
}

Coro<void> ResponseWriter::send_comment(std::string_view text) {
    if (has_crlf(text)) throw std::invalid_argument("aio::http: an SSE comment cannot contain a line break");
    std::string line = ": ";
    line += text;
    line += "\n\n";
    co_await write(line);
}

void ResponseWriter::add_header(std::string name, std::string value) {
    check_idle("add_header");
    if (name.empty() || has_crlf(name) || has_crlf(value) || name.find(':') != std::string::npos)
        throw std::logic_error("aio::http: invalid header field " + json_quote(name));
    extra_headers_.emplace_back(std::move(name), std::move(value));
}

bool ResponseWriter::connection_open() const noexcept { return writer_ && !writer_.is_closing(); }

void ResponseWriter::abort() noexcept {
    if (state_ != State::done) state_ = State::aborted;
    keep_alive_ = false;
    pending_head_.clear();
    if (writer_) writer_.transport().abort();
}

// --- Router ---------------------------------------------------------------------------------

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    if (path.size() > 0 && path.back() == '/') path.remove_suffix(1);  // "/a/" routes as "/a"
    if (path.empty()) return out;
    std::size_t pos = 0;
    for (;;) {
        std::size_t slash = path.find('/', pos);
        out.push_back(path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return out;
}

Coro<void> not_found(ServerRequest& request, ResponseWriter& writer) {
    std::string message = "no route for " + request.method + " " + request.path;
    co_await writer.send_error(404, message);
}

Coro<void> method_not_allowed(ResponseWriter& writer, std::string allow, std::string message) {
    ServerResponse r = ServerResponse::error(405, message);
    r.headers.emplace_back("Allow", std::move(allow));
    co_await writer.send(std::move(r));
}

bool match_route(const Router::Route& route, const std::vector<std::string_view>& segments,
                 std::vector<std::pair<std::string, std::string>>& params) {
    params.clear();
    const auto& pieces = route.pieces;
    std::size_t i = 0;
    for (; i < pieces.size(); ++i) {
        const Router::Piece& p = pieces[i];
        if (p.rest) {
            std::string rest;
            for (std::size_t k = i; k < segments.size(); ++k) {
                if (k > i) rest += '/';
                rest += percent_decode(segments[k]);
            }
            params.emplace_back(p.name, std::move(rest));
            return true;
        }
        if (i >= segments.size()) return false;
        std::string seg = percent_decode(segments[i]);
        if (p.name.empty()) {
            if (seg != p.prefix) return false;
            continue;
        }
        if (seg.size() <= p.prefix.size() + p.suffix.size()) return false;
        if (seg.compare(0, p.prefix.size(), p.prefix) != 0) return false;
        if (seg.compare(seg.size() - p.suffix.size(), p.suffix.size(), p.suffix) != 0) return false;
        params.emplace_back(p.name, seg.substr(p.prefix.size(), seg.size() - p.prefix.size() - p.suffix.size()));
    }
    return i == segments.size();
}

}  // namespace

Router::Router() : fallback_(&not_found) {}

Router& Router::add_handler(std::string method, std::string pattern, Handler h) {
    if (!h) throw std::invalid_argument("aio::http::Router: empty handler for " + pattern);
    Route route;
    route.method = std::move(method);
    route.handler = std::move(h);
    std::vector<std::string_view> segs = split_path(pattern);
    for (std::size_t i = 0; i < segs.size(); ++i) {
        std::string_view s = segs[i];
        Piece piece;
        std::size_t open = s.find('{');
        if (open == std::string_view::npos) {
            piece.prefix = std::string(s);
        } else {
            std::size_t close = s.find('}', open);
            if (close == std::string_view::npos || close == open + 1)
                throw std::invalid_argument("aio::http::Router: bad pattern segment '" + std::string(s) + "'");
            piece.prefix = std::string(s.substr(0, open));
            piece.name = std::string(s.substr(open + 1, close - open - 1));
            piece.suffix = std::string(s.substr(close + 1));
            if (piece.name.size() > 3 && piece.name.ends_with("...")) {
                piece.name.resize(piece.name.size() - 3);
                piece.rest = true;
                if (i + 1 != segs.size() || !piece.prefix.empty() || !piece.suffix.empty())
                    throw std::invalid_argument("aio::http::Router: {" + piece.name +
                                                "...} must be a whole segment, the last one");
            }
        }
        route.pieces.push_back(std::move(piece));
    }
    routes_.push_back(std::move(route));
    return *this;
}

Coro<void> Router::operator()(ServerRequest& request, ResponseWriter& writer) const {
    std::vector<std::string_view> segments = split_path(request.path);
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;
    const Route* get_route = nullptr;
    std::vector<std::pair<std::string, std::string>> get_params;
    for (const Route& route : routes_) {
        if (!match_route(route, segments, params)) continue;
        if (route.method == request.method) {
            request.path_params = std::move(params);
            return route.handler(request, writer);
        }
        if (request.method == "HEAD" && route.method == "GET" && !get_route) {
            get_route = &route;
            get_params = params;
        }
        if (allow.find(route.method) == std::string::npos) {
            if (!allow.empty()) allow += ", ";
            allow += route.method;
        }
    }
    if (get_route) {
        request.path_params = std::move(get_params);
        return get_route->handler(request, writer);
    }
    if (!allow.empty())
        return method_not_allowed(writer, allow, "method " + request.method + " not allowed for " + request.path);
    return fallback_(request, writer);
}

// --- the server -----------------------------------------------------------------------------

namespace detail {

struct ServerImpl : std::enable_shared_from_this<ServerImpl> {
    Handler handler;
    ServerConfig config;
    aio::Server server;
    std::uint16_t port = 0;
    bool closing = false;
    std::size_t open = 0;
    std::list<AnyTask> connection_tasks;
    ServerStats stats;
    aio::Event closed;

    RequestParser::Limits limits() const {
        RequestParser::Limits l;
        l.max_header_bytes = config.max_header_bytes;
        l.max_headers = config.max_headers;
        l.max_body_bytes = config.max_body_bytes;
        return l;
    }
};

/// One request and its answer; shared by the connection task and the handler task.
struct Exchange {
    Exchange(std::shared_ptr<ServerImpl> s, ServerRequest r, StreamWriter w)
        : impl(std::move(s)),
          request(std::move(r)),
          writer(std::move(w), request, impl->config.write_timeout, &impl->config.server_name) {}
    std::shared_ptr<ServerImpl> impl;
    ServerRequest request;
    ResponseWriter writer;
    bool cancelled = false;
};

}  // namespace detail

namespace {

using detail::Exchange;
using detail::ServerImpl;

/// What the connection task shares with its disconnect watcher.
struct ConnState {
    ConnState(StreamReader r, StreamWriter w) : reader(std::move(r)), writer(std::move(w)) {}
    StreamReader reader;
    StreamWriter writer;
    std::string pending;  // bytes read but not parsed yet (pipelined requests)
    bool disconnected = false;
};

/// Registers the connection task (for close()) and counts it while alive.
class ConnectionSlot {
public:
    explicit ConnectionSlot(std::shared_ptr<ServerImpl> impl) : impl_(std::move(impl)) {
        ++impl_->open;
        ++impl_->stats.connections;
        if (std::optional<AnyTask> me = current_task()) {
            it_ = impl_->connection_tasks.insert(impl_->connection_tasks.end(), *me);
            registered_ = true;
        }
    }
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;
    ~ConnectionSlot() {
        --impl_->open;
        if (registered_) impl_->connection_tasks.erase(it_);
    }

private:
    std::shared_ptr<ServerImpl> impl_;
    std::list<AnyTask>::iterator it_;
    bool registered_ = false;
};

std::string error_response_bytes(const ServerConfig& config, int status, std::string_view message) {
    std::string body = "{\"error\":" + json_quote(message) + "}";
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    if (!config.server_name.empty()) h += "Server: " + config.server_name + "\r\n";
    h += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n";
    return h + body;
}

/// Answers with an error the server produced itself, then closes politely:
/// half-close, and read (and drop) what the client still sends for a moment
/// so that the answer is not lost to a reset.
Coro<void> reject(ServerImpl& impl, ConnState& conn, int status, std::string message) {
    ++impl.stats.rejected;
    try {
        conn.writer.write(error_response_bytes(impl.config, status, message));
        Coro<void> draining = drain_writer(conn.writer);
        co_await aio::timeout(impl.config.write_timeout, std::move(draining));
        if (conn.writer.can_write_eof()) conn.writer.write_eof();
        auto linger = std::min<std::chrono::milliseconds>(impl.config.idle_timeout, std::chrono::milliseconds(1000));
        Clock::time_point until = get_running_loop().time() + linger;
        std::size_t dropped = 0;
        while (dropped < 4 * 1024 * 1024) {
            Coro<std::string> reading = read_chunk(conn.reader, kReadChunk);
            std::string data = co_await aio::timeout_at(until, std::move(reading));
            if (data.empty()) break;
            dropped += data.size();
        }
    } catch (const std::exception&) {
        // timeout, reset: the connection closes either way
    }
}

enum class ReadOutcome : std::uint8_t { request, closed, timeout, error };

/// Reads until the parser holds one complete request (or fails).
Coro<ReadOutcome> read_request(ServerImpl& impl, ConnState& conn, RequestParser& parser) {
    EventLoop& loop = get_running_loop();
    Clock::time_point deadline = loop.time() + impl.config.idle_timeout;
    bool request_clock = false;
    bool continue_sent = false;
    for (;;) {
        if (!conn.pending.empty()) {
            std::size_t n = parser.feed(conn.pending);
            conn.pending.erase(0, n);
            if (parser.status() == RequestParser::Status::error) co_return ReadOutcome::error;
            if (parser.status() == RequestParser::Status::complete) co_return ReadOutcome::request;
            if (n == 0) co_return ReadOutcome::closed;  // cannot happen (the parser takes all it is given); never spin
            if (parser.expects_continue() && !continue_sent) {
                continue_sent = true;
                conn.writer.write("HTTP/1.1 100 Continue\r\n\r\n");
            }
        }
        if (parser.started() && !request_clock) {
            request_clock = true;
            deadline = loop.time() + impl.config.request_timeout;
        }
        bool timed_out = false;
        std::string data;
        try {
            Coro<std::string> reading = read_chunk(conn.reader, kReadChunk);
            data = co_await aio::timeout_at(deadline, std::move(reading));
        } catch (const aio::TimeoutError&) {
            timed_out = true;
        }
        if (timed_out) co_return ReadOutcome::timeout;
        if (data.empty()) {
            parser.feed_eof();
            co_return ReadOutcome::closed;
        }
        conn.pending += data;
    }
}

/// Runs the handler for one exchange and makes sure the client gets an
/// answer (or a dropped connection) whatever the handler does.
Coro<void> run_handler(std::shared_ptr<ServerImpl> impl, std::shared_ptr<Exchange> ex) {
    ResponseWriter& w = ex->writer;
    bool cancelled = false;
    int http_status = 0;
    std::string message;
    std::exception_ptr error;
    try {
        Coro<void> handling = impl->handler(ex->request, w);
        co_await std::move(handling);
    } catch (const CancelledError&) {
        cancelled = true;
    } catch (const ErrorResponse& e) {
        http_status = e.status();
        message = e.what();
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        aio::log(LogLevel::error, "aio::http: the handler of " + ex->request.method + " " + ex->request.path +
                                      " failed: " + what);
        http_status = 500;
        message = "internal server error";
    }
    try {
        if (cancelled) {
            ex->cancelled = true;
            w.close_connection();
            if (!w.headers_sent() && w.connection_open()) {
                Coro<void> answering = w.send_error(503, "the request was cancelled");
                co_await std::move(answering);
            } else if (!w.finished()) {
                w.abort();
            }
        } else if (http_status != 0) {
            if (!w.headers_sent()) {
                Coro<void> answering = w.send_error(http_status, message);
                co_await std::move(answering);
            } else if (!w.finished()) {
                w.abort();
            }
        } else if (!w.headers_sent()) {
            aio::log(LogLevel::error, "aio::http: the handler of " + ex->request.method + " " + ex->request.path +
                                          " returned without answering");
            Coro<void> answering = w.send_error(500, "the handler sent no response");
            co_await std::move(answering);
        } else if (w.streaming()) {
            Coro<void> finishing = w.finish();
            co_await std::move(finishing);
        }
    } catch (const CancelledError&) {
        w.abort();
    } catch (const std::exception&) {
        w.abort();
    }
}

/// While the handler runs: reads ahead (pipelined bytes are kept for later)
/// and notices the client going away, which cancels the handler.
Coro<void> watch_disconnect(std::shared_ptr<ConnState> conn, Task<void> handler, std::size_t max_pending,
                            std::shared_ptr<ServerImpl> impl) {
    if (handler.done()) co_return;
    bool gone = false;
    try {
        while (conn->pending.size() < max_pending) {
            std::string data = co_await conn->reader.read(static_cast<std::ptrdiff_t>(kReadChunk));
            if (data.empty()) {
                gone = true;
                break;
            }
            conn->pending += data;
        }
    } catch (const CancelledError&) {
        co_return;  // the handler finished first: the normal case
    } catch (const std::exception&) {
        gone = true;  // reset
    }
    if (!gone) co_return;
    conn->disconnected = true;
    if (!handler.done() && handler.cancel("aio::http: the client disconnected")) ++impl->stats.disconnect_cancels;
}

/// Awaits a task whatever it ends with; true when it ended cancelled.
Coro<bool> settle(Task<void> task) {
    bool cancelled = false;
    try {
        co_await task;
    } catch (const CancelledError&) {
        cancelled = true;
    } catch (...) {
    }
    co_return cancelled;
}

bool cancel_requested() {
    std::optional<AnyTask> me = current_task();
    return me && me->cancelling() > 0;
}

Coro<void> serve_connection(std::shared_ptr<ServerImpl> impl, StreamReader reader, StreamWriter writer) {
    ConnectionSlot slot(impl);
    auto conn = std::make_shared<ConnState>(std::move(reader), std::move(writer));
    if (impl->closing) co_return;
    if (impl->open > impl->config.max_connections) {
        std::string message = "too many connections (limit " + std::to_string(impl->config.max_connections) + ")";
        co_await reject(*impl, *conn, 503, std::move(message));
        co_return;
    }
    std::string peer;
    try {
        peer = conn->writer.get_extra_info("peername").to_string();
    } catch (const std::exception&) {
    }
    RequestParser parser(impl->limits());
    EventLoop& loop = get_running_loop();
    const std::size_t max_pending = impl->config.max_header_bytes + std::min<std::size_t>(impl->config.max_body_bytes, 1 << 20);
    for (;;) {
        ReadOutcome outcome = ReadOutcome::closed;
        try {
            outcome = co_await read_request(*impl, *conn, parser);
        } catch (const std::exception&) {
            outcome = ReadOutcome::closed;  // reset by the peer...
        }
        if (outcome == ReadOutcome::closed) break;
        if (outcome == ReadOutcome::timeout) {
            if (parser.started()) co_await reject(*impl, *conn, 408, "request not received in time");
            break;
        }
        if (outcome == ReadOutcome::error) {
            co_await reject(*impl, *conn, parser.error_status(), parser.error_message());
            break;
        }
        ServerRequest request = parser.take();
        request.peer = peer;
        auto ex = std::make_shared<Exchange>(impl, std::move(request), conn->writer);
        if (impl->closing) ex->writer.close_connection();
        ++impl->stats.requests;
        Task<void> handling = loop.create_task(run_handler(impl, ex));
        Task<void> watching;
        if (impl->config.cancel_on_disconnect)
            watching = loop.create_task(watch_disconnect(conn, handling, max_pending, impl));
        // Cancelling this task (close()) cancels the handler through this
        // await; run_handler absorbs it, so we come back here normally.
        bool handler_cancelled = co_await settle(handling);
        if (watching) {
            watching.cancel();
            co_await settle(watching);
        }
        const ResponseWriter& w = ex->writer;
        if (handler_cancelled || !w.finished() || !w.keep_alive() || conn->disconnected || impl->closing ||
            cancel_requested())
            break;
    }
    // Returning drops the last StreamWriter: the connection closes after
    // flushing what is queued.
}

}  // namespace

std::uint16_t Server::port() const { return impl_->port; }
const std::string& Server::host() const { return impl_->config.host; }
std::string Server::url() const {
    const std::string& h = impl_->config.host;
    bool v6 = h.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + h + "]" : (h.empty() ? std::string("127.0.0.1") : h)) + ":" +
           std::to_string(impl_->port);
}
std::size_t Server::connections() const { return impl_->open; }
ServerStats Server::stats() const { return impl_->stats; }
bool Server::is_serving() const { return impl_ && !impl_->closing; }

void Server::close() {
    if (!impl_ || impl_->closing) return;
    impl_->closing = true;
    impl_->server.close();
    std::vector<AnyTask> tasks(impl_->connection_tasks.begin(), impl_->connection_tasks.end());
    for (AnyTask& t : tasks) t.cancel("aio::http: server closing");
    impl_->closed.set();
}

Coro<void> Server::wait_closed() {
    std::shared_ptr<ServerImpl> impl = impl_;
    if (!impl) co_return;
    aio::Server s = impl->server;
    co_await s.wait_closed();
}

Coro<void> Server::aclose() {
    close();
    co_await wait_closed();
}

Coro<void> Server::serve_forever() {
    std::shared_ptr<ServerImpl> impl = impl_;
    if (!impl) co_return;
    co_await impl->closed.wait();
}

namespace {
Coro<void> refuse(StreamWriter) { co_return; }  // the server is gone: dropping the writer closes
}  // namespace

Coro<Server> start_server(Handler handler, ServerConfig config) {
    if (!handler) throw std::invalid_argument("aio::http::start_server: empty handler");
    auto impl = std::make_shared<ServerImpl>();
    impl->handler = std::move(handler);
    impl->config = std::move(config);
    aio::ServerOptions options;
    options.backlog = impl->config.backlog;
    std::weak_ptr<ServerImpl> weak = impl;
    auto on_connection = [weak](StreamReader r, StreamWriter w) -> Coro<void> {
        std::shared_ptr<ServerImpl> s = weak.lock();
        if (!s) return refuse(std::move(w));
        return serve_connection(std::move(s), std::move(r), std::move(w));
    };
    std::string host = impl->config.host;
    aio::Server listening = co_await aio::start_server(std::move(on_connection), std::move(host), impl->config.port,
                                                      options, kReadChunk);
    impl->server = listening;
    if (!listening.sockets().empty()) impl->port = listening.sockets().front().sockname().port();
    co_return Server(std::move(impl));
}

}  // namespace aio::http
