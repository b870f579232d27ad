/* verdict.c: see verdict.h. */
#include "verdict.h"

#include <stdlib.h>
#include <string.h>

/* One remembered 417: who asked for what, when the answer came, whether the body had
 * gone over the wire already. The request is kept as a 64-bit hash of client IP,
 * server IP and port, method, target, Host and body length (verdict_request_key()):
 * collisions are negligible at this size. */
struct seen417 {
    uint64_t key;
    uint64_t t_us;
    uint64_t exchange_id;
    bool body_sent;
    bool used;
};

struct verdict_engine {
    struct verdict_config cfg;
    struct seen417 *idx;        /* open addressing, VERDICT_MAX_417 slots */
    struct flow_verdict *flows; /* by flow slot; calloc'd, so untouched slots cost no page */
    uint32_t n_slots;
    struct verdict_stats st;
};

struct verdict_engine *verdict_new(const struct verdict_config *cfg, uint32_t n_slots)
{
    struct verdict_engine *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->idx = calloc(VERDICT_MAX_417, sizeof *v->idx);
    v->flows = calloc(n_slots ? n_slots : 1, sizeof *v->flows);
    if (!v->idx || !v->flows) {
        verdict_free(v);
        return NULL;
    }
    v->cfg = *cfg;
    v->n_slots = n_slots;
    return v;
}

const struct verdict_stats *verdict_stats(const struct verdict_engine *v)
{
    return &v->st;
}

void verdict_free(struct verdict_engine *v)
{
    if (!v)
        return;
    free(v->idx);
    free(v->flows);
    free(v);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* What a retry must repeat of the 417'd request: the client address (a new connection
 * may use another port), the server IP and port, the method and target, the Host
 * (case-insensitive) and the body length (Content-Length, or chunked, or neither).
 * Host and length keep apart the uploads of clients behind one NAT address, or to a
 * shared path, that are not the same request. */
uint64_t verdict_request_key(const struct flow *f, const struct exchange *x)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t alen = f->key.family == 4 ? 4 : 16;
    uint16_t port = flow_port(f, DIR_S2C);
    h = mix(h, flow_addr(f, DIR_C2S), alen);
    h = mix(h, flow_addr(f, DIR_S2C), alen);
    h = mix(h, &port, sizeof port);
    h = mix(h, x->s[XS_METHOD].p, x->s[XS_METHOD].len);
    h = mix(h, " ", 1);
    h = mix(h, x->s[XS_URI].p, x->s[XS_URI].len);
    h = mix(h, " ", 1);
    for (uint32_t i = 0; i < x->s[XS_HOST].len; i++) {
        char c = x->s[XS_HOST].p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        h = mix(h, &c, 1);
    }
    uint8_t framing = x->chunked ? 2 : x->has_content_length ? 1 : 0;
    uint64_t len = framing == 1 ? x->content_length : 0;
    h = mix(h, &framing, sizeof framing);
    h = mix(h, &len, sizeof len);
    return h ? h : 1;
}

enum { PROBE = 8 };

/* The remembered 417 for this request within the window, consumed on use: the first
 * matching request after the 417 is its retry (at most one per 417); a later upload to
 * the same target is a new request, not another retry. */
static struct seen417 *find_417(struct verdict_engine *v, uint64_t key, uint64_t now_us)
{
    for (unsigned i = 0; i < PROBE; i++) {
        struct seen417 *e = &v->idx[(key + i) % VERDICT_MAX_417];
        if (e->used && e->key == key) {
            if (now_us >= e->t_us && now_us - e->t_us <= v->cfg.retry_window_us)
                return e;
            /* A retry cannot start before the 417 went out, but multi-queue capture
             * can swap packets by tens of microseconds: allow a little. A request
             * further before is not a retry (several captures given out of order). */
            if (now_us < e->t_us && e->t_us - now_us <= VERDICT_REORDER_SLACK_US)
                return e;
            if (now_us >= e->t_us)
                e->used = false; /* expired */
        }
    }
    return NULL;
}

static void remember_417(struct verdict_engine *v, uint64_t key, const struct exchange *x)
{
    struct seen417 *slot = NULL, *oldest = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct seen417 *e = &v->idx[(key + i) % VERDICT_MAX_417];
        if (!e->used || e->key == key ||
            x->t_final_us > e->t_us + v->cfg.retry_window_us) {
            slot = e;
            break;
        }
        if (!oldest || e->t_us < oldest->t_us)
            oldest = e;
    }
    if (!slot) {
        slot = oldest;
        v->st.index_replaced++;
    }
    *slot = (struct seen417){ key, x->t_final_us, x->id, x->body_bytes + x->body_missing > 0,
                              true };
}

