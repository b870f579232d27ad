/* pcapw.c: see pcapw.h. */
#include "pcapw.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A test that overflows the frame buffer or passes a bad address is itself wrong:
 * stop at once, even in a release build where assert() is compiled out. */
static void die(const char *what)
{
    fprintf(stderr, "pcapw: %s\n", what);
    abort();
}

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b + 2, (uint16_t)v);
}

void pcapw_init(struct pcapw_pkt *p)
{
    p->head = p->tail = PCAPW_HEADROOM;
}

const uint8_t *pcapw_data(const struct pcapw_pkt *p)
{
    return p->buf + p->head;
}

size_t pcapw_len(const struct pcapw_pkt *p)
{
    return p->tail - p->head;
}

void pcapw_append(struct pcapw_pkt *p, const void *data, size_t n)
{
    if (n > sizeof p->buf - p->tail)
        die("frame too long");
    if (n)
        memcpy(p->buf + p->tail, data, n);
    p->tail += n;
}

void pcapw_pad(struct pcapw_pkt *p, size_t min_len, uint8_t fill)
{
    while (pcapw_len(p) < min_len)
        pcapw_append(p, &fill, 1);
}

uint8_t *pcapw_push(struct pcapw_pkt *p, size_t n)
{
    if (n > p->head)
        die("headroom exhausted");
    p->head -= n;
    memset(p->buf + p->head, 0, n);
    return p->buf + p->head;
}

void pcapw_tcp(struct pcapw_pkt *p, const struct pcapw_tcp *t)
{
    if (t->opt_len % 4 || t->opt_len > 40)
        die("TCP options must be a multiple of 4 bytes, at most 40");
    uint8_t *b = pcapw_push(p, 20 + t->opt_len);
    put16(b, t->sport);
    put16(b + 2, t->dport);
    put32(b + 4, t->seq);
    put32(b + 8, t->ack);
    uint8_t doff = t->doff_words ? t->doff_words : (uint8_t)((20 + t->opt_len) / 4);
    b[12] = (uint8_t)(doff << 4);
    b[13] = t->flags;
    put16(b + 14, t->window ? t->window : 65535);
    if (t->opt_len)
        memcpy(b + 20, t->opt, t->opt_len);
}

static void addr(int af, const char *text, uint8_t *out)
{
    if (!text || inet_pton(af, text, out) != 1)
        die("bad address");
}

void pcapw_ipv4(struct pcapw_pkt *p, const struct pcapw_ip4 *h)
{
    if (h->opt_len % 4 || h->opt_len > 40)
        die("IPv4 options must be a multiple of 4 bytes, at most 40");
    size_t hlen = 20 + h->opt_len;
    size_t total = hlen + pcapw_len(p);
    if (total > 0xffff && !h->total_len)
        die("IPv4 datagram too long");
    uint8_t *b = pcapw_push(p, hlen);
    b[0] = (uint8_t)(0x40 | (h->ihl_words ? h->ihl_words : hlen / 4));
    put16(b + 2, h->total_len ? h->total_len : (uint16_t)total);
    put16(b + 4, 0x1234);   /* identification */
    put16(b + 6, h->frag);
    b[8] = 64;              /* TTL */
    b[9] = h->proto ? h->proto : 6;
    addr(AF_INET, h->src, b + 12);
    addr(AF_INET, h->dst, b + 16);
    if (h->opt_len)
        memcpy(b + 20, h->opt, h->opt_len);
}

void pcapw_ipv6(struct pcapw_pkt *p, const struct pcapw_ip6 *h)
{
    size_t plen = pcapw_len(p);
    if (plen > 0xffff && !h->payload_len)
        die("IPv6 payload too long");
    uint8_t *b = pcapw_push(p, 40);
    put32(b, 0x60000000u);
    put16(b + 4, h->payload_len ? h->payload_len : (uint16_t)plen);
    b[6] = h->next;
    b[7] = 64;              /* hop limit */
    addr(AF_INET6, h->src, b + 8);
    addr(AF_INET6, h->dst, b + 24);
}

