#!/usr/bin/env python3
"""expectscope export against the database it reads.

  test_export.py AREA BINARY SRCDIR

AREA is one of:
  ndjson   every exchange of the real-traffic corpus (one run per capture): one valid
           JSON object per line, members in docs/export.md's order with its types, and
           each value equal to the database's (read with Python's sqlite3).
  csv      RFC 4180 as Python's csv module reads it: the header is NDJSON's member
           names, each record the same values as the NDJSON line.
  har      HAR 1.2 of the corpus: the spec's structure (har_schema.py: required members
           and types, time = the sum of the timings), python3 -m json.tool and node
           (har_load.js: what a browser's HAR import needs) read it, an entry per
           exchange in time order, header values equal to the stored header blocks
           (or built from the columns for plain exchanges), _interim equal to
           interim_codes/interim_ms, every _ field equal to its column.
  rules    the rules each exchange broke: NDJSON's violations and HAR's _violations
           equal the violations table's rows of the exchange in order; each ladder of
           the HTML report lists those and its flow's, with level, RFC section, detail.
  hostile  a hand-made capture of hostile bytes (hostile.py: markup, quotes, NUL and
           other controls, invalid UTF-8, C1, U+2028, formula prefixes, tab, CR) through
           every format: valid UTF-8, no raw control byte, each value equal to the
           display text of the captured bytes (display.py, from escape.h), byte by byte;
           CSV with the formula guard; HTML shows no captured markup.
  filters  every filter (--verdict, --problems, --server, --host, --since, --until,
           --run, --latest, together) keeps exactly the rows the same SQL WHERE keeps,
           in every built format; refusals are one line with exit 2.
  output   -o FILE: the file appears whole (a temporary name, then rename), one line on
           stderr; a directory that does not exist is one line, exit 1, and no file.

Exit 0 when every check passed, 1 otherwise.
"""
import csv
import datetime
import glob
import html
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import display  # noqa: E402
import har_expect  # noqa: E402
import har_schema  # noqa: E402
import hostile  # noqa: E402
from display import display as dt  # noqa: E402

TIMEOUT = 120

# docs/export.md's NDJSON table: name -> allowed JSON types (None: null allowed)
MEMBERS = [
    ("id", int), ("run_id", int), ("flow_id", int), ("seq", int), ("ts", float),
    ("time", str), ("t_hdr", float), ("client_ip", str), ("client_port", int),
    ("server_ip", str), ("server_port", int), ("vlan", int), ("method", str), ("uri", str),
    ("host", str), ("http_version", str), ("user_agent", str), ("expect", str),
    ("content_length", int), ("chunked", bool), ("body_bytes", int), ("body_missing", int),
    ("interim_codes", list), ("interim_ms", list), ("interim_count", int), ("status", int),
    ("reason", str), ("response_version", str), ("server", str), ("via", str),
    ("wait_ms", float), ("continue_ms", float), ("final_ms", float), ("body_end_ms", float),
    ("end_ms", float), ("verdict", str), ("flags", list), ("retry_of", int),
    ("answered_by", str), ("intermediary", str), ("path_evidence", str),
    ("flow_verdict", str), ("flow_end_reason", str), ("l7_protocol", str),
    ("violations", list),
]
NAMES = [m for m, _ in MEMBERS]
FLOW_COLS = {"client_ip", "client_port", "server_ip", "server_port", "vlan", "l7_protocol"}
FORMATS = ["ndjson", "csv", "har", "html"]
PLAIN = ("plain", "continue_ok")  # what --problems leaves out, and the report's table too


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            self.failures += 1
            print("FAIL: " + msg, flush=True)
        return bool(cond)

    def eq(self, got, want, msg):
        return self.check(got == want, f"{msg}: got {got!r}, want {want!r}")


C = Checker()


def run(binary, args, cwd, stdin=None):
    return subprocess.run([binary] + args, capture_output=True, cwd=cwd, timeout=TIMEOUT,
                          stdin=stdin)


def corpus_db(binary, srcdir, tmp):
    """A database of the corpus, one run per capture."""
    db = os.path.join(tmp, "corpus.db")
    for p in sorted(glob.glob(os.path.join(srcdir, "tests", "pcap", "*.pcap"))):
        r = run(binary, ["analyze", "-q", "--db", db, p], tmp)
        if not C.check(r.returncode == 0, f"analyze {p}: {r.stderr.decode()[-300:]}"):
            sys.exit(1)
    return db


