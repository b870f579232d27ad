#!/usr/bin/env python3
"""Hand-made captures of HTTP framing traps (RFC 9112 6.3 and start lines), for
test_framing.py and the fuzz seeds (tests/fuzz/make-seeds.py reads tests/framing/).

    framing.py OUTDIR       write every case as OUTDIR/<case>.pcap

Built with tests/rules/handmade.py's writer: a handshake, exact sequence and
acknowledgement numbers, valid checksums, an ACK after every data segment, FIN at the
end. lose() leaves bytes out of the capture (a gap: the sequence numbers skip them).
test_framing.py holds the rows and run counters each case must give.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules"))
import handmade as hm  # noqa: E402

CLI, SRV = "10.78.0.1", "10.78.0.2"


def lose(conn, side, n):
    """n bytes from `side` that the capture lost: the sequence numbers go past them."""
    conn.seq[side] += n


def post(target, headers, host="app.example"):
    return hm.req("POST", target, headers, host=host)[0]


def cl_and_chunked(cap):
    """Content-Length with Transfer-Encoding: chunked, both ways: framed as chunked."""
    c = hm.Conn(cap, CLI, SRV, 41001, 80, 0)
    c.c(0, post("/a", ["Expect: 100-continue", "Content-Length: 5",
                       "Transfer-Encoding: chunked"]))
    c.s(5, hm.interim())
    c.c(6, b"3\r\nabc\r\n0\r\n\r\n")
    c.s(8, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2\r\nok\r\n0\r\n\r\n")
    c.c(10, hm.req("GET", "/b")[0])
    c.s(12, hm.OK)
    c.fin(20)


def conflicting_length(cap):
    """Content-Length 5 and 6: the request's framing is lost, the client's direction
    resyncs at the next request line; 5 and 5 are one length."""
    c = hm.Conn(cap, CLI, SRV, 41002, 80, 0)
    c.c(0, post("/a", ["Content-Length: 5", "Content-Length: 5"]) + b"abcde")
    c.s(2, hm.OK)
    c.c(4, post("/b", ["Content-Length: 5", "Content-Length: 6"]) + b"abcdef")
    c.s(6, hm.resp(400, "Bad Request"))
    c.c(8, hm.req("GET", "/c")[0])
    c.s(10, hm.OK)
    c.fin(20)


def late_1xx(cap):
    """A stray 100 after A's 200 must not be B's: B waits 1 s and sends its body."""
    c = hm.Conn(cap, CLI, SRV, 41003, 80, 0)
    c.c(0, post("/a", ["Expect: 100-continue", "Content-Length: 3"]))
    c.s(5, hm.interim())
    c.c(6, b"abc")
    c.s(10, hm.OK)
    c.s(15, hm.interim())
    c.c(20, post("/b", ["Expect: 100-continue", "Content-Length: 3"]))
    c.c(1020, b"def")
    c.s(1025, hm.OK)
    c.fin(1030)


def websocket(cap):
    """Expect and Upgrade answered 101: websocket frames both ways, one holding a
    status line, are no HTTP."""
    c = hm.Conn(cap, CLI, SRV, 41004, 80, 0)
    c.c(0, hm.req("GET", "/ws", ["Connection: Upgrade", "Upgrade: websocket",
                                 "Sec-WebSocket-Version: 13",
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])[0])
    c.s(5, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
           b"Upgrade: websocket\r\n\r\n\x81\x05hello")
    c.c(10, b"\x81\x85abcd\x09\x07\x0f\x08\x0e")
    c.s(15, b"\x81\x11HTTP/1.1 200 OK\r\n")
    c.c(20, b"GET / HTTP/1.1\r\n\r\n")
    c.fin(30)


def start_lines(cap):
    """A bare CR in a status line, status codes 000, 600 and 999: parse errors, no
    answer; the exchange takes the 204 that follows."""
    c = hm.Conn(cap, CLI, SRV, 41005, 80, 0)
    c.c(0, hm.req("GET", "/a")[0])
    c.s(2, b"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n")
    c.s(3, b"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n")
    c.s(4, b"HTTP/1.1 600 Six\r\nContent-Length: 0\r\n\r\n")
    c.s(5, b"HTTP/1.1 999 Nine\r\nContent-Length: 0\r\n\r\n")
    c.s(6, b"HTTP/1.1 204 No Content\r\n\r\n")
    c.fin(20)


def cl_overflow(cap):
    """Content-Length of 10^20, answered 417: flagged, not stored, still judged."""
    c = hm.Conn(cap, CLI, SRV, 41006, 80, 0)
    c.c(0, post("/a", ["Expect: 100-continue", "Content-Length: 99999999999999999999"]))
    c.s(5, hm.resp(417, "Expectation Failed"))
    c.c(10, hm.req("GET", "/b")[0])
    c.s(12, hm.OK)
    c.fin(20)


def expect_gap(cap):
    """The capture lost bytes inside the Expect value: not unsupported_expectation."""
    c = hm.Conn(cap, CLI, SRV, 41007, 80, 0)
    h = post("/a", ["Content-Length: 3", "Expect: 100-continue"])
    cut = h.index(b"100-con") + len(b"100-con")
    c.c(0, h[:cut])
    lose(c, 0, len(h) - cut)
    c.s(10, hm.interim())
    c.c(11, b"abc")
    c.s(12, hm.OK)
    c.fin(20)


CASES = {
    "cl-and-chunked": cl_and_chunked,
    "conflicting-length": conflicting_length,
    "late-1xx": late_1xx,
    "websocket-101": websocket,
    "start-lines": start_lines,
    "cl-overflow": cl_overflow,
    "expect-gap": expect_gap,
}


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        cap = hm.Capture()
        fn(cap)
        cap.write(os.path.join(out, name + ".pcap"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
