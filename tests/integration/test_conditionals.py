#!/usr/bin/env python3
"""If-None-Match / If-Modified-Since / If-Match."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, http_date, write  # noqa: E402

DATA = b'conditional body\n' * 10
MTIME = 1_650_000_000


class Conditionals(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'c.txt'), DATA)
        os.utime(os.path.join(root, 'c.txt'), (MTIME, MTIME))

    def setUp(self):
        r = self.get('/c.txt')
        self.assertStatus(r, 200)
        self.etag = r.header('ETag')
        self.lm = r.header('Last-Modified')
        self.assertTrue(harness.strong_etag(self.etag), self.etag)
        self.assertEqual(self.lm, http_date(MTIME))

    def cond(self, headers, method='GET'):
        return self.get('/c.txt', headers=headers, method=method)

    def assert304(self, r):
        self.assertStatus(r, 304)
        self.assertEqual(r.header('ETag'), self.etag)
        cl = r.header('Content-Length')
        self.assertIn(cl, (None, '0', str(len(DATA))), repr(r))

    def test_inm_match_304_no_body(self):
        c = self.connect()
        try:
            c.send(build_request('/c.txt', headers={'If-None-Match': self.etag}))
            r = c.read_response()  # parser treats 304 as bodyless
            self.assert304(r)
            self.assertIsNotNone(r.header('Date'))
            # If a body had been sent, it would corrupt the next response on the connection.
            c.send(build_request('/c.txt'))
            r2 = c.read_response()
            self.assertStatus(r2, 200)
            self.assertEqual(r2.body, DATA)
        finally:
            c.close()

    def test_inm_304_then_close_no_body(self):
        c = self.connect()
        try:
            c.send(build_request('/c.txt', headers={'If-None-Match': self.etag}, close=True))
            self.assert304(c.read_response())
            self.assertEqual(c.read_until_close(), b'', 'bytes after a 304')
        finally:
            c.close()

    def test_inm_star(self):
        self.assert304(self.cond({'If-None-Match': '*'}))

    def test_inm_list(self):
        self.assert304(self.cond({'If-None-Match': '"aaa", %s, "bbb"' % self.etag}))

    def test_inm_list_no_spaces(self):
        self.assert304(self.cond({'If-None-Match': '"aaa",%s' % self.etag}))

    def test_inm_weak_compare(self):
        self.assert304(self.cond({'If-None-Match': 'W/' + self.etag}))

    def test_inm_nonmatching(self):
        r = self.cond({'If-None-Match': '"nope"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_inm_head(self):
        c = self.connect()
        try:
            c.send(build_request('/c.txt', method='HEAD', headers={'If-None-Match': self.etag}))
            self.assert304(c.read_response(head=True))
        finally:
            c.close()

    def test_ims_equal(self):
        self.assert304(self.cond({'If-Modified-Since': self.lm}))

    def test_ims_later(self):
        self.assert304(self.cond({'If-Modified-Since': http_date(MTIME + 3600)}))

    def test_ims_older(self):
        r = self.cond({'If-Modified-Since': http_date(MTIME - 1)})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_ims_garbage_ignored(self):
        r = self.cond({'If-Modified-Since': 'not a date'})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_inm_precedence_over_ims(self):
        r = self.cond({'If-None-Match': '"nope"', 'If-Modified-Since': self.lm})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_inm_match_with_old_ims(self):
        self.assert304(self.cond({'If-None-Match': self.etag,
                                  'If-Modified-Since': http_date(MTIME - 3600)}))

    def test_if_match_nonmatching_412(self):
        r = self.cond({'If-Match': '"nope"'})
        self.assertStatus(r, 412)

    def test_if_match_matching_200(self):
        r = self.cond({'If-Match': self.etag})
        self.assertStatus(r, 200)
        self.assertEqual(r.body, DATA)

    def test_if_match_star_200(self):
        self.assertStatus(self.cond({'If-Match': '*'}), 200)

    def test_412_keeps_connection_in_sync(self):
        c = self.connect()
        try:
            c.send(build_request('/c.txt', headers={'If-Match': '"nope"'}) + build_request('/c.txt'))
            self.assertStatus(c.read_response(), 412)
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, DATA)
        finally:
            c.close()

    def test_etag_stable(self):
        self.assertEqual(self.get('/c.txt').header('ETag'), self.etag)


if __name__ == '__main__':
    harness.main()
