#!/usr/bin/env python3
"""A fleet of two sensors pushed into a real two-shard ClickHouse cluster.

  test_fleet.py BINARY SRCDIR

Starts two clickhouse-server processes on loopback ports it picks (each one shard of
the cluster 'fleet'), applies storage/clickhouse/ (tables.sql on each shard, then
distributed.sql and views.sql), makes two sensors' databases with `expectscope analyze
--sensor` from different captures of the corpus (tests/pcap/*.pcap, tests/pcap/paths/),
pushes one whole, kills the other's push half-way (SIGKILL) and runs it again, then
checks that:
  - every table holds each sensor's rows once: as many distinct keys as rows with FINAL,
    and as many as the two SQLite databases together;
  - every view answers what the SQLite views answer over the two databases together
    (merged into one SQLite database, ids of the second shifted);
  - a push sent twice changes no answer; a push to a destination that is down fails
    with one line per attempt naming it, exits 1 and records nothing;
  - push --follow ships a run while it is written (analyze on standard input, left
    open) and again once it ended, moving its progress past the run only then, and
    exits 0 on SIGTERM; a writer killed half-way leaves a run push settles;
  - hostile captured bytes (tests/export/hostile.py) arrive as their display text; a
    user in the URL is neither printed nor stored; SIGINT stops a push with 130.
Exit 0 when every check passed, 1 otherwise, 77 (skipped, with a message) when
clickhouse-server is not installed (scripts/deps.sh test installs it).
The servers are stopped by their PID and their directories removed, also on failure.
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 120
OFFSET = 1_000_000_000  # the second database's ids in the merged SQLite database
TABLES = ["runs", "flows", "exchanges", "headers", "hops", "violations"]
KEYS = {  # the ClickHouse key of each table (storage/clickhouse/tables.sql)
    "runs": "sensor, id",
    "flows": "sensor, run_id, id",
    "exchanges": "sensor, run_id, id",
    "headers": "sensor, run_id, exchange_id, direction",
    "hops": "sensor, run_id, front_exchange_id, back_id",
    "violations": "sensor, run_id, id",
}


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


def free_port():
    """A port in 20000-29999 that nothing listens on (bound once to make sure)."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <uncompressed_cache_size>8589934</uncompressed_cache_size>
  <remote_servers>
    <fleet>
      <shard><replica><host>127.0.0.1</host><port>{tcp1}</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>{tcp2}</port></replica></shard>
    </fleet>
  </remote_servers>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""


class Server:
    def __init__(self, top, name, http, tcp, tcp1, tcp2):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir)
        self.http = http
        users = os.path.join(self.dir, "users.xml")
        with open(users, "w") as f:
            f.write(USERS)
        self.config = os.path.join(self.dir, "config.xml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(http=http, tcp=tcp, dir=self.dir, users=users, tcp1=tcp1,
                                  tcp2=tcp2))
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([SERVER, "--config-file=" + self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)

    def url(self, db=None):
        return f"http://127.0.0.1:{self.http}/" + (f"?database={db}" if db else "")

    def query(self, sql, db=None, data=None):
        params = {"output_format_json_quote_64bit_integers": "0"}
        if db:
            params["database"] = db
        if data is None:
            body = sql.encode()
        else:
            params["query"] = sql
            body = data
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http}/?" + urllib.parse.urlencode(params), data=body)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"ClickHouse :{self.http}: {e.read().decode()[:400]}\n{sql}")

    def rows(self, sql, db="expectscope"):
        out = self.query(sql + " FORMAT JSONCompact", db)
        return [tuple(r) for r in json.loads(out)["data"]]

    def wait_ready(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited: see {self.dir}/server.log:\n" +
                                   open(os.path.join(self.dir, "server.log")).read()[-2000:])
            try:
                if self.query("SELECT 1").strip() == "1":
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"clickhouse-server on :{self.http} did not answer in 90 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def apply_sql(server, path, db, replace=None):
    text = open(path, encoding="utf-8").read()
    for k, v in (replace or {}).items():
        text = text.replace(k, v)
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    for stmt in text.split(";"):
        if stmt.strip():
            server.query(stmt, db)


CHILDREN = []  # every process this test starts, stopped by PID at the end


def spawn(args, **kw):
    proc = subprocess.Popen(args, **kw)
    CHILDREN.append(proc)
    return proc


