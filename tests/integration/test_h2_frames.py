#!/usr/bin/env python3
"""HTTP/2 frame-level conformance (RFC 9113, RFC 7541 HPACK, RFC 9218 priorities), section by
section, over TLS (ALPN h2) and h2c (prior knowledge), each test asserting the exact error
code or behaviour the RFC names:

  §3.4 preface, §6.5 SETTINGS, §5.1 stream states, §5.5/§6.9 flow control, §6.2/§6.10
  HEADERS/CONTINUATION, §8.2-§8.3 field validity and pseudo-headers, RFC 7541 decoding errors,
  request semantics (GET/HEAD/404/redirect/405, bodies), §6.4 RST_STREAM, §6.8 GOAWAY,
  §6.7 PING, §4.2 frame size, §5.5 extensions, §5.3.2 PRIORITY, and sluice's own choices
  (its SETTINGS, 16,375-byte DATA payloads, scheduling, graceful shutdown).

Target: sluice (default) or an external server (SLUICE_H2_EXTERNAL=host:port for h2c,
SLUICE_H2_EXTERNAL_TLS=host:port, SLUICE_H2_ROOT=dir); see h2util.py and
h2_fixture/run-external.sh. Against a reference server, the tests in DEVIATIONS[ref] are
expected to fail (each with its reason); every other test must pass.
"""

import os
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2util  # noqa: E402
from h2util import (  # noqa: E402
    CANCEL, COMPRESSION_ERROR, CONTINUATION, DATA, FLAG_END_HEADERS, FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR, GOAWAY, HEADERS, MAX_WINDOW, NO_ERROR, PING, PREFACE, PRIORITY,
    PROTOCOL_ERROR, REFUSED_STREAM, RST_STREAM, S_ENABLE_PUSH, S_HEADER_TABLE_SIZE,
    S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, S_MAX_FRAME_SIZE, S_NO_RFC7540_PRIORITIES,
    SETTINGS, STREAM_CLOSED, WINDOW_UPDATE, data_frame, frame_bytes, goaway_frame,
    ping_frame, priority_frame, rst_stream, settings_frame, sha256, sluice_only,
    sluice_specific, window_update)

h2util.require()

# Tests expected to fail against a reference server, with the reason (checked: each fails
# for exactly this reason; see the "deviation confirmed" lines of a run).
DEVIATIONS = {
    'nghttpd': {
        'StreamStates.test_decreasing_stream_id':
            'RFC 9113 §5.1.1 wants a connection error PROTOCOL_ERROR; nghttp2 1.52 silently '
            'ignores HEADERS on a lower (implicitly closed) stream id',
        'FlowControl.test_window_update_zero_increment_on_stream':
            'RFC 9113 §6.9 names a stream error (RST_STREAM PROTOCOL_ERROR); nghttp2 1.52 '
            'escalates to GOAWAY PROTOCOL_ERROR',
        'Settings.test_server_max_concurrent_streams_128':
            'sluice-specific: nghttpd advertises SETTINGS_MAX_CONCURRENT_STREAMS=100',
        'Settings.test_server_no_rfc7540_priorities':
            'sluice-specific: nghttpd (without --no-rfc7540-pri) does not send '
            'SETTINGS_NO_RFC7540_PRIORITIES=1',
        'Semantics.test_post_put_405_with_allow':
            'nghttpd answers POST/PUT on a file with 200 and the file',
        'Semantics.test_get_with_body_refused_early':
            'nghttpd waits for the whole request body before answering (no early 413/RST)',
        'Semantics.test_post_with_body_refused_early':
            'nghttpd waits for the whole request body before answering (no early 405/RST)',
        'DataFraming.test_sluice_data_payload_16375':
            'sluice-specific: nghttpd fills DATA frames to MAX_FRAME_SIZE (16384)',
        'Scheduling.test_urgency_0_served_first':
            'sluice-specific: nghttpd (RFC 7540 priorities by default) ignores the priority '
            'header and round-robins the streams',
    },
}
# nghttpd configured like sluice (run-external.sh nghttpd-sluice: -m 128 --no-rfc7540-pri):
# the same nghttp2 1.52 that sluice links, with RFC 9218 priorities on. What differs from
# plain nghttpd tells what sluice must do beyond nghttp2's defaults.
DEVIATIONS['nghttpd-sluice'] = dict(DEVIATIONS['nghttpd'])
for _k in ('Settings.test_server_max_concurrent_streams_128',
           'Settings.test_server_no_rfc7540_priorities', 'Scheduling.test_urgency_0_served_first'):
    del DEVIATIONS['nghttpd-sluice'][_k]
DEVIATIONS['nghttpd-sluice'].update({
    'StreamStates.test_data_on_closed_stream_stream_closed':
        'with NO_RFC7540_PRIORITIES nghttp2 keeps no closed streams, so DATA on a stream it '
        'closed is silently ignored (no GOAWAY STREAM_CLOSED)',
    'StreamStates.test_headers_on_closed_stream_stream_closed':
        'with NO_RFC7540_PRIORITIES nghttp2 keeps no closed streams, so HEADERS on a stream '
        'it closed are silently ignored (no GOAWAY STREAM_CLOSED)',
    'Scheduling.test_small_response_not_stuck_behind_big':
        "nghttp2's RFC 9218 scheduler sends same-urgency non-incremental streams one after "
        'the other: the 1 KiB response waits for all 64 MiB',
})
DEVIATIONS.update({
    # h2o 2.2.5 (Debian 12) has its own HTTP/2 code, older and laxer than nghttp2's
    'h2o': {
        'Preface.test_first_frame_not_settings':
            'h2o answers a PING sent before the client SETTINGS instead of PROTOCOL_ERROR',
        'Settings.test_server_max_concurrent_streams_128':
            'sluice-specific: h2o advertises SETTINGS_MAX_CONCURRENT_STREAMS=100',
        'Settings.test_server_no_rfc7540_priorities':
            'sluice-specific: h2o 2.2 predates RFC 9218 (no SETTINGS_NO_RFC7540_PRIORITIES)',
        'StreamStates.test_decreasing_stream_id':
            'h2o answers GOAWAY STREAM_CLOSED, not PROTOCOL_ERROR (RFC 9113 §5.1.1)',
        'StreamStates.test_data_on_closed_stream_stream_closed':
            'h2o answers RST_STREAM STREAM_CLOSED where §5.1 (closed, after END_STREAM) names '
            'a connection error',
        'HeaderBlocks.test_duplicate_pseudo_header':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_pseudo_header_after_regular':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_unknown_pseudo_header':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_response_pseudo_header_in_request':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_connection_specific_headers':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_te_other_than_trailers':
            'h2o makes malformed requests connection errors (GOAWAY), not RST_STREAM',
        'HeaderBlocks.test_empty_path': 'h2o serves an empty :path (200)',
        'HeaderBlocks.test_uppercase_header_name': 'h2o accepts uppercase field names (200)',
        'HeaderBlocks.test_invalid_characters_in_field':
            'h2o accepts CR/LF/NUL in values and a space in names (200)',
        'Semantics.test_no_authority_nor_host_malformed':
            'h2o serves a request with neither :authority nor host (200)',
        'Semantics.test_get_with_body_refused_early':
            'h2o waits for the whole request body before answering',
        'Semantics.test_post_with_body_refused_early':
            'h2o waits for the whole request body before answering',
        'ResetGoawayPing.test_client_goaway_server_closes_when_done':
            'sluice-specific: h2o keeps the connection open after the client GOAWAY',
        'DataFraming.test_sluice_data_payload_16375':
            'sluice-specific: h2o DATA payloads are 16384 or whatever its buffers hold',
        'Scheduling.test_urgency_0_served_first':
            'sluice-specific: h2o 2.2 ignores the priority header (RFC 9218)',
    },
})


