/* report.h: what `expectscope report` prints: a summary of a database, per run and
 * over all runs, as terminal tables or as JSON.
 *
 * Owns: a read-only connection for the duration of one call.
 * Called by: the driver (main). Reads the views of schema.h.
 */
#ifndef ES_REPORT_H
#define ES_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Print the report of the database at path to out. Returns 0, or -1 with a one-line
 * reason naming the database in err (missing, not SQLite, not ours, too new or too
 * old to read without migrating). */
int report_print(const char *path, bool json, FILE *out, char *err, size_t err_len);

#endif
