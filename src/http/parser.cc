// http/parser.cc — RequestParser over llhttp.
//
// llhttp is built in strict mode (LLHTTP_STRICT_MODE, see subprojects/llhttp) with every
// leniency flag off: it then checks the CRLF after a chunk's data and after a chunk size, which
// loose mode skips unread. What strict llhttp still tolerates and RFC 9112 does not is refused
// here: a byte scanner runs over the request head and the trailer section before llhttp sees
// them (CRLF line endings only, no obs-fold, request-line / field-block byte counts across
// feed() calls for 414/431), and the callbacks check header names, the target's form, Host,
// Transfer-Encoding and chunk extensions. llhttp does the rest (tokens, framing, CL/TE
// conflicts, chunk sizes). It is paused in on_message_complete so feed() stops exactly after
// each request, and at the last chunk so the scanner can take over the trailers.
#include "http/parser.h"

#include <llhttp.h>

#include <cstring>
#include <optional>
#include <string>

#include "http/target.h"

static_assert(LLHTTP_STRICT_MODE, "llhttp must be built with LLHTTP_STRICT_MODE=1");

namespace sluice::http {

namespace {

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (x != y) return false;  // b is always lower-case
    }
    return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// "TOKEN SP target SP HTTP/x.y" on the first line of `s` (the line must be complete).
bool looks_like_request_line(std::string_view s) {
    const size_t eol = s.find('\n');
    if (eol == std::string_view::npos) return false;
    std::string_view line = s.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return false;
    const size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
    return line.substr(sp2 + 1).starts_with("HTTP/");
}

// Transfer-Encoding's codings, joined over its field lines. 0 when the body is plain chunked;
// 400 when chunked is missing, not last, repeated or the list is malformed (RFC 9112 §6.3: the
// length cannot be determined, MUST be 400); 501 when chunked is last but another coding comes
// before it (RFC 9112 §6.1: a coding the server does not implement, SHOULD be 501). sluice
// decodes no coding: request bodies are only framed and dropped.
int check_transfer_codings(std::string_view v) {
    bool chunked_last = false;
    bool seen_chunked = false;
    bool other = false;
    while (!v.empty()) {
        size_t comma = v.find(',');
        std::string_view e = v.substr(0, comma);
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        while (!e.empty() && is_ows(e.front())) e.remove_prefix(1);
        while (!e.empty() && is_ows(e.back())) e.remove_suffix(1);
        if (e.empty()) continue;  // RFC 9110 §5.6.1: empty list elements are ignored
        std::string_view name = e.substr(0, e.find(';'));
        while (!name.empty() && is_ows(name.back())) name.remove_suffix(1);
        if (name.empty()) return 400;
        for (char c : name) {
            if (!is_tchar(c)) return 400;
        }
        chunked_last = false;
        if (ieq(e, "chunked")) {
            if (seen_chunked) return 400;
            seen_chunked = chunked_last = true;
        } else {
            other = true;  // includes "chunked;x" (chunked takes no parameters)
        }
    }
    if (!chunked_last) return 400;
    return other ? 501 : 0;
}

}  // namespace

struct RequestParser::Impl {
    enum class Phase : uint8_t { Idle, RequestLine, Headers, Body, Trailers };
    // How a recognised header's value is stored.
    enum class Store : uint8_t { Ignore, Last, List, Host, TransferEncoding };

    llhttp_t parser{};
    ParserLimits limits;
    Request* req = nullptr;

    // Head scanner state (persists across feed() calls within one request).
    Phase phase = Phase::Idle;
    size_t line_len = 0;      // bytes of the current line so far, excluding LF
    size_t header_bytes = 0;  // bytes of header lines so far, including CRLFs
    bool prev_cr = false;     // last scanned byte was CR

    bool paused = false;
    bool failed = false;
    bool trailer_pause = false;  // on_chunk_header paused at the last chunk
    bool in_trailers = false;    // header callbacks now see trailer fields
    uint64_t body_bytes = 0;
    size_t extension_bytes = 0;  // chunk extensions of this request, bounded like a field block
    // Transfer-Encoding field lines, joined; checked in on_headers_complete.
    std::string transfer_encoding;
    bool has_transfer_encoding = false;
    bool empty_transfer_encoding = false;
    int error_status = 0;
    const char* error_reason = "";

