// Key export without a kernel: a wolfSSL client handshakes in memory with sluice's sans-I/O
// tls::Session; the exported keys then drive the userspace record layer (src/record) in both
// directions, for all six version x cipher pairs, on a full and on a ticket-resumed connection.
// TLS 1.3 also runs a KeyUpdate each way (client-initiated, Opener::update_key; server answer,
// Sealer::update_key).
//
// This file includes wolfSSL headers (the client side) and must never include an OpenSSL
// header: record/record.h and record/key_update.h are OpenSSL-free.
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "record/key_update.h"
#include "record/record.h"
#include "tls/context.h"
#include "tls/keys.h"
#include "tls/session.h"
#include "../tls/memory_client.h"

using namespace sluice;
using namespace sluice::tls;
using sluice::record::ContentType;
using sluice::record::Opener;
using sluice::record::Sealer;

namespace {

// ---- in-memory wolfSSL client: tests/unit/tls/memory_client.h --------------------------

using namespace sluice::tls::testing;

// ---- the record layer side ---------------------------------------------------------------

struct Opened {
    ContentType type;
    std::string text;
};

// Feeds `wire` to the Opener in small odd-sized pieces and returns every record it yields.
// Any error fails the test (use next() directly to test errors).
std::vector<Opened> open_all(Opener& op, const std::string& wire, size_t chunk = 7) {
    std::vector<Opened> got;
    auto drain = [&] {
        for (;;) {
            auto r = op.next();
            EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
            if (!r || !r->has_value()) return;
            got.push_back({(*r)->type, std::string((*r)->text())});
        }
    };
    for (size_t off = 0; off < wire.size(); off += chunk) {
        op.feed(std::string_view(wire).substr(off, chunk));
        drain();
    }
    drain();
    return got;
}

std::string pattern(size_t n, uint8_t salt) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = char(uint8_t(i * 31 + salt + (i >> 8)));
    return s;
}

struct SuiteCase {
    int version;
    const char* name;  // both wolfSSL's client list name and sluice's --ciphers name
    Cipher cipher;
};

const SuiteCase kCases[] = {
    {12, "ECDHE-ECDSA-AES128-GCM-SHA256", Cipher::Aes128Gcm},
    {12, "ECDHE-ECDSA-AES256-GCM-SHA384", Cipher::Aes256Gcm},
    {12, "ECDHE-ECDSA-CHACHA20-POLY1305", Cipher::Chacha20Poly1305},
    {13, "TLS13-AES128-GCM-SHA256", Cipher::Aes128Gcm},
    {13, "TLS13-AES256-GCM-SHA384", Cipher::Aes256Gcm},
    {13, "TLS13-CHACHA20-POLY1305-SHA256", Cipher::Chacha20Poly1305},
};

