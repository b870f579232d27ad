/* rules.h: the rule engine. Names each breach of the Expect/1xx rules of RFC 9110 and
 * RFC 9112 that a passive observer can see, with the stable IDs of docs/rules.md
 * (C = client, S = server, P = proxy), and one line saying what the wire showed.
 *
 * Owns: the rule table (ID, RFC section, requirement level, a few words), the
 *   thresholds' use (their values are in limits.h), each open flow's connection facts
 *   (who said close, which version the server spoke, what went before: an array
 *   indexed by flow->slot), the bounded list of 417s still waiting for their retry
 *   (C4), the bounded index of failed non-idempotent requests (C11), and the counters.
 * Does not own: the exchange (borrowed, judged: after verdict_judge() and
 *   hops_exchange()), the flow, the links (hops.h), or where violations go: the
 *   caller stores what each call hands back.
 * Called by: the pipeline, for every judged exchange, every link the hop linker
 *   hands back, every flow that leaves the analysis, and once at the end of the run.
 *   Calls: hblock.h.
 *
 * Ids in a struct violation are run-local (exchange->id, flow->id), as the hop
 * linker's; the storage maps them to database ids.
 */
#ifndef ES_RULES_H
#define ES_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "flow.h"
#include "hops.h"

/* Every rule of docs/rules.md, checked or not: the names are contracts. */
enum rule_id {
    R_C1, R_C2, R_C3, R_C4, R_C5, R_C6, R_C7, R_C8, R_C9, R_C10, R_C11,
    R_S1, R_S2, R_S3, R_S4, R_S5, R_S6, R_S7, R_S8, R_S9, R_S10, R_S11, R_S12, R_S13,
    R_S14, R_S15,
    R_P1, R_P2, R_P3, R_P4, R_P5, R_P6, R_P7,
    R_COUNT
};

#define RULE_DETAIL_MAX 160

/* One breach. exchange_id 0: a rule of the flow, no exchange. */
struct violation {
    enum rule_id rule;
    uint64_t exchange_id; /* run-local */
    uint64_t flow_id;     /* run-local */
    char detail[RULE_DETAIL_MAX];
};

/* What one call found. An exchange breaks a handful of rules at most; a call that
 * finds more than fit drops the rest and counts them (rules_stats.dropped). */
#define RULES_RESULT_MAX 16
struct rule_result {
    struct violation v[RULES_RESULT_MAX];
    int n;
};

struct rules_config {
    uint64_t no_wait_us;      /* as the verdict engine's (--no-wait-ms) */
    uint64_t retry_window_us; /* as the verdict engine's (--retry-window): C4, C11 */
};

struct rules_stats {
    uint64_t by_rule[R_COUNT];
    uint64_t total;
    uint64_t dropped;         /* past RULES_RESULT_MAX in one call */
    uint64_t pending_evicted; /* 417s or failed requests forgotten before their window
                                 ended (RULES_MAX_PENDING) */
};

struct rules;

/* An engine for flows of a table of n_slots slots; NULL on no memory. */
struct rules *rules_new(const struct rules_config *cfg, uint32_t n_slots);

/* The rules one judged exchange x of flow f breaks, into *r (emptied first). Also
 * settles older 417s whose retry window has passed (C4, on those exchanges).
 * Exchanges must come in the order they finished. */
void rules_exchange(struct rules *e, const struct flow *f, const struct exchange *x,
                    struct rule_result *r);

/* The proxy rules a link of the hop linker shows (P1, P2, P3, P4, P5), on its front
 * exchange, into *r (emptied first). A proxy's answer without upstream shows none. */
void rules_hop(struct rules *e, const struct hop *h, struct rule_result *r);

/* Flow f leaves the analysis: its state is cleared for the slot's next flow. */
void rules_flow_done(struct rules *e, const struct flow *f);

/* The run ends at capture time end_us (its last packet): 417s still waiting for a
 * retry get C4 ("no retry before the capture ended"). Call until it returns false;
 * each call may fill *r. */
bool rules_drain(struct rules *e, uint64_t end_us, struct rule_result *r);

const struct rules_stats *rules_stats(const struct rules *e);

void rules_free(struct rules *e);

/* The rule table. */
const char *rule_name(enum rule_id id);    /* "C1" */
const char *rule_section(enum rule_id id); /* "RFC 9110 10.1.1" */
const char *rule_level(enum rule_id id);   /* "MUST NOT", "SHOULD", ... */
const char *rule_summary(enum rule_id id); /* a few words */
bool rule_checked(enum rule_id id);        /* false: docs/rules.md says why not */
/* By name ("S9"), R_COUNT when there is no such rule. */
enum rule_id rule_from_name(const char *name, size_t len);

#endif
