#!/usr/bin/env python3
"""HTTP/2 with real clients: nghttp and curl (TLS with ALPN h2, and h2c prior knowledge),
h2load, headless Chromium loading a page with 50 subresources over one h2 connection, ALPN
selection, and sluice's --http2 / --h2c switches.

Target: sluice (default) or an external server (SLUICE_H2_EXTERNAL=host:port for h2c,
SLUICE_H2_EXTERNAL_TLS=host:port, SLUICE_H2_ROOT=dir); see h2util.py and
h2_fixture/run-external.sh. Against a reference server, the tests in DEVIATIONS[ref] are
expected to fail (each with its reason); every other test must pass.

Programs: curl, nghttp and h2load (Debian nghttp2-client), openssl; a missing one = exit 77
naming its package. chromium (Debian chromium) is optional: its test skips without it.
"""

import collections
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2util  # noqa: E402
import harness  # noqa: E402
from h2util import sha256, sluice_only, sluice_specific  # noqa: E402

h2util.require(programs=('curl', 'nghttp', 'h2load', 'openssl'))

DEVIATIONS = {
    'nghttpd': {
        'CurlTls.test_range_single': 'nghttpd ignores Range (200 with the whole file)',
        'CurlTls.test_range_multipart': 'nghttpd ignores Range (200 with the whole file)',
        'CurlTls.test_conditional_etag_304': 'nghttpd sends no ETag',
        'CurlTls.test_conditional_if_match_412': 'nghttpd ignores If-Match (200)',
        'CurlTls.test_precompressed_gzip_sibling':
            'nghttpd does not serve file.gz siblings with content-encoding: gzip',
        'CurlTls.test_403_directory_without_index':
            'nghttpd answers 404 for a directory without index.html (sluice: 403)',
        'Alpn.test_only_http11_gets_http11':
            'nghttpd speaks only h2: an http/1.1-only ALPN offer gets no protocol selected',
        'Alpn.test_no_common_protocol_alert_120':
            'sluice-specific: nghttpd completes the handshake without ALPN instead of '
            'sending no_application_protocol (120)',
        'Alpn.test_no_alpn_gets_http11':
            'sluice-specific: nghttpd speaks only h2, so an HTTP/1.1 request without ALPN '
            'gets no HTTP/1.1 response',
        'PlainPort.test_http11_still_served_next_to_h2c':
            'sluice-specific: nghttpd --no-tls speaks only h2 on its port',
    },
}
DEVIATIONS['nghttpd-sluice'] = dict(DEVIATIONS['nghttpd'])   # -m 128 --no-rfc7540-pri
DEVIATIONS.update({
    'h2o': {
        'CurlTls.test_conditional_if_match_412': 'h2o 2.2 ignores If-Match (200)',
        'CurlTls.test_403_directory_without_index':
            'h2o answers 404 for a directory without index.html (sluice: 403)',
        'Alpn.test_no_common_protocol_alert_120':
            'sluice-specific: h2o completes the handshake without ALPN instead of sending '
            'no_application_protocol (120)',
    },
})


def setUpModule():
    h2util.setup_module_target()


def tearDownModule():
    h2util.teardown_module_target()


def run(cmd, timeout=60, stdin=b''):
    try:
        return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(cmd, -9, e.stdout or b'',
                                           (e.stderr or b'') + b'\n[timed out]')


class CurlResult:
    def __init__(self, version, status, headers, body, rc, stderr):
        self.version = version
        self.status = status
        self.headers = headers
        self.body = body
        self.rc = rc
        self.stderr = stderr

    def header(self, name, default=None):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return default

    def __repr__(self):
        return '<curl rc=%d HTTP/%s %s, %d body bytes, headers %r, stderr %s>' % (
            self.rc, self.version, self.status, len(self.body), self.headers,
            self.stderr[-300:])


