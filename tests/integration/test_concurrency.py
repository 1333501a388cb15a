#!/usr/bin/env python3
"""2,000 concurrent keep-alive connections, two requests each, then no fd leak."""

import errno
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

N = 2000
FILES = 16


def body_of(i):
    return ('file %d ' % i).encode() * (i * 37 + 1)


class Concurrency(harness.ServerTestCase):
    server_args = ('--max-connections', '4096')

    @classmethod
    def setUpClass(cls):
        # the server inherits the raised limit
        got = harness.raise_nofile(3 * N + 256)
        if got < 2 * N + 256:
            raise unittest.SkipTest('RLIMIT_NOFILE only %d' % got)
        super().setUpClass()

    @classmethod
    def populate(cls, root, tmp):
        for i in range(FILES):
            write(os.path.join(root, 'f%d.txt' % i), body_of(i))

    def round(self, conns, sel, tag, timeout=30):
        """Sends one GET on every connection, reads every response; returns failures."""
        pending = {}
        for idx, c in enumerate(conns):
            k = (idx + tag) % FILES
            c.expect = body_of(k)
            c.buf = b''
            c.sock.setblocking(True)
            c.sock.settimeout(10)
            c.sock.sendall(build_request('/f%d.txt' % k))
            c.sock.setblocking(False)
            pending[c.sock] = c
            sel.register(c.sock, selectors.EVENT_READ, c)
        errors = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                c = key.data
                try:
                    d = c.sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    d = b''
                if not d:
                    errors.append('closed early (round %d) after %r' % (tag, c.buf[:80]))
                    sel.unregister(c.sock)
                    del pending[c.sock]
                    continue
                c.buf += d
                i = c.buf.find(b'\r\n\r\n')
                if i < 0:
                    continue
                head = c.buf[:i].decode('latin-1')
                cl = None
                for line in head.split('\r\n')[1:]:
                    k, _, v = line.partition(':')
                    if k.strip().lower() == 'content-length':
                        cl = int(v)
                if cl is None or len(c.buf) < i + 4 + cl:
                    continue
                if not head.startswith('HTTP/1.1 200'):
                    errors.append('bad status: %s' % head.split('\r\n')[0])
                elif c.buf[i + 4:] != c.expect:
                    errors.append('wrong body')
                sel.unregister(c.sock)
                del pending[c.sock]
        for s in list(pending):
            sel.unregister(s)
        if pending:
            errors.append('%d responses missing after %d s (round %d)' % (len(pending), timeout, tag))
        return errors

    def test_2000_keepalive(self):
        for _ in range(3):
            self.get('/f0.txt')
        time.sleep(0.3)
        base = self.server.fd_count()
        conns = []
        sel = selectors.DefaultSelector()
        try:
            # non-blocking connects so the whole batch is in flight at once
            connecting = {}
            for _ in range(N):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                rc = s.connect_ex(('127.0.0.1', self.server.port))
                self.assertIn(rc, (0, errno.EINPROGRESS), os.strerror(rc))
                connecting[s] = harness.Conn(s)
                sel.register(s, selectors.EVENT_WRITE, connecting[s])
            deadline = time.monotonic() + 20
            while connecting and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    s = key.fileobj
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    self.assertEqual(err, 0, 'connect failed: %s' % os.strerror(err))
                    sel.unregister(s)
                    conns.append(connecting.pop(s))
            self.assertFalse(connecting, '%d connects did not complete' % len(connecting))
            self.assertEqual(len(conns), N)

            errors = self.round(conns, sel, 0)
            self.assertEqual(errors[:10], [], '%d failures in round 1' % len(errors))
            peak = self.server.fd_count()
            self.assertGreaterEqual(peak, base)
            errors = self.round(conns, sel, 1)
            self.assertEqual(errors[:10], [], '%d failures in round 2 (keep-alive)' % len(errors))
            self.assertTrue(self.server.alive())
        finally:
            sel.close()
            for c in conns:
                c.close()
        self.assertEqual(self.get('/f3.txt').body, body_of(3))
        n = self.server.wait_fds(base, slack=2, timeout=10)
        self.assertLessEqual(n, base + 2, 'fd count %d did not return near baseline %d; open: %s'
                             % (n, base, self.server.fd_summary()))


import unittest  # noqa: E402

if __name__ == '__main__':
    harness.main()
