#!/usr/bin/env python3
"""Bad input on the TLS port (plain HTTP, garbage, a stalled half ClientHello), KeyUpdate in
user record mode, close_notify, and 1,000 handshakes without fd or memory growth."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import build_request, write  # noqa: E402

BODY = b'robust\n' * 20


def populate(root, tmp=None):
    write(os.path.join(root, 'a.txt'), BODY)


def client_hello():
    """The bytes of a real ClientHello (from python's ssl through a MemoryBIO)."""
    ctx = tls_certs.client_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname='localhost')
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Robust(tls_certs.TlsServerTestCase):
    server_args = ['--handshake-timeout', '1']

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')]

    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def assertServes(self):
        self.assertTrue(self.server.alive(), self.server.stderr())
        r = tls_certs.tls_get(self.server, '/a.txt')
        self.assertEqual(r.body, BODY)
        self.assertEqual(self.server.get('/a.txt').body, BODY)

    def raw(self):
        s = socket.create_connection(('127.0.0.1', self.server.tls_port), timeout=10)
        c = harness.Conn(s)
        self.addCleanup(c.close)
        return c

    def assertClosedWithAlertOrNothing(self, c, what, timeout=5.0):
        t = c.wait_close(timeout)
        self.assertIsNotNone(t, '%s: connection still open after %.0f s' % (what, timeout))
        data = c.buf
        # Nothing, or TLS alert record(s) (content type 21): never a plain HTTP answer.
        self.assertTrue(data == b'' or data[0] == 0x15,
                        '%s: expected an alert or a bare close, got %r' % (what, data[:80]))

    def test_plain_http_to_tls_port(self):
        c = self.raw()
        c.send(build_request('/a.txt'))
        self.assertClosedWithAlertOrNothing(c, 'plain HTTP')
        self.assertServes()

    def test_garbage(self):
        for blob in (os.urandom(4096), b'\x16\x03\x01\x00\x10' + os.urandom(16),
                     b'\x16\x03\x03\xff\xff' + os.urandom(2000), b'\x00' * 100,
                     b'\x17\x03\x03\x00\x20' + os.urandom(32)):
            c = self.raw()
            try:
                c.send(blob)
            except OSError:
                pass
            t = c.wait_close(5.0)
            self.assertIsNotNone(t, 'garbage %r...: not closed' % blob[:8])
            c.close()
        self.assertServes()

    def test_stalled_half_client_hello(self):
        ch = client_hello()
        self.assertGreater(len(ch), 100)
        c = self.raw()
        c.send(ch[:len(ch) // 2])
        t0 = time.monotonic()
        t = c.wait_close(6.0)
        self.assertIsNotNone(t, 'a stalled handshake was not closed (--handshake-timeout 1)')
        self.assertGreater(t, 0.5, 'closed too early (%.2fs)' % t)
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assertServes()

    def test_silent_connection_times_out(self):
        c = self.raw()
        t = c.wait_close(6.0)
        self.assertIsNotNone(t, 'a connection that never sends was not closed')
        self.assertGreater(t, 0.5)
        self.assertServes()

    def test_completed_handshake_not_cut_by_handshake_timeout(self):
        c = tls_certs.tls_connect(self.server)
        self.addCleanup(c.close)
        time.sleep(2.0)     # > --handshake-timeout; keep-alive timeout (75 s) applies now
        c.send(build_request('/a.txt', close=True))
        self.assertEqual(c.read_response().body, BODY)

    # -- KeyUpdate ------------------------------------------------------------------------

    def key_update(self, letter):
        """openssl s_client (TLS 1.3, commands on): request, key update ('k' or 'K'),
        request. Returns (stdout, stderr)."""
        cmd = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % self.server.tls_port,
               '-tls1_3', '-brief', '-servername', 'localhost']
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            out = b''
            os.set_blocking(p.stdout.fileno(), False)

            def read_until(marker_count, timeout=10):
                nonlocal out
                deadline = time.monotonic() + timeout
                while out.count(BODY) < marker_count and time.monotonic() < deadline:
                    try:
                        d = p.stdout.read()
                    except BlockingIOError:
                        d = None
                    if d:
                        out += d
                    elif p.poll() is not None:
                        break
                    else:
                        time.sleep(0.02)

            p.stdin.write(build_request('/a.txt')) ; p.stdin.flush()
            read_until(1)
            p.stdin.write(letter.encode() + b'\n'); p.stdin.flush()
            time.sleep(0.5)
            p.stdin.write(build_request('/a.txt')); p.stdin.flush()
            read_until(2)
            p.stdin.write(build_request('/a.txt', close=True)); p.stdin.flush()
            read_until(3)
            p.stdin.close()
            p.wait(10)
            err = p.stderr.read()
            try:
                rest = p.stdout.read()
            except BlockingIOError:
                rest = None
            out += rest or b''
            return out, err.decode('utf-8', 'replace')
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_key_update(self):
        out, err = self.key_update('k')
        self.assertIn('KEYUPDATE', err + out.decode('latin-1'), 'the client did not update')
        self.assertEqual(out.count(BODY), 3, 'responses after KeyUpdate missing\nstdout=%r\n'
                         'stderr=%s' % (out[-300:], err))
        self.assertServes()

    def test_key_update_requested(self):
        # 'K': update_requested, so the server must update its sending keys as well.
        out, err = self.key_update('K')
        self.assertEqual(out.count(BODY), 3, 'stdout=%r\nstderr=%s' % (out[-300:], err))
        self.assertServes()

    # -- close_notify ---------------------------------------------------------------------

    def test_close_notify(self):
        for v in ('1.2', '1.3'):
            c = tls_certs.tls_connect(self.server, version=v)
            try:
                c.send(build_request('/a.txt'))
                self.assertEqual(c.read_response().body, BODY)
                c.ssl.settimeout(5)
                plain = c.ssl.unwrap()      # sends close_notify, waits for the server's
                plain.settimeout(5)
                try:
                    d = plain.recv(100)
                except (ConnectionResetError, socket.timeout) as e:
                    d = e
                self.assertEqual(d, b'', 'TLS %s: not closed after close_notify: %r' % (v, d))
            finally:
                c.close()
        self.assertServes()


    def test_requests_before_close_notify_are_answered(self):
        # gnutls-cli sends its input and then close_notify at EOF, often in the same segment
        # as (or right after) its Finished: both requests must still be answered.
        if not shutil.which('gnutls-cli'):
            self.skipTest('gnutls-cli not installed')
        reqs = build_request('/a.txt') + build_request('/a.txt')
        out = subprocess.run(['gnutls-cli', '--insecure', '-p', str(self.server.tls_port),
                              '127.0.0.1'], input=reqs, capture_output=True, timeout=20).stdout
        self.assertEqual(out.count(b'HTTP/1.1 200 OK'), 2, out[-500:])
        self.assertServes()


def sanitized_binary():
    """True for an ASan build (its runtime symbols are in the binary)."""
    with open(os.environ['SLUICE_BIN'], 'rb') as f:
        return b'__asan_init' in f.read()


class ManyHandshakes(unittest.TestCase):
    """1,000 new connections (full and resumed, TLS 1.2 and 1.3): no fd growth, RSS bounded."""

    N = 1000

    def test_many_handshakes(self):
        cert = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')
        s = tls_certs.TlsServer(certs=[cert], populate=populate, access_log='off')
        self.addCleanup(s.cleanup)
        s.start()
        ctxs = {v: tls_certs.client_context(version=v) for v in ('1.2', '1.3')}
        sessions = {}
        counts = {'full': 0, 'resumed': 0}
        req = build_request('/a.txt', close=True)

        def one(i):
            v = '1.3' if i % 2 else '1.2'
            resume = (i % 4) >= 2 and v in sessions
            c = tls_certs.tls_connect(s, ctx=ctxs[v], session=sessions.get(v) if resume else None)
            try:
                c.send(req)
                r = c.read_response()
                if r.body != BODY:
                    raise AssertionError('bad body on connection %d' % i)
                counts['resumed' if c.ssl.session_reused else 'full'] += 1
                if not resume:
                    sessions[v] = c.ssl.session
            finally:
                c.close()

        for i in range(100):                     # warm-up: caches, pools, allocator
            one(i)
        time.sleep(0.3)
        fds0 = s.wait_fds(0, timeout=0.1)
        fds0 = s.fd_count()
        rss0 = s.rss_kib()
        counts = {'full': 0, 'resumed': 0}
        t0 = time.monotonic()
        for i in range(self.N):
            one(i)
            self.assertLess(time.monotonic() - t0, 60, 'too slow: %d handshakes in 60 s' % i)
        elapsed = time.monotonic() - t0
        fds1 = s.wait_fds(fds0, timeout=5.0)
        rss1 = s.rss_kib()
        sys.stdout.write('\n%d handshakes in %.1fs: %d full, %d resumed; fds %d -> %d; '
                         'VmRSS %d -> %d KiB\n' % (self.N, elapsed, counts['full'],
                                                   counts['resumed'], fds0, fds1, rss0, rss1))
        self.assertEqual(counts['full'] + counts['resumed'], self.N)
        self.assertGreaterEqual(counts['resumed'], self.N // 4,
                                'few resumptions: %r' % counts)
        self.assertLessEqual(fds1, fds0, 'fd growth: %d -> %d (%s)'
                             % (fds0, fds1, s.fd_summary()))
        if sanitized_binary():
            # ASan's quarantine keeps freed memory resident by design; RSS is asserted on the
            # release build, which runs this same test.
            sys.stdout.write('RSS bound not checked: sanitizer build\n')
        else:
            self.assertLess(rss1 - rss0, 8 * 1024, 'VmRSS grew %d KiB' % (rss1 - rss0))
        self.assertTrue(s.alive())


if __name__ == '__main__':
    tls_certs.require_programs('openssl')
    harness.main()
