#!/usr/bin/env python3
"""Handshake robustness (issue 9): TLS handshakes aborted at every step, and the handshake and
first-request timeouts.

Aborts: 2,000 handshakes (600 on a sanitizer build) by 48 concurrent client threads, each cut
at a random step: after the TCP connect with nothing sent, inside the ClientHello, right after
it, after part or all of the server's first flight, after a garbage / bit-flipped / truncated
second flight, after the client Finished, after the Finished plus half a request; closed by
FIN or, for a random half, by RST (SO_LINGER 0). TLS 1.2 and 1.3, ECDSA and RSA certificates.
The clients are python ssl.SSLObjects over MemoryBIOs, so every byte is a real handshake's and
the client can stop anywhere. Afterwards the server must be alive and serve HTTPS and HTTP, be
back at its fd, socket and (release build) RSS baseline, and its counters must add up.

Sanitizer builds run the same scenario smaller; the server is stopped with SIGTERM and must
exit 0, so a LeakSanitizer report at exit (tools/test runs build-asan with detect_leaks=1)
fails the test, and any sanitizer report in its stderr fails it too.

Every aborted handshake is counted: handshakes ok + failed = TLS connections accepted, also
when an RST ends them. A bad second flight (unknown record type, a wrong handshake message) gets
the RFC's alert (unexpected_message) before the close.

Timeouts: with --handshake-timeout 1 a client that stalls inside the handshake (after its
ClientHello, inside it, after a truncated second flight) is closed within 1-1.6 s (deadlines
are checked on a 250 ms tick) and counted as a handshake failure and a handshake timeout, not
as a header timeout. With --header-timeout 1 a client that completes the handshake and sends
nothing (or half a request) is closed at ~1 s and counted as a header timeout.

Reproduce a run: SLUICE_ABORT_SEED=<seed printed by the test>.
"""

import collections
import concurrent.futures
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import build_request, write  # noqa: E402

BODY = b'aborts\n' * 30
RSA_NAME = 'rsa.test'      # the RSA certificate's only name: SNI picks it for both versions

# Counter names (src/obs/counters.cc; the handshake-timeout one per docs/hostile-peers.md).
C_ACCEPTED = 'sluice_server_connections_accepted_total'
C_CLOSED = 'sluice_server_connections_closed_total'
C_ACTIVE = 'sluice_server_connections_active'
C_HS_OK = 'sluice_tls_handshakes_ok_total'
C_HS_FAILED = 'sluice_tls_handshakes_failed_total'
C_HS_TIMEOUTS = 'sluice_tls_handshake_timeouts_total'
C_T_HEADER = 'sluice_server_timeouts_header_total'
C_T_KEEPALIVE = 'sluice_server_timeouts_keepalive_total'

SANITIZER_MARKS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                   'SUMMARY: AddressSanitizer', 'SUMMARY: UndefinedBehaviorSanitizer')


def populate(root, tmp=None):
    write(os.path.join(root, 'a.txt'), BODY)


def sanitized_binary():
    """True for an ASan build (its runtime symbols are in the binary); see test_tls_robust."""
    with open(harness.require_binary(), 'rb') as f:
        return b'__asan_init' in f.read()


def certs():
    return [tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec'),
            tls_certs.make_cert(RSA_NAME, kind='rsa')]


_CTX = {}
_CTX_LOCK = threading.Lock()
SNI = {'ec': 'localhost', 'rsa': RSA_NAME}
CIPHERS_12 = {
    'ec': 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:'
          'ECDHE-ECDSA-CHACHA20-POLY1305',
    'rsa': 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:'
           'ECDHE-RSA-CHACHA20-POLY1305',
}


def context(version, kind):
    """One client context per (version, certificate kind), shared by the threads."""
    with _CTX_LOCK:
        k = (version, kind)
        if k not in _CTX:
            _CTX[k] = tls_certs.client_context(
                version=version, ciphers=CIPHERS_12[kind] if version == '1.2' else None)
        return _CTX[k]


def counters(server, timeout=5.0):
    """SIGUSR1, then the counters block it printed to stderr, as {name: int}."""
    before = len(server.stderr())
    server.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.stderr()[before:]
        if C_ACCEPTED in text and 'sluice_ktls_diag_failed_total' in text and \
                text.endswith('\n'):
            return {m.group(1): int(m.group(2))
                    for m in re.finditer(r'^(sluice_\w+) (\d+)$', text, re.M)}
        time.sleep(0.05)
    raise AssertionError('no counters on stderr within %.0f s of SIGUSR1' % timeout)


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


