// What a client may send after the handshake (tls::PeerRecords), rule by rule.
#include "tls/peer_records.h"

#include <gtest/gtest.h>

#include <string>

using namespace sluice::tls;
using Kind = RecordAction::Kind;

namespace {
constexpr uint8_t kCcs = 20, kAlert = 21, kHs = 22, kData = 23;
std::string ku(char value) { return std::string("\x18\x00\x00\x01", 4) + value; }
std::string al(char level, char desc) { return {level, desc}; }
}  // namespace

TEST(PeerRecords, ApplicationData) {
    PeerRecords p(Version::Tls13);
    EXPECT_EQ(p.on_record(kData, std::string_view("GET")).kind, Kind::Deliver);
    for (unsigned i = 0; i < kMaxEmptyRecords; ++i)
        EXPECT_EQ(p.on_record(kData, std::string_view()).kind, Kind::Ignore) << i;
    const RecordAction a = p.on_record(kData, std::string_view());
    EXPECT_EQ(a.kind, Kind::Fatal);
    EXPECT_EQ(a.violation, Violation::TooManyEmptyRecords);
    PeerRecords q(Version::Tls13);
    for (unsigned i = 0; i < 3 * kMaxEmptyRecords; ++i) {
        ASSERT_NE(q.on_record(kData, std::string_view()).kind, Kind::Fatal);
        if (i % kMaxEmptyRecords == 0) q.on_record(kData, std::string_view("x"));  // resets
    }
}

TEST(PeerRecords, Alerts) {
    PeerRecords p13(Version::Tls13), p12(Version::Tls12);
    EXPECT_EQ(p13.on_record(kAlert, al(1, 0)).kind, Kind::CloseNotify);
    EXPECT_EQ(p13.on_record(kAlert, al(1, 90)).kind, Kind::Ignore);  // user_canceled
    EXPECT_EQ(p13.on_record(kAlert, al(1, 100)).kind, Kind::PeerAlert);  // 1.3: any other
    EXPECT_EQ(p13.on_record(kAlert, al(2, 20)).kind, Kind::PeerAlert);
    EXPECT_EQ(p12.on_record(kAlert, al(1, 100)).kind, Kind::Ignore);  // 1.2 warning
    EXPECT_EQ(p12.on_record(kAlert, al(2, 40)).kind, Kind::PeerAlert);
    EXPECT_EQ(p12.on_record(kAlert, al(2, 0)).kind, Kind::CloseNotify);
    EXPECT_EQ(p13.on_record(kAlert, std::string_view()).violation, Violation::ZeroLengthFragment);
    EXPECT_EQ(p13.on_record(kAlert, std::string_view("\x01", 1)).violation,
              Violation::MalformedAlert);
    EXPECT_EQ(p13.on_record(kAlert, std::string_view("\x01\x00\x00", 3)).violation,
              Violation::MalformedAlert);
    EXPECT_EQ(p13.on_record(kAlert, al(3, 0)).violation, Violation::MalformedAlert);
    PeerRecords w(Version::Tls12);
    for (unsigned i = 0; i < kMaxWarningAlerts; ++i)
        EXPECT_EQ(w.on_record(kAlert, al(1, 100)).kind, Kind::Ignore);
    EXPECT_EQ(w.on_record(kAlert, al(1, 100)).violation, Violation::TooManyWarnings);
}

