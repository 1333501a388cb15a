// tls/keys.h — the session keys a finished handshake hands to a record layer (kernel or
// userspace). Plain data, no TLS library types, so ktls/ and record/ can use it without
// including wolfSSL. Every copy wipes itself on destruction; never log it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::tls {

enum class Version : uint16_t { Tls12 = 0x0303, Tls13 = 0x0304 };
enum class Cipher : uint8_t { Aes128Gcm, Aes256Gcm, Chacha20Poly1305 };

constexpr size_t key_len(Cipher c) { return c == Cipher::Aes128Gcm ? 16 : 32; }
// Length of the fixed IV a record layer needs: TLS 1.2 AES-GCM uses a 4-byte implicit salt
// (the other 8 bytes are the explicit per-record nonce); everything else a 12-byte IV.
constexpr size_t iv_len(Version v, Cipher c) {
    return (v == Version::Tls12 && c != Cipher::Chacha20Poly1305) ? 4 : 12;
}
std::string_view version_name(Version v);  // "TLSv1.2" / "TLSv1.3"
std::string_view cipher_name(Cipher c);    // "AES128-GCM" / "AES256-GCM" / "CHACHA20-POLY1305"

// One direction (server→client = tx, client→server = rx).
struct DirectionKeys {
    uint8_t key[32] = {};
    uint8_t iv[12] = {};     // first iv_len() bytes used
    uint64_t seq = 0;        // next record sequence number in this direction
    // TLS 1.3 only: the current traffic secret (HKDF hash length: 32 for SHA-256 suites, 48 for
    // SHA-384), kept so KeyUpdate can derive the next key in userspace. 0 when unavailable.
    uint8_t secret[48] = {};
    uint8_t secret_len = 0;
};

struct TrafficKeys {
    Version version = Version::Tls13;
    Cipher cipher = Cipher::Aes128Gcm;
    DirectionKeys tx;
    DirectionKeys rx;

    TrafficKeys() = default;
    TrafficKeys(const TrafficKeys&) = default;
    TrafficKeys& operator=(const TrafficKeys&) = default;
    ~TrafficKeys() { wipe(); }
    void wipe();  // explicit_bzero of both directions
};

// explicit_bzero wrapper usable from every module (never optimised away).
void secure_wipe(void* p, size_t n);

}  // namespace sluice::tls
