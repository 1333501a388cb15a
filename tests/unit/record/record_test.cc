// Unit tests for src/record: RFC 8448 §3 TLS 1.3 records (seal and open), RFC 8439 §2.8.2 for
// the ChaCha20-Poly1305 primitive, TLS 1.2 (RFC 5288 / RFC 7905) records against an independent
// raw-EVP construction, round trips for all six pairs with byte-by-byte feeding, tampering,
// limits, and the KeyUpdate key schedule against an independent HMAC-based HKDF.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <string>
#include <vector>

#include "record/hkdf.h"
#include "record/key_update.h"
#include "record/record.h"
#include "tls/alerts.h"
#include "ktls/crypto_info.h"

namespace sluice::record {
namespace {

// The alert the server sends for a record-layer error (one table: tls/alerts.h).
uint8_t alert_of(const sluice::Errno& e) {
    return sluice::tls::alert_for(sluice::tls::violation_for_errno(e.code));
}

using Bytes = std::vector<uint8_t>;

Bytes unhex(std::string_view s) {
    Bytes out;
    int hi = -1;
    for (char c : s) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;  // spaces, colons
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    return out;
}

std::string str(const Bytes& b) { return {b.begin(), b.end()}; }
Bytes bytes(std::string_view s) { return {s.begin(), s.end()}; }

Bytes seq_bytes(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
    return b;
}

// Independent AEAD seal with raw EVP: returns ciphertext | tag.
Bytes raw_seal(const EVP_CIPHER* c, const Bytes& key, const Bytes& nonce, const Bytes& aad,
               const Bytes& pt) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    Bytes out(pt.size() + 16);
    int l = 0, l2 = 0;
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, c, nullptr, nullptr, nullptr), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, int(nonce.size()), nullptr), 1);
    EXPECT_EQ(EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()), 1);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &l, aad.data(), int(aad.size())), 1);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &l, pt.data(), int(pt.size())), 1);
    EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + l, &l2), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + pt.size()), 1);
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

const EVP_CIPHER* evp_for(tls::Cipher c) {
    switch (c) {
    case tls::Cipher::Aes128Gcm: return EVP_aes_128_gcm();
    case tls::Cipher::Aes256Gcm: return EVP_aes_256_gcm();
    case tls::Cipher::Chacha20Poly1305: return EVP_chacha20_poly1305();
    }
    return nullptr;
}

void be64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

tls::TrafficKeys make_keys(tls::Version v, tls::Cipher c, uint64_t tx_seq = 0,
                           uint64_t rx_seq = 0) {
    tls::TrafficKeys k;
    k.version = v;
    k.cipher = c;
    for (int i = 0; i < 32; ++i) k.tx.key[i] = k.rx.key[i] = uint8_t(0x30 + i);
    for (int i = 0; i < 12; ++i) k.tx.iv[i] = k.rx.iv[i] = uint8_t(0x90 + 3 * i);
    k.tx.seq = tx_seq;
    k.rx.seq = rx_seq;
    return k;
}

// The same keys as both directions: what we seal, our opener must open.
tls::TrafficKeys loop_keys(tls::Version v, tls::Cipher c, uint64_t seq = 0) {
    return make_keys(v, c, seq, seq);
}

std::string seal(Sealer& s, ContentType t, const Bytes& pt) {
    std::string out;
    auto r = s.seal(t, std::span<const uint8_t>(pt), out);
    EXPECT_TRUE(r.has_value());
    return out;
}

// ---- RFC 8448 §3 (Simple 1-RTT handshake), TLS_AES_128_GCM_SHA256 ----------------------

const char* kClientAppSecret =
    "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
const char* kClientKey = "17422dda596ed5d9acd890e3c63f5051";
const char* kClientIv = "5b78923dee08579033e523d9";
const char* kServerKey = "9f02283b6c9c07efc26bb9f2ac92e356";
const char* kServerIv = "cf782b88dd83549aadf1e984";
const char* kClientAppRecord =  // seq 0
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc"
    "ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd"
    "1e 3d ea e6 3a ee bb 21 69 49 15 e4";
const char* kServerAppRecord =  // seq 1 (seq 0 carried the NewSessionTicket)
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa"
    "1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2"
    "ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
const char* kClientCloseNotify =  // seq 1
    "17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3";

