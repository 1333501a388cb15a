// ktls/crypto_info.h — TrafficKeys → the kernel's struct tls12_crypto_info_* (uapi linux/tls.h).
// Contract: to_crypto_info() fills a CryptoInfoBuf with the exact bytes setsockopt(SOL_TLS,
// TLS_TX|TLS_RX) expects, per docs/ktls-facts.md §1.5: TLS 1.2 AES-GCM salt = the 4-byte
// implicit IV and iv = rec_seq (explicit nonce start, never reused); TLS 1.3 AES-GCM salt =
// IV[0..3], iv = IV[4..11]; ChaCha20-Poly1305 iv = the whole 12-byte IV, no salt; rec_seq is
// the next sequence number, big-endian. The buffer holds key material: it is non-copyable and
// wipes itself on destruction. No socket is touched here.
#pragma once

#include <linux/tls.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "base/result.h"
#include "tls/keys.h"

namespace sluice::ktls {

// The uapi layout we rely on (identical in 6.1 and 6.18): version(2) cipher(2) iv key salt seq.
static_assert(sizeof(tls_crypto_info) == 4);
static_assert(sizeof(tls12_crypto_info_aes_gcm_128) == 40);
static_assert(sizeof(tls12_crypto_info_aes_gcm_256) == 56);
static_assert(sizeof(tls12_crypto_info_chacha20_poly1305) == 56);
static_assert(offsetof(tls12_crypto_info_aes_gcm_128, iv) == 4);
static_assert(offsetof(tls12_crypto_info_aes_gcm_128, key) == 12);
static_assert(offsetof(tls12_crypto_info_aes_gcm_128, salt) == 28);
static_assert(offsetof(tls12_crypto_info_aes_gcm_128, rec_seq) == 32);
static_assert(offsetof(tls12_crypto_info_aes_gcm_256, salt) == 44);
static_assert(offsetof(tls12_crypto_info_aes_gcm_256, rec_seq) == 48);
static_assert(offsetof(tls12_crypto_info_chacha20_poly1305, key) == 16);
static_assert(offsetof(tls12_crypto_info_chacha20_poly1305, rec_seq) == 48);

// The ChaCha struct ends in salt[0] (a GNU zero-length array): fine in a union, but pedantic.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
struct CryptoInfoBuf {
    union {
        tls_crypto_info info;
        tls12_crypto_info_aes_gcm_128 aes128;
        tls12_crypto_info_aes_gcm_256 aes256;
        tls12_crypto_info_chacha20_poly1305 chacha;
        unsigned char bytes[56];
    } u;
    socklen_t size = 0;  // exact optlen for setsockopt (anything else is EINVAL)

    CryptoInfoBuf();
    CryptoInfoBuf(const CryptoInfoBuf&) = delete;
    CryptoInfoBuf& operator=(const CryptoInfoBuf&) = delete;
    ~CryptoInfoBuf();

    [[nodiscard]] const void* data() const { return &u; }
    void wipe();
};
#pragma GCC diagnostic pop

// `tx` selects keys.tx (server write) or keys.rx (client write). EINVAL for an unknown
// version/cipher value.
Result<void> to_crypto_info(const tls::TrafficKeys& keys, bool tx, CryptoInfoBuf& out);

// Kernel constants for a pair (TLS_CIPHER_*, TLS_1_x_VERSION).
uint16_t kernel_cipher_type(tls::Cipher c);
uint16_t kernel_version(tls::Version v);

}  // namespace sluice::ktls
