/* metrics.h: the Prometheus metrics file of `expectscope live --metrics FILE`, in the
 * text exposition format 0.0.4, for node_exporter's textfile collector
 * (docs/metrics.md lists every metric).
 *
 * Owns: the file's path and its temporary sibling FILE.tmp.PID, the per-server tallies
 *   of 417s and timeout fallbacks (a bounded table, allocated once), which servers are
 *   shown under their own label, and the last write error.
 * Does not own: the run's counters, read from struct pipeline_totals at each write; the
 *   flow and exchange handed to metrics_exchange() (borrowed for the call).
 * Called by: the `live` command: metrics_exchange() from its pipeline observer,
 *   metrics_write() every few seconds and once at the end. Calls: stdio and the file
 *   system only.
 * Single-threaded: one metrics object belongs to the thread that runs the pipeline.
 *
 * Every write goes to FILE.tmp.PID in FILE's directory and is then renamed over FILE, so
 * the collector reads the old file or the new one, never half of one. The collector
 * reads only names ending in .prom, so it never reads the temporary file either. FILE
 * is left in place by metrics_free(): expectscope_last_write_time_seconds tells a
 * reader how old it is.
 *
 * Servers: a server enters the table with its first 417 or timeout fallback (servers
 * with neither take no room). At each write the top_servers servers with the most 417s
 * plus fallbacks over the run are shown under server="IP:PORT"; everything else is
 * summed under server="other", so label cardinality is at most top_servers + 1. Once
 * the table holds METRICS_MAX_SERVERS servers, a new server counts under "other" at
 * once (and in expectscope_server_table_overflows_total).
 * The top servers can change from one write to the next, and Prometheus counters must
 * not go down, so a server's own series counts what happened since it was last under
 * "other" in a written file: a server's first series starts from its whole count
 * (nothing of it was ever written under "other"); one that was shown under "other"
 * and then rises into the top starts from what it gained since, and its earlier counts
 * stay in "other". Thus "other" never goes down, a series that restarts lower reads
 * as a counter reset (rate() and increase() count it right), and at every write the
 * named series plus "other" add up to the run's total.
 */
#ifndef ES_METRICS_H
#define ES_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

enum {
    METRICS_DEFAULT_TOP_SERVERS = 20, /* servers shown under their own label */
    METRICS_MAX_SERVERS = 4096,       /* servers tallied; later ones count under "other" */
};

struct metrics;

/* A metrics writer for path, showing up to top_servers servers by name (0: every
 * server under "other"; at most METRICS_MAX_SERVERS). Nothing is written yet, but the
 * path is tried: its directory must exist and take a new file (one is created and
 * removed), and path must not be a directory.
 * NULL with one line in err naming the path: a missing directory, one we may not write
 * in, top_servers too large, or no memory. Call it after dropping privileges (-Z): the
 * user that writes is the user that is checked. */
struct metrics *metrics_new(const char *path, unsigned top_servers, char *err,
                            size_t err_len);

/* The pipeline judged an exchange of flow f (both borrowed for the call). Only
 * exchanges with a final status of 417 or the verdict timeout_fallback are tallied, per
 * server (f's server endpoint). Allocates nothing; O(1) on average. */
void metrics_exchange(struct metrics *m, const struct flow *f, const struct exchange *x);

/* Write the file: the counters of t (borrowed), the per-server tallies, run_start_us
 * (wall clock, microseconds since the epoch) as expectscope_run_start_time_seconds, and
 * the wall clock now as expectscope_last_write_time_seconds. Replaces FILE atomically
 * (see above); no fsync: the file is rebuilt at the next write.
 * 0 when FILE was replaced. -1 when it could not be, FILE keeping its last content;
 * then err holds one line naming the file, but only the first time this error occurs in
 * a row: when the previous call failed the same way, err is "". So the caller prints
 * err when it is not empty and goes on with the analysis; a failure that keeps
 * recurring (a full disk) is reported once, and again after a success or on a
 * different error. */
int metrics_write(struct metrics *m, const struct pipeline_totals *t, uint64_t run_start_us,
                  char *err, size_t err_len);

/* Write p[0, n) as the inside of a label value (without the quotes) of the exposition
 * format: backslash, double quote and line feed as \\, \" and \n; each byte of invalid
 * UTF-8 (RFC 3629) as U+FFFD, because Prometheus rejects a file with invalid UTF-8 in a
 * label value; every other byte as it is. A write error stays in out's error flag. */
void metrics_label_value(FILE *out, const void *p, size_t n);

/* Free everything; the file stays. NULL is a no-op. */
void metrics_free(struct metrics *m);

#endif
