#!/usr/bin/env python3
"""check_snaplen.py BINARY DIR: the untidy-capture rules on the real captures of
tests/capture/make-snaplen.sh, and on a link type expectscope does not decode.

For every CASE in DIR (CASE.full, .s128, .s200 taken at once from the same traffic;
.c2s and .s2c the full capture cut to one direction):
- each snap-length capture records its snap length, counts its cut segments, gives the
  same statuses and the same request body byte counts as the full capture (uncaptured
  bytes still count), and no gap, resync or partial_body flag; -s 200 gives the full
  capture's verdicts; -s 128 too, except for an exchange whose request head was cut
  before its Expect (flag headers_truncated, no Expect read);
- every exchange whose header block the snap length cut is flagged headers_truncated;
- the summary warns when most TCP payload segments were cut, and `report` shows it;
- each one-sided capture counts one one-sided flow, flags every exchange one_sided,
  draws no verdict from a wait, and the summary and `report` say so.
Then a hand-made ARCNET capture between two corpus captures: analysed with a warning
naming it, its packets undecodable, the others' exchanges all there, exit 0; alone it
is refused (exit 1).

Exit status 0 when all holds; 1 otherwise (each failure is printed).
"""
import glob
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

FAILS = []

WAIT_VERDICTS = {"timeout_fallback", "late_100", "continue_ok", "unsolicited_100",
                 "early_final", "body_after_final"}


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL", what)


def analyze(binary, db, files, want_rc=0):
    p = subprocess.run([binary, "analyze", "--db", db] + files, capture_output=True,
                       text=True)
    check(p.returncode == want_rc, f"analyze {files}: exit {p.returncode}: {p.stderr}")
    return p


