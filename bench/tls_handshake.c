// bench/tls_handshake.c — TLS load client for bench/compare: handshake rate and idle connections
// (HTTP/1.1, or HTTP/2 set up and left idle).
//
// One epoll thread, non-blocking sockets, OpenSSL. The client offers only what bench/compare
// asks for (TLS 1.3 + TLS_AES_128_GCM_SHA256 by default), does not verify the certificate
// (the CertificateVerify signature is still checked: that is part of the protocol), sends
// SNI "localhost".
//
//   cc -O2 -o tls_handshake bench/tls_handshake.c -lssl -lcrypto
//
//   tls_handshake hs   HOST PORT PATH CONCURRENCY SECONDS [full|resume] [VERSION CIPHERS]
//       CONCURRENCY connections in flight; each iteration: TCP connect, TLS handshake,
//       `GET PATH` with "Connection: close", read the whole response, close. For S seconds.
//       full (default): a new SSL for every connection, no session cache, no tickets
//       (SSL_OP_NO_TICKET, SSL_SESS_CACHE_OFF, never SSL_set_session): every handshake is a
//       full one. resume: each slot keeps the newest session (ticket) the server sent and
//       offers it on its next connection.
//       Prints one JSON line: {"handshakes": N, "full": N, "resumed": N, "errors": N,
//       "seconds": F, "bytes": N, "version": "...", "cipher": "...", "group": "..."}.
//       `handshakes` counts completed iterations (handshake + full response) only.
//
//   tls_handshake idle HOST PORT PATH N [VERSION CIPHERS]
//       Opens 1 connection (handshake + one keep-alive `GET PATH`, response read), prints
//       {"phase": "baseline", ...} and waits for a line on stdin; then opens N more the same
//       way (128 in flight at a time), prints {"phase": "idle", "open": N+1, ...} and waits
//       for a line on stdin while all of them sit idle; then checks how many the server closed
//       meanwhile, prints {"phase": "done", "still_open": K, ...} and exits. The SSL objects
//       are freed (without close_notify) once a connection is idle: only the sockets stay, so
//       the client itself stays small. Raises RLIMIT_NOFILE to its hard limit.
//
//   tls_handshake h2idle HOST PORT N [VERSION CIPHERS]
//       As idle, but each connection offers ALPN "h2" only (a server that selects anything
//       else, or nothing, fails the connection) and, instead of a request, does the HTTP/2
//       connection setup: the client sends the preface and its SETTINGS (ENABLE_PUSH 0,
//       MAX_CONCURRENT_STREAMS 100), reads until it has both the server's SETTINGS (which it
//       acknowledges) and the server's ACK of its own, ignoring other frames (WINDOW_UPDATE...);
//       a GOAWAY fails the connection. No stream is opened. Then the connection is idle.
//
// VERSION is 1.3 or 1.2; CIPHERS is an OpenSSL TLS 1.3 ciphersuite list (VERSION 1.3) or a
// cipher string (1.2). Default: 1.3 TLS_AES_128_GCM_SHA256.
// Exit status 0 unless setup failed or nothing at all succeeded.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HDR_MAX = 8192, BUF_SIZE = 64 << 10, IDLE_WINDOW = 128 };
enum { S_FREE, S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_IDLE, S_H2ACK };
enum { H2_SETTINGS = 1, H2_ACKED = 2 };  // conn.h2: server SETTINGS seen, our SETTINGS acked

struct conn {
    int fd;
    int state;
    SSL* ssl;
    SSL_SESSION* session;  // resume mode: newest session received on this slot
    int in_body;
    int h2;  // h2idle: H2_* bits
    uint64_t remaining;
    size_t hdr_len;
    char hdr[HDR_MAX + 1];
};

