#!/usr/bin/env python3
"""HTTP over TLS behaves like plain HTTP (GET/HEAD, keep-alive, pipelining, ranges,
conditionals, precompressed variants) on TLS 1.2 and 1.3; a request sent in the same TCP
segment as the client's Finished is answered; access log lines of TLS requests carry the
version, the suite and the record mode."""

import gzip
import os
import re
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import build_request, write  # noqa: E402

PLAIN = b'The quick brown fox jumps over the lazy dog.\n' * 50
GZ = gzip.compress(PLAIN, mtime=0)
DATA = bytes(range(256)) * 400          # 102400 bytes: streamed, not cached (> 64K)
SMALL = b'small file body\n'
MODES = r'\b(user|kernel-sw|kernel-hw|mixed)\b'


def populate(root, tmp=None):
    write(os.path.join(root, 'f.txt'), PLAIN)
    write(os.path.join(root, 'f.txt.gz'), GZ)
    write(os.path.join(root, 'data.bin'), DATA)
    write(os.path.join(root, 'small.txt'), SMALL)
    write(os.path.join(root, 'index.html'), b'<p>index</p>\n')
    for v in ('12', '13'):
        write(os.path.join(root, 'log%s.txt' % v), b'log ' + v.encode() + b'\n')


class HttpOverTls(tls_certs.TlsServerTestCase):
    version = None    # set by subclasses

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')]

    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def conn(self, **kw):
        kw.setdefault('version', self.version)
        c = tls_certs.tls_connect(self.server, **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.ssl.version(), 'TLSv' + self.version)
        return c

    def one(self, path, method='GET', headers=None):
        c = self.conn()
        c.send(build_request(path, method=method, headers=headers, close=True))
        return c.read_response(head=(method == 'HEAD'))

    def test_get(self):
        r = self.one('/small.txt')
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.body, SMALL)
        self.assertEqual(r.header('Content-Length'), str(len(SMALL)))
        r = self.one('/data.bin')
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.body, DATA)

    def test_index_and_404(self):
        self.assertEqual(self.one('/').body, b'<p>index</p>\n')
        self.assertEqual(self.one('/no-such-file').status, 404)

    def test_head(self):
        r = self.one('/data.bin', method='HEAD')
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Length'), str(len(DATA)))
        # nothing follows a HEAD response: the connection closes cleanly
        c = self.conn()
        c.send(build_request('/data.bin', method='HEAD') + build_request('/small.txt',
                                                                         close=True))
        h = c.read_response(head=True)
        self.assertEqual(h.header('Content-Length'), str(len(DATA)))
        self.assertEqual(c.read_response().body, SMALL)

    def test_same_headers_as_plain(self):
        for path in ('/small.txt', '/data.bin', '/f.txt'):
            t = self.one(path)
            p = self.server.get(path)
            for h in ('Content-Type', 'Content-Length', 'ETag', 'Last-Modified',
                      'Accept-Ranges'):
                self.assertEqual(t.header(h), p.header(h), '%s %s' % (path, h))
            self.assertEqual(t.body, p.body)

    def test_keepalive(self):
        c = self.conn()
        for i in range(20):
            path = ('/small.txt', '/data.bin', '/f.txt')[i % 3]
            c.send(build_request(path))
            r = c.read_response()
            self.assertEqual(r.status, 200, 'request %d: %r' % (i, r))
            self.assertEqual(len(r.body), {'/small.txt': len(SMALL), '/data.bin': len(DATA),
                                           '/f.txt': len(PLAIN)}[path])
        c.send(build_request('/small.txt', close=True))
        self.assertEqual(c.read_response().body, SMALL)
        self.assertTrue(c.closed_by_peer(3.0), 'not closed after Connection: close')

    def test_pipelining(self):
        c = self.conn()
        reqs = [build_request('/small.txt'), build_request('/data.bin'),
                build_request('/f.txt', method='HEAD'), build_request('/missing'),
                build_request('/data.bin', headers={'Range': 'bytes=10-19'}),
                build_request('/f.txt', close=True)]
        c.send(b''.join(reqs))
        rs = c.read_responses(6, heads=[False, False, True, False, False, False])
        self.assertEqual([r.status for r in rs], [200, 200, 200, 404, 206, 200])
        self.assertEqual(rs[0].body, SMALL)
        self.assertEqual(rs[1].body, DATA)
        self.assertEqual(rs[4].body, DATA[10:20])
        self.assertEqual(rs[5].body, PLAIN)
        self.assertTrue(c.closed_by_peer(3.0))

    def test_pipelining_many_small(self):
        c = self.conn()
        n = 100
        c.send(b''.join(build_request('/small.txt') for _ in range(n)) +
               build_request('/small.txt', close=True))
        rs = c.read_responses(n + 1)
        self.assertTrue(all(r.status == 200 and r.body == SMALL for r in rs))

    def test_ranges(self):
        r = self.one('/data.bin', headers={'Range': 'bytes=1000-1999'})
        self.assertEqual(r.status, 206, repr(r))
        self.assertEqual(r.header('Content-Range'), 'bytes 1000-1999/%d' % len(DATA))
        self.assertEqual(r.body, DATA[1000:2000])
        r = self.one('/data.bin', headers={'Range': 'bytes=-100'})
        self.assertEqual(r.body, DATA[-100:])
        r = self.one('/small.txt', headers={'Range': 'bytes=0-0,5-6'})
        self.assertEqual(r.status, 206)
        self.assertRegex(r.header('Content-Type'), r'^multipart/byteranges;')
        self.assertIn(SMALL[0:1], r.body)
        self.assertIn(SMALL[5:7], r.body)
        r = self.one('/data.bin', headers={'Range': 'bytes=999999-'})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header('Content-Range'), 'bytes */%d' % len(DATA))

    def test_conditionals(self):
        first = self.one('/f.txt')
        etag, lm = first.header('ETag'), first.header('Last-Modified')
        self.assertTrue(harness.strong_etag(etag), etag)
        c = self.conn()
        c.send(build_request('/f.txt', headers={'If-None-Match': etag}))
        r = c.read_response()
        self.assertEqual(r.status, 304, repr(r))
        self.assertEqual(r.body, b'')
        self.assertEqual(r.header('ETag'), etag)
        # the connection stays usable after a 304 (no stray body bytes)
        c.send(build_request('/f.txt', headers={'If-Modified-Since': lm}))
        self.assertEqual(c.read_response().status, 304)
        c.send(build_request('/f.txt', headers={'If-None-Match': '"nope"'}, close=True))
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, PLAIN)
        r = self.one('/f.txt', headers={'If-Match': '"nope"'})
        self.assertEqual(r.status, 412)

    def test_precompressed(self):
        r = self.one('/f.txt', headers={'Accept-Encoding': 'gzip'})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header('Content-Encoding'), 'gzip')
        self.assertEqual(r.body, GZ)
        self.assertIn('accept-encoding', (r.header('Vary') or '').lower())
        r = self.one('/f.txt')
        self.assertIsNone(r.header('Content-Encoding'))
        self.assertEqual(r.body, PLAIN)

    def test_curl_keepalive_two_urls(self):
        vflag = ['--tlsv1.3'] if self.version == '1.3' else ['--tlsv1.2', '--tls-max', '1.2']
        p = harness.curl('-k', '-v', *self.server.curl_resolve(), *vflag,
                         self.server.tls_url('/small.txt'), self.server.tls_url('/f.txt'))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, SMALL + PLAIN)
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'Re-using existing connection|Reusing existing connection', err)
        self.assertEqual(tls_certs.curl_negotiated(err)[0], 'TLSv' + self.version)

    # -- a request in the same segment as the client's Finished ------------------------------

    def finished_plus_request(self, session=None, paths=('/small.txt',), ctx=None):
        """Handshake through MemoryBIOs; the client's last flight and the encrypted request(s)
        leave in ONE send(). Returns (responses, sslobj)."""
        ctx = ctx or tls_certs.client_context(version=self.version)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname='localhost',
                           session=session)
        s = socket.create_connection(('127.0.0.1', self.server.tls_port), timeout=10)
        self.addCleanup(s.close)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = out.read()
                if pending:
                    s.sendall(pending)
                data = s.recv(65536)
                if not data:
                    self.fail('server closed during the handshake')
                inc.write(data)
        reqs = b''.join(build_request(p) for p in paths[:-1]) + \
            build_request(paths[-1], close=True)
        obj.write(reqs)
        flight = out.read()      # [client Finished (+CCS)] + request record(s)
        s.send(flight)           # one send: one segment on loopback
        plain = b''
        while True:
            try:
                chunk = obj.read(1 << 20)
                if not chunk:
                    break
                plain += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            data = s.recv(65536)
            if not data:
                break
            inc.write(data)
        rs = tls_certs.parse_responses(plain)
        return rs, obj

    def test_request_with_finished(self):
        rs, obj = self.finished_plus_request(paths=('/small.txt', '/data.bin', '/f.txt'))
        self.assertEqual([r.status for r in rs], [200, 200, 200])
        self.assertEqual([r.body for r in rs], [SMALL, DATA, PLAIN])

    def test_request_with_finished_resumed(self):
        # Resumed handshake: for TLS 1.2 the client's Finished is its LAST flight, so the
        # request really can share the segment with it.
        ctx = tls_certs.client_context(version=self.version)
        rs, obj = self.finished_plus_request(ctx=ctx)
        self.assertEqual(rs[0].body, SMALL)
        sess = obj.session
        self.assertIsNotNone(sess)
        rs, obj2 = self.finished_plus_request(session=sess, paths=('/data.bin',), ctx=ctx)
        self.assertTrue(obj2.session_reused, 'session not resumed')
        self.assertEqual(rs[0].body, DATA)


