/* h1.h: the HTTP/1.x stream dissector. Turns the two reassembled byte streams of a
 * flow into exchanges (one request with its interim and final responses), with the
 * timeline the Expect verdicts need.
 *
 * Owns: the llhttp parsers of every flow, their header-field scratch, each exchange
 *   being built and its capped buffers, and a pool of recycled exchanges.
 * Does not own: the flow, the bytes (borrowed from reassembly for one call), or the
 *   verdict (verdict.h): finished exchanges go to the exchange sink it was handed.
 * Called by: reassembly, through the stream_sink_ops of h1_sink_ops().
 * Calls: llhttp and its exchange sink.
 *
 * Framing rules it holds to (the traps other analyzers fall into):
 * - every 1xx response but 101 ends at its empty line, whatever Content-Length or
 *   Transfer-Encoding it carries (RFC 9112 6.3); several may come before the final;
 * - after a final response to a request whose body has not started, a request line
 *   from the client is a new request, not the body;
 * - a gap inside a Content-Length body is skipped and the stream goes on; any other
 *   gap, or bytes llhttp rejects, make that direction resynchronise at the next
 *   request or status line;
 * - bytes the snap length kept out of the capture (uncaptured, stream.h) are not a
 *   gap: inside a body whose framing is known they count as body bytes; a header block
 *   cut inside keeps what fitted (a status line up to its code is a status) and is
 *   flagged headers_truncated; where the cut hides where a message ends, the
 *   direction waits for the next segment that starts like a message (the client's
 *   bytes until then count as the cut request's body), without gap or resync flags;
 * - responses to HEAD, and 204 and 304, have no body whatever Content-Length says;
 * - CONNECT answered 2xx and 101 Switching Protocols end HTTP on the flow; a declined
 *   Upgrade does not.
 * - RFC 9112 6.3: Content-Length with Transfer-Encoding: chunked is framed as chunked
 *   (cl_and_chunked); two different Content-Length values, or one of 2^63 or more, make
 *   the framing unknowable: the message keeps what its header block said, is flagged
 *   (conflicting_length, content_length_overflow) and the direction resyncs at the
 *   next message start. Identical values, repeated or in a list, are one length: we
 *   read Content-Length ourselves (llhttp 8.1 rejects "5, 5").
 * - a start line with a bare CR, or a status code outside 100-599, is a parse error.
 * - a 1xx that no request can have asked for (after the last final answer, before the
 *   next request's header block ended) is stray: counted, given to no exchange.
 * - a hole (gap, snap cut) inside a request's Expect value flags expect_unknown: the
 *   verdict engine does not judge the cut value.
 */
#ifndef ES_H1_H
#define ES_H1_H

#include <stdbool.h>
#include <stdint.h>

#include "exchange.h"
#include "flow.h"
#include "stream.h"

/* A header block longer than this is not kept whole: the exchange is flagged
 * headers_truncated; parsing goes on (llhttp holds no header bytes itself). */
#define H1_MAX_HEADER_BYTES 8192u

/* Exchanges waiting for their response. Two caps, for two different floods:
 * - per connection, H1_MAX_PIPELINE requests queued (true pipelining: a client that
 *   sends request after request and is never answered), counted in pipeline_overflow;
 * - over all connections, a budget in bytes (h1_set_pending_cap, option
 *   --pending-cap-mb, default H1_DEFAULT_PENDING_BYTES): each queued exchange is charged
 *   its struct and its header copies as the allocator holds them (ES_ALLOC_COST,
 *   limits.h; ~1.2 KiB for a typical upload, up to ~31 KiB with every field full).
 *   The budget is checked when a request begins (admission) and the charge updated
 *   when each header block has been copied: exchanges already admitted still grow by
 *   their own header copies (the request's, then each response block's: ~100 B for
 *   short ones, at most 8 KiB each), so the peak (pending_bytes_peak) may pass the
 *   budget by that much, never by a new exchange. Counted in pending_cap_flows and
 *   pending_cap_exchanges.
 * Past either, HTTP is given up on the connection: its queued exchanges, and the
 * request that found the cap full, are written at once, unanswered, flagged
 * abandoned_at_cap (and no_final); the rest of the connection is not parsed. */
#define H1_MAX_PIPELINE 128u
#define H1_DEFAULT_PENDING_BYTES (256ull * 1024u * 1024u)

/* A header-block buffer larger than this is freed once its block is filed, so that an
 * idle connection holds little. */
#define H1_IDLE_RAW_BYTES 1024u

/* Where finished exchanges go. The exchange is borrowed for the call; the callee may
 * fill in its verdict fields. */
struct exchange_sink {
    void (*exchange)(void *ctx, const struct flow *f, struct exchange *x);
    void *ctx;
};

struct h1_stats {
    uint64_t flows;             /* flows given to the dissector */
    uint64_t exchanges;         /* exchanges emitted */
    uint64_t orphan_responses;  /* responses with no request to pair with */
    uint64_t parse_errors;      /* llhttp rejected bytes; the direction resynced */
    uint64_t resyncs;           /* a direction recovered at a new message */
    uint64_t resync_skipped;    /* bytes skipped while looking for a message start */
    uint64_t body_gap_skips;    /* gaps inside a Content-Length body, skipped in place */
    uint64_t pipeline_overflow; /* connections that passed H1_MAX_PIPELINE */
    uint64_t pending_cap_flows; /* connections given up at the pending-exchange budget */
    uint64_t pending_cap_exchanges; /* exchanges written unanswered because of it */
    uint64_t pending_bytes_peak;    /* the most that budget ever held */
    uint64_t tunnels;           /* CONNECT 2xx or 101: HTTP ended on the flow */
    uint64_t abandoned_bodies;  /* a new request came where a body was due */
    uint64_t alloc_failures;
    uint64_t snap_skips;        /* messages whose end the snap length hid: the direction
                                   waited for a segment starting like a message */
    uint64_t snap_hidden_starts;/* message starts the snap length may have hidden (a cut
                                   between messages): such a message is not seen */
    uint64_t framing_errors;    /* messages whose framing RFC 9112 6.3 calls invalid or
                                   ambiguous: Content-Length with chunked (framed as
                                   chunked), conflicting or overflowing Content-Length
                                   (the direction resynced) */
    uint64_t stray_interims;    /* 1xx responses no request could have asked for (after
                                   the final answer, before the next request's header
                                   block ended): given to no exchange */
};

struct h1;

/* A dissector that hands finished exchanges to `sink` (borrowed for its life). */
struct h1 *h1_new(const struct exchange_sink *sink);

/* The budget in bytes of exchanges waiting for their response, over all connections
 * (default H1_DEFAULT_PENDING_BYTES; see H1_MAX_PIPELINE). */
void h1_set_pending_cap(struct h1 *h, uint64_t bytes);

/* Told of every exchange id handed out (given_back false) and of every one taken back
 * unused (given_back true: a request that turned out empty; the newest id is reused),
 * with the flow it belongs to, in the order they happen. The fan-out (fanout.h) numbers
 * the exchanges of several dissectors as one would from these. */
typedef void (*h1_id_fn)(void *ctx, const struct flow *f, uint64_t id, bool given_back);
void h1_set_id_hook(struct h1 *h, h1_id_fn fn, void *ctx);

/* The stream sink to give to reassembly, with the h1 as owner. */
const struct stream_sink_ops *h1_sink_ops(void);

const struct h1_stats *h1_stats(const struct h1 *h);

/* Free the dissector. Every flow must have been closed first. NULL is a no-op. */
void h1_free(struct h1 *h);

#endif
