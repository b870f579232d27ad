/* test_verdict.c: the verdict engine (verdict.h) against ../shared/DESIGN.md "Verdicts".
 *
 * Table-driven. Each row of cases[] is one exchange as the dissector would hand it
 * over, told by what was on the wire and when, with the verdict and flags DESIGN.md
 * gives it; build() turns a row into a struct exchange. thresholds[] runs the same
 * rows under two configurations to show the thresholds are read, sequences[] feeds
 * exchanges in order for retry_after_417, and test_flows() interleaves exchanges on
 * many flows for verdict_flow_done(). Flags are compared as flags_str() prints them,
 * so a row's expected flags are in DESIGN.md's order.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "exchange.h"
#include "flow.h"
#include "verdict.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The request header block takes 1 ms from its first byte (t_start) to its end
 * (t_hdr), so that a wait measured from the wrong one shows in the boundary rows. */
#define HDR_US 1000u
#define BASE_US 1700000000000000ull   /* 2023-11-14, the first exchange's first byte */
#define SPACING_US 100000000ull       /* 100 s between unrelated rows: past any window */

/* The defaults, spelled out: the rows' boundaries (5 ms, 1000 ms, 30 s) are written
 * for these values. */
static const struct verdict_config cfg_a = {
    .no_wait_us = VERDICT_DEFAULT_NO_WAIT_US,
    .retry_window_us = VERDICT_DEFAULT_RETRY_WINDOW_US,
    .stall_us = VERDICT_DEFAULT_STALL_US,
};

/* --no-wait-ms 50 --retry-window 2 --stall-ms 250 */
static const struct verdict_config cfg_b = {
    .no_wait_us = 50000,
    .retry_window_us = 2000000,
    .stall_us = 250000,
};

/* A moment of the timeline, in milliseconds from t_hdr; left out: not seen. */
struct at {
    bool seen;
    double ms;
};
#define AT(ms) { true, (ms) }

/* One exchange. Left-out fields take the common case: POST /upload HTTP/1.1, no Expect,
 * no body, no response, request complete. */
struct xcase {
    const char *name;
    /* request */
    bool lost_request;       /* a response whose request the capture lost: !has_request */
    const char *method;      /* "POST" */
    const char *uri;         /* "/upload" */
    const char *version;     /* "1.1" */
    const char *host;        /* the Host header: "upload.example" */
    const char *expect;      /* the raw Expect value; NULL: no Expect header */
    bool has_cl;             /* Content-Length present, with value cl (see CL()) */
    uint64_t cl;
    bool chunked;            /* body_declared follows: Content-Length > 0 or chunked */
    uint64_t body;           /* body_bytes */
    uint64_t missing;        /* body_missing: lost in capture gaps */
    const char *via;         /* a Via header (request or response) */
    /* response */
    uint16_t interim[4];     /* interim status codes in order, 0 ends */
    uint16_t status;         /* final status, 0: none */
    /* timeline */
    struct at body_first, body_last; /* body_last: body_first when left out */
    struct at t_100;         /* the first 100 Continue */
    struct at final;         /* the final status line */
    uint64_t at_100;         /* body bytes (seen or lost) when the first 100 began */
    uint64_t at_final;       /* body bytes (seen or lost) when the final status began */
    bool hdr_seg;            /* body_in_header_segment */
    double pause_ms;         /* max_body_pause */
    /* end state */
    bool req_open;           /* req_complete false: the request was cut off */
    bool resp_open;          /* resp_complete false although a final status began */
    bool abandoned;          /* body_abandoned: a request line came where the body was due */
    uint32_t pre;            /* flags the dissector had set */
    /* expected */
    const char *want;        /* verdict name */
    const char *want_flags;  /* as flags_str() prints them; NULL: none */
};

#define EXPECT .expect = "100-continue"
#define CL(n) .has_cl = true, .cl = (n)

