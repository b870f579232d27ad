/* fingerprint.c: see fingerprint.h. */
#include "fingerprint.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hblock.h"

enum fp_kind {
    FP_ON_PATH, /* the answer passed through it */
    FP_RELAYED, /* it fetched the answer from behind it */
    FP_MADE,    /* it made the answer itself */
};

/* One thing an intermediary writes into the answers it makes or passes on. `contains`
 * is a case-insensitive substring of the value (NULL: any value). The first row that
 * matches a header decides for that header; the strongest kind over all headers wins,
 * and among equals the first in this table. */
struct fp_row {
    const char *header;
    size_t header_len;  /* strlen(header): most fields are told apart by length alone */
    const char *contains;
    const char *product;
    enum fp_kind kind;
};

#define ROW(header, contains, product, kind) \
    { header, sizeof header - 1, contains, product, kind }

static const struct fp_row rows[] = {
    /* Amazon CloudFront ("Hit from cloudfront", "Miss from cloudfront", "Error from
     * cloudfront"), ahead of squid's "HIT from <host>", which would take it */
    ROW("X-Cache", "Error from cloudfront", "cloudfront", FP_MADE),
    ROW("X-Cache", "Hit from cloudfront", "cloudfront", FP_MADE),
    ROW("X-Cache", "from cloudfront", "cloudfront", FP_RELAYED),
    /* squid: its own error pages carry X-Squid-Error and its Server; a cache says HIT
     * or MISS "from <host>" in X-Cache; it adds Via "... (squid/5.7)" */
    ROW("X-Squid-Error", NULL, "squid", FP_MADE),
    ROW("Server", "squid", "squid", FP_MADE),
    ROW("X-Cache", "HIT from", "squid", FP_MADE),
    ROW("X-Cache", "MISS from", "squid", FP_RELAYED),
    ROW("X-Cache-Lookup", NULL, "squid", FP_ON_PATH),
    ROW("Via", "squid", "squid", FP_ON_PATH),
    /* varnish: X-Varnish holds one id on a miss, two on a hit; synthetic answers
     * (vcl_synth, errors) keep its Server */
    ROW("Server", "varnish", "varnish", FP_MADE),
    ROW("Via", "varnish", "varnish", FP_ON_PATH),
    ROW("X-Varnish", NULL, "varnish", FP_ON_PATH),
    /* Apache Traffic Server */
    ROW("Server", "ATS/", "trafficserver", FP_MADE),
    ROW("Via", "ApacheTrafficServer", "trafficserver", FP_ON_PATH),
    /* Envoy writes its own server header on everything; the upstream service time is
     * there only when an upstream answered */
    ROW("x-envoy-upstream-service-time", NULL, "envoy", FP_RELAYED),
    ROW("Server", "envoy", "envoy", FP_ON_PATH),
    /* Cloudflare */
    ROW("cf-cache-status", "HIT", "cloudflare", FP_MADE),
    ROW("cf-cache-status", NULL, "cloudflare", FP_RELAYED),
    ROW("CF-RAY", NULL, "cloudflare", FP_ON_PATH),
    ROW("Server", "cloudflare", "cloudflare", FP_ON_PATH),
    /* Amazon CloudFront's other headers, and the AWS load balancers' own answers */
    ROW("X-Amz-Cf-Id", NULL, "cloudfront", FP_ON_PATH),
    ROW("Via", "cloudfront", "cloudfront", FP_ON_PATH),
    ROW("Server", "awselb", "aws-elb", FP_MADE),
    /* Fastly */
    ROW("X-Served-By", "cache-", "fastly", FP_ON_PATH),
    ROW("X-Fastly-Request-ID", NULL, "fastly", FP_ON_PATH),
    /* Akamai: its edge's own answers say AkamaiGHost */
    ROW("Server", "AkamaiGHost", "akamai", FP_MADE),
    ROW("X-Akamai-Request-ID", NULL, "akamai", FP_ON_PATH),
    ROW("Akamai-GRN", NULL, "akamai", FP_ON_PATH),
    /* Azure Front Door, Google's load balancer */
    ROW("X-Azure-Ref", NULL, "azure-front-door", FP_ON_PATH),
    ROW("Via", "google", "google-lb", FP_ON_PATH),
    /* WAFs */
    ROW("X-Iinfo", NULL, "imperva", FP_ON_PATH),
    ROW("X-CDN", "Imperva", "imperva", FP_ON_PATH),
    ROW("Server", "Sucuri", "sucuri", FP_MADE),
    ROW("X-Sucuri-ID", NULL, "sucuri", FP_ON_PATH),
    ROW("Server", "BigIP", "f5-bigip", FP_MADE),
    /* Apache httpd's mod_proxy with ProxyVia On: "Via: 1.1 host (Apache/2.4.57)" */
    ROW("Via", "Apache", "apache", FP_ON_PATH),
    /* any other Via: an intermediary whose product the header does not name */
    ROW("Via", NULL, "proxy", FP_ON_PATH),
};

static const char *const by_names[] = {
    [ANSWERED_UNKNOWN] = "unknown",
    [ANSWERED_ORIGIN] = "origin",
    [ANSWERED_INTERMEDIARY] = "intermediary",
};

const char *answered_by_name(enum answered_by by)
{
    return (unsigned)by < sizeof by_names / sizeof by_names[0] ? by_names[by] : "unknown";
}

/* ---- an index of the table, built once: every response of a run goes through it --- */

/* Letters as bits (a..z; one bit for anything else): a value lacking a letter of a
 * needle cannot contain it, which rules out most rows without a search. */
static uint32_t letters(const char *p, size_t n)
{
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i] | 0x20u; /* ASCII letters to lower case */
        m |= c >= 'a' && c <= 'z' ? 1u << (c - 'a') : 1u << 26;
    }
    return m;
}

