/* retain.h: pruning what is older than a retention period (`live --retain HOURS`), so
 * that a sensor's database stops growing: rows older than the cutoff are deleted a
 * batch at a time and SQLite reuses their pages for new rows.
 *
 * Owns: nothing; it works on the writer's connection, inside the writer's open
 *   transaction, on the writer's thread.
 * Called by: db.c's writer thread, every few seconds while a run with a retention
 *   period goes on.
 *
 * Rows are taken oldest id first, and ids grow with time (exchanges by completion,
 * flows by creation): only the first `batch` rows by id are looked at each time, so a
 * prune costs what it deletes, not the size of the table. A row that is old but comes
 * after a newer one in id order (a long-lived flow, a slow upload) waits until what
 * precedes it has aged too. Runs and inputs rows are kept: they are small and say what
 * was captured. An exchange whose 417'd original was pruned keeps its retry_of id.
 */
#ifndef ES_RETAIN_H
#define ES_RETAIN_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

struct retain_counts {
    uint64_t exchanges, headers, flows;
};

/* Delete, among the first `batch` exchanges and the first `batch` flows by id, those
 * older than cutoff (Unix seconds: an exchange by its request time, a flow by its last
 * packet), with the header blocks of the exchanges. Adds to *done; *more says whether
 * a full batch was old (call again soon). 0, or -1 on an SQL error (the connection's
 * message says which). */
int retain_prune(sqlite3 *conn, double cutoff_s, int batch, struct retain_counts *done,
                 bool *more);

#endif
