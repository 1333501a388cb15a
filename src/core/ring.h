// core/ring.h — one io_uring per worker thread: setup with feature probing, typed operations
// (one function per kind of SQE the server issues), submit/wait, completion dispatch and
// provided-buffer rings. The only module that includes <liburing.h> — and only in ring.cc, so
// no other module can issue a raw SQE. Not thread-safe: a Ring belongs to the thread that
// created it.
//
// Completion contract: every SQE's user_data is the address of an Op. The Op (and every byte its
// SQE points at) belongs to the kernel until its CQE is dispatched; it must not be destroyed,
// moved or reused before then. Handlers run from Ring::dispatch(), never synchronously from
// prep/submit.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"

struct io_uring;
struct io_uring_sqe;
struct io_uring_buf_ring;

namespace sluice::core {

struct Features {
    bool single_issuer = false;    // IORING_SETUP_SINGLE_ISSUER (6.0+)
    bool defer_taskrun = false;    // IORING_SETUP_DEFER_TASKRUN (6.1+)
    bool coop_taskrun = false;     // IORING_SETUP_COOP_TASKRUN (5.19+)
    bool multishot_accept = false; // IORING_ACCEPT_MULTISHOT (5.19+)
    bool multishot_recv = false;   // IORING_RECV_MULTISHOT (6.0+)
    bool buf_ring = false;         // IORING_REGISTER_PBUF_RING (5.19+)
    bool ext_arg = false;          // wait with timeout without a timeout SQE (5.11+)
    [[nodiscard]] std::string describe() const;
};

class Op;

// What a completion's flags say, decoded here so no other module needs the IORING_CQE_* bits.
inline constexpr uint32_t kCqeMore = 1u << 1;  // IORING_CQE_F_MORE (static_assert in ring.cc)
// The provided buffer a recv/recvmsg completion used, or -1.
int cqe_buffer(uint32_t flags);

// Handler of completions for one or more Ops (typically a connection or a listener).
class OpHandler {
public:
    virtual void on_cqe(Op& op, int res, uint32_t flags) = 0;

protected:
    ~OpHandler() = default;
};

// One in-flight SQE. Its address is the user_data. Non-copyable and non-movable because the
// kernel holds its address. `kind` lets a handler tell its ops apart.
class Op {
public:
    Op(OpHandler* handler, uint8_t kind) : handler_(handler), kind_(kind) {}
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

    [[nodiscard]] uint8_t kind() const { return kind_; }
    [[nodiscard]] bool in_flight() const { return in_flight_; }
    // Called by Ring when it dispatches this op's CQE.
    void complete(int res, uint32_t flags) {
        if (!(flags & kCqeMore)) in_flight_ = false;
        handler_->on_cqe(*this, res, flags);
    }
    void mark_in_flight() { in_flight_ = true; }

private:
    OpHandler* handler_;
    uint8_t kind_;
    bool in_flight_ = false;
};

// A ring of provided buffers (IORING_REGISTER_PBUF_RING) for recv with buffer selection.
// Buffers are handed back with recycle() once the bytes have been consumed.
class BufferRing {
public:
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;
    ~BufferRing();

    [[nodiscard]] uint16_t group() const { return group_; }
    [[nodiscard]] uint32_t buffer_size() const { return size_; }
    [[nodiscard]] char* buffer(uint16_t bid) const { return base_ + size_t{bid} * size_; }
    void recycle(uint16_t bid);

private:
    friend class Ring;
    BufferRing() = default;
    struct ::io_uring* ring_ = nullptr;
    struct ::io_uring_buf_ring* br_ = nullptr;
    char* base_ = nullptr;
    size_t map_len_ = 0;
    uint32_t count_ = 0;
    uint32_t size_ = 0;
    uint16_t group_ = 0;
};

class Ring {
public:
    // Creates a ring with `entries` SQEs, enabling SINGLE_ISSUER/DEFER_TASKRUN/COOP_TASKRUN when
    // the kernel has them (each is tried and dropped on EINVAL), then probes opcodes.
    static Result<std::unique_ptr<Ring>> create(unsigned entries);
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    [[nodiscard]] const Features& features() const { return features_; }

    // Typed operations. Each binds its SQE to `op` (user_data, marked in flight); the buffers
    // named stay the kernel's until the op's completion. The SQ is submitted to make room
    // when full, so none of these fails.
    void recv(Op& op, int fd, void* buf, size_t len);
    // recv into a buffer the kernel picks from `bufs`; multishot: until cancelled or failed.
    void recv_provided(Op& op, int fd, const BufferRing& bufs, bool multishot);
    // recvmsg (kTLS RX: the record type arrives as a cmsg); `bufs` non-null: buffer select,
    // the msghdr's iovec is then ignored.
    void recvmsg(Op& op, int fd, msghdr* msg, const BufferRing* bufs);
    void send(Op& op, int fd, const void* buf, size_t len, int flags);
    void sendmsg(Op& op, int fd, const msghdr* msg, int flags);
    // file → pipe → socket as one linked pair in one submission: the out half runs only after
    // the in half, and is cut (-ECANCELED) when the in half is short.
    void splice_pair(Op& in, Op& out, int file_fd, uint64_t file_off, int pipe_wr, int pipe_rd,
                     int sock_fd, unsigned len);
    // pipe → socket (what a short socket splice left in the pipe).
    void splice_out(Op& op, int pipe_rd, int sock_fd, unsigned len);
    void poll(Op& op, int fd, unsigned events);
    void read(Op& op, int fd, void* buf, size_t len, uint64_t off);
    void readv(Op& op, int fd, const iovec* iov, unsigned n, uint64_t off);
    // accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); multishot: one per connection until cancelled.
    void accept(Op& op, int listen_fd, bool multishot);
    // Cancels `op` by identity (not by fd: the fd may be closed and reused before this is
    // submitted). Its completion is ignored; `op` completes with -ECANCELED or its result.
    void cancel(const Op& op);

    // Submits queued SQEs now (e.g. a cancel that must act before its fd is closed).
    void submit_now();

    // Submits pending SQEs and waits for at least one CQE or `timeout_ms`; then dispatches every
    // available CQE to its Op. Returns the number dispatched or -errno (EINTR/ETIME are 0).
    int run_once(unsigned timeout_ms);

    // Registers a provided-buffer ring of `count` (power of two) buffers of `size` bytes.
    Result<std::unique_ptr<BufferRing>> make_buffer_ring(uint16_t group, uint32_t count,
                                                         uint32_t size);

private:
    Ring();
    void probe();
    struct ::io_uring_sqe* sqe(Op& op);
    struct ::io_uring_sqe* sqe_untracked();
    std::unique_ptr<struct ::io_uring> ring_;
    Features features_;
    bool inited_ = false;
};

}  // namespace sluice::core
