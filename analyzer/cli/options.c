/* options.c: the command table, every option, and the help built from them. See cli.h.
 *
 * One table of options (name, argument, help) serves parsing and --help alike, and each
 * command names the options it takes: an option of another command is refused with a
 * line saying which commands take it, never ignored. Defaults are set once, from
 * pipeline_config_defaults(), before any option is read, and the help prints those
 * same values.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fanout.h"
#include "limits.h"
#include "push.h"
#include "source_live.h"

enum opt_code {
    O_HELP = 'h', O_QUIET = 'q', O_VERBOSE = 'v', O_READ = 'r', O_FILTER = 'f',
    O_INTERFACE = 'i', O_SNAPLEN = 's', O_BUFFER = 'B', O_USER = 'Z',
    O_NO_PROMISC = 300, O_DURATION, O_RETAIN, O_METRICS, O_SAVE_PCAP, O_SAVE_FILES,
    O_SAVE_MB, O_PROXY, O_NO_PATHS, O_FORMAT, O_SERVER, O_HOST, O_SINCE, O_UNTIL,
    O_OUTPUT = 'o',
    O_DB = 256, O_NO_DB, O_AGAIN, O_LIST, O_VERDICT, O_PROBLEMS, O_WAIT_LOCK, O_NO_WAIT,
    O_RETRY_WINDOW, O_STALL, O_MAX_FLOWS, O_TCP_TIMEOUT, O_OOO_CAP, O_PENDING_CAP, O_JSON,
    O_RUN, O_LATEST, O_SENSOR, O_CLICKHOUSE, O_FOLLOW, O_BATCH, O_WORKERS,
};

struct optdef {
    const char *name;  /* long name */
    int code;          /* enum opt_code; a letter is also the short form */
    const char *arg;   /* the value's name in the help, NULL for a switch */
    const char *help;
};

/* In the order --help lists them. */
static const struct optdef optdefs[] = {
    { "read", O_READ, "FILE",
      "read this capture ('-': standard input); repeatable; the words after the "
      "options are then a BPF filter, as with tcpdump -r" },
    { "interface", O_INTERFACE, "IFACE",
      "capture on this interface (a span port or a tap; 'any' for every one)" },
    { "filter", O_FILTER, "EXPR", "only packets that match this BPF filter (pcap-filter(7))" },
    { "snaplen", O_SNAPLEN, "N", "bytes kept of each packet" },
    { "buffer-size", O_BUFFER, "KIB", "the kernel's capture buffer, in KiB" },
    { "no-promisc", O_NO_PROMISC, NULL, "do not put the interface in promiscuous mode" },
    { "duration", O_DURATION, "SEC",
      "stop after SEC seconds (else at SIGINT, SIGTERM or SIGHUP)" },
    { "user", O_USER, "USER",
      "drop root for USER once the interface and the database are open" },
    { "retain", O_RETAIN, "HOURS",
      "delete rows older than HOURS as the capture goes on, so the database stops "
      "growing" },
    { "save-pcap", O_SAVE_PCAP, "DIR",
      "keep the packets of each problem flow (not plain, not continue_ok) as a pcap file "
      "in DIR" },
    { "save-pcap-files", O_SAVE_FILES, "N", "at most N files in DIR, the oldest removed first" },
    { "save-pcap-mb", O_SAVE_MB, "MB", "at most MB megabytes in DIR, the oldest removed first" },
    { "metrics", O_METRICS, "FILE",
      "write Prometheus metrics to FILE every 5 s (node_exporter's textfile collector)" },
    { "db", O_DB, "FILE", "the SQLite database; each analyze or live adds a run to it" },
    { "no-db", O_NO_DB, NULL, "write no database" },
    { "sensor", O_SENSOR, "NAME",
      "the sensor's name, recorded in the run (runs.sensor) and shipped with its rows by "
      "push; one name per database across a fleet; the host name when not given" },
    { "again", O_AGAIN, NULL,
      "analyse captures the database already holds (without it, they are refused)" },
    { "list", O_LIST, NULL,
      "list the run's exchanges in time order: a table on a terminal, TSV otherwise" },
    { "verdict", O_VERDICT, "V",
      "only exchanges with verdict V (repeatable; analyze: with --list)" },
    { "problems", O_PROBLEMS, NULL,
      "only exchanges whose verdict is not plain or continue_ok (analyze: with --list)" },
    { "format", O_FORMAT, "FMT", "har, ndjson, csv or html" },
    { "output", O_OUTPUT, "FILE", "write to FILE ('-': standard output, the default)" },
    { "server", O_SERVER, "IP[:PORT]", "only exchanges with this server ([v6]:PORT)" },
    { "host", O_HOST, "HOST", "only exchanges whose Host header is HOST" },
    { "since", O_SINCE, "TIME",
      "only exchanges from TIME on (ISO 8601, UTC unless it says, or epoch seconds)" },
    { "until", O_UNTIL, "TIME", "only exchanges before TIME" },
    { "quiet", O_QUIET, NULL, "no summary and no progress bar" },
    { "verbose", O_VERBOSE, NULL, "also say how long writing the database took" },
    { "wait-lock", O_WAIT_LOCK, "SEC",
      "wait up to SEC for another expectscope writing the database, instead of "
      "failing at once" },
    { "no-wait-ms", O_NO_WAIT, "MS",
      "a body starting within MS of the request headers did not wait for 100: "
      "verdict no_wait" },
    { "proxy", O_PROXY, "ADDR[,ADDR]",
      "the addresses of one proxy (one per network it sits on), so that its two legs are "
      "linked even without X-Forwarded-For; repeatable, one per proxy" },
    { "no-paths", O_NO_PATHS, NULL,
      "no path analysis: answered_by stays unknown, and no hops are linked" },
    { "retry-window", O_RETRY_WINDOW, "SEC",
      "a repeat of a 417'd request within SEC is its retry: verdict retry_after_417" },
    { "stall-ms", O_STALL, "MS", "a pause longer than MS inside a request body is flagged "
      "body_stall" },
    { "max-flows", O_MAX_FLOWS, "N",
      "concurrent TCP flows kept; past it the least recently seen is evicted" },
    { "tcp-timeout", O_TCP_TIMEOUT, "SEC", "a flow idle this long (packet time) ends" },
    { "ooo-cap-mb", O_OOO_CAP, "MB",
      "out-of-order bytes held over all flows; past it a hole is given up as a gap" },
    { "pending-cap-mb", O_PENDING_CAP, "MB",
      "memory for exchanges awaiting their response, all flows; past it HTTP is given up "
      "on the flow that asks for more" },
    { "workers", O_WORKERS, "N",
      "analysis threads: flows are split among N threads by a hash of their endpoints; "
      "the results are the same for any N (not with --save-pcap)" },
    { "clickhouse", O_CLICKHOUSE, "URL",
      "ClickHouse's HTTP interface, e.g. http://ch1:8123/?database=expectscope (user and "
      "password may go in the URL)" },
    { "follow", O_FOLLOW, NULL,
      "keep shipping new rows, about a second after they are written, until SIGINT, "
      "SIGTERM or SIGHUP; a destination that is down is retried for ever" },
    { "batch", O_BATCH, "N", "rows per INSERT" },
    { "run", O_RUN, "N", "only run N" },
    { "latest", O_LATEST, NULL, "only the latest run" },
    { "json", O_JSON, NULL, "JSON instead of tables" },
    { "help", O_HELP, NULL, "this help" },
};
enum { N_OPTDEFS = sizeof optdefs / sizeof optdefs[0] };

