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

#include "export.h"
#include "pipeline.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

struct options;

/* One row of the command table (options.c). */
struct command {
    const char *name;
    const char *summary;  /* one line for the command list */
    const char *usage;    /* the usage lines after "expectscope NAME " */
    const char *about;    /* a paragraph for NAME --help */
    const char *const *takes; /* the long names of the options it takes */
    int min_args, max_args;   /* positional arguments (-1: any number) */
    int (*run)(const struct options *o);
};

enum { MAX_VERDICT_FILTERS = 16, MAX_PROXY_ADDRS = 32 };

/* What the command line asked for. Every field holds its resolved value: defaults are
 * set once, by cli_parse(), before any option is read. Free with cli_options_free(). */
struct options {
    const struct command *cmd;   /* NULL with --help or --version alone */
    bool help, version;          /* print the help (of cmd when set), the version */
    struct pipeline_config pipe; /* thresholds and caps; db and observer are left unset */
    const char **inputs;         /* captures: positional, or -r; strings borrowed */
    int n_inputs;
    char *filter;                /* BPF expression (-f, or the words after -r), or NULL */
    const char *db_path;         /* the database; NULL with --no-db */
    char sensor[64];             /* --sensor; default the host name; pipe.sensor points
                                    here */
    bool again;                  /* analyze: even captures the database holds */
    bool quiet;                  /* no summary, no progress bar */
    bool verbose;                /* the writer's timings too */
    bool list;                   /* analyze --list */
    const char *verdicts[MAX_VERDICT_FILTERS]; /* --verdict, validated names */
    int n_verdicts;
    bool problems;               /* --problems */
    uint64_t wait_lock_us;       /* --wait-lock; 0: fail at once */
    bool json;                   /* report --json */
    int64_t run_id;              /* report --run N; 0: every run */
    bool latest;                 /* report --latest */
    int64_t exchange_id;         /* show ID */
    const char *iface;           /* live -i */
    int snaplen;                 /* live -s */
    uint32_t buffer_kib;         /* live -B */
    bool promisc;                /* live: not --no-promisc */
    uint64_t duration_us;        /* live --duration; 0: until a signal */
    const char *user;            /* live -Z */
    uint64_t retain_us;          /* live --retain; 0: keep everything */
    const char *metrics_path;    /* live --metrics */
    struct hops_proxy proxies[MAX_PROXY_ADDRS]; /* --proxy; pipe.proxies and
                                                   pipe.n_proxies say them */
    uint32_t proxy_groups;       /* --proxy options seen */
    const char *save_pcap;       /* live --save-pcap DIR */
    enum export_format format;   /* export --format */
    bool format_set;
    const char *output;          /* export -o FILE; NULL or "-": standard output */
    char server_ip[64];          /* export --server, as the database writes it; "" none */
    int server_port;             /* with server_ip; 0: any */
    const char *host;            /* export --host */
    double since, until;         /* export --since/--until, epoch seconds; 0: none */
    uint32_t save_files;         /* --save-pcap-files */
    uint64_t save_bytes;         /* --save-pcap-mb, in bytes */
    const char *clickhouse;      /* push --clickhouse URL */
    bool follow;                 /* push --follow */
    uint32_t push_batch;         /* push --batch */
};

/* Parse argv into o. 0; -1 with a one-line reason in err (a usage error); -2 when
 * memory ran out. */
int cli_parse(int argc, char **argv, struct options *o, char *err, size_t err_len);

void cli_options_free(struct options *o);

/* The help text: of one command, or (cmd NULL) the list of commands. Lines fit 80
 * columns; defaults are the resolved ones. */
void cli_help(FILE *out, const struct command *cmd);

/* Words of text wrapped to 80 columns, then a newline: the first line goes on from
 * column `at` (where the cursor is), the others start at column `col`. */
void cli_wrap(FILE *out, const char *text, int at, int col);

/* The commands (analyze.c, flows.c, report.c, show.c, live.c, paths.c). */
int cmd_analyze(const struct options *o);
int cmd_flows(const struct options *o);
int cmd_report(const struct options *o);
int cmd_show(const struct options *o);
int cmd_live(const struct options *o);
int cmd_paths(const struct options *o);
int cmd_export(const struct options *o);
int cmd_push(const struct options *o);

/* Shared by analyze and flows (drive.c): open the inputs (and the filter) as a file
 * source, or say why in one line and return NULL with the exit status in *status
 * (EXIT_USAGE for a filter that does not compile, EXIT_INPUT otherwise). */
struct source *cli_open_inputs(const struct options *o, int *status);

/* Run a pipeline to the end of its source, or until SIGINT, SIGTERM or SIGHUP: a progress bar
 * on stderr for large inputs on a terminal (unless quiet), warnings on stderr, then
 * pipeline_drain(). Returns EXIT_OK, or EXIT_INPUT after one line on stderr (a read or
 * write error). *signo is the signal that stopped the run early, 0 when none did. */
int cli_drive(struct pipeline *p, struct source *src, bool quiet, int *signo);


#endif
