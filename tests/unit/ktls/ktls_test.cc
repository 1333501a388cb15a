// Unit tests for src/ktls: exact crypto_info bytes for all six version × cipher pairs, cmsg
// layouts, tls_stat parsing, and a probe that must not crash on a kernel without kTLS.
#include <gtest/gtest.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ktls/control.h"
#include "ktls/crypto_info.h"
#include "ktls/probe.h"
#include "ktls/socket.h"
#include "ktls/tls_stat.h"

namespace sluice::ktls {
namespace {

std::string hex(const void* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
        s += d[b[i] >> 4];
        s += d[b[i] & 15];
    }
    return s;
}

// tx: key 01 02 .., iv a0 a1 .., seq 0x0102030405060708
// rx: key 41 42 .., iv c0 c1 .., seq 5
tls::TrafficKeys keys(tls::Version v, tls::Cipher c) {
    tls::TrafficKeys k;
    k.version = v;
    k.cipher = c;
    for (int i = 0; i < 32; ++i) {
        k.tx.key[i] = static_cast<uint8_t>(0x01 + i);
        k.rx.key[i] = static_cast<uint8_t>(0x41 + i);
    }
    for (int i = 0; i < 12; ++i) {
        k.tx.iv[i] = static_cast<uint8_t>(0xa0 + i);
        k.rx.iv[i] = static_cast<uint8_t>(0xc0 + i);
    }
    k.tx.seq = 0x0102030405060708ULL;
    k.rx.seq = 5;
    return k;
}

std::string info_hex(tls::Version v, tls::Cipher c, bool tx) {
    CryptoInfoBuf b;
    auto k = keys(v, c);
    EXPECT_TRUE(to_crypto_info(k, tx, b).has_value());
    return hex(b.data(), b.size);
}

// Expected bytes spelled out field by field in uapi order:
// version(le16) cipher_type(le16) | iv | key | salt | rec_seq.
TEST(CryptoInfo, Tls12Aes128Gcm) {
    EXPECT_EQ(info_hex(tls::Version::Tls12, tls::Cipher::Aes128Gcm, true),
              "0303" "3300"
              "0102030405060708"                  // iv = explicit nonce start = rec_seq
              "0102030405060708090a0b0c0d0e0f10"  // key
              "a0a1a2a3"                          // salt = 4-byte implicit IV
              "0102030405060708");                // rec_seq
    EXPECT_EQ(info_hex(tls::Version::Tls12, tls::Cipher::Aes128Gcm, false),
              "0303" "3300"
              "0000000000000005"
              "4142434445464748494a4b4c4d4e4f50"
              "c0c1c2c3"
              "0000000000000005");
}

TEST(CryptoInfo, Tls12Aes256Gcm) {
    EXPECT_EQ(info_hex(tls::Version::Tls12, tls::Cipher::Aes256Gcm, true),
              "0303" "3400"
              "0102030405060708"
              "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
              "a0a1a2a3"
              "0102030405060708");
}

TEST(CryptoInfo, Tls12Chacha) {
    EXPECT_EQ(info_hex(tls::Version::Tls12, tls::Cipher::Chacha20Poly1305, true),
              "0303" "3600"
              "a0a1a2a3a4a5a6a7a8a9aaab"  // iv = whole 12-byte IV, no salt
              "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
              "0102030405060708");
}

TEST(CryptoInfo, Tls13Aes128Gcm) {
    EXPECT_EQ(info_hex(tls::Version::Tls13, tls::Cipher::Aes128Gcm, true),
              "0403" "3300"
              "a4a5a6a7a8a9aaab"  // iv = IV[4..11]
              "0102030405060708090a0b0c0d0e0f10"
              "a0a1a2a3"          // salt = IV[0..3]
              "0102030405060708");
    EXPECT_EQ(info_hex(tls::Version::Tls13, tls::Cipher::Aes128Gcm, false),
              "0403" "3300"
              "c4c5c6c7c8c9cacb"
              "4142434445464748494a4b4c4d4e4f50"
              "c0c1c2c3"
              "0000000000000005");
}

TEST(CryptoInfo, Tls13Aes256Gcm) {
    EXPECT_EQ(info_hex(tls::Version::Tls13, tls::Cipher::Aes256Gcm, true),
              "0403" "3400"
              "a4a5a6a7a8a9aaab"
              "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
              "a0a1a2a3"
              "0102030405060708");
}

TEST(CryptoInfo, Tls13Chacha) {
    EXPECT_EQ(info_hex(tls::Version::Tls13, tls::Cipher::Chacha20Poly1305, false),
              "0403" "3600"
              "c0c1c2c3c4c5c6c7c8c9cacb"
              "4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"
              "0000000000000005");
}

TEST(CryptoInfo, SizesAndFieldsMatchUapi) {
    CryptoInfoBuf b;
    ASSERT_TRUE(to_crypto_info(keys(tls::Version::Tls13, tls::Cipher::Aes256Gcm), true, b));
    EXPECT_EQ(b.size, sizeof(tls12_crypto_info_aes_gcm_256));
    EXPECT_EQ(b.u.aes256.info.version, TLS_1_3_VERSION);
    EXPECT_EQ(b.u.aes256.info.cipher_type, TLS_CIPHER_AES_GCM_256);
    EXPECT_EQ(b.u.aes256.key[31], 0x20);
    ASSERT_TRUE(to_crypto_info(keys(tls::Version::Tls12, tls::Cipher::Aes128Gcm), true, b));
    EXPECT_EQ(b.size, sizeof(tls12_crypto_info_aes_gcm_128));
    EXPECT_EQ(b.u.aes128.info.version, TLS_1_2_VERSION);
    ASSERT_TRUE(to_crypto_info(keys(tls::Version::Tls12, tls::Cipher::Chacha20Poly1305), 1, b));
    EXPECT_EQ(b.size, sizeof(tls12_crypto_info_chacha20_poly1305));
    EXPECT_EQ(b.u.chacha.info.cipher_type, TLS_CIPHER_CHACHA20_POLY1305);
}

TEST(CryptoInfo, RejectsUnknownValuesAndWipes) {
    auto k = keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm);
    k.version = static_cast<tls::Version>(0x0302);
    CryptoInfoBuf b;
    auto r = to_crypto_info(k, true, b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(b.size, 0u);
    ASSERT_TRUE(to_crypto_info(keys(tls::Version::Tls12, tls::Cipher::Aes128Gcm), true, b));
    b.wipe();
    for (unsigned char c : b.u.bytes) EXPECT_EQ(c, 0);
}

TEST(Control, AlertLayout) {
    ControlSend cs;
    cs.prepare_alert(kAlertFatal, 40);
    EXPECT_EQ(cs.msg.msg_iov, &cs.iov);
    EXPECT_EQ(cs.msg.msg_iovlen, 1u);
    EXPECT_EQ(cs.iov.iov_len, 2u);
    EXPECT_EQ(static_cast<uint8_t*>(cs.iov.iov_base)[0], 2);
    EXPECT_EQ(static_cast<uint8_t*>(cs.iov.iov_base)[1], 40);
    EXPECT_EQ(cs.msg.msg_control, cs.cbuf);
    EXPECT_EQ(cs.msg.msg_controllen, CMSG_SPACE(1));
    cmsghdr* c = CMSG_FIRSTHDR(&cs.msg);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->cmsg_level, 282);  // SOL_TLS
    EXPECT_EQ(c->cmsg_type, TLS_SET_RECORD_TYPE);
    EXPECT_EQ(c->cmsg_len, CMSG_LEN(1));
    EXPECT_EQ(*CMSG_DATA(c), 21);
    EXPECT_EQ(CMSG_NXTHDR(&cs.msg, c), nullptr);
}

