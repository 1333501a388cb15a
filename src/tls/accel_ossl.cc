// tls/accel_ossl.cc — libcrypto side of the wolfCrypt crypto device (see accel_bridge.h).
// Includes OpenSSL headers only; never wolfSSL's (docs/ktls-facts.md §1.1).
//
// Per-thread state: EVP_PKEY_CTX / EVP_CIPHER_CTX objects that are only ever used by one thread
// live in thread_local holders. Shared state: the long-lived private-key caches (certificate
// keys), guarded by a mutex; cached EVP_PKEYs are reference-counted, used outside the lock.
#include "tls/accel_bridge.h"

// SHA256_Transform (deprecated in 3.0, still exported) is libcrypto's only public way to run
// the SHA-256 block function on a caller-held state.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <climits>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/bn.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

namespace sluice::tls::bridge {
namespace {

const char* group_name(Curve c) {
    switch (c) {
        case Curve::P256: return "P-256";
        case Curve::P384: return "P-384";
        case Curve::P521: return "P-521";
    }
    return "P-256";
}

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
// Small RAII holders; no exceptions anywhere, just destructors.
class Pkey {
public:
    Pkey() = default;
    explicit Pkey(EVP_PKEY* k) : k_(k) {}
    Pkey(const Pkey&) = delete;
    Pkey& operator=(const Pkey&) = delete;
    ~Pkey() { EVP_PKEY_free(k_); }
    EVP_PKEY* get() const { return k_; }
    EVP_PKEY** out() { return &k_; }
    explicit operator bool() const { return k_ != nullptr; }
private:
    EVP_PKEY* k_ = nullptr;
};
class PkeyCtx {
public:
    explicit PkeyCtx(EVP_PKEY_CTX* c) : c_(c) {}
    PkeyCtx(const PkeyCtx&) = delete;
    PkeyCtx& operator=(const PkeyCtx&) = delete;
    ~PkeyCtx() { EVP_PKEY_CTX_free(c_); }
    EVP_PKEY_CTX* get() const { return c_; }
    EVP_PKEY_CTX* release() { return std::exchange(c_, nullptr); }
    explicit operator bool() const { return c_ != nullptr; }
private:
    EVP_PKEY_CTX* c_;
};

// Big-endian bytes → native-endian buffer for OSSL_PARAM_construct_BN (unsigned integers in
// OSSL_PARAMs are native-endian).
void to_native(const uint8_t* be, size_t n, uint8_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = be[n - 1 - i];
}

// ---- per-thread contexts --------------------------------------------------------------------

using Digest = std::array<uint8_t, 32>;

struct ThreadCtx {
    EVP_PKEY_CTX* x25519_from = nullptr;
    EVP_PKEY_CTX* ec_gen[3] = {};
    EVP_PKEY_CTX* ec_from = nullptr;
    EVP_CIPHER_CTX* gcm = nullptr;
    // Signing contexts ready for EVP_PKEY_sign (sign_init done) for the last few certificate
    // keys this thread used, by key digest: creating one and its init (a provider fetch) cost
    // about as much as half an ECDSA P-256 signature.
    struct SignSlot {
        Digest id{};
        EVP_PKEY_CTX* ctx = nullptr;
    };
    SignSlot sign[4];
    unsigned sign_next = 0;
    EVP_MAC_CTX* hmac256 = nullptr;  // HKDF-Expand (digest set once)
    EVP_MAC_CTX* hmac384 = nullptr;
    // X25519 keys generated on this thread and not yet used, each with a derive context ready
    // (see x25519_keygen). The private scalar is compared before use and wiped on release.
    struct X25519Pending {
        uint8_t priv[32] = {};
        uint8_t pub[32] = {};
        EVP_PKEY_CTX* ctx = nullptr;
        void clear() {
            EVP_PKEY_CTX_free(ctx);
            ctx = nullptr;
            OPENSSL_cleanse(priv, sizeof priv);
        }
    };
    X25519Pending x25519_pending[32];
    unsigned x25519_next = 0;
    EVP_PKEY* x25519_base = nullptr;
    ~ThreadCtx() {
        for (auto& p : x25519_pending) p.clear();
        EVP_PKEY_free(x25519_base);
        EVP_MAC_CTX_free(hmac256);
        EVP_MAC_CTX_free(hmac384);
        for (auto& s : sign) EVP_PKEY_CTX_free(s.ctx);
        EVP_PKEY_CTX_free(x25519_from);
        for (auto* c : ec_gen) EVP_PKEY_CTX_free(c);
        EVP_PKEY_CTX_free(ec_from);
        EVP_CIPHER_CTX_free(gcm);
    }
};
thread_local ThreadCtx t_ctx;

EVP_PKEY_CTX* x25519_from_ctx() {
    if (t_ctx.x25519_from) return t_ctx.x25519_from;
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
    if (!c || EVP_PKEY_fromdata_init(c) <= 0) {
        EVP_PKEY_CTX_free(c);
        return nullptr;
    }
    return t_ctx.x25519_from = c;
}
EVP_PKEY_CTX* ec_gen_ctx(Curve curve) {
    int i = static_cast<int>(curve);
    if (t_ctx.ec_gen[i]) return t_ctx.ec_gen[i];
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (!c || EVP_PKEY_keygen_init(c) <= 0) {
        EVP_PKEY_CTX_free(c);
        return nullptr;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         const_cast<char*>(group_name(curve)), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_set_params(c, params) <= 0) {
        EVP_PKEY_CTX_free(c);
        return nullptr;
    }
    return t_ctx.ec_gen[i] = c;
}
EVP_PKEY_CTX* ec_from_ctx() {
    if (t_ctx.ec_from) return t_ctx.ec_from;
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (!c || EVP_PKEY_fromdata_init(c) <= 0) {
        EVP_PKEY_CTX_free(c);
        return nullptr;
    }
    return t_ctx.ec_from = c;
}

// EC key from raw parts. priv and/or pub may be null (not both).
EVP_PKEY* ec_from_raw(Curve curve, const uint8_t* priv, const uint8_t* pub, size_t pub_len) {
    EVP_PKEY_CTX* c = ec_from_ctx();
    if (!c) return nullptr;
    size_t n = curve_bytes(curve);
    uint8_t native[66];
    OSSL_PARAM params[4];
    int i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                   const_cast<char*>(group_name(curve)), 0);
    if (priv) {
        to_native(priv, n, native);
        params[i++] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native, n);
    }
    if (pub) {
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                        const_cast<uint8_t*>(pub), pub_len);
    }
    params[i] = OSSL_PARAM_construct_end();
    EVP_PKEY* k = nullptr;
    int sel = priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    int rc = EVP_PKEY_fromdata(c, &k, sel, params);
    OPENSSL_cleanse(native, sizeof native);
    return rc > 0 ? k : nullptr;
}