TEST(PeerRecords, KeyUpdate) {
    PeerRecords p(Version::Tls13);
    RecordAction a = p.on_record(kHs, ku(0));
    EXPECT_EQ(a.kind, Kind::KeyUpdate);
    EXPECT_FALSE(a.update_requested);
    a = p.on_record(kHs, ku(1));
    EXPECT_EQ(a.kind, Kind::KeyUpdate);
    EXPECT_TRUE(a.update_requested);
    EXPECT_EQ(p.on_record(kHs, ku(2)).violation, Violation::BadKeyUpdateValue);
    EXPECT_EQ(p.on_record(kHs, std::string("\x18\x00\x00\x02\x00\x00", 6)).violation,
              Violation::MalformedHandshake);
    EXPECT_EQ(p.on_record(kHs, ku(0) + ku(0)).violation, Violation::KeyUpdateNotAtRecordEnd);
    // Split over two records (RFC 8446 §5.1): legal.
    PeerRecords s(Version::Tls13);
    EXPECT_EQ(s.on_record(kHs, std::string("\x18\x00", 2)).kind, Kind::Ignore);
    EXPECT_TRUE(s.mid_message());
    EXPECT_EQ(s.on_record(kHs, std::string("\x00\x01\x01", 3)).kind, Kind::KeyUpdate);
    EXPECT_FALSE(s.mid_message());
    // Another type inside the split message.
    PeerRecords i(Version::Tls13);
    i.on_record(kHs, std::string("\x18\x00", 2));
    EXPECT_EQ(i.on_record(kData, std::string_view("x")).violation, Violation::InterleavedRecord);
    // A flood without application data between.
    PeerRecords f(Version::Tls13);
    for (unsigned n = 0; n < kMaxKeyUpdates; ++n)
        ASSERT_EQ(f.on_record(kHs, ku(1)).kind, Kind::KeyUpdate) << n;
    EXPECT_EQ(f.on_record(kHs, ku(1)).violation, Violation::TooManyKeyUpdates);
    f.on_application_data();
    EXPECT_EQ(f.on_record(kHs, ku(1)).kind, Kind::KeyUpdate);
    // TLS 1.2 has no KeyUpdate.
    PeerRecords t12(Version::Tls12);
    EXPECT_EQ(t12.on_record(kHs, ku(0)).violation, Violation::UnexpectedHandshake);
}

TEST(PeerRecords, Renegotiation) {
    const std::string ch = std::string("\x01\x00\x00\x03", 4) + "abc";
    PeerRecords p(Version::Tls12);
    RecordAction a = p.on_record(kHs, ch);
    EXPECT_EQ(a.kind, Kind::Warn);
    EXPECT_EQ(a.warnings, 1u);
    a = p.on_record(kHs, ch + ch);  // coalesced
    EXPECT_EQ(a.warnings, 2u);
    for (unsigned n = 4; n < kMaxRenegotiationRefusals; ++n) p.on_record(kHs, ch);
    EXPECT_EQ(p.on_record(kHs, ch).kind, Kind::Warn);
    EXPECT_EQ(p.on_record(kHs, ch).violation, Violation::TooManyRenegotiations);
    PeerRecords t13(Version::Tls13);
    EXPECT_EQ(t13.on_record(kHs, ch).violation, Violation::UnexpectedHandshake);
}

TEST(PeerRecords, OtherTypesAndLimits) {
    PeerRecords p(Version::Tls13);
    EXPECT_EQ(p.on_record(kCcs, std::string_view("\x01", 1)).violation, Violation::UnexpectedCcs);
    EXPECT_EQ(p.on_record(99, std::string_view("x")).violation, Violation::UnexpectedRecordType);
    EXPECT_EQ(p.on_record(kHs, std::string_view()).violation, Violation::ZeroLengthFragment);
    // A handshake message announced over the limit is refused from its header.
    PeerRecords big(Version::Tls12);
    EXPECT_EQ(big.on_record(kHs, std::string("\x01\x01\x00\x01", 4)).violation,
              Violation::HandshakeTooLarge);
    // A legal-sized one split in many records is held, then refused when it completes as
    // something unexpected.
    PeerRecords held(Version::Tls13);
    EXPECT_EQ(held.on_record(kHs, std::string("\x14\x00\x10\x00", 4)).kind, Kind::Ignore);
    for (int n = 0; n < 3; ++n)
        EXPECT_EQ(held.on_record(kHs, std::string(1024, 'x')).kind, Kind::Ignore);
    EXPECT_EQ(held.on_record(kHs, std::string(1024, 'x')).violation,
              Violation::UnexpectedHandshake);
}
