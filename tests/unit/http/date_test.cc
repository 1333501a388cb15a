#include "http/date.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

constexpr time_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(Date, FormatsImfFixdate) {
    char buf[kHttpDateLen + 1] = {};
    format_http_date(kRfcExample, buf);
    EXPECT_EQ(std::string(buf), "Sun, 06 Nov 1994 08:49:37 GMT");
    format_http_date(0, buf);
    EXPECT_EQ(std::string(buf), "Thu, 01 Jan 1970 00:00:00 GMT");
    format_http_date(951782400, buf);  // leap day
    EXPECT_EQ(std::string(buf), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(Date, ParsesAllThreeForms) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kRfcExample);
    EXPECT_EQ(parse_http_date("Thu Nov 17 08:49:37 1994"), kRfcExample + 11 * 86400);
    // A two-digit year is never placed more than 50 years in the future.
    EXPECT_EQ(parse_http_date("Friday, 06-Nov-20 08:49:37 GMT"),
              parse_http_date("Fri, 06 Nov 2020 08:49:37 GMT"));
}

TEST(Date, RoundTrips) {
    char buf[kHttpDateLen];
    for (time_t t : {time_t{0}, kRfcExample, time_t{1700000000}, time_t{4102444799}}) {
        format_http_date(t, buf);
        EXPECT_EQ(parse_http_date(std::string_view(buf, kHttpDateLen)), t);
    }
}

TEST(Date, RejectsMalformed) {
    for (const char* bad : {
             "",
             "yesterday",
             "Sun, 06 Nov 1994 08:49:37",           // no zone
             "Sun, 06 Nov 1994 08:49:37 UTC",       // wrong zone
             "Sun, 6 Nov 1994 08:49:37 GMT",        // one-digit day
             "Sun, 06 Foo 1994 08:49:37 GMT",       // bad month
             "Sun, 31 Nov 1994 08:49:37 GMT",       // no such day
             "Sun, 29 Feb 1995 08:49:37 GMT",       // not a leap year
             "Sun, 06 Nov 1994 24:00:00 GMT",       // hour out of range
             "Sun, 06 Nov 1994 08:60:00 GMT",       // minute out of range
             "Sun, 06 Nov 1994 08:49:37 GMT ",      // trailing junk
             "Xyz, 06 Nov 1994 08:49:37 GMT",       // bad day name
             "Sunday, 06-Nov-1994 08:49:37 GMT",    // RFC 850 with 4-digit year
             "Sun Nov 6 08:49:37 1994",             // asctime without padding
             "Sun, 06 Nov 1994 08:49:3a GMT",
         }) {
        EXPECT_FALSE(parse_http_date(bad).has_value()) << bad;
    }
}

TEST(Date, CacheMatchesFormatOfNow) {
    DateCache cache;
    std::string_view first = cache.now();
    ASSERT_EQ(first.size(), kHttpDateLen);
    auto parsed = parse_http_date(first);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_LE(std::abs(static_cast<long>(*parsed - time(nullptr))), 2);
    // Same buffer reused: no allocation per call.
    EXPECT_EQ(cache.now().data(), first.data());
}

}  // namespace
}  // namespace sluice::http
