/* push.c: the `push` command: the destination from the command line, the signal
 * handlers while it ships, and the one-line summary. The shipping is storage's
 * (storage/push.h). See cli.h.
 *
 * Owns: the SIGINT/SIGTERM/SIGHUP handlers while it runs.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "push.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void catch_signals(void (*handler)(int))
{
    struct sigaction sa = { .sa_handler = handler };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cmd_push(const struct options *o)
{
    stop_signal = 0;
    catch_signals(on_signal);
    struct push_config cfg = {
        .db_path = o->db_path,
        .url = o->clickhouse,
        .batch_rows = o->push_batch,
        .follow = o->follow,
        .stop = &stop_signal,
        .log = stderr,
    };
    struct push_stats st;
    char err[1024];
    int rc = push_run(&cfg, &st, err, sizeof err);
    catch_signals(SIG_DFL);
    if (rc < 0)
        fprintf(stderr, "expectscope: %s\n", err);
    if (!o->quiet && (rc >= 0 || st.batches)) { /* after an error: only what did go */
        char dest[1024];
        uint64_t total = 0;
        for (int t = 0; t < PT_COUNT; t++)
            total += st.rows[t];
        fprintf(rc < 0 ? stderr : stdout, "push: %" PRIu64 " rows in %" PRIu64
                " batches to %s (", total, st.batches,
                push_destination(o->clickhouse, dest, sizeof dest));
        for (int t = 0; t < PT_COUNT; t++)
            fprintf(rc < 0 ? stderr : stdout, "%s%s %" PRIu64, t ? ", " : "",
                    push_table_name((enum push_table_id)t), st.rows[t]);
        if (st.failures)
            fprintf(rc < 0 ? stderr : stdout, "); %" PRIu64 " failed attempts\n",
                    st.failures);
        else
            fprintf(rc < 0 ? stderr : stdout, ")\n");
    }
    if (rc < 0)
        return EXIT_INPUT;
    if (rc == 1)
        return 128 + (int)stop_signal;
    return EXIT_OK;
}
