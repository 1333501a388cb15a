// Unit tests for ktls/diag: the exact request bytes, the reply walk over hand-built netlink
// buffers (good reply, NLMSG_ERROR, ACK, DONE, other seq, truncation, nested TLS attributes,
// another ULP) and a real round trip on a loopback socket (no ULP here: ENODATA).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"
#include "ktls/diag.h"

namespace sluice::ktls {
namespace {

using Bytes = std::vector<uint8_t>;

void put(Bytes& b, const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
}
void pad4(Bytes& b) {
    while (b.size() % 4 != 0) b.push_back(0);
}

// One netlink attribute (header, payload, padding).
Bytes attr(uint16_t type, const Bytes& payload) {
    Bytes b;
    const auto len = static_cast<uint16_t>(NLA_HDRLEN + payload.size());
    put(b, &len, 2);
    put(b, &type, 2);
    put(b, payload.data(), payload.size());
    pad4(b);
    return b;
}
Bytes u16(uint16_t v) { return Bytes{static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)}; }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
    return b;
}
Bytes str(const char* s) { return Bytes(s, s + std::strlen(s) + 1); }

Bytes tls_nest(uint16_t tx, uint16_t rx) {
    return cat({attr(TLS_INFO_VERSION, u16(TLS_1_2_VERSION)),
                attr(TLS_INFO_CIPHER, u16(TLS_CIPHER_AES_GCM_128)),
                attr(TLS_INFO_TXCONF, u16(tx)), attr(TLS_INFO_RXCONF, u16(rx))});
}
Bytes ulp_info(const Bytes& tls) {
    return attr(INET_DIAG_ULP_INFO,
                cat({attr(INET_ULP_INFO_NAME, str("tls")), attr(INET_ULP_INFO_TLS, tls)}));
}

constexpr uint64_t kCookie = 0x1122334455667788ULL;

// A netlink message: header + payload (already laid out), padded.
Bytes message(uint16_t type, uint32_t seq, const Bytes& payload) {
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + payload.size());
    h.nlmsg_type = type;
    h.nlmsg_seq = seq;
    Bytes b;
    put(b, &h, sizeof h);
    put(b, payload.data(), payload.size());
    pad4(b);
    return b;
}

// SOCK_DIAG_BY_FAMILY answer: inet_diag_msg (with the cookie) then attributes.
Bytes diag_reply(uint32_t seq, const Bytes& attrs, uint64_t cookie = kCookie) {
    inet_diag_msg m{};
    m.idiag_family = AF_INET;
    m.idiag_state = 1;  // TCP_ESTABLISHED
    m.id.idiag_cookie[0] = static_cast<uint32_t>(cookie);
    m.id.idiag_cookie[1] = static_cast<uint32_t>(cookie >> 32);
    Bytes p;
    put(p, &m, sizeof m);
    pad4(p);
    // An attribute before the ULP info, as the kernel puts INET_DIAG_INFO etc. first.
    const Bytes shutdown = attr(INET_DIAG_SHUTDOWN, Bytes{0, 0, 0, 0});
    p.insert(p.end(), shutdown.begin(), shutdown.end());
    p.insert(p.end(), attrs.begin(), attrs.end());
    return message(SOCK_DIAG_BY_FAMILY, seq, p);
}

Bytes error_msg(uint32_t seq, int err) {
    nlmsgerr e{};
    e.error = err;
    Bytes p;
    put(p, &e, sizeof e);
    return message(NLMSG_ERROR, seq, p);
}

int err_of(const Result<TlsDiag>& r) { return r ? 0 : r.error().code; }

TEST(Diag, RequestBytes) {
    SockKey k;
    k.family = AF_INET;
    const uint8_t src[4] = {127, 0, 0, 1};
    const uint8_t dst[4] = {127, 0, 0, 2};
    std::memcpy(k.src, src, 4);
    std::memcpy(k.dst, dst, 4);
    k.sport = 8443;
    k.dport = 50000;
    k.cookie = kCookie;
    const Bytes b = build_request(k, 7);
    ASSERT_EQ(b.size(), NLMSG_LENGTH(sizeof(inet_diag_req_v2)));
    nlmsghdr h;
    std::memcpy(&h, b.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_len, b.size());
    EXPECT_EQ(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST);  // exact lookup, not a dump
    EXPECT_EQ(h.nlmsg_seq, 7u);
    inet_diag_req_v2 r;
    std::memcpy(&r, b.data() + NLMSG_HDRLEN, sizeof r);
    EXPECT_EQ(r.sdiag_family, AF_INET);
    EXPECT_EQ(r.sdiag_protocol, IPPROTO_TCP);
    EXPECT_EQ(r.idiag_ext, 1 << (INET_DIAG_INFO - 1));
    EXPECT_EQ(r.id.idiag_sport, htons(8443));
    EXPECT_EQ(r.id.idiag_dport, htons(50000));
    EXPECT_EQ(std::memcmp(r.id.idiag_src, src, 4), 0);
    EXPECT_EQ(std::memcmp(r.id.idiag_dst, dst, 4), 0);
    EXPECT_EQ(r.id.idiag_cookie[0], 0x55667788u);
    EXPECT_EQ(r.id.idiag_cookie[1], 0x11223344u);
}

