// tls/accel_wolf.cc — wolfCrypt side of the libcrypto crypto device (see accel.h).
// Includes wolfSSL headers only; the libcrypto work is behind accel_bridge.h (accel_ossl.cc).
//
// How wolfCrypt dispatches (5.5.4, WOLF_CRYPTO_CB): every wc_* object initialised with a devId
// (wolfSSL does it with ssl->devId after wolfSSL_CTX_SetDevId) calls the registered callback
// first; CRYPTOCB_UNAVAILABLE makes it continue in software. Keys the device generates are
// written back into the wolfCrypt key object (import_*), so later software or device operations
// on that object see an ordinary key.
#include "tls/accel.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/wc_port.h>
#include <wolfssl/wolfcrypt/wolfmath.h>

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "tls/accel_bridge.h"

#if !defined(WOLF_CRYPTO_CB)
#error "wolfSSL built without WOLF_CRYPTO_CB"
#endif

namespace sluice::tls {
namespace {

namespace br = bridge;

// Any non-negative id other than INVALID_DEVID (-2) works; ASCII "sl".
constexpr int kDevId = 0x736c;

struct Counters {
    std::atomic<uint64_t> x25519_keygen{0}, x25519_derive{0}, ec_keygen{0}, ecdh{0},
        ecdsa_sign{0}, rsa_private{0}, gcm_enc{0}, gcm_dec{0}, random{0}, seed{0}, hkdf{0}, sha256{0}, fallbacks{0};
};
Counters g_count;

void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

// Ok → 0 (and count), AuthFailed → AES_GCM_AUTH_E, anything else → let software do it.
int finish(br::Status s, std::atomic<uint64_t>& ok_counter) {
    switch (s) {
        case br::Status::Ok: bump(ok_counter); return 0;
        case br::Status::AuthFailed: return AES_GCM_AUTH_E;
        case br::Status::Failed: bump(g_count.fallbacks); return CRYPTOCB_UNAVAILABLE;
        case br::Status::Unsupported: return CRYPTOCB_UNAVAILABLE;
    }
    return CRYPTOCB_UNAVAILABLE;
}

// Wipes a stack buffer on scope exit.
template <size_t N>
struct Secret {
    byte b[N];
    ~Secret() { explicit_bzero(b, N); }
};

bool curve_of(int wc_id, br::Curve& out) {
    switch (wc_id) {
        case ECC_SECP256R1: out = br::Curve::P256; return true;
        case ECC_SECP384R1: out = br::Curve::P384; return true;
        case ECC_SECP521R1: out = br::Curve::P521; return true;
        default: return false;
    }
}

bool curve_of(const ecc_key* key, br::Curve& out) {
    if (key == nullptr || key->dp == nullptr) return false;
    return curve_of(key->dp->id, out);
}

// ---- X25519 ---------------------------------------------------------------------------------

int x25519_keygen(wc_CryptoInfo* info) {
    curve25519_key* key = info->pk.curve25519kg.key;
    if (key == nullptr || info->pk.curve25519kg.size != CURVE25519_KEYSIZE)
        return CRYPTOCB_UNAVAILABLE;
    Secret<32> priv;
    byte pub[32];
    br::Status s = br::x25519_keygen(priv.b, pub);
    if (s == br::Status::Ok &&
        wc_curve25519_import_private_raw_ex(priv.b, 32, pub, 32, key, EC25519_LITTLE_ENDIAN) != 0)
        s = br::Status::Failed;
    return finish(s, g_count.x25519_keygen);
}

int x25519_derive(wc_CryptoInfo* info) {
    auto& a = info->pk.curve25519;
    if (a.private_key == nullptr || a.public_key == nullptr || a.out == nullptr ||
        a.outlen == nullptr || *a.outlen < CURVE25519_KEYSIZE || !a.private_key->privSet ||
        !a.public_key->pubSet)
        return CRYPTOCB_UNAVAILABLE;
    // wolfCrypt keeps k and p.point in RFC 7748 (little-endian) order.
    const byte* mine_pub = a.private_key->pubSet ? a.private_key->p.point : nullptr;
    Secret<32> shared;
    br::Status s = br::x25519_derive(a.private_key->k, mine_pub, a.public_key->p.point, shared.b);
    if (s == br::Status::Ok) {
        if (a.endian == EC25519_BIG_ENDIAN) {
            for (int i = 0; i < 32; ++i) a.out[i] = shared.b[31 - i];
        } else {
            std::memcpy(a.out, shared.b, 32);
        }
        *a.outlen = CURVE25519_KEYSIZE;
    }
    return finish(s, g_count.x25519_derive);
}

// ---- NIST curves ----------------------------------------------------------------------------

int ec_keygen(wc_CryptoInfo* info) {
    auto& a = info->pk.eckg;
    if (a.key == nullptr) return CRYPTOCB_UNAVAILABLE;
    int id = a.curveId;
    if (id == ECC_CURVE_DEF) {
        id = a.size == 32 ? ECC_SECP256R1 : a.size == 48 ? ECC_SECP384R1
           : a.size == 66 ? ECC_SECP521R1 : ECC_CURVE_INVALID;
    }
    br::Curve c;
    if (!curve_of(id, c) || (a.size != 0 && static_cast<size_t>(a.size) != br::curve_bytes(c)))
        return CRYPTOCB_UNAVAILABLE;
    size_t n = br::curve_bytes(c);
    Secret<66> priv;
    byte pub[1 + 2 * 66];
    br::Status s = br::ec_keygen(c, priv.b, pub);
    if (s == br::Status::Ok &&
        wc_ecc_import_private_key_ex(priv.b, static_cast<word32>(n), pub,
                                     static_cast<word32>(1 + 2 * n), a.key, id) != 0)
        s = br::Status::Failed;
    return finish(s, g_count.ec_keygen);
}

// Our key's public point, when wolfCrypt has it (saves libcrypto recomputing it).
const byte* own_pub(ecc_key* key, byte* buf, size_t n) {
    if (key->type != ECC_PRIVATEKEY) return nullptr;
    word32 len = static_cast<word32>(1 + 2 * n);
    if (wc_ecc_export_x963(key, buf, &len) != 0 || len != 1 + 2 * n) return nullptr;
    return buf;
}

bool export_priv(ecc_key* key, byte* buf, size_t n) {
    if (key->type != ECC_PRIVATEKEY && key->type != ECC_PRIVATEKEY_ONLY) return false;
    word32 len = static_cast<word32>(n);
    return wc_ecc_export_private_only(key, buf, &len) == 0 && len == n;
}

int ecdh(wc_CryptoInfo* info) {
    auto& a = info->pk.ecdh;
    br::Curve c;
    if (a.private_key == nullptr || a.public_key == nullptr || a.out == nullptr ||
        a.outlen == nullptr || !curve_of(a.private_key, c))
        return CRYPTOCB_UNAVAILABLE;
    size_t n = br::curve_bytes(c);
    br::Curve pc;
    if (!curve_of(a.public_key, pc) || pc != c || *a.outlen < n) return CRYPTOCB_UNAVAILABLE;
    Secret<66> priv;
    byte pub[1 + 2 * 66], peer[1 + 2 * 66];
    word32 peer_len = sizeof peer;
    if (!export_priv(a.private_key, priv.b, n) ||
        wc_ecc_export_x963(a.public_key, peer, &peer_len) != 0)
        return CRYPTOCB_UNAVAILABLE;
    br::Status s =
        br::ecdh(c, priv.b, own_pub(a.private_key, pub, n), peer, peer_len, a.out);
    if (s == br::Status::Ok) *a.outlen = static_cast<word32>(n);
    return finish(s, g_count.ecdh);
}

int ecdsa_sign(wc_CryptoInfo* info) {
    auto& a = info->pk.eccsign;
    br::Curve c;
    if (a.key == nullptr || a.in == nullptr || a.out == nullptr || a.outlen == nullptr ||
        !curve_of(a.key, c))
        return CRYPTOCB_UNAVAILABLE;
    size_t n = br::curve_bytes(c);
    Secret<66> priv;
    byte pub[1 + 2 * 66];
    if (!export_priv(a.key, priv.b, n)) return CRYPTOCB_UNAVAILABLE;
    size_t sig_len = *a.outlen;
    br::Status s = br::ecdsa_sign(c, priv.b, own_pub(a.key, pub, n), a.in, a.inlen, a.out,
                                  &sig_len);
    if (s == br::Status::Ok) *a.outlen = static_cast<word32>(sig_len);
    return finish(s, g_count.ecdsa_sign);
}

// ---- RSA ------------------------------------------------------------------------------------

constexpr size_t kMaxRsaBytes = 512;  // 4096-bit

int rsa(wc_CryptoInfo* info) {
    auto& a = info->pk.rsa;
    if (a.type != RSA_PRIVATE_ENCRYPT && a.type != RSA_PRIVATE_DECRYPT)
        return CRYPTOCB_UNAVAILABLE;  // public ops are cheap in software
    RsaKey* key = a.key;
    if (key == nullptr || key->type != RSA_PRIVATE || a.in == nullptr || a.out == nullptr ||
        a.outLen == nullptr)
        return CRYPTOCB_UNAVAILABLE;
    int mod = wc_RsaEncryptSize(key);
    if (mod <= 0 || static_cast<size_t>(mod) > kMaxRsaBytes || *a.outLen < static_cast<word32>(mod) ||
        a.inLen > static_cast<word32>(mod))
        return CRYPTOCB_UNAVAILABLE;
    // Each component exported left-padded to the modulus size; leading zeros are harmless.
    mp_int* mps[8] = {&key->n, &key->e, &key->d, &key->p, &key->q, &key->dP, &key->dQ, &key->u};
    Secret<8 * kMaxRsaBytes> buf;
    br::Bytes parts[8];
    for (int i = 0; i < 8; ++i) {
        byte* p = buf.b + i * kMaxRsaBytes;
        word32 len = static_cast<word32>(mod);
        if (wc_export_int(mps[i], p, &len, static_cast<word32>(mod), WC_TYPE_UNSIGNED_BIN) != 0)
            return CRYPTOCB_UNAVAILABLE;
        bool zero = true;
        for (word32 j = 0; j < len && zero; ++j) zero = p[j] == 0;
        parts[i] = zero ? br::Bytes{} : br::Bytes{p, len};
    }
    br::RsaPrivate k{parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7]};
    br::Status s = br::rsa_private(k, a.in, a.inLen, a.out, static_cast<size_t>(mod));
    if (s == br::Status::Ok) *a.outLen = static_cast<word32>(mod);
    return finish(s, g_count.rsa_private);
}

// ---- AES-GCM --------------------------------------------------------------------------------

int aes_gcm(wc_CryptoInfo* info) {
    if (info->cipher.enc) {
        auto& a = info->cipher.aesgcm_enc;
        if (a.aes == nullptr || (a.sz && (a.in == nullptr || a.out == nullptr)) ||
            a.authTag == nullptr)
            return CRYPTOCB_UNAVAILABLE;
        br::GcmArgs g{reinterpret_cast<const uint8_t*>(a.aes->devKey),
                      static_cast<size_t>(a.aes->keylen), a.iv, a.ivSz, a.authIn, a.authInSz,
                      a.in, a.out, a.sz};
        return finish(br::aes_gcm_encrypt(g, a.authTag, a.authTagSz), g_count.gcm_enc);
    }
    auto& a = info->cipher.aesgcm_dec;
    if (a.aes == nullptr || (a.sz && (a.in == nullptr || a.out == nullptr)) ||
        a.authTag == nullptr)
        return CRYPTOCB_UNAVAILABLE;
    br::GcmArgs g{reinterpret_cast<const uint8_t*>(a.aes->devKey),
                  static_cast<size_t>(a.aes->keylen), a.iv, a.ivSz, a.authIn, a.authInSz,
                  a.in, a.out, a.sz};
    return finish(br::aes_gcm_decrypt(g, a.authTag, a.authTagSz), g_count.gcm_dec);
}

// ---- SHA-256 --------------------------------------------------------------------------------
// The handshake transcript hash. The state stays in the wc_Sha256 exactly as wolfCrypt's
// software keeps it between calls (digest[] host-order words, buffer[] the raw bytes of a
// partial block, buffLen, loLen/hiLen the byte count), so wc_Sha256Copy, GetHash and Free
// work unchanged and no device-side state exists; only whole blocks go to libcrypto.

constexpr uint32_t kSha256Iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

void sha256_update(wc_Sha256* h, const byte* in, word32 len) {
    auto* buf = reinterpret_cast<byte*>(h->buffer);
    const word32 lo = h->loLen;
    h->loLen += len;
    if (h->loLen < lo) ++h->hiLen;
    if (h->buffLen > 0) {
        const word32 take = std::min<word32>(len, WC_SHA256_BLOCK_SIZE - h->buffLen);
        std::memcpy(buf + h->buffLen, in, take);
        h->buffLen += take;
        in += take;
        len -= take;
        if (h->buffLen < WC_SHA256_BLOCK_SIZE) return;
        br::sha256_blocks(h->digest, buf, 1);
        h->buffLen = 0;
    }
    if (len >= WC_SHA256_BLOCK_SIZE) {
        const word32 blocks = len / WC_SHA256_BLOCK_SIZE;
        br::sha256_blocks(h->digest, in, blocks);
        in += blocks * WC_SHA256_BLOCK_SIZE;
        len -= blocks * WC_SHA256_BLOCK_SIZE;
    }
    if (len > 0) {
        std::memcpy(buf, in, len);
        h->buffLen = len;
    }
}

void sha256_final(wc_Sha256* h, byte* out) {
    auto* buf = reinterpret_cast<byte*>(h->buffer);
    const uint64_t bits = ((uint64_t(h->hiLen) << 32) | h->loLen) * 8;
    buf[h->buffLen++] = 0x80;
    if (h->buffLen > WC_SHA256_BLOCK_SIZE - 8) {
        std::memset(buf + h->buffLen, 0, WC_SHA256_BLOCK_SIZE - h->buffLen);
        br::sha256_blocks(h->digest, buf, 1);
        h->buffLen = 0;
    }
    std::memset(buf + h->buffLen, 0, WC_SHA256_BLOCK_SIZE - 8 - h->buffLen);
    for (int i = 0; i < 8; ++i) buf[WC_SHA256_BLOCK_SIZE - 1 - i] = byte(bits >> (8 * i));
    br::sha256_blocks(h->digest, buf, 1);
    for (int i = 0; i < 8; ++i) {
        out[4 * i] = byte(h->digest[i] >> 24);
        out[4 * i + 1] = byte(h->digest[i] >> 16);
        out[4 * i + 2] = byte(h->digest[i] >> 8);
        out[4 * i + 3] = byte(h->digest[i]);
    }
    // As wolfCrypt's Final: the object starts over (its device path skips that reset).
    std::memcpy(h->digest, kSha256Iv, sizeof kSha256Iv);
    std::memset(h->buffer, 0, sizeof h->buffer);
    h->buffLen = h->loLen = h->hiLen = 0;
}

int sha256(wc_CryptoInfo* info) {
    wc_Sha256* h = info->hash.sha256;
    if (h == nullptr || h->buffLen >= WC_SHA256_BLOCK_SIZE) return CRYPTOCB_UNAVAILABLE;
    if (info->hash.in != nullptr && info->hash.inSz > 0)
        sha256_update(h, info->hash.in, info->hash.inSz);
    if (info->hash.digest != nullptr) {
        sha256_final(h, info->hash.digest);
        bump(g_count.sha256);
    }
    return 0;
}

// ---- dispatch -------------------------------------------------------------------------------

int callback(int /*devId*/, wc_CryptoInfo* info, void* /*ctx*/) {
    if (info == nullptr) return CRYPTOCB_UNAVAILABLE;
    if (info->algo_type == WC_ALGO_TYPE_PK) {
        switch (info->pk.type) {
            case WC_PK_TYPE_CURVE25519_KEYGEN: return x25519_keygen(info);
            case WC_PK_TYPE_CURVE25519: return x25519_derive(info);
            case WC_PK_TYPE_EC_KEYGEN: return ec_keygen(info);
            case WC_PK_TYPE_ECDH: return ecdh(info);
            case WC_PK_TYPE_ECDSA_SIGN: return ecdsa_sign(info);
            case WC_PK_TYPE_RSA: return rsa(info);
            default: return CRYPTOCB_UNAVAILABLE;
        }
    }
    if (info->algo_type == WC_ALGO_TYPE_CIPHER && info->cipher.type == WC_CIPHER_AES_GCM)
        return aes_gcm(info);
    if (info->algo_type == WC_ALGO_TYPE_HASH && info->hash.type == WC_HASH_TYPE_SHA256)
        return sha256(info);
    // Every WOLFSSL instantiates its own Hash_DRBG (seeded from /dev/urandom: open, read,
    // close) and then generates with SHA-256 in software; with a device id both go here.
    if (info->algo_type == WC_ALGO_TYPE_RNG || info->algo_type == WC_ALGO_TYPE_SEED) {
        const bool seed = info->algo_type == WC_ALGO_TYPE_SEED;
        byte* out = seed ? info->seed.seed : info->rng.out;
        if (out == nullptr) return CRYPTOCB_UNAVAILABLE;
        return finish(br::random_bytes(out, seed ? info->seed.sz : info->rng.sz),
                      seed ? g_count.seed : g_count.random);
    }
    // SHA-384/512 and HMAC (whose inner hashes come here as SHA-256), verify, ChaCha: software.
    return CRYPTOCB_UNAVAILABLE;
}

}  // namespace

