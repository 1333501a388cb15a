#!/usr/bin/python3
"""--ktls-diag under a real kTLS kernel: runs INSIDE the UML guest (with the ipv6 module).

    tools/uml-run --modules ipv6 -- env SLUICE_BIN=build/src/sluice \
        /usr/bin/python3 tests/ktls/sluice_ktls_diag_guest.py

1. `--ktls require --ktls-diag always`, listening on 127.0.0.1 and [::1] (sluice's IPv6
   listeners are V6ONLY, so no v4-mapped peers): curl fetches over TLS 1.3 and 1.2 on each. sock_diag is
   asked for every connection: sluice_ktls_diag_{tx,rx}_sw_total == connections, *_hw_total 0,
   sluice_ktls_diag_failed_total 0, sluice_tls_connections_kernel_hw_total 0; every access log line
   ends with "kernel-sw"; every body is byte-exact.
2. The default (`auto`) on a machine whose interfaces do not offload TLS (loopback only): sock_diag
   is never asked (all diag counters 0), the access log still says "kernel-sw".
Exit 0 pass, 1 fail, 77 skip (no SLUICE_BIN, not inside a kTLS kernel, no IPv6 loopback).
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def skip(msg):
    print(f"SKIP: {msg}", file=sys.stderr)
    sys.exit(77)


sluice = os.environ.get("SLUICE_BIN", "")
if not sluice or not os.access(sluice, os.X_OK):
    skip("set SLUICE_BIN to the sluice binary")
if not os.access("/proc/net/tls_stat", os.R_OK):
    skip("no /proc/net/tls_stat: run me through tools/uml-run")
try:
    socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
except OSError as e:
    skip(f"no IPv6 loopback ({e}): run with tools/uml-run --modules ipv6")

failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f" -- {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(what)
    return ok


work = tempfile.mkdtemp()  # TMPDIR: the guest tmpfs
root = os.path.join(work, "www")
os.mkdir(root)
files = {}
for size in (1, 16385, 300000):
    data = os.urandom(size)
    files[f"f{size}"] = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, f"f{size}"), "wb") as f:
        f.write(data)


def serve(extra, listens):
    log = os.path.join(work, "sluice-%d.log" % len(os.listdir(work)))
    access = log + ".access"
    args = [sluice, "--self-signed", "--ktls", "require", "--access-log", access, "--threads",
            "2", "--shutdown-grace", "2"] + extra
    for addr in listens:
        args += ["--tls-listen", addr]
    srv = subprocess.Popen(args + [root], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    return srv, log, access


def wait_port(srv, host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect((host, port))
            s.close()
            return True
        except OSError:
            if srv.poll() is not None:
                return False
            time.sleep(0.1)
    return False


def fetch(url_base, tls_args):
    """One curl, one connection (keep-alive), every file; returns connections made."""
    names = sorted(files)
    cmd = ["curl", "-sS", "--insecure", "-w", "%{num_connects}\n"] + tls_args
    outs = []
    for n in names:
        out = os.path.join(work, f"got-{n}")
        outs.append(out)
        cmd += [f"{url_base}/{n}", "-o", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"curl {url_base} {' '.join(tls_args)} exits 0", p.stderr[-500:])
    for n, out in zip(names, outs):
        try:
            with open(out, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            got = ""
        check(got == files[n], f"{url_base}/{n} byte-exact ({' '.join(tls_args)})")
    return sum(int(x) for x in p.stdout.split() if x.isdigit())


def stop(srv, log):
    srv.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    srv.send_signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=15)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = srv.wait()
    check(rc == 0, f"sluice exits 0 on SIGTERM (status {rc})")
    with open(log, "rb") as f:
        text = f.read().decode(errors="replace")
    return {k: int(v) for k, v in re.findall(r"(?m)^(sluice_\w+)\s+(\d+)$", text)}, text


def access_modes(access):
    with open(access, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()
    return lines, [ln.rsplit(" ", 1)[-1] for ln in lines]


TLS13 = ["--tlsv1.3"]
TLS12 = ["--tlsv1.2", "--tls-max", "1.2"]

# ---- 1. --ktls-diag always, IPv4 and IPv6 --------------------------------------------------
print("== always", flush=True)
srv, log, access = serve(["--ktls-diag", "always"],
                         ["127.0.0.1:8443", "[::1]:8444"])
if not (wait_port(srv, "127.0.0.1", 8443) and wait_port(srv, "::1", 8444)):
    print(open(log, errors="replace").read()[-2000:], file=sys.stderr)
    print("FAIL: sluice did not listen", file=sys.stderr)
    sys.exit(1)
conns = 0
for base in ("https://127.0.0.1:8443", "https://[::1]:8444"):
    for tls in (TLS13, TLS12):
        conns += fetch(base, tls)
counters, text = stop(srv, log)
print(f"     {conns} connections; counters: " + ", ".join(
    f"{k}={v}" for k, v in sorted(counters.items()) if "diag" in k or "connections_" in k))
check(conns >= 4, f"{conns} connections >= 4")
kernel = counters.get("sluice_tls_connections_kernel_total", -1)
check(kernel >= conns, f"sluice_tls_connections_kernel_total {kernel} >= {conns}")
for d in ("tx", "rx"):
    sw = counters.get(f"sluice_ktls_diag_{d}_sw_total", -1)
    hw = counters.get(f"sluice_ktls_diag_{d}_hw_total", -1)
    check(sw == kernel, f"sluice_ktls_diag_{d}_sw_total {sw} == kernel connections {kernel}")
    check(hw == 0, f"sluice_ktls_diag_{d}_hw_total {hw} == 0 (loopback never offloads)")
check(counters.get("sluice_ktls_diag_failed_total", -1) == 0,
      "sluice_ktls_diag_failed_total == 0", text[-1500:])
check(counters.get("sluice_tls_connections_kernel_hw_total", -1) == 0,
      "sluice_tls_connections_kernel_hw_total == 0")
lines, modes = access_modes(access)
check(len(lines) == 4 * len(files), f"access log: {len(lines)} lines == {4 * len(files)}")
check(lines and all(m == "kernel-sw" for m in modes), "access log: every line ends with kernel-sw",
      "; ".join(ln for ln, m in zip(lines, modes) if m != "kernel-sw")[:600])

# ---- 2. default (auto): no offloading interface, so sock_diag is never asked ------------------
print("== auto (default)", flush=True)
srv, log, access = serve([], ["127.0.0.1:8443"])
if not wait_port(srv, "127.0.0.1", 8443):
    print("FAIL: sluice did not listen", file=sys.stderr)
    sys.exit(1)
conns = fetch("https://127.0.0.1:8443", TLS13)
counters, text = stop(srv, log)
check("sock_diag" not in text, "auto: no sock_diag line at startup (no interface offloads TLS)",
      text[-800:])
diag = {k: v for k, v in counters.items() if k.startswith("sluice_ktls_diag_")}
check(len(diag) == 5 and all(v == 0 for v in diag.values()),
      f"auto: every diag counter 0 ({diag})")
check(counters.get("sluice_tls_connections_kernel_total", 0) >= conns >= 1,
      "auto: connections in the kernel")
lines, modes = access_modes(access)
check(lines and all(m == "kernel-sw" for m in modes), "auto: access log says kernel-sw")

if failures:
    print(f"FAIL: {len(failures)} check(s) failed:", file=sys.stderr)
    for f_ in failures:
        print(f"  {f_}", file=sys.stderr)
    sys.exit(1)
print("all checks passed")