EVP_PKEY* x25519_from_raw(const uint8_t* priv, const uint8_t* pub) {
    EVP_PKEY_CTX* c = x25519_from_ctx();
    if (!c) return nullptr;
    OSSL_PARAM params[3];
    int i = 0;
    if (priv)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
                                                        const_cast<uint8_t*>(priv), 32);
    if (pub)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                        const_cast<uint8_t*>(pub), 32);
    params[i] = OSSL_PARAM_construct_end();
    EVP_PKEY* k = nullptr;
    int sel = priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    return EVP_PKEY_fromdata(c, &k, sel, params) > 0 ? k : nullptr;
}

Status derive(EVP_PKEY* mine, EVP_PKEY* peer, uint8_t* out, size_t out_len) {
    PkeyCtx c(EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr));
    if (!c || EVP_PKEY_derive_init(c.get()) <= 0) return Status::Failed;
    // validate=0: the full public-key check costs a scalar multiplication; decoding the point
    // already checked it is on the curve, which suffices for these cofactor-1 curves (and X25519
    // needs no check).
    if (EVP_PKEY_derive_set_peer_ex(c.get(), peer, 0) <= 0) return Status::Failed;
    size_t len = out_len;
    if (EVP_PKEY_derive(c.get(), out, &len) <= 0 || len != out_len) return Status::Failed;
    return Status::Ok;
}

// ---- private-key cache ------------------------------------------------------------------------

const EVP_MD* sha256_md() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

struct KeyCache {
    static constexpr size_t kMax = 64;
    std::mutex mu;
    struct Entry {
        Digest id;
        EVP_PKEY* key;
    };
    std::vector<Entry> entries;