static const char *const analyze_takes[] = {
    "read", "filter", "db", "no-db", "sensor", "again", "list", "verdict", "problems", "quiet",
    "verbose", "wait-lock", "no-wait-ms", "proxy", "no-paths", "retry-window", "stall-ms",
    "max-flows", "tcp-timeout", "ooo-cap-mb", "pending-cap-mb", "workers", "help", NULL };
static const char *const flows_takes[] = {
    "read", "filter", "quiet", "max-flows", "tcp-timeout", "ooo-cap-mb", "help", NULL };
static const char *const report_takes[] = { "db", "run", "latest", "json", "help", NULL };
static const char *const show_takes[] = { "db", "help", NULL };
static const char *const paths_takes[] = { "db", "run", "latest", "json", "help", NULL };
static const char *const export_takes[] = {
    "db", "format", "output", "verdict", "problems", "server", "host", "since", "until",
    "run", "latest", "help", NULL };
static const char *const push_takes[] = {
    "db", "clickhouse", "follow", "batch", "quiet", "help", NULL };
static const char *const live_takes[] = {
    "interface", "filter", "snaplen", "buffer-size", "no-promisc", "duration", "user",
    "retain", "save-pcap", "save-pcap-files", "save-pcap-mb", "metrics", "db", "sensor",
    "quiet",
    "wait-lock", "no-wait-ms", "proxy", "no-paths", "retry-window", "stall-ms", "max-flows",
    "tcp-timeout", "ooo-cap-mb", "pending-cap-mb", "workers", "help", NULL };

