#!/usr/bin/env python3
"""Hostile TLS peers: docs/hostile-peers.md, row by row, with the raw-record client tlsraw.

Each case asserts the exact alert (or that none is sent); for a fatal one that it is the last
thing the server writes and that its FIN/RST follows within 100 ms of our last send; and then
that a new client is served. The cases are a list made by hostile_cases(host, port, binary, ...)
so that tests/ktls/sluice_hostile_guest.py runs the same list against `--ktls require` inside
user-mode-linux.

Run: SLUICE_BIN=build/src/sluice python3 tests/integration/test_tls_hostile.py [Hostile.test_X]
     (HOSTILE_CASES=substring,... selects cases by name as well)
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import tlsraw as T  # noqa: E402
from tlsraw import (ALERT, CT_ALERT, CT_APP, CT_CCS, CT_HANDSHAKE, Hello, hs_msg,  # noqa: E402
                    record, u8, u16, u24, vec8, vec16)

BODY = b'hostile peers, kept at bay\n' * 12
PATH = '/h.txt'
BIG_PATH, BIG_LEN = '/big.bin', 4 << 20

# The four record protections the position-class cases run under (and the certificate each
# uses: ECDHE-ECDSA and ECDHE-RSA are both exercised).
PROFILES = {
    'tls12_aesgcm': dict(version='1.2', suites=['ECDHE-ECDSA-AES128-GCM-SHA256'],
                         sigalgs=T.SIGALGS_ECDSA),
    'tls12_chacha': dict(version='1.2', suites=['ECDHE-RSA-CHACHA20-POLY1305'],
                         sigalgs=T.SIGALGS_RSA),
    'tls13_aesgcm': dict(version='1.3', suites=['TLS_AES_128_GCM_SHA256']),
    'tls13_chacha': dict(version='1.3', suites=['TLS_CHACHA20_POLY1305_SHA256'],
                         shares=[T.SECP256R1]),
}
P12 = ('tls12_aesgcm', 'tls12_chacha')
P13 = ('tls13_aesgcm', 'tls13_chacha')


def big_body():
    """BIG_LEN bytes, the same every run (a response we can check without keeping a copy)."""
    block = hashlib.sha256(b'sluice hostile').digest() * 2048      # 64 KiB
    return block * (BIG_LEN // len(block))


def populate(root):
    with open(os.path.join(root, 'h.txt'), 'wb') as f:
        f.write(BODY)
    with open(os.path.join(root, 'big.bin'), 'wb') as f:
        f.write(big_body())


CURRENT = ['']      # the running case's name, sent as User-Agent (find it in access logs)


def request(path=PATH, close=False, size=None):
    """A GET request; size: padded with an X-Pad header to exactly that many bytes."""
    head = 'GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hostile/%s\r\n%s' % (
        path, CURRENT[0], 'Connection: close\r\n' if close else '')
    if size is None:
        return (head + '\r\n').encode()
    pad = size - len(head) - len('X-Pad: \r\n\r\n')
    return (head + 'X-Pad: ' + 'p' * pad + '\r\n\r\n').encode()


def response_complete(buf):
    i = buf.find(b'\r\n\r\n')
    if i < 0:
        return False
    m = re.search(rb'(?im)^content-length:\s*(\d+)', buf[:i])
    return len(buf) >= i + 4 + (int(m.group(1)) if m else 0)


def take_response(c):
    buf = c.app_in
    i = buf.find(b'\r\n\r\n')
    m = re.search(rb'(?im)^content-length:\s*(\d+)', buf[:i])
    n = int(m.group(1)) if m else 0
    status = int(buf.split(b' ', 2)[1])
    body, c.app_in = buf[i + 4:i + 4 + n], buf[i + 4 + n:]
    return status, body


class Failure(AssertionError):
    pass


def fmt_alerts(al):
    return '[%s]' % ', '.join('%s %s' % ({1: 'warning', 2: 'fatal'}.get(lv, lv),
                                         T.ALERTS.get(d, d)) for lv, d in al)


class Env:
    """Where the cases run and what they may expect. ktls: records after the handshake are
    the kernel's (--ktls require). rekey: the server follows TLS 1.3 KeyUpdates (user record
    layer, kernel >= 6.14); otherwise it answers what came before and closes cleanly.
    within: bound on alert-to-FIN. wait: how long to wait for a close."""

    def __init__(self, host, port, binary=None, server_args=(), root=None, rekey=True,
                 ktls=False, within=0.1, wait=0.4):
        self.host, self.port, self.binary = host, port, binary
        self.server_args, self.root = list(server_args), root
        self.rekey, self.ktls, self.within, self.wait = rekey, ktls, within, wait
        self.close_times = []      # (seconds from our last send to the close, case) per fatal

    def close_summary(self):
        t = sorted(self.close_times)
        if not t:
            return 'no fatal alert measured'
        return ('%d fatal alerts: close after median %.2f ms, max %.2f ms (%s)'
                % (len(t), t[len(t) // 2][0] * 1000, t[-1][0] * 1000, t[-1][1]))

    def client(self, port=None, timeout=5.0):
        return T.Client(self.host, port or self.port, timeout)

    def hello(self, profile='tls13_aesgcm', **kw):
        args = dict(PROFILES[profile])
        args.update(kw)
        return Hello(**args)

    def connect(self, profile='tls13_aesgcm', port=None, **kw):
        c = self.client(port)
        try:
            return c.handshake(self.hello(profile, **kw))
        except BaseException:
            c.close()
            raise

    def established(self, profile, **kw):
        c = self.connect(profile, **kw)
        self.get_ok(c, '%s: the first request' % profile)
        return c

    def get_ok(self, c, what, req=None, n=1):
        try:
            c.send_app(req or request())
            for _ in range(n):
                c.recv_app(response_complete, 3.0)
                status, body = take_response(c)
                if status != 200 or body != BODY:
                    raise Failure('%s: got status %d, %d body bytes' % (what, status, len(body)))
        except (T.TlsError, OSError) as e:
            raise Failure('%s: not answered (%r); then %r' % (what, e, c.read_until_close(0.2)))

    def serves(self, what):
        c = self.connect('tls13_aesgcm')
        try:
            self.get_ok(c, '%s: a new client afterwards' % what)
        finally:
            c.close()

    # -- outcomes --------------------------------------------------------------------------

    def _closed(self, o, errs):
        if not o.closed:
            errs.append('still open %.1f s after our last send' % self.wait)
        elif o.t is not None and o.t > self.within:
            errs.append('closed %.0f ms after our last send (> %.0f ms)'
                        % (o.t * 1000, self.within * 1000))

    def fatal(self, c, desc, what, app_ok=False, ccs_ok=False):
        """The alert `desc` (fatal; '*': any fatal alert the contract does not name), nothing
        after it, the close within `within`. ccs_ok: a middlebox CCS the server wrote before
        our last send (after its HelloRetryRequest) may still be unread ahead of the alert."""
        o = c.read_until_close(self.wait)
        errs = []
        if desc == '*':
            ok = len(o.alerts) == 1 and o.alerts[0][0] == 2
        else:
            ok = o.alerts == [(2, ALERT[desc])]
        if not ok:
            errs.append('alerts %s, want [fatal %s]' % (fmt_alerts(o.alerts), desc))
        elif o.events[-1][0] != 'alert':
            errs.append('records after the alert')
        if o.app and not app_ok:
            errs.append('%d bytes of application data' % len(o.app))
        unwanted = ('bad', 'sealed', 'other') + (() if ccs_ok else ('ccs',))
        if any(e[0] in unwanted for e in o.events):
            errs.append('other records written')
        if ccs_ok and [e for e in o.events if e[0] == 'ccs'][1:]:
            errs.append('more than one CCS')
        self._closed(o, errs)
        if errs:
            raise Failure('%s: %s -- got %r' % (what, '; '.join(errs), o))
        self.close_times.append((o.t, CURRENT[0]))
        return o

    def silent_close(self, c, what):
        """Close at once, nothing written."""
        o = c.read_until_close(self.wait)
        errs = []
        if o.alerts or o.app or any(e[0] in ('bad', 'other', 'sealed', 'ccs') for e in o.events):
            errs.append('wrote something (want nothing)')
        self._closed(o, errs)
        if errs:
            raise Failure('%s: %s -- got %r' % (what, '; '.join(errs), o))

    def closes(self, c, what, alerts_ok=None):
        """Closed within `within`, no application data; alerts not prescribed by the contract
        (alerts_ok: descriptions accepted, None = any)."""
        o = c.read_until_close(self.wait)
        errs = []
        if o.app:
            errs.append('%d bytes of application data' % len(o.app))
        if alerts_ok is not None and any(d not in [ALERT[a] for a in alerts_ok]
                                         for _, d in o.alerts):
            errs.append('alerts %s (accepted: %s)' % (fmt_alerts(o.alerts), alerts_ok))
        self._closed(o, errs)
        if errs:
            raise Failure('%s: %s -- got %r' % (what, '; '.join(errs), o))
        return o

    # -- own servers (cases that need other flags) -----------------------------------------

    def start_server(self, extra):
        port = harness.free_port(self.host)
        log = tempfile.NamedTemporaryFile(prefix='sluice-hostile-', suffix='.log', delete=False)
        threads = [] if '--threads' in extra else ['--threads', '2']
        cmd = [self.binary, '--tls-listen', '%s:%d' % (self.host, port), '--access-log', 'off'
               ] + threads + self.server_args + list(extra) + [self.root]
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        p.logfile = log.name
        for _ in range(200):
            if p.poll() is not None:
                break
            try:
                socket.create_connection((self.host, port), timeout=0.5).close()
                return p, port
            except OSError:
                time.sleep(0.02)
        self.stop_server(p)
        raise Failure('could not start %s' % ' '.join(cmd))

    @staticmethod
    def counters(p):
        """The server's SIGUSR1 counters (sluice_* name -> int)."""
        with open(p.logfile, 'rb') as f:
            n = len(f.read())
        p.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            with open(p.logfile, 'rb') as f:
                text = f.read()[n:].decode(errors='replace')
            if 'sluice_tls_keyupdate' in text:
                break
            time.sleep(0.05)
        return {k: int(v) for k, v in re.findall(r'(?m)^(sluice_\w+)\s+(\d+)$', text)}

    @staticmethod
    def stop_server(p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            os.unlink(p.logfile)
        except OSError:
            pass


def multi(checks):
    """Runs (label, fn) pairs, collecting failures: one case covering many variants."""
    errs = []
    for label, fn in checks:
        try:
            fn()
        except (Failure, T.TlsError, OSError) as e:
            errs.append('%s: %s' % (label, e))
    if errs:
        raise Failure('%d of %d variants failed:\n  ' % (len(errs), len(checks)) +
                      '\n  '.join(errs))


# ---- before the ClientHello is complete -----------------------------------------------------

def pre_bytes(env, data, desc, what):
    c = env.client()
    try:
        c.send(data() if callable(data) else data)
        if desc:
            env.fatal(c, desc, what)
        else:
            env.silent_close(c, what)
    finally:
        c.close()


def ch(**kw):
    return Hello('1.3', **kw).encode()


PRE = [
    ('pre_ccs', lambda: record(CT_CCS, b'\x01'), 'unexpected_message'),
    ('pre_appdata', lambda: record(CT_APP, request()), 'unexpected_message'),
    ('pre_appdata_empty', lambda: record(CT_APP, b''), 'unexpected_message'),
    ('pre_appdata_between_hello_fragments',
     lambda: (lambda m: record(CT_HANDSHAKE, m[:50]) + record(CT_APP, b'') +
              record(CT_HANDSHAKE, m[50:]))(ch()), 'unexpected_message'),
    ('pre_ccs_between_hello_fragments',
     lambda: (lambda m: record(CT_HANDSHAKE, m[:50]) + record(CT_CCS, b'\x01') +
              record(CT_HANDSHAKE, m[50:]))(ch()), 'unexpected_message'),
    ('pre_plain_http', lambda: request(), 'unexpected_message'),
    ('pre_sslv2_client_hello', lambda: T.sslv2_client_hello(), 'unexpected_message'),
    ('pre_unknown_content_type', lambda: record(99, ch()), 'unexpected_message'),
    ('pre_alert_fatal', lambda: record(CT_ALERT, b'\x02\x28'), None),
    ('pre_alert_close_notify', lambda: record(CT_ALERT, b'\x01\x00'), None),
    ('pre_alert_between_hello_fragments',
     lambda: (lambda m: record(CT_HANDSHAKE, m[:50]) + record(CT_ALERT, b'\x02\x28'))(ch()),
     None),
    ('pre_record_version_major_2', lambda: record(CT_HANDSHAKE, ch(), version=0x0201),
     'protocol_version'),
    ('pre_record_version_major_4', lambda: record(CT_HANDSHAKE, ch(), version=0x0403),
     'protocol_version'),
    ('pre_zero_length_handshake', lambda: record(CT_HANDSHAKE, b''), 'unexpected_message'),
    ('pre_zero_length_handshake_between_fragments',
     lambda: (lambda m: record(CT_HANDSHAKE, m[:50]) + record(CT_HANDSHAKE, b'') +
              record(CT_HANDSHAKE, m[50:]))(ch()), 'unexpected_message'),
    ('pre_record_over_16k',         # a hello of 16,385 bytes (body under the bound) in one record
     lambda: record(CT_HANDSHAKE, padded_hello('1.3', 16381).encode()), 'record_overflow'),
    ('pre_first_message_server_hello',
     lambda: record(CT_HANDSHAKE, hs_msg(T.SERVER_HELLO, Hello('1.3').body())),
     'unexpected_message'),
    ('pre_first_message_finished', lambda: record(CT_HANDSHAKE, hs_msg(T.FINISHED, bytes(32))),
     'unexpected_message'),
    ('pre_bytes_after_hello_in_its_record',
     lambda: record(CT_HANDSHAKE, ch() + hs_msg(T.FINISHED, bytes(32))), 'unexpected_message'),
    ('pre_bytes_after_fragmented_hello_in_its_last_record',
     lambda: (lambda m: record(CT_HANDSHAKE, m[:40]) + record(CT_HANDSHAKE, m[40:] + b'\x14'))(
         ch()), 'unexpected_message'),
]


def raw_hello(h, sid=None, suites=None, comp=None, exts=None, trailing=b''):
    """A ClientHello message from raw parts (each with its own length prefix)."""
    sid = vec8(h.session_id) if sid is None else sid
    suites = vec16(b''.join(u16(s) for s in h.suites)) if suites is None else suites
    comp = vec8(h.compression) if comp is None else comp
    exts = vec16(h.extensions_bytes()) if exts is None else exts
    return hs_msg(T.CLIENT_HELLO, u16(h.legacy_version) + h.random + sid + suites + comp +
                  exts + trailing)


def malformed_hellos():
    """(label, ClientHello bytes) that must each be answered with decode_error."""
    def h(**kw):
        return Hello('1.3', **kw)

    def with_ext(typ, body):
        return h().set_ext(typ, body)
    x = h()
    eb = x.extensions_bytes()
    return [
        ('session id of 33 bytes', raw_hello(x, sid=u8(33) + bytes(33))),
        ('session id length past the end', raw_hello(x, sid=u8(250) + bytes(8), suites=b'',
                                                     comp=b'', exts=b'')),
        ('cipher suites odd length', raw_hello(x, suites=vec16(b'\x13\x01\x13'))),
        ('cipher suites length past the end', raw_hello(x, suites=u16(0xfff0) + b'\x13\x01',
                                                        comp=b'', exts=b'')),
        ('truncated after the cipher suites', raw_hello(x, comp=b'', exts=b'')),
        ('truncated inside the extensions length', raw_hello(x, exts=b'\x01')),
        ('extensions length past the end', raw_hello(x, exts=u16(len(eb) + 10) + eb)),
        ('extensions length short of the end', raw_hello(x, exts=u16(len(eb) - 3) + eb)),
        ('bytes after the extensions', raw_hello(x, trailing=b'\x00\x00')),
        ('extension length past the block', raw_hello(x, exts=vec16(eb + u16(0x1234) +
                                                                    u16(50) + b'ab'))),
        ('server_name inner length', with_ext(T.EXT_SNI, vec16(u8(0) + u16(100) + b'localhost')
                                              ).encode()),
        ('server_name list length', with_ext(T.EXT_SNI, u16(3) + u8(0) + vec16(b'localhost')
                                             ).encode()),
        ('supported_versions odd length', with_ext(T.EXT_VERSIONS, vec8(b'\x03\x04\x03')
                                                   ).encode()),
        ('supported_groups odd length', with_ext(T.EXT_GROUPS, vec16(b'\x00\x1d\x00')).encode()),
        ('signature_algorithms odd length', with_ext(T.EXT_SIGALGS, vec16(b'\x04\x03\x05')
                                                     ).encode()),
        ('key_share entry past the list', with_ext(T.EXT_KEY_SHARE, vec16(
            u16(T.X25519) + u16(40) + bytes(32))).encode()),
        ('key_share list length wrong', with_ext(T.EXT_KEY_SHARE, u16(100) + u16(T.X25519) +
                                                 vec16(os.urandom(32))).encode()),
    ]


def c_malformed_hellos(env):
    multi([(label, lambda m=m, label=label: pre_bytes(env, record(CT_HANDSHAKE, m),
                                                      'decode_error', label))
           for label, m in malformed_hellos()])


def c_eof_partial_hello(env):
    def one(cut):
        c = env.client()
        try:
            c.send(record(CT_HANDSHAKE, ch())[:5 + cut])
            c.shutdown_write()
            env.fatal(c, 'decode_error', 'EOF after %d bytes of the ClientHello' % cut)
        finally:
            c.close()
    multi([('EOF after %d ClientHello bytes' % n, lambda n=n: one(n)) for n in (3, 60)])


def c_huge_hello(env, length):
    """A ClientHello claiming `length` bytes: fatal illegal_parameter after its first record,
    long before we could send the rest."""
    c = env.client()
    try:
        body = Hello('1.3').body()
        first = u8(T.CLIENT_HELLO) + u24(length) + body
        first += bytes(16384 - len(first))
        c.send(record(CT_HANDSHAKE, first, version=0x0301))
        env.fatal(c, 'illegal_parameter', 'ClientHello of %d bytes (16 KiB of it sent)' % length)
    finally:
        c.close()


def hello_fatal(env, hello, desc, what, sizes=None):
    c = env.client()
    try:
        c.send_hello(hello() if callable(hello) else hello, sizes=sizes)
        env.fatal(c, desc, what)
    finally:
        c.close()


HELLO_FATAL = [
    ('version_none_in_common_tls11',
     lambda: Hello('1.3', versions=[0x0302, 0x0301], suites=T.SUITES_12), 'protocol_version'),
    ('version_none_in_common_legacy_tls10', lambda: Hello('1.2', legacy_version=0x0301),
     'protocol_version'),
    ('suites_tls13_only_with_tls12_suites', lambda: Hello('1.3', suites=T.SUITES_12),
     'handshake_failure'),
    ('suites_tls12_only_with_tls13_suites', lambda: Hello('1.2', suites=T.SUITES_13),
     'handshake_failure'),
    ('suites_none_in_common', lambda: Hello('both', suites=[0x002f, 0x0035, 0x009c]),
     'handshake_failure'),
    ('missing_supported_groups', lambda: Hello('1.3', groups=False), 'missing_extension'),
    ('missing_key_share', lambda: Hello('1.3').drop(T.EXT_KEY_SHARE), 'missing_extension'),
    ('missing_signature_algorithms', lambda: Hello('1.3').drop(T.EXT_SIGALGS),
     'missing_extension'),
    ('alpn_neither_h2_nor_http11_tls13', lambda: Hello('1.3', alpn=['spdy/3', 'h2c']),
     'no_application_protocol'),
    ('alpn_neither_h2_nor_http11_tls12', lambda: Hello('1.2', alpn=['http/1.0']),
     'no_application_protocol'),
    ('key_share_x25519_31_bytes', lambda: Hello('1.3', shares=[(T.X25519, os.urandom(31))]),
     'illegal_parameter'),
    ('key_share_x25519_33_bytes', lambda: Hello('1.3', shares=[(T.X25519, os.urandom(33))]),
     'illegal_parameter'),
    ('key_share_p256_compressed', lambda: Hello('1.3', shares=[
        (T.SECP256R1, b'\x02' + T.KeyShare(T.SECP256R1).pub[1:33])]), 'illegal_parameter'),
    ('key_share_p256_no_prefix', lambda: Hello('1.3', shares=[
        (T.SECP256R1, T.KeyShare(T.SECP256R1).pub[1:])]), 'illegal_parameter'),
    ('key_share_p256_short', lambda: Hello('1.3', shares=[
        (T.SECP256R1, T.KeyShare(T.SECP256R1).pub[:64])]), 'illegal_parameter'),
    ('key_share_p384_short', lambda: Hello('1.3', shares=[
        (T.SECP384R1, T.KeyShare(T.SECP384R1).pub[:80])]), 'illegal_parameter'),
]


def c_x25519_low_order(env):
    multi([('X25519 share %s' % p.hex(), lambda p=p: hello_fatal(
        env, Hello('1.3', shares=[(T.X25519, p)]), 'illegal_parameter',
        'low-order X25519 share %s' % p.hex()[:16])) for p in T.X25519_LOW_ORDER])


def hello_ok(env, hello, what, sizes=None, extra=b'', check=None):
    c = env.client()
    try:
        c.send_hello(hello, sizes=sizes, extra=extra)
        c.read_server_hello()
        c.read_server_flight()
        if c.version == '1.2':
            c.send(c.send_key_exchange(send=False) + c.send_ccs(send=False) +
                   c.send_finished(send=False))
            c.read_server_finished()
        else:
            c.send_finished()
        env.get_ok(c, what)
        if check:
            check(c)
    except (T.TlsError, OSError) as e:
        raise Failure('%s: handshake failed: %r -- then %r' % (what, e, c.read_until_close(0.2)))
    finally:
        c.close()


def c_alpn_ok(env):
    # (h2 is preferred when offered: test_h2_clients.py speaks it; this client speaks HTTP/1.)
    def check(c):
        if c.alpn != 'http/1.1':
            raise Failure('ALPN %r, want http/1.1' % c.alpn)
    for v in ('1.3', '1.2'):
        hello_ok(env, Hello(v, alpn=['spdy/3', 'http/1.1']), 'ALPN spdy/3,http/1.1 over %s' % v,
                 check=check)


KMAX_HELLO = 16 * 1024     # docs/hostile-peers.md: a ClientHello body over 16 KiB is refused


def padded_hello(version, body_len):
    """A well-formed ClientHello whose body is exactly body_len bytes (padding extension)."""
    h = Hello(version)
    fixed = len(h.body()) - len(h.extensions_bytes())
    return h.pad_extensions_to(body_len - fixed)


def c_hello_sizes(env):
    """Well-formed hellos with bodies up to 16 KiB are accepted (any record split); one byte
    more, or a hello with 64 KiB of padding (the most a legal hello holds), is refused with
    illegal_parameter from its header."""
    checks = []
    for v in ('1.3', '1.2'):
        for n, sizes in ((8000, None), (KMAX_HELLO, None), (KMAX_HELLO, 1000)):
            checks.append(('TLS %s, body %d bytes, records %s' % (v, n, sizes or '2^14'),
                           lambda v=v, n=n, sizes=sizes: hello_ok(
                               env, padded_hello(v, n), 'TLS %s hello body %d' % (v, n),
                               sizes=sizes)))
        for n in (KMAX_HELLO + 1, 65000):
            checks.append(('TLS %s, body %d bytes' % (v, n), lambda v=v, n=n: hello_fatal(
                env, padded_hello(v, n), 'illegal_parameter', 'TLS %s hello body %d' % (v, n))))
    multi(checks)


def c_fragmented(env, version, sizes):
    hello_ok(env, Hello(version), 'TLS %s ClientHello in records of %s bytes'
             % (version, sizes), sizes=sizes)


def c_fragment_boundaries(env):
    h0 = Hello('1.3', session_id=os.urandom(32), alpn=['http/1.1'])
    checks = []
    for k in h0.boundaries():
        def one(k=k):
            h = Hello('1.3', session_id=os.urandom(32), alpn=['http/1.1'])
            hello_ok(env, h, 'split at %d' % k, sizes=[k])
        checks.append(('ClientHello split at byte %d' % k, one))
    for sizes in ([1, 1, 1], [2, 2], [1, 3], [4, 1, 1, 1, 1, 1, 1, 1, 1, 1]):
        checks.append(('records %s then the rest' % sizes,
                       lambda s=sizes: hello_ok(env, Hello('1.3'), str(s), sizes=s)))
    multi(checks)


def c_hello_then_ccs_coalesced(env):
    hello_ok(env, Hello('1.3', session_id=os.urandom(32)),
             'ClientHello + CCS in one send()', extra=T.MIDDLEBOX_CCS)


def c_matrix(env):
    checks = []
    for s in T.SUITES.values():
        sig = T.SIGALGS_RSA if s.kx == 'rsa' else T.SIGALGS_ECDSA if s.kx else None
        checks.append((s.name, lambda s=s, sig=sig: hello_ok(
            env, Hello(s.version, suites=[s.name], sigalgs=sig), s.name)))
    for g in (T.X25519, T.SECP256R1, T.SECP384R1):
        checks.append(('TLS 1.3 share 0x%04x' % g, lambda g=g: hello_ok(
            env, Hello('1.3', groups=[g], shares=[g]), 'group 0x%04x' % g)))
        checks.append(('TLS 1.2 group 0x%04x' % g, lambda g=g: hello_ok(
            env, Hello('1.2', groups=[g]), 'group 0x%04x' % g)))
    for label, h in (('TLS 1.2 without extended_master_secret', lambda: Hello('1.2', ems=False)),
                     ('TLS 1.2 with a session id', lambda: Hello('1.2', session_id=os.urandom(32))),
                     ('TLS 1.3 without server_name', lambda: Hello('1.3', sni=None)),
                     ('TLS 1.2 + 1.3 offered', lambda: Hello('both'))):
        checks.append((label, lambda h=h, label=label: hello_ok(env, h(), label)))
    multi(checks)


# ---- TLS 1.3 handshake: middlebox CCS, HRR, client CCS and app data, Finished ----------------

def c_middlebox_ccs(env, sid, hrr):
    hello = Hello('1.3', session_id=os.urandom(32) if sid else b'',
                  shares=[] if hrr else None, groups=[T.X25519, T.SECP256R1])
    c = env.client()
    try:
        c.send_hello(hello)
        c.read_server_hello()
        c.read_server_flight()
        c.send_finished()
        env.get_ok(c, 'the request after the handshake')
    finally:
        c.close()
    what = 'session id %s%s' % ('32 bytes' if sid else 'empty', ', HelloRetryRequest'
                                 if hrr else '')
    if bool(c.hrr) != hrr:
        raise Failure('%s: HelloRetryRequest %s' % (what, c.hrr))
    ccs = [i for i, (t, _) in enumerate(c.rec_log) if t == CT_CCS]
    log = ' '.join(r[:6].hex() for _, r in c.rec_log[:6])
    if not sid:
        if ccs:
            raise Failure('%s: server sent change_cipher_spec (want none): %s' % (what, log))
        return
    nxt = c.rec_log[c.sh_index + 1][1] if len(c.rec_log) > c.sh_index + 1 else b''
    if nxt != T.MIDDLEBOX_CCS:
        raise Failure('%s: record after the %s is %s, want 140303000101; records: %s'
                      % (what, 'HelloRetryRequest' if hrr else 'ServerHello', nxt[:8].hex(), log))
    if len(ccs) != 1:
        raise Failure('%s: %d change_cipher_spec records, want exactly 1: %s'
                      % (what, len(ccs), log))


def c_hrr_group(env):
    """An empty key_share list draws a HelloRetryRequest for a group we listed; a share for a
    listed but not the first group is used or retried, either way the handshake completes."""
    for groups, shares, want in (([T.X25519, T.SECP256R1], [], 'any'),
                                 ([T.SECP256R1], [], T.SECP256R1),
                                 ([T.X25519, T.SECP256R1], [T.SECP256R1], None)):
        c = env.client()
        what = 'groups %s, key shares %s' % ([hex(g) for g in groups], [hex(g) for g in shares])
        try:
            c.handshake(Hello('1.3', groups=groups, shares=shares))
            env.get_ok(c, what)
            if want == 'any' and c.hrr not in groups or want not in ('any', None) and \
                    c.hrr != want:
                raise Failure('%s: HelloRetryRequest for %r' % (what, c.hrr))
        except (T.TlsError, OSError) as e:
            raise Failure('%s: %r' % (what, e))
        finally:
            c.close()


def c_hrr_second_hello(env, variant):
    """After a HelloRetryRequest (for X25519, from an empty key_share): the second
    ClientHello in 1-byte records, or behind a CCS (middlebox mode), completes; one with a
    share for another group, or none, is refused with illegal_parameter (RFC 8446 §4.2.8)."""
    h1 = Hello('1.3', groups=[T.X25519, T.SECP256R1], shares=[], session_id=os.urandom(32))
    c = env.client()
    c.auto_hrr = False
    what = 'second ClientHello after HelloRetryRequest: %s' % variant
    try:
        c.send_hello(h1)
        if c.read_server_hello() != 'hrr':
            raise Failure('%s: no HelloRetryRequest' % what)
        if variant in ('other group', 'no share'):
            h2 = h1.retry(T.SECP256R1 if c.hrr == T.X25519 else T.X25519)
            if variant == 'no share':
                h2.share_entries = []
                h2.set_ext(T.EXT_KEY_SHARE, h2.key_share_body())
            c.send_hello(h2, record_version=T.TLS12)
            # The middlebox CCS that followed the HelloRetryRequest is read here, first.
            env.fatal(c, 'illegal_parameter', what, ccs_ok=True)
            return
        h2 = h1.retry(c.hrr)
        extra = T.MIDDLEBOX_CCS if variant.startswith('behind a CCS') else b''
        if extra:
            c.send(extra)
        c.send_hello(h2, record_version=T.TLS12, sizes=1 if variant == '1-byte records' else None)
        c.read_server_hello()
        c.read_server_flight()
        if variant == 'behind a CCS, and another CCS before Finished':
            c.send(c.send_ccs(send=False) + c.send_finished(send=False))
            env.fatal(c, 'unexpected_message', what)
            return
        c.send_finished()
        env.get_ok(c, what)
    except (T.TlsError, OSError) as e:
        raise Failure('%s: %r -- %r' % (what, e, c.read_until_close(0.2)))
    finally:
        c.close()


def to_flight(env, profile='tls13_aesgcm', **kw):
    """A client that has read the server's first flight (1.3: up to its Finished; 1.2: up to
    ServerHelloDone) and sent nothing more."""
    c = env.client()
    c.send_hello(env.hello(profile, **kw))
    c.read_server_hello()
    c.read_server_flight()
    return c


def hs13(env, what, send, expect, **kw):
    """After the server's flight: send(c) -> bytes; expect: alert name, None (silent close)
    or 'ok' (the handshake completes and a request is answered)."""
    c = to_flight(env, **kw)
    try:
        data = send(c)
        c.send(data)
        if expect == 'ok':
            env.get_ok(c, what)
        elif expect:
            env.fatal(c, expect, what)
        else:
            env.silent_close(c, what)
    finally:
        c.close()


HS13 = [
    ('tls13_one_ccs_before_finished', lambda c: c.send_ccs(send=False) +
     c.send_finished(send=False), 'ok', dict(session_id=os.urandom(32))),
    ('tls13_two_ccs_before_finished', lambda c: c.send_ccs(send=False) * 2,
     'unexpected_message', {}),
    ('tls13_ccs_after_hello_and_before_finished', None, 'unexpected_message', {}),
    ('tls13_ccs_value_2', lambda c: c.send_ccs(2, send=False), 'unexpected_message', {}),
    ('tls13_ccs_empty', lambda c: record(CT_CCS, b''), 'unexpected_message', {}),
    ('tls13_ccs_two_bytes', lambda c: record(CT_CCS, b'\x01\x01'), 'unexpected_message', {}),
    ('tls13_appdata_empty_before_finished', lambda c: c.seal(CT_APP, b''),
     'unexpected_message', {}),
    ('tls13_appdata_before_finished', lambda c: c.seal(CT_APP, request()),
     'unexpected_message', {}),
    # unprotected type 23 is an encrypted handshake record to wolfSSL: it fails authentication
    ('tls13_unprotected_appdata_empty_before_finished', lambda c: record(CT_APP, b''),
     'bad_record_mac', {}),
    ('tls13_appdata_empty_before_ccs_and_finished', lambda c: c.send_ccs(send=False) +
     c.seal(CT_APP, b''), 'unexpected_message', {}),
    # An unprotected record other than CCS once the handshake keys are on is an unexpected
    # record (RFC 8446 §5); a protected fatal alert is the client giving up.
    ('tls13_plaintext_alert_before_finished', lambda c: record(CT_ALERT, b'\x02\x28'),
     'unexpected_message', {}),
    ('tls13_sealed_alert_before_finished', lambda c: c.seal(CT_ALERT, b'\x02\x28'), None, {}),
    ('tls13_bad_finished', lambda c: c.send_finished(send=False, verify=bytes(32)),
     'decrypt_error', {}),
    ('tls13_finished_in_1_byte_records', lambda c: fragmented_finished(c, 1), 'ok', {}),
    ('tls13_finished_in_3_byte_records', lambda c: fragmented_finished(c, 3), 'ok', {}),
    # the Finished is a key change: nothing may follow it in its record (RFC 8446 §5.1)
    ('tls13_bytes_after_finished_in_its_record', lambda c: finished_plus(c, b'\x18\x00'),
     'unexpected_message', {}),
    ('tls13_key_update_in_the_finished_record', lambda c: finished_plus(
        c, hs_msg(T.KEY_UPDATE, b'\x00')), 'unexpected_message', {}),
    ('tls13_zero_length_handshake_inside_finished', lambda c: (lambda k, m: (
        k.seal(CT_HANDSHAKE, m[:2]) + k.seal(CT_HANDSHAKE, b'') + k.seal(CT_HANDSHAKE, m[2:])))(
            c.wkeys, finished_msg(c)), 'unexpected_message', {}),
    ('tls13_unsolicited_certificate', lambda c: c.seal(CT_HANDSHAKE, hs_msg(
        T.CERTIFICATE, b'\x00' + u24(0))), 'unexpected_message', {}),
    ('tls13_end_of_early_data', lambda c: c.seal(CT_HANDSHAKE, hs_msg(5, b'')),
     'unexpected_message', {}),
]


def finished_msg(c):
    """The client Finished message (the state moves on as if it was sent; the caller seals
    it under the handshake keys, whose sequence number is given back)."""
    keys = c.wkeys
    c.send_finished(send=False)
    keys.seq -= 1
    return c.msgs[-1]


def finished_plus(c, extra):
    keys = c.wkeys
    m = finished_msg(c)
    return keys.seal(CT_HANDSHAKE, m + extra)


def fragmented_finished(c, n):
    """The client Finished in n-byte records under the handshake keys."""
    return c.send_finished(send=False, split=[n] * (4 + c.suite.hash_len))


def c_ccs_after_hello_and_before_finished(env):
    c = env.client()
    try:
        c.send_hello(Hello('1.3', session_id=os.urandom(32)), extra=T.MIDDLEBOX_CCS)
        c.read_server_hello()
        c.read_server_flight()
        c.send(c.send_ccs(send=False) + c.send_finished(send=False))
        env.fatal(c, 'unexpected_message', 'CCS after the ClientHello and again before Finished')
    finally:
        c.close()


# ---- TLS 1.2 handshake -----------------------------------------------------------------------

def hs12(env, what, send, expect, profile='tls12_aesgcm'):
    c = to_flight(env, profile)
    try:
        c.send(send(c))
        if expect == 'ok':
            try:
                c.read_server_finished()
            except (T.TlsError, OSError) as e:
                raise Failure('%s: no server Finished: %r -- %r' % (what, e,
                                                                    c.read_until_close(0.2)))
            env.get_ok(c, what)
        elif expect:
            env.fatal(c, expect, what)
        else:
            env.silent_close(c, what)
    finally:
        c.close()


HS12 = [
    ('tls12_coalesced_flight_and_request', lambda c: c.send_key_exchange(send=False) +
     c.send_ccs(send=False) + c.send_finished(send=False) + c.seal(CT_APP, request()), 'ok'),
    ('tls12_key_exchange_in_1_byte_records', lambda c: fragmented_cke(c, 1) +
     c.send_ccs(send=False) + c.send_finished(send=False), 'ok'),
    ('tls12_key_exchange_in_2_byte_records', lambda c: fragmented_cke(c, 2) +
     c.send_ccs(send=False) + c.send_finished(send=False), 'ok'),
    ('tls12_key_exchange_split_in_header', lambda c: fragmented_cke(c, 3, once=True) +
     c.send_ccs(send=False) + c.send_finished(send=False), 'ok'),
    ('tls12_plaintext_alert_before_key_exchange', lambda c: record(CT_ALERT, b'\x02\x28'),
     None),
    ('tls12_plaintext_alert_after_key_exchange', lambda c: c.send_key_exchange(send=False) +
     record(CT_ALERT, b'\x02\x28'), None),
    ('tls12_appdata_empty_before_key_exchange', lambda c: record(CT_APP, b''),
     'unexpected_message'),
    ('tls12_appdata_empty_before_ccs', lambda c: c.send_key_exchange(send=False) +
     record(CT_APP, b''), 'unexpected_message'),
    ('tls12_appdata_empty_before_finished', lambda c: c.send_key_exchange(send=False) +
     c.send_ccs(send=False) + c.seal(CT_APP, b''), 'unexpected_message'),
    ('tls12_ccs_value_2', lambda c: c.send_key_exchange(send=False) + c.send_ccs(2, send=False),
     'unexpected_message'),
    # the second CCS comes after encryption started: it fails authentication (RFC 5246 §6.2.3)
    ('tls12_two_ccs', lambda c: c.send_key_exchange(send=False) + c.send_ccs(send=False) +
     c.send_ccs(send=False), 'bad_record_mac'),
    ('tls12_bad_finished', lambda c: c.send_key_exchange(send=False) + c.send_ccs(send=False) +
     c.send_finished(send=False, verify=bytes(12)), 'decrypt_error'),
    # only a ClientKeyExchange may come before the client's CCS (no client certificate here)
    ('tls12_plaintext_finished_before_ccs', lambda c: c.send_key_exchange(send=False) +
     record(CT_HANDSHAKE, hs_msg(T.FINISHED, bytes(12))), 'unexpected_message'),
    ('tls12_bytes_after_key_exchange_in_its_record', lambda c: record(
        CT_HANDSHAKE, c.send_key_exchange(send=False)[5:] + hs_msg(T.FINISHED, bytes(12))),
     'unexpected_message'),
    ('tls12_unsolicited_certificate', lambda c: record(CT_HANDSHAKE, hs_msg(
        T.CERTIFICATE, u24(0))), 'unexpected_message'),
    ('tls12_zero_length_handshake_inside_key_exchange', lambda c: (lambda m: record(
        CT_HANDSHAKE, m[:2]) + record(CT_HANDSHAKE, b'') + record(CT_HANDSHAKE, m[2:]))(
            c.send_key_exchange(send=False)[5:]), 'unexpected_message'),
]


def fragmented_cke(c, n, once=False):
    """The ClientKeyExchange in n-byte records (once: the first n bytes, then the rest)."""
    m = c.send_key_exchange(send=False)[5:]
    return T.fragment(CT_HANDSHAKE, m, [n] if once else n)


# ---- aborts at each step ---------------------------------------------------------------------

def c_abort(env, version, step):
    """We send a FIN after `step`: the server must close at once (EOF inside a ClientHello:
    decode_error first)."""
    what = 'TLS %s: FIN after %s' % (version, step)
    c = env.client()
    try:
        if step == 'connect':
            c.shutdown_write()
            env.closes(c, what, alerts_ok=['decode_error'])
            return
        h = Hello(version)
        if step == 'half_hello':
            c.send(record(CT_HANDSHAKE, h.encode())[:80])
            c.shutdown_write()
            env.fatal(c, 'decode_error', what)
            return
        c.send_hello(h)
        if step != 'hello':
            c.read_server_hello()
            c.read_server_flight()
        if step in ('key_exchange', 'ccs', 'finished') and version == '1.2':
            c.send_key_exchange()
        if step in ('ccs', 'finished'):
            c.send_ccs()
        if step == 'finished':
            c.send_finished()
            if version == '1.2':
                c.read_server_finished()
        c.shutdown_write()
        env.closes(c, what)
    finally:
        c.close()


# ---- after the handshake ---------------------------------------------------------------------

def post(env, profile, what, send, expect, app_ok=False):
    """On an established connection (one request answered): send(c) -> bytes, then expect an
    alert name, None (silent close), 'ignored' (a request is then answered) or a callable."""
    c = env.established(profile)
    what = '%s: %s' % (profile, what)
    if isinstance(expect, dict):
        expect = expect['ktls' if env.ktls else 'user']
    try:
        c.send(send(c))
        if expect == 'ignored':
            env.get_ok(c, what + ', then a request')
        elif expect == 'ignored_after_one':      # one request inside what was sent
            answered(env, c, what, 1)
            env.get_ok(c, what + ', then a request')
        elif callable(expect):
            expect(env, c, what)
        elif expect:
            env.fatal(c, expect, what, app_ok=app_ok)
        else:
            env.silent_close(c, what)
    finally:
        c.close()


def flipped(c, pos):
    """A sealed request record with one bit flipped at the position class `pos`; a length
    flip grows the record and the extra bytes are sent, so the framing stays whole."""
    rec = c.seal(CT_APP, request())
    off = c.positions(rec)[pos]
    if pos.startswith('length'):
        n = len(rec) - 5
        byte = rec[off]
        bit = next(b for b in range(8) if not byte & (1 << b))
        grown = n + ((1 << bit) << (8 if pos == 'length_hi' else 0))
        return T.flip(rec, off, 1 << bit) + os.urandom(grown - n)
    return T.flip(rec, off, 0x01 if pos == 'type' else 0x40)


# Bytes sent behind a record shorter than 8 bytes: the kernel's TLS 1.2 AES-GCM parser reads
# header + explicit nonce (13 bytes) before it judges a record, so without them such a record
# is merely incomplete under kTLS. They are not a record of their own that matters: the
# server must have given up at the record in front.
TAIL = os.urandom(16)


def max_ct(c):
    return 16384 + (256 if c.version == '1.3' else 2048)


def overhead(c):
    return 16 + (1 if c.version == '1.3' else c.wkeys.explicit_len)


def hs_payload(c):
    """A handshake message for records of type handshake (a KeyUpdate / a HelloRequest)."""
    return hs_msg(T.KEY_UPDATE, b'\x00') if c.version == '1.3' else hs_msg(T.HELLO_REQUEST, b'')


def close_notify_case(with_request):
    def expect(env, c, what):
        o = c.read_until_close(1.0)
        errs = []
        if with_request and not response_complete(o.app):
            errs.append('the request before close_notify was not answered')
        if [d for _, d in o.alerts] != [0]:
            errs.append('alerts %s, want [close_notify]' % fmt_alerts(o.alerts))
        if o.events and o.events[-1][0] != 'alert':
            errs.append('records after close_notify')
        if not o.closed:
            errs.append('not closed')
        if errs:
            raise Failure('%s: %s -- got %r' % (what, '; '.join(errs), o))
    return expect


def post_cases(profile):
    """(name, what, send, expect[, app_ok]) for one record protection."""
    is13 = profile in P13
    out = []
    positions = ['type', 'length_hi', 'length_lo', 'ct_first', 'ct_mid', 'ct_last',
                 'tag_first', 'tag_mid', 'tag_last']
    if profile == 'tls12_aesgcm':
        positions[3:3] = ['nonce_first', 'nonce_last']
    # TLS 1.3: a record whose outer type is not 23 is refused by type in userspace
    # (unexpected_message); the kernel tries to decrypt it (bad_record_mac). See
    # docs/hostile-peers.md, "Where the kernel decides".
    other_outer = ({'user': 'unexpected_message', 'ktls': 'bad_record_mac'} if is13 else
                   'bad_record_mac')
    # The kernel authenticates a TLS 1.3 record with 23 as its AAD type whatever the header
    # says (tls_make_aad), so a flipped outer type goes unnoticed there: the request is
    # answered (docs/hostile-peers.md, "Where the kernel decides").
    flip_type = ({'user': 'unexpected_message',
                  'ktls': lambda env, c, what: answered(env, c, what, 1)} if is13 else
                 'bad_record_mac')
    for pos in positions:
        out.append(('flip_' + pos, 'request record, a bit of %s flipped' % pos,
                    lambda c, pos=pos: flipped(c, pos),
                    flip_type if pos == 'type' else 'bad_record_mac'))
    for pos in ('version_major', 'version_minor'):
        out.append(('flip_' + pos, 'request record, a bit of %s flipped' % pos,
                    lambda c, pos=pos: flipped(c, pos), 'decode_error'))
    for v in (0x0301, 0x0304, 0x0203):
        out.append(('record_version_%04x' % v, 'record version %04x (AAD to match)' % v,
                    lambda c, v=v: c.seal(CT_APP, request(), version=v), 'decode_error'))
    for name, ct, pl in (('appdata', CT_APP, request), ('handshake', CT_HANDSHAKE, None),
                         ('alert', CT_ALERT, lambda: b'\x01\x00')):
        def trunc(c, ct=ct, pl=pl):
            r = c.seal(ct, pl() if pl else hs_payload(c))
            return r[:3] + u16(len(r) - 6) + r[5:-1]
        out.append(('truncated_' + name, '%s record one byte short (length to match)' % name,
                    trunc, 'bad_record_mac'))
        out.append(('oversize_ciphertext_' + name, '%s record of 2^14 + %d + 1 bytes' % (
            name, 256 if is13 else 2048), lambda c, ct=ct: record(
                CT_APP if is13 else ct, os.urandom(max_ct(c) + 1)), 'record_overflow'))
        out.append(('oversize_plaintext_' + name, '%s plaintext of 2^14 + 1 bytes' % name,
                    lambda c, ct=ct: c.seal(ct, bytes(16385)), 'record_overflow'))
        if ct != CT_APP:
            out.append(('zero_length_' + name, 'zero-length %s record' % name,
                        lambda c, ct=ct: c.seal(ct, b''), 'unexpected_message'))
        if not is13 or ct == CT_APP:
            out.append(('raw_zero_length_' + name, 'unprotected zero-length %s record' % name,
                        lambda c, ct=ct: record(ct, b'') + TAIL, 'bad_record_mac'))
    for n in (1, 'overhead-1'):
        out.append(('short_record_%s' % n, 'record shorter than the AEAD overhead (%s)' % n,
                    lambda c, n=n: record(CT_APP, os.urandom(
                        overhead(c) - 1 if n != 1 else 1)) + TAIL, 'bad_record_mac'))
    out.append(('plaintext_2_14_accepted', 'two requests filling a 2^14 plaintext',
                lambda c: c.seal(CT_APP, request(size=8192) * 2),
                lambda env, c, what: answered(env, c, what, 2)))
    out.append(('zero_length_appdata_ignored', 'zero-length application data',
                lambda c: c.seal(CT_APP, b''), 'ignored'))
    out.append(('zero_length_appdata_32', '32 zero-length application data records',
                lambda c: b''.join(c.seal(CT_APP, b'') for _ in range(32)), 'ignored'))
    out.append(('zero_length_appdata_32_twice', '32 zero-length records, a request, 32 more '
                '(the run ends at application data)', lambda c: b''.join(
                    c.seal(CT_APP, b'') for _ in range(32)) + c.seal(CT_APP, request()) +
                b''.join(c.seal(CT_APP, b'') for _ in range(32)), 'ignored_after_one'))
    # kTLS consumes empty data records itself: sluice never sees them to count.
    out.append(('zero_length_appdata_33', '33 zero-length application data records',
                lambda c: b''.join(c.seal(CT_APP, b'') for _ in range(33)),
                {'user': 'unexpected_message', 'ktls': 'ignored'}))
    out.append(('unknown_content_type', 'sealed record of content type 99',
                lambda c: c.seal(99, b'x'), 'unexpected_message'))
    out.append(('ccs_sealed', 'change_cipher_spec (protected)',
                lambda c: c.seal(CT_CCS, b'\x01'), 'unexpected_message'))
    if is13:
        out.append(('ccs_plaintext', 'change_cipher_spec 140303000101 after the handshake',
                    lambda c: T.MIDDLEBOX_CCS + TAIL, other_outer))
    for body in (b'\x01', b'\x01\x00\x00', b'\x01\x00\x01\x00'):
        out.append(('alert_%d_bytes' % len(body), 'alert of %d bytes' % len(body),
                    lambda c, b=body: c.seal(CT_ALERT, b), 'decode_error'))
    out.append(('close_notify_idle', 'close_notify on an idle connection',
                lambda c: c.send_alert(1, 0, send=False), close_notify_case(False)))
    out.append(('close_notify_behind_request', 'a request and close_notify in one send()',
                lambda c: c.seal(CT_APP, request()) + c.send_alert(1, 0, send=False),
                close_notify_case(True)))
    out.append(('plaintext_alert', 'unprotected alert record after the handshake',
                lambda c: record(CT_ALERT, b'\x02\x28') + TAIL, other_outer))
    out.append(('fatal_alert', 'fatal handshake_failure alert',
                lambda c: c.send_alert(2, 40, send=False), None))
    out.append(('handshake_message_over_64k', 'a handshake message claiming 64 KiB + 1 bytes '
                '(16 KiB of it sent)', lambda c: c.seal(CT_HANDSHAKE, hs_msg(
                    T.KEY_UPDATE if is13 else T.CLIENT_HELLO, bytes(16380), length=65537)),
                '*'))
    out.append(('other_handshake_finished', 'a Finished after the handshake',
                lambda c: c.seal(CT_HANDSHAKE, hs_msg(T.FINISHED, bytes(c.suite.hash_len
                                                                       if is13 else 12))),
                'unexpected_message'))
    if is13:
        out += post13_cases(profile)
    else:
        out += post12_cases(profile)
    return out


def answered(env, c, what, n):
    """n responses to what was sent."""
    try:
        for _ in range(n):
            c.recv_app(response_complete, 3.0)
            status, body = take_response(c)
            if status != 200 or body != BODY:
                raise Failure('%s: status %d' % (what, status))
    except (T.TlsError, OSError) as e:
        raise Failure('%s: not answered: %r -- %r' % (what, e, c.read_until_close(0.2)))


def post13_cases(profile):
    # No content type: the kernel answers EBADMSG (docs/hostile-peers.md, "Where the kernel
    # decides"), userspace unexpected_message.
    no_type = {'user': 'unexpected_message', 'ktls': 'bad_record_mac'}
    return [
        ('inner_all_zeros', 'TLS 1.3 inner plaintext of 20 zero bytes',
         lambda c: c.seal(CT_APP, b'', inner=bytes(20)), no_type),
        ('inner_empty', 'TLS 1.3 inner plaintext empty', lambda c: c.seal(CT_APP, b'', inner=b''),
         no_type),
        ('inner_padding_over_limit', 'request + 2^14 bytes of padding (inner over 2^14 + 1)',
         lambda c: c.seal(CT_APP, request(), pad=16384), 'record_overflow'),
        ('inner_padding_to_limit', 'request padded to exactly 2^14 + 1 inner bytes',
         lambda c: c.seal(CT_APP, request(), pad=16384 - len(request())),
         lambda env, c, what: answered(env, c, what, 1)),
        ('user_canceled_ignored', 'user_canceled warning',
         lambda c: c.send_alert(1, 90, send=False), 'ignored'),
        ('warning_alert_closes', 'warning bad_certificate (1.3: any alert but close_notify and '
         'user_canceled closes)', lambda c: c.send_alert(1, 42, send=False), None),
        ('post_handshake_client_hello', 'a ClientHello after the handshake',
         lambda c: c.seal(CT_HANDSHAKE, Hello('1.3').encode()), 'unexpected_message'),
        ('post_handshake_certificate', 'a Certificate after the handshake',
         lambda c: c.seal(CT_HANDSHAKE, hs_msg(T.CERTIFICATE, b'\x00\x00\x00\x00')),
         'unexpected_message'),
        ('key_update_bad_value', 'KeyUpdate request_update = 2',
         lambda c: c.key_update(body=b'\x02', send=False), 'illegal_parameter'),
        ('key_update_empty_body', 'KeyUpdate with an empty body',
         lambda c: c.key_update(body=b'', send=False, rekey=False), 'decode_error'),
        ('key_update_two_byte_body', 'KeyUpdate with a 2-byte body',
         lambda c: c.key_update(body=b'\x00\x00', send=False, rekey=False), 'decode_error'),
        ('key_update_not_at_record_end', 'two KeyUpdates in one record',
         lambda c: c.seal(CT_HANDSHAKE, hs_msg(T.KEY_UPDATE, b'\x00') * 2),
         'unexpected_message'),
        # A kernel that rekeys (6.14+) stops at the first fragment of a KeyUpdate and cannot
        # read on: internal_error there, whatever follows (docs/hostile-peers.md).
        ('key_update_split_by_appdata', 'KeyUpdate split around an application data record',
         lambda c: c.seal(CT_HANDSHAKE, b'\x18\x00') + c.seal(CT_APP, request()) +
         c.seal(CT_HANDSHAKE, b'\x00\x01\x00'),
         {'user': 'unexpected_message',
          'ktls': lambda env, c, what: env.fatal(
              c, 'internal_error' if env.rekey else 'unexpected_message', what)}),
    ]


def reneg_hello(c):
    return Hello('1.2', renegotiation_info=False,
                 extra=[(T.EXT_RENEGOTIATION_INFO, vec8(c.client_verify))]).encode()


def next_alert(c, what, timeout=2.0):
    """The next alert after c.mark (which then moves past it)."""
    deadline = time.monotonic() + timeout
    n = c.mark
    try:
        while time.monotonic() < deadline:
            for i, e in enumerate(c.events[n:]):
                if e[0] == 'alert':
                    c.mark = n + i + 1
                    return e[1], e[2]
            c.pump(max(0.001, deadline - time.monotonic()))
    except (T.TlsError, OSError) as e:
        raise Failure('%s: no alert (%r) -- %r' % (what, e, T.Outcome(c.events[n:], '?', None)))
    raise Failure('%s: no alert within %.1f s' % (what, timeout))


def expect_no_renegotiation(c, what, i):
    a = next_alert(c, '%s: attempt %d' % (what, i))
    if a != (1, ALERT['no_renegotiation']):
        raise Failure('%s: attempt %d answered %s, want [warning no_renegotiation]'
                      % (what, i, fmt_alerts([a])))


def post12_cases(profile):
    def reneg(split=None, count=1):
        def send(c):
            m = reneg_hello(c)
            if split:
                return b''.join(c.seal(CT_HANDSHAKE, m[a:b]) for a, b in split(len(m)))
            return c.seal(CT_HANDSHAKE, m * count)
        return send

    def warned_then_serves(n):
        def expect(env, c, what):
            for i in range(n):
                expect_no_renegotiation(c, what, i + 1)
            env.get_ok(c, what + ', then a request')
        return expect

    def reneg_17(env, c, what):
        for i in range(16):
            if i:
                c.send(c.seal(CT_HANDSHAKE, reneg_hello(c)))
            expect_no_renegotiation(c, what, i + 1)
        env.get_ok(c, what + ': a request after 16 attempts')
        c.send(c.seal(CT_HANDSHAKE, reneg_hello(c)))
        env.fatal(c, 'handshake_failure', what + ': the 17th attempt')

    return [
        ('renegotiation_refused', 'a ClientHello (renegotiation)', reneg(), warned_then_serves(1)),
        ('renegotiation_fragmented', 'a renegotiation ClientHello over 3 records',
         reneg(split=lambda n: [(0, 3), (3, 50), (50, n)]), warned_then_serves(1)),
        ('renegotiation_coalesced', 'two renegotiation ClientHellos in one record',
         reneg(count=2), warned_then_serves(2)),
        ('renegotiation_17th_fatal', '17 renegotiation attempts', reneg(), reneg_17),
        ('warning_alerts_4_ignored', '4 warning alerts',
         lambda c: b''.join(c.send_alert(1, 42, send=False) for _ in range(4)), 'ignored'),
        ('warning_alerts_4_twice', '4 warning alerts, a request, 4 more',
         lambda c: b''.join(c.send_alert(1, 42, send=False) for _ in range(4)) +
         c.seal(CT_APP, request()) +
         b''.join(c.send_alert(1, 42, send=False) for _ in range(4)), 'ignored_after_one'),
        ('warning_alerts_5_fatal', '5 warning alerts in a row',
         lambda c: b''.join(c.send_alert(1, 42, send=False) for _ in range(5)),
         'unexpected_message'),
        ('user_canceled_ignored', 'user_canceled warning',
         lambda c: c.send_alert(1, 90, send=False), 'ignored'),
        ('post_handshake_hello_request', 'a HelloRequest from the client',
         lambda c: c.seal(CT_HANDSHAKE, hs_msg(T.HELLO_REQUEST, b'')), 'unexpected_message'),
        ('renegotiation_split_by_appdata', 'a renegotiation ClientHello split around an '
         'application data record', lambda c: (lambda m: c.seal(CT_HANDSHAKE, m[:20]) +
                                               c.seal(CT_APP, request()) +
                                               c.seal(CT_HANDSHAKE, m[20:]))(reneg_hello(c)),
         'unexpected_message'),
        ('renegotiation_padded_60k', 'a renegotiation ClientHello of 60 KiB in 4 records',
         lambda c: (lambda m: b''.join(c.seal(CT_HANDSHAKE, m[i:i + 16384])
                                       for i in range(0, len(m), 16384)))(
             Hello('1.2', renegotiation_info=False, padding=60000, extra=[
                 (T.EXT_RENEGOTIATION_INFO, vec8(c.client_verify))]).encode()),
         warned_then_serves(1)),
    ]


# ---- a response in flight -------------------------------------------------------------------

def c_in_flight(env, profile, what):
    """A request for a 4 MiB file, and once its first bytes are in: a forged record (the rest
    of the response is cut at a record boundary, fatal bad_record_mac, close), close_notify
    (the whole response, then close_notify and close) or, TLS 1.3, KeyUpdate(update_requested)
    and a request under the next keys (the whole response, the server's KeyUpdate, the
    second response)."""
    c = env.established(profile)
    label = '%s: %s during a 4 MiB response' % (profile, what)
    try:
        c.send_app(request(BIG_PATH))
        c.recv_app(lambda b: len(b) > 65536, 5.0)
        if what == 'forged record':
            c.send(record(CT_APP, os.urandom(64)))
            o = c.read_until_close(5.0)
            got = len(c.app_in)
            errs = []
            if o.alerts != [(2, ALERT['bad_record_mac'])] or o.events[-1][0] != 'alert':
                errs.append('want the response cut, then only fatal bad_record_mac')
            if not o.closed:
                errs.append('not closed')
            if got >= BIG_LEN:
                errs.append('the whole response was sent (%d bytes)' % got)
            if any(e[0] in ('bad', 'other') for e in o.events):
                errs.append('a record cut or undecryptable')
            if errs:
                raise Failure('%s: %s -- got %d response bytes, %r' % (label, '; '.join(errs),
                                                                       got, o))
            return
        if what == 'close_notify':
            c.send_alert(1, 0)
        else:
            c.key_update(True)
            c.send_app(request())
        c.recv_app(response_complete, 10.0)
        status, body = take_response(c)
        if status != 200 or body != big_body():
            raise Failure('%s: the 4 MiB response is not whole (status %d, %d bytes)'
                          % (label, status, len(body)))
        if what == 'close_notify':
            c.mark = len(c.events)
            o = c.read_until_close(1.0)
            if [d for _, d in o.alerts] != [0] or not o.closed or o.app:
                raise Failure('%s: want close_notify and close after the response -- got %r'
                              % (label, o))
        else:
            c.recv_app(response_complete, 3.0)
            status, body = take_response(c)
            if status != 200 or body != BODY or c.server_key_updates != 1:
                raise Failure('%s: second response status %d, server KeyUpdates %d'
                              % (label, status, c.server_key_updates))
    except (T.TlsError, OSError) as e:
        raise Failure('%s: %r -- %r' % (label, e, c.read_until_close(0.2)))
    finally:
        c.close()


# ---- TLS 1.3 KeyUpdate -----------------------------------------------------------------------

def c_key_update(env, profile, requested, split=None, rounds=1):
    c = env.established(profile)
    what = '%s: KeyUpdate(update_requested=%d)%s x%d + a request under the new keys' % (
        profile, requested, ' split %s' % split if split else '', rounds)
    try:
        for i in range(rounds):
            # without rekey: a request under the current keys in front
            before = b'' if env.rekey else c.seal(CT_APP, request())
            data = c.key_update(requested, send=False, split=split) + c.seal(CT_APP, request())
            if not env.rekey:
                c.send(before + data)
                o = c.read_until_close(1.0)
                if (o.app.count(b'HTTP/1.1 200') != 1 or not response_complete(o.app) or
                        [d for _, d in o.alerts] != [0] or not o.closed):
                    raise Failure('%s (kernel without rekey): want the first request answered, '
                                  'then close_notify and close -- got %r' % (what, o))
                return
            c.send(data)
            if split and env.ktls:
                # 6.14+ kTLS stops reading at a KeyUpdate's first fragment: it cannot follow
                # one split over records (docs/hostile-peers.md).
                env.fatal(c, 'internal_error', what)
                return
            try:
                c.recv_app(response_complete, 3.0)
            except (T.TlsError, OSError) as e:
                raise Failure('%s: round %d not answered: %r -- %r' % (
                    what, i + 1, e, c.read_until_close(0.2)))
            status, body = take_response(c)
            if status != 200 or body != BODY:
                raise Failure('%s: status %d' % (what, status))
        want = rounds if requested else 0
        if c.server_key_updates != want:
            raise Failure('%s: the server sent %d KeyUpdates, want %d'
                          % (what, c.server_key_updates, want))
    finally:
        c.close()


def c_key_update_first_flight(env, profile):
    """Finished, a request, KeyUpdate and a request under the next keys in one send(), before
    the server's NewSessionTickets are read. Both are answered on every kernel: a KeyUpdate
    that arrives with the Finished keeps RX in userspace for the connection (mixed), which
    can follow it even where the kernel could not."""
    c = to_flight(env, profile)
    what = '%s: Finished + request + KeyUpdate + request under the next keys in one send()' % (
        profile)
    try:
        data = c.send_finished(send=False) + c.seal(CT_APP, request())
        data += c.key_update(False, send=False) + c.seal(CT_APP, request())
        c.send(data)
        o = c.read_until_close(0.3)
        n = o.app.count(b'HTTP/1.1 200')
        if n != 2 or o.alerts or o.closed:
            raise Failure('%s: want both requests answered, connection open -- got %r' % (what, o))
    finally:
        c.close()


def c_key_update_flood(env, profile, n, twice=False):
    c = env.established(profile)
    what = '%s: %d KeyUpdates in a row%s' % (profile, n, ', a request, %d more' % n
                                               if twice else '')
    try:
        data = b''.join(c.key_update(False, send=False) for _ in range(n))
        if twice:
            data += c.seal(CT_APP, request())
            data += b''.join(c.key_update(False, send=False) for _ in range(n))
        c.send(data)
        if twice:
            answered(env, c, what, 1)
        if n > 32:
            env.fatal(c, 'unexpected_message', what)
        else:
            env.get_ok(c, what + ', then a request')
    finally:
        c.close()


# ---- own servers -----------------------------------------------------------------------------

def c_dos_forged_records(env, close):
    """--max-connections 50: 50 handshaked connections each send one forged record (and close,
    or wait for the server to close); a new client is then served at once."""
    # One worker: sluice divides --max-connections between workers (ceil(N / threads) each),
    # and SO_REUSEPORT hashing does not fill them evenly.
    p, port = env.start_server(['--max-connections', '50', '--threads', '1'])
    conns = []
    try:
        for i in range(50):
            c = env.client(port=port, timeout=2.0)
            conns.append(c)
            try:
                c.handshake(env.hello('tls13_aesgcm' if i % 2 else 'tls12_aesgcm'))
            except (T.TlsError, OSError) as e:
                raise Failure('--max-connections 50: connection %d not served: %r' % (i + 1, e))
        slow = []
        for c in conns:
            c.send(record(CT_APP, os.urandom(64)))
            if close:
                c.close()
            else:
                o = c.read_until_close(env.wait)
                if not o.closed or (o.t or 0) > env.within:
                    slow.append(o)
        if slow:
            raise Failure('%d of 50 connections with a forged record not closed within '
                          '%.0f ms: %r' % (len(slow), env.within * 1000, slow[:3]))
        t0 = time.monotonic()
        try:
            c = env.client(port=port, timeout=2.0)
            c.handshake(env.hello('tls13_aesgcm'))
            env.get_ok(c, 'the client after 50 forged records')
            c.close()
        except (T.TlsError, OSError) as e:
            raise Failure('a new client after 50 forged records (%s): not served within 2 s: %r'
                          % ('clients closed' if close else 'clients waiting', e))
        dt = time.monotonic() - t0
        if dt > 0.5:
            raise Failure('the new client was served only after %.2f s' % dt)
    finally:
        for c in conns:
            c.close()
        env.stop_server(p)


def c_header_timeout(env):
    """--header-timeout 2 --keepalive-timeout 30 --handshake-timeout 1: silence after the
    handshake is closed after ~2 s (TLS 1.3 and 1.2), but a connection idle after a request
    stays for the keep-alive; a stall after the ClientHello is closed after ~1 s and counted
    as a failed handshake and a handshake timeout."""
    p, port = env.start_server(['--header-timeout', '2', '--keepalive-timeout', '30',
                                '--handshake-timeout', '1'])
    conns = []
    try:
        stalled = env.client(port=port)
        conns.append(stalled)
        stalled.send_hello(Hello('1.3'))
        conns += [env.connect(pr, port=port) for pr in ('tls13_aesgcm', 'tls12_chacha')]
        kept = env.connect('tls13_aesgcm', port=port)
        conns.append(kept)
        env.get_ok(kept, 'keep-alive connection: first request')
        o = stalled.read_until_close(4.0)
        if not o.closed or not 0.7 <= o.t <= 2.0:
            raise Failure('a handshake stalled after the ClientHello: want the close after ~1 s '
                          '(--handshake-timeout 1), got %r' % o)
        for c in conns[1:3]:
            o = c.read_until_close(6.0)
            if not o.closed or not 1.5 <= o.t <= 3.0:
                raise Failure('TLS %s, no request after the handshake: want the close after '
                              '~2 s (--header-timeout), got %r' % (c.version, o))
        time.sleep(max(0.0, 3.2 - (time.monotonic() - kept.last_send)))
        env.get_ok(kept, 'a keep-alive connection idle for 3 s (> --header-timeout) is kept')
        counters = env.counters(p)
        for k in ('sluice_tls_handshakes_failed_total', 'sluice_tls_handshake_timeouts_total'):
            if counters.get(k, 0) < 1:
                raise Failure('after a handshake timeout: %s = %s, want >= 1' % (
                    k, counters.get(k)))
    finally:
        for c in conns:
            c.close()
        env.stop_server(p)


# ---- the list --------------------------------------------------------------------------------

LAST_ENV = [None]     # the Env of the last hostile_cases() list (close_summary())


def hostile_cases(host, port, binary, **opts):
    """[(name, run)] for a sluice at host:port with --tls-listen and ECDSA + RSA certificates.
    binary, opts['server_args'] (certificate flags, --ktls ...) and opts['root'] are used by
    the cases that start their own server; opts['rekey']: TLS 1.3 KeyUpdates are followed."""
    env = Env(host, port, binary, **opts)
    cases = []

    def add(name, fn, *args, **kw):
        def run():
            CURRENT[0] = name
            fn(env, *args, **kw)
            env.serves(name)
        cases.append((name, run))

    for name, data, desc in PRE:
        add(name, pre_bytes, data, desc, name)
    add('hello_malformed_decode_error', c_malformed_hellos)
    add('hello_eof_partial', c_eof_partial_hello)
    add('hello_claims_16k_plus_1_illegal_parameter', c_huge_hello, KMAX_HELLO + 1)
    add('hello_claims_200k_illegal_parameter', c_huge_hello, 200 * 1024)
    add('hello_claims_16m_illegal_parameter', c_huge_hello, (1 << 24) - 1)
    for name, mk, desc in HELLO_FATAL:
        add('hello_' + name, hello_fatal, mk, desc, name)
    add('hello_x25519_low_order', c_x25519_low_order)
    add('hello_alpn_http11', c_alpn_ok)
    add('hello_sizes', c_hello_sizes)
    for v in ('1.3', '1.2'):
        for sizes in (1, 2, 3, 7, 100):
            add('hello_fragmented_tls%s_%d' % (v.replace('.', ''), sizes), c_fragmented, v,
                sizes)
    for k in (1, 2, 3):
        add('hello_split_in_header_at_%d' % k, c_fragmented, '1.3', [k])
    add('hello_split_at_every_boundary', c_fragment_boundaries)
    add('hello_and_ccs_coalesced', c_hello_then_ccs_coalesced)
    add('handshake_matrix', c_matrix)
    for sid in (True, False):
        for hrr in (False, True):
            add('middlebox_ccs_%s%s' % ('session_id' if sid else 'no_session_id',
                                       '_hrr' if hrr else ''), c_middlebox_ccs, sid, hrr)
    add('hrr_empty_key_share', c_hrr_group)
    for v in ('1-byte records', 'behind a CCS', 'behind a CCS, and another CCS before Finished',
              'other group', 'no share'):
        add('hrr_second_hello_' + re.sub(r'[^a-z0-9]+', '_', v.lower()).strip('_'),
            c_hrr_second_hello, v)
    for name, send, expect, kw in HS13:
        if send is None:
            add(name, c_ccs_after_hello_and_before_finished)
        else:
            add(name, hs13, name, send, expect, **kw)
    for name, send, expect in HS12:
        add(name, hs12, name, send, expect)
    for step in ('connect', 'half_hello', 'hello', 'flight', 'ccs', 'finished'):
        add('abort_tls13_after_' + step, c_abort, '1.3', step)
    for step in ('hello', 'flight', 'key_exchange', 'ccs', 'finished'):
        add('abort_tls12_after_' + step, c_abort, '1.2', step)
    for prof in PROFILES:
        for item in post_cases(prof):
            name, what, send, expect = item[:4]
            add('%s_%s' % (prof, name), post, prof, what, send, expect)
    for prof in PROFILES:
        add(prof + '_forged_record_during_response', c_in_flight, prof, 'forged record')
        add(prof + '_close_notify_during_response', c_in_flight, prof, 'close_notify')
        if prof in P13 and env.rekey:
            add(prof + '_key_update_during_response', c_in_flight, prof, 'KeyUpdate')
    for prof in P13:
        add(prof + '_key_update', c_key_update, prof, False)
        add(prof + '_key_update_requested', c_key_update, prof, True)
        add(prof + '_key_update_in_first_flight', c_key_update_first_flight, prof)
        if env.rekey:
            add(prof + '_key_update_split_records', c_key_update, prof, False, [3])
            add(prof + '_key_update_requested_3_rounds', c_key_update, prof, True, None, 3)
            add(prof + '_key_update_32', c_key_update_flood, prof, 32)
            add(prof + '_key_update_32_twice', c_key_update_flood, prof, 32, True)
            add(prof + '_key_update_33', c_key_update_flood, prof, 33)
    if binary:
        add('dos_50_forged_records_and_close', c_dos_forged_records, True)
        add('dos_50_forged_records_server_closes', c_dos_forged_records, False)
        add('header_timeout_after_handshake', c_header_timeout)
    LAST_ENV[0] = env
    only = [s for s in os.environ.get('HOSTILE_CASES', '').split(',') if s]
    if only:
        cases = [c for c in cases if any(s in c[0] for s in only)]
    return cases


# ---- unittest ----------------------------------------------------------------------------------

def cert_args():
    import tls_certs
    ec = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'ec')
    rsa = tls_certs.make_cert('localhost', ['DNS:localhost', 'IP:127.0.0.1'], 'rsa',
                              name='localhost-rsa')
    return ['--cert', ec[0], '--key', ec[1], '--cert', rsa[0], '--key', rsa[1]]


