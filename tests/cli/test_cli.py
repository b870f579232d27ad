#!/usr/bin/env python3
"""The command line as a user meets it: help, options, --list, show, the summary,
pipes, signals, locks.

  test_cli.py AREA BINARY SRCDIR

AREA is one of: help options list pipe show summary waitlock report man docs inputs
contrib paths.
BINARY is the expectscope executable, SRCDIR the source tree (tests/pcap holds the
real-traffic corpus). Each area works in its own temporary directory and removes it.
Exit status 0 when every check passed, 1 otherwise (each failed check is printed).
No check measures elapsed time; timeouts are only there so that a hang fails.
"""
import csv
import fcntl
import glob
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120
COMMANDS = ["analyze", "live", "flows", "report", "paths", "export", "show", "push"]


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


def run(binary, args, cwd, **kw):
    return subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, **kw)


def pcap(srcdir, name):
    return os.path.join(srcdir, "tests", "pcap", name)


def corpus(srcdir):
    return sorted(glob.glob(os.path.join(srcdir, "tests", "pcap", "*.pcap")))


def tsv(text):
    return list(csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))


def one_line_error(p, code, want, what):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    C.eq(p.returncode, code, f"{what}: exit status")
    C.check(len(lines) == 1 and lines[0].startswith("expectscope: ") and want in lines[0],
            f"{what}: want one 'expectscope:' line with {want!r}, got {lines}")


