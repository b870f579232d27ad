/* rules.c: see rules.h. docs/rules.md says, for every rule, what triggers it here and
 * why, and for the rules not checked, why not. */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "hblock.h"
#include "limits.h"
#include "verdict.h"

struct rule_def {
    const char *name, *section, *level, *summary;
    bool checked;
};

static const struct rule_def defs[R_COUNT] = {
    [R_C1] = { "C1", "RFC 9110 10.1.1", "MUST NOT", "100-continue on a request without content",
               true },
    [R_C2] = { "C2", "RFC 9110 10.1.1", "MUST", "waited for a 100 it did not ask for", true },
    [R_C3] = { "C3", "RFC 9110 10.1.1", "SHOULD NOT", "waited very long for a 100", true },
    [R_C4] = { "C4", "RFC 9110 10.1.1", "SHOULD", "no retry without Expect after a 417", true },
    [R_C5] = { "C5", "RFC 9110 15.2", "MUST", "client failed on a 1xx", false },
    [R_C6] = { "C6", "RFC 9112 9.3", "MUST", "response to the oldest open request", false },
    [R_C7] = { "C7", "RFC 9112 9.3", "SHOULD", "kept a connection after unsolicited data",
               true },
    [R_C8] = { "C8", "RFC 9112 6.3", "MUST", "request content without framing", false },
    [R_C9] = { "C9", "RFC 9112 6.1", "MUST NOT", "chunked to a server that spoke HTTP/1.0",
               true },
    [R_C10] = { "C10", "RFC 9112 9.6", "MUST NOT", "request after its own close", true },
    [R_C11] = { "C11", "RFC 9110 9.2.2", "SHOULD NOT", "non-idempotent retry after a failure",
                true },
    [R_S1] = { "S1", "RFC 9110 10.1.1", "MUST", "100 or 417 for Expect from HTTP/1.0", true },
    [R_S2] = { "S2", "RFC 9110 15.2", "MUST NOT", "1xx sent to an HTTP/1.0 client", true },
    [R_S3] = { "S3", "RFC 9110 10.1.1", "MUST", "no prompt 100 or final to a waiting client",
               true },
    [R_S4] = { "S4", "RFC 9110 10.1.1", "MUST NOT", "100 sent only after the whole body", true },
    [R_S5] = { "S5", "RFC 9110 10.1.1", "MUST", "100, whole body, then no final status", true },
    [R_S6] = { "S6", "RFC 9110 10.1.1", "SHOULD", "early final status without close", true },
    [R_S7] = { "S7", "RFC 9112 9.3", "MUST", "early final: body not read, not closed", true },
    [R_S8] = { "S8", "RFC 9110 7.8", "MUST", "101 without a 100 to an Expect request", true },
    [R_S9] = { "S9", "RFC 9110 8.6", "MUST NOT", "Content-Length in a 1xx or 204", true },
    [R_S10] = { "S10", "RFC 9112 6.1", "MUST NOT", "Transfer-Encoding in a 1xx or 204", true },
    [R_S11] = { "S11", "RFC 9112 6.3", "framing", "a 1xx ends at its empty line", false },
    [R_S12] = { "S12", "RFC 9112 9.3", "MUST", "responses out of request order", true },
    [R_S13] = { "S13", "RFC 9112 9.3", "MUST", "closed without saying close", false },
    [R_S14] = { "S14", "RFC 9112 9.6", "MUST NOT", "answered a request after its close", true },
    [R_S15] = { "S15", "RFC 9110 10.1.1", "MAY", "417 to 100-continue itself", true },
    [R_P1] = { "P1", "RFC 9110 15.2", "MUST", "did not forward an upstream 1xx", true },
    [R_P2] = { "P2", "RFC 9110 10.1.1", "MUST", "forward proxy held the head for the body",
               true },
    [R_P3] = { "P3", "RFC 9110 10.1.1", "MAY", "intermediary sent its own 100", true },
    [R_P4] = { "P4", "RFC 9110 7.6.3", "MUST", "request forwarded without Via", true },
    [R_P5] = { "P5", "RFC 9112 6.3", "MUST", "forwarded 1xx kept Content-Length", true },
    [R_P6] = { "P6", "RFC 9112 9.3", "MUST NOT", "proxy kept an HTTP/1.0 client's connection",
               true },
    [R_P7] = { "P7", "RFC 9112 9.3", "MAY / SHOULD", "retry or close after inbound failure",
               false },
};