def last_run(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    run = con.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    xs = con.execute(
        "SELECT e.seq, e.method, e.uri, e.expect, e.status, e.verdict,"
        " COALESCE(e.flags, '') AS flags, e.body_bytes, f.id AS flow"
        " FROM exchanges e JOIN flows f ON f.id = e.flow_id WHERE e.run_id = ?"
        " ORDER BY f.id, e.seq", (run["id"],)).fetchall()
    con.close()
    return run, xs


def flagset(x):
    return set(f for f in x["flags"].split(",") if f)


def report(binary, db, run_id):
    p = subprocess.run([binary, "report", "--db", db, "--run", str(run_id), "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"report: exit {p.returncode}: {p.stderr}")
    import json
    return json.loads(p.stdout) if p.returncode == 0 else {}


def check_case(binary, d, case, tmp):
    db = os.path.join(tmp, case + ".db")
    out = {}
    for kind in ("full", "s128", "s200", "c2s", "s2c"):
        p = analyze(binary, db, [os.path.join(d, f"{case}.{kind}.pcap")])
        run, xs = last_run(db)
        out[kind] = (p.stdout, run, xs)
    _, frun, full = out["full"]
    check(frun["snaplen"] == 262144, f"{case}.full: snaplen {frun['snaplen']}")
    check(frun["snap_cut_packets"] == 0, f"{case}.full: cut segments")
    check(frun["one_sided_flows"] == 0, f"{case}.full: one-sided flows")
    check(len(full) > 0, f"{case}.full: no exchange")
    for kind, snap in (("s128", 128), ("s200", 200)):
        text, run, xs = out[kind]
        name = f"{case}.{kind}"
        check(run["snaplen"] == snap, f"{name}: snaplen {run['snaplen']}, want {snap}")
        check(run["snap_cut_packets"] > 0, f"{name}: no cut segment counted")
        check(run["one_sided_flows"] == 0, f"{name}: one-sided flows")
        check(len(xs) == len(full), f"{name}: {len(xs)} exchanges, full has {len(full)}")
        most = run["snap_cut_packets"] * 2 > run["payload_packets"]
        check(most == (f"the snap length ({snap}) cut" in text),
              f"{name}: summary warning does not follow the rule:\n{text}")
        rep = report(binary, db, run["id"])
        cap = [r for r in rep.get("capture", []) if r["run"] == run["id"]]
        check(len(cap) == 1 and cap[0]["snaplen"] == snap and
              cap[0]["snap_cut_packets"] == run["snap_cut_packets"] and
              (f"snaplen {snap}" in (cap[0]["warning"] or "")) == most,
              f"{name}: report's capture section: {cap}")
        for a, b in zip(full, xs):
            where = f"{name} exchange {b['seq']} {b['method']} {b['uri']}"
            fl = flagset(b)
            check(not fl & {"gap", "resync", "partial_body"}, f"{where}: flags {fl}")
            check(a["status"] == b["status"], f"{where}: status {b['status']} != {a['status']}")
            check(a["body_bytes"] == b["body_bytes"],
                  f"{where}: body bytes {b['body_bytes']} != {a['body_bytes']}")
            check("headers_truncated" in fl, f"{where}: a header block of this exchange "
                  "is longer than the snap length yet not flagged headers_truncated")
            expect_cut = a["expect"] is not None and b["expect"] is None
            if kind == "s200" or not expect_cut:
                check(a["verdict"] == b["verdict"],
                      f"{where}: verdict {b['verdict']}, full capture {a['verdict']}")
    for kind in ("c2s", "s2c"):
        text, run, xs = out[kind]
        name = f"{case}.{kind}"
        check(run["one_sided_flows"] == 1, f"{name}: one_sided_flows {run['one_sided_flows']}")
        check("seen one way only" in text, f"{name}: no one-sided warning:\n{text}")
        rep = report(binary, db, run["id"])
        cap = [r for r in rep.get("capture", []) if r["run"] == run["id"]]
        check(len(cap) == 1 and cap[0]["one_sided_flows"] == 1,
              f"{name}: report's capture section: {cap}")
        check(len(xs) > 0, f"{name}: no exchange")
        for x in xs:
            where = f"{name} exchange {x['seq']}"
            check("one_sided" in flagset(x), f"{where}: not flagged one_sided")
            check(x["verdict"] not in WAIT_VERDICTS, f"{where}: verdict {x['verdict']}")
            check("pipelined" not in flagset(x) or kind == "s2c", f"{where}: pipelined")


def arcnet_pcap(path):
    """Two ARCNET (LINKTYPE_ARCNET_BSD, 7) records: libpcap reads them, expectscope
    does not decode the link type."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 7))
        for i, frame in enumerate((b"\x01\x02\xd4" + b"x" * 20, b"\x02\x01\xd4" + b"y" * 9)):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def check_link_types(binary, corpus, tmp):
    arc = os.path.join(tmp, "arcnet.pcap")
    arcnet_pcap(arc)
    a = os.path.join(corpus, "curl-nginx-continue.pcap")
    b = os.path.join(corpus, "late-100.pcap")
    db = os.path.join(tmp, "links.db")
    p = analyze(binary, db, [a, arc, b])
    warn = [l for l in p.stderr.splitlines() if "warning" in l]
    check(len(warn) == 1 and arc in warn[0] and "ARCNET" in warn[0],
          f"unknown link type: want one warning naming {arc}: {p.stderr!r}")
    run, xs = last_run(db)
    check(run["undecodable"] == 2, f"unknown link type: undecodable {run['undecodable']}")
    n = 0
    for one in (a, b):
        analyze(binary, db, ["--again", one])
        n += len(last_run(db)[1])
    check(len(xs) == n and n > 0, f"unknown link type: {len(xs)} exchanges, alone {n}")
    p = analyze(binary, db, [arc], want_rc=1)
    check("unsupported link type 7" in p.stderr, f"arcnet alone: {p.stderr!r}")
    p = analyze(binary, db, [arc, arc], want_rc=1)
    check("unsupported link type" in p.stderr, f"arcnet twice: {p.stderr!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, d = sys.argv[1:]
    cases = sorted({os.path.basename(p).split(".")[0]
                    for p in glob.glob(os.path.join(d, "*.full.pcap"))})
    check(len(cases) > 0, f"no *.full.pcap in {d}")
    with tempfile.TemporaryDirectory() as tmp:
        for c in cases:
            check_case(binary, d, c, tmp)
        check_link_types(binary, os.path.dirname(os.path.abspath(d)), tmp)
    print(f"{len(cases)} cases, {len(FAILS)} failures")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
