/* test_read.c: storage's read API against rows written by storage's own writer: a
 * run of hand-made flows and exchanges goes in through db.h, and read.h must give back
 * the same values, typed, filtered the way export asks, in time order; the summaries
 * `report` prints must run; databases it must not read are refused with one line. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db.h"
#include "read.h"

static char dir[] = "/tmp/es-test-read-XXXXXX";
static char path[600];

static struct flow make_flow(uint64_t id, uint8_t server_last_octet, uint16_t port)
{
    struct flow f;
    memset(&f, 0, sizeof f);
    f.key.family = 4;
    f.key.addr[0][0] = 10, f.key.addr[0][3] = 1;
    f.key.addr[1][0] = 10, f.key.addr[1][3] = server_last_octet;
    f.key.port[0] = 40000, f.key.port[1] = port;
    f.client_ep = 0;
    f.id = id;
    f.first_seen_us = 1700000000000000ull + id;
    f.last_seen_us = f.first_seen_us + 1000;
    f.end_reason = END_FIN;
    return f;
}

static void text(struct exchange *x, enum xfield k, const char *s)
{
    sbuf_add(&x->s[k], s, strlen(s));
}

/* One exchange: request at t_s seconds after the base, with a verdict. */
static void put_exchange(struct db *db, const struct flow *f, uint64_t id, uint32_t seq,
                         double t_s, const char *host, enum verdict v, uint16_t status)
{
    struct exchange x;
    exchange_init(&x);
    x.id = id;
    x.seq = seq;
    x.has_request = true;
    x.http_major = 1, x.http_minor = 1;
    x.t_start_us = 1700000000000000ull + (uint64_t)(t_s * 1e6);
    x.t_hdr_us = x.t_start_us + 100;
    x.t_final_us = x.t_hdr_us + 2000;
    x.status = status;
    x.resp_major = 1, x.resp_minor = 1;
    x.verdict = v;
    text(&x, XS_METHOD, "PUT");
    text(&x, XS_URI, "/up\x01load"); /* a control byte comes back as it went in */
    text(&x, XS_HOST, host);
    text(&x, XS_RAW_RESPONSE, "HTTP/1.1 417 Expectation Failed\r\n\r\n");
    text(&x, XS_RAW_REQUEST, "PUT /upload HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    CHECK_EQ(db_exchange(db, f, &x), 0);
    exchange_fini(&x);
}

static void write_run(void)
{
    char err[600];
    struct db *db = db_open(path, 0, err, sizeof err);
    CHECK(db != NULL);
    if (!db) {
        fprintf(stderr, "    %s\n", err);
        exit(1);
    }
    /* two inputs: the second a pipe (no size) */
    const struct db_input inputs[2] = {
        { "a.pcap", "none", 1, 5000, 1700000000000000ull, 0x0123456789abcdefull, 4000 },
        { "-", "gzip", 1, 0, 1700000000500000ull, 0xfedcba9876543210ull, 1u << 20 },
    };
    struct db_seen seen;
    CHECK_EQ(db_find_input(db, &inputs[0], &seen), 0); /* a new database holds nothing */
    struct db_run_info info = { .mode = "file", .source = "a.pcap -", .options = "{}",
                                .started_us = 1700000000000000ull, .inputs = inputs,
                                .n_inputs = 2 };
    CHECK_EQ(db_run_begin(db, &info, err, sizeof err), 0);
    struct flow f1 = make_flow(1, 2, 80), f2 = make_flow(2, 3, 8080);
    /* written out of time order: the reader sorts by request time */
    put_exchange(db, &f1, 1, 0, 5.0, "a.example", V_EXPECTATION_FAILED, 417);
    put_exchange(db, &f1, 2, 1, 1.0, "a.example", V_PLAIN, 200);
    put_exchange(db, &f2, 3, 0, 3.0, "b.example", V_CONTINUE_OK, 200);
    put_exchange(db, &f2, 4, 1, 7.0, "b.example", V_TIMEOUT_FALLBACK, 200);
    struct reasm_counters rc;
    memset(&rc, 0, sizeof rc);
    struct flow_result r1 = { &f1, &rc, "HTTP", { 2, V_EXPECTATION_FAILED } };
    struct flow_result r2 = { &f2, &rc, "HTTP", { 2, V_TIMEOUT_FALLBACK } };
    CHECK_EQ(db_flow(db, &r1), 0);
    CHECK_EQ(db_flow(db, &r2), 0);
    const uint64_t input_packets[2] = { 7, 3 };
    struct db_run_stats st = { .finished_us = 1700000001000000ull, .packets = 10,
                               .input_packets = input_packets, .n_inputs = 2 };
    CHECK_EQ(db_run_end(db, &st), 0);
    db_close(db);

    check_case("a capture the database holds is found again");
    db = db_open(path, 0, err, sizeof err);
    CHECK(db != NULL);
    if (!db)
        return;
    memset(&seen, 0, sizeof seen);
    CHECK_EQ(db_find_input(db, &inputs[0], &seen), 1);
    CHECK_EQ(seen.run_id, 1);
    CHECK_EQ(seen.started_us, 1700000000000000ull);
    CHECK_STR(seen.state, "complete");
    CHECK_EQ(db_find_input(db, &inputs[1], &seen), 1);    /* a pipe: no size to compare */
    struct db_input other = inputs[0];
    other.size = 0;                                        /* now read from a pipe */
    CHECK_EQ(db_find_input(db, &other, &seen), 1);
    other = inputs[0];
    other.compression = "gzip", other.size = 1234;         /* the same capture, gzipped */
    CHECK_EQ(db_find_input(db, &other, &seen), 1);
    other = inputs[0];
    other.size = 5001;                                     /* stored alike, other size */
    CHECK_EQ(db_find_input(db, &other, &seen), 0);
    other = inputs[0];
    other.head_hash ^= 1;
    CHECK_EQ(db_find_input(db, &other, &seen), 0);
    other = inputs[0];
    other.head_bytes = 4001;
    CHECK_EQ(db_find_input(db, &other, &seen), 0);
    other = inputs[0];
    other.first_packet_us += 1;                            /* one microsecond later */
    CHECK_EQ(db_find_input(db, &other, &seen), 0);
    db_close(db);

    check_case("the inputs table");
    sqlite3 *s;
    CHECK_EQ(sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    CHECK_EQ(sqlite3_prepare_v2(s, "SELECT path, compression, size, head_hash, head_bytes,"
                                   " packets FROM inputs ORDER BY seq", -1, &q, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(q, 0), "a.pcap");
    CHECK_EQ(sqlite3_column_int64(q, 2), 5000);
    CHECK_STR((const char *)sqlite3_column_text(q, 3), "0123456789abcdef");
    CHECK_EQ(sqlite3_column_int64(q, 4), 4000);
    CHECK_EQ(sqlite3_column_int64(q, 5), 7);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(q, 1), "gzip");
    CHECK_EQ(sqlite3_column_type(q, 2), SQLITE_NULL);  /* a pipe has no size */
    CHECK_EQ(sqlite3_column_int64(q, 5), 3);
    CHECK_EQ(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(s);
}

/* The ids of the exchanges a filter selects, as "id,id,...". */
static void ids(struct dbr *r, const struct dbr_filter *f, char *out, size_t len)
{
    out[0] = '\0';
    struct dbr_rows *rows = dbr_exchanges(r, f);
    CHECK(rows != NULL);
    if (!rows) {
        fprintf(stderr, "    %s\n", dbr_error(r));
        return;
    }
    int id = dbr_col_index(rows, "id");
    CHECK(id >= 0);
    int rc;
    while ((rc = dbr_next(rows)) == 1) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%lld", n ? "," : "", (long long)dbr_int(rows, id));
    }
    CHECK_EQ(rc, 0);
    dbr_rows_free(rows);
}

static void test_exchanges(struct dbr *r)
{
    char got[256];
    struct dbr_filter all = { 0 };
    check_case("every exchange, in time order");
    ids(r, &all, got, sizeof got);
    CHECK_STR(got, "2,3,1,4");

    check_case("verdicts");
    const char *const vs[] = { "timeout_fallback", "expectation_failed" };
    struct dbr_filter f = { .verdicts = vs, .n_verdicts = 2 };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "1,4");

    check_case("problems");
    f = (struct dbr_filter){ .problems = true };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "1,4");

    check_case("server address and port");
    f = (struct dbr_filter){ .server_ip = "10.0.0.3" };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "3,4");
    f.server_port = 80;
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "");
    f = (struct dbr_filter){ .server_ip = "10.0.0.2", .server_port = 80 };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "2,1");

    check_case("host, time range, run");
    f = (struct dbr_filter){ .host = "b.example" };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "3,4");
    f = (struct dbr_filter){ .since = 1700000003.0, .until = 1700000007.0 };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "3,1");
    f = (struct dbr_filter){ .run_id = 1 };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "2,3,1,4");
    f = (struct dbr_filter){ .run_id = 2 };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "");

    check_case("a filter value is bound, not pasted into SQL");
    f = (struct dbr_filter){ .host = "x' OR '1'='1" };
    ids(r, &f, got, sizeof got);
    CHECK_STR(got, "");

    check_case("typed values and the flow's endpoints");
    f = (struct dbr_filter){ .host = "a.example", .problems = true };
    struct dbr_rows *rows = dbr_exchanges(r, &f);
    CHECK(rows && dbr_next(rows) == 1);
    if (rows) {
        int c = dbr_col_index(rows, "status");
        CHECK_EQ(dbr_type(rows, c), DBR_INT);
        CHECK_EQ(dbr_int(rows, c), 417);
        c = dbr_col_index(rows, "final_ms");
        CHECK_EQ(dbr_type(rows, c), DBR_REAL);
        CHECK(dbr_real(rows, c) > 1.999 && dbr_real(rows, c) < 2.001);
        c = dbr_col_index(rows, "retry_of");
        CHECK_EQ(dbr_type(rows, c), DBR_NULL);
        size_t len;
        const char *s = dbr_text(rows, dbr_col_index(rows, "uri"), &len);
        CHECK_MEM(s, len, "/up\x01load", 8);
        s = dbr_text(rows, dbr_col_index(rows, "server_ip"), &len);
        CHECK_MEM(s, len, "10.0.0.2", 8);
        CHECK_EQ(dbr_int(rows, dbr_col_index(rows, "server_port")), 80);
        s = dbr_text(rows, dbr_col_index(rows, "l7_protocol"), &len);
        CHECK_MEM(s, len, "HTTP", 4);
        CHECK_EQ(dbr_col_index(rows, "no_such_column"), -1);
        CHECK_EQ(dbr_next(rows), 0);
    }
    dbr_rows_free(rows);

    check_case("too many verdicts");
    const char *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = "plain";
    f = (struct dbr_filter){ .verdicts = many, .n_verdicts = 40 };
    CHECK(dbr_exchanges(r, &f) == NULL);
    CHECK(strstr(dbr_error(r), path) != NULL);
}

