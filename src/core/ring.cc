#include "core/ring.h"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>

namespace sluice::core {

static_assert(kCqeMore == IORING_CQE_F_MORE);

int cqe_buffer(uint32_t flags) {
    return (flags & IORING_CQE_F_BUFFER) ? static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
}

namespace {

// Kernel version as major*1000+minor; multishot support is not visible in io_uring_probe
// (same opcode, new flag), so it is derived from the release and confirmed at run time
// (a multishot SQE the kernel rejects completes with -EINVAL and the caller falls back).
int kernel_version() {
    utsname u{};
    if (uname(&u) != 0) return 0;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
    return major * 1000 + minor;
}

}  // namespace

std::string Features::describe() const {
    std::string s;
    auto add = [&s](const char* name, bool on) {
        if (!s.empty()) s += ' ';
        s += name;
        s += on ? "=yes" : "=no";
    };
    add("single_issuer", single_issuer);
    add("defer_taskrun", defer_taskrun);
    add("coop_taskrun", coop_taskrun);
    add("multishot_accept", multishot_accept);
    add("multishot_recv", multishot_recv);
    add("buf_ring", buf_ring);
    add("ext_arg", ext_arg);
    return s;
}

Ring::Ring() : ring_(std::make_unique<io_uring>()) {}

Result<std::unique_ptr<Ring>> Ring::create(unsigned entries) {
    std::unique_ptr<Ring> r(new Ring());
    // Try the most capable setup first and drop flags the kernel refuses (EINVAL).
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    unsigned used = 0;
    for (unsigned flags : attempts) {
        io_uring_params p{};
        p.flags = flags | IORING_SETUP_CLAMP;
        p.cq_entries = entries * 4;  // room for multishot bursts
        p.flags |= IORING_SETUP_CQSIZE;
        rc = io_uring_queue_init_params(entries, r->ring_.get(), &p);
        if (rc == 0) {
            used = flags;
            r->features_.ext_arg = (p.features & IORING_FEAT_EXT_ARG) != 0;
            break;
        }
        if (rc != -EINVAL) break;
    }
    if (rc < 0) return fail(-rc);
    r->inited_ = true;
    r->features_.single_issuer = (used & IORING_SETUP_SINGLE_ISSUER) != 0;
    r->features_.defer_taskrun = (used & IORING_SETUP_DEFER_TASKRUN) != 0;
    r->features_.coop_taskrun = (used & IORING_SETUP_COOP_TASKRUN) != 0;
    r->probe();
    return r;
}

void Ring::probe() {
    const int v = kernel_version();
    io_uring_probe* p = io_uring_get_probe_ring(ring_.get());
    bool has_accept = p && io_uring_opcode_supported(p, IORING_OP_ACCEPT);
    bool has_recv = p && io_uring_opcode_supported(p, IORING_OP_RECV);
    if (p) io_uring_free_probe(p);
    features_.multishot_accept = has_accept && v >= 5019;
    features_.multishot_recv = has_recv && v >= 6000;
    // Buffer rings are probed by registering one in make_buffer_ring().
    features_.buf_ring = v >= 5019;
}

Ring::~Ring() {
    if (inited_) io_uring_queue_exit(ring_.get());
}

io_uring_sqe* Ring::sqe(Op& op) {
    io_uring_sqe* s = io_uring_get_sqe(ring_.get());
    while (!s) {
        io_uring_submit(ring_.get());
        s = io_uring_get_sqe(ring_.get());
    }
    io_uring_sqe_set_data(s, &op);
    op.mark_in_flight();
    return s;
}

io_uring_sqe* Ring::sqe_untracked() {
    io_uring_sqe* s = io_uring_get_sqe(ring_.get());
    while (!s) {
        io_uring_submit(ring_.get());
        s = io_uring_get_sqe(ring_.get());
    }
    io_uring_sqe_set_data64(s, 0);
    return s;
}

void Ring::submit_now() { io_uring_submit(ring_.get()); }

void Ring::recv(Op& op, int fd, void* buf, size_t len) {
    io_uring_prep_recv(sqe(op), fd, buf, len, 0);
}

void Ring::recv_provided(Op& op, int fd, const BufferRing& bufs, bool multishot) {
    io_uring_sqe* s = sqe(op);
    if (multishot)
        io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
    else
        io_uring_prep_recv(s, fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = bufs.group();
}

void Ring::recvmsg(Op& op, int fd, msghdr* msg, const BufferRing* bufs) {
    io_uring_sqe* s = sqe(op);
    io_uring_prep_recvmsg(s, fd, msg, 0);
    if (bufs) {
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = bufs->group();
    }
}

void Ring::send(Op& op, int fd, const void* buf, size_t len, int flags) {
    io_uring_prep_send(sqe(op), fd, buf, len, flags);
}

void Ring::sendmsg(Op& op, int fd, const msghdr* msg, int flags) {
    io_uring_prep_sendmsg(sqe(op), fd, msg, static_cast<unsigned>(flags));
}

void Ring::splice_pair(Op& in, Op& out, int file_fd, uint64_t file_off, int pipe_wr,
                       int pipe_rd, int sock_fd, unsigned len) {
    // Both SQEs in one submission, or the link would dangle across a submit.
    if (io_uring_sq_space_left(ring_.get()) < 2) io_uring_submit(ring_.get());
    io_uring_sqe* i = sqe(in);
    io_uring_prep_splice(i, file_fd, static_cast<int64_t>(file_off), pipe_wr, -1, len,
                         SPLICE_F_MOVE);
    i->flags |= IOSQE_IO_LINK;
    io_uring_prep_splice(sqe(out), pipe_rd, -1, sock_fd, -1, len,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

void Ring::splice_out(Op& op, int pipe_rd, int sock_fd, unsigned len) {
    io_uring_prep_splice(sqe(op), pipe_rd, -1, sock_fd, -1, len,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

void Ring::poll(Op& op, int fd, unsigned events) { io_uring_prep_poll_add(sqe(op), fd, events); }

void Ring::read(Op& op, int fd, void* buf, size_t len, uint64_t off) {
    io_uring_prep_read(sqe(op), fd, buf, static_cast<unsigned>(len), off);
}

void Ring::readv(Op& op, int fd, const iovec* iov, unsigned n, uint64_t off) {
    io_uring_prep_readv(sqe(op), fd, iov, n, off);
}

void Ring::accept(Op& op, int listen_fd, bool multishot) {
    if (multishot)
        io_uring_prep_multishot_accept(sqe(op), listen_fd, nullptr, nullptr,
                                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe(op), listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void Ring::cancel(const Op& op) {
    io_uring_prep_cancel64(sqe_untracked(), reinterpret_cast<uint64_t>(&op), 0);
}

int Ring::run_once(unsigned timeout_ms) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    int rc = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return rc;
    // Copy a batch out before dispatching: handlers queue new SQEs and may free ops' owners
    // only after their own CQE, never another op's.
    int n = 0;
    io_uring_cqe* batch[128];
    for (;;) {
        unsigned got = io_uring_peek_batch_cqe(ring_.get(), batch, 128);
        if (got == 0) break;
        struct Done {
            Op* op;
            int res;
            uint32_t flags;
        } done[128];
        for (unsigned i = 0; i < got; ++i)
            done[i] = {static_cast<Op*>(io_uring_cqe_get_data(batch[i])), batch[i]->res,
                       batch[i]->flags};
        io_uring_cq_advance(ring_.get(), got);
        for (unsigned i = 0; i < got; ++i)
            if (done[i].op) done[i].op->complete(done[i].res, done[i].flags);
        n += static_cast<int>(got);
        if (got < 128) break;
    }
    return n;
}

Result<std::unique_ptr<BufferRing>> Ring::make_buffer_ring(uint16_t group, uint32_t count,
                                                           uint32_t size) {
    std::unique_ptr<BufferRing> b(new BufferRing());
    const size_t ring_bytes = sizeof(io_uring_buf) * count;
    const size_t data_bytes = size_t{count} * size;
    b->map_len_ = ring_bytes + data_bytes;
    void* mem = mmap(nullptr, b->map_len_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
                     -1, 0);
    if (mem == MAP_FAILED) return fail_errno();
    b->br_ = static_cast<io_uring_buf_ring*>(mem);
    b->base_ = static_cast<char*>(mem) + ring_bytes;
    b->ring_ = ring_.get();
    b->count_ = count;
    b->size_ = size;
    b->group_ = group;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = count;
    reg.bgid = group;
    int rc = io_uring_register_buf_ring(ring_.get(), &reg, 0);
    if (rc < 0) {
        munmap(mem, b->map_len_);
        b->br_ = nullptr;
        features_.buf_ring = false;
        return fail(-rc);
    }
    io_uring_buf_ring_init(b->br_);
    const int mask = io_uring_buf_ring_mask(count);
    for (uint32_t i = 0; i < count; ++i)
        io_uring_buf_ring_add(b->br_, b->buffer(static_cast<uint16_t>(i)), size,
                              static_cast<uint16_t>(i), mask, static_cast<int>(i));
    io_uring_buf_ring_advance(b->br_, static_cast<int>(count));
    return b;
}

void BufferRing::recycle(uint16_t bid) {
    io_uring_buf_ring_add(br_, buffer(bid), size_, bid, io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(br_, 1);
}

BufferRing::~BufferRing() {
    if (br_) {
        io_uring_unregister_buf_ring(ring_, group_);
        munmap(br_, map_len_);
    }
}

}  // namespace sluice::core
