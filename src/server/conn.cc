#include "server/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "base/addr.h"
#include "files/path.h"
#include "http/accept_encoding.h"
#include "http/date.h"
#include "server/worker.h"

namespace sluice::server {

namespace {

// Input received while a response is being sent is parked; beyond this the (multishot) recv
// is stopped until the backlog is answered, so a client cannot make us buffer unboundedly.
constexpr size_t kMaxPendingInput = 64 * 1024;
// Responses produced from one read are batched into one send up to this many bytes.
constexpr size_t kMaxBatchBytes = 256 * 1024;
constexpr size_t kMaxIov = 64;
// Cached bodies up to this size are copied into the output buffer (cheaper than an iovec).
constexpr size_t kCopyBodyMax = 4096;
// After an error response we half-close and drain input this long, so the client reads the
// response instead of an RST caused by unread request bytes.
constexpr double kLingerSeconds = 2.0;

static_assert(static_cast<int>(files::Coding::Gzip) == static_cast<int>(http::Encoding::Gzip));
static_assert(static_cast<int>(files::Coding::Zstd) == static_cast<int>(http::Encoding::Zstd));
static_assert(static_cast<int>(files::Coding::Br) == static_cast<int>(http::Encoding::Br));
static_assert(files::kCodingCount == http::kEncodingCount);

}  // namespace

void Conn::start(int fd, uint64_t id, tls::Context* tls) {
    fd_.reset(fd);
    id_ = id;
    parser_.emplace();
    req_.clear();
    inbuf_.clear();
    outbuf_.clear();
    out_.clear();
    out_pos_ = 0;
    logs_.clear();
    logs_head_ = 0;
    pipe_fill_ = 0;
    req_start_ms_ = 0;
    requests_ = 0;
    read_eof_ = close_after_ = closing_ = lingering_ = linger_on_close_ = false;
    linger_no_read_ = input_after_close_ = false;
    shutdown_requested_ = recv_starved_ = false;
    corked_ = false;
    peer_ip_.clear();
    if (w_.access_log().enabled()) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            char buf[64];
            size_t n = format_ip(reinterpret_cast<sockaddr*>(&ss), buf, sizeof buf);
            peer_ip_.assign(buf, n);
        }
    }
    set_deadline(Deadline::Header, w_.config().header_timeout_s);
    if (tls) tls_start(*tls);
    update_recv();
}

std::array<core::Op*, 8> Conn::ops() {
    return {&recv_op_, &send_op_,    &splice_in_op_, &splice_out_op_,
            &poll_op_, &recvmsg_op_, &ctl_op_,       &file_read_op_};
}

bool Conn::ops_in_flight() {
    for (const core::Op* op : ops())
        if (op->in_flight()) return true;
    return false;
}

void Conn::set_deadline(Deadline d, double seconds) {
    deadline_kind_ = d;
    deadline_ms_ = w_.now_ms() + static_cast<uint64_t>(seconds * 1000.0);
}

// ---- reading ---------------------------------------------------------------------------

bool Conn::should_read() const {
    if (closing_ || read_eof_) return false;
    if (lingering_) return !linger_no_read_;
    if (close_after_) return false;
    if (recv_multishot_ || w_.multishot_recv()) return inbuf_.size() < kMaxPendingInput;
    return !busy() && inbuf_.empty();
}

