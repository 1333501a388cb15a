// tls/accel.h — libcrypto as a wolfCrypt crypto device ("Who does the crypto", docs/design.md).
// Debian's wolfSSL is built without assembly; this device hands the handshake's heavy math to
// OpenSSL's libcrypto through wolfCrypt's WOLF_CRYPTO_CB interface:
//   X25519 keygen + shared secret, ECC P-256/P-384/P-521 keygen + ECDH + ECDSA sign,
//   RSA private-key operations (PKCS#1 v1.5 and PSS signing, RSA decrypt: wolfSSL pads, the
//   device does the raw modular exponentiation), AES-GCM encrypt/decrypt (handshake records and
//   any userspace records wolfSSL protects itself), random bytes and DRBG seeds; and, through
//   wolfSSL's HKDF-Expand-Label callback (tls::Session), TLS 1.3's HKDF-Expand.
// SHA-256 runs on libcrypto's block function with the state kept in wolfCrypt's own struct.
// Everything else (SHA-384, verification, ChaCha) stays in wolfCrypt software.
// Any libcrypto failure makes the device decline the operation, so wolfCrypt redoes it in
// software; only an AES-GCM tag mismatch is reported as an error (AES_GCM_AUTH_E).
//
// Use: int id = sluice_tls_accel_register(); if (id >= 0) wolfSSL_CTX_SetDevId(ctx, id);
// No library headers here; the wolfSSL side is accel_wolf.cc, the libcrypto side accel_ossl.cc.
#pragma once

#include <cstdint>

namespace sluice::tls {

// Registers the device with wolfCrypt (calls wolfCrypt_Init first, so it may run before or
// after wolfSSL_Init). Idempotent and thread-safe; returns the devId (≥ 0) to pass to
// wolfSSL_CTX_SetDevId / wc_*_init_ex, or a negative wolfCrypt error code. A full
// wolfSSL_Cleanup()/wolfCrypt_Cleanup() that drops wolfCrypt's init count to zero forgets the
// device; don't do that while contexts use it.
extern "C++" int sluice_tls_accel_register();

// e.g. "libcrypto (OpenSSL 3.0.19): x25519, p256/p384/p521 keygen+ecdh+ecdsa-sign,
// rsa-private (pkcs1/pss), aes-gcm". Static storage; valid without register().
const char* sluice_tls_accel_describe();

// Operations the device completed itself (monotonic, process-wide, relaxed atomics), and the
// ones it declined after trying (libcrypto failed → software fallback). For tests and stats.
struct AccelCounters {
    uint64_t x25519_keygen = 0;
    uint64_t x25519_derive = 0;
    uint64_t ec_keygen = 0;
    uint64_t ecdh = 0;
    uint64_t ecdsa_sign = 0;
    uint64_t rsa_private = 0;
    uint64_t aes_gcm_encrypt = 0;
    uint64_t aes_gcm_decrypt = 0;
    uint64_t random = 0;  // WC_RNG generate calls served by libcrypto
    uint64_t seed = 0;    // WC_RNG seeds (one per WOLFSSL)
    uint64_t hkdf_expand = 0;  // TLS 1.3 HKDF-Expand-Label computed by libcrypto (tls::Session)
    uint64_t sha256_final = 0;  // SHA-256 digests finished with libcrypto's block function
    uint64_t fallbacks = 0;
};
AccelCounters sluice_tls_accel_counters();

// Two things wolfSSL 5.5.4 makes without a device id, so they would skip the device:
//   - TLS 1.3 X25519 key shares (wolfCrypt software: ~90 µs each here, ~47 µs in libcrypto);
//   - each WOLFSSL's RNG, a Hash_DRBG with its own /dev/urandom seed, self-test and
//     instantiation (~5 % of a full handshake) although the device serves every generate call.
// While a DeviceRoute is alive on a thread, accel_wolf.cc's definitions of
// wc_curve25519_make_key and wc_InitRng_ex give such keys the route's device id and set up
// RNGs for that device without a DRBG (should the device ever fail, wolfCrypt's own generate
// path then refuses: its status is not DRBG_OK). Scope it around wolfSSL_new and
// wolfSSL_accept.
class DeviceRoute {
public:
    explicit DeviceRoute(int dev);
    ~DeviceRoute();
    DeviceRoute(const DeviceRoute&) = delete;
    DeviceRoute& operator=(const DeviceRoute&) = delete;

private:
    int prev_;
};

// True when the interposition is in effect in this process (the executable exports
// wc_curve25519_make_key and libwolfssl binds to it). False means TLS 1.3 X25519 stays in
// wolfCrypt software; everything still works.
bool sluice_tls_accel_x25519_routed();
bool sluice_tls_accel_rng_routed();  // the same for wc_InitRng_ex

}  // namespace sluice::tls
