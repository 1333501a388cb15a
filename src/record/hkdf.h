// record/hkdf.h — TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) and the KeyUpdate key schedule.
// Contract: pure functions over byte spans, OpenSSL EVP_KDF "HKDF" (EXPAND_ONLY) underneath;
// outputs are caller-owned and the caller wipes them. Hash: SHA-384 for TLS_AES_256_GCM_SHA384,
// SHA-256 for the other two TLS 1.3 suites.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/result.h"
#include "tls/keys.h"

namespace sluice::record {

enum class Hash : uint8_t { Sha256, Sha384 };
constexpr Hash hash_for(tls::Cipher c) {
    return c == tls::Cipher::Aes256Gcm ? Hash::Sha384 : Hash::Sha256;
}
constexpr size_t hash_len(Hash h) { return h == Hash::Sha384 ? 48 : 32; }

// HKDF-Expand(secret, HkdfLabel{out.size(), "tls13 " + label, context}, out.size()).
Result<void> hkdf_expand_label(Hash h, std::span<const uint8_t> secret, std::string_view label,
                               std::span<const uint8_t> context, std::span<uint8_t> out);

// secret ← HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), then key/iv from it
// with the "key"/"iv" labels. `d` must hold a secret of hash_len(hash_for(c)) bytes
// (ENOTSUP when secret_len is 0, EINVAL when it has the wrong length). Sequence set to 0.
Result<void> next_traffic_keys(tls::Cipher c, tls::DirectionKeys& d);

}  // namespace sluice::record