Bytes rfc8448_payload() {
    Bytes p(50);
    for (int i = 0; i < 50; ++i) p[i] = uint8_t(i);
    return p;
}

tls::TrafficKeys rfc8448_keys(const char* key, const char* iv, uint64_t tx_seq,
                              uint64_t rx_seq) {
    tls::TrafficKeys k;
    k.version = tls::Version::Tls13;
    k.cipher = tls::Cipher::Aes128Gcm;
    Bytes kb = unhex(key), ib = unhex(iv);
    memcpy(k.tx.key, kb.data(), 16);
    memcpy(k.rx.key, kb.data(), 16);
    memcpy(k.tx.iv, ib.data(), 12);
    memcpy(k.rx.iv, ib.data(), 12);
    k.tx.seq = tx_seq;
    k.rx.seq = rx_seq;
    return k;
}

TEST(Rfc8448, SealServerApplicationData) {
    auto s = Sealer::make(rfc8448_keys(kServerKey, kServerIv, 1, 0));
    ASSERT_TRUE(s);
    EXPECT_EQ(seal(**s, ContentType::ApplicationData, rfc8448_payload()),
              str(unhex(kServerAppRecord)));
    EXPECT_EQ((*s)->seq(), 2u);
    EXPECT_EQ((*s)->bytes_sealed(), 50u);
}

TEST(Rfc8448, SealClientApplicationDataAndAlert) {
    auto s = Sealer::make(rfc8448_keys(kClientKey, kClientIv, 0, 0));
    ASSERT_TRUE(s);
    EXPECT_EQ(seal(**s, ContentType::ApplicationData, rfc8448_payload()),
              str(unhex(kClientAppRecord)));
    EXPECT_EQ(seal(**s, ContentType::Alert, Bytes{1, 0}), str(unhex(kClientCloseNotify)));
}

TEST(Rfc8448, OpenClientRecordsByteByByte) {
    auto o = Opener::make(rfc8448_keys(kClientKey, kClientIv, 0, 0));
    ASSERT_TRUE(o);
    Bytes wire = unhex(kClientAppRecord);
    Bytes alert = unhex(kClientCloseNotify);
    wire.insert(wire.end(), alert.begin(), alert.end());
    std::vector<std::pair<ContentType, Bytes>> got;
    for (uint8_t b : wire) {
        (*o)->feed(std::span<const uint8_t>(&b, 1));
        for (;;) {
            auto r = (*o)->next();
            ASSERT_TRUE(r) << r.error().code;
            if (!*r) break;
            got.emplace_back((*r)->type, Bytes((*r)->plaintext.begin(), (*r)->plaintext.end()));
        }
    }
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].first, ContentType::ApplicationData);
    EXPECT_EQ(got[0].second, rfc8448_payload());
    EXPECT_EQ(got[1].first, ContentType::Alert);
    EXPECT_EQ(got[1].second, (Bytes{1, 0}));
    EXPECT_EQ((*o)->seq(), 2u);
    EXPECT_EQ((*o)->buffered(), 0u);
}

TEST(Rfc8448, OpenServerRecord) {
    auto o = Opener::make(rfc8448_keys(kServerKey, kServerIv, 0, 1));
    ASSERT_TRUE(o);
    (*o)->feed(str(unhex(kServerAppRecord)));
    auto r = (*o)->next();
    ASSERT_TRUE(r);
    ASSERT_TRUE(*r);
    EXPECT_EQ((*r)->type, ContentType::ApplicationData);
    EXPECT_EQ(Bytes((*r)->plaintext.begin(), (*r)->plaintext.end()), rfc8448_payload());
}

TEST(Rfc8448, HkdfExpandLabelKeyIv) {
    Bytes secret = unhex(kClientAppSecret);
    uint8_t key[16], iv[12];
    ASSERT_TRUE(hkdf_expand_label(Hash::Sha256, secret, "key", {}, key));
    ASSERT_TRUE(hkdf_expand_label(Hash::Sha256, secret, "iv", {}, iv));
    EXPECT_EQ(Bytes(key, key + 16), unhex(kClientKey));
    EXPECT_EQ(Bytes(iv, iv + 12), unhex(kClientIv));
}

// ---- RFC 8439 §2.8.2: the ChaCha20-Poly1305 primitive we rely on ------------------------

