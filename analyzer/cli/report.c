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

#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "read.h"
#include "rules.h"
#include "schema.h"
#include "table.h"

/* Cells are cut to this many columns, and a table to REPORT_WIDTH (or a narrower
 * terminal). */
enum { CELL_COLS = 48, REPORT_WIDTH = 100 };
enum { TIMERS_WIDTH = 80 }; /* the client timers table fits a classic terminal */

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
    { DBR_CLIENT_TIMERS, "client_timers",
      "client expectation timers (timer_ms: median fallback wait; long: over 5 s):" },
    /* printed only when some run has something to say */
    { DBR_CAPTURE, "capture", "capture shape (what the capture could not show):" },
    { DBR_WIRE, "wire", "packets ignored lest they blind reassembly (RFC 5961):" },
    { DBR_CAPS, "caps", "memory caps that bit (docs/architecture.md, \"Caps\"):" },
    { DBR_FRAMING, "framing",
      "HTTP framing (parse errors, RFC 9112 6.3 framing errors, stray 1xx, tunnels):" },
};

static bool run_exists(struct dbr *r, int64_t run)
{
    struct dbr_rows *rows = dbr_query(r, DBR_RUNS, run);
    bool found = rows && dbr_next(rows) == 1;
    dbr_rows_free(rows);
    return found;
}

static int section_json(struct dbr_rows *rows, const char *name, FILE *out)
{
    fprintf(out, ",\n  \"%s\": ", name);
    return table_json_rows(rows, "  ", out);
}

/* One cell's text (display text for captured bytes); NULL on no memory. */
static char *cell(struct dbr_rows *rows, int c)
{
    char buf[64];
    size_t len;
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
    const char *s = dbr_text(rows, c, &len);
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

struct table {
    char **cells; /* rows * cols, the header first */
    int cols, rows;
    bool *number; /* per column: right-aligned */
};

static void table_free(struct table *t)
{
    for (int i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->number);
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
        if (!header)
            t->number[c] |= dbr_type(rows, c) == DBR_INT || dbr_type(rows, c) == DBR_REAL;
    }
    return bad ? -1 : 0;
}

/* Each column as wide as its widest cell (text up to CELL_COLS, and flexible down to
 * 8), the whole fitted to `width`. */
static void table_print(const struct table *t, const char *title, int width, FILE *out)
{
    fprintf(out, "\n%s\n", title);
    if (t->rows == 1) {
        fprintf(out, "  (none)\n");
        return;
    }
    struct table_col cols[64];
    int n = t->cols < 64 ? t->cols : 64;
    for (int c = 0; c < n; c++) {
        int w = 0;
        for (int r = 0; r < t->rows; r++) {
            const char *s = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
            int tw = table_text_width(s, strlen(s), CELL_COLS);
            w = tw > w ? tw : w;
        }
        bool num = t->number[c];
        cols[c] = (struct table_col){ "", w, num || w <= 8 ? 0 : 8, 0, num, 0 };
    }
    table_fit(cols, n, width - 2);
    for (int r = 0; r < t->rows; r++) {
        fputs("  ", out);
        struct table_line line = { out, false, 0 };
        for (int c = 0; c < n; c++) {
            const char *s = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
            table_cell(&line, &cols[c], s, strlen(s));
        }
        table_end(&line);
    }
}

/* 0, -1 on an SQL error (dbr_error()), -2 on no memory. */
static int section_table(struct dbr_rows *rows, const char *title, bool quiet_empty,
                         int width, FILE *out)
{
    struct table t = { NULL, dbr_ncols(rows), 0, calloc((size_t)dbr_ncols(rows) + 1, 1) };
    size_t cap = 0;
    int rc = t.number && table_add(&t, &cap, rows, true) == 0 ? 1 : -2;
    while (rc == 1 && (rc = dbr_next(rows)) == 1)
        if (table_add(&t, &cap, rows, false) != 0)
            rc = -2;
    if (rc == 0 && !(t.rows == 1 && quiet_empty))
        table_print(&t, title, width, out);
    table_free(&t);
    return rc;
}

