/* verdict.h: the Expect verdict engine. Gives every finished exchange its primary
 * verdict and flags (../shared/DESIGN.md "Verdicts"), and every flow the most severe
 * verdict of its exchanges.
 *
 * Owns: the thresholds, and the index of recent 417 answers that retry_after_417 and
 *   duplicate_body are judged against (bounded: VERDICT_MAX_417 entries, the oldest
 *   replaced first, replacements counted).
 * Does not own: the exchange (borrowed from the dissector for one call).
 * Called by: the driver, from the dissector's exchange sink. Calls: nothing.
 */
#ifndef ES_VERDICT_H
#define ES_VERDICT_H

#include <stdint.h>

#include "exchange.h"
#include "flow.h"

#define VERDICT_DEFAULT_NO_WAIT_US 5000u          /* --no-wait-ms 5 */
#define VERDICT_DEFAULT_RETRY_WINDOW_US 30000000u /* --retry-window 30 */
#define VERDICT_DEFAULT_STALL_US 1000000u         /* --stall-ms 1000 */
#define VERDICT_MAX_417 4096u                     /* recent 417s remembered */
#define VERDICT_REORDER_SLACK_US 10000u           /* capture reordering tolerated */

struct verdict_config {
    uint64_t no_wait_us;      /* body within this of the headers: no_wait */
    uint64_t retry_window_us; /* a repeat within this of a 417: retry_after_417 */
    uint64_t stall_us;        /* a pause longer than this inside a body: body_stall */
};

struct verdict_stats {
    uint64_t by_verdict[V_COUNT];
    uint64_t retries_linked;
    uint64_t index_replaced;  /* a remembered 417 was pushed out before its window */
};

struct verdict_engine;

/* An engine with the given thresholds (zeros take the defaults). NULL on no memory. */
struct verdict_engine *verdict_new(const struct verdict_config *cfg);

/* Judge one finished exchange of flow f: set x->verdict, add to x->flags, set
 * x->retry_of. Exchanges must come in the order they finished. */
void verdict_judge(struct verdict_engine *v, const struct flow *f, struct exchange *x);

/* The more severe of two verdicts, for a flow's verdict (V_NONE: no HTTP yet). */
enum verdict verdict_worse(enum verdict a, enum verdict b);

const struct verdict_stats *verdict_stats(const struct verdict_engine *v);

void verdict_free(struct verdict_engine *v);

#endif