// After a finished handshake: export the keys, then (a) client records -> Opener,
// (c) tampered client record -> EBADMSG, (b) Sealer records (one split) -> client,
// and for TLS 1.3 a KeyUpdate in each direction. `tag` distinguishes the connections.
void exercise(Client& c, Session& s, const SuiteCase& sc, const std::string& tag) {
    const bool tls13 = sc.version == 13;
    ASSERT_EQ(s.version(), tls13 ? Version::Tls13 : Version::Tls12);
    ASSERT_EQ(s.cipher(), sc.cipher);

    auto keys = s.export_keys();
    ASSERT_TRUE(keys.has_value()) << s.last_error();
    ASSERT_EQ(keys->version, *s.version());
    ASSERT_EQ(keys->cipher, sc.cipher);
    if (tls13) {
        const size_t hash = sc.cipher == Cipher::Aes256Gcm ? 48 : 32;
        ASSERT_EQ(keys->rx.secret_len, hash);
        ASSERT_EQ(keys->tx.secret_len, hash);
    } else {
        EXPECT_EQ(keys->rx.secret_len, 0);
        EXPECT_EQ(keys->tx.secret_len, 0);
    }
    const TrafficKeys pristine = *keys;  // for fresh Openers in the tamper checks
    // Nothing was pipelined, but whatever came after the handshake starts the record stream.
    const std::string leftover = s.take_leftover();
    EXPECT_TRUE(s.take_leftover().empty());

    auto opener_r = Opener::make(*keys);
    ASSERT_TRUE(opener_r.has_value()) << opener_r.error().message();
    auto sealer_r = Sealer::make(*keys);
    ASSERT_TRUE(sealer_r.has_value()) << sealer_r.error().message();
    keys->wipe();  // the record layer holds its own copy now
    Opener& opener = **opener_r;
    Sealer& sealer = **sealer_r;
    EXPECT_EQ(opener.seq(), pristine.rx.seq);
    EXPECT_EQ(sealer.seq(), pristine.tx.seq);

    // (a) client -> server: two wolfSSL records, opened in order by the Opener.
    const std::string req1 = "GET /" + tag + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const std::string req2 = pattern(3000, 7) + tag;
    const std::string wire1 = c.write(req1);
    const std::string wire2 = c.write(req2);
    ASSERT_FALSE(wire1.empty());
    ASSERT_FALSE(wire2.empty());
    auto got = open_all(opener, leftover + wire1 + wire2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, ContentType::ApplicationData);
    EXPECT_EQ(got[0].text, req1);
    EXPECT_EQ(got[1].type, ContentType::ApplicationData);
    EXPECT_EQ(got[1].text, req2);
    EXPECT_EQ(opener.buffered(), 0u);
    EXPECT_EQ(opener.seq(), pristine.rx.seq + 2);
    EXPECT_EQ(opener.bytes_opened(), req1.size() + req2.size());

    // (c) a tampered byte anywhere in the protected part of the record -> EBADMSG, sticky.
    {
        // Offsets: inside the ciphertext (all formats: 1.2 GCM has an 8-byte explicit nonce
        // after the header, so 5+8+2 is ciphertext) and the last tag byte.
        for (size_t at : {size_t(5 + 8 + 2), wire1.size() - 1}) {
            auto op = Opener::make(pristine);
            ASSERT_TRUE(op.has_value());
            std::string bad = leftover + wire1;
            bad[leftover.size() + at] ^= 0x01;
            (*op)->feed(bad);
            auto r = (*op)->next();
            ASSERT_FALSE(r.has_value()) << "offset " << at;
            EXPECT_EQ(r.error().code, EBADMSG) << "offset " << at;
            (*op)->feed(wire2);  // the error is sticky, even for a valid next record
            auto r2 = (*op)->next();
            ASSERT_FALSE(r2.has_value());
            EXPECT_EQ(r2.error().code, EBADMSG);
        }
        // The untampered bytes open with a fresh Opener (the keys, not the data, were right).
        auto op = Opener::make(pristine);
        ASSERT_TRUE(op.has_value());
        auto again = open_all(**op, leftover + wire1, 1);
        ASSERT_EQ(again.size(), 1u);
        EXPECT_EQ(again[0].text, req1);
    }

    // (b) server -> client: two seal() calls, the second > 16 KiB so it splits into 3 records.
    const std::string resp1 = "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n";
    const std::string resp2 = pattern(40000, 11);
    std::string out;
    ASSERT_TRUE(sealer.seal(ContentType::ApplicationData, resp1, out).has_value());
    ASSERT_TRUE(sealer.seal(ContentType::ApplicationData, resp2, out).has_value());
    EXPECT_EQ(out.size(), sealer.sealed_size(resp1.size()) + sealer.sealed_size(resp2.size()));
    EXPECT_EQ(sealer.records_sealed(), 4u);
    EXPECT_EQ(sealer.seq(), pristine.tx.seq + 4);
    // TLS 1.3: the NewSessionTicket (sealed by wolfSSL during the handshake) is still unread
    // in front of these records; reading processes it, so the session can be resumed.
    c.in.data += out;
    int err = 0;
    EXPECT_EQ(c.read_all(&err), resp1 + resp2);
    EXPECT_EQ(err, WOLFSSL_ERROR_WANT_READ);

    if (!tls13) {
        auto ou = opener.update_key();
        auto su = sealer.update_key();
        ASSERT_FALSE(ou.has_value());
        ASSERT_FALSE(su.has_value());
        EXPECT_EQ(ou.error().code, ENOTSUP);
        EXPECT_EQ(su.error().code, ENOTSUP);
        return;
    }

    // TLS 1.3 KeyUpdate, client-initiated (update_requested): the Opener returns the
    // handshake record, switches keys, and opens the next record with the new key.
    ASSERT_EQ(wolfSSL_update_keys(c.ssl), WOLFSSL_SUCCESS);
    std::string ku_wire = std::move(c.out);
    c.out.clear();
    const std::string after = "after key update " + tag;
    ku_wire += c.write(after);
    // Feed everything at once: the data record is already buffered when the key changes.
    opener.feed(ku_wire);
    auto r = opener.next();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->type, ContentType::Handshake);
    ASSERT_EQ((*r)->plaintext.size(), 5u);
    EXPECT_EQ((*r)->plaintext[0], record::kHandshakeKeyUpdate);
    auto requested = record::parse_key_update((*r)->plaintext);
    ASSERT_TRUE(requested.has_value());
    EXPECT_TRUE(*requested);
    ASSERT_TRUE(opener.update_key().has_value());
    EXPECT_EQ(opener.seq(), 0u);
    r = opener.next();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->type, ContentType::ApplicationData);
    EXPECT_EQ((*r)->text(), after);
    EXPECT_EQ(opener.buffered(), 0u);
    // A second client record under the new key.
    auto more = open_all(opener, c.write("more " + tag));
    ASSERT_EQ(more.size(), 1u);
    EXPECT_EQ(more[0].text, "more " + tag);
    EXPECT_EQ(opener.seq(), 2u);

    // The server's answer: KeyUpdate(update_not_requested) under the old key, then the new
    // key for everything after it. The client must follow.
    out.clear();
    const auto ku = record::key_update_message(false);
    ASSERT_TRUE(sealer.seal(ContentType::Handshake, std::span<const uint8_t>(ku), out).has_value());
    ASSERT_TRUE(sealer.update_key().has_value());
    EXPECT_EQ(sealer.seq(), 0u);
    const std::string resp3 = "server after key update " + tag;
    ASSERT_TRUE(sealer.seal(ContentType::ApplicationData, resp3, out).has_value());
    c.in.data += out;
    EXPECT_EQ(c.read_all(&err), resp3);
    EXPECT_EQ(err, WOLFSSL_ERROR_WANT_READ);
}