def db_rows(db, where="1", args=()):
    """The database's view of each exchange: {id: {member: value}} (NDJSON's names)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        "SELECT e.*, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan,"
        " f.l7_protocol, f.end_reason AS flow_end_reason, f.verdict AS flow_verdict,"
        " (SELECT GROUP_CONCAT(rule) FROM (SELECT rule FROM violations v"
        "  WHERE v.exchange_id = e.id ORDER BY v.id)) AS violations"
        " FROM exchanges e LEFT JOIN flows f ON f.id = e.flow_id"
        f" WHERE {where} ORDER BY e.ts, e.id", args).fetchall()
    con.close()
    return [dict(r) for r in rows]


def split(v):
    return [x for x in v.split(",")] if v else []


def expected(row):
    """A database row as its NDJSON object should hold it."""
    out = {}
    for name, _ in MEMBERS:
        if name == "time":
            continue
        v = row.get(name)
        if name == "chunked":
            v = None if v is None else bool(v)
        elif name == "interim_codes":
            v = [int(x) for x in split(v)]
        elif name == "interim_ms":
            v = [float(x) for x in split(v)]
        elif name in ("flags", "violations"):
            v = split(v)
        out[name] = v
    return out


def near(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 0.0011
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(near(x, y) for x, y in zip(a, b))
    return a == b


def export(binary, db, fmt, args, cwd):
    r = run(binary, ["export", "--db", db, "--format", fmt] + args, cwd)
    C.check(r.returncode == 0, f"export --format {fmt} {args}: exit {r.returncode}: "
                               f"{r.stderr.decode()[-300:]}")
    return r.stdout


def parse(fmt, data):
    """Rows of an export as lists of dicts with NDJSON's names (CSV values as text)."""
    text = data.decode("utf-8")
    if fmt == "ndjson":
        return [json.loads(line) for line in text.split("\n") if line]
    if fmt == "har":
        return [{"id": e["_id"]} for e in json.loads(text)["log"]["entries"]]
    if fmt == "html":
        # the report's problem table, a row per problem exchange: <tr id="rID" ...>
        if '<table id="ptable">' not in text:
            return []  # no problem exchange: no table
        table = text.split('<table id="ptable">', 1)[1].split("</table>", 1)[0]
        return [{"id": i} for i in re.findall(r'<tr id="r(\d+)"', table)]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return [dict(zip(rows[0], r)) for r in rows[1:]] if rows else []


# ---- areas ----------------------------------------------------------------------------

def area_ndjson(binary, srcdir, tmp):
    db = corpus_db(binary, srcdir, tmp)
    data = export(binary, db, "ndjson", [], tmp)
    C.check(data.endswith(b"\n") and b"\r" not in data, "NDJSON: LF line ends, a last LF")
    data.decode("utf-8")  # raises: every line is UTF-8
    lines = data.decode().split("\n")[:-1]
    want = db_rows(db)
    C.eq(len(lines), len(want), "one line per exchange")
    C.check(len(want) >= 40, f"the corpus has exchanges ({len(want)})")
    seen_types = {}
    for line, row in zip(lines, want):
        obj = json.loads(line, object_pairs_hook=list)
        names = [k for k, _ in obj]
        if not C.eq(names, NAMES, f"exchange {row['id']}: members and their order"):
            continue
        obj = dict(obj)
        for name, typ in MEMBERS:
            v = obj[name]
            if v is None:
                continue
            ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
            if typ is float:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if typ is list:
                ok = isinstance(v, list)
            C.check(ok, f"exchange {row['id']}: {name} is {type(v).__name__}, want "
                        f"{typ.__name__}")
            seen_types.setdefault(name, set()).add(type(v).__name__)
        exp = expected(row)
        for name in exp:
            C.check(near(obj[name], exp[name]),
                    f"exchange {row['id']}: {name} = {obj[name]!r}, database {exp[name]!r}")
        if row["ts"] is not None:
            t = obj["time"]
            C.check(len(t) == 27 and t.endswith("Z") and t[10] == "T",
                    f"exchange {row['id']}: time {t!r} is ISO 8601 UTC with microseconds")
    for name in ("interim_codes", "flags", "interim_ms", "violations"):
        C.check(all(json.loads(l)[name] is not None for l in lines), f"{name} is never null")
    C.check(any(json.loads(l)["violations"] == ["S6", "S7", "S15"] for l in lines),
            "expect-417-retry-same-conn: violations [S6, S7, S15]")
    C.check(any(json.loads(l)["interim_codes"] == [103, 100] for l in lines),
            "103-then-100: interim_codes [103, 100]")