static const struct xcase cases[] = {
    /* retry_after_417 needs an earlier 417: see sequences[]. */

    /* continue_ok */
    { .name = "continue_ok: 100 at 30 ms, then the body",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30),
      .body_first = AT(31), .body_last = AT(40), .status = 200, .final = AT(60),
      .at_final = 5000, .want = "continue_ok" },
    { .name = "continue_ok: chunked body",
      EXPECT, .chunked = true, .body = 3000, .interim = { 100 }, .t_100 = AT(2),
      .body_first = AT(3), .status = 201, .final = AT(10), .at_final = 3000,
      .want = "continue_ok" },
    { .name = "continue_ok: the 100 began before any body byte, in the same millisecond",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(350),
      .body_first = AT(350), .status = 200, .final = AT(400), .at_final = 5000,
      .want = "continue_ok" },
    { .name = "Expect \"  100-CONTINUE\\t\" is 100-continue (case, spaces and tabs)",
      .expect = "  100-CONTINUE\t", CL(5000), .body = 5000, .interim = { 100 },
      .t_100 = AT(30), .body_first = AT(31), .status = 200, .final = AT(60),
      .at_final = 5000, .want = "continue_ok" },
    { .name = "Expect \"\\t100-continue \" is 100-continue (a leading tab)",
      .expect = "\t100-continue ", CL(5000), .body = 5000, .interim = { 100 },
      .t_100 = AT(30), .body_first = AT(31), .status = 200, .final = AT(60),
      .at_final = 5000, .want = "continue_ok" },
    { .name = "Expect \"100-Continue\" is 100-continue",
      .expect = "100-Continue", CL(5000), .body = 5000, .interim = { 100 },
      .t_100 = AT(30), .body_first = AT(31), .status = 200, .final = AT(60),
      .at_final = 5000, .want = "continue_ok" },
    { .name = "continue_ok: body bytes lost in a gap after the 100 (flag gap kept)",
      EXPECT, CL(5000), .body = 3000, .missing = 2000, .interim = { 100 },
      .t_100 = AT(30), .body_first = AT(31), .body_last = AT(45), .status = 200,
      .final = AT(60), .at_final = 5000, .pre = XF_GAP, .want = "continue_ok",
      .want_flags = "gap" },

    /* no_wait, and its boundary with timeout_fallback */
    { .name = "no_wait: body in the header segment",
      EXPECT, CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(1), .status = 200, .final = AT(30), .at_final = 5000,
      .want = "no_wait" },
    { .name = "no_wait: body exactly --no-wait-ms (5 ms) after t_hdr",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(5), .body_last = AT(6),
      .status = 200, .final = AT(30), .at_final = 5000, .want = "no_wait" },
    { .name = "timeout_fallback: body 1 us past --no-wait-ms",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(5.001), .body_last = AT(6),
      .status = 200, .final = AT(30), .at_final = 5000, .want = "timeout_fallback" },
    { .name = "no_wait: body stamped 30 us before t_hdr (capture reordering)",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(-0.03), .body_last = AT(1),
      .status = 200, .final = AT(30), .at_final = 5000, .want = "no_wait" },
    { .name = "no_wait: the 100 came after the body began (flag late_100)",
      EXPECT, CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(3), .interim = { 100 }, .t_100 = AT(20), .at_100 = 5000,
      .status = 200, .final = AT(40), .at_final = 5000, .want = "no_wait",
      .want_flags = "late_100" },
    { .name = "no_wait: whole body lost in a gap, so no body timestamp (current behaviour)",
      EXPECT, CL(5000), .missing = 5000, .status = 200, .final = AT(1100),
      .at_final = 5000, .pre = XF_GAP, .want = "no_wait", .want_flags = "gap" },

    /* late_100 */
    { .name = "late_100: the client waited 350 ms, the 100 came at 400 ms",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(350), .body_last = AT(500),
      .interim = { 100 }, .t_100 = AT(400), .at_100 = 2920, .status = 200,
      .final = AT(600), .at_final = 5000, .want = "late_100", .want_flags = "late_100" },

    /* timeout_fallback */
    { .name = "timeout_fallback: curl's 1 s",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(1000), .body_last = AT(1010),
      .status = 200, .final = AT(1050), .at_final = 5000, .want = "timeout_fallback" },
    { .name = "timeout_fallback: .NET's 350 ms, no final answer yet",
      EXPECT, CL(5000), .body = 5000, .body_first = AT(350), .body_last = AT(360),
      .want = "timeout_fallback", .want_flags = "no_final" },
    { .name = "timeout_fallback: a 103 is not a 100",
      EXPECT, CL(5000), .body = 5000, .interim = { 103 }, .body_first = AT(1000),
      .status = 200, .final = AT(1050), .at_final = 5000, .want = "timeout_fallback" },

    /* early_final and body_after_final */
    { .name = "early_final: 401 before the body, the body given up for the next request",
      EXPECT, CL(5000), .status = 401, .final = AT(10), .abandoned = true,
      .want = "early_final" },
    { .name = "early_final: 413, then the server closes (flag server_closed kept)",
      EXPECT, CL(5000), .status = 413, .final = AT(10), .req_open = true,
      .pre = XF_SERVER_CLOSED, .want = "early_final", .want_flags = "server_closed" },
    { .name = "early_final: 100 then 303, no body",
      EXPECT, CL(5000), .interim = { 100 }, .t_100 = AT(5), .status = 303,
      .final = AT(8), .abandoned = true, .want = "early_final" },
    { .name = "body_after_final: 401 at 10 ms, the body anyway at 12 ms",
      EXPECT, CL(5000), .body = 5000, .status = 401, .final = AT(10),
      .body_first = AT(12), .body_last = AT(20), .want = "body_after_final" },
    { .name = "body_after_final beats continue_ok: 100, 401, then the body",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(5), .status = 401,
      .final = AT(8), .body_first = AT(10), .body_last = AT(20),
      .want = "body_after_final" },

    /* expectation_failed (the first row is also the 417 of test_flows()) */
    { .name = "expectation_failed: 417 before the body",
      EXPECT, CL(5000), .status = 417, .final = AT(10), .abandoned = true,
      .want = "expectation_failed" },
    { .name = "expectation_failed: 417 after a body sent without waiting",
      EXPECT, CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(2), .status = 417, .final = AT(20), .at_final = 5000,
      .want = "expectation_failed" },
    { .name = "expectation_failed: 417 to a request without Expect",
      CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0), .status = 417,
      .final = AT(20), .at_final = 5000, .want = "expectation_failed" },
    { .name = "expectation_failed beats expect_without_body: Content-Length 0, 417",
      EXPECT, CL(0), .status = 417, .final = AT(5), .want = "expectation_failed" },
    { .name = "expectation_failed beats http10_expect: HTTP/1.0, 417",
      EXPECT, .version = "1.0", CL(5000), .status = 417, .final = AT(5),
      .abandoned = true, .want = "expectation_failed" },

    /* unsupported_expectation */
    { .name = "unsupported_expectation beats expectation_failed: \"100-continue, foo\", 417",
      .expect = "100-continue, foo", CL(5000), .status = 417, .final = AT(10),
      .abandoned = true, .want = "unsupported_expectation" },
    { .name = "unsupported_expectation: \"200-ok\"",
      .expect = "200-ok", CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0),
      .status = 200, .final = AT(20), .at_final = 5000, .want = "unsupported_expectation" },
    { .name = "unsupported_expectation: \"100-continu\"",
      .expect = "100-continu", CL(5000), .body = 5000, .interim = { 100 },
      .t_100 = AT(30), .body_first = AT(31), .status = 200, .final = AT(60),
      .at_final = 5000, .want = "unsupported_expectation" },
    { .name = "unsupported_expectation: an empty Expect value",
      .method = "GET", .uri = "/", .expect = "", .status = 200, .final = AT(5),
      .want = "unsupported_expectation" },
    { .name = "unsupported_expectation beats expect_without_body and http10_expect",
      .version = "1.0", .expect = "foo", .status = 200, .final = AT(5),
      .want = "unsupported_expectation" },

    /* expect_without_body */
    { .name = "expect_without_body: no Content-Length",
      EXPECT, .status = 200, .final = AT(5), .want = "expect_without_body" },
    { .name = "expect_without_body: Content-Length 0, a 100 anyway",
      EXPECT, CL(0), .interim = { 100 }, .t_100 = AT(2), .status = 200, .final = AT(5),
      .want = "expect_without_body" },
    { .name = "expect_without_body beats http10_expect",
      EXPECT, .version = "1.0", CL(0), .status = 200, .final = AT(5),
      .want = "expect_without_body" },

    /* http10_expect */
    { .name = "http10_expect: HTTP/1.0 client, the server ignored Expect",
      EXPECT, .version = "1.0", CL(5000), .body = 5000, .hdr_seg = true,
      .body_first = AT(0), .status = 200, .final = AT(20), .at_final = 5000,
      .want = "http10_expect" },
    { .name = "http10_expect: a 100 to the HTTP/1.0 client (flag http10_1xx)",
      EXPECT, .version = "1.0", CL(5000), .body = 5000, .interim = { 100 },
      .t_100 = AT(3), .body_first = AT(4), .status = 200, .final = AT(20),
      .at_final = 5000, .want = "http10_expect", .want_flags = "http10_1xx" },

    /* incomplete */
    { .name = "incomplete: the headers, then the capture ends",
      EXPECT, CL(5000), .req_open = true, .want = "incomplete", .want_flags = "no_final" },
    { .name = "incomplete: a 100 came, the body never did",
      EXPECT, CL(5000), .interim = { 100 }, .t_100 = AT(3), .req_open = true,
      .want = "incomplete", .want_flags = "no_final" },
    { .name = "incomplete: an upload written unanswered when a pending cap bit",
      EXPECT, CL(5000), .req_open = true, .pre = XF_ABANDONED_AT_CAP,
      .want = "incomplete", .want_flags = "no_final,abandoned_at_cap" },
    { .name = "incomplete: a request that found a pending cap full, nothing of it parsed",
      .method = "", .req_open = true, .pre = XF_ABANDONED_AT_CAP,
      .want = "incomplete", .want_flags = "no_final,abandoned_at_cap" },

    /* unsolicited_100 */
    { .name = "unsolicited_100: a 100 without Expect",
      CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(2), .body_first = AT(3),
      .status = 200, .final = AT(20), .at_final = 5000, .want = "unsolicited_100" },
    { .name = "unsolicited_100: a 100 after the body without Expect is not late_100",
      CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0), .interim = { 100 },
      .t_100 = AT(5), .at_100 = 5000, .status = 200, .final = AT(20), .at_final = 5000,
      .want = "unsolicited_100" },
    /* orphan responses: no request, no verdict ("none", NULL in the database) */
    { .name = "orphan: a 100 and a 200 whose request the capture lost (gap)",
      .lost_request = true, .interim = { 100 }, .t_100 = AT(1), .status = 200,
      .final = AT(2), .pre = XF_GAP, .want = "none", .want_flags = "gap,orphan_response" },
    { .name = "orphan: HTTP/1.0, no final: no http10_1xx, no no_final",
      .lost_request = true, .version = "1.0", .interim = { 100 }, .t_100 = AT(1),
      .pre = XF_GAP, .want = "none", .want_flags = "gap,orphan_response" },
    { .name = "orphan: a 417 without request is not expectation_failed",
      .lost_request = true, .status = 417, .final = AT(1), .want = "none",
      .want_flags = "orphan_response" },

    /* plain (the first row is also test_flows()' plain exchange) */
    { .name = "plain: GET",
      .method = "GET", .uri = "/", .status = 200, .final = AT(5), .want = "plain" },
    { .name = "plain: POST with a body",
      CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0), .status = 200,
      .final = AT(20), .at_final = 5000, .want = "plain" },
    { .name = "plain: a 103 Early Hints is not a 100",
      .method = "GET", .uri = "/", .interim = { 103 }, .status = 200, .final = AT(5),
      .want = "plain" },
    { .name = "orphan: a server's 400 to a client that sent nothing is not plain",
      .lost_request = true, .status = 400, .final = AT(1), .want = "none",
      .want_flags = "orphan_response" },

    /* flags the engine computes */
    { .name = "multiple_1xx: 103 then 100",
      EXPECT, CL(5000), .body = 5000, .interim = { 103, 100 }, .t_100 = AT(10),
      .body_first = AT(11), .status = 200, .final = AT(30), .at_final = 5000,
      .want = "continue_ok", .want_flags = "multiple_1xx" },
    { .name = "multiple_1xx: two 100s",
      EXPECT, CL(5000), .body = 5000, .interim = { 100, 100 }, .t_100 = AT(10),
      .body_first = AT(11), .status = 200, .final = AT(30), .at_final = 5000,
      .want = "continue_ok", .want_flags = "multiple_1xx" },
    { .name = "multiple_1xx: two 103s, no Expect",
      .method = "GET", .uri = "/", .interim = { 103, 103 }, .status = 200, .final = AT(5),
      .want = "plain", .want_flags = "multiple_1xx" },
    { .name = "http10_1xx: a 103 to an HTTP/1.0 GET",
      .method = "GET", .uri = "/", .version = "1.0", .interim = { 103 }, .status = 200,
      .final = AT(5), .want = "plain", .want_flags = "http10_1xx" },
    { .name = "http10_1xx: a 100 to an HTTP/1.0 request without Expect",
      .version = "1.0", CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(2),
      .body_first = AT(3), .status = 200, .final = AT(20), .at_final = 5000,
      .want = "unsolicited_100", .want_flags = "http10_1xx" },
    { .name = "no_final: a GET without an answer",
      .method = "GET", .uri = "/", .want = "plain", .want_flags = "no_final" },
    { .name = "partial_body: chunked body cut off by a reset (request not complete)",
      .chunked = true, .body = 3000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(40), .req_open = true, .pre = XF_CONN_RESET, .want = "plain",
      .want_flags = "no_final,partial_body,conn_reset" },
    { .name = "partial_body: request closed by a gap after 3000 of 5000 bytes",
      CL(5000), .body = 3000, .hdr_seg = true, .body_first = AT(0), .body_last = AT(10),
      .status = 200, .final = AT(30), .at_final = 3000, .pre = XF_GAP, .want = "plain",
      .want_flags = "partial_body,gap" },
    { .name = "partial_body: Expect, the server closed mid-body after a 413",
      EXPECT, CL(5000), .body = 2000, .body_first = AT(1000), .body_last = AT(1004),
      .status = 413, .final = AT(1005), .at_final = 2000, .req_open = true,
      .pre = XF_SERVER_CLOSED, .want = "timeout_fallback",
      .want_flags = "partial_body,server_closed" },
    { .name = "no partial_body: bytes lost in a gap count as sent",
      CL(5000), .body = 3000, .missing = 2000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(10), .status = 200, .final = AT(30), .at_final = 5000,
      .pre = XF_GAP, .want = "plain", .want_flags = "gap" },
    { .name = "no partial_body: no body byte before a reset (current behaviour)",
      CL(5000), .req_open = true, .pre = XF_CONN_RESET, .want = "plain",
      .want_flags = "no_final,conn_reset" },
    { .name = "body_stall: a 1000 ms pause is not longer than --stall-ms",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30),
      .body_first = AT(31), .body_last = AT(1100), .pause_ms = 1000, .status = 200,
      .final = AT(1200), .at_final = 5000, .want = "continue_ok" },
    { .name = "body_stall: a 1000.001 ms pause",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30),
      .body_first = AT(31), .body_last = AT(1100), .pause_ms = 1000.001, .status = 200,
      .final = AT(1200), .at_final = 5000, .want = "continue_ok",
      .want_flags = "body_stall" },
    { .name = "via_proxy: a Via header",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30),
      .body_first = AT(31), .status = 200, .final = AT(60), .at_final = 5000,
      .via = "1.1 squid", .want = "continue_ok", .want_flags = "via_proxy" },
    { .name = "every flag the engine computes for one exchange at once",
      EXPECT, .chunked = true, .body = 3000, .hdr_seg = true, .body_first = AT(0),
      .body_last = AT(1500), .pause_ms = 1200, .interim = { 103, 100 }, .t_100 = AT(20),
      .at_100 = 1000, .via = "1.1 proxy", .req_open = true, .pre = XF_CONN_RESET,
      .want = "no_wait",
      .want_flags = "late_100,multiple_1xx,no_final,partial_body,body_stall,conn_reset,"
                    "via_proxy" },

    /* flags the dissector sets: passed through unchanged */
    { .name = "dissector flags pass through",
      .method = "GET", .uri = "/", .status = 200, .final = AT(5),
      .pre = XF_CONN_RESET | XF_SERVER_CLOSED | XF_GAP | XF_RESYNC | XF_PIPELINED |
             XF_HEADERS_TRUNCATED,
      .want = "plain",
      .want_flags = "conn_reset,server_closed,gap,resync,pipelined,headers_truncated" },
    { .name = "pipelined",
      .method = "GET", .uri = "/b", .status = 200, .final = AT(5), .pre = XF_PIPELINED,
      .want = "plain", .want_flags = "pipelined" },
    { .name = "resync and headers_truncated on an Expect request",
      EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30),
      .body_first = AT(31), .status = 200, .final = AT(60), .at_final = 5000,
      .pre = XF_RESYNC | XF_HEADERS_TRUNCATED, .want = "continue_ok",
      .want_flags = "resync,headers_truncated" },
    { .name = "expect_unknown: \"100-con\" cut by lost bytes is no unsupported "
              "expectation; the body was not followed: incomplete",
      .expect = "100-con", .interim = { 100 }, .t_100 = AT(30), .status = 200,
      .final = AT(60), .pre = XF_EXPECT_UNKNOWN | XF_GAP, .want = "incomplete",
      .want_flags = "gap,expect_unknown" },
    { .name = "expect_unknown: a cut \"foo\" is incomplete, not unsupported",
      .expect = "foo", CL(10), .status = 200, .final = AT(60),
      .pre = XF_EXPECT_UNKNOWN, .want = "incomplete", .want_flags = "expect_unknown" },
    { .name = "expect_unknown: a cut value answered 417 is expectation_failed",
      .expect = "fo", CL(10), .status = 417, .final = AT(60),
      .pre = XF_EXPECT_UNKNOWN, .want = "expectation_failed",
      .want_flags = "expect_unknown" },
    { .name = "expect_unknown: an empty cut value with no body declared is no "
              "expect_without_body",
      .expect = "", .status = 200, .final = AT(60),
      .pre = XF_EXPECT_UNKNOWN, .want = "incomplete", .want_flags = "expect_unknown" },
    { .name = "flags already set are never cleared",
      .method = "GET", .uri = "/", .status = 200, .final = AT(5),
      .pre = (1u << XF_COUNT_BITS) - 1, .want = "plain",
      .want_flags = "late_100,multiple_1xx,http10_1xx,no_final,partial_body,body_stall,"
                    "conn_reset,server_closed,duplicate_body,via_proxy,gap,resync,"
                    "pipelined,headers_truncated,orphan_response,one_sided,retry_failed,"
                    "abandoned_at_cap,cl_and_chunked,conflicting_length,"
                    "content_length_overflow,expect_unknown" },
};

