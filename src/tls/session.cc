#include "tls/session.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/kdf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tls/client_hello.h"
#include "tls/context_impl.h"
#if SLUICE_TLS_ACCEL
#include "tls/accel.h"
#include "tls/accel_bridge.h"
#endif

namespace sluice::tls {

namespace {
// The HKDF-Expand-Label callback carries no WOLFSSL* or user pointer: route it to the session
// whose wolfSSL_accept is running on this thread.
thread_local Session* t_current = nullptr;

struct CurrentGuard {
    explicit CurrentGuard(Session* s) { t_current = s; }
    ~CurrentGuard() { t_current = nullptr; }
};

constexpr size_t kCompactAt = 16 * 1024;

constexpr char kHandshakeFailure[] = {21, 3, 3, 0, 2, 2, 40};  // fatal handshake_failure

// Last line of defence for TLS 1.2, whose curve choice wolfSSL 5.5.4 does not restrict.
bool curve_allowed(WOLFSSL* ssl) {
    const char* c = wolfSSL_get_curve_name(ssl);
    if (c == nullptr) return true;  // no (EC)DHE named group reported
    std::string_view n = c;
    return n == "X25519" || n == "SECP256R1" || n == "SECP384R1";
}
}  // namespace

struct Session::Io {
    static int recv(Session& s, char* buf, int sz) {
        size_t avail = s.in_.size() - s.in_pos_;
        if (avail == 0) {
            s.hint_ = size_t(sz);
            return WOLFSSL_CBIO_ERR_WANT_READ;
        }
        size_t n = std::min(avail, size_t(sz));
        memcpy(buf, s.in_.data() + s.in_pos_, n);
        s.in_pos_ += n;
        s.hint_ = 0;
        return int(n);
    }
    static int send(Session& s, const char* buf, int sz) {
        s.wrote_any_ = true;
        s.out_.append(buf, size_t(sz));
        return sz;
    }
};

struct Session::Secrets {
    static void capture(Session& s, const byte* prk, word32 len, int side) {
        if (len == 0 || len > sizeof s.client_secret_) return;
        if (side == WOLFSSL_CLIENT_END) {
            // The first client key derived is the handshake traffic key (no 0-RTT here).
            if (s.client_hs_secret_len_ == 0 && s.client_secret_len_ == 0) {
                memcpy(s.client_hs_secret_, prk, len);
                s.client_hs_secret_len_ = uint8_t(len);
            }
            memcpy(s.client_secret_, prk, len);
            s.client_secret_len_ = uint8_t(len);
        } else if (side == WOLFSSL_SERVER_END) {
            memcpy(s.server_secret_, prk, len);
            s.server_secret_len_ = uint8_t(len);
        }
    }
    static WOLFSSL* ssl(Session& s) { return s.ssl_.get(); }
};

int session_recv_cb(WOLFSSL*, char* buf, int sz, void* ctx) {
    if (ctx == nullptr) return WOLFSSL_CBIO_ERR_GENERAL;
    return Session::Io::recv(*static_cast<Session*>(ctx), buf, sz);
}

int session_send_cb(WOLFSSL*, char* buf, int sz, void* ctx) {
    if (ctx == nullptr) return WOLFSSL_CBIO_ERR_GENERAL;
    return Session::Io::send(*static_cast<Session*>(ctx), buf, sz);
}

int hkdf_capture_cb(byte* okm, word32 okm_len, const byte* prk, word32 prk_len,
                    const byte* protocol, word32 protocol_len, const byte* label,
                    word32 label_len, const byte* info, word32 info_len, int digest, int side) {
    // Traffic keys are derived with label "key" from the traffic secret; the application
    // secrets are the last ones derived before wolfSSL_accept succeeds.
    if (t_current != nullptr && label_len == 3 && memcmp(label, "key", 3) == 0)
        Session::Secrets::capture(*t_current, prk, prk_len, side);
#if SLUICE_TLS_ACCEL
    // With the crypto device on, libcrypto computes it: wolfSSL's SHA-2 is software only, and
    // a handshake expands about 15 labels.
    const size_t hash_len = digest == WC_SHA256 ? 32 : digest == WC_SHA384 ? 48 : 0;
    if (t_current != nullptr && hash_len != 0 && protocol_len + label_len <= 255 &&
        info_len <= 255 && okm_len <= 0xffff &&
        wolfSSL_CTX_GetDevId(nullptr, Session::Secrets::ssl(*t_current)) != INVALID_DEVID) {
        // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel
        uint8_t hl[2 + 1 + 255 + 1 + 255];
        size_t n = 0;
        hl[n++] = static_cast<uint8_t>(okm_len >> 8);
        hl[n++] = static_cast<uint8_t>(okm_len);
        hl[n++] = static_cast<uint8_t>(protocol_len + label_len);
        memcpy(hl + n, protocol, protocol_len);
        n += protocol_len;
        memcpy(hl + n, label, label_len);
        n += label_len;
        hl[n++] = static_cast<uint8_t>(info_len);
        if (info_len) memcpy(hl + n, info, info_len);
        n += info_len;
        if (bridge::hkdf_expand(hash_len, prk, prk_len, hl, n, okm, okm_len) ==
            bridge::Status::Ok) {
            bridge::count_hkdf();
            return 0;
        }
    }
#else
    (void)okm, (void)okm_len, (void)protocol, (void)protocol_len, (void)info, (void)info_len;
    (void)digest;
#endif
    return NOT_COMPILED_IN;  // let wolfSSL compute it
}

// The client's TLS 1.3 handshake traffic key, for HandshakeInput to re-frame what the client
// encrypted under it (client_hello.h). wolfCrypt's AEAD: a few records per handshake.
struct Session::HsCrypto final : HandshakeCrypto {
    int bulk = 0;
    uint8_t key[32] = {};
    size_t key_len = 0;
    uint8_t iv[12] = {};
    uint8_t secret[48] = {};  // until the key is first needed (most clients never need it)
    uint8_t secret_len = 0;
    bool keyed = false;

