/* fanout.c: see fanout.h. */
#include "fanout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A round goes out when its batches together hold this many packets or bytes; this
 * many rounds can be in flight (filled, being analysed, or finished and not yet taken
 * back). */
#define ROUND_PACKETS 2048u
#define ROUND_BYTES (2u << 20)
#define ROUNDS 6u

/* What a thread is told to do, in order. Phases order the events of one packet number:
 * live ticks, then packet-time sweeps, then the packet; the end of the run last. */
enum { PH_ADVANCE, PH_SWEEP, PH_PACKET, PH_FLUSH };

struct entry {
    uint8_t phase;        /* also what to do */
    uint64_t k;           /* packet number the entry happens at */
    uint64_t clock;       /* the run's clock then */
    struct dec_pkt d;     /* PH_PACKET: pointers cleared, see the offsets */
    uint32_t l3_off, pay_off; /* into the batch's bytes; NO_OFF: none */
};
#define NO_OFF UINT32_MAX

struct batch {
    struct entry *e;
    size_t n, cap;
    uint8_t *bytes;
    size_t len, bcap;
};

/* Events of a thread that only number things for the run (fanout.h, "Ids"). */
enum { EV_FLOW_NEW = FANOUT_FLOW + 1, EV_X_NEW, EV_X_DROP };

struct event {
    uint64_t k, key;      /* order: (k, phase, key), then the thread's own order */
    uint8_t phase;
    uint8_t type;         /* enum fanout_event_type, or EV_ above */
    uint64_t xid;         /* EV_X_NEW, EV_X_DROP: the track's exchange id */
    struct flow f;
    struct exchange *x;   /* FANOUT_EXCHANGE: one allocation with its text */
    struct reasm_counters rc;
    char l7[64];
};

struct out {
    struct event *v;
    size_t n, cap;
    struct track_stats st; /* the track's counters at the end of the batch */
    uint64_t alloc_failures; /* events lost in this batch: no memory */
};

struct round {
    struct batch *in;     /* one per thread */
    struct out *out;
    size_t packets, bytes;
};

/* A track's exchange ids of exchanges in progress -> the run's: open addressing,
 * linear probing, 0 is an empty cell (ids start at 1). */
struct idmap {
    uint64_t *key, *val;
    size_t cap, n;        /* cap a power of two, or 0 */
};

struct worker {
    struct fanout *fo;
    unsigned idx;
    pthread_t th;
    bool started;
    uint64_t packets;     /* the reader's: TCP packets handed to this thread */
    struct track *tr;
    uint64_t done;        /* rounds finished; under fo->mu */
    /* the reader's: the run's ids of this track's open flows (by slot) and exchanges */
    uint64_t *flow_ids;
    struct idmap xids;
    /* while analysing an entry */
    struct out *out;
    uint64_t k;
    uint8_t phase;
};

struct fanout {
    unsigned n;
    struct worker *w;
    struct round rounds[ROUNDS];
    fanout_event_fn fn;
    void *ctx;
    uint32_t slots_per_track;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    uint64_t dispatched;  /* rounds handed over; under mu (written by the reader only) */
    uint64_t taken;       /* rounds taken back: the reader's own */
    bool quit;
    /* the reader's clock, as one flow table without manual_sweep keeps it */
    uint64_t clock, next_sweep, last_k;
    struct track_stats *snap; /* per thread, from the last round taken back */
    uint64_t next_flow_id, next_xid; /* the run's last ids handed out */
    uint64_t alloc_failures;
    bool finished;
};

/* ---- analysis threads ---- */

static struct exchange *x_copy(const struct exchange *x)
{
    size_t text = 0;
    for (int i = 0; i < XS_COUNT; i++)
        text += x->s[i].len;
    struct exchange *c = malloc(sizeof *c + text);
    if (!c)
        return NULL;
    *c = *x;
    char *p = (char *)(c + 1);
    for (int i = 0; i < XS_COUNT; i++) {
        c->s[i].p = p;
        c->s[i].cap = x->s[i].len;
        if (x->s[i].len)
            memcpy(p, x->s[i].p, x->s[i].len);
        p += x->s[i].len;
    }
    return c;
}

