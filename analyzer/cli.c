/* cli.c: see cli.h. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "verdict.h"

void cli_help(FILE *out)
{
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
        "      --db FILE          the SQLite database (default expectscope.db); runs append\n"
        "      --no-db            analyze: write no database\n"
        "      --json             report: JSON instead of tables\n"
        "  -q, --quiet            no summary and no progress bar\n"
        "      --list             analyze: one line per exchange on stdout (TSV)\n"
        "      --no-wait-ms MS    a body starting within MS of the request headers did not\n"
        "                         wait for 100 (verdict no_wait; default %llu)\n"
        "      --retry-window SEC a repeat of a 417'd request within SEC is its retry\n"
        "                         (verdict retry_after_417; default %llu)\n"
        "      --stall-ms MS      a pause longer than MS inside a request body is flagged\n"
        "                         body_stall (default %llu)\n"
        "      --max-flows N      concurrent TCP flows kept (default %u); past it the least\n"
        "                         recently seen flow is evicted (end reason 'evicted')\n"
        "      --tcp-timeout SEC  a flow idle this long (packet time) ends with 'timeout'\n"
        "                         (default %llu)\n"
        "      --ooo-cap-mb MB    out-of-order bytes held over all flows (default %llu);\n"
        "                         past it, and past %u KiB in one flow, a hole is skipped\n"
        "                         and reported as a gap\n"
        "\n"
        "exit status: 0 success, 1 input or database that cannot be read or written,\n"
        "2 usage error; analyze stopped by SIGINT or SIGTERM commits what it saw and\n"
        "exits 130 or 143.\n"
        "See docs/options.md for every option.\n",
        (unsigned long long)(VERDICT_DEFAULT_NO_WAIT_US / 1000u),
        (unsigned long long)(VERDICT_DEFAULT_RETRY_WINDOW_US / 1000000u),
        (unsigned long long)(VERDICT_DEFAULT_STALL_US / 1000u),
        FLOW_DEFAULT_MAX, (unsigned long long)(FLOW_DEFAULT_IDLE_US / 1000000u),
        (unsigned long long)(REASM_DEFAULT_OOO_GLOBAL >> 20),
        REASM_MAX_OOO_PER_FLOW >> 10);
}

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

int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    if (argc < 2) {
        o->cmd = CMD_HELP;
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        o->cmd = CMD_HELP;
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        o->cmd = CMD_VERSION;
        return 0;
    }
    if (!strcmp(cmd, "flows")) {
        o->cmd = CMD_FLOWS;
    } else if (!strcmp(cmd, "analyze")) {
        o->cmd = CMD_ANALYZE;
    } else if (!strcmp(cmd, "report")) {
        o->cmd = CMD_REPORT;
    } else {
        snprintf(err, err_len, "unknown command '%s' (try --help)", cmd);
        return -1;
    }

    static const struct option longopts[] = {
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
        { "tcp-timeout", required_argument, NULL, OPT_TCP_TIMEOUT },
        { "ooo-cap-mb", required_argument, NULL, OPT_OOO_CAP },
        { "list", no_argument, NULL, OPT_LIST },
        { "no-wait-ms", required_argument, NULL, OPT_NO_WAIT },
        { "retry-window", required_argument, NULL, OPT_RETRY_WINDOW },
        { "stall-ms", required_argument, NULL, OPT_STALL },
        { "db", required_argument, NULL, OPT_DB },
        { "no-db", no_argument, NULL, OPT_NO_DB },
        { "json", no_argument, NULL, OPT_JSON },
        { NULL, 0, NULL, 0 },
    };
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            o->cmd = CMD_HELP;
            return 0;
        case OPT_MAX_FLOWS:
            if (parse_u64(optarg, FLOW_MIN_MAX, FLOW_MAX_MAX, &v)) {
                snprintf(err, err_len, "--max-flows takes a number from %u to %u",
                         FLOW_MIN_MAX, FLOW_MAX_MAX);
                return -1;
            }
            o->max_flows = (uint32_t)v;
            break;
        case OPT_TCP_TIMEOUT:
            if (parse_u64(optarg, 1, 86400, &v)) {
                snprintf(err, err_len, "--tcp-timeout takes seconds from 1 to 86400");
                return -1;
            }
            o->tcp_timeout_us = v * 1000000u;
            break;
        case OPT_OOO_CAP:
            if (parse_u64(optarg, 1, 65536, &v)) {
                snprintf(err, err_len, "--ooo-cap-mb takes megabytes from 1 to 65536");
                return -1;
            }
            o->ooo_cap_bytes = v << 20;
            break;
        case OPT_LIST:
            if (o->cmd != CMD_ANALYZE) {
                snprintf(err, err_len, "--list goes with analyze");
                return -1;
            }
            o->list = true;
            break;
        case OPT_NO_WAIT:
            if (parse_u64(optarg, 1, 600000, &v)) {
                snprintf(err, err_len, "--no-wait-ms takes milliseconds from 1 to 600000");
                return -1;
            }
            o->no_wait_us = v * 1000u;
            break;
        case OPT_RETRY_WINDOW:
            if (parse_u64(optarg, 1, 86400, &v)) {
                snprintf(err, err_len, "--retry-window takes seconds from 1 to 86400");
                return -1;
            }
            o->retry_window_us = v * 1000000u;
            break;
        case OPT_STALL:
            if (parse_u64(optarg, 1, 3600000, &v)) {
                snprintf(err, err_len, "--stall-ms takes milliseconds from 1 to 3600000");
                return -1;
            }
            o->stall_us = v * 1000u;
            break;
        case OPT_DB:
            if (!*optarg) {
                snprintf(err, err_len, "--db needs a file name");
                return -1;
            }
            o->db_path = optarg;
            break;
        case OPT_NO_DB:
            if (o->cmd != CMD_ANALYZE) {
                snprintf(err, err_len, "--no-db goes with analyze");
                return -1;
            }
            o->no_db = true;
            break;
        case OPT_JSON:
            if (o->cmd != CMD_REPORT) {
                snprintf(err, err_len, "--json goes with report");
                return -1;
            }
            o->json = true;
            break;
        case ':':
            snprintf(err, err_len, "option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, err_len, "unknown option %s (try --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (o->no_db && o->db_path) {
        snprintf(err, err_len, "--db and --no-db contradict each other");
        return -1;
    }
    if (!o->db_path && !o->no_db)
        o->db_path = "expectscope.db";
    o->inputs = (const char *const *)&argv[optind];
    o->n_inputs = argc - optind;
    if (o->cmd == CMD_REPORT) {
        if (o->n_inputs) {
            snprintf(err, err_len, "report takes no capture files (did you mean analyze?)");
            return -1;
        }
        return 0;
    }
    if (o->n_inputs < 1) {
        snprintf(err, err_len, "%s needs at least one capture file", cmd);
        return -1;
    }
    return 0;
}
