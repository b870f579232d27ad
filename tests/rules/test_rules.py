#!/usr/bin/env python3
"""The rule engine (docs/rules.md) against captures, row by row.

  test_rules.py BINARY SRCDIR WORKDIR

- Every capture of the real-traffic corpus (tests/pcap/*.pcap, one run each), of the
  two-leg proxy corpus (tests/pcap/paths/*.pcap, with --proxy where the proxy adds no
  X-Forwarded-For, as check_paths.py runs them), of real software breaking a rule
  (tests/rules/*.pcap, from tests/capture/make-rules.sh), and every hand-made capture
  of handmade.py, gives exactly the violations rows of EXPECTED: (client port, the
  exchange's seq on its connection, rule, detail). A capture not in EXPECTED must give
  none: this is the false-positive check over the whole corpus.
- No exchange of real software judged continue_ok with a 100 within 200 ms of its
  headers, a 2xx and no flag breaks a client or server rule (C*, S*): the clean
  handshake is clean.
- Every checked rule of docs/rules.md is triggered by at least one capture here, and
  docs/rules.md has a section for every rule ID, checked or not.
- runs.violations is the number of rows; v_violations, v_violations_by_server and
  v_violations_by_agent agree with the table; `report --json` lists each rule's count
  and `report` prints the section within 80 columns; `show ID` lists the exchange's
  violations.

Exit 0 when every check passed, 1 otherwise.
"""
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handmade  # noqa: E402

PROXY = "10.231.1.2,10.231.2.1"  # as tests/pcap/paths/check_paths.py
NEEDS_PROXY = {"nginx-proxy-nginx", "nginx-proxy-no100", "haproxy-nginx", "haproxy-417"}

CHECKED = ["C1", "C2", "C3", "C4", "C7", "C9", "C10", "C11",
           "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S12", "S14", "S15",
           "P1", "P2", "P3", "P4", "P5", "P6"]
ALL = ["C%d" % i for i in range(1, 12)] + ["S%d" % i for i in range(1, 16)] + \
      ["P%d" % i for i in range(1, 8)]

S15_TEXT = "417 to Expect: 100-continue, which an HTTP/1.1 server must support"
NO_VIA = "the request went upstream without Via"
OWN_100 = "the proxy sent its own 100 and no Expect upstream"
S7_TEXT = ("kept the connection open with the body unread; the client's next request "
           "came where the body was due")

