/* test_reasm.c: TCP reassembly driven by hand-built segments on flows of a real flow
 * table, the way the pipeline (analyzer/pipeline/pipeline.c) does it. A recording sink stands in for
 * the dissector: it logs every event as text ("d0:5@10" is 5 bytes client to server
 * at 10 us, "g1:100@20" a gap of 100 bytes server to client, "c:fin@30" the close) and
 * keeps the bytes of each direction.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flow.h"
#include "limits.h"
#include "reasm.h"
#include "tseg.h"

/* What a held run of n bytes is charged against the out-of-order budgets. */
#define C(n) reasm_held_cost(true, (n))

/* ---- the recording sink ---- */

struct rec_flow {
    uint64_t flow_id;
    char *log;
    size_t log_len, log_cap;
    uint8_t *bytes[2];
    size_t len[2], cap[2];
    uint64_t n_data, n_gap;
    const uint8_t *last_span; /* the last span data() got, to see it was not copied */
    char eofs[64];            /* eof events, apart from the main log: "e0@40 e1@50" */
    bool closed;
};

struct rec {
    struct rec_flow *flows[64];
    int n;
    int anomalies; /* events after close, empty data or gaps, a second close */
};

static void grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c);
    if (!q)
        abort();
    *p = q;
    *cap = c;
}

static void logf_(struct rec_flow *r, const char *text)
{
    size_t n = strlen(text);
    grow((void **)&r->log, &r->log_cap, r->log_len + n + 2);
    if (r->log_len)
        r->log[r->log_len++] = ' ';
    memcpy(r->log + r->log_len, text, n + 1);
    r->log_len += n;
}

static void *rec_open(void *owner, const struct flow *f)
{
    struct rec *rec = owner;
    struct rec_flow *r = calloc(1, sizeof *r);
    if (!r || rec->n == (int)(sizeof rec->flows / sizeof rec->flows[0]))
        abort();
    r->flow_id = f->id;
    r->log = calloc(1, 1);
    r->log_cap = 1;
    rec->flows[rec->n++] = r;
    return r;
}

static struct rec *the_rec; /* the sink callbacks get only their flow's state */

static void rec_data(void *st, enum dir d, const uint8_t *p, size_t n, uint64_t ts)
{
    struct rec_flow *r = st;
    if (r->closed || n == 0)
        the_rec->anomalies++;
    char buf[64];
    snprintf(buf, sizeof buf, "d%d:%zu@%llu", (int)d, n, (unsigned long long)ts);
    logf_(r, buf);
    grow((void **)&r->bytes[d], &r->cap[d], r->len[d] + n);
    memcpy(r->bytes[d] + r->len[d], p, n);
    r->len[d] += n;
    r->n_data++;
    r->last_span = p;
}

static void rec_gap(void *st, enum dir d, uint64_t missing, uint64_t ts)
{
    struct rec_flow *r = st;
    if (r->closed || missing == 0)
        the_rec->anomalies++;
    char buf[64];
    snprintf(buf, sizeof buf, "g%d:%llu@%llu", (int)d, (unsigned long long)missing,
             (unsigned long long)ts);
    logf_(r, buf);
    r->n_gap++;
}

static void rec_close(void *st, enum end_reason why, uint64_t ts)
{
    static const char *const names[] = { "none", "fin", "rst", "timeout", "capture_end",
                                         "evicted" };
    struct rec_flow *r = st;
    if (r->closed)
        the_rec->anomalies++;
    char buf[64];
    snprintf(buf, sizeof buf, "c:%s@%llu",
             (unsigned)why < sizeof names / sizeof names[0] ? names[why] : "?",
             (unsigned long long)ts);
    logf_(r, buf);
    r->closed = true; /* kept, not freed: the test reads it afterwards */
}

static void rec_eof(void *st, enum dir d, uint64_t ts)
{
    struct rec_flow *r = st;
    if (r->closed)
        the_rec->anomalies++;
    size_t used = strlen(r->eofs);
    snprintf(r->eofs + used, sizeof r->eofs - used, "%se%d@%llu", used ? " " : "", (int)d,
             (unsigned long long)ts);
}

static void rec_uncaptured(void *st, enum dir d, uint64_t n, uint64_t ts)
{
    struct rec_flow *r = st;
    if (r->closed || n == 0)
        the_rec->anomalies++;
    char buf[64];
    snprintf(buf, sizeof buf, "u%d:%llu@%llu", (int)d, (unsigned long long)n,
             (unsigned long long)ts);
    logf_(r, buf);
}

static const struct stream_sink_ops rec_ops = { rec_open, rec_data, rec_gap, rec_eof,
                                                rec_close, rec_uncaptured };

/* ---- the driver ---- */

struct done {
    uint64_t id;
    uint8_t why;
    struct reasm_counters c;
};

struct env {
    struct flow_table *ft;
    struct reasm *ra;
    struct rec rec;
    struct done done[64];
    int n_done;
};

static void on_release(void *ctx, struct flow *f)
{
    struct env *e = ctx;
    struct done *d = &e->done[e->n_done < 63 ? e->n_done : 63];
    e->n_done++;
    d->id = f->id;
    d->why = f->end_reason;
    reasm_release(e->ra, f, (enum end_reason)f->end_reason, f->last_seen_us, &d->c);
}

static void env_init(struct env *e, uint64_t global_cap, uint64_t idle_us, bool sink)
{
    memset(e, 0, sizeof *e);
    /* 0 stands for the default here, to keep the cases short */
    struct flow_config cfg = { 16, idle_us ? idle_us : FLOW_DEFAULT_IDLE_US,
                               FLOW_DEFAULT_LINGER_US, false };
    e->ft = flow_table_new(&cfg, on_release, e);
    e->ra = e->ft ? reasm_new(flow_table_capacity(e->ft),
                              global_cap ? global_cap : REASM_DEFAULT_OOO_GLOBAL,
                              sink ? &rec_ops : NULL, &e->rec)
                  : NULL;
    if (!e->ra)
        abort();
    the_rec = &e->rec;
}

