/* flow.c: see flow.h. */
#include "flow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "sniff.h"

#define NONE UINT32_MAX

/* Two LRU lists, each ordered by last_seen because the clock never runs backwards:
 * open flows expire after idle_us, ended ones after linger_us. */
enum { LRU_OPEN, LRU_ENDED, LRU_COUNT };

struct lru {
    uint32_t head, tail; /* head is the least recently seen */
};

struct flow_table {
    struct flow *pool;
    uint32_t cap;
    uint32_t free_head;   /* released slots, chained through hash_next */
    uint32_t next_unused; /* slots from here on were never used (never touched) */
    uint32_t *buckets;    /* slot + 1 of each chain's head; 0 is an empty chain, so
                             calloc'd pages of empty buckets are never touched */
    uint32_t n_buckets;   /* power of two */
    struct lru lru[LRU_COUNT];
    uint64_t idle_us, linger_us;
    uint64_t now_us;      /* largest packet time seen */
    uint64_t next_sweep_us;
    uint64_t next_id;
    uint64_t cur_pkt;     /* pkt_no of the packet being accounted */
    bool manual_sweep;
    uint64_t seed;        /* of the hash, per table */
    flow_release_fn release;
    void *ctx;
    struct flow_stats st;
};

static void lru_unlink(struct flow_table *t, struct flow *f)
{
    struct lru *l = &t->lru[f->lru_list];
    if (f->lru_prev != NONE)
        t->pool[f->lru_prev].lru_next = f->lru_next;
    else
        l->head = f->lru_next;
    if (f->lru_next != NONE)
        t->pool[f->lru_next].lru_prev = f->lru_prev;
    else
        l->tail = f->lru_prev;
    f->lru_prev = f->lru_next = NONE;
}

static void lru_push_tail(struct flow_table *t, struct flow *f, uint8_t list)
{
    struct lru *l = &t->lru[list];
    f->lru_list = list;
    f->lru_pkt = t->cur_pkt;
    f->lru_next = NONE;
    f->lru_prev = l->tail;
    if (l->tail != NONE)
        t->pool[l->tail].lru_next = f->slot;
    else
        l->head = f->slot;
    l->tail = f->slot;
}

/* The canonical key hashed eight bytes at a time (a multiply-xorshift mix), with a
 * seed drawn per table: crafted 5-tuples cannot aim at one chain without knowing it.
 * Byte-wise FNV-1a cost 8% of a run on a 1 GB capture. */
