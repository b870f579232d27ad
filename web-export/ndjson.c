/* ndjson.c: one JSON object per exchange, one per line (NDJSON, ClickHouse's
 * JSONEachRow). The members and their types are docs/export.md's table; they are
 * stable: new ones may come, none goes or changes type. */
#include <string.h>

#include "xrow.h"

/* In the order written; lists are arrays, never null. */
static const enum xcol members[] = {
    XC_ID, XC_RUN_ID, XC_FLOW_ID, XC_SEQ, XC_TS, XC_T_HDR, XC_CLIENT_IP, XC_CLIENT_PORT,
    XC_SERVER_IP, XC_SERVER_PORT, XC_VLAN, XC_METHOD, XC_URI, XC_HOST, XC_HTTP_VERSION,
    XC_USER_AGENT, XC_EXPECT, XC_CONTENT_LENGTH, XC_CHUNKED, XC_BODY_BYTES, XC_BODY_MISSING,
    XC_INTERIM_CODES, XC_INTERIM_MS, XC_INTERIM_COUNT, XC_STATUS, XC_REASON,
    XC_RESPONSE_VERSION, XC_SERVER, XC_VIA, XC_WAIT_MS, XC_CONTINUE_MS, XC_FINAL_MS,
    XC_BODY_END_MS, XC_END_MS, XC_VERDICT, XC_FLAGS, XC_RETRY_OF, XC_ANSWERED_BY,
    XC_INTERMEDIARY, XC_PATH_EVIDENCE, XC_FLOW_VERDICT, XC_FLOW_END_REASON,
    XC_L7_PROTOCOL, XC_VIOLATIONS,
};

static int row(struct xrow *x)
{
    FILE *out = x->out;
    fputc('{', out);
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        enum xcol c = members[i];
        fprintf(out, "%s\"%s\":", i ? "," : "", xcol_name(c));
        switch (c) {
        case XC_CHUNKED:
            fputs(xrow_null(x, c) ? "null" : xrow_int(x, c) ? "true" : "false", out);
            break;
        case XC_INTERIM_CODES:
        case XC_INTERIM_MS:
            xjson_list(x, c, true);
            break;
        case XC_FLAGS:
        case XC_VIOLATIONS:
            xjson_list(x, c, false);
            break;
        default:
            xjson_col(x, c);
        }
        if (c == XC_TS) { /* and the same time for people and for Elasticsearch */
            char iso[64];
            fprintf(out, ",\"time\":");
            if (xrow_null(x, c))
                fputs("null", out);
            else
                fprintf(out, "\"%s\"", export_iso_time(xrow_real(x, c), iso, sizeof iso));
        }
    }
    fputs("}\n", out);
    return 0;
}

const struct xformat xformat_ndjson = { NULL, row, NULL, NULL };
