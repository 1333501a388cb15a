// Handshake CPU with and without the libcrypto crypto device (src/tls/accel.h), plus the raw
// public-key operations through wolfCrypt with devId = INVALID_DEVID (software) vs the device.
// (BENCHMARK_MAIN lives in another file.)
//
// BM_Handshake: one in-memory TLS handshake, wolfSSL client ↔ wolfSSL server in this thread,
// ECDSA P-256 certificate generated here with wolfSSL, AES-128-GCM suite, followed by one small
// request/response. The device is on the server CTX only (the client is plain wolfSSL, as a
// browser would be some other library); counters split the thread CPU time: server_us = CPU inside
// wolfSSL_accept/read/write on the server side, client_us = the rest of the client's calls.
// Args: dev (0 = software, 1 = device), tls13 (1/0), group (0 = X25519, 1 = P-256).
#include "tls/accel.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <cstring>
#include <vector>

namespace {

using Buf = std::vector<byte>;
// Thread CPU time, so other load on the machine does not inflate the server/client split.
struct Clock {
    static double now() {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
};

struct Identity {
    Buf cert, key;
    bool ok = false;
};

const Identity& ecdsa_identity() {
    static Identity id = [] {
        Identity r;
        wolfSSL_Init();
        WC_RNG rng;
        wc_InitRng(&rng);
        ecc_key k;
        wc_ecc_init(&k);
        Cert cert;
        wc_InitCert(&cert);
        std::strncpy(cert.subject.commonName, "localhost", CTC_NAME_SIZE - 1);
        cert.isCA = 1;
        cert.daysValid = 30;
        cert.sigType = CTC_SHA256wECDSA;
        r.cert.resize(4096);
        r.key.resize(512);
        int sz = -1, kl = -1;
        if (wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1) == 0 &&
            wc_MakeCert(&cert, r.cert.data(), 4096, nullptr, &k, &rng) > 0) {
            sz = wc_SignCert(cert.bodySz, cert.sigType, r.cert.data(), 4096, nullptr, &k, &rng);
            kl = wc_EccKeyToDer(&k, r.key.data(), 512);
        }
        wc_ecc_free(&k);
        wc_FreeRng(&rng);
        if (sz > 0 && kl > 0) {
            r.cert.resize(static_cast<size_t>(sz));
            r.key.resize(static_cast<size_t>(kl));
            r.ok = true;
        }
        return r;
    }();
    return id;
}

struct Pipe {
    Buf data;
    size_t off = 0;
};
struct Ends {
    Pipe* in;
    Pipe* out;
};
int mem_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    Pipe* p = static_cast<Ends*>(ctx)->in;
    size_t avail = p->data.size() - p->off;
    if (avail == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = std::min(avail, static_cast<size_t>(sz));
    std::memcpy(buf, p->data.data() + p->off, n);
    p->off += n;
    if (p->off == p->data.size()) {
        p->data.clear();
        p->off = 0;
    }
    return static_cast<int>(n);
}
int mem_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    Pipe* p = static_cast<Ends*>(ctx)->out;
    p->data.insert(p->data.end(), buf, buf + sz);
    return sz;
}

bool want_io(WOLFSSL* ssl, int r) {
    int e = wolfSSL_get_error(ssl, r);
    return e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE;
}

