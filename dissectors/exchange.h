/* exchange.h: one HTTP request with its interim and final responses, as the dissector
 * builds it and the verdict engine, storage and export read it.
 *
 * Owns: nothing beyond its own buffers. An exchange belongs to the dissector (h1.h)
 *   that filled it; the verdict engine and the exchange sink borrow it for one call.
 * Also defines the verdict and flag names of ../shared/DESIGN.md: they are contracts.
 */
#ifndef ES_EXCHANGE_H
#define ES_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A capped byte buffer for captured text (curl's dynbuf idea): appends past `max`
 * are dropped and remembered in `truncated`. Keeps its allocation across resets so a
 * recycled exchange allocates nothing. Captured bytes are not NUL-terminated text. */
struct sbuf {
    char *p;
    uint32_t len, cap, max;
    bool truncated;
    bool set;      /* something was stored (possibly empty) */
};

void sbuf_init(struct sbuf *b, uint32_t max);
/* Append n bytes; false when some were dropped (cap or memory). */
bool sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_reset(struct sbuf *b);
void sbuf_fini(struct sbuf *b);

/* Primary verdicts, in the order they are tested (the first that fits wins). */
enum verdict {
    V_NONE = 0,
    V_RETRY_AFTER_417,
    V_UNSUPPORTED_EXPECTATION,
    V_EXPECTATION_FAILED,
    V_EXPECT_WITHOUT_BODY,
    V_HTTP10_EXPECT,
    V_EARLY_FINAL,
    V_BODY_AFTER_FINAL,
    V_CONTINUE_OK,
    V_NO_WAIT,
    V_LATE_100,
    V_TIMEOUT_FALLBACK,
    V_INCOMPLETE,
    V_UNSOLICITED_100,
    V_PLAIN,
    V_COUNT
};

/* Flags, one bit each; names in flags_str(). */
enum xflag {
    XF_LATE_100 = 1u << 0,
    XF_MULTIPLE_1XX = 1u << 1,
    XF_HTTP10_1XX = 1u << 2,
    XF_NO_FINAL = 1u << 3,
    XF_PARTIAL_BODY = 1u << 4,
    XF_BODY_STALL = 1u << 5,
    XF_CONN_RESET = 1u << 6,
    XF_SERVER_CLOSED = 1u << 7,
    XF_DUPLICATE_BODY = 1u << 8,
    XF_VIA_PROXY = 1u << 9,
    XF_GAP = 1u << 10,
    XF_RESYNC = 1u << 11,
    XF_PIPELINED = 1u << 12,
    XF_HEADERS_TRUNCATED = 1u << 13,
    XF_ORPHAN_RESPONSE = 1u << 14, /* a response with no request to pair with */
    XF_ONE_SIDED = 1u << 15,       /* the capture saw one direction of the connection */
    XF_RETRY_FAILED = 1u << 16,    /* a retry after a 417 that failed in turn */
    XF_ABANDONED_AT_CAP = 1u << 17, /* written before its answer: a cap on exchanges
                                       waiting for their response gave HTTP up on the
                                       connection */
    /* framing (RFC 9112 6.3), set by the dissector */
    XF_CL_AND_CHUNKED = 1u << 18,  /* Content-Length with Transfer-Encoding: chunked */
    XF_CONFLICTING_LENGTH = 1u << 19, /* two different Content-Length values */
    XF_LENGTH_OVERFLOW = 1u << 20, /* a Content-Length of 2^63 or more */
    XF_EXPECT_UNKNOWN = 1u << 21,  /* a hole (gap, snap cut) cut the Expect value */
    XF_COUNT_BITS = 22
};

/* Captured text of an exchange, each in its own capped buffer. The three raw header
 * blocks are what the database's headers table keeps. */
enum xfield {
    XS_METHOD, XS_URI, XS_HOST, XS_USER_AGENT, XS_EXPECT,  /* request */
    XS_XFF,                    /* request X-Forwarded-For (lines joined with ", ") */
    XS_REASON, XS_SERVER, XS_VIA,                            /* final response (Via: either) */
    XS_RAW_REQUEST, XS_RAW_INTERIM, XS_RAW_RESPONSE,         /* header blocks as captured */
    XS_COUNT
};

#define X_MAX_INTERIM 8 /* interim codes remembered; more are counted */

/* Capture times are microseconds since the epoch; 0 means "not seen". */
struct exchange {
    struct sbuf s[XS_COUNT]; /* first: exchange_reset() keeps their allocations */
    uint64_t id;            /* run-local number, 1-based, in order of creation */
    uint64_t flow_id;       /* the flow's id in the flow table */
    uint32_t seq;           /* 0-based order in its flow */
    bool has_request;       /* false: a response whose request the capture lost */

    /* request */
    uint8_t http_major, http_minor;
    bool has_expect;        /* an Expect header was present */
    bool req_via;           /* the request carried Via (a proxy sent it) */
    bool has_content_length;
    bool chunked;
    uint64_t content_length;
    uint64_t body_bytes;    /* request body bytes seen (decoded for chunked) */
    uint64_t body_missing;  /* request body bytes lost in gaps */

