#!/usr/bin/env python3
"""Sums meson's testlog.json of each build dir and prints 'N passed, N failed, N skipped'."""
import json
import os
import sys

passed = failed = skipped = 0
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{d}: no test log (build or test run failed)")
        failed += 1
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            res = r.get("result")
            name = f"{os.path.basename(d)}/{r.get('name')}"
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
                print(f"SKIP {name}")
            else:
                failed += 1
                print(f"FAIL {name} ({res})")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