static const struct command commands[] = {
    { "analyze", "follow every HTTP exchange and its Expect handshake into the database",
      "[options] CAPTURE...\n"
      "       expectscope analyze [options] -r FILE [-r FILE]... [FILTER]",
      "Follow every HTTP exchange of the captures and its 'Expect: 100-continue' "
      "handshake; store flows, exchanges and verdicts in the database; print a verdict "
      "summary. CAPTURE is a pcap or pcapng file, plain or compressed (gzip, xz, zstd); "
      "'-' reads standard input. Several captures are merged by packet time.",
      analyze_takes, 1, -1, cmd_analyze },
    { "live", "watch an interface (a span port, a tap): the same analysis, continuously",
      "-i IFACE [options] [FILTER]",
      "Capture on an interface with libpcap and run the same analysis as analyze, until "
      "SIGINT, SIGTERM or SIGHUP (or --duration): exchanges are in the database about a second "
      "after they end, kernel and interface drops are recorded in the run every few "
      "seconds, and idle flows end on wall-clock time on a quiet link. The words after "
      "the options are a BPF filter, as with tcpdump.",
      live_takes, 0, -1, cmd_live },
    { "flows", "one line per TCP flow (compare with tshark -z conv,tcp)",
      "[options] CAPTURE...\n"
      "       expectscope flows [options] -r FILE [-r FILE]... [FILTER]",
      "One tab-separated line per TCP flow, in order of first packet: endpoints, nDPI "
      "protocol, packets and payload bytes each way, missing bytes, retransmissions, "
      "out-of-order segments, end reason.",
      flows_takes, 1, -1, cmd_flows },
    { "report", "what the database holds, per run and overall",
      "[--db FILE] [--run N | --latest] [--json]",
      "What the database holds: the runs with their capture time and state, verdict "
      "counts, the servers and user agents with the most 417s and timeout fallbacks, "
      "time to 100 Continue per server, the expectation timer each client uses. The "
      "database is opened read-only.",
      report_takes, 0, 0, cmd_report },
    { "paths", "per Host, each path (direct, or through an intermediary) and its outcomes",
      "[--db FILE] [--run N | --latest] [--json]",
      "Per Host, each path the traffic took: direct to an address, or through a named "
      "intermediary (a proxy, a CDN, a WAF), with its exchanges, verdict counts, the "
      "client's wait and the time to 100 (median and 95th percentile), and how many "
      "answers the intermediary made itself. Hosts whose paths disagree (one has "
      "problems, another none) come first. See docs/paths.md.",
      paths_takes, 0, 0, cmd_paths },
    { "export", "exchanges as HAR, NDJSON, CSV or one HTML report",
      "--format har|ndjson|csv|html [--db FILE] [-o FILE]\n"
      "       [--verdict V]... [--problems] [--server IP[:PORT]] [--host HOST]\n"
      "       [--since TIME] [--until TIME] [--run N | --latest]",
      "Write the database's exchanges, in time order, as HAR 1.2 (browsers' DevTools and "
      "HAR viewers), NDJSON (one JSON object per line: jq, Elasticsearch, ClickHouse "
      "JSONEachRow), CSV (RFC 4180) or one self-contained HTML report that works "
      "offline. The filters are the same for every format and combine with AND. See "
      "docs/export.md.",
      export_takes, 0, 0, cmd_export },
    { "show", "one exchange: its timeline, header blocks, flow and flags",
      "[--db FILE] ID",
      "One exchange of the database by its id (exchanges.id, the first column of "
      "analyze --list): a ladder of its timeline, the raw request, interim and response "
      "header blocks, its flow, its retry link, and its flags explained.",
      show_takes, 1, 1, cmd_show },
    { "push", "ship the rows a ClickHouse destination has not received yet",
      "--clickhouse URL [--db FILE] [--follow] [--batch N]",
      "Ship the database's runs, flows, exchanges, header blocks, hops and violations "
      "that the destination has not acknowledged yet to ClickHouse over HTTP "
      "(JSONEachRow), each row with its run's sensor. Progress is kept per destination "
      "in the database, after each batch ClickHouse acknowledged, so a push that was "
      "stopped or failed resumes where it was, and a re-sent row replaces itself "
      "(storage/clickhouse/ holds the tables). A destination that does not answer is "
      "retried with a growing wait; without --follow push gives up after a few "
      "attempts and exits 1. See docs/fleet.md.",
      push_takes, 0, 0, cmd_push },
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static bool takes(const struct command *c, const char *name)
{
    for (const char *const *t = c->takes; *t; t++)
        if (strcmp(*t, name) == 0)
            return true;
    return false;
}

/* Every option at its default: the one place they are set. */
static void options_defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    pipeline_config_defaults(&o->pipe);
    o->db_path = "expectscope.db";
    o->snaplen = SOURCE_LIVE_SNAPLEN;
    o->buffer_kib = SOURCE_LIVE_BUFFER_KIB;
    o->promisc = true;
    o->save_files = EVIDENCE_DEFAULT_MAX_FILES;
    o->save_bytes = EVIDENCE_DEFAULT_MAX_BYTES;
    /* the host name, as hostname(1) prints it; cut to the buffer */
    if (gethostname(o->sensor, sizeof o->sensor) != 0 || !o->sensor[0])
        snprintf(o->sensor, sizeof o->sensor, "localhost");
    o->sensor[sizeof o->sensor - 1] = '\0';
    o->pipe.sensor = o->sensor;
    o->push_batch = PUSH_DEFAULT_BATCH;
}

/* ---- help --------------------------------------------------------------------- */

enum { HELP_WIDTH = 80, HELP_COL = 26 };

