// server/conn.h — one client connection: recv (provided buffers) → llhttp → response plan →
// send / splice, with keep-alive, pipelining, timeouts and graceful close. Owned by its Worker
// and driven only from that worker's thread. A Conn is released (slot reusable) only when none
// of its ops is in flight, so an Op address in a CQE always names a live Conn.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "core/ring.h"
#include "files/cache.h"
#include "handler/static_file.h"
#include "http/parser.h"
#include "http/request.h"
#include "http/response.h"

namespace sluice::tls {
class Context;
struct RecordAction;
enum class Violation : uint8_t;
}

namespace sluice::server {

class Worker;
struct Pipe;

class Conn final : public core::OpHandler {
public:
    explicit Conn(Worker& w);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Takes ownership of an accepted, non-blocking socket and starts reading; with `tls`, a
    // TLS handshake comes first.
    void start(int fd, uint64_t id, tls::Context* tls);
    // Timeouts; called by the worker every tick.
    void tick(uint64_t now_ms);
    // Graceful stop: idle connections close now, busy ones after their current response.
    void begin_shutdown();
    // Immediate close (grace period over).
    void abort();
    [[nodiscard]] bool active() const { return fd_.valid(); }

    void on_cqe(core::Op& op, int res, uint32_t flags) override;

private:
    enum OpKind : uint8_t { kRecv, kSend, kSpliceIn, kSpliceOut, kPoll, kRecvMsg, kCtl, kFileRead };
    enum class Deadline : uint8_t { None, Header, Keepalive, Send, Linger };

    // One piece of output. Memory pieces point into `outbuf_` (ext == nullptr) or into bytes
    // held alive by `hold`; file pieces (fd >= 0) are spliced.
    struct OutSeg {
        const char* ext = nullptr;
        size_t off = 0;
        uint64_t len = 0;
        int fd = -1;
        uint64_t file_off = 0;
        const files::Variant* file = nullptr;  // the variant `fd` belongs to (kept by `hold`)
        std::shared_ptr<files::Resource> hold;
    };
    // An access-log record waiting until its response's last byte is sent.
    struct PendingLog {
        size_t end_seg = 0;
        int status = 0;
        uint64_t bytes = 0;
        uint64_t start_ms = 0;
        uint8_t major = 1;
        uint8_t minor = 1;
        std::string method, target, referer, user_agent;
    };

    void on_recv(int res, uint32_t flags);
    void on_send(int res);
    void on_splice_in(int res);
    void on_splice_out(int res);
    void on_poll(int res);
    void start_linger();
    [[nodiscard]] bool send_queue_empty();  // nothing unsent or unacknowledged (or unknown)
    [[nodiscard]] bool safe_to_close();     // no input pending and send_queue_empty()

    [[nodiscard]] bool should_read() const;
    void update_recv();
    void on_bytes(std::string_view data);
    void process(std::string_view data);
    void process_pending();
    void handle_request();
    handler::StaticFiles& static_files();
    void queue_plan(http::ResponsePlan& plan, const files::Variant* v,
                    const std::shared_ptr<files::Resource>& res);
    void queue_error(int status);
    void push_mem(const char* ext, size_t off, uint64_t len,
                  const std::shared_ptr<files::Resource>& hold);
    void note_log(int status, uint64_t bytes);
    void emit_log(const PendingLog& l, uint64_t bytes);
    void flush_logs();
    void pump();
    void start_splice(OutSeg& s);
    void after_splice();
    void advance_sent(uint64_t n);
    void responses_done();
    void go_idle();
    void drop_output_buffers();  // outbuf_ back to the worker's pool, iov_ freed
    void set_cork(bool on);
    void set_deadline(Deadline d, double seconds);
    void close_graceful();
    void finish_close();
    void log_cut_short();
    void maybe_release();
    [[nodiscard]] bool pipe_holds_unsent_of(size_t log_index) const;

