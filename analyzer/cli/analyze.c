/* analyze.c: the `analyze` command: the whole pipeline into the database, with a
 * verdict summary at the end and, with --list, one line per exchange. See cli.h.
 *
 * Owns: the per-server tallies of the summary (bounded: servers past MAX_SERVERS are
 *   added up under one "(others)" row) and the --list output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "escape.h"

/* 417s and fallbacks per server, for "the servers with the most". */
enum { MAX_SERVERS = 1024, SERVER_INDEX = 2 * MAX_SERVERS, TOP_SERVERS = 5 };

struct server_tally {
    char name[96]; /* "10.0.0.2:80" */
    uint64_t n417, fallbacks, exchanges;
};

struct analyze {
    const struct options *o;
    struct server_tally *servers;
    size_t n_servers;
    uint16_t server_index[SERVER_INDEX];
    struct server_tally others;
};

/* Found through an open-addressing index (slot + 1, 0 empty) of twice MAX_SERVERS
 * entries: every exchange looks its server up. */
static struct server_tally *server_of(struct analyze *a, const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (uint32_t i = h % SERVER_INDEX;; i = (i + 1) % SERVER_INDEX) {
        uint16_t k = a->server_index[i];
        if (k == 0)
            break;
        if (strcmp(a->servers[k - 1].name, name) == 0)
            return &a->servers[k - 1];
    }
    if (a->n_servers == MAX_SERVERS)
        return &a->others;
    struct server_tally *s = &a->servers[a->n_servers++];
    snprintf(s->name, sizeof s->name, "%s", name);
    uint32_t i = h % SERVER_INDEX;
    while (a->server_index[i])
        i = (i + 1) % SERVER_INDEX;
    a->server_index[i] = (uint16_t)a->n_servers;
    return s;
}

/* Captured text as one TSV field, '-' when absent. */
static void put_text(FILE *out, const struct sbuf *b)
{
    if (b->set)
        esc_tsv(out, b->p, b->len);
    else
        fputc('-', out);
}

static void put_ms(FILE *out, double ms)
{
    if (ms < 0)
        fputs("\t-", out);
    else
        fprintf(out, "\t%.3f", ms);
}

static void list_line(const struct flow *f, const struct exchange *x)
{
    char cli[64], srv[64], interim[64], flags[256];
    interim_str(x, interim, sizeof interim);
    flags_str(x->flags, flags, sizeof flags);
    printf("%" PRIu64 "\t%u\t%s\t%s\t", f->id, x->seq,
           flow_endpoint_str(f, DIR_C2S, cli, sizeof cli),
           flow_endpoint_str(f, DIR_S2C, srv, sizeof srv));
    put_text(stdout, &x->s[XS_METHOD]);
    putchar('\t');
    put_text(stdout, &x->s[XS_URI]);
    putchar('\t');
    put_text(stdout, &x->s[XS_EXPECT]);
    printf("\t%s\t", interim[0] ? interim : "-");
    if (x->status)
        printf("%u", x->status);
    else
        putchar('-');
    put_ms(stdout, x->t_body_first_us ? exchange_ms_after_hdr(x, x->t_body_first_us) : -1);
    put_ms(stdout, exchange_ms_after_hdr(x, x->t_100_us));
    put_ms(stdout, exchange_ms_after_hdr(x, x->t_final_us));
    printf("\t%s\t%s\n", verdict_name(x->verdict), flags[0] ? flags : "-");
}

/* The pipeline judged and stored an exchange. */
static void on_exchange(void *ctx, const struct flow *f, const struct exchange *x)
{
    struct analyze *a = ctx;
    char srv[64];
    struct server_tally *s = server_of(a, flow_endpoint_str(f, DIR_S2C, srv, sizeof srv));
    s->exchanges++;
    if (x->status == 417)
        s->n417++;
    if (x->verdict == V_TIMEOUT_FALLBACK)
        s->fallbacks++;
    if (a->o->list)
        list_line(f, x);
}

static int by_trouble(const void *p, const void *q)
{
    const struct server_tally *x = p, *y = q;
    uint64_t tx = x->n417 + x->fallbacks, ty = y->n417 + y->fallbacks;
    return tx > ty ? -1 : tx < ty ? 1 : strcmp(x->name, y->name);
}

