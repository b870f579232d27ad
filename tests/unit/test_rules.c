/* test_rules.c: the rule engine (rules.h) against docs/rules.md, at its thresholds.
 *
 * Table-driven. Each row of cases[] is one judged exchange, told by what was on the
 * wire and when (milliseconds from the end of its request headers), with the rules
 * docs/rules.md says it breaks, as "C1,S6" in the order the engine reports them.
 * The rows sit at the boundaries of the thresholds in limits.h, so a threshold moved
 * or read the wrong way fails a row. Then sequences on one connection (C7, C9, C10,
 * S14, P6, and rules_flow_done() forgetting them), across connections (C4, C11, and
 * rules_drain()), the proxy links (rules_hop()), and the rule table itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "exchange.h"
#include "fingerprint.h"
#include "flow.h"
#include "limits.h"
#include "rules.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BASE_US 1700000000000000ull
#define NO_WAIT_US 5000u
#define WINDOW_US 30000000u

static const struct rules_config cfg = { NO_WAIT_US, WINDOW_US };

/* A moment in ms from t_hdr; left out: not seen. */
struct at {
    bool seen;
    double ms;
};
#define AT(ms) { true, (ms) }

struct xcase {
    const char *name;
    const char *method;     /* "POST" */
    const char *version;    /* "1.1" */
    const char *expect;     /* NULL: none */
    const char *interim_raw; /* the kept 1xx blocks */
    const char *resp_raw;   /* the final response's block */
    int64_t cl;             /* -1: no Content-Length */
    bool chunked;
    uint64_t body;          /* body bytes seen */
    uint16_t interim;       /* one interim code, 0: none */
    uint16_t status;
    struct at body_first, body_last, t_100, t_final, t_end;
    uint64_t at_100, at_final;
    bool hdr_seg, abandoned, req_open, resp_close, retry;
    uint32_t flags;         /* what the dissector and verdict engine set */
    uint8_t end_reason;     /* of the flow; END_NONE when left out */
    const char *want;       /* "" none */
};

#define E100 .expect = "100-continue"

