#!/usr/bin/env python3
"""peers.py: small HTTP/1.x servers and clients used by make-corpus.sh.

Only the Python standard library. Each role is one function; run
`peers.py server ROLE --listen ADDR:PORT` or `peers.py client ROLE --connect ADDR:PORT`.

Servers built on http.server (real stdlib software, one method overridden):
  no100        HTTP/1.1 server that never sends 100 Continue (reads the body anyway)
  hints        sends 103 Early Hints, then 100 Continue, for every Expect: 100-continue
  unsolicited  sends 100 Continue on every POST, Expect or not
  crash        the stock 100 Continue, then the handler fails after reading the body:
               http.server closes the connection with no answer (no 500)
Raw-socket servers (the behaviour is the point, so it is spelled out byte by byte):
  late100      waits --delay-ms after the request head, then sends 100, reads the body
  always100    sends 100 to every Expect: 100-continue, HTTP/1.0 requests included
  reject417    answers 417 to Expect: 100-continue and keeps the connection open,
               reading the next request as a request (not as body)
  reset-first  reads the first request whole, then resets its connection with no
               answer (a crashed worker, a balancer dropping it); answers later ones
Raw-socket clients (timing between writes is controlled; TCP_NODELAY is on so every
write leaves as its own segment(s)):
  continue     sends the head, waits for 100 (max 1 s), sends the body
  late         sends the head, sleeps --body-delay-ms, sends the body (0: one write,
               head padded to one MSS, body in the next segment)
  same-segment sends head and a small body in one write
  retry417     Expect request; on 417 retries without Expect (--same-conn, --no-wait)
  early401-keep, early401-swallowed   see the functions below
  pipeline     writes several GETs at once
  reset        waits for 100, sends part of the body, then resets (SO_LINGER 0)
  stall        waits for 100, sends half the body, pauses --pause-ms, sends the rest
  abandon      Expect request, no answer comes, closes after --wait-ms without a body
  httpclient-mixed   python http.client on one keep-alive connection: GET, Expect POST,
               plain POST
"""
import argparse
import http.client
import http.server
import os
import select
import socket
import socketserver
import struct
import sys
import threading
import time

BODY_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def make_body(n, seed=0):
    """Deterministic printable body of n bytes, with a newline every 64 bytes."""
    out = bytearray()
    i = seed
    while len(out) < n:
        line = bytes(BODY_CHARS[(i + k) % 64] for k in range(63)) + b"\n"
        out += line
        i += 7
    return bytes(out[:n])


