/* reasm.c: see reasm.h. */
#include "reasm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"

/* A run of bytes that arrived ahead of a hole. Held bytes are copied (the packet
 * buffer is gone after this call); a flow that is only counted holds ranges alone. */
struct seg {
    struct seg *next;
    uint64_t ts_us;
    uint32_t seq;
    uint32_t len;
    uint32_t cut;  /* bytes the snaplen removed right after this run */
    bool held;     /* data[] holds the bytes */
    uint8_t data[];
};

/* One direction of one flow. */
struct half {
    struct seg *ooo;          /* sorted by seq, never overlapping */
    uint32_t next_seq;        /* next byte to deliver */
    uint32_t fin_seq;         /* sequence number of the FIN, when fin */
    uint64_t fin_us;          /* when the FIN arrived */
    uint32_t hole_ack;        /* the peer acknowledged up to here, past next_seq */
    uint64_t hole_acked_us;   /* when that was first seen */
    uint32_t hole_ack_timed;  /* what was acknowledged then: all the grace covers */
    uint32_t high;            /* past the highest sequence number seen sent (FIN too) */
    uint32_t ooo_bytes;       /* what ooo costs in memory: seg_cost() of each run */
    uint32_t ooo_segs;
    bool started;             /* next_seq is known */
    bool fin;
    bool done;                /* delivered up to the FIN */
    bool hole_acked;
    bool high_set;
    uint32_t claim;           /* the furthest bare ACK beyond high (note_claim) */
    uint32_t claim_timed;     /* what the first of them acknowledged */
    uint64_t claim_us;        /* when that was */
    bool claim_set;
};

struct rflow {
    struct half h[2];
    void *st;                 /* sink state, NULL until opened or when detached */
    struct reasm_counters c;
    bool opened;              /* the sink was asked */
    bool detached;            /* counting only */
    bool closed;
};

struct reasm {
    struct rflow *flows;
    uint32_t n_slots;
    uint32_t used;            /* slots from here on were never touched (reasm_free()
                                 walks only the others: no page faults at the end) */
    uint64_t global_cap;
    const struct stream_sink_ops *ops;
    void *owner;
    struct reasm_stats st;
};

struct reasm *reasm_new(uint32_t n_slots, uint64_t ooo_global_bytes,
                        const struct stream_sink_ops *ops, void *owner)
{
    struct reasm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    /* calloc: pages of idle slots are never touched */
    r->flows = calloc(n_slots, sizeof *r->flows);
    if (!r->flows) {
        free(r);
        return NULL;
    }
    r->n_slots = n_slots;
    r->global_cap = ooo_global_bytes;
    r->ops = ops;
    r->owner = owner;
    return r;
}

const struct reasm_stats *reasm_stats(const struct reasm *r)
{
    return &r->st;
}

/* Everything a delivery needs, gathered once per segment. */
struct ctx {
    struct reasm *r;
    struct rflow *rf;
    const struct flow *f;
    enum dir d;
    struct half *h;
};

static bool sink_ready(struct ctx *c)
{
    struct rflow *rf = c->rf;
    if (rf->detached || !c->r->ops)
        return false;
    if (!rf->opened) {
        rf->opened = true;
        rf->st = c->r->ops->open(c->r->owner, c->f);
        if (!rf->st)
            rf->detached = true;
    }
    return rf->st != NULL;
}

/* The direction's bytes are all delivered up to its FIN: tell the sink, which may
 * want to know who closed first (an open sink only: a FIN alone opens nothing). */
static void reach_fin(struct ctx *c, uint64_t ts)
{
    c->h->done = true;
    /* held bytes flushed at close carry their own, earlier time: the end of the
     * direction is not before its FIN arrived */
    if (c->rf->st && c->r->ops->eof)
        c->r->ops->eof(c->rf->st, c->d, ts > c->h->fin_us ? ts : c->h->fin_us);
}

static void advance(struct ctx *c, uint32_t n, uint64_t ts)
{
    struct half *h = c->h;
    h->next_seq += n;
    if (h->fin && h->next_seq == h->fin_seq)
        reach_fin(c, ts);
}

static void deliver(struct ctx *c, const uint8_t *p, uint32_t n, uint64_t ts)
{
    if (n == 0)
        return;
    if (p && sink_ready(c))
        c->r->ops->data(c->rf->st, c->d, p, n, ts);
    advance(c, n, ts);
}

