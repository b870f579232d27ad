#!/usr/bin/env python3
"""A capture of hostile HTTP/1.1 exchanges, for the export escaping test.

    hostile.py OUT.pcap       write it and print what each exchange holds

write_pcap(path) writes a classic pcap (Ethernet, IPv4, TCP with a handshake, exact
sequence and acknowledgement numbers, valid checksums, FIN both ways) and returns one
dict per exchange saying what each field holds, as bytes: the request target, Host,
User-Agent, Expect, the final response's reason, Server and Via, and the three header
blocks exactly as sent. A field that was not sent is None.

Every payload below goes into every field that can carry it: markup, quotes of both
kinds, backslashes (one spelled like an escape, \\x41), C0 controls (NUL, SOH, ESC),
DEL, a lone UTF-8 lead byte, an overlong form, a surrogate, a C1 control (CSI),
U+2028, spreadsheet formula prefixes, a tab, a bare CR. HTTP allows a tab inside a
field value and a reason phrase (RFC 9110 5.5, RFC 9112 4); everything else a hostile
peer may send anyway. The request target cannot hold a space (it ends the request
line): there spaces are sent as %20.

Each payload gets two connections from its own client port:
  - "expect": POST with Expect set to the payload (so its verdict is not plain and
    the header blocks are stored), a 100 whose reason and one field hold it, the
    5-byte body, then a 200 whose reason, Server, Via, Content-Type and a cookie hold it;
  - "plain": GET without Expect (a plain exchange: no blocks stored, the export builds
    what it can from the columns), answered 200 with the same hostile response fields.
"""
import struct
import sys

PAYLOADS = [
    ("script", b"<script>alert(1)</script>"),
    ("img", b"\"><img src=x onerror=alert(1)>"),
    ("quotes", b"it's \"double\" and 'single'"),
    ("backslash", b"C:\\dir\\x41\\\\end\\"),
    ("nul", b"a\x00b"),
    ("soh", b"a\x01b"),
    ("ansi", b"\x1b[31mred\x1b[0m"),
    ("del", b"a\x7fb"),
    ("lone_c3", b"caf\xc3-x"),
    ("overlong", b"\xc0\xaf..\xc0\xaf"),
    ("surrogate", b"s\xed\xa0\x80s"),
    ("c1", b"\xc2\x9b31m"),
    ("u2028", b"line\xe2\x80\xa8sep"),
    ("utf8", b"na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80"),
    ("hyperlink", b"=HYPERLINK(\"http://evil.example/\",\"click\")"),
    ("plus", b"+1"),
    ("minus", b"-2"),
    ("at", b"@SUM(1)"),
    ("tab", b"a\tb"),
    ("cr", b"a\rb"),
]

CLIENT, SERVER = bytes([10, 66, 0, 1]), bytes([10, 66, 0, 2])
SERVER_PORT = 8080
T0 = 1796000000.0  # 2026-11-30


def _sum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum(b):
    return (~_sum16(b)) & 0xFFFF


class Pcap:
    def __init__(self, f):
        self.f = f
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.ip_id = 1

    def packet(self, t, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp + payload)) + tcp[18:]
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, self.ip_id, 0x4000, 64, 6, 0,
                         src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        self.ip_id += 1
        mac_c, mac_s = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
        eth = mac_s + mac_c if src == CLIENT else mac_c + mac_s  # destination, source
        frame = eth + b"\x08\x00" + ip + tcp + payload
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        self.f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


