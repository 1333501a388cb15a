// Request-target forms and Host (RFC 9112 §3.2, RFC 9110 §7.2): the pure rules, then what the
// parser makes of them.
#include "http/target.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace sluice::http {
namespace {

TEST(ValidHost, Accepted) {
    for (const char* h : {"localhost", "example.com", "example.com.", "a", "127.0.0.1",
                          "127.0.0.1:8080", "localhost:", "x:0", "x:65535", "[::1]", "[::1]:443",
                          "[2001:db8::7]", "[::ffff:192.0.2.1]:80", "[v1.x:y]", "ex%41mple",
                          "a-b_c~d", "a!$&'()*+;=b"}) {
        EXPECT_TRUE(valid_host(h)) << h;
    }
}

TEST(ValidHost, Refused) {
    for (const char* h : {"", ":80", "user@host", "user:pw@host", "@host", "host/x", "host/",
                          "a, b", "a,b", "a b", " a", "a\t", "host:x", "host:80:80",
                          "host:123456", "[::1", "::1", "[]", "[::1]x", "[::1]:x", "[g::1]",
                          "[v.x]", "[v1.]", "a%zz", "a%4", "a%", "a\\b", "a?b", "a#b",
                          "caf\xC3\xA9", "a\"b", "a<b", "[::1%25eth0]"}) {
        EXPECT_FALSE(valid_host(h)) << h;
    }
    EXPECT_TRUE(valid_host("a:1", true));
    EXPECT_FALSE(valid_host("a", true));
    EXPECT_FALSE(valid_host("a:", true));
}

TEST(SplitTarget, Forms) {
    auto t = split_target("/a/b?q", false);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->form, TargetForm::Origin);
    EXPECT_EQ(t->path, "/a/b?q");

    t = split_target("*", false);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->form, TargetForm::Asterisk);

    t = split_target("http://example.com:8080/p?q", false);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->form, TargetForm::Absolute);
    EXPECT_EQ(t->authority, "example.com:8080");
    EXPECT_EQ(t->path, "/p?q");

    t = split_target("HTTPS://[::1]", false);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->authority, "[::1]");
    EXPECT_EQ(t->path, "");

    t = split_target("http://h?q", false);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->authority, "h");
    EXPECT_EQ(t->path, "?q");

    t = split_target("a.example:443", true);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->form, TargetForm::Authority);
    EXPECT_EQ(t->authority, "a.example:443");
}

TEST(SplitTarget, Refused) {
    for (const char* target : {"", "*x", "**", "a/b", "?x", "ftp://h/p", "ws://h/", "http:/h",
                               "http:h", "http:///p", "http://user@h/p", "http://u:p@h/",
                               "http://h,i/", "http://h:x/", "h:80"}) {
        EXPECT_FALSE(split_target(target, false)) << target;
    }
    for (const char* target : {"/x", "a.example", "a:", "*", "http://a:1/"}) {
        EXPECT_FALSE(split_target(target, true)) << target;
    }
}

struct Parsed {
    ParseOutcome outcome;
    Request req;
};

Parsed parse(std::string_view data) {
    RequestParser parser;
    Parsed p;
    p.outcome = parser.feed(data, p.req);
    return p;
}

int status(std::string_view data) {
    Parsed p = parse(data);
    return p.outcome.status == ParseStatus::Error ? p.outcome.error_status : 0;
}

TEST(ParserHost, BadValuesAre400) {
    auto with_host = [](std::string_view version, std::string_view host_lines) {
        std::string s = "GET / ";
        s += version;
        s += "\r\n";
        s += host_lines;
        return status(s + "\r\n");
    };
    for (std::string_view v : {"HTTP/1.1", "HTTP/1.0"}) {
        EXPECT_EQ(with_host(v, "Host: user@host\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: host/x\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host:\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host:   \r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a, b\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a\r\nHost: a\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a\r\nhost: b\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a b\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a:b\r\n"), 400) << v;
        EXPECT_EQ(with_host(v, "Host: a\r\n"), 0) << v;
        EXPECT_EQ(with_host(v, "Host:  [::1]:8080 \r\n"), 0) << v;
    }
    EXPECT_EQ(with_host("HTTP/1.1", ""), 400);
    EXPECT_EQ(with_host("HTTP/1.0", ""), 0);
}

TEST(ParserTarget, AbsoluteForm) {
    Parsed p = parse("GET http://example.com/a%20b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete) << p.outcome.error_reason;
    EXPECT_EQ(p.req.form, TargetForm::Absolute);
    EXPECT_EQ(p.req.target, "http://example.com/a%20b?q=1");
    EXPECT_EQ(p.req.path(), "/a%20b?q=1");
    EXPECT_EQ(p.req.host, "example.com");  // the target's authority wins

    p = parse("HEAD HTTPS://example.com:8443 HTTP/1.1\r\nHost: example.com:8443\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete) << p.outcome.error_reason;
    EXPECT_EQ(p.req.path(), "/");
    EXPECT_EQ(p.req.host, "example.com:8443");

    p = parse("GET http://h?x HTTP/1.0\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete) << p.outcome.error_reason;
    EXPECT_EQ(p.req.path(), "/?x");
    EXPECT_EQ(p.req.host, "h");

    // Host is still required on 1.1, and still has to be valid.
    EXPECT_EQ(status("GET http://h/ HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status("GET http://h/ HTTP/1.1\r\nHost: a@b\r\n\r\n"), 400);
    EXPECT_EQ(status("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(status("GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    EXPECT_EQ(status("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(ParserTarget, AbsoluteFormReusesCapacity) {
    RequestParser parser;
    Request req;
    std::string data = "GET http://example.com/some/path HTTP/1.1\r\nHost: example.com\r\n\r\n";
    ASSERT_EQ(parser.feed(data, req).status, ParseStatus::Complete);
    const char* buf = req.absolute_path.data();
    ASSERT_EQ(parser.feed(data, req).status, ParseStatus::Complete);
    EXPECT_EQ(req.absolute_path.data(), buf);
    EXPECT_EQ(req.path(), "/some/path");
    ASSERT_EQ(parser.feed("GET /o HTTP/1.1\r\nHost: a\r\n\r\n", req).status,
              ParseStatus::Complete);
    EXPECT_EQ(req.form, TargetForm::Origin);
    EXPECT_EQ(req.path(), "/o");
}

TEST(ParserTarget, AsteriskForm) {
    Parsed p = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.req.method, Method::Options);
    EXPECT_EQ(p.req.form, TargetForm::Asterisk);

    p = parse("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(p.outcome.status, ParseStatus::Complete);
    EXPECT_EQ(p.req.method, Method::Options);
    EXPECT_EQ(p.req.form, TargetForm::Origin);

    EXPECT_EQ(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("HEAD * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("DELETE * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("OPTIONS */ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(ParserTarget, AuthorityFormOnlyForConnect) {
    EXPECT_EQ(status("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), 0);
    EXPECT_EQ(status("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(ParserTarget, RawBytesRefused) {
    // Strict llhttp: a target is ASCII; non-ASCII must come percent-encoded (RFC 3986 §2).
    EXPECT_EQ(status("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("GET /a\fb HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    EXPECT_EQ(status("GET /caf%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

}  // namespace
}  // namespace sluice::http
