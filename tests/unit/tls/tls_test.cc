// tls module tests: in-memory handshakes between a wolfSSL client (over memory queues) and
// sluice's sans-I/O Session; the exported keys are checked by decrypting/sealing records with
// wolfCrypt directly.
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tls/context.h"
#include "tls/session.h"
#if SLUICE_TLS_ACCEL
#include "tls/accel.h"
#endif
#include "memory_client.h"

using namespace sluice::tls;

namespace {

// ---- files and certificates -------------------------------------------------------------

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/sluice-tls-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::string cmd = "rm -rf " + path; (void)system(cmd.c_str()); }
    std::string write(const std::string& name, const std::string& data) const {
        std::string p = path + "/" + name;
        std::ofstream(p, std::ios::binary) << data;
        return p;
    }
};

std::string to_pem(const std::vector<uint8_t>& der, int type) {
    std::vector<uint8_t> pem(der.size() * 2 + 256);
    int n = wc_DerToPem(der.data(), word32(der.size()), pem.data(), word32(pem.size()), type);
    EXPECT_GT(n, 0);
    return std::string(reinterpret_cast<char*>(pem.data()), size_t(n > 0 ? n : 0));
}

struct Pem {
    std::string cert, key;
};

// Self-signed leaf with CN `cn` and the DNS SANs in `sans`; RSA 2048 or ECDSA P-256.
Pem make_cert(bool rsa, const std::string& cn, const std::vector<std::string>& sans) {
    WC_RNG rng;
    EXPECT_EQ(wc_InitRng(&rng), 0);
    auto cert = std::make_unique<Cert>();
    EXPECT_EQ(wc_InitCert(cert.get()), 0);
    strncpy(cert->subject.commonName, cn.c_str(), CTC_NAME_SIZE - 1);
    cert->selfSigned = 1;
    cert->daysValid = 30;
    std::string gn;
    for (const auto& s : sans) gn += std::string(1, '\x82') + char(s.size()) + s;
    std::string seq = std::string(1, '\x30') + char(gn.size()) + gn;
    memcpy(cert->altNames, seq.data(), seq.size());
    cert->altNamesSz = int(seq.size());
    std::vector<uint8_t> der(8192), kder(8192);
    Pem out;
    if (rsa) {
        RsaKey key;
        wc_InitRsaKey(&key, nullptr);
        EXPECT_EQ(wc_MakeRsaKey(&key, 2048, WC_RSA_EXPONENT, &rng), 0);
        cert->sigType = CTC_SHA256wRSA;
        EXPECT_GT(wc_MakeCert_ex(cert.get(), der.data(), word32(der.size()), RSA_TYPE, &key, &rng),
                  0);
        int n = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), word32(der.size()),
                               RSA_TYPE, &key, &rng);
        EXPECT_GT(n, 0);
        der.resize(size_t(n));
        n = wc_RsaKeyToDer(&key, kder.data(), word32(kder.size()));
        EXPECT_GT(n, 0);
        kder.resize(size_t(n));
        out.key = to_pem(kder, PRIVATEKEY_TYPE);
        wc_FreeRsaKey(&key);
    } else {
        ecc_key key;
        wc_ecc_init(&key);
        EXPECT_EQ(wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1), 0);
        cert->sigType = CTC_SHA256wECDSA;
        EXPECT_GT(wc_MakeCert_ex(cert.get(), der.data(), word32(der.size()), ECC_TYPE, &key, &rng),
                  0);
        int n = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), word32(der.size()),
                               ECC_TYPE, &key, &rng);
        EXPECT_GT(n, 0);
        der.resize(size_t(n));
        n = wc_EccKeyToDer(&key, kder.data(), word32(kder.size()));
        EXPECT_GT(n, 0);
        kder.resize(size_t(n));
        out.key = to_pem(kder, ECC_PRIVATEKEY_TYPE);
        wc_ecc_free(&key);
    }
    out.cert = to_pem(der, CERT_TYPE);
    wc_FreeRng(&rng);
    return out;
}

