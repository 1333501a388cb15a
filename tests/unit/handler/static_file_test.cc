#include "handler/static_file.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../files/temp_tree.h"
#include "files/mime.h"

namespace sluice::handler {
namespace {

using files::testing::TempTree;
using http::Field;
using http::FieldName;

constexpr std::string_view kServer = "sluice-test";
constexpr std::string_view kText = "hello, world\n";  // 13 bytes
constexpr std::string_view kGzip = "gzip-bytes";
constexpr std::string_view kBr = "br!";

struct F {
    std::string name;  // HTTP/2 spelling
    std::string value;
    bool operator==(const F&) const = default;
};
std::ostream& operator<<(std::ostream& os, const F& f) { return os << f.name << ": " << f.value; }

// The fields as an HTTP/2 session enumerates them; checks the HTTP/1.1 spelling on the way.
std::vector<F> fields(const http::ResponsePlan& p) {
    std::vector<F> out;
    p.for_each_field([&](const Field& f) {
        std::string lower(f.h1());
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(lower, f.h2());
        out.push_back({std::string(f.h2()), std::string(f.value)});
    });
    return out;
}

std::string h1(const http::ResponsePlan& p, int minor = 1) {
    std::string out;
    http::render_h1_head(p, minor, out);
    return out;
}

std::string literal_body(const http::ResponsePlan& p) {
    std::string out;
    for (const http::BodyPart& b : p.body) {
        EXPECT_FALSE(b.from_file);
        out += b.literal;
    }
    return out;
}

http::Request get(std::string_view target) {
    http::Request r;
    r.method = http::Method::Get;
    r.method_name = "GET";
    r.target = target;
    r.host = "example.test";
    r.has_host = true;
    return r;
}

http::Request with_method(http::Request r, http::Method m, std::string_view name) {
    r.method = m;
    r.method_name = name;
    return r;
}

class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        tree_.write("a.txt", kText);
        tree_.write("a.txt.gz", kGzip);
        tree_.write("a.txt.br", kBr);
        tree_.write("plain.bin", std::string(5000, 'p'));
        tree_.write("dir/index.html", "<p>index</p>\n");
        tree_.write("list/x.txt", "x");
        tree_.write("list/<b>&'q'.txt", "y");
        tree_.write("list/.hidden", "h");
        tree_.mkdir("list/sub");
        tree_.write(".secret", "s");
        auto r = files::Root::open(tree_.root());
        ASSERT_TRUE(r.has_value());
        root_.emplace(std::move(*r));
        files::CacheLimits limits;
        limits.small_max = 1024;  // plain.bin is served from its fd, not from memory
        cache_.emplace(*root_, mime_, limits);
    }

    StaticFiles make(bool autoindex = false, bool dotfiles = false) {
        Env env;
        env.cache = &*cache_;
        env.root = &*root_;
        env.dates = &dates_;
        env.now_ms = &now_ms_;
        env.options.autoindex = autoindex;
        env.options.dotfiles = dotfiles;
        env.options.server_name = kServer;
        return StaticFiles(env);
    }

    const files::Variant& variant(std::string_view target, files::Coding c) {
        auto clean = files::clean_target(target, false);
        EXPECT_TRUE(clean.has_value());
        lookups_.push_back(cache_->lookup(*clean, now_ms_));
        EXPECT_EQ(lookups_.back().kind, files::LookupKind::File);
        return lookups_.back().resource->variants[static_cast<unsigned>(c)];
    }

    std::string date() { return std::string(dates_.now()); }
    std::string last_modified(const files::Variant& v) {
        char buf[http::kHttpDateLen];
        http::format_http_date(v.st.st_mtim.tv_sec, buf);
        return std::string(buf, http::kHttpDateLen);
    }

    TempTree tree_;
    files::MimeTypes mime_ = files::MimeTypes::load();
    std::optional<files::Root> root_;
    std::optional<files::FileCache> cache_;
    http::DateCache dates_;
    uint64_t now_ms_ = 1000;
    std::vector<files::Lookup> lookups_;
};