class Tls12(HttpOverTls):
    version = '1.2'


class Tls13(HttpOverTls):
    version = '1.3'


del HttpOverTls   # only the concrete classes run


class AccessLogTls(unittest.TestCase):

    def test_log_fields(self):
        cert = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')
        s = tls_certs.TlsServer(certs=[cert], populate=populate)
        self.addCleanup(s.cleanup)
        s.start()
        p = tls_certs.curl_tls(s, '/log13.txt', '--tlsv1.3', '--tls13-ciphers',
                               'TLS_CHACHA20_POLY1305_SHA256')
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tls_certs.curl_tls(s, '/log12.txt', '--tlsv1.2', '--tls-max', '1.2', '--ciphers',
                               'ECDHE-ECDSA-AES256-GCM-SHA384')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(s.get('/small.txt').status, 200)    # plain, for contrast
        s.stop()
        log = s.read_access_log()
        l13 = [l for l in log.splitlines() if '/log13.txt' in l]
        l12 = [l for l in log.splitlines() if '/log12.txt' in l]
        self.assertEqual(len(l13), 1, log)
        self.assertEqual(len(l12), 1, log)
        l13, l12 = l13[0], l12[0]
        self.assertIn('TLSv1.3', l13)
        self.assertRegex(l13, tls_certs.CIPHER_ALIASES['CHACHA20-POLY1305'])
        self.assertIn('TLSv1.2', l12)
        self.assertRegex(l12, tls_certs.CIPHER_ALIASES['AES-256-GCM'])
        for line in (l13, l12):
            self.assertRegex(line, MODES, 'no record mode word in %r' % line)
            if not tls_certs.kernel_has_ktls():
                self.assertRegex(line, r'\buser\b', 'no kTLS here: mode must be user: %r'
                                 % line)
            self.assertRegex(line, r'" 200 \d+ ', line)
        plain = [l for l in log.splitlines() if '/small.txt' in l]
        self.assertEqual(len(plain), 1, log)
        self.assertNotIn('TLSv1', plain[0])


if __name__ == '__main__':
    tls_certs.require_programs('openssl', 'curl')
    harness.main()