namespace bridge {
void count_hkdf() { bump(g_count.hkdf); }
}  // namespace bridge

int sluice_tls_accel_register() {
    static int result = [] {
        int rc = wolfCrypt_Init();  // reference-counted; makes sure the device table is set up
        if (rc != 0) return rc;
        rc = wc_CryptoCb_RegisterDevice(kDevId, callback, nullptr);
        return rc == 0 ? kDevId : rc;
    }();
    return result;
}

const char* sluice_tls_accel_describe() {
    static char buf[256];
    static std::once_flag once;
    std::call_once(once, [] {
        std::snprintf(buf, sizeof buf,
                      "%s: x25519 (%s), p256/p384/p521 keygen+ecdh+ecdsa-sign, rsa-private "
                      "(pkcs1/pss), aes-gcm, sha256, rng (%s), tls1.3 hkdf-expand",
                      br::libcrypto_version(),
                      sluice_tls_accel_x25519_routed() ? "tls1.2+1.3" : "tls1.2 only",
                      sluice_tls_accel_rng_routed() ? "no per-connection drbg"
                                                    : "per-connection drbg");
    });
    return buf;
}

// ---- routes: device ids for what wolfSSL 5.5.4 makes without one ----------------------------
// Two wolfCrypt entry points that wolfSSL calls through libwolfssl's PLT are defined again
// below (exported from the executable, so the dynamic linker hands them out first):
//   wc_curve25519_make_key: TLS 1.3 key shares are initialised with INVALID_DEVID (tls.c); inside
//     a route such a key gets the route's device id, then wolfSSL's own make_key runs, so keygen
//     and the later shared secret reach libcrypto.
//   wc_InitRng_ex: every WOLFSSL instantiates a Hash_DRBG; inside a route an RNG for the route's
//     device is set up without one (see the definition).
// Outside a route, or where wolfSSL already passes a device id (newer releases), nothing changes.
namespace {
thread_local int t_route_dev = INVALID_DEVID;

// wolfSSL's own definition, behind ours.
template <class Fn>
Fn next_definition(const char* name) {
    return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

using MakeKeyFn = int (*)(WC_RNG*, int, curve25519_key*);
using InitRngFn = int (*)(WC_RNG*, void*, int);
MakeKeyFn wolf_make_key() {
    static const MakeKeyFn fn = next_definition<MakeKeyFn>("wc_curve25519_make_key");
    return fn;
}
InitRngFn wolf_init_rng() {
    static const InitRngFn fn = next_definition<InitRngFn>("wc_InitRng_ex");
    return fn;
}

// Ours must be the definition the dynamic linker hands out (and so the one libwolfssl's PLT
// binds to), and wolfSSL's own must be reachable behind it.
bool interposed(const char* name, void* ours, void* next) {
    return dlsym(RTLD_DEFAULT, name) == ours && next != nullptr && next != ours;
}
}  // namespace

DeviceRoute::DeviceRoute(int dev) : prev_(t_route_dev) { t_route_dev = dev; }
DeviceRoute::~DeviceRoute() { t_route_dev = prev_; }

bool sluice_tls_accel_x25519_routed() {
    return interposed("wc_curve25519_make_key", reinterpret_cast<void*>(&wc_curve25519_make_key),
                      reinterpret_cast<void*>(wolf_make_key()));
}

bool sluice_tls_accel_rng_routed() {
    return interposed("wc_InitRng_ex", reinterpret_cast<void*>(&wc_InitRng_ex),
                      reinterpret_cast<void*>(wolf_init_rng()));
}

AccelCounters sluice_tls_accel_counters() {
    AccelCounters c;
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    c.x25519_keygen = ld(g_count.x25519_keygen);
    c.x25519_derive = ld(g_count.x25519_derive);
    c.ec_keygen = ld(g_count.ec_keygen);
    c.ecdh = ld(g_count.ecdh);
    c.ecdsa_sign = ld(g_count.ecdsa_sign);
    c.rsa_private = ld(g_count.rsa_private);
    c.aes_gcm_encrypt = ld(g_count.gcm_enc);
    c.aes_gcm_decrypt = ld(g_count.gcm_dec);
    c.random = ld(g_count.random);
    c.seed = ld(g_count.seed);
    c.hkdf_expand = ld(g_count.hkdf);
    c.sha256_final = ld(g_count.sha256);
    c.fallbacks = ld(g_count.fallbacks);
    return c;
}

}  // namespace sluice::tls

extern "C" int wc_curve25519_make_key(WC_RNG* rng, int keysize, curve25519_key* key) {
    using namespace sluice::tls;
    MakeKeyFn real = wolf_make_key();
    if (real == nullptr || real == &wc_curve25519_make_key) return NOT_COMPILED_IN;
    if (key != nullptr && key->devId == INVALID_DEVID && t_route_dev != INVALID_DEVID)
        key->devId = t_route_dev;
    return real(rng, keysize, key);
}

extern "C" int wc_InitRng_ex(WC_RNG* rng, void* heap, int devId) {
    using namespace sluice::tls;
    if (rng != nullptr && devId != INVALID_DEVID && devId == t_route_dev) {
        // No DRBG: status stays DRBG_NOT_INIT (0), so wolfCrypt's software generate refuses;
        // with devId set every generate call reaches the device first (wc_RNG_GenerateBlock).
        std::memset(rng, 0, sizeof *rng);
        rng->heap = heap;
        rng->devId = devId;
        return 0;
    }
    InitRngFn real = wolf_init_rng();
    if (real == nullptr || real == &wc_InitRng_ex) return NOT_COMPILED_IN;
    return real(rng, heap, devId);
}
