// tls/context.h — the server's TLS configuration: certificates, versions, suites, tickets.
// Contract:
//  - Context::create validates everything up front; its error is ONE line naming the flag/file
//    and the reason. After create() the Context is read-only except the ticket key set, which
//    is guarded by a mutex, so one Context serves every worker thread (Sessions may be created
//    concurrently from several threads).
//  - Only the allowed suites are ever enabled: TLS 1.3 AES-128-GCM / AES-256-GCM /
//    CHACHA20-POLY1305; TLS 1.2 ECDHE-{ECDSA,RSA} with the same three AEADs (RFC 7905 ChaCha,
//    never "-OLD"). Groups X25519, P-256, P-384. No CBC, static RSA, renegotiation, compression.
//  - Several certificates: one WOLFSSL_CTX per certificate. A Session picks the CTX from the
//    raw ClientHello before wolfSSL sees it (SNI against CN and DNS subjectAltNames, "*.x.y"
//    wildcards match one label; then ECDSA over RSA when the client's signature_algorithms and
//    suites allow it). Unknown or absent names use the first certificate's name group.
//  - ALPN: "h2" (unless TlsOptions::http2 is off; preferred whatever the client's order) and
//    "http/1.1"; a client offering ALPN with neither gets no_application_protocol.
//  - This header includes no wolfSSL header (the record layer includes OpenSSL; they clash).
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace sluice::tls {

struct CertKeyPair {
    std::string cert_file, key_file;
};

struct TlsOptions {
    std::vector<CertKeyPair> certs;
    bool self_signed = false;          // add an in-memory ECDSA P-256 cert for localhost
    std::string versions = "1.2,1.3";  // "1.2", "1.3" or "1.2,1.3"
    std::string ciphers;               // ':'-separated allowed names; empty = all allowed
    std::string ticket_keys_file;      // empty = random keys rotated every 12 h
    bool accel = true;                 // register the libcrypto crypto device if available
    bool http2 = true;                 // offer "h2" in ALPN (--http2)
};

// Call at the end of every thread that ran Sessions (worker threads): frees wolfCrypt's
// per-thread fixed-point ECC cache (FP_ECC), which would otherwise leak at thread exit.
void thread_cleanup();

// Which engine does the handshake math: the libcrypto crypto device or wolfSSL alone.
const char* accel_description();

class Context {
public:
    struct Impl;  // defined in tls/context_impl.h (wolfSSL types)

    static std::expected<std::unique_ptr<Context>, std::string> create(const TlsOptions& opts);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Rereads --ticket-keys (SIGHUP). Without a file: success, nothing to do. On failure the
    // old keys stay in use; the errno is ENOENT/EACCES/... or EINVAL for a malformed file and
    // last_reload_error() has the one-line text.
    Result<void> reload_ticket_keys();
    std::string last_reload_error() const;

    // Multi-line summary for --version / startup logs: certificates, names, key types,
    // versions, suites, ticket key source, accel on/off.
    std::string describe() const;

    // PEM of the generated certificate when self_signed, else empty (tests, startup hints).
    const std::string& self_signed_cert_pem() const;
    bool accel_active() const;

    Impl& impl() { return *impl_; }

private:
    explicit Context(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::tls
