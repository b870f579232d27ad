/* fuzz_h1.c: the HTTP/1 dissector and the verdict engine, fed through h1_sink_ops() as
 * reassembly feeds them (tests/unit/test_h1.c does the same with fixtures).
 *
 * Input: a 1-byte run header, then chunks, each a 5-byte header and, for data, its
 * bytes. The input chooses its own splits, directions, pauses, gaps and eofs
 * (STYLE.md section 8).
 *
 *   run header  h0 bits 0-2  how the connections end: FIN, RST, FIN, RST, timeout,
 *                            capture end, evicted, port reuse
 *               h0 bits 3-4  verdict thresholds: defaults, tiny, huge, mixed
 *               h0 bit 5     two connections (same client, so a 417 on one can be
 *                            retried on the other)
 *               h0 bit 6     one-sided: the flows have seen no server packet
 *   chunk       c0 bit 0     direction (1: server to client)
 *               c0 bits 1-3  0-5 data, 6 gap, 7 eof of that direction
 *               c0 bit 4     which connection (with two)
 *               c0 bit 6     with 6: uncaptured bytes (the snap length), not a gap
 *               c1-c2        time step: (value mod 20001) times 100 us, 0..2000 ms
 *               c3-c4        data: length (clamped to what is left; 0 is skipped);
 *                            gap: bytes missing (0 counts as 1; from 0xff00 on,
 *                            (low byte + 1) << 32: a gap no body could fill);
 *                            uncaptured: that many bytes (0 counts as 1)
 *
 * Reassembly's contract is kept: no empty data or gap, nothing in a direction after its
 * eof. The exchange sink judges each exchange and reads every byte of it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "verdict.h"

enum { CHUNK_HDR = 5, N_CONNS = 2 };

static void require(bool ok)
{
    if (!ok)
        abort();
}

struct judge_ctx {
    struct verdict_engine *v;
    enum verdict worst[N_CONNS];
    uint64_t sum;
};

/* Judge the exchange, then read all of it, as storage and export would. */
static void judge(void *ctx, const struct flow *f, struct exchange *x)
{
    struct judge_ctx *j = ctx;
    verdict_judge(j->v, f, x);
    require((unsigned)x->verdict < V_COUNT);
    require(verdict_name(x->verdict) != NULL);
    require(f->id >= 1 && f->id <= N_CONNS);
    j->worst[f->id - 1] = verdict_worse(j->worst[f->id - 1], x->verdict);
    for (int i = 0; i < XS_COUNT; i++) {
        const struct sbuf *b = &x->s[i];
        require(b->len <= b->cap && b->len <= b->max);
        for (uint32_t k = 0; k < b->len; k++)
            j->sum += (uint8_t)b->p[k];
    }
    char buf[512];
    flags_str(x->flags, buf, sizeof buf);
    j->sum += strlen(buf);
    interim_str(x, buf, sizeof buf);
    j->sum += strlen(buf);
    const uint64_t times[] = { x->t_start_us, x->t_body_first_us, x->t_body_last_us,
                               x->t_100_us, x->t_final_us, x->t_end_us };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        double ms = exchange_ms_after_hdr(x, times[i]);
        require(times[i] == 0 || x->t_hdr_us == 0 || ms >= 0);
        j->sum += ms > 0 ? 1 : 0;
    }
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum end_reason ends[8] = { END_FIN, END_RST, END_FIN, END_RST,
                                             END_TIMEOUT, END_CAPTURE_END, END_EVICTED,
                                             END_REUSED };
    static const struct verdict_config cfgs[4] = {
        { VERDICT_DEFAULT_NO_WAIT_US, VERDICT_DEFAULT_RETRY_WINDOW_US,
          VERDICT_DEFAULT_STALL_US },
        { 1, 1, 1 },
        { 10000000, 3600000000u, 60000000 },
        { 1000, 1000000, 200000 },
    };
    if (size < 1)
        return 0;
    uint8_t h0 = data[0];
    int n_conns = h0 & 0x20 ? 2 : 1;

    struct judge_ctx jc;
    memset(&jc, 0, sizeof jc);
    jc.v = verdict_new(&cfgs[(h0 >> 3) & 3], N_CONNS);
    require(jc.v != NULL);
    struct exchange_sink sink = { judge, &jc };
    struct h1 *h = h1_new(&sink);
    require(h != NULL);
    const struct stream_sink_ops *ops = h1_sink_ops();

    struct flow f[N_CONNS];
    void *st[N_CONNS];
    bool eof[N_CONNS][2];
    memset(f, 0, sizeof f);
    memset(eof, 0, sizeof eof);
    for (int i = 0; i < n_conns; i++) {
        f[i].key.family = 4;
        f[i].key.addr[0][0] = 10, f[i].key.addr[0][3] = 1;
        f[i].key.addr[1][0] = 10, f[i].key.addr[1][3] = 2;
        f[i].key.port[0] = (uint16_t)(40000 + i), f[i].key.port[1] = 80;
        f[i].id = (uint64_t)i + 1;
        f[i].slot = (uint32_t)i;
        f[i].roles = ROLES_SYN;
        f[i].syn_seen = true;
        /* h0 bit 6: a one-sided capture (no packet seen from the server) */
        f[i].packets[DIR_C2S] = 1;
        f[i].packets[DIR_S2C] = h0 & 0x40 ? 0 : 1;
        st[i] = ops->open(h, &f[i]);
    }

    uint64_t now = 1700000000000000ull;
    size_t at = 1;
    while (size - at >= CHUNK_HDR) {
        const uint8_t *c = data + at;
        at += CHUNK_HDR;
        enum dir d = c[0] & 1 ? DIR_S2C : DIR_C2S;
        unsigned kind = (c[0] >> 1) & 7;
        int k = c[0] & 0x10 ? n_conns - 1 : 0;
        now += (uint64_t)(le16(c + 1) % 20001u) * 100u;
        uint32_t len = le16(c + 3);
        if (kind < 6) {
            if (len > size - at)
                len = (uint32_t)(size - at);
            const uint8_t *p = data + at;
            at += len;
            if (len && st[k] && !eof[k][d])
                ops->data(st[k], d, p, len, now);
        } else if (kind == 6) {
            uint64_t missing = len >= 0xff00 ? ((uint64_t)(len & 0xff) + 1) << 32
                                             : len ? len : 1;
            /* bit 6: bytes the snap length kept out (uncaptured), not a gap */
            if (st[k] && !eof[k][d] && (c[0] & 0x40))
                ops->uncaptured(st[k], d, len ? len : 1, now);
            else if (st[k] && !eof[k][d])
                ops->gap(st[k], d, missing, now);
        } else if (!eof[k][d]) {
            eof[k][d] = true;
            if (st[k])
                ops->eof(st[k], d, now);
        }
    }
    for (int i = 0; i < n_conns; i++) {
        if (st[i])
            ops->close(st[i], ends[h0 & 7], now);
        /* the engine's flow verdict is the worst of what it judged on the flow */
        struct flow_verdict fv = verdict_flow_done(jc.v, &f[i]);
        require(fv.verdict == jc.worst[i]);
    }

    const struct h1_stats *hs = h1_stats(h);
    require(hs->flows <= (uint64_t)n_conns);
    h1_free(h);
    verdict_free(jc.v);
    return 0;
}
