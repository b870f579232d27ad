/* read.c: see read.h. */
#include "read.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"
#include "sqlh.h"

struct dbr {
    sqlite3 *conn;
    char *path;
    char err[600];
};

struct dbr_rows {
    struct dbr *r;
    sqlite3_stmt *st;
};

static const char *const report_sql[DBR_QUERY_COUNT] = {
    [DBR_RUNS] =
        "SELECT id AS run, datetime(started_at, 'unixepoch') || ' UTC' AS started, mode,"
        " source, packets, tcp_flows AS flows, http_flows, exchange_count AS exchanges,"
        " truncated, interrupted FROM runs ORDER BY id",
    [DBR_RUN_VERDICTS] =
        "SELECT run_id AS run, verdict, exchanges FROM v_verdict_counts"
        " ORDER BY run_id, exchanges DESC, verdict",
    [DBR_VERDICTS] =
        "SELECT verdict, SUM(exchanges) AS exchanges,"
        " (SELECT COUNT(*) FROM flows f WHERE f.verdict = v.verdict) AS flows"
        " FROM v_verdict_counts v GROUP BY verdict ORDER BY exchanges DESC, verdict",
    [DBR_SERVERS] =
        "SELECT server_ip, server_port, host, exchanges, with_expect, status_417,"
        " timeout_fallbacks, retries FROM v_server_failures"
        " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10",
    [DBR_USER_AGENTS] =
        "SELECT user_agent, exchanges, with_expect, status_417, timeout_fallbacks,"
        " avg_fallback_wait_ms FROM v_user_agent_failures"
        " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10",
    [DBR_SERVER_TIMING] =
        "SELECT server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95, n_wait,"
        " wait_ms_p50, wait_ms_p95 FROM v_server_timing ORDER BY n_100 + n_wait DESC"
        " LIMIT 10",
};

static void set_err(struct dbr *r, const char *what)
{
    snprintf(r->err, sizeof r->err, "%s: %s", r->path, what);
}

static void sql_err(struct dbr *r)
{
    set_err(r, sqlite3_errmsg(r->conn));
}

const char *dbr_error(const struct dbr *r)
{
    return r->err;
}

const char *dbr_path(const struct dbr *r)
{
    return r->path;
}

void dbr_close(struct dbr *r)
{
    if (!r)
        return;
    sqlite3_close_v2(r->conn);
    free(r->path);
    free(r);
}

