#!/usr/bin/env python3
"""Run expectscope over the committed real-traffic captures and compare with what
they must give.

  check_corpus.py verdicts BINARY DIR   every CASE.pcap with CASE.expected: the verdict and
                                        flags of every exchange (analyze --list)
  check_corpus.py flows BINARY DIR      every CASE.pcap with CASE.conv: flows, packets,
                                        frame bytes and payload bytes each way, as
                                        tshark's conversation statistics counted them

Exit status 0 when every case matches, 1 otherwise (each difference is printed).
"""
import csv
import glob
import os
import subprocess
import sys


def run(binary, args):
    p = subprocess.run([binary] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return list(csv.DictReader(p.stdout.splitlines(), delimiter="\t",
                               quoting=csv.QUOTE_NONE))


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def flags(s):
    return ",".join(sorted(x for x in s.split(",") if x and x != "-")) or "-"


def verdict_rows(binary, pcap):
    rows = run(binary, ["analyze", "--no-db", "--list", "-q", pcap])
    order = {fid: i for i, fid in enumerate(sorted({int(r["flow"]) for r in rows}))}
    out = []
    for r in rows:
        out.append((order[int(r["flow"])], int(r["seq"]), r["method"], r["uri"],
                    r["interim"], r["status"], r["verdict"], flags(r["flags"])))
    return sorted(out)


def expected_verdicts(path):
    return sorted((int(r["flow"]), int(r["seq"]), r["method"], r["uri"], r["interim"],
                   r["status"], r["verdict"], flags(r["flags"])) for r in read_tsv(path))


def flow_rows(binary, pcap):
    return [(r["client"], r["server"], int(r["pkts_c2s"]), int(r["wire_c2s"]),
             int(r["pkts_s2c"]), int(r["wire_s2c"]), int(r["bytes_c2s"]),
             int(r["bytes_s2c"])) for r in run(binary, ["flows", "-q", pcap])]


def expected_flows(path):
    return [(r["client"], r["server"], int(r["frames_c2s"]), int(r["bytes_c2s"]),
             int(r["frames_s2c"]), int(r["bytes_s2c"]), int(r["payload_c2s"]),
             int(r["payload_s2c"])) for r in read_tsv(path)]


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("verdicts", "flows"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, binary, directory = sys.argv[1:]
    suffix = ".expected" if mode == "verdicts" else ".conv"
    cases = sorted(glob.glob(os.path.join(directory, "*" + suffix)))
    failed = 0
    for exp_path in cases:
        pcap = exp_path[: -len(suffix)] + ".pcap"
        name = os.path.basename(pcap)
        try:
            if mode == "verdicts":
                want, got = expected_verdicts(exp_path), verdict_rows(binary, pcap)
            else:
                want, got = expected_flows(exp_path), flow_rows(binary, pcap)
        except Exception as e:  # one broken case must not hide the others
            print(f"FAIL {name}: {e}")
            failed += 1
            continue
        if want != got:
            failed += 1
            print(f"FAIL {name}")
            for row in want:
                if row not in got:
                    print("  missing:   ", "\t".join(map(str, row)))
            for row in got:
                if row not in want:
                    print("  unexpected:", "\t".join(map(str, row)))
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
