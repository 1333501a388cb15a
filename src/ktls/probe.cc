#include "ktls/probe.h"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <cstring>
#include <utility>

#include "base/fd.h"
#include "ktls/socket.h"
#include "ktls/tls_stat.h"

namespace sluice::ktls {

namespace {

struct Pair {
    UniqueFd server;  // the accepted end: the one a server would hand to kTLS
    UniqueFd client;
};

Result<Pair> loopback_pair() {
    UniqueFd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!lst) return fail_errno();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(lst.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail_errno();
    if (listen(lst.get(), 1) != 0) return fail_errno();
    if (getsockname(lst.get(), reinterpret_cast<sockaddr*>(&a), &alen) != 0) return fail_errno();
    Pair p;
    p.client = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!p.client) return fail_errno();
    // Loopback with a free backlog slot: connect completes without the accept.
    if (connect(p.client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        return fail_errno();
    }
    p.server = UniqueFd(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!p.server) return fail_errno();
    return p;
}

tls::TrafficKeys dummy_keys(tls::Version v, tls::Cipher c) {
    tls::TrafficKeys k;
    k.version = v;
    k.cipher = c;
    for (size_t i = 0; i < sizeof k.tx.key; ++i) {
        k.tx.key[i] = static_cast<uint8_t>(0x10 + i);
        k.rx.key[i] = static_cast<uint8_t>(0x40 + i);
    }
    for (size_t i = 0; i < sizeof k.tx.iv; ++i) {
        k.tx.iv[i] = static_cast<uint8_t>(0x80 + i);
        k.rx.iv[i] = static_cast<uint8_t>(0xa0 + i);
    }
    return k;
}

void set(Check& c, const Result<void>& r, std::string note_on_error = {}) {
    c.tried = true;
    c.ok = r.has_value();
    c.err = r ? 0 : r.error().code;
    if (!c.ok) c.note = std::move(note_on_error);
}

void inherit(Check& c, const Check& from) {
    c.tried = false;
    c.ok = false;
    c.err = from.err;
    c.note = from.note;
}

// "ENOENT: <why>" with our note when we have one, else the C library's text.
std::string errno_text(int err, const std::string& note = {}) {
    const char* name = strerrorname_np(err);
    std::string s = name ? name : std::to_string(err);
    s += ": ";
    s += note.empty() ? strerror(err) : note;
    return s;
}

// ethtool prints "[fixed]" when a bit is not changeable or never changed.
NicState state_of(const ethtool_get_features_block* blocks, uint32_t bit) {
    const ethtool_get_features_block& b = blocks[bit / 32];
    const uint32_t m = 1u << (bit % 32);
    const bool on = (b.active & m) != 0;
    const bool fixed = (b.available & m) == 0 || (b.never_changed & m) != 0;
    if (fixed) return on ? NicState::OnFixed : NicState::OffFixed;
    return on ? NicState::On : NicState::Off;
}

}  // namespace

std::string_view nic_state_name(NicState s) {
    switch (s) {
    case NicState::NotPresent: return "not present";
    case NicState::Off: return "off";
    case NicState::On: return "on";
    case NicState::OffFixed: return "off [fixed]";
    case NicState::OnFixed: return "on [fixed]";
    }
    return "?";
}

NetdevCheck probe_netdev(const char* ifname) {
    NetdevCheck out;
    out.name = ifname;
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) {
        out.err = errno;
        return out;
    }
    ifreq ifr{};
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);

    // 1. How many feature strings.
    std::vector<uint64_t> sset_buf((sizeof(ethtool_sset_info) + sizeof(uint32_t) + 7) / 8);
    auto* sset = reinterpret_cast<ethtool_sset_info*>(sset_buf.data());
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_FEATURES;
    ifr.ifr_data = reinterpret_cast<char*>(sset);
    if (ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) {
        out.err = errno;
        return out;
    }
    if ((sset->sset_mask & (1ULL << ETH_SS_FEATURES)) == 0) return out;
    const uint32_t n = sset->data[0];
    if (n == 0 || n > 4096) return out;

    // 2. Their names.
    std::vector<uint64_t> str_buf((sizeof(ethtool_gstrings) + size_t{n} * ETH_GSTRING_LEN + 7) / 8);
    auto* gs = reinterpret_cast<ethtool_gstrings*>(str_buf.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = n;
    ifr.ifr_data = reinterpret_cast<char*>(gs);
    if (ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) {
        out.err = errno;
        return out;
    }
    int tx_bit = -1;
    int rx_bit = -1;
    for (uint32_t i = 0; i < gs->len && i < n; ++i) {
        const char* name = reinterpret_cast<const char*>(gs->data) + size_t{i} * ETH_GSTRING_LEN;
        std::string_view sv(name, strnlen(name, ETH_GSTRING_LEN));
        if (sv == "tls-hw-tx-offload") tx_bit = static_cast<int>(i);
        if (sv == "tls-hw-rx-offload") rx_bit = static_cast<int>(i);
    }
    if (tx_bit < 0 && rx_bit < 0) return out;

    // 3. The feature words.
    const uint32_t blocks = (n + 31) / 32;
    std::vector<uint64_t> feat_buf(
        (sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block) + 7) / 8);
    auto* gf = reinterpret_cast<ethtool_gfeatures*>(feat_buf.data());
    gf->cmd = ETHTOOL_GFEATURES;
    gf->size = blocks;
    ifr.ifr_data = reinterpret_cast<char*>(gf);
    if (ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) {
        out.err = errno;
        return out;
    }
    if (tx_bit >= 0) out.tls_tx = state_of(gf->features, static_cast<uint32_t>(tx_bit));
    if (rx_bit >= 0) out.tls_rx = state_of(gf->features, static_cast<uint32_t>(rx_bit));
    return out;
}