static SSL_CTX* ctx;
static struct sockaddr_in addr;
static int ep;
static int resume_mode;
static int h2_mode;  // h2idle
// h2idle: the client connection preface, then a SETTINGS frame (ENABLE_PUSH 0,
// MAX_CONCURRENT_STREAMS 100); and a SETTINGS ACK.
static const char h2_preface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    "\x00\x00\x0c\x04\x00\x00\x00\x00\x00"
    "\x00\x02\x00\x00\x00\x00"
    "\x00\x03\x00\x00\x00\x64";
static const char h2_settings_ack[] = "\x00\x00\x00\x04\x01\x00\x00\x00\x00";
static char req[1024];
static size_t req_len;
static char buf[BUF_SIZE];
static uint64_t n_done, n_full, n_resumed, n_errors, n_bytes;
static char version[32] = "?", cipher[64] = "?", group[32] = "?", alpn[32] = "?";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int new_session_cb(SSL* ssl, SSL_SESSION* sess) {
    struct conn* c = SSL_get_app_data(ssl);
    if (!c) return 0;
    if (c->session) SSL_SESSION_free(c->session);
    c->session = sess;
    return 1;  // we keep the reference
}

static void drop(struct conn* c, int keep_fd, int clean) {
    if (c->ssl) {
        SSL_set_app_data(c->ssl, NULL);
        // Without this, SSL_free marks the session not resumable (an "unclean" close). No
        // close_notify is sent either way.
        if (clean) SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->ssl);  // no SSL_shutdown: no close_notify is sent
        c->ssl = NULL;
    }
    if (!keep_fd && c->fd >= 0) {
        close(c->fd);  // also leaves the epoll set
        c->fd = -1;
    }
    c->state = keep_fd ? S_IDLE : S_FREE;
}