static void gap(struct ctx *c, uint32_t missing, uint64_t ts)
{
    if (missing == 0)
        return;
    c->rf->c.missing_bytes[c->d] += missing;
    c->rf->c.gaps++;
    if (sink_ready(c))
        c->r->ops->gap(c->rf->st, c->d, missing, ts);
    advance(c, missing, ts);
}

/* Bytes the snap length kept out of the capture: the stream moves over them, and the
 * sink hears that they were there (a gap for a sink that cannot tell the difference). */
static void uncaptured(struct ctx *c, uint32_t n, uint64_t ts)
{
    if (n == 0)
        return;
    c->rf->c.snap_cut_bytes[c->d] += n;
    if (sink_ready(c)) {
        if (c->r->ops->uncaptured)
            c->r->ops->uncaptured(c->rf->st, c->d, n, ts);
        else
            c->r->ops->gap(c->rf->st, c->d, n, ts);
    }
    advance(c, n, ts);
}

/* What a held run costs in memory, charged against both budgets: its payload, its
 * struct seg and the allocator's header and alignment (ES_ALLOC_COST, limits.h). A run
 * that holds no bytes (a counting-only flow) costs its struct: a flood of tiny
 * segments is charged what it really takes, not its payload alone. */
static uint32_t seg_cost(bool held, uint32_t len)
{
    return (uint32_t)ES_ALLOC_COST(sizeof(struct seg) + (held ? len : 0));
}

uint32_t reasm_held_cost(bool held, uint32_t len)
{
    return seg_cost(held, len);
}

static void seg_free(struct reasm *r, struct half *h, struct seg *s)
{
    uint32_t cost = seg_cost(s->held, s->len);
    h->ooo_bytes -= cost;
    r->st.ooo_bytes_now -= cost;
    h->ooo_segs--;
    free(s);
}

/* Deliver held runs that now start at or before next_seq. A hole filled by a new
 * segment makes the runs behind it available at that segment's time (`ts`); a hole
 * skipped as a gap delivers each run at the time it arrived (`own_ts`). */
static void drain(struct ctx *c, uint64_t ts, bool own_ts)
{
    struct half *h = c->h;
    struct seg *s;
    while (!h->done && (s = h->ooo) && seq_le(s->seq, h->next_seq)) {
        h->ooo = s->next;
        uint32_t skip = h->next_seq - s->seq;
        uint64_t when = own_ts ? s->ts_us : ts;
        if (skip < s->len)
            deliver(c, s->held ? s->data + skip : NULL, s->len - skip, when);
        uint32_t end = s->seq + s->len + s->cut;
        if (s->cut && seq_lt(h->next_seq, end))
            uncaptured(c, end - h->next_seq, when);
        seg_free(c->r, h, s);
    }
}

/* Declare everything before `target` that is not held a gap, delivering held runs on
 * the way. */
static void skip_to(struct ctx *c, uint32_t target, uint64_t ts)
{
    struct half *h = c->h;
    while (!h->done && seq_lt(h->next_seq, target)) {
        struct seg *s = h->ooo;
        uint32_t stop = s && seq_lt(s->seq, target) ? s->seq : target;
        gap(c, stop - h->next_seq, ts);
        drain(c, ts, true);
    }
}

/* Skip the first hole: the one in front of the oldest held run. */
static void skip_first_hole(struct ctx *c, uint64_t ts)
{
    if (c->h->ooo)
        skip_to(c, c->h->ooo->seq, ts);
}

