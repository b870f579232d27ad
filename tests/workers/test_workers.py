#!/usr/bin/env python3
"""`analyze --workers N` gives the same database for every N (issue 16).

    test_workers.py BINARY SRCDIR WORKDIR

Each capture is analysed into a fresh database with --workers 1 and with more workers,
and the databases are compared table by table (every table of sqlite_master), row by
row, in id order (rowid order for a table without id). Numeric ids may differ between
N, but not the order of the rows: each id is replaced by its rank in its table (runs,
flows, exchanges, violations: every INTEGER PRIMARY KEY id) and each column that
REFERENCES one of those (PRAGMA foreign_key_list: flow_id, exchange_id, retry_of,
front_exchange_id, ...) by the rank of the row it names (NULL stays NULL; an id naming
no row shows as "dangling"). Text that names an exchange the way path_evidence does,
"(exchange 12)", gets the rank too (headers.raw excepted: that is captured bytes).
runs.started_at and finished_at are wall-clock times and are not compared;
runs.pending_bytes_peak and ooo_bytes_peak are, with N threads, the sum of each thread's
peak (docs/options.md, --workers) of memory as the allocator holds it, recycled buffers
included (dissectors/h1.c x_cost), so they are not comparable across N, not even as
"at least": they are only checked to be there when they are with --workers 1;
runs.options records the thread count ("workers": N, checked to be N); everything
else, the other options included, must be equal. The exit status must be equal too.
docs/options.md also promises the ids themselves equal for any N: that is checked too
(IDS_EQUAL), after the rows, with its own message.
No case reaches a limit (--max-flows, --ooo-cap-mb, --pending-cap-mb): each thread gets
1/N of each, so a capture that reaches one may give other results with another N.

- The corpus: tests/pcap (with snaplen/ and paths/, the paths captures with and without
  --proxy), tests/rules, tests/framing, the hand-made captures of tests/rules/handmade.py,
  two captures given at once, and every FUZZ_STRIDE-th file of tests/fuzz/corpus/pcap
  (hostile, often cut short; ES_WORKERS_FUZZ_STRIDE=1 for all): N = 1, 2, 4.
- retry417.py's capture: 48 417s each retried on a new connection (client port), so some
  retry lands on another worker than its 417 unless the hash is broken (chance 2^-48):
  N = 1, 2, 3, 4, 64. Every /up/K retry must be retry_after_417 with retry_of naming
  its 417, the 31-s-late and other-length repeats unlinked; also split in two files
  (the 417s' connections, the rest) given at once.
- Times (timing.py), N = 1, 2, 3, 4: retry417's capture and one of gen-http-pcap.py
  with every time cut to 10 ms (ties across connections) and with times stepping back
  by up to 50 us; idle connections timing out (--tcp-timeout 2, at least 30 timeouts
  and 30 retry links with --workers 1) and their 4-tuples used again; and three runs
  appended to one database (ids go on from the runs before).
- A large capture: $ES_WORKERS_BIG, else SRCDIR/bench/out/bench-1g.pcap when it is
  there, else the benchmark capture made afresh at 32 MiB (bench/make-capture.sh: real
  servers and clients in namespaces; as root), else one of about 100k packets written
  by bench/gen-http-pcap.py: N = 1, 2, 4.
- --workers 0, 65, "two" and -1 are refused (exit 2) and write no run.

Before all that the comparison checks itself: the retry417 database with its ids
renumbered (order kept) must compare equal, and the same with one retry_of moved must
not. ES_WORKERS_SIMULATE=1 runs the whole script with N > 1 simulated that way (no
--workers passed), to check the script and not the binary.

Exit 0 when every check passed, 1 otherwise, 77 (skipped) when the sqlite3 module is
missing.
"""
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys

try:
    import sqlite3
except ImportError:  # pragma: no cover
    print("SKIP: no sqlite3 module")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rules"))
import handmade  # noqa: E402
import retry417  # noqa: E402
import timing  # noqa: E402