/* The default an option shows in --help, "" when it has none worth saying. */
static void default_of(int code, const struct options *d, char *buf, size_t len)
{
    const struct pipeline_config *p = &d->pipe;
    buf[0] = '\0';
    switch (code) {
    case O_DB:
        snprintf(buf, len, "%s", d->db_path);
        break;
    case O_NO_WAIT:
        snprintf(buf, len, "%g", (double)p->verdict.no_wait_us / 1e3);
        break;
    case O_RETRY_WINDOW:
        snprintf(buf, len, "%g", (double)p->verdict.retry_window_us / 1e6);
        break;
    case O_STALL:
        snprintf(buf, len, "%g", (double)p->verdict.stall_us / 1e3);
        break;
    case O_MAX_FLOWS:
        snprintf(buf, len, "%u", p->flow.max_flows);
        break;
    case O_TCP_TIMEOUT:
        snprintf(buf, len, "%g", (double)p->flow.idle_us / 1e6);
        break;
    case O_OOO_CAP:
        snprintf(buf, len, "%llu", (unsigned long long)(p->ooo_cap_bytes >> 20));
        break;
    case O_PENDING_CAP:
        snprintf(buf, len, "%llu", (unsigned long long)(p->pending_cap_bytes >> 20));
        break;
    case O_SNAPLEN:
        snprintf(buf, len, "%d", d->snaplen);
        break;
    case O_BUFFER:
        snprintf(buf, len, "%u", d->buffer_kib);
        break;
    case O_SAVE_FILES:
        snprintf(buf, len, "%u", d->save_files);
        break;
    case O_SAVE_MB:
        snprintf(buf, len, "%llu", (unsigned long long)(d->save_bytes >> 20));
        break;
    case O_BATCH:
        snprintf(buf, len, "%u", d->push_batch);
        break;
    case O_WORKERS:
        snprintf(buf, len, "1");
        break;
    }
}

void cli_wrap(FILE *out, const char *text, int at, int col)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (!w)
            break;
        if (at > col && at + 1 + (int)w > HELP_WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        } else if (at > 0 && at < col) { /* after a left column: up to the text's */
            fprintf(out, "%*s", col - at, "");
            at = col;
        }
        fwrite(p, 1, w, out);
        at += (int)w;
        p += w;
    }
    fputc('\n', out);
}

static void option_help(FILE *out, const struct optdef *od, const struct options *d)
{
    char left[64];
    int n = od->code < 256
                ? snprintf(left, sizeof left, "  -%c, --%s%s%s", od->code, od->name,
                           od->arg ? " " : "", od->arg ? od->arg : "")
                : snprintf(left, sizeof left, "      --%s%s%s", od->name, od->arg ? " " : "",
                           od->arg ? od->arg : "");
    fputs(left, out);
    char dflt[64], text[400];
    default_of(od->code, d, dflt, sizeof dflt);
    snprintf(text, sizeof text, "%s%s%s%s", od->help, dflt[0] ? " (default " : "", dflt,
             dflt[0] ? ")" : "");
    if (n >= HELP_COL - 1) { /* a long left column: the text starts on the next line */
        fputc('\n', out);
        n = 0;
    }
    cli_wrap(out, text, n, HELP_COL);
}

void cli_help(FILE *out, const struct command *c)
{
    struct options d;
    options_defaults(&d); /* what parsing starts from */
    if (!c) {
        fprintf(out, "usage: expectscope COMMAND [options] ...\n"
                     "       expectscope COMMAND --help\n"
                     "       expectscope --version\n\n");
        cli_wrap(out, "Passive analyzer for the HTTP 'Expect: 100-continue' handshake: reads "
                  "captures, follows every exchange, and stores a verdict for each in a "
                  "SQLite database.", 0, 0);
        fprintf(out, "\ncommands:\n");
        for (int i = 0; i < N_COMMANDS; i++) {
            fprintf(out, "  %-10s", commands[i].name);
            cli_wrap(out, commands[i].summary, 12, 12);
        }
        fprintf(out, "\n");
        cli_wrap(out, "Exit status: 0 success; 1 an input or a database that cannot be read or "
                  "written; 2 a usage error; 128 + N when signal N stopped the run (what "
                  "was seen is stored). See expectscope(1) and docs/.", 0, 0);
        return;
    }
    fprintf(out, "usage: expectscope %s %s\n\n", c->name, c->usage);
    cli_wrap(out, c->about, 0, 0);
    fprintf(out, "\noptions:\n");
    for (int i = 0; i < N_OPTDEFS; i++)
        if (takes(c, optdefs[i].name))
            option_help(out, &optdefs[i], &d);
}

/* ---- option values ------------------------------------------------------------ */

/* A whole decimal number in [min, max], nothing else. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A duration in `unit_us` units, decimals allowed ("2.5" ms), to the microsecond, in
 * [min_us, max_us]. */
