#!/usr/bin/env python3
"""Shared helpers for the HTTP/2 integration tests (test_h2_*.py).

Targets
    By default a test module starts sluice through harness/tls_certs (a TlsServer with a plain
    `--listen` for h2c and a `--tls-listen` for h2 over TLS, an ECDSA cert for localhost,
    `--http2 on --h2c on`) on a fresh temp root filled by populate().

    With SLUICE_H2_EXTERNAL=host:port (h2c, prior knowledge) and/or
    SLUICE_H2_EXTERNAL_TLS=host:port (TLS, ALPN h2) the tests talk to that server instead;
    SLUICE_H2_ROOT=/dir must then name the directory it serves, filled beforehand by
        python3 tests/integration/h2util.py populate /dir
    so the tests know the expected bytes. SLUICE_H2_REF=nghttpd|h2o|none names the reference
    whose documented deviations are expected (default: guessed from its `server` header).
    tests/integration/h2_fixture/run-external.sh does all of this for nghttpd or h2o.

Clients
    H2Raw     a raw-socket client built on hyperframe + hpack: every frame received is kept
              (type, flags, length, arrival time), headers are decoded with its own HPACK
              decoder, and anything can be sent, including frames no library would build
              (frame_bytes()).
    H2Client  a well-behaved client: h2.connection.H2Connection (client side, inbound
              validation on) over the same kind of socket, for request-semantics tests; the
              library itself rejects a misbehaving server.

Exit codes follow harness.py: 0 pass, 1 fail, 77 skip (a missing python module or client
program is named with its Debian package).
"""

import hashlib
import importlib
import os
import re
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import tls_certs  # noqa: E402

SKIP = harness.SKIP

# --------------------------------------------------------------------------------------------
# python3-h2 / python3-hyperframe / python3-hpack
# --------------------------------------------------------------------------------------------
# Debian installs them (pure python) into /usr/lib/python3/dist-packages, which only Debian's
# /usr/bin/python3 searches. A python3 found first on PATH (e.g. a pyenv shim) does not see
# them: then that directory is appended to sys.path (last, so the interpreter's own packages
# win) and the import retried.

DEBIAN_DIST = '/usr/lib/python3/dist-packages'
PY_MODULES = [('h2', 'python3-h2'), ('hyperframe', 'python3-hyperframe'),
              ('hpack', 'python3-hpack')]


def _missing_modules():
    missing = []
    for mod, pkg in PY_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(pkg)
    return missing


MISSING_PACKAGES = _missing_modules()
if MISSING_PACKAGES and os.path.isdir(DEBIAN_DIST) and DEBIAN_DIST not in sys.path:
    sys.path.append(DEBIAN_DIST)
    for _m in [m for m in list(sys.modules) if m.split('.')[0] in ('h2', 'hyperframe', 'hpack')]:
        del sys.modules[_m]
    MISSING_PACKAGES = _missing_modules()

if not MISSING_PACKAGES:
    import h2.config  # noqa: E402
    import h2.connection  # noqa: E402
    import h2.events  # noqa: E402
    import h2.exceptions  # noqa: E402
    import hpack  # noqa: E402
    import hyperframe  # noqa: E402
    import hyperframe.exceptions  # noqa: E402
    import hyperframe.frame as hf  # noqa: E402

# Debian package of each client program the tests may run.
PROGRAM_PACKAGES = {'nghttp': 'nghttp2-client', 'h2load': 'nghttp2-client',
                    'nghttpd': 'nghttp2-server', 'curl': 'curl', 'openssl': 'openssl',
                    'chromium': 'chromium', 'h2o': 'h2o'}


def require(programs=()):
    """Exit 77 naming the Debian packages when a python module or a program is missing."""
    missing = list(MISSING_PACKAGES)
    for p in programs:
        if shutil.which(p) is None:
            missing.append('%s (for %s)' % (PROGRAM_PACKAGES.get(p, p), p))
    if missing:
        print('SKIP: missing; install the Debian package(s): %s' % ', '.join(missing))
        sys.exit(SKIP)


def versions():
    """'h2 4.1.0, hyperframe 6.0.0, hpack 4.0.0' (for the log)."""
    if MISSING_PACKAGES:
        return 'h2 library missing'
    return 'h2 %s, hyperframe %s, hpack %s' % (h2.__version__, hyperframe.__version__,
                                               hpack.__version__)


# --------------------------------------------------------------------------------------------
# Protocol constants (RFC 9113)
# --------------------------------------------------------------------------------------------

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
PRIORITY_UPDATE = 0x10  # RFC 9218

FLAG_ACK = 0x1
FLAG_END_STREAM = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

S_HEADER_TABLE_SIZE = 0x1
S_ENABLE_PUSH = 0x2
S_MAX_CONCURRENT_STREAMS = 0x3
S_INITIAL_WINDOW_SIZE = 0x4
S_MAX_FRAME_SIZE = 0x5
S_MAX_HEADER_LIST_SIZE = 0x6
S_ENABLE_CONNECT_PROTOCOL = 0x8
S_NO_RFC7540_PRIORITIES = 0x9

NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb
INADEQUATE_SECURITY = 0xc
HTTP_1_1_REQUIRED = 0xd