PROXY = "10.231.1.2,10.231.2.1"  # as tests/pcap/paths/check_paths.py
WORKERS = (1, 2, 4)
WORKERS_RETRY = (1, 2, 3, 4, 64)
FUZZ_STRIDE = int(os.environ.get("ES_WORKERS_FUZZ_STRIDE", "8"))  # 1: all 491
WALL_CLOCK = {("runs", "started_at"), ("runs", "finished_at")}
IDS_EQUAL = True  # docs/options.md: "the database rows, ids included, are the same"
SUM_OF_PEAKS = {("runs", "pending_bytes_peak"), ("runs", "ooo_bytes_peak")}  # present
NOT_REWRITTEN = {"headers"}  # captured bytes: never rewrite "(exchange N)" in them
EXCHANGE_REF = re.compile(r"\(exchange (\d+)\)")
TIMEOUT = 600
SHOW_ROWS = 3  # differing rows printed per table
# ES_WORKERS_SIMULATE=1 checks this script without the feature: N > 1 runs without
# --workers and renumbers the ids of its database (what N may change), so every
# comparison must pass except the refusals.
SIMULATE = os.environ.get("ES_WORKERS_SIMULATE") == "1"

failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", what, flush=True)
    return ok


def fresh(db):
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)


def analyze(exe, files, db, n, extra=()):
    """(exit status, stderr) of analyze --workers n into a fresh db."""
    fresh(db)
    args = [exe, "analyze", "-q", "--db", db] + list(extra)
    if n is not None:
        args += ["--workers", str(n)]
    if SIMULATE:
        args = args[:-2]
    r = subprocess.run(args + list(files), capture_output=True, text=True,
                       timeout=TIMEOUT)
    if SIMULATE and n != 1 and os.path.exists(db):
        renumber(db, n + 1, 1000 * n)
    return r.returncode, r.stderr


def analyze_runs(exe, runs, db, n):
    """Several analyze runs into one database, in order: (exit statuses, stderr)."""
    fresh(db)
    rcs, errs = [], []
    for files, extra in runs:
        args = [exe, "analyze", "-q", "--db", db] + list(extra)
        if not SIMULATE:
            args += ["--workers", str(n)]
        r = subprocess.run(args + list(files), capture_output=True, text=True,
                           timeout=TIMEOUT)
        rcs.append(r.returncode)
        errs.append(r.stderr)
    if SIMULATE and n != 1 and os.path.exists(db):
        renumber(db, n + 1, 1000 * n)
    return tuple(rcs), "".join(errs)


# ------------------------------------------------------------------ the comparison

class Shape:
    """What the comparison needs to know of one database."""

    def __init__(self, con):
        self.tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        self.cols, self.ref, self.has_id = {}, {}, {}
        for t in self.tables:
            info = con.execute("PRAGMA table_info(%s)" % q(t)).fetchall()
            self.cols[t] = [r[1] for r in info]
            self.has_id[t] = any(r[1] == "id" and r[5] == 1 and
                                 r[2].upper() == "INTEGER" for r in info)
            self.ref[t] = {r[3]: r[2] for r in
                           con.execute("PRAGMA foreign_key_list(%s)" % q(t))}
        # rank of every id in its table, for each table with an id that is referenced
        # or has an id of its own
        self.rank = {}
        for t in self.tables:
            if self.has_id[t]:
                self.rank[t] = {i: k for k, (i,) in
                                enumerate(con.execute("SELECT id FROM %s ORDER BY id" % q(t)))}


def connect(db):
    con = sqlite3.connect(db)
    # captured bytes need not be UTF-8: compare them exactly all the same
    con.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    return con


def q(name):
    return '"%s"' % name.replace('"', '""')


