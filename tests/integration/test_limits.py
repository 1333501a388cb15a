#!/usr/bin/env python3
"""Bad input, size limits, timeouts, --max-connections, fd leaks, aborted downloads."""

import hashlib
import os
import selectors
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

BIG = os.urandom(1 << 20) * 24  # 24 MiB
BIG_SHA = hashlib.sha256(BIG).hexdigest()


class BadInput(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'a.txt'), b'AAAA\n')
        write(os.path.join(root, 'b.txt'), b'BBBB\n')

    def bad(self, data, status):
        c = self.connect()
        try:
            c.send(data)
            r = c.read_response()
            self.assertStatus(r, status)
            self.assertEqual(r.version, 'HTTP/1.1')
            self.assertTrue(c.closed_by_peer(3), 'connection not closed after %d' % status)
        finally:
            c.close()
        return r

    def test_request_line_too_long_414(self):
        self.bad(b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\nHost: x\r\n\r\n', 414)

    def test_request_line_too_long_partial_414(self):
        # No terminator at all: the server must not wait for one once past the limit.
        c = self.connect()
        try:
            c.send(b'GET /' + b'a' * 9000)
            r = c.read_response()
            self.assertStatus(r, 414)
            self.assertTrue(c.closed_by_peer(3))
        finally:
            c.close()

    def test_request_line_under_limit_ok(self):
        r = self.get('/a.txt?' + 'q' * 7000)
        self.assertStatus(r, 200)

    def test_header_block_too_large_431(self):
        hdrs = ''.join('X-Pad-%d: %s\r\n' % (i, 'v' * 100) for i in range(200))
        self.bad(('GET /a.txt HTTP/1.1\r\nHost: x\r\n%s\r\n' % hdrs).encode(), 431)

    def test_single_huge_header_431(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'z' * 17000 + b'\r\n\r\n', 431)

    def test_header_block_under_limit_ok(self):
        hdrs = ''.join('X-Pad-%d: %s\r\n' % (i, 'v' * 100) for i in range(100))  # ~11 KiB
        c = self.connect()
        try:
            c.send(('GET /a.txt HTTP/1.1\r\nHost: x\r\n%s\r\n' % hdrs).encode())
            self.assertStatus(c.read_response(), 200)
        finally:
            c.close()

    def test_bare_lf_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\nHost: x\n\n' + b'\r\n\r\n', 400)

    def test_bare_lf_in_header_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n', 400)

    def test_obs_fold_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  folded\r\n\r\n', 400)

    def test_cl_and_te_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                 b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400)

    def test_missing_host_11_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nUser-Agent: t\r\n\r\n', 400)

    def test_duplicate_host_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400)

    def test_http10_no_host_200(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.0\r\n\r\n')
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, b'AAAA\n')
        finally:
            c.close()

    def test_garbage_400(self):
        for junk in (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + bytes(range(64)) + b'\r\n\r\n',
                     b'HELLO\r\n\r\n',
                     b'GET\r\n\r\n',
                     b'GET /a.txt FTP/1.0\r\n\r\n',
                     b'\x00\x00\x00\x00\r\n\r\n',
                     b'GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
                     b'GET /a.txt HTTP/1.1\r\nHost: x\r\n: novalue\r\n\r\n'):
            with self.subTest(junk=junk[:30]):
                self.bad(junk, 400)

    def test_bad_content_length_400(self):
        self.bad(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400)

    def test_get_with_body_discarded(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /nope !'
                   + build_request('/b.txt'))
            r1 = c.read_response()
            r2 = c.read_response()
            self.assertStatus(r1, 200)
            self.assertEqual(r1.body, b'AAAA\n')
            self.assertStatus(r2, 200)
            self.assertEqual(r2.body, b'BBBB\n')
        finally:
            c.close()

    def test_get_with_body_split(self):
        # Body arrives in a separate segment after the head.
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n')
            time.sleep(0.1)
            c.send(b'junk' + build_request('/b.txt'))
            r1 = c.read_response()
            r2 = c.read_response()
            self.assertEqual(r1.body, b'AAAA\n')
            self.assertEqual(r2.body, b'BBBB\n')
        finally:
            c.close()

    def test_server_alive_after_bad_input(self):
        self.assertEqual(self.get('/a.txt').body, b'AAAA\n')


