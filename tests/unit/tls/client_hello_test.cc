// Unit tests for the ClientHello reader (record rules, reassembly, limits) and check_hello
// (the negotiation refusals sluice answers itself).
#include "tls/client_hello.h"

#include "fake_crypto.h"

#include <gtest/gtest.h>

#include <string>

using namespace sluice::tls;
using Status = HelloReader::Status;

namespace {

std::string u16(unsigned v) { return {char(v >> 8), char(v & 0xff)}; }
std::string u24(unsigned v) { return {char(v >> 16), char((v >> 8) & 0xff), char(v & 0xff)}; }
std::string ext(unsigned type, const std::string& body) {
    return u16(type) + u16(unsigned(body.size())) + body;
}

struct Hello {
    std::string sni = "a.test";
    std::string session_id = std::string(32, 's');
    std::vector<unsigned> suites = {0x1301, 0xC02B};
    std::string compression = std::string(1, '\0');
    bool versions = true;
    std::vector<unsigned> version_list = {0x0304, 0x0303};
    bool groups = true, key_share = true, sigalgs = true;
    std::string x25519 = std::string(31, '\x09') + "\x01";
    std::string alpn;  // empty: no ALPN extension
    size_t padding = 0;

    std::string body() const {
        std::string b = u16(0x0303) + std::string(32, 'r');
        b += char(session_id.size()) + session_id;
        std::string s;
        for (unsigned v : suites) s += u16(v);
        b += u16(unsigned(s.size())) + s;
        b += char(compression.size()) + compression;
        std::string e;
        std::string list = std::string(1, '\0') + u16(unsigned(sni.size())) + sni;
        e += ext(0, u16(unsigned(list.size())) + list);
        if (sigalgs) e += ext(13, u16(4) + u16(0x0403) + u16(0x0804));
        if (groups) e += ext(10, u16(4) + u16(29) + u16(23));
        if (versions) {
            std::string v;
            for (unsigned x : version_list) v += u16(x);
            e += ext(43, char(v.size()) + v);
        }
        if (key_share) {
            std::string ks = u16(29) + u16(unsigned(x25519.size())) + x25519;
            e += ext(51, u16(unsigned(ks.size())) + ks);
        }
        if (!alpn.empty()) e += ext(16, u16(unsigned(alpn.size() + 1)) + char(alpn.size()) + alpn);
        // Extension bodies are at most 64 KiB: large paddings use several unknown types.
        for (size_t left = padding, type = 0xfe00; left > 0; ++type) {
            const size_t n = std::min<size_t>(left, 60000);
            e += ext(unsigned(type), std::string(n, '\0'));
            left -= n;
        }
        b += u16(unsigned(e.size())) + e;
        return b;
    }
    std::string message() const {
        std::string b = body();
        return std::string(1, '\x01') + u24(unsigned(b.size())) + b;
    }
};

std::string records(const std::string& hs, size_t frag, char type = '\x16') {
    std::string out;
    for (size_t i = 0; i < hs.size(); i += frag) {
        std::string f = hs.substr(i, frag);
        out += std::string(1, type) + std::string("\x03\x01", 2) + u16(unsigned(f.size())) + f;
    }
    return out;
}

HelloReader read_all(const std::string& in, size_t step = 0) {
    HelloReader r;
    if (step == 0) {
        r.feed(in);
    } else {
        for (size_t i = 0; i < in.size() && r.status() == Status::NeedMore; i += step)
            r.feed(std::string_view(in).substr(i, step));
    }
    return r;
}

const uint16_t kSuites12[] = {0xC02B, 0xC02F};
const uint16_t kSuites13[] = {0x1301, 0x1302, 0x1303};

HelloVerdict verdict(const Hello& h, bool tls12 = true, bool tls13 = true) {
    HelloReader r = read_all(records(h.message(), 16384));
    EXPECT_EQ(r.status(), Status::Ok);
    HelloPolicy p;
    p.tls12 = tls12;
    p.tls13 = tls13;
    p.suites12 = kSuites12;
    p.suites13 = kSuites13;
    return check_hello(r.info(), p);
}

}  // namespace