EXPECTED = {
    # tests/capture/make-semantics.sh: timers (every fallback is a silent server, S3),
    # failed retries after a 417
    "curl-expect-timers": [
        (49392, 0, 'S3', 'no 100 or final status in 349.7 ms; the client then sent the body'),
        (49392, 1, 'S3', 'no 100 or final status in 350.7 ms; the client then sent the body'),
        (49392, 2, 'S3', 'no 100 or final status in 350.7 ms; the client then sent the body'),
        (49394, 0, 'S3', 'no 100 or final status in 1000.4 ms; the client then sent the body'),
        (49394, 1, 'S3', 'no 100 or final status in 1001.3 ms; the client then sent the body'),
        (49394, 2, 'S3', 'no 100 or final status in 1001.2 ms; the client then sent the body'),
        (49404, 0, 'S3', 'no 100 or final status in 3001.8 ms; the client then sent the body'),
        (49404, 1, 'S3', 'no 100 or final status in 3001.5 ms; the client then sent the body'),
        (55576, 0, 'S3', 'no 100 or final status in 1001.2 ms; the client then sent the body'),
        (55576, 1, 'S3', 'no 100 or final status in 1001.0 ms; the client then sent the body'),
        (55590, 0, 'S3', 'no 100 or final status in 7001.7 ms; the client then sent the body'),
        (56460, 0, 'S3', 'first answer (408) 6006.7 ms after the headers'),
    ],
    "retry-417-then-401": [
        (49368, 0, 'S15', S15_TEXT),
        (49368, 0, 'S6', '417 after 0 of 4096 body bytes, without Connection: close'),
    ],
    "retry-417-twice": [
        (49380, 0, 'S15', S15_TEXT),
        (49380, 0, 'S6', '417 after 0 of 4096 body bytes, without Connection: close'),
    ],
    # real software (tests/capture/make-corpus.sh, make-paths.sh)
    "curl-417-no-retry": [
        (58468, 0, "C4", "no retry before the capture ended, 3.2 ms after the 417"),
        (58468, 0, "S15", S15_TEXT),
    ],
    "curl-no100-timeout-1s": [
        (50886, 0, "S3", "no 100 or final status in 1001.1 ms; the client then sent the body"),
    ],
    "curl-no100-timeout-200ms": [
        (58420, 0, "S3", "no 100 or final status in 200.6 ms; the client then sent the body"),
    ],
    "early-401-keep-swallowed": [
        (36626, 0, "S6", "401 after 0 of 4096 body bytes, without Connection: close"),
        (36626, 0, "S7", "401 " + S7_TEXT),
    ],
    "early-401-keep": [
        (36620, 0, "S6", "401 after 0 of 4096 body bytes, without Connection: close"),
    ],
    "expect-417-retry-dupbody": [(58450, 0, "S15", S15_TEXT)],
    # tests/rules/*.pcap (tests/capture/make-rules.sh)
    "python-crash-after-100": [
        (36966, 0, "S5", "100 sent, the whole body received, then the connection ended (fin) "
                         "with no final status"),
    ],
    "node-upgrade-no-100": [
        (36974, 0, "S8", "101 Switching Protocols with no 100 before it"),
    ],
    "curl-post-retry-reset": [
        (45720, 0, "C11", "POST repeated 1001.5 ms after the same request failed with no "
                          "response"),
    ],
    "expect-417-retry-same-conn": [
        (58444, 0, "S15", S15_TEXT),
        (58444, 0, "S6", "417 after 0 of 4096 body bytes, without Connection: close"),
        (58444, 0, "S7", "417 " + S7_TEXT),
    ],
    "expect-417-retry": [(58426, 0, "S15", S15_TEXT)],
    "expect-abandoned": [(50186, 0, "S3", "no answer in 1502.2 ms; the exchange ended")],
    "expect-no-body": [
        (56326, 0, "C1", "Expect: 100-continue on GET with no Content-Length or chunked"),
        (56326, 1, "C1", "Expect: 100-continue on POST with Content-Length: 0"),
    ],
    "http10-1xx": [
        (50182, 0, "S1", "HTTP/1.0 request: the server answered its Expect with a 100"),
        (50182, 0, "S2", "1 interim response (first 100) to an HTTP/1.0 request"),
    ],
    "late-100": [
        (48840, 0, "S4", "100 at 152.9 ms, after the whole body (4096 bytes, last at 30.3 ms)"),
    ],
    "apache-nginx": [(52374, i, "P4", NO_VIA) for i in range(3)],
    "apache-no100": [
        (46464, 0, "S3", "no answer in 3003.5 ms; the exchange ended"),
        (51398, 0, "P4", NO_VIA),
        (51398, 0, "S3", "no 100 or final status in 300.8 ms; the client then sent the body"),
        (51406, 0, "P4", NO_VIA),
        (52386, 0, "P4", NO_VIA),
        (52386, 0, "S3", "no 100 or final status in 1001.4 ms; the client then sent the body"),
        (60850, 0, "S3", "no answer in 3003.3 ms; the exchange ended"),
    ],
    "direct-vs-edge": [(51426, 0, "S15", S15_TEXT)],
    "haproxy-417": [(52360, 0, "S15", S15_TEXT), (52372, 0, "P4", NO_VIA)],
    "haproxy-nginx": [(52348, i, "P4", NO_VIA) for i in range(3)],
    "nginx-proxy-nginx": [
        (52326, 0, "P3", OWN_100), (52326, 0, "P4", NO_VIA),
        (52326, 1, "P3", OWN_100), (52326, 1, "P4", NO_VIA),
        (52326, 2, "P4", NO_VIA),
        (52334, 0, "P3", OWN_100), (52334, 0, "P4", NO_VIA),
    ],
    "nginx-proxy-no100": [
        (52340, 0, "P3", OWN_100), (52340, 0, "P4", NO_VIA),
        (52340, 1, "P3", OWN_100), (52340, 1, "P4", NO_VIA),
        (52340, 2, "P4", NO_VIA),
    ],
    "squid-accel-no100": [
        (55992, 0, "S3", "no 100 or final status in 1001.0 ms; the client then sent the body"),
        (56002, 0, "S3", "no 100 or final status in 300.4 ms; the client then sent the body"),
        (56376, 0, "S3", "no 100 or final status in 1001.4 ms; the client then sent the body"),
        (56376, 1, "S3", "no 100 or final status in 300.7 ms; the client then sent the body"),
    ],
    "varnish-nginx": [
        (51418, 0, "P3", OWN_100), (51418, 0, "P4", NO_VIA),
        (51418, 1, "P3", OWN_100), (51418, 1, "P4", NO_VIA),
        (51418, 2, "P4", NO_VIA),
        (51424, 0, "P3", OWN_100), (51424, 0, "P4", NO_VIA),
    ],
    # hand-made (handmade.py)
    "c2-stall-no-expect": [
        (40001, 0, "C2", "no Expect, yet the body started 400.0 ms after the headers, the "
                         "server silent"),
    ],
    "c3-long-wait": [
        (40002, 0, "C3", "waited 12.0 s for a 100 before sending the body"),
        (40002, 0, "S3", "no 100 or final status in 12000.0 ms; the client then sent the body"),
    ],
    "c4-retry-keeps-expect": [
        (40003, 0, "S15", S15_TEXT),
        (40004, 0, "C4", "the retry after the 417 still carries Expect: 100-continue"),
        (40004, 0, "S15", S15_TEXT),
    ],
    "c7-unsolicited": [
        (40005, 1, "C7", "another request on a connection that had sent response data no "
                         "request asked for"),
    ],
    "c9-chunked-to-http10": [
        (40006, 1, "C9", "chunked request after the server answered HTTP/1.0 on this "
                         "connection"),
    ],
    "c10-after-close": [
        (40007, 1, "C10", "request after an earlier request on this connection said it "
                          "would close"),
    ],
    "c11-post-retry": [
        (40009, 0, "C11", "POST repeated 50.0 ms after the same request failed with no "
                          "response"),
    ],
    "s5-100-no-final": [
        (40010, 0, "S5", "100 sent, the whole body received, then the connection ended (fin) "
                         "with no final status"),
    ],
    "s8-101-without-100": [
        (40011, 0, "C1", "Expect: 100-continue on GET with no Content-Length or chunked"),
        (40011, 0, "S8", "101 Switching Protocols with no 100 before it"),
    ],
    "s9-s10-framing": [
        (40012, 0, "S9", "Content-Length: 0 in a 100 interim response"),
        (40012, 1, "S10", "Transfer-Encoding: chunked in a 100 interim response"),
        (40012, 2, "S9", "Content-Length: 0 in a 204 response"),
    ],
    "s10-hostile-value": [
        (40016, 0, "S10", "Transfer-Encoding: <script>\"'??" + "9" * 11 + "~ in a 100 interim "
                         "response"),
    ],
    "s12-out-of-step": [
        (40013, 1, "S12", "200 began 58.0 ms before its request's header block ended"),
    ],
    "s14-after-close": [
        (40014, 1, "S14", "answered 200 after an earlier response on this connection said "
                          "close"),
    ],
    "p1-dropped-100": [
        (40020, 0, "P1", "the upstream sent a 100; the client got none"),
        (40020, 0, "S3", "no 100 or final status in 1000.0 ms; the client then sent the body"),
    ],
    "p2-forward-proxy-buffers": [
        (40040, 0, "P2", "the request went upstream 151.5 ms after the headers, once the "
                         "whole body had come"),
        (40040, 0, "P3", OWN_100),
    ],
    "p5-relayed-100-with-cl": [
        (40030, 0, "P5", "the relayed 100 still carries Content-Length"),
        (40030, 0, "S9", "Content-Length: 0 in a 100 interim response"),
        (40031, 0, "S9", "Content-Length: 0 in a 100 interim response"),
    ],
    "p6-http10-client": [
        (40015, 1, "P6", "an intermediary kept the connection of an HTTP/1.0 client open for "
                         "another request"),
    ],
}

