/* cli.h: command-line parsing and help for the expectscope binary.
 *
 * Owns: struct options, filled once from argv; the help text (kept in step with
 *   docs/options.md).
 * Called by: main() only.
 */
#ifndef ES_CLI_H
#define ES_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

enum command {
    CMD_HELP,    /* --help, or no command */
    CMD_VERSION, /* --version */
    CMD_FLOWS,   /* one line per TCP flow */
    CMD_ANALYZE, /* the whole pipeline: exchanges and verdicts */
    CMD_REPORT,  /* summary of what a database holds */
};

struct options {
    enum command cmd;
    const char *const *inputs; /* capture files, borrowed from argv */
    int n_inputs;
    bool quiet;
    uint32_t max_flows;        /* 0: default */
    uint64_t tcp_timeout_us;   /* 0: default */
    uint64_t linger_us;        /* 0: default */
    uint64_t ooo_cap_bytes;    /* 0: default */
    bool list;                 /* analyze --list: one line per exchange */
    const char *db_path;       /* --db, default "expectscope.db" */
    bool no_db;                /* analyze --no-db */
    bool json;                 /* report --json */
    uint64_t no_wait_us;       /* 0: default */
    uint64_t retry_window_us;  /* 0: default */
    uint64_t stall_us;         /* 0: default */
};

/* Fill o from argv. Returns 0, or -1 with a one-line reason in err (a usage error). */
int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len);

/* The full help text. */
void cli_help(FILE *out);

#endif
