#include "http/response.h"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace sluice::http {
namespace {

constexpr std::string_view kDate = "Wed, 01 Jan 2025 00:00:00 GMT";
constexpr time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::string_view kLastModified = "Sun, 06 Nov 1994 08:49:37 GMT";

ServerInfo info() {
    ServerInfo i;
    i.date = kDate;
    return i;
}

Representation rep(uint64_t length = 1000) {
    Representation r;
    r.length = length;
    r.mtime = kMtime;
    r.etag = "\"e1\"";
    r.content_type = "text/plain; charset=utf-8";
    return r;
}

Request get(std::string_view range = {}) {
    Request r;
    r.method = Method::Get;
    r.method_name = "GET";
    r.target = "/f.txt";
    r.range = range;
    return r;
}

uint64_t sum_parts(const ResponsePlan& p) {
    uint64_t n = 0;
    for (const BodyPart& b : p.body) n += b.from_file ? b.length : b.literal.size();
    return n;
}

// The HTTP/1.1 head of a plan, for a request of HTTP/1.<minor>.
std::string h1(const ResponsePlan& p, int minor = 1) {
    std::string out;
    render_h1_head(p, minor, out);
    return out;
}

// The fields as HTTP/2 enumerates them: "name: value" with lowercase names.
std::vector<std::string> fields(const ResponsePlan& p) {
    std::vector<std::string> out;
    p.for_each_field([&](const Field& f) {
        out.push_back(std::string(f.h2()) + ": " + std::string(f.value));
    });
    return out;
}

std::string header_value(const std::string& head, std::string_view name) {
    std::string key = "\r\n" + std::string(name) + ": ";
    size_t at = head.find(key);
    if (at == std::string::npos) return {};
    size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
}

TEST(Response, Plain200ExactHead) {
    ResponsePlan p;
    plan_file_response(get(), rep(), info(), p);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(h1(p),
              "HTTP/1.1 200 OK\r\n"
              "Server: sluice\r\n"
              "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 1000\r\n"
              "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "ETag: \"e1\"\r\n"
              "Accept-Ranges: bytes\r\n"
              "\r\n");
    ASSERT_EQ(p.body.size(), 1u);
    EXPECT_TRUE(p.body[0].from_file);
    EXPECT_EQ(p.body[0].offset, 0u);
    EXPECT_EQ(p.body[0].length, 1000u);
    EXPECT_EQ(p.body_length, 1000u);
    EXPECT_TRUE(p.keep_alive);
}

TEST(Response, EncodingVaryAndConnection) {
    Representation r = rep();
    r.encoding = Encoding::Br;
    r.vary_accept_encoding = true;
    Request req = get();
    req.keep_alive = false;
    ResponsePlan p;
    plan_file_response(req, r, info(), p);
    EXPECT_EQ(h1(p),
              "HTTP/1.1 200 OK\r\n"
              "Server: sluice\r\n"
              "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 1000\r\n"
              "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "ETag: \"e1\"\r\n"
              "Accept-Ranges: bytes\r\n"
              "Content-Encoding: br\r\n"
              "Vary: Accept-Encoding\r\n"
              "Connection: close\r\n"
              "\r\n");
    EXPECT_FALSE(p.keep_alive);

    // HTTP/1.0 client that keeps alive is told so; the status line stays HTTP/1.1.
    req.keep_alive = true;
    req.version_minor = 0;
    plan_file_response(req, rep(), info(), p);
    EXPECT_TRUE(h1(p, 0).starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_NE(h1(p, 0).find("\r\nConnection: keep-alive\r\n\r\n"), std::string::npos);
    // A 1.1 client keeps alive without being told.
    EXPECT_EQ(h1(p, 1).find("Connection"), std::string::npos);
}

TEST(Response, PrerenderedHeadersGiveTheSameResponses) {
    // Kept lines stand in for the rendered ones in a whole-body 200 (GET or HEAD, any
    // Connection) and are ignored where the lines differ (206, 304).
    Representation plain = rep();
    plain.encoding = Encoding::Gzip;
    plain.vary_accept_encoding = true;
    std::string kept;
    std::array<uint16_t, kPrerenderIndexLen> index{};
    ASSERT_TRUE(prerender_representation(plain, kept, index));
    EXPECT_EQ(kept,
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 1000\r\n"
              "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "ETag: \"e1\"\r\n"
              "Accept-Ranges: bytes\r\n"
              "Content-Encoding: gzip\r\n"
              "Vary: Accept-Encoding\r\n");
    Representation cached = plain;
    cached.prerendered = kept;
    cached.prerendered_index = index;
    Request head = get();
    head.method = Method::Head;
    Request close = get();
    close.keep_alive = false;
    Request inm = get();
    inm.if_none_match = "\"e1\"";
    for (const Request& req : {get(), head, close, get("bytes=5-9"), inm}) {
        ResponsePlan a;
        ResponsePlan b;
        plan_file_response(req, plain, info(), a);
        plan_file_response(req, cached, info(), b);
        EXPECT_EQ(a.status, b.status);
        EXPECT_EQ(h1(a), h1(b));
        EXPECT_EQ(h1(a, 0), h1(b, 0));
        EXPECT_EQ(a.body_length, b.body_length);
        // HTTP/2 sees the same fields, the block's one by one.
        EXPECT_EQ(fields(a), fields(b));
        EXPECT_EQ(a.field_count(), b.field_count());
    }
}

TEST(Response, SingleRange206) {
    ResponsePlan p;
    plan_file_response(get("bytes=100-199"), rep(), info(), p);
    EXPECT_EQ(p.status, 206);
    EXPECT_EQ(h1(p),
              "HTTP/1.1 206 Partial Content\r\n"
              "Server: sluice\r\n"
              "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 100\r\n"
              "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "ETag: \"e1\"\r\n"
              "Accept-Ranges: bytes\r\n"
              "Content-Range: bytes 100-199/1000\r\n"
              "\r\n");
    ASSERT_EQ(p.body.size(), 1u);
    EXPECT_EQ(p.body[0].offset, 100u);
    EXPECT_EQ(p.body[0].length, 100u);
    EXPECT_EQ(p.body_length, 100u);
}

TEST(Response, MultipartByteranges) {
    ResponsePlan p;
    plan_file_response(get("bytes=0-9,500-"), rep(), info(), p);
    EXPECT_EQ(p.status, 206);
    std::string ct = header_value(h1(p), "Content-Type");
    ASSERT_TRUE(ct.starts_with("multipart/byteranges; boundary=")) << ct;
    std::string boundary = ct.substr(std::string_view("multipart/byteranges; boundary=").size());
    ASSERT_FALSE(boundary.empty());
    EXPECT_EQ(header_value(h1(p), "Content-Range"), "");
    EXPECT_EQ(header_value(h1(p), "Content-Length"), std::to_string(p.body_length));
    EXPECT_EQ(p.body_length, sum_parts(p));

    // literal, file, literal, file, literal
    ASSERT_EQ(p.body.size(), 5u);
    for (size_t i = 0; i < p.body.size(); ++i) EXPECT_EQ(p.body[i].from_file, i % 2 == 1) << i;
    EXPECT_EQ(p.body[0].literal, "--" + boundary +
                                     "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Range: bytes 0-9/1000\r\n\r\n");
    EXPECT_EQ(p.body[1].offset, 0u);
    EXPECT_EQ(p.body[1].length, 10u);
    EXPECT_EQ(p.body[2].literal, "\r\n--" + boundary +
                                     "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                     "Content-Range: bytes 500-999/1000\r\n\r\n");
    EXPECT_EQ(p.body[3].offset, 500u);
    EXPECT_EQ(p.body[3].length, 500u);
    EXPECT_EQ(p.body[4].literal, "\r\n--" + boundary + "--\r\n");
    for (const BodyPart& b : p.body) {
        if (!b.from_file) {
            EXPECT_EQ(b.length, b.literal.size());
        }
    }

    // Same boundary for the whole process.
    ResponsePlan q;
    plan_file_response(get("bytes=1-2,5-6,9-10"), rep(), info(), q);
    EXPECT_EQ(header_value(h1(q), "Content-Type"), ct);
    EXPECT_EQ(q.body.size(), 7u);
    EXPECT_EQ(q.body_length, sum_parts(q));
}

TEST(Response, NotModifiedHasNoBodyHeaders) {
    Representation r = rep();
    r.vary_accept_encoding = true;
    Request req = get();
    req.if_none_match = "\"e1\"";
    ResponsePlan p;
    plan_file_response(req, r, info(), p);
    EXPECT_EQ(p.status, 304);
    EXPECT_EQ(h1(p),
              "HTTP/1.1 304 Not Modified\r\n"
              "Server: sluice\r\n"
              "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
              "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "ETag: \"e1\"\r\n"
              "Vary: Accept-Encoding\r\n"
              "\r\n");
    EXPECT_TRUE(p.body.empty());
    EXPECT_EQ(p.body_length, 0u);
}

TEST(Response, PreconditionFailed412) {
    Request req = get();
    req.if_match = "\"nope\"";
    ResponsePlan p;
    plan_file_response(req, rep(), info(), p);
    EXPECT_EQ(p.status, 412);
    EXPECT_TRUE(h1(p).starts_with("HTTP/1.1 412 Precondition Failed\r\n"));
    EXPECT_EQ(header_value(h1(p), "Content-Type"), "text/html; charset=utf-8");
    ASSERT_EQ(p.body.size(), 1u);
    EXPECT_FALSE(p.body[0].from_file);
    EXPECT_EQ(header_value(h1(p), "Content-Length"), std::to_string(p.body[0].literal.size()));
    EXPECT_EQ(p.body_length, p.body[0].literal.size());
}

TEST(Response, Unsatisfiable416) {
    ResponsePlan p;
    plan_file_response(get("bytes=5000-"), rep(), info(), p);
    EXPECT_EQ(p.status, 416);
    EXPECT_TRUE(h1(p).starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"));
    EXPECT_EQ(header_value(h1(p), "Content-Range"), "bytes */1000");
    EXPECT_EQ(p.body_length, sum_parts(p));
    EXPECT_EQ(header_value(h1(p), "Content-Length"), std::to_string(p.body_length));

    plan_file_response(get("bytes=0-0"), rep(0), info(), p);
    EXPECT_EQ(p.status, 416);
    EXPECT_EQ(header_value(h1(p), "Content-Range"), "bytes */0");
}

TEST(Response, RangeIgnoredWhenInvalidOrIfRangeFails) {
    ResponsePlan p;
    plan_file_response(get("bytes=9-1"), rep(), info(), p);
    EXPECT_EQ(p.status, 200);
    Request req = get("bytes=0-1");
    req.if_range = "\"old\"";
    plan_file_response(req, rep(), info(), p);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body_length, 1000u);
    req.if_range = "\"e1\"";
    plan_file_response(req, rep(), info(), p);
    EXPECT_EQ(p.status, 206);
}

TEST(Response, HeadMatchesGetWithoutBody) {
    ResponsePlan g;
    plan_file_response(get(), rep(), info(), g);
    Request head = get();
    head.method = Method::Head;
    ResponsePlan h;
    plan_file_response(head, rep(), info(), h);
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h1(h), h1(g));
    EXPECT_TRUE(h.body.empty());
    EXPECT_EQ(h.body_length, 0u);

    // A Range on a HEAD is ignored (range handling is defined for GET only).
    head.range = "bytes=0-1";
    plan_file_response(head, rep(), info(), h);
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(header_value(h1(h), "Content-Length"), "1000");
}

TEST(Response, EmptyFile) {
    ResponsePlan p;
    plan_file_response(get(), rep(0), info(), p);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(header_value(h1(p), "Content-Length"), "0");
    EXPECT_TRUE(p.body.empty());
    EXPECT_EQ(p.body_length, 0u);
}

TEST(Response, SimpleResponse) {
    ResponsePlan p;
    plan_simple_response(404, {}, true, false, info(), p);
    const std::string body =
        "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body>"
        "</html>\n";
    EXPECT_EQ(h1(p), "HTTP/1.1 404 Not Found\r\n"
                      "Server: sluice\r\n"
                      "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
                      "Content-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n"
                      "\r\n");
    ASSERT_EQ(p.body.size(), 1u);
    EXPECT_EQ(p.body[0].literal, body);
    EXPECT_EQ(p.body_length, body.size());

    const Field allow[] = {{FieldName::Allow, "GET, HEAD"}};
    plan_simple_response(405, allow, false, true, info(), p);
    EXPECT_TRUE(h1(p, 0).starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    EXPECT_TRUE(h1(p, 0).ends_with("Allow: GET, HEAD\r\nConnection: close\r\n\r\n"));
    EXPECT_NE(header_value(h1(p, 0), "Content-Length"), "");
    EXPECT_TRUE(p.body.empty());
    EXPECT_EQ(p.body_length, 0u);
    EXPECT_FALSE(p.keep_alive);
}

TEST(Response, OptionsResponse) {
    ResponsePlan p;
    plan_options_response(true, info(), p);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(h1(p), "HTTP/1.1 200 OK\r\n"
                      "Server: sluice\r\n"
                      "Date: Wed, 01 Jan 2025 00:00:00 GMT\r\n"
                      "Allow: GET, HEAD, OPTIONS\r\n"
                      "Content-Length: 0\r\n"
                      "\r\n");
    EXPECT_TRUE(p.body.empty());
    EXPECT_EQ(p.body_length, 0u);

    plan_options_response(false, info(), p);
    EXPECT_TRUE(h1(p, 0).ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"));
    EXPECT_FALSE(p.keep_alive);
}

TEST(Response, HtmlResponse) {
    ResponsePlan p;
    plan_html_response(200, "<ul></ul>\n", true, false, info(), p);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(header_value(h1(p), "Content-Length"), "10");
    ASSERT_EQ(p.body.size(), 1u);
    EXPECT_EQ(p.body[0].literal, "<ul></ul>\n");
}

TEST(Response, FieldNamesInBothSpellings) {
    EXPECT_EQ(h1_name(FieldName::ETag), "ETag");
    EXPECT_EQ(h2_name(FieldName::ETag), "etag");
    EXPECT_EQ(h1_name(FieldName::ContentEncoding), "Content-Encoding");
    EXPECT_EQ(h2_name(FieldName::Vary), "vary");
    for (unsigned i = 0; i < kFieldNameCount; ++i) {
        const auto n = static_cast<FieldName>(i);
        std::string lower(h1_name(n));
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(lower, h2_name(n)) << i;
        EXPECT_NE(lower, "connection");
    }
}

TEST(Response, Http2SeesTheSameFieldsWithoutConnection) {
    Request req = get("bytes=100-199");
    req.keep_alive = false;
    ResponsePlan p;
    plan_file_response(req, rep(), info(), p);
    const std::vector<std::string> want = {
        "server: sluice",
        "date: Wed, 01 Jan 2025 00:00:00 GMT",
        "content-type: text/plain; charset=utf-8",
        "content-length: 100",
        "last-modified: Sun, 06 Nov 1994 08:49:37 GMT",
        "etag: \"e1\"",
        "accept-ranges: bytes",
        "content-range: bytes 100-199/1000",
    };
    EXPECT_EQ(fields(p), want);
    EXPECT_EQ(p.field_count(), want.size());
    EXPECT_EQ(p.find(FieldName::ContentRange), "bytes 100-199/1000");
    EXPECT_EQ(p.find(FieldName::Location), "");
    EXPECT_FALSE(p.keep_alive);  // HTTP/1 renders it; it is no field
    EXPECT_TRUE(h1(p).ends_with("Content-Range: bytes 100-199/1000\r\nConnection: close\r\n\r\n"));
}

TEST(Response, ExtraFieldsAreCopiedAndPlansReused) {
    ResponsePlan p;
    {
        std::string loc = "/dir/?q=1";
        const Field extra[] = {{FieldName::Location, loc}};
        plan_simple_response(301, extra, true, false, info(), p);
        loc.assign(loc.size(), 'x');  // the plan kept its own copy
    }
    EXPECT_EQ(p.find(FieldName::Location), "/dir/?q=1");
    EXPECT_NE(h1(p).find("\r\nLocation: /dir/?q=1\r\n\r\n"), std::string::npos);
    // Reused for another response: nothing of the first one is left.
    plan_options_response(true, info(), p);
    EXPECT_EQ(p.find(FieldName::Location), "");
    EXPECT_EQ(p.field_count(), 4u);
    EXPECT_TRUE(p.body.empty());
    EXPECT_EQ(p.status, 200);
}

TEST(Response, PrerenderNeedsRoomForItsIndex) {
    std::string text = "stale";
    std::array<uint16_t, 4> small{};
    EXPECT_FALSE(prerender_representation(rep(), text, small));
    EXPECT_TRUE(text.empty());
    // Without a block (or without its index) the fields are decided per response instead.
    Representation r = rep();
    r.prerendered = "Bogus: 1\r\n";
    ResponsePlan p;
    plan_file_response(get(), r, info(), p);
    EXPECT_EQ(h1(p).find("Bogus"), std::string::npos);
}

TEST(Response, StatusReasons) {
    EXPECT_EQ(status_reason(200), "OK");
    EXPECT_EQ(status_reason(404), "Not Found");
    EXPECT_EQ(status_reason(431), "Request Header Fields Too Large");
    EXPECT_EQ(status_reason(799), "Unknown");
}

}  // namespace
}  // namespace sluice::http