/* End of capture: flush the table, releasing every flow, and check what must hold
 * for every case. The logs and counters stay readable until env_free(). */
static void env_end(struct env *e)
{
    flow_table_flush(e->ft);
    CHECK_EQ(e->rec.anomalies, 0);
    CHECK_EQ(reasm_stats(e->ra)->ooo_bytes_now, 0);
    for (int i = 0; i < e->rec.n; i++)
        CHECK(e->rec.flows[i]->closed); /* every opened sink state was closed */
}

static void env_free(struct env *e)
{
    reasm_free(e->ra);
    flow_table_free(e->ft);
    for (int i = 0; i < e->rec.n; i++) {
        struct rec_flow *r = e->rec.flows[i];
        free(r->log);
        free(r->bytes[0]);
        free(r->bytes[1]);
        free(r);
    }
}

/* One segment through the flow table and reassembly, as the pipeline does it. */
static struct flow_hit feed(struct env *e, const struct dec_pkt *p)
{
    struct flow_hit hit = flow_table_packet(e->ft, p);
    if (!hit.f || hit.after_end || hit.ignored)
        return hit;
    reasm_segment(e->ra, hit.f, hit.dir, p);
    if (hit.ended)
        reasm_close(e->ra, hit.f, (enum end_reason)hit.f->end_reason, p->ts_us);
    return hit;
}

static struct tseg_ep cli = { "10.0.0.1", 40000 };
static const struct tseg_ep srv = { "10.0.0.2", 80 };
static uint32_t isn_c = 1000, isn_s = 5000;

/* A segment with payload n bytes of p plus `cut` bytes lost to the snaplen. */
static struct flow_hit segn(struct env *e, uint64_t ts, enum dir d, uint8_t flags,
                            uint32_t seq, uint32_t ack, const void *p, uint32_t n,
                            uint32_t cut)
{
    struct dec_pkt pk = d == DIR_C2S ? tseg(ts, cli, srv, flags, seq, ack, p, n)
                                     : tseg(ts, srv, cli, flags, seq, ack, p, n);
    pk.payload_cut = cut;
    return feed(e, &pk);
}

/* Client data, acknowledging the server's SYN. */
static struct flow_hit c2s(struct env *e, uint64_t ts, uint32_t seq, const char *s)
{
    return segn(e, ts, DIR_C2S, TCP_ACK | TCP_PSH, seq, isn_s + 1, s, (uint32_t)strlen(s), 0);
}

/* Server data, acknowledging only the client's SYN (so no hole looks acknowledged). */
static struct flow_hit s2c(struct env *e, uint64_t ts, uint32_t seq, const char *s)
{
    return segn(e, ts, DIR_S2C, TCP_ACK | TCP_PSH, seq, isn_c + 1, s, (uint32_t)strlen(s), 0);
}

static const struct flow *handshake(struct env *e, uint64_t ts)
{
    struct flow_hit h = segn(e, ts, DIR_C2S, TCP_SYN, isn_c, 0, NULL, 0, 0);
    segn(e, ts + 1, DIR_S2C, TCP_SYN | TCP_ACK, isn_s, isn_c + 1, NULL, 0, 0);
    segn(e, ts + 2, DIR_C2S, TCP_ACK, isn_c + 1, isn_s + 1, NULL, 0, 0);
    return h.f;
}

/* The sink state of flow id (the last one opened), or NULL. */
static struct rec_flow *rec_of(struct env *e, uint64_t id)
{
    for (int i = e->rec.n - 1; i >= 0; i--)
        if (e->rec.flows[i]->flow_id == id)
            return e->rec.flows[i];
    return NULL;
}

static const char *log_of(struct env *e, uint64_t id)
{
    struct rec_flow *r = rec_of(e, id);
    return r ? r->log : "(never opened)";
}

static const struct done *done_of(struct env *e, uint64_t id)
{
    for (int i = 0; i < e->n_done && i < 64; i++)
        if (e->done[i].id == id)
            return &e->done[i];
    static const struct done none;
    return &none;
}

static void check_bytes(struct env *e, uint64_t id, enum dir d, const void *want, size_t n)
{
    struct rec_flow *r = rec_of(e, id);
    CHECK(r != NULL);
    if (r)
        CHECK_MEM(r->bytes[d], r->len[d], want, n);
}

/* ---- the cases ---- */

static void test_in_order(void)
{
    check_case("in-order data goes out at once, without copying");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    static const char get[] = "GET";
    struct flow_hit h = c2s(&e, 10, 1001, get);
    CHECK(rec_of(&e, 1) && rec_of(&e, 1)->last_span == (const uint8_t *)get);
    CHECK_STR(log_of(&e, 1), "d0:3@10");
    c2s(&e, 20, 1004, " / ");
    s2c(&e, 30, 5001, "HTTP");
    segn(&e, 40, DIR_C2S, TCP_FIN | TCP_ACK, 1007, 5005, NULL, 0, 0);
    h = segn(&e, 50, DIR_S2C, TCP_FIN | TCP_ACK, 5005, 1008, NULL, 0, 0);
    CHECK(h.ended);
    segn(&e, 60, DIR_C2S, TCP_ACK, 1008, 5006, NULL, 0, 0); /* absorbed by linger */
    CHECK_STR(log_of(&e, 1), "d0:3@10 d0:3@20 d1:4@30 c:fin@50");
    CHECK_STR(rec_of(&e, 1)->eofs, "e0@40 e1@50"); /* each FIN, reached in order */
    check_bytes(&e, 1, DIR_C2S, "GET / ", 6);
    check_bytes(&e, 1, DIR_S2C, "HTTP", 4);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, 0);
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(e.n_done, 1);
    CHECK_EQ(done_of(&e, 1)->why, END_FIN);
    CHECK_EQ(c->gaps + c->missing_bytes[0] + c->missing_bytes[1] + c->retransmissions +
             c->overlaps + c->overlap_mismatch + c->out_of_order + c->out_of_window +
             c->cap_flushes, 0);
    env_free(&e);

    check_case("data on the SYN (TCP Fast Open)");
    env_init(&e, 0, 0, true);
    segn(&e, 1, DIR_C2S, TCP_SYN, isn_c, 0, "tfo", 3, 0);
    c2s(&e, 2, 1004, "more");
    env_end(&e);
    CHECK_STR(log_of(&e, 1), "d0:3@1 d0:4@2 c:capture_end@2");
    check_bytes(&e, 1, DIR_C2S, "tfomore", 7);
    env_free(&e);
}

