#!/usr/bin/env python3
"""traffic.py: the python peers of bench/make-capture.sh (standard library only).

    traffic.py server --http IP:PORT --sink IP:PORT --udp IP:PORT
        one process, a thread per connection:
        --http  raw HTTP/1.1 server, keep-alive, behaviour by path:
                  GET /any?n=N      200 with N bytes (default 512)
                  POST /upload      100 Continue if asked, read the body, 201
                  POST /no100       never sends 100 (the client falls back), 201
                  POST /reject      417 to any Expect without reading the body
                                    (keep-alive); without Expect read the body, 201
                  POST /auth        401 to any Expect without reading the body
                                    (keep-alive); without Expect read the body, 201
                  POST /late        Expect: 100 after 150 ms, whatever the body did
        --sink  non-HTTP TCP: a stream starting with 0x16 0x03 (TLS-looking client
                hello) is answered with TLS-looking application-data records, the
                count of bytes asked for in the hello; any other stream is read to
                EOF and answered with 16 random bytes
        --udp   discards datagrams

    traffic.py client KIND --server IP --port P --conns N --seed S
        KIND http-mixed: N keep-alive connections, 2-8 requests each, a mix of GETs,
                 Expect POSTs that wait for 100 (or a 417/401, or time out and send
                 the body anyway), same-segment Expect bodies and plain POSTs;
                 417s are retried without Expect on the same connection.
                 --flavor nginx|python|node picks the paths that server has.
        KIND bulk:  N raw TCP streams of --size bytes of random data to the sink
        KIND tls:   N TLS-looking streams: a fake client hello, --size bytes back
        KIND udp:   N small datagrams (40-300 bytes)
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import threading
import time

CRLF = b"\r\n"


def log(*a):
    print("traffic:", *a, file=sys.stderr, flush=True)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def fill(self, timeout=None):
        if timeout is not None:
            r, _, _ = select.select([self.s], [], [], timeout)
            if not r:
                return False
        d = self.s.recv(262144)
        if not d:
            raise EOFError
        self.buf += d
        return True

    def head(self, timeout=None):
        """One message head (bytes before CRLFCRLF), or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.fill(left):
                return None
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = h.split(CRLF)
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        return lines[0], hdrs

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def skip_body(self, hdrs):
        """Skip a response body framed by Content-Length or chunked."""
        if b"chunked" in hdrs.get(b"transfer-encoding", b"").lower():
            while True:
                n = int(self.line().split(b";")[0], 16)
                if n == 0:
                    while self.line():       # trailers, up to the empty line
                        pass
                    return
                self.skip(n + 2)
        self.skip(int(hdrs.get(b"content-length", b"0") or 0))

    def skip(self, n):
        while len(self.buf) < n:
            n -= len(self.buf)
            self.buf = b""
            self.fill()
        self.buf = self.buf[n:]

    def send(self, b):
        self.s.sendall(b)


# ------------------------------------------------------------------ server

def http_answer(c, status, reason, body=b"", close=False):
    h = b"HTTP/1.1 %d %s\r\nServer: bench-python\r\nContent-Length: %d\r\n" % (
        status, reason, len(body))
    h += b"Connection: close\r\n" if close else b""
    c.send(h + CRLF + body)


def http_conn(sock):
    c = Conn(sock)
    try:
        while True:
            m = c.head()
            line, hdrs = m
            parts = line.split(b" ")
            if len(parts) != 3:
                return
            method, uri = parts[0], parts[1]
            path, _, query = uri.partition(b"?")
            n = int(hdrs.get(b"content-length", b"0") or 0)
            expect = hdrs.get(b"expect", b"").lower() == b"100-continue"
            close = hdrs.get(b"connection", b"").lower() == b"close"
            if method == b"GET" or method == b"HEAD":
                size = 512
                for kv in query.split(b"&"):
                    if kv.startswith(b"n="):
                        size = int(kv[2:])
                http_answer(c, 200, b"OK", os.urandom(size) if size else b"", close)
            elif path == b"/reject" and expect:
                http_answer(c, 417, b"Expectation Failed", b"no expectations here\n", close)
            elif path == b"/auth" and expect:
                http_answer(c, 401, b"Unauthorized", b"who are you\n", close)
            else:
                if expect and path == b"/late":
                    time.sleep(0.15)
                    c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                elif expect and path != b"/no100":
                    c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                c.skip(n)
                http_answer(c, 201, b"Created", b"received %d bytes\n" % n, close)
            if close:
                return
    except (EOFError, ConnectionError, OSError, ValueError):
        pass
    finally:
        sock.close()


def sink_conn(sock):
    c = Conn(sock)
    try:
        c.fill()
        if c.buf[:2] == b"\x16\x03":
            while len(c.buf) < 9:
                c.fill()
            want = struct.unpack("!I", c.buf[5:9])[0]
            while want > 0:
                n = min(want, 16384)
                sock.sendall(b"\x17\x03\x03" + struct.pack("!H", n) + os.urandom(n))
                want -= n
            sock.shutdown(socket.SHUT_WR)
            while True:
                c.buf = b""
                c.fill()
        else:
            while True:
                c.buf = b""
                c.fill()
    except (EOFError, ConnectionError, OSError):
        try:
            sock.sendall(os.urandom(16))
        except OSError:
            pass
    finally:
        sock.close()


