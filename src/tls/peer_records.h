// tls/peer_records.h — what a client may send after the handshake, record by record: the same
// rules for records opened by the userspace layer and for the non-data records kTLS hands up
// (docs/hostile-peers.md, "After the handshake"). Sans-I/O and allocation-free except for a
// fragmented handshake message (bounded by kMaxPostHandshakeMessage). No TLS library here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tls/alerts.h"
#include "tls/keys.h"

namespace sluice::tls {

struct RecordAction {
    enum class Kind : uint8_t {
        Deliver,      // application data for HTTP
        Ignore,       // nothing to do (empty data, a tolerated warning, a fragment so far)
        CloseNotify,  // the peer's end of input: answer what came before, then close_notify
        PeerAlert,    // the peer aborted: close at once, write nothing
        KeyUpdate,    // TLS 1.3: switch the receive key (and ours if update_requested)
        Warn,         // send `warnings` no_renegotiation warnings, carry on
        Fatal,        // send the violation's alert, close at once
    };
    Kind kind = Kind::Ignore;
    bool update_requested = false;  // KeyUpdate
    unsigned warnings = 0;          // Warn
    Violation violation = Violation::Internal;  // Fatal
};

class PeerRecords {
public:
    explicit PeerRecords(Version v) : version_(v) {}

    // One record's content type and plaintext (as decrypted; TLS 1.3 padding removed).
    RecordAction on_record(uint8_t type, std::span<const uint8_t> plaintext);
    RecordAction on_record(uint8_t type, std::string_view plaintext) {
        return on_record(type, std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(plaintext.data()),
                                   plaintext.size()));
    }
    // Application data that bypassed on_record (kTLS hands data up without a record view).
    void on_application_data() { empty_run_ = key_updates_ = warnings_ = 0; }
    [[nodiscard]] bool mid_message() const { return !hs_.empty(); }

private:
    RecordAction handshake(std::span<const uint8_t> data);
    static RecordAction fatal(Violation v) {
        RecordAction a;
        a.kind = RecordAction::Kind::Fatal;
        a.violation = v;
        return a;
    }

    Version version_;
    std::string hs_;  // a handshake message split over records, until it is whole
    unsigned empty_run_ = 0;
    unsigned key_updates_ = 0;
    unsigned warnings_ = 0;
    unsigned renegotiations_ = 0;
};

}  // namespace sluice::tls