// Generated once: RSA keygen is slow without assembly.
struct Fixtures {
    TempDir dir;
    std::string rsa_cert, rsa_key, ec_cert, ec_key, wild_cert, wild_key, dual_ec_cert,
        dual_ec_key, dual_rsa_cert, dual_rsa_key;
    Fixtures() {
        Pem rsa = make_cert(true, "rsa.test", {"rsa.test"});
        rsa_cert = dir.write("rsa.crt", rsa.cert);
        rsa_key = dir.write("rsa.key", rsa.key);
        Pem ec = make_cert(false, "default.test", {"default.test"});
        ec_cert = dir.write("ec.crt", ec.cert);
        ec_key = dir.write("ec.key", ec.key);
        Pem wild = make_cert(false, "wild", {"*.example.com", "example.com"});
        wild_cert = dir.write("wild.crt", wild.cert);
        wild_key = dir.write("wild.key", wild.key);
        Pem dec = make_cert(false, "dual-ec", {"dual.test"});
        dual_ec_cert = dir.write("dual-ec.crt", dec.cert);
        dual_ec_key = dir.write("dual-ec.key", dec.key);
        Pem drsa = make_cert(true, "dual-rsa", {"dual.test"});
        dual_rsa_cert = dir.write("dual-rsa.crt", drsa.cert);
        dual_rsa_key = dir.write("dual-rsa.key", drsa.key);
    }
};

Fixtures& fx() {
    static Fixtures f;
    return f;
}

// ---- in-memory wolfSSL client (memory_client.h) -----------------------------------------

using namespace sluice::tls::testing;

std::unique_ptr<Context> make_ctx(TlsOptions o) {
    auto r = Context::create(o);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
    return r ? std::move(*r) : nullptr;
}

// ---- record crypto with the exported keys (wolfCrypt, independent of the Session) -------

void nonce_xor(uint8_t nonce[12], const uint8_t iv[12], uint64_t seq) {
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; ++i) nonce[11 - i] ^= uint8_t(seq >> (8 * i));
}

bool aead(bool enc, Cipher c, const uint8_t* key, const uint8_t nonce[12], const uint8_t* aad,
          size_t aad_len, const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[16]) {
    if (c == Cipher::Chacha20Poly1305) {
        return (enc ? wc_ChaCha20Poly1305_Encrypt(key, nonce, aad, word32(aad_len), in,
                                                  word32(len), out, tag)
                    : wc_ChaCha20Poly1305_Decrypt(key, nonce, aad, word32(aad_len), in,
                                                  word32(len), tag, out)) == 0;
    }
    Aes aes;
    wc_AesInit(&aes, nullptr, INVALID_DEVID);
    int rc = wc_AesGcmSetKey(&aes, key, word32(key_len(c)));
    if (rc == 0) {
        rc = enc ? wc_AesGcmEncrypt(&aes, out, in, word32(len), nonce, 12, tag, 16, aad,
                                    word32(aad_len))
                 : wc_AesGcmDecrypt(&aes, out, in, word32(len), nonce, 12, tag, 16, aad,
                                    word32(aad_len));
    }
    wc_AesFree(&aes);
    return rc == 0;
}

// Opens one application-data record from `stream` (advancing it); returns the plaintext.
bool open_record(const TrafficKeys& k, DirectionKeys& d, std::string& stream, std::string& pt) {
    if (stream.size() < 5) return false;
    auto* h = reinterpret_cast<const uint8_t*>(stream.data());
    size_t len = (size_t(h[3]) << 8) | h[4];
    if (stream.size() < 5 + len || h[0] != 23 || len < 16) return false;
    const uint8_t* body = h + 5;
    uint8_t nonce[12], tag[16];
    std::vector<uint8_t> out(len);
    bool ok;
    if (k.version == Version::Tls13) {
        nonce_xor(nonce, d.iv, d.seq);
        memcpy(tag, body + len - 16, 16);
        ok = aead(false, k.cipher, d.key, nonce, h, 5, body, len - 16, out.data(), tag);
        if (ok) {
            size_t n = len - 16;
            while (n > 0 && out[n - 1] == 0) --n;
            ok = n > 0 && out[n - 1] == 23;
            pt.assign(reinterpret_cast<char*>(out.data()), n - 1);
        }
    } else {
        size_t explicit_len = k.cipher == Cipher::Chacha20Poly1305 ? 0 : 8;
        if (explicit_len) {
            memcpy(nonce, d.iv, 4);
            memcpy(nonce + 4, body, 8);
        } else {
            nonce_xor(nonce, d.iv, d.seq);
        }
        size_t ct_len = len - explicit_len - 16;
        uint8_t aad[13];
        for (int i = 0; i < 8; ++i) aad[i] = uint8_t(d.seq >> (56 - 8 * i));
        aad[8] = 23, aad[9] = 3, aad[10] = 3, aad[11] = uint8_t(ct_len >> 8),
        aad[12] = uint8_t(ct_len);
        memcpy(tag, body + len - 16, 16);
        ok = aead(false, k.cipher, d.key, nonce, aad, 13, body + explicit_len, ct_len,
                  out.data(), tag);
        pt.assign(reinterpret_cast<char*>(out.data()), ct_len);
    }
    if (ok) {
        d.seq++;
        stream.erase(0, 5 + len);
    }
    return ok;
}

