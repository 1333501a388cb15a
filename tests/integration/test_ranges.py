#!/usr/bin/env python3
"""Range requests: single, suffix, open-ended, multipart, 416, invalid syntax, If-Range."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, http_date, write  # noqa: E402

DATA = bytes((i * 31 + 7) % 251 for i in range(1000))
LEN = len(DATA)
MTIME = 1_600_000_000


def parse_multipart(resp):
    ct = resp.header('Content-Type') or ''
    m = re.match(r'^multipart/byteranges;\s*boundary=("?)([^";]+)\1\s*$', ct)
    assert m, 'bad multipart Content-Type %r' % ct
    boundary = m.group(2).encode()
    body = resp.body
    delim = b'--' + boundary
    assert body.find(delim) >= 0, 'boundary not found in body'
    pieces = body.split(delim)
    # pieces[0] is the preamble (usually empty or CRLF); the last starts with "--" (close).
    assert pieces[-1].startswith(b'--'), 'missing closing delimiter: %r' % pieces[-1][:50]
    parts = []
    for piece in pieces[1:-1]:
        assert piece.startswith(b'\r\n'), 'part does not start with CRLF: %r' % piece[:40]
        head, sep, rest = piece[2:].partition(b'\r\n\r\n')
        assert sep, 'part without header terminator'
        assert rest.endswith(b'\r\n'), 'part body not followed by CRLF'
        hdrs = {}
        for line in head.split(b'\r\n'):
            k, v = line.split(b':', 1)
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        parts.append((hdrs, rest[:-2]))
    return parts


class Ranges(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'data.bin'), DATA)
        write(os.path.join(root, 'd.txt'), DATA)
        os.utime(os.path.join(root, 'data.bin'), (MTIME, MTIME))

    def rng(self, spec, path='/data.bin', extra=None):
        h = {'Range': spec}
        h.update(extra or {})
        return self.get(path, headers=h)

    def check_206(self, r, first, last):
        self.assertStatus(r, 206)
        self.assertEqual(r.header('Content-Range'), 'bytes %d-%d/%d' % (first, last, LEN))
        self.assertEqual(r.header('Content-Length'), str(last - first + 1))
        self.assertEqual(r.body, DATA[first:last + 1])

    def test_first_100(self):
        r = self.rng('bytes=0-99')
        self.check_206(r, 0, 99)
        self.assertEqual(r.header('Content-Type'), 'application/octet-stream')
        self.assertEqual(r.header('Accept-Ranges'), 'bytes')
        self.assertIsNotNone(r.header('ETag'))

    def test_middle(self):
        self.check_206(self.rng('bytes=500-509'), 500, 509)

    def test_single_byte(self):
        self.check_206(self.rng('bytes=0-0'), 0, 0)
        self.check_206(self.rng('bytes=999-999'), 999, 999)

    def test_suffix(self):
        self.check_206(self.rng('bytes=-100'), 900, 999)

    def test_suffix_larger_than_file(self):
        self.check_206(self.rng('bytes=-5000'), 0, 999)

    def test_open_ended(self):
        self.check_206(self.rng('bytes=100-'), 100, 999)

    def test_last_past_end_clamped(self):
        self.check_206(self.rng('bytes=990-5000'), 990, 999)

    def test_multipart(self):
        r = self.rng('bytes=0-9,20-29,-5')
        self.assertStatus(r, 206)
        self.assertIsNone(r.header('Content-Range'), 'multipart must not carry a top Content-Range')
        self.assertEqual(int(r.header('Content-Length')), len(r.body))
        parts = parse_multipart(r)
        self.assertEqual(len(parts), 3)
        want = [(0, 9), (20, 29), (995, 999)]
        for (hdrs, body), (a, b) in zip(parts, want):
            self.assertEqual(hdrs.get('content-range'), 'bytes %d-%d/%d' % (a, b, LEN))
            self.assertEqual(body, DATA[a:b + 1])

    def test_multipart_text_type(self):
        r = self.rng('bytes=1-2,10-20', path='/d.txt')
        self.assertStatus(r, 206)
        parts = parse_multipart(r)
        self.assertEqual(len(parts), 2)
        self.assertEqual(parts[0][1], DATA[1:3])
        self.assertEqual(parts[1][1], DATA[10:21])

    def test_multipart_then_keepalive(self):
        c = self.connect()
        try:
            c.send(build_request('/data.bin', headers={'Range': 'bytes=0-1,5-6'}))
            r = c.read_response()
            self.assertStatus(r, 206)
            self.assertEqual(len(parse_multipart(r)), 2)
            c.send(build_request('/data.bin', headers={'Range': 'bytes=3-4'}))
            self.assertEqual(c.read_response().body, DATA[3:5])
        finally:
            c.close()

    def test_unsatisfiable(self):
        r = self.rng('bytes=%d-' % LEN)
        self.assertStatus(r, 416)
        self.assertEqual(r.header('Content-Range'), 'bytes */%d' % LEN)

    def test_unsatisfiable_far(self):
        r = self.rng('bytes=5000-6000')
        self.assertStatus(r, 416)
        self.assertEqual(r.header('Content-Range'), 'bytes */%d' % LEN)

    def test_unsatisfiable_keeps_connection(self):
        c = self.connect()
        try:
            c.send(build_request('/data.bin', headers={'Range': 'bytes=%d-' % LEN}))
            self.assertStatus(c.read_response(), 416)
            c.send(build_request('/data.bin', headers={'Range': 'bytes=0-3'}))
            self.assertEqual(c.read_response().body, DATA[:4])
        finally:
            c.close()

    def test_invalid_syntax_full(self):
        for spec in ('bytes=abc', 'bytes=', 'bytes=5-1', 'items=0-5', 'bytes=--5', 'bytes=1-2-3'):
            with self.subTest(spec=spec):
                r = self.rng(spec)
                self.assertStatus(r, 200)
                self.assertEqual(r.body, DATA)
                self.assertIsNone(r.header('Content-Range'))

    def test_head_with_range(self):
        c = self.connect()
        try:
            c.send(build_request('/data.bin', method='HEAD', headers={'Range': 'bytes=0-99'}))
            r = c.read_response(head=True)
            self.assertIn(r.status, (200, 206), repr(r))
            c.send(build_request('/data.bin', headers={'Range': 'bytes=0-9'}))
            r2 = c.read_response()
            self.assertEqual(r2.body, DATA[:10], 'HEAD response carried a body?')
        finally:
            c.close()

    def test_if_range_current_etag(self):
        etag = self.get('/data.bin').header('ETag')
        self.check_206(self.rng('bytes=0-99', extra={'If-Range': etag}), 0, 99)

    def test_if_range_old_etag(self):
        r = self.rng('bytes=0-99', extra={'If-Range': '"definitely-not-the-etag"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_if_range_weak_etag_never_matches(self):
        etag = self.get('/data.bin').header('ETag')
        r = self.rng('bytes=0-99', extra={'If-Range': 'W/' + etag})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_if_range_last_modified(self):
        lm = self.get('/data.bin').header('Last-Modified')
        self.assertEqual(lm, http_date(MTIME))
        self.check_206(self.rng('bytes=0-99', extra={'If-Range': lm}), 0, 99)

    def test_if_range_other_date(self):
        r = self.rng('bytes=0-99', extra={'If-Range': http_date(MTIME - 3600)})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_curl_range(self):
        p = harness.curl('-r', '10-19', self.server.url('/data.bin'))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, DATA[10:20])


if __name__ == '__main__':
    harness.main()