# --------------------------------------------------------------------------------------------
# A TLS client over MemoryBIOs on a raw socket: stops at any step
# --------------------------------------------------------------------------------------------

class Aborted(Exception):
    """The server closed while the client still expected handshake bytes."""


class Client:
    def __init__(self, port, version, kind, timeout=10.0):
        self.version = version
        self.kind = kind
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context(version, kind).wrap_bio(self.inc, self.out,
                                                   server_hostname=SNI[kind])
        self.done = False
        self.t_connected = time.monotonic()

    def step(self):
        """One do_handshake; True when the client side of the handshake is complete."""
        if not self.done:
            try:
                self.obj.do_handshake()
                self.done = True
            except ssl.SSLWantReadError:
                pass
        return self.done

    def pending_output(self):
        return self.out.read()

    def client_hello(self):
        self.step()
        ch = self.pending_output()
        if len(ch) < 100 or ch[0] != 0x16:
            raise AssertionError('not a ClientHello: %r' % ch[:16])
        return ch

    def feed_once(self, n=65536):
        data = self.sock.recv(n)
        if not data:
            raise Aborted('server closed during the handshake (TLS %s, %s)'
                          % (self.version, self.kind))
        self.inc.write(data)
        return data

    def read_first_flight(self):
        """Reads the server's flight until the client has its second flight to send (TLS 1.2:
        ClientKeyExchange, ChangeCipherSpec, Finished; TLS 1.3: Finished); returns it."""
        while True:
            self.step()
            if self.out.pending:
                return self.pending_output()
            self.feed_once()

    def finish_12(self):
        """TLS 1.2, after the second flight went out: the server's ChangeCipherSpec and
        Finished."""
        while not self.step():
            self.feed_once()

    def handshake(self):
        """The whole handshake; returns when the client's last flight is on the wire."""
        while True:
            done = self.step()
            out = self.pending_output()
            if out:
                self.sock.sendall(out)
            if done:
                return
            self.feed_once()

    def read_plain(self):
        """Decrypts what the BIO holds; (bytes, closed): closed after the peer's close_notify
        (SSLObject.read then returns b'' for good)."""
        data = b''
        try:
            while True:
                got = self.obj.read(65536)
                if not got:
                    return data, True
                data += got
        except ssl.SSLWantReadError:
            return data, False
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return data, True

    def seal(self, data):
        self.obj.write(data)
        return self.pending_output()

    def close(self, rst=False):
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack('ii', 1, 0))
            self.sock.close()
        except OSError:
            pass

    def wait_close(self, timeout):
        """Seconds (since this call) until the server closed, or None; what it sent until
        then is in self.tail."""
        conn = harness.Conn(self.sock)
        t = conn.wait_close(timeout)
        self.tail = conn.buf
        return t

    def alert(self, data):
        """What the client's TLS makes of the server's last bytes: 'nothing', an alert's
        reason ('SSLV3_ALERT_BAD_RECORD_MAC'), or 'other: ...'."""
        if not data:
            return 'nothing'
        self.inc.write(data)
        try:
            if not self.step():
                return 'other: no alert, the handshake wants more'
            self.obj.read(65536)
            return 'other: data, no alert'
        except ssl.SSLError as e:
            return e.reason or str(e)


# --------------------------------------------------------------------------------------------
# One aborted handshake
# --------------------------------------------------------------------------------------------

STEPS = ('connect', 'ch_prefix', 'ch_full', 'flight_part', 'flight_all', 'bad_second',
         'finished', 'finished_half_request')


def plan(rng):
    return {'step': rng.choice(STEPS), 'version': rng.choice(('1.2', '1.3')),
            'kind': rng.choice(('ec', 'rsa')), 'rst': rng.random() < 0.5}


def bad_second_flight(rng, flight):
    """(variant, bytes): junk, the real flight with its last byte (inside the last record's
    AEAD tag) flipped, or a strict prefix of it."""
    variant = rng.choice(('junk', 'flipped', 'truncated'))
    if variant == 'junk':
        # At least a record header whose first byte is no TLS content type (20..24): no reader
        # can wait for more. (Fewer than 5 bytes are waited on like a truncated record.)
        first = rng.choice([b for b in range(256) if not 20 <= b <= 24])
        return variant, bytes([first]) + rng.randbytes(rng.randint(4, 600))
    if variant == 'flipped':
        return variant, flight[:-1] + bytes([flight[-1] ^ (1 << rng.randrange(8))])
    return variant, flight[:rng.randint(1, len(flight) - 1)]


