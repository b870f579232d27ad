#!/usr/bin/env python3
"""HTTP framing traps through the whole binary: each capture of framing.py analysed
into a fresh database, its exchanges (analyze --list) and the run's counters checked,
and the summary and report showing them.

    test_framing.py BINARY WORKDIR
"""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import framing  # noqa: E402

# method, uri, interim, status, verdict, flags (sorted) of each exchange, in order
ROWS = {
    "cl-and-chunked": [("POST", "/a", "100", "200", "continue_ok", "cl_and_chunked"),
                       ("GET", "/b", "-", "200", "plain", "-")],
    "conflicting-length": [("POST", "/a", "-", "200", "plain", "-"),
                           ("POST", "/b", "-", "400", "plain", "conflicting_length,resync"),
                           ("GET", "/c", "-", "200", "plain", "resync")],
    "late-1xx": [("POST", "/a", "100", "200", "continue_ok", "-"),
                 ("POST", "/b", "-", "200", "timeout_fallback", "-")],
    "websocket-101": [("GET", "/ws", "-", "101", "plain", "-")],
    "start-lines": [("GET", "/a", "-", "204", "plain", "resync")],
    "cl-overflow": [("POST", "/a", "-", "417", "expectation_failed",
                     "content_length_overflow,resync"),
                    ("GET", "/b", "-", "200", "plain", "resync")],
    "expect-gap": [("POST", "/a", "100", "200", "incomplete", "expect_unknown,gap")],
}

# the run's counters: parse_errors, framing_errors, stray_interims, tunnels
COUNTERS = {
    "cl-and-chunked": (0, 2, 0, 0),
    "conflicting-length": (0, 1, 0, 0),
    "late-1xx": (0, 0, 1, 0),
    "websocket-101": (0, 0, 0, 1),
    "start-lines": (4, 0, 0, 0),
    "cl-overflow": (0, 1, 0, 0),
    "expect-gap": (0, 0, 0, 0),
}

# a line analyze's summary prints for the case
SUMMARY = {
    "cl-and-chunked": "2 messages with invalid or ambiguous framing",
    "late-1xx": "1 1xx responses no request asked for",
    "websocket-101": "1 flows whose HTTP became a tunnel",
    "start-lines": "4 parse errors",
}

failures = 0


def check(ok, what):
    global failures
    if not ok:
        failures += 1
        print("FAIL:", what)
    return ok


def flags(s):
    return ",".join(sorted(x for x in s.split(",") if x and x != "-")) or "-"


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    framing.main(work)
    for name in framing.CASES:
        pcap = os.path.join(work, name + ".pcap")
        db = os.path.join(work, name + ".db")
        if os.path.exists(db):
            os.remove(db)
        p = subprocess.run([binary, "analyze", "--db", db, "--list", pcap],
                           capture_output=True, text=True)
        if not check(p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr[-300:]}"):
            continue
        lines = [ln.split("\t") for ln in p.stdout.splitlines() if ln]
        head, body = lines[0], lines[1:]
        col = {k: i for i, k in enumerate(head)}
        got = [(r[col["method"]], r[col["uri"]], r[col["interim"]], r[col["status"]],
                r[col["verdict"]], flags(r[col["flags"]])) for r in body]
        check(got == ROWS[name], f"{name}: exchanges {got}, want {ROWS[name]}")
        con = sqlite3.connect(db)
        try:
            row = con.execute("SELECT parse_errors, framing_errors, stray_interims,"
                              " tunnels FROM runs").fetchone()
        except sqlite3.Error as e:  # a database older than schema revision 9
            row = str(e)
        check(row == COUNTERS[name], f"{name}: runs counters {row}, want {COUNTERS[name]}")
        if name == "start-lines":
            rs = con.execute("SELECT reason FROM exchanges").fetchone()
            check(rs == ("No Content",), f"start-lines: the reason is the 204's: {rs}")
        if name == "cl-overflow" and not isinstance(row, str):
            cl = con.execute("SELECT content_length, flags FROM exchanges ORDER BY id"
                             " LIMIT 1").fetchone()
            check(cl[0] is None and "content_length_overflow" in cl[1],
                  f"cl-overflow: content_length stored as {cl}: NULL and flagged")
            raw = con.execute("SELECT raw FROM headers WHERE direction = 'request'"
                              " ORDER BY exchange_id LIMIT 1").fetchone()
            text = raw[0] if raw and isinstance(raw[0], str) else (raw or [b""])[0].decode()
            check("99999999999999999999" in text,
                  f"cl-overflow: the length is kept in the stored request block: {raw}")
        con.close()
        if name in SUMMARY:
            check(SUMMARY[name] in p.stderr, f"{name}: summary says {SUMMARY[name]!r}:"
                  f" {p.stderr}")
        r = subprocess.run([binary, "report", "--db", db, "--json"], capture_output=True,
                           text=True)
        if check(r.returncode == 0, f"{name}: report exit {r.returncode}"):
            rep = json.loads(r.stdout)
            fr = rep.get("framing", [])
            want = COUNTERS[name]
            if any(want):
                check(len(fr) == 1 and (fr[0]["parse_errors"], fr[0]["framing_errors"],
                                        fr[0]["stray_interims"], fr[0]["tunnels"]) == want,
                      f"{name}: report's framing section {fr}, want {want}")
            else:
                check(fr == [], f"{name}: report's framing section {fr}, want none")
    print(f"framing: {len(framing.CASES)} captures, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