static int parse_duration(const char *s, uint64_t unit_us, uint64_t min_us, uint64_t max_us,
                          uint64_t *out_us)
{
    if (!s || !*s || (*s < '0' || *s > '9'))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0)
        return -1;
    double us = round(v * (double)unit_us);
    if (us < (double)min_us || us > (double)max_us)
        return -1;
    *out_us = (uint64_t)us;
    return 0;
}

/* --proxy ADDR[,ADDR...]: one proxy's addresses, IPv4 or IPv6, into o->proxies as
 * one group. 0, or -1 with the reason in err. */
static int parse_proxy(struct options *o, const char *arg, char *err, size_t len)
{
    uint32_t group = ++o->proxy_groups;
    const char *p = arg;
    do {
        size_t n = strcspn(p, ",");
        char text[INET6_ADDRSTRLEN + 1];
        struct hops_proxy *hp = &o->proxies[o->pipe.n_proxies];
        if (n == 0 || n >= sizeof text) {
            snprintf(err, len, "--proxy %s: expected addresses separated by commas", arg);
            return -1;
        }
        memcpy(text, p, n);
        text[n] = '\0';
        if (o->pipe.n_proxies == MAX_PROXY_ADDRS) {
            snprintf(err, len, "--proxy: at most %d addresses in all", MAX_PROXY_ADDRS);
            return -1;
        }
        memset(hp, 0, sizeof *hp);
        if (inet_pton(AF_INET, text, hp->addr) == 1)
            hp->family = 4;
        else if (inet_pton(AF_INET6, text, hp->addr) == 1)
            hp->family = 6;
        else {
            snprintf(err, len, "--proxy: '%s' is not an IPv4 or IPv6 address", text);
            return -1;
        }
        hp->group = group;
        o->pipe.n_proxies++;
        p += n;
    } while (*p++ == ',');
    o->pipe.proxies = o->proxies;
    return 0;
}

/* --server IP[:PORT], [IPv6]:PORT or a bare IPv6 address. 0, or -1 with the reason. */
static int parse_server(struct options *o, const char *arg, char *err, size_t len)
{
    char text[INET6_ADDRSTRLEN + 8];
    const char *port = NULL;
    size_t n = strlen(arg);
    if (n >= sizeof text)
        goto bad;
    memcpy(text, arg, n + 1);
    char *addr = text;
    if (*addr == '[') {
        char *close = strchr(addr, ']');
        if (!close || (close[1] && close[1] != ':'))
            goto bad;
        *close = '\0';
        addr++;
        port = close[1] ? close + 2 : NULL;
    } else if (strchr(addr, ':') == strrchr(addr, ':') && strchr(addr, ':')) {
        char *colon = strchr(addr, ':'); /* one colon: IPv4:PORT */
        *colon = '\0';
        port = colon + 1;
    }
    uint8_t bin[16];
    if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
        goto bad;
    uint64_t v = 0;
    if (port && parse_u64(port, 1, 65535, &v) != 0)
        goto bad;
    /* as the database writes it (inet_ntop): 2001:DB8::1 is stored 2001:db8::1 */
    inet_ntop(strchr(addr, ':') ? AF_INET6 : AF_INET, bin, o->server_ip, sizeof o->server_ip);
    o->server_port = (int)v;
    return 0;
bad:
    snprintf(err, len, "--server: '%s' is not IP, IP:PORT or [IPv6]:PORT", arg);
    return -1;
}

/* A time: epoch seconds ("1764684000.5"), or ISO 8601 / RFC 3339 "2026-12-02",
 * "2026-12-02T14:00", "2026-12-02 14:00:05.25", with "Z" or "+01:00" (no zone: UTC, as
 * the database stores). 0 with *out in epoch seconds, or -1. */
static int parse_time(const char *s, double *out)
{
    char *end;
    if (*s >= '0' && *s <= '9' && !strchr(s, '-')) {
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v < 0)
            return -1;
        *out = v;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, k = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &k) != 3 || k != 10)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int k2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k2) != 2 || k2 != 5)
            return -1;
        p += 1 + 5;
        if (*p == ':') {
            errno = 0;
            sec = strtod(p + 1, &end);
            if (errno || end == p + 1 || sec < 0 || sec >= 61)
                return -1;
            p = end;
        }
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, k3 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k3) != 2 || k3 != 5)
            return -1;
        offset = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
        p += 6;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi };
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d)
        return -1; /* 2026-02-30 */
    *out = (double)t + sec - (double)offset;
    return 0;
}

