// session::H2 without a ring or a socket: an nghttp2 *client* session produces the frames,
// H2 answers into the output queue, and the client parses what it queued.
#include "session/h2.h"

#include <nghttp2/nghttp2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
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
    Input input = Input::Want;
    bool closed = false, closed_now = false;
    output::Queue& queue() override { return q; }
    void flush() override {}
    void set_input(Input in) override { input = in; }
    void close(bool, bool) override { closed = true; }
    void close_now() override { closed_now = true; }
    bool seals_output() const override { return false; }
    std::string_view peer_ip() const override { return "192.0.2.9"; }
    std::string_view tls_tag() const override { return ""; }
    uint64_t conn_id() const override { return 7; }
    // Takes everything queued, as a transport would; files read with pread.
    std::string take_all() {
        std::string out;
        while (q.pieces() > 0) {
            const output::Piece& p = q.piece(0);
            const uint64_t n = p.len;
            if (p.is_file()) {
                std::string b(n, '\0');
                EXPECT_EQ(::pread(p.fd, b.data(), n, static_cast<off_t>(p.file_off)),
                          static_cast<ssize_t>(n));
                out += b;
            } else {
                out.append(p.data, n);
            }
            q.take(n);
        }
        q.all_sent();
        return out;
    }
};

// A client: sends requests, collects responses per stream.
struct Client {
    struct Resp {
        std::map<std::string, std::string> headers;
        std::string body;
        bool closed = false;
        uint32_t error = 0;
        std::vector<size_t> data_frames;
    };
    nghttp2_session* ng = nullptr;
    std::map<int32_t, Resp> resp;
    uint32_t goaway_error = UINT32_MAX;

    Client() {
        nghttp2_session_callbacks* cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(
            cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                   const uint8_t* v, size_t vl, uint8_t, void* ud) {
                static_cast<Client*>(ud)->resp[f->hd.stream_id].headers[std::string(
                    reinterpret_cast<const char*>(n), nl)] =
                    std::string(reinterpret_cast<const char*>(v), vl);
                return 0;
            });
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* ud) {
                static_cast<Client*>(ud)->resp[id].body.append(reinterpret_cast<const char*>(d),
                                                               len);
                return 0;
            });
        nghttp2_session_callbacks_set_on_frame_recv_callback(
            cb, [](nghttp2_session*, const nghttp2_frame* f, void* ud) {
                auto* c = static_cast<Client*>(ud);
                if (f->hd.type == NGHTTP2_DATA) c->resp[f->hd.stream_id].data_frames.push_back(f->hd.length);
                if (f->hd.type == NGHTTP2_GOAWAY) c->goaway_error = f->goaway.error_code;
                return 0;
            });
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, [](nghttp2_session*, int32_t id, uint32_t err, void* ud) {
                auto& r = static_cast<Client*>(ud)->resp[id];
                r.closed = true;
                r.error = err;
                return 0;
            });
        nghttp2_session_client_new(&ng, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, nullptr, 0);
    }
    ~Client() { nghttp2_session_del(ng); }

    int32_t get(const std::string& path, std::vector<std::pair<std::string, std::string>> extra = {},
                const char* method = "GET") {
        std::vector<nghttp2_nv> nv;
        auto add = [&nv](const std::string& n, const std::string& v) {
            nv.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                          NGHTTP2_NV_FLAG_NONE});
        };
        static const std::string m = ":method", p = ":path", s = ":scheme", a = ":authority",
                                 https = "https", host = "localhost";
        std::string meth = method;
        add(m, meth);
        add(p, path);
        add(s, https);
        add(a, host);
        for (auto& [n, v] : extra) add(n, v);
        return nghttp2_submit_request(ng, nullptr, nv.data(), nv.size(), nullptr, nullptr);
    }
    std::string out() {
        std::string o;
        for (;;) {
            const uint8_t* d;
            ssize_t n = nghttp2_session_mem_send(ng, &d);
            if (n <= 0) break;
            o.append(reinterpret_cast<const char*>(d), static_cast<size_t>(n));
        }
        return o;
    }
    void in(const std::string& b) {
        ASSERT_EQ(nghttp2_session_mem_recv(ng, reinterpret_cast<const uint8_t*>(b.data()), b.size()),
                  static_cast<ssize_t>(b.size()));
    }
};

