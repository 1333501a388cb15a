#!/usr/bin/env python3
"""Command line: --help, --version, errors (one line, exit 2), listeners, default root."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import write  # noqa: E402

FLAGS = ['--listen', '--threads', '--access-log', '--max-connections', '--header-timeout',
         '--keepalive-timeout', '--send-timeout', '--autoindex', '--dotfiles', '--shutdown-grace',
         '--small-file-max', '--help', '--version']


def run(*args, timeout=10, cwd=None):
    return subprocess.run([harness.require_binary()] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL)


class Cli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        cls.root = os.path.join(cls.tmp, 'root')
        write(os.path.join(cls.root, 'a.txt'), b'AAAA\n')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertUsageError(self, p, *mentions):
        err = p.stderr.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 2, 'exit %d, stderr: %r' % (p.returncode, err))
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, 'expected exactly one stderr line, got %r' % err)
        low = lines[0].lower()
        self.assertTrue(any(m.lower() in low for m in mentions),
                        'stderr %r names none of %r' % (lines[0], mentions))

    def test_help(self):
        p = run('--help')
        self.assertEqual(p.returncode, 0, p.stderr)
        text = (p.stdout + p.stderr).decode('utf-8', 'replace')
        for f in FLAGS:
            with self.subTest(flag=f):
                self.assertIn(f, text)
        self.assertTrue(p.stdout.strip(), '--help should print to stdout')

    def test_version(self):
        p = run('--version')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex((p.stdout + p.stderr).decode(), r'\d+\.\d+')

    def test_bad_flag(self):
        self.assertUsageError(run('--bogus-flag', self.root), '--bogus-flag', 'bogus')

    def test_threads_not_a_number(self):
        self.assertUsageError(run('--threads', 'x', self.root), 'threads')

    def test_threads_missing_value(self):
        p = run(self.root, '--threads')
        self.assertUsageError(p, 'threads')

    def test_max_connections_negative(self):
        self.assertUsageError(run('--max-connections', '-5', self.root), 'max-connections')

    def test_missing_root(self):
        missing = os.path.join(self.tmp, 'does-not-exist')
        self.assertUsageError(run('--listen', '127.0.0.1:%d' % harness.free_port(), missing),
                              missing, 'does-not-exist', 'root')

    def test_root_is_a_file(self):
        f = os.path.join(self.root, 'a.txt')
        self.assertUsageError(run('--listen', '127.0.0.1:%d' % harness.free_port(), f),
                              'a.txt', 'root', 'director')

    def test_bad_listen(self):
        self.assertUsageError(run('--listen', 'not-an-address', self.root), 'listen',
                              'not-an-address', 'address')

    def test_bad_listen_port(self):
        self.assertUsageError(run('--listen', '127.0.0.1:99999', self.root), 'listen', '99999',
                              'port')

    def test_busy_port(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # no SO_REUSEPORT
        s.bind(('127.0.0.1', 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            p = run('--listen', '127.0.0.1:%d' % port, self.root)
        finally:
            s.close()
        self.assertUsageError(p, str(port), 'in use')

    def test_two_listeners(self):
        p2 = harness.free_port()
        srv = harness.Server(root=self.root, tmp=tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp'),
                             listen=['127.0.0.1:%d' % harness.free_port(), '127.0.0.1:%d' % p2])
        try:
            srv.start()
            self.assertEqual(srv.get('/a.txt').body, b'AAAA\n')
            c = harness.Conn(socket.create_connection(('127.0.0.1', p2), timeout=5))
            c.send(harness.build_request('/a.txt', close=True))
            self.assertEqual(c.read_response().body, b'AAAA\n')
            c.close()
            srv.stop()
        finally:
            srv.cleanup()

    def test_ipv6_listener(self):
        try:
            t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            t.bind(('::1', 0))
            port = t.getsockname()[1]
            t.close()
        except OSError:
            self.skipTest('no IPv6 loopback')
        srv = harness.Server(root=self.root, tmp=tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp'),
                             listen=['[::1]:%d' % port])
        srv.host = '::1'
        try:
            srv.start()
            c = harness.Conn(socket.create_connection(('::1', port), timeout=5))
            c.send(harness.build_request('/a.txt', close=True))
            self.assertEqual(c.read_response().body, b'AAAA\n')
            c.close()
            srv.stop()
        finally:
            srv.cleanup()

    def test_default_root_www(self):
        tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        write(os.path.join(tmp, 'www', 'w.txt'), b'default root\n')
        port = harness.free_port()
        cmd = [harness.require_binary(), '--listen', '127.0.0.1:%d' % port, '--access-log', 'off']
        with open(os.path.join(tmp, 'err'), 'wb') as err:
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=err)
        try:
            srv = harness.Server.__new__(harness.Server)
            srv.host, srv.port = '127.0.0.1', port
            import time
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(('127.0.0.1', port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            self.assertIsNone(proc.poll(), open(os.path.join(tmp, 'err')).read())
            self.assertEqual(harness.Server.get(srv, '/w.txt').body, b'default root\n')
            proc.terminate()
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_all_flags_accepted(self):
        srv = harness.Server(root=self.root, tmp=tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp'),
                             args=['--max-connections', '100', '--header-timeout', '5',
                                   '--keepalive-timeout', '5', '--send-timeout', '5',
                                   '--autoindex', '--dotfiles', '--shutdown-grace', '3',
                                   '--small-file-max', '65536'])
        try:
            srv.start()
            self.assertEqual(srv.get('/a.txt').body, b'AAAA\n')
            srv.stop()
        finally:
            srv.cleanup()


if __name__ == '__main__':
    harness.main()