static int start(struct conn* c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = S_CONNECT;
    c->in_body = 0;
    c->h2 = 0;
    c->hdr_len = 0;
    c->remaining = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (connect(c->fd, (struct sockaddr*)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;  // epoll reports EPOLLOUT once connected (or the error)
}

static int parse_header(struct conn* c) {
    int status = 0;
    if (sscanf(c->hdr, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fprintf(stderr, "tls_handshake: unexpected status line: %.60s\n", c->hdr);
        return -1;
    }
    for (char* line = strstr(c->hdr, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "content-length:", 15) == 0) {
            c->remaining = strtoull(line + 15, NULL, 10);
            return 0;
        }
    }
    fprintf(stderr, "tls_handshake: response without Content-Length\n");
    return -1;
}

// Returns 1 when the response is complete, 0 if more is needed, -1 on a protocol error.
static int consume(struct conn* c, const char* p, size_t n) {
    if (!c->in_body) {
        size_t take = n < HDR_MAX - c->hdr_len ? n : HDR_MAX - c->hdr_len;
        if (take == 0) return -1;
        size_t old = c->hdr_len;
        memcpy(c->hdr + old, p, take);
        c->hdr_len += take;
        c->hdr[c->hdr_len] = '\0';
        char* end = strstr(c->hdr + (old >= 3 ? old - 3 : 0), "\r\n\r\n");
        if (!end) return 0;
        size_t used = (size_t)(end + 4 - c->hdr) - old;
        end[2] = '\0';
        if (parse_header(c) < 0) return -1;
        c->in_body = 1;
        p += used;
        n -= used;
    }
    if (n > c->remaining) return -1;  // no pipelining: extra bytes are an error
    c->remaining -= n;
    n_bytes += n;
    return c->remaining == 0 ? 1 : 0;
}

// h2idle: takes n bytes of the server's HTTP/2 stream (frames, buffered in c->hdr until whole).
// Returns -1 on GOAWAY or an oversized frame, else 0; sets c->h2 bits and *ack when a SETTINGS
// (not an ACK) arrived and must be acknowledged.
static int h2_consume(struct conn* c, const char* p, size_t n, int* ack) {
    while (n > 0) {
        size_t take = n < HDR_MAX - c->hdr_len ? n : HDR_MAX - c->hdr_len;
        memcpy(c->hdr + c->hdr_len, p, take);
        c->hdr_len += take;
        p += take;
        n -= take;
        const unsigned char* f = (const unsigned char*)c->hdr;
        while (c->hdr_len >= 9) {
            size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
            if (len + 9 > HDR_MAX) {
                fprintf(stderr, "tls_handshake: h2 frame of type %u too large (%zu)\n", f[3], len);
                return -1;
            }
            if (c->hdr_len < len + 9) break;
            if (f[3] == 0x7) {  // GOAWAY
                fprintf(stderr, "tls_handshake: h2 GOAWAY from the server\n");
                return -1;
            }
            if (f[3] == 0x4 && (f[4] & 0x1)) c->h2 |= H2_ACKED;
            else if (f[3] == 0x4) c->h2 |= H2_SETTINGS, *ack = 1;
            memmove(c->hdr, c->hdr + len + 9, c->hdr_len - len - 9);
            c->hdr_len -= len + 9;
        }
        if (c->hdr_len == HDR_MAX) return -1;
    }
    return 0;
}

static void record_params(SSL* ssl) {
    if (version[0] != '?') return;
    snprintf(version, sizeof version, "%s", SSL_get_version(ssl));
    snprintf(cipher, sizeof cipher, "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
    int nid = SSL_get_negotiated_group(ssl);
    const char* g = nid > 0 ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : NULL;
    snprintf(group, sizeof group, "%s", g ? g : "?");
    const unsigned char* a = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(ssl, &a, &alen);
    snprintf(alpn, sizeof alpn, "%.*s", a ? (int)alen : 4, a ? (const char*)a : "none");
}

// Advances the connection as far as it can go. Returns 1 when the response has been read,
// 0 when it has to wait for the socket, -1 on failure.
static int drive(struct conn* c) {
    for (;;) {
        switch (c->state) {
        case S_CONNECT: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return -1;
            c->ssl = SSL_new(ctx);
            if (!c->ssl) return -1;
            SSL_set_app_data(c->ssl, c);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_tlsext_host_name(c->ssl, "localhost");
            if (resume_mode && c->session) SSL_set_session(c->ssl, c->session);
            SSL_set_connect_state(c->ssl);
            c->state = S_HANDSHAKE;
            break;
        }
        case S_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                return -1;
            }
            if (SSL_session_reused(c->ssl)) n_resumed++;
            else n_full++;
            record_params(c->ssl);
            if (h2_mode) {
                const unsigned char* a = NULL;
                unsigned alen = 0;
                SSL_get0_alpn_selected(c->ssl, &a, &alen);
                if (alen != 2 || memcmp(a, "h2", 2) != 0) {
                    static int told;
                    if (!told++)
                        fprintf(stderr, "tls_handshake: the server did not select ALPN h2 "
                                        "(selected: %.*s)\n", a ? (int)alen : 4,
                                a ? (const char*)a : "none");
                    return -1;
                }
            }
            c->state = S_WRITE;
            break;
        }
        case S_WRITE: {
            int r = SSL_write(c->ssl, req, (int)req_len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                return -1;
            }
            c->state = S_READ;
            break;
        }
        case S_READ: {
            int r = SSL_read(c->ssl, buf, BUF_SIZE);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                return -1;  // EOF or error before the end of the response
            }
            if (h2_mode) {
                int ack = 0;
                if (h2_consume(c, buf, (size_t)r, &ack) < 0) return -1;
                if (ack) c->state = S_H2ACK;
                else if (c->h2 == (H2_SETTINGS | H2_ACKED)) return 1;
                break;
            }
            int done = consume(c, buf, (size_t)r);
            if (done != 0) return done;
            break;
        }
        case S_H2ACK: {  // 9 bytes: all or nothing
            int r = SSL_write(c->ssl, h2_settings_ack, sizeof h2_settings_ack - 1);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
                return -1;
            }
            if (c->h2 == (H2_SETTINGS | H2_ACKED)) return 1;
            c->state = S_READ;
            break;
        }
        default:
            return -1;
        }
    }
}