class H2Test : public ::testing::Test, protected testing::World {
protected:
    void SetUp() override {
        tree.write("small.txt", "0123456789");
        big.resize(300 * 1024);
        for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
        tree.write("big.bin", big);
        open();
        h2.emplace(env, owner);
        ASSERT_TRUE(h2->reset());
        client.in(owner.take_all());  // our SETTINGS
    }
    void TearDown() override { h2.reset(); }
    // Client → server → client until nothing moves.
    void pump() {
        for (int i = 0; i < 1000; ++i) {
            std::string c = client.out();
            if (!c.empty()) h2->feed(c);
            std::string s = owner.take_all();
            if (!s.empty()) {
                client.in(s);
                h2->on_sent(true);
                s = owner.take_all();
                if (!s.empty()) client.in(s);
            }
            if (c.empty() && s.empty()) return;
        }
    }

    std::string big;
    FakeOwner owner;
    Client client;
    std::optional<H2> h2;
};

TEST_F(H2Test, GetSmallFile) {
    const int32_t id = client.get("/small.txt");
    pump();
    auto& r = client.resp[id];
    EXPECT_EQ(r.headers[":status"], "200");
    EXPECT_EQ(r.headers["content-length"], "10");
    EXPECT_EQ(r.headers["content-type"].rfind("text/plain", 0), 0u);
    EXPECT_EQ(r.headers.count("connection"), 0u);
    EXPECT_EQ(r.body, "0123456789");
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.error, 0u);
    const std::string l = log_text();
    EXPECT_NE(l.find("\"GET /small.txt HTTP/2.0\" 200 10 "), std::string::npos) << l;
    EXPECT_NE(l.find(" 7/1"), std::string::npos) << l;
    EXPECT_EQ(counters.h2_requests.get(), 1u);
}

TEST_F(H2Test, BigFileInFullFrames) {
    const int32_t id = client.get("/big.bin");
    // The client's default window is 64 KiB - 1: open it so frames are not cut by it.
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, id, 1 << 24);
    pump();
    auto& r = client.resp[id];
    EXPECT_EQ(r.headers[":status"], "200");
    ASSERT_EQ(r.body.size(), big.size());
    EXPECT_TRUE(r.body == big);
    ASSERT_GE(r.data_frames.size(), 2u);
    size_t full = 0;
    for (size_t i = 0; i + 1 < r.data_frames.size(); ++i) full += r.data_frames[i] == H2::kDataPayload;
    // Every frame but those cut by the initial 64 KiB window is 16,375 bytes.
    EXPECT_GE(full + 6, r.data_frames.size());
}

TEST_F(H2Test, BigFileAsFilePiecesWithH2DataSplice) {
    env.h2_data_splice = true;
    const int32_t id = client.get("/big.bin");
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, id, 1 << 24);
    // The payloads are queued as file extents (the transport splices them): take_all reads
    // them back with pread, so the body must still be byte-exact.
    bool saw_file = false;
    for (int i = 0; i < 200; ++i) {
        std::string c = client.out();
        if (!c.empty()) h2->feed(c);
        for (size_t k = 0; k < owner.q.pieces(); ++k) saw_file |= owner.q.piece(k).is_file();
        std::string srv = owner.take_all();
        if (c.empty() && srv.empty()) break;
        if (!srv.empty()) client.in(srv);
        h2->on_sent(true);
    }
    EXPECT_TRUE(saw_file);
    EXPECT_EQ(client.resp[id].body.size(), big.size());
    EXPECT_TRUE(client.resp[id].body == big);
}

TEST_F(H2Test, HeadRangeConditionalAnd404) {
    const int32_t head_id = client.get("/small.txt", {}, "HEAD");
    const int32_t range = client.get("/small.txt", {{"range", "bytes=2-4"}});
    const int32_t missing = client.get("/nope");
    pump();
    EXPECT_EQ(client.resp[head_id].headers[":status"], "200");
    EXPECT_EQ(client.resp[head_id].body, "");
    EXPECT_EQ(client.resp[range].headers[":status"], "206");
    EXPECT_EQ(client.resp[range].body, "234");
    EXPECT_EQ(client.resp[missing].headers[":status"], "404");
    const std::string etag = client.resp[head_id].headers["etag"];
    ASSERT_FALSE(etag.empty());
    const int32_t cond = client.get("/small.txt", {{"if-none-match", etag}});
    pump();
    EXPECT_EQ(client.resp[cond].headers[":status"], "304");
}

