// http/response.cc — response planning: status decision and header rendering.
#include "http/response.h"

#include <sys/random.h>
#include <unistd.h>

#include <charconv>
#include <utility>

#include "http/conditional.h"
#include "http/date.h"
#include "http/range.h"

namespace sluice::http {

namespace {

void append_u64(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;  // 24 chars always fit a uint64_t
    out.append(buf, end);
}

void append_date(std::string& out, time_t t) {
    char buf[kHttpDateLen];
    format_http_date(t, buf);
    out.append(buf, kHttpDateLen);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

void append_status_line(std::string& out, int status) {
    // Always HTTP/1.1: a server sends its own highest minor version (RFC 9110 §6.2).
    out.append("HTTP/1.1 ");
    append_u64(out, static_cast<uint64_t>(status));
    out.push_back(' ');
    out.append(status_reason(status));
    out.append("\r\n");
}

void append_common(std::string& out, const ServerInfo& info) {
    if (!info.server_name.empty()) append_header(out, "Server", info.server_name);
    if (!info.date.empty()) append_header(out, "Date", info.date);
}

void append_connection(std::string& out, bool keep_alive, int http_minor) {
    if (!keep_alive) {
        out.append("Connection: close\r\n");
    } else if (http_minor == 0) {
        out.append("Connection: keep-alive\r\n");  // 1.0 clients need it spelled out
    }
}

void append_content_range(std::string& out, const ByteRange& r, uint64_t length) {
    out.append("bytes ");
    append_u64(out, r.first);
    out.push_back('-');
    append_u64(out, r.last);
    out.push_back('/');
    append_u64(out, length);
}

// One multipart boundary per process: unpredictable enough that file content cannot fake it.
std::string_view multipart_boundary() {
    static const std::string kBoundary = [] {
        unsigned char bytes[10] = {};
        if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != static_cast<ssize_t>(sizeof(bytes))) {
            uint64_t seed = static_cast<uint64_t>(time(nullptr)) ^
                            (static_cast<uint64_t>(getpid()) << 32) ^
                            reinterpret_cast<uintptr_t>(&bytes);
            for (unsigned char& b : bytes) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                b = static_cast<unsigned char>(seed >> 56);
            }
        }
        static constexpr char kHex[] = "0123456789abcdef";
        std::string s = "sluice";
        for (unsigned char b : bytes) {
            s.push_back(kHex[b >> 4]);
            s.push_back(kHex[b & 15]);
        }
        return s;
    }();
    return kBoundary;
}

bool status_has_body(int status) {
    return !(status < 200 || status == 204 || status == 304);
}

void reset(ResponsePlan& out, int status, bool keep_alive) {
    out.status = status;
    out.head.clear();
    out.body.clear();
    out.body_length = 0;
    out.keep_alive = keep_alive;
}

// Error/redirect/HTML body responses share this shape.
void plan_body_response(int status, std::string_view extra_headers, bool keep_alive,
                        bool head_only, int http_minor, const ServerInfo& info, std::string body,
                        ResponsePlan& out) {
    reset(out, status, keep_alive);
    std::string& h = out.head;
    append_status_line(h, status);
    append_common(h, info);
    const bool has_body = status_has_body(status);
    if (has_body) {
        append_header(h, "Content-Type", "text/html; charset=utf-8");
        h.append("Content-Length: ");
        append_u64(h, body.size());
        h.append("\r\n");
    }
    h.append(extra_headers);
    append_connection(h, keep_alive, http_minor);
    h.append("\r\n");
    if (has_body && !head_only && !body.empty()) {
        out.body_length = body.size();
        BodyPart part;
        part.from_file = false;
        part.length = body.size();
        part.literal = std::move(body);
        out.body.push_back(std::move(part));
    }
}

std::string simple_body(int status) {
    std::string title;
    append_u64(title, static_cast<uint64_t>(status));
    title.push_back(' ');
    title.append(status_reason(status));
    std::string body = "<html><head><title>";
    body.append(title);
    body.append("</title></head><body><h1>");
    body.append(title);
    body.append("</h1></body></html>\n");
    return body;
}

// Validators and negotiation headers shared by 200/206/304.
void append_validators(std::string& h, const Representation& rep) {
    h.append("Last-Modified: ");
    append_date(h, rep.mtime);
    h.append("\r\n");
    if (!rep.etag.empty()) append_header(h, "ETag", rep.etag);
}

void append_vary(std::string& h, const Representation& rep) {
    if (rep.vary_accept_encoding) h.append("Vary: Accept-Encoding\r\n");
}

void append_representation_headers(std::string& h, const Representation& rep,
                                   std::string_view content_type, uint64_t content_length) {
    if (!content_type.empty()) append_header(h, "Content-Type", content_type);
    h.append("Content-Length: ");
    append_u64(h, content_length);
    h.append("\r\n");
    append_validators(h, rep);
    h.append("Accept-Ranges: bytes\r\n");
    if (rep.encoding != Encoding::Identity) {
        append_header(h, "Content-Encoding", encoding_name(rep.encoding));
    }
    append_vary(h, rep);
}

BodyPart literal_part(std::string s) {
    BodyPart p;
    p.from_file = false;
    p.length = s.size();
    p.literal = std::move(s);
    return p;
}

BodyPart file_part(uint64_t offset, uint64_t length) {
    BodyPart p;
    p.offset = offset;
    p.length = length;
    return p;
}

void plan_multipart(const Request& req, const Representation& rep, const ServerInfo& info,
                    const std::vector<ByteRange>& ranges, ResponsePlan& out) {
    std::string_view boundary = multipart_boundary();
    // Parts: literal (boundary + part headers), file range, literal, …, closing literal.
    uint64_t total = 0;
    std::string lit;
    for (const ByteRange& r : ranges) {
        if (!out.body.empty()) lit.append("\r\n");
        lit.append("--");
        lit.append(boundary);
        lit.append("\r\n");
        if (!rep.content_type.empty()) append_header(lit, "Content-Type", rep.content_type);
        lit.append("Content-Range: ");
        append_content_range(lit, r, rep.length);
        lit.append("\r\n\r\n");
        total += lit.size() + r.length();
        out.body.push_back(literal_part(std::exchange(lit, {})));
        out.body.push_back(file_part(r.first, r.length()));
    }
    lit.append("\r\n--");
    lit.append(boundary);
    lit.append("--\r\n");
    total += lit.size();
    out.body.push_back(literal_part(std::move(lit)));

    std::string content_type = "multipart/byteranges; boundary=";
    content_type.append(boundary);
    std::string& h = out.head;
    append_status_line(h, 206);
    append_common(h, info);
    append_representation_headers(h, rep, content_type, total);
    append_connection(h, out.keep_alive, req.version_minor);
    h.append("\r\n");
    out.body_length = total;
}

}  // namespace

