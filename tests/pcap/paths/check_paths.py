#!/usr/bin/env python3
"""check_paths.py EXPECTSCOPE PATHS_DIR WORK_DIR: the two-leg proxy captures against
their hand-checked .truth files (see README.md here).

For every case, `expectscope analyze` runs on the capture and the database must say, for
every client-side exchange (a .truth row):

- who answered it: answered_by 'origin' when the origin's answer was relayed,
  'intermediary' when the proxy made it; the direct path's exchange stays 'unknown'
  (nothing on the wire says there is no transparent proxy);
- its link: exactly one hops row from it to the upstream exchange the truth names
  (u_conn, u_seq), or, for an answer the proxy made without asking upstream, one row
  with no back exchange; and no other hops row anywhere;
- the findings, as a set: the truth's actions, except buffered_body where the capture
  cannot prove it (docs/paths.md: a small body that arrived whole before the proxy
  could have connected shows nothing either way);
- the wait split: client_wait_ms = the truth's wait_ms and proxy_ms = u_hdr_ms, to
  the microsecond.

ambiguous-pair.pcap (two identical uploads through haproxy, paired crosswise) must
stay unlinked, unknown and counted in runs.hops_ambiguous. direct-vs-edge.pcap must
make `expectscope paths --json` mark its Host as disagreeing.

Proxies with an address on each side that add no X-Forwarded-For (nginx, haproxy) are
run with --proxy; each of them is also run without it, where nothing may be linked
and no exchange may be called 'intermediary' on the strength of the path (the
squid, Apache and varnish cases need no --proxy: they are linked by X-Forwarded-For).
"""
import csv
import json
import os
import sqlite3
import subprocess
import sys

PROXY = "10.231.1.2,10.231.2.1"  # the proxy namespace's two addresses (make-paths.sh)
NEEDS_PROXY = {"nginx-proxy-nginx", "nginx-proxy-no100", "haproxy-nginx", "haproxy-417",
               "ambiguous-pair", "direct-vs-edge"}
TOLERANCE_MS = 0.0015  # the truth's 3 decimals, and the database's microseconds
BUFFER_PROOF_MS = 10.0  # hops.c BUFFER_PROOF_US

failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL: " + what)


def conn_key(text):
    """'10.231.1.1:52374>10.231.1.2:80' -> (client ip, port, server ip, port)."""
    c, s = text.split(">")
    cip, cport = c.rsplit(":", 1)
    sip, sport = s.rsplit(":", 1)
    return (cip, int(cport), sip, int(sport))


def ms(v):
    return None if v == "-" else float(v)


def provable_buffering(row):
    """docs/paths.md: buffered_body shows only when the body took at least 10 ms to arrive
    and the upstream request followed its last byte within a quarter of that time."""
    end, up = ms(row["c_body_end_ms"]), ms(row["u_hdr_ms"])
    if end is None or up is None or up < end or end < BUFFER_PROOF_MS:
        return False
    return up - end <= end / 4


def analyze(exe, pcap, db, extra):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    r = subprocess.run([exe, "analyze", "-q", "--db", db] + extra + [pcap],
                       capture_output=True, text=True)
    check(r.returncode == 0, "%s: analyze exited %d: %s" % (pcap, r.returncode, r.stderr))
    con = sqlite3.connect(db)
    ex = {}
    for (eid, cip, cport, sip, sport, seq, by, evidence) in con.execute(
            "SELECT e.id, f.client_ip, f.client_port, f.server_ip, f.server_port, e.seq, "
            "e.answered_by, e.path_evidence FROM exchanges e JOIN flows f ON f.id = e.flow_id"):
        ex[(cip, cport, sip, sport, seq)] = (eid, by, evidence)
    hops = con.execute("SELECT front_exchange_id, back_exchange_id, findings, client_wait_ms, "
                       "proxy_ms FROM hops").fetchall()
    linked, ambiguous = con.execute("SELECT hops_linked, hops_ambiguous FROM runs").fetchone()
    con.close()
    return ex, hops, linked, ambiguous


def near(a, b):
    return a is not None and b is not None and abs(a - b) <= TOLERANCE_MS


