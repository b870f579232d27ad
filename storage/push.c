/* push.c: see push.h. */
#include "push.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "schema.h"

/* Every query takes ?1 the cursor (rows after it), ?2 and ?3 the runs it may return
 * (run_id > ?2 AND run_id <= ?3), ?4 the sensor of a run without one, ?5 the batch
 * size. Column 0 is the cursor value (not shipped), column 1 the sensor; the others go
 * out by their names. `grouped`: the cursor is not unique (the header blocks of one
 * exchange, the hops of one front exchange), so a batch ends at a whole group. */
struct table_spec {
    const char *name;
    const char *sql;
    bool grouped;
};

#define SENSOR "COALESCE(r.sensor, ?4) AS sensor"
#define RUNS_OF(COL) " AND " COL " > ?2 AND " COL " <= ?3"

static const struct table_spec specs[PT_COUNT] = {
    [PT_FLOWS] = { "flows",
        "SELECT f.id, " SENSOR ", f.* FROM flows f JOIN runs r ON r.id = f.run_id"
        " WHERE f.id > ?1" RUNS_OF("f.run_id") " ORDER BY f.id LIMIT ?5", false },
    /* with the columns v_exchanges and v_paths add, computed here as they do */
    [PT_EXCHANGES] = { "exchanges",
        "SELECT e.id, " SENSOR ", e.*, f.client_ip, f.client_port, f.server_ip,"
        " f.server_port, f.vlan, (f.id IS NOT NULL) AS flow_seen,"
        " CASE WHEN e.intermediary IS NULL AND NOT EXISTS"
        "   (SELECT 1 FROM hops h WHERE h.front_exchange_id = e.id) THEN 'direct'"
        "  ELSE 'via ' || COALESCE(e.intermediary, 'proxy') END AS path,"
        " EXISTS (SELECT 1 FROM hops b WHERE b.back_exchange_id = e.id) AS upstream_leg"
        " FROM exchanges e JOIN runs r ON r.id = e.run_id LEFT JOIN flows f ON f.id = e.flow_id"
        " WHERE e.id > ?1" RUNS_OF("e.run_id") " ORDER BY e.id LIMIT ?5", false },
    [PT_HEADERS] = { "headers",
        "SELECT h.exchange_id, " SENSOR ", e.run_id, h.*"
        " FROM headers h JOIN exchanges e ON e.id = h.exchange_id JOIN runs r ON r.id = e.run_id"
        " WHERE h.exchange_id > ?1" RUNS_OF("e.run_id")
        " ORDER BY h.exchange_id LIMIT ?5", true },
    [PT_HOPS] = { "hops",
        "SELECT h.front_exchange_id, " SENSOR ", h.*,"
        " COALESCE(h.back_exchange_id, 0) AS back_id"
        " FROM hops h JOIN runs r ON r.id = h.run_id"
        " WHERE h.front_exchange_id > ?1" RUNS_OF("h.run_id")
        " ORDER BY h.front_exchange_id LIMIT ?5", true },
    [PT_VIOLATIONS] = { "violations",
        "SELECT v.id, " SENSOR ", v.* FROM violations v JOIN runs r ON r.id = v.run_id"
        " WHERE v.id > ?1" RUNS_OF("v.run_id") " ORDER BY v.id LIMIT ?5", false },
    [PT_RUNS] = { "runs",
        "SELECT r.id, " SENSOR ", r.* FROM runs r"
        " WHERE r.id > ?1" RUNS_OF("r.id") " ORDER BY r.id LIMIT ?5", false },
};

