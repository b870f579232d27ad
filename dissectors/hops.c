/* hops.c: see hops.h.
 *
 * The window is a ring of HOPS_MAX_PENDING entries in the order exchanges were handed
 * in (about the order they ended), and a hash index from (method, path) to the entries
 * that have it, chained both ways so that an entry leaving the ring leaves its chain
 * in O(1). Entries leave when they are older than HOPS_WINDOW_US of capture time (the
 * largest end time seen), or when the ring is full (counted). */
#include "hops.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hblock.h"

/* Capture reordering tolerated between the two legs. */
#define HOPS_SLACK_US 10000u
/* The walk of a key's chain (partners()): it stops after this many entries in a row
 * that ended before the exchange began, and looks at this many entries at most. */
#define HOPS_STOP_AFTER 8u
#define HOPS_MAX_WALK 256u

enum { NONE = UINT32_MAX, INDEX_BUCKETS = 2 * HOPS_MAX_PENDING };

struct pend {
    uint64_t id, flow_id;
    uint64_t key;              /* method and path */
    uint64_t host;             /* Host, lower case, default port dropped; 0 absent */
    uint64_t t_start, t_hdr, t_100, t_body_first, t_body_last, t_final, t_end;
    int64_t body;              /* body length, -1 unknown */
    uint64_t body_sent;        /* body bytes seen */
    uint32_t prev, next;       /* the index chain */
    uint16_t status;
    uint8_t family, cli[16], srv[16], xff_family, xff[16];
    bool has_xff, req_via, expect, http10;
    bool linked_front, linked_back; /* as F it has its B; as B it has its F */
    bool ambiguous;            /* as F, more than one B fitted: it stays unknown */
    bool host_is_server;       /* the Host is the server's own address (nginx and Apache
                                  write that upstream by default) */
    bool body_missing;         /* some body bytes were lost in capture gaps */
    bool absolute;             /* the target was absolute-form (to a forward proxy) */
    bool interim_cl;           /* a 1xx answer carried Content-Length (rule P5) */
    uint8_t by;                /* enum answered_by */
    const char *product;       /* the answer's fingerprint */
};

struct hops {
    struct pend *ring;         /* HOPS_MAX_PENDING */
    uint32_t head, n;          /* oldest entry, entries */
    uint32_t *index;           /* INDEX_BUCKETS chain heads */
    uint64_t now_us;           /* the largest end time seen */
    struct hops_proxy proxies[HOPS_MAX_PROXIES]; /* declared and learnt */
    uint32_t n_proxies, groups;
    struct hops_stats st;
};

struct hops *hops_new(const struct hops_proxy *declared, size_t n)
{
    if (n > HOPS_MAX_PROXIES)
        return NULL;
    struct hops *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        h->proxies[i] = declared[i];
        if (declared[i].group > h->groups)
            h->groups = declared[i].group;
    }
    h->n_proxies = (uint32_t)n;
    /* calloc'd: pages of the ring are touched only as the window fills */
    h->ring = calloc(HOPS_MAX_PENDING, sizeof *h->ring);
    h->index = malloc(INDEX_BUCKETS * sizeof *h->index);
    if (!h->ring || !h->index) {
        hops_free(h);
        return NULL;
    }
    memset(h->index, 0xff, INDEX_BUCKETS * sizeof *h->index);
    return h;
}

void hops_free(struct hops *h)
{
    if (!h)
        return;
    free(h->ring);
    free(h->index);
    free(h);
}

const struct hops_stats *hops_stats(const struct hops *h)
{
    return &h->st;
}

static const char *const finding_names[HOP_FINDING_BITS] = {
    "answered_100", "relayed_100", "dropped_100", "stripped_expect", "added_expect",
    "answered_final", "buffered_body", "http10_upstream", "withheld_body", "gateway_error",
};

