// bench/floor.c — the "floor": the least a static HTTP/1.1 server can do per request.
//
// Not a server: no file access after startup, no real HTTP parsing. It answers every request
// ("\r\n\r\n"-terminated; no bodies) with a response rendered at startup, so its CPU per request
// is little more than the kernel's own (accept, recv, send, loopback TCP) plus io_uring's. bench/
// compare runs it beside the real servers to show how much of their CPU no server could avoid.
//
//   cc -O2 -Wall -Wextra -o floor bench/floor.c -luring
//   floor HOST PORT FILE [FILE...]
//
// Each FILE is read once and served at "/" + its basename; any other path gets the first FILE
// (`floor HOST PORT FILE` answers everything with FILE): 200, Content-Length, application/
// octet-stream. A request containing "connection: close" (any case) is answered with
// "Connection: close", then SHUT_WR once sent, close on EOF. IPv4 only. One thread, one io_uring:
// multishot accept, multishot recv into a provided-buffer ring, one send in flight per connection.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { NBUF = 1024, BUF_SZ = 4096, BGID = 1, QMAX = 8, PART_MAX = 16384, MAX_FILES = 16 };
enum { OP_ACCEPT, OP_RECV, OP_SEND };  // low bits of user_data (conn* is 8-aligned)

struct resp {          // one FILE's responses, rendered at startup
    char path[256];    // "/" + basename
    size_t plen;
    char* buf[2];      // [0] keep-alive: `reps` copies back to back, so n pipelined requests
    size_t len[2];     //     take one send; [1] with "Connection: close" (wrk needs to see it)
    unsigned reps;
};
static struct resp files[MAX_FILES];
static int nfiles;

struct conn {
    int fd, recv_armed, sending;  // ops in flight: the conn is freed only when both are 0
    int eof;      // the multishot recv has ended (EOF or error): nothing more to read
    int broken;   // an error: drop queued responses, close as soon as nothing is in flight
    int closing;  // saw "Connection: close": ignore later bytes; 2: SHUT_WR done
    int fin;      // the in-flight send is the "Connection: close" answer
    const char* buf;  // in-flight send: buf[off..len), covering `batch` responses
    size_t off, len, plen;
    unsigned batch, qhead, qlen;  // q: FIFO of runs of responses still owed, oldest first
    struct { unsigned file, count; } q[QMAX];  // file: index, + MAX_FILES for the close variant
    char* part;   // plen bytes of a request split across recvs (malloc'd only if that happens)
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* bufs;

static struct io_uring_sqe* get_sqe(void) {
    struct io_uring_sqe* sqe;
    while (!(sqe = io_uring_get_sqe(&ring))) io_uring_submit(&ring);  // SQ full: flush it
    return sqe;
}

static void arm_accept(int lfd) {  // multishot: one SQE accepts every connection
    struct io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, OP_ACCEPT);  // the prep helpers leave user_data as it was
}

static void arm_recv(struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe();
    // Multishot: one SQE keeps delivering data; the kernel picks a buffer from group BGID.
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_RECV);
    c->recv_armed = 1;
}

static void submit_send(struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe();
    // The answer to "Connection: close" goes with MSG_MORE: its last segment waits for the
    // shutdown(SHUT_WR) that follows the completion, and the FIN rides in it (one packet fewer
    // per connection). Not IORING_OP_SHUTDOWN linked behind the send: io_uring hands that to an
    // io-wq worker thread, a context switch per connection on the one CPU.
    io_uring_prep_send(sqe, c->fd, c->buf + c->off, c->len - c->off,
                       MSG_NOSIGNAL | (c->fin ? MSG_MORE : 0));
    io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_SEND);
    c->sending = 1;
}

// Stops the connection: queued responses are dropped; shutdown() ends the pending recv (it
// returns 0) and a pending send (EPIPE), whose CQEs then let maybe_free() close and free.
static void kill_conn(struct conn* c) {
    c->broken = 1;
    c->qlen = 0;
    shutdown(c->fd, SHUT_RDWR);
}

static void maybe_free(struct conn* c) {
    if (c->recv_armed || c->sending) return;
    if (!c->broken && (c->qlen || !c->eof)) return;  // still owes answers, or may get requests
    close(c->fd);
    free(c->part);
    free(c);
}

