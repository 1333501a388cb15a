#include "record/record.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>

#include "record/hkdf.h"

namespace sluice::record {

namespace {

void put_be64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

void put_be16(uint8_t* p, size_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

// The AEAD tag as an OSSL_PARAM straight to the provider: EVP_CIPHER_CTX_ctrl would first
// translate the control into the same parameter (a per-record cost that showed in profiles of
// small HTTPS responses).
bool get_tag(EVP_CIPHER_CTX* ctx, uint8_t* tag) {
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagLen),
                      OSSL_PARAM_construct_end()};
    return EVP_CIPHER_CTX_get_params(ctx, p) == 1;
}

bool set_tag(EVP_CIPHER_CTX* ctx, const uint8_t* tag) {
    OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                        const_cast<uint8_t*>(tag), kTagLen),
                      OSSL_PARAM_construct_end()};
    return EVP_CIPHER_CTX_set_params(ctx, p) == 1;
}

// Fetched once per process: implicit fetching per EVP_CipherInit_ex costs a lookup each time.
const EVP_CIPHER* evp_cipher(tls::Cipher c) {
    static EVP_CIPHER* const aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    static EVP_CIPHER* const aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    static EVP_CIPHER* const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    switch (c) {
    case tls::Cipher::Aes128Gcm: return aes128;
    case tls::Cipher::Aes256Gcm: return aes256;
    case tls::Cipher::Chacha20Poly1305: return chacha;
    }
    return nullptr;
}

bool valid_pair(tls::Version v, tls::Cipher c) {
    const bool ver = v == tls::Version::Tls12 || v == tls::Version::Tls13;
    const bool cip = c == tls::Cipher::Aes128Gcm || c == tls::Cipher::Aes256Gcm ||
                     c == tls::Cipher::Chacha20Poly1305;
    return ver && cip;
}

size_t explicit_len(tls::Version v, tls::Cipher c) {
    return (v == tls::Version::Tls12 && c != tls::Cipher::Chacha20Poly1305) ? 8 : 0;
}

}  // namespace

namespace detail {

void CtxFree::operator()(evp_cipher_ctx_st* c) const { EVP_CIPHER_CTX_free(c); }

Direction::~Direction() {
    tls::secure_wipe(iv, sizeof iv);
    tls::secure_wipe(secret, sizeof secret);
}

Result<void> Direction::init(const tls::TrafficKeys& keys, const tls::DirectionKeys& d,
                             bool enc) {
    if (!valid_pair(keys.version, keys.cipher)) return fail(EINVAL);
    if (d.secret_len > sizeof d.secret) return fail(EINVAL);
    const EVP_CIPHER* cipher_impl = evp_cipher(keys.cipher);
    if (cipher_impl == nullptr) return fail(ENOTSUP);
    ctx.reset(EVP_CIPHER_CTX_new());
    if (!ctx) return fail(ENOMEM);
    // Keyed once; each record only sets its nonce.
    if (EVP_CipherInit_ex(ctx.get(), cipher_impl, nullptr, d.key, nullptr, enc ? 1 : 0) != 1) {
        return fail(EINVAL);
    }
    version = keys.version;
    cipher = keys.cipher;
    encrypt = enc;
    explicit_nonce = explicit_len(version, cipher) != 0;
    seq = d.seq;
    memcpy(iv, d.iv, sizeof iv);
    memcpy(secret, d.secret, d.secret_len);
    secret_len = d.secret_len;
    return {};
}

void Direction::nonce(uint64_t s, const uint8_t* explicit_part, uint8_t out[12]) const {
    if (explicit_nonce) {
        memcpy(out, iv, 4);
        memcpy(out + 4, explicit_part, 8);
        return;
    }
    uint8_t be[8];
    put_be64(be, s);
    memcpy(out, iv, 12);
    for (int i = 0; i < 8; ++i) out[4 + i] ^= be[i];
}

Result<void> Direction::update_key() {
    if (version != tls::Version::Tls13 || secret_len == 0) return fail(ENOTSUP);
    tls::DirectionKeys d;
    memcpy(d.secret, secret, secret_len);
    d.secret_len = secret_len;
    if (auto r = next_traffic_keys(cipher, d); !r) {
        tls::secure_wipe(&d, sizeof d);
        return r;
    }
    const int ok = EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, d.key, nullptr, encrypt ? 1 : 0);
    if (ok != 1) {
        tls::secure_wipe(&d, sizeof d);
        return fail(EINVAL);
    }
    memcpy(iv, d.iv, sizeof iv);
    memcpy(secret, d.secret, d.secret_len);
    seq = 0;
    tls::secure_wipe(&d, sizeof d);
    return {};
}

}  // namespace detail

// ---- Sealer ------------------------------------------------------------------------------

Result<std::unique_ptr<Sealer>> Sealer::make(const tls::TrafficKeys& keys) {
    std::unique_ptr<Sealer> s(new Sealer());
    if (auto r = s->dir_.init(keys, keys.tx, true); !r) return std::unexpected(r.error());
    return s;
}