/* Apply one option's value to o. 0, or -1 with the reason in err. */
static int apply(int code, const char *arg, struct options *o, char *err, size_t len)
{
    uint64_t v;
    const char *range = NULL;
    switch (code) {
    case O_QUIET:
        o->quiet = true;
        return 0;
    case O_VERBOSE:
        o->verbose = true;
        return 0;
    case O_READ:
        o->inputs[o->n_inputs++] = arg;
        return 0;
    case O_FILTER:
        free(o->filter);
        o->filter = strdup(arg);
        if (!o->filter) {
            snprintf(err, len, "out of memory");
            return -2;
        }
        return 0;
    case O_DB:
        if (!*arg) {
            snprintf(err, len, "--db needs a file name");
            return -1;
        }
        o->db_path = arg;
        return 0;
    case O_NO_DB:
        o->db_path = NULL;
        return 0;
    case O_SENSOR:
        /* a name, not text to escape: it becomes a ClickHouse key and a metric label */
        if (!*arg || strlen(arg) >= sizeof o->sensor ||
            strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "._-") != strlen(arg)) {
            snprintf(err, len, "--sensor takes a name of 1 to %zu letters, digits, '.', '_' "
                     "or '-'", sizeof o->sensor - 1);
            return -1;
        }
        memcpy(o->sensor, arg, strlen(arg) + 1);
        return 0;
    case O_INTERFACE:
        if (!*arg) {
            snprintf(err, len, "-i needs an interface name");
            return -1;
        }
        o->iface = arg;
        return 0;
    case O_SNAPLEN:
        if (parse_u64(arg, 64, 262144, &v) == 0) {
            o->snaplen = (int)v;
            return 0;
        }
        range = "-s takes bytes from 64 to 262144";
        break;
    case O_BUFFER:
        if (parse_u64(arg, 64, 4194304, &v) == 0) {
            o->buffer_kib = (uint32_t)v;
            return 0;
        }
        range = "-B takes KiB from 64 to 4194304";
        break;
    case O_NO_PROMISC:
        o->promisc = false;
        return 0;
    case O_DURATION:
        if (parse_duration(arg, 1000000, 1000, 31536000000000ull, &o->duration_us) == 0)
            return 0;
        range = "--duration takes seconds from 0.001 to 31536000";
        break;
    case O_SAVE_PCAP:
        if (!*arg) {
            snprintf(err, len, "--save-pcap needs a directory");
            return -1;
        }
        o->save_pcap = arg;
        return 0;
    case O_SAVE_FILES:
        if (parse_u64(arg, 1, EVIDENCE_MAX_FILES_MAX, &v) == 0) {
            o->save_files = (uint32_t)v;
            return 0;
        }
        snprintf(err, len, "--save-pcap-files takes a number from 1 to %u",
                 (unsigned)EVIDENCE_MAX_FILES_MAX);
        return -1;
    case O_SAVE_MB:
        if (parse_u64(arg, 1, 1048576, &v) == 0) {
            o->save_bytes = v << 20;
            return 0;
        }
        range = "--save-pcap-mb takes megabytes from 1 to 1048576";
        break;
    case O_METRICS:
        if (!*arg) {
            snprintf(err, len, "--metrics needs a file name");
            return -1;
        }
        o->metrics_path = arg;
        return 0;
    case O_USER:
        if (!*arg) {
            snprintf(err, len, "-Z needs a user name");
            return -1;
        }
        o->user = arg;
        return 0;
    case O_RETAIN:
        if (parse_duration(arg, 3600000000ull, 1000000, 87600ull * 3600000000ull,
                           &o->retain_us) == 0)
            return 0;
        range = "--retain takes hours from 0.0003 (1 s) to 87600";
        break;
    case O_AGAIN:
        o->again = true;
        return 0;
    case O_LIST:
        o->list = true;
        return 0;
    case O_VERDICT:
        if (verdict_from_name(arg) == V_NONE) {
            snprintf(err, len, "--verdict: no verdict is called '%s' (see docs/verdicts.md)",
                     arg);
            return -1;
        }
        if (o->n_verdicts == MAX_VERDICT_FILTERS) {
            snprintf(err, len, "--verdict: at most %d of them", MAX_VERDICT_FILTERS);
            return -1;
        }
        o->verdicts[o->n_verdicts++] = arg;
        return 0;
    case O_PROBLEMS:
        o->problems = true;
        return 0;
    case O_NO_PATHS:
        o->pipe.paths = false;
        return 0;
    case O_PROXY:
        return parse_proxy(o, arg, err, len);
    case O_FORMAT:
        if (export_format_parse(arg, &o->format)) {
            o->format_set = true;
            return 0;
        }
        snprintf(err, len, "--format: '%s' is not har, ndjson, csv or html", arg);
        return -1;
    case O_OUTPUT:
        o->output = arg;
        return 0;
    case O_SERVER:
        return parse_server(o, arg, err, len);
    case O_HOST:
        o->host = arg;
        return 0;
    case O_SINCE:
    case O_UNTIL:
        if (parse_time(arg, code == O_SINCE ? &o->since : &o->until) == 0)
            return 0;
        snprintf(err, len, "--%s: '%s' is not a time (2026-12-02T14:00:00Z, "
                 "2026-12-02 14:00, 2026-12-02, or epoch seconds)",
                 code == O_SINCE ? "since" : "until", arg);
        return -1;
    case O_JSON:
        o->json = true;
        return 0;
    case O_CLICKHOUSE:
        if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0) {
            snprintf(err, len, "--clickhouse takes an http:// or https:// URL, not '%s'",
                     arg);
            return -1;
        }
        o->clickhouse = arg;
        return 0;
    case O_FOLLOW:
        o->follow = true;
        return 0;
    case O_WORKERS:
        if (parse_u64(arg, 1, FANOUT_MAX_WORKERS, &v) == 0) {
            o->pipe.workers = (unsigned)v;
            return 0;
        }
        snprintf(err, len, "--workers takes a number of threads from 1 to %d",
                 FANOUT_MAX_WORKERS);
        return -1;
    case O_BATCH:
        if (parse_u64(arg, 1, PUSH_MAX_BATCH, &v) == 0) {
            o->push_batch = (uint32_t)v;
            return 0;
        }
        snprintf(err, len, "--batch takes a number of rows from 1 to %u", PUSH_MAX_BATCH);
        return -1;
    case O_LATEST:
        o->latest = true;
        return 0;
    case O_RUN:
        if (parse_u64(arg, 1, INT64_MAX, &v) == 0) {
            o->run_id = (int64_t)v;
            return 0;
        }
        range = "--run takes a run id (1 or more)";
        break;
    case O_WAIT_LOCK:
        if (parse_duration(arg, 1000000, 0, 86400000000ull, &o->wait_lock_us) == 0)
            return 0;
        range = "--wait-lock takes seconds from 0 to 86400";
        break;
    case O_NO_WAIT:
        if (parse_duration(arg, 1000, 1, 600000000ull, &o->pipe.verdict.no_wait_us) == 0)
            return 0;
        range = "--no-wait-ms takes milliseconds from 0.001 to 600000";
        break;
    case O_RETRY_WINDOW:
        if (parse_duration(arg, 1000000, 1000, 86400000000ull,
                           &o->pipe.verdict.retry_window_us) == 0)
            return 0;
        range = "--retry-window takes seconds from 0.001 to 86400";
        break;
    case O_STALL:
        if (parse_duration(arg, 1000, 1, 3600000000ull, &o->pipe.verdict.stall_us) == 0)
            return 0;
        range = "--stall-ms takes milliseconds from 0.001 to 3600000";
        break;
    case O_TCP_TIMEOUT:
        if (parse_duration(arg, 1000000, 1000000, 86400000000ull, &o->pipe.flow.idle_us) ==
            0)
            return 0;
        range = "--tcp-timeout takes seconds from 1 to 86400";
        break;
    case O_MAX_FLOWS:
        if (parse_u64(arg, FLOW_MIN_MAX, FLOW_MAX_MAX, &v) == 0) {
            o->pipe.flow.max_flows = (uint32_t)v;
            return 0;
        }
        snprintf(err, len, "--max-flows takes a number from %u to %u", FLOW_MIN_MAX,
                 FLOW_MAX_MAX);
        return -1;
    case O_OOO_CAP:
        if (parse_u64(arg, 1, 65536, &v) == 0) {
            o->pipe.ooo_cap_bytes = v << 20;
            return 0;
        }
        range = "--ooo-cap-mb takes megabytes from 1 to 65536";
        break;
    case O_PENDING_CAP:
        if (parse_u64(arg, 1, 65536, &v) == 0) {
            o->pipe.pending_cap_bytes = v << 20;
            return 0;
        }
        range = "--pending-cap-mb takes megabytes from 1 to 65536";
        break;
    }
    snprintf(err, len, "%s", range ? range : "unknown option");
    return -1;
}

