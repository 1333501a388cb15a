#!/usr/bin/env python3
"""--metrics-listen: /metrics in Prometheus text (checked by promtool), /health (200, 503 while
draining), its own port only, errors for bad flags and a held port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, write  # noqa: E402

SIZE = 32 << 20


def populate(root):
    write(os.path.join(root, 'a.txt'), b'AAAA\n')
    with open(os.path.join(root, 'big.bin'), 'wb') as f:
        f.write(os.urandom(SIZE))


def fetch(url, method='GET', timeout=5):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def parse(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            name, value = line.rsplit(' ', 1)
            values[name] = int(value)
    return values


class Metrics(unittest.TestCase):

    def setUp(self):
        self.mport = free_port()
        self.server = harness.Server(
            args=['--metrics-listen', '127.0.0.1:%d' % self.mport, '--shutdown-grace', '20'],
            populate=populate)
        self.server.start()
        self.murl = 'http://127.0.0.1:%d' % self.mport

    def tearDown(self):
        try:
            if self.server.proc and self.server.proc.poll() is None:
                self.server.stop()
        finally:
            self.server.cleanup()

    def scrape(self):
        status, headers, body = fetch(self.murl + '/metrics')
        self.assertEqual(status, 200)
        self.assertTrue(headers['Content-Type'].startswith('text/plain; version=0.0.4'), headers)
        return body.decode()

    def test_counters_move_and_promtool_accepts_them(self):
        before = parse(self.scrape())
        for _ in range(5):
            self.assertEqual(self.server.get('/a.txt').status, 200)
        self.assertEqual(self.server.get('/missing').status, 404)
        text = self.scrape()
        after = parse(text)
        self.assertEqual(after['sluice_server_requests_total'] -
                         before['sluice_server_requests_total'], 6)
        self.assertEqual(after['sluice_server_responses_2xx_total'] -
                         before['sluice_server_responses_2xx_total'], 5)
        self.assertEqual(after['sluice_server_responses_4xx_total'] -
                         before['sluice_server_responses_4xx_total'], 1)
        # scrapes are not requests of the site: they are not counted or logged
        time.sleep(0.3)
        with open(self.server.access_log) as f:
            self.assertNotIn('/metrics', f.read())
        for line in text.splitlines():
            if line.startswith('# TYPE'):
                _, _, name, kind = line.split()
                self.assertEqual(kind, 'counter' if name.endswith('_total') else 'gauge', line)
        promtool = shutil.which('promtool')
        if promtool is None:
            self.skipTest('promtool not installed (Debian: prometheus)')
        p = subprocess.run([promtool, 'check', 'metrics'], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_health_head_404_405(self):
        self.assertEqual(fetch(self.murl + '/health')[0], 200)
        status, headers, body = fetch(self.murl + '/health', method='HEAD')
        self.assertEqual((status, body), (200, b''))
        self.assertEqual(headers['Content-Length'], '3')
        self.assertEqual(fetch(self.murl + '/metrics?x=1')[0], 200)
        self.assertEqual(fetch(self.murl + '/')[0], 404)
        status, headers, _ = fetch(self.murl + '/metrics', method='POST')
        self.assertEqual(status, 405)
        self.assertEqual(headers['Allow'], 'GET, HEAD')
        # garbage: an HTTP error, then the listener still serves
        with socket.create_connection(('127.0.0.1', self.mport), timeout=5) as s:
            s.sendall(b'\x16\x03\x01 not http\r\n\r\n')
            self.assertTrue(s.recv(100).startswith(b'HTTP/1.1 4'))
        # a scraper that connects and says nothing delays the next one by at most ~2 s
        idle = socket.create_connection(('127.0.0.1', self.mport), timeout=5)
        t0 = time.monotonic()
        self.assertEqual(fetch(self.murl + '/health')[0], 200)
        self.assertLess(time.monotonic() - t0, 4)
        idle.close()
        # the public port does not answer /metrics as metrics
        self.assertEqual(self.server.get('/metrics').status, 404)

    def test_health_503_while_draining(self):
        # a download the client does not read yet keeps the server draining after SIGTERM
        s = socket.create_connection(('127.0.0.1', self.server.port), timeout=10)
        s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(s.recv(4096).startswith(b'HTTP/1.1 200'))
        self.server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline:
            status = fetch(self.murl + '/health')[0]
            if status == 503:
                break
            time.sleep(0.05)
        self.assertEqual(status, 503)
        self.assertIsNone(self.server.proc.poll(), 'exited before the download finished')
        got = 0
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
        s.close()
        self.assertEqual(self.server.proc.wait(30), 0)
        self.assertGreaterEqual(got, SIZE - 4096)


class Flags(unittest.TestCase):

    def run_sluice(self, *args):
        return subprocess.run([harness.require_binary(), *args], capture_output=True, timeout=20)

    def test_same_as_listen_refused(self):
        port = free_port()
        p = self.run_sluice('--listen', '127.0.0.1:%d' % port,
                            '--metrics-listen', '127.0.0.1:%d' % port, '/tmp')
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'--metrics-listen', p.stderr)

    def test_bad_address(self):
        p = self.run_sluice('--metrics-listen', 'localhost:9', '/tmp')
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'--metrics-listen', p.stderr)

    def test_port_held_by_another_process_is_not_shared(self):
        held = socket.socket()
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind(('127.0.0.1', 0))
        held.listen(1)
        port = held.getsockname()[1]
        try:
            p = self.run_sluice('--listen', '127.0.0.1:%d' % free_port(),
                                '--metrics-listen', '127.0.0.1:%d' % port, '/tmp')
        finally:
            held.close()
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b'--metrics-listen', p.stderr)
        self.assertIn(b'in use', p.stderr.lower())


if __name__ == '__main__':
    harness.main()