/* The same exchange under cfg_a (the defaults: c.want) and cfg_b (want_b). */
struct threshold_case {
    struct xcase c;
    const char *want_b, *flags_b;
};

#define BODY_AT(ms) EXPECT, CL(5000), .body = 5000, .body_first = AT(ms), .status = 200, \
                    .final = AT(2000), .at_final = 5000
#define PAUSE(ms) EXPECT, CL(5000), .body = 5000, .interim = { 100 }, .t_100 = AT(30), \
                  .body_first = AT(31), .body_last = AT(1500), .pause_ms = (ms),      \
                  .status = 200, .final = AT(1600), .at_final = 5000

static const struct threshold_case thresholds[] = {
    { { .name = "body at 4 ms", BODY_AT(4), .want = "no_wait" }, "no_wait", NULL },
    { { .name = "body at 20 ms", BODY_AT(20), .want = "timeout_fallback" }, "no_wait", NULL },
    { { .name = "body at 50 ms", BODY_AT(50), .want = "timeout_fallback" }, "no_wait", NULL },
    { { .name = "body at 50.001 ms", BODY_AT(50.001), .want = "timeout_fallback" },
      "timeout_fallback", NULL },
    { { .name = "body at 40 ms, 100 at 60 ms",
        EXPECT, CL(5000), .body = 5000, .body_first = AT(40), .body_last = AT(70),
        .interim = { 100 }, .t_100 = AT(60), .at_100 = 3000, .status = 200, .final = AT(90),
        .at_final = 5000, .want = "late_100", .want_flags = "late_100" },
      "no_wait", "late_100" },
    { { .name = "a 250 ms pause", PAUSE(250), .want = "continue_ok" }, "continue_ok", NULL },
    { { .name = "a 250.001 ms pause", PAUSE(250.001), .want = "continue_ok" },
      "continue_ok", "body_stall" },
    { { .name = "a 1000.001 ms pause", PAUSE(1000.001), .want = "continue_ok",
        .want_flags = "body_stall" },
      "continue_ok", "body_stall" },
};

/* DESIGN.md's flow order, most severe first, spelled as DESIGN.md spells it. */
static const char *const flow_order[] = {
    "expectation_failed", "unsupported_expectation", "body_after_final",
    "timeout_fallback", "late_100", "no_wait", "retry_after_417", "expect_without_body",
    "http10_expect", "incomplete", "early_final", "unsolicited_100", "continue_ok", "plain",
};

/* ---- helpers ------------------------------------------------------------------------ */

static struct exchange xb; /* every row is built here; exchange_reset() keeps its buffers */