/* RFC 9110 10.1.1: the only expectation defined is "100-continue", case-insensitive. */
static bool is_100_continue(const struct sbuf *b)
{
    static const char want[] = "100-continue";
    size_t i = 0, n = b->len;
    const char *p = b->p;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (n > i && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n - i != sizeof want - 1)
        return false;
    for (size_t k = 0; k < sizeof want - 1; k++) {
        char c = p[i + k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[k])
            return false;
    }
    return true;
}

/* Could the cut value still have been "100-continue": is what was read of it, after
 * leading blanks, a case-insensitive prefix of it? */
static bool may_be_100_continue(const struct sbuf *b)
{
    static const char want[] = "100-continue";
    size_t i = 0;
    while (i < b->len && (b->p[i] == ' ' || b->p[i] == '\t'))
        i++;
    if (b->len - i > sizeof want - 1)
        return false;
    for (size_t k = 0; i + k < b->len; k++) {
        char c = b->p[i + k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[k])
            return false;
    }
    return true;
}

static enum verdict expect_outcome(const struct verdict_engine *v, const struct exchange *x,
                                   bool one_sided)
{
    uint64_t body = x->body_bytes + x->body_missing;
    if (one_sided) {
        /* The server's side is not in the capture: whether a 100 or a final status
         * came is unknown, so a wait says nothing (it may have been for a 100 that
         * came). Only a body in the very segment that ended the headers shows a client
         * that did not wait at all. */
        if (body && x->body_in_header_segment)
            return V_NO_WAIT;
        return V_INCOMPLETE;
    }
    if (x->status && x->body_at_final == 0)
        return body ? V_BODY_AFTER_FINAL : V_EARLY_FINAL;
    if (x->t_100_us && x->body_at_100 == 0 && body)
        return V_CONTINUE_OK;
    if (body) {
        uint64_t wait = x->t_body_first_us > x->t_hdr_us ? x->t_body_first_us - x->t_hdr_us : 0;
        /* Without the capture's times only the order speaks: a 100 before the body was
         * taken above; a wait of unknown length is not one (docs/verdicts.md). */
        bool timed = x_time_known(x->t_body_first_us) && x_time_known(x->t_hdr_us);
        if (x->body_in_header_segment || !timed || wait <= v->cfg.no_wait_us)
            return V_NO_WAIT;
        if (x->t_100_us)
            return V_LATE_100;
        return V_TIMEOUT_FALLBACK;
    }
    return V_INCOMPLETE;
}

