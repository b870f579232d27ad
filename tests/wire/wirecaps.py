#!/usr/bin/env python3
"""Hand-made captures of hostile or odd wire input (issue 15): packets meant to blind
reassembly, timestamps libpcap and the verdict engine must get right, and files that
break part-way through.

    wirecaps.py OUTDIR       write every case as OUTDIR/<case>.pcap or .pcapng

Each capture holds one HTTP/1.1 exchange with 'Expect: 100-continue' answered by a 100
in 5 ms, the body 1 ms later and a 200 2 ms after it (verdict continue_ok), on
Ethernet/IPv4 with exact sequence numbers and valid checksums, plus what the case is
about. tests/wire/test_wire.py holds what each must give.
"""
import os
import struct
import sys

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
CLI, SRV = bytes([10, 88, 0, 1]), bytes([10, 88, 0, 2])
CPORT, SPORT = 43210, 80
ISN_C, ISN_S = 1000000, 7000000
T0 = 1796100000.0  # 2026-12-11


def _sum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum(b):
    return (~_sum16(b)) & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"", wscale=None, window=65535):
    opts = b""
    if wscale is not None:
        opts = b"\x01\x03\x03" + bytes([wscale])
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    c = _csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp + payload


HEAD = (b"POST /up HTTP/1.1\r\nHost: wire.example\r\nUser-Agent: wirecaps/1\r\n"
        b"Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
BODY = b"b" * 1000
CONT = b"HTTP/1.1 100 Continue\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nServer: wire-srv/1\r\nContent-Length: 2\r\n\r\nok"


def exchange(t0, before=(), wscale=False):
    """(time in s, frame) of the whole connection; `before` is a list of
    (dt, frame-args) packets put after the handshake, before the request."""
    c, s = ISN_C + 1, ISN_S + 1
    out = []

    def cs(t, seq, ack, fl, p=b""):
        out.append((t, frame(CLI, SRV, CPORT, SPORT, seq, ack, fl, p)))

    def sc(t, seq, ack, fl, p=b""):
        out.append((t, frame(SRV, CLI, SPORT, CPORT, seq, ack, fl, p)))

    out.append((t0, frame(CLI, SRV, CPORT, SPORT, ISN_C, 0, SYN,
                          wscale=7 if wscale else None)))
    out.append((t0 + 0.0001, frame(SRV, CLI, SPORT, CPORT, ISN_S, ISN_C + 1, SYN | ACK,
                                   wscale=2 if wscale else None)))
    cs(t0 + 0.0002, c, s, ACK)
    for dt, f in before:
        out.append((t0 + dt, f))
    t = t0 + 0.010
    cs(t, c, s, PSH | ACK, HEAD)
    c += len(HEAD)
    sc(t + 0.005, s, c, PSH | ACK, CONT)
    s += len(CONT)
    cs(t + 0.006, c, s, PSH | ACK, BODY)
    c += len(BODY)
    sc(t + 0.008, s, c, PSH | ACK, OK)
    s += len(OK)
    cs(t + 0.009, c, s, FIN | ACK)
    sc(t + 0.0092, s, c + 1, FIN | ACK)
    cs(t + 0.0094, c + 1, s + 1, ACK)
    return out


def before_handshake(t0, pkts):
    """Packets (dt, flags, seq, ack, from_client) sent before the SYN at t0 + 0.001."""
    out = []
    for dt, fl, seq, ack, from_client in pkts:
        if from_client:
            out.append((t0 + dt, frame(CLI, SRV, CPORT, SPORT, seq, ack, fl)))
        else:
            out.append((t0 + dt, frame(SRV, CLI, SPORT, CPORT, seq, ack, fl)))
    return out + exchange(t0 + 0.001)


# ---- writers ----------------------------------------------------------------------

def pcap_bytes(recs, big=False, nsec=False, snaplen=65535, raw_ts=None):
    """Classic pcap. Seconds are written as unsigned 32-bit (the format's own type).
    raw_ts: a list of (sec, frac) to use instead of the times."""
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, 1)]
    for i, (t, data) in enumerate(recs):
        if raw_ts is not None:
            sec, frac = raw_ts[i]
        else:
            sec = int(t)
            frac = int(round((t - sec) * (1e9 if nsec else 1e6)))
            if frac >= (1000000000 if nsec else 1000000):
                sec, frac = sec + 1, 0
        out.append(struct.pack(e + "IIII", sec & 0xFFFFFFFF, frac, len(data), len(data)))
        out.append(data)
    return b"".join(out)


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def ng_block(btype, body, e="<"):
    body = _pad4(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def ng_shb(e="<"):
    return ng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)


def ng_idb(e="<", tsresol=None, linktype=1, snaplen=65535):
    opts = b""
    if tsresol is not None:
        opts += struct.pack(e + "HH", 9, 1) + _pad4(bytes([tsresol]))
        opts += struct.pack(e + "HH", 0, 0)
    return ng_block(0x00000001, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, e)


def ng_epb(data, ts_units, iface=0, e="<"):
    body = struct.pack(e + "IIIII", iface, (ts_units >> 32) & 0xFFFFFFFF,
                       ts_units & 0xFFFFFFFF, len(data), len(data)) + data
    return ng_block(0x00000006, body, e)


