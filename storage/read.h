/* read.h: the read side of the database: what `report` prints and what export and
 * push will read. Readers never create, migrate or write a database.
 *
 * Owns: one read-only connection per handle, and the statement of each open row set.
 * Does not own: what is printed (the command layer and web-export format the rows).
 * Called by: the command layer (report), web-export. Calls: SQLite.
 *
 * Queries are named here, with their SQL, so that every reader asks the database the
 * same questions; a row set hands its columns out typed, with their names, so a
 * caller can print a table or JSON without knowing the SQL.
 */
#ifndef ES_READ_H
#define ES_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dbr;
struct dbr_rows;

/* Open the database at path read-only and check it is one this expectscope reads as
 * it is. NULL with a one-line reason naming the path in err: missing, not SQLite, not
 * expectscope's, another schema version, an older revision (one analyze run migrates
 * it) or a newer one. */
struct dbr *dbr_open(const char *path, char *err, size_t err_len);

/* The last error, one line naming the database. */
const char *dbr_error(const struct dbr *r);

const char *dbr_path(const struct dbr *r);

struct dbr_totals {
    int64_t runs, flows, exchanges;
};

/* Rows in each main table. 0, or -1 (dbr_error()). */
int dbr_totals(struct dbr *r, struct dbr_totals *out);

/* The summaries `report` prints, one row set each. */
enum dbr_query {
    DBR_RUNS,          /* runs: capture time range, state, packets, flows, exchanges */
    DBR_RUN_VERDICTS,  /* exchanges per verdict per run */
    DBR_VERDICTS,      /* exchanges and flows per verdict over all runs */
    DBR_SERVERS,       /* servers with the most 417s and timeout fallbacks */
    DBR_USER_AGENTS,   /* user agents with the most 417s and timeout fallbacks */
    DBR_SERVER_TIMING, /* time to 100 and client wait per server (percentiles) */
    DBR_PATHS,         /* per Host, each path with its outcomes and wait percentiles, the
                          Hosts whose paths disagree first */
    DBR_CLIENT_TIMERS, /* per client, the expectation timer its fallbacks show, and its
                          waits longer than any common timer (v_client_timers) */
    DBR_CAPTURE,       /* runs whose capture's shape limits what it shows: snap length,
                          cut segments, one-sided flows, undecodable packets, and the
                          warning analyze printed */
    DBR_CAPS,          /* runs where a memory cap bit (schema revision 9): connections
                          given up at the pending-exchange budget and the exchanges that
                          cost, pipelining overflows, holes given up to the out-of-order
                          budgets, and the peaks of both budgets */
    DBR_FRAMING,       /* runs with HTTP the dissector could not take as it came: parse
                          errors, framing errors, stray 1xx; and tunnels */
    DBR_RULES,         /* violations per rule: count, exchanges, an example exchange */
    DBR_RULE_SERVERS,  /* the servers with the most violations, and which rules */
    DBR_RULE_AGENTS,   /* the user agents with the most violations, and which rules */
    DBR_WIRE,          /* runs with packets ignored lest they blind reassembly (flow.h) */
    DBR_QUERY_COUNT
};

/* One summary, over every run (run_id 0) or over one. */
struct dbr_rows *dbr_query(struct dbr *r, enum dbr_query q, int64_t run_id);

/* The newest run's id, 0 when there is none, -1 on error. */
int64_t dbr_latest_run(struct dbr *r);

/* True while an expectscope writes the database (its run is in progress). */
bool dbr_writer_active(struct dbr *r);

/* Which exchanges an export wants. Zero fields do not filter. */
struct dbr_filter {
    const char *const *verdicts; /* any of these verdict names */
    int n_verdicts;
    bool problems;               /* neither plain nor continue_ok */
    const char *server_ip;       /* the flow's server address, as stored */
    int server_port;             /* with server_ip; 0: any port */
    const char *host;            /* the request's Host, exactly */
    double since, until;         /* request time (epoch seconds): since <= ts < until */
    int64_t run_id;
    int64_t id;                  /* this exchange only */
    int64_t retry_of;            /* the retries of this exchange */
};

/* Exchanges matching f with their flow's endpoints (a left join: the exchanges of a
 * live run whose flow is still open come too), in time order, then by id. Columns:
 * every exchanges column, then client_ip, client_port, server_ip, server_port, vlan,
 * l7_protocol, flow_end_reason, flow_verdict, flow_missing_bytes, and violations: the
 * rule IDs the exchange broke, comma-separated in the order found (a rule found twice
 * comes twice), NULL when none; a flow's violations that name no exchange are not in
 * it. NULL on error, or when f asks for more verdicts than exist. */
struct dbr_rows *dbr_exchanges(struct dbr *r, const struct dbr_filter *f);

/* The sensors that wrote the runs (runs.sensor, --sensor), each once, by name; runs from
 * before sensors were recorded (NULL) are not among them. Only run run_id's when it is
 * not 0. One column: sensor. */
struct dbr_rows *dbr_sensors(struct dbr *r, int64_t run_id);

/* The stored header blocks of one exchange: direction ('request', 'interim',
 * 'response') and raw, in that order. */
struct dbr_rows *dbr_headers(struct dbr *r, int64_t exchange_id);

/* The same row set, made anew for another exchange (an export reads the blocks of
 * every exchange: one statement for all). 0, or -1 (dbr_error()). */
int dbr_headers_again(struct dbr_rows *rows, int64_t exchange_id);

/* The violations of one exchange (rule, detail), and those of its flow that name no
 * exchange, in the order they were found. */
struct dbr_rows *dbr_violations(struct dbr *r, int64_t exchange_id);

/* Step to the next row: 1 a row, 0 the end, -1 an error (dbr_error()). */
int dbr_next(struct dbr_rows *rows);

enum dbr_type { DBR_NULL, DBR_INT, DBR_REAL, DBR_TEXT };

int dbr_ncols(const struct dbr_rows *rows);
const char *dbr_col_name(const struct dbr_rows *rows, int col);
/* The index of a column by name, -1 when there is none. */
int dbr_col_index(const struct dbr_rows *rows, const char *name);

/* The current row's values. Text is borrowed until the next dbr_next(); its bytes are
 * as captured (not NUL-safe: use the length). */
enum dbr_type dbr_type(const struct dbr_rows *rows, int col);
int64_t dbr_int(const struct dbr_rows *rows, int col);
double dbr_real(const struct dbr_rows *rows, int col);
const char *dbr_text(const struct dbr_rows *rows, int col, size_t *len);

/* Finish a row set; NULL is a no-op. */
void dbr_rows_free(struct dbr_rows *rows);

/* Close; every row set must have been freed. NULL is a no-op. */
void dbr_close(struct dbr *r);

#endif