ERROR_NAMES = {0: 'NO_ERROR', 1: 'PROTOCOL_ERROR', 2: 'INTERNAL_ERROR',
               3: 'FLOW_CONTROL_ERROR', 4: 'SETTINGS_TIMEOUT', 5: 'STREAM_CLOSED',
               6: 'FRAME_SIZE_ERROR', 7: 'REFUSED_STREAM', 8: 'CANCEL',
               9: 'COMPRESSION_ERROR', 10: 'CONNECT_ERROR', 11: 'ENHANCE_YOUR_CALM',
               12: 'INADEQUATE_SECURITY', 13: 'HTTP_1_1_REQUIRED'}
FRAME_NAMES = {0: 'DATA', 1: 'HEADERS', 2: 'PRIORITY', 3: 'RST_STREAM', 4: 'SETTINGS',
               5: 'PUSH_PROMISE', 6: 'PING', 7: 'GOAWAY', 8: 'WINDOW_UPDATE',
               9: 'CONTINUATION', 0x10: 'PRIORITY_UPDATE'}

MAX_WINDOW = 2 ** 31 - 1
DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME = 16384

# sluice's intended server SETTINGS and DATA framing (docs: the HTTP/2 design)
SLUICE_MAX_CONCURRENT_STREAMS = 128
SLUICE_DATA_PAYLOAD = 16375       # 9-byte frame header + 16375 = one 16 KiB TLS record


def code_name(c):
    return '%s(0x%x)' % (ERROR_NAMES.get(c, 'UNKNOWN'), c) if c is not None else 'None'


def frame_bytes(ftype, flags, stream_id, payload=b'', length=None):
    """One frame, byte by byte: nothing is checked (the length may even lie)."""
    n = len(payload) if length is None else length
    return struct.pack('>I', n)[1:] + bytes([ftype, flags]) + \
        struct.pack('>I', stream_id & 0xffffffff) + payload


def settings_payload(settings):
    """settings: dict or list of (id, value) pairs (duplicates and unknown ids allowed)."""
    items = settings.items() if isinstance(settings, dict) else settings
    return b''.join(struct.pack('>HI', k, v) for k, v in items)


def settings_frame(settings=(), ack=False, stream_id=0):
    return frame_bytes(SETTINGS, FLAG_ACK if ack else 0, stream_id, settings_payload(settings))


def window_update(stream_id, increment):
    return frame_bytes(WINDOW_UPDATE, 0, stream_id, struct.pack('>I', increment & 0xffffffff))


def rst_stream(stream_id, code):
    return frame_bytes(RST_STREAM, 0, stream_id, struct.pack('>I', code))


def ping_frame(data=b'sluice!!', ack=False, stream_id=0):
    return frame_bytes(PING, FLAG_ACK if ack else 0, stream_id, data)


def goaway_frame(last_stream_id=0, code=NO_ERROR, debug=b''):
    return frame_bytes(GOAWAY, 0, 0, struct.pack('>II', last_stream_id, code) + debug)


def priority_frame(stream_id, depends_on=0, weight=15, exclusive=False):
    dep = depends_on | (0x80000000 if exclusive else 0)
    return frame_bytes(PRIORITY, 0, stream_id, struct.pack('>IB', dep, weight))


def data_frame(stream_id, data, end_stream=False, flags=0):
    return frame_bytes(DATA, flags | (FLAG_END_STREAM if end_stream else 0), stream_id, data)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# The fixture root (the same files for sluice's temp root and an external server's)
# --------------------------------------------------------------------------------------------

BIG_SIZE = 64 << 20          # 64 MiB
MID_SIZE = 1 << 20           # 1 MiB
STREAMED_SIZE = 200000       # > 64 KiB: streamed by sluice, not cached
N_SUBRESOURCES = 50
PLAIN = b'The quick brown fox jumps over the lazy dog.\n' * 50

# (path, size) of the files a populated root must have; checked in external mode.
FIXTURE_FILES = [('small.txt', None), ('1k.bin', 1024), ('200k.bin', STREAMED_SIZE),
                 ('1m.bin', MID_SIZE), ('64m.bin', BIG_SIZE), ('f.txt', None),
                 ('f.txt.gz', None), ('index.html', None), ('dir/index.html', None),
                 ('noindex/file.txt', None), ('page/index.html', None)]

# A 1x1 transparent GIF.
GIF = bytes.fromhex('47494638396101000100800000000000ffffff21f90401000000002c000000000100'
                    '01000002024401003b')


def page_html(n=N_SUBRESOURCES):
    """A page with n subresources (half images, half scripts) that writes, once loaded,
    how many loaded and each resource's nextHopProtocol into <pre id="result">."""
    imgs = n // 2
    scripts = n - imgs
    parts = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>h2 page</title>\n']
    for i in range(scripts):
        parts.append('<script src="s%02d.js"></script>\n' % i)
    parts.append('</head><body>\n')
    for i in range(imgs):
        parts.append('<img src="i%02d.gif" alt="">\n' % i)
    parts.append('<pre id="result">pending</pre>\n<script>\n'
                 'window.addEventListener("load", function () {\n'
                 '  var e = performance.getEntriesByType("resource");\n'
                 '  var nav = performance.getEntriesByType("navigation")[0];\n'
                 '  document.getElementById("result").textContent = "RESULT " + '
                 'JSON.stringify({nav: nav ? nav.nextHopProtocol : null, scripts: '
                 'window.h2scripts || 0, imgs: Array.prototype.filter.call('
                 'document.images, function (i) { return i.complete && i.naturalWidth > 0; })'
                 '.length, res: e.map(function (r) { return [r.name.split("/").pop(), '
                 'r.nextHopProtocol]; })}) + " END";\n'
                 '});\n</script>\n</body></html>\n')
    return ''.join(parts).encode()


