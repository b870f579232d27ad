"""HAR 1.2's structure, written from the spec (Jan Odvarko, "HTTP Archive 1.2",
http://www.softwareishard.com/blog/har-12-spec/): each object's required and optional
members with their types. Members whose name starts with "_" are custom fields, which
the spec allows anywhere; any other member the spec does not name is reported.

check(doc) returns a list of problems, [] when the document is a valid HAR 1.2 log.
"""
import re

ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v):
    return isinstance(v, str)


def _bool(v):
    return isinstance(v, bool)


def _date(v):
    return isinstance(v, str) and ISO8601.match(v) is not None


def _size(v):
    """A size in bytes, or -1 when it is not known."""
    return _int(v) and v >= -1


# object name -> {member: (required, check, what)}
SPEC = {
    "log": {"version": (True, _str, "string"), "creator": (True, "creator", "object"),
            "browser": (False, "creator", "object"), "pages": (False, ["page"], "array"),
            "entries": (True, ["entry"], "array"), "comment": (False, _str, "string")},
    "creator": {"name": (True, _str, "string"), "version": (True, _str, "string"),
                "comment": (False, _str, "string")},
    "page": {"startedDateTime": (True, _date, "ISO 8601 date"), "id": (True, _str, "string"),
             "title": (True, _str, "string"), "pageTimings": (True, "pageTimings", "object"),
             "comment": (False, _str, "string")},
    "pageTimings": {"onContentLoad": (False, _num, "number"), "onLoad": (False, _num, "number"),
                    "comment": (False, _str, "string")},
    "entry": {"pageref": (False, _str, "string"),
              "startedDateTime": (True, _date, "ISO 8601 date"),
              "time": (True, _num, "number"), "request": (True, "request", "object"),
              "response": (True, "response", "object"), "cache": (True, "cache", "object"),
              "timings": (True, "timings", "object"),
              "serverIPAddress": (False, _str, "string"),
              "connection": (False, _str, "string"), "comment": (False, _str, "string")},
    "request": {"method": (True, _str, "string"), "url": (True, _str, "string"),
                "httpVersion": (True, _str, "string"), "cookies": (True, ["cookie"], "array"),
                "headers": (True, ["record"], "array"),
                "queryString": (True, ["record"], "array"),
                "postData": (False, "postData", "object"),
                "headersSize": (True, _size, "integer, -1 if unknown"),
                "bodySize": (True, _size, "integer, -1 if unknown"),
                "comment": (False, _str, "string")},
    "response": {"status": (True, _int, "integer"), "statusText": (True, _str, "string"),
                 "httpVersion": (True, _str, "string"),
                 "cookies": (True, ["cookie"], "array"),
                 "headers": (True, ["record"], "array"),
                 "content": (True, "content", "object"),
                 "redirectURL": (True, _str, "string"),
                 "headersSize": (True, _size, "integer, -1 if unknown"),
                 "bodySize": (True, _size, "integer, -1 if unknown"),
                 "comment": (False, _str, "string")},
    "cookie": {"name": (True, _str, "string"), "value": (True, _str, "string"),
               "path": (False, _str, "string"), "domain": (False, _str, "string"),
               "expires": (False, _date, "ISO 8601 date"),
               "httpOnly": (False, _bool, "boolean"), "secure": (False, _bool, "boolean"),
               "comment": (False, _str, "string")},
    "record": {"name": (True, _str, "string"), "value": (True, _str, "string"),
               "comment": (False, _str, "string")},
    "postData": {"mimeType": (True, _str, "string"), "params": (False, ["param"], "array"),
                 "text": (False, _str, "string"), "comment": (False, _str, "string")},
    "param": {"name": (True, _str, "string"), "value": (False, _str, "string"),
              "fileName": (False, _str, "string"), "contentType": (False, _str, "string"),
              "comment": (False, _str, "string")},
    "content": {"size": (True, _int, "integer"), "compression": (False, _int, "integer"),
                "mimeType": (True, _str, "string"), "text": (False, _str, "string"),
                "encoding": (False, _str, "string"), "comment": (False, _str, "string")},
    "cache": {"beforeRequest": (False, "cacheEntry", "object or null"),
              "afterRequest": (False, "cacheEntry", "object or null"),
              "comment": (False, _str, "string")},
    "cacheEntry": {"expires": (False, _date, "ISO 8601 date"),
                   "lastAccess": (True, _date, "ISO 8601 date"), "eTag": (True, _str, "string"),
                   "hitCount": (True, _int, "integer"), "comment": (False, _str, "string")},
    "timings": {"blocked": (False, _num, "number, -1 if it does not apply"),
                "dns": (False, _num, "number, -1 if it does not apply"),
                "connect": (False, _num, "number, -1 if it does not apply"),
                "send": (True, _num, "number"), "wait": (True, _num, "number"),
                "receive": (True, _num, "number"),
                "ssl": (False, _num, "number, -1 if it does not apply"),
                "comment": (False, _str, "string")},
}


def _object(kind, obj, where, problems):
    if kind == "cacheEntry" and obj is None:
        return
    if not isinstance(obj, dict):
        problems.append(f"{where}: not an object")
        return
    spec = SPEC[kind]
    for name, (required, check, what) in spec.items():
        if name not in obj:
            if required:
                problems.append(f"{where}.{name}: missing")
            continue
        _value(check, obj[name], f"{where}.{name}", what, problems)
    for name in obj:
        if name not in spec and not name.startswith("_"):
            problems.append(f"{where}.{name}: not a HAR 1.2 member (custom ones start with _)")
    if kind == "timings":
        _timings(obj, where, problems)


def _value(check, v, where, what, problems):
    if isinstance(check, str):
        _object(check, v, where, problems)
    elif isinstance(check, list):
        if not isinstance(v, list):
            problems.append(f"{where}: not an array")
            return
        for i, item in enumerate(v):
            _object(check[0], item, f"{where}[{i}]", problems)
    elif not check(v):
        problems.append(f"{where}: {v!r} is not a {what}")


def _timings(t, where, problems):
    for name in ("blocked", "dns", "connect", "ssl"):
        v = t.get(name)
        if _num(v) and v < 0 and v != -1:
            problems.append(f"{where}.{name}: {v} (only -1 may be negative)")
    for name in ("send", "wait", "receive"):
        v = t.get(name)
        if _num(v) and v < 0:
            problems.append(f"{where}.{name}: {v} is negative (required, so never -1)")


def check(doc):
    problems = []
    if not isinstance(doc, dict) or set(doc) != {"log"}:
        return ["the document is not one object with the member log"]
    _object("log", doc["log"], "log", problems)
    entries = doc["log"].get("entries")
    for i, e in enumerate(entries if isinstance(entries, list) else []):
        t = e.get("timings") if isinstance(e, dict) else None
        if not isinstance(t, dict) or not _num(e.get("time")):
            continue
        # the entry's time is the sum of its applicable (non-negative) timings
        total = sum(v for k, v in t.items() if k in SPEC["timings"] and _num(v) and v >= 0)
        if abs(total - e["time"]) > 0.001:
            problems.append(f"log.entries[{i}].time: {e['time']} is not the sum of its "
                            f"timings, {total}")
    return problems