    // Returns a new reference or null.
    EVP_PKEY* find(const Digest& id) {
        std::lock_guard<std::mutex> g(mu);
        for (auto& e : entries) {
            if (e.id == id) {
                EVP_PKEY_up_ref(e.key);
                return e.key;
            }
        }
        return nullptr;
    }
    // Takes a reference of k into the cache (caller keeps its own).
    void insert(const Digest& id, EVP_PKEY* k) {
        std::lock_guard<std::mutex> g(mu);
        for (auto& e : entries)
            if (e.id == id) return;
        if (entries.size() >= kMax) {
            // Certificate keys are few; more than kMax distinct ones means churn (tests, or
            // someone signing with many keys). Start over rather than track recency.
            for (auto& e : entries) EVP_PKEY_free(e.key);
            entries.clear();
        }
        EVP_PKEY_up_ref(k);
        entries.push_back({id, k});
    }
    ~KeyCache() {
        for (auto& e : entries) EVP_PKEY_free(e.key);
    }
};
KeyCache& ec_cache() {
    static KeyCache* c = new KeyCache;  // never destroyed: may be used from exiting threads
    return *c;
}
KeyCache& rsa_cache() {
    static KeyCache* c = new KeyCache;
    return *c;
}

bool digest_parts(std::initializer_list<Bytes> parts, uint8_t tag, Digest& out) {
    EVP_MD_CTX* m = EVP_MD_CTX_new();
    if (!m) return false;
    bool ok = EVP_DigestInit_ex2(m, sha256_md(), nullptr) > 0 &&
              EVP_DigestUpdate(m, &tag, 1) > 0;
    for (const Bytes& b : parts) {
        uint8_t len[4] = {uint8_t(b.n >> 24), uint8_t(b.n >> 16), uint8_t(b.n >> 8), uint8_t(b.n)};
        ok = ok && EVP_DigestUpdate(m, len, 4) > 0 && (b.n == 0 || EVP_DigestUpdate(m, b.p, b.n) > 0);
    }
    unsigned int n = 0;
    ok = ok && EVP_DigestFinal_ex(m, out.data(), &n) > 0 && n == 32;
    EVP_MD_CTX_free(m);
    return ok;
}

// ---- AES-GCM ----------------------------------------------------------------------------------

const EVP_CIPHER* gcm_cipher(size_t key_len) {
    static EVP_CIPHER* c128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    static EVP_CIPHER* c192 = EVP_CIPHER_fetch(nullptr, "AES-192-GCM", nullptr);
    static EVP_CIPHER* c256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    switch (key_len) {
        case 16: return c128;
        case 24: return c192;
        case 32: return c256;
    }
    return nullptr;
}

EVP_CIPHER_CTX* gcm_ctx() {
    if (!t_ctx.gcm) t_ctx.gcm = EVP_CIPHER_CTX_new();
    return t_ctx.gcm;
}

bool gcm_setup(EVP_CIPHER_CTX* c, const GcmArgs& a, int enc) {
    const EVP_CIPHER* cipher = gcm_cipher(a.key_len);
    if (!cipher || a.iv_len == 0) return false;
    if (EVP_CipherInit_ex2(c, cipher, nullptr, nullptr, enc, nullptr) <= 0) return false;
    if (a.iv_len != 12 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(a.iv_len), nullptr) <= 0)
        return false;
    if (EVP_CipherInit_ex2(c, nullptr, a.key, a.iv, enc, nullptr) <= 0) return false;
    int outl = 0;
    if (a.aad_len && EVP_CipherUpdate(c, nullptr, &outl, a.aad, static_cast<int>(a.aad_len)) <= 0)
        return false;
    if (a.len && EVP_CipherUpdate(c, a.out, &outl, a.in, static_cast<int>(a.len)) <= 0)
        return false;
    return true;
}

}  // namespace

// ---- X25519 -----------------------------------------------------------------------------------

// The u-coordinate 9 (RFC 7748 §4.1): X25519(k, 9) is k's public key.
constexpr uint8_t kX25519Base[32] = {9};

EVP_PKEY* x25519_base_key() {
    if (t_ctx.x25519_base == nullptr) t_ctx.x25519_base = x25519_from_raw(nullptr, kX25519Base);
    return t_ctx.x25519_base;
}