static const struct xcase cases[] = {
    { .name = "clean continue_ok: prompt 100, then the body",
      E100, .cl = 1000, .body = 1000, .interim = 100, .status = 200, .t_100 = AT(1),
      .body_first = AT(2), .body_last = AT(3), .t_final = AT(5), .at_final = 1000, .want = "" },
    { .name = "clean plain GET", .method = "GET", .cl = -1, .status = 200,
      .t_final = AT(1), .want = "" },

    { .name = "C1: Expect on a GET without framing", .method = "GET", E100, .cl = -1,
      .status = 200, .t_final = AT(1), .want = "C1" },
    { .name = "C1: Expect with Content-Length: 0", E100, .cl = 0, .status = 200,
      .t_final = AT(1), .want = "C1" },

    { .name = "C2: no Expect, body at exactly 200 ms, server silent", .cl = 1000,
      .body = 1000, .status = 200, .body_first = AT(200), .body_last = AT(200),
      .t_final = AT(201), .at_final = 1000, .want = "C2" },
    { .name = "no C2 at 199.999 ms", .cl = 1000, .body = 1000, .status = 200,
      .body_first = AT(199.999), .body_last = AT(200), .t_final = AT(201), .at_final = 1000,
      .want = "" },
    { .name = "no C2 when the server had spoken first", .cl = 1000, .body = 1000,
      .status = 200, .interim = 103, .t_final = AT(100), .body_first = AT(300),
      .body_last = AT(300), .at_final = 0, .want = "S6" },
    { .name = "no C2 (nor anything timed) with a gap", .cl = 1000, .body = 1000,
      .status = 200, .body_first = AT(500), .body_last = AT(500), .t_final = AT(501),
      .at_final = 1000, .flags = XF_GAP, .want = "" },

    { .name = "C3 and S3: a 10 s wait", E100, .cl = 1000, .body = 1000, .status = 200,
      .body_first = AT(10000), .body_last = AT(10000), .t_final = AT(10001),
      .at_final = 1000, .want = "C3,S3" },
    { .name = "S3 alone: a 9.999 s wait", E100, .cl = 1000, .body = 1000, .status = 200,
      .body_first = AT(9999), .body_last = AT(9999), .t_final = AT(10001),
      .at_final = 1000, .want = "S3" },
    { .name = "S3 at 200 ms of silence", E100, .cl = 1000, .body = 1000, .status = 200,
      .body_first = AT(200), .body_last = AT(200), .t_final = AT(201), .at_final = 1000,
      .want = "S3" },
    { .name = "no S3 at 199 ms", E100, .cl = 1000, .body = 1000, .status = 200,
      .body_first = AT(199), .body_last = AT(199), .t_final = AT(201), .at_final = 1000,
      .want = "" },
    { .name = "S3: the 100 itself came at 250 ms", E100, .cl = 1000, .body = 1000,
      .interim = 100, .status = 200, .t_100 = AT(250), .body_first = AT(251),
      .body_last = AT(251), .t_final = AT(260), .at_final = 1000, .want = "S3" },
    { .name = "no S3 for HTTP/1.0 (it must ignore Expect)", E100, .version = "1.0",
      .cl = 1000, .body = 1000, .status = 200, .body_first = AT(1000),
      .body_last = AT(1000), .t_final = AT(1001), .at_final = 1000, .want = "" },
    { .name = "no S3 when the body came in the header segment", E100, .cl = 1000,
      .body = 1000, .hdr_seg = true, .status = 200, .body_first = AT(0),
      .body_last = AT(0), .t_final = AT(300), .at_final = 1000, .want = "" },

    { .name = "S4: 100 after the whole body, which took 30 ms", E100, .cl = 1000,
      .body = 1000, .interim = 100, .status = 200, .body_first = AT(1),
      .body_last = AT(30), .t_100 = AT(150), .at_100 = 1000, .t_final = AT(151), .at_final = 1000,
      .want = "S4" },
    { .name = "no S4: the body took 4 ms (less than --no-wait-ms)", E100, .cl = 1000,
      .body = 1000, .interim = 100, .status = 200, .body_first = AT(0),
      .body_last = AT(4), .t_100 = AT(150), .at_100 = 1000, .t_final = AT(151), .at_final = 1000,
      .want = "" },
    { .name = "no S4: the 100 came while the body was still arriving", E100, .cl = 1000,
      .body = 1000, .interim = 100, .status = 200, .body_first = AT(1),
      .body_last = AT(100), .t_100 = AT(20), .at_100 = 400, .t_final = AT(101), .at_final = 1000,
      .want = "" },

    { .name = "S5: 100, the whole body, FIN", E100, .cl = 1000, .body = 1000,
      .interim = 100, .t_100 = AT(1), .body_first = AT(2), .body_last = AT(2),
      .end_reason = END_FIN, .want = "S5" },
    { .name = "no S5 when the capture ended", E100, .cl = 1000, .body = 1000,
      .interim = 100, .t_100 = AT(1), .body_first = AT(2), .body_last = AT(2),
      .end_reason = END_CAPTURE_END, .want = "" },
    { .name = "no S5 when the body was not all sent", E100, .cl = 1000, .body = 500,
      .interim = 100, .t_100 = AT(1), .body_first = AT(2), .body_last = AT(2),
      .req_open = true, .end_reason = END_RST, .want = "" },

    { .name = "S6 and S7: 401 before the body, keep-alive, the next request came",
      E100, .cl = 1000, .status = 401, .t_final = AT(1), .abandoned = true,
      .want = "S6" ",S7" },
    { .name = "no S6 with Connection: close", E100, .cl = 1000, .status = 401,
      .t_final = AT(1), .abandoned = true, .resp_close = true, .want = "" },
    { .name = "S6 alone: the client sent the body anyway", E100, .cl = 1000,
      .body = 1000, .status = 401, .t_final = AT(1), .body_first = AT(50),
      .body_last = AT(50), .want = "S6" },
    { .name = "no S6: the last body byte came 10 ms after the 200 (capture reordering)",
      .cl = 1000, .body = 1000, .hdr_seg = true, .status = 200, .body_first = AT(0),
      .body_last = AT(11), .t_final = AT(1), .at_final = 900, .want = "" },
    { .name = "S6: the rest of the body came 11 ms after the 413", .cl = 1000,
      .body = 1000, .hdr_seg = true, .status = 413, .body_first = AT(0),
      .body_last = AT(12), .t_final = AT(1), .at_final = 900, .want = "S6" },
    { .name = "S6 and S15: 417 to 100-continue, keep-alive", E100, .cl = 1000,
      .status = 417, .t_final = AT(1), .want = "S6,S15" },

    { .name = "S1 and S2: 100 to HTTP/1.0 Expect", E100, .version = "1.0", .cl = 1000,
      .body = 1000, .interim = 100, .status = 200, .t_100 = AT(1),
      .body_first = AT(2), .body_last = AT(2), .t_final = AT(3), .at_final = 1000,
      .want = "S1,S2" },
    { .name = "S2 alone: a 103 to HTTP/1.0 without Expect", .method = "GET",
      .version = "1.0", .cl = -1, .interim = 103, .status = 200, .t_final = AT(2),
      .resp_close = true, .want = "S2" },

    { .name = "S8: 101 without a 100", .method = "GET", E100, .cl = 10, .body = 0,
      .status = 101, .t_final = AT(1), .want = "S8" },

    { .name = "S9: Content-Length in the second of two 1xx", E100, .cl = 1000,
      .body = 1000, .interim = 103, .status = 200, .t_100 = AT(2), .body_first = AT(3),
      .body_last = AT(3), .t_final = AT(4), .at_final = 1000,
      .interim_raw = "HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\n"
                     "HTTP/1.1 100 Continue\r\ncontent-length: 0\r\n\r\n",
      .want = "S9" },
    { .name = "S10: Transfer-Encoding in a 204", .method = "DELETE", .cl = -1,
      .status = 204, .t_final = AT(1),
      .resp_raw = "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
      .want = "S10" },

    { .name = "S12: a 200 that began 11 ms before its request's headers ended",
      .method = "GET", .cl = -1, .status = 200, .t_final = AT(-11), .want = "S12" },
    { .name = "no S12 at 9 ms (capture reordering)", .method = "GET", .cl = -1,
      .status = 200, .t_final = AT(-9), .want = "" },
    { .name = "no S12 for a 431 sent before the headers ended", .method = "GET", .cl = -1,
      .status = 431, .t_final = AT(-50), .want = "" },

    { .name = "C4: a retry that still carries Expect", E100, .cl = 1000, .body = 1000,
      .interim = 100, .status = 200, .t_100 = AT(1), .body_first = AT(2),
      .body_last = AT(2), .t_final = AT(3), .at_final = 1000, .retry = true, .want = "C4" },
};