def on_tty(binary, args, cwd, columns):
    """Run with stdout on a pseudo-terminal of the given width; returns its output."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.environ["COLUMNS"] = str(columns)
        fcntl.ioctl(1, __import__("termios").TIOCSWINSZ,
                    __import__("struct").pack("HHHH", 50, columns, 0, 0))
        os.execv(binary, [binary] + args)
    out = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


# ---- areas ----------------------------------------------------------------------------

def area_help(binary, srcdir, tmp):
    top = run(binary, ["--help"], tmp)
    C.eq(top.returncode, 0, "--help: exit status")
    for c in COMMANDS:
        C.check(re.search(rf"^  {c} ", top.stdout, re.M), f"--help lists {c}")
    for args in [[c, "--help"] for c in COMMANDS] + [["help", c] for c in COMMANDS] + \
            [["--help"], []]:
        p = run(binary, args, tmp)
        C.eq(p.returncode, 0, f"{' '.join(args) or '(nothing)'}: exit status")
        long = [l for l in p.stdout.splitlines() if len(l) > 80]
        C.check(not long, f"{' '.join(args)}: lines over 80 columns: {long}")
    a = run(binary, ["analyze", "--help"], tmp).stdout
    C.check("usage: expectscope analyze" in a, "analyze --help: a usage line")
    for opt in ("--no-wait-ms MS", "(default 5)", "--retry-window SEC", "(default 30)",
                "--db FILE", "-r, --read FILE", "-f, --filter EXPR"):
        C.check(opt in a, f"analyze --help shows {opt!r}")
    r = run(binary, ["report", "--help"], tmp).stdout
    C.check("--no-wait-ms" not in r, "report --help shows only report's options")
    v = run(binary, ["--version"], tmp)
    C.check(re.match(r"expectscope \d+\.\d+\.\d+\n$", v.stdout), f"--version: {v.stdout!r}")


def area_options(binary, srcdir, tmp):
    late = pcap(srcdir, "late-100.pcap")
    for args, want in (
            (["flows", "--db", "x.db", late], "--db goes with analyze, live, report, paths, export, show"),
            (["report", "-q"], "-q goes with analyze, live, flows"),
            (["report", "--list"], "--list goes with analyze"),
            (["show", "--json", "1"], "--json goes with report, paths"),
            (["analyze", "--bogus", late], "unknown option --bogus"),
            (["analyze", "--no-wait-ms"], "needs a value"),
            (["analyze", "--no-wait-ms", "0", late], "--no-wait-ms takes milliseconds"),
            (["analyze", "--no-wait-ms", "-1", late], "--no-wait-ms takes milliseconds"),
            (["analyze", "--no-wait-ms", "5ms", late], "--no-wait-ms takes milliseconds"),
            (["analyze"], "analyze needs at least one capture file"),
            (["analyze", "--db", "a.db", "--no-db", late], "contradict"),
            (["analyze", "--verdict", "nope", "--list", late], "no verdict is called 'nope'"),
            (["analyze", "--problems", late], "add --list"),
            (["report", "--run", "1", "--latest"], "contradict"),
            (["report", "--run", "x"], "--run takes a run id"),
            (["report", "extra"], "report takes no arguments"),
            (["show"], "show needs an exchange id"),
            (["show", "abc"], "show takes an exchange id"),
            (["show", "1", "2"], "show takes one argument"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["push"], "push needs a destination: --clickhouse URL"),
            (["push", "--clickhouse", "ftp://ch1/"], "--clickhouse takes an http:// or https://"),
            (["push", "--clickhouse", "http://ch1/", "--batch", "0"], "--batch takes a number"),
            (["push", "--clickhouse", "http://ch1/", "x.db"], "push takes no arguments"),
            (["report", "--follow"], "--follow goes with push"),
            (["analyze", "--sensor", "a b", late], "--sensor takes a name"),
            (["analyze", "--sensor", "", late], "--sensor takes a name")):
        one_line_error(run(binary, args, tmp), 2, want, " ".join(args))
    # push: a database that is not there is an input error, and nothing is created
    missing = os.path.join(tmp, "missing.db")
    one_line_error(run(binary, ["push", "--db", missing, "--clickhouse", "http://127.0.0.1:9/"],
                       tmp), 1, "missing.db", "push from a database that is not there")
    C.check(not os.path.exists(missing), "push created no database")
    # decimals for millisecond options: 0.5 ms lands in runs.options
    dbp = os.path.join(tmp, "dec.db")
    p = run(binary, ["analyze", "-q", "--db", dbp, "--no-wait-ms", "0.5", "--stall-ms",
                     "2.25", late], tmp)
    C.eq(p.returncode, 0, f"decimal milliseconds: exit status ({p.stderr.strip()})")
    db = sqlite3.connect(dbp)
    opts = db.execute("SELECT options FROM runs").fetchone()[0]
    db.close()
    C.check('"no_wait_ms":0.500' in opts and '"stall_ms":2.250' in opts,
            f"decimal milliseconds recorded: {opts}")


def area_list(binary, srcdir, tmp):
    caps = corpus(srcdir)
    dbp = os.path.join(tmp, "list.db")
    p = run(binary, ["analyze", "--db", dbp, "--list"] + caps, tmp)
    C.eq(p.returncode, 0, f"--list: exit status ({p.stderr.strip()[-300:]})")
    rows = tsv(p.stdout)
    C.eq(list(rows[0].keys()) if rows else None,
         ["id", "flow", "seq", "time", "client", "server", "host", "method", "uri", "expect",
          "interim", "status", "wait_ms", "continue_ms", "final_ms", "verdict", "flags"],
         "--list TSV columns")
    C.check("verdict" in p.stderr and "stored as run" in p.stderr,
            "--list: the summary goes to stderr")
    db = sqlite3.connect(dbp)
    # an orphan response has no verdict: NULL in the database, "-" in the list
    want = db.execute("SELECT id, flow_id, COALESCE(verdict, '-'), COALESCE(flags, '-')"
                      " FROM exchanges"
                      " ORDER BY ts, id").fetchall()
    got = [(int(r["id"]), int(r["flow"]), r["verdict"], r["flags"]) for r in rows]
    C.eq(got, want, "--list: ids, flows, verdicts and flags are the database's, in time order")
    problems = db.execute("SELECT id FROM exchanges WHERE verdict NOT IN"
                          " ('plain', 'continue_ok') ORDER BY ts, id").fetchall()
    fallbacks = db.execute("SELECT id FROM exchanges WHERE verdict IN"
                           " ('timeout_fallback', 'late_100') ORDER BY ts, id").fetchall()
    db.close()
    p = run(binary, ["analyze", "--no-db", "--list", "-q", "--problems"] + caps, tmp)
    C.eq([(int(r["id"]),) for r in tsv(p.stdout)], problems, "--list --problems")
    p = run(binary, ["analyze", "--no-db", "--list", "-q", "--verdict", "timeout_fallback",
                     "--verdict", "late_100"] + caps, tmp)
    C.eq([(int(r["id"]),) for r in tsv(p.stdout)], fallbacks, "--list --verdict twice")
    scratch = os.path.join(tmp, "scratch")
    os.mkdir(scratch)
    run(binary, ["analyze", "--no-db", "--list", "-q"] + caps[:2], tmp,
        env=dict(os.environ, TMPDIR=scratch))
    C.eq(os.listdir(scratch), [], "--list --no-db leaves no file behind")
    # on a terminal: a table that fits, for several widths
    for cols in (80, 100, 160):
        out = on_tty(binary, ["analyze", "--no-db", "--list", "-q"] + caps, tmp, cols)
        lines = [l for l in out.splitlines() if l.strip()]
        C.check(lines and lines[0].split()[0] == "id" and "verdict" in lines[0],
                f"table at {cols} columns: a header line ({lines[:1]})")
        wide = [l for l in lines if len(l) > cols]
        C.check(not wide, f"table at {cols} columns: {len(wide)} lines too wide: {wide[:2]}")
        C.check(len(lines) == len(rows) + 1, f"table at {cols}: {len(lines)} lines")
        C.check(not [l for l in lines if l != l.rstrip()], f"table at {cols}: trailing spaces")


def area_pipe(binary, srcdir, tmp):
    """analyze --list | head: the run is stored whole, the command ends well."""
    caps = corpus(srcdir)
    dbp = os.path.join(tmp, "pipe.db")
    proc = subprocess.Popen([binary, "analyze", "--db", dbp, "--list"] + caps, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away after one line
    _, err = proc.communicate(timeout=TIMEOUT)
    C.check(first.startswith(b"id\t"), f"| head: the first line is the header ({first!r})")
    C.eq(proc.returncode, 0, f"| head: exit status (stderr {err.decode()[-300:]!r})")
    db = sqlite3.connect(dbp)
    n, fin, intr = db.execute("SELECT exchange_count, finished_at IS NOT NULL, interrupted"
                              " FROM runs").fetchone()
    stored = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    db.close()
    C.check(n and n == stored and fin and not intr,
            f"| head: every exchange stored and the run finished ({n}, {stored}, {fin}, {intr})")


def area_show(binary, srcdir, tmp):
    dbp = os.path.join(tmp, "show.db")
    p = run(binary, ["analyze", "-q", "--db", dbp] + corpus(srcdir), tmp)
    C.eq(p.returncode, 0, "show: analyze")
    db = sqlite3.connect(dbp)
    for verdict in ("expectation_failed", "retry_after_417", "continue_ok",
                    "timeout_fallback", "late_100", "plain"):
        row = db.execute("SELECT id, retry_of, flags, status FROM exchanges WHERE verdict = ?"
                         " ORDER BY id LIMIT 1", (verdict,)).fetchone()
        if not C.check(row, f"show: the corpus has a {verdict} exchange"):
            continue
        xid, retry_of, flags, status = row
        p = run(binary, ["show", "--db", dbp, str(xid)], tmp)
        out = p.stdout
        C.eq(p.returncode, 0, f"show {xid} ({verdict}): exit status ({p.stderr.strip()})")
        C.check(f"exchange {xid} " in out and f"verdict: {verdict}" in out,
                f"show {xid}: names the exchange and its verdict")
        C.check(re.search(r"ms  \|.*-->?\|", out) or re.search(r"ms  \|<-", out),
                f"show {xid}: a ladder")
        long = [l for l in out.splitlines() if len(l) > 100]
        C.check(not long, f"show {xid}: lines over 100 columns: {long[:2]}")
        if status:
            C.check(f"{status} " in out, f"show {xid}: the final status")
        if retry_of:
            C.check(f"repeats exchange {retry_of}" in out, f"show {xid}: the retry link")
        for f in (flags or "").split(","):
            if f:
                C.check(re.search(rf"^  {f} +\S", out, re.M), f"show {xid}: flag {f} explained")
        if verdict == "plain":
            C.check("no header blocks" in out, f"show {xid}: says why there are no headers")
        else:
            C.check("request headers, as captured:" in out, f"show {xid}: the request headers")
    orig = db.execute("SELECT retry_of, id FROM exchanges WHERE retry_of IS NOT NULL"
                      " LIMIT 1").fetchone()
    db.close()
    if orig:
        out = run(binary, ["show", "--db", dbp, str(orig[0])], tmp).stdout
        C.check(f"retried by exchange {orig[1]}" in out, "show: the 417'd exchange names its retry")
    one_line_error(run(binary, ["show", "--db", dbp, "99999"], tmp), 1, "no exchange 99999",
                   "show of a missing id")
    one_line_error(run(binary, ["show", "--db", os.path.join(tmp, "none.db"), "1"], tmp), 1,
                   "No such file", "show on a missing database")


def area_summary(binary, srcdir, tmp):
    p = run(binary, ["analyze", "--no-db"] + corpus(srcdir), tmp)
    out = p.stdout
    C.eq(p.returncode, 0, "summary: exit status")
    order = ["expectation_failed", "unsupported_expectation", "body_after_final",
             "timeout_fallback", "late_100", "no_wait", "retry_after_417",
             "expect_without_body", "http10_expect", "incomplete", "early_final",
             "unsolicited_100", "continue_ok", "plain"]
    shown = [l.split()[0] for l in out.splitlines() if l.startswith("  ") and
             l.split()[0] in order]
    C.eq(shown, [v for v in order if v in shown], "summary: verdicts in severity order")
    C.check(re.search(r"^  expectation_failed +\d+ +\d+  417 Expectation Failed$", out, re.M),
            "summary: a verdict line has counts and a meaning")
    gaps = run(binary, ["analyze", "--no-db", pcap(srcdir, "gap-body.pcap")], tmp).stdout
    C.check(re.search(r"^flags: .*gap \d+", gaps, re.M), "summary: the flags that matter")
    C.check(re.search(r"^warning: the capture lost bytes in \d+ HTTP", gaps, re.M),
            "summary: a warning about lost bytes")
    C.check(re.search(r"^timeout fallback waits \(\d+ exchanges\):\n  min \d+ ms", out, re.M),
            "summary: the spread of fallback waits")
    C.check(re.search(r"^capture: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to ", out, re.M),
            "summary: the capture's time range")
    C.check("writer thread" not in out, "summary: writer timings only with --verbose")
    long = [l for l in out.splitlines() if len(l) > 80]
    C.check(not long, f"summary: lines over 80 columns: {long}")
    dbp = os.path.join(tmp, "v.db")
    v = run(binary, ["analyze", "--verbose", "--db", dbp, pcap(srcdir, "late-100.pcap")], tmp)
    C.check("the writer thread worked" in v.stdout, "--verbose: the writer's timings")


def area_waitlock(binary, srcdir, tmp):
    late = pcap(srcdir, "late-100.pcap")
    dbp = os.path.join(tmp, "lock.db")
    C.eq(run(binary, ["analyze", "-q", "--db", dbp, late], tmp).returncode, 0, "a database")
    fd = os.open(dbp, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running expectscope holds it
    try:
        p = run(binary, ["analyze", "-q", "--db", dbp, "--again", late], tmp)
        one_line_error(p, 1, "another expectscope is writing", "a held lock, no --wait-lock")
        p = run(binary, ["analyze", "-q", "--db", dbp, "--again", "--wait-lock", "0.3", late],
                tmp)
        one_line_error(p, 1, "waited 0.3 s", "a held lock, --wait-lock 0.3")
        proc = subprocess.Popen([binary, "analyze", "-q", "--db", dbp, "--again",
                                 "--wait-lock", "60", late], cwd=tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        C.check(proc.poll() is None, "--wait-lock 60: still waiting while the lock is held")
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, err = proc.communicate(timeout=TIMEOUT)
    C.eq(proc.returncode, 0, f"--wait-lock 60: runs once the lock is free ({err.strip()})")
    db = sqlite3.connect(dbp)
    C.eq(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0], 2, "two runs stored")
    db.close()


def area_report(binary, srcdir, tmp):
    caps = corpus(srcdir)
    dbp = os.path.join(tmp, "r.db")
    half = len(caps) // 2
    for part in (caps[:half], caps[half:]):
        C.eq(run(binary, ["analyze", "-q", "--db", dbp] + part, tmp).returncode, 0, "a run")
    p = run(binary, ["report", "--db", dbp], tmp)
    C.eq(p.returncode, 0, f"report: exit status ({p.stderr.strip()})")
    long = [l for l in p.stdout.splitlines() if len(l) > 100]
    C.check(not long, f"report: lines over 100 columns: {long}")
    C.check(re.search(r"^ +1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d{4}-\d\d-\d\d "
                      r"\d\d:\d\d:\d\d complete ", p.stdout, re.M),
            "report: a run's capture time range and state")
    db = sqlite3.connect(dbp)
    per_run = dict(db.execute("SELECT run_id, COUNT(*) FROM exchanges GROUP BY run_id"))
    db.close()
    for args, run_id in ((["--run", "1"], 1), (["--latest"], 2)):
        j = run(binary, ["report", "--db", dbp, "--json"] + args, tmp)
        C.eq(j.returncode, 0, f"report {args}: exit status")
        import json
        doc = json.loads(j.stdout)
        C.eq(doc["run"], run_id, f"report {args}: the run it shows")
        C.eq([r["run"] for r in doc["runs"]], [run_id], f"report {args}: runs section")
        C.eq(sum(r["exchanges"] for r in doc["run_verdicts"]), per_run[run_id],
             f"report {args}: the run's verdicts only")
        t = run(binary, ["report", "--db", dbp] + args, tmp)
        C.check(f"showing run {run_id}" in t.stdout, f"report {args}: says which run")
    one_line_error(run(binary, ["report", "--db", dbp, "--run", "9"], tmp), 1, "no run 9",
                   "report --run of a missing run")
    # a run killed before its end is unfinished; while a writer holds the database, running
    db = sqlite3.connect(dbp)
    db.execute("UPDATE runs SET finished_at = NULL WHERE id = 2")
    db.commit()
    db.close()
    out = run(binary, ["report", "--db", dbp, "--latest", "--json"], tmp).stdout
    C.check('"state": "unfinished"' in out, "report: a killed run is 'unfinished'")
    fd = os.open(dbp, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        out = run(binary, ["report", "--db", dbp, "--latest", "--json"], tmp).stdout
        C.check('"state": "running"' in out, "report: the run being written is 'running'")
    finally:
        os.close(fd)
    # read-only: a WAL database in a directory the reader cannot write
    ro = os.path.join(tmp, "ro")
    os.mkdir(ro)
    rodb = os.path.join(ro, "x.db")
    C.eq(run(binary, ["analyze", "-q", "--db", rodb, caps[0]], tmp).returncode, 0, "ro: a run")
    os.chmod(ro, 0o755)
    os.chmod(tmp, 0o755)
    for f in os.listdir(ro):
        os.chmod(os.path.join(ro, f), 0o644)
    before = sorted(os.listdir(ro))
    p = run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary,
                                 "report", "--db", rodb], "/")
    C.eq(p.returncode, 0, f"report as another user, read-only directory: {p.stderr.strip()}")
    C.check("1 runs" in p.stdout, "report in a read-only directory: the database is read")
    C.eq(sorted(os.listdir(ro)), before, "report in a read-only directory: no file added")
    # damaged: bytes overwritten in the middle of the file
    bad = os.path.join(tmp, "bad.db")
    with open(dbp, "rb") as f:
        data = bytearray(f.read())
    for i in range(len(data) // 3, len(data) // 3 + 16384):
        data[i] = 0x5a
    with open(bad, "wb") as f:
        f.write(data)
    one_line_error(run(binary, ["report", "--db", bad], tmp), 1, "damaged",
                   "report on a damaged database")


def help_options(binary, cmd, tmp):
    """{long option name: default or None} from `expectscope CMD --help`."""
    out = run(binary, [cmd, "--help"], tmp).stdout
    opts, last = {}, None
    for line in out.splitlines():
        m = re.match(r"^  (?:-\w, )?\s*--([\w-]+)", line)
        if m:
            last = m.group(1)
            opts[last] = None
        d = re.search(r"\(default ([^)]+)\)", line)
        if d and last:
            opts[last] = d.group(1)
    return opts


def man_options(path):
    """{long option name: (commands, default or None)} from the man page's OPTIONS."""
    text = open(path, encoding="utf-8").read()
    section = text.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    opts = {}
    for entry in section.split("\n.TP\n")[1:]:
        head, body = entry.split("\n", 1)
        names = re.findall(r"\\-\\-([\w\\-]+)", head)
        if not names:
            continue
        name = names[0].replace("\\-", "-")
        cmds = re.search(r"^Commands: (.*)\.$", body, re.M)
        dflt = re.search(r"^Default (\S+)\.$", body, re.M)
        opts[name] = (cmds.group(1).split(", ") if cmds else [],
                      dflt.group(1) if dflt else None)
    return opts