def setUpModule():
    h2util.setup_module_target()


def tearDownModule():
    h2util.teardown_module_target()


class Base(h2util.H2Case):
    transport = 'tls'

    def hold_open(self, path='/1m.bin', extra_settings=None):
        """A connection with SETTINGS_INITIAL_WINDOW_SIZE=0 and one GET of a large file: the
        response HEADERS arrive, its DATA cannot, so the stream stays open
        (half-closed(remote) at the server). Returns (conn, stream id)."""
        s = {S_INITIAL_WINDOW_SIZE: 0}
        s.update(extra_settings or {})
        c = self.raw(settings=s)
        sid = c.get(path)
        self.assertTrue(c.read_until(lambda: c.stream(sid).headers is not None, 5),
                        'no response HEADERS: %s' % c.frame_summary())
        return c, sid


# --------------------------------------------------------------------------------------------
# §3.4 connection preface
# --------------------------------------------------------------------------------------------

class Preface(Base):

    def test_bad_preface_closes(self):
        c = self.raw(handshake=False)
        c.send(b'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n' + settings_frame())
        self.assertTrue(c.read_until_closed(5), 'still open after a bad preface: %s'
                        % c.frame_summary())
        for g in c.goaways:
            self.assertEqual(g.error_code, PROTOCOL_ERROR, c.frame_summary())
        self.assertFalse(c.frames_of(HEADERS) + c.frames_of(DATA))

    def test_first_frame_not_settings(self):
        c = self.raw(handshake=False)
        c.send(PREFACE + ping_frame())
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_server_preface_is_settings(self):
        c = self.raw(handshake=False)
        c.preface()
        self.assertTrue(c.read_until(lambda: c.frames, 5), 'nothing from the server')
        f = c.frames[0]
        self.assertEqual(f.type, SETTINGS, c.frame_summary())
        self.assertNotIn('ACK', f.flags)
        self.assertEqual(f.stream_id, 0)

    def test_preface_in_pieces(self):
        # the preface and SETTINGS dribbled one byte at a time still make a connection
        c = self.raw(handshake=False)
        data = PREFACE + settings_frame({S_ENABLE_PUSH: 0})
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.001)
        self.assertTrue(c.read_until(lambda: c.settings_acks >= 1, 5), c.frame_summary())
        self.assertStillWorks(c)


class PrefaceH2c(Preface):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §6.5 SETTINGS
# --------------------------------------------------------------------------------------------

class Settings(Base):

    def test_enable_push_0_and_1_accepted(self):
        c = self.raw(settings={S_ENABLE_PUSH: 0})
        c.send(settings_frame({S_ENABLE_PUSH: 1}))
        self.assertTrue(c.read_until(lambda: c.settings_acks >= 2, 5), c.frame_summary())
        c.send(settings_frame({S_ENABLE_PUSH: 0}))
        self.assertTrue(c.read_until(lambda: c.settings_acks >= 3, 5), c.frame_summary())
        self.assertStillWorks(c)

    def test_enable_push_2_protocol_error(self):
        c = self.raw(handshake=False)
        c.preface({S_ENABLE_PUSH: 2})
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_initial_window_size_above_max_flow_control_error(self):
        c = self.raw(handshake=False)
        c.preface({S_INITIAL_WINDOW_SIZE: 2 ** 31})
        self.assertConnectionError(c, FLOW_CONTROL_ERROR)

    def test_initial_window_size_max_accepted(self):
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        self.assertStillWorks(c)

    def test_max_frame_size_below_16384_protocol_error(self):
        c = self.raw(handshake=False)
        c.preface({S_MAX_FRAME_SIZE: 16383})
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_max_frame_size_above_2_24_protocol_error(self):
        c = self.raw(handshake=False)
        c.preface({S_MAX_FRAME_SIZE: 2 ** 24})
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_max_frame_size_bounds_accepted(self):
        for v in (16384, 2 ** 24 - 1):
            c = self.raw(settings={S_MAX_FRAME_SIZE: v})
            self.assertStillWorks(c, msg='MAX_FRAME_SIZE %d' % v)

    def test_unknown_setting_ignored(self):
        c = self.raw(settings=[(0x99, 12345), (0xfff0, 0xffffffff)])
        self.assertStillWorks(c)

    def test_settings_ack_with_payload_frame_size_error(self):
        c = self.raw()
        c.send(frame_bytes(SETTINGS, 0x1, 0, struct.pack('>HI', S_ENABLE_PUSH, 0)))
        self.assertConnectionError(c, FRAME_SIZE_ERROR)

    def test_settings_length_not_multiple_of_6_frame_size_error(self):
        c = self.raw()
        c.send(frame_bytes(SETTINGS, 0, 0, b'\0\x02\0\0\0\0\0'))
        self.assertConnectionError(c, FRAME_SIZE_ERROR)

    def test_settings_on_stream_protocol_error(self):
        c = self.raw()
        c.send(settings_frame({S_ENABLE_PUSH: 0}, stream_id=1))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_server_acks_our_settings(self):
        c = self.raw(handshake=False)
        c.preface({S_ENABLE_PUSH: 0, S_INITIAL_WINDOW_SIZE: 100000})
        self.assertTrue(c.read_until(lambda: c.settings_acks >= 1, 5), c.frame_summary())
        acks = [f for f in c.frames_of(SETTINGS) if 'ACK' in f.flags]
        self.assertEqual(acks[0].length, 0)
        # an empty SETTINGS is acknowledged too, once per frame
        c.send(settings_frame(), settings_frame())
        self.assertTrue(c.read_until(lambda: c.settings_acks >= 3, 5), c.frame_summary())

    def test_server_settings_valid(self):
        c = self.raw()
        s = c.server_settings
        if S_ENABLE_PUSH in s:
            self.assertIn(s[S_ENABLE_PUSH], (0,), 'a server must not send ENABLE_PUSH=1')
        if S_MAX_FRAME_SIZE in s:
            self.assertTrue(16384 <= s[S_MAX_FRAME_SIZE] <= 2 ** 24 - 1, s)
        if S_INITIAL_WINDOW_SIZE in s:
            self.assertLessEqual(s[S_INITIAL_WINDOW_SIZE], MAX_WINDOW, s)

    @sluice_specific
    def test_server_max_concurrent_streams_128(self):
        c = self.raw()
        self.assertEqual(c.server_settings.get(S_MAX_CONCURRENT_STREAMS),
                         h2util.SLUICE_MAX_CONCURRENT_STREAMS, c.server_settings)

    @sluice_specific
    def test_server_no_rfc7540_priorities(self):
        c = self.raw()
        self.assertEqual(c.server_settings.get(S_NO_RFC7540_PRIORITIES), 1, c.server_settings)