void Conn::update_recv() {
    if (closing_) return;
    if (tls_ && tls_arm_recv()) return;
    if (recv_op_.in_flight()) {
        // A multishot recv keeps delivering while we are busy; stop it when input piles up.
        if (recv_multishot_ && !should_read() && !recv_cancel_sent_) {
            io_uring_sqe* s = w_.ring().sqe_untracked();
            io_uring_prep_cancel64(s, reinterpret_cast<uint64_t>(&recv_op_), 0);
            recv_cancel_sent_ = true;
        }
        return;
    }
    if (!should_read()) return;
    recv_cancel_sent_ = false;
    io_uring_sqe* s = w_.ring().sqe(recv_op_);
    if (core::BufferRing* b = w_.buffers()) {
        recv_multishot_ = w_.multishot_recv();
        if (recv_multishot_)
            io_uring_prep_recv_multishot(s, fd_.get(), nullptr, 0, 0);
        else
            io_uring_prep_recv(s, fd_.get(), nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = b->group();
    } else {
        // No buffer rings (old kernel): a per-connection buffer, allocated on first use.
        recv_multishot_ = false;
        if (!rxbuf_) rxbuf_ = std::make_unique<char[]>(kRxBufSize);
        io_uring_prep_recv(s, fd_.get(), rxbuf_.get(), kRxBufSize, 0);
    }
}

void Conn::on_recv(int res, uint32_t flags) {
    if (res > 0) {
        // Socket bytes: ciphertext for a TLS connection in user RX (or handshake), else HTTP.
        const bool provided = (flags & IORING_CQE_F_BUFFER) != 0;
        const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        core::BufferRing* b = w_.buffers();
        const std::string_view data(provided ? b->buffer(bid) : rxbuf_.get(),
                                    static_cast<size_t>(res));
        if (tls_)
            tls_on_ciphertext(data);
        else
            on_bytes(data);
        if (provided) b->recycle(bid);  // parsed or copied: the buffer goes straight back
    } else if (res == 0 && handshaking_) {
        tls_on_handshake_eof();
        return;
    } else if (res == 0) {
        read_eof_ = true;
        if (lingering_ || (!busy() && inbuf_.empty())) {
            finish_close();
            return;
        }
    } else if (res == -ENOBUFS) {
        recv_starved_ = true;  // every provided buffer is in use; retried on the next tick
    } else if (res == -EINVAL && recv_multishot_) {
        w_.disable_multishot_recv();  // kernel without multishot recv: fall back for good
    } else if (res != -ECANCELED && res != -EINTR) {
        abort();
        return;
    }
    if (!recv_op_.in_flight() && !recv_starved_) update_recv();
}

void Conn::on_bytes(std::string_view data) {
    if (closing_ || lingering_ || close_after_) {
        input_after_close_ = true;  // dropped, but the close must linger for it
        return;
    }
    if (busy() || !inbuf_.empty()) {
        inbuf_.append(data);
        update_recv();
        return;
    }
    process(data);
}

void Conn::process_pending() {
    std::string pending;
    pending.swap(inbuf_);
    process(pending);
    // Keep the allocation if nothing new was parked, so pipelining does not churn the heap.
    if (inbuf_.empty() && pending.capacity() <= kMaxPendingInput) {
        pending.clear();
        inbuf_.swap(pending);
    }
}

void Conn::process(std::string_view data) {
    while (!data.empty() && !close_after_) {
        if (!parser_->in_progress()) {
            req_start_ms_ = w_.now_ms();
            if (deadline_kind_ != Deadline::Header)
                set_deadline(Deadline::Header, w_.config().header_timeout_s);
        }
        http::ParseOutcome out = parser_->feed(data, req_);
        data.remove_prefix(std::min(out.consumed, data.size()));
        if (out.status == http::ParseStatus::NeedMore) break;
        if (out.status == http::ParseStatus::Error) {
            queue_error(out.error_status);
            break;
        }
        handle_request();
        // Stop batching at a spliced body or a big batch; the rest waits in inbuf_.
        if (!data.empty() && (has_file_seg_ || outbuf_.size() > kMaxBatchBytes)) {
            inbuf_.append(data);
            break;
        }
    }
    if (!data.empty() && close_after_) input_after_close_ = true;  // dropped: linger for it
    pump();
}

// ---- requests --------------------------------------------------------------------------

void Conn::handle_request() {
    if (shutdown_requested_) req_.keep_alive = false;
    w_.counters().requests.add(1);
    ++requests_;
    w_.borrow_buffer(outbuf_);
    static_files().handle(req_, response_);
    if (response_.bad_request) {
        // A malformed target: answered like a protocol error (half-close and drain).
        linger_on_close_ = true;
        linger_no_read_ = false;
    }
    queue_plan(response_.plan, response_.variant, response_.hold);
    response_.clear();  // the queued segments hold the resource now
}

handler::StaticFiles& Conn::static_files() {
    if (!static_files_) {
        const config::Config& cfg = w_.config();
        handler::Env env;
        env.cache = &w_.cache();
        env.root = &w_.root();
        env.dates = &w_.dates();
        env.now_ms = &handler_now_ms_;
        env.options.dotfiles = cfg.dotfiles;
        env.options.autoindex = cfg.autoindex;
        env.options.server_name = cfg.server_header;
        static_files_.emplace(env);
    }
    handler_now_ms_ = w_.now_ms();
    return *static_files_;
}

void Conn::queue_error(int status) {
    // Protocol errors: answer, then half-close and drain (the request framing is lost).
    static_files().error(status, response_);
    linger_on_close_ = true;
    linger_no_read_ = false;
    queue_plan(response_.plan, nullptr, {});
    response_.clear();
    close_after_ = true;
}

void Conn::push_mem(const char* ext, size_t off, uint64_t len,
                    const std::shared_ptr<files::Resource>& hold) {
    if (len == 0) return;
    // Never into a piece already sent (or, user TLS, already sealed while its records are
    // still going out): pump() starts at out_pos_.
    if (!ext && out_.size() > out_pos_) {
        OutSeg& last = out_.back();
        if (!last.ext && last.fd < 0 && last.off + last.len == off) {
            last.len += len;  // contiguous in outbuf_: one iovec
            return;
        }
    }
    OutSeg s;
    s.ext = ext;
    s.off = off;
    s.len = len;
    if (ext) s.hold = hold;
    out_.push_back(std::move(s));
}

void Conn::queue_plan(http::ResponsePlan& plan, const files::Variant* v,
                      const std::shared_ptr<files::Resource>& res) {
    size_t off = outbuf_.size();
    // A parse error (queue_error) has no request version, but keep_alive is false then and
    // Connection: close does not depend on it.
    http::render_h1_head(plan, req_.version_minor, outbuf_);
    push_mem(nullptr, off, outbuf_.size() - off, {});
    for (const http::BodyPart& part : plan.body) {
        if (part.length == 0 && part.literal.empty()) continue;
        if (!part.from_file) {
            off = outbuf_.size();
            outbuf_ += part.literal;
            push_mem(nullptr, off, part.literal.size(), {});
        } else if (v && v->has_bytes && part.length <= kCopyBodyMax) {
            // Small bodies are copied next to their head: one contiguous buffer goes out
            // with a plain send instead of a sendmsg with an iovec per piece.
            off = outbuf_.size();
            outbuf_.append(v->bytes, part.offset, part.length);
            push_mem(nullptr, off, part.length, {});
        } else if (v && v->has_bytes) {
            push_mem(v->bytes.data() + part.offset, 0, part.length, res);
        } else if (v) {
            OutSeg s;
            s.fd = v->fd.get();
            s.file = v;
            s.file_off = part.offset;
            s.len = part.length;
            s.hold = res;
            out_.push_back(std::move(s));
            has_file_seg_ = true;
        }
    }
    if (!plan.keep_alive) close_after_ = true;
    note_log(plan.status, plan.body_length);
}

void Conn::note_log(int status, uint64_t bytes) {
    w_.counters().count_status(status);
    if (!w_.access_log().enabled()) return;
    PendingLog& l = logs_.emplace_back();
    l.end_seg = out_.size();
    l.status = status;
    l.bytes = bytes;
    l.start_ms = req_start_ms_ ? req_start_ms_ : w_.now_ms();
    l.major = req_.version_major;
    l.minor = req_.version_minor;
    l.method = req_.method_name;
    l.target = req_.target;
    l.referer = req_.referer;
    l.user_agent = req_.user_agent;
}

void Conn::emit_log(const PendingLog& l, uint64_t bytes) {
    obs::AccessRecord rec;
    rec.remote_ip = peer_ip_;
    rec.time = ::time(nullptr);
    rec.method = l.method;
    rec.target = l.target;
    rec.http_major = l.major;
    rec.http_minor = l.minor;
    rec.status = l.status;
    rec.body_bytes = bytes;
    rec.referer = l.referer;
    rec.user_agent = l.user_agent;
    rec.request_time_s = static_cast<double>(w_.now_ms() - l.start_ms) / 1000.0;
    rec.conn_id = id_;
    rec.tls = tls_log_tag();
    w_.access_log().append(rec);
}

void Conn::flush_logs() {
    while (logs_head_ < logs_.size() && logs_[logs_head_].end_seg <= out_pos_) {
        emit_log(logs_[logs_head_], logs_[logs_head_].bytes);
        ++logs_head_;
    }
    if (logs_head_ == logs_.size()) {
        logs_.clear();
        logs_head_ = 0;
    }
}

// ---- writing ---------------------------------------------------------------------------

void Conn::pump() {
    if (tls_fatal_pending()) {
        tls_fatal_progress();  // nothing but the alert goes out now
        return;
    }
    if (closing_ || handshaking_ || send_op_.in_flight() || splice_in_op_.in_flight() ||
        splice_out_op_.in_flight() || poll_op_.in_flight() || file_read_op_.in_flight() ||
        ctl_op_.in_flight())
        return;
    if (tls_user_tx()) {
        tls_pump_sealed();
        return;
    }
    while (out_pos_ < out_.size()) {
        if (tls_ && tls_kernel_key_update_out()) return;  // a KeyUpdate we owe goes first
        OutSeg& s = out_[out_pos_];
        if (s.len == 0 && !(s.fd >= 0 && pipe_fill_ > 0)) {
            s.hold.reset();
            ++out_pos_;
            flush_logs();
            continue;
        }
        if (s.fd >= 0) {
            start_splice(s);
            return;
        }
        set_cork(false);
        // One piece (the usual case: head and small body together in outbuf_) goes out by
        // send without touching iov_; several by one sendmsg.
        iovec first{};
        size_t pieces = 0;
        iov_.clear();
        size_t i = out_pos_;
        for (; i < out_.size() && out_[i].fd < 0 && pieces < kMaxIov; ++i) {
            const OutSeg& m = out_[i];
            if (m.len == 0) continue;
            const char* p = m.ext ? m.ext : outbuf_.data() + m.off;
            const iovec v{const_cast<char*>(p), static_cast<size_t>(m.len)};
            if (pieces == 0) {
                first = v;
            } else {
                if (pieces == 1) iov_.push_back(first);
                iov_.push_back(v);
            }
            ++pieces;
        }
        // MSG_MORE when more follows: a spliced body (headers and body share segments), or
        // the FIN of a plain-HTTP close, whose shutdown(SHUT_WR) in close_graceful() runs from
        // this send's completion and takes the held tail along: one packet fewer per
        // connection, and the TIME_WAIT is ours, not the client's. (A linked
        // IORING_OP_SHUTDOWN would do the same from an io-wq thread: shutdown never runs
        // inline.)
        const bool fin_follows = close_after_ && !tls_ && i == out_.size();
        const int flags = MSG_NOSIGNAL | (i < out_.size() || fin_follows ? MSG_MORE : 0);
        io_uring_sqe* sqe = w_.ring().sqe(send_op_);
        if (pieces == 1) {
            io_uring_prep_send(sqe, fd_.get(), first.iov_base, first.iov_len, flags);
        } else {
            msg_ = msghdr{};
            msg_.msg_iov = iov_.data();
            msg_.msg_iovlen = iov_.size();
            io_uring_prep_sendmsg(sqe, fd_.get(), &msg_, flags);
        }
        set_deadline(Deadline::Send, w_.config().send_timeout_s);
        return;
    }
    if (tls_ && tls_kernel_key_update_out()) return;
    set_cork(false);
    if (!out_.empty()) responses_done();
    else go_idle();
}

void Conn::set_cork(bool on) {
    if (corked_ == on) return;
    // Corked while a file body is spliced: segments leave full-sized even when the socket had
    // room for only part of one, which halves the receiver's per-byte work (measured with
    // bench/compare's 16 MiB scenario). Uncorking pushes the tail.
    int v = on ? 1 : 0;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_CORK, &v, sizeof v);
    corked_ = on;
}

