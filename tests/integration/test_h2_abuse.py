#!/usr/bin/env python3
"""HTTP/2 abuse: floods, resets and limits (docs/http2.md, "Limits"), a normal client's latency
while they run, and what a reset loop leaves behind.

  Floods       PING, SETTINGS, PRIORITY, WINDOW_UPDATE (stream 0 and an open stream), empty
               DATA, frames nghttp2 drops without a callback (WINDOW_UPDATE on a closed stream,
               empty DATA on a reset stream, unsolicited PING ACKs): GOAWAY ENHANCE_YOUR_CALM
               once the junk budget (1000 + 16 per request) is spent, then the close.
               PING/SETTINGS ACKs the client does not read: nghttp2's outbound-ACK limit (1000)
               makes mem_recv return NGHTTP2_ERR_FLOODED; nghttp2 queues no GOAWAY for it.
  Resets       Rapid Reset (CVE-2023-44487): nghttp2's limiter (1000 burst, 33/s) sends
               GOAWAY INTERNAL_ERROR (nghttp2_session_add_goaway in
               session_update_stream_reset_ratelim, Debian's 1.52.0-1+deb12u1 backport).
               "MadeYouReset" (CVE-2025-8671): requests the server is made to reset by a
               frame that is a stream error (WINDOW_UPDATE 0, a window overflow, a malformed
               request) must spend the budget.
  Limits       more than 8 CONTINUATIONs (nghttp2: NGHTTP2_ERR_TOO_MANY_CONTINUATIONS, the
               connection closes, no GOAWAY), a header list over 64 KiB counted on decode
               (431, the connection lives), the 129th concurrent stream (RST_STREAM
               REFUSED_STREAM or PROTOCOL_ERROR, RFC 9113 §5.1.2; the first 128 are served).
  Legitimate   2000 requests with a PING each, and large downloads with the default 64 KiB
               windows, must not trip the budget.
  Latency      a TLS h2 connection fetching a small file in a loop while each flood runs (from
               other connections): its p99 must stay within 2x its p99 without the flood.
  Leaks        3 rounds of 1000 streams opened and reset (by the client and by the server),
               under the Rapid Reset limit: fds, RSS and active connections back to baseline.

After every test a fresh connection (TLS and h2c) is served normally; at the end sluice must
exit 0 on SIGTERM. Counters come from SIGUSR1 (stderr). Sluice only for the counters, the
latency and the leak checks; the wire checks also run against SLUICE_H2_EXTERNAL(_TLS).

Run:  SLUICE_BIN=build/src/sluice python3 tests/integration/test_h2_abuse.py [-v] [Class.test]
      meson test -C build h2_abuse --print-errorlogs
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2util  # noqa: E402
from h2util import (  # noqa: E402
    CANCEL, CONTINUATION, DATA, DEFAULT_WINDOW, ENHANCE_YOUR_CALM, FLAG_END_HEADERS,
    FLAG_END_STREAM, FLOW_CONTROL_ERROR, HEADERS, INTERNAL_ERROR, MAX_WINDOW, PING,
    PROTOCOL_ERROR, REFUSED_STREAM, S_ENABLE_PUSH, S_INITIAL_WINDOW_SIZE, SETTINGS, code_name,
    data_frame, frame_bytes, ping_frame, priority_frame, rst_stream, settings_frame,
    sluice_only, window_update)

h2util.require()

# sluice's limits (src/session/h2.{h,cc}, docs/http2.md)
JUNK_BUDGET = 1000          # H2::kJunkBudget
JUNK_PER_REQUEST = 16       # H2::kJunkPerRequest
MAX_OUTBOUND_ACK = 1000     # nghttp2_option_set_max_outbound_ack
RESET_BURST = 1000          # nghttp2_option_set_stream_reset_rate_limit(1000, 33)
MAX_CONTINUATIONS = 8       # nghttp2_option_set_max_continuations
MAX_HEADER_LIST = 64 * 1024  # H2::kMaxHeaderList
MAX_STREAMS = 128           # H2::kMaxConcurrentStreams
HIGH_WATER = 1 << 20        # H2::kHighWater
# What a transport holds beyond the kernel's socket buffers that the session can no longer
# recall (taken from the queue, or referenced by an operation in flight): userspace TLS seals
# up to 256 KiB of records ahead of the socket (transport/tls.cc kSealChunk) plus a frame, and
# looks at two more frames while sealing; the session cuts at a frame boundary noted at most
# every 32 KiB (H2::kCutSpacing) plus a frame. The plain writer (h2c, kTLS) has one sendmsg
# of up to 64 x 16 KiB in flight: the whole high-water mark.
USER_TLS_IN_FLIGHT = (256 + 16 + 2 * 16 + 32 + 16) * 1024
PLAIN_IN_FLIGHT = HIGH_WATER + 16384 + 9
C_TLS_USER = 'sluice_tls_connections_user_total'

N_FLOOD = JUNK_BUDGET + 100  # frames that do no work, with no request served: over budget
MAX_FRAME = 16384

C_FLOOD = 'sluice_h2_flood_closed_total'
C_H2_REQUESTS = 'sluice_h2_requests_total'
C_H2_CONNS = 'sluice_h2_connections_total'
C_ACTIVE = 'sluice_server_connections_active'


def setUpModule():
    h2util.setup_module_target()


def tearDownModule():
    t = h2util.TARGET
    h2util.TARGET = None
    if t is None or t.server is None:
        return
    try:
        rc = t.server.stop(signal.SIGTERM, timeout=10, check=False)
        print('sluice exit code after SIGTERM: %s' % rc)
        if rc != 0:
            raise AssertionError('sluice exited with %s after SIGTERM (expected 0)\nstderr tail:\n'
                                 '%s' % (rc, t.server.stderr()[-3000:]))
    finally:
        t.server.cleanup()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def counters(timeout=5.0):
    """sluice's counters (SIGUSR1, printed to stderr) as {name: int}; None for an external
    target."""
    t = h2util.TARGET
    if t is None or t.server is None:
        return None
    srv = t.server
    before = len(srv.stderr())
    srv.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = srv.stderr()[before:]
        if 'sluice_ktls_diag_failed_total' in text and text.endswith('\n'):
            return {m.group(1): int(m.group(2))
                    for m in re.finditer(r'^(sluice_\w+) (\d+)$', text, re.M)}
        time.sleep(0.02)
    raise AssertionError('no counters on stderr within %.0f s of SIGUSR1' % timeout)


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


def _proc_addr(h):
    """'0100007F:1F90' (a /proc/net/tcp{,6} address) -> (packed IP, port)."""
    ip, port = h.split(':')
    raw = bytes.fromhex(ip)
    # the address is printed as 32-bit words in host (little-endian) order
    packed = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return packed, int(port, 16)


def _sock_addr(a):
    host, port = a[0], a[1]
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    return socket.inet_pton(fam, host), port


def kernel_held(c):
    """Bytes of connection c in the kernel's socket buffers: the client socket's unread receive
    queue plus the server socket's send queue (both ends on this machine, from
    /proc/net/tcp{,6}); None when the server's end is not found here."""
    me, peer = _sock_addr(c.sock.getsockname()), _sock_addr(c.sock.getpeername())
    rx = tx = None
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = _proc_addr(fields[1]), _proc_addr(fields[2])
            txq, rxq = (int(x, 16) for x in fields[4].split(':'))
            if (local, remote) == (me, peer):
                rx = rxq
            elif (local, remote) == (peer, me):
                tx = txq
    if rx is None or tx is None:
        return None
    return rx + tx


