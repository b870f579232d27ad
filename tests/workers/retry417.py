#!/usr/bin/env python3
"""A capture of many 417s, each retried on a NEW TCP connection, for `--workers N`.

    retry417.py OUTDIR     writes OUTDIR/retry417.pcap, and the same packets split in
                           two files: OUTDIR/retry417-first.pcap (the connections that
                           got a 417) and OUTDIR/retry417-retries.pcap (all the others)

With --workers N the flows are split by a hash of the connection's endpoints, so a 417
and its retry (another client port) land on different workers about half the time for
N = 2; with SIMPLE pairs the chance that none does is 2^-SIMPLE. The connections are
hand-made as tests/rules/handmade.py makes them (its Capture and Conn: handshake, exact
seq/ack, an ACK for every segment, FIN, valid checksums), on Ethernet/IPv4.

What is in it (server 10.77.0.2:8080, clients 10.77.2.1-6; times from handmade.T0):
- SIMPLE pairs /up/K: POST with Expect and Content-Length, a 417 with Connection: close,
  then the same POST without Expect and with its body on a new connection, answered 201.
  The retry's connection opens DELAYS_MS[K % len] after the 417: from 0.3 ms (while the
  417's connection is still closing) to 20 s. Each must give retry_after_417 with
  retry_of = the 417's exchange (RETRIES).
- AMBIGUOUS groups /dup/G: two 417s for the same request from one client, then two
  retries; which 417 each retry names is the engine's choice, but it must not depend
  on N.
- LATE pairs /late/K: the retry comes 31 s after the 417, past --retry-window (30 s):
  no link, verdict plain.
- OTHER_LENGTH pairs /len/K: the repeat has another Content-Length: no link.
- PLAIN GETs on their own connections, between the others.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rules"))
from handmade import Capture, Conn, req, resp  # noqa: E402

SRV, PORT = "10.77.0.2", 8080
SIMPLE = 48
AMBIGUOUS = 4
LATE = 2
OTHER_LENGTH = 2
PLAIN = 24
DELAYS_MS = [0.3, 2, 40, 1500, 5000, 20000]
LENGTH = 3000
RETRIES = SIMPLE  # exchanges that must be retry_after_417 with a link, at least

E417 = resp(417, "Expectation Failed", ["Connection: close"])
CREATED = resp(201, "Created", body=b"stored")


def client(k):
    return "10.77.2.%d" % (1 + k % 6)


def first_try(cap, cli, port, t_ms, uri, length=LENGTH):
    """The attempt with Expect that gets a 417; returns when the 417 was sent."""
    h, _ = req("POST", uri, ["Expect: 100-continue", "Content-Length: %d" % length])
    (Conn(cap, cli, SRV, port, PORT, t_ms).c(t_ms + 0.5, h)
     .s(t_ms + 1.5, E417).fin(t_ms + 2.5, first=1))
    return t_ms + 1.5


def retry(cap, cli, port, t_ms, uri, length=LENGTH):
    """The same POST without Expect, with its body, on a new connection."""
    h, _ = req("POST", uri, ["Content-Length: %d" % length])
    body = bytes((0x61 + i % 26) for i in range(length))
    (Conn(cap, cli, SRV, port, PORT, t_ms).c(t_ms + 0.2, h + body)
     .s(t_ms + 3, CREATED).fin(t_ms + 4))


def make(first, others):
    """The connections that get a 417 into `first`, all the others into `others` (the
    same Capture for one file)."""
    port = 41000
    for k in range(SIMPLE):
        t417 = first_try(first, client(k), port, k * 37.0, "/up/%d" % k)
        retry(others, client(k), port + 1, t417 + DELAYS_MS[k % len(DELAYS_MS)],
              "/up/%d" % k)
        port += 2
    base = SIMPLE * 37.0 + 100
    for g in range(AMBIGUOUS):
        cli, uri, t = "10.77.2.9", "/dup/%d" % g, base + g * 50
        first_try(first, cli, port, t, uri)
        first_try(first, cli, port + 1, t + 5, uri)
        retry(others, cli, port + 2, t + 10, uri)
        retry(others, cli, port + 3, t + 12 + g * 3, uri)
        port += 4
    for k in range(LATE):
        t417 = first_try(first, client(k), port, base + k * 11, "/late/%d" % k)
        retry(others, client(k), port + 1, t417 + 31000, "/late/%d" % k)
        port += 2
    for k in range(OTHER_LENGTH):
        t417 = first_try(first, client(k), port, base + 300 + k * 11, "/len/%d" % k)
        retry(others, client(k), port + 1, t417 + 20, "/len/%d" % k, LENGTH + 1 + k)
        port += 2
    for k in range(PLAIN):
        h, _ = req("GET", "/get/%d" % k)
        t = k * 71.0 + 3
        (Conn(others, client(k), SRV, port, PORT, t).c(t + 0.3, h)
         .s(t + 1.3, resp(200, "OK", body=b"ok")).fin(t + 2))
        port += 1


def write(outdir):
    """Writes the three files; returns (whole, first, retries) paths."""
    os.makedirs(outdir, exist_ok=True)
    paths = [os.path.join(outdir, n + ".pcap")
             for n in ("retry417", "retry417-first", "retry417-retries")]
    one = Capture()
    make(one, one)
    one.write(paths[0])
    a, b = Capture(), Capture()
    make(a, b)
    a.write(paths[1])
    b.write(paths[2])
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for p in write(sys.argv[1]):
        print(p)
