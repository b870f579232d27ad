#!/usr/bin/env python3
"""hostile_page.py: a capture whose HTTP exchanges carry hostile bytes, for the HTML report in a browser (tests/export/test_html_browser.py): each payload calls console.error if it ever runs.

  hostile_page.py OUT.pcap       write it
  import hostile_page; hostile_page.write(path)

Every export format must show these bytes escaped for its syntax (DESIGN.md "Input is
hostile"). The capture is hand-built (classic pcap, Ethernet, IPv4, TCP with a
handshake, correct checksums, FIN at the end): no real client sends such bytes, which is
the point. One connection, 10.9.0.1:40000 -> 10.9.0.2:8080, three exchanges:

  1. POST with Expect: 100-continue whose request target, Host, User-Agent and extra
     header hold markup (<script>, "><img onerror=...>, </pre>, <!--), both quotes,
     NUL, control bytes (BEL, ESC, DEL), a backslash, invalid UTF-8 (a lone 0xff, an
     overlong 0xc0 0xaf, a surrogate 0xed 0xa0 0x80) and a right-to-left override;
     the server answers 417 before the body with a reason and a Server header of the
     same kind.                                            -> expectation_failed
  2. a request whose Expect value is markup; the server sends a 100 whose header block
     holds markup, then the body goes, then 200 with a hostile reason.
                                                           -> unsupported_expectation
  3. a request whose header lines end in a bare LF (no CR); no 100 comes; the body
     follows after 1000 ms, then 200.                      -> timeout_fallback
     (A CR alone inside a value is not here: llhttp refuses it, and the exchange would
     be lost to a resync rather than stored.)

The exchanges' fields as the dissector stores them are read back from the database by
the tests, which then check each format's escaping byte by byte. MARKERS are byte
strings the database must hold somewhere, so that a test knows the hostile bytes got
through the dissector and are really exercised.
"""
import struct
import sys

CLIENT, SERVER = bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2])
CPORT, SPORT = 40000, 8080
T0 = 1764633600  # 2025-12-02 00:00:00 UTC

XSS = b"\"><img src=x onerror=\"console.error('xss')\">"
URI = (b"/up/<script>console.error('xss')</script>?q=" + XSS.replace(b" ", b"%20") +
       b"&a='b'&c=%3C\xff\xc0\xaf\xe2\x80\xae\\")
HOST = b"<b>h\"o'st</b>\xff.example"
UA = (b"Mozilla/5.0 <script>console.error('xss')</script> \"dq\" 'sq' \x00NUL \x07BEL "
      b"\x1b[31mESC \x7fDEL \\back \xc3\x28 \xed\xa0\x80 \xe2\x80\xae RLO " + XSS)
EVIL = XSS + b" </pre></svg></script></style><!-- -- \x01\x02\x1f"
REASON = b"Nope <i>\"'</i> \x7f \xff </title><script>console.error('xss')</script>"
SERVER_HDR = b"evil<script>console.error('xss')</script>/1.0 \xc0\xaf"
EXPECT2 = b"100-continue\"><svg onload=console.error('xss')>"

MARKERS = [b"<script>", b"onerror=", b"\x00", b"\x07", b"\x1b", b"\x7f", b"\xff",
           b"\xc0\xaf", b"\xed\xa0\x80", b"\\", b'"', b"'", b"\n"]

BODY = b"x" * 300


def exchanges():
    """(client bytes, server bytes, timing) of each exchange, as the wire carries them."""
    req1 = (b"POST " + URI + b" HTTP/1.1\r\nHost: " + HOST + b"\r\nUser-Agent: " + UA +
            b"\r\nX-Evil: " + EVIL + b"\r\nExpect: 100-continue\r\n"
            b"Content-Length: 300\r\n\r\n")
    resp1 = (b"HTTP/1.1 417 " + REASON + b"\r\nServer: " + SERVER_HDR +
             b"\r\nX-Evil: " + EVIL + b"\r\nContent-Length: 0\r\n\r\n")
    req2 = (b"PUT /two?" + XSS.replace(b" ", b"%20") + b" HTTP/1.1\r\nHost: " + HOST +
            b"\r\nUser-Agent: " + UA + b"\r\nExpect: " + EXPECT2 +
            b"\r\nContent-Length: 300\r\n\r\n")
    interim2 = (b"HTTP/1.1 100 " + REASON + b"\r\nX-Interim: " + EVIL + b"\r\n\r\n")
    resp2 = (b"HTTP/1.1 200 " + REASON + b"\r\nServer: " + SERVER_HDR +
             b"\r\nContent-Length: 0\r\n\r\n")
    req3 = (b"POST /three HTTP/1.1\nHost: lf.example\nUser-Agent: " + UA +
            b"\nExpect: 100-continue\nContent-Length: 300\n\n")
    resp3 = b"HTTP/1.1 200 OK\r\nServer: " + SERVER_HDR + b"\r\nContent-Length: 0\r\n\r\n"
    return [
        # (direction, bytes, ms after the previous step)
        [("c", req1, 0), ("s", resp1, 2.5)],
        [("c", req2, 20), ("s", interim2, 1.5), ("c", BODY, 0.8), ("s", resp2, 3)],
        [("c", req3, 20), ("c", BODY, 1000.2), ("s", resp3, 2)],
    ]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64,
                     6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = (b"\x02\x00\x00\x00\x00\x02" if dst == SERVER else b"\x02\x00\x00\x00\x00\x01")
    eth += (b"\x02\x00\x00\x00\x00\x01" if dst == SERVER else b"\x02\x00\x00\x00\x00\x02")
    return eth + b"\x08\x00" + ip + tcp + payload


def packets():
    """[(time in us from T0, frame)] of the whole connection."""
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    out, t = [], 0.0
    cseq, sseq = 1000, 5000

    def c(flags, payload=b""):
        nonlocal cseq
        out.append((t, frame(CLIENT, SERVER, CPORT, SPORT, cseq, sseq, flags, payload)))
        cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def s(flags, payload=b""):
        nonlocal sseq
        out.append((t, frame(SERVER, CLIENT, SPORT, CPORT, sseq, cseq, flags, payload)))
        sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    out.append((t, frame(CLIENT, SERVER, CPORT, SPORT, cseq, 0, SYN)))
    cseq += 1
    t += 100
    s(SYN | ACK)
    t += 100
    c(ACK)
    for ex in exchanges():
        for side, data, ms in ex:
            t += ms * 1000
            (c if side == "c" else s)(PSH | ACK, data)
            t += 50
            (s if side == "c" else c)(ACK)
    t += 10000
    c(FIN | ACK)
    t += 100
    s(FIN | ACK)
    t += 100
    c(ACK)
    return out


def write(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for us, data in packets():
            us = int(round(us))
            f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(data),
                                len(data)))
            f.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    write(sys.argv[1])
