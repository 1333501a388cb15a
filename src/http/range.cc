// http/range.cc — byte-range parsing, clamping and coalescing.
#include "http/range.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace sluice::http {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses 1*DIGIT at s[pos]; saturates at UINT64_MAX (a huge first-pos is simply unsatisfiable).
bool parse_u64(std::string_view s, size_t& pos, uint64_t& out) {
    size_t start = pos;
    uint64_t v = 0;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    while (pos < s.size() && is_digit(s[pos])) {
        auto d = static_cast<uint64_t>(s[pos] - '0');
        v = (v > (kMax - d) / 10) ? kMax : v * 10 + d;
        ++pos;
    }
    out = v;
    return pos > start;
}

bool overlaps_any(const std::vector<ByteRange>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
        for (size_t j = i + 1; j < r.size(); ++j) {
            if (r[i].first <= r[j].last && r[j].first <= r[i].last) return true;
        }
    }
    return false;
}

// Sorts and merges overlapping or adjacent ranges.
void coalesce(std::vector<ByteRange>& r) {
    std::sort(r.begin(), r.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    size_t out = 0;
    for (size_t i = 1; i < r.size(); ++i) {
        if (r[i].first <= r[out].last + 1) {
            r[out].last = std::max(r[out].last, r[i].last);
        } else {
            r[++out] = r[i];
        }
    }
    r.resize(out + 1);
}

}  // namespace

RangeSet parse_range(std::string_view header, uint64_t length) {
    RangeSet result;
    constexpr std::string_view kUnit = "bytes=";
    if (header.size() < kUnit.size()) return result;
    for (size_t i = 0; i < kUnit.size(); ++i) {
        char c = header[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kUnit[i]) return result;
    }

    std::vector<ByteRange> ranges;
    bool any_spec = false;
    size_t pos = kUnit.size();
    const std::string_view s = header;
    while (pos < s.size()) {
        // range-set is a #list: OWS, commas and empty elements between specs are allowed.
        while (pos < s.size() && (is_ows(s[pos]) || s[pos] == ',')) ++pos;
        if (pos == s.size()) break;

        uint64_t first = 0;
        uint64_t last = 0;
        bool suffix = false;
        bool has_last = false;
        if (s[pos] == '-') {
            ++pos;
            suffix = true;
            if (!parse_u64(s, pos, last)) return {};
        } else {
            if (!parse_u64(s, pos, first)) return {};
            if (pos == s.size() || s[pos] != '-') return {};
            ++pos;
            has_last = parse_u64(s, pos, last);
            if (has_last && last < first) return {};
        }
        while (pos < s.size() && is_ows(s[pos])) ++pos;
        if (pos < s.size() && s[pos] != ',') return {};
        any_spec = true;

        if (length == 0) continue;  // nothing in an empty representation is satisfiable
        if (suffix) {
            if (last == 0) continue;
            uint64_t n = std::min(last, length);
            ranges.push_back({length - n, length - 1});
        } else {
            if (first >= length) continue;
            uint64_t end = (has_last && last < length) ? last : length - 1;
            ranges.push_back({first, end});
        }
    }
    if (!any_spec) return {};
    if (ranges.empty()) {
        result.kind = RangeKind::Unsatisfiable;
        return result;
    }
    // Many or overlapping ranges are a DoS vector (RFC 9110 §14.2): merge them.
    if (ranges.size() > 2 || overlaps_any(ranges)) coalesce(ranges);
    if (ranges.size() > kMaxRanges) return {};
    result.kind = RangeKind::Satisfiable;
    result.ranges = std::move(ranges);
    return result;
}

}  // namespace sluice::http
