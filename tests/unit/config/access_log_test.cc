#include "obs/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::obs {
namespace {

class TempFile {
public:
    TempFile() {
        char tmpl[] = "/tmp/sluice_access_log_XXXXXX";
        int fd = ::mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        ::close(fd);
        path_ = tmpl;
    }
    ~TempFile() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }
    std::string read() const {
        std::ifstream in(path_, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    std::string path_;
};

AccessRecord sample() {
    AccessRecord r;
    r.remote_ip = "127.0.0.1";
    r.time = 1795654923;  // 2026-11-26 01:02:03 UTC
    r.method = "GET";
    r.target = "/x";
    r.http_major = 1;
    r.http_minor = 1;
    r.status = 200;
    r.body_bytes = 1234;
    r.referer = "";
    r.user_agent = "curl/7.88.1";
    r.request_time_s = 0.0004;
    r.conn_id = 17;
    return r;
}

std::shared_ptr<LogSink> open_sink(const std::string& spec) {
    auto sink = LogSink::open(spec);
    EXPECT_TRUE(sink.has_value()) << (sink ? "" : sink.error().message());
    return sink ? *sink : nullptr;
}

TEST(AccessLog, ExactCombinedLine) {
    TempFile f;
    AccessLog log(open_sink(f.path()));
    ASSERT_TRUE(log.enabled());
    log.append(sample());
    EXPECT_EQ(f.read(), "") << "lines are buffered until flush";
    log.flush();
    EXPECT_EQ(f.read(),
              "127.0.0.1 - - [26/Nov/2026:01:02:03 +0000] \"GET /x HTTP/1.1\" 200 1234 \"-\" "
              "\"curl/7.88.1\" 0.000 17\n");
    EXPECT_EQ(log.buffered_bytes(), 0u);
}

TEST(AccessLog, FieldsAndTimeCache) {
    TempFile f;
    {
        AccessLog log(open_sink(f.path()));
        AccessRecord r = sample();
        r.remote_ip = "::1";
        r.time = 971186136;  // 2000-10-10 13:55:36 UTC
        r.method = "HEAD";
        r.target = "/a%20b?q=1";
        r.http_minor = 0;
        r.status = 304;
        r.body_bytes = 0;
        r.referer = "http://example.com/";
        r.request_time_s = 12.3456;
        r.conn_id = 18446744073709551615ull;
        log.append(r);
        r.time += 1;  // next second: the cached time text must be refreshed
        r.request_time_s = 1.9996;
        log.append(r);
        r.remote_ip = "";
        r.method = "";
        r.target = "";
        r.user_agent = "";
        r.status = 400;
        r.request_time_s = -5;
        log.append(r);
    }  // destructor flushes
    EXPECT_EQ(f.read(),
              "::1 - - [10/Oct/2000:13:55:36 +0000] \"HEAD /a%20b?q=1 HTTP/1.0\" 304 0 "
              "\"http://example.com/\" \"curl/7.88.1\" 12.346 18446744073709551615\n"
              "::1 - - [10/Oct/2000:13:55:37 +0000] \"HEAD /a%20b?q=1 HTTP/1.0\" 304 0 "
              "\"http://example.com/\" \"curl/7.88.1\" 2.000 18446744073709551615\n"
              "- - - [10/Oct/2000:13:55:37 +0000] \"-\" 400 0 "
              "\"http://example.com/\" \"-\" 0.000 18446744073709551615\n");
}

TEST(AccessLog, EscapesQuotesBackslashesControlAndNonAscii) {
    TempFile f;
    AccessLog log(open_sink(f.path()));
    AccessRecord r = sample();
    r.target = "/a\"b\\c";
    r.user_agent = "x\" 200 1 \"-\" \"y\r\n1.2.3.4 - - forged";
    r.referer = std::string_view("\x7f\x01\xc3\xa9", 4);
    log.append(r);
    log.flush();
    std::string out = f.read();
    EXPECT_EQ(out,
              "127.0.0.1 - - [26/Nov/2026:01:02:03 +0000] \"GET /a\\x22b\\x5Cc HTTP/1.1\" 200 "
              "1234 \"\\x7F\\x01\\xC3\\xA9\" "
              "\"x\\x22 200 1 \\x22-\\x22 \\x22y\\x0D\\x0A1.2.3.4 - - forged\" 0.000 17\n");
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "a request cannot add log lines";
}

TEST(AccessLog, AppendEscapedLeavesPlainTextAlone) {
    std::string out = "pre:";
    append_escaped(out, "Mozilla/5.0 (X11; Linux x86_64) ~!@#$%^&*()");
    EXPECT_EQ(out, "pre:Mozilla/5.0 (X11; Linux x86_64) ~!@#$%^&*()");
    out.clear();
    append_escaped(out, std::string_view("\0\t", 2));
    EXPECT_EQ(out, "\\x00\\x09");
}

TEST(AccessLog, FlushesAutomaticallyPastThreshold) {
    TempFile f;
    AccessLog log(open_sink(f.path()));
    AccessRecord r = sample();
    std::string big(1000, 'a');
    r.target = big;
    size_t appended = 0;
    while (f.read().empty()) {
        log.append(r);
        appended += 1;
        ASSERT_LT(appended, 100u);
    }
    std::string out = f.read();
    EXPECT_GT(out.size(), AccessLog::kFlushThreshold);
    EXPECT_LT(out.size(), AccessLog::kFlushThreshold + 2000);
    EXPECT_EQ(out.back(), '\n');
    EXPECT_EQ(log.buffered_bytes(), 0u);
}

TEST(AccessLog, AppendsToExistingFileAndSharesSink) {
    TempFile f;
    {
        std::ofstream pre(f.path());
        pre << "existing\n";
    }
    auto sink = open_sink(f.path());
    AccessLog a(sink);
    AccessLog b(sink);
    AccessRecord r = sample();
    r.conn_id = 1;
    a.append(r);
    r.conn_id = 2;
    b.append(r);
    b.flush();
    a.flush();
    std::string out = f.read();
    EXPECT_EQ(out.rfind("existing\n", 0), 0u);
    size_t p2 = out.find(" 0.000 2\n");
    size_t p1 = out.find(" 0.000 1\n");
    ASSERT_NE(p1, std::string::npos);
    ASSERT_NE(p2, std::string::npos);
    EXPECT_LT(p2, p1);

    struct stat st {};
    ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(AccessLog, NewFileModeIs0644) {
    TempFile f;
    ::unlink(f.path().c_str());
    mode_t old = ::umask(022);
    auto sink = open_sink(f.path());
    ::umask(old);
    struct stat st {};
    ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    ASSERT_TRUE(sink);
    EXPECT_TRUE(sink->enabled());
}

TEST(AccessLog, MoveTransfersBufferedLines) {
    TempFile f;
    {
        AccessLog a(open_sink(f.path()));
        a.append(sample());
        AccessLog b(std::move(a));
        EXPECT_GT(b.buffered_bytes(), 0u);
    }  // both destructors run; the line must be written exactly once
    std::string out = f.read();
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST(AccessLog, WriteErrorDropsLinesAndReportsOnce) {
    // A read-only fd makes write(2) fail with EBADF.
    AccessLog log(LogSink::from_fd(UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC))));
    ASSERT_TRUE(log.enabled());
    testing::internal::CaptureStderr();
    log.append(sample());
    log.flush();
    EXPECT_EQ(log.buffered_bytes(), 0u);
    log.append(sample());
    log.flush();
    std::string err = testing::internal::GetCapturedStderr();
    size_t first = err.find("access log write failed");
    ASSERT_NE(first, std::string::npos) << err;
    EXPECT_EQ(err.find("access log write failed", first + 1), std::string::npos) << err;
}

TEST(AccessLog, OffIsDisabled) {
    auto sink = open_sink("off");
    ASSERT_TRUE(sink);
    EXPECT_FALSE(sink->enabled());
    AccessLog log(sink);
    EXPECT_FALSE(log.enabled());
    log.append(sample());
    EXPECT_EQ(log.buffered_bytes(), 0u);
    log.flush();

    AccessLog null_log(nullptr);
    EXPECT_FALSE(null_log.enabled());
    null_log.append(sample());
}

TEST(AccessLog, OpenFailureReportsErrno) {
    auto sink = LogSink::open("/nonexistent-dir-sluice/x.log");
    ASSERT_FALSE(sink.has_value());
    EXPECT_EQ(sink.error().code, ENOENT);
}

TEST(AccessLog, StdoutSinkIsADup) {
    auto sink = open_sink("-");
    ASSERT_TRUE(sink);
    EXPECT_TRUE(sink->enabled());
}

TEST(AccessLog, PipeSinkDeliversWholeLines) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    // Keep everything within the default 64 KiB pipe capacity so no reader thread is needed.
    ASSERT_GE(::fcntl(p[1], F_GETPIPE_SZ), 65536);
    UniqueFd rd(p[0]);
    {
        AccessLog log(LogSink::from_fd(UniqueFd(p[1])));
        AccessRecord r = sample();
        std::string target(700, 'p');
        r.target = target;
        for (int i = 0; i < 20; ++i) {
            r.conn_id = static_cast<uint64_t>(i);
            log.append(r);
        }
        ASSERT_GT(log.buffered_bytes(), static_cast<size_t>(PIPE_BUF));
    }
    std::string all;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        ASSERT_GE(n, 0);
        if (n == 0) break;
        all.append(buf, static_cast<size_t>(n));
    }
    size_t lines = 0;
    for (size_t pos = 0; pos < all.size();) {
        size_t nl = all.find('\n', pos);
        ASSERT_NE(nl, std::string::npos);
        std::string line = all.substr(pos, nl - pos);
        EXPECT_EQ(line.rfind("127.0.0.1 - - [", 0), 0u);
        EXPECT_NE(line.find(" 0.000 " + std::to_string(lines)), std::string::npos) << line;
        lines += 1;
        pos = nl + 1;
    }
    EXPECT_EQ(lines, 20u);
}

}  // namespace
}  // namespace sluice::obs
