#!/usr/bin/env python3
"""Session resumption by tickets (TLS 1.2 and 1.3), and with --ticket-keys FILE shared by two
sluice processes a ticket from one resumes on the other.

Ticket key file used here: 80 random bytes (`head -c 80 /dev/urandom`), the nginx
ssl_session_ticket_key layout (16 name + 32 HMAC + 32 AES)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tls_certs  # noqa: E402
from harness import write  # noqa: E402

BODY = b'resume me\n' * 10


def populate(root):
    write(os.path.join(root, 'a.txt'), BODY)


def cert():
    return tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')


class Tickets(tls_certs.TlsServerTestCase):

    @classmethod
    def cert_pairs(cls):
        return [cert()]

    @classmethod
    def populate(cls, root, tmp):
        populate(root)

    def resume(self, version, server=None, server2=None):
        """Full handshake on `server`, then resumption attempt on `server2` (default: same);
        returns (first, second) responses."""
        server = server or self.server
        server2 = server2 or server
        ctx = tls_certs.client_context(version=version)
        # tls_get reads the whole response first, so a TLS 1.3 NewSessionTicket (sent after
        # the handshake) has been processed when the session is taken.
        r1 = tls_certs.tls_get(server, '/a.txt', ctx=ctx)
        self.assertEqual(r1.body, BODY)
        self.assertFalse(r1.tls['reused'])
        sess = r1.tls['session']
        self.assertIsNotNone(sess, 'no session after the first connection')
        self.assertTrue(sess.has_ticket, 'TLS %s: the server sent no session ticket' % version)
        r2 = tls_certs.tls_get(server2, '/a.txt', ctx=ctx, session=sess)
        self.assertEqual(r2.body, BODY)
        return r1, r2

    def test_tls12_ticket(self):
        r1, r2 = self.resume('1.2')
        self.assertTrue(r2.tls['reused'], 'TLS 1.2 ticket not accepted')
        self.assertEqual(r2.tls['version'], 'TLSv1.2')

    def test_tls13_ticket(self):
        r1, r2 = self.resume('1.3')
        self.assertTrue(r2.tls['reused'], 'TLS 1.3 ticket not accepted')
        self.assertEqual(r2.tls['version'], 'TLSv1.3')

    def test_resumed_connection_serves_keepalive(self):
        for v in ('1.2', '1.3'):
            ctx = tls_certs.client_context(version=v)
            sess = tls_certs.tls_get(self.server, '/a.txt', ctx=ctx).tls['session']
            c = tls_certs.tls_connect(self.server, ctx=ctx, session=sess)
            try:
                self.assertTrue(c.ssl.session_reused, v)
                for _ in range(3):
                    c.send(harness.build_request('/a.txt'))
                    self.assertEqual(c.read_response().body, BODY)
            finally:
                c.close()

    def test_tls12_resume_many_times(self):
        ctx = tls_certs.client_context(version='1.2')
        sess = tls_certs.tls_get(self.server, '/a.txt', ctx=ctx).tls['session']
        for i in range(5):
            r = tls_certs.tls_get(self.server, '/a.txt', ctx=ctx, session=sess)
            self.assertTrue(r.tls['reused'], 'resumption %d' % i)
            sess = r.tls['session'] or sess

    def test_s_client_sess_out_in(self):
        sf = os.path.join(self.tmp, 'sess.pem')
        for flag in ('-tls1_2', '-tls1_3'):
            req = harness.build_request('/a.txt', close=True)
            p = tls_certs.s_client_brief(self.server.tls_port, [flag, '-sess_out', sf],
                                         stdin=req)
            self.assertIn(BODY, p.stdout)
            # -brief does not say "Reused"; the full (non-quiet) summary does
            p = tls_certs.subprocess_run(
                ['openssl', 's_client', '-connect', '127.0.0.1:%d' % self.server.tls_port,
                 flag, '-sess_in', sf, '-ign_eof'], stdin=req)
            self.assertRegex(p.stdout.decode('utf-8', 'replace'), r'\bReused, TLSv1\.[23]',
                             flag)


class SharedTicketKeys(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        pass

    def start(self, keyfile):
        args = ['--ticket-keys', keyfile] if keyfile else []
        s = tls_certs.TlsServer(certs=[cert()], args=args, populate=populate, plain=False)
        self.addCleanup(s.cleanup)
        s.start()
        return s

    def keyfile(self, name):
        d = tls_certs.cert_dir()
        path = os.path.join(d, name)
        with open(path, 'wb') as f:
            f.write(os.urandom(80))
        return path

    def resumed_across(self, a, b, version):
        ctx = tls_certs.client_context(version=version)
        r1 = tls_certs.tls_get(a, '/a.txt', ctx=ctx)
        self.assertEqual(r1.body, BODY)
        sess = r1.tls['session']
        self.assertTrue(sess is not None and sess.has_ticket, 'no ticket from %d' % a.tls_port)
        r2 = tls_certs.tls_get(b, '/a.txt', ctx=ctx, session=sess)
        self.assertEqual(r2.body, BODY)
        return r2.tls['reused']

    def test_shared_keys_resume_across_processes(self):
        kf = self.keyfile('shared.keys')
        a, b = self.start(kf), self.start(kf)
        for v in ('1.2', '1.3'):
            self.assertTrue(self.resumed_across(a, b, v), 'TLS %s: ticket from A not '
                            'accepted by B with the same --ticket-keys file' % v)
            self.assertTrue(self.resumed_across(b, a, v), 'TLS %s: B -> A' % v)

    def test_different_keys_do_not_resume(self):
        a, b = self.start(self.keyfile('a.keys')), self.start(self.keyfile('b.keys'))
        for v in ('1.2', '1.3'):
            self.assertFalse(self.resumed_across(a, b, v),
                             'TLS %s: a ticket under other keys was accepted' % v)

    def test_default_random_keys_do_not_resume_across(self):
        a, b = self.start(None), self.start(None)
        for v in ('1.2', '1.3'):
            self.assertFalse(self.resumed_across(a, b, v), v)

    def test_bad_key_file_is_an_error(self):
        missing = os.path.join(tls_certs.cert_dir(), 'missing.keys')
        p = tls_certs.subprocess_run(
            [harness.require_binary(), '--tls-listen', '127.0.0.1:%d' % harness.free_port(),
             '--cert', cert()[0], '--key', cert()[1], '--ticket-keys', missing,
             '--access-log', 'off', tls_certs.cert_dir()], timeout=8)
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = [l for l in p.stderr.decode('utf-8', 'replace').splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn('missing.keys', lines[0])


if __name__ == '__main__':
    tls_certs.require_programs('openssl')
    harness.main()