/* Hold the parts of [seq, seq+n) that no held run covers yet: the first copy wins. */
static void hold(struct ctx *c, uint32_t seq, const uint8_t *p, uint32_t n, uint32_t cut,
                 uint64_t ts)
{
    struct half *h = c->h;
    bool keep = p && !c->rf->detached;
    uint32_t cur = seq, end = seq + n;
    struct seg **pp = &h->ooo;
    bool overlapped = false, fresh = false;
    while (seq_lt(cur, end)) {
        struct seg *s = *pp;
        if (s && seq_le(s->seq + s->len, cur)) {
            pp = &s->next;
            continue;
        }
        uint32_t piece_end = end;
        if (s && seq_lt(s->seq, end)) {
            if (seq_le(s->seq, cur)) {
                /* cur lies inside s: the held copy wins; compare when we can */
                uint32_t ov_end = seq_lt(s->seq + s->len, end) ? s->seq + s->len : end;
                if (s->held && p &&
                    memcmp(s->data + (cur - s->seq), p + (cur - seq), ov_end - cur) != 0)
                    c->rf->c.overlap_mismatch++;
                overlapped = true;
                cur = ov_end;
                pp = &s->next;
                continue;
            }
            piece_end = s->seq;
        }
        uint32_t len = piece_end - cur;
        fresh = true;
        struct seg *ns = malloc(sizeof *ns + (keep ? len : 0));
        if (!ns) { /* the piece becomes a hole, reported as a gap later */
            c->r->st.alloc_failures++;
            cur = piece_end;
            continue;
        }
        ns->seq = cur;
        ns->len = len;
        ns->cut = piece_end == end ? cut : 0;
        ns->ts_us = ts;
        ns->held = keep;
        if (keep)
            memcpy(ns->data, p + (cur - seq), len);
        uint32_t cost = seg_cost(keep, len);
        h->ooo_bytes += cost;
        c->r->st.ooo_bytes_now += cost;
        if (c->r->st.ooo_bytes_now > c->r->st.ooo_bytes_peak)
            c->r->st.ooo_bytes_peak = c->r->st.ooo_bytes_now;
        h->ooo_segs++;
        ns->next = s;
        *pp = ns;
        pp = &ns->next;
        cur = piece_end;
    }
    /* Counted as for delivered bytes: all seen before is a retransmission, partly
     * seen an overlap. */
    if (n && !fresh)
        c->rf->c.retransmissions++;
    else if (overlapped)
        c->rf->c.overlaps++;
}

/* Bytes [seq, seq+n) plus `cut` bytes lost by the snaplen right after them. */
static void data_segment(struct ctx *c, uint32_t seq, const uint8_t *p, uint32_t n,
                         uint32_t cut, uint64_t ts)
{
    struct half *h = c->h;
    struct reasm_counters *k = &c->rf->c;
    for (;;) {
        if (h->done)
            return;
        if (seq_lt(seq, h->next_seq)) {
            uint32_t old = h->next_seq - seq;
            if (old >= n) { /* all data already seen: a retransmission */
                if (n)
                    k->retransmissions++;
                if (old < n + cut) {
                    /* The cut reaches past next_seq. Held runs it covers are behind
                     * the stream now: drain them, or skip_to() would never advance
                     * past them. */
                    uncaptured(c, n + cut - old, ts);
                    drain(c, ts, false);
                }
                return;
            }
            k->overlaps++;
            p = p ? p + old : NULL;
            n -= old;
            seq = h->next_seq;
        }
        if (seq == h->next_seq) {
            deliver(c, p, n, ts);
            uncaptured(c, cut, ts);
            drain(c, ts, false);
            return;
        }
        /* Ahead of a hole. */
        if ((uint32_t)(seq - h->next_seq) > REASM_MAX_SEQ_JUMP) {
            k->out_of_window++;
            return;
        }
        /* Charged in memory, not in payload (seg_cost). A segment that straddles held
         * runs is held in several pieces, each charged once held: the budgets may be
         * passed by one segment's pieces, never more. */
        uint64_t need = seg_cost(p && !c->rf->detached, n);
        bool over_flow = h->ooo_bytes + need > REASM_MAX_OOO_PER_FLOW ||
                         h->ooo_segs + 1 > REASM_MAX_OOO_SEGS;
        bool over_global = c->r->st.ooo_bytes_now + need > c->r->global_cap;
        if (!over_flow && !over_global) {
            k->out_of_order++;
            hold(c, seq, p, n, cut, ts);
            return;
        }
        /* A budget is exceeded: the oldest hole of this flow will not be waited for
         * any longer. Skip it, then look at this segment again: it may now be in
         * order. With nothing held, skip straight to the segment. */
        k->cap_flushes++;
        if (over_flow)
            c->r->st.cap_flushes_flow++;
        else
            c->r->st.cap_flushes_global++;
        if (h->ooo)
            skip_first_hole(c, ts);
        else
            skip_to(c, seq, ts);
    }
}

