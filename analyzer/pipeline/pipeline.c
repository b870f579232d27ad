/* pipeline.c: see pipeline.h. */
#include "pipeline.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout.h"
#include "limits.h"
#include "track.h"

struct pipeline {
    struct pipeline_config cfg;
    struct source *src;
    struct track *track;          /* one analysis thread: the caller's; or */
    struct fanout *fanout;        /* --workers N > 1: N of them */
    struct verdict_engine *verdict;
    struct hops *hops;            /* NULL without path analysis */
    struct rules *rules;          /* NULL when not dissecting */
    struct evidence *evidence;    /* NULL when not saving evidence */
    struct pipeline_totals tot;
    uint64_t pkt_no;              /* TCP packets handed on (dec_pkt.pkt_no) */
    uint64_t *input_packets;      /* per input of the source, at the end of the run */
    uint64_t next_tick_us, next_progress_us; /* live: monotonic clock */
    bool drained;
};

void pipeline_config_defaults(struct pipeline_config *cfg)
{
    *cfg = (struct pipeline_config){
        .flow = { FLOW_DEFAULT_MAX, FLOW_DEFAULT_IDLE_US, FLOW_DEFAULT_LINGER_US },
        .ooo_cap_bytes = REASM_DEFAULT_OOO_GLOBAL,
        .pending_cap_bytes = H1_DEFAULT_PENDING_BYTES,
        .verdict = { VERDICT_DEFAULT_NO_WAIT_US, VERDICT_DEFAULT_RETRY_WINDOW_US,
                     VERDICT_DEFAULT_STALL_US },
        .dissect = true,
        .classify = true,
        .paths = true,
    };
}

void pipeline_config_json(const struct pipeline_config *cfg, char *buf, size_t len)
{
    size_t used = 0;
    int k = snprintf(buf, len,
                     "{\"no_wait_ms\":%.3f,\"retry_window_s\":%.3f,\"stall_ms\":%.3f,"
                     "\"max_flows\":%u,\"tcp_timeout_s\":%.0f,\"ooo_cap_mb\":%llu,"
                     "\"pending_cap_mb\":%llu,\"paths\":%s,\"workers\":%u",
                     (double)cfg->verdict.no_wait_us / 1e3,
                     (double)cfg->verdict.retry_window_us / 1e6,
                     (double)cfg->verdict.stall_us / 1e3, cfg->flow.max_flows,
                     (double)cfg->flow.idle_us / 1e6,
                     (unsigned long long)(cfg->ooo_cap_bytes >> 20),
                     (unsigned long long)(cfg->pending_cap_bytes >> 20),
                     cfg->paths ? "true" : "false", cfg->workers > 1 ? cfg->workers : 1);
    used = k > 0 ? (size_t)k : 0;
    /* the declared proxies: one string per proxy, its addresses joined by commas */
    for (size_t i = 0; i < cfg->n_proxies && used < len; i++) {
        const struct hops_proxy *p = &cfg->proxies[i];
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, ip, sizeof ip);
        bool first = i == 0 || cfg->proxies[i - 1].group != p->group;
        bool last = i + 1 == cfg->n_proxies || cfg->proxies[i + 1].group != p->group;
        k = snprintf(buf + used, len - used, "%s%s%s%s",
                     i == 0 ? ",\"proxies\":[" : first ? "," : "", first ? "\"" : ",", ip,
                     last ? (i + 1 == cfg->n_proxies ? "\"]" : "\"") : "");
        used += k > 0 ? (size_t)k : 0;
    }
    if (used < len)
        snprintf(buf + used, len - used, "}");
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A write failed: the writer has stopped, so the run stops too (db_run_end() and
 * db_error() say why); what is still in flight is dropped, not half-written. */
static void write_failed(struct pipeline *p)
{
    p->tot.storage_failed = true;
}

/* The rules an exchange, a link or the end of the run showed broken. */
static void store_violations(struct pipeline *p, const struct rule_result *r)
{
    if (!p->cfg.db)
        return;
    for (int i = 0; i < r->n && !p->tot.storage_failed; i++)
        if (db_violation(p->cfg.db, &r->v[i]) != 0)
            write_failed(p);
}

