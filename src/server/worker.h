// server/worker.h — one worker thread: its own ring, provided-buffer ring, SO_REUSEPORT
// listeners (multishot accept), connection slots, splice pipe pool, file cache, access log and
// counters. Shared nothing with other workers on the hot path; the main thread only reads the
// counters (relaxed atomics) and calls wake() to ask for a graceful stop.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "config/config.h"
#include "core/ring.h"
#include "files/cache.h"
#include "files/mime.h"
#include "files/root.h"
#include "http/date.h"
#include "ktls/diag.h"
#include "obs/access_log.h"
#include "obs/counters.h"

namespace sluice::tls {
class Context;
}

namespace sluice::server {

class Conn;

// Read-only state shared by all workers (built before the threads start).
struct Shared {
    const config::Config* config = nullptr;
    tls::Context* tls = nullptr;       // null without --tls-listen
    bool ktls_available = false;       // the tls ULP attached on a probe socket at startup
    bool ktls_diag = false;            // ask sock_diag per kTLS connection (--ktls-diag)
    bool ktls_rekey = false;           // the kernel takes TLS 1.3 KeyUpdates (6.14+)
    const files::Root* root = nullptr;
    const files::MimeTypes* mime = nullptr;
    std::shared_ptr<obs::LogSink> log_sink;
};

// A pipe for splice file → pipe → socket. Pooled per worker; returned only when empty.
struct Pipe {
    UniqueFd rd;
    UniqueFd wr;
    uint32_t capacity = 0;
};

class Worker final : public core::OpHandler {
public:
    // `listeners` pairs each socket with whether it speaks TLS.
    Worker(const Shared& shared, unsigned index,
           std::vector<std::pair<UniqueFd, bool>> listeners);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Thread body: sets up the ring, signals `ready` (with 0 or -errno), loops until stopped
    // and every connection is closed (or the grace period ends).
    void run(std::atomic<int>& ready);
    // Thread-safe: asks the worker to stop accepting and finish in-flight responses.
    void request_stop();

    // For Conn.
    core::Ring& ring() { return *ring_; }
    core::BufferRing* buffers() { return bufs_.get(); }
    bool multishot_recv() const { return multishot_recv_; }
    void disable_multishot_recv() { multishot_recv_ = false; }
    files::FileCache& cache() { return *cache_; }
    http::DateCache& dates() { return dates_; }
    obs::AccessLog& access_log() { return *log_; }
    obs::WorkerCounters& counters() { return counters_; }
    const config::Config& config() const { return *shared_.config; }
    const files::Root& root() const { return *shared_.root; }
    uint64_t now_ms() const { return now_ms_; }
    bool stopping() const { return stopping_; }
    bool ktls_available() const { return shared_.ktls_available; }
    bool ktls_rekey() const { return shared_.ktls_rekey; }
    void ktls_failure(int err) {
        counters_.ktls_errno[err < 0 || err > obs::WorkerCounters::kMaxErrno
                                 ? obs::WorkerCounters::kMaxErrno
                                 : err]
            .add(1);
    }
    // Whether the NIC (TLS_HW) does each kernel direction's records, per sock_diag; counted.
    // Without --ktls-diag in effect (auto found no offloading interface) it costs a branch.
    struct KtlsHw {
        bool tx = false;
        bool rx = false;
    };
    KtlsHw ktls_where(int fd, bool tx_kernel, bool rx_kernel) {
        if (!shared_.ktls_diag || !(tx_kernel || rx_kernel)) return {};
        return ktls_diag(fd, tx_kernel, rx_kernel);
    }
    Result<Pipe> acquire_pipe();
    void release_pipe(Pipe&& p);
    // Output buffers lent to busy connections: a connection going idle gives its buffers
    // back, so keep-alive traffic does not malloc per request and idle ones hold none.
    void borrow_buffer(std::string& s);  // an empty `s` without storage gets a pooled one
    void return_buffer(std::string& s);  // `s` is left empty, without storage
    // Called by a Conn once its last op completed and its fd is closed.
    void conn_released(Conn* c);

    const obs::WorkerCounters& counters_view() const { return counters_; }

    void on_cqe(core::Op& op, int res, uint32_t flags) override;

private:
    struct Listener;
    void arm_accept(Listener& l);
    void cancel_accept(Listener& l);
    size_t free_slots() const { return active_ < max_active_ ? max_active_ - active_ : 0; }
    void on_accept(Listener& l, int res, uint32_t flags);
    void arm_wake();
    void begin_stop();
    void tick();
    void maybe_resume_accept();
    Conn* new_conn();
    KtlsHw ktls_diag(int fd, bool tx_kernel, bool rx_kernel);

    const Shared& shared_;
    unsigned index_;
    std::unique_ptr<core::Ring> ring_;
    std::unique_ptr<core::BufferRing> bufs_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::vector<Conn*> free_conns_;
    std::vector<Pipe> pipes_;
    std::vector<std::string> buffers_;
    std::optional<ktls::DiagSocket> diag_;  // opened at the first kTLS connection asked about
    bool diag_error_logged_ = false;
    std::unique_ptr<files::FileCache> cache_;
    std::unique_ptr<obs::AccessLog> log_;
    http::DateCache dates_;
    obs::WorkerCounters counters_;

    UniqueFd wake_fd_;
    core::Op wake_op_{this, 0};
    uint64_t wake_buf_ = 0;

    std::atomic<bool> stop_requested_{false};
    bool stopping_ = false;
    bool multishot_recv_ = false;
    bool accept_paused_ = false;
    uint64_t stop_deadline_ms_ = 0;
    uint64_t now_ms_ = 0;
    uint64_t next_tick_ms_ = 0;
    uint64_t next_flush_ms_ = 0;
    uint64_t accept_retry_ms_ = 0;
    size_t active_ = 0;
    size_t max_active_ = 0;
    uint64_t next_conn_id_ = 0;
};

uint64_t monotonic_ms();

}  // namespace sluice::server
