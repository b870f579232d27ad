/* test_metrics.c: the Prometheus metrics file (analyzer/cli/metrics.h).
 *
 * Exchanges and flows are built by hand, as tests/unit/test_verdict.c does, and the run's
 * counters are a struct pipeline_totals filled in here; each test writes the file, reads
 * it back and checks whole lines. Every file read back is also parsed as the text
 * exposition format 0.0.4 (check_parse(): comment and sample syntax, label escapes,
 * numbers, every family of docs/metrics.md once and in order), so a test that looks at
 * a few lines still proves the whole file is well formed. What promtool says about the
 * file is checked by tests/metrics/check_promtool.py, which runs
 *
 *   test_metrics --write FILE
 *
 * to get a realistic file (real verdict names, several servers, one IPv6, more servers
 * than are shown by name).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "exchange.h"
#include "flow.h"
#include "metrics.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every family, in the order the file has them (docs/metrics.md). */
static const char *const families[] = {
    "expectscope_build_info",
    "expectscope_run_start_time_seconds",
    "expectscope_last_write_time_seconds",
    "expectscope_last_packet_time_seconds",
    "expectscope_packets_total",
    "expectscope_bytes_total",
    "expectscope_cut_packets_total",
    "expectscope_kernel_drops_total",
    "expectscope_interface_drops_total",
    "expectscope_flows_total",
    "expectscope_flows_active",
    "expectscope_flows_evicted_total",
    "expectscope_http_flows_total",
    "expectscope_flows_by_verdict_total",
    "expectscope_exchanges_total",
    "expectscope_orphan_responses_total",
    "expectscope_parse_errors_total",
    "expectscope_framing_errors_total",
    "expectscope_stray_interims_total",
    "expectscope_tunnels_total",
    "expectscope_violations_total",
    "expectscope_server_417_total",
    "expectscope_server_timeout_fallbacks_total",
    "expectscope_server_table_overflows_total",
};

/* ---- building inputs ---------------------------------------------------------------- */

/* A flow whose server is addr:port (IPv4 when family is 4), client 10.9.9.9:40000. */
static void mkflow(struct flow *f, uint8_t family, const uint8_t *addr, uint16_t port)
{
    static const uint8_t client[16] = { 10, 9, 9, 9 };
    memset(f, 0, sizeof *f);
    f->key.family = family;
    memcpy(f->key.addr[0], client, 16);
    memcpy(f->key.addr[1], addr, family == 4 ? 4 : 16);
    f->key.port[0] = 40000;
    f->key.port[1] = port;
    f->client_ep = 0;
}

static void mkflow4(struct flow *f, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                    uint16_t port)
{
    const uint8_t addr[16] = { a, b, c, d };
    mkflow(f, 4, addr, port);
}

/* n exchanges on f with this final status and verdict. */
static void feed(struct metrics *m, const struct flow *f, int n, uint16_t status,
                 enum verdict v)
{
    struct exchange x;
    memset(&x, 0, sizeof x);
    x.has_request = true;
    x.status = status;
    x.verdict = v;
    for (int i = 0; i < n; i++)
        metrics_exchange(m, f, &x);
}

static void n417(struct metrics *m, const struct flow *f, int n)
{
    feed(m, f, n, 417, V_EXPECTATION_FAILED);
}

static void nfallback(struct metrics *m, const struct flow *f, int n)
{
    feed(m, f, n, 200, V_TIMEOUT_FALLBACK);
}

/* ---- reading the file back ------------------------------------------------------------ */

/* The whole file as a NUL-terminated string (malloc'd), or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, in);
        if (len < cap - 1)
            break;
        char *more = realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    bool bad = ferror(in);
    fclose(in);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Whether text holds this exact line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

/* The value of the sample whose line starts with `head` ("name{...} " or "name "), or
 * -1 when there is none. */
static double value_of(const char *text, const char *head)
{
    size_t n = strlen(head);
    for (const char *p = text; (p = strstr(p, head)) != NULL; p++)
        if (p == text || p[-1] == '\n')
            return strtod(p + n, NULL);
    return -1;
}

static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
        n += p == text || p[-1] == '\n';
    return n;
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* A metric or label name at *p; moves *p past it. Its length, 0 when there is none. */
static size_t name_at(const char **p)
{
    const char *s = *p;
    if (!name_char(*s, true))
        return 0;
    while (name_char(*s, false))
        s++;
    size_t n = (size_t)(s - *p);
    *p = s;
    return n;
}

