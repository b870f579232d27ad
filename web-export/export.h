/* export.h: the database's exchanges for people and programs that will not open a SQL
 * shell: HAR 1.2 (browsers' DevTools, HAR viewers), NDJSON (jq, Elasticsearch,
 * ClickHouse JSONEachRow), CSV (RFC 4180, spreadsheets) and one self-contained HTML
 * report. DESIGN.md "Export"; docs/export.md says what each format holds.
 *
 * Owns: one export at a time: the row sets it reads through storage's read API, one
 *   exchange after another (memory does not grow with the number of exchanges, but for
 *   the HTML report's documented caps), and what it writes.
 * Does not own: the database handle or the output stream (borrowed for the call).
 * Called by: the command layer (`export`). Calls: read.h, escape.h.
 *
 * Every format takes the same filter (struct dbr_filter) and every captured byte it
 * writes goes through escape.h for that format.
 */
#ifndef ES_EXPORT_H
#define ES_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "read.h"

enum export_format { EXPORT_HAR, EXPORT_NDJSON, EXPORT_CSV, EXPORT_HTML, EXPORT_FORMATS };

/* "har", "ndjson", "csv", "html": true with *f set. */
bool export_format_parse(const char *name, enum export_format *f);
const char *export_format_name(enum export_format f);

/* What an export is about, for the formats that say it (the HTML report's title). */
struct export_info {
    const char *db_path;      /* the database, as given */
    const char *filter_text;  /* the filters in words ("verdict expectation_failed, run
                                 3"), "" for none */
};

struct export_stats {
    uint64_t exchanges;       /* exchanges written */
    uint64_t left_out;        /* exchanges a capped format counted but did not show */
};

/* Epoch seconds as ISO 8601 UTC with microseconds: "2026-12-02T14:51:19.061717Z". */
char *export_iso_time(double epoch_s, char *buf, size_t len);

/* Write the exchanges f selects, in time order, as fmt to out. 0; -1 with a one-line
 * reason in err (a database error: dbr_error(); a write error is left in out's error
 * flag for the caller, who names the file). */
int export_write(struct dbr *r, const struct dbr_filter *f, enum export_format fmt,
                 const struct export_info *info, FILE *out, struct export_stats *st,
                 char *err, size_t err_len);

#endif
