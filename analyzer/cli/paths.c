/* paths.c: the `paths` command: per Host, each path the traffic took (direct to an
 * address, or through a named intermediary) with its outcomes, the Hosts whose paths
 * disagree first (e.g. direct continue_ok, through the edge expectation_failed). The
 * rows come from storage's read API (DBR_PATHS, over v_path_compare); this file lays
 * them out. See cli.h.
 *
 * Owns: nothing beyond one call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "read.h"
#include "table.h"

enum { WIDTH = 100 };

enum {
    P_PATH, P_ADDR, P_EXCHANGES, P_EXPECT, P_CONTINUE, P_417, P_FALLBACK, P_PROBLEMS,
    P_WAIT50, P_WAIT95, P_CONT50, P_BYPROXY, P_COUNT
};

/* Titles kept short so that a Host's table fits 100 columns (docs/paths.md says what
 * each means); widths follow the data. */
static const struct table_col col_defs[P_COUNT] = {
    [P_PATH] = { "path", 32, 10, 0, false, 0 },
    [P_ADDR] = { "address", 47, 15, 0, false, 0 },
    [P_EXCHANGES] = { "exch", 12, 0, 0, true, 0 },
    [P_EXPECT] = { "expect", 12, 0, 3, true, 0 },
    [P_CONTINUE] = { "ok", 12, 0, 0, true, 0 },
    [P_417] = { "417", 12, 0, 0, true, 0 },
    [P_FALLBACK] = { "fallback", 12, 0, 0, true, 0 },
    [P_PROBLEMS] = { "problems", 12, 0, 0, true, 0 },
    [P_WAIT50] = { "wait_p50", 12, 0, 1, true, 0 },
    [P_WAIT95] = { "wait_p95", 12, 0, 2, true, 0 },
    [P_CONT50] = { "100_p50", 12, 0, 1, true, 0 },
    [P_BYPROXY] = { "by_proxy", 12, 0, 4, true, 0 },
};

/* The value of a column of the current row as text ("-" for NULL). */
static const char *value(struct dbr_rows *rows, const char *name, char *buf, size_t len,
                         size_t *n)
{
    int c = dbr_col_index(rows, name);
    switch (c < 0 ? DBR_NULL : dbr_type(rows, c)) {
    case DBR_NULL:
        snprintf(buf, len, "-");
        break;
    case DBR_INT:
        snprintf(buf, len, "%" PRId64, dbr_int(rows, c));
        break;
    case DBR_REAL:
        snprintf(buf, len, "%.1f", dbr_real(rows, c));
        break;
    case DBR_TEXT:
        return dbr_text(rows, c, n);
    }
    *n = strlen(buf);
    return buf;
}

/* One row's cells, as text (display text is made when printed). */
struct row {
    char host[520];
    bool disagree;
    char cell[P_COUNT][128];
};

static void get_row(struct dbr_rows *rows, struct row *r)
{
    static const char *const names[P_COUNT] = {
        "path", "", "exchanges", "with_expect", "continue_ok", "expectation_failed",
        "timeout_fallback", "problems", "wait_ms_p50", "wait_ms_p95", "continue_ms_p50",
        "answered_by_intermediary",
    };
    int hc = dbr_col_index(rows, "host");
    size_t hl = 0;
    if (dbr_type(rows, hc) == DBR_NULL)
        snprintf(r->host, sizeof r->host, "(no Host)");
    else {
        const char *h = dbr_text(rows, hc, &hl);
        esc_tsv_cut(r->host, sizeof r->host, h, hl, 80);
    }
    r->disagree = dbr_int(rows, dbr_col_index(rows, "paths_disagree")) == 1;
    for (int i = 0; i < P_COUNT; i++) {
        char buf[128];
        size_t n = 0;
        const char *p;
        if (i == P_ADDR) {
            char ip[96];
            size_t in;
            const char *a = value(rows, "server_ip", ip, sizeof ip, &in);
            bool v6 = memchr(a, ':', in) != NULL;
            snprintf(buf, sizeof buf, "%s%.*s%s:%" PRId64, v6 ? "[" : "", (int)(in < 64 ? in : 64),
                     a, v6 ? "]" : "", dbr_int(rows, dbr_col_index(rows, "server_port")));
            p = buf;
            n = strlen(buf);
        } else {
            p = value(rows, names[i], buf, sizeof buf, &n);
        }
        esc_tsv_cut(r->cell[i], sizeof r->cell[i], p, n, 40);
    }
}