/* Parse text as exposition format 0.0.4, as written by metrics.c: every line ends in a
 * newline; "# HELP name text", then "# TYPE name counter|gauge", then samples of that
 * name with optional labels (values quoted, escapes \\ \" \n only) and a number that
 * parses whole; the families are exactly those of families[], in order. "" when it
 * parses, else why not (in why). */
static const char *check_parse(const char *text, char *why, size_t why_len)
{
    size_t fam = 0;       /* families seen */
    int samples = 0;      /* of the current family */
    int lineno = 0;
    why[0] = '\0';
    const char *p = text;
    if (!*p)
        return snprintf(why, why_len, "empty file"), why;
    while (*p) {
        lineno++;
        const char *eol = strchr(p, '\n');
        if (!eol)
            return snprintf(why, why_len, "line %d: no newline at the end", lineno), why;
        if (strncmp(p, "# HELP ", 7) == 0) {
            if (fam > 0 && samples == 0)
                return snprintf(why, why_len, "line %d: family without samples", lineno),
                       why;
            if (fam == ARRAY_LEN(families))
                return snprintf(why, why_len, "line %d: an extra family", lineno), why;
            size_t n = strlen(families[fam]);
            if (strncmp(p + 7, families[fam], n) != 0 || p[7 + n] != ' ')
                return snprintf(why, why_len, "line %d: HELP of %s expected", lineno,
                                families[fam]), why;
            p = eol + 1;
            lineno++;
            eol = strchr(p, '\n');
            char type[200];
            snprintf(type, sizeof type, "# TYPE %s ", families[fam]);
            if (!eol || strncmp(p, type, strlen(type)) != 0)
                return snprintf(why, why_len, "line %d: TYPE of %s expected", lineno,
                                families[fam]), why;
            const char *t = p + strlen(type);
            size_t tn = (size_t)(eol - t);
            if (!(tn == 7 && strncmp(t, "counter", 7) == 0) &&
                !(tn == 5 && strncmp(t, "gauge", 5) == 0))
                return snprintf(why, why_len, "line %d: type %.*s", lineno, (int)tn, t), why;
            fam++;
            samples = 0;
            p = eol + 1;
            continue;
        }
        if (*p == '#')
            return snprintf(why, why_len, "line %d: unexpected comment", lineno), why;
        if (fam == 0)
            return snprintf(why, why_len, "line %d: sample before any TYPE", lineno), why;
        const char *s = p;
        size_t n = name_at(&s);
        if (n != strlen(families[fam - 1]) || strncmp(p, families[fam - 1], n) != 0)
            return snprintf(why, why_len, "line %d: sample not of %s", lineno,
                            families[fam - 1]), why;
        if (*s == '{') {
            s++;
            while (*s != '}') {
                if (!name_at(&s) || *s++ != '=' || *s++ != '"')
                    return snprintf(why, why_len, "line %d: bad label", lineno), why;
                while (*s != '"') {
                    if (*s == '\n' || !*s)
                        return snprintf(why, why_len, "line %d: open label value", lineno),
                               why;
                    if (*s == '\\') {
                        s++;
                        if (*s != '\\' && *s != '"' && *s != 'n')
                            return snprintf(why, why_len, "line %d: bad escape", lineno),
                                   why;
                    }
                    s++;
                }
                s++;
                if (*s == ',')
                    s++;
                else if (*s != '}')
                    return snprintf(why, why_len, "line %d: bad label list", lineno), why;
            }
            s++;
        }
        if (*s++ != ' ')
            return snprintf(why, why_len, "line %d: no space before the value", lineno),
                   why;
        char *end;
        errno = 0;
        strtod(s, &end);
        if (end == s || end != eol || errno)
            return snprintf(why, why_len, "line %d: bad value", lineno), why;
        samples++;
        p = eol + 1;
    }
    if (fam != ARRAY_LEN(families))
        return snprintf(why, why_len, "%zu families, not %zu", fam, ARRAY_LEN(families)),
               why;
    if (samples == 0)
        return snprintf(why, why_len, "the last family has no sample"), why;
    return why;
}

