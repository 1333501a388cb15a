// tls/tickets.h — session-ticket encryption keys (TLS 1.2 tickets and TLS 1.3 PSK tickets).
// Contract:
//  - Key file format (like nginx ssl_session_ticket_key, 80-byte variant): the file is the
//    binary concatenation of one or more 80-byte keys; each key = name(16) | secret(64). The
//    FIRST key encrypts new tickets, every key decrypts. The AEAD key is
//    HKDF-SHA256(ikm = secret, info = "sluice ticket aead") -> 32 bytes, AES-256-GCM.
//    Ticket wire layout (inside wolfSSL's ticket struct): key_name(16) | iv(16: 12 random + 4
//    zero) | ciphertext (same length as the plaintext) | mac(32: 16-byte GCM tag + 16 zero);
//    AAD = key_name | iv | be32(plaintext length).
//  - Without a file: a random key is made in memory and rotated every 12 hours; the previous
//    key is kept for decryption, so a ticket stays usable for 12 to 24 hours.
//  - Thread-safe: one mutex around the key set (taken once per ticket, not per record).
//  - Decryption with an unknown name or a bad tag rejects the ticket (full handshake); a ticket
//    opened with an older key is accepted and a fresh one is issued.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::tls {

class TicketKeys {
public:
    static constexpr size_t kFileKeySize = 80;
    static constexpr std::chrono::hours kRotation{12};

    // file empty: random in-memory keys. The error is one line naming the file.
    static std::expected<std::unique_ptr<TicketKeys>, std::string> create(const std::string& file);
    ~TicketKeys();

    // Rereads the file (no-op success without a file). On error the old keys stay in use;
    // `code` gets the errno (EINVAL for a malformed file).
    std::expected<void, std::string> reload(int& code);

    // wolfSSL SessionTicketEncCb semantics; returns a WOLFSSL_TICKET_RET_* value.
    int process(bool enc, uint8_t name[16], uint8_t iv[16], uint8_t mac[32], uint8_t* ticket,
                int in_len, int* out_len);

    size_t key_count() const;
    bool from_file() const { return !file_.empty(); }

private:
    struct Key {
        uint8_t name[16];
        uint8_t aead[32];
    };
    explicit TicketKeys(std::string file) : file_(std::move(file)) {}
    static std::expected<std::vector<Key>, std::string> load(const std::string& file,
                                                             int& code);
    static bool derive(const uint8_t* secret64, Key& out);
    void rotate_if_due_locked();

    std::string file_;
    mutable std::mutex mu_;
    std::vector<Key> keys_;  // [0] encrypts
    std::chrono::steady_clock::time_point rotated_at_{};
};

}  // namespace sluice::tls