def populate(root):
    """Writes the fixture files into root (idempotent; big files kept if of the right size)."""
    def put(rel, data):
        harness.write(os.path.join(root, rel), data)

    def rand(rel, size):
        p = os.path.join(root, rel)
        if os.path.isfile(p) and os.path.getsize(p) == size:
            return
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + '.tmp', 'wb') as f:
            left = size
            while left:
                n = min(left, 4 << 20)
                f.write(os.urandom(n))
                left -= n
        os.chmod(p + '.tmp', 0o644)
        os.rename(p + '.tmp', p)

    import gzip
    put('small.txt', b'small file body\n')
    rand('1k.bin', 1024)
    rand('200k.bin', STREAMED_SIZE)
    rand('1m.bin', MID_SIZE)
    rand('64m.bin', BIG_SIZE)
    put('f.txt', PLAIN)
    put('f.txt.gz', gzip.compress(PLAIN, mtime=0))
    put('index.html', b'<p>root index</p>\n')
    put('dir/index.html', b'<p>dir index</p>\n')
    put('dir/sub/index.html', b'<p>sub index</p>\n')
    put('noindex/file.txt', b'no index here\n')
    put('page/index.html', page_html())
    for i in range(N_SUBRESOURCES - N_SUBRESOURCES // 2):
        put('page/s%02d.js' % i, ('window.h2scripts = (window.h2scripts || 0) + 1; '
                                  '/* script %02d */\n' % i).encode())
    for i in range(N_SUBRESOURCES // 2):
        put('page/i%02d.gif' % i, GIF)


def check_root(root):
    """None if root looks populated, else the reason."""
    for rel, size in FIXTURE_FILES:
        p = os.path.join(root, rel)
        if not os.path.isfile(p):
            return '%s is missing' % p
        if size is not None and os.path.getsize(p) != size:
            return '%s has %d bytes, not %d' % (p, os.path.getsize(p), size)
    return None


_FILE_CACHE = {}


def file_bytes(root, rel):
    p = os.path.join(root, rel.lstrip('/'))
    k = (p, os.path.getmtime(p), os.path.getsize(p))
    if k not in _FILE_CACHE:
        with open(p, 'rb') as f:
            _FILE_CACHE[k] = f.read()
    return _FILE_CACHE[k]


def file_sha256(root, rel):
    return sha256(file_bytes(root, rel))


# --------------------------------------------------------------------------------------------
# The target server
# --------------------------------------------------------------------------------------------

class ConfigError(Exception):
    pass


def _hostport(v, name):
    m = re.fullmatch(r'\[?([^\]]+?)\]?:(\d+)', v.strip())
    if not m:
        raise ConfigError('%s=%r is not host:port' % (name, v))
    return m.group(1), int(m.group(2))


def external_config():
    """None (target sluice) or dict(h2c=(host, port)|None, tls=(host, port)|None, root, ref)."""
    ext = os.environ.get('SLUICE_H2_EXTERNAL')
    ext_tls = os.environ.get('SLUICE_H2_EXTERNAL_TLS')
    if not ext and not ext_tls:
        return None
    root = os.environ.get('SLUICE_H2_ROOT')
    if not root:
        raise ConfigError('SLUICE_H2_EXTERNAL(_TLS) needs SLUICE_H2_ROOT=/dir (the directory '
                          'the external server serves)')
    why = check_root(root)
    if why:
        raise ConfigError('SLUICE_H2_ROOT=%s is not a populated fixture root (%s); run: '
                          'python3 %s populate %s' % (root, why, os.path.join(HERE, 'h2util.py'),
                                                      root))
    return {'h2c': _hostport(ext, 'SLUICE_H2_EXTERNAL') if ext else None,
            'tls': _hostport(ext_tls, 'SLUICE_H2_EXTERNAL_TLS') if ext_tls else None,
            'root': root, 'ref': os.environ.get('SLUICE_H2_REF')}


def is_external():
    return bool(os.environ.get('SLUICE_H2_EXTERNAL') or os.environ.get('SLUICE_H2_EXTERNAL_TLS'))


def client_context(alpn=('h2',), **kw):
    """A python ssl client context (no verification) offering `alpn` (None: no ALPN)."""
    return tls_certs.client_context(alpn=list(alpn) if alpn else None, **kw)


def open_socket(host, port, tls, alpn=('h2',), sni='localhost', timeout=10.0, ctx=None):
    """A connected socket; over TLS the handshake is done (sock.selected_alpn_protocol())."""
    raw = socket.create_connection((host, port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not tls:
        return raw
    ctx = ctx or client_context(alpn=alpn)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


class Target:
    """What a test module talks to. transports: 'tls' (ALPN h2) and/or 'h2c'."""

    def __init__(self, root, h2c=None, tls=None, server=None, ref=None):
        self.root = root
        self.addrs = {'h2c': h2c, 'tls': tls}
        self.server = server        # a tls_certs.TlsServer when the target is sluice
        self._ref = ref

    @property
    def sluice(self):
        return self.server is not None

    @property
    def external(self):
        return self.server is None

    def has(self, transport):
        return self.addrs.get(transport) is not None

    def addr(self, transport):
        a = self.addrs.get(transport)
        if a is None:
            raise unittest.SkipTest('no %s address for this target (set SLUICE_H2_EXTERNAL%s)'
                                    % (transport, '_TLS' if transport == 'tls' else ''))
        return a

    def url(self, transport, path='/', host=None):
        h, p = self.addr(transport)
        if host is None:
            host = 'localhost' if transport == 'tls' else h
        if ':' in host:
            host = '[%s]' % host
        return '%s://%s:%d%s' % ('https' if transport == 'tls' else 'http', host, p, path)

    def curl_resolve(self, transport, host='localhost'):
        h, p = self.addr(transport)
        return ['--resolve', '%s:%d:%s' % (host, p, h)]

    def socket(self, transport, alpn=('h2',), timeout=10.0, **kw):
        h, p = self.addr(transport)
        return open_socket(h, p, transport == 'tls', alpn=alpn, timeout=timeout, **kw)

    def raw(self, transport, handshake=True, settings=None, timeout=10.0):
        """An H2Raw on a fresh connection (handshake: preface + SETTINGS exchanged)."""
        c = H2Raw(self.socket(transport, timeout=timeout), tls=(transport == 'tls'))
        if handshake:
            c.handshake(settings=settings)
        return c

    def client(self, transport, **kw):
        """An H2Client (h2.connection.H2Connection) on a fresh connection."""
        return H2Client(self.socket(transport), tls=(transport == 'tls'), **kw)

    def expected(self, rel):
        return file_bytes(self.root, rel)

    @property
    def ref(self):
        """The reference whose deviation list applies: None for sluice."""
        if self.sluice:
            return None
        if self._ref is None:
            self._ref = detect_reference(self)
        return self._ref

    def describe(self):
        if self.sluice:
            return 'sluice %s (h2c %s:%d, tls %s:%d)' % (
                self.server.bin, self.server.host, self.server.port, self.server.host,
                self.server.tls_port)
        return 'external %s (h2c %s, tls %s, root %s)' % (
            self.ref, '%s:%d' % self.addrs['h2c'] if self.addrs['h2c'] else '-',
            '%s:%d' % self.addrs['tls'] if self.addrs['tls'] else '-', self.root)

    def stop(self):
        if self.server is not None:
            try:
                if self.server.alive():
                    self.server.stop()
            finally:
                self.server.cleanup()


def detect_reference(target):
    """'nghttpd', 'h2o' or 'none', from the `server` header of a response."""
    for t in ('h2c', 'tls'):
        if target.has(t):
            try:
                c = target.client(t)
                try:
                    r = c.get('/small.txt')
                finally:
                    c.close()
            except Exception:
                continue
            s = (r.header('server') or '').lower()
            if 'nghttpd' in s:
                return 'nghttpd'
            if 'h2o' in s:
                return 'h2o'
            return 'none'
    return 'none'


def start_target(server_args=(), populate_root=populate, threads=2, plain=True):
    """The module's target: the external server of the environment, or a fresh sluice."""
    cfg = external_config()
    if cfg:
        return Target(cfg['root'], h2c=cfg['h2c'], tls=cfg['tls'], ref=cfg['ref'])
    tmp = tempfile.mkdtemp(prefix='sluice-it-h2-', dir='/tmp')
    root = os.path.join(tmp, 'root')
    os.makedirs(root)
    populate_root(root)
    cert = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')
    args = list(server_args)
    if not any(a.startswith('--http2') for a in args):
        args = ['--http2', 'on'] + args
    if not any(a.startswith('--h2c') for a in args):
        args = ['--h2c', 'on'] + args
    # Streams the tests leave stalled (zero windows, held-open requests) finish only at the
    # end of the grace period; 3 s keeps the stop within harness.stop()'s 10 s.
    if not any(a.startswith('--shutdown-grace') for a in args):
        args = ['--shutdown-grace', '3'] + args
    srv = tls_certs.TlsServer(args=args, certs=[cert], plain=plain, root=root, tmp=tmp,
                              threads=threads)
    try:
        srv.start()
    except BaseException:
        srv.cleanup()
        raise
    return Target(root, h2c=(srv.host, srv.port) if plain else None,
                  tls=(srv.host, srv.tls_port), server=srv)


def start_sluice(server_args=(), populate_root=populate, threads=2, plain=True):
    """A sluice of its own (for sluice-only tests that need other flags or a signal)."""
    saved = {k: os.environ.pop(k) for k in ('SLUICE_H2_EXTERNAL', 'SLUICE_H2_EXTERNAL_TLS')
             if k in os.environ}
    try:
        return start_target(server_args, populate_root, threads, plain)
    finally:
        os.environ.update(saved)


# --------------------------------------------------------------------------------------------
# H2Raw: frames in, frames out
# --------------------------------------------------------------------------------------------

class _Headers:
    """:status and header lookups over a (name, value) list in self.headers."""

    @property
    def status(self):
        v = self.header(':status')
        return int(v) if v is not None else None

    def header(self, name, default=None):
        for k, v in self.headers or ():
            if k == name:
                return v
        return default

    def headers_all(self, name):
        return [v for k, v in self.headers or () if k == name]


class Stream(_Headers):
    """What one stream received."""

    def __init__(self, sid):
        self.id = sid
        self.headers = None       # [(name, value)] str, the first (response) field block
        self.informational = []   # 1xx field blocks
        self.trailers = None
        self.body = bytearray()
        self.data_sizes = []      # payload length of each DATA frame (padding excluded)
        self.flow = 0             # flow-controlled bytes received (DATA lengths incl. padding)
        self.ended = False        # END_STREAM received
        self.rst = None           # error code of a RST_STREAM received
        self.first_data_at = None
        self.ended_at = None
        self.decode_error = None


    @property
    def done(self):
        return self.ended or self.rst is not None

    def __repr__(self):
        return '<stream %d status=%s ended=%s rst=%s body=%d frames=%d headers=%r>' % (
            self.id, self.status, self.ended, code_name(self.rst) if self.rst is not None
            else None, len(self.body), len(self.data_sizes), self.headers)


class H2Raw:
    """A client connection driven frame by frame (hyperframe for parsing, hpack for headers).

    Server SETTINGS are ACKed and server PINGs answered automatically; flow control is left
    to the test unless auto_window is set (then every DATA is given back at once, to the stream
    and the connection)."""

    def __init__(self, sock, tls=False):
        self.sock = sock
        self.tls = tls
        self.buf = bytearray()
        self.frames = []              # every frame received, in order (hyperframe objects)
        self.eof = False
        self.eof_at = None
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.streams = {}
        self.server_settings = None   # the server's first SETTINGS (dict)
        self.peer_settings = {}       # all SETTINGS values received so far
        self.settings_acks = 0
        self.goaways = []
        self.ping_acks = []
        self.auto_ack_settings = True
        self.auto_window = False
        self.keep_body = True
        self.next_sid = 1
        self._block = None            # (stream_id, bytearray, end_stream) being continued
        self.bytes_in = 0
        self.send_error = None

    # -- sending ------------------------------------------------------------------------------

    def send(self, *parts):
        data = b''.join(p.serialize() if hasattr(p, 'serialize') else bytes(p) for p in parts)
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:   # the server may have closed already
            self.send_error = e

    def preface(self, settings=None, magic=PREFACE):
        self.send(magic + settings_frame(settings or {}))

    def handshake(self, settings=None, timeout=5.0):
        """Preface + our SETTINGS; waits for the server's SETTINGS and its ACK of ours."""
        self.preface(settings)
        if not self.read_until(lambda: self.server_settings is not None and
                               self.settings_acks >= 1, timeout):
            raise AssertionError('no server SETTINGS + ACK within %.0fs: frames %s, eof=%s'
                                 % (timeout, self.frame_summary(), self.eof))
        return self

    def encode(self, headers, huffman=True):
        return self.enc.encode([(k.encode() if isinstance(k, str) else k,
                                 v.encode() if isinstance(v, str) else v) for k, v in headers],
                               huffman=huffman)

    def request_headers(self, path='/', method='GET', authority='localhost', scheme=None,
                        extra=()):
        scheme = scheme or ('https' if self.tls else 'http')
        h = [(':method', method), (':scheme', scheme), (':path', path)]
        if authority is not None:
            h.append((':authority', authority))
        return h + list(extra)

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def send_headers(self, sid, headers, end_stream=True, end_headers=True, flags=0,
                     padding=None, priority=None):
        """HEADERS with a field block: a list of (name, value) (HPACK-encoded here) or bytes."""
        block = headers if isinstance(headers, (bytes, bytearray)) else self.encode(headers)
        f = flags | (FLAG_END_STREAM if end_stream else 0) | \
            (FLAG_END_HEADERS if end_headers else 0)
        payload = bytes(block)
        if priority is not None:
            dep, weight = priority
            f |= FLAG_PRIORITY
            payload = struct.pack('>IB', dep, weight) + payload
        if padding is not None:
            f |= FLAG_PADDED
            payload = bytes([padding]) + payload + b'\0' * padding
        self.send(frame_bytes(HEADERS, f, sid, payload))
        return sid

    def get(self, path='/', method='GET', extra=(), end_stream=True, authority='localhost',
            sid=None):
        """Sends a request HEADERS on a new stream; returns the stream id."""
        sid = sid or self.new_sid()
        self.stream(sid)
        return self.send_headers(sid, self.request_headers(path, method, authority,
                                                           extra=extra),
                                 end_stream=end_stream)

    def ping(self, data=None, timeout=5.0):
        """PING round trip: True when the ACK with the same 8 bytes came back."""
        data = data or os.urandom(8)
        self.send(ping_frame(data))
        return self.read_until(lambda: data in self.ping_acks, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- receiving ----------------------------------------------------------------------------

    def stream(self, sid):
        s = self.streams.get(sid)
        if s is None:
            s = self.streams[sid] = Stream(sid)
        return s

    def _recv(self, timeout):
        if self.eof:
            return False
        self.sock.settimeout(max(0.001, timeout))
        try:
            d = self.sock.recv(1 << 18)
        except (socket.timeout, ssl.SSLWantReadError):
            return None
        except ssl.SSLError as e:
            if 'timed out' in str(e):
                return None
            d = b''
        except (ConnectionResetError, BrokenPipeError, OSError) as e:
            if isinstance(e, socket.timeout):
                return None
            d = b''
        if not d:
            self.eof = True
            self.eof_at = time.monotonic()
            return False
        self.bytes_in += len(d)
        self.buf += d
        self._parse()
        return True

    def _parse(self):
        mv = memoryview(self.buf)
        off = 0
        while len(self.buf) - off >= 9:
            length = int.from_bytes(mv[off:off + 3], 'big')
            if len(self.buf) - off < 9 + length:
                break
            f, _ = hf.Frame.parse_frame_header(mv[off:off + 9])
            f.body_len = length
            f.parse_error = None
            try:
                f.parse_body(mv[off + 9:off + 9 + length])
            except (hyperframe.exceptions.HyperframeError, ValueError, struct.error) as e:
                f.parse_error = e
            f.length = length
            f.received_at = time.monotonic()
            off += 9 + length
            self._on_frame(f)
        mv.release()
        del self.buf[:off]

    def _on_frame(self, f):
        self.frames.append(f)
        t = f.type
        if t == SETTINGS:
            if 'ACK' in f.flags:
                self.settings_acks += 1
            else:
                if self.server_settings is None:
                    self.server_settings = dict(f.settings)
                self.peer_settings.update(f.settings)
                if self.auto_ack_settings:
                    self.send(settings_frame(ack=True))
        elif t == PING:
            if 'ACK' in f.flags:
                self.ping_acks.append(bytes(f.opaque_data))
            else:
                self.send(ping_frame(bytes(f.opaque_data), ack=True))
        elif t == GOAWAY:
            self.goaways.append(f)
        elif t == RST_STREAM:
            self.stream(f.stream_id).rst = f.error_code
        elif t in (HEADERS, CONTINUATION):
            if t == HEADERS:
                self._block = (f.stream_id, bytearray(f.data), 'END_STREAM' in f.flags)
            elif self._block is not None:
                self._block[1].extend(f.data)
            if 'END_HEADERS' in f.flags and self._block is not None:
                sid, block, end = self._block
                self._block = None
                s = self.stream(sid)
                try:
                    hdrs = [(k.decode('latin-1') if isinstance(k, bytes) else k,
                             v.decode('latin-1') if isinstance(v, bytes) else v)
                            for k, v in self.dec.decode(bytes(block), raw=True)]
                except Exception as e:  # noqa: BLE001 -- recorded, asserted by the test
                    s.decode_error = e
                    hdrs = []
                status = next((v for k, v in hdrs if k == ':status'), None)
                if s.headers is None and status is not None and status.startswith('1'):
                    s.informational.append(hdrs)
                elif s.headers is None:
                    s.headers = hdrs
                else:
                    s.trailers = hdrs
                if end:
                    s.ended = True
                    s.ended_at = time.monotonic()
        elif t == DATA:
            s = self.stream(f.stream_id)
            fcl = f.flow_controlled_length
            s.data_sizes.append(len(f.data))
            s.flow += fcl
            if s.first_data_at is None:
                s.first_data_at = f.received_at
            if self.keep_body:
                s.body += f.data
            if 'END_STREAM' in f.flags:
                s.ended = True
                s.ended_at = f.received_at
            if self.auto_window and fcl:
                parts = [window_update(0, fcl)]
                if not s.ended:
                    parts.append(window_update(f.stream_id, fcl))
                self.send(*parts)

    def read_until(self, pred, timeout=5.0):
        """Reads until pred() holds (True), EOF or timeout (then pred() once more)."""
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return True
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return bool(pred())
            self._recv(left)

    def read_for(self, seconds):
        """Reads everything arriving within `seconds` (or until EOF)."""
        self.read_until(lambda: False, seconds)

    def read_until_closed(self, timeout=5.0):
        """True if the server closed the connection within timeout."""
        return self.read_until(lambda: self.eof, timeout)

    def wait_goaway_or_close(self, timeout=5.0):
        """Reads until a GOAWAY arrives or the connection closes; returns the GOAWAY or None."""
        self.read_until(lambda: self.goaways or self.eof, timeout)
        return self.goaways[0] if self.goaways else None

    def wait_error(self, sid, timeout=5.0):
        """Reads until stream sid is reset, a GOAWAY arrives or EOF."""
        self.read_until(lambda: self.goaways or self.eof or
                        (sid in self.streams and self.streams[sid].rst is not None), timeout)

    def wait_stream(self, sid, timeout=10.0):
        """Reads until stream sid ended or was reset (or a GOAWAY/EOF); returns the Stream."""
        s = self.stream(sid)
        self.read_until(lambda: s.done or self.eof or
                        any(g.error_code != NO_ERROR for g in self.goaways), timeout)
        return s

    def frames_of(self, ftype, sid=None):
        return [f for f in self.frames if f.type == ftype and (sid is None or f.stream_id == sid)]

    def frame_summary(self, last=12):
        out = []
        for f in self.frames[-last:]:
            name = FRAME_NAMES.get(f.type, 'type%d' % f.type)
            extra = ''
            if f.type == GOAWAY:
                extra = ' %s last=%d %r' % (code_name(f.error_code), f.last_stream_id,
                                            bytes(f.additional_data)[:80])
            elif f.type == RST_STREAM:
                extra = ' %s' % code_name(f.error_code)
            elif f.type == SETTINGS:
                extra = ' ack' if 'ACK' in f.flags else ' %s' % dict(f.settings)
            elif f.type == WINDOW_UPDATE:
                extra = ' +%d' % f.window_increment
            out.append('%s[%d]%s len=%d' % (name, f.stream_id, extra, f.length))
        return ', '.join(out) or 'none'


# --------------------------------------------------------------------------------------------
# H2Client: h2.connection.H2Connection, client side
# --------------------------------------------------------------------------------------------

class H2Response(_Headers):
    def __init__(self, sid):
        self.stream_id = sid
        self.headers = None
        self.informational = []
        self.trailers = None
        self.body = b''
        self.data_sizes = []
        self.ended = False
        self.reset = None          # RST_STREAM error code received
        self.terminated = None     # GOAWAY error code received


    def __repr__(self):
        return '<h2 response stream %d: status %s, %d body bytes, ended=%s reset=%s ' \
               'headers %r>' % (self.stream_id, self.status, len(self.body), self.ended,
                                code_name(self.reset) if self.reset is not None else None,
                                self.headers)


class H2Client:
    """A well-behaved HTTP/2 client on h2.connection.H2Connection (python3-h2)."""

    def __init__(self, sock, tls=False, settings=None, validate=True):
        self.sock = sock
        self.tls = tls
        cfg = h2.config.H2Configuration(client_side=True, header_encoding='utf-8',
                                        validate_inbound_headers=validate,
                                        validate_outbound_headers=False,
                                        normalize_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings.enable_push = 0
        if settings:
            self.conn.update_settings(settings)
        self.conn.initiate_connection()
        self.responses = {}
        self.events = []
        self.terminated = None
        self.eof = False
        self.flush()

    def flush(self):
        d = self.conn.data_to_send()
        if d:
            self.sock.sendall(d)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, path, method='GET', headers=(), authority='localhost', end_stream=True):
        sid = self.conn.get_next_available_stream_id()
        h = [(':method', method), (':scheme', 'https' if self.tls else 'http'),
             (':path', path)]
        if authority is not None:
            h.append((':authority', authority))
        h += list(headers)
        self.conn.send_headers(sid, h, end_stream=end_stream)
        self.responses[sid] = H2Response(sid)
        self.flush()
        return sid

    def _recv(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            d = self.sock.recv(1 << 18)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        except (ssl.SSLError, OSError) as e:
            if isinstance(e, socket.timeout) or 'timed out' in str(e):
                return
            d = b''
        if not d:
            self.eof = True
            return
        for ev in self.conn.receive_data(d):
            self.events.append(ev)
            r = self.responses.get(getattr(ev, 'stream_id', None))
            if isinstance(ev, h2.events.ResponseReceived):
                r.headers = list(ev.headers)
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                r.informational.append(list(ev.headers))
            elif isinstance(ev, h2.events.TrailersReceived):
                r.trailers = list(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                r.body += ev.data
                r.data_sizes.append(len(ev.data))
                if ev.flow_controlled_length:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                        ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                r.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                if r is not None:
                    r.reset = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.terminated = ev
                for x in self.responses.values():
                    if not x.ended and x.reset is None:
                        x.terminated = ev.error_code
        self.flush()

    def wait(self, sids, timeout=20.0):
        deadline = time.monotonic() + timeout
        sids = list(sids)
        while True:
            rs = [self.responses[s] for s in sids]
            if all(r.ended or r.reset is not None or r.terminated is not None for r in rs):
                return rs
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return rs
            self._recv(left)

    def get(self, path, method='GET', headers=(), authority='localhost', timeout=20.0):
        sid = self.request(path, method, headers, authority)
        return self.wait([sid], timeout)[0]


# --------------------------------------------------------------------------------------------
# unittest glue
# --------------------------------------------------------------------------------------------

TARGET = None


def setup_module_target(**kw):
    """setUpModule(): starts (or points at) the module's target once."""
    global TARGET
    TARGET = start_target(**kw)
    return TARGET


def teardown_module_target():
    global TARGET
    if TARGET is not None:
        TARGET.stop()
        TARGET = None


def sluice_only(fn_or_cls):
    """A test that needs sluice itself (its flags, a signal): skipped against a reference."""
    reason = 'sluice-only: needs sluice itself (flags or signals), not an external server'
    return unittest.skipIf(is_external(), reason)(fn_or_cls)


def sluice_specific(fn):
    """A behaviour that is sluice's design choice, not an RFC requirement: run everywhere
    (a reference may well do the same); expected to deviate on a reference only where its
    deviation list says so."""
    fn.sluice_specific = True
    return fn


class H2Case(unittest.TestCase):
    """Base class: self.target, self.transport ('tls' or 'h2c'), raw/client connections that
    close at cleanup, and assertions on error codes."""

    transport = 'tls'
    maxDiff = None

    @property
    def target(self):
        return TARGET

    def setUp(self):
        if TARGET is None:
            self.fail('no target (setUpModule did not run)')
        if not TARGET.has(self.transport):
            self.skipTest('target has no %s address' % self.transport)

    def raw(self, handshake=True, settings=None, **kw):
        c = TARGET.raw(self.transport, handshake=handshake, settings=settings, **kw)
        self.addCleanup(c.close)
        return c

    def client(self, **kw):
        c = TARGET.client(self.transport, **kw)
        self.addCleanup(c.close)
        return c

    def expected(self, rel):
        return TARGET.expected(rel)

    # -- assertions ---------------------------------------------------------------------------

    def assertConnectionError(self, c, code, timeout=5.0, msg=''):
        """A GOAWAY with `code` arrives, then the server closes the connection."""
        g = c.wait_goaway_or_close(timeout)
        info = '%s; frames: %s; eof=%s' % (msg, c.frame_summary(), c.eof)
        self.assertIsNotNone(g, 'expected GOAWAY %s, got none; %s' % (code_name(code), info))
        self.assertEqual(g.error_code, code, 'GOAWAY %s instead of %s; %s'
                         % (code_name(g.error_code), code_name(code), info))
        self.assertTrue(c.read_until_closed(timeout),
                        'connection still open %.0fs after GOAWAY %s; %s'
                        % (timeout, code_name(code), info))
        return g

    def assertStreamError(self, c, sid, code, timeout=5.0, allow_connection_error=False,
                          msg=''):
        """RST_STREAM(code) on sid, and the connection still works (PING round trip).
        allow_connection_error: a GOAWAY with the same code also passes (RFC 9113 §5.4.1
        lets an endpoint treat any stream error as a connection error)."""
        c.wait_error(sid, timeout)
        s = c.stream(sid)
        info = '%s; frames: %s; eof=%s' % (msg, c.frame_summary(), c.eof)
        if s.rst is None:
            if c.goaways and allow_connection_error:
                self.assertEqual(c.goaways[0].error_code, code,
                                 'GOAWAY %s instead of %s; %s'
                                 % (code_name(c.goaways[0].error_code), code_name(code), info))
                return
            if c.goaways:
                self.fail('connection error GOAWAY %s instead of the stream error '
                          'RST_STREAM %s; %s' % (code_name(c.goaways[0].error_code),
                                                  code_name(code), info))
            self.fail('no RST_STREAM %s on stream %d; %s' % (code_name(code), sid, info))
        self.assertEqual(s.rst, code, 'RST_STREAM %s instead of %s on stream %d; %s'
                         % (code_name(s.rst), code_name(code), sid, info))
        self.assertTrue(c.ping(), 'connection unusable after the stream error: %s' % info)

    def assertStillWorks(self, c, path='/small.txt', msg='', window=None):
        """No error so far, and a GET on the same connection is answered 200 (window: a
        WINDOW_UPDATE for the new stream, when the test set INITIAL_WINDOW_SIZE to 0)."""
        sid = c.get(path)
        if window:
            c.send(window_update(sid, window))
        s = c.wait_stream(sid)
        info = '%s; frames: %s; eof=%s' % (msg, c.frame_summary(), c.eof)
        self.assertFalse([g for g in c.goaways if g.error_code != NO_ERROR],
                         'unexpected GOAWAY; %s' % info)
        self.assertEqual(s.status, 200, '%r; %s' % (s, info))
        self.assertTrue(s.ended, info)
        self.assertEqual(bytes(s.body), self.expected(path), info)
        return s


class _Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        dt = time.monotonic() - self._t0
        if dt >= 1.0:
            self.stream.writeln('    (%.1fs)' % dt)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        first = str(err[1]).strip().splitlines()
        self.stream.writeln('    deviation confirmed (%s): %s'
                            % (test.id().split('.', 1)[-1], first[0][:300] if first else '?'))


def main(deviations=None):
    """Runs the calling module's tests; exits 0/1/77.

    deviations: {reference: {'Class.test_name': reason}}: against that external reference
    those tests are expected to fail (unittest expectedFailure; an unexpected success fails
    the run), and the list is printed first."""
    try:
        cfg = external_config()
    except ConfigError as e:
        print('FAIL: %s' % e)
        sys.exit(1)
    if not cfg:
        harness.require_binary()
    mod = sys.modules['__main__']
    print('h2 tests with %s; python %s' % (versions(), sys.version.split()[0]))
    argv = [a for a in sys.argv[1:] if not a.startswith('-')]
    if cfg:
        ref = cfg['ref'] or detect_reference(Target(cfg['root'], h2c=cfg['h2c'],
                                                    tls=cfg['tls']))
        os.environ['SLUICE_H2_REF'] = ref
        dev = (deviations or {}).get(ref, {})
        print('target: external %s (h2c %s, tls %s, root %s)'
              % (ref, os.environ.get('SLUICE_H2_EXTERNAL', '-'),
                 os.environ.get('SLUICE_H2_EXTERNAL_TLS', '-'), cfg['root']))
        print('expected to deviate against %s (%d):' % (ref, len(dev)))
        for name in sorted(dev):
            print('  %s: %s' % (name, dev[name]))
        for name in dev:
            cls_name, meth = name.split('.', 1)
            cls = getattr(mod, cls_name, None)
            if cls is None or not hasattr(cls, meth):
                print('  (warning: %s does not exist)' % name)
                continue
            setattr(cls, meth, unittest.expectedFailure(getattr(cls, meth)))
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(argv, mod) if argv else loader.loadTestsFromModule(mod)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=_Result)
    result = runner.run(suite)
    n_fail = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    n_skip = len(result.skipped)
    n_pass = max(0, result.testsRun - n_fail - n_skip - len(result.expectedFailures))
    print('%d passed, %d failed, %d skipped, %d expected deviations'
          % (n_pass, n_fail, n_skip, len(result.expectedFailures)))
    sys.stdout.flush()
    if result.wasSuccessful() and result.testsRun == n_skip and result.testsRun:
        sys.exit(SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)


# --------------------------------------------------------------------------------------------
# command line: populate a root for an external server
# --------------------------------------------------------------------------------------------

if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'populate':
        populate(sys.argv[2])
        print('populated %s' % sys.argv[2])
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == 'check':
        why = check_root(sys.argv[2])
        print(why or 'ok')
        sys.exit(1 if why else 0)
    print('usage: h2util.py populate DIR | check DIR')
    sys.exit(2)
