#!/usr/bin/env python3
"""oracle.py: a slow, independent reading of a capture's Expect verdicts.

    oracle.py [--timeline] [--no-wait-ms 5] [--stall-ms 1000] [--retry-window 30] FILE

Prints the .expected TSV (flow, seq, method, uri, interim, status, verdict, flags) that
DESIGN.md's rules give for FILE, as read by this script: tshark supplies the TCP
segments (tcp.payload), the script reassembles each direction itself, parses HTTP/1.x
heads and bodies, and times every exchange from the segment that completed its request
head (t_hdr). --timeline also prints, per exchange, wait_ms / continue_ms / final_ms,
body bytes and the longest pause inside the body.

It is a cross-check for the hand-checked tests/pcap/*.expected files (make-corpus.sh
runs it after every capture and warns when it disagrees), not a second analyzer: no
caps, no hostile-input care, Python speed. Interpretations where DESIGN.md is silent are
listed in tests/capture/README.md ("How the expected verdicts were derived").
"""
import argparse
import re
import subprocess
import sys

REQ_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/(1\.[01])\r?$")
METHOD_START = re.compile(rb"(?:GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|TRACE|CONNECT) ")

FIELDS = ["frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
          "tcp.seq_raw", "tcp.len", "tcp.flags.syn", "tcp.flags.fin", "tcp.flags.reset",
          "tcp.payload", "tcp.ack_raw", "tcp.flags.ack"]