    // Header currently being parsed.
    std::string field;
    std::string* value_target = nullptr;
    size_t value_start = 0;  // offset in *value_target where this line's value begins
    Store store = Store::Ignore;

    explicit Impl(ParserLimits l) : limits(l) {
        llhttp_init(&parser, HTTP_REQUEST, &settings());
        parser.data = this;
        // Off by default; said here so that a changed default cannot loosen the framing.
        llhttp_set_lenient_headers(&parser, 0);
        llhttp_set_lenient_chunked_length(&parser, 0);
        llhttp_set_lenient_keep_alive(&parser, 0);
        llhttp_set_lenient_transfer_encoding(&parser, 0);
    }

    static Impl& of(llhttp_t* p) { return *static_cast<Impl*>(p->data); }

    int fail_with(int status, const char* reason) {
        error_status = status;
        error_reason = reason;
        return HPE_USER;  // llhttp reports it as HPE_USER or HPE_CB_*; error_status says which
    }

    int scan(const char* p, size_t n);
    ParseOutcome feed(std::string_view data);
    void select_header();
    void finish_value();
    int check_head(llhttp_t* p);

    static const llhttp_settings_t& settings();
};

// Returns 0, or the HTTP status to fail with (error_reason set).
int RequestParser::Impl::scan(const char* p, size_t n) {
    size_t i = 0;
    while (i < n && phase != Phase::Body) {
        if (phase == Phase::Idle) {
            // Empty lines before a request-line are ignored (RFC 9112 §2.2); llhttp agrees.
            if (p[i] == '\r' || p[i] == '\n') {
                ++i;
                continue;
            }
            phase = Phase::RequestLine;
            line_len = 0;
            header_bytes = 0;
            prev_cr = false;
        }
        const bool fields = phase == Phase::Headers || phase == Phase::Trailers;
        if (fields && line_len == 0 && is_ows(p[i])) {
            error_reason = "obs-fold or whitespace before header";
            return 400;
        }
        const auto* lf = static_cast<const char*>(std::memchr(p + i, '\n', n - i));
        size_t seg = lf ? static_cast<size_t>(lf - (p + i)) : n - i;
        if (seg > 0) prev_cr = p[i + seg - 1] == '\r';
        line_len += seg;
        if (phase == Phase::RequestLine) {
            if (line_len - (prev_cr ? 1 : 0) > limits.max_request_line) {
                error_reason = "request line too long";
                return 414;
            }
        } else {
            header_bytes += seg + (lf ? 1 : 0);
            if (header_bytes > limits.max_header_block) {
                error_reason = "header block too large";
                return 431;
            }
        }
        if (!lf) return 0;
        if (!prev_cr) {
            error_reason = "bare LF line ending";
            return 400;
        }
        if (phase == Phase::RequestLine) {
            phase = Phase::Headers;
            header_bytes = 0;
        } else if (line_len == 1) {
            // The empty line: llhttp takes over the framing (or, after trailers, completes
            // the message) from here.
            phase = Phase::Body;
        }
        line_len = 0;
        prev_cr = false;
        i += seg + 1;
    }
    return 0;
}

void RequestParser::Impl::select_header() {
    struct Known {
        std::string_view name;
        std::string Request::*member;
        Store store;
    };
    static constexpr Known kKnown[] = {
        {"host", &Request::host, Store::Host},
        {"range", &Request::range, Store::Last},
        {"if-range", &Request::if_range, Store::Last},
        {"if-match", &Request::if_match, Store::List},
        {"if-none-match", &Request::if_none_match, Store::List},
        {"if-modified-since", &Request::if_modified_since, Store::Last},
        {"if-unmodified-since", &Request::if_unmodified_since, Store::Last},
        {"accept-encoding", &Request::accept_encoding, Store::List},
        {"user-agent", &Request::user_agent, Store::Last},
        {"referer", &Request::referer, Store::Last},
    };
    value_target = nullptr;
    store = Store::Ignore;
    // Trailer fields are checked for syntax and then ignored: none may change how the request
    // is answered (RFC 9110 §6.5.1), and none is stored, so they cost no memory.
    if (in_trailers) return;
    if (ieq(field, "transfer-encoding")) {
        value_target = &transfer_encoding;
        store = Store::TransferEncoding;
        has_transfer_encoding = true;
        if (!transfer_encoding.empty()) transfer_encoding.push_back(',');
        value_start = transfer_encoding.size();
        return;
    }
    for (const Known& k : kKnown) {
        if (!ieq(field, k.name)) continue;
        value_target = &(req->*k.member);
        store = k.store;
        break;
    }
    if (!value_target) return;
    if (store == Store::List && !value_target->empty()) {
        value_target->append(", ");
    } else if (store != Store::List) {
        value_target->clear();
    }
    value_start = value_target->size();
}