class SettingsH2c(Settings):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §5.1 stream states and identifiers
# --------------------------------------------------------------------------------------------

class StreamStates(Base):

    def test_headers_on_even_stream_protocol_error(self):
        c = self.raw()
        c.get('/small.txt', sid=2)
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_decreasing_stream_id(self):
        # §5.1.1: a new stream id lower than one already used is a PROTOCOL_ERROR
        c = self.raw()
        c.get('/small.txt', sid=5)
        self.assertEqual(c.wait_stream(5).status, 200)
        c.get('/small.txt', sid=3)
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_data_on_idle_stream_protocol_error(self):
        c = self.raw()
        c.send(data_frame(1, b'x'))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_data_on_half_closed_remote_stream_closed(self):
        # the request ended (END_STREAM) but the response is still flowing: a stream error
        # STREAM_CLOSED (§5.1, half-closed (remote)); a connection error is allowed (§5.4.1)
        c, sid = self.hold_open()
        c.send(data_frame(sid, b'x'))
        self.assertStreamError(c, sid, STREAM_CLOSED, allow_connection_error=True)

    def test_data_on_closed_stream_stream_closed(self):
        c = self.raw()
        sid = c.get('/small.txt')
        self.assertTrue(c.wait_stream(sid).ended)
        c.send(data_frame(sid, b'x'))
        self.assertConnectionError(c, STREAM_CLOSED)

    def test_headers_on_closed_stream_stream_closed(self):
        c = self.raw()
        sid = c.get('/small.txt')
        self.assertTrue(c.wait_stream(sid).ended)
        c.get('/small.txt', sid=sid)
        self.assertConnectionError(c, STREAM_CLOSED)

    def test_window_update_on_half_closed_remote_ok(self):
        c, sid = self.hold_open()
        c.send(window_update(sid, 1000))
        self.assertTrue(c.read_until(lambda: c.stream(sid).flow >= 1000, 5), c.frame_summary())
        self.assertIsNone(c.stream(sid).rst)
        self.assertFalse(c.goaways)
        self.assertTrue(c.ping())

    def test_priority_on_closed_stream_ok(self):
        c = self.raw()
        sid = c.get('/small.txt')
        self.assertTrue(c.wait_stream(sid).ended)
        c.send(priority_frame(sid, 0, 20))
        self.assertStillWorks(c)

    def test_rst_stream_on_idle_stream_protocol_error(self):
        c = self.raw()
        c.send(rst_stream(1, CANCEL))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_rst_stream_on_open_stream_then_more_frames_ignored(self):
        # after our RST_STREAM, a WINDOW_UPDATE / PRIORITY / RST on that stream is harmless
        c, sid = self.hold_open()
        c.send(rst_stream(sid, CANCEL))
        c.send(window_update(sid, 100), priority_frame(sid, 0, 1), rst_stream(sid, CANCEL))
        self.assertStillWorks(c, window=1000)
        self.assertEqual(c.stream(sid).flow, 0, 'DATA after our RST_STREAM')

    def test_exceeding_max_concurrent_streams(self):
        # §5.1.2: over the advertised limit -> RST_STREAM REFUSED_STREAM (or PROTOCOL_ERROR,
        # as a stream or connection error)
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: 0})
        limit = c.server_settings.get(S_MAX_CONCURRENT_STREAMS)
        self.assertIsNotNone(limit, 'no SETTINGS_MAX_CONCURRENT_STREAMS: %r'
                             % c.server_settings)
        self.assertLessEqual(limit, 1000)
        sids = [c.get('/1m.bin') for _ in range(limit)]
        self.assertTrue(c.read_until(lambda: all(c.stream(s).headers for s in sids), 10),
                        '%d streams open? %s' % (limit, c.frame_summary()))
        extra = c.get('/1m.bin')
        c.wait_error(extra, 5)
        s = c.stream(extra)
        if s.rst is not None:
            self.assertIn(s.rst, (REFUSED_STREAM, PROTOCOL_ERROR), c.frame_summary())
            self.assertIsNone(s.headers, 'the refused stream got a response')
            # the streams within the limit are intact
            self.assertTrue(all(c.stream(x).rst is None for x in sids), c.frame_summary())
            self.assertTrue(c.ping())
        else:
            self.assertTrue(c.goaways, 'stream %d over the limit %d was accepted: %s'
                            % (extra, limit, c.frame_summary()))
            self.assertEqual(c.goaways[0].error_code, PROTOCOL_ERROR, c.frame_summary())
            self.assertLess(c.goaways[0].last_stream_id, extra)

    def test_closed_streams_free_their_slot(self):
        # many more sequential streams than the limit, each finished before the next
        c = self.raw()
        c.auto_window = True
        limit = c.server_settings.get(S_MAX_CONCURRENT_STREAMS, 100)
        for i in range(0, limit + 20, 10):
            sids = [c.get('/small.txt') for _ in range(10)]
            for sid in sids:
                s = c.wait_stream(sid)
                self.assertEqual(s.status, 200, '%r %s' % (s, c.frame_summary()))
        self.assertFalse(c.goaways)


class StreamStatesH2c(StreamStates):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §5.2 / §6.9 flow control
# --------------------------------------------------------------------------------------------