TEST(Rfc8439, AeadVector) {
    Bytes key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    Bytes nonce = unhex("07000000 4041424344454647");
    Bytes aad = unhex("50515253c0c1c2c3c4c5c6c7");
    Bytes pt = bytes(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
        "future, sunscreen would be it.");
    Bytes want = unhex(
        "d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7"
        "36 ee 62 d6 3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29"
        "05 d6 a5 b6 7e cd 3b 36 92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4"
        "fa d6 75 94 55 85 80 8b 48 31 d7 bc 3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b"
        "61 16"
        "1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91");
    EXPECT_EQ(raw_seal(EVP_chacha20_poly1305(), key, nonce, aad, pt), want);
}

// ---- TLS 1.2 and TLS 1.3 records vs an independent construction ---------------------------

struct Pair {
    tls::Version v;
    tls::Cipher c;
};
std::string name(const Pair& p) {
    return std::string(tls::version_name(p.v)) + " " + std::string(tls::cipher_name(p.c));
}
const Pair kPairs[] = {
    {tls::Version::Tls12, tls::Cipher::Aes128Gcm},
    {tls::Version::Tls12, tls::Cipher::Aes256Gcm},
    {tls::Version::Tls12, tls::Cipher::Chacha20Poly1305},
    {tls::Version::Tls13, tls::Cipher::Aes128Gcm},
    {tls::Version::Tls13, tls::Cipher::Aes256Gcm},
    {tls::Version::Tls13, tls::Cipher::Chacha20Poly1305},
};

// The record the spec says we must produce, built by hand from the RFC text.
Bytes expected_record(const tls::TrafficKeys& k, uint64_t seq, uint8_t type, const Bytes& pt) {
    Bytes key(k.tx.key, k.tx.key + tls::key_len(k.cipher));
    Bytes nonce(12);
    Bytes aad;
    Bytes out;
    const bool tls13 = k.version == tls::Version::Tls13;
    const bool gcm12 = !tls13 && k.cipher != tls::Cipher::Chacha20Poly1305;
    if (gcm12) {  // RFC 5288 §3: salt(4) | explicit(8); we use explicit = seq
        memcpy(nonce.data(), k.tx.iv, 4);
        be64(nonce.data() + 4, seq);
    } else {  // RFC 7905 §2 / RFC 8446 §5.3: iv XOR padded seq
        uint8_t s[8];
        be64(s, seq);
        memcpy(nonce.data(), k.tx.iv, 12);
        for (int i = 0; i < 8; ++i) nonce[4 + i] ^= s[i];
    }
    Bytes inner = pt;
    if (tls13) inner.push_back(type);
    const size_t len = (gcm12 ? 8 : 0) + inner.size() + 16;
    Bytes hdr = {uint8_t(tls13 ? 23 : type), 3, 3, uint8_t(len >> 8), uint8_t(len)};
    if (tls13) {
        aad = hdr;
    } else {
        aad.resize(13);
        be64(aad.data(), seq);
        aad[8] = type;
        aad[9] = 3;
        aad[10] = 3;
        aad[11] = uint8_t(pt.size() >> 8);
        aad[12] = uint8_t(pt.size());
    }
    out = hdr;
    if (gcm12) out.insert(out.end(), nonce.begin() + 4, nonce.end());
    Bytes ct = raw_seal(evp_for(k.cipher), key, nonce, aad, inner);
    out.insert(out.end(), ct.begin(), ct.end());
    return out;
}

TEST(Record, MatchesIndependentConstructionAllPairs) {
    for (const Pair& p : kPairs) {
        SCOPED_TRACE(name(p));
        auto k = make_keys(p.v, p.c, 0x1122334455667788ULL);
        auto s = Sealer::make(k);
        ASSERT_TRUE(s);
        Bytes pt = seq_bytes(1000);
        std::string got = seal(**s, ContentType::ApplicationData, pt);
        got += seal(**s, ContentType::Alert, Bytes{2, 40});
        Bytes want = expected_record(k, 0x1122334455667788ULL, 23, pt);
        Bytes want2 = expected_record(k, 0x1122334455667789ULL, 21, Bytes{2, 40});
        want.insert(want.end(), want2.begin(), want2.end());
        EXPECT_EQ(got, str(want));
        EXPECT_EQ(got.size(), (*s)->sealed_size(1000) + (*s)->sealed_size(2));
    }
}

