#include "http/range.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

std::vector<std::pair<uint64_t, uint64_t>> pairs(const RangeSet& s) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const ByteRange& r : s.ranges) out.emplace_back(r.first, r.last);
    return out;
}

using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(Range, SingleForms) {
    RangeSet s = parse_range("bytes=0-499", 10000);
    ASSERT_EQ(s.kind, RangeKind::Satisfiable);
    EXPECT_EQ(pairs(s), (Pairs{{0, 499}}));
    EXPECT_EQ(s.ranges[0].length(), 500u);

    EXPECT_EQ(pairs(parse_range("bytes=9500-", 10000)), (Pairs{{9500, 9999}}));
    EXPECT_EQ(pairs(parse_range("bytes=-500", 10000)), (Pairs{{9500, 9999}}));
    EXPECT_EQ(pairs(parse_range("BYTES=5-5", 10000)), (Pairs{{5, 5}}));
    EXPECT_EQ(pairs(parse_range("Bytes=0-0", 1)), (Pairs{{0, 0}}));
}

TEST(Range, Clamping) {
    EXPECT_EQ(pairs(parse_range("bytes=0-99999", 100)), (Pairs{{0, 99}}));
    EXPECT_EQ(pairs(parse_range("bytes=-1000", 100)), (Pairs{{0, 99}}));  // suffix > length
    EXPECT_EQ(pairs(parse_range("bytes=50-99999999999999999999999", 100)), (Pairs{{50, 99}}));
}

TEST(Range, Unsatisfiable) {
    EXPECT_EQ(parse_range("bytes=100-", 100).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=100-200", 100).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-0", 100).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=200-300, 100-", 100).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100).kind,
              RangeKind::Unsatisfiable);
    // The unsatisfiable member is dropped; the rest is served.
    EXPECT_EQ(pairs(parse_range("bytes=200-300, 10-19", 100)), (Pairs{{10, 19}}));
}

TEST(Range, ZeroLengthRepresentation) {
    EXPECT_EQ(parse_range("bytes=0-0", 0).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-", 0).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-5", 0).kind, RangeKind::Unsatisfiable);
    EXPECT_EQ(parse_range("bytes=5-1", 0).kind, RangeKind::None);
    EXPECT_EQ(parse_range("bytes=x", 0).kind, RangeKind::None);
}

TEST(Range, InvalidIsIgnored) {
    for (const char* bad : {"", "bytes", "bytes=", "bytes= ,", "items=0-1", "bytes 0-1",
                            "bytes=a-b", "bytes=5-1", "bytes=1-2-3", "bytes=-", "bytes=1",
                            "bytes=0-1;x", "bytes=--1", "bytes=0-1, x", "bytes=+1-2"}) {
        RangeSet s = parse_range(bad, 100);
        EXPECT_EQ(s.kind, RangeKind::None) << bad;
        EXPECT_TRUE(s.ranges.empty()) << bad;
    }
}

TEST(Range, MultipleWithWhitespace) {
    RangeSet s = parse_range("bytes=0-9 ,  20-29,\t-5", 100);
    ASSERT_EQ(s.kind, RangeKind::Satisfiable);
    // More than two ranges are sorted and coalesced; these are disjoint so all three remain.
    EXPECT_EQ(pairs(s), (Pairs{{0, 9}, {20, 29}, {95, 99}}));

    // Two disjoint ranges keep the order in which they were asked for.
    EXPECT_EQ(pairs(parse_range("bytes=50-59,0-9", 100)), (Pairs{{50, 59}, {0, 9}}));
    // Two adjacent (non-overlapping) ranges are left alone.
    EXPECT_EQ(pairs(parse_range("bytes=0-9,10-19", 100)), (Pairs{{0, 9}, {10, 19}}));
    // Empty list elements are allowed.
    EXPECT_EQ(pairs(parse_range("bytes=,0-1,,", 100)), (Pairs{{0, 1}}));
}

TEST(Range, CoalescesOverlapsAndManyRanges) {
    EXPECT_EQ(pairs(parse_range("bytes=0-50,40-60", 100)), (Pairs{{0, 60}}));
    EXPECT_EQ(pairs(parse_range("bytes=0-9,10-19,20-29", 100)), (Pairs{{0, 29}}));
    EXPECT_EQ(pairs(parse_range("bytes=30-39,0-4,5-9", 100)), (Pairs{{0, 9}, {30, 39}}));
    EXPECT_EQ(pairs(parse_range("bytes=-10,0-", 100)), (Pairs{{0, 99}}));

    // 1000 one-byte ranges that all touch coalesce into one.
    std::string many = "bytes=";
    for (int i = 0; i < 1000; ++i) many += std::to_string(i) + "-" + std::to_string(i) + ",";
    EXPECT_EQ(pairs(parse_range(many, 5000)), (Pairs{{0, 999}}));

    // kMaxRanges disjoint ranges are honoured; one more is too many.
    std::string ok = "bytes=";
    auto one_byte = [](size_t at) { return std::to_string(at) + "-" + std::to_string(at); };
    for (size_t i = 0; i < kMaxRanges; ++i) ok += one_byte(i * 2) + ",";
    EXPECT_EQ(parse_range(ok, 1000).ranges.size(), kMaxRanges);
    std::string too_many = ok + one_byte(kMaxRanges * 2);
    EXPECT_EQ(parse_range(too_many, 1000).kind, RangeKind::None);
}

}  // namespace
}  // namespace sluice::http