static void test_headers(struct dbr *r)
{
    check_case("header blocks, request first");
    struct dbr_rows *rows = dbr_headers(r, 1);
    CHECK(rows != NULL);
    if (!rows)
        return;
    size_t len;
    CHECK_EQ(dbr_next(rows), 1);
    CHECK_STR(dbr_text(rows, 0, &len), "request");
    CHECK(strncmp(dbr_text(rows, 1, &len), "PUT /upload", 11) == 0);
    CHECK_EQ(dbr_next(rows), 1);
    CHECK_STR(dbr_text(rows, 0, &len), "response");
    CHECK_EQ(dbr_next(rows), 0);
    dbr_rows_free(rows);

    check_case("a plain exchange keeps no header blocks");
    rows = dbr_headers(r, 2);
    CHECK(rows && dbr_next(rows) == 0);
    dbr_rows_free(rows);
}

static void test_summaries(struct dbr *r)
{
    check_case("totals");
    struct dbr_totals t;
    CHECK_EQ(dbr_totals(r, &t), 0);
    CHECK_EQ(t.runs, 1);
    CHECK_EQ(t.flows, 2);
    CHECK_EQ(t.exchanges, 4);
    for (int q = 0; q < DBR_QUERY_COUNT; q++) {
        check_case("every report query runs");
        struct dbr_rows *rows = dbr_query(r, (enum dbr_query)q, q % 2);
        CHECK(rows != NULL);
        if (!rows)
            continue;
        CHECK(dbr_ncols(rows) > 1);
        int rc, n = 0;
        while ((rc = dbr_next(rows)) == 1)
            n++;
        CHECK_EQ(rc, 0);
        if (q == DBR_RUNS || q == DBR_VERDICTS || q == DBR_SERVERS)
            CHECK(n > 0);
        dbr_rows_free(rows);
    }
    check_case("verdicts over all runs");
    struct dbr_rows *rows = dbr_query(r, DBR_VERDICTS, 0);
    int found = 0;
    size_t len;
    while (rows && dbr_next(rows) == 1)
        if (strcmp(dbr_text(rows, 0, &len), "timeout_fallback") == 0) {
            CHECK_EQ(dbr_int(rows, 1), 1); /* exchanges */
            CHECK_EQ(dbr_int(rows, 2), 1); /* flows */
            found++;
        }
    CHECK_EQ(found, 1);
    dbr_rows_free(rows);
}