void pcapw_ipv6_opts(struct pcapw_pkt *p, uint8_t next, size_t len)
{
    if (len < 8 || len % 8 || len > 2048)
        die("IPv6 option header length must be a multiple of 8, from 8 to 2048");
    uint8_t *b = pcapw_push(p, len);
    b[0] = next;
    b[1] = (uint8_t)(len / 8 - 1);
    b[2] = 1;               /* PadN over the rest of the header (RFC 8200 4.2) */
    b[3] = (uint8_t)(len - 4);
}

void pcapw_ipv6_frag(struct pcapw_pkt *p, uint8_t next, uint16_t offset, bool more,
                     uint32_t id)
{
    uint8_t *b = pcapw_push(p, 8);
    b[0] = next;
    put16(b + 2, (uint16_t)(offset << 3 | (more ? 1 : 0)));
    put32(b + 4, id);
}

void pcapw_ether(struct pcapw_pkt *p, uint16_t type, const uint16_t *vids, int n_tags)
{
    /* Innermost tag first: each tag carries the type of what follows it. */
    for (int i = n_tags - 1; i >= 0; i--) {
        uint8_t *b = pcapw_push(p, 4);
        put16(b, vids[i] & 0x0fff);
        put16(b + 2, type);
        type = i == 0 && n_tags > 1 ? PCAPW_ETH_QINQ : PCAPW_ETH_VLAN;
    }
    static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };
    uint8_t *b = pcapw_push(p, 14);
    memcpy(b, macs, sizeof macs);
    put16(b + 12, type);
}

void pcapw_sll(struct pcapw_pkt *p, uint16_t type)
{
    uint8_t *b = pcapw_push(p, 16);
    put16(b, 0);            /* packet type: to us */
    put16(b + 2, 1);        /* ARPHRD_ETHER */
    put16(b + 4, 6);        /* address length */
    static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    memcpy(b + 6, mac, sizeof mac);
    put16(b + 14, type);
}

void pcapw_sll2(struct pcapw_pkt *p, uint16_t type)
{
    uint8_t *b = pcapw_push(p, 20);
    put16(b, type);
    put32(b + 4, 2);        /* interface index */
    put16(b + 8, 1);        /* ARPHRD_ETHER */
    b[10] = 0;              /* packet type: to us */
    b[11] = 6;              /* address length */
    static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    memcpy(b + 12, mac, sizeof mac);
}

void pcapw_null(struct pcapw_pkt *p, uint32_t family, bool big_endian)
{
    uint8_t *b = pcapw_push(p, 4);
    for (int i = 0; i < 4; i++)
        b[big_endian ? 3 - i : i] = (uint8_t)(family >> (8 * i));
}

/* Files are written in host byte order, as libpcap writes them. */
struct pcapw_file {
    FILE *f;
    enum pcapw_format fmt;
    uint32_t snaplen;
};

static int out(struct pcapw_file *w, const void *data, size_t n)
{
    return fwrite(data, 1, n, w->f) == n ? 0 : -1;
}

static int out32(struct pcapw_file *w, uint32_t v)
{
    return out(w, &v, 4);
}

static int out16(struct pcapw_file *w, uint16_t v)
{
    return out(w, &v, 2);
}

static bool is_ng(const struct pcapw_file *w)
{
    return w->fmt == PCAPW_PCAPNG || w->fmt == PCAPW_PCAPNG_NS;
}