def area_rules(binary, srcdir, tmp):
    """The rules each exchange broke, in every format: NDJSON's violations and HAR's
    _violations are the exchange's own rule IDs in the order found; the HTML report
    lists, under each ladder, those and its flow's (as `show` does), with details."""
    db = corpus_db(binary, srcdir, tmp)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    own, shown = {}, {}
    for xid, rule, detail, flow_level in con.execute(
            "SELECT e.id, v.rule, v.detail, v.exchange_id IS NULL FROM exchanges e"
            " JOIN violations v ON v.exchange_id = e.id"
            "  OR (v.exchange_id IS NULL AND v.flow_id = e.flow_id) ORDER BY e.id, v.id"):
        if not flow_level:
            own.setdefault(xid, []).append(rule)
        shown.setdefault(xid, []).append((rule, detail))
    con.close()
    C.check(len(own) >= 10, f"the corpus has exchanges that break rules ({len(own)})")
    nd = {o["id"]: o["violations"] for o in
          (json.loads(l) for l in export(binary, db, "ndjson", [], tmp).decode().splitlines())}
    for xid, got in nd.items():
        C.eq(got, own.get(xid, []), f"NDJSON exchange {xid}: violations")
    har = json.loads(export(binary, db, "har", [], tmp).decode())["log"]["entries"]
    for e in har:
        C.eq(e["_violations"], own.get(e["_id"], []), f"HAR entry {e['_id']}: _violations")
    page = export(binary, db, "html", [], tmp).decode()
    ladders = re.findall(r'(<section class="ladder" id="x(\d+)".*?</section>)', page, re.S)
    C.check(len(ladders) >= 10, f"the report has ladders ({len(ladders)})")
    listed = 0
    for body, xid in ladders:
        items = re.findall(r"<li><b>([^<]*)</b>(.*?)</li>", body)
        want = shown.get(int(xid), [])
        C.eq([r for r, _ in items], [r for r, _ in want], f"HTML ladder {xid}: rules")
        for (rule, text), (_, detail) in zip(items, want):
            C.check(html.unescape(text).endswith(detail or ""),
                    f"HTML ladder {xid}: {rule} shows its detail: {text!r}")
            C.check(" RFC 911" in text, f"HTML ladder {xid}: {rule} names its RFC section")
        listed += bool(items)
    C.check(listed >= 5, f"ladders list the rules broken ({listed})")


def area_csv(binary, srcdir, tmp):
    db = corpus_db(binary, srcdir, tmp)
    raw = export(binary, db, "csv", [], tmp)
    text = raw.decode("utf-8")
    C.check(text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""),
            "CSV: every line ends with CRLF, no bare LF")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    C.eq(rows[0], NAMES, "the header row is NDJSON's member names")
    nd = [json.loads(l) for l in export(binary, db, "ndjson", [], tmp).decode().split("\n")
          if l]
    C.eq(len(rows) - 1, len(nd), "one record per exchange")
    for rec, obj in zip(rows[1:], nd):
        C.eq(len(rec), len(NAMES), f"exchange {obj['id']}: {len(NAMES)} fields")
        for name, cell in zip(NAMES, rec):
            v = obj[name]
            if v is None or v == [] and name != "flags" and name not in (
                    "interim_codes", "interim_ms"):
                C.eq(cell, "", f"exchange {obj['id']}: {name} (null) is an empty field")
                continue
            if isinstance(v, bool):
                want = "1" if v else "0"
            elif isinstance(v, list):
                want = ",".join(str(x) if not isinstance(x, float) else f"{x:.3f}"
                                for x in v) if v else ""
                if name == "interim_ms":
                    C.check(near([float(x) for x in cell.split(",")] if cell else [], v),
                            f"exchange {obj['id']}: interim_ms {cell!r} vs {v!r}")
                    continue
            elif isinstance(v, float):
                C.check(abs(float(cell) - v) < 0.0011,
                        f"exchange {obj['id']}: {name} {cell!r} vs {v!r}")
                continue
            else:
                want = str(v)
                if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
                    want = "'" + v
            C.eq(cell, want, f"exchange {obj['id']}: {name}")
    # every text field is quoted, numbers are not
    first = text.split("\r\n")[1]
    C.check(first.split(",")[0].isdigit() and '"' in first, "numbers bare, text quoted")