char *hop_findings_str(uint32_t findings, char *buf, size_t len)
{
    size_t used = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < HOP_FINDING_BITS; i++) {
        if (!(findings & (1u << i)))
            continue;
        size_t n = strlen(finding_names[i]) + (used ? 1 : 0);
        if (used + n >= len)
            break; /* whole names only */
        snprintf(buf + used, len - used, "%s%s", used ? "," : "", finding_names[i]);
        used += n;
    }
    return buf;
}

/* ---- what linking compares ------------------------------------------------------- */

static uint64_t mix(uint64_t h, const void *p, size_t n, bool fold)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (fold && c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        h = (h ^ c) * 0x100000001b3ull;
    }
    return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

/* A Host (or the authority of an absolute URI) for comparing: lower case, without a
 * default port (":80"). */
static uint64_t host_hash(const char *p, size_t n)
{
    if (n >= 3 && memcmp(p + n - 3, ":80", 3) == 0)
        n -= 3;
    return n ? mix(FNV_BASIS, p, n, true) | 1 : 0;
}

/* Method and path of a request, and the host of an absolute-form target. */
static void target(const struct exchange *x, uint64_t *key, uint64_t *abs_host)
{
    const struct sbuf *m = &x->s[XS_METHOD], *u = &x->s[XS_URI];
    const char *path = u->p;
    size_t n = u->len;
    *abs_host = 0;
    if (n > 7 && (memcmp(path, "http://", 7) == 0 || memcmp(path, "HTTP://", 7) == 0)) {
        const char *auth = path + 7;
        const char *slash = memchr(auth, '/', n - 7);
        size_t alen = slash ? (size_t)(slash - auth) : n - 7;
        *abs_host = host_hash(auth, alen);
        path = slash ? slash : "/";
        n = slash ? n - 7 - alen : 1;
    }
    uint64_t k = mix(FNV_BASIS, m->p, m->len, false);
    k = mix(k, " ", 1, false);
    *key = mix(k, path, n, false) | 1;
}

/* The request's forwarding headers, as the dissector kept them: whether it has a Via,
 * and the last address of its X-Forwarded-For (of the last such line): the client as
 * the proxy that sent it saw it. */
static void forwarding(const struct exchange *x, struct pend *e)
{
    e->req_via = x->req_via;
    const struct sbuf *b = &x->s[XS_XFF];
    const char *v = b->p;
    size_t n = b->len, i = n;
    if (!n)
        return;
    while (i > 0 && v[i - 1] != ',')
        i--;
    while (i < n && v[i] == ' ')
        i++;
    char text[64];
    size_t k = n - i < sizeof text - 1 ? n - i : sizeof text - 1;
    memcpy(text, v + i, k);
    text[k] = '\0';
    if (inet_pton(AF_INET, text, e->xff) == 1)
        e->xff_family = 4;
    else if (inet_pton(AF_INET6, text, e->xff) == 1)
        e->xff_family = 6;
    e->has_xff = e->xff_family != 0;
}

static bool same_addr(uint8_t fa, const uint8_t *a, uint8_t fb, const uint8_t *b)
{
    return fa == fb && memcmp(a, b, fa == 4 ? 4 : 16) == 0;
}

/* Does a Host name the server's own address ("10.0.0.9", "10.0.0.9:8080",
 * "[2001:db8::9]:8080"), with its port or none? Parsed only when it starts like an
 * address: most Hosts are names, and this runs for every exchange. */