struct push {
    const struct push_config *cfg;
    struct push_stats *st;
    sqlite3 *ro, *rw;
    sqlite3_stmt *q[PT_COUNT];
    int64_t done[PT_COUNT];    /* final cursor, as in meta */
    int64_t sent[PT_COUNT];    /* rows of unsettled runs sent up to here */
    int64_t live_settled[PT_COUNT]; /* ... while the settled runs were those up to this */
    uint64_t last_version;     /* _version of the last batch: never twice the same */
    uint64_t live_runs_hash;   /* the unsettled runs rows last sent */
    char host[256];
    char dest[1024];
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    char answer[512];          /* the start of ClickHouse's answer, for messages */
    size_t answer_len;
    char *err;
    size_t err_len;
};

const char *push_table_name(enum push_table_id t)
{
    return specs[t].name;
}

char *push_destination(const char *url, char *buf, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : url;
    size_t host_at = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', host_at);
    if (at)
        snprintf(buf, len, "%.*s%s", (int)(auth - url), url, at + 1);
    else
        snprintf(buf, len, "%s", url);
    return buf;
}

static bool stopping(const struct push *p)
{
    return p->cfg->stop && *p->cfg->stop;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Sleep ms, waking early when asked to stop. */
static void nap(const struct push *p, uint32_t ms)
{
    while (ms && !stopping(p)) {
        uint32_t step = ms < 100 ? ms : 100;
        struct timespec ts = { 0, (long)step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static int sql_fail(struct push *p, sqlite3 *db, const char *what)
{
    snprintf(p->err, p->err_len, "%s: %s: %s", p->cfg->db_path, what, sqlite3_errmsg(db));
    return -1;
}

/* ---- progress in meta --------------------------------------------------------- */

static void meta_key(const struct push *p, enum push_table_id t, char *buf, size_t len)
{
    snprintf(buf, len, "push:%s:%s", p->dest, specs[t].name);
}

/* 'push:DEST:TABLE' holds the final cursor; 'push:DEST:TABLE:live' holds
 * "SETTLED:CURSOR": rows of the runs after SETTLED were sent up to CURSOR, so that a
 * restarted push does not send a long live run's rows again (they go once more, in
 * full, when the run settles). */
static int load_progress(struct push *p)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->ro, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(p, p->ro, "reading push progress");
    for (int t = 0; t < PT_COUNT; t++) {
        for (int live = 0; live < 2; live++) {
            char key[1200];
            meta_key(p, (enum push_table_id)t, key, sizeof key);
            if (live)
                strncat(key, ":live", sizeof key - strlen(key) - 1);
            sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW && !live) {
                p->done[t] = sqlite3_column_int64(st, 0);
            } else if (rc == SQLITE_ROW) {
                const char *v = (const char *)sqlite3_column_text(st, 0);
                long long settled, cursor;
                if (v && sscanf(v, "%lld:%lld", &settled, &cursor) == 2) {
                    p->live_settled[t] = settled;
                    p->sent[t] = cursor;
                }
            }
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                sqlite3_finalize(st);
                return sql_fail(p, p->ro, "reading push progress");
            }
        }
        if (p->sent[t] < p->done[t])
            p->sent[t] = p->done[t];
    }
    sqlite3_finalize(st);
    return 0;
}

/* Record that every settled row of t up to cursor is acknowledged: after the 200, never
 * before, so that a crash in between re-sends (and ClickHouse deduplicates) instead of
 * losing. */
static int save_meta(struct push *p, const char *key, const char *value)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->rw,
                           "INSERT INTO meta(key, value) VALUES (?, ?)"
                           " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(p, p->rw, "recording push progress");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sql_fail(p, p->rw, "recording push progress");
}

static int save_progress(struct push *p, enum push_table_id t, int64_t cursor)
{
    char key[1200], value[32];
    meta_key(p, t, key, sizeof key);
    snprintf(value, sizeof value, "%lld", (long long)cursor);
    if (save_meta(p, key, value) != 0)
        return -1;
    p->done[t] = cursor;
    if (p->sent[t] < cursor)
        p->sent[t] = cursor;
    return 0;
}

