/* analyze.c: the `analyze` command: the whole pipeline into the database, a verdict
 * summary at the end and, with --list, the run's exchanges read back from the
 * database in time order. See cli.h.
 *
 * Owns: what the summary tallies while the run goes (per server, per flag, the waits
 * of timeout fallbacks, flows where the capture lost bytes), and the temporary
 * database behind --list --no-db.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "read.h"
#include "table.h"

/* 417s and fallbacks per server, for "the servers with the most". Bounded: servers
 * past MAX_SERVERS are added up under one "(others)" row. */
enum { MAX_SERVERS = 1024, SERVER_INDEX = 2 * MAX_SERVERS, TOP_SERVERS = 5 };

/* Fallback waits in 1 ms bins up to WAIT_BINS ms; longer ones in the last. */
enum { WAIT_BINS = 10000 };

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
    uint64_t flags[XF_COUNT_BITS];
    uint32_t *wait_bins;           /* timeout_fallback waits, WAIT_BINS + 1 bins */
    uint64_t fallbacks;
    double wait_min_ms, wait_max_ms;
    uint64_t gap_flows;            /* HTTP flows where the capture lost bytes */
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

/* The pipeline judged and stored an exchange. */
static void on_exchange(void *ctx, const struct flow *f, const struct exchange *x)
{
    struct analyze *a = ctx;
    char srv[64];
    struct server_tally *s = server_of(a, flow_endpoint_str(f, DIR_S2C, srv, sizeof srv));
    s->exchanges++;
    if (x->status == 417)
        s->n417++;
    for (int b = 0; b < XF_COUNT_BITS; b++)
        a->flags[b] += (x->flags >> b) & 1u;
    if (x->verdict != V_TIMEOUT_FALLBACK)
        return;
    s->fallbacks++;
    double ms = exchange_ms_after_hdr(x, x->t_body_first_us);
    if (ms < 0)
        return;
    if (!a->fallbacks++ || ms < a->wait_min_ms)
        a->wait_min_ms = ms;
    if (ms > a->wait_max_ms)
        a->wait_max_ms = ms;
    a->wait_bins[ms >= WAIT_BINS ? WAIT_BINS : (int)ms]++;
}

static void on_flow(void *ctx, const struct flow_result *r)
{
    struct analyze *a = ctx;
    if (!r->v.exchanges)
        return;
    if (r->rc->missing_bytes[DIR_C2S] + r->rc->missing_bytes[DIR_S2C])
        a->gap_flows++;
}

/* ---- the summary ----------------------------------------------------------------- */

static int by_trouble(const void *p, const void *q)
{
    const struct server_tally *x = p, *y = q;
    uint64_t tx = x->n417 + x->fallbacks, ty = y->n417 + y->fallbacks;
    return tx > ty ? -1 : tx < ty ? 1 : strcmp(x->name, y->name);
}

/* DESIGN.md's flow order: the most severe first. */
static const enum verdict severity[] = {
    V_EXPECTATION_FAILED, V_UNSUPPORTED_EXPECTATION, V_BODY_AFTER_FINAL,
    V_TIMEOUT_FALLBACK, V_LATE_100, V_NO_WAIT, V_RETRY_AFTER_417, V_EXPECT_WITHOUT_BODY,
    V_HTTP10_EXPECT, V_INCOMPLETE, V_EARLY_FINAL, V_UNSOLICITED_100, V_CONTINUE_OK, V_PLAIN,
};

/* A capture time in UTC, with or without its date. */
static void put_when(FILE *out, uint64_t us, bool date)
{
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    if (date)
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    else
        strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    fputs(buf, out);
}

static void put_duration(FILE *out, uint64_t us)
{
    double s = (double)us / 1e6;
    if (s < 1)
        fprintf(out, "%.0f ms", s * 1e3);
    else if (s < 120)
        fprintf(out, "%.1f s", s);
    else if (s < 7200)
        fprintf(out, "%.0f min %02.0f s", floor(s / 60), fmod(s, 60));
    else
        fprintf(out, "%.1f h", s / 3600);
}