size_t Sealer::sealed_size(tls::Version v, tls::Cipher c, size_t n) {
    const size_t records = n == 0 ? 1 : (n + kMaxPlaintext - 1) / kMaxPlaintext;
    const size_t per = kHeaderLen + explicit_len(v, c) + kTagLen + (v == tls::Version::Tls13);
    return n + records * per;
}

bool Sealer::seal_one(ContentType type, std::span<const std::string_view> parts, size_t n,
                      uint8_t* out) {
    EVP_CIPHER_CTX* ctx = dir_.ctx.get();
    const uint64_t s = dir_.seq;
    const bool tls13 = dir_.version == tls::Version::Tls13;
    const size_t ex = dir_.explicit_nonce ? 8 : 0;
    const size_t len = ex + n + (tls13 ? 1 : 0) + kTagLen;

    const ContentType outer = tls13 ? ContentType::ApplicationData : type;
    out[0] = static_cast<uint8_t>(outer);
    out[1] = 0x03;
    out[2] = 0x03;
    put_be16(out + 3, len);
    uint8_t* body = out + kHeaderLen;
    if (ex) put_be64(body, s);  // explicit nonce = seq, as the kernel does

    uint8_t nonce[12];
    dir_.nonce(s, body, nonce);
    uint8_t aad12[13];
    const uint8_t* aad = out;
    int aad_len = kHeaderLen;
    if (!tls13) {
        put_be64(aad12, s);
        aad12[8] = static_cast<uint8_t>(type);
        aad12[9] = 0x03;
        aad12[10] = 0x03;
        put_be16(aad12 + 11, n);
        aad = aad12;
        aad_len = sizeof aad12;
    }
    int l = 0;
    uint8_t* ct = body + ex;
    bool ok = EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, 1) == 1 &&
              EVP_CipherUpdate(ctx, nullptr, &l, aad, aad_len) == 1;
    size_t done = 0;
    // GCM and ChaCha20-Poly1305 are stream modes: one update per part gives the same record.
    for (const std::string_view p : parts) {
        if (!ok || p.empty()) continue;
        ok = EVP_CipherUpdate(ctx, ct + done, &l, reinterpret_cast<const uint8_t*>(p.data()),
                              static_cast<int>(p.size())) == 1;
        done += static_cast<size_t>(l);
    }
    if (ok && tls13) {
        const uint8_t inner_type = static_cast<uint8_t>(type);
        ok = EVP_CipherUpdate(ctx, ct + done, &l, &inner_type, 1) == 1;
        done += static_cast<size_t>(l);
    }
    ok = ok && EVP_CipherFinal_ex(ctx, ct + done, &l) == 1;
    done += static_cast<size_t>(l);
    ok = ok && get_tag(ctx, ct + done);
    if (ok) dir_.seq = s + 1;
    return ok;
}

Result<void> Sealer::seal(ContentType type, std::span<const uint8_t> in, std::string& out) {
    const size_t records = in.empty() ? 1 : (in.size() + kMaxPlaintext - 1) / kMaxPlaintext;
    if (dir_.seq > UINT64_MAX - records) return fail(EOVERFLOW);  // never reuse a nonce
    const size_t old = out.size();
    const size_t add = sealed_size(in.size());
#if defined(__cpp_lib_string_resize_and_overwrite)
    // No zero fill. Return the wanted size, not the callback's n: libstdc++ 12 passes the new
    // capacity there.
    const size_t want = old + add;
    out.resize_and_overwrite(want, [want](char*, size_t) { return want; });
#else
    out.resize(old + add);
#endif
    auto* dst = reinterpret_cast<uint8_t*>(out.data()) + old;
    const uint8_t* src = in.data();
    size_t left = in.size();
    do {
        const size_t n = left < kMaxPlaintext ? left : kMaxPlaintext;
        const std::string_view part(reinterpret_cast<const char*>(src), n);
        if (!seal_one(type, std::span(&part, 1), n, dst)) {
            out.resize(old);  // internal EVP failure: the connection cannot go on
            return fail(EIO);
        }
        dst += sealed_size(n);
        src += n;
        left -= n;
        ++records_;
    } while (left > 0);
    bytes_ += in.size();
    return {};
}

Result<void> Sealer::seal(ContentType type, std::string_view in, std::string& out) {
    return seal(type, std::span(reinterpret_cast<const uint8_t*>(in.data()), in.size()), out);
}

Result<void> Sealer::seal_parts(ContentType type, std::span<const std::string_view> parts,
                                std::string& out) {
    size_t n = 0;
    for (const std::string_view p : parts) n += p.size();
    if (n > kMaxPlaintext) return fail(EMSGSIZE);
    if (dir_.seq == UINT64_MAX) return fail(EOVERFLOW);  // never reuse a nonce
    const size_t old = out.size();
    const size_t want = old + sealed_size(n);
#if defined(__cpp_lib_string_resize_and_overwrite)
    out.resize_and_overwrite(want, [want](char*, size_t) { return want; });
#else
    out.resize(want);
#endif
    if (!seal_one(type, parts, n, reinterpret_cast<uint8_t*>(out.data()) + old)) {
        out.resize(old);
        return fail(EIO);
    }
    ++records_;
    bytes_ += n;
    return {};
}