/* Rows of the runs after `settled` sent up to cursor (acknowledged, not final). */
static int save_live_progress(struct push *p, enum push_table_id t, int64_t settled,
                              int64_t cursor)
{
    char key[1200], value[48];
    meta_key(p, t, key, sizeof key);
    strncat(key, ":live", sizeof key - strlen(key) - 1);
    snprintf(value, sizeof value, "%lld:%lld", (long long)settled, (long long)cursor);
    if (save_meta(p, key, value) != 0)
        return -1;
    p->sent[t] = cursor;
    p->live_settled[t] = settled;
    return 0;
}

/* ---- which runs are settled ---------------------------------------------------- */

/* Does a process hold the writer's flock() on the database (db.c)? Read from
 * /proc/locks rather than by taking a lock ourselves: a test lock, however short, could
 * make a starting `live` fail. When the answer cannot be read, say yes: the unfinished
 * runs are then treated as live (sent again later), never as final too early. */
static bool writer_active(const char *path)
{
    struct stat sb;
    FILE *f = fopen("/proc/locks", "r");
    if (!f || stat(path, &sb) != 0) {
        if (f)
            fclose(f);
        return true;
    }
    char line[256];
    bool held = false;
    while (!held && fgets(line, sizeof line, f)) {
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
        char kind[16], mode[16], rw[16];
        unsigned long long pid, inode;
        unsigned maj, min;
        if (sscanf(line, "%*s %15s %15s %15s %llu %x:%x:%llu", kind, mode, rw, &pid, &maj,
                   &min, &inode) == 7 &&
            strcmp(kind, "FLOCK") == 0 && inode == (unsigned long long)sb.st_ino)
            held = true;
    }
    fclose(f);
    return held;
}

/* The highest run id up to which every run is settled: finished, unfinished but older
 * than the newest run, or unfinished while no writer holds the database. The newest run
 * id is read before the lock is looked at: a run that starts after that look is newer,
 * so it is never taken for a dead one. */
static int settled_runs(struct push *p, int64_t *settled)
{
    sqlite3_stmt *st;
    int64_t newest = 0;
    if (sqlite3_prepare_v2(p->ro, "SELECT COALESCE(MAX(id), 0) FROM runs", -1, &st, NULL) !=
        SQLITE_OK)
        return sql_fail(p, p->ro, "reading runs");
    if (sqlite3_step(st) == SQLITE_ROW)
        newest = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    bool writer = writer_active(p->cfg->db_path);
    if (sqlite3_prepare_v2(p->ro, "SELECT id, finished_at IS NOT NULL FROM runs ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(p, p->ro, "reading runs");
    *settled = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        bool finished = sqlite3_column_int(st, 1) != 0;
        /* one writer at a time, and it writes only its own, newest run: an unfinished
         * run before the newest one was left by a writer that is gone */
        if (!finished && id >= newest && (writer || id > newest))
            break;
        *settled = id;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_fail(p, p->ro, "reading runs");
    return 0;
}

/* ---- one batch as JSONEachRow ------------------------------------------------- */

static void json_row(FILE *out, sqlite3_stmt *st, uint64_t version)
{
    int n = sqlite3_column_count(st);
    fputc('{', out);
    for (int i = 1; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        if (i > 1 && strcmp(name, "sensor") == 0) /* runs.sensor: column 1 says it */
            continue;
        if (i > 1)
            fputc(',', out);
        esc_json(out, name, strlen(name));
        fputc(':', out);
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT: {
            double v = sqlite3_column_double(st, i);
            if (isfinite(v))
                fprintf(out, "%.17g", v);
            else
                fputs("null", out);
            break;
        }
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
            const void *b = sqlite3_column_blob(st, i);
            esc_json(out, b, (size_t)sqlite3_column_bytes(st, i));
            break;
        }
        default:
            fputs("null", out);
        }
    }
    fprintf(out, ",\"_version\":%" PRIu64 "}\n", version);
}

struct batch {
    char *buf;
    size_t len;
    uint32_t rows;
    int64_t last;        /* the cursor of the last row kept */
    bool more;           /* a full batch: there may be more after it */
};