static bool host_is_server(const struct sbuf *host, const struct flow *f)
{
    const char *p = host->p;
    size_t n = host->len;
    if (!host->set || !n || n > 64 || !((*p >= '0' && *p <= '9') || *p == '['))
        return false;
    char text[65];
    memcpy(text, p, n);
    text[n] = '\0';
    char *addr = text, *port = NULL;
    if (*addr == '[') { /* [v6] or [v6]:port */
        char *close = strchr(addr, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        *close = '\0';
        addr++;
        port = close[1] == ':' ? close + 2 : NULL;
    } else if ((port = strchr(addr, ':')) != NULL) {
        *port++ = '\0';
    }
    uint8_t a[16] = { 0 };
    int family = f->key.family == 4 ? AF_INET : AF_INET6;
    if (inet_pton(family, addr, a) != 1 || memcmp(a, flow_addr(f, DIR_S2C), 16) != 0)
        return false;
    if (!port)
        return true;
    char *end;
    unsigned long v = strtoul(port, &end, 10);
    return *port >= '0' && *port <= '9' && !*end && v == flow_port(f, DIR_S2C);
}

static void fill(struct pend *e, const struct flow *f, const struct exchange *x,
                 const struct fingerprint *fp)
{
    memset(e, 0, sizeof *e);
    e->id = x->id;
    e->flow_id = f->id;
    uint64_t abs_host;
    target(x, &e->key, &abs_host);
    e->host = abs_host ? abs_host
                       : x->s[XS_HOST].set ? host_hash(x->s[XS_HOST].p, x->s[XS_HOST].len) : 0;
    e->host_is_server = host_is_server(&x->s[XS_HOST], f);
    e->absolute = abs_host != 0;
    const char *v, *sl;
    size_t vn, sn;
    e->interim_cl = x->n_interim &&
                    hblock_find_any(x->s[XS_RAW_INTERIM].p, x->s[XS_RAW_INTERIM].len,
                                    "content-length", &v, &vn, &sl, &sn);
    e->family = f->key.family;
    memcpy(e->cli, flow_addr(f, DIR_C2S), 16);
    memcpy(e->srv, flow_addr(f, DIR_S2C), 16);
    forwarding(x, e);
    e->t_start = x->t_start_us;
    e->t_hdr = x->t_hdr_us;
    e->t_100 = x->t_100_us;
    e->t_body_first = x->t_body_first_us;
    e->t_body_last = x->t_body_last_us;
    e->t_final = x->t_final_us;
    e->t_end = x->t_end_us ? x->t_end_us : x->t_final_us ? x->t_final_us : x->t_hdr_us;
    e->body_sent = x->body_bytes;
    e->body_missing = x->body_missing > 0;
    e->body = x->has_content_length && !x->chunked ? (int64_t)x->content_length
              : x->req_complete && !x->body_abandoned ? (int64_t)x->body_bytes : -1;
    e->status = x->status;
    e->expect = x->has_expect;
    e->http10 = x->http_major == 1 && x->http_minor == 0;
    e->by = (uint8_t)fp->by;
    e->product = fp->intermediary;
}

/* Could B be the upstream exchange of F? (The proxy address is checked by the caller.) */
static bool fits(const struct pend *f, const struct pend *b)
{
    if (f->key != b->key || f->flow_id == b->flow_id)
        return false;
    bool host_ok = !f->host || !b->host || f->host == b->host || b->host_is_server;
    if (!host_ok)
        return false;
    if (f->body >= 0 && b->body >= 0 && f->body != b->body)
        return false;
    /* a proxy cannot send upstream a body it never got (a client that stopped at a 417
     * and the upstream leg of its retry) */
    if (f->status && f->body_sent == 0 && !f->body_missing && b->body_sent > 0)
        return false;
    if (b->t_start + HOPS_SLACK_US < f->t_start)
        return false;
    uint64_t f_done = f->t_end ? f->t_end : UINT64_MAX - HOPS_SLACK_US;
    if (b->t_start > f_done + HOPS_SLACK_US)
        return false;
    if (b->has_xff && !same_addr(b->xff_family, b->xff, f->family, f->cli))
        return false;
    /* the upstream request goes away from F's client, never back to it (a client
     * request that already carries Via is not the upstream leg of its own upstream) */
    if (same_addr(b->family, b->srv, f->family, f->cli))
        return false;
    return true;
}

/* ---- the window ----------------------------------------------------------------- */

static uint32_t bucket(uint64_t key)
{
    return (uint32_t)((key ^ (key >> 29)) % INDEX_BUCKETS);
}

static void unchain(struct hops *h, uint32_t i)
{
    struct pend *e = &h->ring[i];
    if (e->prev != NONE)
        h->ring[e->prev].next = e->next;
    else
        h->index[bucket(e->key)] = e->next;
    if (e->next != NONE)
        h->ring[e->next].prev = e->prev;
}

static void chain(struct hops *h, uint32_t i)
{
    struct pend *e = &h->ring[i];
    uint32_t b = bucket(e->key);
    e->prev = NONE;
    e->next = h->index[b];
    if (e->next != NONE)
        h->ring[e->next].prev = i;
    h->index[b] = i;
}

/* The group of a proxy address, 0 when it is not one. */
static uint32_t proxy_group(const struct hops *h, uint8_t family, const uint8_t *a)
{
    for (uint32_t i = 0; i < h->n_proxies; i++)
        if (same_addr(h->proxies[i].family, h->proxies[i].addr, family, a))
            return h->proxies[i].group;
    return 0;
}

static bool is_proxy(const struct hops *h, uint8_t family, const uint8_t *a)
{
    return proxy_group(h, family, a) != 0;
}

static void add_proxy(struct hops *h, uint8_t family, const uint8_t *a, uint32_t group)
{
    if (h->n_proxies == HOPS_MAX_PROXIES)
        return;
    struct hops_proxy *p = &h->proxies[h->n_proxies++];
    p->family = family;
    memcpy(p->addr, a, 16);
    p->group = group;
}

/* A link showed that F's server is a proxy: remember it, so that its own answers are
 * known for what they are; and when B's X-Forwarded-For named F's client, B's client
 * is the same proxy's other address: remember it in the same group, so that the
 * proxy's exchanges without X-Forwarded-For link too. (A link by Via alone proves
 * less: another proxy may have sent B.) */
static void remember_proxy(struct hops *h, const struct pend *f, const struct pend *b)
{
    uint32_t gf = proxy_group(h, f->family, f->srv);
    uint32_t gb = proxy_group(h, b->family, b->cli);
    bool pair = b->has_xff && !same_addr(f->family, f->srv, b->family, b->cli);
    if (gf && (gb || !pair))
        return; /* known; two groups that disagree stay as declared */
    uint32_t g = gf ? gf : pair && gb ? gb : ++h->groups;
    if (!gf)
        add_proxy(h, f->family, f->srv, g);
    if (pair && !gb)
        add_proxy(h, b->family, b->cli, g);
}

/* Are F's server and B's client the same proxy? */
static bool same_proxy(const struct hops *h, const struct pend *f, const struct pend *b)
{
    if (same_addr(b->family, b->cli, f->family, f->srv))
        return true;
    uint32_t g = proxy_group(h, f->family, f->srv);
    return g && g == proxy_group(h, b->family, b->cli);
}

static void set_by(struct hops *h, uint8_t *by, uint8_t now)
{
    h->st.by[*by]--;
    h->st.by[now]++;
    *by = now;
}

static double ms_between(uint64_t from, uint64_t to)
{
    if (!from || !to)
        return -1.0;
    return to > from ? (double)(to - from) / 1000.0 : 0.0;
}

/* Did the proxy hold the whole body before it asked upstream? Only a body that took a
 * while to arrive shows it: the upstream request began after the client's last body
 * byte, the proxy had the request head for at least BUFFER_PROOF_US before that byte,
 * and the upstream request followed the byte closely (within a quarter of that time: a
 * proxy that streams but was slow to connect would not land right after it). A small
 * body that arrives whole before any proxy could have connected proves nothing. */
#define BUFFER_PROOF_US 10000u

static bool buffered(const struct pend *f, const struct pend *b)
{
    if (f->body <= 0 || !f->t_body_last || !f->t_hdr || !b->t_start ||
        b->t_start < f->t_body_last || f->t_body_last < f->t_hdr + BUFFER_PROOF_US)
        return false;
    return b->t_start - f->t_body_last <= (f->t_body_last - f->t_hdr) / 4;
}

/* What the proxy between F and B did, and the wait split. */
static void describe(const struct pend *f, const struct pend *b, struct hop *hop)
{
    uint32_t fl = 0;
    if (f->expect && !b->expect)
        fl |= HOP_STRIPPED_EXPECT;
    if (!f->expect && b->expect)
        fl |= HOP_ADDED_EXPECT;
    if (f->t_100 && (!b->t_100 || f->t_100 + HOPS_SLACK_US < b->t_100))
        fl |= HOP_ANSWERED_100;
    else if (f->t_100 && b->t_100)
        fl |= HOP_RELAYED_100;
    if (b->t_100 && !f->t_100 && !(fl & HOP_ADDED_EXPECT))
        fl |= HOP_DROPPED_100; /* a 100 to an Expect the proxy added is its own to keep */
    if (f->status && b->status &&
        (f->status != b->status || f->t_final + HOPS_SLACK_US < b->t_final))
        fl |= HOP_ANSWERED_FINAL;
    if (f->status && !b->status)
        fl |= HOP_GATEWAY_ERROR;
    if (buffered(f, b))
        fl |= HOP_BUFFERED_BODY;
    if (f->body_sent > 0 && b->body > 0 && b->body_sent == 0)
        fl |= HOP_WITHHELD_BODY;
    if (b->http10)
        fl |= HOP_HTTP10_UPSTREAM;
    hop->front_id = f->id;
    hop->back_id = b->id;
    hop->family = f->family;
    memcpy(hop->proxy_ip, f->srv, 16);
    hop->findings = fl;
    hop->client_wait_ms = ms_between(f->t_hdr, f->t_body_first);
    hop->proxy_ms = ms_between(f->t_hdr, b->t_hdr);
    hop->upstream_ms = ms_between(b->t_hdr, b->t_100 ? b->t_100 : b->t_final);
    hop->front_flow_id = f->flow_id;
    hop->front_status = f->status;
    hop->back_status = b->status;
    hop->front_absolute = f->absolute;
    hop->front_expect = f->expect;
    hop->front_1xx_cl = f->interim_cl;
    hop->front_via = f->req_via;
    hop->back_via = b->req_via;
}

/* Who answered F, now that its upstream exchange B is known. */
static void decide_front(const struct pend *f, const struct pend *b, uint32_t findings,
                         uint8_t *by, const char **product, char *evidence, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(b->family == 4 ? AF_INET : AF_INET6, b->srv, ip, sizeof ip);
    *product = f->product ? f->product : "proxy";
    if (!f->status) {
        *by = ANSWERED_UNKNOWN;
        snprintf(evidence, len, "no final answer; upstream %s (exchange %llu)", ip,
                 (unsigned long long)b->id);
    } else if (findings & HOP_ANSWERED_FINAL) {
        *by = ANSWERED_INTERMEDIARY;
        snprintf(evidence, len, "the proxy answered %u; upstream %s answered %u (exchange "
                 "%llu)", f->status, ip, b->status, (unsigned long long)b->id);
    } else if (findings & HOP_GATEWAY_ERROR) {
        *by = ANSWERED_INTERMEDIARY;
        snprintf(evidence, len, "the proxy answered %u; upstream %s gave no answer "
                 "(exchange %llu)", f->status, ip, (unsigned long long)b->id);
    } else if (b->by == ANSWERED_INTERMEDIARY) {
        *by = ANSWERED_INTERMEDIARY; /* a second intermediary behind the first made it */
        *product = b->product;
        snprintf(evidence, len, "relayed from upstream %s, whose answer %s made",
                 ip, b->product);
    } else {
        *by = ANSWERED_ORIGIN;
        snprintf(evidence, len, "relayed from upstream %s (exchange %llu)", ip,
                 (unsigned long long)b->id);
    }
}

/* The oldest entry leaves the window: a front to a known proxy that never found its
 * upstream exchange was answered by the proxy itself. */
static void retire(struct hops *h, struct hop_result *r)
{
    struct pend *e = &h->ring[h->head];
    unchain(h, h->head);
    if (!e->linked_front && !e->ambiguous && e->status && is_proxy(h, e->family, e->srv) &&
        r->n_hops < HOP_RESULT_MAX && r->n_updates < HOP_RESULT_MAX) {
        struct hop *hop = &r->hops[r->n_hops++];
        *hop = (struct hop){ .front_id = e->id, .family = e->family,
                             .findings = HOP_ANSWERED_FINAL | (e->t_100 ? HOP_ANSWERED_100
                                                                         : 0),
                             .client_wait_ms = ms_between(e->t_hdr, e->t_body_first),
                             .proxy_ms = -1, .upstream_ms = -1,
                             .front_flow_id = e->flow_id, .front_status = e->status,
                             .front_absolute = e->absolute, .front_1xx_cl = e->interim_cl,
                             .front_via = e->req_via };
        memcpy(hop->proxy_ip, e->srv, 16);
        struct hop_update *u = &r->updates[r->n_updates++];
        u->exchange_id = e->id;
        u->intermediary = e->product ? e->product : "proxy";
        set_by(h, &e->by, ANSWERED_INTERMEDIARY);
        u->answered_by = e->by;
        snprintf(u->path_evidence, sizeof u->path_evidence,
                 "answered %u by the proxy itself; no upstream exchange", e->status);
        h->st.proxy_answers++;
    }
    h->head = (h->head + 1) % HOPS_MAX_PENDING;
    h->n--;
}

/* Retire what is older than the window: two entries at most, so that the exchange's
 * own links always find room in the result (each call adds one entry, so the window
 * still empties faster than it fills). */
static void expire(struct hops *h, struct hop_result *r)
{
    while (h->n && r->n_hops < 2 && r->n_updates < 2 &&
           h->ring[h->head].t_end + HOPS_WINDOW_US < h->now_us)
        retire(h, r);
}

/* Was B sent by the proxy that F reached? Its client is F's server (a proxy with one
 * address) or another address of the same proxy, or B says it was forwarded
 * (X-Forwarded-For, Via: a proxy with an address on each side, as squid between two
 * networks). */
static bool sent_by_proxy_of(const struct hops *h, const struct pend *f, const struct pend *b)
{
    return b->has_xff || b->req_via || same_proxy(h, f, b);
}

/* One role's search: the partner found (NONE: none yet), and whether more than one
 * fitted. */
struct role {
    uint32_t found;
    bool many;
};

static void consider(struct hops *h, struct role *r, uint32_t i, bool mark_fronts)
{
    if (r->found == NONE) {
        r->found = i;
        return;
    }
    r->many = true;
    if (mark_fronts) /* several fronts for one back: none of them is linked or guessed */
        h->ring[r->found].ambiguous = h->ring[i].ambiguous = true;
}

/* The partners of e among the entries with its key, in one walk of its chain (newest
 * first): as a front, the B its proxy sent (*b); as a back, the F whose proxy sent it
 * (*f). The walk stops after HOPS_STOP_AFTER entries in a row that ended before e
 * began (nothing older can overlap it: the chain is in the order exchanges ended, but
 * for the odd late one), or after HOPS_MAX_WALK entries (counted: crowded). */
static void partners(struct hops *h, const struct pend *e, struct role *b, struct role *f)
{
    *b = *f = (struct role){ NONE, false };
    uint32_t looked = 0, old = 0;
    for (uint32_t i = h->index[bucket(e->key)]; i != NONE; i = h->ring[i].next) {
        struct pend *o = &h->ring[i];
        if (o->t_end + HOPS_SLACK_US < e->t_start) {
            if (++old == HOPS_STOP_AFTER)
                break;
            continue;
        }
        old = 0;
        h->st.examined++;
        if (++looked > HOPS_MAX_WALK) {
            h->st.crowded++;
            break;
        }
        if (o->key != e->key)
            continue; /* another key in the same bucket */
        if (!o->linked_back && fits(e, o) && sent_by_proxy_of(h, e, o))
            consider(h, b, i, false);
        if (!o->linked_front && fits(o, e) && sent_by_proxy_of(h, o, e))
            consider(h, f, i, true);
    }
    if (b->many)
        b->found = NONE;
    if (f->many)
        f->found = NONE;
}

void hops_exchange(struct hops *h, const struct flow *f, struct exchange *x,
                   struct hop_result *r)
{
    r->n_hops = r->n_updates = 0; /* the rows are written before they are counted */
    struct fingerprint fp;
    fingerprint_exchange(x, &fp);
    x->answered_by = (uint8_t)fp.by;
    x->intermediary = fp.intermediary;
    _Static_assert(sizeof fp.evidence <= sizeof x->path_evidence, "evidence fits");
    memcpy(x->path_evidence, fp.evidence, strlen(fp.evidence) + 1);
    h->st.by[fp.by]++;
    if (!x->has_request || !x->s[XS_METHOD].len || !x->t_start_us)
        return; /* nothing to link by */

    struct pend e;
    fill(&e, f, x, &fp);
    if (e.t_end > h->now_us)
        h->now_us = e.t_end;
    expire(h, r);

    struct role rb, rf;
    partners(h, &e, &rb, &rf);
    uint32_t b = rb.found, fi = rf.found;
    h->st.ambiguous += rb.many || rf.many;
    e.ambiguous = rb.many;
    if (b != NONE) { /* x is the front, its upstream exchange came first */
        struct pend *o = &h->ring[b];
        struct hop *hop = &r->hops[r->n_hops++];
        describe(&e, o, hop);
        o->linked_back = true;
        e.linked_front = true;
        uint8_t by;
        decide_front(&e, o, hop->findings, &by, &x->intermediary, x->path_evidence,
                     sizeof x->path_evidence);
        set_by(h, &x->answered_by, by);
        e.by = x->answered_by;
        remember_proxy(h, &e, o);
        h->st.linked++;
    }
    if (fi != NONE) { /* x is the back of a front already handed on */
        struct pend *o = &h->ring[fi];
        struct hop *hop = &r->hops[r->n_hops++];
        describe(o, &e, hop);
        o->linked_front = true;
        e.linked_back = true;
        struct hop_update *u = &r->updates[r->n_updates++];
        u->exchange_id = o->id;
        uint8_t by;
        decide_front(o, &e, hop->findings, &by, &u->intermediary, u->path_evidence,
                     sizeof u->path_evidence);
        set_by(h, &o->by, by);
        u->answered_by = o->by;
        remember_proxy(h, o, &e);
        h->st.linked++;
    }

    /* into the window, for a partner still to come */
    if (h->n == HOPS_MAX_PENDING) {
        h->st.evicted++;
        if (r->n_hops < HOP_RESULT_MAX && r->n_updates < HOP_RESULT_MAX)
            retire(h, r);
        else { /* no room to report on it: it just leaves */
            unchain(h, h->head);
            h->head = (h->head + 1) % HOPS_MAX_PENDING;
            h->n--;
        }
    }
    uint32_t at = (h->head + h->n) % HOPS_MAX_PENDING;
    h->ring[at] = e;
    chain(h, at);
    h->n++;
}

bool hops_drain(struct hops *h, struct hop_result *r)
{
    r->n_hops = r->n_updates = 0;
    while (h->n && r->n_hops < HOP_RESULT_MAX && r->n_updates < HOP_RESULT_MAX)
        retire(h, r);
    return h->n > 0;
}
