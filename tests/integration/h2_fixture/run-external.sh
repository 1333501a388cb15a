#!/usr/bin/env bash
# Validates the HTTP/2 test modules against a reference server instead of sluice.
#
#   tests/integration/h2_fixture/run-external.sh [nghttpd|nghttpd-sluice|h2o] [MODULE...]
#
# Fills a fixture root (h2util.py populate), makes a self-signed cert, starts the reference on
# two free loopback ports (h2c prior knowledge and TLS with ALPN h2), runs each module with
# SLUICE_H2_EXTERNAL / SLUICE_H2_EXTERNAL_TLS / SLUICE_H2_ROOT / SLUICE_H2_REF set, stops the
# server. Modules default to test_h2_frames.py and test_h2_clients.py. Exit: 0 when every
# module exited 0 (each test passed or failed as its module's deviation list expects).
#   nghttpd:        nghttpd --no-tls -a 127.0.0.1 -d ROOT PORT  and
#                   nghttpd -a 127.0.0.1 -d ROOT PORT KEY CERT
#   nghttpd-sluice: the same with -m 128 --no-rfc7540-pri (sluice's SETTINGS, RFC 9218)
#   h2o:     h2o -c CONF (two listeners, file.dir ROOT)
# Env: H2_ROOT (default: a temp dir, kept between runs as /tmp/sluice-h2-ref-root),
# PYTHON (default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF="${1:-nghttpd}"
shift || true
MODULES=("$@")
[ ${#MODULES[@]} -gt 0 ] || MODULES=(test_h2_frames.py test_h2_clients.py)
PY="${PYTHON:-python3}"
ROOT="${H2_ROOT:-/tmp/sluice-h2-ref-root}"
WORK="$(mktemp -d /tmp/sluice-h2-ref.XXXXXX)"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local port="$1" i
    for i in $(seq 1 100); do
        if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "run-external: nothing listens on 127.0.0.1:$port" >&2
    return 1
}

"$PY" "$HERE/h2util.py" populate "$ROOT" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

H2C_PORT="$(free_port)"
TLS_PORT="$(free_port)"
while [ "$TLS_PORT" = "$H2C_PORT" ]; do TLS_PORT="$(free_port)"; done

case "$REF" in
nghttpd | nghttpd-sluice)
    command -v nghttpd >/dev/null || { echo "SKIP: nghttpd missing (Debian nghttp2-server)"; exit 77; }
    OPTS=()
    [ "$REF" = nghttpd ] || OPTS=(-m 128 --no-rfc7540-pri)
    nghttpd "${OPTS[@]}" --no-tls -a 127.0.0.1 -d "$ROOT" "$H2C_PORT" >"$WORK/h2c.log" 2>&1 &
    PIDS+=($!)
    nghttpd "${OPTS[@]}" -a 127.0.0.1 -d "$ROOT" "$TLS_PORT" "$WORK/key.pem" "$WORK/cert.pem" \
        >"$WORK/tls.log" 2>&1 &
    PIDS+=($!)
    ;;
h2o)
    command -v h2o >/dev/null || { echo "SKIP: h2o missing (Debian h2o)"; exit 77; }
    cat >"$WORK/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $H2C_PORT
listen:
  host: 127.0.0.1
  port: $TLS_PORT
  ssl:
    certificate-file: $WORK/cert.pem
    key-file: $WORK/key.pem
hosts:
  default:
    paths:
      /:
        file.dir: $ROOT
        file.send-gzip: ON
EOF
    # as root, h2o would switch to nobody, who cannot read the mktemp dir
    [ "$(id -u)" -ne 0 ] || echo 'user: root' >>"$WORK/h2o.conf"
    h2o -c "$WORK/h2o.conf" >"$WORK/h2o.log" 2>&1 &
    PIDS+=($!)
    ;;
*)
    echo "usage: $0 [nghttpd|nghttpd-sluice|h2o] [MODULE...]" >&2
    exit 2
    ;;
esac
wait_port "$H2C_PORT"
wait_port "$TLS_PORT"

status=0
for m in "${MODULES[@]}"; do
    echo "=== $m against $REF (h2c 127.0.0.1:$H2C_PORT, tls 127.0.0.1:$TLS_PORT, root $ROOT)"
    SLUICE_H2_EXTERNAL="127.0.0.1:$H2C_PORT" SLUICE_H2_EXTERNAL_TLS="127.0.0.1:$TLS_PORT" \
        SLUICE_H2_ROOT="$ROOT" SLUICE_H2_REF="$REF" PYTHONDONTWRITEBYTECODE=1 \
        "$PY" "$HERE/$m" || status=1
done
exit $status