static struct event *push_event(struct worker *w, const struct flow *f, uint8_t type)
{
    struct out *o = w->out;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        struct event *v = realloc(o->v, cap * sizeof *v);
        if (!v) {
            o->alloc_failures++;
            return NULL;
        }
        o->v = v;
        o->cap = cap;
    }
    struct event *e = &o->v[o->n++];
    e->k = w->k;
    e->phase = w->phase;
    /* where one table would have released it: see fanout.h */
    e->key = w->phase == PH_FLUSH ? f->first_pkt
             : w->phase == PH_PACKET ? 0
                                     : (f->closing ? 0 : 1ull << 63) | f->lru_pkt;
    e->type = type;
    e->f = *f;
    e->x = NULL;
    return e;
}

static void on_exchange(void *ctx, const struct flow *f, struct exchange *x)
{
    struct worker *w = ctx;
    struct exchange *c = x_copy(x);
    struct event *e = c ? push_event(w, f, FANOUT_EXCHANGE) : NULL;
    if (!e) {
        if (!c)
            w->out->alloc_failures++;
        free(c);
        return;
    }
    e->x = c;
}

static void on_release(void *ctx, struct flow *f, const struct reasm_counters *rc,
                       const char *l7)
{
    struct worker *w = ctx;
    struct event *e = push_event(w, f, FANOUT_FLOW);
    if (!e)
        return;
    e->rc = *rc;
    snprintf(e->l7, sizeof e->l7, "%s", l7);
}

static void on_flow_new(void *ctx, const struct flow *f)
{
    (void)push_event(ctx, f, EV_FLOW_NEW);
}

static void on_exchange_id(void *ctx, const struct flow *f, uint64_t id, bool given_back)
{
    struct event *e = push_event(ctx, f, given_back ? EV_X_DROP : EV_X_NEW);
    if (e)
        e->xid = id;
}

static void run_batch(struct worker *w, const struct batch *b, struct out *o)
{
    struct flow_table *ft = track_flows(w->tr);
    w->out = o;
    for (size_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        w->k = e->k;
        w->phase = e->phase;
        switch (e->phase) {
        case PH_ADVANCE:
            flow_table_advance(ft, e->clock);
            break;
        case PH_SWEEP:
            flow_table_sweep(ft, e->clock);
            break;
        case PH_PACKET: {
            struct dec_pkt d = e->d;
            d.l3 = e->l3_off == NO_OFF ? NULL : b->bytes + e->l3_off;
            d.payload = e->pay_off == NO_OFF ? NULL : b->bytes + e->pay_off;
            flow_table_clock(ft, e->clock);
            track_packet(w->tr, &d, NULL, NULL);
            break;
        }
        case PH_FLUSH:
            flow_table_flush(ft);
            break;
        }
    }
    track_stats(w->tr, &o->st);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct fanout *fo = w->fo;
    for (;;) {
        pthread_mutex_lock(&fo->mu);
        while (w->done == fo->dispatched && !fo->quit)
            pthread_cond_wait(&fo->work, &fo->mu);
        if (w->done == fo->dispatched) { /* quit, and nothing left */
            pthread_mutex_unlock(&fo->mu);
            return NULL;
        }
        uint64_t r = w->done;
        pthread_mutex_unlock(&fo->mu);
        struct round *rd = &fo->rounds[r % ROUNDS];
        run_batch(w, &rd->in[w->idx], &rd->out[w->idx]);
        pthread_mutex_lock(&fo->mu);
        w->done++;
        pthread_cond_broadcast(&fo->done);
        pthread_mutex_unlock(&fo->mu);
    }
}

/* ---- the reader's side ---- */

static void stop_threads(struct fanout *fo)
{
    pthread_mutex_lock(&fo->mu);
    fo->quit = true;
    pthread_cond_broadcast(&fo->work);
    pthread_mutex_unlock(&fo->mu);
    for (unsigned i = 0; i < fo->n; i++)
        if (fo->w[i].started) {
            pthread_join(fo->w[i].th, NULL);
            fo->w[i].started = false;
        }
}

void fanout_free(struct fanout *fo)
{
    if (!fo)
        return;
    if (fo->w)
        stop_threads(fo);
    for (unsigned r = 0; r < ROUNDS; r++) {
        struct round *rd = &fo->rounds[r];
        for (unsigned i = 0; rd->in && i < fo->n; i++) {
            free(rd->in[i].e);
            free(rd->in[i].bytes);
        }
        for (unsigned i = 0; rd->out && i < fo->n; i++) {
            for (size_t j = 0; j < rd->out[i].n; j++)
                free(rd->out[i].v[j].x);
            free(rd->out[i].v);
        }
        free(rd->in);
        free(rd->out);
    }
    for (unsigned i = 0; fo->w && i < fo->n; i++) {
        track_free(fo->w[i].tr);
        free(fo->w[i].flow_ids);
        free(fo->w[i].xids.key);
        free(fo->w[i].xids.val);
    }
    free(fo->w);
    free(fo->snap);
    pthread_cond_destroy(&fo->work);
    pthread_cond_destroy(&fo->done);
    pthread_mutex_destroy(&fo->mu);
    free(fo);
}

