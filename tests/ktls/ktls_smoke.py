#!/usr/bin/python3
"""kTLS smoke test, no sluice involved: proves the kernel we run on does TLS records itself.

Run inside user-mode-linux:  tools/uml-run -- /usr/bin/python3 tests/ktls/ktls_smoke.py

For each (TLS version, cipher) it makes a loopback TCP pair, attaches the "tls" ULP to both ends,
gives the same fixed keys to TLS_TX on one end and TLS_RX on the other, and checks that
  * send() and sendfile() data comes out of recv() unchanged (the kernel encrypted and decrypted),
  * a plain (non-kTLS) reader sees TLS records (type 23, version 0x0303, the expected length),
    not the plaintext,
  * /proc/net/tls_stat TlsTxSw / TlsRxSw grew and TlsDecryptError did not,
  * a receiver given a different key gets EBADMSG and TlsDecryptError grows by one.
Exit 0 on success, 1 on any failure -- including a kernel without kTLS (TCP_ULP -> ENOENT): this
test is meant to run where kTLS must work.
"""

import errno
import os
import socket
import struct
import sys
import tempfile

SOL_TCP = 6
TCP_ULP = 31
SOL_TLS = 282
TLS_TX = 1
TLS_RX = 2

TLS_1_2 = 0x0303
TLS_1_3 = 0x0304
AES_GCM_128 = 51
AES_GCM_256 = 52
CHACHA20_POLY1305 = 54

TAG_LEN = 16


def crypto_info(version, cipher, seq=0):
    """struct tls12_crypto_info_* from <linux/tls.h>, filled with fixed test keys."""
    rec_seq = struct.pack(">Q", seq)
    head = struct.pack("=HH", version, cipher)
    if cipher == AES_GCM_128:      # iv[8] key[16] salt[4] rec_seq[8]
        return head + bytes(range(1, 9)) + bytes(range(16, 32)) + b"\xa1\xa2\xa3\xa4" + rec_seq
    if cipher == AES_GCM_256:      # iv[8] key[32] salt[4] rec_seq[8]
        return head + bytes(range(1, 9)) + bytes(range(32, 64)) + b"\xb1\xb2\xb3\xb4" + rec_seq
    if cipher == CHACHA20_POLY1305:  # iv[12] key[32] (no salt) rec_seq[8]
        return head + bytes(range(1, 13)) + bytes(range(64, 96)) + rec_seq
    raise ValueError(cipher)


def record_overhead(version, cipher):
    """Bytes a record adds to its plaintext, header excluded."""
    if version == TLS_1_3:
        return 1 + TAG_LEN                  # inner content type + tag
    if cipher in (AES_GCM_128, AES_GCM_256):
        return 8 + TAG_LEN                  # explicit nonce + tag
    return TAG_LEN


def tls_stat():
    try:
        with open("/proc/net/tls_stat") as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}
    except FileNotFoundError:
        return None


def tcp_pair():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        cli = socket.create_connection(lst.getsockname())
        srv, _ = lst.accept()
    return cli, srv


