/* stream.h: the stream contract between TCP reassembly and whatever reads the bytes
 * (the HTTP/1 dissector): directions, why a stream ended, sequence arithmetic, and
 * the callbacks reassembly hands bytes to.
 *
 * Owns: nothing; types and inline helpers only.
 * Included by: the flow table (directions, end reasons), reassembly (the caller of the
 *   sink) and the dissector (the sink). Keeping it apart lets the dissector depend on
 *   this contract without depending on how reassembly works.
 */
#ifndef ES_STREAM_H
#define ES_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct flow;

/* Direction of a segment relative to the flow's roles. */
enum dir {
    DIR_C2S = 0, /* client to server */
    DIR_S2C = 1, /* server to client */
};

/* Why a flow ended; the names are the database's flows.end_reason values
 * (flow_end_reason_name()). */
enum end_reason {
    END_NONE = 0,    /* still open */
    END_FIN,         /* both sides sent FIN */
    END_RST,         /* a RST was seen */
    END_TIMEOUT,     /* idle longer than the inactivity timeout */
    END_CAPTURE_END, /* still open when the capture ended */
    END_EVICTED,     /* pushed out because the flow pool was full */
    END_REUSED,      /* a new connection (SYN with another ISN) took over its 5-tuple
                        before any FIN or RST of this one was seen */
};

/* What reassembly hands to the next layer. Spans are borrowed until the callback
 * returns. ts_us is the capture time of the segment that made the bytes available:
 * every wait_ms is measured from it, so in-order data goes out on arrival, not on ACK.
 * eof (optional, may be NULL) says a direction reached its FIN in order: nothing more
 * comes that way, though the other may go on (a half-close). */
struct stream_sink_ops {
    void *(*open)(void *owner, const struct flow *f);   /* per-flow state, or NULL */
    void  (*data)(void *st, enum dir d, const uint8_t *p, size_t n, uint64_t ts_us);
    void  (*gap)(void *st, enum dir d, uint64_t missing, uint64_t ts_us);
    void  (*eof)(void *st, enum dir d, uint64_t ts_us);
    void  (*close)(void *st, enum end_reason why, uint64_t ts_us);   /* frees st */
    /* n bytes were on the wire, in order here, but the snap length kept them out of
     * the capture (their count comes from the IP and TCP lengths): unlike a gap they
     * were not lost in transit or by the capture, only not recorded. Optional: a sink
     * without it gets them as a gap. */
    void  (*uncaptured)(void *st, enum dir d, uint64_t n, uint64_t ts_us);
};

/* Sequence arithmetic modulo 2^32 (RFC 9293 3.4): never compare with < directly. */
static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

#endif
