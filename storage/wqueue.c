/* wqueue.c: see wqueue.h. */
#include "wqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct chunk {
    struct chunk *next;
    size_t used;
    uint8_t data[];
};

/* Each record: its length, then the bytes, padded to 8. */
struct rec_head {
    uint64_t len;
};

struct wq {
    pthread_mutex_t mu;
    pthread_cond_t ready;     /* a chunk was handed to the consumer, or closed */
    pthread_cond_t freed;     /* a chunk came back to the producer */
    size_t chunk_bytes;
    unsigned max_chunks, n_chunks;
    struct chunk *spare;      /* chunks free for the producer */
    struct chunk *head, *tail; /* handed over, oldest first */
    struct chunk *cur;        /* the producer's */
    struct chunk *reading;    /* the consumer's */
    size_t read_off;
    bool closed, aborted;
};

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

struct wq *wq_new(size_t chunk_bytes, unsigned max_chunks)
{
    struct wq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->ready, &ca);
    pthread_cond_init(&q->freed, &ca);
    pthread_condattr_destroy(&ca);
    q->chunk_bytes = chunk_bytes;
    q->max_chunks = max_chunks < 2 ? 2 : max_chunks;
    return q;
}

/* Under the lock: hand the producer's chunk over. */
static void hand_over(struct wq *q)
{
    struct chunk *c = q->cur;
    q->cur = NULL;
    if (!c)
        return;
    if (c->used == 0) {
        c->next = q->spare;
        q->spare = c;
        return;
    }
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    pthread_cond_signal(&q->ready);
}

/* Under the lock: a chunk for the producer, waiting for one to come back if all are
 * in flight. NULL when aborted or out of memory. */
static struct chunk *take_chunk(struct wq *q)
{
    for (;;) {
        if (q->aborted)
            return NULL;
        if (q->spare) {
            struct chunk *c = q->spare;
            q->spare = c->next;
            c->used = 0;
            return c;
        }
        if (q->n_chunks < q->max_chunks) {
            struct chunk *c = malloc(sizeof *c + q->chunk_bytes);
            if (!c)
                return NULL;
            q->n_chunks++;
            c->used = 0;
            return c;
        }
        pthread_cond_wait(&q->freed, &q->mu);
    }
}

void *wq_reserve(struct wq *q, size_t n)
{
    /* compared before padding: n comes from the caller, and pad8(SIZE_MAX) wraps */
    if (q->chunk_bytes < sizeof(struct rec_head) ||
        n > q->chunk_bytes - sizeof(struct rec_head))
        return NULL;
    size_t need = sizeof(struct rec_head) + pad8(n);
    if (need > q->chunk_bytes)
        return NULL;
    pthread_mutex_lock(&q->mu);
    if (q->aborted) {
        pthread_mutex_unlock(&q->mu);
        return NULL;
    }
    if (q->cur && q->cur->used + need > q->chunk_bytes)
        hand_over(q);
    if (!q->cur)
        q->cur = take_chunk(q);
    struct chunk *c = q->cur;
    pthread_mutex_unlock(&q->mu);
    if (!c)
        return NULL;
    /* the current chunk is the producer's alone: no lock needed to fill it */
    struct rec_head *h = (struct rec_head *)(void *)(c->data + c->used);
    h->len = n;
    c->used += need;
    return h + 1;
}

void wq_flush(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    hand_over(q);
    pthread_mutex_unlock(&q->mu);
}

void wq_close(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    hand_over(q);
    q->closed = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->mu);
}

void wq_abort(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->aborted = true;
    pthread_cond_broadcast(&q->freed);
    pthread_mutex_unlock(&q->mu);
}

const void *wq_next(struct wq *q, size_t *n, unsigned timeout_ms, bool *timed_out)
{
    *timed_out = false;
    for (;;) {
        struct chunk *c = q->reading;
        if (c && q->read_off < c->used) {
            struct rec_head *h = (struct rec_head *)(void *)(c->data + q->read_off);
            q->read_off += sizeof *h + pad8(h->len);
            *n = h->len;
            return h + 1;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&q->mu);
        if (c) { /* read through: give it back */
            c->next = q->spare;
            q->spare = c;
            q->reading = NULL;
            pthread_cond_signal(&q->freed);
        }
        while (!q->head && !q->closed && !*timed_out) {
            if (!timeout_ms)
                pthread_cond_wait(&q->ready, &q->mu);
            else if (pthread_cond_timedwait(&q->ready, &q->mu, &until) == ETIMEDOUT)
                *timed_out = !q->head;
        }
        c = q->head;
        if (c) {
            q->head = c->next;
            if (!q->head)
                q->tail = NULL;
        }
        pthread_mutex_unlock(&q->mu);
        if (!c)
            return NULL;
        q->reading = c;
        q->read_off = 0;
    }
}

void wq_free(struct wq *q)
{
    if (!q)
        return;
    struct chunk *lists[] = { q->spare, q->head, q->cur, q->reading };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        struct chunk *c = lists[i];
        while (c) {
            struct chunk *next = (i >= 2) ? NULL : c->next;
            free(c);
            c = next;
        }
    }
    pthread_cond_destroy(&q->ready);
    pthread_cond_destroy(&q->freed);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