class FlowControl(Base):

    def test_stream_window_overflow_flow_control_error(self):
        c, sid = self.hold_open()
        c.send(window_update(sid, MAX_WINDOW), window_update(sid, MAX_WINDOW))
        self.assertStreamError(c, sid, FLOW_CONTROL_ERROR)

    def test_connection_window_overflow_flow_control_error(self):
        c = self.raw()
        c.send(window_update(0, MAX_WINDOW))   # 65535 + 2^31-1 > 2^31-1
        self.assertConnectionError(c, FLOW_CONTROL_ERROR)

    def test_window_update_zero_increment_on_stream(self):
        c, sid = self.hold_open()
        c.send(window_update(sid, 0))
        self.assertStreamError(c, sid, PROTOCOL_ERROR)

    def test_window_update_zero_increment_on_connection(self):
        c = self.raw()
        c.send(window_update(0, 0))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_window_update_bad_length_frame_size_error(self):
        c = self.raw()
        c.send(frame_bytes(WINDOW_UPDATE, 0, 0, b'\0\0\0\x01\0'))
        self.assertConnectionError(c, FRAME_SIZE_ERROR)

    def test_zero_window(self):
        # INITIAL_WINDOW_SIZE 0: the response HEADERS come, no DATA until a WINDOW_UPDATE,
        # then exactly the window's worth
        c, sid = self.hold_open()
        s = c.stream(sid)
        self.assertEqual(s.status, 200, repr(s))
        c.read_for(0.4)
        self.assertEqual(s.flow, 0, 'DATA with a zero window: %s' % c.frame_summary())
        c.send(window_update(sid, 1000))
        c.read_until(lambda: s.flow >= 1000, 5)
        c.read_for(0.3)
        self.assertEqual(s.flow, 1000, c.frame_summary())
        c.send(window_update(sid, 5000))
        c.read_until(lambda: s.flow >= 6000, 5)
        c.read_for(0.3)
        self.assertEqual(s.flow, 6000, c.frame_summary())
        self.assertEqual(bytes(s.body), self.expected('1m.bin')[:6000])
        self.assertFalse(s.ended)

    def test_initial_window_size_change_applies_to_open_streams(self):
        # §6.9.2: a new INITIAL_WINDOW_SIZE adjusts open streams, even below zero
        c, sid = self.hold_open()
        s = c.stream(sid)
        c.send(settings_frame({S_INITIAL_WINDOW_SIZE: 3000}))
        c.read_until(lambda: s.flow >= 3000, 5)
        c.read_for(0.3)
        self.assertEqual(s.flow, 3000, c.frame_summary())
        c.send(settings_frame({S_INITIAL_WINDOW_SIZE: 1000}))   # window now 1000-3000 = -2000
        c.read_until(lambda: c.settings_acks >= 3, 5)
        c.send(window_update(sid, 2500))                          # -> 500
        c.read_until(lambda: s.flow >= 3500, 5)
        c.read_for(0.3)
        self.assertEqual(s.flow, 3500, c.frame_summary())
        self.assertEqual(bytes(s.body), self.expected('1m.bin')[:3500])

    def test_connection_window_limits_all_streams(self):
        # stream windows huge, connection window the default 65535: at most 65535 bytes in
        # total (and not stalled far below it), then at most 100000 more after a
        # connection WINDOW_UPDATE
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        sids = [c.get('/1m.bin') for _ in range(3)]

        def total():
            return sum(c.stream(x).flow for x in sids)
        c.read_until(lambda: total() >= 65535, 5)
        c.read_for(0.3)
        self.assertLessEqual(total(), 65535, c.frame_summary())
        self.assertGreater(total(), 65535 - 16384, c.frame_summary())
        c.send(window_update(0, 100000))
        c.read_until(lambda: total() >= 165535, 5)
        c.read_for(0.3)
        self.assertLessEqual(total(), 165535, c.frame_summary())
        self.assertGreater(total(), 165535 - 16384, c.frame_summary())

    def test_never_more_data_than_the_window(self):
        # small, irregular window increments on two streams and the connection; at every
        # DATA frame the bytes received stay within what was granted
        rnd = random.Random(9113)
        iws = 4000
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: iws})
        c.keep_body = True
        sids = [c.get('/200k.bin'), c.get('/1m.bin')]
        granted = {sid: iws for sid in sids}
        conn_granted = [65535]
        violations = []
        orig = c._on_frame

        def check(f):
            orig(f)
            if f.type == DATA:
                s = c.stream(f.stream_id)
                if s.flow > granted.get(f.stream_id, 0):
                    violations.append('stream %d: %d > %d' % (f.stream_id, s.flow,
                                                              granted[f.stream_id]))
                total = sum(c.stream(x).flow for x in sids)
                if total > conn_granted[0]:
                    violations.append('connection: %d > %d' % (total, conn_granted[0]))
        c._on_frame = check
        deadline = time.monotonic() + 30
        while not all(c.stream(x).done for x in sids) and time.monotonic() < deadline:
            c.read_for(0.002)
            if c.eof or c.goaways:
                break
            out = []
            total = sum(c.stream(x).flow for x in sids)
            if conn_granted[0] - total < 8000:
                inc = rnd.randint(1, 60000)
                conn_granted[0] += inc
                out.append(window_update(0, inc))
            for sid in sids:
                s = c.stream(sid)
                if not s.done and granted[sid] - s.flow < 3000:
                    inc = rnd.randint(1, 30000)
                    granted[sid] += inc
                    out.append(window_update(sid, inc))
            if out:
                c.send(*out)
        self.assertEqual(violations[:5], [])
        for sid, rel in zip(sids, ('200k.bin', '1m.bin')):
            s = c.stream(sid)
            self.assertTrue(s.ended, '%r %s' % (s, c.frame_summary()))
            self.assertEqual(sha256(bytes(s.body)), h2util.file_sha256(self.target.root, rel))


class FlowControlH2c(FlowControl):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §6.2 HEADERS, §6.10 CONTINUATION, §8.2-§8.3 fields, RFC 7541 HPACK
# --------------------------------------------------------------------------------------------

