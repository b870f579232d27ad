/* show.c: the `show` command: one exchange of the database, as a person reads it: who
 * talked to whom, a ladder of its timeline, its flags explained, its retry link, and the
 * header blocks as captured. See cli.h.
 *
 * Owns: nothing beyond one call; the rows come from storage's read API.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "escape.h"
#include "read.h"
#include "rules.h"

/* ---- reading columns by name ---------------------------------------------------- */

static int col(const struct dbr_rows *rows, const char *name)
{
    return dbr_col_index(rows, name);
}

static bool is_null(const struct dbr_rows *rows, const char *name)
{
    int c = col(rows, name);
    return c < 0 || dbr_type(rows, c) == DBR_NULL;
}

static double real_of(const struct dbr_rows *rows, const char *name)
{
    return is_null(rows, name) ? NAN : dbr_real(rows, col(rows, name));
}

static int64_t int_of(const struct dbr_rows *rows, const char *name)
{
    return is_null(rows, name) ? 0 : dbr_int(rows, col(rows, name));
}

/* Captured text as display text; "-" when NULL. */
static void put(FILE *out, const struct dbr_rows *rows, const char *name)
{
    if (is_null(rows, name)) {
        fputc('-', out);
        return;
    }
    size_t len;
    const char *s = dbr_text(rows, col(rows, name), &len);
    esc_tsv(out, s, len);
}

/* The same into a buffer cut to `cols` columns. */
static const char *cut(char *buf, size_t len, const struct dbr_rows *rows, const char *name,
                       size_t cols)
{
    if (is_null(rows, name))
        return "-";
    size_t n;
    const char *s = dbr_text(rows, col(rows, name), &n);
    return esc_tsv_cut(buf, len, s, n, cols);
}

/* "2026-12-02 13:02:11.123456 UTC" */
static void put_time(FILE *out, double epoch)
{
    if (isnan(epoch)) {
        fputs("-", out);
        return;
    }
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(out, "%s.%06ld UTC", buf, (long)llround((epoch - (double)t) * 1e6) % 1000000);
}

/* ---- the ladder -------------------------------------------------------------------- */

enum { LANE = 44 }; /* columns between the client's and the server's bars */

struct event {
    double ms;        /* from the end of the request headers */
    bool to_server;   /* the arrow's direction */
    char label[160];
    char note[64];
};

