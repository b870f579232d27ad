#!/usr/bin/env python3
"""paths-legs.py: the per-leg facts of a two-leg proxy capture, for checking .truth.

    paths-legs.py FILE                 every exchange of every TCP connection, with
                                       absolute times (what a .truth is written from)
    paths-legs.py --check TRUTH FILE   recompute the columns of TRUTH that the capture
                                       alone decides (request and response fields,
                                       headers, times) for the pairs TRUTH names; print
                                       every difference; exit 1 if there is one
    paths-legs.py --fill TRUTH FILE    print TRUTH with those columns recomputed (a
                                       draft: the judgement columns are copied as they
                                       are)

The exchanges come from oracle.py (tshark's TCP payloads, reassembled and parsed in
Python), not from expectscope. The pairing (which upstream exchange serves which client
exchange) and the judgement columns (interim_by, final_by, actions) are not computed
here: they are what the .truth states, from the proxy's logs and its known behaviour.
Column meanings: tests/pcap/paths/README.md.
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

COLUMNS = ["n", "path", "c_conn", "c_seq", "c_method", "c_uri", "c_host", "c_expect",
           "c_body", "c_sent", "c_interim", "c_status", "interim_by", "final_by",
           "hdr_says", "c_evidence", "u_conn", "u_seq", "u_method", "u_uri", "u_host",
           "u_version", "u_expect", "u_body", "u_sent", "u_interim", "u_status", "u_evidence",
           "actions", "c_100_ms", "u_hdr_ms", "u_100_ms", "c_body_end_ms", "c_final_ms",
           "u_final_ms", "wait_ms", "wait_pre_up_ms"]
JUDGED = {"n", "path", "c_conn", "c_seq", "u_conn", "u_seq", "interim_by", "final_by",
          "hdr_says", "actions"}
RESP_EVIDENCE = ["via", "server", "x-cache", "x-varnish", "age"]
REQ_EVIDENCE = ["via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-server",
                "x-varnish", "forwarded"]


def ep(addr):
    ip, port = addr
    return ("[%s]:%d" % (ip, port)) if ":" in ip else "%s:%d" % (ip, port)


def conn_name(e):
    return "%s>%s" % (ep((e.client_ip, e.client_port)), ep(e.server))


def analyse(path):
    """Exchanges keyed by (conn, seq); the client port is recovered from oracle's Flow."""
    opts = argparse.Namespace(no_wait_ms=5, stall_ms=1000, retry_window=30)
    flows = []
    orig_flow = oracle.Flow

    class Flow(orig_flow):
        def __init__(self, idx, client, server, o):
            super().__init__(idx, client, server, o)
            flows.append(self)

    oracle.Flow = Flow
    try:
        ex = oracle.analyse(path, opts)
    finally:
        oracle.Flow = orig_flow
    port = {}
    for f in flows:
        for e in f.ex:
            port[id(e)] = f.client[1]
    out = {}
    for e in ex:
        e.client_port = port[id(e)]
        out[(conn_name(e), e.seq)] = e
    return out


def evidence(hdrs, names):
    got = ["%s=%s" % (k, hdrs[k]) for k in names if k in hdrs]
    return ";".join(got) or "-"


def ms(a, b):
    return "-" if a is None or b is None else "%.3f" % ((a - b) * 1000)


def first100(e):
    return next((t for c, t in e.interims if c == 100), None)


def interims(e):
    return ",".join(str(c) for c, _ in e.interims) or "-"


def body_decl(e):
    return "chunked" if e.chunked else str(e.cl if e.cl is not None else 0)