def canon_value(shape, table, col, v):
    if v is None:
        return None
    if col == "id" and shape.has_id[table]:
        return ("#", shape.rank[table][v])
    target = shape.ref[table].get(col)
    if target is not None:
        r = shape.rank.get(target, {}).get(v)
        return ("#", r) if r is not None else ("dangling", target)
    if isinstance(v, str) and table not in NOT_REWRITTEN and "(exchange " in v:
        ranks = shape.rank.get("exchanges", {})

        def sub(m):
            r = ranks.get(int(m.group(1)))
            return "(exchange #%s)" % (r if r is not None else "dangling")
        return EXCHANGE_REF.sub(sub, v)
    return v


def without_workers(options):
    try:
        o = json.loads(options)
    except (TypeError, ValueError):
        return options
    o.pop("workers", None)
    return o


def recorded_workers(db):
    """runs.options' workers of every run."""
    con = sqlite3.connect(db)
    try:
        return [json.loads(o).get("workers") for (o,) in con.execute(
            "SELECT options FROM runs ORDER BY id")]
    finally:
        con.close()


def show(v, width=100):
    s = repr(v)
    return s if len(s) <= width else s[:width] + "...(%d chars)" % len(s)


def differ(table, col, one, this):
    if (table, col) == ("runs", "options"):
        # the thread count is recorded (checked by finish()); every other option is equal
        return without_workers(one) != without_workers(this)
    if (table, col) in SUM_OF_PEAKS:
        # with N = 2, tests/pcap/paths/apache-no100.pcap gives 3952 against 4288: each
        # thread recycles its own exchanges, whose kept buffers are charged
        return (one is None) != (this is None)
    return one != this


def compare(ref_db, db, what, ids_equal=False):
    """Messages, one per difference found (at most SHOW_ROWS rows per table); with
    ids_equal, rows equal up to their ids must have equal ids too."""
    out = []
    a, b = connect(ref_db), connect(db)
    try:
        sa, sb = Shape(a), Shape(b)
        if sa.tables != sb.tables:
            return ["%s: tables %s, with --workers 1 %s" % (what, sb.tables, sa.tables)]
        for t in sa.tables:
            if sa.cols[t] != sb.cols[t]:
                out.append("%s: table %s has columns %s, with --workers 1 %s"
                           % (what, t, sb.cols[t], sa.cols[t]))
                continue
            cols = sa.cols[t]
            skip = {c for c in cols if (t, c) in WALL_CLOCK}
            order = "id" if sa.has_id[t] else "rowid"
            sql = "SELECT %s, %s FROM %s ORDER BY %s" % (
                order, ", ".join(q(c) for c in cols), q(t), order)
            ca, cb = a.execute(sql), b.execute(sql)
            row, shown, ndiff = 0, 0, 0
            idcols = [i for i, c in enumerate(cols)
                      if (c == "id" and sa.has_id[t]) or c in sa.ref[t]]
            id_diff = None  # the first row whose ids differ in value only
            while True:
                ra, rb = ca.fetchone(), cb.fetchone()
                if ra is None or rb is None:
                    if ra is not None or rb is not None:
                        na = row + (ra is not None) + len(ca.fetchall())
                        nb = row + (rb is not None) + len(cb.fetchall())
                        out.append("%s: table %s has %d rows, with --workers 1 %d"
                                   % (what, t, nb, na))
                    break
                diff = [c for i, c in enumerate(cols) if c not in skip and
                        differ(t, c, canon_value(sa, t, c, ra[i + 1]),
                               canon_value(sb, t, c, rb[i + 1]))]
                if diff:
                    ndiff += 1
                    if shown < SHOW_ROWS:
                        shown += 1
                        lines = ["%s: table %s, row %d (in %s order; %s %s here, %s with "
                                 "--workers 1) differs in %s:" % (what, t, row, order, order,
                                                                  rb[0], ra[0], ", ".join(diff))]
                        for c in diff:
                            i = cols.index(c) + 1
                            lines.append("      %-18s --workers 1: %s (canonical %s)"
                                         % (c, show(ra[i]), show(canon_value(sa, t, c, ra[i]))))
                            lines.append("      %-18s this run:    %s (canonical %s)"
                                         % ("", show(rb[i]), show(canon_value(sb, t, c, rb[i]))))
                        lines.append("      --workers 1 row: " + show(dict(zip(cols, ra[1:])), 400))
                        lines.append("      this run's row:  " + show(dict(zip(cols, rb[1:])), 400))
                        out.append("\n".join(lines))
                elif ids_equal and id_diff is None and \
                        any(ra[i + 1] != rb[i + 1] for i in idcols):
                    id_diff = "%s: table %s, row %d: the same row up to its ids, but the ids " \
                              "differ (docs/options.md promises them equal): %s with " \
                              "--workers 1, %s here" % (
                                  what, t, row, [(cols[i], ra[i + 1]) for i in idcols],
                                  [(cols[i], rb[i + 1]) for i in idcols])
                row += 1
            if id_diff and not ndiff:
                out.append(id_diff)
            if ndiff > shown:
                out.append("%s: table %s: %d differing rows in all (%d shown)"
                           % (what, t, ndiff, shown))
    finally:
        a.close()
        b.close()
    return out