def split_hostport(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


def log(*a):
    print("peers:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- raw HTTP helpers

class Conn:
    """A socket with a read buffer; enough HTTP/1.x framing for these tests."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def fill(self, timeout=None):
        self.s.settimeout(timeout)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return None
        self.buf += d
        return d

    def read_head(self, timeout=10):
        """Return (start_line, headers dict lowercased) or None on EOF/timeout."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            d = self.fill(left)
            if not d:
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return lines[0], hdrs

    def read_exact(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not self.fill(left):
                raise EOFError("short read")
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read_line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.fill(left):
                raise EOFError("short read")
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def read_body(self, hdrs, timeout=10):
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            out = b""
            while True:
                size = int(self.read_line(timeout).split(b";")[0], 16)
                if size == 0:
                    while self.read_line(timeout):
                        pass
                    return out
                out += self.read_exact(size, timeout)
                self.read_line(timeout)
        n = int(hdrs.get("content-length", "0") or 0)
        return self.read_exact(n, timeout)

    def read_response(self, timeout=10):
        """Read one response (interim or final). Returns (status, headers, body)."""
        r = self.read_head(timeout)
        if r is None:
            return None
        line, hdrs = r
        status = int(line.split()[1])
        body = b"" if status < 200 or status in (204, 304) else self.read_body(hdrs, timeout)
        return status, hdrs, body

    def read_final(self, timeout=10):
        """Read interim responses until a final one; returns (interims, final)."""
        interims = []
        while True:
            r = self.read_response(timeout)
            if r is None:
                return interims, None
            if r[0] >= 200:
                return interims, r
            interims.append(r[0])

    def send(self, data):
        self.s.sendall(data)


def connect(hostport, nodelay=True):
    host, port = split_hostport(hostport)
    s = socket.create_connection((host, port), timeout=10)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Conn(s)


def request_head(method, uri, host, headers=(), version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, uri, version), "Host: " + host,
             "User-Agent: expectscope-peers/1 (python %d.%d)" % sys.version_info[:2]]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(status, reason, body=b"", headers=(), version="HTTP/1.1"):
    lines = ["%s %d %s" % (version, status, reason), "Server: expectscope-peers/1"]
    if status >= 200:
        lines.append("Content-Length: %d" % len(body))
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def wait_for_100(c, timeout):
    """Wait up to timeout s for a response. Returns the status of the first response
    seen (100, or a final status with the response consumed), or None on timeout."""
    r = c.read_head(timeout)
    if r is None:
        return None
    line, hdrs = r
    status = int(line.split()[1])
    if status >= 200:
        c.last_final = (status, hdrs, c.read_body(hdrs))
    return status


# ---------------------------------------------------------------- servers

class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "expectscope-peers/1"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.server.role, fmt % args))

    def read_req_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, body):
        msg = b"received %d bytes\n" % len(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.read_req_body()
        if len(body) < n:                 # client gave up: no answer, just close
            self.close_connection = True
            return
        self.answer(body)

    do_PUT = do_POST

    def do_GET(self):
        self.answer(b"")


class No100Handler(QuietHandler):
    def handle_expect_100(self):
        return True          # accept the expectation but never send 100 Continue


class HintsHandler(QuietHandler):
    def handle_expect_100(self):
        self.send_response_only(103)
        self.send_header("Link", "</style.css>; rel=preload; as=style")
        self.end_headers()
        time.sleep(0.02)
        self.send_response_only(100)
        self.end_headers()
        return True


class UnsolicitedHandler(QuietHandler):
    def do_POST(self):
        self.send_response_only(100)
        self.end_headers()
        self.answer(self.read_req_body())


class CrashHandler(QuietHandler):
    def do_POST(self):
        self.read_req_body()
        raise RuntimeError("the application failed")   # socketserver logs it and closes


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def stdlib_server(role, handler, listen):
    host, port = split_hostport(listen)
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = Server((host, port), handler)
    srv.role = role
    log("listening", role, listen)
    srv.serve_forever()


def raw_server(role, listen, handler, **kw):
    host, port = split_hostport(listen)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(16)
    log("listening", role, listen)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_conn, args=(role, Conn(s), handler, kw),
                         daemon=True).start()


def serve_conn(role, c, handler, kw):
    try:
        while True:
            r = c.read_head(timeout=30)
            if r is None:
                break
            line, hdrs = r
            log(role, line)
            if not handler(c, line, hdrs, **kw):
                break
    except (EOFError, OSError) as e:
        log(role, "connection ended:", e)
    finally:
        try:
            c.s.close()
        except OSError:
            pass


def expects_100(hdrs):
    return hdrs.get("expect", "").lower() == "100-continue"


def ok_final(c, body, version="HTTP/1.1", close=False):
    hdrs = ["Content-Type: text/plain"] + (["Connection: close"] if close else [])
    c.send(response(200, "OK", b"received %d bytes\n" % len(body), hdrs, version))
    return not close


def h_late100(c, line, hdrs, delay_ms):
    if expects_100(hdrs):
        time.sleep(delay_ms / 1000.0)
        c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    return ok_final(c, c.read_body(hdrs))


def h_always100(c, line, hdrs):
    http10 = line.endswith("HTTP/1.0")
    if expects_100(hdrs):
        c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    return ok_final(c, c.read_body(hdrs), close=http10)


def h_reject417(c, line, hdrs):
    if "expect" in hdrs:
        msg = b"expectation not supported\n"
        c.send(response(417, "Expectation Failed", msg, ["Content-Type: text/plain"]))
        return True                 # keep the connection; the next bytes are a request
    return ok_final(c, c.read_body(hdrs))


RESET_DONE = threading.Event()


def h_reset_first(c, line, hdrs):
    body = c.read_body(hdrs)
    if not RESET_DONE.is_set():
        RESET_DONE.set()
        # linger 0: the close sends RST, not FIN
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    return ok_final(c, body)


