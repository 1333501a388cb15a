#!/usr/bin/env python3
"""Access log: combined format + request time + connection id; flushing; `off` and `-`."""

import calendar
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

LINE = re.compile(
    r'^(?P<ip>\S+) - - \[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    r'"(?P<req>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<ref>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<ua>[^"\\]*(?:\\.[^"\\]*)*)" '
    r'(?P<time>\d+\.\d{3}) (?P<conn>\d+)$')

BODY = b'x' * 1234


def log_date(s):
    return calendar.timegm(time.strptime(s, '%d/%b/%Y:%H:%M:%S +0000'))


def populate(root):
    write(os.path.join(root, 'x'), BODY)
    write(os.path.join(root, 'a.txt'), b'AAAA\n')


class AccessLog(unittest.TestCase):

    def setUp(self):
        self.server = harness.Server(populate=populate)
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def parsed(self, text):
        out = []
        for line in text.splitlines():
            m = LINE.match(line)
            self.assertIsNotNone(m, 'log line does not match the format: %r' % line)
            out.append(m)
        return out

    def test_combined_format(self):
        t0 = time.time()
        p = harness.curl(self.server.url('/x'))
        self.assertEqual(p.stdout, BODY)
        ua = 'curl/' + harness.curl('--version').stdout.split()[1].decode()
        self.server.stop()
        lines = self.parsed(self.server.read_access_log())
        self.assertEqual(len(lines), 1, self.server.read_access_log())
        m = lines[0]
        self.assertEqual(m['ip'], '127.0.0.1')
        self.assertEqual(m['req'], 'GET /x HTTP/1.1')
        self.assertEqual(m['status'], '200')
        self.assertEqual(m['bytes'], '1234')
        self.assertEqual(m['ref'], '-')
        self.assertEqual(m['ua'], ua)
        self.assertLess(abs(log_date(m['date']) - t0), 5)
        self.assertLess(float(m['time']), 1.0)
        expected = ('127.0.0.1 - - [%s] "GET /x HTTP/1.1" 200 1234 "-" "%s" %s %s'
                    % (m['date'], ua, m['time'], m['conn']))
        self.assertEqual(m.group(0), expected)

    def test_referer_status_and_conn_ids(self):
        c = self.server.connect()
        c.send(build_request('/x', headers={'Referer': 'http://example.com/page',
                                            'User-Agent': 'tester/1.0'}))
        c.read_response()
        c.send(build_request('/missing', headers={'User-Agent': 'tester/1.0'}))
        c.read_response()
        c.send(build_request('/a.txt', headers={'Range': 'bytes=0-1', 'User-Agent': 'tester/1.0'}))
        c.read_response()
        c.close()
        c2 = self.server.connect()
        c2.send(build_request('/a.txt', close=True))
        c2.read_response()
        c2.close()
        time.sleep(0.2)
        self.server.stop()
        lines = self.parsed(self.server.read_access_log())
        self.assertEqual(len(lines), 4, self.server.read_access_log())
        # workers buffer separately: lines of different connections may interleave in any order
        by_key = {}
        for m in lines:
            by_key[(m['req'], m['ua'])] = m
        a = by_key[('GET /x HTTP/1.1', 'tester/1.0')]
        b = by_key[('GET /missing HTTP/1.1', 'tester/1.0')]
        r = by_key[('GET /a.txt HTTP/1.1', 'tester/1.0')]
        d = by_key[('GET /a.txt HTTP/1.1', '-')]
        self.assertEqual(a['ref'], 'http://example.com/page')
        self.assertEqual(a['ua'], 'tester/1.0')
        self.assertEqual(b['status'], '404')
        self.assertEqual(b['req'], 'GET /missing HTTP/1.1')
        self.assertEqual(r['status'], '206')
        self.assertEqual(r['bytes'], '2')
        self.assertEqual(a['conn'], b['conn'])
        self.assertEqual(a['conn'], r['conn'])
        self.assertNotEqual(a['conn'], d['conn'])
        self.assertEqual(d['ua'], '-')

    def test_quotes_in_user_agent_escaped(self):
        c = self.server.connect()
        c.send(build_request('/a.txt', headers={'User-Agent': 'evil" 200 999 "x'}, close=True))
        c.read_response()
        c.close()
        self.server.stop()
        text = self.server.read_access_log()
        lines = self.parsed(text)
        self.assertEqual(len(lines), 1, text)
        self.assertEqual(lines[0]['status'], '200')

    def test_flushed_within_a_second_while_running(self):
        harness.curl(self.server.url('/a.txt'))
        time.sleep(1.6)
        text = self.server.read_access_log()
        self.assertIn('"GET /a.txt HTTP/1.1" 200 5 ', text,
                      'log line not flushed 1.6 s after the request')
        self.server.stop()

    def test_bad_request_logged_or_not_but_well_formed(self):
        harness.raw_bytes(self.server, b'GARBAGE\r\n\r\n', timeout=1)
        harness.curl(self.server.url('/a.txt'))
        self.server.stop()
        self.parsed(self.server.read_access_log())  # every line must match the format


class LogOff(unittest.TestCase):

    def test_off_writes_nothing(self):
        tmp = tempfile.mkdtemp(prefix='sluice-it-', dir='/tmp')
        srv = harness.Server(access_log='off', populate=populate, tmp=tmp)
        try:
            srv.start()
            before = set(os.listdir(tmp))
            for _ in range(3):
                harness.curl(srv.url('/x'))
            srv.stop()
            self.assertEqual(set(os.listdir(tmp)), before, 'files appeared with --access-log off')
            self.assertNotIn('GET /x', srv.stdout())
            self.assertNotIn('GET /x', srv.stderr())
            self.assertFalse(os.path.exists(os.path.join(tmp, 'off')))
        finally:
            srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_dash_writes_stdout(self):
        srv = harness.Server(access_log='-', populate=populate)
        try:
            srv.start()
            harness.curl(srv.url('/x'))
            srv.stop()
            out = srv.stdout()
            self.assertRegex(out, r'"GET /x HTTP/1\.1" 200 1234 "-" "curl/[^"]+" \d+\.\d{3} \d+\n')
        finally:
            srv.cleanup()


if __name__ == '__main__':
    harness.main()
