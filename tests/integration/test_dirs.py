#!/usr/bin/env python3
"""Directories: index.html, 301 to the slash form, autoindex off/on, escaping in listings."""

import html.parser
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import write  # noqa: E402

EVIL = '<b>&"x.txt'
EVIL_BODY = b'evil name body\n'
NAMES = {
    EVIL: EVIL_BODY,
    'a b.txt': b'space\n',
    '\u00fcber.txt': b'umlaut\n',
    "it's.txt": b'apostrophe\n',
    'pct%41.txt': b'percent\n',
    'hash#q?.txt': b'hash and question\n',
    'plain.txt': b'plain\n',
}


def populate_tree(root):
    write(os.path.join(root, 'index.html'), b'<p>root index</p>\n')
    write(os.path.join(root, 'dir', 'index.html'), b'<p>dir index</p>\n')
    write(os.path.join(root, 'dir', 'sub', 'index.html'), b'<p>sub index</p>\n')
    os.makedirs(os.path.join(root, 'noindex'))
    write(os.path.join(root, 'noindex', 'file.txt'), b'x\n')
    for name, body in NAMES.items():
        write(os.path.join(root, 'list', name), body)
    write(os.path.join(root, 'list', '.hidden'), b'secret\n')
    write(os.path.join(root, 'list', '.env'), b'SECRET=1\n')
    os.makedirs(os.path.join(root, 'list', 'subdir'))
    os.makedirs(os.path.join(root, 'list', '.git'))


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == 'a':
            for k, v in attrs:
                if k == 'href' and v is not None:
                    self.hrefs.append(v)


class Dirs(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        populate_tree(root)

    def test_dir_slash_serves_index(self):
        r = self.get('/dir/')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'<p>dir index</p>\n')
        self.assertEqual(r.header('Content-Type'), 'text/html; charset=utf-8')

    def test_nested_dir_index(self):
        self.assertEqual(self.get('/dir/sub/').body, b'<p>sub index</p>\n')

    def test_root_index(self):
        self.assertEqual(self.get('/').body, b'<p>root index</p>\n')

    def test_dir_without_slash_301(self):
        r = self.get('/dir')
        self.assertStatus(r, 301)
        loc = r.header('Location')
        self.assertIsNotNone(loc, repr(r))
        self.assertTrue(loc == '/dir/' or (loc.startswith('http') and
                                           urllib.parse.urlsplit(loc).path == '/dir/'), loc)

    def test_nested_dir_without_slash_301(self):
        r = self.get('/dir/sub')
        self.assertStatus(r, 301)
        self.assertTrue(r.header('Location', '').endswith('/dir/sub/'), repr(r))

    def test_301_keeps_connection_in_sync(self):
        c = self.connect()
        try:
            c.send(harness.build_request('/dir') + harness.build_request('/dir/'))
            self.assertStatus(c.read_response(), 301)
            self.assertEqual(c.read_response().body, b'<p>dir index</p>\n')
        finally:
            c.close()

    def test_no_index_no_autoindex(self):
        r = self.get('/noindex/')
        self.assertStatus(r, (403, 404))
        self.assertNotIn(b'file.txt', r.body)

    def test_no_autoindex_listing_hidden(self):
        r = self.get('/list/')
        self.assertStatus(r, (403, 404))
        self.assertNotIn(b'plain.txt', r.body)

    def test_index_html_direct(self):
        self.assertStatus(self.get('/dir/index.html'), 200)

    def test_file_with_trailing_slash(self):
        self.assertStatus(self.get('/list/plain.txt/'), (404, 301, 400, 403))


class AutoIndex(harness.ServerTestCase):
    server_args = ('--autoindex',)

    @classmethod
    def populate(cls, root, tmp):
        populate_tree(root)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.listing = cls.server.get('/list/')

    def test_listing_status_type(self):
        r = self.listing
        self.assertStatus(r, 200)
        self.assertEqual(r.header('Content-Type'), 'text/html; charset=utf-8')
        self.assertEqual(int(r.header('Content-Length', '-1')), len(r.body))

    def test_listing_names_escaped(self):
        body = self.listing.body.decode('utf-8')
        self.assertNotIn('<b>', body, 'raw <b> from the file name appears in the listing')
        self.assertNotIn(EVIL, body)
        self.assertIn('&lt;b&gt;&amp;', body)
        self.assertTrue('&lt;b&gt;&amp;&quot;x.txt' in body or '&lt;b&gt;&amp;&#34;x.txt' in body
                        or '&lt;b&gt;&amp;&#x22;x.txt' in body, 'escaped name not found')

    def test_listing_hrefs_resolve(self):
        p = Links()
        p.feed(self.listing.body.decode('utf-8'))
        targets = {}
        for h in p.hrefs:
            self.assertNotIn('"', h)
            self.assertNotIn('<', h)
            path = urllib.parse.urlsplit(h).path
            targets[urllib.parse.unquote(path.rstrip('/').rsplit('/', 1)[-1])] = h
        for name, body in NAMES.items():
            with self.subTest(name=name):
                self.assertIn(name, targets, 'no link for %r among %r' % (name, p.hrefs))
                href = targets[name]
                url = urllib.parse.urljoin('/list/', href)
                r = self.get(url)
                self.assertStatus(r, 200)
                self.assertEqual(r.body, body)

    def test_hrefs_percent_encoded(self):
        p = Links()
        p.feed(self.listing.body.decode('utf-8'))
        for h in p.hrefs:
            self.assertNotIn(' ', h)
            self.assertNotIn('#', h)
            self.assertNotIn('?', h)
            self.assertTrue(all(ord(ch) < 128 for ch in h), 'non-ASCII href %r' % h)

    def test_subdir_listed(self):
        self.assertIn(b'subdir', self.listing.body)

    def test_dotfiles_hidden(self):
        body = self.listing.body
        self.assertNotIn(b'.hidden', body)
        self.assertNotIn(b'.env', body)
        self.assertNotIn(b'.git', body)

    def test_index_still_served(self):
        self.assertEqual(self.get('/dir/').body, b'<p>dir index</p>\n')

    def test_noindex_listing(self):
        r = self.get('/noindex/')
        self.assertStatus(r, 200)
        self.assertIn(b'file.txt', r.body)

    def test_autoindex_dir_without_slash_301(self):
        r = self.get('/noindex')
        self.assertStatus(r, 301)
        self.assertTrue(r.header('Location', '').endswith('/noindex/'), repr(r))

    def test_head_listing(self):
        c = self.connect()
        try:
            c.send(harness.build_request('/list/', method='HEAD'))
            r = c.read_response(head=True)
            self.assertStatus(r, 200)
            c.send(harness.build_request('/list/plain.txt'))
            self.assertEqual(c.read_response().body, b'plain\n')
        finally:
            c.close()


if __name__ == '__main__':
    harness.main()
