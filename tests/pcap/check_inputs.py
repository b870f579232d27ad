#!/usr/bin/env python3
"""Inputs end to end: a real capture split in two, compressed, or on standard input must
give exactly what the capture gives as one plain file.

  check_inputs.py BINARY DIR

For each capture of CAPTURES in DIR (tests/pcap):
  - split by alternating packets into FIRST and SECOND: `analyze --no-db --list SECOND
    FIRST` prints the lines the ORIGINAL prints (the inputs are merged by capture time,
    whatever their order), and `flows SECOND FIRST` those of the two merged here as
    mergecap does (by time, a tie to the input given first): a merge cannot put back
    the order of two packets with the same timestamp (slow-upload has two such pairs,
    and flows counts them as out of order);
  - split into halves, given second half first: the same;
  - `cat ORIGINAL.gz | analyze --no-db --list -`, and the same with xz: the same.

The split and compressed files are written with tests/common/pcapfile.py and Python's
gzip and lzma modules into a temporary directory. Exit status 0 when every output
matches, 1 otherwise (each difference is printed).
"""
import difflib
import gzip
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pcapfile  # noqa: E402  (tests/common/pcapfile.py)

# a 417 and its retry on a second connection; a slow upload of 189 packets; keep-alive
CAPTURES = ["expect-417-retry.pcap", "slow-upload.pcap", "keepalive-mixed.pcap"]
failures = []


def run(binary, args, stdin_path=None):
    """stdout lines of a run that must succeed without a warning."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        p = subprocess.run([binary] + args, stdin=stdin, capture_output=True, timeout=300)
    finally:
        if stdin_path:
            stdin.close()
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0 or "warning" in err:
        failures.append(f"{' '.join(args)}: exit {p.returncode}: {err.strip()}")
    return p.stdout.decode(errors="replace").splitlines()


def same(label, got, want):
    if got == want and len(want) > 1:
        print(f"ok   {label}: {len(want) - 1} lines")
        return
    diff = "\n".join(difflib.unified_diff(want, got, "original", label, lineterm=""))
    failures.append(f"{label}: differs from the original\n{diff or '(no lines)'}")
    print(f"FAIL {label}")


def check(binary, original, tmp):
    name = os.path.basename(original)
    header, e, recs = pcapfile.read(original)
    first, second = os.path.join(tmp, "first.pcap"), os.path.join(tmp, "second.pcap")
    head, tail = os.path.join(tmp, "head.pcap"), os.path.join(tmp, "tail.pcap")
    pcapfile.write(first, header, e, recs[0::2])
    pcapfile.write(second, header, e, recs[1::2])
    pcapfile.write(head, header, e, recs[:len(recs) // 2])
    pcapfile.write(tail, header, e, recs[len(recs) // 2:])
    with open(original, "rb") as f:
        data = f.read()
    gz, xz = os.path.join(tmp, name + ".gz"), os.path.join(tmp, name + ".xz")
    with open(gz, "wb") as f:
        f.write(gzip.compress(data))
    with open(xz, "wb") as f:
        f.write(lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64))

    listing = ["analyze", "--no-db", "--list", "-q"]
    want = run(binary, listing + [original])
    same(f"{name}: SECOND FIRST (alternating packets)", run(binary, listing + [second, first]),
         want)
    same(f"{name}: second half, first half", run(binary, listing + [tail, head]), want)
    same(f"{name}: gzip on standard input", run(binary, listing + ["-"], gz), want)
    same(f"{name}: xz on standard input", run(binary, listing + ["-"], xz), want)
    merged = os.path.join(tmp, "merged.pcap")
    pcapfile.write(merged, header, e, merge([recs[1::2], recs[0::2]]))
    same(f"{name}: flows SECOND FIRST", run(binary, ["flows", "-q", second, first]),
         run(binary, ["flows", "-q", merged]))


def merge(inputs):
    """Records of several inputs by time, a tie to the earlier input, each input's own
    order kept."""
    heads = [0] * len(inputs)
    out = []
    while True:
        best = None
        for k, recs in enumerate(inputs):
            if heads[k] < len(recs):
                r = recs[heads[k]]
                if best is None or (r[0], r[1]) < best[0]:
                    best = ((r[0], r[1]), k)
        if best is None:
            return out
        out.append(inputs[best[1]][heads[best[1]]])
        heads[best[1]] += 1


def main():
    binary, pcap_dir = sys.argv[1:3]
    tmp = tempfile.mkdtemp(prefix="es-inputs-")
    try:
        for name in CAPTURES:
            check(binary, os.path.join(pcap_dir, name), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
