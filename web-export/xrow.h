/* xrow.h: what every export format reads of an exchange, and the small writers they
 * share. Internal to web-export/.
 *
 * Owns: the export's row sets (the exchanges, and one header-block statement reused
 *   for every exchange), a copy of the current exchange's header blocks, and a scratch
 *   buffer the formats reuse (freed with the rest when the export ends, failed or not).
 * Called by: export.c and each format (ndjson.c, csv.c, har.c, html.c and its parts).
 *
 * A format is three calls: begin (before the first exchange), row (each exchange, the
 * current row of x->rows), end. Values are read by column (enum xcol); text is
 * borrowed until the next row.
 */
#ifndef ES_XROW_H
#define ES_XROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "export.h"
#include "read.h"

/* The columns the formats read: every exchanges column they use, and the flow's. */
enum xcol {
    XC_ID, XC_RUN_ID, XC_FLOW_ID, XC_SEQ, XC_TS, XC_T_HDR, XC_METHOD, XC_URI, XC_HOST,
    XC_HTTP_VERSION, XC_USER_AGENT, XC_EXPECT, XC_CONTENT_LENGTH, XC_CHUNKED,
    XC_BODY_BYTES, XC_BODY_MISSING, XC_INTERIM_CODES, XC_INTERIM_MS, XC_INTERIM_COUNT,
    XC_STATUS, XC_REASON, XC_RESPONSE_VERSION, XC_SERVER, XC_VIA, XC_WAIT_MS,
    XC_CONTINUE_MS, XC_FINAL_MS, XC_BODY_END_MS, XC_END_MS, XC_VERDICT, XC_FLAGS,
    XC_RETRY_OF, XC_ANSWERED_BY, XC_INTERMEDIARY, XC_PATH_EVIDENCE, XC_CLIENT_IP,
    XC_CLIENT_PORT, XC_SERVER_IP, XC_SERVER_PORT, XC_VLAN, XC_L7_PROTOCOL,
    XC_FLOW_END_REASON, XC_FLOW_VERDICT, XC_VIOLATIONS, XC_COUNT
};

/* The column's name in the database, which is also its name in NDJSON and CSV. */
const char *xcol_name(enum xcol c);

/* A header block as stored: its bytes (copied; valid until the next xrow_blocks()). */
struct xblock {
    char *p;
    size_t len, cap;
    bool set;
};

struct xrow {
    struct dbr *r;
    const struct dbr_filter *filter;
    const struct export_info *info;
    FILE *out;
    struct dbr_rows *rows;    /* the exchanges, in time order */
    struct dbr_rows *hdr;     /* header blocks, reused per exchange; NULL until needed */
    int col[XC_COUNT];        /* index in rows, -1 when the database lacks it */
    struct xblock request, interim, response;
    struct xblock scratch;    /* a format's buffer for one value at a time (HAR's URL) */
    struct export_stats *st;
    void *fmt;                /* the format's own state */
    char err[600];
};

bool xrow_null(const struct xrow *x, enum xcol c);
int64_t xrow_int(const struct xrow *x, enum xcol c);    /* 0 when NULL */
double xrow_real(const struct xrow *x, enum xcol c);    /* 0 when NULL */
/* Text of a column (NULL when NULL); *n its length. */
const char *xrow_text(const struct xrow *x, enum xcol c, size_t *n);

/* Fetch the current exchange's stored header blocks (request, interim, response); the
 * plain exchanges have none. 0, or -1 with x->err set. */
int xrow_blocks(struct xrow *x);

/* ---- JSON pieces (NDJSON, HAR, the HTML report's data) ---- */

/* A column as a JSON value: null, a number or an escaped string, by its type; ts and
 * t_hdr (epoch seconds) with 6 decimals, other reals (ms) with 3. */
void xjson_col(const struct xrow *x, enum xcol c);
/* A comma-separated column ("103,100", "gap,conn_reset") as a JSON array of numbers
 * (numbers true) or of strings; [] when the column is NULL or empty. */
void xjson_list(const struct xrow *x, enum xcol c, bool numbers);
/* A number with up to 3 decimals (ms), or null for NAN. */
void xjson_ms(FILE *out, double v);

/* The formats. fini, when set, is called once at the end of every export whose begin
 * succeeded, failed or not, to free the format's state (x->fmt). */
struct xformat {
    int (*begin)(struct xrow *x);
    int (*row)(struct xrow *x);
    int (*end)(struct xrow *x);
    void (*fini)(struct xrow *x);
};

extern const struct xformat xformat_har, xformat_ndjson, xformat_csv, xformat_html;

#endif
