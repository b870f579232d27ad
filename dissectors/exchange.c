/* exchange.c: see exchange.h. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *b, uint32_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

bool sbuf_add(struct sbuf *b, const void *p, size_t n)
{
    b->set = true;
    size_t room = b->max - b->len;
    size_t take = n < room ? n : room;
    if (take > b->cap - b->len) {
        size_t want = b->cap ? b->cap : 64;
        while (want < b->len + take)
            want *= 2;
        if (want > b->max)
            want = b->max;
        char *q = realloc(b->p, want);
        if (!q) {
            b->truncated = true;
            return false;
        }
        b->p = q;
        b->cap = (uint32_t)want;
    }
    if (take)
        memcpy(b->p + b->len, p, take);
    b->len += (uint32_t)take;
    if (take < n)
        b->truncated = true;
    return take == n;
}

void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    b->truncated = false;
    b->set = false;
}

void sbuf_fini(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Caps for captured text; the raw header blocks are what the database keeps. */
static const uint32_t field_max[XS_COUNT] = {
    [XS_METHOD] = 32, [XS_URI] = 4096, [XS_HOST] = 512, [XS_USER_AGENT] = 512,
    [XS_EXPECT] = 512, [XS_XFF] = 512, [XS_REASON] = 512, [XS_SERVER] = 512, [XS_VIA] = 512,
    [XS_RAW_REQUEST] = 8192, [XS_RAW_INTERIM] = 8192, [XS_RAW_RESPONSE] = 8192,
};

void exchange_init(struct exchange *x)
{
    memset(x, 0, sizeof *x);
    for (int i = 0; i < XS_COUNT; i++)
        sbuf_init(&x->s[i], field_max[i]);
}

void exchange_reset(struct exchange *x)
{
    for (int i = 0; i < XS_COUNT; i++)
        sbuf_reset(&x->s[i]);
    memset(&x->id, 0, sizeof *x - offsetof(struct exchange, id));
}

void exchange_fini(struct exchange *x)
{
    for (int i = 0; i < XS_COUNT; i++)
        sbuf_fini(&x->s[i]);
}

static const char *const verdict_names[V_COUNT] = {
    [V_NONE] = "none",
    [V_RETRY_AFTER_417] = "retry_after_417",
    [V_UNSUPPORTED_EXPECTATION] = "unsupported_expectation",
    [V_EXPECTATION_FAILED] = "expectation_failed",
    [V_EXPECT_WITHOUT_BODY] = "expect_without_body",
    [V_HTTP10_EXPECT] = "http10_expect",
    [V_EARLY_FINAL] = "early_final",
    [V_BODY_AFTER_FINAL] = "body_after_final",
    [V_CONTINUE_OK] = "continue_ok",
    [V_NO_WAIT] = "no_wait",
    [V_LATE_100] = "late_100",
    [V_TIMEOUT_FALLBACK] = "timeout_fallback",
    [V_INCOMPLETE] = "incomplete",
    [V_UNSOLICITED_100] = "unsolicited_100",
    [V_PLAIN] = "plain",
};

const char *verdict_name(enum verdict v)
{
    return (unsigned)v < V_COUNT ? verdict_names[v] : "none";
}

/* At most 36 characters each, so a summary line of verdict, counts and meaning fits
 * 80 columns. */
static const char *const verdict_meanings[V_COUNT] = {
    [V_NONE] = "no HTTP",
    [V_RETRY_AFTER_417] = "repeats a request that got 417",
    [V_UNSUPPORTED_EXPECTATION] = "Expect other than 100-continue",
    [V_EXPECTATION_FAILED] = "417 Expectation Failed",
    [V_EXPECT_WITHOUT_BODY] = "Expect on a request with no body",
    [V_HTTP10_EXPECT] = "Expect on an HTTP/1.0 request",
    [V_EARLY_FINAL] = "answered before the body; no body",
    [V_BODY_AFTER_FINAL] = "body sent after a final answer",
    [V_CONTINUE_OK] = "100 Continue, then the body",
    [V_NO_WAIT] = "body sent without waiting for 100",
    [V_LATE_100] = "100 came after the body had started",
    [V_TIMEOUT_FALLBACK] = "client gave up waiting for 100",
    [V_INCOMPLETE] = "outcome not in the capture",
    [V_UNSOLICITED_100] = "100 without Expect",
    [V_PLAIN] = "no Expect, no 100",
};

