/* report.c: see report.h. */
#include "report.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"

/* A JSON string of bytes we did not write: control bytes and bytes that are not
 * ASCII are escaped (as \u00XX, so the output is valid UTF-8 whatever came in). */
static void json_str(FILE *out, const unsigned char *s, int n)
{
    fputc('"', out);
    for (int i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The shortest of %.15g and %.17g that reads back as the same double: 1004.923 stays
 * 1004.923, and an epoch time keeps its microseconds. */
static void json_num(FILE *out, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

/* Text for a terminal cell: the same bytes, control bytes as \xNN, cut at 48. */
static char *cell_text(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return strdup("-");
    const unsigned char *s = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (sqlite3_column_type(st, col) == SQLITE_FLOAT) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.3f", sqlite3_column_double(st, col));
        return strdup(buf);
    }
    char *out = malloc((size_t)n * 4 + 4);
    if (!out)
        return NULL;
    size_t k = 0;
    for (int i = 0; i < n && k < 48; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            k += (size_t)snprintf(out + k, 5, "\\x%02x", s[i]);
        else
            out[k++] = (char)s[i];
    }
    if (n > 0 && k >= 48)
        memcpy(out + k, "...", 4);
    else
        out[k] = '\0';
    return out;
}

struct table {
    char **cells; /* rows * cols, the header first */
    int cols, rows;
};

static void table_free(struct table *t)
{
    for (int i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* Print one query: as an aligned table under a title, or as a JSON member holding an
 * array of objects. -1 on an SQL error (left in the connection). */
static int section(sqlite3 *db, const char *name, const char *title, const char *sql,
                   bool json, FILE *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int cols = sqlite3_column_count(st), rc;
    if (json) {
        fprintf(out, ",\n  \"%s\": [", name);
        int n = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            fprintf(out, "%s\n    {", n++ ? "," : "");
            for (int c = 0; c < cols; c++) {
                fprintf(out, "%s\"%s\": ", c ? ", " : "", sqlite3_column_name(st, c));
                switch (sqlite3_column_type(st, c)) {
                case SQLITE_NULL:
                    fputs("null", out);
                    break;
                case SQLITE_INTEGER:
                    fprintf(out, "%lld", (long long)sqlite3_column_int64(st, c));
                    break;
                case SQLITE_FLOAT:
                    json_num(out, sqlite3_column_double(st, c));
                    break;
                default:
                    json_str(out, sqlite3_column_text(st, c), sqlite3_column_bytes(st, c));
                }
            }
            fputc('}', out);
        }
        fprintf(out, "%s]", n ? "\n  " : "");
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    struct table t = { NULL, cols, 0 };
    size_t cap = 0;
    bool oom = false;
    for (rc = SQLITE_ROW; rc == SQLITE_ROW && !oom;) {
        if ((size_t)(t.rows + 1) * (size_t)cols > cap) {
            cap = cap ? cap * 2 : (size_t)cols * 16;
            char **v = realloc(t.cells, cap * sizeof *v);
            if (!v) {
                oom = true;
                break;
            }
            t.cells = v;
        }
        char **row = t.cells + (size_t)t.rows * (size_t)cols;
        if (t.rows == 0) {
            for (int c = 0; c < cols; c++)
                row[c] = strdup(sqlite3_column_name(st, c));
            t.rows++;
            continue;
        }
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        for (int c = 0; c < cols; c++)
            row[c] = cell_text(st, c);
        t.rows++;
    }
    sqlite3_finalize(st);
    if (oom || (rc != SQLITE_DONE)) {
        table_free(&t);
        return -1;
    }
    fprintf(out, "\n%s\n", title);
    if (t.rows == 1)
        fprintf(out, "  (none)\n");
    for (int r = 0; r < t.rows && t.rows > 1; r++) {
        fputs(" ", out);
        for (int c = 0; c < cols; c++) {
            size_t w = 0;
            for (int k = 0; k < t.rows; k++) {
                const char *s = t.cells[(size_t)k * (size_t)cols + (size_t)c];
                size_t len = s ? strlen(s) : 0;
                w = len > w ? len : w;
            }
            const char *s = t.cells[(size_t)r * (size_t)cols + (size_t)c];
            fprintf(out, " %-*s", c + 1 < cols ? (int)w : 0, s ? s : "?");
        }
        fputc('\n', out);
    }
    table_free(&t);
    return 0;
}

static const struct {
    const char *name, *title, *sql;
} sections[] = {
    { "runs", "runs:",
      "SELECT id AS run, datetime(started_at, 'unixepoch') || ' UTC' AS started, mode, source,"
      " packets, tcp_flows AS flows, http_flows, exchange_count AS exchanges,"
      " truncated, interrupted FROM runs ORDER BY id" },
    { "run_verdicts", "verdicts per run:",
      "SELECT run_id AS run, verdict, exchanges FROM v_verdict_counts"
      " ORDER BY run_id, exchanges DESC, verdict" },
    { "verdicts", "verdicts, all runs:",
      "SELECT verdict, SUM(exchanges) AS exchanges,"
      " (SELECT COUNT(*) FROM flows f WHERE f.verdict = v.verdict) AS flows"
      " FROM v_verdict_counts v GROUP BY verdict ORDER BY exchanges DESC, verdict" },
    { "servers", "servers with the most 417s and timeout fallbacks:",
      "SELECT server_ip, server_port, host, exchanges, with_expect, status_417,"
      " timeout_fallbacks, retries FROM v_server_failures"
      " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10" },
    { "user_agents", "user agents with the most 417s and timeout fallbacks:",
      "SELECT user_agent, exchanges, with_expect, status_417, timeout_fallbacks,"
      " avg_fallback_wait_ms FROM v_user_agent_failures"
      " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10" },
    { "server_timing", "time to 100 Continue and client wait per server (ms):",
      "SELECT server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95, n_wait,"
      " wait_ms_p50, wait_ms_p95 FROM v_server_timing ORDER BY n_100 + n_wait DESC LIMIT 10" },
};

static long long one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int report_print(const char *path, bool json, FILE *out, char *err, size_t err_len)
{
    sqlite3 *db = NULL;
    int rc = -1;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* read-only: a report never creates or migrates a database */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    long long has_meta = one_int(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'meta'");
    if (has_meta < 0) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    long long version = has_meta ? one_int(db, "SELECT CAST(value AS INTEGER) FROM meta"
                                               " WHERE key = 'schema_version'") : -1;
    long long revision = has_meta ? one_int(db, "SELECT CAST(value AS INTEGER) FROM meta"
                                                " WHERE key = 'schema_revision'") : -1;
    if (version != SCHEMA_VERSION) {
        snprintf(err, err_len, version < 0 ? "%s: not an expectscope database"
                                           : "%s: schema version %lld, not %d",
                 path, version, SCHEMA_VERSION);
        goto out;
    }
    if (revision != SCHEMA_REVISION) {
        snprintf(err, err_len, revision > SCHEMA_REVISION
                     ? "%s: schema revision %lld is newer than this expectscope reads"
                     : "%s: schema revision %lld is older; one `expectscope analyze --db`"
                       " run migrates it",
                 path, revision);
        goto out;
    }
    long long runs = one_int(db, "SELECT COUNT(*) FROM runs");
    long long flows = one_int(db, "SELECT COUNT(*) FROM flows");
    long long xs = one_int(db, "SELECT COUNT(*) FROM exchanges");
    if (json) {
        fprintf(out, "{\n  \"database\": ");
        json_str(out, (const unsigned char *)path, (int)strlen(path));
        fprintf(out, ",\n  \"schema_version\": %d,\n  \"schema_revision\": %d,\n"
                     "  \"totals\": {\"runs\": %lld, \"flows\": %lld, \"exchanges\": %lld}",
                SCHEMA_VERSION, SCHEMA_REVISION, runs, flows, xs);
    } else {
        fprintf(out, "%s: %lld runs, %lld flows, %lld exchanges (schema %d.%d)\n", path, runs,
                flows, xs, SCHEMA_VERSION, SCHEMA_REVISION);
    }
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (section(db, sections[i].name, sections[i].title, sections[i].sql, json, out) != 0) {
            snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(db));
            goto out;
        }
    }
    if (json)
        fprintf(out, "\n}\n");
    rc = 0;
out:
    sqlite3_close_v2(db);
    return rc;
}