const char *rule_name(enum rule_id id)
{
    return id < R_COUNT ? defs[id].name : "?";
}

const char *rule_section(enum rule_id id)
{
    return id < R_COUNT ? defs[id].section : "";
}

const char *rule_level(enum rule_id id)
{
    return id < R_COUNT ? defs[id].level : "";
}

const char *rule_summary(enum rule_id id)
{
    return id < R_COUNT ? defs[id].summary : "";
}

bool rule_checked(enum rule_id id)
{
    return id < R_COUNT && defs[id].checked;
}

enum rule_id rule_from_name(const char *name, size_t len)
{
    for (int i = 0; i < R_COUNT; i++)
        if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
            return (enum rule_id)i;
    return R_COUNT;
}

/* What the engine remembers of one open connection. Ids are run-local; 0: none. */
struct rflow {
    uint64_t client_close_xid; /* a request said the connection ends after it */
    uint64_t server_close_xid; /* a final response said so */
    uint64_t orphan_xid;       /* a response with no request, on a connection seen from
                                  its SYN: data no request asked for */
    uint64_t http10_proxy_xid; /* an intermediary answered an HTTP/1.0 request */
    bool server_http10;        /* a response on this connection was HTTP/1.0 */
    bool c7, c10, s14, p6;     /* reported once per connection */
};

/* A 417 to 100-continue waiting for its retry (C4), in the order the 417s came. */
struct p417 {
    uint64_t xid, flow_id, t_us;
    bool retried;
};

/* A non-idempotent request that failed (no final status, the connection reset or
 * closed): a repeat within the window is an automatic retry (C11). Open addressing by
 * a hash of client, server and port, method and target. */
struct pfail {
    uint64_t key, t_us;
    bool used;
};

struct rules {
    struct rules_config cfg;
    struct rflow *flows;       /* by flow slot */
    uint32_t n_slots;
    struct p417 *ring;         /* RULES_MAX_PENDING */
    uint32_t head, n;
    struct pfail *fails;       /* RULES_MAX_PENDING */
    uint64_t now_us;           /* the latest exchange start seen (the run's end, when
                                  draining): the retry clock */
    struct rules_stats st;
};

struct rules *rules_new(const struct rules_config *cfg, uint32_t n_slots)
{
    struct rules *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = *cfg;
    e->n_slots = n_slots;
    e->flows = calloc(n_slots ? n_slots : 1, sizeof *e->flows);
    e->ring = calloc(RULES_MAX_PENDING, sizeof *e->ring);
    e->fails = calloc(RULES_MAX_PENDING, sizeof *e->fails);
    if (!e->flows || !e->ring || !e->fails) {
        rules_free(e);
        return NULL;
    }
    return e;
}

void rules_free(struct rules *e)
{
    if (!e)
        return;
    free(e->flows);
    free(e->ring);
    free(e->fails);
    free(e);
}

const struct rules_stats *rules_stats(const struct rules *e)
{
    return &e->st;
}

void rules_flow_done(struct rules *e, const struct flow *f)
{
    if (f->slot < e->n_slots)
        memset(&e->flows[f->slot], 0, sizeof e->flows[f->slot]);
}

