/* gen_floods.c: writes the hostile captures of the flood suite (tests/floods/README.md).
 *
 *   gen_floods FLOOD OUT.pcap [N [S]]
 *
 * FLOOD is one of the names below; N and S size it (defaults in the table). Every
 * capture is classic pcap, Ethernet, IPv4, written with the test-only pcapw builder,
 * so nothing of the analyzer is used to build what the analyzer reads. Packet times
 * advance 1 µs per packet from a fixed epoch: a whole flood lasts seconds of capture
 * time, far below the 300 s idle timeout, so every flow is still open when the capture
 * ends unless the flood says otherwise.
 *
 * The expected counters of each flood follow from N and S; run_flood.py holds them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapw.h"

enum { SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, FIN = 0x01 };

static struct pcapw_file *w;
static uint64_t now_ns = 1700000000ull * 1000000000ull;
static struct pcapw_pkt pkt; /* 66 KB: static, not on the stack */

/* One TCP segment from a:ap to b:bp (IPv4 addresses as host-order integers). */
static void seg(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp, uint32_t seq,
                uint32_t ack, uint8_t flags, const void *data, size_t n)
{
    char sa[16], sb[16];
    snprintf(sa, sizeof sa, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
             a & 255);
    snprintf(sb, sizeof sb, "%u.%u.%u.%u", b >> 24, (b >> 16) & 255, (b >> 8) & 255,
             b & 255);
    pcapw_init(&pkt);
    if (n)
        pcapw_append(&pkt, data, n);
    pcapw_tcp(&pkt, &(struct pcapw_tcp){ .sport = ap, .dport = bp, .seq = seq, .ack = ack,
                                         .flags = flags });
    pcapw_ipv4(&pkt, &(struct pcapw_ip4){ .src = sa, .dst = sb });
    pcapw_ether(&pkt, PCAPW_ETH_IPV4, NULL, 0);
    now_ns += 1000;
    if (pcapw_write(w, now_ns, pcapw_data(&pkt), pcapw_len(&pkt)) != 0) {
        perror("gen_floods: write");
        exit(1);
    }
}

/* A connection: client c:cp, server s:sp, their next sequence numbers. */
struct conn {
    uint32_t c, s;
    uint16_t cp, sp;
    uint32_t cseq, sseq;
};

static void handshake(struct conn *k, uint32_t ciss, uint32_t siss)
{
    seg(k->c, k->cp, k->s, k->sp, ciss, 0, SYN, NULL, 0);
    seg(k->s, k->sp, k->c, k->cp, siss, ciss + 1, SYN | ACK, NULL, 0);
    seg(k->c, k->cp, k->s, k->sp, ciss + 1, siss + 1, ACK, NULL, 0);
    k->cseq = ciss + 1;
    k->sseq = siss + 1;
}

/* Client or server sends n bytes in order, in segments of at most mss bytes. */
static void send_c(struct conn *k, const void *p, size_t n, size_t mss)
{
    const char *b = p;
    for (size_t off = 0; off < n; off += mss) {
        size_t len = n - off < mss ? n - off : mss;
        seg(k->c, k->cp, k->s, k->sp, k->cseq, k->sseq, PSH | ACK, b + off, len);
        k->cseq += (uint32_t)len;
    }
}

static void send_s(struct conn *k, const void *p, size_t n, size_t mss)
{
    const char *b = p;
    for (size_t off = 0; off < n; off += mss) {
        size_t len = n - off < mss ? n - off : mss;
        seg(k->s, k->sp, k->c, k->cp, k->sseq, k->cseq, PSH | ACK, b + off, len);
        k->sseq += (uint32_t)len;
    }
}

static void ack_s(struct conn *k)
{
    seg(k->s, k->sp, k->c, k->cp, k->sseq, k->cseq, ACK, NULL, 0);
}

static void sends(struct conn *k, int client, const char *text)
{
    if (client)
        send_c(k, text, strlen(text), 1448);
    else
        send_s(k, text, strlen(text), 1448);
}

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

static uint8_t big[65536];

