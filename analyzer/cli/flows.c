/* flows.c: the `flows` command: one line per TCP flow, so that the capture, flow and
 * reassembly layers can be checked against `tshark -q -z conv,tcp`. See cli.h.
 *
 * Owns: the finished flows' lines until they are printed, sorted by first packet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One finished flow, formatted when it leaves: the flow itself is gone afterwards. */
struct line {
    uint64_t first_seen_us;
    uint64_t id;
    char *text;
};

struct lines {
    struct line *v;
    size_t n, cap;
    bool oom;
};

static void on_flow(void *ctx, const struct flow_result *r)
{
    struct lines *ls = ctx;
    const struct flow *f = r->f;
    const struct reasm_counters *rc = r->rc;
    char cli[64], srv[64], buf[512];
    int n = snprintf(buf, sizeof buf,
        "%s\t%s\t%u\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
        "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s",
        flow_endpoint_str(f, DIR_C2S, cli, sizeof cli),
        flow_endpoint_str(f, DIR_S2C, srv, sizeof srv),
        f->key.vlan_inner ? f->key.vlan_inner : f->key.vlan_outer, r->l7,
        f->packets[DIR_C2S], f->payload_bytes[DIR_C2S],
        f->packets[DIR_S2C], f->payload_bytes[DIR_S2C],
        rc->missing_bytes[DIR_C2S] + rc->missing_bytes[DIR_S2C],
        rc->retransmissions, rc->out_of_order, rc->out_of_window,
        f->wire_bytes[DIR_C2S], f->wire_bytes[DIR_S2C],
        flow_end_reason_name((enum end_reason)f->end_reason));
    if (n < 0)
        return;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 256;
        struct line *v = realloc(ls->v, cap * sizeof *v);
        if (!v) {
            ls->oom = true;
            return;
        }
        ls->v = v;
        ls->cap = cap;
    }
    char *text = strdup(buf);
    if (!text) {
        ls->oom = true;
        return;
    }
    ls->v[ls->n++] = (struct line){ f->first_seen_us, f->id, text };
}

static int by_first_seen(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    if (x->first_seen_us != y->first_seen_us)
        return x->first_seen_us < y->first_seen_us ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void summary(const struct pipeline_totals *t)
{
    uint64_t bad = t->dec[DEC_TRUNCATED] + t->dec[DEC_BAD_IP] + t->dec[DEC_BAD_TCP] +
                   t->dec[DEC_TOO_DEEP] + t->dec[DEC_UNSUPPORTED_LINK];
    fprintf(stderr,
            "expectscope: %" PRIu64 " packets, %" PRIu64 " TCP, %" PRIu64 " UDP, %" PRIu64
            " other, %" PRIu64 " fragments skipped, %" PRIu64 " undecodable; %" PRIu64
            " flows (%" PRIu64 " evicted, %" PRIu64 " timed out, peak %u), %" PRIu64
            " not HTTP%s\n",
            t->source.packets, t->dec[DEC_TCP], t->dec[DEC_UDP],
            t->dec[DEC_OTHER_IP] + t->dec[DEC_NOT_IP], t->dec[DEC_FRAGMENT], bad,
            t->flows.created, t->flows.evicted, t->flows.timed_out, t->flows.peak_active,
            t->detached_flows, t->source.truncated ? "; input truncated" : "");
}

int cmd_flows(const struct options *o)
{
    struct lines ls = { 0 };
    int status;
    struct source *src = cli_open_inputs(o, &status);
    if (!src)
        return status;
    struct pipeline_observer obs = { .flow = on_flow, .ctx = &ls };
    struct pipeline_config cfg = o->pipe;
    cfg.dissect = false; /* flows and their counters only */
    cfg.observer = &obs;
    char err[600];
    int rc = EXIT_INPUT, signo = 0;
    struct pipeline *p = pipeline_new(&cfg, src, err, sizeof err);
    if (!p)
        fprintf(stderr, "expectscope: %s\n", err);
    else
        rc = cli_drive(p, src, o->quiet, &signo);
    if (rc == EXIT_OK && ls.oom) {
        fprintf(stderr, "expectscope: out of memory collecting flow lines\n");
        rc = EXIT_INPUT;
    } else if (rc == EXIT_OK) {
        qsort(ls.v, ls.n, sizeof *ls.v, by_first_seen);
        printf("client\tserver\tvlan\tl7\tpkts_c2s\tbytes_c2s\tpkts_s2c\tbytes_s2c\t"
               "missing\tretrans\tooo\tout_of_window\twire_c2s\twire_s2c\tend\n");
        for (size_t i = 0; i < ls.n; i++)
            printf("%s\n", ls.v[i].text);
        if (!o->quiet)
            summary(pipeline_totals(p));
        if (signo) {
            fprintf(stderr, "expectscope: interrupted by signal %d\n", signo);
            rc = 128 + signo;
        }
    }
    pipeline_free(p);
    source_free(src);
    for (size_t i = 0; i < ls.n; i++)
        free(ls.v[i].text);
    free(ls.v);
    return rc;
}
