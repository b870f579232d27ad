#!/usr/bin/env python3
"""Tests of the SQLite storage of expectscope: schema, appending runs, migration,
refusal of databases that are not ours, interruption, concurrent writers and the
report command, and the client expectation timers.

  test_storage.py AREA BINARY SRCDIR

AREA is one of: schema append migration refusal interrupt concurrent report timers
(v_client_timers and its report section).
BINARY is the expectscope executable, SRCDIR the source tree (its tests/pcap holds the
real-traffic corpus). Every area works in its own temporary directory and removes it.
Exit status 0 when every check passed, 1 otherwise (each failed check is printed).
No check measures elapsed time; timeouts are only there so that a hang fails.
"""
import glob
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pcapfile  # noqa: E402  (tests/common/pcapfile.py)

# --- the storage contract of DESIGN.md ("Storage contract", schema version 1) ------
CONTRACT = {
    "runs": ["id", "mode", "source", "started_at", "finished_at", "packets", "bytes",
             "kernel_drops", "if_drops", "truncated", "tool_version", "options"],
    "flows": ["id", "run_id", "first_seen", "last_seen", "client_ip", "client_port",
              "server_ip", "server_port", "vlan", "l7_protocol", "packets_c2s",
              "packets_s2c", "bytes_c2s", "bytes_s2c", "missing_bytes", "retransmissions",
              "out_of_order", "end_reason", "exchange_count", "verdict"],
    "exchanges": ["id", "flow_id", "run_id", "seq", "ts", "method", "uri", "host",
                  "http_version", "user_agent", "expect", "content_length", "chunked",
                  "body_bytes", "interim_codes", "status", "reason", "server", "via",
                  "wait_ms", "continue_ms", "final_ms", "verdict", "flags", "retry_of"],
    "headers": ["exchange_id", "direction", "raw"],
    "meta": ["key", "value"],
}

# What schema revisions 2 and 3 (storage/schema.c) add beyond the contract.
SCHEMA_REVISION = "9"
REV2_COLUMNS = {
    "runs": ["interrupted", "first_packet", "last_packet", "tcp_flows", "http_flows",
             "exchange_count", "evicted_flows", "fragments_skipped", "undecodable",
             "orphan_responses", "parse_errors", "pipeline_overflows"],
    "flows": ["wire_bytes_c2s", "wire_bytes_s2c", "gaps", "out_of_window", "cap_flushes"],
    "exchanges": ["t_hdr", "body_missing", "response_version", "interim_count"],
}
VIEWS = ["v_verdict_counts", "v_flow_verdict_counts", "v_exchanges", "v_server_failures",
         "v_user_agent_failures", "v_server_timing", "v_proxy_vs_direct",
         "v_duplicate_bodies",
         "v_runs", "v_latest_run", "v_server_failures_by_run",
         "v_user_agent_failures_by_run", "v_server_timing_by_run", "v_proxy_vs_direct_by_run",
         "v_paths", "v_path_compare", "v_path_compare_by_run",
         "v_client_timers", "v_client_timers_by_run",
         "v_violations", "v_violations_by_server", "v_violations_by_agent"]

# DESIGN.md "Verdicts": the flow verdict is the most severe, in this order.
SEVERITY = ["expectation_failed", "unsupported_expectation", "body_after_final",
            "timeout_fallback", "late_100", "no_wait", "retry_after_417",
            "expect_without_body", "http10_expect", "incomplete", "early_final",
            "unsolicited_100", "continue_ok", "plain"]
FLAGS = {"late_100", "multiple_1xx", "http10_1xx", "no_final", "partial_body",
         "body_stall", "conn_reset", "server_closed", "duplicate_body", "via_proxy", "gap",
         "resync", "pipelined", "headers_truncated", "orphan_response", "one_sided",
         "retry_failed"}
END_REASONS = {"fin", "rst", "timeout", "capture_end", "evicted"}

TIMEOUT = 120          # any single command; only there so that a hang fails
LONG_REPEATS = 40000   # copies fed to the long run (interrupt and concurrent areas)


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            self.failures += 1
            print("FAIL: " + msg)
        return bool(cond)

    def eq(self, got, want, msg):
        return self.check(got == want, f"{msg}: got {got!r}, want {want!r}")


C = Checker()


def note(msg):
    print("  " + msg)


def run(binary, args, cwd, timeout=TIMEOUT):
    return subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def connect(path, readonly=False):
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    else:
        db = sqlite3.connect(path, timeout=10)
    return db


def q(db, sql, args=()):
    return db.execute(sql, args).fetchall()


def q1(db, sql, args=()):
    row = db.execute(sql, args).fetchone()
    return row[0] if row else None


def columns(db, table):
    return [r[1] for r in q(db, f"PRAGMA table_info({table})")]


def corpus(srcdir):
    pcaps = sorted(glob.glob(os.path.join(srcdir, "tests", "pcap", "*.pcap")))
    if not pcaps:
        raise RuntimeError(f"no captures in {srcdir}/tests/pcap")
    return pcaps


def pcap(srcdir, name):
    return os.path.join(srcdir, "tests", "pcap", name)


def stderr_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def analyze_ok(binary, db, inputs, cwd, what):
    p = run(binary, ["analyze", "-q", "--db", db] + inputs, cwd)
    C.check(p.returncode == 0,
            f"{what}: analyze exit {p.returncode}, stderr: {p.stderr.strip()}")
    return p


def read_tsv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l]


def norm_flags(s):
    return ",".join(sorted(x for x in (s or "").split(",") if x and x != "-")) or "-"


def dash(v):
    return "-" if v is None else str(v)


def integrity(db):
    return q1(db, "PRAGMA integrity_check")