_SANITIZED = None


def sanitized_binary():
    """True for an ASan build (its runtime symbols are in the binary)."""
    global _SANITIZED
    if _SANITIZED is None:
        path = h2util.harness.sluice_bin()
        with open(path, 'rb') as f:
            _SANITIZED = b'__asan_init' in f.read()
    return _SANITIZED


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float('nan')


def request_frame(c, sid, path='/small.txt', end_stream=True, extra=()):
    return frame_bytes(HEADERS, FLAG_END_HEADERS | (FLAG_END_STREAM if end_stream else 0), sid,
                       c.encode(c.request_headers(path, extra=extra)))


def open_request(c, path='/small.txt'):
    """(sid, bytes): a request stream the client keeps open (HEADERS without END_STREAM), so
    the server answers nothing and waits; opened once per connection."""
    sid = getattr(c, 'abuse_open_sid', None)
    if sid is not None:
        return sid, b''
    sid = c.new_sid()
    c.stream(sid)
    c.abuse_open_sid = sid
    return sid, request_frame(c, sid, path, end_stream=False)


def frame_counts(c):
    out = {}
    for f in c.frames:
        k = h2util.FRAME_NAMES.get(f.type, 'type%d' % f.type) + ('+ACK' if 'ACK' in f.flags and
                                                                 f.type in (PING, SETTINGS)
                                                                 else '')
        out[k] = out.get(k, 0) + 1
    return out


# --------------------------------------------------------------------------------------------
# The floods: build(c) returns the next bytes to send on connection c (called again while the
# connection lives, so a flood that is not stopped keeps coming in the latency tests).
# --------------------------------------------------------------------------------------------

_PINGS = b''.join(ping_frame(struct.pack('>Q', i)) for i in range(N_FLOOD))
_PING_ACKS = b''.join(ping_frame(struct.pack('>Q', i), ack=True) for i in range(N_FLOOD))
_SETTINGS = b''.join(settings_frame({S_ENABLE_PUSH: 0}) for _ in range(N_FLOOD))
_WU0 = b''.join(window_update(0, 1) for _ in range(N_FLOOD))


def f_ping(c):
    return _PINGS


def f_settings(c):
    return _SETTINGS


def f_priority(c):
    # on the client's open request stream (and nothing else makes the frames do work)
    sid, head = open_request(c)
    return head + priority_frame(sid, 0, 15) * N_FLOOD


def f_window_update_connection(c):
    return _WU0


def f_window_update_stream(c):
    sid, head = open_request(c)
    return head + window_update(sid, 1) * N_FLOOD


def f_empty_data(c):
    sid, head = open_request(c)
    return head + data_frame(sid, b'') * N_FLOOD


def f_rapid_reset(c, n=RESET_BURST + 500):
    out = []
    for _ in range(n):
        sid = c.new_sid()
        out.append(request_frame(c, sid))
        out.append(rst_stream(sid, CANCEL))
    return b''.join(out)


def f_made_you_reset(c, n=100):
    # valid requests for a large file (the stream stays open: the 64 KiB window cannot carry
    # it), each followed by WINDOW_UPDATE 0 on its stream: the server resets it (§6.9)
    out = []
    for _ in range(n):
        sid = c.new_sid()
        out.append(request_frame(c, sid, '/1m.bin'))
        out.append(window_update(sid, 0))
    return b''.join(out)


_CONT_FIELD = b'\x00\x05x-pad\x05vvvvv'   # literal without indexing: x-pad: vvvvv


def f_continuation(c, n=MAX_CONTINUATIONS + 1):
    sid = c.new_sid()
    return frame_bytes(HEADERS, FLAG_END_STREAM, sid, c.encode(c.request_headers('/small.txt'))) \
        + frame_bytes(CONTINUATION, 0, sid, _CONT_FIELD) * n


def big_header_block(c, path='/small.txt', size=70000):
    """Literal (not Huffman, not indexed) fields adding up to `size` bytes of header list."""
    n = size // 4040 + 1
    extra = [('x-big-%02d' % i, 'v' * 4000) for i in range(n)]
    hdrs = c.request_headers(path)
    block = b''.join([c.encode(hdrs)] + [
        b'\x00' + bytes([len(k)]) + k.encode() + b'\x7f' + _hpack_int_tail(len(v) - 127)
        + v.encode() for k, v in extra])
    return block


