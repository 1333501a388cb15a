// libFuzzer target: the TLS input parsers that see a peer's bytes before wolfSSL or the record
// layer does — HelloReader + check_hello, HandshakeInput (with a stand-in AEAD), PeerRecords.
// The first input byte picks the parser and its options, the second the feed step.
// Build and run: tests/fuzz/run.sh [SECONDS].
#include <algorithm>
#include <cstdint>
#include <string>

#include "tls/client_hello.h"
#include "tls/peer_records.h"
#include "unit/tls/fake_crypto.h"

using namespace sluice::tls;

namespace {

using test_support::FakeCrypto;

void hello(std::string_view in, size_t step) {
    HelloReader r;
    for (size_t i = 0; i < in.size() && r.status() == HelloReader::Status::NeedMore; i += step)
        r.feed(in.substr(i, step));
    r.eof();
    (void)r.need();
    if (r.status() != HelloReader::Status::Ok) return;
    static const uint16_t kS12[] = {0xc02b}, kS13[] = {0x1301};
    HelloPolicy p;
    p.suites12 = kS12;
    p.suites13 = kS13;
    (void)check_hello(r.info(), p);
    (void)reframe(r.message());
}

void handshake_input(std::string_view in, size_t step, uint8_t mode) {
    FakeCrypto fc;
    HandshakeInput h((mode & 4) ? 0x0304 : 0x0303);
    if (mode & 8) h.server_encrypts();
    if (mode & 16) h.set_crypto(&fc);
    if (mode & 32) h.expect_retry_group(29);
    std::string out;
    for (size_t i = 0; i < in.size(); i += step)
        if (h.feed(in.substr(i, step), out) != HandshakeInput::Status::Ok) break;
    (void)h.pending();
}

// Input: records as type(1) | length(2, little-endian) | body.
void peer_records(std::string_view in, uint8_t mode) {
    PeerRecords p((mode & 4) ? Version::Tls13 : Version::Tls12);
    size_t i = 0;
    while (i + 3 <= in.size()) {
        const auto type = static_cast<uint8_t>(in[i]);
        size_t len = static_cast<uint8_t>(in[i + 1]) |
                     (size_t{static_cast<uint8_t>(in[i + 2])} << 8);
        i += 3;
        len = std::min(len, in.size() - i);
        const RecordAction a = p.on_record(type, in.substr(i, len));
        i += len;
        if (a.kind == RecordAction::Kind::Fatal) break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t n) {
    if (n < 2) return 0;
    const uint8_t mode = data[0];
    const size_t step = data[1] != 0 ? data[1] : 1;
    const std::string_view in(reinterpret_cast<const char*>(data + 2), n - 2);
    switch (mode % 3) {
    case 0: hello(in, step); break;
    case 1: handshake_input(in, step, mode); break;
    default: peer_records(in, mode); break;
    }
    return 0;
}