static int by_time(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* One arrow: "|--- label --->|" or "|<-- label ----|", the label as centred as it fits. */
static void arrow(FILE *out, const struct event *e)
{
    char lane[LANE + 1];
    memset(lane, '-', LANE);
    lane[LANE] = '\0';
    if (e->to_server)
        lane[LANE - 1] = '>';
    else
        lane[0] = '<';
    size_t n = strlen(e->label);
    if (n > LANE - 6)
        n = LANE - 6;
    size_t at = (LANE - n) / 2;
    lane[at - 1] = ' ';
    memcpy(lane + at, e->label, n);
    lane[at + n] = ' ';
    fprintf(out, "%12.3f ms  |%s|  %s\n", e->ms, lane, e->note);
}

static void ladder(FILE *out, const struct dbr_rows *x)
{
    struct event ev[8];
    int n = 0;
    double t_hdr = real_of(x, "t_hdr"), ts = real_of(x, "ts");
    char method[40], uri[80], status[96];
    cut(method, sizeof method, x, "method", 12);
    cut(uri, sizeof uri, x, "uri", 22);
    bool has_request = !is_null(x, "method");
    if (has_request && !isnan(ts) && !isnan(t_hdr) && ts < t_hdr) {
        ev[n] = (struct event){ .ms = (ts - t_hdr) * 1e3, .to_server = true };
        snprintf(ev[n].label, sizeof ev[n].label, "%s %s", method, uri);
        snprintf(ev[n++].note, sizeof ev[0].note, "request starts");
    }
    if (has_request) {
        ev[n] = (struct event){ .ms = 0, .to_server = true };
        char expect[40];
        snprintf(ev[n].label, sizeof ev[n].label, "%s", n ? "headers end" : method);
        if (!n) {
            size_t k = strlen(ev[n].label);
            snprintf(ev[n].label + k, sizeof ev[n].label - k, " %s", uri);
        }
        snprintf(ev[n++].note, sizeof ev[0].note, "Expect: %s",
                 cut(expect, sizeof expect, x, "expect", 24));
    }
    if (!isnan(real_of(x, "continue_ms"))) {
        ev[n] = (struct event){ .ms = real_of(x, "continue_ms"), .to_server = false };
        snprintf(ev[n].label, sizeof ev[n].label, "100 Continue");
        snprintf(ev[n++].note, sizeof ev[0].note, "continue_ms");
    }
    if (!isnan(real_of(x, "wait_ms"))) {
        ev[n] = (struct event){ .ms = real_of(x, "wait_ms"), .to_server = true };
        snprintf(ev[n].label, sizeof ev[n].label, "body starts");
        snprintf(ev[n++].note, sizeof ev[0].note, "wait_ms; %" PRId64 " body bytes",
                 int_of(x, "body_bytes"));
    }
    if (!isnan(real_of(x, "final_ms")) || (!has_request && !is_null(x, "status"))) {
        double ms = real_of(x, "final_ms");
        ev[n] = (struct event){ .ms = isnan(ms) ? 0 : ms, .to_server = false };
        char reason[48];
        snprintf(status, sizeof status, "%" PRId64 " %s", int_of(x, "status"),
                 cut(reason, sizeof reason, x, "reason", 24));
        snprintf(ev[n].label, sizeof ev[n].label, "%s", status);
        snprintf(ev[n++].note, sizeof ev[0].note, "final_ms");
    }
    qsort(ev, (size_t)n, sizeof *ev, by_time);
    fprintf(out, "\n%17s%-*s%s\n", "", LANE + 2 - 6, "client", "server");
    for (int i = 0; i < n; i++)
        arrow(out, &ev[i]);
    if (is_null(x, "status"))
        fprintf(out, "%17s(no final response in the capture)\n", "");
    if (!is_null(x, "interim_codes")) {
        fprintf(out, "%17sinterim responses: ", "");
        put(out, x, "interim_codes");
        fprintf(out, " (%" PRId64 " in all)\n", int_of(x, "interim_count"));
    }
    fprintf(out, "%17stimes are from the end of the request headers, at the capture "
                 "point\n", "");
}

/* ---- the rest ---------------------------------------------------------------------- */

static void flags(FILE *out, const struct dbr_rows *x)
{
    if (is_null(x, "flags"))
        return;
    size_t len;
    const char *s = dbr_text(x, col(x, "flags"), &len);
    fprintf(out, "\nflags:\n");
    for (size_t i = 0; i < len;) {
        size_t k = i;
        while (k < len && s[k] != ',')
            k++;
        uint32_t bit = flag_from_name(s + i, k - i);
        int b = 0;
        while (bit > 1u) {
            bit >>= 1;
            b++;
        }
        fputs("  ", out);
        esc_tsv(out, s + i, k - i);
        fprintf(out, "%*s%s\n", (int)(k - i < 18 ? 18 - (k - i) : 1), "",
                bit ? flag_meaning(b) : "");
        i = k + 1;
    }
}

/* The exchange this one retried, and those that retried it. */
static int retries(FILE *out, struct dbr *r, const struct dbr_rows *x)
{
    int64_t of = int_of(x, "retry_of");
    if (of)
        fprintf(out, "\nretry: this request repeats exchange %" PRId64
                " (expectscope show %" PRId64 ")\n", of, of);
    struct dbr_filter f = { .retry_of = int_of(x, "id") };
    struct dbr_rows *rows = dbr_exchanges(r, &f);
    if (!rows)
        return -1;
    int rc;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len;
        const char *v = is_null(rows, "verdict") ? "-" : dbr_text(rows, col(rows, "verdict"),
                                                                    &len);
        fprintf(out, "\nretried by exchange %" PRId64 " (verdict %s)\n", int_of(rows, "id"), v);
    }
    dbr_rows_free(rows);
    return rc;
}

/* A header block, line by line as display text, indented. */
static void block(FILE *out, const char *title, const char *s, size_t len)
{
    fprintf(out, "\n%s:\n", title);
    for (size_t i = 0; i < len;) {
        size_t k = i;
        while (k < len && s[k] != '\n')
            k++;
        size_t end = k > i && s[k - 1] == '\r' ? k - 1 : k;
        if (end > i) {
            fputs("  ", out);
            esc_tsv(out, s + i, end - i);
            fputc('\n', out);
        }
        i = k + 1;
    }
}

static int headers(FILE *out, struct dbr *r, int64_t id)
{
    struct dbr_rows *rows = dbr_headers(r, id);
    if (!rows)
        return -1;
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t dlen, len;
        const char *dir = dbr_text(rows, 0, &dlen);
        const char *raw = dbr_text(rows, 1, &len);
        char title[64];
        snprintf(title, sizeof title, "%s headers, as captured",
                 strcmp(dir, "interim") == 0 ? "interim (1xx)" : dir);
        block(out, title, raw, len);
        n++;
    }
    if (rc == 0 && n == 0)
        fprintf(out, "\n(no header blocks: expectscope keeps them for exchanges whose "
                     "verdict is not plain)\n");
    dbr_rows_free(rows);
    return rc;
}

