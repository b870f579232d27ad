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
#include <math.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema.h"
#include "retain.h"
#include "sqlh.h"
#include "wqueue.h"

enum { ST_FLOW, ST_EXCHANGE, ST_HEADER, ST_HOP, ST_PATH, ST_VIOLATION, ST_COUNT };

/* Between db_run_begin() and db_run_end() the connection belongs to the writer
 * thread: the analyzer thread only serialises rows into the queue. */
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
    struct wq *q;
    pthread_t writer;
    bool writer_running;
    bool failed;          /* the writer stopped on an error (read after the join) */
    uint64_t busy_us;     /* writer thread: time inside SQLite */
    uint64_t wait_us;     /* analyzer thread: time inside db_ calls (serialising, and
                             waiting when every queue chunk is in flight) */
    uint64_t retain_us;   /* --retain: rows older than this are pruned; 0: kept */
    uint64_t next_prune_us;            /* writer thread, monotonic clock */
    struct retain_counts pruned;       /* writer thread; read after the join */
    char err[600];
};

static const char *const sql_insert[ST_COUNT] = {
    [ST_FLOW] =
        "INSERT INTO flows (id, run_id, first_seen, last_seen, client_ip, client_port,"
        " server_ip, server_port, vlan, l7_protocol, packets_c2s, packets_s2c, bytes_c2s,"
        " bytes_s2c, missing_bytes, retransmissions, out_of_order, end_reason,"
        " exchange_count, verdict, wire_bytes_c2s, wire_bytes_s2c, gaps, out_of_window,"
        " cap_flushes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_EXCHANGE] =
        "INSERT INTO exchanges (id, flow_id, run_id, seq, ts, method, uri, host,"
        " http_version, user_agent, expect, content_length, chunked, body_bytes,"
        " interim_codes, status, reason, server, via, wait_ms, continue_ms, final_ms,"
        " verdict, flags, retry_of, t_hdr, body_missing, response_version, interim_count,"
        " answered_by, intermediary, path_evidence, interim_ms, body_end_ms, end_ms)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_HEADER] = "INSERT INTO headers (exchange_id, direction, raw) VALUES (?,?,?)",
    [ST_HOP] =
        "INSERT INTO hops (front_exchange_id, back_exchange_id, proxy_ip, findings, run_id,"
        " client_wait_ms, proxy_ms, upstream_ms) VALUES (?,?,?,?,?,?,?,?)",
    [ST_PATH] =
        "UPDATE exchanges SET answered_by = ?, intermediary = ?, path_evidence = ?"
        " WHERE id = ?",
    [ST_VIOLATION] =
        "INSERT INTO violations (run_id, flow_id, exchange_id, rule, detail)"
        " VALUES (?,?,?,?,?)",
};

