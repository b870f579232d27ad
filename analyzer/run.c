/* run.c: see run.h. */
#include "run.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"

struct run {
    struct flow_table *ft;
    struct reasm *ra;
    struct cls *cls;
    const struct run_hooks *hooks;
    struct run_totals *tot;
};

/* The flow table lets a flow go: close its stream, settle its protocol, report it. */
static void on_release(void *ctx, struct flow *f)
{
    struct run *r = ctx;
    struct reasm_counters rc;
    reasm_release(r->ra, f, (enum end_reason)f->end_reason, f->last_seen_us, &rc);
    char l7[64];
    cls_release(r->cls, f, l7, sizeof l7);
    if (r->hooks->flow_done) {
        struct flow_record rec = { f, &rc, l7 };
        r->hooks->flow_done(r->hooks->ctx, &rec);
    }
}

static void packet(struct run *r, const struct cap_packet *cp)
{
    if (!r->tot->first_packet_us || cp->ts_us < r->tot->first_packet_us)
        r->tot->first_packet_us = cp->ts_us;
    if (cp->ts_us > r->tot->last_packet_us)
        r->tot->last_packet_us = cp->ts_us;
    struct dec_pkt p;
    enum dec_result dr = dec_packet(cp->linktype, cp->data, cp->caplen, cp->wire_len, &p);
    r->tot->dec[dr]++;
    if (dr != DEC_TCP)
        return;
    p.ts_us = cp->ts_us;
    struct flow_hit hit = flow_table_packet(r->ft, &p);
    if (hit.after_end)
        return; /* a straggler after FIN/RST: counted by the flow table only */
    if (cls_packet(r->cls, hit.f, hit.dir, &p) == CLS_OTHER &&
        reasm_detach(r->ra, hit.f, p.ts_us))
        r->tot->detached_flows++;
    reasm_segment(r->ra, hit.f, hit.dir, &p);
    if (hit.ended)
        reasm_close(r->ra, hit.f, (enum end_reason)hit.f->end_reason, p.ts_us);
}

/* A progress bar on stderr, for inputs large enough to wait for. */
static void progress(const struct cap *cap, bool done)
{
    uint64_t at, total;
    cap_progress(cap, &at, &total);
    if (total < (64u << 20))
        return;
    if (done) {
        fprintf(stderr, "\r%60s\r", "");
        return;
    }
    unsigned pct = (unsigned)(at * 100 / total);
    char bar[41];
    unsigned fill = pct * 40 / 100;
    memset(bar, '#', fill);
    memset(bar + fill, ' ', 40 - fill);
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %llu/%llu MB", bar, pct, (unsigned long long)(at >> 20),
            (unsigned long long)(total >> 20));
}

int run_capture(const struct options *o, const struct run_hooks *hooks,
                struct run_totals *tot, char *err, size_t err_len)
{
    memset(tot, 0, sizeof *tot);
    struct cap *cap = cap_open_files(o->inputs, o->n_inputs, err, err_len);
    if (!cap)
        return EXIT_INPUT;
    struct run r = { .hooks = hooks, .tot = tot };
    struct flow_config fc = { o->max_flows, o->tcp_timeout_us, o->linger_us };
    /* Right to left: each layer exists before the one that feeds it. */
    r.ft = flow_table_new(&fc, on_release, &r);
    uint32_t slots = r.ft ? flow_table_capacity(r.ft) : 0;
    r.ra = r.ft ? reasm_new(slots, o->ooo_cap_bytes, hooks->sink, hooks->sink_owner) : NULL;
    r.cls = r.ft ? cls_new(slots) : NULL;
    int rc = EXIT_OK;
    if (!r.ft || !r.ra || !r.cls) {
        snprintf(err, err_len, "out of memory setting up %u flows", slots);
        rc = EXIT_INPUT;
        goto out;
    }
    if (hooks->prepare && hooks->prepare(hooks->ctx, slots, err, err_len) != 0) {
        rc = EXIT_INPUT;
        goto out;
    }
    bool bar = !o->quiet && isatty(STDERR_FILENO);
    for (uint64_t n = 0;; n++) {
        if (bar && (n & 0xffff) == 0)
            progress(cap, false);
        if (hooks->stop && *hooks->stop) {
            tot->stopped = true;
            break;
        }
        struct cap_packet cp;
        char why[512];
        enum cap_event ev = cap_next(cap, &cp, why, sizeof why);
        if (ev == CAP_PACKET) {
            packet(&r, &cp);
            continue;
        }
        if (ev == CAP_TRUNCATED) {
            fprintf(stderr, "expectscope: warning: %s\n", why);
            continue;
        }
        if (ev == CAP_ERROR) {
            snprintf(err, err_len, "%s", why);
            rc = EXIT_INPUT;
        }
        break;
    }
    if (bar)
        progress(cap, true);
    flow_table_flush(r.ft);
    tot->flows = *flow_table_stats(r.ft);
    tot->reasm = *reasm_stats(r.ra);
    tot->ndpi_packets = cls_ndpi_packets(r.cls);
out:
    tot->cap = *cap_stats(cap);
    cls_free(r.cls);
    reasm_free(r.ra);
    flow_table_free(r.ft);
    cap_free(cap);
    return rc;
}
