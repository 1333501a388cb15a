#!/usr/bin/env python3
"""Every allowed (version, suite) pair with three independent clients (curl, openssl s_client,
gnutls-cli): 1 KiB, 100 KiB and 20 MiB files and a range in the middle of the big one, checked
by sha256; the negotiated version/suite and the certificate type are checked too.

TLS 1.3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256.
TLS 1.2: ECDHE-ECDSA-{AES128-GCM-SHA256,AES256-GCM-SHA384,CHACHA20-POLY1305} with the ECDSA
cert, ECDHE-RSA-... with the RSA cert (both certs are for the same name)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import build_request  # noqa: E402
from tls_certs import SUITES_13, ECDSA_12, RSA_12  # noqa: E402

SIZES = {'1k.bin': 1024, '100k.bin': 100 * 1024, '20m.bin': 20 * 1024 * 1024}
BIG = '20m.bin'
# A range well inside the big file, crossing several 16 KiB records at odd offsets.
RANGE = (7_340_033, 13_631_490)
# gnutls-cli moves bulk data at ~1 MB/s (tiny reads, busy loop), so it gets a shorter range of
# the big file instead of all 20 MiB; curl and s_client do the whole file.
GNUTLS_RANGE = (9_437_185, 10_485_759 + 1_000)


def pattern(n, seed):
    # deterministic, incompressible enough, fast: sha256 chain blocks
    import hashlib
    out = bytearray()
    h = hashlib.sha256(seed.encode()).digest()
    block = h * 2048                                   # 64 KiB
    i = 0
    while len(out) < n:
        out += hashlib.sha256(block[:32] + i.to_bytes(8, 'little')).digest() + block[32:]
        i += 1
    return bytes(out[:n])


class Suites(tls_certs.TlsServerTestCase):
    threads = 2

    @classmethod
    def cert_pairs(cls):
        sans = ['DNS:localhost', 'IP:127.0.0.1']
        cls.ec = tls_certs.make_cert('localhost', sans, 'ec')
        cls.rsa = tls_certs.make_cert('localhost', sans, 'rsa')
        return [cls.ec, cls.rsa]

    @classmethod
    def populate(cls, root, tmp):
        cls.data = {}
        for name, n in SIZES.items():
            d = os.urandom(n) if n < (1 << 20) else pattern(n, name)
            harness.write(os.path.join(root, name), d)
            cls.data[name] = d

    def expect(self, name, rng=None):
        d = self.data[name]
        if rng:
            d = d[rng[0]:rng[1] + 1]
        return tls_certs.sha256(d), len(d)

    # -- curl -----------------------------------------------------------------------------------

    def curl_args(self, version, suite):
        cafile = self.rsa[0] if '-RSA-' in suite else self.ec[0]
        args = ['-v', '--cacert', cafile] + self.server.curl_resolve('localhost')
        if version == '1.3':
            args += ['--tlsv1.3', '--tls13-ciphers', suite]
        else:
            args += ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', suite]
        return args

    def check_curl(self, version, suite):
        for name in SIZES:
            digest, n, rc, err = harness.curl_sha256(self.server.tls_url('/' + name),
                                                     *self.curl_args(version, suite))
            self.assertEqual(rc, 0, 'curl %s %s %s failed:\n%s' % (version, suite, name, err))
            v, c = tls_certs.curl_negotiated(err)
            self.assertEqual((v, c), ('TLSv' + version, suite), err)
            self.assertEqual((digest, n), self.expect(name), '%s %s %s' % (version, suite, name))
        # a range in the middle of the big file
        digest, n, rc, err = harness.curl_sha256(
            self.server.tls_url('/' + BIG), '-r', '%d-%d' % RANGE,
            *self.curl_args(version, suite))
        self.assertEqual(rc, 0, err)
        # curl negotiates h2 (ALPN h2,http/1.1): every suite carries HTTP/2 here
        self.assertIn('< HTTP/2 206', err)
        self.assertEqual((digest, n), self.expect(BIG, RANGE), 'range %s %s' % (version, suite))

    # -- openssl s_client ---------------------------------------------------------------------

    def s_client_args(self, version, suite):
        args = ['-servername', 'localhost']
        if version == '1.3':
            args += ['-tls1_3', '-ciphersuites', suite]
        else:
            args += ['-tls1_2', '-cipher', suite]
        return args

    def check_s_client(self, version, suite):
        # Three requests on one connection (keep-alive), the last one closes.
        req = (build_request('/1k.bin') + build_request('/100k.bin') +
               build_request('/' + BIG, headers={'Range': 'bytes=%d-%d' % RANGE}) +
               build_request('/' + BIG, close=True))
        p = tls_certs.s_client_brief(self.server.tls_port, self.s_client_args(version, suite),
                                     stdin=req, timeout=90)
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'Protocol version: TLSv%s\b' % re.escape(version), err)
        self.assertRegex(err, r'Ciphersuite: %s\b' % re.escape(suite), err)
        self.assertRegex(err, r'Signature type: %s' % ('RSA' if '-RSA-' in suite
                                                             else 'ECDSA'), err)
        rs = tls_certs.parse_responses(p.stdout)
        self.assertEqual(len(rs), 4, 'got %d responses; stderr:\n%s' % (len(rs), err))
        self.assertEqual([r.status for r in rs], [200, 200, 206, 200])
        got = [(tls_certs.sha256(r.body), len(r.body)) for r in rs]
        self.assertEqual(got, [self.expect('1k.bin'), self.expect('100k.bin'),
                               self.expect(BIG, RANGE), self.expect(BIG)])
        self.assertEqual(rs[2].header('Content-Range'),
                         'bytes %d-%d/%d' % (RANGE[0], RANGE[1], SIZES[BIG]))

    # -- gnutls-cli ---------------------------------------------------------------------------

    def check_gnutls(self, version, suite, gcipher):
        kx = 'ECDHE-RSA' if '-RSA-' in suite else 'ECDHE-ECDSA'
        prio = tls_certs.gnutls_priority(version, gcipher, kx)
        # pin the signature algorithm family too, so the RSA / ECDSA cert is forced
        prio += (':-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256' if '-RSA-' in suite
                 else ':-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256')
        req = (build_request('/1k.bin') + build_request('/100k.bin') +
               build_request('/' + BIG, headers={'Range': 'bytes=%d-%d' % GNUTLS_RANGE}) +
               build_request('/1k.bin', close=True))
        p = tls_certs.gnutls_cli(self.server.tls_port, prio, stdin=req, timeout=90)
        self.assertIn('Handshake was completed', p.log, p.log + p.stderr.decode())
        m = re.search(r'Description: \((TLS1\.\d)-[^)]*\)(?:-\([^)]*\))*', p.log)
        self.assertIsNotNone(m, p.log)
        desc = m.group(0)
        self.assertIn('(TLS%s-' % version, desc)
        self.assertIn('(%s)' % gcipher, desc)
        rs = tls_certs.parse_responses(p.stdout)
        self.assertEqual(len(rs), 4, 'got %d responses; log:\n%s' % (len(rs), p.log))
        self.assertEqual([r.status for r in rs], [200, 200, 206, 200])
        got = [(tls_certs.sha256(r.body), len(r.body)) for r in rs]
        self.assertEqual(got, [self.expect('1k.bin'), self.expect('100k.bin'),
                               self.expect(BIG, GNUTLS_RANGE), self.expect('1k.bin')])

    # -- python ssl: the cert that comes with each TLS 1.2 suite ---------------------------

    def test_python_tls12_cert_follows_suite(self):
        for version, suite, _g in ECDSA_12 + RSA_12:
            r = tls_certs.tls_get(self.server, '/1k.bin', version='1.2', ciphers=suite)
            self.assertEqual(r.tls['cipher'], suite)
            self.assertEqual(r.tls['version'], 'TLSv1.2')
            self.assertEqual(r.body, self.data['1k.bin'])

    def test_python_default_prefers_tls13(self):
        r = tls_certs.tls_get(self.server, '/100k.bin')
        self.assertEqual(r.tls['version'], 'TLSv1.3')
        self.assertEqual(r.body, self.data['100k.bin'])


def _name(suite):
    return re.sub(r'[^a-z0-9]+', '_', suite.lower()).strip('_')


def _add(version, suite, gcipher):
    tag = '%s_%s' % (version.replace('.', ''), _name(suite))
    setattr(Suites, 'test_curl_tls%s' % tag,
            lambda self: self.check_curl(version, suite))
    setattr(Suites, 'test_s_client_tls%s' % tag,
            lambda self: self.check_s_client(version, suite))
    setattr(Suites, 'test_gnutls_tls%s' % tag,
            lambda self: self.check_gnutls(version, suite, gcipher))


for _v, _s, _g in SUITES_13 + ECDSA_12 + RSA_12:
    _add(_v, _s, _g)


if __name__ == '__main__':
    tls_certs.require_programs('openssl', 'curl', 'gnutls-cli')
    harness.main()
