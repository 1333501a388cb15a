#!/usr/bin/env python3
"""tools/check_layers.py — the module rules of docs/design.md, checked on the sources.

Each module (a directory under src/) may include only the modules of its row; each third-party
library only from the files that own it; no io_uring call outside core/. Meson links each
module's unit test against its own row, so an upward *call* fails to link — this catches the
upward *include* of an inline-only header, which would still compile. Exit 0 = clean, 1 = a
violation (each printed with file:line).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')

# module -> modules it may include (itself always)
ALLOWED = {
    'base': set(),
    'obs': {'base'},
    'config': {'base', 'obs'},
    'core': {'base', 'obs'},
    'net': {'core', 'base', 'obs'},
    'http': {'base', 'obs'},
    'files': {'base', 'obs'},
    'tls': {'base', 'obs'},
    'ktls': {'tls', 'base', 'obs'},
    'record': {'tls', 'ktls', 'base', 'obs'},
    'output': {'files', 'base'},
    'handler': {'files', 'http', 'obs', 'base'},
    'transport': {'output', 'files', 'core', 'tls', 'ktls', 'record', 'obs', 'base'},
    'session': {'output', 'handler', 'http', 'files', 'obs', 'base'},
    'server': None,  # the top: anything below it; nothing includes server/
}

# third-party header -> the only paths (prefixes under src/) that may include it
OWNED = [
    (re.compile(r'#include\s*<liburing\.h>'), ('core/ring.cc',)),
    (re.compile(r'#include\s*<(wolfssl|cyassl)/'), ('tls/',)),
    (re.compile(r'#include\s*[<"]llhttp\.h[>"]'), ('http/parser.cc',)),
    (re.compile(r'#include\s*<nghttp2/'), ('session/h2',)),
    (re.compile(r'#include\s*<openssl/'), ('record/', 'tls/accel_ossl.cc')),
]
URING_CALL = re.compile(r'\bio_uring_[a-z_]+\s*\(|\bIORING_|\bIOSQE_')
INCLUDE = re.compile(r'^\s*#\s*include\s*"([a-z_]+)/')


def main():
    bad = []
    for dirpath, _, names in os.walk(ROOT):
        for name in sorted(names):
            if not name.endswith(('.h', '.cc')):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, ROOT)
            module = rel.split(os.sep)[0] if os.sep in rel else None
            with open(path, encoding='utf-8') as f:
                lines = f.read().split('\n')
            for n, line in enumerate(lines, 1):
                m = INCLUDE.match(line)
                if m and module:
                    dep = m.group(1)
                    if module not in ALLOWED:
                        bad.append('%s:%d: module %s has no row in tools/check_layers.py'
                                   % (rel, n, module))
                    elif dep == 'server' and module != 'server':
                        bad.append('%s:%d: includes server/ (nothing may)' % (rel, n))
                    elif ALLOWED[module] is not None and dep != module and \
                            dep not in ALLOWED[module]:
                        bad.append('%s:%d: %s/ may not include %s/' % (rel, n, module, dep))
                for pat, owners in OWNED:
                    if pat.search(line) and not rel.startswith(owners):
                        bad.append('%s:%d: %s belongs to %s only' % (rel, n, line.strip(),
                                                                   ', '.join(owners)))
                code = line.split('//', 1)[0]
                if module != 'core' and URING_CALL.search(code):
                    bad.append('%s:%d: io_uring outside core/: %s' % (rel, n, line.strip()))
    for b in bad:
        print(b)
    print('layers: %d violation(s)' % len(bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
