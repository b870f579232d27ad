#!/usr/bin/env python3
"""Generate a large synthetic HTTP/1.1 capture for expectscope benchmarks.

Writes a classic pcap (microsecond timestamps, link type 1 = Ethernet) of IPv4/TCP
connections carrying keep-alive HTTP/1.1 exchanges with a seeded mix of the
`Expect: 100-continue` outcomes that expectscope classifies (see DESIGN.md "Verdicts"):

    plain               GET, small response                              ~50 %
    continue_ok         POST + Expect, 100 Continue, body, 200           ~20 %
    timeout_fallback    POST + Expect, no 100, body after 1000 ms         ~10 %
    expectation_failed  POST + Expect, 417 before the body, ...           ~5 %
    retry_after_417     ... then the same POST without Expect, same conn  (follows each 417)
    no_wait             POST + Expect, body in the header segment         ~5 %
    late_100            POST + Expect, body after 200 ms, then a 100       ~5 %
    early_final         POST + Expect, 401 before the body, no body sent   ~5 %

The percentages are weights per pick; a 417 pick yields two exchanges (the 417'd
request and its retry), so each of the two is ~4.8 % of all exchanges.

TCP is protocol-correct: three-way handshake with MSS/SACK/timestamps/window-scale
options, contiguous sequence numbers, acks that never cover unseen bytes, segments of
at most 1448 payload bytes, pure ACKs from the receiver (every second segment, or
delayed 40 ms when nothing else carries the ack), FIN/ACK teardown by the client, valid
IPv4 and TCP checksums. The capture point is next to the servers: server packets leave
right after the client bytes they answer, client packets show one RTT later.
Connections overlap (--concurrency slots, each running connections back to back), and
packet timestamps are strictly increasing in the file.

Standard library only.  Example:

    bench/gen-http-pcap.py --exchanges 100000 -o bench/out/http-100k.pcap
"""

import argparse
import heapq
import os
import random
import struct
import sys
import time
from bisect import bisect_right
from email.utils import formatdate

SEG = 1448                 # max TCP payload per segment (MSS 1460 - 12 bytes TS option)
M32 = 0xFFFFFFFF
F_FIN, F_SYN, F_PSH, F_ACK = 0x01, 0x02, 0x08, 0x10
DOFF32 = 8 << 12           # data offset 8 words: 20 + NOP NOP TS(10)
DELACK = 40000             # delayed-ACK timer, us
WSCALE = 7

# IPv4 header + TCP header with NOP,NOP,Timestamps (32 bytes)
IPTCP = struct.Struct('!BBHHHBBH4s4sHHIIHHHHHHII')
# IPv4 header + SYN TCP header: MSS, SACK_PERM, TS, NOP, WS (40 bytes)
IPTCP_SYN = struct.Struct('!BBHHHBBH4s4sHHIIHHHHBBHBBBBIIBBBB')
PCAP_REC = struct.Struct('<IIII')
PCAP_HDR = struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)

# exchange kinds (one pick each); E417 yields two exchanges
PLAIN, CONT, TIMEOUT, E417, NOWAIT, LATE, EARLY = range(7)
KIND_WEIGHTS = [(PLAIN, 50), (CONT, 20), (TIMEOUT, 10), (E417, 5), (NOWAIT, 5),
                (LATE, 5), (EARLY, 5)]
VERDICTS = ['plain', 'continue_ok', 'timeout_fallback', 'expectation_failed',
            'retry_after_417', 'no_wait', 'late_100', 'early_final']
V_PLAIN, V_CONT, V_TIMEOUT, V_417, V_RETRY, V_NOWAIT, V_LATE, V_EARLY = range(8)

USER_AGENTS = [
    # (User-Agent, extra request headers after User-Agent)
    ('curl/7.88.1', 'Accept: */*\r\n'),
    ('curl/8.5.0', 'Accept: */*\r\n'),
    ('python-requests/2.31.0',
     'Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n'),
    ('okhttp/4.12.0', 'Accept-Encoding: gzip\r\nConnection: Keep-Alive\r\n'),
    ('Mozilla/5.0 (compatible; .NET 8.0 HttpClient)', 'Accept: application/json\r\n'),
    ('Go-http-client/1.1', 'Accept-Encoding: gzip\r\n'),
]
UA_WEIGHTS = [30, 10, 25, 15, 15, 5]