TEST(HelloReader, ParsesSniSigalgsVersions) {
    Hello h;
    h.sni = "WWW.Example.COM";
    HelloReader r = read_all(records(h.message(), 16384));
    ASSERT_EQ(r.status(), Status::Ok);
    EXPECT_EQ(r.info().sni, "www.example.com");
    EXPECT_EQ(r.info().sigalgs, (std::vector<uint16_t>{0x0403, 0x0804}));
    EXPECT_EQ(r.info().versions, (std::vector<uint16_t>{0x0304, 0x0303}));
    EXPECT_EQ(r.info().suites, (std::vector<uint16_t>{0x1301, 0xC02B}));
    EXPECT_EQ(r.info().session_id_len, 32);
    ASSERT_EQ(r.info().key_shares.size(), 1u);
    EXPECT_EQ(r.info().key_shares[0].group, 29);
    EXPECT_EQ(r.message(), h.message());
}

// Any fragmentation, fed in any chunks: the same message, and the offset of what follows.
TEST(HelloReader, FragmentedIncrementalAndRest) {
    Hello h;
    const std::string msg = h.message();
    for (size_t frag : {size_t(1), size_t(2), size_t(3), size_t(4), size_t(5), size_t(7),
                        size_t(100), msg.size() - 1, msg.size()}) {
        for (size_t step : {size_t(1), size_t(3), size_t(4096)}) {
            const std::string in = records(msg, frag) + "NEXT";
            HelloReader r = read_all(in, step);
            ASSERT_EQ(r.status(), Status::Ok) << frag << "/" << step;
            EXPECT_EQ(r.message(), msg);
            EXPECT_EQ(in.substr(r.rest_offset()), "NEXT") << frag << "/" << step;
            EXPECT_EQ(r.info().sni, "a.test");
        }
    }
}

TEST(HelloReader, NeedIsPositiveUntilDone) {
    Hello h;
    const std::string in = records(h.message(), 7);
    HelloReader r;
    for (size_t i = 0; i + 1 < in.size(); ++i) {
        r.feed(std::string_view(in).substr(i, 1));
        ASSERT_EQ(r.status(), Status::NeedMore) << i;
        EXPECT_GE(r.need(), 1u);
        EXPECT_LE(r.need(), in.size() - i - 1);
    }
    r.feed(std::string_view(in).substr(in.size() - 1));
    EXPECT_EQ(r.status(), Status::Ok);
}

TEST(HelloReader, RecordRules) {
    auto v = [](const std::string& in) {
        HelloReader r = read_all(in);
        EXPECT_EQ(r.status(), Status::Fatal) << in.size();
        return r.violation();
    };
    EXPECT_EQ(v("GET / HTTP/1.1\r\n"), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(std::string("\x80\x2e\x01\x03\x01", 5)), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(std::string("\x14\x03\x03\x00\x01\x01", 6)), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(std::string("\x17\x03\x03\x00\x00", 5)), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(std::string("\x16\x02\x00\x00\x05", 5)), Violation::BadRecordVersion);
    EXPECT_EQ(v(std::string("\x16\x03\x01\x00\x00", 5)), Violation::ZeroLengthFragment);
    EXPECT_EQ(v(std::string("\x16\x03\x01\x40\x01", 5)), Violation::RecordTooLong);
    EXPECT_EQ(v(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9)),
              Violation::NotClientHello);
    EXPECT_EQ(v(std::string("\x16\x03\x01\x00\x04\x01\x00\x00\x00", 9)),
              Violation::MalformedHello);
    // A hello that does not parse inside a complete message.
    EXPECT_EQ(v(records(std::string("\x01", 1) + u24(3) + "abc", 100)), Violation::MalformedHello);
    // Bytes after the hello in its record.
    Hello h;
    EXPECT_EQ(v(records(h.message() + std::string("\x01\x00\x00\x00", 4), 16384)),
              Violation::TrailingHandshakeData);
    // Session id over 32 bytes; no compression methods.
    Hello big_sid;
    big_sid.session_id = std::string(33, 's');
    EXPECT_EQ(v(records(big_sid.message(), 16384)), Violation::MalformedHello);
    Hello no_comp;
    no_comp.compression.clear();
    EXPECT_EQ(v(records(no_comp.message(), 16384)), Violation::MalformedHello);
}

