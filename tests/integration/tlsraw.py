"""tlsraw — a raw-record TLS 1.2 / 1.3 client for hostile-peer tests (python3-cryptography).

It completes real handshakes (TLS 1.3: X25519 / P-256 / P-384 key shares, AES-128/256-GCM and
ChaCha20-Poly1305, the full HKDF key schedule, HelloRetryRequest, the server Finished checked;
TLS 1.2: ECDHE-ECDSA / ECDHE-RSA with the same AEADs, RFC 5246 PRF, extended master secret
RFC 7627, RFC 7905 ChaCha nonces), but every step is a separate call that a test may skip,
repeat, reorder or corrupt:

    c = Client(host, port)
    c.send_hello(Hello('1.3', suites=['TLS_AES_128_GCM_SHA256'], session_id=os.urandom(32)),
                 sizes=7)                     # ClientHello in 7-byte records
    c.read_server_hello()                     # ServerHello (HelloRetryRequest followed)
    c.read_server_flight()                    # 1.3: EE..Finished (checked); 1.2: ..ServerHelloDone
    c.send_finished()                         # 1.2: send_key_exchange(), send_ccs() first
    c.send_app(b'GET / HTTP/1.1\\r\\n...')
    c.send(c.seal(CT_APP, b'x', flip=[(-1, 1)]))   # a record with the last tag bit flipped
    out = c.read_until_close()                # Outcome: alerts, app data, FIN/RST, time

Certificates and signatures are not verified. The server's certificate chain, key exchange
signature and CertificateVerify are only added to the transcript.

Nothing here depends on the server under test; the hostile cases are in test_tls_hostile.py.
"""

import hashlib
import hmac
import os
import re
import socket
import struct
import time

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.exceptions import InvalidTag
    HAVE_CRYPTO, IMPORT_ERROR = True, None
except ImportError as _e:  # the test scripts exit 77 with this reason
    HAVE_CRYPTO, IMPORT_ERROR = False, _e

# ---- constants ------------------------------------------------------------------------------

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APP = 20, 21, 22, 23

HELLO_REQUEST, CLIENT_HELLO, SERVER_HELLO, NEW_SESSION_TICKET = 0, 1, 2, 4
ENCRYPTED_EXTENSIONS, CERTIFICATE, SERVER_KEY_EXCHANGE, CERTIFICATE_REQUEST = 8, 11, 12, 13
SERVER_HELLO_DONE, CERTIFICATE_VERIFY, CLIENT_KEY_EXCHANGE, FINISHED = 14, 15, 16, 20
KEY_UPDATE, MESSAGE_HASH = 24, 254

ALERTS = {0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac',
          22: 'record_overflow', 40: 'handshake_failure', 42: 'bad_certificate',
          47: 'illegal_parameter', 50: 'decode_error', 51: 'decrypt_error',
          70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
          90: 'user_canceled', 100: 'no_renegotiation', 109: 'missing_extension',
          110: 'unsupported_extension', 112: 'unrecognized_name',
          120: 'no_application_protocol'}
ALERT = {v: k for k, v in ALERTS.items()}
WARNING, FATAL = 1, 2

EXT_SNI, EXT_GROUPS, EXT_POINT_FORMATS, EXT_SIGALGS, EXT_ALPN = 0, 10, 11, 13, 16
EXT_PADDING, EXT_EMS, EXT_TICKET, EXT_VERSIONS, EXT_COOKIE = 21, 23, 35, 43, 44
EXT_PSK_MODES, EXT_KEY_SHARE, EXT_RENEGOTIATION_INFO = 45, 51, 0xff01

X25519, SECP256R1, SECP384R1 = 0x001d, 0x0017, 0x0018
TLS12, TLS13 = 0x0303, 0x0304

SIGALGS = [0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501]   # ECDSA first, then RSA
SIGALGS_ECDSA = [0x0403, 0x0503]
SIGALGS_RSA = [0x0804, 0x0805, 0x0401, 0x0501]

HRR_RANDOM = bytes.fromhex('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c')
MIDDLEBOX_CCS = b'\x14\x03\x03\x00\x01\x01'

# X25519 u-coordinates of small order (and their bit-255-set twins): every one gives an all-zero
# shared secret (RFC 7748 §6.1).
X25519_LOW_ORDER = [bytes.fromhex(h) for h in (
    '00' * 32,
    '01' + '00' * 31,
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ec' + 'ff' * 30 + '7f',      # p - 1
    'ed' + 'ff' * 30 + '7f',      # p
    'ee' + 'ff' * 30 + '7f',      # p + 1
    '00' * 31 + '80',             # 0 with bit 255 set
    '01' + '00' * 30 + '80',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
    'ee' + 'ff' * 31,             # p + 1 with bit 255 set
)]


class Suite:
    def __init__(self, name, code, version, aead, hash_name, key_len, kx=None):
        self.name, self.code, self.version, self.aead = name, code, version, aead
        self.hash, self.key_len, self.kx = hash_name, key_len, kx
        self.hash_len = hashlib.new(hash_name).digest_size


