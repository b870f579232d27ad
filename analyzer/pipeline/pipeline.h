/* pipeline.h: the analysis of one run, whatever its packets come from:
 *   source -> decode -> flow table (+ nDPI) -> reassembly -> HTTP/1 dissector
 *          -> verdict engine -> storage
 * It creates the layers right to left, hands each its sink, and joins them: every
 * judged exchange and every finished flow goes to the database (when it has one) and
 * to an optional observer. It knows nothing of the command line: everything comes in
 * a plain config struct, with defaults resolved by pipeline_config_defaults().
 *
 * Owns: the layers of the run (flow table, reassembly, classifier, dissector, verdict
 *   engine, and the evidence store when problem flows are saved), the per-run decode
 *   counters and packet time range, and the run's row in the database, begun by
 *   pipeline_new() and finished by pipeline_drain().
 * Does not own: the source and the database handle (borrowed: the caller opens them
 *   before and frees them after), or anything the observer keeps.
 * Called by: the command layer (analyze, flows) and the pcap fuzz target.
 *   Calls: every layer, the storage writer, the observer.
 * Single-threaded: one pipeline belongs to one thread.
 */
#ifndef ES_PIPELINE_H
#define ES_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "decode.h"
#include "evidence.h"
#include "flow.h"
#include "h1.h"
#include "hops.h"
#include "reasm.h"
#include "rules.h"
#include "source.h"
#include "verdict.h"

struct pipeline;

/* Borrowed for one call each; may be NULL. */
struct pipeline_observer {
    /* an exchange was judged (verdict, flags, retry_of set) and queued for storage */
    void (*exchange)(void *ctx, const struct flow *f, const struct exchange *x);
    /* a flow left the analysis, after all its exchanges */
    void (*flow)(void *ctx, const struct flow_result *r);
    /* a live source: about once a second of wall time (metrics, a status line) */
    void (*tick)(void *ctx, struct pipeline *p);
    void *ctx;
};

/* A live source's clock: every PIPELINE_TICK_US of wall time the flow table's clock
 * moves on (idle flows end on a quiet link), queued rows go to the writer, and the
 * observer ticks; every PIPELINE_PROGRESS_US the run's row gets its counters (packets,
 * drops). */
#define PIPELINE_TICK_US 1000000u
#define PIPELINE_PROGRESS_US 5000000u

struct pipeline_config {
    struct flow_config flow;       /* table size, idle timeout, linger */
    uint64_t ooo_cap_bytes;        /* out-of-order bytes held over all flows */
    uint64_t pending_cap_bytes;    /* exchanges awaiting their response, all flows (h1.h) */
    struct verdict_config verdict; /* the thresholds verdicts depend on */
    bool dissect;                  /* false: flows and their counters only, no HTTP */
    bool classify;                 /* false: no nDPI; every flow's l7 is "Unknown" */
    bool paths;                    /* who answered, and the links between proxy legs
                                      (hops.h); needs dissect */
    const struct hops_proxy *proxies; /* declared proxy addresses (--proxy); borrowed
                                         during pipeline_new() only */
    size_t n_proxies;
    struct db *db;                 /* where the run goes; NULL: nowhere. Borrowed. */
    const char *sensor;            /* runs.sensor (--sensor); NULL: none. Borrowed. */
    /* Save the packets of problem flows (--save-pcap): the pipeline creates the
     * evidence store (it is sized from the flow table) and feeds it. NULL: off.
     * Borrowed during pipeline_new() only. */
    const struct evidence_config *evidence;
    const struct pipeline_observer *observer; /* may be NULL; borrowed */
    /* Analysis threads (--workers, fanout.h): 0 or 1, the caller's thread does it all;
     * 2 .. FANOUT_MAX_WORKERS: the caller reads, decodes, judges and stores, and that
     * many threads follow the flows. Not with evidence. */
    unsigned workers;
};

/* Every setting at its documented default (limits.h, verdict.h), dissecting and
 * classifying, no database, no observer: the one place where defaults are resolved. */
void pipeline_config_defaults(struct pipeline_config *cfg);

/* The settings the results depend on, as JSON text for runs.options; a buffer of
 * PIPELINE_OPTIONS_JSON bytes holds it with up to 32 declared proxy addresses. */