/* The wait at the given rank (1-based) of the fallback histogram, in ms. */
static double wait_at(const struct analyze *a, uint64_t rank)
{
    uint64_t seen = 0;
    for (int i = 0; i <= WAIT_BINS; i++) {
        seen += a->wait_bins[i];
        if (seen >= rank) { /* the bin's middle, within what was seen */
            double ms = i == WAIT_BINS ? a->wait_max_ms : i + 0.5;
            return ms < a->wait_min_ms ? a->wait_min_ms
                   : ms > a->wait_max_ms ? a->wait_max_ms : ms;
        }
    }
    return a->wait_max_ms;
}

/* The spread of fallback waits, with the common client timers marked: a tight cluster
 * at one of them names the client's expectation timer. */
static void fallback_waits(FILE *out, const struct analyze *a)
{
    if (!a->fallbacks)
        return;
    fprintf(out, "timeout fallback waits (%" PRIu64 " exchanges):\n"
            "  min %.0f ms, median %.0f ms, p95 %.0f ms, max %.0f ms\n", a->fallbacks,
            a->wait_min_ms,
            wait_at(a, (a->fallbacks + 1) / 2), wait_at(a, (95 * a->fallbacks + 99) / 100),
            a->wait_max_ms);
    static const struct {
        int from, to;
        const char *label;
    } buckets[] = {
        { 0, 300, "under 300 ms" }, { 300, 400, "300-400 ms (.NET: 350 ms)" },
        { 400, 900, "400-900 ms" }, { 900, 1100, "0.9-1.1 s (curl: 1 s)" },
        { 1100, 2900, "1.1-2.9 s" }, { 2900, 3100, "2.9-3.1 s (3 s timers)" },
        { 3100, WAIT_BINS + 1, "over 3.1 s" },
    };
    uint64_t most = 0, n[sizeof buckets / sizeof buckets[0]] = { 0 };
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
        for (int i = buckets[b].from; i < buckets[b].to && i <= WAIT_BINS; i++)
            n[b] += a->wait_bins[i];
        most = n[b] > most ? n[b] : most;
    }
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
        if (!n[b])
            continue;
        int bar = (int)((n[b] * 30 + most - 1) / most);
        char hashes[31];
        memset(hashes, '#', (size_t)bar);
        hashes[bar] = '\0';
        fprintf(out, "  %-26s %8" PRIu64 "  %s\n", buckets[b].label, n[b], hashes);
    }
}

static void warnings(FILE *out, const struct analyze *a, const struct pipeline_totals *t)
{
    const struct source_stats *s = &t->source;
    char text[400];
    if (t->payload_packets && t->snap_cut_packets * 2 > t->payload_packets) {
        /* most of the traffic: Ethernet, IPv4 and TCP with timestamps take 66 bytes */
        snprintf(text, sizeof text, "warning: the snap length (%d) cut %" PRIu64 " of %"
                 PRIu64 " TCP payload segments (%.0f%%): only about the first %d bytes of "
                 "each are seen, so longer header blocks are truncated (flag "
                 "headers_truncated; an Expect past the cut is not seen); bodies are still "
                 "counted", t->snaplen, t->snap_cut_packets, t->payload_packets,
                 100.0 * (double)t->snap_cut_packets / (double)t->payload_packets,
                 t->snaplen > 66 ? t->snaplen - 66 : 0);
        cli_wrap(out, text, 0, 2);
    } else if (s->cut_packets) {
        snprintf(text, sizeof text, "warning: %" PRIu64 " packets (%.1f%%) were cut by the "
                 "snap length: header blocks may be incomplete", s->cut_packets,
                 100.0 * (double)s->cut_packets / (double)(s->packets ? s->packets : 1));
        cli_wrap(out, text, 0, 2);
    }
    if (t->one_sided_flows) {
        snprintf(text, sizeof text, "warning: %" PRIu64 " of %" PRIu64 " HTTP flows were "
                 "seen one way only (asymmetric routing, a one-way span port?): their "
                 "exchanges are flagged one_sided and get no verdict from a wait",
                 t->one_sided_flows, t->http_flows);
        cli_wrap(out, text, 0, 2);
    }
    if (t->reasm.bad_acks || t->flows.bad_rsts || t->flows.bad_flags) {
        snprintf(text, sizeof text, "note: packets that could have blinded reassembly were "
                 "ignored: %" PRIu64 " acknowledgments of bytes never seen sent, %" PRIu64
                 " RSTs outside the window, %" PRIu64 " impossible flag mixes or FIN/RST "
                 "before a handshake (runs.bad_acks, bad_rsts, bad_flags)",
                 t->reasm.bad_acks, t->flows.bad_rsts, t->flows.bad_flags);
        cli_wrap(out, text, 0, 2);
    }
    if (a->gap_flows) {
        snprintf(text, sizeof text, "warning: the capture lost bytes in %" PRIu64 " HTTP "
                 "flows: timings there may be wrong (flag gap)", a->gap_flows);
        cli_wrap(out, text, 0, 2);
    }
    if (s->truncated)
        cli_wrap(out, "warning: an input ended in a truncated or unreadable record; it was "
                      "analysed up to the break", 0, 2);
}