def area_man(binary, srcdir, tmp):
    page = os.path.join(srcdir, "docs", "expectscope.1")
    man = man_options(page)
    C.check(man, "the man page has an OPTIONS section with entries")
    for cmd in COMMANDS:
        helped = help_options(binary, cmd, tmp)
        in_man = {n for n, (cmds, _) in man.items() if cmd in cmds}
        C.eq(sorted(in_man), sorted(helped), f"man page and `{cmd} --help`: the same options")
        for name, dflt in helped.items():
            if dflt and name in man and name != "db":
                C.eq(man[name][1], dflt, f"man page and `{cmd} --help`: default of --{name}")
    options_md = open(os.path.join(srcdir, "docs", "options.md"), encoding="utf-8").read()
    for name in man:
        C.check(re.search(rf"^### .*--{re.escape(name)}\b", options_md, re.M),
                f"docs/options.md has a section for --{name}")
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True,
                       text=True)
    C.check(p.returncode == 0 and not p.stderr.strip(), f"groff warnings: {p.stderr.strip()}")
    # installed: the binary and the page where man finds them
    build = os.path.dirname(binary)
    prefix = os.path.join(tmp, "prefix")
    p = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                       capture_output=True, text=True)
    C.eq(p.returncode, 0, f"cmake --install: {p.stderr.strip()}")
    C.check(os.access(os.path.join(prefix, "bin", "expectscope"), os.X_OK),
            "cmake --install: bin/expectscope")
    installed = os.path.join(prefix, "share", "man", "man1", "expectscope.1")
    C.check(os.path.exists(installed), "cmake --install: share/man/man1/expectscope.1")
    p = subprocess.run(["man", "-M", os.path.join(prefix, "share", "man"), "expectscope"],
                       capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat",
                                                                PAGER="cat", MANWIDTH="80"))
    C.check(p.returncode == 0 and "passive analyzer" in p.stdout,
            f"man finds the installed page ({p.stderr.strip()[:200]})")


