#!/usr/bin/env python3
"""check_promtool.py TEST_METRICS: the metrics file of `live --metrics` through promtool.

TEST_METRICS --write FILE writes a realistic file (tests/unit/test_metrics.c: real
verdict names, servers by name among them an IPv6 one, the rest under "other"); then
`promtool check metrics` must accept it with no lint warning at all: it parses the text
exposition format and lints names (counters end in _total, base units, help text).

promtool comes with Debian's prometheus package, which `scripts/deps.sh test` installs:
a machine without it is missing a test dependency, so the test fails. It is skipped
(exit 77) only when promtool is there but cannot do its job, which is outside this
project: it fails on a known-good file or accepts a known-bad one (a broken install,
an incompatible release).
"""
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

GOOD = "# HELP x_total A counter.\n# TYPE x_total counter\nx_total 1\n"
LINT = "# HELP x A counter without _total.\n# TYPE x counter\nx 1\n"


def promtool_check(promtool, text):
    """promtool check metrics on text: (exit status, what it printed)."""
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace")


def main():
    if len(sys.argv) != 2:
        print("usage: check_promtool.py TEST_METRICS", file=sys.stderr)
        return 2
    test_metrics = sys.argv[1]
    promtool = shutil.which("promtool")
    if not promtool:
        print("promtool not found: install Debian's prometheus package "
              "(bash scripts/deps.sh test does)", file=sys.stderr)
        return 1

    # The controls: a promtool that rejects a good file or passes a bad one tells
    # nothing about ours.
    try:
        rc, out = promtool_check(promtool, GOOD)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"skipped: {promtool} does not run here: {e}", file=sys.stderr)
        return SKIP
    if rc != 0 or out.strip():
        print(f"skipped: {promtool} rejects a known-good file (status {rc}): {out.strip()}",
              file=sys.stderr)
        return SKIP
    rc, out = promtool_check(promtool, LINT)
    if rc == 0 or "_total" not in out:
        print(f"skipped: {promtool} does not lint (a counter without _total passed)",
              file=sys.stderr)
        return SKIP

    with tempfile.TemporaryDirectory(prefix="check_promtool-") as tmp:
        path = os.path.join(tmp, "expectscope.prom")
        r = subprocess.run([test_metrics, "--write", path], timeout=120)
        if r.returncode != 0:
            print(f"{test_metrics} --write failed (status {r.returncode})", file=sys.stderr)
            return 1
        with open(path, encoding="utf-8") as f:
            text = f.read()
        failures = []
        # the file is the realistic one it should be
        for want in ('server="[2001:db8:0:1::20]:8443"', 'server="other"',
                     'verdict="timeout_fallback"', "expectscope_build_info{version="):
            if want not in text:
                failures.append(f"the file has no {want}")
        rc, out = promtool_check(promtool, text)
        if rc != 0 or out.strip():
            failures.append(f"promtool check metrics: status {rc}:\n{out.rstrip()}")
        if failures:
            print(f"---- {path} ----\n{text}----", file=sys.stderr)
            for msg in failures:
                print(f"FAIL: {msg}", file=sys.stderr)
            return 1
    print(f"promtool check metrics: {text.count(chr(10))} lines, no error, no warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
