#include "ktls/diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace sluice::ktls {

namespace {

// Network order in, host order out, without alignment assumptions on the buffer.
uint16_t load16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
uint32_t load32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

struct Attr {
    uint16_t type;  // NLA_TYPE_MASK applied: nested attributes may carry NLA_F_NESTED
    std::span<const uint8_t> data;
};

// Walks a run of netlink attributes; EBADMSG for a header that overruns the run. `fn` returns
// Result<void> so the first error stops the walk.
template <class Fn>
Result<void> for_each_attr(std::span<const uint8_t> run, Fn&& fn) {
    while (run.size() >= NLA_HDRLEN) {
        const uint16_t len = load16(run.data());
        if (len < NLA_HDRLEN || len > run.size()) return fail(EBADMSG);
        const Attr a{static_cast<uint16_t>(load16(run.data() + 2) & NLA_TYPE_MASK),
                     run.subspan(NLA_HDRLEN, len - NLA_HDRLEN)};
        if (auto r = fn(a); !r) return r;
        run = run.subspan(std::min<size_t>(NLA_ALIGN(len), run.size()));
    }
    if (!run.empty()) return fail(EBADMSG);  // 1..3 bytes: a cut-off header
    return {};
}

Result<uint16_t> attr_u16(const Attr& a) {
    if (a.data.size() < sizeof(uint16_t)) return fail(EBADMSG);
    return load16(a.data.data());
}

TlsConf to_conf(uint16_t v) {
    switch (v) {
    case TLS_CONF_BASE: return TlsConf::Base;
    case TLS_CONF_SW: return TlsConf::Sw;
    case TLS_CONF_HW: return TlsConf::Hw;
    case TLS_CONF_HW_RECORD: return TlsConf::HwRecord;
    default: return TlsConf::Unknown;
    }
}

// INET_ULP_INFO_TLS: what tls_get_info() (net/tls/tls_main.c) puts in the nest.
Result<TlsDiag> parse_tls_nest(std::span<const uint8_t> nest) {
    TlsDiag d;
    bool tx = false;
    bool rx = false;
    auto r = for_each_attr(nest, [&](const Attr& a) -> Result<void> {
        switch (a.type) {
        case TLS_INFO_VERSION:
        case TLS_INFO_CIPHER:
        case TLS_INFO_TXCONF:
        case TLS_INFO_RXCONF: {
            auto v = attr_u16(a);
            if (!v) return std::unexpected(v.error());
            if (a.type == TLS_INFO_VERSION) d.version = *v;
            if (a.type == TLS_INFO_CIPHER) d.cipher = *v;
            if (a.type == TLS_INFO_TXCONF) {
                d.tx = to_conf(*v);
                tx = true;
            }
            if (a.type == TLS_INFO_RXCONF) {
                d.rx = to_conf(*v);
                rx = true;
            }
            return {};
        }
        case TLS_INFO_ZC_RO_TX: d.zc_ro_tx = true; return {};
        case TLS_INFO_RX_NO_PAD: d.rx_no_pad = true; return {};
        default: return {};  // newer kernels add attributes (e.g. TX_MAX_PAYLOAD_LEN)
        }
    });
    if (!r) return std::unexpected(r.error());
    if (!tx || !rx) return fail(EBADMSG);  // the kernel always puts both in the nest
    return d;
}

// INET_DIAG_ULP_INFO: the ULP's name, then its own nest.
Result<TlsDiag> parse_ulp(std::span<const uint8_t> ulp) {
    std::string_view name;
    std::span<const uint8_t> tls;
    bool have_tls = false;
    auto r = for_each_attr(ulp, [&](const Attr& a) -> Result<void> {
        if (a.type == INET_ULP_INFO_NAME) {
            const auto* s = reinterpret_cast<const char*>(a.data.data());
            name = std::string_view(s, strnlen(s, a.data.size()));
        } else if (a.type == INET_ULP_INFO_TLS) {
            tls = a.data;
            have_tls = true;
        }
        return {};
    });
    if (!r) return std::unexpected(r.error());
    if (name != "tls") return fail(name.empty() ? EBADMSG : ENOPROTOOPT);
    if (!have_tls) return fail(ENODATA);  // tls_get_info found no context: it drops its nest
    return parse_tls_nest(tls);
}

Result<TlsDiag> parse_diag_msg(std::span<const uint8_t> payload, uint64_t cookie) {
    if (payload.size() < sizeof(inet_diag_msg)) return fail(EBADMSG);
    inet_diag_msg m;
    std::memcpy(&m, payload.data(), sizeof m);
    const uint64_t got = uint64_t{m.id.idiag_cookie[1]} << 32 | m.id.idiag_cookie[0];
    if (got != cookie) return fail(ESTALE);
    const size_t off = NLMSG_ALIGN(sizeof(inet_diag_msg));
    std::span<const uint8_t> attrs = payload.subspan(std::min(off, payload.size()));
    std::span<const uint8_t> ulp;
    bool have_ulp = false;
    auto r = for_each_attr(attrs, [&](const Attr& a) -> Result<void> {
        if (a.type == INET_DIAG_ULP_INFO) {
            ulp = a.data;
            have_ulp = true;
        }
        return {};
    });
    if (!r) return std::unexpected(r.error());
    if (!have_ulp) return fail(ENODATA);
    return parse_ulp(ulp);
}

void copy_addr(uint32_t (&to)[4], const uint8_t (&from)[16]) { std::memcpy(to, from, 16); }

}  // namespace

