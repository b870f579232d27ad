/* fingerprint.c: see fingerprint.h. */
#include "fingerprint.h"

#include <stdio.h>
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
    const char *contains;
    const char *product;
    enum fp_kind kind;
};

static const struct fp_row rows[] = {
    /* Amazon CloudFront ("Hit from cloudfront", "Miss from cloudfront", "Error from
     * cloudfront"), ahead of squid's "HIT from <host>", which would take it */
    { "X-Cache", "Error from cloudfront", "cloudfront", FP_MADE },
    { "X-Cache", "Hit from cloudfront", "cloudfront", FP_MADE },
    { "X-Cache", "from cloudfront", "cloudfront", FP_RELAYED },
    /* squid: its own error pages carry X-Squid-Error and its Server; a cache says HIT
     * or MISS "from <host>" in X-Cache; it adds Via "... (squid/5.7)" */
    { "X-Squid-Error", NULL, "squid", FP_MADE },
    { "Server", "squid", "squid", FP_MADE },
    { "X-Cache", "HIT from", "squid", FP_MADE },
    { "X-Cache", "MISS from", "squid", FP_RELAYED },
    { "X-Cache-Lookup", NULL, "squid", FP_ON_PATH },
    { "Via", "squid", "squid", FP_ON_PATH },
    /* varnish: X-Varnish holds one id on a miss, two on a hit; synthetic answers
     * (vcl_synth, errors) keep its Server */
    { "Server", "varnish", "varnish", FP_MADE },
    { "Via", "varnish", "varnish", FP_ON_PATH },
    { "X-Varnish", NULL, "varnish", FP_ON_PATH },
    /* Apache Traffic Server */
    { "Server", "ATS/", "trafficserver", FP_MADE },
    { "Via", "ApacheTrafficServer", "trafficserver", FP_ON_PATH },
    /* Envoy writes its own server header on everything; the upstream service time is
     * there only when an upstream answered */
    { "x-envoy-upstream-service-time", NULL, "envoy", FP_RELAYED },
    { "Server", "envoy", "envoy", FP_ON_PATH },
    /* Cloudflare */
    { "cf-cache-status", "HIT", "cloudflare", FP_MADE },
    { "cf-cache-status", NULL, "cloudflare", FP_RELAYED },
    { "CF-RAY", NULL, "cloudflare", FP_ON_PATH },
    { "Server", "cloudflare", "cloudflare", FP_ON_PATH },
    /* Amazon CloudFront's other headers, and the AWS load balancers' own answers */
    { "X-Amz-Cf-Id", NULL, "cloudfront", FP_ON_PATH },
    { "Via", "cloudfront", "cloudfront", FP_ON_PATH },
    { "Server", "awselb", "aws-elb", FP_MADE },
    /* Fastly */
    { "X-Served-By", "cache-", "fastly", FP_ON_PATH },
    { "X-Fastly-Request-ID", NULL, "fastly", FP_ON_PATH },
    /* Akamai: its edge's own answers say AkamaiGHost */
    { "Server", "AkamaiGHost", "akamai", FP_MADE },
    { "X-Akamai-Request-ID", NULL, "akamai", FP_ON_PATH },
    { "Akamai-GRN", NULL, "akamai", FP_ON_PATH },
    /* Azure Front Door, Google's load balancer */
    { "X-Azure-Ref", NULL, "azure-front-door", FP_ON_PATH },
    { "Via", "google", "google-lb", FP_ON_PATH },
    /* WAFs */
    { "X-Iinfo", NULL, "imperva", FP_ON_PATH },
    { "X-CDN", "Imperva", "imperva", FP_ON_PATH },
    { "Server", "Sucuri", "sucuri", FP_MADE },
    { "X-Sucuri-ID", NULL, "sucuri", FP_ON_PATH },
    { "Server", "BigIP", "f5-bigip", FP_MADE },
    /* Apache httpd's mod_proxy with ProxyVia On: "Via: 1.1 host (Apache/2.4.57)" */
    { "Via", "Apache", "apache", FP_ON_PATH },
    /* any other Via: an intermediary whose product the header does not name */
    { "Via", NULL, "proxy", FP_ON_PATH },
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

static bool name_is(const char *name, size_t n, const char *want)
{
    if (strlen(want) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = name[i], b = want[i];
        a = a >= 'A' && a <= 'Z' ? (char)(a - 'A' + 'a') : a;
        b = b >= 'A' && b <= 'Z' ? (char)(b - 'A' + 'a') : b;
        if (a != b)
            return false;
    }
    return true;
}

/* One field against the table: the first row that matches decides for it, and it
 * replaces *best when stronger (among equals, earlier in the table). */
static void match(const char *name, size_t nl, const char *value, size_t vl,
                  const struct fp_row **best, const char **val, size_t *val_len)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct fp_row *r = &rows[i];
        if (!name_is(name, nl, r->header) ||
            (r->contains && !hblock_contains(value, vl, r->contains)))
            continue;
        if (!*best || r->kind > (*best)->kind || (r->kind == (*best)->kind && r < *best)) {
            *best = r;
            *val = value;
            *val_len = vl;
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

void fingerprint_exchange(const struct exchange *x, struct fingerprint *fp)
{
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
        snprintf(fp->evidence, sizeof fp->evidence, "%s",
                 x->status ? "no intermediary in the headers" : "no final answer");
        return;
    }
    fp->intermediary = r->product;
    fp->by = interim_only            ? ANSWERED_UNKNOWN
             : r->kind == FP_MADE    ? ANSWERED_INTERMEDIARY
             : r->kind == FP_RELAYED ? ANSWERED_ORIGIN
                                     : ANSWERED_UNKNOWN;
    /* "X-Squid-Error: ERR_INVALID_REQ 0": the header and the start of its value */
    int shown = vl > 48 ? 48 : (int)vl;
    snprintf(fp->evidence, sizeof fp->evidence, "%s: %.*s", r->header, shown, v);
}