SERVER_KINDS = ['nginx', 'apache', 'envoy']
SERVER_KIND_WEIGHTS = [50, 30, 20]

REASONS = {100: 'Continue', 200: 'OK', 201: 'Created', 401: 'Unauthorized',
           417: 'Expectation Failed'}

_date_cache = {}


def http_date(t_us):
    s = t_us // 1000000
    d = _date_cache.get(s)
    if d is None:
        if len(_date_cache) > 4096:
            _date_cache.clear()
        d = _date_cache[s] = formatdate(s, usegmt=True)
    return d


def response_head(kind, code, t_us, clen, extra=''):
    """Response header block in the style of the server software."""
    reason = REASONS[code]
    date = http_date(t_us)
    if kind == 'nginx':
        return ('HTTP/1.1 %d %s\r\nServer: nginx/1.22.1\r\nDate: %s\r\n'
                'Content-Type: text/plain\r\nContent-Length: %d\r\n%s'
                'Connection: keep-alive\r\n\r\n'
                % (code, reason, date, clen, extra)).encode()
    if kind == 'apache':
        return ('HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Apache/2.4.57 (Debian)\r\n%s'
                'Content-Length: %d\r\nKeep-Alive: timeout=5, max=100\r\n'
                'Connection: Keep-Alive\r\nContent-Type: text/plain\r\n\r\n'
                % (code, reason, date, extra, clen)).encode()
    # envoy writes lower-case header names
    return ('HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n'
            'date: %s\r\n%sx-envoy-upstream-service-time: %d\r\nserver: envoy\r\n\r\n'
            % (code, reason, clen, date, extra.lower(), 1 + (t_us // 1000) % 40)).encode()


CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


class Conn:
    """One TCP connection; packets are collected with capture timestamps (us)."""

    __slots__ = ('pk', 'nxt', 'logt', 'loge', 'last_t', 'last_ack', 'vis', 'ipid',
                 'ipk', 'tk', 'src', 'dst', 'sp', 'dp', 'eth', 'ttl', 'win', 'tsoff')

    def __init__(self, cip, cport, sip, sport, smac, rtt, rng):
        self.pk = []
        cisn = rng.getrandbits(32)
        sisn = rng.getrandbits(32)
        self.nxt = [cisn, sisn]
        self.logt = [[], []]        # per direction: capture times of data/FIN/SYN
        self.loge = [[], []]        # per direction: next seq after that packet
        self.last_t = [0, 0]
        self.last_ack = [-1, -1]
        # a packet of direction d captured at t knows the peer's bytes captured
        # before t - vis[d]  (capture point at the server)
        self.vis = [rtt, 1]
        self.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
        self.src = [cip, sip]
        self.dst = [sip, cip]
        self.sp = [cport, sport]
        self.dp = [sport, cport]
        gw = b'\x02\x00\x5e\x00\x00\x01'
        self.eth = [smac + gw + b'\x08\x00', gw + smac + b'\x08\x00']
        self.ttl = [64 - rng.randint(1, 12), 64]
        self.win = [502, 509]       # x 2^7: 64256 and 65152 bytes
        self.tsoff = [rng.getrandbits(31), rng.getrandbits(31)]
        self.ipk = []
        self.tk = []
        for d in (0, 1):
            s, t = self.src[d], self.dst[d]
            w = (s[0] << 8 | s[1]) + (s[2] << 8 | s[3]) + (t[0] << 8 | t[1]) + (t[2] << 8 | t[3])
            self.ipk.append(0x4500 + 0x4000 + (self.ttl[d] << 8 | 6) + w)
            self.tk.append(w + 6 + self.sp[d] + self.dp[d] + 0x0101 + 0x080A)

    # -- TCP plumbing -------------------------------------------------------

    def _ack_for(self, d, t):
        o = 1 - d
        i = bisect_right(self.logt[o], t - self.vis[d]) - 1
        return self.loge[o][i] if i >= 0 else 0

    def _tsecr(self, d, t):
        return ((t - self.vis[d]) // 1000 + self.tsoff[1 - d]) & M32

    def _syn(self, d, t, ack):
        """SYN (d=0) or SYN-ACK (d=1) with Linux-like options; checksums the slow way."""
        seq = self.nxt[d]
        self.nxt[d] = seq + 1
        self.logt[d].append(t)
        self.loge[d].append(seq + 1)
        self.last_t[d] = t
        self.last_ack[d] = ack
        flags = F_SYN | (F_ACK if d else 0)
        tsval = (t // 1000 + self.tsoff[d]) & M32
        tsecr = self._tsecr(d, t) if d else 0
        win = 64240 if d == 0 else 65160
        ident = self.ipid[d]
        self.ipid[d] = (ident + 1) & 0xFFFF
        args = [0x45, 0, 60, ident, 0x4000, self.ttl[d], 6, 0, self.src[d], self.dst[d],
                self.sp[d], self.dp[d], seq & M32, ack & M32, (10 << 12) | flags, win, 0,
                0, 2, 4, 1460, 4, 2, 8, 10, tsval, tsecr, 1, 3, 3, WSCALE]
        raw = IPTCP_SYN.pack(*args)
        args[7] = 0xFFFF - int.from_bytes(raw[:20], 'big') % 0xFFFF
        pseudo = self.src[d] + self.dst[d] + b'\x00\x06\x00\x28'
        args[16] = 0xFFFF - int.from_bytes(pseudo + raw[20:], 'big') % 0xFFFF
        self.pk.append((t, self.eth[d], IPTCP_SYN.pack(*args), b''))
        return t

    def _pkt(self, d, t, seq, ack, flags, payload):
        self.last_t[d] = t
        self.last_ack[d] = ack
        n = len(payload)
        tcplen = 32 + n
        tot = 20 + tcplen
        ident = self.ipid[d]
        self.ipid[d] = (ident + 1) & 0xFFFF
        ipck = 0xFFFF - (self.ipk[d] + tot + ident) % 0xFFFF
        seq &= M32
        ack &= M32
        tsval = (t // 1000 + self.tsoff[d]) & M32
        tsecr = ((t - self.vis[d]) // 1000 + self.tsoff[1 - d]) & M32
        offfl = DOFF32 | flags
        win = self.win[d]
        s = (self.tk[d] + tcplen + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
             + offfl + win + (tsval >> 16) + (tsval & 0xFFFF) + (tsecr >> 16) + (tsecr & 0xFFFF))
        if n:
            # one's-complement sum of 16-bit words == value mod 0xFFFF (2^16 = 1 mod 0xFFFF)
            p = int.from_bytes(payload, 'big')
            if n & 1:
                p <<= 8
            s += p
        tck = 0xFFFF - s % 0xFFFF
        hdr = IPTCP.pack(0x45, 0, tot, ident, 0x4000, self.ttl[d], 6, ipck, self.src[d],
                         self.dst[d], self.sp[d], self.dp[d], seq, ack, offfl, win, tck, 0,
                         0x0101, 0x080A, tsval, tsecr)
        self.pk.append((t, self.eth[d], hdr, payload))

    def send(self, d, t, data, gap):
        """Send bytes from direction d starting at t, split into <= SEG segments
        spaced by gap us. Returns the capture times of the segments."""
        if t <= self.last_t[d]:
            t = self.last_t[d] + 1
        mv = memoryview(data)
        n = len(data)
        times = []
        off = 0
        logt, loge = self.logt[d], self.loge[d]
        while off < n:
            end = off + SEG
            last = end >= n
            seg = mv[off:end]
            seq = self.nxt[d]
            ack = self._ack_for(d, t)
            self.nxt[d] = seq + len(seg)
            self._pkt(d, t, seq, ack, F_PSH | F_ACK if last else F_ACK, seg)
            logt.append(t)
            loge.append(self.nxt[d])
            times.append(t)
            off = end
            t += gap
        return times

    def pure_ack(self, d, t):
        """A pure ACK, only if it acknowledges something new (no duplicate ACKs)."""
        if t <= self.last_t[d]:
            t = self.last_t[d] + 1
        ack = self._ack_for(d, t)
        if ack > self.last_ack[d]:
            self._pkt(d, t, self.nxt[d], ack, F_ACK, b'')

    def ack_msg(self, d, times, delay, next_send):
        """Receiver d acks a message whose segments were captured at `times`:
        every second segment at once, the rest delayed unless d sends before."""
        for i in range(1, len(times), 2):
            self.pure_ack(d, times[i] + delay)
        if len(times) & 1:
            ta = times[-1] + delay + DELACK
            if next_send is None or next_send > ta:
                self.pure_ack(d, ta)

    def fin(self, d, t):
        if t <= self.last_t[d]:
            t = self.last_t[d] + 1
        seq = self.nxt[d]
        ack = self._ack_for(d, t)
        self._pkt(d, t, seq, ack, F_FIN | F_ACK, b'')
        self.nxt[d] = seq + 1
        self.logt[d].append(t)
        self.loge[d].append(seq + 1)
        return t


class Generator:
    def __init__(self, args):
        self.rng = rng = random.Random(args.seed)
        self.total = args.exchanges
        self.left = args.exchanges
        self.per_conn = max(1, args.per_conn)
        self.conns = 0
        self.verdicts = [0] * len(VERDICTS)
        self.truth = open(args.truth, 'w') if args.truth else None
        if self.truth:
            self.truth.write('client\tserver\tseq\tmethod\turi\tintended\n')
        ncon = (self.total + self.per_conn - 1) // self.per_conn
        # printable payload pool, sliced for bodies
        alpha = b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        table = bytes(alpha[i % 64] for i in range(256))
        self.pool = memoryview(rng.randbytes(1 << 18).translate(table))
        # servers: a few dozen, 10.78.0.z, port 80 or 8080
        self.servers = []
        for z in range(1, args.servers + 1):
            port = 8080 if rng.random() < 0.3 else 80
            kind = rng.choices(SERVER_KINDS, SERVER_KIND_WEIGHTS)[0]
            host = 'svc%02d.bench.example' % z + (':8080' if port == 8080 else '')
            mac = bytes([0x02, 0x4e, 0x00, 0x00, 0x00, z & 0xFF])
            self.servers.append((bytes([10, 78, 0, z]), port, kind, host.encode(), mac,
                                 '10.78.0.%d:%d' % (z, port)))
        # clients: 10.77.x.y, enough of them that ephemeral ports never repeat
        nclients = min(65024, max(16, ncon // 8))
        self.clients = []
        for i in range(nclients):
            ip = bytes([10, 77, i // 254, i % 254 + 1])
            ua = rng.choices(USER_AGENTS, UA_WEIGHTS)[0]
            self.clients.append([ip, rng.randint(32768, 50000), ua,
                                 '10.77.%d.%d' % (i // 254, i % 254 + 1)])
        cum = 0
        self.kcum, self.kinds = [], []
        for k, w in KIND_WEIGHTS:
            if w <= 0:
                continue
            cum += w
            self.kcum.append(cum)
            self.kinds.append(k)
        self.ktotal = cum

    def pick(self, room):
        rng = self.rng
        while True:
            k = self.kinds[bisect_right(self.kcum, rng.random() * self.ktotal)]
            if k != E417 or room >= 2:
                return k

    def plan(self):
        """Kinds of the next connection's exchanges, or None when all are planned."""
        n = min(self.per_conn, self.left)
        if n <= 0:
            return None
        kinds = []
        used = 0
        while used < n:
            k = self.pick(n - used)
            kinds.append(k)
            used += 2 if k == E417 else 1
        # a 401'd request is followed by another request on the same connection
        if len(kinds) > 1 and kinds[-1] == EARLY:
            j = self.rng.randrange(len(kinds) - 1)
            kinds.insert(j, kinds.pop())
        self.left -= n
        self.conns += 1
        return kinds

    def connection(self, t0, kinds):
        """Build one connection starting at t0; returns (sorted packets, end time)."""
        rng = self.rng
        rnd = rng.random
        cl = self.clients[rng.randrange(len(self.clients))]
        cport = cl[1]
        cl[1] = cport + rng.randint(1, 4)
        if cl[1] > 60999:
            cl[1] = 32768 + (cl[1] - 61000)
        ua, ua_extra = cl[2]
        sip, sport, skind, host, smac, sname = self.servers[rng.randrange(len(self.servers))]
        # RTT as seen from the server side: data centre or WAN client
        rtt = rng.randint(150, 2000) if rnd() < 0.7 else rng.randint(8000, 80000)
        cgap = rng.randint(12, 120)        # client uplink serialisation per segment
        sgap = 12                           # server: 1 Gbit/s
        c = Conn(cl[0], cport, sip, sport, smac, rtt, rng)
        pool = self.pool
        vcount = self.verdicts
        truth = self.truth
        cname = '%s:%d' % (cl[3], cport)

        # handshake
        c._syn(0, t0, 0)
        t1 = c._syn(1, t0 + rng.randint(15, 80), c.nxt[0])
        c.pure_ack(0, t1 + rtt)
        t = t1 + rtt + rng.randint(5, 100)

        def body(n):
            o = rng.randrange(0, len(pool) - n) & ~1
            return pool[o:o + n]

        def request(method, uri, clen=None, expect=False):
            h = '%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%s' % (
                method, uri, host.decode(), ua, ua_extra)
            if clen is not None:
                h += 'Content-Type: application/octet-stream\r\nContent-Length: %d\r\n' % clen
            if expect:
                h += 'Expect: 100-continue\r\n'
            return (h + '\r\n').encode()

        def final(tf, code, n):
            b = body(n)
            return b''.join((response_head(skind, code, tf, n), b))

        def think(lo, hi):
            return rng.randint(lo, hi)

        seqno = 0
        nk = len(kinds)
        for i, k in enumerate(kinds):
            if k == PLAIN:
                r = rnd()
                uri = ('/api/v1/items/%d' % rng.randrange(10 ** 6) if r < 0.5 else
                       '/static/app.%08x.js' % rng.getrandbits(32) if r < 0.8 else
                       '/api/v1/users/%d/profile?fields=name,email' % rng.randrange(10 ** 5))
                rt = c.send(0, t, request('GET', uri), cgap)
                tf = rt[-1] + think(500, 8000)
                c.ack_msg(1, rt, 30, tf)
                n = rng.randint(80, 1400) if rnd() < 0.75 else rng.randint(1400, 6000)
                st = c.send(1, tf, final(tf, 200, n), sgap)
                recs = ((V_PLAIN, 'GET', uri),)
            else:
                uri = ('/upload/%d' % rng.randrange(10 ** 9) if rnd() < 0.6 else
                       '/api/v2/ingest?batch=%d' % rng.randrange(10 ** 9))
                blen = rng.randint(1024, 8192)
                if k == CONT:
                    rt = c.send(0, t, request('POST', uri, blen, True), cgap)
                    t100 = rt[-1] + think(50, 1500)
                    c.ack_msg(1, rt, 30, t100)
                    s1 = c.send(1, t100, CONTINUE, sgap)
                    bt = c.send(0, s1[-1] + rtt + think(20, 300), body(blen), cgap)
                    tf = bt[-1] + think(1000, 15000)
                    c.ack_msg(1, bt, 30, tf)
                    st = c.send(1, tf, final(tf, 201, rng.randint(20, 300)), sgap)
                    recs = ((V_CONT, 'POST', uri),)
                elif k == TIMEOUT or k == LATE:
                    rt = c.send(0, t, request('POST', uri, blen, True), cgap)
                    wait = 1000000 if k == TIMEOUT else 200000
                    c.ack_msg(1, rt, 30, None)          # delayed ACK of the headers
                    bt = c.send(0, rt[-1] + wait + think(50, 1500), body(blen), cgap)
                    if k == LATE:
                        # an intermediary forwards the 100 after the body started
                        t100 = bt[0] + think(300, (bt[-1] - bt[0]) + 3000)
                        ev = [(bt[j] + 30, 0) for j in range(1, len(bt), 2)]
                        ev.append((t100, 1))
                        ev.sort()
                        for te, what in ev:
                            if what:
                                t100 = c.send(1, te, CONTINUE, sgap)[-1]
                            else:
                                c.pure_ack(1, te)
                        tf = max(bt[-1], t100) + think(1000, 15000)
                        recs = ((V_LATE, 'POST', uri),)
                    else:
                        tf = bt[-1] + think(1000, 15000)
                        c.ack_msg(1, bt, 30, tf)
                        recs = ((V_TIMEOUT, 'POST', uri),)
                    st = c.send(1, tf, final(tf, 201, rng.randint(20, 300)), sgap)
                elif k == NOWAIT:
                    rt = c.send(0, t, request('POST', uri, blen, True) + body(blen), cgap)
                    tf = rt[-1] + think(1000, 15000)
                    c.ack_msg(1, rt, 30, tf)
                    st = c.send(1, tf, final(tf, 201, rng.randint(20, 300)), sgap)
                    recs = ((V_NOWAIT, 'POST', uri),)
                elif k == E417:
                    rt = c.send(0, t, request('POST', uri, blen, True), cgap)
                    tf = rt[-1] + think(100, 2000)
                    c.ack_msg(1, rt, 30, tf)
                    s1 = c.send(1, tf, final(tf, 417, rng.randint(0, 200)), sgap)
                    c.ack_msg(0, s1, rtt + 30, s1[-1] + rtt + 2000)
                    t2 = s1[-1] + rtt + think(100, 2000)
                    rt = c.send(0, t2, request('POST', uri, blen) + body(blen), cgap)
                    tf = rt[-1] + think(1000, 15000)
                    c.ack_msg(1, rt, 30, tf)
                    st = c.send(1, tf, final(tf, 201, rng.randint(20, 300)), sgap)
                    recs = ((V_417, 'POST', uri), (V_RETRY, 'POST', uri))
                else:  # EARLY: 401 before the body; the client drops the body
                    rt = c.send(0, t, request('POST', uri, blen, True), cgap)
                    tf = rt[-1] + think(100, 3000)
                    c.ack_msg(1, rt, 30, tf)
                    extra = 'WWW-Authenticate: Bearer realm="api"\r\n'
                    n = rng.randint(0, 120)
                    st = c.send(1, tf, b''.join((response_head(skind, 401, tf, n, extra),
                                                 body(n))), sgap)
                    recs = ((V_EARLY, 'POST', uri),)
            for v, m, u in recs:
                vcount[v] += 1
                if truth:
                    truth.write('%s\t%s\t%d\t%s\t%s\t%s\n'
                                % (cname, sname, seqno, m, u, VERDICTS[v]))
                seqno += 1
            # client: next request (or FIN) after its own think time
            if i + 1 < nk:
                tn = st[-1] + rtt + min(int(rng.expovariate(1 / 15000.0)), 200000) + 100
            else:
                tn = st[-1] + rtt + rng.randint(100, 30000)
            c.ack_msg(0, st, rtt + 30, tn)
            t = tn

        # teardown: client FIN, server FIN, client ACK
        tc = c.fin(0, t)
        ts = c.fin(1, tc + rng.randint(20, 200))
        c.pure_ack(0, ts + rtt)
        pk = c.pk
        pk.sort(key=_first)
        return pk, pk[-1][0]

    def slot(self, sid, t):
        """Connections back to back on one concurrency slot, packets in time order."""
        while True:
            kinds = self.plan()
            if kinds is None:
                return
            pk, end = self.connection(t, kinds)
            for p in pk:
                yield (p[0], sid, p)
            t = end + self.rng.randint(1000, 100000)


def _first(p):
    return p[0]


def main():
    ap = argparse.ArgumentParser(
        description='Generate a synthetic HTTP/1.1 pcap (Ethernet/IPv4/TCP) with a mix '
                    'of Expect: 100-continue outcomes, for expectscope benchmarks.')
    ap.add_argument('--exchanges', '-n', type=int, default=100000,
                    help='HTTP exchanges to generate (default 100000)')
    ap.add_argument('--per-conn', '-k', type=int, default=10,
                    help='keep-alive exchanges per connection (default 10)')
    ap.add_argument('--seed', '-s', type=int, default=1, help='random seed (default 1)')
    ap.add_argument('--concurrency', '-c', type=int, default=50,
                    help='connections open at the same time (default 50)')
    ap.add_argument('--servers', type=int, default=36,
                    help='number of servers 10.78.0.1.. (default 36, max 254)')
    ap.add_argument('--start', type=float, default=1717243200.0,
                    help='capture start, Unix seconds (default 2024-06-01 12:00 UTC)')
    ap.add_argument('--mix', metavar='NAME=W,...',
                    help='override the weights of the kinds: plain, continue_ok, '
                         'timeout_fallback, expectation_failed (a 417 and its retry), '
                         'no_wait, late_100, early_final; unnamed kinds keep their '
                         'default weight (default plain=50,continue_ok=20,'
                         'timeout_fallback=10,expectation_failed=5,no_wait=5,'
                         'late_100=5,early_final=5)')
    ap.add_argument('--truth', metavar='TSV',
                    help='also write the intended verdict of every exchange '
                         '(client, server, seq, method, uri, intended)')
    ap.add_argument('-o', '--output', required=True, help='pcap file to write')
    args = ap.parse_args()
    if args.exchanges < 1 or args.per_conn < 1 or args.concurrency < 1:
        ap.error('--exchanges, --per-conn and --concurrency must be at least 1')
    if not 1 <= args.servers <= 254:
        ap.error('--servers must be within 1..254')
    if args.mix:
        names = {'plain': PLAIN, 'continue_ok': CONT, 'timeout_fallback': TIMEOUT,
                 'expectation_failed': E417, 'no_wait': NOWAIT, 'late_100': LATE,
                 'early_final': EARLY}
        w = dict(KIND_WEIGHTS)
        for item in args.mix.split(','):
            name, _, val = item.partition('=')
            if name.strip() not in names:
                ap.error('--mix: unknown kind %r' % name)
            try:
                w[names[name.strip()]] = float(val)
            except ValueError:
                ap.error('--mix: bad weight in %r' % item)
        if any(v < 0 for v in w.values()) or not any(v > 0 for k, v in w.items() if k != E417):
            ap.error('--mix: weights must be >= 0, and some kind other than '
                     'expectation_failed must have a positive weight')
        KIND_WEIGHTS[:] = sorted(w.items())

    t_start = time.monotonic()
    g = Generator(args)
    base = int(args.start * 1000000)
    slots = [g.slot(i, base + g.rng.randint(0, 200000)) for i in range(args.concurrency)]

    packets = 0
    size = len(PCAP_HDR)
    last = 0
    first = None
    rec = PCAP_REC.pack
    with open(args.output, 'wb', buffering=1 << 20) as out:
        out.write(PCAP_HDR)
        buf = []
        for ts, _, (_, eth, hdr, payload) in heapq.merge(*slots):
            if ts <= last:          # strictly increasing timestamps in the file
                ts = last + 1
            last = ts
            if first is None:
                first = ts
            n = 14 + len(hdr) + len(payload)
            buf.append(rec(ts // 1000000, ts % 1000000, n, n))
            buf.append(eth)
            buf.append(hdr)
            buf.append(payload)
            packets += 1
            size += 16 + n
            if len(buf) >= 32768:
                out.write(b''.join(buf))
                buf.clear()
        out.write(b''.join(buf))
    if g.truth:
        g.truth.close()
    elapsed = time.monotonic() - t_start

    w = sys.stderr.write
    w('%s: %d connections, %d exchanges, %d packets, %d bytes (%.1f MiB), '
      'capture span %.1f s, generated in %.1f s\n'
      % (args.output, g.conns, sum(g.verdicts), packets, size, size / 1048576.0,
         (last - first) / 1e6 if first is not None else 0.0, elapsed))
    w('intended verdicts:\n')
    total = max(1, sum(g.verdicts))
    for name, cnt in sorted(zip(VERDICTS, g.verdicts), key=lambda x: -x[1]):
        w('  %-20s %8d  %5.1f%%\n' % (name, cnt, 100.0 * cnt / total))


if __name__ == '__main__':
    main()
