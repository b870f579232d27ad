/* html_ladder.c: one exchange of the HTML report as a ladder diagram with the rules it
 * broke and its raw header blocks, and the writers of captured text the report shares
 * (html.h). Owns nothing: the row and its header blocks are borrowed from xrow for the
 * call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "html.h"
#include "rules.h"

enum {
    LADDER_TEXT_BYTES = 60, /* captured bytes in a label; the blocks below hold them all */
    LADDER_MAX_INTERIM = 8, /* interim_ms keeps the first 8 */
};

bool html_real(const struct xrow *x, enum xcol c, double *v)
{
    if (xrow_null(x, c))
        return false;
    *v = xrow_real(x, c);
    return isfinite(*v);
}

void html_text(FILE *out, const struct xrow *x, enum xcol c)
{
    size_t n;
    const char *t = xrow_text(x, c, &n);
    if (t)
        esc_html(out, t, n);
}

void html_cut(FILE *out, const char *p, size_t n, size_t max)
{
    if (!p)
        return;
    if (n <= max) {
        esc_html(out, p, n);
        return;
    }
    size_t k = max;
    for (int back = 0; back < 3 && k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80; back++)
        k--;
    esc_html(out, p, k);
    fputs("\xe2\x80\xa6", out);
}

const char *html_time(double epoch_s, char *buf, size_t len)
{
    char iso[64];
    export_iso_time(epoch_s, iso, sizeof iso);
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" -> "YYYY-MM-DD HH:MM:SS.mmm" */
    if (strlen(iso) >= 23) {
        iso[10] = ' ';
        iso[23] = '\0';
    }
    snprintf(buf, len, "%s", iso);
    return buf;
}

void html_endpoint(FILE *out, const struct xrow *x, enum xcol ip, enum xcol port)
{
    size_t n;
    const char *t = xrow_text(x, ip, &n);
    if (!t) {
        fputs("?", out);
        return;
    }
    bool v6 = memchr(t, ':', n) != NULL;
    fputs(v6 ? "[" : "", out);
    esc_html(out, t, n);
    fprintf(out, "%s:%lld", v6 ? "]" : "", (long long)xrow_int(x, port));
}

/* A comma-separated list of numbers ("103,100", "0.512,1000.250"): at most max of them
 * into v; the count. Anything that is not a number ends the list. */
static int number_list(const struct xrow *x, enum xcol c, double *v, int max)
{
    size_t n;
    const char *t = xrow_text(x, c, &n);
    int k = 0;
    size_t i = 0;
    while (t && i < n && k < max) {
        size_t j = i;
        while (j < n && t[j] != ',')
            j++;
        char num[40];
        size_t len = j - i < sizeof num - 1 ? j - i : sizeof num - 1;
        memcpy(num, t + i, len);
        num[len] = '\0';
        char *end;
        double d = strtod(num, &end);
        if (!len || *end || !isfinite(d))
            break;
        v[k++] = d;
        i = j + 1;
    }
    return k;
}

/* What a ladder shows, at the capture point, in ms from the end of the request headers. */
enum ev_kind { EV_START, EV_REQUEST, EV_INTERIM, EV_BODY, EV_BODY_END, EV_FINAL };
static const char *const ev_names[] = { "start", "request", "interim", "body", "body_end",
                                        "final" };

struct event {
    enum ev_kind kind;
    double ms;
    long long code; /* interim and final status */
};