std::string_view status_reason(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
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
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 421: return "Misdirected Request";
        case 426: return "Upgrade Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string render_representation_headers(const Representation& rep) {
    std::string h;
    append_representation_headers(h, rep, rep.content_type, rep.length);
    return h;
}

void plan_file_response(const Request& req, const Representation& rep, const ServerInfo& info,
                        ResponsePlan& out) {
    const bool head_only = req.method == Method::Head;
    const int minor = req.version_minor;
    switch (evaluate_preconditions(req, rep.etag, rep.mtime)) {
        case Precondition::PreconditionFailed:
            plan_body_response(412, {}, req.keep_alive, head_only, minor, info, simple_body(412),
                               out);
            return;
        case Precondition::NotModified: {
            reset(out, 304, req.keep_alive);
            std::string& h = out.head;
            append_status_line(h, 304);
            append_common(h, info);
            append_validators(h, rep);
            append_vary(h, rep);
            append_connection(h, req.keep_alive, minor);
            h.append("\r\n");
            return;
        }
        case Precondition::Proceed:
            break;
    }

    RangeSet ranges;
    // Range handling is defined for GET only (RFC 9110 §14.2).
    if (req.method == Method::Get && !req.range.empty() &&
        if_range_allows(req.if_range, rep.etag, rep.mtime)) {
        ranges = parse_range(req.range, rep.length);
    }

    if (ranges.kind == RangeKind::Unsatisfiable) {
        std::string extra = "Content-Range: bytes */";
        append_u64(extra, rep.length);
        extra.append("\r\n");
        plan_body_response(416, extra, req.keep_alive, head_only, minor, info, simple_body(416),
                           out);
        return;
    }

    if (ranges.kind == RangeKind::Satisfiable && ranges.ranges.size() > 1) {
        reset(out, 206, req.keep_alive);
        plan_multipart(req, rep, info, ranges.ranges, out);
        return;
    }

    const bool partial = ranges.kind == RangeKind::Satisfiable;
    const ByteRange whole{0, rep.length == 0 ? 0 : rep.length - 1};
    const ByteRange& r = partial ? ranges.ranges.front() : whole;
    const uint64_t length = partial ? r.length() : rep.length;
    const int status = partial ? 206 : 200;

    reset(out, status, req.keep_alive);
    std::string& h = out.head;
    append_status_line(h, status);
    append_common(h, info);
    if (!partial && !rep.prerendered.empty())
        h.append(rep.prerendered);
    else
        append_representation_headers(h, rep, rep.content_type, length);
    if (partial) {
        h.append("Content-Range: ");
        append_content_range(h, r, rep.length);
        h.append("\r\n");
    }
    append_connection(h, req.keep_alive, minor);
    h.append("\r\n");
    if (!head_only && length > 0) {
        out.body.push_back(file_part(partial ? r.first : 0, length));
        out.body_length = length;
    }
}

void plan_simple_response(int status, std::string_view extra_headers, bool keep_alive,
                          bool head_only, int http_minor, const ServerInfo& info,
                          ResponsePlan& out) {
    std::string body = status_has_body(status) ? simple_body(status) : std::string{};
    plan_body_response(status, extra_headers, keep_alive, head_only, http_minor, info,
                       std::move(body), out);
}

void plan_options_response(bool keep_alive, int http_minor, const ServerInfo& info,
                           ResponsePlan& out) {
    reset(out, 200, keep_alive);
    std::string& h = out.head;
    append_status_line(h, 200);
    append_common(h, info);
    h.append(kAllowHeader);
    h.append("Content-Length: 0\r\n");
    append_connection(h, keep_alive, http_minor);
    h.append("\r\n");
}

void plan_html_response(int status, std::string body, bool keep_alive, bool head_only,
                        int http_minor, const ServerInfo& info, ResponsePlan& out) {
    plan_body_response(status, {}, keep_alive, head_only, http_minor, info, std::move(body), out);
}

}  // namespace sluice::http
