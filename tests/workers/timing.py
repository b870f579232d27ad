#!/usr/bin/env python3
"""Captures whose packet times make the order between threads matter, for --workers N.

    timing.py SOURCE.pcap OUTDIR     writes OUTDIR/idle.pcap, and SOURCE's packets as
                                     OUTDIR/<name>-coarse.pcap and <name>-jitter.pcap

- <name>-coarse: every time cut to 10 ms ticks, so packets of many connections (and of
  a 417 and its retry) carry the same time: the threads' results must still be merged
  in the order of the packets.
- <name>-jitter: one packet in five 1-50 us earlier than it was, so time steps back
  now and then (multi-queue capture, DESIGN.md "Input is hostile"); packet order kept.
- idle.pcap (analysed with --tcp-timeout 2): 30 keep-alive connections that go idle
  without FIN and time out while other connections (on another thread or not) go on;
  30 417s whose connections time out before their retry comes on a new one (3 to 12 s
  later); ten of the idle connections' 4-tuples used again after the timeout.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "..", "rules"))
import pcapfile  # noqa: E402
from handmade import Capture, Conn, req, resp  # noqa: E402

TIMEOUT_S = 2  # --tcp-timeout for idle.pcap
SRV, BG = "10.77.0.2", "10.77.0.3"


def variants(src, outdir):
    """(coarse, jitter) paths made from the classic pcap src."""
    header, e, recs = pcapfile.read(src)
    name = os.path.splitext(os.path.basename(src))[0]
    coarse = os.path.join(outdir, name + "-coarse.pcap")
    pcapfile.write(coarse, header, e, [[r[0], r[1] // 10000 * 10000, r[2], r[3]]
                                       for r in recs])
    rnd = random.Random(7)
    out = []
    for sec, usec, wire, data in recs:
        us = sec * 1000000 + usec
        if rnd.random() < 0.2:
            us -= rnd.randint(1, 50)
        out.append([us // 1000000, us % 1000000, wire, data])
    jitter = os.path.join(outdir, name + "-jitter.pcap")
    pcapfile.write(jitter, header, e, out)
    return coarse, jitter


def idle(outdir):
    cap = Capture()
    ok = resp(200, "OK", body=b"ok")
    for k in range(30):
        h, _ = req("GET", "/idle/%d" % k)
        (Conn(cap, "10.77.3.%d" % (1 + k % 5), SRV, 42000 + k, 80, k * 10)
         .c(k * 10 + 1, h).s(k * 10 + 2, ok))
    for k in range(30):
        cli = "10.77.4.%d" % (1 + k % 5)
        h, _ = req("POST", "/u/%d" % k, ["Expect: 100-continue", "Content-Length: 100"])
        (Conn(cap, cli, SRV, 43000 + k, 80, k * 10).c(k * 10 + 1, h)
         .s(k * 10 + 2, resp(417, "Expectation Failed")))
        h, _ = req("POST", "/u/%d" % k, ["Content-Length: 100"])
        t = 3000 + k * 300
        (Conn(cap, cli, SRV, 44000 + k, 80, t).c(t + 1, h + b"x" * 100)
         .s(t + 2, resp(201, "Created")).fin(t + 3))
    for k in range(100):  # chatter through 15 s
        h, _ = req("GET", "/bg/%d" % k)
        (Conn(cap, "10.77.5.1", BG, 45000 + k, 80, k * 150).c(k * 150 + 1, h)
         .s(k * 150 + 2, ok).fin(k * 150 + 3))
    for k in range(10):  # an idle connection's 4-tuple again, after its timeout
        h, _ = req("GET", "/again/%d" % k)
        t = 9000 + k * 10
        (Conn(cap, "10.77.3.%d" % (1 + k % 5), SRV, 42000 + k, 80, t).c(t + 1, h)
         .s(t + 2, ok).fin(t + 3))
    path = os.path.join(outdir, "idle.pcap")
    cap.write(path)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    for p in variants(sys.argv[1], sys.argv[2]) + (idle(sys.argv[2]),):
        print(p)