TEST(Record, SealPartsIsOneRecordOfTheConcatenation) {
    for (const Pair& p : kPairs) {
        SCOPED_TRACE(name(p));
        auto k = make_keys(p.v, p.c, 42);
        auto whole = Sealer::make(k);
        auto parts = Sealer::make(k);
        ASSERT_TRUE(whole && parts);
        const Bytes pt = seq_bytes(16384);
        const std::string text = str(pt);
        const std::string want = seal(**whole, ContentType::ApplicationData, pt);
        std::string got;
        const std::string_view v[] = {std::string_view(text).substr(0, 9), {},
                                      std::string_view(text).substr(9)};
        ASSERT_TRUE((*parts)->seal_parts(ContentType::ApplicationData, v, got));
        EXPECT_EQ(got, want);
        EXPECT_EQ((*parts)->seq(), (*whole)->seq());
        const std::string_view too_big[] = {text, "x"};
        std::string none;
        EXPECT_FALSE((*parts)->seal_parts(ContentType::ApplicationData, too_big, none));
        EXPECT_TRUE(none.empty());
    }
}

TEST(Record, RoundTripAllPairsByteByByte) {
    for (const Pair& p : kPairs) {
        SCOPED_TRACE(name(p));
        auto layer = RecordLayer::make(loop_keys(p.v, p.c, 7));
        ASSERT_TRUE(layer);
        const size_t sizes[] = {0, 1, 100, 16384, 16385, 40000};
        std::string wire;
        Bytes all;
        for (size_t n : sizes) {
            Bytes pt = seq_bytes(n);
            ASSERT_TRUE(layer->tx().seal(ContentType::ApplicationData,
                                         std::span<const uint8_t>(pt), wire));
            all.insert(all.end(), pt.begin(), pt.end());
        }
        ASSERT_TRUE(layer->tx().seal(ContentType::Handshake,
                                     std::string_view("\x18\0\0\1\0", 5), wire));
        const uint64_t records = layer->tx().records_sealed();
        EXPECT_EQ(records, 1u + 1 + 1 + 1 + 2 + 3 + 1);
        Bytes got;
        size_t n_records = 0;
        ContentType last{};
        for (char c : wire) {
            layer->rx().feed(std::string_view(&c, 1));
            auto r = layer->rx().next();
            ASSERT_TRUE(r) << r.error().code;
            if (!*r) continue;
            ++n_records;
            last = (*r)->type;
            if ((*r)->type == ContentType::ApplicationData) {
                got.insert(got.end(), (*r)->plaintext.begin(), (*r)->plaintext.end());
            }
        }
        EXPECT_EQ(n_records, records);
        EXPECT_EQ(last, ContentType::Handshake);
        EXPECT_EQ(got, all);
        EXPECT_EQ(layer->rx().seq(), 7 + records);
        EXPECT_EQ(layer->tx().seq(), 7 + records);
    }
}

TEST(Record, SplitsAt16KiB) {
    for (const Pair& p : kPairs) {
        auto s = Sealer::make(loop_keys(p.v, p.c));
        ASSERT_TRUE(s);
        std::string out = seal(**s, ContentType::ApplicationData, seq_bytes(40000));
        const bool gcm12 = p.v == tls::Version::Tls12 && p.c != tls::Cipher::Chacha20Poly1305;
        const size_t over = (p.v == tls::Version::Tls13 ? 17 : 16) + (gcm12 ? 8 : 0);
        const size_t want[] = {16384, 16384, 40000 - 2 * 16384};
        size_t off = 0;
        for (size_t w : want) {
            ASSERT_LE(off + 5, out.size());
            const size_t len = (uint8_t(out[off + 3]) << 8) | uint8_t(out[off + 4]);
            EXPECT_EQ(len, w + over);
            off += 5 + len;
        }
        EXPECT_EQ(off, out.size());
        EXPECT_EQ((*s)->records_sealed(), 3u);
        EXPECT_EQ((*s)->bytes_sealed(), 40000u);
    }
}

