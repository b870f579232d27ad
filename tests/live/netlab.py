"""netlab.py: the test bench of tests/live/: two network namespaces joined by a veth
pair, real servers and clients started inside them, and cleanup that leaves nothing.

The shape is tests/capture/make-corpus.sh's (veth pair, MTU 1500, offloads off with
ethtool, permanent neighbour entries, processes started by hand and stopped by PID),
in Python so that the live tests can drive it and look at it between steps. Nothing
here sends a packet anywhere but into the namespaces it created.

  lab = Lab("v")              # namespaces esl-v<PID>-c and esl-v<PID>-s
  lab.up()                    # raises Skip when namespaces cannot be made (not root...)
  p = lab.spawn(lab.ns_s, "nginx", [...])
  ...
  lab.close()                 # stop every process started here (by PID), delete the
                              # namespaces, remove the temporary directory

Names carry the test's PID, so tests can run side by side, and a namespace left by a
killed run (its PID gone) is deleted by the next Lab.up(). Every process is started with
PR_SET_PDEATHSIG, so that a test killed by CTest's timeout does not leave servers behind.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE_DIR = os.path.join(os.path.dirname(HERE), "capture")   # peers.py
PEERS = os.path.join(CAPTURE_DIR, "peers.py")

CLI_IP = "10.233.0.1"
SRV_IP = "10.233.0.2"
NGINX_PORT = 80
NO100_PORT = 8081
REJECT417_PORT = 8082

# tool -> Debian package; scripts/deps.sh test installs them all.
PACKAGES = {"ip": "iproute2", "ethtool": "ethtool", "nginx": "nginx", "curl": "curl",
            "tcpdump": "tcpdump", "tcpreplay": "tcpreplay", "promtool": "prometheus",
            "sqlite3": "sqlite3"}


class Skip(Exception):
    """The bench cannot be built here (no namespaces): the test is skipped, not failed."""


class Missing(Exception):
    """A required test dependency is not installed: the test fails."""


def require(*tools):
    """Raise Missing naming the Debian packages of the tools that are not on PATH."""
    gone = [t for t in tools if not shutil.which(t, path=os.environ.get("PATH", "") +
                                                 ":/usr/sbin:/sbin")]
    if gone:
        pkgs = sorted({PACKAGES.get(t, t) for t in gone})
        raise Missing(f"missing {', '.join(gone)}: install Debian's {' '.join(pkgs)} "
                      "(bash scripts/deps.sh test does)")


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def sh(argv, check=True, **kw):
    """Run a setup command; on failure raise RuntimeError with its stderr."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lab:
    def __init__(self, tag):
        assert re.fullmatch(r"[a-z]", tag)
        pid = os.getpid()
        self.ns_c = f"esl-{tag}{pid}-c"
        self.ns_s = f"esl-{tag}{pid}-s"
        self.if_c = f"esl{tag}{pid}c"      # at most 3+1+7+1 = 12 < 16 characters
        self.if_s = f"esl{tag}{pid}s"
        self.tmp = tempfile.mkdtemp(prefix=f"expectscope-live-{tag}.")
        os.chmod(self.tmp, 0o755)
        self.procs = {}                     # pid -> (name, Popen)
        self.made = []                      # namespaces created

    # ---------------------------------------------------------------- namespaces

    @staticmethod
    def _reap_stale():
        """Delete namespaces of earlier runs of these tests whose process is gone."""
        r = sh(["ip", "netns", "list"], check=False)
        for line in r.stdout.splitlines():
            m = re.match(r"(esl-[a-z](\d+)-[cs])\b", line)
            if m and not _pid_alive(int(m.group(2))):
                sh(["ip", "netns", "del", m.group(1)], check=False)

    def up(self, offloads_off=True):
        """Both namespaces, the veth pair (MTU 1500, offloads off), IPv4 addresses,
        permanent neighbours. IPv6 is off inside, so that no router solicitation or
        multicast report shows up in a capture."""
        require("ip", "ethtool")
        if os.geteuid() != 0:
            raise Skip("network namespaces need root")
        self._reap_stale()
        for ns in (self.ns_c, self.ns_s):
            r = sh(["ip", "netns", "add", ns], check=False)
            if r.returncode != 0:
                raise Skip(f"cannot create a network namespace: ip netns add {ns}: "
                           f"{r.stderr.strip()}")
            self.made.append(ns)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        r = sh(["ip", "link", "add", self.if_c, "netns", self.ns_c, "type", "veth", "peer",
                "name", self.if_s, "netns", self.ns_s], check=False)
        if r.returncode != 0:
            raise Skip(f"cannot create a veth pair: {r.stderr.strip()}")
        for ns, ifc, ip in ((self.ns_c, self.if_c, CLI_IP), (self.ns_s, self.if_s, SRV_IP)):
            sh(["ip", "-n", ns, "link", "set", ifc, "mtu", "1500"])
            if offloads_off:
                sh(["ip", "netns", "exec", ns, "ethtool", "-K", ifc, "tso", "off", "gso",
                    "off", "gro", "off", "tx", "off"])
            sh(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", ifc])
            sh(["ip", "-n", ns, "link", "set", ifc, "up"])
        for ns, ifc, peer_ns, peer_if, peer_ip in (
                (self.ns_c, self.if_c, self.ns_s, self.if_s, SRV_IP),
                (self.ns_s, self.if_s, self.ns_c, self.if_c, CLI_IP)):
            mac = sh(["ip", "netns", "exec", peer_ns, "cat",
                      f"/sys/class/net/{peer_if}/address"]).stdout.strip()
            sh(["ip", "-n", ns, "neigh", "replace", peer_ip, "lladdr", mac, "dev", ifc,
                "nud", "permanent"])
        return self

    def if_stat(self, ns, ifc, name):
        """/sys/class/net/IF/statistics/NAME inside NS."""
        return int(sh(["ip", "netns", "exec", ns, "cat",
                       f"/sys/class/net/{ifc}/statistics/{name}"]).stdout)

    # ---------------------------------------------------------------- processes

    def spawn(self, ns, name, argv, env=None, stdin=subprocess.DEVNULL):
        """Start argv inside namespace ns (None: here), stdout and stderr to
        TMP/NAME.out and TMP/NAME.err. `ip netns exec` execs argv, so the PID is argv's
        own. Returns the Popen."""
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        out = open(os.path.join(self.tmp, name + ".out"), "wb")
        err = open(os.path.join(self.tmp, name + ".err"), "wb")
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=stdin, env=env,
                             preexec_fn=_die_with_parent)
        out.close()
        err.close()
        p.name = name
        self.procs[p.pid] = p
        return p

    def output(self, p):
        """(stdout, stderr) of a process started by spawn(), as text."""
        res = []
        for ext in ("out", "err"):
            with open(os.path.join(self.tmp, f"{p.name}.{ext}"), "rb") as f:
                res.append(f.read().decode("utf-8", "replace"))
        return tuple(res)

    def stop(self, p, sig=signal.SIGTERM, timeout=60):
        """Signal one process started here and wait for it; its exit status (or
        -SIGNAL). A process that does not go within timeout is killed and a
        RuntimeError raised."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.procs.pop(p.pid, None)
                raise RuntimeError(f"{p.name} (pid {p.pid}) ignored signal {sig} for "
                                   f"{timeout} s")
        self.procs.pop(p.pid, None)
        return p.returncode

    def run(self, ns, argv, timeout=120, **kw):
        """Run argv inside ns to its end (a client); the CompletedProcess."""
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_die_with_parent, **kw)

    def close(self):
        for pid, p in list(self.procs.items()):
            if p.poll() is None:
                p.terminate()
        for pid, p in list(self.procs.items()):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        for ns in self.made:
            sh(["ip", "netns", "del", ns], check=False)
        self.made = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---------------------------------------------------------------- servers

    def wait_listen(self, ns, port, proc=None, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = sh(["ip", "netns", "exec", ns, "ss", "-Hltn", f"sport = :{port}"],
                   check=False)
            if r.stdout.strip():
                return
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.name} exited ({proc.returncode}): "
                                   f"{self.output(proc)[1].strip()[-300:]}")
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on port {port} in {ns}")

    def start_nginx(self):
        """nginx on SRV_IP:80 in the server namespace, one process (master_process off,
        so that it is one PID and dies with us). /upload/ takes PUT (the DAV module
        reads the body, so it answers Expect: 100-continue with 100), / serves files."""
        require("nginx")
        d = os.path.join(self.tmp, "nginx")
        www = os.path.join(self.tmp, "www")
        os.makedirs(os.path.join(www, "upload"), exist_ok=True)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello from the expectscope live tests\n")
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {SRV_IP}:{NGINX_PORT};
        root {www};
        client_max_body_size 10m;
        location /upload/ {{ dav_methods PUT; create_full_put_path on; }}
    }}
}}
""")
        p = self.spawn(self.ns_s, "nginx", ["nginx", "-p", d, "-c", conf])
        self.wait_listen(self.ns_s, NGINX_PORT, p)
        return p

    def start_peer_server(self, role, port):
        """peers.py server ROLE on SRV_IP:PORT (no100: never sends 100; reject417: 417s
        every Expect and keeps the connection)."""
        p = self.spawn(self.ns_s, f"peers-{role}",
                       [sys.executable, "-B", PEERS, "server", role, "--listen",
                        f"{SRV_IP}:{port}"])
        self.wait_listen(self.ns_s, port, p)
        return p


