#include "tls/context_impl.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tls/keys.h"

// meson -Dtls_accel=false builds pure wolfSSL (SLUICE_TLS_ACCEL=0).
#if SLUICE_TLS_ACCEL
#include "tls/accel.h"
#define SLUICE_TLS_HAVE_ACCEL 1
#else
#define SLUICE_TLS_HAVE_ACCEL 0
#endif

namespace sluice::tls {

namespace {

// ---- allowed suites ---------------------------------------------------------------------

enum class Auth : uint8_t { Any, Ecdsa, Rsa };

struct Suite {
    uint16_t id;
    bool tls13;
    Auth auth;
    const char* wolf;     // wolfSSL cipher-list name
    const char* openssl;  // OpenSSL name (for TLS 1.3 the IANA name)
    const char* iana;
};

constexpr Suite kSuites[] = {
    {0x1301, true, Auth::Any, "TLS13-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256",
     "TLS_AES_128_GCM_SHA256"},
    {0x1302, true, Auth::Any, "TLS13-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384",
     "TLS_AES_256_GCM_SHA384"},
    {0x1303, true, Auth::Any, "TLS13-CHACHA20-POLY1305-SHA256", "TLS_CHACHA20_POLY1305_SHA256",
     "TLS_CHACHA20_POLY1305_SHA256"},
    {0xC02B, false, Auth::Ecdsa, "ECDHE-ECDSA-AES128-GCM-SHA256",
     "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xC02F, false, Auth::Rsa, "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xC02C, false, Auth::Ecdsa, "ECDHE-ECDSA-AES256-GCM-SHA384",
     "ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xC030, false, Auth::Rsa, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xCCA9, false, Auth::Ecdsa, "ECDHE-ECDSA-CHACHA20-POLY1305",
     "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCA8, false, Auth::Rsa, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
};

const Suite* find_suite(std::string_view name) {
    for (const auto& s : kSuites) {
        if (name == s.wolf || name == s.openssl || name == s.iana) return &s;
    }
    return nullptr;
}
const Suite* suite_by_id(uint16_t id) {
    for (const auto& s : kSuites) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

std::string wolf_error(int code) {
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof buf);
    return std::string(buf) + " (" + std::to_string(code) + ")";
}

std::expected<std::string, std::string> read_file(const std::string& flag,
                                                  const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(flag + " " + path + ": cannot read: " + strerror(errno));
    std::string data;
    char buf[8192];
    for (;;) {
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            ::close(fd);
            secure_wipe(data.data(), data.size());
            return std::unexpected(flag + " " + path + ": cannot read: " + strerror(e));
        }
        if (r == 0) break;
        data.append(buf, size_t(r));
        if (data.size() > (8u << 20)) {
            ::close(fd);
            secure_wipe(data.data(), data.size());
            return std::unexpected(flag + " " + path + ": larger than 8 MiB");
        }
    }
    ::close(fd);
    secure_wipe(buf, sizeof buf);
    return data;
}

std::string lower(std::string s) {
    for (auto& c : s) {
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
    }
    return s;
}

// wolfSSL prints IPv6 SANs uncompressed; show them the usual way.
std::string normalize_ip(const char* s) {
    in6_addr a6;
    char buf[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, s, &a6) == 1 && inet_ntop(AF_INET6, &a6, buf, sizeof buf) != nullptr)
        return buf;
    return s;
}

// Fills names/key type of `e` from the leaf certificate's DER.
bool describe_leaf(const uint8_t* der, size_t der_len, CertEntry& e,
                   std::vector<uint8_t>& spki) {
    DecodedCert dc;
    wc_InitDecodedCert(&dc, der, word32(der_len), nullptr);
    bool ok = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, nullptr) == 0;
    if (ok) {
        spki.resize(der_len);
        word32 n = word32(spki.size());
        ok = wc_GetPubKeyDerFromCert(&dc, spki.data(), &n) == 0;
        spki.resize(ok ? n : 0);
    }
    if (ok) {
        if (dc.subjectCN != nullptr && dc.subjectCNLen > 0)
            e.names.push_back(lower(std::string(dc.subjectCN, size_t(dc.subjectCNLen))));
        for (DNS_entry* a = dc.altNames; a != nullptr; a = a->next) {
            if (a->type == ASN_DNS_TYPE && a->name != nullptr) {
                std::string n = lower(std::string(a->name, size_t(a->len)));
                if (std::find(e.names.begin(), e.names.end(), n) == e.names.end())
                    e.names.push_back(n);
            } else if (a->type == ASN_IP_TYPE && a->ipString != nullptr) {
                e.ip_names.push_back(normalize_ip(a->ipString));
            }
        }
        if (dc.keyOID == ECDSAk) {
            e.ecdsa = true;
            switch (dc.pkCurveOID) {
            case ECC_SECP256R1_OID: e.ecdsa_scheme = 0x0403; e.key_desc = "ECDSA P-256"; break;
            case ECC_SECP384R1_OID: e.ecdsa_scheme = 0x0503; e.key_desc = "ECDSA P-384"; break;
            case ECC_SECP521R1_OID: e.ecdsa_scheme = 0x0603; e.key_desc = "ECDSA P-521"; break;
            default: e.key_desc = "ECDSA (other curve)"; break;
            }
        } else if (dc.keyOID == RSAk) {
            e.key_desc = "RSA";
        } else {
            ok = false;
        }
    }
    wc_FreeDecodedCert(&dc);
    return ok;
}

