#!/usr/bin/env python3
"""Graceful shutdown: in-flight downloads finish, new connections refused, exit 0."""

import hashlib
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

SIZE = 64 << 20
BLOCK = os.urandom(1 << 20)
DATA_SHA = hashlib.sha256(BLOCK * 64).hexdigest()


def populate(root):
    with open(os.path.join(root, 'big.bin'), 'wb') as f:
        for _ in range(64):
            f.write(BLOCK)
    write(os.path.join(root, 'a.txt'), b'AAAA\n')


def start(*args):
    s = harness.Server(args=args, populate=populate)
    try:
        s.start()
    except BaseException:
        s.cleanup()
        raise
    return s


def new_connection_outcome(server):
    """'refused', 'closed' (accepted then closed without a response), 'served' or 'hung'."""
    try:
        s = socket.create_connection(('127.0.0.1', server.port), timeout=2)
    except ConnectionRefusedError:
        return 'refused'
    except OSError as e:
        return 'refused' if 'refused' in str(e).lower() else 'error %s' % e
    try:
        s.sendall(build_request('/a.txt', close=True))
        d = s.recv(100)
        return 'served' if d else 'closed'
    except (ConnectionResetError, BrokenPipeError):
        return 'closed'
    except socket.timeout:
        return 'hung'
    finally:
        s.close()


class Shutdown(unittest.TestCase):

    def tearDown(self):
        self.server.cleanup()

    def slow_download(self, server, rate, result, started):
        s = socket.create_connection(('127.0.0.1', server.port), timeout=15)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(build_request('/big.bin'))
        c = harness.Conn(s)
        head = c.read_head()
        result['head'] = head
        h = hashlib.sha256()
        n = len(c.buf)
        h.update(c.buf)
        c.buf = b''
        started.set()
        t0 = time.monotonic()
        try:
            while n < SIZE:
                d = s.recv(min(262144, SIZE - n))
                if not d:
                    break
                h.update(d)
                n += len(d)
                # throttle to `rate` bytes/s
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError as e:
            result['error'] = repr(e)
        result['n'] = n
        result['sha'] = h.hexdigest()
        result['end'] = time.monotonic()
        s.close()

    def test_sigterm_during_slow_download(self):
        self.server = server = start('--shutdown-grace', '10')
        result, started = {}, threading.Event()
        t = threading.Thread(target=self.slow_download, args=(server, 24 << 20, result, started))
        t.start()
        self.assertTrue(started.wait(5), 'download did not start')
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        t_sig = time.monotonic()
        time.sleep(0.3)
        outcome = new_connection_outcome(server)
        t.join(15)
        rc = server.wait(10)
        self.assertFalse(t.is_alive(), 'download thread stuck')
        self.assertIn(b' 200 ', result.get('head', b''))
        self.assertEqual(result.get('n'), SIZE, 'download cut short: %r' % {k: v for k, v in result.items() if k != 'head'})
        self.assertEqual(result['sha'], DATA_SHA)
        self.assertGreater(result['end'] - t_sig, 1.0, 'download was not actually slow')
        self.assertEqual(rc, 0, 'exit code after SIGTERM; stderr:\n%s' % server.stderr())
        self.assertIn(outcome, ('refused', 'closed'),
                      'new connection after SIGTERM was %s (expected refused)' % outcome)

    def test_sigterm_idle_exits_quickly(self):
        self.server = server = start()
        c = server.connect()  # idle keep-alive connection
        c.send(build_request('/a.txt'))
        c.read_response()
        t0 = time.monotonic()
        server.send_signal(signal.SIGTERM)
        rc = server.wait(10)
        dt = time.monotonic() - t0
        c.close()
        self.assertEqual(rc, 0, server.stderr())
        self.assertLess(dt, 3.0, 'idle keep-alive connection delayed exit by %.1f s' % dt)

    def test_sigint_exits_0(self):
        self.server = server = start()
        self.assertEqual(server.get('/a.txt').body, b'AAAA\n')
        server.send_signal(signal.SIGINT)
        self.assertEqual(server.wait(10), 0, server.stderr())

    def test_grace_expires_with_stalled_client(self):
        self.server = server = start('--shutdown-grace', '1')
        s = socket.create_connection(('127.0.0.1', server.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(build_request('/big.bin'))
        s.recv(4096)  # response started; then never read again
        time.sleep(0.3)
        t0 = time.monotonic()
        server.send_signal(signal.SIGTERM)
        rc = server.wait(8)
        dt = time.monotonic() - t0
        s.close()
        self.assertIsNotNone(rc, 'server still running 8 s after SIGTERM with --shutdown-grace 1')
        self.assertLess(dt, 4.0)
        self.assertEqual(rc, 0, server.stderr())


if __name__ == '__main__':
    harness.main()