/* "rule violations: S3 2, S15 1" (docs/rules.md), wrapped; nothing when none. */
static void rule_counts(FILE *out, const struct rules_stats *rs)
{
    if (!rs->total)
        return;
    char line[600];
    size_t used = (size_t)snprintf(line, sizeof line, "rule violations:");
    for (int i = 0; i < R_COUNT && used < sizeof line; i++)
        if (rs->by_rule[i])
            used += (size_t)snprintf(line + used, sizeof line - used, "%s %s %" PRIu64,
                                     used > 16 ? "," : "", rule_name((enum rule_id)i),
                                     rs->by_rule[i]);
    if (used < sizeof line)
        snprintf(line + used, sizeof line - used, " (docs/rules.md)");
    cli_wrap(out, line, 0, 2);
}

static void summary(FILE *out, struct analyze *a, const struct pipeline_totals *t)
{
    const struct h1_stats *hs = &t->http;
    fprintf(out, "%" PRIu64 " packets, %" PRIu64 " TCP flows (%" PRIu64 " with HTTP), %" PRIu64
            " HTTP exchanges%s\n", t->source.packets, t->flows.created, t->http_flows,
            hs->exchanges, t->source.truncated ? "; input truncated" : "");
    if (t->workers > 1)
        fprintf(out, "analysis threads: %u; the busiest followed %.0f%% of the TCP packets%s\n",
                t->workers,
                t->tcp_packets ? 100.0 * (double)t->busiest_thread_packets /
                                     (double)t->tcp_packets : 0.0,
                t->handoff_alloc_failures ? "; out of memory: some packets were lost" : "");
    if (t->first_packet_us) {
        fputs("capture: ", out);
        put_when(out, t->first_packet_us, true);
        fputs(" to ", out);
        bool same_day = t->first_packet_us / 86400000000u == t->last_packet_us / 86400000000u;
        put_when(out, t->last_packet_us, !same_day);
        fputs(" UTC (", out);
        put_duration(out, t->last_packet_us - t->first_packet_us);
        fputs(")\n", out);
    }
    if (hs->exchanges) {
        fprintf(out, "verdict                  exchanges  flows  meaning\n");
        for (size_t i = 0; i < sizeof severity / sizeof severity[0]; i++) {
            enum verdict v = severity[i];
            if (t->verdicts.by_verdict[v] || t->flow_verdicts[v])
                fprintf(out, "  %-23s %9" PRIu64 " %6" PRIu64 "  %s\n", verdict_name(v),
                        t->verdicts.by_verdict[v], t->flow_verdicts[v], verdict_meaning(v));
        }
        if (t->verdicts.by_verdict[V_NONE]) /* no verdict: never counted as plain */
            fprintf(out, "  %-23s %9" PRIu64 " %6s  %s\n", "(none)",
                    t->verdicts.by_verdict[V_NONE], "-",
                    "orphan responses (no request)");
    }
    /* the flags that say the capture or the connection went wrong */
    static const uint32_t telling[] = { XF_GAP, XF_CONN_RESET, XF_SERVER_CLOSED,
                                        XF_BODY_STALL, XF_PARTIAL_BODY,
                                        XF_HEADERS_TRUNCATED };
    bool any = false;
    for (size_t i = 0; i < sizeof telling / sizeof telling[0]; i++) {
        int b = __builtin_ctz(telling[i]);
        if (!a->flags[b])
            continue;
        fprintf(out, "%s%s %" PRIu64, any ? ", " : "flags: ", flag_name(b), a->flags[b]);
        any = true;
    }
    if (any)
        fputc('\n', out);
    rule_counts(out, &t->rules);
    fallback_waits(out, a);
    qsort(a->servers, a->n_servers, sizeof *a->servers, by_trouble);
    bool header = false;
    for (size_t i = 0; i < a->n_servers && i < TOP_SERVERS; i++) {
        const struct server_tally *s = &a->servers[i];
        if (s->n417 + s->fallbacks == 0)
            break;
        if (!header)
            fprintf(out, "servers with the most 417s and timeout fallbacks:\n");
        header = true;
        fprintf(out, "  %-30s 417: %" PRIu64 "  fallback: %" PRIu64 "  of %" PRIu64
                " exchanges\n", s->name, s->n417, s->fallbacks, s->exchanges);
    }
    warnings(out, a, t);
    uint64_t lost = hs->orphan_responses + hs->parse_errors + hs->pipeline_overflow +
                    hs->pending_cap_flows + t->flows.evicted + t->dec[DEC_FRAGMENT] +
                    hs->snap_hidden_starts + hs->framing_errors + hs->stray_interims +
                    hs->tunnels;
    if (!lost)
        return;
    const struct {
        uint64_t n;
        const char *what;
    } items[] = {
        { hs->orphan_responses, "responses without request" },
        { hs->parse_errors, "parse errors (resynced)" },
        { hs->pipeline_overflow, "pipeline overflows" },
        { hs->pending_cap_flows, "flows given up at the pending-exchange cap "
                                 "(--pending-cap-mb)" },
        { hs->pending_cap_exchanges, "exchanges abandoned at the pending-exchange cap" },
        { t->flows.evicted, "flows evicted (--max-flows)" },
        { t->dec[DEC_FRAGMENT], "IP fragments skipped" },
        { hs->snap_hidden_starts, "message starts the snap length may have hidden" },
        { hs->framing_errors, "messages with invalid or ambiguous framing (RFC 9112 6.3)" },
        { hs->stray_interims, "1xx responses no request asked for" },
        { hs->tunnels, "flows whose HTTP became a tunnel (101, CONNECT 2xx): the rest not parsed" },
    };
    fprintf(out, "not fully analysed:\n");
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        if (items[i].n)
            fprintf(out, "  %" PRIu64 " %s\n", items[i].n, items[i].what);
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* What writing the run cost, read before the database is closed. */
struct stored {
    int64_t run_id;
    uint64_t busy_us, wait_us;
};

/* Where the run went, and with --verbose what writing it cost. */
static void stored_line(FILE *out, const struct options *o, const struct stored *st,
                        bool interrupted, uint64_t t0_us)
{
    fprintf(out, "stored as run %" PRId64 " in %s%s", st->run_id, o->db_path,
            interrupted ? " (interrupted)" : "");
    if (o->verbose) {
        double run_ms = (double)(monotonic_us() - t0_us) / 1e3;
        double busy_ms = (double)st->busy_us / 1e3;
        double wait_ms = (double)st->wait_us / 1e3;
        fprintf(out, "; the writer thread worked %.0f ms (%.0f%% of the run's %.0f ms), the"
                " analysis waited for it %.0f ms (%.0f%%)", busy_ms,
                run_ms > 0 ? 100.0 * busy_ms / run_ms : 0.0, run_ms, wait_ms,
                run_ms > 0 ? 100.0 * wait_ms / run_ms : 0.0);
    }
    fputc('\n', out);
}

/* ---- --list ------------------------------------------------------------------------ */

enum {
    L_ID, L_FLOW, L_SEQ, L_TIME, L_CLIENT, L_SERVER, L_HOST, L_METHOD, L_URI, L_EXPECT,
    L_INTERIM, L_STATUS, L_WAIT, L_CONTINUE, L_FINAL, L_VERDICT, L_FLAGS, L_COUNT
};

/* The columns; on a terminal, by priority (dropped first: highest). */
static const struct table_col list_cols[L_COUNT] = {
    [L_ID] = { "id", 6, 0, 0, true, 0 },
    [L_FLOW] = { "flow", 6, 0, 9, true, 0 },
    [L_SEQ] = { "seq", 3, 0, 10, true, 0 },
    [L_TIME] = { "time", 15, 0, 5, false, 0 },
    [L_CLIENT] = { "client", 21, 15, 8, false, 0 },
    [L_SERVER] = { "server", 21, 15, 4, false, 0 },
    [L_HOST] = { "host", 20, 10, 7, false, 0 },
    [L_METHOD] = { "method", 7, 0, 0, false, 0 },
    [L_URI] = { "uri", 40, 10, 0, false, 0 },
    [L_EXPECT] = { "expect", 12, 0, 3, false, 0 },
    [L_INTERIM] = { "1xx", 7, 0, 6, false, 0 },
    [L_STATUS] = { "status", 6, 0, 0, true, 0 },
    [L_WAIT] = { "wait_ms", 9, 0, 0, true, 0 },
    [L_CONTINUE] = { "continue_ms", 11, 0, 11, true, 0 },
    [L_FINAL] = { "final_ms", 9, 0, 12, true, 0 },
    [L_VERDICT] = { "verdict", 23, 0, 0, false, 0 },
    [L_FLAGS] = { "flags", 30, 8, 2, false, 0 },
};

/* The TSV header names, which scripts read (tests/pcap/check_corpus.py). */
static const char *const tsv_names[L_COUNT] = {
    "id", "flow", "seq", "time", "client", "server", "host", "method", "uri", "expect",
    "interim", "status", "wait_ms", "continue_ms", "final_ms", "verdict", "flags",
};

/* A cell's text: NULL as "-", numbers as numbers, text as display text. */
static void cell_text(const struct dbr_rows *rows, int c, int kind, char *buf, size_t len,
                      const char **p, size_t *n)
{
    *p = buf;
    switch (c < 0 ? DBR_NULL : dbr_type(rows, c)) {
    case DBR_NULL:
        snprintf(buf, len, "-");
        break;
    case DBR_INT:
        snprintf(buf, len, "%" PRId64, dbr_int(rows, c));
        break;
    case DBR_REAL:
        if (kind == L_TIME) {
            double t = dbr_real(rows, c);
            time_t s = (time_t)t;
            struct tm tm;
            gmtime_r(&s, &tm);
            char hms[32];
            strftime(hms, sizeof hms, "%H:%M:%S", &tm);
            snprintf(buf, len, "%s.%06ld", hms, (long)llround((t - (double)s) * 1e6) % 1000000);
        } else {
            snprintf(buf, len, "%.3f", dbr_real(rows, c));
        }
        break;
    case DBR_TEXT:
        *p = dbr_text(rows, c, n);
        return;
    }
    *n = strlen(buf);
}

/* Where each column of the listing comes from in a dbr_exchanges() row. */
struct list_src {
    int idx[L_COUNT];
    int client_port, server_port;
};

static void list_src_init(struct list_src *ls, const struct dbr_rows *rows)
{
    static const char *const names[L_COUNT] = {
        "id", "flow_id", "seq", "ts", "client_ip", "server_ip", "host", "method", "uri",
        "expect", "interim_codes", "status", "wait_ms", "continue_ms", "final_ms", "verdict",
        "flags",
    };
    for (int i = 0; i < L_COUNT; i++)
        ls->idx[i] = dbr_col_index(rows, names[i]);
    ls->client_port = dbr_col_index(rows, "client_port");
    ls->server_port = dbr_col_index(rows, "server_port");
}

/* Column i of the current row; buf (160 bytes) holds it unless it is stored text. */
static void list_cell(const struct list_src *ls, const struct dbr_rows *rows, int i,
                      char *buf, const char **p, size_t *n)
{
    char tmp[96];
    cell_text(rows, ls->idx[i], i, tmp, sizeof tmp, p, n);
    int port = i == L_CLIENT ? ls->client_port : i == L_SERVER ? ls->server_port : -1;
    if (port >= 0 && dbr_type(rows, ls->idx[i]) == DBR_TEXT) {
        /* address:port, IPv6 in brackets */
        bool v6 = memchr(*p, ':', *n) != NULL;
        snprintf(buf, 160, "%s%.*s%s:%" PRId64, v6 ? "[" : "", (int)*n, *p, v6 ? "]" : "",
                 dbr_int(rows, port));
        *p = buf;
        *n = strlen(buf);
    } else if (*p == tmp) {
        memcpy(buf, tmp, *n + 1);
        *p = buf;
    }
}

/* On a terminal, each column as wide as its widest cell (within its natural width), so
 * that what is left goes to the URI and the flags. -1 on a database error. */
static int list_measure(struct dbr *r, const struct dbr_filter *f, struct table_col *cols)
{
    struct dbr_rows *rows = dbr_exchanges(r, f);
    if (!rows)
        return -1;
    struct list_src ls;
    list_src_init(&ls, rows);
    int w[L_COUNT], rc;
    for (int i = 0; i < L_COUNT; i++)
        w[i] = (int)strlen(cols[i].title);
    while ((rc = dbr_next(rows)) == 1) {
        for (int i = 0; i < L_COUNT; i++) {
            char buf[160];
            const char *p;
            size_t n;
            list_cell(&ls, rows, i, buf, &p, &n);
            int tw = table_text_width(p, n, cols[i].width);
            w[i] = tw > w[i] ? tw : w[i];
        }
    }
    for (int i = 0; i < L_COUNT; i++) {
        cols[i].width = w[i] < cols[i].width ? w[i] : cols[i].width;
        if (cols[i].min > cols[i].width)
            cols[i].min = cols[i].width;
    }
    dbr_rows_free(rows);
    return rc;
}

/* The run's exchanges, in time order, filtered as asked: a table that fits the
 * terminal, or TSV with every column. A closed output (| head) stops the listing
 * quietly: the run is stored already. -1 on a database error (said on stderr). */
static int list(const struct options *o, const char *db_path, int64_t run_id)
{
    char err[700];
    struct dbr *r = dbr_open(db_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "expectscope: %s\n", err);
        return -1;
    }
    struct dbr_filter f = { .verdicts = o->verdicts, .n_verdicts = o->n_verdicts,
                            .problems = o->problems, .run_id = run_id };
    bool tty = isatty(STDOUT_FILENO);
    struct table_col cols[L_COUNT];
    memcpy(cols, list_cols, sizeof cols);
    int rc = tty ? list_measure(r, &f, cols) : 0;
    struct dbr_rows *rows = rc == 0 ? dbr_exchanges(r, &f) : NULL;
    struct table_line line = { stdout, false, 0 };
    struct list_src ls;
    if (rows) {
        list_src_init(&ls, rows);
        if (tty) {
            table_fit(cols, L_COUNT, table_term_width(STDOUT_FILENO));
            for (int i = 0; i < L_COUNT; i++)
                table_cell(&line, &cols[i], cols[i].title, strlen(cols[i].title));
            table_end(&line);
        } else {
            for (int i = 0; i < L_COUNT; i++)
                printf("%s%s", tsv_names[i], i + 1 < L_COUNT ? "\t" : "\n");
        }
    } else {
        rc = -1;
    }
    while (rows && !ferror(stdout) && (rc = dbr_next(rows)) == 1) {
        for (int i = 0; i < L_COUNT; i++) {
            char buf[160];
            const char *p;
            size_t n;
            list_cell(&ls, rows, i, buf, &p, &n);
            if (tty) {
                table_cell(&line, &cols[i], p, n);
            } else {
                esc_tsv(stdout, p, n);
                putchar(i + 1 < L_COUNT ? '\t' : '\n');
            }
        }
        if (tty)
            table_end(&line);
    }
    if (rc == 1 || ferror(stdout)) /* the reader went away */
        rc = 0;
    else if (rc < 0)
        fprintf(stderr, "expectscope: %s\n", dbr_error(r));
    dbr_rows_free(rows);
    dbr_close(r);
    return rc < 0 ? -1 : 0;
}