static void text(struct exchange *x, enum xfield f, const char *s)
{
    sbuf_reset(&x->s[f]);
    sbuf_add(&x->s[f], s, strlen(s));
}

static uint64_t at(uint64_t hdr, struct at a)
{
    return a.seen ? (uint64_t)((double)hdr + a.ms * 1000.0) : 0;
}

static void mkflow(struct flow *f, uint32_t slot, uint64_t id, uint16_t cport)
{
    memset(f, 0, sizeof *f);
    f->key.family = 4;
    f->key.addr[0][0] = 10, f->key.addr[0][3] = 1;
    f->key.addr[1][0] = 10, f->key.addr[1][3] = 2;
    f->key.port[0] = cport;
    f->key.port[1] = 80;
    f->client_ep = 0;
    f->slot = slot;
    f->id = id;
    f->syn_seen = true;
}

static void build(struct exchange *x, const struct xcase *c, uint64_t start, uint64_t id)
{
    exchange_reset(x);
    x->id = id;
    x->has_request = true;
    text(x, XS_METHOD, c->method ? c->method : "POST");
    text(x, XS_URI, "/upload");
    const char *v = c->version ? c->version : "1.1";
    x->http_major = (uint8_t)(v[0] - '0');
    x->http_minor = (uint8_t)(v[2] - '0');
    if (c->expect) {
        x->has_expect = true;
        text(x, XS_EXPECT, c->expect);
    }
    x->has_content_length = c->cl >= 0;
    x->content_length = c->cl > 0 ? (uint64_t)c->cl : 0;
    x->chunked = c->chunked;
    x->body_declared = c->chunked || c->cl > 0;
    x->body_bytes = c->body;
    if (c->interim) {
        x->interim[0] = c->interim;
        x->n_interim = 1;
        x->t_interim_us[0] = at(start + 1000, c->t_100.seen ? c->t_100 : c->t_final);
    }
    if (c->interim_raw) {
        text(x, XS_RAW_INTERIM, c->interim_raw);
        x->n_interim = 2;
    }
    if (c->resp_raw)
        text(x, XS_RAW_RESPONSE, c->resp_raw);
    x->status = c->status;
    x->resp_major = 1;
    x->resp_minor = 1;
    x->t_start_us = start;
    x->t_hdr_us = start + 1000;
    x->t_body_first_us = at(x->t_hdr_us, c->body_first);
    x->t_body_last_us = at(x->t_hdr_us, c->body_last);
    x->t_100_us = at(x->t_hdr_us, c->t_100);
    x->t_final_us = at(x->t_hdr_us, c->t_final);
    x->t_end_us = at(x->t_hdr_us, c->t_end);
    if (!x->t_end_us) {
        x->t_end_us = x->t_hdr_us;
        const uint64_t ends[] = { x->t_body_last_us, x->t_100_us, x->t_final_us };
        for (size_t i = 0; i < ARRAY_LEN(ends); i++)
            if (ends[i] > x->t_end_us)
                x->t_end_us = ends[i];
    }
    x->body_at_100 = c->at_100;
    x->body_at_final = c->at_final;
    x->body_in_header_segment = c->hdr_seg;
    x->body_abandoned = c->abandoned;
    x->req_complete = !c->req_open;
    x->resp_close = c->resp_close;
    x->flags = c->flags;
    if (c->retry) {
        x->verdict = V_RETRY_AFTER_417;
        x->retry_of = id + 1000; /* no 417 the engine waits on */
    }
}

