// http/date.cc — HTTP-date formatting and parsing without locale or strptime (both are slow and
// locale-dependent; HTTP dates are always English and GMT).
#include "http/date.h"

#include <cstring>

namespace sluice::http {

namespace {

constexpr const char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char kLongDays[7][10] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
constexpr const char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* out, int v) {
    out[0] = static_cast<char>('0' + v / 10);
    out[1] = static_cast<char>('0' + v % 10);
}

// Sequential reader over the date text; every accessor fails soft by setting ok = false.
struct Reader {
    std::string_view s;
    size_t pos = 0;
    bool ok = true;

    bool lit(std::string_view l) {
        if (ok && s.substr(pos, l.size()) == l) {
            pos += l.size();
            return true;
        }
        ok = false;
        return false;
    }
    // Exactly n digits.
    int digits(size_t n) {
        if (!ok || s.size() - pos < n) {
            ok = false;
            return 0;
        }
        int v = 0;
        for (size_t i = 0; i < n; ++i) {
            char c = s[pos + i];
            if (c < '0' || c > '9') {
                ok = false;
                return 0;
            }
            v = v * 10 + (c - '0');
        }
        pos += n;
        return v;
    }
    int month() {
        if (!ok || s.size() - pos < 3) {
            ok = false;
            return 0;
        }
        for (int m = 0; m < 12; ++m) {
            if (s.substr(pos, 3) == kMonths[m]) {
                pos += 3;
                return m;
            }
        }
        ok = false;
        return 0;
    }
    // "HH:MM:SS"
    void time_of_day(struct tm& tm) {
        tm.tm_hour = digits(2);
        lit(":");
        tm.tm_min = digits(2);
        lit(":");
        tm.tm_sec = digits(2);
    }
    [[nodiscard]] bool at_end() const { return ok && pos == s.size(); }
};

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

std::optional<time_t> finish(const struct tm& tm) {
    static constexpr int kMonthDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = tm.tm_year + 1900;
    int mdays = kMonthDays[tm.tm_mon] + (tm.tm_mon == 1 && is_leap(year) ? 1 : 0);
    // Second 60 is a leap second, which HTTP-date allows.
    if (tm.tm_mday < 1 || tm.tm_mday > mdays || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60) {
        return std::nullopt;
    }
    struct tm copy = tm;
    return timegm(&copy);
}

// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
int expand_two_digit_year(int yy) {
    struct tm now {};
    time_t t = time(nullptr);
    gmtime_r(&t, &now);
    int current = now.tm_year + 1900;
    int year = current - current % 100 + yy;
    if (year > current + 50) year -= 100;
    return year;
}

std::optional<time_t> parse_imf(std::string_view s) {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    Reader r{s};
    struct tm tm {};
    r.pos = 3;
    r.lit(", ");
    tm.tm_mday = r.digits(2);
    r.lit(" ");
    tm.tm_mon = r.month();
    r.lit(" ");
    tm.tm_year = r.digits(4) - 1900;
    r.lit(" ");
    r.time_of_day(tm);
    r.lit(" GMT");
    if (!r.at_end()) return std::nullopt;
    return finish(tm);
}

std::optional<time_t> parse_rfc850(std::string_view s, size_t comma) {
    // "Sunday, 06-Nov-94 08:49:37 GMT"
    Reader r{s};
    struct tm tm {};
    r.pos = comma;
    r.lit(", ");
    tm.tm_mday = r.digits(2);
    r.lit("-");
    tm.tm_mon = r.month();
    r.lit("-");
    int yy = r.digits(2);
    r.lit(" ");
    r.time_of_day(tm);
    r.lit(" GMT");
    if (!r.at_end()) return std::nullopt;
    tm.tm_year = expand_two_digit_year(yy) - 1900;
    return finish(tm);
}

std::optional<time_t> parse_asctime(std::string_view s) {
    // "Sun Nov  6 08:49:37 1994"
    Reader r{s};
    struct tm tm {};
    r.pos = 3;
    r.lit(" ");
    tm.tm_mon = r.month();
    r.lit(" ");
    if (r.ok && r.pos < s.size() && s[r.pos] == ' ') {
        ++r.pos;
        tm.tm_mday = r.digits(1);
    } else {
        tm.tm_mday = r.digits(2);
    }
    r.lit(" ");
    r.time_of_day(tm);
    r.lit(" ");
    tm.tm_year = r.digits(4) - 1900;
    if (!r.at_end()) return std::nullopt;
    return finish(tm);
}

}  // namespace

void format_http_date(time_t t, char* out) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    std::memcpy(out, kDays[tm.tm_wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, kMonths[tm.tm_mon], 3);
    out[11] = ' ';
    int year = tm.tm_year + 1900;
    // Years outside 0..9999 cannot be represented in IMF-fixdate; clamp rather than overflow.
    if (year < 0) year = 0;
    if (year > 9999) year = 9999;
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
}

std::optional<time_t> parse_http_date(std::string_view s) {
    if (s.size() < 4) return std::nullopt;
    for (int d = 0; d < 7; ++d) {
        std::string_view shortname = kDays[d];
        std::string_view longname = kLongDays[d];
        if (s.starts_with(longname) && s.size() > longname.size() && s[longname.size()] == ',') {
            return parse_rfc850(s, longname.size());
        }
        if (!s.starts_with(shortname)) continue;
        if (s[3] == ',') return parse_imf(s);
        if (s[3] == ' ') return parse_asctime(s);
        return std::nullopt;
    }
    return std::nullopt;
}

std::string_view DateCache::now() {
    struct timespec ts {};
    // The coarse clock is a vDSO read without a syscall; one-second resolution is all we need.
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != last_) {
        format_http_date(ts.tv_sec, buf_);
        last_ = ts.tv_sec;
    }
    return {buf_, kHttpDateLen};
}

}  // namespace sluice::http