/* --list without a database: the run goes to a temporary one, removed afterwards. */
struct scratch {
    char dir[64];
    char path[96];
};

static int scratch_make(struct scratch *s)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/expectscope-XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "expectscope: %s: %s (a scratch database for --list)\n", s->dir,
                strerror(errno));
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s/list.db", s->dir);
    return 0;
}

static void scratch_remove(struct scratch *s)
{
    if (!s->dir[0])
        return;
    static const char *const tails[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", s->path, tails[i]);
        unlink(p);
    }
    rmdir(s->dir);
}

/* ---- nothing counted twice ------------------------------------------------------- */

static bool same_capture(const struct source_input *a, const struct source_input *b)
{
    return a->head_hash == b->head_hash && a->head_bytes == b->head_bytes &&
           a->first_packet_us == b->first_packet_us;
}

/* A capture given twice, or one the database already holds, would be counted twice:
 * refuse it, naming where it was seen, unless --again. An input with no packet has
 * nothing to count. 0, or -1 after one line on stderr. */
static int refuse_duplicates(const struct options *o, struct source *src, struct db *db)
{
    if (o->again)
        return 0;
    int n;
    const struct source_input *in = source_inputs(src, &n);
    for (int i = 0; i < n; i++) {
        if (!in[i].first_packet_us)
            continue;
        for (int k = 0; k < i; k++) {
            if (same_capture(&in[i], &in[k])) {
                fprintf(stderr, "expectscope: %s: the same capture as %s, given twice "
                        "(--again analyses it twice)\n", in[i].path, in[k].path);
                return -1;
            }
        }
        struct db_input want = { in[i].path, in[i].compression, in[i].linktype, in[i].size,
                                 in[i].first_packet_us, in[i].head_hash, in[i].head_bytes };
        struct db_seen seen;
        int found = db ? db_find_input(db, &want, &seen) : 0;
        if (found < 0) {
            fprintf(stderr, "expectscope: %s\n", db_error(db));
            return -1;
        }
        if (found) {
            char when[40];
            time_t t = (time_t)(seen.started_us / 1000000u);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
            fprintf(stderr, "expectscope: %s: already in run %" PRId64 " of %s (analysed %s,"
                    " %s); --again analyses it anew\n", in[i].path, seen.run_id, o->db_path,
                    when, seen.state);
            return -1;
        }
    }
    return 0;
}

