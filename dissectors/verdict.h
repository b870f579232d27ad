/* verdict.h: the Expect verdict engine. Gives every finished exchange its primary
 * verdict and flags (../shared/DESIGN.md "Verdicts"), and every flow the most severe
 * verdict of its exchanges.
 *
 * Owns: the thresholds; the index of recent 417 answers that retry_after_417 and
 *   duplicate_body are judged against (bounded: VERDICT_MAX_417 entries, the oldest
 *   replaced first, replacements counted); each open flow's exchange count and most
 *   severe verdict so far (an array indexed by flow->slot).
 * Does not own: the exchange (borrowed from the dissector for one call) or the flow.
 * Called by: the pipeline, from the dissector's exchange sink and when a flow leaves
 *   the flow table. Calls: nothing.
 */
#ifndef ES_VERDICT_H
#define ES_VERDICT_H

#include <stdint.h>

#include "exchange.h"
#include "flow.h"
#include "reasm.h"

#define VERDICT_DEFAULT_NO_WAIT_US 5000u          /* --no-wait-ms 5 */
#define VERDICT_DEFAULT_RETRY_WINDOW_US 30000000u /* --retry-window 30 */
#define VERDICT_DEFAULT_STALL_US 1000000u         /* --stall-ms 1000 */
#define VERDICT_MAX_417 4096u                     /* recent 417s remembered */
#define VERDICT_REORDER_SLACK_US 10000u           /* capture reordering tolerated */

/* Every field must be set (the pipeline's defaults are VERDICT_DEFAULT_*). */
struct verdict_config {
    uint64_t no_wait_us;      /* body within this of the headers: no_wait */
    uint64_t retry_window_us; /* a repeat within this of a 417: retry_after_417 */
    uint64_t stall_us;        /* a pause longer than this inside a body: body_stall */
};

/* What the verdict engine made of one flow's exchanges. */
struct flow_verdict {
    uint32_t exchanges;   /* judged on this flow */
    enum verdict verdict; /* the most severe of them; V_NONE when there were none */
};

/* A flow leaving the analysis, with everything known about it: what the storage
 * writes as its row and what the pipeline's observers see. Borrowed for one call. */
struct flow_result {
    const struct flow *f;
    const struct reasm_counters *rc;
    const char *l7;       /* nDPI's protocol name */
    struct flow_verdict v;
};

struct verdict_stats {
    uint64_t by_verdict[V_COUNT]; /* [V_NONE]: orphan responses, which get no verdict */
    uint64_t retries_linked;
    uint64_t index_replaced;  /* a remembered 417 was pushed out before its window */
};

struct verdict_engine;

/* An engine with the given thresholds, for flows of a table of n_slots slots
 * (flow_table_capacity()). NULL on no memory. */
struct verdict_engine *verdict_new(const struct verdict_config *cfg, uint32_t n_slots);

/* Judge one finished exchange of flow f: set x->verdict, add to x->flags, set
 * x->retry_of, and count it towards the flow's verdict. Exchanges must come in the
 * order they finished. */
void verdict_judge(struct verdict_engine *v, const struct flow *f, struct exchange *x);

/* What identifies "the same request" again: a hash of the client address, the server
 * address and port, method, target, Host (case-insensitive) and body length (or
 * chunked). The 417-retry link uses it, and so does the rule engine's C11 (a request
 * repeated after its connection failed). Never 0. */
uint64_t verdict_request_key(const struct flow *f, const struct exchange *x);

/* Flow f leaves the analysis: its exchange count and most severe verdict (DESIGN.md's
 * flow order). The slot is cleared for the next flow. */
struct flow_verdict verdict_flow_done(struct verdict_engine *v, const struct flow *f);

/* The more severe of two verdicts in the flow order (V_NONE ranks below all). */
enum verdict verdict_worse(enum verdict a, enum verdict b);

const struct verdict_stats *verdict_stats(const struct verdict_engine *v);

void verdict_free(struct verdict_engine *v);

#endif