def read_segments(path):
    cmd = ["tshark", "-r", path, "-Y", "tcp && !icmp && !icmpv6", "-T", "fields",
           "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        v = line.split("\t")
        yield {
            "t": float(v[0]), "stream": int(v[1]), "src": (v[2] or v[3], int(v[4])),
            "seq": int(v[5]), "len": int(v[6] or 0), "syn": v[7] in ("1", "True"),
            "fin": v[8] in ("1", "True"), "rst": v[9] in ("1", "True"),
            "payload": bytes.fromhex(v[10].replace(":", "")) if v[10] else b"",
            "ack": int(v[11]) if v[12] in ("1", "True") and v[11] else None,
        }


def before(a, b):
    """a < b in sequence space."""
    return 0 < ((b - a) & 0xFFFFFFFF) < 0x80000000


class Direction:
    """In-order delivery of one direction's bytes; holes become gaps when later data is
    still waiting at the end or when the stream closes."""

    def __init__(self):
        self.next = None
        self.pending = {}

    def segment(self, seg):
        out = []
        seq = seg["seq"]
        if seg["syn"]:
            self.next = (seq + 1) & 0xFFFFFFFF
            return out
        if self.next is None:
            self.next = seq
        data = seg["payload"]
        if data:
            off = (seq - self.next) & 0xFFFFFFFF
            if off >= 0x80000000:                       # old data (retransmission)
                skip = (self.next - seq) & 0xFFFFFFFF
                data, seq = data[skip:], self.next
                off = 0
            if data:
                self.pending[seq] = data
        while self.next in self.pending:
            d = self.pending.pop(self.next)
            out.append(("data", d))
            self.next = (self.next + len(d)) & 0xFFFFFFFF
        if seg["fin"] and self.next == (seg["seq"] + seg["len"]) & 0xFFFFFFFF:
            self.next = (self.next + 1) & 0xFFFFFFFF        # the FIN's sequence number
        return out

    def acked(self, ack):
        """The peer acknowledged up to ack: bytes below it that were never captured are
        lost, so deliver what waits behind the holes up to there."""
        if self.next is None or ack is None:
            return []
        ahead = (ack - self.next) & 0xFFFFFFFF
        if ahead == 0 or ahead >= 0x80000000:
            return []
        return self.flush(limit=ack)

    def flush(self, limit=None):
        """Deliver what waits behind holes (all of it, or what lies below limit),
        announcing each hole as a gap."""
        out = []
        while self.pending:
            seq = min(self.pending, key=lambda s: (s - self.next) & 0xFFFFFFFF)
            if limit is not None and not before(seq, limit):
                break
            if seq != self.next:
                out.append(("gap", (seq - self.next) & 0xFFFFFFFF))
                self.next = seq
            while self.next in self.pending:
                d = self.pending.pop(self.next)
                out.append(("data", d))
                self.next = (self.next + len(d)) & 0xFFFFFFFF
        if limit is not None and before(self.next, limit):
            out.append(("gap", (limit - self.next) & 0xFFFFFFFF))
            self.next = limit
        return out


class Exchange:
    def __init__(self, flow, seq, t):
        self.flow, self.seq, self.t_first = flow, seq, t
        self.method = self.uri = None
        self.version = "1.1"
        self.hdrs = {}
        self.t_hdr = None
        self.cl = None
        self.chunked = False
        self.body_bytes = 0
        self.body_times = []          # arrival time of every body data chunk
        self.body_first = None
        self.same_segment = False
        self.req_done = False
        self.abandoned = False        # declared body never sent (new request instead)
        self.interims = []            # (code, t)
        self.final = None             # (code, t)
        self.final_done_t = None
        self.resp_hdrs = {}
        self.flags = set()
        self.client_ip = self.server = None
        self.retry_of = None

    def has_content(self):
        return self.chunked or (self.cl or 0) > 0

    def expect(self):
        return self.hdrs.get("expect")

    def expect100(self):
        e = self.expect()
        return e is not None and e.strip().lower() == "100-continue"


def parse_head(block):
    lines = block.split(b"\r\n")
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs.setdefault(k.strip().lower().decode("latin-1"), v.strip().decode("latin-1"))
    return lines[0], hdrs


class Flow:
    def __init__(self, idx, client, server, opts):
        self.idx, self.client, self.server, self.opts = idx, client, server, opts
        self.dirs = {client: Direction(), server: Direction()}
        self.ex = []
        self.cbuf = b""
        self.cstate = "head"          # head | body | garbage
        self.cur = None               # exchange whose request is being parsed
        self.chunk_left = None        # chunked body decoding state
        self.chunk_state = "size"
        self.sbuf = b""
        self.sstate = "head"          # head | body | close-body | garbage
        self.resp_left = 0
        self.resp_chunked = False
        self.resp_ex = None
        self.gap_pending_c = False
        self.server_fin = None
        self.client_fin = None
        self.rst = None
        self.resync_next = False

    # ---------------------------------------------------------------- client side
    def open_exchanges(self):
        return [e for e in self.ex if e.method and e.final_done_t is None]

    def client_data(self, d, t):
        while d:
            if self.cstate == "body":
                d = self.client_body(d, t)
                continue
            if self.cstate == "garbage":
                m = re.search(rb"(?:^|\n)" + METHOD_START.pattern, self.cbuf + d)
                buf = self.cbuf + d
                if not m:
                    self.cbuf = buf[-16:]
                    return
                start = m.start() + (1 if buf[m.start():m.start() + 1] == b"\n" else 0)
                d, self.cbuf = buf[start:], b""
                self.cstate = "head"
                self.resync_next = True
                continue
            # head
            buf = self.cbuf + d
            if self.cur is None or self.cur.req_done or self.cur.t_hdr is not None:
                self.new_request(t)
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.cbuf = buf
                return
            line, hdrs = parse_head(buf[:end])
            m = REQ_LINE.match(line)
            e = self.cur
            if not m:
                self.cstate, self.cbuf = "garbage", b""
                self.ex.remove(e)
                self.cur = None
                d = buf[end + 4:]
                continue
            e.method, e.uri, e.version = (m.group(1).decode(), m.group(2).decode(),
                                          m.group(3).decode())
            e.hdrs, e.t_hdr = hdrs, t
            if "via" in hdrs:
                e.flags.add("via_proxy")
            te = hdrs.get("transfer-encoding", "").lower()
            e.chunked = "chunked" in te
            if "content-length" in hdrs and not e.chunked:
                e.cl = int(hdrs["content-length"])
            rest = buf[end + 4:]
            self.cbuf = b""
            prev = [x for x in self.ex if x is not e and x.method]
            if prev and prev[-1].final_done_t is None:
                e.flags.add("pipelined")
            if e.has_content():
                self.cstate = "body"
                self.chunk_state, self.chunk_left = "size", None
                if rest:
                    e.same_segment = True
            else:
                e.req_done = True
            d = rest

    def new_request(self, t):
        e = Exchange(self.idx, len(self.ex), t)
        e.client_ip, e.server = self.client[0], self.server
        if self.resync_next:
            e.flags.add("resync")
            self.resync_next = False
        if self.gap_pending_c:
            e.flags.add("gap")
            self.gap_pending_c = False
        self.ex.append(e)
        self.cur = e

    def client_body(self, d, t):
        e = self.cur
        if e.body_bytes == 0 and e.final is not None and not e.same_segment \
                and METHOD_START.match(d):
            # a final answer came first and the client moved on: a new request, not body
            e.abandoned, e.req_done = True, True
            self.cstate = "head"
            return d
        if not e.chunked:
            n = min(len(d), e.cl - e.body_bytes)
            self.note_body(e, n, t)
            if e.body_bytes >= e.cl:
                e.req_done, self.cstate = True, "head"
            return d[n:]
        # chunked: count chunk data bytes only
        i = 0
        while i < len(d) and not e.req_done:
            if self.chunk_state == "size":
                j = d.find(b"\n", i)
                self.cbuf += d[i:] if j < 0 else d[i:j + 1]
                if j < 0:
                    return b""
                i = j + 1
                size = int(self.cbuf.strip().split(b";")[0] or b"0", 16)
                self.cbuf = b""
                self.note_body(e, 0, t)
                if size == 0:
                    self.chunk_state = "trailer"
                else:
                    self.chunk_state, self.chunk_left = "data", size
            elif self.chunk_state == "data":
                n = min(len(d) - i, self.chunk_left)
                self.note_body(e, n, t)
                self.chunk_left -= n
                i += n
                if self.chunk_left == 0:
                    self.chunk_state = "crlf"
            elif self.chunk_state == "crlf":
                j = d.find(b"\n", i)
                if j < 0:
                    return b""
                i, self.chunk_state = j + 1, "size"
            else:                                       # trailer, until an empty line
                j = d.find(b"\n", i)
                if j < 0:
                    return b""
                line = self.cbuf + d[i:j + 1]
                self.cbuf, i = b"", j + 1
                if line.strip() == b"":
                    e.req_done, self.cstate = True, "head"
        return d[i:]

    def note_body(self, e, n, t):
        if e.body_first is None:
            e.body_first = t
        if not e.body_times or e.body_times[-1] != t:
            e.body_times.append(t)
        e.body_bytes += n

    # ---------------------------------------------------------------- server side
    def server_data(self, d, t):
        while d:
            if self.sstate == "body":
                n = min(len(d), self.resp_left)
                self.resp_left -= n
                d = d[n:]
                if self.resp_left == 0:
                    self.resp_ex.final_done_t = t
                    self.sstate = "head"
                continue
            if self.sstate == "chunked":
                self.sbuf += d
                d = b""
                while True:
                    j = self.sbuf.find(b"\r\n")
                    if j < 0:
                        break
                    size = int(self.sbuf[:j].split(b";")[0] or b"0", 16)
                    if size == 0:
                        k = self.sbuf.find(b"\r\n\r\n", j)
                        if k < 0:
                            break
                        d, self.sbuf = self.sbuf[k + 4:], b""
                        self.resp_ex.final_done_t = t
                        self.sstate = "head"
                        break
                    if len(self.sbuf) < j + 2 + size + 2:
                        break
                    self.sbuf = self.sbuf[j + 2 + size + 2:]
                continue
            if self.sstate == "close-body":
                return
            buf = self.sbuf + d
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.sbuf = buf
                return
            line, hdrs = parse_head(buf[:end])
            self.sbuf, d = b"", buf[end + 4:]
            parts = line.split(b" ")
            code = int(parts[1])
            pend = [e for e in self.ex if e.method and e.final is None]
            if pend:
                e = pend[0]
            else:                                       # an answer to a request not seen
                e = Exchange(self.idx, len(self.ex), t)
                e.client_ip, e.server = self.client[0], self.server
                if self.gap_pending_c or any(x.flags & {"gap"} for x in self.ex[-1:]):
                    e.flags.add("gap")
                e.method = e.uri = "-"
                e.t_hdr = None
                self.ex.append(e)
            if "via" in hdrs:
                e.flags.add("via_proxy")
            if code < 200:
                e.interims.append((code, t))
                continue
            e.final, e.resp_hdrs = (code, t), hdrs
            self.resp_ex = e
            if e.method == "HEAD" or code in (204, 304):
                e.final_done_t = t
            elif "chunked" in hdrs.get("transfer-encoding", "").lower():
                self.sstate = "chunked"
            elif "content-length" in hdrs:
                self.resp_left = int(hdrs["content-length"])
                if self.resp_left == 0:
                    e.final_done_t = t
                else:
                    self.sstate = "body"
            else:
                self.sstate = "close-body"

    # ---------------------------------------------------------------- events
    def gap(self, who, n, t):
        if who == self.client:
            e = self.cur
            if e is not None and not e.req_done and e.t_hdr is not None:
                e.flags.add("gap")
                if self.cstate == "body" and not e.chunked:
                    skip = min(n, e.cl - e.body_bytes)
                    e.body_bytes += skip
                    if e.body_bytes >= e.cl:
                        e.req_done, self.cstate = True, "head"
                    n -= skip
                if n:
                    self.cstate = "garbage"
            else:
                self.gap_pending_c = True
                self.cstate, self.cbuf = "garbage", b""
        else:
            for e in self.open_exchanges()[:1]:
                e.flags.add("gap")
            self.sstate, self.sbuf = "garbage", b""

    def close(self, who, t, rst):
        if rst and self.rst is None:
            self.rst = (who, t)
        if who == self.server and self.server_fin is None:
            self.server_fin = t
        if who == self.client and self.client_fin is None:
            self.client_fin = t
        if who == self.server and self.sstate == "close-body" and self.resp_ex:
            self.resp_ex.final_done_t = t

    def finish(self, t_end):
        for e in self.ex:
            if e.method == "-":
                continue
            if e.final is None:
                e.flags.add("no_final")
            end_t = e.final_done_t
            if self.rst and (end_t is None or self.rst[1] <= end_t or not e.req_done):
                e.flags.add("conn_reset")
            if e.has_content() and not e.req_done and not e.abandoned and e.body_bytes > 0:
                e.flags.add("partial_body")
            # the server's FIN or RST came while the body was under way (begun, not
            # complete) and the client had not closed
            sf = self.server_fin
            if sf is not None and (self.client_fin is None or self.client_fin > sf) \
                    and e.body_first is not None and e.body_first <= sf \
                    and (not e.req_done or e.body_times[-1] > sf):
                e.flags.add("server_closed")


def verdict(e, opts):
    if e.retry_of is not None:
        return "retry_after_417"
    exp = e.expect()
    if e.method == "-":
        return "-"      # an orphan response: no request, no verdict
    if exp is not None and not e.expect100():
        return "unsupported_expectation"
    if e.final and e.final[0] == 417:
        return "expectation_failed"
    if exp is None:
        return "unsolicited_100" if any(c == 100 for c, _ in e.interims) else "plain"
    if not e.has_content():
        return "expect_without_body"
    if e.version == "1.0":
        return "http10_expect"
    first100 = next((t for c, t in e.interims if c == 100), None)
    body = e.body_bytes > 0 and not e.abandoned
    if e.final and (e.body_first is None or e.final[1] < e.body_first):
        return "body_after_final" if body else "early_final"
    if body and first100 is not None and first100 <= e.body_first:
        return "continue_ok"
    if body and (e.same_segment or (e.body_first - e.t_hdr) * 1000 <= opts.no_wait_ms):
        return "no_wait"
    if body and first100 is not None:
        return "late_100"
    if body:
        return "timeout_fallback"
    return "incomplete"


def analyse(path, opts):
    flows, order = {}, []
    t_end = 0.0
    for seg in read_segments(path):
        t_end = max(t_end, seg["t"])
        st = seg["stream"]
        if st not in flows:
            if not seg["syn"] or seg["ack"] is not None:
                continue            # not opened by a SYN in the capture: not judged here
            flows[st] = {"client": seg["src"], "segs": []}
            order.append(st)
        flows[st]["segs"].append(seg)
    result = []
    for st in order:
        segs = flows[st]["segs"]
        client = flows[st]["client"]
        server = next((s["src"] for s in segs if s["src"] != client), None)
        if server is None:
            continue
        f = Flow(None, client, server, opts)
        for seg in segs:
            who = seg["src"]
            other = server if who == client else client
            for kind, v in f.dirs[other].acked(seg["ack"]):
                feed(f, other, kind, v, seg["t"])
            for kind, v in f.dirs[who].segment(seg):
                feed(f, who, kind, v, seg["t"])
            if seg["fin"] or seg["rst"]:
                for kind, v in f.dirs[who].flush():
                    feed(f, who, kind, v, seg["t"])
                f.close(who, seg["t"], seg["rst"])
        for who in (client, server):
            for kind, v in f.dirs[who].flush():
                feed(f, who, kind, v, t_end)
        f.finish(t_end)
        if any(e.method for e in f.ex):
            f.idx = len(result)
            for i, e in enumerate(f.ex):
                e.flow, e.seq = f.idx, i
            result.append(f)
    exchanges = [e for f in result for e in f.ex]
    by_time = sorted(exchanges, key=lambda e: e.t_first)

    def same_request(e):   # what a retry must repeat of the 417'd request
        return (e.client_ip, e.server, e.method, e.uri, e.hdrs.get("host", "").lower(),
                "chunked" if e.chunked else e.cl)
    used = set()           # a 417 links one retry: the first matching request after it
    for e in by_time:
        for p in by_time:
            if p is e or p.t_first >= e.t_first or not p.final or p.final[0] != 417 \
                    or id(p) in used or p.method == "-":
                continue
            if same_request(p) == same_request(e) \
                    and e.t_first - p.t_first <= opts.retry_window:
                e.retry_of = p
                used.add(id(p))
                break
        if e.retry_of is not None and e.retry_of.body_bytes > 0 and e.body_bytes > 0:
            e.flags.add("duplicate_body")
        if e.retry_of is not None and (not e.final or e.final[0] >= 400):
            e.flags.add("retry_failed")
    for e in exchanges:
        if e.version == "1.0" and e.interims:
            e.flags.add("http10_1xx")
        if len(e.interims) > 1:
            e.flags.add("multiple_1xx")
        first100 = next((t for c, t in e.interims if c == 100), None)
        if e.expect100() and e.body_first is not None and first100 is not None \
                and e.body_first < first100 and not e.abandoned:
            e.flags.add("late_100")
        pauses = [b - a for a, b in zip(e.body_times, e.body_times[1:])]
        e.max_pause = max(pauses) if pauses else 0.0
        if e.max_pause * 1000 > opts.stall_ms:
            e.flags.add("body_stall")
        e.verdict = verdict(e, opts)
        if e.method == "-":
            e.flags.add("orphan_response")
    return exchanges


def feed(f, who, kind, v, t):
    if kind == "gap":
        f.gap(who, v, t)
    elif who == f.client:
        f.client_data(v, t)
    else:
        f.server_data(v, t)


def ms(a, b):
    return "-" if a is None or b is None else "%.1f" % ((a - b) * 1000)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--timeline", action="store_true")
    p.add_argument("--no-wait-ms", type=float, default=5)
    p.add_argument("--stall-ms", type=float, default=1000)
    p.add_argument("--retry-window", type=float, default=30)
    opts = p.parse_args()
    ex = analyse(opts.file, opts)
    print("flow\tseq\tmethod\turi\tinterim\tstatus\tverdict\tflags")
    for e in ex:
        print("\t".join(str(x) for x in (
            e.flow, e.seq, e.method, e.uri,
            ",".join(str(c) for c, _ in e.interims) or "-",
            e.final[0] if e.final else "-", e.verdict,
            ",".join(sorted(e.flags)) or "-")))
        if opts.timeline:
            first100 = next((t for c, t in e.interims if c == 100), None)
            print("#\twait_ms=%s continue_ms=%s final_ms=%s body=%d/%s%s max_pause_ms=%.1f%s" % (
                ms(e.body_first, e.t_hdr), ms(first100, e.t_hdr),
                ms(e.final and e.final[1], e.t_hdr), e.body_bytes,
                "chunked" if e.chunked else e.cl, " same_segment" if e.same_segment else "",
                e.max_pause * 1000, " abandoned" if e.abandoned else ""))


if __name__ == "__main__":
    main()