static void test_reordering(void)
{
    check_case("reordering: held runs go out when the hole fills, at its time");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 30, 1006, "world");
    c2s(&e, 40, 1011, "!!");
    CHECK_STR(log_of(&e, 1), "(never opened)");
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(5) + C(2));
    s2c(&e, 45, 5001, "HTTP/1.1");
    c2s(&e, 50, 1001, "hello");
    CHECK_STR(log_of(&e, 1), "d1:8@45 d0:5@50 d0:5@50 d0:2@50");
    check_bytes(&e, 1, DIR_C2S, "helloworld!!", 12);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, C(5) + C(2));
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->out_of_order, 2);
    CHECK_EQ(c->gaps, 0);
    CHECK_EQ(c->retransmissions, 0);
    env_free(&e);

    check_case("reordering: three runs in reverse order");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1011, "ccccc");
    c2s(&e, 20, 1006, "bbbbb");
    c2s(&e, 30, 1001, "aaaaa");
    CHECK_STR(log_of(&e, 1), "d0:5@30 d0:5@30 d0:5@30");
    check_bytes(&e, 1, DIR_C2S, "aaaaabbbbbccccc", 15);
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.out_of_order, 2);
    env_free(&e);
}

static void test_retransmission(void)
{
    check_case("retransmission of delivered bytes, same and different");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    c2s(&e, 20, 1001, "hello");
    c2s(&e, 30, 1001, "HELLO"); /* the delivered copy is gone: nothing to compare */
    c2s(&e, 35, 1003, "ll");
    c2s(&e, 40, 1006, "x");
    CHECK_STR(log_of(&e, 1), "d0:5@10 d0:1@40");
    check_bytes(&e, 1, DIR_C2S, "hellox", 6);
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->retransmissions, 3);
    CHECK_EQ(c->overlaps, 0);
    CHECK_EQ(c->overlap_mismatch, 0);
    env_free(&e);

    check_case("retransmission of held bytes: the first copy wins");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1006, "world");
    c2s(&e, 20, 1006, "world");
    c2s(&e, 30, 1006, "WORLD");
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(5));
    c2s(&e, 40, 1001, "hello");
    CHECK_STR(log_of(&e, 1), "d0:5@40 d0:5@40");
    check_bytes(&e, 1, DIR_C2S, "helloworld", 10);
    env_end(&e);
    c = &done_of(&e, 1)->c;
    CHECK_EQ(c->retransmissions, 2); /* every byte of each copy had been seen */
    CHECK_EQ(c->overlaps, 0);
    CHECK_EQ(c->overlap_mismatch, 1);
    CHECK_EQ(c->out_of_order, 3);
    env_free(&e);
}

static void test_overlap(void)
{
    check_case("partial overlap with delivered bytes");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    c2s(&e, 20, 1004, "loWOR");
    CHECK_STR(log_of(&e, 1), "d0:5@10 d0:3@20");
    check_bytes(&e, 1, DIR_C2S, "helloWOR", 8);
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.overlaps, 1);
    CHECK_EQ(done_of(&e, 1)->c.retransmissions, 0);
    env_free(&e);

    check_case("partial overlaps with held bytes");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1006, "bbbbb");      /* [1006, 1011) */
    c2s(&e, 20, 1004, "xxBBBBByyy"); /* new on both sides of it; differs inside */
    c2s(&e, 25, 1013, "yZZ");        /* overlaps one equal byte */
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(5) + C(2) + C(3) + C(2));
    c2s(&e, 30, 1001, "abc");
    CHECK_STR(log_of(&e, 1), "d0:3@30 d0:2@30 d0:5@30 d0:3@30 d0:2@30");
    check_bytes(&e, 1, DIR_C2S, "abcxxbbbbbyyyZZ", 15);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, C(5) + C(2) + C(3) + C(2));
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->overlaps, 2);
    CHECK_EQ(c->overlap_mismatch, 1);
    CHECK_EQ(c->out_of_order, 3);
    CHECK_EQ(c->retransmissions, 0);
    env_free(&e);
}

static void test_wrap(void)
{
    check_case("sequence numbers wrap across 2^32");
    struct env e;
    env_init(&e, 0, 0, true);
    isn_c = 0xfffffff8u;
    isn_s = 0xffffffffu;
    handshake(&e, 1);
    c2s(&e, 10, 0xfffffff9u, "0123456789"); /* ends at 3 */
    c2s(&e, 20, 8, "later");
    s2c(&e, 25, 0, "HTTP");
    c2s(&e, 30, 3, "abcde");
    c2s(&e, 40, 0xfffffffeu, "6789ab"); /* old bytes, across the wrap */
    c2s(&e, 50, 11, "erXYZ");           /* two old bytes, three new */
    CHECK_STR(log_of(&e, 1), "d0:10@10 d1:4@25 d0:5@30 d0:5@30 d0:3@50");
    check_bytes(&e, 1, DIR_C2S, "0123456789abcdelaterXYZ", 23);
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->retransmissions, 1);
    CHECK_EQ(c->overlaps, 1);
    CHECK_EQ(c->out_of_order, 1);
    CHECK_EQ(c->gaps, 0);
    isn_c = 1000;
    isn_s = 5000;
    env_free(&e);
}

