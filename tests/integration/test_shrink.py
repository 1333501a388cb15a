#!/usr/bin/env python3
"""A file that shrinks while it is being served: the response in flight ends early (the client
sees a short body and a closed connection, never bytes from elsewhere), the server lives on and
other requests are answered. Over plain HTTP (splice) and HTTPS in userspace record mode, where
bodies are sealed straight from a mapping of the file (a truncation there faults with SIGBUS,
which the server turns into the end of that one response). Also: large HTTPS bodies really
take the mapped path (sluice_record_sealed_mapped_bytes_total)."""

import hashlib
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import build_request, write  # noqa: E402

SIZE = 48 << 20
MIB = 1 << 20


def fs_type(path):
    """The file system type of the mount holding `path` (from /proc/mounts)."""
    best, kind = '', ''
    real = os.path.realpath(path)
    with open('/proc/mounts') as f:
        for line in f:
            parts = line.split()
            mnt = parts[1]
            if (real == mnt or real.startswith(mnt.rstrip('/') + '/')) and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    return kind


def pattern(n):
    block = hashlib.sha256(b'sluice').digest() * (MIB // 32)
    return (block * (n // MIB + 1))[:n]


class ShrinkMixin:
    def open_conn(self):
        raise NotImplementedError

    def test_file_truncated_mid_body(self):
        path = os.path.join(self.root, 'shrink.bin')
        data = pattern(SIZE)
        write(path, data)
        c = self.open_conn()
        self.addCleanup(c.close)
        c.send(build_request('/shrink.bin'))
        head = c.read_head().decode('latin-1')
        self.assertIn(' 200 ', head.split('\r\n')[0])
        self.assertIn('Content-Length: %d' % SIZE, head)
        first = c.read_exact(MIB)
        self.assertEqual(first, data[:MIB])
        os.truncate(path, 2 * MIB)
        c.settimeout(20)
        rest = c.read_until_close()
        got = MIB + len(rest)
        self.assertLess(got, SIZE, 'the connection should end before the promised length')
        # Whatever arrived is the file's bytes, in order (nothing from elsewhere).
        self.assertEqual(rest[:MIB], data[MIB:MIB + len(rest[:MIB])])
        self.assertTrue(self.server.alive())
        r = self.fetch('/other.txt')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b'still here\n')


def populate(root):
    write(os.path.join(root, 'other.txt'), b'still here\n')
    write(os.path.join(root, 'big.bin'), pattern(8 * MIB))


class PlainShrink(ShrinkMixin, harness.ServerTestCase):
    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def open_conn(self):
        c = self.connect()
        return c

    def fetch(self, path):
        return self.get(path)


class TlsShrink(ShrinkMixin, tls_certs.TlsServerTestCase):
    server_args = ('--ktls', 'off')
    threads = 1

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')]

    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def open_conn(self):
        return self.tls()

    def fetch(self, path):
        return self.tls_get(path)

    def counters(self):
        before = self.server.stderr()
        self.server.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while time.time() < deadline:
            text = self.server.stderr()[len(before):]
            if 'sluice_record_body_truncated_total' in text:
                return {m.group(1): int(m.group(2))
                        for m in re.finditer(r'^(sluice_\w+) (\d+)$', text, re.M)}
            time.sleep(0.05)
        self.fail('no counters after SIGUSR1')

    def test_cold_file_is_read_through_the_ring(self):
        # Pages not in the page cache are never faulted in by the event loop: those chunks go
        # through IORING_OP_READ, the rest (cached again by those reads) through the mapping.
        path = os.path.join(self.root, 'cold.bin')
        want = pattern(6 * MIB)[::-1]
        write(path, want)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        before = self.counters()
        r = self.fetch('/cold.bin')
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(r.body).digest(), hashlib.sha256(want).digest())
        after = self.counters()
        sealed = after['sluice_record_sealed_bytes_total'] - before['sluice_record_sealed_bytes_total']
        mapped = (after['sluice_record_sealed_mapped_bytes_total']
                  - before['sluice_record_sealed_mapped_bytes_total'])
        self.assertGreaterEqual(sealed, 6 * MIB)
        if fs_type(path) in ('tmpfs', 'ramfs'):
            self.skipTest('page cache cannot be dropped on %s: read path not reached'
                          % fs_type(path))
        self.assertGreater(sealed - mapped, 0, 'no chunk went through the ring read path')

    def test_large_body_is_sealed_from_the_mapping(self):
        want = pattern(8 * MIB)
        before = self.counters()['sluice_record_sealed_mapped_bytes_total']
        for _ in range(2):  # the first request maps the file; both read it from the page cache
            r = self.fetch('/big.bin')
            self.assertEqual(r.status, 200)
            self.assertEqual(hashlib.sha256(r.body).digest(), hashlib.sha256(want).digest())
        after = self.counters()['sluice_record_sealed_mapped_bytes_total']
        self.assertGreaterEqual(after - before, 2 * 8 * MIB - 64 * 1024)


if __name__ == '__main__':
    harness.require_binary()
    unittest.main(verbosity=2)
