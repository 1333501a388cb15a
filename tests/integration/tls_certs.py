"""Shared helpers for the HTTPS integration tests (python3 stdlib + openssl/curl/gnutls-cli).

- Certificates: ECDSA P-256 / RSA-2048 self-signed certs made with `openssl req`, cached per
  process in one temp dir (make_cert, cert_info).
- TlsServer: a harness.Server with `--tls-listen` (and, by default, a plain `--listen` too).
- Clients: python `ssl` contexts (client_context, tls_connect, tls_get), `openssl s_client`,
  `gnutls-cli` and curl runners that return the raw bytes, plus parse_responses() to turn raw
  HTTP bytes into harness.Response objects.

A test script must never skip because the server lacks TLS: that is a failure. It skips (77)
only when a client program it needs is missing (require_programs).
"""

import atexit
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# The six (version, suite) pairs of the spec, with names for every client.
# (version, openssl/curl name, gnutls cipher, needs-ECDSA-cert?)  TLS 1.2 names are the ECDSA
# variants; RSA_12 below has the RSA ones.
SUITES_13 = [
    ('1.3', 'TLS_AES_128_GCM_SHA256', 'AES-128-GCM'),
    ('1.3', 'TLS_AES_256_GCM_SHA384', 'AES-256-GCM'),
    ('1.3', 'TLS_CHACHA20_POLY1305_SHA256', 'CHACHA20-POLY1305'),
]
ECDSA_12 = [
    ('1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'AES-128-GCM'),
    ('1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'AES-256-GCM'),
    ('1.2', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'CHACHA20-POLY1305'),
]
RSA_12 = [
    ('1.2', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES-128-GCM'),
    ('1.2', 'ECDHE-RSA-AES256-GCM-SHA384', 'AES-256-GCM'),
    ('1.2', 'ECDHE-RSA-CHACHA20-POLY1305', 'CHACHA20-POLY1305'),
]
ALL_SUITES = SUITES_13 + ECDSA_12   # the spec's six pairs (ECDSA cert)

# Every name a TLS 1.3 suite may go by in a log line / probe output.
CIPHER_ALIASES = {
    'AES-128-GCM': re.compile(r'AES[-_ ]?128[-_ ]?GCM', re.I),
    'AES-256-GCM': re.compile(r'AES[-_ ]?256[-_ ]?GCM', re.I),
    'CHACHA20-POLY1305': re.compile(r'CHACHA20[-_ ]?POLY1305', re.I),
}


# --------------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------------

def have(prog):
    return shutil.which(prog) is not None


def require_programs(*progs):
    """Exit 77 (skip) with a reason if a client program is missing."""
    missing = [p for p in progs if not have(p)]
    if missing:
        print('SKIP: required client program(s) missing: %s' % ', '.join(missing))
        sys.exit(harness.SKIP)
    if not getattr(ssl, 'HAS_TLSv1_3', False):
        print('SKIP: the python ssl module has no TLS 1.3')
        sys.exit(harness.SKIP)


def kernel_has_ktls():
    return os.path.exists('/proc/net/tls_stat')


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------

_CERT_DIR = None
_CERTS = {}


def cert_dir():
    global _CERT_DIR
    if _CERT_DIR is None:
        _CERT_DIR = tempfile.mkdtemp(prefix='sluice-certs-', dir='/tmp')
        atexit.register(shutil.rmtree, _CERT_DIR, True)
    return _CERT_DIR


def make_cert(cn, sans=None, kind='ec', name=None):
    """A self-signed cert for `cn` (SANs default to DNS:cn). kind: 'ec' (P-256) or 'rsa'.

    Returns (cert_path, key_path); cached per (name or cn, kind)."""
    name = name or cn
    k = (name, kind)
    if k in _CERTS:
        return _CERTS[k]
    d = cert_dir()
    base = os.path.join(d, '%s.%s' % (re.sub(r'[^A-Za-z0-9.-]', '_', name), kind))
    if sans is None:
        sans = ['DNS:%s' % cn]
    if kind == 'ec':
        newkey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
    elif kind == 'rsa':
        newkey = ['-newkey', 'rsa:2048']
    else:
        raise ValueError(kind)
    cmd = (['openssl', 'req', '-x509'] + newkey +
           ['-nodes', '-days', '30', '-subj', '/CN=%s' % cn,
            '-addext', 'subjectAltName=%s' % ','.join(sans),
            '-addext', 'basicConstraints=critical,CA:FALSE',
            '-keyout', base + '.key', '-out', base + '.crt'])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError('openssl req failed: %s' % p.stderr.decode('utf-8', 'replace'))
    _CERTS[k] = (base + '.crt', base + '.key')
    return _CERTS[k]


def cert_info(der_or_pem):
    """{'cn': ..., 'sans': [...], 'key': 'ec'|'rsa'|'?', 'text': full text} of a certificate."""
    if isinstance(der_or_pem, bytes) and not der_or_pem.startswith(b'-----BEGIN'):
        pem = ssl.DER_cert_to_PEM_cert(der_or_pem).encode()
    elif isinstance(der_or_pem, str):
        with open(der_or_pem, 'rb') as f:
            pem = f.read()
    else:
        pem = der_or_pem
    p = subprocess.run(['openssl', 'x509', '-noout', '-text'], input=pem,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    text = p.stdout.decode('utf-8', 'replace')
    m = re.search(r'Subject:.*?CN\s*=\s*([^,\n/]+)', text)
    sans = []
    m2 = re.search(r'X509v3 Subject Alternative Name:.*?\n\s*(.+)', text)
    if m2:
        sans = [s.strip() for s in m2.group(1).split(',')]
    if 'id-ecPublicKey' in text:
        key = 'ec'
    elif 'rsaEncryption' in text:
        key = 'rsa'
    else:
        key = '?'
    return {'cn': m.group(1).strip() if m else None, 'sans': sans, 'key': key, 'text': text}


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------

def wait_accepting(host, port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class TlsServer(harness.Server):
    """A sluice with `--tls-listen 127.0.0.1:<tls_port>` and the given certs.

    certs: [(cert, key)] pairs in order (first = default); self_signed adds --self-signed;
    plain: also a plain `--listen` (self.port); otherwise TLS only and self.port == tls_port."""

    def __init__(self, args=(), certs=(), self_signed=False, plain=True, **kw):
        tls_args = []
        for c, k in certs:
            tls_args += ['--cert', c, '--key', k]
        if self_signed:
            tls_args.append('--self-signed')
        super().__init__(args=list(tls_args) + list(args), **kw)
        self.plain = plain
        self.tls_port = None

    def command(self, port):
        if self.plain:
            self.tls_port = harness.free_port()
            while self.tls_port == port:
                self.tls_port = harness.free_port()
            cmd = super().command(port)
            return cmd[:1] + ['--tls-listen', '127.0.0.1:%d' % self.tls_port] + cmd[1:]
        # TLS only: the base class waits for `port`, which is the TLS port here.
        self.tls_port = port
        cmd = [self.bin, '--tls-listen', '127.0.0.1:%d' % port]
        if self.threads is not None:
            cmd += ['--threads', str(self.threads)]
        if self.access_log is not None:
            cmd += ['--access-log', self.access_log]
        cmd += self.extra
        cmd.append(self.root)
        return cmd

    def start(self, timeout=10.0):
        super().start(timeout)
        if self.plain and not wait_accepting(self.host, self.tls_port, self.proc, timeout):
            raise harness.ServerError(
                'sluice does not accept on its --tls-listen port %d (plain port %d works)\n'
                'cmd: %s\nstderr:\n%s' % (self.tls_port, self.port, ' '.join(self.cmdline),
                                          self.stderr()))
        return self

    def tls_url(self, path='/', host='localhost'):
        return 'https://%s:%d%s' % (host, self.tls_port, path)

    def curl_resolve(self, host='localhost'):
        return ['--resolve', '%s:%d:127.0.0.1' % (host, self.tls_port)]

    def rss_kib(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0

    def wait_log(self, pattern, timeout=5.0):
        """Polls the access log until `pattern` (regex) matches a line; returns the text."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        while True:
            text = self.read_access_log()
            if rx.search(text) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)


class TlsServerTestCase(harness.ServerTestCase):
    """One TLS server per class: set `certs` (list of (cn, kind) or (cert, key) paths),
    `self_signed`, `server_args`, `plain`."""

    certs = ()            # [(cert_path, key_path)], computed in cert_pairs()
    self_signed = False
    plain = True

    @classmethod
    def cert_pairs(cls):
        return list(cls.certs)

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        cls.tmp = tmp
        root = os.path.join(tmp, 'root')
        os.makedirs(root)
        cls.populate(root, tmp)
        cls.server = TlsServer(args=cls.server_args, certs=cls.cert_pairs(),
                               self_signed=cls.self_signed, plain=cls.plain, root=root, tmp=tmp,
                               threads=cls.threads, access_log=cls.access_log)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.root = root

    # helpers
    def tls(self, **kw):
        return tls_connect(self.server, **kw)

    def tls_get(self, path, **kw):
        return tls_get(self.server, path, **kw)


# --------------------------------------------------------------------------------------------
# python ssl clients
# --------------------------------------------------------------------------------------------

VERSIONS = {
    '1.0': ssl.TLSVersion.TLSv1,
    '1.1': ssl.TLSVersion.TLSv1_1,
    '1.2': ssl.TLSVersion.TLSv1_2,
    '1.3': ssl.TLSVersion.TLSv1_3,
}


def client_context(version=None, ciphers=None, alpn=None, cafile=None, tickets=True):
    """version: None (1.2..1.3) or '1.0'/'1.1'/'1.2'/'1.3' (pinned). ciphers: an OpenSSL
    TLS<=1.2 cipher string (python cannot restrict TLS 1.3 suites). No verification unless
    cafile is given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version in ('1.0', '1.1'):
        # OpenSSL 3 refuses TLS < 1.2 at security level 1+; drop to 0 so the client offers it.
        ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
    if version:
        ctx.minimum_version = VERSIONS[version]
        ctx.maximum_version = VERSIONS[version]
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        ctx.set_ciphers(ciphers + (':@SECLEVEL=0' if version in ('1.0', '1.1') else ''))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def tls_connect(server, ctx=None, sni='localhost', session=None, timeout=10.0, port=None,
                **ctx_kw):
    """A harness.Conn over an SSLSocket (handshake done). sni=None sends no server_name."""
    ctx = ctx or client_context(**ctx_kw)
    raw = socket.create_connection((server.host, port or server.tls_port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except BaseException:
        raw.close()
        raise
    c = harness.Conn(s)
    c.ssl = s
    return c


def tls_get(server, path, method='GET', headers=None, close=True, **kw):
    """One request on a fresh TLS connection; returns (Response, SSLSocket-info dict)."""
    c = tls_connect(server, **kw)
    try:
        c.send(harness.build_request(path, method=method, headers=headers, close=close))
        r = c.read_response(head=(method == 'HEAD'))
        r.tls = {'version': c.ssl.version(), 'cipher': c.ssl.cipher()[0],
                 'alpn': c.ssl.selected_alpn_protocol(), 'reused': c.ssl.session_reused,
                 'session': c.ssl.session}
        return r
    finally:
        c.close()


def handshake_fails(server, timeout=10.0, **kw):
    """Tries a TLS handshake with the given client settings; returns the exception, or None
    when the handshake succeeded."""
    try:
        c = tls_connect(server, timeout=timeout, **kw)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return e
    c.close()
    return None


# --------------------------------------------------------------------------------------------
# Raw HTTP bytes -> Responses
# --------------------------------------------------------------------------------------------

class _BytesSock:
    def __init__(self, data):
        self.data = data

    def recv(self, n):
        d, self.data = self.data[:n], self.data[n:]
        return d

    def close(self):
        pass


def parse_responses(data, n=None, heads=None):
    """Parses raw bytes into Responses (all of them, or n)."""
    c = harness.Conn(_BytesSock(data))
    out = []
    i = 0
    while (n is None and (c.buf or c.sock.data)) or (n is not None and i < n):
        out.append(c.read_response(head=bool(heads and heads[i])))
        i += 1
    return out


# --------------------------------------------------------------------------------------------
# Command-line clients
# --------------------------------------------------------------------------------------------

def s_client(port, args=(), stdin=b'', timeout=60, host='127.0.0.1'):
    """`openssl s_client -quiet` (data only on stdout, stays until the server closes).
    Returns CompletedProcess (stdout bytes = what the server sent after the handshake)."""
    cmd = ['openssl', 's_client', '-connect', '%s:%d' % (host, port), '-quiet',
           '-verify_quiet'] + list(args)
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def s_client_brief(port, args=(), stdin=b'', timeout=60, host='127.0.0.1'):
    """`openssl s_client -brief -ign_eof`: the connection summary (Protocol version:,
    Ciphersuite:, ...) on stderr, data on stdout."""
    cmd = ['openssl', 's_client', '-connect', '%s:%d' % (host, port), '-brief', '-ign_eof',
           '-nocommands'] + list(args)
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def gnutls_priority(version, gnutls_cipher, kx='ECDHE-ECDSA'):
    """A gnutls priority string pinning one version and one cipher."""
    v = '+VERS-TLS1.3' if version == '1.3' else '+VERS-TLS1.2'
    p = 'NORMAL:-VERS-ALL:%s:-CIPHER-ALL:+%s' % (v, gnutls_cipher)
    if version == '1.2':
        p += ':-KX-ALL:+%s' % kx
    return p


def gnutls_cli(port, priority, stdin=b'', timeout=60, extra=(), host='127.0.0.1',
               sni='localhost'):
    """gnutls-cli --insecure; informational messages to a log file (returned as .log),
    data on stdout. stdin is written but NOT closed until the server closes: on stdin EOF
    gnutls-cli sends close_notify at once, which would race the responses."""
    fd, logf = tempfile.mkstemp(prefix='gnutls-', suffix='.log', dir='/tmp')
    os.close(fd)
    cmd = ['gnutls-cli', '--insecure', '--priority', priority, '--logfile', logf,
           '-p', str(port)] + (['--sni-hostname', sni] if sni else ['--disable-sni']) + \
        list(extra) + [host]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(stdin)
        p.stdin.flush()
        out = b''
        deadline = time.monotonic() + timeout
        os.set_blocking(p.stdout.fileno(), False)
        while time.monotonic() < deadline:
            try:
                d = p.stdout.read()
            except BlockingIOError:
                d = None
            if d:
                out += d
            elif d == b'' or p.poll() is not None:
                break
            else:
                time.sleep(0.01)
        p.stdin.close()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        err = p.stderr.read() if p.poll() is not None else b''
        res = subprocess.CompletedProcess(cmd, p.returncode, out, err)
        with open(logf, 'rb') as f:
            res.log = f.read().decode('utf-8', 'replace')
        return res
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.unlink(logf)


def curl_tls(server, path, *args, timeout=60, host='localhost', http2=False):
    """curl -k against the server's TLS port (host name resolved to 127.0.0.1); -v so stderr
    carries '* SSL connection using TLSv1.3 / TLS_...'. HTTP/1.1 (ALPN http/1.1 only) unless
    http2: these suites check TLS and HTTP/1 framing; test_h2_* the HTTP/2 side. Returns
    CompletedProcess."""
    proto = ('--http2',) if http2 else ('--http1.1',)
    return harness.curl('-k', '-v', *proto, *server.curl_resolve(host), *args,
                        server.tls_url(path, host), timeout=timeout)


def curl_negotiated(stderr):
    """(version, cipher) from curl -v stderr, or (None, None)."""
    m = re.search(r'SSL connection using (TLSv[\d.]+) / (\S+)',
                  stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else stderr)
    return (m.group(1), m.group(2)) if m else (None, None)


def subprocess_run(cmd, stdin=b'', timeout=30):
    """Runs cmd with stdin bytes; a hung child is killed and reported as rc -9 (no raise)."""
    try:
        return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(cmd, -9, e.stdout or b'',
                                           (e.stderr or b'') + b'\n[timed out]')


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run_main():
    harness.main()


__all__ = ['unittest']
