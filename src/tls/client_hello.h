// tls/client_hello.h — the server's first reader of a connection: plaintext records up to the
// end of the ClientHello, before wolfSSL sees a byte (no TLS library here).
// Contract:
//  - HelloReader is fed every byte as it arrives, incrementally: each byte is looked at once
//    (a ClientHello in 1-byte records costs linear time), and it holds at most the reassembled
//    ClientHello (kMaxClientHello + 4 bytes), refusing a larger one as soon as its length is
//    read. Record-level rules (types, versions, lengths) are checked per record header.
//  - Ok: message() is the whole ClientHello (handshake header included), rest_offset() the
//    number of fed bytes up to the end of its last record; the caller hands wolfSSL
//    reframe(message()) followed by the bytes after rest_offset(), so wolfSSL never sees how
//    the client fragmented its hello (RFC 8446 §5.1 allows any fragmentation).
//  - Fatal: violation() says which rule; the caller sends its alert (tls/alerts.h) in plaintext.
//  - PeerAlert: the client sent an alert before its hello: close, write nothing.
//  - check_hello() then applies the negotiation rules sluice answers itself (version, suites,
//    groups, key shares, required extensions, ALPN) so each gets the alert the RFCs name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tls/alerts.h"

namespace sluice::tls {

struct KeyShare {
    uint16_t group = 0;
    std::string key;
};

struct ClientHelloInfo {
    uint16_t legacy_version = 0;
    uint8_t session_id_len = 0;      // non-zero: middlebox compatibility mode (RFC 8446 D.4)
    std::string sni;                 // lower-cased host_name, empty when absent
    std::vector<uint16_t> sigalgs;   // signature_algorithms (empty when absent)
    std::vector<uint16_t> versions;  // supported_versions (empty when absent: TLS <= 1.2)
    std::vector<uint16_t> suites;    // cipher_suites
    std::vector<uint16_t> groups;    // supported_groups (empty when absent)
    std::vector<uint8_t> compression;
    std::vector<KeyShare> key_shares;
    std::vector<std::string> alpn;   // protocol names offered
    bool has_sigalgs = false, has_groups = false, has_key_share = false;
    bool has_alpn = false, has_psk = false, has_psk_modes = false, has_versions = false;
};

class HelloReader {
public:
    enum class Status { NeedMore, Ok, Fatal, PeerAlert };

    // Consumes `in` (the next bytes from the socket). After Ok/Fatal/PeerAlert further input
    // is ignored.
    Status feed(std::string_view in);
    // The peer closed: a partial hello is TruncatedHello (Fatal); nothing at all stays NeedMore.
    Status eof();

    [[nodiscard]] Status status() const { return status_; }
    [[nodiscard]] Violation violation() const { return violation_; }
    [[nodiscard]] size_t need() const;  // bytes still wanted for the next step (>= 1)
    [[nodiscard]] bool started() const { return fed_ > 0; }
    [[nodiscard]] const ClientHelloInfo& info() const { return info_; }
    [[nodiscard]] std::string_view message() const { return msg_; }
    [[nodiscard]] size_t rest_offset() const { return end_; }

private:
    Status fail(Violation v);
    bool finish_message();

    Status status_ = Status::NeedMore;
    Violation violation_ = Violation::Internal;
    uint8_t hdr_[5] = {};
    size_t hdr_n_ = 0;
    size_t rec_left_ = 0;  // body bytes of the current record still to come
    std::string msg_;      // the reassembled handshake message
    size_t msg_len_ = 0;   // body length, known once msg_ has 4 bytes
    size_t fed_ = 0;
    size_t end_ = 0;
    ClientHelloInfo info_;
};

// What the server allows (from tls::Context).
struct HelloPolicy {
    bool tls12 = true, tls13 = true;
    std::span<const uint16_t> suites12;  // every TLS 1.2 suite some certificate can use
    std::span<const uint16_t> suites13;
    std::string_view alpn = "http/1.1";
};

// The version sluice will negotiate, or the violation that stops the handshake first
// (docs/hostile-peers.md, "Before the ClientHello is complete").
struct HelloVerdict {
    std::optional<Violation> violation;
    uint16_t version = 0;  // 0x0303 / 0x0304 when no violation
};
HelloVerdict check_hello(const ClientHelloInfo& h, const HelloPolicy& p);

// True for an X25519 public value whose shared secret with any private key is all zeros
// (RFC 7748 §6.1; the seven small-order u-coordinates, bit 255 ignored).
bool x25519_low_order(std::string_view key);

// The handshake message as plaintext handshake records (legacy version 0x0301, at most 2^14
// bytes each).
std::string reframe(std::string_view message);

}  // namespace sluice::tls
