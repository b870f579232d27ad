/* analyze_cmd.c: see analyze_cmd.h. */
#include "analyze_cmd.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "h1.h"
#include "limits.h"
#include "run.h"
#include "verdict.h"

/* What the summary and the flow record need to know of each flow's exchanges. */
struct flow_tally {
    uint32_t exchanges;
    uint8_t verdict; /* enum verdict, the most severe so far */
};

/* 417s and fallbacks per server, for "the servers with the most". Bounded: servers
 * past MAX_SERVERS are added up under one "(others)" row. */
enum { MAX_SERVERS = 1024, SERVER_INDEX = 2 * MAX_SERVERS, TOP_SERVERS = 5 };

struct server_tally {
    char name[96]; /* "10.0.0.2:80" */
    uint64_t n417, fallbacks, exchanges;
};

struct analyze {
    const struct options *o;
    struct verdict_engine *verdict;
    struct flow_tally *flows; /* by flow slot */
    struct server_tally *servers;
    size_t n_servers;
    uint16_t server_index[SERVER_INDEX];
    struct server_tally others;
    uint64_t http_flows;
    uint64_t flow_verdicts[V_COUNT]; /* flows by their most severe exchange verdict */
    struct db *db;                   /* NULL with --no-db */
    bool db_failed;                  /* a write failed: the run stops */
    volatile sig_atomic_t stop;      /* a signal number, or -1 after a write error */
};

/* The run that SIGINT or SIGTERM stops; what it saw is still written. */
static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
    *stop_flag = sig;
}

static void write_failed(struct analyze *a)
{
    a->db_failed = true;
    a->stop = -1;
}

static int open_db(struct analyze *a, const struct options *o, char *err, size_t err_len);

/* The inputs opened: size the per-flow tallies, open the database. */
static int prepare(void *ctx, uint32_t n_slots, char *err, size_t err_len)
{
    struct analyze *a = ctx;
    const struct options *o = a->o;
    struct verdict_config vc = {
        o->no_wait_us ? o->no_wait_us : VERDICT_DEFAULT_NO_WAIT_US,
        o->retry_window_us ? o->retry_window_us : VERDICT_DEFAULT_RETRY_WINDOW_US,
        o->stall_us ? o->stall_us : VERDICT_DEFAULT_STALL_US,
    };
    a->verdict = verdict_new(&vc, n_slots);
    a->flows = calloc(n_slots, sizeof *a->flows);
    a->servers = calloc(MAX_SERVERS, sizeof *a->servers);
    if (!a->verdict || !a->flows || !a->servers) {
        snprintf(err, err_len, "out of memory for %u flows", n_slots);
        return -1;
    }
    return a->o->no_db ? 0 : open_db(a, a->o, err, err_len);
}

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

/* Captured text for a TSV line: tabs, newlines and control bytes become \xNN so one
 * exchange stays one line whatever the wire carried. */
