"""pcapfile.py: a small classic-pcap reader and writer for the test scripts.

Classic pcap only (microsecond or nanosecond magic, either byte order); pcapng is not
read. Standard library only. A capture is (header, endian, records), each record a list
[ts_sec, ts_frac, wire_len, data]:

    header, e, recs = pcapfile.read("x.pcap")
    pcapfile.write("even.pcap", header, e, recs[0::2])
    pcapfile.write("later.pcap", header, e, pcapfile.shifted(recs, 60))
"""
import struct

MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">",
}


def parse(data, name="capture"):
    """(header, endian, records) of the bytes of a classic pcap file."""
    e = MAGICS.get(data[:4])
    if e is None or len(data) < 24:
        raise ValueError(f"{name}: not a classic pcap file")
    recs, off = [], 24
    while off < len(data):
        if len(data) - off < 16:
            raise ValueError(f"{name}: truncated record header at {off}")
        sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, off)
        body = data[off + 16:off + 16 + incl]
        if len(body) < incl:
            raise ValueError(f"{name}: truncated record at {off}")
        recs.append([sec, frac, orig, body])
        off += 16 + incl
    return data[:24], e, recs


def read(path):
    with open(path, "rb") as f:
        return parse(f.read(), path)


def records_bytes(e, recs):
    """The records, encoded, without the file header."""
    return b"".join(struct.pack(e + "IIII", r[0], r[1], len(r[3]), r[2]) + r[3]
                    for r in recs)


def write(path, header, e, recs):
    with open(path, "wb") as f:
        f.write(header)
        f.write(records_bytes(e, recs))


def shifted(recs, seconds):
    """The records moved `seconds` (whole seconds) later."""
    return [[r[0] + seconds, r[1], r[2], r[3]] for r in recs]


def span(recs):
    """(first, last) record time as (sec, frac) tuples; None for no records."""
    if not recs:
        return None
    ts = [(r[0], r[1]) for r in recs]
    return min(ts), max(ts)