# ---------------------------------------------------------------- clients

def post_head(args, uri, n, extra=(), version="HTTP/1.1"):
    h = list(extra) + ["Content-Type: application/octet-stream", "Content-Length: %d" % n]
    return request_head("POST", uri, args.host or args.connect, h, version)


def expect_hdr(args):
    return ["Expect: " + args.expect]


def c_continue(args):
    body = make_body(args.size)
    c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body), expect_hdr(args)))
    st = wait_for_100(c, 1.0)
    log("first answer", st)
    if st is not None and st >= 200:
        return
    c.send(body)
    log("final", c.read_final()[1][0])
    c.s.close()


def c_late(args):
    """Head, then the body after --body-delay-ms. With 0, head and body go in one
    write, the head padded (X-Pad) to exactly one MSS: the kernel then sends the body
    in the next segment microseconds later, with no scheduler in between, so the body is
    deterministically "not in the head's segment, but well within 5 ms"."""
    body = make_body(args.size)
    c = connect(args.connect)
    head = post_head(args, args.uri, len(body), expect_hdr(args))
    if args.body_delay_ms == 0:
        mss = c.s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
        pad = mss - len(head) - len("X-Pad: \r\n")
        if pad < 1:
            sys.exit("head longer than one segment")
        head = post_head(args, args.uri, len(body), expect_hdr(args) + ["X-Pad: " + "p" * pad])
        assert len(head) == mss
        c.send(head + body)
    else:
        c.send(head)
        time.sleep(args.body_delay_ms / 1000.0)
        c.send(body)
    interims, final = c.read_final()
    log("interims", interims, "final", final and final[0])
    c.s.close()


def c_same_segment(args):
    body = make_body(args.size)
    c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body), expect_hdr(args)) + body)
    interims, final = c.read_final()
    log("interims", interims, "final", final and final[0])
    c.s.close()


def c_retry417(args):
    body = make_body(args.size)
    c = connect(args.connect)
    head = post_head(args, args.uri, len(body), expect_hdr(args))
    if args.no_wait:
        c.send(head + body)
        interims, final = c.read_final()
        st = final[0]
    else:
        c.send(head)
        st = wait_for_100(c, 1.0)
    log("first attempt answered", st)
    if st == 100:
        c.send(body)
        c.read_final()
        return
    if st != 417:
        return
    if not args.same_conn:
        c.s.close()
        time.sleep(0.05)
        c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body)) + body)
    interims, final = c.read_final()
    log("retry answered", final and final[0])
    c.s.close()


def c_early401_keep(args):
    """POST with Expect to a location needing auth; the 401 comes before the body and
    the server keeps the connection, so send the declared body anyway (the server is
    reading it), then repeat the request with credentials."""
    body = make_body(args.size)
    c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body), expect_hdr(args)))
    st = wait_for_100(c, 1.0)
    log("first answer", st)
    time.sleep(0.05)
    c.send(body)
    time.sleep(0.05)
    auth = "Authorization: Basic YWxpY2U6c2VjcmV0"          # alice:secret
    c.send(post_head(args, args.uri, len(body), [auth] + expect_hdr(args)))
    st = wait_for_100(c, 1.0)
    log("second answer", st)
    if st == 100:
        c.send(body)
        log("final", c.read_final()[1][0])
    c.s.close()


def c_early401_swallowed(args):
    """Same start as early401-keep, but after the 401 the client sends its next request
    (a GET) without the declared body. nginx is still discarding the 4096 announced body
    bytes, so it swallows the GET; the client gives up after --wait-ms."""
    body_len = args.size
    c = connect(args.connect)
    c.send(post_head(args, args.uri, body_len, expect_hdr(args)))
    st = wait_for_100(c, 1.0)
    log("first answer", st)
    time.sleep(0.05)
    c.send(request_head("GET", "/index.html", args.host or args.connect))
    r = c.read_response(args.wait_ms / 1000.0)
    log("GET answered", r and r[0])
    c.s.close()