std::string seal_record(const TrafficKeys& k, DirectionKeys& d, const std::string& pt) {
    uint8_t nonce[12], tag[16];
    std::string rec;
    if (k.version == Version::Tls13) {
        std::string inner = pt + char(23);
        size_t len = inner.size() + 16;
        uint8_t hdr[5] = {23, 3, 3, uint8_t(len >> 8), uint8_t(len)};
        std::vector<uint8_t> ct(inner.size());
        nonce_xor(nonce, d.iv, d.seq);
        EXPECT_TRUE(aead(true, k.cipher, d.key, nonce, hdr, 5,
                         reinterpret_cast<const uint8_t*>(inner.data()), inner.size(), ct.data(),
                         tag));
        rec.assign(reinterpret_cast<char*>(hdr), 5);
        rec.append(reinterpret_cast<char*>(ct.data()), ct.size());
        rec.append(reinterpret_cast<char*>(tag), 16);
    } else {
        bool gcm = k.cipher != Cipher::Chacha20Poly1305;
        uint8_t explicit_nonce[8];
        for (int i = 0; i < 8; ++i) explicit_nonce[i] = uint8_t(d.seq >> (56 - 8 * i));
        if (gcm) {
            memcpy(nonce, d.iv, 4);
            memcpy(nonce + 4, explicit_nonce, 8);
        } else {
            nonce_xor(nonce, d.iv, d.seq);
        }
        uint8_t aad[13];
        memcpy(aad, explicit_nonce, 8);
        aad[8] = 23, aad[9] = 3, aad[10] = 3, aad[11] = uint8_t(pt.size() >> 8),
        aad[12] = uint8_t(pt.size());
        std::vector<uint8_t> ct(pt.size());
        EXPECT_TRUE(aead(true, k.cipher, d.key, nonce, aad, 13,
                         reinterpret_cast<const uint8_t*>(pt.data()), pt.size(), ct.data(), tag));
        size_t len = (gcm ? 8 : 0) + ct.size() + 16;
        uint8_t hdr[5] = {23, 3, 3, uint8_t(len >> 8), uint8_t(len)};
        rec.assign(reinterpret_cast<char*>(hdr), 5);
        if (gcm) rec.append(reinterpret_cast<char*>(explicit_nonce), 8);
        rec.append(reinterpret_cast<char*>(ct.data()), ct.size());
        rec.append(reinterpret_cast<char*>(tag), 16);
    }
    d.seq++;
    return rec;
}

// ---- the six suites ---------------------------------------------------------------------

struct SuiteCase {
    int version;
    const char* client_cipher_ecdsa;
    const char* client_cipher_rsa;
    Cipher cipher;
};

