#include "transport/socket.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "obs/counters.h"

namespace sluice::transport {

namespace {
// Two per HTTP/2 frame sent from memory (header, payload): 64 frames = 1 MiB per sendmsg.
constexpr size_t kMaxIov = 128;
constexpr size_t kMaxFill = 64;  // payloads per fill read (1 MiB)
// After an error response we half-close and drain input this long, so the client reads the
// response instead of an RST caused by unread request bytes.
constexpr double kLingerSeconds = 2.0;
}  // namespace

Socket::Socket(const Env& env, output::Queue& q, Sink& sink) : env_(env), q_(q), sink_(sink) {}
Socket::~Socket() = default;

void Socket::attach(int fd) {
    fd_.reset(fd);
    input_ = Input::Want;
    deadline_ = Deadline::None;
    close_opts_ = {};
    close_pending_ = recv_multishot_ = recv_cancel_sent_ = recv_starved_ = false;
    read_eof_ = rx_stopped_ = closing_ = lingering_ = linger_no_read_ = false;
    unread_input_ = corked_ = false;
    released_ = false;
    send_len_ = 0;
    pipe_fill_ = 0;
}

void Socket::start() {
    sink_.on_ready({});
    arm_input();
}

bool Socket::ops_in_flight() const {
    for (const core::Op* op : {&recv_op_, &send_op_, &splice_in_op_, &splice_out_op_, &poll_op_,
                               &recvmsg_op_, &ctl_op_, &file_read_op_, &fill_op_})
        if (op->in_flight()) return true;
    return false;
}

bool Socket::output_in_flight() const {
    return send_op_.in_flight() || splice_in_op_.in_flight() || splice_out_op_.in_flight() ||
           poll_op_.in_flight() || file_read_op_.in_flight() || ctl_op_.in_flight() ||
           fill_op_.in_flight();
}

void Socket::set_deadline(Deadline d, double seconds) {
    deadline_ = d;
    deadline_ms_ = *env_.now_ms + static_cast<uint64_t>(seconds * 1000.0);
}

// ---- reading ---------------------------------------------------------------------------

bool Socket::should_read() const {
    if (closing_ || read_eof_ || rx_stopped_) return false;
    if (lingering_) return !linger_no_read_;
    if (close_pending_ || input_ == Input::Stop) return false;
    // A multishot recv keeps delivering while a response is sent (bytes are parked above,
    // bounded by the protocol's Stop); a single-shot one is armed only when input is wanted.
    if (recv_multishot_ || *env_.multishot_recv) return true;
    return input_ == Input::Want;
}

void Socket::set_input(Input in) {
    if (input_ == in) return;
    input_ = in;
    arm_input();
}

void Socket::arm_input() {
    if (closing_) return;
    if (recv_op_.in_flight()) {
        // A multishot recv keeps delivering; stop it when the protocol wants no more.
        if (recv_multishot_ && !should_read() && !recv_cancel_sent_) {
            env_.ring->cancel(recv_op_);
            recv_cancel_sent_ = true;
        }
        return;
    }
    if (!should_read()) return;
    arm_recv(true);
}

char* Socket::own_rxbuf() {
    if (!rxbuf_) rxbuf_ = std::make_unique<char[]>(kRxBufSize);
    return rxbuf_.get();
}

void Socket::arm_recv(bool allow_multishot) {
    recv_cancel_sent_ = false;
    if (env_.bufs) {
        recv_multishot_ = allow_multishot && *env_.multishot_recv;
        env_.ring->recv_provided(recv_op_, fd_.get(), *env_.bufs, recv_multishot_);
    } else {
        // No buffer rings (old kernel): a per-connection buffer, allocated on first use.
        recv_multishot_ = false;
        env_.ring->recv(recv_op_, fd_.get(), own_rxbuf(), kRxBufSize);
    }
}

Socket::RecvView Socket::recv_view(int res, uint32_t flags) {
    RecvView v;
    v.bid = core::cqe_buffer(flags);
    const char* p = v.bid >= 0 ? env_.bufs->buffer(static_cast<uint16_t>(v.bid)) : rxbuf_.get();
    v.data = std::string_view(p, static_cast<size_t>(res));
    return v;
}

void Socket::recycle(const RecvView& v) {
    if (v.bid >= 0) env_.bufs->recycle(static_cast<uint16_t>(v.bid));
}

void Socket::deliver(std::string_view plaintext) {
    if (plaintext.empty()) return;
    if (closing_ || lingering_ || close_pending_) {
        unread_input_ = true;  // dropped, but the close must linger for it
        return;
    }
    sink_.on_data(plaintext);
}

void Socket::on_bytes(std::string_view data) { deliver(data); }

void Socket::on_peer_fin() {
    read_eof_ = true;
    if (lingering_) {
        finish();
        return;
    }
    sink_.on_eof();
}

// ---- writing ---------------------------------------------------------------------------

void Socket::flush() { pump(); }

void Socket::pump() {
    if (closing_ || output_in_flight()) return;
    write_queue();
}

void Socket::write_queue() {
    // Bytes left in the pipe by a short socket splice go out before anything queued after.
    if (pipe_fill_ > 0) {
        set_deadline(Deadline::Send, env_.send_timeout_s);
        env_.ring->splice_out(splice_out_op_, pipe_->rd.get(), fd_.get(),
                              static_cast<unsigned>(pipe_fill_));
        return;
    }
    const uint64_t limit = send_limit();
    if (q_.pieces() == 0 || q_.taken() >= limit) {
        drained();
        return;
    }
    output::Piece& first_piece = q_.piece(0);
    if (first_piece.read) {
        fill_files();
        return;
    }
    if (first_piece.is_file()) {
        if (!pipe_) {
            auto p = env_.pipes->get();
            if (!p) {
                finish();
                return;
            }
            pipe_.emplace(std::move(*p));
        }
        set_deadline(Deadline::Send, env_.send_timeout_s);
        set_cork(true);
        const auto n = static_cast<unsigned>(std::min<uint64_t>(
            {first_piece.len, pipe_->capacity, limit - q_.taken()}));
        env_.ring->splice_pair(splice_in_op_, splice_out_op_, first_piece.fd,
                               first_piece.file_off, pipe_->wr.get(), pipe_->rd.get(),
                               fd_.get(), n);
        return;
    }
    set_cork(false);
    // One piece (the usual case: head and small body together) goes out by send without
    // touching iov_; several by one sendmsg.
    iovec first{};
    size_t pieces = 0;
    uint64_t total = 0;
    iov_.clear();
    size_t i = 0;
    for (; i < q_.pieces() && pieces < kMaxIov; ++i) {
        const output::Piece& m = q_.piece(i);
        if (m.is_file()) break;
        uint64_t len = m.len;
        if (q_.taken() + total + len > limit) len = limit - q_.taken() - total;
        if (len == 0) break;
        const iovec v{const_cast<char*>(m.data), static_cast<size_t>(len)};
        if (pieces == 0) {
            first = v;
        } else {
            if (pieces == 1) iov_.push_back(first);
            iov_.push_back(v);
        }
        ++pieces;
        total += len;
    }
    const bool all = i == q_.pieces() && q_.taken() + total == q_.end();
    // MSG_MORE when more follows: a spliced body (headers and body share segments), or the
    // FIN of a plain-HTTP close, whose shutdown(SHUT_WR) runs from this send's completion and
    // takes the held tail along: one packet fewer per connection, and the TIME_WAIT is ours,
    // not the client's. (A linked IORING_OP_SHUTDOWN would do the same from an io-wq thread:
    // shutdown never runs inline.)
    const bool fin_follows = close_pending_ && fin_after_last_send() && all;
    const int flags = MSG_NOSIGNAL | (!all || fin_follows ? MSG_MORE : 0);
    send_len_ = total;
    if (pieces == 1) {
        env_.ring->send(send_op_, fd_.get(), first.iov_base, first.iov_len, flags);
    } else {
        msg_ = msghdr{};
        msg_.msg_iov = iov_.data();
        msg_.msg_iovlen = iov_.size();
        env_.ring->sendmsg(send_op_, fd_.get(), &msg_, flags);
    }
    set_deadline(Deadline::Send, env_.send_timeout_s);
}

// HTTP/2 payloads whose pages were not resident: one ring READV puts the next MiB of them
// straight into blocks at their places in the queue (behind their frame headers), and they
// leave with the headers in one sendmsg. A buffered read of cold pages waits on the page
// cache, not in an io-wq thread (a splice would run in one, per frame).
void Socket::fill_files() {
    const output::Piece& first = q_.piece(0);
    fill_fd_ = first.fd;
    fill_off_ = first.file_off;
    uint64_t off = fill_off_;
    iov_.clear();
    for (size_t i = 0; i < q_.pieces() && iov_.size() < kMaxFill; ++i) {
        const output::Piece& p = q_.piece(i);
        if (!p.is_file()) continue;  // frame headers, or other streams' frames from memory
        if (!p.read || p.fd != fill_fd_ || p.file_off != off) break;
        const size_t n = static_cast<size_t>(p.len);
        iov_.push_back(iovec{q_.fill(i), n});
        off += n;
    }
    env_.ring->readv(fill_op_, fill_fd_, iov_.data(), static_cast<unsigned>(iov_.size()),
                     fill_off_);
    set_deadline(Deadline::Send, env_.send_timeout_s);
}

void Socket::on_filled(int res) {
    if (divert_output()) return;
    if (res <= 0) {
        // 0: the file shrank below the length we promised; the response cannot be completed.
        finish();
        return;
    }
    env_.counters->file_ring_read_bytes.add(static_cast<uint64_t>(res));
    // A short read (a signal): the rest again, from where it stopped.
    auto n = static_cast<size_t>(res);
    fill_off_ += n;
    size_t done = 0;
    while (done < iov_.size() && n >= iov_[done].iov_len) n -= iov_[done++].iov_len;
    iov_.erase(iov_.begin(), iov_.begin() + static_cast<ptrdiff_t>(done));
    if (!iov_.empty()) {
        iov_[0].iov_base = static_cast<char*>(iov_[0].iov_base) + n;
        iov_[0].iov_len -= n;
        env_.ring->readv(fill_op_, fill_fd_, iov_.data(), static_cast<unsigned>(iov_.size()),
                         fill_off_);
        return;
    }
    pump();
}

// Everything queued is on the socket and nothing is in flight.
void Socket::drained() {
    if (before_drained()) return;
    set_cork(false);
    if (pipe_) {
        env_.pipes->put(std::move(*pipe_));  // empty here: every spliced byte was sent
        pipe_.reset();
    }
    if (deadline_ == Deadline::Send) deadline_ = Deadline::None;
    if (iov_.capacity() > kMaxIov) std::vector<iovec>().swap(iov_);
    if (close_pending_) {
        close_sequence();
        return;
    }
    sink_.on_sent(true);
}

void Socket::set_cork(bool on) {
    if (corked_ == on) return;
    // Corked while a file body is spliced: segments leave full-sized even when the socket had
    // room for only part of one, which halves the receiver's per-byte work (measured with
    // bench/compare's 16 MiB scenario). Uncorking pushes the tail.
    int v = on ? 1 : 0;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_CORK, &v, sizeof v);
    corked_ = on;
}