struct fanout *fanout_new(unsigned n, const struct track_config *cfg, fanout_event_fn fn,
                          void *ctx, char *err, size_t err_len)
{
    if (n < 2 || n > FANOUT_MAX_WORKERS) {
        snprintf(err, err_len, "workers: %u is not in 2..%d", n, FANOUT_MAX_WORKERS);
        return NULL;
    }
    struct fanout *fo = calloc(1, sizeof *fo);
    if (!fo) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&fo->mu, NULL);
    pthread_cond_init(&fo->work, NULL);
    pthread_cond_init(&fo->done, NULL);
    fo->n = n;
    fo->fn = fn;
    fo->ctx = ctx;
    fo->w = calloc(n, sizeof *fo->w);
    fo->snap = calloc(n, sizeof *fo->snap);
    bool ok = fo->w && fo->snap;
    for (unsigned r = 0; ok && r < ROUNDS; r++) {
        fo->rounds[r].in = calloc(n, sizeof *fo->rounds[r].in);
        fo->rounds[r].out = calloc(n, sizeof *fo->rounds[r].out);
        ok = fo->rounds[r].in && fo->rounds[r].out;
    }
    if (!ok) {
        snprintf(err, err_len, "out of memory");
        fanout_free(fo);
        return NULL;
    }
    /* The tracks are set up here, one after the other: nDPI's set-up (libgcrypt's
     * first initialisation) is not safe in two threads at once. */
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &fo->w[i];
        w->fo = fo;
        w->idx = i;
        struct track_hooks hooks = { on_exchange, on_release, on_flow_new, on_exchange_id, w };
        if (!(w->tr = track_new(cfg, &hooks, err, err_len))) {
            fanout_free(fo);
            return NULL;
        }
    }
    fo->slots_per_track = flow_table_capacity(track_flows(fo->w[0].tr));
    for (unsigned i = 0; i < n; i++)
        if (!(fo->w[i].flow_ids = calloc(fo->slots_per_track, sizeof(uint64_t)))) {
            snprintf(err, err_len, "out of memory setting up %u flows",
                     fo->slots_per_track * n);
            fanout_free(fo);
            return NULL;
        }
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&fo->w[i].th, NULL, worker_main, &fo->w[i]) != 0) {
            snprintf(err, err_len, "cannot start analysis thread %u of %u", i + 1, n);
            fanout_free(fo);
            return NULL;
        }
        fo->w[i].started = true;
    }
    return fo;
}

uint32_t fanout_slots(const struct fanout *fo)
{
    return fo->slots_per_track * fo->n;
}

static bool event_less(const struct event *a, const struct event *b)
{
    if (a->k != b->k)
        return a->k < b->k;
    if (a->phase != b->phase)
        return a->phase < b->phase;
    return a->key < b->key;
}

