// tls/alerts.h — every way a peer can break TLS, and the alert each one is answered with: one
// table (alerts.cc), the single place the handshake reader, the post-handshake record policy
// and the kTLS error path take their alert from (docs/hostile-peers.md lists the rows with
// their RFC sections). Plain data: no TLS library header.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::tls {

// TLS AlertDescription values (RFC 8446 §6, RFC 5246 §7.2, RFC 7301 §3.2).
namespace alert {
inline constexpr uint8_t kCloseNotify = 0;
inline constexpr uint8_t kUnexpectedMessage = 10;
inline constexpr uint8_t kBadRecordMac = 20;
inline constexpr uint8_t kRecordOverflow = 22;
inline constexpr uint8_t kHandshakeFailure = 40;
inline constexpr uint8_t kIllegalParameter = 47;
inline constexpr uint8_t kDecodeError = 50;
inline constexpr uint8_t kProtocolVersion = 70;
inline constexpr uint8_t kInternalError = 80;
inline constexpr uint8_t kUserCanceled = 90;
inline constexpr uint8_t kNoRenegotiation = 100;
inline constexpr uint8_t kMissingExtension = 109;
inline constexpr uint8_t kNoApplicationProtocol = 120;

inline constexpr uint8_t kLevelWarning = 1;
inline constexpr uint8_t kLevelFatal = 2;
}  // namespace alert

enum class Violation : uint8_t {
    // Record layer, any phase.
    UnexpectedRecordType,    // CCS/app data before the ClientHello, unknown content type
    BadRecordVersion,        // record header major version not 3 (before the handshake)
    RecordVersionMismatch,   // after the handshake: record version not 0x0303
    ZeroLengthFragment,      // empty handshake or alert record
    RecordTooLong,           // plaintext over 2^14 (or ciphertext over its limit)
    BadRecordMac,            // a record failed authentication
    NoContentType,           // TLS 1.3 inner plaintext all zeros
    TooManyEmptyRecords,     // more than kMaxEmptyRecords empty records in a row
    // The ClientHello.
    NotClientHello,          // first handshake message of another type
    HelloTooLarge,           // over kMaxClientHello
    TrailingHandshakeData,   // more handshake bytes in the ClientHello's record
    MalformedHello,          // fields that do not parse
    TruncatedHello,          // EOF in the middle of it
    NoCommonVersion,
    NoCommonSuite,
    NoCommonGroup,
    MissingExtension,        // TLS 1.3 without supported_groups/key_share/signature_algorithms
    BadKeyShare,             // wrong length or a low-order X25519 point
    BadCompression,          // TLS 1.3 legacy_compression_methods not exactly {0}
    NoApplicationProtocol,   // ALPN offered without http/1.1
    // After the handshake.
    UnexpectedCcs,           // change_cipher_spec after the handshake (or a second/bad one)
    MalformedAlert,          // alert record not 2 bytes
    MalformedHandshake,      // KeyUpdate body not 1 byte, bad handshake length
    BadKeyUpdateValue,       // request_update not 0 or 1
    KeyUpdateNotAtRecordEnd, // handshake bytes after a KeyUpdate in its record
    TooManyKeyUpdates,       // more than kMaxKeyUpdates without application data
    UnexpectedHandshake,     // a handshake message we never accept after the handshake
    InterleavedRecord,       // another type inside a fragmented handshake message
    HandshakeTooLarge,       // a post-handshake handshake message over kMaxPostHandshakeMessage
    TooManyWarnings,         // TLS 1.2: more than kMaxWarningAlerts warning alerts in a row
    TooManyRenegotiations,   // TLS 1.2: more ClientHellos than kMaxRenegotiationRefusals
    // Ours.
    KernelRefused,           // --ktls require and the kernel refused the keys
    Internal,                // anything else that is our fault
};

struct AlertRule {
    Violation v;
    uint8_t description;  // AlertDescription sent (level fatal)
    std::string_view name;  // for logs and counters
    std::string_view rfc;   // the section that names the alert
};

// The rule for a violation (every enumerator has exactly one).
const AlertRule& rule_for(Violation v);
inline uint8_t alert_for(Violation v) { return rule_for(v).description; }

// Errors of the userspace record layer (errno values, record/record.h) and of a kTLS recvmsg
// (net/tls: EBADMSG failed authentication or no content type, EMSGSIZE too long, EINVAL bad
// header) as violations.
Violation violation_for_errno(int code);

// Bounds on what a peer can make us hold or repeat (docs/hostile-peers.md).
// wolfSSL 5.5.4 refuses handshake messages above about 18 KiB (handshake_failure): the bound
// is one record's worth, refused by sluice itself with the RFC's alert.
inline constexpr uint32_t kMaxClientHello = 16 * 1024;
inline constexpr uint32_t kMaxPostHandshakeMessage = 64 * 1024;
inline constexpr unsigned kMaxEmptyRecords = 32;
inline constexpr unsigned kMaxKeyUpdates = 32;
inline constexpr unsigned kMaxWarningAlerts = 4;
inline constexpr unsigned kMaxRenegotiationRefusals = 16;

}  // namespace sluice::tls