// One handshake + request/response. Adds the time spent in server / client calls.
bool handshake(WOLFSSL_CTX* sctx, WOLFSSL_CTX* cctx, bool tls13, word16 group, double& server_s,
               double& client_s) {
    Pipe c2s, s2c;
    Ends se{&c2s, &s2c}, ce{&s2c, &c2s};
    WOLFSSL* s = wolfSSL_new(sctx);
    WOLFSSL* c = wolfSSL_new(cctx);
    bool ok = s && c;
    if (ok) {
        wolfSSL_SSLSetIORecv(s, mem_recv);
        wolfSSL_SSLSetIOSend(s, mem_send);
        wolfSSL_SetIOReadCtx(s, &se);
        wolfSSL_SetIOWriteCtx(s, &se);
        wolfSSL_SSLSetIORecv(c, mem_recv);
        wolfSSL_SSLSetIOSend(c, mem_send);
        wolfSSL_SetIOReadCtx(c, &ce);
        wolfSSL_SetIOWriteCtx(c, &ce);
        int groups[1] = {group};
        if (tls13)
            ok = wolfSSL_UseKeyShare(c, group) == WOLFSSL_SUCCESS &&
                 wolfSSL_set_groups(c, groups, 1) == WOLFSSL_SUCCESS;
        else
            ok = wolfSSL_UseSupportedCurve(c, group) == WOLFSSL_SUCCESS;
    }
    bool cd = false, sd = false;
    for (int i = 0; ok && i < 50 && !(cd && sd); ++i) {
        if (!cd) {
            auto t0 = Clock::now();
            int r = wolfSSL_connect(c);
            client_s += (Clock::now() - t0);
            if (r == WOLFSSL_SUCCESS) cd = true;
            else if (!want_io(c, r)) ok = false;
        }
        if (ok && !sd) {
            auto t0 = Clock::now();
            int r;
            {  // as tls::Session does (accel.h): TLS 1.3 X25519 key shares to the device too
                sluice::tls::DeviceRoute route(wolfSSL_CTX_GetDevId(nullptr, s));
                r = wolfSSL_accept(s);
            }
            server_s += (Clock::now() - t0);
            if (r == WOLFSSL_SUCCESS) sd = true;
            else if (!want_io(s, r)) ok = false;
        }
    }
    ok = ok && cd && sd;
    if (ok) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        char buf[256];
        auto t0 = Clock::now();
        ok = wolfSSL_write(c, req, sizeof req) == sizeof req;
        auto t1 = Clock::now();
        ok = ok && wolfSSL_read(s, buf, sizeof buf) == sizeof req &&
             wolfSSL_write(s, resp, sizeof resp) == sizeof resp;
        auto t2 = Clock::now();
        ok = ok && wolfSSL_read(c, buf, sizeof buf) == sizeof resp;
        auto t3 = Clock::now();
        client_s += (t1 - t0) + (t3 - t2);
        server_s += t2 - t1;
    }
    if (c) wolfSSL_free(c);
    if (s) wolfSSL_free(s);
    return ok;
}

