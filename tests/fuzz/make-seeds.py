#!/usr/bin/env python3
"""make-seeds.py: seed corpora for the fuzz targets, from the test captures
(tests/pcap/*.pcap, tests/framing/*.pcap) and the dissector fixtures (tests/h1/*.txt).

    python3 tests/fuzz/make-seeds.py [--out tests/fuzz/corpus]

Writes corpus/{decode,reasm,h1,pcap}/seed-*; files the fuzzers added (any other
name) are left alone. Each seed is in the input format its target's header comment
describes; the encoders here must follow those formats. Standard library only.
"""
import argparse
import gzip
import lzma
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

# Supported link types in the order fuzz_decode.c finds them (ascending DLT value):
# NULL 0, EN10MB 1, RAW 12, LOOP 108, LINUX_SLL 113, PPI 192, IPV4 228, IPV6 229,
# LINUX_SLL2 276. A new supported type shifts the indexes: regenerate.
LINK_INDEX = {0: 0, 1: 1, 12: 2, 108: 3, 113: 4, 192: 5, 228: 6, 229: 7, 276: 8}

PCAP_MAX_BYTES = 16 * 1024  # captures larger than this are not copied into the corpus


# ---------------------------------------------------------------- reading captures

def read_pcap(path):
    """(linktype, [(ts_us, caplen, wire_len, frame)]) of a classic pcap file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        return None, []
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, caplen, wire = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + caplen]
        off += caplen
        out.append((sec * 1000000 + (frac // 1000 if nano else frac), caplen, wire, frame))
    return linktype, out


def l3_of(linktype, frame):
    """(ethertype, offset of the IP header) for the link types the captures use."""
    if linktype == 1:
        off, et = 14, struct.unpack(">H", frame[12:14])[0]
        while et in (0x8100, 0x88A8):
            et = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
        return et, off
    if linktype == 276:
        return struct.unpack(">H", frame[0:2])[0], 20
    return None, 0


def tcp_of(linktype, frame):
    """A dict for a TCP segment, or None."""
    et, off = l3_of(linktype, frame)
    ip = frame[off:]
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0] or len(ip)
        if ip[9] != 6:
            return None
        src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:min(total, len(ip))]
    elif et == 0x86DD and len(ip) >= 40:
        if ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, tcp = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, offx, flags = struct.unpack(">HHIIBB", tcp[:14])
    hl = (offx >> 4) * 4
    return {"src": (src, sport), "dst": (dst, dport), "seq": seq, "ack": ack,
            "flags": flags, "payload": tcp[hl:], "ip": ip, "et": et}


def captures():
    # tests/framing: hand-made framing traps (framing.py), named framing-CASE
    for sub, prefix in (("pcap", ""), ("framing", "framing-")):
        d = os.path.join(TESTS, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".pcap"):
                lt, pkts = read_pcap(os.path.join(d, name))
                if lt is not None:
                    yield prefix + name[:-5], os.path.join(d, name), lt, pkts


def connections(lt, pkts):
    """Segments grouped by connection, in capture order: a list of
    (client, server, [(ts_us, dir, seg)]). The client is who sent the first SYN, or
    else the side with the higher port."""
    conns, order = {}, []
    for ts, _, _, frame in pkts:
        seg = tcp_of(lt, frame)
        if not seg:
            continue
        key = frozenset((seg["src"], seg["dst"]))
        if key not in conns:
            syn_only = seg["flags"] & 0x12 == 0x02
            client = seg["src"] if syn_only or seg["src"][1] > seg["dst"][1] else seg["dst"]
            server = seg["dst"] if client == seg["src"] else seg["src"]
            conns[key] = (client, server, [])
            order.append(key)
        client, server, segs = conns[key]
        segs.append((ts, 0 if seg["src"] == client else 1, seg))
    return [conns[k] for k in order]


# ---------------------------------------------------------------- decode seeds

def link_variants(ip, ethertype):
    """The same IP packet framed by every supported link type, and tagged Ethernet."""
    v4 = ethertype == 0x0800
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    et = struct.pack(">H", ethertype)
    fam = 2 if v4 else 30
    out = {
        "null": (0, struct.pack("<I", fam) + ip),
        "null-be": (0, struct.pack(">I", 2 if v4 else 24) + ip),
        "eth": (1, eth + et + ip),
        "vlan": (1, eth + b"\x81\x00\x00\x64" + et + ip),
        "qinq": (1, eth + b"\x88\xa8\x00\x0a\x81\x00\x00\x14" + et + ip),
        "mpls": (1, eth + b"\x88\x47\x00\x01\x01\x40" + ip),
        "pppoe": (1, eth + b"\x88\x64\x11\x00\x00\x01" + struct.pack(">H", len(ip) + 2) +
                  (b"\x00\x21" if v4 else b"\x00\x57") + ip),
        "raw": (12, ip),
        "loop": (108, struct.pack(">I", fam) + ip),
        "sll": (113, b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 6 + b"\x00\x00" + et + ip),
        "ppi": (192, struct.pack("<BBHI", 0, 0, 8, 1) + eth + et + ip),
        "ip": (228 if v4 else 229, ip),
        "sll2": (276, et + b"\x00\x00" + struct.pack(">IHBB", 2, 1, 0, 6) + b"\x02" * 8 + ip),
    }
    return out


def decode_seeds():
    seeds = {}
    for name, _, lt, pkts in captures():
        # a few frames per capture: the first, the first with payload, the largest
        picked = []
        with_payload = [p for p in pkts if (tcp_of(lt, p[3]) or {}).get("payload")]
        for p in (pkts[:1] + with_payload[:1] + sorted(with_payload, key=lambda p: -p[1])[:1]):
            if p not in picked:
                picked.append(p)
        for i, (_, caplen, wire, frame) in enumerate(picked):
            seeds["%s-%d" % (name, i)] = bytes([LINK_INDEX[lt], max(0, min(255, wire - caplen))]) + frame
    # every framing of one IPv4 and one IPv6 data segment
    done = set()
    for name, _, lt, pkts in captures():
        for _, _, _, frame in pkts:
            seg = tcp_of(lt, frame)
            if not seg or not seg["payload"] or seg["et"] in done:
                continue
            done.add(seg["et"])
            fam = "v4" if seg["et"] == 0x0800 else "v6"
            for vname, (vlt, vframe) in link_variants(seg["ip"], seg["et"]).items():
                seeds["link-%s-%s" % (fam, vname)] = bytes([LINK_INDEX[vlt], 0]) + vframe
                # cut by a snaplen in the middle of the payload
                seeds["link-%s-%s-cut" % (fam, vname)] = (bytes([LINK_INDEX[vlt], 200]) +
                                                          vframe[:len(vframe) - 200])
    return seeds


# ---------------------------------------------------------------- pcap seeds

def pcapng_of(lt, pkts):
    def block(btype, body):
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", lt, 0, 65535))
    for ts, caplen, wire, frame in pkts:
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, caplen, wire) + frame)
    return out


def zstd_raw_frame(data):
    """A zstd frame holding data in raw (stored) blocks: the standard library has no
    zstd compressor, and the fuzzer mutates its way to compressed blocks from here."""
    out = bytearray(b"\x28\xb5\x2f\xfd\xa0" + struct.pack("<I", len(data)))
    for at in range(0, max(len(data), 1), 1 << 17):
        block = data[at:at + (1 << 17)]
        last = at + (1 << 17) >= len(data)
        out += struct.pack("<I", (len(block) << 3) | int(last))[:3] + block
    return bytes(out)


# ---------------------------------------------------------------- hand-made floods

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp4(src, sport, dst, dport, seq, ack, flags, payload=b""):
    """An Ethernet/IPv4/TCP frame with correct checksums."""
    sa, da = bytes(src), bytes(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + payload
    ph = sa + da + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, sa, da)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp


def pcap_bytes(frames):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1700000000, i, len(f), len(f)) + f)
    return b"".join(out)


def caps_floods():
    """The memory-cap floods of tests/floods (issue 15), small: flows holding one-byte
    out-of-order segments, each past its own hole; concurrent Expect uploads all waiting
    for their 100 before any is answered."""
    srv = (10, 0, 0, 5)
    S, A, P = 0x02, 0x10, 0x18
    tiny, ups = [], []
    for i in range(4):
        cli, cp = (172, 24, 0, i + 1), 10000 + i
        c, s = 5000 + i, 9000
        tiny += [tcp4(cli, cp, srv, 80, c, 0, S), tcp4(srv, 80, cli, cp, s, c + 1, S | A),
                 tcp4(cli, cp, srv, 80, c + 1, s + 1, A)]
        req = (b"POST /u HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\n"
               b"Content-Length: 4000\r\n\r\n")
        tiny.append(tcp4(cli, cp, srv, 80, c + 1, s + 1, P, req))
        for j in range(60):
            tiny.append(tcp4(cli, cp, srv, 80, c + 1 + len(req) + 2 * j + 1, s + 1, P, b"o"))
    conns = []
    for i in range(24):
        cli, cp = (172, 28, 0, i + 1), 20000 + i
        c, s = 7000 + 3 * i, 11000
        req = (b"POST /up HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\n"
               b"Content-Length: 5\r\n\r\n")
        ups += [tcp4(cli, cp, srv, 80, c, 0, S), tcp4(srv, 80, cli, cp, s, c + 1, S | A),
                tcp4(cli, cp, srv, 80, c + 1, s + 1, A),
                tcp4(cli, cp, srv, 80, c + 1, s + 1, P, req)]
        conns.append((cli, cp, c + 1 + len(req), s + 1))
    c100 = b"HTTP/1.1 100 Continue\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    for cli, cp, c, s in conns:
        ups.append(tcp4(srv, 80, cli, cp, s, c, P, c100))
    for cli, cp, c, s in conns:
        ups += [tcp4(cli, cp, srv, 80, c, s + len(c100), P, b"hello"),
                tcp4(srv, 80, cli, cp, s + len(c100), c + 5, P, ok)]
    return {"caps-ooo-tiny": pcap_bytes(tiny), "caps-uploads": pcap_bytes(ups)}


def pcap_seeds():
    seeds = dict(caps_floods())
    smallest = None
    for name, path, lt, pkts in captures():
        data = open(path, "rb").read()
        if len(data) <= PCAP_MAX_BYTES:
            seeds[name] = data
            if smallest is None or len(data) < len(smallest[1]):
                smallest = (name, data, lt, pkts)
    name, data, lt, pkts = smallest
    seeds[name + "-pcapng"] = pcapng_of(lt, pkts)
    seeds[name + "-gzip"] = gzip.compress(data, mtime=0)
    xz = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    seeds[name + "-xz"] = xz
    seeds[name + "-xz-cut"] = xz[:len(xz) * 2 // 3]
    seeds[name + "-zstd"] = zstd_raw_frame(data)
    seeds[name + "-truncated"] = data[:len(data) - 7]
    seeds["header-only"] = data[:24]
    # the same packets as raw IP (DLT_RAW 12 on Linux)
    raw = bytearray(data[:20] + struct.pack("<I", 12))
    for ts, _, _, frame in pkts:
        _, off = l3_of(lt, frame)
        ip = frame[off:]
        raw += struct.pack("<IIII", ts // 1000000, ts % 1000000, len(ip), len(ip)) + ip
    seeds[name + "-raw"] = bytes(raw)
    for wname, wdata in wire_cases().items():
        seeds["wire-" + wname.rsplit(".", 1)[0]] = wdata
    return seeds


# ---------------------------------------------------------------- h1 seeds

def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t"}.get(n, n.encode())
            i += 2
            continue
        out += c.encode("latin-1")
        i += 1
    return bytes(out)


def h1_chunk(kind, d, step_us, n, conn=0):
    """One chunk header of fuzz_h1.c: kind 0 data, 6 gap, 7 eof."""
    step = min(20000, max(0, step_us // 100))
    return struct.pack("<BHH", d | kind << 1 | conn << 4, step, n)


def h1_fixture_seed(path):
    """A fixture as fuzz_h1 input: 0 h0 (FIN) or 1 (RST), then its events."""
    end, body, pending_us = 0, bytearray(), 0
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\n")
        if line.startswith("@"):
            pending_us += int(line[2:]) * 1000
        elif line[:1] in (">", "<"):
            data = unescape(line[2:])
            body += h1_chunk(0, 0 if line[0] == ">" else 1, pending_us, len(data)) + data
            pending_us = 0
        elif line[:2] in ("->", "-<", "~>", "~<"):
            # a gap (6), or bytes the snap length kept out (6 with c0 bit 6); fuzz_h1
            # takes at most 0xfeff bytes this way
            n = max(1, min(int(line[3:]), 0xFEFF))
            c = h1_chunk(6, 0 if line[1] == ">" else 1, pending_us, n)
            if line[0] == "~":
                c = bytes([c[0] | 0x40]) + c[1:]
            body += c
            pending_us = 0
        elif line.startswith("! eof"):
            body += h1_chunk(7, 1 if line.endswith("<") else 0, pending_us, 0)
            pending_us = 0
        elif line.startswith("! rst"):
            end = 1
        elif line.startswith("! fin"):
            end = 0
    return bytes([end]) + bytes(body)


def stream_events(segs):
    """In-order payload per direction, with gaps: what reassembly would deliver for a
    simple capture. Yields (ts_us, dir, 'data'|'gap'|'eof', bytes or count)."""
    nxt = [None, None]
    for ts, d, seg in segs:
        flags, seq, pl = seg["flags"], seg["seq"], seg["payload"]
        if flags & 0x02:
            nxt[d] = (seq + 1) & 0xFFFFFFFF
            continue
        if nxt[d] is None:
            nxt[d] = seq
        off = (seq - nxt[d]) & 0xFFFFFFFF
        if pl:
            if off >= 0x80000000:  # starts before next: keep only the new part
                back = (-off) & 0xFFFFFFFF
                if back >= len(pl):
                    pl = b""
                else:
                    pl, off = pl[back:], 0
            elif off:
                yield ts, d, "gap", off
            if pl:
                yield ts, d, "data", pl
                nxt[d] = (nxt[d] + off + len(pl)) & 0xFFFFFFFF
        if flags & 0x01:
            yield ts, d, "eof", 0


def h1_capture_seed(conns):
    """The first two HTTP connections of a capture as fuzz_h1 input."""
    end = 1 if any(s["flags"] & 0x04 for c in conns for _, _, s in c[2]) else 0
    evs = []
    for k, (_, _, segs) in enumerate(conns[:2]):
        evs += [(ts, k, d, kind, v) for ts, d, kind, v in stream_events(segs)]
    evs.sort(key=lambda e: e[0])
    body, last = bytearray(), evs[0][0] if evs else 0
    for ts, k, d, kind, v in evs:
        step = max(0, ts - last)
        last = ts
        if kind == "data":
            for i in range(0, len(v), 0xFFFF):
                part = v[i:i + 0xFFFF]
                body += h1_chunk(0, d, step if i == 0 else 0, len(part), k) + part
        elif kind == "gap":
            body += h1_chunk(6, d, step, min(v, 0xFEFF), k)
        else:
            body += h1_chunk(7, d, step, 0, k)
    return bytes([end | (0x20 if len(conns) > 1 else 0)]) + bytes(body)


def h1_seeds():
    seeds = {}
    d = os.path.join(TESTS, "h1")
    for name in sorted(os.listdir(d)):
        if name.endswith(".txt"):
            seeds["fixture-" + name[:-4]] = h1_fixture_seed(os.path.join(d, name))
    for name, path, lt, pkts in captures():
        conns = connections(lt, pkts)
        if conns and os.path.getsize(path) <= PCAP_MAX_BYTES * 2:
            seeds["pcap-" + name] = h1_capture_seed(conns)
    return seeds


# ---------------------------------------------------------------- reasm seeds

def seq_lt(a, b):
    return ((a - b) & 0xFFFFFFFF) >= 0x80000000


def reasm_seed(conns, g0):
    """Every segment of up to 24 connections as fuzz_reasm input, offsets computed the
    way fuzz_reasm.c applies them; g0 picks the cap and the ISNs (g2 = g3 = 0)."""
    conns = conns[:24]
    isn_f = [0xFFFFFFFF if g0 & 0x08 else 1000, 0xFFFFFFFF if g0 & 0x10 else 5000]
    segs = []
    for i, (_, _, ss) in enumerate(conns):
        segs += [(ts, i, d, s) for ts, d, s in ss]
    segs.sort(key=lambda x: x[0])
    # each direction's ISN: its SYN's sequence number, else the first one seen
    real_isn = {}
    for _, i, d, s in segs:
        if s["flags"] & 0x02 and (i, d, "syn") not in real_isn:
            real_isn[(i, d)] = s["seq"]
            real_isn[(i, d, "syn")] = True
        real_isn.setdefault((i, d), s["seq"])
    top = {(i, d): (isn_f[d] + i) & 0xFFFFFFFF for i in range(len(conns)) for d in (0, 1)}
    out = bytearray([g0, (len(conns) - 1) & 31, 0, 0])
    last = segs[0][0] if segs else 0
    for ts, i, d, s in segs:
        want = (isn_f[d] + i + s["seq"] - real_isn[(i, d)]) & 0xFFFFFFFF
        delta = (want - top[(i, d)]) & 0xFFFFFFFF
        delta = delta - (1 << 32) if delta >= 0x80000000 else delta
        s0 = d
        if not -32768 <= delta <= 32767:
            if delta % 4096 or not -32768 <= delta // 4096 <= 32767:
                continue
            delta //= 4096
            s0 |= 0x40
        ack = 0
        if s["flags"] & 0x10 and (i, 1 - d) in real_isn:
            wa = (isn_f[1 - d] + i + s["ack"] - real_isn[(i, 1 - d)]) & 0xFFFFFFFF
            ack = (wa - top[(i, 1 - d)]) & 0xFFFFFFFF
            ack = ack - (1 << 32) if ack >= 0x80000000 else ack
            ack = max(-32768, min(32767, ack))
        f = s["flags"]
        s0 |= (0x02 if f & 0x02 else 0) | (0x04 if f & 0x01 else 0) | \
              (0x08 if f & 0x04 else 0) | (0x10 if f & 0x10 else 0)
        dt = max(0, ts - last)
        last = ts
        step = dt // 100 if dt < 12800 else 0x80 | min(127, dt // 50000)
        pl = s["payload"][:0xFFFF]
        out += struct.pack("<BBhhHBB", s0, i, delta, ack, len(pl), step, 0) + pl
        seq = (top[(i, d)] + delta * (4096 if s0 & 0x40 else 1)) & 0xFFFFFFFF
        end = (seq + len(pl) + (1 if f & 0x02 else 0) + (1 if f & 0x01 else 0)) & 0xFFFFFFFF
        if seq_lt(top[(i, d)], end):
            top[(i, d)] = end
    return bytes(out)


def wire_cases():
    """The hand-made captures of tests/wire/wirecaps.py (issue 15): name -> bytes."""
    sys.path.insert(0, os.path.join(TESTS, "wire"))
    import wirecaps  # noqa: E402
    return wirecaps.cases()


def wire_pcaps():
    """(name, linktype, packets) of the classic pcap ones."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, data in sorted(wire_cases().items()):
            if not name.endswith(".pcap") or name.startswith("err-"):
                continue
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(data)
            lt, pkts = read_pcap(path)
            if lt is not None:
                yield name[:-5], lt, pkts