/* The rules of a result as "C1,S6". */
static void names(const struct rule_result *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 rule_name(r->v[i].rule));
}

static void test_cases(void)
{
    struct rules *e = rules_new(&cfg, ARRAY_LEN(cases));
    CHECK(e != NULL);
    if (!e)
        return;
    struct exchange x;
    exchange_init(&x);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct xcase *c = &cases[i];
        check_case(c->name);
        struct flow f;
        mkflow(&f, (uint32_t)i, i + 1, (uint16_t)(40000 + i));
        f.end_reason = c->end_reason;
        build(&x, c, BASE_US + i * 100000000ull, i + 1);
        struct rule_result r, mine = { .n = 0 };
        rules_exchange(e, &f, &x, &r);
        /* an earlier row's 417 whose window has passed is settled here: C4 on it */
        for (int k = 0; k < r.n; k++) {
            if (r.v[k].exchange_id == i + 1) {
                CHECK_EQ(r.v[k].flow_id, i + 1);
                CHECK(r.v[k].detail[0] != '\0');
                mine.v[mine.n++] = r.v[k];
            } else {
                CHECK_EQ(r.v[k].rule, R_C4);
                CHECK(i > 0 && cases[i - 1].status == 417);
            }
        }
        char got[128];
        names(&mine, got, sizeof got);
        CHECK_STR(got, c->want);
        rules_flow_done(e, &f);
    }
    exchange_fini(&x);
    rules_free(e);
}

/* A sequence on one connection: GET a (said close), GET b; the state belongs to the
 * connection and is forgotten when the flow is done. */
