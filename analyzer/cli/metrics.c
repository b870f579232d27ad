/* metrics.c: the Prometheus metrics file. See metrics.h; docs/metrics.md lists the
 * metrics. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exchange.h"
#include "flow.h"
#include "metrics.h"
#include "rules.h"

/* What is tallied per server. */
enum { K_417, K_FALLBACK, K_COUNT };

/* The hash index has twice as many entries as the table, so probes stay short. */
enum { SERVER_INDEX = 2 * METRICS_MAX_SERVERS };

struct server {
    char name[64];         /* flow_endpoint_str(): "10.0.0.2:80", "[2001:db8::1]:443" */
    uint64_t n[K_COUNT];   /* over the run */
    uint64_t at_write[K_COUNT]; /* n at the last successful write */
    uint64_t base[K_COUNT];     /* while named: n when it was last under "other" in a
                                   written file (0 if never); its series is n - base */
    bool named;            /* under its own label in the last written file */
    bool show;             /* under its own label in the file being written */
};

struct metrics {
    char *path;            /* FILE */
    char *tmp;             /* FILE.tmp.PID: written, then renamed over FILE */
    unsigned top;          /* servers shown by name */
    struct server *servers;
    struct server **order; /* scratch for ranking, allocated once */
    uint32_t n_servers;
    uint16_t index[SERVER_INDEX]; /* slot + 1 of servers[], 0: empty */
    uint64_t total[K_COUNT];      /* every server's, those past the table's end too */
    uint64_t overflows;    /* tallied exchanges whose server found the table full */
    char last_err[400];    /* the last write's error, "" after a success */
};

/* ---- label values ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0 when s[0] does not start one. n > 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : lo;
        hi = c == 0xed ? 0x9f : hi;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

void metrics_label_value(FILE *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            fputs("\xef\xbf\xbd", out); /* U+FFFD REPLACEMENT CHARACTER */
            i++;
        } else if (s[i] == '\\') {
            fputs("\\\\", out);
            i++;
        } else if (s[i] == '"') {
            fputs("\\\"", out);
            i++;
        } else if (s[i] == '\n') {
            fputs("\\n", out);
            i++;
        } else {
            fwrite(s + i, 1, len, out);
            i += len;
        }
    }
}

/* ---- creation ------------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Refuse a path we could not replace: a missing directory, one that is not a directory
 * or that takes no new file, or a path that is a directory. The temporary file is the
 * one every write makes, so creating it here tries exactly what the writes will do. */
static int try_path(const struct metrics *m, char *err, size_t err_len)
{
    const char *slash = strrchr(m->path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == m->path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - m->path), m->path);
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, err_len, "%s: cannot use directory %s: %s", m->path, dir,
                 errno == ENOENT ? "no such directory" : strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s: %s is not a directory", m->path, dir);
        return -1;
    }
    if (stat(m->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s: is a directory, not a metrics file", m->path);
        return -1;
    }
    int fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot create files in %s: %s", m->path, dir,
                 strerror(errno));
        return -1;
    }
    close(fd);
    unlink(m->tmp);
    return 0;
}

struct metrics *metrics_new(const char *path, unsigned top_servers, char *err,
                            size_t err_len)
{
    if (!path || !*path) {
        snprintf(err, err_len, "the metrics file name is empty");
        return NULL;
    }
    if (top_servers > METRICS_MAX_SERVERS) {
        snprintf(err, err_len, "%s: at most %d servers can be shown by name, not %u", path,
                 METRICS_MAX_SERVERS, top_servers);
        return NULL;
    }
    struct metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    m->top = top_servers;
    m->path = dup_str(path);
    size_t tmp_len = strlen(path) + 32;
    m->tmp = malloc(tmp_len);
    m->servers = calloc(METRICS_MAX_SERVERS, sizeof *m->servers);
    m->order = calloc(METRICS_MAX_SERVERS, sizeof *m->order);
    if (!m->path || !m->tmp || !m->servers || !m->order) {
        snprintf(err, err_len, "%s: out of memory", path);
        metrics_free(m);
        return NULL;
    }
    snprintf(m->tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());
    if (try_path(m, err, err_len) != 0) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    free(m->path);
    free(m->tmp);
    free(m->servers);
    free(m->order);
    free(m);
}

