/* push.h: shipping a sensor's rows to ClickHouse (`expectscope push`, docs/fleet.md).
 *
 * Owns: the read of the rows to ship (a read-only connection of its own), the
 *   per-destination progress in meta (a second connection, which writes nothing else),
 *   the HTTP client (libcurl) and its retries.
 * Does not own: the rows (the writer's, db.h) or the ClickHouse tables
 *   (the SQL files in storage/clickhouse/, applied by the operator).
 * Called by: the command layer, once per push. Calls: SQLite, libcurl, escape.h.
 *
 * What is shipped: runs, flows, exchanges, headers, hops and violations, each row with
 * the sensor of its run (runs.sensor, or the host name for a run written before
 * revision 8) and a version (_version, the push's wall clock in microseconds), as
 * JSONEachRow over ClickHouse's HTTP interface, in batches. Captured text goes as its
 * display text (escape.h), as the exports write it, so every batch is valid JSON.
 * exchanges rows carry their flow's endpoints and their path (the columns of v_exchanges
 * and v_paths) so that the ClickHouse views need no join.
 *
 * Progress: meta key 'push:DEST:TABLE' (DEST the URL without user and password) holds
 * the cursor (the id, or the exchange id for headers and hops) up to which every row of
 * that table has been acknowledged by the destination in its final form. It moves only
 * over rows of settled runs (finished; or unfinished, when a newer run exists or no
 * writer holds the database: a killed run), and only after ClickHouse answered 200.
 * A kill between the answer and the commit re-sends that batch: the tables are
 * ReplacingMergeTree keyed by sensor, run and row, so a re-sent row replaces itself.
 * Rows of a run still being written (live) are sent as they appear, without moving the
 * cursor, and sent again once the run is settled: a live run's flows are written when
 * they end, out of id order, and its exchanges learn who answered them later, so only
 * the settled run's rows are final. Its runs row is re-sent whenever it changed.
 * How far those were sent is kept too ('push:DEST:TABLE:live'), so that a restarted
 * push does not send a long live run's rows again before the run ends.
 */
#ifndef ES_PUSH_H
#define ES_PUSH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PUSH_DEFAULT_BATCH 10000u  /* rows per INSERT */
#define PUSH_MAX_BATCH 1000000u
#define PUSH_MAX_ATTEMPTS 6        /* without --follow: tries per batch before giving up */
#define PUSH_BACKOFF_FIRST_MS 500u /* doubled after each failure ... */
#define PUSH_BACKOFF_MAX_MS 30000u /* ... up to this */
#define PUSH_POLL_MS 1000u         /* --follow: the wait when nothing was new */
#define PUSH_TIMEOUT_S 120L        /* one HTTP request, connection included */

enum push_table_id { PT_FLOWS, PT_EXCHANGES, PT_HEADERS, PT_HOPS, PT_VIOLATIONS, PT_RUNS,
                     PT_COUNT };

struct push_config {
    const char *db_path;
    const char *url;          /* http[s]://[user:password@]host:port/[?database=NAME] */
    uint32_t batch_rows;      /* 1 .. PUSH_MAX_BATCH */
    bool follow;              /* keep shipping until *stop */
    volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
    FILE *log;                /* one line per failed attempt; NULL: none */
};

struct push_stats {
    uint64_t rows[PT_COUNT];  /* rows acknowledged, re-sends included */
    uint64_t batches;
    uint64_t failures;        /* attempts that failed (then retried or given up) */
};

/* The ClickHouse table name of t. */
const char *push_table_name(enum push_table_id t);

/* The destination as it is named in meta and in messages: url without its user and
 * password, into buf. Returns buf. */
char *push_destination(const char *url, char *buf, size_t len);

/* Ship what the destination has not acknowledged yet; with follow, go on until *stop.
 * 0 when everything was shipped (or follow ended by *stop); 1 when *stop ended a
 * one-shot push early (what was acknowledged is recorded); -1 with one line in err: the
 * database cannot be read or its progress written, or the destination still failed
 * after PUSH_MAX_ATTEMPTS tries (without follow). *st is filled in every case. */
int push_run(const struct push_config *cfg, struct push_stats *st, char *err, size_t err_len);

#endif