static void test_connection(void)
{
    struct rules *e = rules_new(&cfg, 4);
    struct exchange x;
    exchange_init(&x);
    struct flow f;
    struct rule_result r;
    char got[128];
    static const struct xcase get = { .method = "GET", .cl = -1, .status = 200,
                                       .t_final = AT(1) };

    check_case("C10, S14: both said close, then another request was answered");
    mkflow(&f, 1, 1, 40001);
    build(&x, &get, BASE_US, 1);
    x.req_close = x.resp_close = true;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);
    build(&x, &get, BASE_US + 10000, 2);
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "C10,S14");
    build(&x, &get, BASE_US + 20000, 3);
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0); /* once per connection */

    check_case("the next flow in the slot starts clean");
    rules_flow_done(e, &f);
    mkflow(&f, 1, 2, 40002);
    build(&x, &get, BASE_US + 30000, 4);
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);

    check_case("C9: chunked after an HTTP/1.0 answer");
    x.resp_minor = 0;
    rules_exchange(e, &f, &x, &r);
    static const struct xcase chunked = { .cl = -1, .chunked = true, .body = 5,
                                          .status = 200, .body_first = AT(0),
                                          .body_last = AT(0), .hdr_seg = true, .t_final = AT(1),
                                          .at_final = 5 };
    build(&x, &chunked, BASE_US + 40000, 5);
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "C9");

    check_case("C7: a request after a response no request asked for");
    rules_flow_done(e, &f);
    mkflow(&f, 2, 3, 40003);
    build(&x, &get, BASE_US + 50000, 6);
    x.has_request = false;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);
    build(&x, &get, BASE_US + 60000, 7);
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "C7");

    check_case("P6: an intermediary kept an HTTP/1.0 client's connection");
    rules_flow_done(e, &f);
    mkflow(&f, 3, 4, 40004);
    static const struct xcase get10 = { .method = "GET", .version = "1.0", .cl = -1,
                                        .status = 200, .t_final = AT(1) };
    build(&x, &get10, BASE_US + 70000, 8);
    x.answered_by = ANSWERED_INTERMEDIARY;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);
    build(&x, &get10, BASE_US + 80000, 9);
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "P6");
    exchange_fini(&x);
    rules_free(e);
}

/* C4 and C11 across connections, and the end of the run. */
static void test_retries(void)
{
    struct rules *e = rules_new(&cfg, 8);
    struct exchange x;
    exchange_init(&x);
    struct flow f;
    struct rule_result r;
    char got[128];
    static const struct xcase c417 = { E100, .cl = 1000, .status = 417,
                                       .t_final = AT(1), .resp_close = true };
    static const struct xcase ok = { .cl = 1000, .body = 1000, .hdr_seg = true,
                                     .status = 200, .body_first = AT(0),
                                     .body_last = AT(0), .t_final = AT(1), .at_final = 1000 };

    check_case("C4: a 417 retried within the window is settled");
    mkflow(&f, 0, 1, 41000);
    build(&x, &c417, BASE_US, 1);
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "S15");
    mkflow(&f, 1, 2, 41001);
    build(&x, &ok, BASE_US + 1000000, 2);
    x.verdict = V_RETRY_AFTER_417;
    x.retry_of = 1;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);

    check_case("C4: a 417 not retried within the window, seen at the next exchange");
    mkflow(&f, 2, 3, 41002);
    build(&x, &c417, BASE_US + 2000000, 3);
    rules_exchange(e, &f, &x, &r);
    mkflow(&f, 3, 4, 41003);
    build(&x, &ok, BASE_US + 2000000 + WINDOW_US + 3000, 4);
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 1);
    if (r.n == 1) {
        CHECK_EQ(r.v[0].rule, R_C4);
        CHECK_EQ(r.v[0].exchange_id, 3); /* on the 417'd exchange, not this one */
        CHECK_EQ(r.v[0].flow_id, 3);
    }

    check_case("C4 at the end of the run: the capture ended first");
    mkflow(&f, 4, 5, 41004);
    build(&x, &c417, BASE_US + 100000000, 5);
    rules_exchange(e, &f, &x, &r);
    CHECK(!rules_drain(e, BASE_US + 100000000 + 5000, &r));
    CHECK_EQ(r.n, 1);
    if (r.n == 1) {
        CHECK_EQ(r.v[0].rule, R_C4);
        CHECK_EQ(r.v[0].exchange_id, 5);
        CHECK(strstr(r.v[0].detail, "capture ended") != NULL);
    }

    check_case("C11: a POST repeated after a reset; PUT is idempotent");
    static const struct xcase post = { .cl = 1000, .body = 1000, .hdr_seg = true,
                                       .body_first = AT(0), .body_last = AT(0) };
    mkflow(&f, 5, 6, 41005);
    build(&x, &post, BASE_US + 200000000, 6);
    x.flags = XF_CONN_RESET;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);
    mkflow(&f, 6, 7, 41006);
    build(&x, &post, BASE_US + 200100000, 7);
    x.status = 200;
    x.body_at_final = 1000;
    rules_exchange(e, &f, &x, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "C11");
    static const struct xcase put = { .method = "PUT", .cl = 1000, .body = 1000,
                                      .hdr_seg = true, .body_first = AT(0),
                                      .body_last = AT(0) };
    build(&x, &put, BASE_US + 300000000, 8);
    x.flags = XF_CONN_RESET;
    rules_exchange(e, &f, &x, &r);
    build(&x, &put, BASE_US + 300100000, 9);
    x.status = 200;
    x.body_at_final = 1000;
    rules_exchange(e, &f, &x, &r);
    CHECK_EQ(r.n, 0);
    exchange_fini(&x);
    rules_free(e);
}