const SuiteCase kCases[] = {
    {12, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", Cipher::Aes128Gcm},
    {12, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", Cipher::Aes256Gcm},
    {12, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
     Cipher::Chacha20Poly1305},
    {13, "TLS13-AES128-GCM-SHA256", "TLS13-AES128-GCM-SHA256", Cipher::Aes128Gcm},
    {13, "TLS13-AES256-GCM-SHA384", "TLS13-AES256-GCM-SHA384", Cipher::Aes256Gcm},
    {13, "TLS13-CHACHA20-POLY1305-SHA256", "TLS13-CHACHA20-POLY1305-SHA256",
     Cipher::Chacha20Poly1305},
};

class SuiteTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(SuiteTest, HandshakeExportAndRecordCrypto) {
    const SuiteCase& sc = kCases[std::get<0>(GetParam())];
    bool rsa = std::get<1>(GetParam());
    TlsOptions o;
    if (rsa) {
        o.certs.push_back({fx().rsa_cert, fx().rsa_key});
    } else {
        o.self_signed = true;
    }
    auto ctx = make_ctx(o);
    ASSERT_TRUE(ctx);
    Client c(sc.version, rsa ? sc.client_cipher_rsa : sc.client_cipher_ecdsa);
    char alpn[] = "h2,http/1.1";
    ASSERT_EQ(wolfSSL_UseALPN(c.ssl, alpn, sizeof alpn - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH),
              WOLFSSL_SUCCESS);
    Session s(*ctx);
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    // TLS 1.3: the request travels with the client Finished (pipelined). TLS 1.2 (full
    // handshake): the client can only send after the server's Finished.
    ASSERT_EQ(handshake(c, s, sc.version == 13 ? request : ""), Outcome::Done)
        << s.last_error();
    EXPECT_EQ(s.version(), sc.version == 13 ? Version::Tls13 : Version::Tls12);
    EXPECT_EQ(s.cipher(), sc.cipher);
    EXPECT_EQ(s.alpn(), "h2");  // preferred when offered (TlsOptions::http2 on)
    EXPECT_FALSE(s.resumed());
    EXPECT_FALSE(s.max_fragment_negotiated());
    EXPECT_EQ(c.peer_cn(), rsa ? "rsa.test" : "localhost");

    auto keys = s.export_keys();
    ASSERT_TRUE(keys.has_value()) << s.last_error();
    EXPECT_EQ(keys->version, *s.version());
    EXPECT_EQ(keys->cipher, sc.cipher);
    if (sc.version == 13) {
        EXPECT_EQ(keys->tx.seq, 1u);  // the NewSessionTicket
        EXPECT_EQ(keys->rx.seq, 0u);
        size_t hash = sc.cipher == Cipher::Aes256Gcm ? 48 : 32;
        EXPECT_EQ(keys->tx.secret_len, hash);
        EXPECT_EQ(keys->rx.secret_len, hash);
    } else {
        EXPECT_EQ(keys->tx.seq, 1u);
        EXPECT_EQ(keys->rx.seq, 1u);
        EXPECT_EQ(keys->tx.secret_len, 0);
    }

    // Client -> server: the pipelined request (1.3) or a fresh write (1.2).
    std::string stream = s.take_leftover();
    if (sc.version == 12) {
        EXPECT_TRUE(stream.empty());
        EXPECT_EQ(wolfSSL_write(c.ssl, request.data(), int(request.size())), int(request.size()));
        stream = c.out;
        c.out.clear();
    }
    std::string pt;
    ASSERT_TRUE(open_record(*keys, keys->rx, stream, pt));
    EXPECT_EQ(pt, request);
    EXPECT_TRUE(stream.empty());

    // Server -> client with the tx keys; the client must accept it after the ticket.
    std::string body = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    c.in.data += seal_record(*keys, keys->tx, body);
    c.in.data += seal_record(*keys, keys->tx, "second");
    EXPECT_EQ(c.read_all(), body + "second");
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SuiteTest,
                         ::testing::Combine(::testing::Range(0, 6), ::testing::Bool()),
                         [](const auto& pinfo) {
                             const SuiteCase& sc = kCases[std::get<0>(pinfo.param)];
                             return std::string(sc.version == 13 ? "Tls13_" : "Tls12_") +
                                    std::string(cipher_name(sc.cipher)).substr(0, 6) +
                                    (std::get<1>(pinfo.param) ? "_Rsa" : "_Ecdsa");
                         });

// ---- handshake behaviour ----------------------------------------------------------------

TEST(Session, LeftoverKeepsPartialRecords) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    Client c(13, nullptr);
    Session s(*ctx);
    // Deliver the client's final flight + request + the first 3 bytes of a next record.
    bool done = false;
    for (int i = 0; i < 20 && !done; ++i) {
        c.step();
        if (c.done) {
            wolfSSL_write(c.ssl, "abc", 3);
            c.out += std::string("\x17\x03\x03", 3);
        }
        s.feed(c.out);
        c.out.clear();
        auto st = s.advance();
        while (st == Session::Step::WantWrite) {
            c.in.data.append(s.output());
            s.consume_output(s.output().size());
            st = s.advance();
        }
        ASSERT_NE(st, Session::Step::Failed) << s.last_error();
        done = st == Session::Step::Done;
    }
    ASSERT_TRUE(done);
    EXPECT_EQ(s.read_hint(), 0u);
    auto keys = s.export_keys();
    ASSERT_TRUE(keys);
    std::string rest = s.take_leftover();
    std::string pt;
    ASSERT_TRUE(open_record(*keys, keys->rx, rest, pt));
    EXPECT_EQ(pt, "abc");
    EXPECT_EQ(rest, std::string("\x17\x03\x03", 3));
    EXPECT_TRUE(s.take_leftover().empty());
}

TEST(Session, ReadHintIsExact) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    Client c(0, nullptr);
    Session s(*ctx);
    EXPECT_EQ(s.advance(), Session::Step::WantRead);
    EXPECT_EQ(s.read_hint(), 5u);
    c.step();
    std::string hello = c.out;
    c.out.clear();
    s.feed(hello.substr(0, 5));
    EXPECT_EQ(s.advance(), Session::Step::WantRead);
    EXPECT_EQ(s.read_hint(), hello.size() - 5);
    s.feed(hello.substr(5));
    EXPECT_EQ(s.advance(), Session::Step::WantWrite);
    EXPECT_EQ(s.read_hint(), 5u);  // output first, but wolfSSL already wants the next header
    c.in.data += s.output();
    s.consume_output(s.output().size());
    EXPECT_EQ(s.advance(), Session::Step::WantRead);
    EXPECT_EQ(s.read_hint(), 5u);  // next record header
}

