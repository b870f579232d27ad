/* html.c: the HTML report (docs/export.md "HTML report"): one self-contained file that
 * opens offline and can be mailed. Headline numbers, the verdict mix over time,
 * histograms of the client's wait and of the time to 100 with the common client timers
 * marked, the servers and user agents with the most 417s and timeout fallbacks, a table
 * of the problem exchanges, and a ladder diagram of each with its raw header blocks.
 *
 * Owns: struct html, for one export: the aggregates, updated as each exchange streams by
 *   (counts per verdict and flag, a timeline of HTML_TIME_BUCKETS buckets that doubles
 *   its bucket width to stay that size, two histograms with fixed bins, the server and
 *   user-agent tallies of at most HTML_MAX_TALLY keys each), and the problem section
 *   being built (the table rows and ladders of at most HTML_MAX_PROBLEMS exchanges and
 *   HTML_MAX_PROBLEM_BYTES), held in memory until end() writes the page: the title area
 *   says the time range, known only once every row went by. Memory does not grow with
 *   the number of exchanges beyond these caps.
 * Does not own: the rows (export.c's row set, borrowed for one call), the output stream.
 *
 * Every captured byte goes through esc_html(). Nothing captured goes into the <style> or
 * the <script>: both are constant (report.css, report.js, inlined by CMake) and allowed
 * by their SHA-256 in the page's Content-Security-Policy, which forbids every other
 * script, style and load (default-src 'none'), so even a mistake in escaping could not
 * run code or fetch anything.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "report_assets.h" /* generated: report_css, report_js and their SHA-256 */
#include "html.h"

enum {
    HTML_MAX_PROBLEMS = 500,            /* problem exchanges in the table, with ladders */
    HTML_MAX_PROBLEM_BYTES = 4 << 20,   /* and the bytes of their rows and ladders */
    HTML_MAX_FILE_MIB = 5,              /* so the file stays under this: the rest of the
                                           page is bounded by the caps below, < 1 MiB */
    HTML_MAX_TALLY = 4096,              /* servers, and user agents, tallied by name */
    HTML_TOP = 10,                      /* rows of each top list */
    HTML_TIME_BUCKETS = 64,             /* bars of the verdict timeline */
    HTML_MAX_FLAGS = 64,                /* flag names counted by name */
};

/* ---- verdicts and their colours (report.css: .v-NAME) -------------------------------- */

/* DESIGN.md's verdicts; V_OTHER for a name this version does not know. */
static const char *const verdict_names[] = {
    "retry_after_417", "unsupported_expectation", "expectation_failed", "expect_without_body",
    "http10_expect", "early_final", "body_after_final", "continue_ok", "no_wait",
    "late_100", "timeout_fallback", "incomplete", "unsolicited_100", "plain",
};
enum {
    V_RETRY, V_UNSUPPORTED, V_417, V_NO_BODY, V_HTTP10, V_EARLY, V_BODY_AFTER, V_CONTINUE_OK,
    V_NO_WAIT, V_LATE_100, V_TIMEOUT, V_INCOMPLETE, V_UNSOLICITED, V_PLAIN, V_OTHER, N_VCLASS
};

/* Stacking order of the timeline and its legend: the problems at the bottom, where they
 * are seen first, the ordinary exchanges on top. */
static const int stack_order[N_VCLASS] = {
    V_417, V_RETRY, V_UNSUPPORTED, V_TIMEOUT, V_LATE_100, V_BODY_AFTER, V_NO_WAIT, V_EARLY,
    V_NO_BODY, V_HTTP10, V_INCOMPLETE, V_UNSOLICITED, V_OTHER, V_CONTINUE_OK, V_PLAIN,
};

static const char *vclass_name(int v)
{
    return v == V_OTHER ? "other" : verdict_names[v];
}

static int verdict_index(const char *p, size_t n)
{
    if (!p)
        return V_OTHER;
    for (int i = 0; i < V_OTHER; i++)
        if (strlen(verdict_names[i]) == n && memcmp(verdict_names[i], p, n) == 0)
            return i;
    return V_OTHER;
}

static bool is_problem(int v)
{
    return v != V_PLAIN && v != V_CONTINUE_OK;
}

/* ---- histograms -------------------------------------------------------------------- */

/* Log bins, 20 per decade from 0.1 ms to 100 s (12 % wide: curl's 1000 ms and .NET's
 * 350 ms each fall in a bin of their own), with one bin below and one above. Bin 0 is
 * [0, edge[0]), bin k is [edge[k-1], edge[k]), the last is [edge[H_EDGES-1], inf). */
enum { H_PER_DECADE = 20, H_EDGES = 6 * H_PER_DECADE + 1, H_BINS = H_EDGES + 1 };
/* What a bar is stacked from. */
enum { HC_TIMEOUT, HC_LATE_100, HC_CONTINUE_OK, HC_NO_WAIT, HC_OTHER, H_CLASSES };
static const int hclass_verdict[H_CLASSES] = {
    V_TIMEOUT, V_LATE_100, V_CONTINUE_OK, V_NO_WAIT, V_OTHER,
};

struct hist {
    int64_t n[H_BINS][H_CLASSES];
    int64_t total;
};

/* ---- the timeline ------------------------------------------------------------------ */

