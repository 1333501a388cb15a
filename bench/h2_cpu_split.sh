#!/bin/bash
# bench/h2_cpu_split.sh SLUICE — a 1 KiB h2 request's server CPU split into user and kernel
# time (/proc/PID/stat before and after), sluice on CPU 1 with --threads 1, h2load -c16 -m32
# for 5 s on CPU 0; over h2c and over TLS 1.3. The kernel part is the floor under a per-request
# target that a userspace HTTP/2 library's cost adds to (docs/performance.md).
set -euo pipefail
sluice=${1:?usage: h2_cpu_split.sh SLUICE}
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir "$tmp/www"; head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(port); tp=$(port)
taskset -c 1 "$sluice" --threads 1 --access-log off --listen 127.0.0.1:$hp --tls-listen 127.0.0.1:$tp \
    --cert "$tmp/cert.pem" --key "$tmp/key.pem" --tls-versions 1.3 "$tmp/www" >/dev/null 2>&1 &
pid=$!
sleep 1
tck=$(getconf CLK_TCK)
for url in http://127.0.0.1:$hp/1k.bin https://127.0.0.1:$tp/1k.bin; do
    taskset -c 0 h2load -c16 -m32 -D 2 "$url" >/dev/null 2>&1  # warm-up
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    out=$(taskset -c 0 h2load -c16 -m32 -D 5 "$url" 2>&1)
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    n=$(echo "$out" | awk '/^requests:/{print $8}')
    python3 -c "n=$n; u=($u1-$u0)/$tck; s=($s1-$s0)/$tck; print(f'${url%%:*}: {n} requests; server user {u*1e6/n:.2f} us/req, kernel {s*1e6/n:.2f} us/req, total {(u+s)*1e6/n:.2f}')"
done