std::string_view conf_name(TlsConf c) {
    switch (c) {
    case TlsConf::Base: return "base";
    case TlsConf::Sw: return "sw";
    case TlsConf::Hw: return "hw";
    case TlsConf::HwRecord: return "hw-record";
    case TlsConf::Unknown: break;
    }
    return "?";
}

std::string describe(const TlsDiag& d) {
    std::string s = "TX ";
    s += conf_name(d.tx);
    s += ", RX ";
    s += conf_name(d.rx);
    if (d.version == 0 && d.cipher == 0) return s;
    s += " (";
    s += d.version == TLS_1_2_VERSION   ? "TLS 1.2"
         : d.version == TLS_1_3_VERSION ? "TLS 1.3"
                                        : "version " + std::to_string(d.version);
    s += ", ";
    switch (d.cipher) {
    case TLS_CIPHER_AES_GCM_128: s += "AES-GCM-128"; break;
    case TLS_CIPHER_AES_GCM_256: s += "AES-GCM-256"; break;
    case TLS_CIPHER_CHACHA20_POLY1305: s += "CHACHA20-POLY1305"; break;
    default: s += "cipher " + std::to_string(d.cipher); break;
    }
    if (d.zc_ro_tx) s += ", zerocopy-ro";
    if (d.rx_no_pad) s += ", rx-no-pad";
    s += ")";
    return s;
}

Result<SockKey> sock_key(int fd) {
    SockKey k;
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t llen = sizeof local;
    socklen_t plen = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) return fail_errno();
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) return fail_errno();
    if (local.ss_family != peer.ss_family) return fail(EAFNOSUPPORT);
    k.family = local.ss_family;
    if (k.family == AF_INET) {
        const auto& l = reinterpret_cast<const sockaddr_in&>(local);
        const auto& p = reinterpret_cast<const sockaddr_in&>(peer);
        std::memcpy(k.src, &l.sin_addr, 4);
        std::memcpy(k.dst, &p.sin_addr, 4);
        k.sport = ntohs(l.sin_port);
        k.dport = ntohs(p.sin_port);
    } else if (k.family == AF_INET6) {
        const auto& l = reinterpret_cast<const sockaddr_in6&>(local);
        const auto& p = reinterpret_cast<const sockaddr_in6&>(peer);
        std::memcpy(k.src, &l.sin6_addr, 16);
        std::memcpy(k.dst, &p.sin6_addr, 16);
        k.sport = ntohs(l.sin6_port);
        k.dport = ntohs(p.sin6_port);
    } else {
        return fail(EAFNOSUPPORT);
    }
    uint64_t cookie = 0;
    socklen_t clen = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &clen) != 0) return fail_errno();
    k.cookie = cookie;
    return k;
}