const char *verdict_meaning(enum verdict v)
{
    return (unsigned)v < V_COUNT ? verdict_meanings[v] : "";
}

enum verdict verdict_from_name(const char *name)
{
    for (int v = 1; v < V_COUNT; v++)
        if (strcmp(verdict_names[v], name) == 0)
            return (enum verdict)v;
    return V_NONE;
}

static const char *const flag_names[XF_COUNT_BITS] = {
    "late_100", "multiple_1xx", "http10_1xx", "no_final", "partial_body", "body_stall",
    "conn_reset", "server_closed", "duplicate_body", "via_proxy", "gap", "resync",
    "pipelined", "headers_truncated", "orphan_response", "one_sided", "retry_failed",
    "abandoned_at_cap",
    "cl_and_chunked", "conflicting_length", "content_length_overflow", "expect_unknown",
};

static const char *const flag_meanings[XF_COUNT_BITS] = {
    "a 100 Continue came after the body had started",
    "more than one interim (1xx) response, e.g. 103 then 100",
    "a 1xx was sent to an HTTP/1.0 client (RFC 9110 15.2: MUST NOT)",
    "no final response was seen",
    "fewer body bytes than declared before the connection ended",
    "the body paused longer than --stall-ms",
    "the connection was reset",
    "the server closed while the client was still sending",
    "the body went over the wire in a 417'd attempt and again in its retry",
    "a Via header: an intermediary was on the path",
    "the capture lost bytes inside this exchange; timings may be wrong",
    "the parser recovered after lost bytes or garbage",
    "sent while an earlier request on the connection awaited its response",
    "a header block or field was longer than expectscope keeps",
    "a response with no request to pair with (the capture or the client sent none)",
    "the capture saw only one direction of the connection; no verdict from timing",
    "the retry after a 417 failed too (its own status is 4xx/5xx or none came)",
    "written before its answer: a cap on exchanges awaiting a response gave HTTP up on "
    "the connection",
    "Content-Length and Transfer-Encoding: chunked together; framed as chunked",
    "two different Content-Length values: framing lost, the direction resynced",
    "a Content-Length of 2^63 or more: not stored; framing lost, the direction resynced",
    "a hole (lost bytes, snap length) cut the Expect value: it is not judged",
};

const char *flag_name(int bit)
{
    return bit >= 0 && bit < XF_COUNT_BITS ? flag_names[bit] : NULL;
}

const char *flag_meaning(int bit)
{
    return bit >= 0 && bit < XF_COUNT_BITS ? flag_meanings[bit] : NULL;
}

uint32_t flag_from_name(const char *name, size_t len)
{
    for (int i = 0; i < XF_COUNT_BITS; i++)
        if (strlen(flag_names[i]) == len && memcmp(flag_names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

void flags_str(uint32_t flags, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < XF_COUNT_BITS; i++) {
        if (!(flags & (1u << i)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", flag_names[i]);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

void interim_str(const struct exchange *x, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    uint32_t n = x->n_interim < X_MAX_INTERIM ? x->n_interim : X_MAX_INTERIM;
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(buf + used, len - used, "%s%u", i ? "," : "", x->interim[i]);
        if (k < 0 || (size_t)k >= len - used)
            return;
        used += (size_t)k;
    }
}

void interim_ms_str(const struct exchange *x, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (!x_time_known(x->t_hdr_us))
        return;
    uint32_t n = x->n_interim < X_MAX_INTERIM ? x->n_interim : X_MAX_INTERIM;
    for (uint32_t i = 0; i < n; i++) {
        double ms = exchange_ms_after_hdr(x, x->t_interim_us[i]);
        int k = snprintf(buf + used, len - used, "%s%.3f", i ? "," : "", ms < 0 ? 0.0 : ms);
        if (k < 0 || (size_t)k >= len - used) {
            buf[0] = '\0'; /* all or nothing: the times must line up with the codes */
            return;
        }
        used += (size_t)k;
    }
}

double exchange_ms_after_hdr(const struct exchange *x, uint64_t t_us)
{
    if (!x_time_known(t_us) || !x_time_known(x->t_hdr_us))
        return -1.0;
    if (t_us <= x->t_hdr_us)
        return 0.0;
    return (double)(t_us - x->t_hdr_us) / 1000.0;
}