static void test_mid_stream(void)
{
    check_case("mid-stream start: the first segment seen starts the stream");
    struct env e;
    env_init(&e, 0, 0, true);
    c2s(&e, 10, 777777, "xyz");
    s2c(&e, 20, 5555, "HTTP/1.1 200");
    static char old[100];
    segn(&e, 30, DIR_C2S, TCP_ACK, 777000, 5567, old, sizeof old, 0);
    c2s(&e, 40, 777780, "abc");
    c2s(&e, 50, 777781, "bcdef");
    CHECK_STR(log_of(&e, 1), "d0:3@10 d1:12@20 d0:3@40 d0:3@50");
    check_bytes(&e, 1, DIR_C2S, "xyzabcdef", 9);
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.retransmissions, 1);
    CHECK_EQ(done_of(&e, 1)->c.overlaps, 1);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    env_free(&e);
}

/* "hello", a lost segment of 100 bytes, "world" held behind it. */
static void lost_segment(struct env *e)
{
    handshake(e, 1);
    c2s(e, 10, 1001, "hello");
    c2s(e, 30, 1106, "world");
}

static void check_lost(struct env *e, uint64_t id, uint8_t why)
{
    const struct done *d = done_of(e, id);
    CHECK_EQ(d->why, why);
    CHECK_EQ(d->c.missing_bytes[DIR_C2S], 100);
    CHECK_EQ(d->c.missing_bytes[DIR_S2C], 0);
    CHECK_EQ(d->c.gaps, 1);
    CHECK_EQ(d->c.out_of_order, 1);
}