void verdict_judge(struct verdict_engine *v, const struct flow *f, struct exchange *x)
{
    uint32_t fl = x->flags;
    uint64_t body = x->body_bytes + x->body_missing;
    bool has_100 = x->t_100_us != 0;
    bool http10 = x->http_major == 1 && x->http_minor == 0;
    bool expect_100 = x->has_expect && is_100_continue(&x->s[XS_EXPECT]);
    bool one_sided = flow_one_sided(f);
    if (one_sided)
        fl |= XF_ONE_SIDED;
    /* pipelined says an earlier request was still unanswered: unknowable when the
     * server's side is not in the capture */
    if (one_sided && !f->packets[DIR_S2C])
        fl &= ~(uint32_t)XF_PIPELINED;
    /* The snap length cut the request's header block, and its Expect (curl's comes
     * last) may have been in the cut: a 100 is then taken as the answer to it, not as
     * unsolicited (servers send 100 to an Expect in practice). */
    if (!x->has_expect && x->snap_cut_request && has_100)
        expect_100 = true;
    /* A hole cut the Expect value (expect_unknown): what was read is not the value.
     * Never unsupported_expectation from it. Where the snap length cut it, the client's
     * bytes after the cut are still counted as its body: a prefix of "100-continue" is
     * judged as one by the timeline. Anything else (a value that cannot be it, or lost
     * bytes, after which the body was not followed) is incomplete, unless the server
     * said 417. */
    bool expect_unknown = (fl & XF_EXPECT_UNKNOWN) && x->has_expect;
    if (expect_unknown)
        expect_100 = x->snap_cut_request && may_be_100_continue(&x->s[XS_EXPECT]);

    if (expect_100 && has_100 && x->body_at_100 > 0)
        fl |= XF_LATE_100; /* without Expect, a 100 after the body is just unsolicited */
    if (x->n_interim > 1)
        fl |= XF_MULTIPLE_1XX;
    if (x->n_interim > 0 && x->has_request && http10)
        fl |= XF_HTTP10_1XX;
    if (x->has_request && !x->status)
        fl |= XF_NO_FINAL;
    if (x->body_declared && body > 0 && !x->req_complete)
        fl |= XF_PARTIAL_BODY;
    if (x->has_content_length && body > 0 && body < x->content_length && !x->body_abandoned)
        fl |= XF_PARTIAL_BODY;
    if (x->max_body_pause_us > v->cfg.stall_us)
        fl |= XF_BODY_STALL;
    if (x->s[XS_VIA].set)
        fl |= XF_VIA_PROXY;

    enum verdict r = V_NONE;
    uint64_t key = 0;
    if (!x->has_request) {
        /* A response with no request to pair with: kept, flagged, and given no verdict
         * (every verdict judges a request); the flow's verdict ignores it. */
        x->verdict = V_NONE;
        x->flags = fl | XF_ORPHAN_RESPONSE;
        v->st.by_verdict[V_NONE]++;
        if (f->slot < v->n_slots)
            v->flows[f->slot].exchanges++;
        return;
    }
    if (x->s[XS_METHOD].len) {
        key = verdict_request_key(f, x);
        struct seen417 *e = find_417(v, key, x->t_start_us);
        if (e) {
            r = V_RETRY_AFTER_417;
            x->retry_of = e->exchange_id;
            if (e->body_sent && body > 0)
                fl |= XF_DUPLICATE_BODY;
            /* the retry failed in turn (a 401, a second 417, or no answer): keep it
             * visible beside the verdict */
            if (x->status >= 400 || !x->status)
                fl |= XF_RETRY_FAILED;
            e->used = false;
            v->st.retries_linked++;
        }
    }
    /* a request that found a pending-exchange cap full (h1.h): written at its first
     * byte, nothing of it parsed, so nothing to judge */
    if (r == V_NONE && (fl & XF_ABANDONED_AT_CAP) && !x->s[XS_METHOD].len)
        r = V_INCOMPLETE;
    if (r == V_NONE) {
        if (x->has_expect && !expect_100 && !expect_unknown)
            r = V_UNSUPPORTED_EXPECTATION;
        else if (x->status == 417)
            r = V_EXPECTATION_FAILED;
        else if (expect_unknown && !expect_100)
            r = V_INCOMPLETE;
        else if (expect_100 && !x->body_declared && !x->snap_cut_request && !expect_unknown)
            r = V_EXPECT_WITHOUT_BODY;
        else if (expect_100 && http10)
            r = V_HTTP10_EXPECT;
        else if (expect_100 && x->req_unframed)
            r = V_INCOMPLETE; /* its body was not followed: no verdict from timing */
        else if (expect_100)
            r = expect_outcome(v, x, one_sided);
        else if (has_100)
            r = V_UNSOLICITED_100;
        else
            r = V_PLAIN;
    }
    if (x->status == 417 && key)
        remember_417(v, key, x);
    x->verdict = r;
    x->flags = fl;
    v->st.by_verdict[r]++;
    if (f->slot < v->n_slots) {
        struct flow_verdict *fv = &v->flows[f->slot];
        fv->exchanges++;
        fv->verdict = verdict_worse(fv->verdict, r);
    }
}

/* Flow verdict severity, most severe first (DESIGN.md). */
static const enum verdict severity[] = {
    V_EXPECTATION_FAILED, V_UNSUPPORTED_EXPECTATION, V_BODY_AFTER_FINAL,
    V_TIMEOUT_FALLBACK, V_LATE_100, V_NO_WAIT, V_RETRY_AFTER_417, V_EXPECT_WITHOUT_BODY,
    V_HTTP10_EXPECT, V_INCOMPLETE, V_EARLY_FINAL, V_UNSOLICITED_100, V_CONTINUE_OK, V_PLAIN,
};

/* V_NONE, and anything not in the list, ranks last. */
static int rank(enum verdict v)
{
    for (size_t i = 0; i < sizeof severity / sizeof severity[0]; i++)
        if (severity[i] == v)
            return (int)i;
    return (int)(sizeof severity / sizeof severity[0]);
}

enum verdict verdict_worse(enum verdict a, enum verdict b)
{
    return rank(a) <= rank(b) ? a : b;
}

struct flow_verdict verdict_flow_done(struct verdict_engine *v, const struct flow *f)
{
    struct flow_verdict none = { 0, V_NONE };
    if (f->slot >= v->n_slots)
        return none;
    struct flow_verdict fv = v->flows[f->slot];
    v->flows[f->slot] = none;
    return fv;
}