/* What the runs produced, for the coverage check at the end. */
static uint64_t seen_verdict[V_COUNT];
static uint32_t flags_added; /* flags the engine set */
static uint32_t flags_kept;  /* flags the dissector had set that came back */

static char label[512]; /* check_case() keeps the pointer: one label at a time */

static void name_case(const char *fmt_prefix, const char *name)
{
    snprintf(label, sizeof label, "%s%s", fmt_prefix, name);
    check_case(label);
}

static enum verdict by_name(const char *name)
{
    for (int v = 0; v < V_COUNT; v++)
        if (strcmp(verdict_name((enum verdict)v), name) == 0)
            return (enum verdict)v;
    return V_COUNT;
}

/* Position in DESIGN.md's flow order; "none" (no HTTP) after every verdict. */
static size_t design_rank(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(flow_order); i++)
        if (strcmp(flow_order[i], name) == 0)
            return i;
    return ARRAY_LEN(flow_order);
}

static const char *design_worse(const char *a, const char *b)
{
    return design_rank(a) <= design_rank(b) ? a : b;
}

static uint64_t ms_to_us(double ms)
{
    return (uint64_t)(ms * 1000.0 + 0.5);
}

static uint64_t at_us(uint64_t t_hdr_us, struct at a)
{
    if (!a.seen)
        return 0;
    double us = a.ms * 1000.0;
    int64_t d = (int64_t)(us < 0 ? us - 0.5 : us + 0.5);
    return (uint64_t)((int64_t)t_hdr_us + d);
}

static void text(struct exchange *x, enum xfield f, const char *s)
{
    bool stored = sbuf_add(&x->s[f], s, strlen(s));
    if (!stored)
        CHECK(stored); /* counted only when it fails: rows are built thousands of times */
}

/* The exchange the dissector would hand over for row c, its first byte at start_us. */
static void build(struct exchange *x, const struct xcase *c, uint64_t start_us, uint64_t id)
{
    exchange_reset(x);
    x->id = id;
    x->has_request = !c->lost_request;
    if (x->has_request) {
        text(x, XS_METHOD, c->method ? c->method : "POST");
        text(x, XS_URI, c->uri ? c->uri : "/upload");
        text(x, XS_HOST, c->host ? c->host : "upload.example");
    }
    const char *ver = c->version ? c->version : "1.1";
    x->http_major = (uint8_t)(ver[0] - '0');
    x->http_minor = (uint8_t)(ver[2] - '0');
    if (c->expect) {
        x->has_expect = true;
        text(x, XS_EXPECT, c->expect);
    }
    x->has_content_length = c->has_cl;
    x->content_length = c->cl;
    x->chunked = c->chunked;
    x->body_declared = c->chunked || c->cl > 0;
    x->body_bytes = c->body;
    x->body_missing = c->missing;
    if (c->via)
        text(x, XS_VIA, c->via);

    uint32_t n = 0;
    while (n < ARRAY_LEN(c->interim) && c->interim[n]) {
        x->interim[n] = c->interim[n];
        n++;
    }
    x->n_interim = n;
    x->status = c->status;
    if (c->status || n) {
        x->resp_major = 1;
        x->resp_minor = 1;
    }

    x->t_start_us = start_us;
    x->t_hdr_us = start_us + HDR_US;
    x->t_body_first_us = at_us(x->t_hdr_us, c->body_first);
    x->t_body_last_us = c->body_last.seen ? at_us(x->t_hdr_us, c->body_last)
                                          : x->t_body_first_us;
    x->t_100_us = at_us(x->t_hdr_us, c->t_100);
    x->t_final_us = at_us(x->t_hdr_us, c->final);
    x->t_end_us = x->t_hdr_us;
    const uint64_t ends[] = { x->t_body_last_us, x->t_100_us, x->t_final_us };
    for (size_t i = 0; i < ARRAY_LEN(ends); i++)
        if (ends[i] > x->t_end_us)
            x->t_end_us = ends[i];
    x->max_body_pause_us = ms_to_us(c->pause_ms);
    x->body_at_100 = c->at_100;
    x->body_at_final = c->at_final;
    x->body_in_header_segment = c->hdr_seg;

    x->req_complete = !c->req_open;
    x->resp_complete = c->status && !c->resp_open;
    x->body_abandoned = c->abandoned;
    x->flags = c->pre;
}

/* A row must describe something the dissector can hand over; a wrong row would test
 * nothing. */
static void check_row(const struct xcase *c)
{
    bool has_100 = false;
    for (size_t i = 0; i < ARRAY_LEN(c->interim) && c->interim[i]; i++)
        has_100 |= c->interim[i] == 100;
    CHECK(has_100 == c->t_100.seen);
    CHECK((c->status != 0) == c->final.seen);
    CHECK((c->body > 0) == c->body_first.seen); /* bytes lost in gaps carry no time */
    CHECK(c->at_100 <= c->body + c->missing);
    CHECK(c->at_final <= c->body + c->missing);
    if (c->t_100.seen && c->body_first.seen && c->t_100.ms < c->body_first.ms)
        CHECK_EQ(c->at_100, 0);
    if (c->t_100.seen && c->body_first.seen && c->t_100.ms > c->body_first.ms)
        CHECK(c->at_100 > 0);
    if (c->final.seen && c->body_first.seen && c->final.ms < c->body_first.ms)
        CHECK_EQ(c->at_final, 0);
    if (c->final.seen && c->body_first.seen && c->final.ms > c->body_first.ms)
        CHECK(c->at_final > 0);
    CHECK(c->want != NULL && by_name(c->want) != V_COUNT);
}

/* Build row c, judge it on flow f, check verdict, flags and retry_of. */
static enum verdict judge(struct verdict_engine *v, const struct flow *f,
                          const struct xcase *c, uint64_t start_us, uint64_t id,
                          const char *want, const char *want_flags, uint64_t want_retry_of)
{
    char flags[512];
    build(&xb, c, start_us, id);
    verdict_judge(v, f, &xb);
    flags_str(xb.flags, flags, sizeof flags);
    CHECK_STR(verdict_name(xb.verdict), want);
    CHECK_STR(flags, want_flags ? want_flags : "");
    CHECK_EQ(xb.retry_of, want_retry_of);
    seen_verdict[xb.verdict]++;
    flags_added |= xb.flags & ~c->pre;
    flags_kept |= xb.flags & c->pre;
    return xb.verdict;
}

/* An IPv4 or IPv6 connection, client -> server. */
struct ep {
    uint8_t family;
    uint8_t cli[16];
    uint16_t cport;
    uint8_t srv[16];
    uint16_t sport;
    uint8_t client_ep; /* which key endpoint is the client */
};

static void mkflow(struct flow *f, const struct ep *e, uint32_t slot, uint64_t id)
{
    memset(f, 0, sizeof *f);
    f->key.family = e->family;
    memcpy(f->key.addr[e->client_ep], e->cli, sizeof e->cli);
    memcpy(f->key.addr[!e->client_ep], e->srv, sizeof e->srv);
    f->key.port[e->client_ep] = e->cport;
    f->key.port[!e->client_ep] = e->sport;
    f->client_ep = e->client_ep;
    f->slot = slot;
    f->id = id;
}

static const struct ep ep_main = { 4, { 10, 0, 0, 1 }, 40000, { 10, 0, 0, 2 }, 80, 0 };

/* ---- one exchange per row ----------------------------------------------------------- */

struct expectation {
    const struct xcase *row;
    const char *want, *flags;
};

/* Each row on its own flow (slot i), 100 s apart so that no 417 links to a later row.
 * Then the stats and every flow's verdict. */
static void run_table(const char *prefix, const struct verdict_config *cfg,
                      const struct expectation *e, size_t n)
{
    struct verdict_engine *v = verdict_new(cfg, (uint32_t)n);
    CHECK(v != NULL);
    if (!v)
        return;
    uint64_t want_count[V_COUNT] = { 0 };
    struct flow f;
    for (size_t i = 0; i < n; i++) {
        name_case(prefix, e[i].row->name);
        check_row(e[i].row);
        mkflow(&f, &ep_main, (uint32_t)i, i + 1);
        judge(v, &f, e[i].row, BASE_US + i * SPACING_US, i + 1, e[i].want, e[i].flags, 0);
        enum verdict w = by_name(e[i].want);
        if (w < V_COUNT)
            want_count[w]++;
    }
    name_case(prefix, "stats");
    const struct verdict_stats *st = verdict_stats(v);
    for (int k = 0; k < V_COUNT; k++)
        CHECK_EQ(st->by_verdict[k], want_count[k]);
    CHECK_EQ(st->retries_linked, 0);
    CHECK_EQ(st->index_replaced, 0);
    for (size_t i = 0; i < n; i++) {
        name_case(prefix, e[i].row->name);
        mkflow(&f, &ep_main, (uint32_t)i, i + 1);
        struct flow_verdict fv = verdict_flow_done(v, &f);
        CHECK_EQ(fv.exchanges, 1);
        CHECK_STR(verdict_name(fv.verdict), e[i].want);
    }
    verdict_free(v);
}