/* The peer acknowledged bytes this direction never delivered. Once the grace period
 * has passed and they are still missing, the capture lost them: skip the hole. */
static void check_acked_hole(struct ctx *c, uint64_t ts, bool now)
{
    struct half *h = c->h;
    if (!h->hole_acked)
        return;
    if (h->done || !seq_lt(h->next_seq, h->hole_ack)) {
        h->hole_acked = false;
        return;
    }
    if (!now && ts < h->hole_acked_us + REASM_ACKED_HOLE_GRACE_US)
        return;
    h->hole_acked = false;
    skip_to(c, now ? h->hole_ack : h->hole_ack_timed, ts);
    /* Bytes acknowledged by a later bare ACK may still be on their way (multi-queue
     * capture): they get a grace period of their own. */
    if (!now && !h->done && seq_lt(h->next_seq, h->hole_ack)) {
        h->hole_acked = true;
        h->hole_acked_us = ts;
        h->hole_ack_timed = h->hole_ack;
    }
}

/* Acknowledgments of bytes the sender was never seen to send (RFC 5961 5.2): a bare
 * ACK beyond `high` is held as a claim. It becomes an acknowledged hole (at the time
 * it was made) only as far as the sender's later segments or FIN reach: one forged
 * ACK cannot make bytes still to come a gap. A claim never reached is counted in
 * bad_acks when the flow closes. */
static void note_claim(struct half *h, uint32_t ack, uint64_t ts)
{
    if (!h->claim_set) {
        h->claim_set = true;
        h->claim_us = ts;
        h->claim_timed = h->claim = ack;
    } else if (seq_lt(h->claim, ack)) {
        h->claim = ack;
    }
}

static void note_ack(struct half *h, uint32_t ack, uint64_t ts, bool with_data)
{
    if (!h->started)
        return;
    if (!with_data && seq_lt(h->high, ack)) {
        if (ack - h->high <= REASM_MAX_SEQ_JUMP)
            note_claim(h, ack, ts);
        ack = h->high;
    }
    if (h->done || !seq_lt(h->next_seq, ack))
        return;
    if (h->fin && seq_lt(h->fin_seq, ack))
        ack = h->fin_seq; /* the FIN itself takes one sequence number */
    if (ack - h->next_seq > REASM_MAX_SEQ_JUMP)
        return; /* not believable */
    if (!h->hole_acked) {
        h->hole_acked = true;
        h->hole_acked_us = ts;
        h->hole_ack = h->hole_ack_timed = ack;
    } else if (seq_lt(h->hole_ack, ack)) {
        h->hole_ack = ack;
    }
}

/* The sender's segment [start, end): raise high, and turn what it confirms of a claim
 * into an acknowledged hole: the bytes before `start`, not the segment's own. */
static void raise_high(struct half *h, uint32_t start, uint32_t end)
{
    if (!seq_lt(h->high, end) || (uint32_t)(end - h->next_seq) > REASM_MAX_SEQ_JUMP)
        return; /* not higher, or too far ahead to be believed (out_of_window) */
    h->high = end;
    if (!h->claim_set)
        return;
    uint32_t timed = seq_lt(start, h->claim_timed) ? start : h->claim_timed;
    uint32_t upto = seq_lt(start, h->claim) ? start : h->claim;
    if (!h->done && seq_lt(h->next_seq, upto)) {
        if (!h->hole_acked) {
            h->hole_acked = true;
            h->hole_acked_us = h->claim_us;
            h->hole_ack_timed = seq_lt(h->next_seq, timed) ? timed : upto;
            h->hole_ack = upto;
        } else if (seq_lt(h->hole_ack, upto)) {
            h->hole_ack = upto;
        }
    }
    if (!seq_lt(end, h->claim))
        h->claim_set = false;
    else if (seq_lt(h->claim_timed, end))
        h->claim_timed = end;
}

/* Flow f's state, noting that its slot has been touched. */
static struct rflow *rflow_of(struct reasm *r, const struct flow *f)
{
    if (f->slot >= r->used)
        r->used = f->slot + 1;
    return &r->flows[f->slot];
}

