// session/h2.h — HTTP/2 (RFC 9113) over one connection, by nghttp2 used sans-I/O: bytes in
// through nghttp2_session_mem_recv, frames out through nghttp2_session_mem_send into the
// connection's output queue. The only file besides h2.cc that knows nghttp2 is none: the
// library stays in h2.cc.
//
// Responses come from the same handler::StaticFiles as HTTP/1 (ranges, conditionals,
// precompressed variants, confinement, errors), their fields lowercased. DATA frames are built
// by us (NGHTTP2_DATA_FLAG_NO_COPY): the 9-byte header and up to 16,375 payload bytes go into
// one 16 KiB slot of the queue, so a frame is exactly one full TLS record's plaintext and a
// batch of frames leaves in one send. Payload comes from the cached bytes, or from the file's
// mapping when its pages are resident (the one copy: page cache → slot); a cold file extent is
// queued as a file piece for the transport (splice, or a ring read under user TLS).
//
// Limits (each a constant here or a flag, docs/http2.md): 128 concurrent streams, 64 KiB of
// header list (431), HPACK table 4096, nghttp2's Rapid Reset and CONTINUATION limits, a budget
// for frames that do no work (PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA, resets the
// peer provokes) that ends the connection with GOAWAY ENHANCE_YOUR_CALM, and a high-water mark
// on the queue: frames are produced only while less than it waits to be sent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "session/access.h"
#include "session/h2_mem.h"
#include "session/session.h"

struct nghttp2_session;

namespace sluice::handler {
class StaticFiles;
}

namespace sluice::session {

// The nghttp2 version linked in ("1.52.0"), for --version.
const char* h2_library_version();

class H2 final : public Session {
public:
    // Advertised in our SETTINGS; a stream over it is refused (RST_STREAM REFUSED_STREAM,
    // RFC 9113 §5.1.2). nghttp2 itself is told twice as many (and the SETTINGS frame it
    // serializes is rewritten to say kMaxConcurrentStreams): its own limit, a connection error
    // once acknowledged, is the hard cap for a peer that keeps opening streams regardless.
    static constexpr uint32_t kMaxConcurrentStreams = 128;
    static constexpr uint32_t kStreamHardCap = 2 * kMaxConcurrentStreams;
    static constexpr size_t kMaxHeaderList = 64 * 1024;
    static constexpr uint32_t kHpackTable = 4096;
    // 9 + 16,375 = 16,384: one DATA frame is one full TLS record's plaintext.
    static constexpr size_t kDataPayload = 16384 - 9;
    // Frames produced ahead of the socket: enough for a 1 MiB sendmsg, bounded per connection.
    static constexpr uint64_t kHighWater = 1024 * 1024;
    // Frames that do no work, allowed before GOAWAY ENHANCE_YOUR_CALM: this many, plus this
    // many per request served.
    static constexpr uint32_t kJunkBudget = 1000;
    static constexpr uint32_t kJunkPerRequest = 16;

    H2(const Env& env, Owner& owner);
    ~H2() override;
    H2(const H2&) = delete;
    H2& operator=(const H2&) = delete;

    // A new connection: a fresh nghttp2 session and our SETTINGS queued.
    bool reset();
    void release();

    void feed(std::string_view plaintext) override;
    void on_eof() override;
    void on_sent(bool drained) override;
    void on_closed() override;
    void begin_shutdown() override;
    void tick(uint64_t now_ms) override;

    struct Stream;
    struct Callbacks;

private:
    void produce();
    void maybe_finish();
    void log_stream(const Stream& s);
    void respond(Stream& s);
    void note_junk(uint32_t n = 1);
    void note_cut();
    void drop_unsent();
    Stream* stream(int32_t id);
    Stream* new_stream(int32_t id);
    void free_stream(Stream* s);
    void set_idle_deadline();
    void resume_deferred();
    // The frame scan in front of nghttp2 (h2.cc, "Frames nghttp2 1.52 gets wrong").
    bool scan(std::string_view& data, std::string_view& pass);
    bool frame_head(const uint8_t* h, const uint8_t* payload);
    void connection_error(uint32_t code);
    void mark_stream(int32_t id, uint8_t bits);
    [[nodiscard]] uint8_t stream_bits(int32_t id) const;

    const Env& env_;
    Owner& owner_;
    H2Mem mem_;  // before ng_: nghttp2_session_del frees through it
    nghttp2_session* ng_ = nullptr;
    bool drained_ = true;  // the last mem_send returned 0: nghttp2 holds no frame
    // Streams nghttp2 has open (it keeps only a pointer, and nghttp2_session_del tells no one),
    // and a few freed ones kept for reuse.
    std::vector<std::unique_ptr<Stream>> live_;
    std::vector<std::unique_ptr<Stream>> spare_;
    size_t open_streams_ = 0;
    PendingLogs logs_;
    std::vector<int32_t> deferred_;  // streams whose DATA waits for the queue to drain
    // Scan state: the client preface still to pass, the frame header (and, for a
    // WINDOW_UPDATE, its payload) being collected, payload bytes of the current frame left to
    // pass or drop; what became of the client's last kIdWindow stream ids.
    static constexpr int32_t kIdWindow = 1024;
    size_t preface_left_ = 24;
    std::string head_;
    std::string scan_frame_;  // the judged header handed to nghttp2
    uint32_t payload_left_ = 0;
    bool dropping_ = false;
    int32_t max_client_id_ = 0;
    std::vector<uint8_t> id_bits_;  // per odd id, (id / 2) % kIdWindow
    uint64_t requests_ = 0;
    uint64_t junk_ = 0;
    uint64_t data_sent_ = 0;  // DATA payload bytes queued (the junk budget's credit)
    uint64_t deadline_ms_ = 0;
    // Frame boundaries in the output (queue positions just past a DATA frame, at most one per
    // kCutSpacing, the newest kCuts): where unsent output can be cut after a flood.
    static constexpr size_t kCuts = 32;
    static constexpr uint64_t kCutSpacing = 32 * 1024;
    uint64_t cuts_[kCuts] = {};
    size_t cut_next_ = 0;
    uint64_t last_sent_ms_ = 0;
    // Until the client's preface and SETTINGS: --header-timeout; then --keepalive-timeout
    // whenever no stream is open.
    bool header_deadline_ = true;
    bool preface_seen_ = false;
    bool producing_ = false;
    bool closing_ = false;
    bool shutdown_ = false;
    bool read_eof_ = false;
    bool dead_ = false;  // a fatal nghttp2 error: only the GOAWAY goes out
    bool flooded_ = false;  // the junk budget is spent: feed() ends the connection
};

}  // namespace sluice::session