def run(args, **kw):
    return subprocess.run([BINARY] + args, capture_output=True, text=True, timeout=TIMEOUT,
                          **kw)


def progress(dbpath, dest):
    """{table: cursor} of push's progress to dest; 'table:live' keys hold text."""
    with sqlite3.connect(dbpath) as c:
        return dict(c.execute("SELECT substr(key, length(?) + 7),"
                              " CASE WHEN key LIKE '%:live' THEN value"
                              " ELSE CAST(value AS INTEGER) END"
                              " FROM meta WHERE key LIKE 'push:' || ? || ':%'",
                              (dest, dest)).fetchall())


# ---- the expected answers: the SQLite views over both databases together ------------

def merged_db(path, a, b):
    """A copy of a with b's rows appended, b's ids shifted by OFFSET."""
    shutil.copy(a, path)
    shifts = {
        "runs": ["id"], "flows": ["id", "run_id"],
        "exchanges": ["id", "flow_id", "run_id", "retry_of"],
        "headers": ["exchange_id"],
        "hops": ["front_exchange_id", "back_exchange_id", "run_id"],
        "violations": ["id", "run_id", "flow_id", "exchange_id"],
        "inputs": ["run_id"],
    }
    m = sqlite3.connect(path)
    m.execute("ATTACH ? AS b", (b,))
    for table, cols in shifts.items():
        names = [r[1] for r in m.execute(f"PRAGMA b.table_info({table})")]
        sel = ", ".join(f"{n} + {OFFSET}" if n in cols else n for n in names)
        m.execute(f"INSERT INTO main.{table} ({', '.join(names)}) SELECT {sel} FROM b.{table}")
    m.commit()
    m.execute("DETACH b")
    return m