TEST(Record, TamperIsBadRecordMacAndSticky) {
    for (const Pair& p : kPairs) {
        for (size_t at : {size_t(0), size_t(5), size_t(20), size_t(5 + 8 + 50 + 16 + 1 - 1)}) {
            auto layer = RecordLayer::make(loop_keys(p.v, p.c));
            ASSERT_TRUE(layer);
            std::string wire;
            ASSERT_TRUE(layer->tx().seal(ContentType::ApplicationData, std::string(50, 'x'), wire));
            if (at >= wire.size()) at = wire.size() - 1;  // last tag byte
            wire[at] = char(wire[at] ^ (at == 0 ? 0x01 : 0x80));  // type 23 → 22 at offset 0
            layer->rx().feed(wire);
            auto r = layer->rx().next();
            ASSERT_FALSE(r);
            if (at == 0 && p.v == tls::Version::Tls13) {
                EXPECT_EQ(r.error().code, ENOMSG);  // outer type must be 23
            } else {
                EXPECT_EQ(r.error().code, EBADMSG);
                EXPECT_EQ(alert_of(r.error()), 20);  // bad_record_mac
            }
            auto again = layer->rx().next();
            ASSERT_FALSE(again);
            EXPECT_EQ(again.error().code, r.error().code);
            EXPECT_EQ(layer->rx().seq(), 0u);
        }
    }
}

TEST(Record, WrongSequenceFails) {
    auto s = Sealer::make(loop_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm, 3));
    auto o = Opener::make(loop_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm, 4));
    ASSERT_TRUE(s && o);
    (*o)->feed(seal(**s, ContentType::ApplicationData, seq_bytes(10)));
    auto r = (*o)->next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EBADMSG);
}

TEST(Record, HeaderChecks) {
    auto mk = [] { return *Opener::make(loop_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm)); };
    {
        auto o = mk();
        o->feed(std::string_view("\x17\x03\x01\x00\x20", 5));  // version 0x0301
        auto r = o->next();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, EPROTO);
        EXPECT_EQ(alert_of(r.error()), 50);  // decode_error
    }
    {
        auto o = mk();
        const size_t len = kMaxCiphertext13 + 1;
        const char h[5] = {0x17, 3, 3, char(len >> 8), char(len & 0xff)};
        o->feed(std::string_view(h, 5));  // rejected on the header alone
        auto r = o->next();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, EMSGSIZE);
        EXPECT_EQ(alert_of(r.error()), 22);  // record_overflow
    }
    {
        auto o = mk();
        o->feed(std::string_view("\x17\x03\x03\x00\x05hello", 10));  // shorter than a tag
        auto r = o->next();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, EBADMSG);
    }
    {
        auto o = mk();
        o->feed(std::string_view("\x17\x03\x03\x00", 4));  // incomplete header: wait
        auto r = o->next();
        ASSERT_TRUE(r);
        EXPECT_FALSE(*r);
    }
    {
        auto o12 = *Opener::make(loop_keys(tls::Version::Tls12, tls::Cipher::Aes128Gcm));
        const size_t len = kMaxCiphertext12 + 1;
        const char h[5] = {0x17, 3, 3, char(len >> 8), char(len & 0xff)};
        o12->feed(std::string_view(h, 5));
        auto r = o12->next();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, EMSGSIZE);
    }
}

TEST(Record, Tls13PaddingAndEmptyInner) {
    // Build TLS 1.3 records by hand: padded inner plaintext is accepted, all-zero is not.
    auto k = loop_keys(tls::Version::Tls13, tls::Cipher::Chacha20Poly1305);
    auto build = [&](const Bytes& inner, uint64_t seq) {
        Bytes nonce(k.tx.iv, k.tx.iv + 12);
        uint8_t s[8];
        be64(s, seq);
        for (int i = 0; i < 8; ++i) nonce[4 + i] ^= s[i];
        const size_t len = inner.size() + 16;
        Bytes hdr = {23, 3, 3, uint8_t(len >> 8), uint8_t(len)};
        Bytes ct = raw_seal(EVP_chacha20_poly1305(), Bytes(k.tx.key, k.tx.key + 32), nonce, hdr,
                            inner);
        hdr.insert(hdr.end(), ct.begin(), ct.end());
        return str(hdr);
    };
    auto o = *Opener::make(k);
    o->feed(build(Bytes{'h', 'i', 22, 0, 0, 0}, 0));
    auto r = o->next();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->type, ContentType::Handshake);
    EXPECT_EQ((*r)->text(), "hi");
    o->feed(build(Bytes{0, 0, 0}, 1));
    auto bad = o->next();
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ENOMSG);
    EXPECT_EQ(alert_of(bad.error()), 10);  // unexpected_message
}

// ---- KeyUpdate ------------------------------------------------------------------------------