/* Rows come in time order, but the span is known only at the end: buckets start 1 s
 * wide from the first request's second, and when a request falls past the last bucket
 * every pair of buckets merges into one of twice the width. */
struct timeline {
    bool started;
    double t0, width_s;
    int64_t n[HTML_TIME_BUCKETS][N_VCLASS];
};

/* ---- tallies of servers and user agents --------------------------------------------- */

struct tally_entry {
    char *key;          /* encoded: see server_key(), ua_key(); NULL for a free slot */
    size_t key_len;
    uint64_t hash;
    int64_t exchanges, with_expect, s417, fallbacks, retries;
    double fallback_ms; /* sum of wait_ms of the fallbacks */
};

/* An open-addressing table of at most HTML_MAX_TALLY keys; once full, the exchanges of
 * keys not in it are summed in `other` (so the top list is exact for the first keys seen,
 * and the report says how many went under "other"). */
struct tally {
    struct tally_entry *slot;
    size_t n_slots, used;
    struct tally_entry other;
};

struct flag_count {
    char name[32];
    int64_t n;
};

/* A growable byte buffer (the problem section's two halves). */
struct buf {
    char *p;
    size_t len, cap;
};

struct html {
    double edges[H_EDGES];
    /* headline */
    int64_t total, with_expect, problems, s417, fallbacks, retries, no_time;
    double fallback_ms;
    double first_ts, last_ts;
    bool any_ts;
    int64_t verdicts[N_VCLASS];
    struct flag_count flags[HTML_MAX_FLAGS];
    int n_flags;
    int64_t flags_other;
    struct timeline tl;
    struct hist wait, cont;
    struct tally servers, uas;
    /* the problem section */
    FILE *ent;          /* one exchange's row and ladder, before they are kept */
    char *ent_p;
    size_t ent_n;
    struct buf rows, ladders;
    int64_t shown;      /* problem exchanges in the table */
    bool full;          /* a cap was reached: every later problem is left out */
    bool bytes_cap;     /* it was the byte budget */
};

/* ---- small writers ----------------------------------------------------------------- */

