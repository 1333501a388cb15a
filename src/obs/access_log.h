// obs/access_log.h — combined-format access log, buffered per worker.
// A LogSink is one shared destination (file opened O_APPEND, a dup of stdout, or disabled) and
// is safe to use from many threads. An AccessLog is owned by one worker thread (not
// thread-safe): it formats lines into memory and writes only whole lines, so lines from
// different workers never interleave mid-line. Quoted fields escape '"', '\\', control and
// non-ASCII bytes as \xHH (as nginx does) so a client cannot forge or split log lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"

namespace sluice::obs {

class LogSink {
public:
    // spec: "off" = disabled, "-" = stdout (dup'ed), anything else = a file path opened
    // O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC with mode 0644. Never returns a null pointer.
    static Result<std::shared_ptr<LogSink>> open(const std::string& spec);
    // Takes ownership of an already-open fd (used by tests and by callers with custom fds).
    static std::shared_ptr<LogSink> from_fd(UniqueFd fd);

    [[nodiscard]] bool enabled() const { return fd_.valid(); }
    // Writes a buffer made of whole '\n'-terminated lines, retrying partial writes and EINTR.
    // Non-regular files (pipes, ttys) only guarantee atomicity up to PIPE_BUF, so there the
    // buffer is split at line boundaries into chunks of at most PIPE_BUF bytes.
    Result<void> write_lines(std::string_view lines) const;

private:
    LogSink() = default;
    UniqueFd fd_;
    size_t atomic_limit_ = 0;  // 0 = one write(2) for the whole buffer
};

struct AccessRecord {
    std::string_view remote_ip;    // "-" if empty
    time_t time = 0;               // request start, logged in UTC
    std::string_view method;       // request line parts; all empty -> "-" as the request
    std::string_view target;
    int http_major = 1;
    int http_minor = 1;
    int status = 0;
    uint64_t body_bytes = 0;       // body bytes sent, excluding headers
    std::string_view referer;      // "-" if empty
    std::string_view user_agent;   // "-" if empty
    double request_time_s = 0;     // printed with millisecond precision
    uint64_t conn_id = 0;
    uint32_t stream_id = 0;        // HTTP/2: printed after the connection id as "42/3"
    std::string_view tls;          // HTTPS only: "TLSv1.3 AES128-GCM user"; empty for HTTP
};

class AccessLog {
public:
    static constexpr size_t kFlushThreshold = 32 * 1024;

    // A null or disabled sink makes every call a no-op.
    explicit AccessLog(std::shared_ptr<LogSink> sink);
    AccessLog(AccessLog&& other) noexcept;  // leaves `other` disabled and empty
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;
    ~AccessLog();

    [[nodiscard]] bool enabled() const { return enabled_; }
    // Formats one line; flushes automatically once more than kFlushThreshold bytes are buffered.
    void append(const AccessRecord& rec);
    // Writes out buffered lines. The worker calls this at least once a second and on exit.
    // A write error drops the buffered lines (reported once on stderr) rather than growing
    // memory without bound.
    void flush();
    [[nodiscard]] size_t buffered_bytes() const { return buf_.size(); }

private:
    void append_time(time_t t);

    std::shared_ptr<LogSink> sink_;
    bool enabled_ = false;
    bool reported_error_ = false;
    std::string buf_;
    time_t cached_time_ = -1;
    char cached_time_text_[40] = {};  // "[10/Oct/2000:13:55:36 +0000]"
    size_t cached_time_len_ = 0;
};

// Appends `s` to `out` with '"', '\\', bytes < 0x20, 0x7f and >= 0x80 written as \xHH.
void append_escaped(std::string& out, std::string_view s);

}  // namespace sluice::obs
