"""Shared helpers for the sluice integration tests (python3 stdlib only).

Each test script is a unittest module run as a meson test:
    exit 0 = pass, 1 = fail, 77 = skip (reason printed).

The binary comes from $SLUICE_BIN (set by tests/integration/meson.build); when run by hand
without it, the newest /work/main/build*/src/sluice next to this file is used.
"""

import email.utils
import glob
import hashlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


# --------------------------------------------------------------------------------------------
# Locating the binary
# --------------------------------------------------------------------------------------------

def sluice_bin():
    path = os.environ.get('SLUICE_BIN')
    if path:
        return path
    cands = glob.glob(os.path.join(HERE, '..', '..', 'build*', 'src', 'sluice'))
    cands = [c for c in cands if os.access(c, os.X_OK)]
    if not cands:
        return None
    return os.path.abspath(max(cands, key=os.path.getmtime))


def require_binary():
    path = sluice_bin()
    if not path or not os.access(path, os.X_OK):
        print('SKIP: sluice binary not found (SLUICE_BIN=%r)' % path)
        sys.exit(SKIP)
    return path


def free_port(host='127.0.0.1', family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def socket_fd_count(pid):
    n = 0
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:'):
                n += 1
        except OSError:
            pass
    return n


def raise_nofile(want):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------

class ServerError(Exception):
    pass


class Server:
    """A sluice process with its own temp directory.

    Layout: <tmp>/root (the document root, unless `root` is given), <tmp>/access.log,
    <tmp>/stdout, <tmp>/stderr. Anything outside root (e.g. a canary) may go in <tmp>.
    """

    def __init__(self, args=(), root=None, threads=2, access_log=True, populate=None,
                 tmp=None, cwd=None, listen=None):
        self.bin = require_binary()
        self.tmp = tmp or tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        self.root = root or os.path.join(self.tmp, 'root')
        os.makedirs(self.root, exist_ok=True)
        self.extra = list(args)
        self.threads = threads
        self.access_log = os.path.join(self.tmp, 'access.log') if access_log is True else access_log
        self.cwd = cwd or self.tmp
        self.listen = listen
        self.proc = None
        self.port = None
        self.host = '127.0.0.1'
        self.returncode = None
        if populate:
            populate(self.root)

    # -- lifecycle ----------------------------------------------------------------------------

    def command(self, port):
        cmd = [self.bin]
        if self.listen:
            for l in self.listen:
                cmd += ['--listen', l]
        else:
            cmd += ['--listen', '127.0.0.1:%d' % port]
        if self.threads is not None:
            cmd += ['--threads', str(self.threads)]
        if self.access_log is not None:
            cmd += ['--access-log', self.access_log]
        cmd += self.extra
        cmd.append(self.root)
        return cmd

    def start(self, timeout=10.0):
        last_err = None
        for _attempt in range(3):
            port = free_port()
            if self.listen:
                port = int(self.listen[0].rsplit(':', 1)[1])
            self.port = port
            self.cmdline = self.command(port)
            self._out = open(os.path.join(self.tmp, 'stdout'), 'wb')
            self._err = open(os.path.join(self.tmp, 'stderr'), 'wb')
            self.proc = subprocess.Popen(self.cmdline, stdout=self._out, stderr=self._err,
                                         stdin=subprocess.DEVNULL, cwd=self.cwd)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    s = socket.create_connection((self.host, port), timeout=0.5)
                    s.close()
                    return self
                except OSError:
                    time.sleep(0.02)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise ServerError('sluice did not accept on port %d within %.0fs\ncmd: %s\n'
                                  'stderr:\n%s' % (port, timeout, ' '.join(self.cmdline),
                                                   self.stderr()))
            last_err = ('sluice exited with %d before accepting\ncmd: %s\nstderr:\n%s'
                        % (self.proc.returncode, ' '.join(self.cmdline), self.stderr()))
            if self.listen or 'use' not in self.stderr().lower():
                break  # only retry a likely port race ("address already in use")
        raise ServerError(last_err)

    def stderr(self):
        try:
            with open(os.path.join(self.tmp, 'stderr'), 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def stdout(self):
        try:
            with open(os.path.join(self.tmp, 'stdout'), 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=10.0, check=True):
        """Signal the server, wait for it; returns the exit code. With check, raise unless 0."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait(timeout)
        self._out.close()
        self._err.close()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            if check:
                raise ServerError('sluice did not exit within %.0fs of %s\nstderr:\n%s'
                                  % (timeout, signal.Signals(sig).name, self.stderr()))
            return None
        if check and rc != 0:
            raise ServerError('sluice exited with %d after %s (expected 0)\nstderr:\n%s'
                              % (rc, signal.Signals(sig).name, self.stderr()))
        return rc

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def read_access_log(self):
        try:
            with open(self.access_log, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    # -- clients ------------------------------------------------------------------------------

    def url(self, path='/'):
        return 'http://%s:%d%s' % (self.host, self.port, path)

    def connect(self, timeout=10.0):
        return Conn(socket.create_connection((self.host, self.port), timeout=timeout))

    def get(self, path, method='GET', headers=None, version='HTTP/1.1', host=True):
        """One request on a fresh connection; returns the Response."""
        c = self.connect()
        try:
            c.send(build_request(path, method=method, headers=headers, version=version,
                                 host=host, close=True))
            return c.read_response(head=(method == 'HEAD'))
        finally:
            c.close()

    def fd_targets(self):
        out = []
        d = '/proc/%d/fd' % self.proc.pid
        for fd in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, fd)))
            except OSError:
                pass
        return out

    def fd_count(self):
        """Open fds of the server, not counting files under the root: per-worker file caches
        keep those open legitimately (bounded by threads x files), so they are not leaks."""
        real_root = os.path.realpath(self.root) + '/'
        return sum(1 for t in self.fd_targets()
                   if not (t + '/').startswith(real_root) and not t.startswith(real_root))

    def fd_summary(self):
        kinds = {}
        for t in self.fd_targets():
            k = t.split(':', 1)[0] + ':' if ':' in t and not t.startswith('/') else t
            kinds[k] = kinds.get(k, 0) + 1
        return ', '.join('%s x%d' % kv for kv in sorted(kinds.items()))

    def wait_fds(self, target, slack=0, timeout=5.0):
        """Polls until the server's fd count <= target + slack; returns the last count."""
        deadline = time.monotonic() + timeout
        n = self.fd_count()
        while n > target + slack and time.monotonic() < deadline:
            time.sleep(0.05)
            n = self.fd_count()
        return n


# --------------------------------------------------------------------------------------------
# HTTP over raw sockets
# --------------------------------------------------------------------------------------------

def build_request(path, method='GET', headers=None, version='HTTP/1.1', host=True,
                  close=False, body=b''):
    lines = ['%s %s %s' % (method, path, version)]
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if host is True:
        lines.append('Host: localhost')
    elif host:
        lines.append('Host: %s' % host)
    for k, v in hdrs:
        lines.append('%s: %s' % (k, v))
    if close:
        lines.append('Connection: close')
    raw = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
    return raw + body


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers_list = headers  # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers_list:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers_list if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    def __getitem__(self, name):
        v = self.header(name)
        if v is None:
            raise KeyError(name)
        return v

    def __repr__(self):
        return '<Response %s %d %s, %d body bytes>\n%s' % (
            self.version, self.status, self.reason, len(self.body),
            self.raw_head.decode('latin-1', 'replace'))


class ConnectionClosed(Exception):
    pass


class Conn:
    """A socket plus a read buffer, so pipelined responses can be parsed one by one."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b''
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_head(self):
        while True:
            i = self.buf.find(b'\r\n\r\n')
            if i >= 0:
                head, self.buf = self.buf[:i + 4], self.buf[i + 4:]
                return head
            if not self._fill():
                raise ConnectionClosed('connection closed before a full response head; got %r'
                                       % self.buf[:400])

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed('connection closed after %d of %d body bytes'
                                       % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self):
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if not self._fill():
                raise ConnectionClosed('connection closed inside a chunked body')

    def read_until_close(self):
        while self._fill():
            pass
        data, self.buf = self.buf, b''
        return data

    def read_response(self, head=False):
        """Reads one response. `head`: the request was HEAD (no body follows)."""
        raw = self.read_head()
        lines = raw[:-4].split(b'\r\n')
        m = re.match(rb'^(HTTP/\d\.\d) (\d{3})(?: (.*))?$', lines[0])
        if not m:
            raise AssertionError('bad status line %r' % lines[0])
        version = m.group(1).decode()
        status = int(m.group(2))
        reason = (m.group(3) or b'').decode('latin-1')
        headers = []
        for line in lines[1:]:
            if b':' not in line:
                raise AssertionError('bad header line %r' % line)
            k, v = line.split(b':', 1)
            headers.append((k.decode('latin-1'), v.strip().decode('latin-1')))
        r = Response(version, status, reason, headers, b'', raw)
        if head or status in (204, 304) or 100 <= status < 200:
            return r
        te = r.header('Transfer-Encoding')
        cl = r.header('Content-Length')
        if te and 'chunked' in te.lower():
            body = b''
            while True:
                size = int(self.read_line().split(b';')[0], 16)
                if size == 0:
                    while self.read_line():
                        pass
                    break
                body += self.read_exact(size)
                self.read_exact(2)
            r.body = body
        elif cl is not None:
            r.body = self.read_exact(int(cl))
        else:
            r.body = self.read_until_close()
        return r

    def read_responses(self, n, heads=None):
        heads = heads or [False] * n
        return [self.read_response(head=heads[i]) for i in range(n)]

    def closed_by_peer(self, timeout=3.0):
        """True if the peer closes (EOF or RST) within `timeout` without sending more bytes.

        Any extra bytes received make this return False (they are kept in self.buf)."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
                return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def wait_close(self, timeout=3.0):
        """Seconds until the peer closed (discarding any bytes), or None if still open."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                data = self.sock.recv(65536)
                if not data:
                    return time.monotonic() - t0
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        except socket.timeout:
            return None


def raw_exchange(server, data, timeout=5.0):
    """Sends `data` on a fresh connection, reads one response; returns (Response, closed)."""
    c = server.connect(timeout=timeout)
    try:
        c.send(data)
        r = c.read_response()
        closed = c.closed_by_peer(timeout=2.0)
        return r, closed
    finally:
        c.close()


def raw_bytes(server, data, timeout=3.0):
    """Sends `data`, returns every byte received until the server closes or `timeout`."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    out = b''
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    return out


# --------------------------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------------------------

def curl(*args, timeout=60, binary_out=True):
    cmd = ['curl', '-sS', '--max-time', str(timeout)] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout + 10)


def curl_sha256(url, *args, timeout=60):
    """Streams `url` through curl into sha256; returns (hexdigest, nbytes, curl rc, stderr)."""
    cmd = ['curl', '-sS', '--max-time', str(timeout)] + list(args) + [url]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    h = hashlib.sha256()
    n = 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    err = p.stderr.read()
    rc = p.wait()
    return h.hexdigest(), n, rc, err.decode('utf-8', 'replace')


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(4 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# misc checks
# --------------------------------------------------------------------------------------------

IMF_FIXDATE = re.compile(r'^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} '
                         r'(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} '
                         r'\d{2}:\d{2}:\d{2} GMT$')


def parse_http_date(s):
    return email.utils.parsedate_to_datetime(s).timestamp()


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def strong_etag(s):
    return s is not None and re.fullmatch(r'"[\x21\x23-\x7e\x80-\xff]*"', s) is not None


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


# --------------------------------------------------------------------------------------------
# unittest glue
# --------------------------------------------------------------------------------------------

class ServerTestCase(unittest.TestCase):
    """One server per test class. Subclasses set `server_args` and override `populate`."""

    server_args = ()
    threads = 2
    maxDiff = None
    access_log = True

    @classmethod
    def populate(cls, root, tmp):
        pass

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        cls.tmp = tmp
        root = os.path.join(tmp, 'root')
        os.makedirs(root)
        cls.populate(root, tmp)
        cls.server = Server(args=cls.server_args, root=root, tmp=tmp, threads=cls.threads,
                            access_log=cls.access_log)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()

    # helpers
    def get(self, path, method='GET', headers=None, version='HTTP/1.1', host=True):
        return self.server.get(path, method=method, headers=headers, version=version, host=host)

    def connect(self):
        return self.server.connect()

    def assertStatus(self, r, status, msg=None):
        if isinstance(status, (tuple, list, set)):
            self.assertIn(r.status, status, msg or repr(r))
        else:
            self.assertEqual(r.status, status, msg or repr(r))


def main():
    """Runs the calling module's tests; exits 0/1/77."""
    require_binary()
    mod = sys.modules['__main__']
    argv = [a for a in sys.argv[1:] if not a.startswith('-')]
    loader = unittest.TestLoader()
    if argv:
        suite = loader.loadTestsFromNames(argv, mod)
    else:
        suite = loader.loadTestsFromModule(mod)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
    result = runner.run(suite)
    sys.stdout.flush()
    if result.wasSuccessful() and result.testsRun == len(result.skipped) and result.testsRun:
        sys.exit(SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)