static int buf_add(struct buf *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* A count with thousands separators: 1,234,567. */
static const char *count_text(int64_t v, char *buf, size_t len)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(digits), o = 0;
    if (v < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* A duration for people: "350 ms", "1.00 s", "2.5 min", "3.1 h", "4.0 d". */
static const char *duration_text(double ms, char *buf, size_t len)
{
    if (ms < 1000)
        snprintf(buf, len, "%.3g ms", ms);
    else if (ms < 60e3)
        snprintf(buf, len, "%.3g s", ms / 1e3);
    else if (ms < 3600e3)
        snprintf(buf, len, "%.3g min", ms / 60e3);
    else if (ms < 86400e3)
        snprintf(buf, len, "%.3g h", ms / 3600e3);
    else
        snprintf(buf, len, "%.4g d", ms / 86400e3);
    return buf;
}

/* ---- aggregates --------------------------------------------------------------------- */

static int hist_bin(const struct html *h, double v)
{
    if (v < h->edges[0])
        return 0;
    if (v >= h->edges[H_EDGES - 1])
        return H_BINS - 1;
    int lo = 0, hi = H_EDGES - 1; /* edges[lo] <= v < edges[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (h->edges[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo + 1;
}

static void hist_add(const struct html *h, struct hist *s, double v, int verdict)
{
    int c = HC_OTHER;
    for (int i = 0; i < H_CLASSES - 1; i++)
        if (hclass_verdict[i] == verdict)
            c = i;
    s->n[hist_bin(h, v < 0 ? 0 : v)][c]++;
    s->total++;
}

static void timeline_add(struct timeline *t, double ts, int verdict)
{
    if (!t->started) {
        t->started = true;
        t->t0 = floor(ts);
        t->width_s = 1;
    }
    double at = (ts - t->t0) / t->width_s;
    while (at >= HTML_TIME_BUCKETS) {
        for (int i = 0; i < HTML_TIME_BUCKETS; i++)
            for (int v = 0; v < N_VCLASS; v++)
                t->n[i][v] = i < HTML_TIME_BUCKETS / 2 ? t->n[2 * i][v] + t->n[2 * i + 1][v] : 0;
        t->width_s *= 2;
        at = (ts - t->t0) / t->width_s;
    }
    t->n[at < 0 ? 0 : (int)at][verdict]++;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

/* The entry of key, added when the table has room; &t->other when it has none. NULL when
 * memory ran out. */
static struct tally_entry *tally_find(struct tally *t, const char *key, size_t n)
{
    uint64_t hash = fnv1a(key, n);
    if (t->used + 1 > t->n_slots / 2 && t->used < HTML_MAX_TALLY) { /* grow: load <= 1/2 */
        size_t ns = t->n_slots ? t->n_slots * 2 : 64;
        struct tally_entry *s = calloc(ns, sizeof *s);
        if (!s)
            return NULL;
        for (size_t i = 0; i < t->n_slots; i++) {
            if (!t->slot[i].key)
                continue;
            size_t j = t->slot[i].hash & (ns - 1);
            while (s[j].key)
                j = (j + 1) & (ns - 1);
            s[j] = t->slot[i];
        }
        free(t->slot);
        t->slot = s;
        t->n_slots = ns;
    }
    size_t j = hash & (t->n_slots - 1);
    for (; t->slot[j].key; j = (j + 1) & (t->n_slots - 1))
        if (t->slot[j].hash == hash && t->slot[j].key_len == n &&
            memcmp(t->slot[j].key, key, n) == 0)
            return &t->slot[j];
    if (t->used >= HTML_MAX_TALLY)
        return &t->other;
    char *k = malloc(n ? n : 1);
    if (!k)
        return NULL;
    memcpy(k, key, n);
    t->slot[j] = (struct tally_entry){ .key = k, .key_len = n, .hash = hash };
    t->used++;
    return &t->slot[j];
}

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->n_slots; i++)
        free(t->slot[i].key);
    free(t->slot);
}

/* Keys: length-prefixed parts, so that no captured byte can be taken for a separator.
 * A server is (server_ip, server_port, Host), as the cookbook's v_server_failures groups
 * it; a user agent its User-Agent. A NULL part is marked apart from an empty one. */
struct key {
    char b[1100];
    size_t n;
};

static void key_part(struct key *k, const char *p, size_t n)
{
    uint32_t len = p ? (uint32_t)n : UINT32_MAX;
    if (k->n + sizeof len + (p ? n : 0) > sizeof k->b)
        return; /* cannot happen: the parts are capped at 512 bytes when stored */
    memcpy(k->b + k->n, &len, sizeof len);
    k->n += sizeof len;
    if (p) {
        memcpy(k->b + k->n, p, n);
        k->n += n;
    }
}

/* The i-th part of an encoded key (NULL when it was NULL); *n its length. */
static const char *key_get(const struct tally_entry *e, int i, size_t *n)
{
    size_t at = 0;
    for (;;) {
        uint32_t len;
        if (at + sizeof len > e->key_len)
            break;
        memcpy(&len, e->key + at, sizeof len);
        at += sizeof len;
        size_t l = len == UINT32_MAX ? 0 : len;
        if (at + l > e->key_len)
            break;
        if (i-- == 0) {
            *n = l;
            return len == UINT32_MAX ? NULL : e->key + at;
        }
        at += l;
    }
    *n = 0;
    return NULL;
}

static int tally_add(struct tally *t, const struct key *k, const struct xrow *x, int verdict)
{
    struct tally_entry *e = tally_find(t, k->b, k->n);
    if (!e)
        return -1;
    double w;
    e->exchanges++;
    e->with_expect += !xrow_null(x, XC_EXPECT);
    e->s417 += xrow_int(x, XC_STATUS) == 417;
    e->retries += verdict == V_RETRY;
    if (verdict == V_TIMEOUT) {
        e->fallbacks++;
        if (html_real(x, XC_WAIT_MS, &w))
            e->fallback_ms += w;
    }
    return 0;
}

static void flags_add(struct html *h, const struct xrow *x)
{
    size_t n;
    const char *t = xrow_text(x, XC_FLAGS, &n);
    size_t i = 0;
    while (t && i < n) {
        size_t j = i;
        while (j < n && t[j] != ',')
            j++;
        size_t len = j - i;
        int k = 0;
        while (k < h->n_flags &&
               !(strlen(h->flags[k].name) == len && memcmp(h->flags[k].name, t + i, len) == 0))
            k++;
        if (k == h->n_flags && len && len < sizeof h->flags[0].name &&
            h->n_flags < HTML_MAX_FLAGS && !memchr(t + i, '\0', len)) {
            memcpy(h->flags[k].name, t + i, len);
            h->flags[k].name[len] = '\0';
            h->n_flags++;
        }
        if (k < h->n_flags)
            h->flags[k].n++;
        else if (len)
            h->flags_other++;
        i = j + 1;
    }
}

/* ---- one problem exchange: its table row and its ladder ----------------------------- */

static void td_num(FILE *out, const struct xrow *x, enum xcol c)
{
    double v;
    if (html_real(x, c, &v))
        fprintf(out, "<td class=\"n\" data-v=\"%.3f\">%.1f</td>", v, v);
    else
        fputs("<td class=\"n\"></td>", out);
}

static void problem_row(struct html *h, const struct xrow *x, int verdict)
{
    FILE *out = h->ent;
    long long id = (long long)xrow_int(x, XC_ID);
    fprintf(out, "<tr id=\"r%lld\" data-i=\"%lld\" data-verdict=\"", id, (long long)h->shown);
    html_text(out, x, XC_VERDICT);
    fprintf(out, "\"><td class=\"n\" data-v=\"%lld\"><a href=\"#x%lld\">%lld</a></td>", id, id,
            id);
    double ts;
    char tb[64];
    if (html_real(x, XC_TS, &ts))
        fprintf(out, "<td class=\"n t\" data-v=\"%.6f\">%s</td>", ts, html_time(ts, tb, sizeof tb));
    else
        fputs("<td class=\"n t\"></td>", out);
    fprintf(out, "<td><span class=\"badge v-%s\">", vclass_name(verdict));
    html_text(out, x, XC_VERDICT);
    fputs("</span></td><td class=\"w\">", out);
    html_text(out, x, XC_FLAGS);
    fputs("</td><td class=\"t\">", out);
    html_endpoint(out, x, XC_CLIENT_IP, XC_CLIENT_PORT);
    fputs("</td><td class=\"t\">", out);
    html_endpoint(out, x, XC_SERVER_IP, XC_SERVER_PORT);
    fputs("</td><td class=\"w\">", out);
    html_text(out, x, XC_METHOD);
    fputc(' ', out);
    html_text(out, x, XC_URI);
    fputs("</td><td class=\"w\">", out);
    html_text(out, x, XC_HOST);
    fputs("</td><td class=\"w\">", out);
    html_text(out, x, XC_USER_AGENT);
    fputs("</td>", out);
    if (xrow_null(x, XC_STATUS)) {
        fputs("<td class=\"n\"></td>", out);
    } else {
        long long st = (long long)xrow_int(x, XC_STATUS);
        fprintf(out, "<td class=\"n\" data-v=\"%lld\">%lld ", st, st);
        html_text(out, x, XC_REASON);
        fputs("</td>", out);
    }
    td_num(out, x, XC_WAIT_MS);
    td_num(out, x, XC_CONTINUE_MS);
    td_num(out, x, XC_FINAL_MS);
    fputs("</tr>\n", out);
}

/* Render one problem exchange and keep it if the caps allow; once one does not fit,
 * every later one is left out too, so the table is the first problems in time order. */
static int problem(struct html *h, struct xrow *x, int verdict)
{
    if (h->full || h->shown >= HTML_MAX_PROBLEMS) {
        h->full = true;
        x->st->left_out++;
        return 0;
    }
    if (fseeko(h->ent, 0, SEEK_SET) != 0) {
        snprintf(x->err, sizeof x->err, "out of memory");
        return -1;
    }
    problem_row(h, x, verdict);
    long split = ftell(h->ent);
    if (html_ladder(h->ent, x, vclass_name(verdict)) != 0)
        return -1;
    long end = ftell(h->ent);
    if (split < 0 || end < split || fflush(h->ent) != 0 || ferror(h->ent)) {
        snprintf(x->err, sizeof x->err, "out of memory");
        return -1;
    }
    if (h->rows.len + h->ladders.len + (size_t)end > HTML_MAX_PROBLEM_BYTES) {
        h->full = h->bytes_cap = true;
        x->st->left_out++;
        return 0;
    }
    if (buf_add(&h->rows, h->ent_p, (size_t)split) != 0 ||
        buf_add(&h->ladders, h->ent_p + split, (size_t)(end - split)) != 0) {
        snprintf(x->err, sizeof x->err, "out of memory");
        return -1;
    }
    h->shown++;
    return 0;
}

/* ---- the format's three calls ------------------------------------------------------- */

static int begin(struct xrow *x)
{
    struct html *h = calloc(1, sizeof *h);
    if (!h || !(h->ent = open_memstream(&h->ent_p, &h->ent_n))) {
        free(h);
        snprintf(x->err, sizeof x->err, "out of memory");
        return -1;
    }
    for (int i = 0; i < H_EDGES; i++)
        h->edges[i] = pow(10.0, (double)i / H_PER_DECADE - 1);
    x->fmt = h;
    return 0;
}

static int row(struct xrow *x)
{
    struct html *h = x->fmt;
    size_t n;
    const char *vt = xrow_text(x, XC_VERDICT, &n);
    int v = verdict_index(vt, n);
    h->total++;
    h->verdicts[v]++;
    bool expect = !xrow_null(x, XC_EXPECT);
    h->with_expect += expect;
    h->s417 += xrow_int(x, XC_STATUS) == 417;
    h->retries += v == V_RETRY;
    double ts, w;
    if (v == V_TIMEOUT) {
        h->fallbacks++;
        if (html_real(x, XC_WAIT_MS, &w))
            h->fallback_ms += w;
    }
    if (html_real(x, XC_TS, &ts)) {
        if (!h->any_ts || ts < h->first_ts)
            h->first_ts = ts;
        if (!h->any_ts || ts > h->last_ts)
            h->last_ts = ts;
        h->any_ts = true;
        timeline_add(&h->tl, ts, v);
    } else {
        h->no_time++;
    }
    /* The wait means something only where the client had to decide whether to wait. */
    if (expect && html_real(x, XC_WAIT_MS, &w))
        hist_add(h, &h->wait, w, v);
    if (html_real(x, XC_CONTINUE_MS, &w))
        hist_add(h, &h->cont, w, v);
    flags_add(h, x);

    struct key k = { .n = 0 };
    const char *t = xrow_text(x, XC_SERVER_IP, &n);
    key_part(&k, t, n);
    char port[24];
    snprintf(port, sizeof port, "%lld", (long long)xrow_int(x, XC_SERVER_PORT));
    key_part(&k, xrow_null(x, XC_SERVER_PORT) ? NULL : port, strlen(port));
    t = xrow_text(x, XC_HOST, &n);
    key_part(&k, t, n);
    if (tally_add(&h->servers, &k, x, v) != 0)
        goto oom;
    k.n = 0;
    t = xrow_text(x, XC_USER_AGENT, &n);
    key_part(&k, t, n);
    if (tally_add(&h->uas, &k, x, v) != 0)
        goto oom;

    /* no verdict (an orphan response: nothing to judge) is no problem, as --problems */
    if (!vt || !is_problem(v))
        return 0;
    h->problems++;
    return problem(h, x, v);
oom:
    snprintf(x->err, sizeof x->err, "out of memory");
    return -1;
}

/* ---- the page ------------------------------------------------------------------------ */

/* The page's Content-Security-Policy names the style and the script by their SHA-256,
 * base64 (CSP 3, "hash-source"); CMake gives it in hex. */
static void put_hash(FILE *out, const char *hex)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char d[32];
    for (int i = 0; i < 32; i++) {
        char two[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
        d[i] = (unsigned char)strtoul(two, NULL, 16);
    }
    fputs("'sha256-", out);
    for (int i = 0; i < 32; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < 32 ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? d[i + 2] : 0);
        fputc(b64[v >> 18 & 63], out);
        fputc(b64[v >> 12 & 63], out);
        fputc(i + 1 < 32 ? b64[v >> 6 & 63] : '=', out);
        fputc(i + 2 < 32 ? b64[v & 63] : '=', out);
    }
    fputc('\'', out);
}