// Independent HKDF-Expand-Label: one HMAC block (every output here is ≤ Hash.length).
Bytes ref_expand_label(const EVP_MD* md, const Bytes& secret, const std::string& label,
                       size_t len) {
    Bytes info = {uint8_t(len >> 8), uint8_t(len)};
    const std::string full = "tls13 " + label;
    info.push_back(uint8_t(full.size()));
    info.insert(info.end(), full.begin(), full.end());
    info.push_back(0);     // empty context
    info.push_back(0x01);  // T(1) counter
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned out_len = 0;
    HMAC(md, secret.data(), int(secret.size()), info.data(), info.size(), out, &out_len);
    return Bytes(out, out + len);
}

TEST(KeyUpdate, NextKeysMatchIndependentHkdf) {
    for (tls::Cipher c : {tls::Cipher::Aes128Gcm, tls::Cipher::Aes256Gcm,
                          tls::Cipher::Chacha20Poly1305}) {
        SCOPED_TRACE(std::string(tls::cipher_name(c)));
        const EVP_MD* md = c == tls::Cipher::Aes256Gcm ? EVP_sha384() : EVP_sha256();
        const size_t hl = c == tls::Cipher::Aes256Gcm ? 48 : 32;
        auto k = loop_keys(tls::Version::Tls13, c, 9);
        for (size_t i = 0; i < hl; ++i) k.tx.secret[i] = k.rx.secret[i] = uint8_t(0xe0 ^ i);
        k.tx.secret_len = k.rx.secret_len = uint8_t(hl);

        Bytes s0(k.tx.secret, k.tx.secret + hl);
        Bytes s1 = ref_expand_label(md, s0, "traffic upd", hl);
        Bytes key1 = ref_expand_label(md, s1, "key", tls::key_len(c));
        Bytes iv1 = ref_expand_label(md, s1, "iv", 12);

        tls::DirectionKeys d = k.tx;
        ASSERT_TRUE(next_traffic_keys(c, d));
        EXPECT_EQ(Bytes(d.secret, d.secret + hl), s1);
        EXPECT_EQ(Bytes(d.key, d.key + tls::key_len(c)), key1);
        EXPECT_EQ(Bytes(d.iv, d.iv + 12), iv1);
        EXPECT_EQ(d.seq, 0u);

        // The sealer after update_key writes exactly what a fresh sealer on the new keys does.
        auto layer = RecordLayer::make(k);
        ASSERT_TRUE(layer);
        std::string before;
        ASSERT_TRUE(layer->tx().seal(ContentType::Handshake,
                                     std::span<const uint8_t>(key_update_message(false)), before));
        ASSERT_TRUE(layer->update_tx_key());
        EXPECT_EQ(layer->tx().seq(), 0u);
        std::string after;
        ASSERT_TRUE(layer->tx().seal(ContentType::ApplicationData, std::string_view("AFTER-KU"),
                                     after));
        tls::TrafficKeys k1 = k;
        memcpy(k1.tx.key, key1.data(), key1.size());
        memcpy(k1.tx.iv, iv1.data(), 12);
        k1.tx.seq = 0;
        EXPECT_EQ(after, str(expected_record(k1, 0, 23, bytes("AFTER-KU"))));

        // The peer: opens the KeyUpdate with the old key, then updates and opens the rest,
        // fed in one piece (records after the KeyUpdate already buffered).
        layer->rx().feed(before + after);
        auto r = layer->rx().next();
        ASSERT_TRUE(r && *r);
        EXPECT_EQ((*r)->type, ContentType::Handshake);
        auto req = parse_key_update((*r)->plaintext);
        ASSERT_TRUE(req);
        EXPECT_FALSE(*req);
        ASSERT_TRUE(layer->update_rx_key());
        auto r2 = layer->rx().next();
        ASSERT_TRUE(r2 && *r2);
        EXPECT_EQ((*r2)->text(), "AFTER-KU");
        EXPECT_EQ(layer->rx().seq(), 1u);
    }
}