// Sends the oldest run of owed responses (as many copies as the rendered buffer holds), or,
// when nothing is owed after a "Connection: close" request, shuts the write side down.
// Only one send per connection is ever in flight: two could interleave their bytes.
static void start_send(struct conn* c) {
    if (c->sending || c->broken) return;
    if (!c->qlen && c->closing == 1) shutdown(c->fd, SHUT_WR), c->closing = 2;
    if (!c->qlen) return;
    unsigned id = c->q[c->qhead].file, n = c->q[c->qhead].count, v = id / MAX_FILES;
    struct resp* r = &files[id % MAX_FILES];
    c->batch = v ? 1 : n < r->reps ? n : r->reps;
    c->buf = r->buf[v], c->off = 0, c->len = (size_t)c->batch * r->len[v], c->fin = (int)v;
    submit_send(c);
}

static int route(const char* p, size_t n) {  // request line "METHOD SP /path[?query] SP ..."
    const char* t = memchr(p, ' ', n);
    if (!t) return 0;
    const char *e = ++t, *end = p + n;
    while (e < end && *e != ' ' && *e != '?' && *e != '\r') e++;
    for (int i = 0; i < nfiles; i++)
        if ((size_t)(e - t) == files[i].plen && !memcmp(t, files[i].path, files[i].plen)) return i;
    return 0;
}

static int has_ci(const char* p, size_t n, const char* needle) {  // case-insensitive memmem
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if ((p[i] | 0x20) == needle[0] && !strncasecmp(p + i, needle, m)) return 1;
    return 0;
}

static void on_request(struct conn* c, const char* p, size_t n) {
    unsigned f = route(p, n);
    if (has_ci(p, n, "connection: close")) f += MAX_FILES, c->closing = 1;  // the last one
    unsigned tail = (c->qhead + c->qlen - 1) % QMAX;
    if (c->qlen && c->q[tail].file == f) c->q[tail].count++;  // same as the last: extend run
    else if (c->qlen == QMAX) kill_conn(c);  // QMAX alternating runs pipelined: not supported
    else tail = (c->qhead + c->qlen++) % QMAX, c->q[tail].file = f, c->q[tail].count = 1;
}

static void on_data(struct conn* c, const char* p, size_t n) {
    if (c->closing || c->broken) return;
    if (c->plen) {  // the previous recv ended mid-request: join it with these bytes
        if (c->plen + n > PART_MAX) { kill_conn(c); return; }
        memcpy(c->part + c->plen, p, n);
        p = c->part;
        n = c->plen += n;
    }
    for (const char* end; !c->closing && !c->broken && (end = memmem(p, n, "\r\n\r\n", 4));) {
        size_t len = (size_t)(end + 4 - p);  // one complete request
        on_request(c, p, len), p += len, n -= len;
    }
    if (c->broken) return;
    if (c->closing) n = 0;  // bytes after a "Connection: close" request are ignored
    if (n && (n > PART_MAX || (!c->part && !(c->part = malloc(PART_MAX))))) kill_conn(c);
    else if ((c->plen = n)) memmove(c->part, p, n);
    start_send(c);  // returns at once if broken
}

static void on_cqe(struct io_uring_cqe* cqe, int lfd) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    struct conn* c = (struct conn*)(uintptr_t)(ud & ~(uint64_t)7);
    int res = cqe->res, more = cqe->flags & IORING_CQE_F_MORE;
    switch (ud & 7) {
    case OP_ACCEPT:
        if (!more) arm_accept(lfd);  // the multishot accept ended (e.g. EMFILE): re-arm
        if (res < 0) { fprintf(stderr, "floor: accept: %s\n", strerror(-res)); return; }
        int one = 1;  // responses go out in one send each; don't let Nagle hold the next
        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!(c = calloc(1, sizeof *c))) { close(res); return; }
        c->fd = res;
        arm_recv(c);
        return;
    case OP_RECV:
        if (!more) c->recv_armed = 0;
        if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
            unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            on_data(c, bufs + (size_t)bid * BUF_SZ, (size_t)res);
            // Parsed (or copied to c->part): hand the buffer straight back to the kernel.
            io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SZ, BUF_SZ, bid,
                                  io_uring_buf_ring_mask(NBUF), 0);
            io_uring_buf_ring_advance(br, 1);
            if (!more && !c->broken) arm_recv(c);
        } else if (res == -ENOBUFS && !c->broken) {
            arm_recv(c);  // every buffer was in use at once: try again
        } else if (!more) {
            c->eof = 1;  // EOF or error: answer what was asked, then close
            if (res < 0) kill_conn(c);
        }
        maybe_free(c);
        return;
    case OP_SEND:
        c->sending = 0;
        if (res <= 0 || c->broken) {
            kill_conn(c);
        } else if ((c->off += (size_t)res) < c->len) {
            submit_send(c);  // partial send (socket buffer full): the rest, before anything else
        } else {
            if (!(c->q[c->qhead].count -= c->batch)) c->qhead = (c->qhead + 1) % QMAX, c->qlen--;
            start_send(c);  // the next run, or SHUT_WR after a "Connection: close" answer
        }
        maybe_free(c);
        return;
    }
}

