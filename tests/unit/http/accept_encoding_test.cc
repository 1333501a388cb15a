#include "http/accept_encoding.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

constexpr unsigned kAll = encoding_bit(Encoding::Gzip) | encoding_bit(Encoding::Zstd) |
                          encoding_bit(Encoding::Br);
constexpr unsigned kGzip = encoding_bit(Encoding::Gzip);

TEST(AcceptEncoding, NamesAndSuffixes) {
    EXPECT_EQ(encoding_name(Encoding::Gzip), "gzip");
    EXPECT_EQ(encoding_name(Encoding::Zstd), "zstd");
    EXPECT_EQ(encoding_name(Encoding::Br), "br");
    EXPECT_EQ(encoding_name(Encoding::Identity), "");
    EXPECT_EQ(encoding_suffix(Encoding::Gzip), ".gz");
    EXPECT_EQ(encoding_suffix(Encoding::Zstd), ".zst");
    EXPECT_EQ(encoding_suffix(Encoding::Br), ".br");
    EXPECT_EQ(encoding_suffix(Encoding::Identity), "");
}

TEST(AcceptEncoding, AbsentOrEmptyIsIdentity) {
    EXPECT_EQ(choose_encoding("", kAll), Encoding::Identity);
    EXPECT_EQ(choose_encoding("unknown", kAll), Encoding::Identity);
}

TEST(AcceptEncoding, OnlyAvailableVariants) {
    EXPECT_EQ(choose_encoding("gzip, br", 0), Encoding::Identity);
    EXPECT_EQ(choose_encoding("gzip, br", kGzip), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("br", kGzip), Encoding::Identity);
}

TEST(AcceptEncoding, TiesPreferBrThenZstdThenGzip) {
    EXPECT_EQ(choose_encoding("gzip, deflate, br, zstd", kAll), Encoding::Br);
    EXPECT_EQ(choose_encoding("gzip, zstd", kAll), Encoding::Zstd);
    EXPECT_EQ(choose_encoding("gzip", kAll), Encoding::Gzip);  // beats implicit identity
    EXPECT_EQ(choose_encoding("gzip, identity", kAll), Encoding::Gzip);
}

TEST(AcceptEncoding, QValues) {
    EXPECT_EQ(choose_encoding("br;q=0.5, gzip;q=0.8", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("br;q=0.801, gzip;q=0.8", kAll), Encoding::Br);
    EXPECT_EQ(choose_encoding("br ; q=1.0 , gzip;Q=0.999", kAll), Encoding::Br);
    // Unlisted identity ranks below any listed coding; a listed identity competes on q.
    EXPECT_EQ(choose_encoding("gzip;q=0.5", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("gzip;q=0.001", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("gzip;q=0.5, identity;q=0.1", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("gzip;q=0.5, identity", kAll), Encoding::Identity);
    // Malformed weights drop the element.
    EXPECT_EQ(choose_encoding("br;q=2, gzip", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("br;q=0.1234, gzip", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("br;q=1.5, gzip", kAll), Encoding::Gzip);
}

TEST(AcceptEncoding, QZeroRefuses) {
    EXPECT_EQ(choose_encoding("br;q=0, gzip", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("gzip;q=0", kGzip), Encoding::Identity);
    EXPECT_EQ(choose_encoding("gzip;q=0.000", kGzip), Encoding::Identity);
    // Even a refused identity yields identity: we never answer 406.
    EXPECT_EQ(choose_encoding("identity;q=0, gzip;q=0", kGzip), Encoding::Identity);
}

TEST(AcceptEncoding, StarAndAliases) {
    EXPECT_EQ(choose_encoding("*", kAll), Encoding::Br);
    EXPECT_EQ(choose_encoding("*", kGzip), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("*;q=0.5, gzip", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("gzip;q=0.5, *;q=0", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("br;q=0, *", encoding_bit(Encoding::Br)), Encoding::Identity);
    EXPECT_EQ(choose_encoding("x-gzip", kAll), Encoding::Gzip);
    EXPECT_EQ(choose_encoding("GZIP, BR", kAll), Encoding::Br);
}

}  // namespace
}  // namespace sluice::http
