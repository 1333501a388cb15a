#include "tls/client_hello.h"

#include <algorithm>
#include <cstring>

namespace sluice::tls {

namespace {

// Bounded big-endian reader; any overrun turns `ok` false and reads return 0.
struct Reader {
    const uint8_t* p;
    size_t n;
    bool ok = true;

    uint32_t u(size_t bytes) {
        if (!ok || n < bytes) {
            ok = false;
            return 0;
        }
        uint32_t v = 0;
        for (size_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
        p += bytes;
        n -= bytes;
        return v;
    }
    Reader sub(size_t len) {
        if (!ok || n < len) {
            ok = false;
            return Reader{p, 0, false};
        }
        Reader r{p, len};
        p += len;
        n -= len;
        return r;
    }
    std::string_view view() const { return {reinterpret_cast<const char*>(p), n}; }
    // A list of 16-bit values filling the whole reader (odd length: malformed).
    bool u16_list(std::vector<uint16_t>& out) {
        if (n % 2 != 0) ok = false;
        while (ok && n >= 2) out.push_back(static_cast<uint16_t>(u(2)));
        return ok;
    }
};

constexpr uint8_t kTypeAlert = 21;
constexpr uint8_t kTypeHandshake = 22;
constexpr uint8_t kClientHello = 1;
constexpr size_t kMaxFragment = 16384;

// An extension that is one length-prefixed list of 16-bit values and nothing else.
bool whole_u16_list(Reader e, size_t len_bytes, bool& seen, std::vector<uint16_t>& out) {
    seen = true;
    Reader list = e.sub(e.u(len_bytes));
    return list.u16_list(out) && e.ok && e.n == 0;
}

// One extension's body. False: malformed.
bool parse_extension(uint32_t type, Reader e, ClientHelloInfo& out) {
    switch (type) {
    case 0: {  // server_name
        Reader list = e.sub(e.u(2));
        while (list.ok && list.n > 0) {
            const uint32_t name_type = list.u(1);
            Reader name = list.sub(list.u(2));
            if (name.ok && name_type == 0 && out.sni.empty()) {
                out.sni.assign(name.view());
                std::transform(out.sni.begin(), out.sni.end(), out.sni.begin(),
                               [](char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; });
            }
        }
        return list.ok && e.ok && e.n == 0;
    }
    case 13:  // signature_algorithms
        return whole_u16_list(e, 2, out.has_sigalgs, out.sigalgs);
    case 10:  // supported_groups
        return whole_u16_list(e, 2, out.has_groups, out.groups);
    case 43:  // supported_versions
        return whole_u16_list(e, 1, out.has_versions, out.versions);
    case 51: {  // key_share
        out.has_key_share = true;
        Reader list = e.sub(e.u(2));
        while (list.ok && list.n > 0) {
            KeyShare ks;
            ks.group = static_cast<uint16_t>(list.u(2));
            Reader key = list.sub(list.u(2));
            if (!key.ok) break;
            ks.key.assign(key.view());
            out.key_shares.push_back(std::move(ks));
        }
        return list.ok && e.ok && e.n == 0;
    }
    case 16: {  // application_layer_protocol_negotiation
        out.has_alpn = true;
        Reader list = e.sub(e.u(2));
        while (list.ok && list.n > 0) {
            Reader name = list.sub(list.u(1));
            if (name.ok) out.alpn.emplace_back(name.view());
        }
        return list.ok && e.ok && e.n == 0;
    }
    case 41:  // pre_shared_key
        out.has_psk = true;
        return true;
    case 45:  // psk_key_exchange_modes
        out.has_psk_modes = true;
        return true;
    default:
        return true;
    }
}

bool parse_body(Reader r, ClientHelloInfo& out) {
    out.legacy_version = static_cast<uint16_t>(r.u(2));
    r.sub(32);  // random
    const uint32_t sid = r.u(1);
    if (sid > 32) return false;  // opaque legacy_session_id<0..32>
    out.session_id_len = static_cast<uint8_t>(sid);
    r.sub(sid);
    Reader suites = r.sub(r.u(2));
    if (!suites.ok || suites.n == 0 || !suites.u16_list(out.suites)) return false;
    Reader comp = r.sub(r.u(1));
    if (!comp.ok || comp.n == 0) return false;
    while (comp.n > 0) out.compression.push_back(static_cast<uint8_t>(comp.u(1)));
    if (!r.ok) return false;
    if (r.n == 0) return true;  // no extensions at all
    Reader exts = r.sub(r.u(2));
    if (!exts.ok || r.n != 0) return false;  // nothing may follow the extensions
    while (exts.ok && exts.n > 0) {
        const uint32_t type = exts.u(2);
        Reader e = exts.sub(exts.u(2));
        if (!exts.ok || !parse_extension(type, e, out)) return false;
    }
    return exts.ok;
}

bool has(std::span<const uint16_t> v, uint16_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

bool any_common(std::span<const uint16_t> a, std::span<const uint16_t> b) {
    return std::any_of(a.begin(), a.end(), [&](uint16_t x) { return has(b, x); });
}

constexpr uint16_t kX25519 = 29, kP256 = 23, kP384 = 24;
constexpr uint16_t kGroups[] = {kX25519, kP256, kP384};

}  // namespace

HelloReader::Status HelloReader::fail(Violation v) {
    violation_ = v;
    status_ = Status::Fatal;
    return status_;
}

size_t HelloReader::need() const {
    if (status_ != Status::NeedMore) return 0;
    if (hdr_n_ < 5) return 5 - hdr_n_;
    size_t want = rec_left_;
    if (msg_.size() < 4) return std::max<size_t>(want, 1);
    return std::max<size_t>(std::min(want, 4 + msg_len_ - msg_.size()), 1);
}

HelloReader::Status HelloReader::feed(std::string_view in) {
    size_t i = 0;
    while (status_ == Status::NeedMore && i < in.size()) {
        if (hdr_n_ < 5) {
            const auto b = static_cast<uint8_t>(in[i]);
            // The content type decides at once: a client that sends plain HTTP or an SSL 2.0
            // hello gets its answer without waiting for more bytes.
            if (hdr_n_ == 0 && b == kTypeAlert) {
                status_ = Status::PeerAlert;
                break;
            }
            if (hdr_n_ == 0 && b != kTypeHandshake) {
                ++i;
                fail(Violation::UnexpectedRecordType);
                break;
            }
            if (hdr_n_ == 1 && b != 3) {
                ++i;
                fail(Violation::BadRecordVersion);
                break;
            }
            hdr_[hdr_n_++] = b;
            ++i;
            if (hdr_n_ < 5) continue;
            rec_left_ = (size_t{hdr_[3]} << 8) | hdr_[4];
            if (record_version_ == 0)
                record_version_ = static_cast<uint16_t>((hdr_[1] << 8) | hdr_[2]);
            if (rec_left_ == 0) {
                fail(Violation::ZeroLengthFragment);
                break;
            }
            if (rec_left_ > kMaxFragment) {
                fail(Violation::RecordTooLong);
                break;
            }
            continue;
        }
        // Record body: handshake message bytes.
        size_t take = std::min(rec_left_, in.size() - i);
        if (msg_.size() < 4) take = std::min(take, 4 - msg_.size());
        else take = std::min(take, 4 + msg_len_ - msg_.size());
        msg_.append(in.substr(i, take));
        i += take;
        rec_left_ -= take;
        if (msg_.size() >= 1 && static_cast<uint8_t>(msg_[0]) != kClientHello) {
            fail(Violation::NotClientHello);
            break;
        }
        if (msg_.size() == 4 && msg_len_ == 0) {
            msg_len_ = (size_t{static_cast<uint8_t>(msg_[1])} << 16) |
                       (size_t{static_cast<uint8_t>(msg_[2])} << 8) |
                       static_cast<uint8_t>(msg_[3]);
            if (msg_len_ > kMaxClientHello) {
                fail(Violation::HelloTooLarge);
                break;
            }
            if (msg_len_ == 0) {
                fail(Violation::MalformedHello);
                break;
            }
            msg_.reserve(4 + msg_len_);
        }
        if (msg_.size() >= 4 && msg_.size() == 4 + msg_len_) {
            // The hello must end with its record: whatever else a client puts there belongs
            // to a later flight (or is an attack on reassembly).
            if (rec_left_ != 0) {
                fail(Violation::TrailingHandshakeData);
                break;
            }
            if (!finish_message()) break;
            end_ = fed_ + i;
            status_ = Status::Ok;
            break;
        }
        if (rec_left_ == 0) hdr_n_ = 0;  // next record
    }
    fed_ += i;
    return status_;
}

bool HelloReader::finish_message() {
    Reader r{reinterpret_cast<const uint8_t*>(msg_.data()) + 4, msg_len_};
    if (!parse_body(r, info_)) {
        fail(Violation::MalformedHello);
        return false;
    }
    return true;
}

HelloReader::Status HelloReader::eof() {
    if (status_ == Status::NeedMore && fed_ > 0) return fail(Violation::TruncatedHello);
    return status_;
}

bool x25519_low_order(std::string_view key) {
    static const uint8_t kLowOrder[7][32] = {
        {0},
        {1},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
         0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
         0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
         0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
         0x11, 0x57},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},  // p - 1
        {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},  // p (= 0)
        {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},  // p + 1 (= 1)
    };
    if (key.size() != 32) return false;
    uint8_t k[32];
    memcpy(k, key.data(), 32);
    k[31] &= 0x7f;  // RFC 7748 §5: the top bit is ignored
    for (const auto& bad : kLowOrder)
        if (memcmp(k, bad, 32) == 0) return true;
    return false;
}

HelloVerdict check_hello(const ClientHelloInfo& h, const HelloPolicy& p) {
    // Which versions the client offers (RFC 8446 §4.2.1: supported_versions wins over
    // legacy_version; without it, legacy_version >= 0x0303 means TLS 1.2).
    bool c12 = false, c13 = false;
    if (h.has_versions) {
        c12 = std::find(h.versions.begin(), h.versions.end(), 0x0303) != h.versions.end();
        c13 = std::find(h.versions.begin(), h.versions.end(), 0x0304) != h.versions.end();
    } else {
        c12 = h.legacy_version >= 0x0303;
    }
    const bool v12 = c12 && p.tls12;
    const bool v13 = c13 && p.tls13;
    if (!v12 && !v13) return {Violation::NoCommonVersion, 0};
    const bool s13 = v13 && any_common(h.suites, p.suites13);
    const bool s12 = v12 && any_common(h.suites, p.suites12);
    if (!s13 && !s12) return {Violation::NoCommonSuite, 0};
    if (s13) {
        // RFC 8446 §9.2: what a TLS 1.3 ClientHello must carry.
        if (!h.has_psk && (!h.has_sigalgs || !h.has_groups))
            return {Violation::MissingExtension, 0};
        if (h.has_groups != h.has_key_share) return {Violation::MissingExtension, 0};
        if (h.has_psk && !h.has_psk_modes) return {Violation::MissingExtension, 0};
        if (h.compression.size() != 1 || h.compression[0] != 0)
            return {Violation::BadCompression, 0};
        if (h.has_groups && !any_common(h.groups, kGroups)) return {Violation::NoCommonGroup, 0};
        for (const KeyShare& ks : h.key_shares) {
            const bool bad = ks.group == kX25519
                                 ? ks.key.size() != 32 || x25519_low_order(ks.key)
                             : ks.group == kP256 ? ks.key.size() != 65 || ks.key[0] != 4
                             : ks.group == kP384 ? ks.key.size() != 97 || ks.key[0] != 4
                                                 : false;
            if (bad) return {Violation::BadKeyShare, 0};
        }
    } else {
        if (std::find(h.compression.begin(), h.compression.end(), 0) == h.compression.end())
            return {Violation::NoCommonSuite, 0};
        // wolfSSL 5.5.4 (TLS 1.2) would fall back to a curve we do not allow.
        if (h.has_groups && !h.groups.empty() && !any_common(h.groups, kGroups))
            return {Violation::NoCommonGroup, 0};
    }
    if (h.has_alpn && choose_alpn(h, p).empty()) return {Violation::NoApplicationProtocol, 0};
    return {std::nullopt, static_cast<uint16_t>(s13 ? 0x0304 : 0x0303)};
}

std::string_view choose_alpn(const ClientHelloInfo& h, const HelloPolicy& p) {
    auto offered = [&h](std::string_view name) {
        return std::find(h.alpn.begin(), h.alpn.end(), name) != h.alpn.end();
    };
    if (p.h2 && offered("h2")) return "h2";
    if (offered("http/1.1")) return "http/1.1";
    return {};
}

HandshakeInput::Status HandshakeInput::refuse(Violation v, std::string& out) {
    violation_ = v;
    // Until the ServerHello (a HelloRetryRequest is plaintext too) our alert is plaintext.
    if (!tls13_ || !encrypted_) return status_ = Status::Fatal;
    // A Finished in a plaintext record where wolfSSL expects encrypted ones: it answers with
    // unexpected_message under the handshake keys.
    static const char kPoison[] = {22, 3, 3, 0, 4, 20, 0, 0, 0};
    out.append(kPoison, sizeof kPoison);
    return status_ = Status::Poisoned;
}

// The record header is complete: what to do with its body.
bool HandshakeInput::decide(std::string& out, Violation& v) {
    const uint8_t type = hdr_[0];
    left_ = (size_t{hdr_[3]} << 8) | hdr_[4];
    if (hdr_[1] != 3) {
        v = Violation::BadRecordVersion;
        return false;
    }
    switch (type) {
    case kTypeHandshake:
        if (left_ == 0) {
            v = Violation::ZeroLengthFragment;
            return false;
        }
        if (left_ > kMaxFragment) {
            v = Violation::RecordTooLong;
            return false;
        }
        mode_ = Mode::Handshake;
        rec_start_ = frag_.size();
        return true;
    case 20:  // change_cipher_spec: exactly one byte, never inside a handshake message
        if (!frag_.empty()) {
            v = Violation::InterleavedRecord;
            return false;
        }
        if (left_ != 1) {
            v = Violation::UnexpectedCcs;
            return false;
        }
        mode_ = Mode::Ccs;
        return true;
    case kTypeAlert:
    case 23:
        if (!frag_.empty()) {
            v = Violation::InterleavedRecord;
            return false;
        }
        if (type == 23 && !tls13_) {  // TLS 1.2: no application data before the CCS
            v = Violation::UnexpectedRecordType;
            return false;
        }
        if (type == 23 && crypto_ != nullptr && !keys_done_) {
            if (left_ > kMaxFragment + 256) {
                v = Violation::RecordTooLong;
                return false;
            }
            mode_ = Mode::Sealed;
            sealed_.assign(reinterpret_cast<const char*>(hdr_), 5);
            return true;
        }
        if (!plain_.empty()) {  // inside an encrypted handshake message
            v = Violation::InterleavedRecord;
            return false;
        }
        mode_ = Mode::Pass;
        out.append(reinterpret_cast<const char*>(hdr_), 5);
        return true;
    default:
        v = Violation::UnexpectedRecordType;
        return false;
    }
}

// RFC 8446 §4.1.2: the ClientHello after a HelloRetryRequest carries exactly one key share,
// for the group the retry asked for (else illegal_parameter).
bool HandshakeInput::retry_hello_ok(std::string_view msg, Violation& v) const {
    ClientHelloInfo info;
    Reader r{reinterpret_cast<const uint8_t*>(msg.data()) + 4, msg.size() - 4};
    if (!parse_body(r, info)) {
        v = Violation::MalformedHello;
        return false;
    }
    if (retry_group_ != 0 &&
        (info.key_shares.size() != 1 || info.key_shares[0].group != retry_group_)) {
        v = Violation::BadKeyShare;
        return false;
    }
    return true;
}

// One record under the client's handshake key: its handshake messages go to wolfSSL one per
// record, sealed again with our own sequence numbers (wolfSSL counts what it reads).
bool HandshakeInput::finish_sealed(std::string& out, Violation& v) {
    if (seq_in_ == seq_out_ && plain_.empty() &&
        sealed_.size() == 5 + crypto_->finished_record_len()) {
        // The usual case: the Finished in one record of its own. wolfSSL reads it as it came
        // (a forgery of that size is wolfSSL's to refuse), and the client's next records are
        // under its application keys.
        out += sealed_;
        keys_done_ = true;
        return true;
    }
    uint8_t type = 0;
    std::string plain;
    if (!crypto_->open(seq_in_++, sealed_, type, plain)) {
        // A forged record fails under any sequence number: wolfSSL answers it (bad_record_mac,
        // under the keys it holds). Nothing more is re-framed.
        out += sealed_;
        keys_done_ = true;
        return true;
    }
    if (type != kTypeHandshake) {
        if (!plain_.empty()) {
            v = Violation::InterleavedRecord;
            return false;
        }
        if (!crypto_->seal(seq_out_++, type, plain, out)) {
            v = Violation::Internal;
            return false;
        }
        return true;
    }
    if (plain.empty()) {
        v = Violation::ZeroLengthFragment;
        return false;
    }
    plain_ += plain;
    size_t pos = 0;
    while (plain_.size() - pos >= 4) {
        const auto* h = reinterpret_cast<const uint8_t*>(plain_.data()) + pos;
        const size_t len = (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
        if (len > kMaxFragment - 4) {
            v = Violation::HandshakeTooLarge;
            return false;
        }
        if (plain_.size() - pos < 4 + len) break;
        // The client's only encrypted handshake message here is its Finished: sluice asks
        // for no certificate and takes no early data.
        if (h[0] != 20) {
            v = Violation::UnexpectedHandshake;
            return false;
        }
        if (!crypto_->seal(seq_out_++, kTypeHandshake,
                           std::string_view(plain_).substr(pos, 4 + len), out)) {
            v = Violation::Internal;
            return false;
        }
        pos += 4 + len;
        keys_done_ = true;  // after the Finished: the client's application keys
        break;
    }
    plain_.erase(0, pos);
    if (keys_done_ && !plain_.empty()) {  // a message across the key change (RFC 8446 §5.1)
        v = Violation::KeyUpdateNotAtRecordEnd;
        return false;
    }
    return true;
}

bool HandshakeInput::finish_record(std::string& out, Violation& v) {
    if (mode_ == Mode::Sealed) return finish_sealed(out, v);
    if (mode_ == Mode::Ccs) {
        if (ccs_value_ != 1 || (tls13_ && ++ccs_seen_ > 1)) {
            v = Violation::UnexpectedCcs;
            return false;
        }
        static const char kCcs[] = {20, 3, 3, 0, 1, 1};
        out.append(kCcs, sizeof kCcs);
        if (!tls13_) through_ = true;  // encrypted from here on: wolfSSL's
        return true;
    }
    if (mode_ != Mode::Handshake) return true;
    size_t pos = 0;
    while (frag_.size() - pos >= 4) {
        const auto* h = reinterpret_cast<const uint8_t*>(frag_.data()) + pos;
        const size_t len = (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
        if (len > kMaxClientHello) {
            v = Violation::HandshakeTooLarge;
            return false;
        }
        if (frag_.size() - pos < 4 + len) break;
        // TLS 1.2 before the client's CCS: one ClientKeyExchange (sluice requests no client
        // certificate); TLS 1.3: a ClientHello after a HelloRetryRequest, once.
        const uint8_t want = tls13_ ? kClientHello : 16;
        if (h[0] != want || ++messages_ > 1) {
            v = Violation::UnexpectedHandshake;
            return false;
        }
        if (tls13_ && !retry_hello_ok(std::string_view(frag_).substr(pos, 4 + len), v))
            return false;
        out += reframe(std::string_view(frag_).substr(pos, 4 + len));
        pos += 4 + len;
    }
    frag_.erase(0, pos);
    if (frag_.size() >= 4) {
        const auto* h = reinterpret_cast<const uint8_t*>(frag_.data());
        if (((size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3]) > kMaxClientHello) {
            v = Violation::HandshakeTooLarge;
            return false;
        }
    }
    return true;
}

HandshakeInput::Status HandshakeInput::feed(std::string_view in, std::string& out) {
    size_t i = 0;
    Violation v = Violation::Internal;
    while (status_ == Status::Ok && i < in.size()) {
        if (through_) {
            out.append(in.substr(i));
            break;
        }
        if (hdr_n_ < 5) {
            hdr_[hdr_n_++] = static_cast<uint8_t>(in[i++]);
            if (hdr_n_ < 5) continue;
            if (!decide(out, v)) return refuse(v, out);
            if (left_ == 0) {
                hdr_n_ = 0;
                if (!finish_record(out, v)) return refuse(v, out);
            }
            continue;
        }
        const size_t take = std::min(left_, in.size() - i);
        const std::string_view body = in.substr(i, take);
        if (mode_ == Mode::Pass) out.append(body);
        else if (mode_ == Mode::Handshake) frag_.append(body);
        else if (mode_ == Mode::Sealed) sealed_.append(body);
        else ccs_value_ = static_cast<uint8_t>(body[0]);
        i += take;
        left_ -= take;
        if (left_ == 0) {
            hdr_n_ = 0;
            if (!finish_record(out, v)) return refuse(v, out);
        }
    }
    return status_;
}

std::string HandshakeInput::pending() const {
    std::string raw;
    // Handshake bytes of earlier records that are not yet a whole message.
    const bool in_hs_record = hdr_n_ == 5 && mode_ == Mode::Handshake;
    // (rec_start_ is stale once a record of another type was refused after the last one.)
    const size_t start = std::min(rec_start_, frag_.size());
    const size_t earlier = in_hs_record ? start : frag_.size();
    if (earlier > 0) raw = reframe(std::string_view(frag_).substr(0, earlier));
    if (hdr_n_ == 5 && mode_ == Mode::Pass) return raw;  // its header already went out
    if (hdr_n_ == 5 && mode_ == Mode::Sealed) return raw + sealed_;
    raw.append(reinterpret_cast<const char*>(hdr_), hdr_n_);
    if (in_hs_record) raw.append(std::string_view(frag_).substr(start));
    return raw;
}

std::string reframe(std::string_view message, uint16_t record_version) {
    std::string out;
    out.reserve(message.size() + 5 * (message.size() / kMaxFragment + 1));
    for (size_t i = 0; i < message.size(); i += kMaxFragment) {
        const size_t n = std::min(kMaxFragment, message.size() - i);
        const char hdr[5] = {static_cast<char>(kTypeHandshake),
                             static_cast<char>(record_version >> 8),
                             static_cast<char>(record_version & 0xff), static_cast<char>(n >> 8),
                             static_cast<char>(n & 0xff)};
        out.append(hdr, 5);
        out.append(message.substr(i, n));
    }
    return out;
}

}  // namespace sluice::tls