TEST_F(StaticFilesTest, WholeFile200) {
    StaticFiles sf = make();
    Response r;
    sf.handle(get("/a.txt"), r);
    const files::Variant& id = variant("/a.txt", files::Coding::Identity);
    EXPECT_EQ(r.plan.status, 200);
    EXPECT_TRUE(r.plan.keep_alive);
    EXPECT_FALSE(r.bad_request);
    const std::vector<F> want = {
        {"server", "sluice-test"},
        {"date", date()},
        {"content-type", "text/plain; charset=utf-8"},
        {"content-length", "13"},
        {"last-modified", last_modified(id)},
        {"etag", id.etag},
        {"accept-ranges", "bytes"},
        {"vary", "Accept-Encoding"},
    };
    EXPECT_EQ(fields(r.plan), want);
    EXPECT_EQ(r.plan.field_count(), want.size());
    EXPECT_EQ(h1(r.plan), "HTTP/1.1 200 OK\r\n"
                          "Server: sluice-test\r\n"
                          "Date: " + date() + "\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: 13\r\n"
                          "Last-Modified: " + last_modified(id) + "\r\n"
                          "ETag: " + id.etag + "\r\n"
                          "Accept-Ranges: bytes\r\n"
                          "Vary: Accept-Encoding\r\n"
                          "\r\n");
    EXPECT_TRUE(h1(r.plan, 0).ends_with("Vary: Accept-Encoding\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_EQ(r.plan.body.size(), 1u);
    EXPECT_TRUE(r.plan.body[0].from_file);
    EXPECT_EQ(r.plan.body[0].offset, 0u);
    EXPECT_EQ(r.plan.body[0].length, 13u);
    EXPECT_EQ(r.plan.body_length, 13u);
    EXPECT_EQ(r.variant, &id);
    ASSERT_TRUE(r.hold);
    EXPECT_EQ(&r.hold->variants[0], &id);
    ASSERT_TRUE(r.variant->has_bytes);
    EXPECT_EQ(r.variant->bytes, kText);
}

TEST_F(StaticFilesTest, RepresentationFieldsAreCachedPerVariant) {
    StaticFiles sf = make();
    Response r;
    sf.handle(get("/a.txt"), r);
    const files::Variant& id = variant("/a.txt", files::Coding::Identity);
    // The block is rendered once into the variant; the plan's values point into it.
    EXPECT_EQ(id.rep_headers,
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 13\r\n"
              "Last-Modified: " + last_modified(id) + "\r\n"
              "ETag: " + id.etag + "\r\n"
              "Accept-Ranges: bytes\r\n"
              "Vary: Accept-Encoding\r\n");
    const char* const begin = id.rep_headers.data();
    const char* const end = begin + id.rep_headers.size();
    size_t inside = 0;
    r.plan.for_each_field([&](const Field& f) {
        if (f.value.data() >= begin && f.value.data() + f.value.size() <= end) ++inside;
    });
    EXPECT_EQ(inside, 6u);  // all but Server and Date
    // Again: the same bytes from the same cache (a HEAD differs only in its body).
    Response again;
    sf.handle(with_method(get("/a.txt"), http::Method::Head, "HEAD"), again);
    EXPECT_EQ(h1(again.plan), h1(r.plan));
    EXPECT_TRUE(again.plan.body.empty());
    EXPECT_EQ(again.plan.body_length, 0u);
    EXPECT_EQ(id.rep_headers.data(), begin);
}

TEST_F(StaticFilesTest, EncodingFollowsAcceptEncoding) {
    StaticFiles sf = make();
    Response r;
    http::Request req = get("/a.txt");
    req.accept_encoding = "gzip";
    sf.handle(req, r);
    const files::Variant& gz = variant("/a.txt", files::Coding::Gzip);
    EXPECT_EQ(r.variant, &gz);
    EXPECT_EQ(r.plan.find(FieldName::ContentEncoding), "gzip");
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), std::to_string(kGzip.size()));
    EXPECT_EQ(r.plan.find(FieldName::ETag), gz.etag);
    EXPECT_EQ(r.plan.find(FieldName::Vary), "Accept-Encoding");
    EXPECT_EQ(r.variant->bytes, kGzip);
    EXPECT_NE(h1(r.plan).find("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n\r\n"),
              std::string::npos);

    req.accept_encoding = "gzip, br";
    sf.handle(req, r);
    EXPECT_EQ(r.variant, &variant("/a.txt", files::Coding::Br));
    EXPECT_EQ(r.plan.find(FieldName::ContentEncoding), "br");
    EXPECT_EQ(r.plan.body_length, kBr.size());

    req.accept_encoding = "br;q=0, gzip;q=0";
    sf.handle(req, r);
    EXPECT_EQ(r.variant, &variant("/a.txt", files::Coding::Identity));
    EXPECT_EQ(r.plan.find(FieldName::ContentEncoding), "");
    EXPECT_EQ(r.plan.find(FieldName::Vary), "Accept-Encoding");

    // Without siblings: no Vary, and the body comes from the fd (larger than small_max).
    req = get("/plain.bin");
    req.accept_encoding = "gzip, br";
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 200);
    EXPECT_EQ(r.plan.find(FieldName::Vary), "");
    EXPECT_EQ(r.plan.find(FieldName::ContentType), "application/octet-stream");
    ASSERT_NE(r.variant, nullptr);
    EXPECT_FALSE(r.variant->has_bytes);
    EXPECT_GE(r.variant->fd.get(), 0);
    ASSERT_EQ(r.plan.body.size(), 1u);
    EXPECT_TRUE(r.plan.body[0].from_file);
    EXPECT_EQ(r.plan.body[0].length, 5000u);
}

