/* retain.c: see retain.h. */
#include "retain.h"

#include <stdlib.h>

/* The old ids among the first `batch` rows of a table, into ids (batch entries). */
static int old_ids(sqlite3 *conn, const char *sql, double cutoff_s, int batch, int64_t *ids,
                   int *n)
{
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, batch);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* a NULL time is never old: it cannot be judged */
        if (sqlite3_column_type(st, 1) != SQLITE_NULL &&
            sqlite3_column_double(st, 1) < cutoff_s)
            ids[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Run `sql` (one ? for the id) for each id; adds the rows it changed to *count. */
static int delete_ids(sqlite3 *conn, const char *sql, const int64_t *ids, int n,
                      uint64_t *count)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(conn, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = SQLITE_DONE;
    for (int i = 0; i < n && rc == SQLITE_DONE; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        *count += (uint64_t)sqlite3_changes(conn);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int retain_prune(sqlite3 *conn, double cutoff_s, int batch, struct retain_counts *done,
                 bool *more)
{
    *more = false;
    int64_t *ids = malloc((size_t)batch * sizeof *ids);
    if (!ids)
        return -1;
    int n, rc = old_ids(conn, "SELECT id, ts FROM exchanges ORDER BY id LIMIT ?", cutoff_s,
                        batch, ids, &n);
    if (rc == 0)
        rc = delete_ids(conn, "DELETE FROM headers WHERE exchange_id = ?", ids, n,
                        &done->headers);
    uint64_t violations = 0; /* not reported: they go with their exchange or flow */
    if (rc == 0)
        rc = delete_ids(conn, "DELETE FROM violations WHERE exchange_id = ?", ids, n,
                        &violations);
    if (rc == 0)
        rc = delete_ids(conn, "DELETE FROM exchanges WHERE id = ?", ids, n, &done->exchanges);
    *more = n == batch;
    if (rc == 0)
        rc = old_ids(conn, "SELECT id, last_seen FROM flows ORDER BY id LIMIT ?", cutoff_s,
                     batch, ids, &n);
    if (rc == 0)
        rc = delete_ids(conn, "DELETE FROM violations WHERE flow_id = ?", ids, n, &violations);
    if (rc == 0)
        rc = delete_ids(conn, "DELETE FROM flows WHERE id = ?", ids, n, &done->flows);
    *more |= n == batch;
    free(ids);
    return rc;
}