static void add(struct rules *e, struct rule_result *r, enum rule_id id, uint64_t xid,
                uint64_t fid, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(struct rules *e, struct rule_result *r, enum rule_id id, uint64_t xid,
                uint64_t fid, const char *fmt, ...)
{
    if (r->n == RULES_RESULT_MAX) {
        e->st.dropped++;
        return;
    }
    struct violation *v = &r->v[r->n++];
    v->rule = id;
    v->exchange_id = xid;
    v->flow_id = fid;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
    e->st.by_rule[id]++;
    e->st.total++;
}

/* Captured bytes for a detail line: printable ASCII only, at most 24 of them (the
 * detail is our sentence; a header value in it is a quote, not a payload). */
static const char *quote(char out[28], const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 24; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
    if (n > 24)
        out[k - 1] = '~';
    out[k] = '\0';
    return out;
}

static double ms_between(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1000.0 : 0.0;
}

/* RFC 9110 10.1.1: the only expectation defined, case-insensitive. */
static bool expects_100(const struct exchange *x)
{
    static const char want[] = "100-continue";
    const struct sbuf *b = &x->s[XS_EXPECT];
    if (!x->has_expect)
        return false;
    size_t i = 0, n = b->len;
    while (i < n && (b->p[i] == ' ' || b->p[i] == '\t'))
        i++;
    while (n > i && (b->p[n - 1] == ' ' || b->p[n - 1] == '\t'))
        n--;
    if (n - i != sizeof want - 1)
        return false;
    for (size_t k = 0; k < sizeof want - 1; k++) {
        char c = b->p[i + k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[k])
            return false;
    }
    return true;
}

/* The first byte of any answer (an interim or the final), 0 when none came. */
static uint64_t first_answer(const struct exchange *x)
{
    uint64_t t = x->t_final_us;
    uint32_t n = x->n_interim < X_MAX_INTERIM ? x->n_interim : X_MAX_INTERIM;
    for (uint32_t i = 0; i < n; i++)
        if (x->t_interim_us[i] && (!t || x->t_interim_us[i] < t))
            t = x->t_interim_us[i];
    return t;
}

/* Every time the exchange has is one the capture recorded (exchange.h,
 * X_TIME_UNKNOWN_US). */
static bool times_known(const struct exchange *x)
{
    const uint64_t t[] = { x->t_start_us, x->t_hdr_us, x->t_body_first_us, x->t_body_last_us,
                           x->t_100_us, x->t_final_us, x->t_end_us };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] && !x_time_known(t[i]))
            return false;
    uint32_t n = x->n_interim < X_MAX_INTERIM ? x->n_interim : X_MAX_INTERIM;
    for (uint32_t i = 0; i < n; i++)
        if (x->t_interim_us[i] && !x_time_known(x->t_interim_us[i]))
            return false;
    return true;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* RFC 9110 9.2.2: methods whose repetition is harmless. */