std::vector<uint8_t> build_request(const SockKey& key, uint32_t seq) {
    struct {
        nlmsghdr nlh;
        inet_diag_req_v2 req;
    } m{};
    static_assert(sizeof m == NLMSG_LENGTH(sizeof(inet_diag_req_v2)));
    m.nlh.nlmsg_len = sizeof m;
    m.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    m.nlh.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: inet_diag_dump_one_icsk, one socket
    m.nlh.nlmsg_seq = seq;
    m.req.sdiag_family = static_cast<uint8_t>(key.family);
    m.req.sdiag_protocol = IPPROTO_TCP;
    // INET_DIAG_ULP_INFO rides on INET_DIAG_INFO (tcp_diag_get_aux); it has no bit of its own.
    m.req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    m.req.idiag_states = ~0U;
    m.req.id.idiag_sport = htons(key.sport);
    m.req.id.idiag_dport = htons(key.dport);
    copy_addr(m.req.id.idiag_src, key.src);
    copy_addr(m.req.id.idiag_dst, key.dst);
    m.req.id.idiag_cookie[0] = static_cast<uint32_t>(key.cookie);
    m.req.id.idiag_cookie[1] = static_cast<uint32_t>(key.cookie >> 32);
    std::vector<uint8_t> out(sizeof m);
    std::memcpy(out.data(), &m, sizeof m);
    return out;
}

Result<TlsDiag> parse_reply(std::span<const uint8_t> buf, uint32_t seq, uint64_t cookie) {
    while (!buf.empty()) {
        if (buf.size() < sizeof(nlmsghdr)) return fail(EBADMSG);
        nlmsghdr h;
        std::memcpy(&h, buf.data(), sizeof h);
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > buf.size()) return fail(EBADMSG);
        const std::span<const uint8_t> payload = buf.subspan(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
        buf = buf.subspan(std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), buf.size()));
        if (h.nlmsg_seq != seq) continue;  // a late answer to an earlier, abandoned request
        switch (h.nlmsg_type) {
        case NLMSG_NOOP: continue;
        case NLMSG_ERROR: {
            if (payload.size() < sizeof(int)) return fail(EBADMSG);
            const auto err = static_cast<int>(load32(payload.data()));
            if (err == 0) continue;  // an ACK
            return fail(err < 0 ? -err : EPROTO);
        }
        case NLMSG_DONE: return fail(ENOENT);
        case SOCK_DIAG_BY_FAMILY: return parse_diag_msg(payload, cookie);
        default: return fail(EBADMSG);
        }
    }
    return fail(EAGAIN);
}

Result<DiagSocket> DiagSocket::open() {
    UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return fail_errno();
    // The kernel answers inside sendmsg, so the reply is already queued when recv runs; the
    // timeout only bounds a worker's wait should a kernel ever behave otherwise.
    timeval tv{0, 100 * 1000};
    if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return fail_errno();
    return DiagSocket(std::move(fd));
}

Result<TlsDiag> DiagSocket::query(int fd) {
    auto k = sock_key(fd);
    if (!k) return std::unexpected(k.error());
    return query(*k);
}

Result<TlsDiag> DiagSocket::query(const SockKey& key) {
    const uint32_t seq = ++seq_;
    const std::vector<uint8_t> req = build_request(key, seq);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(req.size()))
        return fail_errno();
    // One reply is a few hundred bytes (inet_sk_attr_size); 8 KiB leaves room for new attributes.
    alignas(nlmsghdr) std::array<uint8_t, 8192> buf;
    for (int round = 0; round < 4; ++round) {  // skip datagrams answering older requests
        iovec iov{buf.data(), buf.size()};
        sockaddr_nl from{};
        msghdr mh{};
        mh.msg_name = &from;
        mh.msg_namelen = sizeof from;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        const ssize_t n = recvmsg(fd_.get(), &mh, 0);
        if (n < 0) return fail(errno == EWOULDBLOCK ? ETIMEDOUT : errno);
        if ((mh.msg_flags & MSG_TRUNC) != 0) return fail(EMSGSIZE);
        if (from.nl_pid != 0) continue;  // only the kernel answers sock_diag
        auto r = parse_reply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), seq,
                             key.cookie);
        if (r || r.error().code != EAGAIN) return r;
    }
    return fail(ETIMEDOUT);
}

}  // namespace sluice::ktls