static void put_header(FILE *out, const struct table_col *cols)
{
    struct table_line hdr = { out, false, 0 };
    fputs("  ", out);
    for (int i = 0; i < P_COUNT; i++)
        table_cell(&hdr, &cols[i], cols[i].title, strlen(cols[i].title));
    table_end(&hdr);
}

/* Every path of every Host; columns as wide as their widest cell, fitted to 100 (or a
 * narrower terminal). Rows are few: one per Host, path and address. */
static int text(struct dbr_rows *rows, FILE *out)
{
    struct row *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = dbr_next(rows)) == 1) {
        if (n == cap) {
            size_t want = cap ? cap * 2 : 64;
            struct row *w = realloc(v, want * sizeof *w);
            if (!w) {
                free(v);
                return -2;
            }
            v = w;
            cap = want;
        }
        get_row(rows, &v[n++]);
    }
    struct table_col cols[P_COUNT];
    memcpy(cols, col_defs, sizeof cols);
    for (int i = 0; i < P_COUNT; i++) {
        int w = (int)strlen(cols[i].title);
        for (size_t k = 0; k < n; k++) {
            int cw = table_text_width(v[k].cell[i], strlen(v[k].cell[i]), cols[i].width);
            w = cw > w ? cw : w;
        }
        cols[i].width = w;
        cols[i].min = cols[i].min > w ? w : cols[i].min;
    }
    int width = isatty(STDOUT_FILENO) && table_term_width(STDOUT_FILENO) < WIDTH
                    ? table_term_width(STDOUT_FILENO)
                    : WIDTH;
    table_fit(cols, P_COUNT, width - 2);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (k == 0 || strcmp(v[k].host, v[k - 1].host) != 0) {
            fprintf(out, "%sHost %s%s\n", k ? "\n" : "", v[k].host,
                    v[k].disagree ? "    <- the paths disagree" : "");
            put_header(out, cols);
        }
        struct table_line line = { out, false, 0 };
        fputs("  ", out);
        for (int i = 0; i < P_COUNT; i++)
            table_cell(&line, &cols[i], v[k].cell[i], strlen(v[k].cell[i]));
        table_end(&line);
    }
    if (rc == 0 && n == 0)
        fprintf(out, "(no HTTP exchanges)\n");
    free(v);
    return rc;
}

static int json(struct dbr_rows *rows, FILE *out)
{
    int rc = table_json_rows(rows, "", out);
    fputc('\n', out);
    return rc;
}

int cmd_paths(const struct options *o)
{
    char err[700];
    struct dbr *r = dbr_open(o->db_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "expectscope: %s\n", err);
        return EXIT_INPUT;
    }
    int64_t run = o->latest ? dbr_latest_run(r) : o->run_id;
    struct dbr_rows *rows = run >= 0 ? dbr_query(r, DBR_PATHS, run) : NULL;
    int rc = !rows ? -1 : o->json ? json(rows, stdout) : text(rows, stdout);
    if (rc == -2)
        fprintf(stderr, "expectscope: out of memory\n");
    else if (rc < 0)
        fprintf(stderr, "expectscope: %s\n", dbr_error(r));
    dbr_rows_free(rows);
    dbr_close(r);
    return rc < 0 ? EXIT_INPUT : EXIT_OK;
}