/* What the path analysis found: links and updates to earlier rows, and the proxy rules
 * each link shows. */
static void store_hops(struct pipeline *p, const struct hop_result *r)
{
    struct rule_result rr;
    for (int i = 0; i < r->n_hops && p->rules; i++) {
        rules_hop(p->rules, &r->hops[i], &rr);
        store_violations(p, &rr);
    }
    if (!p->cfg.db)
        return;
    for (int i = 0; i < r->n_hops && !p->tot.storage_failed; i++)
        if (db_hop(p->cfg.db, &r->hops[i]) != 0)
            write_failed(p);
    for (int i = 0; i < r->n_updates && !p->tot.storage_failed; i++)
        if (db_exchange_path(p->cfg.db, &r->updates[i]) != 0)
            write_failed(p);
}

/* The dissector finished an exchange: judge it, say who answered it, store it, show
 * it. */
static void on_exchange(void *ctx, const struct flow *f, struct exchange *x)
{
    struct pipeline *p = ctx;
    verdict_judge(p->verdict, f, x);
    struct hop_result hr;
    if (p->hops)
        hops_exchange(p->hops, f, x, &hr);
    struct rule_result rr;
    rules_exchange(p->rules, f, x, &rr); /* after the path analysis: P6 reads who answered */
    if (p->cfg.db && !p->tot.storage_failed && db_exchange(p->cfg.db, f, x) != 0)
        write_failed(p);
    store_violations(p, &rr);
    if (p->hops)
        store_hops(p, &hr); /* after x's own row: a link may name it */
    const struct pipeline_observer *o = p->cfg.observer;
    if (o && o->exchange)
        o->exchange(o->ctx, f, x);
}

/* A flow left the analysis (its stream closed, its last exchanges emitted, its protocol
 * settled: track.h): settle its verdict, store it, show it. */
static void on_release(void *ctx, struct flow *f, const struct reasm_counters *rc,
                       const char *l7)
{
    struct pipeline *p = ctx;
    struct flow_result r = { f, rc, l7, { 0, V_NONE } };
    if (p->verdict)
        r.v = verdict_flow_done(p->verdict, f);
    if (p->rules)
        rules_flow_done(p->rules, f);
    if (r.v.exchanges) {
        p->tot.http_flows++;
        p->tot.flow_verdicts[r.v.verdict]++;
        if (flow_one_sided(f))
            p->tot.one_sided_flows++;
    }
    /* a file that cannot be written is counted in the evidence stats; the run goes on */
    if (p->evidence)
        (void)evidence_flow_done(p->evidence, f, r.v.verdict);
    if (p->cfg.db && !p->tot.storage_failed && db_flow(p->cfg.db, &r) != 0)
        write_failed(p);
    const struct pipeline_observer *o = p->cfg.observer;
    if (o && o->flow)
        o->flow(o->ctx, &r);
}

/* What the analysis threads found, in the order one thread would have found it. */
static void on_fanout(void *ctx, struct fanout_event *ev)
{
    if (ev->type == FANOUT_EXCHANGE)
        on_exchange(ctx, ev->f, ev->x);
    else
        on_release(ctx, ev->f, ev->rc, ev->l7);
}

static int begin_run(struct pipeline *p, char *err, size_t err_len);

