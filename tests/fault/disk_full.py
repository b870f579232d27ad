#!/usr/bin/env python3
"""A full disk while analyze writes the database.

disk_full.py BINARY SRCDIR

The file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past it fails with
EFBIG as on a full disk) stops the database and its WAL from growing past 4 MiB
while analyze writes a long input. It must stop with exit 1 and one line naming the
database, and leave a database that opens, passes integrity_check, holds the rows
committed before the failure and a run row marked interrupted; with the limit lifted
a new run appends to it.
"""
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pcapfile  # noqa: E402  (tests/common/pcapfile.py)

LIMIT = 4 * 1024 * 1024


def limited():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def main():
    binary, srcdir = sys.argv[1:3]
    cap = os.path.join(srcdir, "tests", "pcap", "expect-417-retry-dupbody.pcap")
    tmp = tempfile.mkdtemp(prefix="es-full-")
    fails = []
    try:
        db = os.path.join(tmp, "full.db")
        # the long input: 4000 copies of the capture, each a minute after the one before
        # (the same file given 4000 times would be merged by time into one copy)
        header, e, recs = pcapfile.read(cap)
        long_cap = os.path.join(tmp, "long.pcap")
        with open(long_cap, "wb") as f:
            f.write(header)
            for k in range(4000):
                f.write(pcapfile.records_bytes(e, pcapfile.shifted(recs, 60 * k)))
        p = subprocess.run([binary, "analyze", "-q", "--db", db, long_cap], cwd=tmp,
                           capture_output=True, text=True, preexec_fn=limited, timeout=600)
        lines = [l for l in p.stderr.splitlines() if l]
        if p.returncode != 1:
            fails.append(f"exit {p.returncode}, want 1 (stderr {lines[-3:]})")
        if len(lines) != 1 or db not in lines[0]:
            fails.append(f"want one stderr line naming {db}, got {lines}")
        else:
            print("error line:", lines[0])
        c = sqlite3.connect(db)
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            fails.append(f"integrity_check: {ok}")
        n = c.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
        run = c.execute("SELECT interrupted, finished_at IS NOT NULL FROM runs").fetchall()
        c.close()
        print(f"committed before the failure: {n} exchanges; runs (interrupted, finished):"
              f" {run}")
        if n == 0:
            fails.append("nothing committed before the failure")
        if run and run[0][1] and not run[0][0]:
            fails.append(f"the run row says finished and not interrupted: {run}")
        q = subprocess.run([binary, "analyze", "-q", "--db", db, cap], cwd=tmp,
                           capture_output=True, text=True, timeout=120)
        if q.returncode != 0:
            fails.append(f"a run without the limit could not append: {q.stderr.strip()}")
        else:
            c = sqlite3.connect(db)
            m = c.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
            c.close()
            if m != n + 2:
                fails.append(f"after appending one run of 2 exchanges: {m}, want {n + 2}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in fails:
        print("FAIL:", f)
    print("passed" if not fails else "failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