static void test_cases(void)
{
    static struct expectation e[ARRAY_LEN(cases)];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        e[i] = (struct expectation){ &cases[i], cases[i].want, cases[i].want_flags };
    run_table("", &cfg_a, e, ARRAY_LEN(cases));
}

static void test_thresholds(void)
{
    check_case("the defaults the rows are written for");
    CHECK_EQ(VERDICT_DEFAULT_NO_WAIT_US, 5000);
    CHECK_EQ(VERDICT_DEFAULT_RETRY_WINDOW_US, 30000000);
    CHECK_EQ(VERDICT_DEFAULT_STALL_US, 1000000);

    static struct expectation e[ARRAY_LEN(thresholds)];
    for (size_t i = 0; i < ARRAY_LEN(thresholds); i++)
        e[i] = (struct expectation){ &thresholds[i].c, thresholds[i].c.want,
                                     thresholds[i].c.want_flags };
    run_table("defaults: ", &cfg_a, e, ARRAY_LEN(thresholds));
    for (size_t i = 0; i < ARRAY_LEN(thresholds); i++)
        e[i] = (struct expectation){ &thresholds[i].c, thresholds[i].want_b,
                                     thresholds[i].flags_b };
    run_table("no-wait 50 ms, stall 250 ms: ", &cfg_b, e, ARRAY_LEN(thresholds));
}

/* ---- sequences: retry_after_417 ----------------------------------------------------- */

/* The sequences' connections. All but F_CLIIP and F_SRVIP share client IP 10.0.0.1 and
 * server 10.0.0.2:80; F_NEWCONN lists the server first in its key. */
enum { F_A, F_NEWCONN, F_PORT, F_SRVIP, F_CLIIP, F_V6A, F_V6B, N_SEQ_FLOWS };

static const struct ep seq_eps[N_SEQ_FLOWS] = {
    [F_A] = { 4, { 10, 0, 0, 1 }, 40000, { 10, 0, 0, 2 }, 80, 0 },
    [F_NEWCONN] = { 4, { 10, 0, 0, 1 }, 40001, { 10, 0, 0, 2 }, 80, 1 },
    [F_PORT] = { 4, { 10, 0, 0, 1 }, 40002, { 10, 0, 0, 2 }, 8080, 0 },
    [F_SRVIP] = { 4, { 10, 0, 0, 1 }, 40003, { 10, 0, 0, 3 }, 80, 0 },
    [F_CLIIP] = { 4, { 10, 0, 0, 9 }, 40000, { 10, 0, 0, 2 }, 80, 1 },
    [F_V6A] = { 6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, 50000,
                { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }, 443, 0 },
    [F_V6B] = { 6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, 50001,
                { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }, 443, 1 },
};

/* A step starting at 0 gets its 417 at T417 ms: t_hdr is 1 ms after the first byte,
 * the 417 20 ms after t_hdr. The retry window and the reordering slack count from it. */
#define T417 21.0
#define UP_417 EXPECT, CL(1000), .status = 417, .final = AT(20)
#define UP_417_SENT EXPECT, CL(1000), .body = 1000, .hdr_seg = true, .body_first = AT(0), \
                    .status = 417, .final = AT(20), .at_final = 1000
#define UP_AGAIN CL(1000), .body = 1000, .hdr_seg = true, .body_first = AT(0), \
                 .status = 200, .final = AT(30), .at_final = 1000
/* a retry of n body bytes sent at once, answered st */
#define UP_RETRY(n, st) CL(n), .body = (n), .hdr_seg = true, .body_first = AT(0), \
                        .status = (st), .final = AT(30), .at_final = (n)

struct step {
    int on;         /* the connection, F_* */
    double at;      /* the request's first byte, ms from the sequence's start */
    int retry_of;   /* the step (1-based) whose 417 this one repeats; 0: not a retry */
    struct xcase x; /* the exchange with its expected verdict and flags */
};

struct sequence {
    const char *name;
    const struct verdict_config *cfg; /* NULL: cfg_a */
    struct step steps[8];             /* up to the first without x.want */
};

static const struct sequence sequences[] = {
    { "a retry on a new connection; the 417 is consumed", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 1000, 1, { UP_AGAIN, .want = "retry_after_417" } },
        { F_NEWCONN, 2000, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "a retry on the same connection, with Expect again, 417'd again: retry_failed", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_A, T417 + 1, 1, { UP_417_SENT, .want = "retry_after_417",
                              .want_flags = "retry_failed" } },
    } },
    { "duplicate_body: the 417'd attempt had sent its body", NULL, {
        { F_A, 0, 0, { UP_417_SENT, .want = "expectation_failed" } },
        { F_NEWCONN, 500, 1, { UP_AGAIN, .want = "retry_after_417",
                               .want_flags = "duplicate_body" } },
    } },
    { "no duplicate_body when the retry carries no body", NULL, {
        { F_A, 0, 0, { UP_417_SENT, .want = "expectation_failed" } },
        { F_NEWCONN, 500, 1, { EXPECT, CL(1000), .status = 200, .final = AT(5),
                               .want = "retry_after_417" } },
    } },
    { "duplicate_body: a body lost in a gap was sent too", NULL, {
        { F_A, 0, 0, { EXPECT, CL(1000), .missing = 1000, .status = 417, .final = AT(20),
                       .at_final = 1000, .pre = XF_GAP, .want = "expectation_failed",
                       .want_flags = "gap" } },
        { F_NEWCONN, 500, 1, { UP_AGAIN, .want = "retry_after_417",
                               .want_flags = "duplicate_body" } },
    } },
    { "a repeat exactly --retry-window after the 417 is a retry", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 + 30000, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "a repeat 1 us past --retry-window is not", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 + 30000.001, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, T417 + 30001, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "another URI, method, server port, server IP or client IP is not a retry", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 0, { UP_AGAIN, .uri = "/upload2", .want = "plain" } },
        { F_NEWCONN, 200, 0, { UP_AGAIN, .method = "PUT", .want = "plain" } },
        { F_PORT, 300, 0, { UP_AGAIN, .want = "plain" } },
        { F_SRVIP, 400, 0, { UP_AGAIN, .want = "plain" } },
        { F_CLIIP, 500, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, 600, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "capture reordering: a repeat 10 ms before the 417 is a retry", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 - 10, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "a repeat 10.001 ms before the 417 is not", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 - 10.001, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "a repeat long before the 417 is not a retry and leaves the 417 in place", NULL, {
        { F_A, 60000, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 0, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, 61000, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "a retry answered 417 again is remembered in turn", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 1000, 1, { UP_417, .want = "retry_after_417",
                                .want_flags = "retry_failed" } },
        { F_A, 2000, 2, { UP_AGAIN, .want = "retry_after_417" } },
        { F_A, 3000, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "an unsupported expectation answered 417, retried without Expect", NULL, {
        { F_A, 0, 0, { .expect = "200-ok", CL(1000), .status = 417, .final = AT(20),
                       .want = "unsupported_expectation" } },
        { F_NEWCONN, 1000, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "a 417 whose request was lost is not remembered", NULL, {
        { F_A, 0, 0, { .lost_request = true, .status = 417, .final = AT(20),
                       .want = "none", .want_flags = "orphan_response" } },
        { F_NEWCONN, 1000, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "two 417s, retried in the other order", NULL, {
        { F_A, 0, 0, { UP_417, .uri = "/a", .want = "expectation_failed" } },
        { F_NEWCONN, 100, 0, { UP_417, .uri = "/b", .want = "expectation_failed" } },
        { F_NEWCONN, 1000, 2, { UP_AGAIN, .uri = "/b", .want = "retry_after_417" } },
        { F_A, 1100, 1, { UP_AGAIN, .uri = "/a", .want = "retry_after_417" } },
    } },
    { "IPv6: a retry on a new connection", NULL, {
        { F_V6A, 0, 0, { UP_417_SENT, .want = "expectation_failed" } },
        { F_V6B, 1000, 1, { UP_AGAIN, .want = "retry_after_417",
                            .want_flags = "duplicate_body" } },
        { F_A, 1500, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "NAT: two clients behind one address upload to /upload; lengths tell them apart",
      NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 0, { UP_RETRY(2000, 200), .want = "plain" } },
        { F_CLIIP, 150, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, 200, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "a shared path on another Host is not a retry; the Host compares case-blind", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 0, { UP_AGAIN, .host = "other.example", .want = "plain" } },
        { F_NEWCONN, 200, 1, { UP_AGAIN, .host = "Upload.EXAMPLE",
                               .want = "retry_after_417" } },
    } },
    { "chunked and chunked is the same length; chunked and Content-Length is not", NULL, {
        { F_A, 0, 0, { EXPECT, .chunked = true, .status = 417, .final = AT(20),
                       .want = "expectation_failed" } },
        { F_NEWCONN, 100, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, 200, 1, { .chunked = true, .body = 1000, .hdr_seg = true,
                               .body_first = AT(0), .status = 200, .final = AT(30),
                               .at_final = 1000, .want = "retry_after_417" } },
    } },
    { "two retries after one 417: only the first links, the 417 is used up", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 1, { UP_AGAIN, .want = "retry_after_417" } },
        { F_PORT, 150, 0, { UP_AGAIN, .want = "plain" } },
        { F_NEWCONN, 200, 0, { UP_AGAIN, .want = "plain" } },
    } },
    { "a retry answered 401 keeps its failure visible: retry_failed", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 1, { UP_RETRY(1000, 401), .want = "retry_after_417",
                               .want_flags = "retry_failed" } },
    } },
    { "a retry answered 500, and one with no answer at all: retry_failed", NULL, {
        { F_A, 0, 0, { UP_417, .uri = "/a", .want = "expectation_failed" } },
        { F_A, 50, 0, { UP_417, .uri = "/b", .want = "expectation_failed" } },
        { F_NEWCONN, 100, 1, { UP_RETRY(1000, 500), .uri = "/a",
                               .want = "retry_after_417", .want_flags = "retry_failed" } },
        { F_NEWCONN, 200, 2, { CL(1000), .body = 1000, .hdr_seg = true, .body_first = AT(0),
                               .uri = "/b", .want = "retry_after_417",
                               .want_flags = "no_final,retry_failed" } },
    } },
    { "a retry answered 3xx is not a failure", NULL, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, 100, 1, { UP_RETRY(1000, 303), .want = "retry_after_417" } },
    } },
    { "--retry-window 2: a repeat 2 s after the 417 is a retry", &cfg_b, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 + 2000, 1, { UP_AGAIN, .want = "retry_after_417" } },
    } },
    { "--retry-window 2: a repeat 2.000001 s after the 417 is not", &cfg_b, {
        { F_A, 0, 0, { UP_417, .want = "expectation_failed" } },
        { F_NEWCONN, T417 + 2000.001, 0, { UP_AGAIN, .want = "plain" } },
    } },
};

