/* sqlh.h: small SQLite helpers shared by the storage modules (the writer, the schema
 * migrations and the reader), so each says the same thing the same way.
 *
 * Owns: nothing; every function works on a connection its caller owns.
 * Called by: db.c, schema.c, read.c.
 */
#ifndef ES_SQLH_H
#define ES_SQLH_H

#include <sqlite3.h>
#include <stddef.h>

/* Run one or more statements. 0, or -1 with SQLite's message in err. */
int sqlh_exec(sqlite3 *db, const char *sql, char *err, size_t err_len);

/* The first column of the first row of a query as an integer, `dflt` when there is no
 * row. 0, or -1 on an SQL error (sqlite3_errmsg() says which). */
int sqlh_int(sqlite3 *db, const char *sql, long long dflt, long long *out);

#endif