// Does the private key (DER: PKCS#1, SEC1 or PKCS#8) belong to the certificate's public key
// (SubjectPublicKeyInfo DER)? Compares the public halves. wolfSSL's own check does not catch
// an ECDSA key of the same curve that belongs to another certificate.
bool key_matches(std::vector<uint8_t> key, const std::vector<uint8_t>& spki, bool ecdsa) {
    word32 off = 0;
    if (wc_GetPkcs8TraditionalOffset(key.data(), &off, word32(key.size())) < 0) off = 0;
    bool match = false;
    if (ecdsa) {
        ecc_key priv, pub;
        wc_ecc_init(&priv);
        wc_ecc_init(&pub);
        word32 i = off, j = 0;
        uint8_t a[160], b[160];
        word32 al = sizeof a, bl = sizeof b;
        if (wc_EccPrivateKeyDecode(key.data(), &i, &priv, word32(key.size())) == 0 &&
            wc_EccPublicKeyDecode(spki.data(), &j, &pub, word32(spki.size())) == 0) {
            if (priv.type == ECC_PRIVATEKEY_ONLY) wc_ecc_make_pub(&priv, nullptr);
            match = wc_ecc_export_x963(&priv, a, &al) == 0 &&
                    wc_ecc_export_x963(&pub, b, &bl) == 0 && al == bl && memcmp(a, b, al) == 0;
        }
        wc_ecc_free(&priv);
        wc_ecc_free(&pub);
    } else {
        RsaKey priv, pub;
        wc_InitRsaKey(&priv, nullptr);
        wc_InitRsaKey(&pub, nullptr);
        word32 i = off, j = 0;
        std::vector<uint8_t> n1(1024), n2(1024);
        uint8_t e1[16], e2[16];
        word32 n1l = word32(n1.size()), n2l = word32(n2.size()), e1l = sizeof e1, e2l = sizeof e2;
        if (wc_RsaPrivateKeyDecode(key.data(), &i, &priv, word32(key.size())) == 0 &&
            wc_RsaPublicKeyDecode(spki.data(), &j, &pub, word32(spki.size())) == 0 &&
            wc_RsaFlattenPublicKey(&priv, e1, &e1l, n1.data(), &n1l) == 0 &&
            wc_RsaFlattenPublicKey(&pub, e2, &e2l, n2.data(), &n2l) == 0) {
            match = e1l == e2l && n1l == n2l && memcmp(e1, e2, e1l) == 0 &&
                    memcmp(n1.data(), n2.data(), n1l) == 0;
        }
        wc_FreeRsaKey(&priv);
        wc_FreeRsaKey(&pub);
    }
    secure_wipe(key.data(), key.size());
    return match;
}