TEST(Control, GenericPayloadAndLimit) {
    ControlSend cs;
    const uint8_t ku[5] = {24, 0, 0, 1, 1};
    ASSERT_TRUE(cs.prepare(kHandshake, ku));
    EXPECT_EQ(cs.iov.iov_len, 5u);
    EXPECT_EQ(memcmp(cs.iov.iov_base, ku, 5), 0);
    EXPECT_EQ(*CMSG_DATA(CMSG_FIRSTHDR(&cs.msg)), 22);
    uint8_t big[ControlSend::kMaxPayload + 1] = {};
    auto r = cs.prepare(kHandshake, big);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EMSGSIZE);
}

TEST(Control, RecvWithTypeParsesKernelCmsg) {
    RecvWithType rt;
    char buf[64];
    rt.prepare(buf, sizeof buf);
    EXPECT_EQ(rt.iov.iov_base, buf);
    EXPECT_EQ(rt.iov.iov_len, sizeof buf);
    EXPECT_EQ(rt.msg.msg_controllen, CMSG_SPACE(1));
    EXPECT_FALSE(rt.record_type().has_value());  // nothing filled in yet
    // What the kernel writes for an alert record (tls_sw.c put_cmsg).
    cmsghdr* c = CMSG_FIRSTHDR(&rt.msg);
    c->cmsg_level = 282;
    c->cmsg_type = TLS_GET_RECORD_TYPE;
    c->cmsg_len = CMSG_LEN(1);
    *CMSG_DATA(c) = 21;
    rt.msg.msg_flags = MSG_EOR;
    ASSERT_TRUE(rt.record_type().has_value());
    EXPECT_EQ(*rt.record_type(), 21);
    EXPECT_TRUE(rt.end_of_record());
    EXPECT_FALSE(rt.control_truncated());
    rt.prepare(buf, sizeof buf);  // re-arm clears the previous answer
    EXPECT_FALSE(rt.record_type().has_value());
}