TEST_F(H2Test, OtherMethods405) {
    const int32_t id = client.get("/small.txt", {}, "DELETE");
    pump();
    EXPECT_EQ(client.resp[id].headers[":status"], "405");
    EXPECT_EQ(client.resp[id].headers["allow"], "GET, HEAD, OPTIONS");
}

TEST_F(H2Test, PingFloodEndsWithEnhanceYourCalm) {
    uint8_t opaque[8] = {};
    for (uint32_t i = 0; i < H2::kJunkBudget + 10; ++i) {
        nghttp2_submit_ping(client.ng, NGHTTP2_FLAG_NONE, opaque);
        if (i % 100 == 0) pump();
    }
    pump();
    EXPECT_EQ(client.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
    EXPECT_TRUE(owner.closed || owner.closed_now);
    EXPECT_EQ(counters.h2_flood_closed.get(), 1u);
}

// Frames as a peer sees them: type, flags, stream and payload of each whole frame in `b`.
struct Frame {
    uint8_t type, flags;
    int32_t id;
    std::string payload;
};
std::vector<Frame> frames_of(const std::string& b) {
    std::vector<Frame> out;
    size_t off = 0;
    while (off + 9 <= b.size()) {
        const auto* h = reinterpret_cast<const uint8_t*>(b.data() + off);
        const size_t len = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
        if (off + 9 + len > b.size()) break;
        const int32_t id = static_cast<int32_t>(((uint32_t{h[5]} & 0x7f) << 24) |
                                                (uint32_t{h[6]} << 16) | (uint32_t{h[7]} << 8) |
                                                h[8]);
        out.push_back({h[3], h[4], id, b.substr(off + 9, len)});
        off += 9 + len;
    }
    EXPECT_EQ(off, b.size()) << "a frame cut short";
    return out;
}
uint32_t be32(const std::string& p, size_t at = 0) {
    const auto* u = reinterpret_cast<const uint8_t*>(p.data() + at);
    return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Request HEADERS built by hand (a peer that ignores our MAX_CONCURRENT_STREAMS, which the
// nghttp2 client would not): its own HPACK deflater, so the server's decoder must keep up.
struct RawRequests {
    nghttp2_hd_deflater* d = nullptr;
    RawRequests() { nghttp2_hd_deflate_new(&d, 4096); }
    ~RawRequests() { nghttp2_hd_deflate_del(d); }
    std::string headers(int32_t id, const std::string& path, const std::string& extra = "") {
        std::vector<std::pair<std::string, std::string>> f = {
            {":method", "GET"}, {":path", path}, {":scheme", "https"},
            {":authority", "localhost"}};
        if (!extra.empty()) f.emplace_back("x-marker", extra);
        std::vector<nghttp2_nv> nv;
        for (auto& [n, v] : f)
            nv.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                          NGHTTP2_NV_FLAG_NONE});
        std::string block(nghttp2_hd_deflate_bound(d, nv.data(), nv.size()), '\0');
        const ssize_t n = nghttp2_hd_deflate_hd(d, reinterpret_cast<uint8_t*>(block.data()),
                                                block.size(), nv.data(), nv.size());
        EXPECT_GT(n, 0);
        block.resize(static_cast<size_t>(n));
        std::string fr = {static_cast<char>(block.size() >> 16), static_cast<char>(block.size() >> 8),
                          static_cast<char>(block.size()), NGHTTP2_HEADERS,
                          NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
                          static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                          static_cast<char>(id >> 8), static_cast<char>(id)};
        return fr + block;
    }
    static std::string rst(int32_t id) {
        return std::string{0, 0, 4, NGHTTP2_RST_STREAM, 0, static_cast<char>(id >> 24),
                           static_cast<char>(id >> 16), static_cast<char>(id >> 8),
                           static_cast<char>(id), 0, 0, 0, NGHTTP2_CANCEL};
    }
};

TEST_F(H2Test, AdvertisesTheStreamLimitAndRefusesTheStreamOverIt) {
    // The client read our SETTINGS (SetUp): 128, whatever nghttp2 was told.
    EXPECT_EQ(nghttp2_session_get_remote_settings(client.ng,
                                                  NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
              H2::kMaxConcurrentStreams);
    pump();  // the client's preface, SETTINGS and its ACK of ours: the limit is in force
    RawRequests raw;
    std::string burst;
    for (int32_t i = 0; i < 128; ++i) burst += raw.headers(1 + 2 * i, "/big.bin");
    // The 129th carries a field the deflater indexes: the next request refers to it, so its
    // header block must have been decoded although the stream was refused.
    burst += raw.headers(257, "/small.txt", "refused");
    h2->feed(burst);
    std::map<int32_t, int> headers;
    std::map<int32_t, uint32_t> rst;
    bool goaway = false;
    for (const Frame& f : frames_of(owner.take_all())) {
        if (f.type == NGHTTP2_HEADERS) ++headers[f.id];
        if (f.type == NGHTTP2_RST_STREAM) rst[f.id] = be32(f.payload);
        goaway |= f.type == NGHTTP2_GOAWAY;
    }
    EXPECT_FALSE(goaway);
    EXPECT_EQ(headers.size(), 128u);
    EXPECT_EQ(headers.count(257), 0u);
    ASSERT_EQ(rst.size(), 1u);
    EXPECT_EQ(rst[257], static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
    EXPECT_EQ(counters.h2_requests.get(), 128u);
    h2->on_sent(true);
    // A slot frees up: the next stream is served, its header block decoded with the entry
    // the refused one added to the dynamic table.
    h2->feed(RawRequests::rst(1) + raw.headers(259, "/small.txt", "refused"));
    bool served = false;
    for (const Frame& f : frames_of(owner.take_all())) {
        served |= f.type == NGHTTP2_HEADERS && f.id == 259;
        EXPECT_NE(f.type, NGHTTP2_GOAWAY);
    }
    EXPECT_TRUE(served);
    EXPECT_EQ(counters.h2_requests.get(), 129u);
    EXPECT_FALSE(owner.closed || owner.closed_now);
}

TEST_F(H2Test, RefusalsCostTheJunkBudget) {
    pump();
    RawRequests raw;
    std::string burst;
    for (int32_t i = 0; i < 128; ++i) burst += raw.headers(1 + 2 * i, "/big.bin");
    h2->feed(burst);
    (void)owner.take_all();
    h2->on_sent(true);
    // One stream over the limit after another, each refused (its RST_STREAM sent) before the
    // next: the budget, not nghttp2's cap, ends it.
    int refused = 0;
    uint32_t goaway = UINT32_MAX;
    for (int32_t id = 257; id < 257 + 2 * 400 && goaway == UINT32_MAX; id += 2) {
        h2->feed(raw.headers(id, "/small.txt"));
        for (const Frame& f : frames_of(owner.take_all())) {
            if (f.type == NGHTTP2_RST_STREAM && be32(f.payload) == NGHTTP2_REFUSED_STREAM)
                ++refused;
            if (f.type == NGHTTP2_GOAWAY) goaway = be32(f.payload, 4);
        }
        h2->on_sent(true);
    }
    EXPECT_EQ(goaway, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
    const uint64_t credit = H2::kJunkBudget + H2::kJunkPerRequest * 128 + 65536 / 8192;
    EXPECT_LE(refused, static_cast<int>(credit / (H2::kJunkPerRequest + 2)) + 1);
    EXPECT_GE(refused, 100);
    EXPECT_EQ(counters.h2_flood_closed.get(), 1u);
    EXPECT_EQ(counters.h2_requests.get(), 128u);
}

TEST_F(H2Test, StreamsOverTheHardCapInOneBurstEndTheConnection) {
    pump();
    RawRequests raw;
    std::string burst;
    // 128 open, then 129 more before any refusal can go out: nghttp2's own limit
    // (kStreamHardCap) ends the connection.
    for (int32_t i = 0; i < 128 + 129; ++i) burst += raw.headers(1 + 2 * i, "/big.bin");
    h2->feed(burst);
    uint32_t goaway = UINT32_MAX;
    for (const Frame& f : frames_of(owner.take_all()))
        if (f.type == NGHTTP2_GOAWAY) goaway = be32(f.payload, 4);
    EXPECT_EQ(goaway, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
    EXPECT_TRUE(owner.closed || owner.closed_now);
}

TEST_F(H2Test, AckFloodDropsTheUnsentResponse) {
    // A 4 MiB file, open windows, and a client that reads nothing: the queue fills to the
    // high-water mark. Then a PING flood: nghttp2's outbound-ACK limit (FLOODED).
    std::string huge(4 << 20, 'h');
    tree.write("huge.bin", huge);
    const int32_t id = client.get("/huge.bin");
    h2->feed(client.out());  // the stream is open on the client once its HEADERS are out
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    nghttp2_submit_window_update(client.ng, NGHTTP2_FLAG_NONE, id, 1 << 30);
    h2->feed(client.out());
    const uint64_t queued = owner.q.end();
    ASSERT_GE(owner.q.unsent(), H2::kHighWater);
    uint8_t opaque[8] = {};
    for (int i = 0; i < 1100; ++i) nghttp2_submit_ping(client.ng, NGHTTP2_FLAG_NONE, opaque);
    h2->feed(client.out());
    EXPECT_EQ(counters.h2_flood_closed.get(), 1u);
    EXPECT_TRUE(owner.closed);
    // Nothing was handed to a transport: all but the first frames (up to the first boundary
    // noted) is dropped, and the GOAWAY follows whole frames.
    EXPECT_LT(owner.q.end(), queued / 4);
    const std::string wire = owner.take_all();
    const std::vector<Frame> fs = frames_of(wire);
    ASSERT_FALSE(fs.empty());
    EXPECT_EQ(fs.back().type, NGHTTP2_GOAWAY);
    client.in(wire);
    EXPECT_EQ(client.goaway_error, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
    EXPECT_LT(client.resp[id].body.size(), 2 * H2::kDataPayload * 4);
    EXPECT_TRUE(client.resp[id].body == huge.substr(0, client.resp[id].body.size()));
}

TEST_F(H2Test, ShutdownSendsGoawayAndFinishesStreams) {
    const int32_t id = client.get("/small.txt");
    std::string c = client.out();
    h2->feed(c);
    h2->begin_shutdown();
    client.in(owner.take_all());
    h2->on_sent(true);
    client.in(owner.take_all());
    EXPECT_EQ(client.goaway_error, 0u);  // NO_ERROR
    EXPECT_EQ(client.resp[id].body, "0123456789");
    EXPECT_TRUE(owner.closed);
}

TEST_F(H2Test, IdleConnectionGivesItsFrameBufferBack) {
    pump();  // established, no stream
    const uint64_t once = counters.h2_idle_released.get();
    h2->tick(now + 1);
    // nghttp2's frame buffer was found at session creation and its pages (16 KiB and the
    // rest of the last page) went back.
    EXPECT_GE(counters.h2_idle_released.get() - once, 16u * 1024);
    const uint64_t after = counters.h2_idle_released.get();
    h2->tick(now + 2);  // nothing framed since: no second madvise
    EXPECT_EQ(counters.h2_idle_released.get(), after);
    // The zeroed pages serve the next frames: a request and a response with HPACK state kept.
    for (int round = 0; round < 2; ++round) {
        const int32_t id = client.get("/small.txt");
        pump();
        EXPECT_EQ(client.resp[id].headers[":status"], "200");
        EXPECT_EQ(client.resp[id].body, "0123456789");
        const uint64_t before = counters.h2_idle_released.get();
        h2->tick(now + 3 + round);
        EXPECT_GT(counters.h2_idle_released.get(), before);
    }
    EXPECT_EQ(client.goaway_error, UINT32_MAX);  // none
}

TEST_F(H2Test, IdleTimeouts) {
    h2->tick(now + 9999);
    EXPECT_FALSE(owner.closed);
    h2->tick(now + 10000);
    EXPECT_TRUE(owner.closed);
    EXPECT_EQ(counters.timeouts_header.get(), 1u);
}

TEST_F(H2Test, EstablishedIdleConnectionGetsTheKeepaliveTimeout) {
    pump();  // the client's preface and SETTINGS arrive: established, no stream
    h2->tick(now + 4999);
    EXPECT_FALSE(owner.closed);
    h2->tick(now + 5000);
    EXPECT_TRUE(owner.closed);
    EXPECT_EQ(counters.timeouts_keepalive.get(), 1u);
    EXPECT_EQ(counters.timeouts_header.get(), 0u);
}

TEST_F(H2Test, SlowHeaderBlockGetsTheHeaderTimeout) {
    // HEADERS without END_HEADERS, and the CONTINUATION never comes.
    pump();
    const std::string preface_done = client.out();
    (void)preface_done;
    const char headers[] = {0, 0, 0, 1, 0 /* no END_HEADERS */, 0, 0, 0, 1};
    h2->feed(std::string(headers, sizeof headers));
    h2->tick(now + 9999);
    EXPECT_FALSE(owner.closed);
    h2->tick(now + 10000);
    EXPECT_TRUE(owner.closed);
    EXPECT_EQ(counters.timeouts_header.get(), 1u);
}

}  // namespace
}  // namespace sluice::session