// ---- self-signed certificate ------------------------------------------------------------

struct SelfSigned {
    std::vector<uint8_t> cert_der, key_der;
    ~SelfSigned() { secure_wipe(key_der.data(), key_der.size()); }
};

std::expected<SelfSigned, std::string> make_self_signed() {
    // subjectAltName: DNS:localhost, IP:127.0.0.1, IP:::1 (GeneralNames DER).
    static const uint8_t kSan[] = {
        0x30, 0x23,                                            // SEQUENCE, 35 bytes
        0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',  // dNSName
        0x87, 0x04, 127, 0, 0, 1,                              // iPAddress v4
        0x87, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // iPAddress ::1
    static_assert(sizeof kSan == 37);
    auto fail = [](const char* what, int rc) {
        return std::unexpected(std::string("--self-signed: ") + what + " failed: " +
                               wc_GetErrorString(rc));
    };
    WC_RNG rng;
    int rc = wc_InitRng(&rng);
    if (rc != 0) return fail("wc_InitRng", rc);
    ecc_key key;
    rc = wc_ecc_init(&key);
    if (rc != 0) {
        wc_FreeRng(&rng);
        return fail("wc_ecc_init", rc);
    }
    SelfSigned out;
    auto cleanup = [&] {
        wc_ecc_free(&key);
        wc_FreeRng(&rng);
    };
    rc = wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1);
    if (rc != 0) { cleanup(); return fail("ECDSA P-256 key generation", rc); }
    std::unique_ptr<Cert> cert(new Cert);
    rc = wc_InitCert(cert.get());
    if (rc != 0) { cleanup(); return fail("wc_InitCert", rc); }
    strncpy(cert->subject.commonName, "localhost", CTC_NAME_SIZE - 1);
    strncpy(cert->subject.org, "sluice self-signed", CTC_NAME_SIZE - 1);
    cert->selfSigned = 1;
    cert->isCA = 0;
    cert->daysValid = 365;
    cert->sigType = CTC_SHA256wECDSA;
    memcpy(cert->altNames, kSan, sizeof kSan);
    cert->altNamesSz = int(sizeof kSan);
    std::vector<uint8_t> der(4096);
    rc = wc_MakeCert_ex(cert.get(), der.data(), word32(der.size()), ECC_TYPE, &key, &rng);
    if (rc < 0) { cleanup(); return fail("wc_MakeCert", rc); }
    rc = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), word32(der.size()), ECC_TYPE,
                        &key, &rng);
    if (rc < 0) { cleanup(); return fail("wc_SignCert", rc); }
    der.resize(size_t(rc));
    out.cert_der = std::move(der);
    out.key_der.resize(512);
    rc = wc_EccKeyToDer(&key, out.key_der.data(), word32(out.key_der.size()));
    cleanup();
    if (rc < 0) return fail("wc_EccKeyToDer", rc);
    out.key_der.resize(size_t(rc));
    return out;
}

// ---- wolfSSL global init / accel --------------------------------------------------------

void global_init() {
    static const int once = [] { return wolfSSL_Init(); }();
    (void)once;
}

int accel_dev_id(std::string& note) {
#if SLUICE_TLS_HAVE_ACCEL
    // Registered once per process; every Context shares the device.
    static const int dev = sluice_tls_accel_register();
    if (dev < 0) {
        note = "off (registration failed: " + std::to_string(dev) + ")";
        return INVALID_DEVID;
    }
    note = "on (devId " + std::to_string(dev) + ": " + sluice_tls_accel_describe() + ")";
    return dev;
#else
    note = "off (built with -Dtls_accel=false: pure wolfSSL)";
    return INVALID_DEVID;
#endif
}

int ticket_cb(WOLFSSL*, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
              unsigned char iv[WOLFSSL_TICKET_IV_SZ], unsigned char mac[WOLFSSL_TICKET_MAC_SZ],
              int enc, unsigned char* ticket, int in_len, int* out_len, void* user) {
    return static_cast<TicketKeys*>(user)->process(enc != 0, name, iv, mac, ticket, in_len,
                                                   out_len);
}