TEST(Control, RecvWithTypeOnPlainSocket) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(write(sv[0], "hello", 5), 5);
    RecvWithType rt;
    char buf[16];
    rt.prepare(buf, sizeof buf);
    ASSERT_EQ(recvmsg(sv[1], &rt.msg, 0), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_FALSE(rt.record_type().has_value());  // no TLS cmsg without kTLS
    close(sv[0]);
    close(sv[1]);
}

TEST(Socket, FailsGracefullyWithoutKtls) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    // Not connected: ENOTCONN (or ENOENT when the module is missing); never a crash.
    auto r = attach_ulp(s);
    EXPECT_FALSE(r);
    // No ULP: SOL_TLS options are unknown to plain TCP.
    EXPECT_FALSE(set_tx(s, keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm)));
    EXPECT_FALSE(set_rx(s, keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm)));
    EXPECT_FALSE(get_tx_zerocopy_ro(s));
    EXPECT_FALSE(set_rx_expect_no_pad(s));
    auto rk = rekey_tx(s, keys(tls::Version::Tls12, tls::Cipher::Aes128Gcm));
    ASSERT_FALSE(rk);
    EXPECT_EQ(rk.error().code, EINVAL);  // no KeyUpdate in TLS 1.2
    close(s);
}

TEST(Probe, RunsAndReports) {
    ProbeReport r = probe();
    std::string text = render(r);
    EXPECT_NE(text.find("tls ULP"), std::string::npos) << text;
    EXPECT_NE(text.find("TLS_TX TLSv1.3 CHACHA20-POLY1305"), std::string::npos) << text;
    EXPECT_TRUE(r.ulp.tried);
    EXPECT_EQ(ulp_available(), r.ulp.ok);
    if (!r.ulp.ok) {
        // This host (no CONFIG_TLS): every kTLS item carries the ULP's error.
        EXPECT_NE(text.find("no ("), std::string::npos);
        for (const auto& c : r.ciphers) {
            EXPECT_FALSE(c.tx.ok);
            EXPECT_EQ(c.tx.err, r.ulp.err);
            EXPECT_FALSE(c.rx.ok);
        }
        EXPECT_FALSE(r.rekey.ok);
        EXPECT_FALSE(r.sock_diag.ok);
        EXPECT_EQ(r.sock_diag.err, r.ulp.err);
        if (r.ulp.err == ENOENT) {
            EXPECT_NE(text.find("ENOENT"), std::string::npos) << text;
            EXPECT_NE(text.find("tls module not available"), std::string::npos) << text;
        }
    } else {
        // Under UML with tls.ko and the crypto modules loaded every pair must work.
        for (const auto& c : r.ciphers) {
            EXPECT_TRUE(c.tx.ok) << text;
            EXPECT_TRUE(c.rx.ok) << text;
        }
        // Loopback is software kTLS only.
        EXPECT_TRUE(r.sock_diag.ok) << text;
        EXPECT_EQ(r.sock_diag_info.tx, TlsConf::Sw);
        EXPECT_EQ(r.sock_diag_info.rx, TlsConf::Sw);
    }
    printf("%s", text.c_str());
}