def attach_ulp(sock):
    try:
        sock.setsockopt(SOL_TCP, TCP_ULP, b"tls")
    except OSError as e:
        if e.errno == errno.ENOENT:
            fail_exit("setsockopt(TCP_ULP, \"tls\") failed with ENOENT: this kernel has no kTLS "
                      "(tls.ko not loaded?). Run this inside tools/uml-run.")
        raise


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def fail_exit(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_roundtrip(version, cipher, payload, datafile):
    """kTLS TX -> kTLS RX with the same keys: send() then sendfile(), read back, compare."""
    info = crypto_info(version, cipher)
    tx, rx = tcp_pair()
    with tx, rx:
        attach_ulp(tx)
        attach_ulp(rx)
        tx.setsockopt(SOL_TLS, TLS_TX, info)
        rx.setsockopt(SOL_TLS, TLS_RX, info)
        tx.sendall(payload)
        got = recv_exact(rx, len(payload))
        if got != payload:
            raise AssertionError("send(): received bytes differ from the sent ones")
        size = os.fstat(datafile.fileno()).st_size
        off = 0
        while off < size:
            n = os.sendfile(tx.fileno(), datafile.fileno(), off, size - off)
            if n <= 0:
                raise AssertionError(f"sendfile returned {n}")
            off += n
        got = recv_exact(rx, size)
        datafile.seek(0)
        if got != datafile.read():
            raise AssertionError("sendfile(): received bytes differ from the file")


def check_wire(version, cipher):
    """kTLS TX -> plain reader: the bytes on the wire are TLS records, not the plaintext."""
    msg = b"plaintext that must not appear on the wire " * 10
    tx, rx = tcp_pair()
    with tx, rx:
        attach_ulp(tx)
        tx.setsockopt(SOL_TLS, TLS_TX, crypto_info(version, cipher))
        tx.sendall(msg)
        expect = 5 + len(msg) + record_overhead(version, cipher)
        wire = recv_exact(rx, expect)
        ctype, ver, length = struct.unpack(">BHH", wire[:5])
        if (ctype, ver, length) != (23, 0x0303, expect - 5):
            raise AssertionError(f"record header {ctype}/{ver:#06x}/{length}, "
                                 f"want 23/0x0303/{expect - 5}")
        if b"plaintext" in wire:
            raise AssertionError("plaintext visible on the wire")


def check_wrong_key(version, cipher):
    """RX with a key that differs from TX's: the kernel must refuse the record (EBADMSG)."""
    tx, rx = tcp_pair()
    with tx, rx:
        attach_ulp(tx)
        attach_ulp(rx)
        good = crypto_info(version, cipher)
        bad = bytearray(good)
        bad[-9] ^= 0x01                      # last byte of the salt/iv/key area before rec_seq
        tx.setsockopt(SOL_TLS, TLS_TX, good)
        rx.setsockopt(SOL_TLS, TLS_RX, bytes(bad))
        tx.sendall(b"x" * 100)
        try:
            data = rx.recv(4096)
        except OSError as e:
            if e.errno != errno.EBADMSG:
                raise AssertionError(f"wrong key: recv failed with {e!r}, want EBADMSG")
            return
        raise AssertionError(f"wrong key: recv returned {len(data)} bytes, want EBADMSG")


def main():
    before = tls_stat()
    if before is None:
        fail_exit("/proc/net/tls_stat missing: this kernel has no kTLS (tls.ko not loaded?). "
                  "Run this inside tools/uml-run.")
    print(f"kernel {os.uname().release}")

    payload = os.urandom(300_000) + b"tail"
    cases = [
        ("TLS 1.3 AES-128-GCM", TLS_1_3, AES_GCM_128),
        ("TLS 1.3 AES-256-GCM", TLS_1_3, AES_GCM_256),
        ("TLS 1.3 ChaCha20-Poly1305", TLS_1_3, CHACHA20_POLY1305),
        ("TLS 1.2 AES-128-GCM", TLS_1_2, AES_GCM_128),
        ("TLS 1.2 AES-256-GCM", TLS_1_2, AES_GCM_256),
        ("TLS 1.2 ChaCha20-Poly1305", TLS_1_2, CHACHA20_POLY1305),
    ]
    failures = 0
    with tempfile.TemporaryFile() as datafile:
        datafile.write(os.urandom(200_003))
        datafile.flush()
        for name, version, cipher in cases:
            s0 = tls_stat()
            try:
                check_roundtrip(version, cipher, payload, datafile)
                check_wire(version, cipher)
                s1 = tls_stat()
                # roundtrip: 1 TX + 1 RX socket; wire check: 1 TX socket.
                if s1["TlsTxSw"] - s0["TlsTxSw"] != 2 or s1["TlsRxSw"] - s0["TlsRxSw"] != 1:
                    raise AssertionError(
                        f"tls_stat TlsTxSw +{s1['TlsTxSw'] - s0['TlsTxSw']} (want +2), "
                        f"TlsRxSw +{s1['TlsRxSw'] - s0['TlsRxSw']} (want +1)")
                if s1["TlsDecryptError"] != s0["TlsDecryptError"]:
                    raise AssertionError("TlsDecryptError grew")
                check_wrong_key(version, cipher)
                s2 = tls_stat()
                if s2["TlsDecryptError"] - s1["TlsDecryptError"] != 1:
                    raise AssertionError(
                        f"wrong key: TlsDecryptError "
                        f"+{s2['TlsDecryptError'] - s1['TlsDecryptError']} (want +1)")
                print(f"ok   {name}")
            except (AssertionError, OSError) as e:
                failures += 1
                print(f"FAIL {name}: {e}", file=sys.stderr)

    after = tls_stat()
    print("tls_stat deltas: " + ", ".join(
        f"{k} +{after[k] - before[k]}" for k in ("TlsTxSw", "TlsRxSw", "TlsDecryptError")))
    if failures:
        fail_exit(f"{failures} of {len(cases)} cases failed")
    print(f"all {len(cases)} cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