def file_state(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_mtime_ns


def siblings(path):
    return sorted(p for p in (path + "-wal", path + "-shm", path + "-journal")
                  if os.path.exists(p))


# --- checks shared by several areas --------------------------------------------------

def check_consistency(db, label):
    """Relations and counts that must hold in any database analyze wrote."""
    xs = q1(db, "SELECT COUNT(*) FROM exchanges")
    C.eq(q1(db, "SELECT COALESCE(SUM(exchanges), 0) FROM v_verdict_counts"), xs,
         f"{label}: exchanges = sum of v_verdict_counts")
    C.eq(q1(db, "SELECT COUNT(*) FROM v_exchanges"), xs,
         f"{label}: every exchange joins its flow in v_exchanges")
    C.eq(q1(db, "SELECT COALESCE(SUM(flows), 0) FROM v_flow_verdict_counts"),
         q1(db, "SELECT COUNT(*) FROM flows WHERE verdict IS NOT NULL"),
         f"{label}: flows with a verdict = sum of v_flow_verdict_counts")
    bad = q(db, "SELECT e.id, e.flow_id, e.run_id, f.run_id FROM exchanges e"
                " LEFT JOIN flows f ON f.id = e.flow_id"
                " WHERE f.id IS NULL OR f.run_id <> e.run_id")
    C.check(not bad, f"{label}: exchanges whose flow_id is not a flow of the same run"
                     f" (id, flow_id, run_id, flow's run_id): {bad}")
    bad = q(db, "SELECT id FROM exchanges WHERE run_id NOT IN (SELECT id FROM runs)")
    C.check(not bad, f"{label}: exchanges of no run: {bad}")
    bad = q(db, "SELECT id FROM flows WHERE run_id NOT IN (SELECT id FROM runs)")
    C.check(not bad, f"{label}: flows of no run: {bad}")
    bad = q(db, "SELECT exchange_id FROM headers"
                " WHERE exchange_id NOT IN (SELECT id FROM exchanges)")
    C.check(not bad, f"{label}: headers of no exchange: {bad}")
    # per run: the run row's counters against the rows
    for rid, tcp, http, xc, fin, started in q(
            db, "SELECT id, tcp_flows, http_flows, exchange_count, finished_at, started_at"
                " FROM runs ORDER BY id"):
        C.eq(q1(db, "SELECT COUNT(*) FROM exchanges WHERE run_id = ?", (rid,)), xc,
             f"{label}: run {rid}: exchanges rows against runs.exchange_count")
        C.eq(q1(db, "SELECT COUNT(*) FROM flows WHERE run_id = ?", (rid,)), tcp,
             f"{label}: run {rid}: flows rows against runs.tcp_flows")
        C.eq(q1(db, "SELECT COUNT(*) FROM flows WHERE run_id = ? AND exchange_count > 0",
                (rid,)), http, f"{label}: run {rid}: flows with HTTP against runs.http_flows")
        C.check(fin is not None and fin >= started,
                f"{label}: run {rid}: finished_at {fin!r} not set or before started_at"
                f" {started!r}")
    # per flow: exchange_count and the most severe verdict
    rows = q(db, "SELECT f.id, f.exchange_count, f.verdict, COUNT(e.id),"
                 " group_concat(e.verdict) FROM flows f LEFT JOIN exchanges e"
                 " ON e.flow_id = f.id GROUP BY f.id")
    for fid, count, verdict, n, verdicts in rows:
        C.eq(count, n, f"{label}: flow {fid}: exchange_count against its exchanges")
        want = None
        if verdicts:
            want = min(verdicts.split(","), key=SEVERITY.index)
        C.eq(verdict, want, f"{label}: flow {fid}: verdict (most severe of {verdicts})")
    # values from the closed sets
    for (v,) in q(db, "SELECT DISTINCT verdict FROM exchanges"):
        C.check(v in SEVERITY or v is None, f"{label}: unknown exchange verdict {v!r}")
    # no verdict (NULL) exactly for the orphan responses, which have no method
    for xid, v, fl, method in q(db, "SELECT id, verdict, flags, method FROM exchanges"
                                    " WHERE verdict IS NULL OR flags LIKE '%orphan%'"):
        C.check(v is None and "orphan_response" in (fl or "").split(",") and method is None,
                f"{label}: exchange {xid}: verdict {v!r}, flags {fl!r}, method {method!r}")
    for (fl,) in q(db, "SELECT DISTINCT flags FROM exchanges WHERE flags IS NOT NULL"):
        unknown = set(fl.split(",")) - FLAGS
        C.check(not unknown, f"{label}: unknown flags {unknown} in {fl!r}")
    for (r,) in q(db, "SELECT DISTINCT end_reason FROM flows"):
        C.check(r in END_REASONS, f"{label}: end_reason {r!r} not in DESIGN's set")
    for (hv,) in q(db, "SELECT DISTINCT http_version FROM exchanges"):
        C.check(hv in (None, "1.0", "1.1"), f"{label}: http_version {hv!r}")
    for (d,) in q(db, "SELECT DISTINCT direction FROM headers"):
        C.check(d in ("request", "interim", "response"), f"{label}: headers.direction {d!r}")
    bad = q(db, "SELECT id FROM exchanges WHERE chunked NOT IN (0, 1)")
    C.check(not bad, f"{label}: chunked not 0/1 in exchanges {bad}")
    bad = q(db, "SELECT id, typeof(ts) FROM exchanges WHERE typeof(ts) <> 'real'")
    C.check(not bad, f"{label}: exchanges.ts not REAL: {bad[:5]}")
    bad = q(db, "SELECT id FROM flows WHERE typeof(first_seen) <> 'real'"
                " OR typeof(client_ip) <> 'text' OR typeof(server_ip) <> 'text'"
                " OR last_seen < first_seen")
    C.check(not bad, f"{label}: flows with bad first_seen/last_seen/IP types: {bad[:5]}")
    for col in ("wait_ms", "continue_ms", "final_ms"):
        bad = q(db, f"SELECT id, {col} FROM exchanges WHERE {col} < 0")
        C.check(not bad, f"{label}: negative {col}: {bad}")
    C.eq(integrity(db), "ok", f"{label}: PRAGMA integrity_check")


def nearest_rank(values, p):
    values = sorted(values)
    if not values:
        return None
    return values[max(1, math.ceil(p * len(values) - 1e-9)) - 1]


def check_server_timing(db, label):
    rows = q(db, "SELECT f.server_ip, f.server_port, e.continue_ms, e.wait_ms, e.expect"
                 " FROM exchanges e JOIN flows f ON f.id = e.flow_id")
    cont, wait = {}, {}
    for ip, port, c, w, expect in rows:
        if c is not None:
            cont.setdefault((ip, port), []).append(c)
        if w is not None and expect is not None:
            wait.setdefault((ip, port), []).append(w)
    want = {}
    for key in set(cont) | set(wait):
        c, w = cont.get(key, []), wait.get(key, [])
        want[key] = (len(c), nearest_rank(c, 0.5), nearest_rank(c, 0.95),
                     len(w), nearest_rank(w, 0.5), nearest_rank(w, 0.95))
    got = {(r[0], r[1]): tuple(r[2:]) for r in
           q(db, "SELECT server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95,"
                 " n_wait, wait_ms_p50, wait_ms_p95 FROM v_server_timing")}
    C.eq(sorted(got), sorted(want), f"{label}: v_server_timing servers")
    for key in sorted(want):
        C.eq(got.get(key), want[key],
             f"{label}: v_server_timing {key} (n_100, c50, c95, n_wait, w50, w95)"
             " against nearest rank computed in Python")


# --- areas ---------------------------------------------------------------------------

def area_schema(binary, srcdir, tmp):
    pcaps = corpus(srcdir)
    dbp = os.path.join(tmp, "percap.db")
    # one run per capture, in sorted order: run i+1 is pcaps[i]
    for p in pcaps:
        analyze_ok(binary, dbp, [p], tmp, os.path.basename(p))
    db = connect(dbp)
    for table, cols in CONTRACT.items():
        have = columns(db, table)
        C.check(have, f"table {table} missing")
        missing = [c for c in cols if c not in have]
        C.check(not missing, f"table {table}: contract columns missing: {missing}")
    for table, cols in REV2_COLUMNS.items():
        missing = [c for c in cols if c not in columns(db, table)]
        C.check(not missing, f"table {table}: revision 2 columns missing: {missing}")
    C.eq(q1(db, "SELECT value FROM meta WHERE key = 'schema_version'"), "1",
         "meta.schema_version")
    C.eq(q1(db, "SELECT value FROM meta WHERE key = 'schema_revision'"), SCHEMA_REVISION,
         "meta.schema_revision")
    have_views = {r[0] for r in q(db, "SELECT name FROM sqlite_schema WHERE type = 'view'")}
    for v in VIEWS:
        if C.check(v in have_views, f"view {v} missing"):
            try:
                q(db, f"SELECT * FROM {v}")
            except sqlite3.Error as e:
                C.check(False, f"view {v} does not run: {e}")
    # the per-run twins add up to the views over all runs
    for v, keys, sums in (
            ("v_server_failures", "server_ip, server_port, host",
             "exchanges, with_expect, status_417, timeout_fallbacks, late_100, retries"),
            ("v_user_agent_failures", "user_agent",
             "exchanges, with_expect, status_417, timeout_fallbacks, retries"),
            ("v_proxy_vs_direct", "path, verdict", "exchanges")):
        summed = ", ".join(f"SUM({c})" for c in sums.split(", "))
        C.eq(sorted(q(db, f"SELECT {keys}, {summed} FROM {v}_by_run GROUP BY {keys}"), key=repr),
             sorted(q(db, f"SELECT {keys}, {sums} FROM {v}"), key=repr),
             f"{v}_by_run adds up to {v}")
    # revision 8: every run says its sensor, the host name unless --sensor said otherwise
    C.eq(sorted({r[0] for r in q(db, "SELECT sensor FROM runs")}), [socket.gethostname()],
         "runs.sensor: the host name by default")
    # revision 6: the times an export draws, in ms after t_hdr like wait_ms
    bad = q(db, "SELECT id, interim_codes, interim_ms FROM exchanges WHERE t_hdr IS NOT NULL"
                " AND (interim_codes IS NULL) != (interim_ms IS NULL)")
    C.eq(bad, [], "interim_ms is there exactly when interim_codes is (and t_hdr is known)")
    for eid, codes, ims, cont in q(db, "SELECT id, interim_codes, interim_ms, continue_ms"
                                       " FROM exchanges WHERE interim_ms IS NOT NULL"):
        cs, ts = codes.split(","), [float(t) for t in ims.split(",")]
        C.check(len(cs) == len(ts) and ts == sorted(ts),
                f"exchange {eid}: interim_ms {ims!r} lines up with {codes!r}, in order")
        if "100" in cs and cont is not None:
            C.check(abs(ts[cs.index("100")] - cont) < 0.002,
                    f"exchange {eid}: the first 100's time {ims!r} is continue_ms {cont}")
    C.eq(q(db, "SELECT interim_codes, interim_ms IS NOT NULL FROM exchanges e JOIN runs r"
               " ON r.id = e.run_id WHERE r.source LIKE '%103-then-100.pcap'"
               " AND interim_codes IS NOT NULL"), [("103,100", 1)],
         "103-then-100.pcap: both interim times")
    C.eq(q(db, "SELECT id FROM exchanges WHERE body_end_ms < wait_ms - 0.0005"
               " OR end_ms < final_ms - 0.0005"), [],
         "body_end_ms after wait_ms, end_ms after final_ms")
    C.check(q1(db, "SELECT COUNT(*) FROM exchanges WHERE body_end_ms IS NOT NULL") > 0 and
            q1(db, "SELECT COUNT(*) FROM exchanges WHERE end_ms IS NOT NULL") > 0,
            "body_end_ms and end_ms are filled")
    C.eq(q1(db, "SELECT run_id FROM v_latest_run"), q1(db, "SELECT MAX(id) FROM runs"),
         "v_latest_run")
    C.eq(q(db, "SELECT DISTINCT state FROM v_runs"), [("complete",)], "v_runs.state")
    C.eq(q1(db, "SELECT COUNT(*) FROM runs"), len(pcaps), "one run per capture")
    runs = q(db, "SELECT id, source, mode, tool_version, options, truncated, interrupted"
                 " FROM runs ORDER BY id")
    version = run(binary, ["--version"], tmp).stdout.split()[-1]
    run_of = {}
    for (rid, source, mode, tv, options, trunc, intr), p in zip(runs, pcaps):
        C.eq(source, p, f"run {rid}: source")
        C.eq(mode, "file", f"run {rid}: mode")
        C.eq(tv, version, f"run {rid}: tool_version against --version")
        C.eq((trunc, intr), (0, 0), f"run {rid}: truncated, interrupted")
        try:
            o = json.loads(options)
            for k in ("no_wait_ms", "retry_window_s", "stall_ms"):
                C.check(k in o, f"run {rid}: options JSON lacks {k}: {options}")
        except (TypeError, ValueError) as e:
            C.check(False, f"run {rid}: options is not JSON ({e}): {options!r}")
        run_of[os.path.basename(p)] = rid
    check_consistency(db, "corpus, one run per capture")

    # verdicts of each capture against its .expected
    for p in pcaps:
        name = os.path.basename(p)
        exp = p[:-len(".pcap")] + ".expected"
        if not os.path.exists(exp):
            continue
        rid = run_of[name]
        flows = [r[0] for r in q(db, "SELECT id FROM flows WHERE run_id = ?"
                                     " AND id IN (SELECT flow_id FROM exchanges)"
                                     " ORDER BY first_seen, id", (rid,))]
        index = {fid: i for i, fid in enumerate(flows)}
        got = sorted((index[r[0]], r[1], dash(r[2]), dash(r[3]), dash(r[4]), dash(r[5]),
                      dash(r[6]), norm_flags(r[7])) for r in
                     q(db, "SELECT flow_id, seq, method, uri, interim_codes, status,"
                           " verdict, flags FROM exchanges WHERE run_id = ?", (rid,)))
        want = sorted((int(r["flow"]), int(r["seq"]), r["method"], r["uri"], r["interim"],
                       r["status"], r["verdict"], norm_flags(r["flags"]))
                      for r in read_tsv(exp))
        if not C.eq(got, want, f"{name}: exchanges in the database against {exp}"):
            for row in want:
                if row not in got:
                    note("missing:    " + "\t".join(map(str, row)))
            for row in got:
                if row not in want:
                    note("unexpected: " + "\t".join(map(str, row)))

    # header blocks: every exchange that is not plain, none for plain ones
    rows = q(db, "SELECT e.id, e.verdict, e.method, e.interim_codes, e.status,"
                 " group_concat(h.direction), MAX(CASE WHEN h.direction = 'request'"
                 " THEN h.raw END) FROM exchanges e LEFT JOIN headers h"
                 " ON h.exchange_id = e.id GROUP BY e.id")
    for xid, verdict, method, interim, status, dirs, req in rows:
        dirs = sorted((dirs or "").split(",")) if dirs else []
        if verdict == "plain":
            C.eq(dirs, [], f"exchange {xid} (plain): headers rows")
            continue
        C.check(dirs, f"exchange {xid} ({verdict}): no headers rows")
        C.eq(len(dirs), len(set(dirs)), f"exchange {xid}: one row per direction {dirs}")
        if method is not None:
            C.check(req is not None and req.startswith(method + " "),
                    f"exchange {xid} ({verdict}): request block does not start with"
                    f" {method!r}: {req[:40] if req else req!r}")
        C.eq("interim" in dirs, interim is not None,
             f"exchange {xid}: interim block present iff interim_codes ({interim!r})")
        C.eq("response" in dirs, status is not None,
             f"exchange {xid}: response block present iff a final status ({status!r})")
    # the exact Expect value can be read back from the request block
    for xid, expect, raw in q(db, "SELECT e.id, e.expect, h.raw FROM exchanges e JOIN"
                                  " headers h ON h.exchange_id = e.id AND"
                                  " h.direction = 'request' WHERE e.expect IS NOT NULL"):
        C.check(f"\nexpect: {expect.lower()}\r" in raw.lower(),
                f"exchange {xid}: Expect value {expect!r} not in its request block")

    # retry_of: only on retries, pointing to a 417 of the same run and request
    retries = q(db, "SELECT r.id, r.run_id, r.verdict, o.id, o.run_id, o.status,"
                    " r.method = o.method AND r.uri = o.uri, fr.client_ip = fo.client_ip"
                    " AND fr.server_ip = fo.server_ip AND fr.server_port = fo.server_port"
                    " FROM exchanges r LEFT JOIN exchanges o ON o.id = r.retry_of"
                    " JOIN flows fr ON fr.id = r.flow_id LEFT JOIN flows fo"
                    " ON fo.id = o.flow_id WHERE r.retry_of IS NOT NULL")
    src = {rid: os.path.basename(s) for rid, s in q(db, "SELECT id, source FROM runs")}
    for rid_x, run_id, verdict, oid, orun, ostatus, same_req, same_ends in retries:
        C.eq(verdict, "retry_after_417", f"exchange {rid_x} has retry_of: verdict")
        C.check(oid is not None, f"exchange {rid_x}: retry_of names no exchange")
        C.eq(orun, run_id, f"exchange {rid_x}: retry_of in the same run")
        C.eq(ostatus, 417, f"exchange {rid_x}: retry_of's status")
        C.eq((same_req, same_ends), (1, 1),
             f"exchange {rid_x}: retry_of has the same method, URI, client and server")
        C.check(src[run_id].startswith(("expect-417-retry", "retry-417-")),
                f"exchange {rid_x}: a retry in {src[run_id]}")
    C.eq(q1(db, "SELECT COUNT(*) FROM exchanges WHERE verdict = 'retry_after_417'"
                " AND retry_of IS NULL"), 0, "retry_after_417 exchanges without retry_of")
    for name, rid in sorted(run_of.items()):
        if name.startswith("expect-417-retry"):
            C.check(q1(db, "SELECT COUNT(*) FROM exchanges WHERE run_id = ?"
                           " AND retry_of IS NOT NULL", (rid,)) > 0,
                    f"{name}: no exchange with retry_of")

    # v_duplicate_bodies: exactly the dupbody case
    dup = q(db, "SELECT d.retry_id, d.original_id, d.wasted_bytes, d.retry_after_ms,"
                " r.run_id, o.body_bytes, o.status FROM v_duplicate_bodies d"
                " JOIN exchanges r ON r.id = d.retry_id JOIN exchanges o"
                " ON o.id = d.original_id")
    if C.eq(len(dup), 1, f"v_duplicate_bodies rows ({dup})"):
        retry_id, orig_id, wasted, after, rid, obody, ostatus = dup[0]
        C.eq(src[rid], "expect-417-retry-dupbody.pcap", "v_duplicate_bodies capture")
        C.check(wasted == obody and wasted > 0,
                f"v_duplicate_bodies wasted_bytes {wasted} against the 417'd body {obody}")
        C.eq(ostatus, 417, "v_duplicate_bodies original's status")
        C.check(after is not None and after >= 0,
                f"v_duplicate_bodies retry_after_ms {after!r}")

    check_server_timing(db, "corpus, one run per capture")

    # direct against proxied: the view agrees with the flags
    C.eq(dict(q(db, "SELECT path, SUM(exchanges) FROM v_proxy_vs_direct GROUP BY path")),
         dict(q(db, "SELECT CASE WHEN COALESCE(flags, '') LIKE '%via_proxy%'"
                    " THEN 'via_proxy' ELSE 'direct' END, COUNT(*) FROM exchanges"
                    " GROUP BY 1")), "v_proxy_vs_direct against the via_proxy flag")
    nulls = q1(db, "SELECT COUNT(*) FROM v_exchanges WHERE via_proxy IS NULL")
    C.eq(nulls, 0, "v_exchanges.via_proxy is 0 or 1, never NULL")

    # The captures that overlap no other in time, as one run: inputs are merged by
    # capture time (as mergecap does), so these give the rows of one run each. Those
    # that overlap (gap-body, gap-headers and reordered replay curl-nginx-continue at
    # its own times) merge into one stream and are left out of the comparison.
    spans = {p: pcapfile.span(pcapfile.read(p)[2]) for p in pcaps}
    apart = [p for p in pcaps
             if not any(o != p and spans[o][0] <= spans[p][1] and spans[p][0] <= spans[o][1]
                        for o in pcaps)]
    C.check(len(apart) >= len(pcaps) - 4, f"captures that overlap no other: {len(apart)}")
    ids = ",".join(str(run_of[os.path.basename(p)]) for p in apart)
    sepp = os.path.join(tmp, "apart.db")
    analyze_ok(binary, sepp, apart, tmp, "captures apart in time as one run")
    sep = connect(sepp)
    C.eq(q1(sep, "SELECT COUNT(*) FROM exchanges"),
         q1(db, f"SELECT COUNT(*) FROM exchanges WHERE run_id IN ({ids})"),
         "exchanges: one run over the captures apart in time against one run per capture")
    C.eq(q1(sep, "SELECT COUNT(*) FROM flows"),
         q1(db, f"SELECT COUNT(*) FROM flows WHERE run_id IN ({ids})"),
         "flows: one run over the captures apart in time against one run per capture")
    sep.close()

    # the whole corpus as one run, as docs/sql-cookbook.md builds it
    allp = os.path.join(tmp, "all.db")
    analyze_ok(binary, allp, pcaps, tmp, "whole corpus as one run")
    one = connect(allp)
    check_consistency(one, "corpus as one run")
    check_server_timing(one, "corpus as one run")
    one.close()
    db.close()


def area_append(binary, srcdir, tmp):
    dbp = os.path.join(tmp, "a.db")
    first = [pcap(srcdir, "keepalive-mixed.pcap"), pcap(srcdir, "expect-417-retry.pcap")]
    again = [pcap(srcdir, "late-100.pcap")]
    expected = {}
    for name, inputs in (("first", first), ("again", again)):
        p = run(binary, ["analyze", "--no-db", "--list", "-q"] + inputs, tmp)
        C.eq(p.returncode, 0, f"--no-db --list of the {name} inputs")
        expected[name] = len(p.stdout.splitlines()) - 1
    # the same capture a second time is refused, naming the run that holds it
    plan = [(first, "first", []), (again, "again", []), (again, "again", ["--again"])]
    for i, (inputs, name, flags) in enumerate(plan, 1):
        if i == 3:
            p = run(binary, ["analyze", "--db", dbp] + inputs, tmp)
            lines = stderr_lines(p.stderr)
            C.eq(p.returncode, 1, "the same capture again: refused")
            C.check(len(lines) == 1 and "already in run 2" in lines[0] and "--again" in lines[0],
                    f"the same capture again: one line naming run 2, got {lines}")
        p = run(binary, ["analyze", "--db", dbp] + flags + inputs, tmp)
        C.eq(p.returncode, 0, f"analyze run {i} (stderr: {p.stderr.strip()})")
        C.check(f"stored as run {i} in {dbp}" in p.stdout,
                f"analyze run {i}: summary does not say 'stored as run {i} in {dbp}':"
                f" {p.stdout.strip().splitlines()[-1:]}")
    db = connect(dbp)
    ids = [r[0] for r in q(db, "SELECT id FROM runs ORDER BY id")]
    C.eq(ids, [1, 2, 3], "runs ids")
    for table in ("runs", "flows", "exchanges"):
        C.eq(q1(db, f"SELECT COUNT(DISTINCT id) FROM {table}"),
             q1(db, f"SELECT COUNT(*) FROM {table}"), f"{table}: ids unique")
    per_run = dict(q(db, "SELECT run_id, COUNT(*) FROM exchanges GROUP BY run_id"))
    C.eq(per_run, {1: expected["first"], 2: expected["again"], 3: expected["again"]},
         "exchanges per run against analyze --no-db --list")
    C.eq(q1(db, "SELECT COUNT(*) FROM exchanges"), sum(per_run.values()),
         "exchanges in all runs")
    C.eq(q1(db, "SELECT SUM(exchanges) FROM v_verdict_counts"), sum(per_run.values()),
         "v_verdict_counts over all runs")
    # later runs' rows come after the earlier ones' and name their own run
    for rid in (2, 3):
        C.check(q1(db, "SELECT MIN(id) FROM flows WHERE run_id = ?", (rid,)) >
                q1(db, "SELECT MAX(id) FROM flows WHERE run_id < ?", (rid,)),
                f"run {rid}: flow ids follow the earlier runs'")
        C.check(q1(db, "SELECT MIN(id) FROM exchanges WHERE run_id = ?", (rid,)) >
                q1(db, "SELECT MAX(id) FROM exchanges WHERE run_id < ?", (rid,)),
                f"run {rid}: exchange ids follow the earlier runs'")
        C.eq(q1(db, "SELECT COUNT(*) FROM exchanges e JOIN flows f ON f.id = e.flow_id"
                    " WHERE e.run_id = ? AND f.run_id = ?", (rid, rid)), per_run[rid],
             f"run {rid}: its exchanges are in its own flows")
    # the same capture twice gives the same rows, apart from ids
    cols = ("seq, ts, method, uri, host, expect, status, wait_ms, continue_ms, final_ms,"
            " verdict, flags")
    C.eq(q(db, f"SELECT {cols} FROM exchanges WHERE run_id = 2 ORDER BY id"),
         q(db, f"SELECT {cols} FROM exchanges WHERE run_id = 3 ORDER BY id"),
         "runs 2 and 3 (same capture) hold the same exchanges")
    C.eq(q(db, "SELECT COUNT(*) FROM headers h JOIN exchanges e ON e.id = h.exchange_id"
               " WHERE e.run_id = 2"),
         q(db, "SELECT COUNT(*) FROM headers h JOIN exchanges e ON e.id = h.exchange_id"
               " WHERE e.run_id = 3"), "runs 2 and 3 hold as many header blocks")
    # a retry links inside its own run
    bad = q(db, "SELECT r.id FROM exchanges r JOIN exchanges o ON o.id = r.retry_of"
                " WHERE o.run_id <> r.run_id")
    C.check(not bad, f"retry_of across runs: {bad}")
    C.eq(q1(db, "SELECT COUNT(*) FROM exchanges WHERE run_id = 1 AND retry_of IS NOT NULL"),
         1, "run 1: the retry of expect-417-retry.pcap")
    check_consistency(db, "appended database")
    db.close()


# Revision 1 of the schema as storage/schema.c creates it: DESIGN.md's tables only.
REV1_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT NULL,
  started_at REAL NOT NULL, finished_at REAL,
  packets INTEGER, bytes INTEGER, kernel_drops INTEGER, if_drops INTEGER,
  truncated INTEGER NOT NULL DEFAULT 0, tool_version TEXT, options TEXT);
