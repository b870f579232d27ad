/* options.c: the command table and each command's options. See cli.h.
 *
 * Each command has one parse function that names the options it takes; an option
 * another command takes is refused with a line saying which command it goes with,
 * never ignored. Defaults are set once, from pipeline_config_defaults(), before any
 * option is read, and the help text prints those same values.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "limits.h"

static int parse_analyze(int argc, char **argv, struct options *o, char *err, size_t len);
static int parse_flows(int argc, char **argv, struct options *o, char *err, size_t len);
static int parse_report(int argc, char **argv, struct options *o, char *err, size_t len);

static const struct command commands[] = {
    { "analyze", parse_analyze, cmd_analyze },
    { "flows", parse_flows, cmd_flows },
    { "report", parse_report, cmd_report },
};

void cli_help(FILE *out)
{
    struct pipeline_config d;
    pipeline_config_defaults(&d);
    fprintf(out,
        "usage: expectscope COMMAND [options] ...\n"
        "\n"
        "Passive analyzer for the HTTP 'Expect: 100-continue' handshake.\n"
        "\n"
        "commands:\n"
        "  analyze [options] CAPTURE... follow every HTTP exchange and its Expect handshake,\n"
        "                               store flows, exchanges and verdicts in the database,\n"
        "                               print a verdict summary (--list: every exchange)\n"
        "  report [--db FILE] [--json]  summary of what the database holds, per run and\n"
        "                               overall\n"
        "  flows [options] CAPTURE...   one line per TCP flow: endpoints, nDPI protocol,\n"
        "                               packets and payload bytes each way, missing bytes,\n"
        "                               retransmissions, out-of-order segments, end reason\n"
        "  --help                       this text\n"
        "  --version                    the version\n"
        "\n"
        "CAPTURE is a pcap or pcapng file, gzip-compressed or not; several are read in\n"
        "the order given.\n"
        "\n"
        "options:\n"
        "      --db FILE          analyze, report: the SQLite database (default\n"
        "                         expectscope.db); runs append\n"
        "      --no-db            analyze: write no database\n"
        "      --json             report: JSON instead of tables\n"
        "  -q, --quiet            analyze, flows: no summary and no progress bar\n"
        "      --list             analyze: one line per exchange on stdout (TSV)\n"
        "      --no-wait-ms MS    analyze: a body starting within MS of the request\n"
        "                         headers did not wait for 100 (verdict no_wait;\n"
        "                         default %llu)\n"
        "      --retry-window SEC analyze: a repeat of a 417'd request within SEC is its\n"
        "                         retry (verdict retry_after_417; default %llu)\n"
        "      --stall-ms MS      analyze: a pause longer than MS inside a request body is\n"
        "                         flagged body_stall (default %llu)\n"
        "      --max-flows N      concurrent TCP flows kept (default %u); past it the least\n"
        "                         recently seen flow is evicted (end reason 'evicted')\n"
        "      --tcp-timeout SEC  a flow idle this long (packet time) ends with 'timeout'\n"
        "                         (default %llu)\n"
        "      --ooo-cap-mb MB    out-of-order bytes held over all flows (default %llu);\n"
        "                         past it, and past %u KiB in one flow, a hole is skipped\n"
        "                         and reported as a gap\n"
        "\n"
        "exit status: 0 success, 1 input or database that cannot be read or written,\n"
        "2 usage error; analyze and flows stopped by SIGINT or SIGTERM finish what they\n"
        "saw and exit 130 or 143.\n"
        "See docs/options.md for every option.\n",
        (unsigned long long)(d.verdict.no_wait_us / 1000u),
        (unsigned long long)(d.verdict.retry_window_us / 1000000u),
        (unsigned long long)(d.verdict.stall_us / 1000u), d.flow.max_flows,
        (unsigned long long)(d.flow.idle_us / 1000000u),
        (unsigned long long)(d.ooo_cap_bytes >> 20), REASM_MAX_OOO_PER_FLOW >> 10);
}

/* ---- option values ------------------------------------------------------------- */

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

enum {
    OPT_MAX_FLOWS = 256, OPT_TCP_TIMEOUT, OPT_OOO_CAP, OPT_LIST, OPT_NO_WAIT, OPT_RETRY_WINDOW,
    OPT_STALL, OPT_DB, OPT_NO_DB, OPT_JSON,
};

