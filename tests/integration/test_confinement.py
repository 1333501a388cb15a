#!/usr/bin/env python3
"""Path confinement: traversal, encoded dots/slashes, NUL, symlinks out of the root, dotfiles."""

import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import write  # noqa: E402

CANARY = ('CANARY-%s' % uuid.uuid4().hex).encode()
PASSWD_MARK = b'root:x:0:0'

TRAVERSALS = [
    '/../canary',
    '/%2e%2e/canary',
    '/%2E%2E/canary',
    '/%2e%2e%2fcanary',
    '/..%2fcanary',
    '/..%2Fcanary',
    '//../canary',
    '/a/../../canary',
    '/a/%2e%2e/%2e%2e/canary',
    '/%252e%252e/canary',
    '/%252e%252e%252fcanary',
    '/./../canary',
    '/.%2e/canary',
    '/a/../a/../../canary',
    '/../../../../../../../../canary',
    '/..\\canary',
    '/%5c..%5ccanary',
    '/a/..%5c..%5ccanary',
    '/../root/../canary',
    '/canary',
    '/out_abs',
    '/out_rel',
    '/out_dir/canary',
    '/out_dir/',
    '/a/up/canary',
    '/passwd',
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/index.html%00',
    '/index.html%00.txt',
    '/%00',
    '/.env',
    '/.git/config',
    '/.git/',
    '/a/.secret',
    '/.%65nv',
    '/%2eenv',
    '/%2egit/config',
]


class Confinement(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        canary = os.path.join(tmp, 'canary')
        write(canary, CANARY)
        os.makedirs(os.path.join(tmp, 'outdir'))
        write(os.path.join(tmp, 'outdir', 'canary'), CANARY)
        write(os.path.join(root, 'index.html'), b'<p>index</p>\n')
        write(os.path.join(root, 'a', 'ok.txt'), b'inside a\n')
        write(os.path.join(root, 'a', '.secret'), CANARY)
        write(os.path.join(root, '.env'), CANARY)
        write(os.path.join(root, '.git', 'config'), CANARY)
        write(os.path.join(root, 'target.txt'), b'symlink target inside root\n')
        os.symlink(canary, os.path.join(root, 'out_abs'))
        os.symlink('../canary', os.path.join(root, 'out_rel'))
        os.symlink(os.path.join(tmp, 'outdir'), os.path.join(root, 'out_dir'))
        os.symlink('../..', os.path.join(root, 'a', 'up'))
        os.symlink('/etc/passwd', os.path.join(root, 'passwd'))
        os.symlink('target.txt', os.path.join(root, 'in_link'))
        os.symlink('a', os.path.join(root, 'in_dirlink'))

    def check_blocked(self, target, allowed=(400, 403, 404)):
        c = self.connect()
        try:
            c.send(('GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
                    % target).encode('latin-1'))
            try:
                r = c.read_response()
            except harness.ConnectionClosed:
                return  # closing without a response leaks nothing either
            rest = c.read_until_close()
        finally:
            c.close()
        self.assertNotIn(CANARY, r.body + rest, 'canary leaked for %s' % target)
        self.assertNotIn(PASSWD_MARK, r.body + rest, '/etc/passwd leaked for %s' % target)
        self.assertIn(r.status, allowed, '%s -> %r' % (target, r))

    def test_traversals(self):
        for t in TRAVERSALS:
            with self.subTest(target=t):
                self.check_blocked(t)

    def test_traversals_head(self):
        for t in TRAVERSALS[:10]:
            with self.subTest(target=t):
                r = self.get(t, method='HEAD')
                self.assertIn(r.status, (400, 403, 404), '%s -> %r' % (t, r))

    def test_raw_bytes_never_leak(self):
        # Pipelined batch of all traversals (no Connection: close); whatever comes back
        # must not contain the canary.
        data = b''.join(('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % t).encode('latin-1')
                        for t in TRAVERSALS)
        out = harness.raw_bytes(self.server, data, timeout=1.5)
        self.assertNotIn(CANARY, out)
        self.assertNotIn(PASSWD_MARK, out)

    def test_encoded_slash_400(self):
        for t in ('/a%2Fok.txt', '/a%2fok.txt', '/%2e%2e%2fcanary'):
            with self.subTest(target=t):
                self.assertStatus(self.get(t), 400)

    def test_nul_400(self):
        for t in ('/index.html%00', '/index.html%00.txt', '/%00'):
            with self.subTest(target=t):
                self.assertStatus(self.get(t), 400)

    def test_400_closes_connection(self):
        # "responses to bad input have status 400/414/431 and the connection is closed"
        for t in ('/a%2Fok.txt', '/index.html%00', '/../canary'):
            with self.subTest(target=t):
                c = self.connect()
                try:
                    c.send(harness.build_request(t))
                    r = c.read_response()
                    if r.status == 400:
                        self.assertTrue(c.closed_by_peer(1), 'connection left open after 400')
                finally:
                    c.close()

    def test_dotfiles_404(self):
        for t in ('/.env', '/.git/config', '/a/.secret'):
            with self.subTest(target=t):
                self.assertStatus(self.get(t), 404)

    def test_not_origin_form(self):
        for line in (b'GET ../canary HTTP/1.1', b'GET canary HTTP/1.1', b'GET * HTTP/1.1'):
            with self.subTest(line=line):
                c = self.connect()
                try:
                    c.send(line + b'\r\nHost: x\r\n\r\n')
                    r = c.read_response()
                    self.assertNotIn(CANARY, r.body)
                    self.assertStatus(r, 400)
                    self.assertTrue(c.closed_by_peer(1), 'connection left open after 400 for %r'
                                    % line)
                finally:
                    c.close()

    def test_symlink_inside_root_served(self):
        r = self.get('/in_link')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'symlink target inside root\n')

    def test_symlinked_dir_inside_root_served(self):
        r = self.get('/in_dirlink/ok.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'inside a\n')

    def test_dotdot_resolving_inside_root_ok(self):
        r = self.get('/a/../a/ok.txt')
        self.assertIn(r.status, (200, 400), repr(r))
        if r.status == 200:
            self.assertEqual(r.body, b'inside a\n')

    def test_curl_path_as_is(self):
        for t in ('/../canary', '/a/../../canary', '/%2e%2e/canary'):
            with self.subTest(target=t):
                p = harness.curl('--path-as-is', '-o', '/dev/stdout', '-w', '\n%{http_code}',
                                 self.server.url(t))
                self.assertNotIn(CANARY, p.stdout)
                code = p.stdout.rsplit(b'\n', 1)[-1]
                self.assertIn(code, (b'400', b'403', b'404'))

    def test_server_still_fine(self):
        self.assertEqual(self.get('/a/ok.txt').body, b'inside a\n')


class Dotfiles(harness.ServerTestCase):
    """--dotfiles allows dotfiles, but never escapes the root."""
    server_args = ('--dotfiles',)

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(tmp, 'canary'), CANARY)
        write(os.path.join(root, '.env'), b'DOTFILE=1\n')
        os.symlink(os.path.join(tmp, 'canary'), os.path.join(root, '.out'))

    def test_dotfile_served(self):
        r = self.get('/.env')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'DOTFILE=1\n')

    def test_still_confined(self):
        for t in ('/../canary', '/.out', '/%2e%2e/canary', '/.%2e/canary'):
            with self.subTest(target=t):
                r = self.get(t)
                self.assertNotIn(CANARY, r.body)
                self.assertIn(r.status, (400, 403, 404), '%s -> %r' % (t, r))


if __name__ == '__main__':
    harness.main()
