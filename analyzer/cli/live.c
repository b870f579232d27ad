/* live.c: the `live` command: the same pipeline as analyze, on packets from an
 * interface, until SIGINT, SIGTERM or SIGHUP (or --duration), with a status line on a
 * terminal and one summary line at the end. See cli.h.
 *
 * Owns: the signal handlers and the status line while it runs; the privilege drop.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "source_live.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --metrics: the file is rewritten this often (and at the end). */
#define METRICS_EVERY_US 5000000u

struct live {
    const struct options *o;
    bool status;              /* a status line on stderr (a terminal, not --quiet) */
    uint64_t problems;        /* exchanges whose verdict is not plain or continue_ok */
    struct metrics *metrics;  /* --metrics, or NULL */
    uint64_t start_us;        /* wall clock */
    uint64_t next_metrics_us; /* monotonic */
};

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The metrics file now; a failure is said once per distinct error (metrics.h). */
static void write_metrics(struct live *l, struct pipeline *p)
{
    char err[400];
    if (metrics_write(l->metrics, pipeline_totals(p), l->start_us, err, sizeof err) != 0 &&
        err[0]) {
        if (l->status)
            fputc('\n', stderr);
        fprintf(stderr, "expectscope: warning: %s\n", err);
    }
}

static void on_exchange(void *ctx, const struct flow *f, const struct exchange *x)
{
    struct live *l = ctx;
    if (x->verdict != V_PLAIN && x->verdict != V_CONTINUE_OK)
        l->problems++;
    if (l->metrics)
        metrics_exchange(l->metrics, f, x);
}

/* About once a second. */
static void on_tick(void *ctx, struct pipeline *p)
{
    struct live *l = ctx;
    if (l->metrics && monotonic_us() >= l->next_metrics_us) {
        l->next_metrics_us = monotonic_us() + METRICS_EVERY_US;
        write_metrics(l, p);
    }
    if (!l->status)
        return;
    const struct pipeline_totals *t = pipeline_totals(p);
    fprintf(stderr, "\r%s: %" PRIu64 " packets, %" PRIu64 " dropped, %" PRIu64 " flows, %"
            PRIu64 " exchanges (%" PRIu64 " problems)   ", l->o->iface, t->source.packets,
            t->source.kernel_drops + t->source.if_drops, t->flows.created,
            t->http.exchanges, l->problems);
}

/* -Z USER, looked up before anything is opened, so that a wrong name costs nothing. */
struct user {
    char name[256];
    uid_t uid;
    gid_t gid;
};

/* chown() to the user -Z names; a file that does not exist (yet) is fine. */
static int give(const char *path, const struct user *pw)
{
    if (chown(path, pw->uid, pw->gid) == 0 || errno == ENOENT)
        return 0;
    fprintf(stderr, "expectscope: %s: cannot give it to %s: %s\n", path, pw->name,
            strerror(errno));
    return -1;
}

static int find_user(const char *name, struct user *u)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "expectscope: -Z %s: %s\n", name,
                errno ? strerror(errno) : "no such user");
        return -1;
    }
    snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return 0;
}

/* tcpdump -Z: once the interface and the database are open, run as USER: supplementary
 * groups cleared, then the group, then the user. The database files and the evidence
 * directory become USER's, so that it can go on writing them. 0, or -1 after one line
 * on stderr. */
static int drop_privileges(const struct user *pw, const char *db_path, const char *save_dir)
{
    const char *user = pw->name;
    /* what it goes on writing: the database files, and the evidence directory (its
     * files are created and removed there) */
    char path[4096];
    static const char *const tails[] = { "", "-wal", "-shm" };
    for (size_t i = 0; db_path && i < sizeof tails / sizeof tails[0]; i++) {
        snprintf(path, sizeof path, "%s%s", db_path, tails[i]);
        if (give(path, pw) != 0)
            return -1;
    }
    if (save_dir && give(save_dir, pw) != 0)
        return -1;
    if (setgroups(0, NULL) != 0 || setgid(pw->gid) != 0 || setuid(pw->uid) != 0) {
        fprintf(stderr, "expectscope: -Z %s: cannot switch to it: %s\n", user,
                strerror(errno));
        return -1;
    }
    if (pw->uid != 0 && setuid(0) == 0) { /* must not be able to come back */
        fprintf(stderr, "expectscope: -Z %s: root could be regained; stopping\n", user);
        return -1;
    }
    return 0;
}