def renumber(db, mult, add):
    """Every id of the database moved to id * mult + add (order kept), the references
    and "(exchange N)" texts with it: what another N may legitimately write."""
    con = connect(db)
    s = Shape(con)
    new = lambda v: v * mult + add  # noqa: E731
    for t in s.tables:
        if s.has_id[t]:
            con.execute("UPDATE %s SET id = -(id * ? + ?)" % q(t), (mult, add))
            con.execute("UPDATE %s SET id = -id" % q(t))
        for col, target in s.ref[t].items():
            if s.has_id.get(target):
                con.execute("UPDATE %s SET %s = %s * ? + ? WHERE %s IS NOT NULL"
                            % (q(t), q(col), q(col), q(col)), (mult, add))
        if t in NOT_REWRITTEN:
            continue
        for col in s.cols[t]:
            rows = con.execute("SELECT rowid, %s FROM %s WHERE %s LIKE '%%(exchange %%'"
                               % (q(col), q(t), q(col))).fetchall()
            for rowid, v in rows:
                v = EXCHANGE_REF.sub(lambda m: "(exchange %d)" % new(int(m.group(1))), v)
                con.execute("UPDATE %s SET %s = ? WHERE rowid = ?" % (q(t), q(col)),
                            (v, rowid))
    con.commit()
    con.close()


def self_check(ref_db, work):
    """The comparison sees through renumbered ids, and sees a moved link."""
    copy = os.path.join(work, "selfcheck.db")
    shutil.copy(ref_db, copy)
    renumber(copy, 3, 1000)
    con = sqlite3.connect(copy)
    moved = con.execute("SELECT COUNT(*) FROM exchanges WHERE id < 1000").fetchone()[0]
    con.close()
    check(moved == 0, "self-check: renumber left %d exchange ids" % moved)
    msgs = compare(ref_db, copy, "self-check (renumbered)")
    check(not msgs, "self-check: renumbered ids compare unequal:\n" + "\n".join(msgs))
    con = sqlite3.connect(copy)
    con.execute("UPDATE exchanges SET retry_of = (SELECT MIN(id) FROM exchanges)"
                " WHERE id = (SELECT MAX(id) FROM exchanges WHERE retry_of IS NOT NULL)")
    con.commit()
    con.close()
    msgs = compare(ref_db, copy, "self-check (moved link)")
    check(len(msgs) == 1 and "table exchanges" in msgs[0] and "retry_of" in msgs[0],
          "self-check: a moved retry_of is not reported as one exchanges row: %s" % msgs)
    fresh(copy)


# ------------------------------------------------------------------ the cases

