// bench/loadclient.c — minimal large-file HTTP/1.1 (and HTTPS) load client for bench/compare.
//
// wrk reads response bodies 8 KiB at a time and saturates its core long before a good server
// does on multi-megabyte files. This client keeps N keep-alive connections, each repeatedly
// doing `GET PATH` and draining the response into a shared 1 MiB buffer with recv(), from one
// epoll thread, for S seconds. It checks status 200 and Content-Length, and counts body bytes.
//
// With `tls`, it speaks HTTPS (OpenSSL): blocking connect + handshake, then non-blocking
// SSL_read() into the same 1 MiB buffer (one call returns at most one 16 KiB record; read-ahead
// with a 256 KiB socket read buffer keeps the number of recv() calls down). TLS 1.3 and
// TLS_AES_128_GCM_SHA256 by default (VERSION 1.2: CIPHERS is an OpenSSL cipher string); the
// certificate is not verified; SNI is "localhost".
//
//   cc -O2 -o loadclient bench/loadclient.c -lssl -lcrypto
//   loadclient HOST PORT PATH CONNECTIONS SECONDS [tls [VERSION CIPHERS]]
//
// Prints one line of JSON on stdout:
//   {"bytes": N, "responses": N, "errors": N, "seconds": F, "connections": N[, "version": "..",
//    "cipher": ".."]}
// Exit status is 0 unless setup failed. Responses in flight at the deadline count their bytes.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BUF_SIZE = 1 << 20, HDR_MAX = 8192 };

struct conn {
    int fd;
    SSL* ssl;  // NULL: plain HTTP
    int in_body;
    uint64_t remaining;  // body bytes still expected for the current response
    size_t hdr_len;
    char hdr[HDR_MAX + 1];
};

static char req[1024];
static size_t req_len;
static struct sockaddr_in addr;
static int ep;
static uint64_t total_bytes, responses, errors;
static SSL_CTX* ctx;  // non-NULL: HTTPS
static char tls_version[32] = "?", tls_cipher[64] = "?";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_request(struct conn* c) {
    size_t off = 0;
    if (c->ssl) {  // a ~100-byte request on a fresh or drained connection: all or nothing
        if (SSL_write(c->ssl, req, (int)req_len) != (int)req_len) return -1;
        off = req_len;
    }
    while (off < req_len) {
        ssize_t n = send(c->fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;  // EAGAIN on a fresh 100-byte request would mean something is badly off
        }
        off += (size_t)n;
    }
    c->in_body = 0;
    c->hdr_len = 0;
    c->remaining = 0;
    return 0;
}