/* Read up to `limit` rows of t after cursor, of runs (lo, hi], into b. For a grouped
 * table a full batch is cut before its last group (which may go on past the limit);
 * when that group is the whole batch, the limit doubles until it fits. 0, or -1. */
static int read_batch(struct push *p, enum push_table_id t, int64_t cursor, int64_t lo,
                      int64_t hi, uint32_t limit, struct batch *b)
{
    memset(b, 0, sizeof *b);
    sqlite3_stmt *st = p->q[t];
    for (;;) {
        FILE *out = open_memstream(&b->buf, &b->len);
        if (!out) {
            snprintf(p->err, p->err_len, "out of memory");
            return -1;
        }
        sqlite3_bind_int64(st, 1, cursor);
        sqlite3_bind_int64(st, 2, lo);
        sqlite3_bind_int64(st, 3, hi);
        sqlite3_bind_text(st, 4, p->host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, limit);
        /* later than any batch before, even when the clock steps back */
        uint64_t version = wall_us();
        if (version <= p->last_version)
            version = p->last_version + 1;
        p->last_version = version;
        uint32_t rows = 0, group_rows = 0;
        int64_t last = cursor, prev = cursor;
        long group_at = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t c = sqlite3_column_int64(st, 0);
            if (c != last || rows == 0) { /* a new group starts here */
                prev = last;
                group_at = ftell(out);
                group_rows = rows;
            }
            last = c;
            json_row(out, st, version);
            rows++;
        }
        sqlite3_reset(st);
        bool bad = ferror(out) != 0;
        fclose(out);
        if (rc != SQLITE_DONE || bad) {
            free(b->buf);
            b->buf = NULL;
            if (bad) {
                snprintf(p->err, p->err_len, "out of memory");
                return -1;
            }
            return sql_fail(p, p->ro, "reading rows to push");
        }
        b->rows = rows;
        b->last = last;
        b->more = rows == limit;
        if (!specs[t].grouped || rows < limit)
            return 0;
        if (group_rows > 0) { /* drop the last group: the next batch starts with it */
            b->len = (size_t)group_at;
            b->rows = group_rows;
            b->last = prev;
            return 0;
        }
        free(b->buf);
        b->buf = NULL;
        if (limit > UINT32_MAX / 2) {
            snprintf(p->err, p->err_len, "%s: a group of rows too large to push",
                     specs[t].name);
            return -1;
        }
        limit *= 2;
    }
}

/* ---- HTTP ----------------------------------------------------------------------- */

static size_t keep_answer(char *data, size_t size, size_t n, void *arg)
{
    struct push *p = arg;
    size_t len = size * n, room = sizeof p->answer - 1 - p->answer_len;
    size_t k = len < room ? len : room;
    memcpy(p->answer + p->answer_len, data, k);
    p->answer_len += k;
    p->answer[p->answer_len] = '\0';
    return len;
}

static int abort_on_stop(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return stopping(arg) ? 1 : 0;
}

