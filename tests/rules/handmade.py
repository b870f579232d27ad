#!/usr/bin/env python3
"""Hand-made captures for the rules that the real captures of tests/pcap do not show
(no real client, server or proxy we can run does these things on purpose).

    handmade.py OUTDIR       write every case as OUTDIR/<case>.pcap

Each case is a list of TCP conversations with exact sequence and acknowledgement
numbers, valid checksums, a handshake, an ACK from the other side after every data
segment, and FIN (or RST) at the end, on Ethernet/IPv4, at microsecond times: what
tcpdump would have written between the two programs. CASES names, for each, the rule
it is made to break; tests/rules/test_rules.py holds the rows each must give.
"""
import os
import struct
import sys

T0 = 1796100000.0  # 2026-12-11
MSS = 1448


def _sum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum(b):
    return (~_sum16(b)) & 0xFFFF


def _ip(a):
    return bytes(int(x) for x in a.split("."))


class Capture:
    """Packets in time order, written as one classic pcap."""

    def __init__(self):
        self.recs = []
        self.ip_id = 1

    def packet(self, t, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = _csum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload),
                         self.ip_id & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        self.ip_id += 1
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
        self.recs.append((t, eth + ip + tcp + payload))

    def write(self, path):
        self.recs.sort(key=lambda r: r[0])  # stable: same-time packets keep their order
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, data in self.recs:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                if usec == 1000000:
                    sec, usec = sec + 1, 0
                f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


class Conn:
    """One TCP connection; times are ms after T0. Data is cut at MSS; the other side
    ACKs each segment 0.05 ms later."""

    def __init__(self, cap, client, server, cport, sport, t_ms):
        self.cap = cap
        self.ep = [(_ip(client), cport), (_ip(server), sport)]
        self.seq = [1000 + cport * 7, 50000 + cport * 11]
        t = T0 + t_ms / 1e3
        (c, cp), (s, sp) = self.ep
        cap.packet(t, c, s, cp, sp, self.seq[0], 0, SYN)
        cap.packet(t + 0.00005, s, c, sp, cp, self.seq[1], self.seq[0] + 1, SYN | ACK)
        cap.packet(t + 0.0001, c, s, cp, sp, self.seq[0] + 1, self.seq[1] + 1, ACK)
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]

    def send(self, side, t_ms, data):
        t = T0 + t_ms / 1e3
        a, b = side, 1 - side
        (src, spt), (dst, dpt) = self.ep[a], self.ep[b]
        for i in range(0, len(data), MSS):
            seg = data[i:i + MSS]
            self.cap.packet(t, src, dst, spt, dpt, self.seq[a], self.seq[b], PSH | ACK, seg)
            self.seq[a] += len(seg)
            self.cap.packet(t + 0.00005, dst, src, dpt, spt, self.seq[b], self.seq[a], ACK)
            t += 0.0001
        return self

    def c(self, t_ms, data):
        return self.send(0, t_ms, data)

    def s(self, t_ms, data):
        return self.send(1, t_ms, data)

    def fin(self, t_ms, first=0):
        t = T0 + t_ms / 1e3
        for k, side in enumerate((first, 1 - first)):
            (src, spt), (dst, dpt) = self.ep[side], self.ep[1 - side]
            self.cap.packet(t + k * 0.0002, src, dst, spt, dpt, self.seq[side],
                            self.seq[1 - side], FIN | ACK)
            self.seq[side] += 1
        for side in (first, 1 - first):  # the last ACKs
            (src, spt), (dst, dpt) = self.ep[side], self.ep[1 - side]
            self.cap.packet(t + 0.0005, src, dst, spt, dpt, self.seq[side],
                            self.seq[1 - side], ACK)

    def rst(self, t_ms, side=1):
        (src, spt), (dst, dpt) = self.ep[side], self.ep[1 - side]
        self.cap.packet(T0 + t_ms / 1e3, src, dst, spt, dpt, self.seq[side],
                        self.seq[1 - side], RST | ACK)


CLI, SRV, PRX, ORIGIN = "10.77.0.1", "10.77.0.2", "10.77.0.3", "10.77.0.4"