bool name_matches(const std::string& pattern, std::string_view host) {
    if (pattern == host) return true;
    if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
        size_t dot = host.find('.');
        if (dot == std::string_view::npos || dot == 0) return false;
        return host.substr(dot) == std::string_view(pattern).substr(1);
    }
    return false;
}

bool has(const std::vector<uint16_t>& v, uint16_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

void thread_cleanup() { wc_ecc_fp_free(); }

// ---- selection --------------------------------------------------------------------------

const CertEntry& Context::Impl::select(const ClientHelloInfo* hello) const {
    if (hello == nullptr || entries.size() == 1) return entries[0];
    std::string_view host = hello->sni;
    while (!host.empty() && host.back() == '.') host.remove_suffix(1);
    std::vector<const CertEntry*> cands;
    if (!host.empty()) {
        for (const auto& e : entries) {
            for (const auto& n : e.names) {
                if (name_matches(n, host)) {
                    cands.push_back(&e);
                    break;
                }
            }
        }
    }
    if (cands.empty()) {  // unknown name: the first certificate's name group
        for (const auto& e : entries) {
            if (e.names == entries[0].names) cands.push_back(&e);
        }
    }
    bool v13 = tls13 && has(hello->versions, 0x0304);
    auto ecdsa_ok = [&](const CertEntry& e) {
        if (v13) return e.ecdsa_scheme != 0 && has(hello->sigalgs, e.ecdsa_scheme);
        bool suite = std::any_of(tls12_ecdsa_suites.begin(), tls12_ecdsa_suites.end(),
                                 [&](uint16_t s) { return has(hello->suites, s); });
        bool sig = hello->sigalgs.empty() ||
                   std::any_of(hello->sigalgs.begin(), hello->sigalgs.end(),
                               [](uint16_t a) { return (a & 0xff) == 0x03; });
        return suite && sig;
    };
    auto rsa_ok = [&](const CertEntry&) {
        if (v13) return has(hello->sigalgs, 0x0804) || has(hello->sigalgs, 0x0805) ||
                        has(hello->sigalgs, 0x0806);
        return std::any_of(tls12_rsa_suites.begin(), tls12_rsa_suites.end(),
                           [&](uint16_t s) { return has(hello->suites, s); });
    };
    for (const auto* e : cands) {
        if (e->ecdsa && ecdsa_ok(*e)) return *e;
    }
    for (const auto* e : cands) {
        if (!e->ecdsa && rsa_ok(*e)) return *e;
    }
    return *cands[0];
}

// ---- creation ---------------------------------------------------------------------------

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Context::~Context() = default;

std::expected<std::unique_ptr<Context>, std::string> Context::create(const TlsOptions& o) {
    global_init();
    auto impl = std::make_unique<Impl>();
    impl->http2 = o.http2;

    if (o.versions == "1.2,1.3" || o.versions == "1.3,1.2") {
        impl->tls12 = impl->tls13 = true;
    } else if (o.versions == "1.2") {
        impl->tls13 = false;
    } else if (o.versions == "1.3") {
        impl->tls12 = false;
    } else {
        return std::unexpected("--tls-versions " + o.versions +
                               ": expected 1.2, 1.3 or 1.2,1.3");
    }

    // Suites: the allowed set, or the listed subset of it in the given order.
    std::vector<const Suite*> chosen;
    if (o.ciphers.empty()) {
        for (const auto& s : kSuites) chosen.push_back(&s);
    } else {
        std::string_view rest = o.ciphers;
        while (!rest.empty()) {
            size_t c = rest.find(':');
            std::string_view name = rest.substr(0, c);
            rest = c == std::string_view::npos ? std::string_view{} : rest.substr(c + 1);
            if (name.empty()) continue;
            const Suite* s = find_suite(name);
            if (s == nullptr) {
                return std::unexpected("--ciphers: " + std::string(name) +
                                       " is not an allowed suite (TLS 1.3 AES-GCM/CHACHA20 or "
                                       "TLS 1.2 ECDHE-ECDSA/ECDHE-RSA AES-GCM/CHACHA20-POLY1305)");
            }
            if (std::find(chosen.begin(), chosen.end(), s) == chosen.end()) chosen.push_back(s);
        }
    }
    for (const Suite* s : chosen) {
        if (s->tls13 && !impl->tls13) continue;
        if (!s->tls13 && !impl->tls12) continue;
        (s->tls13 ? impl->tls13_suites
                  : s->auth == Auth::Ecdsa ? impl->tls12_ecdsa_suites : impl->tls12_rsa_suites)
            .push_back(s->id);
        if (!impl->suite_names.empty()) impl->suite_names += ':';
        impl->suite_names += s->openssl;
    }
    if (impl->tls13 && impl->tls13_suites.empty() && !impl->tls12)
        return std::unexpected("--ciphers: no TLS 1.3 suite left for --tls-versions 1.3");
    if (impl->tls12 && impl->tls12_ecdsa_suites.empty() && impl->tls12_rsa_suites.empty() &&
        !impl->tls13)
        return std::unexpected("--ciphers: no TLS 1.2 suite left for --tls-versions 1.2");
    if (impl->tls13_suites.empty() && impl->tls12_ecdsa_suites.empty() &&
        impl->tls12_rsa_suites.empty())
        return std::unexpected("--ciphers: no suite left for --tls-versions " + o.versions);

    auto tickets = TicketKeys::create(o.ticket_keys_file);
    if (!tickets) return std::unexpected(tickets.error());
    impl->tickets = std::move(*tickets);

    impl->dev_id = INVALID_DEVID;
    if (o.accel) {
        impl->dev_id = accel_dev_id(impl->accel_note);
    } else {
        impl->accel_note = "off (disabled)";
    }

    if (o.certs.empty() && !o.self_signed)
        return std::unexpected(std::string("TLS needs --cert FILE --key FILE or --self-signed"));

    // Builds the CTX for one certificate; pem or der buffers already in memory.
    auto build = [&](CertEntry& e, const std::string& cert_flag, const std::string& key_flag,
                     const std::string& cert_buf, int cert_fmt, const std::string& key_buf,
                     int key_fmt) -> std::expected<void, std::string> {
        WOLFSSL_METHOD* m = impl->tls12 && impl->tls13 ? wolfSSLv23_server_method()
                            : impl->tls13             ? wolfTLSv1_3_server_method()
                                                      : wolfTLSv1_2_server_method();
        e.ctx.reset(wolfSSL_CTX_new(m));
        if (!e.ctx) return std::unexpected(std::string("TLS: wolfSSL_CTX_new failed"));
        WOLFSSL_CTX* ctx = e.ctx.get();
        if (impl->tls12 && impl->tls13) wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
        if (impl->dev_id != INVALID_DEVID) wolfSSL_CTX_SetDevId(ctx, impl->dev_id);

        // Leaf certificate: names and key type.
        std::vector<uint8_t> der;
        if (cert_fmt == WOLFSSL_FILETYPE_PEM) {
            der.resize(cert_buf.size());
            int n = wc_CertPemToDer(reinterpret_cast<const uint8_t*>(cert_buf.data()),
                                    int(cert_buf.size()), der.data(), int(der.size()),
                                    CERT_TYPE);
            if (n <= 0)
                return std::unexpected(cert_flag + ": no PEM certificate found (" +
                                       wc_GetErrorString(n) + ")");
            der.resize(size_t(n));
        } else {
            der.assign(cert_buf.begin(), cert_buf.end());
        }
        std::vector<uint8_t> spki;
        if (!describe_leaf(der.data(), der.size(), e, spki))
            return std::unexpected(cert_flag + ": cannot parse the certificate or its key is "
                                               "neither ECDSA nor RSA");
        int rc = cert_fmt == WOLFSSL_FILETYPE_PEM
                     ? wolfSSL_CTX_use_certificate_chain_buffer_format(
                           ctx, reinterpret_cast<const uint8_t*>(cert_buf.data()),
                           long(cert_buf.size()), WOLFSSL_FILETYPE_PEM)
                     : wolfSSL_CTX_use_certificate_buffer(
                           ctx, reinterpret_cast<const uint8_t*>(cert_buf.data()),
                           long(cert_buf.size()), WOLFSSL_FILETYPE_ASN1);
        if (rc != WOLFSSL_SUCCESS)
            return std::unexpected(cert_flag + ": cannot load the certificate chain: " +
                                   wolf_error(rc));

        // Is it a private key at all? (tells "not a key" apart from "wrong key").
        std::vector<uint8_t> kder;
        if (key_fmt == WOLFSSL_FILETYPE_PEM) {
            kder.resize(key_buf.size());
            int n = wc_KeyPemToDer(reinterpret_cast<const uint8_t*>(key_buf.data()),
                                   int(key_buf.size()), kder.data(), int(kder.size()), nullptr);
            if (n <= 0) {
                secure_wipe(kder.data(), kder.size());
                return std::unexpected(key_flag + ": no unencrypted PEM private key found (" +
                                       wc_GetErrorString(n) + ")");
            }
            kder.resize(size_t(n));
        } else {
            kder.assign(key_buf.begin(), key_buf.end());
        }
        bool match = key_matches(std::move(kder), spki, e.ecdsa);
        if (!match) return std::unexpected(key_flag + " does not match " + cert_flag);
        rc = wolfSSL_CTX_use_PrivateKey_buffer(
            ctx, reinterpret_cast<const uint8_t*>(key_buf.data()), long(key_buf.size()), key_fmt);
        if (rc != WOLFSSL_SUCCESS)
            return std::unexpected(key_flag + ": cannot load the private key: " + wolf_error(rc));

        // Suites for this key type.
        std::string list;
        auto add = [&](const std::vector<uint16_t>& ids) {
            for (uint16_t id : ids) {
                const auto* suite = suite_by_id(id);  // ids come from the same table
                if (suite == nullptr) continue;
                if (!list.empty()) list += ':';
                list += suite->wolf;
            }
        };
        add(impl->tls13_suites);
        add(e.ecdsa ? impl->tls12_ecdsa_suites : impl->tls12_rsa_suites);
        for (uint16_t id : e.ecdsa ? impl->tls12_ecdsa_suites : impl->tls12_rsa_suites) {
            if (std::find(impl->tls12_usable.begin(), impl->tls12_usable.end(), id) ==
                impl->tls12_usable.end())
                impl->tls12_usable.push_back(id);
        }
        if (list.empty())
            return std::unexpected("--ciphers: no suite usable with the " + e.key_desc +
                                   " key of " + cert_flag);
        if (wolfSSL_CTX_set_cipher_list(ctx, list.c_str()) != WOLFSSL_SUCCESS)
            return std::unexpected("--ciphers: wolfSSL rejected " + list);

        int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1};
        if (impl->tls13 && wolfSSL_CTX_set_groups(ctx, groups, 3) != WOLFSSL_SUCCESS)
            return std::unexpected(std::string("TLS: cannot set the key exchange groups"));
        for (int g : groups) {  // TLS 1.2 ECDHE curve choice
            if (wolfSSL_CTX_UseSupportedCurve(ctx, word16(g)) != WOLFSSL_SUCCESS)
                return std::unexpected(std::string("TLS: cannot set the supported curves"));
        }

        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
        // Tickets carry the session; no per-process cache (it would not be shared by a fleet).
        wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
        wolfSSL_CTX_set_TicketEncCb(ctx, ticket_cb);
        wolfSSL_CTX_set_TicketEncCtx(ctx, impl->tickets.get());
        wolfSSL_CTX_set_TicketHint(ctx, int(std::chrono::seconds(TicketKeys::kRotation).count()));
        wolfSSL_CTX_set_timeout(ctx, unsigned(std::chrono::seconds(TicketKeys::kRotation).count()));
        if (impl->tls13) wolfSSL_CTX_SetHKDFExpandLabelCb(ctx, hkdf_capture_cb);
        wolfSSL_CTX_SetIORecv(ctx, session_recv_cb);
        wolfSSL_CTX_SetIOSend(ctx, session_send_cb);
        return {};
    };

    for (const auto& p : o.certs) {
        std::string cert_flag = "--cert " + p.cert_file, key_flag = "--key " + p.key_file;
        auto cert = read_file("--cert", p.cert_file);
        if (!cert) return std::unexpected(cert.error());
        auto key = read_file("--key", p.key_file);
        if (!key) return std::unexpected(key.error());
        CertEntry e;
        e.cert_file = p.cert_file;
        auto r = build(e, cert_flag, key_flag, *cert, WOLFSSL_FILETYPE_PEM, *key,
                       WOLFSSL_FILETYPE_PEM);
        secure_wipe(key->data(), key->size());
        if (!r) return std::unexpected(r.error());
        impl->entries.push_back(std::move(e));
    }
    if (o.self_signed) {
        auto ss = make_self_signed();
        if (!ss) return std::unexpected(ss.error());
        CertEntry e;
        e.cert_file = "(self-signed)";
        std::string cert(ss->cert_der.begin(), ss->cert_der.end());
        std::string key(ss->key_der.begin(), ss->key_der.end());
        auto r = build(e, "--self-signed", "--self-signed key", cert, WOLFSSL_FILETYPE_ASN1, key,
                       WOLFSSL_FILETYPE_ASN1);
        secure_wipe(key.data(), key.size());
        if (!r) return std::unexpected(r.error());
        std::vector<uint8_t> pem(4 * ss->cert_der.size() + 256);
        int n = wc_DerToPem(ss->cert_der.data(), word32(ss->cert_der.size()), pem.data(),
                            word32(pem.size()), CERT_TYPE);
        if (n > 0) impl->self_signed_pem.assign(reinterpret_cast<char*>(pem.data()), size_t(n));
        impl->entries.push_back(std::move(e));
    }
    return std::unique_ptr<Context>(new Context(std::move(impl)));
}