def _hpack_int_tail(v):
    out = bytearray()
    while v >= 128:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def header_block_frames(sid, block, end_stream=True):
    """HEADERS + CONTINUATIONs of at most 16 KiB each."""
    parts = [block[i:i + MAX_FRAME] for i in range(0, len(block), MAX_FRAME)] or [b'']
    out = [frame_bytes(HEADERS, (FLAG_END_STREAM if end_stream else 0) |
                       (FLAG_END_HEADERS if len(parts) == 1 else 0), sid, parts[0])]
    for i, p in enumerate(parts[1:], 1):
        out.append(frame_bytes(CONTINUATION, FLAG_END_HEADERS if i == len(parts) - 1 else 0,
                               sid, p))
    return b''.join(out), len(parts)


def f_header_list(c):
    sid = c.new_sid()
    return header_block_frames(sid, big_header_block(c))[0]


def f_concurrency(c, n=MAX_STREAMS + 1):
    out = []
    for _ in range(n):
        sid = c.new_sid()
        out.append(request_frame(c, sid, '/1m.bin'))
    return b''.join(out)


# name: (build, client SETTINGS for the attacking connection)
FLOODS = {
    'ping': (f_ping, None),
    'settings': (f_settings, None),
    'priority': (f_priority, None),
    'window_update_connection': (f_window_update_connection, None),
    'window_update_stream': (f_window_update_stream, None),
    'empty_data': (f_empty_data, None),
    'rapid_reset': (f_rapid_reset, None),
    'made_you_reset': (f_made_you_reset, {S_INITIAL_WINDOW_SIZE: 0}),
    'continuation': (f_continuation, None),
    'header_list': (f_header_list, None),
    'concurrency': (f_concurrency, {S_INITIAL_WINDOW_SIZE: 0}),
}


# --------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------

class Abuse(h2util.H2Case):
    transport = 'tls'

    def tearDown(self):
        # whatever the test did, the server is up and serves a normal request on a fresh
        # connection, over TLS and h2c
        t = self.target
        if t.server is not None:
            self.assertTrue(t.server.alive(), 'sluice died: rc=%s\nstderr tail:\n%s'
                            % (t.server.proc.poll(), t.server.stderr()[-3000:]))
        for tr in ('tls', 'h2c'):
            if not t.has(tr):
                continue
            c = t.raw(tr)
            try:
                s = c.wait_stream(c.get('/small.txt'))
                self.assertEqual(s.status, 200, 'after %s: normal request over %s: %r %s'
                                 % (self.id(), tr, s, c.frame_summary()))
                self.assertEqual(bytes(s.body), self.expected('/small.txt'))
            finally:
                c.close()

    def counters(self):
        return counters()

    def probe(self, c, timeout=5.0):
        """After a flood: reads until GOAWAY/EOF, or until a PING sent behind the flood comes
        back (the server processed the whole flood and kept the connection)."""
        data = os.urandom(8)
        c.send(ping_frame(data))
        c.read_until(lambda: c.goaways or c.eof or data in c.ping_acks, timeout)
        if data in c.ping_acks and not c.goaways and not c.eof:
            c.read_for(0.1)
        return data in c.ping_acks

    def assertFloodEnded(self, c, codes=(ENHANCE_YOUR_CALM,), what='', timeout=5.0):
        alive = self.probe(c, timeout)
        info = '%s; frames %s; last: %s; eof=%s' % (what, frame_counts(c), c.frame_summary(6),
                                                    c.eof)
        if not c.goaways:
            self.fail('no GOAWAY %s after the flood (%s): %s'
                      % ('/'.join(code_name(x) for x in codes),
                         'the connection still answers a PING' if alive else 'closed', info))
        g = c.goaways[0]
        self.assertIn(g.error_code, codes, 'GOAWAY %s; %s' % (code_name(g.error_code), info))
        self.assertTrue(c.read_until_closed(timeout), 'still open %.0fs after GOAWAY: %s'
                        % (timeout, info))
        return g

    def assertFloodCounted(self, c0, n=1):
        if c0 is None:
            return
        c1 = self.counters()
        self.assertEqual(delta(c1, c0, C_FLOOD), n, '%s %+d, expected %+d'
                         % (C_FLOOD, delta(c1, c0, C_FLOOD), n))

    def junk_flood(self, name, codes=(ENHANCE_YOUR_CALM,), settings=None):
        c0 = self.counters()
        c = self.raw(settings=settings)
        c.send(FLOODS[name][0](c))
        g = self.assertFloodEnded(c, codes, name)
        self.assertFloodCounted(c0)
        return c, g


# --------------------------------------------------------------------------------------------
# 1. Floods
# --------------------------------------------------------------------------------------------