/* ---- the command ------------------------------------------------------------------- */

int cmd_analyze(const struct options *o)
{
    uint64_t t0_us = monotonic_us();
    struct analyze a = { .o = o };
    struct scratch scratch = { "", "" };
    struct db *db = NULL;
    struct pipeline *p = NULL;
    int rc = EXIT_INPUT;
    char err[600];
    int status;
    struct source *src = cli_open_inputs(o, &status);
    if (!src)
        return status;
    a.servers = calloc(MAX_SERVERS, sizeof *a.servers);
    a.wait_bins = calloc(WAIT_BINS + 1, sizeof *a.wait_bins);
    if (!a.servers || !a.wait_bins) {
        fprintf(stderr, "expectscope: out of memory\n");
        goto out;
    }
    const char *db_path = o->db_path;
    if (!db_path && o->list) {
        if (scratch_make(&scratch) != 0)
            goto out;
        db_path = scratch.path;
    }
    if (db_path && !(db = db_open(db_path, o->wait_lock_us, err, sizeof err))) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    if (refuse_duplicates(o, src, o->db_path ? db : NULL) != 0)
        goto out;
    struct pipeline_observer obs = { .exchange = on_exchange, .flow = on_flow, .ctx = &a };
    struct pipeline_config cfg = o->pipe;
    cfg.db = db;
    cfg.observer = &obs;
    p = pipeline_new(&cfg, src, err, sizeof err);
    if (!p) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    int signo;
    rc = cli_drive(p, src, o->quiet, &signo);
    if (rc != EXIT_OK)
        goto out;
    struct stored st = { 0, 0, 0 };
    if (db)
        st = (struct stored){ db_run_id(db), db_busy_us(db), db_wait_us(db) };
    db_close(db); /* the listing reads what is committed */
    db = NULL;
    if (o->list && list(o, db_path, st.run_id) != 0)
        rc = EXIT_INPUT;
    FILE *out = o->list ? stderr : stdout;
    if (!o->quiet) {
        summary(out, &a, pipeline_totals(p));
        if (o->db_path)
            stored_line(out, o, &st, signo != 0, t0_us);
    }
    if (signo) {
        fprintf(stderr, "expectscope: interrupted by signal %d; what was seen is %s\n", signo,
                o->db_path ? "stored" : "summarised");
        rc = 128 + signo;
    }
out:
    pipeline_free(p);
    db_close(db);
    scratch_remove(&scratch);
    source_free(src);
    free(a.servers);
    free(a.wait_bins);
    return rc;
}