Status derive_with(EVP_PKEY_CTX* c, EVP_PKEY* peer, uint8_t out[32]) {
    size_t len = 32;
    if (EVP_PKEY_derive_set_peer_ex(c, peer, 0) <= 0 || EVP_PKEY_derive(c, out, &len) <= 0 ||
        len != 32)
        return Status::Failed;
    return Status::Ok;
}

Status x25519_keygen(uint8_t priv[32], uint8_t pub[32]) {
    // EVP_PKEY_generate derives the public key with OpenSSL 3.0's fixed-base code, measured
    // here at ~70 µs against ~47 µs for its variable-base X25519: compute X25519(k, 9) instead.
    if (RAND_priv_bytes(priv, 32) != 1) return Status::Failed;
    // wolfCrypt stores the scalar clamped; X25519 clamps at use anyway.
    priv[0] &= 248;
    priv[31] &= 127;
    priv[31] |= 64;
    // The base point stands in for our public key (only the scalar is used; without one,
    // libcrypto would compute it the slow way).
    Pkey mine(x25519_from_raw(priv, kX25519Base));
    EVP_PKEY* base = x25519_base_key();
    if (!mine || base == nullptr) return Status::Failed;
    PkeyCtx c(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.get(), nullptr));
    if (!c || EVP_PKEY_derive_init(c.get()) <= 0) return Status::Failed;
    if (derive_with(c.get(), base, pub) != Status::Ok) return Status::Failed;
    // Park the ready context: the shared secret with the peer comes next on this thread (same
    // wolfSSL_accept in TLS 1.3, the next flight in 1.2) and then needs no import or fetch.
    ThreadCtx::X25519Pending& slot =
        t_ctx.x25519_pending[t_ctx.x25519_next++ % std::size(t_ctx.x25519_pending)];
    slot.clear();  // an older key whose handshake never got that far
    std::memcpy(slot.priv, priv, 32);
    std::memcpy(slot.pub, pub, 32);
    slot.ctx = c.release();
    return Status::Ok;
}

Status x25519_derive(const uint8_t priv[32], const uint8_t* pub, const uint8_t peer[32],
                     uint8_t out[32]) {
    Pkey theirs(x25519_from_raw(nullptr, peer));
    if (!theirs) return Status::Failed;
    if (pub != nullptr) {
        for (ThreadCtx::X25519Pending& slot : t_ctx.x25519_pending) {
            if (slot.ctx == nullptr || std::memcmp(slot.pub, pub, 32) != 0 ||
                CRYPTO_memcmp(slot.priv, priv, 32) != 0)
                continue;
            Status st = derive_with(slot.ctx, theirs.get(), out);
            slot.clear();  // one shared secret per ephemeral key
            return st;
        }
    }
    // Only the scalar of `mine` is used; the base point stands in for a missing public key.
    Pkey mine(x25519_from_raw(priv, pub != nullptr ? pub : kX25519Base));
    if (!mine) return Status::Failed;
    return derive(mine.get(), theirs.get(), out, 32);
}

// ---- NIST curves ------------------------------------------------------------------------------

Status ec_keygen(Curve curve, uint8_t* priv, uint8_t* pub) {
    EVP_PKEY_CTX* c = ec_gen_ctx(curve);
    if (!c) return Status::Failed;
    Pkey k;
    if (EVP_PKEY_generate(c, k.out()) <= 0) return Status::Failed;
    size_t n = curve_bytes(curve);
    BIGNUM* d = nullptr;
    if (EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) <= 0) return Status::Failed;
    int w = BN_bn2binpad(d, priv, static_cast<int>(n));
    BN_clear_free(d);
    size_t ql = 0;
    if (w != static_cast<int>(n) ||
        EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * n, &ql) <=
            0 ||
        ql != 1 + 2 * n || pub[0] != 0x04)
        return Status::Failed;
    return Status::Ok;
}

Status ecdh(Curve curve, const uint8_t* priv, const uint8_t* pub, const uint8_t* peer_pub,
            size_t peer_pub_len, uint8_t* out) {
    size_t n = curve_bytes(curve);
    Pkey mine(ec_from_raw(curve, priv, pub, pub ? 1 + 2 * n : 0));
    if (!mine) return Status::Failed;
    Pkey theirs(ec_from_raw(curve, nullptr, peer_pub, peer_pub_len));
    if (!theirs) return Status::Failed;
    return derive(mine.get(), theirs.get(), out, n);
}

