#!/bin/bash
# tests/ktls/sluice_https_guest.sh — runs INSIDE the UML guest (via tools/uml-run): start sluice
# with --ktls require, fetch files over HTTPS with curl and gnutls-cli for every TLS version and
# cipher, compare every byte with sha256, and prove the kernel did the record layer with
# /proc/net/tls_stat deltas. The template for the sluice kTLS tests under UML.
#
#   tools/uml-run -- env SLUICE_BIN=build/src/sluice bash tests/ktls/sluice_https_guest.sh
#
# Exit 0 pass, 1 fail, 77 skip (not inside a kTLS kernel, or no SLUICE_BIN).
set -uo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

sluice="${SLUICE_BIN:-}"
[ -n "$sluice" ] && [ -x "$sluice" ] || skip "set SLUICE_BIN to the sluice binary"
[ -r /proc/net/tls_stat ] || skip "no /proc/net/tls_stat: run me through tools/uml-run"

stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }

# The guest is a machine of its own: fixed ports cannot clash with anything on the host.
port=8443
work="$(mktemp -d)"   # TMPDIR is the guest's tmpfs
root="$work/www"
mkdir -p "$root"
# Sizes around the 16 KiB record boundary, a few MiB for sendfile/splice.
for size in 0 1 16383 16384 16385 65536 1048583 4194304; do
    head -c "$size" /dev/urandom >"$root/f$size"
done
(cd "$root" && sha256sum f*) >"$work/sums"

"$sluice" --listen 127.0.0.1:8080 --tls-listen "127.0.0.1:$port" --self-signed --ktls require \
    --access-log off --threads 1 "$root" >"$work/sluice.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/sluice.log" >&2; fail "sluice exited at start"; }
    sleep 0.1
done

tx0=$(stat TlsTxSw); rx0=$(stat TlsRxSw); err0=$(stat TlsDecryptError)
conns=0
failures=0

check_dir() {   # check_dir LABEL DIR: every downloaded file must match its sha256
    if ! (cd "$2" && sha256sum --quiet -c "$work/sums"); then
        echo "FAIL $1: content mismatch" >&2
        failures=$((failures + 1))
    else
        echo "ok   $1"
    fi
}

# curl (OpenSSL): one invocation per version/cipher fetches every file (process starts are slow
# under UML, ~0.1 s each); --write-out num_connects counts the connections it opened.
for spec in "1.3 TLS_AES_128_GCM_SHA256" "1.3 TLS_AES_256_GCM_SHA384" \
            "1.3 TLS_CHACHA20_POLY1305_SHA256" "1.2 ECDHE-ECDSA-AES128-GCM-SHA256" \
            "1.2 ECDHE-ECDSA-AES256-GCM-SHA384" "1.2 ECDHE-ECDSA-CHACHA20-POLY1305"; do
    read -r ver suite <<<"$spec"
    out="$work/got"; rm -rf "$out"; mkdir "$out"
    if [ "$ver" = 1.3 ]; then opts=(--tlsv1.3 --tls13-ciphers "$suite")
    else opts=(--tlsv1.2 --tls-max 1.2 --ciphers "$suite"); fi
    urls=()
    for f in "$root"/f*; do urls+=(-o "$out/${f##*/}" "https://127.0.0.1:$port/${f##*/}"); done
    # curl offers ALPN h2,http/1.1: HTTP/2 over the kernel's records (DATA frames of 16,375
    # bytes, one per 16 KiB record); the first suite also once over HTTP/1.1 (splice).
    for proto in --http2 --http1.1; do
        [ "$proto" = --http1.1 ] && [ "$suite" != TLS_AES_128_GCM_SHA256 ] && continue
        rm -rf "$out"; mkdir "$out"
        want=2; [ "$proto" = --http1.1 ] && want=1.1
        res=$(curl -sS --insecure "$proto" "${opts[@]}" -w '%{num_connects} %{http_version}\n' "${urls[@]}")
        n=$(awk '{ s += $1 } END { print s + 0 }' <<<"$res")
        bad=$(awk -v w="$want" '$2 != w' <<<"$res" | head -1)
        conns=$((conns + n))
        if [ -n "$bad" ]; then
            echo "FAIL curl $proto TLS $ver $suite: HTTP version '$bad', want $want" >&2
            failures=$((failures + 1))
        fi
        check_dir "curl $proto TLS $ver $suite ($n connection(s))" "$out"
    done
