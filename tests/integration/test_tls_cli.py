#!/usr/bin/env python3
"""HTTPS command line: --help, --ktls-probe, --ktls require on a kernel without the tls ULP,
certificate/key errors (one stderr line naming the file, exit 2), --self-signed."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import write  # noqa: E402
from tls_certs import TlsServer  # noqa: E402

TLS_FLAGS = ['--tls-listen', '--cert', '--key', '--self-signed', '--ktls', '--tls-tx-zerocopy-ro',
             '--tls-versions', '--ciphers', '--ticket-keys', '--handshake-timeout',
             '--ktls-probe', '--ktls-diag']


def run(*args, timeout=15):
    return subprocess.run([harness.require_binary()] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL)


class TlsCli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        cls.root = os.path.join(cls.tmp, 'root')
        write(os.path.join(cls.root, 'a.txt'), b'AAAA\n')
        cls.ec = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')
        cls.rsa = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'rsa')
        cls.other = tls_certs.make_cert('other.test', kind='ec')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tls_args(self, cert, key, *extra):
        port = harness.free_port()
        return ['--tls-listen', '127.0.0.1:%d' % port, '--cert', cert, '--key', key,
                '--access-log', 'off'] + list(extra) + [self.root]

    def assertStartupError(self, p, *mentions):
        err = p.stderr.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 2, 'exit %d (want 2), stderr: %r' % (p.returncode, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, 'expected exactly one stderr line, got %r' % err)
        low = lines[0].lower()
        self.assertTrue(any(m.lower() in low for m in mentions),
                        'stderr %r names none of %r' % (lines[0], mentions))

    def run_bounded(self, args):
        """Runs sluice expecting it to exit on its own; a server that starts serving instead is
        killed after a few seconds and reported."""
        try:
            return run(*args, timeout=8)
        except subprocess.TimeoutExpired:
            self.fail('sluice kept running with %r (expected exit 2)' % (args,))

    # -- help / probe -------------------------------------------------------------------------

    def test_help_lists_tls_flags(self):
        p = run('--help')
        self.assertEqual(p.returncode, 0)
        out = p.stdout.decode()
        for f in TLS_FLAGS:
            self.assertIn(f, out, 'help misses %s' % f)

    def test_ktls_probe(self):
        p = run('--ktls-probe', timeout=10)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, 'exit %d\nstdout:%s\nstderr:%s'
                         % (p.returncode, out, p.stderr.decode('utf-8', 'replace')))
        self.assertRegex(out, r'(?i)\btls\b', 'the probe does not mention the tls ULP:\n' + out)
        lines = out.splitlines()
        vers = {'1.2': re.compile(r'(?i)(TLS\s*v?\s*1[._]?2|\b1\.2\b|tls12)'),
                '1.3': re.compile(r'(?i)(TLS\s*v?\s*1[._]?3|\b1\.3\b|tls13)')}
        for v, vrx in vers.items():
            for c, crx in tls_certs.CIPHER_ALIASES.items():
                self.assertTrue(any(vrx.search(l) and crx.search(l) for l in lines),
                                'no probe line for TLS %s x %s:\n%s' % (v, c, out))

    def test_ktls_probe_does_not_serve(self):
        # It must exit, not start listening on the default address.
        try:
            p = run('--ktls-probe', timeout=10)
        except subprocess.TimeoutExpired:
            self.fail('--ktls-probe did not exit within 10 s')
        self.assertEqual(p.returncode, 0)

    # -- startup errors -------------------------------------------------------------------------

    def test_tls_listen_without_cert(self):
        p = self.run_bounded(['--tls-listen', '127.0.0.1:%d' % harness.free_port(), self.root])
        self.assertStartupError(p, '--cert', 'cert', '--self-signed')

    def test_missing_cert_file(self):
        missing = os.path.join(self.tmp, 'nope.crt')
        p = self.run_bounded(self.tls_args(missing, self.ec[1]))
        self.assertStartupError(p, missing, 'nope.crt')

    def test_missing_key_file(self):
        missing = os.path.join(self.tmp, 'nope.key')
        p = self.run_bounded(self.tls_args(self.ec[0], missing))
        self.assertStartupError(p, missing, 'nope.key')

    def test_unreadable_key(self):
        if os.geteuid() == 0:
            # root reads anything; a directory in place of the key is unreadable as a file.
            bad = os.path.join(self.tmp, 'keydir.key')
            os.makedirs(bad, exist_ok=True)
        else:
            bad = os.path.join(self.tmp, 'noperm.key')
            shutil.copy(self.ec[1], bad)
            os.chmod(bad, 0)
        p = self.run_bounded(self.tls_args(self.ec[0], bad))
        self.assertStartupError(p, bad, os.path.basename(bad))

    def test_garbage_cert(self):
        bad = os.path.join(self.tmp, 'garbage.crt')
        write(bad, b'this is not a certificate\n')
        p = self.run_bounded(self.tls_args(bad, self.ec[1]))
        self.assertStartupError(p, bad, 'garbage.crt')

    def test_garbage_key(self):
        bad = os.path.join(self.tmp, 'garbage.key')
        write(bad, b'-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
        p = self.run_bounded(self.tls_args(self.ec[0], bad))
        self.assertStartupError(p, bad, 'garbage.key')

    def test_cert_key_mismatch(self):
        # other.test's key with localhost's cert; both name-able in the message.
        p = self.run_bounded(self.tls_args(self.ec[0], self.other[1]))
        self.assertStartupError(p, self.ec[0], self.other[1], os.path.basename(self.ec[0]),
                                os.path.basename(self.other[1]))

    def test_cert_key_mismatch_rsa_key(self):
        p = self.run_bounded(self.tls_args(self.ec[0], self.rsa[1]))
        self.assertStartupError(p, self.ec[0], self.rsa[1], os.path.basename(self.ec[0]),
                                os.path.basename(self.rsa[1]))

    def test_second_pair_bad(self):
        missing = os.path.join(self.tmp, 'second-missing.crt')
        p = self.run_bounded(self.tls_args(self.ec[0], self.ec[1], '--cert', missing, '--key',
                                           self.ec[1]))
        self.assertStartupError(p, missing, 'second-missing.crt')

    def test_ktls_require_without_ulp(self):
        if tls_certs.kernel_has_ktls():
            self.skipTest('/proc/net/tls_stat exists: this kernel has the tls ULP')
        p = self.run_bounded(self.tls_args(self.ec[0], self.ec[1], '--ktls', 'require'))
        self.assertStartupError(p, 'tls')   # 'tls' also matches 'ktls'

    def test_ktls_bad_value(self):
        p = self.run_bounded(self.tls_args(self.ec[0], self.ec[1], '--ktls', 'sometimes'))
        self.assertStartupError(p, '--ktls')

    def test_ktls_diag_bad_value(self):
        p = self.run_bounded(self.tls_args(self.ec[0], self.ec[1], '--ktls-diag', 'sometimes'))
        self.assertStartupError(p, '--ktls-diag')

    def test_tls_versions_bad_value(self):
        p = self.run_bounded(self.tls_args(self.ec[0], self.ec[1], '--tls-versions', '1.1'))
        self.assertStartupError(p, '--tls-versions')

    # -- startup that works ---------------------------------------------------------------------

    def start(self, **kw):
        s = TlsServer(root=self.root, access_log=None, **kw)
        self.addCleanup(s.cleanup)
        s.start()
        return s

    def test_self_signed(self):
        s = self.start(self_signed=True, plain=False)
        for sni in ('localhost', None):
            r = tls_certs.tls_get(s, '/a.txt', sni=sni)
            self.assertEqual(r.status, 200, repr(r))
            self.assertEqual(r.body, b'AAAA\n')
        c = tls_certs.tls_connect(s)
        try:
            info = tls_certs.cert_info(c.ssl.getpeercert(binary_form=True))
        finally:
            c.close()
        self.assertEqual(info['key'], 'ec', info['text'])
        self.assertIn('prime256v1', info['text'], 'self-signed key is not P-256')
        sans = ' '.join(info['sans'])
        self.assertIn('DNS:localhost', sans)
        self.assertIn('IP Address:127.0.0.1', sans)
        self.assertRegex(sans, r'IP Address:(0:0:0:0:0:0:0:1|::1)\b')
        # and it verifies against itself for each name it claims (curl checks the SAN)
        p = tls_certs.curl_tls(s, '/a.txt')
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_ktls_off_and_auto_start(self):
        for mode in ('off', 'auto'):
            s = self.start(certs=[self.ec], args=['--ktls', mode])
            r = tls_certs.tls_get(s, '/a.txt')
            self.assertEqual(r.body, b'AAAA\n', mode)
            s.stop()

    def test_ktls_diag_changes_nothing_without_ktls(self):
        # No tls ULP on this kernel: every connection is "user", so there is nothing to ask
        # sock_diag about, whatever --ktls-diag says (the UML suite covers the kernel side).
        if tls_certs.kernel_has_ktls():
            self.skipTest('/proc/net/tls_stat exists: this kernel has the tls ULP')
        for mode in ('always', 'auto', 'off'):
            s = TlsServer(root=self.root, certs=[self.ec], args=['--ktls-diag', mode])
            self.addCleanup(s.cleanup)
            s.start()
            for _ in range(2):
                self.assertEqual(tls_certs.tls_get(s, '/a.txt').body, b'AAAA\n', mode)
            s.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 5
            while 'sluice_ktls_diag_failed_total' not in s.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            s.stop()
            err = s.stderr()
            counters = {k: int(v) for k, v in re.findall(r'(?m)^(sluice_\w+) (\d+)$', err)}
            diag = {k: v for k, v in counters.items() if k.startswith('sluice_ktls_diag_')}
            self.assertEqual(len(diag), 5, err)
            self.assertTrue(all(v == 0 for v in diag.values()), '%s: %r' % (mode, diag))
            self.assertEqual(counters.get('sluice_tls_connections_user_total'), 2, err)
            self.assertEqual(counters.get('sluice_tls_connections_kernel_hw_total'), 0, err)
            self.assertNotIn('sock_diag', err, mode)
            lines = [l for l in s.read_access_log().splitlines() if l.strip()]
            self.assertEqual(len(lines), 2, s.read_access_log())
            for l in lines:
                self.assertTrue(l.endswith(' user'), '%s: %r' % (mode, l))

    def test_zerocopy_flag_accepted(self):
        s = self.start(certs=[self.ec], args=['--tls-tx-zerocopy-ro'])
        self.assertEqual(tls_certs.tls_get(s, '/a.txt').body, b'AAAA\n')

    def test_two_tls_listeners(self):
        extra_port = harness.free_port()
        s = self.start(certs=[self.ec], args=['--tls-listen', '127.0.0.1:%d' % extra_port])
        self.assertEqual(tls_certs.tls_get(s, '/a.txt').body, b'AAAA\n')
        self.assertEqual(tls_certs.tls_get(s, '/a.txt', port=extra_port).body, b'AAAA\n')
        # the plain listener still speaks plain HTTP
        self.assertEqual(s.get('/a.txt').body, b'AAAA\n')


if __name__ == '__main__':
    tls_certs.require_programs('openssl', 'curl')
    harness.main()