def area_docs(binary, srcdir, tmp):
    """docs/ and the README name only files that are in the repository."""
    files = glob.glob(os.path.join(srcdir, "docs", "*.md")) + \
        [os.path.join(srcdir, "README.md"), os.path.join(srcdir, "docs", "expectscope.1")]
    top = ("analyzer/", "dissectors/", "storage/", "tests/", "docs/", "scripts/", "bench/",
           "contrib/", "web-export/", ".ci/")
    for f in files:
        text = open(f, encoding="utf-8").read().replace("\\-", "-")
        for m in re.finditer(r"[\w./*<>{}@-]+", text):
            ref = m.group(0).rstrip(".,:;)")
            if not ref.startswith(top) or any(c in ref for c in "*<>{}") or \
                    ref.startswith("bench/out/"):  # patterns, and what benchmarks generate
                continue
            target = os.path.join(srcdir, ref)
            C.check(glob.glob(target) or glob.glob(target + ".[ch]"),
                    f"{os.path.relpath(f, srcdir)} names {ref}, which is not in the repository")


def area_inputs(binary, srcdir, tmp):
    """-r and BPF filters as tcpdump takes them; nothing counted twice."""
    cap = pcap(srcdir, "expect-417-retry.pcap")
    every = tsv(run(binary, ["analyze", "--no-db", "--list", "-q", cap], tmp).stdout)
    C.check(len(every) == 2, f"the capture has two exchanges ({len(every)})")
    for args, want, what in (
            (["-r", cap, "tcp", "port", "8081"], len(every), "-r FILE with filter words"),
            (["-r", cap, "port", "9"], 0, "-r FILE with a filter nothing matches"),
            (["-f", "port 8081", cap], len(every), "-f EXPR"),
            (["--filter", "port 9", cap], 0, "--filter EXPR that matches nothing")):
        p = run(binary, ["analyze", "--no-db", "--list", "-q"] + args, tmp)
        C.eq(p.returncode, 0, f"{what}: exit status ({p.stderr.strip()})")
        C.eq(len(tsv(p.stdout)), want, f"{what}: exchanges listed")
    one_line_error(run(binary, ["analyze", "--no-db", "-r", cap, "port"], tmp), 2,
                   "filter 'port'", "a filter that does not compile")
    one_line_error(run(binary, ["flows", "-f", "tcp[", cap], tmp), 2, "filter",
                   "flows: a filter that does not compile")
    one_line_error(run(binary, ["analyze", "--no-db", "-f", "tcp", "-r", cap, "port", "80"],
                       tmp), 2, "one or the other", "-f and filter words both")
    # the same capture twice: refused with a line naming the run, unless --again
    dbp = os.path.join(tmp, "dup.db")
    C.eq(run(binary, ["analyze", "-q", "--db", dbp, cap], tmp).returncode, 0, "first run")
    gz = os.path.join(tmp, "copy.pcap.gz")
    subprocess.run(f"gzip -c {cap} > {gz}", shell=True, check=True)
    for args, what in ((["analyze", "-q", "--db", dbp, cap], "the same file"),
                       (["analyze", "-q", "--db", dbp, gz], "the same capture gzipped")):
        one_line_error(run(binary, args, tmp), 1, "already in run 1", f"{what} again")
    with open(cap, "rb") as f:
        p = subprocess.run([binary, "analyze", "-q", "--db", dbp, "-"], cwd=tmp, stdin=f,
                           capture_output=True, text=True, timeout=TIMEOUT)
    one_line_error(p, 1, "already in run 1", "the same capture on standard input")
    one_line_error(run(binary, ["analyze", "--no-db", cap, gz], tmp), 1, "given twice",
                   "the same capture twice in one command")
    p = run(binary, ["analyze", "-q", "--db", dbp, "--again", gz], tmp)
    C.eq(p.returncode, 0, f"--again: exit status ({p.stderr.strip()})")
    db = sqlite3.connect(dbp)
    rows = db.execute("SELECT run_id, seq, path, compression, size, head_hash, head_bytes,"
                      " packets FROM inputs ORDER BY run_id").fetchall()
    C.eq(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0], 2, "two runs, no more")
    db.close()
    C.eq(len(rows), 2, "the inputs table: one row per run's input")
    if len(rows) == 2:
        C.eq((rows[0][3], rows[1][3]), ("none", "gzip"), "inputs: compression")
        C.eq(rows[0][5], rows[1][5], "inputs: the same head hash for the file and its gzip")
        C.eq(rows[0][4], os.path.getsize(cap), "inputs: size as stored")
        C.check(rows[0][7] and rows[0][7] == rows[1][7], f"inputs: packets read {rows}")