def run_abort(port, p, seed):
    """Runs one plan; returns a dict of what happened (raises on a server misbehaving before
    the abort point: a stall, or a close of a valid handshake)."""
    rng = random.Random(seed)
    c = Client(port, p['version'], p['kind'])
    res = {'sent_finished': False, 'definite_failure': False, 'variant': None}
    try:
        step = p['step']
        if step == 'connect':
            return res
        ch = c.client_hello()
        if step == 'ch_prefix':
            c.sock.sendall(ch[:rng.randint(1, len(ch) - 1)])
            return res
        c.sock.sendall(ch)
        if step == 'ch_full':
            return res
        if step == 'flight_part':
            c.feed_once(rng.randint(1, 3000))
            return res
        flight = c.read_first_flight()
        if step == 'flight_all':
            return res
        if step == 'bad_second':
            variant, data = bad_second_flight(rng, flight)
            res['variant'] = variant
            try:
                c.sock.sendall(data)
            except OSError:
                return res
            if variant != 'truncated' and rng.random() < 0.5:
                # Wait for the server's answer to a second flight that cannot be right: an
                # alert and a close (or a bare close), never a hang.
                t = c.wait_close(5.0)
                if t is None:
                    raise AssertionError('TLS %s %s: the server did not close after a %s '
                                         'second flight' % (p['version'], p['kind'], variant))
                res['definite_failure'] = True
                res['answer'] = 'TLS %s %s -> %s' % (p['version'], variant, c.alert(c.tail))
            return res
        c.sock.sendall(flight)
        res['sent_finished'] = True
        if p['version'] == '1.2' and (step == 'finished_half_request' or rng.random() < 0.5):
            c.finish_12()           # the server's ChangeCipherSpec + Finished
        else:
            c.step()                # TLS 1.3: already complete on the client side
        if step == 'finished':
            return res
        req = build_request('/a.txt')
        if rng.random() < 0.5:
            c.sock.sendall(c.seal(req[:len(req) // 2]))     # a record with half a request
        else:
            rec = c.seal(req)
            c.sock.sendall(rec[:len(rec) // 2])             # half a record of a request
        return res
    finally:
        c.close(rst=p['rst'])


def run_round(port, n, seed, threads=48):
    """n aborts with `threads` concurrent clients; returns (plans, results, errors)."""
    rng = random.Random(seed)
    plans = [plan(rng) for _ in range(n)]
    seeds = [rng.getrandbits(64) for _ in range(n)]
    results = [None] * n
    errors = []

    def one(i):
        try:
            results[i] = run_abort(port, plans[i], seeds[i])
        except Exception as e:   # noqa: BLE001 - collected and reported with the plan
            errors.append((i, plans[i], '%s: %s' % (type(e).__name__, e)))

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(one, range(n)))
    return plans, results, errors


def cycle_buffer_ring(server, requests=4096, conns=32):
    """Plain HTTP keep-alive requests, one recv (one provided buffer) each, enough to take
    every worker's provided-buffer ring (src/server/worker.cc: 1,024 x 4 KiB per worker) once
    round: the ring hands buffers out in FIFO order, so its 4 MiB per worker become resident
    only after 1,024 recvs on that worker, a plateau the aborts alone reach only after some
    2,000 handshakes (measured: VmRSS +9 MiB, then flat)."""
    req = build_request('/a.txt')

    def run(_):
        c = server.connect()
        try:
            for _ in range(requests // conns):
                c.send(req)
                if c.read_response().body != BODY:
                    raise AssertionError('bad body')
        finally:
            c.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=conns) as ex:
        list(ex.map(run, range(conns)))


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def wait_value(fn, target, timeout):
    """Polls fn() until <= target or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    v = fn()
    while v > target and time.monotonic() < deadline:
        time.sleep(0.05)
        v = fn()
    return v


def settle(fn, timeout=3.0, quiet=0.3):
    """Polls fn() until it has not changed for `quiet` s (or timeout); returns it."""
    deadline = time.monotonic() + timeout
    v = fn()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        w = fn()
        if w != v:
            v, since = w, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return v


class Aborts(unittest.TestCase):
    """Thousands of handshakes cut at random steps: nothing leaks, nothing hangs."""

    SANITIZED = sanitized_binary()
    N = 600 if SANITIZED else 2000
    WARMUP = 200 if SANITIZED else 1000
    THREADS = 48
    # RSS margin (release build). The baseline is taken after a warm-up round of 1,000 at the
    # same concurrency and after every provided buffer has been used once (cycle_buffer_ring),
    # so the allocator's arenas, wolfSSL's and libcrypto's caches, the buffer rings and the
    # output buffer pools have grown to about this load's level: 48 connections in flight,
    # each a wolfSSL session of some tens of KiB plus buffers, about 48 x 64 KiB = 3 MiB. The
    # allocator still settles a little in the round under test (glibc arenas fragment, the
    # two workers have one arena each): measured over 11 runs at -0.1 to +2.9 MiB, no trend
    # (a server kept running for 4 more rounds of 2,000 stayed within +0.7 MiB; with a
    # 2,000 warm-up the spread was the same). 6 MiB is twice the worst seen. A leak of
    # 3 KiB per aborted handshake (a wolfSSL session is far more) grows RSS by 6 MiB over
    # 2,000 and fails; the growth is printed. Smaller leaks are LeakSanitizer's job in the
    # build-asan run.
    RSS_MARGIN_KIB = 6 * 1024

    def test_aborted_handshakes(self):
        seed = int(os.environ.get('SLUICE_ABORT_SEED') or random.randrange(1 << 32))
        sys.stdout.write('\nseed %d (SLUICE_ABORT_SEED=%d reproduces the plans)\n'
                         % (seed, seed))
        # Long timeouts: every aborted connection must be cleaned up because the client
        # went away (EOF, RST, a send failing), not because a timer fired.
        s = tls_certs.TlsServer(certs=certs(), populate=populate, access_log='off',
                                args=['--handshake-timeout', '30', '--header-timeout', '30'])
        self.addCleanup(s.cleanup)
        s.start()
        self.check_certificates(s)
        sys.stdout.flush()

        fds_start = settle(s.fd_count)
        socks_start = settle(lambda: harness.socket_fd_count(s.pid))

        # Warm-up round: populates caches and pools (and the provided-buffer rings, all of
        # whose pages a long run touches); then the baseline.
        t0 = time.monotonic()
        _, _, errors = run_round(s.tls_port, self.WARMUP, seed ^ 0x5eed, self.THREADS)
        self.assertEqual(errors, [], 'warm-up: %s' % errors[:10])
        cycle_buffer_ring(s)
        fds0 = wait_value(s.fd_count, fds_start, 5.0)
        socks0 = wait_value(lambda: harness.socket_fd_count(s.pid), socks_start, 5.0)
        self.assertLessEqual(fds0, fds_start, 'fds after warm-up: %s' % s.fd_summary())
        self.assertLessEqual(socks0, socks_start)
        rss0 = settle(lambda: rss_kib(s.pid), timeout=2.0)
        c0 = counters(s)
        sys.stdout.write('warm-up: %d aborts in %.1f s; fds %d, sockets %d, VmRSS %d KiB\n'
                         % (self.WARMUP, time.monotonic() - t0, fds0, socks0, rss0))

        # The round under test.
        t1 = time.monotonic()
        plans, results, errors = run_round(s.tls_port, self.N, seed, self.THREADS)
        elapsed = time.monotonic() - t1
        self.assertTrue(s.alive(), 'sluice died during the aborts:\n%s' % s.stderr()[-3000:])
        self.assertEqual(errors, [], '%d of %d aborted handshakes misbehaved before their '
                         'abort point, e.g.:\n%s' % (len(errors), self.N,
                                                     '\n'.join(map(str, errors[:15]))))

        # Closes are asynchronous (cancels, CQEs, the release after the last one).
        fds1 = wait_value(s.fd_count, fds0, 5.0)
        socks1 = wait_value(lambda: harness.socket_fd_count(s.pid), socks0, 5.0)
        rss1 = rss_kib(s.pid)
        c1 = counters(s)

        by_step = collections.Counter(p['step'] for p in plans)
        answers = collections.Counter(r['answer'] for r in results if r.get('answer'))
        rst = sum(p['rst'] for p in plans)
        definite = sum(1 for r in results if r['definite_failure'])
        finished = sum(1 for r in results if r['sent_finished'])
        silent_rst = sum(1 for p in plans if p['step'] == 'connect' and p['rst'])
        d = {k: delta(c1, c0, k) for k in (C_ACCEPTED, C_CLOSED, C_HS_OK, C_HS_FAILED,
                                            C_HS_TIMEOUTS, C_T_HEADER)}
        sys.stdout.write(
            '%d aborts in %.1f s (%d threads; %d by RST): %s\n'
            'fds %d -> %d, sockets %d -> %d, VmRSS %d -> %d KiB (%+d)\n'
            'counters: accepted %+d, closed %+d, active %d, handshakes ok %+d, failed %+d '
            '(>= %d certain), handshake timeouts %+d, header timeouts %+d; %d sent a '
            'Finished\nanswers to a bad second flight: %s\n'
            % (self.N, elapsed, self.THREADS, rst,
               ', '.join('%s %d' % kv for kv in sorted(by_step.items())),
               fds0, fds1, socks0, socks1, rss0, rss1, rss1 - rss0,
               d[C_ACCEPTED], d[C_CLOSED], c1.get(C_ACTIVE, -1), d[C_HS_OK], d[C_HS_FAILED],
               definite, d[C_HS_TIMEOUTS], d[C_T_HEADER], finished,
               ', '.join('%s %d' % kv for kv in sorted(answers.items()))))
        sys.stdout.flush()

        # A fatal alert, then the close (docs/hostile-peers.md; RFC 8446 §5, §5.2, §6.2):
        # never a bare close, never anything else.
        odd = [a for a in answers if not re.search(r'-> (SSLV3|TLSV1)_ALERT_', a)]
        self.assertEqual(odd, [], 'answers to a bad second flight: %r' % answers)

        self.assertLessEqual(fds1, fds0, 'fd growth %d -> %d (%s)'
                             % (fds0, fds1, s.fd_summary()))
        self.assertLessEqual(socks1, socks0, 'socket growth %d -> %d' % (socks0, socks1))
        if self.SANITIZED:
            # ASan's quarantine keeps freed memory resident by design; the release build
            # checks RSS, LeakSanitizer checks leaks at exit here.
            sys.stdout.write('RSS bound not checked: sanitizer build\n')
        else:
            self.assertLess(rss1 - rss0, self.RSS_MARGIN_KIB,
                            'VmRSS grew %d KiB over %d aborted handshakes'
                            % (rss1 - rss0, self.N))

        # Counters. A connection closed before TCP_DEFER_ACCEPT handed it over (connect,
        # nothing sent, RST) is never accepted; every other one is, and all are closed.
        self.assertLessEqual(d[C_ACCEPTED], self.N)
        self.assertGreaterEqual(d[C_ACCEPTED], self.N - silent_rst)
        self.assertEqual(d[C_CLOSED], d[C_ACCEPTED], 'accepted and closed differ: %r' % d)
        self.assertEqual(c1.get(C_ACTIVE), 0, 'connections still active: %r' % c1)
        self.assertGreaterEqual(d[C_HS_FAILED], definite,
                                'handshakes failed grew by %d, but %d second flights that '
                                'cannot authenticate were answered by a close'
                                % (d[C_HS_FAILED], definite))
        self.assertGreater(d[C_HS_FAILED], 0)
        self.assertLessEqual(d[C_HS_OK], finished,
                             'more handshakes completed than clients sent a Finished')
        self.assertLessEqual(d[C_HS_OK] + d[C_HS_FAILED], d[C_ACCEPTED])
        self.assertEqual(d[C_HS_TIMEOUTS], 0, 'a handshake timeout fired (they are 30 s)')
        self.assertEqual(d[C_T_HEADER], 0, 'a header timeout fired (they are 30 s)')

        # Still serving, both ways, every certificate and version.
        for version in ('1.2', '1.3'):
            for kind in ('ec', 'rsa'):
                r = tls_certs.tls_get(s, '/a.txt', ctx=context(version, kind), sni=SNI[kind])
                self.assertEqual(r.body, BODY, (version, kind))
        self.assertEqual(s.get('/a.txt').body, BODY)

        # A clean exit: a LeakSanitizer report at exit makes it non-zero.
        rc = s.stop(check=False, timeout=20)
        err = s.stderr()
        self.assertEqual(rc, 0, 'sluice exited with %r after SIGTERM:\n%s' % (rc, err[-5000:]))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err, err[-5000:])

    def test_every_aborted_handshake_is_counted(self):
        # A handshake cut short ends as a failed one whatever ends it: an alert, a timeout, a
        # FIN (main counts those) or an RST, so that handshakes ok + failed = TLS connections
        # accepted, and an RST flood shows in the counters.
        s = tls_certs.TlsServer(certs=certs(), populate=populate, access_log='off',
                                args=['--handshake-timeout', '30'])
        self.addCleanup(s.cleanup)
        s.start()
        settle(s.fd_count)
        fds0 = s.fd_count()
        rng = random.Random(1)
        c0 = counters(s)
        n = collections.Counter()
        for step in ('ch_prefix', 'ch_full', 'flight_all'):
            for rst in (False, True):
                for version in ('1.2', '1.3'):
                    for _ in range(5):
                        p = {'step': step, 'version': version, 'kind': 'ec', 'rst': rst}
                        run_abort(s.tls_port, p, rng.getrandbits(64))
                        n['RST' if rst else 'FIN'] += 1
        wait_value(s.fd_count, fds0, 5.0)
        time.sleep(2 * TICK)
        c1 = counters(s)
        d = {k: delta(c1, c0, k) for k in (C_ACCEPTED, C_HS_OK, C_HS_FAILED)}
        sys.stdout.write('\n%d handshakes cut by FIN, %d by RST after the ClientHello began: '
                         '%r\n' % (n['FIN'], n['RST'], d))
        self.assertEqual(d[C_ACCEPTED], n['FIN'] + n['RST'])
        self.assertEqual(d[C_HS_OK], 0)
        self.assertEqual(d[C_HS_FAILED], d[C_ACCEPTED],
                         'of %d handshakes cut short (%d by RST), %d counted as failed'
                         % (d[C_ACCEPTED], n['RST'], d[C_HS_FAILED]))

    def check_certificates(self, s):
        """Each (version, kind) client completes a handshake and gets the right key type."""
        for version in ('1.2', '1.3'):
            for kind in ('ec', 'rsa'):
                c = Client(s.tls_port, version, kind)
                try:
                    c.handshake()
                    info = tls_certs.cert_info(c.obj.getpeercert(binary_form=True))
                    self.assertEqual(info['key'], kind, (version, kind, info['cn']))
                    self.assertEqual(c.obj.version(), 'TLSv' + version)
                    c.sock.sendall(c.seal(build_request('/a.txt', close=True)))
                    data = b''
                    closed = False
                    while not closed:
                        try:
                            got = c.sock.recv(65536)
                        except ConnectionResetError:
                            break
                        if not got:
                            break
                        c.inc.write(got)
                        more, closed = c.read_plain()
                        data += more
                    self.assertTrue(data.endswith(BODY), (version, kind, data[:200]))
                finally:
                    c.close()


class BadSecondFlight(unittest.TestCase):
    """What a client gets for a second flight that cannot be right (the random mix above
    only asks for some alert): the RFC's alert, then the close."""

    # (name, bytes sent in place of the second flight, expected alert per version)
    CASES = [
        ('a record of unknown type 0x63', bytes([0x63, 3, 3, 0, 5]) + b'hello',
         # RFC 8446 §5, RFC 5246 §6: an unexpected record type -> unexpected_message
         {'1.2': 'SSLV3_ALERT_UNEXPECTED_MESSAGE', '1.3': 'SSLV3_ALERT_UNEXPECTED_MESSAGE'}),
        ('a handshake record with unknown message type 99', bytes([22, 3, 3, 0, 4, 99, 0, 0, 0]),
         # RFC 8446 §4, RFC 5246 §7.4 / §7.2.2: a message not expected here -> unexpected_message
         {'1.2': 'SSLV3_ALERT_UNEXPECTED_MESSAGE', '1.3': 'SSLV3_ALERT_UNEXPECTED_MESSAGE'}),
        ('a ServerHello from the client', bytes([22, 3, 3, 0, 4, 2, 0, 0, 0]),
         {'1.2': 'SSLV3_ALERT_UNEXPECTED_MESSAGE', '1.3': 'SSLV3_ALERT_UNEXPECTED_MESSAGE'}),
    ]

    def test_bad_second_flights_get_the_rfc_alert(self):
        s = tls_certs.TlsServer(certs=certs(), populate=populate, access_log='off')
        self.addCleanup(s.cleanup)
        s.start()
        problems, seen = [], []
        for version in ('1.2', '1.3'):
            for kind in ('ec', 'rsa'):
                for name, blob, want in self.CASES:
                    c = Client(s.tls_port, version, kind)
                    try:
                        c.sock.sendall(c.client_hello())
                        c.read_first_flight()
                        c.sock.sendall(blob)
                        t = c.wait_close(5.0)
                        got = 'still open after 5 s' if t is None else c.alert(c.tail)
                    finally:
                        c.close()
                    seen.append('TLS %s %s, %s: %s' % (version, kind, name, got))
                    if got != want[version]:
                        problems.append('TLS %s %s, %s: got %s, want %s, then the close'
                                        % (version, kind, name, got, want[version]))
        sys.stdout.write('\n' + '\n'.join(seen) + '\n')
        self.assertTrue(s.alive())
        if problems:
            self.fail('\n'.join(problems))


# --------------------------------------------------------------------------------------------
# Timeouts
# --------------------------------------------------------------------------------------------

TICK = 0.25           # the server checks deadlines every 250 ms
LOW, HIGH = 0.9, 1.6  # a 1 s timeout closes within [LOW, HIGH] s
DEFER = 1.0           # TCP_DEFER_ACCEPT: a silent client is accepted about 1 s late


def closed_in(name, t, low, high, what):
    """[] if t (seconds to the server's close, None = still open) is in [low, high]."""
    if t is None:
        return ['%s: still open at the end of the wait (%s)' % (name, what)]
    if t < low:
        return ['%s: closed too early, at %.2f s (%s)' % (name, t, what)]
    if t > high:
        return ['%s: closed late, at %.2f s (%s; deadlines are checked every %.2f s)'
                % (name, t, what, TICK)]
    return []


def parallel(fns):
    """Runs fns concurrently; returns their results in order (re-raises the first error)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(fns)) as ex:
        return [f.result() for f in [ex.submit(fn) for fn in fns]]


class Timeouts(unittest.TestCase):

    def server(self, args):
        s = tls_certs.TlsServer(certs=certs(), populate=populate, args=args)
        self.addCleanup(s.cleanup)
        s.start()
        settle(s.fd_count)
        return s

    def stop(self, s):
        rc = s.stop(check=False, timeout=20)
        err = s.stderr()
        self.assertEqual(rc, 0, 'sluice exited with %r:\n%s' % (rc, err[-5000:]))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err, err[-5000:])

    # -- --handshake-timeout --------------------------------------------------------------

    def test_stalled_handshakes_cut_by_handshake_timeout(self):
        s = self.server(['--handshake-timeout', '1', '--header-timeout', '30'])
        port = s.tls_port

        def after_client_hello(version, kind):
            def run():
                c = Client(port, version, kind)
                try:
                    c.sock.sendall(c.client_hello())
                    t = c.wait_close(4.0)     # the server's flight is read and dropped
                    return None if t is None else time.monotonic() - c.t_connected
                finally:
                    c.close()
            return run

        def partial_client_hello():
            c = Client(port, '1.3', 'ec')
            try:
                ch = c.client_hello()
                c.sock.sendall(ch[:len(ch) // 2])
                t = c.wait_close(4.0)
                return None if t is None else time.monotonic() - c.t_connected
            finally:
                c.close()

        def truncated_second_flight():
            c = Client(port, '1.2', 'rsa')
            try:
                c.sock.sendall(c.client_hello())
                flight = c.read_first_flight()
                c.sock.sendall(flight[:len(flight) // 2])
                t = c.wait_close(4.0)
                return None if t is None else time.monotonic() - c.t_connected
            finally:
                c.close()

        def silent():
            # Accepted only after TCP_DEFER_ACCEPT's second; then the handshake timeout.
            c = Client(port, '1.3', 'ec')
            try:
                t = c.wait_close(2 * DEFER + HIGH + 1.0)
                return None if t is None else time.monotonic() - c.t_connected
            finally:
                c.close()

        def completed_then_idle():
            # A finished handshake is not cut by the handshake timeout.
            c = Client(port, '1.3', 'ec')
            try:
                c.handshake()
                return c.wait_close(2.0)
            finally:
                c.close()

        c0 = counters(s)
        cases = [('ClientHello then stall, TLS 1.2 ECDSA', after_client_hello('1.2', 'ec')),
                 ('ClientHello then stall, TLS 1.3 RSA', after_client_hello('1.3', 'rsa')),
                 ('half a ClientHello then stall', partial_client_hello),
                 ('half a second flight then stall', truncated_second_flight)]
        times = parallel([fn for _, fn in cases] + [silent, completed_then_idle])
        t_silent, t_idle = times[-2:]
        time.sleep(2 * TICK)
        c1 = counters(s)
        report = ', '.join('%s: %s' % (name, 'open' if t is None else '%.2f s' % t)
                           for (name, _), t in zip(cases, times))
        sys.stdout.write('\n--handshake-timeout 1: %s; silent: %s; completed then idle: %s\n'
                         % (report, 'open' if t_silent is None else '%.2f s' % t_silent,
                            'open' if t_idle is None else 'closed at %.2f s' % t_idle))
        d = {k: delta(c1, c0, k) for k in (C_HS_FAILED, C_HS_TIMEOUTS, C_T_HEADER, C_HS_OK)}
        sys.stdout.write('counters: %r\n' % d)
        sys.stdout.flush()

        # Every broken promise is listed, not just the first.
        problems = []
        for (name, _), t in zip(cases, times):
            problems += closed_in(name, t, LOW, HIGH, '--handshake-timeout 1')
        problems += closed_in('silent (accepted ~1 s late: TCP_DEFER_ACCEPT)', t_silent, LOW,
                              2 * DEFER + HIGH, '--handshake-timeout 1')
        if t_idle is not None:
            problems.append('a completed handshake was closed after %.2f s by '
                            '--handshake-timeout 1 (--header-timeout is 30)' % t_idle)
        n = len(cases) + 1     # + the silent connection
        if C_HS_TIMEOUTS not in c1:
            problems.append('%s missing from the SIGUSR1 counters' % C_HS_TIMEOUTS)
        elif d[C_HS_TIMEOUTS] != n:
            problems.append('%s grew by %d, not %d' % (C_HS_TIMEOUTS, d[C_HS_TIMEOUTS], n))
        if d[C_HS_FAILED] != n:
            problems.append('%s grew by %d, not %d (a handshake timeout is a failed handshake)'
                            % (C_HS_FAILED, d[C_HS_FAILED], n))
        if d[C_T_HEADER] != 0:
            problems.append('%s grew by %d: handshake stalls counted as header timeouts'
                            % (C_T_HEADER, d[C_T_HEADER]))
        if d[C_HS_OK] != 1:
            problems.append('%s grew by %d, not 1' % (C_HS_OK, d[C_HS_OK]))
        if not s.alive():
            problems.append('sluice died')
        else:
            self.assertEqual(tls_certs.tls_get(s, '/a.txt').body, BODY)
        if problems:
            self.fail('\n'.join(problems))
        self.stop(s)

    # -- --header-timeout after the handshake ---------------------------------------------

    def test_first_request_cut_by_header_timeout(self):
        s = self.server(['--header-timeout', '1', '--keepalive-timeout', '30',
                         '--handshake-timeout', '30'])
        port = s.tls_port

        def idle_after_handshake(version, kind, half=False):
            def run():
                c = Client(port, version, kind)
                try:
                    c.handshake()
                    t_done = time.monotonic()
                    if half:
                        req = build_request('/a.txt')
                        c.sock.sendall(c.seal(req[:len(req) // 2]))
                    t = c.wait_close(4.0)
                    return None if t is None else time.monotonic() - t_done
                finally:
                    c.close()
            return run

        def keepalive_idle():
            # After a whole request the keep-alive timeout (30 s) applies, not the header one.
            c = Client(port, '1.3', 'ec')
            try:
                c.handshake()
                c.sock.sendall(c.seal(build_request('/a.txt')))
                data = b''
                while not data.endswith(BODY):
                    c.feed_once()
                    more, closed = c.read_plain()
                    data += more
                    if closed:
                        raise AssertionError('close_notify before the response: %r' % data)
                return c.wait_close(2.0)
            finally:
                c.close()

        c0 = counters(s)
        cases = [('TLS 1.2 ECDSA, nothing sent', idle_after_handshake('1.2', 'ec')),
                 ('TLS 1.3 RSA, nothing sent', idle_after_handshake('1.3', 'rsa')),
                 ('TLS 1.3 ECDSA, nothing sent', idle_after_handshake('1.3', 'ec')),
                 ('TLS 1.2 RSA, half a request', idle_after_handshake('1.2', 'rsa', True)),
                 ('TLS 1.3 ECDSA, half a request', idle_after_handshake('1.3', 'ec', True))]
        times = parallel([fn for _, fn in cases] + [keepalive_idle])
        t_keepalive = times[-1]
        time.sleep(2 * TICK)
        c1 = counters(s)
        report = ', '.join('%s: %s' % (name, 'open' if t is None else '%.2f s' % t)
                           for (name, _), t in zip(cases, times))
        sys.stdout.write('\n--header-timeout 1 after the handshake: %s; idle after a '
                         'response: %s\n' % (report, 'open' if t_keepalive is None
                                             else 'closed at %.2f s' % t_keepalive))
        d = {k: delta(c1, c0, k) for k in (C_HS_FAILED, C_HS_TIMEOUTS, C_T_HEADER,
                                           C_T_KEEPALIVE, C_HS_OK)}
        sys.stdout.write('counters: %r\n' % d)
        sys.stdout.flush()

        problems = []
        for (name, _), t in zip(cases, times):
            problems += closed_in(name, t, LOW, HIGH,
                                  '--header-timeout 1 from the end of the handshake, '
                                  '--keepalive-timeout 30')
        if t_keepalive is not None:
            problems.append('an idle keep-alive connection was closed after %.2f s '
                            '(--keepalive-timeout 30)' % t_keepalive)
        for name, want in ((C_T_HEADER, len(cases)), (C_T_KEEPALIVE, 0),
                           (C_HS_OK, len(cases) + 1), (C_HS_FAILED, 0), (C_HS_TIMEOUTS, 0)):
            if d[name] != want:
                problems.append('%s grew by %d, not %d' % (name, d[name], want))
        if not s.alive():
            problems.append('sluice died')
        if problems:
            self.fail('\n'.join(problems))
        self.stop(s)

if __name__ == '__main__':
    tls_certs.require_programs('openssl')
    harness.main()
