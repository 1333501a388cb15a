// tests/unit/tls/memory_client.h — a wolfSSL TLS client over in-memory byte queues and a
// pump that runs it against sluice's tls::Session; shared by the tls and record unit tests.
// Test-only (gtest assertions inside); include after <wolfssl/options.h> and <wolfssl/ssl.h>.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "tls/session.h"

namespace sluice::tls::testing {

struct Queue {
    std::string data;
    size_t pos = 0;
};

int q_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* q = static_cast<Queue*>(ctx);
    size_t avail = q->data.size() - q->pos;
    if (avail == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = std::min(avail, size_t(sz));
    memcpy(buf, q->data.data() + q->pos, n);
    q->pos += n;
    return int(n);
}

int q_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    static_cast<std::string*>(ctx)->append(buf, size_t(sz));
    return sz;
}

struct Client {
    WOLFSSL_CTX* ctx = nullptr;
    WOLFSSL* ssl = nullptr;
    Queue in;         // from the server
    std::string out;  // to the server
    bool done = false, failed = false;

    // version: 0 = 1.2 or 1.3, 12, 13. ciphers: wolfSSL list or "".
    Client(int version, const char* ciphers) {
        WOLFSSL_METHOD* m = version == 12   ? wolfTLSv1_2_client_method()
                            : version == 13 ? wolfTLSv1_3_client_method()
                                            : wolfSSLv23_client_method();
        ctx = wolfSSL_CTX_new(m);
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
        if (ciphers != nullptr && *ciphers) {
            EXPECT_EQ(wolfSSL_CTX_set_cipher_list(ctx, ciphers), 1);
        }
        ssl = wolfSSL_new(ctx);
        wolfSSL_SSLSetIORecv(ssl, q_recv);
        wolfSSL_SSLSetIOSend(ssl, q_send);
        wolfSSL_SetIOReadCtx(ssl, &in);
        wolfSSL_SetIOWriteCtx(ssl, &out);
        wolfSSL_UseSessionTicket(ssl);
    }
    ~Client() {
        wolfSSL_free(ssl);
        wolfSSL_CTX_free(ctx);
    }
    void step() {
        if (done || failed) return;
        int r = wolfSSL_connect(ssl);
        if (r == WOLFSSL_SUCCESS) {
            done = true;
        } else if (wolfSSL_get_error(ssl, r) != WOLFSSL_ERROR_WANT_READ) {
            failed = true;
        }
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Reads every pending server record (also processes NewSessionTicket / KeyUpdate).
    // `err`, if given, gets wolfSSL's error for the call that stopped the loop (WANT_READ
    // when drained).
    std::string read_all(int* err = nullptr) {
        std::string got;
        std::vector<char> buf(1 << 15);
        for (;;) {
            int n = wolfSSL_read(ssl, buf.data(), int(buf.size()));
            if (n <= 0) {
                if (err) *err = wolfSSL_get_error(ssl, n);
                break;
            }
            got.append(buf.data(), size_t(n));
        }
        return got;
    }
    // One wolfSSL_write; returns the raw record bytes it produced.
    std::string write(const std::string& pt) {
        EXPECT_EQ(wolfSSL_write(ssl, pt.data(), int(pt.size())), int(pt.size()));
        std::string wire = std::move(out);
        out.clear();
        return wire;
    }
    std::string peer_cn() {
        WOLFSSL_X509* x = wolfSSL_get_peer_certificate(ssl);
        if (x == nullptr) return "";
        const char* cn = wolfSSL_X509_get_subjectCN(x);
        std::string s = cn ? cn : "";
        wolfSSL_X509_free(x);
        return s;
    }
};

enum class Outcome { Done, Failed, Stuck };

// Runs both sides until both finished (or one failed). `pipelined`: bytes the client writes
// right after its handshake completes, fed to the server together with its last flight.
Outcome handshake(Client& c, Session& s, const std::string& pipelined = "",
                  std::string* server_failure_output = nullptr) {
    bool written = false;
    for (int i = 0; i < 50; ++i) {
        c.step();
        if (c.done && !written && !pipelined.empty()) {
            EXPECT_EQ(wolfSSL_write(c.ssl, pipelined.data(), int(pipelined.size())),
                      int(pipelined.size()));
            written = true;
        }
        if (!c.out.empty()) {
            s.feed(c.out);
            c.out.clear();
        }
        Session::Step st = s.advance();
        while (st == Session::Step::WantWrite) {
            c.in.data.append(s.output());
            s.consume_output(s.output().size());
            st = s.advance();
        }
        if (st == Session::Step::Failed) {
            if (server_failure_output) *server_failure_output = std::string(s.output());
            c.in.data.append(s.output());
            s.consume_output(s.output().size());
            c.step();
            return Outcome::Failed;
        }
        if (c.failed) return Outcome::Failed;
        if (st == Session::Step::Done && c.done) return Outcome::Done;
    }
    return Outcome::Stuck;
}

}  // namespace sluice::tls::testing
