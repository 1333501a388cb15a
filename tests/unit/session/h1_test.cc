// session::H1 without a ring or a socket: requests in, queue pieces out, and what it asks of
// its connection (flush, input, close) recorded by a fake Owner.
#include "session/h1.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "world.h"
#include "files/cache.h"
#include "files/mime.h"
#include "files/root.h"
#include "handler/static_file.h"
#include "http/date.h"
#include "http/response.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "output/queue.h"

namespace sluice::session {
namespace {


struct FakeOwner final : Owner {
    output::BufferPool pool;
    output::Queue q{&pool};
    int flushes = 0;
    Input input = Input::Want;
    bool closed = false, close_linger = false, close_unread = false, closed_now = false;

    output::Queue& queue() override { return q; }
    void flush() override { ++flushes; }
    void set_input(Input in) override { input = in; }
    void close(bool linger, bool unread_input) override {
        closed = true;
        close_linger = linger;
        close_unread = unread_input;
    }
    void close_now() override { closed_now = true; }
    bool seals_output() const override { return false; }
    std::string_view peer_ip() const override { return "192.0.2.7"; }
    std::string_view tls_tag() const override { return ""; }
    uint64_t conn_id() const override { return 42; }

    // What a transport would put on the wire: all memory pieces (files as "<file:N>").
    std::string send_all() {
        std::string out;
        while (q.pieces() > 0) {
            const output::Piece& p = q.piece(0);
            const uint64_t n = p.len;
            if (p.is_file())
                out += "<file:" + std::to_string(n) + ">";
            else
                out.append(p.data, n);
            q.take(n);
        }
        q.all_sent();
        return out;
    }
};

class H1Test : public ::testing::Test, protected testing::World {
protected:
    void SetUp() override {
        tree.write("index.html", "<p>hello</p>\n");
        tree.write("small.txt", "0123456789");
        tree.write("big.bin", std::string(200 * 1024, 'b'));
        std::filesystem::create_directories(tree.in_root("dir"));
        tree.write("dir/index.html", "dir index");
        open();
        h1.emplace(env, owner);
        h1->reset();
    }
    void TearDown() override { h1.reset(); }
    static int count(const std::string& s, std::string_view what) {
        int n = 0;
        for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
        return n;
    }

    FakeOwner owner;
    std::optional<H1> h1;
};

TEST_F(H1Test, OneRequestOneResponseThenIdle) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(owner.flushes, 1);
    EXPECT_EQ(owner.input, Input::Park);
    const std::string out = owner.send_all();
    EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(out.find("Content-Length: 10\r\n"), std::string::npos);
    EXPECT_EQ(out.substr(out.size() - 10), "0123456789");  // small body copied after its head
    EXPECT_EQ(log_text(), "");  // logged only once sent
    h1->on_sent(true);
    EXPECT_EQ(owner.input, Input::Want);
    EXPECT_FALSE(owner.closed);
    const std::string l = log_text();
    EXPECT_NE(l.find("192.0.2.7"), std::string::npos);
    EXPECT_NE(l.find("\"GET /small.txt HTTP/1.1\" 200 10"), std::string::npos);
    EXPECT_EQ(counters.requests.get(), 1u);
}

TEST_F(H1Test, PipelinedRequestsBatchIntoOneFlush) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
             "HEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(owner.flushes, 1);
    const std::string out = owner.send_all();
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK\r\n"), 3);
    h1->on_sent(true);
    EXPECT_EQ(count(log_text(), "\" 200 "), 3);
}

TEST_F(H1Test, InputWhileBusyIsParkedThenAnswered) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    h1->feed("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(owner.flushes, 1);
    EXPECT_EQ(owner.input, Input::Park);
    owner.send_all();
    h1->on_sent(true);  // the parked request is processed now
    EXPECT_EQ(owner.flushes, 2);
    EXPECT_NE(owner.send_all().find("<p>hello</p>"), std::string::npos);
}

TEST_F(H1Test, TooMuchParkedInputStopsReading) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string more;
    while (more.size() < 70 * 1024) more += "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    h1->feed(more);
    EXPECT_EQ(owner.input, Input::Stop);
}