static void test_lost_segment(void)
{
    struct env e;
    check_case("lost segment: gap on FIN, then the held data");
    env_init(&e, 0, 0, true);
    lost_segment(&e);
    segn(&e, 40, DIR_C2S, TCP_FIN | TCP_ACK, 1111, 5001, NULL, 0, 0);
    struct flow_hit h = segn(&e, 50, DIR_S2C, TCP_FIN | TCP_ACK, 5001, 1112, NULL, 0, 0);
    CHECK(h.ended);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@50 d0:5@30 c:fin@50");
    /* the client's FIN is reached only once its hole is given up, at close, and is
     * reported at the time it arrived, not at the held bytes' earlier time */
    CHECK_STR(rec_of(&e, 1)->eofs, "e1@50 e0@40");
    check_bytes(&e, 1, DIR_C2S, "helloworld", 10);
    env_end(&e);
    check_lost(&e, 1, END_FIN);
    env_free(&e);

    check_case("lost segment: gap on RST");
    env_init(&e, 0, 0, true);
    lost_segment(&e);
    segn(&e, 50, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@50 d0:5@30 c:rst@50");
    env_end(&e);
    check_lost(&e, 1, END_RST);
    env_free(&e);

    check_case("lost segment right before the FIN");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    segn(&e, 40, DIR_C2S, TCP_FIN | TCP_ACK, 1106, 5001, NULL, 0, 0);
    segn(&e, 50, DIR_S2C, TCP_FIN | TCP_ACK, 5001, 1107, NULL, 0, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@50 c:fin@50");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 100);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 1);
    env_free(&e);

    check_case("lost segment: gap at capture end (flush)");
    env_init(&e, 0, 0, true);
    lost_segment(&e);
    flow_table_flush(e.ft);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@30 d0:5@30 c:capture_end@30");
    env_end(&e);
    check_lost(&e, 1, END_CAPTURE_END);
    env_free(&e);

    check_case("lost segment: gap at idle timeout");
    env_init(&e, 0, 1000000, true);
    lost_segment(&e);
    struct tseg_ep other = { "10.9.9.9", 41000 };
    struct dec_pkt p = tseg(2000000, other, srv, TCP_SYN, 1, 0, NULL, 0);
    feed(&e, &p);
    CHECK_EQ(e.n_done, 1);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@30 d0:5@30 c:timeout@30");
    env_end(&e);
    check_lost(&e, 1, END_TIMEOUT);
    env_free(&e);

    check_case("lost segment: gap on reasm_close, which is idempotent");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    h = c2s(&e, 10, 1001, "hello");
    c2s(&e, 30, 1106, "world");
    reasm_close(e.ra, h.f, END_TIMEOUT, 99);
    reasm_close(e.ra, h.f, END_RST, 100);
    c2s(&e, 110, 1111, "after"); /* a closed stream takes nothing more */
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@99 d0:5@30 c:timeout@99");
    env_end(&e);
    CHECK_STR(log_of(&e, 1), "d0:5@10 g0:100@99 d0:5@30 c:timeout@99");
    check_lost(&e, 1, END_CAPTURE_END);
    env_free(&e);
}

static void test_acked_hole(void)
{
    struct env e;
    check_case("a hole the peer acknowledged becomes a gap after the grace period");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");
    /* "12345" at 1006 is lost by the capture */
    c2s(&e, 2000, 1011, "world");
    segn(&e, 3000, DIR_S2C, TCP_ACK, 5001, 1016, NULL, 0, 0);
    segn(&e, 3000 + REASM_ACKED_HOLE_GRACE_US - 1, DIR_S2C, TCP_ACK, 5001, 1016, NULL, 0, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@1000");
    segn(&e, 3000 + REASM_ACKED_HOLE_GRACE_US, DIR_S2C, TCP_ACK, 5001, 1016, NULL, 0, 0);
    c2s(&e, 24000, 1016, "again");
    c2s(&e, 25000, 1006, "12345"); /* too late: the gap was declared */
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@23000 d0:5@2000 d0:5@24000");
    check_bytes(&e, 1, DIR_C2S, "helloworldagain", 15);
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->gaps, 1);
    CHECK_EQ(c->missing_bytes[DIR_C2S], 5);
    CHECK_EQ(c->out_of_order, 1);
    CHECK_EQ(c->retransmissions, 1);
    env_free(&e);

    check_case("an ACK captured just before its data is not a gap");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");
    segn(&e, 1100, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    c2s(&e, 1110, 1006, "12345");
    segn(&e, 50000, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    c2s(&e, 60000, 1011, "!");
    CHECK_STR(log_of(&e, 1), "d0:5@1000 d0:5@1110 d0:1@60000");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    env_free(&e);

    check_case("an acknowledged hole with nothing held; the stream goes on");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");
    segn(&e, 3000, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    c2s(&e, 23000, 1011, "after");
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@23000 d0:5@23000");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 5);
    env_free(&e);

    check_case("bytes acknowledged just now are not swept into an older hole's gap");
    /* The hole at 1006 is acknowledged at 2000. Just before its grace period ends, a
     * later ACK covers "world" too, captured (multi-queue) 20 us before "world"
     * itself. Only the hole acknowledged 20 ms ago is a gap. */
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");
    segn(&e, 2000, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    segn(&e, 21990, DIR_S2C, TCP_ACK, 5001, 1016, NULL, 0, 0);
    c2s(&e, 22010, 1011, "world");
    c2s(&e, 22020, 1016, "!");
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@22010 d0:5@22010 d0:1@22020");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 5);
    CHECK_EQ(done_of(&e, 1)->c.retransmissions, 0);

    env_free(&e);
    check_case("data acknowledging the hole declares it at once, before that data");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");
    c2s(&e, 2000, 1011, "world");
    segn(&e, 3000, DIR_S2C, TCP_ACK | TCP_PSH, 5001, 1016, "HTTP/1.1 200", 12, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@3000 d0:5@2000 d1:12@3000");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 5);

    env_free(&e);
    check_case("a later hole gets its own grace period");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 1000, 1001, "hello");                             /* [1006, 1011) lost */
    segn(&e, 2000, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    c2s(&e, 22000, 1011, "world");                            /* [1016, 1021) lost */
    segn(&e, 23000, DIR_S2C, TCP_ACK, 5001, 1021, NULL, 0, 0);
    segn(&e, 42999, DIR_S2C, TCP_ACK, 5001, 1021, NULL, 0, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@22000 d0:5@22000");
    /* the ACK of 1021 is believed once the client is seen to have sent that far */
    c2s(&e, 43000, 1021, "!");
    CHECK_STR(log_of(&e, 1), "d0:5@1000 g0:5@22000 d0:5@22000 g0:5@43000 d0:1@43000");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 2);
    CHECK_EQ(done_of(&e, 1)->c.bad_acks, 0);

    env_free(&e);
    check_case("timestamps going backwards do not shorten the grace period");
    env_init(&e, 0, 0, true);
    handshake(&e, 100000);
    c2s(&e, 100010, 1001, "hello");
    segn(&e, 100020, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    segn(&e, 50, DIR_S2C, TCP_ACK, 5001, 1011, NULL, 0, 0);
    c2s(&e, 100030, 1006, "12345");
    CHECK_STR(log_of(&e, 1), "d0:5@100010 d0:5@100030");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    env_free(&e);
}

static void test_budgets(void)
{
    struct env e;
    check_case("per-flow segment budget");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    uint8_t bytes[REASM_MAX_OOO_SEGS + 1];
    for (uint32_t i = 0; i <= REASM_MAX_OOO_SEGS; i++)
        bytes[i] = (uint8_t)('a' + i % 26);
    /* a 10-byte hole at 1001, then one-byte segments behind it */
    for (uint32_t i = 0; i < REASM_MAX_OOO_SEGS; i++)
        segn(&e, 100 + i, DIR_C2S, TCP_ACK, 1011 + i, 5001, bytes + i, 1, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, REASM_MAX_OOO_SEGS * C(1));
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, 0);
    CHECK(rec_of(&e, 1) == NULL);
    segn(&e, 5000, DIR_C2S, TCP_ACK, 1011 + REASM_MAX_OOO_SEGS, 5001,
         bytes + REASM_MAX_OOO_SEGS, 1, 0);
    struct rec_flow *r = rec_of(&e, 1);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(r->n_gap, 1);
        CHECK_EQ(r->n_data, REASM_MAX_OOO_SEGS + 1);
        CHECK(strncmp(r->log, "g0:10@5000 d0:1@100 d0:1@101 ", 29) == 0);
        static const char tail[] = " d0:1@611 d0:1@5000";
        CHECK(r->log_len > sizeof tail &&
              strcmp(r->log + r->log_len - (sizeof tail - 1), tail) == 0);
    }
    check_bytes(&e, 1, DIR_C2S, bytes, sizeof bytes);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, 1);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_global, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, REASM_MAX_OOO_SEGS * C(1));
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->cap_flushes, 1);
    CHECK_EQ(c->out_of_order, REASM_MAX_OOO_SEGS);
    CHECK_EQ(c->gaps, 1);
    CHECK_EQ(c->missing_bytes[DIR_C2S], 10);
    env_free(&e);

    check_case("a flood of one-byte segments with holes between stays within the cap");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    enum { FLOOD = 2000 };
    for (uint32_t i = 0; i < FLOOD; i++) /* byte i at 1002 + 2i: a hole before each */
        segn(&e, 100 + i, DIR_C2S, TCP_ACK, 1002 + 2 * i, 5001, bytes + i % 26, 1, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, REASM_MAX_OOO_SEGS * C(1));
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, REASM_MAX_OOO_SEGS * C(1));
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, FLOOD - REASM_MAX_OOO_SEGS);
    r = rec_of(&e, 1);
    CHECK(r && r->n_gap == FLOOD - REASM_MAX_OOO_SEGS);
    CHECK(r && r->n_data == FLOOD - REASM_MAX_OOO_SEGS);
    segn(&e, 5000, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    r = rec_of(&e, 1);
    CHECK(r && r->n_gap == FLOOD && r->n_data == FLOOD);
    env_end(&e);
    c = &done_of(&e, 1)->c;
    CHECK_EQ(c->cap_flushes, FLOOD - REASM_MAX_OOO_SEGS);
    CHECK_EQ(c->gaps, FLOOD);
    CHECK_EQ(c->missing_bytes[DIR_C2S], FLOOD);
    CHECK_EQ(c->out_of_order, FLOOD);

    env_free(&e);
    check_case("per-flow byte budget: up to the cap is held, one byte more flushes");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    /* charged in memory: N_BIG runs of BIG bytes and one run of `rest` bytes cost
     * exactly the cap; one byte more costs C(1) and flushes */
    enum { BIG = 60000, N_BIG = REASM_MAX_OOO_PER_FLOW / (BIG + 48) };
    uint32_t room = REASM_MAX_OOO_PER_FLOW - N_BIG * C(BIG), rest = room;
    while (C(rest) > room)
        rest--;
    CHECK_EQ(C(rest), room);
    uint32_t held = N_BIG * BIG + rest;
    size_t total = held + 1;
    uint8_t *big = malloc(total);
    if (!big)
        abort();
    for (size_t i = 0; i < total; i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    uint32_t seq = 1101; /* a 100-byte hole at 1001 */
    for (uint32_t i = 0; i < N_BIG; i++)
        segn(&e, 100 + i, DIR_C2S, TCP_ACK, seq + i * BIG, 5001, big + (size_t)i * BIG,
             BIG, 0);
    segn(&e, 200, DIR_C2S, TCP_ACK, seq + N_BIG * BIG, 5001, big + (size_t)N_BIG * BIG,
         rest, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, REASM_MAX_OOO_PER_FLOW);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, 0);
    segn(&e, 300, DIR_C2S, TCP_ACK, seq + held, 5001, big + held, 1, 0);
    r = rec_of(&e, 1);
    CHECK(r && r->n_gap == 1 && r->n_data == N_BIG + 2);
    CHECK(r && strncmp(r->log, "g0:100@300 d0:60000@100 ", 24) == 0);
    check_bytes(&e, 1, DIR_C2S, big, total);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, REASM_MAX_OOO_PER_FLOW);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 0);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, 1);
    env_end(&e);
    c = &done_of(&e, 1)->c;
    CHECK_EQ(c->cap_flushes, 1);
    CHECK_EQ(c->missing_bytes[DIR_C2S], 100);
    CHECK_EQ(c->out_of_order, N_BIG + 1);

    env_free(&e);
    free(big);
}

