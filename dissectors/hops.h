/* hops.h: who answered each exchange, and, when a run holds both sides of a proxy, which
 * upstream exchange each client-side exchange caused (../shared/DESIGN.md "Paths").
 *
 * Owns: a bounded window of recent exchanges (what linking needs of each: endpoints,
 *   method and target, Host, body length, times, the 100s and the final status, the
 *   X-Forwarded-For of the request, the fingerprint of the answer), the set of
 *   addresses seen acting as proxies, and the counters.
 * Does not own: the exchanges (borrowed for one call) or where results go (the caller
 *   writes what hops_exchange() and hops_drain() hand back).
 * Called by: the pipeline, for every judged exchange, and once at the end of the run.
 *   Calls: fingerprint.h, hblock.h.
 *
 * Linking. A front exchange F (client -> proxy P) and a back exchange B (P -> upstream)
 * are linked when: P's address is F's server and B's client, or F's server and B's
 * client are two addresses of one proxy (declared, or learnt from an earlier link by
 * X-Forwarded-For), or B's request says it was forwarded (X-Forwarded-For or Via); the
 * methods are equal; the
 * targets are the same path (absolute-form or origin-form, the query included) on the
 * same Host (or B's Host is the upstream's own address, as nginx and Apache send by
 * default); the body lengths agree where both are known; B started while F was going on
 * (10 ms slack for capture reordering) and, when both carry the same final status, B's
 * came first (the proxy relays it); and an X-Forwarded-For on B, when there is one,
 * ends with F's client. An exchange with more than one partner that fits is not linked
 * and is counted as ambiguous: expectscope does not guess.
 *
 * What a linked pair says about the proxy (enum hop_finding), and the client's wait split
 * into the part before the proxy sent the request upstream and the upstream's own answer
 * time. A front exchange to an address known as a proxy that finds no partner before it
 * leaves the window was answered by the proxy itself (HOP_ANSWERED_FINAL, no back).
 */
#ifndef ES_HOPS_H
#define ES_HOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "fingerprint.h"
#include "flow.h"

/* How long (capture time after an exchange ends) it waits for its partner, and how many
 * exchanges the window holds at most (the oldest go first, counted). */
#define HOPS_WINDOW_US 60000000u
#define HOPS_MAX_PENDING 65536u
/* Addresses remembered as proxies. */
#define HOPS_MAX_PROXIES 1024u

/* What an intermediary did to the handshake of a linked pair; bits of hop.findings. */
enum hop_finding {
    HOP_ANSWERED_100 = 1u << 0,  /* it made a 100 itself (RFC 9110 10.1.1 MAY, rule P3) */
    HOP_RELAYED_100 = 1u << 1,   /* it passed on the upstream's 100 */
    HOP_DROPPED_100 = 1u << 2,   /* the upstream sent a 100 that never reached the client
                                    (rule P1) */
    HOP_STRIPPED_EXPECT = 1u << 3, /* the client's Expect was not sent upstream */
    HOP_ADDED_EXPECT = 1u << 4,  /* the upstream request carried an Expect the client's
                                    did not */
    HOP_ANSWERED_FINAL = 1u << 5, /* it gave the final answer itself (without asking
                                     upstream, or instead of the upstream's answer) */
    HOP_BUFFERED_BODY = 1u << 6, /* the upstream request started only once the client's
                                    whole body had arrived (rule P2) */
    HOP_HTTP10_UPSTREAM = 1u << 7, /* it spoke HTTP/1.0 upstream */
    HOP_WITHHELD_BODY = 1u << 8, /* the client's body reached it, and it sent none of it
                                    upstream (waiting for a 100 that never came) */
    HOP_GATEWAY_ERROR = 1u << 9, /* it asked upstream, got no final answer, and answered
                                    the client itself (502, 503, 504) */
    HOP_FINDING_BITS = 10
};

/* An address the user declared as one of a proxy's (--proxy): exchanges to one address
 * of a group and from another are two legs of the same proxy. */
struct hops_proxy {
    uint8_t family;      /* 4 or 6 */
    uint8_t addr[16];
    uint32_t group;      /* addresses of one proxy share it; from 1 */
};

/* A link, or a proxy's own answer, to store as a row of the hops table. */
struct hop {
    uint64_t front_id;   /* run-local exchange ids */
    uint64_t back_id;    /* 0: no upstream exchange (HOP_ANSWERED_FINAL) */
    uint8_t family;
    uint8_t proxy_ip[16];
    uint32_t findings;   /* enum hop_finding bits */
    double client_wait_ms; /* the client's header end to its first body byte; -1 unknown */
    double proxy_ms;     /* the client's header end to the upstream request's header end */
    double upstream_ms;  /* the upstream request's header end to the upstream's first
                            answer (100 or final); -1 when there is no upstream */
    /* what the rule engine (rules.h) reads of the pair */
    uint64_t front_flow_id; /* run-local: the front exchange's flow */
    uint16_t front_status, back_status;
    bool front_absolute; /* the client's target was absolute-form: a forward proxy's */
    bool front_expect;   /* the client's request carried Expect */
    bool front_1xx_cl;   /* a 1xx on the client leg carried Content-Length */
    bool front_via, back_via; /* each request carried Via */
};

/* An exchange row already handed on whose answer is now known better. */
struct hop_update {
    uint64_t exchange_id;
    uint8_t answered_by;
    const char *intermediary;
    char path_evidence[160];
};

/* What one call found: up to two older exchanges that left the window answered by a
 * proxy itself (a hop and an update each), the exchange's own links (two: as a front,
 * and as a back; one update), and one exchange evicted from a full window. */
#define HOP_RESULT_MAX 6
struct hop_result {
    struct hop hops[HOP_RESULT_MAX];
    int n_hops;
    struct hop_update updates[HOP_RESULT_MAX];
    int n_updates;
};

struct hops_stats {
    uint64_t linked;          /* pairs linked */
    uint64_t ambiguous;       /* exchanges left unlinked: more than one partner fitted */
    uint64_t proxy_answers;   /* fronts answered by a known proxy without upstream */
    uint64_t evicted;         /* left the window early (HOPS_MAX_PENDING) */
    uint64_t crowded;         /* searches cut short: too many exchanges of one method
                                 and target going on at once (hops.c HOPS_MAX_WALK) */
    uint64_t examined;        /* window entries looked at by the searches (what linking
                                 costs) */
    uint64_t by[3];           /* exchanges by enum answered_by, as finally decided */
};

struct hops;

/* A linker that knows the n declared proxy addresses (may be 0); NULL on no memory or
 * more than HOPS_MAX_PROXIES addresses. */
struct hops *hops_new(const struct hops_proxy *declared, size_t n);

/* A judged exchange x of flow f: fill x->answered_by, x->intermediary and
 * x->path_evidence, link it with the window, and say in *r what to store. */
void hops_exchange(struct hops *h, const struct flow *f, struct exchange *x,
                   struct hop_result *r);

/* The run ends: the exchanges still waiting leave the window. Call repeatedly until it
 * returns false; each call may fill *r. */
bool hops_drain(struct hops *h, struct hop_result *r);

/* "answered_100,stripped_expect" into buf ("" when none), whole names only: those that
 * do not fit are left out; returns buf. */
char *hop_findings_str(uint32_t findings, char *buf, size_t len);

const struct hops_stats *hops_stats(const struct hops *h);

void hops_free(struct hops *h);

#endif
