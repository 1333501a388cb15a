#include "tls/peer_records.h"

namespace sluice::tls {

namespace {
constexpr uint8_t kCcs = 20, kAlert = 21, kHandshake = 22, kAppData = 23;
constexpr uint8_t kClientHello = 1, kKeyUpdate = 24;

RecordAction act(RecordAction::Kind k) {
    RecordAction a;
    a.kind = k;
    return a;
}
}  // namespace

RecordAction PeerRecords::on_record(uint8_t type, std::span<const uint8_t> p) {
    // RFC 8446 §5.1: a handshake message split over records admits no other record between.
    if (!hs_.empty() && type != kHandshake) return fatal(Violation::InterleavedRecord);
    switch (type) {
    case kAppData:
        if (p.empty()) {
            // Legal, and a free way to keep a server busy: bounded like OpenSSL does.
            if (++empty_run_ > kMaxEmptyRecords) return fatal(Violation::TooManyEmptyRecords);
            return act(RecordAction::Kind::Ignore);
        }
        on_application_data();
        return act(RecordAction::Kind::Deliver);
    case kAlert: {
        if (p.empty()) return fatal(Violation::ZeroLengthFragment);
        if (p.size() != 2) return fatal(Violation::MalformedAlert);
        const uint8_t level = p[0], desc = p[1];
        if (level != alert::kLevelWarning && level != alert::kLevelFatal)
            return fatal(Violation::MalformedAlert);
        if (desc == alert::kCloseNotify) return act(RecordAction::Kind::CloseNotify);
        // TLS 1.3 §6.1: user_canceled is followed by close_notify; every other alert is an
        // error whatever its level. TLS 1.2: warnings are survivable, fatal ones are not.
        const bool tolerated = version_ == Version::Tls13 ? desc == alert::kUserCanceled
                                                           : level == alert::kLevelWarning;
        if (!tolerated) return act(RecordAction::Kind::PeerAlert);
        if (++warnings_ > kMaxWarningAlerts) return fatal(Violation::TooManyWarnings);
        return act(RecordAction::Kind::Ignore);
    }
    case kHandshake:
        if (p.empty()) return fatal(Violation::ZeroLengthFragment);
        return handshake(p);
    case kCcs:
        return fatal(Violation::UnexpectedCcs);
    default:
        return fatal(Violation::UnexpectedRecordType);
    }
}

RecordAction PeerRecords::handshake(std::span<const uint8_t> p) {
    RecordAction out = act(RecordAction::Kind::Ignore);
    // Whole messages straight from the record; only a split one is copied.
    std::span<const uint8_t> in = p;
    if (!hs_.empty()) {
        if (hs_.size() + p.size() > 4 + kMaxPostHandshakeMessage)
            return fatal(Violation::HandshakeTooLarge);
        hs_.append(reinterpret_cast<const char*>(p.data()), p.size());
        in = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(hs_.data()), hs_.size());
    }
    size_t pos = 0;
    while (in.size() - pos >= 4) {
        const uint8_t type = in[pos];
        const size_t len = (size_t{in[pos + 1]} << 16) | (size_t{in[pos + 2]} << 8) | in[pos + 3];
        if (len > kMaxPostHandshakeMessage) return fatal(Violation::HandshakeTooLarge);
        if (in.size() - pos < 4 + len) break;
        const std::span<const uint8_t> body = in.subspan(pos + 4, len);
        pos += 4 + len;
        if (version_ == Version::Tls13 && type == kKeyUpdate) {
            if (len != 1) return fatal(Violation::MalformedHandshake);
            if (body[0] > 1) return fatal(Violation::BadKeyUpdateValue);
            // RFC 8446 §5.1: the next record is under the new key, so the message must end
            // its record.
            if (pos != in.size()) return fatal(Violation::KeyUpdateNotAtRecordEnd);
            if (++key_updates_ > kMaxKeyUpdates) return fatal(Violation::TooManyKeyUpdates);
            hs_.clear();
            out.kind = RecordAction::Kind::KeyUpdate;
            out.update_requested = body[0] == 1;
            return out;
        }
        if (version_ == Version::Tls12 && type == kClientHello) {
            // Renegotiation is never done; RFC 5246 §7.2.2 lets a server refuse it with a
            // warning and go on.
            if (++renegotiations_ > kMaxRenegotiationRefusals)
                return fatal(Violation::TooManyRenegotiations);
            out.kind = RecordAction::Kind::Warn;
            ++out.warnings;
            continue;
        }
        return fatal(Violation::UnexpectedHandshake);
    }
    // Keep the unfinished tail (if any) for the next record.
    const std::span<const uint8_t> tail = in.subspan(pos);
    if (tail.size() >= 4) {
        const size_t len =
            (size_t{tail[1]} << 16) | (size_t{tail[2]} << 8) | tail[3];
        if (len > kMaxPostHandshakeMessage) return fatal(Violation::HandshakeTooLarge);
    }
    std::string rest(reinterpret_cast<const char*>(tail.data()), tail.size());
    hs_.swap(rest);
    return out;
}

}  // namespace sluice::tls