TEST_F(H1Test, BatchingStopsAtAFileBody) {
    h1->feed("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string out = owner.send_all();
    EXPECT_NE(out.find("<file:204800>"), std::string::npos);
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 1);  // the second waits behind the file
    h1->on_sent(true);
    EXPECT_EQ(count(owner.send_all(), "HTTP/1.1 200 OK"), 1);
}

TEST_F(H1Test, ConnectionCloseClosesAfterTheResponse) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(owner.closed);
    EXPECT_FALSE(owner.close_linger);
    EXPECT_FALSE(owner.close_unread);
    EXPECT_NE(owner.send_all().find("Connection: close"), std::string::npos);
}

TEST_F(H1Test, BytesAfterTheFinalRequestMakeTheCloseLinger) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n");
    EXPECT_TRUE(owner.closed);
    EXPECT_TRUE(owner.close_unread);
}

TEST_F(H1Test, MalformedRequestAnswers400AndLingers) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    EXPECT_TRUE(owner.closed);
    EXPECT_TRUE(owner.close_linger);
    const std::string out = owner.send_all();
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u);
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

TEST_F(H1Test, MethodNotAllowedKeepsTheConnection) {
    h1->feed("DELETE /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string out = owner.send_all();
    EXPECT_EQ(out.rfind("HTTP/1.1 405 ", 0), 0u);
    EXPECT_NE(out.find("Allow: GET, HEAD, OPTIONS\r\n"), std::string::npos);
    EXPECT_FALSE(owner.closed);
}

TEST_F(H1Test, DirectoryWithoutSlashRedirectsKeepingTheQuery) {
    h1->feed("GET /dir?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string out = owner.send_all();
    EXPECT_EQ(out.rfind("HTTP/1.1 301 ", 0), 0u);
    EXPECT_NE(out.find("Location: /dir/?x=1\r\n"), std::string::npos);
}

TEST_F(H1Test, PeerEofWhenIdleCloses) {
    h1->on_eof();
    EXPECT_TRUE(owner.closed);
}

TEST_F(H1Test, PeerEofWhileBusyClosesAfterTheResponses) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    h1->on_eof();
    EXPECT_FALSE(owner.closed);
    owner.send_all();
    h1->on_sent(true);
    EXPECT_TRUE(owner.closed);
}

TEST_F(H1Test, HeaderTimeoutThenKeepaliveTimeout) {
    h1->tick(now + 9999);
    EXPECT_FALSE(owner.closed_now);
    h1->tick(now + 10000);  // no first request within --header-timeout
    EXPECT_TRUE(owner.closed_now);
    EXPECT_EQ(counters.timeouts_header.get(), 1u);

    owner.closed_now = false;
    h1->reset();
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    owner.send_all();
    h1->on_sent(true);
    now += 100;
    h1->tick(now + 4000);
    EXPECT_FALSE(owner.closed);
    h1->tick(now + 5000);  // kept alive, then closed gracefully
    EXPECT_TRUE(owner.closed);
    EXPECT_EQ(counters.timeouts_keepalive.get(), 1u);
}

TEST_F(H1Test, CutShortResponseLogsTheBodyBytesSent) {
    h1->feed("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    // The head and 1000 body bytes reach the socket, then the connection ends.
    const uint64_t head_len = owner.q.piece(0).len;
    owner.q.take(head_len + 1000);
    owner.q.sent(head_len + 1000);
    h1->on_sent(false);
    EXPECT_EQ(log_text(), "");
    h1->on_closed();
    EXPECT_NE(log_text().find("\" 200 1000 "), std::string::npos);
}

TEST_F(H1Test, ShutdownClosesIdleAndEndsKeepAlive) {
    h1->feed("GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    h1->begin_shutdown();
    EXPECT_FALSE(owner.closed_now);  // busy: after the response
    owner.send_all();
    h1->on_sent(true);
    EXPECT_TRUE(owner.closed_now);
    owner.closed_now = false;
    h1->reset();
    h1->begin_shutdown();
    EXPECT_TRUE(owner.closed_now);
}

}  // namespace
}  // namespace sluice::session