/* The file, read and parsed; NULL (after a failed check) when it does not parse. */
static char *read_metrics(const char *path)
{
    char *text = slurp(path);
    CHECK(text != NULL);
    if (!text)
        return NULL;
    char why[200];
    CHECK_STR(check_parse(text, why, sizeof why), "");
    if (why[0]) {
        fprintf(stderr, "---- %s ----\n%s----\n", path, text);
        free(text);
        return NULL;
    }
    return text;
}

/* ---- scratch directories --------------------------------------------------------------- */

static char scratch[64];

static void scratch_make(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/test_metrics-XXXXXX",
             tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror(scratch);
        exit(1);
    }
}

/* Remove the scratch directory and what the tests left in it (one level of
 * subdirectories). */
static void scratch_remove(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
        DIR *sub = opendir(p);
        struct dirent *f;
        while (sub && (f = readdir(sub)) != NULL) {
            char q[1024];
            snprintf(q, sizeof q, "%s/%s", p, f->d_name);
            if (strcmp(f->d_name, ".") && strcmp(f->d_name, ".."))
                unlink(q);
        }
        if (sub)
            closedir(sub);
        chmod(p, 0755);
        if (rmdir(p) != 0)
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(scratch);
}

/* Files in dir whose name holds ".tmp." (a temporary file left behind). */
static int tmp_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void test_escape(void)
{
    check_case("label value escaping");
    static const struct {
        const char *in;
        size_t n; /* 0: strlen(in) */
        const char *want;
    } cases[] = {
        { "10.0.0.2:80", 0, "10.0.0.2:80" },
        { "say \"hi\"", 0, "say \\\"hi\\\"" },
        { "C:\\dir\\", 0, "C:\\\\dir\\\\" },
        { "two\nlines\n", 0, "two\\nlines\\n" },
        { "\\\"\n\\n", 0, "\\\\\\\"\\n\\\\n" },            /* an escape's own text */
        { "\"} 1\nexpectscope_fake_total 99", 0,             /* a try at a new sample */
          "\\\"} 1\\nexpectscope_fake_total 99" },
        { "tab\tcr\r", 0, "tab\tcr\r" },                      /* allowed as they are */
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,     /* valid UTF-8 stays */
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
        { "a\xff" "b", 0, "a\xef\xbf\xbd" "b" },              /* not UTF-8 */
        { "\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd" },        /* overlong "/" */
        { "\xed\xa0\x80", 0,                                  /* a surrogate */
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "\xf4\x90\x80\x80", 0,                              /* past U+10FFFF */
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "end\xe2\x82", 0, "end\xef\xbf\xbd\xef\xbf\xbd" },  /* cut short */
        { "nul\0\"", 5, "nul\0\\\"" },                        /* bytes, not a C string */
        { "", 0, "" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        CHECK(out != NULL);
        if (!out)
            return;
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].in);
        metrics_label_value(out, cases[i].in, n);
        fclose(out);
        size_t want_len = cases[i].n ? n + 1 : strlen(cases[i].want);
        CHECK_MEM(buf, len, cases[i].want, want_len);
        free(buf);
    }
}

static void test_refusal(void)
{
    char err[300], path[256];
    check_case("a missing directory");
    struct metrics *m = metrics_new("/nonexistent-expectscope-dir/m.prom", 20, err,
                                    sizeof err);
    CHECK(m == NULL);
    CHECK_STR(err, "/nonexistent-expectscope-dir/m.prom: cannot use directory "
                   "/nonexistent-expectscope-dir: no such directory");
    metrics_free(m);

    check_case("a directory that is a file");
    snprintf(path, sizeof path, "%s/plain", scratch);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/plain/m.prom", scratch);
    m = metrics_new(path, 20, err, sizeof err);
    CHECK(m == NULL);
    CHECK(strstr(err, path) == err);
    CHECK(strstr(err, "plain is not a directory") != NULL);
    metrics_free(m);

    check_case("a directory as the file");
    m = metrics_new(scratch, 20, err, sizeof err);
    CHECK(m == NULL);
    CHECK(strstr(err, scratch) == err);
    CHECK(strstr(err, "is a directory") != NULL);

    check_case("an empty name, too many servers");
    CHECK(metrics_new("", 20, err, sizeof err) == NULL);
    CHECK_STR(err, "the metrics file name is empty");
    snprintf(path, sizeof path, "%s/m.prom", scratch);
    CHECK(metrics_new(path, METRICS_MAX_SERVERS + 1, err, sizeof err) == NULL);
    CHECK(strstr(err, path) == err);

    /* root writes anywhere: only another user can see the refusal of a read-only
     * directory. */
    if (geteuid() != 0) {
        check_case("a read-only directory");
        snprintf(path, sizeof path, "%s/ro", scratch);
        CHECK(mkdir(path, 0555) == 0);
        snprintf(path, sizeof path, "%s/ro/m.prom", scratch);
        m = metrics_new(path, 20, err, sizeof err);
        CHECK(m == NULL);
        CHECK(strstr(err, "cannot create files in") != NULL);
        metrics_free(m);
    }

    check_case("a good path: tried, nothing left");
    snprintf(path, sizeof path, "%s/ok/m.prom", scratch);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/ok", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    m = metrics_new(path, 20, err, sizeof err);
    CHECK(m != NULL);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(tmp_files(dir), 0);
    metrics_free(m);
    metrics_free(NULL);
}