TEST(KeyUpdate, NotSupportedWithoutSecretOrOnTls12) {
    auto layer = RecordLayer::make(loop_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm));
    ASSERT_TRUE(layer);
    auto r = layer->update_tx_key();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOTSUP);
    auto k12 = loop_keys(tls::Version::Tls12, tls::Cipher::Aes128Gcm);
    k12.tx.secret_len = 32;
    auto l12 = RecordLayer::make(k12);
    ASSERT_TRUE(l12);
    auto r12 = l12->update_tx_key();
    ASSERT_FALSE(r12);
    EXPECT_EQ(r12.error().code, ENOTSUP);
    tls::DirectionKeys d;
    d.secret_len = 48;  // wrong length for a SHA-256 suite
    auto bad = next_traffic_keys(tls::Cipher::Aes128Gcm, d);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, EINVAL);
}

// What the server hands the kernel on a KeyUpdate (ktls rekey_rx/rekey_tx): the next secret's
// key and IV in the crypto_info layout, sequence 0, same version and cipher; records the
// userspace layer seals after its own update_key open under exactly those bytes.
TEST(KeyUpdate, NextKernelCryptoInfo) {
    for (tls::Cipher c : {tls::Cipher::Aes128Gcm, tls::Cipher::Aes256Gcm,
                          tls::Cipher::Chacha20Poly1305}) {
        SCOPED_TRACE(std::string(tls::cipher_name(c)));
        const EVP_MD* md = c == tls::Cipher::Aes256Gcm ? EVP_sha384() : EVP_sha256();
        const size_t hl = c == tls::Cipher::Aes256Gcm ? 48 : 32;
        auto k = loop_keys(tls::Version::Tls13, c, 77);
        for (size_t i = 0; i < hl; ++i) k.tx.secret[i] = k.rx.secret[i] = uint8_t(0x5a ^ i);
        k.tx.secret_len = k.rx.secret_len = uint8_t(hl);
        const Bytes s1 = ref_expand_label(md, Bytes(k.rx.secret, k.rx.secret + hl),
                                          "traffic upd", hl);
        const Bytes key1 = ref_expand_label(md, s1, "key", tls::key_len(c));
        const Bytes iv1 = ref_expand_label(md, s1, "iv", 12);

        // The client's side: its sealer moves to the next key after sending KeyUpdate.
        auto client = Sealer::make([&] {
            tls::TrafficKeys ck = k;
            ck.tx = k.rx;  // the client's write direction is our RX
            return ck;
        }());
        ASSERT_TRUE(client);
        ASSERT_TRUE((*client)->update_key());
        std::string wire;
        ASSERT_TRUE((*client)->seal(ContentType::ApplicationData, std::string_view("GET /"),
                                    wire));

        // Ours, as conn_tls.cc does it for kernel RX: next_traffic_keys, then crypto_info.
        tls::TrafficKeys kept = k;
        ASSERT_TRUE(next_traffic_keys(c, kept.rx));
        ktls::CryptoInfoBuf ci;
        ASSERT_TRUE(ktls::to_crypto_info(kept, false, ci));
        EXPECT_EQ(ci.u.info.version, TLS_1_3_VERSION);
        EXPECT_EQ(ci.u.info.cipher_type, ktls::kernel_cipher_type(c));
        const uint8_t zero[8] = {};
        tls::TrafficKeys from_kernel = k;  // the kernel's view, rebuilt from the struct bytes
        if (c == tls::Cipher::Chacha20Poly1305) {
            EXPECT_EQ(Bytes(ci.u.chacha.key, ci.u.chacha.key + 32), key1);
            EXPECT_EQ(Bytes(ci.u.chacha.iv, ci.u.chacha.iv + 12), iv1);
            EXPECT_EQ(memcmp(ci.u.chacha.rec_seq, zero, 8), 0);
            memcpy(from_kernel.rx.key, ci.u.chacha.key, 32);
            memcpy(from_kernel.rx.iv, ci.u.chacha.iv, 12);
        } else if (c == tls::Cipher::Aes128Gcm) {
            EXPECT_EQ(Bytes(ci.u.aes128.key, ci.u.aes128.key + 16), key1);
            EXPECT_EQ(Bytes(ci.u.aes128.salt, ci.u.aes128.salt + 4), Bytes(iv1.begin(), iv1.begin() + 4));
            EXPECT_EQ(Bytes(ci.u.aes128.iv, ci.u.aes128.iv + 8), Bytes(iv1.begin() + 4, iv1.end()));
            EXPECT_EQ(memcmp(ci.u.aes128.rec_seq, zero, 8), 0);
            memcpy(from_kernel.rx.key, ci.u.aes128.key, 16);
            memcpy(from_kernel.rx.iv, ci.u.aes128.salt, 4);
            memcpy(from_kernel.rx.iv + 4, ci.u.aes128.iv, 8);
        } else {
            EXPECT_EQ(Bytes(ci.u.aes256.key, ci.u.aes256.key + 32), key1);
            EXPECT_EQ(Bytes(ci.u.aes256.salt, ci.u.aes256.salt + 4), Bytes(iv1.begin(), iv1.begin() + 4));
            EXPECT_EQ(Bytes(ci.u.aes256.iv, ci.u.aes256.iv + 8), Bytes(iv1.begin() + 4, iv1.end()));
            EXPECT_EQ(memcmp(ci.u.aes256.rec_seq, zero, 8), 0);
            memcpy(from_kernel.rx.key, ci.u.aes256.key, 32);
            memcpy(from_kernel.rx.iv, ci.u.aes256.salt, 4);
            memcpy(from_kernel.rx.iv + 4, ci.u.aes256.iv, 8);
        }
        from_kernel.rx.seq = 0;
        auto opener = Opener::make(from_kernel);
        ASSERT_TRUE(opener);
        (*opener)->feed(wire);
        auto r = (*opener)->next();
        ASSERT_TRUE(r && *r);
        EXPECT_EQ((*r)->text(), "GET /");

        // A second update chains from the kept secret, not from the first one.
        const Bytes s2 = ref_expand_label(md, s1, "traffic upd", hl);
        ASSERT_TRUE(next_traffic_keys(c, kept.rx));
        EXPECT_EQ(Bytes(kept.rx.secret, kept.rx.secret + hl), s2);
    }
}