CREATE TABLE flows (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
  first_seen REAL, last_seen REAL,
  client_ip TEXT, client_port INTEGER, server_ip TEXT, server_port INTEGER,
  vlan INTEGER, l7_protocol TEXT,
  packets_c2s INTEGER, packets_s2c INTEGER, bytes_c2s INTEGER, bytes_s2c INTEGER,
  missing_bytes INTEGER, retransmissions INTEGER, out_of_order INTEGER,
  end_reason TEXT, exchange_count INTEGER, verdict TEXT);
CREATE TABLE exchanges (
  id INTEGER PRIMARY KEY, flow_id INTEGER NOT NULL REFERENCES flows(id),
  run_id INTEGER NOT NULL REFERENCES runs(id),
  seq INTEGER, ts REAL, method TEXT, uri TEXT, host TEXT, http_version TEXT,
  user_agent TEXT, expect TEXT, content_length INTEGER, chunked INTEGER,
  body_bytes INTEGER, interim_codes TEXT, status INTEGER, reason TEXT, server TEXT,
  via TEXT, wait_ms REAL, continue_ms REAL, final_ms REAL, verdict TEXT, flags TEXT,
  retry_of INTEGER REFERENCES exchanges(id));
CREATE TABLE headers (
  exchange_id INTEGER NOT NULL REFERENCES exchanges(id),
  direction TEXT NOT NULL, raw TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES (5, 'live', 'eth0', 1600000000.25, 1600000060.5, 1234, 567890,
  3, 4, 0, '0.0.9', '{"no_wait_ms":5}');
INSERT INTO flows VALUES (7, 5, 1600000001.5, 1600000002.75, '192.0.2.1', 40000,
  '198.51.100.2', 80, 0, 'HTTP', 10, 8, 5000, 300, 0, 1, 0, 'fin', 1, 'timeout_fallback');
INSERT INTO exchanges VALUES (11, 7, 5, 0, 1600000001.5, 'PUT', '/old', 'old.example',
  '1.1', 'curl/7.1', '100-continue', 4096, 0, 4096, NULL, 200, 'OK', 'old-server',
  NULL, 1000.5, NULL, 1200.25, 'timeout_fallback', NULL, NULL);
INSERT INTO headers VALUES (11, 'request',
  'PUT /old HTTP/1.1' || char(13,10) || 'Expect: 100-continue' || char(13,10,13,10));
"""


MIGRATION_ORDER = {"runs": "id", "flows": "id", "exchanges": "id",
                   "headers": "exchange_id, direction"}
MIGRATION_OLD = {"runs": "id = 5", "flows": "id = 7", "exchanges": "id = 11",
                 "headers": "exchange_id = 11"}


def area_migration(binary, srcdir, tmp):
    dbp = os.path.join(tmp, "old.db")
    db = sqlite3.connect(dbp)
    db.executescript(REV1_SQL)
    db.commit()
    before = {t: q(db, f"SELECT {', '.join(cols)} FROM {t} ORDER BY {MIGRATION_ORDER[t]}")
              for t, cols in CONTRACT.items() if t != "meta"}
    db.close()

    # report never migrates: it refuses an older revision with one line
    raw_before = file_state(dbp)
    p = run(binary, ["report", "--db", dbp], tmp)
    C.eq(p.returncode, 1, "report on a revision-1 database: exit status")
    lines = stderr_lines(p.stderr)
    C.check(len(lines) == 1 and "older" in lines[0] and dbp in lines[0],
            f"report on a revision-1 database: want one line saying older, got {lines}")
    C.eq(file_state(dbp)[0], raw_before[0], "report left the revision-1 database as it was")

    p = run(binary, ["analyze", "-q", "--db", dbp, pcap(srcdir, "expect-417-retry.pcap")],
            tmp)
    C.eq(p.returncode, 0, f"analyze on a revision-1 database (stderr: {p.stderr.strip()})")
    db = connect(dbp)
    C.eq(q1(db, "SELECT value FROM meta WHERE key = 'schema_revision'"), SCHEMA_REVISION,
         "meta.schema_revision after migration")
    C.eq(q1(db, "SELECT value FROM meta WHERE key = 'schema_version'"), "1",
         "meta.schema_version after migration")
    for table, cols in REV2_COLUMNS.items():
        missing = [c for c in cols if c not in columns(db, table)]
        C.check(not missing, f"migrated {table}: new columns missing: {missing}")
    have_views = {r[0] for r in q(db, "SELECT name FROM sqlite_schema WHERE type = 'view'")}
    for v in VIEWS:
        if C.check(v in have_views, f"migrated database: view {v} missing"):
            try:
                q(db, f"SELECT * FROM {v}")
            except sqlite3.Error as e:
                C.check(False, f"migrated database: view {v} does not run: {e}")
    for t, cols in CONTRACT.items():
        if t == "meta":
            continue
        rows = q(db, f"SELECT {', '.join(cols)} FROM {t} WHERE {MIGRATION_OLD[t]}"
                     f" ORDER BY {MIGRATION_ORDER[t]}")
        C.eq(rows, before[t], f"migrated {t}: the old rows are intact")
    C.eq(q1(db, "SELECT interrupted FROM runs WHERE id = 5"), 0,
         "migrated old run: runs.interrupted takes its default")
    runs = [r[0] for r in q(db, "SELECT id FROM runs ORDER BY id")]
    C.eq(len(runs), 2, f"runs after migration and one analyze ({runs})")
    new = max(runs)
    C.check(new > 5, f"the new run's id {new} follows the old one's (5)")
    C.check(q1(db, "SELECT MIN(id) FROM flows WHERE run_id = ?", (new,)) > 7,
            "the new run's flow ids follow the old flow's (7)")
    C.check(q1(db, "SELECT MIN(id) FROM exchanges WHERE run_id = ?", (new,)) > 11,
            "the new run's exchange ids follow the old exchange's (11)")
    C.check(q1(db, "SELECT COUNT(*) FROM exchanges WHERE run_id = ?", (new,)) > 0,
            "the new run stored exchanges")
    C.eq(q(db, "SELECT verdict, exchanges FROM v_verdict_counts WHERE run_id = 5"),
         [("timeout_fallback", 1)], "the views see the old run's rows")
    C.eq(integrity(db), "ok", "migrated database: integrity_check")
    db.close()
    p = run(binary, ["report", "--db", dbp, "--json"], tmp)
    C.eq(p.returncode, 0, f"report on the migrated database (stderr: {p.stderr.strip()})")
    # a second analyze does not migrate again
    p = run(binary, ["analyze", "-q", "--db", dbp, pcap(srcdir, "late-100.pcap")], tmp)
    C.eq(p.returncode, 0, f"second analyze on the migrated database ({p.stderr.strip()})")
    db = connect(dbp)
    C.eq(q1(db, "SELECT COUNT(*) FROM runs"), 3, "runs after a second analyze")
    C.eq(q(db, "SELECT key, value FROM meta ORDER BY key"),
         [("schema_revision", SCHEMA_REVISION), ("schema_version", "1")],
         "meta after a second analyze")
    db.close()


def make_db(path, setup):
    db = sqlite3.connect(path)
    db.executescript(setup)
    db.commit()
    db.close()


def refused(binary, tmp, capture, label, dbp, words, stat_path=None):
    """analyze --db dbp CAPTURE must exit 1 with one stderr line holding the path and words,
    and leave the file as it was."""
    stat_path = stat_path or dbp
    state = file_state(stat_path) if os.path.isfile(stat_path) else None
    sib = siblings(stat_path)
    p = run(binary, ["analyze", "-q", "--db", dbp, capture], tmp)
    C.eq(p.returncode, 1, f"{label}: exit status (stderr: {p.stderr.strip()})")
    lines = stderr_lines(p.stderr)
    ok = len(lines) == 1 and dbp in lines[0] and all(w in lines[0] for w in words)
    C.check(ok, f"{label}: want one stderr line naming {dbp} and saying {words}, got {lines}")
    C.eq(p.stdout, "", f"{label}: stdout")
    if state is not None:
        after = file_state(stat_path)
        C.check(after[0] == state[0], f"{label}: the refused file's bytes changed")
        C.check(after[1] == state[1], f"{label}: the refused file's mtime changed")
    else:
        C.check(not os.path.isfile(stat_path) or os.path.isdir(stat_path),
                f"{label}: a file was created at {stat_path}")
    C.eq(siblings(stat_path), sib, f"{label}: files left beside it")


def area_refusal(binary, srcdir, tmp):
    late = pcap(srcdir, "late-100.pcap")
    good = os.path.join(tmp, "good.db")
    analyze_ok(binary, good, [late], tmp, "a database to alter")

    def altered(name, sql):
        path = os.path.join(tmp, name)
        with open(good, "rb") as f, open(path, "wb") as g:
            g.write(f.read())
        db = sqlite3.connect(path)
        db.executescript(sql)
        db.commit()
        db.execute("PRAGMA journal_mode=DELETE")  # as a copy of it would arrive
        db.close()
        return path

    newer = altered("newer.db", "UPDATE meta SET value = '99' WHERE key = 'schema_revision';")
    refused(binary, tmp, late, "schema revision 99", newer, ["newer"])
    v2 = altered("v2.db", "UPDATE meta SET value = '2' WHERE key = 'schema_version';")
    refused(binary, tmp, late, "schema version 2", v2, ["version 2"])
    nov = altered("noversion.db", "DELETE FROM meta;")
    refused(binary, tmp, late, "meta without schema_version", nov,
            ["not an expectscope database"])

    foreign = os.path.join(tmp, "foreign.db")
    make_db(foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                     "INSERT INTO customers VALUES (1, 'x');")
    refused(binary, tmp, late, "foreign SQLite database", foreign, ["not an expectscope database"])
    db = sqlite3.connect(foreign)
    C.eq(q(db, "SELECT name FROM sqlite_schema"), [("customers",)],
         "foreign database: no table added")
    db.close()

    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("this is not a database\n" * 200)
    refused(binary, tmp, late, "text file", text, ["not a database"])

    afile = os.path.join(tmp, "afile")
    with open(afile, "w") as f:
        f.write("x")
    refused(binary, tmp, late, "path under a regular file", os.path.join(afile, "x.db"), [],
            stat_path=afile)
    adir = os.path.join(tmp, "adir")
    os.mkdir(adir)
    refused(binary, tmp, late, "a directory as --db", adir, [])
    C.eq(os.listdir(adir), [], "directory given as --db: nothing created in it")

    if os.geteuid() != 0:
        ro = os.path.join(tmp, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        try:
            refused(binary, tmp, late, "read-only directory", os.path.join(ro, "x.db"), [])
            C.eq(os.listdir(ro), [], "read-only directory: nothing created in it")
            rofile = os.path.join(tmp, "readonly.db")
            with open(good, "rb") as f, open(rofile, "wb") as g:
                g.write(f.read())
            os.chmod(rofile, 0o444)
            refused(binary, tmp, late, "read-only database file", rofile, [])
        finally:
            os.chmod(ro, 0o755)
    else:
        note("running as root: the read-only directory and file cases are skipped")

    # report: missing file, not SQLite, foreign, newer
    for label, path, words in (
            ("report on a missing file", os.path.join(tmp, "missing.db"), []),
            ("report on a text file", text, ["not a database"]),
            ("report on a foreign database", os.path.join(tmp, "foreign2.db"),
             ["not an expectscope database"]),
            ("report on a newer revision", os.path.join(tmp, "newer2.db"), ["newer"])):
        if path.endswith("foreign2.db"):
            make_db(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        if path.endswith("newer2.db"):
            path = altered("newer2.db",
                           "UPDATE meta SET value = '99' WHERE key = 'schema_revision';")
        state = file_state(path) if os.path.exists(path) else None
        p = run(binary, ["report", "--db", path], tmp)
        C.eq(p.returncode, 1, f"{label}: exit status (stderr: {p.stderr.strip()})")
        lines = stderr_lines(p.stderr)
        C.check(len(lines) == 1 and path in lines[0] and all(w in lines[0] for w in words),
                f"{label}: want one stderr line naming {path} and saying {words}, got {lines}")
        if state is None:
            C.check(not os.path.exists(path), f"{label}: report created {path}")
        else:
            C.eq(file_state(path), state, f"{label}: file changed")
        C.eq(siblings(path), [], f"{label}: files left beside it")


def start_long(binary, srcdir, tmp, dbp):
    """A long analyze: slow-upload.pcap LONG_REPEATS times over, each copy a minute after
    the one before, written to its standard input by a thread (the same file given many
    times would be merged by time into one copy with duplicates)."""
    header, e, recs = pcapfile.read(pcap(srcdir, "slow-upload.pcap"))
    err = open(os.path.join(tmp, os.path.basename(dbp) + ".stderr"), "w+")
    proc = subprocess.Popen([binary, "analyze", "-q", "--db", dbp, "-"], cwd=tmp,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True)

    def feed():
        try:
            proc.stdin.write(header)
            for k in range(LONG_REPEATS):
                proc.stdin.write(pcapfile.records_bytes(e, pcapfile.shifted(recs, 60 * k)))
            proc.stdin.close()
        except (OSError, ValueError):
            pass  # analyze was stopped: the pipe is closed

    threading.Thread(target=feed, daemon=True).start()
    return proc, err


def wait_for_rows(proc, dbp, want_two, deadline_s=90):
    """Poll the database with a reader until exchanges > 0 while proc runs. Returns the
    distinct non-zero counts seen while the process was alive."""
    seen = []
    t_end = time.monotonic() + deadline_s
    t_second = None
    while time.monotonic() < t_end and proc.poll() is None:
        if os.path.exists(dbp):
            try:
                db = connect(dbp, readonly=True)
                try:
                    n = q1(db, "SELECT COUNT(*) FROM exchanges")
                finally:
                    db.close()
                if n and proc.poll() is None and (not seen or n != seen[-1]):
                    seen.append(n)
            except sqlite3.Error:
                pass  # the schema is not committed yet
        if seen and not want_two:
            break
        if len(seen) >= 2:
            break
        if seen and t_second is None:
            t_second = time.monotonic() + 8  # a second commit, if it comes soon
        if t_second is not None and time.monotonic() > t_second:
            break
        time.sleep(0.02)
    return seen


def stop(proc, err):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    err.close()


def area_interrupt(binary, srcdir, tmp):
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        name = signal.Signals(sig).name
        dbp = os.path.join(tmp, f"{name.lower()}.db")
        proc, err = start_long(binary, srcdir, tmp, dbp)
        try:
            seen = wait_for_rows(proc, dbp, want_two=True)
            alive = proc.poll() is None
            if not C.check(seen and alive,
                           f"{name}: no exchange readable while analyze ran"
                           f" (seen {seen}, running {alive}, exit {proc.returncode})"):
                continue
            note(f"{name}: a reader saw exchanges = {seen} while analyze was writing")
            os.killpg(proc.pid, sig)
            rc = proc.wait(timeout=TIMEOUT)
            err.seek(0)
            stderr = err.read()
        finally:
            stop(proc, err)
        C.eq(rc, code, f"{name}: exit status (stderr: {stderr.strip()})")
        C.check(f"signal {int(sig)}" in stderr, f"{name}: stderr does not say it: {stderr!r}")
        db = connect(dbp)
        row = q(db, "SELECT interrupted, finished_at, started_at, exchange_count, truncated"
                    " FROM runs")
        if C.eq(len(row), 1, f"{name}: runs rows"):
            intr, fin, started, xc, trunc = row[0]
            C.eq(intr, 1, f"{name}: runs.interrupted")
            C.check(fin is not None and fin >= started, f"{name}: runs.finished_at {fin!r}")
            C.eq(trunc, 0, f"{name}: runs.truncated")
        n = q1(db, "SELECT COUNT(*) FROM exchanges")
        C.check(n > 0 and n >= seen[-1],
                f"{name}: exchanges after the signal {n}, the reader saw {seen}")
        check_consistency(db, f"{name}-interrupted run")
        db.close()

    # a capture that ends inside a record: analysed up to there, exit 0, run truncated
    with open(pcap(srcdir, "keepalive-mixed.pcap"), "rb") as f:
        data = f.read()
    cut = os.path.join(tmp, "cut.pcap")
    with open(cut, "wb") as f:
        f.write(data[:-10])
    dbp = os.path.join(tmp, "truncated.db")
    p = run(binary, ["analyze", "-q", "--db", dbp, cut], tmp)
    C.eq(p.returncode, 0, f"truncated capture: exit status (stderr: {p.stderr.strip()})")
    db = connect(dbp)
    C.eq(q(db, "SELECT truncated, interrupted, finished_at IS NOT NULL FROM runs"),
         [(1, 0, 1)], "truncated capture: runs.truncated, interrupted, finished_at set")
    C.check(q1(db, "SELECT COUNT(*) FROM exchanges") > 0,
            "truncated capture: the exchanges before the cut are stored")
    check_consistency(db, "truncated run")
    db.close()


def area_concurrent(binary, srcdir, tmp):
    late = pcap(srcdir, "late-100.pcap")
    # (a) a second analyze while one writes
    dbp = os.path.join(tmp, "busy.db")
    proc, err = start_long(binary, srcdir, tmp, dbp)
    try:
        seen = wait_for_rows(proc, dbp, want_two=False)
        if C.check(seen and proc.poll() is None,
                   f"the long analyze wrote nothing readable (exit {proc.returncode})"):
            p = run(binary, ["analyze", "-q", "--db", dbp, late], tmp, timeout=30)
            still = proc.poll() is None
            C.eq(p.returncode, 1, f"second writer: exit status (stderr: {p.stderr.strip()})")
            lines = stderr_lines(p.stderr)
            C.check(len(lines) == 1 and "another expectscope is writing this database"
                    in lines[0] and dbp in lines[0],
                    f"second writer: want one line 'another expectscope is writing this"
                    f" database' naming {dbp}, got {lines}")
            C.check(still, "second writer: the first analyze ended before the second one"
                           " returned, so it did not fail at once")
            os.killpg(proc.pid, signal.SIGTERM)
            C.eq(proc.wait(timeout=TIMEOUT), 143, "first writer after SIGTERM: exit status")
    finally:
        stop(proc, err)
    db = connect(dbp)
    C.eq(q1(db, "SELECT COUNT(*) FROM runs"), 1, "second writer added no run")
    C.eq(integrity(db), "ok", "busy database: integrity_check")
    db.close()
    # after the first writer is gone, a new one is welcome
    analyze_ok(binary, dbp, [late], tmp, "analyze after the other writer ended")

    # (b) an SQLite write transaction held by another program
    dbp = os.path.join(tmp, "locked.db")
    analyze_ok(binary, dbp, [late], tmp, "a database to lock")
    db = connect(dbp)
    before = q(db, "SELECT COUNT(*) FROM runs")
    db.close()
    holder = sqlite3.connect(dbp, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        p = run(binary, ["analyze", "-q", "--db", dbp, late], tmp, timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    C.eq(p.returncode, 1, f"locked database: exit status (stderr: {p.stderr.strip()})")
    lines = stderr_lines(p.stderr)
    C.check(len(lines) == 1 and "locked" in lines[0] and dbp in lines[0],
            f"locked database: want one line saying locked and naming {dbp}, got {lines}")
    db = connect(dbp)
    C.eq(q(db, "SELECT COUNT(*) FROM runs"), before, "locked database: no run added")
    C.eq(integrity(db), "ok", "locked database: integrity_check")
    db.close()
    analyze_ok(binary, dbp, ["--again", late], tmp, "analyze once the lock is released")


def area_report(binary, srcdir, tmp):
    dbp = os.path.join(tmp, "r.db")
    pcaps = corpus(srcdir)
    analyze_ok(binary, dbp, ["--sensor", "span-b"] + pcaps[: len(pcaps) // 2], tmp,
               "report: first run")
    analyze_ok(binary, dbp, ["--sensor", "span-a"] + pcaps[len(pcaps) // 2:], tmp,
               "report: second run")
    db = connect(dbp)
    runs = q1(db, "SELECT COUNT(*) FROM runs")
    flows = q1(db, "SELECT COUNT(*) FROM flows")
    xs = q1(db, "SELECT COUNT(*) FROM exchanges")
    verdicts = dict(q(db, "SELECT verdict, COUNT(*) FROM exchanges GROUP BY verdict"))
    flow_verdicts = dict(q(db, "SELECT verdict, COUNT(*) FROM flows WHERE verdict IS NOT NULL"
                               " GROUP BY verdict"))
    per_run = {(r, v): n for r, v, n in
               q(db, "SELECT run_id, verdict, COUNT(*) FROM exchanges GROUP BY 1, 2")}
    db.close()
    state = file_state(dbp)

    p = run(binary, ["report", "--db", dbp], tmp)
    C.eq(p.returncode, 0, f"report: exit status (stderr: {p.stderr.strip()})")
    out = p.stdout
    C.check(out.startswith(f"{dbp}: {runs} runs, {flows} flows, {xs} exchanges"),
            f"report: first line {out.splitlines()[:1]}")
    C.check(out.splitlines()[0].endswith("; sensors span-a, span-b"),
            f"report: the first line names both sensors: {out.splitlines()[:1]}")
    p1 = run(binary, ["report", "--db", dbp, "--run", "1"], tmp)
    C.check(p1.stdout.splitlines()[:1] and
            p1.stdout.splitlines()[0].endswith("; sensor span-b; showing run 1"),
            f"report --run 1: its sensor: {p1.stdout.splitlines()[:1]}")
    section = out.split("runs:\n", 1)[1].split("\n\n", 1)[0] if "runs:\n" in out else ""
    rows = [l.split() for l in section.splitlines()[1:]]
    C.eq([r[0] for r in rows], [str(i) for i in range(1, runs + 1)],
         "report: the runs section lists every run")
    for v in verdicts:  # no verdict (orphan responses) is shown as "-"
        C.check(f" {v if v is not None else '-'} " in out, f"report: verdict {v} not shown")
    C.check("verdicts per run:" in out and "verdicts, all runs:" in out,
            "report: verdict sections missing")

    p = run(binary, ["report", "--db", dbp, "--json"], tmp)
    C.eq(p.returncode, 0, f"report --json: exit status (stderr: {p.stderr.strip()})")
    try:
        j = json.loads(p.stdout)
    except ValueError as e:
        C.check(False, f"report --json does not parse: {e}")
        return
    C.eq(j.get("totals"), {"runs": runs, "flows": flows, "exchanges": xs},
         "report --json: totals against the tables")
    C.eq((j.get("schema_version"), j.get("schema_revision")), (1, int(SCHEMA_REVISION)),
         "report --json: schema version and revision")
    C.eq(j.get("database"), dbp, "report --json: database")
    C.eq(j.get("sensors"), ["span-a", "span-b"], "report --json: sensors")
    C.eq([r["run"] for r in j.get("runs", [])], list(range(1, runs + 1)),
         "report --json: runs")
    C.eq(sum(r["exchanges"] for r in j.get("runs", [])), xs,
         "report --json: runs' exchanges add up to the total")
    C.eq(sum(r["exchanges"] for r in j.get("verdicts", [])), xs,
         "report --json: verdicts add up to the exchange count")
    C.eq({r["verdict"]: r["exchanges"] for r in j.get("verdicts", [])}, verdicts,
         "report --json: exchanges per verdict")
    C.eq({r["verdict"]: r["flows"] for r in j.get("verdicts", [])},
         {v: flow_verdicts.get(v, 0) for v in verdicts}, "report --json: flows per verdict")
    C.eq({(r["run"], r["verdict"]): r["exchanges"] for r in j.get("run_verdicts", [])},
         per_run, "report --json: verdicts per run")
    for key in ("servers", "user_agents", "server_timing"):
        C.check(isinstance(j.get(key), list), f"report --json: {key} is not an array")
    db = connect(dbp, readonly=True)
    want = {(r[0], r[1]): r[2:] for r in q(db, "SELECT server_ip, server_port, n_100,"
                                                " continue_ms_p50, continue_ms_p95, n_wait,"
                                                " wait_ms_p50, wait_ms_p95 FROM v_server_timing")}
    db.close()
    for r in j.get("server_timing", []):
        key = (r.get("server_ip"), r.get("server_port"))
        got = (r.get("n_100"), r.get("continue_ms_p50"), r.get("continue_ms_p95"),
               r.get("n_wait"), r.get("wait_ms_p50"), r.get("wait_ms_p95"))
        ref = want.get(key)
        same = ref is not None and all(
            (a is None and b is None) or (a is not None and b is not None and
                                          math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9))
            for a, b in zip(got, ref))
        C.check(same, f"report --json: server_timing {key} {got} against the view {ref}")
    C.eq(file_state(dbp)[0], state[0], "report changed the database's bytes")
    if siblings(dbp):
        note(f"report left {siblings(dbp)} beside the database (read-only WAL reader)")


def check_client_timers(db, label):
    """v_client_timers against the same rules computed here from the exchanges."""
    rows = q(db, "SELECT e.user_agent, f.client_ip, e.verdict, e.wait_ms, e.final_ms,"
                 " e.body_bytes + COALESCE(e.body_missing, 0),"
                 " (f.last_seen - e.t_hdr) * 1000.0"
                 " FROM exchanges e JOIN flows f ON f.id = e.flow_id"
                 " WHERE e.expect IS NOT NULL")
    groups = {}
    for ua, ip, verdict, wait, final, body, conn in rows:
        key = ("user_agent", ua) if ua is not None else ("client_ip", ip)
        g = groups.setdefault(key, {"n": 0, "waits": [], "long": 0})
        g["n"] += 1
        if verdict == "timeout_fallback" and wait is not None:
            g["waits"].append(wait)
        if (wait is not None and wait > 5000) or (body == 0 and (
                (final is not None and final > 5000) or
                (verdict == "incomplete" and conn is not None and conn > 5000))):
            g["long"] += 1
    known = [(".NET 350 ms", 350.0), ("curl 1 s", 1000.0), ("3 s", 3000.0)]
    want = {}
    for key, g in groups.items():
        w = sorted(g["waits"])
        med = tight = common = None
        if w:
            n = len(w)
            med = (w[(n - 1) // 2] + w[n // 2]) / 2
            tol = max(20.0, 0.05 * med)
            tight = None if n < 2 else int(w[-1] - med <= tol and med - w[0] <= tol)
            near = [(abs(med - ms), name) for name, ms in known
                    if abs(med - ms) <= max(20.0, 0.1 * ms)]
            common = min(near)[1] if near else None
        want[key] = (g["n"], len(w), med, w[0] if w else None, w[-1] if w else None,
                     tight, common, g["long"])
    got = {(r[0], r[1]): r[2:] for r in
           q(db, "SELECT client_by, client, with_expect, fallbacks, timer_ms, min_wait_ms,"
                 " max_wait_ms, tight, common_timer, long_waits FROM v_client_timers")}
    C.eq(sorted(got), sorted(want), f"{label}: v_client_timers' clients")
    for key in sorted(set(got) & set(want)):
        g, w = got[key], want[key]
        close = all((a is None and b is None) or
                    (a is not None and b is not None and abs(a - b) <= 0.0006)
                    for a, b in ((g[2], w[2]), (g[3], w[3]), (g[4], w[4])))
        C.check(close and g[:2] == w[:2] and g[5:] == w[5:],
                f"{label}: v_client_timers {key}: got {g}, want {w}")
    return got


def area_timers(binary, srcdir, tmp):
    """The expectation timer each client uses (v_client_timers, report's section)."""
    dbp = os.path.join(tmp, "timers.db")
    analyze_ok(binary, dbp, [pcap(srcdir, "curl-expect-timers.pcap")], tmp, "timers")
    db = connect(dbp)
    got = check_client_timers(db, "curl-expect-timers")
    # what real curl did (tests/capture/make-semantics.sh): each client's timer found,
    # the fallbacks of one timer in a tight cluster
    for key, nominal, common, n in (
            (("user_agent", "uploader-a/1.0"), 350, ".NET 350 ms", 3),
            (("user_agent", "uploader-b/1.0"), 1000, "curl 1 s", 3),
            (("user_agent", "uploader-c/1.0"), 3000, "3 s", 2),
            (("client_ip", "10.231.0.1"), 1000, "curl 1 s", 2)):
        r = got.get(key)
        C.check(r is not None and r[1] == n and abs(r[2] - nominal) < 10 and r[5] == 1
                and r[6] == common and r[7] == 0,
                f"timers: {key}: {r} is not {n} fallbacks at {nominal} ms, tight, {common}")
    r = got.get(("user_agent", "patient/1.0"))
    C.check(r is not None and abs(r[2] - 7000) < 10 and r[5] is None and r[6] is None
            and r[7] == 1, f"timers: patient/1.0 (7 s): {r}")
    r = got.get(("user_agent", "expectscope-peers/1 (python 3.11)"))
    C.check(r is not None and r[1] == 0 and r[7] == 1,
            f"timers: the client the server gave up on (408 after 6 s) is a long wait: {r}")
    db.close()
    # report: the section, within 80 columns, and --json the view's rows
    p = run(binary, ["report", "--db", dbp], tmp)
    C.eq(p.returncode, 0, f"report: exit status ({p.stderr.strip()})")
    sec = p.stdout.split("client expectation timers", 1)
    lines = sec[1].split("\n\n", 1)[0].splitlines() if len(sec) == 2 else []
    C.check(len(lines) == 1 + 1 + 6, f"report: timers section has 6 clients: {lines}")
    C.check(all(len(l) <= 80 for l in lines), f"report: timers wider than 80: {lines}")
    C.check(any(l.split()[:1] == ["uploader-a/1.0"] and ".NET 350 ms" in l for l in lines),
            f"report: uploader-a/1.0's timer: {lines}")
    p = run(binary, ["report", "--json", "--db", dbp], tmp)
    js = json.loads(p.stdout) if p.returncode == 0 else {}
    db = connect(dbp)
    view = q(db, "SELECT client, with_expect, fallbacks, timer_ms, tight, common_timer,"
                 " long_waits FROM v_client_timers WHERE fallbacks > 0 OR long_waits > 0")
    db.close()
    C.eq([tuple(r.values()) for r in js.get("client_timers", [])], [tuple(r) for r in view],
         "report --json: client_timers are the view's rows")
    # the whole corpus: one user agent with two timers is not tight
    dbc = os.path.join(tmp, "corpus.db")
    analyze_ok(binary, dbc, corpus(srcdir), tmp, "timers corpus")
    db = connect(dbc)
    got = check_client_timers(db, "corpus")
    db.close()


AREAS = {
    "timers": area_timers,
    "schema": area_schema,
    "append": area_append,
    "migration": area_migration,
    "refusal": area_refusal,
    "interrupt": area_interrupt,
    "concurrent": area_concurrent,
    "report": area_report,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in AREAS:
        print(__doc__, file=sys.stderr)
        return 2
    area, binary, srcdir = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    srcdir = os.path.abspath(srcdir)
    with tempfile.TemporaryDirectory(prefix=f"es-storage-{area}-") as tmp:
        try:
            AREAS[area](binary, srcdir, tmp)
        except Exception as e:  # a crash in the test is a failure, with its reason
            import traceback
            traceback.print_exc()
            C.check(False, f"{area}: {type(e).__name__}: {e}")
        finally:
            for root, dirs, _ in os.walk(tmp):
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o755)
    print(f"storage {area}: {C.checks - C.failures} of {C.checks} checks passed")
    return 1 if C.failures or not C.checks else 0


if __name__ == "__main__":
    sys.exit(main())
