/* test_paths.c: who answered each exchange, and the links between the two legs of a
 * proxy (fingerprint.h, hblock.h, hops.h) against ../shared/DESIGN.md "Paths".
 *
 * 1. fingerprints[]: one raw response header block per row of the fingerprint table
 *    (mixed-case names, extra spaces), each fed in its order and reversed, with the
 *    answered_by, product and evidence it must give; precedence rows; interim blocks;
 *    hostile blocks and a seeded random flood, each in a buffer of exactly its size so
 *    that AddressSanitizer sees any read past it.
 * 2. hblock: fields, find, contains, on small blocks.
 * 3. the linker: pairs[] is a front exchange F (client -> proxy) and a back exchange B
 *    (proxy -> upstream) described by how they differ from a common pair, each run in
 *    both emission orders, with what must be linked, found and decided; then sequences
 *    for ambiguity, known proxies, the window, eviction, chains and IPv6. Every run
 *    keeps a ledger of each exchange's final answered_by (its own call, then updates)
 *    and compares it with hops_stats()->by.
 * 4. hop_findings_str.
 *
 * Cases named "BUG-n" guard against bugs this test found (fixed; the list is printed
 * when a check fails). The cases of BUG-1, which corrupted its result struct, run in a
 * child process.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "exchange.h"
#include "fingerprint.h"
#include "flow.h"
#include "hblock.h"
#include "hops.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BASE_US 1700000000000000ull /* 2023-11-14: every leg's times are from here */

static char label[512];

static void name_case(const char *prefix, const char *name)
{
    snprintf(label, sizeof label, "%s%s", prefix, name);
    check_case(label);
}