TEST(Session, AlpnHttp11WhenH2IsOff) {
    TlsOptions o;
    o.self_signed = true;
    o.http2 = false;
    auto ctx = make_ctx(o);
    Client c(13, nullptr);
    char alpn[] = "h2,http/1.1";
    ASSERT_EQ(wolfSSL_UseALPN(c.ssl, alpn, sizeof alpn - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH),
              WOLFSSL_SUCCESS);
    Session s(*ctx);
    ASSERT_EQ(handshake(c, s, ""), Outcome::Done) << s.last_error();
    EXPECT_EQ(s.alpn(), "http/1.1");
}

TEST(Session, AlpnMismatchFailsWithAlert) {
    TlsOptions o;
    o.self_signed = true;
    o.http2 = false;  // then "h2" alone is a mismatch too
    auto ctx = make_ctx(o);
    for (int v : {12, 13}) {
        Client c(v, nullptr);
        char alpn[] = "h2";
        ASSERT_EQ(wolfSSL_UseALPN(c.ssl, alpn, 2, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH),
                  WOLFSSL_SUCCESS);
        Session s(*ctx);
        std::string alert;
        EXPECT_EQ(handshake(c, s, "", &alert), Outcome::Failed) << v;
        ASSERT_GE(alert.size(), 7u) << v;
        EXPECT_EQ(alert[0], 21) << v;    // alert record, plaintext at ClientHello time
        EXPECT_EQ(uint8_t(alert[6]), 120) << v;  // no_application_protocol
        EXPECT_FALSE(s.last_error().empty());
        EXPECT_FALSE(s.export_keys().has_value());
    }
}

TEST(Session, NoAlpnIsFine) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    Client c(0, nullptr);
    Session s(*ctx);
    ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
    EXPECT_EQ(s.alpn(), "");
}

TEST(Session, PlainHttpFailsCleanly) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    Session s(*ctx);
    // The first byte is no TLS record type: refused at once, with unexpected_message.
    s.feed("G");
    EXPECT_EQ(s.advance(), Session::Step::Failed);
    EXPECT_EQ(s.output(), std::string_view("\x15\x03\x03\x00\x02\x02\x0a", 7));
    EXPECT_FALSE(s.last_error().empty());
    s.feed("ET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(s.advance(), Session::Step::Failed);
    EXPECT_FALSE(s.export_keys().has_value());
}

TEST(Session, MaxFragmentIsReported) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    Client c(12, nullptr);
    ASSERT_EQ(wolfSSL_UseMaxFragment(c.ssl, WOLFSSL_MFL_2_12), WOLFSSL_SUCCESS);
    Session s(*ctx);
    ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
    EXPECT_TRUE(s.max_fragment_negotiated());
}

TEST(Session, SniSelectsCertificate) {
    TlsOptions o;
    o.certs = {{fx().ec_cert, fx().ec_key},
               {fx().wild_cert, fx().wild_key},
               {fx().rsa_cert, fx().rsa_key}};
    auto ctx = make_ctx(o);
    ASSERT_TRUE(ctx);
    struct Case {
        const char* sni;
        const char* cn;
    } cases[] = {{"www.example.com", "wild"}, {"Example.COM", "wild"},
                 {"a.b.example.com", "default.test"}, {"rsa.test", "rsa.test"},
                 {"unknown.test", "default.test"}, {nullptr, "default.test"}};
    for (const auto& cs : cases) {
        for (int v : {12, 13}) {
            Client c(v, nullptr);
            if (cs.sni) {
                ASSERT_EQ(wolfSSL_UseSNI(c.ssl, WOLFSSL_SNI_HOST_NAME, cs.sni,
                                         word16(strlen(cs.sni))),
                          WOLFSSL_SUCCESS);
            }
            Session s(*ctx);
            ASSERT_EQ(handshake(c, s), Outcome::Done) << (cs.sni ? cs.sni : "-") << s.last_error();
            EXPECT_EQ(c.peer_cn(), cs.cn) << (cs.sni ? cs.sni : "-") << " v" << v;
        }
    }
}

