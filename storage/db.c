/* db.c: see db.h. */
#include "db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema.h"

enum { ST_FLOW, ST_EXCHANGE, ST_HEADER, ST_COUNT };

struct db {
    sqlite3 *conn;
    sqlite3_stmt *st[ST_COUNT];
    char *path;
    int lock_fd;          /* flock()ed for the life of the handle */
    bool in_tx;
    uint32_t batch_rows;
    uint64_t batch_start_us;
    int64_t run_id;
    int64_t flow_base, exchange_base;
    uint64_t busy_us;
    char err[600];
};

static const char *const sql_insert[ST_COUNT] = {
    [ST_FLOW] =
        "INSERT INTO flows (id, run_id, first_seen, last_seen, client_ip, client_port,"
        " server_ip, server_port, vlan, l7_protocol, packets_c2s, packets_s2c, bytes_c2s,"
        " bytes_s2c, missing_bytes, retransmissions, out_of_order, end_reason,"
        " exchange_count, verdict, wire_bytes_c2s, wire_bytes_s2c, gaps)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_EXCHANGE] =
        "INSERT INTO exchanges (id, flow_id, run_id, seq, ts, method, uri, host,"
        " http_version, user_agent, expect, content_length, chunked, body_bytes,"
        " interim_codes, status, reason, server, via, wait_ms, continue_ms, final_ms,"
        " verdict, flags, retry_of, t_hdr, body_missing, response_version)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_HEADER] = "INSERT INTO headers (exchange_id, direction, raw) VALUES (?,?,?)",
};

