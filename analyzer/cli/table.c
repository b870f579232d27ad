/* table.c: columns that fit a terminal. See table.h. */
#include "table.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "escape.h"
#include "read.h"

int table_term_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0; /* NOLINT: a bad value falls back to 80 */
    return n >= 20 && n <= 1000 ? n : 80;
}

int table_text_width(const void *p, size_t n, int cap)
{
    char buf[1024];
    esc_tsv_cut(buf, sizeof buf, p, n, (size_t)cap);
    int w = 0;
    for (const char *s = buf; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w > cap ? cap : w;
}

static int line_width(const struct table_col *cols, int n, bool at_min)
{
    int total = -1;
    for (int i = 0; i < n; i++)
        if (cols[i].shown)
            total += (at_min && cols[i].min ? cols[i].min : cols[i].width) + 1;
    return total;
}

void table_fit(struct table_col *cols, int n, int width)
{
    for (int i = 0; i < n; i++)
        cols[i].shown = cols[i].width;
    /* the extras go before anything is cut */
    while (line_width(cols, n, false) > width) {
        int drop = -1;
        for (int i = 0; i < n; i++)
            if (cols[i].shown && cols[i].priority >= TABLE_EXTRA &&
                (drop < 0 || cols[i].priority > cols[drop].priority))
                drop = i;
        if (drop < 0)
            break;
        cols[drop].shown = 0;
    }
    /* then columns, the least important first, until the rest fits at their minimums */
    while (line_width(cols, n, true) > width) {
        int drop = -1;
        for (int i = 0; i < n; i++)
            if (cols[i].shown && cols[i].priority &&
                (drop < 0 || cols[i].priority > cols[drop].priority))
                drop = i;
        if (drop < 0)
            break;
        cols[drop].shown = 0;
    }
    /* then shrink flexible columns, the least important first and among equals the
     * widest, a column at a time, only as far as needed */
    int over = line_width(cols, n, false) - width;
    while (over > 0) {
        int pick = -1;
        for (int i = 0; i < n; i++)
            if (cols[i].shown && cols[i].min && cols[i].shown > cols[i].min &&
                (pick < 0 || cols[i].priority > cols[pick].priority ||
                 (cols[i].priority == cols[pick].priority &&
                  cols[i].shown > cols[pick].shown)))
                pick = i;
        if (pick < 0)
            break;
        cols[pick].shown--;
        over--;
    }
}

void table_cell(struct table_line *l, const struct table_col *c, const void *p, size_t n)
{
    if (!c->shown)
        return;
    char buf[1024];
    size_t cols = (size_t)c->shown;
    esc_tsv_cut(buf, sizeof buf, p, n, cols);
    if (strlen(buf) > cols) /* cut: the "..." came past the column; make room for it */
        esc_tsv_cut(buf, sizeof buf, p, n, cols > 3 ? cols - 3 : 0);
    /* display width: a multi-byte UTF-8 character takes one column */
    int w = 0;
    for (const char *s = buf; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    int pad = (int)cols - w;
    if (l->started)
        fprintf(l->out, "%*s", l->pending + 1, "");
    l->started = true;
    if (c->right && pad > 0)
        fprintf(l->out, "%*s", pad, "");
    fputs(buf, l->out);
    /* a left-aligned cell's padding is written only if another cell follows it */
    l->pending = !c->right && pad > 0 ? pad : 0;
}

void table_end(struct table_line *l)
{
    fputc('\n', l->out);
    l->started = false;
    l->pending = 0;
}

/* The shortest of %.15g and %.17g that reads back as the same double: 1004.923 stays
 * 1004.923, not 1004.9230000000001. */
static void json_num(FILE *out, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

int table_json_rows(struct dbr_rows *rows, const char *indent, FILE *out)
{
    int cols = dbr_ncols(rows), n = 0, rc;
    fputc('[', out);
    while ((rc = dbr_next(rows)) == 1) {
        fprintf(out, "%s\n%s  {", n++ ? "," : "", indent);
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
    if (n)
        fprintf(out, "\n%s", indent);
    fputc(']', out);
    return rc;
}