struct pipeline *pipeline_new(const struct pipeline_config *cfg, struct source *src,
                              char *err, size_t err_len)
{
    struct pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->src = src;
    unsigned n = cfg->workers > 1 ? cfg->workers : 1;
    if (n > 1 && cfg->evidence) {
        snprintf(err, err_len, "--save-pcap works with one analysis thread (--workers 1)");
        pipeline_free(p);
        return NULL;
    }
    /* Each analysis thread gets its share of the limits (fanout.h). */
    struct track_config tc = { cfg->flow, cfg->ooo_cap_bytes / n, cfg->pending_cap_bytes / n,
                               cfg->dissect, cfg->classify };
    tc.flow.max_flows = (uint32_t)((cfg->flow.max_flows + n - 1) / n);
    tc.flow.manual_sweep = n > 1;
    uint32_t slots = 0;
    if (n > 1) {
        p->fanout = fanout_new(n, &tc, on_fanout, p, err, err_len);
        slots = p->fanout ? fanout_slots(p->fanout) : 0;
    } else {
        struct track_hooks hooks = { on_exchange, on_release, NULL, NULL, p };
        p->track = track_new(&tc, &hooks, err, err_len);
        slots = p->track ? flow_table_capacity(track_flows(p->track)) : 0;
    }
    if (!slots) {
        pipeline_free(p);
        return NULL;
    }
    bool ok = true;
    if (cfg->dissect) {
        ok = (p->verdict = verdict_new(&cfg->verdict, slots)) != NULL;
        struct rules_config rc = { cfg->verdict.no_wait_us, cfg->verdict.retry_window_us };
        if (!(p->rules = rules_new(&rc, slots)))
            ok = false;
        if (cfg->paths && !(p->hops = hops_new(cfg->proxies, cfg->n_proxies)))
            ok = false;
    }
    if (!ok) {
        snprintf(err, err_len, "out of memory setting up %u flows", slots);
        pipeline_free(p);
        return NULL;
    }
    if (cfg->evidence) {
        p->cfg.evidence = NULL; /* borrowed for this call only */
        p->evidence = evidence_new(cfg->evidence, slots, err, err_len);
        if (!p->evidence) {
            pipeline_free(p);
            return NULL;
        }
    }
    if (cfg->db && begin_run(p, err, err_len) != 0) {
        pipeline_free(p);
        return NULL;
    }
    return p;
}

