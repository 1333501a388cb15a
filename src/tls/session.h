// tls/session.h — one server-side TLS handshake, sans-I/O, over two byte queues.
// Contract:
//  - The caller feeds every byte read from the socket (feed), calls advance(), sends output()
//    and reports what was sent (consume_output). advance() returns WantWrite whenever output is
//    pending (send it, then call advance again), WantRead when more input is needed (read_hint
//    says how many bytes wolfSSL asked for, so the caller can read exactly that much and never
//    pull bytes beyond a record), Done once the handshake completed and all output was taken
//    (TLS 1.3: the NewSessionTicket is part of that output), Failed on any error: output() then
//    holds the alert to send before closing, last_error() the reason.
//  - The ClientHello is read by tls::HelloReader before wolfSSL sees it: to pick the
//    certificate (SNI, key type) and to refuse what the RFCs say to refuse with the alert they
//    name (tls/alerts.h); wolfSSL then gets the hello as one re-framed record.
//  - TLS 1.3 middlebox compatibility (RFC 8446 D.4): a change_cipher_spec follows the first
//    ServerHello/HelloRetryRequest when the client's session id is non-empty.
//  - What the client sends after its hello passes tls::HandshakeInput before wolfSSL reads it
//    (plaintext handshake messages re-framed, CCS and record types checked; in TLS 1.3 the
//    client's handshake-key records re-framed with that key when a message is split).
//  - on_eof(): the peer closed; a partial hello is answered with decode_error.
//  - After Done: export_keys() (key, IV, next sequence, TLS 1.3 traffic secret per direction;
//    tx = server write, rx = client write), take_leftover() (bytes received beyond the
//    handshake, e.g. a pipelined request, possibly partial records: they are the first bytes of
//    the record stream the rx keys decrypt), then destroy the Session: the destructor frees the
//    WOLFSSL (which zeroes wolfSSL's key copy) and wipes every buffer that held secrets.
//  - Never call wolfSSL-writing operations after the caller installed the keys elsewhere: the
//    Session offers none after Done.
//  - TLS 1.3 secrets: captured via wolfSSL's HKDF-Expand-Label callback (thread-local routing,
//    so advance() must run on the calling thread, which it does); export_keys checks that the
//    captured secret re-derives the exported key and leaves secret_len = 0 otherwise.
//  - No wolfSSL header is included here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "tls/alerts.h"
#include "tls/client_hello.h"
#include "tls/context.h"
#include "tls/keys.h"

struct WOLFSSL;  // wolfSSL's `typedef struct WOLFSSL WOLFSSL` (global namespace)

namespace sluice::tls {

class Session {
public:
    enum class Step { WantRead, WantWrite, Done, Failed };

    explicit Session(Context& ctx);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void feed(std::string_view ciphertext);  // bytes received from the socket
    Step advance();
    Step on_eof();  // the peer closed its side: Failed (output() may hold an alert)

    std::string_view output() const;  // bytes the caller must send
    void consume_output(size_t n);
    size_t read_hint() const;      // bytes wanted and not yet fed; 0 if unknown
    std::string take_leftover();   // unread tail of the input (after Done)

    Result<TrafficKeys> export_keys();  // only after Done; EAGAIN before, ENOTSUP if unusable

    std::optional<Version> version() const;  // after Done
    std::optional<Cipher> cipher() const;    // after Done
    std::string_view cipher_name() const;    // wolfSSL suite name, "" before Done
    std::string_view alpn() const;           // "http/1.1" or "" (client sent no ALPN)
    std::string_view sni() const;            // host name the client asked for, "" if none
    bool resumed() const;
    bool max_fragment_negotiated() const;    // true: skip kTLS (records must stay smaller)
    std::string last_error() const;
    // Set when sluice itself refused the handshake (before or around wolfSSL).
    std::optional<Violation> violation() const { return violation_; }

    // Internal (used by the wolfSSL callbacks in session.cc).
    struct Io;
    struct Secrets;
    struct HsCrypto;

private:
    struct SslDeleter {
        void operator()(WOLFSSL* s) const;
    };
    bool start(const void* hello_info);
    void fail_with(std::string why);
    Step fail_alert(Violation v, std::string_view why);
    void on_first_output(size_t first);
    void normalise(std::string_view bytes);
    void arm_handshake_crypto();

    Context& ctx_;
    std::unique_ptr<WOLFSSL, SslDeleter> ssl_;
    std::string in_;
    size_t in_pos_ = 0;
    std::string out_;
    size_t out_pos_ = 0;
    size_t hint_ = 5;
    enum class State { Hello, Handshake, Done, Failed } state_ = State::Hello;
    bool hello_ok_ = false;   // a well-formed ClientHello was seen
    bool wrote_any_ = false;  // wolfSSL produced output at least once
    bool compat_ccs_ = false; // a change_cipher_spec is owed after the first ServerHello
    HelloReader hello_;
    std::optional<HandshakeInput> hs_in_;  // after the hello (its version known)
    std::unique_ptr<HsCrypto> hs_crypto_;  // TLS 1.3: the client's handshake key, re-framing
    uint8_t client_hs_secret_[48] = {};
    uint8_t client_hs_secret_len_ = 0;
    std::string after_hello_;  // bytes after the hello, until its version is known
    size_t hello_fed_ = 0;
    std::optional<Violation> violation_;
    std::string sni_;
    std::string error_;
    uint8_t client_secret_[48] = {};
    uint8_t server_secret_[48] = {};
    uint8_t client_secret_len_ = 0;
    uint8_t server_secret_len_ = 0;

    friend struct Io;
    friend struct Secrets;
};

}  // namespace sluice::tls