class HeaderBlocks(Base):

    def block(self, c, path='/small.txt', extra=(), huffman=True):
        return c.encode(c.request_headers(path, extra=extra), huffman=huffman)

    def test_continuation_without_headers_protocol_error(self):
        c = self.raw()
        c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS, 1, self.block(c)))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_frame_between_headers_and_continuation_protocol_error(self):
        c = self.raw()
        b = self.block(c)
        c.send_headers(1, b[:3], end_headers=False)
        c.send(ping_frame())
        c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS, 1, b[3:]))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_continuation_on_other_stream_protocol_error(self):
        c = self.raw()
        b = self.block(c)
        c.send_headers(1, b[:3], end_headers=False)
        c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS, 3, b[3:]))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_unknown_frame_inside_header_block_protocol_error(self):
        # §5.5: extension frames are not permitted in the middle of a field block
        c = self.raw()
        b = self.block(c)
        c.send_headers(1, b[:3], end_headers=False)
        c.send(frame_bytes(0x42, 0, 0, b'x'))
        c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS, 1, b[3:]))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_header_block_over_many_continuations(self):
        # HEADERS + 7 CONTINUATIONs (nghttp2 >= 1.61 and Debian's 1.52 fix for CVE-2024-28182
        # refuse more than 8 CONTINUATIONs per block, so "many" stays at 7 here)
        c = self.raw()
        b = self.block(c, extra=[('x-filler', 'f' * 300), ('user-agent', 'h2-tests')],
                       huffman=False)
        n = 8
        step = -(-len(b) // n)
        parts = [b[i:i + step] for i in range(0, len(b), step)]
        self.assertEqual(len(parts), n)
        c.send_headers(1, parts[0], end_headers=False)
        for i, p in enumerate(parts[1:]):
            last = i == len(parts) - 2
            c.send(frame_bytes(CONTINUATION, FLAG_END_HEADERS if last else 0, 1, p))
        s = c.wait_stream(1)
        self.assertEqual(s.status, 200, c.frame_summary())
        self.assertEqual(bytes(s.body), self.expected('small.txt'))

    def test_continuation_flood_is_bounded(self):
        # a field block that never ends (2 MiB in 2048 CONTINUATIONs without END_HEADERS)
        # must not be buffered without bound: the server ends the connection (a GOAWAY of
        # any code, or a close) or at least stops reading it
        c = self.raw()
        c.send_headers(1, self.block(c), end_headers=False)
        c.sock.settimeout(5)
        field = b'\x00\x05x-pad\x7f\xe9\x06' + b'v' * 1000   # x-pad: 1000 x 'v'
        chunk = b''.join(frame_bytes(CONTINUATION, 0, 1, field) for _ in range(64))
        for _ in range(32):
            c.send(chunk)
            if c.send_error:
                break
        c.read_until(lambda: c.goaways or c.eof, 5)
        self.assertTrue(c.goaways or c.eof or c.send_error,
                        'server still reading an endless field block: %s' % c.frame_summary())
        self.assertFalse(c.frames_of(HEADERS), c.frame_summary())

    def bad_request(self, headers, code=PROTOCOL_ERROR, msg=''):
        c = self.raw()
        c.send_headers(1, headers)
        self.assertStreamError(c, 1, code, msg=msg)
        self.assertIsNone(c.stream(1).headers, 'a response to a malformed request: %r'
                          % c.stream(1))
        return c

    def H(self, path='/small.txt'):
        scheme = 'https' if self.transport == 'tls' else 'http'
        return [(':method', 'GET'), (':scheme', scheme), (':path', path),
                (':authority', 'localhost')]

    def test_missing_method(self):
        self.bad_request(self.H()[1:])

    def test_missing_scheme(self):
        h = self.H()
        self.bad_request([h[0]] + h[2:])

    def test_missing_path(self):
        h = self.H()
        self.bad_request(h[:2] + h[3:])

    def test_empty_path(self):
        h = self.H()
        h[2] = (':path', '')
        self.bad_request(h)

    def test_duplicate_pseudo_header(self):
        for dup in ((':path', '/small.txt'), (':method', 'GET'), (':scheme', 'https')):
            self.bad_request(self.H() + [dup], msg='duplicate %s' % dup[0])

    def test_pseudo_header_after_regular(self):
        h = self.H()
        self.bad_request(h[:3] + [('accept', '*/*'), h[3]])

    def test_unknown_pseudo_header(self):
        self.bad_request(self.H() + [(':foo', 'bar')])

    def test_response_pseudo_header_in_request(self):
        self.bad_request(self.H() + [(':status', '200')])

    def test_connection_specific_headers(self):
        for name, value in (('connection', 'keep-alive'), ('keep-alive', 'timeout=5'),
                            ('proxy-connection', 'keep-alive'),
                            ('transfer-encoding', 'chunked'), ('upgrade', 'h2c')):
            self.bad_request(self.H() + [(name, value)], msg=name)

    def test_uppercase_header_name(self):
        self.bad_request(self.H() + [('X-Upper', 'x')])
        self.bad_request(self.H() + [('Accept', '*/*')])

    def test_te_other_than_trailers(self):
        for v in ('gzip', 'trailers, deflate', 'chunked'):
            self.bad_request(self.H() + [('te', v)], msg='te: %s' % v)

    def test_te_trailers_accepted(self):
        c = self.raw()
        c.send_headers(1, self.H() + [('te', 'trailers')])
        s = c.wait_stream(1)
        self.assertEqual(s.status, 200, c.frame_summary())

    def test_invalid_characters_in_field(self):
        # §8.2.1: NUL, CR or LF in a value, or a space in a name -> malformed
        for h in (('x-a', 'a\r\nb: c'), ('x-a', 'a\0b'), ('x a', 'b')):
            self.bad_request(self.H() + [h], msg=repr(h))

    def test_hpack_invalid_index_compression_error(self):
        c = self.raw()
        c.send_headers(1, b'\x82\x87\x84\xbe')   # 0xbe: index 62, the dynamic table is empty
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_index_zero_compression_error(self):
        c = self.raw()
        c.send_headers(1, b'\x80')
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_bad_huffman_compression_error(self):
        # a literal whose Huffman string contains EOS (30 one-bits)
        c = self.raw()
        c.send_headers(1, self.block(c) + b'\x00\x84\xff\xff\xff\xff\x01a')
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_bad_huffman_padding_compression_error(self):
        # padding that is not a prefix of EOS (zero bits)
        c = self.raw()
        c.send_headers(1, self.block(c) + b'\x00\x81\x00\x01a')
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_table_size_update_above_setting_compression_error(self):
        c = self.raw()
        limit = c.server_settings.get(S_HEADER_TABLE_SIZE, 4096)
        size = max(limit, 4096) * 2 + 1
        self.assertLess(size, 2 ** 21)
        c.send_headers(1, encode_int(size, 5, 0x20) + self.block(c))
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_table_size_update_after_field_compression_error(self):
        # RFC 7541 §4.2: a size update must come at the start of the block
        c = self.raw()
        c.send_headers(1, self.block(c) + b'\x20')
        self.assertConnectionError(c, COMPRESSION_ERROR)

    def test_hpack_table_size_update_within_setting_ok(self):
        c = self.raw()
        c.send_headers(1, b'\x20' + self.block(c))   # size 0: allowed
        s = c.wait_stream(1)
        self.assertEqual(s.status, 200, c.frame_summary())

    def test_hpack_dynamic_table_across_requests(self):
        # the same headers again, now from the dynamic table
        c = self.raw()
        for _ in range(5):
            sid = c.get('/small.txt', extra=[('user-agent', 'h2-tests/1'), ('x-same', 'v')])
            s = c.wait_stream(sid)
            self.assertEqual(s.status, 200, c.frame_summary())
            self.assertIsNone(s.decode_error)

    def test_headers_padding_longer_than_payload_protocol_error(self):
        c = self.raw()
        b = self.block(c)
        c.send(frame_bytes(HEADERS, 0x1 | 0x4 | 0x8, 1, bytes([len(b) + 1]) + b))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_headers_padding_accepted(self):
        c = self.raw()
        c.send_headers(1, self.block(c), padding=255)
        self.assertEqual(c.wait_stream(1).status, 200, c.frame_summary())

    def test_headers_depending_on_itself_protocol_error(self):
        # RFC 9113 §5.3.1 keeps this rule: a stream error (or, §5.4.1, a connection error)
        c = self.raw()
        c.send_headers(1, self.block(c), priority=(1, 15))
        self.assertStreamError(c, 1, PROTOCOL_ERROR, allow_connection_error=True)


def encode_int(value, prefix_bits, first_byte_flags):
    """RFC 7541 §5.1 integer with a prefix."""
    mx = (1 << prefix_bits) - 1
    if value < mx:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | mx]
    value -= mx
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class HeaderBlocksH2c(HeaderBlocks):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# Request semantics (RFC 9113 §8, RFC 9110) through python3-h2's H2Connection
# --------------------------------------------------------------------------------------------