enum { STEP_ID0 = 100 }; /* step k (1-based) is exchange STEP_ID0 + k */

static void run_sequence(const struct sequence *s)
{
    struct verdict_engine *v = verdict_new(s->cfg ? s->cfg : &cfg_a, N_SEQ_FLOWS);
    CHECK(v != NULL);
    if (!v)
        return;
    struct flow f[N_SEQ_FLOWS];
    for (int i = 0; i < N_SEQ_FLOWS; i++)
        mkflow(&f[i], &seq_eps[i], (uint32_t)i, (uint64_t)i + 1);
    uint64_t want_count[V_COUNT] = { 0 }, want_retries = 0;
    uint32_t want_n[N_SEQ_FLOWS] = { 0 };
    const char *want_v[N_SEQ_FLOWS];
    for (int i = 0; i < N_SEQ_FLOWS; i++)
        want_v[i] = "none";

    for (size_t k = 0; k < ARRAY_LEN(s->steps) && s->steps[k].x.want; k++) {
        const struct step *st = &s->steps[k];
        snprintf(label, sizeof label, "%s, step %zu", s->name, k + 1);
        check_case(label);
        check_row(&st->x);
        judge(v, &f[st->on], &st->x, BASE_US + ms_to_us(st->at), STEP_ID0 + k + 1,
              st->x.want, st->x.want_flags,
              st->retry_of ? (uint64_t)(STEP_ID0 + st->retry_of) : 0);
        enum verdict w = by_name(st->x.want);
        if (w < V_COUNT)
            want_count[w]++;
        want_retries += st->retry_of != 0;
        want_n[st->on]++;
        want_v[st->on] = design_worse(want_v[st->on], st->x.want);
    }

    snprintf(label, sizeof label, "%s, stats and flows", s->name);
    check_case(label);
    const struct verdict_stats *vs = verdict_stats(v);
    for (int k = 0; k < V_COUNT; k++)
        CHECK_EQ(vs->by_verdict[k], want_count[k]);
    CHECK_EQ(vs->retries_linked, want_retries);
    CHECK_EQ(vs->index_replaced, 0);
    for (int i = 0; i < N_SEQ_FLOWS; i++) {
        struct flow_verdict fv = verdict_flow_done(v, &f[i]);
        CHECK_EQ(fv.exchanges, want_n[i]);
        CHECK_STR(verdict_name(fv.verdict), want_v[i]);
    }
    verdict_free(v);
}

static void test_sequences(void)
{
    for (size_t i = 0; i < ARRAY_LEN(sequences); i++)
        run_sequence(&sequences[i]);
}

/* The recent-417 index is bounded: more 417s than it holds, all within the window,
 * push some out (counted); the newest still links its retry. */
static void test_index_bound(void)
{
    check_case("more 417s than VERDICT_MAX_417");
    struct verdict_engine *v = verdict_new(&cfg_a, 1);
    CHECK(v != NULL);
    if (!v)
        return;
    struct flow f;
    mkflow(&f, &ep_main, 0, 1);
    enum { N = VERDICT_MAX_417 + 1000 };
    char uri[32];
    struct xcase c = { UP_417, .want = "expectation_failed" };
    bool all_ok = true;
    for (uint64_t i = 0; i < N; i++) {
        snprintf(uri, sizeof uri, "/f/%llu", (unsigned long long)i);
        c.uri = uri;
        build(&xb, &c, BASE_US + i * 1000, i + 1);
        verdict_judge(v, &f, &xb);
        all_ok &= xb.verdict == V_EXPECTATION_FAILED && xb.retry_of == 0;
    }
    CHECK(all_ok);
    const struct verdict_stats *st = verdict_stats(v);
    CHECK(st->index_replaced >= N - VERDICT_MAX_417);
    struct xcase again = { UP_AGAIN, .uri = uri, .want = "retry_after_417" };
    judge(v, &f, &again, BASE_US + N * 1000 + 1000000, N + 1, "retry_after_417", NULL, N);
    CHECK_EQ(st->by_verdict[V_EXPECTATION_FAILED], N);
    CHECK_EQ(st->by_verdict[V_RETRY_AFTER_417], 1);
    CHECK_EQ(st->retries_linked, 1);
    struct flow_verdict fv = verdict_flow_done(v, &f);
    CHECK_EQ(fv.exchanges, N + 1);
    CHECK_STR(verdict_name(fv.verdict), "expectation_failed");
    verdict_free(v);
}

/* ---- flow verdicts ------------------------------------------------------------------ */

struct flow_recipe {
    const char *name;
    const char *feed[16]; /* the verdicts of its exchanges, in order */
    const char *want;     /* verdict_flow_done(); "none": no HTTP */
};

static const struct flow_recipe recipes[] = {
    { "continue_ok + timeout_fallback", { "continue_ok", "timeout_fallback" },
      "timeout_fallback" },
    { "retry_after_417 + no_wait", { "retry_after_417", "no_wait" }, "no_wait" },
    { "no_wait + retry_after_417", { "no_wait", "retry_after_417" }, "no_wait" },
    { "retry_after_417 + continue_ok", { "retry_after_417", "continue_ok" },
      "retry_after_417" },
    { "plain + unsolicited_100 + continue_ok", { "plain", "unsolicited_100", "continue_ok" },
      "unsolicited_100" },
    { "early_final + incomplete", { "early_final", "incomplete" }, "incomplete" },
    { "http10_expect + expect_without_body", { "http10_expect", "expect_without_body" },
      "expect_without_body" },
    { "no_wait + late_100 + continue_ok", { "no_wait", "late_100", "continue_ok" },
      "late_100" },
    { "body_after_final + unsupported_expectation",
      { "body_after_final", "unsupported_expectation" }, "unsupported_expectation" },
    { "three plain", { "plain", "plain", "plain" }, "plain" },
    { "no HTTP", { NULL }, "none" },
    { "every verdict, expectation_failed first",
      { "expectation_failed", "unsupported_expectation", "body_after_final",
        "timeout_fallback", "late_100", "no_wait", "retry_after_417",
        "expect_without_body", "http10_expect", "incomplete", "early_final",
        "unsolicited_100", "continue_ok", "plain" },
      "expectation_failed" },
    { "every verdict, expectation_failed last",
      { "plain", "continue_ok", "unsolicited_100", "early_final", "incomplete",
        "http10_expect", "expect_without_body", "retry_after_417", "no_wait", "late_100",
        "timeout_fallback", "body_after_final", "unsupported_expectation",
        "expectation_failed" },
      "expectation_failed" },
};