def listen(hp, handler):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(hp))
    s.listen(1024)

    def loop():
        while True:
            a, _ = s.accept()
            a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(a,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def udp_sink(hp):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(hostport(hp))

    def loop():
        while True:
            s.recv(65536)
    threading.Thread(target=loop, daemon=True).start()


def server(a):
    listen(a.http, http_conn)
    listen(a.sink, sink_conn)
    udp_sink(a.udp)
    log("listening", a.http, a.sink, a.udp)
    while True:
        time.sleep(3600)


# ------------------------------------------------------------------ clients

def read_final(c, timeout=10):
    """Skip 1xx, read the final response and its body; return the status."""
    while True:
        m = c.head(timeout)
        if m is None:
            raise TimeoutError
        line, hdrs = m
        status = int(line.split(b" ")[1])
        if 100 <= status < 200:
            continue
        c.skip_body(hdrs)
        return status, hdrs


def post(c, host, uri, body, expect=None, wait_s=1.0, same_segment=False):
    """POST; with expect, wait up to wait_s for 100 or a final status. Returns the
    final status, or the status that came instead of a 100 (body not sent)."""
    head = (b"POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-python/1\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % (
                uri, host, len(body)))
    if expect:
        head += b"Expect: " + expect + CRLF
    head += CRLF
    if not expect or same_segment:
        c.send(head + body)
        return read_final(c)[0]
    c.send(head)
    m = c.head(wait_s)
    if m is not None:
        line, hdrs = m
        status = int(line.split(b" ")[1])
        if status != 100:              # a final answer before the body: no body
            c.skip_body(hdrs)
            return status
    c.send(body)
    return read_final(c)[0]


def get(c, host, uri):
    c.send(b"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-python/1\r\n"
           b"Accept: */*\r\n\r\n" % (uri, host))
    return read_final(c)[0]


def connect(ip, port):
    s = socket.create_connection((ip, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


GET_SIZES = [0, 128, 512, 1024, 3000, 8192, 20000]
BODY_SIZES = [256, 1024, 4096, 9000, 16384]


def http_mixed(a, rnd):
    host = ("%s:%d" % (a.server, a.port)).encode()
    fl = a.flavor
    for _ in range(a.conns):
        c = Conn(connect(a.server, a.port))
        try:
            for _ in range(rnd.randint(2, 8)):
                body = os.urandom(rnd.choice(BODY_SIZES))
                r = rnd.random()
                if r < 0.40:
                    if fl == "nginx":
                        get(c, host, rnd.choice([b"/f/1k", b"/f/16k", b"/index.html",
                                                 b"/f/0"]))
                    else:
                        get(c, host, b"/get?n=%d" % rnd.choice(GET_SIZES))
                elif r < 0.65:
                    post(c, host, b"/upload", body, b"100-continue")
                elif r < 0.72:
                    post(c, host, b"/upload", body)                       # plain POST
                elif r < 0.77:
                    post(c, host, b"/upload", body, b"100-continue", same_segment=True)
                elif fl == "python" and r < 0.85:
                    st = post(c, host, b"/reject", body, b"100-continue")
                    if st == 417:                                         # retry
                        post(c, host, b"/reject", body)
                elif fl == "python" and r < 0.90:
                    post(c, host, b"/auth", body, b"100-continue")        # early 401
                elif fl == "python" and r < 0.95:
                    post(c, host, b"/no100", body, b"100-continue", wait_s=0.05)
                elif fl == "python":
                    post(c, host, b"/late", body[:4096], b"100-continue", wait_s=0.03)
                elif fl == "node" and r < 0.85:
                    st = post(c, host, b"/upload", body, b"x-bench-unknown")
                    if st == 417:          # node refuses unknown expectations; retry
                        c.s.close()
                        c = Conn(connect(a.server, a.port))
                        post(c, host, b"/upload", body)
                else:
                    post(c, host, b"/upload", body, b"100-continue")
        except (EOFError, ConnectionError, OSError, TimeoutError) as e:
            log("http-mixed:", type(e).__name__, e)
        finally:
            c.s.close()


def bulk(a, rnd):
    for _ in range(a.conns):
        s = connect(a.server, a.port)
        left = a.size
        chunk = os.urandom(65536)
        while left > 0:
            n = min(left, len(chunk))
            s.sendall(chunk[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()


def tls(a, rnd):
    for _ in range(a.conns):
        s = connect(a.server, a.port)
        hello = b"\x16\x03\x01\x00\xc4" + struct.pack("!I", a.size) + os.urandom(192)
        s.sendall(hello)
        while s.recv(262144):
            pass
        s.close()


def udp(a, rnd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(a.conns):
        s.sendto(os.urandom(rnd.randint(40, 300)), (a.server, a.port))
        if i % 50 == 49:
            time.sleep(0.001)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    ps = sub.add_parser("server")
    ps.add_argument("--http", required=True)
    ps.add_argument("--sink", required=True)
    ps.add_argument("--udp", required=True)
    pc = sub.add_parser("client")
    pc.add_argument("kind", choices=["http-mixed", "bulk", "tls", "udp"])
    pc.add_argument("--server", required=True)
    pc.add_argument("--port", type=int, required=True)
    pc.add_argument("--conns", type=int, default=10)
    pc.add_argument("--size", type=int, default=1 << 20)
    pc.add_argument("--flavor", choices=["nginx", "python", "node"], default="python")
    pc.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.mode == "server":
        server(a)
    else:
        rnd = random.Random(a.seed)
        {"http-mixed": http_mixed, "bulk": bulk, "tls": tls, "udp": udp}[a.kind](a, rnd)


if __name__ == "__main__":
    main()