void RequestParser::Impl::finish_value() {
    std::string& v = *value_target;
    size_t b = value_start;
    size_t e = v.size();
    while (b < e && is_ows(v[b])) ++b;
    while (e > b && is_ows(v[e - 1])) --e;
    // An empty Transfer-Encoding names no coding, so chunked is not the final one: RFC 9112
    // §6.3 makes that a 400 (llhttp itself ignores an empty value and reads no body).
    if (b == e && store == Store::TransferEncoding) empty_transfer_encoding = true;
    if (b == e && store == Store::List && value_start >= 2) {
        // An empty line of a list contributes nothing: drop the separator added for it.
        v.resize(value_start - 2);
        return;
    }
    v.erase(e);
    v.erase(value_start, b - value_start);
}

// on_headers_complete: version, framing, target and Host. Returns 0 or fail_with()'s code.
int RequestParser::Impl::check_head(llhttp_t* p) {
    Request& r = *req;
    r.version_major = p->http_major;
    r.version_minor = p->http_minor;
    if (r.version_major != 1 || r.version_minor > 1) {
        return fail_with(505, "unsupported HTTP version");
    }
    if (has_transfer_encoding) {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
        if (r.version_minor == 0) return fail_with(400, "Transfer-Encoding in HTTP/1.0");
        if (empty_transfer_encoding) return fail_with(400, "empty Transfer-Encoding");
        if (int status = check_transfer_codings(transfer_encoding); status != 0) {
            return fail_with(status, status == 501 ? "unsupported transfer coding"
                                                   : "invalid Transfer-Encoding");
        }
    }
    if (r.version_minor == 1 && !r.has_host) return fail_with(400, "missing Host");
    // RFC 9110 §7.2: 400 for a Host with an invalid value, in any form of request. An empty
    // Host is invalid here: a client sends one only for a target URI without authority (RFC
    // 9112 §3.2), and an http(s) URI always has a non-empty one (RFC 9110 §4.2.1).
    if (r.has_host && !valid_host(r.host)) return fail_with(400, "invalid Host");
    switch (p->method) {
        case HTTP_GET: r.method = Method::Get; break;
        case HTTP_HEAD: r.method = Method::Head; break;
        case HTTP_OPTIONS: r.method = Method::Options; break;
        default: r.method = Method::Other; break;
    }
    const std::optional<TargetParts> t = split_target(r.target, p->method == HTTP_CONNECT);
    if (!t) return fail_with(400, "invalid request-target");
    // Asterisk-form is for OPTIONS only (RFC 9112 §3.2.4).
    if (t->form == TargetForm::Asterisk && p->method != HTTP_OPTIONS) {
        return fail_with(400, "asterisk-form without OPTIONS");
    }
    r.form = t->form;
    if (t->form == TargetForm::Absolute) {
        // RFC 9112 §3.2.2: the target's authority wins over Host (still required on 1.1).
        r.host.assign(t->authority);
        if (t->path.empty() || t->path.front() != '/') r.absolute_path.push_back('/');
        r.absolute_path.append(t->path);
    }
    r.keep_alive = llhttp_should_keep_alive(p) != 0;
    // After a CONNECT the peer speaks a tunnel protocol, not HTTP: never reuse.
    if (p->method == HTTP_CONNECT) r.keep_alive = false;
    const bool chunked = (p->flags & F_CHUNKED) != 0;
    r.has_body = chunked || p->content_length > 0;
    if (!chunked && p->content_length > limits.max_discarded_body) {
        return fail_with(413, "request body too large");
    }
    return 0;
}