SUITES = {s.name: s for s in (
    Suite('TLS_AES_128_GCM_SHA256', 0x1301, '1.3', 'gcm', 'sha256', 16),
    Suite('TLS_AES_256_GCM_SHA384', 0x1302, '1.3', 'gcm', 'sha384', 32),
    Suite('TLS_CHACHA20_POLY1305_SHA256', 0x1303, '1.3', 'chacha', 'sha256', 32),
    Suite('ECDHE-ECDSA-AES128-GCM-SHA256', 0xc02b, '1.2', 'gcm', 'sha256', 16, 'ecdsa'),
    Suite('ECDHE-ECDSA-AES256-GCM-SHA384', 0xc02c, '1.2', 'gcm', 'sha384', 32, 'ecdsa'),
    Suite('ECDHE-ECDSA-CHACHA20-POLY1305', 0xcca9, '1.2', 'chacha', 'sha256', 32, 'ecdsa'),
    Suite('ECDHE-RSA-AES128-GCM-SHA256', 0xc02f, '1.2', 'gcm', 'sha256', 16, 'rsa'),
    Suite('ECDHE-RSA-AES256-GCM-SHA384', 0xc030, '1.2', 'gcm', 'sha384', 32, 'rsa'),
    Suite('ECDHE-RSA-CHACHA20-POLY1305', 0xcca8, '1.2', 'chacha', 'sha256', 32, 'rsa'),
)}
SUITE_BY_CODE = {s.code: s for s in SUITES.values()}
SUITES_13 = [s for s in SUITES.values() if s.version == '1.3']
SUITES_12 = [s for s in SUITES.values() if s.version == '1.2']


class TlsError(Exception):
    pass


class AlertReceived(TlsError):
    def __init__(self, level, desc):
        super().__init__('alert %d/%d (%s)' % (level, desc, ALERTS.get(desc, '?')))
        self.level, self.desc = level, desc


class Closed(TlsError):
    def __init__(self, how):
        super().__init__('connection closed by the server (%s)' % how)
        self.how = how


class BadRecord(TlsError):
    pass


# ---- encoding helpers -----------------------------------------------------------------------

def u8(n):
    return struct.pack('>B', n)


def u16(n):
    return struct.pack('>H', n)


def u24(n):
    return struct.pack('>I', n)[1:]


def vec8(b):
    return u8(len(b)) + b


def vec16(b):
    return u16(len(b)) + b


def vec24(b):
    return u24(len(b)) + b


def hs_msg(typ, body, length=None):
    """A handshake message: type, 24-bit length (given, or the body's), body."""
    return u8(typ) + u24(len(body) if length is None else length) + body


def record(ctype, body, version=TLS12, length=None):
    """One plaintext record (no size limit applied: length may lie)."""
    return u8(ctype) + u16(version) + u16(len(body) if length is None else length) + body


def fragment(ctype, data, sizes=None, version=TLS12):
    """`data` as records: sizes None = 2^14-byte records, an int = records of that size, a
    list = records of those sizes in turn and the rest in one record. Empty data gives one
    zero-length record."""
    if sizes is None:
        sizes = 16384
    out, i = [], 0
    if isinstance(sizes, int):
        while i < len(data) or not out:
            out.append(record(ctype, data[i:i + sizes], version))
            i += sizes
        return b''.join(out)
    for n in sizes:
        if i >= len(data):
            break
        out.append(record(ctype, data[i:i + n], version))
        i += n
    if i < len(data):
        out.append(record(ctype, data[i:], version))
    return b''.join(out)


def ext(typ, body):
    return u16(typ) + vec16(body)


def flip(data, offset, mask=1):
    """`data` with byte `offset` (negative: from the end) XORed with `mask`."""
    b = bytearray(data)
    b[offset] ^= mask
    return bytes(b)


# ---- key schedule ---------------------------------------------------------------------------

def _hmac(h, key, msg):
    return hmac.new(key, msg, h).digest()


def hkdf_extract(h, salt, ikm):
    return _hmac(h, salt or bytes(hashlib.new(h).digest_size), ikm)


def hkdf_expand(h, prk, info, length):
    out, t, i = b'', b'', 1
    while len(out) < length:
        t = _hmac(h, prk, t + info + u8(i))
        out += t
        i += 1
    return out[:length]


def expand_label(h, secret, label, context, length):
    full = b'tls13 ' + label
    return hkdf_expand(h, secret, u16(length) + vec8(full) + vec8(context), length)


def derive_secret(h, secret, label, transcript):
    return expand_label(h, secret, label, hashlib.new(h, transcript).digest(),
                        hashlib.new(h).digest_size)


def prf12(h, secret, label, seed, length):
    """RFC 5246 §5 P_hash."""
    seed = label + seed
    out, a = b'', seed
    while len(out) < length:
        a = _hmac(h, secret, a)
        out += _hmac(h, secret, a + seed)
    return out[:length]


class KeyShare:
    """An ephemeral key for one group: .pub (wire form), .shared(peer_bytes)."""

    CURVES = {SECP256R1: 'SECP256R1', SECP384R1: 'SECP384R1'}

    def __init__(self, group):
        self.group = group
        if group == X25519:
            self.priv = x25519.X25519PrivateKey.generate()
            self.pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)
        elif group in self.CURVES:
            self.curve = getattr(ec, self.CURVES[group])()
            self.priv = ec.generate_private_key(self.curve)
            self.pub = self.priv.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        else:
            raise ValueError('no key generation for group 0x%04x' % group)

    def shared(self, peer):
        if self.group == X25519:
            return self.priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        pk = ec.EllipticCurvePublicKey.from_encoded_point(self.curve, peer)
        return self.priv.exchange(ec.ECDH(), pk)