static uint64_t now_us(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Time spent in the writer: started on entry, added on exit. */
#define BUSY_BEGIN uint64_t busy_t0 = now_us(CLOCK_MONOTONIC)
#define BUSY_END (db->busy_us += now_us(CLOCK_MONOTONIC) - busy_t0)

static int fail(struct db *db, const char *what)
{
    snprintf(db->err, sizeof db->err, "%s: %s%s%s", db->path, what ? what : "",
             what ? ": " : "", sqlite3_errmsg(db->conn));
    return -1;
}

static int exec(struct db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->conn, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(db->err, sizeof db->err, "%s: %s", db->path,
             msg ? msg : sqlite3_errmsg(db->conn));
    sqlite3_free(msg);
    return -1;
}

const char *db_error(const struct db *db)
{
    return db->err;
}

int64_t db_run_id(const struct db *db)
{
    return db->run_id;
}

uint64_t db_busy_us(const struct db *db)
{
    return db->busy_us;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    if (db->in_tx)
        sqlite3_exec(db->conn, "ROLLBACK;", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    sqlite3_close_v2(db->conn);
    /* closed after SQLite: closing any descriptor of the file drops the process's
     * POSIX locks on it, SQLite's included */
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    free(db->path);
    free(db);
}

/* Only one expectscope writes a database at a time: a run's ids are its base plus
 * run-local numbers. flock() on the database file itself; on Linux it does not mix
 * with the fcntl() locks SQLite takes. */
static int take_writer_lock(struct db *db)
{
    db->lock_fd = open(db->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0) {
        snprintf(db->err, sizeof db->err, "%s: %s", db->path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(db->lock_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(db->err, sizeof db->err, "%s: not a regular file", db->path);
        return -1;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(db->err, sizeof db->err, "%s: %s", db->path,
                 errno == EWOULDBLOCK ? "another expectscope is writing this database"
                                      : strerror(errno));
        return -1;
    }
    return 0;
}

struct db *db_open(const char *path, char *err, size_t err_len)
{
    struct db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    db->lock_fd = -1;
    if (take_writer_lock(db) != 0)
        goto out;
    if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
    /* WAL: readers go on while we write; NORMAL sync is durable at checkpoints and
     * never corrupts in WAL mode. The first statement also tells a file that is not
     * a database ("file is not a database"). */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    int rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW &&
               strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        fail(db, NULL);
        goto out;
    }
    if (!wal) {
        snprintf(db->err, sizeof db->err, "%s: cannot switch to WAL mode", path);
        goto out;
    }
    if (exec(db, "PRAGMA synchronous=NORMAL;") != 0)
        goto out;
    char why[512];
    if (schema_prepare(db->conn, why, sizeof why) != 0) {
        snprintf(db->err, sizeof db->err, "%s: %s", path, why);
        goto out;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(db->conn, sql_insert[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &db->st[i], NULL) != SQLITE_OK) {
            fail(db, NULL);
            goto out;
        }
    }
    return db;
out:
    snprintf(err, err_len, "%s", db->err);
    db_close(db);
    return NULL;
}

static int64_t max_id(struct db *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

int db_run_begin(struct db *db, const struct db_run_info *info, char *err, size_t err_len)
{
    BUSY_BEGIN;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE;") != 0)
        goto out;
    db->in_tx = true;
    db->flow_base = max_id(db, "SELECT COALESCE(MAX(id), 0) FROM flows");
    db->exchange_base = max_id(db, "SELECT COALESCE(MAX(id), 0) FROM exchanges");
    sqlite3_stmt *st;
    if (db->flow_base < 0 || db->exchange_base < 0 ||
        sqlite3_prepare_v2(db->conn,
                           "INSERT INTO runs (mode, source, started_at, tool_version, options)"
                           " VALUES (?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    sqlite3_bind_text(st, 1, info->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->source, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, (double)info->started_us / 1e6);
    sqlite3_bind_text(st, 4, ES_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, info->options, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        fail(db, "writing the run");
        goto out;
    }
    db->run_id = sqlite3_last_insert_rowid(db->conn);
    if (exec(db, "COMMIT;") != 0)
        goto out;
    db->in_tx = false;
    rc = 0;
out:
    if (rc != 0) {
        snprintf(err, err_len, "%s", db->err);
        if (db->in_tx)
            sqlite3_exec(db->conn, "ROLLBACK;", NULL, NULL, NULL);
        db->in_tx = false;
    }
    BUSY_END;
    return rc;
}

/* Open a batch when none is open; commit it when it is full or old enough. */
static int batch_row(struct db *db)
{
    if (!db->in_tx) {
        if (exec(db, "BEGIN IMMEDIATE;") != 0)
            return -1;
        db->in_tx = true;
        db->batch_rows = 0;
        db->batch_start_us = now_us(CLOCK_MONOTONIC);
    }
    db->batch_rows++;
    if (db->batch_rows >= DB_BATCH_ROWS ||
        ((db->batch_rows & 63) == 0 &&
         now_us(CLOCK_MONOTONIC) - db->batch_start_us > DB_BATCH_MAX_MS * 1000u)) {
        if (exec(db, "COMMIT;") != 0)
            return -1;
        db->in_tx = false;
    }
    return 0;
}

static void bind_sbuf(sqlite3_stmt *st, int i, const struct sbuf *b)
{
    if (b->set)
        sqlite3_bind_text(st, i, b->len ? b->p : "", (int)b->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ms(sqlite3_stmt *st, int i, double ms)
{
    if (ms < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, ms);
}

static void bind_ts(sqlite3_stmt *st, int i, uint64_t us)
{
    if (us)
        sqlite3_bind_double(st, i, (double)us / 1e6);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ip(sqlite3_stmt *st, int i, const struct flow *f, enum dir side)
{
    char ip[64];
    if (inet_ntop(f->key.family == 4 ? AF_INET : AF_INET6, flow_addr(f, side), ip,
                  sizeof ip))
        sqlite3_bind_text(st, i, ip, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int step_reset(struct db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return fail(db, what);
    return 0;
}

int db_flow(struct db *db, const struct db_flow *fl)
{
    BUSY_BEGIN;
    const struct flow *f = fl->f;
    const struct reasm_counters *rc = fl->rc;
    sqlite3_stmt *st = db->st[ST_FLOW];
    int i = 1;
    sqlite3_bind_int64(st, i++, db->flow_base + (int64_t)f->id);
    sqlite3_bind_int64(st, i++, db->run_id);
    bind_ts(st, i++, f->first_seen_us);
    bind_ts(st, i++, f->last_seen_us);
    bind_ip(st, i++, f, DIR_C2S);
    sqlite3_bind_int(st, i++, flow_port(f, DIR_C2S));
    bind_ip(st, i++, f, DIR_S2C);
    sqlite3_bind_int(st, i++, flow_port(f, DIR_S2C));
    sqlite3_bind_int(st, i++, f->key.vlan_inner ? f->key.vlan_inner : f->key.vlan_outer);
    sqlite3_bind_text(st, i++, fl->l7, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, (int64_t)f->packets[DIR_C2S]);
    sqlite3_bind_int64(st, i++, (int64_t)f->packets[DIR_S2C]);
    sqlite3_bind_int64(st, i++, (int64_t)f->payload_bytes[DIR_C2S]);
    sqlite3_bind_int64(st, i++, (int64_t)f->payload_bytes[DIR_S2C]);
    sqlite3_bind_int64(st, i++, (int64_t)(rc->missing_bytes[0] + rc->missing_bytes[1]));
    sqlite3_bind_int64(st, i++, (int64_t)rc->retransmissions);
    sqlite3_bind_int64(st, i++, (int64_t)rc->out_of_order);
    sqlite3_bind_text(st, i++, flow_end_reason_name((enum end_reason)f->end_reason), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, i++, (int)fl->exchanges);
    if (fl->verdict != V_NONE)
        sqlite3_bind_text(st, i++, verdict_name(fl->verdict), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int64(st, i++, (int64_t)f->wire_bytes[DIR_C2S]);
    sqlite3_bind_int64(st, i++, (int64_t)f->wire_bytes[DIR_S2C]);
    sqlite3_bind_int64(st, i++, (int64_t)rc->gaps);
    int r = step_reset(db, st, "writing a flow");
    if (r == 0)
        r = batch_row(db);
    BUSY_END;
    return r;
}

static int header_row(struct db *db, int64_t xid, const char *dir, const struct sbuf *b)
{
    if (!b->len)
        return 0;
    sqlite3_stmt *st = db->st[ST_HEADER];
    sqlite3_bind_int64(st, 1, xid);
    sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->p, (int)b->len, SQLITE_STATIC);
    return step_reset(db, st, "writing headers");
}

int db_exchange(struct db *db, const struct flow *f, const struct exchange *x)
{
    BUSY_BEGIN;
    sqlite3_stmt *st = db->st[ST_EXCHANGE];
    int64_t xid = db->exchange_base + (int64_t)x->id;
    char buf[256];
    int i = 1;
    sqlite3_bind_int64(st, i++, xid);
    sqlite3_bind_int64(st, i++, db->flow_base + (int64_t)f->id);
    sqlite3_bind_int64(st, i++, db->run_id);
    sqlite3_bind_int(st, i++, (int)x->seq);
    /* a response whose request was lost starts at its own first byte */
    bind_ts(st, i++, x->t_start_us ? x->t_start_us : x->t_final_us);
    bind_sbuf(st, i++, &x->s[XS_METHOD]);
    bind_sbuf(st, i++, &x->s[XS_URI]);
    bind_sbuf(st, i++, &x->s[XS_HOST]);
    if (x->has_request && x->t_hdr_us) {
        snprintf(buf, sizeof buf, "%u.%u", x->http_major, x->http_minor);
        sqlite3_bind_text(st, i++, buf, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i++);
    }
    bind_sbuf(st, i++, &x->s[XS_USER_AGENT]);
    bind_sbuf(st, i++, &x->s[XS_EXPECT]);
    if (x->has_content_length)
        sqlite3_bind_int64(st, i++, (int64_t)x->content_length);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, x->chunked);
    sqlite3_bind_int64(st, i++, (int64_t)x->body_bytes);
    interim_str(x, buf, sizeof buf);
    if (buf[0])
        sqlite3_bind_text(st, i++, buf, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i++);
    if (x->status)
        sqlite3_bind_int(st, i++, x->status);
    else
        sqlite3_bind_null(st, i++);
    bind_sbuf(st, i++, &x->s[XS_REASON]);
    bind_sbuf(st, i++, &x->s[XS_SERVER]);
    bind_sbuf(st, i++, &x->s[XS_VIA]);
    bind_ms(st, i++, x->t_body_first_us ? exchange_ms_after_hdr(x, x->t_body_first_us) : -1);
    bind_ms(st, i++, exchange_ms_after_hdr(x, x->t_100_us));
    bind_ms(st, i++, exchange_ms_after_hdr(x, x->t_final_us));
    sqlite3_bind_text(st, i++, verdict_name(x->verdict), -1, SQLITE_STATIC);
    flags_str(x->flags, buf, sizeof buf);
    if (buf[0])
        sqlite3_bind_text(st, i++, buf, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i++);
    if (x->retry_of)
        sqlite3_bind_int64(st, i++, db->exchange_base + (int64_t)x->retry_of);
    else
        sqlite3_bind_null(st, i++);
    bind_ts(st, i++, x->t_hdr_us);
    sqlite3_bind_int64(st, i++, (int64_t)x->body_missing);
    if (x->status) {
        snprintf(buf, sizeof buf, "%u.%u", x->resp_major, x->resp_minor);
        sqlite3_bind_text(st, i++, buf, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i++);
    }
    int r = step_reset(db, st, "writing an exchange");
    /* header blocks of every exchange that is not plain, to read the exact Expect
     * value and the answer back */
    if (r == 0 && x->verdict != V_PLAIN)
        r = header_row(db, xid, "request", &x->s[XS_RAW_REQUEST]) ||
            header_row(db, xid, "interim", &x->s[XS_RAW_INTERIM]) ||
            header_row(db, xid, "response", &x->s[XS_RAW_RESPONSE]) ? -1 : 0;
    if (r == 0)
        r = batch_row(db);
    BUSY_END;
    return r;
}

int db_run_end(struct db *db, const struct db_run_stats *s)
{
    BUSY_BEGIN;
    int r = -1;
    sqlite3_stmt *st = NULL;
    if (!db->in_tx) {
        if (exec(db, "BEGIN IMMEDIATE;") != 0)
            goto out;
        db->in_tx = true;
    }
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET finished_at = ?, packets = ?, bytes = ?, kernel_drops = ?,"
            " if_drops = ?, truncated = ?, interrupted = ?, first_packet = ?,"
            " last_packet = ?, tcp_flows = ?, http_flows = ?, exchange_count = ?,"
            " evicted_flows = ?, fragments_skipped = ?, undecodable = ?,"
            " orphan_responses = ?, parse_errors = ? WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    int i = 1;
    bind_ts(st, i++, s->finished_us);
    sqlite3_bind_int64(st, i++, (int64_t)s->packets);
    sqlite3_bind_int64(st, i++, (int64_t)s->bytes);
    sqlite3_bind_int64(st, i++, (int64_t)s->kernel_drops);
    sqlite3_bind_int64(st, i++, (int64_t)s->if_drops);
    sqlite3_bind_int(st, i++, s->truncated);
    sqlite3_bind_int(st, i++, s->interrupted);
    bind_ts(st, i++, s->first_packet_us);
    bind_ts(st, i++, s->last_packet_us);
    sqlite3_bind_int64(st, i++, (int64_t)s->tcp_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->http_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->exchanges);
    sqlite3_bind_int64(st, i++, (int64_t)s->evicted_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->fragments_skipped);
    sqlite3_bind_int64(st, i++, (int64_t)s->undecodable);
    sqlite3_bind_int64(st, i++, (int64_t)s->orphan_responses);
    sqlite3_bind_int64(st, i++, (int64_t)s->parse_errors);
    sqlite3_bind_int64(st, i++, db->run_id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail(db, "finishing the run");
        goto out;
    }
    if (exec(db, "COMMIT;") != 0)
        goto out;
    db->in_tx = false;
    r = 0;
out:
    sqlite3_finalize(st);
    BUSY_END;
    return r;
}