    /* response */
    uint16_t status;        /* final status, 0 when none */
    uint8_t resp_major, resp_minor;
    uint16_t interim[X_MAX_INTERIM];
    uint32_t n_interim;     /* all interim responses, even past X_MAX_INTERIM */

    /* timeline */
    uint64_t t_start_us;      /* first byte of the request */
    uint64_t t_hdr_us;        /* end of the request header block */
    uint64_t t_body_first_us; /* first request body byte */
    uint64_t t_body_last_us;
    uint64_t t_100_us;        /* first 100 Continue */
    uint64_t t_interim_us[X_MAX_INTERIM]; /* each interim's status line, as interim[] */
    uint64_t t_final_us;      /* final status line */
    uint64_t t_end_us;        /* the exchange was complete */
    uint64_t max_body_pause_us;
    uint64_t body_at_100;   /* body bytes (seen or lost) when the first 100 began */
    uint64_t body_at_final; /* body bytes (seen or lost) when the final status began */
    bool body_in_header_segment; /* the body began in the segment that ended the headers */

    /* state at the end */
    bool req_complete;      /* request fully seen (or its body abandoned) */
    bool resp_complete;     /* final response fully seen */
    bool body_abandoned;    /* a new request line came where the body was due */
    bool body_declared;     /* Content-Length > 0 or chunked */
    bool snap_cut_request;  /* the snap length cut the request header block before its
                               end: framing and the headers past the cut are unknown */
    bool req_unframed;      /* the request's length was unknowable (conflicting or
                               overflowing Content-Length): its body was not followed */
    bool req_close;         /* the request said the connection ends after it: Connection:
                               close, or HTTP/1.0 without keep-alive (RFC 9112 9.3) */
    bool resp_close;        /* the final response said so, the same way */

    /* decided by the verdict engine */
    enum verdict verdict;
    uint32_t flags;
    uint64_t retry_of;      /* id of the 417'd exchange this one repeats, 0 if none */

    /* decided by the path analysis (hops.h): who made the answer */
    uint8_t answered_by;      /* enum answered_by (fingerprint.h); 0 unknown */
    const char *intermediary; /* product name, static, or NULL */
    char path_evidence[160];  /* why, in a few words */

    /* h1: what this exchange is charged against the pending-exchange budget (its
     * struct and buffers, ES_ALLOC_COST) while it waits in a connection's queue */
    uint32_t pending_charge;
};

/* A capture time the capture did not record: 0 in the file (pcapng simple packet
 * blocks carry none; some tools write zeroed clocks). The pipeline hands such packets on
 * at this time, so that 0 keeps meaning "not seen" in the timeline above: an event at
 * X_TIME_UNKNOWN_US was seen, when is unknown. Durations from or to it are unknown
 * (NULL in the database), and the verdict engine goes by capture order
 * (docs/verdicts.md, "Captures without times"). */
#define X_TIME_UNKNOWN_US 1u

/* A time that says when: seen, and recorded by the capture. */
static inline bool x_time_known(uint64_t t_us)
{
    return t_us > X_TIME_UNKNOWN_US;
}

/* Reset all fields for reuse, keeping the buffers' allocations. */
void exchange_reset(struct exchange *x);
void exchange_init(struct exchange *x);
void exchange_fini(struct exchange *x);

/* The DESIGN.md names: "continue_ok", "late_100", ... */
const char *verdict_name(enum verdict v);

/* What a verdict means, in a few words (docs/verdicts.md says it at length). */
const char *verdict_meaning(enum verdict v);

/* A verdict by its DESIGN.md name; V_NONE when there is no such verdict. */
enum verdict verdict_from_name(const char *name);

/* A flag's DESIGN.md name and what it means in one line, by bit number
 * (0 .. XF_COUNT_BITS - 1); NULL past the last. */
const char *flag_name(int bit);
const char *flag_meaning(int bit);

/* A flag's bit by its name, or 0 when there is no such flag. */
uint32_t flag_from_name(const char *name, size_t len);

/* Flags as a comma-separated list in the DESIGN.md order, "" when none. */
void flags_str(uint32_t flags, char *buf, size_t len);

/* Interim codes as "103,100", "" when none. */
void interim_str(const struct exchange *x, char *buf, size_t len);

/* "0.512,12.250": each remembered interim's time in ms after the end of the request
 * headers, in the order of interim[] ("" when none or the headers' end is unknown). */
void interim_ms_str(const struct exchange *x, char *buf, size_t len);

/* Durations from the end of the request headers, in milliseconds; negative when the
 * event was not seen or either time is unknown (X_TIME_UNKNOWN_US). Never negative for seen events: reordered capture timestamps
 * are clamped to 0. */
double exchange_ms_after_hdr(const struct exchange *x, uint64_t t_us);

#endif
