/* test_wqueue.c: the write queue from the analyzer thread to the database writer
 * (storage/wqueue.h), driven by real threads: order and content of 200,000 records,
 * the memory bound and the producer's wait, records that can never fit, wq_next's
 * timeout, wq_abort waking a waiting producer, wq_close on an empty queue, and wq_free
 * with records and chunks in flight (the leak check is AddressSanitizer's).
 *
 * Every record starts with its sequence number; its size and the rest of its bytes
 * follow from that number alone, so the reader checks each record without a copy.
 * Only the main thread calls CHECK (check.h's counters are plain statics): a worker
 * thread notes what it saw and main checks it after pthread_join.
 * A hang fails the test instead of stalling CTest: each case arms a 60 s alarm.
 * No check depends on timing. The sleeps only make an interleaving likely (the
 * producer already waiting when wq_abort comes), never required for a check to pass.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "wqueue.h"

enum { WATCHDOG_S = 60 };

/* ---- records ---- */

/* splitmix64's finalizer: a well-spread hash of a sequence number. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* What a record of n bytes takes in a chunk: an 8-byte length, the bytes padded to 8. */
static uint64_t footprint(size_t n)
{
    return 8 + (((uint64_t)n + 7) & ~(uint64_t)7);
}

/* The biggest record a chunk holds: its length and its bytes fill the chunk. */
static size_t rec_max(size_t chunk_bytes)
{
    return chunk_bytes - 8;
}

/* Record seq, n >= 8 bytes: the sequence number, then a xorshift stream seeded by it. */
static void fill(void *rec, size_t n, uint64_t seq)
{
    uint8_t *p = rec;
    memcpy(p, &seq, 8);
    uint64_t s = mix(seq) | 1; /* xorshift never leaves 0 */
    for (size_t i = 8; i < n; i += 8) {
        uint64_t w = xorshift64(&s);
        memcpy(p + i, &w, n - i < 8 ? n - i : 8);
    }
}

static bool rec_ok(const void *rec, size_t n, uint64_t seq)
{
    const uint8_t *p = rec;
    uint64_t got;
    if (n < 8)
        return false;
    memcpy(&got, p, 8);
    if (got != seq)
        return false;
    uint64_t s = mix(seq) | 1;
    for (size_t i = 8; i < n; i += 8) {
        uint64_t w = xorshift64(&s);
        if (memcmp(p + i, &w, n - i < 8 ? n - i : 8) != 0)
            return false;
    }
    return true;
}

/* Mostly small records, as the driver writes them; one in 8 up to 4 KiB; one in 64
 * within 16 bytes of the biggest a chunk holds, that one included. The chunk must
 * hold 4096 bytes. */
static size_t size_varied(uint64_t seq, size_t chunk_bytes)
{
    uint64_t h = mix(seq ^ 0x5eedu), r = h >> 8;
    if ((h & 63) == 0)
        return rec_max(chunk_bytes) - (size_t)(r % 16);
    if ((h & 7) == 1)
        return 8 + (size_t)(r % 4089);
    return 8 + (size_t)(r % 249);
}

/* 56 bytes: 64 in a chunk, so a chunk of 4096 holds exactly 64 and one of 1024 16. */
static size_t size_fixed(uint64_t seq, size_t chunk_bytes)
{
    (void)seq;
    (void)chunk_bytes;
    return 56;
}

enum { FIXED_FIRST = 512 };

/* The first FIXED_FIRST records of size_fixed, so that the number that fills the queue
 * is known; then 8 to 1024 bytes. */
static size_t size_backpressure(uint64_t seq, size_t chunk_bytes)
{
    if (seq < FIXED_FIRST)
        return size_fixed(seq, chunk_bytes);
    return 8 + (size_t)(mix(seq) % 1017);
}

/* ---- the producer thread and main's side ---- */