static uint64_t now_us(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Queue between the threads: 32 chunks of 512 KiB bound what is in flight. */
enum { WQ_CHUNK_BYTES = 512 * 1024, WQ_CHUNKS = 32 };

/* Pruning for --retain: at most this many batches of this many rows per table each
 * time the writer prunes (a few tens of milliseconds), then back to the queue. */
enum { RETAIN_BATCH_ROWS = 2000, RETAIN_BATCHES = 5 };

static int fail(struct db *db, const char *what)
{
    snprintf(db->err, sizeof db->err, "%s: %s%s%s", db->path, what ? what : "",
             what ? ": " : "", sqlite3_errmsg(db->conn));
    return -1;
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

/* Not seen (0), or seen at a time the capture did not record (X_TIME_UNKNOWN_US). */
static double ts_or_nan(uint64_t us)
{
    return x_time_known(us) ? (double)us / 1e6 : NAN;
}

static int exec(struct db *db, const char *sql)
{
    char why[512];
    if (sqlh_exec(db->conn, sql, why, sizeof why) == 0)
        return 0;
    snprintf(db->err, sizeof db->err, "%s: %s", db->path, why);
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

uint64_t db_wait_us(const struct db *db)
{
    return db->wait_us;
}

static void stop_writer(struct db *db);

void db_close(struct db *db)
{
    if (!db)
        return;
    stop_writer(db);
    wq_free(db->q);
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
static int take_writer_lock(struct db *db, uint64_t wait_us)
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
    /* polled, not blocking: a cron job waits a bounded time, then says why */
    uint64_t waited = 0;
    while (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK && waited < wait_us) {
            usleep(50000);
            waited += 50000;
            continue;
        }
        if (errno == EWOULDBLOCK && wait_us)
            snprintf(db->err, sizeof db->err, "%s: another expectscope is writing this "
                     "database (waited %.1f s)", db->path, (double)wait_us / 1e6);
        else
            snprintf(db->err, sizeof db->err, "%s: %s", db->path,
                     errno == EWOULDBLOCK ? "another expectscope is writing this database"
                                          : strerror(errno));
        return -1;
    }
    return 0;
}

struct db *db_open(const char *path, uint64_t wait_lock_us, char *err, size_t err_len)
{
    struct db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    db->lock_fd = -1;
    if (take_writer_lock(db, wait_lock_us) != 0)
        goto out;
    /* NOMUTEX: the connection belongs to the analyzer thread alone; SQLite's own
     * mutexes cost a lock per call (measured: several percent of a run) */
    if (sqlite3_open_v2(path, &db->conn,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) !=
        SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    /* a lock of another program (a sqlite3 shell in a transaction) is waited for as
     * long as --wait-lock says, and at least DB_BUSY_TIMEOUT_MS */
    uint64_t busy_ms = wait_lock_us / 1000u;
    sqlite3_busy_timeout(db->conn, busy_ms > DB_BUSY_TIMEOUT_MS ? (int)(busy_ms > INT32_MAX
                                                                        ? INT32_MAX
                                                                        : busy_ms)
                                                                 : DB_BUSY_TIMEOUT_MS);
    /* Decide first, write after: a database we refuse is not touched (not even
     * switched to WAL). The first statement also tells a file that is not a
     * database ("file is not a database"). */
    char why[512];
    if (schema_prepare(db->conn, why, sizeof why) != 0) {
        snprintf(db->err, sizeof db->err, "%s: %s", path, why);
        goto out;
    }
    /* WAL: readers go on while we write; NORMAL sync is durable at checkpoints and
     * never corrupts in WAL mode. */
    /* 16 KiB pages (for a new database; an existing one keeps its own): the raw
     * header blocks fit in a page, and a bulk insert splits fewer pages */
    sqlite3_exec(db->conn, "PRAGMA page_size=16384;", NULL, NULL, NULL);
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
    long long v;
    return sqlh_int(db->conn, sql, -1, &v) == 0 ? v : -1;
}

static void *writer_main(void *arg);

static void hash_hex(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, h);
}

int db_find_input(struct db *db, const struct db_input *in, struct db_seen *seen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn,
            "SELECT r.run_id, r.started_at, r.state FROM inputs i"
            " JOIN v_runs r ON r.run_id = i.run_id"
            " WHERE i.head_hash = ?1 AND i.head_bytes = ?2"
            " AND ABS(COALESCE(i.first_packet, 0) - ?3) < 0.0000005"
            " AND (i.size IS NULL OR ?4 = 0 OR i.compression IS NOT ?5 OR i.size = ?4)"
            " ORDER BY r.run_id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return fail(db, "looking for earlier runs");
    char hex[17];
    hash_hex(in->head_hash, hex);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, in->head_bytes);
    sqlite3_bind_double(st, 3, (double)in->first_packet_us / 1e6);
    sqlite3_bind_int64(st, 4, (int64_t)in->size);
    sqlite3_bind_text(st, 5, in->compression, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        seen->run_id = sqlite3_column_int64(st, 0);
        seen->started_us = (uint64_t)(sqlite3_column_double(st, 1) * 1e6);
        const unsigned char *state = sqlite3_column_text(st, 2);
        snprintf(seen->state, sizeof seen->state, "%s", state ? (const char *)state : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(db, "looking for earlier runs");
    return rc == SQLITE_ROW;
}

/* The run's inputs, inside db_run_begin()'s transaction. */
static int write_inputs(struct db *db, const struct db_run_info *info)
{
    if (!info->n_inputs)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn,
            "INSERT INTO inputs (run_id, seq, path, compression, linktype, size,"
            " first_packet, head_hash, head_bytes) VALUES (?,?,?,?,?,?,?,?,?)",
            -1, &st, NULL) != SQLITE_OK)
        return fail(db, "writing the inputs");
    int rc = SQLITE_DONE;
    for (int i = 0; i < info->n_inputs && rc == SQLITE_DONE; i++) {
        const struct db_input *in = &info->inputs[i];
        char hex[17];
        hash_hex(in->head_hash, hex);
        sqlite3_bind_int64(st, 1, db->run_id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_text(st, 3, in->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, in->compression, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, in->linktype);
        if (in->size)
            sqlite3_bind_int64(st, 6, (int64_t)in->size);
        else
            sqlite3_bind_null(st, 6);
        bind_real(st, 7, ts_or_nan(in->first_packet_us));
        sqlite3_bind_text(st, 8, hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 9, in->head_bytes);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(db, "writing the inputs");
}

int db_run_begin(struct db *db, const struct db_run_info *info, char *err, size_t err_len)
{
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE;") != 0)
        goto out;
    db->in_tx = true;
    db->flow_base = max_id(db, "SELECT COALESCE(MAX(id), 0) FROM flows");
    db->exchange_base = max_id(db, "SELECT COALESCE(MAX(id), 0) FROM exchanges");
    sqlite3_stmt *st;
    if (db->flow_base < 0 || db->exchange_base < 0 ||
        sqlite3_prepare_v2(db->conn,
                           "INSERT INTO runs (mode, source, started_at, tool_version, options,"
                           " sensor) VALUES (?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
        fail(db, NULL);
        goto out;
    }
    sqlite3_bind_text(st, 1, info->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->source, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, (double)info->started_us / 1e6);
    sqlite3_bind_text(st, 4, ES_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, info->options, -1, SQLITE_STATIC);
    if (info->sensor)
        sqlite3_bind_text(st, 6, info->sensor, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        fail(db, "writing the run");
        goto out;
    }
    db->run_id = sqlite3_last_insert_rowid(db->conn);
    if (write_inputs(db, info) != 0)
        goto out;
    if (exec(db, "COMMIT;") != 0)
        goto out;
    db->in_tx = false;
    db->q = wq_new(WQ_CHUNK_BYTES, WQ_CHUNKS);
    if (!db->q || pthread_create(&db->writer, NULL, writer_main, db) != 0) {
        snprintf(db->err, sizeof db->err, "%s: cannot start the writer thread", db->path);
        goto out;
    }
    db->writer_running = true;
    rc = 0;
out:
    if (rc != 0) {
        snprintf(err, err_len, "%s", db->err);
        if (db->in_tx)
            sqlite3_exec(db->conn, "ROLLBACK;", NULL, NULL, NULL);
        db->in_tx = false;
    }
    return rc;
}

/* ---- rows in the queue ------------------------------------------------------------
 * A row travels as a fixed part followed by its strings, in field order. A length of
 * STR_NULL stands for SQL NULL. Everything the row needs is copied: flows and
 * exchanges are recycled as soon as the call returns. */

#define STR_NULL UINT32_MAX

enum rec_type { REC_FLOW = 1, REC_EXCHANGE, REC_HOP, REC_PATH, REC_VIOLATION, REC_PROGRESS,
                REC_END };

enum { FS_CLIENT_IP, FS_SERVER_IP, FS_L7, FS_COUNT };

struct flow_rec {
    uint32_t type;
    uint32_t len[FS_COUNT];
    uint8_t end_reason, verdict;
    int64_t id, client_port, server_port, vlan, exchanges;
    int64_t packets[2], bytes[2], wire[2], missing, retrans, ooo, gaps, out_of_window,
        cap_flushes;
    double first_seen, last_seen;
};

enum {
    XR_METHOD, XR_URI, XR_HOST, XR_HTTP_VERSION, XR_USER_AGENT, XR_EXPECT, XR_INTERIM,
    XR_REASON, XR_SERVER, XR_VIA, XR_FLAGS, XR_RESPONSE_VERSION, XR_ANSWERED_BY,
    XR_INTERMEDIARY, XR_PATH_EVIDENCE, XR_INTERIM_MS, XR_RAW_REQUEST, XR_RAW_INTERIM,
    XR_RAW_RESPONSE, XR_COUNT
};

struct exchange_rec {
    uint32_t type;
    uint32_t len[XR_COUNT];
    uint8_t verdict;
    int32_t seq, status, chunked;
    int64_t id, flow_id, retry_of, content_length, body_bytes, body_missing, interim_count;
    double ts, t_hdr, wait_ms, continue_ms, final_ms, body_end_ms, end_ms; /* NAN: NULL */
};

struct hop_rec {
    uint32_t type;
    uint32_t findings;
    int64_t front_id, back_id; /* back 0: none */
    double client_wait_ms, proxy_ms, upstream_ms; /* NAN: NULL */
    char proxy_ip[64];
};

struct path_rec {
    uint32_t type;
    uint8_t answered_by;
    int64_t exchange_id;
    const char *intermediary; /* static (fingerprint.c's table) */
    char path_evidence[160];
};

struct violation_rec {
    uint32_t type;
    uint8_t rule;             /* enum rule_id */
    int64_t flow_id, exchange_id; /* database ids; 0: NULL */
    char detail[RULE_DETAIL_MAX];
};

struct end_rec {
    uint32_t type;
    struct db_run_stats st;
};

/* The strings of a record, as slices into it. */
struct slices {
    const char *p[XR_COUNT];
    uint32_t len[XR_COUNT];
};

static size_t strings_size(const uint32_t *len, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += len[i] == STR_NULL ? 0 : len[i];
    return total;
}

static void put_strings(uint8_t *out, const uint32_t *len, const char *const *p, int n)
{
    for (int i = 0; i < n; i++) {
        if (len[i] == STR_NULL || len[i] == 0)
            continue;
        memcpy(out, p[i], len[i]);
        out += len[i];
    }
}

static void get_strings(const uint8_t *in, const uint32_t *len, int n, struct slices *s)
{
    for (int i = 0; i < n; i++) {
        s->len[i] = len[i];
        s->p[i] = len[i] == STR_NULL ? NULL : (const char *)in;
        if (len[i] != STR_NULL)
            in += len[i];
    }
}

static void bind_slice(sqlite3_stmt *st, int i, const struct slices *s, int k)
{
    if (s->p[k])
        sqlite3_bind_text(st, i, s->len[k] ? s->p[k] : "", (int)s->len[k], SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static double ms_or_nan(double ms)
{
    return ms < 0 ? NAN : ms;
}

/* Copy the record and hand it on; -1 when the writer has stopped. */
static void *reserve(struct db *db, size_t n)
{
    if (!db->writer_running)
        return NULL;
    return wq_reserve(db->q, n);
}

/* A row could not be queued: the writer stopped on an error (it said which, before
 * aborting the queue, whose lock orders that write before this read), or there was
 * no memory for a queue chunk. */
static int not_queued(struct db *db)
{
    if (!db->failed)
        snprintf(db->err, sizeof db->err, "%s: out of memory queueing rows", db->path);
    return -1;
}

int db_flow(struct db *db, const struct flow_result *fl)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    const struct flow *f = fl->f;
    const struct reasm_counters *rc = fl->rc;
    char cip[64], sip[64];
    int af = f->key.family == 4 ? AF_INET : AF_INET6;
    const char *p[FS_COUNT] = {
        inet_ntop(af, flow_addr(f, DIR_C2S), cip, sizeof cip),
        inet_ntop(af, flow_addr(f, DIR_S2C), sip, sizeof sip),
        fl->l7,
    };
    struct flow_rec r = {
        .type = REC_FLOW,
        .end_reason = f->end_reason,
        .verdict = (uint8_t)fl->v.verdict,
        .id = db->flow_base + (int64_t)f->id,
        .client_port = flow_port(f, DIR_C2S),
        .server_port = flow_port(f, DIR_S2C),
        .vlan = f->key.vlan_inner ? f->key.vlan_inner : f->key.vlan_outer,
        .exchanges = fl->v.exchanges,
        .packets = { (int64_t)f->packets[0], (int64_t)f->packets[1] },
        .bytes = { (int64_t)f->payload_bytes[0], (int64_t)f->payload_bytes[1] },
        .wire = { (int64_t)f->wire_bytes[0], (int64_t)f->wire_bytes[1] },
        .missing = (int64_t)(rc->missing_bytes[0] + rc->missing_bytes[1]),
        .retrans = (int64_t)rc->retransmissions,
        .ooo = (int64_t)rc->out_of_order,
        .gaps = (int64_t)rc->gaps,
        .out_of_window = (int64_t)rc->out_of_window,
        .cap_flushes = (int64_t)rc->cap_flushes,
        .first_seen = ts_or_nan(f->first_seen_us),
        .last_seen = ts_or_nan(f->last_seen_us),
    };
    for (int i = 0; i < FS_COUNT; i++)
        r.len[i] = p[i] ? (uint32_t)strlen(p[i]) : STR_NULL;
    uint8_t *out = reserve(db, sizeof r + strings_size(r.len, FS_COUNT));
    if (out) {
        memcpy(out, &r, sizeof r);
        put_strings(out + sizeof r, r.len, p, FS_COUNT);
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return out ? 0 : not_queued(db);
}

static void slice_sbuf(const struct sbuf *b, const char **p, uint32_t *len)
{
    *p = b->p;
    *len = b->set ? b->len : STR_NULL;
}

int db_exchange(struct db *db, const struct flow *f, const struct exchange *x)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    char version[16], rversion[16], interim[128], interim_ms[160], flags[256];
    const char *p[XR_COUNT];
    struct exchange_rec r = {
        .type = REC_EXCHANGE,
        .verdict = (uint8_t)x->verdict,
        .seq = (int32_t)x->seq,
        .status = x->status,
        .chunked = x->chunked,
        .id = db->exchange_base + (int64_t)x->id,
        .flow_id = db->flow_base + (int64_t)f->id,
        .retry_of = x->retry_of ? db->exchange_base + (int64_t)x->retry_of : 0,
        .content_length = x->has_content_length ? (int64_t)x->content_length : -1,
        .body_bytes = (int64_t)x->body_bytes,
        .body_missing = (int64_t)x->body_missing,
        .interim_count = x->n_interim,
        /* a response whose request was lost starts at its own first byte */
        .ts = ts_or_nan(x->t_start_us ? x->t_start_us : x->t_final_us),
        .t_hdr = ts_or_nan(x->t_hdr_us),
        .wait_ms = ms_or_nan(x->t_body_first_us ? exchange_ms_after_hdr(x, x->t_body_first_us)
                                                : -1),
        .continue_ms = ms_or_nan(exchange_ms_after_hdr(x, x->t_100_us)),
        .final_ms = ms_or_nan(exchange_ms_after_hdr(x, x->t_final_us)),
        .body_end_ms = ms_or_nan(x->t_body_last_us ? exchange_ms_after_hdr(x, x->t_body_last_us)
                                                   : -1),
        .end_ms = ms_or_nan(x->resp_complete ? exchange_ms_after_hdr(x, x->t_end_us) : -1),
    };
    static const int from_sbuf[][2] = {
        { XR_METHOD, XS_METHOD }, { XR_URI, XS_URI }, { XR_HOST, XS_HOST },
        { XR_USER_AGENT, XS_USER_AGENT }, { XR_EXPECT, XS_EXPECT }, { XR_REASON, XS_REASON },
        { XR_SERVER, XS_SERVER }, { XR_VIA, XS_VIA },
    };
    for (size_t i = 0; i < sizeof from_sbuf / sizeof from_sbuf[0]; i++)
        slice_sbuf(&x->s[from_sbuf[i][1]], &p[from_sbuf[i][0]], &r.len[from_sbuf[i][0]]);
    /* header blocks of every exchange that is not plain, to read the exact Expect
     * value and the answer back */
    bool keep = x->verdict != V_PLAIN;
    static const int raw[][2] = { { XR_RAW_REQUEST, XS_RAW_REQUEST },
                                  { XR_RAW_INTERIM, XS_RAW_INTERIM },
                                  { XR_RAW_RESPONSE, XS_RAW_RESPONSE } };
    for (int i = 0; i < 3; i++) {
        const struct sbuf *b = &x->s[raw[i][1]];
        p[raw[i][0]] = b->p;
        r.len[raw[i][0]] = keep && b->len ? b->len : STR_NULL;
    }
    int n = x->has_request && x->t_hdr_us
                ? snprintf(version, sizeof version, "%u.%u", x->http_major, x->http_minor)
                : -1;
    p[XR_HTTP_VERSION] = version;
    r.len[XR_HTTP_VERSION] = n > 0 ? (uint32_t)n : STR_NULL;
    n = x->status ? snprintf(rversion, sizeof rversion, "%u.%u", x->resp_major, x->resp_minor)
                  : -1;
    p[XR_RESPONSE_VERSION] = rversion;
    r.len[XR_RESPONSE_VERSION] = n > 0 ? (uint32_t)n : STR_NULL;
    interim_str(x, interim, sizeof interim);
    p[XR_INTERIM] = interim;
    r.len[XR_INTERIM] = interim[0] ? (uint32_t)strlen(interim) : STR_NULL;
    interim_ms_str(x, interim_ms, sizeof interim_ms);
    p[XR_INTERIM_MS] = interim_ms;
    r.len[XR_INTERIM_MS] = interim_ms[0] ? (uint32_t)strlen(interim_ms) : STR_NULL;
    flags_str(x->flags, flags, sizeof flags);
    p[XR_FLAGS] = flags;
    p[XR_ANSWERED_BY] = answered_by_name((enum answered_by)x->answered_by);
    r.len[XR_ANSWERED_BY] = (uint32_t)strlen(p[XR_ANSWERED_BY]);
    p[XR_INTERMEDIARY] = x->intermediary;
    r.len[XR_INTERMEDIARY] = x->intermediary ? (uint32_t)strlen(x->intermediary) : STR_NULL;
    p[XR_PATH_EVIDENCE] = x->path_evidence;
    r.len[XR_PATH_EVIDENCE] = x->path_evidence[0] ? (uint32_t)strlen(x->path_evidence)
                                                   : STR_NULL;
    r.len[XR_FLAGS] = flags[0] ? (uint32_t)strlen(flags) : STR_NULL;
    uint8_t *out = reserve(db, sizeof r + strings_size(r.len, XR_COUNT));
    if (out) {
        memcpy(out, &r, sizeof r);
        put_strings(out + sizeof r, r.len, p, XR_COUNT);
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return out ? 0 : not_queued(db);
}

int db_hop(struct db *db, const struct hop *h)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    struct hop_rec *r = reserve(db, sizeof *r);
    if (r) {
        *r = (struct hop_rec){
            .type = REC_HOP,
            .findings = h->findings,
            .front_id = db->exchange_base + (int64_t)h->front_id,
            .back_id = h->back_id ? db->exchange_base + (int64_t)h->back_id : 0,
            .client_wait_ms = ms_or_nan(h->client_wait_ms),
            .proxy_ms = ms_or_nan(h->proxy_ms),
            .upstream_ms = ms_or_nan(h->upstream_ms),
        };
        inet_ntop(h->family == 4 ? AF_INET : AF_INET6, h->proxy_ip, r->proxy_ip,
                  sizeof r->proxy_ip);
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return r ? 0 : not_queued(db);
}

int db_exchange_path(struct db *db, const struct hop_update *u)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    struct path_rec *r = reserve(db, sizeof *r);
    if (r) {
        r->type = REC_PATH;
        r->answered_by = u->answered_by;
        r->exchange_id = db->exchange_base + (int64_t)u->exchange_id;
        r->intermediary = u->intermediary;
        snprintf(r->path_evidence, sizeof r->path_evidence, "%s", u->path_evidence);
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return r ? 0 : not_queued(db);
}

int db_violation(struct db *db, const struct violation *v)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    struct violation_rec *r = reserve(db, sizeof *r);
    if (r) {
        r->type = REC_VIOLATION;
        r->rule = (uint8_t)v->rule;
        r->flow_id = v->flow_id ? db->flow_base + (int64_t)v->flow_id : 0;
        r->exchange_id = v->exchange_id ? db->exchange_base + (int64_t)v->exchange_id : 0;
        memcpy(r->detail, v->detail, sizeof r->detail);
        r->detail[sizeof r->detail - 1] = '\0';
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return r ? 0 : not_queued(db);
}

/* ---- the writer thread ----------------------------------------------------------- */

static int commit(struct db *db)
{
    if (exec(db, "COMMIT;") != 0)
        return -1;
    db->in_tx = false;
    return 0;
}

/* A row is about to be written: open a batch when none is open. */
static int batch_open(struct db *db)
{
    if (db->in_tx)
        return 0;
    if (exec(db, "BEGIN IMMEDIATE;") != 0)
        return -1;
    db->in_tx = true;
    db->batch_rows = 0;
    db->batch_start_us = now_us(CLOCK_MONOTONIC);
    return 0;
}

/* A row was written: commit the batch when it is full or old enough. */
static int batch_row(struct db *db)
{
    db->batch_rows++;
    if (db->batch_rows >= DB_BATCH_ROWS ||
        ((db->batch_rows & 63) == 0 &&
         now_us(CLOCK_MONOTONIC) - db->batch_start_us > DB_BATCH_MAX_MS * 1000u))
        return commit(db);
    return 0;
}

static int step_reset(struct db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(db, what);
    return 0;
}

static int write_flow(struct db *db, const struct flow_rec *r)
{
    struct slices s;
    get_strings((const uint8_t *)(r + 1), r->len, FS_COUNT, &s);
    sqlite3_stmt *st = db->st[ST_FLOW];
    int i = 1;
    sqlite3_bind_int64(st, i++, r->id);
    sqlite3_bind_int64(st, i++, db->run_id);
    bind_real(st, i++, r->first_seen);
    bind_real(st, i++, r->last_seen);
    bind_slice(st, i++, &s, FS_CLIENT_IP);
    sqlite3_bind_int64(st, i++, r->client_port);
    bind_slice(st, i++, &s, FS_SERVER_IP);
    sqlite3_bind_int64(st, i++, r->server_port);
    sqlite3_bind_int64(st, i++, r->vlan);
    bind_slice(st, i++, &s, FS_L7);
    sqlite3_bind_int64(st, i++, r->packets[DIR_C2S]);
    sqlite3_bind_int64(st, i++, r->packets[DIR_S2C]);
    sqlite3_bind_int64(st, i++, r->bytes[DIR_C2S]);
    sqlite3_bind_int64(st, i++, r->bytes[DIR_S2C]);
    sqlite3_bind_int64(st, i++, r->missing);
    sqlite3_bind_int64(st, i++, r->retrans);
    sqlite3_bind_int64(st, i++, r->ooo);
    sqlite3_bind_text(st, i++, flow_end_reason_name((enum end_reason)r->end_reason), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, r->exchanges);
    if (r->verdict != V_NONE)
        sqlite3_bind_text(st, i++, verdict_name((enum verdict)r->verdict), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int64(st, i++, r->wire[DIR_C2S]);
    sqlite3_bind_int64(st, i++, r->wire[DIR_S2C]);
    sqlite3_bind_int64(st, i++, r->gaps);
    sqlite3_bind_int64(st, i++, r->out_of_window);
    sqlite3_bind_int64(st, i++, r->cap_flushes);
    return step_reset(db, st, "writing a flow");
}

static int write_hop(struct db *db, const struct hop_rec *r)
{
    sqlite3_stmt *st = db->st[ST_HOP];
    char findings[200];
    hop_findings_str(r->findings, findings, sizeof findings);
    sqlite3_bind_int64(st, 1, r->front_id);
    if (r->back_id)
        sqlite3_bind_int64(st, 2, r->back_id);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, r->proxy_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, findings, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, db->run_id);
    bind_real(st, 6, r->client_wait_ms);
    bind_real(st, 7, r->proxy_ms);
    bind_real(st, 8, r->upstream_ms);
    return step_reset(db, st, "writing a hop");
}

static int write_path(struct db *db, const struct path_rec *r)
{
    sqlite3_stmt *st = db->st[ST_PATH];
    sqlite3_bind_text(st, 1, answered_by_name((enum answered_by)r->answered_by), -1,
                      SQLITE_STATIC);
    if (r->intermediary)
        sqlite3_bind_text(st, 2, r->intermediary, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, r->path_evidence, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->exchange_id);
    return step_reset(db, st, "updating an exchange's path");
}

static int write_violation(struct db *db, const struct violation_rec *r)
{
    sqlite3_stmt *st = db->st[ST_VIOLATION];
    sqlite3_bind_int64(st, 1, db->run_id);
    if (r->flow_id)
        sqlite3_bind_int64(st, 2, r->flow_id);
    else
        sqlite3_bind_null(st, 2);
    if (r->exchange_id)
        sqlite3_bind_int64(st, 3, r->exchange_id);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, rule_name((enum rule_id)r->rule), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->detail, -1, SQLITE_STATIC);
    return step_reset(db, st, "writing a violation");
}

static int write_header(struct db *db, int64_t xid, const char *dir, const struct slices *s,
                        int k)
{
    if (!s->p[k])
        return 0;
    sqlite3_stmt *st = db->st[ST_HEADER];
    sqlite3_bind_int64(st, 1, xid);
    sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
    bind_slice(st, 3, s, k);
    return step_reset(db, st, "writing headers");
}

static int write_exchange(struct db *db, const struct exchange_rec *r)
{
    struct slices s;
    get_strings((const uint8_t *)(r + 1), r->len, XR_COUNT, &s);
    sqlite3_stmt *st = db->st[ST_EXCHANGE];
    int i = 1;
    sqlite3_bind_int64(st, i++, r->id);
    sqlite3_bind_int64(st, i++, r->flow_id);
    sqlite3_bind_int64(st, i++, db->run_id);
    sqlite3_bind_int(st, i++, r->seq);
    bind_real(st, i++, r->ts);
    bind_slice(st, i++, &s, XR_METHOD);
    bind_slice(st, i++, &s, XR_URI);
    bind_slice(st, i++, &s, XR_HOST);
    bind_slice(st, i++, &s, XR_HTTP_VERSION);
    bind_slice(st, i++, &s, XR_USER_AGENT);
    bind_slice(st, i++, &s, XR_EXPECT);
    if (r->content_length >= 0)
        sqlite3_bind_int64(st, i++, r->content_length);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, r->chunked);
    sqlite3_bind_int64(st, i++, r->body_bytes);
    bind_slice(st, i++, &s, XR_INTERIM);
    if (r->status)
        sqlite3_bind_int(st, i++, r->status);
    else
        sqlite3_bind_null(st, i++);
    bind_slice(st, i++, &s, XR_REASON);
    bind_slice(st, i++, &s, XR_SERVER);
    bind_slice(st, i++, &s, XR_VIA);
    bind_real(st, i++, r->wait_ms);
    bind_real(st, i++, r->continue_ms);
    bind_real(st, i++, r->final_ms);
    if (r->verdict != V_NONE)
        sqlite3_bind_text(st, i++, verdict_name((enum verdict)r->verdict), -1, SQLITE_STATIC);
    else /* an orphan response: no request, no verdict */
        sqlite3_bind_null(st, i++);
    bind_slice(st, i++, &s, XR_FLAGS);
    if (r->retry_of)
        sqlite3_bind_int64(st, i++, r->retry_of);
    else
        sqlite3_bind_null(st, i++);
    bind_real(st, i++, r->t_hdr);
    sqlite3_bind_int64(st, i++, r->body_missing);
    bind_slice(st, i++, &s, XR_RESPONSE_VERSION);
    sqlite3_bind_int64(st, i++, r->interim_count);
    bind_slice(st, i++, &s, XR_ANSWERED_BY);
    bind_slice(st, i++, &s, XR_INTERMEDIARY);
    bind_slice(st, i++, &s, XR_PATH_EVIDENCE);
    bind_slice(st, i++, &s, XR_INTERIM_MS);
    bind_real(st, i++, r->body_end_ms);
    bind_real(st, i++, r->end_ms);
    if (step_reset(db, st, "writing an exchange") != 0 ||
        write_header(db, r->id, "request", &s, XR_RAW_REQUEST) != 0 ||
        write_header(db, r->id, "interim", &s, XR_RAW_INTERIM) != 0 ||
        write_header(db, r->id, "response", &s, XR_RAW_RESPONSE) != 0)
        return -1;
    return 0;
}

/* How many records each input gave, once the run is over. s->input_packets belongs
 * to the caller of db_run_end(), which waits for this thread before returning. */
static int write_input_packets(struct db *db, const struct db_run_stats *s)
{
    if (!s->input_packets || !s->n_inputs)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE inputs SET packets = ? WHERE run_id = ? AND seq = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return fail(db, "finishing the inputs");
    int rc = SQLITE_DONE;
    for (int i = 0; i < s->n_inputs && rc == SQLITE_DONE; i++) {
        sqlite3_bind_int64(st, 1, (int64_t)s->input_packets[i]);
        sqlite3_bind_int64(st, 2, db->run_id);
        sqlite3_bind_int(st, 3, i);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(db, "finishing the inputs");
}

/* The capture's shape (schema revision 7): snap length and what it cut, one-sided
 * flows. SQLITE_DONE's 0, or -1. */
static int update_run_shape(struct db *db, const struct db_run_stats *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET snaplen = ?, payload_packets = ?, snap_cut_packets = ?,"
            " one_sided_flows = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (s->snaplen > 0)
        sqlite3_bind_int(st, 1, s->snaplen);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, (int64_t)s->payload_packets);
    sqlite3_bind_int64(st, 3, (int64_t)s->snap_cut_packets);
    sqlite3_bind_int64(st, 4, (int64_t)s->one_sided_flows);
    sqlite3_bind_int64(st, 5, db->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Packets that could have blinded reassembly (schema revision 9). 0, or -1. */
static int update_run_wire(struct db *db, const struct db_run_stats *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET bad_acks = ?, bad_rsts = ?, bad_flags = ? WHERE id = ?", -1,
            &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)s->bad_acks);
    sqlite3_bind_int64(st, 2, (int64_t)s->bad_rsts);
    sqlite3_bind_int64(st, 3, (int64_t)s->bad_flags);
    sqlite3_bind_int64(st, 4, db->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* HTTP framing counters (schema revision 9). SQLITE_DONE's 0, or -1. */
static int update_run_framing(struct db *db, const struct db_run_stats *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET framing_errors = ?, stray_interims = ?, tunnels = ?"
            " WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)s->framing_errors);
    sqlite3_bind_int64(st, 2, (int64_t)s->stray_interims);
    sqlite3_bind_int64(st, 3, (int64_t)s->tunnels);
    sqlite3_bind_int64(st, 4, db->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The memory caps (schema revision 9, REV9_CAPS). SQLITE_DONE's 0, or -1. */
static int update_run_caps(struct db *db, const struct db_run_stats *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET pending_cap_flows = ?, pending_cap_exchanges = ?,"
            " pending_bytes_peak = ?, ooo_bytes_peak = ? WHERE id = ?", -1, &st,
            NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)s->pending_cap_flows);
    sqlite3_bind_int64(st, 2, (int64_t)s->pending_cap_exchanges);
    sqlite3_bind_int64(st, 3, (int64_t)s->pending_bytes_peak);
    sqlite3_bind_int64(st, 4, (int64_t)s->ooo_bytes_peak);
    sqlite3_bind_int64(st, 5, db->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The run's row: its counters while it goes on (final false: finished_at stays NULL),
 * or its end. */
static int update_run(struct db *db, const struct db_run_stats *s, bool final)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->conn,
            "UPDATE runs SET finished_at = ?, packets = ?, bytes = ?, kernel_drops = ?,"
            " if_drops = ?, truncated = ?, interrupted = ?, first_packet = ?,"
            " last_packet = ?, tcp_flows = ?, http_flows = ?, exchange_count = ?,"
            " evicted_flows = ?, fragments_skipped = ?, undecodable = ?,"
            " orphan_responses = ?, parse_errors = ?, pipeline_overflows = ?,"
            " hops_linked = ?, hops_ambiguous = ?, violations = ? WHERE id = ?",
            -1, &st, NULL) !=
        SQLITE_OK)
        return fail(db, NULL);
    int i = 1;
    bind_real(st, i++, ts_or_nan(s->finished_us));
    sqlite3_bind_int64(st, i++, (int64_t)s->packets);
    sqlite3_bind_int64(st, i++, (int64_t)s->bytes);
    sqlite3_bind_int64(st, i++, (int64_t)s->kernel_drops);
    sqlite3_bind_int64(st, i++, (int64_t)s->if_drops);
    sqlite3_bind_int(st, i++, s->truncated);
    sqlite3_bind_int(st, i++, s->interrupted);
    bind_real(st, i++, ts_or_nan(s->first_packet_us));
    bind_real(st, i++, ts_or_nan(s->last_packet_us));
    sqlite3_bind_int64(st, i++, (int64_t)s->tcp_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->http_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->exchanges);
    sqlite3_bind_int64(st, i++, (int64_t)s->evicted_flows);
    sqlite3_bind_int64(st, i++, (int64_t)s->fragments_skipped);
    sqlite3_bind_int64(st, i++, (int64_t)s->undecodable);
    sqlite3_bind_int64(st, i++, (int64_t)s->orphan_responses);
    sqlite3_bind_int64(st, i++, (int64_t)s->parse_errors);
    sqlite3_bind_int64(st, i++, (int64_t)s->pipeline_overflows);
    sqlite3_bind_int64(st, i++, (int64_t)s->hops_linked);
    sqlite3_bind_int64(st, i++, (int64_t)s->hops_ambiguous);
    sqlite3_bind_int64(st, i++, (int64_t)s->violations);
    sqlite3_bind_int64(st, i++, db->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(db, final ? "finishing the run" : "updating the run");
    if (update_run_shape(db, s) != 0 || update_run_caps(db, s) != 0 ||
        update_run_framing(db, s) != 0)
        return fail(db, final ? "finishing the run" : "updating the run");
    if (update_run_wire(db, s) != 0)
        return fail(db, final ? "finishing the run" : "updating the run");
    if (write_input_packets(db, s) != 0)
        return -1;
    return final ? commit(db) : 0;
}

/* Every few seconds of a run with a retention period: delete what has aged out, a
 * batch at a time, in the open transaction (so it costs the capture nothing but this
 * thread's time; the queue absorbs the wait). */
static int maybe_prune(struct db *db)
{
    uint64_t now = now_us(CLOCK_MONOTONIC);
    if (!db->retain_us || now < db->next_prune_us)
        return 0;
    double cutoff = (double)(now_us(CLOCK_REALTIME) - db->retain_us) / 1e6;
    bool more = false;
    for (int i = 0; i < RETAIN_BATCHES; i++) {
        if (batch_open(db) != 0)
            return -1;
        if (retain_prune(db->conn, cutoff, RETAIN_BATCH_ROWS, &db->pruned, &more) != 0)
            return fail(db, "pruning old rows");
        if (commit(db) != 0)
            return -1;
        if (!more)
            break;
    }
    /* soon again while there is a backlog; otherwise a tenth of the period, 1 s to 60 s */
    uint64_t every = db->retain_us / 10;
    every = every < 1000000u ? 1000000u : every > 60000000u ? 60000000u : every;
    db->next_prune_us = now + (more ? 200000u : every);
    return 0;
}

/* The writer: rows in, SQL out, until the run ends or a write fails. An open batch is
 * committed when the queue stays empty for DB_BATCH_MAX_MS, so that a reader sees a
 * live run progress even when traffic is slow. */
static void *writer_main(void *arg)
{
    struct db *db = arg;
    for (;;) {
        size_t n;
        bool timed_out;
        const void *rec = wq_next(db->q, &n, DB_BATCH_MAX_MS, &timed_out);
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        int rc = 0;
        bool end = false;
        if (!rec && timed_out) {
            rc = db->in_tx ? commit(db) : 0;
        } else if (!rec) { /* closed without an end record: keep what came */
            rc = db->in_tx ? commit(db) : 0;
            end = true;
        } else if ((rc = batch_open(db)) == 0) {
            switch (*(const uint32_t *)rec) {
            case REC_FLOW:
                rc = write_flow(db, rec);
                break;
            case REC_EXCHANGE:
                rc = write_exchange(db, rec);
                break;
            case REC_HOP:
                rc = write_hop(db, rec);
                break;
            case REC_PATH:
                rc = write_path(db, rec);
                break;
            case REC_VIOLATION:
                rc = write_violation(db, rec);
                break;
            case REC_PROGRESS:
                rc = update_run(db, &((const struct end_rec *)rec)->st, false);
                break;
            case REC_END:
                rc = update_run(db, &((const struct end_rec *)rec)->st, true);
                end = true;
                break;
            }
            if (rc == 0 && !end)
                rc = batch_row(db);
        }
        if (rc == 0 && !end)
            rc = maybe_prune(db);
        db->busy_us += now_us(CLOCK_MONOTONIC) - t0;
        if (rc != 0) {
            db->failed = true;
            wq_abort(db->q);
            return NULL;
        }
        if (end)
            return NULL;
    }
}

static void stop_writer(struct db *db)
{
    if (!db->writer_running)
        return;
    wq_close(db->q);
    wq_abort(db->q); /* wake a producer stuck waiting for a chunk: there is none now */
    pthread_join(db->writer, NULL);
    db->writer_running = false;
}

void db_set_retention(struct db *db, uint64_t retain_us)
{
    db->retain_us = retain_us;
}

void db_flush(struct db *db)
{
    if (db->writer_running)
        wq_flush(db->q);
}

int db_run_progress(struct db *db, const struct db_run_stats *s)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    struct end_rec *e = reserve(db, sizeof *e);
    if (e) {
        e->type = REC_PROGRESS;
        e->st = *s;
        e->st.finished_us = 0;
        e->st.interrupted = false;
    }
    if (db->writer_running)
        wq_flush(db->q);
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    return e ? 0 : not_queued(db);
}

void db_pruned(const struct db *db, uint64_t *exchanges, uint64_t *flows)
{
    *exchanges = db->pruned.exchanges;
    *flows = db->pruned.flows;
}

int db_run_end(struct db *db, const struct db_run_stats *s)
{
    uint64_t t0 = now_us(CLOCK_MONOTONIC);
    struct end_rec *e = reserve(db, sizeof *e);
    if (e) {
        e->type = REC_END;
        e->st = *s;
    }
    if (db->writer_running) {
        wq_close(db->q);
        pthread_join(db->writer, NULL);
        db->writer_running = false;
    }
    db->wait_us += now_us(CLOCK_MONOTONIC) - t0;
    if (db->failed || !e)
        return db->err[0] ? -1 : not_queued(db);
    return 0;
}