class Floods(Abuse):
    transport = 'tls'

    def test_ping_flood(self):
        c, _ = self.junk_flood('ping')
        acks = len(c.ping_acks)
        self.assertLessEqual(acks, JUNK_BUDGET, 'more PING ACKs than the budget: %d' % acks)

    def test_settings_flood(self):
        c, _ = self.junk_flood('settings')
        self.assertLessEqual(c.settings_acks, JUNK_BUDGET + 1, frame_counts(c))

    def test_priority_flood(self):
        # PRIORITY frames on an open request stream: they do nothing (RFC 9218 only)
        self.junk_flood('priority')

    def test_window_update_flood_connection(self):
        # increments of 1 on stream 0
        self.junk_flood('window_update_connection')

    def test_window_update_flood_open_stream(self):
        self.junk_flood('window_update_stream')

    def test_empty_data_flood(self):
        # empty DATA without END_STREAM on a request stream the client keeps open
        self.junk_flood('empty_data')

    def test_frames_nghttp2_ignores_are_counted(self):
        # frames nghttp2 drops without calling on_frame_recv: as much junk as the others
        def wu_closed(c):
            sid = c.get('/small.txt')
            self.assertTrue(c.wait_stream(sid).ended, c.frame_summary())
            return window_update(sid, 1) * (N_FLOOD * 2)

        def data_reset(c):
            sid, head = open_request(c)
            return head + rst_stream(sid, CANCEL) + data_frame(sid, b'') * (N_FLOOD * 2)

        def ping_acks(c):
            return _PING_ACKS * 2

        for name, build in (('WINDOW_UPDATE on a closed stream', wu_closed),
                            ('empty DATA on a stream the client reset', data_reset),
                            ('unsolicited PING ACKs', ping_acks)):
            with self.subTest(name):
                c0 = self.counters()
                c = self.raw()
                c.send(build(c))
                self.assertFloodEnded(c, what=name)
                self.assertFloodCounted(c0)
                c.close()

    def ack_flood_unread(self, kind):
        # The client asks for 64 MiB with open windows and reads nothing: the server's queue
        # reaches its high-water mark, so the ACKs stay queued in nghttp2 and its outbound-ACK
        # limit (1000) ends the session (NGHTTP2_ERR_FLOODED from mem_recv).
        c0 = self.counters()
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        c.keep_body = False
        c.send(window_update(0, MAX_WINDOW - DEFAULT_WINDOW))
        sid = c.get('/64m.bin')
        time.sleep(0.5)   # not reading: the socket buffers and the server's queue fill
        n0 = len(c.frames)
        # What the kernel already holds of the response when the flood starts (the buffers are
        # full and the client reads nothing, so this stands still): it reaches the client
        # whatever the server does, and cannot be recalled.
        held = kernel_held(c)
        c.send(_PINGS if kind == PING else _SETTINGS)
        time.sleep(0.2)
        closed = c.read_until_closed(20)
        after = c.frames[n0:]
        acks = [i for i, f in enumerate(after) if f.type == kind and 'ACK' in f.flags]
        last_ack = acks[-1] if acks else 0
        data_after = sum(f.length for f in after[last_ack:] if f.type == DATA)
        c1 = self.counters()
        user_tls = (c0 is not None and self.transport == 'tls' and
                    delta(c1, c0, C_TLS_USER) >= 1)
        in_flight = USER_TLS_IN_FLIGHT if user_tls else PLAIN_IN_FLIGHT
        info = ('frames %s; GOAWAY %s; response DATA %d bytes, %d of them after the last ACK; '
                'in the kernel at the flood: %s bytes; the transport may hold %d more (%s)' % (
                    frame_counts(c), [code_name(g.error_code) for g in c.goaways],
                    c.stream(sid).flow, data_after, held, in_flight,
                    'userspace TLS' if user_tls else 'plain writer'))
        print('    %s ACK flood, client not reading: %s' % ('PING' if kind == PING else 'SETTINGS',
                                                           info))
        self.assertTrue(closed, 'connection still open: ' + info)
        self.assertLessEqual(len(acks), MAX_OUTBOUND_ACK, info)
        # nghttp2 queues no GOAWAY for NGHTTP2_ERR_FLOODED; one sluice adds must say why,
        # and must reach the client (not be destroyed by an RST over the unread flood)
        if self.target.sluice:
            self.assertTrue(c.goaways, 'no GOAWAY: ' + info)
        for g in c.goaways:
            self.assertEqual(g.error_code, ENHANCE_YOUR_CALM, info)
        self.assertFloodCounted(c0)
        # Once the flood is detected nothing new is produced, and what waits unsent in the
        # server's queue is dropped: after the flood the client gets only what the kernel
        # already held (its socket buffers: several MB on loopback, which no server can recall,
        # so the high-water mark alone is no bound) and what the transport had taken or has in
        # flight. (Without the drop, userspace TLS adds the ~0.8 MB still queued.)
        if held is None:   # the server's end is not on this machine: the kernel part unknown
            self.skipTest('server socket not in /proc/net/tcp: ' + info)
        self.assertLessEqual(data_after, held + in_flight,
                             'the flood-closed connection kept sending its response: ' + info)

    def test_ping_ack_flood_client_not_reading(self):
        self.ack_flood_unread(PING)

    def test_settings_ack_flood_client_not_reading(self):
        self.ack_flood_unread(SETTINGS)

    # -- resets --------------------------------------------------------------------------------

    def test_rapid_reset(self):
        # CVE-2023-44487: 1500 x (HEADERS + RST_STREAM) in one burst. nghttp2's limiter
        # answers GOAWAY INTERNAL_ERROR (its choice; ENHANCE_YOUR_CALM would be as good)
        c0 = self.counters()
        c = self.raw()
        c.keep_body = False
        c.send(f_rapid_reset(c, RESET_BURST + 500))
        g = self.assertFloodEnded(c, (INTERNAL_ERROR, ENHANCE_YOUR_CALM), 'rapid reset')
        self.assertGreaterEqual(g.last_stream_id, 2 * RESET_BURST - 1, c.frame_summary())
        print('    rapid reset: GOAWAY %s last_stream_id=%d' % (code_name(g.error_code),
                                                                 g.last_stream_id))
        if c0 is not None:
            c1 = self.counters()
            served = delta(c1, c0, C_H2_REQUESTS)
            # requests after the limit still in the same read are answered, not more
            self.assertLessEqual(served, RESET_BURST + 500, served)
            print('    rapid reset: %d requests answered, %s %+d'
                  % (served, C_FLOOD, delta(c1, c0, C_FLOOD)))

    def test_rapid_reset_without_end_stream(self):
        # the same with requests never completed: the junk budget (RST_STREAMs, no request
        # served) or the reset limiter, whichever is first
        c = self.raw()
        out = []
        for _ in range(RESET_BURST + 500):
            sid = c.new_sid()
            out += [request_frame(c, sid, end_stream=False), rst_stream(sid, CANCEL)]
        c.send(b''.join(out))
        self.assertFloodEnded(c, (ENHANCE_YOUR_CALM, INTERNAL_ERROR), 'rapid reset, open')

    @sluice_only
    def test_nghttp2_flood_closes_are_counted(self):
        # sluice_h2_flood_closed_total counts the junk budget and NGHTTP2_ERR_FLOODED; the
        # floods nghttp2 itself stops (Rapid Reset, CONTINUATION) are floods too
        for name in ('rapid_reset', 'continuation'):
            with self.subTest(name):
                c0 = self.counters()
                c = self.raw()
                c.keep_body = False
                c.send(FLOODS[name][0](c))
                self.assertTrue(c.read_until_closed(5), c.frame_summary())
                self.assertFloodCounted(c0)
                c.close()

    def made_you_reset(self, trigger, code, settings=None, cycles=N_FLOOD, batch=50,
                       path='/1m.bin'):
        """Valid requests, each followed by a frame that makes the server reset its stream;
        paced (batch, then wait for the resets) so the concurrency limit plays no part.
        Returns the number of cycles before the GOAWAY."""
        c0 = self.counters()
        c = self.raw(settings=settings)
        c.keep_body = False
        done = 0
        while done < cycles and not c.goaways and not c.eof:
            sids, out = [], []
            for _ in range(batch):
                sid = c.new_sid()
                c.stream(sid)
                sids.append(sid)
                out += [request_frame(c, sid, path), trigger(sid)]
            c.send(b''.join(out))
            c.read_until(lambda: c.goaways or c.eof or
                         all(c.stream(s).rst is not None for s in sids), 5)
            for s in sids:
                r = c.stream(s).rst
                if r is not None:
                    self.assertEqual(r, code, 'stream %d: %s; %s' % (s, code_name(r),
                                                                      c.frame_summary()))
            done += batch
        resets = sum(1 for s in c.streams.values() if s.rst is not None)
        print('    made-you-reset (%s): %d requests sent, %d reset by the server, GOAWAY %s'
              % (code_name(code), done, resets, [code_name(g.error_code) for g in c.goaways]))
        self.assertTrue(c.goaways, '%d requests made to be reset by the server (%d resets) and '
                        'the connection goes on: the resets are not charged'
                        % (done, resets))
        self.assertEqual(c.goaways[0].error_code, ENHANCE_YOUR_CALM, c.frame_summary())
        self.assertTrue(c.read_until_closed(5))
        self.assertFloodCounted(c0)

    def test_made_you_reset_window_update_zero(self):
        # §6.9: WINDOW_UPDATE 0 on a stream is a stream error; H2::scan answers it itself
        self.made_you_reset(lambda sid: window_update(sid, 0), PROTOCOL_ERROR,
                            settings={S_INITIAL_WINDOW_SIZE: 0})

    def test_made_you_reset_window_overflow(self):
        # §6.9.1: a stream window above 2^31-1 is a stream error FLOW_CONTROL_ERROR (nghttp2's)
        self.made_you_reset(lambda sid: window_update(sid, MAX_WINDOW), FLOW_CONTROL_ERROR)

    def test_made_you_reset_malformed_requests(self):
        # malformed requests (no :path): RST_STREAM PROTOCOL_ERROR each, nothing served
        c0 = self.counters()
        c = self.raw()
        bad = [(':method', 'GET'), (':scheme', 'https' if c.tls else 'http'),
               (':authority', 'localhost')]
        out = []
        for _ in range(N_FLOOD):
            sid = c.new_sid()
            out.append(frame_bytes(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, sid,
                                   c.encode(bad)))
        c.send(b''.join(out))
        self.assertFloodEnded(c, what='malformed requests')
        self.assertFloodCounted(c0)

    # -- CONTINUATION --------------------------------------------------------------------------

    def test_8_continuations_served(self):
        c = self.raw()
        sid = c.new_sid()
        c.stream(sid)
        c.send(frame_bytes(HEADERS, FLAG_END_STREAM, sid, c.encode(c.request_headers(
            '/small.txt'))))
        for i in range(MAX_CONTINUATIONS):
            c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS if i == MAX_CONTINUATIONS - 1
                               else 0, sid, _CONT_FIELD))
        s = c.wait_stream(sid)
        self.assertEqual(s.status, 200, c.frame_summary())

    def continuation_flood(self, n):
        c0 = self.counters()
        c = self.raw()
        c.sock.settimeout(5)
        t0 = time.monotonic()
        c.send(f_continuation(c, n))
        closed = c.read_until_closed(3)
        dt = time.monotonic() - t0
        info = 'frames %s; GOAWAY %s; send error %r' % (
            frame_counts(c), [(code_name(g.error_code), g.last_stream_id) for g in c.goaways],
            c.send_error)
        print('    %d CONTINUATIONs: closed=%s after %.3fs; %s' % (n, closed, dt, info))
        self.assertTrue(closed or c.send_error, 'still open after %d CONTINUATIONs: %s'
                        % (n, info))
        self.assertFalse(c.frames_of(HEADERS), 'a response to a header block of %d '
                         'CONTINUATIONs: %s' % (n, info))
        # Debian's nghttp2 (CVE-2024-28182 fix) returns NGHTTP2_ERR_TOO_MANY_CONTINUATIONS and
        # queues no GOAWAY, so sluice closes without one (RFC 9113 §5.4.1: SHOULD send
        # GOAWAY); if one comes it must name a connection error, not NO_ERROR
        for g in c.goaways:
            self.assertIn(g.error_code, (ENHANCE_YOUR_CALM, PROTOCOL_ERROR), info)
        if c0 is not None:
            c1 = self.counters()
            self.assertEqual(delta(c1, c0, C_H2_REQUESTS), 0, 'the request was served')

    def test_9_continuations_close(self):
        self.continuation_flood(MAX_CONTINUATIONS + 1)

    def test_continuation_flood(self):
        self.continuation_flood(5000)

    # -- header list ---------------------------------------------------------------------------

    def big_request(self, c, block):
        sid = c.new_sid()
        c.stream(sid)
        frames, n = header_block_frames(sid, block)
        self.assertLessEqual(n, MAX_CONTINUATIONS + 1)
        c.send(frames)
        return c.wait_stream(sid)

    def test_header_list_over_64k_431(self):
        c = self.raw()
        c0 = self.counters()
        s = self.big_request(c, big_header_block(c, size=70000))
        self.assertEqual(s.status, 431, '%r %s' % (s, c.frame_summary()))
        self.assertTrue(s.ended)
        self.assertStillWorks(c)
        if c0 is not None:
            self.assertEqual(delta(self.counters(), c0, C_FLOOD), 0)

    def test_header_list_just_under_64k_served(self):
        c = self.raw()
        s = self.big_request(c, big_header_block(c, size=60000))
        self.assertEqual(s.status, 200, '%r %s' % (s, c.frame_summary()))
        self.assertStillWorks(c)

    def test_header_list_over_64k_by_hpack_references_431(self):
        # counted on decode: a 1 KiB block of indexed references to one 3.9 KB dynamic-table
        # entry decodes to ~390 KB of header list
        c = self.raw()
        hdrs = c.request_headers('/small.txt') + [('x-bomb', 'b' * 3900)] * 100
        block = c.encode(hdrs, huffman=False)
        self.assertLess(len(block), MAX_FRAME)
        s = self.big_request(c, block)
        self.assertEqual(s.status, 431, '%r %s' % (s, c.frame_summary()))
        self.assertStillWorks(c)

    # -- concurrency ---------------------------------------------------------------------------

    def concurrent(self, n):
        c = self.raw()
        c.auto_window = True
        sids = [c.new_sid() for _ in range(n)]
        for s in sids:
            c.stream(s)
        c.send(b''.join(request_frame(c, s, '/1k.bin') for s in sids))   # one write
        c.read_until(lambda: all(c.stream(s).done for s in sids) or c.eof, 10)
        return c, sids

    def test_128_concurrent_streams_served(self):
        c, sids = self.concurrent(MAX_STREAMS)
        body = self.expected('/1k.bin')
        for s in sids:
            st = c.stream(s)
            self.assertTrue(st.ended and st.status == 200 and bytes(st.body) == body,
                            '%r %s' % (st, c.frame_summary()))
        self.assertFalse(c.goaways)

    # nghttp2 1.52 alone would make this a connection error (GOAWAY PROTOCOL_ERROR) once our
    # SETTINGS are acknowledged; sluice refuses the stream itself (docs/http2.md)
    def test_129th_stream_refused_first_128_served(self):
        # RFC 9113 §5.1.2: a stream error PROTOCOL_ERROR or REFUSED_STREAM for the stream over
        # the limit; the 128 within it are served
        c, sids = self.concurrent(MAX_STREAMS + 1)
        info = 'frames %s; GOAWAY %s' % (frame_counts(c), [
            (code_name(g.error_code), g.last_stream_id, bytes(g.additional_data))
            for g in c.goaways])
        extra = c.stream(sids[-1])
        served = sum(1 for s in sids[:-1] if c.stream(s).ended and c.stream(s).status == 200)
        print('    129 streams at once: %d of the first 128 served, the 129th: %r; %s'
              % (served, extra, info))
        self.assertIn(extra.rst, (REFUSED_STREAM, PROTOCOL_ERROR),
                      'the 129th stream: %r; %s' % (extra, info))
        self.assertIsNone(extra.headers)
        self.assertEqual(served, MAX_STREAMS, info)
        self.assertFalse(c.goaways, info)
        self.assertStillWorks(c)

    @sluice_only
    def test_client_eof_with_unfinished_request_closes(self):
        # the client opens a request without END_STREAM and closes the connection: that
        # request can never finish, so the server has nothing left to do (default timeouts
        # here: --send-timeout 60, --keepalive-timeout 75)
        c = self.raw()
        c.get('/small.txt', end_stream=False)
        self.assertTrue(c.ping())
        a0 = self.counters()[C_ACTIVE]
        c.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3 and self.counters()[C_ACTIVE] >= a0:
            time.sleep(0.05)
        a1 = self.counters()[C_ACTIVE]
        self.assertLess(a1, a0, 'the connection is still open %.1fs after the client closed it '
                        '(active %d -> %d): it waits for --send-timeout'
                        % (time.monotonic() - t0, a0, a1))

    # -- legitimate clients --------------------------------------------------------------------

    def test_2000_requests_with_pings_not_a_flood(self):
        c = self.raw()
        c.auto_window = True
        body = self.expected('/small.txt')
        n_ok = 0
        for _ in range(20):
            sids, pings, out = [], [], []
            for _ in range(100):
                sid = c.new_sid()
                c.stream(sid)
                sids.append(sid)
                p = os.urandom(8)
                pings.append(p)
                out += [request_frame(c, sid), ping_frame(p)]
            c.send(b''.join(out))
            c.read_until(lambda: c.eof or c.goaways or (
                all(c.stream(s).done for s in sids) and all(p in c.ping_acks for p in pings)),
                10)
            self.assertFalse(c.goaways or c.eof, 'after %d requests: %s' % (n_ok,
                                                                           c.frame_summary()))
            for s in sids:
                st = c.stream(s)
                self.assertTrue(st.ended and st.status == 200 and bytes(st.body) == body,
                                repr(st))
                n_ok += 1
        self.assertEqual(n_ok, 2000)
        self.assertEqual(len(c.ping_acks), 2000)

    def test_large_downloads_default_windows_not_a_flood(self):
        # python-h2 with its default 64 KiB windows, sending WINDOW_UPDATEs as the library
        # does: 40 x 1 MiB over one connection (WINDOW_UPDATEs: real work, they open windows)
        cl = self.client()
        body = self.expected('/1m.bin')
        for i in range(40):
            r = cl.get('/1m.bin', timeout=20)
            self.assertTrue(r.ended and r.status == 200 and r.body == body,
                            'download %d of 40: status %s, %d bytes; connection terminated: %s'
                            % (i + 1, r.status, len(r.body), cl.terminated))

    def test_64m_download_nghttp_64k_windows_not_a_flood(self):
        # nghttp2's own client with 64 KiB windows (-w 16 -W 16)
        if shutil.which('nghttp') is None:
            self.skipTest('nghttp missing (Debian package nghttp2-client)')
        p = subprocess.run(['nghttp', '-n', '-v', '-s', '-w', '16', '-W', '16',
                            self.target.url(self.transport, '/64m.bin')],
                           capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        errors = [lines[i + 1].strip() for i, ln in enumerate(lines[:-1])
                  if 'recv GOAWAY' in ln or 'recv RST_STREAM' in ln]
        received = sum(int(m.group(1)) for m in re.finditer(
            r'recv DATA frame <length=(\d+)', p.stdout))
        self.assertTrue(re.search(r'\b200\s+64M\s+/64m\.bin', p.stdout),
                        'nghttp (64 KiB windows) did not get the 64 MiB file: %d bytes '
                        'received, then %s (rc %d)' % (received, errors, p.returncode))


class FloodsH2c(Floods):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# 2. A normal connection's latency while a flood runs
# --------------------------------------------------------------------------------------------

SLICE = 0.1       # s: the run alternates slices without and with the flood
GUARD = 0.01      # s: samples starting this close to a switch are dropped
MEASURE_S = 2.0   # s per attempt (half of it flooded)
ATTEMPTS = 3
ATTACK_NICE = 19


def attacker(name, t0, dur, wfd):
    """The flooding side (a forked process): in the odd slices, connection after connection
    over h2c (no handshake cost: the frame handling is what is measured), each flooded until
    the server closes it; in the even slices nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, ATTACK_NICE)
    except OSError:
        pass
    build, settings = FLOODS[name]
    t = h2util.TARGET
    tr = 'h2c' if t.has('h2c') else 'tls'
    stats = {'conns': 0, 'sends': 0, 'bytes': 0, 'goaways': {}}
    end = t0 + dur

    def attacking():
        k, off = divmod(time.monotonic() - t0, SLICE)
        return int(k) % 2 == 1 and off < SLICE - GUARD

    try:
        while time.monotonic() < end:
            if not attacking():
                time.sleep(0.001)
                continue
            try:
                c = t.raw(tr, settings=settings, timeout=2.0)
            except Exception:  # noqa: BLE001 -- a refused or slow connection: try again
                continue
            c.keep_body = False
            stats['conns'] += 1
            try:
                for _ in range(50):
                    data = build(c)
                    c.send(data)
                    if c.send_error:
                        break
                    stats['sends'] += 1
                    stats['bytes'] += len(data)
                    c._recv(0.0005)
                    if c.eof or c.goaways or not attacking():
                        break
                for g in c.goaways:
                    k = code_name(g.error_code)
                    stats['goaways'][k] = stats['goaways'].get(k, 0) + 1
            finally:
                c.close()
    finally:
        os.write(wfd, json.dumps(stats).encode())
        os.close(wfd)


@sluice_only
class LatencyUnderFlood(Abuse):
    """p99 of a TLS h2 connection fetching /small.txt in a loop, with and without a flood from
    other connections. The two are measured interleaved (100 ms slices, alternately without
    and with the flood, for 2 s), so the drift of a shared 2-core machine falls on both
    alike. The attacker runs at nice 19: its own Python on the same 2 cores is the test's
    artefact, not the server's (the server and the measuring client stay at nice 0). An
    attempt whose p99 is over 2x the baseline's is repeated, up to 3 attempts; all are
    printed."""

    transport = 'tls'
    results = []

    def setUp(self):
        super().setUp()
        if sanitized_binary():
            # ASan/UBSan make every frame several times dearer: the release build, which runs
            # this same test, is the one whose latency means something
            self.skipTest('latency not measured on a sanitizer build')

    @classmethod
    def tearDownClass(cls):
        if cls.results:
            print('\nlatency summary (ms; baseline p99 -> flood p99, ratio; best attempt):')
            for line in cls.results:
                print('  ' + line)

    def victim(self):
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        c.keep_body = False
        c.send(window_update(0, MAX_WINDOW - DEFAULT_WINDOW))
        for _ in range(200):
            self.assertEqual(c.wait_stream(c.get('/small.txt')).status, 200)
        return c

    def attempt(self, name, c):
        t0 = time.monotonic() + 0.2
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(rfd)
                attacker(name, t0, MEASURE_S, wfd)
            finally:
                os._exit(0)
        os.close(wfd)
        base, flood = [], []
        try:
            while time.monotonic() < t0:
                time.sleep(0.001)
            end = t0 + MEASURE_S
            while True:
                a = time.monotonic()
                if a >= end:
                    break
                s = c.wait_stream(c.get('/small.txt'))
                b = time.monotonic()
                self.assertTrue(s.ended and s.status == 200,
                                'the normal connection failed during the %s flood: %r %s'
                                % (name, s, c.frame_summary()))
                k, off = divmod(a - t0, SLICE)
                if off < GUARD or int((b - t0) // SLICE) != int(k):
                    continue
                (flood if int(k) % 2 else base).append(b - a)
        finally:
            data = b''
            while True:
                chunk = os.read(rfd, 65536)
                if not chunk:
                    break
                data += chunk
            os.close(rfd)
            os.waitpid(pid, 0)
        stats = json.loads(data.decode() or '{}')
        return base, flood, stats

    def measure(self, name):
        c = self.victim()
        lines = []
        best = None
        for i in range(ATTEMPTS):
            base, flood, st = self.attempt(name, c)
            self.assertGreater(len(base), 500, 'too few samples')
            self.assertGreater(len(flood), 500, 'too few samples')
            b99, f99 = pct(base, 0.99), pct(flood, 0.99)
            ratio = f99 / b99
            line = ('%-25s attempt %d: baseline n=%d p50=%.3f p99=%.3f | flood n=%d p50=%.3f '
                    'p99=%.3f | ratio %.2f | attacker: %d conns, %d sends, %.1f MB, GOAWAY %s'
                    % (name, i + 1, len(base), pct(base, .5) * 1e3, b99 * 1e3, len(flood),
                       pct(flood, .5) * 1e3, f99 * 1e3, ratio, st.get('conns', 0),
                       st.get('sends', 0), st.get('bytes', 0) / 1e6, st.get('goaways')))
            print('    ' + line)
            lines.append(line)
            self.assertGreater(st.get('sends', 0), 0, 'the attacker sent nothing: %r' % st)
            if best is None or ratio < best[0]:
                best = (ratio, b99, f99)
            if ratio <= 2.0:
                break
        self.__class__.results.append('%-25s %.3f -> %.3f  x%.2f  (%d attempt%s)'
                                      % (name, best[1] * 1e3, best[2] * 1e3, best[0],
                                         len(lines), '' if len(lines) == 1 else 's'))
        self.assertLessEqual(best[0], 2.0, 'p99 under the %s flood over 2x the baseline in '
                             'all %d attempts:\n%s' % (name, len(lines), '\n'.join(lines)))
        self.assertTrue(c.ping(), 'the normal connection is gone: %s' % c.frame_summary())


def _latency_test(name):
    def test(self):
        self.measure(name)
    test.__name__ = 'test_p99_%s' % name
    return test


for _name in FLOODS:
    setattr(LatencyUnderFlood, 'test_p99_%s' % _name, _latency_test(_name))


# --------------------------------------------------------------------------------------------
# 3. Leaks: streams opened and reset in a loop
# --------------------------------------------------------------------------------------------

@sluice_only
class ResetLeaks(Abuse):

    def settle(self, active0, fd0, timeout=10.0):
        srv = self.target.server
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            fds = srv.fd_count()
            if (c[C_ACTIVE] <= active0 and fds <= fd0) or time.monotonic() > deadline:
                return c, fds
            time.sleep(0.05)

    def reset_round(self, n=1000):
        """n streams of /200k.bin (streamed from the file, not cached) over 4 connections,
        in batches of 50: half reset by the client right after its HEADERS (the response is
        queued), half reset by the server (WINDOW_UPDATE 0, §6.9). 250 client resets per
        connection stay far under the Rapid Reset burst (1000)."""
        plan = [('tls', False), ('h2c', False), ('tls', True), ('h2c', True)]
        per = n // len(plan)
        for tr, by_server in plan:
            c = self.target.raw(tr, settings={S_INITIAL_WINDOW_SIZE: 0} if by_server else None)
            c.keep_body = False
            try:
                left = per
                while left:
                    k = min(50, left)
                    sids, out = [], []
                    for _ in range(k):
                        sid = c.new_sid()
                        c.stream(sid)
                        sids.append(sid)
                        out += [request_frame(c, sid, '/200k.bin'),
                                window_update(sid, 0) if by_server else rst_stream(sid, CANCEL)]
                    c.send(b''.join(out))
                    self.assertTrue(c.ping(), 'after %d streams: %s' % (per - left + k,
                                                                       c.frame_summary()))
                    if by_server:
                        self.assertTrue(c.read_until(lambda: all(
                            c.stream(s).rst is not None for s in sids), 5), c.frame_summary())
                    left -= k
                self.assertFalse(c.goaways, c.frame_summary())
            finally:
                c.close()

    def test_1000_reset_streams_leak_nothing(self):
        srv = self.target.server
        deadline = time.monotonic() + 3
        while self.counters()[C_ACTIVE] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)   # the previous tests' connections are closing
        active0 = self.counters()[C_ACTIVE]
        fd0 = srv.fd_count()
        rows = []
        rss = []
        for r in range(3):
            c0 = self.counters()
            self.reset_round(1000)
            c1, fds = self.settle(active0, fd0)
            rss.append(srv.rss_kib())
            rows.append('round %d (%s): requests %+d, connections %+d, active %d (baseline %d), '
                        'fds %d (baseline %d), VmRSS %d KiB'
                        % (r + 1, 'warm-up' if r == 0 else 'measured',
                           delta(c1, c0, C_H2_REQUESTS), delta(c1, c0, C_H2_CONNS),
                           c1[C_ACTIVE], active0, fds, fd0, rss[-1]))
            print('    ' + rows[-1])
            self.assertEqual(delta(c1, c0, C_H2_REQUESTS), 1000, rows[-1])
            self.assertEqual(delta(c1, c0, C_FLOOD), 0, rows[-1])
            self.assertEqual(c1[C_ACTIVE], active0, 'connections left active: ' + rows[-1])
            self.assertLessEqual(fds, fd0, 'fds leaked (%s): %s' % (srv.fd_summary(), rows[-1]))
        growth = rss[-1] - rss[0]
        print('    VmRSS growth after the warm-up round: %+d KiB' % growth)
        if sanitized_binary():
            # ASan's quarantine keeps freed memory resident by design; RSS is asserted on the
            # release build, which runs this same test
            print('    RSS bound not checked: sanitizer build')
            return
        self.assertLess(growth, 2048, 'RSS grew %d KiB over 2 rounds of 1000 reset streams:\n%s'
                        % (growth, '\n'.join(rows)))


if __name__ == '__main__':
    h2util.main()
