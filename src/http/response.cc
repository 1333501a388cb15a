// http/response.cc — response planning (status, fields, body pieces) and HTTP/1.1 rendering.
#include "http/response.h"

#include <sys/random.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <utility>

#include "http/conditional.h"
#include "http/date.h"
#include "http/range.h"

namespace sluice::http {

namespace {

constexpr std::string_view kHtmlType = "text/html; charset=utf-8";
// Always HTTP/1.1: a server sends its own highest minor version (RFC 9110 §6.2).
constexpr std::string_view kStatusPrefix = "HTTP/1.1 ";

void append_u64(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;  // 24 chars always fit a uint64_t
    out.append(buf, end);
}

std::string_view connection_line(bool keep_alive, int http_minor) {
    if (!keep_alive) return "Connection: close\r\n";
    if (http_minor == 0) return "Connection: keep-alive\r\n";  // 1.0 clients need it spelled out
    return {};
}

void append_content_range(std::string& out, const ByteRange& r, uint64_t length) {
    out.append("bytes ");
    append_u64(out, r.first);
    out.push_back('-');
    append_u64(out, r.last);
    out.push_back('/');
    append_u64(out, length);
}

// A number in decimal, on the stack.
class Decimal {
public:
    explicit Decimal(uint64_t v)
        : len_(static_cast<size_t>(std::to_chars(buf_, buf_ + sizeof buf_, v).ptr - buf_)) {}
    [[nodiscard]] std::string_view view() const { return {buf_, len_}; }

private:
    char buf_[24];  // 20 digits always fit
    size_t len_;
};

std::string make_boundary() {
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
}

// One multipart boundary per process: unpredictable enough that file content cannot fake it.
// With it, the Content-Type of every multipart/byteranges response (a plan refers to it).
struct Multipart {
    std::string boundary = make_boundary();
    std::string content_type = "multipart/byteranges; boundary=" + boundary;
};
const Multipart& multipart() {
    static const Multipart kMultipart;
    return kMultipart;
}

bool status_has_body(int status) {
    return !(status < 200 || status == 204 || status == 304);
}

void reset(ResponsePlan& out, int status, bool keep_alive) {
    out.clear();
    out.status = status;
    out.keep_alive = keep_alive;
}

void add_common(ResponsePlan& out, const ServerInfo& info) {
    if (!info.server_name.empty()) out.add_field(FieldName::Server, info.server_name);
    if (!info.date.empty()) out.add_field(FieldName::Date, info.date);
}

// Error/redirect/HTML body responses share this shape.
void plan_body_response(int status, std::span<const Field> extra, bool keep_alive,
                        bool head_only, const ServerInfo& info, std::string body,
                        ResponsePlan& out) {
    reset(out, status, keep_alive);
    add_common(out, info);
    const bool has_body = status_has_body(status);
    if (has_body) {
        out.add_field(FieldName::ContentType, kHtmlType);
        out.add_field_u64(FieldName::ContentLength, body.size());
    }
    for (const Field& f : extra) out.copy_field(f.name, f.value);
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

// Validators and negotiation fields shared by 200/206/304.
void add_validators(ResponsePlan& out, const Representation& rep) {
    out.add_field_date(FieldName::LastModified, rep.mtime);
    if (!rep.etag.empty()) out.add_field(FieldName::ETag, rep.etag);
}

void add_vary(ResponsePlan& out, const Representation& rep) {
    if (rep.vary_accept_encoding) out.add_field(FieldName::Vary, "Accept-Encoding");
}

void add_representation_fields(ResponsePlan& out, const Representation& rep,
                               std::string_view content_type, uint64_t content_length) {
    if (!content_type.empty()) out.add_field(FieldName::ContentType, content_type);
    out.add_field_u64(FieldName::ContentLength, content_length);
    add_validators(out, rep);
    out.add_field(FieldName::AcceptRanges, "bytes");
    if (rep.encoding != Encoding::Identity) {
        out.add_field(FieldName::ContentEncoding, encoding_name(rep.encoding));
    }
    add_vary(out, rep);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
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

void plan_multipart(const Representation& rep, const ServerInfo& info,
                    const std::vector<ByteRange>& ranges, ResponsePlan& out) {
    const Multipart& mp = multipart();
    // Parts: literal (boundary + part headers), file range, literal, …, closing literal.
    uint64_t total = 0;
    std::string lit;
    for (const ByteRange& r : ranges) {
        if (!out.body.empty()) lit.append("\r\n");
        lit.append("--");
        lit.append(mp.boundary);
        lit.append("\r\n");
        if (!rep.content_type.empty()) append_field(lit, "Content-Type", rep.content_type);
        lit.append("Content-Range: ");
        append_content_range(lit, r, rep.length);
        lit.append("\r\n\r\n");
        total += lit.size() + r.length();
        out.body.push_back(literal_part(std::exchange(lit, {})));
        out.body.push_back(file_part(r.first, r.length()));
    }
    lit.append("\r\n--");
    lit.append(mp.boundary);
    lit.append("--\r\n");
    total += lit.size();
    out.body.push_back(literal_part(std::move(lit)));

    add_common(out, info);
    add_representation_fields(out, rep, mp.content_type, total);
    out.body_length = total;
}

}  // namespace

// ---- ResponsePlan -----------------------------------------------------------------------

void ResponsePlan::clear() {
    status = 200;
    body.clear();
    body_length = 0;
    keep_alive = true;
    count_ = 0;
    store_.clear();
    index_ = nullptr;
}

void ResponsePlan::copy_field(FieldName name, std::string_view value) {
    Entry& e = push(name, Kind::Owned);
    e.off = store_.size();
    e.len = static_cast<uint32_t>(value.size());
    store_.append(value);
}

void ResponsePlan::copy_field(FieldName name, std::initializer_list<std::string_view> parts) {
    Entry& e = push(name, Kind::Owned);
    e.off = store_.size();
    for (std::string_view p : parts) store_.append(p);
    e.len = static_cast<uint32_t>(store_.size() - e.off);
}

void ResponsePlan::add_field_u64(FieldName name, uint64_t v) {
    copy_field(name, Decimal(v).view());
}

void ResponsePlan::add_field_date(FieldName name, time_t t) {
    char buf[kHttpDateLen];
    format_http_date(t, buf);
    copy_field(name, std::string_view(buf, kHttpDateLen));
}

void ResponsePlan::add_prerendered(std::string_view h1, std::span<const uint16_t> index) {
    Entry& e = push(FieldName::ContentType, Kind::Prerendered);
    e.ext = h1.data();
    e.len = static_cast<uint32_t>(h1.size());
    index_ = index.data();
}

size_t ResponsePlan::field_count() const {
    size_t n = 0;
    for (size_t i = 0; i < count_; ++i)
        n += entries_[i].kind == Kind::Prerendered ? index_[0] : 1;
    return n;
}

std::string_view ResponsePlan::find(FieldName name) const {
    std::string_view found;
    bool seen = false;
    for_each_field([&](const Field& f) {
        if (!seen && f.name == name) {
            found = f.value;
            seen = true;
        }
    });
    return found;
}

void render_h1_head(const ResponsePlan& plan, int http_minor, std::string& out) {
    // Sized first, then written in one pass: appending piece by piece costs a capacity check
    // and a size update per piece, which was most of the time of a head of ten fields.
    const Decimal code(static_cast<uint64_t>(plan.status));
    const std::string_view reason = status_reason(plan.status);
    const std::string_view connection = connection_line(plan.keep_alive, http_minor);
    size_t n = kStatusPrefix.size() + code.view().size() + 1 + reason.size() + 2;
    for (size_t i = 0; i < plan.count_; ++i) {
        const ResponsePlan::Entry& e = plan.entries_[i];
        n += e.len;
        if (e.kind != ResponsePlan::Kind::Prerendered) n += h1_name(e.name).size() + 4;
    }
    n += connection.size() + 2;
    const size_t at = out.size();
    out.resize_and_overwrite(at + n, [&](char* buf, size_t) {
        char* p = buf + at;
        auto put = [&p](std::string_view v) {
            if (v.empty()) return;  // data() may be null then, which memcpy must not get
            std::memcpy(p, v.data(), v.size());
            p += v.size();
        };
        put(kStatusPrefix);
        put(code.view());
        *p++ = ' ';
        put(reason);
        put("\r\n");
        for (size_t i = 0; i < plan.count_; ++i) {
            const ResponsePlan::Entry& e = plan.entries_[i];
            if (e.kind == ResponsePlan::Kind::Prerendered) {
                put(std::string_view(e.ext, e.len));  // already HTTP/1.1 lines
                continue;
            }
            put(h1_name(e.name));
            put(": ");
            put(plan.value_of(e));
            put("\r\n");
        }
        put(connection);
        put("\r\n");
        return at + n;
    });
}

bool prerender_representation(const Representation& rep, std::string& h1,
                              std::span<uint16_t> index) {
    h1.clear();
    // The same fields, in the same order, as a response decided without the block.
    ResponsePlan fields;
    add_representation_fields(fields, rep, rep.content_type, rep.length);
    if (index.size() < 1 + 3 * fields.field_count()) return false;
    uint16_t n = 0;
    bool fits = true;
    fields.for_each_field([&](const Field& f) {
        h1.append(f.h1());
        h1.append(": ");
        const size_t off = h1.size();
        h1.append(f.value);
        h1.append("\r\n");
        if (h1.size() > UINT16_MAX) fits = false;
        uint16_t* s = index.data() + 1 + 3 * n++;
        s[0] = static_cast<uint16_t>(f.name);
        s[1] = static_cast<uint16_t>(off);
        s[2] = static_cast<uint16_t>(f.value.size());
    });
    if (!fits) {
        h1.clear();
        return false;
    }
    index[0] = n;
    return true;
}

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

void plan_file_response(const Request& req, const Representation& rep, const ServerInfo& info,
                        ResponsePlan& out) {
    const bool head_only = req.method == Method::Head;
    switch (evaluate_preconditions(req, rep.etag, rep.mtime)) {
        case Precondition::PreconditionFailed:
            plan_body_response(412, {}, req.keep_alive, head_only, info, simple_body(412), out);
            return;
        case Precondition::NotModified:
            reset(out, 304, req.keep_alive);
            add_common(out, info);
            add_validators(out, rep);
            add_vary(out, rep);
            return;
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
        std::string value = "bytes */";
        append_u64(value, rep.length);
        const Field extra[] = {{FieldName::ContentRange, value}};
        plan_body_response(416, extra, req.keep_alive, head_only, info, simple_body(416), out);
        return;
    }

    if (ranges.kind == RangeKind::Satisfiable && ranges.ranges.size() > 1) {
        reset(out, 206, req.keep_alive);
        plan_multipart(rep, info, ranges.ranges, out);
        return;
    }

    const bool partial = ranges.kind == RangeKind::Satisfiable;
    const ByteRange whole{0, rep.length == 0 ? 0 : rep.length - 1};
    const ByteRange& r = partial ? ranges.ranges.front() : whole;
    const uint64_t length = partial ? r.length() : rep.length;

    reset(out, partial ? 206 : 200, req.keep_alive);
    add_common(out, info);
    if (!partial && !rep.prerendered.empty() && !rep.prerendered_index.empty())
        out.add_prerendered(rep.prerendered, rep.prerendered_index);
    else
        add_representation_fields(out, rep, rep.content_type, length);
    if (partial) {
        out.copy_field(FieldName::ContentRange,
                       {"bytes ", Decimal(r.first).view(), "-", Decimal(r.last).view(), "/",
                        Decimal(rep.length).view()});
    }
    if (!head_only && length > 0) {
        out.body.push_back(file_part(partial ? r.first : 0, length));
        out.body_length = length;
    }
}

void plan_simple_response(int status, std::span<const Field> extra, bool keep_alive,
                          bool head_only, const ServerInfo& info, ResponsePlan& out) {
    std::string body = status_has_body(status) ? simple_body(status) : std::string{};
    plan_body_response(status, extra, keep_alive, head_only, info, std::move(body), out);
}

void plan_options_response(bool keep_alive, const ServerInfo& info, ResponsePlan& out) {
    reset(out, 200, keep_alive);
    add_common(out, info);
    out.add_field(FieldName::Allow, kAllowMethods);
    out.add_field(FieldName::ContentLength, "0");
}

void plan_html_response(int status, std::string body, bool keep_alive, bool head_only,
                        const ServerInfo& info, ResponsePlan& out) {
    plan_body_response(status, {}, keep_alive, head_only, info, std::move(body), out);
}

}  // namespace sluice::http