class Base(h2util.H2Case):
    transport = 'tls'

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix='sluice-h2c-', dir='/tmp')
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def curl(self, path, *args, host=None):
        """curl over this class's transport, HTTP/2 required (--http2 over TLS,
        --http2-prior-knowledge for h2c)."""
        d = self.tmpdir()
        hdr, body = os.path.join(d, 'h'), os.path.join(d, 'b')
        if self.transport == 'tls':
            proto = ['-k', '--http2'] + self.target.curl_resolve('tls')
        else:
            proto = ['--http2-prior-knowledge']
        cmd = ['curl', '-sS', '--max-time', '30', '-D', hdr, '-o', body,
               '-w', '%{http_version} %{http_code}'] + proto + list(args) + \
            [self.target.url(self.transport, path)]
        p = run(cmd, timeout=40)
        out = p.stdout.decode('latin-1').split()
        version, status = (out + ['?', '0'])[:2] if len(out) < 2 else out[-2:]
        headers = []
        if os.path.exists(hdr):
            with open(hdr, 'rb') as f:
                for line in f.read().decode('latin-1').split('\r\n'):
                    if ':' in line and not line.startswith('HTTP/'):
                        k, v = line.split(':', 1)
                        headers.append((k.strip().lower(), v.strip()))
        data = b''
        if os.path.exists(body):
            with open(body, 'rb') as f:
                data = f.read()
        return CurlResult(version, int(status), headers, data, p.returncode,
                          p.stderr.decode('utf-8', 'replace'))


# --------------------------------------------------------------------------------------------
# nghttp
# --------------------------------------------------------------------------------------------

class Nghttp(Base):

    def nghttp(self, *paths, extra=()):
        urls = [self.target.url(self.transport, p) for p in paths]
        return run(['nghttp', '-nv', '-t', '20'] + list(extra) + urls, timeout=40)

    def check(self, p, n=1):
        out = p.stdout.decode('utf-8', 'replace') + p.stderr.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out[-2000:])
        if self.transport == 'tls':
            self.assertIn('The negotiated protocol: h2', out, out[:2000])
        else:
            self.assertNotIn('HTTP Upgrade', out, 'nghttp used Upgrade instead of prior '
                             'knowledge')
        self.assertIn('recv SETTINGS frame', out)
        statuses = re.findall(r'recv \(stream_id=\d+\) :status: (\d+)', out)
        self.assertEqual(statuses, ['200'] * n, out[-2000:])
        self.assertNotIn('GOAWAY', out.replace('send GOAWAY', ''), out[-2000:])
        return out

    def test_nghttp_get(self):
        self.check(self.nghttp('/1k.bin'))

    def test_nghttp_many_with_rfc7540_priority_tree(self):
        # nghttp sends PRIORITY frames for a dependency tree of idle streams first
        out = self.check(self.nghttp('/1k.bin', '/200k.bin', '/1m.bin', '/small.txt',
                                     '/f.txt'), n=5)
        self.assertIn('send PRIORITY frame', out)

    def test_nghttp_small_window(self):
        # -w 10 / -W 12: stream window 1023, connection window 4095
        self.check(self.nghttp('/200k.bin', extra=['-w', '10', '-W', '12']))


class NghttpH2c(Nghttp):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# curl
# --------------------------------------------------------------------------------------------