static uint32_t key_hash(const struct flow_key *k, uint64_t seed)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = seed;
    size_t i = 0;
    for (; i + 8 <= sizeof *k; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, sizeof *k - i);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    return (uint32_t)(h ^ (h >> 32));
}

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_release_fn release,
                                  void *ctx)
{
    struct flow_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uint32_t cap = cfg->max_flows;
    if (cap < FLOW_MIN_MAX)
        cap = FLOW_MIN_MAX;
    if (cap > FLOW_MAX_MAX)
        cap = FLOW_MAX_MAX;
    t->cap = cap;
    t->n_buckets = 1;
    while (t->n_buckets < cap * 2u)
        t->n_buckets <<= 1;
    /* calloc'd pages are not touched until a flow uses them, and slots are handed
     * out in order, so memory follows the number of concurrent flows, not the
     * configured maximum. */
    t->pool = calloc(cap, sizeof *t->pool);
    t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
    if (!t->pool || !t->buckets) {
        flow_table_free(t);
        return NULL;
    }
    t->free_head = NONE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t->seed = ((uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid()) |
              1;
    for (int i = 0; i < LRU_COUNT; i++)
        t->lru[i].head = t->lru[i].tail = NONE;
    t->idle_us = cfg->idle_us;
    t->linger_us = cfg->linger_us;
    t->manual_sweep = cfg->manual_sweep;
    t->release = release;
    t->ctx = ctx;
    return t;
}

uint32_t flow_table_capacity(const struct flow_table *t)
{
    return t->cap;
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->st;
}

void flow_table_free(struct flow_table *t)
{
    if (!t)
        return;
    free(t->pool);
    free(t->buckets);
    free(t);
}

/* Unlink a flow from the index and its LRU list, hand it to the release callback,
 * and return its slot to the pool. */
static void release_flow(struct flow_table *t, struct flow *f, enum end_reason why)
{
    uint32_t *head = &t->buckets[key_hash(&f->key, t->seed) & (t->n_buckets - 1)];
    if (*head - 1 == f->slot) {
        *head = f->hash_next + 1; /* NONE + 1 == 0: the chain is empty */
    } else {
        uint32_t i = *head - 1;
        while (i != NONE && t->pool[i].hash_next != f->slot)
            i = t->pool[i].hash_next;
        if (i != NONE)
            t->pool[i].hash_next = f->hash_next;
    }
    lru_unlink(t, f);
    if (!f->closing)
        f->end_reason = (uint8_t)why;
    if (t->release)
        t->release(t->ctx, f);
    uint32_t slot = f->slot;
    memset(f, 0, sizeof *f);
    f->slot = slot;
    f->hash_next = t->free_head;
    t->free_head = slot;
    t->st.active--;
}

static void expire(struct flow_table *t)
{
    struct lru *ended = &t->lru[LRU_ENDED];
    while (ended->head != NONE && t->pool[ended->head].last_seen_us + t->linger_us <= t->now_us)
        release_flow(t, &t->pool[ended->head], END_NONE);
    struct lru *open = &t->lru[LRU_OPEN];
    while (open->head != NONE && t->pool[open->head].last_seen_us + t->idle_us <= t->now_us) {
        t->st.timed_out++;
        release_flow(t, &t->pool[open->head], END_TIMEOUT);
    }
}

/* Canonical key: the smaller (address, port) pair first. Returns which endpoint of
 * the key sent this packet. */
static uint8_t make_key(const struct dec_pkt *p, struct flow_key *k)
{
    memset(k, 0, sizeof *k);
    k->family = p->family;
    k->vlan_outer = p->vlan_outer;
    k->vlan_inner = p->vlan_inner;
    size_t alen = p->family == 4 ? 4 : 16;
    int c = memcmp(p->src, p->dst, alen);
    uint8_t src_ep = c < 0 || (c == 0 && p->sport <= p->dport) ? 0 : 1;
    memcpy(k->addr[src_ep], p->src, alen);
    memcpy(k->addr[!src_ep], p->dst, alen);
    k->port[src_ep] = p->sport;
    k->port[!src_ep] = p->dport;
    return src_ep;
}

/* Ports below 1024 and the common HTTP alternates are servers; ports in the usual
 * ephemeral ranges are clients. Returns the endpoint that is probably the server, or
 * -1 when the ports do not say. */
static int server_by_port(const struct flow_key *k)
{
    static const uint16_t http_ports[] = { 80, 8080, 8000, 8008, 8081, 8088, 8443, 8888,
                                           3128, 3129, 443, 631, 5000, 9000 };
    for (int ep = 0; ep < 2; ep++)
        for (size_t i = 0; i < sizeof http_ports / sizeof http_ports[0]; i++)
            if (k->port[ep] == http_ports[i] && k->port[!ep] != http_ports[i])
                return ep;
    bool low0 = k->port[0] < 1024, low1 = k->port[1] < 1024;
    if (low0 != low1)
        return low0 ? 0 : 1;
    bool eph0 = k->port[0] >= 32768, eph1 = k->port[1] >= 32768;
    if (eph0 != eph1)
        return eph0 ? 1 : 0;
    return -1;
}

static void swap_u64(uint64_t v[2])
{
    uint64_t t = v[0];
    v[0] = v[1];
    v[1] = t;
}

/* Make endpoint ep the client. What was counted before the roles were settled moves
 * with its sender: a SYN or a first payload that overturns the port guess must not
 * leave the packets, bytes and FINs seen so far on the wrong side. */
static void set_client(struct flow *f, uint8_t ep)
{
    if (f->client_ep == ep)
        return;
    f->client_ep = ep;
    swap_u64(f->packets);
    swap_u64(f->payload_bytes);
    swap_u64(f->wire_bytes);
    bool fin = f->fin_seen[0];
    f->fin_seen[0] = f->fin_seen[1];
    f->fin_seen[1] = fin;
    bool rst = f->rst_seen[0];
    f->rst_seen[0] = f->rst_seen[1];
    f->rst_seen[1] = rst;
}

static struct flow *lookup(struct flow_table *t, const struct flow_key *k, uint32_t h)
{
    for (uint32_t i = t->buckets[h & (t->n_buckets - 1)] - 1; i != NONE;
         i = t->pool[i].hash_next)
        if (memcmp(&t->pool[i].key, k, sizeof *k) == 0)
            return &t->pool[i];
    return NULL;
}

static struct flow *create(struct flow_table *t, const struct flow_key *k, uint32_t h,
                           uint8_t src_ep, const struct dec_pkt *p)
{
    if (t->free_head == NONE && t->next_unused < t->cap) {
        t->pool[t->next_unused].slot = t->next_unused;
        t->pool[t->next_unused].hash_next = NONE;
        t->free_head = t->next_unused++;
    }
    if (t->free_head == NONE) {
        /* Pool empty: ended flows are only lingering, so they go first; otherwise the
         * least recently seen open flow is evicted and counted. */
        if (t->lru[LRU_ENDED].head != NONE) {
            release_flow(t, &t->pool[t->lru[LRU_ENDED].head], END_NONE);
        } else {
            t->st.evicted++;
            release_flow(t, &t->pool[t->lru[LRU_OPEN].head], END_EVICTED);
        }
    }
    struct flow *f = &t->pool[t->free_head];
    t->free_head = f->hash_next;
    uint32_t slot = f->slot;
    memset(f, 0, sizeof *f);
    f->slot = slot;
    f->key = *k;
    f->id = ++t->next_id;
    f->first_pkt = t->cur_pkt;
    f->first_seen_us = p->ts_us;
    f->last_seen_us = t->now_us;
    uint32_t *bucket = &t->buckets[h & (t->n_buckets - 1)];
    f->hash_next = *bucket - 1;
    *bucket = slot + 1;
    lru_push_tail(t, f, LRU_OPEN);
    /* Roles: the SYN settles them; until one is seen, the ports guess, and failing
     * that the receiver of the first packet is taken as the server. */
    int srv = server_by_port(k);
    f->client_ep = srv >= 0 ? (uint8_t)!srv : src_ep;
    f->roles = ROLES_PORT;
    t->st.created++;
    if (++t->st.active > t->st.peak_active)
        t->st.peak_active = t->st.active;
    return f;
}

bool flow_flags_impossible(uint8_t fl)
{
    if ((fl & TCP_SYN) && (fl & (TCP_FIN | TCP_RST)))
        return true;
    if ((fl & (TCP_FIN | TCP_ACK)) == TCP_FIN)
        return true; /* every segment after the SYN carries an ACK */
    return (fl & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK | TCP_PSH | TCP_URG)) == 0;
}