struct prod {
    struct wq *q;
    size_t chunk_bytes;
    uint64_t n_records; /* UINT64_MAX: until a reserve fails */
    size_t (*size_of)(uint64_t seq, size_t chunk_bytes);
    unsigned flush_odds;  /* flush after a record with odds 1 in this; 0: never */
    unsigned pause_every; /* sleep 1 ms after this many records; 0: never */
    bool flush_at_end, close_at_end;
    /* Shared while it runs: records written, and footprints (see footprint()) written
     * and read. A record is counted written after its bytes are, and read after
     * wq_next returned it, so every record between the two counts is still in a chunk:
     * written_bytes - read_bytes can never pass chunk_bytes * max_chunks. Each thread
     * moves only its own counter, so the difference it computes was true when it
     * loaded the other's. */
    _Atomic uint64_t written, written_bytes, read_bytes;
    _Atomic bool done;
    /* the producer's, read after the join */
    uint64_t max_ahead_bytes; /* most written_bytes - read_bytes it saw */
    uint64_t n_flushes;
    uint64_t n_ok_after_fail; /* reserves that worked after one failed */
    bool reserve_failed;
};

/* What main saw of a run. */
struct reader {
    uint64_t next_seq, n_bad;
    uint64_t max_ahead_bytes; /* most written_bytes - read_bytes it saw */
    uint64_t n_timeouts;
    uint64_t n_timed_out_records; /* records that came with *timed_out set */
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

static void *produce(void *arg)
{
    struct prod *pr = arg;
    uint64_t rng = 0x2545f4914f6cdd1du; /* flush points: fixed seed */
    for (uint64_t seq = 0; seq < pr->n_records; seq++) {
        size_t n = pr->size_of(seq, pr->chunk_bytes);
        void *rec = wq_reserve(pr->q, n);
        if (!rec) {
            pr->reserve_failed = true;
            break;
        }
        fill(rec, n, seq);
        uint64_t w = atomic_fetch_add(&pr->written_bytes, footprint(n)) + footprint(n);
        atomic_fetch_add(&pr->written, 1);
        uint64_t ahead = w - atomic_load(&pr->read_bytes);
        if (ahead > pr->max_ahead_bytes)
            pr->max_ahead_bytes = ahead;
        if (pr->flush_odds && xorshift64(&rng) % pr->flush_odds == 0) {
            wq_flush(pr->q);
            pr->n_flushes++;
        }
        if (pr->pause_every && (seq + 1) % pr->pause_every == 0)
            sleep_ms(1);
    }
    if (pr->reserve_failed) {
        for (int i = 0; i < 3; i++)
            if (wq_reserve(pr->q, 8))
                pr->n_ok_after_fail++;
    }
    if (pr->flush_at_end)
        wq_flush(pr->q);
    if (pr->close_at_end)
        wq_close(pr->q);
    atomic_store(&pr->done, true);
    return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (pthread_create(t, NULL, fn, arg) != 0) {
        fprintf(stderr, "test_wqueue: pthread_create failed\n");
        exit(1);
    }
}

/* Main's side: check a record against what produce() wrote for the next sequence
 * number, then count it read. The first bad one is described on stderr. */
static void take(struct prod *pr, struct reader *rd, const void *rec, size_t n)
{
    uint64_t seq = rd->next_seq++;
    size_t want = pr->size_of(seq, pr->chunk_bytes);
    if ((n != want || !rec_ok(rec, n, seq)) && rd->n_bad++ == 0) {
        uint64_t got = 0;
        if (n >= 8)
            memcpy(&got, rec, 8);
        fprintf(stderr, "    [%s] record %llu: %zu bytes (expected %zu), seq %llu\n",
                check_case_name, (unsigned long long)seq, n, want,
                (unsigned long long)got);
    }
    uint64_t r = atomic_fetch_add(&pr->read_bytes, footprint(n)) + footprint(n);
    uint64_t ahead = atomic_load(&pr->written_bytes) - r;
    if (ahead > rd->max_ahead_bytes)
        rd->max_ahead_bytes = ahead;
}

/* Read to the end (NULL, not timed out), counting timeouts; pause 1 ms after every
 * pause_every records (0: never). The end is checked by the caller. */
static void take_all(struct prod *pr, struct reader *rd, unsigned timeout_ms,
                     unsigned pause_every)
{
    for (;;) {
        size_t n = 0;
        bool timed_out;
        const void *rec = wq_next(pr->q, &n, timeout_ms, &timed_out);
        if (!rec && timed_out) {
            rd->n_timeouts++;
            continue;
        }
        if (!rec)
            return;
        if (timed_out)
            rd->n_timed_out_records++;
        take(pr, rd, rec, n);
        if (pause_every && rd->next_seq % pause_every == 0)
            sleep_ms(1);
    }
}

/* ---- the watchdog ---- */

static void say(const char *s)
{
    if (write(STDERR_FILENO, s, strlen(s)) < 0)
        return;
}

static void on_alarm(int sig)
{
    (void)sig;
    say("test_wqueue: watchdog: case \"");
    say(check_case_name);
    say("\" hung (deadlock?)\n");
    _exit(1);
}

/* Name the case and give it WATCHDOG_S seconds. */
static void begin(const char *name)
{
    check_case(name);
    alarm(WATCHDOG_S);
}

/* ---- 1. order and content ---- */

static void case_order(const char *name, size_t chunk_bytes, unsigned max_chunks,
                       uint64_t n_records)
{
    begin(name);
    struct wq *q = wq_new(chunk_bytes, max_chunks);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr = { .q = q, .chunk_bytes = chunk_bytes, .n_records = n_records,
                       .size_of = size_varied, .flush_odds = 64, .close_at_end = true };
    pthread_t t;
    start(&t, produce, &pr);
    struct reader rd = { 0 };
    take_all(&pr, &rd, 0, 0);
    size_t n;
    bool timed_out = true;
    CHECK(wq_next(q, &n, 0, &timed_out) == NULL); /* the end stays the end */
    CHECK(!timed_out);
    pthread_join(t, NULL);
    CHECK(!pr.reserve_failed);
    CHECK(pr.n_flushes > 0);
    CHECK_EQ(rd.n_timeouts, 0);
    CHECK_EQ(rd.n_timed_out_records, 0);
    CHECK_EQ(rd.next_seq, n_records);
    CHECK_EQ(rd.n_bad, 0);
    wq_free(q);
}

/* ---- 2. bounded memory, back-pressure ---- */

static void case_backpressure(void)
{
    begin("2 back-pressure: a producer ahead by the whole queue waits");
    enum { CHUNK = 4096, CHUNKS = 4, N = 10000 };
    const uint64_t bound = (uint64_t)CHUNK * CHUNKS;
    const uint64_t fill_count = bound / footprint(56); /* 256 records fill the queue */
    struct wq *q = wq_new(CHUNK, CHUNKS);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr = { .q = q, .chunk_bytes = CHUNK, .n_records = N,
                       .size_of = size_backpressure, .close_at_end = true };
    pthread_t t;
    start(&t, produce, &pr);

    /* Nothing read yet: the producer fills every chunk, then must wait. The sleep
     * gives a queue that grew instead the time to show it. */
    while (atomic_load(&pr.written) < fill_count)
        sleep_ms(1);
    sleep_ms(100);
    CHECK_EQ(atomic_load(&pr.written), fill_count);
    CHECK(!atomic_load(&pr.done));

    /* A slow reader: the producer never gets further ahead than the queue holds. */
    struct reader rd = { 0 };
    take_all(&pr, &rd, 0, 50);
    pthread_join(t, NULL);
    CHECK(!pr.reserve_failed);
    CHECK_EQ(rd.next_seq, N);
    CHECK_EQ(rd.n_bad, 0);
    CHECK_EQ(pr.max_ahead_bytes, bound); /* reached while main waited above */
    CHECK(rd.max_ahead_bytes <= bound);
    wq_free(q);
}

/* ---- 3. a record that can never fit ---- */

static void case_never_fits(void)
{
    begin("3 a record bigger than a chunk: NULL, and the queue goes on");
    enum { CHUNK = 1024 };
    struct wq *q = wq_new(CHUNK, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    CHECK(wq_reserve(q, rec_max(CHUNK) + 1) == NULL); /* pads to the chunk, plus 8 */
    CHECK(wq_reserve(q, CHUNK) == NULL);
    CHECK(wq_reserve(q, 1u << 20) == NULL);

    void *a = wq_reserve(q, 100);
    CHECK(a != NULL);
    if (a)
        fill(a, 100, 0);
    CHECK(wq_reserve(q, 5000) == NULL); /* leaves the current chunk as it was */
    void *b = wq_reserve(q, rec_max(CHUNK)); /* exactly fits: takes the second chunk */
    CHECK(b != NULL);
    if (b)
        fill(b, rec_max(CHUNK), 1);
    /* Both chunks are in use now: a record that never fits fails at once instead of
     * waiting for a chunk to come back (the watchdog sees a wait). */
    CHECK(wq_reserve(q, 2000) == NULL);
    wq_flush(q);

    size_t n = 0;
    bool timed_out = true;
    const void *r = wq_next(q, &n, 0, &timed_out);
    CHECK(r != NULL && n == 100 && rec_ok(r, n, 0));
    r = wq_next(q, &n, 0, &timed_out);
    CHECK(r != NULL && n == rec_max(CHUNK) && rec_ok(r, n, 1));
    void *c = wq_reserve(q, 8);
    CHECK(c != NULL);
    if (c)
        fill(c, 8, 2);
    wq_close(q);
    r = wq_next(q, &n, 0, &timed_out);
    CHECK(r != NULL && n == 8 && rec_ok(r, n, 2));
    CHECK(wq_next(q, &n, 0, &timed_out) == NULL);
    CHECK(!timed_out);
    wq_free(q);

    /* 8 + pad8(n) must not wrap around to a size that fits. */
    begin("3 a record bigger than a chunk: sizes near SIZE_MAX");
    q = wq_new(CHUNK, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    CHECK(wq_reserve(q, SIZE_MAX) == NULL);
    CHECK(wq_reserve(q, SIZE_MAX - 7) == NULL);
    CHECK(wq_reserve(q, SIZE_MAX - 8) == NULL);
    wq_free(q);
}

/* ---- 4. wq_next's timeout ---- */

static void case_timeout(void)
{
    begin("4 wq_next timeout: nothing came, then a record does");
    enum { CHUNK = 4096 };
    struct wq *q = wq_new(CHUNK, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    size_t n = 0;
    bool timed_out = false;
    CHECK(wq_next(q, &n, 50, &timed_out) == NULL);
    CHECK(timed_out);

    struct prod pr = { .q = q, .chunk_bytes = CHUNK, .n_records = 3,
                       .size_of = size_fixed, .flush_at_end = true };
    pthread_t t;
    start(&t, produce, &pr);
    struct reader rd = { 0 };
    for (int i = 0; i < 3; i++) {
        const void *r = wq_next(q, &n, 0, &timed_out);
        CHECK(r != NULL);
        CHECK(!timed_out);
        if (r)
            take(&pr, &rd, r, n);
    }
    CHECK_EQ(rd.next_seq, 3);
    CHECK_EQ(rd.n_bad, 0);
    pthread_join(t, NULL);
    /* Read through, nothing more: the chunk goes back, the wait times out again. */
    CHECK(wq_next(q, &n, 20, &timed_out) == NULL);
    CHECK(timed_out);
    wq_free(q);

    /* Short timeouts racing a producer that flushes often and pauses now and then:
     * no record lost, doubled or reordered however the hand-over and the timed wait
     * interleave; the end is not mistaken for a timeout for good. */
    begin("4 wq_next timeout: 1 ms waits against a pausing producer");
    q = wq_new(CHUNK + 8, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr2 = { .q = q, .chunk_bytes = CHUNK + 8, .n_records = 20000,
                        .size_of = size_varied, .flush_odds = 4, .pause_every = 200,
                        .close_at_end = true };
    start(&t, produce, &pr2);
    struct reader rd2 = { 0 };
    take_all(&pr2, &rd2, 1, 0);
    pthread_join(t, NULL);
    CHECK(!pr2.reserve_failed);
    CHECK_EQ(rd2.next_seq, 20000);
    CHECK_EQ(rd2.n_bad, 0);
    CHECK_EQ(rd2.n_timed_out_records, 0);
    wq_free(q);
}

/* ---- 5. wq_abort ---- */

/* A writer thread that reads to the end, as db.c's writer_main does. */
static void *consume(void *arg)
{
    struct prod *pr = arg;
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    take_all(pr, rd, 0, 0);
    return rd;
}

static void case_abort(void)
{
    begin("5 wq_abort: reserves fail even with room in the chunk");
    struct wq *q = wq_new(1024, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    void *a = wq_reserve(q, 56);
    CHECK(a != NULL);
    if (a)
        fill(a, 56, 0);
    wq_abort(q);
    CHECK(wq_reserve(q, 56) == NULL);
    CHECK(wq_reserve(q, 8) == NULL);
    wq_free(q); /* a partly filled chunk still the producer's */

    /* 2 chunks of 16 records: the producer writes 32 and waits for a chunk. */
    begin("5 wq_abort: wakes a producer waiting for a chunk");
    q = wq_new(1024, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr = { .q = q, .chunk_bytes = 1024, .n_records = UINT64_MAX,
                       .size_of = size_fixed, .close_at_end = true };
    pthread_t t;
    start(&t, produce, &pr);
    while (atomic_load(&pr.written) < 32)
        sleep_ms(1);
    sleep_ms(50); /* very likely in pthread_cond_wait by now; not required */
    wq_abort(q);
    pthread_join(t, NULL); /* the watchdog fails a producer left waiting */
    CHECK(pr.reserve_failed);
    CHECK_EQ(atomic_load(&pr.written), 32);
    CHECK_EQ(pr.n_ok_after_fail, 0);
    wq_free(q); /* both chunks still queued */

    /* The writer gives up in the middle of a stream that is not waiting. */
    begin("5 wq_abort: mid-stream, producer running");
    q = wq_new(8192, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr2 = { .q = q, .chunk_bytes = 8192, .n_records = UINT64_MAX,
                        .size_of = size_varied, .flush_odds = 32 };
    start(&t, produce, &pr2);
    struct reader rd = { 0 };
    size_t n = 0;
    bool timed_out;
    while (rd.next_seq < 5000) {
        const void *r = wq_next(q, &n, 0, &timed_out);
        if (!r)
            break;
        take(&pr2, &rd, r, n);
    }
    CHECK_EQ(rd.next_seq, 5000);
    wq_abort(q);
    pthread_join(t, NULL);
    CHECK(pr2.reserve_failed);
    CHECK_EQ(pr2.n_ok_after_fail, 0);
    CHECK_EQ(rd.n_bad, 0);
    CHECK(atomic_load(&pr2.written) >= 5000);
    wq_free(q); /* the chunk being read, queued chunks, maybe the producer's */

    /* db.c's stop_writer, on the producer's thread: wq_close, then wq_abort to wake a
     * waiting producer, then join the writer. The writer must still get every row. */
    begin("5 wq_abort: close then abort still drains (db.c stop_writer)");
    q = wq_new(8192, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr3 = { .q = q, .chunk_bytes = 8192, .n_records = 3000,
                        .size_of = size_varied, .flush_odds = 16, .close_at_end = true };
    start(&t, consume, &pr3);
    produce(&pr3); /* on this thread, then wq_close */
    wq_abort(q);
    void *ret;
    pthread_join(t, &ret);
    struct reader *rd3 = ret;
    CHECK(!pr3.reserve_failed);
    CHECK_EQ(rd3->next_seq, 3000);
    CHECK_EQ(rd3->n_bad, 0);
    free(rd3);
    wq_free(q);
}

/* ---- 6. wq_close on an empty queue ---- */

static void *close_later(void *arg)
{
    struct prod *pr = arg;
    produce(pr); /* one record, flushed, not closed */
    sleep_ms(20);
    wq_close(pr->q);
    return NULL;
}

static void case_close_empty(void)
{
    begin("6 wq_close on an empty queue: the end at once");
    struct wq *q = wq_new(1024, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    wq_close(q);
    size_t n = 0;
    bool timed_out = true;
    CHECK(wq_next(q, &n, 0, &timed_out) == NULL);
    CHECK(!timed_out);
    timed_out = true;
    CHECK(wq_next(q, &n, 10000, &timed_out) == NULL); /* not a timeout: at once */
    CHECK(!timed_out);
    wq_free(q);

    begin("6 wq_close after flushes of nothing");
    q = wq_new(1024, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    wq_flush(q);
    wq_flush(q);
    wq_close(q);
    timed_out = true;
    CHECK(wq_next(q, &n, 0, &timed_out) == NULL);
    CHECK(!timed_out);
    wq_free(q);

    /* Main waits without a limit on a drained queue; the close must wake it. */
    begin("6 wq_close wakes a reader waiting without a limit");
    q = wq_new(1024, 2);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr = { .q = q, .chunk_bytes = 1024, .n_records = 1, .size_of = size_fixed,
                       .flush_at_end = true };
    pthread_t t;
    start(&t, close_later, &pr);
    const void *r = wq_next(q, &n, 0, &timed_out);
    CHECK(r != NULL && n == 56 && rec_ok(r, n, 0));
    timed_out = true;
    CHECK(wq_next(q, &n, 0, &timed_out) == NULL);
    CHECK(!timed_out);
    pthread_join(t, NULL);
    wq_free(q);
}

/* ---- 7. wq_free with records and chunks in flight ---- */

/* n records of 504 bytes (two to a chunk of 1024), sequence numbers from seq. */
static void put(struct wq *q, uint64_t seq, int n)
{
    for (int i = 0; i < n; i++) {
        void *p = wq_reserve(q, 504);
        CHECK(p != NULL);
        if (p)
            fill(p, 504, seq + (uint64_t)i);
    }
}

static void get(struct wq *q, uint64_t seq, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        bool timed_out;
        const void *r = wq_next(q, &len, 0, &timed_out);
        CHECK(r != NULL && len == 504 && rec_ok(r, len, seq + (uint64_t)i));
    }
}

static void case_free(void)
{
    begin("7 wq_free: never used, and NULL");
    wq_free(wq_new(1024, 4));
    wq_free(NULL);

    /* Single-threaded so that each list of chunks is known. 4 chunks A-D of 2 records:
     * 7 records leave A, B, C queued and D the producer's; 3 read leave A spare, B
     * being read and C queued: every list non-empty. */
    begin("7 wq_free: spare, queued, current and reading chunks");
    struct wq *q = wq_new(1024, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    put(q, 0, 7);
    get(q, 0, 3);
    wq_free(q);

    begin("7 wq_free: two spare chunks, one being read");
    q = wq_new(1024, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    put(q, 0, 7);
    get(q, 0, 5);
    wq_free(q);

    begin("7 wq_free: closed, nothing read");
    q = wq_new(1024, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    put(q, 0, 7);
    wq_close(q);
    wq_free(q);

    /* Threads: chunks A-D of 16 records. Main reads 20 (A read through and reused, B
     * being read); the producer fills C, D and A again, 80 records, and waits for a
     * chunk until the abort. */
    begin("7 wq_free: after threads, with every chunk in flight");
    q = wq_new(1024, 4);
    CHECK(q != NULL);
    if (!q)
        return;
    struct prod pr = { .q = q, .chunk_bytes = 1024, .n_records = UINT64_MAX,
                       .size_of = size_fixed };
    pthread_t t;
    start(&t, produce, &pr);
    struct reader rd = { 0 };
    while (rd.next_seq < 20) {
        size_t n = 0;
        bool timed_out;
        const void *r = wq_next(q, &n, 0, &timed_out);
        if (!r)
            break;
        take(&pr, &rd, r, n);
    }
    CHECK_EQ(rd.next_seq, 20);
    while (atomic_load(&pr.written) < 80)
        sleep_ms(1);
    wq_abort(q);
    pthread_join(t, NULL);
    CHECK_EQ(rd.n_bad, 0);
    CHECK_EQ(atomic_load(&pr.written), 80);
    wq_free(q);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    case_order("1 order and content: 8 chunks of 16 KiB", 16384, 8, 200000);
    case_order("1 order and content: 1 chunk asked (2 given) of 4 KiB + 8", 4104, 1, 50000);
    case_backpressure();
    case_never_fits();
    case_timeout();
    case_abort();
    case_close_empty();
    case_free();
    alarm(0);
    return check_done("test_wqueue");
}