void Socket::sent_bytes(uint64_t n) {
    env_.counters->bytes_sent.add(n);
    q_.sent(n);
}

void Socket::on_send(int res) {
    if (divert_output()) return;
    if (res < 0) {
        // EFAULT: a file mapped for HTTP/2 shrank under the send; the response cannot be
        // completed. Else EPIPE, ECONNRESET, ECANCELED after a timeout.
        if (res == -EFAULT) env_.counters->tls_body_truncated.add(1);
        finish();
        return;
    }
    const auto n = static_cast<uint64_t>(res);
    q_.take(n);
    sent_bytes(n);
    send_len_ = 0;
    if (!q_.idle()) sink_.on_sent(false);
    pump();
}

// ---- closing ---------------------------------------------------------------------------

void Socket::close(CloseOpts opts) {
    if (closing_ || lingering_) return;
    close_opts_.linger |= opts.linger;
    close_opts_.unread_input |= opts.unread_input;
    close_pending_ = true;
    arm_input();  // stops a multishot recv
    pump();
}

void Socket::close_sequence() {
    if (closing_ || lingering_) return;
    if (close_notify()) return;  // its completion comes back here
    if (read_eof_ || !(linger_by_default() || close_opts_.linger)) {
        finish();
        return;
    }
    // Our FIN goes first, and input the client sent meanwhile is read and dropped instead of
    // turning close() into an RST that could destroy the response before the client read it.
    ::shutdown(fd_.get(), SHUT_WR);
    start_linger();
}