def reasm_seeds():
    seeds = {}
    for name, lt, pkts in wire_pcaps():
        conns = connections(lt, pkts)
        if conns:
            seeds["wire-" + name] = reasm_seed(conns, 0x07)
    for name, path, lt, pkts in captures():
        if os.path.getsize(path) > PCAP_MAX_BYTES * 2:
            continue
        conns = connections(lt, pkts)
        if not conns:
            continue
        seeds[name] = reasm_seed(conns, 0x07)            # default cap
        seeds[name + "-wrap-cap1000"] = reasm_seed(conns, 0x1B)  # both ISNs wrap, 1000 B
    for name, data in caps_floods().items():
        path = os.path.join(HERE, ".caps.pcap")
        with open(path, "wb") as f:
            f.write(data)
        lt, pkts = read_pcap(path)
        os.remove(path)
        seeds[name + "-cap1000"] = reasm_seed(connections(lt, pkts), 0x1B)
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    total = 0
    for target, seeds in (("decode", decode_seeds()), ("pcap", pcap_seeds()),
                          ("h1", h1_seeds()), ("reasm", reasm_seeds())):
        d = os.path.join(args.out, target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("seed-"):
                os.remove(os.path.join(d, old))
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
            total += len(data)
        print("%s: %d seeds" % (target, len(seeds)))
    print("%d bytes" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
