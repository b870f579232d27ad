/* run.h: the driver. Builds the pipeline right to left, hands each layer its sink, and
 * runs every packet of the inputs through it:
 *   capture -> decode -> flow table (+ nDPI) -> reassembly -> sink
 *
 * Owns: the layers for the duration of one run, and the per-run decode counters.
 * Called by: main() and the command modules. Calls: every layer.
 */
#ifndef ES_RUN_H
#define ES_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"
#include "cli.h"
#include "decode.h"
#include "flow.h"
#include "reasm.h"

/* A flow that left the table, with everything known about it. Borrowed for the
 * duration of the flow_done callback. */
struct flow_record {
    const struct flow *f;
    const struct reasm_counters *rc;
    const char *l7; /* nDPI protocol name */
};

struct run_hooks {
    /* Called once the inputs have opened and the flow table exists, with its number
     * of slots, so that per-flow arrays can be sized and outputs opened only for a run
     * that can start; non-zero aborts the run with the reason written to err. May be
     * NULL. */
    int (*prepare)(void *ctx, uint32_t n_slots, char *err, size_t err_len);
    const struct stream_sink_ops *sink; /* NULL: reassembly only counts */
    void *sink_owner;
    void (*flow_done)(void *ctx, const struct flow_record *rec);
    void *ctx;
    /* When non-zero (a signal handler, or a hook that failed, sets it), reading stops
     * at the next packet; what was seen is still flushed through the pipeline. */
    volatile sig_atomic_t *stop;
};

struct run_totals {
    struct cap_stats cap;
    uint64_t dec[DEC_RESULT_COUNT];
    struct flow_stats flows;
    struct reasm_stats reasm;
    uint64_t ndpi_packets;
    uint64_t detached_flows; /* flows classified as not HTTP: payload not looked at */
    uint64_t first_packet_us, last_packet_us;
    bool stopped;            /* *hooks->stop ended the run before its inputs did */
};

/* Run the inputs of o through the pipeline. Returns EXIT_OK, or EXIT_INPUT with a
 * one-line reason in err (an input that cannot be opened or read). A truncated input
 * is a warning on stderr, not a failure (tot->cap.truncated says so). */
int run_capture(const struct options *o, const struct run_hooks *hooks,
                struct run_totals *tot, char *err, size_t err_len);

#endif
