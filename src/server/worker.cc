#include "server/worker.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ctime>

#include "base/log.h"
#include "net/listener.h"
#include "tls/context.h"

namespace sluice::server {

namespace {

constexpr unsigned kRingEntries = 4096;
constexpr uint16_t kBufGroup = 0;
constexpr uint32_t kBufCount = 1024;   // provided buffers per worker (power of two)
constexpr uint32_t kBufSize = 4096;    // a typical request fits one buffer
constexpr unsigned kTickMs = 250;      // timeout resolution
constexpr size_t kAcceptHeadroom = 128;  // below this many free slots: single-shot accepts

}  // namespace

uint64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// A listening socket with its (multishot) accept op.
struct Worker::Listener final : core::OpHandler {
    bool multishot = false;
    bool cancel_sent = false;
    Listener(Worker& w, UniqueFd f, bool is_tls) : worker(w), fd(std::move(f)), tls(is_tls) {}
    void on_cqe(core::Op&, int res, uint32_t flags) override { worker.on_accept(*this, res, flags); }
    Worker& worker;
    UniqueFd fd;
    bool tls;
    core::Op op{this, 0};
};

Worker::Worker(const Shared& shared, unsigned index,
               std::vector<std::pair<UniqueFd, bool>> listeners)
    : shared_(shared), index_(index) {
    for (auto& [fd, is_tls] : listeners)
        listeners_.push_back(std::make_unique<Listener>(*this, std::move(fd), is_tls));
}

Worker::~Worker() = default;

void Worker::run(std::atomic<int>& ready) {
    const config::Config& cfg = *shared_.config;
    auto ring = core::Ring::create(kRingEntries);
    if (!ring) {
        ready.store(-ring.error().code);
        ready.notify_all();
        return;
    }
    ring_ = std::move(*ring);
    multishot_recv_ = ring_->features().multishot_recv;
    if (ring_->features().buf_ring) {
        auto b = ring_->make_buffer_ring(kBufGroup, kBufCount, kBufSize);
        if (b) bufs_ = std::move(*b);
    }
    if (!bufs_) multishot_recv_ = false;  // multishot recv needs buffer selection

    files::CacheLimits limits;
    limits.small_max = cfg.small_file_max;
    limits.max_bytes = cfg.cache_max_bytes;
    cache_ = std::make_unique<files::FileCache>(*shared_.root, *shared_.mime, limits);
    log_ = std::make_unique<obs::AccessLog>(shared_.log_sink);
    const size_t threads = cfg.threads > 0 ? static_cast<size_t>(cfg.threads) : 1;
    max_active_ = (cfg.max_connections + threads - 1) / threads;
    if (max_active_ == 0) max_active_ = 1;

    fill_env();
    wake_fd_.reset(eventfd(0, EFD_CLOEXEC));
    now_ms_ = monotonic_ms();
    next_tick_ms_ = now_ms_ + kTickMs;
    next_flush_ms_ = now_ms_ + 1000;
    arm_wake();
    for (auto& l : listeners_) arm_accept(*l);

    ready.store(1);
    ready.notify_all();

    for (;;) {
        int rc = ring_->run_once(kTickMs);
        now_ms_ = monotonic_ms();
        if (rc < 0) {
            log_error("worker %u: io_uring wait failed: %s", index_, std::strerror(-rc));
            break;
        }
        if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
        if (now_ms_ >= next_tick_ms_) tick();
        if (stopping_ && active_ == 0) {
            bool listening = false;
            for (auto& l : listeners_) listening |= l->op.in_flight();
            if (!listening) break;
        }
    }
    for (auto& l : listeners_) l->fd.reset();
    log_->flush();
    if (shared_.tls) tls::thread_cleanup();  // wolfCrypt's per-thread ECC cache
}

void Worker::request_stop() {
    stop_requested_.store(true, std::memory_order_release);
    uint64_t one = 1;
    if (wake_fd_.valid()) (void)!::write(wake_fd_.get(), &one, sizeof one);
}

void Worker::arm_wake() {
    ring_->read(wake_op_, wake_fd_.get(), &wake_buf_, sizeof wake_buf_, 0);
}

void Worker::on_cqe(core::Op& op, int res, uint32_t) {
    (void)res;
    if (&op == &wake_op_ && !stop_requested_.load(std::memory_order_acquire)) arm_wake();
}

void Worker::arm_accept(Listener& l) {
    if (!l.fd.valid() || l.op.in_flight() || stopping_ || accept_paused_) return;
    // A multishot accept takes the whole backlog in one go, so it is only used while a burst
    // cannot push us past the connection limit; near the limit, one accept at a time.
    l.multishot = ring_->features().multishot_accept && free_slots() > kAcceptHeadroom;
    ring_->accept(l.op, l.fd.get(), l.multishot);
}

void Worker::cancel_accept(Listener& l) {
    if (!l.op.in_flight() || l.cancel_sent) return;
    ring_->cancel(l.op);
    l.cancel_sent = true;
}

void Worker::on_accept(Listener& l, int res, uint32_t) {
    if (res >= 0) {
        if (stopping_) {
            ::close(res);
        } else {
            net::tune_accepted_socket(res);
            Conn* c = new_conn();
            ++active_;
            counters_.accepted.add(1);
            counters_.active_connections.add(1);
            const auto threads =
                static_cast<unsigned>(shared_.config->threads > 0 ? shared_.config->threads : 1);
            c->start(res, ++next_conn_id_ * threads + index_, l.tls ? shared_.tls : nullptr);
            if (active_ >= max_active_) {
                // At the limit: stop accepting; new clients wait in the listen backlog.
                if (!accept_paused_) counters_.accept_paused.add(1);
                accept_paused_ = true;
            }
            if (accept_paused_ || free_slots() <= kAcceptHeadroom)
                for (auto& other : listeners_)
                    if (other->multishot || accept_paused_) cancel_accept(*other);
        }
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        if (now_ms_ >= accept_retry_ms_)
            log_error("accept: %s; retrying in 100 ms", std::strerror(-res));
        accept_retry_ms_ = now_ms_ + 100;
    }
    if (l.op.in_flight()) return;  // multishot still armed
    l.cancel_sent = false;
    if (stopping_) {
        l.fd.reset();
        return;
    }
    if (now_ms_ >= accept_retry_ms_) arm_accept(l);
}

void Worker::maybe_resume_accept() {
    if (!accept_paused_ || stopping_ || active_ >= max_active_) return;
    accept_paused_ = false;
    for (auto& l : listeners_) arm_accept(*l);
}

Conn* Worker::new_conn() {
    if (!free_conns_.empty()) {
        Conn* c = free_conns_.back();
        free_conns_.pop_back();
        return c;
    }
    conns_.push_back(std::make_unique<Conn>(env_));
    return conns_.back().get();
}

void Worker::conn_released(Conn* c) {
    --active_;
    counters_.closed.add(1);
    counters_.active_connections.sub(1);
    free_conns_.push_back(c);
    maybe_resume_accept();
}

void Worker::begin_stop() {
    stopping_ = true;
    stop_deadline_ms_ = now_ms_ + static_cast<uint64_t>(shared_.config->shutdown_grace_s * 1000.0);
    for (auto& l : listeners_) {
        if (l->op.in_flight()) {
            cancel_accept(*l);
        } else {
            l->fd.reset();  // closed now: new connections are refused
        }
    }
    for (auto& c : conns_) c->begin_shutdown();
}

void Worker::tick() {
    next_tick_ms_ = now_ms_ + kTickMs;
    for (auto& c : conns_) {
        if (!c->active()) continue;
        if (stopping_ && now_ms_ >= stop_deadline_ms_)
            c->abort();
        else
            c->tick(now_ms_);
    }
    if (!accept_paused_ && !stopping_ && accept_retry_ms_ && now_ms_ >= accept_retry_ms_) {
        accept_retry_ms_ = 0;
        for (auto& l : listeners_) arm_accept(*l);
    }
    if (now_ms_ >= next_flush_ms_) {
        next_flush_ms_ = now_ms_ + 1000;
        log_->flush();
    }
}

void Worker::fill_env() {
    const config::Config& cfg = *shared_.config;
    transport::Env& t = env_.transport;
    t.ring = ring_.get();
    t.bufs = bufs_.get();
    t.multishot_recv = &multishot_recv_;
    t.pipes = &pipes_;
    t.counters = &counters_;
    t.now_ms = &now_ms_;
    t.send_timeout_s = cfg.send_timeout_s;
    t.handshake_timeout_s = cfg.handshake_timeout_s;
    t.ktls = cfg.ktls == config::Config::Ktls::Off       ? transport::Env::Ktls::Off
             : cfg.ktls == config::Config::Ktls::Require ? transport::Env::Ktls::Require
                                                         : transport::Env::Ktls::Auto;
    t.ktls_available = shared_.ktls_available;
    t.ktls_rekey = shared_.ktls_rekey;
    t.tx_zerocopy_ro = cfg.tls_tx_zerocopy_ro;
    t.ktls_host = this;
    handler::Env h;
    h.cache = cache_.get();
    h.root = shared_.root;
    h.dates = &dates_;
    h.now_ms = &now_ms_;
    h.options.dotfiles = cfg.dotfiles;
    h.options.autoindex = cfg.autoindex;
    h.options.server_name = cfg.server_header;
    files_.emplace(h);
    session::Env& s = env_.session;
    s.files = &*files_;
    s.log = log_.get();
    s.counters = &counters_;
    s.now_ms = &now_ms_;
    s.scratch = &response_;
    s.head = &head_;
    s.send_timeout_s = cfg.send_timeout_s;
    s.h2_data_splice = cfg.h2_data_splice;
    s.header_timeout_s = cfg.header_timeout_s;
    s.keepalive_timeout_s = cfg.keepalive_timeout_s;
    env_.pool = &blocks_;
    env_.owner = this;
    env_.log_peer = log_->enabled();
    env_.h2c = cfg.h2c;
}

void Worker::failure(int err) {
    counters_.ktls_errno[err < 0 || err > obs::WorkerCounters::kMaxErrno
                             ? obs::WorkerCounters::kMaxErrno
                             : err]
        .add(1);
}

// Whether the NIC (TLS_HW) does each kernel direction's records, per sock_diag; counted.
// Without --ktls-diag in effect (auto found no offloading interface) it costs a branch.
transport::KtlsHost::Hw Worker::where(int fd, bool tx_kernel, bool rx_kernel) {
    if (!shared_.ktls_diag || !(tx_kernel || rx_kernel)) return {};
    Result<ktls::TlsDiag> d = std::unexpected(Errno{0});
    if (!diag_) {
        auto s = ktls::DiagSocket::open();
        if (s)
            diag_.emplace(std::move(*s));
        else
            d = std::unexpected(s.error());
    }
    if (diag_) d = diag_->query(fd);
    if (!d) {
        counters_.ktls_diag_failed.add(1);
        if (!diag_error_logged_) {  // once per worker: the cause is the same for every socket
            diag_error_logged_ = true;
            log_error("worker %u: --ktls-diag: sock_diag gave no TLS info: %s (reported as "
                      "kernel-sw)", index_, d.error().message());
        }
        return {};
    }
    Hw hw;
    if (tx_kernel) {
        hw.tx = ktls::is_hw(d->tx);
        (hw.tx ? counters_.ktls_diag_tx_hw : counters_.ktls_diag_tx_sw).add(1);
    }
    if (rx_kernel) {
        hw.rx = ktls::is_hw(d->rx);
        (hw.rx ? counters_.ktls_diag_rx_hw : counters_.ktls_diag_rx_sw).add(1);
    }
    return hw;
}

}  // namespace sluice::server