/* ---- tallies --------------------------------------------------------------------------- */

/* The server's tally, or NULL when the table is full and name is not in it. */
static struct server *server_of(struct metrics *m, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    uint32_t i = h % SERVER_INDEX;
    for (; m->index[i]; i = (i + 1) % SERVER_INDEX)
        if (strcmp(m->servers[m->index[i] - 1].name, name) == 0)
            return &m->servers[m->index[i] - 1];
    if (m->n_servers == METRICS_MAX_SERVERS)
        return NULL;
    struct server *s = &m->servers[m->n_servers++];
    snprintf(s->name, sizeof s->name, "%s", name);
    m->index[i] = (uint16_t)m->n_servers; /* i is the empty entry that ended the probe */
    return s;
}

void metrics_exchange(struct metrics *m, const struct flow *f, const struct exchange *x)
{
    bool got417 = x->status == 417, fallback = x->verdict == V_TIMEOUT_FALLBACK;
    if (!got417 && !fallback)
        return;
    char name[64];
    struct server *s = server_of(m, flow_endpoint_str(f, DIR_S2C, name, sizeof name));
    m->total[K_417] += got417;
    m->total[K_FALLBACK] += fallback;
    if (!s) {
        m->overflows++;
        return;
    }
    s->n[K_417] += got417;
    s->n[K_FALLBACK] += fallback;
}

/* ---- ranking ----------------------------------------------------------------------- */

/* Most 417s plus fallbacks first; on a tie, the one shown already keeps its place, so
 * equal servers do not take turns; then by name, so the order is stable. */
static int by_trouble(const void *p, const void *q)
{
    const struct server *a = *(const struct server *const *)p;
    const struct server *b = *(const struct server *const *)q;
    uint64_t ta = a->n[K_417] + a->n[K_FALLBACK], tb = b->n[K_417] + b->n[K_FALLBACK];
    if (ta != tb)
        return ta > tb ? -1 : 1;
    if (a->named != b->named)
        return a->named ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* What a shown server's series holds: since it was last under "other" in a written
 * file. A server shown now but not in the last file starts from n at that file: that
 * much was written under "other" (0 for a server that came since). */
static uint64_t series(const struct server *s, int k)
{
    return s->n[k] - (s->named ? s->base[k] : s->at_write[k]);
}

/* Decide which servers this write shows by name; order[0, shown) are they, in order. */
static uint32_t rank(struct metrics *m)
{
    for (uint32_t i = 0; i < m->n_servers; i++) {
        m->order[i] = &m->servers[i];
        m->servers[i].show = false;
    }
    qsort(m->order, m->n_servers, sizeof *m->order, by_trouble);
    uint32_t shown = m->n_servers < m->top ? m->n_servers : m->top;
    for (uint32_t i = 0; i < shown; i++)
        m->order[i]->show = true;
    return shown;
}

/* The file was written: what it showed becomes the state the next write starts from. */
static void commit(struct metrics *m)
{
    for (uint32_t i = 0; i < m->n_servers; i++) {
        struct server *s = &m->servers[i];
        for (int k = 0; k < K_COUNT; k++) {
            if (s->show && !s->named)
                s->base[k] = s->at_write[k];
            s->at_write[k] = s->n[k];
        }
        s->named = s->show;
    }
}

/* ---- the file ---------------------------------------------------------------------- */

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP expectscope_%s %s\n# TYPE expectscope_%s %s\n", name, help, name,
            type);
}

static void sample(FILE *out, const char *name, uint64_t v)
{
    fprintf(out, "expectscope_%s %" PRIu64 "\n", name, v);
}