class RecordKeys:
    """One direction's AEAD state. iv: 12 bytes (TLS 1.3, 1.2 ChaCha) or the 4-byte salt
    (1.2 AES-GCM). secret: the TLS 1.3 traffic secret (for KeyUpdate)."""

    def __init__(self, suite, version, key, iv, secret=None):
        self.suite, self.version, self.key, self.iv, self.secret = suite, version, key, iv, secret
        self.aead = AESGCM(key) if suite.aead == 'gcm' else ChaCha20Poly1305(key)
        self.seq = 0

    @classmethod
    def from_secret(cls, suite, secret):
        h = suite.hash
        return cls(suite, '1.3', expand_label(h, secret, b'key', b'', suite.key_len),
                   expand_label(h, secret, b'iv', b'', 12), secret)

    def next_generation(self):
        """The keys after a TLS 1.3 KeyUpdate (RFC 8446 §7.2)."""
        h = self.suite.hash
        return RecordKeys.from_secret(
            self.suite, expand_label(h, self.secret, b'traffic upd', b'', self.suite.hash_len))

    @property
    def explicit_len(self):
        return 8 if (self.version == '1.2' and self.suite.aead == 'gcm') else 0

    def _nonce(self, seq):
        if self.explicit_len:
            return self.iv + struct.pack('>Q', seq), struct.pack('>Q', seq)
        pad = bytes(4) + struct.pack('>Q', seq)
        return bytes(a ^ b for a, b in zip(self.iv, pad)), b''

    def seal(self, ctype, payload, pad=0, inner=None, outer_type=None, version=TLS12):
        """One protected record. TLS 1.3: inner plaintext = payload | ctype | pad zeros, unless
        `inner` gives it whole (e.g. all zeros); outer type 23 unless outer_type. TLS 1.2:
        outer type ctype (or outer_type), AAD built with the header's type and version."""
        nonce, explicit = self._nonce(self.seq)
        if self.version == '1.3':
            data = inner if inner is not None else payload + u8(ctype) + bytes(pad)
            otype = CT_APP if outer_type is None else outer_type
            header = u8(otype) + u16(version) + u16(len(data) + 16)
            body = self.aead.encrypt(nonce, data, header)
        else:
            otype = ctype if outer_type is None else outer_type
            aad = struct.pack('>Q', self.seq) + u8(otype) + u16(version) + u16(len(payload))
            body = explicit + self.aead.encrypt(nonce, payload, aad)
            header = u8(otype) + u16(version) + u16(len(body))
        self.seq += 1
        return header + body

    def open(self, header, body):
        """(inner type, plaintext) of a record; BadRecord (seq unchanged) if it fails."""
        nonce, _ = self._nonce(self.seq)
        try:
            if self.version == '1.3':
                inner = self.aead.decrypt(nonce, body, header)
                stripped = inner.rstrip(b'\0')
                if not stripped:
                    raise BadRecord('TLS 1.3 inner plaintext without a content type')
                ctype, plain = stripped[-1], stripped[:-1]
            else:
                el = self.explicit_len
                if el:
                    nonce = self.iv + body[:el]
                n = len(body) - el - 16
                if n < 0:
                    raise BadRecord('record shorter than the AEAD overhead')
                aad = struct.pack('>Q', self.seq) + header[:3] + u16(n)
                plain = self.aead.decrypt(nonce, body[el:], aad)
                ctype = header[0]
        except (InvalidTag, ValueError) as e:
            raise BadRecord('record does not authenticate: %r' % e) from None
        self.seq += 1
        return ctype, plain


# ---- ClientHello ----------------------------------------------------------------------------

