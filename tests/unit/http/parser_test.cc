#include "http/parser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <cstdlib>
#include <new>
#include <string>

// Counts operator new calls so the keep-alive no-allocation property can be asserted.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
// GCC cannot see that the replaced operator new above is the malloc this frees.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace sluice::http {
namespace {

struct Parsed {
    ParseOutcome outcome;
    Request req;
};

Parsed parse(std::string_view data, ParserLimits limits = {}) {
    RequestParser parser(limits);
    Parsed p;
    p.outcome = parser.feed(data, p.req);
    return p;
}

int error_status(std::string_view data, ParserLimits limits = {}) {
    Parsed p = parse(data, limits);
    if (p.outcome.status != ParseStatus::Error) return 0;
    return p.outcome.error_status;
}

TEST(Parser, SimpleGet) {
    std::string data =
        "GET /a%20b/?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n"
        "Referer: http://x/\r\nAccept-Encoding: gzip, br\r\nX-Other: y\r\n\r\n";
    Parsed p = parse(data);
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.outcome.consumed, data.size());
    EXPECT_EQ(p.req.method, Method::Get);
    EXPECT_EQ(p.req.method_name, "GET");
    EXPECT_EQ(p.req.target, "/a%20b/?q=1");
    EXPECT_EQ(p.req.version_major, 1);
    EXPECT_EQ(p.req.version_minor, 1);
    EXPECT_TRUE(p.req.keep_alive);
    EXPECT_FALSE(p.req.has_body);
    EXPECT_TRUE(p.req.has_host);
    EXPECT_EQ(p.req.host, "example.com");
    EXPECT_EQ(p.req.user_agent, "curl/8");
    EXPECT_EQ(p.req.referer, "http://x/");
    EXPECT_EQ(p.req.accept_encoding, "gzip, br");
}