void Conn::advance_sent(uint64_t n) {
    while (n > 0 && out_pos_ < out_.size()) {
        OutSeg& s = out_[out_pos_];
        const uint64_t take = std::min<uint64_t>(n, s.len);
        s.len -= take;
        if (s.ext)
            s.ext += take;
        else
            s.off += take;
        n -= take;
        if (s.len == 0) {
            s.hold.reset();
            ++out_pos_;
        }
    }
    flush_logs();
}

void Conn::on_send(int res) {
    if (tls_fatal_pending()) {
        tls_fatal_progress();  // whatever this op did, only the alert goes out now
        return;
    }
    if (res < 0) {
        abort();  // EPIPE, ECONNRESET, ECANCELED after a timeout
        return;
    }
    w_.counters().bytes_sent.add(static_cast<uint64_t>(res));
    advance_sent(static_cast<uint64_t>(res));
    pump();
}

void Conn::start_splice(OutSeg& s) {
    if (!pipe_) {
        auto p = w_.acquire_pipe();
        if (!p) {
            abort();
            return;
        }
        pipe_ = std::make_unique<Pipe>(std::move(*p));
    }
    set_deadline(Deadline::Send, w_.config().send_timeout_s);
    set_cork(true);
    core::Ring& ring = w_.ring();
    const unsigned out_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
    if (pipe_fill_ > 0) {
        // Bytes left in the pipe by a short socket splice go out first.
        io_uring_sqe* o = ring.sqe(splice_out_op_);
        io_uring_prep_splice(o, pipe_->rd.get(), -1, fd_.get(), -1,
                             static_cast<unsigned>(pipe_fill_), out_flags);
        return;
    }
    const auto n = static_cast<unsigned>(std::min<uint64_t>(s.len, pipe_->capacity));
    ring.reserve(2);  // the linked pair must go out in one submission
    io_uring_sqe* in = ring.sqe(splice_in_op_);
    io_uring_prep_splice(in, s.fd, static_cast<int64_t>(s.file_off), pipe_->wr.get(), -1, n,
                         SPLICE_F_MOVE);
    in->flags |= IOSQE_IO_LINK;
    io_uring_sqe* o = ring.sqe(splice_out_op_);
    io_uring_prep_splice(o, pipe_->rd.get(), -1, fd_.get(), -1, n, out_flags);
}

