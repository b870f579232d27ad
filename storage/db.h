/* db.h: the SQLite writer. One run of analyze appends one row to runs and its flows,
 * exchanges and header blocks, in batched transactions, in WAL mode so that the
 * database can be queried while it is written.
 *
 * Owns: the sqlite3 connection, its prepared statements, the open transaction, the
 *   id bases of the current run, an exclusive lock that keeps a second expectscope
 *   from writing the same database at the same time, and the writer thread with its
 *   queue (wqueue.h).
 * Does not own: flows and exchanges, borrowed for one call: db_flow() and
 *   db_exchange() copy what the row needs into the queue and return; the writer
 *   thread, the only user of the connection during a run, turns rows into SQL.
 * Called by: the pipeline, from the exchange sink and the flow release hook. Readers
 *   use read.h.
 *
 * Ids: a run's flows and exchanges get ids of the run's base plus their run-local
 * number, so an exchange can name its flow before the flow row is written (flows are
 * written when they leave the flow table, after their exchanges).
 */
#ifndef ES_DB_H
#define ES_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "flow.h"
#include "reasm.h"
#include "hops.h"
#include "rules.h"
#include "verdict.h"

/* Rows written per transaction; a transaction is also committed after
 * DB_BATCH_MAX_MS of wall time, so that a reader sees a live run progress. */
#define DB_BATCH_ROWS 8192u
#define DB_BATCH_MAX_MS 1000u
/* How long to wait for a lock held by another connection (a reader checkpointing,
 * a sqlite3 shell in a transaction) before giving up with an error. */
#define DB_BUSY_TIMEOUT_MS 5000

struct db;

/* What the run row says at the start. Strings are borrowed for the call. */
/* One input of a run: what the inputs table keeps to tell a capture seen before. */
struct db_input {
    const char *path;         /* as given ("-" for standard input) */
    const char *compression;  /* "none", "gzip", ... */
    int linktype;
    uint64_t size;            /* bytes as stored; 0 when unknown (a pipe) */
    uint64_t first_packet_us; /* 0 when it holds no packet */
    uint64_t head_hash;       /* hash of the capture's first head_bytes bytes */
    uint32_t head_bytes;
};

struct db_run_info {
    const char *mode;       /* "file" or "live" */
    const char *source;     /* the inputs, space-separated, or the interface */
    const char *options;    /* JSON text */
    const char *sensor;     /* runs.sensor; NULL: left NULL */
    uint64_t started_us;    /* wall clock */
    const struct db_input *inputs; /* written to the inputs table; may be NULL */
    int n_inputs;
};

/* A run that already holds a capture. */
struct db_seen {
    int64_t run_id;
    uint64_t started_us;
    char state[16];         /* 'complete', 'truncated', 'interrupted', 'unfinished' */
};

/* What the run row says at the end. */
struct db_run_stats {
    uint64_t finished_us;
    uint64_t packets, bytes, kernel_drops, if_drops;
    bool truncated, interrupted;
    uint64_t first_packet_us, last_packet_us;
    uint64_t tcp_flows, http_flows, exchanges, evicted_flows;
    uint64_t fragments_skipped, undecodable, orphan_responses, parse_errors;
    uint64_t pipeline_overflows; /* connections whose HTTP was given up at the
                                    per-connection pipelining cap (H1_MAX_PIPELINE) */
    /* the memory caps (schema revision 9, REV9_CAPS): connections given up at the
     * budget of exchanges awaiting their response, the exchanges that cost, the most
     * that budget and the out-of-order budget ever held (bytes, as charged) */
    uint64_t pending_cap_flows, pending_cap_exchanges, pending_bytes_peak, ooo_bytes_peak;
    uint64_t hops_linked, hops_ambiguous; /* the path analysis (hops.h) */
    /* the capture's shape: snap length (0 unknown), TCP segments with payload, those
     * the snap length cut, HTTP flows seen one way only */
    int snaplen;
    uint64_t payload_packets, snap_cut_packets, one_sided_flows;
    uint64_t violations;         /* rows of violations (rules.h) */
    /* packets that could have blinded reassembly, ignored (flow.h, reasm.h) */
    uint64_t bad_acks, bad_rsts, bad_flags;
    /* HTTP framing (schema revision 9): messages with invalid or ambiguous framing,
     * 1xx responses no request asked for, flows whose HTTP became a tunnel */
    uint64_t framing_errors, stray_interims, tunnels;
    const uint64_t *input_packets; /* records read from each input of db_run_info, in
                                      its order; may be NULL */
    int n_inputs;
};

