/* table.h: aligned text columns that fit a terminal: a column has a natural width, a
 * minimum it may shrink to, and a priority by which it is dropped when even the
 * minimums do not fit. Cells are captured text, shown as escape.h's display text and
 * cut with "..." to their column.
 *
 * Owns: nothing; the caller owns its column array.
 * Called by: the command layer (analyze --list, report, paths).
 *
 * Also the JSON twin of a table: a row set as an array of objects (report --json,
 * paths --json).
 */
#ifndef ES_TABLE_H
#define ES_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Columns of this priority and above are dropped before any column is cut. */
#define TABLE_EXTRA 9

struct table_col {
    const char *title;
    int width;    /* natural width in columns (table_measure() may lower it) */
    int min;      /* 0: not flexible; else it may shrink down to this */
    int priority; /* 0: never dropped; higher numbers are dropped first */
    bool right;   /* right-aligned (numbers) */
    int shown;    /* set by table_fit(): the width used, 0 when dropped */
};

/* The width of the terminal on fd, or $COLUMNS, or 80. */
int table_term_width(int fd);

/* The display width of a cell's text as table_cell() would show it (at most `cap`). */
int table_text_width(const void *p, size_t n, int cap);

/* Decide each column's shown width so that a line fits `width` columns. */
void table_fit(struct table_col *cols, int n, int width);

/* A line being written: cells are separated by one space, and no line ends in spaces. */
struct table_line {
    FILE *out;
    bool started;
    int pending; /* padding owed by the previous cell, if another follows */
};

/* One cell of column c (nothing when the column is dropped), padded to its width. */
void table_cell(struct table_line *l, const struct table_col *c, const void *p, size_t n);

/* End the line. */
void table_end(struct table_line *l);

struct dbr_rows;
/* Every remaining row of `rows` as a JSON array of objects, one per line indented by
 * `indent` plus two spaces, the closing bracket on a line of its own indented by
 * `indent` (or "[]" with no row). Reals are written in the fewest digits that read back
 * as the same double; text through esc_json(). dbr_next()'s last result: 0, or < 0. */
int table_json_rows(struct dbr_rows *rows, const char *indent, FILE *out);

#endif