#define CHECK_MS(got, want)                                                              \
    do {                                                                                 \
        check_count++;                                                                   \
        double check_g_ = (got), check_w_ = (want), check_d_ = check_g_ - check_w_;      \
        if (check_d_ < -1e-6 || check_d_ > 1e-6) {                                       \
            check_fail(__FILE__, __LINE__, #got " == " #want);                           \
            fprintf(stderr, "    got %.6f, expected %.6f\n", check_g_, check_w_);        \
        }                                                                                \
    } while (0)

#define CHECK_PREFIX(s, prefix)                                                          \
    do {                                                                                 \
        check_count++;                                                                   \
        const char *check_s_ = (s), *check_p_ = (prefix);                                \
        if (strncmp(check_s_, check_p_, strlen(check_p_)) != 0) {                        \
            check_fail(__FILE__, __LINE__, #s " starts with " #prefix);                  \
            fprintf(stderr, "    got      \"%s\"\n    expected \"%s...\"\n", check_s_,   \
                    check_p_);                                                           \
        }                                                                                \
    } while (0)

static const char *str_or_null(const char *s)
{
    return s ? s : "(null)";
}

/* Bugs this test found, now fixed: printed after a failure, to place it. */
static const char *const known_bugs[] = {
    "BUG-1 hops.c hops_exchange(): expire() may fill the result's two hops before the "
    "exchange's own links are written: the front link is written to r->hops[2] (past the "
    "array, over n_hops and updates[0]) and the back link is dropped without a count",
    "BUG-2 hops.c retire(): a front that was left unlinked because more than one partner "
    "fitted is later reported as answered by the proxy itself (answered_final, "
    "answered_by intermediary) when its proxy is known: a guess, not 'unknown'",
    "BUG-3 hops.c describe(): a front with a final status whose upstream exchange has "
    "none (the proxy's own 504) gets no finding (now gateway_error); decide_front() "
    "says 'origin'",
    "BUG-4 hops.c fill(): an X-Forwarded-For of the other address family (IPv4 client, "
    "IPv6 upstream leg) is ignored: it neither links nor vetoes a link",
    "BUG-5 fingerprint.c rows[]: squid's X-Cache \"HIT from\"/\"MISS from\" rows come "
    "first and match CloudFront's \"Hit from cloudfront\"/\"Miss from cloudfront\" "
    "(case-insensitive): the product is squid",
    "BUG-6 fingerprint.c scan(): XS_RAW_INTERIM holds every interim block one after "
    "another; the scan stops at the first empty line, so a Via in a 100 after a 103 is "
    "not seen",
    "BUG-7 hops.c sent_by_proxy_of(): when the client's request already carries Via (a "
    "CDN in front of the proxy), F is also taken as the upstream leg of B: a second, "
    "reversed hop (front B, back F) and an update of B's row",
};

/* ==== 1. fingerprints ================================================================ */

/* An exchange whose block `f` holds exactly the n bytes at p, in a heap buffer of that
 * size: a read past the block is a read past the allocation. */
static void put_exact(struct exchange *x, enum xfield f, const char *p, size_t n)
{
    struct sbuf *b = &x->s[f];
    free(b->p);
    b->p = n ? malloc(n) : NULL;
    if (n && !b->p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (n)
        memcpy(b->p, p, n);
    b->len = b->cap = b->max = (uint32_t)n;
    b->set = true;
    b->truncated = false;
}

static void clear_block(struct exchange *x, enum xfield f)
{
    put_exact(x, f, NULL, 0);
    x->s[f].set = false;
}

struct fp_case {
    const char *name;
    uint16_t status;        /* x->status; 0: no final answer */
    const char *start;      /* the status line, without its CRLF */
    const char *lines[4];   /* header lines without CRLF; fed in this order and reversed */
    const char *want_by;    /* answered_by_name() */
    const char *want_product; /* NULL: none */
    const char *want_evidence; /* a prefix of fp.evidence */
    const char *bug;        /* a known bug makes this row fail */
};

#define S200 200, "HTTP/1.1 200 OK"

static const struct fp_case fingerprints[] = {
    /* one row per product of the table */
    { "squid error page", 503, "HTTP/1.1 503 Service Unavailable",
      { "Server: squid/5.7", "x-squid-error:   ERR_CONNECT_FAIL 111  ",
        "Mime-Version: 1.0", "Via: 1.1 proxy.example (squid/5.7)" },
      "intermediary", "squid", "X-Squid-Error: ERR_CONNECT_FAIL 111", NULL },
    { "squid Server only (its own answer)", 400, "HTTP/1.1 400 Bad Request",
      { "SERVER: squid" }, "intermediary", "squid", "Server: squid", NULL },
    { "squid cache HIT", S200,
      { "X-Cache:  HIT from proxy.example", "X-Cache-Lookup: HIT from proxy.example:3128",
        "Content-Type: text/plain" },
      "intermediary", "squid", "X-Cache: HIT from proxy.example", NULL },
    { "squid cache MISS", S200,
      { "x-cache: MISS from proxy.example", "Via: 1.1 proxy.example (squid/5.7)" },
      "origin", "squid", "X-Cache: MISS from proxy.example", NULL },
    { "squid X-Cache-Lookup only", S200, { "X-Cache-Lookup: NONE from proxy.example:3128" },
      "unknown", "squid", "X-Cache-Lookup: NONE from", NULL },
    { "squid Via", S200, { "Server: nginx/1.25.3", "VIA: 1.1 proxy.example (squid/5.7)" },
      "unknown", "squid", "Via: 1.1 proxy.example (squid/5.7)", NULL },
    { "varnish synthetic", 503, "HTTP/1.1 503 Backend fetch failed",
      { "Server: Varnish", "X-Varnish: 32770", "Retry-After: 5" },
      "intermediary", "varnish", "Server: Varnish", NULL },
    { "varnish X-Varnish", S200, { "x-varnish: 32771 32769", "Age: 12" },
      "unknown", "varnish", "X-Varnish: 32771 32769", NULL },
    { "varnish Via", S200, { "Via: 1.1 varnish (Varnish/7.1)" },
      "unknown", "varnish", "Via: 1.1 varnish (Varnish/7.1)", NULL },
    { "Apache Traffic Server's own answer", 502, "HTTP/1.1 502 Cannot Connect",
      { "Server: ATS/9.2.3" }, "intermediary", "trafficserver", "Server: ATS/9.2.3", NULL },
    { "Apache Traffic Server Via", S200,
      { "Via: http/1.1 ts.example (ApacheTrafficServer/9.2.3 [cMsSf ])" },
      "unknown", "trafficserver", "Via: http/1.1 ts.example (ApacheTrafficServer", NULL },
    { "envoy with x-envoy-upstream-service-time", S200,
      { "server: envoy", "x-envoy-upstream-service-time: 12" },
      "origin", "envoy", "x-envoy-upstream-service-time: 12", NULL },
    { "envoy without x-envoy-upstream-service-time", 503, "HTTP/1.1 503 Service Unavailable",
      { "server: envoy", "content-length: 19" }, "unknown", "envoy", "Server: envoy", NULL },
    { "Cloudflare cf-cache-status HIT", S200,
      { "Server: cloudflare", "CF-RAY: 8a1b2c3d4e5f6789-FRA", "cf-cache-status: HIT" },
      "intermediary", "cloudflare", "cf-cache-status: HIT", NULL },
    { "Cloudflare cf-cache-status MISS", S200,
      { "Server: cloudflare", "CF-Cache-Status: MISS", "cf-ray: 8a1b2c3d4e5f6789-FRA" },
      "origin", "cloudflare", "cf-cache-status: MISS", NULL },
    { "Cloudflare cf-cache-status DYNAMIC", S200, { "cf-cache-status: DYNAMIC" },
      "origin", "cloudflare", "cf-cache-status: DYNAMIC", NULL },
    { "Cloudflare CF-RAY only", S200, { "CF-RAY: 8a1b2c3d4e5f6789-FRA" },
      "unknown", "cloudflare", "CF-RAY: 8a1b2c3d4e5f6789-FRA", NULL },
    { "Cloudflare Server only", S200, { "Server: cloudflare" },
      "unknown", "cloudflare", "Server: cloudflare", NULL },
    { "CloudFront Hit", S200,
      { "X-Cache: Hit from cloudfront", "Via: 1.1 0123abcd.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Pop: FRA56-P1", "X-Amz-Cf-Id: Yx1Qn0uT-b5tA==" },
      "intermediary", "cloudfront", "X-Cache: Hit from cloudfront", "BUG-5" },
    { "CloudFront Miss", S200,
      { "X-Cache: Miss from cloudfront", "Via: 1.1 0123abcd.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id: Yx1Qn0uT-b5tA==" },
      "origin", "cloudfront", "X-Cache: Miss from cloudfront", "BUG-5" },
    { "CloudFront Error", 502, "HTTP/1.1 502 Bad Gateway",
      { "X-Cache: Error from cloudfront", "Via: 1.1 0123abcd.cloudfront.net (CloudFront)" },
      "intermediary", "cloudfront", "X-Cache: Error from cloudfront", NULL },
    { "CloudFront Via only", S200, { "Via: 1.1 0123abcd.cloudfront.net (CloudFront)" },
      "unknown", "cloudfront", "Via: 1.1 0123abcd.cloudfront.net (CloudFront)", NULL },
    { "CloudFront X-Amz-Cf-Id only", S200, { "x-amz-cf-id: Yx1Qn0uT-b5tA==" },
      "unknown", "cloudfront", "X-Amz-Cf-Id: Yx1Qn0uT-b5tA==", NULL },
    { "AWS ELB's own answer", 502, "HTTP/1.1 502 Bad Gateway", { "Server: awselb/2.0" },
      "intermediary", "aws-elb", "Server: awselb/2.0", NULL },
    { "Fastly", S200,
      { "X-Served-By: cache-fra-etou8220024-FRA", "X-Fastly-Request-ID: 5a1b2c3d" },
      "unknown", "fastly", "X-Served-By: cache-fra-etou8220024-FRA", NULL },
    { "Fastly request id only", S200, { "x-fastly-request-id: 5a1b2c3d" },
      "unknown", "fastly", "X-Fastly-Request-ID: 5a1b2c3d", NULL },
    { "AkamaiGHost", 403, "HTTP/1.1 403 Forbidden",
      { "Server: AkamaiGHost", "Mime-Version: 1.0" },
      "intermediary", "akamai", "Server: AkamaiGHost", NULL },
    { "Akamai request id", S200, { "X-Akamai-Request-ID: 1a2b3c" },
      "unknown", "akamai", "X-Akamai-Request-ID: 1a2b3c", NULL },
    { "Akamai-GRN", S200, { "Akamai-GRN: 0.1a2b3c4d.1700000000.5e6f" },
      "unknown", "akamai", "Akamai-GRN: 0.1a2b3c4d", NULL },
    { "Azure Front Door", S200, { "X-Azure-Ref: 0zBRkZQAAAAD1" },
      "unknown", "azure-front-door", "X-Azure-Ref: 0zBRkZQAAAAD1", NULL },
    { "Google load balancer Via", S200, { "Via: 1.1 google" },
      "unknown", "google-lb", "Via: 1.1 google", NULL },
    { "Imperva X-Iinfo", S200, { "X-Iinfo: 10-12345678-0 0NNN RT(1700000000000 0)" },
      "unknown", "imperva", "X-Iinfo: 10-12345678-0 0NNN", NULL },
    { "Imperva X-CDN", S200, { "X-CDN: Imperva" }, "unknown", "imperva", "X-CDN: Imperva",
      NULL },
    { "Sucuri's own answer", 403, "HTTP/1.1 403 Forbidden",
      { "Server: Sucuri/Cloudproxy", "X-Sucuri-ID: 11005" },
      "intermediary", "sucuri", "Server: Sucuri/Cloudproxy", NULL },
    { "Sucuri id only", S200, { "X-Sucuri-ID: 11005" },
      "unknown", "sucuri", "X-Sucuri-ID: 11005", NULL },
    { "F5 BIG-IP's own answer", S200, { "Server: BigIP" },
      "intermediary", "f5-bigip", "Server: BigIP", NULL },
    { "Apache mod_proxy Via", S200, { "Via: 1.1 gw.example (Apache/2.4.57)" },
      "unknown", "apache", "Via: 1.1 gw.example (Apache/2.4.57)", NULL },
    { "a generic Via", S200, { "Server: nginx", "via:  1.1 gateway.example  " },
      "unknown", "proxy", "Via: 1.1 gateway.example", NULL },

    /* nothing that names an intermediary */
    { "no intermediary: nginx origin", S200,
      { "Server: nginx/1.25.3", "Content-Length: 0" },
      "unknown", NULL, "no intermediary in the headers", NULL },
    { "no intermediary: Apache origin", 417, "HTTP/1.1 417 Expectation Failed",
      { "Server: Apache/2.4.57 (Debian)" }, "unknown", NULL,
      "no intermediary in the headers", NULL },
    { "no intermediary: an X-Cache without \"from\"", S200, { "X-Cache: HIT" },
      "unknown", NULL, "no intermediary in the headers", NULL },
    { "no intermediary: a status line only", S200, { NULL },
      "unknown", NULL, "no intermediary in the headers", NULL },
    { "no final answer", 0, NULL, { NULL }, "unknown", NULL, "no final answer", NULL },

    /* precedence: MADE > RELAYED > ON_PATH in either order; among equals the table */
    { "MADE beats RELAYED and ON_PATH", 503, "HTTP/1.1 503 Service Unavailable",
      { "Via: 1.1 proxy.example (squid/5.7)", "X-Cache: MISS from proxy.example",
        "X-Squid-Error: ERR_READ_TIMEOUT 0" },
      "intermediary", "squid", "X-Squid-Error: ERR_READ_TIMEOUT 0", NULL },
    { "RELAYED beats ON_PATH of another product", S200,
      { "Via: 1.1 proxy.example (squid/5.7)", "cf-cache-status: MISS",
        "X-Azure-Ref: 0zBRkZQ" },
      "origin", "cloudflare", "cf-cache-status: MISS", NULL },
    { "MADE beats ON_PATH of another product", 403, "HTTP/1.1 403 Forbidden",
      { "CF-RAY: 8a1b2c3d4e5f6789-FRA", "Server: AkamaiGHost" },
      "intermediary", "akamai", "Server: AkamaiGHost", NULL },
    { "two MADE: the table's first (X-Squid-Error before awselb)", 502,
      "HTTP/1.1 502 Bad Gateway", { "Server: awselb/2.0", "X-Squid-Error: ERR_ZERO_SIZE_OBJECT 0" },
      "intermediary", "squid", "X-Squid-Error: ERR_ZERO_SIZE_OBJECT 0", NULL },
    { "two ON_PATH: the table's first (Azure before Google's Via)", S200,
      { "Via: 1.1 google", "X-Azure-Ref: 0zBRkZQ" },
      "unknown", "azure-front-door", "X-Azure-Ref: 0zBRkZQ", NULL },
    { "two Via: squid's row before the generic one", S200,
      { "Via: 1.1 a.example", "Via: 1.1 b.example (squid/5.7)" },
      "unknown", "squid", "Via: 1.1 b.example (squid/5.7)", NULL },
};

/* The block of row c: the start line, the lines in order (or reversed), the empty line. */
static size_t fp_block(const struct fp_case *c, bool reversed, char *out, size_t cap)
{
    size_t n = 0, k = 0;
    while (k < ARRAY_LEN(c->lines) && c->lines[k])
        k++;
    n += (size_t)snprintf(out + n, cap - n, "%s\r\n", c->start);
    for (size_t i = 0; i < k; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s\r\n", c->lines[reversed ? k - 1 - i : i]);
    n += (size_t)snprintf(out + n, cap - n, "\r\n");
    return n;
}

static void test_fingerprints(void)
{
    struct exchange x;
    exchange_init(&x);
    for (size_t i = 0; i < ARRAY_LEN(fingerprints); i++) {
        const struct fp_case *c = &fingerprints[i];
        for (int rev = 0; rev < 2; rev++) {
            snprintf(label, sizeof label, "%s%s: %s%s", c->bug ? c->bug : "fingerprint",
                     c->bug ? " (fingerprint)" : "", c->name, rev ? " (reversed)" : "");
            check_case(label);
            exchange_reset(&x);
            char block[1024];
            if (c->start) {
                size_t n = fp_block(c, rev, block, sizeof block);
                put_exact(&x, XS_RAW_RESPONSE, block, n);
            } else {
                clear_block(&x, XS_RAW_RESPONSE);
            }
            clear_block(&x, XS_RAW_INTERIM);
            x.status = c->status;
            struct fingerprint fp;
            memset(&fp, 0x5a, sizeof fp); /* every field must be set */
            fingerprint_exchange(&x, &fp);
            CHECK_STR(answered_by_name(fp.by), c->want_by);
            CHECK_STR(str_or_null(fp.intermediary), str_or_null(c->want_product));
            CHECK(memchr(fp.evidence, '\0', sizeof fp.evidence) != NULL);
            CHECK_PREFIX(fp.evidence, c->want_evidence);
        }
    }

    check_case("answered_by_name");
    CHECK_STR(answered_by_name(ANSWERED_UNKNOWN), "unknown");
    CHECK_STR(answered_by_name(ANSWERED_ORIGIN), "origin");
    CHECK_STR(answered_by_name(ANSWERED_INTERMEDIARY), "intermediary");
    CHECK_STR(answered_by_name((enum answered_by)7), "unknown");

    check_case("the evidence shows the header and at most 48 bytes of its value");
    {
        exchange_reset(&x);
        static const char value[] = "ERR_0123456789abcdefghijklmnopqrstuvwxyz0123456789"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        char b[256], want[128];
        int n = snprintf(b, sizeof b, "HTTP/1.1 503 x\r\nX-Squid-Error: %s\r\n\r\n", value);
        put_exact(&x, XS_RAW_RESPONSE, b, (size_t)n);
        clear_block(&x, XS_RAW_INTERIM);
        x.status = 503;
        struct fingerprint fp;
        fingerprint_exchange(&x, &fp);
        snprintf(want, sizeof want, "X-Squid-Error: %.48s", value);
        CHECK_STR(fp.evidence, want);
        CHECK_EQ(strlen(fp.evidence), strlen("X-Squid-Error: ") + 48);
    }
    exchange_fini(&x);
}

/* Interim blocks: what a 100 says, alone or against the final block. */
struct interim_case {
    const char *name;
    uint16_t status;
    const char *response; /* the final block; NULL: none */
    const char *interim;  /* every interim block, one after the other, as h1.c keeps them */
    const char *want_by, *want_product, *want_evidence;
    const char *bug;
};

static const struct interim_case interims[] = {
    { "a Via only in the 100", 200, "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n",
      "HTTP/1.1 100 Continue\r\nVia: 1.1 proxy.example (squid/5.7)\r\n\r\n",
      "unknown", "squid", "Via: 1.1 proxy.example (squid/5.7)", NULL },
    { "a Via in the 100, nothing in the final block, LF line ends", 200,
      "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "HTTP/1.1 100 Continue\nVia: 1.1 gw\n\n",
      "unknown", "proxy", "Via: 1.1 gw", NULL },
    { "the final block's RELAYED beats the 100's ON_PATH", 200,
      "HTTP/1.1 200 OK\r\nx-envoy-upstream-service-time: 3\r\n\r\n",
      "HTTP/1.1 100 Continue\r\nVia: 1.1 proxy.example (squid/5.7)\r\n\r\n",
      "origin", "envoy", "x-envoy-upstream-service-time: 3", NULL },
    { "among equals the final block wins", 200,
      "HTTP/1.1 200 OK\r\nVia: 1.1 google\r\n\r\n",
      "HTTP/1.1 100 Continue\r\nVia: 1.1 proxy.example (squid/5.7)\r\n\r\n",
      "unknown", "google-lb", "Via: 1.1 google", NULL },
    { "no final answer, a Via in the 100", 0, NULL,
      "HTTP/1.1 100 Continue\r\nVia: 1.1 proxy.example (squid/5.7)\r\n\r\n",
      "unknown", "squid", "Via: 1.1 proxy.example (squid/5.7)", NULL },
    { "no final answer, a bare 100", 0, NULL, "HTTP/1.1 100 Continue\r\n\r\n",
      "unknown", NULL, "no final answer", NULL },
    { "a Via in the 100 that follows a 103", 200, "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n",
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 100 Continue\r\nVia: 1.1 proxy.example (squid/5.7)\r\n\r\n",
      "unknown", "squid", "Via: 1.1 proxy.example (squid/5.7)", "BUG-6" },
};

static void test_interim(void)
{
    struct exchange x;
    exchange_init(&x);
    for (size_t i = 0; i < ARRAY_LEN(interims); i++) {
        const struct interim_case *c = &interims[i];
        snprintf(label, sizeof label, "%s: interim: %s", c->bug ? c->bug : "fingerprint",
                 c->name);
        check_case(label);
        exchange_reset(&x);
        if (c->response)
            put_exact(&x, XS_RAW_RESPONSE, c->response, strlen(c->response));
        else
            clear_block(&x, XS_RAW_RESPONSE);
        put_exact(&x, XS_RAW_INTERIM, c->interim, strlen(c->interim));
        x.status = c->status;
        struct fingerprint fp;
        fingerprint_exchange(&x, &fp);
        CHECK_STR(answered_by_name(fp.by), c->want_by);
        CHECK_STR(str_or_null(fp.intermediary), str_or_null(c->want_product));
        CHECK_PREFIX(fp.evidence, c->want_evidence);
    }
    exchange_fini(&x);
}

/* Hostile blocks: each in a buffer of exactly its size. Where the header comments say
 * what must come out, it is checked; otherwise only that nothing crashes or reads past
 * the block (ASan) and that the evidence is a terminated string. */
struct hostile_case {
    const char *name;
    const char *p;
    size_t n;              /* 0: strlen(p) */
    const char *want_product; /* "-": not checked */
};

#define LIT(s) s, sizeof(s) - 1

static const struct hostile_case hostiles[] = {
    { "no CRLF at the end", LIT("HTTP/1.1 200 OK\r\nVia: 1.1 gw (squid/5.7)"), "squid" },
    { "no line end after the status line", LIT("HTTP/1.1 200 OK"), NULL },
    { "a lone CR at the end", LIT("HTTP/1.1 200 OK\r\nVia: 1.1 gw\r"), "proxy" },
    { "a header with no colon, then a Via", LIT("HTTP/1.1 200 OK\r\nGarbage line\r\n"
                                                "Via: 1.1 gw\r\n\r\n"), "proxy" },
    { "a header with an empty name", LIT("HTTP/1.1 200 OK\r\n: squid\r\n\r\n"), NULL },
    { "a header that is only a colon", LIT("HTTP/1.1 200 OK\r\n:\r\n\r\n"), NULL },
    { "a name with nothing after the colon", LIT("HTTP/1.1 200 OK\r\nVia:\r\n\r\n"), "proxy" },
    { "a folded Via is not a field", LIT("HTTP/1.1 200 OK\r\nX-A: 1\r\n Via: 1.1 gw\r\n"
                                         "\tVia: 1.1 gw\r\n\r\n"), NULL },
    { "a folded continuation of a Via is not joined",
      LIT("HTTP/1.1 200 OK\r\nVia: 1.1 gw\r\n (squid/5.7)\r\n\r\n"), "proxy" },
    { "fields after the empty line are not the block's",
      LIT("HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\nVia: 1.1 gw\r\n\r\n"), NULL },
    { "NUL bytes in a value", LIT("HTTP/1.1 200 OK\r\nVia: 1.1 \0gw\0 (squid/5.7)\r\n\r\n"),
      "squid" },
    { "NUL bytes in a name", LIT("HTTP/1.1 200 OK\r\nV\0ia: 1.1 gw\r\n\r\n"), NULL },
    { "NUL bytes only", "\0\0\0\0\0\0\0\0", 8, NULL },
    { "line ends only", LIT("\r\n\r\n\r\n\n\n\r"), NULL },
    { "one byte", LIT("H"), NULL },
    { "one LF", LIT("\n"), NULL },
    { "colons and spaces", LIT("HTTP/1.1 200 OK\r\n :::: \r\n\t:\r\n:::\r\n"), NULL },
    { "CR-only line ends: one long line", LIT("HTTP/1.1 200 OK\rVia: 1.1 gw\r\r"), NULL },
    { "high bytes", LIT("HTTP/1.1 200 OK\r\n\xff\xfe: \x80\x81\r\nVia: \xc3\xa9 gw\r\n\r\n"),
      "proxy" },
};

static void run_hostile(struct exchange *x, const char *p, size_t n, uint16_t status,
                        const char *want_product)
{
    exchange_reset(x);
    put_exact(x, XS_RAW_RESPONSE, p, n);
    clear_block(x, XS_RAW_INTERIM);
    x->status = status;
    struct fingerprint fp;
    fingerprint_exchange(x, &fp);
    CHECK(memchr(fp.evidence, '\0', sizeof fp.evidence) != NULL);
    CHECK(fp.by <= ANSWERED_INTERMEDIARY);
    if (!want_product || strcmp(want_product, "-") != 0)
        CHECK_STR(str_or_null(fp.intermediary), str_or_null(want_product));
    /* the same bytes as an interim block, and as both */
    put_exact(x, XS_RAW_INTERIM, p, n);
    fingerprint_exchange(x, &fp);
    CHECK(memchr(fp.evidence, '\0', sizeof fp.evidence) != NULL);
    clear_block(x, XS_RAW_RESPONSE);
    fingerprint_exchange(x, &fp);
    CHECK(memchr(fp.evidence, '\0', sizeof fp.evidence) != NULL);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_hostile(void)
{
    struct exchange x;
    exchange_init(&x);
    for (size_t i = 0; i < ARRAY_LEN(hostiles); i++) {
        const struct hostile_case *c = &hostiles[i];
        name_case("fingerprint: hostile: ", c->name);
        run_hostile(&x, c->p, c->n ? c->n : strlen(c->p), 200, c->want_product);
    }

    /* 10 KiB values: the field before a Via, and the Via itself (the evidence is cut) */
    enum { BIG = 10 * 1024 };
    char *big = malloc(BIG + 256);
    if (!big)
        exit(1);
    size_t n = (size_t)snprintf(big, 64, "HTTP/1.1 200 OK\r\nX-Long: ");
    memset(big + n, 'A', BIG);
    n += BIG;
    n += (size_t)snprintf(big + n, 64, "\r\nVia: 1.1 gw (squid/5.7)\r\n\r\n");
    check_case("fingerprint: hostile: a 10 KiB value before a Via");
    run_hostile(&x, big, n, 200, "squid");

    n = (size_t)snprintf(big, 64, "HTTP/1.1 200 OK\r\nVia: ");
    memset(big + n, 'v', BIG);
    n += BIG;
    n += (size_t)snprintf(big + n, 64, " (squid/5.7)");
    check_case("fingerprint: hostile: a 10 KiB Via, no line end");
    run_hostile(&x, big, n, 200, "squid");
    {
        struct fingerprint fp;
        exchange_reset(&x);
        put_exact(&x, XS_RAW_RESPONSE, big, n);
        clear_block(&x, XS_RAW_INTERIM);
        x.status = 200;
        fingerprint_exchange(&x, &fp);
        CHECK_EQ(strlen(fp.evidence), strlen("Via: ") + 48);
    }
    check_case("fingerprint: hostile: a 10 KiB name");
    memset(big, 'N', BIG);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memcpy(big + BIG, ": x\r\n\r\n", 7);
    run_hostile(&x, big, BIG + 7, 200, NULL);

    /* the capped block as the dissector keeps it (8 KiB): truncated mid-line */
    check_case("fingerprint: hostile: a block cut by sbuf's cap");
    {
        struct exchange y; /* the dissector's caps, not put_exact()'s */
        exchange_init(&y);
        n = (size_t)snprintf(big, 64, "HTTP/1.1 200 OK\r\nVia: 1.1 gw (squid/5.7)\r\nX: ");
        memset(big + n, 'b', BIG);
        CHECK(!sbuf_add(&y.s[XS_RAW_RESPONSE], big, n + BIG)); /* the cap drops some */
        CHECK(y.s[XS_RAW_RESPONSE].truncated);
        y.status = 200;
        struct fingerprint fp;
        fingerprint_exchange(&y, &fp);
        CHECK_STR(str_or_null(fp.intermediary), "squid");
        exchange_fini(&y);
    }
    free(big);

    /* a seeded flood of blocks made of the bytes that matter */
    static const char *const atoms[] = {
        "\r\n", "\n", "\r", ":", " ", "\t", "\0", "Via", "X-Cache", "HIT from ",
        "squid", "Server", "cf-cache-status", "X-Squid-Error", "HTTP/1.1 200 OK",
        "x-envoy-upstream-service-time", "cloudfront", "\xff", "MISS from", "a",
    };
    check_case("fingerprint: hostile: 20,000 random blocks");
    char buf[600];
    unsigned long bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = 0, parts = rng() % 40;
        for (size_t k = 0; k < parts; k++) {
            const char *a = atoms[rng() % ARRAY_LEN(atoms)];
            size_t al = a[0] ? strlen(a) : 1;
            if (len + al > sizeof buf)
                break;
            memcpy(buf + len, a, al);
            len += al;
        }
        exchange_reset(&x);
        put_exact(&x, XS_RAW_RESPONSE, buf, len);
        size_t cut = len ? rng() % len : 0; /* the interim: a prefix of the same bytes */
        put_exact(&x, XS_RAW_INTERIM, buf, cut);
        x.status = (uint16_t)(rng() % 2 ? 200 : 0);
        struct fingerprint fp;
        fingerprint_exchange(&x, &fp);
        if (!memchr(fp.evidence, '\0', sizeof fp.evidence) || fp.by > ANSWERED_INTERMEDIARY)
            bad++;
        /* hblock over the same bytes */
        struct hblock_iter it;
        hblock_iter_init(&it, buf, len);
        const char *nm, *v;
        size_t nl, vl;
        while (hblock_next(&it, &nm, &nl, &v, &vl))
            if (nm < buf || nm + nl > buf + len || v < buf || v + vl > buf + len || !nl)
                bad++;
        if (hblock_find(buf, len, "Via", &v, &vl) && (v < buf || v + vl > buf + len))
            bad++;
    }
    CHECK_EQ(bad, 0);
    exchange_fini(&x);
}

/* ==== 2. hblock ====================================================================== */

/* hblock functions on a copy of exactly n bytes. */
static char *exact_copy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        exit(1);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* The fields of a block as "name=value|name=value|". */
static void fields_of(const char *p, size_t n, char *out, size_t cap)
{
    char *c = exact_copy(p, n);
    struct hblock_iter it;
    hblock_iter_init(&it, n ? c : NULL, n);
    const char *nm, *v;
    size_t nl, vl, used = 0;
    out[0] = '\0';
    while (hblock_next(&it, &nm, &nl, &v, &vl)) {
        int k = snprintf(out + used, cap - used, "%.*s=%.*s|", (int)nl, nm, (int)vl, v);
        if (k < 0 || (size_t)k >= cap - used)
            break;
        used += (size_t)k;
    }
    free(c);
}

struct hb_case {
    const char *name;
    const char *block;
    const char *want; /* fields_of() */
};

static const struct hb_case hblocks[] = {
    { "CRLF block", "HTTP/1.1 200 OK\r\nA: 1\r\nBb:  two words \t\r\nC:\r\n\r\n",
      "A=1|Bb=two words|C=|" },
    { "LF-only line ends", "GET / HTTP/1.1\nHost: x.example\nVia:\t1.0 gw\n\n",
      "Host=x.example|Via=1.0 gw|" },
    { "CRLF and LF mixed", "GET / HTTP/1.1\r\nA: 1\nB: 2\r\n\n", "A=1|B=2|" },
    { "no empty line at the end", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2", "A=1|B=2|" },
    { "no empty line, a last line end", "HTTP/1.1 200 OK\r\nA: 1\r\n", "A=1|" },
    { "the start line only", "HTTP/1.1 200 OK\r\n\r\n", "" },
    { "the start line without a line end", "HTTP/1.1 200 OK", "" },
    { "the start line is never a field", "Via: 1.1 gw\r\nA: 1\r\n\r\n", "A=1|" },
    { "stops at the empty line", "HTTP/1.1 200 OK\r\nA: 1\r\n\r\nB: 2\r\n\r\n", "A=1|" },
    { "folded lines are skipped", "HTTP/1.1 200 OK\r\nA: 1\r\n  more\r\n\tmore\r\nB: 2\r\n",
      "A=1|B=2|" },
    { "lines without a colon are skipped", "HTTP/1.1 200 OK\r\nnothing\r\n:x\r\nB: 2\r\n",
      "B=2|" },
    { "a value with colons", "HTTP/1.1 200 OK\r\nHost: [2001:db8::1]:8080\r\n",
      "Host=[2001:db8::1]:8080|" },
    { "a value of spaces", "HTTP/1.1 200 OK\r\nA:  \t \r\n", "A=|" },
    { "the empty block", "", "" },
};

static void test_hblock(void)
{
    char got[512];
    for (size_t i = 0; i < ARRAY_LEN(hblocks); i++) {
        const struct hb_case *c = &hblocks[i];
        name_case("hblock: ", c->name);
        fields_of(c->block, strlen(c->block), got, sizeof got);
        CHECK_STR(got, c->want);
    }

    check_case("hblock: the empty (NULL) block");
    {
        struct hblock_iter it;
        hblock_iter_init(&it, NULL, 0);
        const char *nm, *v;
        size_t nl, vl;
        CHECK(!hblock_next(&it, &nm, &nl, &v, &vl));
        CHECK(!hblock_find(NULL, 0, "Via", &v, &vl));
        CHECK(!hblock_contains(NULL, 0, "x"));
        CHECK(hblock_contains(NULL, 0, ""));
    }

    check_case("hblock: find");
    {
        static const char b[] = "POST /u HTTP/1.1\r\nHost: a.example\r\nVIA: 1.1 one\r\n"
                                "via: 1.1 two\r\nX-Forwarded-For:  10.0.0.1, 10.0.0.2 \r\n"
                                "\r\nAfter: no\r\n";
        char *c = exact_copy(b, sizeof b - 1);
        const char *v;
        size_t vl;
        CHECK(hblock_find(c, sizeof b - 1, "via", &v, &vl));
        CHECK_MEM(v, vl, "1.1 one", 7); /* the first of two */
        CHECK(hblock_find(c, sizeof b - 1, "x-forwarded-for", &v, &vl));
        CHECK_MEM(v, vl, "10.0.0.1, 10.0.0.2", 18);
        CHECK(hblock_find(c, sizeof b - 1, "HOST", &v, &vl));
        CHECK_MEM(v, vl, "a.example", 9);
        CHECK(!hblock_find(c, sizeof b - 1, "Vi", &v, &vl));  /* a prefix is not a name */
        CHECK(!hblock_find(c, sizeof b - 1, "Vias", &v, &vl));
        CHECK(!hblock_find(c, sizeof b - 1, "After", &v, &vl)); /* past the empty line */
        CHECK(!hblock_find(c, sizeof b - 1, "POST /u HTTP/1.1", &v, &vl));
        /* cut anywhere: never a read past the cut (ASan), never a value past it */
        for (size_t cut = 0; cut <= sizeof b - 1; cut++) {
            char *d = exact_copy(b, cut);
            if (hblock_find(cut ? d : NULL, cut, "x-forwarded-for", &v, &vl))
                CHECK(v >= d && v + vl <= d + cut);
            free(d);
        }
        free(c);
    }

    check_case("hblock: contains");
    CHECK(hblock_contains("1.1 gw (Squid/5.7)", 18, "squid"));
    CHECK(hblock_contains("1.1 gw (Squid/5.7)", 18, "5.7)"));
    CHECK(hblock_contains("1.1 gw (Squid/5.7)", 18, "1.1"));
    CHECK(!hblock_contains("1.1 gw (Squid/5.7)", 17, "5.7)")); /* only n bytes are read */
    CHECK(!hblock_contains("squi", 4, "squid"));
    CHECK(hblock_contains("HIT", 3, ""));
    CHECK(hblock_contains("x\0squid", 7, "squid"));
    {
        char *c = exact_copy("abcSQUID", 8);
        CHECK(hblock_contains(c, 8, "squid"));
        CHECK(!hblock_contains(c, 8, "squidx"));
        free(c);
    }
}

/* ==== 3. the linker ================================================================== */

/* ---- a run: the linker and a ledger of what each exchange finally says -------------- */

struct rec {
    bool seen;
    uint8_t by;
    const char *product;
    char evidence[160];
    unsigned updates;
};

struct run {
    struct hops *h;
    struct rec *rec;      /* by exchange id */
    size_t n_rec;
    struct hop *hops;     /* every hop handed back, in order */
    size_t n_hops, cap_hops;
    uint64_t n_updates;
    unsigned long bad_results; /* results with counts out of range, or updates of nobody */
};

static void run_init(struct run *R, size_t max_id)
{
    memset(R, 0, sizeof *R);
    R->h = hops_new(NULL, 0);
    CHECK(R->h != NULL);
    if (!R->h)
        exit(1);
    R->n_rec = max_id + 1;
    R->rec = calloc(R->n_rec, sizeof *R->rec);
    if (!R->rec)
        exit(1);
}

static void run_fini(struct run *R)
{
    hops_free(R->h);
    free(R->rec);
    free(R->hops);
    memset(R, 0, sizeof *R);
}

/* Record what one call handed back. A result with counts out of range is reported
 * once and not read further (BUG-1 makes one). */
static void take(struct run *R, const struct hop_result *r)
{
    bool ok = r->n_hops >= 0 && r->n_hops <= (int)ARRAY_LEN(r->hops) && r->n_updates >= 0 &&
              r->n_updates <= (int)ARRAY_LEN(r->updates);
    if (!ok) {
        R->bad_results++;
        CHECK(r->n_hops >= 0 && r->n_hops <= 2);
        CHECK(r->n_updates >= 0 && r->n_updates <= 2);
        return;
    }
    for (int i = 0; i < r->n_hops; i++) {
        if (R->n_hops == R->cap_hops) {
            R->cap_hops = R->cap_hops ? 2 * R->cap_hops : 64;
            R->hops = realloc(R->hops, R->cap_hops * sizeof *R->hops);
            if (!R->hops)
                exit(1);
        }
        R->hops[R->n_hops++] = r->hops[i];
    }
    for (int i = 0; i < r->n_updates; i++) {
        const struct hop_update *u = &r->updates[i];
        R->n_updates++;
        if (u->exchange_id >= R->n_rec || !R->rec[u->exchange_id].seen ||
            u->answered_by > ANSWERED_INTERMEDIARY ||
            !memchr(u->path_evidence, '\0', sizeof u->path_evidence)) {
            R->bad_results++;
            continue;
        }
        struct rec *e = &R->rec[u->exchange_id];
        e->by = u->answered_by;
        e->product = u->intermediary;
        snprintf(e->evidence, sizeof e->evidence, "%s", u->path_evidence);
        e->updates++;
    }
}

static void feed(struct run *R, const struct flow *f, struct exchange *x,
                 struct hop_result *out)
{
    struct hop_result r;
    hops_exchange(R->h, f, x, &r);
    if (x->id < R->n_rec) {
        struct rec *e = &R->rec[x->id];
        e->seen = true;
        e->by = x->answered_by;
        e->product = x->intermediary;
        snprintf(e->evidence, sizeof e->evidence, "%s", x->path_evidence);
    } else {
        R->bad_results++;
    }
    take(R, &r);
    if (out)
        *out = r;
}

static void drain(struct run *R)
{
    struct hop_result r;
    bool more;
    unsigned long calls = 0;
    do {
        more = hops_drain(R->h, &r);
        take(R, &r);
    } while (more && ++calls < 10000000ul);
    CHECK(!more);
    CHECK(!hops_drain(R->h, &r)); /* drained: nothing more, nothing handed back */
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
}

/* hops_stats()->by against the ledger, and no malformed result. */
static void check_ledger(struct run *R)
{
    uint64_t by[3] = { 0, 0, 0 };
    for (size_t i = 0; i < R->n_rec; i++)
        if (R->rec[i].seen && R->rec[i].by <= ANSWERED_INTERMEDIARY)
            by[R->rec[i].by]++;
    const struct hops_stats *st = hops_stats(R->h);
    CHECK_EQ(st->by[ANSWERED_UNKNOWN], by[ANSWERED_UNKNOWN]);
    CHECK_EQ(st->by[ANSWERED_ORIGIN], by[ANSWERED_ORIGIN]);
    CHECK_EQ(st->by[ANSWERED_INTERMEDIARY], by[ANSWERED_INTERMEDIARY]);
    CHECK_EQ(R->bad_results, 0);
}

/* Hops with this front (and back; UINT64_MAX: any back). */
static size_t count_hops(const struct run *R, uint64_t front, uint64_t back)
{
    size_t n = 0;
    for (size_t i = 0; i < R->n_hops; i++)
        if (R->hops[i].front_id == front && (back == UINT64_MAX || R->hops[i].back_id == back))
            n++;
    return n;
}

static const struct hop *find_hop(const struct run *R, uint64_t front, uint64_t back)
{
    for (size_t i = 0; i < R->n_hops; i++)
        if (R->hops[i].front_id == front && R->hops[i].back_id == back)
            return &R->hops[i];
    return NULL;
}

static const char *findings(uint32_t f)
{
    static char buf[256];
    return hop_findings_str(f, buf, sizeof buf);
}

/* ---- endpoints and flows --------------------------------------------------------- */

struct ep {
    uint8_t family;
    uint8_t cli[16];
    uint16_t cport;
    uint8_t srv[16];
    uint16_t sport;
    uint8_t client_ep; /* which key endpoint is the client */
};

#define V4(a, b, c, d) { a, b, c, d }
#define V6(g, last) { 0x20, 0x01, 0x0d, 0xb8, 0, g, 0, 0, 0, 0, 0, 0, 0, 0, 0, last }

/* single-address proxy 10.0.0.5:3128; origin 10.0.0.9:80 */
static const struct ep ep_front = { 4, V4(10, 0, 0, 1), 40001, V4(10, 0, 0, 5), 3128, 0 };
static const struct ep ep_back = { 4, V4(10, 0, 0, 5), 50001, V4(10, 0, 0, 9), 80, 1 };
static const struct ep ep_back_8080 = { 4, V4(10, 0, 0, 5), 50001, V4(10, 0, 0, 9), 8080, 0 };
/* a proxy with an address on each network: 10.0.1.5 for clients, 10.0.2.5 upstream */
static const struct ep ep_front2 = { 4, V4(10, 0, 1, 1), 40001, V4(10, 0, 1, 5), 3128, 1 };
static const struct ep ep_back2 = { 4, V4(10, 0, 2, 5), 50001, V4(10, 0, 0, 9), 80, 0 };
/* IPv6: 2001:db8::1 -> proxy 2001:db8::5 -> origin 2001:db8::9 */
static const struct ep ep6_front = { 6, V6(0, 1), 40001, V6(0, 5), 3128, 1 };
static const struct ep ep6_back = { 6, V6(0, 5), 50001, V6(0, 9), 80, 0 };
/* IPv6, two addresses: 2001:db8:1::5 for clients, 2001:db8:2::5 upstream */
static const struct ep ep6_front2 = { 6, V6(0, 1), 40001, V6(1, 5), 3128, 0 };
static const struct ep ep6_back2 = { 6, V6(2, 5), 50001, V6(0, 9), 80, 1 };

static void mkflow(struct flow *f, const struct ep *e, uint64_t id)
{
    memset(f, 0, sizeof *f);
    f->key.family = e->family;
    memcpy(f->key.addr[e->client_ep], e->cli, sizeof e->cli);
    memcpy(f->key.addr[!e->client_ep], e->srv, sizeof e->srv);
    f->key.port[e->client_ep] = e->cport;
    f->key.port[!e->client_ep] = e->sport;
    f->client_ep = e->client_ep;
    f->slot = (uint32_t)id;
    f->id = id;
}

/* ---- legs: an exchange told by how it differs from the common pair ------------------ */

/* A moment in milliseconds from BASE_US; left out: the common pair's. */
struct at {
    int8_t state; /* 0 default, 1 at ms, 2 never seen */
    double ms;
};
#define AT(t) { 1, (t) }
#define NEVER { 2, 0 }

#define NO_STATUS 1   /* leg.status: no final answer */
#define NO_BODY (-1)  /* leg.body: no body bytes */

/* The common pair: F is "POST http://origin.example/upload" with Expect: 100-continue
 * and 5000 bytes, B is "POST /upload" on Host origin.example, the same body; F's times
 * are 0 start, 1 header end, 22 the 100, 23-40 the body, 80 the final 200; B's are 5, 6,
 * 20 (its 100, relayed), 25-45, 75. Both answers say "Server: nginx/1.25.3". */
struct leg {
    const char *method;    /* "POST" */
    const char *uri;       /* F "http://origin.example/upload", B "/upload" */
    const char *host;      /* "origin.example"; "": no Host */
    const char *version;   /* "1.1" */
    bool no_expect;
    const char *cl;        /* "5000"; "": no Content-Length */
    bool chunked;
    int64_t body;          /* body bytes: 0 the common 5000; NO_BODY */
    bool req_open;         /* the request was cut off */
    const char *req_hdrs;  /* more request lines, each with its CRLF */
    uint16_t status;       /* 200; NO_STATUS */
    const char *resp_hdrs; /* the final block's lines: "Server: nginx/1.25.3\r\n" */
    struct at start, hdr, c100, body_first, body_last, final, end;
};

static uint64_t us_at(double ms)
{
    double us = ms * 1000.0;
    return (uint64_t)((int64_t)BASE_US + (int64_t)(us < 0 ? us - 0.5 : us + 0.5));
}

/* Resolve a moment: *ms and true when seen. */
static bool moment(struct at a, double dflt, bool dflt_seen, double *ms)
{
    if (a.state == 1) {
        *ms = a.ms;
        return true;
    }
    if (a.state == 2)
        return false;
    *ms = dflt;
    return dflt_seen;
}

static void text(struct exchange *x, enum xfield f, const char *s)
{
    if (!sbuf_add(&x->s[f], s, strlen(s)))
        CHECK(!"a leg's text fits its buffer");
}

static void build_leg(struct exchange *x, const struct leg *l, bool front, uint64_t id,
                      const struct flow *f)
{
    exchange_reset(x);
    x->id = id;
    x->flow_id = f->id;
    x->has_request = true;
    const char *method = l->method ? l->method : "POST";
    const char *uri = l->uri ? l->uri : front ? "http://origin.example/upload" : "/upload";
    const char *host = l->host ? l->host : "origin.example";
    const char *ver = l->version ? l->version : "1.1";
    const char *cl = l->cl ? l->cl : "5000";
    text(x, XS_METHOD, method);
    text(x, XS_URI, uri);
    if (*host)
        text(x, XS_HOST, host);
    x->http_major = (uint8_t)(ver[0] - '0');
    x->http_minor = (uint8_t)(ver[2] - '0');
    x->has_expect = !l->no_expect;
    if (x->has_expect)
        text(x, XS_EXPECT, "100-continue");
    x->has_content_length = *cl != '\0';
    x->content_length = *cl ? strtoull(cl, NULL, 10) : 0;
    x->chunked = l->chunked;
    x->body_bytes = l->body == NO_BODY ? 0 : l->body ? (uint64_t)l->body : 5000;
    x->body_declared = x->chunked || x->content_length > 0;

    char raw[2048];
    int n = snprintf(raw, sizeof raw, "%s %s HTTP/%s\r\n", method, uri, ver);
    if (*host)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "Host: %s\r\n", host);
    if (x->has_expect)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "Expect: 100-continue\r\n");
    if (*cl)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "Content-Length: %s\r\n", cl);
    if (l->chunked)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "Transfer-Encoding: chunked\r\n");
    snprintf(raw + n, sizeof raw - (size_t)n, "%s\r\n", l->req_hdrs ? l->req_hdrs : "");
    text(x, XS_RAW_REQUEST, raw);
    /* what the dissector keeps of the forwarding headers (h1.c): X-Forwarded-For lines
     * joined with ", ", and whether there was a Via */
    struct hblock_iter it;
    const char *fname, *fval;
    size_t fnl, fvl;
    hblock_iter_init(&it, raw, strlen(raw));
    while (hblock_next(&it, &fname, &fnl, &fval, &fvl)) {
        if (hblock_name_is(fname, fnl, "X-Forwarded-For")) {
            if (x->s[XS_XFF].len)
                sbuf_add(&x->s[XS_XFF], ", ", 2);
            x->s[XS_XFF].set = true;
            sbuf_add(&x->s[XS_XFF], fval, fvl);
        } else if (hblock_name_is(fname, fnl, "Via")) {
            x->req_via = true;
        }
    }

    double start = 0, hdr = 0, c100 = 0, bf = 0, bl = 0, fin = 0, end = 0;
    moment(l->start, front ? 0 : 5, true, &start);
    moment(l->hdr, start + 1, true, &hdr);
    bool has_100 = moment(l->c100, front ? 22 : 20, true, &c100);
    bool has_body = x->body_bytes > 0;
    bool has_bf = moment(l->body_first, front ? 23 : 25, has_body, &bf);
    bool has_bl = moment(l->body_last, front ? 40 : 45, has_body, &bl);
    x->status = l->status == NO_STATUS ? 0 : l->status ? l->status : 200;
    bool has_final = moment(l->final, front ? 80 : 75, x->status != 0, &fin);
    double last = hdr;
    if (has_100 && c100 > last)
        last = c100;
    if (has_bl && bl > last)
        last = bl;
    if (has_final && fin > last)
        last = fin;
    moment(l->end, last + 1, true, &end);

    x->t_start_us = us_at(start);
    x->t_hdr_us = us_at(hdr);
    x->t_100_us = has_100 ? us_at(c100) : 0;
    x->t_body_first_us = has_bf ? us_at(bf) : 0;
    x->t_body_last_us = has_bl ? us_at(bl) : 0;
    x->t_final_us = has_final ? us_at(fin) : 0;
    x->t_end_us = us_at(end);
    x->req_complete = !l->req_open;

    if (has_100) {
        x->interim[0] = 100;
        x->n_interim = 1;
        text(x, XS_RAW_INTERIM, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (x->status) {
        x->resp_major = 1;
        x->resp_minor = 1;
        x->resp_complete = true;
        snprintf(raw, sizeof raw, "HTTP/1.1 %u X\r\n%s\r\n", x->status,
                 l->resp_hdrs ? l->resp_hdrs : "Server: nginx/1.25.3\r\n");
        text(x, XS_RAW_RESPONSE, raw);
    }
}

/* ---- pairs ------------------------------------------------------------------------ */

struct pair_case {
    const char *name;
    struct leg f, b;
    const struct ep *fe, *be;   /* NULL: ep_front, ep_back */
    bool linked;
    /* when linked */
    const char *findings;
    double wait, proxy, upstream; /* client_wait_ms, proxy_ms, upstream_ms */
    const char *by;             /* F's answered_by: NULL "origin" */
    const char *product;        /* F's intermediary: NULL "proxy" */
    const char *evidence;       /* a prefix of F's path_evidence: NULL ORIGIN_EV */
    const char *bug;
};

#define ORIGIN_EV "relayed from upstream 10.0.0.9 (exchange 2)"
#define LINK(fnd, w, p, u) .linked = true, .findings = (fnd), .wait = (w), .proxy = (p), \
                           .upstream = (u)
#define COMMON_LINK LINK("relayed_100", 22, 5, 14)
#define GET_LEG .method = "GET", .no_expect = true, .cl = "", .body = NO_BODY, .c100 = NEVER

static const struct pair_case pairs[] = {
    /* ---- what the proxy did ---- */
    { "the upstream's 100 relayed", COMMON_LINK },
    { "answered_100: the proxy's own 100, none upstream",
      .f = { .c100 = AT(3), .body_first = AT(4), .body_last = AT(20) },
      .b = { .c100 = NEVER }, LINK("answered_100", 3, 5, 69) },
    { "answered_100: the proxy's 100 came 17 ms before the upstream's",
      .f = { .c100 = AT(3), .body_first = AT(4), .body_last = AT(20) },
      LINK("answered_100", 3, 5, 14) },
    { "relayed_100: the client's 100 10 ms before the upstream's (the slack)",
      .f = { .c100 = AT(10), .body_first = AT(11), .body_last = AT(30) },
      LINK("relayed_100", 10, 5, 14) },
    { "answered_100: the client's 100 10.001 ms before the upstream's",
      .f = { .c100 = AT(9.999), .body_first = AT(11), .body_last = AT(30) },
      LINK("answered_100", 10, 5, 14) },
    { "dropped_100: the upstream's 100 never reached the client",
      .f = { .c100 = NEVER, .body_first = AT(1001), .body_last = AT(1010), .final = AT(1100) },
      .b = { .body_first = AT(1002), .body_last = AT(1011), .final = AT(1090) },
      LINK("dropped_100", 1000, 5, 14) },
    { "stripped_expect: the client waited 1 s, no 100 anywhere",
      .f = { .c100 = NEVER, .body_first = AT(1001), .body_last = AT(1010), .final = AT(1100) },
      .b = { .no_expect = true, .c100 = NEVER, .body_first = AT(1002), .body_last = AT(1011),
             .final = AT(1090) },
      LINK("stripped_expect", 1000, 5, 1084) },
    { "answered_100 and stripped_expect",
      .f = { .c100 = AT(2), .body_first = AT(3), .body_last = AT(20) },
      .b = { .no_expect = true, .c100 = NEVER, .body_first = AT(4), .body_last = AT(22) },
      LINK("answered_100,stripped_expect", 2, 5, 69) },
    { "added_expect: the upstream request has an Expect the client's had not",
      .f = { .no_expect = true, .c100 = NEVER, .body_first = AT(1.5), .body_last = AT(10) },
      .b = { .c100 = NEVER }, LINK("added_expect", 0.5, 5, 69) },
    { "answered_final: the proxy's 502 for the upstream's 500",
      .f = { .status = 502 }, .b = { .status = 500 },
      LINK("relayed_100,answered_final", 22, 5, 14), .by = "intermediary",
      .evidence = "the proxy answered 502; upstream 10.0.0.9 answered 500 (exchange 2)" },
    { "answered_final: the client's 200 came 45 ms before the upstream's",
      .f = { .body_last = AT(28), .final = AT(30) },
      LINK("relayed_100,answered_final", 22, 5, 14), .by = "intermediary",
      .evidence = "the proxy answered 200; upstream 10.0.0.9 answered 200 (exchange 2)" },
    { "not answered_final: the client's 200 10 ms before the upstream's (the slack)",
      .f = { .final = AT(65) }, COMMON_LINK },
    { "buffered_body: nginx's own 100, the whole body, then upstream without Expect",
      .f = { .c100 = AT(2), .body_first = AT(3), .body_last = AT(40) },
      .b = { .no_expect = true, .start = AT(40), .c100 = NEVER, .body_first = AT(42),
             .body_last = AT(45) },
      LINK("answered_100,stripped_expect,buffered_body", 2, 40, 34) },
    { "not buffered_body: upstream began 1 us before the client's last body byte",
      .f = { .c100 = AT(2), .body_first = AT(3), .body_last = AT(40) },
      .b = { .no_expect = true, .start = AT(39.999), .c100 = NEVER, .body_first = AT(42),
             .body_last = AT(45) },
      LINK("answered_100,stripped_expect", 2, 39.999, 34.001) },
    { "http10_upstream",
      .f = { .c100 = AT(2), .body_first = AT(3), .body_last = AT(20) },
      .b = { .version = "1.0", .no_expect = true, .c100 = NEVER },
      LINK("answered_100,stripped_expect,http10_upstream", 2, 5, 69) },
    { "no findings: a GET", .f = { GET_LEG }, .b = { GET_LEG }, LINK("", -1, 5, 69) },
    { "answered_by: a second intermediary upstream made the answer (X-Cache HIT)",
      .f = { .resp_hdrs = "Via: 1.1 gw.example\r\n" },
      .b = { .resp_hdrs = "X-Cache: HIT from cache2.example\r\n" }, COMMON_LINK,
      .by = "intermediary", .product = "squid",
      .evidence = "relayed from upstream 10.0.0.9, whose answer squid made" },
    { "answered_by: origin, the proxy named by its own Via",
      .f = { .resp_hdrs = "Via: 1.1 gw.example (squid/5.7)\r\n" }, COMMON_LINK,
      .product = "squid" },
    { "gateway_error: the proxy's 504, the upstream never answered",
      .f = { GET_LEG, .status = 504, .final = AT(30000) },
      .b = { GET_LEG, .status = NO_STATUS, .end = AT(30000) },
      LINK("gateway_error", -1, 5, -1), .by = "intermediary",
      .evidence = "the proxy answered 504", .bug = "BUG-3" },

    /* ---- a proxy with an address on each network ---- */
    { "two addresses: B's X-Forwarded-For is F's client", .fe = &ep_front2, .be = &ep_back2,
      .b = { .req_hdrs = "X-Forwarded-For: 10.0.1.1\r\n" }, COMMON_LINK },
    { "two addresses: B's X-Forwarded-For ends with F's client", .fe = &ep_front2,
      .be = &ep_back2, .b = { .req_hdrs = "X-Forwarded-For: 192.0.2.7,10.0.1.1\r\n" },
      COMMON_LINK },
    { "two addresses: B carries Via", .fe = &ep_front2, .be = &ep_back2,
      .b = { .req_hdrs = "Via: 1.1 proxy-a.example (squid/5.7)\r\n" }, COMMON_LINK },
    { "two addresses: nothing says B was forwarded", .fe = &ep_front2, .be = &ep_back2 },
    { "two addresses: B's X-Forwarded-For ends with another client", .fe = &ep_front2,
      .be = &ep_back2, .b = { .req_hdrs = "X-Forwarded-For: 10.0.1.1, 10.0.1.99\r\n" } },
    { "two addresses: an unparsable X-Forwarded-For says forwarded by nothing",
      .fe = &ep_front2, .be = &ep_back2, .b = { .req_hdrs = "X-Forwarded-For: unknown\r\n" } },

    /* ---- X-Forwarded-For through a single-address proxy ---- */
    { "X-Forwarded-For names F's client", .b = { .req_hdrs = "X-Forwarded-For: 10.0.0.1\r\n" },
      COMMON_LINK },
    { "X-Forwarded-For names another client",
      .b = { .req_hdrs = "X-Forwarded-For: 10.0.0.77\r\n" } },
    { "X-Forwarded-For names F's client first and another last",
      .b = { .req_hdrs = "X-Forwarded-For: 10.0.0.1, 10.0.0.77\r\n" } },

    /* ---- target and Host ---- */
    { "Host rewritten to the upstream's address", .b = { .host = "10.0.0.9" }, COMMON_LINK },
    { "Host rewritten to the upstream's address and default port",
      .b = { .host = "10.0.0.9:80" }, COMMON_LINK },
    { "Host different otherwise", .b = { .host = "www.example" } },
    { "Host of another address", .b = { .host = "10.0.0.10" } },
    { "absolute-form with the default port", .f = { .uri = "http://origin.example:80/upload" },
      COMMON_LINK },
    { "origin-form front (a reverse proxy), its Host with the default port",
      .f = { .uri = "/upload", .host = "origin.example:80" }, COMMON_LINK },
    { "Host in another case", .b = { .host = "ORIGIN.Example" }, COMMON_LINK },
    { "no Host upstream", .b = { .host = "" }, COMMON_LINK },
    { "upstream on 8080, Host with that port", .be = &ep_back_8080,
      .b = { .host = "10.0.0.9:8080" }, COMMON_LINK },
    { "upstream on 8080, Host with another port", .be = &ep_back_8080,
      .b = { .host = "10.0.0.9:8081" } },
    { "the query is part of the path", .b = { .uri = "/upload?x=1" } },
    { "the same query on both", .f = { .uri = "http://origin.example/upload?x=1" },
      .b = { .uri = "/upload?x=1" }, COMMON_LINK },
    { "an absolute-form target without a path is /", .f = { .uri = "http://origin.example" },
      .b = { .uri = "/" }, COMMON_LINK },
    { "another path", .b = { .uri = "/upload2" } },
    { "methods differ", .b = { .method = "PUT" } },

    /* ---- body lengths ---- */
    { "Content-Length differs", .b = { .cl = "4000", .body = 4000 } },
    { "chunked front, Content-Length upstream, equal bytes", .f = { .cl = "", .chunked = true },
      COMMON_LINK },
    { "Content-Length front, chunked upstream", .b = { .cl = "", .chunked = true },
      COMMON_LINK },
    { "chunked front of 3000 bytes, Content-Length 5000 upstream",
      .f = { .cl = "", .chunked = true, .body = 3000 } },
    { "chunked front cut off: its length unknown", .f = { .cl = "", .chunked = true,
      .body = 3000, .req_open = true }, COMMON_LINK },

    /* ---- time ---- */
    { "B began 10.001 ms before F", .b = { .start = AT(-10.001) } },
    { "B began 10 ms before F (the slack)", .b = { .start = AT(-10) },
      LINK("relayed_100", 22, 0, 29) },
    { "B began 10.001 ms after F ended",
      .b = { .start = AT(91.001), .c100 = NEVER, .body_first = AT(92.5), .body_last = AT(95),
             .final = AT(120) } },
    { "B began 10 ms after F ended (the slack)",
      .b = { .start = AT(91), .c100 = NEVER, .body_first = AT(92.5), .body_last = AT(95),
             .final = AT(120) },
      LINK("answered_100,answered_final", 22, 91, 28), .by = "intermediary",
      .evidence = "the proxy answered 200; upstream 10.0.0.9 answered 200 (exchange 2)" },

    /* ---- IPv6 ---- */
    { "IPv6 single-address proxy", .fe = &ep6_front, .be = &ep6_back, COMMON_LINK,
      .evidence = "relayed from upstream 2001:db8::9 (exchange 2)" },
    { "IPv6 two addresses, X-Forwarded-For F's client", .fe = &ep6_front2, .be = &ep6_back2,
      .b = { .req_hdrs = "X-Forwarded-For: 2001:db8::1\r\n" }, COMMON_LINK,
      .evidence = "relayed from upstream 2001:db8::9 (exchange 2)" },
    { "IPv6 two addresses, X-Forwarded-For another client", .fe = &ep6_front2,
      .be = &ep6_back2, .b = { .req_hdrs = "X-Forwarded-For: 2001:db8::77\r\n" } },
    { "IPv6 Host rewritten to the upstream's address", .fe = &ep6_front, .be = &ep6_back,
      .b = { .host = "[2001:db8::9]" }, COMMON_LINK,
      .evidence = "relayed from upstream 2001:db8::9 (exchange 2)" },
    { "IPv6 Host rewritten to the upstream's address and port", .fe = &ep6_front,
      .be = &ep6_back, .b = { .host = "[2001:db8::9]:80" }, COMMON_LINK,
      .evidence = "relayed from upstream 2001:db8::9 (exchange 2)" },
    { "IPv4 front, IPv6 back, X-Forwarded-For names F's client", .fe = &ep_front2,
      .be = &ep6_back2, .b = { .req_hdrs = "X-Forwarded-For: 10.0.1.1\r\n" }, COMMON_LINK,
      .evidence = "relayed from upstream 2001:db8::9 (exchange 2)", .bug = "BUG-4" },
    { "IPv4 front, IPv6 back with Via, X-Forwarded-For names another client",
      .fe = &ep_front2, .be = &ep6_back2,
      .b = { .req_hdrs = "Via: 1.1 gw.example\r\nX-Forwarded-For: 10.0.1.77\r\n" },
      .bug = "BUG-4" },

    /* ---- a proxy behind another one ---- */
    { "the client's request already carries Via (a CDN in front of the proxy)",
      .f = { .req_hdrs = "Via: 1.1 cdn-edge.example\r\n" },
      .b = { .req_hdrs = "Via: 1.1 cdn-edge.example, 1.1 gw.example\r\n" }, COMMON_LINK,
      .bug = "BUG-7" },
};

static void run_pair(const struct pair_case *c, bool back_first)
{
    snprintf(label, sizeof label, "%s%s: %s (%s first)", c->bug ? c->bug : "pair",
             c->bug ? " (pair)" : "", c->name, back_first ? "B" : "F");
    check_case(label);
    const struct ep *fe = c->fe ? c->fe : &ep_front, *be = c->be ? c->be : &ep_back;
    struct flow ff, fb;
    mkflow(&ff, fe, 101);
    mkflow(&fb, be, 102);
    struct exchange xf, xbk;
    exchange_init(&xf);
    exchange_init(&xbk);
    build_leg(&xf, &c->f, true, 1, &ff);
    build_leg(&xbk, &c->b, false, 2, &fb);
    struct fingerprint fpf, fpb; /* what each says on its own */
    fingerprint_exchange(&xf, &fpf);
    fingerprint_exchange(&xbk, &fpb);

    struct run R;
    run_init(&R, 2);
    struct hop_result rf, rb;
    if (back_first) {
        feed(&R, &fb, &xbk, &rb);
        feed(&R, &ff, &xf, &rf);
    } else {
        feed(&R, &ff, &xf, &rf);
        feed(&R, &fb, &xbk, &rb);
    }
    drain(&R);
    const struct hops_stats *st = hops_stats(R.h);
    CHECK_EQ(st->ambiguous, 0);
    CHECK_EQ(st->proxy_answers, 0);
    CHECK_EQ(st->evicted, 0);

    if (c->linked) {
        CHECK_EQ(st->linked, 1);
        CHECK_EQ(R.n_hops, 1);
        const struct hop *hop = find_hop(&R, 1, 2);
        CHECK(hop != NULL);
        if (hop) {
            CHECK_STR(findings(hop->findings), c->findings);
            CHECK_MS(hop->client_wait_ms, c->wait);
            CHECK_MS(hop->proxy_ms, c->proxy);
            CHECK_MS(hop->upstream_ms, c->upstream);
            CHECK_EQ(hop->family, fe->family);
            CHECK_MEM(hop->proxy_ip, fe->family == 4 ? 4 : 16, fe->srv,
                      fe->family == 4 ? 4 : 16);
        }
        /* which call says it */
        const struct hop_result *with = back_first ? &rf : &rb;
        const struct hop_result *without = back_first ? &rb : &rf;
        CHECK_EQ(with->n_hops, 1);
        CHECK_EQ(without->n_hops, 0);
        CHECK_EQ(without->n_updates, 0);
        if (back_first) {
            CHECK_EQ(rf.n_updates, 0); /* F's own fields are set in its call */
            CHECK_EQ(R.rec[1].updates, 0);
        } else {
            CHECK_EQ(rb.n_updates, 1); /* F's row, handed on already, is updated */
            CHECK_EQ(rb.n_updates >= 1 ? rb.updates[0].exchange_id : 0, 1);
            CHECK_EQ(R.rec[1].updates, 1);
        }
        CHECK_STR(answered_by_name((enum answered_by)R.rec[1].by),
                  c->by ? c->by : "origin");
        CHECK_STR(str_or_null(R.rec[1].product), c->product ? c->product : "proxy");
        CHECK_PREFIX(R.rec[1].evidence, c->evidence ? c->evidence : ORIGIN_EV);
    } else {
        CHECK_EQ(st->linked, 0);
        CHECK_EQ(R.n_hops, 0);
        CHECK_EQ(R.n_updates, 0);
        CHECK_EQ(R.rec[1].by, fpf.by); /* F keeps what its own headers say */
        CHECK_STR(str_or_null(R.rec[1].product), str_or_null(fpf.intermediary));
        CHECK_STR(R.rec[1].evidence, fpf.evidence);
    }
    /* B's own row is never changed by being an upstream leg */
    CHECK_EQ(R.rec[2].by, fpb.by);
    CHECK_STR(str_or_null(R.rec[2].product), str_or_null(fpb.intermediary));
    CHECK_EQ(R.rec[2].updates, 0);
    check_ledger(&R);
    run_fini(&R);
    exchange_fini(&xf);
    exchange_fini(&xbk);
}

static void test_pairs(void)
{
    for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
        run_pair(&pairs[i], true);
        run_pair(&pairs[i], false);
    }
}

/* ---- sequences ---------------------------------------------------------------------- */

static struct exchange xs; /* reused by every step */

static void step(struct run *R, const struct ep *ep, const struct leg *l, bool front,
                 uint64_t id, struct hop_result *out)
{
    struct flow f;
    mkflow(&f, ep, 1000 + id);
    build_leg(&xs, l, front, id, &f);
    feed(R, &f, &xs, out);
}

static const struct ep ep_client2 = { 4, V4(10, 0, 0, 2), 40002, V4(10, 0, 0, 5), 3128, 0 };
static const struct ep ep_back_b = { 4, V4(10, 0, 0, 5), 50002, V4(10, 0, 0, 9), 80, 0 };
/* direct: client 10.0.0.3 to a server that is nobody's proxy */
static const struct ep ep_direct = { 4, V4(10, 0, 0, 3), 40003, V4(10, 0, 0, 8), 80, 0 };

/* A linked pair on its own path, so that 10.0.0.5 is known as a proxy: ids 1 and 2. */
static void learn_proxy(struct run *R)
{
    static const struct leg f0 = { .uri = "http://origin.example/learn" };
    static const struct leg b0 = { .uri = "/learn" };
    step(R, &ep_front, &f0, true, 1, NULL);
    step(R, &ep_back, &b0, false, 2, NULL);
    CHECK_EQ(hops_stats(R->h)->linked, 1);
}

static void test_ambiguity(void)
{
    static const struct leg f = { 0 }, b = { 0 };
    struct run R;

    check_case("ambiguity: two identical fronts from two clients, one back");
    run_init(&R, 10);
    step(&R, &ep_front, &f, true, 3, NULL);
    step(&R, &ep_client2, &f, true, 4, NULL);
    struct hop_result r;
    step(&R, &ep_back, &b, false, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    CHECK_EQ(hops_stats(R.h)->ambiguous, 1);
    CHECK_EQ(hops_stats(R.h)->linked, 0);
    drain(&R);
    CHECK_EQ(R.n_hops, 0); /* the proxy is not known: nothing at the end either */
    CHECK_EQ(R.n_updates, 0);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "unknown");
    CHECK_STR(answered_by_name((enum answered_by)R.rec[4].by), "unknown");
    check_ledger(&R);
    run_fini(&R);

    check_case("ambiguity: two identical backs, then one front");
    run_init(&R, 10);
    step(&R, &ep_back, &b, false, 3, NULL);
    step(&R, &ep_back_b, &b, false, 4, NULL);
    step(&R, &ep_front, &f, true, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    CHECK_EQ(hops_stats(R.h)->ambiguous, 1);
    CHECK_EQ(hops_stats(R.h)->linked, 0);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[5].by), "unknown");
    CHECK_STR(R.rec[5].evidence, "no intermediary in the headers");
    drain(&R);
    CHECK_EQ(R.n_hops, 0);
    check_ledger(&R);
    run_fini(&R);

    /* A partner that comes after the link: the first is kept, never a second link. */
    check_case("ambiguity: front, back, a second identical front: one link at most");
    run_init(&R, 10);
    step(&R, &ep_front, &f, true, 3, NULL);
    step(&R, &ep_back, &b, false, 4, NULL);
    step(&R, &ep_client2, &f, true, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    drain(&R);
    CHECK_EQ(count_hops(&R, 5, 4), 0);
    CHECK(count_hops(&R, 3, 4) <= 1);
    check_ledger(&R);
    run_fini(&R);

    check_case("ambiguity: front, back, a second identical back: one link at most");
    run_init(&R, 10);
    step(&R, &ep_front, &f, true, 3, NULL);
    step(&R, &ep_back, &b, false, 4, NULL);
    step(&R, &ep_back_b, &b, false, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    drain(&R);
    CHECK(R.n_hops <= 1);
    CHECK_EQ(count_hops(&R, 3, 5), 0);
    CHECK(R.rec[3].updates <= 1);
    check_ledger(&R);
    run_fini(&R);

    /* The same, through a proxy already known: an ambiguous front is still not decided. */
    check_case("BUG-2: ambiguity through a known proxy: two fronts, one back");
    run_init(&R, 10);
    learn_proxy(&R);
    step(&R, &ep_front, &f, true, 3, NULL);
    step(&R, &ep_client2, &f, true, 4, NULL);
    step(&R, &ep_back, &b, false, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(hops_stats(R.h)->ambiguous, 1);
    drain(&R);
    CHECK_EQ(count_hops(&R, 3, UINT64_MAX), 0);  /* BUG-2: answered_final, back 0 */
    CHECK_EQ(count_hops(&R, 4, UINT64_MAX), 0);  /* BUG-2 */
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "unknown"); /* BUG-2 */
    CHECK_STR(answered_by_name((enum answered_by)R.rec[4].by), "unknown"); /* BUG-2 */
    CHECK_EQ(hops_stats(R.h)->proxy_answers, 0); /* BUG-2 */
    check_ledger(&R);
    run_fini(&R);

    check_case("BUG-2: ambiguity through a known proxy: two backs, one front");
    run_init(&R, 10);
    learn_proxy(&R);
    step(&R, &ep_back, &b, false, 3, NULL);
    step(&R, &ep_back_b, &b, false, 4, NULL);
    step(&R, &ep_front, &f, true, 5, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(hops_stats(R.h)->ambiguous, 1);
    drain(&R);
    CHECK_EQ(count_hops(&R, 5, UINT64_MAX), 0);  /* BUG-2 */
    CHECK_STR(answered_by_name((enum answered_by)R.rec[5].by), "unknown"); /* BUG-2 */
    check_ledger(&R);
    run_fini(&R);
}

static void test_known_proxy(void)
{
    struct run R;
    struct hop_result r;

    check_case("known proxy: a front that never gets a back, answered at hops_drain");
    run_init(&R, 10);
    learn_proxy(&R);
    CHECK_EQ(R.n_hops, 1);
    static const struct leg f3 = { .uri = "http://origin.example/alone", .c100 = AT(2),
                                   .body_first = AT(3), .body_last = AT(20), .status = 413,
                                   .resp_hdrs = "Via: 1.1 gw.example (squid/5.7)\r\n" };
    step(&R, &ep_front, &f3, true, 3, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "unknown"); /* for now */
    /* a direct exchange to a server nobody knows as a proxy, and a front to the known
     * proxy that got no final answer: neither is decided at the end */
    static const struct leg d = { .uri = "/direct", .status = 200 };
    step(&R, &ep_direct, &d, true, 4, NULL);
    static const struct leg f5 = { .uri = "http://origin.example/unanswered",
                                   .status = NO_STATUS };
    step(&R, &ep_front, &f5, true, 5, NULL);
    drain(&R);
    CHECK_EQ(R.n_hops, 2);
    const struct hop *hop = find_hop(&R, 3, 0);
    CHECK(hop != NULL);
    if (hop) {
        CHECK_STR(findings(hop->findings), "answered_100,answered_final");
        CHECK_MS(hop->client_wait_ms, 2);
        CHECK_MS(hop->proxy_ms, -1);
        CHECK_MS(hop->upstream_ms, -1);
        CHECK_EQ(hop->family, 4);
        CHECK_MEM(hop->proxy_ip, 4, ep_front.srv, 4);
    }
    CHECK_EQ(R.rec[3].updates, 1);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "intermediary");
    CHECK_STR(str_or_null(R.rec[3].product), "squid");
    CHECK_STR(R.rec[3].evidence, "answered 413 by the proxy itself; no upstream exchange");
    CHECK_EQ(count_hops(&R, 4, UINT64_MAX), 0);
    CHECK_EQ(R.rec[4].updates, 0);
    CHECK_EQ(count_hops(&R, 5, UINT64_MAX), 0);
    CHECK_EQ(R.rec[5].updates, 0);
    CHECK_EQ(count_hops(&R, 1, 0), 0); /* the linked front is not answered again */
    CHECK_EQ(R.rec[1].updates, 1);     /* only by its link (F first) */
    CHECK_EQ(hops_stats(R.h)->proxy_answers, 1);
    check_ledger(&R);
    run_fini(&R);

    check_case("known proxy: a front to an address not known as a proxy");
    run_init(&R, 10);
    static const struct leg lone = { 0 };
    step(&R, &ep_front, &lone, true, 1, NULL);
    drain(&R);
    CHECK_EQ(R.n_hops, 0);
    CHECK_EQ(R.n_updates, 0);
    CHECK_EQ(hops_stats(R.h)->proxy_answers, 0);
    check_ledger(&R);
    run_fini(&R);

    check_case("known proxy: the fronts before the link that taught it are answered too");
    run_init(&R, 10);
    static const struct leg early = { .uri = "http://origin.example/early" };
    step(&R, &ep_client2, &early, true, 3, NULL); /* before the proxy is known */
    learn_proxy(&R);
    drain(&R);
    CHECK(find_hop(&R, 3, 0) != NULL);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "intermediary");
    CHECK_STR(str_or_null(R.rec[3].product), "proxy");
    check_ledger(&R);
    run_fini(&R);

    check_case("known proxy: IPv6");
    run_init(&R, 10);
    {
        static const struct leg f0 = { .uri = "http://origin.example/learn" };
        static const struct leg b0 = { .uri = "/learn" };
        static const struct leg f6 = { .uri = "http://origin.example/alone", .status = 403 };
        step(&R, &ep6_front, &f0, true, 1, NULL);
        step(&R, &ep6_back, &b0, false, 2, NULL);
        step(&R, &ep6_front, &f6, true, 3, NULL);
    }
    drain(&R);
    CHECK_EQ(R.n_hops, 2);
    hop = find_hop(&R, 3, 0);
    CHECK(hop != NULL);
    if (hop) {
        CHECK_EQ(hop->family, 6);
        CHECK_MEM(hop->proxy_ip, 16, ep6_front.srv, 16);
        CHECK_STR(findings(hop->findings), "answered_100,answered_final");
    }
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "intermediary");
    check_ledger(&R);
    run_fini(&R);
}

static void test_window(void)
{
    struct run R;
    struct hop_result r;
    const double window_ms = HOPS_WINDOW_US / 1000.0;

    check_case("window: a front leaves it when a later exchange ends 60 s after it");
    run_init(&R, 10);
    learn_proxy(&R);
    static const struct leg f3 = { .uri = "http://origin.example/late", .start = AT(1000),
                                   .c100 = NEVER, .body_first = AT(1001), .body_last = AT(1002),
                                   .final = AT(1500), .end = AT(1600) };
    step(&R, &ep_front, &f3, true, 3, &r);
    /* ends exactly HOPS_WINDOW_US after f3: f3 stays */
    struct leg x4 = { .uri = "/x4", .start = AT(1600 + window_ms - 10),
                      .end = AT(1600 + window_ms) };
    step(&R, &ep_direct, &x4, true, 4, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    CHECK_EQ(R.rec[3].updates, 0);
    /* ends 1 us later: f3 is retired in this call, its answer decided then */
    struct leg x5 = { .uri = "/x5", .start = AT(1600 + window_ms - 10),
                      .end = AT(1600 + window_ms + 0.001) };
    step(&R, &ep_direct, &x5, true, 5, &r);
    CHECK_EQ(r.n_hops, 1);
    CHECK_EQ(r.n_updates, 1);
    CHECK_EQ(r.n_hops >= 1 ? r.hops[0].front_id : 0, 3);
    CHECK_EQ(r.n_hops >= 1 ? r.hops[0].back_id : 1, 0);
    CHECK_STR(findings(r.n_hops >= 1 ? r.hops[0].findings : 0), "answered_final");
    CHECK_EQ(r.n_updates >= 1 ? r.updates[0].exchange_id : 0, 3);
    CHECK_STR(answered_by_name((enum answered_by)R.rec[3].by), "intermediary");
    CHECK_EQ(hops_stats(R.h)->proxy_answers, 1);
    /* its back, handed in only now, finds nothing */
    static const struct leg b6 = { .uri = "/late", .start = AT(1005), .c100 = NEVER,
                                   .body_first = AT(1006), .body_last = AT(1007),
                                   .final = AT(1400) };
    step(&R, &ep_back, &b6, false, 6, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    drain(&R);
    CHECK_EQ(count_hops(&R, 3, UINT64_MAX), 1);
    CHECK_EQ(R.rec[3].updates, 1);
    CHECK_EQ(hops_stats(R.h)->linked, 1);
    CHECK_EQ(hops_stats(R.h)->evicted, 0);
    check_ledger(&R);
    run_fini(&R);

    check_case("window: a back that ended 59 s before its front is still linked");
    run_init(&R, 10);
    static const struct leg fl = { .c100 = NEVER, .body_first = AT(1), .body_last = AT(2),
                                   .final = AT(59000) };
    static const struct leg bl = { .c100 = NEVER, .body_first = AT(6), .body_last = AT(7),
                                   .final = AT(10) };
    step(&R, &ep_back, &bl, false, 2, NULL);
    step(&R, &ep_front, &fl, true, 1, &r);
    CHECK_EQ(r.n_hops, 1);
    drain(&R);
    check_ledger(&R);
    run_fini(&R);
}

/* Fill the window past HOPS_MAX_PENDING with fronts to a known proxy: the oldest are
 * evicted (counted) and each is still answered exactly once, in the call that evicts it
 * or at the end. */
static void test_eviction(void)
{
    enum { N = 70000 };
    check_case("eviction: 70,000 fronts to a known proxy");
    struct run R;
    run_init(&R, N + 2);
    learn_proxy(&R);
    struct leg f = { .method = "GET", .no_expect = true, .cl = "", .body = NO_BODY,
                     .c100 = NEVER };
    char uri[64];
    unsigned long wrong = 0, reported_in_call = 0;
    for (uint32_t i = 0; i < N; i++) {
        snprintf(uri, sizeof uri, "http://origin.example/e/%u", i);
        f.uri = uri;
        f.start = (struct at)AT(1000 + i * 0.01);
        f.final = (struct at)AT(1000 + i * 0.01 + 1.5);
        struct hop_result r;
        uint64_t before = hops_stats(R.h)->evicted;
        step(&R, &ep_front, &f, true, 3 + i, &r);
        if (hops_stats(R.h)->evicted != before)
            reported_in_call += (unsigned long)r.n_hops;
    }
    const struct hops_stats *st = hops_stats(R.h);
    CHECK_EQ(st->evicted, N + 2 - HOPS_MAX_PENDING);
    /* every eviction of a front reported it (the first two were the linked pair) */
    CHECK_EQ(reported_in_call, N + 2 - HOPS_MAX_PENDING - 2);
    drain(&R);
    CHECK_EQ(st->proxy_answers, N);
    CHECK_EQ(st->linked, 1);
    CHECK_EQ(R.n_hops, 1 + N);
    for (uint32_t i = 0; i < N; i++) {
        const struct rec *e = &R.rec[3 + i];
        if (e->updates != 1 || e->by != ANSWERED_INTERMEDIARY)
            wrong++;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(st->by[ANSWERED_INTERMEDIARY], N);
    CHECK_EQ(st->by[ANSWERED_ORIGIN], 1);
    check_ledger(&R);
    run_fini(&R);

    check_case("eviction: 70,000 unrelated exchanges, the window stays bounded");
    run_init(&R, N);
    struct leg d = { .method = "GET", .no_expect = true, .cl = "", .body = NO_BODY,
                     .c100 = NEVER };
    for (uint32_t i = 0; i < N; i++) {
        snprintf(uri, sizeof uri, "/d/%u", i);
        d.uri = uri;
        d.start = (struct at)AT(i * 0.01);
        step(&R, &ep_direct, &d, true, 1 + i, NULL);
    }
    CHECK_EQ(hops_stats(R.h)->evicted, N - HOPS_MAX_PENDING);
    drain(&R);
    CHECK_EQ(R.n_hops, 0);
    CHECK_EQ(hops_stats(R.h)->by[ANSWERED_UNKNOWN], N);
    check_ledger(&R);
    run_fini(&R);
}

/* One method and target, over and over (every upload to POST /upload): the search
 * looks only at exchanges that could overlap the new one, and at most HOPS_MAX_WALK. */
static void test_hot_key(void)
{
    enum { N = 20000, M = 1000 };
    check_case("one key, 20,000 exchanges one after another: the walks stay short");
    struct run R;
    run_init(&R, N + M);
    struct leg d = { .method = "GET", .uri = "/hot", .no_expect = true, .cl = "",
                     .body = NO_BODY, .c100 = NEVER };
    for (uint32_t i = 0; i < N; i++) {
        d.start = (struct at)AT(i * 2.0);
        d.final = (struct at)AT(i * 2.0 + 1);
        step(&R, &ep_direct, &d, true, 1 + i, NULL);
    }
    const struct hops_stats *st = hops_stats(R.h);
    /* each walk looks at the slack's worth of overlapping entries (10 ms: 5 of them),
     * not at the 20,000 before */
    CHECK(st->examined <= (uint64_t)N * 8);
    if (st->examined > (uint64_t)N * 8)
        fprintf(stderr, "    examined %llu entries\n", (unsigned long long)st->examined);
    CHECK_EQ(st->crowded, 0);
    CHECK_EQ(st->linked, 0);
    run_fini(&R);

    check_case("one key, 1,000 exchanges all at once: a walk looks at 256 at most");
    run_init(&R, M);
    for (uint32_t i = 0; i < M; i++) {
        d.start = (struct at)AT(1.0 + i * 0.001);
        d.final = (struct at)AT(5000);
        step(&R, &ep_direct, &d, true, 1 + i, NULL);
    }
    st = hops_stats(R.h);
    CHECK_EQ(st->crowded, M - 257); /* the 258th and later find 257 before them */
    CHECK(st->examined <= (uint64_t)M * 257);
    CHECK_EQ(st->linked, 0);
    run_fini(&R);
}

/* client -> P1 (10.0.0.5) -> P2 (10.0.0.6) -> origin: X is P1's upstream leg and P2's
 * front; handed in last, it is linked both ways in one call. */
static const struct ep ep_p1_p2 = { 4, V4(10, 0, 0, 5), 50010, V4(10, 0, 0, 6), 3128, 0 };
static const struct ep ep_p2_origin = { 4, V4(10, 0, 0, 6), 50020, V4(10, 0, 0, 9), 80, 0 };

/* Each leg relays the 100 of the next, and the final answer; X ends last. */
static const struct leg chain_f = { .uri = "http://origin.example/c", .start = AT(61000),
                                    .c100 = AT(61215), .body_first = AT(61216),
                                    .body_last = AT(61240), .final = AT(61620),
                                    .end = AT(61900) };
static const struct leg chain_x = { .uri = "http://origin.example/c", .start = AT(61002),
                                    .c100 = AT(61212), .body_first = AT(61217),
                                    .body_last = AT(61242), .final = AT(61610),
                                    .end = AT(62000) };
static const struct leg chain_b = { .uri = "/c", .start = AT(61004), .c100 = AT(61210),
                                    .body_first = AT(61218), .body_last = AT(61244),
                                    .final = AT(61600) };

static void check_chain(struct run *R, uint64_t idf, uint64_t idb, uint64_t idx)
{
    const struct hop *h1 = find_hop(R, idf, idx), *h2 = find_hop(R, idx, idb);
    CHECK(h1 != NULL); /* F's upstream leg is X */
    CHECK(h2 != NULL); /* X's upstream leg is B */
    if (h1) {
        CHECK_MEM(h1->proxy_ip, 4, ep_front.srv, 4);
        CHECK_STR(findings(h1->findings), "relayed_100");
    }
    if (h2) {
        CHECK_MEM(h2->proxy_ip, 4, ep_p1_p2.srv, 4);
        CHECK_STR(findings(h2->findings), "relayed_100");
    }
    CHECK_EQ(count_hops(R, idf, UINT64_MAX), 1);
    CHECK_EQ(count_hops(R, idx, UINT64_MAX), 1);
    CHECK_EQ(count_hops(R, idb, UINT64_MAX), 0);
    CHECK_STR(answered_by_name((enum answered_by)R->rec[idf].by), "origin");
    CHECK_STR(answered_by_name((enum answered_by)R->rec[idx].by), "origin");
    CHECK_PREFIX(R->rec[idf].evidence, "relayed from upstream 10.0.0.6");
    CHECK_PREFIX(R->rec[idx].evidence, "relayed from upstream 10.0.0.9");
}

static void test_chain(void)
{
    check_case("chain: client -> P1 -> P2 -> origin, the middle leg last");
    struct run R;
    run_init(&R, 10);
    struct hop_result r;
    step(&R, &ep_p2_origin, &chain_b, false, 3, NULL);
    step(&R, &ep_front, &chain_f, true, 4, NULL);
    step(&R, &ep_p1_p2, &chain_x, false, 5, &r);
    CHECK_EQ(r.n_hops, 2);
    CHECK_EQ(r.n_updates, 1);
    drain(&R);
    check_chain(&R, 4, 3, 5);
    CHECK_EQ(hops_stats(R.h)->linked, 2);
    check_ledger(&R);
    run_fini(&R);
}

/* BUG-1: the window's retirements take the result's room before the exchange's links. */
static void bug1_overflow(void)
{
    check_case("BUG-1: two retirements and a front link in one call");
    struct run R;
    run_init(&R, 10);
    learn_proxy(&R); /* ids 1, 2; ends at 81 ms */
    /* two fronts to the known proxy, no back, ending at 1.8 s and 1.9 s */
    static const struct leg f3 = { GET_LEG, .uri = "http://origin.example/a",
                                   .start = AT(1000), .final = AT(1700), .end = AT(1800) };
    static const struct leg f4 = { GET_LEG, .uri = "http://origin.example/b",
                                   .start = AT(1000), .final = AT(1800), .end = AT(1900) };
    step(&R, &ep_front, &f3, true, 3, NULL);
    step(&R, &ep_client2, &f4, true, 4, NULL);
    /* a back ending at 61.5 s (f3, f4 still in the window), then its front ending at
     * 62 s: that call retires f3 and f4 (two hops, two updates) and links F6 to B5 */
    static const struct leg b5 = { GET_LEG, .uri = "/d", .start = AT(61100),
                                   .final = AT(61400), .end = AT(61500) };
    static const struct leg f6 = { GET_LEG, .uri = "http://origin.example/d",
                                   .start = AT(61000), .final = AT(61450), .end = AT(62000) };
    step(&R, &ep_back, &b5, false, 5, NULL);
    struct hop_result r;
    step(&R, &ep_front, &f6, true, 6, &r);
    CHECK(r.n_hops == 3);                        /* BUG-1: hops[2] was past the array */
    CHECK(r.n_updates == 2);
    if (r.n_hops != 3 || r.n_updates != 2)
        fprintf(stderr, "    the result says n_hops %d, n_updates %d\n", r.n_hops,
                r.n_updates);
    CHECK_STR(answered_by_name((enum answered_by)xs.answered_by), "origin");
    drain(&R);
    CHECK_EQ(count_hops(&R, 6, 5), 1);          /* BUG-1: the link is lost */
    CHECK_EQ(count_hops(&R, 3, 0), 1);
    CHECK_EQ(count_hops(&R, 4, 0), 1);
    CHECK_EQ(R.rec[3].updates, 1);
    CHECK_EQ(R.rec[4].updates, 1);
    CHECK_EQ(hops_stats(R.h)->linked, 2);
    check_ledger(&R);
    run_fini(&R);
}

static void bug1_chain(void)
{
    check_case("BUG-1: one retirement and a chain's two links in one call");
    struct run R;
    run_init(&R, 10);
    learn_proxy(&R);
    /* a front to the known P1 that ends at 1.95 s: retired by the call of X (62 s) */
    static const struct leg f3 = { GET_LEG, .uri = "http://origin.example/a",
                                   .start = AT(1000), .final = AT(1900), .end = AT(1950) };
    step(&R, &ep_client2, &f3, true, 3, NULL);
    step(&R, &ep_p2_origin, &chain_b, false, 4, NULL);
    step(&R, &ep_front, &chain_f, true, 5, NULL);
    struct hop_result r;
    step(&R, &ep_p1_p2, &chain_x, false, 6, &r);
    drain(&R);
    check_chain(&R, 5, 4, 6);                    /* BUG-1: F -> X is dropped */
    CHECK_EQ(count_hops(&R, 3, 0), 1);
    CHECK_EQ(count_hops(&R, 5, 0), 0);           /* BUG-1: F then "answered by P1" */
    CHECK_EQ(hops_stats(R.h)->linked, 3);
    check_ledger(&R);
    run_fini(&R);
}

/* Run fn in a child, so that a crash or an abort of a sanitizer fails one case, not the
 * whole test; its checks are added to ours. */
static void isolated(const char *name, void (*fn)(void))
{
    fflush(NULL);
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(fd[0]);
        unsigned long c0 = check_count, f0 = check_failures;
        fn();
        unsigned long d[2] = { check_count - c0, check_failures - f0 };
        if (write(fd[1], d, sizeof d) != (ssize_t)sizeof d)
            _exit(2);
        fflush(NULL);
        _exit(0);
    }
    close(fd[1]);
    unsigned long d[2] = { 0, 0 };
    ssize_t got = read(fd[0], d, sizeof d);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    check_count += d[0];
    check_failures += d[1];
    check_case(name);
    CHECK(got == (ssize_t)sizeof d && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Counts move with updates: the F-first link takes F from unknown to origin. */
static void test_counts(void)
{
    check_case("counts: an update moves an exchange between answered_by counts");
    struct run R;
    run_init(&R, 10);
    static const struct leg f = { 0 }, b = { 0 };
    step(&R, &ep_front, &f, true, 1, NULL);
    const struct hops_stats *st = hops_stats(R.h);
    CHECK_EQ(st->by[ANSWERED_UNKNOWN], 1);
    CHECK_EQ(st->by[ANSWERED_ORIGIN], 0);
    step(&R, &ep_back, &b, false, 2, NULL);
    CHECK_EQ(st->by[ANSWERED_UNKNOWN], 1); /* B */
    CHECK_EQ(st->by[ANSWERED_ORIGIN], 1);  /* F, moved */
    static const struct leg made = { .uri = "http://origin.example/m", .status = 503,
                                     .resp_hdrs = "X-Squid-Error: ERR_DNS_FAIL 0\r\n" };
    step(&R, &ep_client2, &made, true, 3, NULL);
    CHECK_EQ(st->by[ANSWERED_INTERMEDIARY], 1);
    check_ledger(&R);
    drain(&R);
    /* the squid error page to a known proxy: already intermediary, answered once more by
     * the window (findings answered_final); its count does not move twice */
    CHECK_EQ(st->by[ANSWERED_INTERMEDIARY], 1);
    CHECK_EQ(st->by[ANSWERED_ORIGIN], 1);
    CHECK_EQ(st->by[ANSWERED_UNKNOWN], 1);
    CHECK_STR(str_or_null(R.rec[3].product), "squid");
    check_ledger(&R);
    run_fini(&R);

    check_case("counts: an exchange without its request is fingerprinted and counted only");
    run_init(&R, 10);
    struct flow fl;
    mkflow(&fl, &ep_front, 7);
    static const struct leg lost = { .resp_hdrs = "Via: 1.1 gw (squid/5.7)\r\n" };
    build_leg(&xs, &lost, true, 1, &fl);
    xs.has_request = false;
    struct hop_result r;
    feed(&R, &fl, &xs, &r);
    CHECK_EQ(r.n_hops, 0);
    CHECK_EQ(r.n_updates, 0);
    CHECK_STR(str_or_null(xs.intermediary), "squid");
    CHECK_STR(xs.path_evidence, "Via: 1.1 gw (squid/5.7)");
    CHECK_EQ(hops_stats(R.h)->by[ANSWERED_UNKNOWN], 1);
    drain(&R);
    CHECK_EQ(R.n_hops, 0);
    check_ledger(&R);
    run_fini(&R);

    check_case("hops_free(NULL)");
    hops_free(NULL);
}

/* ==== 4. hop_findings_str ============================================================ */

static void test_findings_str(void)
{
    static const char *const names[HOP_FINDING_BITS] = {
        "answered_100", "relayed_100", "dropped_100", "stripped_expect", "added_expect",
        "answered_final", "buffered_body", "http10_upstream", "withheld_body",
        "gateway_error",
    };
    static const uint32_t bits[HOP_FINDING_BITS] = {
        HOP_ANSWERED_100, HOP_RELAYED_100, HOP_DROPPED_100, HOP_STRIPPED_EXPECT,
        HOP_ADDED_EXPECT, HOP_ANSWERED_FINAL, HOP_BUFFERED_BODY, HOP_HTTP10_UPSTREAM,
        HOP_WITHHELD_BODY, HOP_GATEWAY_ERROR,
    };
    char buf[256];
    for (int i = 0; i < HOP_FINDING_BITS; i++) {
        name_case("hop_findings_str: ", names[i]);
        CHECK(hop_findings_str(bits[i], buf, sizeof buf) == buf);
        CHECK_STR(buf, names[i]);
    }
    static const char all[] = "answered_100,relayed_100,dropped_100,stripped_expect,"
                              "added_expect,answered_final,buffered_body,http10_upstream,"
                              "withheld_body,gateway_error";
    check_case("hop_findings_str: none, all, unknown bits");
    CHECK_STR(hop_findings_str(0, buf, sizeof buf), "");
    CHECK_STR(hop_findings_str((1u << HOP_FINDING_BITS) - 1, buf, sizeof buf), all);
    CHECK_STR(hop_findings_str(0xffffffffu, buf, sizeof buf), all);
    CHECK_STR(hop_findings_str(1u << HOP_FINDING_BITS | 1u << 31, buf, sizeof buf), "");
    CHECK_STR(hop_findings_str(HOP_STRIPPED_EXPECT | HOP_ANSWERED_100, buf, sizeof buf),
              "answered_100,stripped_expect");

    /* small buffers of exactly len bytes: terminated, a prefix of the whole list, no
     * write past them (ASan) */
    check_case("hop_findings_str: every buffer size from 1 byte");
    for (size_t len = 1; len <= sizeof all + 1; len++) {
        char *b = malloc(len);
        if (!b)
            exit(1);
        memset(b, 'x', len);
        char *ret = hop_findings_str((1u << HOP_FINDING_BITS) - 1, b, len);
        CHECK(ret == b);
        const char *nul = memchr(b, '\0', len);
        CHECK(nul != NULL);
        if (nul)
            CHECK(strncmp(b, all, (size_t)(nul - b)) == 0);
        if (len >= sizeof all)
            CHECK_STR(b, all);
        free(b);
    }
}

/* ==== main =========================================================================== */

int main(void)
{
    exchange_init(&xs);
    test_fingerprints();
    test_interim();
    test_hostile();
    test_hblock();
    test_pairs();
    test_ambiguity();
    test_known_proxy();
    test_window();
    test_chain();
    test_counts();
    test_eviction();
    test_hot_key();
    isolated("BUG-1: two retirements and a front link in one call (child exit)",
             bug1_overflow);
    isolated("BUG-1: one retirement and a chain's two links in one call (child exit)",
             bug1_chain);
    test_findings_str();
    exchange_fini(&xs);
    if (check_failures) {
        fprintf(stderr, "cases named BUG-n guard against these bugs, found and fixed:\n");
        for (size_t i = 0; i < ARRAY_LEN(known_bugs); i++)
            fprintf(stderr, "  %s\n", known_bugs[i]);
    }
    return check_done("test_paths");
}
