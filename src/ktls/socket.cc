#include "ktls/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ktls/crypto_info.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace sluice::ktls {

namespace {

Result<void> set_conf(int fd, const tls::TrafficKeys& keys, bool tx) {
    CryptoInfoBuf ci;  // wiped when it goes out of scope
    if (auto r = to_crypto_info(keys, tx, ci); !r) return r;
    if (setsockopt(fd, SOL_TLS, tx ? TLS_TX : TLS_RX, ci.data(), ci.size) != 0) {
        return fail_errno();
    }
    return {};
}

}  // namespace

Result<void> attach_ulp(int fd) {
    static constexpr char kUlp[] = "tls";
    if (setsockopt(fd, SOL_TCP, TCP_ULP, kUlp, sizeof kUlp) != 0) return fail_errno();
    return {};
}

Result<void> set_tx(int fd, const tls::TrafficKeys& keys) { return set_conf(fd, keys, true); }
Result<void> set_rx(int fd, const tls::TrafficKeys& keys) { return set_conf(fd, keys, false); }

Result<void> rekey_tx(int fd, const tls::TrafficKeys& next) {
    if (next.version != tls::Version::Tls13) return fail(EINVAL);
    return set_conf(fd, next, true);
}

Result<void> rekey_rx(int fd, const tls::TrafficKeys& next) {
    if (next.version != tls::Version::Tls13) return fail(EINVAL);
    return set_conf(fd, next, false);
}

Result<void> set_tx_zerocopy_ro(int fd, bool on) {
    unsigned int v = on ? 1 : 0;  // optlen must be exactly sizeof(unsigned int)
    if (setsockopt(fd, SOL_TLS, TLS_TX_ZEROCOPY_RO, &v, sizeof v) != 0) return fail_errno();
    return {};
}

Result<bool> get_tx_zerocopy_ro(int fd) {
    unsigned int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_TLS, TLS_TX_ZEROCOPY_RO, &v, &len) != 0) return fail_errno();
    return v != 0;
}

Result<void> set_rx_expect_no_pad(int fd, bool on) {
    uint32_t v = on ? 1 : 0;
    if (setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &v, sizeof v) != 0) return fail_errno();
    return {};
}

}  // namespace sluice::ktls