static void test_hops(void)
{
    struct rules *e = rules_new(&cfg, 1);
    struct rule_result r;
    char got[128];
    check_case("rules_hop: each finding, on the front exchange");
    struct hop h = { .front_id = 7, .back_id = 8, .front_flow_id = 3,
                     .findings = HOP_DROPPED_100 | HOP_BUFFERED_BODY, .front_absolute = true,
                     .front_expect = true, .back_via = true };
    rules_hop(e, &h, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "P1,P2");
    for (int k = 0; k < r.n; k++) {
        CHECK_EQ(r.v[k].exchange_id, 7);
        CHECK_EQ(r.v[k].flow_id, 3);
    }
    check_case("rules_hop: a reverse proxy buffering is exempt; no Via; relayed CL");
    h = (struct hop){ .front_id = 7, .back_id = 8, .front_flow_id = 3,
                      .findings = HOP_BUFFERED_BODY | HOP_RELAYED_100, .front_expect = true,
                      .front_1xx_cl = true };
    rules_hop(e, &h, &r);
    names(&r, got, sizeof got);
    CHECK_STR(got, "P4,P5");
    check_case("rules_hop: the proxy answered alone: no P rule");
    h = (struct hop){ .front_id = 7, .findings = HOP_ANSWERED_FINAL | HOP_ANSWERED_100 };
    rules_hop(e, &h, &r);
    CHECK_EQ(r.n, 0);
    rules_free(e);
}

static void test_table(void)
{
    check_case("the rule table: names round-trip, every rule described");
    for (int i = 0; i < R_COUNT; i++) {
        const char *n = rule_name((enum rule_id)i);
        CHECK_EQ(rule_from_name(n, strlen(n)), i);
        CHECK(strncmp(rule_section((enum rule_id)i), "RFC 91", 6) == 0);
        CHECK(rule_level((enum rule_id)i)[0] != '\0');
        CHECK(strlen(rule_summary((enum rule_id)i)) <= 43); /* report's column */
    }
    CHECK_EQ(rule_from_name("C12", 3), R_COUNT);
    CHECK_EQ(rule_from_name("C", 1), R_COUNT);
    CHECK_STR(rule_name(R_C11), "C11");
    CHECK_STR(rule_name(R_P7), "P7");
    CHECK(!rule_checked(R_S11) && rule_checked(R_S9));
}

int main(void)
{
    test_cases();
    test_connection();
    test_retries();
    test_hops();
    test_table();
    return check_done("test_rules");
}
