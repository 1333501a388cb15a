#!/usr/bin/env python3
"""Small-file cache revalidation: changes are visible within 1.1 s with a new ETag."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

WAIT = 1.1


class Cache(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'inplace.txt'), b'version one AAAA\n')
        write(os.path.join(root, 'inplace2.txt'), b'short\n')
        write(os.path.join(root, 'renamed.txt'), b'before rename\n')
        write(os.path.join(root, 'renamed2.txt'), b'before rename\n')
        write(os.path.join(root, 'deleted.txt'), b'soon gone\n')
        write(os.path.join(root, 'dir', 'index.html'), b'<p>old index</p>\n')

    def fetch(self, path, n=3):
        # several requests (several workers / connections) to warm every cache
        last = None
        for _ in range(n):
            last = self.get(path)
        return last

    def test_rewrite_in_place_same_size(self):
        path = os.path.join(self.root, 'inplace.txt')
        r1 = self.fetch('/inplace.txt')
        self.assertEqual(r1.body, b'version one AAAA\n')
        with open(path, 'r+b') as f:  # same inode, same size
            f.write(b'version two BBBB\n')
        self.get('/inplace.txt')  # may still be stale
        time.sleep(WAIT)
        r2 = self.get('/inplace.txt')
        self.assertEqual(r2.body, b'version two BBBB\n', 'stale bytes %.1f s after rewrite' % WAIT)
        self.assertNotEqual(r2.header('ETag'), r1.header('ETag'), 'ETag unchanged after rewrite')
        # and on a kept-alive connection too
        c = self.connect()
        try:
            for _ in range(3):
                c.send(build_request('/inplace.txt'))
                self.assertEqual(c.read_response().body, b'version two BBBB\n')
        finally:
            c.close()

    def test_rewrite_truncate_other_size(self):
        path = os.path.join(self.root, 'inplace2.txt')
        r1 = self.fetch('/inplace2.txt')
        with open(path, 'wb') as f:  # truncate + write, same inode
            f.write(b'a longer replacement body\n')
        time.sleep(WAIT)
        r2 = self.get('/inplace2.txt')
        self.assertEqual(r2.body, b'a longer replacement body\n')
        self.assertEqual(r2.header('Content-Length'), str(len(b'a longer replacement body\n')))
        self.assertNotEqual(r2.header('ETag'), r1.header('ETag'))

    def rename_case(self, name, keep_mtime):
        path = os.path.join(self.root, name)
        r1 = self.fetch('/' + name)
        self.assertEqual(r1.body, b'before rename\n')
        tmp = path + '.tmp'
        write(tmp, b'after  rename\n')  # same size
        if keep_mtime:  # like `rsync -t`: only the inode differs
            st = os.stat(path)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(tmp, path)
        time.sleep(WAIT)
        r2 = self.get('/' + name)
        self.assertEqual(r2.body, b'after  rename\n')
        self.assertNotEqual(r2.header('ETag'), r1.header('ETag'))

    def test_replace_via_rename(self):
        self.rename_case('renamed.txt', keep_mtime=False)

    def test_replace_via_rename_same_mtime_and_size(self):
        self.rename_case('renamed2.txt', keep_mtime=True)

    def test_created_after_404(self):
        self.assertStatus(self.fetch('/new.txt'), 404)
        write(os.path.join(self.root, 'new.txt'), b'brand new\n')
        time.sleep(WAIT)
        r = self.get('/new.txt')
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'brand new\n')

    def test_deleted_becomes_404(self):
        self.assertStatus(self.fetch('/deleted.txt'), 200)
        os.unlink(os.path.join(self.root, 'deleted.txt'))
        time.sleep(WAIT)
        self.assertStatus(self.get('/deleted.txt'), 404)

    def test_index_rewritten(self):
        r1 = self.fetch('/dir/')
        self.assertEqual(r1.body, b'<p>old index</p>\n')
        write(os.path.join(self.root, 'dir', 'index.html.tmp'), b'<p>NEW index</p>\n')
        os.rename(os.path.join(self.root, 'dir', 'index.html.tmp'),
                  os.path.join(self.root, 'dir', 'index.html'))
        time.sleep(WAIT)
        r2 = self.get('/dir/')
        self.assertEqual(r2.body, b'<p>NEW index</p>\n')
        self.assertNotEqual(r2.header('ETag'), r1.header('ETag'))


if __name__ == '__main__':
    harness.main()