TEST(Diag, GoodReplySoftware) {
    const Bytes b = diag_reply(5, ulp_info(tls_nest(TLS_CONF_SW, TLS_CONF_SW)));
    auto r = parse_reply(b, 5, kCookie);
    ASSERT_TRUE(r) << err_of(r);
    EXPECT_EQ(r->tx, TlsConf::Sw);
    EXPECT_EQ(r->rx, TlsConf::Sw);
    EXPECT_EQ(r->version, TLS_1_2_VERSION);
    EXPECT_EQ(r->cipher, TLS_CIPHER_AES_GCM_128);
    EXPECT_FALSE(is_hw(r->tx));
    EXPECT_EQ(describe(*r), "TX sw, RX sw (TLS 1.2, AES-GCM-128)");
}

TEST(Diag, GoodReplyHardwareWithFlagsAndUnknownAttrs) {
    const Bytes tls = cat({tls_nest(TLS_CONF_HW, TLS_CONF_SW), attr(TLS_INFO_ZC_RO_TX, {}),
                           attr(200, u16(16384))});  // an attribute from a newer kernel
    // The nest flag set on nested attributes must not hide their type.
    Bytes ulp = ulp_info(tls);
    ulp[2] = static_cast<uint8_t>(INET_DIAG_ULP_INFO);
    ulp[3] = static_cast<uint8_t>(NLA_F_NESTED >> 8);
    auto r = parse_reply(diag_reply(9, ulp), 9, kCookie);
    ASSERT_TRUE(r) << err_of(r);
    EXPECT_EQ(r->tx, TlsConf::Hw);
    EXPECT_EQ(r->rx, TlsConf::Sw);
    EXPECT_TRUE(is_hw(r->tx));
    EXPECT_TRUE(r->zc_ro_tx);
    EXPECT_EQ(describe(*r), "TX hw, RX sw (TLS 1.2, AES-GCM-128, zerocopy-ro)");
    auto rec = parse_reply(diag_reply(9, ulp_info(tls_nest(TLS_CONF_HW_RECORD, TLS_CONF_BASE))),
                           9, kCookie);
    ASSERT_TRUE(rec);
    EXPECT_TRUE(is_hw(rec->tx));
    EXPECT_EQ(rec->rx, TlsConf::Base);
}

TEST(Diag, NlmsgError) {
    EXPECT_EQ(err_of(parse_reply(error_msg(3, -ENOENT), 3, kCookie)), ENOENT);
    EXPECT_EQ(err_of(parse_reply(error_msg(3, -ESTALE), 3, kCookie)), ESTALE);
    // An error cut short.
    Bytes shortb = message(NLMSG_ERROR, 3, Bytes{1, 2});
    EXPECT_EQ(err_of(parse_reply(shortb, 3, kCookie)), EBADMSG);
    // An ACK (error 0) followed by the answer.
    const Bytes both = cat({error_msg(3, 0), diag_reply(3, ulp_info(tls_nest(2, 2)))});
    EXPECT_TRUE(parse_reply(both, 3, kCookie));
}

TEST(Diag, DoneAndOtherSequences) {
    EXPECT_EQ(err_of(parse_reply(message(NLMSG_DONE, 4, Bytes{0, 0, 0, 0}), 4, kCookie)), ENOENT);
    // A late answer to request 3 is skipped; the answer to 4 is used.
    const Bytes b = cat({diag_reply(3, ulp_info(tls_nest(TLS_CONF_HW, TLS_CONF_HW))),
                         diag_reply(4, ulp_info(tls_nest(TLS_CONF_SW, TLS_CONF_SW)))});
    auto r = parse_reply(b, 4, kCookie);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->tx, TlsConf::Sw);
    // Only older answers: nothing for us yet.
    EXPECT_EQ(err_of(parse_reply(diag_reply(3, {}), 4, kCookie)), EAGAIN);
    EXPECT_EQ(err_of(parse_reply({}, 4, kCookie)), EAGAIN);
    EXPECT_EQ(err_of(parse_reply(message(NLMSG_NOOP, 4, {}), 4, kCookie)), EAGAIN);
}

TEST(Diag, CookieMismatch) {
    const Bytes b = diag_reply(1, ulp_info(tls_nest(2, 2)), kCookie + 1);
    EXPECT_EQ(err_of(parse_reply(b, 1, kCookie)), ESTALE);
}