const llhttp_settings_t& RequestParser::Impl::settings() {
    static const llhttp_settings_t kSettings = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            self.req->clear();
            self.body_bytes = 0;
            self.extension_bytes = 0;
            self.in_trailers = false;
            self.transfer_encoding.clear();
            self.has_transfer_encoding = false;
            self.empty_transfer_encoding = false;
            self.field.clear();
            self.value_target = nullptr;
            return 0;
        };
        s.on_method = [](llhttp_t* p, const char* at, size_t n) -> int {
            of(p).req->method_name.append(at, n);
            return 0;
        };
        s.on_url = [](llhttp_t* p, const char* at, size_t n) -> int {
            of(p).req->target.append(at, n);
            return 0;
        };
        s.on_url_complete = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            // Strict llhttp's URL alphabet already excludes these; checked again so that "no
            // CTL or SP in a target" (the log, Location) does not hang on how llhttp is built.
            for (char c : self.req->target) {
                auto u = static_cast<unsigned char>(c);
                if (u <= 0x20 || u == 0x7f) return self.fail_with(400, "invalid request-target");
            }
            return 0;
        };
        s.on_header_field = [](llhttp_t* p, const char* at, size_t n) -> int {
            of(p).field.append(at, n);
            return 0;
        };
        s.on_header_field_complete = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            // Loose llhttp accepts "Name : value" and spaces inside names; RFC 9112 §5.1 does not.
            if (self.field.empty()) return self.fail_with(400, "empty header name");
            for (char c : self.field) {
                if (!is_tchar(c)) return self.fail_with(400, "invalid header name");
            }
            if (self.in_trailers) {
                // llhttp acts on these even in trailers (a late "Connection: close" would end
                // the connection behind the response's back); RFC 9110 §6.5.1 forbids them there.
                for (std::string_view n : {"connection", "proxy-connection", "content-length",
                                           "transfer-encoding", "upgrade"}) {
                    if (ieq(self.field, n)) return self.fail_with(400, "framing field in trailers");
                }
            }
            self.select_header();
            if (self.store == Store::Host) {
                if (self.req->has_host) return self.fail_with(400, "duplicate Host");
                self.req->has_host = true;
            }
            self.field.clear();
            return 0;
        };
        s.on_header_value = [](llhttp_t* p, const char* at, size_t n) -> int {
            Impl& self = of(p);
            if (self.value_target) self.value_target->append(at, n);
            return 0;
        };
        s.on_header_value_complete = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            if (self.value_target) self.finish_value();
            self.value_target = nullptr;
            return 0;
        };
        s.on_headers_complete = [](llhttp_t* p) -> int { return of(p).check_head(p); };
        s.on_chunk_header = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            if (p->content_length == 0) {
                // The last chunk: pause so that feed() scans the trailer section like a head.
                self.trailer_pause = true;
                self.in_trailers = true;
                return HPE_PAUSED;
            }
            // A chunk larger than what may still be dropped fails now, not after reading it.
            if (p->content_length > self.limits.max_discarded_body - self.body_bytes) {
                return self.fail_with(413, "request body too large");
            }
            return 0;
        };
        s.on_chunk_extension_name = [](llhttp_t* p, const char*, size_t n) -> int {
            Impl& self = of(p);
            self.extension_bytes += n;
            if (self.extension_bytes > self.limits.max_header_block) {
                return self.fail_with(400, "chunk extensions too long");
            }
            return 0;
        };
        s.on_chunk_extension_value = [](llhttp_t* p, const char* at, size_t n) -> int {
            Impl& self = of(p);
            self.extension_bytes += n;
            if (self.extension_bytes > self.limits.max_header_block) {
                return self.fail_with(400, "chunk extensions too long");
            }
            // llhttp's quoted-string admits DEL; RFC 9110 §5.6.4 qdtext does not.
            if (std::memchr(at, 0x7f, n) != nullptr) {
                return self.fail_with(400, "invalid chunk extension");
            }
            return 0;
        };
        s.on_body = [](llhttp_t* p, const char*, size_t n) -> int {
            Impl& self = of(p);
            self.body_bytes += n;
            if (self.body_bytes > self.limits.max_discarded_body) {
                return self.fail_with(413, "request body too large");
            }
            return 0;
        };
        s.on_message_complete = [](llhttp_t* p) -> int {
            Impl& self = of(p);
            self.phase = Phase::Idle;
            self.line_len = 0;
            self.header_bytes = 0;
            self.prev_cr = false;
            self.in_trailers = false;
            return HPE_PAUSED;
        };
        return s;
    }();
    return kSettings;
}