/* Every option of every command, with the commands that take it (for the message
 * when another command is given it). */
static const struct {
    struct option opt;
    const char *takers;
} all_options[] = {
    { { "quiet", no_argument, NULL, 'q' }, "analyze and flows" },
    { { "help", no_argument, NULL, 'h' }, "every command" },
    { { "max-flows", required_argument, NULL, OPT_MAX_FLOWS }, "analyze and flows" },
    { { "tcp-timeout", required_argument, NULL, OPT_TCP_TIMEOUT }, "analyze and flows" },
    { { "ooo-cap-mb", required_argument, NULL, OPT_OOO_CAP }, "analyze and flows" },
    { { "list", no_argument, NULL, OPT_LIST }, "analyze" },
    { { "no-wait-ms", required_argument, NULL, OPT_NO_WAIT }, "analyze" },
    { { "retry-window", required_argument, NULL, OPT_RETRY_WINDOW }, "analyze" },
    { { "stall-ms", required_argument, NULL, OPT_STALL }, "analyze" },
    { { "db", required_argument, NULL, OPT_DB }, "analyze and report" },
    { { "no-db", no_argument, NULL, OPT_NO_DB }, "analyze" },
    { { "json", no_argument, NULL, OPT_JSON }, "report" },
};
enum { N_OPTIONS = sizeof all_options / sizeof all_options[0] };

/* Apply one option's value to o. 0, or -1 with the reason in err. */
static int apply(int code, const char *arg, struct options *o, bool *db_given, char *err,
                 size_t len)
{
    uint64_t v;
    switch (code) {
    case 'q':
        o->quiet = true;
        return 0;
    case OPT_MAX_FLOWS:
        if (parse_u64(arg, FLOW_MIN_MAX, FLOW_MAX_MAX, &v) != 0)
            break;
        o->pipe.flow.max_flows = (uint32_t)v;
        return 0;
    case OPT_TCP_TIMEOUT:
        if (parse_u64(arg, 1, 86400, &v) != 0)
            break;
        o->pipe.flow.idle_us = v * 1000000u;
        return 0;
    case OPT_OOO_CAP:
        if (parse_u64(arg, 1, 65536, &v) != 0)
            break;
        o->pipe.ooo_cap_bytes = v << 20;
        return 0;
    case OPT_LIST:
        o->list = true;
        return 0;
    case OPT_NO_WAIT:
        if (parse_u64(arg, 1, 600000, &v) != 0)
            break;
        o->pipe.verdict.no_wait_us = v * 1000u;
        return 0;
    case OPT_RETRY_WINDOW:
        if (parse_u64(arg, 1, 86400, &v) != 0)
            break;
        o->pipe.verdict.retry_window_us = v * 1000000u;
        return 0;
    case OPT_STALL:
        if (parse_u64(arg, 1, 3600000, &v) != 0)
            break;
        o->pipe.verdict.stall_us = v * 1000u;
        return 0;
    case OPT_DB:
        if (!*arg) {
            snprintf(err, len, "--db needs a file name");
            return -1;
        }
        o->db_path = arg;
        *db_given = true;
        return 0;
    case OPT_NO_DB:
        o->db_path = NULL;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    }
    /* a value out of range */
    static const struct {
        int code;
        const char *what;
    } ranges[] = {
        { OPT_MAX_FLOWS, "--max-flows takes a number from " },
        { OPT_TCP_TIMEOUT, "--tcp-timeout takes seconds from 1 to 86400" },
        { OPT_OOO_CAP, "--ooo-cap-mb takes megabytes from 1 to 65536" },
        { OPT_NO_WAIT, "--no-wait-ms takes milliseconds from 1 to 600000" },
        { OPT_RETRY_WINDOW, "--retry-window takes seconds from 1 to 86400" },
        { OPT_STALL, "--stall-ms takes milliseconds from 1 to 3600000" },
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (ranges[i].code != code)
            continue;
        if (code == OPT_MAX_FLOWS)
            snprintf(err, len, "%s%u to %u", ranges[i].what, FLOW_MIN_MAX, FLOW_MAX_MAX);
        else
            snprintf(err, len, "%s", ranges[i].what);
    }
    return -1;
}