void Socket::start_linger() {
    // RFC 9112 §9.6: after the half-close, read until the client closes, unless certain the
    // client's TCP has the whole response. With no input pending and nothing unacknowledged,
    // closing now cannot cost the client its response, and spares the wakeup for the
    // client's FIN (on loopback the ACK is usually in by now; otherwise tick() looks again).
    unread_input_ |= close_opts_.unread_input;
    const bool done = read_eof_ || safe_to_close();
    lingering_ = true;
    if (done) {
        finish();
        return;
    }
    set_deadline(Deadline::Linger, kLingerSeconds);
    arm_input();
}

bool Socket::send_queue_empty() {
    int unacked = 0;
    if (::ioctl(fd_.get(), SIOCOUTQ, &unacked) != 0 || unacked == 0) return true;
    // A reset by the peer leaves the count standing with nothing left to wait for.
    tcp_info ti{};
    socklen_t len = sizeof ti;
    return ::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
           ti.tcpi_state == TCP_CLOSE;
}

bool Socket::safe_to_close() {
    if (unread_input_) return false;
    int unread = 0;
    if (::ioctl(fd_.get(), SIOCINQ, &unread) != 0 || unread != 0) return false;
    return send_queue_empty();
}

void Socket::abort() { finish(); }

void Socket::finish() {
    if (closing_ || released_) return;
    on_finish();
    closing_ = true;
    deadline_ = Deadline::None;
    if (ops_in_flight()) {
        // Wake every op on this socket; the slot is released when the last CQE arrives.
        ::shutdown(fd_.get(), SHUT_RDWR);
        for (core::Op* op : {&recv_op_, &send_op_, &splice_in_op_, &splice_out_op_, &poll_op_,
                             &recvmsg_op_, &ctl_op_, &file_read_op_, &fill_op_})
            if (op->in_flight()) env_.ring->cancel(*op);
    }
    sink_.on_closed();
}