static size_t idmap_find(const struct idmap *m, uint64_t key)
{
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
    while (m->key[i] && m->key[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static bool idmap_put(struct idmap *m, uint64_t key, uint64_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        struct idmap g = { calloc(m->cap ? m->cap * 2 : 1024, sizeof(uint64_t)),
                           calloc(m->cap ? m->cap * 2 : 1024, sizeof(uint64_t)),
                           m->cap ? m->cap * 2 : 1024, m->n };
        if (!g.key || !g.val) {
            free(g.key);
            free(g.val);
            return false;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = idmap_find(&g, m->key[i]);
                g.key[j] = m->key[i];
                g.val[j] = m->val[i];
            }
        free(m->key);
        free(m->val);
        *m = g;
    }
    size_t i = idmap_find(m, key);
    m->n += !m->key[i];
    m->key[i] = key;
    m->val[i] = val;
    return true;
}

/* The value of key, removed from the map; 0 when it is not there. */
static uint64_t idmap_take(struct idmap *m, uint64_t key)
{
    if (!m->n)
        return 0;
    size_t i = idmap_find(m, key);
    if (!m->key[i])
        return 0;
    uint64_t val = m->val[i];
    m->n--;
    /* backward shift: the cells after i that probed past it move up */
    for (size_t j = (i + 1) & (m->cap - 1); m->key[j]; j = (j + 1) & (m->cap - 1)) {
        size_t home = (size_t)(m->key[j] * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
        if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
            m->key[i] = m->key[j];
            m->val[i] = m->val[j];
            i = j;
        }
    }
    m->key[i] = 0;
    return val;
}

/* Number the event's flow and exchange as one thread would have (fanout.h, "Ids"), and
 * hand it to the callback. A number lost to memory (its event dropped) is made up. */
static void deliver(struct fanout *fo, unsigned w, struct event *e)
{
    struct worker *wk = &fo->w[w];
    struct flow *f = &e->f;
    uint64_t *fid = &wk->flow_ids[f->slot];
    switch (e->type) {
    case EV_FLOW_NEW:
        *fid = ++fo->next_flow_id;
        return;
    case EV_X_NEW:
        if (!idmap_put(&wk->xids, e->xid, ++fo->next_xid))
            fo->alloc_failures++;
        return;
    case EV_X_DROP: /* reuse only the newest, as h1 does */
        if (idmap_take(&wk->xids, e->xid) == fo->next_xid)
            fo->next_xid--;
        return;
    }
    if (!*fid)
        *fid = ++fo->next_flow_id;
    f->id = *fid;
    if (e->type == FANOUT_FLOW)
        *fid = 0; /* the slot's next flow gets its own */
    f->slot = f->slot * fo->n + w;
    if (e->x) {
        e->x->flow_id = f->id;
        uint64_t xid = idmap_take(&wk->xids, e->x->id);
        e->x->id = xid ? xid : ++fo->next_xid;
    }
    struct fanout_event ev = { (enum fanout_event_type)e->type, f, e->x, &e->rc, e->l7 };
    fo->fn(fo->ctx, &ev);
    free(e->x);
    e->x = NULL;
}

/* Take back the oldest round in flight: merge its threads' events, hand them over,
 * make it free to fill again. With wait, until the threads have finished it. */
static bool take(struct fanout *fo, bool wait)
{
    if (fo->taken == fo->dispatched)
        return false;
    pthread_mutex_lock(&fo->mu);
    for (;;) {
        bool ready = true;
        for (unsigned i = 0; i < fo->n && ready; i++)
            ready = fo->w[i].done > fo->taken;
        if (ready)
            break;
        if (!wait) {
            pthread_mutex_unlock(&fo->mu);
            return false;
        }
        pthread_cond_wait(&fo->done, &fo->mu);
    }
    pthread_mutex_unlock(&fo->mu);
    struct round *rd = &fo->rounds[fo->taken % ROUNDS];
    size_t pos[FANOUT_MAX_WORKERS] = { 0 };
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < fo->n; i++)
            if (pos[i] < rd->out[i].n &&
                (best < 0 || event_less(&rd->out[i].v[pos[i]], &rd->out[best].v[pos[best]])))
                best = (int)i;
        if (best < 0)
            break;
        deliver(fo, (unsigned)best, &rd->out[best].v[pos[best]++]);
    }
    for (unsigned i = 0; i < fo->n; i++) {
        fo->snap[i] = rd->out[i].st;
        fo->alloc_failures += rd->out[i].alloc_failures;
        rd->out[i].alloc_failures = 0;
        rd->out[i].n = 0;
        rd->in[i].n = 0;
        rd->in[i].len = 0;
    }
    rd->packets = rd->bytes = 0;
    fo->taken++;
    return true;
}

/* Hand the round being filled to the threads; then make sure another one is free. */
static void dispatch(struct fanout *fo)
{
    pthread_mutex_lock(&fo->mu);
    fo->dispatched++;
    pthread_cond_broadcast(&fo->work);
    pthread_mutex_unlock(&fo->mu);
    if (fo->dispatched - fo->taken == ROUNDS)
        take(fo, true);
}

static struct round *filling(struct fanout *fo)
{
    return &fo->rounds[fo->dispatched % ROUNDS];
}

static struct entry *add_entry(struct fanout *fo, unsigned w, uint8_t phase, uint64_t k)
{
    struct batch *b = &filling(fo)->in[w];
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct entry *e = realloc(b->e, cap * sizeof *e);
        if (!e) {
            fo->alloc_failures++;
            return NULL;
        }
        b->e = e;
        b->cap = cap;
    }
    struct entry *e = &b->e[b->n++];
    e->phase = phase;
    e->k = k;
    e->clock = fo->clock;
    e->l3_off = e->pay_off = NO_OFF;
    return e;
}