/* Read the options of one command: `takes` lists the long names it accepts (short
 * forms follow their long ones). Inputs are what remains. */
static int parse_common(int argc, char **argv, struct options *o, const char *const *takes,
                        char *err, size_t len)
{
    struct option longopts[N_OPTIONS + 1];
    char shortopts[16] = ":";
    int n = 0;
    for (const char *const *t = takes; *t; t++) {
        for (int i = 0; i < N_OPTIONS; i++) {
            if (strcmp(all_options[i].opt.name, *t) != 0)
                continue;
            longopts[n++] = all_options[i].opt;
            int c = all_options[i].opt.val;
            if (c < 256 && strlen(shortopts) + 1 < sizeof shortopts)
                shortopts[strlen(shortopts)] = (char)c;
        }
    }
    longopts[n] = (struct option){ NULL, 0, NULL, 0 };

    bool db_given = false, no_db = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == ':') {
            snprintf(err, len, "option %s needs a value", argv[optind - 1]);
            return -1;
        }
        if (c == '?') {
            /* an option of another command, or of none */
            const char *arg = argv[optind - 1];
            for (int i = 0; i < N_OPTIONS; i++) {
                const struct option *op = &all_options[i].opt;
                size_t nlen = strlen(op->name);
                bool is_long = strncmp(arg, "--", 2) == 0 &&
                               strncmp(arg + 2, op->name, nlen) == 0 &&
                               (arg[2 + nlen] == '\0' || arg[2 + nlen] == '=');
                char shown[32];
                if (is_long)
                    snprintf(shown, sizeof shown, "--%s", op->name);
                else if (optopt && optopt == op->val)
                    snprintf(shown, sizeof shown, "-%c", optopt);
                else
                    continue;
                snprintf(err, len, "%s goes with %s", shown, all_options[i].takers);
                return -1;
            }
            snprintf(err, len, "unknown option %s (try --help)", arg);
            return -1;
        }
        if (c == 'h') { /* whatever else is on the line */
            o->help = true;
            return 0;
        }
        no_db |= c == OPT_NO_DB;
        if (apply(c, optarg, o, &db_given, err, len) != 0)
            return -1;
    }
    if (no_db && db_given) {
        snprintf(err, len, "--db and --no-db contradict each other");
        return -1;
    }
    o->inputs = (const char *const *)&argv[optind];
    o->n_inputs = argc - optind;
    return 0;
}

static int need_inputs(const struct options *o, char *err, size_t len)
{
    if (o->help || o->n_inputs >= 1)
        return 0;
    snprintf(err, len, "%s needs at least one capture file", o->cmd->name);
    return -1;
}

static int parse_analyze(int argc, char **argv, struct options *o, char *err, size_t len)
{
    static const char *const takes[] = { "quiet", "help", "max-flows", "tcp-timeout",
                                         "ooo-cap-mb", "list", "no-wait-ms", "retry-window",
                                         "stall-ms", "db", "no-db", NULL };
    if (parse_common(argc, argv, o, takes, err, len) != 0)
        return -1;
    return need_inputs(o, err, len);
}

static int parse_flows(int argc, char **argv, struct options *o, char *err, size_t len)
{
    static const char *const takes[] = { "quiet", "help", "max-flows", "tcp-timeout",
                                         "ooo-cap-mb", NULL };
    if (parse_common(argc, argv, o, takes, err, len) != 0)
        return -1;
    o->pipe.dissect = false;
    return need_inputs(o, err, len);
}

static int parse_report(int argc, char **argv, struct options *o, char *err, size_t len)
{
    static const char *const takes[] = { "help", "db", "json", NULL };
    if (parse_common(argc, argv, o, takes, err, len) != 0)
        return -1;
    if (o->n_inputs && !o->help) {
        snprintf(err, len, "report takes no capture files (did you mean analyze?)");
        return -1;
    }
    return 0;
}

int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    pipeline_config_defaults(&o->pipe);
    o->db_path = "expectscope.db";
    if (argc < 2) {
        o->help = true;
        return 0;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        o->help = true;
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        o->version = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            o->cmd = &commands[i];
            return commands[i].parse(argc - 1, argv + 1, o, err, err_len);
        }
    }
    snprintf(err, err_len, "unknown command '%s' (try --help)", name);
    return -1;
}