/* Counters with a different value each, so a mixed-up field shows. */
static void mktotals(struct pipeline_totals *t)
{
    memset(t, 0, sizeof *t);
    t->source.packets = 1000001;
    t->source.bytes = 987654321;
    t->source.cut_packets = 3;
    t->source.kernel_drops = 7;
    t->source.if_drops = 2;
    t->flows.created = 500;
    t->flows.active = 42;
    t->flows.evicted = 11;
    t->http_flows = 300;
    for (int v = 0; v < V_COUNT; v++) {
        t->verdicts.by_verdict[v] = 1000 + (uint64_t)v;
        t->flow_verdicts[v] = 2000 + (uint64_t)v;
    }
    t->verdicts.by_verdict[V_UNSOLICITED_100] = 0; /* zeros are written too */
    for (int r = 0; r < R_COUNT; r++)
        t->rules.by_rule[r] = 3000 + (uint64_t)r;
    t->rules.by_rule[R_S7] = 0;
    t->flow_verdicts[V_LATE_100] = 0;
    t->http.orphan_responses = 5;
    t->http.parse_errors = 9;
    t->first_packet_us = 1700000000000001ull;
    t->last_packet_us = 1700000123456789ull;
}

static void test_lines(void)
{
    check_case("every line");
    char err[300], path[256];
    snprintf(path, sizeof path, "%s/lines.prom", scratch);
    struct metrics *m = metrics_new(path, 2, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    struct flow a, b, c, d, e;
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
    mkflow4(&a, 10, 0, 0, 2, 80);
    mkflow4(&b, 10, 0, 0, 3, 8080);
    mkflow(&c, 6, v6, 443);
    mkflow4(&d, 10, 0, 0, 4, 80);
    mkflow4(&e, 10, 0, 0, 5, 80);
    n417(m, &a, 3);
    nfallback(m, &a, 1);
    nfallback(m, &b, 2);
    n417(m, &c, 1);
    nfallback(m, &d, 1);
    feed(m, &e, 50, 200, V_CONTINUE_OK); /* neither: no room taken, nothing counted */
    feed(m, &e, 5, 401, V_EARLY_FINAL);
    struct pipeline_totals t;
    mktotals(&t);
    uint64_t before = now_us();
    CHECK_EQ(metrics_write(m, &t, 1699999999000042ull, err, sizeof err), 0);
    uint64_t after = now_us();
    char *text = read_metrics(path);
    if (!text) {
        metrics_free(m);
        return;
    }
    static const char *const want[] = {
        "# HELP expectscope_build_info Always 1; the version of expectscope writing.",
        "# TYPE expectscope_build_info gauge",
        "expectscope_build_info{version=\"" ES_VERSION "\"} 1",
        "# TYPE expectscope_run_start_time_seconds gauge",
        "expectscope_run_start_time_seconds 1699999999.000042",
        "# TYPE expectscope_last_write_time_seconds gauge",
        "# TYPE expectscope_last_packet_time_seconds gauge",
        "expectscope_last_packet_time_seconds 1700000123.456789",
        "# TYPE expectscope_packets_total counter",
        "expectscope_packets_total 1000001",
        "# TYPE expectscope_bytes_total counter",
        "expectscope_bytes_total 987654321",
        "expectscope_cut_packets_total 3",
        "expectscope_kernel_drops_total 7",
        "expectscope_interface_drops_total 2",
        "expectscope_flows_total 500",
        "# TYPE expectscope_flows_active gauge",
        "expectscope_flows_active 42",
        "expectscope_flows_evicted_total 11",
        "expectscope_http_flows_total 300",
        "expectscope_orphan_responses_total 5",
        "expectscope_parse_errors_total 9",
        /* the top 2 by 417s + fallbacks: 10.0.0.2:80 (4), 10.0.0.3:8080 (2); the IPv6
         * server (1) and 10.0.0.4:80 (1) under other */
        "# TYPE expectscope_server_417_total counter",
        "expectscope_server_417_total{server=\"10.0.0.2:80\"} 3",
        "expectscope_server_417_total{server=\"10.0.0.3:8080\"} 0",
        "expectscope_server_417_total{server=\"other\"} 1",
        "# TYPE expectscope_server_timeout_fallbacks_total counter",
        "expectscope_server_timeout_fallbacks_total{server=\"10.0.0.2:80\"} 1",
        "expectscope_server_timeout_fallbacks_total{server=\"10.0.0.3:8080\"} 2",
        "expectscope_server_timeout_fallbacks_total{server=\"other\"} 1",
        "expectscope_server_table_overflows_total 0",
    };
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        check_case(want[i]);
        CHECK(has_line(text, want[i]));
    }
    check_case("every verdict, zeros too");
    for (int v = V_NONE + 1; v < V_COUNT; v++) {
        char line[200];
        snprintf(line, sizeof line, "expectscope_exchanges_total{verdict=\"%s\"} %d",
                 verdict_name(v), v == V_UNSOLICITED_100 ? 0 : 1000 + v);
        CHECK(has_line(text, line));
        snprintf(line, sizeof line, "expectscope_flows_by_verdict_total{verdict=\"%s\"} %d",
                 verdict_name(v), v == V_LATE_100 ? 0 : 2000 + v);
        CHECK(has_line(text, line));
    }
    CHECK_EQ(count_prefix(text, "expectscope_exchanges_total{"), V_COUNT - 1);
    CHECK_EQ(count_prefix(text, "expectscope_flows_by_verdict_total{"), V_COUNT - 1);
    CHECK(strstr(text, "verdict=\"none\"") == NULL);
    check_case("every rule checked, zeros too; none that is not checked");
    int checked = 0;
    for (int r = 0; r < R_COUNT; r++) {
        char line[200];
        snprintf(line, sizeof line, "expectscope_violations_total{rule=\"%s\"} ",
                 rule_name((enum rule_id)r));
        if (!rule_checked((enum rule_id)r)) {
            CHECK(strstr(text, line) == NULL);
            continue;
        }
        checked++;
        snprintf(line, sizeof line, "expectscope_violations_total{rule=\"%s\"} %d",
                 rule_name((enum rule_id)r), r == R_S7 ? 0 : 3000 + r);
        CHECK(has_line(text, line));
    }
    CHECK(checked >= 10);
    CHECK_EQ(count_prefix(text, "expectscope_violations_total{"), checked);
    check_case("server lines: two by name and other");
    CHECK_EQ(count_prefix(text, "expectscope_server_417_total{"), 3);
    CHECK_EQ(count_prefix(text, "expectscope_server_timeout_fallbacks_total{"), 3);
    CHECK(strstr(text, "2001:db8") == NULL);
    CHECK(strstr(text, "10.0.0.5") == NULL);
    check_case("the write time is the wall clock");
    double w = value_of(text, "expectscope_last_write_time_seconds ");
    CHECK(w >= (double)(before / 1000000u) && w <= (double)(after / 1000000u + 1));
    free(text);

    check_case("the IPv6 server by name, in brackets");
    metrics_free(m);
    m = metrics_new(path, 20, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    n417(m, &c, 2);
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    text = read_metrics(path);
    if (text) {
        CHECK(has_line(text, "expectscope_server_417_total{server=\"[2001:db8::7]:443\"} 2"));
        CHECK(has_line(text, "expectscope_server_417_total{server=\"other\"} 0"));
        CHECK(has_line(text, "expectscope_run_start_time_seconds 0.000000"));
    }
    free(text);

    check_case("the file is readable by others (the collector's user)");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0044) == 0044);
    CHECK_EQ(tmp_files(scratch), 0);
    metrics_free(m);
}