/* Mid-stream flows start where their first segment is, so each flow of the global
 * budget case opens with one in-order byte; the holes come after it. */
static void test_global_budget(void)
{
    check_case("global budget: the flow that would exceed it skips its hole");
    struct env e;
    env_init(&e, 100000, 0, true);
    static uint8_t big[60000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13 + 1);
    const struct tseg_ep x = { "10.0.0.1", 40001 }, y = { "10.0.0.1", 40002 },
                         z = { "10.0.0.1", 40003 };
    struct dec_pkt p;
    const struct tseg_ep *eps[3] = { &x, &y, &z };
    for (int i = 0; i < 3; i++) {
        p = tseg(1, *eps[i], srv, TCP_ACK, 1000, 1, "s", 1); /* next: 1001 */
        feed(&e, &p);
    }
    p = tseg(10, x, srv, TCP_ACK, 1011, 1, big, 60000); /* flow 1 holds 60000 */
    feed(&e, &p);
    p = tseg(20, y, srv, TCP_ACK, 1011, 1, big, 30000); /* flow 2 holds 30000 */
    feed(&e, &p);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(60000) + C(30000));
    p = tseg(30, y, srv, TCP_ACK, 31011, 1, big + 30000, 20000); /* 110000 > 100000 */
    feed(&e, &p);
    CHECK_STR(log_of(&e, 2), "d0:1@1 g0:10@30 d0:30000@20 d0:20000@30");
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_global, 1);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_flow, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(60000));
    /* flow 3 holds nothing: it skips straight to its segment */
    p = tseg(40, z, srv, TCP_ACK, 1011, 1, big, 50000);
    feed(&e, &p);
    CHECK_STR(log_of(&e, 3), "d0:1@1 g0:10@40 d0:50000@40");
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_global, 2);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(60000));
    /* exactly at the cap is still held */
    /* 100000 - C(60000) - C(30000)... left: C(39912) == 100000 - C(60000) */
    CHECK_EQ(C(60000) + C(39912), 100000);
    p = tseg(50, z, srv, TCP_ACK, 51011 + 10, 1, big, 39912);
    feed(&e, &p);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 100000);
    CHECK_EQ(reasm_stats(e.ra)->cap_flushes_global, 2);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, 100000);
    CHECK_STR(log_of(&e, 1), "d0:1@1");
    env_end(&e);
    CHECK_STR(log_of(&e, 1), "d0:1@1 g0:10@10 d0:60000@10 c:capture_end@10");
    CHECK_STR(log_of(&e, 2), "d0:1@1 g0:10@30 d0:30000@20 d0:20000@30 c:capture_end@30");
    CHECK_STR(log_of(&e, 3), "d0:1@1 g0:10@40 d0:50000@40 g0:10@50 d0:39912@50 "
                             "c:capture_end@50");
    uint8_t *want = malloc(1 + 50000);
    if (!want)
        abort();
    want[0] = 's';
    memcpy(want + 1, big, 50000);
    check_bytes(&e, 2, DIR_C2S, want, 1 + 50000);
    free(want);
    CHECK_EQ(done_of(&e, 1)->c.cap_flushes, 0);
    CHECK_EQ(done_of(&e, 2)->c.cap_flushes, 1);
    CHECK_EQ(done_of(&e, 2)->c.missing_bytes[DIR_C2S], 10);
    CHECK_EQ(done_of(&e, 3)->c.cap_flushes, 1);
    CHECK_EQ(done_of(&e, 3)->c.missing_bytes[DIR_C2S], 20);
    env_free(&e);
}

static void test_rst(void)
{
    check_case("RST mid-stream closes with END_RST; its data is not stream data");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    segn(&e, 20, DIR_S2C, TCP_RST | TCP_ACK, 5001, 1006, "junk", 4, 0);
    c2s(&e, 30, 1006, "more");
    CHECK_STR(log_of(&e, 1), "d0:5@10 c:rst@20");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->why, END_RST);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    env_free(&e);
}

