#!/usr/bin/env python3
"""expectscope export against the database it reads.

  test_export.py AREA BINARY SRCDIR

AREA is one of:
  ndjson   every exchange of the real-traffic corpus (one run per capture): one valid
           JSON object per line, members in docs/export.md's order with its types, and
           each value equal to the database's (read with Python's sqlite3).
  csv      RFC 4180 as Python's csv module reads it: the header is NDJSON's member
           names, each record the same values as the NDJSON line.
  filters  every filter (--verdict, --problems, --server, --host, --since, --until,
           --run, --latest, together) keeps exactly the rows the same SQL WHERE keeps,
           in every built format; refusals are one line with exit 2.
  output   -o FILE: the file appears whole (a temporary name, then rename), one line on
           stderr; a directory that does not exist is one line, exit 1, and no file.

Exit 0 when every check passed, 1 otherwise.
"""
import csv
import glob
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

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
]
NAMES = [m for m, _ in MEMBERS]
FLOW_COLS = {"client_ip", "client_port", "server_ip", "server_port", "vlan", "l7_protocol"}
FORMATS = ["ndjson", "csv"]


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
        " f.l7_protocol, f.end_reason AS flow_end_reason, f.verdict AS flow_verdict"
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
        elif name == "flags":
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
    for name in ("interim_codes", "flags", "interim_ms"):
        C.check(all(json.loads(l)[name] is not None for l in lines), f"{name} is never null")
    C.check(any(json.loads(l)["interim_codes"] == [103, 100] for l in lines),
            "103-then-100: interim_codes [103, 100]")


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
        want = [r["id"] for r in db_rows(db, where, params)]
        for fmt in FORMATS:
            got = [int(r["id"]) for r in parse(fmt, export(binary, db, fmt, args, tmp))]
            C.eq(got, want, f"--format {fmt} {' '.join(args)}: the exchanges, in order")
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


AREAS = {"ndjson": area_ndjson, "csv": area_csv, "filters": area_filters,
         "output": area_output}


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