class CurlTls(Base):

    def test_get_sha256(self):
        for rel in ('small.txt', '1k.bin', '200k.bin', '1m.bin', '64m.bin'):
            r = self.curl('/' + rel)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(r.version, '2', repr(r))
            self.assertEqual(r.status, 200, repr(r))
            self.assertEqual(sha256(r.body), h2util.file_sha256(self.target.root, rel), rel)
            self.assertEqual(r.header('content-length'), str(len(r.body)))

    def test_head(self):
        r = self.curl('/1m.bin', '-I')
        self.assertEqual((r.version, r.status), ('2', 200), repr(r))
        self.assertEqual(r.header('content-length'), str(h2util.MID_SIZE))

    def test_range_single(self):
        r = self.curl('/1m.bin', '-r', '1000-1999')
        want = self.expected('1m.bin')
        self.assertEqual((r.version, r.status), ('2', 206), repr(r))
        self.assertEqual(r.header('content-range'), 'bytes 1000-1999/%d' % len(want))
        self.assertEqual(r.body, want[1000:2000])

    def test_range_multipart(self):
        r = self.curl('/1k.bin', '-r', '0-9,100-109')
        want = self.expected('1k.bin')
        self.assertEqual((r.version, r.status), ('2', 206), repr(r))
        self.assertRegex(r.header('content-type', ''), r'^multipart/byteranges; *boundary=')
        self.assertIn(want[0:10], r.body)
        self.assertIn(want[100:110], r.body)
        self.assertIn(b'Content-Range: bytes 100-109/1024', r.body.replace(
            b'content-range', b'Content-Range'))

    def test_conditional_etag_304(self):
        r = self.curl('/f.txt')
        etag = r.header('etag')
        self.assertTrue(harness.strong_etag(etag), repr(r))
        r2 = self.curl('/f.txt', '-H', 'If-None-Match: %s' % etag)
        self.assertEqual((r2.version, r2.status), ('2', 304), repr(r2))
        self.assertEqual(r2.body, b'')

    def test_conditional_if_match_412(self):
        r = self.curl('/f.txt', '-H', 'If-Match: "no-such-etag"')
        self.assertEqual((r.version, r.status), ('2', 412), repr(r))

    def test_precompressed_gzip_sibling(self):
        r = self.curl('/f.txt', '-H', 'Accept-Encoding: gzip')
        self.assertEqual((r.version, r.status), ('2', 200), repr(r))
        self.assertEqual(r.header('content-encoding'), 'gzip', repr(r))
        self.assertEqual(r.body, self.expected('f.txt.gz'))
        r = self.curl('/f.txt')
        self.assertIsNone(r.header('content-encoding'), repr(r))
        self.assertEqual(r.body, self.expected('f.txt'))

    def test_404(self):
        r = self.curl('/no-such-file')
        self.assertEqual((r.version, r.status), ('2', 404), repr(r))

    def test_403_directory_without_index(self):
        r = self.curl('/noindex/')
        self.assertEqual((r.version, r.status), ('2', 403), repr(r))

    def test_parallel_multiplexed(self):
        # curl --parallel over one connection
        d = self.tmpdir()
        rels = ['1k.bin', '200k.bin', 'small.txt', 'f.txt', '1m.bin'] * 2
        args = ['curl', '-sS', '--max-time', '30', '--parallel', '--parallel-immediate',
                '-w', '%{http_version} %{http_code} %{num_connects}\n']
        if self.transport == 'tls':
            args += ['-k', '--http2'] + self.target.curl_resolve('tls')
        else:
            args += ['--http2-prior-knowledge']
        for i, rel in enumerate(rels):
            args += ['-o', os.path.join(d, '%d' % i), self.target.url(self.transport,
                                                                       '/' + rel)]
        p = run(args, timeout=40)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().split('\n')
        self.assertEqual(sum(1 for ln in lines if ln.startswith('2 200')), len(rels),
                         p.stdout)
        for i, rel in enumerate(rels):
            with open(os.path.join(d, '%d' % i), 'rb') as f:
                self.assertEqual(sha256(f.read()), h2util.file_sha256(self.target.root, rel))


class CurlH2c(CurlTls):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# h2load
# --------------------------------------------------------------------------------------------

class H2load(Base):

    def test_h2load_2000_requests(self):
        p = run(['h2load', '-n', '2000', '-c', '4', '-m', '16',
                 self.target.url(self.transport, '/1k.bin')], timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out + p.stderr.decode('utf-8', 'replace'))
        if self.transport == 'tls':
            self.assertIn('Application protocol: h2', out)
        m = re.search(r'requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, '
                      r'(\d+) failed, (\d+) errored', out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.groups(), ('2000', '2000', '2000', '2000', '0', '0'), out)
        m = re.search(r'status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx', out)
        self.assertEqual(m.groups(), ('2000', '0', '0', '0'), out)
        self.assertIn('(2048000) data', out, out)


class H2loadH2c(H2load):
    transport = 'h2c'


# --------------------------------------------------------------------------------------------
# Chromium (TLS; h2c has no browser support)
# --------------------------------------------------------------------------------------------

def chromium_binary():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        p = shutil.which(name)
        if p:
            return p
    return None