static void test_snaplen(void)
{
    check_case("snaplen-cut payload is uncaptured, not a gap");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    segn(&e, 10, DIR_C2S, TCP_ACK, 1001, 5001, "hello", 5, 95);
    c2s(&e, 20, 1101, "world");
    segn(&e, 30, DIR_C2S, TCP_ACK, 1111, 5001, "abc", 3, 10); /* behind a 5-byte hole */
    c2s(&e, 40, 1106, "12345");
    c2s(&e, 50, 1124, "z");
    segn(&e, 60, DIR_C2S, TCP_ACK, 1125, 5001, NULL, 0, 50); /* nothing captured */
    c2s(&e, 70, 1175, "!");
    CHECK_STR(log_of(&e, 1), "d0:5@10 u0:95@10 d0:5@20 d0:5@40 d0:3@40 u0:10@40 "
                             "d0:1@50 u0:50@60 d0:1@70");
    check_bytes(&e, 1, DIR_C2S, "helloworld12345abcz!", 20);
    env_end(&e);
    /* the 5-byte hole was filled; everything else was on the wire, only not kept */
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 0);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    CHECK_EQ(done_of(&e, 1)->c.snap_cut_bytes[DIR_C2S], 155);
    env_free(&e);

    check_case("a snap-cut retransmission reaching past held data, then RST");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    c2s(&e, 20, 1020, "zz");
    segn(&e, 30, DIR_C2S, TCP_ACK, 1001, 5001, "hel", 3, 20); /* announces [1001,1024) */
    segn(&e, 40, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    CHECK_STR(log_of(&e, 1), "d0:5@10 u0:18@30 c:rst@40");
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 0);
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.retransmissions, 1);
    CHECK_EQ(done_of(&e, 1)->c.missing_bytes[DIR_C2S], 0);
    CHECK_EQ(done_of(&e, 1)->c.snap_cut_bytes[DIR_C2S], 18);

    env_free(&e);

    check_case("a sink without uncaptured() hears a snap cut as a gap");
    {
        static const struct stream_sink_ops gap_only = { rec_open, rec_data, rec_gap,
                                                         rec_eof, rec_close, NULL };
        env_init(&e, 0, 0, true);
        reasm_free(e.ra);
        e.ra = reasm_new(flow_table_capacity(e.ft), REASM_DEFAULT_OOO_GLOBAL, &gap_only,
                         &e.rec);
        handshake(&e, 1);
        segn(&e, 10, DIR_C2S, TCP_ACK, 1001, 5001, "hello", 5, 95);
        c2s(&e, 20, 1101, "world");
        CHECK_STR(log_of(&e, 1), "d0:5@10 g0:95@10 d0:5@20");
        env_end(&e);
        CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
        CHECK_EQ(done_of(&e, 1)->c.snap_cut_bytes[DIR_C2S], 95);
    }
    env_free(&e);
}

static void test_detach(void)
{
    check_case("a detached flow delivers nothing but still counts");
    struct env e;
    env_init(&e, 0, 0, true);
    const struct flow *f = handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    CHECK(reasm_detach(e.ra, f, 15));
    CHECK(!reasm_detach(e.ra, f, 16));
    c2s(&e, 20, 1006, "world");
    c2s(&e, 30, 1111, "later"); /* ahead of a 100-byte hole: counted, not held */
    c2s(&e, 31, 1111, "later");
    /* the range is remembered without its bytes: its struct is charged */
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, reasm_held_cost(false, 5));
    segn(&e, 40, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    CHECK(!reasm_detach(e.ra, f, 41)); /* closed */
    CHECK_STR(log_of(&e, 1), "d0:5@10 c:none@15");
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, reasm_held_cost(false, 5));
    env_end(&e);
    const struct reasm_counters *c = &done_of(&e, 1)->c;
    CHECK_EQ(c->gaps, 1);
    CHECK_EQ(c->missing_bytes[DIR_C2S], 100);
    CHECK_EQ(c->out_of_order, 2);
    CHECK_EQ(c->retransmissions, 1);
    env_free(&e);

    check_case("detached before any data: the sink is never opened");
    env_init(&e, 0, 0, true);
    f = handshake(&e, 1);
    CHECK(reasm_detach(e.ra, f, 2));
    c2s(&e, 10, 1001, "hello");
    CHECK_EQ(e.rec.n, 0);
    env_end(&e);
    env_free(&e);

    check_case("no sink at all: counting only");
    env_init(&e, 0, 0, false);
    lost_segment(&e);
    segn(&e, 50, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_peak, C(5));
    env_end(&e);
    check_lost(&e, 1, END_RST);
    CHECK_EQ(e.rec.n, 0);
    env_free(&e);
}

static void test_out_of_window(void)
{
    check_case("segments absurdly far ahead are out of window");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001 + REASM_MAX_SEQ_JUMP + 1, "far");
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, 0);
    c2s(&e, 20, 1001 + REASM_MAX_SEQ_JUMP, "edge"); /* the farthest that is held */
    CHECK_EQ(reasm_stats(e.ra)->ooo_bytes_now, C(4));
    c2s(&e, 30, 1001, "a");
    segn(&e, 40, DIR_S2C, TCP_RST, 5001, 0, NULL, 0, 0);
    char want[128];
    snprintf(want, sizeof want, "d0:1@30 g0:%u@40 d0:4@20 c:rst@40", REASM_MAX_SEQ_JUMP - 1);
    CHECK_STR(log_of(&e, 1), want);
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.out_of_window, 1);
    CHECK_EQ(done_of(&e, 1)->c.out_of_order, 1);
    env_free(&e);
}