def check_case(exe, d, work, case, with_proxy):
    pcap = os.path.join(d, case + ".pcap")
    with open(os.path.join(d, case + ".truth"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    tag = "%s%s" % (case, " --proxy" if with_proxy else "")
    db = os.path.join(work, case + (".proxy" if with_proxy else "") + ".db")
    ex, hops, linked, ambiguous = analyze(exe, pcap, db,
                                          ["--proxy", PROXY] if with_proxy else [])
    by_front = {}
    for h in hops:
        by_front.setdefault(h[0], []).append(h)
    learnable = with_proxy or case not in NEEDS_PROXY
    expected_hops = 0
    for row in rows:
        n = "%s row %s" % (tag, row["n"])
        key = conn_key(row["c_conn"]) + (int(row["c_seq"]),)
        check(key in ex, "%s: no exchange on %s #%s" % (n, row["c_conn"], row["c_seq"]))
        if key not in ex:
            continue
        fid, by, evidence = ex[key]
        mine = by_front.get(fid, [])
        if row["path"] == "direct":
            check(by == "unknown" and not mine,
                  "%s: the direct exchange: answered_by %s, %d hops" % (n, by, len(mine)))
            continue
        if case == "ambiguous-pair":
            check(not mine and by == "unknown",
                  "%s: ambiguous, yet %d hops and answered_by %s (%s)" %
                  (n, len(mine), by, evidence))
            continue
        if not learnable:
            check(not mine and by != "intermediary",
                  "%s: without --proxy nothing links, yet %d hops, answered_by %s (%s)" %
                  (n, len(mine), by, evidence))
            continue
        want_by = "origin" if row["final_by"] == "origin" else "intermediary"
        check(by == want_by, "%s: answered_by %s, want %s (%s)" % (n, by, want_by, evidence))
        expected_hops += 1
        check(len(mine) == 1, "%s: %d hops from it, want 1" % (n, len(mine)))
        if len(mine) != 1:
            continue
        _, back, findings, wait, proxy_ms = mine[0]
        if row["u_conn"] == "-":
            check(back is None, "%s: linked to exchange %s, want no upstream" % (n, back))
        else:
            bkey = conn_key(row["u_conn"]) + (int(row["u_seq"]),)
            want = ex.get(bkey, (None,))[0]
            check(want is not None and back == want,
                  "%s: linked to exchange %s, want %s (%s #%s)" %
                  (n, back, want, row["u_conn"], row["u_seq"]))
            check(near(proxy_ms, ms(row["u_hdr_ms"])),
                  "%s: proxy_ms %s, want u_hdr_ms %s" % (n, proxy_ms, row["u_hdr_ms"]))
        if row["wait_ms"] != "-":
            check(near(wait, ms(row["wait_ms"])),
                  "%s: client_wait_ms %s, want %s" % (n, wait, row["wait_ms"]))
        got = set(filter(None, (findings or "").split(",")))
        want = set(a for a in row["actions"].split(",") if a != "-")
        if "buffered_body" in want and not provable_buffering(row):
            got.discard("buffered_body")
            want.discard("buffered_body")
        check(got == want, "%s: findings %s, want %s" % (n, sorted(got), sorted(want)))
    check(len(hops) == expected_hops,
          "%s: %d hops rows, want %d: %s" % (tag, len(hops), expected_hops, hops))
    if case == "ambiguous-pair" and with_proxy:
        check(ambiguous >= 2 and linked == 0,
              "%s: runs.hops_ambiguous %s, hops_linked %s; want >= 2 and 0" %
              (tag, ambiguous, linked))
    if case == "direct-vs-edge" and with_proxy:
        out = subprocess.run([exe, "paths", "--db", db, "--json"], capture_output=True,
                             text=True)
        check(out.returncode == 0, "%s: paths exited %d" % (tag, out.returncode))
        paths = json.loads(out.stdout or "[]")
        mine = [p for p in paths if p["host"] == "origin.example"]
        kinds = sorted(p["path"] for p in mine)
        check(kinds == ["direct", "via proxy"] and all(p["paths_disagree"] for p in mine),
              "%s: paths --json for origin.example: %s" % (tag, mine))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    exe, d, work = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    cases = sorted(f[:-6] for f in os.listdir(d) if f.endswith(".truth"))
    check(len(cases) >= 12, "only %d cases in %s" % (len(cases), d))
    for case in cases:
        check_case(exe, d, work, case, case in NEEDS_PROXY)
        if case in NEEDS_PROXY:
            check_case(exe, d, work, case, False)
    print("paths: %d cases, %d checks, %d failed" % (len(cases), checks, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