/* Open (creating if needed) the database at path, take the writer's lock, bring the
 * schema to the current revision. When another expectscope holds the writer's lock,
 * wait up to wait_lock_us for it (0: fail at once). NULL with a one-line reason in err
 * (which names the path) when it cannot be used. */
struct db *db_open(const char *path, uint64_t wait_lock_us, char *err, size_t err_len);

/* Does a run of this database already hold this capture: the same hash over the same
 * number of first bytes, the same first packet time, and the same size when both are
 * known and stored alike? 1 (the newest such run in *seen), 0 no, -1 on an SQL error
 * (db_error()). Call before db_run_begin(). */
int db_find_input(struct db *db, const struct db_input *in, struct db_seen *seen);

/* Start a run: write its row and its inputs, fix the id bases. 0, or -1 with a
 * reason. */
int db_run_begin(struct db *db, const struct db_run_info *info, char *err, size_t err_len);

/* Queue one row each; the writer thread commits it with its batch. 0, or -1 when the
 * writer has stopped on an error (the run should stop; db_run_end() reports it). May
 * wait when every queue chunk is in flight: a slow disk slows the reading down. */
int db_flow(struct db *db, const struct flow_result *fl);
int db_exchange(struct db *db, const struct flow *f, const struct exchange *x);
/* A link between two legs of a proxy, or a proxy's own answer (hops.h). */
int db_hop(struct db *db, const struct hop *h);
/* A breach of a rule (rules.h): a row of violations. Its run-local ids are mapped as
 * db_exchange() maps its own and retry_of. */
int db_violation(struct db *db, const struct violation *v);
/* A change to an exchange already queued: who answered it, now that its upstream leg
 * is known (hops.h). */
int db_exchange_path(struct db *db, const struct hop_update *u);

/* Hand what is queued to the writer now instead of when a queue chunk fills: a live
 * capture calls it every second, so that a reader sees an exchange about a second
 * after it ends (the writer commits an idle batch within DB_BATCH_MAX_MS). */
void db_flush(struct db *db);

/* Queue an update of the run's row (its counters; finished_at stays NULL) while the
 * run goes on: a live capture refreshes its packet and drop counts this way. 0, or -1
 * as db_flow(). */
int db_run_progress(struct db *db, const struct db_run_stats *st);

/* Prune rows older than retain_us (by their capture time, against the wall clock) as
 * the run goes on, in the writer thread (retain.h). Call before db_run_begin(). */
void db_set_retention(struct db *db, uint64_t retain_us);

/* Rows pruned so far; read after db_run_end(). */
void db_pruned(const struct db *db, uint64_t *exchanges, uint64_t *flows);

/* Finish the run: wait for the writer to write every row queued, update the run row
 * and commit. 0, or -1 with the first error in db_error(). */
int db_run_end(struct db *db, const struct db_run_stats *st);

/* The last error, one line naming the database. */
const char *db_error(const struct db *db);

/* The run's id, for messages. */
int64_t db_run_id(const struct db *db);

/* Microseconds the writer thread spent writing (inside SQLite), and the analyzer
 * thread spent in db_ calls (copying rows, waiting for queue room, and the final
 * wait for the writer). Read after db_run_end(). */
uint64_t db_busy_us(const struct db *db);
uint64_t db_wait_us(const struct db *db);

/* Roll back what is not committed, close, release the lock. NULL is a no-op. */
void db_close(struct db *db);

#endif