static void labelled(FILE *out, const char *name, const char *label, const char *value,
                     uint64_t v)
{
    fprintf(out, "expectscope_%s{%s=\"", name, label);
    metrics_label_value(out, value, strlen(value));
    fprintf(out, "\"} %" PRIu64 "\n", v);
}

/* A time in seconds since the epoch, to the microsecond, exactly. */
static void time_sample(FILE *out, const char *name, uint64_t us)
{
    fprintf(out, "expectscope_%s %" PRIu64 ".%06" PRIu64 "\n", name, us / 1000000u,
            us % 1000000u);
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One counter family per tally, each shown server then "other". */
static void per_server(FILE *out, const struct metrics *m, uint32_t shown, int k,
                       const char *name, const char *help)
{
    family(out, name, "counter", help);
    uint64_t named = 0;
    for (uint32_t i = 0; i < shown; i++) {
        uint64_t v = series(m->order[i], k);
        named += v;
        labelled(out, name, "server", m->order[i]->name, v);
    }
    labelled(out, name, "server", "other", m->total[k] - named);
}

static void put_all(FILE *out, const struct metrics *m, uint32_t shown,
                    const struct pipeline_totals *t, uint64_t run_start_us)
{
    family(out, "build_info", "gauge", "Always 1; the version of expectscope writing.");
    labelled(out, "build_info", "version", ES_VERSION, 1);
    family(out, "run_start_time_seconds", "gauge",
           "When the run started, in seconds since the epoch.");
    time_sample(out, "run_start_time_seconds", run_start_us);
    family(out, "last_write_time_seconds", "gauge",
           "When this file was written (wall clock), in seconds since the epoch.");
    time_sample(out, "last_write_time_seconds", wall_us());
    family(out, "last_packet_time_seconds", "gauge",
           "Capture time of the latest packet, in seconds since the epoch; 0 before the "
           "first packet.");
    time_sample(out, "last_packet_time_seconds", t->last_packet_us);

    family(out, "packets_total", "counter", "Packets captured.");
    sample(out, "packets_total", t->source.packets);
    family(out, "bytes_total", "counter", "Bytes captured, as frame lengths on the wire.");
    sample(out, "bytes_total", t->source.bytes);
    family(out, "cut_packets_total", "counter",
           "Packets cut short by the snap length.");
    sample(out, "cut_packets_total", t->source.cut_packets);
    family(out, "kernel_drops_total", "counter",
           "Packets the kernel dropped (pcap_stats ps_drop).");
    sample(out, "kernel_drops_total", t->source.kernel_drops);
    family(out, "interface_drops_total", "counter",
           "Packets the interface or its driver dropped (pcap_stats ps_ifdrop).");
    sample(out, "interface_drops_total", t->source.if_drops);

    family(out, "flows_total", "counter", "TCP flows created.");
    sample(out, "flows_total", t->flows.created);
    family(out, "flows_active", "gauge", "TCP flows in the flow table now.");
    sample(out, "flows_active", t->flows.active);
    family(out, "flows_evicted_total", "counter",
           "Open TCP flows pushed out of a full flow table (--max-flows).");
    sample(out, "flows_evicted_total", t->flows.evicted);
    family(out, "http_flows_total", "counter",
           "Finished TCP flows with at least one HTTP exchange.");
    sample(out, "http_flows_total", t->http_flows);
    family(out, "flows_by_verdict_total", "counter",
           "Finished HTTP flows by flow verdict (the most severe of their exchanges).");
    for (int v = V_NONE + 1; v < V_COUNT; v++)
        labelled(out, "flows_by_verdict_total", "verdict", verdict_name(v),
                 t->flow_verdicts[v]);

    family(out, "exchanges_total", "counter", "HTTP exchanges judged, by verdict.");
    for (int v = V_NONE + 1; v < V_COUNT; v++)
        labelled(out, "exchanges_total", "verdict", verdict_name(v),
                 t->verdicts.by_verdict[v]);
    family(out, "orphan_responses_total", "counter",
           "HTTP responses with no request to pair with.");
    sample(out, "orphan_responses_total", t->http.orphan_responses);
    family(out, "parse_errors_total", "counter",
           "HTTP parse errors (the stream resynchronised at the next message).");
    sample(out, "parse_errors_total", t->http.parse_errors);
    family(out, "framing_errors_total", "counter",
           "HTTP messages with invalid or ambiguous framing (RFC 9112 6.3).");
    sample(out, "framing_errors_total", t->http.framing_errors);
    family(out, "stray_interims_total", "counter",
           "HTTP 1xx responses no request asked for (given to no exchange).");
    sample(out, "stray_interims_total", t->http.stray_interims);
    family(out, "tunnels_total", "counter",
           "HTTP flows that became a tunnel (101 Switching Protocols, CONNECT 2xx).");
    sample(out, "tunnels_total", t->http.tunnels);
    family(out, "violations_total", "counter",
           "Breaches of the Expect/1xx rules, by rule ID (docs/rules.md).");
    for (int r = 0; r < R_COUNT; r++)
        if (rule_checked((enum rule_id)r))
            labelled(out, "violations_total", "rule", rule_name((enum rule_id)r),
                     t->rules.by_rule[r]);

    per_server(out, m, shown, K_417, "server_417_total",
               "Exchanges answered 417 Expectation Failed, by server IP:port: the servers "
               "with the most 417s and timeout fallbacks, the rest under other.");
    per_server(out, m, shown, K_FALLBACK, "server_timeout_fallbacks_total",
               "Exchanges with the verdict timeout_fallback, by server IP:port: the "
               "servers with the most 417s and timeout fallbacks, the rest under other.");
    family(out, "server_table_overflows_total", "counter",
           "417s and timeout fallbacks of servers that found the server table full, "
           "counted under server=\"other\".");
    sample(out, "server_table_overflows_total", m->overflows);
}

/* A failed write: err says so unless the previous write failed the same way. -1. */
static int fail(struct metrics *m, char *err, size_t err_len, const char *fmt, ...)
{
    char msg[sizeof m->last_err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(msg, m->last_err) == 0) {
        if (err_len)
            err[0] = '\0';
    } else {
        memcpy(m->last_err, msg, sizeof msg);
        snprintf(err, err_len, "%s", msg);
    }
    return -1;
}

int metrics_write(struct metrics *m, const struct pipeline_totals *t, uint64_t run_start_us,
                  char *err, size_t err_len)
{
    uint32_t shown = rank(m);
    int fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return fail(m, err, err_len, "%s: cannot create %s: %s", m->path, m->tmp,
                    strerror(errno));
    FILE *out = fdopen(fd, "w");
    if (!out) {
        int e = errno;
        close(fd);
        unlink(m->tmp);
        return fail(m, err, err_len, "%s: %s", m->path, strerror(e));
    }
    put_all(out, m, shown, t, run_start_us);
    /* errno of the failed write: fflush() sets it when the last buffer fails; an
     * earlier failure is sticky in ferror() but its errno may be gone (then EIO). */
    errno = 0;
    int e = fflush(out) != 0 || ferror(out) ? (errno ? errno : EIO) : 0;
    if (fclose(out) != 0 && !e)
        e = errno ? errno : EIO;
    if (e) {
        unlink(m->tmp);
        return fail(m, err, err_len, "%s: cannot write %s: %s", m->path, m->tmp,
                    strerror(e));
    }
    if (rename(m->tmp, m->path) != 0) {
        e = errno;
        unlink(m->tmp);
        return fail(m, err, err_len, "%s: cannot rename %s over it: %s", m->path, m->tmp,
                    strerror(e));
    }
    commit(m);
    m->last_err[0] = '\0';
    return 0;
}
