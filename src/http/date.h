// http/date.h — HTTP-date (RFC 9110 §5.6.7): format IMF-fixdate; parse all three forms.
#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace sluice::http {

constexpr size_t kHttpDateLen = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes exactly kHttpDateLen chars to out (no terminator).
void format_http_date(time_t t, char* out);
// IMF-fixdate, RFC 850 and asctime forms; nullopt when malformed.
std::optional<time_t> parse_http_date(std::string_view s);

// Per-thread cache of the current Date header value, reformatted at most once per second.
class DateCache {
public:
    std::string_view now();

private:
    time_t last_ = -1;
    char buf_[kHttpDateLen + 1] = {};
};

}  // namespace sluice::http