/* The run's row and its inputs (their fingerprints tell a capture seen again). */
static int begin_run(struct pipeline *p, char *err, size_t err_len)
{
    const struct pipeline_config *cfg = &p->cfg;
    struct source *src = p->src;
    int n = 0;
    const struct source_input *in = source_inputs(src, &n);
    struct db_input *rows = n ? calloc((size_t)n, sizeof *rows) : NULL;
    p->input_packets = n ? calloc((size_t)n, sizeof *p->input_packets) : NULL;
    if (n && (!rows || !p->input_packets)) {
        free(rows);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (in[i].snaplen > p->tot.snaplen)
            p->tot.snaplen = in[i].snaplen; /* inputs that differ: the largest */
    for (int i = 0; i < n; i++)
        rows[i] = (struct db_input){ in[i].path, in[i].compression, in[i].linktype,
                                     in[i].size, in[i].first_packet_us, in[i].head_hash,
                                     in[i].head_bytes };
    char opts[PIPELINE_OPTIONS_JSON];
    pipeline_config_json(cfg, opts, sizeof opts);
    struct db_run_info info = {
        .mode = source_is_live(src) ? "live" : "file",
        .source = source_name(src),
        .options = opts,
        .sensor = cfg->sensor,
        .started_us = wall_us(),
        .inputs = rows,
        .n_inputs = n,
    };
    int rc = db_run_begin(cfg->db, &info, err, err_len);
    free(rows);
    return rc;
}

static void packet(struct pipeline *p, const struct source_packet *sp)
{
    struct pipeline_totals *t = &p->tot;
    /* A time of 0 is one the capture did not record (exchange.h): the packet keeps its
     * place in capture order, at X_TIME_UNKNOWN_US, and says nothing of the run's span. */
    uint64_t ts = sp->ts_us ? sp->ts_us : X_TIME_UNKNOWN_US;
    if (x_time_known(ts) && (!t->first_packet_us || ts < t->first_packet_us))
        t->first_packet_us = sp->ts_us;
    if (sp->ts_us > t->last_packet_us)
        t->last_packet_us = sp->ts_us;
    struct dec_pkt d;
    enum dec_result dr = dec_packet(sp->linktype, sp->data, sp->caplen, sp->wire_len, &d);
    t->dec[dr]++;
    if (dr != DEC_TCP)
        return;
    if (d.payload_len || d.payload_cut) {
        t->payload_packets++;
        t->snap_cut_packets += d.payload_cut != 0;
    }
    d.ts_us = ts;
    d.pkt_no = ++p->pkt_no;
    if (p->fanout)
        fanout_packet(p->fanout, &d);
    else
        track_packet(p->track, &d, p->evidence, sp);
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fill_run_stats(struct pipeline *p, struct db_run_stats *st);

/* A live source's clock (PIPELINE_TICK_US): whether packets come or not. */
static void tick(struct pipeline *p)
{
    uint64_t now = monotonic_us();
    if (now < p->next_tick_us)
        return;
    p->next_tick_us = now + PIPELINE_TICK_US;
    /* a live capture's packet times are wall-clock times */
    if (p->fanout)
        fanout_advance(p->fanout, wall_us());
    else
        flow_table_advance(track_flows(p->track), wall_us());
    if (p->cfg.db && !p->tot.storage_failed) {
        if (now >= p->next_progress_us) {
            p->next_progress_us = now + PIPELINE_PROGRESS_US;
            struct db_run_stats st;
            fill_run_stats(p, &st);
            if (db_run_progress(p->cfg.db, &st) != 0)
                write_failed(p);
        }
        db_flush(p->cfg.db);
    }
    const struct pipeline_observer *o = p->cfg.observer;
    if (o && o->tick)
        o->tick(o->ctx, p);
}

enum pipeline_state pipeline_feed(struct pipeline *p, uint64_t max_packets, char *msg,
                                  size_t msg_len)
{
    bool live = source_is_live(p->src);
    msg[0] = '\0';
    if (p->tot.ended)
        return PIPELINE_END;
    for (uint64_t n = 0; n < max_packets; n++) {
        if (p->tot.storage_failed) {
            snprintf(msg, msg_len, "%s", db_error(p->cfg.db));
            return PIPELINE_ERROR;
        }
        struct source_packet sp;
        switch (source_next(p->src, &sp, msg, msg_len)) {
        case SOURCE_PACKET:
            packet(p, &sp);
            if (live && (n & 1023) == 0)
                tick(p);
            break;
        case SOURCE_TIMEOUT:
            if (live)
                tick(p);
            return PIPELINE_IDLE;
        case SOURCE_TRUNCATED:
            return PIPELINE_WARNING;
        case SOURCE_END:
            p->tot.ended = true;
            return PIPELINE_END;
        case SOURCE_ERROR:
            p->tot.source_failed = true;
            return PIPELINE_ERROR;
        }
    }
    if (p->fanout)
        fanout_poll(p->fanout); /* what the threads have finished, for progress */
    return PIPELINE_MORE;
}

const struct pipeline_totals *pipeline_totals(struct pipeline *p)
{
    struct pipeline_totals *t = &p->tot;
    t->source = *source_stats(p->src);
    struct track_stats ts;
    if (p->fanout)
        fanout_stats(p->fanout, &ts);
    else
        track_stats(p->track, &ts);
    t->flows = ts.flows;
    t->reasm = ts.reasm;
    t->http = ts.http;
    t->ndpi_packets = ts.ndpi_packets;
    t->detached_flows = ts.detached_flows;
    t->workers = p->fanout ? p->cfg.workers : 1;
    t->tcp_packets = t->busiest_thread_packets = p->pkt_no;
    if (p->fanout) {
        fanout_balance(p->fanout, &t->busiest_thread_packets, &t->tcp_packets);
        t->handoff_alloc_failures = fanout_alloc_failures(p->fanout);
    }
    if (p->verdict)
        t->verdicts = *verdict_stats(p->verdict);
    if (p->hops)
        t->hops = *hops_stats(p->hops);
    if (p->rules)
        t->rules = *rules_stats(p->rules);
    if (p->evidence)
        t->evidence = *evidence_stats(p->evidence);
    return t;
}

/* The run's row: its counters, and at the end whether it ended well. */
static void fill_run_stats(struct pipeline *p, struct db_run_stats *st)
{
    const struct pipeline_totals *t = pipeline_totals(p);
    uint64_t undecodable = t->dec[DEC_TRUNCATED] + t->dec[DEC_BAD_IP] + t->dec[DEC_BAD_TCP] +
                           t->dec[DEC_TOO_DEEP] + t->dec[DEC_UNSUPPORTED_LINK];
    *st = (struct db_run_stats){
        .finished_us = wall_us(),
        .packets = t->source.packets,
        .bytes = t->source.bytes,
        .kernel_drops = t->source.kernel_drops,
        .if_drops = t->source.if_drops,
        .truncated = t->source.truncated,
        .interrupted = (!t->ended && !source_is_live(p->src)) || t->source_failed ||
                       t->storage_failed || (t->stopped && !source_is_live(p->src)),
        .first_packet_us = t->first_packet_us,
        .last_packet_us = t->last_packet_us,
        .tcp_flows = t->flows.created,
        .http_flows = t->http_flows,
        .exchanges = t->http.exchanges,
        .evicted_flows = t->flows.evicted,
        .fragments_skipped = t->dec[DEC_FRAGMENT],
        .undecodable = undecodable,
        .orphan_responses = t->http.orphan_responses,
        .parse_errors = t->http.parse_errors,
        .pipeline_overflows = t->http.pipeline_overflow,
        .pending_cap_flows = t->http.pending_cap_flows,
        .pending_cap_exchanges = t->http.pending_cap_exchanges,
        .pending_bytes_peak = t->http.pending_bytes_peak,
        .ooo_bytes_peak = t->reasm.ooo_bytes_peak,
        .hops_linked = t->hops.linked,
        .hops_ambiguous = t->hops.ambiguous,
        .snaplen = t->snaplen,
        .payload_packets = t->payload_packets,
        .snap_cut_packets = t->snap_cut_packets,
        .one_sided_flows = t->one_sided_flows,
        .violations = t->rules.total,
        .bad_acks = t->reasm.bad_acks,
        .bad_rsts = t->flows.bad_rsts,
        .bad_flags = t->flows.bad_flags,
        .framing_errors = t->http.framing_errors,
        .stray_interims = t->http.stray_interims,
        .tunnels = t->http.tunnels,
    };
    int n = 0;
    const struct source_input *in = source_inputs(p->src, &n);
    if (p->input_packets) {
        for (int i = 0; i < n; i++)
            p->input_packets[i] = in[i].packets;
        st->input_packets = p->input_packets;
        st->n_inputs = n;
    }
}

static int finish_run(struct pipeline *p, char *err, size_t err_len)
{
    struct db_run_stats st;
    fill_run_stats(p, &st);
    if (db_run_end(p->cfg.db, &st) != 0) {
        snprintf(err, err_len, "%s", db_error(p->cfg.db));
        return -1;
    }
    return 0;
}

void pipeline_stopped(struct pipeline *p)
{
    p->tot.stopped = true;
}

int pipeline_drain(struct pipeline *p, char *err, size_t err_len)
{
    if (p->drained)
        return 0;
    p->drained = true;
    if (p->fanout)
        fanout_finish(p->fanout);
    else
        flow_table_flush(track_flows(p->track));
    struct hop_result hr; /* the exchanges still waiting for a partner */
    bool more = p->hops != NULL;
    while (more) {
        more = hops_drain(p->hops, &hr);
        store_hops(p, &hr);
    }
    struct rule_result rr; /* the 417s still waiting for a retry */
    more = p->rules != NULL;
    while (more) {
        more = rules_drain(p->rules, p->tot.last_packet_us, &rr);
        store_violations(p, &rr);
    }
    return p->cfg.db ? finish_run(p, err, err_len) : 0;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    fanout_free(p->fanout);
    track_free(p->track);
    verdict_free(p->verdict);
    hops_free(p->hops);
    rules_free(p->rules);
    evidence_free(p->evidence);
    free(p->input_packets);
    free(p);
}