/* The value of name{server="srv"} in the file at path; -1 when absent. */
static double server_value(const char *text, const char *name, const char *srv)
{
    char head[200];
    snprintf(head, sizeof head, "expectscope_%s{server=\"%s\"} ", name, srv);
    return value_of(text, head);
}

/* The top servers change: "other" never goes down, and named series plus "other" add
 * up to the total. */
static void test_moves(void)
{
    char err[300], path[256];
    snprintf(path, sizeof path, "%s/moves.prom", scratch);
    struct metrics *m = metrics_new(path, 1, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    struct flow a, b;
    mkflow4(&a, 10, 0, 1, 1, 80);
    mkflow4(&b, 10, 0, 1, 2, 80);
    struct pipeline_totals t;
    mktotals(&t);
    static const struct {
        const char *what;
        int a, b;                  /* 417s added to a and b before the write */
        double want_a, want_b, want_other; /* -1: not in the file */
    } steps[] = {
        { "a alone: shown with all it has", 2, 0, 2, -1, 0 },
        { "b overtakes a: b comes with all it has (never under other), a to other",
          0, 3, -1, 3, 2 },
        { "a overtakes b: a's series counts from when it went under other", 5, 0, 5, -1,
          5 },
        { "a tie: the one shown keeps its place", 0, 4, 5, -1, 9 },
        { "b ahead again: its 7 written under other stay there", 0, 1, -1, 1, 14 },
    };
    double other = 0;
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        check_case(steps[i].what);
        n417(m, &a, steps[i].a);
        n417(m, &b, steps[i].b);
        CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
        char *text = read_metrics(path);
        if (!text)
            break;
        double va = server_value(text, "server_417_total", "10.0.1.1:80");
        double vb = server_value(text, "server_417_total", "10.0.1.2:80");
        double vo = server_value(text, "server_417_total", "other");
        CHECK(va == steps[i].want_a);
        CHECK(vb == steps[i].want_b);
        CHECK(vo == steps[i].want_other);
        CHECK(vo >= other);
        other = vo;
        free(text);
    }

    check_case("a failed write changes nothing that was written");
    metrics_free(m);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/moves", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/moves/m.prom", scratch);
    m = metrics_new(path, 1, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    n417(m, &a, 2);
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);   /* a 2 */
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
    n417(m, &b, 3);
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);   /* would be b 3, other 2 */
    CHECK(mkdir(dir, 0755) == 0);
    n417(m, &a, 5);
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    char *text = read_metrics(path);
    if (text) {
        /* a was never written under other: its series is whole */
        CHECK(server_value(text, "server_417_total", "10.0.1.1:80") == 7);
        CHECK(server_value(text, "server_417_total", "other") == 3);
    }
    free(text);
    unlink(path);
    metrics_free(m);
}

