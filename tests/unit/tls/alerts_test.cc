// The violation → alert table: one case per row (docs/hostile-peers.md), and the errno
// mapping shared by the userspace record layer and kTLS.
#include "tls/alerts.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

using namespace sluice::tls;

namespace {
struct Row {
    Violation v;
    uint8_t alert;
};
// What the RFCs name, written out again independently of alerts.cc.
const Row kExpected[] = {
    {Violation::UnexpectedRecordType, 10},  {Violation::BadRecordVersion, 70},
    {Violation::RecordVersionMismatch, 50}, {Violation::ZeroLengthFragment, 10},
    {Violation::RecordTooLong, 22},         {Violation::BadRecordMac, 20},
    {Violation::NoContentType, 10},         {Violation::TooManyEmptyRecords, 10},
    {Violation::NotClientHello, 10},        {Violation::HelloTooLarge, 47},
    {Violation::TrailingHandshakeData, 10}, {Violation::MalformedHello, 50},
    {Violation::TruncatedHello, 50},        {Violation::NoCommonVersion, 70},
    {Violation::NoCommonSuite, 40},         {Violation::NoCommonGroup, 40},
    {Violation::MissingExtension, 109},     {Violation::BadKeyShare, 47},
    {Violation::BadCompression, 47},        {Violation::NoApplicationProtocol, 120},
    {Violation::UnexpectedCcs, 10},         {Violation::MalformedAlert, 50},
    {Violation::MalformedHandshake, 50},    {Violation::BadKeyUpdateValue, 47},
    {Violation::KeyUpdateNotAtRecordEnd, 10}, {Violation::TooManyKeyUpdates, 10},
    {Violation::UnexpectedHandshake, 10},   {Violation::InterleavedRecord, 10},
    {Violation::HandshakeTooLarge, 47},     {Violation::TooManyWarnings, 10},
    {Violation::TooManyRenegotiations, 40}, {Violation::KernelRefused, 80},
    {Violation::Internal, 80},
};
}  // namespace

class AlertRow : public ::testing::TestWithParam<Row> {};

TEST_P(AlertRow, NamesTheRfcAlert) {
    const Row r = GetParam();
    const AlertRule& rule = rule_for(r.v);
    EXPECT_EQ(rule.v, r.v) << rule.name;  // the table is in enumerator order
    EXPECT_EQ(rule.description, r.alert) << rule.name;
    EXPECT_EQ(alert_for(r.v), r.alert);
    EXPECT_FALSE(rule.name.empty());
    EXPECT_TRUE(rule.rfc.starts_with("RFC ")) << rule.name;
}

INSTANTIATE_TEST_SUITE_P(Table, AlertRow, ::testing::ValuesIn(kExpected));

TEST(Alerts, EveryViolationHasARowAndAUniqueName) {
    std::set<std::string_view> names;
    for (int i = 0; i <= static_cast<int>(Violation::Internal); ++i) {
        const AlertRule& r = rule_for(static_cast<Violation>(i));
        EXPECT_EQ(static_cast<int>(r.v), i);
        EXPECT_TRUE(names.insert(r.name).second) << r.name;
    }
    EXPECT_EQ(sizeof kExpected / sizeof kExpected[0], names.size());
}

TEST(Alerts, ErrnoFromRecordLayerAndKernel) {
    EXPECT_EQ(alert_for(violation_for_errno(EBADMSG)), 20);   // failed authentication
    EXPECT_EQ(alert_for(violation_for_errno(EMSGSIZE)), 22);  // record_overflow
    EXPECT_EQ(alert_for(violation_for_errno(EINVAL)), 50);    // kTLS: bad header version
    EXPECT_EQ(alert_for(violation_for_errno(EPROTO)), 50);    // user layer: bad header version
    EXPECT_EQ(alert_for(violation_for_errno(ENOMSG)), 10);    // no/unknown content type
    EXPECT_EQ(alert_for(violation_for_errno(EOVERFLOW)), 80);
}