/* Copy n bytes into w's batch; their offset, or NO_OFF when memory ran out. */
static uint32_t add_bytes(struct fanout *fo, unsigned w, const uint8_t *p, size_t n)
{
    struct batch *b = &filling(fo)->in[w];
    if (b->len + n > b->bcap) {
        size_t cap = b->bcap ? b->bcap : 64u << 10;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *bytes = cap < NO_OFF ? realloc(b->bytes, cap) : NULL;
        if (!bytes) {
            fo->alloc_failures++;
            return NO_OFF;
        }
        b->bytes = bytes;
        b->bcap = cap;
    }
    uint32_t off = (uint32_t)b->len;
    if (n)
        memcpy(b->bytes + off, p, n);
    b->len += n;
    filling(fo)->bytes += n;
    return off;
}

static void to_all(struct fanout *fo, uint8_t phase, uint64_t k)
{
    for (unsigned i = 0; i < fo->n; i++)
        add_entry(fo, i, phase, k);
}

void fanout_packet(struct fanout *fo, const struct dec_pkt *d)
{
    fo->last_k = d->pkt_no;
    /* what flow_table_packet() does with its clock, once for all threads */
    if (d->ts_us > fo->clock)
        fo->clock = d->ts_us;
    if (fo->clock >= fo->next_sweep) {
        to_all(fo, PH_SWEEP, d->pkt_no);
        fo->next_sweep = fo->clock + FLOW_SWEEP_EVERY_US;
    }
    unsigned w = flow_packet_hash(d) % fo->n;
    fo->w[w].packets++;
    /* the packet from its IP header on (nDPI reads it), its payload inside it */
    uint32_t l3 = d->l3 ? add_bytes(fo, w, d->l3, d->l3_len) : NO_OFF;
    uint32_t pay = NO_OFF;
    if (d->payload && l3 != NO_OFF && d->payload >= d->l3 &&
        d->payload + d->payload_len <= d->l3 + d->l3_len)
        pay = l3 + (uint32_t)(d->payload - d->l3);
    else if (d->payload)
        pay = add_bytes(fo, w, d->payload, d->payload_len);
    if ((d->l3 && l3 == NO_OFF) || (d->payload && pay == NO_OFF))
        return; /* no memory for its bytes: counted, the packet is lost */
    struct entry *e = add_entry(fo, w, PH_PACKET, d->pkt_no);
    if (!e)
        return;
    e->d = *d;
    e->d.l3 = e->d.payload = NULL;
    e->l3_off = l3;
    e->pay_off = pay;
    struct round *rd = filling(fo);
    if (++rd->packets >= ROUND_PACKETS || rd->bytes >= ROUND_BYTES)
        dispatch(fo);
}

void fanout_advance(struct fanout *fo, uint64_t now_us)
{
    /* what flow_table_advance() does */
    if (now_us > fo->clock) {
        fo->clock = now_us;
        fo->next_sweep = fo->clock + FLOW_SWEEP_EVERY_US;
        to_all(fo, PH_ADVANCE, fo->last_k + 1);
    }
    if (filling(fo)->packets || filling(fo)->in[0].n)
        dispatch(fo);
    fanout_poll(fo);
}

void fanout_poll(struct fanout *fo)
{
    while (take(fo, false))
        ;
}

void fanout_finish(struct fanout *fo)
{
    if (fo->finished)
        return;
    fo->finished = true;
    to_all(fo, PH_FLUSH, UINT64_MAX);
    dispatch(fo);
    while (take(fo, true))
        ;
    stop_threads(fo);
}

void fanout_stats(const struct fanout *fo, struct track_stats *sum)
{
    *sum = (struct track_stats){ 0 };
    for (unsigned i = 0; i < fo->n; i++)
        track_stats_add(sum, &fo->snap[i]);
}

void fanout_balance(const struct fanout *fo, uint64_t *busiest, uint64_t *total)
{
    *busiest = *total = 0;
    for (unsigned i = 0; i < fo->n; i++) {
        *total += fo->w[i].packets;
        if (fo->w[i].packets > *busiest)
            *busiest = fo->w[i].packets;
    }
}

uint64_t fanout_alloc_failures(const struct fanout *fo)
{
    return fo->alloc_failures;
}