TEST(Session, EcdsaAndRsaForOneName) {
    TlsOptions o;
    o.certs = {{fx().dual_rsa_cert, fx().dual_rsa_key}, {fx().dual_ec_cert, fx().dual_ec_key}};
    auto ctx = make_ctx(o);
    ASSERT_TRUE(ctx);
    auto run = [&](int v, const char* ciphers, const char* sigalgs) {
        Client c(v, ciphers);
        if (sigalgs) {
            EXPECT_EQ(wolfSSL_set1_sigalgs_list(c.ssl, sigalgs), WOLFSSL_SUCCESS);
        }
        wolfSSL_UseSNI(c.ssl, WOLFSSL_SNI_HOST_NAME, "dual.test", 9);
        Session s(*ctx);
        EXPECT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
        return c.peer_cn();
    };
    EXPECT_EQ(run(13, nullptr, nullptr), "dual-ec");  // ECDSA preferred
    EXPECT_EQ(run(12, nullptr, nullptr), "dual-ec");
    EXPECT_EQ(run(12, "ECDHE-RSA-AES128-GCM-SHA256", nullptr), "dual-rsa");
    EXPECT_EQ(run(13, nullptr, "RSA-PSS+SHA256"), "dual-rsa");
}

// ---- resumption -------------------------------------------------------------------------

// Full handshake, then a second one with the saved session. Returns {first ok, resumed}.
bool resume(Context& first, Context& second, int v, std::string* err = nullptr) {
    WOLFSSL_SESSION* sess = nullptr;
    {
        Client c(v, nullptr);
        Session s(first);
        if (handshake(c, s) != Outcome::Done) return false;
        EXPECT_FALSE(s.resumed());
        c.read_all();  // TLS 1.3: process the NewSessionTicket
        sess = wolfSSL_get1_session(c.ssl);
    }
    if (sess == nullptr) return false;
    Client c(v, nullptr);
    EXPECT_EQ(wolfSSL_set_session(c.ssl, sess), WOLFSSL_SUCCESS);
    Session s(second);
    bool ok = handshake(c, s) == Outcome::Done;
    if (err) *err = s.last_error();
    wolfSSL_SESSION_free(sess);
    if (!ok) return false;
    if (s.resumed()) {  // the resumed session still exports usable keys
        auto k = s.export_keys();
        EXPECT_TRUE(k.has_value());
    }
    return s.resumed();
}

TEST(Resumption, InMemoryTickets) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    EXPECT_TRUE(resume(*ctx, *ctx, 12));
    EXPECT_TRUE(resume(*ctx, *ctx, 13));
    auto other = make_ctx(o);  // different random keys: full handshake, no failure
    EXPECT_FALSE(resume(*ctx, *other, 12));
    EXPECT_FALSE(resume(*ctx, *other, 13));
}

TEST(Resumption, SharedTicketKeyFile) {
    TempDir d;
    std::string keys(160, '\0');
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = char(i * 7 + 3);
    TlsOptions o;
    o.certs = {{fx().rsa_cert, fx().rsa_key}};
    o.ticket_keys_file = d.write("ticket.keys", keys);
    auto a = make_ctx(o);
    auto b = make_ctx(o);
    ASSERT_TRUE(a && b);
    for (int v : {12, 13}) {
        EXPECT_TRUE(resume(*a, *b, v)) << v;
        EXPECT_TRUE(resume(*b, *a, v)) << v;
    }
    // Rotate: a new key first, the old one second -> old tickets still resume.
    std::string rotated = std::string(80, 'N') + keys.substr(0, 80);
    d.write("ticket.keys", rotated);
    ASSERT_TRUE(b->reload_ticket_keys().has_value());
    EXPECT_TRUE(resume(*a, *b, 13));
    // Drop the old key entirely -> full handshake.
    d.write("ticket.keys", std::string(80, 'N'));
    ASSERT_TRUE(b->reload_ticket_keys().has_value());
    EXPECT_FALSE(resume(*a, *b, 13));
    EXPECT_FALSE(resume(*a, *b, 12));
    // A broken file keeps the old keys and reports the reason.
    d.write("ticket.keys", "short");
    auto r = b->reload_ticket_keys();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(b->last_reload_error().find("--ticket-keys"), std::string::npos);
    EXPECT_TRUE(resume(*b, *b, 13));
}

// ---- configuration errors ---------------------------------------------------------------

std::string create_error(const TlsOptions& o) {
    auto r = Context::create(o);
    return r ? std::string("(no error)") : r.error();
}