enum { MAX_NAMES = 32, MAX_ROWS_PER_NAME = 16, N_ROWS = sizeof rows / sizeof rows[0] };

/* The distinct header names of the table, each with its rows in table order. */
static struct {
    uint64_t lengths;               /* bit n: some name is n bytes long (n < 64) */
    struct {
        const char *name;
        size_t len;
        uint8_t rows[MAX_ROWS_PER_NAME];
        uint8_t n_rows;
    } names[MAX_NAMES];
    uint32_t n_names;
    uint32_t needle[N_ROWS];        /* letters() of each row's `contains` */
} ix;
static pthread_once_t ix_once = PTHREAD_ONCE_INIT;

static void ix_build(void)
{
    for (size_t r = 0; r < N_ROWS; r++) {
        const struct fp_row *row = &rows[r];
        ix.needle[r] = row->contains ? letters(row->contains, strlen(row->contains)) : 0;
        uint32_t i = 0;
        while (i < ix.n_names && !(ix.names[i].len == row->header_len &&
                                   hblock_name_is(row->header, row->header_len,
                                                  ix.names[i].name)))
            i++;
        if (i == MAX_NAMES || (i < ix.n_names && ix.names[i].n_rows == MAX_ROWS_PER_NAME))
            abort(); /* the table outgrew the index: raise the limits above */
        if (i == ix.n_names) {
            ix.names[i].name = row->header;
            ix.names[i].len = row->header_len;
            ix.n_names++;
            ix.lengths |= 1ull << row->header_len;
        }
        ix.names[i].rows[ix.names[i].n_rows++] = (uint8_t)r;
    }
}

/* One field against the table: the first of its header's rows that matches decides for
 * it, and replaces *best when stronger (among equals, earlier in the table). */
static void match(const char *name, size_t nl, const char *value, size_t vl,
                  const struct fp_row **best, const char **val, size_t *val_len)
{
    if (nl >= 64 || !(ix.lengths & 1ull << nl))
        return; /* Date, Content-Type, ETag...: no row has a name this long */
    for (uint32_t i = 0; i < ix.n_names; i++) {
        if (ix.names[i].len != nl || !hblock_name_is(name, nl, ix.names[i].name))
            continue;
        uint32_t have = letters(value, vl);
        for (uint8_t k = 0; k < ix.names[i].n_rows; k++) {
            const struct fp_row *r = &rows[ix.names[i].rows[k]];
            if (r->contains && ((ix.needle[r - rows] & ~have) ||
                                !hblock_contains(value, vl, r->contains)))
                continue;
            if (!*best || r->kind > (*best)->kind || (r->kind == (*best)->kind && r < *best)) {
                *best = r;
                *val = value;
                *val_len = vl;
            }
            return;
        }
        return;
    }
}

/* The strongest row matched by the fields of the blocks in b (the interim blocks are
 * kept one after another). */
static const struct fp_row *scan(const struct sbuf *b, const char **val, size_t *val_len)
{
    const struct fp_row *best = NULL;
    const char *p = b->p, *end = b->len ? b->p + b->len : b->p;
    struct hblock_iter it;
    const char *name, *value;
    size_t nl, vl;
    for (; p < end; p = it.p) {
        hblock_iter_init(&it, p, (size_t)(end - p)); /* skips the start line: moves on */
        while (hblock_next(&it, &name, &nl, &value, &vl))
            match(name, nl, value, vl, &best, val, val_len);
    }
    return best;
}

/* "head" or "head: value" into buf (len > 0), cut to fit: fingerprinting runs for
 * every exchange, and this is what snprintf would do, several times faster. */
static void put(char *buf, size_t len, const char *head, const char *value, size_t vl)
{
    size_t n = strlen(head);
    n = n < len - 1 ? n : len - 1;
    memcpy(buf, head, n);
    if (value && n + 2 < len - 1) {
        memcpy(buf + n, ": ", 2);
        n += 2;
        size_t k = vl < len - 1 - n ? vl : len - 1 - n;
        memcpy(buf + n, value, k);
        n += k;
    }
    buf[n] = '\0';
}

void fingerprint_exchange(const struct exchange *x, struct fingerprint *fp)
{
    pthread_once(&ix_once, ix_build);
    fp->by = ANSWERED_UNKNOWN;
    fp->intermediary = NULL;
    fp->evidence[0] = '\0';
    const char *v = NULL, *iv = NULL;
    size_t vl = 0, ivl = 0;
    const struct fp_row *r = scan(&x->s[XS_RAW_RESPONSE], &v, &vl);
    const struct fp_row *ri = scan(&x->s[XS_RAW_INTERIM], &iv, &ivl);
    /* The final answer's own headers say who made it. A 1xx only shows an intermediary
     * on the path (e.g. only the 100 said Via): whoever made the 100 need not have made
     * the final answer. */
    bool interim_only = !r && ri;
    if (interim_only) {
        r = ri;
        v = iv;
        vl = ivl;
    }
    if (!r) {
        put(fp->evidence, sizeof fp->evidence,
            x->status ? "no intermediary in the headers" : "no final answer", NULL, 0);
        return;
    }
    fp->intermediary = r->product;
    fp->by = interim_only            ? ANSWERED_UNKNOWN
             : r->kind == FP_MADE    ? ANSWERED_INTERMEDIARY
             : r->kind == FP_RELAYED ? ANSWERED_ORIGIN
                                     : ANSWERED_UNKNOWN;
    /* "X-Squid-Error: ERR_INVALID_REQ 0": the header and the start of its value */
    put(fp->evidence, sizeof fp->evidence, r->header, v, vl > 48 ? 48 : vl);
}
