#!/usr/bin/env bash
# tshark-conv.sh FILE: per-TCP-connection counts of a capture, as TSV on stdout.
#
#   client  server  frames_c2s  bytes_c2s  frames_s2c  bytes_s2c  payload_c2s  payload_s2c
#
# One row per TCP connection (tshark's tcp.stream), ordered by first packet. client is
# the endpoint that sent the SYN (without SYN: the receiver of a SYN-ACK; with neither,
# the endpoint with the higher port). Addresses are ip:port, IPv6 as [addr]:port.
# frames/bytes are what `tshark -q -z conv,tcp` counts (frames, and frame bytes); tshark
# 4.0 prints large byte counts rounded ("314 kB"), so they are summed here from each
# frame's frame.len and checked against every exact "N bytes" value conv,tcp prints.
# payload is the sum of tcp.len per direction.
set -euo pipefail
[[ $# -eq 1 && -r $1 ]] || { echo "usage: $0 FILE" >&2; exit 2; }

conv=$(tshark -r "$1" -q -z conv,tcp 2>/dev/null)
fields=$(tshark -r "$1" -Y 'tcp && !icmp && !icmpv6' -T fields -E occurrence=f \
    -e tcp.stream -e frame.len -e ip.src -e ipv6.src -e tcp.srcport \
    -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.len -e tcp.flags.syn -e tcp.flags.ack \
    2>/dev/null)

CONV=$conv FIELDS=$fields python3 - "$1" <<'EOF'
import os
import re
import sys


def ep(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


streams = {}
order = []
for line in os.environ["FIELDS"].splitlines():
    if not line.strip():
        continue
    st, flen, s4, s6, sp, d4, d6, dp, tlen, syn, ack = line.split("\t")
    src, dst = ep(s4 or s6, sp), ep(d4 or d6, dp)
    if st not in streams:
        streams[st] = {"eps": (src, dst), "client": None, "n": {}, "b": {}, "p": {}}
        order.append(st)
    s = streams[st]
    syn, ack = syn in ("1", "True"), ack in ("1", "True")
    if s["client"] is None and syn:
        s["client"] = src if not ack else dst
    s["n"][src] = s["n"].get(src, 0) + 1
    s["b"][src] = s["b"].get(src, 0) + int(flen)
    s["p"][src] = s["p"].get(src, 0) + int(tlen or 0)

# conv,tcp rows: "A <-> B  fr_BA bytes_BA  fr_AB bytes_AB  ..." (<- is B to A)
num = r"(\d+) (bytes|kB|MB|GB)"
row = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+) %s\s+(\d+) %s" % (num, num))


def split_ep(s):
    host, port = s.rsplit(":", 1)
    return ep(host, port)


checked = {}
for line in os.environ["CONV"].splitlines():
    m = row.match(line)
    if not m:
        continue
    a, b = split_ep(m.group(1)), split_ep(m.group(2))
    checked.setdefault((a, b), []).append(
        ((b, int(m.group(3)), int(m.group(4)), m.group(5)),
         (a, int(m.group(6)), int(m.group(7)), m.group(8))))

print("client\tserver\tframes_c2s\tbytes_c2s\tframes_s2c\tbytes_s2c\tpayload_c2s\tpayload_s2c")
bad = 0
for st in order:
    s = streams[st]
    x, y = s["eps"]
    c = s["client"]
    if c is None:
        c = x if int(x.rsplit(":", 1)[1]) > int(y.rsplit(":", 1)[1]) else y
    srv = y if c == x else x
    print("\t".join(str(v) for v in (
        c, srv, s["n"].get(c, 0), s["b"].get(c, 0), s["n"].get(srv, 0), s["b"].get(srv, 0),
        s["p"].get(c, 0), s["p"].get(srv, 0))))
    for rows in (checked.get((x, y)), checked.get((y, x))):
        for pair in rows or []:
            for sender, frames, nbytes, unit in pair:
                if s["n"].get(sender, 0) != frames and len(rows) == 1:
                    bad += 1
                if unit == "bytes" and len(rows) == 1 and s["b"].get(sender, 0) != nbytes:
                    bad += 1
if bad:
    sys.exit("%s: %d count(s) differ from tshark -z conv,tcp" % (sys.argv[1], bad))
EOF
