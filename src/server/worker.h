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
#include "handler/static_file.h"
#include "http/response.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "output/queue.h"
#include "server/conn.h"
#include "transport/pipe.h"
#include "transport/transport.h"

namespace sluice::tls {
class Context;
}

namespace sluice::server {

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

class Worker final : public core::OpHandler, public SlotOwner, public transport::KtlsHost {
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

    // SlotOwner: a Conn's last op completed and its fd is closed.
    void conn_released(Conn* c) override;
    // transport::KtlsHost
    Hw where(int fd, bool tx_kernel, bool rx_kernel) override;
    void failure(int err) override;

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
    void fill_env();

    const Shared& shared_;
    unsigned index_;
    std::unique_ptr<core::Ring> ring_;
    std::unique_ptr<core::BufferRing> bufs_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::vector<Conn*> free_conns_;
    transport::PipePool pipes_;
    output::BufferPool blocks_;
    std::optional<handler::StaticFiles> files_;
    handler::Response response_;  // lent to every HTTP/1 session for one response at a time
    std::string head_;            // and the buffer its head is rendered into
    ConnEnv env_;
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
