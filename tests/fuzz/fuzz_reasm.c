/* fuzz_reasm.c: the flow table and TCP reassembly, driven as the pipeline drives
 * them, by segments the input describes.
 *
 * Input: a 4-byte run header, then segments, each a 10-byte header and its payload.
 *
 *   run header  g0 bits 0-2  global out-of-order cap: 1, 16, 100, 1000, 4096, 64K,
 *                            1M bytes, or the default (small caps reach the budget paths)
 *               g0 bit 3/4   client/server ISN just below 2^32 (sequence wrap)
 *               g0 bit 5     count only: reassembly gets no sink
 *               g1 bits 0-4  number of flows, 1..24 (the table holds 16: eviction)
 *               g1 bits 5-6  idle timeout: default, 1 s, 10 s, 60 s
 *               g2, g3       ISN entropy
 *   segment     s0           bit 0 direction (1: server to client), bits 1-4 SYN FIN
 *                            RST ACK, bit 5 detach the flow first (what the driver does
 *                            for a flow that is not HTTP), bit 6 far jump (seq delta
 *                            times 4096), bit 7 synthetic payload (not taken from input)
 *               s1           flow index, modulo the number of flows
 *               s2-s3        seq: signed offset from the highest byte sent that way
 *               s4-s5        ack: signed offset from the highest byte sent the other way
 *               s6-s7        payload length (from the input: clamped to what is left)
 *               s8           time step: low 7 bits times 100 us, or times 50 ms with
 *                            bit 7; 0xff steps back 5 ms (capture reordering)
 *               s9           bytes cut by the snaplen after the payload: (low 4 bits)
 *                            shifted left by the high 4 bits
 *
 * The sink reads every delivered byte and checks reassembly's promises: no empty data
 * or gap, nothing after a direction's eof, every opened state closed exactly once (a
 * call after close is a use after free, a second close a double free), and nothing
 * held once the table is flushed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "limits.h"
#include "reasm.h"

enum { MAX_FLOWS = 24, SEG_HDR = 10, RUN_HDR = 4, SYNTH_MAX = 65535 };

static void require(bool ok)
{
    if (!ok)
        abort();
}

/* ---- the sink: one small heap state per flow, so a leak or a late call shows ---- */

struct owner {
    uint64_t opened, closed;
};

struct fstate {
    struct owner *o;
    uint64_t sum, gap_bytes;
    bool eof[2];
};

static volatile uint64_t sink_sum;

static void *s_open(void *owner, const struct flow *f)
{
    (void)f;
    struct fstate *s = calloc(1, sizeof *s);
    require(s != NULL);
    s->o = owner;
    s->o->opened++;
    return s;
}

static void s_data(void *st, enum dir d, const uint8_t *p, size_t n, uint64_t ts_us)
{
    (void)ts_us;
    struct fstate *s = st;
    require(n > 0 && (d == DIR_C2S || d == DIR_S2C) && !s->eof[d]);
    for (size_t i = 0; i < n; i++)
        s->sum += p[i];
}

static void s_gap(void *st, enum dir d, uint64_t missing, uint64_t ts_us)
{
    (void)ts_us;
    struct fstate *s = st;
    require(missing > 0 && (d == DIR_C2S || d == DIR_S2C) && !s->eof[d]);
    s->gap_bytes += missing;
}

static void s_eof(void *st, enum dir d, uint64_t ts_us)
{
    (void)ts_us;
    struct fstate *s = st;
    require(d == DIR_C2S || d == DIR_S2C);
    s->eof[d] = true;
}

static void s_close(void *st, enum end_reason why, uint64_t ts_us)
{
    (void)why;
    (void)ts_us;
    struct fstate *s = st;
    s->o->closed++;
    sink_sum += s->sum + s->gap_bytes;
    free(s);
}

static const struct stream_sink_ops sink_ops = { s_open, s_data, s_gap, s_eof, s_close,
                                                 NULL };

/* ---- the driver ---- */

struct env {
    struct flow_table *ft;
    struct reasm *ra;
};

static void on_release(void *ctx, struct flow *f)
{
    struct env *e = ctx;
    struct reasm_counters rc;
    reasm_release(e->ra, f, (enum end_reason)f->end_reason, f->last_seen_us, &rc);
}

/* What the input said about one connection: its endpoints and, per direction, the
 * highest sequence number used so far (offsets are taken from it). */
