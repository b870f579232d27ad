/* export.c: see export.h. The exchanges are read one row at a time and handed to the
 * format; the columns are looked up by name once. */
#include "export.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "xrow.h"

static const char *const format_names[EXPORT_FORMATS] = {
    [EXPORT_HAR] = "har", [EXPORT_NDJSON] = "ndjson", [EXPORT_CSV] = "csv",
    [EXPORT_HTML] = "html",
};

/* Each format's three calls (xrow.h), by enum export_format. */
static const struct xformat *const formats[EXPORT_FORMATS] = {
    [EXPORT_HAR] = &xformat_har, [EXPORT_NDJSON] = &xformat_ndjson,
    [EXPORT_CSV] = &xformat_csv, [EXPORT_HTML] = &xformat_html,
};

bool export_format_parse(const char *name, enum export_format *f)
{
    for (int i = 0; i < EXPORT_FORMATS; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *f = (enum export_format)i;
            return true;
        }
    return false;
}

const char *export_format_name(enum export_format f)
{
    return (unsigned)f < EXPORT_FORMATS ? format_names[f] : "?";
}

static const char *const col_names[XC_COUNT] = {
    [XC_ID] = "id", [XC_RUN_ID] = "run_id", [XC_FLOW_ID] = "flow_id", [XC_SEQ] = "seq",
    [XC_TS] = "ts", [XC_T_HDR] = "t_hdr", [XC_METHOD] = "method", [XC_URI] = "uri",
    [XC_HOST] = "host", [XC_HTTP_VERSION] = "http_version", [XC_USER_AGENT] = "user_agent",
    [XC_EXPECT] = "expect", [XC_CONTENT_LENGTH] = "content_length",
    [XC_CHUNKED] = "chunked", [XC_BODY_BYTES] = "body_bytes",
    [XC_BODY_MISSING] = "body_missing", [XC_INTERIM_CODES] = "interim_codes",
    [XC_INTERIM_MS] = "interim_ms", [XC_INTERIM_COUNT] = "interim_count",
    [XC_STATUS] = "status", [XC_REASON] = "reason",
    [XC_RESPONSE_VERSION] = "response_version", [XC_SERVER] = "server", [XC_VIA] = "via",
    [XC_WAIT_MS] = "wait_ms", [XC_CONTINUE_MS] = "continue_ms", [XC_FINAL_MS] = "final_ms",
    [XC_BODY_END_MS] = "body_end_ms", [XC_END_MS] = "end_ms", [XC_VERDICT] = "verdict",
    [XC_FLAGS] = "flags", [XC_RETRY_OF] = "retry_of", [XC_ANSWERED_BY] = "answered_by",
    [XC_INTERMEDIARY] = "intermediary", [XC_PATH_EVIDENCE] = "path_evidence",
    [XC_CLIENT_IP] = "client_ip", [XC_CLIENT_PORT] = "client_port",
    [XC_SERVER_IP] = "server_ip", [XC_SERVER_PORT] = "server_port", [XC_VLAN] = "vlan",
    [XC_L7_PROTOCOL] = "l7_protocol", [XC_FLOW_END_REASON] = "flow_end_reason",
    [XC_FLOW_VERDICT] = "flow_verdict", [XC_VIOLATIONS] = "violations",
};

const char *xcol_name(enum xcol c)
{
    return (unsigned)c < XC_COUNT ? col_names[c] : "?";
}

bool xrow_null(const struct xrow *x, enum xcol c)
{
    return x->col[c] < 0 || dbr_type(x->rows, x->col[c]) == DBR_NULL;
}

int64_t xrow_int(const struct xrow *x, enum xcol c)
{
    return xrow_null(x, c) ? 0 : dbr_int(x->rows, x->col[c]);
}

double xrow_real(const struct xrow *x, enum xcol c)
{
    return xrow_null(x, c) ? 0.0 : dbr_real(x->rows, x->col[c]);
}

const char *xrow_text(const struct xrow *x, enum xcol c, size_t *n)
{
    *n = 0;
    return xrow_null(x, c) ? NULL : dbr_text(x->rows, x->col[c], n);
}

static int keep(struct xblock *b, const char *p, size_t n)
{
    if (n + 1 > b->cap) {
        char *q = realloc(b->p, n + 1);
        if (!q)
            return -1;
        b->p = q;
        b->cap = n + 1;
    }
    memcpy(b->p, p, n);
    b->p[n] = '\0';
    b->len = n;
    b->set = true;
    return 0;
}

