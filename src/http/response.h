// http/response.h — deciding a response for a static representation, then rendering it. Pure:
// the caller supplies what it knows about the file; plan_* decide the status, the header
// fields and the body pieces (a ResponsePlan), protocol-neutral; render_h1_head() turns a plan
// into HTTP/1.1 header bytes. An HTTP/2 session enumerates the same plan's fields instead
// (ResponsePlan::for_each_field, lowercase names). No I/O; single-threaded (a plan belongs to
// the connection or stream that reuses it).
//
// A plan carries no status line, no Connection field and no CRLF:
//   HTTP/1.1: render_h1_head() writes "HTTP/1.1 <status> <reason>", the fields in order
//             (h1_name: "Content-Type"), "Connection: close" when !keep_alive or
//             "Connection: keep-alive" for a 1.0 client that keeps alive, and the final CRLF.
//   HTTP/2:   ":status" is the plan's status (RFC 9113 §8.3.2); then every field from
//             for_each_field() in order with Field::h2() (h2_name: "content-type", lowercase
//             as RFC 9113 §8.2.1 requires). There is no Connection field (connection-specific
//             fields are malformed in HTTP/2, §8.2.2) and keep_alive has no meaning.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/accept_encoding.h"
#include "http/request.h"

namespace sluice::http {

// The methods sluice serves, for 405 and OPTIONS (one list, so they never disagree): the value
// of Allow.
inline constexpr std::string_view kAllowMethods = "GET, HEAD, OPTIONS";

// Reason phrase for a status code ("OK", "Not Found", …); "Unknown" for others.
std::string_view status_reason(int status);

// Every header field name a plan can carry (Connection is not one: HTTP/1.1 rendering adds it).
enum class FieldName : uint8_t {
    Server,
    Date,
    ContentType,
    ContentLength,
    LastModified,
    ETag,
    AcceptRanges,
    ContentEncoding,
    Vary,
    ContentRange,
    Allow,
    Location,
};
inline constexpr unsigned kFieldNameCount = 12;

namespace detail {
// Indexed by FieldName.
inline constexpr std::string_view kH1Names[kFieldNameCount] = {
    "Server",        "Date",          "Content-Type",  "Content-Length",
    "Last-Modified", "ETag",          "Accept-Ranges", "Content-Encoding",
    "Vary",          "Content-Range", "Allow",         "Location",
};
inline constexpr std::string_view kH2Names[kFieldNameCount] = {
    "server",        "date",          "content-type",  "content-length",
    "last-modified", "etag",          "accept-ranges", "content-encoding",
    "vary",          "content-range", "allow",         "location",
};
static_assert(static_cast<unsigned>(FieldName::Location) + 1 == kFieldNameCount);
}  // namespace detail

// "Content-Type": the spelling HTTP/1.1 responses have always used.
constexpr std::string_view h1_name(FieldName n) {
    return detail::kH1Names[static_cast<unsigned>(n)];
}
// "content-type": HTTP/2 and HTTP/3 field names are lowercase (RFC 9113 §8.2.1).
constexpr std::string_view h2_name(FieldName n) {
    return detail::kH2Names[static_cast<unsigned>(n)];
}

// One field of a plan as enumerated: valid until the plan is changed or cleared (and, for
// values that are not the plan's own, while what they point at lives: the Server name, the
// DateCache, the file cache's variant).
struct Field {
    FieldName name;
    std::string_view value;
    [[nodiscard]] std::string_view h1() const { return h1_name(name); }
    [[nodiscard]] std::string_view h2() const { return h2_name(name); }
};

// Room an index for prerender_representation() needs (a count, then 3 numbers per field).
inline constexpr size_t kPrerenderIndexLen = 1 + 3 * 7;

// What the server knows about the representation selected for a request.
struct Representation {
    uint64_t length = 0;
    time_t mtime = 0;
    std::string_view etag;           // strong, with quotes
    std::string_view content_type;   // full value, e.g. "text/html; charset=utf-8"
    Encoding encoding = Encoding::Identity;
    bool vary_accept_encoding = false;  // precompressed siblings exist for this resource
    // prerender_representation(*this, …), when the caller kept it: used as is for a whole-body
    // response instead of deciding and rendering the same fields again. Both or neither.
    std::string_view prerendered;
    std::span<const uint16_t> prerendered_index;
};

// The fields a whole-body response (200, or HEAD of it) carries for `rep`, Content-Type to
// Vary. They depend only on `rep`, so a cache can keep them with the file: `h1` receives them
// as HTTP/1.1 lines (each ending in CRLF), `index` (at least kPrerenderIndexLen long) says
// which fields they are and where each value lies inside `h1`, so HTTP/2 enumerates the same
// fields without rendering them again. Pass both to Representation::prerendered{,_index}.
// False (and `h1` empty) if `index` is too short or `h1` would exceed 64 KiB.
bool prerender_representation(const Representation& rep, std::string& h1,
                              std::span<uint16_t> index);

// One piece of the body: either literal bytes (multipart boundaries, HTML) or a range of the
// file.
struct BodyPart {
    bool from_file = true;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string literal;  // when !from_file
};

// A decided response: status, ordered fields, body pieces. Reused per connection or stream:
// clear() keeps every allocation, so a warm plan does not allocate (small values are formatted
// into its own store; long-lived values — Server, Date, content types, ETags, a prerendered
// block — are referred to, not copied).
struct ResponsePlan {
    int status = 200;
    std::vector<BodyPart> body;   // empty for HEAD, 304, 416 etc.
    uint64_t body_length = 0;     // bytes in `body` (what Content-Length says, unless HEAD)
    // The request lets the connection continue after this response (its keep-alive, never
    // true after a malformed request). HTTP/1 only: render_h1_head() writes Connection from it
    // and the connection closes after the response when false.
    bool keep_alive = true;

