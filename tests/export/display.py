"""What the exports should write for captured bytes, written from analyzer/escape.h's
definition (not from escape.c), and a header block reader that follows
dissectors/hblock.h's rules.

display(b)      the display text: valid UTF-8 (RFC 3629) as it is, and \\xNN (lowercase
                hex) for each byte that is a C0 control or DEL, not part of a valid UTF-8
                sequence, part of a UTF-8-encoded C1 control (U+0080-U+009F), or a
                backslash
json_literal(b) the JSON string esc_json() writes, quotes included, as bytes
csv_field(b)    the CSV field esc_csv() writes (always quoted, " doubled, the formula
                guard), as bytes
csv_text(b)     that field's value as a CSV reader returns it
html_text(b)    esc_html(): the display text with & < > " ' as entities
blocks(raw)     the header blocks in raw (interim blocks are stored one after another):
                [(start line, [(name, value), ...]), ...], all bytes
"""


def _utf8_len(lead):
    if 0xC0 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF7:
        return 4
    return 0


def display(b):
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if c < 0x80:
            if c < 0x20 or c == 0x7F or c == 0x5C:
                out.append("\\x%02x" % c)
            else:
                out.append(chr(c))
            i += 1
            continue
        n = _utf8_len(c)
        ch = None
        if n and i + n <= len(b):
            try:
                ch = b[i:i + n].decode("utf-8", "strict")  # rejects overlong, surrogates,
            except UnicodeDecodeError:                    # > U+10FFFF, bad continuations
                ch = None
        if ch is not None and not 0x80 <= ord(ch) <= 0x9F:
            out.append(ch)
            i += n
        else:
            out.append("\\x%02x" % c)
            i += 1
    return "".join(out)


def json_literal(b):
    t = display(b).replace("\\", "\\\\").replace('"', '\\"')
    return ('"' + t + '"').encode("utf-8")


def csv_text(b):
    guard = "'" if b[:1] in (b"=", b"+", b"-", b"@") else ""
    return guard + display(b)


def csv_field(b):
    return ('"' + csv_text(b).replace('"', '""') + '"').encode("utf-8")


def html_text(b):
    t = display(b)
    for a, e in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                 ("'", "&#39;")):
        t = t.replace(a, e)
    return t


def _lines(raw, at):
    """Lines from raw[at:], each (text without its line break, offset after it)."""
    while at < len(raw):
        nl = raw.find(b"\n", at)
        if nl < 0:
            yield raw[at:], len(raw)
            return
        end = nl - 1 if nl > at and raw[nl - 1:nl] == b"\r" else nl
        yield raw[at:end], nl + 1
        at = nl + 1


def blocks(raw):
    """hblock.h: the start line, then fields up to the empty line; a line that starts
    with a space or tab (obsolete folding) or has no colon (or starts with one) is not
    a field; a value is trimmed of spaces and tabs. The next block starts after the
    empty line."""
    out = []
    at = 0
    raw = raw or b""
    while at < len(raw):
        it = _lines(raw, at)
        start, at = next(it)
        fields = []
        for line, nxt in it:
            at = nxt
            if line == b"":
                break
            if line[:1] in (b" ", b"\t"):
                continue
            colon = line.find(b":")
            if colon <= 0:
                continue
            fields.append((line[:colon], line[colon + 1:].strip(b" \t")))
        else:
            at = len(raw)
        out.append((start, fields))
    return out
