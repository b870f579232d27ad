#!/usr/bin/env python3
"""idle-flows.py N OUT.pcap: N HTTP/1.1 keep-alive connections left open and idle.

Each connection (client 10.80.x.y, server 10.81.0.1:80) does a three-way handshake,
one GET and its 200 response (with typical curl / nginx header blocks), and the
client's ACK; then nothing more, no FIN. All connections are opened first and stay
open to the end of the capture, so a flow table holds N idle HTTP flows at once.
Comparing peak RSS of `expectscope analyze` on N = 1000 and N = 100000 gives the
memory one idle TCP flow costs (see docs/performance.md). Standard library only;
valid IPv4 and TCP checksums; classic pcap, Ethernet, microsecond timestamps.
"""

import struct
import sys

ETH = bytes.fromhex("020000000002" "020000000001" "0800")
PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
F_SYN, F_ACK, F_PSH = 0x02, 0x10, 0x08


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    c = csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ETH + ip + tcp + payload


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    srv = bytes([10, 81, 0, 1])
    body = b"<html><body>hello</body></html>\n" * 4
    t = 1717243200 * 1000000
    with open(out, "wb") as f:
        f.write(PCAP_HDR)

        def w(pkt):
            nonlocal t
            t += 20
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(pkt), len(pkt)))
            f.write(pkt)
        for i in range(n):
            cli = bytes([10, 80, (i >> 8) & 0xFF, i & 0xFF])
            sport = 20000 + i // 65536
            cs, ss = 1000 + i, 500000 + i
            req = (b"GET /item/%d HTTP/1.1\r\nHost: 10.81.0.1\r\nUser-Agent: curl/7.88.1\r\n"
                   b"Accept: */*\r\n\r\n" % i)
            resp = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
                    b"Date: Sat, 01 Jun 2024 12:00:00 GMT\r\nContent-Type: text/html\r\n"
                    b"Content-Length: %d\r\nLast-Modified: Sat, 01 Jun 2024 11:00:00 GMT\r\n"
                    b"Connection: keep-alive\r\nETag: \"665b0000-80\"\r\n"
                    b"Accept-Ranges: bytes\r\n\r\n" % len(body)) + body
            w(packet(cli, srv, sport, 80, cs, 0, F_SYN))
            w(packet(srv, cli, 80, sport, ss, cs + 1, F_SYN | F_ACK))
            w(packet(cli, srv, sport, 80, cs + 1, ss + 1, F_ACK))
            w(packet(cli, srv, sport, 80, cs + 1, ss + 1, F_PSH | F_ACK, req))
            w(packet(srv, cli, 80, sport, ss + 1, cs + 1 + len(req), F_PSH | F_ACK, resp))
            w(packet(cli, srv, sport, 80, cs + 1 + len(req), ss + 1 + len(resp), F_ACK))
    print("%s: %d idle keep-alive connections, %d packets" % (out, n, 6 * n),
          file=sys.stderr)


if __name__ == "__main__":
    main()