def ng_spb(data, e="<"):
    return ng_block(0x00000003, struct.pack(e + "I", len(data)) + data, e)


def pcapng_bytes(recs, tsresol=None, units_per_s=1000000, e="<", spb=False):
    out = [ng_shb(e), ng_idb(e, tsresol)]
    for t, data in recs:
        if spb:
            out.append(ng_spb(data, e))
        else:
            out.append(ng_epb(data, int(round(t * units_per_s)), 0, e))
    return b"".join(out)


# ---- the cases ---------------------------------------------------------------------

def cases():
    """name -> bytes of the capture file (the name carries the extension)."""
    c = {}
    # 1. one packet cannot blind reassembly
    c["blind-ack.pcap"] = pcap_bytes(exchange(T0, before=[
        # the "server" acknowledges 100000 client bytes that were never sent
        (0.0003, frame(SRV, CLI, SPORT, CPORT, ISN_S + 1, ISN_C + 1 + 100000, ACK))]))
    c["blind-rst.pcap"] = pcap_bytes(exchange(T0, before=[
        # a RST a billion sequence numbers away from the server's window
        (0.0003, frame(SRV, CLI, SPORT, CPORT, ISN_S + 1 + 1000000000, 0, RST))]))
    c["blind-rst-scaled.pcap"] = pcap_bytes(exchange(T0, wscale=True, before=[
        # beyond the client's window: 65535 << 7 is 8388480
        (0.0003, frame(SRV, CLI, SPORT, CPORT, ISN_S + 1 + 8388480 + 10, 0, RST))]))
    c["blind-flags.pcap"] = pcap_bytes(before_handshake(T0, [
        (0.0000, SYN | FIN, ISN_C + 5555, 0, True),     # SYN+FIN with another ISN
        (0.0001, SYN | RST, ISN_C + 6666, 0, True),     # SYN+RST
        (0.0002, FIN, ISN_C + 7777, 0, True),           # FIN without ACK
        (0.0003, 0, ISN_C + 8888, 0, True),             # no flag at all
        (0.0004, RST, ISN_S + 9999, 0, False),          # a RST with nothing to reset
        (0.0005, FIN | ACK, ISN_C + 1111, ISN_S, True),  # FIN debris before the SYN
    ]))
    c["blind-synfin.pcap"] = pcap_bytes(before_handshake(T0, [
        (0.0000, SYN | FIN, ISN_C + 5555, 0, True)]))  # alone: it would swallow the flow
    # 2. time
    y2040 = 2209075200.0  # 2040-01-01, past 2^31 s
    c["time-2040.pcap"] = pcap_bytes(exchange(y2040))
    c["time-2040-ns.pcap"] = pcap_bytes(exchange(y2040), big=True, nsec=True)
    c["time-2038.pcap"] = pcap_bytes(exchange(2147483648.0 - 0.012))  # crosses 2^31 s
    zero = exchange(T0)
    c["time-zero.pcap"] = pcap_bytes(zero, raw_ts=[(0, 0)] * len(zero))
    some = [(0, 0) if i >= 4 else (int(t), int(round((t - int(t)) * 1e6)))
            for i, (t, _) in enumerate(zero)]  # the handshake has times, the rest 0
    c["time-some-zero.pcap"] = pcap_bytes(zero, raw_ts=some)
    c["time-spb.pcapng"] = pcapng_bytes(exchange(T0), spb=True)
    c["tsresol-2-30.pcapng"] = pcapng_bytes(exchange(T0), tsresol=0x80 | 30,
                                            units_per_s=1 << 30)
    c["tsresol-10-0.pcapng"] = pcapng_bytes(exchange(T0), tsresol=0, units_per_s=1)
    # 2^64 picoseconds are 213 days: such a capture starts near the epoch
    c["tsresol-10-12.pcapng"] = pcapng_bytes(exchange(1000.0), tsresol=12,
                                             units_per_s=10 ** 12)
    c["tsresol-2-63.pcapng"] = pcapng_bytes(exchange(1.0), tsresol=0x80 | 63,
                                            units_per_s=1 << 63)
    # 3. read errors part-way: the exchange, then something libpcap cannot read
    good = exchange(T0)
    later = exchange(T0 + 1)  # a second connection after the break: never analysed
    base = pcap_bytes(good)
    bad_rec = struct.pack("<IIII", int(T0) + 1, 0, 0x7FFFFFFF, 0x7FFFFFFF) + b"x" * 64
    c["err-huge-record.pcap"] = base + bad_rec + pcap_bytes(later)[24:]
    ng = pcapng_bytes(good)
    c["err-huge-block.pcapng"] = (ng + struct.pack("<II", 6, 0x7FFFFFF0) + b"\0" * 64)
    c["err-other-endian.pcapng"] = ng + pcapng_bytes(later, e=">")
    c["err-no-interface.pcapng"] = (ng + ng_epb(later[0][1], int(later[0][0] * 1e6), 3) +
                                    b"".join(ng_epb(d, int(t * 1e6)) for t, d in later[1:]))
    return c


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in cases().items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