def c_pipeline(args):
    host = args.host or args.connect
    uris = ["/index.html", "/a.txt", "/b.txt"]
    data = b"".join(request_head("GET", u, host, ["Connection: close"] if i == len(uris) - 1
                                 else []) for i, u in enumerate(uris))
    c = connect(args.connect)
    c.send(data)
    for _ in uris:
        r = c.read_response()
        log("response", r and r[0])
    c.s.close()


def c_reset(args):
    body = make_body(args.size)
    c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body), expect_hdr(args)))
    log("first answer", wait_for_100(c, 1.0))
    c.send(body[:args.size // 2])
    time.sleep(0.1)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.s.close()


def c_stall(args):
    body = make_body(args.size)
    c = connect(args.connect)
    c.send(post_head(args, args.uri, len(body), expect_hdr(args)))
    log("first answer", wait_for_100(c, 1.0))
    half = args.size // 2
    c.send(body[:half])
    time.sleep(args.pause_ms / 1000.0)
    c.send(body[half:])
    log("final", c.read_final()[1][0])
    c.s.close()


def c_abandon(args):
    c = connect(args.connect)
    c.send(post_head(args, args.uri, args.size, expect_hdr(args)))
    r = c.read_head(args.wait_ms / 1000.0)
    log("answer", r and r[0])
    c.s.close()


def c_httpclient_mixed(args):
    """Stock http.client, one keep-alive connection. http.client has no Expect support,
    so for the Expect request the head is sent alone, the client waits on the socket
    for the 100 (http.client's getresponse() skips 100 responses) and then the body."""
    host, port = split_hostport(args.connect)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/index.html")
    r = conn.getresponse()
    log("GET", r.status, len(r.read()))
    body = make_body(args.size)
    conn.putrequest("POST", args.uri)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    ready, _, _ = select.select([conn.sock], [], [], 1.0)
    log("100 arrived" if ready else "no 100 within 1 s")
    conn.send(body)
    r = conn.getresponse()
    log("Expect POST", r.status, len(r.read()))
    conn.request("POST", args.uri, body=make_body(args.size, 3),
                 headers={"Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    log("plain POST", r.status, len(r.read()))
    conn.close()


SERVERS = {
    "no100": lambda a: stdlib_server("no100", No100Handler, a.listen),
    "hints": lambda a: stdlib_server("hints", HintsHandler, a.listen),
    "unsolicited": lambda a: stdlib_server("unsolicited", UnsolicitedHandler, a.listen),
    "crash": lambda a: stdlib_server("crash", CrashHandler, a.listen),
    "late100": lambda a: raw_server("late100", a.listen, h_late100, delay_ms=a.delay_ms),
    "always100": lambda a: raw_server("always100", a.listen, h_always100),
    "reject417": lambda a: raw_server("reject417", a.listen, h_reject417),
    "reset-first": lambda a: raw_server("reset-first", a.listen, h_reset_first),
}

CLIENTS = {
    "continue": c_continue, "late": c_late, "same-segment": c_same_segment,
    "retry417": c_retry417, "early401-keep": c_early401_keep,
    "early401-swallowed": c_early401_swallowed, "pipeline": c_pipeline,
    "reset": c_reset, "stall": c_stall, "abandon": c_abandon,
    "httpclient-mixed": c_httpclient_mixed,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="kind", required=True)
    ps = sub.add_parser("server")
    ps.add_argument("role", choices=sorted(SERVERS))
    ps.add_argument("--listen", required=True)
    ps.add_argument("--delay-ms", type=float, default=120)
    pc = sub.add_parser("client")
    pc.add_argument("role", choices=sorted(CLIENTS))
    pc.add_argument("--connect", required=True)
    pc.add_argument("--host", help="Host header (default: the --connect value)")
    pc.add_argument("--uri", default="/upload")
    pc.add_argument("--size", type=int, default=4096)
    pc.add_argument("--expect", default="100-continue")
    pc.add_argument("--body-delay-ms", type=float, default=30)
    pc.add_argument("--pause-ms", type=float, default=1500)
    pc.add_argument("--wait-ms", type=float, default=1500)
    pc.add_argument("--same-conn", action="store_true")
    pc.add_argument("--no-wait", action="store_true")
    a = p.parse_args()
    if a.kind == "server":
        SERVERS[a.role](a)
    else:
        CLIENTS[a.role](a)


if __name__ == "__main__":
    main()