TEST(Context, OneLineErrors) {
    TempDir d;
    TlsOptions o;
    o.certs = {{"/nonexistent/x.pem", fx().ec_key}};
    EXPECT_EQ(create_error(o), "--cert /nonexistent/x.pem: cannot read: No such file or directory");
    o.certs = {{fx().ec_cert, "/nonexistent/k.pem"}};
    EXPECT_EQ(create_error(o), "--key /nonexistent/k.pem: cannot read: No such file or directory");
    o.certs = {{fx().ec_cert, fx().rsa_key}};
    EXPECT_EQ(create_error(o), "--key " + fx().rsa_key + " does not match --cert " + fx().ec_cert);
    o.certs = {{fx().ec_cert, fx().wild_key}};  // same type, other key
    EXPECT_EQ(create_error(o),
              "--key " + fx().wild_key + " does not match --cert " + fx().ec_cert);
    std::string junk = d.write("junk.pem", "hello\n");
    o.certs = {{junk, fx().ec_key}};
    EXPECT_EQ(create_error(o).rfind("--cert " + junk + ": ", 0), 0u) << create_error(o);
    o.certs = {{fx().ec_cert, junk}};
    EXPECT_EQ(create_error(o).rfind("--key " + junk + ": ", 0), 0u) << create_error(o);

    TlsOptions v;
    v.self_signed = true;
    v.versions = "1.1";
    EXPECT_EQ(create_error(v), "--tls-versions 1.1: expected 1.2, 1.3 or 1.2,1.3");
    v.versions = "1.2,1.3";
    v.ciphers = "TLS_AES_128_GCM_SHA256:AES128-SHA";
    EXPECT_EQ(create_error(v).rfind("--ciphers: AES128-SHA is not an allowed suite", 0), 0u);
    v.ciphers = "ECDHE-RSA-CHACHA20-POLY1305-OLD";
    EXPECT_EQ(create_error(v).rfind("--ciphers: ECDHE-RSA-CHACHA20-POLY1305-OLD is not", 0), 0u);
    v.versions = "1.3";
    v.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    EXPECT_EQ(create_error(v), "--ciphers: no TLS 1.3 suite left for --tls-versions 1.3");
    TlsOptions t;
    t.self_signed = true;
    t.ticket_keys_file = d.write("bad.keys", std::string(79, 'x'));
    EXPECT_EQ(create_error(t).rfind("--ticket-keys " + t.ticket_keys_file + ": size 79", 0), 0u);
    TlsOptions none;
    EXPECT_NE(create_error(none), "(no error)");
    for (const auto& o2 : {o, v, t}) EXPECT_EQ(create_error(o2).find('\n'), std::string::npos);
}

TEST(Context, VersionsAndCiphersAreEnforced) {
    TlsOptions o;
    o.self_signed = true;
    o.versions = "1.3";
    auto only13 = make_ctx(o);
    {
        Client c(12, nullptr);
        Session s(*only13);
        EXPECT_EQ(handshake(c, s), Outcome::Failed);
    }
    o.versions = "1.2";
    o.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
    auto only12 = make_ctx(o);
    {
        Client c(0, nullptr);
        Session s(*only12);
        ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
        EXPECT_EQ(s.version(), Version::Tls12);
        EXPECT_EQ(s.cipher(), Cipher::Chacha20Poly1305);
    }
    {
        Client c(12, "ECDHE-ECDSA-AES128-GCM-SHA256");
        Session s(*only12);
        EXPECT_EQ(handshake(c, s), Outcome::Failed);
    }
    {  // CBC is never enabled
        TlsOptions d;
        d.self_signed = true;
        auto def = make_ctx(d);
        Client c(12, "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA");
        Session s(*def);
        EXPECT_EQ(handshake(c, s), Outcome::Failed);
    }
}

TEST(Context, SelfSignedCertificateVerifiesForLocalhost) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    const std::string& pem = ctx->self_signed_cert_pem();
    ASSERT_FALSE(pem.empty());
    Client c(13, nullptr);
    wolfSSL_CTX_set_verify(c.ctx, WOLFSSL_VERIFY_PEER, nullptr);
    wolfSSL_set_verify(c.ssl, WOLFSSL_VERIFY_PEER, nullptr);
    ASSERT_EQ(wolfSSL_CTX_load_verify_buffer(c.ctx, reinterpret_cast<const uint8_t*>(pem.data()),
                                             long(pem.size()), WOLFSSL_FILETYPE_PEM),
              WOLFSSL_SUCCESS);
    // The CTX's store is copied into the SSL at wolfSSL_new; reload for this SSL's CTX view.
    wolfSSL_free(c.ssl);
    c.ssl = wolfSSL_new(c.ctx);
    wolfSSL_SSLSetIORecv(c.ssl, q_recv);
    wolfSSL_SSLSetIOSend(c.ssl, q_send);
    wolfSSL_SetIOReadCtx(c.ssl, &c.in);
    wolfSSL_SetIOWriteCtx(c.ssl, &c.out);
    ASSERT_EQ(wolfSSL_check_domain_name(c.ssl, "localhost"), WOLFSSL_SUCCESS);
    Session s(*ctx);
    ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
    std::string desc = ctx->describe();
    EXPECT_NE(desc.find("localhost"), std::string::npos) << desc;
    EXPECT_NE(desc.find("IP:127.0.0.1"), std::string::npos) << desc;
    EXPECT_NE(desc.find("IP:::1"), std::string::npos) << desc;
    EXPECT_NE(desc.find("ECDSA P-256"), std::string::npos) << desc;
    EXPECT_NE(desc.find("accel"), std::string::npos) << desc;
}