class Hello:
    """A ClientHello built from parts. After construction `exts` is a list of [type, body]
    that a test may edit (remove, reorder, replace bodies, append raw ones) before encode().

    version: '1.3' (supported_versions 1.3 only), '1.2' (no supported_versions), 'both'.
    suites: names, codes or Suite objects. shares: groups to make keys for, or (group, bytes)
    for a share sent as given (no key behind it). session_id: bytes (default empty).
    padding: bytes of padding extension (0..65535), appended last."""

    def __init__(self, version='1.3', suites=None, groups=None, shares=None, session_id=b'',
                 sni='localhost', alpn=None, sigalgs=None, versions=None, padding=None,
                 ems=None, renegotiation_info=None, legacy_version=TLS12, random=None,
                 compression=b'\x00', extra=(), cookie=None, point_formats=None):
        self.version = version
        if suites is None:
            suites = {'1.3': SUITES_13, '1.2': SUITES_12}.get(version, SUITES_13 + SUITES_12)
        self.suites = [s.code if isinstance(s, Suite) else
                       SUITES[s].code if isinstance(s, str) else s for s in suites]
        self.groups = [X25519, SECP256R1, SECP384R1] if groups is None else groups
        if shares is None:
            shares = [X25519] if version != '1.2' else []
        self.keys = {}
        self.share_entries = []
        for s in shares:
            if isinstance(s, tuple):
                self.share_entries.append(s)
            else:
                k = KeyShare(s)
                self.keys[s] = k
                self.share_entries.append((s, k.pub))
        self.session_id = session_id
        self.random = random or os.urandom(32)
        self.legacy_version = legacy_version
        self.compression = compression
        if versions is None:
            versions = {'1.3': [TLS13], '1.2': None}.get(version, [TLS13, TLS12])
        is12 = version != '1.3'
        self.ems = is12 if ems is None else ems
        reneg = is12 if renegotiation_info is None else renegotiation_info
        pf = is12 if point_formats is None else point_formats
        e = []
        if sni:
            name = sni.encode() if isinstance(sni, str) else sni
            e.append([EXT_SNI, vec16(u8(0) + vec16(name))])
        if self.groups is not False:
            e.append([EXT_GROUPS, vec16(b''.join(u16(g) for g in self.groups))])
        if pf:
            e.append([EXT_POINT_FORMATS, vec8(b'\x00')])
        e.append([EXT_SIGALGS, vec16(b''.join(u16(a) for a in (sigalgs or SIGALGS)))])
        if alpn:
            e.append([EXT_ALPN, vec16(b''.join(vec8(p.encode() if isinstance(p, str) else p)
                                               for p in alpn))])
        if self.ems:
            e.append([EXT_EMS, b''])
        if reneg:
            e.append([EXT_RENEGOTIATION_INFO, vec8(b'')])
        if versions:
            e.append([EXT_VERSIONS, vec8(b''.join(u16(v) for v in versions))])
            e.append([EXT_PSK_MODES, vec8(b'\x01')])
        if cookie is not None:
            e.append([EXT_COOKIE, vec16(cookie)])
        if versions and TLS13 in versions:
            e.append([EXT_KEY_SHARE, self.key_share_body()])
        e.extend([list(x) for x in extra])
        if padding is not None:
            e.append([EXT_PADDING, bytes(padding)])
        self.exts = e
        self._args = dict(version=version, suites=suites, groups=groups, session_id=session_id,
                          sni=sni, alpn=alpn, sigalgs=sigalgs, versions=versions, ems=ems,
                          renegotiation_info=renegotiation_info, legacy_version=legacy_version,
                          compression=compression, extra=extra, point_formats=point_formats)

    def key_share_body(self):
        return vec16(b''.join(u16(g) + vec16(k) for g, k in self.share_entries))

    def extensions_bytes(self):
        return b''.join(ext(t, b) for t, b in self.exts)

    def drop(self, typ):
        self.exts = [e for e in self.exts if e[0] != typ]
        return self

    def set_ext(self, typ, body):
        for e in self.exts:
            if e[0] == typ:
                e[1] = body
                return self
        self.exts.append([typ, body])
        return self

    def pad_extensions_to(self, total):
        """Adds a padding extension so that the extensions block is `total` bytes."""
        self.drop(EXT_PADDING)
        n = total - len(self.extensions_bytes()) - 4
        if n < 0:
            raise ValueError('extensions already longer than %d' % total)
        self.exts.append([EXT_PADDING, bytes(n)])
        return self

    def body(self):
        return (u16(self.legacy_version) + self.random + vec8(self.session_id) +
                vec16(b''.join(u16(s) for s in self.suites)) + vec8(self.compression) +
                vec16(self.extensions_bytes()))

    def encode(self):
        return hs_msg(CLIENT_HELLO, self.body())

    def boundaries(self):
        """Offsets inside encode() where a field starts or ends: for split tests."""
        offs = [1, 2, 3, 4, 6, 38, 39, 39 + len(self.session_id)]
        o = offs[-1]
        o += 2
        offs.append(o)
        o += 2 * len(self.suites)
        offs.append(o)
        offs += [o + 1, o + 1 + len(self.compression), o + 3 + len(self.compression)]
        o += 3 + len(self.compression)
        for t, b in self.exts:
            offs += [o + 2, o + 4, o + 4 + len(b) // 2]
            o += 4 + len(b)
            offs.append(o)
        total = len(self.encode())
        return sorted(set(x for x in offs if 0 < x < total) | {total - 1})

    def retry(self, group, cookie=None):
        """The second ClientHello after a HelloRetryRequest: same random and session id, one
        key share for `group`, the cookie echoed."""
        args = dict(self._args)
        h = Hello(shares=[group], random=self.random, cookie=cookie, **args)
        for e in self.exts:          # keep the test's edits to other extensions
            if e[0] not in (EXT_KEY_SHARE, EXT_COOKIE):
                h.set_ext(e[0], e[1])
        return h


def sslv2_client_hello(suites=(0x00002f, 0x000035), challenge=None):
    """An SSL 2.0-format ClientHello (RFC 5246 Appendix E.2) offering TLS 1.0."""
    challenge = challenge or os.urandom(16)
    specs = b''.join(struct.pack('>I', s)[1:] for s in suites)
    body = u8(1) + u16(0x0301) + u16(len(specs)) + u16(0) + u16(len(challenge)) + specs + \
        challenge
    return u16(0x8000 | len(body)) + body


# ---- the connection ---------------------------------------------------------------------------

class Outcome:
    """What the server did after our last send: events ('alert', level, desc), ('app', bytes),
    ('hs', type), ('ccs', body), ('bad', raw record), ('other', type, body); end 'eof', 'rst'
    or 'open' (still open at the deadline); t = seconds from our last send to the close."""

    def __init__(self, events, end, t):
        self.events, self.end, self.t = events, end, t

    @property
    def alerts(self):
        return [(e[1], e[2]) for e in self.events if e[0] == 'alert']

    @property
    def app(self):
        return b''.join(e[1] for e in self.events if e[0] == 'app')

    @property
    def closed(self):
        return self.end in ('eof', 'rst')

    def __repr__(self):
        ev = []
        for e in self.events:
            if e[0] == 'alert':
                ev.append('alert(%s %s)' % ({1: 'warning', 2: 'fatal'}.get(e[1], e[1]),
                                             ALERTS.get(e[2], e[2])))
            elif e[0] == 'app':
                m = re.match(r'app\[(\d+)(?: in (\d+) records)?\]$', ev[-1] if ev else '')
                if m:       # runs of application data: one entry
                    ev[-1] = 'app[%d in %d records]' % (int(m.group(1)) + len(e[1]),
                                                        int(m.group(2) or 1) + 1)
                else:
                    ev.append('app[%d]' % len(e[1]))
            elif e[0] in ('bad', 'sealed'):
                ev.append('%s[%s]' % ('undecryptable' if e[0] == 'bad' else 'protected',
                                      e[1][:5].hex()))
            else:
                ev.append('%s%r' % (e[0], e[1:]))
        t = ('%.1f ms' % (self.t * 1000)) if self.t is not None else '-'
        return '<%s; %s after %s>' % (', '.join(ev) or 'nothing', self.end, t)


class Client:
    """One TCP connection driven record by record. State that tests may read: version ('1.2',
    '1.3'), suite, hrr (the HelloRetryRequest's selected group or None), rec_log (every
    record received: (type, raw bytes)), sh_index (index in rec_log of the record that ended
    the first ServerHello/HRR), server_key_updates, alpn, ems, events, app_in."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.rbuf = b''
        self.hs_in = b''
        self.app_in = b''
        self.events = []
        self.mark = 0
        self.rec_log = []
        self.msgs = []              # transcript: handshake messages as sent / received
        self.version = self.suite = self.hello = None
        self.wkeys = self.rkeys = None
        self.pending_w = self.pending_r = None      # TLS 1.2 keys before CCS
        self.old_rkeys = []          # earlier read keys, tried when the current ones fail
        self.hrr = None
        self.hrr_count = 0
        self.sh_index = None
        self.established = False
        self.end = None
        self.closed_at = None
        self.last_send = time.monotonic()
        self.server_key_updates = 0
        self.auto_hrr = True
        self.alpn = None
        self.ems = False
        self.client_verify = self.server_verify = b''
        self.send_error = None

    # -- transport -------------------------------------------------------------------------

    def send(self, data):
        """sendall; a server that closed meanwhile is recorded in send_error (its alert and
        close are then read as usual)."""
        self.mark = len(self.events)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.send_error = e
        self.last_send = time.monotonic()

    def shutdown_write(self):
        self.mark = len(self.events)
        self.sock.shutdown(socket.SHUT_WR)
        self.last_send = time.monotonic()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv_into_buf(self, deadline):
        if self.end:
            raise Closed(self.end)
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out')
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(1 << 17)
        except (ConnectionResetError, BrokenPipeError):
            self.end, self.closed_at = 'rst', time.monotonic()
            raise Closed('rst') from None
        if not d:
            self.end, self.closed_at = 'eof', time.monotonic()
            raise Closed('eof')
        self.rbuf += d

    def read_record(self, timeout=None):
        """(type, version, body, raw) of the next record as received (no decryption)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.rbuf) < 5 or len(self.rbuf) < 5 + struct.unpack('>H', self.rbuf[3:5])[0]:
            self._recv_into_buf(deadline)
        n = 5 + struct.unpack('>H', self.rbuf[3:5])[0]
        raw, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        self.rec_log.append((raw[0], raw))
        return raw[0], struct.unpack('>H', raw[1:3])[0], raw[5:], raw

    def _unprotect(self, ctype, raw):
        """(type, plaintext) of a received record: decrypted when keys are active."""
        if self.rkeys is None or ctype == CT_CCS or (ctype == CT_ALERT and len(raw) == 7):
            return ctype, raw[5:]
        if self.version == '1.3' and ctype != CT_APP:
            return ctype, raw[5:]
        for keys in [self.rkeys] + self.old_rkeys:
            try:
                return keys.open(raw[:5], raw[5:])
            except BadRecord:
                continue
        raise BadRecord(raw)

    def pump(self, timeout=None):
        """Reads and dispatches one record."""
        ctype, _v, _body, raw = self.read_record(timeout)
        try:
            ctype, plain = self._unprotect(ctype, raw)
        except BadRecord:
            self.events.append(('bad', raw))
            return
        if ctype == CT_ALERT:
            for i in range(0, len(plain) - 1, 2):
                self.events.append(('alert', plain[i], plain[i + 1]))
            if len(plain) % 2:
                self.events.append(('other', CT_ALERT, plain))
        elif ctype == CT_HANDSHAKE:
            self.hs_in += plain
            if self.established:
                self._post_handshake()
        elif ctype == CT_APP and self.rkeys is None:
            self.events.append(('sealed', raw))      # protected, and we have no keys
        elif ctype == CT_APP:
            self.app_in += plain
            self.events.append(('app', plain))
        elif ctype == CT_CCS:
            self.events.append(('ccs', plain))
            if self.version == '1.2' and self.pending_r is not None:
                self.rkeys, self.pending_r = self.pending_r, None
        else:
            self.events.append(('other', ctype, plain))

    def _take_hs(self):
        if len(self.hs_in) < 4:
            return None
        n = struct.unpack('>I', b'\0' + self.hs_in[1:4])[0]
        if len(self.hs_in) < 4 + n:
            return None
        raw, self.hs_in = self.hs_in[:4 + n], self.hs_in[4 + n:]
        return raw[0], raw[4:], raw

    def read_hs(self, timeout=None):
        """(type, body, raw) of the next handshake message; AlertReceived on an alert."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            m = self._take_hs()
            if m:
                return m
            n = len(self.events)
            self.pump(max(0.001, deadline - time.monotonic()))
            for e in self.events[n:]:
                if e[0] == 'alert':
                    raise AlertReceived(e[1], e[2])
                if e[0] == 'bad':
                    raise TlsError('undecryptable record during the handshake: %s'
                                   % e[1][:16].hex())

    def _post_handshake(self):
        while True:
            m = self._take_hs()
            if not m:
                return
            typ, body, _raw = m
            self.events.append(('hs', typ))
            if typ == KEY_UPDATE and self.version == '1.3':
                self.server_key_updates += 1
                self.old_rkeys = [self.rkeys]
                self.rkeys = self.rkeys.next_generation()
                if body == b'\x01':
                    self.key_update(False)

    def read_until_close(self, timeout=2.0):
        """Reads everything until FIN/RST or `timeout`; the Outcome covers what arrived since
        our last send."""
        deadline = time.monotonic() + timeout
        end = 'open'
        try:
            while time.monotonic() < deadline:
                self.pump(max(0.001, deadline - time.monotonic()))
        except Closed as e:
            end = e.how
        except socket.timeout:
            pass
        if self.rbuf and end != 'open':
            self.events.append(('other', 'partial record', self.rbuf))
        t = (self.closed_at - self.last_send) if self.closed_at else None
        return Outcome(self.events[self.mark:], end, t)

    def recv_app(self, pred, timeout=None):
        """Pumps until pred(app_in) is true; returns app_in (left in place)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not pred(self.app_in):
            n = len(self.events)
            self.pump(max(0.001, deadline - time.monotonic()))
            for e in self.events[n:]:
                if e[0] == 'alert' and e[2] != ALERT['no_renegotiation']:
                    raise AlertReceived(e[1], e[2])
        return self.app_in

    # -- sending records -------------------------------------------------------------------

    def seal(self, ctype, payload, keys=None, flip=(), length=None, **kw):
        """A protected record under the current write keys (advances their sequence); flip:
        [(offset, mask)] applied to the record bytes afterwards (header, nonce, tag...);
        length: the header's length field rewritten (the bytes stay as sealed)."""
        rec = (keys or self.wkeys).seal(ctype, payload, **kw)
        if length is not None:
            rec = rec[:3] + u16(length) + rec[5:]
        b = bytearray(rec)
        for off, mask in flip:
            b[off] ^= mask
        return bytes(b)

    def positions(self, rec):
        """Named offsets in a protected record (for bit flips)."""
        el = self.wkeys.explicit_len
        ct0, tag0 = 5 + el, len(rec) - 16
        p = {'type': 0, 'version_major': 1, 'version_minor': 2, 'length_hi': 3,
             'length_lo': 4, 'ct_first': ct0, 'ct_mid': (ct0 + tag0) // 2,
             'ct_last': tag0 - 1, 'tag_first': tag0, 'tag_mid': tag0 + 8,
             'tag_last': len(rec) - 1}
        if el:
            p.update(nonce_first=5, nonce_last=5 + el - 1)
        return p

    def send_sealed(self, ctype, payload, send=True, **kw):
        rec = self.seal(ctype, payload, **kw)
        if send:
            self.send(rec)
        return rec

    def send_app(self, data, send=True, size=16384):
        recs = b''.join(self.seal(CT_APP, data[i:i + size])
                        for i in range(0, max(len(data), 1), size))
        if send:
            self.send(recs)
        return recs

    def send_alert(self, level, desc, send=True, plaintext=False):
        body = u8(level) + u8(desc)
        rec = record(CT_ALERT, body) if plaintext or not self.wkeys else \
            self.seal(CT_ALERT, body)
        if send:
            self.send(rec)
        return rec

    def send_hs(self, msg, send=True, split=None, transcript=True):
        """A handshake message under the current write keys (plaintext before keys exist);
        split: list of fragment sizes, one record each."""
        if transcript:
            self.msgs.append(msg)
        parts, i = [], 0
        for n in (split or []):
            if i >= len(msg):
                break
            parts.append(msg[i:i + n])
            i += n
        if i < len(msg) or not parts:
            parts.append(msg[i:])
        if self.wkeys:
            out = b''.join(self.seal(CT_HANDSHAKE, p) for p in parts)
        else:
            out = b''.join(record(CT_HANDSHAKE, p) for p in parts)
        if send:
            self.send(out)
        return out

    def send_ccs(self, value=1, send=True):
        rec = record(CT_CCS, u8(value))
        if self.version == '1.2' and self.pending_w is not None:
            self.wkeys, self.pending_w = self.pending_w, None
        if send:
            self.send(rec)
        return rec

    def key_update(self, requested=False, send=True, body=None, split=None, rekey=True):
        """Sends KeyUpdate (body: raw, default 0/1) under the current key, then switches."""
        msg = hs_msg(KEY_UPDATE, body if body is not None else u8(1 if requested else 0))
        out = self.send_hs(msg, send=False, split=split, transcript=False)
        if rekey:
            self.wkeys = self.wkeys.next_generation()
        if send:
            self.send(out)
        return out

    # -- handshake -------------------------------------------------------------------------

    def _hash(self, data=None):
        return hashlib.new(self.suite.hash, b''.join(self.msgs) if data is None else data
                           ).digest()

    def send_hello(self, hello, sizes=None, record_version=0x0301, send=True, extra=b''):
        """Sends the ClientHello (fragmented per `sizes`, see fragment()), plus `extra` bytes
        in the same send()."""
        self.hello = hello
        msg = hello.encode()
        self.msgs.append(msg)
        data = fragment(CT_HANDSHAKE, msg, sizes, record_version) + extra
        if send:
            self.send(data)
        return data

    def read_server_hello(self):
        typ, body, raw = self.read_hs()
        if typ != SERVER_HELLO:
            raise TlsError('expected ServerHello, got handshake type %d' % typ)
        if self.sh_index is None:
            self.sh_index = len(self.rec_log) - 1
        random, sid_len = body[2:34], body[34]
        o = 35 + sid_len
        suite_code = struct.unpack('>H', body[o:o + 2])[0]
        o += 3
        exts = {}
        if len(body) > o:
            end = o + 2 + struct.unpack('>H', body[o:o + 2])[0]
            o += 2
            while o < end:
                t, n = struct.unpack('>HH', body[o:o + 4])
                exts[t] = body[o + 4:o + 4 + n]
                o += 4 + n
        self.suite = SUITE_BY_CODE.get(suite_code)
        if self.suite is None:
            raise TlsError('server chose unknown suite 0x%04x' % suite_code)
        self.server_random = random
        self.server_exts = exts
        if exts.get(EXT_VERSIONS) == u16(TLS13):
            self.version = '1.3'
            if random == HRR_RANDOM:
                return self._on_hrr(raw, exts)
            self.msgs.append(raw)
            ks = exts[EXT_KEY_SHARE]
            group = struct.unpack('>H', ks[:2])[0]
            key = self.hello.keys.get(group)
            if key is None:
                raise TlsError('server chose group 0x%04x we have no key for' % group)
            self._schedule13(key.shared(ks[4:4 + struct.unpack('>H', ks[2:4])[0]]))
        else:
            self.version = '1.2'
            self.msgs.append(raw)
            self.ems = EXT_EMS in exts
            if EXT_ALPN in exts:
                self.alpn = exts[EXT_ALPN][3:].decode()
        return self.version

    def _on_hrr(self, raw, exts):
        self.hrr_count += 1
        self.hrr = struct.unpack('>H', exts[EXT_KEY_SHARE][:2])[0]
        ch1 = self._hash()
        self.msgs = [hs_msg(MESSAGE_HASH, ch1), raw]
        if not self.auto_hrr:
            return 'hrr'
        cookie = exts.get(EXT_COOKIE)
        h2 = self.hello.retry(self.hrr, cookie[2:] if cookie else None)
        self.send_hello(h2, sizes=None, record_version=TLS12)
        return self.read_server_hello()

    def _schedule13(self, shared):
        h, hl = self.suite.hash, self.suite.hash_len
        early = hkdf_extract(h, None, bytes(hl))
        self.hs_secret = hkdf_extract(h, derive_secret(h, early, b'derived', b''), shared)
        tr = b''.join(self.msgs)
        self.c_hs = derive_secret(h, self.hs_secret, b'c hs traffic', tr)
        self.s_hs = derive_secret(h, self.hs_secret, b's hs traffic', tr)
        self.rkeys = RecordKeys.from_secret(self.suite, self.s_hs)
        self.wkeys = RecordKeys.from_secret(self.suite, self.c_hs)

    def read_server_flight(self):
        """TLS 1.3: EncryptedExtensions .. Finished (checked), app read keys installed.
        TLS 1.2: Certificate, ServerKeyExchange, ServerHelloDone."""
        if self.version == '1.3':
            return self._flight13()
        while True:
            typ, body, raw = self.read_hs()
            self.msgs.append(raw)
            if typ == SERVER_KEY_EXCHANGE:
                if body[0] != 3:
                    raise TlsError('ServerKeyExchange curve type %d' % body[0])
                self.server_group = struct.unpack('>H', body[1:3])[0]
                self.server_point = body[4:4 + body[3]]
            elif typ == SERVER_HELLO_DONE:
                return
            elif typ not in (CERTIFICATE, CERTIFICATE_REQUEST):
                raise TlsError('unexpected handshake type %d in the server flight' % typ)

    def _finished_mac(self, base):
        h, hl = self.suite.hash, self.suite.hash_len
        fk = expand_label(h, base, b'finished', b'', hl)
        return _hmac(h, fk, self._hash())

    def _flight13(self):
        while True:
            typ, body, raw = self.read_hs()
            if typ == FINISHED:
                want = self._finished_mac(self.s_hs)
                if body != want:
                    raise TlsError('server Finished does not verify')
                self.msgs.append(raw)
                break
            if typ == ENCRYPTED_EXTENSIONS:
                self._parse_ee(body)
            elif typ not in (CERTIFICATE, CERTIFICATE_VERIFY, CERTIFICATE_REQUEST):
                raise TlsError('unexpected handshake type %d in the server flight' % typ)
            self.msgs.append(raw)
        h = self.suite.hash
        master = hkdf_extract(h, derive_secret(h, self.hs_secret, b'derived', b''),
                              bytes(self.suite.hash_len))
        tr = b''.join(self.msgs)
        self.c_ap = derive_secret(h, master, b'c ap traffic', tr)
        self.s_ap = derive_secret(h, master, b's ap traffic', tr)
        self.old_rkeys = [self.rkeys]
        self.rkeys = RecordKeys.from_secret(self.suite, self.s_ap)

    def _parse_ee(self, body):
        o, end = 2, 2 + struct.unpack('>H', body[:2])[0]
        while o < end:
            t, n = struct.unpack('>HH', body[o:o + 4])
            if t == EXT_ALPN:
                self.alpn = body[o + 7:o + 4 + n].decode()
            o += 4 + n

    def send_key_exchange(self, send=True, point=None):
        """TLS 1.2 ClientKeyExchange (point: raw bytes instead of our public key)."""
        key = self.hello.keys.get(self.server_group) or KeyShare(self.server_group)
        msg = hs_msg(CLIENT_KEY_EXCHANGE, vec8(point if point is not None else key.pub))
        out = self.send_hs(msg, send=False)
        pms = key.shared(self.server_point)
        h = self.suite.hash
        if self.ems:
            self.master = prf12(h, pms, b'extended master secret', self._hash(), 48)
        else:
            self.master = prf12(h, pms, b'master secret',
                                self.hello.random + self.server_random, 48)
        kl = self.suite.key_len
        ivl = 4 if self.suite.aead == 'gcm' else 12
        kb = prf12(h, self.master, b'key expansion', self.server_random + self.hello.random,
                   2 * kl + 2 * ivl)
        ck, sk = kb[:kl], kb[kl:2 * kl]
        civ, siv = kb[2 * kl:2 * kl + ivl], kb[2 * kl + ivl:]
        self.pending_w = RecordKeys(self.suite, '1.2', ck, civ)
        self.pending_r = RecordKeys(self.suite, '1.2', sk, siv)
        if send:
            self.send(out)
        return out

    def send_finished(self, send=True, verify=None, split=None):
        """Client Finished under the handshake (1.3) / new (1.2) keys; 1.3 then switches the
        write keys to the application traffic secret."""
        if self.version == '1.3':
            vd = self._finished_mac(self.c_hs)
        else:
            vd = prf12(self.suite.hash, self.master, b'client finished', self._hash(), 12)
        self.client_verify = vd
        out = self.send_hs(hs_msg(FINISHED, verify if verify is not None else vd), send=False,
                           split=split)
        if self.version == '1.3':
            self.wkeys = RecordKeys.from_secret(self.suite, self.c_ap)
            self.established = True
        if send:
            self.send(out)
        return out

    def read_server_finished(self):
        """TLS 1.2: the server's CCS and Finished (checked)."""
        typ, body, raw = self.read_hs()
        if typ == NEW_SESSION_TICKET:
            self.msgs.append(raw)
            typ, body, raw = self.read_hs()
        if typ != FINISHED:
            raise TlsError('expected the server Finished, got type %d' % typ)
        want = prf12(self.suite.hash, self.master, b'server finished', self._hash(), 12)
        if body != want:
            raise TlsError('server Finished does not verify')
        self.msgs.append(raw)
        self.server_verify = body
        self.established = True
        self._post_handshake()

    def handshake(self, hello=None, **kw):
        """A whole handshake; returns self. kw go to Hello() when no hello is given."""
        self.send_hello(hello or Hello(**kw))
        self.read_server_hello()
        self.read_server_flight()
        if self.version == '1.2':
            self.send(self.send_key_exchange(send=False) + self.send_ccs(send=False) +
                      self.send_finished(send=False))
            self.read_server_finished()
        else:
            self.send_finished()
        return self


def connect(host, port, timeout=5.0, **kw):
    """A Client after a whole handshake (kw: Hello parameters)."""
    c = Client(host, port, timeout)
    try:
        return c.handshake(**kw)
    except BaseException:
        c.close()
        raise
