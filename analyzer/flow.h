/* flow.h: the bidirectional TCP flow table.
 *
 * Owns: every flow, their pool, the hash index, the inactivity timeouts and linger,
 *   eviction of the least recently seen flow when the pool is empty, client/server
 *   roles, and per-flow packet and byte counters.
 * Does not own: sequence tracking (reasm.h), classification (classify.h) or anything a
 *   later layer keeps per flow. Those layers keep their state in arrays indexed by
 *   flow->slot, sized from flow_table_capacity().
 * Called by: the pipeline, once per TCP packet. Calls: only the release callback it was
 *   handed, when a flow leaves the table.
 * Time is packet time. The table keeps a clock that never runs backwards (the largest
 *   timestamp seen), so capture reordering cannot make a flow expire early or late.
 */
#ifndef ES_FLOW_H
#define ES_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "stream.h"

/* How the client/server roles were decided. */
enum flow_roles {
    ROLES_PORT,    /* guessed from the port numbers */
    ROLES_SYN,     /* the client sent the SYN (or received the SYN-ACK) */
    ROLES_PAYLOAD, /* mid-stream: who spoke HTTP first (request or status line) */
};

/* Endpoints in canonical order, so both directions of a connection find one flow.
 * Built with flow_key_from(); compare with memcmp (padding is always zero). */
struct flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan_outer, vlan_inner;
    uint8_t family;
    uint8_t pad[3];
};

struct flow {
    struct flow_key key;
    uint64_t id;              /* 1-based, in order of creation within the table */
    uint64_t first_seen_us;
    uint64_t last_seen_us;    /* on the table's monotonic clock */
    uint64_t packets[2];      /* per direction (enum dir) */
    uint64_t payload_bytes[2];/* TCP payload bytes, as announced by the headers */
    uint64_t wire_bytes[2];   /* frame lengths */
    uint32_t slot;            /* index in the pool: other layers' per-flow arrays */
    uint32_t client_syn_seq;  /* the client's ISN when its SYN was seen */
    uint8_t client_ep;        /* which key endpoint is the client (0 or 1) */
    uint8_t roles;            /* enum flow_roles */
    uint8_t end_reason;       /* enum end_reason; set while closing and at release */
    bool closing;             /* FIN both ways or RST seen: lingering */
    bool syn_seen;
    bool fin_seen[2];         /* per direction */
    bool rst_seen[2];         /* per direction: who reset the connection */
    bool payload_seen;
    /* What the capture shows of each endpoint's TCP state, indexed by key endpoint
     * (not by direction: the roles may still change). For the RST window check. */
    uint32_t snd_nxt[2];      /* past the highest sequence number the endpoint sent */
    uint32_t last_ack[2];     /* the last acknowledgment it sent: its RCV.NXT */
    uint32_t wnd[2];          /* its last advertised window, scaled as far as known */
    uint8_t wscale[2];        /* the window scale of its SYN, DEC_NO_WSCALE without */
    bool seq_known[2], ack_known[2], syn_from[2];
    uint32_t bad_rsts;        /* RSTs outside the receiver's window: ignored */
    uint32_t bad_flags;       /* pre-handshake FIN/RST debris on this flow */
    /* Packet numbers (dec_pkt.pkt_no) of the packet that opened the flow and of the last
     * one that moved it in the LRU order: they order flows of tables in different
     * analysis threads as one table would (fanout.h). */
    uint64_t first_pkt, lru_pkt;
    /* table internals */
    uint32_t hash_next, lru_prev, lru_next;
    uint8_t lru_list;
};

/* Every field must be set; the defaults (limits.h) are resolved by the pipeline. */
struct flow_config {
    uint32_t max_flows;   /* pool size, clamped to [FLOW_MIN_MAX, FLOW_MAX_MAX] */
    uint64_t idle_us;     /* inactivity timeout, packet time */
    uint64_t linger_us;   /* kept after FIN/RST */
    /* false: packets move the clock and, once per FLOW_SWEEP_EVERY_US of it, expire
     * flows. true: packets never expire flows; the caller does, with flow_table_sweep()
     * (an analysis thread of a fan-out, whose reader sweeps all threads alike). */
    bool manual_sweep;
};

/* How often, in packet time, a table without manual_sweep expires flows: at the first
 * packet whose time reaches the last sweep's time plus this (the first packet sweeps). */
#define FLOW_SWEEP_EVERY_US 1000000u