static int fail(const char* what, const char* arg, int err) {
    fprintf(stderr, "floor: %s%s: %s\n", what, arg, strerror(err));
    return 1;
}

static int load(const char* name, struct resp* r) {
    FILE* f = fopen(name, "rb");
    long size = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    const char* base = strrchr(name, '/');
    snprintf(r->path, sizeof r->path, "/%s", base ? base + 1 : name);
    r->plen = strlen(r->path);
    for (int v = 0; v < 2 && size >= 0; v++) {
        char hdr[160];
        int h = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n"
                         "Content-Type: application/octet-stream\r\n%s\r\n", size,
                         v ? "Connection: close\r\n" : "");
        r->len[v] = (size_t)h + (size_t)size;
        unsigned reps = v || r->len[v] >= 65536 / 2 ? 1 : (unsigned)(65536 / r->len[v]);
        if (!v) r->reps = reps;
        if (!(r->buf[v] = malloc(r->len[v] * reps))) return -1;
        memcpy(r->buf[v], hdr, (size_t)h);
        rewind(f);
        if (fread(r->buf[v] + h, 1, (size_t)size, f) != (size_t)size) return -1;
        for (unsigned i = 1; i < reps; i++) memcpy(r->buf[v] + i * r->len[v], r->buf[v], r->len[v]);
    }
    return size >= 0 ? fclose(f) : -1;
}

int main(int argc, char** argv) {
    if (argc < 4 || argc - 3 > MAX_FILES) {
        fprintf(stderr, "usage: floor HOST PORT FILE [FILE...] (at most %d files)\n", MAX_FILES);
        return 2;
    }
    for (nfiles = 0; nfiles < argc - 3; nfiles++)
        if (load(argv[3 + nfiles], &files[nfiles]))
            return fail("read ", argv[3 + nfiles], errno ? errno : EIO);
    struct rlimit rl;  // up to ~20,000 connections: raise the soft fd limit to the hard one
    if (!getrlimit(RLIMIT_NOFILE, &rl)) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Accept a connection only once its first bytes are in: accept and request arrive together,
    // one wake-up of this thread instead of two (a wake-up on loopback is paid by the client).
    int defer_s = 10;
    setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof defer_s);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
        bind(lfd, (struct sockaddr*)&sa, sizeof sa) || listen(lfd, 4096))
        return fail("listen on ", argv[1], errno ? errno : EINVAL);

    // One thread submits everything, and task work runs only when we wait for completions:
    // the cheapest io_uring mode (kernel >= 6.1). Older kernels refuse it: plain flags then.
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                         IORING_SETUP_CQSIZE, .cq_entries = 16384};
    int ret = io_uring_queue_init_params(4096, &ring, &p);
    if (ret == -EINVAL) {
        p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = 16384};
        ret = io_uring_queue_init_params(4096, &ring, &p);
    }
    if (ret < 0) return fail("io_uring", "", -ret);

    // Provided-buffer ring (liburing 2.3 has no io_uring_setup_buf_ring: map and register it).
    br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
              MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    bufs = malloc((size_t)NBUF * BUF_SZ);
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
    if (br == MAP_FAILED || !bufs || (ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
        return fail("buffer ring", "", ret < 0 ? -ret : ENOMEM);
    io_uring_buf_ring_init(br);
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SZ, BUF_SZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);

    arm_accept(lfd);
    for (;;) {
        ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
            return fail("io_uring_submit_and_wait", "", -ret);
        struct io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe) on_cqe(cqe, lfd), n++;
        io_uring_cq_advance(&ring, n);  // one store for the whole batch of CQEs
    }
}
