/* cli.h: the command layer: the command table, the options each command takes, and
 * the commands themselves (presentation and exit status; the work is done by the
 * pipeline and storage's read API).
 *
 * Owns: struct options, filled once from argv with every default resolved; what is
 *   printed; the process's signal handlers while a command runs.
 * Called by: main() only. Calls: every layer; nothing calls into it.
 */
#ifndef ES_CLI_H
#define ES_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

struct options;

/* One row of the command table. */
struct command {
    const char *name;
    /* Fill o from the command's arguments (argv[0] is the command's name). 0, or -1
     * with a one-line reason in err (a usage error). */
    int (*parse)(int argc, char **argv, struct options *o, char *err, size_t err_len);
    /* Run the command; returns the process's exit status. */
    int (*run)(const struct options *o);
};

/* What the command line asked for. Every field holds its resolved value: defaults are
 * set once, by cli_parse(), before any option is read. */
struct options {
    const struct command *cmd;
    bool help, version;         /* --help, --version (cmd is NULL) */
    struct pipeline_config pipe;/* thresholds and caps; db and observer are left unset */
    const char *const *inputs;  /* capture files, borrowed from argv */
    int n_inputs;
    const char *db_path;        /* the database; NULL with --no-db */
    bool quiet;                 /* no summary, no progress bar */
    bool list;                  /* analyze --list: one line per exchange */
    bool json;                  /* report --json */
};

/* Parse argv into o. 0, or -1 with a one-line reason in err (a usage error). */
int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len);

/* The help text, with the defaults of the resolved options. */
void cli_help(FILE *out);

/* The commands (analyze.c, flows.c, report.c). */
int cmd_analyze(const struct options *o);
int cmd_flows(const struct options *o);
int cmd_report(const struct options *o);

/* Shared by analyze and flows (drive.c): open the inputs as a file source, or say why
 * in one line and return NULL. */
struct source *cli_open_inputs(const struct options *o);

/* Run a pipeline to the end of its source, or until SIGINT or SIGTERM: a progress bar
 * on stderr for large inputs on a terminal (unless quiet), warnings on stderr, then
 * pipeline_drain(). Returns EXIT_OK, or EXIT_INPUT after one line on stderr (a read or
 * write error). *signo is the signal that stopped the run early, 0 when none did. */
int cli_drive(struct pipeline *p, struct source *src, bool quiet, int *signo);

#endif