void reasm_segment(struct reasm *r, const struct flow *f, enum dir d,
                   const struct dec_pkt *p)
{
    struct rflow *rf = rflow_of(r, f);
    if (rf->closed)
        return;
    struct ctx c = { r, rf, f, d, &rf->h[d] };
    struct half *h = c.h;
    uint64_t ts = p->ts_us;

    if (h->started && !(p->tcp_flags & TCP_RST)) {
        uint32_t start = p->seq + ((p->tcp_flags & TCP_SYN) ? 1u : 0u);
        raise_high(h, start,
                   start + p->payload_len + p->payload_cut + ((p->tcp_flags & TCP_FIN) ? 1u : 0u));
    }
    if (p->tcp_flags & TCP_ACK)
        note_ack(&rf->h[!d], p->ack, ts, p->payload_len > 0);
    for (int i = 0; i < 2; i++) {
        struct ctx ci = { r, rf, f, (enum dir)i, &rf->h[i] };
        /* Data that acknowledges the peer's missing bytes was sent after the peer's
         * bytes arrived: the sink must see those first, so the hole is given up now,
         * without the grace a bare ACK gets. */
        check_acked_hole(&ci, ts, i != (int)d && p->payload_len > 0);
    }
    if (p->tcp_flags & TCP_RST)
        return; /* data in a RST is not part of the stream */

    uint32_t seq = p->seq;
    if (p->tcp_flags & TCP_SYN) {
        seq++; /* the SYN takes one sequence number; TFO data follows it */
        if (!h->started) {
            h->started = true;
            h->next_seq = seq;
        }
    }
    uint32_t span = p->payload_len + p->payload_cut;
    if (!h->started && span) { /* picked up mid-stream */
        h->started = true;
        h->next_seq = seq;
    }
    if (h->started && !h->high_set) {
        h->high_set = true;
        h->high = h->next_seq;
    }
    if (h->started)
        raise_high(h, seq, seq + span + ((p->tcp_flags & TCP_FIN) ? 1u : 0u));
    if (span)
        data_segment(&c, seq, p->payload, p->payload_len, p->payload_cut, ts);
    if ((p->tcp_flags & TCP_FIN) && h->started && !h->fin) {
        h->fin = true;
        h->fin_seq = seq + span;
        h->fin_us = ts;
        if (h->next_seq == h->fin_seq)
            reach_fin(&c, ts);
    }
}

static void free_half(struct reasm *r, struct half *h)
{
    while (h->ooo) {
        struct seg *s = h->ooo;
        h->ooo = s->next;
        seg_free(r, h, s);
    }
}

void reasm_close(struct reasm *r, const struct flow *f, enum end_reason why,
                 uint64_t ts_us)
{
    struct rflow *rf = rflow_of(r, f);
    if (rf->closed)
        return;
    for (int i = 0; i < 2; i++) {
        struct ctx c = { r, rf, f, (enum dir)i, &rf->h[i] };
        struct half *h = c.h;
        while (h->ooo && !h->done)
            skip_first_hole(&c, ts_us);
        if (h->fin && !h->done && seq_lt(h->next_seq, h->fin_seq))
            gap(&c, h->fin_seq - h->next_seq, ts_us); /* bytes lost before the FIN */
        if (h->claim_set) { /* acknowledged bytes never seen sent: no gap */
            rf->c.bad_acks++;
            r->st.bad_acks++;
        }
        free_half(r, h);
    }
    rf->closed = true;
    if (rf->st) {
        r->ops->close(rf->st, why, ts_us);
        rf->st = NULL;
    }
}

bool reasm_detach(struct reasm *r, const struct flow *f, uint64_t ts_us)
{
    struct rflow *rf = rflow_of(r, f);
    if (rf->detached || rf->closed)
        return false;
    rf->detached = true;
    rf->opened = true;
    if (rf->st) {
        r->ops->close(rf->st, END_NONE, ts_us);
        rf->st = NULL;
    }
    return true;
}

void reasm_release(struct reasm *r, const struct flow *f, enum end_reason why,
                   uint64_t ts_us, struct reasm_counters *out)
{
    struct rflow *rf = rflow_of(r, f);
    reasm_close(r, f, why, ts_us);
    if (out)
        *out = rf->c;
    memset(rf, 0, sizeof *rf);
}

void reasm_free(struct reasm *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->used; i++)
        for (int d = 0; d < 2; d++)
            if (r->flows[i].h[d].ooo)
                free_half(r, &r->flows[i].h[d]);
    free(r->flows);
    free(r);
}
