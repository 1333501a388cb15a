#include "record/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <memory>

namespace sluice::record {

namespace {

struct KdfCtxFree {
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

EVP_KDF* hkdf() {
    static EVP_KDF* const k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    return k;
}

}  // namespace

Result<void> hkdf_expand_label(Hash h, std::span<const uint8_t> secret, std::string_view label,
                               std::span<const uint8_t> context, std::span<uint8_t> out) {
    static constexpr std::string_view kPrefix = "tls13 ";
    if (out.size() > 255 * hash_len(h) || out.size() > 0xffff) return fail(EINVAL);
    if (kPrefix.size() + label.size() > 255 || context.size() > 255) return fail(EINVAL);
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t n = 0;
    info[n++] = static_cast<uint8_t>(out.size() >> 8);
    info[n++] = static_cast<uint8_t>(out.size());
    info[n++] = static_cast<uint8_t>(kPrefix.size() + label.size());
    memcpy(info + n, kPrefix.data(), kPrefix.size());
    n += kPrefix.size();
    memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = static_cast<uint8_t>(context.size());
    if (!context.empty()) memcpy(info + n, context.data(), context.size());
    n += context.size();

    if (hkdf() == nullptr) return fail(ENOTSUP);
    std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(hkdf()));
    if (!ctx) return fail(ENOMEM);
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    char digest[16];
    strcpy(digest, h == Hash::Sha384 ? "SHA384" : "SHA256");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                          const_cast<uint8_t*>(secret.data()), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return fail(EINVAL);
    return {};
}

Result<void> next_traffic_keys(tls::Cipher c, tls::DirectionKeys& d) {
    if (d.secret_len == 0) return fail(ENOTSUP);
    const Hash h = hash_for(c);
    const size_t hl = hash_len(h);
    if (d.secret_len != hl) return fail(EINVAL);
    uint8_t next[48];
    auto r = hkdf_expand_label(h, std::span(d.secret, hl), "traffic upd", {}, std::span(next, hl));
    if (r) {
        r = hkdf_expand_label(h, std::span(next, hl), "key", {}, std::span(d.key, tls::key_len(c)));
    }
    if (r) r = hkdf_expand_label(h, std::span(next, hl), "iv", {}, std::span(d.iv, 12));
    if (r) {
        memcpy(d.secret, next, hl);
        d.seq = 0;
    }
    tls::secure_wipe(next, sizeof next);
    return r;
}

}  // namespace sluice::record