    // TLS (conn_tls.cc).
    struct TlsState;
    void tls_start(tls::Context& ctx);
    void tls_release();
    void tls_handshake_failed();
    void tls_drive_handshake();
    void tls_after_flight();
    void tls_on_handshake_bytes(std::string_view data);
    void tls_on_handshake_eof();
    void tls_handoff();
    void tls_send_wire();
    void tls_on_wire_sent(int res);
    void tls_fatal(tls::Violation v);
    void tls_fatal_progress();
    [[nodiscard]] bool tls_fatal_pending() const;
    void tls_send_warning(uint8_t description);
    void tls_ctl_alert(uint8_t level, uint8_t description);
    bool tls_send_owed_warning();
    bool tls_apply(const tls::RecordAction& a, std::string_view data);
    bool tls_close_notify();
    void tls_on_ctl_sent(int res);
    void tls_on_ciphertext(std::string_view data);
    bool tls_on_record(uint8_t type, std::string_view data);
    bool tls_on_key_update(bool update_requested);
    bool tls_kernel_next_key(bool tx);
    bool tls_kernel_key_update_out();
    bool tls_arm_recv();
    void tls_on_recvmsg(int res, uint32_t flags);
    void tls_pump_sealed();
    void tls_on_file_read(int res);
    enum class MapSeal { Sealed, Cold, Failed };
    MapSeal tls_seal_from_map(OutSeg& s, size_t n);
    void file_sealed(OutSeg& s, size_t n, bool mapped);
    [[nodiscard]] bool tls_user_tx() const;
    [[nodiscard]] bool tls_wire_in_flight() const;
    [[nodiscard]] std::string_view tls_log_tag() const;
    [[nodiscard]] std::array<core::Op*, 8> ops();  // every op, for "any in flight" and cancel
    [[nodiscard]] bool ops_in_flight();
    [[nodiscard]] bool busy() const { return out_pos_ < out_.size(); }

    static constexpr size_t kRxBufSize = 16 * 1024;

    Worker& w_;
    UniqueFd fd_;
    uint64_t id_ = 0;
    std::string peer_ip_;
    std::optional<http::RequestParser> parser_;  // fresh per connection (errors are terminal)
    http::Request req_;
    // The handler is built at the first request from the worker's state; it reads the clock
    // through handler_now_ms_, set from the worker's before each call.
    std::optional<handler::StaticFiles> static_files_;
    uint64_t handler_now_ms_ = 0;
    handler::Response response_;  // reused per request; cleared once queued
    std::string inbuf_;   // bytes received but not yet parsed (pipelined while busy)
    std::string outbuf_;  // rendered heads and literals
    std::vector<OutSeg> out_;
    size_t out_pos_ = 0;
    std::vector<PendingLog> logs_;
    size_t logs_head_ = 0;
    std::vector<iovec> iov_;
    msghdr msg_{};
    std::unique_ptr<Pipe> pipe_;
    std::unique_ptr<char[]> rxbuf_;  // only without provided-buffer rings
    uint64_t pipe_fill_ = 0;
    uint64_t req_start_ms_ = 0;
    uint32_t requests_ = 0;  // on this connection: the first is under the header timeout

    core::Op recv_op_{this, kRecv};
    core::Op send_op_{this, kSend};
    core::Op splice_in_op_{this, kSpliceIn};
    core::Op splice_out_op_{this, kSpliceOut};
    core::Op poll_op_{this, kPoll};
    core::Op recvmsg_op_{this, kRecvMsg};
    core::Op ctl_op_{this, kCtl};
    core::Op file_read_op_{this, kFileRead};
    std::unique_ptr<TlsState> tls_;  // null for plain HTTP; no TLS library state after handoff
    bool handshaking_ = false;

    Deadline deadline_kind_ = Deadline::None;
    uint64_t deadline_ms_ = 0;
    bool recv_multishot_ = false;
    bool recv_cancel_sent_ = false;
    bool recv_starved_ = false;    // ENOBUFS: re-armed on the next tick
    bool read_eof_ = false;        // peer sent FIN
    bool close_after_ = false;     // close once output drains
    bool input_after_close_ = false;  // bytes arrived after the final request
    bool closing_ = false;         // waiting for in-flight ops before releasing the slot
    bool lingering_ = false;       // SHUT_WR sent; discarding input until EOF or deadline
    bool linger_on_close_ = false; // protocol error: drain input before closing
    bool linger_no_read_ = false;  // linger without reading (kTLS RX after KeyUpdate):
                                   // close once the send queue is empty
    bool has_file_seg_ = false;
    bool corked_ = false;          // TCP_CORK set while a file body is spliced
    bool shutdown_requested_ = false;
};

}  // namespace sluice::server