#define PIPELINE_OPTIONS_JSON 2048
void pipeline_config_json(const struct pipeline_config *cfg, char *buf, size_t len);

struct pipeline_totals {
    struct source_stats source;
    uint64_t dec[DEC_RESULT_COUNT]; /* packets by decode result */
    struct flow_stats flows;
    struct reasm_stats reasm;
    struct h1_stats http;           /* zero when not dissecting */
    struct verdict_stats verdicts;
    struct hops_stats hops;         /* zero without path analysis */
    struct rules_stats rules;       /* violations found (rules.h); zero when not
                                       dissecting */
    uint64_t ndpi_packets;
    uint64_t detached_flows;        /* classified as not HTTP: payload not looked at */
    uint64_t http_flows;            /* finished flows with at least one exchange */
    uint64_t flow_verdicts[V_COUNT];/* finished flows by their verdict */
    struct evidence_stats evidence; /* zero when not saving evidence */
    uint64_t first_packet_us, last_packet_us;
    /* the capture's shape */
    int snaplen;                    /* the largest snap length of the inputs, 0 unknown */
    uint64_t payload_packets;       /* TCP segments with payload (captured or not) */
    uint64_t snap_cut_packets;      /* of those, segments whose payload the snap length
                                       cut (decode.h payload_cut) */
    uint64_t one_sided_flows;       /* finished HTTP flows seen one way only
                                       (flow_one_sided()) */
    /* --workers */
    unsigned workers;               /* analysis threads: 1, or N of the fan-out */
    uint64_t busiest_thread_packets;/* TCP packets the busiest thread followed */
    uint64_t tcp_packets;           /* TCP packets handed to the threads */
    uint64_t handoff_alloc_failures;/* packets or events the hand-off lost: no memory */
    bool ended;                     /* the source reported its end */
    bool source_failed;             /* the source reported an error (a read error, an
                                       interface that went away) */
    bool storage_failed;            /* a database write failed: the run stopped */
    bool stopped;                   /* pipeline_stopped(): a signal came */
};

enum pipeline_state {
    PIPELINE_MORE,    /* the packet budget is used up; call again */
    PIPELINE_IDLE,    /* a live source had no packet within its timeout; call again */
    PIPELINE_WARNING, /* msg holds a warning (an input ended in a truncated record) */
    PIPELINE_END,     /* the source has no more packets */
    PIPELINE_ERROR,   /* msg holds why the run cannot go on (a read or a write error) */
};

/* Build the layers for cfg and src (both borrowed for the pipeline's life); when
 * cfg->db is set, begin the run's row (mode, the source's name, the options). NULL
 * with a one-line reason in err (for cfg->evidence, evidence_new()'s, naming the
 * directory). */
struct pipeline *pipeline_new(const struct pipeline_config *cfg, struct source *src,
                              char *err, size_t err_len);

/* Read and analyse up to max_packets packets (or until an event). After
 * PIPELINE_END or PIPELINE_ERROR, only pipeline_drain() is useful. */
enum pipeline_state pipeline_feed(struct pipeline *p, uint64_t max_packets, char *msg,
                                  size_t msg_len);

/* End the run: every flow still in the table leaves it (open ones as capture_end),
 * its exchanges are judged and stored, and the run's row is finished, marked
 * interrupted when a file source had not reached its end (a signal stopped it), the
 * source failed, or a write failed. A live source has no end: stopping it (a signal,
 * --duration) is how its run ends. Call once. 0, or -1 with one line in err (a
 * database error, naming the database). */
int pipeline_drain(struct pipeline *p, char *err, size_t err_len);

/* A signal asked the run to stop: it is marked interrupted even when the source reached
 * its end meanwhile (a read blocked on a stalled pipe goes on after the signal, to the
 * end of its input). Call before pipeline_drain(). */
void pipeline_stopped(struct pipeline *p);

/* The run's counters so far (all of them after pipeline_drain()). Valid until the
 * next call on p. */
const struct pipeline_totals *pipeline_totals(struct pipeline *p);

/* Free the layers without storing anything more; NULL is a no-op. */
void pipeline_free(struct pipeline *p);

#endif