void Conn::on_splice_in(int res) {
    if (tls_fatal_pending()) {
        tls_fatal_progress();  // whatever this op did, only the alert goes out now
        return;
    }
    if (res <= 0) {
        // 0: the file shrank below the Content-Length we promised; the response cannot be
        // completed, so the connection is closed rather than sending wrong bytes.
        abort();
        return;
    }
    OutSeg& s = out_[out_pos_];
    pipe_fill_ += static_cast<uint64_t>(res);
    s.file_off += static_cast<uint64_t>(res);
    s.len -= std::min<uint64_t>(s.len, static_cast<uint64_t>(res));
    after_splice();
}

void Conn::on_splice_out(int res) {
    if (tls_fatal_pending()) {
        tls_fatal_progress();  // whatever this op did, only the alert goes out now
        return;
    }
    if (res > 0) {
        pipe_fill_ -= std::min<uint64_t>(pipe_fill_, static_cast<uint64_t>(res));
        w_.counters().bytes_sent.add(static_cast<uint64_t>(res));
        set_deadline(Deadline::Send, w_.config().send_timeout_s);
    } else if (res == -EAGAIN) {
        // Socket buffer full: wait for POLLOUT instead of parking an io-wq thread.
        io_uring_sqe* p = w_.ring().sqe(poll_op_);
        io_uring_prep_poll_add(p, fd_.get(), POLLOUT);
        return;
    } else if (res != -ECANCELED && res != 0) {
        abort();  // ECANCELED: the link was cut by a short splice-in; the pipe keeps the bytes
        return;
    }
    after_splice();
}