struct dbr *dbr_open(const char *path, char *err, size_t err_len)
{
    struct dbr *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    /* SQLite would say "unable to open database file" for a missing one */
    struct stat sb;
    char why[512];
    if (stat(path, &sb) != 0) {
        set_err(r, strerror(errno));
        goto fail;
    }
    if (sqlite3_open_v2(path, &r->conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        set_err(r, r->conn ? sqlite3_errmsg(r->conn) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(r->conn, 5000);
    if (schema_check_readable(r->conn, why, sizeof why) != 0) {
        set_err(r, why);
        goto fail;
    }
    return r;
fail:
    snprintf(err, err_len, "%s", r->err);
    dbr_close(r);
    return NULL;
}

int dbr_totals(struct dbr *r, struct dbr_totals *out)
{
    long long v[3];
    static const char *const sql[3] = { "SELECT COUNT(*) FROM runs",
                                        "SELECT COUNT(*) FROM flows",
                                        "SELECT COUNT(*) FROM exchanges" };
    for (int i = 0; i < 3; i++) {
        if (sqlh_int(r->conn, sql[i], 0, &v[i]) != 0) {
            sql_err(r);
            return -1;
        }
    }
    *out = (struct dbr_totals){ v[0], v[1], v[2] };
    return 0;
}

static struct dbr_rows *rows_new(struct dbr *r, const char *sql)
{
    struct dbr_rows *rows = calloc(1, sizeof *rows);
    if (!rows) {
        set_err(r, "out of memory");
        return NULL;
    }
    rows->r = r;
    if (sqlite3_prepare_v2(r->conn, sql, -1, &rows->st, NULL) != SQLITE_OK) {
        sql_err(r);
        dbr_rows_free(rows);
        return NULL;
    }
    return rows;
}

struct dbr_rows *dbr_query(struct dbr *r, enum dbr_query q)
{
    if ((unsigned)q >= DBR_QUERY_COUNT) {
        set_err(r, "no such query");
        return NULL;
    }
    return rows_new(r, report_sql[q]);
}

enum { MAX_FILTER_VERDICTS = 32 };

struct dbr_rows *dbr_exchanges(struct dbr *r, const struct dbr_filter *f)
{
    if (f->n_verdicts < 0 || f->n_verdicts > MAX_FILTER_VERDICTS) {
        set_err(r, "too many verdicts in a filter");
        return NULL;
    }
    /* Every value is bound, never pasted: filters come from the command line. */
    char sql[2048];
    size_t n = (size_t)snprintf(sql, sizeof sql,
        "SELECT e.*, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan,"
        " f.l7_protocol FROM exchanges e LEFT JOIN flows f ON f.id = e.flow_id"
        " WHERE 1");
    if (f->n_verdicts) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.verdict IN (");
        for (int i = 0; i < f->n_verdicts; i++)
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?", i ? "," : "");
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    }
    if (f->problems)
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              " AND e.verdict NOT IN ('plain', 'continue_ok')");
    if (f->server_ip)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND f.server_ip = ?");
    if (f->server_ip && f->server_port)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND f.server_port = ?");
    if (f->host)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.host = ?");
    if (f->since > 0)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.ts >= ?");
    if (f->until > 0)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.ts < ?");
    if (f->run_id)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.run_id = ?");
    snprintf(sql + n, sizeof sql - n, " ORDER BY e.ts, e.id");

    struct dbr_rows *rows = rows_new(r, sql);
    if (!rows)
        return NULL;
    sqlite3_stmt *st = rows->st;
    int k = 1;
    for (int i = 0; i < f->n_verdicts; i++)
        sqlite3_bind_text(st, k++, f->verdicts[i], -1, SQLITE_STATIC);
    if (f->server_ip)
        sqlite3_bind_text(st, k++, f->server_ip, -1, SQLITE_STATIC);
    if (f->server_ip && f->server_port)
        sqlite3_bind_int(st, k++, f->server_port);
    if (f->host)
        sqlite3_bind_text(st, k++, f->host, -1, SQLITE_STATIC);
    if (f->since > 0)
        sqlite3_bind_double(st, k++, f->since);
    if (f->until > 0)
        sqlite3_bind_double(st, k++, f->until);
    if (f->run_id)
        sqlite3_bind_int64(st, k++, f->run_id);
    return rows;
}

struct dbr_rows *dbr_headers(struct dbr *r, int64_t exchange_id)
{
    struct dbr_rows *rows = rows_new(r,
        "SELECT direction, raw FROM headers WHERE exchange_id = ?"
        " ORDER BY CASE direction WHEN 'request' THEN 0 WHEN 'interim' THEN 1 ELSE 2 END,"
        " rowid");
    if (rows)
        sqlite3_bind_int64(rows->st, 1, exchange_id);
    return rows;
}

int dbr_next(struct dbr_rows *rows)
{
    int rc = sqlite3_step(rows->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sql_err(rows->r);
    return -1;
}

int dbr_ncols(const struct dbr_rows *rows)
{
    return sqlite3_column_count(rows->st);
}

const char *dbr_col_name(const struct dbr_rows *rows, int col)
{
    const char *s = sqlite3_column_name(rows->st, col);
    return s ? s : "?";
}

int dbr_col_index(const struct dbr_rows *rows, const char *name)
{
    int n = dbr_ncols(rows);
    for (int i = 0; i < n; i++)
        if (strcmp(dbr_col_name(rows, i), name) == 0)
            return i;
    return -1;
}

enum dbr_type dbr_type(const struct dbr_rows *rows, int col)
{
    switch (sqlite3_column_type(rows->st, col)) {
    case SQLITE_INTEGER:
        return DBR_INT;
    case SQLITE_FLOAT:
        return DBR_REAL;
    case SQLITE_NULL:
        return DBR_NULL;
    default:
        return DBR_TEXT;
    }
}

int64_t dbr_int(const struct dbr_rows *rows, int col)
{
    return sqlite3_column_int64(rows->st, col);
}

double dbr_real(const struct dbr_rows *rows, int col)
{
    return sqlite3_column_double(rows->st, col);
}

const char *dbr_text(const struct dbr_rows *rows, int col, size_t *len)
{
    const char *s = (const char *)sqlite3_column_text(rows->st, col);
    int n = sqlite3_column_bytes(rows->st, col);
    *len = s && n > 0 ? (size_t)n : 0;
    return s ? s : "";
}

void dbr_rows_free(struct dbr_rows *rows)
{
    if (!rows)
        return;
    sqlite3_finalize(rows->st);
    free(rows);
}