/* By time; at the same time, in the order of a normal exchange. */
static int event_order(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

static const char *interim_name(long long code)
{
    switch (code) {
    case 100: return " Continue";
    case 102: return " Processing";
    case 103: return " Early Hints";
    default: return "";
    }
}

/* The ladder's geometry: the time on the left, three lifelines, time going down. */
enum { LX_TIME = 104, LX_CLIENT = 112, LX_CAPTURE = 340, LX_SERVER = 568, L_WIDTH = 680 };

/* One arrow across the capture point, its dot at y (where the capture saw it), the time
 * on the left and the label by the sender. */
static void ladder_event(FILE *out, const struct xrow *x, const struct event *e, int y)
{
    bool to_server = e->kind != EV_INTERIM && e->kind != EV_FINAL;
    const char *cls = e->kind == EV_INTERIM                          ? "int"
                      : e->kind == EV_FINAL                          ? "fin"
                      : e->kind == EV_BODY || e->kind == EV_BODY_END ? "bod"
                                                                     : "req";
    fprintf(out, "<g class=\"ev\" data-kind=\"%s\" data-ms=\"%.3f\"", ev_names[e->kind], e->ms);
    if (e->kind == EV_INTERIM || e->kind == EV_FINAL)
        fprintf(out, " data-code=\"%lld\"", e->code);
    int x0 = to_server ? LX_CLIENT : LX_SERVER, x1 = to_server ? LX_SERVER : LX_CLIENT;
    int head = to_server ? -8 : 8;
    fprintf(out,
            "><text class=\"tm\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%+.3f ms</text>"
            "<path class=\"arr %s\" d=\"M%d %dL%d %dM%d %dL%d %dL%d %d\"/>"
            "<circle class=\"dot\" cx=\"%d\" cy=\"%d\" r=\"3\"/>"
            "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"%s\">",
            LX_TIME - 10, y + 4, e->ms, cls, x0, y - 5, x1, y + 5, x1 + head, y, x1, y + 5,
            x1 + head, y + 9, LX_CAPTURE, y, to_server ? LX_CLIENT + 8 : LX_SERVER - 8, y - 8,
            to_server ? "start" : "end");
    size_t n;
    const char *t;
    double w;
    switch (e->kind) {
    case EV_START:
        fputs("request starts", out);
        break;
    case EV_REQUEST:
        t = xrow_text(x, XC_METHOD, &n);
        html_cut(out, t, n, 16);
        fputc(' ', out);
        t = xrow_text(x, XC_URI, &n);
        html_cut(out, t, n, LADDER_TEXT_BYTES);
        if ((t = xrow_text(x, XC_EXPECT, &n))) {
            fputs(" \xc2\xb7 Expect: ", out);
            html_cut(out, t, n, 24);
        }
        break;
    case EV_INTERIM:
        fprintf(out, "%lld%s", e->code, interim_name(e->code));
        break;
    case EV_BODY:
        fprintf(out, "body starts (%lld bytes in all)", (long long)xrow_int(x, XC_BODY_BYTES));
        if (html_real(x, XC_WAIT_MS, &w) && w > 0)
            fprintf(out, ", the client waited %.3f ms", w);
        break;
    case EV_BODY_END:
        fputs("body ends", out);
        break;
    case EV_FINAL:
        fprintf(out, "%lld ", e->code);
        t = xrow_text(x, XC_REASON, &n);
        html_cut(out, t, n, LADDER_TEXT_BYTES);
        break;
    }
    fputs("</text></g>\n", out);
}

/* The SVG: one arrow per event in time order. The distance between two events grows
 * with the log of the time between them, so that a 1 s wait stands out without pushing
 * 0.1 ms steps on top of each other. */
static void ladder_svg(FILE *out, const struct xrow *x)
{
    struct event ev[2 + LADDER_MAX_INTERIM + 3];
    int n = 0;
    double ts, t_hdr, v;
    bool has_request = !xrow_null(x, XC_METHOD);
    if (has_request && html_real(x, XC_TS, &ts) && html_real(x, XC_T_HDR, &t_hdr) &&
        ts < t_hdr)
        ev[n++] = (struct event){ EV_START, (ts - t_hdr) * 1e3, 0 };
    if (has_request)
        ev[n++] = (struct event){ EV_REQUEST, 0, 0 };
    double ims[LADDER_MAX_INTERIM], codes[LADDER_MAX_INTERIM];
    int ni = number_list(x, XC_INTERIM_MS, ims, LADDER_MAX_INTERIM);
    int nc = number_list(x, XC_INTERIM_CODES, codes, LADDER_MAX_INTERIM);
    for (int i = 0; i < ni && i < nc; i++)
        ev[n++] = (struct event){ EV_INTERIM, ims[i], (long long)codes[i] };
    if (html_real(x, XC_WAIT_MS, &v))
        ev[n++] = (struct event){ EV_BODY, v, 0 };
    if (html_real(x, XC_BODY_END_MS, &v))
        ev[n++] = (struct event){ EV_BODY_END, v, 0 };
    if (!xrow_null(x, XC_STATUS))
        ev[n++] = (struct event){ EV_FINAL, html_real(x, XC_FINAL_MS, &v) ? v : 0,
                                  (long long)xrow_int(x, XC_STATUS) };
    qsort(ev, (size_t)n, sizeof ev[0], event_order);
    int ys[sizeof ev / sizeof ev[0]];
    int y = 44, y_req = -1, y_body = -1;
    for (int i = 0; i < n; i++) {
        if (i) {
            double gap = ev[i].ms - ev[i - 1].ms;
            y += 26 + (int)(14 * log10(1 + (gap > 0 ? gap : 0)));
        }
        ys[i] = y;
        if (ev[i].kind == EV_REQUEST)
            y_req = y;
        if (ev[i].kind == EV_BODY)
            y_body = y;
    }
    int height = y + 22;
    fprintf(out,
            "<svg class=\"lad\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\""
            " aria-label=\"ladder diagram\">"
            "<text class=\"hd\" x=\"%d\" y=\"14\" text-anchor=\"middle\">client</text>"
            "<text class=\"hd\" x=\"%d\" y=\"14\" text-anchor=\"middle\">capture point</text>"
            "<text class=\"hd\" x=\"%d\" y=\"14\" text-anchor=\"middle\">server</text>"
            "<path class=\"life\" d=\"M%d 22V%dM%d 22V%d\"/><path class=\"cap\" d=\"M%d 22V%d\"/>\n",
            L_WIDTH, height, L_WIDTH, height, LX_CLIENT, LX_CAPTURE, LX_SERVER, LX_CLIENT,
            height - 4, LX_SERVER, height - 4, LX_CAPTURE, height - 4);
    /* the client's wait, on its lifeline: from the end of its headers to its body */
    if (y_req >= 0 && y_body > y_req)
        fprintf(out, "<path class=\"waitb\" d=\"M%d %dV%d\"><title>the client waits</title>"
                     "</path>\n",
                LX_CLIENT, y_req, y_body);
    for (int i = 0; i < n; i++)
        ladder_event(out, x, &ev[i], ys[i]);
    fputs("</svg>\n", out);
}

/* The rules the exchange (or its flow) broke, as `show` lists them: ID, level, RFC
 * section, what the rule says, and what the wire showed. Nothing when none. 0, or -1
 * with x->err set. */
static int broken_rules(FILE *out, struct xrow *x)
{
    struct dbr_rows *rows = dbr_violations(x->r, xrow_int(x, XC_ID));
    if (!rows) {
        snprintf(x->err, sizeof x->err, "%s", dbr_error(x->r));
        return -1;
    }
    int rc, n = 0;
    while ((rc = dbr_next(rows)) == 1) {
        size_t len = 0, dlen = 0;
        const char *name = dbr_text(rows, 0, &len);
        const char *detail = dbr_text(rows, 1, &dlen);
        enum rule_id id = name ? rule_from_name(name, len) : R_COUNT;
        if (!n++)
            fputs("<div class=\"rules\"><h4>rules broken (docs/rules.md)</h4><ul>", out);
        fputs("<li><b>", out);
        if (name)
            html_cut(out, name, len, 8);
        fputs("</b>", out);
        if (id != R_COUNT)
            fprintf(out, " %s, %s: %s", rule_level(id), rule_section(id), rule_summary(id));
        if (detail) {
            fputs(" \xc2\xb7 ", out);
            html_cut(out, detail, dlen, 400);
        }
        fputs("</li>", out);
    }
    if (n)
        fputs("</ul></div>\n", out);
    dbr_rows_free(rows);
    if (rc < 0) {
        snprintf(x->err, sizeof x->err, "%s", dbr_error(x->r));
        return -1;
    }
    return 0;
}

/* A header block as captured, line by line: a CRLF ends a line as usual; a bare LF is
 * shown as \x0a before the line break (so the two can be told apart and every byte
 * recovered); every other byte as escape.h's display text, HTML-escaped. The newline
 * after <pre> is the one HTML drops, so a block that starts with an empty line keeps it. */
static void header_block(FILE *out, const char *title, const char *dir, const struct xblock *b)
{
    if (!b->set)
        return;
    fprintf(out, "<div><h4>%s</h4><pre data-dir=\"%s\">\n", title, dir);
    size_t start = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->p[i] != '\n')
            continue;
        bool crlf = i > start && b->p[i - 1] == '\r';
        esc_html(out, b->p + start, i - start - crlf);
        fputs(crlf ? "\n" : "<span class=\"lf\">\\x0a</span>\n", out);
        start = i + 1;
    }
    esc_html(out, b->p + start, b->len - start);
    fputs("</pre></div>", out);
}