/* POST one batch. 0 acknowledged (HTTP 200); 1 stopped; -1 failed, why in msg. */
static int post(struct push *p, enum push_table_id t, const struct batch *b, char *msg,
                size_t msg_len)
{
    char query[128];
    snprintf(query, sizeof query, "INSERT INTO %s FORMAT JSONEachRow", specs[t].name);
    char *q = curl_easy_escape(p->curl, query, 0);
    size_t url_len = strlen(p->cfg->url) + strlen(q ? q : "") + 128;
    char *url = malloc(url_len);
    if (!q || !url) {
        curl_free(q);
        free(url);
        snprintf(msg, msg_len, "out of memory");
        return -1;
    }
    /* synchronous inserts through a Distributed table: the 200 means the shards have
     * the rows; newer columns than the destination's tables are skipped, not refused */
    snprintf(url, url_len, "%s%squery=%s&insert_distributed_sync=1"
             "&input_format_skip_unknown_fields=1", p->cfg->url,
             strchr(p->cfg->url, '?') ? "&" : "?", q);
    curl_free(q);
    p->answer_len = 0;
    p->answer[0] = '\0';
    p->curl_err[0] = '\0';
    curl_easy_setopt(p->curl, CURLOPT_URL, url);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, b->buf);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    CURLcode rc = curl_easy_perform(p->curl);
    free(url);
    if (stopping(p))
        return 1;
    if (rc != CURLE_OK) {
        snprintf(msg, msg_len, "%s", p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
        return -1;
    }
    long code = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200)
        return 0;
    /* ClickHouse says why in the body: "Code: 60, e.displayText() = ..." */
    p->answer[strcspn(p->answer, "\r\n")] = '\0';
    snprintf(msg, msg_len, "HTTP %ld: %s", code, p->answer[0] ? p->answer : "(no message)");
    return -1;
}

/* POST with retries: backoff doubling from PUSH_BACKOFF_FIRST_MS to PUSH_BACKOFF_MAX_MS;
 * without follow, give up after PUSH_MAX_ATTEMPTS. 0, 1 stopped, -1 gave up (err). */
static int send_batch(struct push *p, enum push_table_id t, const struct batch *b)
{
    uint32_t delay_ms = PUSH_BACKOFF_FIRST_MS;
    for (int attempt = 1;; attempt++) {
        char msg[600];
        int rc = post(p, t, b, msg, sizeof msg);
        if (rc >= 0) {
            if (rc == 0) {
                p->st->rows[t] += b->rows;
                p->st->batches++;
            }
            return rc;
        }
        p->st->failures++;
        if (!p->cfg->follow && attempt >= PUSH_MAX_ATTEMPTS) {
            snprintf(p->err, p->err_len, "push to %s: %s (gave up after %d attempts)",
                     p->dest, msg, attempt);
            return -1;
        }
        if (p->cfg->log)
            fprintf(p->cfg->log, "expectscope: push to %s: %s; retrying in %.1f s\n",
                    p->dest, msg, delay_ms / 1000.0);
        nap(p, delay_ms);
        if (stopping(p))
            return 1;
        delay_ms = delay_ms * 2 > PUSH_BACKOFF_MAX_MS ? PUSH_BACKOFF_MAX_MS : delay_ms * 2;
    }
}

/* ---- the cycle ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* The rows of unsettled runs, when they changed since last sent. Their _version
 * differs every time, so it is left out of the comparison. */
static int ship_live_runs(struct push *p, int64_t settled, uint64_t *shipped)
{
    struct batch b;
    if (read_batch(p, PT_RUNS, settled, settled, INT64_MAX, p->cfg->batch_rows, &b) != 0)
        return -1;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < b.len;) { /* each line up to ,"_version" */
        const char *line = b.buf + i, *nl = memchr(line, '\n', b.len - i);
        size_t n = nl ? (size_t)(nl - line) : b.len - i;
        const char *v = strstr(line, ",\"_version\":");
        h = fnv1a(line, v && v < line + n ? (size_t)(v - line) : n, h);
        i += n + 1;
    }
    int rc = 0;
    if (b.rows && h != p->live_runs_hash) {
        rc = send_batch(p, PT_RUNS, &b);
        if (rc == 0) {
            p->live_runs_hash = h;
            *shipped += b.rows;
        }
    }
    free(b.buf);
    return rc;
}

/* One table: first the rows of settled runs (recorded as they are acknowledged), then
 * those of live runs (sent, not recorded). 0, 1 stopped, -1. */
