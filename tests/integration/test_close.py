#!/usr/bin/env python3
"""How a plain-HTTP connection ends after `Connection: close` (RFC 9112 §9.6).

The server half-closes first, with its FIN in the response's last segment; it releases the
connection at once when nothing is pending and the response is acknowledged, and otherwise
lingers, reading and dropping input, so the client never gets an RST in place of its response.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import build_request, write  # noqa: E402

SMALL = bytes(range(256)) * 4          # 1 KiB: answered from the cache in one send
BIG = os.urandom(3 << 20)              # spliced from the file

TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04


class Capture:
    """Segments on `lo` from server port `port` to one client port (AF_PACKET; needs
    CAP_NET_RAW). Each entry: (flags, payload length)."""

    def __init__(self, port):
        self.port = port
        self.client_port = None
        self.segments = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
        self.sock.bind(('lo', 0))
        self.sock.settimeout(0.1)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue  # loopback shows each frame twice
            ip = frame[14:]
            if len(ip) < 20 or ip[9] != socket.IPPROTO_TCP:
                continue
            ihl = (ip[0] & 15) * 4
            tcp = ip[ihl:]
            sport, dport = struct.unpack('!HH', tcp[:4])
            if sport != self.port or (self.client_port is not None and dport != self.client_port):
                continue
            payload = struct.unpack('!H', ip[2:4])[0] - ihl - (tcp[12] >> 4) * 4
            self.segments.append((dport, tcp[13], payload))

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        return [(f, n) for (p, f, n) in self.segments if p == self.client_port]


class Close(harness.ServerTestCase):

    @classmethod
    def populate(cls, root, tmp):
        write(os.path.join(root, 'small.bin'), SMALL)
        write(os.path.join(root, 'big.bin'), BIG)

    def sockets(self):
        return harness.socket_fd_count(self.server.pid)

    def wait_sockets(self, target, timeout):
        deadline = time.monotonic() + timeout
        n = self.sockets()
        while n > target and time.monotonic() < deadline:
            time.sleep(0.02)
            n = self.sockets()
        return n

    def capture(self):
        try:
            return Capture(self.server.port)
        except PermissionError:
            self.skipTest('AF_PACKET capture needs CAP_NET_RAW (run as root)')

    def test_fin_rides_in_last_segment(self):
        cap = self.capture()
        c = self.connect()
        try:
            cap.client_port = c.sock.getsockname()[1]
            c.send(build_request('/small.bin', close=True))
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, SMALL)
            self.assertTrue(c.closed_by_peer(3), 'no EOF after Connection: close')
        finally:
            c.close()
            time.sleep(0.2)
            segs = cap.close()
        data = [(f, n) for (f, n) in segs if n > 0]
        fins = [(f, n) for (f, n) in segs if f & TCP_FIN]
        self.assertTrue(data, 'no data segments captured: %r' % segs)
        self.assertEqual(len(fins), 1, 'server FINs: %r' % segs)
        self.assertTrue(data[-1][0] & TCP_FIN, 'FIN not in the last data segment: %r' % segs)
        self.assertFalse(any(f & TCP_RST for (f, n) in segs), 'server sent RST: %r' % segs)

    def test_server_closes_first_and_lets_go(self):
        # The client keeps its socket open: the server must not wait for its FIN (nor for the
        # 2 s linger) once the response is acknowledged and nothing else arrived.
        base = self.sockets()
        for path, body in (('/small.bin', SMALL), ('/big.bin', BIG)):
            with self.subTest(path=path):
                c = self.connect()
                try:
                    c.send(build_request(path, close=True))
                    r = c.read_response()
                    self.assertEqual(r.body, body)
                    t0 = time.monotonic()
                    self.assertTrue(c.closed_by_peer(3), 'no EOF after Connection: close')
                    n = self.wait_sockets(base, 1.5)
                    self.assertEqual(n, base, 'connection still held %.2f s after its EOF: %s'
                                     % (time.monotonic() - t0, self.server.fd_summary()))
                finally:
                    c.close()

    def test_input_after_close_is_drained_not_reset(self):
        # A pipelined request after the closing one, then more bytes later: the server lingers
        # and drops them; the client reads the whole response and a clean EOF, never an RST.
        base = self.sockets()
        c = self.connect()
        try:
            c.send(build_request('/big.bin', close=True) + build_request('/small.bin'))
            time.sleep(0.2)
            c.send(b'X' * 65536)
            r = c.read_response()
            self.assertStatus(r, 200)
            self.assertEqual(r.body, BIG)
            try:
                c.sock.settimeout(3)
                rest = c.sock.recv(65536)
            except ConnectionResetError:
                self.fail('RST instead of EOF after the final response')
            self.assertEqual(rest, b'', 'bytes after the final response')
            # Still lingering: the client has not closed and input came after the response.
            self.assertGreater(self.sockets(), base)
        finally:
            c.close()
        self.assertEqual(self.wait_sockets(base, 2), base,
                         'connection kept after the client closed: ' + self.server.fd_summary())

    def test_linger_ends_without_client(self):
        base = self.sockets()
        c = self.connect()
        try:
            c.send(build_request('/small.bin', close=True) + b'GET /small.bin HTTP/1.1\r\n')
            self.assertEqual(c.read_response().body, SMALL)
            self.assertTrue(c.closed_by_peer(3))
            # Never closed by the client: released by the 2 s linger deadline.
            self.assertEqual(self.wait_sockets(base, 5), base,
                             'lingering connection never released: ' + self.server.fd_summary())
        finally:
            c.close()


if __name__ == '__main__':
    harness.main()
