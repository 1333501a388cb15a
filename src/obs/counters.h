// obs/counters.h — per-worker event counters.
// Each WorkerCounters is written by exactly one worker thread and read by any thread: fields
// are relaxed atomics, so increments are plain load+store (no locked RMW on the hot path) and a
// reader sees each field torn-free but not a consistent snapshot across fields.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

namespace sluice::obs {

// Single-writer counter: only the owning thread may call add/sub/set.
class Counter {
public:
    void add(uint64_t n = 1) { set(get() + n); }
    void sub(uint64_t n = 1) { set(get() - n); }
    void set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
    [[nodiscard]] uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> value_{0};
};

struct WorkerCounters {
    Counter accepted;            // connections accepted
    Counter closed;              // connections closed (any reason)
    Counter requests;            // requests parsed (including ones answered with an error)
    Counter responses_2xx;
    Counter responses_3xx;
    Counter responses_4xx;
    Counter responses_5xx;
    Counter bytes_sent;          // response bytes written to sockets (headers + body)
    Counter active_connections;  // gauge: currently open connections
    Counter timeouts_header;     // closed for not sending a full request head in time
    Counter timeouts_keepalive;  // idle keep-alive connections closed
    Counter timeouts_send;       // closed because the client stopped reading
    Counter accept_paused;       // times accepting paused at max_connections
    Counter h2_connections;      // connections that spoke HTTP/2 (ALPN h2 or the h2c preface)
    Counter h2_requests;         // of `requests`, HTTP/2 streams answered
    Counter h2_flood_closed;     // HTTP/2 connections ended for frames that did no work
    Counter h2_idle_released;    // bytes of idle HTTP/2 frame buffers given back to the kernel
    Counter handshakes_ok;       // TLS handshakes completed (keys handed off)
    Counter handshakes_failed;   // TLS handshakes that failed (alert sent or timeout)
    Counter handshake_timeouts;  // of those, cut by --handshake-timeout
    Counter tls_alerts_sent;     // fatal alerts sluice sent for a peer's violation (then closed)
    Counter tls_peer_alerts;     // connections the peer ended with an error alert
    Counter tls_renegotiations_refused;  // TLS 1.2 ClientHellos answered no_renegotiation
    Counter tls_mode_kernel;     // TLS connections with kernel TX and RX (kernel-sw + kernel-hw)
    Counter tls_mode_kernel_hw;  // of those, the NIC does TX or RX records (sock_diag said so)
    Counter tls_mode_mixed;      // one direction in the kernel, the other in userspace
    Counter tls_mode_user;       // both directions in userspace
    Counter tls_bytes_sealed;    // plaintext bytes sealed by the userspace record layer
    Counter tls_bytes_sealed_mapped;  // … of which straight from a file mapping (no read copy)
    Counter file_ring_read_bytes;  // file bytes read into memory by the ring (cold pages)
    Counter tls_body_truncated;  // a file shrank under its mapping (user TX SIGBUS, h2 EFAULT)
    Counter tls_keyupdate_closed;  // closed on a KeyUpdate the kernel cannot follow
    Counter tls_keyupdate_kernel_rekeyed;     // KeyUpdates followed by a TLS_RX rekey (≥ 6.14)
    Counter tls_keyupdate_kernel_tx_rekeyed;  // our KeyUpdates sent + TLS_TX rekeyed (≥ 6.14)
    Counter tls_keyupdate_rekey_failed;       // closed: derivation, sendmsg or TLS_TX/RX failed
    Counter ktls_refused;        // --ktls require: connections closed because kTLS failed
    // --ktls-diag: what sock_diag said per kernel direction (TLS_HW/HW_RECORD = hw).
    Counter ktls_diag_tx_hw;
    Counter ktls_diag_tx_sw;
    Counter ktls_diag_rx_hw;
    Counter ktls_diag_rx_sw;
    Counter ktls_diag_failed;    // queries that gave no answer (the mode then says kernel-sw)
    // kTLS setsockopt failures by errno (index = errno, clamped to kMaxErrno).
    static constexpr int kMaxErrno = 134;
    Counter ktls_errno[kMaxErrno + 1];

    // Bumps the responses_Nxx counter matching `status` (100..599; others ignored).
    void count_status(int status);
};

// One "name value\n" line per metric, values summed over all workers (null entries skipped).
// Names follow sluice_<module>_<what>_<unit>, e.g. "sluice_server_requests_total 123".
std::string render_counters(std::span<const WorkerCounters* const> workers);

// The same values in the Prometheus text exposition format (version 0.0.4): # HELP and
// # TYPE for each (counter for *_total, gauge otherwise), for /metrics.
std::string render_prometheus(std::span<const WorkerCounters* const> workers);

}  // namespace sluice::obs