class Semantics(Base):

    def test_get_files(self):
        c = self.client()
        for rel in ('small.txt', '1k.bin', '200k.bin', '1m.bin'):
            r = c.get('/' + rel)
            want = self.expected(rel)
            self.assertEqual(r.status, 200, repr(r))
            self.assertTrue(r.ended, repr(r))
            self.assertEqual(r.header('content-length'), str(len(want)), repr(r))
            self.assertEqual(sha256(r.body), sha256(want), rel)

    def test_get_many_concurrent_streams(self):
        c = self.client()
        rels = ['small.txt', '1k.bin', '200k.bin', 'f.txt'] * 8
        sids = [c.request('/' + rel) for rel in rels]
        rs = c.wait(sids, 30)
        for rel, r in zip(rels, rs):
            self.assertEqual(r.status, 200, repr(r))
            self.assertEqual(r.body, self.expected(rel), rel)

    def test_head(self):
        c = self.raw()
        sid = c.get('/1m.bin', method='HEAD')
        s = c.wait_stream(sid)
        self.assertEqual(s.status, 200, repr(s))
        self.assertTrue(s.ended)
        self.assertEqual(s.header('content-length'), str(h2util.MID_SIZE), repr(s))
        self.assertEqual(sum(s.data_sizes), 0, 'HEAD response carried DATA')
        self.assertStillWorks(c)

    def test_404(self):
        c = self.client()
        r = c.get('/no-such-file')
        self.assertEqual(r.status, 404, repr(r))
        self.assertTrue(r.ended)
        cl = r.header('content-length')
        if cl is not None:
            self.assertEqual(int(cl), len(r.body))

    def test_directory_without_slash_redirects(self):
        c = self.client()
        r = c.get('/dir')
        self.assertIn(r.status, (301, 308), repr(r))
        loc = r.header('location')
        self.assertIsNotNone(loc, repr(r))
        self.assertTrue(loc == '/dir/' or loc.endswith('://localhost/dir/') or
                        loc.endswith('/dir/'), loc)
        r = c.get('/dir/')
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.body, self.expected('dir/index.html'))

    def test_authority_used_like_host(self):
        c = self.client()
        # :authority alone
        r = c.get('/small.txt', authority='h2.example:8443')
        self.assertEqual(r.status, 200, repr(r))
        # a host header instead of :authority (RFC 9113 §8.3.1)
        r = c.get('/small.txt', authority=None, headers=[('host', 'localhost')])
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.body, self.expected('small.txt'))
        # an absolute redirect names the request's authority
        r = c.get('/dir', authority='h2.example:8443')
        self.assertIn(r.status, (301, 308), repr(r))
        loc = r.header('location', '')
        if '://' in loc:
            self.assertEqual(loc.split('://', 1)[1], 'h2.example:8443/dir/', loc)
        else:
            self.assertEqual(loc, '/dir/')

    def test_no_authority_nor_host_malformed(self):
        # §8.3.1: http(s) requests must carry :authority or host; malformed -> RST_STREAM
        # PROTOCOL_ERROR (a 400 response is also accepted)
        c = self.raw()
        scheme = 'https' if self.transport == 'tls' else 'http'
        c.send_headers(1, [(':method', 'GET'), (':scheme', scheme), (':path', '/small.txt')])
        s = c.wait_stream(1)
        if s.rst is not None and s.headers is None:
            self.assertEqual(s.rst, PROTOCOL_ERROR, c.frame_summary())
        else:
            self.assertEqual(s.status, 400, '%r %s' % (s, c.frame_summary()))

    def test_post_put_405_with_allow(self):
        c = self.client()
        for m in ('POST', 'PUT', 'DELETE'):
            r = c.get('/small.txt', method=m)
            self.assertEqual(r.status, 405, '%s: %r' % (m, r))
            allow = [x.strip() for x in (r.header('allow') or '').split(',')]
            self.assertIn('GET', allow, repr(r))
            self.assertIn('HEAD', allow, repr(r))

    def refused_early(self, method):
        # HEADERS without END_STREAM + part of a declared body: the server must answer (a 4xx
        # response, or RST_STREAM) without waiting for the rest
        c = self.raw()
        sid = c.get('/small.txt', method=method, end_stream=False,
                    extra=[('content-length', '100000'), ('content-type', 'text/plain')])
        c.send(data_frame(sid, b'x' * 1000))
        s = c.stream(sid)
        c.read_until(lambda: s.rst is not None or s.headers is not None or c.goaways or
                     c.eof, 3)
        self.assertTrue(s.rst is not None or s.headers is not None,
                        'no answer within 3s to a request whose body is incomplete: %s'
                        % c.frame_summary())
        if s.headers is not None:
            self.assertIn(s.status, (400, 405, 411, 413), repr(s))
        self.assertFalse([g for g in c.goaways if g.error_code != NO_ERROR], c.frame_summary())
        return c, s

    def test_get_with_body_refused_early(self):
        c, s = self.refused_early('GET')
        if s.headers is not None:
            self.assertIn(s.status, (400, 413), repr(s))

    def test_post_with_body_refused_early(self):
        c, s = self.refused_early('POST')
        if s.headers is not None:
            self.assertIn(s.status, (405, 413), repr(s))

    def test_response_headers_are_lowercase_and_valid(self):
        # H2Client's H2Connection validates inbound headers; check explicitly as well
        c = self.raw()
        sid = c.get('/200k.bin')
        c.auto_window = True
        s = c.wait_stream(sid)
        self.assertEqual(s.status, 200)
        for k, v in s.headers:
            self.assertEqual(k, k.lower(), k)
            self.assertNotIn(k, ('connection', 'keep-alive', 'transfer-encoding', 'upgrade',
                                 'proxy-connection'), 'connection-specific header in h2')
        self.assertEqual(s.headers[0][0], ':status', 'pseudo-header first')


class SemanticsH2c(Semantics):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §6.4 RST_STREAM, §6.8 GOAWAY, §6.7 PING
# --------------------------------------------------------------------------------------------

