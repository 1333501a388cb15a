#include "files/path.h"

#include <gtest/gtest.h>

#include <optional>

namespace sluice::files {
namespace {

struct Case {
    const char* target;
    bool allow_dotfiles;
    int status;                  // 0 = accepted
    const char* rel;             // when accepted
    bool trailing_slash;         // when accepted
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << "target=" << c.target; }

class CleanTargetTest : public ::testing::TestWithParam<Case> {};

TEST_P(CleanTargetTest, Table) {
    const Case& c = GetParam();
    auto r = clean_target(c.target, c.allow_dotfiles);
    if (c.status != 0) {
        ASSERT_FALSE(r.has_value()) << "rel=" << r->rel;
        EXPECT_EQ(r.error(), c.status);
    } else {
        ASSERT_TRUE(r.has_value()) << "status=" << r.error();
        EXPECT_EQ(r->rel, c.rel);
        EXPECT_EQ(r->trailing_slash, c.trailing_slash);
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, CleanTargetTest, ::testing::Values(
    // Plain paths and normalisation.
    Case{"/", false, 0, "", true},
    Case{"/index.html", false, 0, "index.html", false},
    Case{"/a/b/", false, 0, "a/b", true},
    Case{"/a/../b", false, 0, "b", false},
    Case{"/a/./b//c", false, 0, "a/b/c", false},
    Case{"//a///b", false, 0, "a/b", false},
    Case{"/a/..", false, 0, "", true},
    Case{"/a/.", false, 0, "a", true},
    Case{"/a/b/../../c", false, 0, "c", false},
    // Climbing above the root.
    Case{"/../x", false, 400, "", false},
    Case{"/..", false, 400, "", false},
    Case{"/a/../../x", false, 400, "", false},
    Case{"/%2e%2e/x", false, 400, "", false},
    Case{"/.%2E/x", false, 400, "", false},
    // Query and fragment are stripped before decoding.
    Case{"/a?x", false, 0, "a", false},
    Case{"/a?x=/../../%00", false, 0, "a", false},
    Case{"/a/#frag", false, 0, "a", true},
    Case{"/a%3Fb", false, 0, "a?b", false},
    // Forbidden or malformed escapes.
    Case{"/a%2Fb", false, 400, "", false},
    Case{"/a%2fb", false, 400, "", false},
    Case{"/..%2f", false, 400, "", false},
    Case{"/a%00b", false, 400, "", false},
    Case{"/a%zz", false, 400, "", false},
    Case{"/a%4", false, 400, "", false},
    Case{"/a%", false, 400, "", false},
    Case{"/a%4g", false, 400, "", false},
    Case{"/a\\b", false, 400, "", false},
    Case{"/a%5Cb", false, 400, "", false},
    Case{"/a%5c..%5c..%5cetc", false, 400, "", false},
    // Not origin-form.
    Case{"", false, 400, "", false},
    Case{"*", false, 400, "", false},
    Case{"a/b", false, 400, "", false},
    Case{"?x", false, 400, "", false},
    Case{"http://host/p", false, 400, "", false},
    // Decoded exactly once: "%252e" is the literal text "%2e", a normal name.
    Case{"/%252e%252e", false, 0, "%2e%2e", false},
    Case{"/a/%252e%252e/b", false, 0, "a/%2e%2e/b", false},
    Case{"/%252F", false, 0, "%2F", false},
    Case{"/a/%2e%2e/b", false, 0, "b", false},
    Case{"/a/%2E/b", false, 0, "a/b", false},
    Case{"/%2e", false, 0, "", true},
    Case{"/sp%20ace", false, 0, "sp ace", false},
    // UTF-8 names decode to their bytes.
    Case{"/caf%C3%A9.txt", false, 0, "caf\xC3\xA9.txt", false},
    Case{"/%E2%9C%93/%F0%9F%98%80", false, 0, "\xE2\x9C\x93/\xF0\x9F\x98\x80", false},
    Case{"/%e2%9c%93", false, 0, "\xE2\x9C\x93", false},
    Case{"/%F4%8F%BF%BF", false, 0, "\xF4\x8F\xBF\xBF", false},  // U+10FFFF
    Case{"/%EF%BB%BF", false, 0, "\xEF\xBB\xBF", false},
    Case{"/%C2%80", false, 0, "\xC2\x80", false},
    // Invalid UTF-8 once decoded: overlong forms (a '.' or '/' in disguise), stray or
    // missing continuation bytes, surrogates, beyond U+10FFFF.
    Case{"/%C0%AE", false, 400, "", false},
    Case{"/%C0%AE%C0%AE/x", false, 400, "", false},
    Case{"/a/%C0%AE/../b", false, 400, "", false},
    Case{"/%C0%AF", false, 400, "", false},
    Case{"/%C1%BF", false, 400, "", false},
    Case{"/%E0%80%AE", false, 400, "", false},
    Case{"/%E0%9F%BF", false, 400, "", false},
    Case{"/%F0%80%80%AE", false, 400, "", false},
    Case{"/%F0%8F%BF%BF", false, 400, "", false},
    Case{"/%ED%A0%80", false, 400, "", false},
    Case{"/%ED%BF%BF", false, 400, "", false},
    Case{"/%F4%90%80%80", false, 400, "", false},
    Case{"/%F5%80%80%80", false, 400, "", false},
    Case{"/%FF", false, 400, "", false},
    Case{"/%80", false, 400, "", false},
    Case{"/a%BFb", false, 400, "", false},
    Case{"/caf%C3", false, 400, "", false},
    Case{"/caf%C3/x", false, 400, "", false},
    Case{"/%E2%9C", false, 400, "", false},
    Case{"/%E2%28%A1", false, 400, "", false},
    Case{"/%F0%9F%98", false, 400, "", false},
    Case{"/.%C0%AE", true, 400, "", false},
    // Dotfiles.
    Case{"/.git/config", false, 404, "", false},
    Case{"/a/.env", false, 404, "", false},
    Case{"/a/...", false, 404, "", false},
    Case{"/%2egit/config", false, 404, "", false},
    Case{"/.git/config", true, 0, ".git/config", false},
    Case{"/a/.env", true, 0, "a/.env", false},
    Case{"/.git/../x", false, 0, "x", false},
    Case{"/.well-known/acme-challenge/tok", false, 0, ".well-known/acme-challenge/tok", false},
    Case{"/.well-known/", false, 0, ".well-known", true},
    Case{"/.well-known/.secret", false, 404, "", false},
    Case{"/.well-knownx/a", false, 404, "", false},
    Case{"/a/.well-known/x", false, 404, "", false}));

TEST(HtmlEscape, EscapesMarkupCharacters) {
    EXPECT_EQ(html_escape(R"(<a href="x">Tom & 'Jerry'</a>)"),
              "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
    EXPECT_EQ(html_escape("plain caf\xC3\xA9"), "plain caf\xC3\xA9");
    EXPECT_EQ(html_escape(""), "");
}

TEST(UrlEscapeSegment, KeepsUnreservedOnly) {
    EXPECT_EQ(url_escape_segment("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(url_escape_segment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
    EXPECT_EQ(url_escape_segment("caf\xC3\xA9"), "caf%C3%A9");
    EXPECT_EQ(url_escape_segment("\"<x>&"), "%22%3Cx%3E%26");
}

TEST(UrlEscapeSegment, RoundTripsThroughCleanTarget) {
    std::string name = "we ird?#%2F%name\xC3\xA9.txt";
    auto r = clean_target("/dir/" + url_escape_segment(name), false);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->rel, "dir/" + name);
}

}  // namespace
}  // namespace sluice::files
