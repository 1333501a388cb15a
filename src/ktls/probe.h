// ktls/probe.h — what this kernel and its NICs can do for kTLS (`sluice --ktls-probe`).
// Contract: probe() never fails as a whole and never crashes: each item carries ok or the errno
// that answered it. It needs no privileges: kTLS items are tried on throw-away loopback TCP
// pairs with dummy keys (nothing is sent), NIC items via read-only ethtool ioctls. Every item
// after the ULP inherits the ULP's error when the tls module is missing (ENOENT here).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "ktls/diag.h"
#include "tls/keys.h"

namespace sluice::ktls {

struct Check {
    bool tried = false;
    bool ok = false;
    int err = 0;       // errno when !ok
    std::string note;  // why it matters / what the errno means here
};

struct CipherCheck {
    tls::Version version{};
    tls::Cipher cipher{};
    Check tx, rx;
};

enum class NicState : uint8_t { NotPresent, Off, On, OffFixed, OnFixed };

struct NetdevCheck {
    std::string name;
    int err = 0;  // ethtool ioctl failure (then both states are NotPresent)
    NicState tls_tx = NicState::NotPresent;  // feature "tls-hw-tx-offload"
    NicState tls_rx = NicState::NotPresent;  // feature "tls-hw-rx-offload"
};

struct ProbeReport {
    std::string kernel;  // uname -r
    Check ulp;           // setsockopt TCP_ULP "tls"
    std::array<CipherCheck, 6> ciphers;
    Check zerocopy_ro_set, zerocopy_ro_get;
    bool zerocopy_ro_value = false;
    Check rx_expect_no_pad;  // TLS 1.3, after TLS_RX
    Check rekey;             // second TLS_TX on a TLS 1.3 socket: ok on ≥ 6.14, EBUSY before
    Check tls_stat;          // /proc/net/tls_stat readable
    Check sock_diag;         // sock_diag on the TLS 1.2 AES-128-GCM pair after TLS_TX + TLS_RX
    TlsDiag sock_diag_info;  // what it reported (loopback: TX sw, RX sw)
    std::vector<NetdevCheck> netdevs;
};

ProbeReport probe();
// Cheap startup check: can a connected loopback TCP socket get the tls ULP? (No keys set.)
bool ulp_available();
// Cheap startup check: can this kernel rekey TLS 1.3 (a second TLS_TX with dummy keys on a
// loopback pair succeeds: 6.14+)? Decides whether kernel-mode connections keep their traffic
// secrets to follow a KeyUpdate, or close on one.
bool rekey_available();
std::string render(const ProbeReport& r);
std::string_view nic_state_name(NicState s);

// Exposed for tests: ethtool lookup of one interface.
NetdevCheck probe_netdev(const char* ifname);
// ethtool lookup of every interface (if_nameindex order).
std::vector<NetdevCheck> probe_netdevs();
// Some interface has tls-hw-tx-offload or tls-hw-rx-offload on: the kernel may pick device
// offload for a connection, so asking sock_diag per connection can tell something.
bool any_tls_offload(const std::vector<NetdevCheck>& netdevs);

}  // namespace sluice::ktls