/* An option the command does not take: say which commands do. */
static void not_taken(const char *arg, int optopt_, char *err, size_t len)
{
    for (int i = 0; i < N_OPTDEFS; i++) {
        const struct optdef *od = &optdefs[i];
        size_t nlen = strlen(od->name);
        bool is_long = strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, od->name, nlen) == 0 &&
                       (arg[2 + nlen] == '\0' || arg[2 + nlen] == '=');
        if (!is_long && !(optopt_ && optopt_ == od->code))
            continue;
        char who[128] = "";
        for (int c = 0; c < N_COMMANDS; c++) {
            if (!takes(&commands[c], od->name))
                continue;
            size_t n = strlen(who);
            snprintf(who + n, sizeof who - n, "%s%s", n ? ", " : "", commands[c].name);
        }
        if (is_long)
            snprintf(err, len, "--%s goes with %s", od->name, who);
        else
            snprintf(err, len, "-%c goes with %s", optopt_, who);
        return;
    }
    snprintf(err, len, "unknown option %s (try --help)", arg);
}

/* The words after -r's options, joined: a BPF filter, as tcpdump takes it. */
static int join_filter(struct options *o, char **words, int n, char *err, size_t len)
{
    if (o->filter) {
        snprintf(err, len, "a filter with -f and filter words after the options: "
                           "give one or the other");
        return -1;
    }
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += strlen(words[i]) + 1;
    o->filter = malloc(total);
    if (!o->filter) {
        snprintf(err, len, "out of memory");
        return -2;
    }
    size_t used = 0;
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(o->filter + used, total - used, "%s%s", i ? " " : "",
                                 words[i]);
    return 0;
}

