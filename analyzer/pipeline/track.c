/* track.c: see track.h. */
#include "track.h"

#include <stdio.h>
#include <stdlib.h>

#include "classify.h"

struct track {
    struct track_hooks hooks;
    struct flow_table *ft;
    struct reasm *ra;
    struct cls *cls;          /* NULL when not classifying */
    struct h1 *h1;            /* NULL when not dissecting */
    struct exchange_sink xsink;
    uint64_t detached_flows;
};

static void on_exchange(void *ctx, const struct flow *f, struct exchange *x)
{
    struct track *t = ctx;
    t->hooks.exchange(t->hooks.ctx, f, x);
}

/* The flow table lets a flow go: close its stream (the dissector emits what is left of
 * its exchanges) and settle its protocol. */
static void on_release(void *ctx, struct flow *f)
{
    struct track *t = ctx;
    struct reasm_counters rc;
    reasm_release(t->ra, f, (enum end_reason)f->end_reason, f->last_seen_us, &rc);
    char l7[64] = "Unknown";
    if (t->cls)
        cls_release(t->cls, f, l7, sizeof l7);
    t->hooks.release(t->hooks.ctx, f, &rc, l7);
}

struct track *track_new(const struct track_config *cfg, const struct track_hooks *hooks,
                        char *err, size_t err_len)
{
    struct track *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    t->hooks = *hooks;
    /* Right to left: each layer exists before the one that feeds it. The flow table
     * comes first only because its capacity sizes the per-flow arrays of the rest;
     * it calls nothing until the first packet. */
    t->ft = flow_table_new(&cfg->flow, on_release, t);
    uint32_t slots = t->ft ? flow_table_capacity(t->ft) : 0;
    bool ok = t->ft != NULL;
    if (ok && cfg->dissect) {
        t->xsink = (struct exchange_sink){ on_exchange, t };
        t->h1 = h1_new(&t->xsink);
        ok = t->h1 != NULL;
        if (ok)
            h1_set_pending_cap(t->h1, cfg->pending_cap_bytes);
        if (ok && hooks->exchange_id)
            h1_set_id_hook(t->h1, hooks->exchange_id, hooks->ctx);
    }
    if (ok) {
        t->ra = reasm_new(slots, cfg->ooo_cap_bytes, t->h1 ? h1_sink_ops() : NULL, t->h1);
        ok = t->ra != NULL;
    }
    if (ok && cfg->classify) {
        t->cls = cls_new(slots);
        ok = t->cls != NULL;
    }
    if (!ok) {
        snprintf(err, err_len, "out of memory setting up %u flows",
                 slots ? slots : cfg->flow.max_flows);
        track_free(t);
        return NULL;
    }
    return t;
}

struct flow_table *track_flows(struct track *t)
{
    return t->ft;
}

void track_packet(struct track *t, const struct dec_pkt *d, struct evidence *evidence,
                  const struct source_packet *sp)
{
    struct flow_hit hit = flow_table_packet(t->ft, d);
    if (!hit.f)
        return; /* impossible flags, or a RST with no flow: counted by the table */
    if (hit.created && t->hooks.flow_new)
        t->hooks.flow_new(t->hooks.ctx, hit.f);
    /* stragglers too: the flow counts them, so its evidence shows them */
    if (evidence)
        evidence_packet(evidence, hit.f, sp);
    if (hit.after_end || hit.ignored)
        return; /* a straggler after FIN/RST, or a RST out of window: counted only */
    if (t->cls && cls_packet(t->cls, hit.f, hit.dir, d) == CLS_OTHER &&
        reasm_detach(t->ra, hit.f, d->ts_us)) {
        t->detached_flows++;
        if (evidence)
            evidence_flow_drop(evidence, hit.f);
    }
    reasm_segment(t->ra, hit.f, hit.dir, d);
    if (hit.ended)
        reasm_close(t->ra, hit.f, (enum end_reason)hit.f->end_reason, d->ts_us);
}

void track_stats(const struct track *t, struct track_stats *st)
{
    *st = (struct track_stats){ .detached_flows = t->detached_flows };
    st->flows = *flow_table_stats(t->ft);
    st->reasm = *reasm_stats(t->ra);
    if (t->h1)
        st->http = *h1_stats(t->h1);
    if (t->cls)
        st->ndpi_packets = cls_ndpi_packets(t->cls);
}

/* Structs made of uint64_t counters only (checked below), added field by field. */
static void add_u64s(void *sum, const void *x, size_t size)
{
    uint64_t *s = sum;
    const uint64_t *v = x;
    for (size_t i = 0; i < size / sizeof *s; i++)
        s[i] += v[i];
}

_Static_assert(sizeof(struct reasm_stats) % sizeof(uint64_t) == 0 &&
                   sizeof(struct h1_stats) % sizeof(uint64_t) == 0,
               "reasm_stats and h1_stats hold uint64_t counters only");

void track_stats_add(struct track_stats *sum, const struct track_stats *x)
{
    struct flow_stats *f = &sum->flows;
    f->created += x->flows.created;
    f->evicted += x->flows.evicted;
    f->timed_out += x->flows.timed_out;
    f->port_reuse += x->flows.port_reuse;
    f->bad_rsts += x->flows.bad_rsts;
    f->bad_flags += x->flows.bad_flags;
    f->active += x->flows.active;
    f->peak_active += x->flows.peak_active;
    add_u64s(&sum->reasm, &x->reasm, sizeof sum->reasm);
    add_u64s(&sum->http, &x->http, sizeof sum->http);
    sum->ndpi_packets += x->ndpi_packets;
    sum->detached_flows += x->detached_flows;
}

void track_free(struct track *t)
{
    if (!t)
        return;
    cls_free(t->cls);
    reasm_free(t->ra);
    flow_table_free(t->ft);
    h1_free(t->h1);
    free(t);
}
