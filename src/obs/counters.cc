#include "obs/counters.h"

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
};

constexpr Metric kMetrics[] = {
    {"sluice_server_connections_accepted_total", &WorkerCounters::accepted},
    {"sluice_server_connections_closed_total", &WorkerCounters::closed},
    {"sluice_server_connections_active", &WorkerCounters::active_connections},
    {"sluice_server_requests_total", &WorkerCounters::requests},
    {"sluice_server_responses_2xx_total", &WorkerCounters::responses_2xx},
    {"sluice_server_responses_3xx_total", &WorkerCounters::responses_3xx},
    {"sluice_server_responses_4xx_total", &WorkerCounters::responses_4xx},
    {"sluice_server_responses_5xx_total", &WorkerCounters::responses_5xx},
    {"sluice_server_sent_bytes_total", &WorkerCounters::bytes_sent},
    {"sluice_server_timeouts_header_total", &WorkerCounters::timeouts_header},
    {"sluice_server_timeouts_keepalive_total", &WorkerCounters::timeouts_keepalive},
    {"sluice_server_timeouts_send_total", &WorkerCounters::timeouts_send},
    {"sluice_server_accept_paused_total", &WorkerCounters::accept_paused},
    {"sluice_h2_connections_total", &WorkerCounters::h2_connections},
    {"sluice_h2_requests_total", &WorkerCounters::h2_requests},
    {"sluice_h2_flood_closed_total", &WorkerCounters::h2_flood_closed},
    {"sluice_h2_idle_released_bytes_total", &WorkerCounters::h2_idle_released},
    {"sluice_tls_handshakes_ok_total", &WorkerCounters::handshakes_ok},
    {"sluice_tls_handshakes_failed_total", &WorkerCounters::handshakes_failed},
    {"sluice_tls_handshake_timeouts_total", &WorkerCounters::handshake_timeouts},
    {"sluice_tls_alerts_sent_total", &WorkerCounters::tls_alerts_sent},
    {"sluice_tls_peer_alerts_total", &WorkerCounters::tls_peer_alerts},
    {"sluice_tls_renegotiations_refused_total", &WorkerCounters::tls_renegotiations_refused},
    {"sluice_tls_connections_kernel_total", &WorkerCounters::tls_mode_kernel},
    {"sluice_tls_connections_kernel_hw_total", &WorkerCounters::tls_mode_kernel_hw},
    {"sluice_tls_connections_mixed_total", &WorkerCounters::tls_mode_mixed},
    {"sluice_tls_connections_user_total", &WorkerCounters::tls_mode_user},
    {"sluice_record_sealed_bytes_total", &WorkerCounters::tls_bytes_sealed},
    {"sluice_record_sealed_mapped_bytes_total", &WorkerCounters::tls_bytes_sealed_mapped},
    {"sluice_record_body_truncated_total", &WorkerCounters::tls_body_truncated},
    {"sluice_file_ring_read_bytes_total", &WorkerCounters::file_ring_read_bytes},
    {"sluice_tls_keyupdate_closed_total", &WorkerCounters::tls_keyupdate_closed},
    {"sluice_tls_keyupdate_kernel_rekeyed_total", &WorkerCounters::tls_keyupdate_kernel_rekeyed},
    {"sluice_tls_keyupdate_kernel_tx_rekeyed_total",
     &WorkerCounters::tls_keyupdate_kernel_tx_rekeyed},
    {"sluice_tls_keyupdate_rekey_failed_total", &WorkerCounters::tls_keyupdate_rekey_failed},
    {"sluice_ktls_refused_total", &WorkerCounters::ktls_refused},
    {"sluice_ktls_diag_tx_hw_total", &WorkerCounters::ktls_diag_tx_hw},
    {"sluice_ktls_diag_tx_sw_total", &WorkerCounters::ktls_diag_tx_sw},
    {"sluice_ktls_diag_rx_hw_total", &WorkerCounters::ktls_diag_rx_hw},
    {"sluice_ktls_diag_rx_sw_total", &WorkerCounters::ktls_diag_rx_sw},
    {"sluice_ktls_diag_failed_total", &WorkerCounters::ktls_diag_failed},
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

}  // namespace sluice::obs