/* ---- rule violations (docs/rules.md) -------------------------------------------- */

/* The rule section is kept to RULES_WIDTH columns whatever the terminal. */
enum { RULES_WIDTH = 80 };

/* Per rule: its level and what it means come from the rule table, the counts from the
 * database. */
static int rules_table(struct dbr_rows *rows, FILE *out)
{
    fprintf(out, "\nrule violations (docs/rules.md):\n");
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len;
        const char *name = dbr_text(rows, 0, &len);
        enum rule_id id = name ? rule_from_name(name, len) : R_COUNT;
        if (!n++)
            fprintf(out, "  %-5s %-10s %6s %9s  %s\n", "rule", "level", "count", "exchanges",
                    "what");
        fprintf(out, "  %-5.*s %-10s %6" PRId64 " %9" PRId64 "  %.43s\n",
                (int)(len < 5 ? len : 5), name ? name : "", rule_level(id), dbr_int(rows, 1),
                dbr_int(rows, 2), rule_summary(id));
    }
    if (rc == 0 && !n)
        fprintf(out, "  (none)\n");
    return rc;
}

static int rules_json(struct dbr_rows *rows, FILE *out)
{
    fprintf(out, ",\n  \"rules\": [");
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len;
        const char *name = dbr_text(rows, 0, &len);
        enum rule_id id = name ? rule_from_name(name, len) : R_COUNT;
        fprintf(out, "%s\n    {\"rule\": ", n++ ? "," : "");
        esc_json(out, name ? name : "", name ? len : 0);
        fprintf(out, ", \"section\": \"%s\", \"level\": \"%s\", \"summary\": \"%s\", "
                     "\"violations\": %" PRId64 ", \"exchanges\": %" PRId64
                     ", \"example_exchange_id\": ",
                rule_section(id), rule_level(id), rule_summary(id), dbr_int(rows, 1),
                dbr_int(rows, 2));
        if (dbr_type(rows, 3) == DBR_NULL)
            fputs("null}", out);
        else
            fprintf(out, "%" PRId64 "}", dbr_int(rows, 3));
    }
    fprintf(out, "%s]", n ? "\n  " : "");
    return rc;
}

/* The "Rule violations" part: per rule, then the servers and user agents with the
 * most. 0, or as section_table(). */
static int rules_section(struct dbr *r, int64_t run, bool json, int width, FILE *out)
{
    static const struct {
        enum dbr_query q;
        const char *name, *title;
    } parts[] = {
        { DBR_RULES, "rules", NULL },
        { DBR_RULE_SERVERS, "rule_servers", "servers with the most violations:" },
        { DBR_RULE_AGENTS, "rule_user_agents", "user agents with the most violations:" },
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof parts / sizeof parts[0]; i++) {
        struct dbr_rows *rows = dbr_query(r, parts[i].q, run);
        if (!rows)
            rc = -1;
        else if (parts[i].q == DBR_RULES)
            rc = json ? rules_json(rows, out) : rules_table(rows, out);
        else
            rc = json ? section_json(rows, parts[i].name, out)
                      : section_table(rows, parts[i].title, false,
                                      width < RULES_WIDTH ? width : RULES_WIDTH, out);
        dbr_rows_free(rows);
    }
    return rc;
}

/* The sensors of the runs shown: after the first line ("; sensor NAME", "; sensors A,
 * B and 3 more"), or as the JSON member "sensors" (every one). 0, or -1 (dbr_error()). */
enum { REPORT_MAX_SENSORS = 4 }; /* named on the first line; the rest counted */