class Conn:
    """One TCP connection, its sequence numbers kept exactly."""

    def __init__(self, pcap, port, t):
        self.p, self.port, self.t = pcap, port, t
        self.cseq, self.sseq = 1000, 500000
        F_SYN, F_ACK = 0x02, 0x10
        self._pkt(True, F_SYN, b"", seq_adv=1)
        self._pkt(False, F_SYN | F_ACK, b"", seq_adv=1)
        self._pkt(True, F_ACK, b"")

    def _pkt(self, client, flags, data, seq_adv=None):
        self.t += 0.0002
        if client:
            self.p.packet(self.t, CLIENT, SERVER, self.port, SERVER_PORT, self.cseq,
                          self.sseq if flags & 0x10 else 0, flags, data)
            self.cseq += len(data) if seq_adv is None else seq_adv
        else:
            self.p.packet(self.t, SERVER, CLIENT, SERVER_PORT, self.port, self.sseq,
                          self.cseq, flags, data)
            self.sseq += len(data) if seq_adv is None else seq_adv

    def send(self, client, data, wait=0.001):
        self.t += wait
        self._pkt(client, 0x18, data)          # PSH, ACK
        self._pkt(not client, 0x10, b"")       # the peer's ACK

    def close(self):
        self._pkt(True, 0x11, b"", seq_adv=1)  # FIN, ACK
        self._pkt(False, 0x11, b"", seq_adv=1)
        self._pkt(True, 0x10, b"")
        return self.t


def _pct(payload):
    """The payload as a request target can carry it: llhttp (like servers) ends or
    refuses a request line at a space or a C0 control other than the tab, so those are
    sent as %XX; everything else, invalid UTF-8 included, goes as it is."""
    return b"".join(b"%%%02X" % c if (c < 0x20 and c != 0x09) or c in (0x20, 0x7f)
                    else bytes([c]) for c in payload)


def _target(name, payload):
    return b"/h/" + name.encode() + b"/" + _pct(payload) + b"?q=" + \
        _pct(payload).replace(b"&", b"%26") + b"&x=1"


def write_pcap(path):
    """Write the capture; return one dict per exchange (see the module's doc)."""
    out = []
    t = T0
    with open(path, "wb") as f:
        pcap = Pcap(f)
        port = 40000
        for name, pl in PAYLOADS:
            for kind in ("expect", "plain"):
                port += 1
                c = Conn(pcap, port, t)
                target = _target(name, pl)
                host = b"h-" + pl
                ua = b"ua " + pl
                if kind == "expect":
                    req = (b"POST " + target + b" HTTP/1.1\r\nHost: " + host +
                           b"\r\nUser-Agent: " + ua + b"\r\nExpect: " + pl +
                           b"\r\nCookie: c1=" + pl.replace(b";", b",") + b"; c2=v\r\n"
                           b"Content-Length: 5\r\n\r\n")
                    interim = (b"HTTP/1.1 100 " + pl + b"\r\nX-Interim: " + pl +
                               b"\r\n\r\n")
                else:
                    req = (b"GET " + target + b" HTTP/1.1\r\nHost: " + host +
                           b"\r\nUser-Agent: " + ua + b"\r\n\r\n")
                    interim = None
                server, via, reason = b"srv " + pl, b"1.1 " + pl, pl
                resp = (b"HTTP/1.1 200 " + reason + b"\r\nServer: " + server +
                        b"\r\nVia: " + via + b"\r\nContent-Type: text/" + pl +
                        b"\r\nSet-Cookie: s=" + pl.replace(b";", b",") +
                        b"; Path=/" + pl.replace(b";", b",") + b"; HttpOnly\r\n"
                        b"Content-Length: 2\r\n\r\n")
                c.send(True, req)
                if interim:
                    c.send(False, interim)
                    c.send(True, b"hello")
                c.send(False, resp + b"ok")
                t = c.close() + 0.01
                out.append({
                    "name": name, "kind": kind, "payload": pl, "client_port": port,
                    "method": b"POST" if kind == "expect" else b"GET",
                    "uri": target, "host": host, "user_agent": ua,
                    "expect": pl if kind == "expect" else None,
                    "reason": reason, "server": server, "via": via,
                    "request_block": req, "interim_block": interim, "response_block": resp,
                })
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for x in write_pcap(sys.argv[1]):
        print(x["client_port"], x["kind"], x["name"], repr(x["payload"]))
