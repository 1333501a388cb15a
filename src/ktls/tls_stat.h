// ktls/tls_stat.h — the namespace-wide kTLS counters in /proc/net/tls_stat.
// Contract: parse_tls_stat() reads "Name<whitespace>value" lines, ignores unknown names (newer
// kernels add counters) and fails with EINVAL on a line without a number. read_tls_stat()
// returns ENOENT when the tls module is not loaded. Deltas of tx_sw/rx_sw/decrypt_error prove
// that the kernel, not userspace, did the record crypto.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace sluice::ktls {

struct TlsStat {
    uint64_t curr_tx_sw = 0, curr_rx_sw = 0, curr_tx_device = 0, curr_rx_device = 0;
    uint64_t tx_sw = 0, rx_sw = 0, tx_device = 0, rx_device = 0;
    uint64_t decrypt_error = 0, rx_device_resync = 0;
    uint64_t decrypt_retry = 0, rx_no_pad_violation = 0;  // 6.0+
    uint64_t rx_rekey_ok = 0, rx_rekey_error = 0, tx_rekey_ok = 0, tx_rekey_error = 0;
    uint64_t rx_rekey_received = 0;  // 6.14+
    bool has_rekey = false;          // the kernel reports the rekey counters (≥ 6.14)
    unsigned fields = 0;             // known names seen
};

Result<TlsStat> parse_tls_stat(std::string_view text);
Result<TlsStat> read_tls_stat(const char* path = "/proc/net/tls_stat");

}  // namespace sluice::ktls
