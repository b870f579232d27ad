/* track.h: the per-flow half of the analysis: what one analysis thread keeps about its
 * flows. A decoded TCP packet goes to the flow table (roles, counters, expiry), the
 * classifier (nDPI), reassembly and the HTTP/1 dissector; what comes out is finished
 * exchanges and released flows, handed to the hooks. Judging them (verdicts, paths,
 * rules) and storing them is the pipeline's business: it needs all flows at once.
 *
 * Owns: the flow table, the reassembler, the classifier and the dissector of one
 *   analysis thread, and the count of flows detached as not HTTP.
 * Does not own: the packets (borrowed for one call), the evidence store (borrowed per
 *   call, single-thread pipeline only), anything the hooks keep.
 * Called by: the pipeline (one track, in its own thread) or the fan-out (one track per
 *   analysis thread). Calls: the layers above, and the hooks.
 * Single-threaded: a track belongs to one thread.
 */
#ifndef ES_TRACK_H
#define ES_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "evidence.h"
#include "exchange.h"
#include "flow.h"
#include "h1.h"
#include "reasm.h"
#include "source.h"

struct track_config {
    struct flow_config flow;
    uint64_t ooo_cap_bytes;     /* out-of-order bytes held over this track's flows */
    uint64_t pending_cap_bytes; /* exchanges awaiting their response, this track's flows */
    bool dissect, classify;     /* as struct pipeline_config */
};

/* f and x are valid during the call only; x may be changed (the pipeline judges it in
 * place). release: f->end_reason says why; rc is what reassembly counted; l7 is the
 * protocol's name ("Unknown" without classification). */
struct track_hooks {
    void (*exchange)(void *ctx, const struct flow *f, struct exchange *x);
    void (*release)(void *ctx, struct flow *f, const struct reasm_counters *rc,
                    const char *l7);
    /* May be NULL. A packet opened flow f (before anything else happens to it); an
     * exchange id was handed out or given back (h1.h h1_set_id_hook()). */
    void (*flow_new)(void *ctx, const struct flow *f);
    h1_id_fn exchange_id;
    void *ctx;
};

/* What the layers of a track counted. All fields are counters, except the peaks and
 * flows.active (of a sum of tracks: the sum of their peaks, an upper bound). */
struct track_stats {
    struct flow_stats flows;
    struct reasm_stats reasm;
    struct h1_stats http;    /* zero when not dissecting */
    uint64_t ndpi_packets;
    uint64_t detached_flows; /* classified as not HTTP: payload not looked at */
};

/* NULL with a one-line reason in err. hooks is copied. */
struct track *track_new(const struct track_config *cfg, const struct track_hooks *hooks,
                        char *err, size_t err_len);

/* The flow table, for its clock and sweeps (flow.h) and its capacity. */
struct flow_table *track_flows(struct track *t);

/* Account one decoded TCP packet (d->ts_us and d->pkt_no set). With evidence (may be
 * NULL), its copy of the flow's packets is fed from sp. */
void track_packet(struct track *t, const struct dec_pkt *d, struct evidence *evidence,
                  const struct source_packet *sp);

void track_stats(const struct track *t, struct track_stats *st);

/* sum += x, field by field (peaks too: see struct track_stats). */
void track_stats_add(struct track_stats *sum, const struct track_stats *x);

/* Free the layers without releasing anything; NULL is a no-op. */
void track_free(struct track *t);

#endif
