// record/record.h — userspace TLS record layer for after the handshake (no kTLS, or mixed mode).
// Contract: byte-for-byte the records the kernel would write and accept (docs/ktls-facts.md §6):
//  - TLS 1.2 AES-GCM: header(5) | explicit nonce = seq BE (8) | ciphertext | tag(16);
//    nonce = salt(4) | explicit; AAD = seq | type | 0x0303 | plaintext length.
//  - TLS 1.2 ChaCha20-Poly1305 (RFC 7905): no explicit nonce; nonce = iv XOR (0⁴ | seq).
//  - TLS 1.3: outer type 23, version 0x0303, inner = content | real type (we never pad);
//    nonce = iv XOR (0⁴ | seq); AAD = the 5-byte header.
// Sealer::seal appends complete records (≤ 16 KiB plaintext each, longer input is split) to a
// caller-owned std::string. Opener accepts ciphertext split anywhere and yields one record per
// next() call. One EVP_CIPHER_CTX per direction is keyed once; per record only the nonce is set;
// no allocation per record. Errors are errno values, sticky on the Opener (like the kernel);
// tls::violation_for_errno (tls/alerts.h) turns them into the alert to send:
//   EBADMSG  bad_record_mac      (authentication failure, record too short)
//   EMSGSIZE record_overflow     (ciphertext or plaintext over the limit)
//   EPROTO   decode_error        (header version is not 0x0303, malformed KeyUpdate)
//   ENOMSG   unexpected_message  (TLS 1.3 outer type not 23, no/unknown inner type)
//   EINVAL   illegal_parameter   (bad KeyUpdate value, inconsistent keys)
//   EOVERFLOW sequence number exhausted (close the connection)
//   ENOTSUP  KeyUpdate without a traffic secret, or on TLS 1.2
// This header never includes OpenSSL (server TUs also include wolfSSL, and the two clash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "tls/keys.h"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX

namespace sluice::record {

inline constexpr size_t kHeaderLen = 5;
inline constexpr size_t kTagLen = 16;
inline constexpr size_t kMaxPlaintext = 16384;
inline constexpr size_t kMaxCiphertext12 = kMaxPlaintext + 2048;  // RFC 5246 §6.2.3
inline constexpr size_t kMaxCiphertext13 = kMaxPlaintext + 256;   // RFC 8446 §5.2

enum class ContentType : uint8_t {
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
};

namespace detail {
struct CtxFree {
    void operator()(evp_cipher_ctx_st* c) const;
};

// One direction's AEAD state: keyed context, static IV (or salt), sequence, traffic secret.
class Direction {
public:
    Direction() = default;
    Direction(const Direction&) = delete;
    Direction& operator=(const Direction&) = delete;
    ~Direction();

    Result<void> init(const tls::TrafficKeys& keys, const tls::DirectionKeys& d, bool encrypt);
    Result<void> update_key();
    // nonce for sequence `seq` (TLS 1.2 GCM: salt | explicit, with explicit passed in).
    void nonce(uint64_t seq, const uint8_t* explicit_nonce, uint8_t out[12]) const;

    std::unique_ptr<evp_cipher_ctx_st, CtxFree> ctx;
    tls::Version version = tls::Version::Tls13;
    tls::Cipher cipher = tls::Cipher::Aes128Gcm;
    bool encrypt = false;
    bool explicit_nonce = false;  // TLS 1.2 AES-GCM
    uint64_t seq = 0;
    uint8_t iv[12] = {};
    uint8_t secret[48] = {};
    uint8_t secret_len = 0;
};
}  // namespace detail

class Sealer {
public:
    // Uses keys.tx (server write key, IV, next sequence number).
    static Result<std::unique_ptr<Sealer>> make(const tls::TrafficKeys& keys);

    // Appends ceil(len/16384) records (one empty record for empty input). `plaintext` must not
    // point into `out`. On error nothing is appended.
    Result<void> seal(ContentType type, std::span<const uint8_t> plaintext, std::string& out);
    Result<void> seal(ContentType type, std::string_view plaintext, std::string& out);
    // One record whose plaintext is `parts` in order (at most kMaxPlaintext bytes in all): an
    // HTTP/2 frame header from memory and its payload from a file mapping, sealed without
    // first copying them together. None of `parts` may point into `out`.
    Result<void> seal_parts(ContentType type, std::span<const std::string_view> parts,
                            std::string& out);

    // Bytes seal() appends for `plaintext_len` bytes of input (to reserve buffers).
    static size_t sealed_size(tls::Version v, tls::Cipher c, size_t plaintext_len);
    [[nodiscard]] size_t sealed_size(size_t plaintext_len) const {
        return sealed_size(dir_.version, dir_.cipher, plaintext_len);
    }

    // TLS 1.3: switch to the next traffic secret (send the KeyUpdate message first, under the
    // old key). Sequence restarts at 0.
    Result<void> update_key() { return dir_.update_key(); }

    [[nodiscard]] uint64_t seq() const { return dir_.seq; }
    [[nodiscard]] uint64_t bytes_sealed() const { return bytes_; }      // plaintext bytes
    [[nodiscard]] uint64_t records_sealed() const { return records_; }

private:
    Sealer() = default;
    bool seal_one(ContentType type, std::span<const std::string_view> parts, size_t n,
                  uint8_t* out);

    detail::Direction dir_;
    uint64_t bytes_ = 0;
    uint64_t records_ = 0;
};

struct Record {
    ContentType type;
    std::span<const uint8_t> plaintext;  // valid until the next feed() or next()
    [[nodiscard]] std::string_view text() const {
        return {reinterpret_cast<const char*>(plaintext.data()), plaintext.size()};
    }
};

class Opener {
public:
    // Uses keys.rx (client write key, IV, next expected sequence number).
    static Result<std::unique_ptr<Opener>> make(const tls::TrafficKeys& keys);

    // Buffers ciphertext (any split). Invalidates the last Record's plaintext.
    void feed(std::span<const uint8_t> bytes);
    void feed(std::string_view bytes);
    // The next complete record, nullopt when more bytes are needed, or a sticky error.
    // Decrypts in place in the input buffer.
    Result<std::optional<Record>> next();

    // TLS 1.3: after a KeyUpdate record was returned; records already fed but not yet
    // returned are opened with the new key. Sequence restarts at 0.
    Result<void> update_key() { return dir_.update_key(); }

    [[nodiscard]] uint64_t seq() const { return dir_.seq; }
    [[nodiscard]] size_t buffered() const { return in_.size() - pos_; }  // unopened bytes
    [[nodiscard]] uint64_t bytes_opened() const { return bytes_; }

private:
    Opener() = default;
    Result<std::optional<Record>> fail_sticky(int code);

    detail::Direction dir_;
    std::string in_;  // ciphertext; [pos_, size) not yet opened
    size_t pos_ = 0;
    int error_ = 0;
    uint64_t bytes_ = 0;
};

Result<std::unique_ptr<Sealer>> make_sealer(const tls::TrafficKeys& keys);
Result<std::unique_ptr<Opener>> make_opener(const tls::TrafficKeys& keys);

// Both directions of one connection.
class RecordLayer {
public:
    static Result<RecordLayer> make(const tls::TrafficKeys& keys);

    Sealer& tx() { return *tx_; }
    Opener& rx() { return *rx_; }
    Result<void> update_tx_key() { return tx_->update_key(); }
    Result<void> update_rx_key() { return rx_->update_key(); }

private:
    std::unique_ptr<Sealer> tx_;
    std::unique_ptr<Opener> rx_;
};

}  // namespace sluice::record
