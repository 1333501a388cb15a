#!/usr/bin/env python3
"""What the handshake agrees on: versions (1.2/1.3 only), suites (ECDHE + AEAD only), ALPN
(http/1.1 only), SNI certificate selection, ECDSA vs RSA by signature algorithms,
--tls-versions and --ciphers. Every refused handshake leaves the server serving."""

import os
import re
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import write  # noqa: E402

BODY = b'negotiated\n'


def populate(root, tmp=None):
    write(os.path.join(root, 'a.txt'), BODY)


class Base(tls_certs.TlsServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def assertServes(self, **kw):
        r = tls_certs.tls_get(self.server, '/a.txt', **kw)
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.body, BODY)
        self.assertTrue(self.server.alive())
        return r

    def assertRefused(self, why, **kw):
        e = tls_certs.handshake_fails(self.server, timeout=10, **kw)
        self.assertIsNotNone(e, 'handshake succeeded but must fail: %s' % why)
        self.assertNotIsInstance(e, TimeoutError, 'server hung instead of refusing: %s' % why)
        self.assertFalse(isinstance(e, OSError) and 'timed out' in str(e),
                         'server hung instead of refusing: %s (%s)' % (why, e))
        self.assertServes()
        return e

    def s_client(self, args, stdin=b'GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'):
        return tls_certs.s_client_brief(self.server.tls_port, args, stdin=stdin, timeout=20)


class Versions(Base):
    """Default settings with an ECDSA and an RSA certificate for localhost."""

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', kind='ec'),
                tls_certs.make_cert('localhost', kind='rsa')]

    def test_12_and_13_accepted(self):
        self.assertEqual(self.assertServes(version='1.2').tls['version'], 'TLSv1.2')
        self.assertEqual(self.assertServes(version='1.3').tls['version'], 'TLSv1.3')
        self.assertEqual(self.assertServes().tls['version'], 'TLSv1.3')

    def test_tls10_refused(self):
        self.assertRefused('TLS 1.0', version='1.0')

    def test_tls11_refused(self):
        self.assertRefused('TLS 1.1', version='1.1')

    def test_s_client_old_versions_refused(self):
        for flag in ('-tls1', '-tls1_1'):
            p = self.s_client([flag, '-cipher', 'DEFAULT:@SECLEVEL=0'])
            self.assertNotIn(b'200 OK', p.stdout, flag)
            self.assertNotEqual(p.returncode, 0, flag)
        self.assertServes()

    def test_cbc_suites_refused(self):
        for suite in ('ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384',
                      'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA'):
            self.assertRefused(suite, version='1.2', ciphers=suite)

    def test_static_rsa_refused(self):
        for suite in ('AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA'):
            self.assertRefused(suite, version='1.2', ciphers=suite)

    def test_dhe_refused(self):
        self.assertRefused('DHE', version='1.2', ciphers='DHE-RSA-AES128-GCM-SHA256')

    def test_tls13_ccm_refused(self):
        p = self.s_client(['-tls1_3', '-ciphersuites', 'TLS_AES_128_CCM_SHA256'])
        self.assertNotIn(b'200 OK', p.stdout)
        self.assertNotEqual(p.returncode, 0)
        self.assertServes()

    def test_each_allowed_suite_python(self):
        for _v, suite, _g in tls_certs.ECDSA_12 + tls_certs.RSA_12:
            self.assertEqual(self.assertServes(version='1.2', ciphers=suite).tls['cipher'],
                             suite)

    # -- ALPN -----------------------------------------------------------------------------

    def test_alpn_neither_refused(self):
        for v in ('1.2', '1.3'):
            e = self.assertRefused('ALPN spdy/3 only', version=v, alpn=['spdy/3'])
            self.assertIsInstance(e, ssl.SSLError, repr(e))
            self.assertIn('NO_APPLICATION_PROTOCOL', re.sub(r'[ _]+', '_', str(e).upper()),
                          'TLS %s: expected a no_application_protocol alert, got %r' % (v, e))

    def test_alpn_http11_after_an_unknown_one(self):
        for v in ('1.2', '1.3'):
            r = self.assertServes(version=v, alpn=['spdy/3', 'http/1.1'])
            self.assertEqual(r.tls['alpn'], 'http/1.1')

    def test_alpn_http11(self):
        self.assertEqual(self.assertServes(alpn=['http/1.1']).tls['alpn'], 'http/1.1')

    def test_no_alpn(self):
        self.assertIsNone(self.assertServes().tls['alpn'])

    def test_curl_alpn(self):
        # curl offers h2,http/1.1 by default (built with nghttp2): the server picks h2
        p = tls_certs.curl_tls(self.server, '/a.txt', http2=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, BODY)
        self.assertRegex(p.stderr.decode('utf-8', 'replace'), r'ALPN[:,] server accepted (to use )?h2')
        # --http1.1: offered alone, http/1.1 it is
        p = tls_certs.curl_tls(self.server, '/a.txt')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr.decode('utf-8', 'replace'),
                         r'ALPN[:,] server accepted (to use )?http/1\.1')