TIMEOUT = 120
CLEAN_SEEN = [0]  # clean continue_ok exchanges of real software looked at


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures += 1
            print("FAIL:", what)
        return ok


def fresh(db):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)


def analyze(exe, pcap, db, extra=()):
    fresh(db)
    r = subprocess.run([exe, "analyze", "-q", "--db", db] + list(extra) + [pcap],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("%s: analyze exited %d: %s" % (pcap, r.returncode, r.stderr))


def rows_of(db):
    c = sqlite3.connect(db)
    rows = c.execute(
        "SELECT f.client_port, e.seq, v.rule, v.detail FROM violations v"
        " LEFT JOIN exchanges e ON e.id = v.exchange_id"
        " LEFT JOIN flows f ON f.id = v.flow_id").fetchall()
    c.close()
    return sorted(rows)


def check_consistency(ck, name, db, real):
    """runs.violations, the views, and the ids: every row names its exchange's flow."""
    c = sqlite3.connect(db)
    n = c.execute("SELECT COUNT(*) FROM violations").fetchone()[0]
    run_n = c.execute("SELECT violations FROM runs").fetchone()[0]
    ck.check(run_n == n, "%s: runs.violations %s, rows %d" % (name, run_n, n))
    bad = c.execute("SELECT COUNT(*) FROM violations v JOIN exchanges e"
                    " ON e.id = v.exchange_id WHERE e.flow_id IS NOT v.flow_id"
                    " OR e.run_id != v.run_id").fetchone()[0]
    ck.check(bad == 0, "%s: %d violations whose flow or run is not their exchange's"
             % (name, bad))
    orphan = c.execute("SELECT COUNT(*) FROM violations v LEFT JOIN exchanges e"
                       " ON e.id = v.exchange_id WHERE v.exchange_id IS NOT NULL"
                       " AND e.id IS NULL").fetchone()[0]
    ck.check(orphan == 0, "%s: %d violations name no stored exchange" % (name, orphan))
    view = c.execute("SELECT COUNT(*) FROM v_violations").fetchone()[0]
    ck.check(view == n, "%s: v_violations has %d rows, the table %d" % (name, view, n))
    for v in ("v_violations_by_server", "v_violations_by_agent"):
        total = c.execute("SELECT COALESCE(SUM(violations), 0) FROM %s" % v).fetchone()[0]
        ck.check(total == n, "%s: %s sums to %d, the table has %d" % (name, v, total, n))
    ex = c.execute("SELECT COUNT(*) FROM v_violations_by_server s WHERE exchanges !="
                   " (SELECT COUNT(DISTINCT exchange_id) FROM v_violations w"
                   "  WHERE w.server_ip IS s.server_ip AND w.server_port IS s.server_port"
                   "  AND w.host IS s.host AND w.rule = s.rule)"
                   " OR example_exchange_id NOT IN (SELECT exchange_id FROM violations"
                   "  WHERE rule = s.rule)").fetchone()[0]
    ck.check(ex == 0, "%s: v_violations_by_server exchanges/example wrong in %d rows"
             % (name, ex))
    clean = c.execute(
        "SELECT e.id, v.rule FROM violations v JOIN exchanges e ON e.id = v.exchange_id"
        " WHERE e.verdict = 'continue_ok' AND e.continue_ms < 200"
        " AND e.status BETWEEN 200 AND 299 AND e.flags IS NULL"
        " AND (v.rule LIKE 'C%' OR v.rule LIKE 'S%')").fetchall()
    if real:
        CLEAN_SEEN[0] += c.execute(
            "SELECT COUNT(*) FROM exchanges WHERE verdict = 'continue_ok'"
            " AND continue_ms < 200 AND status BETWEEN 200 AND 299"
            " AND flags IS NULL").fetchone()[0]
    ck.check(not real or not clean, "%s: clean continue_ok exchanges with client/server violations: %s"
             % (name, clean))
    c.close()


def check_report(ck, exe, db, name):
    r = subprocess.run([exe, "report", "--db", db, "--json"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    if not ck.check(r.returncode == 0, "%s: report --json exited %d" % (name, r.returncode)):
        return
    doc = json.loads(r.stdout)
    c = sqlite3.connect(db)
    want = dict(c.execute("SELECT rule, COUNT(*) FROM violations GROUP BY rule").fetchall())
    got = {x["rule"]: x["violations"] for x in doc.get("rules", [])}
    ck.check(got == want, "%s: report --json rules %s, the table %s" % (name, got, want))
    for x in doc.get("rules", []):
        ck.check(x["level"] and x["section"].startswith("RFC 91") and x["summary"],
                 "%s: report --json rule %s without level, section or summary" % (name, x))
    ck.check("rule_servers" in doc and "rule_user_agents" in doc,
             "%s: report --json lacks rule_servers or rule_user_agents" % name)
    r = subprocess.run([exe, "report", "--db", db], capture_output=True, text=True,
                       timeout=TIMEOUT)
    part = r.stdout[r.stdout.find("rule violations"):]
    ck.check(r.returncode == 0 and part.startswith("rule violations"),
             "%s: report has no rule violations section" % name)
    wide = [l for l in part.splitlines() if len(l) > 80]
    ck.check(not wide, "%s: rule section lines past 80 columns: %s" % (name, wide))
    for rule, n in want.items():
        ck.check(re.search(r"^  %s\s+\S.*\s%d\s+\d+\s" % (rule, n), part, re.M),
                 "%s: report does not show %s with %d" % (name, rule, n))
    # show: the first exchange with a violation lists each of its rules and details
    row = c.execute("SELECT exchange_id FROM violations WHERE exchange_id IS NOT NULL"
                    " ORDER BY id LIMIT 1").fetchone()
    if row:
        r = subprocess.run([exe, "show", "--db", db, str(row[0])], capture_output=True,
                           text=True, timeout=TIMEOUT)
        ck.check(r.returncode == 0 and "rule violations" in r.stdout,
                 "%s: show %d has no rule violations" % (name, row[0]))
        flat = " ".join(r.stdout.split())
        for rule, detail in c.execute("SELECT rule, detail FROM violations"
                                      " WHERE exchange_id = ?", row):
            ck.check(rule in r.stdout and " ".join(detail.split()) in flat,
                     "%s: show %d lacks %s: %s" % (name, row[0], rule, detail))
    c.close()


def check_docs(ck, srcdir):
    with open(os.path.join(srcdir, "docs", "rules.md"), encoding="utf-8") as f:
        doc = f.read()
    for rule in ALL:
        m = re.search(r"^### %s\b(.*?)(?=^### |\Z)" % rule, doc, re.M | re.S)
        if not ck.check(m, "docs/rules.md has no section for %s" % rule):
            continue
        body = m.group(1)
        ck.check(re.search(r"RFC 91(10|12)", body), "docs/rules.md %s: no RFC section" % rule)
        if rule in CHECKED:
            ladders = re.findall(r"```\n(.*?)```", body, re.S)
            ck.check(any("client" in l and "capture" in l for l in ladders),
                     "docs/rules.md %s: checked but no ladder" % rule)
        else:
            ck.check("not checked" in body.lower(), "docs/rules.md %s: unchecked rule "
                     "without 'not checked'" % rule)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    exe, srcdir, work = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ck = Checker()
    cases = {}
    for p in sorted(glob.glob(os.path.join(srcdir, "tests", "pcap", "*.pcap"))):
        cases[os.path.basename(p)[:-5]] = (p, [])
    for p in sorted(glob.glob(os.path.join(srcdir, "tests", "pcap", "paths", "*.pcap"))):
        name = os.path.basename(p)[:-5]
        cases[name] = (p, ["--proxy", PROXY] if name in NEEDS_PROXY else [])
    for p in sorted(glob.glob(os.path.join(srcdir, "tests", "rules", "*.pcap"))):
        cases[os.path.basename(p)[:-5]] = (p, [])
    for name, p in handmade.write_all(os.path.join(work, "handmade")).items():
        cases[name] = (p, [])
    ck.check(set(EXPECTED) <= set(cases), "EXPECTED names captures that do not exist: %s"
             % sorted(set(EXPECTED) - set(cases)))

    seen = set()
    for name, (pcap, extra) in sorted(cases.items()):
        db = os.path.join(work, name + ".db")
        analyze(exe, pcap, db, extra)
        got = rows_of(db)
        want = sorted(EXPECTED.get(name, []))
        if not ck.check(got == want, "%s: violations differ" % name):
            for r in sorted(set(want) - set(got)):
                print("   missing:", r)
            for r in sorted(set(got) - set(want)):
                print("   unexpected:", r)
        seen |= {r[2] for r in got}
        check_consistency(ck, name, db, name not in handmade.CASES)
        if got:
            check_report(ck, exe, db, name)

    ck.check(set(CHECKED) <= seen, "checked rules no capture triggers: %s"
             % sorted(set(CHECKED) - seen))
    ck.check(CLEAN_SEEN[0] >= 10, "only %d clean continue_ok exchanges in the corpus"
             % CLEAN_SEEN[0])
    print("clean continue_ok exchanges of real software checked: %d" % CLEAN_SEEN[0])
    check_docs(ck, srcdir)
    print("%d checks, %d failed" % (ck.checks, ck.failures))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