def area_contrib(binary, srcdir, tmp):
    """The shipped systemd units are valid and hardened as docs/live.md and docs/fleet.md
    say, and run as one dynamic user (push writes its progress into live's database)."""
    wants = {"live": ("DynamicUser=yes", "User=expectscope",
                      "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
                      "ProtectSystem=strict", "NoNewPrivileges=yes", "expectscope live",
                      "StateDirectory=expectscope "),
             "push": ("DynamicUser=yes", "User=expectscope", "CapabilityBoundingSet=\n",
                      "ProtectSystem=strict", "NoNewPrivileges=yes",
                      "expectscope push --follow --db /var/lib/expectscope/%i.db",
                      "--clickhouse ${EXPECTSCOPE_CLICKHOUSE}",
                      "EnvironmentFile=/etc/expectscope/push.env",
                      "StateDirectory=expectscope\n")}
    for name, want_all in wants.items():
        unit = os.path.join(srcdir, "contrib", f"expectscope-{name}@.service")
        text = open(unit, encoding="utf-8").read()
        for want in want_all:
            C.check(want in text, f"the {name} unit has {want!r}")
        inst = os.path.join(tmp, f"expectscope-{name}@eth1.service")
        with open(inst, "w", encoding="utf-8") as f:  # the built binary for /usr/local
            f.write(text.replace("/usr/local/bin/expectscope", binary))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", inst],
                           capture_output=True, text=True,
                           env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"))
        C.check(p.returncode == 0 and not p.stderr.strip(),
                f"systemd-analyze verify {name}: {p.returncode} {p.stderr.strip()}")


