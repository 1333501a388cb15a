// transport/socket.h — the plain TCP transport, and the socket mechanics TlsSocket builds on:
// recv with provided buffers (multishot while the protocol wants input), the output queue sent
// by send/sendmsg for memory and by a linked splice pair (file → pipe → socket, corked) for
// file extents, or a ring read into the queue for extents marked `read` (HTTP/2 payloads), POLLOUT instead of an io-wq thread when the socket is full, and the close:
// FIN, then linger reading until the peer has everything (RFC 9112 §9.6).
//
// Every op of the connection lives here, so the slot is released only when none is in flight
// and an Op address in a CQE always names a live object (core/ring.h). Driven only from its
// worker's thread.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/fd.h"
#include "core/ring.h"
#include "output/queue.h"
#include "transport/pipe.h"
#include "transport/transport.h"

namespace sluice::transport {

class Socket : public Transport, public core::OpHandler {
public:
    Socket(const Env& env, output::Queue& q, Sink& sink);
    virtual ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Takes ownership of an accepted, non-blocking socket (before start()).
    void attach(int fd);
    [[nodiscard]] int fd() const { return fd_.get(); }

    void start() override;
    void set_input(Input in) override;
    void flush() override;
    void close(CloseOpts opts) override;
    void abort() override;
    void tick(uint64_t now_ms) override;
    [[nodiscard]] bool ops_in_flight() const override;
    [[nodiscard]] bool closing() const override { return closing_; }
    void settle() override;
    void release() override;

    void on_cqe(core::Op& op, int res, uint32_t flags) override;

protected:
    enum OpKind : uint8_t { kRecv, kSend, kSpliceIn, kSpliceOut, kPoll, kRecvMsg, kCtl, kFileRead, kFill };
    enum class Deadline : uint8_t { None, Handshake, Send, Linger };

    // ---- hooks for TlsSocket (the plain behaviour by default) ----
    virtual void arm_input();                      // start or stop reading as should_read() says
    virtual void on_bytes(std::string_view data);  // socket bytes (recv)
    virtual void on_peer_fin();                    // recv returned 0
    virtual void pump();                           // write what the queue holds
    // Whatever this output completion did, something else must happen now (a fatal alert).
    virtual bool divert_output() { return false; }
    // Output drained: a KeyUpdate owed goes first (true: wait for it).
    virtual bool before_drained() { return false; }
    // Queue position the next send must not pass (a KeyUpdate barrier), or none.
    [[nodiscard]] virtual uint64_t send_limit() const { return UINT64_MAX; }
    // close_notify first; true: its completion calls close_sequence() again.
    virtual bool close_notify() { return false; }
    // FIN rides on the last send (MSG_MORE then shutdown from its completion): plain only,
    // TLS ends with close_notify.
    [[nodiscard]] virtual bool fin_after_last_send() const { return true; }
    // Drain input before closing even when not asked to (plain HTTP: always).
    [[nodiscard]] virtual bool linger_by_default() const { return true; }
    virtual void on_finish() {}
    virtual void on_deadline(Deadline d);
    virtual void on_recvmsg(int res, uint32_t flags);
    virtual void on_ctl_sent(int res);
    virtual void on_file_read(int res);
    virtual void on_send(int res);
    virtual void reset_tls() {}

    // ---- mechanics ----
    [[nodiscard]] bool should_read() const;
    void arm_recv(bool allow_multishot);     // recv into a provided (or our own) buffer
    // A view of a recv completion's bytes; recycle(view) hands a provided buffer back.
    struct RecvView {
        std::string_view data;
        int bid = -1;
    };
    RecvView recv_view(int res, uint32_t flags);
    void recycle(const RecvView& v);
    char* own_rxbuf();
    void deliver(std::string_view plaintext);  // to the protocol, unless closing or lingering
    void write_queue();                        // plain writer: send/sendmsg/splice
    void fill_files();                         // read `read` file pieces into the queue
    void on_filled(int res);
    void drained();
    void set_cork(bool on);
    void set_deadline(Deadline d, double seconds);
    [[nodiscard]] bool output_in_flight() const;
    void close_sequence();
    void start_linger();
    void finish();                              // closing_: cancel ops, tell the sink once
    [[nodiscard]] bool send_queue_empty();      // nothing unsent or unacknowledged (or unknown)
    [[nodiscard]] bool safe_to_close();         // no input pending and send_queue_empty()
    void sent_bytes(uint64_t n);                // counted, and sent() advances

    static constexpr size_t kRxBufSize = 16 * 1024;

    const Env& env_;
    output::Queue& q_;
    Sink& sink_;
    UniqueFd fd_;

    core::Op recv_op_{this, kRecv};
    core::Op send_op_{this, kSend};
    core::Op splice_in_op_{this, kSpliceIn};
    core::Op splice_out_op_{this, kSpliceOut};
    core::Op poll_op_{this, kPoll};
    core::Op recvmsg_op_{this, kRecvMsg};
    core::Op ctl_op_{this, kCtl};
    core::Op file_read_op_{this, kFileRead};
    core::Op fill_op_{this, kFill};

    std::vector<iovec> iov_;
    msghdr msg_{};
    uint64_t send_len_ = 0;        // bytes of the queue in the send in flight
    uint64_t fill_off_ = 0;        // fill_files(): file offset of the read in flight (in iov_)
    int fill_fd_ = -1;
    std::optional<Pipe> pipe_;
    uint64_t pipe_fill_ = 0;
    std::unique_ptr<char[]> rxbuf_;  // only without provided-buffer rings

    Input input_ = Input::Want;
    Deadline deadline_ = Deadline::None;
    uint64_t deadline_ms_ = 0;
    CloseOpts close_opts_;
    bool close_pending_ = false;   // close once the queue drains
    bool recv_multishot_ = false;
    bool recv_cancel_sent_ = false;
    bool recv_starved_ = false;    // ENOBUFS: re-armed on the next tick
    bool read_eof_ = false;        // peer sent FIN (or close_notify)
    bool rx_stopped_ = false;      // no more reading (kTLS RX after a KeyUpdate it cannot follow)
    bool closing_ = false;         // finished: waiting for in-flight ops
    bool released_ = true;
    bool lingering_ = false;       // SHUT_WR sent; discarding input until EOF or deadline
    bool linger_no_read_ = false;  // linger without reading: close once the send queue is empty
    bool unread_input_ = false;    // input the protocol never answered (for safe_to_close)
    bool corked_ = false;          // TCP_CORK set while a file body is spliced
};

}  // namespace sluice::transport