def close(a, b, tol=0.0):
    """Equal; numbers within tol (or 1e-9 relative). ROUND(x, N) in SQLite and round(x, N)
    in ClickHouse may differ by one unit in the last place on a tie (docs/fleet.md)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return abs(float(a) - float(b)) <= max(tol * 1.0001, 1e-9 * max(1.0, abs(float(a))))
    return a == b


def compare_view(name, ch_rows, lite_rows, key_len, sum_cols=(), rounded=None):
    """Rows keyed by their first key_len columns; SQLite's SUM of only NULLs is NULL
    where ClickHouse counts 0 (docs/fleet.md): sum_cols (indexes) take NULL as 0."""
    def keyed(rows, lite):
        out = {}
        for r in rows:
            r = list(r)
            if lite:
                for i in sum_cols:
                    if r[i] is None:
                        r[i] = 0
            k = tuple(r[:key_len])
            C.check(k not in out, f"{name}: key {k} twice ({'SQLite' if lite else 'ClickHouse'})")
            out[k] = r[key_len:]
        return out
    ch, lite = keyed(ch_rows, False), keyed(lite_rows, True)
    C.eq(sorted(map(repr, ch)), sorted(map(repr, lite)), f"{name}: the same keys")
    tol = [(rounded or {}).get(i + key_len, 0.0) for i in range(99)]
    bad = [(k, ch[k], lite[k]) for k in ch if k in lite and
           not (len(ch[k]) == len(lite[k]) and
                all(close(x, y, t) for x, y, t in zip(ch[k], lite[k], tol)))]
    C.check(not bad, f"{name}: values differ (key, ClickHouse, SQLite): {bad[:5]}")
    C.check(len(ch) > 0, f"{name}: has rows")


def check_views(ch, m, sensor_of_run):
    def lite(sql):
        return [tuple(r) for r in m.execute(sql).fetchall()]

    # per run: SQLite's run_id is (sensor, original id) in ClickHouse
    for view, what in (("v_verdict_counts", "exchanges"), ("v_flow_verdict_counts", "flows")):
        want = [(*sensor_of_run[r], v, n) for r, v, n in
                lite(f"SELECT run_id, verdict, {what} FROM {view}")]
        compare_view(view, ch.rows(f"SELECT sensor, run_id, verdict, {what} FROM {view}"),
                     want, 3)
    cols = "server_ip, server_port, host, exchanges, with_expect, status_417, " \
           "timeout_fallbacks, late_100, retries"
    compare_view("v_server_failures", ch.rows(f"SELECT {cols} FROM v_server_failures"),
                 lite(f"SELECT {cols} FROM v_server_failures"), 3, sum_cols=range(3, 9))
    cols = "user_agent, exchanges, with_expect, status_417, timeout_fallbacks, " \
           "avg_fallback_wait_ms, retries"
    compare_view("v_user_agent_failures", ch.rows(f"SELECT {cols} FROM v_user_agent_failures"),
                 lite(f"SELECT {cols} FROM v_user_agent_failures"), 1,
                 sum_cols=(1, 2, 3, 4, 6), rounded={5: 0.1})
    cols = "server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95, n_wait, " \
           "wait_ms_p50, wait_ms_p95"
    compare_view("v_server_timing", ch.rows(f"SELECT {cols} FROM v_server_timing"),
                 lite(f"SELECT {cols} FROM v_server_timing"), 2)
    compare_view("v_proxy_vs_direct",
                 ch.rows("SELECT path, verdict, exchanges FROM v_proxy_vs_direct"),
                 lite("SELECT path, verdict, exchanges FROM v_proxy_vs_direct"), 2)
    cols = "host, path, server_ip, server_port, exchanges, with_expect, continue_ok, " \
           "expectation_failed, timeout_fallback, problems, avg_wait_ms, avg_continue_ms, " \
           "answered_by_intermediary, paths_disagree"
    compare_view("v_path_compare", ch.rows(f"SELECT {cols} FROM v_path_compare"),
                 # paths_disagree compares sums: NULL in SQLite where every sum was
                 # NULL (a Host with orphan responses only), 0 in ClickHouse
                 lite(f"SELECT {cols} FROM v_path_compare"), 4,
                 sum_cols=list(range(5, 10)) + [12, 13],
                 rounded={10: 0.001, 11: 0.001})
    dis = ch.rows("SELECT count() FROM v_path_compare WHERE paths_disagree = 1")[0][0]
    C.check(dis > 0, "v_path_compare: the corpus has Hosts whose paths disagree")


def check_tables(ch, dbs):
    """Each table: rows once (distinct keys == rows with FINAL), as many as SQLite holds,
    and every exchange's content as SQLite has it."""
    for t in TABLES:
        want = 0
        for sensor, path in dbs.items():
            with sqlite3.connect(path) as c:
                n = c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            want += n
            got = ch.rows(f"SELECT count() FROM {t} FINAL WHERE sensor = '{sensor}'")[0][0]
            C.eq(got, n, f"{t}: rows of {sensor} in ClickHouse (FINAL)")
        final = ch.rows(f"SELECT count() FROM {t} FINAL")[0][0]
        keys = ch.rows(f"SELECT uniqExact({KEYS[t]}) FROM {t}")[0][0]
        C.eq(final, want, f"{t}: rows in ClickHouse, both sensors")
        C.eq(keys, want, f"{t}: distinct keys in ClickHouse: no row lost or doubled")
    cols = "id, run_id, flow_id, verdict, flags, status, wait_ms, continue_ms, method, uri"
    for sensor, path in dbs.items():
        with sqlite3.connect(path) as c:
            lite = sorted(tuple(r) for r in c.execute(f"SELECT {cols} FROM exchanges"))
        got = sorted(ch.rows(f"SELECT {cols} FROM exchanges FINAL WHERE sensor = '{sensor}'"))
        C.eq(len(got), len(lite), f"exchanges of {sensor}: as many rows")
        diff = [(a, b) for a, b in zip(got, lite) if not all(close(x, y) for x, y in zip(a, b))]
        C.check(not diff, f"exchanges of {sensor}: the same content: {diff[:3]}")