/* More servers than the table holds: the newcomers count under other at once. */
static void test_table_full(void)
{
    check_case("a full server table");
    char err[300], path[256];
    snprintf(path, sizeof path, "%s/full.prom", scratch);
    struct metrics *m = metrics_new(path, METRICS_DEFAULT_TOP_SERVERS, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    struct flow f;
    for (int i = 0; i < METRICS_MAX_SERVERS; i++) {
        mkflow4(&f, 10, 2, (uint8_t)(i >> 8), (uint8_t)i, 80);
        n417(m, &f, i == 77 ? 10 : 1);
    }
    for (int i = 0; i < 5; i++) { /* no room: other, and counted (15 exchanges) */
        mkflow4(&f, 10, 3, 0, (uint8_t)i, 80);
        nfallback(m, &f, 1);
        n417(m, &f, 2);
    }
    mkflow4(&f, 10, 2, 0, 1, 80); /* known: still tallied */
    nfallback(m, &f, 20);
    struct pipeline_totals t;
    mktotals(&t);
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    char *text = read_metrics(path);
    if (!text) {
        metrics_free(m);
        return;
    }
    CHECK(has_line(text, "expectscope_server_table_overflows_total 15"));
    CHECK_EQ(count_prefix(text, "expectscope_server_417_total{"),
             METRICS_DEFAULT_TOP_SERVERS + 1);
    CHECK_EQ(count_prefix(text, "expectscope_server_timeout_fallbacks_total{"),
             METRICS_DEFAULT_TOP_SERVERS + 1);
    /* the first two: 10.2.0.1 (1 + 20), then 10.2.0.77 (10) */
    const char *first = strstr(text, "expectscope_server_417_total{");
    const char *top2 = "expectscope_server_417_total{server=\"10.2.0.1:80\"} 1\n"
                       "expectscope_server_417_total{server=\"10.2.0.77:80\"} 10\n";
    CHECK(first && strncmp(first, top2, strlen(top2)) == 0);
    CHECK(server_value(text, "server_timeout_fallbacks_total", "10.2.0.1:80") == 20);
    CHECK(server_value(text, "server_timeout_fallbacks_total", "other") == 5);
    /* 4096 servers with 1 417 but one with 10, 5 newcomers with 2: 4115; the 20 shown
     * have 1 + 10 + 18 */
    CHECK(server_value(text, "server_417_total", "other") == 4115 - 29);
    CHECK(strstr(text, "10.3.0.") == NULL);
    free(text);
    metrics_free(m);
}

/* A write that fails is reported once per distinct error, again after a success. */
static void test_errors(void)
{
    char err[700], path[256], dir[256];
    snprintf(dir, sizeof dir, "%s/gone", scratch);
    snprintf(path, sizeof path, "%s/gone/m.prom", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    struct metrics *m = metrics_new(path, 3, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    struct pipeline_totals t;
    mktotals(&t);
    check_case("the directory went away: reported");
    CHECK(rmdir(dir) == 0);
    snprintf(err, sizeof err, "stale");
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    char first[700];
    snprintf(first, sizeof first, "%s: cannot create %s.tmp.%ld: No such file or directory",
             path, path, (long)getpid());
    CHECK_STR(err, first);
    check_case("the same error again: not reported");
    snprintf(err, sizeof err, "stale");
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    CHECK_STR(err, "");
    check_case("another error: reported");
    FILE *f = fopen(dir, "w"); /* a file where the directory was */
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "Not a directory") != NULL);
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    CHECK_STR(err, "");
    check_case("back: written");
    CHECK(unlink(dir) == 0 && mkdir(dir, 0755) == 0);
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    char *text = read_metrics(path);
    free(text);
    check_case("the first error again after a success: reported");
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    CHECK_STR(err, first);
    metrics_free(m);

    check_case("a full disk: reported, the temporary file removed, FILE kept");
    /* The file-size limit, with SIGXFSZ ignored, makes a write fail with EFBIG as a full
     * disk would (tests/fault/disk_full.py does the same to the database). */
    CHECK(mkdir(dir, 0755) == 0);
    m = metrics_new(path, 3, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    char *before = slurp(path);
    struct rlimit was;
    CHECK(getrlimit(RLIMIT_FSIZE, &was) == 0);
    struct rlimit small = { 1000, was.rlim_max };
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    int rc = metrics_write(m, &t, 0, err, sizeof err);
    CHECK(setrlimit(RLIMIT_FSIZE, &was) == 0);
    signal(SIGXFSZ, old);
    CHECK(rc == -1);
    CHECK(strstr(err, "cannot write") != NULL && strstr(err, "File too large") != NULL);
    CHECK_EQ(tmp_files(dir), 0);
    char *after = slurp(path);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    unlink(path);
    rmdir(dir);
    metrics_free(m);

    check_case("FILE cannot be replaced: reported, the temporary file removed");
    CHECK(mkdir(dir, 0755) == 0);
    m = metrics_new(path, 3, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(mkdir(path, 0755) == 0); /* a non-empty directory: rename fails */
    char inside[300];
    snprintf(inside, sizeof inside, "%s/x", path);
    f = fopen(inside, "w");
    if (f)
        fclose(f);
    CHECK(metrics_write(m, &t, 0, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot rename") != NULL);
    CHECK_EQ(tmp_files(dir), 0);
    unlink(inside);
    rmdir(path);
    metrics_free(m);
}

/* A reader that reads the file in a loop while the writer replaces it. */
struct reader {
    const char *path;
    atomic_bool done;
    unsigned long reads, bad;
    char why[200];
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    double last = -1;
    while (!atomic_load(&r->done)) {
        char *text = slurp(r->path);
        if (!text) {
            r->bad++;
            snprintf(r->why, sizeof r->why, "cannot read: %s", strerror(errno));
            continue;
        }
        char why[200];
        check_parse(text, why, sizeof why);
        double packets = value_of(text, "expectscope_packets_total ");
        if (why[0] || packets < last) {
            r->bad++;
            snprintf(r->why, sizeof r->why, "%s", why[0] ? why : "went back in time");
        }
        last = packets;
        r->reads++;
        free(text);
    }
    return NULL;
}

static void test_atomic(void)
{
    check_case("atomic replace: a reader never sees half a file");
    char err[300], path[256];
    snprintf(path, sizeof path, "%s/atomic.prom", scratch);
    struct metrics *m = metrics_new(path, 3, err, sizeof err);
    CHECK(m != NULL);
    if (!m)
        return;
    struct pipeline_totals t;
    mktotals(&t);
    struct flow f;
    t.source.packets = 0; /* the reader checks the count never goes down */
    CHECK_EQ(metrics_write(m, &t, 0, err, sizeof err), 0);
    struct reader r = { .path = path };
    atomic_init(&r.done, false);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, read_loop, &r) == 0);
    int fails = 0;
    for (int i = 0; i < 1000; i++) {
        /* the file's length changes: more digits, more servers by name */
        t.source.packets = (uint64_t)i * 1000003u;
        t.source.bytes = (uint64_t)i * i * 7919u;
        mkflow4(&f, 10, 4, 0, (uint8_t)(i % 7), 80);
        nfallback(m, &f, 1);
        fails += metrics_write(m, &t, 0, err, sizeof err) != 0;
    }
    atomic_store(&r.done, true);
    pthread_join(th, NULL);
    CHECK_EQ(fails, 0);
    CHECK(r.reads > 0);
    CHECK_EQ(r.bad, 0);
    if (r.bad)
        fprintf(stderr, "    %lu of %lu reads bad; last: %s\n", r.bad, r.reads, r.why);
    CHECK_EQ(tmp_files(scratch), 0);
    char *text = read_metrics(path);
    if (text)
        CHECK(has_line(text, "expectscope_packets_total 999002997"));
    free(text);
    metrics_free(m);
}

/* --write FILE: a realistic file for promtool (tests/metrics/check_promtool.py). */
static int write_sample(const char *path)
{
    char err[300];
    struct metrics *m = metrics_new(path, 3, err, sizeof err);
    if (!m) {
        fprintf(stderr, "test_metrics: %s\n", err);
        return 1;
    }
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, [15] = 0x20 };
    struct flow origin, cdn6, proxy, other1, other2;
    mkflow4(&origin, 10, 1, 0, 5, 80);
    mkflow(&cdn6, 6, v6, 8443);
    mkflow4(&proxy, 192, 168, 7, 9, 3128);
    mkflow4(&other1, 10, 1, 0, 6, 80);
    mkflow4(&other2, 172, 16, 0, 2, 80);
    n417(m, &origin, 4);
    nfallback(m, &cdn6, 6);
    n417(m, &proxy, 1);
    nfallback(m, &proxy, 2);
    nfallback(m, &other1, 1);
    n417(m, &other2, 1);
    feed(m, &origin, 40, 200, V_CONTINUE_OK);
    struct pipeline_totals t;
    memset(&t, 0, sizeof t);
    t.source.packets = 182734;
    t.source.bytes = 143020993;
    t.source.kernel_drops = 12;
    t.flows.created = 2210;
    t.flows.active = 37;
    t.http_flows = 2150;
    t.verdicts.by_verdict[V_CONTINUE_OK] = 40;
    t.verdicts.by_verdict[V_EXPECTATION_FAILED] = 6;
    t.verdicts.by_verdict[V_RETRY_AFTER_417] = 5;
    t.verdicts.by_verdict[V_TIMEOUT_FALLBACK] = 9;
    t.verdicts.by_verdict[V_PLAIN] = 2100;
    t.flow_verdicts[V_CONTINUE_OK] = 38;
    t.flow_verdicts[V_EXPECTATION_FAILED] = 6;
    t.flow_verdicts[V_TIMEOUT_FALLBACK] = 9;
    t.flow_verdicts[V_PLAIN] = 2097;
    t.http.parse_errors = 1;
    t.rules.by_rule[R_S6] = 4;
    t.rules.by_rule[R_S15] = 6;
    uint64_t now = now_us();
    t.first_packet_us = now - 3600000000u;
    t.last_packet_us = now - 250000u;
    int rc = metrics_write(m, &t, now - 3600500000u, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "test_metrics: %s\n", err);
    metrics_free(m);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_sample(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_metrics [--write FILE]\n");
        return 2;
    }
    umask(022);
    scratch_make();
    test_escape();
    test_refusal();
    test_lines();
    test_moves();
    test_table_full();
    test_errors();
    test_atomic();
    scratch_remove();
    return check_done("test_metrics");
}