def area_paths(binary, srcdir, tmp):
    """`paths` on the corpus: the squid capture's two legs are one client path via squid,
    the upstream leg is no path of its own; JSON and text agree; 100 columns."""
    import json
    dbp = os.path.join(tmp, "paths.db")
    for cap in ("squid-proxy.pcap", "curl-nginx-continue.pcap", "expect-417-retry.pcap"):
        C.eq(run(binary, ["analyze", "-q", "--db", dbp, pcap(srcdir, cap)], tmp).returncode,
             0, f"analyze {cap}")
    j = run(binary, ["paths", "--db", dbp, "--json"], tmp)
    C.eq(j.returncode, 0, f"paths --json: exit status ({j.stderr.strip()})")
    rows = json.loads(j.stdout)
    via = [r for r in rows if r["path"] == "via squid"]
    C.check(len(via) == 1 and via[0]["server_port"] == 3128 and via[0]["exchanges"] == 1,
            f"paths: one exchange via squid at its port 3128: {via}")
    db = sqlite3.connect(dbp)
    n_client = db.execute("SELECT COUNT(*) FROM v_paths").fetchone()[0]
    n_all = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    hops = db.execute("SELECT findings FROM hops").fetchall()
    db.close()
    C.eq(sum(r["exchanges"] for r in rows), n_client, "paths: every client exchange, once")
    C.eq(n_all - n_client, len(hops), "paths: the upstream legs are not paths")
    C.eq(hops, [("relayed_100",)], "squid relays the origin's 100")
    t = run(binary, ["paths", "--db", dbp], tmp)
    C.eq(t.returncode, 0, "paths: exit status")
    C.check(re.search(r"^Host 10\.231\.2\.2$", t.stdout, re.M) and
            re.search(r"^  via squid +10\.231\.1\.2:3128 ", t.stdout, re.M),
            f"paths: a Host block with the squid path:\n{t.stdout}")
    long = [l for l in t.stdout.splitlines() if len(l) > 100]
    C.check(not long, f"paths: lines over 100 columns: {long}")
    one_line_error(run(binary, ["paths", "--db", os.path.join(tmp, "no.db")], tmp), 1,
                   "No such file", "paths on a missing database")


AREAS = {"paths": area_paths, "contrib": area_contrib, "inputs": area_inputs, "man": area_man, "docs": area_docs, "report": area_report, "help": area_help, "options": area_options, "list": area_list, "pipe": area_pipe,
         "show": area_show, "summary": area_summary, "waitlock": area_waitlock}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in AREAS:
        print(__doc__, file=sys.stderr)
        return 2
    area, binary, srcdir = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    tmp = tempfile.mkdtemp(prefix=f"es-cli-{area}-")
    try:
        AREAS[area](binary, os.path.abspath(srcdir), tmp)
    except Exception as e:  # a crash in the test is a failure, with its reason
        C.check(False, f"{area}: {type(e).__name__}: {e}")
    finally:
        subprocess.run(["rm", "-rf", tmp])
    print(f"{area}: {C.checks} checks, {C.failures} failed")
    return 1 if C.failures else 0


if __name__ == "__main__":
    sys.exit(main())