static void setup_ctx(const char* ver, const char* ciphers) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) exit(1);
    int v = strcmp(ver, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, v);
    SSL_CTX_set_max_proto_version(ctx, v);
    int ok = v == TLS1_3_VERSION ? SSL_CTX_set_ciphersuites(ctx, ciphers)
                                 : SSL_CTX_set_cipher_list(ctx, ciphers);
    if (!ok) {
        fprintf(stderr, "tls_handshake: bad cipher list %s\n", ciphers);
        exit(2);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (h2_mode && SSL_CTX_set_alpn_protos(ctx, (const unsigned char*)"\x02h2", 3) != 0) exit(1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (resume_mode) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
}

static void print_params(void) {
    printf("\"version\": \"%s\", \"cipher\": \"%s\", \"group\": \"%s\"", version, cipher, group);
    if (h2_mode) printf(", \"alpn\": \"%s\"", alpn);
}

static int run_hs(int conc, double seconds) {
    struct conn* conns = calloc((size_t)conc, sizeof *conns);
    if (!conns) return 1;
    double t0 = now(), deadline = t0 + seconds;
    for (int i = 0; i < conc; i++) {
        conns[i].fd = -1;
        if (start(&conns[i]) < 0) {
            perror("tls_handshake: socket/connect");
            return 1;
        }
    }
    struct epoll_event evs[256];
    double t;
    while ((t = now()) < deadline) {
        int ms = (int)((deadline - t) * 1000) + 1;
        int n = epoll_wait(ep, evs, 256, ms < 100 ? ms : 100);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn* c = evs[i].data.ptr;
            if (c->state == S_FREE) continue;
            int r = drive(c);
            if (r == 0) continue;
            if (r > 0) n_done++;
            else n_errors++;
            drop(c, 0, r > 0);
            if (r < 0 && n_errors > 1000 && n_done == 0) {
                fprintf(stderr, "tls_handshake: 1000 failures and no success; last: ");
                ERR_print_errors_fp(stderr);
                return 1;
            }
            if (now() < deadline && start(c) < 0) n_errors++;
        }
    }
    double elapsed = now() - t0;
    printf("{\"handshakes\": %llu, \"full\": %llu, \"resumed\": %llu, \"errors\": %llu, "
           "\"seconds\": %.6f, \"bytes\": %llu, \"concurrency\": %d, \"mode\": \"%s\", ",
           (unsigned long long)n_done, (unsigned long long)n_full, (unsigned long long)n_resumed,
           (unsigned long long)n_errors, elapsed, (unsigned long long)n_bytes, conc,
           resume_mode ? "resume" : "full");
    print_params();
    printf("}\n");
    return n_done ? 0 : 1;
}

// Opens conns[from..to) with at most IDLE_WINDOW in flight; returns how many completed.
static long open_idle(struct conn* conns, long from, long to) {
    long next = from, inflight = 0, ok = 0;
    struct epoll_event evs[256];
    while (next < to || inflight > 0) {
        while (next < to && inflight < IDLE_WINDOW) {
            if (start(&conns[next]) < 0) {
                fprintf(stderr, "tls_handshake: socket/connect #%ld: %s\n", next, strerror(errno));
                n_errors++;
                if (errno == EMFILE || errno == ENFILE) return ok;
            } else {
                inflight++;
            }
            next++;
        }
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n == 0) {
            fprintf(stderr, "tls_handshake: %ld connections stalled for 10 s\n", inflight);
            return ok;
        }
        for (int i = 0; i < n; i++) {
            struct conn* c = evs[i].data.ptr;
            if (c->state == S_FREE || c->state == S_IDLE) continue;
            int r = drive(c);
            if (r == 0) continue;
            inflight--;
            if (r > 0) {
                ok++;
                n_done++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                drop(c, 1, 1);  // keep the socket, free the SSL
            } else {
                n_errors++;
                unsigned long e = ERR_get_error();
                if (n_errors <= 3)
                    fprintf(stderr, "tls_handshake: connection failed: %s\n",
                            e ? ERR_error_string(e, NULL) : strerror(errno));
                ERR_clear_error();
                drop(c, 0, 0);
            }
        }
    }
    return ok;
}

