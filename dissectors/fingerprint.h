/* fingerprint.h: who made an HTTP answer, read from the answer's own header block: the
 * origin, an intermediary (a proxy, a cache, a CDN edge, a WAF, a load balancer), or no
 * telling. One table of what the big intermediaries write into responses, each row with
 * the header that is its evidence.
 *
 * Owns: the table (static, read-only). Called by: the path analysis (hops.c), for every
 *   finished exchange. Calls: hblock.h.
 *
 * A row says one of three things about the answer it matches:
 *   MADE     the intermediary made this answer itself (an error page, a cache hit, a
 *            synthetic reply): answered_by 'intermediary';
 *   RELAYED  the intermediary fetched this answer from behind it (a cache miss, an
 *            upstream service time): answered_by 'origin', the intermediary named;
 *   ON_PATH  the answer passed through the intermediary (Via, a CDN request id), and
 *            nothing says who made it: answered_by 'unknown', the intermediary named.
 * MADE beats RELAYED beats ON_PATH. No row matching: 'unknown' as well, with no
 * intermediary: a transparent proxy would look the same as an origin, and expectscope
 * does not guess (the second leg, when captured, says more: hops.h).
 */
#ifndef ES_FINGERPRINT_H
#define ES_FINGERPRINT_H

#include <stddef.h>

#include "exchange.h"

enum answered_by {
    ANSWERED_UNKNOWN = 0, /* nothing in the capture tells */
    ANSWERED_ORIGIN,      /* the origin made the answer */
    ANSWERED_INTERMEDIARY /* an intermediary made it itself */
};

struct fingerprint {
    enum answered_by by;
    const char *intermediary; /* product name ("squid", "cloudflare"), or NULL; static */
    char evidence[96];        /* why, in a few words: "X-Squid-Error: ERR_INVALID_REQ" */
};

/* Read the final response's header block (and the interim blocks: a proxy that made
 * its own 100 may say so there) of x. */
void fingerprint_exchange(const struct exchange *x, struct fingerprint *fp);

/* "origin", "intermediary", "unknown": the database's exchanges.answered_by. */
const char *answered_by_name(enum answered_by by);

#endif
