/* drive.c: running a pipeline from the command line: inputs, progress, signals. See
 * cli.h. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "source_file.h"

/* Packets between two looks at the progress bar and the stop flag. */
enum { FEED_BATCH = 65536 };

/* The signal that stops the run; what was seen is still analysed and stored. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

struct source *cli_open_inputs(const struct options *o, int *status)
{
    char err[600];
    struct source_file_config cfg = { (const char *const *)o->inputs, o->n_inputs,
                                      o->filter };
    enum source_file_error why;
    struct source *src = source_file_open(&cfg, err, sizeof err, &why);
    if (!src) {
        fprintf(stderr, "expectscope: %s\n", err);
        *status = why == SOURCE_FILE_BAD_FILTER ? EXIT_USAGE : EXIT_INPUT;
        return NULL;
    }
    /* one of several inputs whose link type we do not decode: the others go on */
    int n = 0;
    const struct source_input *in = source_inputs(src, &n);
    for (int i = 0; i < n; i++)
        if (in[i].undecodable)
            fprintf(stderr, "expectscope: warning: %s: link type %d (%s) is not decoded;"
                    " its packets are counted as undecodable, the other inputs are"
                    " analysed\n", in[i].path, in[i].linktype,
                    in[i].link_name ? in[i].link_name : "unknown");
    return src;
}

/* A progress bar on stderr, for inputs large enough to wait for. */
static void progress(const struct source *src, bool done)
{
    uint64_t at, total;
    source_progress(src, &at, &total);
    if (total < (64u << 20))
        return;
    if (done) {
        fprintf(stderr, "\r%60s\r", "");
        return;
    }
    unsigned pct = (unsigned)(at * 100 / total);
    char bar[41];
    unsigned fill = pct * 40 / 100;
    memset(bar, '#', fill);
    memset(bar + fill, ' ', 40 - fill);
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %llu/%llu MB", bar, pct, (unsigned long long)(at >> 20),
            (unsigned long long)(total >> 20));
}

int cli_drive(struct pipeline *p, struct source *src, bool quiet, int *signo)
{
    stop_signal = 0;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    /* SIGHUP too: a terminal closing under a long run, or a service manager, must not
     * lose what was seen */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    bool bar = !quiet && isatty(STDERR_FILENO);
    int rc = EXIT_OK, stopped_by = 0;
    char msg[600];
    for (;;) {
        if (bar)
            progress(src, false);
        if (stop_signal) {
            stopped_by = (int)stop_signal;
            break;
        }
        enum pipeline_state st = pipeline_feed(p, FEED_BATCH, msg, sizeof msg);
        if (st == PIPELINE_WARNING) {
            fprintf(stderr, "expectscope: warning: %s\n", msg);
        } else if (st == PIPELINE_ERROR) {
            fprintf(stderr, "expectscope: %s\n", msg);
            rc = EXIT_INPUT;
            break;
        } else if (st == PIPELINE_END) {
            break;
        }
    }
    if (bar)
        progress(src, true);
    /* A signal during a read that went on to the end of the input (a stalled pipe): the
     * run was still stopped by it. */
    if (!stopped_by && stop_signal)
        stopped_by = (int)stop_signal;
    if (stopped_by)
        pipeline_stopped(p);
    /* The first error is the one worth a line: after a failed write, finishing the
     * run fails for the same reason. */
    if (pipeline_drain(p, msg, sizeof msg) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "expectscope: %s\n", msg);
        rc = EXIT_INPUT;
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    *signo = stopped_by;
    return rc;
}
