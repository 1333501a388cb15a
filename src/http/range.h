// http/range.h — Range header (RFC 9110 §14.1.2) resolved against a representation length.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::http {

struct ByteRange {
    uint64_t first = 0;
    uint64_t last = 0;  // inclusive
    [[nodiscard]] uint64_t length() const { return last - first + 1; }
};

enum class RangeKind : uint8_t {
    None,           // no header, not "bytes=", or syntactically invalid: ignore, serve 200
    Satisfiable,    // one or more ranges (clamped to the length, sorted by appearance)
    Unsatisfiable,  // valid syntax, nothing satisfiable: 416 with Content-Range: bytes */len
};

struct RangeSet {
    RangeKind kind = RangeKind::None;
    std::vector<ByteRange> ranges;
};

// At most kMaxRanges ranges are honoured; more (or heavily overlapping sets, a DoS vector)
// are coalesced; if still too many the header is ignored.
constexpr size_t kMaxRanges = 64;

RangeSet parse_range(std::string_view header, uint64_t length);

}  // namespace sluice::http
