#!/usr/bin/env python3
"""Strict HTTP/1.1: chunked framing, trailers, Transfer-Encoding, Host, request-target forms,
OPTIONS. Every malformed request is followed by a pipelined one that must never be answered:
one 400 (or 501), then the connection closes."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

SMUGGLED = b'SMUGGLED-BODY\n'
# The request a broken framing would let through; its response body would give it away.
SMUGGLE = b'GET /smuggled.txt HTTP/1.1\r\nHost: localhost\r\n\r\n'
TE_HEAD = b'GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n'
ALLOW = 'GET, HEAD, OPTIONS'


class Strict(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'index.html'), b'<p>index</p>\n')
        write(os.path.join(root, 'a.txt'), b'AAAA\n')
        write(os.path.join(root, 'b.txt'), b'BBBB\n')
        write(os.path.join(root, 'smuggled.txt'), SMUGGLED)
        write(os.path.join(root, 'caf\u00e9.txt'), b'utf8 name\n')
        os.makedirs(os.path.join(root, 'dir'))
        write(os.path.join(root, 'dir', 'index.html'), b'<p>dir</p>\n')

    # -- helpers ------------------------------------------------------------------------------

    def refused(self, data, status=400, smuggle=True):
        """Sends `data` (plus a pipelined request): exactly one `status` answer, then a close."""
        c = self.connect()
        try:
            c.send(data + (SMUGGLE if smuggle else b''))
            r = c.read_response()
            self.assertStatus(r, status, 'for %r: %r' % (data[-60:], r))
            self.assertEqual(r.header('Connection'), 'close', repr(r))
            closed = c.closed_by_peer(3)
            self.assertNotIn(SMUGGLED, r.body + c.buf, 'smuggled request answered')
            self.assertTrue(closed, 'connection not closed after %d for %r; then got %r'
                            % (status, data[-60:], c.buf[:200]))
        finally:
            c.close()
        return r

    def exchange(self, data, n, heads=None):
        c = self.connect()
        try:
            c.send(data)
            return c.read_responses(n, heads)
        finally:
            c.close()

    # -- chunked framing -----------------------------------------------------------------------

    def test_junk_instead_of_crlf_after_data(self):
        for tail in (b'XX', b'X\n', b'\rX', b'\n', b''):
            with self.subTest(tail=tail):
                self.refused(TE_HEAD + b'5\r\nhello' + tail + b'0\r\n\r\n')

    def test_chunk_data_shorter_than_size(self):
        self.refused(TE_HEAD + b'6\r\nhello\r\n0\r\n\r\n')

    def test_chunk_size_overflow(self):
        for size in (b'10000000000000000', b'FFFFFFFFFFFFFFFFF', b'1' * 40):
            with self.subTest(size=size):
                self.refused(TE_HEAD + size + b'\r\nhello\r\n0\r\n\r\n')

    def test_chunk_size_fits_but_too_large_413(self):
        self.refused(TE_HEAD + b'FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n', 413)

    def test_junk_after_chunk_size(self):
        for line in (b'5x', b'5 ', b' 5', b'0x5', b'-5', b'', b'5\rX', b'5;'):
            with self.subTest(line=line):
                self.refused(TE_HEAD + line + b'\r\nhello\r\n0\r\n\r\n')

    def test_chunk_size_bare_lf(self):
        self.refused(TE_HEAD + b'5\nhello\r\n0\r\n\r\n')

    def test_chunk_extension_with_nul_cr_lf(self):
        for ext in (b';a\x00b', b';a=\x00', b';a="x\x00y"', b';a\rb', b';a="x\ry"', b';a=b\n',
                    b';a="x\ny"', b';a="x\x7fy"'):
            with self.subTest(ext=ext):
                self.refused(TE_HEAD + b'5' + ext + b'\r\nhello\r\n0\r\n\r\n')

    def test_chunk_extensions_accepted(self):
        rs = self.exchange(TE_HEAD + b'5;name="v a l";x\r\nhello\r\n0;last\r\n\r\n'
                           + build_request('/b.txt'), 2)
        self.assertEqual([r.status for r in rs], [200, 200])
        self.assertEqual([r.body for r in rs], [b'AAAA\n', b'BBBB\n'])

    def test_missing_final_crlf(self):
        # The pipelined request line would be read as a trailer field: it is not one.
        self.refused(TE_HEAD + b'5\r\nhello\r\n0\r\n')
        self.refused(TE_HEAD + b'5\r\nhello\r\n0\r\n\n', smuggle=True)
        self.refused(TE_HEAD + b'5\r\nhello\r\n0\r\nX-T: v\r\n')

    def test_valid_trailers_accepted(self):
        data = (TE_HEAD + b'5\r\nhello\r\n0\r\nX-Checksum: abc\r\nExpires: never\r\n\r\n'
                + build_request('/b.txt'))
        rs = self.exchange(data, 2)
        self.assertEqual([r.status for r in rs], [200, 200])
        self.assertEqual([r.body for r in rs], [b'AAAA\n', b'BBBB\n'])

    def test_trailers_change_nothing(self):
        # A Range or Host trailer is ignored: the full file is sent.
        rs = self.exchange(TE_HEAD + b'0\r\nRange: bytes=0-0\r\nHost: evil\r\n\r\n', 1)
        self.assertStatus(rs[0], 200)
        self.assertEqual(rs[0].body, b'AAAA\n')

    def test_malformed_trailers(self):
        for trailer in (b'X-A: 1\r\n folded\r\n', b' X-A: 1\r\n', b'X-A: 1\n', b'X-A 1\r\n',
                        b'X-A : 1\r\n', b'X A: 1\r\n', b': 1\r\n', b'X-A: a\x00b\r\n',
                        b'Connection: close\r\n', b'Content-Length: 5\r\n',
                        b'Transfer-Encoding: chunked\r\n'):
            with self.subTest(trailer=trailer):
                self.refused(TE_HEAD + b'5\r\nhello\r\n0\r\n' + trailer + b'\r\n')

    def test_body_that_looks_like_requests(self):
        # Chunk data is data: a request inside it is never answered; the one after it is.
        inner = SMUGGLE + SMUGGLE
        data = (TE_HEAD + b'%x\r\n' % len(inner) + inner + b'\r\n0\r\n\r\n'
                + build_request('/b.txt', close=True))
        c = self.connect()
        try:
            c.send(data)
            r1, r2 = c.read_response(), c.read_response()
            self.assertEqual((r1.status, r1.body), (200, b'AAAA\n'))
            self.assertEqual((r2.status, r2.body), (200, b'BBBB\n'))
            self.assertEqual(c.read_until_close(), b'')
        finally:
            c.close()

    def test_bad_chunk_in_a_later_segment(self):
        c = self.connect()
        try:
            c.send(TE_HEAD + b'5\r\nhel')
            time.sleep(0.1)
            c.send(b'lo')
            time.sleep(0.1)
            c.send(b'XX0\r\n\r\n' + SMUGGLE)
            r = c.read_response()
            self.assertStatus(r, 400)
            self.assertTrue(c.closed_by_peer(3))
            self.assertNotIn(SMUGGLED, c.buf)
        finally:
            c.close()

    # -- Transfer-Encoding ---------------------------------------------------------------------

    def test_empty_transfer_encoding(self):
        for method in (b'GET', b'POST'):
            with self.subTest(method=method):
                self.refused(method + b' /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n')
        self.refused(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n')

    def test_unknown_transfer_coding_501(self):
        for te in (b'gzip, chunked', b'x-frob, chunked'):
            with self.subTest(te=te):
                self.refused(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ' + te
                             + b'\r\n\r\n0\r\n\r\n', 501)

    def test_chunked_not_final_400(self):
        for te in (b'gzip', b'identity', b'chunked, gzip', b'chunked, chunked', b'chunked;x=1'):
            with self.subTest(te=te):
                self.refused(b'GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ' + te
                             + b'\r\n\r\n0\r\n\r\n')

    def test_transfer_encoding_in_http10(self):
        self.refused(b'GET /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')

    # -- Host ----------------------------------------------------------------------------------

    def test_bad_host(self):
        for lines in (b'Host: user@localhost\r\n', b'Host: user:pw@localhost\r\n',
                      b'Host: localhost/x\r\n', b'Host:\r\n', b'Host: \r\n',
                      b'Host: a, b\r\n', b'Host: a,b\r\n', b'Host: a\r\nHost: b\r\n',
                      b'Host: a\r\nHost: a\r\n', b'Host: a b\r\n', b'Host: a:x\r\n',
                      b'Host: [::1\r\n'):
            with self.subTest(lines=lines):
                self.refused(b'GET /a.txt HTTP/1.1\r\n' + lines + b'\r\n')

    def test_bad_host_http10(self):
        self.refused(b'GET /a.txt HTTP/1.0\r\nHost:\r\n\r\n')
        self.refused(b'GET /a.txt HTTP/1.0\r\nHost: u@h\r\n\r\n')

    def test_good_hosts(self):
        for host in ('localhost', 'localhost:8080', '127.0.0.1', '[::1]:80', 'example.com.'):
            with self.subTest(host=host):
                r = self.get('/a.txt', host=host)
                self.assertStatus(r, 200)

    # -- request-target ------------------------------------------------------------------------

    def test_overlong_and_invalid_utf8_400(self):
        for target in ('/%C0%AE%C0%AE/a.txt', '/%C0%AE', '/dir/%C0%AE%C0%AE/a.txt',
                       '/%E0%80%AE/a.txt', '/caf%C3', '/caf%E9.txt', '/%ED%A0%80',
                       '/%F4%90%80%80', '/%80'):
            with self.subTest(target=target):
                self.refused(build_request(target))

    def test_valid_utf8_served(self):
        r = self.get('/caf%C3%A9.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'utf8 name\n')

    def test_raw_non_ascii_target_400(self):
        self.refused(b'GET /caf\xc3\xa9.txt HTTP/1.1\r\nHost: x\r\n\r\n')

    def test_absolute_form(self):
        for target in ('http://example.com/a.txt', 'HTTP://EXAMPLE.COM/a.txt',
                       'https://example.com:8443/a.txt', 'http://[::1]/a.txt?q=1'):
            with self.subTest(target=target):
                r = self.get(target, host='other.example')
                self.assertStatus(r, 200)
                self.assertEqual(r.body, b'AAAA\n')

    def test_absolute_form_paths(self):
        r = self.get('http://example.com')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'<p>index</p>\n')
        r = self.get('http://example.com/dir?x=1')
        self.assertStatus(r, 301)
        self.assertEqual(r.header('Location'), '/dir/?x=1')
        self.assertStatus(self.get('http://example.com/nope'), 404)

    def test_absolute_form_keepalive(self):
        data = (build_request('http://h/a.txt') + build_request('/b.txt')
                + build_request('http://h/smuggled.txt', method='HEAD'))
        rs = self.exchange(data, 3, heads=[False, False, True])
        self.assertEqual([r.status for r in rs], [200, 200, 200])
        self.assertEqual([r.body for r in rs[:2]], [b'AAAA\n', b'BBBB\n'])

    def test_absolute_form_refused(self):
        for target, host in (('http://example.com/a.txt', False),   # Host still required
                             ('ftp://example.com/a.txt', True),
                             ('ws://example.com/a.txt', True),
                             ('http://user@example.com/a.txt', True),
                             ('http:///a.txt', True),
                             ('http://example.com/%C0%AE', True)):
            with self.subTest(target=target):
                self.refused(build_request(target, host=host))

    def test_asterisk_form_other_methods_400(self):
        for method in ('GET', 'HEAD', 'DELETE'):
            with self.subTest(method=method):
                self.refused(build_request('*', method=method))
        self.refused(build_request('*x', method='OPTIONS'))

    # -- OPTIONS and Allow ---------------------------------------------------------------------

    def check_options(self, r):
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Allow'), ALLOW)
        self.assertEqual(r.header('Content-Length'), '0')
        self.assertEqual(r.body, b'')

    def test_options_asterisk(self):
        c = self.connect()
        try:
            c.send(build_request('*', method='OPTIONS'))
            self.check_options(c.read_response())
            # The connection stays usable.
            c.send(build_request('/a.txt'))
            self.assertEqual(c.read_response().body, b'AAAA\n')
        finally:
            c.close()

    def test_options_path(self):
        for target in ('/a.txt', '/nope', '/dir/', 'http://h/a.txt'):
            with self.subTest(target=target):
                self.check_options(self.get(target, method='OPTIONS'))
        self.refused(build_request('/%C0%AE', method='OPTIONS'))

    def test_options_http10(self):
        c = self.connect()
        try:
            c.send(b'OPTIONS * HTTP/1.0\r\n\r\n')
            self.check_options(c.read_response())
            self.assertTrue(c.closed_by_peer(3))
        finally:
            c.close()

    def test_405_allow_lists_the_same_methods(self):
        for method in ('POST', 'PUT', 'DELETE', 'FROB'):
            with self.subTest(method=method):
                r = self.get('/a.txt', method=method)
                self.assertStatus(r, 405)
                self.assertEqual(r.header('Allow'), ALLOW)

    def test_connect(self):
        r = self.refused(build_request('localhost:443', method='CONNECT'), 405)
        self.assertEqual(r.header('Allow'), ALLOW)
        self.refused(build_request('/a.txt', method='CONNECT'))

    def test_server_alive(self):
        self.assertEqual(self.get('/a.txt').body, b'AAAA\n')


if __name__ == '__main__':
    harness.main()
