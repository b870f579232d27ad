#!/usr/bin/env python3
"""The HTML report in a real browser: headless Chromium, driven over the DevTools
protocol.

  test_html_browser.py BINARY SRCDIR OUTDIR [--docs-shot FILE]

It analyses the real-traffic corpus (tests/pcap/*.pcap, one run per capture) and the
hostile capture (tests/export/hostile_page.py) into one database, exports the HTML report,
opens it from a file:// URL in headless Chromium, and fails on
  - any console message of level error (console.error, an uncaught exception, a
    Content-Security-Policy violation, which Chromium logs as an error), or a dialog
    (alert, confirm) opening;
  - any request but the report's own file (the report must load nothing: a request at
    all is a failure, whether it would have succeeded or not), or a failed load;
and checks that the page has the problem table with a row per problem exchange, the
charts (SVG), a ladder per row, that the inline script ran (under the page's CSP) and
that its filter and sort work. It saves a screenshot of the whole page as
OUTDIR/report.png (and with --docs-shot, a smaller one of the top of the page, the one
docs/export-report.png is made from).

Why the DevTools protocol over a pipe (--remote-debugging-pipe): it is the one way to
see every console message and every request the page makes, with their sources, as
structured events, without a network port (the pipe is two file descriptors, 3 and 4,
carrying NUL-separated JSON) and with nothing but the standard library: no websocket
client is needed. --dump-dom or --enable-logging would show the DOM or a log, but could
not say which requests the page made. Chromium also runs with every host name mapped to
"not found" and a dead proxy, so even a report that asked for something could not reach
the network.

Exit 0 when every check passed, 1 when one failed or the chromium package is missing
(scripts/deps.sh test installs it), 77 (skipped, with the reason) only when Chromium is
installed but cannot start here at all.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hostile_page as hostile  # noqa: E402  (tests/export/hostile_page.py)

TIMEOUT = 120
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return bool(cond)


def chromium_binary():
    """The browser itself (the Debian wrapper script /usr/bin/chromium only adds flags we
    do not want: extensions, remote extension updates)."""
    for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


class Browser:
    """Chromium with --remote-debugging-pipe: we write commands to its fd 3 and read
    answers and events from its fd 4, each a JSON text followed by a NUL."""

    def __init__(self, binary, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium's ends go above 9, so that putting them on 3 and 4 clobbers neither
        to_chrome_r, from_chrome_w = (self._high(to_chrome_r), self._high(from_chrome_w))
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                "--hide-scrollbars", "--window-size=1280,1000", "about:blank"]
        # our two pipe ends go on fds 3 and 4 of the child, where Chromium wants them
        # (not through sh: dash takes no fd number above 9 in a redirection)
        def fds(r=to_chrome_r, w=from_chrome_w):
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4), preexec_fn=fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    @staticmethod
    def _high(fd):
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def stderr_tail(self):
        try:
            self.proc.kill()
            return self.proc.communicate(timeout=10)[1].decode(errors="replace")[-2000:]
        except Exception as e:  # noqa: BLE001 - only for a message
            return f"(no stderr: {e})"

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed its DevTools pipe (it exited)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=30):
        """A command's result; the events that come meanwhile are kept in self.events."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return e
        while True:
            m = self._read_message(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def settle(self, quiet=0.5, timeout=10):
        """Read events until none came for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.events.append(self._read_message(time.monotonic() + quiet))
            except TimeoutError:
                return

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        os.close(self.to_chrome)
        os.close(self.from_chrome)


def build_report(binary, srcdir, tmp):
    db = os.path.join(tmp, "report.db")
    caps = sorted(os.path.join(srcdir, "tests", "pcap", f)
                  for f in os.listdir(os.path.join(srcdir, "tests", "pcap"))
                  if f.endswith(".pcap"))
    hostile_pcap = os.path.join(tmp, "hostile.pcap")
    hostile.write(hostile_pcap)
    for p in caps + [hostile_pcap]:
        r = subprocess.run([binary, "analyze", "-q", "--db", db, p], capture_output=True,
                           timeout=TIMEOUT)
        if r.returncode != 0:
            print(f"FAIL: analyze {p}: {r.stderr.decode()[-300:]}")
            sys.exit(1)
    out = os.path.join(tmp, "report.html")
    r = subprocess.run([binary, "export", "--db", db, "--format", "html", "-o", out],
                       capture_output=True, timeout=TIMEOUT)
    if r.returncode != 0:
        print(f"FAIL: export: {r.stderr.decode()[-300:]}")
        sys.exit(1)
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    problems = con.execute("SELECT COUNT(*) FROM exchanges WHERE verdict NOT IN"
                           " ('plain', 'continue_ok')").fetchone()[0]
    con.close()
    return out, problems


def evaluate(b, session, expr):
    r = b.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
    if "exceptionDetails" in r:
        raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
    return r["result"].get("value")


def screenshot(b, session, path, width, height, scale=1.0):
    b.send("Emulation.setDeviceMetricsOverride",
           {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
           session)
    r = b.send("Page.captureScreenshot",
               {"format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height,
                         "scale": scale}}, session, timeout=60)
    with open(path, "wb") as f:
        f.write(base64.b64decode(r["data"]))


def main():
    args = sys.argv[1:]
    docs_shot = None
    if "--docs-shot" in args:
        i = args.index("--docs-shot")
        docs_shot = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, srcdir, outdir = (os.path.abspath(a) for a in args)
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "chromium"],
                               capture_output=True, text=True)
    chromium = chromium_binary()
    if "install ok installed" not in installed.stdout or not chromium:
        print("FAIL: the Debian package chromium is not installed (bash scripts/deps.sh test"
              " installs it; apt-get install chromium)")
        return 1
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="expectscope-html-browser.") as tmp:
        report, n_problems = build_report(binary, srcdir, tmp)
        url = "file://" + report
        b = Browser(chromium, os.path.join(tmp, "profile"))
        try:
            try:
                version = b.send("Browser.getVersion", timeout=60)
            except (EOFError, TimeoutError, OSError) as e:
                print(f"SKIP: Chromium is installed but cannot start here ({e}):\n"
                      f"{b.stderr_tail()}")
                return 77
            print(f"{version.get('product')} ({chromium})")
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = b.send("Target.attachToTarget",
                             {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                b.send(f"{domain}.enable", {}, session)
            b.events.clear()
            b.send("Page.navigate", {"url": url}, session)
            b.wait_event("Page.loadEventFired", timeout=60)
            b.settle()
            info = evaluate(b, session, """(() => {
                const t = document.getElementById('ptable');
                return {
                  rows: t ? t.tBodies[0].rows.length : -1,
                  svgs: document.querySelectorAll('svg').length,
                  timeline: !!document.getElementById('timeline'),
                  hists: document.querySelectorAll('svg.hist').length,
                  ladders: document.querySelectorAll('section.ladder svg.lad').length,
                  events: document.querySelectorAll('section.ladder g.ev').length,
                  controls: !document.getElementById('pctl').hidden,
                  shown: document.getElementById('pshown').textContent,
                  title: document.title,
                  scripts: document.scripts.length,
                  height: document.documentElement.scrollHeight,
                };
            })()""")
            print(f"page: {info}")
            check(info["rows"] == n_problems,
                  f"the problem table has {info['rows']} rows, want {n_problems}")
            check(info["timeline"] and info["hists"] == 2,
                  f"the timeline and two histograms are SVG in the page: {info}")
            check(info["ladders"] == n_problems and info["events"] >= 2 * n_problems,
                  f"a ladder per problem exchange, with events: {info}")
            check(info["scripts"] == 1, f"one script in the page: {info['scripts']}")
            check(info["controls"] and info["shown"] == f"{n_problems} of {n_problems} shown",
                  f"the inline script ran under the page's CSP: {info}")
            check("pwned" not in info["title"] and "xss" not in info["title"],
                  f"the title is ours: {info['title']!r}")
            # the filter: the rows of one verdict, then some text of a hostile row
            n417 = evaluate(b, session, """(() => {
                const v = document.getElementById('pv');
                v.value = 'expectation_failed';
                v.dispatchEvent(new Event('change'));
                const vis = [...document.querySelectorAll('#ptable tbody tr')]
                  .filter(r => !r.hidden);
                return vis.length === vis.filter(r =>
                  r.dataset.verdict === 'expectation_failed').length ? vis.length : -1;
            })()""")
            want417 = evaluate(b, session, "document.querySelectorAll("
                               "'#ptable tbody tr[data-verdict=expectation_failed]').length")
            check(n417 == want417 and n417 > 0,
                  f"verdict filter: {n417} rows shown, want the {want417} 417s")
            found = evaluate(b, session, """(() => {
                document.getElementById('pv').value = '';
                const q = document.getElementById('pq');
                q.value = '<b>h"o\\'st</b>';
                q.dispatchEvent(new Event('input'));
                return [...document.querySelectorAll('#ptable tbody tr')]
                  .filter(r => !r.hidden).length;
            })()""")
            # the 417 and the unsupported expectation; the third exchange is lf.example
            check(found == 2, f"text filter on the hostile Host shows its 2 rows: {found}")
            # sort by the client's wait, descending: the 1 s fallbacks come first
            order = evaluate(b, session, """(() => {
                document.getElementById('pq').value = '';
                document.getElementById('pq').dispatchEvent(new Event('input'));
                const th = [...document.querySelectorAll('#ptable thead th')]
                  .find(h => h.textContent.startsWith('wait ms'));
                th.click(); th.click();
                const i = th.cellIndex;
                return [...document.querySelectorAll('#ptable tbody tr')].map(r =>
                  r.cells[i].dataset.v === undefined ? null : parseFloat(r.cells[i].dataset.v));
            })()""")
            nums = [v for v in order if v is not None]
            check(nums == sorted(nums, reverse=True) and order[:len(nums)] == nums,
                  f"sorting by wait ms, descending, empty cells last: {order}")
            b.settle(quiet=0.3)
            screenshot(b, session, os.path.join(outdir, "report.png"), 1280,
                       min(info["height"], 16000))
            if docs_shot:
                # the top of the page: headline, timeline, histograms, at 3/5 scale
                top = evaluate(b, session, "Math.round(document.getElementById('top')"
                                           ".getBoundingClientRect().top + scrollY)")
                screenshot(b, session, docs_shot, 1100, top, 0.6)
                print(f"docs screenshot: {docs_shot} ({os.path.getsize(docs_shot)} bytes)")
        finally:
            b.close()
        # what the page did
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                check(False, "console " + p["type"] + ": " +
                      " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                check(False, f"uncaught exception: {p['exceptionDetails']}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                check(False, f"console error ({p['entry'].get('source')}): "
                             f"{p['entry'].get('text')}")
            elif m == "Page.javascriptDialogOpening":
                check(False, f"a dialog opened: {p.get('message')}")
            elif m == "Network.requestWillBeSent":
                check(p["request"]["url"] == url,
                      f"the page requested {p['request']['url'][:200]!r}")
            elif m == "Network.loadingFailed":
                check(False, f"a load failed: {p.get('errorText')} ({p.get('type')})")
        requests = [e for e in b.events if e.get("method") == "Network.requestWillBeSent"]
        check(len(requests) == 1, f"one request (the report itself), got {len(requests)}")
        print(f"screenshot: {os.path.join(outdir, 'report.png')}")
    print(f"browser: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