static void wait_line(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return;  // EOF: go on
}

static int run_idle(long n) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur < n + 16)
        fprintf(stderr, "tls_handshake: RLIMIT_NOFILE %llu < %ld connections\n",
                (unsigned long long)rl.rlim_cur, n + 1);
    struct conn* conns = calloc((size_t)n + 1, sizeof *conns);
    if (!conns) return 1;
    for (long i = 0; i <= n; i++) conns[i].fd = -1;
    double t0 = now();
    if (open_idle(conns, 0, 1) != 1) {
        fprintf(stderr, "tls_handshake: the first connection failed\n");
        return 1;
    }
    printf("{\"phase\": \"baseline\", \"open\": 1, ");
    print_params();
    printf("}\n");
    fflush(stdout);
    wait_line();
    t0 = now();
    long ok = open_idle(conns, 1, n + 1);
    double elapsed = now() - t0;
    printf("{\"phase\": \"idle\", \"open\": %ld, \"errors\": %llu, \"full\": %llu, "
           "\"resumed\": %llu, \"seconds\": %.3f}\n",
           ok + 1, (unsigned long long)n_errors, (unsigned long long)n_full,
           (unsigned long long)n_resumed, elapsed);
    fflush(stdout);
    wait_line();
    long still = 0;
    for (long i = 0; i <= n; i++) {
        if (conns[i].state != S_IDLE) continue;
        char b;
        ssize_t r = recv(conns[i].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) still++;
    }
    printf("{\"phase\": \"done\", \"still_open\": %ld}\n", still);
    fflush(stdout);
    return 0;
}

int main(int argc, char** argv) {
    int hs = strcmp(argc > 1 ? argv[1] : "", "hs") == 0 && (argc == 7 || argc == 8 || argc == 10);
    int idle = strcmp(argc > 1 ? argv[1] : "", "idle") == 0 && (argc == 6 || argc == 8);
    h2_mode = strcmp(argc > 1 ? argv[1] : "", "h2idle") == 0 && (argc == 5 || argc == 7);
    const char *ver = "1.3", *ciphers = "TLS_AES_128_GCM_SHA256";
    if (hs && argc >= 8) {
        if (strcmp(argv[7], "resume") == 0) resume_mode = 1;
        else if (strcmp(argv[7], "full") != 0) hs = 0;
    }
    if (hs && argc == 10) ver = argv[8], ciphers = argv[9];
    if (idle && argc == 8) ver = argv[6], ciphers = argv[7];
    if (h2_mode && argc == 7) ver = argv[5], ciphers = argv[6];
    if (!hs && !idle && !h2_mode) {
        fprintf(stderr,
                "usage: %s hs HOST PORT PATH CONCURRENCY SECONDS [full|resume] [VERSION CIPHERS]\n"
                "       %s idle HOST PORT PATH N [VERSION CIPHERS]\n"
                "       %s h2idle HOST PORT N [VERSION CIPHERS]\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) {
        fprintf(stderr, "tls_handshake: bad IPv4 address %s\n", argv[2]);
        return 2;
    }
    if (h2_mode) {
        req_len = sizeof h2_preface - 1;
        memcpy(req, h2_preface, req_len);
    } else {
        req_len = (size_t)snprintf(req, sizeof req,
                                   "GET %s HTTP/1.1\r\nHost: localhost:%s\r\nUser-Agent: sluice-bench\r\n%s\r\n",
                                   argv[4], argv[3], hs ? "Connection: close\r\n" : "");
    }
    setup_ctx(ver, ciphers);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return 1;
    if (hs) {
        int conc = atoi(argv[5]);
        double seconds = atof(argv[6]);
        if (conc < 1 || seconds <= 0) return 2;
        return run_hs(conc, seconds);
    }
    long n = atol(argv[h2_mode ? 4 : 5]);
    if (n < 1) return 2;
    return run_idle(n);
}