/* What endpoint ep's (non-RST) segment shows of its state. */
static void track(struct flow *f, uint8_t ep, const struct dec_pkt *p)
{
    uint32_t end = p->seq + p->payload_len + p->payload_cut +
                   ((p->tcp_flags & TCP_SYN) ? 1u : 0u) + ((p->tcp_flags & TCP_FIN) ? 1u : 0u);
    if (!f->seq_known[ep] || seq_lt(f->snd_nxt[ep], end)) {
        f->snd_nxt[ep] = end;
        f->seq_known[ep] = true;
    }
    if (p->tcp_flags & TCP_ACK) {
        if (!f->ack_known[ep] || seq_lt(f->last_ack[ep], p->ack))
            f->last_ack[ep] = p->ack;
        f->ack_known[ep] = true;
    }
    if (p->tcp_flags & TCP_SYN) {
        f->syn_from[ep] = true;
        f->wscale[ep] = p->wscale;
        f->wnd[ep] = p->window; /* a SYN's window is never scaled */
        return;
    }
    /* Scaling is on when both SYNs carried the option; the scale is unknown when a SYN
     * was missed: assume the largest, RFC 7323's 14. */
    unsigned shift = 14;
    if (f->syn_from[0] && f->syn_from[1])
        shift = f->wscale[0] != DEC_NO_WSCALE && f->wscale[1] != DEC_NO_WSCALE
                    ? f->wscale[ep] : 0;
    f->wnd[ep] = (uint32_t)p->window << shift;
}