def corpus_cases(src, work):
    """(name, files, extra options) of every capture of the corpus."""
    t = os.path.join(src, "tests")
    cases = []
    pcaps = sorted(set(glob.glob(os.path.join(t, "pcap", "**", "*.pcap"), recursive=True) +
                       glob.glob(os.path.join(t, "pcap", "**", "*.pcapng"), recursive=True)))
    for p in pcaps:
        name = os.path.relpath(p, t)
        cases.append((name, [p], []))
        if os.sep + "paths" + os.sep in p:
            cases.append((name + " --proxy", [p], ["--proxy", PROXY]))
    for d in ("rules", "framing"):
        for p in sorted(glob.glob(os.path.join(t, d, "*.pcap"))):
            cases.append((os.path.relpath(p, t), [p], []))
    for name, p in sorted(handmade.write_all(os.path.join(work, "handmade")).items()):
        cases.append(("handmade " + name, [p], []))
    two = [os.path.join(t, "pcap", "expect-417-retry.pcap"),
           os.path.join(t, "pcap", "curl-417-no-retry.pcap")]
    cases.append(("two captures at once: expect-417-retry + curl-417-no-retry", two, []))
    two = [os.path.join(t, "pcap", "paths", "haproxy-417.pcap"),
           os.path.join(t, "pcap", "retry-417-twice.pcap")]
    cases.append(("two captures at once: paths/haproxy-417 + retry-417-twice --proxy", two,
                  ["--proxy", PROXY]))
    fuzz = sorted(glob.glob(os.path.join(t, "fuzz", "corpus", "pcap", "*")))
    for p in fuzz[::FUZZ_STRIDE]:
        cases.append(("fuzz " + os.path.basename(p)[:12], [p], []))
    return cases