void Conn::after_splice() {
    if (closing_ || splice_in_op_.in_flight() || splice_out_op_.in_flight() ||
        poll_op_.in_flight())
        return;
    pump();
}

void Conn::on_poll(int res) {
    if (tls_fatal_pending()) {
        tls_fatal_progress();  // whatever this op did, only the alert goes out now
        return;
    }
    if (res < 0 && res != -ECANCELED) {
        abort();
        return;
    }
    pump();
}

void Conn::responses_done() {
    flush_logs();
    out_.clear();
    out_pos_ = 0;
    outbuf_.clear();
    has_file_seg_ = false;
    if (outbuf_.capacity() > kMaxBatchBytes) outbuf_.shrink_to_fit();
    if (pipe_) {
        w_.release_pipe(std::move(*pipe_));  // empty here: every spliced byte was sent
        pipe_.reset();
    }
    if (close_after_) {
        close_graceful();
        return;
    }
    if (!inbuf_.empty()) {
        process_pending();
        return;
    }
    if (read_eof_) {
        close_graceful();  // after the peer's FIN or close_notify: ours (TLS), then close
        return;
    }
    go_idle();
}

void Conn::drop_output_buffers() {
    w_.return_buffer(outbuf_);
    std::vector<iovec>().swap(iov_);
}

