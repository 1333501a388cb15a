#include "obs/counters.h"

#include <string_view>

namespace sluice::obs {

void WorkerCounters::count_status(int status) {
    switch (status / 100) {
        case 2: responses_2xx.add(); break;
        case 3: responses_3xx.add(); break;
        case 4: responses_4xx.add(); break;
        case 5: responses_5xx.add(); break;
        default: break;
    }
}

namespace {

struct Metric {
    const char* name;
    Counter WorkerCounters::*field;
    const char* help;
};

constexpr Metric kMetrics[] = {
    {"sluice_server_connections_accepted_total", &WorkerCounters::accepted, "Connections accepted."},
    {"sluice_server_connections_closed_total", &WorkerCounters::closed, "Connections closed, for any reason."},
    {"sluice_server_connections_active", &WorkerCounters::active_connections, "Connections open now."},
    {"sluice_server_requests_total", &WorkerCounters::requests, "Requests parsed, including ones answered with an error."},
    {"sluice_server_responses_2xx_total", &WorkerCounters::responses_2xx, "Responses with a 2xx status."},
    {"sluice_server_responses_3xx_total", &WorkerCounters::responses_3xx, "Responses with a 3xx status."},
    {"sluice_server_responses_4xx_total", &WorkerCounters::responses_4xx, "Responses with a 4xx status."},
    {"sluice_server_responses_5xx_total", &WorkerCounters::responses_5xx, "Responses with a 5xx status."},
    {"sluice_server_sent_bytes_total", &WorkerCounters::bytes_sent, "Response bytes written to sockets (headers and body)."},
    {"sluice_server_timeouts_header_total", &WorkerCounters::timeouts_header, "Connections closed for not sending a full request head in time."},
    {"sluice_server_timeouts_keepalive_total", &WorkerCounters::timeouts_keepalive, "Idle keep-alive connections closed."},
    {"sluice_server_timeouts_send_total", &WorkerCounters::timeouts_send, "Connections closed because the client stopped reading."},
    {"sluice_server_accept_paused_total", &WorkerCounters::accept_paused, "Times accepting paused at --max-connections."},
    {"sluice_h2_connections_total", &WorkerCounters::h2_connections, "Connections that spoke HTTP/2."},
    {"sluice_h2_requests_total", &WorkerCounters::h2_requests, "HTTP/2 streams answered."},
    {"sluice_h2_flood_closed_total", &WorkerCounters::h2_flood_closed, "HTTP/2 connections ended for frames that did no work."},
    {"sluice_h2_idle_released_bytes_total", &WorkerCounters::h2_idle_released, "Bytes of idle HTTP/2 frame buffers given back to the kernel."},
    {"sluice_tls_handshakes_ok_total", &WorkerCounters::handshakes_ok, "TLS handshakes completed."},
    {"sluice_tls_handshakes_failed_total", &WorkerCounters::handshakes_failed, "TLS handshakes that failed."},
    {"sluice_tls_handshake_timeouts_total", &WorkerCounters::handshake_timeouts, "TLS handshakes cut by --handshake-timeout."},
    {"sluice_tls_alerts_sent_total", &WorkerCounters::tls_alerts_sent, "Fatal TLS alerts sent for a peer violation."},
    {"sluice_tls_peer_alerts_total", &WorkerCounters::tls_peer_alerts, "TLS connections the peer ended with an error alert."},
    {"sluice_tls_renegotiations_refused_total", &WorkerCounters::tls_renegotiations_refused, "TLS 1.2 renegotiations refused."},
    {"sluice_tls_connections_kernel_total", &WorkerCounters::tls_mode_kernel, "TLS connections with kernel TX and RX."},
    {"sluice_tls_connections_kernel_hw_total", &WorkerCounters::tls_mode_kernel_hw, "TLS connections whose records the NIC does."},
    {"sluice_tls_connections_mixed_total", &WorkerCounters::tls_mode_mixed, "TLS connections with one direction in the kernel."},
    {"sluice_tls_connections_user_total", &WorkerCounters::tls_mode_user, "TLS connections with both directions in userspace."},
    {"sluice_record_sealed_bytes_total", &WorkerCounters::tls_bytes_sealed, "Plaintext bytes sealed by the userspace record layer."},
    {"sluice_record_sealed_mapped_bytes_total", &WorkerCounters::tls_bytes_sealed_mapped, "Sealed bytes taken straight from a file mapping."},
    {"sluice_record_body_truncated_total", &WorkerCounters::tls_body_truncated, "Bodies cut short because the file shrank."},
    {"sluice_file_ring_read_bytes_total", &WorkerCounters::file_ring_read_bytes, "File bytes read into memory by the ring (cold pages)."},
    {"sluice_tls_keyupdate_closed_total", &WorkerCounters::tls_keyupdate_closed, "Connections closed on a KeyUpdate the kernel cannot follow."},
    {"sluice_tls_keyupdate_kernel_rekeyed_total", &WorkerCounters::tls_keyupdate_kernel_rekeyed, "KeyUpdates followed by a kernel TLS_RX rekey."},
    {"sluice_tls_keyupdate_kernel_tx_rekeyed_total", &WorkerCounters::tls_keyupdate_kernel_tx_rekeyed, "KeyUpdates sent with a kernel TLS_TX rekey."},
    {"sluice_tls_keyupdate_rekey_failed_total", &WorkerCounters::tls_keyupdate_rekey_failed, "Connections closed because a rekey failed."},
    {"sluice_ktls_refused_total", &WorkerCounters::ktls_refused, "Connections closed because kTLS failed under --ktls require."},
    {"sluice_ktls_diag_tx_hw_total", &WorkerCounters::ktls_diag_tx_hw, "kTLS TX directions done by the NIC."},
    {"sluice_ktls_diag_tx_sw_total", &WorkerCounters::ktls_diag_tx_sw, "kTLS TX directions done by the kernel CPU."},
    {"sluice_ktls_diag_rx_hw_total", &WorkerCounters::ktls_diag_rx_hw, "kTLS RX directions done by the NIC."},
    {"sluice_ktls_diag_rx_sw_total", &WorkerCounters::ktls_diag_rx_sw, "kTLS RX directions done by the kernel CPU."},
    {"sluice_ktls_diag_failed_total", &WorkerCounters::ktls_diag_failed, "sock_diag queries that gave no answer."},
};

}  // namespace

std::string render_counters(std::span<const WorkerCounters* const> workers) {
    std::string out;
    out.reserve(sizeof kMetrics / sizeof kMetrics[0] * 48);
    for (const Metric& m : kMetrics) {
        uint64_t sum = 0;
        for (const WorkerCounters* w : workers) {
            if (w != nullptr) sum += (w->*m.field).get();
        }
        out.append(m.name);
        out.push_back(' ');
        out.append(std::to_string(sum));
        out.push_back('\n');
    }
    for (int e = 0; e <= WorkerCounters::kMaxErrno; ++e) {
        uint64_t sum = 0;
        for (const WorkerCounters* w : workers)
            if (w != nullptr) sum += w->ktls_errno[e].get();
        if (sum == 0) continue;
        out.append("sluice_ktls_setsockopt_failures_total{errno=\"");
        out.append(std::to_string(e));
        out.append("\"} ");
        out.append(std::to_string(sum));
        out.push_back('\n');
    }
    return out;
}

std::string render_prometheus(std::span<const WorkerCounters* const> workers) {
    std::string out;
    out.reserve(sizeof kMetrics / sizeof kMetrics[0] * 160);
    auto sum_of = [&](const Counter WorkerCounters::*f) {
        uint64_t sum = 0;
        for (const WorkerCounters* w : workers)
            if (w != nullptr) sum += (w->*f).get();
        return sum;
    };
    for (const Metric& m : kMetrics) {
        const std::string_view name(m.name);
        const bool counter = name.ends_with("_total");
        out.append("# HELP ").append(name).append(" ").append(m.help).append("\n");
        out.append("# TYPE ").append(name).append(counter ? " counter\n" : " gauge\n");
        out.append(name).append(" ").append(std::to_string(sum_of(m.field))).append("\n");
    }
    const char* errno_name = "sluice_ktls_setsockopt_failures_total";
    out.append("# HELP ").append(errno_name).append(" kTLS setsockopt failures by errno.\n");
    out.append("# TYPE ").append(errno_name).append(" counter\n");
    for (int e = 0; e <= WorkerCounters::kMaxErrno; ++e) {
        uint64_t sum = 0;
        for (const WorkerCounters* w : workers)
            if (w != nullptr) sum += w->ktls_errno[e].get();
        if (sum == 0) continue;
        out.append(errno_name).append("{errno=\"").append(std::to_string(e)).append("\"} ");
        out.append(std::to_string(sum)).append("\n");
    }
    return out;
}

}  // namespace sluice::obs
