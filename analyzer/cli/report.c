/* report.c: the `report` command: what a database holds, per run and over all runs, as
 * terminal tables or as one JSON object. The rows come from storage's read API; this
 * file only lays them out. See cli.h.
 *
 * Owns: the cells of the table being printed (one section at a time).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "read.h"
#include "schema.h"

/* Cells are cut to this many columns so a table fits a terminal. */
enum { CELL_COLS = 48, CELL_BYTES = CELL_COLS * 4 + 8 };

static const struct {
    enum dbr_query q;
    const char *name, *title; /* JSON member, table title */
} sections[] = {
    { DBR_RUNS, "runs", "runs:" },
    { DBR_RUN_VERDICTS, "run_verdicts", "verdicts per run:" },
    { DBR_VERDICTS, "verdicts", "verdicts, all runs:" },
    { DBR_SERVERS, "servers", "servers with the most 417s and timeout fallbacks:" },
    { DBR_USER_AGENTS, "user_agents", "user agents with the most 417s and timeout fallbacks:" },
    { DBR_SERVER_TIMING, "server_timing",
      "time to 100 Continue and client wait per server (ms):" },
};

/* The shortest of %.15g and %.17g that reads back as the same double: 1004.923 stays
 * 1004.923, and an epoch time keeps its microseconds. */
static void json_num(FILE *out, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

static int section_json(struct dbr_rows *rows, const char *name, FILE *out)
{
    fprintf(out, ",\n  \"%s\": [", name);
    int cols = dbr_ncols(rows), n = 0, rc;
    while ((rc = dbr_next(rows)) == 1) {
        fprintf(out, "%s\n    {", n++ ? "," : "");
        for (int c = 0; c < cols; c++) {
            fprintf(out, "%s\"%s\": ", c ? ", " : "", dbr_col_name(rows, c));
            size_t len;
            const char *s;
            switch (dbr_type(rows, c)) {
            case DBR_NULL:
                fputs("null", out);
                break;
            case DBR_INT:
                fprintf(out, "%" PRId64, dbr_int(rows, c));
                break;
            case DBR_REAL:
                json_num(out, dbr_real(rows, c));
                break;
            case DBR_TEXT:
                s = dbr_text(rows, c, &len);
                esc_json(out, s, len);
                break;
            }
        }
        fputc('}', out);
    }
    fprintf(out, "%s]", n ? "\n  " : "");
    return rc;
}

/* One cell as the terminal shows it; NULL on no memory. */
static char *cell(struct dbr_rows *rows, int c)
{
    char buf[CELL_BYTES];
    size_t len;
    const char *s;
    switch (dbr_type(rows, c)) {
    case DBR_NULL:
        return strdup("-");
    case DBR_INT:
        snprintf(buf, sizeof buf, "%" PRId64, dbr_int(rows, c));
        return strdup(buf);
    case DBR_REAL:
        snprintf(buf, sizeof buf, "%.3f", dbr_real(rows, c));
        return strdup(buf);
    case DBR_TEXT:
        break;
    }
    s = dbr_text(rows, c, &len);
    return strdup(esc_tsv_cut(buf, sizeof buf, s, len, CELL_COLS));
}

struct table {
    char **cells; /* rows * cols, the header first */
    int cols, rows;
};

static void table_free(struct table *t)
{
    for (int i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* Add one row of cells (the header when header is set). -1 on no memory. */
static int table_add(struct table *t, size_t *cap, struct dbr_rows *rows, bool header)
{
    if ((size_t)(t->rows + 1) * (size_t)t->cols > *cap) {
        size_t want = *cap ? *cap * 2 : (size_t)t->cols * 16;
        char **v = realloc(t->cells, want * sizeof *v);
        if (!v)
            return -1;
        t->cells = v;
        *cap = want;
    }
    char **row = t->cells + (size_t)t->rows * (size_t)t->cols;
    t->rows++;
    int bad = 0;
    for (int c = 0; c < t->cols; c++) {
        row[c] = header ? strdup(dbr_col_name(rows, c)) : cell(rows, c);
        bad |= row[c] == NULL;
    }
    return bad ? -1 : 0;
}

static void table_print(const struct table *t, const char *title, FILE *out)
{
    fprintf(out, "\n%s\n", title);
    if (t->rows == 1)
        fprintf(out, "  (none)\n");
    for (int r = 0; r < t->rows && t->rows > 1; r++) {
        fputs(" ", out);
        for (int c = 0; c < t->cols; c++) {
            size_t w = 0;
            for (int k = 0; k < t->rows; k++) {
                const char *s = t->cells[(size_t)k * (size_t)t->cols + (size_t)c];
                size_t len = s ? strlen(s) : 0;
                w = len > w ? len : w;
            }
            const char *s = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
            fprintf(out, " %-*s", c + 1 < t->cols ? (int)w : 0, s ? s : "?");
        }
        fputc('\n', out);
    }
}

/* 0, -1 on an SQL error (dbr_error()), -2 on no memory. */
static int section_table(struct dbr_rows *rows, const char *title, FILE *out)
{
    struct table t = { NULL, dbr_ncols(rows), 0 };
    size_t cap = 0;
    int rc = table_add(&t, &cap, rows, true) == 0 ? 1 : -2;
    while (rc == 1 && (rc = dbr_next(rows)) == 1)
        if (table_add(&t, &cap, rows, false) != 0)
            rc = -2;
    if (rc == 0)
        table_print(&t, title, out);
    table_free(&t);
    return rc;
}

int cmd_report(const struct options *o)
{
    char err[700];
    struct dbr *r = dbr_open(o->db_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_INPUT;
    }
    FILE *out = stdout;
    struct dbr_totals tot;
    int rc = dbr_totals(r, &tot);
    if (rc == 0 && o->json) {
        fprintf(out, "{\n  \"database\": ");
        esc_json(out, o->db_path, strlen(o->db_path));
        fprintf(out, ",\n  \"schema_version\": %d,\n  \"schema_revision\": %d,\n"
                     "  \"totals\": {\"runs\": %" PRId64 ", \"flows\": %" PRId64
                     ", \"exchanges\": %" PRId64 "}",
                SCHEMA_VERSION, SCHEMA_REVISION, tot.runs, tot.flows, tot.exchanges);
    } else if (rc == 0) {
        fprintf(out, "%s: %" PRId64 " runs, %" PRId64 " flows, %" PRId64
                " exchanges (schema %d.%d)\n", o->db_path, tot.runs, tot.flows,
                tot.exchanges, SCHEMA_VERSION, SCHEMA_REVISION);
    }
    for (size_t i = 0; rc == 0 && i < sizeof sections / sizeof sections[0]; i++) {
        struct dbr_rows *rows = dbr_query(r, sections[i].q);
        rc = !rows ? -1
             : o->json ? section_json(rows, sections[i].name, out)
                       : section_table(rows, sections[i].title, out);
        dbr_rows_free(rows);
    }
    if (rc == 0 && o->json)
        fprintf(out, "\n}\n");
    if (rc != 0)
        fprintf(stderr, "expectscope: %s\n",
                rc == -2 ? "out of memory formatting the report" : dbr_error(r));
    dbr_close(r);
    return rc == 0 ? EXIT_OK : EXIT_INPUT;
}
