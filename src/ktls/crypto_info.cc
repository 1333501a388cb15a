#include "ktls/crypto_info.h"

#include <string.h>

namespace sluice::ktls {

namespace {

void put_be64(unsigned char* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<unsigned char>(v);
        v >>= 8;
    }
}

bool valid(const tls::TrafficKeys& k) {
    const bool ver = k.version == tls::Version::Tls12 || k.version == tls::Version::Tls13;
    const bool cip = k.cipher == tls::Cipher::Aes128Gcm || k.cipher == tls::Cipher::Aes256Gcm ||
                     k.cipher == tls::Cipher::Chacha20Poly1305;
    return ver && cip;
}

// Shared by both GCM structs (same field order, only the key size differs).
template <class S>
void fill_gcm(S& s, const tls::TrafficKeys& k, const tls::DirectionKeys& d) {
    s.info.version = kernel_version(k.version);
    s.info.cipher_type = kernel_cipher_type(k.cipher);
    memcpy(s.key, d.key, sizeof s.key);
    memcpy(s.salt, d.iv, sizeof s.salt);
    if (k.version == tls::Version::Tls12) {
        // Explicit nonce start = rec_seq: unique per record, never one wolfSSL already used.
        put_be64(s.iv, d.seq);
    } else {
        memcpy(s.iv, d.iv + 4, sizeof s.iv);
    }
    put_be64(s.rec_seq, d.seq);
}

}  // namespace

CryptoInfoBuf::CryptoInfoBuf() { memset(&u, 0, sizeof u); }
CryptoInfoBuf::~CryptoInfoBuf() { wipe(); }
void CryptoInfoBuf::wipe() {
    explicit_bzero(&u, sizeof u);
    size = 0;
}

uint16_t kernel_cipher_type(tls::Cipher c) {
    switch (c) {
    case tls::Cipher::Aes128Gcm: return TLS_CIPHER_AES_GCM_128;
    case tls::Cipher::Aes256Gcm: return TLS_CIPHER_AES_GCM_256;
    case tls::Cipher::Chacha20Poly1305: return TLS_CIPHER_CHACHA20_POLY1305;
    }
    return 0;
}

uint16_t kernel_version(tls::Version v) {
    return v == tls::Version::Tls12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
}

Result<void> to_crypto_info(const tls::TrafficKeys& keys, bool tx, CryptoInfoBuf& out) {
    out.wipe();
    if (!valid(keys)) return fail(EINVAL);
    const tls::DirectionKeys& d = tx ? keys.tx : keys.rx;
    switch (keys.cipher) {
    case tls::Cipher::Aes128Gcm:
        fill_gcm(out.u.aes128, keys, d);
        out.size = sizeof out.u.aes128;
        break;
    case tls::Cipher::Aes256Gcm:
        fill_gcm(out.u.aes256, keys, d);
        out.size = sizeof out.u.aes256;
        break;
    case tls::Cipher::Chacha20Poly1305:
        out.u.chacha.info.version = kernel_version(keys.version);
        out.u.chacha.info.cipher_type = kernel_cipher_type(keys.cipher);
        memcpy(out.u.chacha.iv, d.iv, sizeof out.u.chacha.iv);
        memcpy(out.u.chacha.key, d.key, sizeof out.u.chacha.key);
        put_be64(out.u.chacha.rec_seq, d.seq);
        out.size = sizeof out.u.chacha;
        break;
    }
    return {};
}

}  // namespace sluice::ktls