void Conn::go_idle() {
    if (closing_ || lingering_) return;
    if (shutdown_requested_ && !parser_->in_progress()) {
        finish_close();
        return;
    }
    if (!parser_->in_progress()) {
        // Idle between requests: hand back the output buffers, so 10,000 idle keep-alive
        // connections cost kilobytes each, not a response's worth.
        drop_output_buffers();
        // Until a first request came, the connection is not "kept alive", it is awaited
        // (after a TLS handshake too): the header timeout applies.
        if (requests_ == 0) {
            if (deadline_kind_ != Deadline::Header)
                set_deadline(Deadline::Header, w_.config().header_timeout_s);
        } else {
            set_deadline(Deadline::Keepalive, w_.config().keepalive_timeout_s);
        }
    } else if (deadline_kind_ != Deadline::Header) {
        set_deadline(Deadline::Header, w_.config().header_timeout_s);
    }
    update_recv();
}

// ---- closing ---------------------------------------------------------------------------

void Conn::close_graceful() {
    if (closing_ || lingering_) return;
    if (tls_close_notify()) return;  // its completion comes back here
    if (read_eof_ || (tls_ && !linger_on_close_)) {
        finish_close();
        return;
    }
    // Plain HTTP always closes by half-close and linger: our FIN goes first, and input the
    // client sent meanwhile is read and dropped instead of turning close() into an RST that
    // could destroy the response before the client read it.
    ::shutdown(fd_.get(), SHUT_WR);
    start_linger();
}

void Conn::start_linger() {
    // RFC 9112 §9.6: after the half-close, read until the client closes, unless certain the
    // client's TCP has the whole response. With no input pending and nothing unacknowledged,
    // closing now cannot cost the client its response, and spares the wakeup for the
    // client's FIN (on loopback the ACK is usually in by now; otherwise tick() looks again).
    const bool done = read_eof_ || safe_to_close();  // before inbuf_ is dropped
    lingering_ = true;
    inbuf_.clear();
    if (done) {
        finish_close();
        return;
    }
    set_deadline(Deadline::Linger, kLingerSeconds);
    update_recv();
}

bool Conn::send_queue_empty() {
    int unacked = 0;
    if (::ioctl(fd_.get(), SIOCOUTQ, &unacked) != 0 || unacked == 0) return true;
    // A reset by the peer leaves the count standing with nothing left to wait for.
    tcp_info ti{};
    socklen_t len = sizeof ti;
    return ::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
           ti.tcpi_state == TCP_CLOSE;
}

bool Conn::safe_to_close() {
    if (!inbuf_.empty() || input_after_close_ || parser_->in_progress()) return false;
    int unread = 0;
    if (::ioctl(fd_.get(), SIOCINQ, &unread) != 0 || unread != 0) return false;
    return send_queue_empty();
}

void Conn::finish_close() {
    if (closing_) return;
    if (handshaking_) tls_handshake_failed();  // e.g. a reset in the middle of it
    closing_ = true;
    deadline_kind_ = Deadline::None;
    if (ops_in_flight()) {
        // Wake every op on this socket; the slot is released when the last CQE arrives.
        ::shutdown(fd_.get(), SHUT_RDWR);
        // Cancelled by identity, not by fd: the fd may be closed and reused by an accept
        // before these are submitted, and they can wait for the next submit.
        for (const core::Op* op : ops()) {
            if (!op->in_flight()) continue;
            io_uring_prep_cancel64(w_.ring().sqe_untracked(), reinterpret_cast<uint64_t>(op), 0);
        }
    }
    maybe_release();
}

void Conn::abort() {
    log_cut_short();
    finish_close();
}

