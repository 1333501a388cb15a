// ktls/socket.h — setsockopt glue that moves a connected TCP socket to kernel TLS.
// Contract: thin wrappers, one syscall each, errno returned as a value and never retried.
// Order (docs/ktls-facts.md §2): attach_ulp on an ESTABLISHED socket with every handshake byte
// flushed and no recv in flight, then set_tx, then set_rx. Failures leave the socket usable as
// plain TCP (ENOENT: no tls module; EEXIST: ULP already there; EBUSY: TX/RX already set and the
// kernel cannot rekey; EINVAL: version/cipher mismatch). Crypto-info copies are wiped here.
#pragma once

#include "base/result.h"
#include "tls/keys.h"

namespace sluice::ktls {

Result<void> attach_ulp(int fd);
Result<void> set_tx(int fd, const tls::TrafficKeys& keys);  // keys.tx (server write key)
Result<void> set_rx(int fd, const tls::TrafficKeys& keys);  // keys.rx (client write key)

// TLS 1.3 KeyUpdate on kernels ≥ 6.14: install the next keys (same version and cipher, seq
// normally 0). TX: send the KeyUpdate record under the old key first. EINVAL for TLS 1.2
// (no KeyUpdate there); EBUSY on kernels without rekey support.
Result<void> rekey_tx(int fd, const tls::TrafficKeys& next);
Result<void> rekey_rx(int fd, const tls::TrafficKeys& next);

// 5.19+: only matters with NIC offload + sendfile/splice; stored but ignored in SW mode.
// Use only for files that never change in place (retransmits re-read the page cache).
Result<void> set_tx_zerocopy_ro(int fd, bool on = true);
Result<bool> get_tx_zerocopy_ro(int fd);

// 6.0+, TLS 1.3 only, after set_rx (EINVAL otherwise). A hostile peer can force double
// decryption; leave it off for untrusted clients.
Result<void> set_rx_expect_no_pad(int fd, bool on = true);

}  // namespace sluice::ktls