static int sensors(struct dbr *r, int64_t run, bool json, FILE *out)
{
    struct dbr_rows *rows = dbr_sensors(r, run);
    if (!rows)
        return -1;
    char names[REPORT_MAX_SENSORS][80];
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len = 0;
        const char *s = dbr_text(rows, 0, &len);
        if (!s)
            continue; /* the query leaves NULL out */
        if (json) {
            fputs(n ? ", " : ",\n  \"sensors\": [", out);
            esc_json(out, s, len);
        } else if (n < REPORT_MAX_SENSORS) {
            esc_tsv_cut(names[n], sizeof names[n], s, len, 40);
        }
        n++;
    }
    dbr_rows_free(rows);
    if (json) {
        fputs(n ? "]" : ",\n  \"sensors\": []", out);
    } else if (n) {
        fputs(n == 1 ? "; sensor " : "; sensors ", out);
        for (int i = 0; i < n && i < REPORT_MAX_SENSORS; i++)
            fprintf(out, "%s%s", i ? ", " : "", names[i]);
        if (n > REPORT_MAX_SENSORS)
            fprintf(out, " and %d more", n - REPORT_MAX_SENSORS);
    }
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
    int width = REPORT_WIDTH;
    if (isatty(STDOUT_FILENO) && table_term_width(STDOUT_FILENO) < width)
        width = table_term_width(STDOUT_FILENO);
    struct dbr_totals tot;
    int rc = dbr_totals(r, &tot);
    int64_t run = o->latest ? dbr_latest_run(r) : o->run_id;
    if (rc == 0 && run < 0)
        rc = -1;
    else if (rc == 0 && o->latest && run == 0)
        rc = -3; /* --latest of an empty database */
    else if (rc == 0 && run > 0 && !run_exists(r, run))
        rc = -4;
    if (rc == 0 && o->json) {
        fprintf(out, "{\n  \"database\": ");
        esc_json(out, o->db_path, strlen(o->db_path));
        fprintf(out, ",\n  \"schema_version\": %d,\n  \"schema_revision\": %d,\n"
                     "  \"run\": ", SCHEMA_VERSION, SCHEMA_REVISION);
        if (run)
            fprintf(out, "%" PRId64, run);
        else
            fputs("null", out);
        fprintf(out, ",\n  \"totals\": {\"runs\": %" PRId64 ", \"flows\": %" PRId64
                     ", \"exchanges\": %" PRId64 "}", tot.runs, tot.flows, tot.exchanges);
        rc = sensors(r, run, true, out);
    } else if (rc == 0) {
        fprintf(out, "%s: %" PRId64 " runs, %" PRId64 " flows, %" PRId64
                " exchanges (schema %d.%d)", o->db_path, tot.runs, tot.flows, tot.exchanges,
                SCHEMA_VERSION, SCHEMA_REVISION);
        rc = sensors(r, run, false, out);
        if (run)
            fprintf(out, "; showing run %" PRId64, run);
        fputc('\n', out);
    }
    for (size_t i = 0; rc == 0 && i < sizeof sections / sizeof sections[0]; i++) {
        if (run && sections[i].q == DBR_VERDICTS)
            continue; /* one run: its verdicts are the run's */
        struct dbr_rows *rows = dbr_query(r, sections[i].q, run);
        rc = !rows ? -1
             : o->json ? section_json(rows, sections[i].name, out)
                       : section_table(rows, sections[i].title,
                                       sections[i].q == DBR_CAPTURE ||
                                           sections[i].q == DBR_WIRE ||
                                           sections[i].q == DBR_CAPS ||
                                           sections[i].q == DBR_FRAMING,
                                       sections[i].q == DBR_CLIENT_TIMERS && width > TIMERS_WIDTH
                                           ? TIMERS_WIDTH : width, out);
        dbr_rows_free(rows);
    }
    if (rc == 0)
        rc = rules_section(r, run, o->json, width, out);
    if (rc == 0 && o->json)
        fprintf(out, "\n}\n");
    if (rc == -2)
        fprintf(stderr, "expectscope: out of memory formatting the report\n");
    else if (rc == -3)
        fprintf(stderr, "expectscope: %s: no run yet\n", o->db_path);
    else if (rc == -4)
        fprintf(stderr, "expectscope: %s: no run %" PRId64 "\n", o->db_path, run);
    else if (rc != 0)
        fprintf(stderr, "expectscope: %s\n", dbr_error(r));
    dbr_close(r);
    return rc == 0 ? EXIT_OK : EXIT_INPUT;
}