ParseOutcome RequestParser::Impl::feed(std::string_view data) {
    ParseOutcome out;
    if (failed) {
        out.status = ParseStatus::Error;
        out.error_status = error_status;
        out.error_reason = error_reason;
        return out;
    }
    if (data.empty()) return out;
    if (paused) {
        llhttp_resume(&parser);
        paused = false;
    }
    auto error = [&](int status, const char* reason) {
        failed = true;
        error_status = status;
        error_reason = reason;
        out.status = ParseStatus::Error;
        out.consumed = data.size();
        out.error_status = status;
        out.error_reason = reason;
        return out;
    };
    if (int status = scan(data.data(), data.size()); status != 0) {
        return error(status, error_reason);
    }
    const char* base = data.data();
    size_t offset = 0;
    for (;;) {
        llhttp_errno_t err = llhttp_execute(&parser, base + offset, data.size() - offset);
        if (err == HPE_OK) {
            out.consumed = data.size();
            return out;
        }
        if (error_status != 0) return error(error_status, error_reason);  // from a callback
        const char* pos = llhttp_get_error_pos(&parser);
        size_t at = pos ? static_cast<size_t>(pos - base) : offset;
        switch (err) {
            case HPE_PAUSED:
                if (trailer_pause) {
                    // The last chunk's line is parsed: the trailer section gets the head's
                    // line checks and a field-block budget of its own.
                    trailer_pause = false;
                    llhttp_resume(&parser);
                    phase = Phase::Trailers;
                    line_len = 0;
                    header_bytes = 0;
                    prev_cr = false;
                    if (int status = scan(base + at, data.size() - at); status != 0) {
                        return error(status, error_reason);
                    }
                    offset = at;
                    continue;
                }
                paused = true;
                out.status = ParseStatus::Complete;
                out.consumed = at;
                return out;
            case HPE_PAUSED_UPGRADE:
                // Upgrade (e.g. h2c) is not offered: keep parsing HTTP/1.1 on this connection.
                llhttp_resume_after_upgrade(&parser);
                offset = at;
                continue;
            case HPE_INVALID_METHOD:
                // An unknown method in a well-formed request line ("FROB / HTTP/1.1") gets the
                // same 405 as any other method we do not serve (llhttp cannot go on parsing it,
                // so the connection closes); anything that is not a request line is 400.
                if (at < data.size() && is_tchar(data[at]) &&
                    looks_like_request_line(data.substr(at))) {
                    return error(405, "unknown method");
                }
                return error(400, "malformed method");
            case HPE_INVALID_VERSION:
                // llhttp says "Invalid HTTP version" for well-formed but unknown versions
                // (HTTP/1.2, HTTP/3.0) and "Invalid major/minor version" for garbage.
                if (std::strcmp(llhttp_get_error_reason(&parser), "Invalid HTTP version") == 0) {
                    return error(505, "unsupported HTTP version");
                }
                return error(400, "malformed HTTP version");
            default:
                return error(400, llhttp_errno_name(err));
        }
    }
}

RequestParser::RequestParser(ParserLimits limits) : impl_(std::make_unique<Impl>(limits)) {}

RequestParser::~RequestParser() = default;

ParseOutcome RequestParser::feed(std::string_view data, Request& req) {
    impl_->req = &req;
    return impl_->feed(data);
}

bool RequestParser::in_progress() const {
    return impl_->phase != Impl::Phase::Idle && !impl_->failed;
}

}  // namespace sluice::http
