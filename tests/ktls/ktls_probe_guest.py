#!/usr/bin/python3
"""`sluice --ktls-probe` inside the UML guest (kernel 6.1 with tls.ko): runs INSIDE the guest.

    tools/uml-run -- env SLUICE_BIN=build/src/sluice /usr/bin/python3 tests/ktls/ktls_probe_guest.py

Asserts: exit status 0; the tls ULP is available; TLS_TX and TLS_RX "yes" for TLS 1.2 and 1.3 with
AES128-GCM, AES256-GCM and CHACHA20-POLY1305; TLS_TX_ZEROCOPY_RO settable and read back as 1;
TLS_RX_EXPECT_NO_PAD "yes" (TLS 1.3); TLS 1.3 rekey "no" below kernel 6.14 ("yes" from 6.14);
/proc/net/tls_stat present; sock_diag reports TX sw, RX sw for the TLS 1.2 AES-128-GCM loopback
socket; the kernel version line names this kernel.
Exit 0 pass, 1 fail, 77 skip (no SLUICE_BIN, or not inside a kTLS kernel).
"""

import os
import re
import subprocess
import sys


def skip(msg):
    print(f"SKIP: {msg}", file=sys.stderr)
    sys.exit(77)


sluice = os.environ.get("SLUICE_BIN", "")
if not sluice or not os.access(sluice, os.X_OK):
    skip("set SLUICE_BIN to the sluice binary")
if not os.access("/proc/net/tls_stat", os.R_OK):
    skip("no /proc/net/tls_stat: run me through tools/uml-run")

p = subprocess.run([sluice, "--ktls-probe"], capture_output=True, text=True, timeout=60)
out = p.stdout
print(out, end="")
if p.stderr:
    print(p.stderr, end="", file=sys.stderr)

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def value(label):
    """The text after LABEL on its line (labels are left-aligned, values after blanks)."""
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(label):
            return line[len(label):].strip()
    return None


check(p.returncode == 0, f"--ktls-probe exit status {p.returncode} == 0")
release = os.uname().release
check(value("kTLS probe, kernel") == release, f"probe names the kernel {release}")
check(value('tls ULP (TCP_ULP "tls")') == "yes", "tls ULP available")
for ver in ("TLSv1.2", "TLSv1.3"):
    for cipher in ("AES128-GCM", "AES256-GCM", "CHACHA20-POLY1305"):
        for direction in ("TLS_TX", "TLS_RX"):
            v = value(f"{direction} {ver} {cipher} ")
            check(v == "yes", f"{direction} {ver} {cipher}: {v!r} == 'yes'")
check(value("TLS_TX_ZEROCOPY_RO set") == "yes", "TLS_TX_ZEROCOPY_RO set: yes")
check(value("TLS_TX_ZEROCOPY_RO get") == "yes", "TLS_TX_ZEROCOPY_RO get: yes")
check(value("value read back:") == "1", f"TLS_TX_ZEROCOPY_RO read back {value('value read back:')!r} == '1'")
check(value("TLS_RX_EXPECT_NO_PAD (TLS 1.3)") == "yes", "TLS_RX_EXPECT_NO_PAD (TLS 1.3): yes")
m = re.match(r"(\d+)\.(\d+)", release)
kernel = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
rekey = value("TLS 1.3 rekey (TLS_TX twice)") or ""
want = "yes" if kernel >= (6, 14) else "no"
check(rekey.split(" ")[0] == want,
      f"TLS 1.3 rekey {rekey!r} starts with {want!r} (kernel {kernel[0]}.{kernel[1]})")
check(value("/proc/net/tls_stat") == "yes", "/proc/net/tls_stat: yes")
# sock_diag on the TLS 1.2 AES-128-GCM loopback socket: loopback is always software kTLS.
diag = value("sock_diag TLS info (loopback pair)") or ""
check(diag == "TX sw, RX sw (TLS 1.2, AES-GCM-128)",
      f"sock_diag TLS info {diag!r} == 'TX sw, RX sw (TLS 1.2, AES-GCM-128)'")

if failures:
    print(f"FAIL: {len(failures)} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("all checks passed")
