#!/usr/bin/env python3
"""GET/HEAD, response headers, MIME types, 405, HTTP/1.0, keep-alive, pipelining."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import IMF_FIXDATE, build_request, parse_http_date, strong_etag, write  # noqa: E402

INDEX = b'<!doctype html><title>sluice</title><p>hello</p>\n'
CSS = b'body { color: red; }\n'
PNG = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4
TXT = 'plain text \u00e9\n'.encode()
UNKNOWN = b'\x00\x01\x02 unknown extension\n'


class Basic(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'index.html'), INDEX)
        write(os.path.join(root, 'style.css'), CSS)
        write(os.path.join(root, 'pic.png'), PNG)
        write(os.path.join(root, 'a.txt'), TXT)
        write(os.path.join(root, 'blob.zzqqx'), UNKNOWN)
        write(os.path.join(root, 'noext'), UNKNOWN)
        write(os.path.join(root, 'a b.txt'), b'space\n')
        write(os.path.join(root, 'empty.txt'), b'')
        for i in range(10):
            write(os.path.join(root, 'p%d.txt' % i), ('pipelined file %d\n' % i).encode() * (i + 1))
        os.utime(os.path.join(root, 'a.txt'), (1_700_000_000, 1_700_000_000))

    def test_get_index(self):
        r = self.get('/index.html')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, INDEX)
        self.assertEqual(r.version, 'HTTP/1.1')
        self.assertEqual(r.header('Content-Length'), str(len(INDEX)))

    def test_get_root_serves_index(self):
        r = self.get('/')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, INDEX)

    def test_required_headers(self):
        r = self.get('/a.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Server'), 'sluice')
        self.assertIsNotNone(r.header('Date'), repr(r))
        self.assertEqual(r.header('Content-Length'), str(len(TXT)))
        self.assertEqual(r.header('Accept-Ranges'), 'bytes')
        self.assertTrue(strong_etag(r.header('ETag')), 'ETag not strong/quoted: %r' % r.header('ETag'))
        lm = r.header('Last-Modified')
        self.assertIsNotNone(lm, repr(r))
        self.assertRegex(lm, IMF_FIXDATE)
        self.assertEqual(parse_http_date(lm), 1_700_000_000)

    def test_date_header(self):
        r = self.get('/a.txt')
        d = r.header('Date')
        self.assertRegex(d or '', IMF_FIXDATE)
        self.assertLess(abs(parse_http_date(d) - time.time()), 5)

    def test_single_server_and_date_header(self):
        r = self.get('/a.txt')
        self.assertEqual(len(r.headers_all('Server')), 1)
        self.assertEqual(len(r.headers_all('Date')), 1)
        self.assertEqual(len(r.headers_all('Content-Length')), 1)

    def test_mime_html(self):
        self.assertEqual(self.get('/index.html').header('Content-Type'), 'text/html; charset=utf-8')

    def test_mime_css(self):
        self.assertEqual(self.get('/style.css').header('Content-Type'), 'text/css; charset=utf-8')

    def test_mime_png(self):
        r = self.get('/pic.png')
        self.assertEqual(r.header('Content-Type'), 'image/png')
        self.assertEqual(r.body, PNG)

    def test_mime_txt(self):
        self.assertEqual(self.get('/a.txt').header('Content-Type'), 'text/plain; charset=utf-8')

    def test_mime_unknown(self):
        r = self.get('/blob.zzqqx')
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Content-Type'), 'application/octet-stream')
        self.assertEqual(r.body, UNKNOWN)

    def test_mime_no_extension(self):
        r = self.get('/noext')
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Content-Type'), 'application/octet-stream')

    def test_percent_encoded_name(self):
        r = self.get('/a%20b.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'space\n')

    def test_query_string_ignored(self):
        r = self.get('/a.txt?x=1&y=2')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, TXT)

    def test_empty_file(self):
        r = self.get('/empty.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Content-Length'), '0')
        self.assertEqual(r.body, b'')

    def test_404(self):
        r = self.get('/no-such-file.txt')
        self.assertStatus(r, 404)
        self.assertEqual(r.version, 'HTTP/1.1')
        self.assertEqual(r.header('Server'), 'sluice')

    def test_404_keeps_connection(self):
        c = self.connect()
        try:
            c.send(build_request('/missing'))
            self.assertStatus(c.read_response(), 404)
            c.send(build_request('/a.txt'))
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, TXT)
        finally:
            c.close()

    def test_head(self):
        g = self.get('/style.css')
        c = self.connect()
        try:
            c.send(build_request('/style.css', method='HEAD'))
            h = c.read_response(head=True)
            self.assertStatus(h, 200)
            self.assertEqual(h.header('Content-Length'), str(len(CSS)))
            self.assertEqual(h.header('Content-Type'), 'text/css; charset=utf-8')
            self.assertEqual(h.header('ETag'), g.header('ETag'))
            self.assertEqual(h.header('Last-Modified'), g.header('Last-Modified'))
            self.assertEqual(h.header('Accept-Ranges'), 'bytes')
            # No body may follow: the next response on this connection must start cleanly.
            c.send(build_request('/index.html'))
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, INDEX)
        finally:
            c.close()

    def test_head_then_close_sends_no_body(self):
        c = self.connect()
        try:
            c.send(build_request('/pic.png', method='HEAD', close=True))
            h = c.read_response(head=True)
            self.assertStatus(h, 200)
            self.assertEqual(h.header('Content-Length'), str(len(PNG)))
            rest = c.read_until_close()
            self.assertEqual(rest, b'', 'bytes after a HEAD response')
        finally:
            c.close()

    def test_405(self):
        for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'TRACE'):
            with self.subTest(method=method):
                r = self.get('/a.txt', method=method)
                self.assertStatus(r, 405)
                self.assertEqual(r.header('Allow'), 'GET, HEAD, OPTIONS')
                self.assertEqual(r.version, 'HTTP/1.1')

    def test_405_unknown_token_method(self):
        # "other methods -> 405": also for a syntactically valid but unregistered method
        r = self.get('/a.txt', method='FROB')
        self.assertStatus(r, 405)
        self.assertEqual(r.header('Allow'), 'GET, HEAD, OPTIONS')

    def test_405_with_body(self):
        c = self.connect()
        try:
            c.send(build_request('/a.txt', method='POST', headers={'Content-Length': '5'},
                                 body=b'hello'))
            r = c.read_response()
            self.assertStatus(r, 405)
            self.assertEqual(r.header('Allow'), 'GET, HEAD, OPTIONS')
        finally:
            c.close()

    def test_http10_closes(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.0\r\n\r\n')
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.version, 'HTTP/1.1')
            self.assertEqual(r.body, TXT)
            self.assertTrue(c.closed_by_peer(3), 'HTTP/1.0 connection not closed after response')
        finally:
            c.close()

    def test_http10_keepalive(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, TXT)
            self.assertEqual(r.version, 'HTTP/1.1')
            c.send(b'GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, CSS)
        finally:
            c.close()

    def test_keepalive_default_11(self):
        c = self.connect()
        try:
            for i in range(5):
                c.send(build_request('/p%d.txt' % i))
                r = c.read_response()
                self.assertStatus(r, 200)
                self.assertEqual(r.body, ('pipelined file %d\n' % i).encode() * (i + 1))
        finally:
            c.close()

    def test_connection_close_honoured(self):
        c = self.connect()
        try:
            c.send(build_request('/a.txt', close=True))
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, TXT)
            self.assertTrue(c.closed_by_peer(3), 'connection not closed after Connection: close')
        finally:
            c.close()

    def test_pipelining_100(self):
        reqs = []
        expect = []
        for i in range(100):
            k = (i * 7) % 10
            reqs.append(build_request('/p%d.txt' % k))
            expect.append(('pipelined file %d\n' % k).encode() * (k + 1))
        c = self.connect()
        try:
            c.send(b''.join(reqs))
            for i in range(100):
                r = c.read_response()
                self.assertStatus(r, 200, 'response %d: %r' % (i, r))
                self.assertEqual(r.body, expect[i], 'response %d out of order or wrong' % i)
            # connection still usable
            c.send(build_request('/a.txt'))
            self.assertEqual(c.read_response().body, TXT)
        finally:
            c.close()

    def test_pipelining_mixed(self):
        # GET, HEAD, 404 and 405 interleaved, the last one with Connection: close.
        seq = [('GET', '/p1.txt'), ('HEAD', '/p2.txt'), ('GET', '/nope'), ('GET', '/p3.txt'),
               ('HEAD', '/index.html'), ('GET', '/empty.txt'), ('GET', '/p4.txt')]
        data = b''.join(build_request(p, method=m) for m, p in seq)
        data += build_request('/p5.txt', close=True)
        c = self.connect()
        try:
            c.send(data)
            out = [c.read_response(head=(m == 'HEAD')) for m, _ in seq]
            last = c.read_response()
            self.assertEqual([r.status for r in out], [200, 200, 404, 200, 200, 200, 200])
            self.assertEqual(out[0].body, b'pipelined file 1\n' * 2)
            self.assertEqual(out[1].header('Content-Length'), str(len(b'pipelined file 2\n' * 3)))
            self.assertEqual(out[3].body, b'pipelined file 3\n' * 4)
            self.assertEqual(out[6].body, b'pipelined file 4\n' * 5)
            self.assertEqual(last.body, b'pipelined file 5\n' * 6)
            self.assertEqual(c.read_until_close(), b'')
        finally:
            c.close()

    def test_pipelining_byte_by_byte(self):
        data = build_request('/p6.txt') + build_request('/p7.txt')
        c = self.connect()
        try:
            for b in data:
                c.send(bytes([b]))
            r1, r2 = c.read_response(), c.read_response()
            self.assertEqual(r1.body, b'pipelined file 6\n' * 7)
            self.assertEqual(r2.body, b'pipelined file 7\n' * 8)
        finally:
            c.close()

    def test_header_names_case_insensitive(self):
        c = self.connect()
        try:
            c.send(b'GET /a.txt HTTP/1.1\r\nhOsT: localhost\r\nconnection: CLOSE\r\n\r\n')
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertTrue(c.closed_by_peer(3))
        finally:
            c.close()

    def test_curl(self):
        p = harness.curl('-D', '-', self.server.url('/style.css'))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b'HTTP/1.1 200', p.stdout)
        self.assertTrue(p.stdout.endswith(CSS))


if __name__ == '__main__':
    harness.main()