done

# gnutls-cli: an independent TLS implementation, on a small file: under UML it needs ~30 s of CPU
# per MiB received (curl and openssl do not). It stops at EOF on stdin, so stdin stays open
# (a process substitution, which bash does not wait for) until the server closes.
gnutls-cli --insecure --logfile=/dev/null \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305' -p "$port" 127.0.0.1 \
    < <(printf 'GET /f65536 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; exec sleep 60) \
    >"$work/gnutls.raw" 2>"$work/gnutls.err"
conns=$((conns + 1))
# The body is what follows the first blank line.
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(d[d.find(b"\r\n\r\n") + 4:])' \
    "$work/gnutls.raw" >"$work/gnutls.body"
if cmp -s "$work/gnutls.body" "$root/f65536"; then
    echo "ok   gnutls-cli TLS 1.3 CHACHA20-POLY1305"
else
    echo "FAIL gnutls-cli: content mismatch ($(wc -c <"$work/gnutls.raw") bytes received)" >&2
    cat "$work/gnutls.err" >&2
    failures=$((failures + 1))
fi

# Cold pages: a file on hostfs, dropped from the guest's page cache, served over HTTP/2 by a
# second sluice: its DATA payloads are read by the ring into the frames' slots and go to the
# kernel's records from memory (sluice_file_ring_read_bytes_total grows), byte-exact.
cold="$(mktemp -d /var/tmp/sluice-ktls-cold.XXXXXX)"
head -c 4194304 /dev/urandom >"$cold/cold.bin"
sync; echo 3 >/proc/sys/vm/drop_caches
"$sluice" --listen 127.0.0.1:8081 --tls-listen 127.0.0.1:8444 --self-signed --ktls require \
    --access-log off --threads 1 "$cold" >"$work/cold.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/8444") 2>/dev/null && break
    sleep 0.1
done
res=$(curl -sS --insecure --http2 -o "$work/cold.got" -w '%{http_version}' https://127.0.0.1:8444/cold.bin)
conns=$((conns + 1))
kill -USR1 "$cpid"; sleep 0.5
ring=$(awk '$1 == "sluice_file_ring_read_bytes_total" { print $2 }' "$work/cold.log")
kill "$cpid"; wait "$cpid" 2>/dev/null
if [ "$res" = 2 ] && cmp -s "$work/cold.got" "$cold/cold.bin" && [ "${ring:-0}" -gt 0 ]; then
    echo "ok   curl --http2 cold pages (${ring} bytes read by the ring)"
else
    echo "FAIL curl --http2 cold pages: HTTP '$res', ring reads '${ring:-none}'" >&2
    cmp "$work/cold.got" "$cold/cold.bin" >&2
    tail -n 5 "$work/cold.log" >&2
    failures=$((failures + 1))
fi
rm -rf "$cold"

tx=$(( $(stat TlsTxSw) - tx0 )); rx=$(( $(stat TlsRxSw) - rx0 )); err=$(( $(stat TlsDecryptError) - err0 ))
echo "connections $conns; tls_stat: TlsTxSw +$tx, TlsRxSw +$rx, TlsDecryptError +$err"
# --ktls require: every connection's TX and RX must have gone to the kernel.
[ "$tx" -ge "$conns" ] || { echo "FAIL: TlsTxSw +$tx < $conns connections" >&2; failures=$((failures + 1)); }
[ "$rx" -ge "$conns" ] || { echo "FAIL: TlsRxSw +$rx < $conns connections" >&2; failures=$((failures + 1)); }
[ "$err" -eq 0 ] || { echo "FAIL: TlsDecryptError +$err" >&2; failures=$((failures + 1)); }
kill -0 "$pid" 2>/dev/null || { cat "$work/sluice.log" >&2; fail "sluice died"; }
[ "$failures" -eq 0 ] || { tail -n 20 "$work/sluice.log" >&2; fail "$failures check(s) failed"; }
echo "all checks passed"