    ~HsCrypto() override {
        secure_wipe(key, sizeof key);
        secure_wipe(iv, sizeof iv);
        secure_wipe(secret, sizeof secret);
    }
    size_t finished_record_len() const override { return 4 + secret_len + 1 + 16; }
    bool derive() {
        if (keyed) return true;
        const int digest = secret_len == 48 ? int(WC_SHA384) : int(WC_SHA256);
        static const byte kProto[] = "tls13 ";
        keyed = wc_Tls13_HKDF_Expand_Label(key, word32(key_len), secret, secret_len, kProto, 6,
                                           reinterpret_cast<const byte*>("key"), 3, nullptr, 0,
                                           digest) == 0 &&
                wc_Tls13_HKDF_Expand_Label(iv, 12, secret, secret_len, kProto, 6,
                                           reinterpret_cast<const byte*>("iv"), 2, nullptr, 0,
                                           digest) == 0;
        secure_wipe(secret, sizeof secret);
        return keyed;
    }
    void nonce(uint64_t seq, uint8_t out[12]) const {
        memcpy(out, iv, 12);
        for (int i = 0; i < 8; ++i) out[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
    }
    bool aead(bool seal, uint64_t seq, const uint8_t* aad, const uint8_t* in, size_t n,
              uint8_t* out, uint8_t* tag) const {
        uint8_t nc[12];
        nonce(seq, nc);
        const auto len = word32(n);
        if (bulk == wolfssl_chacha) {
            return (seal ? wc_ChaCha20Poly1305_Encrypt(key, nc, aad, 5, in, len, out, tag)
                         : wc_ChaCha20Poly1305_Decrypt(key, nc, aad, 5, in, len, tag, out)) == 0;
        }
        Aes aes;
        if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) return false;
        bool ok = wc_AesGcmSetKey(&aes, key, word32(key_len)) == 0;
        ok = ok && (seal ? wc_AesGcmEncrypt(&aes, out, in, len, nc, 12, tag, 16, aad, 5)
                         : wc_AesGcmDecrypt(&aes, out, in, len, nc, 12, tag, 16, aad, 5)) == 0;
        wc_AesFree(&aes);
        return ok;
    }
    bool open(uint64_t seq, std::string_view rec, uint8_t& type, std::string& plain) override {
        if (rec.size() < 5 + 17 || !derive()) return false;
        const auto* r = reinterpret_cast<const uint8_t*>(rec.data());
        const size_t n = rec.size() - 5 - 16;
        plain.resize(n);
        if (!aead(false, seq, r, r + 5, n, reinterpret_cast<uint8_t*>(plain.data()),
                  const_cast<uint8_t*>(r + 5 + n)))
            return false;
        while (!plain.empty() && plain.back() == 0) plain.pop_back();  // padding
        if (plain.empty()) return false;  // no content type: wolfSSL refuses it
        type = static_cast<uint8_t>(plain.back());
        plain.pop_back();
        return true;
    }
    bool seal(uint64_t seq, uint8_t type, std::string_view text, std::string& out) override {
        if (!derive()) return false;
        const size_t n = text.size() + 1;
        const uint8_t hdr[5] = {23, 3, 3, static_cast<uint8_t>((n + 16) >> 8),
                                static_cast<uint8_t>((n + 16) & 0xff)};
        std::string inner(text);
        inner += static_cast<char>(type);
        const size_t at = out.size();
        out.append(reinterpret_cast<const char*>(hdr), 5);
        out.resize(at + 5 + n + 16);
        auto* o = reinterpret_cast<uint8_t*>(out.data()) + at;
        const bool ok = aead(true, seq, o, reinterpret_cast<const uint8_t*>(inner.data()), n,
                             o + 5, o + 5 + n);
        secure_wipe(inner.data(), inner.size());
        if (!ok) out.resize(at);
        return ok;
    }
};


// Once wolfSSL has derived the client's handshake key (its ServerHello is written).
void Session::arm_handshake_crypto() {
    if (!hs_in_ || hs_in_->has_crypto() || client_hs_secret_len_ == 0) return;
    hs_in_->server_encrypts();  // from here on only wolfSSL can write an alert the client reads
    WOLFSSL* s = ssl_.get();
    auto c = std::make_unique<HsCrypto>();
    c->bulk = wolfSSL_GetBulkCipher(s);
    const int ks = wolfSSL_GetKeySize(s);
    if ((c->bulk != wolfssl_aes_gcm && c->bulk != wolfssl_chacha) || ks <= 0 || ks > 32) return;
    c->key_len = size_t(ks);
    memcpy(c->secret, client_hs_secret_, client_hs_secret_len_);
    c->secret_len = client_hs_secret_len_;
    secure_wipe(client_hs_secret_, sizeof client_hs_secret_);
    hs_crypto_ = std::move(c);
    hs_in_->set_crypto(hs_crypto_.get());
}

void Session::SslDeleter::operator()(WOLFSSL* s) const { wolfSSL_free(s); }

Session::Session(Context& ctx) : ctx_(ctx) {}

Session::~Session() {
    ssl_.reset();  // wolfSSL zeroes its keys in wolfSSL_free
    hs_in_.reset();
    hs_crypto_.reset();
    secure_wipe(client_hs_secret_, sizeof client_hs_secret_);
    secure_wipe(client_secret_, sizeof client_secret_);
    secure_wipe(server_secret_, sizeof server_secret_);
    secure_wipe(in_.data(), in_.size());
    secure_wipe(out_.data(), out_.size());
}

void Session::feed(std::string_view ciphertext) {
    if (state_ == State::Hello && hello_.status() == HelloReader::Status::NeedMore) {
        // Until the hello is whole only the reader keeps anything: the reassembled message,
        // never the client's records (a hello in 1-byte records would be six times larger).
        const size_t before = hello_fed_;
        if (hello_.feed(ciphertext) == HelloReader::Status::Ok) {
            in_ = reframe(hello_.message(), hello_.record_version());
            in_pos_ = 0;
            // What came after the hello waits for its version to be known (advance()).
            after_hello_.assign(ciphertext.substr(hello_.rest_offset() - before));
        }
        hello_fed_ += ciphertext.size();
        return;
    }
    if (state_ == State::Hello) {
        if (hello_.status() == HelloReader::Status::Ok) after_hello_.append(ciphertext);
        return;  // after a refusal nothing more is read
    }
    if (in_pos_ >= kCompactAt && in_pos_ * 2 >= in_.size()) {
        in_.erase(0, in_pos_);
        in_pos_ = 0;
    }
    if (state_ == State::Handshake && hs_in_) {
        normalise(ciphertext);
        return;
    }
    in_.append(ciphertext);
}

// The client's records before wolfSSL reads them (tls::HandshakeInput).
void Session::normalise(std::string_view bytes) {
    switch (hs_in_->feed(bytes, in_)) {
    case HandshakeInput::Status::Ok:
        return;
    case HandshakeInput::Status::Poisoned:
        violation_ = hs_in_->violation();  // wolfSSL writes the alert
        return;
    case HandshakeInput::Status::Fatal:
        fail_alert(hs_in_->violation(), "refused during the handshake");
        return;
    }
}

std::string_view Session::output() const {
    return std::string_view(out_).substr(out_pos_);
}

void Session::consume_output(size_t n) {
    out_pos_ = std::min(out_.size(), out_pos_ + n);
    if (out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
    }
}

size_t Session::read_hint() const {
    return state_ == State::Hello || state_ == State::Handshake ? hint_ : 0;
}

std::string Session::take_leftover() {
    std::string rest = in_.substr(in_pos_);
    if (hs_in_) rest += hs_in_->pending();  // a record the normaliser had not finished
    hs_in_.reset();
    secure_wipe(in_.data(), in_.size());
    in_.clear();
    in_pos_ = 0;
    return rest;
}

void Session::fail_with(std::string why) {
    state_ = State::Failed;
    error_ = std::move(why);
}

Session::Step Session::fail_alert(Violation v, std::string_view why) {
    const AlertRule& r = rule_for(v);
    // Before wolfSSL has written anything the client reads records in plaintext.
    const char rec[] = {21, 3, 3, 0, 2, static_cast<char>(alert::kLevelFatal),
                        static_cast<char>(r.description)};
    out_.append(rec, sizeof rec);
    violation_ = v;
    fail_with(std::string("handshake failed: ") + std::string(why) + " (" +
              std::string(r.name) + ", " + std::string(r.rfc) + ")");
    return Step::Failed;
}

Session::Step Session::on_eof() {
    if (state_ == State::Hello && hello_.status() == HelloReader::Status::NeedMore) {
        if (hello_.eof() == HelloReader::Status::Fatal)
            return fail_alert(hello_.violation(), "the client closed in the middle of its hello");
        fail_with("the client closed before its hello");
        return Step::Failed;
    }
    if (state_ == State::Hello || state_ == State::Handshake) {
        fail_with("the client closed during the handshake");
        state_ = State::Failed;
    }
    return state_ == State::Done ? Step::Done : Step::Failed;
}

// wolfSSL's first record, if it is a TLS 1.3 ServerHello or HelloRetryRequest (both carry
// supported_versions = 0x0304; in TLS 1.3 nothing else shares their record: what follows is
// encrypted). `group`: the key_share a HelloRetryRequest asks for.
namespace {
struct FirstHello {
    size_t record_len = 0;
    bool retry = false;
    uint16_t group = 0;
};

std::optional<FirstHello> parse_first_hello(std::string_view rec) {
    static const uint8_t kHrrRandom[32] = {  // SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65,
        0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2,
        0xc8, 0xa8, 0x33, 0x9c};
    if (rec.size() < 9 || rec[0] != 22 || rec[5] != 2) return std::nullopt;
    const size_t len = (size_t{static_cast<uint8_t>(rec[3])} << 8) | static_cast<uint8_t>(rec[4]);
    if (rec.size() < 5 + len || len < 4 + 35) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(rec.data()) + 9;
    const size_t n = len - 4;
    // legacy_version(2) random(32) session_id<1> suite(2) compression(1) extensions<2>
    size_t i = 35 + p[34] + 3;
    if (i + 2 > n) return std::nullopt;
    FirstHello h;
    h.record_len = 5 + len;
    h.retry = memcmp(p + 2, kHrrRandom, 32) == 0;
    bool v13 = false;
    const size_t end = std::min(n, i + 2 + ((size_t{p[i]} << 8) | p[i + 1]));
    for (i += 2; i + 4 <= end;) {
        const unsigned type = (unsigned{p[i]} << 8) | p[i + 1];
        const size_t elen = (size_t{p[i + 2]} << 8) | p[i + 3];
        if (i + 4 + elen > end) break;
        if (type == 43 && elen == 2 && p[i + 4] == 3 && p[i + 5] == 4) v13 = true;
        if (type == 51 && elen == 2) h.group = static_cast<uint16_t>((p[i + 4] << 8) | p[i + 5]);
        i += 4 + elen;
    }
    if (!v13) return std::nullopt;
    return h;
}
}  // namespace

// wolfSSL's first output. A HelloRetryRequest: the second hello must offer the group it names
// (RFC 8446 §4.1.4). RFC 8446 Appendix D.4: a client in middlebox compatibility mode
// (non-empty session id) expects a change_cipher_spec right after the server's first
// handshake message; Debian's wolfSSL is built without WOLFSSL_TLS13_MIDDLEBOX_COMPAT, so it
// goes in here.
void Session::on_first_output(size_t first) {
    const bool ccs = compat_ccs_;
    compat_ccs_ = false;  // one chance: the first record
    const auto h = parse_first_hello(std::string_view(out_).substr(first));
    if (!h) return;
    if (h->retry && h->group != 0 && hs_in_) hs_in_->expect_retry_group(h->group);
    static const char kCcs[] = {20, 3, 3, 0, 1, 1};
    if (ccs) out_.insert(first + h->record_len, kCcs, sizeof kCcs);
}

bool Session::start(const void* hello_info) {
    const auto* hello = static_cast<const ClientHelloInfo*>(hello_info);
    const CertEntry& e = ctx_.impl().select(hello);
    if (hello != nullptr) sni_ = hello->sni;
    {
#if SLUICE_TLS_ACCEL
        // Its WC_RNG gets every byte from the crypto device: no per-connection DRBG (accel.h).
        DeviceRoute route(wolfSSL_CTX_GetDevId(e.ctx.get(), nullptr));
#endif
        ssl_.reset(wolfSSL_new(e.ctx.get()));
    }
    if (!ssl_) {
        fail_with("wolfSSL_new failed");
        return false;
    }
    wolfSSL_SetIOReadCtx(ssl_.get(), this);
    wolfSSL_SetIOWriteCtx(ssl_.get(), this);
    // The one protocol chosen from the parsed hello (check_hello refused a hello offering
    // none of ours), so wolfSSL cannot pick by the client's order.
    if (hello != nullptr && hello->has_alpn) {
        HelloPolicy policy;
        policy.h2 = ctx_.impl().http2;
        std::string alpn(choose_alpn(*hello, policy));
        if (wolfSSL_UseALPN(ssl_.get(), alpn.data(), static_cast<unsigned>(alpn.size()),
                            WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
            fail_with("wolfSSL_UseALPN failed");
            return false;
        }
    }
    state_ = State::Handshake;
    return true;
}

Session::Step Session::advance() {
    if (state_ == State::Hello) {
        switch (hello_.status()) {
        case HelloReader::Status::NeedMore:
            hint_ = hello_.need();
            return Step::WantRead;
        case HelloReader::Status::PeerAlert:
            fail_with("the client sent an alert instead of a hello");
            return Step::Failed;
        case HelloReader::Status::Fatal:
            return fail_alert(hello_.violation(), "refused before wolfSSL");
        case HelloReader::Status::Ok:
            break;
        }
        const ClientHelloInfo& info = hello_.info();
        const Context::Impl& impl = ctx_.impl();
        HelloPolicy policy;
        policy.tls12 = impl.tls12;
        policy.tls13 = impl.tls13;
        policy.suites12 = impl.tls12_usable;
        policy.suites13 = impl.tls13_suites;
        policy.h2 = impl.http2;
        const HelloVerdict verdict = check_hello(info, policy);
        if (verdict.violation) return fail_alert(*verdict.violation, "ClientHello refused");
        hello_ok_ = true;
        compat_ccs_ = verdict.version == 0x0304 && info.session_id_len > 0;
        if (!start(&info)) return Step::Failed;
        // What followed the hello in the same reads is checked like later input.
        hs_in_.emplace(verdict.version);
        std::string after;
        after.swap(after_hello_);
        normalise(after);
        if (state_ == State::Failed) return Step::Failed;
        hello_ = HelloReader();  // the hello lives on only in `in_`, reframed
    }
    if (state_ == State::Handshake) {
        int ret;
        {
            CurrentGuard guard(this);
#if SLUICE_TLS_ACCEL
            // TLS 1.3 X25519 key shares to the context's crypto device too (accel.h).
            DeviceRoute route(wolfSSL_CTX_GetDevId(nullptr, ssl_.get()));
#endif
            const bool first_output = !wrote_any_;
            const size_t out_before = out_.size();
            ret = wolfSSL_accept(ssl_.get());
            if (first_output && wrote_any_) on_first_output(out_before);
        }
        arm_handshake_crypto();
        if (ret == WOLFSSL_SUCCESS && !curve_allowed(ssl_.get())) {
            fail_with(std::string("handshake failed: disallowed key exchange group ") +
                      wolfSSL_get_curve_name(ssl_.get()));
        } else if (ret == WOLFSSL_SUCCESS) {
            state_ = State::Done;
            hint_ = 0;
        } else {
            int err = wolfSSL_get_error(ssl_.get(), ret);
            if (err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
                char buf[WOLFSSL_MAX_ERROR_SZ] = {};
                wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof buf);
                fail_with(std::string("handshake failed: ") + buf + " (" + std::to_string(err) +
                          ")");
                // Some refusals (e.g. TLS 1.3 without a common group) leave no alert; before
                // our first flight a plaintext alert is what the client expects.
                if (hello_ok_ && !wrote_any_ && out_.empty())
                    out_.append(kHandshakeFailure, sizeof kHandshakeFailure);
            }
        }
    }
    if (state_ == State::Failed) return Step::Failed;
    if (out_pos_ < out_.size()) return Step::WantWrite;
    return state_ == State::Done ? Step::Done : Step::WantRead;
}

Result<TrafficKeys> Session::export_keys() {
    if (state_ != State::Done || !ssl_) return fail(EAGAIN);
    WOLFSSL* s = ssl_.get();
    TrafficKeys k;
    int v = wolfSSL_version(s);
    if (v == 0x0303) {
        k.version = Version::Tls12;
    } else if (v == 0x0304) {
        k.version = Version::Tls13;
    } else {
        error_ = "export: unsupported version";
        return fail(ENOTSUP);
    }
    const char* name = wolfSSL_get_cipher_name(s);
    std::string_view sv = name != nullptr ? name : "";
    int key_size = wolfSSL_GetKeySize(s);
    int bulk = wolfSSL_GetBulkCipher(s);
    if (wolfSSL_GetCipherType(s) != WOLFSSL_AEAD_TYPE || sv.ends_with("-OLD")) {
        error_ = "export: not an AEAD suite usable by kTLS: " + std::string(sv);
        return fail(ENOTSUP);
    }
    if (bulk == wolfssl_aes_gcm && key_size == 16) {
        k.cipher = Cipher::Aes128Gcm;
    } else if (bulk == wolfssl_aes_gcm && key_size == 32) {
        k.cipher = Cipher::Aes256Gcm;
    } else if (bulk == wolfssl_chacha && key_size == 32) {
        k.cipher = Cipher::Chacha20Poly1305;
    } else {
        error_ = "export: unsupported cipher " + std::string(sv);
        return fail(ENOTSUP);
    }
    size_t ivl = iv_len(k.version, k.cipher);
    if (size_t(wolfSSL_GetIVSize(s)) != ivl) {
        error_ = "export: unexpected IV size";
        return fail(ENOTSUP);
    }
    const unsigned char* sk = wolfSSL_GetServerWriteKey(s);
    const unsigned char* si = wolfSSL_GetServerWriteIV(s);
    const unsigned char* ck = wolfSSL_GetClientWriteKey(s);
    const unsigned char* ci = wolfSSL_GetClientWriteIV(s);
    if (sk == nullptr || si == nullptr || ck == nullptr || ci == nullptr) return fail(EINVAL);
    memcpy(k.tx.key, sk, size_t(key_size));
    memcpy(k.tx.iv, si, ivl);
    memcpy(k.rx.key, ck, size_t(key_size));
    memcpy(k.rx.iv, ci, ivl);
    // Returns !seq (1 when seq == 0): only negative values are errors (ktls-facts §1.3).
    word64 tx_seq = 0, rx_seq = 0;
    if (wolfSSL_GetSequenceNumber(s, &tx_seq) < 0 || wolfSSL_GetPeerSequenceNumber(s, &rx_seq) < 0)
        return fail(EINVAL);
    k.tx.seq = tx_seq;
    k.rx.seq = rx_seq;

    if (k.version == Version::Tls13) {
        // Keep a captured secret only if it re-derives the exported key.
        size_t hash_len = k.cipher == Cipher::Aes256Gcm ? 48 : 32;
        int digest = hash_len == 48 ? int(WC_SHA384) : int(WC_SHA256);
        auto check = [&](const uint8_t* secret, uint8_t len, DirectionKeys& d) {
            if (len != hash_len) return;
            uint8_t okm[32];
            static const byte kProto[] = "tls13 ";
            static const byte kLabel[] = "key";
            int rc = wc_Tls13_HKDF_Expand_Label(okm, word32(key_size), secret, len, kProto, 6,
                                                kLabel, 3, nullptr, 0, digest);
            if (rc == 0 && memcmp(okm, d.key, size_t(key_size)) == 0) {
                memcpy(d.secret, secret, len);
                d.secret_len = len;
            }
            secure_wipe(okm, sizeof okm);
        };
        check(server_secret_, server_secret_len_, k.tx);
        check(client_secret_, client_secret_len_, k.rx);
    }
    // The returned copy is the only one we keep.
    secure_wipe(client_secret_, sizeof client_secret_);
    secure_wipe(server_secret_, sizeof server_secret_);
    client_secret_len_ = server_secret_len_ = 0;
    return k;
}

std::optional<Version> Session::version() const {
    if (state_ != State::Done) return std::nullopt;
    int v = wolfSSL_version(ssl_.get());
    if (v == 0x0303) return Version::Tls12;
    if (v == 0x0304) return Version::Tls13;
    return std::nullopt;
}

std::optional<Cipher> Session::cipher() const {
    if (state_ != State::Done) return std::nullopt;
    WOLFSSL* s = ssl_.get();
    int bulk = wolfSSL_GetBulkCipher(s);
    int ks = wolfSSL_GetKeySize(s);
    if (bulk == wolfssl_aes_gcm) return ks == 16 ? Cipher::Aes128Gcm : Cipher::Aes256Gcm;
    if (bulk == wolfssl_chacha) return Cipher::Chacha20Poly1305;
    return std::nullopt;
}

std::string_view Session::cipher_name() const {
    if (state_ != State::Done) return {};
    const char* n = wolfSSL_get_cipher_name(ssl_.get());
    return n != nullptr ? n : "";
}

std::string_view Session::alpn() const {
    if (!ssl_) return {};
    char* name = nullptr;
    unsigned short len = 0;
    if (wolfSSL_ALPN_GetProtocol(ssl_.get(), &name, &len) != WOLFSSL_SUCCESS || name == nullptr)
        return {};
    return std::string_view(name, len);
}

std::string_view Session::sni() const { return sni_; }

bool Session::resumed() const {
    return state_ == State::Done && wolfSSL_session_reused(ssl_.get()) == 1;
}

bool Session::max_fragment_negotiated() const {
    if (!ssl_) return false;
    int max = wolfSSL_GetMaxOutputSize(ssl_.get());
    return max > 0 && max < 16384;
}

std::string Session::last_error() const { return error_; }

}  // namespace sluice::tls