TEST(Diag, TruncatedMessages) {
    const Bytes good = diag_reply(1, ulp_info(tls_nest(2, 2)));
    // Every cut inside the message is refused, never read past.
    for (size_t n = 1; n < good.size(); ++n) {
        Bytes cut(good.begin(), good.begin() + static_cast<long>(n));
        EXPECT_EQ(err_of(parse_reply(cut, 1, kCookie)), EBADMSG) << "cut at " << n;
    }
    // nlmsg_len larger than the buffer; smaller than a header.
    Bytes big = good;
    const uint32_t len = static_cast<uint32_t>(good.size() + 4);
    std::memcpy(big.data(), &len, 4);
    EXPECT_EQ(err_of(parse_reply(big, 1, kCookie)), EBADMSG);
    Bytes tiny = good;
    const uint32_t small = 8;
    std::memcpy(tiny.data(), &small, 4);
    EXPECT_EQ(err_of(parse_reply(tiny, 1, kCookie)), EBADMSG);
    // inet_diag_msg shorter than its struct.
    EXPECT_EQ(err_of(parse_reply(message(SOCK_DIAG_BY_FAMILY, 1, Bytes(20, 0)), 1, kCookie)),
              EBADMSG);
}

TEST(Diag, TruncatedAttributes) {
    // An attribute whose length runs past its nest; one shorter than its header.
    Bytes over = attr(TLS_INFO_TXCONF, u16(2));
    over[0] = 40;
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, ulp_info(cat({tls_nest(2, 2), over}))), 1,
                                 kCookie)),
              EBADMSG);
    Bytes under = attr(TLS_INFO_TXCONF, u16(2));
    under[0] = 2;
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, ulp_info(under)), 1, kCookie)), EBADMSG);
    // A u16 attribute with a 1-byte payload.
    const Bytes one = attr(TLS_INFO_TXCONF, Bytes{2});
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, ulp_info(cat({tls_nest(2, 2), one}))), 1,
                                 kCookie)),
              EBADMSG);
    // TXCONF/RXCONF missing from the nest.
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, ulp_info(attr(TLS_INFO_VERSION, u16(0x303)))), 1,
                                 kCookie)),
              EBADMSG);
}

TEST(Diag, NoUlpOtherUlpEmptyTls) {
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, {}), 1, kCookie)), ENODATA);
    const Bytes mptcp = attr(INET_DIAG_ULP_INFO, attr(INET_ULP_INFO_NAME, str("mptcp")));
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, mptcp), 1, kCookie)), ENOPROTOOPT);
    // ULP "tls" without a context (tls_get_info cancels its nest).
    const Bytes bare = attr(INET_DIAG_ULP_INFO, attr(INET_ULP_INFO_NAME, str("tls")));
    EXPECT_EQ(err_of(parse_reply(diag_reply(1, bare), 1, kCookie)), ENODATA);
}

// A real sock_diag round trip on a loopback pair: no ULP on this socket, so the kernel answers
// without INET_DIAG_ULP_INFO (ENODATA). A closed 4-tuple answers ENOENT, a wrong cookie
// ENOENT or ESTALE.
TEST(Diag, RoundTripOnLoopback) {
    auto ds = DiagSocket::open();
    if (!ds) GTEST_SKIP() << "no NETLINK_SOCK_DIAG: " << ds.error().message();
    UniqueFd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    ASSERT_EQ(bind(lst.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(lst.get(), 1), 0);
    ASSERT_EQ(getsockname(lst.get(), reinterpret_cast<sockaddr*>(&a), &alen), 0);
    UniqueFd cli(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(connect(cli.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    UniqueFd srv(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(srv);

    auto k = sock_key(srv.get());
    ASSERT_TRUE(k);
    EXPECT_EQ(k->family, AF_INET);
    EXPECT_EQ(k->sport, ntohs(a.sin_port));
    EXPECT_NE(k->cookie, 0u);
    auto inet_diag = ds->query(*k);
    if (!inet_diag && inet_diag.error().code == ENOENT) {
        // ENOENT for a socket that exists: no inet_diag/tcp_diag support in this kernel.
        GTEST_SKIP() << "sock_diag has no TCP handler here";
    }
    EXPECT_EQ(err_of(inet_diag), ENODATA);
    SockKey wrong = *k;
    wrong.cookie ^= 1;
    const int stale = err_of(ds->query(wrong));  // the kernel's choice differs by version
    EXPECT_TRUE(stale == ENOENT || stale == ESTALE) << stale;
    SockKey gone = *k;
    gone.dport = static_cast<uint16_t>(gone.dport ^ 1);
    EXPECT_EQ(err_of(ds->query(gone)), ENOENT);
    // The same netlink socket keeps working for the next query.
    EXPECT_EQ(err_of(ds->query(srv.get())), ENODATA);
}

}  // namespace
}  // namespace sluice::ktls
