#!/usr/bin/env python3
"""pcap-derive.py: make damaged copies of a capture of HTTP POSTs on one connection.

    pcap-derive.py gap-body|gap-headers|reordered IN.pcap OUT.pcap

Reads and writes classic pcap (Ethernet, IPv4/IPv6, TCP) with struct only.
  gap-body     drop the middle client data segment of the first request's body
  gap-headers  drop the client segment that carries the second request's header block
  reordered    swap the 2nd and 3rd client segments of the first request's body; the
               packet records trade places, the timestamps stay where they were, so
               time still runs forward and only the order of the data changes
The input must hold one HTTP connection whose requests each start a client segment
(what curl does: the head in one write, the body after the 100).
"""
import struct
import sys

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ")


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        sys.exit("%s: not a classic pcap file" % path)
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit("%s: link type %d, want Ethernet (1)" % (path, linktype))
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        if len(pkt) < incl:
            sys.exit("%s: truncated record" % path)
        recs.append([sec, frac, orig, pkt])
        off += 16 + incl
    return e, data[:24], recs


def write_pcap(path, e, header, recs):
    with open(path, "wb") as f:
        f.write(header)
        for sec, frac, orig, pkt in recs:
            f.write(struct.pack(e + "IIII", sec, frac, len(pkt), orig))
            f.write(pkt)


def tcp_info(pkt):
    """(src, sport, dst, dport, flags, payload) or None for a non-TCP frame."""
    off, etype = 14, struct.unpack(">H", pkt[12:14])[0]
    while etype == 0x8100:                                  # VLAN tags
        etype = struct.unpack(">H", pkt[off + 2:off + 4])[0]
        off += 4
    if etype == 0x0800:
        ihl = (pkt[off] & 0x0F) * 4
        if pkt[off + 9] != 6:
            return None
        total = struct.unpack(">H", pkt[off + 2:off + 4])[0]
        src, dst = pkt[off + 12:off + 16], pkt[off + 16:off + 20]
        t, end = off + ihl, off + total
    elif etype == 0x86DD:
        if pkt[off + 6] != 6:                     # no extension headers expected here
            return None
        plen = struct.unpack(">H", pkt[off + 4:off + 6])[0]
        src, dst = pkt[off + 8:off + 24], pkt[off + 24:off + 40]
        t, end = off + 40, off + 40 + plen
    else:
        return None
    sport, dport = struct.unpack(">HH", pkt[t:t + 4])
    doff = (pkt[t + 12] >> 4) * 4
    flags = pkt[t + 13]
    return src, sport, dst, dport, flags, pkt[t + doff:end]


def client_segments(recs):
    """Indexes of the client's data-carrying records, and the indexes among them that
    start a request."""
    client = None
    data_idx = []
    for i, r in enumerate(recs):
        ti = tcp_info(r[3])
        if ti is None:
            continue
        src, sport, dst, dport, flags, payload = ti
        if client is None and flags & 0x12 == 0x02:         # SYN without ACK
            client = (src, sport)
        if client is not None and (src, sport) == client and payload:
            data_idx.append(i)
    if client is None:
        sys.exit("no SYN in the capture")
    starts = [k for k, i in enumerate(data_idx) if tcp_info(recs[i][3])[5].startswith(METHODS)]
    return data_idx, starts


def body_segments(data_idx, starts, n):
    """Record indexes of the client segments after request n's head, before request n+1."""
    first = starts[n] + 1
    last = starts[n + 1] if n + 1 < len(starts) else len(data_idx)
    return data_idx[first:last]


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("gap-body", "gap-headers", "reordered"):
        sys.exit(__doc__)
    what, src, dst = sys.argv[1:]
    e, header, recs = read_pcap(src)
    data_idx, starts = client_segments(recs)
    body0 = body_segments(data_idx, starts, 0)
    if what == "gap-body":
        if len(body0) < 3:
            sys.exit("first body has %d segments, need 3" % len(body0))
        drop = body0[len(body0) // 2]
        recs = recs[:drop] + recs[drop + 1:]
    elif what == "gap-headers":
        if len(starts) < 2:
            sys.exit("need a second request on the connection")
        drop = data_idx[starts[1]]
        recs = recs[:drop] + recs[drop + 1:]
    else:
        if len(body0) < 3:
            sys.exit("first body has %d segments, need 3" % len(body0))
        a, b = body0[1], body0[2]
        # swap what was captured, keep each slot's timestamp
        recs[a][2:], recs[b][2:] = recs[b][2:], recs[a][2:]
    write_pcap(dst, e, header, recs)


if __name__ == "__main__":
    main()