int html_ladder(FILE *out, struct xrow *x, const char *vclass)
{
    long long id = (long long)xrow_int(x, XC_ID);
    size_t n;
    const char *t;
    fprintf(out, "<section class=\"ladder\" id=\"x%lld\" data-id=\"%lld\"><h3>"
                 "<a href=\"#r%lld\">#%lld</a> <span class=\"badge v-%s\">",
            id, id, id, id, vclass);
    html_text(out, x, XC_VERDICT);
    fputs("</span> ", out);
    t = xrow_text(x, XC_METHOD, &n);
    html_cut(out, t, n, 16);
    fputc(' ', out);
    t = xrow_text(x, XC_URI, &n);
    html_cut(out, t, n, 2 * LADDER_TEXT_BYTES);
    fputs("</h3><p class=\"note\">", out);
    double ts;
    char tb[64];
    if (html_real(x, XC_TS, &ts))
        fprintf(out, "%s UTC \xc2\xb7 ", html_time(ts, tb, sizeof tb));
    html_endpoint(out, x, XC_CLIENT_IP, XC_CLIENT_PORT);
    fputs(" \xe2\x86\x92 ", out);
    html_endpoint(out, x, XC_SERVER_IP, XC_SERVER_PORT);
    if ((t = xrow_text(x, XC_HOST, &n))) {
        fputs(" \xc2\xb7 Host ", out);
        html_cut(out, t, n, LADDER_TEXT_BYTES);
    }
    if (!xrow_null(x, XC_FLAGS)) {
        fputs(" \xc2\xb7 flags ", out);
        html_text(out, x, XC_FLAGS);
    }
    if (!xrow_null(x, XC_ANSWERED_BY)) {
        fputs(" \xc2\xb7 answered by ", out);
        html_text(out, x, XC_ANSWERED_BY);
        if (!xrow_null(x, XC_INTERMEDIARY)) {
            fputs(" (", out);
            html_text(out, x, XC_INTERMEDIARY);
            fputc(')', out);
        }
    }
    if (!xrow_null(x, XC_RETRY_OF))
        fprintf(out, " \xc2\xb7 retries <a href=\"#x%lld\">#%lld</a>",
                (long long)xrow_int(x, XC_RETRY_OF), (long long)xrow_int(x, XC_RETRY_OF));
    fputs("</p>\n", out);
    ladder_svg(out, x);
    if (xrow_null(x, XC_STATUS))
        fputs("<p class=\"note\">No final response in the capture.</p>\n", out);
    if (broken_rules(out, x) != 0 || xrow_blocks(x) != 0)
        return -1;
    if (x->request.set || x->interim.set || x->response.set) {
        fputs("<div class=\"hb\">", out);
        header_block(out, "request headers", "request", &x->request);
        header_block(out, "interim responses", "interim", &x->interim);
        header_block(out, "response headers", "response", &x->response);
        fputs("</div>\n", out);
    } else {
        fputs("<p class=\"note\">No header blocks stored for this exchange.</p>\n", out);
    }
    fputs("</section>\n", out);
    return 0;
}
