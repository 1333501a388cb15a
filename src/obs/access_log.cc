#include "obs/access_log.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <utility>

#include "base/log.h"

namespace sluice::obs {

namespace {

std::shared_ptr<LogSink> make_disabled() { return LogSink::from_fd(UniqueFd()); }

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
}

void append_quoted_or_dash(std::string& out, std::string_view s) {
    out.push_back('"');
    if (s.empty()) {
        out.push_back('-');
    } else {
        append_escaped(out, s);
    }
    out.push_back('"');
}

void put2(char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

Result<std::shared_ptr<LogSink>> LogSink::open(const std::string& spec) {
    if (spec == "off") return make_disabled();
    int fd = -1;
    if (spec == "-") {
        fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    } else {
        fd = ::open(spec.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fd < 0) return fail_errno();
    return from_fd(UniqueFd(fd));
}

std::shared_ptr<LogSink> LogSink::from_fd(UniqueFd fd) {
    // make_shared cannot reach the private constructor.
    std::shared_ptr<LogSink> sink(new LogSink());
    if (fd.valid()) {
        struct stat st {};
        if (::fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode)) sink->atomic_limit_ = PIPE_BUF;
    }
    sink->fd_ = std::move(fd);
    return sink;
}

Result<void> LogSink::write_lines(std::string_view lines) const {
    if (!enabled()) return {};
    while (!lines.empty()) {
        size_t chunk = lines.size();
        if (atomic_limit_ != 0 && chunk > atomic_limit_) {
            // Largest run of whole lines that fits; an over-long single line goes alone.
            size_t cut = lines.rfind('\n', atomic_limit_ - 1);
            chunk = cut != std::string_view::npos ? cut + 1 : lines.find('\n') + 1;
            if (chunk == 0) chunk = lines.size();  // no newline at all: write as is
        }
        std::string_view part = lines.substr(0, chunk);
        while (!part.empty()) {
            ssize_t n = ::write(fd_.get(), part.data(), part.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return fail_errno();
            }
            part.remove_prefix(static_cast<size_t>(n));
        }
        lines.remove_prefix(chunk);
    }
    return {};
}

void append_escaped(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
            out.append(esc, sizeof esc);
        } else {
            out.push_back(ch);
        }
    }
}

AccessLog::AccessLog(std::shared_ptr<LogSink> sink)
    : sink_(std::move(sink)), enabled_(sink_ != nullptr && sink_->enabled()) {
    if (enabled_) buf_.reserve(2 * kFlushThreshold);
}

AccessLog::AccessLog(AccessLog&& other) noexcept
    : sink_(std::move(other.sink_)),
      enabled_(std::exchange(other.enabled_, false)),
      reported_error_(other.reported_error_),
      buf_(std::move(other.buf_)) {
    other.buf_.clear();  // a moved-from string is only "valid but unspecified"
}

AccessLog::~AccessLog() { flush(); }

void AccessLog::append_time(time_t t) {
    if (t != cached_time_) {
        static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        struct tm tm {};
        gmtime_r(&t, &tm);
        // Formatted by hand: strftime's %b depends on the locale.
        char* p = cached_time_text_;
        *p++ = '[';
        put2(p, tm.tm_mday);
        p += 2;
        *p++ = '/';
        for (int i = 0; i < 3; ++i) *p++ = kMonths[tm.tm_mon][i];
        *p++ = '/';
        auto res = std::to_chars(p, cached_time_text_ + sizeof cached_time_text_ - 16,
                                 tm.tm_year + 1900);
        p = res.ptr;
        *p++ = ':';
        put2(p, tm.tm_hour);
        p += 2;
        *p++ = ':';
        put2(p, tm.tm_min);
        p += 2;
        *p++ = ':';
        put2(p, tm.tm_sec);
        p += 2;
        for (char c : std::string_view(" +0000]")) *p++ = c;
        cached_time_len_ = static_cast<size_t>(p - cached_time_text_);
        cached_time_ = t;
    }
    buf_.append(cached_time_text_, cached_time_len_);
}

void AccessLog::append(const AccessRecord& rec) {
    if (!enabled_) return;
    if (rec.remote_ip.empty()) {
        buf_.push_back('-');
    } else {
        append_escaped(buf_, rec.remote_ip);
    }
    buf_.append(" - - ");
    append_time(rec.time);

    buf_.append(" \"");
    if (rec.method.empty() && rec.target.empty()) {
        buf_.push_back('-');
    } else {
        append_escaped(buf_, rec.method);
        buf_.push_back(' ');
        append_escaped(buf_, rec.target);
        buf_.append(" HTTP/");
        append_uint(buf_, static_cast<uint64_t>(rec.http_major < 0 ? 0 : rec.http_major));
        buf_.push_back('.');
        append_uint(buf_, static_cast<uint64_t>(rec.http_minor < 0 ? 0 : rec.http_minor));
    }
    buf_.append("\" ");

    append_uint(buf_, static_cast<uint64_t>(rec.status < 0 ? 0 : rec.status));
    buf_.push_back(' ');
    append_uint(buf_, rec.body_bytes);
    buf_.push_back(' ');
    append_quoted_or_dash(buf_, rec.referer);
    buf_.push_back(' ');
    append_quoted_or_dash(buf_, rec.user_agent);
    buf_.push_back(' ');

    // Integer milliseconds: exact rounding and no dependence on the C locale's decimal point.
    double secs = rec.request_time_s;
    if (!(secs > 0)) secs = 0;  // also maps NaN to 0
    if (secs > 1e12) secs = 1e12;
    auto ms = static_cast<uint64_t>(std::llround(secs * 1000.0));
    append_uint(buf_, ms / 1000);
    buf_.push_back('.');
    char frac[3] = {static_cast<char>('0' + ms % 1000 / 100),
                    static_cast<char>('0' + ms % 100 / 10), static_cast<char>('0' + ms % 10)};
    buf_.append(frac, 3);
    buf_.push_back(' ');
    append_uint(buf_, rec.conn_id);
    if (rec.stream_id != 0) {
        buf_.push_back('/');
        append_uint(buf_, rec.stream_id);
    }
    if (!rec.tls.empty()) {
        // HTTPS: version, cipher and record mode, e.g. "TLSv1.3 AES128-GCM kernel-sw".
        buf_.push_back(' ');
        append_escaped(buf_, rec.tls);
    }
    buf_.push_back('\n');

    if (buf_.size() > kFlushThreshold) flush();
}

void AccessLog::flush() {
    if (!enabled_ || sink_ == nullptr || buf_.empty()) return;
    int err = 0;
    if (auto res = sink_->write_lines(buf_); !res) err = res.error().code;
    buf_.clear();
    if (err != 0 && !reported_error_) {
        reported_error_ = true;
        log_error("access log write failed: %s (dropping lines)", Errno{err}.message());
    }
}

}  // namespace sluice::obs