def filter_cases(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    server_ip, server_port = con.execute(
        "SELECT f.server_ip, f.server_port FROM exchanges e JOIN flows f ON f.id = e.flow_id"
        " GROUP BY 1, 2 ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    host = con.execute("SELECT host FROM exchanges WHERE host IS NOT NULL GROUP BY host"
                       " ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    ts = sorted(t for (t,) in con.execute("SELECT ts FROM exchanges WHERE ts IS NOT NULL"))
    mid = ts[len(ts) // 2]
    last_run = con.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    con.close()
    import datetime
    iso = datetime.datetime.fromtimestamp(mid, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        (["--verdict", "expectation_failed"], "e.verdict = 'expectation_failed'", ()),
        (["--verdict", "timeout_fallback", "--verdict", "late_100"],
         "e.verdict IN ('timeout_fallback', 'late_100')", ()),
        (["--problems"], "e.verdict NOT IN ('plain', 'continue_ok')", ()),
        (["--server", server_ip], "f.server_ip = ?", (server_ip,)),
        (["--server", f"{server_ip}:{server_port}"], "f.server_ip = ? AND f.server_port = ?",
         (server_ip, server_port)),
        (["--host", host], "e.host = ?", (host,)),
        (["--since", repr(mid)], "e.ts >= ?", (mid,)),
        (["--until", iso], "e.ts < ?", (mid,)),
        (["--since", iso, "--problems"], "e.ts >= ? AND e.verdict NOT IN ('plain',"
         " 'continue_ok')", (mid,)),
        (["--run", "3"], "e.run_id = 3", ()),
        (["--latest"], "e.run_id = ?", (last_run,)),
        (["--host", "no.such.host"], "0", ()),
    ]


def area_filters(binary, srcdir, tmp):
    db = corpus_db(binary, srcdir, tmp)
    for args, where, params in filter_cases(db):
        rows = db_rows(db, where, params)
        want = [r["id"] for r in rows]
        for fmt in FORMATS:
            data = export(binary, db, fmt, args, tmp)
            got = [int(r["id"]) for r in parse(fmt, data)]
            if fmt == "html":
                # the table holds the problem exchanges; the headline counts them all
                n = re.search(rb'data-k="exchanges" data-n="(\d+)"', data)
                C.eq(int(n.group(1)) if n else None, len(want),
                     f"--format html {' '.join(args)}: the headline's count")
                want_fmt = [r["id"] for r in rows
                            if r["verdict"] is not None and r["verdict"] not in PLAIN]
            else:
                want_fmt = want
            C.eq(got, want_fmt, f"--format {fmt} {' '.join(args)}: the exchanges, in order")
    for args, msg in (
            (["--format", "xml"], "--format: 'xml' is not"),
            ([], "export needs --format"),
            (["--format", "csv", "--verdict", "nonsense"], "no verdict is called"),
            (["--format", "csv", "--server", "10.0.0.300"], "--server: '10.0.0.300'"),
            (["--format", "csv", "--since", "02/12/2026"], "--since: '02/12/2026'"),
            (["--format", "csv", "--until", "2026-02-30"], "--until: '2026-02-30'"),
            (["--format", "csv", "--run", "2", "--latest"], "contradict"),
            (["--format", "csv", "--json"], "--json goes with")):
        r = run(binary, ["export", "--db", db] + args, tmp)
        lines = r.stderr.decode().strip().splitlines()
        C.check(r.returncode == 2 and len(lines) == 1 and msg in lines[0],
                f"export {' '.join(args)}: want exit 2 and one line with {msg!r}, got "
                f"{r.returncode} {lines}")
    r = run(binary, ["export", "--db", os.path.join(tmp, "none.db"), "--format", "csv"], tmp)
    C.check(r.returncode == 1 and len(r.stderr.decode().strip().splitlines()) == 1,
            f"a database that does not exist: exit 1, one line ({r.stderr!r})")


def area_output(binary, srcdir, tmp):
    db = corpus_db(binary, srcdir, tmp)
    for fmt in FORMATS:
        path = os.path.join(tmp, f"out.{fmt}")
        r = run(binary, ["export", "--db", db, "--format", fmt, "-o", path], tmp)
        C.eq(r.returncode, 0, f"-o {path}: exit status")
        C.eq(r.stdout, b"", f"-o {path}: nothing on standard output")
        lines = r.stderr.decode().strip().splitlines()
        C.check(len(lines) == 1 and "exchanges written to" in lines[0],
                f"-o: one line on stderr: {lines}")
        with open(path, "rb") as f:
            C.eq(f.read(), export(binary, db, fmt, [], tmp), f"-o {fmt}: same as stdout")
        r = run(binary, ["export", "--db", db, "--format", fmt, "-o", "-"], tmp)
        C.eq(r.stdout, export(binary, db, fmt, [], tmp), f"-o - is standard output ({fmt})")
    leftovers = [f for f in os.listdir(tmp) if ".tmp." in f]
    C.eq(leftovers, [], "no temporary file left behind")
    bad = os.path.join(tmp, "no", "such", "dir", "x.csv")
    r = run(binary, ["export", "--db", db, "--format", "csv", "-o", bad], tmp)
    lines = r.stderr.decode().strip().splitlines()
    C.check(r.returncode == 1 and len(lines) == 1 and bad in lines[0],
            f"-o into a missing directory: exit 1, one line naming it: {lines}")
    C.check(not os.path.exists(bad), "no file made")
    # a closed pipe: the export stops without a traceback of errors
    p = subprocess.Popen([binary, "export", "--db", db, "--format", "ndjson"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(timeout=TIMEOUT)
    C.check(len(err.strip().splitlines()) <= 1, f"head -1: at most one line on stderr: {err!r}")
    C.check(rc in (0, 1), f"head -1: exit {rc}")


def har_structure(binary, data, path, tmp, what):
    """HAR 1.2's structure, json.tool and node: the entries."""
    with open(path, "wb") as f:
        f.write(data)
    r = subprocess.run([sys.executable, "-m", "json.tool", path], capture_output=True,
                       timeout=TIMEOUT)
    C.check(r.returncode == 0, f"{what}: python3 -m json.tool: {r.stderr.decode()[-300:]}")
    doc = json.loads(data.decode("utf-8"))
    problems = har_schema.check(doc)
    for p in problems[:20]:
        C.check(False, f"{what}: HAR 1.2: {p}")
    C.check(not problems, f"{what}: HAR 1.2 structure ({len(problems)} problems)")
    log = doc["log"]
    C.eq(log["version"], "1.2", f"{what}: log.version")
    version = run(binary, ["--version"], tmp).stdout.decode().split()[-1]
    C.eq(log["creator"], {"name": "expectscope", "version": version}, f"{what}: log.creator")
    # what a browser's HAR import needs (Chromium DevTools: Network, Import HAR)
    node = shutil.which("node") or shutil.which("nodejs")
    if C.check(node, "node is installed (scripts/deps.sh test installs nodejs)"):
        r = subprocess.run([node, os.path.join(os.path.dirname(__file__), "har_load.js"), path],
                           capture_output=True, timeout=TIMEOUT)
        out = json.loads(r.stdout.decode() or "{}")
        C.check(r.returncode == 0 and out.get("entries") == len(log["entries"]),
                f"{what}: node loads every entry: {out} {r.stderr.decode()[-300:]}")
    return log["entries"]


def area_har(binary, srcdir, tmp):
    db = corpus_db(binary, srcdir, tmp)
    data = export(binary, db, "har", [], tmp)
    entries = har_structure(binary, data, os.path.join(tmp, "corpus.har"), tmp, "corpus")
    rows = har_expect.rows(db)
    C.check(len(rows) >= 40, f"the corpus has exchanges ({len(rows)})")
    C.eq([e["_id"] for e in entries], [r["id"] for r in rows],
         "an entry per exchange, in time order")
    # one entry per line after the log's head: streamed, greppable
    lines = data.decode().split("\n")
    C.eq(len(lines), len(rows) + 3, "the head, one line per entry, the end, a last LF")
    blk = har_expect.stored_blocks(db)
    for e, row in zip(entries, rows):
        har_expect.check_entry(C.check, e, row, blk.get(row["id"], {}))
    # the corpus has what each branch needs
    seen = {"captured": 0, "columns": 0, "interim headers": 0, "no final": 0,
            "absolute-form": 0, "IPv6": 0, "query": 0}
    for e in entries:
        seen[e["_headers"]] += 1
        seen["interim headers"] += any("headers" in i for i in e["_interim"])
        seen["no final"] += e["response"]["status"] == 0
        seen["absolute-form"] += "/http://" not in e["request"]["url"] and \
            e["request"]["url"].count("http://") == 1 and e["_verdict"] != "plain" and \
            any(h["name"] == "Proxy-Connection" for h in e["request"]["headers"])
        seen["IPv6"] += e["request"]["url"].startswith("http://[")
        seen["query"] += bool(e["request"]["queryString"])
    C.check(all(seen.values()), f"the corpus covers every case: {seen}")
    # a time order that a viewer's waterfall keeps
    starts = [e["startedDateTime"] for e in entries]
    C.check(starts == sorted(starts), "startedDateTime never goes back")
    # an empty export is a valid log too
    empty = export(binary, db, "har", ["--host", "no.such.host"], tmp)
    C.eq(har_structure(binary, empty, os.path.join(tmp, "empty.har"), tmp, "empty"), [],
         "an export with no exchange: entries []")


# ---- hostile bytes ---------------------------------------------------------------------

def safe_bytes(data, what, allowed):
    """Valid UTF-8, no C0 control but those allowed, no DEL, no C1 code point."""
    try:
        text = data.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        C.check(False, f"{what}: not UTF-8: {e}")
        return False
    bad = sorted({c for c in data if (c < 0x20 and c not in allowed) or c == 0x7F})
    c1 = sorted({ord(ch) for ch in text if 0x80 <= ord(ch) <= 0x9F})
    return C.check(not bad and not c1, f"{what}: raw control bytes {bad} C1 {c1}")


NDJSON_TEXT = [n for n, t in MEMBERS if t is str and n != "time"]


def area_hostile(binary, srcdir, tmp):
    pcap, db = os.path.join(tmp, "hostile.pcap"), os.path.join(tmp, "hostile.db")
    sent = hostile.write_pcap(pcap)
    r = run(binary, ["analyze", "-q", "--db", db, pcap], tmp)
    if not C.check(r.returncode == 0, f"analyze: {r.stderr.decode()[-300:]}"):
        return
    rows = har_expect.rows(db)
    blk = har_expect.stored_blocks(db)
    by_port = {r["client_port"]: r for r in rows}
    C.eq(len(rows), len(sent), "an exchange per hostile connection")

    # The hostile bytes reached the database as sent: the exports get them all.
    reached = set()
    for x in sent:
        row = by_port.get(x["client_port"])
        if not C.check(row, f"{x['name']}/{x['kind']}: stored"):
            continue
        b = blk.get(row["id"], {})
        if x["name"] == "cr":
            # a bare CR is no part of any HTTP field nor start line (RFC 9112 2.2): both
            # directions are parse errors and resync; nothing of it is stored (the
            # request target holds it as %0D, checked above for the other payloads)
            C.check(row["status"] is None and b"resync" in (row["flags"] or b""),
                    f"cr/{x['kind']}: a parse error, no answer taken: {row}")
            reached.add(x["name"])
            continue
        ok = all(C.eq(row[k], x[k], f"{x['name']}/{x['kind']}: the database's {k}")
                 for k in ("method", "uri", "host", "user_agent", "expect", "reason",
                           "server", "via"))
        if x["kind"] == "expect":
            ok &= C.eq((b.get("request"), b.get("interim"), b.get("response")),
                       (x["request_block"], x["interim_block"], x["response_block"]),
                       f"{x['name']}: the stored header blocks")
        else:
            C.eq(b, {}, f"{x['name']}/plain: no stored blocks")
        if ok:
            reached.add(x["name"])
    C.eq(sorted(reached), sorted(n for n, _ in hostile.PAYLOADS),
         "every payload reached the database")

    # NDJSON: each value decodes to the display text, and its bytes are esc_json's
    data = export(binary, db, "ndjson", [], tmp)
    safe_bytes(data, "ndjson", b"\n")
    lines = data.split(b"\n")[:-1]
    C.eq(len(lines), len(rows), "ndjson: a line per exchange")
    for line, row in zip(lines, rows):
        obj = json.loads(line)
        for name in NDJSON_TEXT:
            v = row.get(name)
            if isinstance(v, bytes):
                C.eq(obj[name], dt(v), f"ndjson {row['id']}: {name}")
                C.check(b'"%s":' % name.encode() + display.json_literal(v) in line,
                        f"ndjson {row['id']}: {name} written byte for byte as "
                        f"{display.json_literal(v)!r}")
        C.eq(obj["flags"], [dt(f) for f in row["flags"].split(b",")] if row["flags"] else [],
             f"ndjson {row['id']}: flags")

    # CSV: each cell is the display text with the formula guard, quoted, quotes doubled
    data = export(binary, db, "csv", [], tmp)
    safe_bytes(data, "csv", b"\r\n")
    C.check(data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n") == len(rows) + 1,
            "csv: CR and LF only as the record ends")
    recs = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    head = recs[0]
    for rec, line, row in zip(recs[1:], data.split(b"\r\n")[1:], rows):
        cells = dict(zip(head, rec))
        for name in NDJSON_TEXT + ["flags", "interim_codes"]:
            v = row.get(name)
            if isinstance(v, bytes):
                C.eq(cells[name], display.csv_text(v), f"csv {row['id']}: {name}")
                C.check(display.csv_field(v) in line,
                        f"csv {row['id']}: {name} written as {display.csv_field(v)!r}")
        for name in ("uri", "host", "user_agent", "expect", "reason", "server", "via"):
            cell = cells[name]
            C.check(cell[:1] not in ("=", "+", "-", "@"),
                    f"csv {row['id']}: {name} {cell!r} cannot run as a formula")
    guarded = [r for r in recs[1:] if any(c.startswith("'=") or c.startswith("'+") or
                                          c.startswith("'-") or c.startswith("'@")
                                          for c in r)]
    C.check(len(guarded) >= 8, f"csv: the formula guard was needed ({len(guarded)} records)")

    # HAR: the schema, and every value against the stored bytes (har_expect.py)
    data = export(binary, db, "har", [], tmp)
    safe_bytes(data, "har", b"\n")
    entries = har_structure(binary, data, os.path.join(tmp, "hostile.har"), tmp, "hostile")
    C.eq([e["_id"] for e in entries], [r["id"] for r in rows], "har: an entry per exchange")
    for e, row in zip(entries, rows):
        har_expect.check_entry(C.check, e, row, blk.get(row["id"], {}))
        C.check(b'"url":' + display.json_literal(har_expect.url(row)) in data,
                f"har {row['id']}: the URL written byte for byte")
        for col in ("reason", "expect"):
            if row[col] is not None:
                key = b'"statusText":' if col == "reason" else b'"_expect":'
                C.check(key + display.json_literal(row[col]) in data,
                        f"har {row['id']}: {col} written byte for byte")

    # HTML: the other formats' checks, when the report is built
    r = run(binary, ["export", "--db", db, "--format", "html"], tmp)
    C.check(r.returncode == 0, f"html: exit {r.returncode}: {r.stderr.decode()[-300:]}")
    html = r.stdout
    safe_bytes(html, "html", b"\t\n\r")
    for name, pl in hostile.PAYLOADS:
        if name == "cr":  # never stored: see above
            continue
        shown = display.html_text(pl).encode()
        if shown != pl:  # markup, quotes, controls, invalid UTF-8: never as captured
            C.check(pl not in html, f"html: the {name} payload {pl!r} appears as captured")
        C.check(shown in html, f"html: the {name} payload is shown as {shown!r}")
    C.check(display.html_text(b"<script>alert(1)</script>").encode() in html or
            b"\\u003cscript\\u003ealert(1)" in html,
            "html: the script payload is shown, escaped")


AREAS = {"har": area_har, "hostile": area_hostile, "ndjson": area_ndjson, "csv": area_csv, "filters": area_filters,
         "output": area_output, "rules": area_rules}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in AREAS:
        print(__doc__, file=sys.stderr)
        return 2
    area, binary, srcdir = sys.argv[1], os.path.abspath(sys.argv[2]), \
        os.path.abspath(sys.argv[3])
    with tempfile.TemporaryDirectory(prefix=f"expectscope-export-{area}.") as tmp:
        AREAS[area](binary, srcdir, tmp)
    print(f"{area}: {C.checks} checks, {C.failures} failed")
    return 1 if C.failures else 0


if __name__ == "__main__":
    sys.exit(main())