def facts(c, u):
    """The capture-decided columns for client exchange c and upstream exchange u."""
    r = {
        "c_method": c.method, "c_uri": c.uri, "c_host": c.hdrs.get("host", "-"),
        "c_expect": c.hdrs.get("expect", "-"), "c_body": body_decl(c),
        "c_sent": str(c.body_bytes), "c_interim": interims(c),
        "c_status": str(c.final[0]) if c.final else "-",
        "c_evidence": evidence(c.resp_hdrs, RESP_EVIDENCE),
        "c_100_ms": ms(first100(c), c.t_hdr),
        "c_final_ms": ms(c.final and c.final[1], c.t_hdr),
        "c_body_end_ms": ms(c.body_times[-1] if c.body_times else None, c.t_hdr),
        "wait_ms": ms(c.body_first, c.t_hdr),
    }
    if u is None:
        for k in ("u_method", "u_uri", "u_host", "u_version", "u_expect", "u_body",
                  "u_sent", "u_interim", "u_status", "u_evidence", "u_hdr_ms", "u_100_ms", "u_final_ms",
                  "wait_pre_up_ms"):
            r[k] = "-"
        return r
    r.update({
        "u_method": u.method, "u_uri": u.uri, "u_host": u.hdrs.get("host", "-"),
        "u_version": "HTTP/" + u.version,
        "u_expect": u.hdrs.get("expect", "-"), "u_body": body_decl(u),
        "u_sent": str(u.body_bytes),
        "u_interim": interims(u), "u_status": str(u.final[0]) if u.final else "-",
        "u_evidence": evidence(u.hdrs, REQ_EVIDENCE),
        "u_hdr_ms": ms(u.t_hdr, c.t_hdr), "u_100_ms": ms(first100(u), c.t_hdr),
        "u_final_ms": ms(u.final and u.final[1], c.t_hdr),
    })
    if c.body_first is None:
        r["wait_pre_up_ms"] = "-"
    else:
        r["wait_pre_up_ms"] = ms(min(u.t_hdr, c.body_first), c.t_hdr)
    return r


def list_legs(ex):
    print("# conn\tseq\tmethod\turi\tver\thost\texpect\tbody\tsent\tt_hdr\tbody_first"
          "\tbody_end\tinterims\tfinal\tt_final\treq_evidence\tresp_evidence")
    t0 = min(e.t_first for e in ex.values())
    for (conn, seq), e in sorted(ex.items(), key=lambda kv: kv[1].t_first):
        rel = lambda t: "-" if t is None else "%.6f" % (t - t0)  # noqa: E731
        print("\t".join([
            conn, str(seq), e.method, e.uri, e.version, e.hdrs.get("host", "-"),
            e.hdrs.get("expect", "-"), body_decl(e), str(e.body_bytes), rel(e.t_hdr),
            rel(e.body_first), rel(e.body_times[-1] if e.body_times else None),
            ",".join("%d@%s" % (c, rel(t)) for c, t in e.interims) or "-",
            str(e.final[0]) if e.final else "-", rel(e.final and e.final[1]),
            evidence(e.hdrs, REQ_EVIDENCE), evidence(e.resp_hdrs, RESP_EVIDENCE)]))


def read_truth(path):
    with open(path, newline="") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", metavar="TRUTH")
    p.add_argument("--fill", metavar="TRUTH")
    p.add_argument("file")
    a = p.parse_args()
    ex = analyse(a.file)
    if not (a.check or a.fill):
        list_legs(ex)
        return 0
    rows = read_truth(a.check or a.fill)
    bad = 0
    if a.fill:
        print("\t".join(COLUMNS))
    for row in rows:
        c = ex.get((row["c_conn"], int(row["c_seq"])))
        u = None if row["u_conn"] == "-" else ex.get((row["u_conn"], int(row["u_seq"])))
        if c is None or (row["u_conn"] != "-" and u is None):
            print("n=%s: exchange not in the capture" % row["n"], file=sys.stderr)
            bad += 1
            continue
        got = facts(c, u)
        if a.fill:
            print("\t".join(got.get(k, row.get(k, "-")) if k not in JUDGED else row[k]
                            for k in COLUMNS))
            continue
        for k in COLUMNS:
            if k in JUDGED:
                continue
            if got[k] != row[k]:
                print("n=%s %s: truth %r, capture %r" % (row["n"], k, row[k], got[k]))
                bad += 1
    if a.check:
        print("%s: %d row(s), %d difference(s)" % (os.path.basename(a.check), len(rows),
                                                   bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
