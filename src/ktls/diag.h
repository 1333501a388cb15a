// ktls/diag.h — what the kernel says it did with one socket's TLS keys, asked through sock_diag
// (NETLINK_SOCK_DIAG, an exact inet_diag request). The only per-socket source for "software or
// NIC (TLS_HW)": the kernel picks device offload inside setsockopt(TLS_TX/TLS_RX) and falls
// back to software silently; /proc/net/tls_stat is namespace-wide.
// Contract: DiagSocket is one netlink socket, owned by one thread (a worker); query() is a
// synchronous round trip (the kernel answers sock_diag requests inside sendmsg, so the reply is
// queued when it returns) with errors as values, never retried. The request names the socket by
// its 4-tuple AND its SO_COOKIE, so a reused 4-tuple can never answer for another socket.
// build_request()/parse_reply() are sans-I/O, for tests.
// The kernel attaches INET_DIAG_ULP_INFO to replies that ask for INET_DIAG_INFO (the ULP info
// itself cannot be requested: idiag_ext has 8 bits, INET_DIAG_ULP_INFO is 22). Older kernels
// (the 5.4-era tcp_diag) attach it for CAP_NET_ADMIN only: ENODATA there when unprivileged.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace sluice::ktls {

// tls_user_config() in net/tls/tls_main.c: TLS_CONF_BASE..TLS_CONF_HW_RECORD (uapi tls.h).
enum class TlsConf : uint8_t { Unknown = 0, Base = 1, Sw = 2, Hw = 3, HwRecord = 4 };

struct TlsDiag {
    TlsConf tx = TlsConf::Unknown;
    TlsConf rx = TlsConf::Unknown;
    uint16_t version = 0;  // TLS_1_2_VERSION 0x0303 / TLS_1_3_VERSION 0x0304; 0: not set yet
    uint16_t cipher = 0;   // TLS_CIPHER_* (51 AES-GCM-128, 52 AES-GCM-256, 54 ChaCha20-Poly1305)
    bool zc_ro_tx = false;   // TLS_INFO_ZC_RO_TX (reported only with TX in HW)
    bool rx_no_pad = false;  // TLS_INFO_RX_NO_PAD
};

// The NIC (device offload, or the TOE-like HW_RECORD) does this direction's records.
constexpr bool is_hw(TlsConf c) { return c == TlsConf::Hw || c == TlsConf::HwRecord; }
std::string_view conf_name(TlsConf c);  // "base", "sw", "hw", "hw-record", "?"
// "TX sw, RX sw" plus " (TLS 1.2, cipher 51)"-style detail when the kernel reported it.
std::string describe(const TlsDiag& d);

// One TCP socket as sock_diag names it, from the socket's own point of view.
struct SockKey {
    sa_family_t family = AF_INET;  // AF_INET or AF_INET6 (v4-mapped addresses stay AF_INET6)
    uint8_t src[16] = {};          // local address, network order (4 bytes used for AF_INET)
    uint8_t dst[16] = {};          // peer address
    uint16_t sport = 0;            // host order
    uint16_t dport = 0;
    uint64_t cookie = 0;  // SO_COOKIE
};

// getsockname + getpeername + SO_COOKIE of a connected TCP socket.
Result<SockKey> sock_key(int fd);

// SOCK_DIAG_BY_FAMILY exact request (no NLM_F_DUMP) for `key`, asking for INET_DIAG_INFO.
std::vector<uint8_t> build_request(const SockKey& key, uint32_t seq);

// Walks a reply buffer: messages of another seq are skipped. EBADMSG for a malformed or
// truncated message or attribute; -error of an NLMSG_ERROR (ENOENT: no such socket, or its
// cookie differs, which some kernels call ESTALE); ESTALE for an answer about another cookie;
// ENOENT for NLMSG_DONE before an answer; ENODATA when the socket has no ULP info (no ULP, or
// the kernel withholds it); ENOPROTOOPT when the ULP is not "tls"; EAGAIN when the buffer
// holds nothing for `seq`.
Result<TlsDiag> parse_reply(std::span<const uint8_t> buf, uint32_t seq, uint64_t cookie);

class DiagSocket {
public:
    // socket(AF_NETLINK, NETLINK_SOCK_DIAG); errors as from socket(2).
    static Result<DiagSocket> open();
    // One round trip for the socket behind `fd` (see parse_reply for the errors).
    Result<TlsDiag> query(int fd);
    Result<TlsDiag> query(const SockKey& key);

private:
    explicit DiagSocket(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    uint32_t seq_ = 0;
};

}  // namespace sluice::ktls