    // Empties the plan (status 200, keep_alive true), keeping its capacity.
    void clear();
    // Appends a field whose value is not copied: it must outlive the plan's use.
    void add_field(FieldName name, std::string_view value);
    // Appends a field whose value is copied into the plan.
    void copy_field(FieldName name, std::string_view value);
    // Appends a field whose value is the concatenation of `parts`, copied into the plan.
    void copy_field(FieldName name, std::initializer_list<std::string_view> parts);
    // Appends a field whose value is `v` in decimal (kept in the plan).
    void add_field_u64(FieldName name, uint64_t v);
    // Appends a field whose value is `t` as an IMF-fixdate (kept in the plan).
    void add_field_date(FieldName name, time_t t);
    // Appends the fields of a prerender_representation() block, in its order (not copied).
    void add_prerendered(std::string_view h1, std::span<const uint16_t> index);

    // Calls f(const Field&) for every field in order, a prerendered block's one by one.
    template <typename F>
    void for_each_field(F&& f) const;
    // Fields for_each_field() would enumerate.
    [[nodiscard]] size_t field_count() const;
    // The value of the first field named `name`; empty if none.
    [[nodiscard]] std::string_view find(FieldName name) const;

private:
    friend void render_h1_head(const ResponsePlan& plan, int http_minor, std::string& out);

    enum class Kind : uint8_t { External, Owned, Prerendered };
    struct Entry {  // 16 bytes: a plan is part of every connection
        union {
            const char* ext;  // External, Prerendered: the bytes
            size_t off;       // Owned: where in store_
        };
        uint32_t len = 0;
        FieldName name = FieldName::Server;
        Kind kind = Kind::External;
    };
    static constexpr size_t kMaxEntries = 12;
    Entry& push(FieldName name, Kind kind);
    [[nodiscard]] std::string_view value_of(const Entry& e) const {
        return e.kind == Kind::Owned ? std::string_view(store_).substr(e.off, e.len)
                                     : std::string_view(e.ext, e.len);
    }

    std::array<Entry, kMaxEntries> entries_{};
    uint8_t count_ = 0;
    std::string store_;                   // values of Owned entries
    const uint16_t* index_ = nullptr;     // of the Prerendered entry (at most one per plan)
};

// Appends the HTTP/1.1 response head for `plan`: status line (always HTTP/1.1, RFC 9110
// §6.2), fields, Connection (close when !keep_alive; keep-alive for a 1.0 client that keeps
// alive), empty line. `http_minor` is the request's.
void render_h1_head(const ResponsePlan& plan, int http_minor, std::string& out);

// Fields every response carries; plans refer to these strings, they are not copied.
struct ServerInfo {
    std::string_view server_name = "sluice";  // Server value; empty: no Server field
    std::string_view date;                    // current Date value (DateCache::now())
};

// GET/HEAD of a file: preconditions, If-Range, Range (single -> 206, several -> multipart
// /byteranges, unsatisfiable -> 416), 304, 412. keep_alive is `req.keep_alive`. The plan
// refers to rep.etag, rep.content_type, rep.prerendered and `info`'s strings without copying
// them: they must outlive its use (a cached variant, held while its response is sent).
void plan_file_response(const Request& req, const Representation& rep, const ServerInfo& info,
                        ResponsePlan& out);

// An error or redirect with a small HTML body. `extra` fields (Allow, Location, …) follow
// Content-Length, their values copied. `head_only` omits the body but keeps Content-Length.
void plan_simple_response(int status, std::span<const Field> extra, bool keep_alive,
                          bool head_only, const ServerInfo& info, ResponsePlan& out);

// 200 to OPTIONS ("*" or a path): Allow and Content-Length: 0 (RFC 9110 §9.3.7).
void plan_options_response(bool keep_alive, const ServerInfo& info, ResponsePlan& out);

// A generated HTML body (autoindex) with the given content.
void plan_html_response(int status, std::string body, bool keep_alive, bool head_only,
                        const ServerInfo& info, ResponsePlan& out);

// ---- inline -----------------------------------------------------------------------------

inline ResponsePlan::Entry& ResponsePlan::push(FieldName name, Kind kind) {
    // Every plan_* adds each name at most once, and there are fewer names than entries.
    assert(count_ < kMaxEntries);
    if (count_ == kMaxEntries) --count_;  // never reached; stays in bounds regardless
    Entry& e = entries_[count_++];
    e.name = name;
    e.kind = kind;
    return e;
}

inline void ResponsePlan::add_field(FieldName name, std::string_view value) {
    Entry& e = push(name, Kind::External);
    e.ext = value.data();
    e.len = static_cast<uint32_t>(value.size());
}

template <typename F>
void ResponsePlan::for_each_field(F&& f) const {
    for (size_t i = 0; i < count_; ++i) {
        const Entry& e = entries_[i];
        if (e.kind != Kind::Prerendered) {
            f(Field{e.name, value_of(e)});
            continue;
        }
        const size_t n = index_[0];
        for (size_t k = 0; k < n; ++k) {
            const uint16_t* s = index_ + 1 + 3 * k;
            f(Field{static_cast<FieldName>(s[0]), std::string_view(e.ext + s[1], s[2])});
        }
    }
}

}  // namespace sluice::http
