#!/usr/bin/env python3
"""Hostile and odd wire input, end to end (issue 15), on the captures of wirecaps.py.

  test_wire.py BINARY WORKDIR

- One packet cannot blind reassembly: a forged ACK, a RST far outside the window
  (scaled or not), impossible flag mixes and FIN/RST debris before the handshake leave
  the exchange after them continue_ok with no flag, and are counted in runs.bad_acks,
  bad_rsts, bad_flags (analyze's summary and `report` show them).
- Time: classic pcap seconds past 2^31 (2040, and a connection crossing 2038-01-19)
  give the right times and durations; a capture without times (all 0, some 0, pcapng
  simple packet blocks) still gives continue_ok from capture order, with the durations
  it cannot know NULL; odd if_tsresol values are scaled, or refused in one line.
- A capture libpcap cannot read part-way (a huge record, a huge pcapng block, a
  section of the other byte order, an undefined interface) ends the run truncated,
  exit 0, the exchange before the break stored, one warning line naming the file.
- SIGHUP during analyze leaves the run interrupted (exit 129); a SIGKILLed run shows
  as never finished in `report`.

Exit 0 when every check passed, 1 otherwise.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wirecaps  # noqa: E402

BIN, WORK = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def analyze(name, *extra):
    db = os.path.join(WORK, name + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    r = subprocess.run([BIN, "analyze", "--db", db, *extra, os.path.join(WORK, name)],
                       capture_output=True, text=True, timeout=60)
    return r, db


def rows(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def near(a, b, eps):
    return a is not None and abs(a - b) <= eps


EX = "SELECT verdict, flags, ts, wait_ms, continue_ms, final_ms FROM exchanges"
RUN = ("SELECT bad_acks, bad_rsts, bad_flags, tcp_flows, truncated, interrupted"
       " FROM runs")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    for name, data in wirecaps.cases().items():
        with open(os.path.join(WORK, name), "wb") as f:
            f.write(data)

    # 1. one packet cannot blind reassembly
    want = {"blind-ack.pcap": (1, 0, 0), "blind-rst.pcap": (0, 1, 0),
            "blind-rst-scaled.pcap": (0, 1, 0), "blind-flags.pcap": (0, 0, 6),
            "blind-synfin.pcap": (0, 0, 1)}
    for name, counts in want.items():
        r, db = analyze(name)
        check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr}")
        ex = rows(db, EX)
        check(len(ex) == 1 and ex[0][0] == "continue_ok" and not ex[0][1],
              f"{name}: exchanges {ex}, want one continue_ok without flags")
        check(len(ex) == 1 and near(ex[0][4], 5.0, 0.01) and near(ex[0][5], 8.0, 0.01),
              f"{name}: continue_ms, final_ms {ex}")
        run = rows(db, RUN)[0]
        check(run[:3] == counts, f"{name}: bad_acks, bad_rsts, bad_flags {run[:3]}, "
                                 f"want {counts}")
        check(run[3] == 1, f"{name}: tcp_flows {run[3]}, want 1")
        check("could have blinded reassembly" in r.stdout,
              f"{name}: the summary does not say so:\n{r.stdout}")
        rep = subprocess.run([BIN, "report", "--db", db], capture_output=True, text=True)
        check("blind reassembly" in rep.stdout and "bad_acks" in rep.stdout,
              f"{name}: report has no wire section:\n{rep.stdout}")

    # 2. time
    for name, start in (("time-2040.pcap", 2209075200.010), ("time-2040-ns.pcap", 2209075200.010),
                        ("time-2038.pcap", 2147483647.998)):
        r, db = analyze(name)
        ex = rows(db, EX)
        check(r.returncode == 0 and len(ex) == 1 and ex[0][0] == "continue_ok",
              f"{name}: {r.returncode} {ex} {r.stderr}")
        check(len(ex) == 1 and near(ex[0][2], start, 1e-5), f"{name}: ts {ex}, want {start}")
        check(len(ex) == 1 and near(ex[0][3], 6.0, 0.01) and near(ex[0][4], 5.0, 0.01) and
              near(ex[0][5], 8.0, 0.01), f"{name}: durations {ex}")
        check(rows(db, "SELECT COUNT(*) FROM flows")[0][0] == 1, f"{name}: not one flow")
    for name, ts_known in (("time-zero.pcap", False), ("time-spb.pcapng", False),
                           ("time-some-zero.pcap", True)):
        r, db = analyze(name)
        ex = rows(db, EX)
        check(r.returncode == 0 and len(ex) == 1 and ex[0][0] == "continue_ok",
              f"{name}: {r.returncode} {ex} {r.stderr}")
        if len(ex) == 1:
            check((ex[0][2] is not None) == ts_known, f"{name}: ts {ex[0][2]}")
            check(ex[0][3:] == (None, None, None), f"{name}: durations {ex[0][3:]}, want NULL")
        viol = rows(db, "SELECT rule, detail FROM violations")
        check(not viol, f"{name}: rules judged times the capture did not record: {viol}")
    for name, start, cont in (("tsresol-2-30.pcapng", wirecaps.T0 + 0.010, 5.0),
                              ("tsresol-10-12.pcapng", 1000.010, 5.0),
                              ("tsresol-10-0.pcapng", float(int(wirecaps.T0)), 0.0)):
        r, db = analyze(name)
        ex = rows(db, EX)
        check(r.returncode == 0 and len(ex) == 1 and ex[0][0] == "continue_ok",
              f"{name}: {r.returncode} {ex} {r.stderr}")
        check(len(ex) == 1 and near(ex[0][2], start, 2e-6) and near(ex[0][4], cont, 0.002),
              f"{name}: ts, continue_ms {ex}, want {start}, {cont}")
    r, db = analyze("tsresol-2-63.pcapng")
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 1 and len(lines) == 1 and "tsresol-2-63.pcapng" in lines[0] and
          "if_tsresol" in lines[0], f"tsresol-2-63: exit {r.returncode}, stderr {r.stderr!r}")

    # 3. read errors part-way
    for name in ("err-huge-record.pcap", "err-huge-block.pcapng", "err-other-endian.pcapng",
                 "err-no-interface.pcapng"):
        r, db = analyze(name)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        check(r.returncode == 0, f"{name}: exit {r.returncode}, want 0: {r.stderr}")
        check(len(lines) == 1 and name in lines[0] and "warning" in lines[0] and
              "analysed up to the break" in lines[0], f"{name}: stderr {r.stderr!r}")
        run = rows(db, RUN)[0]
        check(run[4:] == (1, 0), f"{name}: truncated, interrupted {run[4:]}, want (1, 0)")
        state = rows(db, "SELECT state FROM v_runs")[0][0]
        check(state == "truncated", f"{name}: state {state}")
        ex = rows(db, EX)
        check(len(ex) == 1 and ex[0][0] == "continue_ok", f"{name}: exchanges {ex}")

    # 4. SIGHUP, SIGKILL: standard input that stalls after the first connection
    # more than the head analyze reads ahead before it opens the database
    recs = []
    for k in range(1000):
        recs += wirecaps.exchange(wirecaps.T0 + k * 0.1)
    data = wirecaps.pcap_bytes(recs)
    for sig, state, status in ((signal.SIGHUP, "interrupted", 128 + signal.SIGHUP),
                               (signal.SIGKILL, "unfinished", -signal.SIGKILL)):
        db = os.path.join(WORK, f"sig{int(sig)}.db")
        p = subprocess.Popen([BIN, "analyze", "--db", db, "-q", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write(data)
        p.stdin.flush()
        for _ in range(200):  # until the run's row exists
            time.sleep(0.05)
            try:
                if rows(db, "SELECT COUNT(*) FROM runs")[0][0]:
                    break
            except sqlite3.Error:
                pass
        time.sleep(0.3)
        p.send_signal(sig)
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
        check(p.returncode == status, f"signal {int(sig)}: exit {p.returncode}, want {status}")
        got = rows(db, "SELECT state FROM v_runs")
        check(got == [(state,)], f"signal {int(sig)}: v_runs state {got}, want {state}")
        rep = subprocess.run([BIN, "report", "--db", db], capture_output=True, text=True)
        check(state in rep.stdout or (sig == signal.SIGKILL and "running" in rep.stdout),
              f"signal {int(sig)}: report does not show the run {state}:\n{rep.stdout}")

    print(f"test_wire: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