/* RFC 5961 3.2, as far as the capture shows the receiver's state (flow.h). */
static bool rst_believable(const struct flow *f, uint8_t ep, uint32_t seq)
{
    uint8_t rcv = !ep;
    if (f->ack_known[rcv]) {
        uint32_t wnd = f->wnd[rcv] ? f->wnd[rcv] : 1; /* a zero window: RCV.NXT only */
        return seq - f->last_ack[rcv] < wnd;
    }
    if (f->seq_known[ep]) {
        uint32_t ahead = seq - f->snd_nxt[ep];
        return ahead <= FLOW_RST_UNKNOWN_WINDOW || 0u - ahead <= FLOW_RST_UNKNOWN_WINDOW;
    }
    return true;
}

void flow_table_advance(struct flow_table *t, uint64_t now_us)
{
    if (now_us <= t->now_us)
        return;
    t->now_us = now_us;
    expire(t);
    t->next_sweep_us = t->now_us + FLOW_SWEEP_EVERY_US;
}

void flow_table_clock(struct flow_table *t, uint64_t now_us)
{
    if (now_us > t->now_us)
        t->now_us = now_us;
}

void flow_table_sweep(struct flow_table *t, uint64_t now_us)
{
    flow_table_clock(t, now_us);
    expire(t);
    t->next_sweep_us = t->now_us + FLOW_SWEEP_EVERY_US;
}

uint32_t flow_packet_hash(const struct dec_pkt *p)
{
    /* XOR of the two endpoints is the same both ways; no key to build */
    uint64_t a[2], b[2];
    memcpy(a, p->src, sizeof a);
    memcpy(b, p->dst, sizeof b);
    uint64_t h = (a[0] ^ b[0]) * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 29) ^ a[1] ^ b[1]) * 0xbf58476d1ce4e5b9ull;
    h ^= (uint64_t)(p->sport ^ p->dport) << 32 ^ (uint64_t)p->vlan_outer << 16 ^ p->vlan_inner;
    h = (h ^ (h >> 31)) * 0x94d049bb133111ebull; /* splitmix64's finish: every input bit */
    h ^= h >> 29;                                 /* reaches the low bits a modulo keeps */
    return (uint32_t)h;
}