static int header(struct pcapw_file *w, int linktype)
{
    int rc = 0;
    if (!is_ng(w)) {
        rc |= out32(w, w->fmt == PCAPW_PCAP_NS ? 0xa1b23c4du : 0xa1b2c3d4u);
        rc |= out16(w, 2);
        rc |= out16(w, 4);
        rc |= out32(w, 0);  /* thiszone */
        rc |= out32(w, 0);  /* sigfigs */
        rc |= out32(w, w->snaplen);
        rc |= out32(w, (uint32_t)linktype);
        return rc;
    }
    /* Section header block: no options, section length unknown (-1). */
    rc |= out32(w, 0x0a0d0d0au);
    rc |= out32(w, 28);
    rc |= out32(w, 0x1a2b3c4du);
    rc |= out16(w, 1);
    rc |= out16(w, 0);
    uint64_t unknown = UINT64_MAX;
    rc |= out(w, &unknown, 8);
    rc |= out32(w, 28);
    /* Interface description block, with if_tsresol when nanoseconds are asked for. */
    bool ns = w->fmt == PCAPW_PCAPNG_NS;
    uint32_t len = 20 + (ns ? 12 : 0);
    rc |= out32(w, 1);
    rc |= out32(w, len);
    rc |= out16(w, (uint16_t)linktype);
    rc |= out16(w, 0);
    rc |= out32(w, w->snaplen);
    if (ns) {
        rc |= out16(w, 9);  /* if_tsresol */
        rc |= out16(w, 1);
        static const uint8_t resol[4] = { 9, 0, 0, 0 };
        rc |= out(w, resol, 4);
        rc |= out32(w, 0);  /* opt_endofopt */
    }
    rc |= out32(w, len);
    return rc;
}

struct pcapw_file *pcapw_open(const char *path, enum pcapw_format fmt, int linktype,
                              uint32_t snaplen)
{
    struct pcapw_file *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fmt = fmt;
    w->snaplen = snaplen ? snaplen : 262144u;
    w->f = fopen(path, "wb");
    if (!w->f || header(w, linktype) != 0) {
        if (w->f)
            fclose(w->f);
        free(w);
        return NULL;
    }
    return w;
}

int pcapw_write_rec(struct pcapw_file *w, uint64_t ts_ns, const void *data,
                    uint32_t caplen, uint32_t wire_len)
{
    int rc = 0;
    if (!is_ng(w)) {
        uint64_t frac = w->fmt == PCAPW_PCAP_NS ? ts_ns % 1000000000u
                                                 : ts_ns % 1000000000u / 1000u;
        rc |= out32(w, (uint32_t)(ts_ns / 1000000000u));
        rc |= out32(w, (uint32_t)frac);
        rc |= out32(w, caplen);
        rc |= out32(w, wire_len);
        rc |= out(w, data, caplen);
        return rc;
    }
    uint64_t ts = w->fmt == PCAPW_PCAPNG_NS ? ts_ns : ts_ns / 1000u;
    uint32_t padded = (caplen + 3u) & ~3u;
    uint32_t len = 32 + padded;
    rc |= out32(w, 6);
    rc |= out32(w, len);
    rc |= out32(w, 0);      /* interface id */
    rc |= out32(w, (uint32_t)(ts >> 32));
    rc |= out32(w, (uint32_t)ts);
    rc |= out32(w, caplen);
    rc |= out32(w, wire_len);
    rc |= out(w, data, caplen);
    static const uint8_t zeros[4] = { 0 };
    rc |= out(w, zeros, padded - caplen);
    rc |= out32(w, len);
    return rc;
}

int pcapw_write(struct pcapw_file *w, uint64_t ts_ns, const void *data, size_t len)
{
    uint32_t caplen = len < w->snaplen ? (uint32_t)len : w->snaplen;
    return pcapw_write_rec(w, ts_ns, data, caplen, (uint32_t)len);
}

int pcapw_close(struct pcapw_file *w, size_t drop)
{
    if (!w)
        return 0;
    int rc = fflush(w->f) == 0 ? 0 : -1;
    if (drop && rc == 0) {
        long size = ftell(w->f);
        if (size < 0 || (size_t)size < drop ||
            ftruncate(fileno(w->f), (off_t)((size_t)size - drop)) != 0)
            rc = -1;
    }
    if (fclose(w->f) != 0)
        rc = -1;
    free(w);
    return rc;
}

int pcapw_write_raw(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

struct pcapw_file *pcapw_open_or_die(const char *path, enum pcapw_format fmt, int linktype,
                                     uint32_t snaplen)
{
    struct pcapw_file *w = pcapw_open(path, fmt, linktype, snaplen);
    if (!w) {
        perror(path);
        abort();
    }
    return w;
}