static void describe(FILE *out, const struct dbr_rows *x)
{
    fprintf(out, "exchange %" PRId64 "   run %" PRId64 "   flow %" PRId64 " #%" PRId64 "   ",
            int_of(x, "id"), int_of(x, "run_id"), int_of(x, "flow_id"), int_of(x, "seq"));
    put_time(out, real_of(x, "ts"));
    fprintf(out, "\n  ");
    put(out, x, "client_ip");
    fprintf(out, ":%" PRId64 " -> ", int_of(x, "client_port"));
    put(out, x, "server_ip");
    fprintf(out, ":%" PRId64 "   ", int_of(x, "server_port"));
    put(out, x, "l7_protocol");
    fprintf(out, ", flow ended ");
    put(out, x, "flow_end_reason");
    if (int_of(x, "flow_missing_bytes"))
        fprintf(out, ", %" PRId64 " bytes lost by the capture", int_of(x, "flow_missing_bytes"));
    fprintf(out, "\n  ");
    put(out, x, "method");
    fputc(' ', out);
    put(out, x, "uri");
    fprintf(out, " HTTP/");
    put(out, x, "http_version");
    fprintf(out, "   Host: ");
    put(out, x, "host");
    fprintf(out, "\n  User-Agent: ");
    put(out, x, "user_agent");
    fprintf(out, "   Server: ");
    put(out, x, "server");
    if (!is_null(x, "via")) {
        fprintf(out, "   Via: ");
        put(out, x, "via");
    }
    size_t len;
    if (is_null(x, "verdict")) { /* an orphan response (docs/verdicts.md) */
        fprintf(out, "\n\nverdict: none (a response with no request: nothing to judge)\n");
        return;
    }
    const char *v = dbr_text(x, col(x, "verdict"), &len);
    fprintf(out, "\n\nverdict: %s (%s)\n", v, verdict_meaning(verdict_from_name(v)));
}

/* Text into lines of at most `width` columns after `indent` spaces, broken at spaces. */
static void wrapped(FILE *out, int indent, const char *s, size_t len, size_t width)
{
    while (len) {
        size_t n = len <= width ? len : width;
        if (n < len) { /* break at the last space that fits, if any */
            size_t k = n;
            while (k > 0 && s[k] != ' ')
                k--;
            if (k > 0)
                n = k;
        }
        fprintf(out, "%*s", indent, "");
        esc_tsv(out, s, n); /* the engine quotes captured bytes; this is the reader's guard */
        fputc('\n', out);
        s += n;
        len -= n;
        while (len && *s == ' ')
            s++, len--;
    }
}

/* The rules this exchange (or its flow) broke, with what the wire showed. */
static int violations(FILE *out, struct dbr *r, int64_t id)
{
    struct dbr_rows *rows = dbr_violations(r, id);
    if (!rows)
        return -1;
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len, dlen;
        const char *name = dbr_text(rows, 0, &len);
        const char *detail = dbr_text(rows, 1, &dlen);
        enum rule_id rid = name ? rule_from_name(name, len) : R_COUNT;
        if (!n++)
            fprintf(out, "\nrule violations (docs/rules.md):\n");
        fprintf(out, "  %-5.*s %-10s %s, %s\n", (int)(len < 5 ? len : 5), name ? name : "",
                rule_level(rid), rule_section(rid), rule_summary(rid));
        if (detail)
            wrapped(out, 8, detail, dlen, 72);
    }
    dbr_rows_free(rows);
    return rc;
}

int cmd_show(const struct options *o)
{
    char err[700];
    struct dbr *r = dbr_open(o->db_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_INPUT;
    }
    struct dbr_filter f = { .id = o->exchange_id };
    struct dbr_rows *x = dbr_exchanges(r, &f);
    int rc = x ? dbr_next(x) : -1;
    if (rc == 1) {
        describe(stdout, x);
        ladder(stdout, x);
        flags(stdout, x);
        rc = violations(stdout, r, o->exchange_id) == 0 && retries(stdout, r, x) == 0 &&
                     headers(stdout, r, o->exchange_id) == 0
                 ? 0
                 : -1;
    } else if (rc == 0) {
        struct dbr_totals t;
        if (dbr_totals(r, &t) == 0)
            fprintf(stderr, "expectscope: %s: no exchange %" PRId64 " (it holds %" PRId64
                    " exchanges)\n", o->db_path, o->exchange_id, t.exchanges);
        rc = 1;
    }
    if (rc < 0)
        fprintf(stderr, "expectscope: %s\n", dbr_error(r));
    dbr_rows_free(x);
    dbr_close(r);
    return rc == 0 ? EXIT_OK : EXIT_INPUT;
}