def req(method, target, headers=(), body=b"", version="1.1", host="app.example"):
    lines = [f"{method} {target} HTTP/{version}", f"Host: {host}", "User-Agent: handmade/1"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


def resp(code, reason, headers=(), body=b"", version="1.1"):
    lines = [f"HTTP/{version} {code} {reason}", "Server: handmade-srv/1"] + list(headers)
    if body or code >= 200 and code not in (204, 304):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def interim(code=100, reason="Continue", headers=()):
    return ("\r\n".join([f"HTTP/1.1 {code} {reason}"] + list(headers)) + "\r\n\r\n").encode()


OK = resp(200, "OK", body=b"ok")
BODY = b"x" * 1000


def c2_stall_no_expect(cap):
    """C2: no Expect, yet the client waits 400 ms with the server silent."""
    h, _ = req("POST", "/up", ["Content-Length: 1000"])
    Conn(cap, CLI, SRV, 40001, 80, 0).c(0, h).c(400, BODY).s(402, OK).fin(410)


def c3_long_wait(cap):
    """C3 (and S3): Expect, and the client waits 12 s before sending the body."""
    h, _ = req("POST", "/up", ["Expect: 100-continue", "Content-Length: 1000"])
    Conn(cap, CLI, SRV, 40002, 80, 0).c(0, h).c(12000, BODY).s(12002, OK).fin(12010)


def c4_retry_keeps_expect(cap):
    """C4: after a 417 the client retries, still with Expect (the same connection)."""
    h, _ = req("POST", "/up", ["Expect: 100-continue", "Content-Length: 1000"])
    (Conn(cap, CLI, SRV, 40003, 80, 0).c(0, h)
     .s(1, resp(417, "Expectation Failed", ["Connection: close"])).fin(2, first=1))
    (Conn(cap, CLI, SRV, 40004, 80, 10).c(10, h).s(11, resp(417, "Expectation Failed",
                                                              ["Connection: close"]))
     .fin(12, first=1))


def c7_unsolicited(cap):
    """C7: the server sends a response no request asked for; the client goes on."""
    h, _ = req("GET", "/a")
    (Conn(cap, CLI, SRV, 40005, 80, 0).s(5, resp(408, "Request Timeout", body=b"late"))
     .c(10, h).s(11, OK).fin(20))


def c9_chunked_to_http10(cap):
    """C9: the server answered HTTP/1.0 (keep-alive); the next request is chunked."""
    h1, _ = req("GET", "/a")
    h2, _ = req("POST", "/b", ["Transfer-Encoding: chunked"])
    (Conn(cap, CLI, SRV, 40006, 80, 0).c(0, h1)
     .s(1, resp(200, "OK", ["Connection: keep-alive"], b"ok", version="1.0"))
     .c(5, h2 + b"5\r\nhello\r\n0\r\n\r\n")
     .s(6, resp(200, "OK", ["Connection: keep-alive"], b"ok", version="1.0")).fin(10))


def c10_after_close(cap):
    """C10: the client said Connection: close, then sent another request."""
    h1, _ = req("GET", "/a", ["Connection: close"])
    h2, _ = req("GET", "/b")
    Conn(cap, CLI, SRV, 40007, 80, 0).c(0, h1).s(1, OK).c(5, h2).s(6, OK).fin(10)


def c11_post_retry(cap):
    """C11: a POST dies with a reset and no answer; the client sends it again."""
    h, _ = req("POST", "/order", ["Content-Length: 1000"])
    Conn(cap, CLI, SRV, 40008, 80, 0).c(0, h + BODY).rst(50, side=1)
    Conn(cap, CLI, SRV, 40009, 80, 100).c(100, h + BODY).s(101, OK).fin(110)


def s5_100_no_final(cap):
    """S5: a 100, the whole body, then the server closes with no final status."""
    h, _ = req("POST", "/up", ["Expect: 100-continue", "Content-Length: 1000"])
    (Conn(cap, CLI, SRV, 40010, 80, 0).c(0, h).s(1, interim()).c(2, BODY)
     .fin(50, first=1))


def s8_101_without_100(cap):
    """S8 (and C1): Upgrade with Expect: 100-continue answered 101 with no 100."""
    h, _ = req("GET", "/chat", ["Connection: Upgrade", "Upgrade: websocket",
                                "Expect: 100-continue"])
    (Conn(cap, CLI, SRV, 40011, 80, 0).c(0, h)
     .s(1, interim(101, "Switching Protocols", ["Connection: Upgrade", "Upgrade: websocket"]))
     .fin(10))


def s9_s10_framing(cap):
    """S9, S10: Content-Length in a 100, Transfer-Encoding in a 100, and CL in a 204."""
    h, _ = req("POST", "/up", ["Expect: 100-continue", "Content-Length: 1000"])
    g, _ = req("DELETE", "/item")
    (Conn(cap, CLI, SRV, 40012, 80, 0)
     .c(0, h).s(1, interim(headers=["Content-Length: 0"])).c(2, BODY).s(3, OK)
     .c(10, h).s(11, interim(headers=["Transfer-Encoding: chunked"])).c(12, BODY).s(13, OK)
     .c(20, g).s(21, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").fin(30))


def s10_hostile_value(cap):
    """S10 with a hostile value (markup, quotes, UTF-8, long; llhttp refuses control
    bytes in a field value): the detail quotes printable ASCII only, 24 bytes."""
    h, _ = req("POST", "/up", ["Expect: 100-continue", "Content-Length: 1000"])
    bad = "Transfer-Encoding: <script>\"'\xc3\xa9" + "9" * 30
    (Conn(cap, CLI, SRV, 40016, 80, 0)
     .c(0, h).s(1, ("HTTP/1.1 100 Continue\r\n" + bad + "\r\n\r\n").encode("latin-1"))
     .c(2, BODY).s(3, OK).fin(10))


def s12_out_of_step(cap):
    """S12: two answers come while the second request's head is still arriving."""
    a, _ = req("GET", "/a")
    b, _ = req("GET", "/b")
    (Conn(cap, CLI, SRV, 40013, 80, 0).c(0, a + b[:20])
     .s(1, OK).s(2, OK).c(60, b[20:]).fin(70))


def s14_after_close(cap):
    """S14: the server said Connection: close, then answered another request."""
    h1, _ = req("GET", "/a")
    h2, _ = req("GET", "/b")
    (Conn(cap, CLI, SRV, 40014, 80, 0).c(0, h1)
     .s(1, resp(200, "OK", ["Connection: close"], b"ok")).c(5, h2).s(6, OK).fin(10))


def p6_http10_client(cap):
    """P6: a proxy (Via on its answers) keeps an HTTP/1.0 client's connection open."""
    h, _ = req("GET", "http://app.example/a", ["Connection: keep-alive"], version="1.0")
    ans = resp(200, "OK", ["Via: 1.1 handmade-proxy", "Connection: keep-alive"], b"ok")
    Conn(cap, CLI, PRX, 40015, 3128, 0).c(0, h).s(1, ans).c(5, h).s(6, ans).fin(10)


def _two_legs(cap, port, client_100, origin_100, client_body_at, slow_body=False,
              upstream_at=None, upstream_expect=True):
    """A forward proxy PRX between CLI and ORIGIN: the client leg sends an absolute-form
    POST with Expect; the upstream leg carries Via and X-Forwarded-For."""
    h, _ = req("POST", "http://origin.example/up", ["Expect: 100-continue",
                                                    "Content-Length: 1000"],
               host="origin.example")
    uh = ["Via: 1.1 handmade-proxy", "X-Forwarded-For: " + CLI, "Content-Length: 1000"]
    if upstream_expect:
        uh.insert(0, "Expect: 100-continue")
    u, _ = req("POST", "/up", uh, host="origin.example")
    t_up = 0.5 if upstream_at is None else upstream_at
    front = Conn(cap, CLI, PRX, port, 3128, 0).c(0, h)
    back = Conn(cap, PRX, ORIGIN, port + 1, 80, t_up - 0.3).c(t_up, u)
    t = client_body_at
    if origin_100 is not None:
        back.s(origin_100[0], origin_100[1])
    if client_100 is not None:
        front.s(client_100[0], client_100[1])
    if slow_body:
        for i in range(4):
            front.c(t + i * 50, BODY[i * 250:(i + 1) * 250])
        t_last = t + 150
    else:
        front.c(t, BODY)
        t_last = t
    back.c(max(t_last, t_up) + 0.3, BODY)
    back.s(max(t_last, t_up) + 1, OK)
    front.s(max(t_last, t_up) + 1.5, resp(200, "OK", ["Via: 1.1 handmade-proxy"], b"ok"))
    back.fin(t_last + 10)
    front.fin(t_last + 11)


def p1_dropped_100(cap):
    """P1 (and S3): the origin sends a 100 the proxy never passes on; the client
    waits 1 s."""
    _two_legs(cap, 40020, None, (1, interim()), 1000)


def p5_relayed_100_with_cl(cap):
    """P5 (and S9 on both legs): the origin's 100 carries Content-Length; the proxy
    relays it as it is."""
    c100 = interim(headers=["Content-Length: 0"])
    _two_legs(cap, 40030, (1.3, c100), (1, c100), 2)


def p2_forward_proxy_buffers(cap):
    """P2, P3: a forward proxy answers 100 itself, then holds the request until the
    whole (slow) body has come."""
    _two_legs(cap, 40040, (0.2, interim()), None, 1, slow_body=True, upstream_at=151.5,
              upstream_expect=False)


CASES = {
    "c2-stall-no-expect": c2_stall_no_expect,
    "c3-long-wait": c3_long_wait,
    "c4-retry-keeps-expect": c4_retry_keeps_expect,
    "c7-unsolicited": c7_unsolicited,
    "c9-chunked-to-http10": c9_chunked_to_http10,
    "c10-after-close": c10_after_close,
    "c11-post-retry": c11_post_retry,
    "s5-100-no-final": s5_100_no_final,
    "s8-101-without-100": s8_101_without_100,
    "s9-s10-framing": s9_s10_framing,
    "s10-hostile-value": s10_hostile_value,
    "s12-out-of-step": s12_out_of_step,
    "s14-after-close": s14_after_close,
    "p6-http10-client": p6_http10_client,
    "p1-dropped-100": p1_dropped_100,
    "p5-relayed-100-with-cl": p5_relayed_100_with_cl,
    "p2-forward-proxy-buffers": p2_forward_proxy_buffers,
}


def write_all(outdir):
    os.makedirs(outdir, exist_ok=True)
    paths = {}
    for name, make in CASES.items():
        cap = Capture()
        make(cap)
        paths[name] = os.path.join(outdir, name + ".pcap")
        cap.write(paths[name])
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, path in write_all(sys.argv[1]).items():
        print(path)