static void summary(struct analyze *a, const struct pipeline_totals *t)
{
    FILE *out = a->o->list ? stderr : stdout;
    const struct h1_stats *hs = &t->http;
    fprintf(out, "%" PRIu64 " packets, %" PRIu64 " TCP flows (%" PRIu64 " with HTTP), %" PRIu64
            " HTTP exchanges%s\n",
            t->source.packets, t->flows.created, t->http_flows, hs->exchanges,
            t->source.truncated ? "; input truncated" : "");
    if (hs->exchanges) {
        fprintf(out, "verdicts:                  exchanges      flows\n");
        for (int v = 1; v < V_COUNT; v++)
            if (t->verdicts.by_verdict[v] || t->flow_verdicts[v])
                fprintf(out, "  %-24s %9" PRIu64 " %10" PRIu64 "\n",
                        verdict_name((enum verdict)v), t->verdicts.by_verdict[v],
                        t->flow_verdicts[v]);
    }
    qsort(a->servers, a->n_servers, sizeof *a->servers, by_trouble);
    bool header = false;
    for (size_t i = 0; i < a->n_servers && i < TOP_SERVERS; i++) {
        const struct server_tally *s = &a->servers[i];
        if (s->n417 + s->fallbacks == 0)
            break;
        if (!header)
            fprintf(out, "servers with the most 417s and timeout fallbacks:\n");
        header = true;
        fprintf(out, "  %-40s 417: %" PRIu64 "  fallback: %" PRIu64 "  of %" PRIu64
                " exchanges\n", s->name, s->n417, s->fallbacks, s->exchanges);
    }
    uint64_t lost = hs->orphan_responses + hs->parse_errors + hs->pipeline_overflow +
                    hs->live_overflow + t->flows.evicted + t->dec[DEC_FRAGMENT];
    if (lost)
        fprintf(out, "not fully analysed: %" PRIu64 " responses without request, %" PRIu64
                " parse errors (resynced), %" PRIu64 " pipeline overflows, %" PRIu64
                " flows evicted, %" PRIu64 " IP fragments skipped\n",
                hs->orphan_responses, hs->parse_errors,
                hs->pipeline_overflow + hs->live_overflow,
                t->flows.evicted, t->dec[DEC_FRAGMENT]);
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Where the run went and what writing it cost. */
static void stored_line(const struct options *o, struct db *db, bool interrupted,
                        uint64_t t0_us)
{
    double run_ms = (double)(monotonic_us() - t0_us) / 1e3;
    double busy_ms = (double)db_busy_us(db) / 1e3;
    double wait_ms = (double)db_wait_us(db) / 1e3;
    fprintf(o->list ? stderr : stdout,
            "stored as run %" PRId64 " in %s%s; the writer thread worked %.0f ms"
            " (%.0f%% of the run's %.0f ms), the analysis waited for it %.0f ms"
            " (%.0f%%)\n", db_run_id(db), o->db_path, interrupted ? " (interrupted)" : "",
            busy_ms, run_ms > 0 ? 100.0 * busy_ms / run_ms : 0.0, run_ms, wait_ms,
            run_ms > 0 ? 100.0 * wait_ms / run_ms : 0.0);
}

int cmd_analyze(const struct options *o)
{
    uint64_t t0_us = monotonic_us();
    struct analyze a = { .o = o };
    struct db *db = NULL;
    struct pipeline *p = NULL;
    int rc = EXIT_INPUT;
    char err[600];
    struct source *src = cli_open_inputs(o);
    if (!src)
        return EXIT_INPUT;
    a.servers = calloc(MAX_SERVERS, sizeof *a.servers);
    if (!a.servers) {
        fprintf(stderr, "expectscope: out of memory\n");
        goto out;
    }
    if (o->db_path && !(db = db_open(o->db_path, err, sizeof err))) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    struct pipeline_observer obs = { on_exchange, NULL, &a };
    struct pipeline_config cfg = o->pipe;
    cfg.db = db;
    cfg.observer = &obs;
    p = pipeline_new(&cfg, src, err, sizeof err);
    if (!p) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    if (o->list)
        printf("flow\tseq\tclient\tserver\tmethod\turi\texpect\tinterim\tstatus\twait_ms\t"
               "continue_ms\tfinal_ms\tverdict\tflags\n");
    int signo;
    rc = cli_drive(p, src, o->quiet, &signo);
    if (rc != EXIT_OK)
        goto out;
    if (!o->quiet) {
        summary(&a, pipeline_totals(p));
        if (db)
            stored_line(o, db, signo != 0, t0_us);
    }
    if (signo) {
        fprintf(stderr, "expectscope: interrupted by signal %d; what was seen is %s\n", signo,
                db ? "stored" : "summarised");
        rc = 128 + signo;
    }
out:
    pipeline_free(p);
    db_close(db);
    source_free(src);
    free(a.servers);
    return rc;
}
