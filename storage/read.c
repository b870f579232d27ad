/* read.c: see read.h. */
#include "read.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The paths of each Host (v_path_compare) with nearest-rank percentiles of the client's
 * wait and of the time to 100, from v_paths; VIEW, its WHERE, and the run filter of
 * v_paths. Hosts are matched with IS: a request without Host is a path too. */
#define PATHS_SQL(VIEW, WHERE, RUN)                                                      \
    "WITH w AS (SELECT host, path, server_ip, server_port, wait_ms AS v,"                \
    "  ROW_NUMBER() OVER (PARTITION BY host, path, server_ip, server_port"               \
    "   ORDER BY wait_ms) AS rn,"                                                        \
    "  COUNT(*) OVER (PARTITION BY host, path, server_ip, server_port) AS n"            \
    "  FROM v_paths WHERE wait_ms IS NOT NULL AND expect IS NOT NULL AND " RUN "),"      \
    " c AS (SELECT host, path, server_ip, server_port, continue_ms AS v,"               \
    "  ROW_NUMBER() OVER (PARTITION BY host, path, server_ip, server_port"               \
    "   ORDER BY continue_ms) AS rn,"                                                    \
    "  COUNT(*) OVER (PARTITION BY host, path, server_ip, server_port) AS n"            \
    "  FROM v_paths WHERE continue_ms IS NOT NULL AND " RUN "),"                         \
    " ws AS (SELECT host, path, server_ip, server_port,"                                 \
    "  MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS wait_p50,"                         \
    "  MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN v END) AS wait_p95"                  \
    "  FROM w GROUP BY host, path, server_ip, server_port),"                             \
    " cs AS (SELECT host, path, server_ip, server_port,"                                 \
    "  MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS continue_p50"                      \
    "  FROM c GROUP BY host, path, server_ip, server_port)"                              \
    " SELECT p.host, p.path, p.server_ip, p.server_port, p.exchanges, p.with_expect,"    \
    "  p.continue_ok, p.expectation_failed, p.timeout_fallback, p.problems,"             \
    "  ws.wait_p50 AS wait_ms_p50, ws.wait_p95 AS wait_ms_p95,"                          \
    "  cs.continue_p50 AS continue_ms_p50,"                                              \
    "  p.answered_by_intermediary, p.paths_disagree"                                     \
    " FROM " VIEW " p"                                                                   \
    " LEFT JOIN ws ON ws.host IS p.host AND ws.path = p.path"                            \
    "  AND ws.server_ip IS p.server_ip AND ws.server_port IS p.server_port"              \
    " LEFT JOIN cs ON cs.host IS p.host AND cs.path = p.path"                            \
    "  AND cs.server_ip IS p.server_ip AND cs.server_port IS p.server_port "             \
    WHERE "ORDER BY p.paths_disagree DESC, p.host, p.path, p.server_ip, p.server_port"

/* Each summary over all runs ([0]) and over one run, ?1 ([1]). ?2 is 1 while a writer
 * holds the database: its newest unfinished run is running, not left unfinished. */