TEST_F(StaticFilesTest, Ranges) {
    StaticFiles sf = make();
    Response r;
    http::Request req = get("/a.txt");
    req.range = "bytes=7-11";
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 206);
    EXPECT_EQ(r.plan.find(FieldName::ContentRange), "bytes 7-11/13");
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), "5");
    EXPECT_NE(h1(r.plan).find("Vary: Accept-Encoding\r\nContent-Range: bytes 7-11/13\r\n\r\n"),
              std::string::npos);
    ASSERT_EQ(r.plan.body.size(), 1u);
    EXPECT_TRUE(r.plan.body[0].from_file);
    EXPECT_EQ(r.plan.body[0].offset, 7u);
    EXPECT_EQ(r.plan.body[0].length, 5u);
    EXPECT_EQ(r.variant->bytes.substr(7, 5), "world");

    req.range = "bytes=0-1,-2";
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 206);
    const std::string ct(r.plan.find(FieldName::ContentType));
    ASSERT_TRUE(ct.starts_with("multipart/byteranges; boundary=")) << ct;
    EXPECT_EQ(r.plan.find(FieldName::ContentRange), "");
    ASSERT_EQ(r.plan.body.size(), 5u);
    uint64_t total = 0;
    for (size_t i = 0; i < r.plan.body.size(); ++i) {
        EXPECT_EQ(r.plan.body[i].from_file, i % 2 == 1) << i;
        total += r.plan.body[i].length;
    }
    EXPECT_EQ(r.plan.body[1].offset, 0u);
    EXPECT_EQ(r.plan.body[1].length, 2u);
    EXPECT_EQ(r.plan.body[3].offset, 11u);
    EXPECT_EQ(r.plan.body[3].length, 2u);
    EXPECT_NE(r.plan.body[2].literal.find("Content-Range: bytes 11-12/13\r\n"),
              std::string::npos);
    EXPECT_EQ(r.plan.body_length, total);
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), std::to_string(total));

    req.range = "bytes=13-";
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 416);
    EXPECT_EQ(r.plan.find(FieldName::ContentRange), "bytes */13");
    EXPECT_EQ(r.plan.find(FieldName::ContentType), "text/html; charset=utf-8");
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), std::to_string(r.plan.body_length));
    EXPECT_NE(literal_body(r.plan).find("416 Range Not Satisfiable"), std::string::npos);
    EXPECT_TRUE(r.plan.keep_alive);
}