static int parse_command(const struct command *c, int argc, char **argv, struct options *o,
                         char *err, size_t len)
{
    struct option longopts[N_OPTDEFS + 1];
    char shortopts[32] = ":";
    int n = 0;
    for (int i = 0; i < N_OPTDEFS; i++) {
        const struct optdef *od = &optdefs[i];
        if (!takes(c, od->name))
            continue;
        longopts[n++] = (struct option){ od->name, od->arg ? required_argument : no_argument,
                                         NULL, od->code };
        if (od->code < 256) {
            size_t k = strlen(shortopts);
            shortopts[k++] = (char)od->code;
            if (od->arg)
                shortopts[k++] = ':';
            shortopts[k] = '\0';
        }
    }
    longopts[n] = (struct option){ NULL, 0, NULL, 0 };
    /* -r may come once per argument: room for all of them */
    o->inputs = calloc((size_t)argc + 1, sizeof *o->inputs);
    if (!o->inputs) {
        snprintf(err, len, "out of memory");
        return -2;
    }
    bool db_given = false, no_db = false;
    optind = 1;
    opterr = 0;
    int code;
    while ((code = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (code == ':') {
            snprintf(err, len, "option %s needs a value", argv[optind - 1]);
            return -1;
        }
        if (code == '?') {
            not_taken(argv[optind - 1], optopt, err, len);
            return -1;
        }
        if (code == O_HELP) { /* whatever else is on the line */
            o->help = true;
            return 0;
        }
        db_given |= code == O_DB;
        no_db |= code == O_NO_DB;
        int rc = apply(code, optarg, o, err, len);
        if (rc != 0)
            return rc;
    }
    if (no_db && db_given) {
        snprintf(err, len, "--db and --no-db contradict each other");
        return -1;
    }
    if (o->run_id && o->latest) {
        snprintf(err, len, "--run and --latest contradict each other");
        return -1;
    }
    if ((o->n_verdicts || o->problems) && !o->list && strcmp(c->name, "analyze") == 0) {
        snprintf(err, len, "--verdict and --problems choose what --list shows: add --list");
        return -1;
    }
    char **rest = &argv[optind];
    int n_rest = argc - optind;
    if (o->n_inputs) /* -r given: the rest is a filter */
        return n_rest ? join_filter(o, rest, n_rest, err, len) : 0;
    if (n_rest < c->min_args) {
        snprintf(err, len, "%s needs %s", c->name,
                 c->max_args == 1 ? "an exchange id" : "at least one capture file");
        return -1;
    }
    if (c->max_args >= 0 && n_rest > c->max_args) {
        snprintf(err, len, c->max_args ? "%s takes one argument, not %d"
                                       : "%s takes no arguments (got %d; did you mean "
                                         "analyze?)",
                 c->name, n_rest);
        return -1;
    }
    if (o->save_pcap && o->pipe.workers > 1) {
        snprintf(err, len, "--save-pcap works with one analysis thread: drop --workers %u",
                 o->pipe.workers);
        return -1;
    }
    if (c->run == cmd_live) { /* tcpdump -i IFACE port 80 */
        if (!o->iface) {
            snprintf(err, len, "live needs an interface: -i IFACE ('any' for every one)");
            return -1;
        }
        return n_rest ? join_filter(o, rest, n_rest, err, len) : 0;
    }
    if (c->run == cmd_push && !o->clickhouse) {
        snprintf(err, len, "push needs a destination: --clickhouse URL");
        return -1;
    }
    if (c->run == cmd_show) {
        uint64_t id;
        if (parse_u64(rest[0], 1, INT64_MAX, &id) != 0) {
            snprintf(err, len, "show takes an exchange id (a number), not '%s'", rest[0]);
            return -1;
        }
        o->exchange_id = (int64_t)id;
        return 0;
    }
    for (int i = 0; i < n_rest; i++)
        o->inputs[o->n_inputs++] = rest[i];
    return 0;
}

void cli_options_free(struct options *o)
{
    free(o->inputs);
    free(o->filter);
    o->inputs = NULL;
    o->filter = NULL;
}

int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len)
{
    options_defaults(o);
    if (argc < 2) {
        o->help = true;
        return 0;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        o->help = true;
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        o->version = true;
        return 0;
    }
    bool help = !strcmp(name, "help");
    if (help) { /* expectscope help [COMMAND] */
        o->help = true;
        if (argc < 3)
            return 0;
        name = argv[2];
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        o->cmd = &commands[i];
        return help ? 0 : parse_command(&commands[i], argc - 1, argv + 1, o, err, err_len);
    }
    snprintf(err, err_len, "unknown command '%s' (try --help)", name);
    return -1;
}