void Socket::settle() {
    if (closing_ && !released_ && !ops_in_flight()) release();
}

void Socket::release() {
    if (released_) return;
    released_ = true;
    // A pipe still held here belongs to a response cut short: a splice that completed after
    // the abort may have left bytes in it that no counter saw, so it is closed, never pooled.
    pipe_.reset();
    pipe_fill_ = 0;
    std::vector<iovec>().swap(iov_);
    rxbuf_.reset();
    reset_tls();
    fd_.reset();
    sink_.on_released();
}

void Socket::tick(uint64_t now_ms) {
    if (closing_ || released_) return;
    // Lingering ends early once the peer has everything: linger_no_read_ (kTLS RX after a
    // KeyUpdate) cannot drain its input, so it closes as soon as the send queue is empty
    // rather than let close() send an RST that discards the tail of the response.
    if (lingering_ && (linger_no_read_ ? send_queue_empty() : safe_to_close())) {
        finish();
        return;
    }
    if (recv_starved_) {
        recv_starved_ = false;
        arm_input();
    }
    if (deadline_ != Deadline::None && now_ms >= deadline_ms_) on_deadline(deadline_);
}

void Socket::on_deadline(Deadline d) {
    if (d == Deadline::Send) env_.counters->timeouts_send.add(1);
    finish();
}

// ---- completions -------------------------------------------------------------------------

void Socket::on_recvmsg(int, uint32_t) { abort(); }
void Socket::on_ctl_sent(int) { abort(); }
void Socket::on_file_read(int) { abort(); }

void Socket::on_cqe(core::Op& op, int res, uint32_t flags) {
    if (closing_) {
        // Only give provided buffers back; the slot is released once every op is done.
        if ((op.kind() == kRecv || op.kind() == kRecvMsg) && res > 0) recycle(recv_view(res, flags));
        settle();
        return;
    }
    switch (op.kind()) {
    case kRecv:
        if (res > 0) {
            const RecvView v = recv_view(res, flags);
            on_bytes(v.data);  // parsed or copied: the buffer goes straight back
            recycle(v);
        } else if (res == 0) {
            on_peer_fin();
            break;
        } else if (res == -ENOBUFS) {
            recv_starved_ = true;  // every provided buffer is in use; retried on the next tick
        } else if (res == -EINVAL && recv_multishot_) {
            *env_.multishot_recv = false;  // kernel without multishot recv: fall back for good
        } else if (res != -ECANCELED && res != -EINTR) {
            finish();
            break;
        }
        if (!recv_op_.in_flight() && !recv_starved_) arm_input();
        break;
    case kSend:
        on_send(res);
        break;
    case kSpliceIn:
        if (divert_output()) break;
        if (res <= 0) {
            // 0: the file shrank below the Content-Length we promised; the response cannot be
            // completed, so the connection is closed rather than sending wrong bytes.
            finish();
            break;
        }
        pipe_fill_ += static_cast<uint64_t>(res);
        q_.take(static_cast<uint64_t>(res));
        if (!splice_out_op_.in_flight() && !poll_op_.in_flight()) pump();
        break;
    case kSpliceOut:
        if (divert_output()) break;
        if (res > 0) {
            pipe_fill_ -= std::min<uint64_t>(pipe_fill_, static_cast<uint64_t>(res));
            sent_bytes(static_cast<uint64_t>(res));
            set_deadline(Deadline::Send, env_.send_timeout_s);
        } else if (res == -EAGAIN) {
            // Socket buffer full: wait for POLLOUT instead of parking an io-wq thread.
            env_.ring->poll(poll_op_, fd_.get(), POLLOUT);
            break;
        } else if (res != -ECANCELED && res != 0) {
            finish();  // ECANCELED: the link was cut by a short splice-in; the pipe keeps the bytes
            break;
        }
        if (!splice_in_op_.in_flight() && !poll_op_.in_flight()) {
            if (!q_.idle() && res > 0) sink_.on_sent(false);
            pump();
        }
        break;
    case kPoll:
        if (divert_output()) break;
        if (res < 0 && res != -ECANCELED) {
            finish();
            break;
        }
        pump();
        break;
    case kRecvMsg:
        on_recvmsg(res, flags);
        break;
    case kCtl:
        on_ctl_sent(res);
        break;
    case kFileRead:
        on_file_read(res);
        break;
    case kFill:
        on_filled(res);
        break;
    default:
        break;
    }
    settle();
}

}  // namespace sluice::transport