TEST(Parser, HeadAndOtherMethods) {
    Parsed head = parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(head.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(head.req.method, Method::Head);
    EXPECT_EQ(head.req.method_name, "HEAD");

    Parsed del = parse("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(del.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(del.req.method, Method::Other);
    EXPECT_EQ(del.req.method_name, "DELETE");

    EXPECT_EQ(error_status("FROB / HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
    EXPECT_EQ(error_status("HELLO\r\n\r\n"), 400);
    EXPECT_EQ(error_status("\x01GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(Parser, KeepAliveSemantics) {
    EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").req.keep_alive);
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").req.keep_alive);
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n").req.keep_alive);

    Parsed ten = parse("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(ten.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(ten.req.version_minor, 0);
    EXPECT_FALSE(ten.req.keep_alive);
    EXPECT_FALSE(ten.req.has_host);
    EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").req.keep_alive);
    EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").req.keep_alive);
}

TEST(Parser, PipelinedHundredRequests) {
    std::string data;
    std::vector<size_t> sizes;
    for (int i = 0; i < 100; ++i) {
        std::string one = "GET /file" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n";
        if (i % 3 == 0) one += "If-None-Match: \"v" + std::to_string(i) + "\"\r\n";
        one += "\r\n";
        sizes.push_back(one.size());
        data += one;
    }
    RequestParser parser;
    Request req;
    std::string_view rest = data;
    for (int i = 0; i < 100; ++i) {
        ParseOutcome o = parser.feed(rest, req);
        ASSERT_EQ(o.status, ParseStatus::Complete) << i;
        EXPECT_EQ(o.consumed, sizes[i]) << i;
        EXPECT_EQ(req.target, "/file" + std::to_string(i));
        // Each request starts from a clean slate: no header leaks from the previous one.
        EXPECT_EQ(req.if_none_match, i % 3 == 0 ? "\"v" + std::to_string(i) + "\"" : "") << i;
        EXPECT_FALSE(parser.in_progress());
        rest.remove_prefix(o.consumed);
    }
    EXPECT_TRUE(rest.empty());
    ParseOutcome o = parser.feed("GET /x", req);
    EXPECT_EQ(o.status, ParseStatus::NeedMore);
    EXPECT_TRUE(parser.in_progress());
}

TEST(Parser, ByteAtATime) {
    std::string data =
        "GET /slow HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nIf-None-Match: \"x\"\r\n\r\n"
        "HEAD /two HTTP/1.1\r\nHost: b\r\n\r\n";
    RequestParser parser;
    Request req;
    EXPECT_FALSE(parser.in_progress());
    std::vector<std::string> targets;
    for (size_t i = 0; i < data.size(); ++i) {
        ParseOutcome o = parser.feed(std::string_view(data).substr(i, 1), req);
        ASSERT_NE(o.status, ParseStatus::Error) << i;
        EXPECT_EQ(o.consumed, 1u);
        if (o.status == ParseStatus::Complete) {
            targets.push_back(req.target);
            if (targets.size() == 1) {
                EXPECT_EQ(req.range, "bytes=0-1");
                EXPECT_EQ(req.if_none_match, "\"x\"");
                EXPECT_EQ(req.host, "a");
            } else {
                EXPECT_EQ(req.method, Method::Head);
                EXPECT_EQ(req.host, "b");
            }
        } else {
            EXPECT_TRUE(parser.in_progress()) << i;
        }
    }
    EXPECT_EQ(targets, (std::vector<std::string>{"/slow", "/two"}));
}

TEST(Parser, RequestLineLimit) {
    std::string ok = "GET /" + std::string(8 * 1024 - 15, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(error_status(ok), 0);
    std::string too_long = "GET /" + std::string(8 * 1024, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(error_status(too_long), 414);

    // Detected before the line ends, even when it arrives in small pieces.
    RequestParser parser;
    Request req;
    std::string chunk(1000, 'b');
    EXPECT_EQ(parser.feed("GET /", req).status, ParseStatus::NeedMore);
    ParseOutcome o;
    for (int i = 0; i < 9 && o.status != ParseStatus::Error; ++i) o = parser.feed(chunk, req);
    EXPECT_EQ(o.status, ParseStatus::Error);
    EXPECT_EQ(o.error_status, 414);
}

TEST(Parser, HeaderBlockLimit) {
    auto with_headers = [](size_t bytes) {
        std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
        while (s.size() < bytes) s += "X-Pad: " + std::string(100, 'p') + "\r\n";
        return s + "\r\n";
    };
    EXPECT_EQ(error_status(with_headers(15 * 1024)), 0);
    EXPECT_EQ(error_status(with_headers(17 * 1024)), 431);

    // Counted across feeds: many small feeds still hit the limit.
    RequestParser parser;
    Request req;
    ParseOutcome o = parser.feed("GET / HTTP/1.1\r\nHost: a\r\n", req);
    std::string line = "X-Pad: " + std::string(100, 'p') + "\r\n";
    for (int i = 0; i < 200 && o.status != ParseStatus::Error; ++i) o = parser.feed(line, req);
    EXPECT_EQ(o.status, ParseStatus::Error);
    EXPECT_EQ(o.error_status, 431);

    ParserLimits small;
    small.max_header_block = 64;
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(64, 'x') + "\r\n\r\n",
                           small),
              431);
}

TEST(Parser, MalformedIs400) {
    EXPECT_EQ(error_status("GET / HTTP/1.1\nHost: a\n\n"), 400);           // bare LF
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);       // bare LF in header
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);       // bare LF at end
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), 400);  // obs-fold
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              400);
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                           "Content-Length: 4\r\n\r\nabcd"),
              400);
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    EXPECT_EQ(error_status("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(error_status("GET / HTTP/x.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nBad Header: a\r\nHost: a\r\n\r\n"), 400);
}

TEST(Parser, MissingHost) {
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(error_status("GET / HTTP/1.0\r\n\r\n"), 0);
}

TEST(Parser, UnsupportedVersionIs505) {
    EXPECT_EQ(error_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(error_status("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(error_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
    EXPECT_EQ(error_status("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), 505);
}

TEST(Parser, ErrorIsSticky) {
    RequestParser parser;
    Request req;
    ParseOutcome o = parser.feed("GET / HTTP/1.1\nHost: a\n\n", req);
    ASSERT_EQ(o.status, ParseStatus::Error);
    ParseOutcome again = parser.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", req);
    EXPECT_EQ(again.status, ParseStatus::Error);
    EXPECT_EQ(again.error_status, 400);
    EXPECT_FALSE(parser.in_progress());
}

TEST(Parser, BodyDiscardedThenNextRequest) {
    std::string first = "GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    std::string second =
        "GET /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    std::string third = "GET /c HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string data = first + second + third;
    RequestParser parser;
    Request req;
    ParseOutcome o = parser.feed(data, req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(o.consumed, first.size());
    EXPECT_EQ(req.target, "/a");
    EXPECT_TRUE(req.has_body);
    std::string_view rest = std::string_view(data).substr(o.consumed);
    o = parser.feed(rest, req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(o.consumed, second.size());
    EXPECT_EQ(req.target, "/b");
    EXPECT_TRUE(req.has_body);
    rest.remove_prefix(o.consumed);
    o = parser.feed(rest, req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(req.target, "/c");
    EXPECT_FALSE(req.has_body);
}

TEST(Parser, BodySplitAcrossFeeds) {
    RequestParser parser;
    Request req;
    EXPECT_EQ(parser.feed("GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc", req).status,
              ParseStatus::NeedMore);
    EXPECT_TRUE(parser.in_progress());
    ParseOutcome o = parser.feed("defGET /b HTTP/1.1\r\nHost: a\r\n\r\n", req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(o.consumed, 3u);
    EXPECT_EQ(req.target, "/a");
}

TEST(Parser, OversizedBodyIs413) {
    ParserLimits limits;
    limits.max_discarded_body = 10;
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits), 413);
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
                           limits),
              0);
    // Chunked bodies have no declared length: counted as they arrive.
    EXPECT_EQ(error_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
                           limits),
              413);
}

TEST(Parser, RepeatedListHeadersJoined) {
    Parsed p = parse(
        "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"a\"\r\nif-none-match:  \"b\", \"c\"  \r\n"
        "IF-NONE-MATCH:\r\nAccept-Encoding: gzip\r\nAccept-Encoding: br\r\n"
        "Range: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.req.if_none_match, "\"a\", \"b\", \"c\"");
    EXPECT_EQ(p.req.accept_encoding, "gzip, br");
    EXPECT_EQ(p.req.range, "bytes=2-3");  // not a list: last wins
}

TEST(Parser, HeaderValuesTrimmedAndCaseInsensitive) {
    Parsed p = parse(
        "GET / HTTP/1.1\r\nhOsT:   spaced.example \t \r\nIF-MODIFIED-SINCE: Sun, 06 Nov 1994 "
        "08:49:37 GMT\r\nif-unmodified-since:\tx\r\nIf-Range: \"e\"\r\nIf-Match: *\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.req.host, "spaced.example");
    EXPECT_EQ(p.req.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(p.req.if_unmodified_since, "x");
    EXPECT_EQ(p.req.if_range, "\"e\"");
    EXPECT_EQ(p.req.if_match, "*");
}

TEST(Parser, LeadingEmptyLinesIgnored) {
    std::string data = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    Parsed p = parse(data);
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.outcome.consumed, data.size());
}

TEST(Parser, UpgradeIgnoredConnectCloses) {
    std::string up = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    std::string next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string data = up + next;
    RequestParser parser;
    Request req;
    ParseOutcome o = parser.feed(data, req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(o.consumed, up.size());
    o = parser.feed(std::string_view(data).substr(up.size()), req);
    ASSERT_EQ(o.status, ParseStatus::Complete);
    EXPECT_EQ(o.consumed, next.size());
    EXPECT_EQ(req.target, "/next");

    Parsed c = parse("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
    ASSERT_EQ(c.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(c.req.method, Method::Other);
    EXPECT_FALSE(c.req.keep_alive);
}

TEST(Parser, ReusesCapacityOnKeepAlive) {
    RequestParser parser;
    Request req;
    std::string data = "GET /some/fairly/long/path/to/a/file.html HTTP/1.1\r\nHost: example.org\r\n"
                       "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"
                       "\r\n\r\n";
    ASSERT_EQ(parser.feed(data, req).status, ParseStatus::Complete);
    const char* target_buf = req.target.data();
    const char* ua_buf = req.user_agent.data();
    ASSERT_EQ(parser.feed(data, req).status, ParseStatus::Complete);
    EXPECT_EQ(req.target.data(), target_buf);
    EXPECT_EQ(req.user_agent.data(), ua_buf);

    long before = g_allocations.load();
    auto probe = std::make_unique<std::string>(100, 'x');  // the hook must see this one
    EXPECT_EQ(g_allocations.load(), before + 2);
    before = g_allocations.load();
    for (int i = 0; i < 100; ++i) ASSERT_EQ(parser.feed(data, req).status, ParseStatus::Complete);
    EXPECT_EQ(g_allocations.load(), before);
}

}  // namespace
}  // namespace sluice::http
