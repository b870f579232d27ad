/* bench_evidence.c: what `--save-pcap` costs per packet: evidence_packet() on 1500-byte
 * frames spread round-robin over 10,000 open flows, against a bare copy of the same
 * bytes into a preallocated buffer (the floor), as a ratio.
 *
 *   cmake --build BUILD --target bench_evidence
 *   BUILD/bench_evidence [DIR]       DIR for the write case (default /tmp)
 *
 * Cases: "hold" (every packet kept: buffers grow by doubling up to 64 KiB per flow, on
 * fresh memory the kernel faults in), "end" (10,000 flows freed), "hold again" (the
 * next 10,000 flows in the same slots), "budget full" (the default 64 MiB hold budget
 * used up: packets counted, not kept), "cut" (every flow past EVIDENCE_MAX_FLOW_BYTES),
 * and "write" (1,000 problem flows of 40 packets written as files). The last column is
 * the time per packet as a multiple of the floor's.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evidence.h"
#include "limits.h"

#define FLOWS 10000u
#define FRAME 1500u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct flow *make_flows(uint32_t n, uint64_t id0)
{
    struct flow *f = calloc(n, sizeof *f);
    if (!f)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        f[i].key.family = 4;
        uint32_t c = htonl(0x0a000000u + i), s = htonl(0x0a640001u);
        memcpy(f[i].key.addr[0], &c, 4);
        memcpy(f[i].key.addr[1], &s, 4);
        f[i].key.port[0] = (uint16_t)(10000 + i % 50000);
        f[i].key.port[1] = 80;
        f[i].id = id0 + i;
        f[i].slot = i;
        f[i].first_seen_us = 1796216531000000ull;
    }
    return f;
}

static struct evidence *open_ev(const char *dir, uint64_t hold)
{
    struct evidence_config cfg;
    evidence_config_defaults(&cfg, dir);
    cfg.hold_bytes = hold;
    cfg.max_files = EVIDENCE_MAX_FILES_MAX;
    cfg.max_bytes = 1ull << 40;
    char err[512];
    struct evidence *ev = evidence_new(&cfg, FLOWS, err, sizeof err);
    if (!ev) {
        fprintf(stderr, "bench_evidence: %s\n", err);
        exit(1);
    }
    return ev;
}

/* rounds x n packets through evidence_packet(), round robin over n flows; packets
 * per second */
static double run(struct evidence *ev, const struct flow *f, uint32_t n, uint32_t rounds,
                  struct source_packet *sp)
{
    double t = now_s();
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t i = 0; i < n; i++) {
            sp->ts_us++;
            evidence_packet(ev, &f[i], sp);
        }
    return (double)rounds * n / (now_s() - t);
}

static void row(const char *name, double pps, double floor_pps)
{
    printf("%-34s %12.0f pkt/s %8.2f Gbit/s %6.2f x floor\n", name, pps,
           pps * FRAME * 8 / 1e9, floor_pps / pps);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    static uint8_t frame[FRAME];
    for (uint32_t i = 0; i < FRAME; i++)
        frame[i] = (uint8_t)i;
    struct source_packet sp = { 1796216531000000ull, FRAME, FRAME, 1, frame, "bench" };

    /* the floor: the same bytes copied into per-flow preallocated buffers, round robin */
    uint32_t rounds = 40;
    uint8_t *floor_buf = malloc((size_t)FLOWS * rounds * (FRAME + 16));
    if (!floor_buf)
        abort();
    memset(floor_buf, 0, (size_t)FLOWS * rounds * (FRAME + 16));
    double t = now_s();
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t i = 0; i < FLOWS; i++) {
            uint8_t *d = floor_buf + ((size_t)i * rounds + r) * (FRAME + 16);
            memcpy(d, &sp.ts_us, 8);
            memcpy(d + 16, frame, FRAME);
        }
    double floor_pps = (double)rounds * FLOWS / (now_s() - t);
    free(floor_buf);
    row("floor (memcpy, preallocated)", floor_pps, floor_pps);

    /* hold: 40 packets per flow, every one kept (607 MB held) */
    struct flow *f = make_flows(FLOWS, 1);
    struct evidence *ev = open_ev(dir, 4ull << 30);
    row("hold, 40 pkts/flow, all kept", run(ev, f, FLOWS, rounds, &sp), floor_pps);
    const struct evidence_stats *st = evidence_stats(ev);
    printf("    held %llu MiB, not held %llu\n",
           (unsigned long long)(st->held_bytes_now >> 20),
           (unsigned long long)st->packets_not_held);
    t = now_s();
    for (uint32_t i = 0; i < FLOWS; i++)
        evidence_flow_done(ev, &f[i], V_PLAIN);
    printf("%-34s %12.0f flows/s\n", "end (10,000 flows freed)", FLOWS / (now_s() - t));
    /* the next 10,000 flows in the same slots: the allocator hands back memory the
     * first ones faulted in, as in a long run */
    for (uint32_t i = 0; i < FLOWS; i++)
        f[i].id += FLOWS;
    row("hold again, memory reused", run(ev, f, FLOWS, rounds, &sp), floor_pps);
    for (uint32_t i = 0; i < FLOWS; i++)
        evidence_flow_done(ev, &f[i], V_PLAIN);
    evidence_free(ev);

    /* budget full: the default 64 MiB is used up by the first rounds */
    ev = open_ev(dir, EVIDENCE_DEFAULT_HOLD_BYTES);
    run(ev, f, FLOWS, 8, &sp);
    row("budget full (64 MiB), counted", run(ev, f, FLOWS, rounds, &sp), floor_pps);
    printf("    held %llu MiB, not held %llu\n",
           (unsigned long long)(evidence_stats(ev)->held_bytes_now >> 20),
           (unsigned long long)evidence_stats(ev)->packets_not_held);
    evidence_free(ev);

    /* cut: 1,000 flows past their 1 MiB (700 packets each first) */
    ev = open_ev(dir, 4ull << 30);
    run(ev, f, 1000, 700, &sp);
    row("cut (past 1 MiB), counted", run(ev, f, 1000, 400, &sp), floor_pps);
    printf("    flows cut %llu\n", (unsigned long long)evidence_stats(ev)->flows_cut);
    evidence_free(ev);

    /* write: 1,000 problem flows of 40 packets (60 KiB files), in a directory of their
     * own, removed afterwards */
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/bench_evidence.XXXXXX", dir);
    if (!mkdtemp(sub)) {
        perror(sub);
        return 1;
    }
    dir = sub;
    ev = open_ev(dir, 4ull << 30);
    for (uint32_t r = 0; r < 40; r++)
        for (uint32_t i = 0; i < 1000; i++)
            evidence_packet(ev, &f[i], &sp);
    t = now_s();
    int written = 0;
    for (uint32_t i = 0; i < 1000; i++)
        written += evidence_flow_done(ev, &f[i], V_TIMEOUT_FALLBACK) == EVIDENCE_WRITTEN;
    double dt = now_s() - t;
    printf("%-34s %12.0f files/s %8.1f MB/s (%d written to %s)\n", "write (1,000 x 60 KiB)",
           1000 / dt, (double)evidence_stats(ev)->bytes_on_disk / dt / 1e6, written, dir);
    evidence_free(ev);
    free(f);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sub);
    return system(cmd) == 0 ? 0 : 1;
}
