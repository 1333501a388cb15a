#include "http/conditional.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

constexpr std::string_view kEtag = "\"abc\"";
constexpr time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kAtMtime = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";

Request get() {
    Request r;
    r.method = Method::Get;
    return r;
}

TEST(Etag, StrongAndWeakComparison) {
    EXPECT_TRUE(etag_list_matches("\"abc\"", kEtag, false));
    EXPECT_TRUE(etag_list_matches("\"abc\"", kEtag, true));
    EXPECT_FALSE(etag_list_matches("W/\"abc\"", kEtag, false));
    EXPECT_TRUE(etag_list_matches("W/\"abc\"", kEtag, true));
    EXPECT_FALSE(etag_list_matches("\"abd\"", kEtag, true));
    EXPECT_TRUE(etag_list_matches("\"x\", W/\"y\" ,\"abc\"", kEtag, false));
    EXPECT_TRUE(etag_list_matches("*", kEtag, false));
    EXPECT_TRUE(etag_list_matches(" * ", kEtag, true));
    EXPECT_FALSE(etag_list_matches("", kEtag, true));
    EXPECT_FALSE(etag_list_matches("abc", kEtag, true));  // unquoted: malformed
    EXPECT_FALSE(etag_list_matches("\"abc", kEtag, true));
    // A weak local tag never matches strongly.
    EXPECT_FALSE(etag_list_matches("W/\"abc\"", "W/\"abc\"", false));
    EXPECT_TRUE(etag_list_matches("\"abc\"", "W/\"abc\"", true));
}

TEST(Preconditions, NoneIsProceed) {
    EXPECT_EQ(evaluate_preconditions(get(), kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, IfMatch) {
    Request r = get();
    r.if_match = std::string("\"abc\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
    r.if_match = std::string("*");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
    r.if_match = std::string("\"zzz\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
    r.if_match = "W/\"abc\"";  // strong comparison
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
    // If-Match takes precedence: If-Unmodified-Since is not evaluated.
    r.if_match = std::string("\"abc\"");
    r.if_unmodified_since = std::string(kBefore);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, IfUnmodifiedSince) {
    Request r = get();
    r.if_unmodified_since = std::string(kBefore);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
    r.if_unmodified_since = std::string(kAtMtime);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
    r.if_unmodified_since = std::string("garbage");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, IfNoneMatch) {
    Request r = get();
    r.if_none_match = std::string("\"abc\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.if_none_match = "W/\"abc\"";  // weak comparison
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.if_none_match = std::string("\"x\", \"abc\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.if_none_match = std::string("*");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.method = Method::Head;
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.method = Method::Other;
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
    r.method = Method::Get;
    r.if_none_match = std::string("\"other\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, IfNoneMatchOverridesIfModifiedSince) {
    Request r = get();
    r.if_none_match = std::string("\"other\"");
    r.if_modified_since = kAfter;  // would be 304 on its own
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, IfModifiedSince) {
    Request r = get();
    r.if_modified_since = std::string(kAtMtime);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.if_modified_since = std::string(kAfter);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::NotModified);
    r.if_modified_since = std::string(kBefore);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
    r.if_modified_since = std::string("not a date");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
    r.if_modified_since = std::string(kAtMtime);
    r.method = Method::Other;  // only GET/HEAD
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::Proceed);
}

TEST(Preconditions, FailedIfMatchBeatsNotModified) {
    Request r = get();
    r.if_match = std::string("\"zzz\"");
    r.if_none_match = std::string("\"abc\"");
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
    r = get();
    r.if_unmodified_since = std::string(kBefore);
    r.if_modified_since = std::string(kAfter);
    EXPECT_EQ(evaluate_preconditions(r, kEtag, kMtime), Precondition::PreconditionFailed);
}

TEST(IfRange, EtagAndDate) {
    EXPECT_TRUE(if_range_allows("", kEtag, kMtime));
    EXPECT_TRUE(if_range_allows("\"abc\"", kEtag, kMtime));
    EXPECT_FALSE(if_range_allows("\"abd\"", kEtag, kMtime));
    EXPECT_FALSE(if_range_allows("W/\"abc\"", kEtag, kMtime));
    EXPECT_TRUE(if_range_allows(kAtMtime, kEtag, kMtime));
    EXPECT_FALSE(if_range_allows(kAfter, kEtag, kMtime));
    EXPECT_FALSE(if_range_allows(kBefore, kEtag, kMtime));
    EXPECT_FALSE(if_range_allows("garbage", kEtag, kMtime));
}

}  // namespace
}  // namespace sluice::http
