#!/usr/bin/env python3
"""A 1 GiB sparse file: full download hash and exact ranges across the written bytes."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request  # noqa: E402

SIZE = 1 << 30
MARKS = {
    0: b'START-OF-FILE',
    123_456_789: b'\x01\x02\x03\x04 mark one',
    (1 << 29) - 5: b'CROSS-512MiB-BOUNDARY',
    SIZE - 9: b'END-OF-IT',
}


def expected_bytes(first, last):
    """Bytes [first, last] of the sparse file, computed without reading it."""
    out = bytearray(last - first + 1)
    for off, data in MARKS.items():
        for i, b in enumerate(data):
            p = off + i
            if first <= p <= last:
                out[p - first] = b
    return bytes(out)


class Big(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        path = os.path.join(root, 'huge.bin')
        with open(path, 'wb') as f:
            f.truncate(SIZE)
            for off, data in MARKS.items():
                f.seek(off)
                f.write(data)
        cls.path = path

    def test_head_length(self):
        c = self.connect()
        try:
            c.send(build_request('/huge.bin', method='HEAD'))
            r = c.read_response(head=True)
            self.assertStatus(r, 200)
            self.assertEqual(r.header('Content-Length'), str(SIZE))
        finally:
            c.close()

    def test_full_download_sha256(self):
        want = harness.sha256_file(self.path)
        digest, n, rc, err = harness.curl_sha256(self.server.url('/huge.bin'), timeout=50)
        self.assertEqual(rc, 0, err)
        self.assertEqual(n, SIZE)
        self.assertEqual(digest, want)

    def range(self, spec):
        return self.get('/huge.bin', headers={'Range': spec})

    def test_range_start(self):
        r = self.range('bytes=0-31')
        self.assertStatus(r, 206)
        self.assertEqual(r.header('Content-Range'), 'bytes 0-31/%d' % SIZE)
        self.assertEqual(r.body, expected_bytes(0, 31))

    def test_range_crossing_mark(self):
        a = (1 << 29) - 100
        b = (1 << 29) + 100
        r = self.range('bytes=%d-%d' % (a, b))
        self.assertStatus(r, 206)
        self.assertEqual(r.header('Content-Range'), 'bytes %d-%d/%d' % (a, b, SIZE))
        self.assertEqual(r.body, expected_bytes(a, b))
        self.assertIn(b'CROSS-512MiB-BOUNDARY', r.body)

    def test_range_suffix(self):
        r = self.range('bytes=-64')
        self.assertStatus(r, 206)
        self.assertEqual(r.header('Content-Range'), 'bytes %d-%d/%d' % (SIZE - 64, SIZE - 1, SIZE))
        self.assertEqual(r.body, expected_bytes(SIZE - 64, SIZE - 1))
        self.assertTrue(r.body.endswith(b'END-OF-IT'))

    def test_range_mark_one_exact(self):
        off = 123_456_789
        r = self.range('bytes=%d-%d' % (off - 3, off + 20))
        self.assertStatus(r, 206)
        self.assertEqual(r.body, expected_bytes(off - 3, off + 20))

    def test_range_large_middle(self):
        a = (1 << 29) - (4 << 20)
        b = (1 << 29) + (4 << 20) - 1
        p = harness.curl('-r', '%d-%d' % (a, b), self.server.url('/huge.bin'))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout), b - a + 1)
        self.assertEqual(p.stdout, expected_bytes(a, b))

    def test_multirange_big(self):
        r = self.range('bytes=0-12,%d-%d' % (SIZE - 9, SIZE - 1))
        self.assertStatus(r, 206)
        self.assertIn(b'START-OF-FILE', r.body)
        self.assertIn(b'END-OF-IT', r.body)
        self.assertIn(('bytes %d-%d/%d' % (SIZE - 9, SIZE - 1, SIZE)).encode(), r.body)


if __name__ == '__main__':
    harness.main()