int xrow_blocks(struct xrow *x)
{
    x->request.set = x->interim.set = x->response.set = false;
    int64_t id = xrow_int(x, XC_ID);
    if (!x->hdr) {
        if (!(x->hdr = dbr_headers(x->r, id))) {
            snprintf(x->err, sizeof x->err, "%s", dbr_error(x->r));
            return -1;
        }
    } else if (dbr_headers_again(x->hdr, id) != 0) {
        snprintf(x->err, sizeof x->err, "%s", dbr_error(x->r));
        return -1;
    }
    int rc;
    while ((rc = dbr_next(x->hdr)) == 1) {
        size_t dn = 0, n = 0;
        const char *dir = dbr_text(x->hdr, 0, &dn);
        const char *raw = dbr_text(x->hdr, 1, &n);
        struct xblock *b = !dir                               ? NULL
                           : dn == 7 && !memcmp(dir, "request", 7) ? &x->request
                           : dn == 7 && !memcmp(dir, "interim", 7) ? &x->interim
                           : dn == 8 && !memcmp(dir, "response", 8) ? &x->response
                                                                   : NULL;
        if (b && raw && keep(b, raw, n) != 0) {
            snprintf(x->err, sizeof x->err, "out of memory");
            return -1;
        }
    }
    if (rc < 0) {
        snprintf(x->err, sizeof x->err, "%s", dbr_error(x->r));
        return -1;
    }
    return 0;
}

char *export_iso_time(double epoch_s, char *buf, size_t len)
{
    double whole = floor(epoch_s);
    long us = lround((epoch_s - whole) * 1e6);
    time_t t = (time_t)whole;
    if (us >= 1000000) {
        us -= 1000000;
        t++;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ldZ", day, us);
    return buf;
}

/* ---- JSON pieces ---- */

void xjson_ms(FILE *out, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", out);
    else
        fprintf(out, "%.3f", v);
}

void xjson_col(const struct xrow *x, enum xcol c)
{
    if (xrow_null(x, c)) {
        fputs("null", x->out);
        return;
    }
    size_t n;
    const char *t;
    switch (dbr_type(x->rows, x->col[c])) {
    case DBR_INT:
        fprintf(x->out, "%lld", (long long)xrow_int(x, c));
        break;
    case DBR_REAL:
        if (c == XC_TS || c == XC_T_HDR) /* epoch seconds, to the microsecond */
            fprintf(x->out, "%.6f", xrow_real(x, c));
        else
            xjson_ms(x->out, xrow_real(x, c));
        break;
    default:
        t = xrow_text(x, c, &n);
        esc_json(x->out, t, n);
    }
}

void xjson_list(const struct xrow *x, enum xcol c, bool numbers)
{
    size_t n;
    const char *t = xrow_text(x, c, &n);
    fputc('[', x->out);
    size_t i = 0;
    bool first = true;
    while (i < n) {
        size_t j = i;
        while (j < n && t[j] != ',')
            j++;
        if (!first)
            fputc(',', x->out);
        first = false;
        if (numbers) {
            char num[40];
            size_t k = j - i < sizeof num - 1 ? j - i : sizeof num - 1;
            memcpy(num, t + i, k);
            num[k] = '\0';
            char *end;
            double v = strtod(num, &end);
            if (k && !*end)
                fprintf(x->out, "%.15g", v);
            else
                esc_json(x->out, t + i, j - i); /* not a number after all: as stored */
        } else {
            esc_json(x->out, t + i, j - i);
        }
        i = j + 1;
    }
    fputc(']', x->out);
}

/* ---- the export ---- */

int export_write(struct dbr *r, const struct dbr_filter *f, enum export_format fmt,
                 const struct export_info *info, FILE *out, struct export_stats *st,
                 char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    const struct xformat *xf = (unsigned)fmt < EXPORT_FORMATS ? formats[fmt] : NULL;
    if (!xf) {
        snprintf(err, err_len, "no such export format (%d)", (int)fmt);
        return -1;
    }
    struct xrow x = { .r = r, .filter = f, .info = info, .out = out, .st = st };
    if (!(x.rows = dbr_exchanges(r, f))) {
        snprintf(err, err_len, "%s", dbr_error(r));
        return -1;
    }
    for (int c = 0; c < XC_COUNT; c++)
        x.col[c] = dbr_col_index(x.rows, col_names[c]);
    int rc = xf->begin ? xf->begin(&x) : 0, more = 0;
    bool begun = rc == 0;
    while (rc == 0 && (more = dbr_next(x.rows)) == 1) {
        rc = xf->row(&x);
        if (rc == 0)
            st->exchanges++;
    }
    if (rc == 0 && more < 0) {
        snprintf(x.err, sizeof x.err, "%s", dbr_error(r));
        rc = -1;
    }
    if (rc == 0 && xf->end)
        rc = xf->end(&x);
    if (rc != 0)
        snprintf(err, err_len, "%s", x.err[0] ? x.err : "the export failed");
    if (begun && xf->fini)
        xf->fini(&x);
    dbr_rows_free(x.hdr);
    dbr_rows_free(x.rows);
    free(x.request.p);
    free(x.interim.p);
    free(x.response.p);
    free(x.scratch.p);
    return rc;
}
