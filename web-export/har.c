/* har.c: HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), one log whose
 * entries are the exchanges, for Chromium's and Firefox's DevTools (Network, Import
 * HAR) and HAR viewers. docs/export.md "HAR" says what each member holds.
 *
 * Streamed: begin writes the log's head, each row one entry on its own line, end the
 * closing brackets. Nothing is kept from one entry to the next but the scratch buffer
 * of the URL (struct xrow's scratch, reused).
 *
 * Headers come from the stored header blocks (xrow_blocks(), parsed with hblock.h);
 * the database keeps blocks only for exchanges that are not plain, so for those the
 * headers are built from the columns (Host, User-Agent, Expect, Content-Length, Server,
 * Via) and `_headers` says "columns". No body is stored: content.text is absent.
 *
 * Timings are durations in ms, and add up to `time` exactly (each is rounded to the
 * microsecond first): send is the request's header block (ts to t_hdr) and the time
 * its body took before the final status; wait the rest until the final status line
 * (the Expect handshake's pause is there); receive the final status to the response's
 * end. blocked, dns, connect and ssl are -1: not a part of one exchange.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "hblock.h"
#include "xrow.h"

/* ---- small pieces -------------------------------------------------------------------- */

static int add(struct xrow *x, const char *p, size_t n)
{
    struct xblock *b = &x->scratch;
    if (b->len + n + 1 > b->cap) {
        size_t want = b->cap ? b->cap : 256;
        while (want < b->len + n + 1)
            want *= 2;
        char *q = realloc(b->p, want);
        if (!q) {
            snprintf(x->err, sizeof x->err, "out of memory");
            return -1;
        }
        b->p = q;
        b->cap = want;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int adds(struct xrow *x, const char *s)
{
    return add(x, s, strlen(s));
}

/* A text column as a JSON string, "" when NULL (HAR wants a string). */
static void text_or_empty(const struct xrow *x, enum xcol c)
{
    size_t n;
    const char *t = xrow_text(x, c, &n);
    esc_json(x->out, t, n);
}

/* Microseconds of a column in ms, -1 when NULL; never negative otherwise. */
static int64_t col_us(const struct xrow *x, enum xcol c)
{
    if (xrow_null(x, c))
        return -1;
    double v = xrow_real(x, c) * 1000.0;
    return !(v > 0) ? 0 : v > 9e15 ? (int64_t)9e15 : (int64_t)llround(v);
}

static void put_ms(FILE *out, int64_t us)
{
    fprintf(out, "%lld.%03lld", (long long)(us / 1000), (long long)(us % 1000));
}

/* The next item of a comma-separated column ("103,100"), at *i of t[0, n). */
static bool next_item(const char *t, size_t n, size_t *i, const char **p, size_t *len)
{
    if (!t || *i >= n)
        return false;
    size_t j = *i;
    while (j < n && t[j] != ',')
        j++;
    *p = t + *i;
    *len = j - *i;
    *i = j + 1;
    return true;
}

/* A list item as a number; false when it is not one. */
static bool item_number(const char *p, size_t n, double *v)
{
    char num[40];
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, p, n);
    num[n] = '\0';
    char *end;
    *v = strtod(num, &end);
    return !*end && isfinite(*v);
}

/* Digits only, as Content-Length (RFC 9110 8.6); -1 otherwise or past 10^18. */
static int64_t digits(const char *p, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static bool has_flag(const struct xrow *x, const char *flag)
{
    size_t n, i = 0, k = strlen(flag), len;
    const char *t = xrow_text(x, XC_FLAGS, &n), *p;
    while (next_item(t, n, &i, &p, &len))
        if (len == k && memcmp(p, flag, k) == 0)
            return true;
    return false;
}

/* The start line of a block: the line up to its break, and where the fields begin. */
static size_t start_line(const char *p, size_t n, size_t *next)
{
    const char *nl = n ? memchr(p, '\n', n) : NULL;
    if (!nl) {
        *next = n;
        return n;
    }
    *next = (size_t)(nl - p) + 1;
    size_t e = (size_t)(nl - p);
    return e && p[e - 1] == '\r' ? e - 1 : e;
}

/* A status line "HTTP/1.1 100 Continue": its code (-1 when it has none) and reason. */
static int status_of(const char *p, size_t n, const char **reason, size_t *reason_len)
{
    size_t i = 0;
    while (i < n && p[i] != ' ')
        i++;
    while (i < n && p[i] == ' ')
        i++;
    if (n - i < 3)
        return -1;
    int code = 0;
    for (int k = 0; k < 3; k++) {
        if (p[i + k] < '0' || p[i + k] > '9')
            return -1;
        code = code * 10 + (p[i + k] - '0');
    }
    i += 3;
    if (i < n && p[i] == ' ')
        i++;
    *reason = p + i;
    *reason_len = n - i;
    return code;
}

/* ---- headers ------------------------------------------------------------------------- */

static void header(FILE *out, bool *first, const char *name, const char *v, size_t n)
{
    fputs(*first ? "{\"name\":" : ",{\"name\":", out);
    esc_json(out, name, strlen(name));
    fputs(",\"value\":", out);
    esc_json(out, v, n);
    fputc('}', out);
    *first = false;
}

/* The fields of the block at p[0, n) as HAR headers; how many bytes the block took (to
 * its empty line, or n). */
static size_t block_headers(FILE *out, const char *p, size_t n)
{
    struct hblock_iter it;
    hblock_iter_init(&it, p, n);
    const char *name, *v;
    size_t nl, vl;
    fputc('[', out);
    bool first = true;
    while (hblock_next(&it, &name, &nl, &v, &vl)) {
        fputs(first ? "{\"name\":" : ",{\"name\":", out);
        esc_json(out, name, nl);
        fputs(",\"value\":", out);
        esc_json(out, v, vl);
        fputc('}', out);
        first = false;
    }
    fputc(']', out);
    return n ? (size_t)(it.p - p) : 0;
}

/* A text column as a header, when it is set. */
static void column_header(const struct xrow *x, bool *first, const char *name, enum xcol c)
{
    size_t n;
    const char *t = xrow_text(x, c, &n);
    if (t)
        header(x->out, first, name, t, n);
}

static void request_columns(const struct xrow *x)
{
    bool first = true;
    fputc('[', x->out);
    column_header(x, &first, "Host", XC_HOST);
    column_header(x, &first, "User-Agent", XC_USER_AGENT);
    column_header(x, &first, "Expect", XC_EXPECT);
    if (!xrow_null(x, XC_CONTENT_LENGTH)) {
        char num[32];
        int k = snprintf(num, sizeof num, "%lld", (long long)xrow_int(x, XC_CONTENT_LENGTH));
        header(x->out, &first, "Content-Length", num, (size_t)k);
    }
    if (xrow_int(x, XC_CHUNKED))
        header(x->out, &first, "Transfer-Encoding", "chunked", 7);
    fputc(']', x->out);
}

static void response_columns(const struct xrow *x)
{
    bool first = true;
    fputc('[', x->out);
    column_header(x, &first, "Server", XC_SERVER);
    /* the column joins the request's Via and the response's: shown with the answer */
    column_header(x, &first, "Via", XC_VIA);
    fputc(']', x->out);
}

/* ---- cookies (RFC 6265: "a=b; c=d" and Set-Cookie's "a=b; Path=/; HttpOnly") ------- */

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* The next part of a cookie field between semicolons, trimmed; empty parts skipped. */
static bool next_part(const char *v, size_t n, size_t *i, const char **p, size_t *len)
{
    while (*i < n) {
        size_t j = *i;
        while (j < n && v[j] != ';')
            j++;
        *p = v + *i;
        *len = j - *i;
        *i = j + 1;
        trim(p, len);
        if (*len)
            return true;
    }
    return false;
}

/* "name=value" (a part without = is a name alone): its name and value, trimmed. */
static void split_pair(const char *p, size_t n, const char **name, size_t *nl,
                       const char **v, size_t *vl)
{
    const char *eq = memchr(p, '=', n);
    *name = p;
    *nl = eq ? (size_t)(eq - p) : n;
    *v = eq ? eq + 1 : p + n;
    *vl = eq ? n - *nl - 1 : 0;
    trim(name, nl);
    trim(v, vl);
}

/* Request: every pair of every Cookie field. Response: one cookie per Set-Cookie field,
 * with Path, Domain, HttpOnly and Secure (Expires is left out: HAR wants ISO 8601, and
 * the field's date is captured text). */
static void cookies(FILE *out, const struct xblock *b, bool response)
{
    struct hblock_iter it;
    hblock_iter_init(&it, b->set ? b->p : NULL, b->set ? b->len : 0);
    const char *name, *v, *part, *an, *av;
    size_t nl, vl, pl, anl, avl;
    bool first = true;
    fputc('[', out);
    while (hblock_next(&it, &name, &nl, &v, &vl)) {
        if (!hblock_name_is(name, nl, response ? "set-cookie" : "cookie"))
            continue;
        size_t i = 0;
        bool open = false;
        while (next_part(v, vl, &i, &part, &pl)) {
            split_pair(part, pl, &an, &anl, &av, &avl);
            if (!response || !open) {
                fputs(open ? "}," : first ? "" : ",", out);
                fputs("{\"name\":", out);
                esc_json(out, an, anl);
                fputs(",\"value\":", out);
                esc_json(out, av, avl);
                open = true;
                first = false;
            } else if (hblock_name_is(an, anl, "path")) {
                fputs(",\"path\":", out);
                esc_json(out, av, avl);
            } else if (hblock_name_is(an, anl, "domain")) {
                fputs(",\"domain\":", out);
                esc_json(out, av, avl);
            } else if (hblock_name_is(an, anl, "httponly")) {
                fputs(",\"httpOnly\":true", out);
            } else if (hblock_name_is(an, anl, "secure")) {
                fputs(",\"secure\":true", out);
            }
        }
        if (open)
            fputc('}', out);
    }
    fputc(']', out);
}

/* ---- the request --------------------------------------------------------------------- */

/* Where an absolute-form target's authority starts (after "scheme://"), 0 when the
 * target is in another form. */
static size_t absolute_form(const char *u, size_t n)
{
    size_t i = 0;
    if (!n || !((u[0] | 0x20) >= 'a' && (u[0] | 0x20) <= 'z'))
        return 0;
    while (i < n && (((u[i] | 0x20) >= 'a' && (u[i] | 0x20) <= 'z') ||
                     (u[i] >= '0' && u[i] <= '9') || u[i] == '+' || u[i] == '-' ||
                     u[i] == '.'))
        i++;
    return n - i >= 3 && memcmp(u + i, "://", 3) == 0 ? i + 3 : 0;
}

/* A host a URL can carry (what a browser's URL parser takes as is): a name of letters,
 * digits, '-', '.', '_' and '~', or an IPv6 literal in brackets, then an optional
 * ":port" of digits; a bare IPv6 literal (a Host without its brackets) is also taken
 * and bracketed by the caller. Anything else (spaces, markup, controls, non-ASCII) is
 * captured text that is no host, and the URL takes the server's address instead. */
static bool url_host_ok(const char *h, size_t n, bool *bare_v6)
{
    size_t i = 0, colons = 0;
    *bare_v6 = false;
    if (!n)
        return false;
    for (size_t k = 0; k < n; k++)
        colons += h[k] == ':';
    if (h[0] != '[' && colons > 1) { /* a bare IPv6 literal */
        for (; i < n; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                return false;
        *bare_v6 = true;
        return true;
    }
    if (h[0] == '[') {
        for (i = 1; i < n && h[i] != ']'; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                return false;
        if (i >= n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && h[i] != ':'; i++)
            if (!isalnum((unsigned char)h[i]) && (!h[i] || !strchr("-._~", h[i])))
                return false;
        if (i == 0)
            return false;
    }
    if (i == n)
        return true;
    if (h[i] != ':' || ++i == n || n - i > 5)
        return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)h[i]))
            return false;
    return true;
}

/* The server's address (IPv6 in brackets) and its port when not 80. */
static int server_authority(struct xrow *x)
{
    size_t sn;
    const char *s = xrow_text(x, XC_SERVER_IP, &sn);
    if (!s || !sn)
        return adds(x, "unknown.invalid"); /* RFC 6761: a name that never resolves */
    bool v6 = memchr(s, ':', sn) != NULL;
    int rc = (v6 ? adds(x, "[") : 0) | add(x, s, sn) | (v6 ? adds(x, "]") : 0);
    int64_t port = xrow_int(x, XC_SERVER_PORT);
    if (port && port != 80) {
        char num[16];
        int k = snprintf(num, sizeof num, ":%lld", (long long)port);
        rc |= add(x, num, (size_t)k);
    }
    return rc;
}

/* The request's URL into x->scratch: the target in absolute form as it is when its
 * authority is a host (url_host_ok), else http:// and the Host, or the server's address
 * and port when the Host is missing or no host, and the target. A viewer's URL parser
 * takes every URL this writes; the captured Host and target stay in the headers, _host
 * and the NDJSON export. */
static int url(struct xrow *x)
{
    size_t un, hn, mn;
    const char *u = xrow_text(x, XC_URI, &un);
    const char *h = xrow_text(x, XC_HOST, &hn);
    const char *m = xrow_text(x, XC_METHOD, &mn);
    bool v6;
    size_t at = u ? absolute_form(u, un) : 0;
    x->scratch.len = 0;
    if (at) {
        size_t end = at;
        while (end < un && u[end] != '/' && u[end] != '?' && u[end] != '#')
            end++;
        if (url_host_ok(u + at, end - at, &v6) && !v6)
            return add(x, u, un);
        /* the scheme, the server, then the path and query */
        if (add(x, u, at) != 0 || server_authority(x) != 0)
            return -1;
        u += end;
        un -= end;
    } else if (adds(x, "http://") != 0) {
        return -1;
    } else if (u && un && m && mn == 7 && memcmp(m, "CONNECT", 7) == 0) { /* authority */
        if (url_host_ok(u, un, &v6))
            return (v6 ? adds(x, "[") : 0) | add(x, u, un) | (v6 ? adds(x, "]") : 0);
        return server_authority(x);
    } else if (h && url_host_ok(h, hn, &v6)) {
        if (((v6 ? adds(x, "[") : 0) | add(x, h, hn) | (v6 ? adds(x, "]") : 0)) != 0)
            return -1;
    } else if (server_authority(x) != 0) {
        return -1;
    }
    if (!u || !un || u[0] != '/') /* asterisk-form and the rest: a path after all */
        if (adds(x, "/") != 0)
            return -1;
    return u && un ? add(x, u, un) : 0;
}

/* The target's query as HAR's queryString: the pairs between ? and #, split at & and
 * the first =, as captured (not percent-decoded). */
static void query_string(FILE *out, const char *u, size_t n)
{
    fputc('[', out);
    const char *q = u ? memchr(u, '?', n) : NULL;
    if (q) {
        const char *end = memchr(q, '#', (size_t)(u + n - q));
        size_t qn = (size_t)((end ? end : u + n) - q - 1), i = 0;
        const char *p = q + 1;
        bool first = true;
        while (i < qn) {
            size_t j = i;
            while (j < qn && p[j] != '&')
                j++;
            if (j > i) {
                const char *eq = memchr(p + i, '=', j - i);
                size_t k = eq ? (size_t)(eq - (p + i)) : j - i;
                fputs(first ? "{\"name\":" : ",{\"name\":", out);
                esc_json(out, p + i, k);
                fputs(",\"value\":", out);
                esc_json(out, eq ? eq + 1 : p + j, eq ? j - i - k - 1 : 0);
                fputc('}', out);
                first = false;
            }
            i = j + 1;
        }
    }
    fputc(']', out);
}

/* "HTTP/1.1" from a version column ("1.1"); "" when the capture did not show it. */
static void http_version(const struct xrow *x, enum xcol c)
{
    size_t n;
    const char *v = xrow_text(x, c, &n);
    char buf[48];
    int k = v ? snprintf(buf, sizeof buf, "HTTP/%.*s", (int)(n < 40 ? n : 40), v) : 0;
    esc_json(x->out, buf, k > 0 ? (size_t)k : 0);
}

static int request(struct xrow *x)
{
    FILE *out = x->out;
    fputs("\"request\":{\"method\":", out);
    text_or_empty(x, XC_METHOD);
    if (url(x) != 0)
        return -1;
    fputs(",\"url\":", out);
    esc_json(out, x->scratch.p, x->scratch.len);
    fputs(",\"httpVersion\":", out);
    http_version(x, XC_HTTP_VERSION);
    fputs(",\"cookies\":", out);
    cookies(out, &x->request, false);
    fputs(",\"headers\":", out);
    if (x->request.set)
        block_headers(out, x->request.p, x->request.len);
    else
        request_columns(x);
    size_t un;
    const char *u = xrow_text(x, XC_URI, &un);
    fputs(",\"queryString\":", out);
    query_string(out, u, un);
    bool whole = x->request.set && !has_flag(x, "headers_truncated");
    fprintf(out, ",\"headersSize\":%lld,\"bodySize\":%lld}",
            whole ? (long long)x->request.len : -1LL,
            xrow_null(x, XC_T_HDR) ? -1LL : (long long)xrow_int(x, XC_BODY_BYTES));
    return 0;
}

/* ---- the response -------------------------------------------------------------------- */

static void response(struct xrow *x)
{
    FILE *out = x->out;
    const struct xblock *b = &x->response;
    fprintf(out, "\"response\":{\"status\":%lld,\"statusText\":",
            (long long)xrow_int(x, XC_STATUS));
    text_or_empty(x, XC_REASON);
    fputs(",\"httpVersion\":", out);
    http_version(x, XC_RESPONSE_VERSION);
    fputs(",\"cookies\":", out);
    cookies(out, b, true);
    fputs(",\"headers\":", out);
    if (b->set)
        block_headers(out, b->p, b->len);
    else
        response_columns(x);
    const char *v;
    size_t vl;
    int64_t size = -1;
    /* as declared: the body is neither stored nor counted; coded, its size is unknown */
    if (b->set && !hblock_find(b->p, b->len, "content-encoding", &v, &vl) &&
        hblock_find(b->p, b->len, "content-length", &v, &vl))
        size = digits(v, vl);
    fprintf(out, ",\"content\":{\"size\":%lld,\"mimeType\":", (long long)size);
    if (b->set && hblock_find(b->p, b->len, "content-type", &v, &vl) && vl)
        esc_json(out, v, vl);
    else
        fputs("\"x-unknown\"", out);
    fputs("},\"redirectURL\":", out);
    if (b->set && hblock_find(b->p, b->len, "location", &v, &vl))
        esc_json(out, v, vl);
    else
        fputs("\"\"", out);
    bool whole = b->set && !has_flag(x, "headers_truncated");
    fprintf(out, ",\"headersSize\":%lld,\"bodySize\":-1}",
            whole ? (long long)b->len : -1LL);
}

/* ---- timings ------------------------------------------------------------------------- */

struct har_times {
    int64_t send, wait, receive; /* microseconds */
};

static struct har_times timings(const struct xrow *x)
{
    int64_t hdr = 0;
    if (!xrow_null(x, XC_TS) && !xrow_null(x, XC_T_HDR)) {
        double d = (xrow_real(x, XC_T_HDR) - xrow_real(x, XC_TS)) * 1e6;
        hdr = !(d > 0) ? 0 : d > 9e15 ? (int64_t)9e15 : (int64_t)llround(d);
    }
    /* all after t_hdr */
    int64_t body0 = col_us(x, XC_WAIT_MS), body1 = col_us(x, XC_BODY_END_MS);
    int64_t fin = col_us(x, XC_FINAL_MS), end = col_us(x, XC_END_MS);
    /* the body's own time, as far as it came before the final status */
    int64_t body = 0;
    if (body0 >= 0 && body1 >= body0) {
        int64_t stop = fin >= 0 && fin < body1 ? fin : body1;
        body = stop > body0 ? stop - body0 : 0;
    }
    /* without a final status, the wait lasts to the last thing the capture showed */
    int64_t until = fin;
    if (until < 0) {
        until = body1 > 0 ? body1 : 0;
        int64_t c = col_us(x, XC_CONTINUE_MS);
        if (c > until)
            until = c;
        size_t n, i = 0, len;
        const char *t = xrow_text(x, XC_INTERIM_MS, &n), *p;
        double v;
        while (next_item(t, n, &i, &p, &len))
            if (item_number(p, len, &v) && v * 1000.0 > (double)until && v < 9e12)
                until = (int64_t)llround(v * 1000.0);
    }
    return (struct har_times){
        .send = hdr + body,
        .wait = until > body ? until - body : 0,
        .receive = fin >= 0 && end > fin ? end - fin : 0,
    };
}

/* ---- expectscope's own members ------------------------------------------------------- */

/* Each 1xx: its code and time (ms after t_hdr), and its status text and headers when
 * its block was stored (the interim blocks are stored one after the other). */
static void interim(struct xrow *x)
{
    FILE *out = x->out;
    size_t cn, mn, ci = 0, mi = 0, cl, ml, at = 0;
    const char *codes = xrow_text(x, XC_INTERIM_CODES, &cn), *ms = xrow_text(x, XC_INTERIM_MS,
                                                                             &mn);
    const char *cp, *mp;
    const struct xblock *b = &x->interim;
    size_t blen = b->set ? b->len : 0;
    fputs(",\"_interim\":[", out);
    bool first = true;
    while (next_item(codes, cn, &ci, &cp, &cl)) {
        double code = -1, t;
        fputs(first ? "{\"status\":" : ",{\"status\":", out);
        first = false;
        if (item_number(cp, cl, &code))
            fprintf(out, "%.15g", code);
        else
            fputs("null", out);
        fputs(",\"time\":", out);
        if (next_item(ms, mn, &mi, &mp, &ml) && item_number(mp, ml, &t))
            xjson_ms(out, t);
        else
            fputs("null", out);
        if (at < blen) {
            size_t next, ln = start_line(b->p + at, blen - at, &next);
            const char *reason = NULL;
            size_t rl = 0;
            if (status_of(b->p + at, ln, &reason, &rl) == (int)code) {
                fputs(",\"statusText\":", out);
                esc_json(out, reason, rl);
                fputs(",\"headers\":", out);
                at += block_headers(out, b->p + at, blen - at);
            } else {
                at = blen; /* the blocks no longer line up with the codes */
            }
        }
        fputc('}', out);
    }
    fputc(']', out);
}

/* "ip:port", an IPv6 address in brackets. */
static void endpoint(const struct xrow *x, enum xcol ip, enum xcol port)
{
    size_t n;
    const char *a = xrow_text(x, ip, &n);
    if (!a) {
        fputs("null", x->out);
        return;
    }
    char buf[96];
    bool v6 = memchr(a, ':', n) != NULL;
    int k = snprintf(buf, sizeof buf, "%s%.*s%s:%lld", v6 ? "[" : "", (int)(n < 64 ? n : 64),
                     a, v6 ? "]" : "", (long long)xrow_int(x, port));
    esc_json(x->out, buf, k > 0 && (size_t)k < sizeof buf ? (size_t)k : 0);
}

static void member(const struct xrow *x, const char *name, enum xcol c)
{
    fprintf(x->out, ",\"%s\":", name);
    xjson_col(x, c);
}

/* ---- the format ---------------------------------------------------------------------- */

static int begin(struct xrow *x)
{
    FILE *out = x->out;
    fputs("{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"expectscope\","
          "\"version\":\"" ES_VERSION "\"},\"comment\":",
          out);
    char note[1200];
    const char *db = x->info && x->info->db_path ? x->info->db_path : "";
    const char *words = x->info && x->info->filter_text ? x->info->filter_text : "";
    int k = snprintf(note, sizeof note, "exchanges of %s%s%s", db, words[0] ? ": " : "",
                     words);
    esc_json(out, note, k < 0 ? 0 : (size_t)k < sizeof note ? (size_t)k : sizeof note - 1);
    fputs(",\"pages\":[],\"entries\":[", out);
    return 0;
}

static int row(struct xrow *x)
{
    if (xrow_blocks(x) != 0)
        return -1;
    FILE *out = x->out;
    fputs(x->st->exchanges ? ",\n{" : "\n{", out);
    char iso[64];
    double ts = xrow_null(x, XC_TS) ? xrow_real(x, XC_T_HDR) : xrow_real(x, XC_TS);
    struct har_times t = timings(x);
    fprintf(out, "\"startedDateTime\":\"%s\",\"time\":", export_iso_time(ts, iso, sizeof iso));
    put_ms(out, t.send + t.wait + t.receive);
    fputc(',', out);
    if (request(x) != 0)
        return -1;
    fputc(',', out);
    response(x);
    fputs(",\"cache\":{},\"timings\":{\"blocked\":-1,\"dns\":-1,\"connect\":-1,\"ssl\":-1,"
          "\"send\":",
          out);
    put_ms(out, t.send);
    fputs(",\"wait\":", out);
    put_ms(out, t.wait);
    fputs(",\"receive\":", out);
    put_ms(out, t.receive);
    fputs("},\"serverIPAddress\":", out);
    text_or_empty(x, XC_SERVER_IP);
    fprintf(out, ",\"connection\":\"%lld\"", (long long)xrow_int(x, XC_FLOW_ID));

    member(x, "_id", XC_ID);
    member(x, "_run_id", XC_RUN_ID);
    member(x, "_seq", XC_SEQ);
    member(x, "_verdict", XC_VERDICT);
    fputs(",\"_flags\":", out);
    xjson_list(x, XC_FLAGS, false);
    fputs(",\"_violations\":", out);
    xjson_list(x, XC_VIOLATIONS, false);
    bool incomplete = xrow_null(x, XC_T_HDR) || xrow_null(x, XC_STATUS) ||
                      xrow_null(x, XC_END_MS);
    fprintf(out, ",\"_incomplete\":%s", incomplete ? "true" : "false");
    member(x, "_expect", XC_EXPECT);
    interim(x);
    member(x, "_interim_count", XC_INTERIM_COUNT);
    member(x, "_wait_ms", XC_WAIT_MS);
    member(x, "_continue_ms", XC_CONTINUE_MS);
    member(x, "_final_ms", XC_FINAL_MS);
    member(x, "_body_end_ms", XC_BODY_END_MS);
    member(x, "_end_ms", XC_END_MS);
    member(x, "_retry_of", XC_RETRY_OF);
    member(x, "_answered_by", XC_ANSWERED_BY);
    member(x, "_intermediary", XC_INTERMEDIARY);
    member(x, "_path_evidence", XC_PATH_EVIDENCE);
    fputs(",\"_client\":", out);
    endpoint(x, XC_CLIENT_IP, XC_CLIENT_PORT);
    fputs(",\"_server\":", out);
    endpoint(x, XC_SERVER_IP, XC_SERVER_PORT);
    fprintf(out, ",\"_headers\":\"%s\"}",
            x->request.set || x->interim.set || x->response.set ? "captured" : "columns");
    return 0;
}

static int end(struct xrow *x)
{
    fputs(x->st->exchanges ? "\n]}}\n" : "]}}\n", x->out);
    return 0;
}

const struct xformat xformat_har = { begin, row, end, NULL };
