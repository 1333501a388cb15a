// tls/context_impl.h — INTERNAL to src/tls: the wolfSSL-typed innards of Context, shared by
// context.cc and session.cc. Includes wolfSSL headers: never include it outside src/tls.
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tls/client_hello.h"
#include "tls/context.h"
#include "tls/tickets.h"

namespace sluice::tls {

struct CtxDeleter {
    void operator()(WOLFSSL_CTX* c) const { wolfSSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<WOLFSSL_CTX, CtxDeleter>;

// One certificate and the WOLFSSL_CTX that serves it.
struct CertEntry {
    CtxPtr ctx;
    std::string cert_file;              // "(self-signed)" for the generated one
    std::vector<std::string> names;     // lower-cased CN + DNS SANs (SNI candidates)
    std::vector<std::string> ip_names;  // IP SANs (describe only; SNI never carries IPs)
    bool ecdsa = false;
    uint16_t ecdsa_scheme = 0;          // TLS 1.3 SignatureScheme for the cert's curve
    std::string key_desc;               // "ECDSA P-256", "RSA 2048"
};

struct Context::Impl {
    std::vector<CertEntry> entries;
    bool tls12 = true, tls13 = true;
    bool http2 = true;
    std::vector<uint16_t> tls12_ecdsa_suites, tls12_rsa_suites, tls13_suites;
    std::vector<uint16_t> tls12_usable;  // TLS 1.2 suites some loaded certificate can serve
    std::string suite_names;  // for describe()
    std::unique_ptr<TicketKeys> tickets;
    int dev_id = -2;          // INVALID_DEVID when accel is off or unavailable
    std::string accel_note;
    std::string self_signed_pem;
    mutable std::mutex reload_mu;
    std::string reload_error;

    // Picks the certificate for a parsed ClientHello (nullptr info: the default).
    const CertEntry& select(const ClientHelloInfo* hello) const;
};

// TLS 1.3 traffic-secret capture (HKDF-Expand-Label observer), defined in session.cc.
int hkdf_capture_cb(byte* okm, word32 okm_len, const byte* prk, word32 prk_len,
                    const byte* protocol, word32 protocol_len, const byte* label,
                    word32 label_len, const byte* info, word32 info_len, int digest, int side);
// Memory-queue I/O callbacks, defined in session.cc.
int session_recv_cb(WOLFSSL* ssl, char* buf, int sz, void* ctx);
int session_send_cb(WOLFSSL* ssl, char* buf, int sz, void* ctx);

}  // namespace sluice::tls