TEST(KeyUpdate, Plan) {
    using R = Rekey;
    // Everything in the kernel, kernel can rekey: both directions there, ours only on request.
    auto p = plan_key_update(true, true, true, true);
    EXPECT_FALSE(p.close);
    EXPECT_EQ(p.rx, R::Kernel);
    EXPECT_EQ(p.tx, R::Kernel);
    p = plan_key_update(true, true, true, false);
    EXPECT_EQ(p.rx, R::Kernel);
    EXPECT_EQ(p.tx, R::None);
    // Kernel before 6.14: any kernel direction that must change means a clean close.
    EXPECT_TRUE(plan_key_update(true, true, false, false).close);
    EXPECT_TRUE(plan_key_update(true, false, false, true).close);
    EXPECT_TRUE(plan_key_update(false, true, false, true).close);
    // ... but user RX with kernel TX and no update requested needs nothing from the kernel.
    p = plan_key_update(false, true, false, false);
    EXPECT_FALSE(p.close);
    EXPECT_EQ(p.rx, R::User);
    EXPECT_EQ(p.tx, R::None);
    // Mixed modes on a rekeying kernel.
    p = plan_key_update(false, true, true, true);
    EXPECT_EQ(p.rx, R::User);
    EXPECT_EQ(p.tx, R::Kernel);
    p = plan_key_update(true, false, true, true);
    EXPECT_EQ(p.rx, R::Kernel);
    EXPECT_EQ(p.tx, R::User);
    // All userspace: the kernel does not matter.
    p = plan_key_update(false, false, false, true);
    EXPECT_FALSE(p.close);
    EXPECT_EQ(p.rx, R::User);
    EXPECT_EQ(p.tx, R::User);
}

TEST(KeyUpdate, Message) {
    auto m = key_update_message(true);
    EXPECT_EQ(Bytes(m.begin(), m.end()), (Bytes{24, 0, 0, 1, 1}));
    auto p = parse_key_update(m);
    ASSERT_TRUE(p);
    EXPECT_TRUE(*p);
    EXPECT_EQ(parse_key_update(Bytes{24, 0, 0, 1, 2}).error().code, EINVAL);
    EXPECT_EQ(parse_key_update(Bytes{24, 0, 0, 2, 0, 0}).error().code, EPROTO);
    EXPECT_EQ(parse_key_update(Bytes{4, 0, 0, 1, 0}).error().code, EPROTO);
}

TEST(Record, RejectsBadKeys) {
    auto k = loop_keys(tls::Version::Tls13, tls::Cipher::Aes128Gcm);
    k.cipher = static_cast<tls::Cipher>(9);
    auto s = Sealer::make(k);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EINVAL);
}

}  // namespace
}  // namespace sluice::record