static const char *const report_sql[DBR_QUERY_COUNT][2] = {
    [DBR_RUNS] = {
        "SELECT run_id AS run, datetime(first_packet, 'unixepoch') AS first_packet_utc,"
        " datetime(last_packet, 'unixepoch') AS last_packet_utc,"
        " CASE WHEN state = 'unfinished' AND ?2 AND run_id = (SELECT MAX(id) FROM runs)"
        "  THEN 'running' ELSE state END AS state,"
        " packets, tcp_flows AS flows, exchange_count AS exchanges, source"
        " FROM v_runs WHERE ?1 = 0 OR run_id = ?1 ORDER BY run_id",
        NULL },
    [DBR_RUN_VERDICTS] = {
        "SELECT run_id AS run, verdict, exchanges FROM v_verdict_counts"
        " WHERE ?1 = 0 OR run_id = ?1 ORDER BY run_id, exchanges DESC, verdict",
        NULL },
    [DBR_VERDICTS] = {
        "SELECT verdict, SUM(exchanges) AS exchanges,"
        " (SELECT COUNT(*) FROM flows f WHERE f.verdict = v.verdict"
        "  AND (?1 = 0 OR f.run_id = ?1)) AS flows"
        " FROM v_verdict_counts v WHERE ?1 = 0 OR run_id = ?1"
        " GROUP BY verdict ORDER BY exchanges DESC, verdict",
        NULL },
    [DBR_SERVERS] = {
        "SELECT server_ip, server_port, host, exchanges, with_expect, status_417,"
        " timeout_fallbacks, retries FROM v_server_failures"
        " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10",
        "SELECT server_ip, server_port, host, exchanges, with_expect, status_417,"
        " timeout_fallbacks, retries FROM v_server_failures_by_run"
        " WHERE run_id = ?1 AND status_417 + timeout_fallbacks > 0 LIMIT 10" },
    [DBR_USER_AGENTS] = {
        "SELECT user_agent, exchanges, with_expect, status_417, timeout_fallbacks,"
        " avg_fallback_wait_ms FROM v_user_agent_failures"
        " WHERE status_417 + timeout_fallbacks > 0 LIMIT 10",
        "SELECT user_agent, exchanges, with_expect, status_417, timeout_fallbacks,"
        " avg_fallback_wait_ms FROM v_user_agent_failures_by_run"
        " WHERE run_id = ?1 AND status_417 + timeout_fallbacks > 0 LIMIT 10" },
    [DBR_SERVER_TIMING] = {
        "SELECT server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95, n_wait,"
        " wait_ms_p50, wait_ms_p95 FROM v_server_timing ORDER BY n_100 + n_wait DESC"
        " LIMIT 10",
        "SELECT server_ip, server_port, n_100, continue_ms_p50, continue_ms_p95, n_wait,"
        " wait_ms_p50, wait_ms_p95 FROM v_server_timing_by_run WHERE run_id = ?1"
        " ORDER BY n_100 + n_wait DESC LIMIT 10" },
    /* the rule of analyze's summary: most TCP payload segments cut (more than half) */
    [DBR_CAPTURE] = {
        "SELECT id AS run, snaplen, payload_packets, snap_cut_packets, one_sided_flows,"
        " undecodable, TRIM("
        "  CASE WHEN payload_packets > 0 AND snap_cut_packets * 2 > payload_packets"
        "   THEN 'most cut by snaplen ' || COALESCE(snaplen, '?') || '; ' ELSE '' END ||"
        "  CASE WHEN one_sided_flows > 0 THEN 'one-sided flows; ' ELSE '' END ||"
        "  CASE WHEN undecodable > 0 THEN 'undecodable packets; ' ELSE '' END, '; ')"
        " AS warning"
        " FROM runs WHERE (?1 = 0 OR id = ?1) AND (snap_cut_packets > 0"
        "  OR one_sided_flows > 0 OR undecodable > 0) ORDER BY id",
        NULL },
    [DBR_WIRE] = {
        "SELECT id AS run, bad_acks, bad_rsts, bad_flags FROM runs"
        " WHERE (?1 = 0 OR id = ?1) AND (bad_acks > 0 OR bad_rsts > 0 OR bad_flags > 0)"
        " ORDER BY id",
        NULL },
    /* the memory caps: printed only for runs where one bit */
    [DBR_CAPS] = {
        "SELECT id AS run, pending_cap_flows, pending_cap_exchanges, pipeline_overflows,"
        " (SELECT COALESCE(SUM(cap_flushes), 0) FROM flows WHERE run_id = runs.id)"
        " AS ooo_cap_flushes, pending_bytes_peak, ooo_bytes_peak"
        " FROM runs WHERE (?1 = 0 OR id = ?1) AND (pending_cap_flows > 0"
        "  OR pipeline_overflows > 0 OR EXISTS (SELECT 1 FROM flows"
        "  WHERE run_id = runs.id AND cap_flushes > 0)) ORDER BY id",
        NULL },
    [DBR_FRAMING] = {
        "SELECT id AS run, parse_errors, framing_errors, stray_interims, tunnels"
        " FROM runs WHERE (?1 = 0 OR id = ?1) AND (parse_errors > 0"
        "  OR framing_errors > 0 OR stray_interims > 0 OR tunnels > 0) ORDER BY id",
        NULL },
    [DBR_PATHS] = { PATHS_SQL("v_path_compare", "", "1"),
                    PATHS_SQL("v_path_compare_by_run", "WHERE run_id = ?1 ", "run_id = ?1") },
    [DBR_CLIENT_TIMERS] = {
        "SELECT client, with_expect AS expect, fallbacks, timer_ms, tight,"
        " common_timer AS known, long_waits AS long FROM v_client_timers"
        " WHERE fallbacks > 0 OR long_waits > 0 LIMIT 10",
        "SELECT client, with_expect AS expect, fallbacks, timer_ms, tight,"
        " common_timer AS known, long_waits AS long FROM v_client_timers_by_run"
        " WHERE run_id = ?1 AND (fallbacks > 0 OR long_waits > 0) LIMIT 10" },
    [DBR_RULES] = {
        "SELECT rule, COUNT(*) AS violations, COUNT(DISTINCT exchange_id) AS exchanges,"
        " MIN(exchange_id) AS example_exchange_id FROM violations"
        " WHERE ?1 = 0 OR run_id = ?1 GROUP BY rule ORDER BY violations DESC, rule", NULL },
    [DBR_RULE_SERVERS] = {
        "SELECT server_ip, server_port, host, COUNT(*) AS violations,"
        " COUNT(DISTINCT exchange_id) AS exchanges, GROUP_CONCAT(DISTINCT rule) AS rules"
        " FROM v_violations WHERE ?1 = 0 OR run_id = ?1"
        " GROUP BY server_ip, server_port, host"
        " ORDER BY violations DESC, server_ip, server_port, host LIMIT 10", NULL },
    [DBR_RULE_AGENTS] = {
        "SELECT user_agent, COUNT(*) AS violations,"
        " COUNT(DISTINCT exchange_id) AS exchanges, GROUP_CONCAT(DISTINCT rule) AS rules"
        " FROM v_violations WHERE ?1 = 0 OR run_id = ?1 GROUP BY user_agent"
        " ORDER BY violations DESC, user_agent LIMIT 10", NULL },
};
#undef PATHS_SQL