class ResetGoawayPing(Base):

    def test_client_rst_stops_data(self):
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        c.send(window_update(0, MAX_WINDOW - 65535))
        c.keep_body = False
        sid = c.get('/64m.bin')
        s = c.stream(sid)
        self.assertTrue(c.read_until(lambda: s.flow >= 1 << 20, 10), c.frame_summary())
        c.send(rst_stream(sid, CANCEL))
        at_rst = s.flow
        self.assertTrue(c.ping(timeout=10), c.frame_summary())
        c.read_for(0.5)
        after = s.flow - at_rst
        self.assertFalse(s.ended, 'the whole 64 MiB arrived despite RST_STREAM')
        self.assertLess(after, 24 << 20, 'DATA kept flowing after RST_STREAM (%d bytes)'
                        % after)
        self.assertFalse(c.goaways, c.frame_summary())
        c.keep_body = True
        c.auto_window = True
        self.assertStillWorks(c, '/200k.bin')

    def client_goaway(self):
        # windows opened up front: after its GOAWAY the client sends nothing more (a
        # WINDOW_UPDATE arriving after the server closed would make the kernel reset the
        # connection and drop the response's tail)
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        c.send(window_update(0, MAX_WINDOW - 65535))
        sid = c.get('/1m.bin')
        c.send(goaway_frame(0, NO_ERROR))
        s = c.wait_stream(sid, 20)
        self.assertTrue(s.ended, '%r %s' % (s, c.frame_summary()))
        self.assertEqual(sha256(bytes(s.body)), h2util.file_sha256(self.target.root, '1m.bin'))
        return c

    def test_client_goaway_in_flight_stream_completes(self):
        # §6.8: our GOAWAY (last-stream-id 0: we accept no pushes) does not cancel the
        # requests we sent
        c = self.client_goaway()
        c.read_for(0.2)
        for g in c.goaways:
            self.assertEqual(g.error_code, NO_ERROR, c.frame_summary())

    @sluice_specific
    def test_client_goaway_server_closes_when_done(self):
        # both sides said GOAWAY and no stream is left: the server closes the connection
        c = self.client_goaway()
        self.assertTrue(c.read_until_closed(5), 'connection kept open after both sides are '
                        'done following our GOAWAY: %s' % c.frame_summary())
        for g in c.goaways:
            self.assertEqual(g.error_code, NO_ERROR, c.frame_summary())

    def test_ping_ack_same_payload(self):
        c = self.raw()
        for data in (b'\0' * 8, b'12345678', bytes(range(250, 256)) + b'\xff\x00'):
            c.send(ping_frame(data))
            self.assertTrue(c.read_until(lambda: data in c.ping_acks, 5), c.frame_summary())
        acks = c.frames_of(PING)
        self.assertTrue(all('ACK' in f.flags and f.stream_id == 0 and f.length == 8
                            for f in acks), c.frame_summary())

    def test_ping_ack_from_client_not_answered(self):
        c = self.raw()
        c.send(ping_frame(b'unasked!', ack=True))
        c.read_for(0.3)
        self.assertFalse(c.frames_of(PING), 'a PING ACK was answered: %s' % c.frame_summary())
        self.assertFalse(c.goaways)
        self.assertTrue(c.ping())

    def test_ping_bad_length_frame_size_error(self):
        for n in (7, 9):
            c = self.raw()
            c.send(frame_bytes(PING, 0, 0, b'x' * n))
            self.assertConnectionError(c, FRAME_SIZE_ERROR, msg='length %d' % n)

    def test_ping_on_stream_protocol_error(self):
        c = self.raw()
        c.send(ping_frame(b'12345678', stream_id=1))
        self.assertConnectionError(c, PROTOCOL_ERROR)

    def test_rst_stream_bad_length_frame_size_error(self):
        c, sid = self.hold_open()
        c.send(frame_bytes(RST_STREAM, 0, sid, b'\0\0\0\0\0'))
        self.assertConnectionError(c, FRAME_SIZE_ERROR)

    def test_goaway_on_stream_protocol_error(self):
        c = self.raw()
        c.send(frame_bytes(GOAWAY, 0, 1, struct.pack('>II', 0, 0)))
        self.assertConnectionError(c, PROTOCOL_ERROR)


class ResetGoawayPingH2c(ResetGoawayPing):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# §4.2 frame size, §5.5 extensions, §5.3.2 PRIORITY, RFC 9218
# --------------------------------------------------------------------------------------------

class FramesAndExtensions(Base):

    def test_frame_over_max_frame_size_frame_size_error(self):
        c = self.raw()
        mfs = c.server_settings.get(S_MAX_FRAME_SIZE, 16384)
        b = c.encode(c.request_headers('/small.txt', extra=[('x-big', 'a' * (mfs + 100))]),
                     huffman=False)
        self.assertGreater(len(b), mfs)
        c.send(frame_bytes(HEADERS, 0x5, 1, b))
        self.assertConnectionError(c, FRAME_SIZE_ERROR)

    def test_unknown_frame_types_ignored(self):
        c = self.raw()
        c.send(frame_bytes(0x42, 0xff, 0, b'junk'), frame_bytes(0xfa, 0, 1, b'more junk'),
               frame_bytes(0x0b, 0, 0, b''), frame_bytes(0xff, 0x1, 7, b'\0' * 100))
        self.assertStillWorks(c)
        self.assertFalse(c.goaways)

    def test_unknown_flags_ignored(self):
        c = self.raw()
        c.send(frame_bytes(PING, 0xfe, 0, b'12345678'))
        self.assertTrue(c.read_until(lambda: b'12345678' in c.ping_acks, 5), c.frame_summary())
        c.send_headers(1, c.request_headers('/small.txt'), flags=0x40 | 0x80 | 0x02 | 0x10)
        s = c.wait_stream(1)
        self.assertEqual(s.status, 200, c.frame_summary())
        c.send(frame_bytes(SETTINGS, 0xf0, 0, b''), frame_bytes(WINDOW_UPDATE, 0xff, 0,
                                                                struct.pack('>I', 10)))
        self.assertStillWorks(c)

    def test_priority_frames_ignored(self):
        c = self.raw()
        c.send(priority_frame(7, 0, 200), priority_frame(9, 7, 10, exclusive=True),
               priority_frame(1, 0, 255))
        self.assertStillWorks(c)
        self.assertFalse(c.goaways)
        # a stream announced by PRIORITY can still be opened (§5.1: it stays idle)
        c.get('/small.txt', sid=11)
        self.assertEqual(c.wait_stream(11).status, 200, c.frame_summary())

    def test_priority_bad_length_frame_size_error(self):
        c = self.raw()
        c.send(frame_bytes(PRIORITY, 0, 1, b'\0\0\0\0'))
        self.assertStreamError(c, 1, FRAME_SIZE_ERROR, allow_connection_error=True)

    def test_priority_update_frame_accepted(self):
        # RFC 9218 §7.1 PRIORITY_UPDATE (type 0x10) on stream 0, for an idle and an open stream
        c = self.raw()
        c.send(frame_bytes(h2util.PRIORITY_UPDATE, 0, 0, struct.pack('>I', 1) + b'u=1, i'))
        c.get('/small.txt', sid=1)
        c.send(frame_bytes(h2util.PRIORITY_UPDATE, 0, 0, struct.pack('>I', 1) + b'u=5'))
        self.assertEqual(c.wait_stream(1).status, 200, c.frame_summary())
        self.assertStillWorks(c)

    def test_priority_request_header_accepted(self):
        c = self.client()
        for v in ('u=0', 'u=7', 'u=1, i', 'i', 'u=3, i=?0', 'garbage;;', 'u=9'):
            r = c.get('/1k.bin', headers=[('priority', v)])
            self.assertEqual(r.status, 200, 'priority: %s -> %r' % (v, r))
            self.assertEqual(r.body, self.expected('1k.bin'))


