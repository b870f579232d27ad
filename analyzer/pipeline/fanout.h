/* fanout.h: the per-flow analysis spread over N threads (`--workers N`).
 *
 * The caller's thread reads and decodes packets and hands each TCP packet to the
 * analysis thread its connection hashes to (flow_packet_hash(): both directions of a
 * connection go to one thread). Packets travel in rounds: the reader fills one batch
 * per thread, copying each packet's IP header and payload, and hands the round over
 * whole (one lock per round, none per packet). Each thread runs its own track (flow
 * table, reassembly, nDPI, HTTP/1 dissector) over its batch and writes what comes out
 * (finished exchanges, released flows) into the round, as copies. The caller takes
 * finished rounds back, oldest first, and gets their events through its callback in
 * one order that does not depend on N: the order a single thread would produce them.
 *
 * Why the order is the same for any N. Every event is tagged with the number of the
 * packet it happened at (dec_pkt.pkt_no) and a phase: the reader's clock expiring flows
 * before that packet (live ticks, then packet-time sweeps), the packet itself, or the
 * end of the run. The reader keeps the one clock of the run and decides the sweeps
 * (flow.h manual_sweep), for every thread alike, so a flow expires at the same packet
 * whatever thread holds it; flows expired at one sweep come ended ones first, each in
 * least-recently-seen order (flow.lru_pkt); flows at the end of the run in order of
 * creation (flow.first_pkt). Each thread's events are already in that order, so taking
 * a round merges N sorted lists.
 * Ids. Each track numbers its flows and exchanges 1, 2, 3...; the caller sees
 * (id - 1) * N + thread + 1, unique in the run, and slot * N + thread as the flow's slot
 * (fanout_slots() slots in all). With N = 1 both are the track's own.
 * Limits are per thread: each track gets max_flows / N slots and 1/N of the memory
 * caps, so a capture that fills a table or a cap can give other results with
 * another N (see docs/performance.md, "Workers").
 *
 * Owns: the analysis threads and their tracks, the rounds in flight (packet copies and
 *   event copies), the reader's clock and sweep schedule, and the latest counters of
 *   each track.
 * Does not own: the packets (copied), the callback's context.
 * Called by: the pipeline, from one thread (the one that reads). Calls: the tracks
 *   (in their threads), the callback (in the caller's thread, during fanout_packet(),
 *   fanout_advance(), fanout_poll() and fanout_finish()).
 */
#ifndef ES_FANOUT_H
#define ES_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track.h"

#define FANOUT_MAX_WORKERS 64

enum fanout_event_type { FANOUT_EXCHANGE, FANOUT_FLOW };

/* An event for the callback: copies, ids renumbered as above; valid during the call
 * (x may be changed: it is judged in place). */
struct fanout_event {
    enum fanout_event_type type;
    struct flow *f;                  /* the flow as it was when the event happened */
    struct exchange *x;              /* FANOUT_EXCHANGE */
    const struct reasm_counters *rc; /* FANOUT_FLOW: track_hooks.release */
    const char *l7;                  /* FANOUT_FLOW */
};

typedef void (*fanout_event_fn)(void *ctx, struct fanout_event *ev);

/* n analysis threads (2 .. FANOUT_MAX_WORKERS), each with a track of cfg (the caller
 * divides the limits). NULL with a one-line reason in err. */
struct fanout *fanout_new(unsigned n, const struct track_config *cfg, fanout_event_fn fn,
                          void *ctx, char *err, size_t err_len);

/* Slots in the flows' renumbered slot space: the size of per-flow arrays over all
 * threads. */
uint32_t fanout_slots(const struct fanout *fo);

/* One decoded TCP packet (ts_us and pkt_no set, pkt_no increasing). May call the
 * callback with the events of rounds taken back to make room. */
void fanout_packet(struct fanout *fo, const struct dec_pkt *d);

/* A live capture's wall clock moved on (flow.h flow_table_advance()): every thread
 * expires its flows idle by then; the round goes out now, and finished rounds are
 * taken back. */
void fanout_advance(struct fanout *fo, uint64_t now_us);

/* Take back the rounds the threads have finished, without waiting. */
void fanout_poll(struct fanout *fo);

/* The end of the run: every flow still in a table is released (flow_table_flush()),
 * every round is taken back, and the threads stop. Call once. */
void fanout_finish(struct fanout *fo);

/* The counters of all tracks, as of the last round taken back. */
void fanout_stats(const struct fanout *fo, struct track_stats *sum);

/* TCP packets handed to the busiest thread, and to all of them (balance: a few huge
 * connections can load one thread more than the others). */
void fanout_balance(const struct fanout *fo, uint64_t *busiest, uint64_t *total);

/* Packets or events dropped because memory ran out (never otherwise). */
uint64_t fanout_alloc_failures(const struct fanout *fo);

/* Stop the threads and free everything; NULL is a no-op. */
void fanout_free(struct fanout *fo);

#endif
