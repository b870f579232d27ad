"""What each HAR entry must hold, from the database row of its exchange and its stored
header blocks (docs/export.md "HAR"), independently of web-export/har.c.

rows(db)            every exchange as export reads it (text columns as bytes), by time
stored_blocks(db)   {exchange id: {"request"|"interim"|"response": raw bytes}}
check_entry(check, e, row, blk)   calls check(cond, message) for each expectation
"""
import datetime
import re
import sqlite3

from display import blocks, display as dt


def rows(db, where="1", args=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    con.text_factory = bytes  # captured bytes may be anything: NUL, invalid UTF-8
    out = [dict(r) for r in con.execute(
        "SELECT e.*, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan,"
        " f.l7_protocol, f.end_reason AS flow_end_reason, f.verdict AS flow_verdict,"
        " (SELECT GROUP_CONCAT(rule) FROM (SELECT rule FROM violations v"
        "  WHERE v.exchange_id = e.id ORDER BY v.id)) AS violations"
        " FROM exchanges e LEFT JOIN flows f ON f.id = e.flow_id"
        f" WHERE {where} ORDER BY e.ts, e.id", args)]
    con.close()
    return out


def stored_blocks(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = bytes
    out = {}
    for eid, d, raw in con.execute("SELECT exchange_id, direction, raw FROM headers"):
        out.setdefault(eid, {})[d.decode()] = raw
    con.close()
    return out


def _s(v):
    return None if v is None else dt(v)


def _items(v):
    return [x for x in v.split(b",")] if v else []


def _near(a, b, eps=0.0011):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < eps


def _fields(raw):
    """The fields of the first block of raw, [] when there is none."""
    bl = blocks(raw)
    return bl[0][1] if bl else []


def _records(fields):
    return [{"name": dt(n), "value": dt(v)} for n, v in fields]


def _first(fields, name):
    for n, v in fields:
        if n.lower() == name:
            return v
    return None


def host_ok(h):
    """har.c's url_host_ok: (ok, a bare IPv6 literal)."""
    if h.count(b":") > 1 and not h.startswith(b"["):
        return bool(re.fullmatch(rb"[0-9A-Fa-f:.]+", h)), True
    return bool(re.fullmatch(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(:[0-9]{1,5})?", h)), False


def server(row):
    ip, port = row["server_ip"], row["server_port"]
    if not ip:
        return b"unknown.invalid"
    out = b"[" + ip + b"]" if b":" in ip else ip
    return out + (b":%d" % port if port and port != 80 else b"")


def url(row):
    """The URL a viewer can parse: absolute form as is when its authority is a host,
    else the Host when it is one, else the server's address."""
    u, h, m = row["uri"], row["host"], row["method"]
    a = re.match(rb"^[A-Za-z][A-Za-z0-9+.-]*://", u or b"")
    if a:
        auth = re.match(rb"[^/?#]*", u[a.end():]).group(0)
        ok, v6 = host_ok(auth)
        if ok and not v6:
            return u
        out = a.group(0) + server(row)
        u = u[a.end() + len(auth):]
    else:
        out = b"http://"
        if u and m == b"CONNECT":
            ok, v6 = host_ok(u)
            return out + ((b"[" + u + b"]" if v6 else u) if ok else server(row))
        ok, v6 = host_ok(h) if h else (False, False)
        out += (b"[" + h + b"]" if v6 else h) if ok else server(row)
    if not u or not u.startswith(b"/"):
        out += b"/"
    return out + (u or b"")


def query(u):
    if not u or b"?" not in u:
        return []
    q = u.split(b"?", 1)[1].split(b"#", 1)[0]
    out = []
    for part in q.split(b"&"):
        if part:
            n, _, v = part.partition(b"=")
            out.append({"name": dt(n), "value": dt(v)})
    return out


def _parts(v):
    return [p.strip(b" \t") for p in v.split(b";") if p.strip(b" \t")]


def _pair(p):
    n, _, v = p.partition(b"=")
    return n.strip(b" \t"), v.strip(b" \t")


def cookies(fields, response):
    out = []
    for n, v in fields:
        if n.lower() != (b"set-cookie" if response else b"cookie"):
            continue
        ps = _parts(v)
        if not response:
            for p in ps:
                name, val = _pair(p)
                out.append({"name": dt(name), "value": dt(val)})
            continue
        if not ps:
            continue
        name, val = _pair(ps[0])
        c = {"name": dt(name), "value": dt(val)}
        for a in ps[1:]:
            an, av = _pair(a)
            an = an.lower()
            if an in (b"path", b"domain"):
                c[an.decode()] = dt(av)
            elif an == b"httponly":
                c["httpOnly"] = True
            elif an == b"secure":
                c["secure"] = True
        out.append(c)
    return out


def _status_of(line):
    i = line.find(b" ")
    i = len(line) if i < 0 else i
    while line[i:i + 1] == b" ":
        i += 1
    d = line[i:i + 3]
    if len(d) < 3 or not d.isdigit():
        return None, None
    i += 3
    if line[i:i + 1] == b" ":
        i += 1
    return int(d), line[i:]


def _endpoint(ip, port):
    if ip is None:
        return None
    return (f"[{ip.decode()}]" if b":" in ip else ip.decode()) + f":{port}"


def check_entry(check, e, row, blk):
    i = row["id"]

    def eq(got, want, what):
        return check(got == want, f"entry {i}: {what}: got {got!r}, want {want!r}")

    eq(e["_id"], row["id"], "_id")
    eq(e["_run_id"], row["run_id"], "_run_id")
    eq(e["_seq"], row["seq"], "_seq")
    eq(e["_verdict"], _s(row["verdict"]), "_verdict")
    eq(e["_flags"], [dt(f) for f in _items(row["flags"])], "_flags")
    eq(e["_violations"], [dt(v) for v in _items(row["violations"])], "_violations")
    eq(e["_expect"], _s(row["expect"]), "_expect")
    for name in ("wait_ms", "continue_ms", "final_ms", "body_end_ms", "end_ms"):
        check(_near(e["_" + name], row[name]), f"entry {i}: _{name} {e['_' + name]!r} vs "
                                               f"{row[name]!r}")
    eq(e["_retry_of"], row["retry_of"], "_retry_of")
    eq(e["_interim_count"], row["interim_count"], "_interim_count")
    for name in ("answered_by", "intermediary", "path_evidence"):
        eq(e["_" + name], _s(row[name]), "_" + name)
    eq(e["_client"], _endpoint(row["client_ip"], row["client_port"]), "_client")
    eq(e["_server"], _endpoint(row["server_ip"], row["server_port"]), "_server")
    eq(e["serverIPAddress"], _s(row["server_ip"]) or "", "serverIPAddress")
    eq(e["connection"], str(row["flow_id"]), "connection (the flow)")
    eq(e["_headers"], "captured" if blk else "columns", "_headers")

    # startedDateTime: ts, to the microsecond
    ts = row["ts"] if row["ts"] is not None else row["t_hdr"]
    got = datetime.datetime.strptime(e["startedDateTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    check(abs(got.timestamp() - ts) < 2e-6,
          f"entry {i}: startedDateTime {e['startedDateTime']} vs ts {ts!r}")

    # _interim: interim_codes and interim_ms, with each stored 1xx block's text and fields
    codes = [int(c) for c in _items(row["interim_codes"])]
    times = [float(t) for t in _items(row["interim_ms"])]
    iblocks = blocks(blk.get("interim"))
    want = []
    k = 0
    for n, code in enumerate(codes):
        w = {"status": code, "time": times[n] if n < len(times) else None}
        if k < len(iblocks):
            st, reason = _status_of(iblocks[k][0])
            if st == code:
                w["statusText"] = dt(reason)
                w["headers"] = _records(iblocks[k][1])
                k += 1
            else:
                k = len(iblocks)
        want.append(w)
    got = e["_interim"]
    check(len(got) == len(want) and all(
        g.get("status") == w["status"] and _near(g.get("time"), w["time"]) and
        g.get("statusText") == w.get("statusText") and g.get("headers") == w.get("headers")
        for g, w in zip(got, want)), f"entry {i}: _interim {got!r}, want {want!r}")

    # timings: send + wait + receive from ts to the end of the response
    t = e["timings"]
    eq([t["blocked"], t["dns"], t["connect"], t["ssl"]], [-1, -1, -1, -1],
       "blocked, dns, connect, ssl")
    complete = row["t_hdr"] is not None and row["status"] is not None and \
        row["end_ms"] is not None
    eq(e["_incomplete"], not complete, "_incomplete")
    if complete:
        span = (row["t_hdr"] - row["ts"]) * 1000 + row["end_ms"]
        check(abs(e["time"] - span) < 0.0025,
              f"entry {i}: time {e['time']} vs t_hdr - ts + end_ms = {span:.3f}")
        check(_near(t["receive"], row["end_ms"] - row["final_ms"], 0.0015),
              f"entry {i}: receive {t['receive']} vs end_ms - final_ms")
        check(_near(t["send"] + t["wait"], (row["t_hdr"] - row["ts"]) * 1000 +
                    row["final_ms"], 0.0025),
              f"entry {i}: send + wait {t['send'] + t['wait']} vs to the final status")

    # the request
    rq, rs = e["request"], e["response"]
    eq(rq["method"], _s(row["method"]) or "", "request.method")
    eq(rq["url"], dt(url(row)), "request.url")
    eq(rq["httpVersion"], "HTTP/" + row["http_version"].decode() if row["http_version"]
       else "", "request.httpVersion")
    eq(rq["queryString"], query(row["uri"]), "request.queryString")
    truncated = b"headers_truncated" in _items(row["flags"])
    if "request" in blk:
        fields = _fields(blk["request"])
        eq(rq["headers"], _records(fields), "request.headers (the stored block)")
        eq(rq["cookies"], cookies(fields, False), "request.cookies")
        eq(rq["headersSize"], -1 if truncated else len(blk["request"]), "request.headersSize")
    else:
        want = [{"name": n, "value": _s(row[c])} for n, c in
                (("Host", "host"), ("User-Agent", "user_agent"), ("Expect", "expect"))
                if row[c] is not None]
        if row["content_length"] is not None:
            want.append({"name": "Content-Length", "value": str(row["content_length"])})
        if row["chunked"]:
            want.append({"name": "Transfer-Encoding", "value": "chunked"})
        eq(rq["headers"], want, "request.headers (from the columns)")
        eq(rq["cookies"], [], "request.cookies")
        eq(rq["headersSize"], -1, "request.headersSize")
    eq(rq["bodySize"], -1 if row["t_hdr"] is None else row["body_bytes"], "request.bodySize")

    # the response
    eq(rs["status"], row["status"] or 0, "response.status")
    eq(rs["statusText"], _s(row["reason"]) or "", "response.statusText")
    eq(rs["httpVersion"], "HTTP/" + row["response_version"].decode()
       if row["response_version"] else "", "response.httpVersion")
    eq(rs["bodySize"], -1, "response.bodySize")
    if "response" in blk:
        fields = _fields(blk["response"])
        eq(rs["headers"], _records(fields), "response.headers (the stored block)")
        eq(rs["cookies"], cookies(fields, True), "response.cookies")
        eq(rs["headersSize"], -1 if truncated else len(blk["response"]),
           "response.headersSize")
        ctype, clen = _first(fields, b"content-type"), _first(fields, b"content-length")
        eq(rs["content"].get("mimeType"), dt(ctype) if ctype else "x-unknown",
           "content.mimeType")
        size = int(clen) if clen and clen.isdigit() and len(clen) <= 18 and \
            _first(fields, b"content-encoding") is None else -1
        eq(rs["content"].get("size"), size, "content.size (the declared Content-Length)")
        loc = _first(fields, b"location")
        eq(rs["redirectURL"], dt(loc) if loc is not None else "", "redirectURL")
    else:
        want = [{"name": n, "value": _s(row[c])} for n, c in
                (("Server", "server"), ("Via", "via")) if row[c] is not None]
        eq(rs["headers"], want, "response.headers (from the columns)")
        eq(rs["content"], {"size": -1, "mimeType": "x-unknown"}, "response.content")
        eq(rs["headersSize"], -1, "response.headersSize")
    check("text" not in rs["content"], f"entry {i}: no content.text (no body is stored)")