class HeaderTimeout(harness.ServerTestCase):
    server_args = ('--header-timeout', '1')

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'a.txt'), b'AAAA\n')

    def test_partial_request_closed(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.1\r\nHost: x\r\n')
            t = c.wait_close(timeout=4)
            self.assertIsNotNone(t, 'partial request still open after 4 s with --header-timeout 1')
            self.assertLess(t, 3.0)
            if c.buf:
                self.assertTrue(c.buf.startswith(b'HTTP/1.1 408'), c.buf[:100])
        finally:
            c.close()

    def test_slow_drip_closed(self):
        # One byte every 0.2 s: the header timeout bounds the whole head, not each read.
        c = self.connect()
        t0 = time.monotonic()
        closed = False
        try:
            data = b'GET /a.txt HTTP/1.1\r\nHost: x\r\n' + b'X-Slow: ' + b'y' * 100
            for b in data:
                try:
                    c.send(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if c.closed_by_peer(0.2) or c.buf:
                    closed = True
                    break
                if time.monotonic() - t0 > 5:
                    break
            self.assertTrue(closed, 'slow-drip request not cut off within 5 s (--header-timeout 1)')
            self.assertLess(time.monotonic() - t0, 3.5)
        finally:
            c.close()

    def test_normal_request_ok(self):
        self.assertEqual(self.get('/a.txt').body, b'AAAA\n')

    def test_silent_connection_deferred_then_closed(self):
        # TCP_DEFER_ACCEPT: a connection is accepted with its first bytes, so a silent one
        # holds no server socket at first; about 1 s later the kernel hands it over anyway,
        # and the header timeout closes it.
        # The count must be settled first: a connection of an earlier test (or the harness's
        # start-up probe) may still be on its way in or out, slower under ASan.
        base = harness.socket_fd_count(self.server.pid)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = harness.socket_fd_count(self.server.pid)
            if now == base:
                break
            base = now
        c = self.connect()
        try:
            time.sleep(0.3)
            self.assertEqual(harness.socket_fd_count(self.server.pid), base,
                             'a silent connection was accepted before sending anything')
            t = c.wait_close(timeout=6)
            self.assertIsNotNone(t, 'silent connection still open after 6 s (--header-timeout 1)')
            self.assertEqual(c.buf[:12], b'HTTP/1.1 408'[:len(c.buf[:12])])
        finally:
            c.close()
        # A connection that speaks after a pause is accepted and answered.
        c = self.connect()
        try:
            time.sleep(0.5)
            c.send(build_request('/a.txt'))
            self.assertEqual(c.read_response().body, b'AAAA\n')
        finally:
            c.close()


class KeepAliveTimeout(harness.ServerTestCase):
    server_args = ('--keepalive-timeout', '1')

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'a.txt'), b'AAAA\n')

    def test_idle_closed(self):
        c = self.connect()
        try:
            c.send(build_request('/a.txt'))
            self.assertEqual(c.read_response().body, b'AAAA\n')
            t = c.wait_close(timeout=4)
            self.assertIsNotNone(t, 'idle keep-alive connection still open after 4 s')
            self.assertLess(t, 3.0)
            self.assertEqual(c.buf, b'', 'unexpected bytes on idle close')
        finally:
            c.close()

    def test_active_connection_not_closed_early(self):
        c = self.connect()
        try:
            for _ in range(4):
                c.send(build_request('/a.txt'))
                self.assertEqual(c.read_response().body, b'AAAA\n')
                time.sleep(0.5)
        finally:
            c.close()