static void set_err(struct dbr *r, const char *what)
{
    snprintf(r->err, sizeof r->err, "%s: %s", r->path, what);
}

/* SQLite's reason, and for a damaged file what to do about it. */
static void sql_err(struct dbr *r)
{
    int code = sqlite3_errcode(r->conn);
    if (code == SQLITE_CORRUPT)
        snprintf(r->err, sizeof r->err, "%s: the database is damaged (%s); sqlite3's .recover"
                 " may save what is left", r->path, sqlite3_errmsg(r->conn));
    else
        set_err(r, sqlite3_errmsg(r->conn));
}

/* "file:" URI of a path, for SQLite's URI parameters: every byte but the unreserved
 * ones and '/' percent-encoded. NULL on no memory. */
static char *file_uri(const char *path, const char *query)
{
    size_t cap = 5 + 3 * strlen(path) + 1 + strlen(query) + 1, k = 0;
    char *u = malloc(cap);
    if (!u)
        return NULL;
    k += (size_t)snprintf(u, cap, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            u[k++] = (char)*p;
        else
            k += (size_t)snprintf(u + k, cap - k, "%%%02X", *p);
    }
    snprintf(u + k, cap - k, "?%s", query);
    return u;
}

/* A WAL database in a directory we cannot write (a copy on read-only media, another
 * user's files) cannot get its -shm file; read it as immutable instead: nobody can be
 * writing it there either. */