Status ecdsa_sign(Curve curve, const uint8_t* priv, const uint8_t* pub, const uint8_t* hash,
                  size_t hash_len, uint8_t* sig, size_t* sig_len) {
    size_t n = curve_bytes(curve);
    Digest id;
    if (!digest_parts({Bytes{priv, n}}, static_cast<uint8_t>(0x10 + static_cast<int>(curve)), id))
        return Status::Failed;
    EVP_PKEY_CTX* c = nullptr;
    for (auto& slot : t_ctx.sign)
        if (slot.ctx != nullptr && slot.id == id) c = slot.ctx;
    if (c == nullptr) {
        Pkey key(ec_cache().find(id));
        if (!key) {
            *key.out() = ec_from_raw(curve, priv, pub, pub ? 1 + 2 * n : 0);
            if (!key) return Status::Failed;
            ec_cache().insert(id, key.get());
        }
        PkeyCtx fresh(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
        if (!fresh || EVP_PKEY_sign_init(fresh.get()) <= 0) return Status::Failed;
        // One ECDSA context signs any number of hashes (each with a fresh nonce).
        auto& slot = t_ctx.sign[t_ctx.sign_next++ % std::size(t_ctx.sign)];
        EVP_PKEY_CTX_free(slot.ctx);
        slot.id = id;
        slot.ctx = c = fresh.release();
    }
    size_t len = *sig_len;
    if (EVP_PKEY_sign(c, sig, &len, hash, hash_len) <= 0) return Status::Failed;
    *sig_len = len;
    return Status::Ok;
}

// ---- RSA --------------------------------------------------------------------------------------

Status rsa_private(const RsaPrivate& k, const uint8_t* in, size_t in_len, uint8_t* out,
                   size_t mod_len) {
    if (in_len > mod_len) return Status::Failed;
    Digest id;
    if (!digest_parts({k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv}, 0x20, id))
        return Status::Failed;
    Pkey key(rsa_cache().find(id));
    if (!key) {
        const Bytes* parts[] = {&k.n, &k.e, &k.d, &k.p, &k.q, &k.dp, &k.dq, &k.qinv};
        const char* names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                               OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                               OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                               OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
        BIGNUM* bn[8] = {};
        OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
        bool ok = bld != nullptr;
        // n, e, d are required; the CRT parts are used only if all five are present (without
        // them libcrypto falls back to a ~3x slower non-CRT exponentiation).
        int count = 8;
        for (int i = 3; i < 8; ++i)
            if (parts[i]->n == 0) count = 3;
        for (int i = 0; i < count && ok; ++i) {
            if (parts[i]->n == 0) {
                ok = false;
                break;
            }
            bn[i] = BN_bin2bn(parts[i]->p, static_cast<int>(parts[i]->n), nullptr);
            ok = bn[i] && OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]) > 0;
        }
        OSSL_PARAM* params = ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
        if (params) {
            PkeyCtx c(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
            if (c && EVP_PKEY_fromdata_init(c.get()) > 0)
                EVP_PKEY_fromdata(c.get(), key.out(), EVP_PKEY_KEYPAIR, params);
            OSSL_PARAM_free(params);
        }
        OSSL_PARAM_BLD_free(bld);
        for (BIGNUM* b : bn) BN_clear_free(b);
        if (!key) return Status::Failed;
        if (static_cast<size_t>(EVP_PKEY_get_size(key.get())) != mod_len) return Status::Failed;
        rsa_cache().insert(id, key.get());
    }
    PkeyCtx c(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!c || EVP_PKEY_decrypt_init(c.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c.get(), RSA_NO_PADDING) <= 0)
        return Status::Failed;
    // RSA_NO_PADDING wants exactly mod_len input bytes.
    uint8_t buf[1024];
    const uint8_t* src = in;
    if (in_len != mod_len) {
        if (mod_len > sizeof buf) return Status::Failed;
        std::memset(buf, 0, mod_len - in_len);
        std::memcpy(buf + (mod_len - in_len), in, in_len);
        src = buf;
    }
    size_t len = mod_len;
    if (EVP_PKEY_decrypt(c.get(), out, &len, src, mod_len) <= 0 || len != mod_len)
        return Status::Failed;
    return Status::Ok;
}

// ---- AES-GCM ----------------------------------------------------------------------------------