class ExportTest : public ::testing::TestWithParam<int> {};

TEST_P(ExportTest, UserspaceRecordsWithExportedKeysAndTickets) {
    const SuiteCase& sc = kCases[GetParam()];
    TlsOptions o;
    o.self_signed = true;
    o.versions = sc.version == 13 ? "1.3" : "1.2";
    o.ciphers = sc.name;
    auto ctx_r = Context::create(o);
    ASSERT_TRUE(ctx_r.has_value()) << ctx_r.error();
    Context& ctx = **ctx_r;

    // Full handshake.
    WOLFSSL_SESSION* saved = nullptr;
    {
        Client c(sc.version, sc.name);
        Session s(ctx);
        ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
        EXPECT_FALSE(s.resumed());
        ASSERT_NO_FATAL_FAILURE(exercise(c, s, sc, "full"));
        // The client has read application data (TLS 1.3: after the NewSessionTicket).
        saved = wolfSSL_get1_session(c.ssl);
        ASSERT_NE(saved, nullptr);
    }
    std::unique_ptr<WOLFSSL_SESSION, void (*)(WOLFSSL_SESSION*)> hold(saved,
                                                                      wolfSSL_SESSION_free);

    // Resumed with the ticket.
    Client c(sc.version, sc.name);
    ASSERT_EQ(wolfSSL_set_session(c.ssl, saved), WOLFSSL_SUCCESS);
    Session s(ctx);
    ASSERT_EQ(handshake(c, s), Outcome::Done) << s.last_error();
    ASSERT_TRUE(s.resumed());
    EXPECT_EQ(wolfSSL_session_reused(c.ssl), 1);
    ASSERT_NO_FATAL_FAILURE(exercise(c, s, sc, "resumed"));
}

INSTANTIATE_TEST_SUITE_P(AllSuites, ExportTest, ::testing::Range(0, 6),
                         [](const auto& pinfo) {
                             const SuiteCase& sc = kCases[pinfo.param];
                             std::string n = std::string(sc.version == 13 ? "Tls13_" : "Tls12_") +
                                             std::string(cipher_name(sc.cipher));
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

}  // namespace