static int open_conn(struct conn* c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    if (connect(c->fd, (struct sockaddr*)&addr, sizeof addr) < 0) {  // blocking: loopback
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (ctx) {  // blocking handshake, then non-blocking like the plain socket
        c->ssl = SSL_new(ctx);
        if (!c->ssl) goto fail;
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        if (SSL_connect(c->ssl) != 1) {
            fprintf(stderr, "loadclient: TLS handshake failed: ");
            ERR_print_errors_fp(stderr);
            goto fail;
        }
        if (tls_version[0] == '?') {
            snprintf(tls_version, sizeof tls_version, "%s", SSL_get_version(c->ssl));
            snprintf(tls_cipher, sizeof tls_cipher, "%s",
                     SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
        }
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 || send_request(c) < 0) goto fail;
    return 0;
fail:
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    return -1;
}

static void reset_conn(struct conn* c) {
    errors++;
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);  // close() also removes it from the epoll set
    c->fd = -1;
    for (int tries = 0; tries < 50 && open_conn(c) < 0; tries++) usleep(20000);
}

// Parses the header block in c->hdr (NUL-terminated, complete). Returns 0 and sets
// c->remaining, or -1 on a non-200 status or missing Content-Length.
static int parse_header(struct conn* c) {
    int status = 0;
    if (sscanf(c->hdr, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fprintf(stderr, "loadclient: unexpected status line: %.60s\n", c->hdr);
        return -1;
    }
    for (char* line = strstr(c->hdr, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "content-length:", 15) == 0) {
            c->remaining = strtoull(line + 15, NULL, 10);
            return 0;
        }
    }
    fprintf(stderr, "loadclient: response without Content-Length\n");
    return -1;
}

// Consumes n received bytes. Returns -1 if the connection must be reset.
static int consume(struct conn* c, const char* p, size_t n) {
    while (n > 0) {
        if (!c->in_body) {
            size_t take = n < HDR_MAX - c->hdr_len ? n : HDR_MAX - c->hdr_len;
            if (take == 0) return -1;  // header too large
            size_t old = c->hdr_len;
            memcpy(c->hdr + old, p, take);
            c->hdr_len += take;
            c->hdr[c->hdr_len] = '\0';
            char* end = strstr(c->hdr + (old >= 3 ? old - 3 : 0), "\r\n\r\n");
            if (!end) {
                p += take;
                n -= take;
                continue;
            }
            size_t hdr_bytes = (size_t)(end + 4 - c->hdr);
            end[2] = '\0';
            if (parse_header(c) < 0) return -1;
            size_t used = hdr_bytes - old;  // bytes of this chunk that belonged to the header
            p += used;
            n -= used;
            c->in_body = 1;
        }
        size_t body = n < c->remaining ? n : (size_t)c->remaining;
        c->remaining -= body;
        total_bytes += body;
        p += body;
        n -= body;
        if (c->remaining == 0) {
            responses++;
            if (n > 0) return -1;  // we never pipeline: extra bytes are a protocol error
            if (send_request(c) < 0) return -1;
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    if (!(argc == 6 || (argc == 7 && strcmp(argv[6], "tls") == 0) ||
          (argc == 9 && strcmp(argv[6], "tls") == 0))) {
        fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS SECONDS [tls [VERSION CIPHERS]]\n",
                argv[0]);
        return 2;
    }
    if (argc >= 7) {
        signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(), not send(MSG_NOSIGNAL)
        const char* ver = argc == 9 ? argv[7] : "1.3";
        const char* ciphers = argc == 9 ? argv[8] : "TLS_AES_128_GCM_SHA256";
        int v = strcmp(ver, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) return 1;
        SSL_CTX_set_min_proto_version(ctx, v);
        SSL_CTX_set_max_proto_version(ctx, v);
        if (!(v == TLS1_3_VERSION ? SSL_CTX_set_ciphersuites(ctx, ciphers)
                                  : SSL_CTX_set_cipher_list(ctx, ciphers))) {
            fprintf(stderr, "loadclient: bad cipher list %s\n", ciphers);
            return 2;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_read_ahead(ctx, 1);
        SSL_CTX_set_default_read_buffer_len(ctx, 256 << 10);
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "loadclient: bad IPv4 address %s\n", argv[1]);
        return 2;
    }
    int nconns = atoi(argv[4]);
    double seconds = atof(argv[5]);
    if (nconns < 1 || seconds <= 0) return 2;
    req_len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: sluice-bench\r\n\r\n",
                               argv[3], argv[1], argv[2]);

    char* buf = malloc(BUF_SIZE);
    struct conn* conns = calloc((size_t)nconns, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!buf || !conns || ep < 0) return 1;

    double start = now(), deadline = start + seconds;
    for (int i = 0; i < nconns; i++) {
        if (open_conn(&conns[i]) < 0) {
            fprintf(stderr, "loadclient: connect: %s\n", strerror(errno));
            return 1;
        }
    }

    struct epoll_event evs[64];
    double t;
    while ((t = now()) < deadline) {
        int ms = (int)((deadline - t) * 1000) + 1;
        int n = epoll_wait(ep, evs, 64, ms < 100 ? ms : 100);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn* c = evs[i].data.ptr;
            if (c->ssl) {
                // Drain until OpenSSL wants more from the socket: records it already holds
                // (read-ahead) would not wake epoll up again.
                while (c->ssl) {
                    int r = SSL_read(c->ssl, buf, BUF_SIZE);
                    if (r > 0) {
                        if (consume(c, buf, (size_t)r) < 0) reset_conn(c);
                        continue;
                    }
                    int e = SSL_get_error(c->ssl, r);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
                    ERR_clear_error();
                    reset_conn(c);  // EOF or error
                    break;
                }
                continue;
            }
            // Drain until EAGAIN (bounded so one connection cannot starve the others).
            for (int rounds = 0; rounds < 16 && c->fd >= 0; rounds++) {
                ssize_t r = recv(c->fd, buf, BUF_SIZE, 0);
                if (r > 0) {
                    if (consume(c, buf, (size_t)r) < 0) {
                        reset_conn(c);
                        break;
                    }
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
                reset_conn(c);  // EOF or error
                break;
            }
        }
    }
    double elapsed = now() - start;
    printf("{\"bytes\": %llu, \"responses\": %llu, \"errors\": %llu, \"seconds\": %.6f, \"connections\": %d",
           (unsigned long long)total_bytes, (unsigned long long)responses, (unsigned long long)errors,
           elapsed, nconns);
    if (ctx) printf(", \"version\": \"%s\", \"cipher\": \"%s\"", tls_version, tls_cipher);
    printf("}\n");
    return 0;
}