struct flow_stats {
    uint64_t created;
    uint64_t evicted;     /* open flows pushed out by a full pool */
    uint64_t timed_out;
    uint64_t port_reuse;  /* a new SYN on a known 5-tuple started a new flow */
    uint64_t bad_rsts;    /* RSTs outside the receiver's window: did not end a flow */
    uint64_t bad_flags;   /* impossible flag mixes (dropped before the table) and
                             FIN/RST debris before a handshake (forgotten at its SYN) */
    uint32_t active;      /* in the table now */
    uint32_t peak_active;
};

/* What flow_table_packet() found. */
struct flow_hit {
    struct flow *f;
    enum dir dir;     /* the packet's direction */
    bool created;     /* the packet opened this flow */
    bool ended;       /* this packet ended the connection (second FIN, or RST) */
    bool after_end;   /* the flow had already ended: a straggler, counted only */
    bool ignored;     /* a RST outside the window: counted, not to be reassembled */
};

/* Called when a flow leaves the table (linger or idle expiry, eviction, flush).
 * f->end_reason says why; f is valid only during the call. */
typedef void (*flow_release_fn)(void *ctx, struct flow *f);

struct flow_table;

/* A table with the given limits. NULL when memory is short. */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_release_fn release,
                                  void *ctx);

/* Pool size: the number of slots other layers must provide per-flow state for. */
uint32_t flow_table_capacity(const struct flow_table *t);

/* Account one decoded TCP packet: find or create its flow, decide roles, count it,
 * expire idle flows. May call the release callback (expiry, eviction, port reuse)
 * before returning.
 * One packet cannot blind the table (RFC 9293 3.10.7, RFC 5961 3):
 * - impossible flag mixes (flow_flags_impossible()) are counted in bad_flags and
 *   dropped: hit.f is NULL; so is a RST, or a FIN without ACK, that would open a flow;
 * - a RST ends the connection only when its sequence number lies in the receiver's
 *   window as the capture shows it (its last ACK and window, scaled when both SYNs
 *   were seen; shifted by 14 when the scale is unknown); with no ACK seen from the
 *   receiver, within FLOW_RST_UNKNOWN_WINDOW of what the sender was last seen to
 *   send; with neither, it is believed. Others are counted in bad_rsts, and
 *   hit.ignored says the reassembler must not see them;
 * - FIN debris (a FIN+ACK before any SYN or data) is forgotten when the SYN comes. */
struct flow_hit flow_table_packet(struct flow_table *t, const struct dec_pkt *pkt);

/* Move the table's clock on to now_us (never back) without a packet, and release the
 * flows that have been idle or lingering long enough by then. For a live capture,
 * whose packet times are wall-clock times: a quiet link still ends its flows. */
void flow_table_advance(struct flow_table *t, uint64_t now_us);

/* manual_sweep tables. flow_table_clock(): move the clock on to now_us (never back),
 * expiring nothing: what a packet at that moment of the run sees as the time.
 * flow_table_sweep(): the same, then release the flows idle or lingering long enough,
 * as a table without manual_sweep does at a sweeping packet. */
void flow_table_clock(struct flow_table *t, uint64_t now_us);
void flow_table_sweep(struct flow_table *t, uint64_t now_us);

/* A hash of the packet's connection, the same for both directions and in every
 * process (no seed): which analysis thread a flow belongs to. */
uint32_t flow_packet_hash(const struct dec_pkt *pkt);

/* Release every flow still in the table, in order of creation: open ones with
 * END_CAPTURE_END, ended ones with their FIN/RST reason. */
void flow_table_flush(struct flow_table *t);

const struct flow_stats *flow_table_stats(const struct flow_table *t);

/* No TCP sends these: SYN with FIN or RST, FIN without ACK, no flag at all. */
bool flow_flags_impossible(uint8_t tcp_flags);

/* The client (or server) endpoint of a flow. */
const uint8_t *flow_addr(const struct flow *f, enum dir side_of_sender);
uint16_t flow_port(const struct flow *f, enum dir side_of_sender);

/* "1.2.3.4:80" or "[2001:db8::1]:80" into buf; returns buf. */
char *flow_endpoint_str(const struct flow *f, enum dir side_of_sender, char *buf,
                        size_t len);

/* The capture shows this connection one way only: one direction carried payload and
 * not a single packet came the other way (no SYN-ACK, no ACK): asymmetric routing, or
 * a span port that sees one direction. A direction seen only through its ACKs is
 * captured, so a flow whose server acknowledges but never answers is not one-sided;
 * nor is a flow with no payload at all. Judged on what the flow has seen so far. */
bool flow_one_sided(const struct flow *f);

/* Name of an end reason as stored in the database ('fin', 'rst', ...). */
const char *flow_end_reason_name(enum end_reason r);

/* Free the table without calling the release callback; NULL is a no-op. */
void flow_table_free(struct flow_table *t);

#endif