// ---- Opener ------------------------------------------------------------------------------

Result<std::unique_ptr<Opener>> Opener::make(const tls::TrafficKeys& keys) {
    std::unique_ptr<Opener> o(new Opener());
    if (auto r = o->dir_.init(keys, keys.rx, false); !r) return std::unexpected(r.error());
    return o;  // no buffer until bytes arrive: idle connections hold none
}

void Opener::feed(std::span<const uint8_t> bytes) {
    if (pos_ > 0) {  // drop opened records: keeps the buffer at about one record
        in_.erase(0, pos_);
        pos_ = 0;
    }
    in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void Opener::feed(std::string_view bytes) {
    feed(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Result<std::optional<Record>> Opener::fail_sticky(int code) {
    error_ = code;
    return fail(code);
}

Result<std::optional<Record>> Opener::next() {
    if (error_ != 0) return fail(error_);
    const size_t avail = in_.size() - pos_;
    if (avail == 0) {
        // Everything opened: give the buffer back so an idle connection holds no ciphertext
        // buffer (a record is up to 16 KiB; 10,000 idle connections would keep 160 MiB).
        std::string().swap(in_);
        pos_ = 0;
        return std::optional<Record>{};
    }
    if (avail < kHeaderLen) return std::optional<Record>{};
    auto* h = reinterpret_cast<uint8_t*>(in_.data()) + pos_;
    const uint8_t outer = h[0];
    const unsigned ver = (unsigned{h[1]} << 8) | h[2];
    const size_t len = (size_t{h[3]} << 8) | h[4];
    const bool tls13 = dir_.version == tls::Version::Tls13;

    if (ver != 0x0303) return fail_sticky(EPROTO);
    if (len > (tls13 ? kMaxCiphertext13 : kMaxCiphertext12)) return fail_sticky(EMSGSIZE);
    if (tls13 ? outer != static_cast<uint8_t>(ContentType::ApplicationData)
              : (outer < 20 || outer > 23)) {
        return fail_sticky(ENOMSG);
    }
    if (avail < kHeaderLen + len) return std::optional<Record>{};
    const size_t ex = dir_.explicit_nonce ? 8 : 0;
    if (len < ex + kTagLen) return fail_sticky(EBADMSG);
    if (dir_.seq == UINT64_MAX) return fail_sticky(EOVERFLOW);

    uint8_t* body = h + kHeaderLen;
    uint8_t* ct = body + ex;
    const size_t ct_len = len - ex - kTagLen;
    if (!tls13 && ct_len > kMaxPlaintext) return fail_sticky(EMSGSIZE);
    uint8_t nonce[12];
    dir_.nonce(dir_.seq, body, nonce);
    uint8_t aad12[13];
    const uint8_t* aad = h;
    int aad_len = kHeaderLen;
    if (!tls13) {
        put_be64(aad12, dir_.seq);
        aad12[8] = outer;
        aad12[9] = 0x03;
        aad12[10] = 0x03;
        put_be16(aad12 + 11, ct_len);
        aad = aad12;
        aad_len = sizeof aad12;
    }
    EVP_CIPHER_CTX* ctx = dir_.ctx.get();
    int l = 0;
    bool ok = EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, 0) == 1 &&
              EVP_CipherUpdate(ctx, nullptr, &l, aad, aad_len) == 1 &&
              EVP_CipherUpdate(ctx, ct, &l, ct, static_cast<int>(ct_len)) == 1 &&  // in place
              set_tag(ctx, ct + ct_len);
    int fl = 0;
    ok = ok && EVP_CipherFinal_ex(ctx, ct + l, &fl) > 0;
    if (!ok) return fail_sticky(EBADMSG);

    ContentType type = static_cast<ContentType>(outer);
    size_t n = ct_len;
    if (tls13) {
        if (ct_len > kMaxPlaintext + 1) return fail_sticky(EMSGSIZE);
        while (n > 0 && ct[n - 1] == 0) --n;  // strip padding
        if (n == 0) return fail_sticky(ENOMSG);
        const uint8_t inner = ct[--n];
        if (inner < 21 || inner > 23) return fail_sticky(ENOMSG);
        type = static_cast<ContentType>(inner);
    }
    ++dir_.seq;
    pos_ += kHeaderLen + len;
    bytes_ += n;
    return std::optional<Record>(Record{type, std::span<const uint8_t>(ct, n)});
}

// ---- factories ---------------------------------------------------------------------------

Result<std::unique_ptr<Sealer>> make_sealer(const tls::TrafficKeys& keys) {
    return Sealer::make(keys);
}
Result<std::unique_ptr<Opener>> make_opener(const tls::TrafficKeys& keys) {
    return Opener::make(keys);
}

Result<RecordLayer> RecordLayer::make(const tls::TrafficKeys& keys) {
    auto tx = Sealer::make(keys);
    if (!tx) return std::unexpected(tx.error());
    auto rx = Opener::make(keys);
    if (!rx) return std::unexpected(rx.error());
    RecordLayer l;
    l.tx_ = std::move(*tx);
    l.rx_ = std::move(*rx);
    return l;
}

}  // namespace sluice::record