/* The first row of cases[] with that verdict and a request. */
static const struct xcase *row_for(const char *verdict)
{
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (!cases[i].lost_request && strcmp(cases[i].want, verdict) == 0)
            return &cases[i];
    return NULL;
}

enum { N_ORDER = ARRAY_LEN(flow_order), N_RECIPES = ARRAY_LEN(recipes) };
enum { MAX_FEED = 16, N_PLANNED = N_RECIPES + N_ORDER };

/* Exchanges on many flows, interleaved: round r feeds the r-th exchange of every flow.
 * The recipes' flows, then flow k of the order gets every verdict from flow_order[k]
 * down to plain, least severe first. A retry_after_417 is a 417 on the helper flow (same
 * client IP and server) followed 1 s later by continue_ok's row on the flow. */
static void test_flows(void)
{
    const char *plan[N_PLANNED][MAX_FEED] = { { NULL } };
    const char *want[N_PLANNED];
    const char *names[N_PLANNED];
    char suffix_names[N_ORDER][64];
    for (size_t k = 0; k < N_RECIPES; k++) {
        memcpy(plan[k], recipes[k].feed, sizeof plan[k]);
        want[k] = recipes[k].want;
        names[k] = recipes[k].name;
    }
    for (size_t k = 0; k < N_ORDER; k++) {
        size_t j = N_RECIPES + k, r = 0;
        for (size_t i = N_ORDER; i-- > k;)
            plan[j][r++] = flow_order[i];
        want[j] = flow_order[k];
        snprintf(suffix_names[k], sizeof suffix_names[k], "plain up to %s", flow_order[k]);
        names[j] = suffix_names[k];
    }

    const uint32_t n_slots = N_PLANNED + 1; /* and the helper flow */
    struct verdict_engine *v = verdict_new(&cfg_a, n_slots);
    CHECK(v != NULL);
    if (!v)
        return;
    struct flow fl[N_PLANNED], helper, outside;
    for (uint32_t k = 0; k < N_PLANNED; k++) {
        struct ep e = ep_main;
        e.cport = (uint16_t)(41000 + k);
        mkflow(&fl[k], &e, k, 1000 + k);
    }
    mkflow(&helper, &ep_main, N_PLANNED, 999);
    mkflow(&outside, &ep_main, n_slots, 998); /* a slot the engine was not sized for */

    const struct xcase *r417 = row_for("expectation_failed");
    const struct xcase *rcont = row_for("continue_ok");
    CHECK(r417 && rcont);
    if (!r417 || !rcont) {
        verdict_free(v);
        return;
    }
    uint64_t count[V_COUNT] = { 0 }, retries = 0, t = BASE_US, id = 1;
    uint32_t fed[N_PLANNED] = { 0 };
    for (size_t r = 0; r < MAX_FEED; r++) {
        for (size_t k = 0; k < N_PLANNED; k++) {
            const char *vn = plan[k][r];
            if (!vn)
                continue;
            snprintf(label, sizeof label, "flow \"%s\", exchange %zu (%s)", names[k], r + 1,
                     vn);
            check_case(label);
            if (strcmp(vn, "retry_after_417") == 0) {
                judge(v, &helper, r417, t, id, r417->want, r417->want_flags, 0);
                judge(v, &fl[k], rcont, t + 1000000, id + 1, "retry_after_417",
                      rcont->want_flags, id);
                id += 2;
                count[V_EXPECTATION_FAILED]++;
                retries++;
            } else {
                const struct xcase *c = row_for(vn);
                CHECK(c != NULL);
                if (!c)
                    continue;
                judge(v, &fl[k], c, t, id++, c->want, c->want_flags, 0);
            }
            enum verdict w = by_name(vn);
            CHECK(w < V_COUNT);
            if (w < V_COUNT)
                count[w]++;
            fed[k]++;
            t += SPACING_US;
        }
    }
    check_case("a flow outside the engine's slots");
    judge(v, &outside, row_for("plain"), t, id++, "plain", NULL, 0);
    count[V_PLAIN]++;
    t += SPACING_US;

    for (size_t k = 0; k < N_PLANNED; k++) {
        snprintf(label, sizeof label, "flow \"%s\" done", names[k]);
        check_case(label);
        struct flow_verdict fv = verdict_flow_done(v, &fl[k]);
        CHECK_EQ(fv.exchanges, fed[k]);
        CHECK_STR(verdict_name(fv.verdict), want[k]);
    }
    check_case("the 417s' flow done");
    struct flow_verdict fv = verdict_flow_done(v, &helper);
    CHECK_EQ(fv.exchanges, retries);
    CHECK_STR(verdict_name(fv.verdict), "expectation_failed");
    check_case("a flow outside the engine's slots is not counted");
    fv = verdict_flow_done(v, &outside);
    CHECK_EQ(fv.exchanges, 0);
    CHECK_STR(verdict_name(fv.verdict), "none");

    for (size_t k = 0; k < N_PLANNED; k++) {
        snprintf(label, sizeof label, "flow \"%s\" done twice: the slot was cleared",
                 names[k]);
        check_case(label);
        fv = verdict_flow_done(v, &fl[k]);
        CHECK_EQ(fv.exchanges, 0);
        CHECK_STR(verdict_name(fv.verdict), "none");
    }
    check_case("the 417s' flow done twice");
    fv = verdict_flow_done(v, &helper);
    CHECK_EQ(fv.exchanges, 0);
    CHECK_STR(verdict_name(fv.verdict), "none");

    check_case("a new flow in a cleared slot starts from nothing");
    struct flow again;
    mkflow(&again, &ep_main, fl[N_RECIPES].slot, 5000); /* had expectation_failed */
    judge(v, &again, row_for("plain"), t, id++, "plain", NULL, 0);
    count[V_PLAIN]++;
    fv = verdict_flow_done(v, &again);
    CHECK_EQ(fv.exchanges, 1);
    CHECK_STR(verdict_name(fv.verdict), "plain");

    check_case("flow test stats");
    const struct verdict_stats *st = verdict_stats(v);
    for (int k = 0; k < V_COUNT; k++)
        CHECK_EQ(st->by_verdict[k], count[k]);
    CHECK_EQ(st->retries_linked, retries);
    CHECK_EQ(st->index_replaced, 0);
    verdict_free(v);
}

/* verdict_worse() over every pair follows DESIGN.md's order exactly, V_NONE last. */
static void test_worse(void)
{
    enum verdict ord[N_ORDER];
    check_case("the flow order names every verdict once");
    CHECK_EQ(N_ORDER, V_COUNT - 1);
    bool listed[V_COUNT] = { false };
    for (size_t i = 0; i < N_ORDER; i++) {
        ord[i] = by_name(flow_order[i]);
        CHECK(ord[i] != V_COUNT && ord[i] != V_NONE);
        if (ord[i] < V_COUNT) {
            CHECK(!listed[ord[i]]);
            listed[ord[i]] = true;
        }
    }
    for (int v = 1; v < V_COUNT; v++)
        CHECK(listed[v]);
    check_case("verdict names are distinct");
    for (int a = 0; a < V_COUNT; a++)
        for (int b = a + 1; b < V_COUNT; b++)
            CHECK(strcmp(verdict_name((enum verdict)a), verdict_name((enum verdict)b)) != 0);

    for (size_t i = 0; i < N_ORDER; i++) {
        for (size_t j = 0; j < N_ORDER; j++) {
            snprintf(label, sizeof label, "verdict_worse(%s, %s)", flow_order[i],
                     flow_order[j]);
            check_case(label);
            CHECK_STR(verdict_name(verdict_worse(ord[i], ord[j])),
                      flow_order[i < j ? i : j]);
        }
        snprintf(label, sizeof label, "verdict_worse with none and %s", flow_order[i]);
        check_case(label);
        CHECK_STR(verdict_name(verdict_worse(V_NONE, ord[i])), flow_order[i]);
        CHECK_STR(verdict_name(verdict_worse(ord[i], V_NONE)), flow_order[i]);
    }
    check_case("verdict_worse(none, none)");
    CHECK_EQ(verdict_worse(V_NONE, V_NONE), V_NONE);
}

