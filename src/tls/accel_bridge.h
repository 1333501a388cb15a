// tls/accel_bridge.h — the seam between the wolfCrypt crypto-device callback (accel_wolf.cc,
// wolfSSL headers only) and its libcrypto implementation (accel_ossl.cc, OpenSSL headers only).
// The two libraries' headers cannot share a translation unit (docs/ktls-facts.md §1.1), so
// everything that crosses is plain bytes: big-endian scalars and X9.63 points for NIST curves,
// RFC 7748 little-endian strings for X25519, big-endian integers for RSA.
// Internal to src/tls; nothing outside accel_*.cc should include it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::tls::bridge {

// Result of one libcrypto operation. Unsupported and Failed both make the device answer
// CRYPTOCB_UNAVAILABLE, so wolfCrypt redoes the operation in software (which is correct by
// construction and reports its own errors, e.g. for an invalid peer point). AuthFailed is a
// genuine AES-GCM tag mismatch and is reported as such.
enum class Status : int { Ok = 0, Unsupported = 1, Failed = 2, AuthFailed = 3 };

enum class Curve : int { P256 = 0, P384 = 1, P521 = 2 };
constexpr size_t curve_bytes(Curve c) { return c == Curve::P256 ? 32 : c == Curve::P384 ? 48 : 66; }

// ---- X25519 ---------------------------------------------------------------------------------
// priv is the 32-byte scalar as RFC 7748 encodes it (clamped on output), pub the u-coordinate.
Status x25519_keygen(uint8_t priv[32], uint8_t pub[32]);
// pub may be null (then libcrypto recomputes it; costs one extra scalar multiplication).
Status x25519_derive(const uint8_t priv[32], const uint8_t* pub, const uint8_t peer[32],
                     uint8_t out[32]);

// ---- NIST curves ----------------------------------------------------------------------------
// priv: curve_bytes() big-endian; pub: X9.63 uncompressed 0x04||X||Y (1 + 2*curve_bytes()).
Status ec_keygen(Curve c, uint8_t* priv, uint8_t* pub);
// pub (ours) may be null. out receives the X coordinate, curve_bytes() long.
Status ecdh(Curve c, const uint8_t* priv, const uint8_t* pub, const uint8_t* peer_pub,
            size_t peer_pub_len, uint8_t* out);
// ECDSA over an already computed hash; DER-encoded signature into sig (capacity *sig_len, set
// to the length written). The libcrypto key is cached by a digest of (curve, priv), so a
// server certificate key is converted once, not per handshake.
Status ecdsa_sign(Curve c, const uint8_t* priv, const uint8_t* pub, const uint8_t* hash,
                  size_t hash_len, uint8_t* sig, size_t* sig_len);

// ---- RSA ------------------------------------------------------------------------------------
struct Bytes {
    const uint8_t* p = nullptr;
    size_t n = 0;
};
struct RsaPrivate {
    Bytes n, e, d, p, q, dp, dq, qinv;  // big-endian, no leading zeros required
};
// Raw private-key operation out = in^d mod n (no padding; wolfSSL pads). out is mod_len bytes,
// left-padded with zeros. The libcrypto key is cached by a digest of all components.
Status rsa_private(const RsaPrivate& key, const uint8_t* in, size_t in_len, uint8_t* out,
                   size_t mod_len);

// ---- AES-GCM --------------------------------------------------------------------------------
struct GcmArgs {
    const uint8_t* key = nullptr;
    size_t key_len = 0;  // 16, 24 or 32
    const uint8_t* iv = nullptr;
    size_t iv_len = 0;
    const uint8_t* aad = nullptr;
    size_t aad_len = 0;
    const uint8_t* in = nullptr;
    uint8_t* out = nullptr;
    size_t len = 0;
};
Status aes_gcm_encrypt(const GcmArgs& a, uint8_t* tag, size_t tag_len);
Status aes_gcm_decrypt(const GcmArgs& a, const uint8_t* tag, size_t tag_len);

// n bytes from libcrypto's DRBG (RAND_bytes): wolfSSL's per-connection WC_RNG then generates
// nothing itself, and its seed comes from here instead of an open/read/close of /dev/urandom.
Status random_bytes(uint8_t* out, size_t n);

// HKDF-Expand (RFC 5869) with HMAC-SHA256 (hash_len 32) or HMAC-SHA384 (48): out_len bytes
// of keying material from prk and info. For TLS 1.3's HKDF-Expand-Label, which wolfSSL hands
// to its callback (tls::Session) and would otherwise run on its software SHA-2.
Status hkdf_expand(size_t hash_len, const uint8_t* prk, size_t prk_len, const uint8_t* info,
                   size_t info_len, uint8_t* out, size_t out_len);
void count_hkdf();  // accel_wolf.cc keeps the counters

// SHA-256 compression of n whole 64-byte blocks into the state h (host-order words, FIPS
// 180-4 H0..H7): libcrypto's block function (SHA extensions where the CPU has them). The
// message buffering and padding stay on the wolfCrypt side, in wolfCrypt's own state layout.
void sha256_blocks(uint32_t h[8], const uint8_t* blocks, size_t n);

// "libcrypto (OpenSSL 3.0.19)" — static storage.
const char* libcrypto_version();

}  // namespace sluice::tls::bridge