/* Databases the reader must refuse, each with one line naming the file. */
static void test_refusals(void)
{
    char p[700], err[700];
    struct {
        const char *name, *sql, *want;
    } cases[] = {
        { "missing.db", NULL, "No such file" },
        { "text.db", "", "not a database" },
        { "foreign.db", "CREATE TABLE customers (id INTEGER);", "not an expectscope database" },
        { "newer.db", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                      "INSERT INTO meta VALUES ('schema_version', '1'),"
                      " ('schema_revision', '99');", "newer" },
        { "older.db", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                      "INSERT INTO meta VALUES ('schema_version', '1');", "older" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(cases[i].name);
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].name);
        if (cases[i].sql && !cases[i].sql[0]) {
            FILE *f = fopen(p, "w");
            for (int k = 0; f && k < 200; k++)
                fputs("this is not a database\n", f);
            if (f)
                fclose(f);
        } else if (cases[i].sql) {
            sqlite3 *s;
            CHECK_EQ(sqlite3_open(p, &s), SQLITE_OK);
            CHECK_EQ(sqlite3_exec(s, cases[i].sql, NULL, NULL, NULL), SQLITE_OK);
            sqlite3_close(s);
        }
        struct dbr *r = dbr_open(p, err, sizeof err);
        CHECK(r == NULL);
        dbr_close(r);
        CHECK(strstr(err, p) == err);
        CHECK(strstr(err, cases[i].want) != NULL);
        CHECK(strchr(err, '\n') == NULL);
        if (!strstr(err, cases[i].want))
            fprintf(stderr, "    got: %s\n", err);
        unlink(p);
    }
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/x.db", dir);
    write_run();
    char err[700];
    struct dbr *r = dbr_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_STR(dbr_path(r), path);
        test_exchanges(r);
        test_headers(r);
        test_summaries(r);
        dbr_close(r);
    } else {
        fprintf(stderr, "    %s\n", err);
    }
    test_refusals();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_read");
}