static int ship_table(struct push *p, enum push_table_id t, int64_t settled,
                      uint64_t *shipped)
{
    for (int phase = 0; phase < 2; phase++) {
        bool final = phase == 0;
        if (!final && t == PT_RUNS)
            return ship_live_runs(p, settled, shipped);
        int64_t lo = final ? INT64_MIN : settled, hi = final ? settled : INT64_MAX;
        for (;;) {
            if (stopping(p))
                return 1;
            /* a live cursor of other unsettled runs than these starts over */
            if (!final && p->live_settled[t] != settled && p->sent[t] > p->done[t])
                p->sent[t] = p->done[t];
            int64_t cursor = final ? p->done[t] : p->sent[t];
            struct batch b;
            if (read_batch(p, t, cursor, lo, hi, p->cfg->batch_rows, &b) != 0)
                return -1;
            if (b.rows == 0) {
                free(b.buf);
                break;
            }
            int rc = send_batch(p, t, &b);
            free(b.buf);
            if (rc != 0)
                return rc;
            *shipped += b.rows;
            if (final) {
                if (save_progress(p, t, b.last) != 0)
                    return -1;
            } else if (save_live_progress(p, t, settled, b.last) != 0) {
                return -1;
            }
            if (!b.more)
                break;
        }
    }
    return 0;
}

static int cycle(struct push *p, uint64_t *shipped)
{
    int64_t settled;
    if (settled_runs(p, &settled) != 0)
        return -1;
    /* the runs row last: a finished run in the destination has all its rows there */
    for (int t = 0; t < PT_COUNT; t++) {
        int rc = ship_table(p, (enum push_table_id)t, settled, shipped);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int open_db(struct push *p)
{
    const char *path = p->cfg->db_path;
    if (access(path, F_OK) != 0) {
        snprintf(p->err, p->err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(path, &p->ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return sql_fail(p, p->ro, "cannot open");
    sqlite3_busy_timeout(p->ro, 5000);
    char why[256];
    if (schema_check_readable(p->ro, why, sizeof why) != 0) {
        snprintf(p->err, p->err_len, "%s: %s", path, why);
        return -1;
    }
    if (sqlite3_open_v2(path, &p->rw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return sql_fail(p, p->rw, "cannot open for writing push progress");
    sqlite3_busy_timeout(p->rw, 5000);
    for (int t = 0; t < PT_COUNT; t++)
        if (sqlite3_prepare_v2(p->ro, specs[t].sql, -1, &p->q[t], NULL) != SQLITE_OK)
            return sql_fail(p, p->ro, "preparing the push queries");
    return load_progress(p);
}

int push_run(const struct push_config *cfg, struct push_stats *st, char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    struct push *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p->cfg = cfg;
    p->st = st;
    p->err = err;
    p->err_len = err_len;
    push_destination(cfg->url, p->dest, sizeof p->dest);
    if (gethostname(p->host, sizeof p->host) != 0 || !p->host[0])
        snprintf(p->host, sizeof p->host, "localhost");
    p->host[sizeof p->host - 1] = '\0';
    int rc = -1;
    if (open_db(p) != 0)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(p->curl = curl_easy_init())) {
        snprintf(err, err_len, "cannot start libcurl");
        goto out;
    }
    curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, p->curl_err);
    curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(p->curl, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    curl_easy_setopt(p->curl, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(p->curl, CURLOPT_TIMEOUT, PUSH_TIMEOUT_S);
    curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hdr);
    for (;;) {
        uint64_t shipped = 0;
        rc = cycle(p, &shipped);
        if (rc != 0 || !cfg->follow)
            break;
        if (!shipped)
            nap(p, PUSH_POLL_MS);
        if (stopping(p))
            break;
    }
    if (rc == 1 && cfg->follow)
        rc = 0; /* --follow ends at a signal, as live does */
    curl_slist_free_all(hdr);
out:
    if (p->curl)
        curl_easy_cleanup(p->curl);
    curl_global_cleanup();
    for (int t = 0; t < PT_COUNT; t++)
        sqlite3_finalize(p->q[t]);
    sqlite3_close(p->ro);
    sqlite3_close(p->rw);
    free(p);
    return rc;
}