TEST_F(StaticFilesTest, Conditionals) {
    StaticFiles sf = make();
    const files::Variant& id = variant("/a.txt", files::Coding::Identity);
    Response r;
    http::Request req = get("/a.txt");
    req.if_none_match = id.etag;
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 304);
    const std::vector<F> want = {
        {"server", "sluice-test"},          {"date", date()},
        {"last-modified", last_modified(id)}, {"etag", id.etag},
        {"vary", "Accept-Encoding"},
    };
    EXPECT_EQ(fields(r.plan), want);
    EXPECT_TRUE(r.plan.body.empty());
    EXPECT_EQ(r.plan.body_length, 0u);

    req = get("/a.txt");
    req.if_match = "\"nope\"";
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 412);
    EXPECT_NE(literal_body(r.plan).find("412 Precondition Failed"), std::string::npos);
    EXPECT_TRUE(r.plan.keep_alive);

    // The other variant's ETag does not match this one.
    req = get("/a.txt");
    req.accept_encoding = "gzip";
    req.if_none_match = id.etag;
    sf.handle(req, r);
    EXPECT_EQ(r.plan.status, 200);
}

TEST_F(StaticFilesTest, RedirectKeepsTheQuery) {
    StaticFiles sf = make();
    Response r;
    sf.handle(get("/dir?x=1&y=%20"), r);
    EXPECT_EQ(r.plan.status, 301);
    EXPECT_EQ(r.plan.find(FieldName::Location), "/dir/?x=1&y=%20");
    EXPECT_EQ(r.variant, nullptr);
    EXPECT_FALSE(r.hold);
    const std::string body = literal_body(r.plan);
    EXPECT_EQ(h1(r.plan), "HTTP/1.1 301 Moved Permanently\r\n"
                          "Server: sluice-test\r\n"
                          "Date: " + date() + "\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n"
                          "Location: /dir/?x=1&y=%20\r\n"
                          "\r\n");
    EXPECT_EQ(body, "<html><head><title>301 Moved Permanently</title></head><body><h1>301 "
                    "Moved Permanently</h1></body></html>\n");

    sf.handle(get("/dir"), r);
    EXPECT_EQ(r.plan.find(FieldName::Location), "/dir/");

    // With the index: the directory's index.html.
    sf.handle(get("/dir/"), r);
    EXPECT_EQ(r.plan.status, 200);
    EXPECT_EQ(r.plan.find(FieldName::ContentType), "text/html; charset=utf-8");
    EXPECT_EQ(r.variant->bytes, "<p>index</p>\n");
}