struct conn {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t family;
    uint32_t top[2];
};

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint8_t synth[SYNTH_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t caps[8] = { 1, 16, 100, 1000, 4096, 65536, 1u << 20,
                                      REASM_DEFAULT_OOO_GLOBAL };
    static const uint64_t idles[4] = { FLOW_DEFAULT_IDLE_US, 1000000, 10000000, 60000000 };
    if (size < RUN_HDR)
        return 0;
    if (!synth[1])
        for (size_t i = 0; i < SYNTH_MAX; i++)
            synth[i] = (uint8_t)(i * 31 + 7);
    uint8_t g0 = data[0], g1 = data[1];
    uint32_t n_conns = 1 + (g1 & 31u) % MAX_FLOWS;
    uint32_t isn[2];
    isn[0] = g0 & 0x08 ? 0xffffffffu - data[2] * 16u : 1000u + data[2] * 4096u;
    isn[1] = g0 & 0x10 ? 0xffffffffu - data[3] * 16u : 5000u + data[3] * 65536u;

    struct owner own = { 0, 0 };
    struct env e;
    struct flow_config cfg = { 16, idles[(g1 >> 5) & 3], FLOW_DEFAULT_LINGER_US, false };
    e.ft = flow_table_new(&cfg, on_release, &e);
    require(e.ft != NULL);
    e.ra = reasm_new(flow_table_capacity(e.ft), caps[g0 & 7],
                     g0 & 0x20 ? NULL : &sink_ops, &own);
    require(e.ra != NULL);

    struct conn conns[MAX_FLOWS];
    memset(conns, 0, sizeof conns);
    for (uint32_t i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        c->family = i % 2 ? 6 : 4;
        c->addr[0][0] = 10, c->addr[0][2] = (uint8_t)i, c->addr[0][3] = 1;
        c->addr[1][0] = 10, c->addr[1][3] = 2;
        c->port[0] = (uint16_t)(40000 + i);
        c->port[1] = 80;
        c->top[0] = isn[0] + i;
        c->top[1] = isn[1] + i;
    }

    uint64_t now = 1700000000000000ull;
    size_t at = RUN_HDR;
    while (size - at >= SEG_HDR) {
        const uint8_t *s = data + at;
        at += SEG_HDR;
        enum dir d = s[0] & 1 ? DIR_S2C : DIR_C2S;
        struct conn *c = &conns[s[1] % n_conns];
        uint8_t flags = (uint8_t)((s[0] & 0x02 ? TCP_SYN : 0) | (s[0] & 0x04 ? TCP_FIN : 0) |
                                  (s[0] & 0x08 ? TCP_RST : 0) | (s[0] & 0x10 ? TCP_ACK : 0));
        int32_t dseq = (int16_t)le16(s + 2);
        if (s[0] & 0x40)
            dseq *= 4096;
        uint32_t seq = c->top[d] + (uint32_t)dseq;
        uint32_t ack = c->top[!d] + (uint32_t)(int32_t)(int16_t)le16(s + 4);
        uint32_t len = le16(s + 6);
        const uint8_t *payload;
        if (s[0] & 0x80) {
            payload = synth;
        } else {
            if (len > size - at)
                len = (uint32_t)(size - at);
            payload = data + at;
            at += len;
        }
        if (s[8] == 0xff)
            now -= 5000;
        else
            now += (uint64_t)(s[8] & 0x7f) * (s[8] & 0x80 ? 50000u : 100u);

        struct dec_pkt p;
        memset(&p, 0, sizeof p);
        int from = d == DIR_C2S ? 0 : 1;
        memcpy(p.src, c->addr[from], 16);
        memcpy(p.dst, c->addr[!from], 16);
        p.family = c->family;
        p.sport = c->port[from];
        p.dport = c->port[!from];
        p.ts_us = now;
        p.seq = seq;
        p.ack = ack;
        p.tcp_flags = flags;
        p.window = le16(s + 4);
        p.wscale = (flags & TCP_SYN) ? (uint8_t)(s[9] & 0x0f) : DEC_NO_WSCALE;
        p.payload = len ? payload : NULL;
        p.payload_len = len;
        p.payload_cut = (uint32_t)(s[9] & 0x0f) << (s[9] >> 4);
        p.l3_len = (p.family == 4 ? 40u : 60u) + (size_t)len;
        p.wire_len = 14u + (uint32_t)p.l3_len + p.payload_cut;
        uint32_t end = seq + len + p.payload_cut + (flags & TCP_SYN ? 1 : 0) +
                       (flags & TCP_FIN ? 1 : 0);
        if (seq_lt(c->top[d], end))
            c->top[d] = end;

        /* as the pipeline does it */
        struct flow_hit hit = flow_table_packet(e.ft, &p);
        if (!hit.f || hit.after_end || hit.ignored)
            continue;
        if (s[0] & 0x20)
            reasm_detach(e.ra, hit.f, p.ts_us);
        reasm_segment(e.ra, hit.f, hit.dir, &p);
        if (hit.ended)
            reasm_close(e.ra, hit.f, (enum end_reason)hit.f->end_reason, p.ts_us);
    }

    flow_table_flush(e.ft);
    require(own.opened == own.closed);
    require(reasm_stats(e.ra)->ooo_bytes_now == 0);
    reasm_free(e.ra);
    flow_table_free(e.ft);
    return 0;
}