/* One-sided flows (flow_one_sided()): the capture shows one direction only, so no
 * verdict may rest on a wait for an answer it cannot see. */
static const struct {
    struct xcase row;
    int seen;           /* 0: client only (no server packet), 1: server only, 2: both,
                           3: client payload, the server seen only through its ACKs */
} one_sided_rows[] = {
    /* the client waited 1 s, then sent the body: a 100 may have come (unseen) */
    { { .name = "one-sided client: a wait is not timeout_fallback", EXPECT, CL(5000),
        .body = 5000, .body_first = AT(1000), .req_open = false, .want = "incomplete",
        .want_flags = "no_final,one_sided" }, 0 },
    { { .name = "one-sided client: body within --no-wait-ms is not no_wait", EXPECT,
        CL(5000), .body = 5000, .body_first = AT(1), .want = "incomplete",
        .want_flags = "no_final,one_sided" }, 0 },
    { { .name = "one-sided client: body in the header segment is no_wait", EXPECT,
        CL(5000), .body = 5000, .hdr_seg = true, .body_first = AT(0), .want = "no_wait",
        .want_flags = "no_final,one_sided" }, 0 },
    { { .name = "one-sided client: Expect and no body yet", EXPECT, CL(5000),
        .want = "incomplete", .want_flags = "no_final,one_sided" }, 0 },
    { { .name = "one-sided client: expect_without_body is the client's own doing", EXPECT,
        .want = "expect_without_body", .want_flags = "no_final,one_sided" }, 0 },
    { { .name = "one-sided client: no Expect", .method = "GET", .uri = "/",
        .want = "plain", .want_flags = "no_final,one_sided" }, 0 },
    /* the server's side alone: every response lacks its request, so none is judged */
    { { .name = "one-sided server: a 100 without its request is an orphan, not unsolicited",
        .lost_request = true, .interim = { 100 }, .t_100 = AT(0), .status = 200,
        .final = AT(40), .want = "none", .want_flags = "orphan_response,one_sided" }, 1 },
    { { .name = "one-sided server: a 417 without its request is an orphan",
        .lost_request = true, .status = 417, .final = AT(1), .want = "none",
        .want_flags = "orphan_response,one_sided" }, 1 },
    { { .name = "both ways: the same wait is timeout_fallback", EXPECT, CL(5000),
        .body = 5000, .body_first = AT(1000), .want = "timeout_fallback",
        .want_flags = "no_final" }, 2 },
    { { .name = "server seen only through its ACKs: not one-sided", EXPECT, CL(5000),
        .body = 5000, .body_first = AT(1000), .want = "timeout_fallback",
        .want_flags = "no_final" }, 3 },
};

static void test_one_sided(void)
{
    size_t n = ARRAY_LEN(one_sided_rows);
    struct verdict_engine *v = verdict_new(&cfg_a, (uint32_t)n);
    CHECK(v != NULL);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct xcase *c = &one_sided_rows[i].row;
        name_case("", c->name);
        check_row(c);
        struct flow f;
        mkflow(&f, &ep_main, (uint32_t)i, i + 1);
        switch (one_sided_rows[i].seen) {
        case 0:
            f.packets[DIR_C2S] = 5, f.payload_bytes[DIR_C2S] = 5200;
            break;
        case 1:
            f.packets[DIR_S2C] = 3, f.payload_bytes[DIR_S2C] = 300;
            break;
        case 2:
            f.packets[DIR_C2S] = 5, f.payload_bytes[DIR_C2S] = 5200;
            f.packets[DIR_S2C] = 3, f.payload_bytes[DIR_S2C] = 300;
            break;
        default:
            f.packets[DIR_C2S] = 5, f.payload_bytes[DIR_C2S] = 5200;
            f.packets[DIR_S2C] = 4; /* SYN-ACK and ACKs, no payload */
            break;
        }
        CHECK_EQ(flow_one_sided(&f), one_sided_rows[i].seen < 2);
        judge(v, &f, c, BASE_US + i * SPACING_US, i + 1, c->want, c->want_flags, 0);
    }
    check_case("one-sided: a flow with no payload at all is not one-sided");
    struct flow f;
    mkflow(&f, &ep_main, 0, 99);
    f.packets[DIR_C2S] = 1; /* a SYN alone */
    CHECK(!flow_one_sided(&f));
    verdict_free(v);
}

/* Captures without times (docs/verdicts.md): every time X_TIME_UNKNOWN_US, the order
 * alone decides; durations are unknown, not 0. */
static void test_no_times(void)
{
    struct verdict_engine *v = verdict_new(&cfg_a, 4);
    CHECK(v != NULL);
    if (!v)
        return;
    static const struct {
        struct xcase c;
        const char *want;
    } rows[] = {
        { { EXPECT, CL(1000), .body = 1000, .t_100 = AT(5), .body_first = AT(6),
            .status = 200, .final = AT(8), .at_100 = 0, .at_final = 1000 }, "continue_ok" },
        /* timed, this is timeout_fallback; untimed, the wait cannot be told */
        { { EXPECT, CL(1000), .body = 1000, .body_first = AT(1000), .status = 200,
            .final = AT(1002), .at_final = 1000 }, "no_wait" },
        { { EXPECT, CL(1000), .uri = "/denied", .body = 0, .status = 417, .final = AT(3),
            .at_final = 0 },
          "expectation_failed" },
        { { EXPECT, CL(1000), .body = 1000, .body_first = AT(6), .status = 200,
            .final = AT(2), .at_final = 0 }, "body_after_final" },
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        name_case("no times: ", rows[i].want);
        struct flow f;
        mkflow(&f, &ep_main, (uint32_t)i, i + 1);
        build(&xb, &rows[i].c, BASE_US + i * SPACING_US, i + 1);
        uint64_t *t[] = { &xb.t_start_us, &xb.t_hdr_us, &xb.t_body_first_us,
                          &xb.t_body_last_us, &xb.t_100_us, &xb.t_final_us, &xb.t_end_us };
        for (size_t k = 0; k < ARRAY_LEN(t); k++)
            if (*t[k])
                *t[k] = X_TIME_UNKNOWN_US;
        xb.max_body_pause_us = 0;
        verdict_judge(v, &f, &xb);
        CHECK_STR(verdict_name(xb.verdict), rows[i].want);
        CHECK(exchange_ms_after_hdr(&xb, xb.t_final_us) < 0);
        CHECK(!x_time_known(xb.t_final_us));
    }
    verdict_free(v);
}

/* Every verdict and flag of DESIGN.md came out of some run above. */
static void test_coverage(void)
{
    for (int v = 1; v < V_COUNT; v++) {
        name_case("coverage: verdict ", verdict_name((enum verdict)v));
        CHECK(seen_verdict[v] > 0);
    }
    static const uint32_t engine_flags = XF_LATE_100 | XF_MULTIPLE_1XX | XF_HTTP10_1XX |
                                         XF_NO_FINAL | XF_PARTIAL_BODY | XF_BODY_STALL |
                                         XF_DUPLICATE_BODY | XF_VIA_PROXY |
                                         XF_ORPHAN_RESPONSE | XF_RETRY_FAILED | XF_ONE_SIDED;
    static const uint32_t dissector_flags = XF_CONN_RESET | XF_SERVER_CLOSED | XF_GAP |
                                            XF_RESYNC | XF_PIPELINED | XF_HEADERS_TRUNCATED |
                                            XF_ABANDONED_AT_CAP | XF_CL_AND_CHUNKED |
                                            XF_CONFLICTING_LENGTH | XF_LENGTH_OVERFLOW |
                                            XF_EXPECT_UNKNOWN;
    check_case("coverage: the two flag lists name every flag");
    CHECK_EQ(engine_flags | dissector_flags, (1u << XF_COUNT_BITS) - 1);
    CHECK_EQ(engine_flags & dissector_flags, 0);
    for (int b = 0; b < XF_COUNT_BITS; b++) {
        char one[64];
        flags_str(1u << b, one, sizeof one);
        name_case("coverage: flag ", one);
        if (engine_flags & (1u << b))
            CHECK(flags_added & (1u << b));
        else
            CHECK(flags_kept & (1u << b));
    }
}

int main(void)
{
    exchange_init(&xb);
    test_cases();
    test_thresholds();
    test_sequences();
    test_index_bound();
    test_flows();
    test_worse();
    test_one_sided();
    test_no_times();
    test_coverage();
    exchange_fini(&xb);
    return check_done("test_verdict");
}
