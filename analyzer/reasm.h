/* reasm.h: TCP stream reassembly for both directions of every flow.
 *
 * Owns: per flow and direction, the next expected sequence number, the out-of-order
 *   segments and their byte budgets (per flow and global), and the gap,
 *   retransmission, overlap and out-of-order counters; the sink state of each flow.
 * Does not own: the flow (flow.h) or the meaning of the bytes (the sink).
 * Called by: the pipeline, once per TCP segment. Calls: only its sink.
 * Single-threaded: every flow belongs to the analyzer thread.
 *
 * Policy:
 * - In-order bytes go to the sink at once, with the capture time of their segment,
 *   without copying. Only data that arrives ahead of a hole is copied and held.
 * - Bytes seen twice (retransmission, overlap) are delivered once: the first copy
 *   to arrive wins, whether it was delivered or is still held. Later copies are
 *   counted, and compared against held bytes when both are present.
 * - Payload the snap length cut off (decode.h payload_cut) is not a hole: the IP and
 *   TCP lengths say it was there, so the stream advances over it with an uncaptured
 *   callback (counted in snap_cut_bytes, never in missing_bytes or gaps).
 * - A hole that never fills becomes a gap callback of its size, and the stream goes
 *   on after it: when the receiver has acknowledged the missing bytes (the capture
 *   lost them), when a budget is exceeded, or when the flow closes. An ACK beyond
 *   the highest byte (or FIN) seen from the other side acknowledges only what was
 *   seen: one forged ACK cannot make real bytes a gap (counted in bad_acks).
 * - Sequence numbers are compared modulo 2^32.
 */
#ifndef ES_REASM_H
#define ES_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"
#include "stream.h"

/* Per-flow counters, for the flow record. */
struct reasm_counters {
    uint64_t missing_bytes[2];   /* bytes skipped as gaps, per direction */
    uint64_t gaps;               /* number of gap events */
    uint64_t retransmissions;    /* segments whose bytes had all been seen */
    uint64_t overlaps;           /* segments partly old, partly new */
    uint64_t overlap_mismatch;   /* a later copy differed from the held one */
    uint64_t out_of_order;       /* segments that arrived ahead of a hole */
    uint64_t out_of_window;      /* segments too far ahead to be believed: dropped */
    uint64_t cap_flushes;        /* holes skipped because a budget was exceeded */
    uint64_t bad_acks;           /* ACKs for bytes the other side was never seen to
                                    send: they declare no gap (RFC 5961 5.2) */
    uint64_t snap_cut_bytes[2];  /* bytes on the wire the snap length kept out of the
                                    capture, per direction: not gaps (see uncaptured in
                                    stream.h) */
};

/* Totals over the run. */
struct reasm_stats {
    uint64_t ooo_bytes_now;      /* memory held for out-of-order runs, all flows: payload,
                                    struct and allocator overhead (limits.h
                                    ES_ALLOC_COST) */
    uint64_t ooo_bytes_peak;
    uint64_t cap_flushes_flow;   /* per-flow budget hit */
    uint64_t cap_flushes_global; /* global budget hit */
    uint64_t alloc_failures;     /* out of memory: the segment became a gap */
    uint64_t bad_acks;           /* reasm_counters.bad_acks over all flows */
};

struct reasm;

/* One reassembler for a flow table of `n_slots` slots (flow_table_capacity()).
 * `ooo_global_bytes` caps held out-of-order data over all flows.
 * The sink ops are borrowed for the life of the reassembler; `ops` may be NULL to
 * count without delivering. */
struct reasm *reasm_new(uint32_t n_slots, uint64_t ooo_global_bytes,
                        const struct stream_sink_ops *ops, void *owner);

/* Feed one TCP segment of flow f travelling in direction d. */
void reasm_segment(struct reasm *r, const struct flow *f, enum dir d,
                   const struct dec_pkt *p);

/* Stop delivering bytes of this flow (it is not one the sink wants): the sink state
 * is closed now with END_NONE; sequence tracking and counters go on. Returns true
 * the first time, false when the flow was already detached. */
bool reasm_detach(struct reasm *r, const struct flow *f, uint64_t ts_us);

/* The connection ended (FIN both ways, RST): turn remaining holes into gaps, deliver
 * what was held, close the sink with `why`. Idempotent. */
void reasm_close(struct reasm *r, const struct flow *f, enum end_reason why,
                 uint64_t ts_us);

/* The flow leaves the table: close it if still open, copy its counters to *out, and
 * make the slot ready for the next flow. */
void reasm_release(struct reasm *r, const struct flow *f, enum end_reason why,
                   uint64_t ts_us, struct reasm_counters *out);

const struct reasm_stats *reasm_stats(const struct reasm *r);

/* What one held run of `len` bytes is charged against the budgets (its payload when
 * `held`, its struct, the allocator's overhead): 48 bytes for a 1-byte run. */
uint32_t reasm_held_cost(bool held, uint32_t len);

/* Free everything, without calling the sink; NULL is a no-op. */
void reasm_free(struct reasm *r);

#endif