TEST(HelloReader, AlertBeforeHelloIsThePeerGivingUp) {
    HelloReader r = read_all(std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
    EXPECT_EQ(r.status(), Status::PeerAlert);
}

TEST(HelloReader, SizeLimitDecidedFromTheHeader) {
    // Up to kMaxClientHello (one record's worth: wolfSSL refuses much more) is read, in
    // several records; above it the hello is refused once its 4-byte header is in.
    Hello h;
    h.padding = kMaxClientHello - 300;
    HelloReader ok = read_all(records(h.message(), 1000));
    EXPECT_EQ(ok.status(), Status::Ok);
    Hello big;
    big.padding = kMaxClientHello;
    HelloReader refused = read_all(records(big.message(), 16384));
    EXPECT_EQ(refused.status(), Status::Fatal);
    EXPECT_EQ(refused.violation(), Violation::HelloTooLarge);
    HelloReader r;
    r.feed(std::string("\x16\x03\x01\x00\x04\x01", 6) + u24(kMaxClientHello + 1));
    EXPECT_EQ(r.status(), Status::Fatal);
    EXPECT_EQ(r.violation(), Violation::HelloTooLarge);
    HelloReader huge;
    huge.feed(std::string("\x16\x03\x01\x40\x00\x01\xff\xff\xff", 9));
    EXPECT_EQ(huge.violation(), Violation::HelloTooLarge);
}

TEST(HelloReader, EofInTheMiddleIsTruncated) {
    Hello h;
    const std::string in = records(h.message(), 16384);
    HelloReader r;
    r.feed(std::string_view(in).substr(0, 20));
    EXPECT_EQ(r.eof(), Status::Fatal);
    EXPECT_EQ(r.violation(), Violation::TruncatedHello);
    HelloReader empty;
    EXPECT_EQ(empty.eof(), Status::NeedMore);  // nothing sent: a plain close
}

TEST(HelloReader, OneByteRecordsAreLinear) {
    // A maximal hello in 1-byte records (6 times its size on the wire), fed byte by byte.
    Hello h;
    h.padding = kMaxClientHello - 300;
    const std::string in = records(h.message(), 1);
    HelloReader r;
    for (char c : in) r.feed(std::string_view(&c, 1));
    EXPECT_EQ(r.status(), Status::Ok);
}

TEST(CheckHello, Versions) {
    Hello h;
    EXPECT_EQ(verdict(h).version, 0x0304);
    EXPECT_EQ(verdict(h, true, false).version, 0x0303);
    Hello only13;
    only13.version_list = {0x0304};
    EXPECT_EQ(verdict(only13, true, false).violation, Violation::NoCommonVersion);
    Hello old;
    old.version_list = {0x0302, 0x0301};
    EXPECT_EQ(verdict(old).violation, Violation::NoCommonVersion);
}

TEST(CheckHello, SuitesAndGroups) {
    Hello h;
    h.version_list = {0x0304};
    h.suites = {0xC02B, 0xC030};  // TLS 1.3 offered with TLS 1.2 suites only
    EXPECT_EQ(verdict(h).violation, Violation::NoCommonSuite);
    Hello none;
    none.suites = {0x002F};
    EXPECT_EQ(verdict(none).violation, Violation::NoCommonSuite);
}

TEST(CheckHello, Tls13RequiredExtensions) {
    for (int which = 0; which < 3; ++which) {
        Hello h;
        if (which == 0) h.sigalgs = false;
        if (which == 1) h.groups = false;
        if (which == 2) h.key_share = false;
        EXPECT_EQ(verdict(h).violation, Violation::MissingExtension) << which;
    }
    Hello comp;
    comp.compression = std::string("\x01\x00", 2);
    EXPECT_EQ(verdict(comp).violation, Violation::BadCompression);
}

TEST(CheckHello, KeyShares) {
    Hello zero;
    zero.x25519 = std::string(32, '\0');
    EXPECT_EQ(verdict(zero).violation, Violation::BadKeyShare);
    Hello one_top;  // 1 with bit 255 set: still low order
    one_top.x25519 = std::string(1, '\x01') + std::string(30, '\0') + "\x80";
    EXPECT_EQ(verdict(one_top).violation, Violation::BadKeyShare);
    Hello short_key;
    short_key.x25519 = std::string(31, '\x09');
    EXPECT_EQ(verdict(short_key).violation, Violation::BadKeyShare);
    Hello good;
    EXPECT_FALSE(verdict(good).violation.has_value());
}

TEST(CheckHello, Alpn) {
    Hello h2only;
    h2only.alpn = "h2";
    EXPECT_EQ(verdict(h2only).violation, Violation::NoApplicationProtocol);  // --http2 off
    Hello h11;
    h11.alpn = "http/1.1";
    EXPECT_FALSE(verdict(h11).violation.has_value());
    Hello other;
    other.alpn = "spdy/3";
    EXPECT_EQ(verdict(other).violation, Violation::NoApplicationProtocol);
}

TEST(CheckHello, AlpnChoice) {
    ClientHelloInfo h;
    h.has_alpn = true;
    h.alpn = {"http/1.1", "h2"};
    HelloPolicy p;
    EXPECT_EQ(choose_alpn(h, p), "http/1.1");  // h2 off
    p.h2 = true;
    EXPECT_EQ(choose_alpn(h, p), "h2");  // preferred whatever the client's order
    h.alpn = {"h2"};
    EXPECT_EQ(choose_alpn(h, p), "h2");
    EXPECT_FALSE(check_hello(h, p).violation == Violation::NoApplicationProtocol);
    h.alpn = {"foo"};
    EXPECT_EQ(choose_alpn(h, p), "");
    h.alpn.clear();
    h.has_alpn = false;
    EXPECT_EQ(choose_alpn(h, p), "");
}

TEST(X25519, LowOrderList) {
    EXPECT_TRUE(x25519_low_order(std::string(32, '\0')));
    std::string p(32, '\xff');
    p[0] = '\xed';
    p[31] = '\x7f';
    EXPECT_TRUE(x25519_low_order(p));
    p[0] = '\xeb';  // p - 2: an ordinary point
    EXPECT_FALSE(x25519_low_order(p));
    EXPECT_FALSE(x25519_low_order(std::string(31, '\0')));  // wrong length: not this check
}

TEST(Reframe, SplitsAt16K) {
    const std::string msg(40000, 'x');
    const std::string out = reframe(msg);
    ASSERT_EQ(out.size(), msg.size() + 15);
    EXPECT_EQ(out.substr(0, 5), std::string("\x16\x03\x03\x40\x00", 5));
    HelloReader r;  // not a hello, but the framing reads back
    EXPECT_EQ(out.substr(5 + 16384, 5), std::string("\x16\x03\x03\x40\x00", 5));
}

// ---- after the hello: HandshakeInput -------------------------------------------------------

namespace {
std::string rec(char type, const std::string& body) {
    return std::string(1, type) + std::string("\x03\x03", 2) + u16(unsigned(body.size())) + body;
}
const std::string kCke = std::string("\x10\x00\x00\x21\x20", 5) + std::string(32, 'k');
const std::string kCcsRec = std::string("\x14\x03\x03\x00\x01\x01", 6);

std::string normalised(uint16_t version, const std::string& in, size_t step,
                       HandshakeInput::Status& st, bool encrypted = false) {
    HandshakeInput h(version);
    if (encrypted) h.server_encrypts();
    std::string out;
    st = HandshakeInput::Status::Ok;
    for (size_t i = 0; i < in.size() && st == HandshakeInput::Status::Ok; i += step)
        st = h.feed(std::string_view(in).substr(i, step), out);
    return out;
}
}  // namespace

TEST(HandshakeInput, Tls12KeyExchangeReassembledAndPassedThroughAfterCcs) {
    const std::string fin = rec('\x16', std::string(40, 'F'));  // encrypted: raw
    const std::string want = reframe(kCke) + kCcsRec + fin;
    for (size_t frag : {size_t(1), size_t(2), size_t(3), size_t(37)}) {
        std::string in;
        for (size_t i = 0; i < kCke.size(); i += frag) in += rec('\x16', kCke.substr(i, frag));
        in += kCcsRec + fin;
        for (size_t step : {size_t(1), size_t(5), size_t(1000)}) {
            HandshakeInput::Status st;
            EXPECT_EQ(normalised(0x0303, in, step, st), want) << frag << "/" << step;
            EXPECT_EQ(st, HandshakeInput::Status::Ok);
        }
    }
}

TEST(HandshakeInput, Tls12Refusals) {
    auto v = [](const std::string& in) {
        HandshakeInput h(0x0303);
        std::string out;
        EXPECT_EQ(h.feed(in, out), HandshakeInput::Status::Fatal) << in.size();
        return h.violation();
    };
    EXPECT_EQ(v(rec('\x17', "")), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(rec('\x17', "GET")), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(rec('\x14', "\x02")), Violation::UnexpectedCcs);
    EXPECT_EQ(v(rec('\x14', std::string("\x01\x01", 2))), Violation::UnexpectedCcs);
    EXPECT_EQ(v(rec('\x14', "")), Violation::UnexpectedCcs);
    EXPECT_EQ(v(rec('\x16', "")), Violation::ZeroLengthFragment);
    EXPECT_EQ(v(rec('\x18', "x")), Violation::UnexpectedRecordType);
    EXPECT_EQ(v(rec('\x16', kCke.substr(0, 3)) + kCcsRec), Violation::InterleavedRecord);
}

TEST(HandshakeInput, Tls13OneCcsThenPoison) {
    const std::string enc = rec('\x17', std::string(53, 'E'));
    HandshakeInput::Status st;
    EXPECT_EQ(normalised(0x0304, kCcsRec + enc, 1, st), kCcsRec + enc);
    EXPECT_EQ(st, HandshakeInput::Status::Ok);
    // A second CCS: wolfSSL gets a plaintext Finished instead (it answers unexpected_message,
    // encrypted) and nothing after it.
    const std::string out = normalised(0x0304, kCcsRec + kCcsRec + enc, 3, st, true);
    EXPECT_EQ(st, HandshakeInput::Status::Poisoned);
    EXPECT_EQ(out, kCcsRec + std::string("\x16\x03\x03\x00\x04\x14\x00\x00\x00", 9));
    normalised(0x0304, rec('\x14', "\x02"), 1, st, true);
    EXPECT_EQ(st, HandshakeInput::Status::Poisoned);
    normalised(0x0304, rec('\x18', "\x01"), 1, st, true);
    EXPECT_EQ(st, HandshakeInput::Status::Poisoned);
    // Before the ServerHello (after a HelloRetryRequest) our records are plaintext: Fatal.
    normalised(0x0304, rec('\x14', "\x02"), 1, st, false);
    EXPECT_EQ(st, HandshakeInput::Status::Fatal);
    // A second ClientHello after a HelloRetryRequest, fragmented: reassembled.
    Hello h;
    const std::string ch = h.message();
    std::string in;
    for (size_t i = 0; i < ch.size(); i += 5) in += rec('\x16', ch.substr(i, 5));
    EXPECT_EQ(normalised(0x0304, kCcsRec + in, 7, st), kCcsRec + reframe(ch));
    // … and it must offer exactly the group the retry asked for (RFC 8446 §4.1.2).
    HandshakeInput want23(0x0304);
    want23.expect_retry_group(23);
    std::string o;
    EXPECT_EQ(want23.feed(in, o), HandshakeInput::Status::Fatal);
    EXPECT_EQ(want23.violation(), Violation::BadKeyShare);
    HandshakeInput want29(0x0304);
    want29.expect_retry_group(29);
    std::string o29;
    EXPECT_EQ(want29.feed(in, o29), HandshakeInput::Status::Ok);
}

TEST(HandshakeInput, PendingGivesBackWhatWasHeld) {
    HandshakeInput h(0x0304);
    std::string out;
    const std::string enc = rec('\x17', std::string(20, 'E'));
    h.feed(enc + enc.substr(0, 3), out);
    EXPECT_EQ(out, enc);
    EXPECT_EQ(h.pending(), enc.substr(0, 3));  // a partial header
    HandshakeInput p(0x0304);
    std::string o2;
    p.feed(rec('\x16', kCke.substr(0, 4)) + rec('\x16', kCke.substr(4)).substr(0, 8), o2);
    EXPECT_EQ(o2, "");
    EXPECT_EQ(p.pending(), reframe(kCke.substr(0, 4)) + rec('\x16', kCke.substr(4)).substr(0, 8));
}

using sluice::tls::test_support::FakeCrypto;

TEST(HandshakeInput, Tls13EncryptedMessagesReframedUntilFinished) {
    FakeCrypto fc;
    const std::string fin = std::string("\x14\x00\x00\x20", 4) + std::string(32, 'f');
    for (size_t frag : {size_t(1), size_t(3), size_t(4), size_t(35)}) {
        std::string in = kCcsRec;
        uint64_t seq = 0;
        for (size_t i = 0; i < fin.size(); i += frag)
            fc.seal(seq++, 22, fin.substr(i, frag), in);
        const std::string app = rec('\x17', "application keys: passed as they are");
        in += app;
        HandshakeInput h(0x0304);
        h.server_encrypts();
        h.set_crypto(&fc);
        std::string out;
        ASSERT_EQ(h.feed(in, out), HandshakeInput::Status::Ok) << frag;
        std::string want = kCcsRec;
        fc.seal(0, 22, fin, want);
        EXPECT_EQ(out, want + app) << frag;
    }
    // A record that does not open goes to wolfSSL as it is (it answers bad_record_mac).
    HandshakeInput h(0x0304);
    h.set_crypto(&fc);
    std::string out;
    const std::string forged = rec('\x17', std::string("\x07xyz\x16", 5));
    EXPECT_EQ(h.feed(forged, out), HandshakeInput::Status::Ok);
    EXPECT_EQ(out, forged);
    // Another type in the middle of a split message is refused.
    HandshakeInput m(0x0304);
    m.server_encrypts();
    m.set_crypto(&fc);
    std::string o2, in2;
    fc.seal(0, 22, fin.substr(0, 2), in2);
    fc.seal(1, 21, std::string("\x01\x00", 2), in2);
    EXPECT_EQ(m.feed(in2, o2), HandshakeInput::Status::Poisoned);
    EXPECT_EQ(m.violation(), Violation::InterleavedRecord);
}

TEST(HandshakeInput, Tls13OnlyAFinishedAndNothingAfterItInItsRecord) {
    FakeCrypto fc;
    const std::string fin = std::string("\x14\x00\x00\x20", 4) + std::string(32, 'f');
    const std::string ku = std::string("\x18\x00\x00\x01\x00", 5);
    const std::string cert = std::string("\x0b\x00\x00\x04\x00\x00\x00\x00", 8);
    for (const auto& [payload, v] :
         {std::pair{fin + ku, Violation::KeyUpdateNotAtRecordEnd},
          std::pair{cert + fin, Violation::UnexpectedHandshake}}) {
        HandshakeInput h(0x0304);
        h.server_encrypts();
        h.set_crypto(&fc);
        std::string in, out;
        fc.seal(0, 22, payload, in);
        EXPECT_EQ(h.feed(in, out), HandshakeInput::Status::Poisoned);
        EXPECT_EQ(h.violation(), v);
    }
}

TEST(HandshakeInput, Tls13WholeFinishedPassesUnopened) {
    FakeCrypto fc;
    const std::string fin = std::string("\x14\x00\x00\x20", 4) + std::string(32, 'f');
    std::string rec1;
    fc.seal(0, 22, fin, rec1);
    fc.whole = rec1.size() - 5;
    const std::string app = rec('\x17', std::string(30, 'a'));
    HandshakeInput h(0x0304);
    h.server_encrypts();
    h.set_crypto(&fc);
    std::string out;
    // Marked so that opening it would fail: it must pass without being opened.
    std::string raw = rec1;
    raw[5] = '\x7f';
    EXPECT_EQ(h.feed(raw + app, out), HandshakeInput::Status::Ok);
    EXPECT_EQ(out, raw + app);
}
