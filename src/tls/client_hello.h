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
    [[nodiscard]] uint16_t record_version() const { return record_version_; }

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
    uint16_t record_version_ = 0;  // of the hello's first record, kept when re-framing
    ClientHelloInfo info_;
};

// What the server allows (from tls::Context).
struct HelloPolicy {
    bool tls12 = true, tls13 = true;
    std::span<const uint16_t> suites12;  // every TLS 1.2 suite some certificate can use
    std::span<const uint16_t> suites13;
    bool h2 = false;  // ALPN "h2" is served too (--http2 on), and preferred
};

// The ALPN protocol to answer with: "h2" when allowed and offered (whatever the client's
// order: RFC 7301 §3.2 lets the server choose), else "http/1.1"; "" without ALPN.
std::string_view choose_alpn(const ClientHelloInfo& h, const HelloPolicy& p);

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

// What the client sends after its ClientHello, until wolfSSL has finished the handshake, is
// normalised before wolfSSL reads it (`out`): plaintext handshake records (a TLS 1.2
// ClientKeyExchange, a second ClientHello after a HelloRetryRequest) are reassembled and
// re-framed one message per record, like the first hello; change_cipher_spec must be the one
// byte 01 (and, in TLS 1.3, come once); TLS 1.2 allows no application data before the client's
// CCS; unknown record types are refused. Records wolfSSL must decrypt pass through as they are,
// and in TLS 1.2 everything after the client's CCS does.
// A violation: in TLS 1.2 (the server's flight is still plaintext) Fatal, and the caller
// sends the plaintext alert. In TLS 1.3 the client already reads our records under the
// handshake keys, which only wolfSSL holds, so the violation is handed to wolfSSL as a
// plaintext handshake record after the ServerHello — which it answers, encrypted, with
// unexpected_message — and everything after it is dropped (Poisoned).
// TLS 1.3: the client's records under its handshake traffic key, opened and sealed by the
// caller (the key is derived in session.cc from wolfSSL's secret). wolfSSL 5.5.4 cannot
// reassemble an encrypted handshake message whose 4-byte header is split across records (it
// closes without an alert); with this, every message reaches it whole in a record of its own.
class HandshakeCrypto {
public:
    virtual ~HandshakeCrypto() = default;
    // Body length of a record that holds exactly the client's Finished (and nothing else):
    // such a record is passed on unopened, so a client that does not fragment costs nothing.
    virtual size_t finished_record_len() const = 0;
    // One record (5-byte header + body) under sequence `seq`: its inner type and plaintext.
    virtual bool open(uint64_t seq, std::string_view record, uint8_t& type, std::string& plain) = 0;
    // Appends one record of inner type `type` under sequence `seq`.
    virtual bool seal(uint64_t seq, uint8_t type, std::string_view plain, std::string& out) = 0;
};

class HandshakeInput {
public:
    enum class Status { Ok, Fatal, Poisoned };

    explicit HandshakeInput(uint16_t version) : tls13_(version == 0x0304) {}
    // From now on (TLS 1.3) the client's encrypted records are re-framed until its Finished.
    void set_crypto(HandshakeCrypto* c) { crypto_ = c; }
    // The server's flight is encrypted from now on (its ServerHello went out): violations are
    // answered by wolfSSL (Poisoned), no longer in plaintext.
    void server_encrypts() { encrypted_ = true; }
    // A HelloRetryRequest asked for `group`: the next ClientHello must offer exactly it.
    void expect_retry_group(uint16_t group) { retry_group_ = group; }
    [[nodiscard]] bool has_crypto() const { return crypto_ != nullptr; }
    Status feed(std::string_view in, std::string& out);
    [[nodiscard]] Violation violation() const { return violation_; }
    // Raw bytes held back so far (a partial record header or handshake record): they belong
    // to the stream after the handshake if it ends here.
    [[nodiscard]] std::string pending() const;

private:
    enum class Mode : uint8_t { Pass, Handshake, Ccs, Sealed };
    Status refuse(Violation v, std::string& out);
    bool decide(std::string& out, Violation& v);
    bool finish_record(std::string& out, Violation& v);
    bool finish_sealed(std::string& out, Violation& v);
    bool retry_hello_ok(std::string_view msg, Violation& v) const;

    bool tls13_;
    bool through_ = false;  // TLS 1.2 after the client's CCS
    Status status_ = Status::Ok;
    Violation violation_ = Violation::Internal;
    uint8_t hdr_[5] = {};
    size_t hdr_n_ = 0;
    size_t left_ = 0;
    Mode mode_ = Mode::Pass;
    std::string frag_;       // plaintext handshake bytes not yet a whole message
    size_t rec_start_ = 0;   // where in frag_ the current record's body began
    uint8_t ccs_value_ = 0;
    unsigned ccs_seen_ = 0;
    unsigned messages_ = 0;   // plaintext handshake messages passed on
    HandshakeCrypto* crypto_ = nullptr;
    std::string sealed_;      // the encrypted record being received
    std::string plain_;       // TLS 1.3 handshake plaintext not yet a whole message
    uint64_t seq_in_ = 0, seq_out_ = 0;
    bool keys_done_ = false;  // the client's Finished went out: application keys follow
    bool encrypted_ = false;
    uint16_t retry_group_ = 0;
};

// The handshake message as plaintext handshake records (at most 2^14 bytes each).
std::string reframe(std::string_view message, uint16_t record_version = 0x0303);

}  // namespace sluice::tls