static void head(FILE *out, const struct export_info *info)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src ",
          out);
    put_hash(out, report_css_sha256);
    fputs("; script-src ", out);
    put_hash(out, report_js_sha256);
    fputs("; base-uri 'none'; form-action 'none'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"expectscope " ES_VERSION "\">\n"
          "<title>expectscope report",
          out);
    if (info && info->db_path) {
        fputs(": ", out);
        esc_html(out, info->db_path, strlen(info->db_path));
    }
    fputs("</title>\n<style>", out);
    fputs(report_css, out);
    fputs("</style></head>\n<body>\n", out);
}

static void title_area(FILE *out, const struct html *h, const struct export_info *info)
{
    fputs("<header><h1>Expect: 100-continue report</h1><dl class=\"meta\">\n"
          "<dt>Database</dt><dd class=\"mono\" id=\"db\">",
          out);
    if (info && info->db_path)
        esc_html(out, info->db_path, strlen(info->db_path));
    fputs("</dd>\n<dt>Filters</dt><dd id=\"filters\">", out);
    if (info && info->filter_text && info->filter_text[0])
        esc_html(out, info->filter_text, strlen(info->filter_text));
    else
        fputs("none: every exchange of the database", out);
    fputs("</dd>\n<dt>Requests</dt><dd id=\"range\">", out);
    if (h->any_ts) {
        char a[64], b[64], d[48];
        fprintf(out, "%s to %s UTC (%s)", html_time(h->first_ts, a, sizeof a),
                html_time(h->last_ts, b, sizeof b),
                duration_text((h->last_ts - h->first_ts) * 1e3, d, sizeof d));
    } else {
        fputs("no request times", out);
    }
    fputs("</dd>\n<dt>Made by</dt><dd>expectscope " ES_VERSION
          ", <code>expectscope export --format html</code></dd></dl>\n"
          "<nav><a href=\"#summary\">headline</a><a href=\"#time\">over time</a>"
          "<a href=\"#waits\">waits</a><a href=\"#top\">servers and clients</a>"
          "<a href=\"#problems\">problem exchanges</a><a href=\"#ladders\">ladders</a></nav>"
          "</header>\n<main>\n",
          out);
}