static void put_text(FILE *out, const struct sbuf *b)
{
    if (!b->set) {
        fputc('-', out);
        return;
    }
    for (uint32_t i = 0; i < b->len; i++) {
        unsigned char ch = (unsigned char)b->p[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\')
            fprintf(out, "\\x%02x", ch);
        else
            fputc(ch, out);
    }
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

static void on_exchange(void *ctx, const struct flow *f, struct exchange *x)
{
    struct analyze *a = ctx;
    verdict_judge(a->verdict, f, x);
    struct flow_tally *t = &a->flows[f->slot];
    if (t->exchanges++ == 0)
        a->http_flows++;
    t->verdict = (uint8_t)verdict_worse(t->verdict ? (enum verdict)t->verdict : V_PLAIN,
                                        x->verdict);
    char srv[64];
    struct server_tally *s = server_of(a, flow_endpoint_str(f, DIR_S2C, srv, sizeof srv));
    s->exchanges++;
    if (x->status == 417)
        s->n417++;
    if (x->verdict == V_TIMEOUT_FALLBACK)
        s->fallbacks++;
    if (a->o->list)
        list_line(f, x);
    if (a->db && !a->db_failed && db_exchange(a->db, f, x) != 0)
        write_failed(a);
}

static void on_flow_done(void *ctx, const struct flow_record *rec)
{
    struct analyze *a = ctx;
    struct flow_tally *t = &a->flows[rec->f->slot];
    if (t->exchanges)
        a->flow_verdicts[t->verdict]++;
    struct db_flow fl = { rec->f, rec->rc, rec->l7, t->exchanges,
                          t->exchanges ? (enum verdict)t->verdict : V_NONE };
    if (a->db && !a->db_failed && db_flow(a->db, &fl) != 0)
        write_failed(a);
    /* the slot is reused by the next flow */
    memset(t, 0, sizeof *t);
}

static int by_trouble(const void *p, const void *q)
{
    const struct server_tally *x = p, *y = q;
    uint64_t tx = x->n417 + x->fallbacks, ty = y->n417 + y->fallbacks;
    return tx > ty ? -1 : tx < ty ? 1 : strcmp(x->name, y->name);
}

static void summary(struct analyze *a, const struct run_totals *t, const struct h1_stats *hs)
{
    FILE *out = a->o->list ? stderr : stdout;
    const struct verdict_stats *vs = verdict_stats(a->verdict);
    fprintf(out, "%" PRIu64 " packets, %" PRIu64 " TCP flows (%" PRIu64 " with HTTP), %" PRIu64
            " HTTP exchanges%s\n",
            t->cap.packets, t->flows.created, a->http_flows, hs->exchanges,
            t->cap.truncated ? "; input truncated" : "");
    if (hs->exchanges) {
        fprintf(out, "verdicts:                  exchanges      flows\n");
        for (int v = 1; v < V_COUNT; v++)
            if (vs->by_verdict[v] || a->flow_verdicts[v])
                fprintf(out, "  %-24s %9" PRIu64 " %10" PRIu64 "\n",
                        verdict_name((enum verdict)v), vs->by_verdict[v],
                        a->flow_verdicts[v]);
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

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The options the verdicts depend on, as the run row's JSON. */
static void options_json(const struct options *o, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"no_wait_ms\":%.3f,\"retry_window_s\":%.3f,\"stall_ms\":%.3f,"
             "\"max_flows\":%u,\"tcp_timeout_s\":%.0f,\"ooo_cap_mb\":%llu}",
             (double)(o->no_wait_us ? o->no_wait_us : VERDICT_DEFAULT_NO_WAIT_US) / 1e3,
             (double)(o->retry_window_us ? o->retry_window_us
                                         : VERDICT_DEFAULT_RETRY_WINDOW_US) / 1e6,
             (double)(o->stall_us ? o->stall_us : VERDICT_DEFAULT_STALL_US) / 1e3,
             o->max_flows ? o->max_flows : FLOW_DEFAULT_MAX,
             (double)(o->tcp_timeout_us ? o->tcp_timeout_us : FLOW_DEFAULT_IDLE_US) / 1e6,
             (unsigned long long)((o->ooo_cap_bytes ? o->ooo_cap_bytes
                                                    : REASM_DEFAULT_OOO_GLOBAL) >> 20));
}

/* The inputs, space-separated, for runs.source. NULL on no memory. */
static char *join_inputs(const struct options *o)
{
    size_t len = 1;
    for (int i = 0; i < o->n_inputs; i++)
        len += strlen(o->inputs[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t used = 0;
    for (int i = 0; i < o->n_inputs; i++)
        used += (size_t)snprintf(s + used, len - used, "%s%s", i ? " " : "", o->inputs[i]);
    return s;
}

static int open_db(struct analyze *a, const struct options *o, char *err, size_t err_len)
{
    a->db = db_open(o->db_path, err, err_len);
    if (!a->db)
        return -1;
    char opts[256];
    options_json(o, opts, sizeof opts);
    char *source = join_inputs(o);
    struct db_run_info info = { "file", source ? source : "", opts, wall_us() };
    int rc = db_run_begin(a->db, &info, err, err_len);
    free(source);
    return rc;
}

static int finish_db(struct analyze *a, const struct run_totals *t, const struct h1_stats *hs)
{
    uint64_t undecodable = t->dec[DEC_TRUNCATED] + t->dec[DEC_BAD_IP] + t->dec[DEC_BAD_TCP] +
                           t->dec[DEC_TOO_DEEP] + t->dec[DEC_UNSUPPORTED_LINK];
    struct db_run_stats st = {
        .finished_us = wall_us(),
        .packets = t->cap.packets,
        .bytes = t->cap.bytes,
        .kernel_drops = t->cap.kernel_drops,
        .if_drops = t->cap.if_drops,
        .truncated = t->cap.truncated,
        .interrupted = t->stopped || a->db_failed,
        .first_packet_us = t->first_packet_us,
        .last_packet_us = t->last_packet_us,
        .tcp_flows = t->flows.created,
        .http_flows = a->http_flows,
        .exchanges = hs->exchanges,
        .evicted_flows = t->flows.evicted,
        .fragments_skipped = t->dec[DEC_FRAGMENT],
        .undecodable = undecodable,
        .orphan_responses = hs->orphan_responses,
        .parse_errors = hs->parse_errors,
        .pipeline_overflows = hs->pipeline_overflow + hs->live_overflow,
    };
    if (db_run_end(a->db, &st) != 0) {
        fprintf(stderr, "expectscope: %s\n", db_error(a->db));
        return -1;
    }
    return 0;
}

int analyze_cmd(const struct options *o)
{
    uint64_t t0_us = wall_us();
    struct analyze a = { .o = o };
    struct exchange_sink xs = { on_exchange, &a };
    struct h1 *h = h1_new(&xs);
    int rc = EXIT_INPUT;
    char err[600];
    if (!h) {
        fprintf(stderr, "expectscope: out of memory\n");
        goto out;
    }
    stop_flag = &a.stop;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->list)
        printf("flow\tseq\tclient\tserver\tmethod\turi\texpect\tinterim\tstatus\twait_ms\t"
               "continue_ms\tfinal_ms\tverdict\tflags\n");
    struct run_hooks hooks = {
        .prepare = prepare,
        .sink = h1_sink_ops(),
        .sink_owner = h,
        .flow_done = on_flow_done,
        .ctx = &a,
        .stop = &a.stop,
    };
    struct run_totals tot;
    rc = run_capture(o, &hooks, &tot, err, sizeof err);
    if (rc != EXIT_OK) {
        fprintf(stderr, "expectscope: %s\n", err);
    } else if (a.db && finish_db(&a, &tot, h1_stats(h)) != 0) {
        rc = EXIT_INPUT; /* finish_db() said why */
    } else if (a.db_failed) {
        /* rows were lost before the end; the run row says interrupted */
        fprintf(stderr, "expectscope: %s\n", db_error(a.db));
        rc = EXIT_INPUT;
    } else {
        if (!o->quiet && a.verdict)
            summary(&a, &tot, h1_stats(h));
        if (a.db && !o->quiet && rc == EXIT_OK) {
            double run_ms = (double)(wall_us() - t0_us) / 1e3;
            double busy_ms = (double)db_busy_us(a.db) / 1e3;
            double wait_ms = (double)db_wait_us(a.db) / 1e3;
            fprintf(o->list ? stderr : stdout,
                    "stored as run %" PRId64 " in %s%s; the writer thread worked %.0f ms"
                    " (%.0f%% of the run's %.0f ms), the analysis waited for it %.0f ms"
                    " (%.0f%%)\n", db_run_id(a.db), o->db_path,
                    tot.stopped ? " (interrupted)" : "", busy_ms,
                    run_ms > 0 ? 100.0 * busy_ms / run_ms : 0.0, run_ms, wait_ms,
                    run_ms > 0 ? 100.0 * wait_ms / run_ms : 0.0);
        }
        if (tot.stopped && a.stop > 0) {
            fprintf(stderr, "expectscope: interrupted by signal %d; what was seen is %s\n",
                    (int)a.stop, a.db ? "stored" : "summarised");
            rc = 128 + (int)a.stop;
        }
    }
out:
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    db_close(a.db);
    h1_free(h);
    verdict_free(a.verdict);
    free(a.flows);
    free(a.servers);
    return rc;
}