TEST_F(StaticFilesTest, DirectoryWithoutIndex) {
    Response r;
    make().handle(get("/list/"), r);
    EXPECT_EQ(r.plan.status, 403);
    EXPECT_TRUE(r.plan.keep_alive);

    make(true).handle(get("/list/"), r);
    EXPECT_EQ(r.plan.status, 200);
    EXPECT_EQ(r.plan.find(FieldName::ContentType), "text/html; charset=utf-8");
    const std::string body = literal_body(r.plan);
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), std::to_string(body.size()));
    EXPECT_EQ(r.plan.body_length, body.size());
    EXPECT_TRUE(body.starts_with("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                                 "Index of /list/</title>"))
        << body;
    // Names are escaped for HTML in the text and percent-encoded in the href.
    EXPECT_NE(body.find("<a href=\"%3Cb%3E%26%27q%27.txt\">&lt;b&gt;&amp;&#39;q&#39;.txt</a>"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find("<a href=\"sub/\">sub/</a>"), std::string::npos);
    EXPECT_NE(body.find("<a href=\"x.txt\">x.txt</a>"), std::string::npos);
    EXPECT_EQ(body.find(".hidden"), std::string::npos);
    EXPECT_EQ(body.find("<b>"), std::string::npos);

    make(true, true).handle(get("/list/"), r);
    EXPECT_NE(literal_body(r.plan).find("<a href=\".hidden\">.hidden</a>"), std::string::npos);

    // HEAD: the same Content-Length, no body.
    const std::string length(r.plan.find(FieldName::ContentLength));
    make(true, true).handle(with_method(get("/list/"), http::Method::Head, "HEAD"), r);
    EXPECT_EQ(r.plan.find(FieldName::ContentLength), length);
    EXPECT_TRUE(r.plan.body.empty());
}

TEST_F(StaticFilesTest, DotfilesAndMissing) {
    Response r;
    make().handle(get("/.secret"), r);
    EXPECT_EQ(r.plan.status, 404);
    EXPECT_TRUE(r.plan.keep_alive);
    EXPECT_FALSE(r.bad_request);
    make(false, true).handle(get("/.secret"), r);
    EXPECT_EQ(r.plan.status, 200);
    make().handle(get("/missing.txt"), r);
    EXPECT_EQ(r.plan.status, 404);
    EXPECT_NE(literal_body(r.plan).find("404 Not Found"), std::string::npos);
    // HEAD of an error: Content-Length of the body it would have, no body.
    make().handle(with_method(get("/missing.txt"), http::Method::Head, "HEAD"), r);
    EXPECT_EQ(r.plan.status, 404);
    EXPECT_NE(r.plan.find(FieldName::ContentLength), "");
    EXPECT_TRUE(r.plan.body.empty());
}

TEST_F(StaticFilesTest, MethodsAndOptions) {
    StaticFiles sf = make();
    Response r;
    sf.handle(with_method(get("/a.txt"), http::Method::Other, "DELETE"), r);
    EXPECT_EQ(r.plan.status, 405);
    EXPECT_EQ(r.plan.find(FieldName::Allow), "GET, HEAD, OPTIONS");
    EXPECT_TRUE(r.plan.keep_alive);
    EXPECT_FALSE(r.bad_request);
    EXPECT_NE(h1(r.plan).find("\r\nAllow: GET, HEAD, OPTIONS\r\n\r\n"), std::string::npos);

    http::Request opt = with_method(get("*"), http::Method::Options, "OPTIONS");
    opt.form = http::TargetForm::Asterisk;
    sf.handle(opt, r);
    EXPECT_EQ(r.plan.status, 200);
    const std::vector<F> want = {
        {"server", "sluice-test"},
        {"date", date()},
        {"allow", "GET, HEAD, OPTIONS"},
        {"content-length", "0"},
    };
    EXPECT_EQ(fields(r.plan), want);
    EXPECT_TRUE(r.plan.body.empty());

    // Any well-formed path, existing or not, gets the same answer; a malformed one is 400.
    sf.handle(with_method(get("/nothing/here"), http::Method::Options, "OPTIONS"), r);
    EXPECT_EQ(r.plan.status, 200);
    sf.handle(with_method(get("/%zz"), http::Method::Options, "OPTIONS"), r);
    EXPECT_EQ(r.plan.status, 400);
    EXPECT_TRUE(r.bad_request);
    EXPECT_FALSE(r.plan.keep_alive);
}

TEST_F(StaticFilesTest, MalformedTargetIsABadRequest) {
    StaticFiles sf = make();
    Response r;
    for (std::string_view t : {"/%00", "/a%2Fb", "/%C0%AE", "/..", "/%"}) {
        // Even for HEAD the 400 carries its body, and the connection is not kept.
        sf.handle(with_method(get(t), http::Method::Head, "HEAD"), r);
        EXPECT_EQ(r.plan.status, 400) << t;
        EXPECT_TRUE(r.bad_request) << t;
        EXPECT_FALSE(r.plan.keep_alive) << t;
        EXPECT_NE(literal_body(r.plan).find("400 Bad Request"), std::string::npos) << t;
        EXPECT_TRUE(h1(r.plan).ends_with("Connection: close\r\n\r\n")) << t;
    }
    // The next request on the same Response starts clean.
    sf.handle(get("/a.txt"), r);
    EXPECT_EQ(r.plan.status, 200);
    EXPECT_FALSE(r.bad_request);
    EXPECT_TRUE(r.plan.keep_alive);
}

TEST_F(StaticFilesTest, ErrorWithoutARequest) {
    StaticFiles sf = make();
    Response r;
    sf.handle(get("/a.txt"), r);  // leaves a variant and a hold behind
    sf.error(400, r);
    EXPECT_EQ(r.plan.status, 400);
    EXPECT_FALSE(r.plan.keep_alive);
    EXPECT_EQ(r.variant, nullptr);
    EXPECT_FALSE(r.hold);
    const std::string body = literal_body(r.plan);
    EXPECT_EQ(h1(r.plan, 0), "HTTP/1.1 400 Bad Request\r\n"
                             "Server: sluice-test\r\n"
                             "Date: " + date() + "\r\n"
                             "Content-Type: text/html; charset=utf-8\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n"
                             "Connection: close\r\n"
                             "\r\n");
    sf.error(405, r);
    EXPECT_EQ(r.plan.find(FieldName::Allow), "GET, HEAD, OPTIONS");
    sf.error(431, r);
    EXPECT_EQ(r.plan.status, 431);
    EXPECT_NE(literal_body(r.plan).find("431 Request Header Fields Too Large"), std::string::npos);
    EXPECT_EQ(r.plan.find(FieldName::Allow), "");
}

TEST_F(StaticFilesTest, KeepAliveIsTheRequests) {
    StaticFiles sf = make();
    Response r;
    http::Request req = get("/a.txt");
    req.keep_alive = false;
    sf.handle(req, r);
    EXPECT_FALSE(r.plan.keep_alive);
    EXPECT_TRUE(h1(r.plan).ends_with("Vary: Accept-Encoding\r\nConnection: close\r\n\r\n"));
    sf.handle(get("/missing"), r);
    EXPECT_TRUE(r.plan.keep_alive);
}

TEST_F(StaticFilesTest, Http2RequestGetsTheSameFields) {
    // An HTTP/2 session fills the request from pseudo-headers: :path as target, version 2.0.
    StaticFiles sf = make();
    Response h1_resp;
    Response h2_resp;
    sf.handle(get("/a.txt?v=2"), h1_resp);
    http::Request req = get("/a.txt?v=2");
    req.version_major = 2;
    req.version_minor = 0;
    sf.handle(req, h2_resp);
    EXPECT_EQ(h2_resp.plan.status, 200);
    EXPECT_EQ(fields(h2_resp.plan), fields(h1_resp.plan));
    EXPECT_EQ(h2_resp.variant, h1_resp.variant);
}

TEST_F(StaticFilesTest, ClearKeepsNothingAlive) {
    StaticFiles sf = make();
    Response r;
    sf.handle(get("/a.txt"), r);
    ASSERT_TRUE(r.hold);
    std::weak_ptr<files::Resource> weak = r.hold;
    cache_->clear();
    EXPECT_FALSE(weak.expired());  // the response holds it
    r.clear();
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(r.variant, nullptr);
    EXPECT_EQ(r.plan.field_count(), 0u);
    EXPECT_TRUE(r.plan.body.empty());
}

template <typename Fn>
int run_unprivileged(Fn fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(100);
        }
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

TEST_F(StaticFilesTest, UnreadableFileIsForbidden) {
    tree_.write("locked.txt", "no");
    ASSERT_EQ(::chmod(tree_.in_root("locked.txt").c_str(), 0), 0);
    auto check = [&] {
        StaticFiles sf = make();
        Response r;
        sf.handle(get("/locked.txt"), r);
        if (r.plan.status != 403) return 2;
        if (!r.plan.keep_alive || r.bad_request || r.variant) return 3;
        sf.handle(get("/a.txt"), r);  // control
        return r.plan.status == 200 ? 0 : 1;
    };
    if (::geteuid() != 0) {
        EXPECT_EQ(check(), 0);
        return;
    }
    // Root bypasses file permissions: drop to "nobody" in a child. The temp dir is 0700
    // (mkdtemp); let it traverse.
    ASSERT_EQ(::chmod(std::filesystem::path(tree_.root()).parent_path().c_str(), 0755), 0);
    int rc = run_unprivileged(check);
    if (rc == 100) GTEST_SKIP() << "could not drop privileges to uid 65534";
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace sluice::handler