static bool idempotent(const struct sbuf *m)
{
    static const char *const names[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (m->len == strlen(names[i]) && memcmp(m->p, names[i], m->len) == 0)
            return true;
    return false;
}

enum { PROBE = 8 };

/* C11: was this request tried before on a connection that failed, within the window?
 * Consumes the entry. Then remembers this one if it failed in turn. */
static bool repeats_failure(struct rules *e, const struct flow *f, const struct exchange *x,
                            double *after_ms)
{
    uint64_t key = verdict_request_key(f, x); /* the retry link's own */
    bool hit = false;
    for (unsigned i = 0; i < PROBE; i++) {
        struct pfail *p = &e->fails[(key + i) % RULES_MAX_PENDING];
        if (!p->used || p->key != key)
            continue;
        p->used = false;
        if (x->t_start_us + RULES_REORDER_SLACK_US >= p->t_us &&
            x->t_start_us <= p->t_us + e->cfg.retry_window_us) {
            *after_ms = ms_between(p->t_us, x->t_start_us);
            hit = true;
        }
        break;
    }
    bool failed = !x->status && (x->flags & (XF_CONN_RESET | XF_SERVER_CLOSED)) &&
                  !idempotent(&x->s[XS_METHOD]);
    if (failed) {
        struct pfail *slot = NULL, *oldest = NULL;
        for (unsigned i = 0; i < PROBE; i++) {
            struct pfail *p = &e->fails[(key + i) % RULES_MAX_PENDING];
            if (!p->used || p->key == key) {
                slot = p;
                break;
            }
            if (!oldest || p->t_us < oldest->t_us)
                oldest = p;
        }
        if (!slot) {
            slot = oldest;
            e->st.pending_evicted++;
        }
        *slot = (struct pfail){ key, x->t_end_us ? x->t_end_us : x->t_start_us, true };
    }
    return hit;
}

/* C4: 417s whose window has passed without a retry, oldest first; *r has room left. */
static void settle_417s(struct rules *e, struct rule_result *r, bool all)
{
    while (e->n && r->n < RULES_RESULT_MAX) {
        struct p417 *p = &e->ring[e->head];
        if (!p->retried) {
            if (!all && p->t_us + e->cfg.retry_window_us >= e->now_us)
                break;
            if (all && p->t_us + e->cfg.retry_window_us >= e->now_us)
                add(e, r, R_C4, p->xid, p->flow_id,
                    "no retry before the capture ended, %.1f ms after the 417",
                    ms_between(p->t_us, e->now_us));
            else
                add(e, r, R_C4, p->xid, p->flow_id,
                    "no retry within the %.0f s retry window after the 417",
                    (double)e->cfg.retry_window_us / 1e6);
        }
        e->head = (e->head + 1) % RULES_MAX_PENDING;
        e->n--;
    }
}

static void remember_417(struct rules *e, const struct flow *f, const struct exchange *x)
{
    if (e->n == RULES_MAX_PENDING) { /* the oldest is forgotten, not judged */
        e->head = (e->head + 1) % RULES_MAX_PENDING;
        e->n--;
        e->st.pending_evicted++;
    }
    e->ring[(e->head + e->n) % RULES_MAX_PENDING] =
        (struct p417){ x->id, f->id, x->t_final_us, false };
    e->n++;
}

static void mark_retried(struct rules *e, uint64_t xid)
{
    for (uint32_t i = e->n; i-- > 0;) { /* newest first: a retry follows soon */
        struct p417 *p = &e->ring[(e->head + i) % RULES_MAX_PENDING];
        if (p->xid == xid) {
            p->retried = true;
            return;
        }
    }
}

/* S9, S10: framing headers in a 1xx (every kept interim block), or in a 204. */
static void framing_in_bodiless(struct rules *e, const struct exchange *x, uint64_t fid,
                                struct rule_result *r)
{
    static const struct {
        const char *name;
        enum rule_id rule;
    } fields[] = { { "content-length", R_S9 }, { "transfer-encoding", R_S10 } };
    char q[28], code[28];
    for (size_t i = 0; i < 2; i++) {
        const char *v, *sl;
        size_t vn, sn;
        if (x->n_interim &&
            hblock_find_any(x->s[XS_RAW_INTERIM].p, x->s[XS_RAW_INTERIM].len,
                            fields[i].name, &v, &vn, &sl, &sn)) {
            /* the status code of the block: "HTTP/1.1 100 ..." */
            quote(code, sn >= 12 ? sl + 9 : "1xx", 3);
            add(e, r, fields[i].rule, x->id, fid, "%s: %s in a %s interim response",
                i == 0 ? "Content-Length" : "Transfer-Encoding", quote(q, v, vn), code);
        }
        if (x->status == 204 &&
            hblock_find(x->s[XS_RAW_RESPONSE].p, x->s[XS_RAW_RESPONSE].len, fields[i].name,
                        &v, &vn))
            add(e, r, fields[i].rule, x->id, fid, "%s: %s in a 204 response",
                i == 0 ? "Content-Length" : "Transfer-Encoding", quote(q, v, vn));
    }
}

/* The rules of the request, its answers and their timing. */
static void exchange_rules(struct rules *e, const struct flow *f, const struct exchange *x,
                           struct rule_result *r)
{
    uint64_t xid = x->id, fid = f->id;
    bool req = x->has_request && x->t_hdr_us;
    bool http10 = x->http_major == 1 && x->http_minor == 0;
    bool e100 = req && expects_100(x);
    bool timed = !(x->flags & (XF_GAP | XF_RESYNC)) && /* lost bytes make times wrong */
                 times_known(x); /* and a capture without times has none to compare */
    uint64_t body = x->body_bytes + x->body_missing;
    uint64_t answer = first_answer(x);
    char q[28];

    if (e100 && !x->body_declared)
        add(e, r, R_C1, xid, fid, "Expect: 100-continue on %s with %s",
            quote(q, x->s[XS_METHOD].p, x->s[XS_METHOD].len),
            x->has_content_length ? "Content-Length: 0" : "no Content-Length or chunked");

    /* C2: the body came late, the server said nothing meanwhile, and nobody asked */
    if (req && timed && !x->has_expect && x->body_declared && x->t_body_first_us &&
        !x->body_in_header_segment &&
        x->t_body_first_us >= x->t_hdr_us + RULES_C2_MIN_WAIT_US &&
        (!answer || answer > x->t_body_first_us))
        add(e, r, R_C2, xid, fid,
            "no Expect, yet the body started %.1f ms after the headers, the server silent",
            ms_between(x->t_hdr_us, x->t_body_first_us));

    /* C3: a very long wait for a 100 that did not come before the body */
    if (e100 && timed && x->t_body_first_us &&
        x->t_body_first_us >= x->t_hdr_us + RULES_C3_MAX_WAIT_US &&
        (!answer || answer > x->t_body_first_us))
        add(e, r, R_C3, xid, fid, "waited %.1f s for a 100 before sending the body",
            ms_between(x->t_hdr_us, x->t_body_first_us) / 1000.0);

    if (x->verdict == V_RETRY_AFTER_417 && e100)
        add(e, r, R_C4, xid, fid, "the retry after the 417 still carries Expect: %s",
            quote(q, x->s[XS_EXPECT].p, x->s[XS_EXPECT].len));

    if (e100 && http10 && (x->t_100_us || x->status == 417))
        add(e, r, R_S1, xid, fid, "HTTP/1.0 request: the server answered its Expect with %s",
            x->t_100_us ? "a 100" : "417");
    if (req && http10 && x->n_interim)
        add(e, r, R_S2, xid, fid, "%u interim response%s (first %u) to an HTTP/1.0 request",
            x->n_interim, x->n_interim > 1 ? "s" : "", x->interim[0]);

    /* S3: the client waited (it had not started the body) and heard nothing */
    if (e100 && !http10 && timed && x->body_declared && !x->body_in_header_segment) {
        uint64_t end = earliest(earliest(answer, x->t_body_first_us), x->t_end_us);
        if (end >= x->t_hdr_us + RULES_S3_MAX_SILENCE_US) {
            double ms = ms_between(x->t_hdr_us, end);
            if (answer && answer == end)
                add(e, r, R_S3, xid, fid, "first answer (%u) %.1f ms after the headers",
                    x->t_100_us == answer ? 100 : x->status ? x->status : x->interim[0], ms);
            else if (x->t_body_first_us && x->t_body_first_us == end)
                add(e, r, R_S3, xid, fid,
                    "no 100 or final status in %.1f ms; the client then sent the body", ms);
            else
                add(e, r, R_S3, xid, fid, "no answer in %.1f ms; the exchange ended", ms);
        }
    }

    /* S4: the whole body was there before the 100, and it took long enough to arrive
     * that the server could have answered first */
    if (e100 && timed && x->t_100_us && body > 0 && x->body_at_100 >= body &&
        !x->body_abandoned && x->t_body_last_us &&
        x->t_body_last_us >= x->t_hdr_us + e->cfg.no_wait_us &&
        x->t_100_us + RULES_REORDER_SLACK_US >= x->t_body_last_us)
        add(e, r, R_S4, xid, fid,
            "100 at %.1f ms, after the whole body (%llu bytes, last at %.1f ms)",
            ms_between(x->t_hdr_us, x->t_100_us), (unsigned long long)body,
            ms_between(x->t_hdr_us, x->t_body_last_us));

    /* S5: 100, the whole body, then the connection ended with no final status */
    bool body_whole = x->req_complete && !x->body_abandoned &&
                      (!x->has_content_length || body >= x->content_length);
    if (req && x->t_100_us && !x->status && body_whole && !(x->flags & XF_GAP) &&
        (f->end_reason == END_FIN || f->end_reason == END_RST ||
         f->end_reason == END_TIMEOUT))
        add(e, r, R_S5, xid, fid,
            "100 sent, the whole body received, then the connection ended (%s) with no "
            "final status", flow_end_reason_name((enum end_reason)f->end_reason));

    /* S6, S7: a final status before the body was all there */
    bool early = req && x->body_declared && x->status >= 200 && x->status != 101 &&
                 (x->has_content_length ? x->body_at_final < x->content_length
                                        : x->body_at_final == 0);
    /* the whole body was there within the capture's reordering of the two directions:
     * the answer came after it, whatever the packet order says */
    if (early && body_whole && x->t_body_last_us &&
        x->t_body_last_us <= x->t_final_us + RULES_REORDER_SLACK_US)
        early = false;
    if (early && !x->resp_close) {
        if (x->has_content_length)
            add(e, r, R_S6, xid, fid,
                "%u after %llu of %llu body bytes, without Connection: close", x->status,
                (unsigned long long)x->body_at_final, (unsigned long long)x->content_length);
        else
            add(e, r, R_S6, xid, fid,
                "%u before the chunked body began, without Connection: close", x->status);
        if (x->body_abandoned)
            add(e, r, R_S7, xid, fid,
                "%u kept the connection open with the body unread; the client's next "
                "request came where the body was due", x->status);
    }

    if (e100 && x->status == 101 && !x->t_100_us)
        add(e, r, R_S8, xid, fid, "101 Switching Protocols with no 100 before it");

    if (x->n_interim || x->status == 204)
        framing_in_bodiless(e, x, fid, r);

    /* S12: a success cannot answer a request whose head had not arrived yet: the
     * server's answers are out of step with the requests */
    if (req && timed && x->status && x->status < 400 && x->t_final_us &&
        x->t_final_us + RULES_REORDER_SLACK_US < x->t_hdr_us)
        add(e, r, R_S12, xid, fid,
            "%u began %.1f ms before its request's header block ended", x->status,
            ms_between(x->t_final_us, x->t_hdr_us));

    if (e100 && !http10 && x->status == 417)
        add(e, r, R_S15, xid, fid,
            "417 to Expect: 100-continue, which an HTTP/1.1 server must support");

    double after_ms;
    if (req && x->s[XS_METHOD].len && !idempotent(&x->s[XS_METHOD]) &&
        x->verdict != V_RETRY_AFTER_417 && repeats_failure(e, f, x, &after_ms))
        add(e, r, R_C11, xid, fid,
            "%s repeated %.1f ms after the same request failed with no response",
            quote(q, x->s[XS_METHOD].p, x->s[XS_METHOD].len), after_ms);
}

/* The rules of the connection: what earlier exchanges on it said. */
static void connection_rules(struct rules *e, const struct flow *f, const struct exchange *x,
                             struct rule_result *r)
{
    if (f->slot >= e->n_slots)
        return;
    struct rflow *c = &e->flows[f->slot];
    uint64_t xid = x->id, fid = f->id;
    bool req = x->has_request && x->t_hdr_us;
    bool http10 = x->http_major == 1 && x->http_minor == 0;

    if (req && c->orphan_xid && !c->c7) {
        c->c7 = true;
        add(e, r, R_C7, xid, fid,
            "another request on a connection that had sent response data no request "
            "asked for");
    }
    if (req && x->chunked && c->server_http10)
        add(e, r, R_C9, xid, fid, "chunked request after the server answered HTTP/1.0 on "
            "this connection");
    if (req && c->client_close_xid && !c->c10) {
        c->c10 = true;
        add(e, r, R_C10, xid, fid, "request after an earlier request on this connection "
            "said it would close");
    }
    if (req && x->status && c->server_close_xid && !c->s14) {
        c->s14 = true;
        add(e, r, R_S14, xid, fid, "answered %u after an earlier response on this connection "
            "said close", x->status);
    }
    if (req && c->http10_proxy_xid && !c->p6) {
        c->p6 = true;
        add(e, r, R_P6, xid, fid, "an intermediary kept the connection of an HTTP/1.0 client "
            "open for another request");
    }

    if (!x->has_request && f->syn_seen && !(x->flags & (XF_GAP | XF_RESYNC)))
        c->orphan_xid = xid;
    if (req && x->req_close && !c->client_close_xid)
        c->client_close_xid = xid;
    if (x->status && x->resp_close && !c->server_close_xid)
        c->server_close_xid = xid;
    if (x->status && x->resp_major == 1 && x->resp_minor == 0)
        c->server_http10 = true;
    /* the server of this connection forwards (the answer says an intermediary made it,
     * or carries a Via the request did not) and kept an HTTP/1.0 client's connection */
    bool via_answer = x->s[XS_VIA].set && !x->req_via;
    if (req && http10 && x->status && !x->resp_close &&
        (x->answered_by == ANSWERED_INTERMEDIARY || via_answer))
        c->http10_proxy_xid = xid;
}

void rules_exchange(struct rules *e, const struct flow *f, const struct exchange *x,
                    struct rule_result *r)
{
    r->n = 0;
    if (x->t_start_us > e->now_us)
        e->now_us = x->t_start_us;
    settle_417s(e, r, false);
    if (x->retry_of)
        mark_retried(e, x->retry_of);
    exchange_rules(e, f, x, r);
    connection_rules(e, f, x, r);
    /* a retry that got a 417 in turn is not waited on again: the client did retry,
     * and C4 above says whether it kept the Expect */
    if (x->has_request && x->status == 417 && !x->retry_of && expects_100(x))
        remember_417(e, f, x);
}

void rules_hop(struct rules *e, const struct hop *h, struct rule_result *r)
{
    r->n = 0;
    if (!h->back_id)
        return; /* the proxy answered alone: it acted as the origin */
    uint64_t xid = h->front_id, fid = h->front_flow_id;
    if (h->findings & HOP_DROPPED_100)
        add(e, r, R_P1, xid, fid, "the upstream sent a 100; the client got none");
    if ((h->findings & HOP_BUFFERED_BODY) && h->front_absolute && h->front_expect)
        add(e, r, R_P2, xid, fid,
            "the request went upstream %.1f ms after the headers, once the whole body had "
            "come", h->proxy_ms);
    if (h->findings & HOP_ANSWERED_100)
        add(e, r, R_P3, xid, fid, (h->findings & HOP_STRIPPED_EXPECT)
                                      ? "the proxy sent its own 100 and no Expect upstream"
                                      : "the proxy sent its own 100 before the upstream's");
    if (!h->back_via)
        add(e, r, R_P4, xid, fid, "the request went upstream without Via");
    if (h->front_1xx_cl && (h->findings & HOP_RELAYED_100))
        add(e, r, R_P5, xid, fid, "the relayed 100 still carries Content-Length");
}

bool rules_drain(struct rules *e, uint64_t end_us, struct rule_result *r)
{
    r->n = 0;
    if (end_us > e->now_us)
        e->now_us = end_us;
    settle_417s(e, r, true);
    return e->n > 0;
}