struct flow_hit flow_table_packet(struct flow_table *t, const struct dec_pkt *p)
{
    struct flow_hit hit = { 0 };
    t->cur_pkt = p->pkt_no;
    if (p->ts_us > t->now_us)
        t->now_us = p->ts_us;
    if (!t->manual_sweep && t->now_us >= t->next_sweep_us) {
        expire(t);
        t->next_sweep_us = t->now_us + FLOW_SWEEP_EVERY_US;
    }
    if (flow_flags_impossible(p->tcp_flags)) {
        t->st.bad_flags++;
        return hit;
    }
    struct flow_key k;
    uint8_t src_ep = make_key(p, &k);
    uint32_t h = key_hash(&k, t->seed);
    struct flow *f = lookup(t, &k, h);
    bool syn_only = (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;

    /* A new SYN on a flow that ended, or a SYN with another ISN on a flow that already
     * carried data, is a new connection reusing the 5-tuple. */
    if (f && syn_only && (f->closing || (f->syn_seen && src_ep == f->client_ep &&
                                         f->client_syn_seq != p->seq && f->payload_seen))) {
        t->st.port_reuse++;
        release_flow(t, f, END_REUSED);
        f = NULL;
    }
    if (!f && (p->tcp_flags & TCP_RST)) {
        t->st.bad_flags++; /* nothing to reset: it must not open a flow */
        return hit;
    }
    if (!f) {
        f = create(t, &k, h, src_ep, p);
        hit.created = true;
    }
    if (syn_only && !f->syn_seen && !f->payload_seen && !f->closing &&
        (f->fin_seen[0] || f->fin_seen[1])) {
        /* a FIN before the handshake: debris, not the end of this connection */
        f->fin_seen[0] = f->fin_seen[1] = false;
        f->bad_flags++;
        t->st.bad_flags++;
    }

    if (!f->syn_seen && (p->tcp_flags & TCP_SYN) && !(p->tcp_flags & TCP_RST)) {
        f->syn_seen = true;
        f->roles = ROLES_SYN;
        set_client(f, (p->tcp_flags & TCP_ACK) ? (uint8_t)!src_ep : src_ep);
        f->client_syn_seq = (p->tcp_flags & TCP_ACK) ? 0 : p->seq;
    }
    if (!f->payload_seen && p->payload_len > 0) {
        f->payload_seen = true;
        /* Mid-stream: a request line says its sender is the client, a status line
         * that it is the server. */
        if (f->roles == ROLES_PORT) {
            int c = sniff_http_start(p->payload, p->payload_len);
            if (c >= 0) {
                set_client(f, c ? src_ep : (uint8_t)!src_ep);
                f->roles = ROLES_PAYLOAD;
            }
        }
    }

    enum dir d = src_ep == f->client_ep ? DIR_C2S : DIR_S2C;
    hit.f = f;
    hit.dir = d;
    f->packets[d]++;
    f->payload_bytes[d] += (uint64_t)p->payload_len + p->payload_cut;
    f->wire_bytes[d] += p->wire_len;
    f->last_seen_us = t->now_us;

    if (f->closing) {
        hit.after_end = true;
        lru_unlink(t, f);
        lru_push_tail(t, f, LRU_ENDED);
        return hit;
    }
    if ((p->tcp_flags & TCP_RST) && !rst_believable(f, src_ep, p->seq)) {
        f->bad_rsts++;
        t->st.bad_rsts++;
        hit.ignored = true;
        lru_unlink(t, f); /* last_seen moved: keep the list in its order */
        lru_push_tail(t, f, LRU_OPEN);
        return hit;
    }
    if (!(p->tcp_flags & TCP_RST))
        track(f, src_ep, p);
    lru_unlink(t, f);
    if (p->tcp_flags & TCP_RST) {
        f->rst_seen[d] = true;
        f->closing = true;
        f->end_reason = END_RST;
    } else if (p->tcp_flags & TCP_FIN) {
        f->fin_seen[d] = true;
        if (f->fin_seen[!d]) {
            f->closing = true;
            f->end_reason = END_FIN;
        }
    }
    hit.ended = f->closing;
    lru_push_tail(t, f, f->closing ? LRU_ENDED : LRU_OPEN);
    return hit;
}

static int by_id(const void *a, const void *b)
{
    const struct flow *x = *(struct flow *const *)a, *y = *(struct flow *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void flow_table_flush(struct flow_table *t)
{
    if (t->st.active == 0)
        return;
    struct flow **all = malloc((size_t)t->st.active * sizeof *all);
    if (!all) { /* no memory to sort: release in LRU order instead */
        for (int l = 0; l < LRU_COUNT; l++)
            while (t->lru[l].head != NONE)
                release_flow(t, &t->pool[t->lru[l].head], END_CAPTURE_END);
        return;
    }
    size_t n = 0;
    for (int l = 0; l < LRU_COUNT; l++)
        for (uint32_t i = t->lru[l].head; i != NONE; i = t->pool[i].lru_next)
            all[n++] = &t->pool[i];
    qsort(all, n, sizeof *all, by_id);
    for (size_t i = 0; i < n; i++)
        release_flow(t, all[i], END_CAPTURE_END);
    free(all);
}

const uint8_t *flow_addr(const struct flow *f, enum dir side)
{
    return f->key.addr[side == DIR_C2S ? f->client_ep : !f->client_ep];
}

uint16_t flow_port(const struct flow *f, enum dir side)
{
    return f->key.port[side == DIR_C2S ? f->client_ep : !f->client_ep];
}

char *flow_endpoint_str(const struct flow *f, enum dir side, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (!inet_ntop(f->key.family == 4 ? AF_INET : AF_INET6, flow_addr(f, side), ip,
                   sizeof ip))
        snprintf(ip, sizeof ip, "?");
    if (f->key.family == 4)
        snprintf(buf, len, "%s:%u", ip, flow_port(f, side));
    else
        snprintf(buf, len, "[%s]:%u", ip, flow_port(f, side));
    return buf;
}

const char *flow_end_reason_name(enum end_reason r)
{
    switch (r) {
    case END_FIN: return "fin";
    case END_RST: return "rst";
    case END_TIMEOUT: return "timeout";
    case END_CAPTURE_END: return "capture_end";
    case END_EVICTED: return "evicted";
    case END_REUSED: return "reused";
    default: return "open";
    }
}

bool flow_one_sided(const struct flow *f)
{
    return (f->payload_bytes[DIR_C2S] && !f->packets[DIR_S2C]) ||
           (f->payload_bytes[DIR_S2C] && !f->packets[DIR_C2S]);
}