TEST(Context, SharedByThreads) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 3; ++i) {
                Client c(t % 2 ? 12 : 13, nullptr);
                Session s(*ctx);
                if (handshake(c, s) == Outcome::Done && s.export_keys().has_value()) ++ok;
            }
            thread_cleanup();
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 12);
}

}  // namespace

namespace {

TEST(Context, OnlyAllowedGroups) {
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    for (int v : {12, 13}) {
        Client c(v, nullptr);
        int groups[] = {WOLFSSL_ECC_SECP521R1};
        if (v == 13) {
            ASSERT_EQ(wolfSSL_set_groups(c.ssl, groups, 1), WOLFSSL_SUCCESS);
        } else {
            ASSERT_EQ(wolfSSL_UseSupportedCurve(c.ssl, WOLFSSL_ECC_SECP521R1), WOLFSSL_SUCCESS);
        }
        Session s(*ctx);
        std::string alert;
        EXPECT_EQ(handshake(c, s, "", &alert), Outcome::Failed) << v;
        // TLS 1.2: our own handshake_failure alert. TLS 1.3: wolfSSL answers with a
        // HelloRetryRequest for a group the client lacks, and the client gives up.
        if (v == 12) {
            EXPECT_EQ(alert, std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
        }
    }
    {  // TLS 1.2, P-521 listed first: an allowed curve is still used.
        Client c(12, nullptr);
        wolfSSL_UseSupportedCurve(c.ssl, WOLFSSL_ECC_SECP521R1);
        wolfSSL_UseSupportedCurve(c.ssl, WOLFSSL_ECC_SECP256R1);
        Session s(*ctx);
        EXPECT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
        const char* curve = wolfSSL_get_curve_name(c.ssl);
        EXPECT_STREQ(curve, "SECP256R1");
    }
    for (int g : {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP384R1}) {
        Client c(13, nullptr);
        ASSERT_EQ(wolfSSL_set_groups(c.ssl, &g, 1), WOLFSSL_SUCCESS);
        Session s(*ctx);
        EXPECT_EQ(handshake(c, s), Outcome::Done) << g << s.last_error();
    }
}

#if SLUICE_TLS_ACCEL
// wolfSSL 5.5.4 makes TLS 1.3 X25519 key shares without a device id; Session routes them to the
// libcrypto device (accel.h, DeviceRoute). The server's keygen and shared secret must both be
// counted by the device, the in-process client's (outside the route) must not.
TEST(Session, Tls13X25519KeyShareUsesTheCryptoDevice) {
    ASSERT_TRUE(sluice::tls::sluice_tls_accel_x25519_routed());
    ASSERT_TRUE(sluice::tls::sluice_tls_accel_rng_routed());
    TlsOptions o;
    o.self_signed = true;
    auto ctx = make_ctx(o);
    for (int i = 0; i < 3; ++i) {
        Client c(13, nullptr);
        int g = WOLFSSL_ECC_X25519;
        ASSERT_EQ(wolfSSL_set_groups(c.ssl, &g, 1), WOLFSSL_SUCCESS);
        ASSERT_EQ(wolfSSL_UseKeyShare(c.ssl, WOLFSSL_ECC_X25519), WOLFSSL_SUCCESS);
        Session s(*ctx);
        auto before = sluice::tls::sluice_tls_accel_counters();
        ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
        auto after = sluice::tls::sluice_tls_accel_counters();
        EXPECT_STREQ(wolfSSL_get_curve_name(c.ssl), "X25519");
        EXPECT_EQ(after.x25519_keygen, before.x25519_keygen + 1);
        EXPECT_EQ(after.x25519_derive, before.x25519_derive + 1);
        EXPECT_EQ(after.fallbacks, before.fallbacks);
        // And the key schedule's HKDF-Expand-Label calls (handshake + application secrets,
        // keys, IVs, finished keys) went to libcrypto through the callback.
        EXPECT_GE(after.hkdf_expand, before.hkdf_expand + 10);
        EXPECT_GE(after.sha256_final, before.sha256_final + 2);  // transcript hashes
        // Its WOLFSSL's RNG has no DRBG of its own (DeviceRoute): nothing seeded, every random
        // byte (server random, ticket nonce) from the device.
        EXPECT_EQ(after.seed, before.seed);
        EXPECT_GE(after.random, before.random + 1);
    }
}
#endif

}  // namespace