// Log what was cut short with the body bytes that did go out.
void Conn::log_cut_short() {
    if (w_.access_log().enabled()) {
        for (size_t i = logs_head_; i < logs_.size(); ++i) {
            uint64_t unsent = 0;
            for (size_t k = out_pos_; k < logs_[i].end_seg && k < out_.size(); ++k)
                unsent += out_[k].len;
            if (pipe_holds_unsent_of(i)) unsent += pipe_fill_;
            const uint64_t b = logs_[i].bytes > unsent ? logs_[i].bytes - unsent : 0;
            emit_log(logs_[i], b);
        }
        logs_.clear();
        logs_head_ = 0;
    }
}

bool Conn::pipe_holds_unsent_of(size_t log_index) const {
    return out_pos_ < out_.size() && out_pos_ < logs_[log_index].end_seg &&
           out_[out_pos_].fd >= 0;
}

void Conn::maybe_release() {
    if (!closing_ || ops_in_flight() || !fd_.valid()) return;
    // A pipe still held here belongs to a response cut short: a splice that completed after
    // the abort may have left bytes in it that no counter saw, so it is closed, never pooled
    // (a pooled pipe with stale bytes would send them to the next client).
    pipe_.reset();
    pipe_fill_ = 0;
    out_.clear();
    out_pos_ = 0;
    logs_.clear();
    logs_head_ = 0;
    std::string().swap(inbuf_);
    drop_output_buffers();
    rxbuf_.reset();
    tls_release();
    handshaking_ = false;
    parser_.reset();
    fd_.reset();
    w_.conn_released(this);
}

void Conn::begin_shutdown() {
    if (!active() || closing_) return;
    shutdown_requested_ = true;
    if (!busy() && inbuf_.empty() && !parser_->in_progress()) finish_close();
}

void Conn::tick(uint64_t now_ms) {
    if (!active() || closing_) return;
    // Lingering ends early once the peer has everything: linger_no_read_ (kTLS RX after a
    // KeyUpdate) cannot drain its input, so it closes as soon as the send queue is empty
    // rather than let close() send an RST that discards the tail of the response.
    if (lingering_ && (linger_no_read_ ? send_queue_empty() : safe_to_close())) {
        finish_close();
        return;
    }
    if (recv_starved_) {
        recv_starved_ = false;
        update_recv();
    }
    if (deadline_kind_ == Deadline::None || now_ms < deadline_ms_) return;
    obs::WorkerCounters& c = w_.counters();
    switch (deadline_kind_) {
    case Deadline::Header:
        if (handshaking_) {
            // --handshake-timeout: a handshake that failed, not a slow request.
            tls_handshake_failed();
            c.handshake_timeouts.add(1);
        } else {
            c.timeouts_header.add(1);
        }
        finish_close();
        break;
    case Deadline::Keepalive:
        c.timeouts_keepalive.add(1);
        close_graceful();
        break;
    case Deadline::Send:
        c.timeouts_send.add(1);
        abort();
        break;
    case Deadline::Linger:
    case Deadline::None:
        finish_close();
        break;
    }
}

void Conn::on_cqe(core::Op& op, int res, uint32_t flags) {
    if (closing_) {
        // Only give provided buffers back; the slot is released once every op is done.
        if ((op.kind() == kRecv || op.kind() == kRecvMsg) && res > 0 &&
            (flags & IORING_CQE_F_BUFFER))
            w_.buffers()->recycle(static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT));
        maybe_release();
        return;
    }
    switch (op.kind()) {
    case kRecv:
        on_recv(res, flags);
        break;
    case kSend:
        if (tls_ && tls_wire_in_flight())
            tls_on_wire_sent(res);
        else
            on_send(res);
        break;
    case kSpliceIn:
        on_splice_in(res);
        break;
    case kSpliceOut:
        on_splice_out(res);
        break;
    case kPoll:
        on_poll(res);
        break;
    case kRecvMsg:
        tls_on_recvmsg(res, flags);
        break;
    case kCtl:
        tls_on_ctl_sent(res);
        break;
    case kFileRead:
        tls_on_file_read(res);
        break;
    default:
        break;
    }
    if (closing_) maybe_release();
}

}  // namespace sluice::server