class MaxConnections(harness.ServerTestCase):
    server_args = ('--max-connections', '10')

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'a.txt'), b'AAAA\n')

    def baseline(self):
        # warm up every worker (lazy allocations, per-worker caches), then measure idle
        socks = [self.server.connect() for _ in range(12)]
        for c in socks:
            c.send(build_request('/a.txt', close=True))
        for c in socks:
            c.read_response()
            c.close()
        time.sleep(0.3)
        return self.server.fd_count()

    def test_30_connections_all_served(self):
        base = self.baseline()
        base_sockets = harness.socket_fd_count(self.server.pid)
        problems = []
        socks = []
        for _ in range(30):
            s = socket.create_connection(('127.0.0.1', self.server.port), timeout=5)
            socks.append(s)
        for s in socks:
            s.sendall(build_request('/a.txt'))
        sel = selectors.DefaultSelector()
        conns = {}
        for s in socks:
            s.setblocking(False)
            c = harness.Conn(s)
            conns[s] = c
            sel.register(s, selectors.EVENT_READ, c)
        answered = []
        closed_early = 0

        def pump(timeout, close_answered):
            nonlocal closed_early
            deadline = time.monotonic() + timeout
            while conns and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.2):
                    c = key.data
                    try:
                        data = c.sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except ConnectionResetError:
                        data = b''
                    if not data:
                        closed_early += 1
                        sel.unregister(c.sock)
                        del conns[c.sock]
                        c.close()
                        continue
                    c.buf += data
                    if b'\r\n\r\nAAAA\n' in c.buf and c not in answered:
                        if not c.buf.startswith(b'HTTP/1.1 200'):
                            problems.append('bad response %r' % c.buf[:60])
                        answered.append(c)
                        sel.unregister(c.sock)
                if close_answered:
                    for c in answered:
                        if c.sock in conns:
                            del conns[c.sock]
                            c.close()

        # Phase 1: keep every answered connection open: at most 10 may be served.
        pump(1.0, close_answered=False)
        held = harness.socket_fd_count(self.server.pid) - base_sockets
        if held > 10:
            problems.append('server holds %d client sockets with --max-connections 10' % held)
        if len(answered) > 10:
            problems.append('%d connections served concurrently with --max-connections 10'
                            % len(answered))
        if not answered:
            problems.append('no connection served at all')
        if closed_early:
            problems.append('%d connections closed without a response' % closed_early)
        # Phase 2: close answered connections; the waiting ones must be accepted and served.
        for c in answered:
            if c.sock in conns:
                del conns[c.sock]
                c.close()
        pump(20, close_answered=True)
        sel.close()
        for c in conns.values():
            c.close()
        if len(answered) != 30:
            problems.append('only %d of 30 connections served within 20 s (%d closed early)'
                            % (len(answered), closed_early))
        self.assertTrue(self.server.alive(), 'server died')
        self.assertEqual(self.get('/a.txt').body, b'AAAA\n')
        n = self.server.wait_fds(base, timeout=5)
        if n > base:
            problems.append('fd leak: %d fds now, %d at baseline; open: %s'
                            % (n, base, self.server.fd_summary()))
        self.assertFalse(problems, '\n'.join(problems))

    def test_burst_no_crash(self):
        base = self.baseline()
        # 60 connect-and-close, some mid-request, some with RST
        for i in range(60):
            s = socket.create_connection(('127.0.0.1', self.server.port), timeout=5)
            if i % 3 == 0:
                s.sendall(b'GET /a.txt HTTP/1.1\r\nHo')
            if i % 2 == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
        self.assertEqual(self.get('/a.txt').body, b'AAAA\n')
        self.assertTrue(self.server.alive())
        n = self.server.wait_fds(base, timeout=5)
        self.assertLessEqual(n, base, 'fd leak: %d fds now, %d at baseline; open: %s'
                             % (n, base, self.server.fd_summary()))


class AbortedDownload(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'big.bin'), BIG)

    def aborters(self, n=4):
        """Clients that request big.bin, read part of it and go away (FIN or RST)."""
        for i in range(n):
            s = socket.create_connection(('127.0.0.1', self.server.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(build_request('/big.bin'))
            got = 0
            while got < (i + 1) * 300_000:
                d = s.recv(65536)
                if not d:
                    break
                got += len(d)
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()

    def round(self):
        result = {}

        def full():
            result['curl'] = harness.curl_sha256(self.server.url('/big.bin'), timeout=30)

        t = threading.Thread(target=full)
        t.start()
        self.aborters()
        t.join(40)
        self.assertFalse(t.is_alive(), 'full download did not finish')
        return result['curl']

    def test_abort_while_other_downloads(self):
        digest, n, rc, err = self.round()
        self.assertEqual(rc, 0, 'full download failed while other clients aborted: ' + err)
        self.assertEqual(n, len(BIG))
        self.assertEqual(digest, BIG_SHA)
        self.assertTrue(self.server.alive())
        self.assertEqual(self.get('/big.bin', headers={'Range': 'bytes=0-9'}).body, BIG[:10])

    def test_abort_repeatedly_no_fd_growth(self):
        # Two rounds warm per-worker pools (splice pipes, caches); later rounds must not grow.
        counts = []
        for _ in range(5):
            self.aborters(6)
            time.sleep(0.3)
            counts.append(self.server.wait_fds(0, timeout=0.3))
        ref = counts[1]
        n = self.server.wait_fds(ref, timeout=5)
        self.assertLessEqual(n, ref, 'fd count grows with aborted downloads: %r then %d; '
                             'open: %s' % (counts, n, self.server.fd_summary()))
        self.assertTrue(self.server.alive())
        digest, n, rc, err = harness.curl_sha256(self.server.url('/big.bin'), timeout=30)
        self.assertEqual((rc, digest), (0, BIG_SHA), err)


if __name__ == '__main__':
    harness.main()
