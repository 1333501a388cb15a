// core/ring.h — one io_uring per worker thread: setup with feature probing, SQE acquisition,
// submit/wait, completion dispatch and provided-buffer rings. The only module that includes
// <liburing.h>. Not thread-safe: a Ring belongs to the thread that created it.
//
// Completion contract: every SQE's user_data is the address of an Op. The Op (and every byte its
// SQE points at) belongs to the kernel until its CQE is dispatched; it must not be destroyed,
// moved or reused before then. Handlers run from Ring::dispatch(), never synchronously from
// prep/submit.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"

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
        if (!(flags & IORING_CQE_F_MORE)) in_flight_ = false;
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
    io_uring* ring_ = nullptr;
    io_uring_buf_ring* br_ = nullptr;
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

    // An SQE bound to `op` (user_data set, op marked in flight). Submits to make room when the
    // SQ is full; never returns null.
    io_uring_sqe* sqe(Op& op);
    // Makes sure `n` SQEs can be taken without an intervening submit (for linked chains).
    void reserve(unsigned n);
    // An SQE whose completion is ignored (user_data 0), e.g. cancellations.
    io_uring_sqe* sqe_untracked();

    // Submits queued SQEs now (e.g. a cancel that must act before its fd is closed).
    void submit_now() { io_uring_submit(&ring_); }

    // Submits pending SQEs and waits for at least one CQE or `timeout_ms`; then dispatches every
    // available CQE to its Op. Returns the number dispatched or -errno (EINTR/ETIME are 0).
    int run_once(unsigned timeout_ms);

    // Registers a provided-buffer ring of `count` (power of two) buffers of `size` bytes.
    Result<std::unique_ptr<BufferRing>> make_buffer_ring(uint16_t group, uint32_t count,
                                                         uint32_t size);

    io_uring* raw() { return &ring_; }

private:
    Ring() = default;
    void probe();
    io_uring ring_{};
    Features features_;
    bool inited_ = false;
};

}  // namespace sluice::core