class Sni(Base):
    """a.test (ECDSA, default), b.test (ECDSA) and b.test (RSA)."""

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('a.test', kind='ec'),
                tls_certs.make_cert('b.test', kind='ec'),
                tls_certs.make_cert('b.test', kind='rsa')]

    def peer(self, **kw):
        c = tls_certs.tls_connect(self.server, **kw)
        try:
            info = tls_certs.cert_info(c.ssl.getpeercert(binary_form=True))
            c.send(harness.build_request('/a.txt', close=True))
            self.assertEqual(c.read_response().body, BODY)
            return info
        finally:
            c.close()

    def test_by_name(self):
        for v in ('1.2', '1.3'):
            self.assertEqual(self.peer(sni='a.test', version=v)['cn'], 'a.test', v)
            self.assertEqual(self.peer(sni='b.test', version=v)['cn'], 'b.test', v)

    def test_unknown_name_gets_default(self):
        for v in ('1.2', '1.3'):
            self.assertEqual(self.peer(sni='c.test', version=v)['cn'], 'a.test', v)
            self.assertEqual(self.peer(sni='localhost', version=v)['cn'], 'a.test', v)

    def test_no_sni_gets_default(self):
        for v in ('1.2', '1.3'):
            self.assertEqual(self.peer(sni=None, version=v)['cn'], 'a.test', v)

    def test_ecdsa_preferred(self):
        for v in ('1.2', '1.3'):
            info = self.peer(sni='b.test', version=v)
            self.assertEqual((info['cn'], info['key']), ('b.test', 'ec'), v)

    def test_tls12_rsa_suite_gets_rsa_cert(self):
        info = self.peer(sni='b.test', version='1.2', ciphers='ECDHE-RSA-AES128-GCM-SHA256')
        self.assertEqual((info['cn'], info['key']), ('b.test', 'rsa'))
        info = self.peer(sni='b.test', version='1.2', ciphers='ECDHE-ECDSA-AES128-GCM-SHA256')
        self.assertEqual((info['cn'], info['key']), ('b.test', 'ec'))

    def test_tls13_rsa_sigalgs_get_rsa_cert(self):
        p = self.s_client(['-tls1_3', '-servername', 'b.test', '-sigalgs',
                           'rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256'])
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'Peer certificate: CN\s*=\s*b\.test', err)
        self.assertRegex(err, r'Signature type: RSA', err)
        self.assertIn(b'200 OK', p.stdout)
        p = self.s_client(['-tls1_3', '-servername', 'b.test', '-sigalgs',
                           'ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256'])
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'Peer certificate: CN\s*=\s*b\.test', err)
        self.assertRegex(err, r'Signature type: ECDSA', err)

    def test_tls12_rsa_sigalgs_get_rsa_cert(self):
        p = self.s_client(['-tls1_2', '-servername', 'b.test', '-sigalgs',
                           'RSA+SHA256:rsa_pss_rsae_sha256'])
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'Peer certificate: CN\s*=\s*b\.test', err)
        self.assertRegex(err, r'Ciphersuite: ECDHE-RSA-', err)
        self.assertIn(b'200 OK', p.stdout)

    def test_curl_verifies_each_name(self):
        for name in ('a.test', 'b.test'):
            cafile = tls_certs.make_cert(name, kind='ec')[0]
            p = harness.curl('--cacert', cafile, *self.server.curl_resolve(name),
                             self.server.tls_url('/a.txt', name))
            self.assertEqual(p.returncode, 0, '%s: %s' % (name, p.stderr))
            self.assertEqual(p.stdout, BODY)


class Only13(Base):
    server_args = ['--tls-versions', '1.3']

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', kind='ec')]

    def test_versions(self):
        self.assertEqual(self.assertServes(version='1.3').tls['version'], 'TLSv1.3')
        self.assertRefused('TLS 1.2 on a 1.3-only server', version='1.2')


class Only12(Base):
    server_args = ['--tls-versions', '1.2']

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', kind='ec')]

    def test_versions(self):
        self.assertEqual(self.assertServes(version='1.2').tls['version'], 'TLSv1.2')
        self.assertEqual(self.assertServes().tls['version'], 'TLSv1.2')
        self.assertRefused('TLS 1.3 on a 1.2-only server', version='1.3')


class Ciphers(Base):
    server_args = ['--ciphers', 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-CHACHA20-POLY1305']

    @classmethod
    def cert_pairs(cls):
        return [tls_certs.make_cert('localhost', kind='ec')]

    def test_tls13_restricted(self):
        p = self.s_client(['-tls1_3', '-ciphersuites', 'TLS_AES_256_GCM_SHA384'])
        self.assertRegex(p.stderr.decode(), r'Ciphersuite: TLS_AES_256_GCM_SHA384')
        self.assertIn(b'200 OK', p.stdout)
        for other in ('TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'):
            p = self.s_client(['-tls1_3', '-ciphersuites', other])
            self.assertNotIn(b'200 OK', p.stdout, other)
        self.assertServes()
        # a client offering everything gets the one allowed suite
        self.assertEqual(self.assertServes(version='1.3').tls['cipher'],
                         'TLS_AES_256_GCM_SHA384')

    def test_tls12_restricted(self):
        self.assertEqual(self.assertServes(version='1.2').tls['cipher'],
                         'ECDHE-ECDSA-CHACHA20-POLY1305')
        for other in ('ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384'):
            self.assertRefused(other, version='1.2', ciphers=other)


if __name__ == '__main__':
    tls_certs.require_programs('openssl', 'curl')
    harness.main()