/* ---- floods ------------------------------------------------------------------------ */

/* N SYNs, each from its own address:port, to one server: N half-open connections. */
static void f_syn(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        uint32_t src = IP(172, 16, 0, 0) + (uint32_t)(i / 50000u);
        seg(src, (uint16_t)(10000 + i % 50000u), IP(10, 0, 0, 1), 80,
            (uint32_t)(i * 2654435761u), 0, SYN, NULL, 0);
    }
}

/* N complete HTTP flows left open (keep-alive, no FIN): idle flows held in the table.
 * With pad > 0 the request carries an X-Pad header of pad bytes (a large header block
 * that each flow's dissector state may keep a buffer for). */
static void f_idle(unsigned long n, size_t pad)
{
    char *req = malloc(pad + 128);
    if (!req)
        exit(1);
    size_t len = (size_t)sprintf(req, "GET /idle HTTP/1.1\r\nHost: flood\r\n");
    if (pad) {
        len += (size_t)sprintf(req + len, "X-Pad: ");
        memset(req + len, 'p', pad);
        len += pad;
        len += (size_t)sprintf(req + len, "\r\n");
    }
    len += (size_t)sprintf(req + len, "\r\n");
    for (unsigned long i = 0; i < n; i++) {
        struct conn k = { IP(172, 20, 0, 0) + (uint32_t)(i / 50000u), IP(10, 0, 0, 2),
                          (uint16_t)(10000 + i % 50000u), 80, 0, 0 };
        handshake(&k, (uint32_t)(i * 7919u), 1000);
        send_c(&k, req, len, 65000);
        sends(&k, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        seg(k.c, k.cp, k.s, k.sp, k.cseq, k.sseq, ACK, NULL, 0);
    }
    free(req);
}

static const char post_expect[] =
    "POST /upload HTTP/1.1\r\nHost: flood\r\nExpect: 100-continue\r\n"
    "Content-Length: 4000000000\r\n\r\n";

/* Out-of-order flood on `flows` flows: each sends a request with Expect, gets its 100,
 * then sends `per` body segments of s bytes, each one byte past the end of the one
 * before: every segment lies ahead of a 1-byte hole that never fills and that the
 * server never acknowledges. Flows take turns, so all of them hold data at once.
 * Each flow ends with exactly `per` missing bytes in `per` gaps. */
static void f_ooo(unsigned long flows, unsigned long per, size_t s)
{
    struct conn *k = calloc(flows, sizeof *k);
    if (!k)
        exit(1);
    for (unsigned long i = 0; i < flows; i++) {
        k[i] = (struct conn){ IP(172, 24, 0, 0) + (uint32_t)(i / 50000u), IP(10, 0, 0, 3),
                              (uint16_t)(10000 + i % 50000u), 80, 0, 0 };
        handshake(&k[i], 5000 + (uint32_t)i, 9000);
        sends(&k[i], 1, post_expect);
        sends(&k[i], 0, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    memset(big, 'o', sizeof big);
    for (unsigned long j = 0; j < per; j++)
        for (unsigned long i = 0; i < flows; i++) {
            uint32_t at = k[i].cseq + (uint32_t)(j * (s + 1) + 1);
            seg(k[i].c, k[i].cp, k[i].s, k[i].sp, at, k[i].sseq, PSH | ACK, big, s);
        }
    free(k);
}

/* N concurrent uploads (issue 15): every connection sends a POST with Expect and waits;
 * only when all N are waiting does each get its 100, then the 5-byte body goes and a
 * 200 comes back. N exchanges wait for their response at once. */
static void f_uploads(unsigned long n)
{
    static const char req[] = "POST /up HTTP/1.1\r\nHost: flood\r\nExpect: 100-continue\r\n"
                              "Content-Length: 5\r\n\r\n";
    struct conn *k = calloc(n, sizeof *k);
    if (!k)
        exit(1);
    for (unsigned long i = 0; i < n; i++) {
        k[i] = (struct conn){ IP(172, 28, 0, 0) + (uint32_t)(i / 50000u), IP(10, 0, 0, 5),
                              (uint16_t)(10000 + i % 50000u), 80, 0, 0 };
        handshake(&k[i], 7000 + (uint32_t)i * 3u, 11000);
        sends(&k[i], 1, req);
    }
    for (unsigned long i = 0; i < n; i++)
        sends(&k[i], 0, "HTTP/1.1 100 Continue\r\n\r\n");
    for (unsigned long i = 0; i < n; i++) {
        sends(&k[i], 1, "hello");
        sends(&k[i], 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        seg(k[i].c, k[i].cp, k[i].s, k[i].sp, k[i].cseq, k[i].sseq, ACK, NULL, 0);
    }
    free(k);
}

/* One request whose X-Big header line is n bytes long, answered 100 then 200; then a
 * second, ordinary request on the same connection, answered 200. */
static void f_hdr(unsigned long n)
{
    struct conn k = { IP(172, 25, 0, 1), IP(10, 0, 0, 4), 40000, 80, 0, 0 };
    handshake(&k, 1, 1);
    char *req = malloc(n + 512);
    if (!req)
        exit(1);
    size_t len = (size_t)sprintf(req, "POST /bighdr HTTP/1.1\r\nHost: flood\r\nX-Big: ");
    memset(req + len, 'h', n);
    len += n;
    len += (size_t)sprintf(req + len, "\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    send_c(&k, req, len, 1448);
    free(req);
    sends(&k, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    sends(&k, 1, "hello");
    sends(&k, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    sends(&k, 1, "GET /after HTTP/1.1\r\nHost: flood\r\n\r\n");
    sends(&k, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

/* `flows` connections, each sending n pipelined requests (ten per segment) of about
 * `pad` header bytes each; the server only acknowledges, never answers. */
static void f_pipeline(unsigned long flows, unsigned long n, size_t pad)
{
    char *batch = malloc(10 * (pad + 128));
    char *padding = malloc(pad + 1);
    if (!batch || !padding)
        exit(1);
    memset(padding, 'p', pad);
    padding[pad] = '\0';
    for (unsigned long f = 0; f < flows; f++) {
        struct conn k = { IP(172, 26, 0, 0) + (uint32_t)(f / 50000u), IP(10, 0, 0, 5),
                          (uint16_t)(10000 + f % 50000u), 80, 0, 0 };
        handshake(&k, 77, 88);
        for (unsigned long i = 0; i < n; i += 10) {
            size_t len = 0;
            for (unsigned long j = i; j < n && j < i + 10; j++)
                len += (size_t)sprintf(batch + len,
                                       "GET /r%lu HTTP/1.1\r\nHost: flood\r\n%s%s%s\r\n",
                                       j, pad ? "X-Pad: " : "", padding, pad ? "\r\n" : "");
            send_c(&k, batch, len, 65000);
            ack_s(&k);
        }
    }
    free(batch);
    free(padding);
}

/* A chunked request with Expect that never ends: after the 100, `small` chunks of one
 * byte, then `mb` MiB in chunks of 65535 bytes; no last chunk, no final response.
 * Decoded body bytes: small + 16 * mb chunks * 65535... exactly small + nbig * 65535
 * where nbig = mb * 16 (printed on stdout). */
static char stream[65000];
static size_t stream_len;

static void stream_put(struct conn *k, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        size_t take = sizeof stream - stream_len < n ? sizeof stream - stream_len : n;
        memcpy(stream + stream_len, b, take);
        stream_len += take;
        b += take;
        n -= take;
        if (stream_len == sizeof stream) {
            send_c(k, stream, stream_len, sizeof stream);
            stream_len = 0;
        }
    }
}

static void f_chunked(unsigned long mb, unsigned long small)
{
    struct conn k = { IP(172, 27, 0, 1), IP(10, 0, 0, 6), 40000, 80, 0, 0 };
    handshake(&k, 100, 200);
    sends(&k, 1, "POST /endless HTTP/1.1\r\nHost: flood\r\nExpect: 100-continue\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    sends(&k, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    for (unsigned long i = 0; i < small; i++)
        stream_put(&k, "1\r\nx\r\n", 6);
    memset(big, 'c', 65535);
    unsigned long nbig = mb * 16;
    for (unsigned long i = 0; i < nbig; i++) {
        stream_put(&k, "ffff\r\n", 6);
        stream_put(&k, big, 65535);
        stream_put(&k, "\r\n", 2);
    }
    if (stream_len)
        send_c(&k, stream, stream_len, sizeof stream);
    printf("decoded_body_bytes %lu\n", small + nbig * 65535ul);
}

/* One request with Expect answered by n 100 Continues (fifty to a segment), then the
 * body and a 200. */
static void f_storm(unsigned long n)
{
    struct conn k = { IP(172, 28, 0, 1), IP(10, 0, 0, 7), 40000, 80, 0, 0 };
    handshake(&k, 100, 200);
    sends(&k, 1, "POST /storm HTTP/1.1\r\nHost: flood\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5\r\n\r\n");
    static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char batch[50 * sizeof c100];
    for (unsigned long i = 0; i < n; i += 50) {
        size_t len = 0;
        for (unsigned long j = i; j < n && j < i + 50; j++) {
            memcpy(batch + len, c100, sizeof c100 - 1);
            len += sizeof c100 - 1;
        }
        send_s(&k, batch, len, sizeof batch);
    }
    sends(&k, 1, "hello");
    sends(&k, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

/* Sequence numbers, one flow per case, told apart by server port:
 *  8001 wrap:   ISN 5000 below 2^32; a 100000-byte body in 1000-byte segments crosses
 *               2^32; the segment that straddles it is lost, the server acknowledges
 *               it (capture loss): 1000 missing bytes, 200 OK.
 *  8002 hole:   ISN 1000 below 2^32; the body's first 32 MiB (crossing 2^32) are
 *               lost, its last 1000 bytes arrive, the server acknowledges all:
 *               33554432 missing bytes, 200 OK.
 *  8003 far:    a 1000-byte segment 100 MiB ahead (beyond REASM_MAX_SEQ_JUMP) is
 *               dropped; then the real 2000-byte body in order, 200 OK: 0 missing.
 *  8004 far flood: n segments of 1000 bytes, all at least 100 MiB ahead and beyond
 *               each other; nothing in order after the headers; no FIN.
 *  8005 far FIN: one far segment (100 MiB ahead) then FIN right after it.
 */
static void f_seq(unsigned long n)
{
    memset(big, 'b', sizeof big);
    static const char hdr_fmt[] =
        "POST /seq HTTP/1.1\r\nHost: flood\r\nExpect: 100-continue\r\n"
        "Content-Length: %lu\r\n\r\n";
    char hdr[256];
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    struct conn a = { IP(172, 29, 0, 1), IP(10, 0, 0, 8), 40001, 8001, 0, 0 };
    handshake(&a, 0xffffffffu - 5000u, 7);
    snprintf(hdr, sizeof hdr, hdr_fmt, 100000ul);
    sends(&a, 1, hdr);
    sends(&a, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    for (int i = 0; i < 100; i++) {
        uint32_t at = a.cseq;
        /* the segment that holds the wrap point is lost */
        if ((uint32_t)(0u - at) < 1000u && (uint32_t)(0u - at) > 0u) {
            a.cseq += 1000;
            continue;
        }
        send_c(&a, big, 1000, 1000);
    }
    ack_s(&a);
    now_ns += 50ull * 1000000ull; /* past the acknowledged-hole grace */
    sends(&a, 0, ok);

    struct conn b = { IP(172, 29, 0, 2), IP(10, 0, 0, 8), 40002, 8002, 0, 0 };
    handshake(&b, 0xffffffffu - 1000u, 7);
    snprintf(hdr, sizeof hdr, hdr_fmt, 33554432ul + 1000ul);
    sends(&b, 1, hdr);
    sends(&b, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    b.cseq += 33554432u;
    send_c(&b, big, 1000, 1000);
    ack_s(&b);
    now_ns += 50ull * 1000000ull;
    sends(&b, 0, ok);

    struct conn c = { IP(172, 29, 0, 3), IP(10, 0, 0, 8), 40003, 8003, 0, 0 };
    handshake(&c, 12345, 7);
    snprintf(hdr, sizeof hdr, hdr_fmt, 2000ul);
    sends(&c, 1, hdr);
    sends(&c, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    seg(c.c, c.cp, c.s, c.sp, c.cseq + 100u * 1024 * 1024, c.sseq, PSH | ACK, big, 1000);
    send_c(&c, big, 2000, 1000);
    sends(&c, 0, ok);

    struct conn d = { IP(172, 29, 0, 4), IP(10, 0, 0, 8), 40004, 8004, 0, 0 };
    handshake(&d, 777, 7);
    snprintf(hdr, sizeof hdr, hdr_fmt, 1000000000ul);
    sends(&d, 1, hdr);
    sends(&d, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    for (unsigned long i = 0; i < n; i++)
        seg(d.c, d.cp, d.s, d.sp, d.cseq + 100u * 1024 * 1024 + (uint32_t)(i * 1001u),
            d.sseq, PSH | ACK, big, 1000);

    struct conn e = { IP(172, 29, 0, 5), IP(10, 0, 0, 8), 40005, 8005, 0, 0 };
    handshake(&e, 999, 7);
    snprintf(hdr, sizeof hdr, hdr_fmt, 1000000000ul);
    sends(&e, 1, hdr);
    sends(&e, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    uint32_t far = e.cseq + 100u * 1024 * 1024;
    seg(e.c, e.cp, e.s, e.sp, far, e.sseq, PSH | ACK, big, 1000);
    seg(e.c, e.cp, e.s, e.sp, far + 1000, e.sseq, FIN | ACK, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_floods FLOOD OUT.pcap [N [S]]\n"
                        "floods: syn idle ooo ooomany ootiny uploads hdr pipeline chunked storm seq\n");
        return 2;
    }
    const char *name = argv[1];
    unsigned long n = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    unsigned long s = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    w = pcapw_open(argv[2], PCAPW_PCAP, PCAPW_LINK_ETHERNET, 0);
    if (!w) {
        perror(argv[2]);
        return 1;
    }
    if (strcmp(name, "syn") == 0)
        f_syn(n ? n : 1000000);
    else if (strcmp(name, "idle") == 0)
        f_idle(n ? n : 200000, s); /* S: header pad bytes */
    else if (strcmp(name, "ooo") == 0) /* one flow: N segments of S bytes */
        f_ooo(1, n ? n : 100000, s ? s : 2100);
    else if (strcmp(name, "ooomany") == 0) /* N flows, S segments of 1000 bytes each */
        f_ooo(n ? n : 5000, s ? s : 20, 1000);
    else if (strcmp(name, "ootiny") == 0) /* N flows, S one-byte segments each */
        f_ooo(n ? n : 20000, s ? s : 512, 1);
    else if (strcmp(name, "uploads") == 0) /* N concurrent Expect uploads */
        f_uploads(n ? n : 50000);
    else if (strcmp(name, "hdr") == 0)
        f_hdr(n ? n : 1024 * 1024);
    else if (strcmp(name, "pipeline") == 0) /* N requests on one connection */
        f_pipeline(1, n ? n : 5000, 0);
    else if (strcmp(name, "pipemany") == 0) /* N connections, 127 requests, S pad bytes */
        f_pipeline(n ? n : 100, 127, s ? s : 8000);
    else if (strcmp(name, "chunked") == 0) /* N MiB of big chunks, S one-byte chunks */
        f_chunked(n ? n : 300, s ? s : 1000000);
    else if (strcmp(name, "storm") == 0)
        f_storm(n ? n : 10000);
    else if (strcmp(name, "seq") == 0)
        f_seq(n ? n : 10000);
    else {
        fprintf(stderr, "gen_floods: unknown flood %s\n", name);
        pcapw_close(w, 0);
        return 2;
    }
    if (pcapw_close(w, 0) != 0) {
        perror("gen_floods: close");
        return 1;
    }
    return 0;
}