class Hostile(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        import tls_certs
        cls.tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        cls.root = os.path.join(cls.tmp, 'root')
        os.makedirs(cls.root)
        populate(cls.root)
        cls.certs = cert_args()
        cls.server = tls_certs.TlsServer(args=cls.certs + ['--handshake-timeout', '5'],
                                         plain=False, root=cls.root, tmp=cls.tmp, threads=2)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.cases = dict(hostile_cases(cls.server.host, cls.server.tls_port, cls.server.bin,
                                       server_args=cls.certs, root=cls.root))

    @classmethod
    def tearDownClass(cls):
        sys.stdout.write('\n%s\n' % LAST_ENV[0].close_summary())
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()

    def run_case(self, name):
        if name not in self.cases:
            self.skipTest('not selected')
        self.cases[name]()
        self.assertTrue(self.server.alive(), self.server.stderr())


def _add_tests():
    for i, (name, _) in enumerate(hostile_cases('127.0.0.1', 1, 'sluice')):
        setattr(Hostile, 'test_%03d_%s' % (i, name), lambda self, n=name: self.run_case(n))


if __name__ == '__main__':
    if not T.HAVE_CRYPTO:
        print('SKIP: python3-cryptography is missing (%s); install the Debian package '
              'python3-cryptography' % T.IMPORT_ERROR)
        sys.exit(harness.SKIP)
    _add_tests()
    harness.main()
