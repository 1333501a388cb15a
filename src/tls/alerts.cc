#include "tls/alerts.h"

#include <cerrno>

namespace sluice::tls {

namespace {

using namespace alert;

// One row per Violation, in enumerator order (checked by the unit test).
constexpr AlertRule kRules[] = {
    {Violation::UnexpectedRecordType, kUnexpectedMessage, "unexpected_record_type",
     "RFC 8446 §5"},
    {Violation::BadRecordVersion, kProtocolVersion, "bad_record_version", "RFC 8446 §5.1"},
    {Violation::RecordVersionMismatch, kDecodeError, "record_version_mismatch",
     "RFC 8446 §5.1"},
    {Violation::ZeroLengthFragment, kUnexpectedMessage, "zero_length_fragment",
     "RFC 8446 §5.1"},
    {Violation::RecordTooLong, kRecordOverflow, "record_overflow", "RFC 8446 §5.2, §5.4"},
    {Violation::BadRecordMac, kBadRecordMac, "bad_record_mac", "RFC 8446 §5.2"},
    {Violation::NoContentType, kUnexpectedMessage, "no_content_type", "RFC 8446 §5.4"},
    {Violation::TooManyEmptyRecords, kUnexpectedMessage, "too_many_empty_records",
     "RFC 8446 §5.1"},
    {Violation::NotClientHello, kUnexpectedMessage, "not_client_hello", "RFC 8446 §4"},
    {Violation::HelloTooLarge, kIllegalParameter, "client_hello_too_large", "RFC 8446 §6.2"},
    {Violation::TrailingHandshakeData, kUnexpectedMessage, "trailing_handshake_data",
     "RFC 8446 §5.1"},
    {Violation::MalformedHello, kDecodeError, "malformed_client_hello", "RFC 8446 §6.2"},
    {Violation::TruncatedHello, kDecodeError, "truncated_client_hello", "RFC 8446 §6.2"},
    {Violation::NoCommonVersion, kProtocolVersion, "no_common_version", "RFC 8446 §4.2.1"},
    {Violation::NoCommonSuite, kHandshakeFailure, "no_common_suite", "RFC 8446 §4.1.1"},
    {Violation::NoCommonGroup, kHandshakeFailure, "no_common_group", "RFC 8446 §4.1.1"},
    {Violation::MissingExtension, kMissingExtension, "missing_extension", "RFC 8446 §9.2"},
    {Violation::BadKeyShare, kIllegalParameter, "bad_key_share",
     "RFC 8446 §4.2.8.2, RFC 7748 §6.1"},
    {Violation::BadCompression, kIllegalParameter, "bad_compression", "RFC 8446 §4.1.2"},
    {Violation::NoApplicationProtocol, kNoApplicationProtocol, "no_application_protocol",
     "RFC 7301 §3.2"},
    {Violation::UnexpectedCcs, kUnexpectedMessage, "unexpected_change_cipher_spec",
     "RFC 8446 §5"},
    {Violation::MalformedAlert, kDecodeError, "malformed_alert", "RFC 8446 §6"},
    {Violation::MalformedHandshake, kDecodeError, "malformed_handshake", "RFC 8446 §4.6.3"},
    {Violation::BadKeyUpdateValue, kIllegalParameter, "bad_key_update_value",
     "RFC 8446 §4.6.3"},
    {Violation::KeyUpdateNotAtRecordEnd, kUnexpectedMessage, "key_update_not_at_record_end",
     "RFC 8446 §5.1"},
    {Violation::TooManyKeyUpdates, kUnexpectedMessage, "too_many_key_updates",
     "RFC 8446 §4.6.3"},
    {Violation::UnexpectedHandshake, kUnexpectedMessage, "unexpected_handshake_message",
     "RFC 8446 §4.6"},
    {Violation::InterleavedRecord, kUnexpectedMessage, "interleaved_record", "RFC 8446 §5.1"},
    {Violation::HandshakeTooLarge, kIllegalParameter, "handshake_message_too_large",
     "RFC 8446 §6.2"},
    {Violation::TooManyWarnings, kUnexpectedMessage, "too_many_warning_alerts",
     "RFC 5246 §7.2"},
    {Violation::TooManyRenegotiations, kHandshakeFailure, "too_many_renegotiations",
     "RFC 5246 §7.2.2"},
    {Violation::KernelRefused, kInternalError, "kernel_refused_keys", "RFC 8446 §6.2"},
    {Violation::Internal, kInternalError, "internal_error", "RFC 8446 §6.2"},
};

static_assert(sizeof kRules / sizeof kRules[0] == static_cast<size_t>(Violation::Internal) + 1,
              "one rule per Violation");

}  // namespace

const AlertRule& rule_for(Violation v) {
    const auto i = static_cast<size_t>(v);
    return i < sizeof kRules / sizeof kRules[0] ? kRules[i] : kRules[sizeof kRules /
                                                                   sizeof kRules[0] - 1];
}

Violation violation_for_errno(int code) {
    switch (code) {
    case EBADMSG: return Violation::BadRecordMac;
    case EMSGSIZE: return Violation::RecordTooLong;
    case EPROTO: return Violation::RecordVersionMismatch;
    case EINVAL: return Violation::RecordVersionMismatch;
    case ENOMSG: return Violation::UnexpectedRecordType;
    default: return Violation::Internal;
    }
}

}  // namespace sluice::tls