void BM_Handshake(benchmark::State& state) {
    const bool use_dev = state.range(0) != 0;
    const bool tls13 = state.range(1) != 0;
    const word16 group = state.range(2) == 0 ? WOLFSSL_ECC_X25519 : WOLFSSL_ECC_SECP256R1;
    const Identity& id = ecdsa_identity();
    int dev = sluice::tls::sluice_tls_accel_register();
    if (!id.ok || (use_dev && dev < 0)) {
        state.SkipWithError("setup failed");
        return;
    }
    WOLFSSL_CTX* sctx =
        wolfSSL_CTX_new(tls13 ? wolfTLSv1_3_server_method() : wolfTLSv1_2_server_method());
    WOLFSSL_CTX* cctx =
        wolfSSL_CTX_new(tls13 ? wolfTLSv1_3_client_method() : wolfTLSv1_2_client_method());
    bool ok = sctx && cctx;
    if (ok && use_dev) ok = wolfSSL_CTX_SetDevId(sctx, dev) == WOLFSSL_SUCCESS;
    ok = ok &&
         wolfSSL_CTX_use_certificate_buffer(sctx, id.cert.data(), static_cast<long>(id.cert.size()),
                                            WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
         wolfSSL_CTX_use_PrivateKey_buffer(sctx, id.key.data(), static_cast<long>(id.key.size()),
                                           WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
         wolfSSL_CTX_load_verify_buffer(cctx, id.cert.data(), static_cast<long>(id.cert.size()),
                                        WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
         wolfSSL_CTX_set_cipher_list(cctx, tls13 ? "TLS13-AES128-GCM-SHA256"
                                                 : "ECDHE-ECDSA-AES128-GCM-SHA256") ==
             WOLFSSL_SUCCESS;
    if (ok) wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_PEER, nullptr);
    double server_s = 0, client_s = 0;
    for (auto _ : state) {
        if (!ok || !handshake(sctx, cctx, tls13, group, server_s, client_s)) {
            state.SkipWithError("handshake failed");
            break;
        }
    }
    double n = static_cast<double>(state.iterations());
    if (n > 0) {
        state.counters["server_us"] = server_s / n * 1e6;
        state.counters["client_us"] = client_s / n * 1e6;
    }
    state.SetLabel(std::string(use_dev ? "device" : "software") + (tls13 ? " tls1.3" : " tls1.2") +
                   (group == WOLFSSL_ECC_X25519 ? " x25519" : " p256"));
    if (cctx) wolfSSL_CTX_free(cctx);
    if (sctx) wolfSSL_CTX_free(sctx);
}
BENCHMARK(BM_Handshake)
    ->ArgNames({"dev", "tls13", "p256"})
    ->ArgsProduct({{0, 1}, {1, 0}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

int dev_for(const benchmark::State& state) {
    return state.range(0) ? sluice::tls::sluice_tls_accel_register() : INVALID_DEVID;
}

void BM_EcdsaSignP256(benchmark::State& state) {
    wolfSSL_Init();
    int dev = dev_for(state);
    WC_RNG rng;
    wc_InitRng(&rng);
    ecc_key sw, k;
    wc_ecc_init(&sw);
    wc_ecc_make_key_ex(&rng, 32, &sw, ECC_SECP256R1);
    byte priv[32], pub[65];
    word32 pl = 32, ql = 65;
    wc_ecc_export_private_only(&sw, priv, &pl);
    wc_ecc_export_x963(&sw, pub, &ql);
    wc_ecc_init_ex(&k, nullptr, dev);
    wc_ecc_import_private_key_ex(priv, pl, pub, ql, &k, ECC_SECP256R1);
    byte hash[32] = {1, 2, 3};
    for (auto _ : state) {
        byte sig[ECC_MAX_SIG_SIZE];
        word32 sl = sizeof sig;
        if (wc_ecc_sign_hash(hash, 32, sig, &sl, &rng, &k) != 0) {
            state.SkipWithError("sign failed");
            break;
        }
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
    wc_ecc_free(&k);
    wc_ecc_free(&sw);
    wc_FreeRng(&rng);
}
BENCHMARK(BM_EcdsaSignP256)->ArgName("dev")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_X25519Shared(benchmark::State& state) {
    wolfSSL_Init();
    int dev = dev_for(state);
    WC_RNG rng;
    wc_InitRng(&rng);
    curve25519_key a, b;
    wc_curve25519_init_ex(&a, nullptr, dev);
    wc_curve25519_init_ex(&b, nullptr, INVALID_DEVID);
    wc_curve25519_make_key(&rng, 32, &a);
    wc_curve25519_make_key(&rng, 32, &b);
    for (auto _ : state) {
        byte out[32];
        word32 len = 32;
        if (wc_curve25519_shared_secret_ex(&a, &b, out, &len, EC25519_LITTLE_ENDIAN) != 0) {
            state.SkipWithError("shared secret failed");
            break;
        }
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
    wc_curve25519_free(&a);
    wc_curve25519_free(&b);
    wc_FreeRng(&rng);
}
BENCHMARK(BM_X25519Shared)->ArgName("dev")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_X25519Keygen(benchmark::State& state) {
    wolfSSL_Init();
    int dev = dev_for(state);
    WC_RNG rng;
    wc_InitRng(&rng);
    for (auto _ : state) {
        curve25519_key a;
        wc_curve25519_init_ex(&a, nullptr, dev);
        if (wc_curve25519_make_key(&rng, 32, &a) != 0) {
            state.SkipWithError("keygen failed");
            break;
        }
        wc_curve25519_free(&a);
    }
    state.SetItemsProcessed(state.iterations());
    wc_FreeRng(&rng);
}
BENCHMARK(BM_X25519Keygen)->ArgName("dev")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// P-256 ephemeral key share: keygen + ECDH, as the server does per handshake.
void BM_P256KeyShare(benchmark::State& state) {
    wolfSSL_Init();
    int dev = dev_for(state);
    WC_RNG rng;
    wc_InitRng(&rng);
    ecc_key peer;
    wc_ecc_init(&peer);
    wc_ecc_make_key_ex(&rng, 32, &peer, ECC_SECP256R1);
    for (auto _ : state) {
        ecc_key k;
        wc_ecc_init_ex(&k, nullptr, dev);
        wc_ecc_set_rng(&k, &rng);
        byte out[32];
        word32 len = 32;
        if (wc_ecc_make_key_ex(&rng, 32, &k, ECC_SECP256R1) != 0 ||
            wc_ecc_shared_secret(&k, &peer, out, &len) != 0) {
            state.SkipWithError("p256 failed");
            break;
        }
        benchmark::DoNotOptimize(out);
        wc_ecc_free(&k);
    }
    state.SetItemsProcessed(state.iterations());
    wc_ecc_free(&peer);
    wc_FreeRng(&rng);
}
BENCHMARK(BM_P256KeyShare)->ArgName("dev")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// AES-128-GCM, one 16 KiB record.
void BM_AesGcm16k(benchmark::State& state) {
    wolfSSL_Init();
    int dev = dev_for(state);
    Aes aes;
    wc_AesInit(&aes, nullptr, dev);
    byte key[16] = {1}, iv[12] = {2}, aad[13] = {3}, tag[16];
    wc_AesGcmSetKey(&aes, key, 16);
    Buf in(16384, 7), out(16384);
    for (auto _ : state) {
        if (wc_AesGcmEncrypt(&aes, out.data(), in.data(), 16384, iv, 12, tag, 16, aad, 13) != 0) {
            state.SkipWithError("gcm failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * 16384);
    wc_AesFree(&aes);
}
BENCHMARK(BM_AesGcm16k)->ArgName("dev")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
