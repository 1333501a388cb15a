#!/usr/bin/env python3
"""RSS per idle HTTP/2 connection that has served one request (bench/compare's h2-idle-rss
opens connections that never send one). Starts sluice (threads 1), opens N TLS connections
with ALPN h2, GETs PATH on each, reads the response whole, leaves them open, and prints the
server's VmRSS growth per connection. Usage: h2_idle_after_request.py SLUICE [N] [PATH]."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.append("/usr/lib/python3/dist-packages")  # Debian python3-h2 under any python3
import h2.config
import h2.connection
import h2.events


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def main():
    sluice = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    path = sys.argv[3] if len(sys.argv) > 3 else "/1k.bin"
    tmp = tempfile.mkdtemp()
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "1k.bin"), "wb") as f:
        f.write(os.urandom(1024))
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    port, plain = free_port(), free_port()
    srv = subprocess.Popen([sluice, "--threads", "1", "--access-log", "off",
                            "--listen", f"127.0.0.1:{plain}", "--tls-listen", f"127.0.0.1:{port}",
                            "--cert", cert, "--key", key, "--max-connections", "20000",
                            "--keepalive-timeout", "300", www],
                           stderr=subprocess.DEVNULL)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])

    def one():
        raw = socket.create_connection(("127.0.0.1", port))
        t = ctx.wrap_socket(raw, server_hostname="localhost")
        assert t.selected_alpn_protocol() == "h2"
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        c.initiate_connection()
        c.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                           (":authority", "localhost"), (":path", path)], end_stream=True)
        t.sendall(c.data_to_send())
        done = False
        while not done:
            data = t.recv(65536)
            if not data:
                raise SystemExit("server closed")
            for e in c.receive_data(data):
                if isinstance(e, h2.events.DataReceived):
                    c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                if isinstance(e, h2.events.StreamEnded):
                    done = True
            t.sendall(c.data_to_send())
        return t

    try:
        for _ in range(50):
            try:
                keep = [one()]
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.5)
        r0 = rss_kib(srv.pid)
        for _ in range(n):
            keep.append(one())
        time.sleep(1.5)  # a few ticks: idle connections hand back what they can
        r1 = rss_kib(srv.pid)
        print(f"{(r1 - r0) / n:.1f} KiB per idle h2 connection after one GET {path} "
              f"({r0} -> {r1} KiB with {n} more connections)")
    finally:
        srv.terminate()
        srv.wait(10)


if __name__ == "__main__":
    main()