Status aes_gcm_encrypt(const GcmArgs& a, uint8_t* tag, size_t tag_len) {
    EVP_CIPHER_CTX* c = gcm_ctx();
    if (!c || tag_len == 0 || tag_len > 16) return Status::Unsupported;
    if (!gcm_setup(c, a, 1)) return Status::Failed;
    int outl = 0;
    uint8_t dummy[16];
    if (EVP_CipherFinal_ex(c, dummy, &outl) <= 0) return Status::Failed;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_len), tag) <= 0)
        return Status::Failed;
    return Status::Ok;
}

Status hkdf_expand(size_t hash_len, const uint8_t* prk, size_t prk_len, const uint8_t* info,
                   size_t info_len, uint8_t* out, size_t out_len) {
    if ((hash_len != 32 && hash_len != 48) || out_len > 255 * hash_len) return Status::Unsupported;
    // One HMAC context per digest and thread, its digest set once: EVP_MAC_init then only
    // re-keys (a digest name in every init would mean a provider fetch per call).
    EVP_MAC_CTX*& c = hash_len == 32 ? t_ctx.hmac256 : t_ctx.hmac384;
    if (c == nullptr) {
        static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (hmac == nullptr) return Status::Unsupported;
        EVP_MAC_CTX* fresh = EVP_MAC_CTX_new(hmac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                             const_cast<char*>(hash_len == 32 ? "SHA256" : "SHA384"), 0),
            OSSL_PARAM_construct_end()};
        if (fresh == nullptr || EVP_MAC_CTX_set_params(fresh, params) != 1) {
            EVP_MAC_CTX_free(fresh);
            return Status::Unsupported;
        }
        c = fresh;
    }
    uint8_t t[48];  // T(i-1)
    size_t t_len = 0;
    Status st = Status::Ok;
    for (uint8_t i = 1; out_len > 0; ++i) {
        size_t n = 0;
        if (EVP_MAC_init(c, prk, prk_len, nullptr) != 1 ||
            (t_len && EVP_MAC_update(c, t, t_len) != 1) ||
            (info_len && EVP_MAC_update(c, info, info_len) != 1) || EVP_MAC_update(c, &i, 1) != 1 ||
            EVP_MAC_final(c, t, &n, sizeof t) != 1 || n != hash_len) {
            st = Status::Failed;
            break;
        }
        t_len = n;
        const size_t take = std::min(out_len, n);
        std::memcpy(out, t, take);
        out += take;
        out_len -= take;
    }
    OPENSSL_cleanse(t, sizeof t);
    return st;
}

void sha256_blocks(uint32_t h[8], const uint8_t* blocks, size_t n) {
    SHA256_CTX c;
    std::memcpy(c.h, h, sizeof c.h);
    for (size_t i = 0; i < n; ++i) SHA256_Transform(&c, blocks + 64 * i);
    std::memcpy(h, c.h, sizeof c.h);
    OPENSSL_cleanse(&c, sizeof c);
}

Status random_bytes(uint8_t* out, size_t n) {
    if (n > static_cast<size_t>(INT_MAX)) return Status::Unsupported;
    return RAND_bytes(out, static_cast<int>(n)) == 1 ? Status::Ok : Status::Failed;
}

Status aes_gcm_decrypt(const GcmArgs& a, const uint8_t* tag, size_t tag_len) {
    EVP_CIPHER_CTX* c = gcm_ctx();
    if (!c || tag_len == 0 || tag_len > 16) return Status::Unsupported;
    if (!gcm_setup(c, a, 0)) return Status::Failed;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_len),
                            const_cast<uint8_t*>(tag)) <= 0)
        return Status::Failed;
    int outl = 0;
    uint8_t dummy[16];
    if (EVP_CipherFinal_ex(c, dummy, &outl) <= 0) {
        if (a.len) OPENSSL_cleanse(a.out, a.len);
        return Status::AuthFailed;
    }
    return Status::Ok;
}

const char* libcrypto_version() {
    static char buf[64];
    static std::once_flag once;
    std::call_once(once, [] {
        std::snprintf(buf, sizeof buf, "libcrypto (OpenSSL %s)",
                      OpenSSL_version(OPENSSL_VERSION_STRING));
    });
    return buf;
}

}  // namespace sluice::tls::bridge