/* RFC 5961: one packet cannot blind reassembly (issue 15). */
static void test_blind(void)
{
    check_case("an ACK for bytes never sent declares no gap; counted");
    struct env e;
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    /* forged: the server acknowledges 1000 bytes the client has not sent yet */
    segn(&e, 10, DIR_S2C, TCP_ACK, 5001, 2001, NULL, 0, 0);
    c2s(&e, 100000, 1001, "hello"); /* long after the grace period */
    c2s(&e, 100010, 1006, "world");
    CHECK_STR(log_of(&e, 1), "d0:5@100000 d0:5@100010");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->c.gaps, 0);
    CHECK_EQ(done_of(&e, 1)->c.bad_acks, 1);
    CHECK_EQ(reasm_stats(e.ra)->bad_acks, 1);
    env_free(&e);

    check_case("a RST far outside the window does not end the connection; counted");
    env_init(&e, 0, 0, true);
    handshake(&e, 1);
    c2s(&e, 10, 1001, "hello");
    struct flow_hit h = segn(&e, 20, DIR_S2C, TCP_RST, 5001 + 3000000, 0, NULL, 0, 0);
    CHECK(h.ignored);
    CHECK(!h.ended);
    c2s(&e, 30, 1006, "world");
    CHECK_STR(log_of(&e, 1), "d0:5@10 d0:5@30");
    CHECK_EQ(flow_table_stats(e.ft)->bad_rsts, 1);
    /* in the window (the client acknowledged 5001, window 65535): it ends the flow */
    h = segn(&e, 40, DIR_S2C, TCP_RST, 5001 + 60000, 0, NULL, 0, 0);
    CHECK(h.ended);
    CHECK_STR(log_of(&e, 1), "d0:5@10 d0:5@30 c:rst@40");
    env_end(&e);
    CHECK_EQ(done_of(&e, 1)->why, END_RST);
    env_free(&e);

    check_case("the window is scaled when both SYNs say so");
    env_init(&e, 0, 0, true);
    struct dec_pkt pk = tseg(1, cli, srv, TCP_SYN, isn_c, 0, NULL, 0);
    pk.wscale = 7;
    feed(&e, &pk);
    pk = tseg(2, srv, cli, TCP_SYN | TCP_ACK, isn_s, isn_c + 1, NULL, 0);
    pk.wscale = 2;
    feed(&e, &pk);
    pk = tseg(3, cli, srv, TCP_ACK, isn_c + 1, isn_s + 1, NULL, 0);
    pk.window = 1000; /* 128000 bytes */
    feed(&e, &pk);
    h = segn(&e, 10, DIR_S2C, TCP_RST, isn_s + 1 + 130000, 0, NULL, 0, 0);
    CHECK(h.ignored);
    h = segn(&e, 11, DIR_S2C, TCP_RST, isn_s + 1 + 127999, 0, NULL, 0, 0);
    CHECK(h.ended);
    env_end(&e);
    env_free(&e);

    check_case("the receiver never acknowledged: the sender's own sequence bounds the RST");
    env_init(&e, 0, 0, true);
    segn(&e, 1, DIR_C2S, TCP_SYN, isn_c, 0, NULL, 0, 0);
    segn(&e, 2, DIR_S2C, TCP_SYN | TCP_ACK, isn_s, isn_c + 1, NULL, 0, 0);
    h = segn(&e, 3, DIR_S2C, TCP_RST, isn_s + 1 + FLOW_RST_UNKNOWN_WINDOW + 1, 0, NULL, 0, 0);
    CHECK(h.ignored);
    h = segn(&e, 4, DIR_S2C, TCP_RST, isn_s + 1 - FLOW_RST_UNKNOWN_WINDOW - 1, 0, NULL, 0, 0);
    CHECK(h.ignored);
    h = segn(&e, 5, DIR_S2C, TCP_RST, isn_s + 1 + FLOW_RST_UNKNOWN_WINDOW, 0, NULL, 0, 0);
    CHECK(h.ended);
    CHECK_EQ(flow_table_stats(e.ft)->bad_rsts, 2);
    env_end(&e);
    env_free(&e);

    check_case("a RST to a SYN alone (a refused connection) is believed");
    env_init(&e, 0, 0, true);
    segn(&e, 1, DIR_C2S, TCP_SYN, isn_c, 0, NULL, 0, 0);
    h = segn(&e, 2, DIR_S2C, TCP_RST | TCP_ACK, 0, isn_c + 1, NULL, 0, 0);
    CHECK(h.ended);
    env_end(&e);
    env_free(&e);

    check_case("SYN+FIN, SYN+RST, a bare FIN and a RST before the handshake are debris");
    env_init(&e, 0, 0, true);
    h = segn(&e, 1, DIR_C2S, TCP_SYN | TCP_FIN, 7777, 0, NULL, 0, 0);
    CHECK(h.f == NULL);
    h = segn(&e, 2, DIR_C2S, TCP_SYN | TCP_RST, 7777, 0, NULL, 0, 0);
    CHECK(h.f == NULL);
    h = segn(&e, 3, DIR_C2S, TCP_FIN, 7777, 0, NULL, 0, 0);
    CHECK(h.f == NULL);
    h = segn(&e, 4, DIR_S2C, TCP_RST, 7777, 0, NULL, 0, 0);
    CHECK(h.f == NULL);
    h = segn(&e, 5, DIR_C2S, 0, 7777, 0, NULL, 0, 0);
    CHECK(h.f == NULL);
    h = segn(&e, 6, DIR_C2S, TCP_FIN | TCP_ACK, 7777, 1, NULL, 0, 0);
    CHECK(h.f != NULL); /* could be the end of a connection seen mid-stream */
    CHECK_EQ(flow_table_stats(e.ft)->bad_flags, 5);
    handshake(&e, 10);
    CHECK_EQ(flow_table_stats(e.ft)->bad_flags, 6); /* the FIN+ACK, forgotten */
    c2s(&e, 20, 1001, "hello");
    segn(&e, 30, DIR_S2C, TCP_FIN | TCP_ACK, 5001, 1006, NULL, 0, 0);
    h = c2s(&e, 40, 1006, "world"); /* the connection is still open one way */
    CHECK(!h.after_end);
    CHECK_STR(log_of(&e, 1), "d0:5@20 d0:5@40");
    env_end(&e);
    env_free(&e);
}

int main(void)
{
    test_blind();
    test_in_order();
    test_reordering();
    test_retransmission();
    test_overlap();
    test_wrap();
    test_mid_stream();
    test_lost_segment();
    test_acked_hole();
    test_budgets();
    test_global_budget();
    test_rst();
    test_snaplen();
    test_detach();
    test_out_of_window();
    return check_done("test_reasm");
}
