#!/usr/bin/env python3
"""Precompressed siblings (.gz/.br/.zst) chosen by Accept-Encoding."""

import gzip
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

PLAIN = b'The quick brown fox jumps over the lazy dog.\n' * 50
GZ = gzip.compress(PLAIN, mtime=0)
# The server never decodes siblings, so distinct recognisable bytes are enough for br/zst.
BR = b'BR-SIBLING-' + bytes(range(200)) + b'-END'
ZST = b'\x28\xb5\x2f\xfd ZSTD-SIBLING ' + bytes(range(100, 180))
ONLY_BR_PLAIN = b'only a brotli sibling\n' * 10
ONLY_BR = b'BR-ONLY-' + bytes(range(64))


def vary_has_ae(r):
    vals = ','.join(r.headers_all('Vary')).lower()
    return 'accept-encoding' in [v.strip() for v in vals.split(',')]


class Encoding(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'f.txt'), PLAIN)
        write(os.path.join(root, 'f.txt.gz'), GZ)
        write(os.path.join(root, 'f.txt.br'), BR)
        write(os.path.join(root, 'f.txt.zst'), ZST)
        write(os.path.join(root, 'g.txt'), ONLY_BR_PLAIN)
        write(os.path.join(root, 'g.txt.br'), ONLY_BR)
        write(os.path.join(root, 'plain.txt'), b'no siblings\n')

    def ae(self, value, path='/f.txt', extra=None):
        h = {}
        if value is not None:
            h['Accept-Encoding'] = value
        h.update(extra or {})
        return self.get(path, headers=h)

    def assertVariant(self, r, body, coding):
        self.assertStatus(r, 200)
        self.assertEqual(r.body, body, 'wrong variant for coding %r' % coding)
        self.assertEqual(r.header('Content-Length'), str(len(body)))
        if coding is None:
            self.assertIsNone(r.header('Content-Encoding'), repr(r))
        else:
            self.assertEqual(r.header('Content-Encoding'), coding)
        self.assertEqual(r.header('Content-Type'), 'text/plain; charset=utf-8')
        self.assertTrue(vary_has_ae(r), 'missing Vary: Accept-Encoding\n%r' % r)

    def test_gzip(self):
        r = self.ae('gzip')
        self.assertVariant(r, GZ, 'gzip')
        ident = self.ae(None)
        self.assertTrue(harness.strong_etag(r.header('ETag')), r.header('ETag'))
        self.assertNotEqual(r.header('ETag'), ident.header('ETag'))
        self.assertEqual(gzip.decompress(r.body), PLAIN)

    def test_br(self):
        self.assertVariant(self.ae('br'), BR, 'br')

    def test_zstd(self):
        self.assertVariant(self.ae('zstd'), ZST, 'zstd')

    def test_variant_etags_distinct(self):
        tags = {self.ae(v).header('ETag') for v in (None, 'gzip', 'br', 'zstd')}
        self.assertEqual(len(tags), 4, tags)

    def test_br_preferred_on_tie(self):
        self.assertVariant(self.ae('gzip, br'), BR, 'br')
        self.assertVariant(self.ae('br, gzip'), BR, 'br')
        self.assertVariant(self.ae('gzip, deflate, br'), BR, 'br')

    def test_qvalues(self):
        self.assertVariant(self.ae('gzip;q=1, br;q=0.5'), GZ, 'gzip')
        self.assertVariant(self.ae('gzip;q=0.2, br;q=0.9'), BR, 'br')

    def test_q0_only_sibling_identity(self):
        r = self.ae('br;q=0', path='/g.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, ONLY_BR_PLAIN)
        self.assertIsNone(r.header('Content-Encoding'))

    def test_only_br_sibling_chosen(self):
        r = self.ae('gzip, br', path='/g.txt')
        self.assertEqual(r.body, ONLY_BR)
        self.assertEqual(r.header('Content-Encoding'), 'br')

    def test_gzip_requested_but_absent(self):
        r = self.ae('gzip', path='/g.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, ONLY_BR_PLAIN)
        self.assertIsNone(r.header('Content-Encoding'))

    def test_no_accept_encoding_identity(self):
        self.assertVariant(self.ae(None), PLAIN, None)

    def test_identity_only(self):
        self.assertVariant(self.ae('identity'), PLAIN, None)

    def test_gzip_q0(self):
        r = self.ae('gzip;q=0')
        self.assertEqual(r.body, PLAIN)
        self.assertIsNone(r.header('Content-Encoding'))

    def test_no_siblings_plain(self):
        r = self.ae('gzip, br, zstd', path='/plain.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'no siblings\n')
        self.assertIsNone(r.header('Content-Encoding'))

    def test_head_gzip(self):
        c = self.connect()
        try:
            c.send(build_request('/f.txt', method='HEAD', headers={'Accept-Encoding': 'gzip'}))
            r = c.read_response(head=True)
            self.assertStatus(r, 200)
            self.assertEqual(r.header('Content-Length'), str(len(GZ)))
            self.assertEqual(r.header('Content-Encoding'), 'gzip')
        finally:
            c.close()

    def test_range_on_compressed_variant(self):
        r = self.ae('gzip', extra={'Range': 'bytes=0-9'})
        self.assertStatus(r, 206)
        self.assertEqual(r.body, GZ[:10])
        self.assertEqual(r.header('Content-Range'), 'bytes 0-9/%d' % len(GZ))
        self.assertEqual(r.header('Content-Encoding'), 'gzip')
        r = self.ae('br', extra={'Range': 'bytes=-4'})
        self.assertStatus(r, 206)
        self.assertEqual(r.body, BR[-4:])
        self.assertEqual(r.header('Content-Range'), 'bytes %d-%d/%d' % (len(BR) - 4, len(BR) - 1, len(BR)))

    def test_conditional_on_variant(self):
        etag = self.ae('gzip').header('ETag')
        r = self.ae('gzip', extra={'If-None-Match': etag})
        self.assertStatus(r, 304)
        self.assertEqual(r.header('ETag'), etag)
        # the gzip ETag does not validate the identity representation
        r = self.ae(None, extra={'If-None-Match': etag})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, PLAIN)

    def test_curl_compressed(self):
        p = harness.curl('--compressed', '-H', 'Accept-Encoding: gzip', self.server.url('/f.txt'))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, PLAIN)


if __name__ == '__main__':
    harness.main()
