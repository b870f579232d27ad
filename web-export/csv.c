/* csv.c: one CSV record per exchange (RFC 4180: CRLF line ends, every field quoted,
 * quotes doubled), under a header row with NDJSON's member names. Lists are one field,
 * comma-separated as stored ("103,100"); NULL is an empty field. A field whose text
 * starts with =, +, - or @ gets a leading ' (escape.h): a spreadsheet will not run it. */
#include <stdio.h>

#include "escape.h"
#include "xrow.h"

static const enum xcol fields[] = {
    XC_ID, XC_RUN_ID, XC_FLOW_ID, XC_SEQ, XC_TS, XC_T_HDR, XC_CLIENT_IP, XC_CLIENT_PORT,
    XC_SERVER_IP, XC_SERVER_PORT, XC_VLAN, XC_METHOD, XC_URI, XC_HOST, XC_HTTP_VERSION,
    XC_USER_AGENT, XC_EXPECT, XC_CONTENT_LENGTH, XC_CHUNKED, XC_BODY_BYTES, XC_BODY_MISSING,
    XC_INTERIM_CODES, XC_INTERIM_MS, XC_INTERIM_COUNT, XC_STATUS, XC_REASON,
    XC_RESPONSE_VERSION, XC_SERVER, XC_VIA, XC_WAIT_MS, XC_CONTINUE_MS, XC_FINAL_MS,
    XC_BODY_END_MS, XC_END_MS, XC_VERDICT, XC_FLAGS, XC_RETRY_OF, XC_ANSWERED_BY,
    XC_INTERMEDIARY, XC_PATH_EVIDENCE, XC_FLOW_VERDICT, XC_FLOW_END_REASON,
    XC_L7_PROTOCOL, XC_VIOLATIONS,
};
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

static int begin(struct xrow *x)
{
    for (int i = 0; i < N_FIELDS; i++) {
        fprintf(x->out, "%s%s", i ? "," : "", xcol_name(fields[i]));
        if (fields[i] == XC_TS)
            fputs(",time", x->out);
    }
    fputs("\r\n", x->out);
    return 0;
}

static int row(struct xrow *x)
{
    FILE *out = x->out;
    for (int i = 0; i < N_FIELDS; i++) {
        enum xcol c = fields[i];
        if (i)
            fputc(',', out);
        if (!xrow_null(x, c)) {
            size_t n;
            const char *t;
            switch (dbr_type(x->rows, x->col[c])) {
            case DBR_INT:
                fprintf(out, "%lld", (long long)xrow_int(x, c));
                break;
            case DBR_REAL:
                fprintf(out, c == XC_TS || c == XC_T_HDR ? "%.6f" : "%.3f", xrow_real(x, c));
                break;
            default:
                t = xrow_text(x, c, &n);
                esc_csv(out, t, n);
            }
        }
        if (c == XC_TS) {
            fputc(',', out);
            if (!xrow_null(x, c)) {
                char iso[64];
                fprintf(out, "%s", export_iso_time(xrow_real(x, c), iso, sizeof iso));
            }
        }
    }
    fputs("\r\n", out);
    return 0;
}

const struct xformat xformat_csv = { begin, row, NULL, NULL };