class Chromium(Base):
    transport = 'tls'

    def test_page_with_50_subresources_over_one_h2_connection(self):
        exe = chromium_binary()
        if not exe:
            self.skipTest('chromium missing (Debian package chromium)')
        d = self.tmpdir()
        netlog = os.path.join(d, 'net.json')
        url = self.target.url('tls', '/page/index.html')
        host, port = self.target.addr('tls')
        cmd = [exe, '--headless=new', '--no-sandbox', '--disable-gpu',
               '--ignore-certificate-errors', '--user-data-dir=' + os.path.join(d, 'profile'),
               '--no-first-run', '--no-default-browser-check', '--disable-extensions',
               '--disable-background-networking', '--disable-component-update',
               '--disable-sync', '--disable-quic', '--disable-features=MediaRouter',
               '--host-resolver-rules=MAP localhost %s' % host,
               '--log-net-log=' + netlog, '--net-log-capture-mode=Default',
               '--virtual-time-budget=15000', '--dump-dom', url]
        p = run(cmd, timeout=90)
        dom = p.stdout.decode('utf-8', 'replace')
        m = re.search(r'RESULT (\{.*?\}) END', dom, re.S)
        self.assertIsNotNone(m, 'no RESULT in the dumped DOM (rc %d):\n%s\nstderr: %s'
                             % (p.returncode, dom[-1500:],
                                p.stderr.decode('utf-8', 'replace')[-1500:]))
        res = json.loads(m.group(1))
        self.assertEqual(res['nav'], 'h2', res)
        n = h2util.N_SUBRESOURCES
        self.assertEqual(res['scripts'], n - n // 2, res)
        self.assertEqual(res['imgs'], n // 2, res)
        protos = collections.Counter(proto for name, proto in res['res'])
        names = set(name for name, proto in res['res'])
        self.assertGreaterEqual(len(names), n, res)
        self.assertEqual(set(protos), {'h2'}, res)
        # the net log: one HTTP/2 session to the server carried the page and all 50
        with open(netlog) as f:
            log = json.load(f)
        et = {v: k for k, v in log['constants']['logEventTypes'].items()}
        want = 'localhost:%d' % port
        sessions = set()
        for e in log['events']:
            if et.get(e['type']) == 'HTTP2_SESSION' and (e.get('params') or {}).get(
                    'host') == want:
                sessions.add(e['source']['id'])
        self.assertEqual(len(sessions), 1, 'HTTP/2 sessions to %s: %s' % (want, sessions))
        sid = sessions.pop()
        streams = sum(1 for e in log['events'] if e['source']['id'] == sid and
                      et.get(e['type']) == 'HTTP2_SESSION_SEND_HEADERS')
        self.assertGreaterEqual(streams, n + 1, 'requests on the one session: %d' % streams)


# --------------------------------------------------------------------------------------------
# ALPN (TLS)
# --------------------------------------------------------------------------------------------

class Alpn(Base):
    transport = 'tls'

    def test_only_h2_gets_h2(self):
        s = self.target.socket('tls', alpn=('h2',))
        self.addCleanup(s.close)
        self.assertEqual(s.selected_alpn_protocol(), 'h2')
        self.assertGreaterEqual(s.version(), 'TLSv1.2')

    def test_h2_preferred_over_http11(self):
        for offer in (('h2', 'http/1.1'), ('http/1.1', 'h2')):
            s = self.target.socket('tls', alpn=offer)
            self.addCleanup(s.close)
            self.assertEqual(s.selected_alpn_protocol(), 'h2', offer)

    def test_only_http11_gets_http11(self):
        s = self.target.socket('tls', alpn=('http/1.1',))
        self.addCleanup(s.close)
        self.assertEqual(s.selected_alpn_protocol(), 'http/1.1')
        c = harness.Conn(s)
        c.send(harness.build_request('/small.txt', close=True))
        r = c.read_response()
        self.assertEqual((r.version, r.status), ('HTTP/1.1', 200), repr(r))
        self.assertEqual(r.body, self.expected('small.txt'))

    @sluice_specific
    def test_no_alpn_gets_http11(self):
        s = self.target.socket('tls', alpn=None)
        self.addCleanup(s.close)
        self.assertIsNone(s.selected_alpn_protocol())
        c = harness.Conn(s)
        c.settimeout(5)
        c.send(harness.build_request('/small.txt', close=True))
        r = c.read_response()
        self.assertEqual((r.version, r.status), ('HTTP/1.1', 200), repr(r))

    @sluice_specific
    def test_no_common_protocol_alert_120(self):
        host, port = self.target.addr('tls')
        p = run(['openssl', 's_client', '-connect', '%s:%d' % (host, port), '-servername',
                 'localhost', '-alpn', 'foo', '-brief'], timeout=20)
        err = p.stderr.decode('utf-8', 'replace')
        self.assertRegex(err, r'alert number 120|no application protocol', err[-1500:])
        self.assertNotEqual(p.returncode, 0, err[-1500:])
        # python's ssl sees the same alert
        try:
            s = self.target.socket('tls', alpn=('foo', 'spdy/3'))
        except OSError as e:
            self.assertIn('no application protocol', str(e).lower())
        else:
            s.close()
            self.fail('handshake offering only unknown protocols succeeded')

    def test_curl_negotiates_h2(self):
        p = run(['curl', '-sS', '-k', '--http2', '-o', '/dev/null', '-w', '%{http_version}']
                + self.target.curl_resolve('tls') + [self.target.url('tls', '/1k.bin')])
        self.assertEqual(p.stdout, b'2', p.stderr)


class PlainPort(Base):
    transport = 'h2c'

    @sluice_specific
    def test_http11_still_served_next_to_h2c(self):
        # the h2c port tells a prior-knowledge preface from an HTTP/1.1 request
        s = self.target.socket('h2c')
        self.addCleanup(s.close)
        c = harness.Conn(s)
        c.settimeout(5)
        c.send(harness.build_request('/small.txt', close=True))
        r = c.read_response()
        self.assertEqual((r.version, r.status), ('HTTP/1.1', 200), repr(r))
        self.assertEqual(r.body, self.expected('small.txt'))

    def test_prior_knowledge_preface(self):
        c = self.target.raw('h2c')
        self.addCleanup(c.close)
        self.assertStillWorks(c)


# --------------------------------------------------------------------------------------------
# sluice's switches (sluice only: each needs its own server)
# --------------------------------------------------------------------------------------------

@sluice_only
class Http2Off(h2util.H2Case):
    """--http2 off: ALPN never selects h2."""

    @classmethod
    def setUpClass(cls):
        cls.own = h2util.start_sluice(['--http2', 'off'])

    @classmethod
    def tearDownClass(cls):
        cls.own.stop()

    def setUp(self):
        pass

    def test_alpn_falls_back_to_http11(self):
        s = self.own.socket('tls', alpn=('h2', 'http/1.1'))
        self.addCleanup(s.close)
        self.assertEqual(s.selected_alpn_protocol(), 'http/1.1')
        c = harness.Conn(s)
        c.send(harness.build_request('/small.txt', close=True))
        r = c.read_response()
        self.assertEqual((r.version, r.status), ('HTTP/1.1', 200), repr(r))

    def test_curl_http2_gets_http11(self):
        p = run(['curl', '-sS', '-k', '--http2', '-o', '/dev/null', '-w', '%{http_version}']
                + self.own.curl_resolve('tls') + [self.own.url('tls', '/1k.bin')])
        self.assertEqual(p.stdout, b'1.1', p.stderr)

    def test_only_h2_offered_alert_120(self):
        try:
            s = self.own.socket('tls', alpn=('h2',))
        except OSError as e:
            self.assertIn('no application protocol', str(e).lower())
        else:
            s.close()
            self.fail('--http2 off selected a protocol for an h2-only offer')


COLD_SIZE = 16 << 20


@sluice_only
class ColdPages(h2util.H2Case):
    """File pages not in the page cache, over h2c and h2 over userspace TLS: the payloads are
    read by the ring (sluice_file_ring_read_bytes_total grows), bodies are byte-exact, and no
    io-wq worker thread (iou-wrk) appears in the server — which HTTP/1.1's splice of the same
    file then does, showing the probe sees them. A server of its own, one worker, so no other
    test's splices left workers behind."""

    @classmethod
    def setUpClass(cls):
        cls.own = h2util.start_sluice(threads=1)

    @classmethod
    def tearDownClass(cls):
        cls.own.stop()

    def setUp(self):
        pass

    def io_workers(self):
        pid = self.own.server.pid
        names = []
        for tid in os.listdir('/proc/%d/task' % pid):
            try:
                with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        return [n for n in names if n.startswith('iou-wrk')]

    def counter(self, name):
        srv = self.own.server
        before = len(srv.stderr())
        srv.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = srv.stderr()[before:]
            m = re.search(r'^%s (\d+)$' % name, text, re.M)
            if m and 'sluice_ktls_diag_failed_total' in text:
                return int(m.group(1))
            time.sleep(0.02)
        self.fail('no counters from SIGUSR1')

    def cold_file(self, rel):
        """A fresh file of random bytes, written out and dropped from the page cache."""
        path = os.path.join(self.own.root, rel)
        data = os.urandom(COLD_SIZE)
        with open(path, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        if shutil.which('fincore'):
            out = subprocess.run(['fincore', '-nb', '-o', 'RES', path], capture_output=True,
                                 text=True).stdout.split()
            if out and int(out[0]) > COLD_SIZE // 4:
                self.skipTest('could not drop %s from the page cache (%s bytes resident)'
                              % (path, out[0]))
        return sha256(data)

    def fetch(self, transport, rel, http2=True):
        if transport == 'tls':
            proto = ['-k', '--http2' if http2 else '--http1.1'] + self.own.curl_resolve('tls')
        else:
            proto = ['--http2-prior-knowledge'] if http2 else ['--http1.1']
        d = tempfile.mkdtemp(prefix='sluice-cold-', dir='/tmp')
        self.addCleanup(shutil.rmtree, d, True)
        out = os.path.join(d, 'body')
        p = run(['curl', '-sS', '--max-time', '60', '-o', out, '-w', '%{http_version}']
                + proto + [self.own.url(transport, '/' + rel)], timeout=70)
        self.assertEqual(p.returncode, 0, p.stderr[-500:])
        with open(out, 'rb') as f:
            return f.read(), p.stdout.decode().strip()

    def check_cold(self, transport):
        self.assertEqual(self.io_workers(), [], 'io-wq workers before any transfer')
        rel = 'cold-%s.bin' % transport
        digest = self.cold_file(rel)
        read0 = self.counter('sluice_file_ring_read_bytes_total')
        body, version = self.fetch(transport, rel)
        self.assertEqual(version, '2')
        self.assertEqual(len(body), COLD_SIZE)
        self.assertEqual(sha256(body), digest)
        read = self.counter('sluice_file_ring_read_bytes_total') - read0
        print('    %s, cold 16 MiB: %d bytes read by the ring, io-wq workers %r'
              % (transport, read, self.io_workers()))
        self.assertGreaterEqual(read, 16375, 'the cold pages did not go through ring reads')
        self.assertEqual(self.io_workers(), [], 'HTTP/2 payloads of cold pages used io-wq')
        return rel, digest

    def test_1_h2c_cold(self):
        self.check_cold('h2c')

    def test_2_tls_cold(self):
        self.check_cold('tls')

    def test_3_http11_splice_shows_io_wq(self):
        # the control: HTTP/1.1 splices the same kind of file, and io_uring runs splice in io-wq
        self.assertEqual(self.io_workers(), [])
        rel = 'cold-h1.bin'
        digest = self.cold_file(rel)
        body, version = self.fetch('h2c', rel, http2=False)
        self.assertEqual(version, '1.1')
        self.assertEqual(sha256(body), digest)
        self.assertNotEqual(self.io_workers(), [], 'the io-wq probe saw no worker for splice')


@sluice_only
class Shrink(h2util.H2Case):
    """A file truncated while HTTP/2 sends it from its mapping (h2c: the kernel copies from the
    mapping, so the truncation fails a sendmsg with EFAULT; TLS: the sealer's SIGBUS is
    caught): the connection ends short of the promised length, every byte that arrived is
    the file's, the server keeps serving, and sluice_record_body_truncated_total counts it."""
    transport = 'h2c'
    SIZE = 48 << 20

    @classmethod
    def setUpClass(cls):
        cls.own = h2util.start_sluice(['--ktls', 'off'], threads=1)

    @classmethod
    def tearDownClass(cls):
        cls.own.stop()

    def setUp(self):
        pass

    counter = ColdPages.counter

    def check(self, transport):
        rel = 'shrink-%s.bin' % transport
        path = os.path.join(self.own.root, rel)
        data = (hashlib.sha256(rel.encode()).digest() * (self.SIZE // 32))[:self.SIZE]
        with open(path, 'wb') as f:
            f.write(data)
        truncated0 = self.counter('sluice_record_body_truncated_total')
        c = self.own.raw(transport, settings={h2util.S_INITIAL_WINDOW_SIZE: h2util.MAX_WINDOW})
        self.addCleanup(c.close)
        c.send(h2util.window_update(0, h2util.MAX_WINDOW - h2util.DEFAULT_WINDOW))
        sid = c.get('/' + rel)
        st = c.stream(sid)
        self.assertTrue(c.read_until(lambda: len(st.body) >= (1 << 20), 10), repr(st))
        self.assertEqual(st.status, 200)
        self.assertEqual(st.header('content-length'), str(self.SIZE))
        os.truncate(path, 2 << 20)
        c.read_until(lambda: st.done or c.eof or c.goaways, 20)
        c.read_for(0.2)
        got = bytes(st.body)
        print('    %s: %d of %d bytes before the end; ended=%s rst=%s goaway=%s eof=%s'
              % (transport, len(got), self.SIZE, st.ended, st.rst,
                 [g.error_code for g in c.goaways], c.eof))
        self.assertLess(len(got), self.SIZE, 'the response should end before its length')
        self.assertFalse(st.ended, 'END_STREAM on a short body')
        self.assertEqual(got, data[:len(got)], 'bytes that are not the file arrived')
        self.assertTrue(c.eof or c.goaways or st.rst is not None, 'the stream just stalled')
        self.assertGreater(self.counter('sluice_record_body_truncated_total'), truncated0)
        c2 = self.own.raw(transport)
        self.addCleanup(c2.close)
        s2 = c2.wait_stream(c2.get('/small.txt'))
        self.assertEqual((s2.status, bytes(s2.body)), (200, b'small file body\n'))

    def test_h2c_truncated_mid_body(self):
        self.check('h2c')

    def test_tls_truncated_mid_body(self):
        self.check('tls')


@sluice_only
class H2cOff(h2util.H2Case):
    """--h2c off: the plain port speaks HTTP/1.1 only; a prior-knowledge preface gets an
    HTTP/1 400 or a close."""

    @classmethod
    def setUpClass(cls):
        cls.own = h2util.start_sluice(['--h2c', 'off'])

    @classmethod
    def tearDownClass(cls):
        cls.own.stop()

    def setUp(self):
        pass

    def test_preface_refused(self):
        s = self.own.socket('h2c')
        self.addCleanup(s.close)
        s.sendall(h2util.PREFACE + h2util.settings_frame())
        s.settimeout(5)
        data = b''
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except (socket.timeout, ConnectionResetError):
            pass
        if data:
            self.assertRegex(data, rb'^HTTP/1\.[01] 400 ', data[:300])
        # never an h2 SETTINGS frame
        self.assertFalse(len(data) >= 9 and data[3] == h2util.SETTINGS, data[:40])

    def test_curl_prior_knowledge_fails(self):
        p = run(['curl', '-sS', '--max-time', '10', '--http2-prior-knowledge', '-o', '/dev/null',
                 '-w', '%{http_version} %{http_code}', self.own.url('h2c', '/1k.bin')])
        self.assertNotEqual(p.stdout, b'2 200', p.stderr)

    def test_http11_still_served(self):
        r = harness.Conn(self.own.socket('h2c'))
        self.addCleanup(r.close)
        r.send(harness.build_request('/small.txt', close=True))
        resp = r.read_response()
        self.assertEqual(resp.status, 200, repr(resp))

    def test_tls_h2_unaffected(self):
        s = self.own.socket('tls', alpn=('h2', 'http/1.1'))
        self.addCleanup(s.close)
        self.assertEqual(s.selected_alpn_protocol(), 'h2')


if __name__ == '__main__':
    h2util.main(DEVIATIONS)