static void summary_line(FILE *out, const struct options *o, const struct pipeline_totals *t,
                         const struct live *l, int64_t run_id, uint64_t seconds)
{
    char unread[64] = "";
    if (t->source.unread)
        snprintf(unread, sizeof unread, ", %" PRIu64 " of them still queued at the stop",
                 t->source.unread);
    fprintf(out, "%s: %" PRIu64 " packets (%" PRIu64 " dropped by the kernel%s, %" PRIu64
            " by the interface), %" PRIu64 " flows, %" PRIu64 " exchanges (%" PRIu64
            " problems) in %" PRIu64 " s", o->iface, t->source.packets, t->source.kernel_drops,
            unread, t->source.if_drops, t->flows.created, t->http.exchanges, l->problems,
            seconds);
    if (run_id)
        fprintf(out, "; stored as run %" PRId64 " in %s", run_id, o->db_path);
    if (o->save_pcap)
        fprintf(out, "; %" PRIu64 " evidence pcaps written to %s (%" PRIu64 " removed to "
                "stay within bounds, %" PRIu64 " write errors)", t->evidence.files_written,
                o->save_pcap, t->evidence.files_removed, t->evidence.write_errors);
    fputc('\n', out);
}

/* SIGINT, SIGTERM, SIGHUP: stop (handlers installed first thing, so that one during
 * start-up stops it cleanly too); SIG_DFL again at the end. */
static void catch_signals(void (*handler)(int))
{
    struct sigaction sa = { .sa_handler = handler };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cmd_live(const struct options *o)
{
    uint64_t t0 = monotonic_us();
    struct live l = { .o = o, .status = !o->quiet && isatty(STDERR_FILENO),
                      .start_us = wall_us() };
    stop_signal = 0;
    catch_signals(on_signal);
    char err[600], warn[300];
    int rc = EXIT_INPUT;
    struct user user;
    struct source *src = NULL;
    struct db *db = NULL;
    struct pipeline *p = NULL;
    if (o->user && find_user(o->user, &user) != 0)
        goto out;
    struct source_live_config lc = { o->iface, o->snaplen, o->promisc, o->buffer_kib,
                                     o->filter };
    enum source_live_error why;
    if (!(src = source_live_open(&lc, err, sizeof err, &why, warn, sizeof warn))) {
        fprintf(stderr, "expectscope: %s\n", err);
        rc = why == SOURCE_LIVE_BAD_FILTER ? EXIT_USAGE : EXIT_INPUT;
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "expectscope: warning: %s\n", warn);
    if (o->db_path && !(db = db_open(o->db_path, o->wait_lock_us, err, sizeof err))) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    if (db)
        db_set_retention(db, o->retain_us);
    if (o->user && drop_privileges(&user, o->db_path, o->save_pcap) != 0)
        goto out;
    /* after -Z: the user that writes the file is the user that is checked */
    if (o->metrics_path &&
        !(l.metrics = metrics_new(o->metrics_path, METRICS_DEFAULT_TOP_SERVERS, err,
                                  sizeof err))) {
        fprintf(stderr, "expectscope: %s\n", err);
        goto out;
    }
    rc = EXIT_OK;
    if (stop_signal)
        goto out; /* stopped before it began: no run */
    struct pipeline_observer obs = { .exchange = on_exchange, .tick = on_tick, .ctx = &l };
    struct pipeline_config cfg = o->pipe;
    cfg.db = db;
    cfg.observer = &obs;
    struct evidence_config ec;
    if (o->save_pcap) {
        evidence_config_defaults(&ec, o->save_pcap);
        ec.max_files = o->save_files;
        ec.max_bytes = o->save_bytes;
        cfg.evidence = &ec;
    }
    /* the run's row is written here: everything that can refuse has been tried */
    if (!(p = pipeline_new(&cfg, src, err, sizeof err))) {
        fprintf(stderr, "expectscope: %s\n", err);
        rc = EXIT_INPUT;
        goto out;
    }

    char msg[600];
    bool stopping = false;
    for (;;) {
        /* a signal or --duration: read what the kernel holds, then the source ends */
        if (!stopping && (stop_signal || (o->duration_us && monotonic_us() - t0 >=
                                                               o->duration_us))) {
            source_live_stop(src);
            stopping = true;
        }
        enum pipeline_state st = pipeline_feed(p, 4096, msg, sizeof msg);
        if (st == PIPELINE_ERROR) {
            if (l.status)
                fputc('\n', stderr);
            fprintf(stderr, "expectscope: %s\n", msg);
            rc = EXIT_INPUT;
            break;
        }
        if (st == PIPELINE_END)
            break;
    }
    if (l.status)
        fprintf(stderr, "\r%100s\r", "");
    if (pipeline_drain(p, msg, sizeof msg) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "expectscope: %s\n", msg);
        rc = EXIT_INPUT;
    }
    if (l.metrics)
        write_metrics(&l, p); /* the final counts */
    if (!o->quiet)
        summary_line(rc == EXIT_OK ? stdout : stderr, o, pipeline_totals(p), &l,
                     db ? db_run_id(db) : 0, (monotonic_us() - t0) / 1000000u);
out:
    catch_signals(SIG_DFL);
    metrics_free(l.metrics);
    pipeline_free(p);
    db_close(db);
    source_free(src);
    return rc;
}