static int reopen_immutable(struct dbr *r)
{
    char *uri = file_uri(r->path, "immutable=1");
    if (!uri)
        return -1;
    sqlite3_close_v2(r->conn);
    r->conn = NULL;
    int rc = sqlite3_open_v2(uri, &r->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    return rc == SQLITE_OK ? 0 : -1;
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
    int rc = schema_check_readable(r->conn, why, sizeof why);
    int code = sqlite3_errcode(r->conn) & 0xff;
    if (rc != 0 && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY) &&
        reopen_immutable(r) == 0)
        rc = schema_check_readable(r->conn, why, sizeof why);
    if (rc != 0) {
        if (sqlite3_errcode(r->conn) == SQLITE_CORRUPT)
            sql_err(r);
        else
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

struct dbr_rows *dbr_query(struct dbr *r, enum dbr_query q, int64_t run_id)
{
    if ((unsigned)q >= DBR_QUERY_COUNT) {
        set_err(r, "no such query");
        return NULL;
    }
    const char *sql = run_id && report_sql[q][1] ? report_sql[q][1] : report_sql[q][0];
    struct dbr_rows *rows = rows_new(r, sql);
    if (rows) {
        sqlite3_bind_int64(rows->st, 1, run_id);
        if (sqlite3_bind_parameter_count(rows->st) >= 2)
            sqlite3_bind_int(rows->st, 2, dbr_writer_active(r));
    }
    return rows;
}

int64_t dbr_latest_run(struct dbr *r)
{
    long long v;
    if (sqlh_int(r->conn, "SELECT COALESCE(MAX(id), 0) FROM runs", 0, &v) != 0) {
        sql_err(r);
        return -1;
    }
    return v;
}

bool dbr_writer_active(struct dbr *r)
{
    /* the writer holds an exclusive flock() on the file for its whole run (db.c) */
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
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
        " f.l7_protocol, f.end_reason AS flow_end_reason, f.verdict AS flow_verdict,"
        " f.missing_bytes AS flow_missing_bytes,"
        " (SELECT GROUP_CONCAT(rule, ',') FROM (SELECT rule FROM violations v"
        "  WHERE v.exchange_id = e.id ORDER BY v.id)) AS violations"
        " FROM exchanges e LEFT JOIN flows f ON f.id = e.flow_id WHERE 1");
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
    if (f->id)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.id = ?");
    if (f->retry_of)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND e.retry_of = ?");
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
    if (f->id)
        sqlite3_bind_int64(st, k++, f->id);
    if (f->retry_of)
        sqlite3_bind_int64(st, k++, f->retry_of);
    return rows;
}

struct dbr_rows *dbr_sensors(struct dbr *r, int64_t run_id)
{
    struct dbr_rows *rows = rows_new(r,
        "SELECT DISTINCT sensor FROM runs WHERE sensor IS NOT NULL"
        " AND (?1 = 0 OR id = ?1) ORDER BY sensor");
    if (rows)
        sqlite3_bind_int64(rows->st, 1, run_id);
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

struct dbr_rows *dbr_violations(struct dbr *r, int64_t exchange_id)
{
    struct dbr_rows *rows = rows_new(r,
        "SELECT rule, detail FROM violations WHERE exchange_id = ?1"
        " OR (exchange_id IS NULL AND flow_id = (SELECT flow_id FROM exchanges"
        " WHERE id = ?1)) ORDER BY id");
    if (rows)
        sqlite3_bind_int64(rows->st, 1, exchange_id);
    return rows;
}

int dbr_headers_again(struct dbr_rows *rows, int64_t exchange_id)
{
    sqlite3_reset(rows->st);
    if (sqlite3_bind_int64(rows->st, 1, exchange_id) != SQLITE_OK) {
        sql_err(rows->r);
        return -1;
    }
    return 0;
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