class FramesAndExtensionsH2c(FramesAndExtensions):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# DATA framing (TLS)
# --------------------------------------------------------------------------------------------

class DataFraming(Base):

    def download(self, rel, settings=None):
        s = {S_INITIAL_WINDOW_SIZE: MAX_WINDOW}
        s.update(settings or {})
        c = self.raw(settings=s)
        c.send(window_update(0, MAX_WINDOW - 65535))
        sid = c.get('/' + rel)
        st = c.wait_stream(sid, 20)
        self.assertTrue(st.ended, '%r %s' % (st, c.frame_summary()))
        self.assertEqual(sha256(bytes(st.body)), h2util.file_sha256(self.target.root, rel))
        return c, st

    def test_data_within_max_frame_size(self):
        for mfs in (None, 2 ** 24 - 1):
            c, st = self.download('1m.bin', {S_MAX_FRAME_SIZE: mfs} if mfs else None)
            limit = mfs or 16384
            self.assertLessEqual(max(f.length for f in c.frames), limit)
            self.assertLessEqual(max(st.data_sizes), limit)

    @sluice_specific
    def test_sluice_data_payload_16375(self):
        # 9-byte frame header + 16,375-byte payload = one 16 KiB TLS record
        for rel in ('200k.bin', '1m.bin'):
            for mfs in (None, 2 ** 24 - 1):
                c, st = self.download(rel, {S_MAX_FRAME_SIZE: mfs} if mfs else None)
                sizes = [n for n in st.data_sizes]
                if sizes and sizes[-1] == 0:
                    sizes = sizes[:-1]     # an empty END_STREAM DATA is fine
                self.assertTrue(all(n == h2util.SLUICE_DATA_PAYLOAD for n in sizes[:-1]),
                                '%s (MAX_FRAME_SIZE %s): payload sizes %s'
                                % (rel, mfs, sorted(set(sizes[:-1]))))
                self.assertLessEqual(sizes[-1], h2util.SLUICE_DATA_PAYLOAD)


class DataFramingH2c(DataFraming):
    transport = 'h2c'

    def test_sluice_data_payload_16375(self):
        self.skipTest('the 16 KiB TLS-record framing is checked over TLS')


# --------------------------------------------------------------------------------------------
# Scheduling (TLS; sluice-specific)
# --------------------------------------------------------------------------------------------

class Scheduling(Base):
    """Flow control keeps at most 64 KiB in flight (connection window 65535, given back as
    DATA arrives), so what arrives is what the server's scheduler picked."""

    def conn(self):
        c = self.raw(settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW, S_NO_RFC7540_PRIORITIES: 1,
                               S_ENABLE_PUSH: 0})
        c.keep_body = False
        orig = c._on_frame

        def on_frame(f):   # give back the connection window only
            orig(f)
            if f.type == DATA and f.flow_controlled_length:
                c.send(window_update(0, f.flow_controlled_length))
        c._on_frame = on_frame
        return c

    @sluice_specific
    def test_small_response_not_stuck_behind_big(self):
        c = self.conn()
        big = c.get('/64m.bin')
        b = c.stream(big)
        self.assertTrue(c.read_until(lambda: b.flow >= 256 << 10, 10), c.frame_summary())
        small = c.get('/1k.bin')
        s = c.stream(small)
        at_req = b.flow
        c.read_until(lambda: s.done or b.done, 20)
        self.assertTrue(s.ended, 'the 1 KiB response did not finish: %r; big got %d bytes'
                        % (s, b.flow))
        got = b.flow - at_req
        self.assertLess(got, 2 << 20, 'the 64 MiB stream got %d bytes before the 1 KiB one '
                        'completed' % got)
        c.send(rst_stream(big, CANCEL))

    @sluice_specific
    def test_urgency_0_served_first(self):
        c = self.conn()
        bulk = [c.get('/64m.bin', extra=[('priority', 'u=3')]) for _ in range(2)]
        self.assertTrue(c.read_until(lambda: sum(c.stream(x).flow for x in bulk) >= 512 << 10,
                                     10), c.frame_summary())
        urgent = c.get('/1m.bin', extra=[('priority', 'u=0')])
        u = c.stream(urgent)
        marks = {}
        orig = c._on_frame

        def on_frame(f):
            orig(f)
            if f.type == DATA and f.stream_id == urgent and 'first' not in marks:
                marks['first'] = sum(c.stream(x).flow for x in bulk)
        c._on_frame = on_frame
        c.read_until(lambda: u.done, 20)
        self.assertTrue(u.ended, '%r' % u)
        during = sum(c.stream(x).flow for x in bulk) - marks['first']
        self.assertLess(during, 128 << 10, 'u=3 streams got %d bytes while the u=0 1 MiB '
                        'response was sent' % during)
        for x in bulk:
            c.send(rst_stream(x, CANCEL))


# --------------------------------------------------------------------------------------------
# Graceful shutdown (sluice only: needs its own server and a signal)
# --------------------------------------------------------------------------------------------

@sluice_only
class GracefulShutdown(h2util.H2Case):
    transport = 'tls'

    def setUp(self):
        self.own = h2util.start_sluice()
        self.addCleanup(self.own.stop)

    def run_shutdown(self, transport):
        t = self.own
        c = t.raw(transport, settings={S_INITIAL_WINDOW_SIZE: MAX_WINDOW})
        self.addCleanup(c.close)
        # the windows cover the whole file up front: the client sends nothing after the
        # server's GOAWAY (a WINDOW_UPDATE reaching a closed socket would reset it)
        c.send(window_update(0, h2util.BIG_SIZE))
        sid = c.get('/64m.bin')
        s = c.stream(sid)
        self.assertTrue(c.read_until(lambda: s.flow >= 1 << 20, 10), c.frame_summary())
        t.server.send_signal(signal.SIGTERM)   # not reading meanwhile: the server is mid-file
        s = c.wait_stream(sid, 30)
        self.assertTrue(c.goaways, 'no GOAWAY after SIGTERM: %s' % c.frame_summary())
        g = c.goaways[0]
        self.assertEqual(g.error_code, NO_ERROR, c.frame_summary())
        self.assertGreaterEqual(g.last_stream_id, sid)
        self.assertTrue(s.ended, 'in-flight stream cut by shutdown: %r' % s)
        self.assertEqual(sha256(bytes(s.body)), h2util.file_sha256(t.root, '64m.bin'))
        self.assertTrue(c.read_until_closed(10), c.frame_summary())
        self.assertEqual(t.server.stop(timeout=10), 0)

    def test_sigterm_goaway_and_in_flight_completes_tls(self):
        self.run_shutdown('tls')

    def test_sigterm_goaway_and_in_flight_completes_h2c(self):
        self.run_shutdown('h2c')


if __name__ == '__main__':
    h2util.main(DEVIATIONS)