TEST(Probe, LoopbackNetdev) {
    NetdevCheck lo = probe_netdev("lo");
    if (lo.err == 0) {
        // lo never offloads TLS: either the feature is unknown or it is off and fixed.
        EXPECT_TRUE(lo.tls_tx == NicState::NotPresent || lo.tls_tx == NicState::OffFixed);
    }
    NetdevCheck none = probe_netdev("nosuchdev0");
    EXPECT_NE(none.err, 0);
}

TEST(Probe, AnyTlsOffload) {
    NetdevCheck off{"eth0", 0, NicState::OffFixed, NicState::Off};
    NetdevCheck tx{"eth1", 0, NicState::On, NicState::Off};
    NetdevCheck rx{"eth2", 0, NicState::Off, NicState::OnFixed};
    NetdevCheck failed{"eth3", EPERM, NicState::NotPresent, NicState::NotPresent};
    EXPECT_FALSE(any_tls_offload({}));
    EXPECT_FALSE(any_tls_offload({off, failed}));
    EXPECT_TRUE(any_tls_offload({off, tx}));
    EXPECT_TRUE(any_tls_offload({rx}));
    // lo and friends never offload; this host's interfaces come back one entry each.
    EXPECT_FALSE(probe_netdevs().empty());
}

TEST(TlsStat, ParsesKernelText) {
    const char* text =
        "TlsCurrTxSw                     \t1\n"
        "TlsCurrRxSw                     \t1\n"
        "TlsCurrTxDevice                 \t0\n"
        "TlsCurrRxDevice                 \t0\n"
        "TlsTxSw                         \t12\n"
        "TlsRxSw                         \t11\n"
        "TlsTxDevice                     \t0\n"
        "TlsRxDevice                     \t0\n"
        "TlsDecryptError                 \t3\n"
        "TlsRxDeviceResync               \t0\n"
        "TlsDecryptRetry                 \t7\n"
        "TlsRxNoPadViolation             \t2\n"
        "TlsFutureCounter                \t99\n";
    auto r = parse_tls_stat(text);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->curr_tx_sw, 1u);
    EXPECT_EQ(r->tx_sw, 12u);
    EXPECT_EQ(r->rx_sw, 11u);
    EXPECT_EQ(r->decrypt_error, 3u);
    EXPECT_EQ(r->decrypt_retry, 7u);
    EXPECT_EQ(r->rx_no_pad_violation, 2u);
    EXPECT_FALSE(r->has_rekey);
    EXPECT_EQ(r->fields, 12u);

    auto r2 = parse_tls_stat("TlsTxRekeyOk 4\nTlsRxRekeyReceived\t5\n");
    ASSERT_TRUE(r2);
    EXPECT_TRUE(r2->has_rekey);
    EXPECT_EQ(r2->tx_rekey_ok, 4u);
    EXPECT_EQ(r2->rx_rekey_received, 5u);

    EXPECT_FALSE(parse_tls_stat("TlsTxSw\n"));
    EXPECT_FALSE(parse_tls_stat("TlsTxSw abc\n"));
    EXPECT_TRUE(parse_tls_stat(""));
}

TEST(TlsStat, MissingFile) {
    auto r = read_tls_stat("/nonexistent/tls_stat");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT);
    auto host = read_tls_stat();  // ENOENT on this host, parsed under UML
    if (!host) {
        EXPECT_EQ(host.error().code, ENOENT);
    }
}

}  // namespace
}  // namespace sluice::ktls