std::vector<NetdevCheck> probe_netdevs() {
    std::vector<NetdevCheck> out;
    if (struct if_nameindex* ifs = if_nameindex()) {
        for (struct if_nameindex* i = ifs; i->if_index != 0 && i->if_name != nullptr; ++i) {
            out.push_back(probe_netdev(i->if_name));
        }
        if_freenameindex(ifs);
    }
    return out;
}

bool any_tls_offload(const std::vector<NetdevCheck>& netdevs) {
    auto on = [](NicState s) { return s == NicState::On || s == NicState::OnFixed; };
    for (const NetdevCheck& d : netdevs) {
        if (on(d.tls_tx) || on(d.tls_rx)) return true;
    }
    return false;
}

bool ulp_available() {
    auto p = loopback_pair();
    return p && attach_ulp(p->server.get()).has_value();
}

ProbeReport probe() {
    ProbeReport r;
    utsname u{};
    if (uname(&u) == 0) r.kernel = u.release;

    constexpr std::pair<tls::Version, tls::Cipher> kPairs[6] = {
        {tls::Version::Tls12, tls::Cipher::Aes128Gcm},
        {tls::Version::Tls12, tls::Cipher::Aes256Gcm},
        {tls::Version::Tls12, tls::Cipher::Chacha20Poly1305},
        {tls::Version::Tls13, tls::Cipher::Aes128Gcm},
        {tls::Version::Tls13, tls::Cipher::Aes256Gcm},
        {tls::Version::Tls13, tls::Cipher::Chacha20Poly1305},
    };
    for (size_t i = 0; i < 6; ++i) {
        r.ciphers[i].version = kPairs[i].first;
        r.ciphers[i].cipher = kPairs[i].second;
    }

    auto rs = read_tls_stat();
    set(r.tls_stat, rs ? Result<void>{} : Result<void>(std::unexpected(rs.error())),
        "no tls_stat: tls module not loaded");

    {
        auto p = loopback_pair();
        if (!p) {
            set(r.ulp, Result<void>(std::unexpected(p.error())), "cannot make a loopback pair");
        } else {
            auto a = attach_ulp(p->server.get());
            std::string why = "tls ULP not attachable";
            if (!a && a.error().code == ENOENT) why = "tls module not available";
            set(r.ulp, a, why);
        }
    }
    if (!r.ulp.ok) {
        for (auto& c : r.ciphers) {
            inherit(c.tx, r.ulp);
            inherit(c.rx, r.ulp);
        }
        inherit(r.zerocopy_ro_set, r.ulp);
        inherit(r.zerocopy_ro_get, r.ulp);
        inherit(r.rx_expect_no_pad, r.ulp);
        inherit(r.rekey, r.ulp);
        inherit(r.sock_diag, r.ulp);
    } else {
        for (auto& c : r.ciphers) {
            auto p = loopback_pair();
            if (!p) {
                set(c.tx, Result<void>(std::unexpected(p.error())), "loopback pair");
                inherit(c.rx, c.tx);
                continue;
            }
            const int fd = p->server.get();
            if (auto a = attach_ulp(fd); !a) {
                set(c.tx, a, "tls ULP");
                inherit(c.rx, c.tx);
                continue;
            }
            const tls::TrafficKeys k = dummy_keys(c.version, c.cipher);
            set(c.tx, set_tx(fd, k), "kernel lacks this version/cipher (or its crypto module)");
            set(c.rx, set_rx(fd, k), "kernel lacks this version/cipher (or its crypto module)");
            const bool first =
                c.version == tls::Version::Tls12 && c.cipher == tls::Cipher::Aes128Gcm;
            const bool tls13_gcm =
                c.version == tls::Version::Tls13 && c.cipher == tls::Cipher::Aes128Gcm;
            if (first) {
                // What the kernel says it chose for this socket: loopback is always software.
                auto ds = DiagSocket::open();
                auto d = ds ? ds->query(fd) : Result<TlsDiag>(std::unexpected(ds.error()));
                const bool nodata = !d && d.error().code == ENODATA;
                set(r.sock_diag, d ? Result<void>{} : Result<void>(std::unexpected(d.error())),
                    nodata ? "no ULP info in the reply (old kernel without CAP_NET_ADMIN?)" : "");
                if (d) r.sock_diag_info = *d;
                set(r.zerocopy_ro_set, set_tx_zerocopy_ro(fd, true), "needs kernel 5.19+");
                auto g = get_tx_zerocopy_ro(fd);
                set(r.zerocopy_ro_get,
                    g ? Result<void>{} : Result<void>(std::unexpected(g.error())),
                    "needs kernel 5.19+");
                r.zerocopy_ro_value = g && *g;
            }
            if (tls13_gcm) {
                if (c.rx.ok) {
                    set(r.rx_expect_no_pad, set_rx_expect_no_pad(fd, true), "needs kernel 6.0+");
                } else {
                    inherit(r.rx_expect_no_pad, c.rx);
                }
                if (c.tx.ok) {
                    tls::TrafficKeys next = dummy_keys(c.version, c.cipher);
                    next.tx.key[0] ^= 0xff;
                    set(r.rekey, rekey_tx(fd, next),
                        "no TLS 1.3 rekey (kernel < 6.14): close on KeyUpdate");
                } else {
                    inherit(r.rekey, c.tx);
                }
            }
        }
    }

    r.netdevs = probe_netdevs();
    return r;
}

