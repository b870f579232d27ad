#!/usr/bin/env python3
"""Run every query of docs/sql-cookbook.md on the corpus database and compare its
result with the output the document shows.

  check_cookbook.py BINARY SRCDIR [--update]

The corpus database is built as the document says: from SRCDIR,
`expectscope analyze --db DB CAPTURE` for each of tests/pcap/*.pcap in bytewise sorted
order (one run each), DB in a temporary directory that is removed afterwards.

Every ```sql block is run with Python's sqlite3; the ```text block right after it must
hold the result, formatted as:

  - a header line with the column names, then one line per row;
  - values separated by " | "; NULL as nothing; integers in decimal; REAL values
    rounded to 3 decimals and printed as Python's repr (1004.923, 0.1, 200.0);
  - text as stored, except that CR LF (and a lone CR) become a line break, other
    control bytes are shown as \\xNN and line breaks at the end of a value are dropped;
  - trailing spaces removed from every line; a query without rows prints
    "(no rows)" under its header.

Exit status 0 when every block matches, 1 on a difference or a query that fails.
With --update the text blocks are rewritten (or inserted) in place instead.
"""
import difflib
import glob
import os
import sqlite3
import subprocess
import sys
import tempfile

DOC = os.path.join("docs", "sql-cookbook.md")


def text_value(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in s:
        if ch != "\n" and (ord(ch) < 0x20 or ord(ch) == 0x7f):
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out).rstrip("\n")


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 3))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return "x'" + v.hex() + "'"
    return text_value(v)


def format_result(cur):
    names = [d[0] for d in cur.description or []]
    lines = [" | ".join(names)]
    rows = cur.fetchall()
    for row in rows:
        lines.append(" | ".join(cell(v) for v in row))
    if not rows:
        lines.append("(no rows)")
    text = "\n".join(lines)
    return "\n".join(l.rstrip() for l in text.split("\n"))


def parse(lines):
    """The doc's sql blocks: (first line of SQL, SQL, text block span or None, where a
    text block would be inserted). Spans are [start, end) line indexes of the whole
    fenced block."""
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sql":
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                raise ValueError(f"{DOC}:{i + 1}: unterminated ```sql block")
            sql = "\n".join(lines[i + 1:j])
            k = j + 1
            while k < len(lines) and not lines[k].strip():
                k += 1
            span = None
            if k < len(lines) and lines[k].strip() == "```text":
                m = k + 1
                while m < len(lines) and lines[m].strip() != "```":
                    m += 1
                if m == len(lines):
                    raise ValueError(f"{DOC}:{k + 1}: unterminated ```text block")
                span = (k, m + 1)
            blocks.append((i + 1, sql, span, j + 1))
            i = (span[1] if span else j + 1)
        else:
            i += 1
    return blocks


def build_db(binary, srcdir, db_path):
    pcaps = sorted(glob.glob(os.path.join("tests", "pcap", "*.pcap"), root_dir=srcdir))
    if not pcaps:
        raise RuntimeError(f"no captures in {srcdir}/tests/pcap")
    for pcap in pcaps:  # one run each, as a sensor analyses files one by one
        p = subprocess.run([binary, "analyze", "-q", "--db", db_path, pcap], cwd=srcdir,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"analyze {pcap}: exit {p.returncode}: {p.stderr.strip()}")


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, srcdir = os.path.abspath(args[0]), os.path.abspath(args[1])
    doc_path = os.path.join(srcdir, DOC)
    with open(doc_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    try:
        blocks = parse(lines)
    except ValueError as e:
        print(f"FAIL: {e}")
        return 1
    failed = 0
    results = []
    with tempfile.TemporaryDirectory(prefix="es-cookbook-") as tmp:
        db_path = os.path.join(tmp, "corpus.db")
        try:
            build_db(binary, srcdir, db_path)
        except (RuntimeError, subprocess.SubprocessError) as e:
            print(f"FAIL: building the corpus database: {e}")
            return 1
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        for line_no, sql, span, _ in blocks:
            try:
                out = format_result(db.execute(sql))
            except sqlite3.Error as e:
                print(f"FAIL: {DOC}:{line_no}: the query fails: {e}")
                failed += 1
                out = None
            results.append(out)
        db.close()

    if update:
        # rewrite from the end so that earlier line numbers stay valid
        for (line_no, sql, span, after), out in reversed(list(zip(blocks, results))):
            if out is None:
                continue
            new = ["```text"] + out.split("\n") + ["```"]
            if span:
                lines[span[0]:span[1]] = new
            else:
                lines[after:after] = [""] + new
        with open(doc_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        print(f"{DOC}: {len(blocks)} queries, outputs rewritten"
              + (f", {failed} failed" if failed else ""))
        return 1 if failed else 0

    for (line_no, sql, span, _), out in zip(blocks, results):
        if out is None:
            continue
        if span is None:
            print(f"FAIL: {DOC}:{line_no}: no ```text block after the query")
            failed += 1
            continue
        shown = "\n".join(lines[span[0] + 1:span[1] - 1])
        if shown != out:
            failed += 1
            print(f"FAIL: {DOC}:{line_no}: the output differs from the document"
                  " (- document, + query):")
            for d in difflib.unified_diff(shown.split("\n"), out.split("\n"), lineterm="",
                                          n=1):
                print("  " + d)
    if len(blocks) < 14:
        print(f"FAIL: {DOC}: {len(blocks)} queries, want at least 14")
        failed += 1
    print(f"{DOC}: {len(blocks) - failed} of {len(blocks)} queries match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