# -------------------------------------------------------------------- the database

def ro_connect(db_path):
    """A read-only connection, as a user's sqlite3 shell would have while live writes."""
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)


def query(db_path, sql, args=(), tolerant=False):
    """Rows of one query on a fresh read-only connection; [] when the file is not there.
    With tolerant, also [] while the schema is not there yet (live just started); any
    other error raises."""
    if not os.path.exists(db_path):
        return []
    try:
        db = ro_connect(db_path)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:
        if tolerant:
            return []
        raise


def poll(what, fn, timeout, every=0.25):
    """Call fn until it returns something true; that value, or None after timeout.
    Timeouts only keep a broken run from hanging: nothing asserts on elapsed time."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(every)


def live_running_run(db_path):
    """The id of the live run that is going on now, or None."""
    rows = query(db_path, "SELECT id FROM runs WHERE mode = 'live' AND finished_at IS NULL"
                 " ORDER BY id DESC LIMIT 1", tolerant=True)
    return rows[0][0] if rows else None


SUMMARY_RE = re.compile(
    r"^(?P<iface>\S+): (?P<packets>\d+) packets \((?P<kdrops>\d+) dropped by the kernel, "
    r"(?:(?P<unread>\d+) of them still queued at the stop, )?"
    r"(?P<idrops>\d+) by the interface\), (?P<flows>\d+) flows, (?P<exchanges>\d+) exchanges "
    r"\((?P<problems>\d+) problems\) in (?P<secs>\d+) s; stored as run (?P<run>\d+) in "
    r"(?P<db>.+?)(?:; (?P<ev_written>\d+) evidence pcaps written to (?P<ev_dir>.+) "
    r"\((?P<ev_removed>\d+) removed to stay within bounds, (?P<ev_errors>\d+) write "
    r"errors\))?$")


def proc_status(pid, task=None):
    """/proc/PID[/task/TID]/status as a dict of its fields."""
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