def big_capture(src, work):
    p = os.environ.get("ES_WORKERS_BIG") or os.path.join(src, "bench", "out", "bench-1g.pcap")
    if os.path.exists(p):
        return p
    # The benchmark capture made the same way, smaller: real nginx, Python and Node
    # servers and curl clients in namespaces (bench/make-capture.sh, about 10 s for one
    # round of ~880 connections). Where namespaces cannot be made, a synthetic one.
    p = os.path.join(work, "bench-32m.pcap")
    if os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "nginx", "node", "curl",
                                                           "tcpdump")):
        r = subprocess.run(["bash", os.path.join(src, "bench", "make-capture.sh"), p, "32"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        if r.returncode == 0 and os.path.exists(p):
            print("large capture: bench/make-capture.sh %s 32 (%d bytes)"
                  % (os.path.basename(p), os.path.getsize(p)))
            return p
        print("note: bench/make-capture.sh failed (exit %d: %s); a synthetic capture instead"
              % (r.returncode, r.stderr.strip().splitlines()[-1:] if r.stderr else ""))
    else:
        print("note: not root or no ip/nginx/node/curl/tcpdump: no real benchmark capture; "
              "a synthetic one (bench/gen-http-pcap.py) instead")
    p = os.path.join(work, "gen-100k.pcap")
    r = subprocess.run([sys.executable, os.path.join(src, "bench", "gen-http-pcap.py"),
                        "--exchanges", "18000", "--concurrency", "200", "-o", p],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if not check(r.returncode == 0, "gen-http-pcap.py exited %d: %s"
                 % (r.returncode, r.stderr[-500:])):
        return None
    return p


class Runner:
    """Runs the analyses two at a time; compares each case's databases in order."""

    def __init__(self, exe, work):
        self.exe, self.work = exe, work
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        self.serial = 0

    def submit(self, name, files, extra, counts, runs=None):
        """With runs, a list of (files, extra): those analyze runs into one database."""
        self.serial += 1
        base = os.path.join(self.work, "db", "%04d" % self.serial)
        jobs = []
        for n in counts:
            db = "%s.w%d.db" % (base, n)
            if runs:
                fut = self.pool.submit(analyze_runs, self.exe, runs, db, n)
            else:
                fut = self.pool.submit(analyze, self.exe, files, db, n, extra)
            jobs.append((n, db, fut))
        return name, jobs

    def finish(self, case, keep=False):
        """Compares; returns {n: db} of the databases (removed unless keep)."""
        name, jobs = case
        res = {n: (db, fut.result()) for n, db, fut in jobs}
        ref_db, (ref_rc, ref_err) = res[1]
        ok = True
        if "unknown option" in ref_err and "--workers" in ref_err:
            check(False, "%s: analyze does not take --workers: %s" % (name, ref_err.strip()))
            ok = False
            res = {}
        if res and not SIMULATE and os.path.exists(ref_db):
            rec = recorded_workers(ref_db)
            if not check(all(w == 1 for w in rec),
                         "%s --workers 1: runs.options records workers %s" % (name, rec)):
                ok = False
        for n, (db, (rc, err)) in res.items():
            if n == 1:
                continue
            what = "%s --workers %d" % (name, n)
            if not check(rc == ref_rc, "%s: exit %s, with --workers 1 exit %s\n"
                         "      stderr here: %s\n      with --workers 1: %s"
                         % (what, rc, ref_rc, err.strip()[-300:], ref_err.strip()[-300:])):
                ok = False
                continue
            if not os.path.exists(ref_db) and not os.path.exists(db):
                continue  # refused before opening a database, for every N
            msgs = compare(ref_db, db, what, IDS_EQUAL and not SIMULATE)
            if not SIMULATE and os.path.exists(db):
                rec = recorded_workers(db)
                if any(w != n for w in rec):
                    msgs.append("%s: runs.options records workers %s" % (what, rec))
            for m in msgs:
                check(False, m)
            ok = ok and not msgs
        if not keep:
            for n, db, _ in jobs:
                fresh(db)
        return ok, {n: db for n, db, _ in jobs}


def check_retries(db, what):
    """The links of retry417.py's capture."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT e.id, e.uri, f.client_port, e.verdict, e.retry_of"
                       " FROM exchanges e JOIN flows f ON f.id = e.flow_id").fetchall()
    n_verdict, n_linked = con.execute(
        "SELECT SUM(verdict = 'retry_after_417'), COUNT(retry_of) FROM exchanges").fetchone()
    con.close()
    by = {(uri, port): (eid, verdict, rof) for eid, uri, port, verdict, rof in rows}
    bad = []
    port = 41000
    for k in range(retry417.SIMPLE):
        first = by.get(("/up/%d" % k, port))
        again = by.get(("/up/%d" % k, port + 1))
        if not first or not again or first[1] != "expectation_failed" or \
                again[1] != "retry_after_417" or again[2] != first[0]:
            bad.append("/up/%d: the 417 %s, the retry %s" % (k, first, again))
        port += 2
    check(not bad, "%s: %d of %d retries on a new connection not linked to their 417 "
          "(exchange id, verdict, retry_of): %s" % (what, len(bad), retry417.SIMPLE, bad[:5]))
    check(n_verdict == n_linked and n_linked >= retry417.RETRIES,
          "%s: %s retry_after_417 exchanges, %s with retry_of; want as many, at least %d"
          % (what, n_verdict, n_linked, retry417.RETRIES))
    unlinked = [(uri, v, r) for (uri, _), (_, v, r) in by.items()
                if uri.startswith(("/late/", "/len/", "/get/")) and r is not None]
    check(not unlinked, "%s: linked though not retries: %s" % (what, unlinked))


def check_refusals(exe, pcap, work):
    db = os.path.join(work, "refused.db")
    for bad in ("0", "65", "two", "-1"):
        fresh(db)
        r = subprocess.run([exe, "analyze", "-q", "--db", db, "--workers", bad, pcap],
                           capture_output=True, text=True, timeout=TIMEOUT)
        check(r.returncode == 2 and "--workers" in r.stderr,
              "analyze --workers %s: exit %d (want 2, a message naming --workers): %s"
              % (bad, r.returncode, r.stderr.strip()))
        runs = 0
        if os.path.exists(db):
            con = sqlite3.connect(db)
            try:
                runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            except sqlite3.Error:
                runs = 0
            con.close()
        check(runs == 0, "analyze --workers %s wrote %d runs" % (bad, runs))
    fresh(db)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    exe, src, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "db"))
    run = Runner(exe, work)

    # retry417 first: the self-check needs its --workers 1 database
    w, first, rest = retry417.write(os.path.join(work, "retry417"))
    case = run.submit("retry417.pcap", [w], [], WORKERS_RETRY)
    split = run.submit("retry417 as two files", [first, rest], [], WORKERS)
    ok, dbs = run.finish(case, keep=True)
    if not ok and not os.path.exists(dbs.get(1, "")):
        print("workers: %d checks, %d failed" % (checks, failures))
        return 1
    self_check(dbs[1], work)
    for n, db in sorted(dbs.items()):
        if os.path.exists(db):
            check_retries(db, "retry417.pcap --workers %d" % n)
        fresh(db)
    run.finish(split)
    print("retry417: %d retries on new connections, --workers %s: %s"
          % (retry417.SIMPLE, ",".join(map(str, WORKERS_RETRY)),
             "identical" if ok else "DIFFERENT"), flush=True)

    # times: ties across connections, steps back, idle timeouts; runs appended
    tdir = os.path.join(work, "timing")
    os.makedirs(tdir)
    gen = os.path.join(tdir, "gen-2k.pcap")
    r = subprocess.run([sys.executable, os.path.join(src, "bench", "gen-http-pcap.py"),
                        "--exchanges", "2000", "--concurrency", "100", "-o", gen],
                       capture_output=True, text=True, timeout=TIMEOUT)
    check(r.returncode == 0, "gen-http-pcap.py exited %d: %s" % (r.returncode, r.stderr))
    tcases = [("retry417 as " + os.path.basename(p), [p], [])
              for p in timing.variants(w, tdir)]
    if r.returncode == 0:
        tcases += [("gen-http-pcap 2000 as " + os.path.basename(p), [p], [])
                   for p in timing.variants(gen, tdir)]
    idle = timing.idle(tdir)
    tcases.append(("idle.pcap --tcp-timeout %d" % timing.TIMEOUT_S, [idle],
                   ["--tcp-timeout", str(timing.TIMEOUT_S)]))
    pending = [run.submit(name, files, extra, WORKERS_RETRY[:4])
               for name, files, extra in tcases]
    t = os.path.join(src, "tests", "pcap")
    appended = [([os.path.join(t, "expect-417-retry.pcap")], []), ([w], []),
                ([os.path.join(t, "paths", "haproxy-417.pcap")], ["--proxy", PROXY])]
    pending.append(run.submit("three runs appended to one database", None, None,
                              WORKERS_RETRY[:4], runs=appended))
    same = 0
    for c in pending:
        ok, dbs = run.finish(c, keep=c[0].startswith("idle"))
        same += ok
        if c[0].startswith("idle"):
            con = sqlite3.connect(dbs[1])
            to, links = con.execute(
                "SELECT (SELECT COUNT(*) FROM flows WHERE end_reason = 'timeout'),"
                " (SELECT COUNT(retry_of) FROM exchanges)").fetchone()
            con.close()
            check(to >= 30 and links == 30, "idle.pcap --workers 1: %d flows timed out "
                  "(want 30 or more), %d retry links (want 30)" % (to, links))
            for db in dbs.values():
                fresh(db)
    print("times and appended runs: %d of %d cases identical with --workers %s"
          % (same, len(pending), ",".join(map(str, WORKERS_RETRY[:4]))), flush=True)

    cases = corpus_cases(src, work)
    pending = [run.submit(name, files, extra, WORKERS) for name, files, extra in cases]
    same = 0
    for c in pending:
        ok, _ = run.finish(c)
        same += ok
    print("corpus: %d of %d cases identical with --workers %s"
          % (same, len(cases), ",".join(map(str, WORKERS))), flush=True)

    big = big_capture(src, work)
    if big:
        ok, _ = run.finish(run.submit(os.path.basename(big), [big], [], WORKERS))
        print("large capture %s (%d bytes): %s" % (big, os.path.getsize(big),
                                                   "identical" if ok else "DIFFERENT"),
              flush=True)

    check_refusals(exe, w, work)
    run.pool.shutdown()
    print("workers: %d checks, %d failed" % (checks, failures))
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