bool rekey_available() {
    auto p = loopback_pair();
    if (!p) return false;
    const int fd = p->server.get();
    if (!attach_ulp(fd)) return false;
    tls::TrafficKeys k = dummy_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm);
    if (!set_tx(fd, k)) return false;
    k.tx.key[0] ^= 0xff;
    return rekey_tx(fd, k).has_value();
}

std::string render(const ProbeReport& r) {
    std::string out;
    auto line = [&out](std::string_view label, const Check& c) {
        out += label;
        for (size_t n = label.size(); n < 36; ++n) out += ' ';
        if (c.ok) {
            out += "yes\n";
            return;
        }
        out += "no (" + errno_text(c.err, c.note) + ")\n";
    };
    out += "kTLS probe, kernel " + (r.kernel.empty() ? std::string("?") : r.kernel) + "\n";
    line("tls ULP (TCP_ULP \"tls\")", r.ulp);
    for (const auto& c : r.ciphers) {
        std::string name(tls::version_name(c.version));
        name += ' ';
        name += tls::cipher_name(c.cipher);
        line("TLS_TX " + name, c.tx);
        line("TLS_RX " + name, c.rx);
    }
    line("TLS_TX_ZEROCOPY_RO set", r.zerocopy_ro_set);
    line("TLS_TX_ZEROCOPY_RO get", r.zerocopy_ro_get);
    if (r.zerocopy_ro_get.ok) {
        out += std::string("  value read back: ") + (r.zerocopy_ro_value ? "1" : "0") + "\n";
    }
    line("TLS_RX_EXPECT_NO_PAD (TLS 1.3)", r.rx_expect_no_pad);
    line("TLS 1.3 rekey (TLS_TX twice)", r.rekey);
    if (r.rekey.ok) out += "  on a client KeyUpdate: the kernel keys are renewed (TLS_RX/TLS_TX)\n";
    line("/proc/net/tls_stat", r.tls_stat);
    if (r.sock_diag.ok) {
        out += "sock_diag TLS info (loopback pair)  " + describe(r.sock_diag_info) + "\n";
    } else {
        line("sock_diag TLS info (loopback pair)", r.sock_diag);
    }
    out += "NIC TLS offload (ethtool -k):\n";
    if (r.netdevs.empty()) out += "  (no interfaces)\n";
    for (const auto& d : r.netdevs) {
        out += "  " + d.name + ": ";
        if (d.err != 0) {
            out += "ethtool query failed (" + errno_text(d.err) + ")\n";
            continue;
        }
        out += "tls-hw-tx-offload ";
        out += nic_state_name(d.tls_tx);
        out += ", tls-hw-rx-offload ";
        out += nic_state_name(d.tls_rx);
        out += '\n';
    }
    return out;
}

}  // namespace sluice::ktls