def stream_pcap(path):
    """One capture repeated (each copy 1000 s later) to about 8 MiB, split at 3/4: past the
    1 MiB that analyze reads ahead of standard input, and enough rows to fill the writer's
    queue chunks (analyze hands rows over a chunk at a time), so that rows are committed
    while the run goes on."""
    data = open(path, "rb").read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "a little-endian microsecond pcap"
    header, records, i = data[:24], [], 24
    while i + 16 <= len(data):
        ts, us, incl, orig = struct.unpack("<IIII", data[i:i + 16])
        records.append((ts, us, incl, orig, data[i + 16:i + 16 + incl]))
        i += 16 + incl
    out = bytearray(header)
    for k in range((8 << 20) // len(data) + 1):
        for ts, us, incl, orig, body in records:
            out += struct.pack("<IIII", ts + 1000 * k, us, incl, orig) + body
    cut = len(out) * 3 // 4
    return bytes(out[:cut]), bytes(out[cut:])


def start_writer(dbpath, sensor, head):
    """analyze reading standard input, fed `head` and left open: a run being written,
    with the writer's lock held. Returns the process and its run id once its first
    exchanges are committed."""
    proc = spawn([BINARY, "analyze", "-q", "--again", "--sensor", sensor, "--db", dbpath,
                  "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    proc.stdin.write(head)
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(dbpath) as c:
                r = c.execute("SELECT r.id, COUNT(e.id) FROM runs r JOIN exchanges e"
                              " ON e.run_id = r.id WHERE r.finished_at IS NULL"
                              " GROUP BY r.id ORDER BY r.id DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            r = None
        if r and r[1] > 0:
            return proc, r[0]
        time.sleep(0.1)
    raise RuntimeError("analyze on standard input committed no exchange in 60 s")


def runs_of(dbs):
    """{merged run id: (sensor, run id)}, as merged_db() shifts the second database."""
    out = {}
    for k, path in enumerate(dbs.values()):
        with sqlite3.connect(path) as c:
            for rid, sensor in c.execute("SELECT id, sensor FROM runs"):
                out[rid + k * OFFSET] = (sensor, rid)
    return out


def main():
    global BINARY, SERVER
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    BINARY, srcdir = os.path.abspath(sys.argv[1]), sys.argv[2]
    SERVER = shutil.which("clickhouse-server") or (
        "/usr/bin/clickhouse-server" if os.access("/usr/bin/clickhouse-server", os.X_OK)
        else None)
    if not SERVER:
        print("SKIP: clickhouse-server is not installed (scripts/deps.sh test installs it)")
        return 77
    top = tempfile.mkdtemp(prefix="es-fleet-")
    servers = []
    try:
        ports = set()
        while len(ports) < 4:
            ports.add(free_port())
        h1, h2, t1, t2 = sorted(ports)
        servers = [Server(top, "ch1", h1, t1, t1, t2), Server(top, "ch2", h2, t2, t1, t2)]
        for s in servers:
            s.wait_ready()
        version = servers[0].query("SELECT version()").strip()
        print(f"clickhouse-server {version} on 127.0.0.1:{h1} and :{h2}, cluster 'fleet'")
        ddl = os.path.join(srcdir, "storage", "clickhouse")
        for s in servers:
            s.query("CREATE DATABASE IF NOT EXISTS expectscope_local")
            s.query("CREATE DATABASE IF NOT EXISTS expectscope")
            apply_sql(s, os.path.join(ddl, "tables.sql"), "expectscope_local")
            apply_sql(s, os.path.join(ddl, "distributed.sql"), "expectscope",
                      {"{cluster}": "fleet", "{local}": "expectscope_local"})
            apply_sql(s, os.path.join(ddl, "views.sql"), "expectscope")
        ch1, ch2 = servers

        # two sensor names that land on different shards (cityHash64(sensor) % 2)
        names = []
        for i in range(1, 50):
            n = f"sensor-{i}"
            shard = ch1.rows(f"SELECT cityHash64('{n}') % 2")[0][0]
            if shard not in [s for _, s in names]:
                names.append((n, shard))
            if len(names) == 2:
                break
        (sa, _), (sb, _) = names

        # two sensors, different captures, two runs each
        pcaps = sorted(os.path.join(srcdir, "tests", "pcap", f)
                       for f in os.listdir(os.path.join(srcdir, "tests", "pcap"))
                       if f.endswith(".pcap"))
        paths = sorted(os.path.join(srcdir, "tests", "pcap", "paths", f)
                       for f in os.listdir(os.path.join(srcdir, "tests", "pcap", "paths"))
                       if f.endswith(".pcap"))
        dbs = {sa: os.path.join(top, "a.db"), sb: os.path.join(top, "b.db")}
        for sensor, caps in ((sa, pcaps), (sb, paths)):
            half = len(caps) // 2
            for part in (caps[:half], caps[half:]):
                p = run(["analyze", "-q", "--sensor", sensor, "--db", dbs[sensor]] + part)
                C.eq(p.returncode, 0, f"analyze --sensor {sensor}: {p.stderr.strip()[:300]}")
        for sensor, path in dbs.items():
            with sqlite3.connect(path) as c:
                C.eq(c.execute("SELECT DISTINCT sensor FROM runs").fetchall(), [(sensor,)],
                     f"runs.sensor of {path}")

        # sensor A: one push through server 1
        url1, url2 = ch1.url("expectscope"), ch2.url("expectscope")
        p = run(["push", "--db", dbs[sa], "--clickhouse", url1, "--batch", "7"])
        C.eq(p.returncode, 0, f"push {sa}: {p.stderr.strip()[:300]}")
        C.check(p.stdout.startswith("push: ") and "exchanges" in p.stdout,
                f"push: one summary line: {p.stdout!r}")

        # sensor B: killed half-way through server 2, then run again
        proc = spawn([BINARY, "push", "--db", dbs[sb], "--clickhouse", url2, "--batch", "1"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if progress(dbs[sb], url2).get("exchanges", 0) > 0:
                break
            time.sleep(0.005)
        killed_alive = proc.poll() is None
        proc.kill()
        proc.communicate()
        C.check(killed_alive, "push of sensor B was still running when killed")
        with sqlite3.connect(dbs[sb]) as c:
            max_exchange = c.execute("SELECT MAX(id) FROM exchanges").fetchone()[0]
            n_b = {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        half = progress(dbs[sb], url2)
        C.check(0 < half.get("exchanges", 0) < max_exchange,
                f"the kill came half-way: progress {half}, last exchange {max_exchange}")
        got = ch1.rows(f"SELECT count() FROM exchanges FINAL WHERE sensor = '{sb}'")[0][0]
        C.check(0 < got < n_b["exchanges"],
                f"half of sensor B's exchanges in ClickHouse after the kill: {got}")
        p = run(["push", "--db", dbs[sb], "--clickhouse", url2, "--batch", "5"])
        C.eq(p.returncode, 0, f"push {sb} again: {p.stderr.strip()[:300]}")
        print(f"sensors {sa} and {sb}; B's push killed at {half}, resumed: {p.stdout.strip()}")

        check_tables(ch1, dbs)
        m = merged_db(os.path.join(top, "merged.db"), dbs[sa], dbs[sb])
        sensor_of_run = {}
        for rid, sensor in m.execute("SELECT id, sensor FROM runs"):
            sensor_of_run[rid] = (sensor, rid - OFFSET if rid > OFFSET else rid)
        check_views(ch1, m, sensor_of_run)
        check_views(ch2, m, sensor_of_run)  # any server of the cluster answers the same

        # both shards hold rows (the sensors were picked to land on different shards)
        for s in servers:
            n = s.rows("SELECT count() FROM exchanges", db="expectscope_local")[0][0]
            C.check(n > 0, f"shard :{s.http} holds exchanges")

        # sending everything again: answers unchanged (ReplacingMergeTree, FINAL)
        with sqlite3.connect(dbs[sa]) as c:
            c.execute("DELETE FROM meta WHERE key LIKE 'push:' || ? || ':%'", (url1,))
        p = run(["push", "--db", dbs[sa], "--clickhouse", url1])
        C.eq(p.returncode, 0, f"push {sa} from the start again: {p.stderr.strip()[:300]}")
        stored = ch1.rows("SELECT count() FROM exchanges")[0][0]
        final = ch1.rows("SELECT count() FROM exchanges FINAL")[0][0]
        print(f"after sending {sa} twice: {stored} exchanges rows stored, {final} with FINAL")
        check_tables(ch1, dbs)
        check_views(ch1, m, sensor_of_run)
        p = run(["push", "--db", dbs[sa], "--clickhouse", url1])
        C.check(p.returncode == 0 and " 0 rows " in p.stdout,
                f"push with nothing new ships nothing: {p.stdout.strip()}")

        # hostile bytes (tests/export/hostile.py) arrive as their display text, the same
        # as the exports write (valid JSON, or ClickHouse would refuse the batch); a user
        # in the URL is neither printed nor part of the progress key
        sys.path.insert(0, os.path.join(srcdir, "tests", "export"))
        import display as disp
        import hostile
        hcap, hdb = os.path.join(top, "hostile.pcap"), os.path.join(top, "hostile.db")
        hostile.write_pcap(hcap)
        p = run(["analyze", "-q", "--sensor", "hostile-1", "--db", hdb, hcap])
        C.eq(p.returncode, 0, f"analyze the hostile capture: {p.stderr.strip()[:300]}")
        ch2.query("CREATE DATABASE IF NOT EXISTS hostile")
        apply_sql(ch2, os.path.join(ddl, "tables.sql"), "hostile")
        hurl = f"http://default:@127.0.0.1:{ch2.http}/?database=hostile"
        p = run(["push", "--db", hdb, "--clickhouse", hurl, "--batch", "4"])
        C.eq(p.returncode, 0, f"push the hostile database: {p.stderr.strip()[:300]}")
        C.check("default:@" not in p.stdout + p.stderr, f"the user is not printed: {p.stdout}")
        with sqlite3.connect(hdb) as c:
            keys = [k for (k,) in c.execute("SELECT key FROM meta WHERE key LIKE 'push:%'")]
        C.check(keys and not any("default:@" in k for k in keys),
                f"the user is not in the progress keys: {keys}")
        fields = ["uri", "host", "user_agent", "expect", "reason", "server", "via"]
        with sqlite3.connect(hdb) as c:
            want = {r[0]: [None if v is None else disp.display(v) for v in r[1:]]
                    for r in c.execute("SELECT id, " + ", ".join(f"CAST({f} AS BLOB)"
                                                               for f in fields) +
                                       " FROM exchanges")}
            want_raw = {(e, d): disp.display(r) for e, d, r in
                        c.execute("SELECT exchange_id, direction, CAST(raw AS BLOB)"
                                  " FROM headers")}
        got = {r[0]: list(r[1:]) for r in
               ch2.rows("SELECT id, " + ", ".join(fields) + " FROM exchanges FINAL",
                        db="hostile")}
        C.check(len(want) > 10, f"the hostile capture has exchanges: {len(want)}")
        C.eq(got, want, "hostile fields in ClickHouse: the display text")
        got_raw = {(e, d): r for e, d, r in
                   ch2.rows("SELECT exchange_id, direction, raw FROM headers FINAL",
                            db="hostile")}
        C.eq(got_raw, want_raw, "hostile header blocks in ClickHouse: the display text")

        # SIGINT stops a one-shot push between batches: 128 + 2, what went is recorded
        ch2.query("CREATE DATABASE IF NOT EXISTS hostile2")
        apply_sql(ch2, os.path.join(ddl, "tables.sql"), "hostile2")
        hurl2 = ch2.url("hostile2")
        proc = spawn([BINARY, "push", "--db", hdb, "--clickhouse", hurl2, "--batch", "1"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if progress(hdb, hurl2).get("exchanges", 0) > 0:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        C.eq(proc.returncode, 130, f"push stopped by SIGINT: exit status ({err.strip()[:200]})")
        C.check(out.startswith("push: "), f"push stopped by SIGINT: its summary: {out!r}")
        p = run(["push", "--db", hdb, "--clickhouse", hurl2])
        C.eq(p.returncode, 0, f"push after SIGINT: {p.stderr.strip()[:300]}")
        got2 = {r[0]: list(r[1:]) for r in
                ch2.rows("SELECT id, " + ", ".join(fields) + " FROM exchanges FINAL",
                         db="hostile2")}
        C.eq(got2, want, "after SIGINT and a second push: every exchange, once")

        # a destination that is down: one line per attempt naming it, exit 1, no progress
        down = f"http://127.0.0.1:{free_port()}/?database=expectscope"
        p = run(["push", "--db", dbs[sa], "--clickhouse", down])
        lines = [l for l in p.stderr.splitlines() if l.startswith("expectscope: push to ")]
        C.eq(p.returncode, 1, "push to a destination that is down: exit status")
        C.eq(len(lines), 6, f"push to a destination that is down: one line per attempt: "
             f"{p.stderr.strip()[:600]}")
        C.check(all(down in l for l in lines) and "gave up after 6 attempts" in lines[-1],
                f"the lines name the destination and say it gave up: {lines[-1:]}")
        C.eq(progress(dbs[sa], down), {}, "no progress recorded for a destination down")

        # --follow beside a run being written (as live writes): its rows are shipped while
        # the writer holds the database, the run again once it ended; SIGTERM ends push, 0
        proc = spawn([BINARY, "push", "--follow", "--db", dbs[sb], "--clickhouse", url1,
                      "--batch", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
        head, tail = stream_pcap(os.path.join(srcdir, "tests", "pcap", "paths",
                                              "direct-vs-edge.pcap"))
        writer, run_id = start_writer(dbs[sb], sb, head)
        deadline = time.monotonic() + 60
        seen = (0, 0)
        while time.monotonic() < deadline:
            seen = ch1.rows(f"SELECT count(), countIf(finished_at IS NULL) FROM runs FINAL"
                            f" WHERE sensor = '{sb}' AND id = {run_id}")[0]
            got = ch1.rows(f"SELECT count() FROM exchanges FINAL WHERE sensor = '{sb}'"
                           f" AND run_id = {run_id}")[0][0]
            if seen == (1, 1) and got > 0:
                break
            time.sleep(0.2)
        C.eq(seen, (1, 1), "push --follow: the run being written is in ClickHouse, unfinished")
        C.check(got > 0, "push --follow: exchanges of the run being written are shipped")
        C.check(progress(dbs[sb], url1).get("runs", 0) < run_id,
                f"progress does not pass a run being written: {progress(dbs[sb], url1)}")
        live = progress(dbs[sb], url1)
        C.check(live.get("exchanges:live", "") != "",
                f"how far the run being written was sent is kept: {live}")
        # push killed and started again while the run is still written: what went is
        # not sent again (nothing new is committed while the writer waits for input)
        # every table of the run: headers and violations follow their exchanges, so a
        # slow (sanitizer) build can be caught up on exchanges and not yet on them
        lite_count = {
            "flows": "SELECT COUNT(*) FROM flows WHERE run_id = ?",
            "exchanges": "SELECT COUNT(*) FROM exchanges WHERE run_id = ?",
            "headers": "SELECT COUNT(*) FROM headers h JOIN exchanges e"
                       " ON e.id = h.exchange_id WHERE e.run_id = ?",
            "violations": "SELECT COUNT(*) FROM violations WHERE run_id = ?",
        }

        def caught_up():
            with sqlite3.connect(dbs[sb]) as c:
                want = [c.execute(q, (run_id,)).fetchone()[0] for q in lite_count.values()]
            got = [ch1.rows(f"SELECT count() FROM {t} FINAL WHERE sensor = '{sb}'"
                            f" AND run_id = {run_id}")[0][0] for t in lite_count]
            return got == want
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not caught_up():
            time.sleep(0.2)
        C.check(caught_up(), "push --follow: caught up with the run being written")
        proc.kill()
        proc.communicate()
        proc = spawn([BINARY, "push", "--follow", "--db", dbs[sb], "--clickhouse", url1,
                      "--batch", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        C.eq(proc.returncode, 0, f"push --follow restarted: exit status ({err.strip()[:300]})")
        C.check(all(f"{t} 0" in out for t in ("flows", "exchanges", "headers", "hops")),
                f"a restarted push sends the live run's rows only once: {out.strip()}")
        proc = spawn([BINARY, "push", "--follow", "--db", dbs[sb], "--clickhouse", url1,
                      "--batch", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
        writer.stdin.write(tail)
        writer.stdin.close()
        C.eq(writer.wait(timeout=TIMEOUT), 0, "the writer's analyze ended")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if progress(dbs[sb], url1).get("runs", 0) >= run_id:
                break
            time.sleep(0.2)
        C.eq(progress(dbs[sb], url1).get("runs", 0), run_id,
             "progress passes the run once it ended")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        C.eq(proc.returncode, 0, f"push --follow: exit status at SIGTERM ({err.strip()[:300]})")
        check_tables(ch1, dbs)
        check_views(ch1, merged_db(os.path.join(top, "merged2.db"), dbs[sa], dbs[sb]),
                    runs_of(dbs))

        # a writer killed half-way leaves its run unfinished for ever: once no process
        # holds the database, push takes the run as it is and moves past it
        writer, run_id = start_writer(dbs[sb], sb, head)
        writer.kill()
        writer.wait()
        p = run(["push", "--db", dbs[sb], "--clickhouse", url1])
        C.eq(p.returncode, 0, f"push after a killed writer: {p.stderr.strip()[:300]}")
        with sqlite3.connect(dbs[sb]) as c:
            C.eq(c.execute("SELECT finished_at FROM runs WHERE id = ?", (run_id,)).fetchone(),
                 (None,), "the killed writer's run is unfinished")
        C.eq(progress(dbs[sb], url1).get("runs", 0), run_id,
             "progress passes an unfinished run no process writes")
        check_tables(ch1, dbs)
    finally:
        for proc in CHILDREN:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for s in servers:
            s.stop()
        shutil.rmtree(top, ignore_errors=True)
    print(f"{C.checks} checks, {C.failures} failed")
    return 1 if C.failures else 0


if __name__ == "__main__":
    sys.exit(main())
