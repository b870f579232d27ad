#!/usr/bin/env python3
"""The allocation-failure loop (STYLE.md section 8, after SQLite's OOM tests).

oom_loop.py FAULTS_BINARY SRCDIR AREA

FAULTS_BINARY is expectscope-faults (tests/fault/alloc_shim.c). For each allocation N a
run goes through, the Nth fails (once, and in a second pass from N on), and the run
must end cleanly: exit 0 (the failure was absorbed and counted) or exit 1 with one
line on stderr; no sanitizer report, no crash, no leak; the database, when there is
one, passes PRAGMA integrity_check and a normal run can append to it afterwards.

AREA ours      every one of expectscope's own allocation sites, with and without a
               database, with two analysis threads (--workers 2: which thread's
               allocation is the Nth varies from run to run), and for the flows command
AREA sqlite    SQLite's allocations, sampled evenly (every one of the first 60, then
               about 120 spread over the rest), on a new and on an existing database
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

CAPTURES = ["expect-417-retry.pcap", "gap-body.pcap", "103-then-100.pcap"]
failures = []


def run(binary, args, cwd, env_extra):
    env = dict(os.environ, **env_extra)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return subprocess.run([binary] + args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def counts(binary, args, cwd):
    p = run(binary, args, cwd, {"ES_ALLOC_REPORT": "1"})
    line = [l for l in p.stderr.splitlines() if l.startswith("allocations:")][-1]
    ours, lite = map(int, line.split()[1:])
    return p.returncode, ours, lite


def check(label, p, db):
    lines = [l for l in p.stderr.splitlines() if l and not l.startswith("allocations:")]
    problems = []
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        problems.append("sanitizer report:\n" + p.stderr[-3000:])
    elif p.returncode == 1:
        if len(lines) != 1 or not lines[0].startswith("expectscope: "):
            problems.append(f"exit 1 needs one 'expectscope:' line, got {lines}")
    elif p.returncode != 0:
        problems.append(f"exit {p.returncode}: {lines[-3:]}")
    if db and os.path.exists(db) and os.path.getsize(db) > 0:
        try:
            c = sqlite3.connect(db)
            ok = c.execute("PRAGMA integrity_check").fetchone()[0]
            c.close()
            if ok != "ok":
                problems.append(f"integrity_check: {ok}")
        except sqlite3.DatabaseError as e:
            problems.append(f"database does not open: {e}")
    if problems:
        failures.append(f"{label}: " + "; ".join(problems))
        print(f"FAIL {label}: " + "; ".join(problems)[:2000])


def loop(binary, base_args, tmp, who, points, db_template, label, persist_too=True):
    db = os.path.join(tmp, "x.db")
    for n in points:
        for persist in ("0", "1") if persist_too else ("0",):
            for f in (db, db + "-wal", db + "-shm"):
                if os.path.exists(f):
                    os.remove(f)
            if db_template:
                shutil.copy(db_template, db)
            args = [a.replace("@DB@", db) for a in base_args]
            p = run(binary, args, tmp,
                    {"ES_FAIL_AT": str(n), "ES_FAIL_WHO": who, "ES_FAIL_PERSIST": persist})
            check(f"{label} N={n}{' and after' if persist == '1' else ''}", p,
                  db if "@DB@" in " ".join(base_args) else None)
            if "@DB@" in " ".join(base_args) and os.path.exists(db) and not failures:
                # the database must still take a normal run
                q = run(binary, args, tmp, {})
                if q.returncode != 0:
                    failures.append(f"{label} N={n}: a normal run after it failed: "
                                    f"{q.stderr.strip()[-500:]}")
    print(f"{label}: {len(points)} allocation points checked")


def sample(total, exhaustive=60, spread=120):
    pts = list(range(1, min(total, exhaustive) + 1))
    if total > exhaustive:
        step = max(1, (total - exhaustive) // spread)
        pts += list(range(exhaustive + 1, total + 1, step))
    return pts


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("ours", "sqlite"):
        print(__doc__, file=sys.stderr)
        return 2
    binary, srcdir, area = sys.argv[1:]
    caps = [os.path.join(srcdir, "tests", "pcap", c) for c in CAPTURES]
    tmp = tempfile.mkdtemp(prefix="es-oom-")
    try:
        with_db = ["analyze", "-q", "--again", "--db", "@DB@"] + caps
        template = os.path.join(tmp, "template.db")
        rc, _, _ = counts(binary, ["analyze", "-q", "--db", template] + caps, tmp)
        if rc != 0:
            print("FAIL: a run without injected failures did not succeed")
            return 1
        if area == "ours":
            for args, label in ((with_db, "analyze --db (new)"),
                                (["analyze", "-q", "--no-db", "--list"] + caps, "analyze --no-db"),
                                (with_db[:1] + ["--workers", "2"] + with_db[1:],
                                 "analyze --db --workers 2 (new)"),
                                (["flows", "-q"] + caps, "flows"),
                                (["report", "--db", template], "report"),
                                (["report", "--json", "--db", template], "report --json")):
                fresh = [a.replace("@DB@", os.path.join(tmp, "count.db")) for a in args]
                _, ours, _ = counts(binary, fresh, tmp)
                loop(binary, args, tmp, "ours", list(range(1, ours + 1)), None, label)
        else:
            _, _, lite_new = counts(binary, [a.replace("@DB@", os.path.join(tmp, "n.db"))
                                             for a in with_db], tmp)
            loop(binary, with_db, tmp, "sqlite", sample(lite_new), None,
                 "analyze --db (new), SQLite", persist_too=False)
            shutil.copy(template, os.path.join(tmp, "e.db"))
            _, _, lite_old = counts(binary, [a.replace("@DB@", os.path.join(tmp, "e.db"))
                                             for a in with_db], tmp)
            loop(binary, with_db, tmp, "sqlite", sample(lite_old), template,
                 "analyze --db (existing), SQLite", persist_too=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
