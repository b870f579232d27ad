#!/usr/bin/env python3
"""Conformance against other projects' test captures (../shared/corpus/peers).

check_peers.py BINARY PEERS_DIR

For every capture listed in PEERS_DIR/expect.tsv, run `expectscope analyze --list` and
compare with what the peers' own suites and tshark saw (MANIFEST.md): the number of
requests carrying Expect, of 100 responses and of 417 responses must match exactly;
the number of requests must match too, except in malformed captures, where tshark,
Zeek and suricata count broken requests each their own way (not checked), and in
smuggling tests, where it must lie between tshark's count and Zeek's. A few captures also have their verdicts checked.
Files that are not captures must fail with exit 1 and a one-line error.

Then every readable capture goes through once more, all in one run into a database, and
the largest RSS of all these runs must stay under MAX_RSS_KB (CI runs this under ASan
and UBSan: no crash, no leak, bounded memory).

Exits 77 (CTest: skipped) when PEERS_DIR does not exist; 0 when all match; 1 otherwise.
"""
import csv
import os
import resource
import subprocess
import sys
import tempfile

# Captures whose HTTP exchanges must get these verdicts (with these flags), per the
# peer's own description of what happens on the wire (MANIFEST.md).
VERDICTS = {
    # Zeek baseline: POST, info_code=100, status 200
    "zeek/Traces/http/100-continue.pcap": [("continue_ok", "")],
    # 3 Expect POSTs, each 100 then 200; the other 7 requests have no Expect
    "zeek/Traces/http/http-body-match.pcap": [("continue_ok", "")] * 3 + [("plain", "")] * 7,
    # suricata: two 100 Continue before the 200
    "suricata-verify/tests/http-multiple100/input.pcap": [("continue_ok", "multiple_1xx")],
    # nDPI: the client sends the body before the 100 arrives, then 100, then 200
    "nDPI/tests/cfgs/default/pcap/ipp.pcap": [("no_wait", "late_100")] * 4,
    # Zeek weird HTTP_content_length_0_and_expect_100_cont; no server side
    "zeek/Traces/http/261/variant-07-expect_100_cl0.pcap": [
        ("expect_without_body", "no_final"), ("plain", "no_final,pipelined")],
}

# Captures we do not read, and why; they must fail cleanly (exit 1, one line).
UNREADABLE = {
    "tcpdump/tests/arcnet-rfc1051-arp-icmp-http.pcap": "unsupported link type",
}


# Peak memory any single capture may take (KiB). Generous: under ASan the shadow and
# the quarantine add hundreds of MB; the point is that no capture makes it run away.
MAX_RSS_KB = 1024 * 1024
peak = {"kb": 0, "file": None}


def run_measured(args):
    """Run; return exit status, stdout, stderr and the largest RSS (KiB) of any child so
    far: when it grows, this run is the one that grew it."""
    p = subprocess.run(args, capture_output=True, text=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return p.returncode, p.stdout, p.stderr, rss


def analyze(binary, path):
    rc, out, err, rss = run_measured([binary, "analyze", "--no-db", "--list", "-q", path])
    if rss > peak["kb"]:
        peak.update(kb=rss, file=path)
    rows = list(csv.DictReader(out.splitlines(), delimiter="\t",
                               quoting=csv.QUOTE_NONE)) if rc == 0 else []
    return rc, err, rows


def flags(s):
    return ",".join(sorted(f for f in s.split(",") if f and f != "-"))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, root = sys.argv[1:]
    index = os.path.join(root, "expect.tsv")
    if not os.path.exists(index):
        print(f"{root}: no peer corpus here; skipped")
        return 77
    with open(index, newline="") as f:
        cases = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    failed = 0
    for case in cases:
        name = case["file"]
        notes = case["notes"]
        rc, err, rows = analyze(binary, os.path.join(root, name))
        problems = []
        if "INVALID_FILE" in notes or name in UNREADABLE:
            want = UNREADABLE.get(name, "")
            if rc != 1 or err.count("\n") != 1 or name not in err or want not in err:
                problems.append(f"want exit 1 with one line naming it, got {rc}: {err!r}")
        elif rc != 0:
            problems.append(f"exit {rc}: {err.strip()}")
        else:
            got = {
                "expect_headers": sum(r["expect"] != "-" for r in rows),
                "responses_100": sum(r["interim"].split(",").count("100") for r in rows),
                "responses_417": sum(r["status"] == "417" for r in rows),
            }
            for key, value in got.items():
                if value != int(case[key]):
                    problems.append(f"{key}: {value}, peers say {case[key]}")
            requests = sum(r["method"] != "-" for r in rows)
            want = int(case["http_requests"])
            if "MALFORMED" in notes:
                pass  # tshark, Zeek and suricata count broken requests differently
            elif "SMUGGLING" in notes:
                # tshark sees the outer request only; Zeek also logs the smuggled one
                peer = 2 if "2 requests" in notes or "2 http.log rows" in notes else want
                if not want <= requests <= peer:
                    problems.append(f"requests: {requests}, peers say {want}..{peer}")
            elif requests != want:
                problems.append(f"requests: {requests}, peers say {want}")
            if name in VERDICTS:
                mine = sorted((r["verdict"], flags(r["flags"])) for r in rows)
                theirs = sorted((v, flags(f)) for v, f in VERDICTS[name])
                if mine != theirs:
                    problems.append(f"verdicts {mine}, want {theirs}")
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
    # Every readable capture again in one run, into a database: the whole pipeline,
    # storage included, over all of them (under the sanitizer build in CI).
    readable = [os.path.join(root, c["file"]) for c in cases
                if "INVALID_FILE" not in c["notes"] and c["file"] not in UNREADABLE]
    with tempfile.TemporaryDirectory(prefix="es-peers-") as tmp:
        db = os.path.join(tmp, "peers.db")
        rc, _, err, rss = run_measured([binary, "analyze", "-q", "--db", db] + readable)
        if rc != 0:
            failed += 1
            print(f"FAIL all peers into one database: exit {rc}: {err.strip()[-2000:]}")
        print(f"all peers into one database: exit {rc}, max RSS {rss} KiB")
        if rss > peak["kb"]:
            peak.update(kb=rss, file="(all, with --db)")
    print(f"peak memory: {peak['kb']} KiB ({peak['file']})")
    if peak["kb"] > MAX_RSS_KB:
        failed += 1
        print(f"FAIL memory: {peak['kb']} KiB > {MAX_RSS_KB} KiB")
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