Result<void> Context::reload_ticket_keys() {
    int code = 0;
    auto r = impl_->tickets->reload(code);
    std::lock_guard lock(impl_->reload_mu);
    if (r) {
        impl_->reload_error.clear();
        return {};
    }
    impl_->reload_error = r.error();
    return fail(code != 0 ? code : EINVAL);
}

std::string Context::last_reload_error() const {
    std::lock_guard lock(impl_->reload_mu);
    return impl_->reload_error;
}

const std::string& Context::self_signed_cert_pem() const { return impl_->self_signed_pem; }
bool Context::accel_active() const { return impl_->dev_id != INVALID_DEVID; }

std::string Context::describe() const {
    const Impl& m = *impl_;
    std::string s = "TLS (wolfSSL " LIBWOLFSSL_VERSION_STRING "): versions ";
    s += m.tls12 && m.tls13 ? "1.2,1.3" : m.tls13 ? "1.3" : "1.2";
    s += "; suites " + m.suite_names + "; groups X25519:P-256:P-384; ALPN " +
         std::string(m.http2 ? "h2,http/1.1" : "http/1.1") + "\n";
    for (size_t i = 0; i < m.entries.size(); ++i) {
        const auto& e = m.entries[i];
        s += "  cert " + e.cert_file + " (" + e.key_desc + (i == 0 ? ", default" : "") + "):";
        for (const auto& n : e.names) s += " " + n;
        for (const auto& n : e.ip_names) s += " IP:" + n;
        s += "\n";
    }
    s += "  session tickets: AES-256-GCM, ";
    s += m.tickets->from_file() ? "keys from --ticket-keys (" +
                                      std::to_string(m.tickets->key_count()) + ")"
                                : std::string("random in-memory keys rotated every 12 h");
    s += "\n  handshake crypto accel: " + m.accel_note;
    return s;
}

}  // namespace sluice::tls

namespace sluice::tls {

const char* accel_description() {
#if SLUICE_TLS_HAVE_ACCEL
    return sluice_tls_accel_describe();
#else
    return "wolfSSL software only (built with -Dtls_accel=false)";
#endif
}

}  // namespace sluice::tls