static void tile(FILE *out, const char *key, int64_t n, const char *label, bool bad)
{
    char c[32];
    fprintf(out, "<div class=\"tile%s\" data-k=\"%s\" data-n=\"%lld\"><b>%s</b><span>%s</span>"
                 "</div>\n",
            bad && n ? " bad" : "", key, (long long)n, count_text(n, c, sizeof c), label);
}

static double share(int64_t n, int64_t of)
{
    return of ? 100.0 * (double)n / (double)of : 0;
}

static void summary(FILE *out, const struct html *h)
{
    char c[48], d[48];
    fputs("<section id=\"summary\"><h2>Headline</h2><div class=\"tiles\">\n", out);
    tile(out, "exchanges", h->total, "exchanges", false);
    tile(out, "with_expect", h->with_expect, "sent Expect: 100-continue", false);
    fprintf(out, "<div class=\"tile%s\" data-k=\"problems\" data-n=\"%lld\"><b>%s</b>"
                 "<span>problem exchanges (%.1f %%)</span></div>\n",
            h->problems ? " bad" : "", (long long)h->problems, count_text(h->problems, c, sizeof c),
            share(h->problems, h->total));
    tile(out, "status_417", h->s417, "answered 417 Expectation Failed", true);
    tile(out, "retries", h->retries, "retried after a 417", true);
    tile(out, "timeout_fallbacks", h->fallbacks, "timeout fallbacks", true);
    fprintf(out, "<div class=\"tile%s\" data-k=\"fallback_wait_ms\" data-n=\"%.3f\"><b>%s</b>"
                 "<span>clients waited in fallbacks</span></div>\n</div>\n",
            h->fallbacks ? " bad" : "", h->fallback_ms,
            duration_text(h->fallback_ms, d, sizeof d));
    if (!h->total) {
        fputs("<p class=\"warn\">No exchange matches: nothing to show.</p></section>\n", out);
        return;
    }
    /* verdicts, most frequent first */
    int order[N_VCLASS];
    for (int i = 0; i < N_VCLASS; i++)
        order[i] = i;
    for (int i = 1; i < N_VCLASS; i++) /* insertion sort, stable: DESIGN.md's order on ties */
        for (int j = i; j > 0 && h->verdicts[order[j]] > h->verdicts[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fputs("<div class=\"cols\"><div><h3>Verdicts</h3><table id=\"verdicts\"><thead><tr>"
          "<th>verdict</th><th class=\"n\">exchanges</th><th class=\"n\">share</th></tr>"
          "</thead><tbody>\n",
          out);
    for (int i = 0; i < N_VCLASS; i++) {
        int v = order[i];
        if (!h->verdicts[v])
            continue;
        fprintf(out, "<tr data-verdict=\"%s\"><td><span class=\"badge v-%s\">%s</span></td>"
                     "<td class=\"n\">%lld</td><td class=\"n\">%.1f %%</td></tr>\n",
                vclass_name(v), vclass_name(v),
                v == V_OTHER ? "other (no verdict: orphan responses; or unknown)" : vclass_name(v),
                (long long)h->verdicts[v], share(h->verdicts[v], h->total));
    }
    fputs("</tbody></table></div>\n<div><h3>Flags</h3>", out);
    if (!h->n_flags && !h->flags_other) {
        fputs("<p class=\"note\">No exchange has a flag.</p>", out);
    } else {
        fputs("<table id=\"flags\"><thead><tr><th>flag</th><th class=\"n\">exchanges</th></tr>"
              "</thead><tbody>\n",
              out);
        for (int i = 0; i < h->n_flags; i++) {
            fputs("<tr><td>", out);
            esc_html(out, h->flags[i].name, strlen(h->flags[i].name));
            fprintf(out, "</td><td class=\"n\">%lld</td></tr>\n", (long long)h->flags[i].n);
        }
        if (h->flags_other)
            fprintf(out, "<tr><td><i>other names</i></td><td class=\"n\">%lld</td></tr>\n",
                    (long long)h->flags_other);
        fputs("</tbody></table>", out);
    }
    fputs("<p class=\"note\">docs/verdicts.md explains every verdict and flag.</p></div></div>"
          "</section>\n",
          out);
}

static void legend(FILE *out, const bool *present, const char *const *names, const int *order,
                   int n)
{
    fputs("<div class=\"legend\">", out);
    for (int i = 0; i < n; i++)
        if (present[order[i]])
            fprintf(out, "<span><i class=\"v-%s\"></i>%s</span>", names[order[i]],
                    names[order[i]]);
    fputs("</div>\n", out);
}

static void over_time(FILE *out, const struct html *h)
{
    const char *names[N_VCLASS];
    bool present[N_VCLASS];
    for (int v = 0; v < N_VCLASS; v++) {
        names[v] = vclass_name(v);
        present[v] = h->verdicts[v] > 0;
    }
    fputs("<section id=\"time\"><h2>Verdicts over time</h2>\n", out);
    if (!h->tl.started) {
        fputs("<p class=\"note\">No request times.</p></section>\n", out);
        return;
    }
    html_timeline(out, h->tl.t0, h->tl.width_s, HTML_TIME_BUCKETS, &h->tl.n[0][0], N_VCLASS,
                  names, stack_order, N_VCLASS);
    legend(out, present, names, stack_order, N_VCLASS);
    if (h->no_time)
        fprintf(out, "<p class=\"note\">%lld exchanges have no request time (a response "
                     "whose request the capture did not show) and are not in the chart.</p>\n",
                (long long)h->no_time);
    fputs("</section>\n", out);
}

static void histogram(FILE *out, const struct html *h, const struct hist *s, const char *id)
{
    static const struct html_mark marks[] = {
        { 350, ".NET 350 ms" }, { 1000, "curl 1 s" }, { 3000, "3 s" },
    };
    const char *names[H_CLASSES];
    bool present[H_CLASSES];
    int order[H_CLASSES];
    for (int c = 0; c < H_CLASSES; c++) {
        names[c] = vclass_name(hclass_verdict[c]);
        present[c] = false;
        order[c] = c;
        for (int b = 0; b < H_BINS; b++)
            present[c] |= s->n[b][c] > 0;
    }
    html_histogram(out, id, h->edges, H_EDGES, H_PER_DECADE, &s->n[0][0], H_CLASSES, names,
                   marks, sizeof marks / sizeof marks[0]);
    legend(out, present, names, order, H_CLASSES);
}

static void waits(FILE *out, const struct html *h)
{
    fputs("<section id=\"waits\"><h2>How long clients waited, and when the 100 came</h2>\n"
          "<h3>The client's wait (wait_ms)</h3><p class=\"note\">From the end of the request "
          "headers to the first body byte, for requests that sent Expect: 100-continue",
          out);
    fprintf(out, " (%lld of them). A client that gets no 100 sends its body when its timer "
                 "fires: .NET after 350 ms, curl after 1 s, others after 3 s. Such timers "
                 "show as spikes at the marked lines.</p>\n",
            (long long)h->wait.total);
    if (h->wait.total)
        histogram(out, h, &h->wait, "hist-wait");
    fprintf(out, "<h3>Time to 100 Continue (continue_ms)</h3><p class=\"note\">From the end "
                 "of the request headers to the first 100 Continue (%lld exchanges). A 100 "
                 "that comes after the client's timer is a late_100: the body was on its way "
                 "already.</p>\n",
            (long long)h->cont.total);
    if (h->cont.total)
        histogram(out, h, &h->cont, "hist-continue");
    fputs("</section>\n", out);
}

/* Most 417s and fallbacks first, then most exchanges, then by key for a stable order. */
static int by_failures(const void *a, const void *b)
{
    const struct tally_entry *x = *(const struct tally_entry *const *)a;
    const struct tally_entry *y = *(const struct tally_entry *const *)b;
    int64_t fx = x->s417 + x->fallbacks, fy = y->s417 + y->fallbacks;
    if (fx != fy)
        return fx > fy ? -1 : 1;
    if (x->exchanges != y->exchanges)
        return x->exchanges > y->exchanges ? -1 : 1;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* The top rows of t with a 417 or a fallback; 0 when there are none, -1 out of memory. */
static int top(const struct tally *t, const struct tally_entry **row)
{
    const struct tally_entry **all = malloc((t->used ? t->used : 1) * sizeof *all);
    if (!all)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < t->n_slots; i++)
        if (t->slot[i].key && t->slot[i].s417 + t->slot[i].fallbacks > 0)
            all[n++] = &t->slot[i];
    qsort(all, n, sizeof *all, by_failures);
    int k = n < HTML_TOP ? (int)n : HTML_TOP;
    memcpy(row, all, (size_t)k * sizeof *row);
    free(all);
    return k;
}

static void key_cell(FILE *out, const struct tally_entry *e, int part)
{
    size_t n;
    const char *p = key_get(e, part, &n);
    fputs("<td class=\"w\">", out);
    if (p)
        esc_html(out, p, n);
    else
        fputs("<i class=\"null\">none</i>", out);
    fputs("</td>", out);
}

static void counts_cells(FILE *out, const struct tally_entry *e)
{
    fprintf(out, "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                 "<td class=\"n\">%lld</td>",
            (long long)e->exchanges, (long long)e->with_expect, (long long)e->s417,
            (long long)e->fallbacks);
}

static int top_lists(FILE *out, const struct html *h, struct xrow *x)
{
    const struct tally_entry *s[HTML_TOP], *u[HTML_TOP];
    int ns = top(&h->servers, s), nu = top(&h->uas, u);
    if (ns < 0 || nu < 0) {
        snprintf(x->err, sizeof x->err, "out of memory");
        return -1;
    }
    fprintf(out, "<section id=\"top\"><h2>Servers and user agents with the most 417s and "
                 "timeout fallbacks</h2>\n<p class=\"note\">The first %d, counted over the "
                 "exchanges of this report (its filters apply).</p><div class=\"cols\">"
                 "<div><h3>Servers</h3>",
            HTML_TOP);
    if (!ns) {
        fputs("<p class=\"note\">No server answered 417 or left a client to fall back.</p>", out);
    } else {
        fputs("<table id=\"top-servers\"><thead><tr><th>server</th><th>Host</th>"
              "<th class=\"n\">exchanges</th><th class=\"n\">with Expect</th>"
              "<th class=\"n\">417</th><th class=\"n\">fallbacks</th><th class=\"n\">retries</th>"
              "</tr></thead><tbody>\n",
              out);
        for (int i = 0; i < ns; i++) {
            size_t n, pn;
            const char *ip = key_get(s[i], 0, &n), *port = key_get(s[i], 1, &pn);
            bool v6 = ip && memchr(ip, ':', n);
            fputs("<tr><td class=\"t\">", out);
            fputs(v6 ? "[" : "", out);
            if (ip)
                esc_html(out, ip, n);
            fputs(v6 ? "]" : "", out);
            if (port) {
                fputc(':', out);
                esc_html(out, port, pn);
            }
            fputs("</td>", out);
            key_cell(out, s[i], 2);
            counts_cells(out, s[i]);
            fprintf(out, "<td class=\"n\">%lld</td></tr>\n", (long long)s[i]->retries);
        }
        fputs("</tbody></table>", out);
    }
    fputs("</div><div><h3>User agents</h3>", out);
    if (!nu) {
        fputs("<p class=\"note\">No client got a 417 or fell back.</p>", out);
    } else {
        fputs("<table id=\"top-agents\"><thead><tr><th>User-Agent</th>"
              "<th class=\"n\">exchanges</th><th class=\"n\">with Expect</th>"
              "<th class=\"n\">417</th><th class=\"n\">fallbacks</th>"
              "<th class=\"n\">mean fallback wait ms</th></tr></thead><tbody>\n",
              out);
        for (int i = 0; i < nu; i++) {
            fputs("<tr>", out);
            key_cell(out, u[i], 0);
            counts_cells(out, u[i]);
            if (u[i]->fallbacks)
                fprintf(out, "<td class=\"n\">%.1f</td></tr>\n",
                        u[i]->fallback_ms / (double)u[i]->fallbacks);
            else
                fputs("<td class=\"n\"></td></tr>\n", out);
        }
        fputs("</tbody></table>", out);
    }
    fputs("</div></div>\n", out);
    const struct tally *both[] = { &h->servers, &h->uas };
    for (int i = 0; i < 2; i++) {
        const struct tally_entry *o = &both[i]->other;
        if (o->exchanges)
            fprintf(out, "<p class=\"warn\" id=\"tally-other-%s\">More than %d different %s: "
                         "the exchanges of the later ones (%lld, with %lld 417s and %lld "
                         "fallbacks) were counted together, not by name, and are not in the "
                         "list above. Narrow the export with its filters to see them.</p>\n",
                    i ? "agents" : "servers", HTML_MAX_TALLY, i ? "user agents" : "servers",
                    (long long)o->exchanges, (long long)o->s417, (long long)o->fallbacks);
    }
    fputs("</section>\n", out);
    return 0;
}

static void problems(FILE *out, const struct html *h, const struct xrow *x)
{
    char a[32], b[32], c[32];
    fprintf(out, "<section id=\"problems\"><h2>Problem exchanges</h2>\n<p class=\"note\" "
                 "id=\"pcount\" data-problems=\"%lld\" data-shown=\"%lld\" data-left-out=\"%llu\">"
                 "Every verdict but plain and continue_ok: %s exchanges, %s in the table, "
                 "each with its ladder below. Click a column to sort.</p>\n",
            (long long)h->problems, (long long)h->shown, (unsigned long long)x->st->left_out,
            count_text(h->problems, a, sizeof a), count_text(h->shown, b, sizeof b));
    if (x->st->left_out)
        fprintf(out, "<p class=\"warn\" id=\"leftout\">%s problem exchanges were left out. "
                     "The table and the ladders hold the first %s in time order: a report "
                     "keeps at most %d, and %d MiB of them%s. Narrow the export (--verdict, "
                     "--since, --until, --server, --host) to see the others, or look one up "
                     "with <code>expectscope show ID</code>.</p>\n",
                count_text((int64_t)x->st->left_out, c, sizeof c), b, HTML_MAX_PROBLEMS,
                HTML_MAX_PROBLEM_BYTES >> 20,
                h->bytes_cap ? " (the size limit was reached first)" : "");
    if (!h->shown) {
        fputs("</section>\n", out);
        return;
    }
    fputs("<div id=\"pctl\" hidden><input id=\"pq\" type=\"search\" placeholder=\"filter: any "
          "text of the row\" aria-label=\"filter the rows\"><select id=\"pv\" "
          "aria-label=\"verdict\"><option value=\"\">every verdict</option>",
          out);
    for (int v = 0; v < V_OTHER; v++)
        if (is_problem(v) && h->verdicts[v])
            fprintf(out, "<option value=\"%s\">%s</option>", verdict_names[v], verdict_names[v]);
    fputs("</select><span id=\"pshown\"></span></div>\n<div class=\"scroll\">"
          "<table id=\"ptable\"><thead><tr>"
          "<th class=\"n\">id</th><th class=\"n\">time (UTC)</th><th>verdict</th>"
          "<th>flags</th><th>client</th><th>server</th><th>request</th><th>Host</th>"
          "<th>User-Agent</th><th class=\"n\">status</th><th class=\"n\">wait ms</th>"
          "<th class=\"n\">100 after ms</th><th class=\"n\">final after ms</th></tr></thead>"
          "<tbody>\n",
          out);
    fwrite(h->rows.p, 1, h->rows.len, out);
    fputs("</tbody></table></div></section>\n", out);
}

static void ladders(FILE *out, const struct html *h)
{
    if (!h->shown)
        return;
    fputs("<section id=\"ladders\"><h2>Ladders</h2><p class=\"note\">One per exchange of the "
          "table. Times are as the capture point saw them, in ms from the end of the request "
          "headers; the arrows are slanted only to show their direction. Below each ladder, "
          "the header blocks as captured: a line ends with CRLF unless marked <span "
          "class=\"lf\">\\x0a</span> (a bare LF); any other control byte, invalid UTF-8 and "
          "the backslash show as \\xNN.</p>\n",
          out);
    fwrite(h->ladders.p, 1, h->ladders.len, out);
    fputs("</section>\n", out);
}

static int end(struct xrow *x)
{
    struct html *h = x->fmt;
    FILE *out = x->out;
    head(out, x->info);
    title_area(out, h, x->info);
    summary(out, h);
    if (h->total) {
        over_time(out, h);
        waits(out, h);
        if (top_lists(out, h, x) != 0)
            return -1;
    }
    problems(out, h, x);
    ladders(out, h);
    fprintf(out, "</main>\n<footer><p>A report keeps at most %d problem exchanges (%d MiB of "
                 "table rows and ladders), so it stays under %d MiB; the counts, charts and "
                 "lists above cover every exchange the filters kept. Every captured byte is "
                 "shown as text: control bytes, invalid UTF-8 and the backslash as \\xNN. "
                 "This file loads nothing: it works offline.</p></footer>\n<script>",
            HTML_MAX_PROBLEMS, HTML_MAX_PROBLEM_BYTES >> 20, HTML_MAX_FILE_MIB);
    fputs(report_js, out);
    fputs("</script>\n</body></html>\n", out);
    return 0;
}

static void fini(struct xrow *x)
{
    struct html *h = x->fmt;
    if (!h)
        return;
    if (h->ent)
        fclose(h->ent);
    free(h->ent_p);
    free(h->rows.p);
    free(h->ladders.p);
    tally_free(&h->servers);
    tally_free(&h->uas);
    free(h);
    x->fmt = NULL;
}

const struct xformat xformat_html = { begin, row, end, fini };
